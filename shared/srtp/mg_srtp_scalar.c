/* SPDX-License-Identifier: BSD-3-Clause */
/* Scalar backend, one packet at a time. AES-128-CTR runs on AES-NI
 * (intrinsics over the round keys expanded once per session key, eight
 * blocks in flight) and falls back to an OpenSSL EVP context keyed once
 * (only the IV changes per packet) when the CPU has no AES-NI; GCM runs on
 * ipsec-mb's single-buffer calls when its key data exists, EVP otherwise.
 * HMAC-SHA1 starts from the SHA-1 chaining values precomputed over
 * the key^ipad / key^opad blocks, so a packet costs two SHA-1 passes and no
 * HMAC setup. The low-level SHA1_* calls are deprecated in OpenSSL 3 but
 * are the only allocation-free way to resume a keyed state;
 * OPENSSL_SUPPRESS_DEPRECATED (mg_srtp_internal.h) keeps -Werror quiet. */
#include "mg_srtp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AESNI_CODE 1
#include <immintrin.h>
#else
#define HAVE_AESNI_CODE 0
#endif

#include <openssl/crypto.h>

int mg_srtp_cpu_aes(void)
{
#if HAVE_AESNI_CODE
	return __builtin_cpu_supports("aes");
#else
	return 0;
#endif
}

/* AES-NI, unless MG_SRTP_SCALAR_AES=evp asks for the libcrypto CTR path
 * (kept for comparison in srtp-bench and so the no-AES-NI fallback stays
 * tested). Read on key setup, a control path. */
static int use_aesni(void)
{
	const char *force = getenv("MG_SRTP_SCALAR_AES");

	if (force && !strcmp(force, "evp"))
		return 0;
	return mg_srtp_cpu_aes();
}

#if HAVE_AESNI_CODE
#define AESNI __attribute__((target("aes,ssse3")))
#define AESNI_INLINE AESNI __attribute__((always_inline)) static inline

/* One step of the AES-128 key schedule. SubWord(RotWord(w3)) ^ rcon comes
 * from AESENCLAST on w3 rotated into all four columns (ShiftRows changes
 * nothing when the columns are equal), not from AESKEYGENASSIST, whose
 * throughput (one per 8 cycles on Intel cores) made a per-packet expansion
 * cost ~40 ns; this one is a few cycles per step across packets. */
AESNI_INLINE __m128i kexp_step(__m128i k, int rcon)
{
	const __m128i rot = _mm_setr_epi8(13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12);
	__m128i t = _mm_aesenclast_si128(_mm_shuffle_epi8(k, rot), _mm_set1_epi32(rcon));

	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 8));
	return _mm_xor_si128(k, t);
}

/* FIPS-197 AES-128 key expansion: the same bytes as IMB_AES_KEYEXP_128's
 * encryption schedule (the vectors suite checks both). */
AESNI_INLINE void kexp128(const uint8_t key[16], __m128i k[11])
{
	k[0] = _mm_loadu_si128((const __m128i *)key);
	k[1] = kexp_step(k[0], 0x01);
	k[2] = kexp_step(k[1], 0x02);
	k[3] = kexp_step(k[2], 0x04);
	k[4] = kexp_step(k[3], 0x08);
	k[5] = kexp_step(k[4], 0x10);
	k[6] = kexp_step(k[5], 0x20);
	k[7] = kexp_step(k[6], 0x40);
	k[8] = kexp_step(k[7], 0x80);
	k[9] = kexp_step(k[8], 0x1b);
	k[10] = kexp_step(k[9], 0x36);
}

/* Into the op's scratch for an ipsec-mb job (no copy kept elsewhere). */
AESNI void mg_srtp_aes128_expand(const uint8_t key[16], uint8_t rk[176])
{
	__m128i k[11];

	kexp128(key, k);
	for (int i = 0; i < 11; i++)
		_mm_store_si128((__m128i *)(rk + 16 * i), k[i]);
}

/* Keystream blocks blk..blk+n-1 of the counter block @base. SRTP's counter
 * is IV || 16-bit block number (iv_cm() leaves bytes 14-15 zero, and a
 * packet has fewer than 2^16 blocks), so a block's counter is @base with
 * its block number big-endian in 16-bit lane 7. n is a constant (1, 2, 4,
 * 8): the loops unroll and the n AES chains interleave. */
AESNI_INLINE void ctr_ks(const __m128i *k, __m128i base, unsigned blk, __m128i *b, const int n)
{
#pragma GCC unroll 8
	for (int j = 0; j < n; j++)
		b[j] = _mm_xor_si128(_mm_insert_epi16(base, __builtin_bswap16((uint16_t)(blk + j)), 7), k[0]);
#pragma GCC unroll 9
	for (int r = 1; r < 10; r++) {
#pragma GCC unroll 8
		for (int j = 0; j < n; j++)
			b[j] = _mm_aesenc_si128(b[j], k[r]);
	}
#pragma GCC unroll 8
	for (int j = 0; j < n; j++)
		b[j] = _mm_aesenclast_si128(b[j], k[10]);
}

/* @rk: the round keys the key set keeps (SRTP), or NULL: the schedule of
 * the session key @ek is expanded here, in registers (SRTCP). */
AESNI static void aesni_ctr_xor(const uint8_t *rk, const uint8_t *ek, const uint8_t *iv, uint8_t *p,
				unsigned len)
{
	__m128i k[11], b[8];
	const __m128i base = _mm_loadu_si128((const __m128i *)iv);
	unsigned blk = 0, full, tail;

	if (rk != NULL)
		for (int r = 0; r < 11; r++)
			k[r] = _mm_load_si128((const __m128i *)(rk + 16 * r));
	else
		kexp128(ek, k);
	for (; len >= 128; len -= 128, p += 128, blk += 8) {
		ctr_ks(k, base, blk, b, 8);
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++)
			_mm_storeu_si128((__m128i *)(p + 16 * j),
					 _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + 16 * j)), b[j]));
	}
	if (!len)
		return;
	full = len / 16;
	tail = len % 16;
	if (full + (tail != 0) > 4)
		ctr_ks(k, base, blk, b, 8);
	else if (full + (tail != 0) > 2)
		ctr_ks(k, base, blk, b, 4);
	else if (full + (tail != 0) == 2)
		ctr_ks(k, base, blk, b, 2);
	else
		ctr_ks(k, base, blk, b, 1);
	for (unsigned j = 0; j < full; j++)
		_mm_storeu_si128((__m128i *)(p + 16 * j),
				 _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + 16 * j)), b[j]));
	if (tail) {
		uint8_t t[16];

		_mm_storeu_si128((__m128i *)t, b[full]);
		p += 16 * full;
		for (unsigned i = 0; i < tail; i++)
			p[i] ^= t[i];
	}
}
#else
void mg_srtp_aes128_expand(const uint8_t key[16], uint8_t rk[176])
{
	(void)key;
	(void)rk;
}

static void aesni_ctr_xor(const uint8_t *rk, const uint8_t *ek, const uint8_t *iv, uint8_t *p,
			  unsigned len)
{
	(void)rk;
	(void)ek;
	(void)iv;
	(void)p;
	(void)len;
}
#endif

static void sha1_state(const uint8_t akey[20], uint8_t fill, uint32_t h[5])
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
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&x, sizeof(x));
}

/* A SHA_CTX that has hashed exactly one 64-byte block ending in state @h. */
static inline void sha1_resume(SHA_CTX *x, const uint32_t h[5])
{
	x->h0 = h[0];
	x->h1 = h[1];
	x->h2 = h[2];
	x->h3 = h[3];
	x->h4 = h[4];
	x->Nl = 512;
	x->Nh = 0;
	x->num = 0;
}

static inline int gcm_key_data(const struct mg_srtp_dkeys *dk)
{
#if MG_HAVE_IPSECMB
	return dk->imb_gcm != NULL;
#else
	(void)dk;
	return 0;
#endif
}

int mg_srtp_scalar_keys_init(struct mg_srtp_dkeys *dk, const uint8_t ekey[16], const uint8_t *akey, int aead,
			     int encrypt)
{
	static const uint8_t zero[20];
	const int have_aes = mg_srtp_cpu_aes();

	/* the session key in any case: ipsec-mb jobs expand it even when the
	 * scalar path runs on EVP */
	memcpy(dk->ek, ekey, 16);
	dk->aesni = have_aes && use_aesni();
	if (!dk->aesni || (aead && !gcm_key_data(dk))) {
		dk->evp = EVP_CIPHER_CTX_new();
		if (!dk->evp)
			return -ENOMEM;
		if (aead) {
			if (EVP_CipherInit_ex(dk->evp, EVP_aes_128_gcm(), NULL, ekey, NULL, encrypt) != 1)
				return -EIO;
		} else {
			/* CTR is its own inverse: one encrypting context serves both ways. */
			if (EVP_EncryptInit_ex(dk->evp, EVP_aes_128_ctr(), NULL, ekey, NULL) != 1)
				return -EIO;
		}
	}
	sha1_state(akey ? akey : zero, 0x36, dk->hmac_in);
	sha1_state(akey ? akey : zero, 0x5c, dk->hmac_out);
	return 0;
}

void mg_srtp_scalar_keys_fini(struct mg_srtp_dkeys *dk)
{
	EVP_CIPHER_CTX_free(dk->evp);
	dk->evp = NULL;
}

static void hmac_sha1(const struct mg_srtp_dkeys *dk, const uint8_t *p, size_t len, const uint8_t *roc,
		      uint8_t out[20])
{
	SHA_CTX x;

	sha1_resume(&x, dk->hmac_in);
	SHA1_Update(&x, p, len);
	if (roc)
		SHA1_Update(&x, roc, 4);
	SHA1_Final(out, &x);
	sha1_resume(&x, dk->hmac_out);
	SHA1_Update(&x, out, 20);
	SHA1_Final(out, &x);
}

static int ctr_xor(const struct mg_srtp_dkeys *dk, const uint8_t *rk, const uint8_t *iv, uint8_t *p,
		   int len)
{
	int outl = 0;

	if (!len)
		return 0;
	if (dk->aesni) {
		aesni_ctr_xor(rk, dk->ek, iv, p, (unsigned)len);
		return 0;
	}
	if (EVP_EncryptInit_ex(dk->evp, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(dk->evp, p, &outl, p, len) != 1 || outl != len)
		return -EIO;
	return 0;
}

static int gcm_run(const struct mg_srtp_dkeys *dk, struct mg_srtp_op *op, int rtcp, int protect)
{
	EVP_CIPHER_CTX *x = dk->evp;
	const uint8_t *aad = rtcp ? op->aad : op->buf;
	int aad_len = rtcp ? 12 : op->enc_off;
	uint8_t *p = op->buf + op->enc_off;
	int outl = 0, fl = 0;

	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, op->iv, -1) != 1)
		return -EIO;
	if (EVP_CipherUpdate(x, NULL, &outl, aad, aad_len) != 1)
		return -EIO;
	if (op->enc_len && (EVP_CipherUpdate(x, p, &outl, p, op->enc_len) != 1 || outl != op->enc_len))
		return -EIO;
	if (protect) {
		if (EVP_CipherFinal_ex(x, p + op->enc_len, &fl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, op->buf + op->tag_off) != 1)
			return -EIO;
		return 0;
	}
	if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, op->buf + op->tag_off) != 1)
		return -EIO;
	return EVP_CipherFinal_ex(x, p + op->enc_len, &fl) == 1 ? 0 : -EBADMSG;
}

void mg_srtp_scalar_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect)
{
	(void)e;
	for (unsigned k = 0; k < n; k++) {
		struct mg_srtp_op *op = &ops[k];
		const struct mg_srtp_dkeys *dk = op->dk;
		const unsigned tag = op->tag;
		uint8_t roc[4], d[20];

		if (k + 1 < n)
			__builtin_prefetch(ops[k + 1].buf);
		if (op->aead) {
#if MG_HAVE_IPSECMB
			if (!dk->evp) {
				op->ok = (uint8_t)mg_srtp_imb_gcm_one(dk, op, rtcp, protect);
				continue;
			}
#endif
			op->ok = gcm_run(dk, op, rtcp, protect) == 0;
			continue;
		}
		roc[0] = (uint8_t)(op->roc >> 24);
		roc[1] = (uint8_t)(op->roc >> 16);
		roc[2] = (uint8_t)(op->roc >> 8);
		roc[3] = (uint8_t)op->roc;
		if (protect) {
			op->ok = ctr_xor(dk, op->rkeys, op->iv, op->buf + op->enc_off, op->enc_len) == 0;
			hmac_sha1(dk, op->buf, op->auth_len, rtcp ? NULL : roc, d);
			memcpy(op->buf + op->tag_off, d, tag);
		} else {
			hmac_sha1(dk, op->buf, op->auth_len, rtcp ? NULL : roc, d);
			op->ok = CRYPTO_memcmp(d, op->buf + op->tag_off, tag) == 0;
			if (op->ok)
				op->ok = ctr_xor(dk, op->rkeys, op->iv, op->buf + op->enc_off,
						 op->enc_len) == 0;
		}
	}
}
