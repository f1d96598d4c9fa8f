/* SPDX-License-Identifier: BSD-3-Clause */
/* Multi-buffer backend on intel-ipsec-mb. The AES-CM packets of a burst
 * become jobs in the engine's own array and go through two synchronous
 * burst calls, AES-CTR and HMAC-SHA1; the HMAC runs 16 packets at once,
 * on our own AVX-512 code (mg_srtp_sha1x16.c) or the library's lanes. The
 * HMAC input must be contiguous: for SRTP the ROC is written in place
 * right after the authenticated portion (the bytes that will hold MKI/tag
 * on protect; saved and restored on unprotect). GCM has no multi-buffer
 * lanes in the library (a GCM job runs on submit), so GCM packets take the
 * direct single-buffer calls on the context's gcm_key_data instead of
 * jobs; the scalar backend uses the same calls. */
#include "mg_build_config.h"

#if MG_HAVE_IPSECMB

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mg_srtp_internal.h"
#include "mg_srtp_sha1x16.h"

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

void mg_srtp_imb_describe(struct mg_srtp_engine *e)
{
	const IMB_MGR *m = e->imb;
	const int arch = e->imb_arch;

	snprintf(e->desc, sizeof(e->desc), "ipsec-mb %s %s%s%s", imb_get_version_str(),
		 arch >= 0 && arch < IMB_ARCH_NUM ? arch_names[arch] : "?",
		 (m->features & IMB_FEATURE_SHANI) ? " sha-ni" : "", e->imb_x16 ? ", hmac x16" : "");
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

/* The engine's job array, and which HMAC it runs: the 16-lane AVX-512
 * code with an avx512 manager, unless MG_SRTP_IMB_HMAC=lib asks for the
 * library's (to compare, and to test that path too). */
int mg_srtp_imb_engine_init(struct mg_srtp_engine *e)
{
	const char *hmac = getenv("MG_SRTP_IMB_HMAC");

	e->imb_jobs = aligned_alloc(64, sizeof(IMB_JOB) * MG_SRTP_BURST_MAX);
	if (!e->imb_jobs)
		return -ENOMEM;
	memset(e->imb_jobs, 0, sizeof(IMB_JOB) * MG_SRTP_BURST_MAX);
	e->imb_x16 = e->imb_arch == IMB_ARCH_AVX512 && mg_srtp_sha1x16_usable() && !(hmac && !strcmp(hmac, "lib"));
	return 0;
}

/* One AES-CM op as a job of both passes: the cipher part (CTR over
 * enc_off..enc_off+enc_len) and the HMAC part (buf[0..hash_len), digest
 * into op->digest). The burst calls take the mode, direction and key size
 * as arguments and do not validate (NOCHECK): every field they read is set
 * here. */
static inline void job_fill(IMB_JOB *job, struct mg_srtp_op *op, unsigned hash_len)
{
	const struct mg_srtp_dkeys *dk = op->dk;

	job->src = op->buf;
	job->dst = op->buf + op->enc_off;
	job->cipher_start_src_offset_in_bytes = op->enc_off;
	job->msg_len_to_cipher_in_bytes = op->enc_len;
	job->key_len_in_bytes = IMB_KEY_128_BYTES;
	/* CTR decrypts by encrypting the counter: both directions read the
	 * encryption schedule */
	job->enc_keys = op->rkeys != NULL ? op->rkeys : op->rk;
	job->dec_keys = job->enc_keys;
	job->iv = op->iv;
	job->iv_len_in_bytes = 16;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = hash_len;
	job->u.HMAC._hashed_auth_key_xor_ipad = (const uint8_t *)dk->hmac_in;
	job->u.HMAC._hashed_auth_key_xor_opad = (const uint8_t *)dk->hmac_out;
	job->auth_tag_output = op->digest;
	job->auth_tag_output_len_in_bytes = 20;
}

/* CTR over the jobs with something to encrypt (SRTCP with E=0 has not):
 * runs of consecutive such jobs, one burst call each. 1 = the library
 * completed every job it was given. */
static int cipher_pass(IMB_MGR *m, IMB_JOB *jobs, unsigned nj, IMB_CIPHER_DIRECTION dir)
{
	unsigned i = 0;
	int ok = 1;

	while (i < nj) {
		unsigned k = i;

		while (k < nj && jobs[k].msg_len_to_cipher_in_bytes)
			k++;
		if (k > i)
			ok &= IMB_SUBMIT_CIPHER_BURST_NOCHECK(m, jobs + i, k - i, IMB_CIPHER_CNTR, dir,
							      IMB_KEY_128_BYTES) == k - i;
		i = k + 1;
	}
	return ok;
}

/* HMAC-SHA1 of every job into its op's digest: on an avx512 manager our
 * own 16-lane code (mg_srtp_sha1x16.c; the library's lane manager costs
 * as much as the rounds), else the library's hash burst (its sse/avx2
 * code paths, which MG_SRTP_IMB_ARCH selects for the tests). The x16
 * lanes of a group run in lock-step for its longest message, so the jobs
 * go in groups of 16 in order of block count (a stable insertion sort:
 * nothing to move in a burst of one size; 60- and 1200-byte packets
 * alternating: ~225 -> ~165 ns each). 1 = done. */
static int hash_pass(const struct mg_srtp_engine *e, IMB_JOB *jobs, unsigned nj)
{
	struct mg_srtp_sha1x16_lane l[16];
	uint8_t ord[MG_SRTP_BURST_MAX];
	unsigned nb[MG_SRTP_BURST_MAX];

	if (!e->imb_x16)
		return IMB_SUBMIT_HASH_BURST_NOCHECK((IMB_MGR *)e->imb, jobs, nj, IMB_AUTH_HMAC_SHA_1) == nj;
	for (unsigned i = 0; i < nj; i++) {
		const unsigned b = mg_srtp_hmac_sha1_blocks((unsigned)jobs[i].msg_len_to_hash_in_bytes);
		unsigned k = i;

		for (; k > 0 && nb[k - 1] > b; k--) {
			nb[k] = nb[k - 1];
			ord[k] = ord[k - 1];
		}
		nb[k] = b;
		ord[k] = (uint8_t)i;
	}
	for (unsigned i = 0; i < nj; i += 16) {
		const unsigned g = nj - i < 16 ? nj - i : 16;

		for (unsigned j = 0; j < g; j++) {
			const IMB_JOB *job = &jobs[ord[i + j]];

			l[j].msg = job->src;
			l[j].len = (unsigned)job->msg_len_to_hash_in_bytes;
			l[j].in = (const uint32_t *)(const void *)job->u.HMAC._hashed_auth_key_xor_ipad;
			l[j].out = (const uint32_t *)(const void *)job->u.HMAC._hashed_auth_key_xor_opad;
			l[j].digest = job->auth_tag_output;
		}
		mg_srtp_hmac_sha1_x16(l, g);
	}
	return 1;
}

/* The AES-CM ops of a burst as two passes over the engine's own job
 * array: protect encrypts all, then hashes all; unprotect hashes all (the
 * ciphertext), then decrypts all (a packet whose tag fails is dropped, its
 * bytes do not matter). Against one chained job per packet through the
 * job queue (IMB_GET_NEXT_JOB/SUBMIT/FLUSH) the burst calls alone saved
 * its generic dispatch and completed-job bookkeeping (172-byte protect
 * ~115 -> ~95 ns), the x16 HMAC most of the rest (docs/srtp.md). */
void mg_srtp_imb_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect)
{
	IMB_MGR *m = e->imb;
	IMB_JOB *jobs = e->imb_jobs;
	struct mg_srtp_op *jop[MG_SRTP_BURST_MAX];
	unsigned nj = 0;
	int done;

	for (unsigned k = 0; k < n; k++) {
		struct mg_srtp_op *op = &ops[k];
		unsigned hash_len = op->auth_len;

		if (op->aead) {
			/* GCM jobs are not multi-buffer (the manager runs each
			 * one on submit); the direct call skips the job
			 * overhead: 172-byte protect 55 -> 41 ns here */
			op->ok = (uint8_t)mg_srtp_imb_gcm_one(op->dk, op, rtcp, protect);
			continue;
		}
		/* SRTCP's round keys (SRTP's are kept in the key set) */
		if (op->enc_len && op->rkeys == NULL)
			mg_srtp_aes128_expand(op->dk->ek, op->rk);
		if (!rtcp) {
			/* HMAC input is contiguous: the ROC goes in place
			 * after the authenticated portion */
			uint8_t *r = op->buf + op->auth_len;

			if (!protect)
				memcpy(op->saved, r, 4);
			r[0] = (uint8_t)(op->roc >> 24);
			r[1] = (uint8_t)(op->roc >> 16);
			r[2] = (uint8_t)(op->roc >> 8);
			r[3] = (uint8_t)op->roc;
			hash_len += 4;
		}
		job_fill(&jobs[nj], op, hash_len);
		jop[nj++] = op;
	}
	if (!nj)
		return;
	/* the burst calls only fail on arguments they do not check here
	 * (NOCHECK); a short count fails the whole burst all the same */
	if (protect) {
		done = cipher_pass(m, jobs, nj, IMB_DIR_ENCRYPT);
		done &= hash_pass(e, jobs, nj);
		for (unsigned j = 0; j < nj; j++) {
			struct mg_srtp_op *op = jop[j];

			memcpy(op->buf + op->tag_off, op->digest, op->tag);
			op->ok = (uint8_t)done;
		}
		return;
	}
	done = hash_pass(e, jobs, nj);
	done &= cipher_pass(m, jobs, nj, IMB_DIR_DECRYPT);
	for (unsigned j = 0; j < nj; j++) {
		struct mg_srtp_op *op = jop[j];

		if (!rtcp)
			memcpy(op->buf + op->auth_len, op->saved, 4);
		op->ok = (uint8_t)(done && CRYPTO_memcmp(op->digest, op->buf + op->tag_off, op->tag) == 0);
	}
}

#endif
