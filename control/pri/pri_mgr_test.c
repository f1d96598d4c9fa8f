/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two PRI managers on one su_root, joined by a socketpair HDLC pair: A is
 * the network side of DAHDI span 1, B the user side of span 2, each with
 * three B-channels from a system.conf text (groups span1 / span2, NT hunting
 * descending, TE ascending). A small "engine" on each side answers, refuses
 * or routes incoming calls through a real routing table. Checked: the whole
 * SETUP → PROCEEDING → ALERTING → PROGRESS → CONNECT → DISCONNECT → RELEASE
 * exchange with numbers, name, presentation, channel and causes; busy (17)
 * and unallocated (1, no route) refusals; hunting order and cause 34 when
 * every B-channel is busy, locally and in a glare; 82 for a channel outside
 * the group; bad requests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpri.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "mg_config.h"
#include "mg_log.h"
#include "mg_tdm_cause.h"
#include "mg_tdm_chan.h"
#include "mg_tdm_sysconf.h"
#include "pri_mgr.h"
#include "pri_span.h"
#include "route.h"

static const char sysconf_text[] = "span=1,1,0,ccs,hdb3,crc4\n"
				   "span=2,0,0,ccs,hdb3,crc4\n"
				   "bchan=1-3\n"
				   "dchan=16\n"
				   "bchan=32-34\n"
				   "dchan=47\n"
				   "alaw=1-62\n";

static const char rules_text[] =
	"<routing_rules>\n"
	" <rule name=\"to_sip\" outbound_interface=\"sip\">\n"
	"  <condition param=\"pstn.in.dnis\" expr=\"(5551.*)\"/>\n"
	"  <condition param=\"pstn.in.channelName\" expr=\"span1/.*\"/>\n"
	"  <out_leg><param name=\"sip.out.requestUri\" expr=\"sip:%0@192.0.2.10\"/></out_leg>\n"
	" </rule>\n"
	" <rule name=\"to_pstn\" outbound_interface=\"pstn\">\n"
	"  <condition param=\"sip.in.requestUri\" expr=\"sip:(\\d+)@.*\"/>\n"
	"  <out_leg>\n"
	"   <param name=\"pstn.out.group\" expr=\"span9,span2\"/>\n"
	"   <param name=\"pstn.out.dnis\" expr=\"%0\"/>\n"
	"   <param name=\"pstn.out.ani\" expr=\"+15145550000\"/>\n"
	"   <param name=\"pstn.out.callerName\" expr=\"Gateway\"/>\n"
	"   <param name=\"pstn.out.presentation\" expr=\"restricted\"/>\n"
	"  </out_leg>\n"
	" </rule>\n"
	"</routing_rules>\n";

enum ev_kind { EV_INCOMING, EV_PROCEEDING, EV_ALERTING, EV_PROGRESS, EV_ANSWERED, EV_ENDED };

struct ev {
	enum ev_kind kind;
	struct pri_call *call; /* identity only: may be freed */
	int cause;
	bool inband;
	struct pri_call_info info; /* copied at the event */
};

/* What a side's engine does with an incoming call. */
enum policy { P_ANSWER, P_RING, P_REFUSE, P_ROUTE, P_CHURN };

#define MAX_EV 64

struct side {
	const char *name;
	struct pri_mgr *m;
	enum policy policy;
	int refuse_cause;
	struct ev ev[MAX_EV];
	unsigned n;
	struct pri_call *last_in; /* last incoming call still attached */
	bool up;
	/* P_CHURN: every call this side's engine holds, and what it has seen */
	struct pri_call *live[64];
	unsigned n_live, n_incoming, n_ended, n_answered;
};

static su_root_t *root;
static struct side A = {.name = "A"}, B = {.name = "B"};
static struct route_table *rules;
static struct mg_tdm_chan *b_dchan; /* B's end of the D-channel pair, to cut the line */
static char rules_path[64];

static void live_add(struct side *s, struct pri_call *c)
{
	assert_true(s->n_live < 64);
	s->live[s->n_live++] = c;
}

static void live_del(struct side *s, struct pri_call *c)
{
	for (unsigned i = 0; i < s->n_live; i++) {
		if (s->live[i] == c) {
			s->live[i] = s->live[--s->n_live];
			return;
		}
	}
	fail_msg("%s: call %p is not live", s->name, (void *)c);
}

/* Hang up every call still live on both sides (16); a hang-up of ours gets
 * no callback, so each is forgotten first. */
static void hang_up_all(void)
{
	for (int i = 0; i < 2; i++) {
		struct side *s = i ? &B : &A;

		while (s->n_live) {
			struct pri_call *c = s->live[0];

			live_del(s, c);
			assert_int_equal(pri_call_hangup(c, 16), 0);
		}
	}
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 16) % n;
}

static void record(struct side *s, enum ev_kind k, struct pri_call *c, int cause, bool inband)
{
	if (s->n == MAX_EV)
		return;
	s->ev[s->n] = (struct ev){.kind = k, .call = c, .cause = cause, .inband = inband};
	s->ev[s->n].info = *pri_call_info(c);
	s->n++;
}

static void ev_incoming(void *arg, struct pri_call *c)
{
	struct side *s = arg;
	struct route_kv kv[8];
	struct route_result r;
	struct route_env env = {.host_ip = "192.0.2.1", .sip_port_udp = 5060};
	size_t n;

	record(s, EV_INCOMING, c, 0, false);
	switch (s->policy) {
	case P_ANSWER:
		assert_int_equal(pri_call_alerting(c, true), 0);
		assert_int_equal(pri_call_progress(c), 0);
		assert_int_equal(pri_call_answer(c), 0);
		assert_int_equal(pri_call_answer(c), -EALREADY);
		s->last_in = c;
		break;
	case P_RING:
		assert_int_equal(pri_call_alerting(c, false), 0);
		s->last_in = c;
		break;
	case P_REFUSE:
		assert_int_equal(pri_call_hangup(c, s->refuse_cause), 0);
		break;
	case P_CHURN:
		s->n_incoming++;
		if (rnd(8) == 0) { /* some are refused as busy */
			assert_int_equal(pri_call_hangup(c, PRI_CAUSE_USER_BUSY), 0);
			break;
		}
		assert_int_equal(pri_call_alerting(c, false), 0);
		if (rnd(4) != 0) /* some keep ringing until hung up */
			assert_int_equal(pri_call_answer(c), 0);
		live_add(s, c);
		break;
	case P_ROUTE:
		n = pri_call_route_params(c, kv, 8);
		if (route_match(rules, kv, n, &env, &r) == -ENOENT) {
			assert_int_equal(pri_call_hangup(c, ROUTE_NO_ROUTE_Q850_CAUSE), 0);
			break;
		}
		route_result_clear(&r);
		assert_int_equal(pri_call_answer(c), 0);
		s->last_in = c;
		break;
	}
}

static void ev_proceeding(void *arg, struct pri_call *c)
{
	record(arg, EV_PROCEEDING, c, 0, false);
}

static void ev_alerting(void *arg, struct pri_call *c, bool inband)
{
	record(arg, EV_ALERTING, c, 0, inband);
}

static void ev_progress(void *arg, struct pri_call *c, bool inband)
{
	record(arg, EV_PROGRESS, c, 0, inband);
}

static void ev_answered(void *arg, struct pri_call *c)
{
	((struct side *)arg)->n_answered++;
	record(arg, EV_ANSWERED, c, 0, false);
}

static void ev_ended(void *arg, struct pri_call *c, int cause)
{
	struct side *s = arg;

	if (s->last_in == c)
		s->last_in = NULL;
	if (s->policy == P_CHURN) {
		live_del(s, c);
		s->n_ended++;
	}
	record(s, EV_ENDED, c, cause, false);
}

static void ev_span(void *arg, unsigned span, bool up)
{
	struct side *s = arg;

	(void)span;
	s->up = up;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Step the loop until @done or 10 s. */
static bool run_until(bool (*done)(void))
{
	uint64_t t0 = now_ms();

	while (!done()) {
		if (now_ms() - t0 > 10000)
			return false;
		su_root_step(root, 20);
	}
	return true;
}

static int find(const struct side *s, enum ev_kind k, const struct pri_call *c, unsigned from)
{
	for (unsigned i = from; i < s->n; i++)
		if (s->ev[i].kind == k && (!c || s->ev[i].call == c))
			return (int)i;
	return -1;
}

static bool both_up(void)
{
	return pri_mgr_span_up(A.m, 1) && pri_mgr_span_up(B.m, 2);
}

static bool no_calls(void)
{
	return pri_mgr_calls(A.m) == 0 && pri_mgr_calls(B.m) == 0;
}

static struct pri_call *b_call;

static bool b_call_answered(void)
{
	return find(&B, EV_ANSWERED, b_call, 0) >= 0;
}

static bool b_call_ended(void)
{
	return find(&B, EV_ENDED, b_call, 0) >= 0 && no_calls();
}

static bool b_call_ended_only(void)
{
	return find(&B, EV_ENDED, b_call, 0) >= 0;
}

/* Step until both groups show these busy maps (channels are freed only
 * when libpri has finished the release). */
static bool wait_busy(uint32_t a, uint32_t b)
{
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 10000; su_root_step(root, 20))
		if (pri_mgr_group(A.m, "span1")->busy == a && pri_mgr_group(B.m, "span2")->busy == b)
			return true;
	return false;
}

static struct pri_mgr_ops ops_for(struct side *s)
{
	return (struct pri_mgr_ops){
		.incoming = ev_incoming,
		.proceeding = ev_proceeding,
		.alerting = ev_alerting,
		.progress = ev_progress,
		.answered = ev_answered,
		.ended = ev_ended,
		.span_state = ev_span,
		.arg = s,
	};
}

/* A's group loses its last channel when @a_short (channel 82 case). */
static int setup_pair(bool a_short, const char *switch_name)
{
	struct mg_tdm_sysconf *sc = calloc(1, sizeof(*sc));
	enum mg_tdm_role roles[MG_TDM_MAX_SPANS + 1] = {[1] = MG_TDM_ROLE_NT, [2] = MG_TDM_ROLE_TE};
	struct mg_tdm_group g[4];
	struct mg_tdm_open_opts o = {.hdlc = true};
	struct mg_tdm_chan *da, *db;
	const struct pri_mgr_ops oa = ops_for(&A), ob = ops_for(&B);
	int sw = pri_span_switch_parse(switch_name);

	if (sw < 0 || !sc || mg_tdm_sysconf_parse(sysconf_text, "test.conf", sc, NULL) < 0 ||
	    mg_tdm_groups_build(sc, roles, g, 4) != 2)
		return -1;
	free(sc);
	if (a_short)
		g[0].n_chans--;
	memset(A.ev, 0, sizeof(A.ev));
	memset(B.ev, 0, sizeof(B.ev));
	A.n = B.n = 0;
	A.policy = B.policy = P_ANSWER;
	A.last_in = B.last_in = NULL;
	A.m = pri_mgr_new(root, &oa);
	B.m = pri_mgr_new(root, &ob);
	if (!A.m || !B.m || mg_tdm_socketpair_open(16, &o, &da, &db) < 0)
		return -1;
	b_dchan = db;
	if (pri_mgr_add_span(A.m, 1, true, sw, da, &g[0], MG_LAW_ALAW, 1) < 0 ||
	    pri_mgr_add_span(B.m, 2, false, sw, db, &g[1], MG_LAW_ALAW, 32) < 0)
		return -1;
	if (getenv("MG_PRI_DEBUG")) {
		pri_mgr_set_debug(A.m, true);
		pri_mgr_set_debug(B.m, true);
	}
	return run_until(both_up) ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	return setup_pair(false, "euroisdn_e1");
}

static int setup_short(void **state)
{
	(void)state;
	return setup_pair(true, "euroisdn_e1");
}

static int teardown(void **state)
{
	(void)state;
	pri_mgr_free(A.m);
	pri_mgr_free(B.m);
	A.m = B.m = NULL;
	return 0;
}

static void test_call_flow(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000", .ani = "5552000",
				   .caller_name = "Alice"};
	const struct mg_tdm_group *ga = pri_mgr_group(A.m, "span1"), *gb = pri_mgr_group(B.m, "span2");
	struct route_kv kv[8];
	int i, p, al, pg, an, e;

	(void)state;
	assert_true(A.up && B.up);
	assert_int_equal(pri_call_place(B.m, &req, &B, &b_call), 0);
	assert_ptr_equal(pri_call_user(b_call), &B);
	assert_int_equal(pri_call_info(b_call)->timeslot, 1); /* TE hunts ascending */
	assert_int_equal(pri_call_info(b_call)->channo, 32);
	assert_true(run_until(b_call_answered));

	/* the network side saw the SETUP as sent */
	i = find(&A, EV_INCOMING, NULL, 0);
	assert_true(i >= 0);
	assert_string_equal(A.ev[i].info.dnis, "5551000");
	assert_string_equal(A.ev[i].info.ani, "5552000");
	assert_int_equal(A.ev[i].info.presentation, PRI_PRESENTATION_ALLOWED);
	assert_int_equal(A.ev[i].info.timeslot, 1);
	assert_int_equal(A.ev[i].info.channo, 1);
	assert_string_equal(A.ev[i].info.channel_name, "span1/1");
	assert_string_equal(A.ev[i].info.group, "span1");
	assert_false(A.ev[i].info.outgoing);
	assert_int_equal(A.ev[i].info.law, MG_LAW_ALAW);
	assert_int_equal(pri_call_route_params(A.ev[i].call, kv, 8), 5);
	assert_string_equal(kv[0].name, "pstn.in.dnis");
	assert_string_equal(kv[0].value, "5551000");
	assert_string_equal(kv[1].name, "pstn.in.ani");
	assert_string_equal(kv[1].value, "5552000");
	assert_string_equal(kv[2].name, "pstn.in.callerName");
	assert_string_equal(kv[2].value, "Alice");
	assert_string_equal(kv[3].name, "pstn.in.channelName");
	assert_string_equal(kv[3].value, "span1/1");
	assert_string_equal(kv[4].value, "allowed");
	assert_int_equal(pri_call_route_params(A.ev[i].call, kv, 2), 2);
	/* both ends hold the timeslot */
	assert_int_equal(ga->busy, 1u);
	assert_int_equal(gb->busy, 1u);

	/* the user side saw the answers in protocol order */
	p = find(&B, EV_PROCEEDING, b_call, 0);
	al = find(&B, EV_ALERTING, b_call, 0);
	pg = find(&B, EV_PROGRESS, b_call, 0);
	an = find(&B, EV_ANSWERED, b_call, 0);
	assert_true(p >= 0 && al > p && pg > al && an > pg);
	assert_true(B.ev[al].inband);
	assert_true(B.ev[pg].inband);
	assert_int_equal(find(&B, EV_ENDED, NULL, 0), -1);

	/* outgoing calls take no incoming-side actions */
	assert_int_equal(pri_call_answer(b_call), -EINVAL);
	assert_int_equal(pri_call_alerting(b_call, false), -EINVAL);

	/* the user side hangs up: the network side ends with cause 16, a BYE */
	assert_int_equal(pri_call_hangup(b_call, PRI_CAUSE_NORMAL_CLEARING), 0);
	assert_true(run_until(no_calls));
	e = find(&A, EV_ENDED, A.ev[i].call, 0);
	assert_true(e >= 0);
	assert_int_equal(A.ev[e].cause, 16);
	assert_int_equal(mg_q850_to_sip(A.ev[e].cause, false), 0);
	assert_int_equal(find(&B, EV_ENDED, NULL, 0), -1); /* no callback after our own hang-up */
	assert_int_equal(ga->busy, 0u);
	assert_int_equal(gb->busy, 0u);
}

static bool a_has_call(void)
{
	return A.last_in != NULL && find(&B, EV_ALERTING, b_call, 0) >= 0;
}

static void test_network_hangs_up(void **state)
{
	struct pri_call_req req = {.dnis = "+442071234567", .ani = "+15145550000",
				   .restricted = true};
	int i, e;

	(void)state;
	A.policy = P_RING;
	/* no group named: every group of the manager is tried */
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(a_has_call));
	i = find(&A, EV_INCOMING, NULL, 0);
	/* a '+' travels as type of number "international" and comes back as '+' */
	assert_string_equal(A.ev[i].info.dnis, "+442071234567");
	assert_string_equal(A.ev[i].info.ani, "+15145550000");
	assert_int_equal(A.ev[i].info.presentation, PRI_PRESENTATION_RESTRICTED);
	assert_string_equal(A.ev[i].info.caller_name, "");
	assert_false(B.ev[find(&B, EV_ALERTING, b_call, 0)].inband);
	assert_int_equal(find(&B, EV_ANSWERED, NULL, 0), -1);

	/* the network side gives up before answering: no answer (19) */
	assert_int_equal(pri_call_hangup(A.last_in, PRI_CAUSE_NO_ANSWER), 0);
	assert_true(run_until(b_call_ended));
	e = find(&B, EV_ENDED, b_call, 0);
	assert_int_equal(B.ev[e].cause, 19);
	assert_int_equal(mg_q850_to_sip(19, false), 480);
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(B.m, "span2")->busy, 0u);
}

static void test_busy_and_unallocated(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551001"};
	struct pri_mgr_counters cnt;
	int e;

	(void)state;
	A.policy = P_REFUSE;
	A.refuse_cause = PRI_CAUSE_USER_BUSY;
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_ended));
	e = find(&B, EV_ENDED, b_call, 0);
	assert_int_equal(B.ev[e].cause, 17);
	assert_int_equal(mg_q850_to_sip(B.ev[e].cause, false), 486);
	assert_int_equal(find(&B, EV_ANSWERED, b_call, 0), -1);
	assert_int_equal(find(&A, EV_ENDED, NULL, 0), -1);

	/* routed by the rules: 5551... goes through, anything else has no route → 1
	 * (events forgotten: the next call's record may reuse the last one's address) */
	A.n = B.n = 0;
	A.policy = P_ROUTE;
	req.dnis = "6660000";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_ended));
	e = find(&B, EV_ENDED, b_call, 0);
	assert_int_equal(B.ev[e].cause, 1);
	assert_int_equal(mg_q850_to_sip(B.ev[e].cause, false), 404);

	req.dnis = "5551234";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_answered));
	assert_int_equal(pri_call_hangup(b_call, 16), 0);
	assert_true(run_until(no_calls));

	pri_mgr_get_counters(A.m, &cnt);
	assert_int_equal(cnt.in_setup, 3);
	assert_int_equal(cnt.in_refused, 0); /* refusals by the engine are not the manager's */
	assert_int_equal(cnt.answered, 1);
	assert_int_equal(cnt.released, 3);
	pri_mgr_get_counters(B.m, &cnt);
	assert_int_equal(cnt.out_placed, 3);
}

static unsigned answered_b;

static bool three_answered(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < B.n; i++)
		n += B.ev[i].kind == EV_ANSWERED;
	return n == answered_b;
}

static void test_hunting_all_busy(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000"};
	struct pri_call *c[3], *x;
	struct pri_mgr_counters cnt;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(pri_call_place(B.m, &req, NULL, &c[i]), 0);
		assert_int_equal(pri_call_info(c[i])->timeslot, i + 1); /* ascending */
	}
	answered_b = 3;
	assert_true(run_until(three_answered));
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 7u);

	/* every B-channel busy: no SETUP, cause 34 (SIP 503), on both sides */
	assert_int_equal(pri_call_place(B.m, &req, NULL, &x), -EBUSY);
	assert_int_equal(pri_mgr_place_cause(-EBUSY), 34);
	assert_int_equal(mg_q850_to_sip(34, false), 503);
	req.group = "span1";
	assert_int_equal(pri_call_place(A.m, &req, NULL, &x), -EBUSY);
	pri_mgr_get_counters(B.m, &cnt);
	assert_int_equal(cnt.out_no_channel, 1);
	assert_int_equal(cnt.out_placed, 3);

	/* one frees up: the network side takes it (descending: timeslot 2 freed) */
	assert_int_equal(pri_call_hangup(c[1], 16), 0);
	assert_true(wait_busy(5u, 5u));
	assert_int_equal(pri_call_place(A.m, &req, NULL, &x), 0);
	assert_int_equal(pri_call_info(x)->timeslot, 2);
	assert_int_equal(pri_call_hangup(x, 16), 0);
	assert_int_equal(pri_call_hangup(c[0], 16), 0);
	assert_int_equal(pri_call_hangup(c[2], 16), 0);
	assert_true(run_until(no_calls));
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(B.m, "span2")->busy, 0u);
}

static struct pri_call *glare_a, *glare_b;

static bool glare_done(void)
{
	return find(&A, EV_ENDED, glare_a, 0) >= 0 && find(&B, EV_ENDED, glare_b, 0) >= 0;
}

static void test_glare(void **state)
{
	struct pri_call_req ra = {.group = "span1", .dnis = "100"}, rb = {.group = "span2", .dnis = "200"};
	struct pri_call *c[2];
	struct pri_mgr_counters ca, cb;
	int ea, eb;

	(void)state;
	/* the network side takes timeslots 3 and 2 (descending) */
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pri_call_place(A.m, &ra, NULL, &c[i]), 0);
	assert_int_equal(pri_call_info(c[0])->timeslot, 3);
	assert_int_equal(pri_call_info(c[1])->timeslot, 2);
	b_call = NULL;
	for (uint64_t t0 = now_ms(); find(&A, EV_ANSWERED, c[1], 0) < 0 && now_ms() - t0 < 5000;)
		su_root_step(root, 20);
	assert_true(find(&A, EV_ANSWERED, c[0], 0) >= 0 && find(&A, EV_ANSWERED, c[1], 0) >= 0);

	/* both ends seize the last free timeslot before either hears of the other */
	assert_int_equal(pri_call_place(A.m, &ra, NULL, &glare_a), 0);
	assert_int_equal(pri_call_place(B.m, &rb, NULL, &glare_b), 0);
	assert_int_equal(pri_call_info(glare_a)->timeslot, 1);
	assert_int_equal(pri_call_info(glare_b)->timeslot, 1);
	assert_true(run_until(glare_done));
	ea = find(&A, EV_ENDED, glare_a, 0);
	eb = find(&B, EV_ENDED, glare_b, 0);
	/* each end refuses the other's SETUP: no circuit available */
	assert_int_equal(A.ev[ea].cause, 34);
	assert_int_equal(B.ev[eb].cause, 34);
	assert_int_equal(find(&A, EV_INCOMING, NULL, 0), -1);
	pri_mgr_get_counters(A.m, &ca);
	pri_mgr_get_counters(B.m, &cb);
	assert_int_equal(ca.in_refused, 1);
	assert_int_equal(cb.in_refused, 1);
	/* the glared timeslot is free again on both ends; the two calls still hold theirs */
	assert_true(wait_busy(6u, 6u));
	assert_int_equal(pri_mgr_calls(A.m), 2);
	assert_int_equal(pri_mgr_calls(B.m), 2);
	assert_int_equal(pri_call_hangup(c[0], 16), 0);
	assert_int_equal(pri_call_hangup(c[1], 16), 0);
	assert_true(run_until(no_calls));
}

static void test_channel_not_in_group(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000"};
	struct pri_call *c[3];
	int e;

	(void)state;
	/* A's group has timeslots 1-2 only; the third call asks for 3 (exclusive) */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pri_call_place(B.m, &req, NULL, &c[i]), 0);
	b_call = c[2];
	assert_true(run_until(b_call_ended_only));
	e = find(&B, EV_ENDED, c[2], 0);
	assert_int_equal(B.ev[e].cause, 82);
	assert_int_equal(pri_call_hangup(c[0], 16), 0);
	assert_int_equal(pri_call_hangup(c[1], 16), 0);
	assert_true(run_until(no_calls));
}

static void test_bad_requests(void **state)
{
	struct pri_call_req req = {.dnis = "12a4"};
	struct pri_call *c;
	struct route_kv kv[1] = {{"sip.in.requestUri", "sip:5551000@gw"}};
	struct route_env env = {.host_ip = "192.0.2.1", .sip_port_udp = 5060};
	struct route_result r;
	char err[256];

	(void)state;
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c), -EINVAL);
	assert_int_equal(pri_mgr_place_cause(-EINVAL), 28);
	req.dnis = "";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c), -EINVAL);
	req.dnis = "123";
	req.ani = "+";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c), -EINVAL);
	req.ani = NULL;
	req.group = "nope";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c), -ENOENT);
	assert_int_equal(pri_mgr_place_cause(-ENOENT), 3);
	assert_int_equal(pri_mgr_calls(B.m), 0);
	assert_int_equal(pri_call_hangup(NULL, 16), -EINVAL);

	/* a route's pstn.out.* become a request; unknown groups are skipped in a list */
	assert_int_equal(route_match(rules, kv, 1, &env, &r), 0);
	assert_int_equal(pri_call_req_from_route(&r, &req, err, sizeof(err)), 0);
	assert_string_equal(req.group, "span9,span2");
	assert_string_equal(req.dnis, "5551000");
	assert_string_equal(req.ani, "+15145550000");
	assert_string_equal(req.caller_name, "Gateway");
	assert_true(req.restricted);
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c), -ENOENT); /* span9 is no group */
	req.group = "span2";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c), 0);
	assert_int_equal(pri_call_hangup(c, 16), 0);
	route_result_clear(&r);
	assert_true(run_until(no_calls));
}

/* Every switch type of the config: a call with numbers and name both ways
 * round (network to user and user to network), cleared with 16. */
static void test_switch_types(void **state)
{
	static const char *const types[] = {"national", "ni1",	       "dms100",      "4ess",
					     "5ess",	 "euroisdn_e1", "euroisdn_t1", "qsig"};

	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int dir = 0; dir < 2; dir++) {
			struct side *from = dir ? &A : &B, *to = dir ? &B : &A;
			struct pri_call_req req = {.group = dir ? "span1" : "span2", .dnis = "4000",
						   .ani = "4001", .caller_name = "Bob"};
			int i;

			assert_int_equal(setup_pair(false, types[t]), 0);
			assert_int_equal(pri_call_place(from->m, &req, NULL, &b_call), 0);
			for (uint64_t t0 = now_ms(); find(from, EV_ANSWERED, b_call, 0) < 0 &&
						     now_ms() - t0 < 5000;)
				su_root_step(root, 20);
			assert_true(find(from, EV_ANSWERED, b_call, 0) >= 0);
			i = find(to, EV_INCOMING, NULL, 0);
			assert_string_equal(to->ev[i].info.dnis, "4000");
			assert_string_equal(to->ev[i].info.ani, "4001");
			assert_string_equal(to->ev[i].info.caller_name, "Bob");
			assert_int_equal(pri_call_hangup(b_call, 16), 0);
			assert_true(run_until(no_calls));
			assert_int_equal(to->ev[find(to, EV_ENDED, NULL, 0)].cause, 16);
			teardown(NULL);
		}
	}
}

/*
 * The longest numbers (PRI_NUM_MAX digits) and calling name (PRI_NAME_MAX,
 * what libpri carries) reach the far side whole, so the routing rules never
 * see a cut value; one character more is refused when placing.
 */
static void test_longest_values(void **state)
{
	static const char *const types[] = {"national", "euroisdn_e1"};
	char dnis[PRI_NUM_MAX + 2], ani[PRI_NUM_MAX + 2], name[PRI_NAME_MAX + 2];

	(void)state;
	ani[0] = '+'; /* international: the '+' comes on top of the digits */
	for (int i = 0; i < PRI_NUM_MAX; i++) {
		dnis[i] = (char)('0' + i % 10);
		ani[i + 1] = (char)('9' - i % 10);
	}
	dnis[PRI_NUM_MAX] = ani[PRI_NUM_MAX + 1] = '\0';
	for (int i = 0; i < PRI_NAME_MAX; i++)
		name[i] = (char)('a' + i % 26);
	name[PRI_NAME_MAX] = '\0';
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct pri_call_req req = {.group = "span2", .dnis = dnis, .ani = ani, .caller_name = name};
		int i;

		assert_int_equal(setup_pair(false, types[t]), 0);
		A.policy = P_ANSWER;
		assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
		assert_true(run_until(b_call_answered));
		i = find(&A, EV_INCOMING, NULL, 0);
		assert_true(i >= 0);
		assert_string_equal(A.ev[i].info.dnis, dnis);
		assert_string_equal(A.ev[i].info.ani, ani);
		assert_string_equal(A.ev[i].info.caller_name, name);
		assert_int_equal(pri_call_hangup(b_call, 16), 0);
		assert_true(run_until(no_calls));
		/* one more: refused, not cut */
		strcat(name, "x");
		assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), -EINVAL);
		name[PRI_NAME_MAX] = '\0';
		strcat(dnis, "1");
		assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), -EINVAL);
		dnis[PRI_NUM_MAX] = '\0';
		teardown(NULL);
	}
}

static bool both_ended(void)
{
	return find(&A, EV_ENDED, NULL, 0) >= 0 && find(&B, EV_ENDED, b_call, 0) >= 0;
}

/* The line is cut while a call is up (the D-channel pair shut down, no
 * message gets through): each side's Q.921 times out (T200 x N200, a few
 * timer periods) and each engine is told its call ended with 38, network
 * out of order; new calls find no span up. */
static void test_link_down(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000"};
	struct pri_call *c2;
	int e;

	(void)state;
	/* short Q.921/Q.931 timers keep the test fast (defaults: T200 1 s, T305 30 s, T308 4 s) */
	for (int i = 0; i < 2; i++) {
		struct pri_mgr *m = i ? B.m : A.m;

		assert_int_equal(pri_mgr_set_timer(m, "T200", 100), 0);
		assert_int_equal(pri_mgr_set_timer(m, "T305", 300), 0);
		assert_int_equal(pri_mgr_set_timer(m, "T308", 300), 0);
	}
	assert_int_equal(pri_mgr_set_timer(A.m, "T999", 1), -EINVAL);
	assert_int_equal(pri_mgr_set_timer(A.m, "T200", 0), -EINVAL);
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_answered));
	assert_non_null(A.last_in);
	assert_int_equal(shutdown(b_dchan->fd, SHUT_RDWR), 0);
	/* a SETUP from each side goes unacknowledged: Q.921 gives up after
	 * T200 x N200 (an idle network side would wait for T203 first) */
	req.group = "span1";
	assert_int_equal(pri_call_place(A.m, &req, NULL, &c2), 0);
	req.group = "span2";
	assert_int_equal(pri_call_place(B.m, &req, NULL, &c2), 0);
	assert_true(run_until(both_ended));
	e = find(&A, EV_ENDED, NULL, 0);
	assert_int_equal(A.ev[e].cause, 38);
	e = find(&B, EV_ENDED, b_call, 0);
	assert_true(e >= 0);
	assert_int_equal(B.ev[e].cause, 38);
	assert_false(A.up || B.up);
	assert_false(pri_mgr_span_up(A.m, 1));
	/* libpri cancels the calls after the data link failure; every record
	 * and B-channel is given back */
	assert_true(run_until(no_calls));
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(B.m, "span2")->busy, 0u);
	assert_int_equal(mg_q850_to_sip(38, false), 503);
	/* a new call finds no span up */
	req.group = "span1";
	assert_int_equal(pri_call_place(A.m, &req, NULL, &b_call), -ENOTCONN);
	assert_int_equal(pri_mgr_place_cause(-ENOTCONN), 38);
}

static bool restarted(void)
{
	return find(&B, EV_ENDED, b_call, 0) >= 0;
}

/* RESTART of a busy timeslot: both ends drop the call at once (41 to both
 * engines), the timeslot is free on both and takes the next call. */
static void test_restart(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000"};
	struct pri_call *in;
	int e;

	(void)state;
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_answered));
	in = A.last_in;
	assert_non_null(in);
	assert_int_equal(pri_mgr_restart(A.m, 1, 2), 0); /* another timeslot: nothing happens */
	assert_int_equal(pri_mgr_restart(A.m, 1, pri_call_info(in)->timeslot), 0);
	e = find(&A, EV_ENDED, in, 0);
	assert_true(e >= 0);
	assert_int_equal(A.ev[e].cause, 41);
	assert_true(run_until(restarted));
	assert_int_equal(B.ev[find(&B, EV_ENDED, b_call, 0)].cause, 41);
	assert_int_equal(pri_mgr_calls(A.m), 0);
	assert_int_equal(pri_mgr_calls(B.m), 0);
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(B.m, "span2")->busy, 0u);
	assert_int_equal(pri_mgr_restart(A.m, 2, 1), -ENOENT);
	assert_int_equal(pri_mgr_restart(A.m, 1, 0), -EINVAL);

	A.n = B.n = 0; /* the next call may get the same handle address */
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_int_equal(pri_call_info(b_call)->timeslot, 1);
	assert_true(run_until(b_call_answered));
	assert_int_equal(pri_call_hangup(b_call, 16), 0);
	assert_true(run_until(no_calls));
}

/*
 * Churn on two full E1 spans (30 B-channels each): 2000 random steps of
 * "place a call from either side" and "hang up any call either engine
 * holds", with the event loop turning in between, so SETUPs cross, calls
 * are cleared while ringing, glare happens on the last channels. Checked
 * throughout: a place fails only with -EBUSY and only when the caller's
 * group is full; every call an engine holds ends exactly once (the live
 * lists); at the end no record and no B-channel is left on either side.
 */
static void test_churn(void **state)
{
	static const char full[] = "span=1,1,0,ccs,hdb3,crc4\nspan=2,0,0,ccs,hdb3,crc4\n"
				   "bchan=1-15,17-31\ndchan=16\nbchan=32-46,48-62\ndchan=47\n";
	struct mg_tdm_sysconf *sc = calloc(1, sizeof(*sc));
	enum mg_tdm_role roles[MG_TDM_MAX_SPANS + 1] = {[1] = MG_TDM_ROLE_NT, [2] = MG_TDM_ROLE_TE};
	struct mg_tdm_group g[4];
	struct mg_tdm_open_opts o = {.hdlc = true};
	struct mg_tdm_chan *da, *db;
	struct pri_mgr_ops oa = ops_for(&A), ob = ops_for(&B);
	unsigned placed = 0, busy = 0;
	struct pri_mgr_counters ca, cb;

	(void)state;
	assert_non_null(sc);
	assert_int_equal(mg_tdm_sysconf_parse(full, "full.conf", sc, NULL), 0);
	assert_int_equal(mg_tdm_groups_build(sc, roles, g, 4), 2);
	free(sc);
	assert_int_equal(g[0].n_chans, 30);
	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	A.name = "A";
	B.name = "B";
	A.policy = B.policy = P_CHURN;
	A.m = pri_mgr_new(root, &oa);
	B.m = pri_mgr_new(root, &ob);
	assert_int_equal(mg_tdm_socketpair_open(16, &o, &da, &db), 0);
	assert_int_equal(pri_mgr_add_span(A.m, 1, true, PRI_SWITCH_EUROISDN_E1, da, &g[0], MG_LAW_ALAW, 1), 0);
	assert_int_equal(pri_mgr_add_span(B.m, 2, false, PRI_SWITCH_EUROISDN_E1, db, &g[1], MG_LAW_ALAW, 32), 0);
	assert_true(run_until(both_up));

	for (unsigned step = 0; step < 2000; step++) {
		struct side *s = rnd(2) ? &A : &B;
		const struct mg_tdm_group *grp = pri_mgr_group(s->m, s == &A ? "span1" : "span2");

		if (rnd(3) != 0 || s->n_live == 0) {
			struct pri_call_req req = {.dnis = "5550000", .ani = "100"};
			struct pri_call *c;
			bool full_before = (unsigned)__builtin_popcount(grp->busy) == grp->n_chans;
			int rc = pri_call_place(s->m, &req, NULL, &c);

			if (rc == 0) {
				placed++;
				live_add(s, c);
			} else {
				assert_int_equal(rc, -EBUSY);
				assert_true(full_before);
				busy++;
			}
		} else {
			struct pri_call *c = s->live[rnd(s->n_live)];

			/* a hang-up of ours gets no callback: forget the call now */
			live_del(s, c);
			assert_int_equal(pri_call_hangup(c, rnd(2) ? 16 : 31), 0);
		}
		for (unsigned k = rnd(4); k > 0; k--)
			su_root_step(root, 1);
	}
	/* everything still up is hung up; nothing may be left anywhere */
	hang_up_all();
	assert_true(run_until(no_calls));
	assert_int_equal(A.n_live + B.n_live, 0);
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(B.m, "span2")->busy, 0u);
	assert_true(placed > 0);
	pri_mgr_get_counters(A.m, &ca);
	pri_mgr_get_counters(B.m, &cb);
	print_message("churn: %u placed, %u refused busy locally, %llu+%llu SETUPs refused for "
		      "lack of a channel (glare), %u+%u answered\n", placed, busy,
		      (unsigned long long)ca.in_refused, (unsigned long long)cb.in_refused,
		      A.n_answered, B.n_answered);
}

/* ---- mutated Q.931 ------------------------------------------------------- */

static struct mg_tdm_chan *relay_a, *relay_b; /* A <-> relay_a | relay_b <-> B */
static unsigned mutated;
static bool relay_mutate = true;  /* random damage (test_mutated_q931) */
static bool relay_eat_release;    /* B's RELEASE / RELEASE COMPLETE made unrecognisable */
static uint8_t relay_poison_number; /* !0: last called digit of B's SETUPs becomes this */
static uint8_t relay_poison_name;   /* !0: last byte of the Display IE becomes this */

/* Rewrite IEs of a SETUP (Q.931 type 5) in frame @f of @n bytes (2 FCS at the end). */
static void poison_setup(uint8_t *f, ssize_t n)
{
	ssize_t i = 9, end = n - 2;

	if (n < 12 || f[4] != 0x08 || f[5] != 2 || f[8] != 0x05)
		return;
	while (i + 1 < end) {
		uint8_t ie = f[i], len;

		if (ie & 0x80) { /* single-octet IE */
			i++;
			continue;
		}
		len = f[i + 1];
		if (i + 2 + len > end)
			return;
		if (ie == 0x70 && relay_poison_number && len >= 2)
			f[i + 2 + len - 1] = relay_poison_number, mutated++;
		if (ie == 0x28 && relay_poison_name && len >= 1)
			f[i + 2 + len - 1] = relay_poison_name, mutated++;
		i += 2 + len;
	}
}

/* Carry frames between the two pairs; Q.931 in B's I-frames is corrupted
 * now and then (the Q.921 header stays intact, so the link survives and
 * the damage reaches Q.931 and the manager). */
static int relay_pump(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct mg_tdm_chan *from = (struct mg_tdm_chan *)arg;
	struct mg_tdm_chan *to = from == relay_a ? relay_b : relay_a;
	uint8_t f[MG_TDM_HDLC_MAX];
	ssize_t n;

	(void)magic;
	(void)w;
	while ((n = mg_tdm_chan_read(from, f, sizeof(f))) > 0) {
		/* an I-frame (control bit 0 clear) with Q.931 after 4 header bytes, 2 FCS at the end */
		/* Q.931 after the 4 header bytes: 08, call reference length 2, 2 bytes, type */
		if (from == relay_b && relay_eat_release && n > 10 && !(f[2] & 1) && f[4] == 0x08 &&
		    f[5] == 2 && (f[8] == 0x4d || f[8] == 0x5a)) {
			f[8] = 0x54; /* no such message type */
			mutated++;
		}
		if (from == relay_b && n > 7 && !(f[2] & 1))
			poison_setup(f, n);
		if (from == relay_b && relay_mutate && n > 7 && !(f[2] & 1) && rnd(3) == 0) {
			unsigned k = 1 + rnd(3);

			while (k--)
				f[4 + rnd((uint32_t)n - 6)] = (uint8_t)rnd(256);
			if (rnd(8) == 0)
				n = 4 + rnd((uint32_t)n - 6) + 2; /* cut short */
			mutated++;
		}
		mg_tdm_chan_write(to, f, (size_t)n);
	}
	return 0;
}

/*
 * The far end never completes a clearing (its RELEASE and RELEASE COMPLETE
 * arrive as an unknown message type): libpri retries (T305, T308 twice)
 * and then forgets the call without an event; the clearing guard
 * (2 x (T305 + 2 x T308)) drops our record and frees the channel, the
 * network side's group is usable again.
 */
static int relay_ia, relay_ib;
static su_wait_t relay_wa, relay_wb;

/*
 * A (network, span 1) and B (user, span 2) joined through the relay, both
 * engines with @p policy; @p mutate: the relay damages B's I-frames;
 * @p timers (NULL-terminated): libpri timers shortened to @p ms on both.
 * Returns once both links are up.
 */
static void relay_pair_open(bool mutate, enum policy policy, const char *const *timers, int ms)
{
	struct mg_tdm_sysconf *sc = calloc(1, sizeof(*sc));
	enum mg_tdm_role roles[MG_TDM_MAX_SPANS + 1] = {[1] = MG_TDM_ROLE_NT, [2] = MG_TDM_ROLE_TE};
	struct mg_tdm_group g[4];
	struct mg_tdm_open_opts o = {.hdlc = true};
	struct mg_tdm_chan *da, *db;
	struct pri_mgr_ops oa = ops_for(&A), ob = ops_for(&B);

	assert_non_null(sc);
	assert_int_equal(mg_tdm_sysconf_parse(sysconf_text, "test.conf", sc, NULL), 0);
	assert_int_equal(mg_tdm_groups_build(sc, roles, g, 4), 2);
	free(sc);
	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	A.name = "A";
	B.name = "B";
	A.policy = B.policy = policy;
	A.m = pri_mgr_new(root, &oa);
	B.m = pri_mgr_new(root, &ob);
	assert_int_equal(mg_tdm_socketpair_open(16, &o, &da, &relay_a), 0);
	assert_int_equal(mg_tdm_socketpair_open(47, &o, &relay_b, &db), 0);
	assert_int_equal(pri_mgr_add_span(A.m, 1, true, PRI_SWITCH_EUROISDN_E1, da, &g[0], MG_LAW_ALAW, 1), 0);
	assert_int_equal(pri_mgr_add_span(B.m, 2, false, PRI_SWITCH_EUROISDN_E1, db, &g[1], MG_LAW_ALAW, 32), 0);
	assert_int_equal(su_wait_create(&relay_wa, relay_a->fd, SU_WAIT_IN), 0);
	assert_int_equal(su_wait_create(&relay_wb, relay_b->fd, SU_WAIT_IN), 0);
	relay_ia = su_root_register(root, &relay_wa, relay_pump, (su_wakeup_arg_t *)relay_a, 0);
	relay_ib = su_root_register(root, &relay_wb, relay_pump, (su_wakeup_arg_t *)relay_b, 0);
	assert_true(relay_ia > 0 && relay_ib > 0);
	relay_mutate = mutate;
	relay_eat_release = false;
	relay_poison_number = relay_poison_name = 0;
	mutated = 0;
	for (size_t i = 0; timers && timers[i]; i++) {
		assert_int_equal(pri_mgr_set_timer(A.m, timers[i], ms), 0);
		assert_int_equal(pri_mgr_set_timer(B.m, timers[i], ms), 0);
	}
	if (getenv("MG_PRI_DEBUG")) {
		pri_mgr_set_debug(A.m, true);
		pri_mgr_set_debug(B.m, true);
	}
	assert_true(run_until(both_up));
}

/* The pair with standard timers, answering engines, no damage. */
static void relay_pair_setup(void)
{
	relay_pair_open(false, P_ANSWER, NULL, 0);
}

static void relay_pair_stop(void)
{
	su_root_deregister(root, relay_ia);
	su_root_deregister(root, relay_ib);
	mg_tdm_chan_close(relay_a);
	mg_tdm_chan_close(relay_b);
	relay_mutate = true;
	relay_eat_release = false;
	relay_poison_number = relay_poison_name = 0;
}

/*
 * A SETUP whose called number is not IA5 digits is refused with 28 (invalid
 * number format) before any engine sees it; a calling name with a control
 * character reaches the engine with '?' in its place.
 */
static void test_bad_setup_contents(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000", .ani = "5552000",
				   .caller_name = "Alice"};
	struct pri_mgr_counters cnt;
	int e, i;

	(void)state;
	relay_pair_setup();
	A.policy = P_ANSWER;
	relay_poison_number = 'A';
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_ended_only));
	e = find(&B, EV_ENDED, b_call, 0);
	assert_int_equal(B.ev[e].cause, 28);
	assert_int_equal(find(&A, EV_INCOMING, NULL, 0), -1);
	pri_mgr_get_counters(A.m, &cnt);
	assert_int_equal(cnt.in_refused, 1);
	assert_true(run_until(no_calls));

	relay_poison_number = 0;
	relay_poison_name = 0x07;
	A.n = B.n = 0;
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_answered));
	i = find(&A, EV_INCOMING, NULL, 0);
	assert_true(i >= 0);
	assert_string_equal(A.ev[i].info.caller_name, "Alic?");
	assert_string_equal(A.ev[i].info.dnis, "5551000");
	assert_int_equal(pri_call_hangup(b_call, 16), 0);
	assert_true(run_until(no_calls));
	relay_pair_stop();
}

static void test_clearing_guard(void **state)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000"};
	struct pri_mgr_counters cnt;

	(void)state;
	relay_pair_setup();
	assert_int_equal(pri_mgr_set_timer(A.m, "T305", 100), 0);
	assert_int_equal(pri_mgr_set_timer(A.m, "T308", 100), 0);

	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_answered));
	assert_non_null(A.last_in);
	relay_eat_release = true;
	assert_int_equal(pri_call_hangup(A.last_in, 16), 0);
	assert_true(run_until(b_call_ended_only)); /* the user side saw the DISCONNECT */
	for (uint64_t t0 = now_ms(); pri_mgr_calls(A.m) && now_ms() - t0 < 5000;)
		su_root_step(root, 20);
	pri_mgr_get_counters(A.m, &cnt);
	assert_int_equal(pri_mgr_calls(A.m), 0);
	assert_int_equal(cnt.clear_guard, 1);
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_true(mutated > 0);

	/* the freed channel takes the next call */
	relay_eat_release = false;
	A.n = B.n = 0;
	assert_int_equal(pri_call_place(B.m, &req, NULL, &b_call), 0);
	assert_true(run_until(b_call_answered));
	assert_int_equal(pri_call_hangup(b_call, 16), 0);
	assert_true(run_until(no_calls));
	relay_pair_stop();
}

/*
 * The user side's Q.931 messages reach the network side with random bytes
 * changed (1 in 3 I-frames) while 150 calls are placed, answered, refused
 * and hung up on both sides. Nothing may crash; once everything is hung up and
 * libpri's (shortened) timers have run, no record and no B-channel is left.
 */
static void test_mutated_q931(void **state)
{
	static const char *const timers[] = {"T303", "T305", "T308", "T309", "T310", "T313", NULL};
	unsigned placed = 0;

	(void)state;
	relay_pair_open(true, P_CHURN, timers, 200);

	for (unsigned step = 0; step < 2000 && placed < 150; step++) {
		if (rnd(3) != 0 || B.n_live == 0) {
			char dnis[16], ani[16], name[16];
			struct pri_call_req req = {.dnis = dnis, .ani = ani, .caller_name = name};
			struct pri_call *c;

			snprintf(dnis, sizeof(dnis), "%u", 1000 + rnd(90000));
			snprintf(ani, sizeof(ani), "%u", rnd(1000000));
			snprintf(name, sizeof(name), "n%u", rnd(1000));
			if (pri_call_place(B.m, &req, NULL, &c) == 0) {
				placed++;
				live_add(&B, c);
			} else {
				/* every channel held (some by calls the damage left
				 * waiting for a timer): let the loop turn a while */
				for (unsigned k = 0; k < 10; k++)
					su_root_step(root, 20);
			}
		} else {
			struct side *s = rnd(2) && A.n_live ? &A : &B;
			struct pri_call *c = s->live[rnd(s->n_live)];

			live_del(s, c);
			assert_int_equal(pri_call_hangup(c, 16), 0);
		}
		for (unsigned k = rnd(5); k > 0; k--)
			su_root_step(root, 2);
	}
	hang_up_all();
	for (uint64_t t0 = now_ms(); !no_calls() && now_ms() - t0 < 20000;)
		su_root_step(root, 20);
	print_message("mutated: %u calls placed, %u frames mutated, %u incoming, %u records left\n",
		      placed, mutated, A.n_incoming, pri_mgr_calls(A.m) + pri_mgr_calls(B.m));
	if (!no_calls()) {
		pri_mgr_dump(A.m, stderr);
		pri_mgr_dump(B.m, stderr);
	}
	assert_true(no_calls());
	assert_int_equal(A.n_live + B.n_live, 0);
	assert_int_equal(pri_mgr_group(A.m, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(B.m, "span2")->busy, 0u);
	assert_true(mutated > 0);
	relay_pair_stop();
}

/* Spans from the configuration: what is wrong is said, nothing is half started. */
static int config_try(const char *sysconf, const char *spans, char *err, size_t errlen)
{
	char path[] = "/tmp/pri-sysconf.XXXXXX", text[1024];
	int fd = mkstemp(path), rc;
	struct mg_config *cfg;
	struct pri_mgr *m;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, sysconf, strlen(sysconf)), (ssize_t)strlen(sysconf));
	close(fd);
	snprintf(text, sizeof(text), "mediagate.tdm.systemConf=%s\nmediagate.tdm.devicePath=/nonexistent/pri-dahdi\n%s",
		 path, spans);
	cfg = mg_config_load_string(text, "pri.properties", MG_CONFIG_ROLE_CONTROL, NULL);
	assert_non_null(cfg);
	m = pri_mgr_new(root, NULL);
	assert_non_null(m);
	err[0] = '\0';
	rc = pri_mgr_add_configured(m, mg_config_settings(cfg), err, errlen);
	assert_int_equal(pri_mgr_calls(m), 0);
	pri_mgr_free(m);
	mg_config_free(cfg);
	unlink(path);
	return rc;
}

static void test_config(void **state)
{
	char err[512];

	(void)state;
	/* no span configured: nothing to do */
	assert_int_equal(config_try(sysconf_text, "", err, sizeof(err)), 0);
	/* config span 2 is DAHDI span 3, which system.conf does not have */
	assert_int_equal(config_try(sysconf_text,
				    "mediagate.tdm.span.0.role=network\n"
				    "mediagate.tdm.span.1.role=user\n"
				    "mediagate.tdm.span.2.role=user\n",
				    err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "mediagate.tdm.span.2: DAHDI span 3 is not defined in /tmp/pri-sysconf."));
	/* a span without a D-channel */
	assert_int_equal(config_try("span=1,1,0,ccs,hdb3\nbchan=1-15,17-31\n",
				    "mediagate.tdm.span.0.role=user\n", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "DAHDI span 1 has no dchan= or hardhdlc= channel"));
	assert_int_equal(config_try("span=1,1,0,ccs,hdb3\nbchan=1-15,17-31\ndchan=16\n",
				    "mediagate.tdm.span.0.role=user\nmediagate.tdm.span.1.role=user\n",
				    err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "mediagate.tdm.span.1: DAHDI span 2 is not defined"));
	assert_int_equal(config_try("span=1,1,0,ccs,hdb3\nbchan=1-15,17-31\ndchan=16\n",
				    "mediagate.tdm.span.0.role=user\n", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "mediagate.tdm.span.0: D-channel 16 under /nonexistent/pri-dahdi: "));
	/* a broken system.conf is named with its line */
	assert_int_equal(config_try("span=1,1,0,ccs,hdb3\nbogus=1\n",
				    "mediagate.tdm.span.0.role=user\n", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "mediagate.tdm.systemConf: "));
	assert_non_null(strstr(err, ":2: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_hangs_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_and_unallocated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hunting_all_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel_not_in_group, setup_short, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test(test_switch_types),
		cmocka_unit_test(test_longest_values),
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_teardown(test_churn, teardown),
		cmocka_unit_test_teardown(test_mutated_q931, teardown),
		cmocka_unit_test_teardown(test_clearing_guard, teardown),
		cmocka_unit_test_teardown(test_bad_setup_contents, teardown),
		cmocka_unit_test_setup_teardown(test_link_down, setup, teardown),
	};
	char err[256];
	FILE *f;
	int fd, rc;

	mg_log_init("pri_mgr_test", getenv("MG_PRI_DEBUG") ? MG_LOG_DEBUG : MG_LOG_WARN, false);
	snprintf(rules_path, sizeof(rules_path), "/tmp/pri-rules.XXXXXX");
	fd = mkstemp(rules_path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || fputs(rules_text, f) < 0 || fclose(f) != 0)
		return 1;
	rules = route_table_load(rules_path, err, sizeof(err));
	unlink(rules_path);
	if (!rules) {
		fprintf(stderr, "rules: %s\n", err);
		return 1;
	}
	su_init();
	root = su_root_create(NULL);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	su_root_destroy(root);
	su_deinit();
	route_table_unref(rules);
	return rc;
}
