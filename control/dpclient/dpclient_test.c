/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane client against a real SOCK_SEQPACKET server played by the
 * test itself (with the real protocol code), on a real su_root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "dpclient.h"
#include "mg_log.h"

enum srv_mode { SRV_NORMAL, SRV_BAD_HELLO, SRV_NO_PONG };

static su_root_t *root;
static char dir[64];
static struct mg_settings settings;
static int listen_fd = -1, conn_fd = -1;
static enum srv_mode mode;
static unsigned pings_seen, hellos_seen;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Like the dataplane: a reply that does not fit waits, and nothing more is
 * read until it went out. */
static uint8_t srv_out[MG_PROTO_MAX_MSG];
static size_t srv_out_len;

static void srv_reply(const struct mg_proto_hdr *h, int result, const void *body)
{
	int len = mg_proto_encode(srv_out, sizeof(srv_out), h->type, MG_PROTO_F_REPLY, h->req_id,
				  result, body);

	assert_true(len > 0);
	srv_out_len = (size_t)len;
}

static bool srv_flush(void)
{
	ssize_t n;

	if (srv_out_len == 0)
		return true;
	n = send(conn_fd, srv_out, srv_out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return false;
	assert_int_equal(n, (ssize_t)srv_out_len);
	srv_out_len = 0;
	return true;
}

/* The fake dataplane: accept, answer what the mode says. */
static void srv_poll(void)
{
	union {
		struct mg_msg_hello hello;
		struct mg_msg_ping ping;
		struct mg_msg_session_id id;
		uint8_t raw[MG_PROTO_MAX_MSG];
	} body, rep;
	uint8_t buf[MG_PROTO_MAX_MSG];
	struct mg_proto_hdr h;
	ssize_t n = -1;

	if (conn_fd < 0)
		conn_fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);
	if (conn_fd < 0)
		return;
	while (srv_flush() && (n = recv(conn_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		assert_int_equal(mg_proto_decode(buf, (size_t)n, &h, &body, sizeof(body)), 0);
		memset(&rep, 0, sizeof(rep));
		switch (h.type) {
		case MG_MSG_HELLO:
			hellos_seen++;
			assert_int_equal(body.hello.role, MG_ROLE_CONTROL);
			mg_proto_hello_init(&rep.hello, MG_ROLE_DATAPLANE, "test-dataplane");
			if (mode == SRV_BAD_HELLO)
				rep.hello.sizes[4].req_size += 8;
			srv_reply(&h, 0, &rep);
			break;
		case MG_MSG_PING:
			pings_seen++;
			if (mode == SRV_NO_PONG)
				break; /* a backlog that never reaches the PING */
			((struct mg_msg_pong *)&rep)->seq = body.ping.seq;
			srv_reply(&h, 0, &rep);
			break;
		case MG_MSG_SESSION_STATS:
			((struct mg_msg_session_stats *)&rep)->id = body.id.id;
			((struct mg_msg_session_stats *)&rep)->legs[1][0].packets = 1234;
			srv_reply(&h, 0, &rep);
			break;
		case MG_MSG_SESSION_DEL:
			srv_reply(&h, -ENOENT, NULL);
			break;
		default: /* SESSION_GET: never answered */
			break;
		}
	}
	if (srv_out_len == 0 && n == 0) {
		close(conn_fd);
		conn_fd = -1;
	}
}

static void srv_drop(void)
{
	if (conn_fd >= 0)
		close(conn_fd);
	conn_fd = -1;
	srv_out_len = 0;
}

/* Run the loop and the fake server until *flag is true or @p ms passed. */
static bool run_until(const bool *flag, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (!*flag && now_ms() < end) {
		su_root_step(root, 5);
		srv_poll();
	}
	return *flag;
}

static void run_for(unsigned ms)
{
	bool never = false;

	run_until(&never, ms);
}

struct answer {
	bool done;
	int result;
	bool had_body;
	uint64_t id;
	uint64_t packets;
};

static void on_answer(void *arg, int result, const void *body)
{
	struct answer *a = arg;

	assert_false(a->done); /* exactly once */
	a->done = true;
	a->result = result;
	a->had_body = body != NULL;
	if (body != NULL) {
		a->id = ((const struct mg_msg_session_stats *)body)->id;
		a->packets = ((const struct mg_msg_session_stats *)body)->legs[1][0].packets;
	}
}

struct states {
	unsigned ups, downs;
	bool up;
};

static void on_state(void *arg, bool up)
{
	struct states *s = arg;

	if (up)
		s->ups++;
	else
		s->downs++;
	s->up = up;
}

static int setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/dmn-dpc-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&settings, 0, sizeof(settings));
	snprintf(settings.control_socket, sizeof(settings.control_socket), "%s/dp.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", settings.control_socket);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(listen_fd, 4), 0);
	root = su_root_create(NULL);
	assert_non_null(root);
	mode = SRV_NORMAL;
	pings_seen = hellos_seen = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	srv_drop();
	close(listen_fd);
	su_root_destroy(root);
	unlink(settings.control_socket);
	rmdir(dir);
	return 0;
}

static const struct dpc_params fast = {
	.ping_interval_ms = 30,
	.ping_timeout_ms = 2000,
	.backoff_min_ms = 10,
	.backoff_max_ms = 40,
};

static void test_requests(void **state)
{
	struct states st = { 0 };
	struct answer a = { 0 }, t = { 0 }, e = { 0 };
	struct mg_msg_session_id id = { .id = 42 };
	struct dpc *c;

	(void)state;
	c = dpc_create(root, &settings, &fast);
	assert_non_null(c);
	dpc_on_state(c, on_state, &st);
	assert_int_equal(dpc_request(c, MG_MSG_SESSION_STATS, &id, 100, on_answer, &a), -ENOTCONN);
	assert_true(run_until(&st.up, 2000));
	assert_int_equal(dpc_connect_count(c), 1);

	/* Answered with a body, matched by id. */
	assert_true(dpc_request(c, MG_MSG_SESSION_STATS, &id, 1000, on_answer, &a) > 0);
	/* Never answered: times out. */
	assert_true(dpc_request(c, MG_MSG_SESSION_GET, &id, 100, on_answer, &t) > 0);
	/* Refused by the dataplane. */
	assert_true(dpc_request(c, MG_MSG_SESSION_DEL, &id, 1000, on_answer, &e) > 0);
	assert_true(run_until(&a.done, 1000));
	assert_int_equal(a.result, 0);
	assert_true(a.had_body);
	assert_int_equal(a.id, 42);
	assert_int_equal(a.packets, 1234);
	assert_true(run_until(&e.done, 1000));
	assert_int_equal(e.result, -ENOENT);
	assert_false(e.had_body);
	assert_true(run_until(&t.done, 2000));
	assert_int_equal(t.result, -ETIMEDOUT);

	/* Bad bodies never leave. */
	id.id = 0;
	assert_int_equal(dpc_request(c, MG_MSG_SESSION_STATS, &id, 100, on_answer, &a), -EINVAL);

	/* PINGs keep flowing. */
	for (unsigned i = 0; i < 300 && pings_seen < 2; i++)
		run_for(10);
	assert_true(pings_seen >= 2);
	assert_true(dpc_is_up(c));
	dpc_destroy(c);
}

/* An owner freed with requests outstanding: dpc_cancel_arg() forgets exactly
 * its requests, whose callbacks then never run; others still complete. */
static void test_cancel_arg(void **state)
{
	struct states st = { 0 };
	struct answer gone = { 0 }, kept = { 0 };
	struct mg_msg_session_id id = { .id = 42 };
	struct dpc *c;

	(void)state;
	c = dpc_create(root, &settings, &fast);
	assert_non_null(c);
	dpc_on_state(c, on_state, &st);
	assert_true(run_until(&st.up, 2000));
	/* SESSION_GET is never answered by the test server: each would time out. */
	assert_true(dpc_request(c, MG_MSG_SESSION_GET, &id, 100, on_answer, &gone) > 0);
	assert_true(dpc_request(c, MG_MSG_SESSION_GET, &id, 100, on_answer, &gone) > 0);
	assert_true(dpc_request(c, MG_MSG_SESSION_GET, &id, 100, on_answer, &kept) > 0);
	assert_int_equal(dpc_cancel_arg(c, &gone), 2);
	assert_int_equal(dpc_cancel_arg(c, &gone), 0);
	assert_true(run_until(&kept.done, 2000));
	assert_int_equal(kept.result, -ETIMEDOUT);
	run_for(300);
	assert_false(gone.done);
	dpc_destroy(c);
	assert_false(gone.done);
}

static void test_reconnect(void **state)
{
	struct states st = { 0 };
	struct answer a = { 0 };
	struct mg_msg_session_id id = { .id = 7 };
	struct dpc *c;

	(void)state;
	c = dpc_create(root, &settings, &fast);
	dpc_on_state(c, on_state, &st);
	assert_true(run_until(&st.up, 2000));
	/* A request in flight when the dataplane goes away fails with -ENOTCONN. */
	assert_true(dpc_request(c, MG_MSG_SESSION_GET, &id, 5000, on_answer, &a) > 0);
	run_for(20);
	srv_drop();
	st.up = true;
	assert_true(run_until(&a.done, 1000));
	assert_int_equal(a.result, -ENOTCONN);
	assert_int_equal(st.downs, 1);
	/* ...and the client comes back by itself. */
	st.up = false;
	assert_true(run_until(&st.up, 2000));
	assert_int_equal(st.ups, 2);
	assert_int_equal(dpc_connect_count(c), 2);
	dpc_destroy(c);
}

static void test_mismatch(void **state)
{
	struct states st = { 0 };
	struct dpc *c;

	(void)state;
	mode = SRV_BAD_HELLO;
	c = dpc_create(root, &settings, &fast);
	dpc_on_state(c, on_state, &st);
	for (unsigned i = 0; i < 300 && hellos_seen < 3; i++)
		run_for(10);
	/* Refused every time, retried at the capped backoff, never up. */
	assert_true(hellos_seen >= 2);
	assert_int_equal(st.ups, 0);
	assert_false(dpc_is_up(c));
	assert_int_equal(dpc_connect_count(c), 0);
	dpc_destroy(c);
}

/*
 * A burst far beyond the socket buffers (what a re-install after a dataplane
 * restart looks like): requests queue in the client, the server pushes back,
 * and every request still gets its own answer exactly once.
 */
#define FLOOD 3000
static struct answer flood[FLOOD];

static void test_flood(void **state)
{
	struct states st = { 0 };
	struct dpc *c;
	bool all = false;

	(void)state;
	c = dpc_create(root, &settings, &fast);
	dpc_on_state(c, on_state, &st);
	assert_true(run_until(&st.up, 2000));
	memset(flood, 0, sizeof(flood));
	for (unsigned i = 0; i < FLOOD; i++) {
		struct mg_msg_session_id id = { .id = i + 1 };

		assert_true(dpc_request(c, MG_MSG_SESSION_STATS, &id, 30000, on_answer, &flood[i]) >
			    0);
	}
	for (unsigned t = 0; t < 3000 && !all; t++) {
		run_for(10);
		all = true;
		for (unsigned i = 0; i < FLOOD && all; i++)
			all = flood[i].done;
	}
	for (unsigned i = 0; i < FLOOD; i++) {
		if (!flood[i].done || flood[i].result != 0 || flood[i].id != i + 1)
			fail_msg("request %u: done %d result %d id %llu", i, flood[i].done,
				 flood[i].result, (unsigned long long)flood[i].id);
	}
	assert_int_equal(st.downs, 0);
	dpc_destroy(c);
}

/*
 * Load is not death: while replies keep arriving, PINGs left unanswered
 * do not drop the connection; once the dataplane says nothing at all for
 * ping_timeout_ms, they do.
 */
static void test_busy_not_dead(void **state)
{
	static const struct dpc_params quick = {
		.ping_interval_ms = 20,
		.ping_timeout_ms = 200,
		.backoff_min_ms = 10,
		.backoff_max_ms = 40,
	};
	struct states st = { 0 };
	struct dpc *c;
	uint64_t end;

	(void)state;
	c = dpc_create(root, &settings, &quick);
	assert_non_null(c);
	dpc_on_state(c, on_state, &st);
	assert_true(run_until(&st.up, 2000));
	mode = SRV_NO_PONG;
	/* 1 s of requests answered, PINGs never: up all along */
	end = now_ms() + 1000;
	while (now_ms() < end) {
		struct answer a = { 0 };
		struct mg_msg_session_id id = { .id = 7 };

		assert_true(dpc_request(c, MG_MSG_SESSION_STATS, &id, 1000, on_answer, &a) > 0);
		assert_true(run_until(&a.done, 1000));
		assert_int_equal(a.result, 0);
		run_for(20);
	}
	assert_int_equal(st.downs, 0);
	assert_true(dpc_is_up(c));
	assert_true(dpc_late_pongs(c) > 0);
	/* now silence: dropped within about the timeout */
	run_for(600);
	assert_true(st.downs >= 1); /* (and again after each reconnect: still no PONG) */
	dpc_destroy(c);
}

static void test_bad_socket(void **state)
{
	struct mg_settings s = { 0 };
	struct dpc *c;

	(void)state;
	assert_null(dpc_create(root, &s, NULL));
	assert_int_equal(errno, EINVAL);
	/* The longest path sun_path holds is accepted (and simply not there). */
	memset(s.control_socket, 'x', sizeof(s.control_socket) - 1);
	c = dpc_create(root, &s, NULL);
	assert_non_null(c);
	run_for(30);
	assert_false(dpc_is_up(c));
	dpc_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_arg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_not_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_socket, setup, teardown),
	};
	int rc;

	mg_log_init("dpclient_test", MG_LOG_WARN, false);
	su_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	su_deinit();
	return rc;
}
