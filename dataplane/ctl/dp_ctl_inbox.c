/* SPDX-License-Identifier: BSD-3-Clause */
#include "dp_ctl_inbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Each message: this, then its bytes, padded to the next entry's alignment. */
struct entry {
	uint32_t len;
	uint32_t real_len;
};

static size_t entry_size(size_t len)
{
	return (sizeof(struct entry) + len + 7) & ~(size_t)7;
}

void dp_ctl_inbox_init(struct dp_ctl_inbox *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
}

void dp_ctl_inbox_fini(struct dp_ctl_inbox *q)
{
	free(q->buf);
	dp_ctl_inbox_init(q, q->cap);
}

bool dp_ctl_inbox_room(const struct dp_ctl_inbox *q, size_t len)
{
	return q->cap - (q->tail - q->head) >= entry_size(len);
}

int dp_ctl_inbox_push(struct dp_ctl_inbox *q, const void *msg, size_t len, size_t real_len)
{
	size_t need = entry_size(len);
	struct entry e = { .len = (uint32_t)len, .real_len = (uint32_t)real_len };

	if (!dp_ctl_inbox_room(q, len))
		return -ENOSPC;
	if (q->buf == NULL) {
		q->buf = malloc(q->cap);
		if (q->buf == NULL)
			return -ENOMEM;
	}
	if (q->cap - q->tail < need) {
		/* Room only counting what was popped: move the live bytes down. */
		memmove(q->buf, q->buf + q->head, q->tail - q->head);
		q->tail -= q->head;
		q->head = 0;
	}
	memcpy(q->buf + q->tail, &e, sizeof(e));
	memcpy(q->buf + q->tail + sizeof(e), msg, len);
	q->tail += need;
	q->n++;
	return 0;
}

size_t dp_ctl_inbox_peek(const struct dp_ctl_inbox *q, const uint8_t **msg, size_t *real_len)
{
	struct entry e;

	if (q->n == 0)
		return 0;
	memcpy(&e, q->buf + q->head, sizeof(e));
	*msg = q->buf + q->head + sizeof(e);
	*real_len = e.real_len;
	return e.len;
}

void dp_ctl_inbox_pop(struct dp_ctl_inbox *q)
{
	struct entry e;

	if (q->n == 0)
		return;
	memcpy(&e, q->buf + q->head, sizeof(e));
	q->head += entry_size(e.len);
	if (--q->n == 0)
		q->head = q->tail = 0;
}
