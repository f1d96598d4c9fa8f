/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mg_tdm_jb.h"

#define F 160
#define TS0 123456u

static struct mg_jb jb;

/* Frame i carries byte 0x20 + i: never µ-law silence, easy to recognise. */
static void frame(uint8_t *buf, unsigned i)
{
	memset(buf, 0x20 + (int)i, F);
}

static enum mg_jb_push push(unsigned i, uint64_t arrival_us)
{
	uint8_t buf[F];

	frame(buf, i);
	return mg_jb_push(&jb, (uint16_t)(1000 + i), TS0 + i * F, buf, F, arrival_us);
}

static void expect(enum mg_jb_frame kind, int byte)
{
	uint8_t out[F];

	assert_int_equal(mg_jb_pop(&jb, out), kind);
	if (byte >= 0)
		for (int k = 0; k < F; k++)
			assert_int_equal(out[k], byte);
}

static int setup(void **state)
{
	struct mg_jb_config cfg = {.law = MG_LAW_ULAW, .frame_samples = F, .start_frames = 2};

	(void)state;
	return mg_jb_init(&jb, &cfg);
}

static void test_in_order(void **state)
{
	(void)state;
	expect(MG_JB_FRAME_SILENCE, 0xFF); /* nothing yet */
	assert_int_equal(push(0, 0), MG_JB_PUSH_OK);
	expect(MG_JB_FRAME_SILENCE, 0xFF); /* prefetch: depth 1 < target 2 */
	assert_int_equal(push(1, 20000), MG_JB_PUSH_OK);
	for (unsigned i = 2; i < 50; i++) {
		expect(MG_JB_FRAME_NORMAL, 0x20 + (int)i - 2);
		assert_int_equal(push(i, i * 20000), MG_JB_PUSH_OK);
	}
	assert_int_equal(jb.stats.played, 48);
	assert_int_equal(jb.stats.concealed, 0);
	assert_int_equal(jb.stats.late + jb.stats.reordered, 0);
	assert_int_equal(mg_jb_target(&jb), 2);
	assert_int_equal(mg_jb_jitter(&jb), 0);
}

/* 0 1 3 2 5 4: played in timestamp order, nothing concealed. */
static void test_reorder(void **state)
{
	static const unsigned order[] = {0, 1, 3, 2, 5, 4, 6, 7};

	(void)state;
	push(order[0], 0);
	push(order[1], 0);
	for (unsigned k = 2; k < 8; k++)
		assert_int_equal(push(order[k], k * 20000), MG_JB_PUSH_OK);
	for (unsigned i = 0; i < 8; i++)
		expect(MG_JB_FRAME_NORMAL, 0x20 + (int)i);
	assert_int_equal(jb.stats.reordered, 2);
	assert_int_equal(jb.stats.concealed, 0);
	assert_int_equal(jb.stats.pushed, 8);
}

/* Frame 3 never comes: its slot is a full-gain repeat of frame 2, then the
 * stream goes on; a long loss fades to silence. */
static void test_loss(void **state)
{
	uint8_t out[F];

	(void)state;
	for (unsigned i = 0; i < 8; i++)
		if (i != 3)
			push(i, i * 20000);
	for (unsigned i = 0; i < 3; i++)
		expect(MG_JB_FRAME_NORMAL, 0x20 + (int)i);
	expect(MG_JB_FRAME_CONCEALED, 0x22); /* first repeat at full gain */
	for (unsigned i = 4; i < 8; i++)
		expect(MG_JB_FRAME_NORMAL, 0x20 + (int)i);
	assert_int_equal(jb.stats.concealed, 1);

	/* buffer dry: concealment fades (gain falls), then silence */
	int prev = abs(mg_g711_ulaw_to_lin[0x27]);
	for (int k = 0; k < 5; k++) {
		assert_int_equal(mg_jb_pop(&jb, out), MG_JB_FRAME_CONCEALED);
		int mag = abs(mg_g711_ulaw_to_lin[out[0]]);
		assert_true(mag <= prev);
		prev = mag;
	}
	assert_true(prev < abs(mg_g711_ulaw_to_lin[0x27]));
	expect(MG_JB_FRAME_SILENCE, 0xFF);
	assert_int_equal(jb.stats.underrun, 1);
}

/* A packet that comes after its playout time is dropped, counted, and makes
 * the buffer deeper. */
static void test_late(void **state)
{
	(void)state;
	push(0, 0);
	push(1, 20000);
	push(3, 60000);
	expect(MG_JB_FRAME_NORMAL, 0x20);
	expect(MG_JB_FRAME_NORMAL, 0x21);
	unsigned before = mg_jb_target(&jb);
	expect(MG_JB_FRAME_CONCEALED, 0x21); /* 2 missing */
	assert_int_equal(push(2, 90000), MG_JB_PUSH_LATE);
	assert_int_equal(jb.stats.late, 1);
	assert_true(mg_jb_target(&jb) > before);
	expect(MG_JB_FRAME_NORMAL, 0x23);
	/* duplicates are refused too */
	push(4, 100000);
	assert_int_equal(push(4, 100000), MG_JB_PUSH_DUPLICATE);
	assert_int_equal(jb.stats.duplicate, 1);
}

/* Jittery arrivals raise the target; it follows 1 + 3J/frame. */
static void test_adaptive_depth(void **state)
{
	unsigned t0;

	(void)state;
	t0 = mg_jb_target(&jb);
	for (unsigned i = 0; i < 200; i++) {
		/* arrivals wander by +-30 ms around the send time */
		uint64_t jit = (i % 2) ? 30000 : 0;

		push(i, (uint64_t)i * 20000 + jit);
		mg_jb_pop(&jb, (uint8_t[F]){0});
	}
	assert_true(mg_jb_jitter(&jb) > 100);
	assert_true(mg_jb_target(&jb) > t0);
	assert_true(mg_jb_target(&jb) <= 10);
	/* a large backlog is shrunk back toward the target */
	mg_jb_reset(&jb);
	uint64_t played0 = jb.stats.played; /* counters survive a reset */
	for (unsigned i = 0; i < 50; i++)
		push(i, 0); /* a burst: 50 frames at once */
	for (unsigned i = 0; i < 50; i++)
		mg_jb_pop(&jb, (uint8_t[F]){0});
	assert_true(jb.stats.shrunk >= 1);
	assert_int_equal(jb.stats.played - played0 + jb.stats.shrunk, 50);
}

/* 40 ms packets are split into two frames; odd sizes refused; a jump far
 * beyond the window restarts the buffer. */
static void test_sizes_and_resync(void **state)
{
	uint8_t two[2 * F];

	(void)state;
	memset(two, 0x30, F);
	memset(two + F, 0x31, F);
	assert_int_equal(mg_jb_push(&jb, 1, TS0, two, 2 * F, 0), MG_JB_PUSH_OK);
	expect(MG_JB_FRAME_NORMAL, 0x30);
	expect(MG_JB_FRAME_NORMAL, 0x31);
	assert_int_equal(mg_jb_push(&jb, 2, TS0 + 2 * F, two, 100, 0), MG_JB_PUSH_BAD_SIZE);
	assert_int_equal(jb.stats.bad_size, 1);
	assert_int_equal(mg_jb_push(&jb, 3, TS0 + 1000 * F, two, 2 * F, 0), MG_JB_PUSH_OK);
	assert_int_equal(jb.stats.resync, 1);
	expect(MG_JB_FRAME_NORMAL, 0x30);
	/* a config the buffer cannot honour is refused */
	struct mg_jb_config bad = {.law = MG_LAW_ALAW, .frame_samples = 400};
	struct mg_jb other;
	assert_int_equal(mg_jb_init(&other, &bad), -EINVAL);
}

/* A talk-spurt gap does not add delay: playout restarts at the new packets. */
static void test_gap(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 4; i++)
		push(i, i * 20000);
	for (unsigned i = 0; i < 4; i++)
		expect(MG_JB_FRAME_NORMAL, 0x20 + (int)i);
	for (unsigned i = 0; i < 10; i++)
		mg_jb_pop(&jb, (uint8_t[F]){0}); /* silence period */
	push(40, 800000);
	push(41, 820000);
	push(42, 840000);
	expect(MG_JB_FRAME_NORMAL, 0x20 + 40);
	expect(MG_JB_FRAME_NORMAL, 0x20 + 41);
}

/* The RTP timestamp wraps past 2^32 in mid-stream: nothing is lost. */
static void test_timestamp_wrap(void **state)
{
	const uint32_t ts0 = 0xFFFFFFFFu - 5 * F + 1; /* frame 5 starts at 0 + 1 */
	uint8_t buf[F];

	(void)state;
	for (unsigned i = 0; i < 12; i++) {
		memset(buf, 0x20 + (int)i, F);
		assert_int_equal(mg_jb_push(&jb, (uint16_t)(65530 + i), ts0 + i * F, buf, F,
					    i * 20000),
				 MG_JB_PUSH_OK);
	}
	for (unsigned i = 0; i < 12; i++)
		expect(MG_JB_FRAME_NORMAL, 0x20 + (int)i);
	assert_int_equal(jb.stats.reordered, 0); /* sequence wrap is not reordering */
	assert_int_equal(jb.stats.resync + jb.stats.late + jb.stats.concealed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_in_order, setup),
		cmocka_unit_test_setup(test_reorder, setup),
		cmocka_unit_test_setup(test_loss, setup),
		cmocka_unit_test_setup(test_late, setup),
		cmocka_unit_test_setup(test_adaptive_depth, setup),
		cmocka_unit_test_setup(test_sizes_and_resync, setup),
		cmocka_unit_test_setup(test_gap, setup),
		cmocka_unit_test_setup(test_timestamp_wrap, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
