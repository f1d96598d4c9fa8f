/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mg_tdm_g711.h"

/* Values every G.711 implementation agrees on (ITU-T G.711 tables). */
static void test_known_values(void **state)
{
	(void)state;
	mg_g711_init();
	assert_int_equal(mg_g711_ulaw_to_lin[0xFF], 0);
	assert_int_equal(mg_g711_ulaw_to_lin[0x7F], 0);
	assert_int_equal(mg_g711_ulaw_to_lin[0x00], -32124);
	assert_int_equal(mg_g711_ulaw_to_lin[0x80], 32124);
	assert_int_equal(mg_g711_ulaw_to_lin[0xFE], 8);
	assert_int_equal(mg_g711_ulaw_to_lin[0xF0], 120);
	assert_int_equal(mg_g711_alaw_to_lin[0xD5], 8);
	assert_int_equal(mg_g711_alaw_to_lin[0x55], -8);
	assert_int_equal(mg_g711_alaw_to_lin[0xAA], 32256);
	assert_int_equal(mg_g711_alaw_to_lin[0x2A], -32256);
	assert_int_equal(mg_g711_lin_to_ulaw(0), 0xFF);
	assert_int_equal(mg_g711_lin_to_alaw(0), 0xD5);
	assert_int_equal(mg_g711_lin_to_ulaw(32767), 0x80);
	assert_int_equal(mg_g711_lin_to_ulaw(-32768), 0x00);
	assert_int_equal(mg_g711_lin_to_alaw(32767), 0xAA);
	assert_int_equal(mg_g711_lin_to_alaw(-32768), 0x2A);
	assert_int_equal(mg_g711_silence(MG_LAW_ULAW), 0xFF);
	assert_int_equal(mg_g711_silence(MG_LAW_ALAW), 0xD5);
}

/* code → linear → code is the identity, except µ-law's negative zero. */
static void test_round_trip_codes(void **state)
{
	(void)state;
	mg_g711_init();
	for (int c = 0; c < 256; c++) {
		uint8_t a = (uint8_t)c;

		assert_int_equal(mg_g711_lin_to_alaw(mg_g711_alaw_to_lin[a]), a);
		if (a != 0x7F)
			assert_int_equal(mg_g711_lin_to_ulaw(mg_g711_ulaw_to_lin[a]), a);
	}
	assert_int_equal(mg_g711_lin_to_ulaw(mg_g711_ulaw_to_lin[0x7F]), 0xFF);
}

/* linear → code → linear stays within half a quantisation step, and the
 * decoded values are monotonic in the input (no segment mix-ups). */
static void test_round_trip_linear(void **state)
{
	int16_t prev_u = -32768, prev_a = -32768;

	(void)state;
	mg_g711_init();
	for (int s = -32768; s <= 32767; s += 7) {
		int16_t u = mg_g711_ulaw_to_lin[mg_g711_lin_to_ulaw((int16_t)s)];
		int16_t a = mg_g711_alaw_to_lin[mg_g711_lin_to_alaw((int16_t)s)];
		int mag = abs(s);
		/* step of the segment the sample falls in: 2^(seg+1) for µ-law
		 * after bias, 2^(seg+4) for A-law: both bounded by mag/16 + 16 */
		int tol = mag / 16 + 16;

		if (mag <= 32124)
			assert_true(abs(u - s) <= tol);
		assert_true(abs(a - s) <= tol + 16);
		assert_true(u >= prev_u);
		assert_true(a >= prev_a);
		prev_u = u;
		prev_a = a;
	}
}

/* A→µ→A and µ→A→µ move a value by at most one code step. */
static void test_transcode(void **state)
{
	uint8_t in[256], mid[256], back[256];

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	mg_g711_transcode(MG_LAW_ALAW, MG_LAW_ULAW, mid, in, 256);
	mg_g711_transcode(MG_LAW_ULAW, MG_LAW_ALAW, back, mid, 256);
	for (int i = 0; i < 256; i++) {
		int l0 = mg_g711_alaw_to_lin[in[i]];
		int l1 = mg_g711_ulaw_to_lin[mid[i]];
		int l2 = mg_g711_alaw_to_lin[back[i]];

		assert_true(abs(l1 - l0) <= abs(l0) / 16 + 16);
		assert_true(abs(l2 - l0) <= abs(l0) / 16 + 16);
		/* sign is never flipped */
		assert_true((l0 > 0) == (l1 > 0) || l1 == 0);
	}
	/* silence maps to silence */
	assert_int_equal(mg_g711_alaw_to_ulaw[0xD5], mg_g711_lin_to_ulaw(8));
	assert_int_equal(mg_g711_ulaw_to_alaw[0xFF], 0xD5);
	/* same law: a copy, in place allowed */
	mg_g711_transcode(MG_LAW_ULAW, MG_LAW_ULAW, mid, in, 256);
	assert_memory_equal(mid, in, 256);
	/* in place conversion equals out of place */
	memcpy(mid, in, 256);
	mg_g711_transcode(MG_LAW_ULAW, MG_LAW_ALAW, mid, mid, 256);
	mg_g711_transcode(MG_LAW_ULAW, MG_LAW_ALAW, back, in, 256);
	assert_memory_equal(mid, back, 256);
}

static void test_buffers_and_names(void **state)
{
	int16_t lin[160], lin2[160];
	uint8_t code[160];
	enum mg_law law;

	(void)state;
	for (int i = 0; i < 160; i++)
		lin[i] = (int16_t)((i - 80) * 300);
	mg_g711_encode_buf(MG_LAW_ALAW, code, lin, 160);
	mg_g711_decode_buf(MG_LAW_ALAW, lin2, code, 160);
	for (int i = 0; i < 160; i++) {
		assert_int_equal(code[i], mg_g711_lin_to_alaw(lin[i]));
		assert_int_equal(lin2[i], mg_g711_decode(MG_LAW_ALAW, code[i]));
	}
	assert_int_equal(mg_law_parse("PCMU", &law), 0);
	assert_int_equal(law, MG_LAW_ULAW);
	assert_int_equal(mg_law_parse("mulaw", &law), 0);
	assert_int_equal(law, MG_LAW_ULAW);
	assert_int_equal(mg_law_parse("alaw", &law), 0);
	assert_int_equal(law, MG_LAW_ALAW);
	assert_int_equal(mg_law_parse("g729", &law), -EINVAL);
	assert_string_equal(mg_law_name(MG_LAW_ALAW), "alaw");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_round_trip_codes),
		cmocka_unit_test(test_round_trip_linear),
		cmocka_unit_test(test_transcode),
		cmocka_unit_test(test_buffers_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
