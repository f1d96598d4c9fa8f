/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to shared/srtp: context layout, per-packet work items and the
 * backend entry points. */
#ifndef MG_SRTP_INTERNAL_H
#define MG_SRTP_INTERNAL_H

#include <stdint.h>

#include "mg_build_config.h"
#include "mg_srtp.h"

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

/* Derived session keys for one of SRTP or SRTCP, plus every precomputed form
 * the backends need, so that nothing is keyed per packet. */
struct mg_srtp_dkeys {
	uint8_t ekey[16];
	uint8_t salt[14];  /* 14 (AES-CM) or 12 (GCM) used */
	uint8_t akey[20];
	EVP_CIPHER_CTX *evp;   /* AES-128-CTR or GCM keyed once; IV set per packet */
	SHA_CTX ipad, opad;    /* SHA-1 state after (akey ^ ipad/opad) block */
#if MG_HAVE_IPSECMB
	uint8_t imb_enc[16 * 15] __attribute__((aligned(16)));
	uint8_t imb_dec[16 * 15] __attribute__((aligned(16)));
	uint8_t imb_ipad[32] __attribute__((aligned(16)));
	uint8_t imb_opad[32] __attribute__((aligned(16)));
	void *imb_gcm;         /* struct gcm_key_data, 64-byte aligned */
#endif
};

/* Everything derived from one master key. */
struct mg_srtp_keyset {
	struct mg_srtp_dkeys rtp, rtcp;
	uint8_t mki[MG_SRTP_MKI_MAX];
	uint64_t limit; /* lifetime in packets */
	uint64_t used;
};

struct mg_srtp_ctx {
	struct mg_srtp_stream_rt st[MG_SRTP_SSRC_MAX];
	const struct mg_srtp_suite_info *suite;
	enum mg_srtp_dir dir;
	uint8_t mki_len;
	uint8_t nkeys;
	uint8_t active;
	uint8_t aead;
	uint8_t rtp_tag;
	uint8_t rtcp_tag;
	uint32_t init_roc;
	uint32_t clock; /* LRU clock, one tick per packet */
	/* first packet of an SSRC without state in the current unprotect
	 * burst (pend_burst == engine burst_id), for index estimation */
	uint64_t pend_burst;
	uint32_t pend_ssrc, pend_roc;
	uint16_t pend_seq;
	struct mg_srtp_keyset *keys[MG_SRTP_KEYS_MAX];
	struct mg_srtp_stats stats;
} __attribute__((aligned(64)));

/* One packet's work between the parse/replay phase and the commit phase. */
struct mg_srtp_op {
	uint8_t *buf;
	const struct mg_srtp_dkeys *dk;
	struct mg_srtp_keyset *ks;
	uint64_t index;      /* 48-bit SRTP index or 31-bit SRTCP index */
	uint32_t ssrc;
	uint32_t roc;        /* big-endian ROC appended to the HMAC input */
	uint16_t enc_off;    /* start of the encrypted part (= AAD length for GCM SRTP) */
	uint16_t enc_len;    /* bytes encrypted (0 for E=0 SRTCP) */
	uint16_t auth_len;   /* HMAC input length from buf[0] (without ROC) */
	uint16_t tag_off;    /* where the tag is / goes */
	struct mg_srtp_ctx *c; /* context of this packet */
	uint8_t slot;        /* pkts[] index */
	uint8_t tag;         /* tag length */
	uint8_t aead;        /* GCM */
	uint8_t ok;          /* backend: 1 = tag verified / tag written */
	uint8_t saved[4];    /* ipsec-mb unprotect: bytes under the ROC */
	uint8_t iv[16];      /* AES-CM counter block, or 12-byte GCM IV */
	uint8_t aad[12];     /* GCM SRTCP AAD: header(8) + E||index */
	uint8_t digest[20];  /* ipsec-mb HMAC output */
};

struct mg_srtp_engine {
	enum mg_srtp_backend backend;
	void *imb;           /* IMB_MGR */
	int imb_arch;        /* IMB_ARCH it was initialised for */
	char desc[64];
	uint64_t burst_id;   /* never 0: a fresh context never matches */
	unsigned imb_min;    /* bursts smaller than this go scalar: a lone job
			      * must be flushed through an otherwise empty
			      * multi-lane manager, which costs more than
			      * libcrypto's single-buffer path */
	struct mg_srtp_op ops[MG_SRTP_BURST_MAX];
};

/* Backend work: crypto of @n prepared ops (protect: encrypt + write tag;
 * unprotect: verify (op->ok) + decrypt). */
void mg_srtp_scalar_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect);
int mg_srtp_scalar_keys_init(struct mg_srtp_dkeys *dk, int aead, int encrypt);
void mg_srtp_scalar_keys_fini(struct mg_srtp_dkeys *dk);

#if MG_HAVE_IPSECMB
void mg_srtp_imb_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect);
int mg_srtp_imb_keys_init(struct mg_srtp_dkeys *dk, int aead);
void mg_srtp_imb_keys_fini(struct mg_srtp_dkeys *dk);
void *mg_srtp_imb_mgr_create(int *arch);
const char *mg_srtp_imb_describe(const void *mgr, int arch, char *buf, size_t len);
void mg_srtp_imb_mgr_free(void *mgr);
#endif

/* Format an error text into @err (may be NULL or @errlen 0: nothing written);
 * the engine and the SDES parser both report this way. */
void mg_srtp_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* RFC 3711 §4.3.3 AES-CM PRF, KDR 0: @out_len bytes for @label. */
int mg_srtp_kdf(const uint8_t *mkey, const uint8_t *msalt14, uint8_t label, uint8_t *out, unsigned out_len);

/* Test hooks (vectors suite only): RFC 7714 vectors give session keys
 * directly, and libsrtp starts SRTCP at index 1 where RFC 3711 says 0. */
int mg_srtp_test_set_session_keys(struct mg_srtp_ctx *c, unsigned key, int rtcp, const uint8_t *ekey,
				  const uint8_t *salt, unsigned salt_len, const uint8_t *akey);
void mg_srtp_test_set_rtcp_index(struct mg_srtp_ctx *c, uint32_t ssrc, uint32_t index);

/*
 * Tests: must @b be creatable here? The scalar backend always; ipsec-mb when
 * the build has it and the CPU has AES-NI (what its engine requires). A
 * backend that is expected but cannot be created is a failure, not a skip.
 */
static inline int mg_srtp_test_backend_expected(enum mg_srtp_backend b)
{
	if (b == MG_SRTP_BACKEND_SCALAR)
		return 1;
	return MG_HAVE_IPSECMB && __builtin_cpu_supports("aes");
}

#endif
