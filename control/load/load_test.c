/* SPDX-License-Identifier: BSD-3-Clause */
/* Admission by load on a real su_root: the token bucket and the lag tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "load.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
