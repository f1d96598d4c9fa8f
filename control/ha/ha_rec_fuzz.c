/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target (meson -Dfuzz=true, clang): any bytes as a record read
 * back from Redis (docs/ha-state.md, "Record format"), through both
 * readers: ha_rec_media_parse() (an NG session) and ha_rec_call_parse() (a
 * B2BUA call), and ha_rec_kind(). A refusal must come with a reason; an
 * accepted record must be consistent (the bounds the re-install relies on),
 * be of the kind ha_rec_kind() says, and survive a round trip: written again
 * with ha_rec_media()/ha_rec_call() and read back, the same session or call,
 * and written once more, the same bytes.
 *
 * MG_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (records of real sessions
 * and calls made with the writer: SRTP on both sides, plain, forks, every
 * limit at its maximum) into DIR and exits. MG_FUZZ_VERBOSE=1 prints each
 * reader's verdict per input (accepted, or refused and why).
 *
 *   build-fuzz/control/ha/ha_rec_fuzz tests/fuzz/corpus/ha_rec -max_total_time=60
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ha_rec.h"
#include "mg_proto.h"
#include "mg_srtp_suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define REC_CHECK(c)                                                                       \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "ha_rec_fuzz: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                             \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* ------------------------------------------------------------ NG sessions */

static bool verbose; /* MG_FUZZ_VERBOSE: each reader's verdict per input */

static void media_consistent(const struct media_session *m)
{
	REC_CHECK(m->key != NULL && m->key[0] != '\0');
	REC_CHECK(m->n_streams <= MEDIA_MAX_STREAMS);
	for (int s = 0; s < 2; s++) {
		const struct media_side *sd = &m->side[s];

		REC_CHECK(sd->n_parties <= MEDIA_MAX_PARTIES);
		REC_CHECK(sd->active >= -1 && sd->active < (int)sd->n_parties);
		if (sd->active >= 0)
			REC_CHECK(sd->parties[sd->active]->n_legs >= m->n_streams);
		for (unsigned p = 0; p < sd->n_parties; p++) {
			REC_CHECK(sd->parties[p] != NULL && sd->parties[p]->n_legs <= MEDIA_MAX_STREAMS);
			REC_CHECK(memchr(sd->parties[p]->tag, '\0', sizeof(sd->parties[p]->tag)) != NULL);
		}
		REC_CHECK(sd->n_offered_streams <= m->n_streams);
		for (unsigned i = 0; i < sd->n_offered_streams; i++)
			REC_CHECK(sd->n_offered[i] <= MG_SRTP_SUITE_COUNT);
	}
}

/* @p a and @p b (one read back from the other's record) hold the same */
static void media_same(const struct media_session *a, const struct media_session *b)
{
	REC_CHECK(strcmp(a->key, b->key) == 0 && strcmp(a->label, b->label) == 0);
	REC_CHECK(a->created_ms == b->created_ms && a->last_signal_ms == b->last_signal_ms);
	REC_CHECK(a->handover == b->handover && a->strict == b->strict);
	REC_CHECK(a->n_streams == b->n_streams);
	for (unsigned i = 0; i < a->n_streams; i++) {
		REC_CHECK(a->dp[i].id == b->dp[i].id && a->dp[i].on == b->dp[i].on);
		REC_CHECK(memcmp(a->ix[i], b->ix[i], sizeof(a->ix[i])) == 0);
	}
	for (int s = 0; s < 2; s++) {
		const struct media_side *x = &a->side[s], *y = &b->side[s];

		REC_CHECK(x->active == y->active && x->rtcp_attr == y->rtcp_attr);
		REC_CHECK(x->n_parties == y->n_parties);
		for (unsigned i = 0; i < a->n_streams; i++) {
			REC_CHECK(x->port_ok[i] == y->port_ok[i]);
			if (x->port_ok[i])
				REC_CHECK(memcmp(&x->ports[i], &y->ports[i], sizeof(x->ports[i])) == 0);
		}
		for (unsigned p = 0; p < x->n_parties; p++) {
			const struct media_party *xp = x->parties[p], *yp = y->parties[p];

			REC_CHECK(strcmp(xp->tag, yp->tag) == 0);
			REC_CHECK(xp->answered == yp->answered && xp->blocked == yp->blocked);
			REC_CHECK(xp->n_legs == yp->n_legs);
			if (xp->n_legs > 0)
				REC_CHECK(memcmp(xp->legs, yp->legs, xp->n_legs * sizeof(*xp->legs)) == 0);
		}
		REC_CHECK((x->offered == NULL) == (y->offered == NULL));
		REC_CHECK(x->n_offered_streams == y->n_offered_streams);
		for (unsigned i = 0; i < x->n_offered_streams; i++) {
			REC_CHECK(x->mux_offered[i] == y->mux_offered[i] && x->n_offered[i] == y->n_offered[i]);
			REC_CHECK(memcmp(x->offered[i], y->offered[i], x->n_offered[i] * sizeof(x->offered[i][0])) == 0);
		}
	}
}

static void media_one(const char *in, size_t n)
{
	struct media_session *m, *m2;
	struct ng_buf a = { 0 }, b = { 0 };
	char why[160];

	why[0] = '\0';
	m = ha_rec_media_parse(in, n, why, sizeof(why));
	if (verbose)
		fprintf(stderr, "ng session: %s%s\n", m ? "accepted" : "refused: ", m ? "" : why);
	if (m == NULL) {
		REC_CHECK(why[0] != '\0');
		return;
	}
	REC_CHECK(ha_rec_kind(in, n) == 'n');
	media_consistent(m);
	if (ha_rec_media(m, &a) == 0) {
		m2 = ha_rec_media_parse(a.p, a.len, why, sizeof(why));
		if (m2 == NULL) {
			fprintf(stderr, "ha_rec_fuzz: the record written again is refused: %s\n", why);
			abort();
		}
		media_same(m, m2);
		if (ha_rec_media(m2, &b) == 0)
			REC_CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
		ha_rec_media_free(m2);
	}
	ng_buf_free(&a);
	ng_buf_free(&b);
	ha_rec_media_free(m);
}

/* ------------------------------------------------------------ B2BUA calls */

/* a dialog value: NULL reads as "" (calls.h) */
static const char *S(const char *p)
{
	return p != NULL ? p : "";
}

/* The call a read-back record stands for, as calls.c would publish it once
 * adopted (an active call of two confirmed SIP dialogs). */
static void call_state_of(const struct calls_adopt *a, struct calls_state *c)
{
	memset(c, 0, sizeof(*c));
	c->id = 1;
	c->state = "active";
	c->started = a->started;
	c->sess_id = a->sess_id;
	c->sess_on = true;
	memcpy(c->ix, a->ix, sizeof(c->ix));
	for (int i = 0; i < 2; i++) {
		const struct calls_adopt_leg *al = &a->leg[i];
		struct calls_state_leg *l = &c->leg[i];

		l->state = "confirmed";
		l->sip = true;
		l->ua = al->ua;
		l->call_id = S(al->call_id);
		l->local_tag = S(al->local_tag);
		l->remote_tag = S(al->remote_tag);
		l->local_uri = S(al->local_uri);
		l->remote_uri = S(al->remote_uri);
		l->remote_target = S(al->remote_target);
		l->route = S(al->route);
		l->remote_cseq = al->remote_cseq;
		l->local_cseq = al->local_cseq;
		l->neg = al->neg;
		l->port = al->port;
		l->port_ok = true;
	}
}

static bool text_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void call_consistent(const struct calls_adopt *a)
{
	REC_CHECK(a->sess_id != 0);
	for (int i = 0; i < 2; i++) {
		const struct calls_adopt_leg *l = &a->leg[i];
		const struct sdp_result *r = l->neg;

		REC_CHECK(S(l->call_id)[0] && S(l->local_tag)[0] && S(l->remote_tag)[0] && S(l->remote_target)[0]);
		REC_CHECK(l->local_cseq < INT32_MAX);
		/* what goes into our SIP headers has no control character */
		REC_CHECK(text_clean(S(l->call_id)) && text_clean(S(l->local_tag)) && text_clean(S(l->remote_tag)));
		REC_CHECK(text_clean(S(l->local_uri)) && text_clean(S(l->remote_uri)));
		REC_CHECK(text_clean(S(l->remote_target)) && text_clean(S(l->route)));
		REC_CHECK(l->port.local.family != MG_FAMILY_NONE);
		REC_CHECK(r != NULL && r->n_pts <= SDP_MAX_PTS && r->remote_addr[0] != '\0');
		REC_CHECK(r->sdp_len > 0 && r->sdp_len < SDP_TEXT_MAX && strlen(r->sdp) == r->sdp_len);
		if (r->srtp) {
			REC_CHECK(mg_srtp_suite_by_id(r->suite) != NULL);
			REC_CHECK(r->rx.nkeys >= 1 && r->rx.nkeys <= MG_SRTP_KEYS_MAX && r->rx.active_key < r->rx.nkeys);
			REC_CHECK(r->tx.nkeys >= 1 && r->tx.nkeys <= MG_SRTP_KEYS_MAX && r->tx.active_key < r->tx.nkeys);
			REC_CHECK(r->rx.mki_len <= MG_SRTP_MKI_MAX && r->tx.mki_len <= MG_SRTP_MKI_MAX);
		}
	}
}

static void call_same(const struct calls_adopt *a, const struct calls_adopt *b)
{
	REC_CHECK(a->sess_id == b->sess_id && a->started == b->started);
	REC_CHECK(memcmp(a->ix, b->ix, sizeof(a->ix)) == 0);
	for (int i = 0; i < 2; i++) {
		struct calls_adopt_leg x = a->leg[i], y = b->leg[i];

		/* the dialog's values are heap strings: compared as text, then
		 * the rest of the leg with the pointers cleared */
		REC_CHECK(strcmp(S(x.call_id), S(y.call_id)) == 0);
		REC_CHECK(strcmp(S(x.local_tag), S(y.local_tag)) == 0);
		REC_CHECK(strcmp(S(x.remote_tag), S(y.remote_tag)) == 0);
		REC_CHECK(strcmp(S(x.local_uri), S(y.local_uri)) == 0);
		REC_CHECK(strcmp(S(x.remote_uri), S(y.remote_uri)) == 0);
		REC_CHECK(strcmp(S(x.remote_target), S(y.remote_target)) == 0);
		REC_CHECK(strcmp(S(x.route), S(y.route)) == 0);
		x.call_id = x.local_tag = x.remote_tag = x.local_uri = x.remote_uri = NULL;
		y.call_id = y.local_tag = y.remote_tag = y.local_uri = y.remote_uri = NULL;
		x.remote_target = x.route = y.remote_target = y.route = NULL;
		x.neg = y.neg = NULL;
		REC_CHECK(memcmp(&x, &y, sizeof(x)) == 0);
		/* a kept negotiation ends after its text's NUL */
		REC_CHECK(memcmp(a->leg[i].neg, b->leg[i].neg, offsetof(struct sdp_result, sdp)) == 0);
		REC_CHECK(strcmp(a->leg[i].neg->sdp, b->leg[i].neg->sdp) == 0);
	}
}

static void call_one(const char *in, size_t n)
{
	struct calls_adopt a, a2;
	struct calls_state c;
	struct ng_buf w = { 0 }, w2 = { 0 };
	char why[160];
	int rc;

	why[0] = '\0';
	rc = ha_rec_call_parse(in, n, &a, why, sizeof(why));
	if (verbose)
		fprintf(stderr, "call: %s%s\n", rc == 0 ? "accepted" : "refused: ", rc == 0 ? "" : why);
	if (rc < 0) {
		REC_CHECK(why[0] != '\0');
		REC_CHECK(rc == -EINVAL || rc == -ENOMEM);
		REC_CHECK(a.leg[0].neg == NULL && a.leg[1].neg == NULL);
		return;
	}
	REC_CHECK(rc == 0);
	REC_CHECK(ha_rec_kind(in, n) == 'c');
	call_consistent(&a);
	call_state_of(&a, &c);
	if (ha_rec_call(&c, &w) == 0) {
		if (ha_rec_call_parse(w.p, w.len, &a2, why, sizeof(why)) < 0) {
			fprintf(stderr, "ha_rec_fuzz: the record written again is refused: %s\n", why);
			abort();
		}
		call_same(&a, &a2);
		call_state_of(&a2, &c);
		if (ha_rec_call(&c, &w2) == 0)
			REC_CHECK(w.len == w2.len && memcmp(w.p, w2.p, w.len) == 0);
		ha_rec_adopt_free(&a2);
	}
	ng_buf_free(&w);
	ng_buf_free(&w2);
	ha_rec_adopt_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	int kind = ha_rec_kind(in, size);

	REC_CHECK(kind == 0 || kind == 'n' || kind == 'c');
	media_one(in, size);
	call_one(in, size);
	return 0;
}

/* ------------------------------------------------------------ mutator */

/*
 * Byte mutations of a record are nearly always refused by the JSON decoder
 * or the first range check, and the corpus soon holds mostly refused
 * inputs, so the round trip above would run on few of them. Half the time,
 * this mutator starts from one of the records of the seed sessions and
 * calls (built in memory at start) instead of the input, and changes one
 * to three of its values; a quarter of the time it changes one value of
 * the input (when it is JSON); otherwise libFuzzer's own mutation. A value
 * is changed so: an integer by one or two, to a bound of the ranges the
 * readers check, negated or made a string; a string by libFuzzer's byte
 * mutation, emptied, made a number, or grown to around the 4096-byte limit.
 */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed);

#define MUT_LEAVES 4096
#define MUT_BUILTIN 16

static struct ng_buf builtin[MUT_BUILTIN]; /* the seed records */
static unsigned n_builtin;

static void leaves(struct ng_val *v, struct ng_val **out, size_t *n)
{
	for (; v != NULL && *n < MUT_LEAVES; v = v->next) {
		if (v->type == NG_LIST || v->type == NG_DICT)
			leaves(v->child, out, n);
		else
			out[(*n)++] = v;
	}
}

static unsigned mut_next(unsigned *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void mutate_int(struct ng_doc *d, struct ng_val *v, unsigned *rnd)
{
	static const int64_t bounds[] = { 0, 1, 2, -1, 3, 4, 5, 6, 7, 15, 16, 17, 63, 64, 65, 127, 128,
					  255, 256, 65535, 65536, 999999999, 1000000000, 1000000, 10000,
					  10001, UINT32_MAX, (int64_t)UINT32_MAX + 1, INT64_MAX, INT64_MIN };
	struct ng_val *t;

	switch (mut_next(rnd) % 5) {
	case 0:
	case 1:
		/* wraps (a bound becomes its opposite) */
		v->i = (int64_t)((uint64_t)v->i + mut_next(rnd) % 5 - 2);
		break;
	case 2:
		v->i = bounds[mut_next(rnd) % (sizeof(bounds) / sizeof(bounds[0]))];
		break;
	case 3:
		v->i = v->i == INT64_MIN ? 0 : -v->i;
		break;
	default:
		t = ng_new_strf(d, "%" PRId64, v->i);
		if (t != NULL) {
			v->type = NG_STR;
			v->s = t->s;
			v->len = t->len;
		}
	}
}

static void mutate_str(struct ng_doc *d, struct ng_val *v, unsigned *rnd)
{
	static uint8_t buf[8192];
	size_t n = v->len < sizeof(buf) / 2 ? v->len : sizeof(buf) / 2;
	struct ng_val *t;

	memcpy(buf, v->s, n);
	switch (mut_next(rnd) % 6) {
	case 0:
		n = 0;
		break;
	case 1: { /* around the longest string a record holds */
		size_t to = 4094 + mut_next(rnd) % 4;

		memset(buf + n, n ? buf[n - 1] : 'a', to > n ? to - n : 0);
		n = to;
		break;
	}
	case 2:
		t = ng_new_int(d, (int64_t)strtoll(v->s, NULL, 10));
		if (t != NULL) {
			v->type = NG_INT;
			v->i = t->i;
		}
		return;
	default:
		n = LLVMFuzzerMutate(buf, n, sizeof(buf) / 2);
	}
	t = ng_new_strn(d, (const char *)buf, n);
	if (t != NULL) {
		v->s = t->s;
		v->len = t->len;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed)
{
	static struct ng_val *lv[MUT_LEAVES];
	unsigned rnd = seed | 1, how = mut_next(&rnd) % 4, times = 1;
	const char *in = (const char *)data;
	size_t n = 0, out = 0, in_len = size;
	struct ng_val *root = NULL;
	struct ng_buf b = { 0 };
	struct ng_doc *d;
	char why[128];

	if (how == 0 || (d = ng_doc_new()) == NULL)
		return LLVMFuzzerMutate(data, size, max);
	if (how >= 2 && n_builtin > 0) {
		const struct ng_buf *r = &builtin[mut_next(&rnd) % n_builtin];

		in = r->p;
		in_len = r->len;
		times = 1 + mut_next(&rnd) % 3;
	}
	if (ng_json_decode(d, in, in_len, NULL, &root, why, sizeof(why)) == 0 && root->type == NG_DICT)
		leaves(root->child, lv, &n);
	if (n > 0) {
		while (times-- > 0) {
			struct ng_val *v = lv[mut_next(&rnd) % n];

			if (v->type == NG_INT)
				mutate_int(d, v, &rnd);
			else
				mutate_str(d, v, &rnd);
		}
		if (ng_json_encode(root, &b) == 0 && b.len <= max) {
			memcpy(data, b.p, b.len);
			out = b.len;
		}
	}
	ng_buf_free(&b);
	ng_doc_free(d);
	return out > 0 ? out : LLVMFuzzerMutate(data, size, max);
}

/* ------------------------------------------------------------ seeds */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static void fill_text(char *p, size_t size, char c)
{
	memset(p, c, size - 1);
	p[size - 1] = '\0';
}

static void crypto(struct media_crypto *c, enum mg_srtp_suite id, unsigned seed)
{
	memset(c, 0, sizeof(*c));
	c->suite = mg_srtp_suite_by_id(id);
	c->tag = seed % 3 + 1;
	fill(c->key.key, c->suite->master_key_len, seed);
	fill(c->key.salt, c->suite->master_salt_len, seed + 100);
}

static void addr(struct mg_msg_addr *a, const char *text)
{
	if (mg_proto_addr_parse(text, a) < 0)
		abort();
}

/* A session of @p streams streams; side 1 has @p forks parties (forks by
 * to-tag), the first one active. @p suite NONE: plain RTP. */
static struct media_session *session(unsigned streams, unsigned forks, enum mg_srtp_suite suite, bool v6)
{
	struct media_session *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->key = strdup("a84b4c76e66710@pc33.atlanta.example.com")) == NULL)
		abort();
	m->created_ms = 1765000000123ull;
	m->last_signal_ms = 1765000004567ull;
	m->n_streams = streams;
	for (unsigned i = 0; i < streams; i++) {
		m->dp[i].id = 0x8000000000000100ull + i;
		m->dp[i].on = true;
		m->ix[i][1][0] = (struct media_dp_index){ .roc = 1, .seq = (uint16_t)(1000 + i), .valid = suite != 0 };
	}
	for (int s = 0; s < 2; s++) {
		struct media_side *sd = &m->side[s];

		sd->rtcp_attr = true;
		sd->n_parties = s == 0 ? 1 : forks;
		sd->active = 0;
		for (unsigned i = 0; i < streams; i++) {
			sd->port_ok[i] = true;
			addr(&sd->ports[i].local, v6 && s == 1 ? "[2001:db8::5]:30000" : "192.0.2.7:30000");
			sd->ports[i].local.port = (uint16_t)(30000 + 2 * (streams * (unsigned)s + i));
			sd->ports[i].rtcp_port = (uint16_t)(sd->ports[i].local.port + 1);
		}
		for (unsigned p = 0; p < sd->n_parties; p++) {
			struct media_party *pt = calloc(1, sizeof(*pt));

			if (pt == NULL || (pt->legs = calloc(streams ? streams : 1, sizeof(*pt->legs))) == NULL)
				abort();
			snprintf(pt->tag, sizeof(pt->tag), s ? "callee-%u" : "caller", p);
			pt->answered = true;
			pt->n_legs = streams;
			for (unsigned i = 0; i < streams; i++) {
				struct media_leg *l = &pt->legs[i];

				addr(&l->remote, v6 && s == 1 ? "[2001:db8::99]:4000" : "198.51.100.9:4000");
				l->remote.port = (uint16_t)(4000 + 2 * i + 10 * p);
				l->remote_rtcp_port = (uint16_t)(l->remote.port + 1);
				l->relayed = true;
				snprintf(l->profile, sizeof(l->profile), suite ? "RTP/SAVP" : "RTP/AVP");
				snprintf(l->media_type, sizeof(l->media_type), i % 2 ? "video" : "audio");
				if (suite) {
					crypto(&l->rx, suite, 10 * (unsigned)s + p + i);
					crypto(&l->tx, suite, 50 + 10 * (unsigned)s + p + i);
				}
			}
			sd->parties[p] = pt;
		}
	}
	return m;
}

/* Every limit the reader allows, at its maximum: streams, parties (with
 * one blocked and an unanswered one), text lengths, offered keys of every
 * suite with the longest MKI, SRTP indexes. */
static struct media_session *session_max(void)
{
	struct media_session *m = session(MEDIA_MAX_STREAMS, MEDIA_MAX_PARTIES, MG_SRTP_AEAD_AES_128_GCM, true);
	char *key = malloc(4096);

	if (key == NULL)
		abort();
	fill_text(key, 4096, 'k');
	free(m->key);
	m->key = key;
	fill_text(m->label, sizeof(m->label), 'l');
	m->created_ms = m->last_signal_ms = INT64_MAX;
	m->handover = m->strict = true;
	for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
		for (int l = 0; l < 2; l++)
			for (int d = 0; d < 2; d++)
				m->ix[i][l][d] = (struct media_dp_index){ .roc = UINT32_MAX, .seq = 65535, .valid = true };
	for (int s = 0; s < 2; s++) {
		struct media_side *sd = &m->side[s];

		sd->n_parties = MEDIA_MAX_PARTIES;
		sd->active = MEDIA_MAX_PARTIES - 1;
		for (unsigned p = 1; p < MEDIA_MAX_PARTIES; p++) {
			if (sd->parties[p] == NULL) {
				struct media_party *pt = calloc(1, sizeof(*pt));

				if (pt == NULL || (pt->legs = calloc(MEDIA_MAX_STREAMS, sizeof(*pt->legs))) == NULL)
					abort();
				pt->n_legs = MEDIA_MAX_STREAMS;
				memcpy(pt->legs, sd->parties[0]->legs, MEDIA_MAX_STREAMS * sizeof(*pt->legs));
				sd->parties[p] = pt;
			}
			snprintf(sd->parties[p]->tag, MEDIA_TAG_MAX, "fork%u-", p);
			memset(sd->parties[p]->tag + 6, 't', MEDIA_TAG_MAX - 7);
			sd->parties[p]->answered = p != 2;
			sd->parties[p]->blocked = p == 1;
		}
		for (unsigned p = 0; p < MEDIA_MAX_PARTIES; p++)
			for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++) {
				struct media_leg *l = &sd->parties[p]->legs[i];

				l->rtcp_mux = true;
				fill_text(l->profile, sizeof(l->profile), 'P');
				fill_text(l->media_type, sizeof(l->media_type), 'm');
				l->rx.key.lifetime = INT64_MAX;
				l->rx.key.mki = UINT32_MAX;
				l->rx.key.mki_len = 4;
				l->rx.tag = 999999999;
			}
		sd->offered = calloc(MEDIA_MAX_STREAMS, sizeof(*sd->offered));
		if (sd->offered == NULL)
			abort();
		sd->n_offered_streams = MEDIA_MAX_STREAMS;
		for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++) {
			sd->mux_offered[i] = true;
			sd->n_offered[i] = MG_SRTP_SUITE_COUNT - 1;
			for (unsigned k = 0; k + 1 < MG_SRTP_SUITE_COUNT; k++) {
				crypto(&sd->offered[i][k], (enum mg_srtp_suite)(k + 1), 200 + k);
				sd->offered[i][k].key.mki = k + 1;
				sd->offered[i][k].key.mki_len = 4;
			}
		}
	}
	return m;
}

/* An offer not answered yet: the callee's party has no tag, no legs known,
 * none active; our keys to it wait in offered (SRTP 80). */
static struct media_session *session_offer(void)
{
	struct media_session *m = session(1, 1, MG_SRTP_AES_CM_128_HMAC_SHA1_80, false);
	struct media_side *sd = &m->side[1];

	sd->active = -1;
	m->side[0].active = -1;
	sd->parties[0]->tag[0] = '\0';
	sd->parties[0]->answered = false;
	sd->parties[0]->n_legs = 0;
	sd->offered = calloc(1, sizeof(*sd->offered));
	if (sd->offered == NULL)
		abort();
	sd->n_offered_streams = 1;
	sd->n_offered[0] = 2;
	crypto(&sd->offered[0][0], MG_SRTP_AES_CM_128_HMAC_SHA1_80, 7);
	crypto(&sd->offered[0][1], MG_SRTP_AES_CM_128_HMAC_SHA1_32, 8);
	sd->port_ok[0] = true;
	return m;
}

static void policy(struct mg_srtp_policy *p, enum mg_srtp_suite id, enum mg_srtp_dir dir, unsigned nkeys,
		   unsigned mki_len, unsigned seed)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(id);

	memset(p, 0, sizeof(*p));
	p->suite = id;
	p->dir = dir;
	p->nkeys = (uint8_t)nkeys;
	p->mki_len = (uint8_t)mki_len;
	p->active_key = (uint8_t)(nkeys - 1);
	for (unsigned k = 0; k < nkeys; k++) {
		fill(p->keys[k].key, si->master_key_len, seed + k);
		fill(p->keys[k].salt, si->master_salt_len, seed + 40 + k);
		fill(p->keys[k].mki, mki_len, k);
		p->keys[k].lifetime = k ? (1ull << 31) : 0;
	}
}

static void neg(struct sdp_result *r, enum mg_srtp_suite suite, bool v6, unsigned seed)
{
	memset(r, 0, sizeof(*r));
	if (suite) {
		const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(suite);

		r->srtp = true;
		r->suite = suite;
		r->crypto_tag = 1;
		policy(&r->rx, suite, MG_SRTP_DIR_INBOUND, 1, 0, seed);
		policy(&r->tx, suite, MG_SRTP_DIR_OUTBOUND, 1, 0, seed + 1);
		memcpy(r->local_key.key, r->tx.keys[0].key, si->master_key_len);
		memcpy(r->local_key.salt, r->tx.keys[0].salt, si->master_salt_len);
	}
	snprintf(r->remote_addr, sizeof(r->remote_addr), v6 ? "2001:db8::9" : "203.0.113.2");
	r->remote_family = v6 ? AF_INET6 : AF_INET;
	r->remote_rtp_port = 4000;
	r->remote_rtcp_port = 4001;
	r->dir = SDP_DIR_SENDRECV;
	r->n_pts = 3;
	r->pts[0] = (struct sdp_pt){ .pt = 0, .name = "PCMU", .rate = 8000 };
	r->pts[1] = (struct sdp_pt){ .pt = 8, .name = "PCMA", .rate = 8000 };
	r->pts[2] = (struct sdp_pt){ .pt = 101, .name = "telephone-event", .rate = 8000, .fmtp = "0-16" };
	r->telephone_event_pt = 101;
	r->ptime = 20;
	r->sess_id = 1765000000 + seed;
	r->sess_version = 2;
	snprintf(r->sdp, sizeof(r->sdp),
		 "v=0\r\no=mediagate %" PRIu64 " 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		 "m=audio 30000 %s 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
		 "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n%s",
		 r->sess_id, suite ? "RTP/SAVP" : "RTP/AVP",
		 suite ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n" : "");
	r->sdp_len = strlen(r->sdp);
}

/* Every text and list at the reader's maximum, several keys with MKIs. */
static void neg_max(struct sdp_result *r)
{
	neg(r, MG_SRTP_AES_CM_128_HMAC_SHA1_32, true, 77);
	policy(&r->rx, r->suite, MG_SRTP_DIR_INBOUND, MG_SRTP_KEYS_MAX, MG_SRTP_MKI_MAX, 3);
	policy(&r->tx, r->suite, MG_SRTP_DIR_OUTBOUND, MG_SRTP_KEYS_MAX, MG_SRTP_MKI_MAX, 9);
	r->local_key.lifetime = INT64_MAX;
	r->crypto_tag = 999999999;
	r->ms_dialect = true;
	r->hold = true;
	r->dir = SDP_DIR_SENDONLY;
	r->rtcp_mux = true;
	fill_text(r->remote_addr, sizeof(r->remote_addr), 'a');
	r->n_pts = SDP_MAX_PTS;
	for (unsigned i = 0; i < SDP_MAX_PTS; i++) {
		struct sdp_pt *p = &r->pts[i];

		p->pt = (uint8_t)(96 + i + (i == SDP_MAX_PTS - 1 ? 15 : 0));
		fill_text(p->name, sizeof(p->name), 'n');
		p->rate = 1000000;
		fill_text(p->params, sizeof(p->params), '2');
		fill_text(p->fmtp, sizeof(p->fmtp), 'f');
	}
	r->telephone_event_pt = 127;
	r->ptime = 10000;
	r->media_index = 64;
	r->sess_id = r->sess_version = UINT64_MAX;
	fill_text(r->sdp, sizeof(r->sdp), 'x');
	memcpy(r->sdp, "v=0\r\n", 5);
	r->sdp_len = strlen(r->sdp);
}

static void call(struct calls_state *c, const struct sdp_result *n0, const struct sdp_result *n1)
{
	memset(c, 0, sizeof(*c));
	c->id = 7;
	c->state = "active";
	c->started = 1765000000;
	c->sess_id = 0x8000000000000abcull;
	c->sess_on = true;
	c->ix[0][1] = (struct media_dp_index){ .roc = 2, .seq = 9, .valid = n0->srtp };
	for (int i = 0; i < 2; i++) {
		struct calls_state_leg *l = &c->leg[i];

		l->state = "confirmed";
		l->sip = true;
		l->ua = (unsigned)i;
		l->call_id = i ? "b2b-1-out@192.0.2.1" : "a84b4c76e66710@pc33.atlanta.example.com";
		l->local_tag = i ? "gw-tag-1" : "gw-tag-0";
		l->remote_tag = i ? "peer-b" : "peer-a";
		l->local_uri = i ? "<sip:alice@192.0.2.1>" : "<sip:bob@192.0.2.1>";
		l->remote_uri = i ? "<sip:bob@198.51.100.20>" : "<sip:alice@198.51.100.10>";
		l->remote_target = i ? "<sip:bob@198.51.100.20:5060>" : "<sip:alice@198.51.100.10:5060>";
		l->route = i ? "" : "<sip:proxy.example.com;lr>";
		l->remote_cseq = 101;
		l->local_cseq = 2;
		l->neg = i ? n1 : n0;
		l->port_ok = true;
		addr(&l->port.local, "192.0.2.1:30000");
		l->port.local.port = (uint16_t)(30000 + 2 * i);
		l->port.rtcp_port = (uint16_t)(l->port.local.port + 1);
		addr(&l->remote, i ? "198.51.100.20:4000" : "198.51.100.10:4000");
		if (l->neg->srtp) {
			l->srtp = true;
			l->suite = mg_srtp_suite_by_id(l->neg->suite);
			l->crypto_tag = l->neg->crypto_tag;
			memcpy(l->rx_key.key, l->neg->rx.keys[0].key, sizeof(l->rx_key.key));
			memcpy(l->tx_key.key, l->neg->tx.keys[0].key, sizeof(l->tx_key.key));
		}
	}
}

/* into @p dir, or (NULL) kept for the mutator */
static void write_seed(const char *dir, const char *name, const struct ng_buf *b)
{
	char path[4096];
	FILE *f;

	if (dir == NULL) {
		struct ng_buf *k = &builtin[n_builtin];

		if (n_builtin == MUT_BUILTIN || (k->p = malloc(b->len)) == NULL)
			abort();
		memcpy(k->p, b->p, b->len);
		k->len = b->len;
		n_builtin++;
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	/* every seed is a record the readers take */
	LLVMFuzzerTestOneInput((const uint8_t *)b->p, b->len);
}

static void seed_media(const char *dir, const char *name, struct media_session *m)
{
	struct ng_buf b = { 0 };
	char why[160];
	struct media_session *r;

	if (ha_rec_media(m, &b) < 0)
		abort();
	r = ha_rec_media_parse(b.p, b.len, why, sizeof(why));
	if (r == NULL) {
		fprintf(stderr, "ha_rec_fuzz: seed %s refused: %s\n", name, why);
		exit(1);
	}
	ha_rec_media_free(r);
	write_seed(dir, name, &b);
	ng_buf_free(&b);
	ha_rec_media_free(m);
}

static void seed_call(const char *dir, const char *name, const struct calls_state *c)
{
	struct ng_buf b = { 0 };
	struct calls_adopt a;
	char why[160];

	if (ha_rec_call(c, &b) < 0)
		abort();
	if (ha_rec_call_parse(b.p, b.len, &a, why, sizeof(why)) < 0) {
		fprintf(stderr, "ha_rec_fuzz: seed %s refused: %s\n", name, why);
		exit(1);
	}
	ha_rec_adopt_free(&a);
	write_seed(dir, name, &b);
	ng_buf_free(&b);
}

static void write_seeds(const char *dir)
{
	static struct sdp_result n0, n1;
	struct calls_state c;

	seed_media(dir, "ng-srtp-both.json", session(1, 1, MG_SRTP_AES_CM_128_HMAC_SHA1_80, false));
	seed_media(dir, "ng-plain.json", session(1, 1, MG_SRTP_SUITE_NONE, false));
	seed_media(dir, "ng-forks-video-v6.json", session(2, 3, MG_SRTP_AES_CM_128_HMAC_SHA1_32, true));
	seed_media(dir, "ng-offer-pending.json", session_offer());
	seed_media(dir, "ng-max.json", session_max());
	neg(&n0, MG_SRTP_AES_CM_128_HMAC_SHA1_80, false, 1);
	neg(&n1, MG_SRTP_AES_CM_128_HMAC_SHA1_80, false, 2);
	call(&c, &n0, &n1);
	seed_call(dir, "call-srtp-both.json", &c);
	neg(&n0, MG_SRTP_SUITE_NONE, false, 3);
	neg(&n1, MG_SRTP_SUITE_NONE, false, 4);
	call(&c, &n0, &n1);
	seed_call(dir, "call-plain.json", &c);
	neg(&n0, MG_SRTP_AEAD_AES_128_GCM, true, 5);
	neg(&n1, MG_SRTP_SUITE_NONE, false, 6);
	call(&c, &n0, &n1);
	seed_call(dir, "call-gcm-v6-plain.json", &c);
	neg_max(&n0);
	neg_max(&n1);
	call(&c, &n0, &n1);
	{
		static char cid[256], tag[128], uri[256], route[512];

		fill_text(cid, sizeof(cid), 'c');
		fill_text(tag, sizeof(tag), 't');
		fill_text(uri, sizeof(uri), 'u');
		fill_text(route, sizeof(route), 'r');
		c.started = INT64_MAX;
		c.sess_id = UINT64_MAX;
		for (int i = 0; i < 2; i++) {
			c.leg[i].call_id = cid;
			c.leg[i].local_tag = c.leg[i].remote_tag = tag;
			c.leg[i].local_uri = c.leg[i].remote_uri = c.leg[i].remote_target = uri;
			c.leg[i].route = route;
			c.leg[i].remote_cseq = UINT32_MAX;
			c.leg[i].local_cseq = INT32_MAX - 1; /* ours stays below 2^31 */
			c.leg[i].ua = 64;
		}
		seed_call(dir, "call-max.json", &c);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("MG_FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	verbose = getenv("MG_FUZZ_VERBOSE") != NULL;
	if (seeds != NULL) {
		write_seeds(seeds);
		exit(0);
	}
	write_seeds(NULL);
	return 0;
}
