/* SPDX-License-Identifier: BSD-3-Clause */
/* Admission by load on a real su_root: the token bucket and the lag tick. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "load.h"
#include "load_rxq.h"

static su_root_t *root;
static struct mg_settings s;

static void run_ms(unsigned ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		su_root_step(root, 2);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < (long)ms);
}

static int setup(void **state)
{
	(void)state;
	su_init();
	root = su_root_create(NULL);
	memset(&s, 0, sizeof(s));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	load_stop();
	su_root_destroy(root);
	su_deinit();
	return 0;
}

/* maxRate 10: a second's worth at once, then one per 100 ms. */
static void test_rate(void **state)
{
	struct load_counters c;
	unsigned ok = 0;

	(void)state;
	s.max_rate = 10;
	assert_int_equal(load_start(root, &s), 0);
	for (int i = 0; i < 15; i++)
		ok += load_admit() == LOAD_OK;
	assert_int_equal(ok, 10);
	assert_int_equal(load_admit(), LOAD_RATE);
	run_ms(350); /* three tokens back, give or take one */
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += load_admit() == LOAD_OK;
	assert_true(ok >= 2 && ok <= 4);
	load_get_counters(&c);
	assert_int_equal(c.admitted, 10 + ok);
	assert_true(c.refused_rate >= 6);
	assert_string_equal(load_reason(LOAD_RATE), "Call rate limit reached");
}

/* maxLoopLagMs 50: a loop stuck for 300 ms sheds; once it runs on time
 * again for a window, it admits. */
static void test_lag(void **state)
{
	struct load_counters c;

	(void)state;
	s.max_loop_lag_ms = 50;
	assert_int_equal(load_start(root, &s), 0);
	run_ms(150);
	assert_int_equal(load_admit(), LOAD_OK);
	usleep(300 * 1000); /* a callback that hogs the loop */
	assert_int_equal(load_admit(), LOAD_LAG);
	run_ms(20); /* the late tick fires: remembered for the window */
	assert_int_equal(load_admit(), LOAD_LAG);
	run_ms(400);
	assert_int_equal(load_admit(), LOAD_OK);
	load_get_counters(&c);
	assert_int_equal(c.refused_lag, 2);
	assert_true(c.lag_max_ms >= 250);
	/* 0 = off: the same stall sheds nothing */
	s.max_loop_lag_ms = 0;
	load_reload(&s);
	usleep(300 * 1000);
	assert_int_equal(load_admit(), LOAD_OK);
}

/* A UDP socket on 127.0.0.1, port chosen by the kernel. */
static int udp_socket(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* maxLoopLagMs 100: datagrams that wait unread in the SIP socket shed new
 * calls although the loop's timers run on time (sofia-sip checks them
 * between messages), and nothing of them is consumed by looking; once they
 * are read, calls are admitted again. Another UDP socket's backlog does not
 * count. */
static void test_rxq(void **state)
{
	struct load_counters c;
	uint16_t port, other_port;
	int sip = udp_socket(&port), other = udp_socket(&other_port), tx;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char buf[64];
	unsigned n = 0;

	(void)state;
	s.max_loop_lag_ms = 100;
	s.n_ua = 2;
	s.ua[0] = (struct mg_sip_ua){ .addr = "127.0.0.1", .family = AF_INET, .port = port,
				      .transport = MG_TRANSPORT_UDP };
	s.ua[1] = (struct mg_sip_ua){ .addr = "127.0.0.1", .family = AF_INET, .port = 5,
				      .transport = MG_TRANSPORT_TLS };
	assert_int_equal(load_start(root, &s), 0);
	run_ms(150);
	assert_int_equal(load_rxq_watched(), 1);
	assert_int_equal(load_admit(), LOAD_OK);
	{
		/* the SIP socket's receive buffer was raised to 4 MiB, as far as
		 * net.core.rmem_max lets (Linux reports twice what it keeps) */
		FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
		long rmem_max = 0;
		int got = 0, other_got = 0;
		socklen_t gl = sizeof(got);

		assert_non_null(f);
		assert_int_equal(fscanf(f, "%ld", &rmem_max), 1);
		fclose(f);
		assert_int_equal(getsockopt(sip, SOL_SOCKET, SO_RCVBUF, &got, &gl), 0);
		assert_int_equal(getsockopt(other, SOL_SOCKET, SO_RCVBUF, &other_got, &gl), 0);
		assert_true(got >= 2 * (rmem_max < 4194304 ? rmem_max : 4194304));
		assert_true(other_got < got || rmem_max * 2 <= other_got);
	}
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(tx >= 0);
	/* the other socket's backlog is not SIP's */
	to.sin_port = htons(other_port);
	assert_int_equal(sendto(tx, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
	run_ms(300);
	assert_int_equal(load_admit(), LOAD_OK);
	/* three INVITEs nobody reads for 300 ms, the loop on time */
	to.sin_port = htons(port);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sendto(tx, "INVITE", 6, 0, (struct sockaddr *)&to, sizeof(to)), 6);
	run_ms(300);
	assert_int_equal(load_admit(), LOAD_LAG);
	load_get_counters(&c);
	assert_true(c.rxq_ms >= 200);
	assert_true(c.rxq_max_ms >= 200);
	assert_int_equal(c.refused_lag, 1);
	/* all three still there, whole */
	while (recv(sip, buf, sizeof(buf), MSG_DONTWAIT) == 6 && memcmp(buf, "INVITE", 6) == 0)
		n++;
	assert_int_equal(n, 3);
	run_ms(250);
	assert_int_equal(load_admit(), LOAD_OK);
	close(tx);
	close(sip);
	close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rxq, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
