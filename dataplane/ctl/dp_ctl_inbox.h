/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A connection's received, not yet handled requests, in arrival order.
 *
 * The control socket server reads a peer's messages ahead of handling them
 * so that a PING behind a backlog of SESSION_ADD/PORT_ALLOC... is seen (and
 * answered) at once instead of after the whole backlog: liveness must not
 * depend on how much work is queued. Everything else is handled in the
 * order it arrived, from here. Bounded: the server stops reading the socket
 * when there is no room for one more maximal message, so a peer that sends
 * faster than we handle is pushed back by its socket, as before.
 */
#ifndef DP_CTL_INBOX_H
#define DP_CTL_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_ctl_inbox {
	uint8_t *buf;       /* NULL until the first push */
	size_t cap;
	size_t head, tail;  /* live bytes are [head, tail) */
	unsigned n;         /* messages held */
};

/** An empty inbox holding at most @p cap bytes (allocated on first use). */
void dp_ctl_inbox_init(struct dp_ctl_inbox *q, size_t cap);
/** Free the buffer and forget every message. */
void dp_ctl_inbox_fini(struct dp_ctl_inbox *q);
/** Whether a message of @p len stored bytes fits now. */
bool dp_ctl_inbox_room(const struct dp_ctl_inbox *q, size_t len);
/**
 * Append @p len bytes of a message whose datagram was @p real_len bytes
 * long (more than @p len when it was cut off on receive).
 * Returns 0, -ENOSPC (no room: check first) or -ENOMEM.
 */
int dp_ctl_inbox_push(struct dp_ctl_inbox *q, const void *msg, size_t len, size_t real_len);
/**
 * The oldest message: its stored bytes in @p *msg (valid until the next
 * push or pop), its length returned, the datagram's length in @p *real_len.
 * Returns 0 when empty.
 */
size_t dp_ctl_inbox_peek(const struct dp_ctl_inbox *q, const uint8_t **msg, size_t *real_len);
/** Forget the oldest message. */
void dp_ctl_inbox_pop(struct dp_ctl_inbox *q);

#endif
