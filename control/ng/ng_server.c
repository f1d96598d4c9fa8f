/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Framing per transport (see docs/ng-wire.md):
 *  - UDP: one "COOKIE SP bencode-dict" per datagram, the reply to the
 *    sender from the address it was sent to (IP_PKTINFO): Kamailio's
 *    rtpengine module uses connect()ed sockets and drops anything else.
 *  - TCP: what rtpengine's --listen-tcp-ng accepts (daemon/control_ng.c):
 *    "COOKIE SP bencode-dict" messages back to back with nothing between
 *    them and no length in front; a message ends where its dictionary
 *    ends. Replies go back the same way, in completion order (the cookie
 *    pairs them up). Bytes that cannot start a message close the
 *    connection: after them the framing is lost.
 *  - HTTP (libmicrohttpd in its epoll mode, one fd on the su_root, run by
 *    that fd and by a timer for its own timeouts; everything on the event
 *    loop thread): POST /ng "COOKIE SP bencode" both ways, POST /ng-plain
 *    a JSON object both ways. A connection waits suspended while its
 *    request is with the handler.
 *
 * The cookie cache is keyed by cookie and the peer's IP address (not the
 * port: an HTTP retransmission comes over a new connection, and two
 * proxies may well count their cookies the same way).
 */
#include "ng_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sofia-sip/su.h>

#include "mg_log.h"

#define NG_UDP_MAX 65535          /* the most a datagram can carry, reply or request */
#define NG_COOKIE_MAX 128         /* Kamailio's are ~20 bytes */
#define NG_CACHE_TTL_MS 30000
#define NG_CACHE_MAX_ENTRIES 65536
#define NG_CACHE_MAX_BYTES (64u << 20)
#define NG_CACHE_BUCKETS 16384
#define NG_MAX_WAITERS 8          /* retransmissions parked on one in-flight request */
#define NG_TCP_MAX_CONNS 256
#define NG_TCP_MAX_OUT (4u << 20) /* unsent replies of one connection */
#define NG_TICK_MS 1000
#define NG_REFUSED_LOG_MS 10000   /* one "refused" line per this, with a count */
#define NG_HTTP_TIMEOUT_S 30

enum ng_tp { NG_TP_UDP, NG_TP_TCP, NG_TP_HTTP, NG_TP_LOCAL };
static const char *const ng_tp_name[] = {
	[NG_TP_UDP] = "udp",
	[NG_TP_TCP] = "tcp",
	[NG_TP_HTTP] = "http",
	[NG_TP_LOCAL] = "local",
};

struct ng_listener {
	struct ng_server *srv;
	int fd;
	bool tcp;
	int family;
	su_wait_t wait;
	int index;
	uint16_t port;             /* bound port (config may say 0) */
	char name[80];
};

struct ng_conn {
	struct ng_server *srv;
	struct ng_conn *prev, *next;
	int fd;
	su_wait_t wait;
	int index;
	struct sockaddr_storage peer;
	char peer_txt[64];
	struct ng_buf in, out;
	size_t out_off;            /* sent bytes at the front of out */
	unsigned busy;             /* its input is being handled: close later */
	const char *broken;        /* why it must be closed once not busy */
};

struct ng_http_ctx {
	struct ng_server *srv;
	struct MHD_Connection *mc;
	struct ng_buf body;
	bool too_big;
	bool json;                 /* /ng-plain */
	bool suspended;
	bool started;
	struct ng_req *req;        /* with the handler (or parked on a cache entry) */
	char *reply;               /* to queue when MHD calls us again */
	size_t reply_len;
	unsigned status;
	bool drop;                 /* server going away: close without an answer */
};

struct ng_cache_ent {
	struct ng_cache_ent *hnext;         /* hash chain */
	struct ng_cache_ent *fprev, *fnext; /* age order, only once answered */
	uint32_t hash;
	uint8_t ip[17];                     /* family byte + address */
	char *cookie;
	size_t cookie_len;
	char *reply;                        /* "COOKIE SP bencode"; NULL while in flight */
	size_t reply_len;
	uint64_t done_ms;
	struct ng_req *owner;               /* the execution, while in flight */
	struct ng_req *waiters;
	unsigned n_waiters;
};

struct ng_req {
	struct ng_server *srv;
	struct ng_req *prev, *next; /* srv->in_flight, or a cache entry's waiters */
	enum ng_tp tp;
	bool json;                  /* /ng-plain: JSON, no cookie */
	bool json_body;             /* "COOKIE SP {json}": answered the same way */
	struct ng_doc *doc;
	struct ng_cache_ent *ent;
	char *cookie;               /* NUL-terminated; NULL for /ng-plain */
	size_t cookie_len;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_txt[64];
	/* UDP */
	struct ng_listener *lis;
	bool have_local;
	union {
		struct in_pktinfo v4;
		struct in6_pktinfo v6;
	} local;
	bool local_v6;
	/* TCP */
	struct ng_conn *conn;
	/* HTTP */
	struct ng_http_ctx *http;
	/* timing (ng_server_set_timing_hook) */
	uint64_t t0_ns;             /* given to the handler; 0: never was */
	char command[24];           /* its "command", cut to fit */
	/* local (ng_req_local()) */
	ng_local_done_f local_done;
	void *local_arg;
};

struct ng_server {
	su_root_t *root;
	ng_handler_f handler;
	void *arg;
	struct ng_listener lis[MG_CFG_MAX_NG_LISTEN];
	unsigned n_lis;
	struct mg_cidr allowed[MG_CFG_MAX_NG_ALLOWED];
	unsigned n_allowed;
	struct ng_conn *conns;
	unsigned n_conns;
	struct ng_req *in_flight;
	struct ng_cache_ent *buckets[NG_CACHE_BUCKETS];
	struct ng_cache_ent *fifo_head, *fifo_tail;
	unsigned n_cache;
	size_t cache_bytes;
	unsigned cache_ttl_ms;
	unsigned cache_max;
	su_timer_t *tick;
	struct ng_server_stats st;
	uint64_t refused_logged_ms;
	uint64_t refused_unlogged;
	char *rxbuf;
	/* HTTP */
	struct MHD_Daemon *mhd;
	int mhd_fd;
	su_wait_t mhd_wait;
	int mhd_index;
	su_timer_t *mhd_timer;
	uint16_t http_port;
	bool in_mhd;               /* inside MHD_run: never re-enter it */
	bool destroying;
};

static ng_timing_f ng_timing_hook;

void ng_server_set_timing_hook(ng_timing_f fn)
{
	ng_timing_hook = fn;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --------------------------------------------------------------- addresses */

static void ng_addr_txt(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
}

/* The peer as (family, address), IPv4-mapped IPv6 as plain IPv4: a
 * dual-stack listener must not make 127.0.0.1 look like ::ffff:127.0.0.1. */
static int ng_peer_ip(const struct sockaddr *sa, uint8_t addr[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(addr, a->s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(addr, a->s6_addr, 16);
		return AF_INET6;
	}
	return 0;
}

static bool ng_cidr_match(const struct mg_cidr *c, int family, const uint8_t *addr)
{
	unsigned bits = c->prefix_len, full = bits / 8, rest = bits % 8;

	if (c->family != family || bits > (family == AF_INET ? 32u : 128u))
		return false;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (c->addr[full] & mask) == (addr[full] & mask);
}

static bool ng_source_allowed(const struct ng_server *srv, const struct sockaddr *sa)
{
	uint8_t addr[16];
	int family = ng_peer_ip(sa, addr);

	for (unsigned i = 0; i < srv->n_allowed; i++)
		if (ng_cidr_match(&srv->allowed[i], family, addr))
			return true;
	return false;
}

static void ng_refused(struct ng_server *srv, const struct sockaddr *sa, const char *tp)
{
	uint64_t now = now_ms();
	char txt[64];

	srv->st.refused_source++;
	/* a scan or a misconfigured proxy must not flood the log */
	if (srv->refused_logged_ms != 0 && now - srv->refused_logged_ms < NG_REFUSED_LOG_MS) {
		srv->refused_unlogged++;
		return;
	}
	ng_addr_txt(sa, txt, sizeof(txt));
	if (srv->refused_unlogged > 0)
		MG_WARN("NG: refused a %s request from %s: not in mediagate.ng.allowedSources "
			"(and %llu more from anywhere in the last %u s)",
			tp, txt, (unsigned long long)srv->refused_unlogged, NG_REFUSED_LOG_MS / 1000);
	else
		MG_WARN("NG: refused a %s request from %s: not in mediagate.ng.allowedSources", tp,
			txt);
	srv->refused_logged_ms = now;
	srv->refused_unlogged = 0;
}

/* ------------------------------------------------------------ cookie cache */

static uint32_t ng_cache_hash(const uint8_t ip[17], const char *cookie, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < 17; i++)
		h = (h ^ ip[i]) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)cookie[i]) * 16777619u;
	return h;
}

static void ng_cache_key(const struct ng_req *r, uint8_t ip[17])
{
	memset(ip, 0, 17);
	ip[0] = (uint8_t)ng_peer_ip((const struct sockaddr *)&r->peer, ip + 1);
}

static struct ng_cache_ent *ng_cache_find(struct ng_server *srv, const uint8_t ip[17], uint32_t h,
					  const char *cookie, size_t n)
{
	for (struct ng_cache_ent *e = srv->buckets[h % NG_CACHE_BUCKETS]; e != NULL; e = e->hnext)
		if (e->hash == h && e->cookie_len == n && memcmp(e->ip, ip, 17) == 0 &&
		    memcmp(e->cookie, cookie, n) == 0)
			return e;
	return NULL;
}

static void ng_req_free(struct ng_req *r);

/* Unlink and free an answered entry (those in flight are never evicted:
 * their owner points at them). */
static void ng_cache_drop(struct ng_server *srv, struct ng_cache_ent *e)
{
	for (struct ng_cache_ent **pp = &srv->buckets[e->hash % NG_CACHE_BUCKETS]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	if (e->reply != NULL) {
		if (e->fprev != NULL)
			e->fprev->fnext = e->fnext;
		else
			srv->fifo_head = e->fnext;
		if (e->fnext != NULL)
			e->fnext->fprev = e->fprev;
		else
			srv->fifo_tail = e->fprev;
		srv->cache_bytes -= e->reply_len + e->cookie_len;
	}
	while (e->waiters != NULL) {
		struct ng_req *w = e->waiters;

		e->waiters = w->next;
		ng_req_free(w);
	}
	srv->n_cache--;
	free(e->reply);
	free(e->cookie);
	free(e);
}

static void ng_cache_expire(struct ng_server *srv, uint64_t now)
{
	while (srv->fifo_head != NULL && now - srv->fifo_head->done_ms >= srv->cache_ttl_ms)
		ng_cache_drop(srv, srv->fifo_head);
	while (srv->fifo_head != NULL &&
	       (srv->n_cache > srv->cache_max || srv->cache_bytes > NG_CACHE_MAX_BYTES)) {
		srv->st.cache_evictions++;
		ng_cache_drop(srv, srv->fifo_head);
	}
}

static void ng_on_tick(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	ng_cache_expire(arg, now_ms());
}

/* --------------------------------------------------------------- sending */

static void ng_conn_close(struct ng_conn *c, const char *why);

/* Close now, or when the connection's own input handling is done: the
 * handler may reply (and fail to send) from inside it. */
static void ng_conn_fail(struct ng_conn *c, const char *why)
{
	if (c->busy > 0) {
		if (c->broken == NULL)
			c->broken = why;
		return;
	}
	ng_conn_close(c, why);
}

static int ng_conn_flush(struct ng_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return -errno;
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = 0;
	}
	su_root_eventmask(c->srv->root, c->index, c->fd,
			  SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR |
				  (c->out.len > 0 ? SU_WAIT_OUT : 0));
	return 0;
}

static void ng_udp_send(struct ng_req *r, const char *p, size_t n)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)p, .iov_len = n };
	struct msghdr mh = {
		.msg_name = &r->peer,
		.msg_namelen = r->peer_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	if (r->have_local) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		c = (struct cmsghdr *)(void *)cm.buf;
		if (r->local_v6) {
			mh.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(c), &r->local.v6, sizeof(r->local.v6));
		} else {
			struct in_pktinfo pi = r->local.v4;

			/* from the local address the request came in on (spec_dst,
			 * not the header's destination, which may be a broadcast),
			 * over whatever interface routing picks */
			pi.ipi_ifindex = 0;
			mh.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
	}
	if (sendmsg(r->lis->fd, &mh, MSG_DONTWAIT) < 0)
		MG_DEBUG("NG: reply to %s not sent: %s", r->peer_txt, strerror(errno));
}

static void ng_http_resume(struct ng_http_ctx *h);

/* Send @p p (the whole reply: with the cookie unless /ng-plain) to the
 * peer of @p r over its transport; counts it. */
static void ng_send(struct ng_req *r, const char *p, size_t n)
{
	struct ng_server *srv = r->srv;

	switch (r->tp) {
	case NG_TP_UDP:
		ng_udp_send(r, p, n);
		break;
	case NG_TP_TCP:
		if (r->conn == NULL || r->conn->broken != NULL)
			return; /* closed meanwhile */
		if (r->conn->out.len + n > NG_TCP_MAX_OUT) {
			ng_conn_fail(r->conn, "peer does not read its replies");
			return;
		}
		if (ng_buf_append(&r->conn->out, p, n) < 0 || ng_conn_flush(r->conn) < 0) {
			ng_conn_fail(r->conn, "send failed");
			return;
		}
		break;
	case NG_TP_HTTP:
		if (r->http == NULL)
			return;
		free(r->http->reply);
		r->http->reply = malloc(n);
		if (r->http->reply == NULL) {
			r->http->reply_len = 0;
			r->http->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		} else {
			memcpy(r->http->reply, p, n);
			r->http->reply_len = n;
			r->http->status = MHD_HTTP_OK;
		}
		ng_http_resume(r->http);
		break;
	case NG_TP_LOCAL:
		return; /* answered by ng_req_reply() through its callback */
	}
	srv->st.replies++;
}

/* "COOKIE SP " + @p v (bencode), or JSON for /ng-plain, into @p b. */
static int ng_encode_reply(const struct ng_req *r, const struct ng_val *v, struct ng_buf *b)
{
	int rc = 0;

	if (r->json)
		return ng_json_encode(v, b);
	if (r->cookie != NULL)
		rc = ng_buf_append(b, r->cookie, r->cookie_len);
	if (rc == 0)
		rc = ng_buf_append(b, " ", 1);
	if (rc < 0)
		return rc;
	return r->json_body ? ng_json_encode(v, b) : ng_bencode_encode(v, b);
}

/* {result: error, error-reason: why}, sent now, not cached. */
static void ng_send_error(struct ng_req *r, const char *why)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = ng_new_dict(d);
	struct ng_buf b = { 0 };

	ng_dict_add_str(d, v, "result", "error");
	if (ng_dict_add_str(d, v, "error-reason", why) != NULL && ng_encode_reply(r, v, &b) == 0)
		ng_send(r, b.p, b.len);
	else
		MG_ERR("NG: out of memory answering %s", r->peer_txt);
	ng_buf_free(&b);
	ng_doc_free(d);
}

/* -------------------------------------------------------------- requests */

static void ng_req_free(struct ng_req *r)
{
	if (r->http != NULL && r->http->req == r)
		r->http->req = NULL;
	ng_doc_free(r->doc);
	free(r->cookie);
	free(r);
}

struct ng_req *ng_req_local(struct ng_doc *doc, ng_local_done_f done, void *arg)
{
	struct ng_req *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		ng_doc_free(doc);
		errno = ENOMEM;
		return NULL;
	}
	r->tp = NG_TP_LOCAL;
	r->json = true;
	r->doc = doc;
	r->local_done = done;
	r->local_arg = arg;
	snprintf(r->peer_txt, sizeof(r->peer_txt), "local");
	return r;
}

static void ng_inflight_unlink(struct ng_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->srv->in_flight = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

struct ng_doc *ng_req_doc(struct ng_req *req)
{
	return req->doc;
}

const char *ng_req_transport(const struct ng_req *req)
{
	return ng_tp_name[req->tp];
}

const char *ng_req_peer(const struct ng_req *req)
{
	return req->peer_txt;
}

void ng_req_reply(struct ng_req *req, struct ng_val *reply)
{
	static const char oom_body[] = "d6:result5:error12:error-reason13:Out of memorye";
	static const char oom_json[] = "{\"result\":\"error\",\"error-reason\":\"Out of memory\"}";
	struct ng_server *srv = req->srv;
	struct ng_buf b = { 0 };
	struct ng_cache_ent *e = req->ent;

	if (req->tp == NG_TP_LOCAL) {
		req->local_done(req->local_arg, reply);
		ng_req_free(req);
		return;
	}
	if (reply == NULL || ng_encode_reply(req, reply, &b) < 0) {
		b.len = 0;
		if (!req->json) {
			if (req->cookie != NULL)
				ng_buf_append(&b, req->cookie, req->cookie_len);
			ng_buf_append(&b, " ", 1);
		}
		if (req->json || req->json_body)
			ng_buf_append(&b, oom_json, sizeof(oom_json) - 1);
		else
			ng_buf_append(&b, oom_body, sizeof(oom_body) - 1);
	}
	if (req->tp == NG_TP_UDP && b.len > NG_UDP_MAX) {
		char why[96];
		struct ng_doc *d = ng_doc_new();
		struct ng_val *v = ng_new_dict(d);

		srv->st.oversize++;
		MG_WARN("NG: reply of %zu bytes to %s is too large for UDP", b.len, req->peer_txt);
		snprintf(why, sizeof(why), "Reply of %zu bytes too large for UDP (use TCP or HTTP)",
			 b.len);
		ng_dict_add_str(d, v, "result", "error");
		ng_dict_add_str(d, v, "error-reason", why);
		b.len = 0;
		if (ng_encode_reply(req, v, &b) < 0)
			b.len = 0;
		ng_doc_free(d);
	}
	if (b.p != NULL && b.len > 0) {
		ng_send(req, b.p, b.len);
		if (e != NULL) {
			/* every retransmission that waited gets the same bytes */
			while (e->waiters != NULL) {
				struct ng_req *w = e->waiters;

				e->waiters = w->next;
				e->n_waiters--;
				srv->st.cache_replays++;
				ng_send(w, b.p, b.len);
				ng_req_free(w);
			}
			e->owner = NULL;
			e->reply = b.p; /* the cache keeps the buffer */
			e->reply_len = b.len;
			e->done_ms = now_ms();
			e->fprev = srv->fifo_tail;
			e->fnext = NULL;
			if (srv->fifo_tail != NULL)
				srv->fifo_tail->fnext = e;
			else
				srv->fifo_head = e;
			srv->fifo_tail = e;
			srv->cache_bytes += b.len + e->cookie_len;
			b.p = NULL;
		}
	}
	if (e != NULL && e->owner != NULL) {
		/* nothing could be sent (out of memory): forget the request */
		e->owner = NULL;
		ng_cache_drop(srv, e);
	}
	ng_buf_free(&b);
	if (ng_timing_hook != NULL && req->t0_ns != 0)
		ng_timing_hook(req->command, (double)(now_ns() - req->t0_ns) / 1e9);
	ng_inflight_unlink(req);
	srv->st.in_flight--;
	ng_req_free(req);
	ng_cache_expire(srv, now_ms());
}

static struct ng_req *ng_req_new(struct ng_server *srv, enum ng_tp tp,
				 const struct sockaddr_storage *peer, socklen_t peer_len)
{
	struct ng_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->srv = srv;
	r->tp = tp;
	memcpy(&r->peer, peer, peer_len);
	r->peer_len = peer_len;
	ng_addr_txt((const struct sockaddr *)peer, r->peer_txt, sizeof(r->peer_txt));
	return r;
}

/*
 * One complete message in @p msg (with "COOKIE SP" unless r->json): answer
 * it from the cache, park it behind its first copy, refuse it, or decode
 * it and give it to the handler. Takes @p r (frees it or keeps it).
 */
static void ng_incoming(struct ng_req *r, const char *msg, size_t len)
{
	struct ng_server *srv = r->srv;
	const char *body = msg;
	size_t body_len = len;
	struct ng_val *v = NULL;
	char why[256];
	uint8_t ip[17];
	uint32_t h = 0;
	int rc;

	if (!r->json) {
		const char *sp = memchr(msg, ' ', len < NG_COOKIE_MAX + 1 ? len : NG_COOKIE_MAX + 1);

		if (sp == NULL || sp == msg) {
			/* no cookie, nothing the proxy could match an answer to */
			srv->st.decode_errors++;
			MG_DEBUG("NG: message without a cookie from %s dropped", r->peer_txt);
			ng_req_free(r);
			return;
		}
		r->cookie_len = (size_t)(sp - msg);
		r->cookie = malloc(r->cookie_len + 1);
		if (r->cookie == NULL) {
			ng_req_free(r);
			return;
		}
		memcpy(r->cookie, msg, r->cookie_len);
		r->cookie[r->cookie_len] = '\0';
		body = sp + 1;
		body_len = len - r->cookie_len - 1;

		ng_cache_key(r, ip);
		h = ng_cache_hash(ip, r->cookie, r->cookie_len);
		struct ng_cache_ent *e = ng_cache_find(srv, ip, h, r->cookie, r->cookie_len);

		/* the tick drops old answers once a second: exact TTL here */
		if (e != NULL && e->reply != NULL && now_ms() - e->done_ms >= srv->cache_ttl_ms) {
			ng_cache_drop(srv, e);
			e = NULL;
		}
		if (e != NULL && e->reply != NULL) {
			srv->st.cache_replays++;
			ng_send(r, e->reply, e->reply_len);
			ng_req_free(r);
			return;
		}
		if (e != NULL) {
			srv->st.in_flight_dups++;
			if (e->n_waiters >= NG_MAX_WAITERS || r->tp == NG_TP_UDP) {
				/* UDP: the proxy retransmits until the answer comes */
				ng_req_free(r);
				return;
			}
			r->next = e->waiters;
			e->waiters = r;
			e->n_waiters++;
			return;
		}
	}

	r->doc = ng_doc_new();
	if (r->doc == NULL) {
		ng_send_error(r, "Out of memory");
		ng_req_free(r);
		return;
	}
	/* rtpengine takes a JSON object after the cookie too, and answers in
	 * kind: its first byte tells ('d' or '{') */
	r->json_body = !r->json && body_len > 0 && body[0] == '{';
	if (r->json || r->json_body)
		rc = ng_json_decode(r->doc, body, body_len, NULL, &v, why, sizeof(why));
	else
		rc = ng_bencode_decode(r->doc, body, body_len, NULL, &v, why, sizeof(why));
	if (rc == 0 && v->type != NG_DICT) {
		snprintf(why, sizeof(why), "Request is not a dictionary");
		rc = -EINVAL;
	}
	if (rc == 0 && ng_dict_str(v, "command") == NULL) {
		snprintf(why, sizeof(why), "%s", ng_dict_get(v, "command") != NULL
							 ? "\"command\" is not a string"
							 : "No command given");
		rc = -EINVAL;
	}
	if (rc < 0) {
		srv->st.decode_errors++;
		MG_DEBUG("NG: bad request from %s: %s", r->peer_txt, why);
		ng_send_error(r, why);
		ng_req_free(r);
		return;
	}
	if (r->cookie != NULL) {
		struct ng_cache_ent *e = calloc(1, sizeof(*e));

		if (e == NULL || (e->cookie = malloc(r->cookie_len)) == NULL) {
			free(e);
			ng_send_error(r, "Out of memory");
			ng_req_free(r);
			return;
		}
		memcpy(e->cookie, r->cookie, r->cookie_len);
		e->cookie_len = r->cookie_len;
		memcpy(e->ip, ip, 17);
		e->hash = h;
		e->owner = r;
		e->hnext = srv->buckets[h % NG_CACHE_BUCKETS];
		srv->buckets[h % NG_CACHE_BUCKETS] = e;
		srv->n_cache++;
		r->ent = e;
	}
	r->next = srv->in_flight;
	if (srv->in_flight != NULL)
		srv->in_flight->prev = r;
	srv->in_flight = r;
	srv->st.requests++;
	srv->st.in_flight++;
	if (ng_timing_hook != NULL) {
		const char *cmd = ng_dict_str(v, "command");

		snprintf(r->command, sizeof(r->command), "%s", cmd != NULL ? cmd : "");
		r->t0_ns = now_ns();
	}
	srv->handler(srv->arg, r, v);
}

/* ------------------------------------------------------------------- UDP */

static int ng_on_udp(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct ng_listener *l = arg;
	struct ng_server *srv = l->srv;

	(void)magic;
	(void)w;
	/* a bounded batch: the other fds of the loop get their turn */
	for (int batch = 0; batch < 64; batch++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				 CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} cm;
		struct sockaddr_storage peer;
		struct iovec iov = { .iov_base = srv->rxbuf, .iov_len = NG_UDP_MAX + 1 };
		struct msghdr mh = {
			.msg_name = &peer,
			.msg_namelen = sizeof(peer),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cm.buf,
			.msg_controllen = sizeof(cm.buf),
		};
		ssize_t n = recvmsg(l->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
		struct ng_req *r;

		if (n < 0)
			break;
		if (!ng_source_allowed(srv, (struct sockaddr *)&peer)) {
			ng_refused(srv, (struct sockaddr *)&peer, "udp");
			continue;
		}
		r = ng_req_new(srv, NG_TP_UDP, &peer, mh.msg_namelen);
		if (r == NULL)
			continue;
		r->lis = l;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				memcpy(&r->local.v4, CMSG_DATA(c), sizeof(r->local.v4));
				r->have_local = true;
				r->local_v6 = false;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				memcpy(&r->local.v6, CMSG_DATA(c), sizeof(r->local.v6));
				r->have_local = true;
				r->local_v6 = true;
			}
		}
		if ((size_t)n > NG_UDP_MAX || (mh.msg_flags & MSG_TRUNC)) {
			const char *sp = memchr(srv->rxbuf, ' ', NG_COOKIE_MAX);

			srv->st.oversize++;
			if (sp != NULL && sp != srv->rxbuf) {
				r->cookie_len = (size_t)(sp - srv->rxbuf);
				r->cookie = strndup(srv->rxbuf, r->cookie_len);
			}
			ng_send_error(r, "Message too large for UDP");
			ng_req_free(r);
			continue;
		}
		ng_incoming(r, srv->rxbuf, (size_t)n);
	}
	return 0;
}

/* ------------------------------------------------------------------- TCP */

static void ng_conn_close(struct ng_conn *c, const char *why)
{
	struct ng_server *srv = c->srv;

	MG_DEBUG("NG: TCP connection from %s closed: %s", c->peer_txt, why);
	/* requests still with the handler complete into the cache only */
	for (struct ng_req *r = srv->in_flight; r != NULL; r = r->next)
		if (r->conn == c)
			r->conn = NULL;
	for (unsigned b = 0; b < NG_CACHE_BUCKETS && srv->n_cache > 0; b++)
		for (struct ng_cache_ent *e = srv->buckets[b]; e != NULL; e = e->hnext)
			for (struct ng_req *w = e->waiters; w != NULL; w = w->next)
				if (w->conn == c)
					w->conn = NULL;
	if (c->index > 0)
		su_root_deregister(srv->root, c->index);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n_conns--;
	ng_buf_free(&c->in);
	ng_buf_free(&c->out);
	free(c);
}

/*
 * Take every complete message off the front of c->in. Returns -1 when the
 * connection was closed (framing lost or out of memory).
 */
static int ng_conn_frames(struct ng_conn *c)
{
	struct ng_server *srv = c->srv;
	size_t off = 0;
	while (off < c->in.len) {
		const char *p = c->in.p + off;
		size_t n = c->in.len - off, used = 0;
		size_t scan = n < NG_COOKIE_MAX + 1 ? n : NG_COOKIE_MAX + 1;
		const char *sp = memchr(p, ' ', scan);
		struct ng_doc *d;
		struct ng_val *v;
		char why[256];
		int rc;

		/* a proxy may put a line break between messages: skip it */
		if (*p == '\r' || *p == '\n') {
			off++;
			continue;
		}
		if (sp == NULL && n <= NG_COOKIE_MAX)
			break;
		if (sp == NULL || sp == p) {
			srv->st.decode_errors++;
			ng_conn_fail(c, "no cookie at the start of a message");
			return -1;
		}
		d = ng_doc_new();
		if (d == NULL) {
			ng_conn_fail(c, "out of memory");
			return -1;
		}
		rc = ng_bencode_decode_prefix(d, sp + 1, n - (size_t)(sp + 1 - p), NULL, &v, &used,
					      why, sizeof(why));
		ng_doc_free(d);
		if (rc == -EAGAIN)
			break;
		struct ng_req *r = ng_req_new(srv, NG_TP_TCP, &c->peer, sizeof(c->peer));

		if (r == NULL) {
			ng_conn_fail(c, "out of memory");
			return -1;
		}
		r->conn = c;
		if (rc < 0) {
			/* answer with the cookie, then give up on the stream */
			r->cookie_len = (size_t)(sp - p);
			r->cookie = strndup(p, r->cookie_len);
			srv->st.decode_errors++;
			if (rc == -E2BIG)
				srv->st.oversize++;
			if (r->cookie != NULL)
				ng_send_error(r, why);
			ng_req_free(r);
			ng_conn_fail(c, "framing lost after a malformed message");
			return -1;
		}
		used += (size_t)(sp + 1 - p);
		off += used;
		ng_incoming(r, p, used);
		if (c->broken != NULL)
			return -1;
	}
	if (off > 0) {
		memmove(c->in.p, c->in.p + off, c->in.len - off);
		c->in.len -= off;
	}
	return 0;
}

static int ng_on_conn(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct ng_conn *c = arg;
	int events = su_wait_events(w, c->fd);
	char buf[16384];

	(void)magic;
	if ((events & SU_WAIT_OUT) && ng_conn_flush(c) < 0) {
		ng_conn_close(c, "send failed");
		return 0;
	}
	if (!(events & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR)))
		return 0;
	c->busy++;
	for (int batch = 0; batch < 16 && c->broken == NULL; batch++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			ng_conn_fail(c, n == 0 ? "closed by the peer" : "receive failed");
			break;
		}
		if (ng_buf_append(&c->in, buf, (size_t)n) < 0) {
			ng_conn_fail(c, "out of memory");
			break;
		}
		if (ng_conn_frames(c) < 0)
			break;
	}
	c->busy--;
	if (c->broken != NULL)
		ng_conn_close(c, c->broken);
	return 0;
}

static int ng_on_accept(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct ng_listener *l = arg;
	struct ng_server *srv = l->srv;

	(void)magic;
	(void)w;
	for (int batch = 0; batch < 16; batch++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ng_conn *c;

		if (fd < 0)
			break;
		if (!ng_source_allowed(srv, (struct sockaddr *)&peer)) {
			ng_refused(srv, (struct sockaddr *)&peer, "tcp");
			close(fd);
			continue;
		}
		if (srv->n_conns >= NG_TCP_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
			MG_WARN("NG: TCP connection refused: %u connections open", srv->n_conns);
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		memcpy(&c->peer, &peer, plen);
		ng_addr_txt((struct sockaddr *)&peer, c->peer_txt, sizeof(c->peer_txt));
		su_wait_create(&c->wait, fd, SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR);
		c->index = su_root_register(srv->root, &c->wait, ng_on_conn, c, 0);
		if (c->index <= 0) {
			su_wait_destroy(&c->wait);
			close(fd);
			free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns != NULL)
			srv->conns->prev = c;
		srv->conns = c;
		srv->n_conns++;
	}
	return 0;
}

/* ------------------------------------------------------------------ HTTP */

static void ng_mhd_run(struct ng_server *srv);

static void ng_on_mhd_timer(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg);

/* MHD runs on the loop's next turn (a 0 ms timer), not from here: that
 * would re-enter the server from inside ng_req_reply() (other requests'
 * callbacks, this connection's end). Its external epoll mode does not
 * wake its fd for a resumed connection by itself. */
static void ng_http_resume(struct ng_http_ctx *h)
{
	if (h->suspended) {
		h->suspended = false;
		MHD_resume_connection(h->mc);
		su_timer_set_interval(h->srv->mhd_timer, ng_on_mhd_timer, h->srv, 0);
	}
}

static enum MHD_Result ng_http_queue(struct MHD_Connection *mc, unsigned status, const char *body,
				     size_t len, const char *ctype)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
	ret = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result ng_http_access(void *cls, struct MHD_Connection *mc, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct ng_server *srv = cls;
	struct ng_http_ctx *h = *con_cls;
	const char *ctype;

	(void)version;
	if (h == NULL) {
		bool ng = strcmp(url, "/ng") == 0, plain = strcmp(url, "/ng-plain") == 0;
		static const char nf[] = "Not found: POST /ng or /ng-plain\n";
		static const char na[] = "Method not allowed: POST only\n";

		if (!ng && !plain)
			return ng_http_queue(mc, MHD_HTTP_NOT_FOUND, nf, sizeof(nf) - 1, "text/plain");
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return ng_http_queue(mc, MHD_HTTP_METHOD_NOT_ALLOWED, na, sizeof(na) - 1,
					     "text/plain");
		h = calloc(1, sizeof(*h));
		if (h == NULL)
			return MHD_NO;
		h->srv = srv;
		h->mc = mc;
		h->json = plain;
		*con_cls = h;
		return MHD_YES;
	}
	ctype = h->json ? "application/json" : "application/x-rtpengine-ng";
	if (*upload_data_size > 0) {
		/* the most a request may be, plus the cookie in front */
		if (h->body.len + *upload_data_size > 262144 + NG_COOKIE_MAX + 1)
			h->too_big = true;
		else if (ng_buf_append(&h->body, upload_data, *upload_data_size) < 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (h->drop)
		return MHD_NO;
	if (h->reply != NULL || h->status != 0)
		return ng_http_queue(mc, h->status, h->reply, h->reply_len, ctype);
	if (h->started) {
		/* woken without a reply yet (a retransmission parked): wait on */
		h->suspended = true;
		MHD_suspend_connection(mc);
		return MHD_YES;
	}
	h->started = true;

	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct sockaddr_storage peer;
	socklen_t plen;
	struct ng_req *r;

	memset(&peer, 0, sizeof(peer));
	if (ci == NULL || ci->client_addr == NULL)
		return MHD_NO;
	plen = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						       : sizeof(struct sockaddr_in);
	memcpy(&peer, ci->client_addr, plen);
	r = ng_req_new(srv, NG_TP_HTTP, &peer, plen);
	if (r == NULL)
		return MHD_NO;
	r->json = h->json;
	r->http = h;
	h->req = r;
	if (h->too_big) {
		const char *sp = h->body.p == NULL ? NULL
			: memchr(h->body.p, ' ', h->body.len < NG_COOKIE_MAX ? h->body.len : NG_COOKIE_MAX);

		srv->st.oversize++;
		if (!h->json && sp != NULL) {
			r->cookie_len = (size_t)(sp - h->body.p);
			r->cookie = strndup(h->body.p, r->cookie_len);
		}
		ng_send_error(r, "Message too large (the limit is 262144 bytes)");
		ng_req_free(r);
		if (h->reply != NULL)
			h->status = MHD_HTTP_CONTENT_TOO_LARGE;
		return ng_http_queue(mc, h->status ? h->status : MHD_HTTP_CONTENT_TOO_LARGE,
				     h->reply, h->reply_len, ctype);
	}
	if (!h->json && (h->body.len == 0 || memchr(h->body.p, ' ', h->body.len) == NULL)) {
		static const char nc[] = "NG over HTTP: the body is \"COOKIE SP bencode\"\n";

		srv->st.decode_errors++;
		ng_req_free(r);
		return ng_http_queue(mc, MHD_HTTP_BAD_REQUEST, nc, sizeof(nc) - 1, "text/plain");
	}
	/* the handler may answer right away: then there is nothing to wait for */
	ng_incoming(r, h->body.p != NULL ? h->body.p : "", h->body.len);
	if (h->reply != NULL || h->status != 0)
		return ng_http_queue(mc, h->status, h->reply, h->reply_len, ctype);
	h->suspended = true;
	MHD_suspend_connection(mc);
	return MHD_YES;
}

static void ng_http_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct ng_http_ctx *h = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (h == NULL)
		return;
	if (h->req != NULL)
		h->req->http = NULL; /* the handler's reply goes to the cache only */
	ng_buf_free(&h->body);
	free(h->reply);
	free(h);
	*con_cls = NULL;
}

static enum MHD_Result ng_http_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct ng_server *srv = cls;

	(void)addrlen;
	if (ng_source_allowed(srv, addr))
		return MHD_YES;
	ng_refused(srv, addr, "http");
	return MHD_NO;
}

static void ng_on_mhd_timer(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	ng_mhd_run(arg);
}

static void ng_mhd_run(struct ng_server *srv)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	/* a handler answering from inside an MHD callback: MHD's own wake-up
	 * (its ITC is in the epoll set) brings us back here */
	if (srv->in_mhd)
		return;
	srv->in_mhd = true;
	MHD_run(srv->mhd);
	srv->in_mhd = false;
	/* MHD's own deadlines (idle connections; 0: more to do right away) */
	if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES)
		su_timer_set_interval(srv->mhd_timer, ng_on_mhd_timer, srv,
				      ms > NG_TICK_MS ? NG_TICK_MS : (su_duration_t)ms);
	else
		su_timer_reset(srv->mhd_timer);
}

static int ng_on_mhd(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	(void)w;
	ng_mhd_run(arg);
	return 0;
}

/* --------------------------------------------------------------- set-up */

static int ng_socket(const char *addr, uint16_t port, bool tcp, struct ng_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return -EINVAL;
	}
	l->family = ss.ss_family;
	fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (!tcp && ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (!tcp && ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (tcp && listen(fd, 64) < 0))
		goto err;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto err;
	l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	l->fd = fd;
	return 0;
err:
	{
		int e = errno;

		close(fd);
		return -e;
	}
}

static int ng_http_start(struct ng_server *srv, const struct mg_settings *s)
{
	struct ng_listener tmp = { .fd = -1 };
	const union MHD_DaemonInfo *di;
	int rc = ng_socket(s->ng_http_addr, s->ng_http_port, true, &tmp);

	if (rc < 0) {
		MG_ERR("NG: cannot listen for HTTP on %s port %u (mediagate.ng.http): %s",
		       s->ng_http_addr, s->ng_http_port, strerror(-rc));
		return rc;
	}
	srv->http_port = tmp.port;
	/* external epoll mode: MHD never blocks and never starts a thread; its
	 * one epoll fd tells the su_root when to run it */
	srv->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
					    (tmp.family == AF_INET6 ? MHD_USE_IPv6 : 0),
				    0, ng_http_accept, srv, ng_http_access, srv,
				    MHD_OPTION_LISTEN_SOCKET, tmp.fd,
				    MHD_OPTION_NOTIFY_COMPLETED, ng_http_completed, srv,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)NG_HTTP_TIMEOUT_S,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)NG_TCP_MAX_CONNS,
				    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		close(tmp.fd);
		MG_ERR("NG: libmicrohttpd did not start on %s port %u", s->ng_http_addr,
		       s->ng_http_port);
		return -EIO;
	}
	di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL)
		return -EIO;
	srv->mhd_fd = di->epoll_fd;
	srv->mhd_timer = su_timer_create(su_root_task(srv->root), NG_TICK_MS);
	if (srv->mhd_timer == NULL)
		return -ENOMEM;
	su_wait_create(&srv->mhd_wait, srv->mhd_fd, SU_WAIT_IN);
	srv->mhd_index = su_root_register(srv->root, &srv->mhd_wait, ng_on_mhd, srv, 0);
	if (srv->mhd_index <= 0)
		return -EIO;
	MG_INFO("NG: listening on http %s port %u (POST /ng, /ng-plain)", s->ng_http_addr,
		srv->http_port);
	return 0;
}

struct ng_server *ng_server_create(su_root_t *root, const struct mg_settings *s,
				   ng_handler_f handler, void *arg)
{
	struct ng_server *srv;
	int rc = -EINVAL;

	if (root == NULL || s == NULL || handler == NULL || s->n_ng_listen > MG_CFG_MAX_NG_LISTEN ||
	    s->n_ng_allowed > MG_CFG_MAX_NG_ALLOWED) {
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->root = root;
	srv->handler = handler;
	srv->arg = arg;
	srv->mhd_fd = -1;
	srv->cache_ttl_ms = NG_CACHE_TTL_MS;
	srv->cache_max = NG_CACHE_MAX_ENTRIES;
	memcpy(srv->allowed, s->ng_allowed, sizeof(srv->allowed[0]) * s->n_ng_allowed);
	srv->n_allowed = s->n_ng_allowed;
	rc = -ENOMEM;
	srv->rxbuf = malloc(NG_UDP_MAX + 1);
	srv->tick = su_timer_create(su_root_task(root), NG_TICK_MS);
	if (srv->rxbuf == NULL || srv->tick == NULL)
		goto err;
	su_timer_run(srv->tick, ng_on_tick, srv);
	for (unsigned i = 0; i < s->n_ng_listen; i++) {
		const struct mg_ng_listen *cf = &s->ng_listen[i];
		struct ng_listener *l = &srv->lis[i];

		l->srv = srv;
		l->tcp = cf->tcp;
		l->fd = -1;
		rc = ng_socket(cf->addr, cf->port, cf->tcp, l);
		if (rc < 0) {
			MG_ERR("NG: cannot listen on %s port %u/%s (mediagate.ng.listen): %s",
			       cf->addr, cf->port, cf->tcp ? "tcp" : "udp", strerror(-rc));
			goto err;
		}
		srv->n_lis++;
		snprintf(l->name, sizeof(l->name), "%s %s port %u", cf->tcp ? "tcp" : "udp",
			 cf->addr, l->port);
		su_wait_create(&l->wait, l->fd, SU_WAIT_IN);
		l->index = su_root_register(root, &l->wait, cf->tcp ? ng_on_accept : ng_on_udp, l, 0);
		if (l->index <= 0) {
			rc = -EIO;
			goto err;
		}
		MG_INFO("NG: listening on %s", l->name);
	}
	if (s->ng_http_addr[0] != '\0') {
		rc = ng_http_start(srv, s);
		if (rc < 0)
			goto err;
	}
	return srv;
err:
	ng_server_destroy(srv);
	errno = -rc;
	return NULL;
}

void ng_server_destroy(struct ng_server *srv)
{
	if (srv == NULL)
		return;
	srv->destroying = true;
	/* parked HTTP connections must be resumed before MHD may stop */
	for (struct ng_req *r = srv->in_flight; r != NULL; r = r->next)
		if (r->http != NULL) {
			r->http->drop = true;
			if (r->http->suspended) {
				r->http->suspended = false;
				MHD_resume_connection(r->http->mc);
			}
		}
	for (unsigned b = 0; b < NG_CACHE_BUCKETS; b++)
		for (struct ng_cache_ent *e = srv->buckets[b]; e != NULL; e = e->hnext)
			for (struct ng_req *w = e->waiters; w != NULL; w = w->next)
				if (w->http != NULL) {
					w->http->drop = true;
					if (w->http->suspended) {
						w->http->suspended = false;
						MHD_resume_connection(w->http->mc);
					}
				}
	if (srv->mhd != NULL) {
		MHD_run(srv->mhd);
		if (srv->mhd_index > 0)
			su_root_deregister(srv->root, srv->mhd_index);
		MHD_stop_daemon(srv->mhd);
	}
	if (srv->mhd_timer != NULL)
		su_timer_destroy(srv->mhd_timer);
	while (srv->conns != NULL)
		ng_conn_close(srv->conns, "server shut down");
	for (unsigned i = 0; i < srv->n_lis; i++) {
		if (srv->lis[i].index > 0)
			su_root_deregister(srv->root, srv->lis[i].index);
		close(srv->lis[i].fd);
	}
	while (srv->in_flight != NULL) {
		struct ng_req *r = srv->in_flight;

		srv->in_flight = r->next;
		if (r->ent != NULL)
			r->ent->owner = NULL;
		r->http = NULL;
		ng_req_free(r);
	}
	for (unsigned b = 0; b < NG_CACHE_BUCKETS; b++)
		while (srv->buckets[b] != NULL) {
			struct ng_cache_ent *e = srv->buckets[b];

			for (struct ng_req *w = e->waiters; w != NULL; w = w->next)
				w->http = NULL;
			ng_cache_drop(srv, e);
		}
	if (srv->tick != NULL)
		su_timer_destroy(srv->tick);
	free(srv->rxbuf);
	free(srv);
}

void ng_server_get_stats(const struct ng_server *srv, struct ng_server_stats *out)
{
	*out = srv->st;
}

void ng_server_set_cache(struct ng_server *srv, unsigned ttl_ms, unsigned max_entries)
{
	srv->cache_ttl_ms = ttl_ms > 0 ? ttl_ms : NG_CACHE_TTL_MS;
	srv->cache_max = max_entries > 0 ? max_entries : NG_CACHE_MAX_ENTRIES;
	ng_cache_expire(srv, now_ms());
}

uint16_t ng_server_port(const struct ng_server *srv, const char *transport, unsigned idx)
{
	if (strcmp(transport, "http") == 0)
		return idx == 0 && srv->mhd != NULL ? srv->http_port : 0;
	for (unsigned i = 0; i < srv->n_lis; i++) {
		if (srv->lis[i].tcp != (strcmp(transport, "tcp") == 0))
			continue;
		if (idx-- == 0)
			return srv->lis[i].port;
	}
	return 0;
}
