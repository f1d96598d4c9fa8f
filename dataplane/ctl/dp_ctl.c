/* SPDX-License-Identifier: BSD-3-Clause */
#include "dp_ctl.h"
#include "dp_ctl_inbox.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mg_build_config.h"
#include "mg_log.h"

#define DP_CTL_MAX_CONNS 16
/* A peer that has not said HELLO by then loses its slot: 16 silent
 * connections must not lock the control plane out. */
#define DP_CTL_HELLO_TIMEOUT_NS (5ull * 1000000000ull)
#define LISTENER_TAG 0u
/* Requests read ahead per connection, at most (see dp_ctl_inbox.h): more
 * than a peer's socket can hold in flight (net.core.wmem_default, 208 KiB),
 * so the whole socket backlog, and the PINGs in it, are read at once. */
#define DP_CTL_INBOX_BYTES (512u * 1024u)
/* Requests handled per connection before the others (and the periodic
 * hooks) get their turn, and new PINGs are looked for. */
#define DP_CTL_BUDGET 64

struct ctl_conn {
	int fd;               /* -1 = free slot */
	bool hello_done;
	/* uid not allowed: the first message is answered -EACCES, then we close.
	 * Answering at accept time would race the peer's HELLO: closing with
	 * its HELLO unread makes the kernel reset the peer, losing our answer. */
	bool refused;
	uint64_t accepted_ns;
	/* A reply the socket had no room for. While it waits, nothing more is
	 * read from this peer (backpressure), so one slot is enough. */
	uint8_t out[MG_PROTO_MAX_MSG];
	size_t out_len;
	struct dp_ctl_inbox inbox;
	bool readable;        /* epoll said so in this round */
	bool eof;             /* nothing more to read: close once the inbox is handled */
	int eof_errno;        /* 0: the peer closed */
	struct dp_ctl_peer peer;
	char software[32];
};

/* Request sizes were checked twice before a handler runs: at registration
 * (the size it was built for is this build's) and by mg_proto_decode()
 * (a body is exactly that size). */
static dp_ctl_handler_t handlers[MG_MSG_TYPE_COUNT];
static const char *register_failures[8];
static unsigned n_register_failures;
static struct ctl_conn conns[DP_CTL_MAX_CONNS];
static unsigned next_conn_id = 1;
static int listen_fd = -1;
static int ep_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static uid_t allowed_uids[MG_CFG_MAX_UIDS];
static unsigned n_allowed_uids;
static volatile sig_atomic_t stop_requested;
static uint64_t start_ns;
static uint32_t count_sessions, count_workers;
static unsigned orphan_timeout_s;   /* mediagate.dataplane.orphanTimeout */
static uint64_t orphan_since_ns;    /* the last control plane left then; 0: not orphaned */

static struct {
	dp_ctl_hook_t fn;
	void *arg;
} hooks[DP_CTL_MAX_HOOKS];
static unsigned n_hooks;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int dp_ctl_register(uint16_t type, size_t min_len, dp_ctl_handler_t handler)
{
	int size = mg_proto_body_size(type, false);

	if (size < 0 || handler == NULL || type == MG_MSG_HELLO || type == MG_MSG_PING)
		return -EINVAL;
	if (min_len != (size_t)size)
		return -EINVAL;
	if (handlers[type] != NULL)
		return -EEXIST;
	handlers[type] = handler;
	return 0;
}

void dp_ctl_register_failed(const char *name)
{
	if (n_register_failures < sizeof(register_failures) / sizeof(register_failures[0]))
		register_failures[n_register_failures++] = name;
}

int dp_ctl_hook_add(dp_ctl_hook_t fn, void *arg)
{
	if (fn == NULL)
		return -EINVAL;
	if (n_hooks >= DP_CTL_MAX_HOOKS)
		return -ENOSPC;
	hooks[n_hooks].fn = fn;
	hooks[n_hooks].arg = arg;
	n_hooks++;
	return 0;
}

void dp_ctl_set_counts(uint32_t n_sessions, uint32_t n_workers)
{
	count_sessions = n_sessions;
	count_workers = n_workers;
}

void dp_ctl_stop(void)
{
	stop_requested = 1;
}

bool dp_ctl_stopping(void)
{
	return stop_requested != 0;
}

static bool uid_allowed(uid_t uid)
{
	/* No list configured: only the dataplane's own user. */
	if (n_allowed_uids == 0)
		return uid == geteuid();
	for (unsigned i = 0; i < n_allowed_uids; i++)
		if (allowed_uids[i] == uid)
			return true;
	return false;
}

static const char *allowed_str(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (n_allowed_uids == 0) {
		snprintf(buf, len, "%u (own uid; mediagate.control.allowedUids is empty)",
			 (unsigned)geteuid());
		return buf;
	}
	for (unsigned i = 0; i < n_allowed_uids && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? "," : "",
					(unsigned)allowed_uids[i]);
	return buf;
}

static void conn_events(struct ctl_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)(c - conns) + 1 };

	epoll_ctl(ep_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send, or keep the message for when the peer has read its backlog. */
static int conn_send(struct ctl_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->out_len != 0) {
		/* Cannot happen: we do not read while a reply waits. */
		MG_ERR("control connection %u: reply dropped, one already waiting",
		       c->peer.conn_id);
		return -ENOBUFS;
	}
	n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
		MG_WARN("control connection %u: reply not sent: %s", c->peer.conn_id,
			n < 0 ? strerror(errno) : "short send");
		return -EIO;
	}
	memcpy(c->out, buf, len);
	c->out_len = len;
	conn_events(c, EPOLLOUT);
	return 0;
}

static void conn_flush(struct ctl_conn *c)
{
	ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)c->out_len)
		MG_WARN("control connection %u: reply not sent: %s", c->peer.conn_id,
			n < 0 ? strerror(errno) : "short send");
	c->out_len = 0;
	conn_events(c, EPOLLIN);
}

/* Build a header by hand: used for answers to messages whose type we do
 * not know, which mg_proto_encode() (rightly) refuses to produce. */
static void raw_error(uint8_t b[sizeof(struct mg_proto_hdr)], uint16_t type, uint32_t req_id,
		      int32_t result)
{
	memset(b, 0, sizeof(struct mg_proto_hdr));

	b[0] = MG_PROTO_VERSION & 0xff;
	b[1] = MG_PROTO_VERSION >> 8;
	b[2] = type & 0xff;
	b[3] = (uint8_t)(type >> 8);
	b[4] = MG_PROTO_F_REPLY;
	for (unsigned i = 0; i < 4; i++) {
		b[8 + i] = (uint8_t)(req_id >> (8 * i));
		b[12 + i] = (uint8_t)((uint32_t)result >> (8 * i));
	}
}

static void send_raw_error(struct ctl_conn *c, uint16_t type, uint32_t req_id, int32_t result)
{
	uint8_t b[sizeof(struct mg_proto_hdr)];

	raw_error(b, type, req_id, result);
	conn_send(c, b, sizeof(b));
}

static int send_reply(struct ctl_conn *c, uint16_t type, uint32_t req_id, int32_t result,
		      const void *body)
{
	uint8_t out[MG_PROTO_MAX_MSG];
	int len;

	len = mg_proto_encode(out, sizeof(out), type, MG_PROTO_F_REPLY, req_id, result, body);
	if (len < 0) {
		/* A handler filled its reply with something the protocol forbids. */
		MG_ERR("control: %s reply of our own is invalid: %s; answering -EIO",
		       mg_proto_type_name(type), mg_proto_last_error());
		len = mg_proto_encode(out, sizeof(out), type, MG_PROTO_F_REPLY, req_id, -EIO,
				      NULL);
		if (len < 0)
			return len;
	}
	return conn_send(c, out, (size_t)len);
}

static void conn_close(struct ctl_conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	MG_INFO("control connection %u (pid %d uid %u%s%s) closed: %s", c->peer.conn_id,
		(int)c->peer.pid, (unsigned)c->peer.uid, c->software[0] ? ", " : "", c->software,
		why);
	epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	dp_ctl_inbox_fini(&c->inbox);
	if (c->hello_done && c->peer.role == MG_ROLE_CONTROL && !dp_ctl_control_connected()) {
		orphan_since_ns = now_ns();
		if (orphan_since_ns == 0)
			orphan_since_ns = 1;
		MG_WARN("control plane gone: every session keeps forwarding for %u s "
			"(mediagate.dataplane.orphanTimeout), then they are removed unless it is back",
			orphan_timeout_s);
	}
	c->hello_done = false;
}

bool dp_ctl_control_connected(void)
{
	for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++)
		if (conns[i].fd >= 0 && conns[i].hello_done && conns[i].peer.role == MG_ROLE_CONTROL)
			return true;
	return false;
}

bool dp_ctl_orphan_due(void)
{
	if (orphan_since_ns == 0 || now_ns() - orphan_since_ns < (uint64_t)orphan_timeout_s * 1000000000ull)
		return false;
	orphan_since_ns = 0;
	return true;
}

static void do_accept(void)
{
	for (;;) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct ctl_conn *c = NULL;
		char allowed[128];
		bool refused;
		int fd;

		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				MG_WARN("control: accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			MG_WARN("control: SO_PEERCRED: %s; connection refused", strerror(errno));
			close(fd);
			continue;
		}
		refused = !uid_allowed(cred.uid);
		if (refused)
			MG_WARN("control: refused connection from pid %d uid %u: uid not in "
				"mediagate.control.allowedUids (allowed: %s)",
				(int)cred.pid, (unsigned)cred.uid,
				allowed_str(allowed, sizeof(allowed)));
		for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++)
			if (conns[i].fd < 0) {
				c = &conns[i];
				break;
			}
		if (c == NULL) {
			MG_WARN("control: refused connection from pid %d: %d connections open "
				"(max)", (int)cred.pid, DP_CTL_MAX_CONNS);
			uint8_t b[sizeof(struct mg_proto_hdr)];

			raw_error(b, MG_MSG_HELLO, 0, -EUSERS);
			(void)send(fd, b, sizeof(b), MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->peer.conn_id = next_conn_id++;
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->refused = refused;
		c->accepted_ns = now_ns();
		c->out_len = 0;
		dp_ctl_inbox_init(&c->inbox, DP_CTL_INBOX_BYTES);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)(c - conns) + 1 };
		if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			MG_WARN("control: epoll_ctl: %s", strerror(errno));
			close(fd);
			c->fd = -1;
			continue;
		}
		MG_DEBUG("control connection %u accepted from pid %d uid %u", c->peer.conn_id,
			 (int)cred.pid, (unsigned)cred.uid);
	}
}

/* HELLO: answer with our table in every case, so the peer can log precisely
 * what differs; close after a refusal. Returns false if the conn was closed. */
static bool handle_hello(struct ctl_conn *c, const struct mg_proto_hdr *h, int decode_rc,
			 const struct mg_msg_hello *peer)
{
	struct mg_msg_hello mine;
	char why[512];
	int rc = decode_rc;

	mg_proto_hello_init(&mine, MG_ROLE_DATAPLANE, "mediagate-dataplane " MG_VERSION);
	if (rc < 0)
		snprintf(why, sizeof(why), "%s", mg_proto_last_error());
	else
		rc = mg_proto_hello_check(peer, why, sizeof(why));
	if (rc < 0) {
		MG_ERR("control connection %u (pid %d uid %u): HELLO refused: protocol mismatch: "
		       "%s (this dataplane speaks version %u)", c->peer.conn_id,
		       (int)c->peer.pid, (unsigned)c->peer.uid, why, MG_PROTO_VERSION);
		send_reply(c, MG_MSG_HELLO, h->req_id, -EPROTO, &mine);
		conn_close(c, "protocol mismatch");
		return false;
	}
	c->hello_done = true;
	c->peer.role = peer->role;
	if (peer->role == MG_ROLE_CONTROL && orphan_since_ns != 0) {
		MG_INFO("control plane back after %.1f s (within mediagate.dataplane.orphanTimeout): "
			"every session kept", (double)(now_ns() - orphan_since_ns) / 1e9);
		orphan_since_ns = 0;
	}
	snprintf(c->software, sizeof(c->software), "%s", peer->software);
	MG_INFO("control connection %u: HELLO from %s (pid %d uid %u, protocol version %u, "
		"%u message types)", c->peer.conn_id, peer->software, (int)c->peer.pid,
		(unsigned)c->peer.uid, peer->version, peer->n_types);
	send_reply(c, MG_MSG_HELLO, h->req_id, 0, &mine);
	return true;
}

/* Bodies are copied here, aligned, before handlers see them. */
static union {
	struct mg_msg_hello hello;
	struct mg_msg_session session;
	struct mg_msg_session_list list;
	struct mg_msg_session_stats stats;
	struct mg_msg_dp_stats dp_stats;
	uint8_t raw[MG_PROTO_MAX_MSG];
} req_body, rep_body;

/* One datagram. Returns false if the connection was closed. */
static bool handle_msg(struct ctl_conn *c, const uint8_t *buf, size_t len)
{
	struct mg_proto_hdr h;
	int rc;

	memset(&req_body, 0, sizeof(req_body));
	rc = mg_proto_decode(buf, len, &h, &req_body, sizeof(req_body));
	if (c->refused) {
		send_raw_error(c, len >= sizeof(h) ? h.type : MG_MSG_HELLO,
			       len >= sizeof(h) ? h.req_id : 0, -EACCES);
		conn_close(c, "uid not allowed");
		return false;
	}
	if (len < sizeof(h)) {
		MG_WARN("control connection %u: %s; closing", c->peer.conn_id,
			mg_proto_last_error());
		conn_close(c, "malformed message");
		return false;
	}
	if (h.type == MG_MSG_HELLO && !(h.flags & MG_PROTO_F_REPLY))
		return handle_hello(c, &h, rc, &req_body.hello);
	if (h.version != MG_PROTO_VERSION) {
		MG_ERR("control connection %u: message in protocol version %u, we speak %u; "
		       "closing", c->peer.conn_id, h.version, MG_PROTO_VERSION);
		send_raw_error(c, h.type, h.req_id, -EPROTO);
		conn_close(c, "protocol version mismatch");
		return false;
	}
	if (rc < 0) {
		MG_WARN("control connection %u: bad %s request (id %u): %s", c->peer.conn_id,
			mg_proto_type_name(h.type), h.req_id, mg_proto_last_error());
		send_raw_error(c, h.type, h.req_id, rc);
		return true;
	}
	if (h.flags & MG_PROTO_F_REPLY) {
		MG_WARN("control connection %u: unexpected %s reply; ignored", c->peer.conn_id,
			mg_proto_type_name(h.type));
		return true;
	}
	if (!c->hello_done) {
		MG_WARN("control connection %u: %s before HELLO; refused", c->peer.conn_id,
			mg_proto_type_name(h.type));
		send_reply(c, h.type, h.req_id, -EPROTO, NULL);
		return true;
	}
	memset(&rep_body, 0, sizeof(rep_body));
	if (h.type == MG_MSG_PING) {
		struct mg_msg_pong *p = (struct mg_msg_pong *)&rep_body;
		const struct mg_msg_ping *q = (const struct mg_msg_ping *)&req_body;

		p->seq = q->seq;
		p->sent_ns = q->sent_ns;
		p->uptime_ns = now_ns() - start_ns;
		p->n_sessions = count_sessions;
		p->n_workers = count_workers;
		send_reply(c, h.type, h.req_id, 0, p);
		return true;
	}
	if (handlers[h.type] == NULL) {
		MG_DEBUG("control connection %u: %s not supported by this dataplane",
			 c->peer.conn_id, mg_proto_type_name(h.type));
		send_reply(c, h.type, h.req_id, -EOPNOTSUPP, NULL);
		return true;
	}
	c->peer.req_id = h.req_id;
	rc = handlers[h.type](h.length ? (const void *)&req_body : NULL, &rep_body, &c->peer);
	if (rc > 0)
		rc = 0;
	MG_DEBUG("control connection %u: %s id %u -> %d", c->peer.conn_id,
		 mg_proto_type_name(h.type), h.req_id, rc);
	send_reply(c, h.type, h.req_id, rc, rc == 0 ? (const void *)&rep_body : NULL);
	return true;
}

/* One received datagram of @p n bytes (only the first MG_PROTO_MAX_MSG + 1
 * are in @p buf when it was longer). Returns false if the conn was closed. */
static bool handle_datagram(struct ctl_conn *c, const uint8_t *buf, size_t n)
{
	struct mg_proto_hdr h;

	if (n <= MG_PROTO_MAX_MSG)
		return handle_msg(c, buf, n);
	/* Who is asking comes first, as for any other message: a refused uid
	 * gets its refusal and is closed, a peer that has not said HELLO is
	 * closed without an answer (nothing of what it sent is echoed back). */
	if (c->refused) {
		send_raw_error(c, MG_MSG_HELLO, 0, -EACCES);
		conn_close(c, "uid not allowed");
		return false;
	}
	if (!c->hello_done) {
		MG_WARN("control connection %u: %zu-byte message (max %d) before HELLO; closing",
			c->peer.conn_id, n, MG_PROTO_MAX_MSG);
		conn_close(c, "oversized message before HELLO");
		return false;
	}
	/* The header is intact even if the rest was cut off. */
	mg_proto_decode_hdr(buf, sizeof(struct mg_proto_hdr), &h);
	MG_WARN("control connection %u: %zu-byte message (max %d); refused", c->peer.conn_id, n,
		MG_PROTO_MAX_MSG);
	send_raw_error(c, h.type, h.req_id, -EMSGSIZE);
	return true;
}

/* A PING from a peer past its HELLO: answered as soon as it is read, ahead
 * of the requests read before it (liveness is not queued behind work). */
static bool is_ping(const struct ctl_conn *c, const uint8_t *buf, size_t n)
{
	struct mg_proto_hdr h;

	if (!c->hello_done || c->refused || n < sizeof(h) || n > MG_PROTO_MAX_MSG)
		return false;
	mg_proto_decode_hdr(buf, sizeof(h), &h);
	return h.version == MG_PROTO_VERSION && h.type == MG_MSG_PING &&
	       !(h.flags & MG_PROTO_F_REPLY);
}

/* Read what the socket holds into the inbox, answering PINGs on the way.
 * Stops when a reply waits for room (backpressure: nothing is read then),
 * the inbox is full, or there is nothing more. Returns false if closed. */
static bool conn_fill(struct ctl_conn *c)
{
	static uint8_t buf[MG_PROTO_MAX_MSG + 1];

	while (c->out_len == 0 && !c->eof && dp_ctl_inbox_room(&c->inbox, sizeof(buf))) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
		size_t kept;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			c->eof = true;
			c->eof_errno = n < 0 ? errno : 0;
			return true;
		}
		if (is_ping(c, buf, (size_t)n)) {
			if (!handle_msg(c, buf, (size_t)n))
				return false;
			continue;
		}
		kept = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf);
		if (dp_ctl_inbox_push(&c->inbox, buf, kept, (size_t)n) < 0) {
			/* Out of memory: the request cannot be kept, nor answered in
			 * order; the peer reconnects and re-sends. */
			MG_ERR("control connection %u: no memory for the requests read ahead",
			       c->peer.conn_id);
			conn_close(c, "out of memory");
			return false;
		}
	}
	return true;
}

/* Handle up to DP_CTL_BUDGET requests in order, reading the socket (for
 * PINGs) before each. Closes the connection once the peer is gone and
 * everything it sent was handled. */
static void conn_work(struct ctl_conn *c)
{
	for (unsigned budget = DP_CTL_BUDGET; budget > 0; budget--) {
		const uint8_t *msg;
		size_t len, real_len;

		if (!conn_fill(c) || c->out_len != 0)
			return;
		len = dp_ctl_inbox_peek(&c->inbox, &msg, &real_len);
		if (len == 0) {
			if (c->eof)
				conn_close(c, c->eof_errno ? strerror(c->eof_errno) : "peer closed");
			return;
		}
		/* handle_msg() decodes into its own buffers: the bytes stay
		 * valid while it runs (nothing is pushed meanwhile). */
		if (!handle_datagram(c, msg, real_len))
			return;
		dp_ctl_inbox_pop(&c->inbox);
	}
}

/* Whether @p c has work without waiting for the socket. */
static bool conn_pending(const struct ctl_conn *c)
{
	return c->fd >= 0 && c->out_len == 0 && (c->inbox.n > 0 || c->eof);
}

static int make_parent_dir(const char *path)
{
	char dir[sizeof(sock_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int dp_ctl_init(const struct mg_settings *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTENER_TAG };
	int rc;

	if (n_register_failures > 0) {
		for (unsigned i = 0; i < n_register_failures; i++)
			MG_ERR("control: handler %s was built for another message size or type "
			       "is taken; rebuild", register_failures[i]);
		return -EINVAL;
	}
	for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++)
		conns[i].fd = -1;
	start_ns = now_ns();
	orphan_timeout_s = s->orphan_timeout_s;
	orphan_since_ns = 0;
	n_allowed_uids = s->n_allowed_uids;
	memcpy(allowed_uids, s->allowed_uids, sizeof(allowed_uids));
	if (s->control_socket[0] == '\0' || strlen(s->control_socket) >= sizeof(sa.sun_path)) {
		MG_ERR("control: mediagate.control.socket '%s' is empty or longer than %zu bytes",
		       s->control_socket, sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	snprintf(sock_path, sizeof(sock_path), "%s", s->control_socket);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);

	rc = make_parent_dir(sock_path);
	if (rc < 0) {
		MG_ERR("control: cannot create the directory of %s: %s", sock_path, strerror(-rc));
		return rc;
	}
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	if (access(sock_path, F_OK) == 0) {
		/* Someone is still listening: a second dataplane must not steal it. */
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			MG_ERR("control: another dataplane is serving %s; not starting", sock_path);
			rc = -EADDRINUSE;
			goto err;
		}
		if (probe >= 0)
			close(probe);
		MG_INFO("control: removing stale socket %s", sock_path);
		unlink(sock_path);
	}
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		MG_ERR("control: bind %s: %s", sock_path, strerror(errno));
		goto err;
	}
	/* Who may talk is decided by SO_PEERCRED against allowedUids, not by the
	 * file mode: an allowed uid in another group must still reach it. */
	chmod(sock_path, 0666);
	if (listen(listen_fd, 16) < 0) {
		rc = -errno;
		goto err;
	}
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (ep_fd < 0 || epoll_ctl(ep_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	{
		char allowed[128];
		unsigned n = 0;

		for (unsigned t = 1; t < MG_MSG_TYPE_COUNT; t++)
			n += handlers[t] != NULL;
		MG_INFO("control: listening on %s (protocol version %u, %u session handlers, "
			"allowed uids %s)", sock_path, MG_PROTO_VERSION, n,
			allowed_str(allowed, sizeof(allowed)));
	}
	return 0;
err:
	if (ep_fd >= 0)
		close(ep_fd);
	ep_fd = -1;
	close(listen_fd);
	listen_fd = -1;
	return rc;
}

void dp_ctl_run(void)
{
	struct epoll_event evs[DP_CTL_MAX_CONNS + 1];

	while (!stop_requested) {
		int timeout = DP_CTL_POLL_MS;

		for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++)
			if (conn_pending(&conns[i]))
				timeout = 0; /* requests read ahead wait: just look */
		int n = epoll_wait(ep_fd, evs, DP_CTL_MAX_CONNS + 1, timeout);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == LISTENER_TAG) {
				do_accept();
				continue;
			}
			struct ctl_conn *c = &conns[evs[i].data.u32 - 1];

			if (c->fd < 0)
				continue;
			if ((evs[i].events & EPOLLOUT) && c->out_len != 0)
				conn_flush(c);
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				c->readable = true;
			/* Gone with a reply waiting: it cannot be delivered. */
			if ((evs[i].events & (EPOLLHUP | EPOLLERR)) && c->out_len != 0)
				conn_close(c, "peer closed");
		}
		/* Reading and handling, each connection in turn (a hang-up is
		 * seen by recv(), after what the peer sent before it). */
		for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++) {
			struct ctl_conn *c = &conns[i];

			if (c->fd >= 0 && c->out_len == 0 && (c->readable || conn_pending(c)))
				conn_work(c);
			c->readable = false;
		}
		for (unsigned h = 0; h < n_hooks; h++)
			hooks[h].fn(hooks[h].arg);
		uint64_t now = now_ns();

		for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++)
			if (conns[i].fd >= 0 && !conns[i].hello_done &&
			    now - conns[i].accepted_ns > DP_CTL_HELLO_TIMEOUT_NS)
				conn_close(&conns[i], "no HELLO within 5 s");
	}
}

void dp_ctl_fini(void)
{
	for (unsigned i = 0; i < DP_CTL_MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			conn_close(&conns[i], "dataplane stopping");
	if (ep_fd >= 0)
		close(ep_fd);
	ep_fd = -1;
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
	}
	listen_fd = -1;
}
