/* SPDX-License-Identifier: BSD-3-Clause */
#include "dpclient.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/su.h>

#include "mg_build_config.h"
#include "mg_log.h"

/* How often pending requests are checked for timeouts (and PINGs sent). */
#define DPC_TICK_MS 100
/* Pending requests by id: a re-install after a dataplane restart sends
 * thousands at once, and each answer must find its request in O(1). */
#define DPC_BUCKETS 1024
/* Requests waiting for room in the socket buffer, at most. */
#define DPC_MAX_QUEUED 65536

enum dpc_state { DPC_DOWN, DPC_HELLO, DPC_UP };

/* An encoded message the socket had no room for yet. */
struct dpc_out {
	struct dpc_out *next;
	size_t len;
	uint8_t buf[];
};

struct dpc_pending {
	struct dpc_pending *next;
	uint32_t id;
	uint16_t type;
	uint64_t deadline_ns;
	dpc_reply_f cb;
	void *arg;
};

struct dpc {
	su_root_t *root;
	struct dpc_params p;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	enum dpc_state state;
	int fd;
	su_wait_t wait;
	int wait_index;         /* su_root registration, 0 = none */
	su_timer_t *retry;      /* reconnect */
	su_timer_t *tick;       /* timeouts and PINGs while connected */
	unsigned backoff_ms;
	unsigned failures;      /* connect attempts failed in a row */
	unsigned connects;
	uint32_t next_id;
	uint64_t ping_seq;
	uint64_t next_ping_ns;
	uint64_t last_pong_ns;
	uint64_t last_rx_ns;     /* any message from the dataplane */
	uint64_t late_pongs;     /* PINGs unanswered in time while replies kept coming */
	struct dpc_pending *pending[DPC_BUCKETS];
	unsigned n_pending;
	struct dpc_out *out_head, *out_tail;
	unsigned n_out;
	dpc_state_f state_fn;
	void *state_arg;
	bool closing;           /* dpc_destroy() running: no "lost" warning */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void schedule_retry(struct dpc *c, unsigned delay_ms);
static void on_retry(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg);

/* Run and free every pending callback with @p result. */
static void fail_pending(struct dpc *c, int result)
{
	struct dpc_pending *list = NULL;

	/* Unlink everything first: callbacks may send new requests. */
	for (unsigned b = 0; b < DPC_BUCKETS; b++) {
		while (c->pending[b] != NULL) {
			struct dpc_pending *p = c->pending[b];

			c->pending[b] = p->next;
			p->next = list;
			list = p;
		}
	}
	c->n_pending = 0;
	while (list != NULL) {
		struct dpc_pending *p = list;

		list = p->next;
		if (p->cb != NULL)
			p->cb(p->arg, result, NULL);
		free(p);
	}
}

static void drop_connection(struct dpc *c, const char *why)
{
	bool was_up = c->state == DPC_UP;

	if (c->fd < 0)
		return;
	if (was_up && !c->closing)
		MG_WARN("lost the dataplane connection (%s): %s; reconnecting", c->path, why);
	if (c->wait_index > 0)
		su_root_deregister(c->root, c->wait_index);
	c->wait_index = 0;
	close(c->fd);
	c->fd = -1;
	c->state = DPC_DOWN;
	while (c->out_head != NULL) {
		struct dpc_out *o = c->out_head;

		c->out_head = o->next;
		free(o);
	}
	c->out_tail = NULL;
	c->n_out = 0;
	su_timer_reset(c->tick);
	fail_pending(c, -ENOTCONN);
	if (was_up && c->state_fn != NULL)
		c->state_fn(c->state_arg, false);
}

static void want_writable(struct dpc *c, bool on)
{
	int ev = SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR | (on ? SU_WAIT_OUT : 0);

	if (c->wait_index > 0)
		su_root_eventmask(c->root, c->wait_index, c->fd, ev);
}

/* Send what waited for room, in order; stop at the first full buffer. */
static int flush_out(struct dpc *c)
{
	while (c->out_head != NULL) {
		struct dpc_out *o = c->out_head;
		ssize_t n = send(c->fd, o->buf, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n != (ssize_t)o->len)
			return n < 0 ? -errno : -EIO;
		c->out_head = o->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		c->n_out--;
		free(o);
	}
	want_writable(c, false);
	return 0;
}

static int send_msg(struct dpc *c, unsigned type, uint32_t id, const void *body)
{
	bool urgent = type == MG_MSG_PING; /* liveness goes ahead of queued work */
	uint8_t buf[MG_PROTO_MAX_MSG];
	int len = mg_proto_encode(buf, sizeof(buf), type, 0, id, 0, body);
	struct dpc_out *o;

	if (len < 0)
		return len;
	/* Nothing queued: straight out. Otherwise behind the queue, in order. */
	if (c->out_head == NULL) {
		ssize_t n = send(c->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n == len)
			return 0;
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return n < 0 ? -errno : -EIO;
	}
	if (c->n_out >= DPC_MAX_QUEUED)
		return -ENOBUFS;
	o = malloc(sizeof(*o) + (size_t)len);
	if (o == NULL)
		return -ENOMEM;
	o->next = NULL;
	o->len = (size_t)len;
	memcpy(o->buf, buf, (size_t)len);
	if (urgent && c->out_head != NULL) {
		/* whole messages (SEQPACKET): nothing is half sent */
		o->next = c->out_head;
		c->out_head = o;
	} else if (c->out_tail != NULL) {
		c->out_tail->next = o;
		c->out_tail = o;
	} else {
		c->out_head = c->out_tail = o;
	}
	c->n_out++;
	want_writable(c, true);
	return 0;
}

static struct dpc_pending *pending_add(struct dpc *c, unsigned type, unsigned timeout_ms,
				       dpc_reply_f cb, void *arg)
{
	struct dpc_pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (++c->next_id == 0)
		c->next_id = 1; /* id 0 is the server's "unsolicited" */
	p->id = c->next_id;
	p->type = (uint16_t)type;
	p->deadline_ns = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	p->cb = cb;
	p->arg = arg;
	p->next = c->pending[p->id % DPC_BUCKETS];
	c->pending[p->id % DPC_BUCKETS] = p;
	c->n_pending++;
	return p;
}

static struct dpc_pending *pending_take(struct dpc *c, uint32_t id)
{
	for (struct dpc_pending **pp = &c->pending[id % DPC_BUCKETS]; *pp != NULL;
	     pp = &(*pp)->next) {
		struct dpc_pending *p = *pp;

		if (p->id == id) {
			*pp = p->next;
			c->n_pending--;
			return p;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ HELLO, PING */

static void on_hello(void *arg, int result, const void *body)
{
	struct dpc *c = arg;
	const struct mg_msg_hello *h = body;
	char why[512];

	if (result == -ENOTCONN || result == -ECANCELED)
		return;
	if (result == -ETIMEDOUT) {
		MG_WARN("dataplane at %s did not answer HELLO; retrying", c->path);
		drop_connection(c, "HELLO timeout");
		schedule_retry(c, c->p.backoff_max_ms);
		return;
	}
	if (h != NULL && mg_proto_hello_check(h, why, sizeof(why)) < 0) {
		MG_ERR("refusing dataplane %s (pid %u): protocol mismatch: %s (we speak version %u); "
		       "retrying in %u ms", h->software, h->pid, why, MG_PROTO_VERSION,
		       c->p.backoff_max_ms);
		drop_connection(c, "protocol mismatch");
		schedule_retry(c, c->p.backoff_max_ms);
		return;
	}
	if (result < 0 || h == NULL) {
		MG_ERR("dataplane at %s refused our HELLO: %s%s; retrying in %u ms", c->path,
		       strerror(-result),
		       result == -EACCES ? " (this uid is not in mediagate.control.allowedUids)"
					 : "",
		       c->p.backoff_max_ms);
		drop_connection(c, "HELLO refused");
		schedule_retry(c, c->p.backoff_max_ms);
		return;
	}
	c->state = DPC_UP;
	c->connects++;
	c->failures = 0;
	c->backoff_ms = c->p.backoff_min_ms;
	c->last_pong_ns = c->last_rx_ns = now_ns();
	c->next_ping_ns = c->last_pong_ns + (uint64_t)c->p.ping_interval_ms * 1000000ull;
	MG_INFO("connected to dataplane (version %u, %u message types): %s pid %u at %s",
		h->version, h->n_types, h->software, h->pid, c->path);
	if (c->state_fn != NULL)
		c->state_fn(c->state_arg, true);
}

static void on_pong(void *arg, int result, const void *body)
{
	struct dpc *c = arg;
	const struct mg_msg_pong *p = body;

	if (result < 0 || p == NULL) {
		if (result != -ETIMEDOUT)
			return;
		/* Load is not death: a dataplane that answered anything within
		 * the timeout is alive behind a backlog (its PONG queued after
		 * our earlier requests). Only silence drops the connection. */
		if (now_ns() - c->last_rx_ns < (uint64_t)c->p.ping_timeout_ms * 1000000ull) {
			if (c->late_pongs++ % 100 == 0)
				MG_WARN("dataplane PONG late (%llu so far) while replies keep arriving: busy, "
					"not lost", (unsigned long long)c->late_pongs);
			return;
		}
		drop_connection(c, "no PONG in time and nothing else received");
		schedule_retry(c, c->backoff_ms);
		return;
	}
	c->last_pong_ns = now_ns();
	MG_DEBUG("dataplane PONG %llu: rtt %llu us, %u sessions",
		 (unsigned long long)p->seq,
		 (unsigned long long)((c->last_pong_ns - p->sent_ns) / 1000), p->n_sessions);
}

static void on_tick(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	struct dpc *c = arg;
	uint64_t now = now_ns();

	(void)magic;
	(void)t;
	/* Timeouts first: a callback may drop the connection. Expired requests
	 * are unlinked before any callback runs, so each runs exactly once. */
	struct dpc_pending *expired = NULL;

	for (unsigned b = 0; b < DPC_BUCKETS && c->n_pending > 0; b++) {
		for (struct dpc_pending **pp = &c->pending[b]; *pp != NULL;) {
			struct dpc_pending *p = *pp;

			if (p->deadline_ns > now) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			c->n_pending--;
			p->next = expired;
			expired = p;
		}
	}
	while (expired != NULL) {
		struct dpc_pending *p = expired;

		expired = p->next;
		MG_DEBUG("dataplane request %s id %u timed out", mg_proto_type_name(p->type),
			 p->id);
		if (p->cb != NULL)
			p->cb(p->arg, -ETIMEDOUT, NULL);
		free(p);
	}
	if (c->fd < 0)
		return;
	if (c->state == DPC_UP && now >= c->next_ping_ns) {
		struct mg_msg_ping ping = { .seq = ++c->ping_seq, .sent_ns = now };

		c->next_ping_ns = now + (uint64_t)c->p.ping_interval_ms * 1000000ull;
		if (dpc_request(c, MG_MSG_PING, &ping, c->p.ping_timeout_ms, on_pong, c) < 0) {
			drop_connection(c, "PING not sent");
			schedule_retry(c, c->backoff_ms);
			return;
		}
	}
}

/* ------------------------------------------------------------- receiving */

static void handle_datagram(struct dpc *c, const uint8_t *buf, size_t len)
{
	union {
		struct mg_msg_hello hello;
		uint8_t raw[MG_PROTO_MAX_MSG];
	} body;
	struct mg_proto_hdr h;
	struct dpc_pending *p;
	int rc;

	memset(&h, 0, sizeof(h));
	rc = mg_proto_decode(buf, len, &h, &body, sizeof(body));
	if (rc < 0 && len >= sizeof(h) && h.type == MG_MSG_HELLO && c->state == DPC_HELLO) {
		/* Mismatched peer: its HELLO still tells what it speaks. */
		MG_ERR("dataplane at %s speaks another protocol: %s (we speak version %u)",
		       c->path, mg_proto_last_error(), MG_PROTO_VERSION);
		drop_connection(c, "protocol mismatch");
		schedule_retry(c, c->p.backoff_max_ms);
		return;
	}
	if (rc < 0) {
		MG_ERR("bad message from the dataplane: %s", mg_proto_last_error());
		drop_connection(c, "bad message");
		schedule_retry(c, c->backoff_ms);
		return;
	}
	if (!(h.flags & MG_PROTO_F_REPLY)) {
		MG_WARN("unexpected %s request from the dataplane; ignored",
			mg_proto_type_name(h.type));
		return;
	}
	p = pending_take(c, h.req_id);
	if (p == NULL) {
		MG_DEBUG("late %s reply id %u ignored", mg_proto_type_name(h.type), h.req_id);
		return;
	}
	if (p->type != h.type) {
		MG_ERR("dataplane answered request %u (%s) with %s", h.req_id,
		       mg_proto_type_name(p->type), mg_proto_type_name(h.type));
		free(p);
		drop_connection(c, "reply type mismatch");
		schedule_retry(c, c->backoff_ms);
		return;
	}
	if (p->cb != NULL)
		p->cb(p->arg, h.result, h.length > 0 ? (const void *)&body : NULL);
	free(p);
}

static int on_readable(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	static uint8_t buf[MG_PROTO_MAX_MSG + 1];
	struct dpc *c = arg;
	int events;

	(void)magic;
	if (c->fd < 0)
		return 0;
	events = su_wait_events(w, c->fd);
	if ((events & SU_WAIT_OUT) && flush_out(c) < 0) {
		drop_connection(c, "send failed");
		schedule_retry(c, c->backoff_ms);
		return 0;
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			drop_connection(c, n == 0 ? "dataplane closed the socket" : strerror(errno));
			schedule_retry(c, c->backoff_ms);
			return 0;
		}
		if ((size_t)n > MG_PROTO_MAX_MSG) {
			MG_ERR("%zd-byte message from the dataplane (max %d)", n, MG_PROTO_MAX_MSG);
			drop_connection(c, "oversized message");
			schedule_retry(c, c->backoff_ms);
			return 0;
		}
		c->last_rx_ns = now_ns();
		handle_datagram(c, buf, (size_t)n);
		if (c->fd < 0)
			return 0;
	}
	if (events & (SU_WAIT_HUP | SU_WAIT_ERR)) {
		drop_connection(c, "socket hang-up");
		schedule_retry(c, c->backoff_ms);
	}
	return 0;
}

/* ------------------------------------------------------------ connecting */

static void try_connect(struct dpc *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mg_msg_hello hello;
	struct dpc_pending *p;
	int fd, rc;

	memcpy(sa.sun_path, c->path, sizeof(c->path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		/* Say it once, then quietly keep trying. */
		if (c->failures++ == 0)
			MG_WARN("dataplane not reachable at %s: %s; retrying (backoff up to %u ms)",
				c->path, strerror(err), c->p.backoff_max_ms);
		else
			MG_DEBUG("dataplane not reachable at %s: %s; next try in %u ms", c->path,
				 strerror(err), c->backoff_ms);
		schedule_retry(c, c->backoff_ms);
		c->backoff_ms = c->backoff_ms * 2 > c->p.backoff_max_ms ? c->p.backoff_max_ms
									 : c->backoff_ms * 2;
		return;
	}
	c->fd = fd;
	c->state = DPC_HELLO;
	su_wait_create(&c->wait, fd, SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR);
	c->wait_index = su_root_register(c->root, &c->wait, on_readable, c, su_pri_normal);
	if (c->wait_index <= 0) {
		MG_ERR("su_root_register failed for the dataplane socket");
		c->wait_index = 0;
		drop_connection(c, "event loop registration failed");
		schedule_retry(c, c->p.backoff_max_ms);
		return;
	}
	su_timer_set_for_ever(c->tick, on_tick, c);
	mg_proto_hello_init(&hello, MG_ROLE_CONTROL, "mediagate-control " MG_VERSION);
	p = pending_add(c, MG_MSG_HELLO, c->p.ping_timeout_ms, on_hello, c);
	rc = p != NULL ? send_msg(c, MG_MSG_HELLO, p->id, &hello) : -ENOMEM;
	if (rc < 0) {
		MG_WARN("HELLO to the dataplane not sent: %s", strerror(-rc));
		drop_connection(c, "HELLO not sent");
		schedule_retry(c, c->backoff_ms);
	}
}

static void on_retry(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	try_connect(arg);
}

static void schedule_retry(struct dpc *c, unsigned delay_ms)
{
	su_timer_set_interval(c->retry, on_retry, c, (su_duration_t)delay_ms);
}

/* ------------------------------------------------------------------- API */

struct dpc *dpc_create(su_root_t *root, const struct mg_settings *s,
		       const struct dpc_params *params)
{
	struct dpc *c;

	if (strlen(s->control_socket) == 0 ||
	    strlen(s->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (params != NULL)
		c->p = *params;
	if (c->p.ping_interval_ms == 0)
		c->p.ping_interval_ms = 1000;
	if (c->p.ping_timeout_ms == 0)
		c->p.ping_timeout_ms = 3000;
	if (c->p.backoff_min_ms == 0)
		c->p.backoff_min_ms = 100;
	if (c->p.backoff_max_ms == 0)
		c->p.backoff_max_ms = 5000;
	c->root = root;
	c->fd = -1;
	c->backoff_ms = c->p.backoff_min_ms;
	snprintf(c->path, sizeof(c->path), "%s", s->control_socket);
	c->retry = su_timer_create(su_root_task(root), (su_duration_t)c->p.backoff_min_ms);
	c->tick = su_timer_create(su_root_task(root), DPC_TICK_MS);
	if (c->retry == NULL || c->tick == NULL) {
		su_timer_destroy(c->retry);
		su_timer_destroy(c->tick);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* First attempt from the loop, so callers can set listeners first. */
	schedule_retry(c, 0);
	return c;
}

void dpc_destroy(struct dpc *c)
{
	if (c == NULL)
		return;
	c->state_fn = NULL;
	c->closing = true;
	fail_pending(c, -ECANCELED);
	drop_connection(c, "stopping");
	su_timer_destroy(c->retry);
	su_timer_destroy(c->tick);
	free(c);
}

void dpc_on_state(struct dpc *c, dpc_state_f fn, void *arg)
{
	c->state_fn = fn;
	c->state_arg = arg;
}

bool dpc_is_up(const struct dpc *c)
{
	return c->state == DPC_UP;
}

uint64_t dpc_late_pongs(const struct dpc *c)
{
	return c->late_pongs;
}

unsigned dpc_connect_count(const struct dpc *c)
{
	return c->connects;
}

int64_t dpc_request(struct dpc *c, unsigned type, const void *body, unsigned timeout_ms,
		    dpc_reply_f cb, void *arg)
{
	struct dpc_pending *p;
	int rc;

	if (c->state != DPC_UP)
		return -ENOTCONN;
	p = pending_add(c, type, timeout_ms, cb, arg);
	if (p == NULL)
		return -ENOMEM;
	rc = send_msg(c, type, p->id, body);
	if (rc < 0) {
		pending_take(c, p->id);
		free(p);
		return rc;
	}
	return p->id;
}

unsigned dpc_cancel_arg(struct dpc *c, const void *arg)
{
	unsigned n = 0;

	for (unsigned b = 0; b < DPC_BUCKETS; b++) {
		struct dpc_pending **pp = &c->pending[b];

		while (*pp != NULL) {
			struct dpc_pending *p = *pp;

			if (p->arg != arg) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			c->n_pending--;
			free(p);
			n++;
		}
	}
	return n;
}
