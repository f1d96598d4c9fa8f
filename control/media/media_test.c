/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The media layer against a fake dataplane: dpc_request() and friends are
 * replaced at link time (this test does not link dpclient); requests are
 * queued and answered by run_dp() the way mediagate-dataplane answers
 * them, so offers, answers, forks, deletes and errors run the real code
 * through every asynchronous step.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpclient.h"
#include "media.h"
#include "mg_config.h"
#include "sdp_crypto.h"
#include "sdp_rw.h"

/* ------------------------------------------------------- fake dataplane */

struct fake_req {
	unsigned type;
	union {
		struct mg_msg_port_alloc pa;
		struct mg_msg_port port;
		struct mg_msg_session sess;
		struct mg_msg_session_id sid;
		struct mg_msg_fork fork;
		struct mg_msg_fork_id fid;
	} body;
	dpc_reply_f cb;
	void *arg;
	bool cancelled;
};

#define FAKE_MAX 256
static struct {
	struct fake_req q[FAKE_MAX];
	unsigned head, tail;
	bool up;
	int port_rc;        /* PORT_ALLOC result to give (0 or -errno) */
	uint16_t next_port;
	unsigned ports_out; /* allocated and not freed */
	unsigned n_add, n_modify, n_del, n_stats;
	unsigned forks;             /* installed now */
	struct mg_msg_fork last_fork;
	struct mg_msg_session last; /* last ADD/MODIFY */
	unsigned sessions;          /* installed now */
	int stats_rc;               /* SESSION_STATS result (-ENOENT: a new dataplane) */
	struct mg_msg_dir_stats idx; /* roc/seq the stats report for every direction */
	uint16_t taken[8];          /* ports asked for by number (PORT_ALLOC) */
	unsigned n_taken;
	bool survived;              /* the dataplane kept everything: EADDRINUSE, EEXIST */
	uint64_t rx_add;            /* added to both sides' received packets (timeouts) */
	unsigned fail_in;           /* the fail_in-th request from now fails to be sent (-ENOBUFS) */
} fk;

int64_t dpc_request(struct dpc *c, unsigned type, const void *body, unsigned timeout_ms, dpc_reply_f cb, void *arg)
{
	struct fake_req *r;
	size_t len = 0;

	(void)c;
	(void)timeout_ms;
	if (!fk.up)
		return -ENOTCONN;
	if (fk.fail_in > 0 && --fk.fail_in == 0)
		return -ENOBUFS; /* dpclient's queue to the dataplane full */
	assert_true(fk.tail - fk.head < FAKE_MAX);
	r = &fk.q[fk.tail++ % FAKE_MAX];
	memset(r, 0, sizeof(*r));
	r->type = type;
	switch (type) {
	case MG_MSG_PORT_ALLOC:
		len = sizeof(struct mg_msg_port_alloc);
		break;
	case MG_MSG_PORT_FREE:
		len = sizeof(struct mg_msg_port);
		break;
	case MG_MSG_SESSION_ADD:
	case MG_MSG_SESSION_MODIFY:
		len = sizeof(struct mg_msg_session);
		break;
	case MG_MSG_FORK_ADD:
		len = sizeof(struct mg_msg_fork);
		break;
	case MG_MSG_FORK_DEL:
		len = sizeof(struct mg_msg_fork_id);
		break;
	default:
		len = sizeof(struct mg_msg_session_id);
	}
	memcpy(&r->body, body, len);
	r->cb = cb;
	r->arg = arg;
	return fk.tail;
}

bool dpc_is_up(const struct dpc *c)
{
	(void)c;
	return fk.up;
}

unsigned dpc_cancel_arg(struct dpc *c, const void *arg)
{
	unsigned n = 0;

	(void)c;
	for (unsigned i = fk.head; i != fk.tail; i++)
		if (fk.q[i % FAKE_MAX].arg == arg && !fk.q[i % FAKE_MAX].cancelled) {
			fk.q[i % FAKE_MAX].cancelled = true;
			n++;
		}
	return n;
}

/* Answer every queued request (and those they cause) as the dataplane does. */
static void run_dp(void)
{
	while (fk.head != fk.tail) {
		struct fake_req r = fk.q[fk.head++ % FAKE_MAX];
		union {
			struct mg_msg_port port;
			struct mg_msg_session_id sid;
			struct mg_msg_session_stats st;
		} rep;
		int rc = 0;
		const void *body = NULL;

		if (r.cancelled)
			continue;
		memset(&rep, 0, sizeof(rep));
		switch (r.type) {
		case MG_MSG_PORT_ALLOC:
			rc = fk.port_rc;
			if (rc == 0 && r.body.pa.local.port != 0 && fk.survived) {
				rc = -EADDRINUSE;
			} else if (rc == 0 && r.body.pa.local.port != 0) {
				rep.port.local = r.body.pa.local;
				rep.port.rtcp_port = (uint16_t)(r.body.pa.local.port + 1);
				if (fk.n_taken < 8)
					fk.taken[fk.n_taken++] = r.body.pa.local.port;
				fk.ports_out++;
				body = &rep.port;
			} else if (rc == 0) {
				rep.port.local.family = MG_FAMILY_IPV4;
				inet_pton(AF_INET, "192.0.2.1", rep.port.local.addr);
				rep.port.local.port = fk.next_port;
				rep.port.rtcp_port = (uint16_t)(fk.next_port + 1);
				fk.next_port = (uint16_t)(fk.next_port + 2);
				fk.ports_out++;
				body = &rep.port;
			}
			break;
		case MG_MSG_PORT_FREE:
			fk.ports_out--;
			break;
		case MG_MSG_SESSION_ADD:
			if (fk.survived) {
				rc = -EEXIST;
				break;
			}
			fk.n_add++;
			fk.sessions++;
			fk.last = r.body.sess;
			rep.sid.id = r.body.sess.id;
			body = &rep.sid;
			break;
		case MG_MSG_SESSION_MODIFY:
			fk.n_modify++;
			fk.last = r.body.sess;
			rep.sid.id = r.body.sess.id;
			body = &rep.sid;
			break;
		case MG_MSG_SESSION_DEL:
			fk.n_del++;
			fk.sessions--;
			fk.forks = 0; /* a session's forks go with it */
			/* fallthrough */
		case MG_MSG_SESSION_STATS:
			if (r.type == MG_MSG_SESSION_STATS) {
				fk.n_stats++;
				rc = fk.stats_rc;
				for (unsigned l = 0; l < 2; l++)
					for (unsigned d = 0; d < 2; d++) {
						rep.st.legs[l][d].roc = fk.idx.roc;
						rep.st.legs[l][d].seq = fk.idx.seq;
						rep.st.legs[l][d].seq_valid = fk.idx.seq_valid;
					}
				if (rc < 0) {
					r.cb(r.arg, rc, NULL);
					continue;
				}
			}
			rep.st.id = r.body.sid.id;
			rep.st.legs[0][0].packets = 100 + fk.rx_add;
			rep.st.legs[0][0].bytes = 17200;
			rep.st.legs[1][0].packets = 90 + fk.rx_add;
			rep.st.legs[1][0].drops[MG_DROP_AUTH] = 3;
			body = &rep.st;
			break;
		case MG_MSG_FORK_ADD:
			fk.forks++;
			fk.last_fork = r.body.fork;
			break;
		case MG_MSG_FORK_DEL:
			fk.forks--;
			break;
		default:
			fail_msg("unexpected request type %u", r.type);
		}
		if (r.cb)
			r.cb(r.arg, rc, body);
	}
}

/* ------------------------------------------------------------ helpers */

struct got {
	int calls;
	enum media_err err;
	char why[256];
	char sdp[8192];
	bool have_stats;
	uint64_t a_rx_packets, b_rx_auth;
};

static void on_done(void *arg, const struct media_result *res)
{
	struct got *g = arg;

	g->calls++;
	g->err = res->err;
	snprintf(g->why, sizeof(g->why), "%s", res->why);
	g->sdp[0] = '\0';
	if (res->sdp)
		snprintf(g->sdp, sizeof(g->sdp), "%.*s", (int)res->sdp_len, res->sdp);
	g->have_stats = res->have_stats;
	if (res->session && res->session->side[0].active >= 0)
		g->a_rx_packets = res->stats[0][res->session->side[0].active][0].rx.packets;
	if (res->session && res->session->side[1].active >= 0)
		g->b_rx_auth = res->stats[1][res->session->side[1].active][0].rx.auth_failures;
}

static const char KEY_A[] = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";  /* 30 bytes base64 */
static const char KEY_B[] = "PS1uQCVoW1FLc3BwbEFaaERTbUJFNCp6b0JXKj1h";

static char *sdp_of(const char *addr, unsigned port, const char *proto, const char *crypto)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
		 "m=audio %u %s 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
		 "a=fmtp:101 0-15\r\na=ptime:20\r\n%s%s%s",
		 addr, addr, port, proto, crypto ? "a=crypto:" : "", crypto ? crypto : "", crypto ? "\r\n" : "");
	return buf;
}

static void parse_out(const char *sdp, struct sdprw_sdp *out)
{
	char why[256];

	assert_int_equal(sdprw_parse(sdp, strlen(sdp), out, why, sizeof(why)), 0);
}

static struct mg_settings settings;

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.up = true;
	fk.next_port = 30000;
	memset(&settings, 0, sizeof(settings));
	settings.crypto_suites[0] = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	settings.crypto_suites[1] = MG_SRTP_AES_CM_128_HMAC_SHA1_32;
	settings.n_crypto_suites = 2;
	media_start((struct dpc *)&fk, &settings);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	media_stop();
	run_dp();
	assert_int_equal(fk.ports_out, 0);
	assert_int_equal(fk.sessions, 0);
	return 0;
}

static void offer(const char *call, const char *ft, const char *tt, const char *sdp, const struct media_opts *o,
		  struct got *g)
{
	memset(g, 0, sizeof(*g));
	media_offer(call, ft, tt, sdp, strlen(sdp), o, on_done, g);
	run_dp();
	assert_int_equal(g->calls, 1);
}

static void answer(const char *call, const char *ft, const char *tt, const char *sdp, const struct media_opts *o,
		   struct got *g)
{
	memset(g, 0, sizeof(*g));
	media_answer(call, ft, tt, sdp, strlen(sdp), o, on_done, g);
	run_dp();
	assert_int_equal(g->calls, 1);
}

/* ------------------------------------------------------------- tests */

/* Plain caller, SRTP callee: the relay encrypts towards the callee. */
static void test_rtp_to_srtp(void **state)
{
	struct media_opts o = { .profile = "RTP/SAVP", .replace_origin = true };
	struct sdprw_sdp *s = calloc(1, sizeof(*s));
	struct got g;
	char line[256];

	(void)state;
	offer("c1", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	parse_out(g.sdp, s);
	assert_int_equal(s->n_media, 1);
	assert_string_equal(s->m[0].proto, "RTP/SAVP");
	assert_string_equal(s->m[0].addr, "192.0.2.1");
	assert_string_equal(s->origin_addr, "192.0.2.1");
	assert_int_equal(s->m[0].n_crypto, 2);
	assert_int_equal(s->m[0].crypto[0].suite->id, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(fk.ports_out, 2);
	assert_int_equal(fk.n_add, 0); /* installed at the answer */
	/* codec lines kept verbatim */
	assert_non_null(strstr(g.sdp, "a=fmtp:101 0-15\r\n"));

	/* the callee picks tag 1 (_80) with its own key */
	snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", KEY_B);
	answer("c1", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/SAVP", line), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	parse_out(g.sdp, s);
	assert_string_equal(s->m[0].proto, "RTP/AVP");
	assert_int_equal(s->m[0].n_crypto, 0);
	assert_int_equal(fk.n_add, 1);
	/* leg 0: the caller, plain, its SDP endpoint */
	assert_int_equal(fk.last.legs[0].rx.suite, MG_SRTP_SUITE_NONE);
	assert_int_equal(fk.last.legs[0].remote.port, 4000);
	assert_int_equal(s->m[0].port, fk.last.legs[0].local.port);
	/* leg 1: the callee's key in, our offered _80 key out */
	assert_int_equal(fk.last.legs[1].remote.port, 5000);
	assert_int_equal(fk.last.legs[1].rx.suite, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(fk.last.legs[1].tx.suite, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_memory_not_equal(fk.last.legs[1].rx.key, fk.last.legs[1].tx.key, 16);
	free(s);
}

/* SPEC 12: latching legs; media-handover only when asked for (offer or
 * answer: it sticks to the session) or configured. */
static void test_handover_flag(void **state)
{
	struct media_opts o = { 0 }, h = { .media_handover = true };
	struct got g;

	(void)state;
	offer("c1", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	answer("c1", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	for (unsigned l = 0; l < 2; l++) {
		assert_int_equal(fk.last.legs[l].source_policy, MG_SOURCE_LATCH);
		assert_int_equal(fk.last.legs[l].flags & MG_LEG_F_HANDOVER, 0);
	}
	/* asked for on the offer only: the answer's MODIFY still carries it */
	offer("c2", "ta", NULL, sdp_of("10.1.0.2", 4002, "RTP/AVP", NULL), &h, &g);
	answer("c2", "ta", "tb", sdp_of("10.2.0.2", 5002, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	for (unsigned l = 0; l < 2; l++)
		assert_int_equal(fk.last.legs[l].flags & MG_LEG_F_HANDOVER, MG_LEG_F_HANDOVER);
	/* mediagate.media.handover=true: every leg */
	settings.media_handover = true;
	media_reload(&settings);
	offer("c3", "ta", NULL, sdp_of("10.1.0.2", 4004, "RTP/AVP", NULL), &o, &g);
	answer("c3", "ta", "tb", sdp_of("10.2.0.2", 5004, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.last.legs[0].flags & MG_LEG_F_HANDOVER, MG_LEG_F_HANDOVER);
	settings.media_handover = false;
	media_reload(&settings);
}

/* SRTP both ways: each leg has keys of its own. */
static void test_srtp_both(void **state)
{
	struct media_opts o = { 0 };
	struct sdprw_sdp *s = calloc(1, sizeof(*s));
	struct got g;
	char la[256], lb[256];
	struct sdp_crypto ours_to_a;
	char why[128];

	(void)state;
	snprintf(la, sizeof(la), "7 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_A);
	offer("c2", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/SAVP", la), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	parse_out(g.sdp, s);
	assert_string_equal(s->m[0].proto, "RTP/SAVP");
	assert_int_equal(s->m[0].n_crypto, 2);
	assert_null(strstr(g.sdp, KEY_A)); /* the caller's key never goes on */

	snprintf(lb, sizeof(lb), "2 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_B);
	answer("c2", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/SAVP", lb), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	parse_out(g.sdp, s);
	assert_int_equal(s->m[0].n_crypto, 1);
	ours_to_a = s->m[0].crypto[0];
	assert_int_equal(ours_to_a.tag, 7); /* answers the caller's tag */
	assert_int_equal(ours_to_a.suite->id, MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(fk.last.legs[0].rx.suite, MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_memory_equal(fk.last.legs[0].tx.key, ours_to_a.keys[0].key, 16);
	assert_memory_not_equal(fk.last.legs[0].tx.key, fk.last.legs[1].tx.key, 16);
	assert_int_equal(fk.last.legs[1].rx.suite, MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	(void)why;

	/* delete: final counters, everything given back */
	{
		struct got d = { 0 };

		media_delete("c2", "ta", NULL, on_done, &d);
		run_dp();
		assert_int_equal(d.calls, 1);
		assert_int_equal(d.err, MEDIA_OK);
		assert_true(d.have_stats);
		assert_int_equal(d.a_rx_packets, 100);
		assert_int_equal(d.b_rx_auth, 3);
		assert_int_equal(fk.sessions, 0);
		assert_int_equal(fk.ports_out, 0);
		assert_null(media_find("c2"));
	}
	free(s);
}

static void test_limits_and_errors(void **state)
{
	struct media_opts o = { 0 };
	struct got g;

	(void)state;
	settings.max_calls = 1;
	media_reload(&settings);
	offer("c3", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	offer("c4", "ta", NULL, sdp_of("10.1.0.2", 4002, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_E_LIMIT);
	assert_string_equal(g.why, "Parallel session limit reached");
	/* a re-offer of a known call is not a new session */
	offer("c3", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.ports_out, 2);
	settings.max_calls = 0;
	media_reload(&settings);

	/* out of ports: refused, nothing left behind */
	fk.port_rc = -ENOSPC;
	offer("c5", "ta", NULL, sdp_of("10.1.0.2", 4004, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_E_PORTS);
	assert_string_equal(g.why, "Ran out of ports");
	assert_null(media_find("c5"));
	fk.port_rc = 0;

	/* DTLS-SRTP only: refused with the reason */
	offer("c6", "ta", NULL,
	      "v=0\r\no=- 1 1 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\n"
	      "m=audio 4006 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n",
	      &o, &g);
	assert_int_equal(g.err, MEDIA_E_POLICY);
	assert_non_null(strstr(g.why, "DTLS"));
	assert_null(media_find("c6"));

	/* answer to nothing, garbage SDP */
	answer("nope", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_E_NOTFOUND);
	offer("c7", "ta", NULL, "hello", &o, &g);
	assert_int_equal(g.err, MEDIA_E_SDP);
	assert_null(media_find("c7"));

	/* the second PORT_ALLOC cannot be sent (dpclient's queue full), the
	 * first was: one answer, once its reply is in; nothing left behind */
	{
		struct media_counters mc0, mc1;

		media_get_counters(&mc0);
		fk.fail_in = 2;
		offer("c9", "ta", NULL, sdp_of("10.1.0.2", 4010, "RTP/AVP", NULL), &o, &g);
		media_get_counters(&mc1);
		assert_int_equal(g.err, MEDIA_E_DATAPLANE);
		assert_int_equal(mc1.offers - mc0.offers, 1);
		assert_null(media_find("c9"));
		assert_int_equal(fk.ports_out, 2); /* c3's */
	}
	/* two streams: the answer's second SESSION_ADD cannot be sent */
	{
		static const char two_a[] = "v=0\r\no=- 1 1 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\n"
					    "t=0 0\r\nm=audio 4012 RTP/AVP 0\r\nm=audio 4014 RTP/AVP 0\r\n";
		static const char two_b[] = "v=0\r\no=- 1 1 IN IP4 10.2.0.2\r\ns=-\r\nc=IN IP4 10.2.0.2\r\n"
					    "t=0 0\r\nm=audio 5012 RTP/AVP 0\r\nm=audio 5014 RTP/AVP 0\r\n";
		struct media_counters mc0, mc1;

		offer("c10", "ta", NULL, two_a, &o, &g);
		assert_int_equal(g.err, MEDIA_OK);
		media_get_counters(&mc0);
		fk.fail_in = 2;
		answer("c10", "ta", "tb", two_b, &o, &g);
		media_get_counters(&mc1);
		assert_int_equal(g.err, MEDIA_E_DATAPLANE);
		assert_int_equal(mc1.answers - mc0.answers, 1);
		media_delete("c10", "ta", NULL, on_done, &g);
		run_dp();
	}

	/* dataplane gone */
	fk.up = false;
	offer("c8", "ta", NULL, sdp_of("10.1.0.2", 4008, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_E_DATAPLANE);
	fk.up = true;
	assert_null(media_find("c8"));
}

/* RFC 3960: the second to-tag answering the same offer takes over; a
 * delete naming the other fork removes only that party. */
static void test_forks(void **state)
{
	struct media_opts o = { 0 };
	struct got g;

	(void)state;
	offer("c9", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	answer("c9", "ta", "fork1", sdp_of("10.2.0.2", 5000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.n_add, 1);
	answer("c9", "ta", "fork2", sdp_of("10.3.0.2", 6000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.n_modify, 1);
	assert_int_equal(fk.last.legs[1].remote.port, 6000);
	assert_int_equal(media_find("c9")->side[1].n_parties, 2);
	{
		struct got d = { 0 };

		media_delete("c9", "ta", "fork1", on_done, &d);
		run_dp();
		assert_int_equal(d.err, MEDIA_OK);
		assert_int_equal(media_find("c9")->side[1].n_parties, 1);
		assert_int_equal(fk.sessions, 1);
	}
	/* query: counters of the installed pair */
	{
		struct got q = { 0 };

		media_query("c9", on_done, &q);
		run_dp();
		assert_int_equal(q.err, MEDIA_OK);
		assert_true(q.have_stats);
		assert_int_equal(fk.n_stats, 1);
	}
}

/* Recording: two forks per installed stream, decrypted, to the recorder. */
static void test_recording(void **state)
{
	struct media_opts o = { .profile = "RTP/SAVP" };
	struct mg_msg_addr dest;
	struct got g;
	char line[256];

	(void)state;
	assert_int_equal(mg_proto_addr_parse("127.0.0.1:9000", &dest), 0);
	offer("cr", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	memset(&g, 0, sizeof(g));
	media_record("cr", true, &dest, on_done, &g);
	run_dp();
	assert_int_equal(g.err, MEDIA_E_NOTFOUND); /* nothing installed before the answer */
	snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", KEY_B);
	answer("cr", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/SAVP", line), &o, &g);
	memset(&g, 0, sizeof(g));
	media_record("cr", true, &dest, on_done, &g);
	run_dp();
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.forks, 2);
	assert_int_equal(fk.last_fork.remote.port, 9002);
	assert_int_equal(fk.last_fork.crypto.suite, MG_SRTP_SUITE_NONE); /* decrypted copy */
	assert_true(media_find("cr")->recording);
	memset(&g, 0, sizeof(g));
	media_record("cr", false, NULL, on_done, &g);
	run_dp();
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.forks, 0);
	assert_false(media_find("cr")->recording);
}

/* block media: the party's leg gets MG_LEG_F_BLOCK by a MODIFY (strict
 * source kept), unblock takes it away; an unknown tag is refused. */
static void test_block(void **state)
{
	struct media_opts o = { .strict_source = true };
	struct got g;

	(void)state;
	offer("cb", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL), &o, &g);
	answer("cb", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/AVP", NULL), &o, &g);
	assert_int_equal(fk.n_add, 1);
	memset(&g, 0, sizeof(g));
	media_block("cb", "tb", true, on_done, &g);
	run_dp();
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.n_modify, 1);
	assert_true(fk.last.legs[1].flags & MG_LEG_F_BLOCK);
	assert_false(fk.last.legs[0].flags & MG_LEG_F_BLOCK);
	assert_int_equal(fk.last.legs[0].source_policy, MG_SOURCE_STRICT);
	memset(&g, 0, sizeof(g));
	media_block("cb", NULL, false, on_done, &g);
	run_dp();
	assert_int_equal(g.err, MEDIA_OK);
	assert_false(fk.last.legs[1].flags & MG_LEG_F_BLOCK);
	memset(&g, 0, sizeof(g));
	media_block("cb", "nobody", true, on_done, &g);
	run_dp();
	assert_int_equal(g.err, MEDIA_E_NOTFOUND);
}

/* Operations on one session run in order, one at a time. */
static void test_queueing(void **state)
{
	struct media_opts o = { 0 };
	struct got g1, g2, g3;

	(void)state;
	memset(&g1, 0, sizeof(g1));
	memset(&g2, 0, sizeof(g2));
	memset(&g3, 0, sizeof(g3));
	{
		const char *of = sdp_of("10.1.0.2", 4000, "RTP/AVP", NULL);

		media_offer("cq", "ta", NULL, of, strlen(of), &o, on_done, &g1);
	}
	{
		const char *a = sdp_of("10.2.0.2", 5000, "RTP/AVP", NULL);

		media_answer("cq", "ta", "tb", a, strlen(a), &o, on_done, &g2);
	}
	media_delete("cq", "ta", NULL, on_done, &g3);
	assert_int_equal(g1.calls + g2.calls + g3.calls, 0); /* all wait for the dataplane */
	run_dp();
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g2.err, MEDIA_OK);
	assert_int_equal(g3.calls, 1);
	assert_int_equal(g3.err, MEDIA_OK);
	assert_null(media_find("cq"));
}

/* mediagate.dataplane.restartWait: the dataplane restarts under an SRTP
 * session: nothing is ended while it is away; when a new one connects the
 * session's ports are taken again by number and its stream installed again
 * (ADD) going on from the SRTP indexes read back before (MG_CRYPTO_F_SEQ). */
static void test_dataplane_restart(void **state)
{
	struct media_opts o = { 0 };
	struct got g;
	char la[256], lb[256];
	const struct media_session *m;
	uint16_t p0, p1;

	(void)state;
	media_dp_set_restart_wait(30);
	snprintf(la, sizeof(la), "7 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_A);
	offer("c9", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/SAVP", la), &o, &g);
	snprintf(lb, sizeof(lb), "2 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_B);
	answer("c9", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/SAVP", lb), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.n_add, 1);
	m = media_find("c9");
	assert_non_null(m);
	p0 = m->side[0].ports[0].local.port;
	p1 = m->side[1].ports[0].local.port;

	/* the indexes are read back */
	fk.idx.roc = 2;
	fk.idx.seq = 65000;
	fk.idx.seq_valid = 1;
	media_tick();
	run_dp();
	assert_int_equal(fk.n_stats, 1);

	/* lost: nothing happens to the session */
	fk.up = false;
	media_dataplane_state(false);
	assert_non_null(media_find("c9"));
	media_tick();

	/* a new dataplane: it does not know the session */
	fk.up = true;
	fk.sessions = 0;
	fk.ports_out = 0;
	media_dataplane_state(true);
	run_dp();
	assert_int_equal(fk.n_taken, 2);
	assert_true((fk.taken[0] == p0 && fk.taken[1] == p1) || (fk.taken[0] == p1 && fk.taken[1] == p0));
	assert_int_equal(fk.n_add, 2);
	assert_int_equal(fk.sessions, 1);
	assert_int_equal(fk.last.legs[0].local.port, p0);
	assert_int_equal(fk.last.legs[1].local.port, p1);
	for (unsigned l = 0; l < 2; l++) {
		assert_int_equal(fk.last.legs[l].tx.flags, MG_CRYPTO_F_SEQ);
		assert_int_equal(fk.last.legs[l].tx.roc, 2);
		assert_int_equal(fk.last.legs[l].tx.seq, 65000);
		assert_int_equal(fk.last.legs[l].rx.flags, MG_CRYPTO_F_SEQ);
	}
	m = media_find("c9");
	assert_int_equal(m->side[0].ports[0].local.port, p0);

	/* lost again, the same dataplane back with everything: ports in use
	 * (ours), the session exists (kept) */
	fk.up = false;
	media_dataplane_state(false);
	fk.up = true;
	fk.survived = true;
	media_dataplane_state(true);
	run_dp();
	fk.survived = false;
	assert_int_equal(fk.n_add, 2);
	assert_int_equal(fk.sessions, 1);
	assert_int_equal(fk.ports_out, 2);
	assert_int_equal(media_find("c9")->side[1].ports[0].local.port, p1);

	/* the session works as before: delete gives everything back */
	{
		struct got d = { 0 };

		media_delete("c9", "ta", NULL, on_done, &d);
		run_dp();
		assert_int_equal(d.err, MEDIA_OK);
		assert_int_equal(fk.sessions, 0);
		assert_int_equal(fk.ports_out, 0);
	}
	media_dp_set_restart_wait(0);
}

/* The highest indexes read back (SESSION_STATS) go into a re-install's
 * session: SRTP directions with a known index get it (MG_CRYPTO_F_SEQ),
 * plain ones and unknown ones nothing; no ROC reset survives. */
static void test_index_kept(void **state)
{
	struct media_dp_index ix[2][2];
	struct mg_msg_session_stats st;
	struct mg_msg_session m;

	(void)state;
	memset(ix, 0, sizeof(ix));
	memset(&st, 0, sizeof(st));
	st.legs[0][1].roc = 3;
	st.legs[0][1].seq = 65530;
	st.legs[0][1].seq_valid = 1;
	st.legs[1][0].roc = 7; /* not valid: not taken */
	media_dp_index_take(ix, &st);
	assert_true(ix[0][1].valid);
	assert_false(ix[1][0].valid);
	/* a later read that knows nothing keeps the last */
	memset(&st, 0, sizeof(st));
	media_dp_index_take(ix, &st);
	assert_true(ix[0][1].valid);
	assert_int_equal(ix[0][1].seq, 65530);

	memset(&m, 0, sizeof(m));
	m.legs[0].tx.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	m.legs[0].tx.flags = MG_CRYPTO_F_ROC_RESET;
	m.legs[0].rx.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	ix[1][1] = (struct media_dp_index){ .roc = 1, .seq = 2, .valid = true }; /* plain: nothing */
	media_dp_index_apply(&m, ix);
	assert_int_equal(m.legs[0].tx.flags, MG_CRYPTO_F_SEQ);
	assert_int_equal(m.legs[0].tx.roc, 3);
	assert_int_equal(m.legs[0].tx.seq, 65530);
	assert_int_equal(m.legs[0].rx.flags, 0);
	assert_int_equal(m.legs[1].tx.flags, 0);
	assert_int_equal(m.legs[1].tx.seq, 0);
}

/* ------------------------------------------------------- NG timeouts */

static uint64_t fake_ms = 1000000;

static uint64_t fake_clock(void)
{
	return fake_ms;
}

/* @p secs ticks, one a second (main.c's timer), the dataplane answering;
 * with @p media the parties' counters move between ticks. */
static void run_ticks(unsigned secs, bool media)
{
	for (unsigned i = 0; i < secs; i++) {
		fake_ms += 1000;
		if (media)
			fk.rx_add += 50;
		media_tick();
		run_dp();
	}
}

static uint64_t expired_by(enum media_to_reason r)
{
	uint64_t c[MEDIA_TO_COUNT];

	media_timeout_get_counters(c);
	return c[r];
}

/* An audio SDP with an a=DIR line (NULL: none, sendrecv). */
static const char *sdp_dir(const char *addr, unsigned port, const char *dir)
{
	static char buf[1200];

	snprintf(buf, sizeof(buf), "%s%s%s%s", sdp_of(addr, port, "RTP/AVP", NULL), dir ? "a=" : "", dir ? dir : "",
		 dir ? "\r\n" : "");
	return buf;
}

static void call_up(const char *call, const char *dir_a, const char *dir_b)
{
	struct got g;

	offer(call, "ta", NULL, sdp_dir("10.1.0.2", 4000, dir_a), NULL, &g);
	assert_int_equal(g.err, MEDIA_OK);
	answer(call, "ta", "tb", sdp_dir("10.2.0.2", 5000, dir_b), NULL, &g);
	assert_int_equal(g.err, MEDIA_OK);
}

/* mediagate.ng.offerTimeout: an offer never answered is deleted (its ports
 * freed) after the limit, not before; counted as offer_timeout. */
static void test_offer_timeout(void **state)
{
	struct got g;
	uint64_t before = expired_by(MEDIA_TO_OFFER), deleted;
	struct media_counters mc;

	(void)state;
	settings.ng_offer_timeout_s = 20;
	settings.ng_timeout_s = 10;
	media_reload(&settings);
	media_set_clock(fake_clock);
	offer("o1", "ta", NULL, sdp_dir("10.1.0.2", 4000, NULL), NULL, &g);
	assert_int_equal(g.err, MEDIA_OK);
	assert_int_equal(fk.ports_out, 2);
	media_get_counters(&mc);
	deleted = mc.deleted;
	run_ticks(19, false);
	assert_non_null(media_find("o1"));
	assert_int_equal(expired_by(MEDIA_TO_OFFER), before);
	run_ticks(2, false);
	assert_null(media_find("o1"));
	assert_int_equal(fk.ports_out, 0);
	assert_int_equal(expired_by(MEDIA_TO_OFFER), before + 1);
	media_get_counters(&mc);
	assert_int_equal(mc.deleted, deleted + 1);
	/* an answer that comes later finds nothing */
	answer("o1", "ta", "tb", sdp_dir("10.2.0.2", 5000, NULL), NULL, &g);
	assert_int_equal(g.err, MEDIA_E_NOTFOUND);
	media_set_clock(NULL);
}

/* mediagate.ng.timeout: an answered session lives while media moves (far
 * past the limit), and is deleted from the dataplane once it has not moved
 * for the limit; an answer restarts the clock (no media yet is fine for the
 * first period). */
static void test_media_timeout(void **state)
{
	uint64_t before = expired_by(MEDIA_TO_TIMEOUT);
	unsigned dels;

	(void)state;
	settings.ng_timeout_s = 10;
	settings.ng_silent_timeout_s = 100;
	settings.ng_offer_timeout_s = 5; /* answered sessions: not concerned */
	media_reload(&settings);
	media_set_clock(fake_clock);
	call_up("m1", NULL, NULL);
	assert_int_equal(fk.sessions, 1);
	run_ticks(8, false);            /* within the first period: kept */
	assert_non_null(media_find("m1"));
	run_ticks(40, true);            /* media flows: kept */
	assert_non_null(media_find("m1"));
	assert_int_equal(expired_by(MEDIA_TO_TIMEOUT), before);
	dels = fk.n_del;
	run_ticks(8, false);            /* silence, under the limit */
	assert_non_null(media_find("m1"));
	run_ticks(7, false);            /* over it (and a poll period) */
	assert_null(media_find("m1"));
	assert_int_equal(fk.n_del, dels + 1);
	assert_int_equal(fk.sessions, 0);
	assert_int_equal(fk.ports_out, 0);
	assert_int_equal(expired_by(MEDIA_TO_TIMEOUT), before + 1);
	media_set_clock(NULL);
}

/* mediagate.ng.silentTimeout: both parties inactive (or one on hold with
 * c=0.0.0.0 / recvonly and the other inactive): no media is expected, the
 * session stays past ng.timeout and goes after silentTimeout; one party
 * that should send and does not: ng.timeout. */
static void test_silent_timeout(void **state)
{
	uint64_t silent = expired_by(MEDIA_TO_SILENT), loud = expired_by(MEDIA_TO_TIMEOUT);

	(void)state;
	settings.ng_timeout_s = 10;
	settings.ng_silent_timeout_s = 60;
	media_reload(&settings);
	media_set_clock(fake_clock);
	call_up("s1", "inactive", "inactive");
	/* the caller holds with music (should send), the callee is not
	 * expected to: rtpengine's rule, alive while any direction is within
	 * its limit, keeps it for silentTimeout */
	call_up("s2", "sendonly", "recvonly");
	call_up("s3", NULL, NULL);
	run_ticks(20, false);
	assert_non_null(media_find("s1"));
	assert_non_null(media_find("s2"));
	assert_null(media_find("s3"));
	assert_int_equal(expired_by(MEDIA_TO_TIMEOUT), loud + 1);
	run_ticks(30, false);
	assert_non_null(media_find("s1"));
	assert_non_null(media_find("s2"));
	run_ticks(15, false);
	assert_null(media_find("s1"));
	assert_null(media_find("s2"));
	assert_int_equal(expired_by(MEDIA_TO_SILENT), silent + 2);
	assert_int_equal(expired_by(MEDIA_TO_TIMEOUT), loud + 1);
	media_set_clock(NULL);
}

/* mediagate.ng.finalTimeout: media or not, the session goes after it; a
 * re-offer (re-INVITE) restarts the media clock, not the final one. */
static void test_final_timeout(void **state)
{
	uint64_t before = expired_by(MEDIA_TO_FINAL);
	struct got g;

	(void)state;
	settings.ng_timeout_s = 10;
	settings.ng_final_timeout_s = 30;
	media_reload(&settings);
	media_set_clock(fake_clock);
	call_up("f1", NULL, NULL);
	run_ticks(8, false);
	/* a re-INVITE: a full media period again */
	offer("f1", "ta", "tb", sdp_dir("10.1.0.2", 4000, NULL), NULL, &g);
	answer("f1", "ta", "tb", sdp_dir("10.2.0.2", 5000, NULL), NULL, &g);
	assert_int_equal(g.err, MEDIA_OK);
	run_ticks(8, false);
	assert_non_null(media_find("f1"));
	run_ticks(12, true);
	assert_non_null(media_find("f1"));
	run_ticks(4, true);
	assert_null(media_find("f1"));
	assert_int_equal(expired_by(MEDIA_TO_FINAL), before + 1);
	media_set_clock(NULL);
}

/* The record is written again as the indexes move: when a direction
 * becomes known, its ROC moves, and each time its sequence number enters
 * another quarter of the space (a standby's estimate from the record is
 * right only within 2^15), not for every poll. */
static unsigned n_changed;

static void count_change(const struct media_session *m, bool gone)
{
	(void)m;
	if (!gone)
		n_changed++;
}

static void poll_at(const char *call, uint32_t roc, uint16_t seq)
{
	struct media_session *m = (struct media_session *)(uintptr_t)media_find(call);

	assert_non_null(m);
	m->poll_ms = 0; /* as if MEDIA_INDEX_POLL_MS went by */
	fk.idx.roc = roc;
	fk.idx.seq = seq;
	fk.idx.seq_valid = 1;
	media_tick();
	run_dp();
}

static void test_index_published(void **state)
{
	struct media_opts o = { 0 };
	struct got g;
	char la[256], lb[256];

	(void)state;
	snprintf(la, sizeof(la), "7 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_A);
	offer("c11", "ta", NULL, sdp_of("10.1.0.2", 4000, "RTP/SAVP", la), &o, &g);
	snprintf(lb, sizeof(lb), "2 AES_CM_128_HMAC_SHA1_32 inline:%s", KEY_B);
	answer("c11", "ta", "tb", sdp_of("10.2.0.2", 5000, "RTP/SAVP", lb), &o, &g);
	assert_int_equal(g.err, MEDIA_OK);
	n_changed = 0;
	media_set_change_hook(count_change);

	poll_at("c11", 0, 100); /* known now */
	assert_int_equal(n_changed, 1);
	poll_at("c11", 0, 16000); /* same quarter: not written */
	assert_int_equal(n_changed, 1);
	poll_at("c11", 0, 16400); /* second quarter, same ROC */
	assert_int_equal(n_changed, 2);
	poll_at("c11", 0, 40000); /* third */
	assert_int_equal(n_changed, 3);
	poll_at("c11", 0, 60000); /* fourth */
	assert_int_equal(n_changed, 4);
	poll_at("c11", 1, 10); /* the ROC moved */
	assert_int_equal(n_changed, 5);
	poll_at("c11", 1, 20);
	assert_int_equal(n_changed, 5);
	media_set_change_hook(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rtp_to_srtp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srtp_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handover_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queueing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block, setup, teardown),
		cmocka_unit_test(test_index_kept),
		cmocka_unit_test_setup_teardown(test_index_published, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_media_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_timeout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
