/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

/* The tables themselves are under test (every row named), so the source is
 * compiled in here; the linker then takes nothing of mg_tdm_cause.o. */
#include "mg_tdm_cause.c"

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

/* Every cause either SIP mapping table can produce or read has a Q.850
 * name, and so has every cause the gateway's code names or libpri refuses
 * with (control/pri: 3, 28, 38, 44, 81, 82). */
static void test_names(void **state)
{
	static const int used[] = {
		MG_Q850_UNALLOCATED_NUMBER, MG_Q850_NORMAL_CLEARING, MG_Q850_USER_BUSY,
		MG_Q850_NO_USER_RESPONDING, MG_Q850_NO_ANSWER, MG_Q850_CALL_REJECTED,
		MG_Q850_NORMAL_UNSPECIFIED, MG_Q850_NO_CIRCUIT_AVAILABLE, MG_Q850_TEMPORARY_FAILURE,
		MG_Q850_RECOVERY_ON_TIMER_EXPIRY, MG_Q850_INTERWORKING, 3, 28, 38, 44, 81, 82,
	};
	static const int class_unspecified[] = {31, 47, 63, 79, 95, 111, 127};

	(void)state;
	for (size_t i = 0; i < sizeof(q850_table) / sizeof(q850_table[0]); i++) {
		assert_non_null(q850_table[i].name);
		assert_true(strlen(q850_table[i].name) > 0);
		if (i > 0) /* sorted, no cause twice */
			assert_true(q850_table[i - 1].cause < q850_table[i].cause);
	}
	for (size_t i = 0; i < sizeof(sip_table) / sizeof(sip_table[0]); i++) {
		if (strcmp(mg_q850_name(sip_table[i].cause), "unknown") == 0)
			fail_msg("SIP %d maps to cause %d, which has no name", sip_table[i].status,
				 sip_table[i].cause);
	}
	/* statuses outside the table map to 127: named too */
	for (int st = 300; st < 700; st++)
		assert_string_not_equal(mg_q850_name(mg_sip_to_q850(st)), "unknown");
	for (size_t i = 0; i < sizeof(class_unspecified) / sizeof(class_unspecified[0]); i++)
		assert_string_not_equal(mg_q850_name(class_unspecified[i]), "unknown");
	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		assert_string_not_equal(mg_q850_name(used[i]), "unknown");
	/* ITU-T Q.850 Table 1 wording */
	assert_string_equal(mg_q850_name(28), "invalid number format (address incomplete)");
	assert_string_equal(mg_q850_name(44), "requested circuit/channel not available");
	assert_string_equal(mg_q850_name(82), "identified channel does not exist");
	assert_string_equal(mg_q850_name(25), "exchange routing error");
	/* unassigned by Q.850 */
	assert_string_equal(mg_q850_name(0), "unknown");
	assert_string_equal(mg_q850_name(45), "unknown");
	assert_string_equal(mg_q850_name(126), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q850_to_sip),
		cmocka_unit_test(test_q850_classes),
		cmocka_unit_test(test_sip_to_q850),
		cmocka_unit_test(test_both_ways),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
