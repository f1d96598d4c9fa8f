/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mg_tdm_cause.h"

/* RFC 3398 8.2.6.1, row by row for the causes a gateway meets daily. */
static void test_q850_to_sip(void **state)
{
	(void)state;
	assert_int_equal(mg_q850_to_sip(1, false), 404);
	assert_int_equal(mg_q850_to_sip(3, false), 404);
	assert_int_equal(mg_q850_to_sip(17, false), 486);
	assert_int_equal(mg_q850_to_sip(18, false), 408);
	assert_int_equal(mg_q850_to_sip(19, false), 480);
	assert_int_equal(mg_q850_to_sip(21, false), 403);
	assert_int_equal(mg_q850_to_sip(22, false), 410);
	assert_int_equal(mg_q850_to_sip(22, true), 301);
	assert_int_equal(mg_q850_to_sip(27, false), 502);
	assert_int_equal(mg_q850_to_sip(28, false), 484);
	assert_int_equal(mg_q850_to_sip(31, false), 480);
	assert_int_equal(mg_q850_to_sip(34, false), 503);
	assert_int_equal(mg_q850_to_sip(38, false), 503);
	assert_int_equal(mg_q850_to_sip(65, false), 488);
	assert_int_equal(mg_q850_to_sip(79, false), 501);
	assert_int_equal(mg_q850_to_sip(102, false), 504);
	assert_int_equal(mg_q850_to_sip(111, false), 500);
	assert_int_equal(mg_q850_to_sip(127, false), 500);
	/* normal clearing is a BYE, not a response */
	assert_int_equal(mg_q850_to_sip(16, false), 0);
	assert_int_equal(mg_q850_to_sip(-1, false), 0);
	assert_int_equal(mg_q850_to_sip(128, false), 0);
}

/* Unlisted causes take the unspecified cause of their class. */
static void test_q850_classes(void **state)
{
	(void)state;
	assert_int_equal(mg_q850_to_sip(5, false), 480);    /* class 0-31 → 31 */
	assert_int_equal(mg_q850_to_sip(44, false), 503);   /* 32-47 → 47 */
	assert_int_equal(mg_q850_to_sip(50, false), 503);   /* 48-63 → 63 */
	assert_int_equal(mg_q850_to_sip(66, false), 501);   /* 64-79 → 79 */
	assert_int_equal(mg_q850_to_sip(81, false), 500);   /* 80-95 → 95 */
	assert_int_equal(mg_q850_to_sip(100, false), 500);  /* 96-111 → 111 */
	assert_int_equal(mg_q850_to_sip(120, false), 500);  /* 112-127 → 127 */
}

/* RFC 3398 7.2.4.1. */
static void test_sip_to_q850(void **state)
{
	(void)state;
	assert_int_equal(mg_sip_to_q850(400), 41);
	assert_int_equal(mg_sip_to_q850(403), 21);
	assert_int_equal(mg_sip_to_q850(404), 1);
	assert_int_equal(mg_sip_to_q850(405), 63);
	assert_int_equal(mg_sip_to_q850(408), 102);
	assert_int_equal(mg_sip_to_q850(410), 22);
	assert_int_equal(mg_sip_to_q850(480), 18);
	assert_int_equal(mg_sip_to_q850(482), 25);
	assert_int_equal(mg_sip_to_q850(484), 28);
	assert_int_equal(mg_sip_to_q850(486), 17);
	assert_int_equal(mg_sip_to_q850(502), 38);
	assert_int_equal(mg_sip_to_q850(503), 41);
	assert_int_equal(mg_sip_to_q850(600), 17);
	assert_int_equal(mg_sip_to_q850(603), 21);
	assert_int_equal(mg_sip_to_q850(604), 1);
	/* left to the Warning header by the RFC, and unlisted: interworking */
	assert_int_equal(mg_sip_to_q850(488), 127);
	assert_int_equal(mg_sip_to_q850(499), 127);
	assert_int_equal(mg_sip_to_q850(200), 0);
	assert_int_equal(mg_sip_to_q850(180), 0);
}

/* The two directions agree where the RFC makes them inverse. */
static void test_both_ways(void **state)
{
	static const int causes[] = {1, 17, 28};

	(void)state;
	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		assert_int_equal(mg_sip_to_q850(mg_q850_to_sip(causes[i], false)), causes[i]);
	assert_string_equal(mg_q850_name(17), "user busy");
	assert_string_equal(mg_q850_name(200), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q850_to_sip),
		cmocka_unit_test(test_q850_classes),
		cmocka_unit_test(test_sip_to_q850),
		cmocka_unit_test(test_both_ways),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
