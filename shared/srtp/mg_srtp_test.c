/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the SRTP engine's state machine: replay window, ROC
 * estimation and get/set, lifetime, MKI selection, re-key, malformed input,
 * policy errors. Each packet test runs once per available backend. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mg_srtp_internal.h"

#define CAP 512

/* Count heap allocations to prove the burst calls make none. glibc lets the
 * executable interpose malloc; ASan has its own allocator, so the check is
 * skipped there. */
#include "mg_asan.h"
#define MG_COUNT_ALLOCS (!MG_ASAN)

#if MG_COUNT_ALLOCS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t a, size_t n);
static volatile int counting;
static volatile unsigned long nallocs;

void *malloc(size_t n)
{
	if (counting)
		nallocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	if (counting)
		nallocs++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		nallocs++;
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t a, size_t n)
{
	if (counting)
		nallocs++;
	return __libc_memalign(a, n);
}
#endif

struct fx {
	struct mg_srtp_engine *e;
	struct mg_srtp_ctx *out, *in;
	struct mg_srtp_policy pol;
};

static void policy(struct mg_srtp_policy *p, enum mg_srtp_suite s, unsigned nkeys, unsigned mki_len)
{
	memset(p, 0, sizeof(*p));
	p->suite = s;
	p->nkeys = (uint8_t)nkeys;
	p->mki_len = (uint8_t)mki_len;
	for (unsigned k = 0; k < nkeys; k++) {
		for (unsigned i = 0; i < MG_SRTP_MASTER_KEY_MAX; i++)
			p->keys[k].key[i] = (uint8_t)(k * 31 + i);
		for (unsigned i = 0; i < MG_SRTP_MASTER_SALT_MAX; i++)
			p->keys[k].salt[i] = (uint8_t)(k * 17 + i + 100);
		for (unsigned i = 0; i < mki_len; i++)
			p->keys[k].mki[i] = (uint8_t)(0xa0 + k);
	}
}

static void pair(struct fx *f, const struct mg_srtp_policy *p)
{
	char err[200];

	mg_srtp_ctx_free(f->out);
	mg_srtp_ctx_free(f->in);
	f->pol = *p;
	f->pol.dir = MG_SRTP_DIR_OUTBOUND;
	f->out = mg_srtp_ctx_create(&f->pol, err, sizeof(err));
	assert_non_null(f->out);
	f->pol.dir = MG_SRTP_DIR_INBOUND;
	f->in = mg_srtp_ctx_create(&f->pol, err, sizeof(err));
	assert_non_null(f->in);
}

static int setup_backend(void **state, enum mg_srtp_backend b)
{
	static struct fx fxs[MG_SRTP_BACKEND_COUNT];
	struct fx *f = &fxs[b];
	struct mg_srtp_policy p;

	memset(f, 0, sizeof(*f));
	f->e = mg_srtp_engine_create(b);
	if (!f->e) {
		if (mg_srtp_test_backend_expected(b)) {
			print_message("backend %s expected in this build and CPU but not created: %s\n",
				      mg_srtp_backend_name(b), strerror(errno));
			return -1;
		}
		/* ipsec-mb not built or CPU without AES-NI: nothing to test */
		print_message("backend %s not in this build/CPU, skipping\n", mg_srtp_backend_name(b));
		*state = NULL;
		return 0;
	}
	f->e->imb_min = 1;
	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0);
	pair(f, &p);
	*state = f;
	return 0;
}

static int setup_scalar(void **state)
{
	return setup_backend(state, MG_SRTP_BACKEND_SCALAR);
}

static int setup_imb(void **state)
{
	return setup_backend(state, MG_SRTP_BACKEND_IPSECMB);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f) {
		mg_srtp_ctx_free(f->out);
		mg_srtp_ctx_free(f->in);
		mg_srtp_engine_free(f->e);
		memset(f, 0, sizeof(*f));
	}
	return 0;
}

#define FX()                       \
	struct fx *f = *state;     \
	if (!f) {                  \
		skip();            \
		return;            \
	}

static uint16_t rtp(uint8_t *p, uint32_t ssrc, uint16_t seq, unsigned payload)
{
	memset(p, 0, CAP);
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (unsigned i = 0; i < payload; i++)
		p[12 + i] = (uint8_t)(seq + i);
	return (uint16_t)(12 + payload);
}

/* Protect one packet with seq on the outbound context; returns its length. */
static uint16_t prot(struct fx *f, uint8_t *p, uint32_t ssrc, uint16_t seq)
{
	struct mg_srtp_buf b = { p, rtp(p, ssrc, seq, 40), CAP };
	uint8_t res = 0xff;

	assert_int_equal(mg_srtp_protect_burst(f->e, f->out, &b, &res, 1), 1);
	assert_int_equal(res, MG_SRTP_OK);
	return b.len;
}

static uint8_t unprot(struct fx *f, uint8_t *p, uint16_t len)
{
	uint8_t copy[CAP];
	struct mg_srtp_buf b = { copy, len, CAP };
	uint8_t res = 0xff;

	memcpy(copy, p, len);
	mg_srtp_unprotect_burst(f->e, f->in, &b, &res, 1);
	return res;
}

static void test_replay_window(void **state)
{
	FX();
	static uint8_t pk[300][CAP];
	uint16_t len[300];

	for (unsigned i = 0; i < 300; i++)
		len[i] = prot(f, pk[i], 0x1234, (uint16_t)(100 + i));
	/* newest first, then everything inside the 128-packet window, out of order */
	assert_int_equal(unprot(f, pk[299], len[299]), MG_SRTP_OK);
	for (unsigned i = 299 - 127; i < 299; i += 2)
		assert_int_equal(unprot(f, pk[i], len[i]), MG_SRTP_OK);
	for (unsigned i = 299 - 126; i < 299; i += 2)
		assert_int_equal(unprot(f, pk[i], len[i]), MG_SRTP_OK);
	/* replays inside the window, and anything left of it */
	assert_int_equal(unprot(f, pk[299], len[299]), MG_SRTP_REPLAY);
	assert_int_equal(unprot(f, pk[200], len[200]), MG_SRTP_REPLAY);
	assert_int_equal(unprot(f, pk[299 - 128], len[299 - 128]), MG_SRTP_REPLAY);
	assert_int_equal(unprot(f, pk[0], len[0]), MG_SRTP_REPLAY);
	/* a big jump forward shifts the window across word boundaries */
	{
		uint8_t p2[CAP];
		uint16_t l2;

		for (unsigned i = 0; i < 70; i++)
			prot(f, p2, 0x1234, (uint16_t)(400 + i));
		l2 = prot(f, p2, 0x1234, 470);
		assert_int_equal(unprot(f, p2, l2), MG_SRTP_OK);
		assert_int_equal(unprot(f, p2, l2), MG_SRTP_REPLAY);
		assert_int_equal(unprot(f, pk[299], len[299]), MG_SRTP_REPLAY);
	}
	{
		struct mg_srtp_stats st;

		mg_srtp_ctx_stats(f->in, &st);
		assert_int_equal(st.rtp_ok, 129);
		assert_int_equal(st.drops[MG_SRTP_REPLAY], 6);
	}
}

/* A context made with stats_off (as the dataplane makes them: it counts
 * every result itself) works the same and keeps no counters; re-keying it
 * keeps its key set inside the context. */
static void test_stats_off(void **state)
{
	FX();
	struct mg_srtp_policy p;
	struct mg_srtp_stats st;
	uint8_t a[CAP];
	uint16_t la;
	char err[200];

	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0);
	p.stats_off = 1;
	pair(f, &p);
	la = prot(f, a, 0x77, 1);
	assert_int_equal(unprot(f, a, la), MG_SRTP_OK);
	la = prot(f, a, 0x77, 1);
	assert_int_equal(unprot(f, a, la), MG_SRTP_REPLAY);
	mg_srtp_ctx_stats(f->in, &st);
	assert_int_equal(st.rtp_ok, 0);
	assert_int_equal(st.drops[MG_SRTP_REPLAY], 0);
	/* new keys in place, both ends: the old key no longer verifies */
	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0);
	p.keys[0].key[0] ^= 0x5a;
	p.dir = MG_SRTP_DIR_OUTBOUND;
	assert_int_equal(mg_srtp_ctx_rekey(f->out, &p, err, sizeof(err)), 0);
	la = prot(f, a, 0x77, 2);
	assert_int_equal(unprot(f, a, la), MG_SRTP_AUTH_FAIL);
	p.dir = MG_SRTP_DIR_INBOUND;
	assert_int_equal(mg_srtp_ctx_rekey(f->in, &p, err, sizeof(err)), 0);
	la = prot(f, a, 0x77, 3);
	assert_int_equal(unprot(f, a, la), MG_SRTP_OK);
	/* the default keeps counting */
	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0);
	pair(f, &p);
	la = prot(f, a, 0x77, 1);
	assert_int_equal(unprot(f, a, la), MG_SRTP_OK);
	mg_srtp_ctx_stats(f->in, &st);
	assert_int_equal(st.rtp_ok, 1);
}

static void test_duplicate_in_burst(void **state)
{
	FX();
	uint8_t a[CAP], b2[CAP], c[CAP];
	uint16_t la = prot(f, a, 7, 10);
	struct mg_srtp_buf bufs[3] = { { a, la, CAP }, { b2, la, CAP }, { c, 0, CAP } };
	uint8_t res[3];

	memcpy(b2, a, la);
	bufs[2].len = prot(f, c, 7, 11);
	assert_int_equal(mg_srtp_unprotect_burst(f->e, f->in, bufs, res, 3), 2);
	assert_int_equal(res[0], MG_SRTP_OK);
	assert_int_equal(res[1], MG_SRTP_REPLAY);
	assert_int_equal(res[2], MG_SRTP_OK);
	assert_int_equal(bufs[0].len, 12 + 40);
}

static void test_roc_wrap_and_late(void **state)
{
	FX();
	uint8_t p[CAP], late[CAP];
	uint16_t l, ll = 0;
	uint32_t roc = 99;
	uint16_t seq = 0;

	for (uint32_t s = 65530; s <= 65535; s++) {
		l = prot(f, p, 42, (uint16_t)s);
		if (s == 65533) {
			memcpy(late, p, l);
			ll = l;
			continue; /* delivered after the wrap */
		}
		assert_int_equal(unprot(f, p, l), MG_SRTP_OK);
	}
	for (uint16_t s = 0; s < 5; s++) {
		l = prot(f, p, 42, s);
		assert_int_equal(unprot(f, p, l), MG_SRTP_OK);
	}
	assert_int_equal(mg_srtp_get_roc(f->in, 42, &roc, &seq), 0);
	assert_int_equal(roc, 1);
	assert_int_equal(seq, 4);
	assert_int_equal(mg_srtp_get_roc(f->out, 42, &roc, NULL), 0);
	assert_int_equal(roc, 1);
	/* the late pre-wrap packet is estimated with ROC-1 and accepted */
	assert_int_equal(unprot(f, late, ll), MG_SRTP_OK);
	assert_int_equal(unprot(f, late, ll), MG_SRTP_REPLAY);
	assert_int_equal(mg_srtp_get_roc(f->in, 77, &roc, NULL), -ENOENT);
}

static void test_set_roc(void **state)
{
	FX();
	uint8_t p[CAP];
	uint16_t l;

	/* hand-over: the sender is at ROC 7, the new receiver is told so */
	mg_srtp_set_roc(f->out, 5, 7);
	mg_srtp_set_roc(f->in, 5, 7);
	l = prot(f, p, 5, 1000);
	assert_int_equal(unprot(f, p, l), MG_SRTP_OK);
	/* a receiver with the wrong ROC cannot authenticate */
	mg_srtp_set_roc(f->in, 5, 6);
	l = prot(f, p, 5, 1001);
	assert_int_equal(unprot(f, p, l), MG_SRTP_AUTH_FAIL);
	mg_srtp_set_roc(f->in, 5, 7);
	assert_int_equal(unprot(f, p, l), MG_SRTP_OK);
}

/*
 * Dataplane restart: new contexts told the highest index (roc, seq) of the
 * streams go on where the old ones were, a wrap since the read included:
 * the far receiver (which never restarted) authenticates what the new
 * sender protects, the new receiver what the far sender protects, and
 * nothing up to the index is accepted again.
 */
static void test_resume_index(void **state)
{
	FX();
	struct mg_srtp_policy p = f->pol;
	struct mg_srtp_ctx *peer_in, *peer_out, *old_out;
	uint8_t pk[CAP];
	uint16_t l, s;
	uint32_t roc = 9;
	uint16_t seq = 0;
	char err[200];

	/* before: our sender (f->out) at ROC 0 just below a wrap; the peer's
	 * receiver follows it */
	p.dir = MG_SRTP_DIR_INBOUND;
	peer_in = mg_srtp_ctx_create(&p, err, sizeof(err));
	assert_non_null(peer_in);
	for (s = 65500; s <= 65510; s++) {
		l = prot(f, pk, 42, s);
		old_out = f->in;
		f->in = peer_in;
		assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
		f->in = old_out;
	}
	assert_int_equal(mg_srtp_get_roc(f->out, 42, &roc, &seq), 0);
	assert_int_equal(roc, 0);
	assert_int_equal(seq, 65510);
	/* restart: the sender is re-created from (0, 65510); the source's
	 * stream wrapped meanwhile (seq 20 is index 1:20) */
	p.dir = MG_SRTP_DIR_OUTBOUND;
	p.roc = roc;
	p.seq = seq;
	p.seq_valid = 1;
	mg_srtp_ctx_free(f->out);
	f->out = mg_srtp_ctx_create(&p, err, sizeof(err));
	assert_non_null(f->out);
	old_out = f->in;
	f->in = peer_in;
	l = prot(f, pk, 42, 20);
	assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	assert_int_equal(mg_srtp_get_roc(peer_in, 42, &roc, &seq), 0);
	assert_int_equal(roc, 1);
	assert_int_equal(seq, 20);
	f->in = old_out;
	{
		/* an index at or below the one read (late or replayed into the
		 * relay) is not protected again: it may have been used */
		struct mg_srtp_buf b = { pk, rtp(pk, 42, 65505, 40), CAP };
		uint8_t res = 0xff;

		assert_int_equal(mg_srtp_protect_burst(f->e, f->out, &b, &res, 1), 0);
		assert_int_equal(res, MG_SRTP_REPLAY);
		b = (struct mg_srtp_buf){ pk, rtp(pk, 42, 65515, 40), CAP }; /* above it: fine */
		assert_int_equal(mg_srtp_protect_burst(f->e, f->out, &b, &res, 1), 1);
	}

	/* the receiving side: the peer's sender at index 0:65510, our new
	 * receiver told so; the peer goes on after a wrap */
	p = f->pol;
	p.dir = MG_SRTP_DIR_OUTBOUND;
	peer_out = mg_srtp_ctx_create(&p, err, sizeof(err));
	assert_non_null(peer_out);
	assert_int_equal(mg_srtp_set_roc(peer_out, 43, 0), 0);
	p.dir = MG_SRTP_DIR_INBOUND;
	p.roc = 0;
	p.seq = 65510;
	p.seq_valid = 1;
	mg_srtp_ctx_free(f->in);
	f->in = mg_srtp_ctx_create(&p, err, sizeof(err));
	assert_non_null(f->in);
	old_out = f->out;
	f->out = peer_out;
	l = prot(f, pk, 43, 65505); /* sent before the restart: not again */
	assert_int_equal(unprot(f, pk, l), MG_SRTP_REPLAY);
	l = prot(f, pk, 43, 65530);
	assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	l = prot(f, pk, 43, 5);
	assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	assert_int_equal(mg_srtp_get_roc(f->in, 43, &roc, &seq), 0);
	assert_int_equal(roc, 1);
	f->out = old_out;
	mg_srtp_ctx_free(peer_in);
	mg_srtp_ctx_free(peer_out);
}

static void test_lifetime_and_rekey(void **state)
{
	FX();
	struct mg_srtp_policy p;
	uint8_t pk[CAP];
	uint16_t l;
	char err[200];
	uint32_t roc = 0;

	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_32, 1, 0);
	p.keys[0].lifetime = 3;
	pair(f, &p);
	for (uint16_t s = 0; s < 3; s++) {
		l = prot(f, pk, 9, s);
		assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	}
	{
		struct mg_srtp_buf b = { pk, rtp(pk, 9, 3, 10), CAP };
		uint8_t res;

		assert_int_equal(mg_srtp_protect_burst(f->e, f->out, &b, &res, 1), 0);
		assert_int_equal(res, MG_SRTP_LIFETIME);
	}
	/* re-key (re-INVITE): new key, ROC and windows reset, counters kept */
	mg_srtp_set_roc(f->out, 9, 3);
	p.keys[0].key[0] ^= 0xff;
	p.keys[0].lifetime = 0;
	p.dir = MG_SRTP_DIR_OUTBOUND;
	assert_int_equal(mg_srtp_ctx_rekey(f->out, &p, err, sizeof(err)), 0);
	p.dir = MG_SRTP_DIR_INBOUND;
	assert_int_equal(mg_srtp_ctx_rekey(f->in, &p, err, sizeof(err)), 0);
	assert_int_equal(mg_srtp_get_roc(f->out, 9, &roc, NULL), -ENOENT);
	l = prot(f, pk, 9, 0); /* same index as before: not a replay after re-key */
	assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	assert_int_equal(mg_srtp_get_roc(f->in, 9, &roc, NULL), 0);
	assert_int_equal(roc, 0);
	/* re-key may not turn a context around */
	p.dir = MG_SRTP_DIR_OUTBOUND;
	assert_int_equal(mg_srtp_ctx_rekey(f->in, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "direction"));
}

static void test_mki_selection(void **state)
{
	FX();
	struct mg_srtp_policy p;
	uint8_t pk[CAP];
	uint16_t l;

	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 3, 2);
	pair(f, &p);
	assert_int_equal(mg_srtp_overhead(f->out, 0), 12);
	assert_int_equal(mg_srtp_overhead(f->out, 1), 16);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(mg_srtp_ctx_set_active_key(f->out, k), 0);
		l = prot(f, pk, 3, (uint16_t)(10 + k));
		assert_int_equal(l, 52 + 12);
		assert_int_equal(pk[52], 0xa0 + k); /* MKI before the tag */
		assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	}
	assert_int_equal(mg_srtp_ctx_set_active_key(f->out, 3), -EINVAL);
	l = prot(f, pk, 3, 20);
	pk[52] = 0x55;
	assert_int_equal(unprot(f, pk, l), MG_SRTP_UNKNOWN_MKI);
	/* a valid MKI of another key: authentication fails, not a crash */
	pk[52] = pk[53] = 0xa0;
	assert_int_equal(unprot(f, pk, l), MG_SRTP_AUTH_FAIL);
}

static void test_malformed(void **state)
{
	FX();
	uint8_t p[CAP];
	struct mg_srtp_buf b;
	uint8_t res;

	b = (struct mg_srtp_buf){ p, 11, CAP };
	memset(p, 0x80, 11);
	mg_srtp_protect_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_TOO_SHORT);
	b = (struct mg_srtp_buf){ p, rtp(p, 1, 1, 20), CAP };
	p[0] = 0x40;
	mg_srtp_protect_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_BAD_VERSION);
	b = (struct mg_srtp_buf){ p, rtp(p, 1, 1, 20), CAP };
	p[0] = 0x8f; /* 15 CSRCs = 60 bytes, packet has 32 */
	mg_srtp_protect_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_MALFORMED);
	b = (struct mg_srtp_buf){ p, rtp(p, 1, 1, 20), CAP };
	p[0] = 0x90; /* extension header claims 255 words */
	p[14] = 0;
	p[15] = 0xff;
	mg_srtp_protect_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_MALFORMED);
	b = (struct mg_srtp_buf){ p, rtp(p, 1, 1, 20), 32 + 9 };
	mg_srtp_protect_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_NO_ROOM);
	b = (struct mg_srtp_buf){ p, 12 + 9, CAP };
	mg_srtp_unprotect_burst(f->e, f->in, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_TOO_SHORT);
	/* wrong direction is refused, not processed */
	b = (struct mg_srtp_buf){ p, rtp(p, 1, 1, 20), CAP };
	mg_srtp_protect_burst(f->e, f->in, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_MALFORMED);
	/* RTCP */
	b = (struct mg_srtp_buf){ p, 7, CAP };
	mg_srtp_protect_rtcp_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_TOO_SHORT);
	b = (struct mg_srtp_buf){ p, 8 + 4 + 9, CAP };
	mg_srtp_unprotect_rtcp_burst(f->e, f->in, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_TOO_SHORT);
}

static void test_rtcp_roundtrip_and_tamper(void **state)
{
	FX();
	uint8_t p[CAP], q[CAP];
	struct mg_srtp_buf b = { p, 28, CAP };
	uint8_t res;

	memset(p, 0x33, 28);
	p[0] = 0x81;
	p[1] = 200;
	mg_srtp_protect_rtcp_burst(f->e, f->out, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_OK);
	assert_int_equal(b.len, 28 + 4 + 10);
	assert_int_equal(p[28] & 0x80, 0x80); /* E flag */
	memcpy(q, p, b.len);
	q[20] ^= 1;
	{
		struct mg_srtp_buf t = { q, b.len, CAP };

		mg_srtp_unprotect_rtcp_burst(f->e, f->in, &t, &res, 1);
		assert_int_equal(res, MG_SRTP_AUTH_FAIL);
	}
	mg_srtp_unprotect_rtcp_burst(f->e, f->in, &b, &res, 1);
	assert_int_equal(res, MG_SRTP_OK);
	assert_int_equal(b.len, 28);
	assert_int_equal(p[20], 0x33);
}

static void test_ssrc_slots(void **state)
{
	FX();
	uint8_t p[CAP];
	uint32_t roc;

	/* more SSRCs than slots: the least recently used is forgotten */
	for (uint32_t s = 1; s <= MG_SRTP_SSRC_MAX + 1; s++)
		assert_int_equal(unprot(f, p, prot(f, p, s, 100)), MG_SRTP_OK);
	assert_int_equal(mg_srtp_get_roc(f->in, 1, &roc, NULL), -ENOENT);
	assert_int_equal(mg_srtp_get_roc(f->in, MG_SRTP_SSRC_MAX + 1, &roc, NULL), 0);
}

static void test_gcm_roundtrip(void **state)
{
	FX();
	struct mg_srtp_policy p;
	uint8_t pk[CAP];
	uint16_t l;

	policy(&p, MG_SRTP_AEAD_AES_128_GCM, 2, 1);
	pair(f, &p);
	l = prot(f, pk, 3, 10);
	assert_int_equal(l, 52 + 16 + 1);
	assert_int_equal(pk[l - 1], 0xa0); /* RFC 7714: MKI after the tag */
	assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
	l = prot(f, pk, 3, 11);
	pk[20] ^= 4;
	assert_int_equal(unprot(f, pk, l), MG_SRTP_AUTH_FAIL);
	pk[20] ^= 4;
	assert_int_equal(unprot(f, pk, l), MG_SRTP_OK);
}

/* The packet path allocates nothing: thousands of packets through every
 * call, suite and MKI setting, counted after a warm-up. */
static void test_no_allocation(void **state)
{
	FX();
#if MG_COUNT_ALLOCS
	static const enum mg_srtp_suite ss[3] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_AES_CM_128_HMAC_SHA1_32,
						  MG_SRTP_AEAD_AES_128_GCM };
	static uint8_t pk[32][CAP];

	for (unsigned si = 0; si < 3; si++) {
		struct mg_srtp_policy p;

		policy(&p, ss[si], 2, si == 1 ? 0 : 2);
		if (si == 1)
			p.nkeys = 1;
		pair(f, &p);
		for (int round = 0; round < 40; round++) {
			struct mg_srtp_buf b[32];
			struct mg_srtp_ctx *cv[32];
			uint8_t res[32];
			unsigned ok = 0;

			if (round == 2) {
				nallocs = 0;
				counting = 1;
			}
			for (unsigned k = 0; k < 32; k++) {
				b[k] = (struct mg_srtp_buf){ pk[k], rtp(pk[k], 0x77, (uint16_t)(round * 32 + k), 160), CAP };
				cv[k] = f->out;
			}
			ok += mg_srtp_protect_burst_multi(f->e, cv, b, res, 32);
			ok += mg_srtp_unprotect_burst(f->e, f->in, b, res, 32);
			for (unsigned k = 0; k < 32; k++) {
				memset(pk[k], 0, 40);
				pk[k][0] = 0x80;
				pk[k][1] = 200;
				pk[k][7] = 0x77;
				b[k] = (struct mg_srtp_buf){ pk[k], 40, CAP };
			}
			ok += mg_srtp_protect_rtcp_burst(f->e, f->out, b, res, 32);
			ok += mg_srtp_unprotect_rtcp_burst(f->e, f->in, b, res, 32);
			counting = 0;
			assert_int_equal(ok, 4 * 32);
			if (round >= 2)
				counting = 1;
		}
		counting = 0;
		if (nallocs)
			fail_msg("%lu heap allocations on the packet path (%s)", nallocs, mg_srtp_suite_by_id(ss[si])->sdes_name);
	}
#else
	(void)f;
	skip();
#endif
}

static void test_policy_errors(void **state)
{
	struct mg_srtp_policy p;
	char err[200];

	(void)state;
	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0);
	p.dir = MG_SRTP_DIR_OUTBOUND;
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), 0);
	p.kdr = 24;
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "key derivation rate"));
	errno = 0;
	assert_null(mg_srtp_ctx_create(&p, err, sizeof(err)));
	assert_int_equal(errno, ENOTSUP);
	p.kdr = 0;
	p.nkeys = 2;
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "MKI"));
	p.mki_len = 5;
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0 to 4"));
	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 2, 1);
	p.dir = MG_SRTP_DIR_INBOUND;
	p.keys[1].mki[0] = p.keys[0].mki[0];
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "same MKI"));
	policy(&p, (enum mg_srtp_suite)77, 1, 0);
	p.dir = MG_SRTP_DIR_INBOUND;
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "AES_CM_128_HMAC_SHA1_80"));
	policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 1, 0);
	p.dir = 0;
	assert_int_equal(mg_srtp_policy_check(&p, err, sizeof(err)), -EINVAL);
	assert_int_equal(mg_srtp_policy_check(NULL, err, sizeof(err)), -EINVAL);
}

static void test_names(void **state)
{
	enum mg_srtp_backend b;

	(void)state;
	assert_string_equal(mg_srtp_result_name(MG_SRTP_AUTH_FAIL), "auth-fail");
	assert_string_equal(mg_srtp_result_name(MG_SRTP_RESULT_COUNT), "unknown");
	assert_int_equal(mg_srtp_backend_parse("ipsec-mb", &b), 0);
	assert_int_equal(b, MG_SRTP_BACKEND_IPSECMB);
	assert_int_equal(mg_srtp_backend_parse("fast", &b), -EINVAL);
	assert_int_equal(mg_srtp_backend_available(MG_SRTP_BACKEND_SCALAR), 1);
}

/* Contexts with an SSRC pool (as the dataplane makes them) keep their first
 * SSRC inside and take the room for the others from the pool at the second
 * SSRC, on the packet path without allocating; with the pool empty they go
 * on with one state (counted); a freed context's room goes back wiped. */
static void test_ssrc_pool(void **state)
{
	FX();
	struct mg_srtp_ssrc_pool *pool = mg_srtp_ssrc_pool_create(1);
	struct mg_srtp_ssrc_pool_stats ps;
	struct mg_srtp_ctx *in1, *in2, *keep = f->in;
	struct mg_srtp_policy p = f->pol;
	uint8_t pk[CAP];
	uint16_t len;
	uint32_t roc;
	char err[200];

	assert_non_null(pool);
	p.dir = MG_SRTP_DIR_INBOUND;
	p.ssrc_pool = pool;
	in1 = mg_srtp_ctx_create(&p, err, sizeof(err));
	in2 = mg_srtp_ctx_create(&p, err, sizeof(err));
	assert_non_null(in1);
	assert_non_null(in2);
	f->in = in1;
	assert_int_equal(unprot(f, pk, prot(f, pk, 1, 100)), MG_SRTP_OK);
	mg_srtp_ssrc_pool_stats(pool, &ps);
	assert_int_equal(ps.rooms, 1);
	assert_int_equal(ps.in_use, 0); /* one SSRC: no room taken */
#if MG_COUNT_ALLOCS
	nallocs = 0;
	counting = 1;
#endif
	assert_int_equal(unprot(f, pk, prot(f, pk, 2, 100)), MG_SRTP_OK);
#if MG_COUNT_ALLOCS
	counting = 0;
	assert_int_equal(nallocs, 0);
#endif
	mg_srtp_ssrc_pool_stats(pool, &ps);
	assert_int_equal(ps.in_use, 1);
	for (uint32_t s = 3; s <= MG_SRTP_SSRC_MAX; s++)
		assert_int_equal(unprot(f, pk, prot(f, pk, s, 100)), MG_SRTP_OK);
	for (uint32_t s = 1; s <= MG_SRTP_SSRC_MAX; s++)
		assert_int_equal(mg_srtp_get_roc(in1, s, &roc, NULL), 0);
	/* the second context finds the pool empty: one state, LRU */
	f->in = in2;
	assert_int_equal(unprot(f, pk, prot(f, pk, 10, 100)), MG_SRTP_OK);
	len = prot(f, pk, 11, 200);
	assert_int_equal(unprot(f, pk, len), MG_SRTP_OK);
	assert_int_equal(unprot(f, pk, len), MG_SRTP_REPLAY);
	mg_srtp_ssrc_pool_stats(pool, &ps);
	assert_int_equal(ps.in_use, 1);
	assert_int_equal(ps.empty, 1);
	assert_int_equal(mg_srtp_get_roc(in2, 10, &roc, NULL), -ENOENT);
	assert_int_equal(mg_srtp_get_roc(in2, 11, &roc, NULL), 0);
	/* the first context's room goes back, wiped, and serves the second */
	mg_srtp_ctx_free(in1);
	mg_srtp_ssrc_pool_stats(pool, &ps);
	assert_int_equal(ps.in_use, 0);
	assert_int_equal(unprot(f, pk, prot(f, pk, 12, 100)), MG_SRTP_OK);
	mg_srtp_ssrc_pool_stats(pool, &ps);
	assert_int_equal(ps.in_use, 1);
	assert_int_equal(ps.empty, 1);
	for (uint32_t s = 1; s <= MG_SRTP_SSRC_MAX; s++)
		assert_int_equal(mg_srtp_get_roc(in2, s, &roc, NULL), -ENOENT);
	assert_int_equal(mg_srtp_get_roc(in2, 11, &roc, NULL), 0);
	assert_int_equal(mg_srtp_get_roc(in2, 12, &roc, NULL), 0);
	assert_int_equal(unprot(f, pk, len), MG_SRTP_REPLAY); /* SSRC 11 kept its window */
	/* a re-key keeps the room and forgets every SSRC */
	assert_int_equal(mg_srtp_ctx_rekey(in2, &p, err, sizeof(err)), 0);
	assert_int_equal(mg_srtp_get_roc(in2, 11, &roc, NULL), -ENOENT);
	assert_int_equal(mg_srtp_get_roc(in2, 12, &roc, NULL), -ENOENT);
	assert_int_equal(unprot(f, pk, len), MG_SRTP_OK);
	mg_srtp_ctx_free(in2);
	mg_srtp_ssrc_pool_stats(pool, &ps);
	assert_int_equal(ps.in_use, 0);
	f->in = keep;
	mg_srtp_ssrc_pool_free(pool);
}

#define BOTH(fn)                                                              \
	cmocka_unit_test_setup_teardown(fn, setup_scalar, teardown),          \
		cmocka_unit_test_setup_teardown(fn, setup_imb, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_replay_window),
		BOTH(test_duplicate_in_burst),
		BOTH(test_roc_wrap_and_late),
		BOTH(test_set_roc),
		BOTH(test_resume_index),
		BOTH(test_lifetime_and_rekey),
		BOTH(test_mki_selection),
		BOTH(test_malformed),
		BOTH(test_rtcp_roundtrip_and_tamper),
		BOTH(test_ssrc_slots),
		BOTH(test_ssrc_pool),
		BOTH(test_gcm_roundtrip),
		BOTH(test_no_allocation),
		BOTH(test_stats_off),
		cmocka_unit_test(test_policy_errors),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
