/* SPDX-License-Identifier: BSD-3-Clause */
/* Multi-buffer backend on intel-ipsec-mb. A burst becomes one job per
 * packet, all submitted before any is flushed, so the library runs the
 * SHA-1 (and AES) of many packets in its parallel lanes. HMAC jobs need the
 * whole input contiguous: for SRTP the ROC is written in place right after
 * the authenticated portion (the bytes that will hold MKI/tag on protect;
 * saved and restored on unprotect). GCM has no multi-buffer lanes in the
 * library (a GCM job runs on submit), so GCM packets take the direct
 * single-buffer calls on the context's gcm_key_data instead of jobs; the
 * scalar backend uses the same calls. */
#include "mg_build_config.h"

#if MG_HAVE_IPSECMB

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mg_srtp_internal.h"

/* without the 0.53 compatibility names (SHA1, AES, ...) that clash with
 * OpenSSL's */
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>

static const char *const arch_names[IMB_ARCH_NUM] = {
	[IMB_ARCH_NONE] = "none", [IMB_ARCH_NOAESNI] = "no-aesni", [IMB_ARCH_SSE] = "sse",
	[IMB_ARCH_AVX] = "avx",   [IMB_ARCH_AVX2] = "avx2",         [IMB_ARCH_AVX512] = "avx512",
};

/* The library picks the widest instruction set this CPU has. For
 * measurements and for testing every code path, MG_SRTP_IMB_ARCH=sse|avx|
 * avx2|avx512 forces one (refused by the library if the CPU lacks it). */
void *mg_srtp_imb_mgr_create(int *arch_out)
{
	IMB_MGR *m = alloc_mb_mgr(0);
	IMB_ARCH arch = IMB_ARCH_NONE;
	const char *force = getenv("MG_SRTP_IMB_ARCH");

	if (!m)
		return NULL;
	if (force && !strcmp(force, "sse")) {
		init_mb_mgr_sse(m);
		arch = IMB_ARCH_SSE;
	} else if (force && !strcmp(force, "avx")) {
		init_mb_mgr_avx(m);
		arch = IMB_ARCH_AVX;
	} else if (force && !strcmp(force, "avx2")) {
		init_mb_mgr_avx2(m);
		arch = IMB_ARCH_AVX2;
	} else if (force && !strcmp(force, "avx512")) {
		init_mb_mgr_avx512(m);
		arch = IMB_ARCH_AVX512;
	} else {
		init_mb_mgr_auto(m, &arch);
	}
	if (arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI || imb_get_errno(m) != 0) {
		free_mb_mgr(m);
		return NULL;
	}
	if (arch_out)
		*arch_out = (int)arch;
	return m;
}

const char *mg_srtp_imb_describe(const void *mgr, int arch, char *buf, size_t len)
{
	const IMB_MGR *m = mgr;

	snprintf(buf, len, "ipsec-mb %s %s%s", imb_get_version_str(),
		 arch >= 0 && arch < IMB_ARCH_NUM ? arch_names[arch] : "?",
		 (m->features & IMB_FEATURE_SHANI) ? " sha-ni" : "");
	return buf;
}

void mg_srtp_imb_mgr_free(void *mgr)
{
	free_mb_mgr(mgr);
}

/* Key setup runs on control paths (any thread), so it gets its own
 * manager behind a lock instead of borrowing a worker's. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static IMB_MGR *setup_mgr;
/* the setup manager's single-buffer GCM functions (same instruction set as
 * the key data it precomputes); set before the first GCM key data exists,
 * read-only afterwards */
static aes_gcm_enc_dec_t gcm_enc, gcm_dec;

int mg_srtp_imb_keys_init(struct mg_srtp_dkeys *dk, const uint8_t ekey[16], int aead)
{
	int rc = 0;

	/* AES-CM: the CNTR jobs take the scalar setup's round keys and HMAC
	 * chaining values as they are; only GCM has a form of its own. */
	if (!aead)
		return 0;
	pthread_mutex_lock(&setup_lock);
	if (!setup_mgr) {
		setup_mgr = mg_srtp_imb_mgr_create(NULL);
		if (setup_mgr) {
			/* written once, before any key data they read exists */
			gcm_enc = setup_mgr->gcm128_enc;
			gcm_dec = setup_mgr->gcm128_dec;
		}
	}
	if (!setup_mgr) {
		/* no usable CPU support: the scalar backend still works */
		pthread_mutex_unlock(&setup_lock);
		return 0;
	}
	dk->imb_gcm = aligned_alloc(64, (sizeof(struct gcm_key_data) + 63) & ~(size_t)63);
	if (!dk->imb_gcm)
		rc = -ENOMEM;
	else
		IMB_AES128_GCM_PRE(setup_mgr, ekey, dk->imb_gcm);
	pthread_mutex_unlock(&setup_lock);
	return rc;
}

int mg_srtp_imb_gcm_one(const struct mg_srtp_dkeys *dk, struct mg_srtp_op *op, int rtcp, int protect)
{
	struct gcm_context_data x;
	const uint8_t *aad = rtcp ? op->aad : op->buf;
	const uint64_t aad_len = rtcp ? 12 : op->enc_off;
	uint8_t *p = op->buf + op->enc_off;

	if (!dk->imb_gcm)
		return 0; /* never: a context gets key data wherever an ipsec-mb engine can run */
	/* x holds this packet's counter, GHASH accumulator and last
	 * keystream block, nothing of the keys (those are in gcm_key_data):
	 * not wiped per packet, as ipsec-mb's own job path does not */
	if (protect) {
		gcm_enc(dk->imb_gcm, &x, p, p, op->enc_len, op->iv, aad, aad_len, op->buf + op->tag_off, 16);
		return 1;
	}
	/* decrypts while it hashes, like the multi-buffer jobs: a packet
	 * whose tag fails is dropped, its bytes do not matter */
	gcm_dec(dk->imb_gcm, &x, p, p, op->enc_len, op->iv, aad, aad_len, op->digest, 16);
	return CRYPTO_memcmp(op->digest, op->buf + op->tag_off, 16) == 0;
}

void mg_srtp_imb_keys_fini(struct mg_srtp_dkeys *dk)
{
	if (dk->imb_gcm) {
		OPENSSL_cleanse(dk->imb_gcm, sizeof(struct gcm_key_data));
		free(dk->imb_gcm);
		dk->imb_gcm = NULL;
	}
}

static inline void complete(IMB_JOB *job, int rtcp, int protect)
{
	struct mg_srtp_op *op = job->user_data;
	const unsigned tag = op->tag;

	if (job->status != IMB_STATUS_COMPLETED) {
		op->ok = 0;
		return;
	}
	if (protect) {
		memcpy(op->buf + op->tag_off, op->digest, tag);
		op->ok = 1;
	} else {
		if (!rtcp)
			memcpy(op->buf + op->auth_len, op->saved, 4);
		op->ok = CRYPTO_memcmp(op->digest, op->buf + op->tag_off, tag) == 0;
	}
}

void mg_srtp_imb_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect)
{
	IMB_MGR *m = e->imb;
	IMB_JOB *job;

	/* SRTCP's round keys first (SRTP's are kept in the key set):
	 * independent chains the CPU overlaps, before the jobs that read them */
	for (unsigned k = 0; k < n; k++)
		if (!ops[k].aead && ops[k].enc_len && ops[k].rkeys == NULL)
			mg_srtp_aes128_expand(ops[k].dk->ek, ops[k].rk);
	for (unsigned k = 0; k < n; k++) {
		struct mg_srtp_op *op = &ops[k];
		const struct mg_srtp_dkeys *dk = op->dk;
		unsigned hash_len = op->auth_len;

		if (op->aead) {
			/* GCM jobs are not multi-buffer (the manager runs each
			 * one on submit); the direct call skips the job
			 * overhead: 172-byte protect 55 -> 41 ns here */
			op->ok = (uint8_t)mg_srtp_imb_gcm_one(dk, op, rtcp, protect);
			continue;
		}
		job = IMB_GET_NEXT_JOB(m);
		job->user_data = op;
		job->src = op->buf;
		job->dst = op->buf + op->enc_off;
		job->cipher_start_src_offset_in_bytes = op->enc_off;
		job->msg_len_to_cipher_in_bytes = op->enc_len;
		job->key_len_in_bytes = IMB_KEY_128_BYTES;
		/* CTR decrypts by encrypting the counter: both directions
		 * read the encryption schedule */
		job->enc_keys = op->rkeys != NULL ? op->rkeys : op->rk;
		job->dec_keys = job->enc_keys;
		job->iv = op->iv;
		job->auth_tag_output = op->digest;
		if (!rtcp) {
			uint8_t *r = op->buf + op->auth_len;

			if (!protect)
				memcpy(op->saved, r, 4);
			r[0] = (uint8_t)(op->roc >> 24);
			r[1] = (uint8_t)(op->roc >> 16);
			r[2] = (uint8_t)(op->roc >> 8);
			r[3] = (uint8_t)op->roc;
			hash_len += 4;
		}
		job->cipher_mode = op->enc_len ? IMB_CIPHER_CNTR : IMB_CIPHER_NULL;
		job->iv_len_in_bytes = 16;
		job->hash_alg = IMB_AUTH_HMAC_SHA_1;
		job->hash_start_src_offset_in_bytes = 0;
		job->msg_len_to_hash_in_bytes = hash_len;
		job->u.HMAC._hashed_auth_key_xor_ipad = (const uint8_t *)dk->hmac_in;
		job->u.HMAC._hashed_auth_key_xor_opad = (const uint8_t *)dk->hmac_out;
		job->auth_tag_output_len_in_bytes = 20;
		if (protect) {
			job->cipher_direction = IMB_DIR_ENCRYPT;
			job->chain_order = IMB_ORDER_CIPHER_HASH;
		} else {
			/* hash the ciphertext, then decrypt; a packet whose
			 * tag fails is dropped, its bytes do not matter */
			job->cipher_direction = IMB_DIR_DECRYPT;
			job->chain_order = IMB_ORDER_HASH_CIPHER;
		}
		job = IMB_SUBMIT_JOB(m);
		while (job) {
			complete(job, rtcp, protect);
			job = IMB_GET_COMPLETED_JOB(m);
		}
	}
	while ((job = IMB_FLUSH_JOB(m)) != NULL)
		complete(job, rtcp, protect);
}

#endif
