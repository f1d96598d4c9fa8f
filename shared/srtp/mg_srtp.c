/* SPDX-License-Identifier: BSD-3-Clause */
/* SRTP/SRTCP engine core: policy checks, key derivation, contexts, and the
 * three-phase burst (parse + index + replay pre-check, backend crypto,
 * commit). Crypto itself lives in mg_srtp_scalar.c and mg_srtp_ipsecmb.c. */
#include "mg_rtp.h"
#include "mg_srtp_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "mg_lfpool.h"
#include "mg_slab.h"

_Static_assert(sizeof(struct mg_srtp_stream_rt) == 52, "an SSRC state packs into 52 bytes");
_Static_assert(MG_SRTP_SSRC_ROOM_BYTES == (MG_SRTP_SSRC_MAX - 1) * sizeof(struct mg_srtp_stream_rt),
	       "room for the other SSRCs");
_Static_assert(offsetof(struct mg_srtp_ctx, stats) == MG_SRTP_CTX_PACKET_BYTES &&
		       MG_SRTP_CTX_PACKET_BYTES == 8 * 64,
	       "an SRTP context without counters is eight cache lines (docs/srtp.md, memory)");
_Static_assert(MG_SRTP_REPLAY_WINDOW % 64 == 0 && MG_SRTP_REPLAY_WINDOW >= 128, "window");
_Static_assert(MG_SRTP_BURST_MAX <= 255, "op slot is a uint8_t");

#define SRTP_INDEX_MAX (1ULL << 48)
#define SRTCP_INDEX_MAX (1ULL << 31)

static const char *const result_names[MG_SRTP_RESULT_COUNT] = {
	[MG_SRTP_OK] = "ok",
	[MG_SRTP_AUTH_FAIL] = "auth-fail",
	[MG_SRTP_REPLAY] = "replay",
	[MG_SRTP_TOO_SHORT] = "too-short",
	[MG_SRTP_LIFETIME] = "lifetime",
	[MG_SRTP_UNKNOWN_MKI] = "unknown-mki",
	[MG_SRTP_BAD_VERSION] = "bad-version",
	[MG_SRTP_MALFORMED] = "malformed",
	[MG_SRTP_NO_ROOM] = "no-room",
	[MG_SRTP_CRYPTO_ERROR] = "crypto-error",
};

static const char *const backend_names[MG_SRTP_BACKEND_COUNT] = {
	[MG_SRTP_BACKEND_AUTO] = "auto",
	[MG_SRTP_BACKEND_SCALAR] = "scalar",
	[MG_SRTP_BACKEND_IPSECMB] = "ipsec-mb",
};

const char *mg_srtp_result_name(enum mg_srtp_result r)
{
	return (unsigned)r < MG_SRTP_RESULT_COUNT ? result_names[r] : "unknown";
}

const char *mg_srtp_backend_name(enum mg_srtp_backend b)
{
	return (unsigned)b < MG_SRTP_BACKEND_COUNT ? backend_names[b] : "unknown";
}

int mg_srtp_backend_parse(const char *name, enum mg_srtp_backend *out)
{
	for (unsigned i = 0; i < MG_SRTP_BACKEND_COUNT; i++) {
		if (name && strcasecmp(name, backend_names[i]) == 0) {
			*out = (enum mg_srtp_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

int mg_srtp_backend_available(enum mg_srtp_backend b)
{
	switch (b) {
	case MG_SRTP_BACKEND_AUTO:
	case MG_SRTP_BACKEND_SCALAR:
		return 1;
	case MG_SRTP_BACKEND_IPSECMB:
#if MG_HAVE_IPSECMB
		{
			void *m = mg_srtp_imb_mgr_create(NULL);
			if (!m)
				return 0;
			mg_srtp_imb_mgr_free(m);
			return 1;
		}
#else
		return 0;
#endif
	default:
		return 0;
	}
}

static uint32_t engine_serial;

struct mg_srtp_engine *mg_srtp_engine_create(enum mg_srtp_backend b)
{
	struct mg_srtp_engine *e;

	if (b == MG_SRTP_BACKEND_AUTO) {
		const char *env = getenv("MG_SRTP_BACKEND");
		enum mg_srtp_backend forced;

		if (env && *env && mg_srtp_backend_parse(env, &forced) == 0)
			b = forced;
	}
	if ((unsigned)b >= MG_SRTP_BACKEND_COUNT) {
		errno = EINVAL;
		return NULL;
	}
	e = aligned_alloc(64, (sizeof(*e) + 63) & ~(size_t)63);
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
#if MG_HAVE_IPSECMB
	if (b == MG_SRTP_BACKEND_AUTO || b == MG_SRTP_BACKEND_IPSECMB) {
		e->imb = mg_srtp_imb_mgr_create(&e->imb_arch);
		if (e->imb) {
			if (mg_srtp_imb_engine_init(e) != 0) {
				mg_srtp_imb_mgr_free(e->imb);
				free(e);
				errno = ENOMEM;
				return NULL;
			}
			b = MG_SRTP_BACKEND_IPSECMB;
		} else if (b == MG_SRTP_BACKEND_IPSECMB) {
			free(e);
			errno = ENOTSUP;
			return NULL;
		}
	}
#else
	if (b == MG_SRTP_BACKEND_IPSECMB) {
		free(e);
		errno = ENOTSUP;
		return NULL;
	}
#endif
	if (b == MG_SRTP_BACKEND_AUTO)
		b = MG_SRTP_BACKEND_SCALAR;
	e->backend = b;
	e->imb_min = 4;
	/* burst ids unique across engines: a context may move between them */
	e->burst_id = (uint64_t)__atomic_add_fetch(&engine_serial, 1, __ATOMIC_RELAXED) << 40;
#if MG_HAVE_IPSECMB
	if (e->imb)
		mg_srtp_imb_describe(e);
	else
#endif
		snprintf(e->desc, sizeof(e->desc), "scalar %s", OpenSSL_version(OPENSSL_VERSION));
	return e;
}

const char *mg_srtp_engine_describe(const struct mg_srtp_engine *e)
{
	return e->desc;
}

enum mg_srtp_backend mg_srtp_engine_backend(const struct mg_srtp_engine *e)
{
	return e->backend;
}

void mg_srtp_engine_free(struct mg_srtp_engine *e)
{
	if (!e)
		return;
#if MG_HAVE_IPSECMB
	if (e->imb) {
		mg_srtp_imb_mgr_free(e->imb);
		free(e->imb_jobs);
	}
#endif
	OPENSSL_cleanse(e->ops, sizeof(e->ops)); /* the last bursts' round keys */
	free(e);
}

void mg_srtp_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int mg_srtp_policy_check(const struct mg_srtp_policy *p, char *err, size_t errlen)
{
	const struct mg_srtp_suite_info *s;

	if (!p) {
		mg_srtp_set_err(err, errlen, "no SRTP policy given");
		return -EINVAL;
	}
	s = mg_srtp_suite_by_id(p->suite);
	if (!s) {
		mg_srtp_set_err(err, errlen, "SRTP suite %d unknown; allowed: %s", (int)p->suite,
			mg_srtp_suite_names(0));
		return -EINVAL;
	}
	if (p->dir != MG_SRTP_DIR_OUTBOUND && p->dir != MG_SRTP_DIR_INBOUND) {
		mg_srtp_set_err(err, errlen, "SRTP direction %d invalid; allowed: outbound (1), inbound (2)",
			(int)p->dir);
		return -EINVAL;
	}
	if (s->master_key_len > MG_SRTP_MASTER_KEY_MAX || s->master_salt_len > MG_SRTP_MASTER_SALT_MAX ||
	    s->master_key_len != 16) {
		mg_srtp_set_err(err, errlen, "SRTP suite %s: only 128-bit master keys are supported", s->sdes_name);
		return -ENOTSUP;
	}
	if (p->mki_len > MG_SRTP_MKI_MAX) {
		mg_srtp_set_err(err, errlen, "SRTP MKI length %u bytes not supported; allowed: 0 to %u",
			p->mki_len, MG_SRTP_MKI_MAX);
		return -EINVAL;
	}
	if (p->nkeys < 1 || p->nkeys > MG_SRTP_KEYS_MAX) {
		mg_srtp_set_err(err, errlen, "SRTP policy has %u master keys; allowed: 1 to %u", p->nkeys,
			MG_SRTP_KEYS_MAX);
		return -EINVAL;
	}
	if (p->nkeys > 1 && p->mki_len == 0) {
		mg_srtp_set_err(err, errlen, "SRTP policy has %u master keys but no MKI; several keys need an MKI",
			p->nkeys);
		return -EINVAL;
	}
	if (p->active_key >= p->nkeys) {
		mg_srtp_set_err(err, errlen, "SRTP active key %u out of range; allowed: 0 to %u", p->active_key,
			p->nkeys - 1);
		return -EINVAL;
	}
	if (p->kdr != 0) {
		mg_srtp_set_err(err, errlen,
			"SRTP key derivation rate %u not supported; only 0 (derive once per master key) is",
			p->kdr);
		return -ENOTSUP;
	}
	for (unsigned i = 0; i < p->nkeys; i++) {
		for (unsigned j = 0; j < i && p->mki_len; j++) {
			if (memcmp(p->keys[i].mki, p->keys[j].mki, p->mki_len) == 0) {
				mg_srtp_set_err(err, errlen, "SRTP master keys %u and %u share the same MKI; each MKI must be unique",
					j, i);
				return -EINVAL;
			}
		}
		if (p->keys[i].lifetime > SRTP_INDEX_MAX) {
			mg_srtp_set_err(err, errlen, "SRTP key lifetime %llu too large; allowed: 1 to 2^48",
				(unsigned long long)p->keys[i].lifetime);
			return -EINVAL;
		}
	}
	return 0;
}

int mg_srtp_kdf(const uint8_t *mkey, const uint8_t *msalt14, uint8_t label, uint8_t *out, unsigned out_len)
{
	uint8_t iv[16] = { 0 };
	uint8_t zero[32] = { 0 };
	EVP_CIPHER_CTX *x;
	int outl = 0, rc = -EIO;

	if (out_len > sizeof(zero))
		return -EINVAL;
	/* x = key_id XOR master_salt with key_id = label || r (r = 0, KDR 0)
	 * placed at the low 56 bits of the 112-bit salt; IV = x * 2^16. */
	memcpy(iv, msalt14, 14);
	iv[7] ^= label;
	x = EVP_CIPHER_CTX_new();
	if (!x)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(x, EVP_aes_128_ctr(), NULL, mkey, iv) == 1 &&
	    EVP_EncryptUpdate(x, out, &outl, zero, (int)out_len) == 1 && (unsigned)outl == out_len)
		rc = 0;
	EVP_CIPHER_CTX_free(x);
	OPENSSL_cleanse(iv, sizeof(iv));
	return rc;
}

static void dkeys_fini(struct mg_srtp_dkeys *dk)
{
	mg_srtp_scalar_keys_fini(dk);
#if MG_HAVE_IPSECMB
	mg_srtp_imb_keys_fini(dk);
#endif
}

static int dkeys_init(struct mg_srtp_dkeys *dk, const uint8_t ekey[16], const uint8_t *akey, int aead, int encrypt)
{
	int rc = 0;

	/* ipsec-mb first: with its GCM key data the scalar GCM needs no EVP */
#if MG_HAVE_IPSECMB
	rc = mg_srtp_imb_keys_init(dk, ekey, aead);
#endif
	if (!rc)
		rc = mg_srtp_scalar_keys_init(dk, ekey, akey, aead, encrypt);
	return rc;
}

static void keyset_fini(struct mg_srtp_keyset *ks)
{
	dkeys_fini(&ks->rtp);
	dkeys_fini(&ks->rtcp);
	OPENSSL_cleanse(ks, sizeof(*ks));
}

/* Derive one master key's session keys into @ks (zeroed here). */
static int keyset_init(struct mg_srtp_keyset *ks, const struct mg_srtp_suite_info *s, enum mg_srtp_dir dir,
		       const struct mg_srtp_master_key *mk, unsigned mki_len)
{
	uint8_t salt14[14] = { 0 };
	uint8_t k[4][20]; /* SRTP cipher, auth, SRTCP cipher, auth */
	unsigned salt_len = s->master_salt_len;
	int aead = s->aead, enc = dir == MG_SRTP_DIR_OUTBOUND, rc = -EIO;

	memset(ks, 0, sizeof(*ks));
	/* RFC 7714 §11: a 96-bit master salt enters the same PRF padded
	 * with zeros on the right to 112 bits. The session keys only live
	 * here: the context keeps the cipher keys and the HMAC states. */
	memcpy(salt14, mk->salt, salt_len);
	if (mg_srtp_kdf(mk->key, salt14, 0, k[0], 16) || mg_srtp_kdf(mk->key, salt14, 1, k[1], 20) ||
	    mg_srtp_kdf(mk->key, salt14, 2, ks->rtp.salt, aead ? 12 : 14) ||
	    mg_srtp_kdf(mk->key, salt14, 3, k[2], 16) || mg_srtp_kdf(mk->key, salt14, 4, k[3], 20) ||
	    mg_srtp_kdf(mk->key, salt14, 5, ks->rtcp.salt, aead ? 12 : 14))
		goto out;
	if (dkeys_init(&ks->rtp, k[0], k[1], aead, enc) || dkeys_init(&ks->rtcp, k[2], k[3], aead, enc))
		goto out;
	if (!aead && mg_srtp_cpu_aes()) {
		mg_srtp_aes128_expand(k[0], ks->rtp_rk);
		ks->have_rk = 1;
	}
	memcpy(ks->mki, mk->mki, mki_len);
	ks->left = mk->lifetime ? mk->lifetime : SRTP_INDEX_MAX;
	rc = 0;
out:
	OPENSSL_cleanse(salt14, sizeof(salt14));
	OPENSSL_cleanse(k, sizeof(k));
	if (rc)
		keyset_fini(ks);
	return rc;
}

static void keys_more_free(struct mg_srtp_keyset *more, unsigned n)
{
	if (!more)
		return;
	for (unsigned i = 0; i < n; i++)
		keyset_fini(&more[i]);
	free(more);
}

static int ctx_load(struct mg_srtp_ctx *c, const struct mg_srtp_policy *p, char *err, size_t errlen)
{
	struct mg_srtp_keyset *more = NULL;
	struct mg_srtp_keyset key0;
	const struct mg_srtp_suite_info *s;
	int rc = mg_srtp_policy_check(p, err, errlen);

	if (rc)
		return rc;
	if (c->suite && p->dir != c->dir) {
		mg_srtp_set_err(err, errlen, "SRTP re-key cannot change the direction of a context");
		return -EINVAL;
	}
	s = mg_srtp_suite_by_id(p->suite);
	/* key 0 lives in the context, keys 1.. in one block: derived aside
	 * first, so that a failure leaves the context as it was */
	rc = keyset_init(&key0, s, p->dir, &p->keys[0], p->mki_len);
	if (!rc && p->nkeys > 1) {
		size_t sz = (p->nkeys - 1) * sizeof(*more);

		more = aligned_alloc(_Alignof(struct mg_srtp_keyset), sz);
		if (more)
			memset(more, 0, sz);
		for (unsigned i = 1; more && !rc && i < p->nkeys; i++) {
			rc = keyset_init(&more[i - 1], s, p->dir, &p->keys[i], p->mki_len);
			if (rc)
				keys_more_free(more, i - 1);
		}
		if (!more || rc) { /* (a failed keyset_init freed the block) */
			keyset_fini(&key0);
			rc = -ENOMEM;
		}
	}
	if (rc) {
		mg_srtp_set_err(err, errlen, "SRTP key derivation failed (out of memory or libcrypto error)");
		return -ENOMEM;
	}
	if (c->suite) {
		keyset_fini(&c->key0);
		keys_more_free(c->more, c->nkeys > 0 ? c->nkeys - 1u : 0);
	}
	c->key0 = key0;
	OPENSSL_cleanse(&key0, sizeof(key0));
	c->more = more;
	c->suite = s;
	c->dir = (uint8_t)p->dir;
	c->mki_len = p->mki_len;
	c->nkeys = p->nkeys;
	c->active = p->active_key;
	c->aead = s->aead;
	c->rtp_tag = s->srtp_tag_len;
	c->rtcp_tag = s->srtcp_tag_len;
	c->init_roc = p->roc;
	c->init_seq = p->seq;
	c->init_seq_pending = p->seq_valid ? 1 : 0;
	c->floor_ssrc = 0;
	c->floor_on = 0;
	memset(&c->st0, 0, sizeof(c->st0));
	if (c->st_more)
		memset(c->st_more, 0, MG_SRTP_SSRC_ROOM_BYTES);
	return 0;
}

/* Bytes of a context: without the counters when the policy asks. */
static size_t ctx_size(int stats)
{
	size_t n = stats ? sizeof(struct mg_srtp_ctx) : offsetof(struct mg_srtp_ctx, stats);

	return (n + 63) & ~(size_t)63;
}

/*
 * Contexts come from two pools (with and without counters), so that one
 * costs its size: aligned_alloc(64, ...) took ~140 bytes more per context
 * in a dataplane with 10,000 sessions (docs/srtp.md, memory).
 */
#define CTX_PER_CHUNK 64
static struct mg_slab ctx_pool[2];
static pthread_once_t ctx_pool_once = PTHREAD_ONCE_INIT;

static void *ctx_chunk_alloc(size_t bytes, size_t align)
{
	return aligned_alloc(align, bytes);
}

/* Room for SSRCs 2.. of contexts without a pool: taken at creation. */
static struct mg_slab room_slab;

static void ctx_pool_init(void)
{
	for (int stats = 0; stats < 2; stats++)
		mg_slab_init(&ctx_pool[stats], ctx_size(stats), 64, CTX_PER_CHUNK, 1, ctx_chunk_alloc, free);
	mg_slab_init(&room_slab, MG_SRTP_SSRC_ROOM_BYTES, 8, CTX_PER_CHUNK, 1, ctx_chunk_alloc, free);
}

struct mg_srtp_ssrc_pool {
	struct mg_lfpool lf;
};

struct mg_srtp_ssrc_pool *mg_srtp_ssrc_pool_create(uint32_t rooms)
{
	struct mg_srtp_ssrc_pool *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return NULL;
	rc = mg_lfpool_init(&p->lf, MG_SRTP_SSRC_ROOM_BYTES, rooms);
	if (rc) {
		free(p);
		errno = -rc;
		return NULL;
	}
	return p;
}

void mg_srtp_ssrc_pool_free(struct mg_srtp_ssrc_pool *p)
{
	if (!p)
		return;
	mg_lfpool_fini(&p->lf);
	free(p);
}

void mg_srtp_ssrc_pool_stats(const struct mg_srtp_ssrc_pool *p, struct mg_srtp_ssrc_pool_stats *out)
{
	out->rooms = p->lf.n;
	out->in_use = mg_lfpool_in_use(&p->lf);
	out->empty = mg_lfpool_empty(&p->lf);
}

/* Wipe a context's room for SSRCs 2.. and give it back. */
static void room_put(struct mg_srtp_ctx *c)
{
	if (!c->st_more)
		return;
	OPENSSL_cleanse(c->st_more, MG_SRTP_SSRC_ROOM_BYTES);
	if (c->pool)
		mg_lfpool_put(&c->pool->lf, c->st_more);
	else
		mg_slab_put(&room_slab, c->st_more);
	c->st_more = NULL;
}

struct mg_srtp_ctx *mg_srtp_ctx_create(const struct mg_srtp_policy *p, char *err, size_t errlen)
{
	const int stats = !(p && p->stats_off);
	struct mg_srtp_ctx *c;
	int rc;

	pthread_once(&ctx_pool_once, ctx_pool_init);
	c = mg_slab_get(&ctx_pool[stats]);
	if (!c) {
		mg_srtp_set_err(err, errlen, "out of memory for an SRTP context");
		errno = ENOMEM;
		return NULL;
	}
	c->has_stats = (uint8_t)stats;
	c->pool = p ? p->ssrc_pool : NULL;
	if (!c->pool) {
		c->st_more = mg_slab_get(&room_slab);
		if (!c->st_more) {
			mg_slab_put(&ctx_pool[stats], c);
			mg_srtp_set_err(err, errlen, "out of memory for an SRTP context");
			errno = ENOMEM;
			return NULL;
		}
	}
	rc = ctx_load(c, p, err, errlen);
	if (rc) {
		room_put(c);
		mg_slab_put(&ctx_pool[stats], c);
		errno = -rc;
		return NULL;
	}
	return c;
}

void mg_srtp_ctx_free(struct mg_srtp_ctx *c)
{
	int stats;

	if (!c)
		return;
	stats = c->has_stats;
	room_put(c);
	keys_more_free(c->more, c->nkeys > 0 ? c->nkeys - 1u : 0);
	keyset_fini(&c->key0);
	OPENSSL_cleanse(c, ctx_size(stats));
	mg_slab_put(&ctx_pool[stats], c);
}

int mg_srtp_ctx_rekey(struct mg_srtp_ctx *c, const struct mg_srtp_policy *p, char *err, size_t errlen)
{
	return ctx_load(c, p, err, errlen);
}

enum mg_srtp_suite mg_srtp_ctx_suite(const struct mg_srtp_ctx *c)
{
	return c->suite->id;
}

unsigned mg_srtp_overhead(const struct mg_srtp_ctx *c, int rtcp)
{
	return rtcp ? (unsigned)c->rtcp_tag + c->mki_len + 4 : (unsigned)c->rtp_tag + c->mki_len;
}

int mg_srtp_ctx_set_active_key(struct mg_srtp_ctx *c, unsigned index)
{
	if (index >= c->nkeys)
		return -EINVAL;
	c->active = (uint8_t)index;
	return 0;
}

void mg_srtp_ctx_stats(const struct mg_srtp_ctx *c, struct mg_srtp_stats *out)
{
	if (c->has_stats)
		*out = c->stats;
	else
		memset(out, 0, sizeof(*out));
}

/* SSRC states a context has room for now: 1, or MG_SRTP_SSRC_MAX. */
static inline unsigned st_n(const struct mg_srtp_ctx *c)
{
	return c->st_more ? MG_SRTP_SSRC_MAX : 1;
}

static inline struct mg_srtp_stream_rt *st_at(struct mg_srtp_ctx *c, unsigned i)
{
	return i ? &c->st_more[i - 1] : &c->st0;
}

/* Which slot holds @ssrc (0: the inline one, 1..: the room), or -1. Also
 * read racily by mg_srtp_get_roc() from another thread: st_more only goes
 * from NULL to a room while the context lives. */
static inline int st_index(const struct mg_srtp_ctx *c, uint32_t ssrc)
{
	const struct mg_srtp_stream_rt *more = c->st_more;

	if (c->st0.in_use && c->st0.ssrc == ssrc)
		return 0;
	for (unsigned i = 0; more && i < MG_SRTP_SSRC_MAX - 1; i++)
		if (more[i].in_use && more[i].ssrc == ssrc)
			return (int)i + 1;
	return -1;
}

static struct mg_srtp_stream_rt *st_find(struct mg_srtp_ctx *c, uint32_t ssrc)
{
	const int i = st_index(c, ssrc);

	return i < 0 ? NULL : st_at(c, (unsigned)i);
}

/* Take a slot for a new SSRC: a free one, else the least recently used.
 * The second SSRC of a context with a pool takes the room for SSRCs 2..
 * from it first (none left: the slot of the first is reused). */
static struct mg_srtp_stream_rt *st_new(struct mg_srtp_ctx *c, uint32_t ssrc)
{
	struct mg_srtp_stream_rt *v = &c->st0;

	if (c->st0.in_use && !c->st_more && c->pool)
		c->st_more = mg_lfpool_get(&c->pool->lf);
	for (unsigned i = 0; i < st_n(c); i++) {
		struct mg_srtp_stream_rt *st = st_at(c, i);

		if (!st->in_use) {
			v = st;
			break;
		}
		if ((int32_t)(st->last_use - v->last_use) < 0)
			v = st;
	}
	memset(v, 0, sizeof(*v));
	v->ssrc = ssrc;
	v->roc = c->init_roc;
	if (c->init_seq_pending) {
		/* re-installed stream: continue from its highest index */
		v->s_l = c->init_seq;
		v->seq_valid = 1;
		/* every index up to it counts as seen: a packet of before the
		 * restart is not accepted (or sent) a second time */
		memset(v->rtp_win, 0xff, sizeof(v->rtp_win));
		c->init_seq_pending = 0;
		c->floor_ssrc = ssrc;
		/* an index of 0 has nothing below it to refuse */
		c->floor_on = (c->init_roc | c->init_seq) != 0;
	}
	v->in_use = 1;
	v->last_use = c->clock;
	return v;
}

/* The slot of @ssrc, taking one if it has none yet. */
static struct mg_srtp_stream_rt *st_get(struct mg_srtp_ctx *c, uint32_t ssrc)
{
	struct mg_srtp_stream_rt *st = st_find(c, ssrc);

	return st ? st : st_new(c, ssrc);
}

int mg_srtp_get_roc(const struct mg_srtp_ctx *c, uint32_t ssrc, uint32_t *roc, uint16_t *seq)
{
	const int i = st_index(c, ssrc);
	const struct mg_srtp_stream_rt *st;

	if (i < 0)
		return -ENOENT;
	st = i ? &c->st_more[i - 1] : &c->st0;
	*roc = st->roc;
	if (seq)
		*seq = st->s_l;
	return 0;
}

int mg_srtp_set_roc(struct mg_srtp_ctx *c, uint32_t ssrc, uint32_t roc)
{
	struct mg_srtp_stream_rt *st = st_find(c, ssrc);
	uint32_t rtcp_index, rtcp_valid;
	uint64_t rtcp_win[MG_SRTP_REPLAY_WINDOW / 64];

	if (!st) {
		st = st_new(c, ssrc);
		st->roc = roc;
		return 0;
	}
	/* The SRTCP index is independent of the ROC: keep it. */
	rtcp_index = st->rtcp_index;
	rtcp_valid = st->rtcp_valid;
	memcpy(rtcp_win, st->rtcp_win, sizeof(rtcp_win));
	memset(st, 0, sizeof(*st));
	st->ssrc = ssrc;
	st->in_use = 1;
	st->roc = roc;
	st->last_use = c->clock;
	st->rtcp_index = rtcp_index;
	st->rtcp_valid = rtcp_valid;
	memcpy(st->rtcp_win, rtcp_win, sizeof(rtcp_win));
	return 0;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 3711 Appendix A: the index of @seq given the highest index known.
 * Returns -1 when the guess falls before index 0 (an old packet). */
static inline int64_t estimate_index(uint32_t roc, uint16_t s_l, uint16_t seq)
{
	int64_t v = roc;

	if (s_l < 32768) {
		if ((int)seq - (int)s_l > 32768)
			v = (int64_t)roc - 1;
	} else {
		if ((int)s_l - 32768 > (int)seq)
			v = (int64_t)roc + 1;
	}
	if (v < 0)
		return -1;
	return v << 16 | seq;
}

/* Replay window over indexes: bit i of win = (top - i) was accepted. */
static inline int win_check(const mg_srtp_win_t *win, uint64_t top, int valid, uint64_t idx)
{
	uint64_t d;

	if (!valid || idx > top)
		return 0;
	d = top - idx;
	if (d >= MG_SRTP_REPLAY_WINDOW)
		return -1;
	return (win[d / 64] >> (d % 64)) & 1 ? -1 : 0;
}

static inline void win_shift(mg_srtp_win_t *win, uint64_t n)
{
	const unsigned w = MG_SRTP_REPLAY_WINDOW / 64;

	if (n >= MG_SRTP_REPLAY_WINDOW) {
		memset(win, 0, w * sizeof(*win));
		return;
	}
	unsigned words = (unsigned)(n / 64), bits = (unsigned)(n % 64);
	for (int i = (int)w - 1; i >= 0; i--) {
		uint64_t v = 0;
		int src = i - (int)words;

		if (src >= 0) {
			v = win[src] << bits;
			if (bits && src > 0)
				v |= win[src - 1] >> (64 - bits);
		}
		win[i] = v;
	}
}

static inline void win_set(mg_srtp_win_t *win, uint64_t top, uint64_t idx)
{
	uint64_t d = top - idx;

	win[d / 64] |= 1ULL << (d % 64);
}

/* Take @idx into the window whose newest index is *@top: -1 if it is a
 * replay or too old, else 0 with the bit set and *@top moved up to @idx
 * when it is newer (a window not @valid yet starts at @idx). */
static inline int win_accept(mg_srtp_win_t *win, uint64_t *top, int valid, uint64_t idx)
{
	if (win_check(win, *top, valid, idx))
		return -1;
	if (!valid) {
		memset(win, 0, MG_SRTP_REPLAY_WINDOW / 8);
		*top = idx;
	} else if (idx > *top) {
		win_shift(win, idx - *top);
		*top = idx;
	}
	win_set(win, *top, idx);
	return 0;
}

/* The key an inbound packet names by the MKI at @mki; the only key when the
 * context uses no MKI. NULL: no key has that MKI. */
static struct mg_srtp_keyset *key_by_mki(struct mg_srtp_ctx *c, const uint8_t *mki)
{
	if (!c->mki_len)
		return &c->key0;
	for (unsigned i = 0; i < c->nkeys; i++) {
		struct mg_srtp_keyset *ks = mg_srtp_ctx_key(c, i);

		if (memcmp(ks->mki, mki, c->mki_len) == 0)
			return ks;
	}
	return NULL;
}

/* RFC 3711 §4.1.1: (salt || 00 00) XOR (SSRC at bytes 4..7, index at
 * 8..13), as two big-endian words built in registers and stored once
 * (byte-wise XORs into the stored salt stalled on store forwarding:
 * ~6 ns of a 172-byte protect) */
static inline void iv_cm(uint8_t *iv, const uint8_t *salt, uint32_t ssrc, uint64_t index)
{
	const uint64_t m48 = 0xffffffffffffULL;
	uint64_t hi, lo;

	memcpy(&hi, salt, 8);
	memcpy(&lo, salt + 6, 8); /* salt[6..13]: the low 48 bits are 8..13 */
	hi = __builtin_bswap64(__builtin_bswap64(hi) ^ ssrc);
	lo = __builtin_bswap64(((__builtin_bswap64(lo) ^ index) & m48) << 16);
	memcpy(iv, &hi, 8);
	memcpy(iv + 8, &lo, 8);
}

/* RFC 7714 §8.1/§9.1: 00 00 || SSRC || ROC-or-0 || SEQ-or-index, XOR salt. */
static inline void iv_gcm(uint8_t *iv, const uint8_t *salt, uint32_t ssrc, uint64_t index, int rtcp)
{
	uint8_t b[12] = { 0 };

	wr32(b + 2, ssrc);
	if (rtcp) {
		wr32(b + 8, (uint32_t)index);
	} else {
		wr32(b + 6, (uint32_t)(index >> 16));
		b[10] = (uint8_t)(index >> 8);
		b[11] = (uint8_t)index;
	}
	for (int i = 0; i < 12; i++)
		iv[i] = b[i] ^ salt[i];
}

static inline void backend_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned n, int rtcp, int protect)
{
	if (!n)
		return;
#if MG_HAVE_IPSECMB
	if (e->backend == MG_SRTP_BACKEND_IPSECMB && n >= e->imb_min) {
		mg_srtp_imb_run(e, ops, n, rtcp, protect);
		return;
	}
#endif
	mg_srtp_scalar_run(e, ops, n, rtcp, protect);
}

/* The context of packet i: the only one of a plain burst, or its own in a
 * _multi burst. */
#define CTX_OF(i) (multi ? cv[i] : cv[0])

static inline unsigned finish(struct mg_srtp_ctx *const *cv, int multi, const uint8_t *res, unsigned n, int rtcp)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		struct mg_srtp_ctx *c = CTX_OF(i);

		ok += res[i] == MG_SRTP_OK;
		if (!c->has_stats)
			continue;
		if (res[i] == MG_SRTP_OK) {
			if (rtcp)
				c->stats.rtcp_ok++;
			else
				c->stats.rtp_ok++;
		} else {
			c->stats.drops[res[i]]++;
		}
	}
	return ok;
}

/* Queue packet @slot's crypto with the fields every kind of op has; the
 * caller adds the offsets and the IV of its kind. */
static inline struct mg_srtp_op *op_add(struct mg_srtp_op *op, struct mg_srtp_ctx *c,
					 struct mg_srtp_keyset *ks, const struct mg_srtp_dkeys *dk,
					 uint8_t *buf, unsigned slot, uint64_t index, uint32_t ssrc,
					 unsigned tag)
{
	op->buf = buf;
	op->dk = dk;
	op->ks = ks;
	op->index = index;
	op->ssrc = ssrc;
	op->slot = (uint8_t)slot;
	op->c = c;
	op->tag = (uint8_t)tag;
	op->aead = c->aead;
	op->ok = 0;
	op->rkeys = NULL;
	return op;
}

/* An SRTP op: header up to @h authenticated (GCM: the AAD), @h..@end
 * encrypted, tag (and MKI) from @end on. */
static inline void rtp_op_add(struct mg_srtp_op *op, struct mg_srtp_ctx *c, struct mg_srtp_keyset *ks,
			      uint8_t *b, unsigned slot, uint64_t idx, uint32_t ssrc, unsigned h,
			      unsigned end)
{
	op_add(op, c, ks, &ks->rtp, b, slot, idx, ssrc, c->rtp_tag);
	if (ks->have_rk)
		op->rkeys = ks->rtp_rk;
	op->roc = (uint32_t)(idx >> 16);
	op->enc_off = (uint16_t)h;
	op->enc_len = (uint16_t)(end - h);
	op->auth_len = (uint16_t)end;
	if (c->aead) {
		op->tag_off = (uint16_t)end;
		iv_gcm(op->iv, ks->rtp.salt, ssrc, idx, 0);
	} else {
		op->tag_off = (uint16_t)(end + c->mki_len);
		iv_cm(op->iv, ks->rtp.salt, ssrc, idx);
	}
}

/* Encrypt and tag the queued packets, then write each one's MKI and grow
 * it to its protected length. Past the plaintext come, in order: SRTCP's
 * E||index word (RTCP only), then the tag and the MKI: MKI before the tag
 * with HMAC, after it with GCM (RFC 7714 §8.1, §9.1). The MKI goes in last:
 * for SRTP the ipsec-mb HMAC borrowed those bytes for the ROC. */
static void protect_run(struct mg_srtp_engine *e, struct mg_srtp_op *ops, unsigned nops,
			struct mg_srtp_buf *pkts, uint8_t *res, int rtcp)
{
	const unsigned eword = rtcp ? 4 : 0;

	backend_run(e, ops, nops, rtcp, 1);
	for (unsigned k = 0; k < nops; k++) {
		struct mg_srtp_op *op = &ops[k];
		struct mg_srtp_buf *p = &pkts[op->slot];
		const unsigned mki = op->c->mki_len;

		if (!op->ok) {
			res[op->slot] = MG_SRTP_CRYPTO_ERROR;
			continue;
		}
		if (mki)
			memcpy(p->buf + p->len + eword + (op->aead ? op->tag : 0), op->ks->mki, mki);
		p->len = (uint16_t)(p->len + eword + op->tag + mki);
	}
}

static unsigned protect_rtp(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *cv, int multi,
			    struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	struct mg_srtp_op *ops = e->ops;
	unsigned nops = 0;

	if (n > MG_SRTP_BURST_MAX)
		n = MG_SRTP_BURST_MAX;
	for (unsigned i = 0; i < n; i++) {
		struct mg_srtp_ctx *c = CTX_OF(i);
		struct mg_srtp_keyset *ks = mg_srtp_ctx_key(c, c->active);
		const unsigned tag = c->rtp_tag, mki = c->mki_len;
		uint8_t *b = pkts[i].buf;
		unsigned len = pkts[i].len, h;
		struct mg_srtp_stream_rt *st;
		uint32_t ssrc;
		uint16_t seq;
		int64_t idx;

		c->clock++;
		if (c->dir != MG_SRTP_DIR_OUTBOUND) {
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		if (len < 12) {
			res[i] = MG_SRTP_TOO_SHORT;
			continue;
		}
		if ((b[0] >> 6) != 2) {
			res[i] = MG_SRTP_BAD_VERSION;
			continue;
		}
		h = (unsigned)mg_rtp_hdr_len(b, len);
		if (!h) {
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		if ((unsigned)pkts[i].cap < len + tag + mki) {
			res[i] = MG_SRTP_NO_ROOM;
			continue;
		}
		if (ks->left == 0) {
			res[i] = MG_SRTP_LIFETIME;
			continue;
		}
		ssrc = rd32(b + 8);
		seq = rd16(b + 2);
		st = st_get(c, ssrc);
		st->last_use = c->clock;
		if (st->seq_valid) {
			idx = estimate_index(st->roc, st->s_l, seq);
			if (idx < 0) {
				/* before index 0: cannot be sent under this ROC */
				res[i] = MG_SRTP_REPLAY;
				continue;
			}
		} else {
			idx = (int64_t)((uint64_t)st->roc << 16 | seq);
		}
		if ((uint64_t)idx >= SRTP_INDEX_MAX) {
			res[i] = MG_SRTP_LIFETIME;
			continue;
		}
		if (__builtin_expect(c->floor_on, 0) && ssrc == c->floor_ssrc &&
		    (uint64_t)idx <= ((uint64_t)c->init_roc << 16 | c->init_seq)) {
			/* re-installed stream: this index may have been used */
			res[i] = MG_SRTP_REPLAY;
			continue;
		}
		if (!st->seq_valid || (uint64_t)idx > ((uint64_t)st->roc << 16 | st->s_l)) {
			st->roc = (uint32_t)((uint64_t)idx >> 16);
			st->s_l = seq;
			st->seq_valid = 1;
		}
		ks->left--;
		res[i] = MG_SRTP_OK;
		rtp_op_add(&ops[nops++], c, ks, b, i, (uint64_t)idx, ssrc, h, len);
	}
	protect_run(e, ops, nops, pkts, res, 0);
	return finish(cv, multi, res, n, 0);
}

static unsigned unprotect_rtp(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *cv, int multi,
			      struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	struct mg_srtp_op *ops = e->ops;
	unsigned nops = 0;

	if (n > MG_SRTP_BURST_MAX)
		n = MG_SRTP_BURST_MAX;
	e->burst_id++;
	for (unsigned i = 0; i < n; i++) {
		struct mg_srtp_ctx *c = CTX_OF(i);
		const unsigned tag = c->rtp_tag, mki = c->mki_len;
		uint8_t *b = pkts[i].buf;
		unsigned len = pkts[i].len, h, end;
		struct mg_srtp_keyset *ks;
		struct mg_srtp_stream_rt *st;
		uint32_t ssrc;
		uint16_t seq;
		int64_t idx;

		c->clock++;
		if (c->dir != MG_SRTP_DIR_INBOUND) {
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		if (len < 12 + tag + mki) {
			res[i] = MG_SRTP_TOO_SHORT;
			continue;
		}
		if ((b[0] >> 6) != 2) {
			res[i] = MG_SRTP_BAD_VERSION;
			continue;
		}
		end = len - tag - mki;
		h = (unsigned)mg_rtp_hdr_len(b, end);
		if (!h) {
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		ks = key_by_mki(c, b + (c->aead ? len - mki : end));
		if (!ks) {
			res[i] = MG_SRTP_UNKNOWN_MKI;
			continue;
		}
		if (ks->left == 0) {
			res[i] = MG_SRTP_LIFETIME;
			continue;
		}
		ssrc = rd32(b + 8);
		seq = rd16(b + 2);
		st = st_find(c, ssrc);
		if (st && st->seq_valid) {
			idx = estimate_index(st->roc, st->s_l, seq);
			if (idx < 0 || win_check(st->rtp_win, (uint64_t)st->roc << 16 | st->s_l, 1, (uint64_t)idx)) {
				res[i] = MG_SRTP_REPLAY;
				continue;
			}
		} else if (c->pend_burst == e->burst_id && c->pend_ssrc == ssrc) {
			/* SSRC new in this burst: estimate against its first
			 * packet, so a wrap inside the burst moves the ROC
			 * (the slot itself is only taken once a packet
			 * authenticates) */
			idx = estimate_index(c->pend_roc, c->pend_seq, seq);
			if (idx < 0) {
				res[i] = MG_SRTP_REPLAY;
				continue;
			}
		} else if (!st && c->init_seq_pending) {
			/* re-installed stream: estimate against its highest
			 * index before the restart */
			idx = estimate_index(c->init_roc, c->init_seq, seq);
			if (idx < 0) {
				res[i] = MG_SRTP_REPLAY;
				continue;
			}
			c->pend_burst = e->burst_id;
			c->pend_ssrc = ssrc;
			c->pend_roc = (uint32_t)((uint64_t)idx >> 16);
			c->pend_seq = seq;
		} else {
			c->pend_burst = e->burst_id;
			c->pend_ssrc = ssrc;
			c->pend_roc = st ? st->roc : c->init_roc;
			c->pend_seq = seq;
			idx = (int64_t)((uint64_t)c->pend_roc << 16 | seq);
		}
		res[i] = MG_SRTP_OK;
		rtp_op_add(&ops[nops++], c, ks, b, i, (uint64_t)idx, ssrc, h, end);
	}
	backend_run(e, ops, nops, 0, 0);
	/* Commit in packet order: only verified packets move ROC and window;
	 * a duplicate inside the same burst is caught here. */
	for (unsigned k = 0; k < nops; k++) {
		struct mg_srtp_op *op = &ops[k];
		struct mg_srtp_ctx *c = op->c;
		struct mg_srtp_stream_rt *st;
		uint64_t top;

		if (!op->ok) {
			res[op->slot] = MG_SRTP_AUTH_FAIL;
			continue;
		}
		if (op->ks->left == 0) {
			res[op->slot] = MG_SRTP_LIFETIME;
			continue;
		}
		st = st_get(c, op->ssrc);
		top = (uint64_t)st->roc << 16 | st->s_l;
		if (win_accept(st->rtp_win, &top, st->seq_valid, op->index)) {
			res[op->slot] = MG_SRTP_REPLAY;
			continue;
		}
		st->seq_valid = 1;
		st->roc = (uint32_t)(top >> 16);
		st->s_l = (uint16_t)top;
		st->last_use = c->clock;
		op->ks->left--;
		pkts[op->slot].len = op->auth_len;
	}
	return finish(cv, multi, res, n, 0);
}

static unsigned protect_rtcp(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *cv, int multi,
			     struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	struct mg_srtp_op *ops = e->ops;
	unsigned nops = 0;

	if (n > MG_SRTP_BURST_MAX)
		n = MG_SRTP_BURST_MAX;
	for (unsigned i = 0; i < n; i++) {
		struct mg_srtp_ctx *c = CTX_OF(i);
		struct mg_srtp_keyset *ks = mg_srtp_ctx_key(c, c->active);
		const unsigned tag = c->rtcp_tag, mki = c->mki_len;
		uint8_t *b = pkts[i].buf;
		unsigned len = pkts[i].len;
		struct mg_srtp_stream_rt *st;
		struct mg_srtp_op *op;
		uint32_t ssrc, index;

		c->clock++;
		if (c->dir != MG_SRTP_DIR_OUTBOUND) {
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		if (len < 8) {
			res[i] = MG_SRTP_TOO_SHORT;
			continue;
		}
		if ((b[0] >> 6) != 2) {
			res[i] = MG_SRTP_BAD_VERSION;
			continue;
		}
		if ((unsigned)pkts[i].cap < len + 4 + tag + mki) {
			res[i] = MG_SRTP_NO_ROOM;
			continue;
		}
		if (ks->left == 0) {
			res[i] = MG_SRTP_LIFETIME;
			continue;
		}
		ssrc = rd32(b + 4);
		st = st_get(c, ssrc);
		st->last_use = c->clock;
		index = st->rtcp_valid ? st->rtcp_index + 1 : 0;
		if (index >= SRTCP_INDEX_MAX) {
			res[i] = MG_SRTP_LIFETIME;
			continue;
		}
		st->rtcp_index = index;
		st->rtcp_valid = 1;
		ks->left--;
		res[i] = MG_SRTP_OK;
		op = op_add(&ops[nops++], c, ks, &ks->rtcp, b, i, index, ssrc, tag);
		op->enc_off = 8;
		op->enc_len = (uint16_t)(len - 8);
		if (c->aead) {
			/* header | ciphertext | tag | E||index | MKI (RFC 7714 §9.1) */
			op->tag_off = (uint16_t)len;
			wr32(b + len + tag, 0x80000000u | index);
			memcpy(op->aad, b, 8);
			wr32(op->aad + 8, 0x80000000u | index);
			iv_gcm(op->iv, ks->rtcp.salt, ssrc, index, 1);
		} else {
			/* header | ciphertext | E||index | MKI | tag */
			wr32(b + len, 0x80000000u | index);
			op->auth_len = (uint16_t)(len + 4);
			op->tag_off = (uint16_t)(len + 4 + mki);
			iv_cm(op->iv, ks->rtcp.salt, ssrc, index);
		}
	}
	protect_run(e, ops, nops, pkts, res, 1);
	return finish(cv, multi, res, n, 1);
}

static unsigned unprotect_rtcp(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *cv, int multi,
			       struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	struct mg_srtp_op *ops = e->ops;
	unsigned nops = 0;

	if (n > MG_SRTP_BURST_MAX)
		n = MG_SRTP_BURST_MAX;
	for (unsigned i = 0; i < n; i++) {
		struct mg_srtp_ctx *c = CTX_OF(i);
		const unsigned tag = c->rtcp_tag, mki = c->mki_len;
		uint8_t *b = pkts[i].buf;
		unsigned len = pkts[i].len, end, eword_off;
		struct mg_srtp_keyset *ks;
		struct mg_srtp_stream_rt *st;
		struct mg_srtp_op *op;
		uint32_t ssrc, eword, index;

		c->clock++;
		if (c->dir != MG_SRTP_DIR_INBOUND) {
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		if (len < 8 + 4 + tag + mki) {
			res[i] = MG_SRTP_TOO_SHORT;
			continue;
		}
		if ((b[0] >> 6) != 2) {
			res[i] = MG_SRTP_BAD_VERSION;
			continue;
		}
		ks = key_by_mki(c, b + len - mki - (c->aead ? 0 : tag));
		if (!ks) {
			res[i] = MG_SRTP_UNKNOWN_MKI;
			continue;
		}
		if (ks->left == 0) {
			res[i] = MG_SRTP_LIFETIME;
			continue;
		}
		if (c->aead) {
			eword_off = len - mki - 4;
			end = eword_off - tag; /* end of ciphertext */
		} else {
			eword_off = len - tag - mki - 4;
			end = eword_off;
		}
		eword = rd32(b + eword_off);
		index = eword & 0x7fffffffu;
		if (c->aead && !(eword & 0x80000000u)) {
			/* RFC 7714 §9.2 unencrypted SRTCP under GCM: not supported */
			res[i] = MG_SRTP_MALFORMED;
			continue;
		}
		ssrc = rd32(b + 4);
		st = st_find(c, ssrc);
		if (st && win_check(st->rtcp_win, st->rtcp_index, (int)st->rtcp_valid, index)) {
			res[i] = MG_SRTP_REPLAY;
			continue;
		}
		res[i] = MG_SRTP_OK;
		op = op_add(&ops[nops++], c, ks, &ks->rtcp, b, i, index, ssrc, tag);
		op->enc_off = 8;
		op->enc_len = (eword & 0x80000000u) ? (uint16_t)(end - 8) : 0;
		if (c->aead) {
			op->tag_off = (uint16_t)end;
			op->auth_len = (uint16_t)end;
			memcpy(op->aad, b, 8);
			wr32(op->aad + 8, eword);
			iv_gcm(op->iv, ks->rtcp.salt, ssrc, index, 1);
		} else {
			op->auth_len = (uint16_t)(eword_off + 4);
			op->tag_off = (uint16_t)(eword_off + 4 + mki);
			iv_cm(op->iv, ks->rtcp.salt, ssrc, index);
		}
	}
	backend_run(e, ops, nops, 1, 0);
	for (unsigned k = 0; k < nops; k++) {
		struct mg_srtp_op *op = &ops[k];
		struct mg_srtp_ctx *c = op->c;
		struct mg_srtp_stream_rt *st;
		uint64_t top;

		if (!op->ok) {
			res[op->slot] = MG_SRTP_AUTH_FAIL;
			continue;
		}
		if (op->ks->left == 0) {
			res[op->slot] = MG_SRTP_LIFETIME;
			continue;
		}
		st = st_get(c, op->ssrc);
		top = st->rtcp_index;
		if (win_accept(st->rtcp_win, &top, (int)st->rtcp_valid, op->index)) {
			res[op->slot] = MG_SRTP_REPLAY;
			continue;
		}
		st->rtcp_index = (uint32_t)top;
		st->rtcp_valid = 1;
		st->last_use = c->clock;
		op->ks->left--;
		/* plaintext RTCP ends where the ciphertext ended */
		pkts[op->slot].len = (uint16_t)(c->aead ? op->tag_off : op->auth_len - 4);
	}
	return finish(cv, multi, res, n, 1);
}

#undef CTX_OF

unsigned mg_srtp_protect_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c, struct mg_srtp_buf *pkts,
			       uint8_t *res, unsigned n)
{
	return protect_rtp(e, &c, 0, pkts, res, n);
}

unsigned mg_srtp_unprotect_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c, struct mg_srtp_buf *pkts,
				 uint8_t *res, unsigned n)
{
	return unprotect_rtp(e, &c, 0, pkts, res, n);
}

unsigned mg_srtp_protect_rtcp_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c, struct mg_srtp_buf *pkts,
				    uint8_t *res, unsigned n)
{
	return protect_rtcp(e, &c, 0, pkts, res, n);
}

unsigned mg_srtp_unprotect_rtcp_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c, struct mg_srtp_buf *pkts,
				      uint8_t *res, unsigned n)
{
	return unprotect_rtcp(e, &c, 0, pkts, res, n);
}

unsigned mg_srtp_protect_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
				     struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	return protect_rtp(e, ctxs, 1, pkts, res, n);
}

unsigned mg_srtp_unprotect_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
				       struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	return unprotect_rtp(e, ctxs, 1, pkts, res, n);
}

unsigned mg_srtp_protect_rtcp_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
					  struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	return protect_rtcp(e, ctxs, 1, pkts, res, n);
}

unsigned mg_srtp_unprotect_rtcp_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
					    struct mg_srtp_buf *pkts, uint8_t *res, unsigned n)
{
	return unprotect_rtcp(e, ctxs, 1, pkts, res, n);
}

int mg_srtp_test_set_session_keys(struct mg_srtp_ctx *c, unsigned key, int rtcp, const uint8_t *ekey,
				  const uint8_t *salt, unsigned salt_len, const uint8_t *akey)
{
	struct mg_srtp_keyset *ks;
	struct mg_srtp_dkeys *dk;
	int rc;

	if (key >= c->nkeys || salt_len > 14)
		return -EINVAL;
	ks = mg_srtp_ctx_key(c, key);
	dk = rtcp ? &ks->rtcp : &ks->rtp;
	dkeys_fini(dk);
	memset(dk->salt, 0, sizeof(dk->salt));
	memcpy(dk->salt, salt, salt_len);
	rc = dkeys_init(dk, ekey, akey, c->aead, c->dir == MG_SRTP_DIR_OUTBOUND);
	if (!rc && !rtcp && ks->have_rk)
		mg_srtp_aes128_expand(ekey, ks->rtp_rk);
	return rc;
}

void mg_srtp_test_set_rtcp_index(struct mg_srtp_ctx *c, uint32_t ssrc, uint32_t index)
{
	struct mg_srtp_stream_rt *st = st_get(c, ssrc);

	st->rtcp_index = index;
	st->rtcp_valid = 1;
}
