/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The records of docs/ha-state.md: an NG session written and read back is
 * the same session (every field the re-install reads, and the same record
 * written again); a B2BUA call's record carries its dialog and keys;
 * every damaged record is refused with a reason, never half taken.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ha_rec.h"
#include "mg_proto.h"
#include "mg_srtp_suite.h"

static struct media_session *sample(void)
{
	struct media_session *m = calloc(1, sizeof(*m));
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_name("AES_CM_128_HMAC_SHA1_80");

	assert_non_null(m);
	m->key = strdup("a84b4c76e66710@pc33.atlanta.example.com");
	m->created_ms = 1765000000123ull;
	m->last_signal_ms = 1765000004567ull;
	snprintf(m->label, sizeof(m->label), "lbl");
	m->handover = true;
	m->n_streams = 2;
	m->dp[0].id = 0x8000123456789abcull;
	m->dp[0].on = true;
	m->dp[1].id = 0x8000123456789abdull;
	m->ix[0][1][0] = (struct media_dp_index){ .roc = 3, .seq = 65000, .valid = true };
	for (int s = 0; s < 2; s++) {
		struct media_side *sd = &m->side[s];

		sd->rtcp_attr = s == 0;
		for (unsigned i = 0; i < 2; i++) {
			sd->port_ok[i] = i == 0 || s == 1;
			mg_proto_addr_parse(s ? "[2001:db8::5]:30000" : "192.0.2.7:30002", &sd->ports[i].local);
			sd->ports[i].local.port = (uint16_t)(30000 + 4 * s + 2 * i);
			sd->ports[i].rtcp_port = (uint16_t)(sd->ports[i].local.port + 1);
		}
		sd->n_parties = s == 0 ? 1 : 2;
		sd->active = s == 0 ? 0 : 1;
		for (unsigned p = 0; p < sd->n_parties; p++) {
			struct media_party *pt = calloc(1, sizeof(*pt));

			assert_non_null(pt);
			snprintf(pt->tag, sizeof(pt->tag), "tag-%d-%u", s, p);
			pt->answered = s == 1;
			pt->blocked = p == 1;
			pt->n_legs = 2;
			pt->legs = calloc(2, sizeof(*pt->legs));
			for (unsigned i = 0; i < 2; i++) {
				struct media_leg *l = &pt->legs[i];

				mg_proto_addr_parse("198.51.100.9:4000", &l->remote);
				l->remote.port = (uint16_t)(4000 + 2 * i + p);
				l->remote_rtcp_port = (uint16_t)(4001 + 2 * i);
				l->rtcp_mux = i == 1;
				l->relayed = true;
				snprintf(l->profile, sizeof(l->profile), "RTP/SAVP");
				snprintf(l->media_type, sizeof(l->media_type), i ? "video" : "audio");
				if (i == 0) {
					l->rx.suite = si;
					l->rx.tag = 1;
					for (unsigned k = 0; k < si->master_key_len; k++)
						l->rx.key.key[k] = (uint8_t)(k * 7 + p);
					for (unsigned k = 0; k < si->master_salt_len; k++)
						l->rx.key.salt[k] = (uint8_t)(k * 13 + s);
					l->rx.key.lifetime = 1ull << 31;
					l->tx = l->rx;
					l->tx.key.key[0] ^= 0xff;
					l->tx.key.mki = 5;
					l->tx.key.mki_len = 1;
				}
			}
			sd->parties[p] = pt;
		}
	}
	/* an offer to side 1 awaits its answer: our keys per stream */
	m->side[1].offered = calloc(2, sizeof(*m->side[1].offered));
	m->side[1].n_offered_streams = 2;
	m->side[1].n_offered[0] = 1;
	m->side[1].offered[0][0] = m->side[0].parties[0]->legs[0].tx;
	m->side[1].mux_offered[1] = true;
	return m;
}

static char *write_rec(const struct media_session *m, size_t *len)
{
	struct ng_buf b = { 0 };

	assert_int_equal(ha_rec_media(m, &b), 0);
	assert_non_null(b.p);
	*len = b.len;
	return b.p;
}

static void test_media_round_trip(void **state)
{
	struct media_session *m = sample(), *r;
	char why[160], *a, *b;
	size_t la, lb;

	(void)state;
	a = write_rec(m, &la);
	assert_int_equal(ha_rec_kind(a, la), 'n');
	r = ha_rec_media_parse(a, la, why, sizeof(why));
	if (r == NULL)
		fail_msg("refused: %s", why);
	assert_string_equal(r->key, m->key);
	assert_int_equal(r->created_ms, m->created_ms);
	assert_int_equal(r->last_signal_ms, m->last_signal_ms);
	assert_string_equal(r->label, "lbl");
	assert_true(r->handover);
	assert_false(r->strict);
	assert_int_equal(r->n_streams, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(r->dp[i].id, m->dp[i].id);
		assert_int_equal(r->dp[i].on, m->dp[i].on);
		assert_memory_equal(r->ix[i], m->ix[i], sizeof(m->ix[i]));
	}
	for (int s = 0; s < 2; s++) {
		const struct media_side *x = &m->side[s], *y = &r->side[s];

		assert_int_equal(y->active, x->active);
		assert_int_equal(y->rtcp_attr, x->rtcp_attr);
		assert_int_equal(y->n_parties, x->n_parties);
		for (unsigned i = 0; i < 2; i++) {
			assert_int_equal(y->port_ok[i], x->port_ok[i]);
			if (x->port_ok[i])
				assert_memory_equal(&y->ports[i], &x->ports[i], sizeof(x->ports[i]));
		}
		for (unsigned p = 0; p < x->n_parties; p++) {
			const struct media_party *xp = x->parties[p], *yp = y->parties[p];

			assert_string_equal(yp->tag, xp->tag);
			assert_int_equal(yp->answered, xp->answered);
			assert_int_equal(yp->blocked, xp->blocked);
			assert_int_equal(yp->n_legs, xp->n_legs);
			for (unsigned i = 0; i < xp->n_legs; i++) {
				const struct media_leg *xl = &xp->legs[i], *yl = &yp->legs[i];

				assert_memory_equal(&yl->remote, &xl->remote, sizeof(xl->remote));
				assert_int_equal(yl->remote_rtcp_port, xl->remote_rtcp_port);
				assert_int_equal(yl->rtcp_mux, xl->rtcp_mux);
				assert_string_equal(yl->profile, xl->profile);
				assert_string_equal(yl->media_type, xl->media_type);
				assert_ptr_equal(yl->rx.suite, xl->rx.suite);
				assert_ptr_equal(yl->tx.suite, xl->tx.suite);
				assert_int_equal(yl->tx.tag, xl->tx.tag);
				assert_memory_equal(&yl->rx.key, &xl->rx.key, sizeof(xl->rx.key));
				assert_memory_equal(&yl->tx.key, &xl->tx.key, sizeof(xl->tx.key));
			}
		}
	}
	assert_null(r->side[0].offered);
	assert_non_null(r->side[1].offered);
	assert_int_equal(r->side[1].n_offered_streams, 2);
	assert_int_equal(r->side[1].n_offered[0], 1);
	assert_int_equal(r->side[1].n_offered[1], 0);
	assert_true(r->side[1].mux_offered[1]);
	assert_memory_equal(&r->side[1].offered[0][0].key, &m->side[1].offered[0][0].key,
			    sizeof(m->side[1].offered[0][0].key));
	/* written again: the same record */
	b = write_rec(r, &lb);
	assert_int_equal(lb, la);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	ha_rec_media_free(m);
	ha_rec_media_free(r);
}

/* Every prefix and every one-byte change of a record: refused with a
 * reason or read as a consistent session, never a crash (ASan build). */
static void test_media_damaged(void **state)
{
	struct media_session *m = sample(), *r;
	char why[160], *a;
	size_t la;
	unsigned refused = 0, taken = 0;

	(void)state;
	a = write_rec(m, &la);
	for (size_t n = 0; n < la; n++) {
		why[0] = '\0';
		r = ha_rec_media_parse(a, n, why, sizeof(why));
		assert_null(r);
		assert_true(why[0] != '\0');
	}
	for (size_t i = 0; i < la; i++) {
		static const char repl[] = "x9\"{}[]-:,";

		for (const char *c = repl; *c; c++) {
			char save = a[i];

			if (save == *c)
				continue;
			a[i] = *c;
			r = ha_rec_media_parse(a, la, why, sizeof(why));
			if (r == NULL) {
				refused++;
			} else {
				taken++;
				assert_true(r->n_streams <= MEDIA_MAX_STREAMS);
				for (int s = 0; s < 2; s++)
					assert_true(r->side[s].active < (int)r->side[s].n_parties);
				ha_rec_media_free(r);
			}
			a[i] = save;
		}
	}
	assert_true(refused > 0);
	assert_true(taken > 0); /* e.g. a digit of a port changed */
	free(a);
	ha_rec_media_free(m);
}

static void test_media_refused(void **state)
{
	static const char *bad[] = {
		"",
		"null",
		"[]",
		"{\"v\":2,\"kind\":\"ng\"}",
		"{\"v\":1,\"kind\":\"call\",\"key\":\"x\"}",
		"{\"v\":1,\"kind\":\"ng\",\"key\":\"\"}",
		"{\"v\":1,\"kind\":\"ng\",\"key\":\"k\",\"created\":1,\"signal\":1,\"label\":\"\","
		"\"handover\":0,\"strict\":0,\"streams\":5,\"dp\":[],\"sides\":[]}",
		"{\"v\":1,\"kind\":\"ng\",\"key\":\"k\",\"created\":1,\"signal\":1,\"label\":\"\","
		"\"handover\":0,\"strict\":0,\"streams\":1,\"dp\":[{\"id\":\"zz\",\"on\":1,\"index\":"
		"[[0,0,0],[0,0,0],[0,0,0],[0,0,0]]}],\"sides\":[{},{}]}",
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_null(ha_rec_media_parse(bad[i], strlen(bad[i]), why, sizeof(why)));
		assert_true(why[0] != '\0');
	}
	assert_int_equal(ha_rec_kind("{\"v\":2,\"kind\":\"ng\"}", 19), 0);
}

/* The dialog fields a call record's test leg shares: a SIP leg with tags
 * "lt"/"rt" and a port bound to addr. */
static void leg_fill(struct calls_state_leg *l, const char *state, const char *call_id,
		     const char *local_uri, const char *remote_uri, const char *target,
		     const char *route, const char *addr)
{
	l->state = state;
	l->sip = true;
	l->call_id = call_id;
	l->local_tag = "lt";
	l->remote_tag = "rt";
	l->local_uri = local_uri;
	l->remote_uri = remote_uri;
	l->remote_target = target;
	l->route = route;
	l->port_ok = true;
	mg_proto_addr_parse(addr, &l->port.local);
}

static void test_call_record(void **state)
{
	struct calls_state c;
	struct ng_buf b = { 0 };
	struct ng_doc *d = ng_doc_new();
	struct ng_val *root;
	const struct ng_val *legs, *l0;
	char why[128];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.id = 7;
	c.state = "ACTIVE";
	c.started = 1765000000;
	c.sess_id = 0x1234;
	c.sess_on = true;
	c.ix[1][0] = (struct media_dp_index){ .roc = 2, .seq = 9, .valid = true };
	for (int i = 0; i < 2; i++) {
		leg_fill(&c.leg[i], "CONFIRMED", i ? "out-1@gw" : "in-1@peer", "sip:a@x", "sip:b@y",
			 "sip:b@192.0.2.1:5060", "<sip:p1;lr>,<sip:p2;lr>", "192.0.2.7:30000");
		c.leg[i].remote_cseq = 102;
	}
	c.leg[0].srtp = true;
	c.leg[0].suite = mg_srtp_suite_by_name("AES_CM_128_HMAC_SHA1_32");
	c.leg[0].rx_key.key[0] = 0xab;
	assert_int_equal(ha_rec_call(&c, &b), 0);
	assert_int_equal(ha_rec_kind(b.p, b.len), 'c');
	assert_int_equal(ng_json_decode(d, b.p, b.len, NULL, &root, why, sizeof(why)), 0);
	assert_string_equal(ng_dict_str(root, "sess"), "0000000000001234");
	legs = ng_dict_get(root, "legs");
	assert_non_null(legs);
	assert_int_equal(legs->len, 2);
	l0 = legs->child;
	assert_string_equal(ng_dict_str(l0, "call_id"), "in-1@peer");
	assert_string_equal(ng_dict_str(l0->next, "call_id"), "out-1@gw");
	assert_string_equal(ng_dict_str(l0, "route"), "<sip:p1;lr>,<sip:p2;lr>");
	assert_int_equal(ng_dict_get(l0, "remote_cseq")->i, 102);
	assert_string_equal(ng_dict_str(ng_dict_get(l0, "rx"), "key"), "ab000000000000000000000000000000");
	assert_null(ng_dict_get(l0->next, "rx"));
	ng_doc_free(d);
	ng_buf_free(&b);
}

/* A call's record with both negotiations: read back into what
 * calls_adopt() takes, the same fields; damaged: refused or consistent. */
static void test_call_parse(void **state)
{
	struct calls_state c;
	struct sdp_result *neg = calloc(1, sizeof(*neg));
	struct calls_adopt a;
	struct ng_buf b = { 0 };
	char why[160];
	unsigned refused = 0;

	(void)state;
	assert_non_null(neg);
	neg->srtp = true;
	neg->suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	neg->crypto_tag = 1;
	neg->rx.suite = neg->tx.suite = neg->suite;
	neg->rx.dir = MG_SRTP_DIR_INBOUND;
	neg->tx.dir = MG_SRTP_DIR_OUTBOUND;
	neg->rx.nkeys = neg->tx.nkeys = 1;
	neg->rx.keys[0].key[3] = 0x33;
	neg->tx.keys[0].salt[13] = 0x44;
	neg->local_key.key[0] = 0x55;
	snprintf(neg->remote_addr, sizeof(neg->remote_addr), "203.0.113.2");
	neg->remote_family = AF_INET;
	neg->remote_rtp_port = 4000;
	neg->remote_rtcp_port = 4001;
	neg->dir = SDP_DIR_SENDRECV;
	neg->n_pts = 1;
	neg->pts[0].pt = 0;
	snprintf(neg->pts[0].name, sizeof(neg->pts[0].name), "PCMU");
	neg->pts[0].rate = 8000;
	neg->telephone_event_pt = -1;
	neg->sess_id = 12345678901234567890ull;
	neg->sess_version = 2;
	snprintf(neg->sdp, sizeof(neg->sdp), "v=0\r\no=mediagate 1 2 IN IP4 203.0.113.1\r\n");
	neg->sdp_len = strlen(neg->sdp);
	memset(&c, 0, sizeof(c));
	c.state = "active";
	c.sess_id = 0x8000abcd;
	for (int i = 0; i < 2; i++) {
		leg_fill(&c.leg[i], "confirmed", i ? "out@gw" : "in@peer", "sip:gw@192.0.2.1",
			 "sip:peer@192.0.2.9", "sip:peer@192.0.2.9:5060", "", "192.0.2.1:30000");
		c.leg[i].local_cseq = 41 + (uint32_t)i;
		c.leg[i].port.rtcp_port = 30001;
		c.leg[i].neg = neg;
	}
	assert_int_equal(ha_rec_call(&c, &b), 0);
	if (ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)) < 0)
		fail_msg("refused: %s", why);
	assert_int_equal(a.sess_id, 0x8000abcd);
	assert_string_equal(a.leg[1].call_id, "out@gw");
	assert_int_equal(a.leg[1].local_cseq, 42);
	assert_int_equal(a.leg[0].port.local.port, 30000);
	assert_non_null(a.leg[0].neg);
	assert_int_equal(a.leg[0].neg->srtp, 1);
	assert_int_equal(a.leg[0].neg->rx.nkeys, 1);
	assert_memory_equal(&a.leg[0].neg->rx.keys[0], &neg->rx.keys[0], sizeof(neg->rx.keys[0]));
	assert_memory_equal(&a.leg[0].neg->tx.keys[0], &neg->tx.keys[0], sizeof(neg->tx.keys[0]));
	assert_memory_equal(&a.leg[0].neg->local_key, &neg->local_key, sizeof(neg->local_key));
	assert_int_equal(a.leg[0].neg->sess_id, neg->sess_id);
	assert_string_equal(a.leg[0].neg->sdp, neg->sdp);
	assert_string_equal(a.leg[0].neg->pts[0].name, "PCMU");
	ha_rec_adopt_free(&a);
	for (size_t i = 0; i < b.len; i++) {
		char save = b.p[i];

		b.p[i] = save == '1' ? '9' : '1';
		if (ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)) < 0)
			refused++;
		else
			ha_rec_adopt_free(&a);
		b.p[i] = save;
	}
	assert_true(refused > 0);
	for (size_t n = 0; n < b.len; n += 7)
		assert_int_equal(ha_rec_call_parse(b.p, n, &a, why, sizeof(why)), -EINVAL);
	/* Redis content is outside input: a session id with trailing junk (a
	 * wrong dataplane session), a CSeq that cannot go on (+1 past 2^31-1),
	 * a CR LF in a dialog field (a header of the record's making) */
	{
		char *sess = strstr(b.p, "\"sess\":\"000000008000abcd\"");

		assert_non_null(sess);
		sess[strlen("\"sess\":\"000000008000abc")] = 'z';
		assert_int_equal(ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "sess"));
		sess[strlen("\"sess\":\"000000008000abc")] = 'd';
	}
	ng_buf_free(&b);
	memset(&b, 0, sizeof(b));
	c.leg[1].local_cseq = INT32_MAX;
	assert_int_equal(ha_rec_call(&c, &b), 0);
	assert_int_equal(ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)), -EINVAL);
	c.leg[1].local_cseq = 42;
	ng_buf_free(&b);
	memset(&b, 0, sizeof(b));
	c.leg[0].call_id = "in@peer\r\nX-Injected: 1";
	assert_int_equal(ha_rec_call(&c, &b), 0);
	assert_int_equal(ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "call_id"));
	c.leg[0].call_id = "in@peer";
	/* a call that is not active is not taken over */
	c.state = "early";
	ng_buf_free(&b);
	memset(&b, 0, sizeof(b));
	assert_int_equal(ha_rec_call(&c, &b), 0);
	assert_int_equal(ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)), -EINVAL);
	ng_buf_free(&b);
	free(neg);
}

/* A dialog of long values (issue 11: a Request-URI/From/To up to 2,048
 * bytes, a route set of long entries): written and read back whole, never
 * cut; a value beyond what is read back is not written (-E2BIG). */
static void test_call_long_dialog(void **state)
{
	struct calls_state c;
	struct sdp_result *neg = calloc(1, sizeof(*neg));
	struct calls_adopt a;
	struct ng_buf b = { 0 };
	char why[160];
	char *uri[2], *route, *huge;

	(void)state;
	assert_non_null(neg);
	neg->remote_family = AF_INET;
	snprintf(neg->remote_addr, sizeof(neg->remote_addr), "203.0.113.2");
	neg->remote_rtp_port = 4000;
	neg->n_pts = 1;
	snprintf(neg->pts[0].name, sizeof(neg->pts[0].name), "PCMU");
	neg->pts[0].rate = 8000;
	neg->telephone_event_pt = -1;
	neg->sess_version = 1;
	snprintf(neg->sdp, sizeof(neg->sdp), "v=0\r\n");
	neg->sdp_len = strlen(neg->sdp);
	for (int i = 0; i < 2; i++) {
		uri[i] = malloc(2001);
		assert_non_null(uri[i]);
		memcpy(uri[i], "sip:", 4);
		memset(uri[i] + 4, i ? 'b' : 'a', 1986);
		memcpy(uri[i] + 1990, "@192.0.2.9", 10);
		uri[i][2000] = '\0';
	}
	/* 3 entries of 1,900 bytes: "<sip:pN...;lr>" */
	route = malloc(3 * 1902 + 1);
	assert_non_null(route);
	route[0] = '\0';
	for (int e = 0; e < 3; e++) {
		size_t n = strlen(route);

		snprintf(route + n, 3 * 1902 + 1 - n, "%s<sip:p%d", e ? "," : "", e);
		n = strlen(route);
		memset(route + n, 'x', 1888);
		snprintf(route + n + 1888, 3 * 1902 + 1 - n - 1888, ";lr>");
	}
	memset(&c, 0, sizeof(c));
	c.state = "active";
	c.sess_id = 0x77;
	for (int i = 0; i < 2; i++) {
		leg_fill(&c.leg[i], "confirmed", i ? "out@gw" : "in@peer", uri[i], uri[1 - i],
			 uri[1 - i], route, "192.0.2.1:30000");
		c.leg[i].port.rtcp_port = 30001;
		c.leg[i].neg = neg;
	}
	assert_true(strlen(route) > 5000);
	assert_int_equal(ha_rec_call(&c, &b), 0);
	if (ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)) < 0)
		fail_msg("refused: %s", why);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(a.leg[i].local_uri, uri[i]);
		assert_string_equal(a.leg[i].remote_uri, uri[1 - i]);
		assert_string_equal(a.leg[i].remote_target, uri[1 - i]);
		assert_string_equal(a.leg[i].route, route);
	}
	ha_rec_adopt_free(&a);
	ng_buf_free(&b);
	memset(&b, 0, sizeof(b));
	/* beyond what a record may hold: not written at all */
	huge = malloc(HA_REC_STR_MAX + 1);
	assert_non_null(huge);
	memset(huge, 'r', HA_REC_STR_MAX);
	huge[HA_REC_STR_MAX] = '\0';
	c.leg[1].route = huge;
	assert_int_equal(ha_rec_call(&c, &b), -E2BIG);
	assert_int_equal(b.len, 0);
	ng_buf_free(&b);
	free(huge);
	free(route);
	free(uri[0]);
	free(uri[1]);
	free(neg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media_round_trip),
		cmocka_unit_test(test_media_damaged),
		cmocka_unit_test(test_media_refused),
		cmocka_unit_test(test_call_record),
		cmocka_unit_test(test_call_parse),
		cmocka_unit_test(test_call_long_dialog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
