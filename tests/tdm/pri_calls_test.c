/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PRI end to end over the FUSE DAHDI emulator (run by tdm-emu-run with
 * MG_TDM_EMU_DIR): one gateway configuration, loaded through the real config
 * loader, runs span 1 as the network side and span 2 as the user side of
 * tests/tdm/pri_system.conf; the emulator joins the two spans back to back,
 * so a call placed on span 2 arrives on span 1 through the real dahdi backend
 * (HDLC D-channels 47 and 16). A small engine routes both directions with the
 * real routing table of tests/tdm/pri_rules.xml.
 *
 * Checked: Q.921 up on both spans; SIP-side routing → pstn.out.* → SETUP
 * with numbers and name → pstn.in.* → routed → ALERTING / PROGRESS / CONNECT;
 * the B-channels the two calls report carry audio timeslot to timeslot
 * (the channel numbers are right); hang-up from the network side; busy
 * (17 → 486) and no route (1 → 404); every B-channel busy → cause 34 (503);
 * glare on the last free timeslot → 34 on both ends.
 *
 * usage: pri_calls_test SYSTEM_CONF RULES_XML
 * (PRI_TEST_T1=1 with the T1 system.conf: mu-law, 24 channels, NI-2)
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
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "mg_config.h"
#include "mg_log.h"
#include "mg_tdm_cause.h"
#include "mg_tdm_chan.h"
#include "mg_tdm_sysconf.h"
#include "pri_mgr.h"
#include "route.h"

enum ev_kind { EV_INCOMING, EV_PROCEEDING, EV_ALERTING, EV_PROGRESS, EV_ANSWERED, EV_ENDED };

#define MAX_EV 128

struct ev {
	enum ev_kind kind;
	unsigned seq;              /* which call (test's numbering; pointers get reused) */
	int cause;
	bool inband;
	struct pri_call_info info;
};

static const char *sysconf_path, *rules_path;
static bool t1; /* PRI_TEST_T1 set: T1 spans (mu-law, 24 channels), switch type national */
static su_root_t *root;
static struct mg_config *cfg;
static struct pri_mgr *gw;
static struct route_table *rules;
static struct ev evs[MAX_EV];
static unsigned n_ev, next_seq;
static struct pri_call *in_calls[8]; /* incoming calls the engine holds */

/* The engine tags every call it knows with a sequence number in the user pointer. */
static unsigned seq_of(struct pri_call *c)
{
	return (unsigned)(uintptr_t)pri_call_user(c);
}

static void record(enum ev_kind k, struct pri_call *c, int cause, bool inband)
{
	if (n_ev < MAX_EV)
		evs[n_ev++] = (struct ev){.kind = k, .seq = seq_of(c), .cause = cause,
					  .inband = inband, .info = *pri_call_info(c)};
}

static int find(enum ev_kind k, unsigned seq)
{
	for (unsigned i = 0; i < n_ev; i++)
		if (evs[i].kind == k && evs[i].seq == seq)
			return (int)i;
	return -1;
}

static const struct route_env env = {.host_ip = "192.0.2.1", .sip_port_udp = 5060};

static void on_incoming(void *arg, struct pri_call *c)
{
	struct route_kv kv[8];
	struct route_result r;
	size_t n = pri_call_route_params(c, kv, 8);
	int rc;

	(void)arg;
	pri_call_set_user(c, (void *)(uintptr_t)++next_seq);
	record(EV_INCOMING, c, 0, false);
	rc = route_match(rules, kv, n, &env, &r);
	if (rc == -ENOENT) {
		pri_call_hangup(c, ROUTE_NO_ROUTE_Q850_CAUSE);
		return;
	}
	assert_int_equal(rc, 0);
	if (!strcmp(r.rule_name, "busy")) {
		/* what the SIP side would answer: 486 → 17 */
		pri_call_hangup(c, mg_sip_to_q850(486));
	} else {
		assert_int_equal(pri_call_alerting(c, true), 0);
		assert_int_equal(pri_call_progress(c), 0);
		assert_int_equal(pri_call_answer(c), 0);
		for (unsigned i = 0; i < 8; i++)
			if (!in_calls[i]) {
				in_calls[i] = c;
				break;
			}
	}
	route_result_clear(&r);
}

static void forget(struct pri_call *c)
{
	for (unsigned i = 0; i < 8; i++)
		if (in_calls[i] == c)
			in_calls[i] = NULL;
}

static void on_proceeding(void *arg, struct pri_call *c)
{
	(void)arg;
	record(EV_PROCEEDING, c, 0, false);
}

static void on_alerting(void *arg, struct pri_call *c, bool inband)
{
	(void)arg;
	record(EV_ALERTING, c, 0, inband);
}

static void on_progress(void *arg, struct pri_call *c, bool inband)
{
	(void)arg;
	record(EV_PROGRESS, c, 0, inband);
}

static void on_answered(void *arg, struct pri_call *c)
{
	(void)arg;
	record(EV_ANSWERED, c, 0, false);
}

static void on_ended(void *arg, struct pri_call *c, int cause)
{
	(void)arg;
	forget(c);
	record(EV_ENDED, c, cause, false);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static unsigned want_seq;
static enum ev_kind want_kind;

static bool seen(void)
{
	return find(want_kind, want_seq) >= 0;
}

static bool idle(void)
{
	return pri_mgr_calls(gw) == 0;
}

static bool spans_up(void)
{
	return pri_mgr_span_up(gw, 1) && pri_mgr_span_up(gw, 2);
}

static bool run_until(bool (*done)(void))
{
	for (uint64_t t0 = now_ms(); !done(); su_root_step(root, 20))
		if (now_ms() - t0 > 10000)
			return false;
	return true;
}

static bool wait_for(enum ev_kind k, unsigned seq)
{
	want_kind = k;
	want_seq = seq;
	return run_until(seen);
}

/* What a SIP INVITE from @from to @to becomes: the route's pstn.out.* → SETUP. */
static int place_from_sip(const char *to, const char *from, struct pri_call **out,
			  unsigned *seq)
{
	char ruri[64], furi[64], err[256];
	struct route_kv kv[2] = {{"sip.in.requestUri", ruri}, {"sip.in.from.uri", furi}};
	struct route_result r;
	struct pri_call_req req;
	int rc;

	snprintf(ruri, sizeof(ruri), "sip:%s@192.0.2.1", to);
	snprintf(furi, sizeof(furi), "sip:%s@192.0.2.99", from);
	assert_int_equal(route_match(rules, kv, 2, &env, &r), 0);
	assert_int_equal(r.outbound_interface, ROUTE_IFACE_PSTN);
	assert_int_equal(pri_call_req_from_route(&r, &req, err, sizeof(err)), 0);
	*seq = ++next_seq;
	rc = pri_call_place(gw, &req, (void *)(uintptr_t)*seq, out);
	route_result_clear(&r);
	return rc;
}

/* A block written on @a arrives on @b (through the emulator's TDM clock). */
static bool block_crosses(struct mg_tdm_chan *a, struct mg_tdm_chan *b, uint8_t seed)
{
	uint8_t blk[MG_TDM_BLOCK], in[MG_TDM_BLOCK];

	for (unsigned i = 0; i < sizeof(blk); i++)
		blk[i] = (uint8_t)(seed + i % 64);
	if (mg_tdm_chan_write(a, blk, sizeof(blk)) != (ssize_t)sizeof(blk))
		return false;
	/* the far end first reads idle blocks; ours comes within a few ticks */
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 3000;) {
		struct pollfd p = {.fd = b->fd, .events = POLLIN};

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (mg_tdm_chan_read(b, in, sizeof(in)) == (ssize_t)sizeof(in) &&
		    !memcmp(in, blk, sizeof(in)))
			return true;
	}
	return false;
}

/* The two B-channels carry audio both ways. The emulator, like DAHDI, allows
 * one opener per channel; both are closed before the asserts. */
static void check_bearer(unsigned ch1, unsigned ch2)
{
	const char *dir = getenv("MG_TDM_EMU_DIR");
	struct mg_tdm_chan *a, *b;
	bool ab, ba;

	assert_int_equal(mg_tdm_dahdi_open(dir, ch1, NULL, &a), 0);
	assert_int_equal(mg_tdm_dahdi_open(dir, ch2, NULL, &b), 0);
	ab = block_crosses(a, b, 0x10);
	ba = block_crosses(b, a, 0x50);
	mg_tdm_chan_close(a);
	mg_tdm_chan_close(b);
	assert_true(ab);
	assert_true(ba);
}

static void test_call(void **state)
{
	struct pri_call *c;
	unsigned seq, in_seq;
	int i, o, p, al, pg, an, e;

	(void)state;
	assert_int_equal(place_from_sip("5551234", "5145550000", &c, &seq), 0);
	o = (int)pri_call_info(c)->channo;
	assert_int_equal(pri_call_info(c)->span, 2);
	assert_true(wait_for(EV_ANSWERED, seq));

	i = (int)n_ev;
	while (--i >= 0 && evs[i].kind != EV_INCOMING)
		;
	assert_true(i >= 0);
	in_seq = evs[i].seq;
	assert_string_equal(evs[i].info.dnis, "5551234");
	assert_string_equal(evs[i].info.ani, "5145550000");
	assert_string_equal(evs[i].info.caller_name, "Mediagate Test");
	assert_int_equal(evs[i].info.span, 1);
	assert_int_equal(evs[i].info.law, t1 ? MG_LAW_ULAW : MG_LAW_ALAW);
	/* timeslot k of span 2 is timeslot k of span 1 on the emulated line */
	assert_int_equal(evs[i].info.timeslot, pri_call_info(c)->timeslot);
	assert_int_equal(evs[i].info.channo + (t1 ? 24 : 31), (unsigned)o);

	p = find(EV_PROCEEDING, seq);
	al = find(EV_ALERTING, seq);
	pg = find(EV_PROGRESS, seq);
	an = find(EV_ANSWERED, seq);
	assert_true(p >= 0 && al > p && pg > al && an > pg);
	assert_true(evs[al].inband && evs[pg].inband);

	/* the bearers the calls name carry audio, both ways */
	check_bearer((unsigned)o, evs[i].info.channo);

	/* the network side hangs up: the user side ends with 16 (a BYE on SIP) */
	assert_non_null(in_calls[0]);
	assert_int_equal(pri_call_hangup(in_calls[0], 16), 0);
	in_calls[0] = NULL;
	assert_true(wait_for(EV_ENDED, seq));
	e = find(EV_ENDED, seq);
	assert_int_equal(evs[e].cause, 16);
	assert_int_equal(mg_q850_to_sip(16, false), 0);
	assert_int_equal(find(EV_ENDED, in_seq), -1);
	assert_true(run_until(idle));
}

static void test_busy_and_no_route(void **state)
{
	struct pri_call *c;
	unsigned seq;
	int e;

	(void)state;
	assert_int_equal(place_from_sip("5552000", "100", &c, &seq), 0);
	assert_true(wait_for(EV_ENDED, seq));
	e = find(EV_ENDED, seq);
	assert_int_equal(evs[e].cause, 17);
	assert_int_equal(mg_q850_to_sip(evs[e].cause, false), 486);
	assert_int_equal(find(EV_ANSWERED, seq), -1);

	assert_int_equal(place_from_sip("6660000", "100", &c, &seq), 0);
	assert_true(wait_for(EV_ENDED, seq));
	e = find(EV_ENDED, seq);
	assert_int_equal(evs[e].cause, 1);
	assert_int_equal(mg_q850_to_sip(evs[e].cause, false), 404);
	assert_true(run_until(idle));
}

static void test_all_busy_and_glare(void **state)
{
	struct pri_call *c[3], *x, *g1, *g2;
	struct pri_call_req r1 = {.group = "span1", .dnis = "200"}, r2 = {.group = "span2", .dnis = "5551999"};
	unsigned seq[3], s, sg1, sg2;
	int e1, e2;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(place_from_sip("5551000", "100", &c[i], &seq[i]), 0);
		assert_int_equal(pri_call_info(c[i])->timeslot, i + 1); /* user side: ascending */
	}
	assert_true(wait_for(EV_ANSWERED, seq[2]));
	assert_true(find(EV_ANSWERED, seq[0]) >= 0 && find(EV_ANSWERED, seq[1]) >= 0);
	assert_int_equal(pri_mgr_group(gw, "span1")->busy, 7u);
	assert_int_equal(pri_mgr_group(gw, "span2")->busy, 7u);

	/* every B-channel busy: refused before any SETUP, 34 → 503 */
	assert_int_equal(place_from_sip("5551000", "100", &x, &s), -EBUSY);
	assert_int_equal(pri_mgr_place_cause(-EBUSY), 34);
	assert_int_equal(mg_q850_to_sip(34, false), 503);

	/* free timeslot 1, then seize it from both ends at once */
	assert_int_equal(pri_call_hangup(c[0], 16), 0);
	for (uint64_t t0 = now_ms(); (pri_mgr_group(gw, "span1")->busy != 6u ||
				      pri_mgr_group(gw, "span2")->busy != 6u) && now_ms() - t0 < 5000;)
		su_root_step(root, 20);
	assert_int_equal(pri_mgr_group(gw, "span1")->busy, 6u);
	sg1 = ++next_seq;
	sg2 = ++next_seq;
	assert_int_equal(pri_call_place(gw, &r1, (void *)(uintptr_t)sg1, &g1), 0);
	assert_int_equal(pri_call_place(gw, &r2, (void *)(uintptr_t)sg2, &g2), 0);
	assert_int_equal(pri_call_info(g1)->timeslot, 1);
	assert_int_equal(pri_call_info(g2)->timeslot, 1);
	assert_true(wait_for(EV_ENDED, sg1));
	assert_true(wait_for(EV_ENDED, sg2));
	e1 = find(EV_ENDED, sg1);
	e2 = find(EV_ENDED, sg2);
	assert_int_equal(evs[e1].cause, 34);
	assert_int_equal(evs[e2].cause, 34);

	assert_int_equal(pri_call_hangup(c[1], 16), 0);
	assert_int_equal(pri_call_hangup(c[2], 16), 0);
	assert_true(run_until(idle));
	assert_int_equal(pri_mgr_group(gw, "span1")->busy, 0u);
	assert_int_equal(pri_mgr_group(gw, "span2")->busy, 0u);
}

static int setup(void **state)
{
	(void)state;
	n_ev = 0;
	memset(in_calls, 0, sizeof(in_calls));
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_call, setup),
		cmocka_unit_test_setup(test_busy_and_no_route, setup),
		cmocka_unit_test_setup(test_all_busy_and_glare, setup),
	};
	const struct pri_mgr_ops ops = {
		.incoming = on_incoming,
		.proceeding = on_proceeding,
		.alerting = on_alerting,
		.progress = on_progress,
		.answered = on_answered,
		.ended = on_ended,
	};
	const char *dir = getenv("MG_TDM_EMU_DIR");
	char text[2048], err[512];
	int rc;

	if (argc != 3 || !dir) {
		fprintf(stderr, "usage: MG_TDM_EMU_DIR=DIR %s SYSTEM_CONF RULES_XML (run it through "
			"tdm-emu-run)\n", argv[0]);
		return 2;
	}
	sysconf_path = argv[1];
	t1 = getenv("PRI_TEST_T1") != NULL;
	rules_path = argv[2];
	mg_log_init("pri_calls_test", getenv("MG_PRI_DEBUG") ? MG_LOG_DEBUG : MG_LOG_WARN, false);
	snprintf(text, sizeof(text),
		 "mediagate.tdm.systemConf=%s\n"
		 "mediagate.tdm.devicePath=%s\n"
		 "mediagate.routing.rulesFile=%s\n"
		 "mediagate.tdm.span.0.role=network\n"
		 "mediagate.tdm.span.0.switchType=%s\n"
		 "mediagate.tdm.span.1.role=user\n"
		 "mediagate.tdm.span.1.switchType=%s\n",
		 sysconf_path, dir, rules_path, t1 ? "national" : "euroisdn_e1",
		 t1 ? "national" : "euroisdn_e1");
	cfg = mg_config_load_string(text, "pri-test.properties", MG_CONFIG_ROLE_CONTROL, NULL);
	if (!cfg)
		return 1;
	rules = route_table_load(mg_config_settings(cfg)->routing_rules_file, err, sizeof(err));
	if (!rules) {
		fprintf(stderr, "rules: %s\n", err);
		return 1;
	}
	su_init();
	root = su_root_create(NULL);
	gw = pri_mgr_new(root, &ops);
	if (!gw || pri_mgr_add_configured(gw, mg_config_settings(cfg), err, sizeof(err)) < 0) {
		fprintf(stderr, "pri: %s\n", err);
		return 1;
	}
	pri_mgr_set_debug(gw, getenv("MG_PRI_DEBUG") != NULL);
	if (!run_until(spans_up)) {
		fprintf(stderr, "pri: Q.921 did not come up on both spans within 10 s\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	pri_mgr_free(gw);
	su_root_destroy(root);
	su_deinit();
	route_table_unref(rules);
	mg_config_free(cfg);
	return rc;
}
