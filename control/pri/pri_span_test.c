/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two libpri instances, NT and TE, joined by their D-channels: a socketpair
 * HDLC pair, or, when MG_TDM_EMU_DIR is set (suite tdm, through
 * tdm-emu-run), the FUSE DAHDI emulator's D-channels 16 (span 1) and 47
 * (span 2) through the real dahdi backend. Q.921 comes up, then a call goes
 * SETUP → PROCEEDING → ALERTING → CONNECT → DISCONNECT → RELEASE, and a
 * busy call is refused with cause 17, which maps to SIP 486.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libpri.h>

#include "mg_log.h"
#include "mg_tdm_cause.h"
#include "pri_span.h"

#define MAX_EVENTS 64

struct side {
	const char *name;
	struct pri_span *span;
	struct pri_span_event ev[MAX_EVENTS];
	char called[MAX_EVENTS][32], calling[MAX_EVENTS][32];
	unsigned n;
	/* what this side does on an incoming SETUP: 0 answer, else reject cause */
	int reject_cause;
};

static struct side nt = {.name = "NT"}, te = {.name = "TE"};

static void on_event(void *arg, struct pri_span *span, const struct pri_span_event *ev)
{
	struct side *s = arg;

	if (s->n == MAX_EVENTS)
		return;
	s->ev[s->n] = *ev;
	if (ev->called)
		snprintf(s->called[s->n], 32, "%s", ev->called);
	if (ev->calling)
		snprintf(s->calling[s->n], 32, "%s", ev->calling);
	s->n++;
	switch (ev->kind) {
	case PRI_SPAN_EV_SETUP:
		if (s->reject_cause) {
			pri_span_reject(span, ev->call, ev->channel, s->reject_cause);
			break;
		}
		pri_span_proceeding(span, ev->call, ev->channel);
		pri_span_alerting(span, ev->call, ev->channel, true);
		pri_span_answer(span, ev->call, ev->channel);
		break;
	case PRI_SPAN_EV_DISCONNECT:
		pri_span_hangup(span, ev->call, ev->cause);
		break;
	default:
		break;
	}
}

/* A SETUP on an exclusive channel, no name, presentation allowed. */
static struct q931_call *dial_exclusive(struct pri_span *s, unsigned channel, const char *called,
					const char *calling, enum mg_law law)
{
	struct pri_span_dial d = {
		.channel = channel, .called = called, .calling = calling, .law = law,
	};

	return pri_span_dial(s, &d);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Run both spans until @p done says so or 10 s pass. */
static bool run_until(bool (*done)(void))
{
	uint64_t t0 = now_ms();

	while (!done()) {
		struct pollfd p[2] = {
			{.fd = pri_span_fd(nt.span), .events = POLLIN | POLLPRI},
			{.fd = pri_span_fd(te.span), .events = POLLIN | POLLPRI},
		};
		int t1 = pri_span_next_timeout_ms(nt.span), t2 = pri_span_next_timeout_ms(te.span);
		int to = 50;

		if (t1 >= 0 && t1 < to)
			to = t1;
		if (t2 >= 0 && t2 < to)
			to = t2;
		if (now_ms() - t0 > 10000)
			return false;
		poll(p, 2, to);
		if (p[0].revents)
			pri_span_on_readable(nt.span);
		if (p[1].revents)
			pri_span_on_readable(te.span);
		pri_span_run_timers(nt.span);
		pri_span_run_timers(te.span);
	}
	return true;
}

static int has(const struct side *s, enum pri_span_event_kind k)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->ev[i].kind == k)
			return (int)i;
	return -1;
}

static bool both_up(void)
{
	return pri_span_is_up(nt.span) && pri_span_is_up(te.span);
}

static bool te_connected(void)
{
	return has(&te, PRI_SPAN_EV_CONNECT) >= 0;
}

static bool both_released(void)
{
	return has(&te, PRI_SPAN_EV_RELEASED) >= 0 && has(&nt, PRI_SPAN_EV_RELEASED) >= 0;
}

static void open_pair(struct mg_tdm_chan **a, struct mg_tdm_chan **b)
{
	struct mg_tdm_open_opts o = {.hdlc = true};
	const char *dir = getenv("MG_TDM_EMU_DIR");

	if (dir) {
		assert_int_equal(mg_tdm_dahdi_open(dir, 16, &o, a), 0);
		assert_int_equal(mg_tdm_dahdi_open(dir, 47, &o, b), 0);
	} else {
		assert_int_equal(mg_tdm_socketpair_open(16, &o, a, b), 0);
	}
}

static int setup(void **state)
{
	struct mg_tdm_chan *a, *b;
	int sw = pri_span_switch_parse("euroisdn_e1");

	(void)state;
	open_pair(&a, &b);
	nt.n = te.n = 0;
	nt.span = pri_span_new(a, MG_TDM_ROLE_NT, sw, on_event, &nt);
	te.span = pri_span_new(b, MG_TDM_ROLE_TE, sw, on_event, &te);
	if (!nt.span || !te.span)
		return -1;
	pri_span_set_debug(nt.span, getenv("MG_PRI_DEBUG") != NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pri_span_free(nt.span);
	pri_span_free(te.span);
	nt.span = te.span = NULL;
	return 0;
}

static void test_call(void **state)
{
	struct q931_call *c;
	int i;

	(void)state;
	assert_true(run_until(both_up));
	assert_true(has(&nt, PRI_SPAN_EV_UP) >= 0);
	assert_true(has(&te, PRI_SPAN_EV_UP) >= 0);

	/* TE places a call on timeslot 5 */
	c = dial_exclusive(te.span, 5, "5551000", "5552000", MG_LAW_ALAW);
	assert_non_null(c);
	assert_true(run_until(te_connected));
	i = has(&nt, PRI_SPAN_EV_SETUP);
	assert_true(i >= 0);
	assert_int_equal(nt.ev[i].channel, 5);
	assert_true(nt.ev[i].channel_exclusive);
	assert_string_equal(nt.called[i], "5551000");
	assert_string_equal(nt.calling[i], "5552000");
	assert_false(nt.ev[i].calling_restricted);
	/* the TE saw the NT's answers in protocol order */
	int p = has(&te, PRI_SPAN_EV_PROCEEDING), a = has(&te, PRI_SPAN_EV_ALERTING),
	    k = has(&te, PRI_SPAN_EV_CONNECT);
	assert_true(p >= 0 && a > p && k > a);
	assert_int_equal(te.ev[k].channel, 5);

	/* TE hangs up: DISCONNECT → (NT) RELEASE → RELEASE COMPLETE */
	assert_int_equal(pri_span_hangup(te.span, c, PRI_CAUSE_NORMAL_CLEARING), 0);
	assert_true(run_until(both_released));
	i = has(&nt, PRI_SPAN_EV_DISCONNECT);
	assert_true(i >= 0);
	assert_int_equal(nt.ev[i].cause, 16);
	assert_int_equal(mg_q850_to_sip(nt.ev[i].cause, false), 0); /* a BYE */
}

static void test_busy(void **state)
{
	struct q931_call *c;
	int i;

	(void)state;
	assert_true(run_until(both_up));
	nt.reject_cause = PRI_CAUSE_USER_BUSY;
	c = dial_exclusive(te.span, 7, "5551001", NULL, MG_LAW_ULAW);
	assert_non_null(c);
	assert_true(run_until(both_released));
	i = has(&te, PRI_SPAN_EV_DISCONNECT);
	assert_true(i >= 0);
	assert_int_equal(te.ev[i].cause, 17);
	assert_int_equal(mg_q850_to_sip(te.ev[i].cause, false), 486);
	assert_true(has(&te, PRI_SPAN_EV_CONNECT) < 0);
	nt.reject_cause = 0;
	/* calls need an established link and sane arguments */
	assert_null(dial_exclusive(te.span, 0, "1", NULL, MG_LAW_ULAW));
	assert_int_equal(errno, EINVAL);
	assert_null(dial_exclusive(te.span, 3, "", NULL, MG_LAW_ULAW));
	assert_int_equal(pri_span_hangup(te.span, c, 0), -EINVAL);
	assert_int_equal(pri_span_switch_parse("dms100"), PRI_SWITCH_DMS100);
	assert_int_equal(pri_span_switch_parse("euroisdn"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	};

	mg_log_init("pri_span_test", getenv("MG_PRI_DEBUG") ? MG_LOG_DEBUG : MG_LOG_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
