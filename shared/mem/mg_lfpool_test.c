/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_lfpool.h"

#include "mg_asan.h"
#if MG_ASAN
#include <sanitizer/asan_interface.h>
#endif

static int all_zero(const uint8_t *o, size_t n)
{
	for (size_t b = 0; b < n; b++)
		if (o[b])
			return 0;
	return 1;
}

/* Objects are zeroed, distinct, 8-byte multiples apart; n of them and no
 * more (the next get is counted empty); a given-back one is handed out
 * again (zeroed) before the empty count moves. */
static void test_get_put(void **state)
{
	struct mg_lfpool p;
	uint8_t *o[5];

	(void)state;
	assert_int_equal(mg_lfpool_init(&p, 0, 4), -EINVAL);
	assert_int_equal(mg_lfpool_init(&p, 8, 0), -EINVAL);
	assert_int_equal(mg_lfpool_init(&p, 156, 4), 0);
	assert_int_equal(p.size, 160);
	for (unsigned i = 0; i < 4; i++) {
		o[i] = mg_lfpool_get(&p);
		assert_non_null(o[i]);
		assert_true(all_zero(o[i], 160));
		memset(o[i], 0xa0 + i, 160);
		for (unsigned j = 0; j < i; j++)
			assert_true(o[i] >= o[j] + 160 || o[j] >= o[i] + 160);
	}
	assert_int_equal(mg_lfpool_in_use(&p), 4);
	assert_null(mg_lfpool_get(&p));
	assert_int_equal(mg_lfpool_empty(&p), 1);
	for (unsigned i = 0; i < 4; i++)
		for (unsigned b = 0; b < 160; b++)
			assert_int_equal(o[i][b], 0xa0 + i);
	/* give back two (wiped, as the contract says); they come back, last first */
	memset(o[1], 0, 160);
	memset(o[3], 0, 160);
	mg_lfpool_put(&p, o[1]);
	mg_lfpool_put(&p, o[3]);
	mg_lfpool_put(&p, NULL);
#if MG_ASAN
	/* given back: poisoned but for the link word */
	assert_false(__asan_address_is_poisoned(o[1]));
	assert_true(__asan_address_is_poisoned(o[1] + 4));
	assert_true(__asan_address_is_poisoned(o[3] + 159));
#endif
	assert_int_equal(mg_lfpool_in_use(&p), 2);
	o[4] = mg_lfpool_get(&p);
	assert_ptr_equal(o[4], o[3]);
	assert_true(all_zero(o[4], 160));
#if MG_ASAN
	assert_false(__asan_address_is_poisoned(o[4] + 159)); /* handed out: usable */
#endif
	o[4] = mg_lfpool_get(&p);
	assert_ptr_equal(o[4], o[1]);
	assert_true(all_zero(o[4], 160));
	assert_null(mg_lfpool_get(&p));
	assert_int_equal(mg_lfpool_empty(&p), 2);
	assert_int_equal(mg_lfpool_in_use(&p), 4);
	mg_lfpool_fini(&p);
}

#define STRESS_N 64
#define STRESS_ROUNDS 200000

static struct mg_lfpool sp;
static uint64_t stress_errors;

/* Take up to 3 objects, check each is zero and owned by nobody (mark it
 * with this thread's id, then check the mark after a pause), wipe, give back. */
static void *stress(void *arg)
{
	uint64_t me = (uint64_t)(uintptr_t)arg;

	for (unsigned r = 0; r < STRESS_ROUNDS; r++) {
		uint64_t *held[3];
		unsigned n = 0;

		for (unsigned k = 0; k < 1 + r % 3; k++) {
			uint64_t *o = mg_lfpool_get(&sp);

			if (!o)
				break;
			if (__atomic_exchange_n(&o[1], me, __ATOMIC_RELAXED) != 0 || o[2] != 0)
				__atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
			o[2] = me;
			held[n++] = o;
		}
		for (unsigned k = 0; k < n; k++) {
			if (held[k][1] != me || held[k][2] != me)
				__atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
			held[k][2] = 0;
			__atomic_store_n(&held[k][1], 0, __ATOMIC_RELAXED);
			mg_lfpool_put(&sp, held[k]);
		}
	}
	return NULL;
}

/* Four threads take and give back objects of a small pool at once: no
 * object is ever held by two of them, and all are back at the end. */
static void test_threads(void **state)
{
	pthread_t t[4];

	(void)state;
	assert_int_equal(mg_lfpool_init(&sp, 24, STRESS_N), 0);
	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, stress, (void *)(i + 1)), 0);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(stress_errors, 0);
	assert_int_equal(mg_lfpool_in_use(&sp), 0);
	/* every object is reachable again: n gets succeed, the next does not */
	for (unsigned i = 0; i < STRESS_N; i++)
		assert_non_null(mg_lfpool_get(&sp));
	assert_null(mg_lfpool_get(&sp));
	mg_lfpool_fini(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_put),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
