/* SPDX-License-Identifier: BSD-3-Clause */
/* Suite 'vectors': the engine against published vectors (RFC 3711 B.2/B.3,
 * RFC 7714 §16/§17) and byte-for-byte against Debian's libsrtp2 on
 * randomized RTP/RTCP (sizes 0-1400, CSRCs, extensions, padding, sequence
 * wrap with ROC increment, MKI, reordering), both directions, with replayed
 * and tampered packets that both implementations must refuse. Every
 * available backend runs every case. Seed: argv[1] or MG_SRTP_SEED, printed. */
#include "mg_srtp_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#if MG_HAVE_IPSECMB
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#endif

static unsigned failures, checks;

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		checks++;                                                                  \
		if (!(cond)) {                                                             \
			failures++;                                                        \
			if (failures < 30) {                                               \
				fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
				fprintf(stderr, __VA_ARGS__);                              \
				fputc('\n', stderr);                                       \
			}                                                                  \
		}                                                                          \
	} while (0)

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	while (*h) {
		unsigned v;

		if (*h == ' ') {
			h++;
			continue;
		}
		sscanf(h, "%2x", &v);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static enum mg_srtp_backend backends[2];
static struct mg_srtp_engine *engines[2];
static unsigned nbackends;

/* SHA-1 chaining value after one block of (akey ^ fill..fill). Written
 * again here on purpose, not taken from mg_srtp_scalar.c: it is the oracle
 * the context's stored HMAC states are checked against. */
static void sha1_pad_state(const uint8_t akey[20], uint8_t fill, uint32_t h[5])
{
	uint8_t pad[64];
	SHA_CTX x;

	memset(pad, fill, sizeof(pad));
	for (int i = 0; i < 20; i++)
		pad[i] ^= akey[i];
	SHA1_Init(&x);
	SHA1_Update(&x, pad, sizeof(pad));
	h[0] = x.h0;
	h[1] = x.h1;
	h[2] = x.h2;
	h[3] = x.h3;
	h[4] = x.h4;
}

/* ---- RFC 3711 B.3 key derivation ---- */
static void test_kdf(void)
{
	uint8_t mk[16], ms[14], out[20], want[20];
	struct mg_srtp_policy p = { 0 };
	struct mg_srtp_ctx *c;
	char err[200];

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk);
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms);
	CHECK(mg_srtp_kdf(mk, ms, 0, out, 16) == 0 && unhex("C61E7A93744F39EE10734AFE3FF7A087", want) &&
		      memcmp(out, want, 16) == 0, "B.3 cipher key");
	unhex("30CBBC08863D8C85D49DB34A9AE1", want);
	CHECK(mg_srtp_kdf(mk, ms, 2, out, 14) == 0 && memcmp(out, want, 14) == 0, "B.3 cipher salt");
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want);
	CHECK(mg_srtp_kdf(mk, ms, 1, out, 20) == 0 && memcmp(out, want, 20) == 0, "B.3 auth key");

	/* the same through a context */
	p.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	p.dir = MG_SRTP_DIR_OUTBOUND;
	p.nkeys = 1;
	memcpy(p.keys[0].key, mk, 16);
	memcpy(p.keys[0].salt, ms, 14);
	c = mg_srtp_ctx_create(&p, err, sizeof(err));
	CHECK(c != NULL, "ctx create: %s", err);
	if (c) {
		uint32_t h[5];

		/* the context keeps the cipher key and the HMAC states
		 * (SHA-1 over key^ipad/opad), not the auth key itself */
		unhex("C61E7A93744F39EE10734AFE3FF7A087", want);
		CHECK(memcmp(c->key0.rtp.ek, want, 16) == 0, "B.3 via context");
		unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want);
		sha1_pad_state(want, 0x36, h);
		CHECK(memcmp(c->key0.rtp.hmac_in, h, 20) == 0, "B.3 auth (ipad) via context");
		sha1_pad_state(want, 0x5c, h);
		CHECK(memcmp(c->key0.rtp.hmac_out, h, 20) == 0, "B.3 auth (opad) via context");
		mg_srtp_ctx_free(c);
	}
}

static struct mg_srtp_ctx *mkctx(enum mg_srtp_suite s, enum mg_srtp_dir d)
{
	struct mg_srtp_policy p = { 0 };
	char err[200];
	struct mg_srtp_ctx *c;

	p.suite = s;
	p.dir = d;
	p.nkeys = 1;
	c = mg_srtp_ctx_create(&p, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "ctx create: %s\n", err);
		exit(1);
	}
	return c;
}

/* ---- RFC 3711 B.2 AES-CM keystream, through protect ---- */
static void test_b2(unsigned bi)
{
	static const char *const ks[3] = {
		"E03EAD0935C95E80E166B16DD92B4EB4",
		"D23513162B02D0F72A43A2FE4A5F97AB",
		"41E95B3BB0A2E8DD477901E4FCA894C0",
	};
	uint8_t key[16], salt[14], akey[20] = { 0 }, want[16];
	uint8_t pkt[128] = { 0x80, 0, 0, 0 };
	struct mg_srtp_buf b = { pkt, 12 + 48, sizeof(pkt) };
	struct mg_srtp_ctx *c = mkctx(MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_DIR_OUTBOUND);
	uint8_t res;

	unhex("2B7E151628AED2A6ABF7158809CF4F3C", key);
	unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt);
	mg_srtp_test_set_session_keys(c, 0, 0, key, salt, 14, akey);
	/* SSRC 0, SEQ 0, ROC 0: the payload becomes the raw keystream */
	CHECK(mg_srtp_protect_burst(engines[bi], c, &b, &res, 1) == 1, "B.2 protect");
	for (int i = 0; i < 3; i++) {
		unhex(ks[i], want);
		CHECK(memcmp(pkt + 12 + 16 * i, want, 16) == 0, "B.2 keystream block %d (%s)", i,
		      mg_srtp_backend_name(backends[bi]));
	}
	mg_srtp_ctx_free(c);
}

/* ---- RFC 7714 §16.1.1 / §17.1.1 AEAD_AES_128_GCM ---- */
static void test_7714(unsigned bi)
{
	const char *rtp = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
	const char *srtp = "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f"
			   "42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce";
	const char *rtcp = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61"
			   "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
	const char *srtcp = "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1"
			    "730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4";
	uint8_t key[16], salt[12], pkt[256], want[256], plain[256];
	size_t n, wn, pn;
	struct mg_srtp_ctx *o = mkctx(MG_SRTP_AEAD_AES_128_GCM, MG_SRTP_DIR_OUTBOUND);
	struct mg_srtp_ctx *in = mkctx(MG_SRTP_AEAD_AES_128_GCM, MG_SRTP_DIR_INBOUND);
	struct mg_srtp_buf b;
	uint8_t res;
	const char *bn = mg_srtp_backend_name(backends[bi]);

	unhex("000102030405060708090a0b0c0d0e0f", key);
	unhex("517569642070726f2071756f", salt);
	for (int r = 0; r < 2; r++) {
		mg_srtp_test_set_session_keys(o, 0, r, key, salt, 12, NULL);
		mg_srtp_test_set_session_keys(in, 0, r, key, salt, 12, NULL);
	}
	pn = unhex(rtp, plain);
	memcpy(pkt, plain, pn);
	b = (struct mg_srtp_buf){ pkt, (uint16_t)pn, sizeof(pkt) };
	wn = unhex(srtp, want);
	CHECK(mg_srtp_protect_burst(engines[bi], o, &b, &res, 1) == 1 && b.len == wn &&
		      memcmp(pkt, want, wn) == 0, "RFC 7714 16.1.1 SRTP protect (%s)", bn);
	CHECK(mg_srtp_unprotect_burst(engines[bi], in, &b, &res, 1) == 1 && b.len == pn &&
		      memcmp(pkt, plain, pn) == 0, "RFC 7714 16.1.1 SRTP unprotect (%s) res %s", bn,
	      mg_srtp_result_name(res));

	pn = unhex(rtcp, plain);
	memcpy(pkt, plain, pn);
	b = (struct mg_srtp_buf){ pkt, (uint16_t)pn, sizeof(pkt) };
	n = unhex(srtcp, want);
	mg_srtp_test_set_rtcp_index(o, 0x4d617273, 0x5d3); /* next index 0x5d4 */
	CHECK(mg_srtp_protect_rtcp_burst(engines[bi], o, &b, &res, 1) == 1 && b.len == n &&
		      memcmp(pkt, want, n) == 0, "RFC 7714 17.1.1 SRTCP protect (%s)", bn);
	CHECK(mg_srtp_unprotect_rtcp_burst(engines[bi], in, &b, &res, 1) == 1 && b.len == pn &&
		      memcmp(pkt, plain, pn) == 0, "RFC 7714 17.1.1 SRTCP unprotect (%s) res %s", bn,
	      mg_srtp_result_name(res));
	/* the same packet again is a replay */
	memcpy(pkt, want, n);
	b = (struct mg_srtp_buf){ pkt, (uint16_t)n, sizeof(pkt) };
	CHECK(mg_srtp_unprotect_rtcp_burst(engines[bi], in, &b, &res, 1) == 0 && res == MG_SRTP_REPLAY,
	      "RFC 7714 SRTCP replay (%s)", bn);
	mg_srtp_ctx_free(o);
	mg_srtp_ctx_free(in);
}

/* ---- randomized cross-check against libsrtp2 ---- */
#define PKT_CAP 2048

struct pk {
	uint8_t plain[PKT_CAP];
	uint16_t plen;
	uint8_t ours[PKT_CAP];
	uint16_t olen;
	uint8_t theirs[PKT_CAP];
	int tlen;
};

static uint16_t make_rtp(uint8_t *p, uint32_t ssrc, uint16_t seq)
{
	unsigned cc = rnd() % 4 == 0 ? rnd() % 16 : 0;
	unsigned x = rnd() % 3 == 0, pad = rnd() % 4 == 0;
	unsigned payload = rnd() % 8 == 0 ? 0 : rnd() % 1401;
	unsigned h = 12, padn = 0;

	if (rnd() % 3 == 0)
		payload = 160; /* G.711 20 ms: the common case */
	p[0] = (uint8_t)(0x80 | (x ? 0x10 : 0) | (pad ? 0x20 : 0) | cc);
	p[1] = (uint8_t)(rnd() & 0xff);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	rnd_bytes(p + 4, 4);
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	rnd_bytes(p + 12, 4 * cc);
	h += 4 * cc;
	if (x) {
		unsigned words = rnd() % 6;

		p[h] = 0xbe;
		p[h + 1] = 0xde;
		p[h + 2] = 0;
		p[h + 3] = (uint8_t)words;
		rnd_bytes(p + h + 4, 4 * words);
		h += 4 + 4 * words;
	}
	rnd_bytes(p + h, payload);
	if (pad) {
		padn = 1 + rnd() % 16;
		memset(p + h + payload, 0, padn);
		p[h + payload + padn - 1] = (uint8_t)padn;
	}
	return (uint16_t)(h + payload + padn);
}

static uint16_t make_rtcp(uint8_t *p, uint32_t ssrc)
{
	unsigned words = 1 + rnd() % 60; /* body after the 8-byte header */
	unsigned len = 8 + 4 * words;

	p[0] = 0x80 | (uint8_t)(rnd() % 4);
	p[1] = 200 + (uint8_t)(rnd() % 5);
	p[2] = (uint8_t)((len / 4 - 1) >> 8);
	p[3] = (uint8_t)(len / 4 - 1);
	p[4] = (uint8_t)(ssrc >> 24);
	p[5] = (uint8_t)(ssrc >> 16);
	p[6] = (uint8_t)(ssrc >> 8);
	p[7] = (uint8_t)ssrc;
	rnd_bytes(p + 8, len - 8);
	return (uint16_t)len;
}

static void lib_policy(srtp_policy_t *pol, enum mg_srtp_suite s, int inbound, srtp_master_key_t **keys,
		       unsigned nkeys, uint8_t *single_key)
{
	memset(pol, 0, sizeof(*pol));
	switch (s) {
	case MG_SRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
		break;
	case MG_SRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtcp);
		break;
	default:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
		break;
	}
	pol->ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	if (nkeys) {
		pol->keys = keys;
		pol->num_master_keys = nkeys;
	} else {
		pol->key = single_key;
	}
	pol->window_size = 128;
	pol->allow_repeat_tx = 0;
}

/* Indices of a mildly shuffled delivery order (swaps within 8). */
static void shuffle_near(unsigned *ord, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	/* ord[0] stays first: a receiver's first packet fixes its ROC, and a
	 * packet from after the wrap cannot be told apart from one before it */
	for (unsigned i = 1; i + 1 < n; i++) {
		if (rnd() % 5 == 0) {
			unsigned j = i + 1 + rnd() % 7;
			unsigned t;

			if (j >= n)
				j = n - 1;
			t = ord[i];
			ord[i] = ord[j];
			ord[j] = t;
		}
	}
}

/* What libsrtp 2.5 answers for SRTCP with MKI in the _32 suite: it reads
 * the MKI at the wrong offset, so "bad MKI", or "auth fail" when the byte it
 * reads happens to name a key. */
#define LIB_BUG_ERR(st) ((st) == srtp_err_status_bad_mki || (st) == srtp_err_status_auth_fail)

static const char *suite_name(enum mg_srtp_suite s)
{
	return mg_srtp_suite_by_id(s)->sdes_name;
}

/* One run: nrtp RTP and nrtcp RTCP packets of one SSRC. Sender pair (ours,
 * libsrtp) share keys and must produce identical bytes; each receiver
 * (ours, libsrtp) gets the other's packets, reordered, plus replays and
 * tampered copies. */
static void cross(unsigned bi, enum mg_srtp_suite s, unsigned mki_len, unsigned nrtp, unsigned nrtcp)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(s);
	struct mg_srtp_engine *e = engines[bi];
	const char *bn = mg_srtp_backend_name(backends[bi]);
	struct mg_srtp_policy pol = { 0 };
	unsigned nkeys = mki_len ? 2 : 1, total = nrtp + nrtcp;
	uint8_t keybuf[2][46], mkis[2][4];
	srtp_master_key_t lk[2], *lkp[2] = { &lk[0], &lk[1] };
	srtp_policy_t lp;
	srtp_t lib_out = NULL, lib_in = NULL;
	struct mg_srtp_ctx *our_out, *our_in;
	struct pk *pk = calloc(total, sizeof(*pk));
	unsigned *ord = calloc(total, sizeof(*ord));
	uint32_t ssrc = rnd();
	uint16_t seq0 = (uint16_t)(65535 - rnd() % (nrtp > 2 ? nrtp - 1 : 1)); /* wraps inside the run */
	char err[200];
	unsigned lib_ok = 0, our_ok = 0, same = 0, lib_bug = 0;
	const int lib_rtcp_broken = mki_len && s == MG_SRTP_AES_CM_128_HMAC_SHA1_32;

	pol.suite = s;
	pol.nkeys = (uint8_t)nkeys;
	pol.mki_len = (uint8_t)mki_len;
	for (unsigned k = 0; k < nkeys; k++) {
		rnd_bytes(keybuf[k], si->master_key_len + si->master_salt_len);
		memcpy(pol.keys[k].key, keybuf[k], si->master_key_len);
		memcpy(pol.keys[k].salt, keybuf[k] + si->master_key_len, si->master_salt_len);
		for (unsigned j = 0; j < mki_len; j++)
			mkis[k][j] = (uint8_t)(k * 0x11 + j + 1);
		memcpy(pol.keys[k].mki, mkis[k], mki_len);
		lk[k].key = keybuf[k];
		lk[k].mki_id = mkis[k];
		lk[k].mki_size = mki_len;
	}
	pol.dir = MG_SRTP_DIR_OUTBOUND;
	our_out = mg_srtp_ctx_create(&pol, err, sizeof(err));
	pol.dir = MG_SRTP_DIR_INBOUND;
	our_in = mg_srtp_ctx_create(&pol, err, sizeof(err));
	lib_policy(&lp, s, 0, lkp, mki_len ? nkeys : 0, keybuf[0]);
	CHECK(srtp_create(&lib_out, &lp) == srtp_err_status_ok, "libsrtp create out");
	lib_policy(&lp, s, 1, lkp, mki_len ? nkeys : 0, keybuf[0]);
	CHECK(srtp_create(&lib_in, &lp) == srtp_err_status_ok, "libsrtp create in");
	if (!our_out || !our_in || !lib_out || !lib_in || !pk || !ord) {
		CHECK(0, "setup failed: %s", err);
		goto out;
	}
	mg_srtp_test_set_rtcp_index(our_out, ssrc, 0); /* libsrtp's first SRTCP index is 1 */

	/* 1. protect with both, in random bursts; compare bytes */
	for (unsigned i = 0; i < total;) {
		unsigned burst = 1 + rnd() % 40, nb = 0;
		int rtcp = i >= nrtp;
		struct mg_srtp_buf bufs[64];
		uint8_t res[64];
		unsigned key = mki_len ? (i / 50) % 2 : 0;

		mg_srtp_ctx_set_active_key(our_out, key);
		for (; nb < burst && i + nb < total && (i + nb >= nrtp) == rtcp; nb++) {
			struct pk *p = &pk[i + nb];

			p->plen = rtcp ? make_rtcp(p->plain, ssrc) : make_rtp(p->plain, ssrc, (uint16_t)(seq0 + i + nb));
			memcpy(p->ours, p->plain, p->plen);
			memcpy(p->theirs, p->plain, p->plen);
			bufs[nb] = (struct mg_srtp_buf){ p->ours, p->plen, PKT_CAP };
		}
		if (rtcp)
			mg_srtp_protect_rtcp_burst(e, our_out, bufs, res, nb);
		else
			mg_srtp_protect_burst(e, our_out, bufs, res, nb);
		for (unsigned k = 0; k < nb; k++) {
			struct pk *p = &pk[i + k];
			srtp_err_status_t st;

			CHECK(res[k] == MG_SRTP_OK, "our protect %s", mg_srtp_result_name(res[k]));
			p->olen = bufs[k].len;
			p->tlen = p->plen;
			if (rtcp)
				st = mki_len ? srtp_protect_rtcp_mki(lib_out, p->theirs, &p->tlen, 1, key)
					     : srtp_protect_rtcp(lib_out, p->theirs, &p->tlen);
			else
				st = mki_len ? srtp_protect_mki(lib_out, p->theirs, &p->tlen, 1, key)
					     : srtp_protect(lib_out, p->theirs, &p->tlen);
			CHECK(st == srtp_err_status_ok, "libsrtp protect %d", st);
			if (p->tlen == p->olen && memcmp(p->ours, p->theirs, p->olen) == 0)
				same++;
			else
				CHECK(0, "%s %s mki%u %s pkt %u (len %u): ours %u bytes differ from libsrtp %d bytes",
				      bn, suite_name(s), mki_len, rtcp ? "SRTCP" : "SRTP", i + k, p->plen, p->olen,
				      p->tlen);
		}
		i += nb;
	}

	/* 2. each receiver gets the other's packets, mildly reordered */
	shuffle_near(ord, nrtp);
	for (unsigned i = nrtp; i < total; i++)
		ord[i] = i;
	for (unsigned i = 0; i < total;) {
		unsigned burst = 1 + rnd() % 64, nb = 0;
		int rtcp = i >= nrtp;
		struct mg_srtp_buf bufs[64];
		uint8_t res[64];
		static uint8_t tmp[64][PKT_CAP];

		for (; nb < burst && i + nb < total && (i + nb >= nrtp) == rtcp; nb++) {
			struct pk *p = &pk[ord[i + nb]];

			memcpy(tmp[nb], p->theirs, (size_t)p->tlen);
			bufs[nb] = (struct mg_srtp_buf){ tmp[nb], (uint16_t)p->tlen, PKT_CAP };
		}
		if (rtcp)
			mg_srtp_unprotect_rtcp_burst(e, our_in, bufs, res, nb);
		else
			mg_srtp_unprotect_burst(e, our_in, bufs, res, nb);
		for (unsigned k = 0; k < nb; k++) {
			struct pk *p = &pk[ord[i + k]];
			uint8_t lb[PKT_CAP];
			int llen = p->olen;
			srtp_err_status_t st;

			if (res[k] == MG_SRTP_OK && bufs[k].len == p->plen && memcmp(tmp[k], p->plain, p->plen) == 0)
				our_ok++;
			else
				CHECK(0, "%s %s mki%u our unprotect pkt %u: %s", bn, suite_name(s), mki_len, ord[i + k],
				      mg_srtp_result_name(res[k]));
			memcpy(lb, p->ours, p->olen);
			if (rtcp)
				st = mki_len ? srtp_unprotect_rtcp_mki(lib_in, lb, &llen, 1) : srtp_unprotect_rtcp(lib_in, lb, &llen);
			else
				st = mki_len ? srtp_unprotect_mki(lib_in, lb, &llen, 1) : srtp_unprotect(lib_in, lb, &llen);
			if (st == srtp_err_status_ok && llen == p->plen && memcmp(lb, p->plain, p->plen) == 0)
				lib_ok++;
			else if (rtcp && mki_len && s == MG_SRTP_AES_CM_128_HMAC_SHA1_32 && LIB_BUG_ERR(st) &&
				 p->tlen == p->olen && memcmp(p->ours, p->theirs, p->olen) == 0)
				/* libsrtp 2.5 looks for the SRTCP MKI using the SRTP
				 * tag length (4 in _32, SRTCP uses 10): it cannot read
				 * its own packets either, and ours are identical */
				lib_bug++;
			else
				CHECK(0, "%s %s mki%u libsrtp unprotect of ours pkt %u: err %d", bn, suite_name(s), mki_len,
				      ord[i + k], st);
		}
		i += nb;
	}

	/* 3. replays: a few already accepted packets again, to both */
	for (unsigned r = 0; r < 8; r++) {
		unsigned i = rnd() % total;
		struct pk *p = &pk[i];
		uint8_t b[PKT_CAP];
		struct mg_srtp_buf buf = { b, (uint16_t)p->tlen, PKT_CAP };
		uint8_t res;
		int llen = p->olen;
		srtp_err_status_t st;

		memcpy(b, p->theirs, (size_t)p->tlen);
		if (i >= nrtp)
			mg_srtp_unprotect_rtcp_burst(e, our_in, &buf, &res, 1);
		else
			mg_srtp_unprotect_burst(e, our_in, &buf, &res, 1);
		CHECK(res == MG_SRTP_REPLAY, "%s %s replay of pkt %u: ours says %s", bn, suite_name(s), i,
		      mg_srtp_result_name(res));
		memcpy(b, p->ours, p->olen);
		if (i >= nrtp)
			st = mki_len ? srtp_unprotect_rtcp_mki(lib_in, b, &llen, 1) : srtp_unprotect_rtcp(lib_in, b, &llen);
		else
			st = mki_len ? srtp_unprotect_mki(lib_in, b, &llen, 1) : srtp_unprotect(lib_in, b, &llen);
		CHECK(st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old ||
			      (i >= nrtp && lib_rtcp_broken && LIB_BUG_ERR(st)),
		      "libsrtp accepted replay of pkt %u (%d)", i, st);
	}

	/* 4. tampering: fresh packets, one bit flipped in the authenticated
	 * payload or in the tag; both must refuse, then accept the original */
	for (unsigned r = 0; r < 6; r++) {
		int rtcp = r % 2;
		uint8_t plain[PKT_CAP], a[PKT_CAP], b2[PKT_CAP];
		uint16_t plen = rtcp ? make_rtcp(plain, ssrc) : make_rtp(plain, ssrc, (uint16_t)(seq0 + nrtp + r));
		struct mg_srtp_buf buf = { a, plen, PKT_CAP };
		uint8_t res;
		int llen;
		unsigned flip, tag = rtcp ? si->srtcp_tag_len : si->srtp_tag_len;
		srtp_err_status_t st;

		memcpy(a, plain, plen);
		if (rtcp)
			mg_srtp_protect_rtcp_burst(e, our_out, &buf, &res, 1);
		else
			mg_srtp_protect_burst(e, our_out, &buf, &res, 1);
		/* a payload byte, or a tag byte (never the header, where a flip
		 * is a different packet, nor the MKI, which picks the key) */
		{
			unsigned hdr = rtcp ? 8 : 12 + 4u * (plain[0] & 15);

			if (!rtcp && (plain[0] & 0x10))
				hdr += 4 + 4u * (unsigned)(plain[hdr + 2] << 8 | plain[hdr + 3]);
			if (plen > hdr && rnd() % 2)
				flip = hdr + rnd() % (plen - hdr);
			else if (si->aead)
				flip = plen + rnd() % tag;
			else
				flip = (unsigned)buf.len - 1 - rnd() % tag;
		}
		memcpy(b2, a, buf.len);
		b2[flip] ^= (uint8_t)(1u << (rnd() % 8));
		{
			uint8_t c1[PKT_CAP];
			struct mg_srtp_buf tb = { c1, buf.len, PKT_CAP };

			memcpy(c1, b2, buf.len);
			if (rtcp)
				mg_srtp_unprotect_rtcp_burst(e, our_in, &tb, &res, 1);
			else
				mg_srtp_unprotect_burst(e, our_in, &tb, &res, 1);
			CHECK(res == MG_SRTP_AUTH_FAIL, "%s %s tampered byte %u: ours says %s", bn, suite_name(s), flip,
			      mg_srtp_result_name(res));
			memcpy(c1, b2, buf.len);
			llen = buf.len;
			if (rtcp)
				st = mki_len ? srtp_unprotect_rtcp_mki(lib_in, c1, &llen, 1) : srtp_unprotect_rtcp(lib_in, c1, &llen);
			else
				st = mki_len ? srtp_unprotect_mki(lib_in, c1, &llen, 1) : srtp_unprotect(lib_in, c1, &llen);
			CHECK(st == srtp_err_status_auth_fail || (rtcp && lib_rtcp_broken && LIB_BUG_ERR(st)),
			      "libsrtp tampered byte %u: err %d", flip, st);
			/* the untampered original still goes through both */
			memcpy(c1, a, buf.len);
			tb = (struct mg_srtp_buf){ c1, buf.len, PKT_CAP };
			if (rtcp)
				mg_srtp_unprotect_rtcp_burst(e, our_in, &tb, &res, 1);
			else
				mg_srtp_unprotect_burst(e, our_in, &tb, &res, 1);
			CHECK(res == MG_SRTP_OK && tb.len == plen && memcmp(c1, plain, plen) == 0,
			      "%s original after tamper: %s", bn, mg_srtp_result_name(res));
			memcpy(c1, a, buf.len);
			llen = buf.len;
			if (rtcp)
				st = mki_len ? srtp_unprotect_rtcp_mki(lib_in, c1, &llen, 1) : srtp_unprotect_rtcp(lib_in, c1, &llen);
			else
				st = mki_len ? srtp_unprotect_mki(lib_in, c1, &llen, 1) : srtp_unprotect(lib_in, c1, &llen);
			CHECK(st == srtp_err_status_ok || (rtcp && lib_rtcp_broken && LIB_BUG_ERR(st)),
			      "libsrtp original after tamper: %d", st);
		}
	}

	{
		uint32_t roc = 0, lroc = 0;

		CHECK(mg_srtp_get_roc(our_in, ssrc, &roc, NULL) == 0 && roc == 1, "ROC after wrap: %u", roc);
		CHECK(srtp_get_stream_roc(lib_in, ssrc, &lroc) == srtp_err_status_ok && lroc == roc,
		      "libsrtp ROC %u vs ours %u", lroc, roc);
	}
	printf("  %-8s %-24s mki=%u: %u/%u identical bytes, libsrtp accepted %u, we accepted %u%s\n", bn,
	       suite_name(s), mki_len, same, total, lib_ok, our_ok,
	       lib_bug ? " (libsrtp cannot read SRTCP+MKI in _32, its own packets included)" : "");
out:
	if (lib_out)
		srtp_dealloc(lib_out);
	if (lib_in)
		srtp_dealloc(lib_in);
	mg_srtp_ctx_free(our_out);
	mg_srtp_ctx_free(our_in);
	free(pk);
	free(ord);
}

/* The _multi calls: 6 sessions (each suite, with and without MKI) each with
 * its own SSRC, packets of random sessions mixed in every burst. Each
 * session's packets must equal libsrtp's for that session, both receivers
 * must accept them all, a duplicate inside a burst and a tampered packet must
 * be refused without disturbing the other sessions. */
#define MS 6
static void cross_multi(unsigned bi)
{
	static const enum mg_srtp_suite ss[MS] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_AES_CM_128_HMAC_SHA1_32,
						   MG_SRTP_AEAD_AES_128_GCM, MG_SRTP_AES_CM_128_HMAC_SHA1_80,
						   MG_SRTP_AES_CM_128_HMAC_SHA1_32, MG_SRTP_AEAD_AES_128_GCM };
	static const unsigned mk[MS] = { 0, 0, 0, 2, 0, 3 };
	struct mg_srtp_engine *e = engines[bi];
	const char *bn = mg_srtp_backend_name(backends[bi]);
	struct mg_srtp_ctx *o[MS], *in[MS];
	srtp_t lo[MS], li[MS];
	uint8_t keybuf[MS][46], mkis[MS][4];
	srtp_master_key_t lk[MS], *lkp[MS];
	uint32_t ssrc[MS];
	uint16_t seq[MS];
	unsigned same = 0, ok_ours = 0, ok_lib = 0, total = 0;
	static uint8_t plain[64][PKT_CAP], ours[64][PKT_CAP], theirs[64][PKT_CAP];

	for (unsigned j = 0; j < MS; j++) {
		const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(ss[j]);
		struct mg_srtp_policy pol = { 0 };
		srtp_policy_t lp;
		char err[200];

		rnd_bytes(keybuf[j], si->master_key_len + si->master_salt_len);
		pol.suite = ss[j];
		pol.nkeys = 1;
		pol.mki_len = (uint8_t)mk[j];
		memcpy(pol.keys[0].key, keybuf[j], si->master_key_len);
		memcpy(pol.keys[0].salt, keybuf[j] + si->master_key_len, si->master_salt_len);
		for (unsigned x = 0; x < mk[j]; x++)
			mkis[j][x] = (uint8_t)(0x40 + j + x);
		memcpy(pol.keys[0].mki, mkis[j], mk[j]);
		lk[j] = (srtp_master_key_t){ keybuf[j], mkis[j], mk[j] };
		lkp[j] = &lk[j];
		pol.dir = MG_SRTP_DIR_OUTBOUND;
		o[j] = mg_srtp_ctx_create(&pol, err, sizeof(err));
		pol.dir = MG_SRTP_DIR_INBOUND;
		in[j] = mg_srtp_ctx_create(&pol, err, sizeof(err));
		lib_policy(&lp, ss[j], 0, &lkp[j], mk[j] ? 1 : 0, keybuf[j]);
		lo[j] = NULL;
		srtp_create(&lo[j], &lp);
		lib_policy(&lp, ss[j], 1, &lkp[j], mk[j] ? 1 : 0, keybuf[j]);
		li[j] = NULL;
		srtp_create(&li[j], &lp);
		if (!o[j] || !in[j] || !lo[j] || !li[j]) {
			CHECK(0, "multi setup %u", j);
			return;
		}
		ssrc[j] = rnd();
		seq[j] = (uint16_t)(65535 - rnd() % 40);
		mg_srtp_test_set_rtcp_index(o[j], ssrc[j], 0);
	}
	for (unsigned round = 0; round < 30; round++) {
		int rtcp = round % 5 == 4;
		unsigned n = 1 + rnd() % 64;
		struct mg_srtp_ctx *cv[64], *iv[64];
		unsigned sess[64];
		struct mg_srtp_buf b[64];
		uint8_t res[64];
		uint16_t plen[64];
		int tlen[64];

		for (unsigned k = 0; k < n; k++) {
			unsigned j = rnd() % MS;

			sess[k] = j;
			cv[k] = o[j];
			iv[k] = in[j];
			plen[k] = rtcp ? make_rtcp(plain[k], ssrc[j]) : make_rtp(plain[k], ssrc[j], seq[j]++);
			memcpy(ours[k], plain[k], plen[k]);
			memcpy(theirs[k], plain[k], plen[k]);
			b[k] = (struct mg_srtp_buf){ ours[k], plen[k], PKT_CAP };
		}
		if (rtcp)
			mg_srtp_protect_rtcp_burst_multi(e, cv, b, res, n);
		else
			mg_srtp_protect_burst_multi(e, cv, b, res, n);
		for (unsigned k = 0; k < n; k++) {
			unsigned j = sess[k];

			tlen[k] = plen[k];
			if (rtcp)
				mk[j] ? srtp_protect_rtcp_mki(lo[j], theirs[k], &tlen[k], 1, 0)
				      : srtp_protect_rtcp(lo[j], theirs[k], &tlen[k]);
			else
				mk[j] ? srtp_protect_mki(lo[j], theirs[k], &tlen[k], 1, 0)
				      : srtp_protect(lo[j], theirs[k], &tlen[k]);
			if (res[k] == MG_SRTP_OK && tlen[k] == b[k].len && memcmp(ours[k], theirs[k], b[k].len) == 0)
				same++;
			else
				CHECK(0, "%s multi %s session %u pkt %u: %s, bytes differ from libsrtp", bn,
				      rtcp ? "SRTCP" : "SRTP", j, k, mg_srtp_result_name(res[k]));
			/* libsrtp receives ours */
			{
				uint8_t tmp[PKT_CAP];
				int l = b[k].len;
				srtp_err_status_t st;

				memcpy(tmp, ours[k], (size_t)l);
				if (rtcp)
					st = mk[j] ? srtp_unprotect_rtcp_mki(li[j], tmp, &l, 1) : srtp_unprotect_rtcp(li[j], tmp, &l);
				else
					st = mk[j] ? srtp_unprotect_mki(li[j], tmp, &l, 1) : srtp_unprotect(li[j], tmp, &l);
				if (st == srtp_err_status_ok && l == plen[k] && memcmp(tmp, plain[k], plen[k]) == 0)
					ok_lib++;
				else
					CHECK(0, "%s multi: libsrtp refuses ours, session %u: %d", bn, j, st);
			}
			b[k] = (struct mg_srtp_buf){ theirs[k], (uint16_t)tlen[k], PKT_CAP };
		}
		/* we receive libsrtp's, one packet tampered, one duplicated */
		{
			unsigned bad = rnd() % n, dup = n < 64 ? n : 0;

			if (dup) {
				memcpy(ours[dup], theirs[0], (size_t)tlen[0]);
				b[dup] = (struct mg_srtp_buf){ ours[dup], (uint16_t)tlen[0], PKT_CAP };
				iv[dup] = iv[0];
				sess[dup] = sess[0];
			}
			/* RTCP: a payload byte; RTP: the last tag byte (before
			 * the MKI under GCM) */
			if (bad != 0)
				theirs[bad][rtcp ? 9 : tlen[bad] - 1 - (ss[sess[bad]] == MG_SRTP_AEAD_AES_128_GCM ? mk[sess[bad]] : 0)] ^= 0x20;
			else
				bad = 64;
			if (rtcp)
				mg_srtp_unprotect_rtcp_burst_multi(e, iv, b, res, n + (dup ? 1 : 0));
			else
				mg_srtp_unprotect_burst_multi(e, iv, b, res, n + (dup ? 1 : 0));
			for (unsigned k = 0; k < n; k++) {
				if (k == bad) {
					CHECK(res[k] == MG_SRTP_AUTH_FAIL, "%s multi tampered: %s", bn,
					      mg_srtp_result_name(res[k]));
					continue;
				}
				if (res[k] == MG_SRTP_OK && b[k].len == plen[k] && memcmp(theirs[k], plain[k], plen[k]) == 0)
					ok_ours++;
				else
					CHECK(0, "%s multi: we refuse libsrtp's, session %u: %s", bn, sess[k],
					      mg_srtp_result_name(res[k]));
			}
			if (dup)
				CHECK(res[dup] == MG_SRTP_REPLAY, "%s multi duplicate: %s", bn, mg_srtp_result_name(res[dup]));
			total += n - (bad < 64 ? 1 : 0);
		}
	}
	for (unsigned j = 0; j < MS; j++) {
		srtp_dealloc(lo[j]);
		srtp_dealloc(li[j]);
		mg_srtp_ctx_free(o[j]);
		mg_srtp_ctx_free(in[j]);
	}
	printf("  %-8s multi-context bursts, %u sessions: %u identical bytes, libsrtp accepted %u, we accepted %u of %u\n",
	       bn, MS, same, ok_lib, ok_ours, total);
}

/* SRTCP with E=0 (authenticated, not encrypted), as libsrtp sends it with
 * an auth-only RTCP policy: we must accept it and leave the payload as is. */
static void test_srtcp_unencrypted(unsigned bi)
{
	uint8_t key[30], pkt[512], plain[512];
	srtp_policy_t lp;
	srtp_t lib = NULL;
	struct mg_srtp_policy pol = { 0 };
	struct mg_srtp_ctx *in;
	char err[200];
	int len;
	uint16_t plen;

	rnd_bytes(key, sizeof(key));
	lib_policy(&lp, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 0, NULL, 0, key);
	lp.rtcp.sec_serv = sec_serv_auth;
	CHECK(srtp_create(&lib, &lp) == srtp_err_status_ok, "libsrtp auth-only create");
	pol.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	pol.dir = MG_SRTP_DIR_INBOUND;
	pol.nkeys = 1;
	memcpy(pol.keys[0].key, key, 16);
	memcpy(pol.keys[0].salt, key + 16, 14);
	in = mg_srtp_ctx_create(&pol, err, sizeof(err));
	for (unsigned i = 0; lib && in && i < 20; i++) {
		struct mg_srtp_buf b;
		uint8_t res;

		plen = make_rtcp(plain, 0xabcdef01);
		memcpy(pkt, plain, plen);
		len = plen;
		CHECK(srtp_protect_rtcp(lib, pkt, &len) == srtp_err_status_ok, "libsrtp auth-only protect");
		CHECK((pkt[plen] & 0x80) == 0 && memcmp(pkt, plain, plen) == 0, "E=0 and payload in clear (len %u, E word %02x, cmp %d)", plen, pkt[plen], memcmp(pkt, plain, plen));
		b = (struct mg_srtp_buf){ pkt, (uint16_t)len, sizeof(pkt) };
		mg_srtp_unprotect_rtcp_burst(engines[bi], in, &b, &res, 1);
		CHECK(res == MG_SRTP_OK && b.len == plen && memcmp(pkt, plain, plen) == 0,
		      "SRTCP E=0 unprotect (%s): %s", mg_srtp_backend_name(backends[bi]), mg_srtp_result_name(res));
	}
	if (lib)
		srtp_dealloc(lib);
	mg_srtp_ctx_free(in);
}

/* ---- the one expanded key form and the two scalar AES paths ---- */

/* A context whose scalar AES-CTR runs on EVP (@evp) or AES-NI, whatever
 * MG_SRTP_SCALAR_AES says for the rest of this run. */
static struct mg_srtp_ctx *mkctx_aes(enum mg_srtp_suite s, int evp)
{
	const char *was = getenv("MG_SRTP_SCALAR_AES");
	char saved[16] = "";
	struct mg_srtp_ctx *c;

	if (was)
		snprintf(saved, sizeof(saved), "%s", was);
	if (evp)
		setenv("MG_SRTP_SCALAR_AES", "evp", 1);
	else
		unsetenv("MG_SRTP_SCALAR_AES");
	c = mkctx(s, MG_SRTP_DIR_OUTBOUND);
	if (was)
		setenv("MG_SRTP_SCALAR_AES", saved, 1);
	else
		unsetenv("MG_SRTP_SCALAR_AES");
	return c;
}

static void test_key_forms(void)
{
	uint8_t key[16], want[16], salt[14] = { 0 };
	struct mg_srtp_ctx *c = mkctx(MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_DIR_OUTBOUND);
	const struct mg_srtp_dkeys *dk = &c->key0.rtp;

	/* FIPS-197 Appendix A.1: round keys 1 and 10 of 2b7e1516... */
	unhex("2B7E151628AED2A6ABF7158809CF4F3C", key);
	uint8_t rk[176] __attribute__((aligned(16)));

	/* the context keeps the session key, and SRTP's schedule; SRTCP's is
	 * expanded per packet with the same mg_srtp_aes128_expand() */
	mg_srtp_test_set_session_keys(c, 0, 0, key, salt, 14, NULL);
	CHECK(memcmp(dk->ek, key, 16) == 0, "the context keeps the session key");
	if (__builtin_cpu_supports("aes")) {
		mg_srtp_aes128_expand(dk->ek, rk);
		CHECK(memcmp(rk, key, 16) == 0, "round key 0 is the key");
		unhex("A0FAFE1788542CB123A339392A6C7605", want);
		CHECK(memcmp(rk + 16, want, 16) == 0, "FIPS-197 A.1 round key 1");
		unhex("D014F9A8C9EE2589E13F0CC8B6630CA6", want);
		CHECK(memcmp(rk + 160, want, 16) == 0, "FIPS-197 A.1 round key 10");		CHECK(memcmp(c->key0.rtp_rk, rk, 176) == 0, "the key set keeps SRTP's schedule");
	}
#if MG_HAVE_IPSECMB
	/* the schedule ipsec-mb's CNTR jobs read is IMB_AES_KEYEXP_128's */
	{
		IMB_MGR *m = alloc_mb_mgr(0);
		IMB_ARCH arch = IMB_ARCH_NONE;

		if (m)
			init_mb_mgr_auto(m, &arch);
		if (m && arch != IMB_ARCH_NONE && arch != IMB_ARCH_NOAESNI) {
			for (int t = 0; t < 16; t++) {
				uint8_t enc[16 * 15] __attribute__((aligned(16)));
				uint8_t dec[16 * 15] __attribute__((aligned(16)));

				for (int i = 0; i < 16; i++)
					key[i] = (uint8_t)rnd();
				mg_srtp_test_set_session_keys(c, 0, 0, key, salt, 14, NULL);
				IMB_AES_KEYEXP_128(m, key, enc, dec);
				mg_srtp_aes128_expand(dk->ek, rk);
				CHECK(memcmp(rk, enc, 176) == 0, "round keys = IMB_AES_KEYEXP_128 (key %d)", t);
			}
		}
		free_mb_mgr(m);
	}
#endif
	mg_srtp_ctx_free(c);

	/* Scalar AES-NI CTR against libcrypto EVP on every RTP payload
	 * length 0..1400 and SRTCP length 8..600 (each tail length, 1 to 8+
	 * blocks in flight); GCM: ipsec-mb's single-buffer calls against EVP. */
	for (unsigned si = 0; si < 3; si++) {
		static const enum mg_srtp_suite ss[] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80,
							 MG_SRTP_AES_CM_128_HMAC_SHA1_32, MG_SRTP_AEAD_AES_128_GCM };
		struct mg_srtp_ctx *a = mkctx_aes(ss[si], 0), *v = mkctx_aes(ss[si], 1);
		unsigned diff = 0, fails = 0;

		/* native: AES-NI CTR, or GCM on ipsec-mb key data; else EVP */
		const int native = __builtin_cpu_supports("aes") && (ss[si] != MG_SRTP_AEAD_AES_128_GCM || MG_HAVE_IPSECMB);

		CHECK((a->key0.rtp.evp == NULL) == native && v->key0.rtp.evp != NULL,
		      "%s: default context on AES-NI (evp %p, aesni %u), forced one on EVP (evp %p)",
		      mg_srtp_suite_by_id(ss[si])->sdes_name, (void *)a->key0.rtp.evp, a->key0.rtp.aesni,
		      (void *)v->key0.rtp.evp);
		for (unsigned len = 12; len <= 12 + 1400; len++) {
			uint8_t p1[1500], p2[1500], res1, res2;
			struct mg_srtp_buf b1 = { p1, (uint16_t)len, sizeof(p1) }, b2 = { p2, (uint16_t)len, sizeof(p2) };

			for (unsigned i = 0; i < len; i++)
				p1[i] = (uint8_t)rnd();
			p1[0] = 0x80;
			memcpy(p2, p1, len);
			mg_srtp_protect_burst(engines[0], a, &b1, &res1, 1);
			mg_srtp_protect_burst(engines[0], v, &b2, &res2, 1);
			fails += res1 != MG_SRTP_OK || res2 != MG_SRTP_OK;
			diff += b1.len != b2.len || memcmp(p1, p2, b1.len) != 0;
		}
		for (unsigned len = 8; len <= 600; len++) {
			uint8_t p1[700], p2[700], res1, res2;
			struct mg_srtp_buf b1 = { p1, (uint16_t)len, sizeof(p1) }, b2 = { p2, (uint16_t)len, sizeof(p2) };

			for (unsigned i = 0; i < len; i++)
				p1[i] = (uint8_t)rnd();
			p1[0] = 0x80;
			memcpy(p2, p1, len);
			mg_srtp_protect_rtcp_burst(engines[0], a, &b1, &res1, 1);
			mg_srtp_protect_rtcp_burst(engines[0], v, &b2, &res2, 1);
			fails += res1 != MG_SRTP_OK || res2 != MG_SRTP_OK;
			diff += b1.len != b2.len || memcmp(p1, p2, b1.len) != 0;
		}
		CHECK(fails == 0 && diff == 0, "%s: AES-NI/ipsec-mb vs EVP over every length: %u failed, %u differ",
		      mg_srtp_suite_by_id(ss[si])->sdes_name, fails, diff);
		mg_srtp_ctx_free(a);
		mg_srtp_ctx_free(v);
	}
}

int main(int argc, char **argv)
{
	const char *seed_s = argc > 1 ? argv[1] : getenv("MG_SRTP_SEED");
	uint64_t seed = seed_s ? strtoull(seed_s, NULL, 0) : 20261127;
	unsigned nrtp = 1000, nrtcp = 200;
	static const enum mg_srtp_suite suites[] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_AES_CM_128_HMAC_SHA1_32,
						     MG_SRTP_AEAD_AES_128_GCM };

	if (getenv("MG_SRTP_PACKETS"))
		nrtp = (unsigned)atoi(getenv("MG_SRTP_PACKETS"));
	rng_state = seed ? seed : 1;
	printf("srtp-vectors: seed %" PRIu64 " (rerun: mg_srtp_vectors %" PRIu64 ")\n", seed, seed);
	if (srtp_init() != srtp_err_status_ok) {
		fprintf(stderr, "libsrtp2 init failed\n");
		return 1;
	}
	for (enum mg_srtp_backend b = MG_SRTP_BACKEND_SCALAR; b < MG_SRTP_BACKEND_COUNT; b++) {
		struct mg_srtp_engine *e = mg_srtp_engine_create(b);

		if (!e) {
			if (mg_srtp_test_backend_expected(b)) {
				fprintf(stderr, "backend %s: expected in this build and CPU but not created\n",
					mg_srtp_backend_name(b));
				return 1;
			}
			printf("backend %s: not in this build/CPU, skipped\n", mg_srtp_backend_name(b));
			continue;
		}
		e->imb_min = 1; /* every packet through the backend under test */
		backends[nbackends] = b;
		engines[nbackends++] = e;
	}
	test_kdf();
	test_key_forms();
	for (unsigned bi = 0; bi < nbackends; bi++) {
		test_b2(bi);
		test_7714(bi);
		test_srtcp_unencrypted(bi);
		cross_multi(bi);
		for (unsigned si = 0; si < 3; si++) {
			cross(bi, suites[si], 0, nrtp, nrtcp);
			cross(bi, suites[si], si == 1 ? 1 : si == 2 ? 4 : 2, nrtp / 2, nrtcp / 2);
		}
	}
	for (unsigned bi = 0; bi < nbackends; bi++)
		mg_srtp_engine_free(engines[bi]);
	srtp_shutdown();
	printf("srtp-vectors: %u checks, %u failed (seed %" PRIu64 ")\n", checks, failures, seed);
	return failures ? 1 : 0;
}
