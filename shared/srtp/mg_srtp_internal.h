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

/* Derived session keys for one of SRTP or SRTCP, in the compact form a
 * context keeps for its lifetime (a dataplane holds one context per session
 * and direction, so this is per-session memory; see docs/srtp.md "Memory").
 * The AES round keys are kept for SRTP only (mg_srtp_keyset.rtp_rk), where
 * every packet needs them; SRTCP (about one packet per 5 s) expands its
 * session key per packet: in registers on the AES-NI path, into the op for
 * ipsec-mb jobs. */
struct mg_srtp_dkeys {
	/* AES-128 session key (round key k0 of the FIPS-197 schedule) */
	uint8_t ek[16]; /* read with unaligned loads */
	/* HMAC-SHA1: SHA-1 chaining values h0..h4 (host-order words) after
	 * the key^ipad and key^opad blocks. This is both the h0..h4 of
	 * OpenSSL's SHA_CTX and what ipsec-mb's HMAC jobs take (the output
	 * layout of IMB_SHA1_ONE_BLOCK), so one copy serves both. */
	uint32_t hmac_in[5];
	uint32_t hmac_out[5];
	uint8_t salt[14];      /* 14 (AES-CM) or 12 (GCM) used */
	uint8_t aesni;         /* scalar AES-CTR: 1 = AES-NI on ek, 0 = evp */
	/* libcrypto context (heap, ~0.6-1.2 kB with its provider data): only
	 * when the CPU has no AES-NI (AES-CTR; GCM also without ipsec-mb), or
	 * when MG_SRTP_SCALAR_AES=evp asks for the libcrypto path. */
	EVP_CIPHER_CTX *evp;
#if MG_HAVE_IPSECMB
	void *imb_gcm;         /* GCM only: struct gcm_key_data, 64-byte aligned */
#endif
};

/* Everything derived from one master key. */
struct mg_srtp_keyset {
	/* SRTP's AES-128 round keys k0..k10 (FIPS-197 byte order), when the
	 * CPU has AES-NI (have_rk): read by the AES-NI CTR code and by
	 * ipsec-mb's CNTR jobs; CTR decrypts with the encryption schedule */
	uint8_t rtp_rk[11 * 16] __attribute__((aligned(16)));
	struct mg_srtp_dkeys rtp, rtcp;
	uint8_t have_rk;
	uint8_t mki[MG_SRTP_MKI_MAX];
	uint64_t left; /* packets the lifetime still allows (counts down) */
};

/*
 * One direction of a session: per-session memory in a dataplane (two of
 * these for SRTP both ways), so laid out to fill eight cache lines exactly
 * (docs/srtp.md, memory): the first SSRC's state, then what every packet
 * reads, then key 0. The other SSRCs' states are in st_more.
 */
struct mg_srtp_ctx {
	struct mg_srtp_stream_rt st0;
	/* states of SSRCs 2..MG_SRTP_SSRC_MAX: NULL until a second SSRC
	 * shows up (taken from pool); from creation on without a pool */
	struct mg_srtp_stream_rt *st_more;
	struct mg_srtp_ssrc_pool *pool;
	const struct mg_srtp_suite_info *suite;
	/* keys 1..nkeys-1 (several only with an MKI; NULL with one key) */
	struct mg_srtp_keyset *more;
	/* first packet of an SSRC without state in the current unprotect
	 * burst (pend_burst == engine burst_id), for index estimation */
	uint64_t pend_burst;
	uint32_t pend_ssrc, pend_roc;
	uint32_t init_roc;
	/* outbound, re-installed: protect refuses indexes of floor_ssrc at or
	 * below (init_roc, init_seq), used before the restart, when floor_on */
	uint32_t floor_ssrc;
	uint32_t clock; /* LRU clock, one tick per packet */
	uint16_t init_seq;      /* the first new SSRC starts at (init_roc, init_seq) */
	uint16_t pend_seq;
	uint8_t dir;            /* enum mg_srtp_dir */
	uint8_t mki_len;
	uint8_t nkeys;
	uint8_t active;
	uint8_t aead;
	uint8_t rtp_tag;
	uint8_t rtcp_tag;
	uint8_t init_seq_pending;
	uint8_t floor_on;
	uint8_t has_stats;      /* stats below exist (policy stats_off clear) */
	struct mg_srtp_keyset key0;
	/* last: a context created with stats_off is allocated without it */
	struct mg_srtp_stats stats;
} __attribute__((aligned(64)));

/* Key @p i of a context (0..nkeys-1). */
static inline struct mg_srtp_keyset *mg_srtp_ctx_key(struct mg_srtp_ctx *c, unsigned i)
{
	return i ? &c->more[i - 1] : &c->key0;
}

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
	/* AES-CM SRTP: the key set's round keys; NULL: expand dk->ek */
	const uint8_t *rkeys;
	/* ipsec-mb AES-CM without rkeys (SRTCP): the expanded schedule of
	 * dk->ek for this packet's job (left in the engine's scratch until a
	 * later burst overwrites it; wiped when the engine is freed) */
	uint8_t rk[11 * 16] __attribute__((aligned(16)));
};

struct mg_srtp_engine {
	enum mg_srtp_backend backend;
	void *imb;           /* IMB_MGR */
	void *imb_jobs;      /* IMB_JOB[MG_SRTP_BURST_MAX]: the burst calls' jobs */
	uint8_t imb_x16;     /* HMAC on mg_srtp_hmac_sha1_x16 (avx512 manager) */
	int imb_arch;        /* IMB_ARCH it was initialised for */
	char desc[64];
	uint64_t burst_id;   /* never 0: a fresh context never matches */
	unsigned imb_min;    /* bursts smaller than this go scalar: a few
			      * packets cost the multi-lane HMAC as much as
			      * 16 (x16) or a flush through an otherwise
			      * empty manager (library), more than the
			      * single-buffer path */
	struct mg_srtp_op ops[MG_SRTP_BURST_MAX];
};

/* Backend work: crypto of @n prepared ops (protect: encrypt + write tag;
 * unprotect: verify (op->ok) + decrypt). */
void mg_srtp_scalar_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect);
/* Key setup of one dkeys from its session keys (@akey NULL: zeros); the
 * keys are not kept. @salt is set by the caller. */
int mg_srtp_scalar_keys_init(struct mg_srtp_dkeys *dk, const uint8_t ekey[16], const uint8_t *akey, int aead,
			     int encrypt);
void mg_srtp_scalar_keys_fini(struct mg_srtp_dkeys *dk);

#if MG_HAVE_IPSECMB
void mg_srtp_imb_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect);
/* GCM key data (the AES-CM suites need nothing beyond the scalar setup). */
int mg_srtp_imb_keys_init(struct mg_srtp_dkeys *dk, const uint8_t ekey[16], int aead);
void mg_srtp_imb_keys_fini(struct mg_srtp_dkeys *dk);
/* One GCM packet on the single-buffer functions over dk->imb_gcm (the
 * scalar path's GCM when that key data exists): 1 = done / tag verified. */
int mg_srtp_imb_gcm_one(const struct mg_srtp_dkeys *dk, struct mg_srtp_op *op, int rtcp, int protect);
void *mg_srtp_imb_mgr_create(int *arch);
/* An engine's state for mg_srtp_imb_run beside its manager (imb, imb_arch
 * set): imb_jobs (freed with free()), imb_x16. 0 or -ENOMEM. */
int mg_srtp_imb_engine_init(struct mg_srtp_engine *e);
/* e->desc of an ipsec-mb engine: library version, code path, HMAC */
void mg_srtp_imb_describe(struct mg_srtp_engine *e);
void mg_srtp_imb_mgr_free(void *mgr);
#endif

/* FIPS-197 AES-128 key expansion on AES-NI (the CPU must have it: every
 * ipsec-mb engine does): round keys k0..k10, IMB_AES_KEYEXP_128's bytes. */
void mg_srtp_aes128_expand(const uint8_t key[16], uint8_t rk[176]);
/* 1 if this CPU has AES-NI. */
int mg_srtp_cpu_aes(void);

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
