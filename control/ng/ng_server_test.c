/* SPDX-License-Identifier: BSD-3-Clause */
/* The NG transports on a real su_root with real sockets on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "mg_log.h"
#include "ng_server.h"

struct fix {
	su_root_t *root;
	struct ng_server *srv;
	struct mg_settings s;
	unsigned calls;            /* handler executions */
	char last_cmd[64];
	char last_transport[8];
	char last_peer[64];
	struct ng_req *held[4];    /* "slow" requests, answered by the test */
	unsigned n_held;
};

static void handler(void *arg, struct ng_req *req, const struct ng_val *dict)
{
	struct fix *f = arg;
	const char *cmd = ng_dict_str(dict, "command");
	struct ng_doc *d = ng_req_doc(req);
	struct ng_val *r;

	f->calls++;
	snprintf(f->last_cmd, sizeof(f->last_cmd), "%s", cmd);
	snprintf(f->last_transport, sizeof(f->last_transport), "%s", ng_req_transport(req));
	snprintf(f->last_peer, sizeof(f->last_peer), "%s", ng_req_peer(req));
	if (strcmp(cmd, "slow") == 0) {
		assert_true(f->n_held < 4);
		f->held[f->n_held++] = req;
		return;
	}
	r = ng_new_dict(d);
	if (strcmp(cmd, "ping") == 0) {
		ng_dict_add_str(d, r, "result", "pong");
	} else if (strcmp(cmd, "big") == 0) {
		/* a reply that does not fit a datagram */
		char *x = calloc(1, 70001);

		memset(x, 'x', 70000);
		ng_dict_add_str(d, r, "result", "ok");
		ng_dict_add_str(d, r, "sdp", x);
		free(x);
	} else {
		ng_dict_add_str(d, r, "result", "ok");
		ng_dict_add_int(d, r, "n", f->calls);
	}
	ng_req_reply(req, r);
}

static void answer_held(struct fix *f, unsigned i, const char *tag)
{
	struct ng_doc *d = ng_req_doc(f->held[i]);
	struct ng_val *r = ng_new_dict(d);

	ng_dict_add_str(d, r, "result", "ok");
	ng_dict_add_str(d, r, "tag", tag);
	ng_req_reply(f->held[i], r);
	f->held[i] = NULL;
}

static void cidr(struct mg_cidr *c, const char *addr, unsigned len)
{
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		c->family = AF_INET6;
	c->prefix_len = (uint8_t)len;
}

static void listen_on(struct mg_settings *s, const char *addr, bool tcp)
{
	struct mg_ng_listen *l = &s->ng_listen[s->n_ng_listen++];

	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->port = 0;
	l->tcp = tcp;
}

static int setup_common(void **state, bool allow_loopback)
{
	struct fix *f = calloc(1, sizeof(*f));

	f->root = su_root_create(NULL);
	assert_non_null(f->root);
	listen_on(&f->s, "127.0.0.1", false);
	listen_on(&f->s, "127.0.0.1", true);
	snprintf(f->s.ng_http_addr, sizeof(f->s.ng_http_addr), "127.0.0.1");
	f->s.ng_http_port = 0;
	if (allow_loopback) {
		cidr(&f->s.ng_allowed[f->s.n_ng_allowed++], "127.0.0.0", 8);
		cidr(&f->s.ng_allowed[f->s.n_ng_allowed++], "::1", 128);
	} else {
		cidr(&f->s.ng_allowed[f->s.n_ng_allowed++], "10.0.0.0", 8);
	}
	f->srv = ng_server_create(f->root, &f->s, handler, f);
	assert_non_null(f->srv);
	assert_int_not_equal(ng_server_port(f->srv, "udp", 0), 0);
	assert_int_not_equal(ng_server_port(f->srv, "tcp", 0), 0);
	assert_int_not_equal(ng_server_port(f->srv, "http", 0), 0);
	assert_int_equal(ng_server_port(f->srv, "udp", 1), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, true);
}

static int setup_refusing(void **state)
{
	return setup_common(state, false);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	ng_server_destroy(f->srv);
	su_root_destroy(f->root);
	free(f);
	return 0;
}

static struct ng_server_stats stats(struct fix *f)
{
	struct ng_server_stats st;

	ng_server_get_stats(f->srv, &st);
	return st;
}

static int client(int type, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void run_for(struct fix *f, unsigned ms)
{
	uint64_t end = mono_ms() + ms;

	while (mono_ms() < end)
		su_root_step(f->root, 5);
}

/* Run the loop until @p fd has something (or 2 s pass); then read it. */
static ssize_t recv_run(struct fix *f, int fd, char *buf, size_t n, unsigned max_ms)
{
	uint64_t end = mono_ms() + max_ms;

	while (mono_ms() < end) {
		ssize_t r = recv(fd, buf, n - 1, MSG_DONTWAIT);

		if (r >= 0) {
			buf[r] = '\0';
			return r;
		}
		su_root_step(f->root, 5);
	}
	return -1;
}

/* Send all of @p p, running the loop while the socket is full (the
 * server is in this thread: a blocking send could wait forever). */
static void send_all_run(struct fix *f, int fd, const char *p, size_t n)
{
	uint64_t end = mono_ms() + 5000;

	while (n > 0 && mono_ms() < end) {
		ssize_t r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r < 0 && errno != EAGAIN) {
			return; /* closed by the server: fine for some tests */
		}
		su_root_step(f->root, 1);
	}
}

/* Read until EOF (or 2 s of silence) into @p buf. */
static size_t recv_all_run(struct fix *f, int fd, char *buf, size_t n)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = recv_run(f, fd, buf + got, n - got, 2000);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return got;
}

static void udp_exchange(struct fix *f, int fd, const char *req, const char *want)
{
	char buf[1024];

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	assert_true(recv_run(f, fd, buf, sizeof(buf), 2000) > 0);
	assert_string_equal(buf, want);
}

static void test_udp_ping(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));
	struct ng_server_stats st;

	udp_exchange(f, fd, "c1 d7:command4:pinge", "c1 d6:result4:ponge");
	assert_string_equal(f->last_transport, "udp");
	assert_non_null(strstr(f->last_peer, "127.0.0.1:"));
	/* JSON-ish key spellings and another command */
	udp_exchange(f, fd, "c2 d7:COMMAND5:query7:call_id1:xe", "c2 d6:result2:ok1:ni2ee");
	assert_string_equal(f->last_cmd, "query");
	/* a JSON object after the cookie (rtpengine accepts it): JSON back */
	udp_exchange(f, fd, "c3 {\"command\": \"ping\"}", "c3 {\"result\":\"pong\"}");
	udp_exchange(f, fd, "c4 {\"command\": 1}",
		     "c4 {\"result\":\"error\",\"error-reason\":\"\\\"command\\\" is not a string\"}");
	st = stats(f);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.replies, 4);
	assert_int_equal(st.decode_errors, 1);
	assert_int_equal(st.in_flight, 0);
	close(fd);
}

static void test_udp_retransmission(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));
	struct ng_server_stats st;

	udp_exchange(f, fd, "r1 d7:command5:querye", "r1 d6:result2:ok1:ni1ee");
	/* the same cookie again: the same bytes, no second execution (even
	 * though the body differs: the cookie is the key, as in rtpengine) */
	udp_exchange(f, fd, "r1 d7:command5:querye", "r1 d6:result2:ok1:ni1ee");
	udp_exchange(f, fd, "r1 d7:command4:pinge", "r1 d6:result2:ok1:ni1ee");
	assert_int_equal(f->calls, 1);
	/* another cookie is another request */
	udp_exchange(f, fd, "r2 d7:command5:querye", "r2 d6:result2:ok1:ni2ee");
	st = stats(f);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.cache_replays, 2);
	assert_int_equal(st.replies, 4);
	close(fd);
}

static void test_udp_in_flight(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));
	static const char req[] = "s1 d7:command4:slowe";
	char buf[256];

	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	run_for(f, 50);
	assert_int_equal(f->n_held, 1);
	assert_int_equal(stats(f).in_flight, 1);
	/* a retransmission while the first is executing: not executed, not
	 * answered (UDP: the proxy retransmits again) */
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	assert_int_equal(recv_run(f, fd, buf, sizeof(buf), 100), -1);
	assert_int_equal(f->calls, 1);
	assert_int_equal(stats(f).in_flight_dups, 1);
	answer_held(f, 0, "first");
	assert_true(recv_run(f, fd, buf, sizeof(buf), 2000) > 0);
	assert_string_equal(buf, "s1 d6:result2:ok3:tag5:firste");
	assert_int_equal(stats(f).in_flight, 0);
	/* and after: from the cache */
	udp_exchange(f, fd, req, "s1 d6:result2:ok3:tag5:firste");
	assert_int_equal(f->calls, 1);
	close(fd);
}

static const char *err_reply(const char *cookie, const char *why);

/* The timing hook: once per executed request (not for cache replays or
 * decode errors), with its command and the time the handler held it. */
static char timed_cmd[32];
static double timed_s;
static unsigned timed_n;

static void on_timing(const char *command, double seconds)
{
	snprintf(timed_cmd, sizeof(timed_cmd), "%s", command);
	timed_s = seconds;
	timed_n++;
}

static void test_timing_hook(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));
	static const char req[] = "t2 d7:command4:slowe";
	char buf[256];

	timed_n = 0;
	ng_server_set_timing_hook(on_timing);
	udp_exchange(f, fd, "t1 d7:command4:pinge", "t1 d6:result4:ponge");
	assert_int_equal(timed_n, 1);
	assert_string_equal(timed_cmd, "ping");
	assert_true(timed_s >= 0 && timed_s < 1);
	udp_exchange(f, fd, "t1 d7:command4:pinge", "t1 d6:result4:ponge"); /* cache */
	udp_exchange(f, fd, "t3 li1ee", err_reply("t3", "Request is not a dictionary"));
	assert_int_equal(timed_n, 1);
	/* held 200 ms by the handler: about that long */
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	run_for(f, 200);
	answer_held(f, 0, "late");
	assert_true(recv_run(f, fd, buf, sizeof(buf), 2000) > 0);
	assert_int_equal(timed_n, 2);
	assert_string_equal(timed_cmd, "slow");
	assert_true(timed_s >= 0.15 && timed_s < 2);
	ng_server_set_timing_hook(NULL);
	udp_exchange(f, fd, "t4 d7:command4:pinge", "t4 d6:result4:ponge");
	assert_int_equal(timed_n, 2);
	close(fd);
}

static void test_cache_expiry_and_eviction(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));

	ng_server_set_cache(f->srv, 150, 2);
	udp_exchange(f, fd, "e1 d7:command5:querye", "e1 d6:result2:ok1:ni1ee");
	udp_exchange(f, fd, "e1 d7:command5:querye", "e1 d6:result2:ok1:ni1ee");
	assert_int_equal(f->calls, 1);
	/* after the TTL the cookie is forgotten: executed again */
	run_for(f, 200);
	udp_exchange(f, fd, "e1 d7:command5:querye", "e1 d6:result2:ok1:ni2ee");
	assert_int_equal(f->calls, 2);
	assert_int_equal(stats(f).cache_evictions, 0);
	/* two entries at most: a third pushes out the oldest */
	ng_server_set_cache(f->srv, 60000, 2);
	udp_exchange(f, fd, "e2 d7:command5:querye", "e2 d6:result2:ok1:ni3ee");
	udp_exchange(f, fd, "e3 d7:command5:querye", "e3 d6:result2:ok1:ni4ee");
	assert_int_equal(stats(f).cache_evictions, 1);
	udp_exchange(f, fd, "e3 d7:command5:querye", "e3 d6:result2:ok1:ni4ee");
	udp_exchange(f, fd, "e2 d7:command5:querye", "e2 d6:result2:ok1:ni3ee");
	udp_exchange(f, fd, "e1 d7:command5:querye", "e1 d6:result2:ok1:ni5ee");
	assert_int_equal(f->calls, 5);
	close(fd);
}

static void test_refused_source(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));
	static const char req[] = "x1 d7:command4:pinge";
	char buf[256];
	int tfd;

	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	assert_int_equal(recv_run(f, fd, buf, sizeof(buf), 200), -1);
	assert_int_equal(f->calls, 0);
	assert_int_equal(stats(f).refused_source, 2);
	/* TCP: closed at accept, nothing executed */
	tfd = client(SOCK_STREAM, ng_server_port(f->srv, "tcp", 0));
	send(tfd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	assert_true(recv_run(f, tfd, buf, sizeof(buf), 1000) <= 0);
	assert_int_equal(f->calls, 0);
	assert_int_equal(stats(f).refused_source, 3);
	assert_int_equal(stats(f).replies, 0);
	close(fd);
	close(tfd);
}

/* "COOKIE d6:result5:error12:error-reasonN:WHYe" */
static const char *err_reply(const char *cookie, const char *why)
{
	static char out[512];

	snprintf(out, sizeof(out), "%s d6:result5:error12:error-reason%zu:%se", cookie, strlen(why),
		 why);
	return out;
}

static void test_malformed(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_DGRAM, ng_server_port(f->srv, "udp", 0));
	char buf[1024];

	udp_exchange(f, fd, "m1 d7:command",
		     err_reply("m1", "bencode: truncated input, expected a value at byte 10"));
	udp_exchange(f, fd, "m2 i03e",
		     err_reply("m2", "bencode: number with a leading zero at byte 1"));
	udp_exchange(f, fd, "m3 li1ee", err_reply("m3", "Request is not a dictionary"));
	udp_exchange(f, fd, "m4 d4:call1:xe", err_reply("m4", "No command given"));
	udp_exchange(f, fd, "m5 d7:commandi1ee", err_reply("m5", "\"command\" is not a string"));
	udp_exchange(f, fd, "m6 de trailing",
		     err_reply("m6", "bencode: trailing data after the value at byte 2"));
	/* no cookie: nothing to answer with */
	assert_int_equal(send(fd, "nocookie", 8, 0), 8);
	assert_int_equal(recv_run(f, fd, buf, sizeof(buf), 100), -1);
	assert_int_equal(f->calls, 0);
	assert_int_equal(stats(f).decode_errors, 7);
	/* a reply too big for a datagram is an error, still sent */
	assert_int_equal(send(fd, "b1 d7:command3:bige", 19, 0), 19);
	assert_true(recv_run(f, fd, buf, sizeof(buf), 2000) > 0);
	assert_non_null(strstr(buf, "b1 d6:result5:error12:error-reason"));
	assert_non_null(strstr(buf, "bytes too large for UDP"));
	assert_int_equal(stats(f).oversize, 1);
	close(fd);
}

static void test_tcp(void **state)
{
	struct fix *f = *state;
	int fd = client(SOCK_STREAM, ng_server_port(f->srv, "tcp", 0));
	static const char two[] = "t1 d7:command4:pinget2 d7:command5:querye";
	char buf[1024];
	size_t got = 0;

	/* two messages in one write, no separator */
	assert_int_equal(send(fd, two, sizeof(two) - 1, 0), sizeof(two) - 1);
	while (got < 38) {
		ssize_t n = recv_run(f, fd, buf + got, sizeof(buf) - got, 2000);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_string_equal(buf, "t1 d6:result4:ponget2 d6:result2:ok1:ni2ee");
	assert_string_equal(f->last_transport, "tcp");
	/* one message in pieces */
	assert_int_equal(send(fd, "t3 d7:comm", 10, 0), 10);
	run_for(f, 30);
	assert_int_equal(f->calls, 2);
	assert_int_equal(send(fd, "and4:pinge", 10, 0), 10);
	assert_true(recv_run(f, fd, buf, sizeof(buf), 2000) > 0);
	assert_string_equal(buf, "t3 d6:result4:ponge");
	/* in flight: the retransmission on the stream waits for the answer */
	assert_int_equal(send(fd, "t4 d7:command4:slowe", 20, 0), 20);
	run_for(f, 30);
	assert_int_equal(f->n_held, 1);
	assert_int_equal(send(fd, "t4 d7:command4:slowe", 20, 0), 20);
	assert_int_equal(recv_run(f, fd, buf, sizeof(buf), 100), -1);
	answer_held(f, 0, "x");
	got = 0;
	while (got < 2 * 25) {
		ssize_t n = recv_run(f, fd, buf + got, sizeof(buf) - got, 2000);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_string_equal(buf, "t4 d6:result2:ok3:tag1:xet4 d6:result2:ok3:tag1:xe");
	assert_int_equal(f->calls, 4);
	/* malformed: the error, then the connection is closed */
	assert_int_equal(send(fd, "t5 dxe", 6, 0), 6);
	assert_true(recv_run(f, fd, buf, sizeof(buf), 2000) > 0);
	assert_non_null(strstr(buf, "t5 d6:result5:error12:error-reason"));
	assert_int_equal(recv_run(f, fd, buf, sizeof(buf), 2000), 0);
	close(fd);
}

/* A whole HTTP/1.1 exchange; returns the status, the body in @p body. */
static int http(struct fix *f, const char *method, const char *path, const char *req_body,
		char *body, size_t n)
{
	int fd = client(SOCK_STREAM, ng_server_port(f->srv, "http", 0));
	char *resp = calloc(1, 65536);
	size_t got = 0;
	int status = -1;
	char *p;
	char hdr[512];
	int hl = snprintf(hdr, sizeof(hdr),
			  "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  method, path, strlen(req_body));

	/* a refused connection may be closed under our feet: no asserts */
	send(fd, hdr, (size_t)hl, MSG_NOSIGNAL);
	send(fd, req_body, strlen(req_body), MSG_NOSIGNAL);
	for (;;) {
		ssize_t r = recv_run(f, fd, resp + got, 65536 - got, 2000);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	p = strstr(resp, "\r\n\r\n");
	snprintf(body, n, "%s", p != NULL ? p + 4 : "");
	close(fd);
	free(resp);
	return status;
}

static void test_http(void **state)
{
	struct fix *f = *state;
	char body[1024];

	assert_int_equal(http(f, "POST", "/ng", "h1 d7:command4:pinge", body, sizeof(body)), 200);
	assert_string_equal(body, "h1 d6:result4:ponge");
	assert_string_equal(f->last_transport, "http");
	/* a retransmission over a new connection: from the cache */
	assert_int_equal(http(f, "POST", "/ng", "h1 d7:command4:pinge", body, sizeof(body)), 200);
	assert_string_equal(body, "h1 d6:result4:ponge");
	assert_int_equal(f->calls, 1);
	assert_int_equal(http(f, "POST", "/ng-plain", "{\"command\": \"query\", \"call-id\": \"\\u00e9\"}",
			      body, sizeof(body)),
			 200);
	assert_string_equal(body, "{\"result\":\"ok\",\"n\":2}");
	assert_int_equal(http(f, "POST", "/ng-plain", "{\"command\": ", body, sizeof(body)), 200);
	assert_string_equal(body, "{\"result\":\"error\",\"error-reason\":\"JSON: truncated input, "
				  "expected a value at byte 12\"}");
	assert_int_equal(http(f, "POST", "/ng-plain", "[1]", body, sizeof(body)), 200);
	assert_string_equal(body, "{\"result\":\"error\",\"error-reason\":\"Request is not a "
				  "dictionary\"}");
	assert_int_equal(http(f, "GET", "/ng", "", body, sizeof(body)), 405);
	assert_int_equal(http(f, "PUT", "/ng-plain", "", body, sizeof(body)), 405);
	assert_int_equal(http(f, "POST", "/other", "", body, sizeof(body)), 404);
	assert_int_equal(http(f, "GET", "/", "", body, sizeof(body)), 404);
	assert_int_equal(http(f, "POST", "/ng", "nocookie", body, sizeof(body)), 400);
	assert_int_equal(f->calls, 2);
	assert_int_equal(stats(f).in_flight, 0);
}

static void test_http_in_flight(void **state)
{
	/* the same cookie over two connections while the first executes:
	 * executed once, both answered with the same bytes */
	struct fix *f = *state;
	int a = client(SOCK_STREAM, ng_server_port(f->srv, "http", 0));
	int b = client(SOCK_STREAM, ng_server_port(f->srv, "http", 0));
	static const char req[] = "POST /ng HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n"
				  "Connection: close\r\n\r\nw1 d7:command4:slowe";
	char buf[2048];

	send_all_run(f, a, req, sizeof(req) - 1);
	run_for(f, 50);
	assert_int_equal(f->n_held, 1);
	send_all_run(f, b, req, sizeof(req) - 1);
	run_for(f, 50);
	assert_int_equal(f->calls, 1);
	assert_int_equal(stats(f).in_flight_dups, 1);
	answer_held(f, 0, "both");
	recv_all_run(f, a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\n\r\nw1 d6:result2:ok3:tag4:bothe"));
	recv_all_run(f, b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\n\r\nw1 d6:result2:ok3:tag4:bothe"));
	assert_int_equal(stats(f).cache_replays, 1);
	assert_int_equal(f->calls, 1);
	close(a);
	close(b);
}

static void test_oversize(void **state)
{
	/* over 256 KiB: an error, then (TCP) the connection closed */
	struct fix *f = *state;
	size_t n = 300000;
	char *big = malloc(n + 512), *buf = malloc(65536);
	int fd;
	size_t hl;

	memset(big, 'x', n + 512);
	memcpy(big, "o1 d3:sdp299000:", 16);
	fd = client(SOCK_STREAM, ng_server_port(f->srv, "tcp", 0));
	send_all_run(f, fd, big, n);
	recv_all_run(f, fd, buf, 65536);
	assert_string_equal(buf, "o1 d6:result5:error12:error-reason68:bencode: string of 299000 "
				 "bytes is over the limit of 65536 at byte 6e");
	close(fd);

	hl = (size_t)snprintf(big, 512, "POST /ng HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
				       "Connection: close\r\n\r\no2 ",
			      n);
	memset(big + hl, 'x', n - 3);
	fd = client(SOCK_STREAM, ng_server_port(f->srv, "http", 0));
	send_all_run(f, fd, big, hl + n - 3);
	recv_all_run(f, fd, buf, 65536);
	assert_non_null(strstr(buf, "HTTP/1.1 413"));
	assert_non_null(strstr(buf, "\r\n\r\no2 d6:result5:error12:error-reason"));
	assert_non_null(strstr(buf, "Message too large"));
	close(fd);
	assert_int_equal(stats(f).oversize, 2);
	assert_int_equal(f->calls, 0);
	free(big);
	free(buf);
}

static void test_http_deferred(void **state)
{
	/* the handler answers later: the connection waits suspended */
	struct fix *f = *state;
	int fd = client(SOCK_STREAM, ng_server_port(f->srv, "http", 0));
	static const char req[] = "POST /ng HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n"
				  "Connection: close\r\n\r\nh9 d7:command4:slowe";
	char buf[2048];
	size_t got = 0;

	assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	run_for(f, 50);
	assert_int_equal(f->n_held, 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	answer_held(f, 0, "late");
	for (;;) {
		ssize_t r = recv_run(f, fd, buf + got, sizeof(buf) - got, 2000);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "application/x-rtpengine-ng"));
	assert_non_null(strstr(buf, "\r\n\r\nh9 d6:result2:ok3:tag4:latee"));
	close(fd);
	/* one left in flight when the server goes away: freed by destroy */
	fd = client(SOCK_STREAM, ng_server_port(f->srv, "http", 0));
	memcpy(buf, req, sizeof(req));
	memcpy(strstr(buf, "h9 "), "h8", 2);
	assert_int_equal(send(fd, buf, sizeof(req) - 1, 0), sizeof(req) - 1);
	run_for(f, 50);
	assert_int_equal(f->n_held, 2);
	assert_int_equal(stats(f).in_flight, 1);
	close(fd);
}

static void test_refused_http(void **state)
{
	struct fix *f = *state;
	char body[256];

	assert_true(http(f, "POST", "/ng", "h1 d7:command4:pinge", body, sizeof(body)) < 0);
	assert_int_equal(f->calls, 0);
	assert_int_equal(stats(f).refused_source, 1);
}

static void test_ipv6(void **state)
{
	su_root_t *root = su_root_create(NULL);
	struct mg_settings s;
	struct fix f = { .root = root };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	char buf[256];

	(void)state;
	memset(&s, 0, sizeof(s));
	listen_on(&s, "::1", false);
	cidr(&s.ng_allowed[s.n_ng_allowed++], "::1", 128);
	f.srv = ng_server_create(root, &s, handler, &f);
	if (f.srv == NULL && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
		close(fd);
		su_root_destroy(root);
		skip();
	}
	assert_non_null(f.srv);
	sin6.sin6_port = htons(ng_server_port(f.srv, "udp", 0));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	assert_int_equal(send(fd, "v6 d7:command4:pinge", 20, 0), 20);
	assert_true(recv_run(&f, fd, buf, sizeof(buf), 2000) > 0);
	assert_string_equal(buf, "v6 d6:result4:ponge");
	assert_non_null(strstr(f.last_peer, "[::1]:"));
	close(fd);
	ng_server_destroy(f.srv);
	su_root_destroy(root);
}

static void test_bad_listen(void **state)
{
	su_root_t *root = su_root_create(NULL);
	struct mg_settings s;
	struct fix f = { .root = root };

	(void)state;
	memset(&s, 0, sizeof(s));
	listen_on(&s, "192.0.2.55", false); /* not ours */
	assert_null(ng_server_create(root, &s, handler, &f));
	assert_int_equal(errno, EADDRNOTAVAIL);
	/* nothing configured: a valid server with no listener */
	memset(&s, 0, sizeof(s));
	f.srv = ng_server_create(root, &s, handler, &f);
	assert_non_null(f.srv);
	assert_int_equal(ng_server_port(f.srv, "http", 0), 0);
	ng_server_destroy(f.srv);
	su_root_destroy(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_retransmission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timing_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_expiry_and_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_source, setup_refusing, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_http, setup_refusing, teardown),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad_listen),
	};
	int rc;

	mg_log_init("ng_server_test", MG_LOG_WARN, false);
	su_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	su_deinit();
	return rc;
}
