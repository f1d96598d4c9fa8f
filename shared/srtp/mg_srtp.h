/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_srtp.h
 * @brief The SRTP/SRTCP engine (RFC 3711, RFC 7714): burst protect/unprotect
 * in place over caller-owned buffers, on a scalar libcrypto backend or the
 * intel-ipsec-mb multi-buffer backend (identical output).
 *
 * Objects and ownership:
 * - struct mg_srtp_engine: per-thread crypto resources (the ipsec-mb
 *   multi-buffer manager, scratch). One per worker thread; never shared.
 * - struct mg_srtp_ctx: one direction of one SRTP session (one master key
 *   set: up to #MG_SRTP_KEYS_MAX keys told apart by MKI). Holds the derived
 *   session keys and the runtime state (ROC, replay windows, SRTCP index,
 *   lifetime counters) of up to #MG_SRTP_SSRC_MAX SSRCs, each in one
 *   52-byte struct mg_srtp_stream_rt: the first inside the context, room
 *   for the others beside it (from a struct mg_srtp_ssrc_pool when the
 *   policy names one: taken when a second SSRC shows up). Created and freed
 *   on a control path (allocates, may take a lock); used by exactly one
 *   thread at a time.
 *
 * Hot path contract: the burst functions never allocate, lock, log or make a
 * system call (taking SSRC room from a pool is a lock-free pop). They work in place: protect appends the tag (and MKI, and for
 * SRTCP the E‖index word) after @c len, so each buffer needs
 * <tt>cap - len >= mg_srtp_overhead()</tt> (#MG_SRTP_MAX_OVERHEAD always
 * suffices); unprotect strips them and shortens @c len. Each packet gets
 * its own result; a packet that fails keeps its @c len but its bytes are
 * unspecified (the multi-buffer backend decrypts while it authenticates), so
 * the caller drops it. Failures are also counted per reason in the context
 * (mg_srtp_ctx_stats()). State (ROC, replay window, lifetime) only moves
 * for packets that succeed.
 *
 * Typical use by a worker:
 * @code
 *   struct mg_srtp_engine *e = mg_srtp_engine_create(MG_SRTP_BACKEND_AUTO);
 *   struct mg_srtp_ctx *c = mg_srtp_ctx_create(&policy, err, sizeof(err));
 *   uint8_t res[32];
 *   unsigned ok = mg_srtp_protect_burst(e, c, bufs, res, n);
 * @endcode
 */
#ifndef MG_SRTP_H
#define MG_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "mg_srtp_suite.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most packets one burst call accepts. */
#define MG_SRTP_BURST_MAX 64
/** Longest master key of any suite (bytes). */
#define MG_SRTP_MASTER_KEY_MAX 32
/** Longest master salt of any suite (bytes). */
#define MG_SRTP_MASTER_SALT_MAX 14
/** Longest MKI supported on send and receive (bytes). */
#define MG_SRTP_MKI_MAX 4
/** Master keys one context holds (the receiver picks one by MKI). */
#define MG_SRTP_KEYS_MAX 4
/** SSRCs whose ROC/replay state one context tracks at once (LRU beyond). */
#define MG_SRTP_SSRC_MAX 4
/** Replay window size in packets, SRTP and SRTCP (RFC 3711 §3.3.2 asks >= 64). */
#define MG_SRTP_REPLAY_WINDOW 128
/** Bytes protect may append at most: 16 tag + 4 MKI + 4 SRTCP E‖index. */
#define MG_SRTP_MAX_OVERHEAD 24

/** One packet of a burst: @c buf points at the RTP/RTCP header (e.g. into
 * mbuf data), @c len is the packet length, @c cap the writable bytes from
 * @c buf (length + tailroom). */
struct mg_srtp_buf {
	uint8_t *buf;
	uint16_t len;
	uint16_t cap;
};

/** Per-packet result of a burst call (one byte each). Every value except
 * #MG_SRTP_OK is a drop reason the caller counts. */
enum mg_srtp_result {
	MG_SRTP_OK = 0,          /**< done; @c len updated */
	MG_SRTP_AUTH_FAIL,       /**< tag (or GCM tag) does not verify */
	MG_SRTP_REPLAY,          /**< index already seen or left of the window */
	MG_SRTP_TOO_SHORT,       /**< shorter than header + tag (+ MKI, index) */
	MG_SRTP_LIFETIME,        /**< master key lifetime or index space used up */
	MG_SRTP_UNKNOWN_MKI,     /**< MKI names no key of this context */
	MG_SRTP_BAD_VERSION,     /**< RTP/RTCP version field is not 2 */
	MG_SRTP_MALFORMED,       /**< CSRC/extension/padding run past the packet */
	MG_SRTP_NO_ROOM,         /**< protect: cap - len < overhead */
	MG_SRTP_CRYPTO_ERROR,    /**< the crypto library refused the operation
				  *   (never seen; counted rather than sent) */
	MG_SRTP_RESULT_COUNT
};

/** Which way a context transforms. */
enum mg_srtp_dir {
	MG_SRTP_DIR_OUTBOUND = 1, /**< protect (RTP -> SRTP, RTCP -> SRTCP) */
	MG_SRTP_DIR_INBOUND = 2,  /**< unprotect */
};

/** Crypto backend of an engine. */
enum mg_srtp_backend {
	MG_SRTP_BACKEND_AUTO = 0,  /**< ipsec-mb if built and usable, else scalar;
				    *   env MG_SRTP_BACKEND=scalar|ipsec-mb overrides */
	MG_SRTP_BACKEND_SCALAR,    /**< OpenSSL libcrypto, one packet at a time */
	MG_SRTP_BACKEND_IPSECMB,   /**< intel-ipsec-mb multi-buffer jobs */
	MG_SRTP_BACKEND_COUNT
};

/** One master key as SDES delivers it. */
struct mg_srtp_master_key {
	uint8_t key[MG_SRTP_MASTER_KEY_MAX];   /**< suite master_key_len bytes used */
	uint8_t salt[MG_SRTP_MASTER_SALT_MAX]; /**< suite master_salt_len bytes used */
	uint8_t mki[MG_SRTP_MKI_MAX];          /**< MKI value, big-endian, mki_len bytes */
	uint64_t lifetime;                     /**< packets (SRTP + SRTCP) this key may
						*   protect/accept; 0 = RFC 3711 maximum */
};

/** Everything a context is created from. Zero-initialise, then fill. */
struct mg_srtp_policy {
	enum mg_srtp_suite suite;
	enum mg_srtp_dir dir;
	uint8_t mki_len;     /**< 0 (no MKI) or 1..#MG_SRTP_MKI_MAX, same for every key */
	uint8_t nkeys;       /**< 1..#MG_SRTP_KEYS_MAX (several only with an MKI) */
	uint8_t active_key;  /**< outbound: index into keys[] used to protect */
	uint32_t kdr;        /**< key derivation rate; only 0 is supported (refused
			      *   otherwise with an error saying so) */
	uint32_t roc;        /**< initial ROC for every new SSRC (normally 0) */
	uint16_t seq;        /**< with seq_valid: the first new SSRC starts with highest
			      *   index (roc, seq) (re-install after a dataplane restart:
			      *   the next packet's index is estimated, a wrap is caught) */
	uint8_t seq_valid;
	uint8_t stats_off;   /**< 1: the context keeps no counters (96 bytes less;
			      *   mg_srtp_ctx_stats() reports zeros): for a caller
			      *   that counts every result itself */
	/** NULL: the context has room for #MG_SRTP_SSRC_MAX SSRCs from its
	 *  creation on. Else it keeps one SSRC's state inside and takes the
	 *  room for the others from this pool when a second SSRC shows up
	 *  (on the packet path; if the pool is empty, it goes on with the one
	 *  state: the least recently used SSRC gives it up, as when more than
	 *  #MG_SRTP_SSRC_MAX show up); the room goes back when the context is
	 *  freed. For a caller with many contexts of which few see a second
	 *  SSRC (a dataplane: docs/srtp.md "Memory per context"). */
	struct mg_srtp_ssrc_pool *ssrc_pool;
	struct mg_srtp_master_key keys[MG_SRTP_KEYS_MAX];
};

/** A replay window word: 4-byte aligned, so that a stream state packs into
 * 52 bytes (x86 loads it unaligned at no cost). */
typedef uint64_t mg_srtp_win_t __attribute__((aligned(4)));

/** Runtime state of one SSRC in one context: ROC, highest sequence number,
 * replay windows, SRTCP index. Owned by the thread that owns the context.
 * Fields are private to the engine (exposed so the size is known and can be
 * checked). */
struct mg_srtp_stream_rt {
	uint32_t ssrc;
	uint32_t roc;           /**< rollover counter of s_l */
	uint32_t rtcp_index;    /**< highest SRTCP index seen / last sent */
	uint32_t last_use;      /**< LRU stamp for slot reuse */
	uint16_t s_l;           /**< highest sequence number seen/sent */
	uint8_t in_use : 1;
	uint8_t seq_valid : 1;  /**< s_l meaningful (else first packet sets it) */
	uint8_t rtcp_valid : 1; /**< rtcp_index meaningful */
	mg_srtp_win_t rtp_win[MG_SRTP_REPLAY_WINDOW / 64];  /**< bit i: s_l - i seen */
	mg_srtp_win_t rtcp_win[MG_SRTP_REPLAY_WINDOW / 64]; /**< bit i: rtcp_index - i seen */
};

/** Counters of one context (read on the owning thread, or racy elsewhere). */
struct mg_srtp_stats {
	uint64_t rtp_ok;                          /**< SRTP packets done */
	uint64_t rtcp_ok;                         /**< SRTCP packets done */
	uint64_t drops[MG_SRTP_RESULT_COUNT];     /**< by enum mg_srtp_result */
};

struct mg_srtp_engine;
struct mg_srtp_ctx;

/** Name of a result ("ok", "auth-fail", "replay", ...) for counters/logs. */
const char *mg_srtp_result_name(enum mg_srtp_result r);

/** Name of a backend ("auto", "scalar", "ipsec-mb"). */
const char *mg_srtp_backend_name(enum mg_srtp_backend b);

/** Parse "auto", "scalar", "ipsec-mb"; 0 or -EINVAL. */
int mg_srtp_backend_parse(const char *name, enum mg_srtp_backend *out);

/** 1 if this build and this CPU can run backend @p b (AUTO: always 1). */
int mg_srtp_backend_available(enum mg_srtp_backend b);

/**
 * Create a per-thread engine. AUTO picks ipsec-mb (best instruction set the
 * CPU has: AVX-512, AVX2, AVX, SSE) when built in, else scalar.
 * @return the engine, or NULL with errno ENOTSUP (backend not available) or
 *         ENOMEM.
 */
struct mg_srtp_engine *mg_srtp_engine_create(enum mg_srtp_backend b);

/** Backend an engine actually runs (never AUTO). */
enum mg_srtp_backend mg_srtp_engine_backend(const struct mg_srtp_engine *e);

/** One line for logs: backend, library version, instruction set
 * (e.g. "ipsec-mb 1.3.0 avx512 sha-ni", "scalar OpenSSL 3.0.x ..."). */
const char *mg_srtp_engine_describe(const struct mg_srtp_engine *e);

/** Free an engine (NULL is fine). */
void mg_srtp_engine_free(struct mg_srtp_engine *e);

/**
 * Check a policy without creating anything.
 * @param err  receives a one-line reason naming what is wrong and what is
 *             allowed (may be NULL)
 * @return 0, -EINVAL (bad field) or -ENOTSUP (e.g. kdr != 0).
 */
int mg_srtp_policy_check(const struct mg_srtp_policy *p, char *err, size_t errlen);

/**
 * Create a context: validates the policy and derives the session keys
 * (RFC 3711 §4.3, KDR 0) for SRTP and SRTCP for every master key; the
 * master keys are not kept. Usable with any engine.
 * @return the context, or NULL with errno set (EINVAL, ENOTSUP, ENOMEM) and
 *         @p err filled.
 */
struct mg_srtp_ctx *mg_srtp_ctx_create(const struct mg_srtp_policy *p, char *err, size_t errlen);

/** Wipe the keys and free a context (NULL is fine). */
void mg_srtp_ctx_free(struct mg_srtp_ctx *c);

/** Bytes of a context a packet reads (without the counters of a context
 *  made without stats_off): what a caller prefetches ahead of a burst. */
#define MG_SRTP_CTX_PACKET_BYTES 512

/** Room for #MG_SRTP_SSRC_MAX - 1 SSRC states: what a context of a policy
 *  with an ssrc_pool takes at its second SSRC. */
#define MG_SRTP_SSRC_ROOM_BYTES ((MG_SRTP_SSRC_MAX - 1) * 52)

/**
 * A pool of room for further SSRCs of contexts (policy.ssrc_pool), shared
 * by any number of threads: taken by the thread that runs a context's
 * bursts (lock-free, no allocation), given back by mg_srtp_ctx_free().
 * @p rooms are reserved at once as address space; memory is used only for
 * the rooms taken at least once (a room costs #MG_SRTP_SSRC_ROOM_BYTES
 * rounded up to 8).
 * @return the pool, or NULL with errno set.
 */
struct mg_srtp_ssrc_pool *mg_srtp_ssrc_pool_create(uint32_t rooms);

/** Free a pool whose contexts are all freed (NULL is fine). */
void mg_srtp_ssrc_pool_free(struct mg_srtp_ssrc_pool *p);

/** What a pool holds: its size, the rooms contexts hold now, and how many
 *  times a context found it empty (and went on with one SSRC state). */
struct mg_srtp_ssrc_pool_stats {
	uint64_t rooms;
	uint64_t in_use;
	uint64_t empty;
};
void mg_srtp_ssrc_pool_stats(const struct mg_srtp_ssrc_pool *p, struct mg_srtp_ssrc_pool_stats *out);

/**
 * Re-key in place (re-INVITE): new master keys from @p p (same direction;
 * the suite may change), every SSRC forgotten so ROC restarts at p->roc,
 * replay windows, SRTCP indexes and lifetime counters reset - what Microsoft
 * Lync/Teams expect. Counters are kept. Call on the owning thread or while
 * the context is not in use. On error the context is unchanged.
 * @return 0, -EINVAL or -ENOTSUP (err filled).
 */
int mg_srtp_ctx_rekey(struct mg_srtp_ctx *c, const struct mg_srtp_policy *p, char *err, size_t errlen);

/** Suite of a context. */
enum mg_srtp_suite mg_srtp_ctx_suite(const struct mg_srtp_ctx *c);

/** Bytes protect appends to an SRTP (@p rtcp 0) or SRTCP (1) packet. */
unsigned mg_srtp_overhead(const struct mg_srtp_ctx *c, int rtcp);

/**
 * Outbound: select the master key protect uses from now on (by index).
 * @return 0 or -EINVAL.
 */
int mg_srtp_ctx_set_active_key(struct mg_srtp_ctx *c, unsigned index);

/**
 * Read the ROC (and highest sequence number) of an SSRC.
 * @param seq  may be NULL; receives s_l
 * @return 0, or -ENOENT if the SSRC has not been seen/set.
 */
int mg_srtp_get_roc(const struct mg_srtp_ctx *c, uint32_t ssrc, uint32_t *roc, uint16_t *seq);

/**
 * Set the ROC of an SSRC (hand-over, re-key): the next packet's index is
 * estimated from this ROC with its own sequence number; the replay window
 * restarts. Creates the SSRC state if needed (evicting the least recently
 * used one when all #MG_SRTP_SSRC_MAX are taken).
 * @return 0.
 */
int mg_srtp_set_roc(struct mg_srtp_ctx *c, uint32_t ssrc, uint32_t roc);

/** Copy the counters of a context (zeros if it was created with stats_off). */
void mg_srtp_ctx_stats(const struct mg_srtp_ctx *c, struct mg_srtp_stats *out);

/**
 * Protect up to #MG_SRTP_BURST_MAX RTP packets in place (outbound context).
 * @param pkts  packets; on success @c len grows by mg_srtp_overhead(c, 0)
 * @param res   one enum mg_srtp_result per packet
 * @param n     0..#MG_SRTP_BURST_MAX (more is clamped: only the first 64)
 * @return number of packets with #MG_SRTP_OK.
 */
unsigned mg_srtp_protect_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c,
			       struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);

/**
 * Unprotect up to #MG_SRTP_BURST_MAX SRTP packets in place (inbound
 * context): picks the key by MKI, estimates the index (RFC 3711 App. A),
 * checks replay, verifies the tag before decrypting, updates ROC/window only
 * for packets that verify. On success @c len shrinks to the RTP length.
 * @return number of packets with #MG_SRTP_OK.
 */
unsigned mg_srtp_unprotect_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c,
				 struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);

/** Protect RTCP packets (compound allowed) in place; always encrypts (E=1).
 * @return number of packets with #MG_SRTP_OK. */
unsigned mg_srtp_protect_rtcp_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c,
				    struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);

/** Unprotect SRTCP packets in place (E=0 accepted: authenticated only).
 * @return number of packets with #MG_SRTP_OK. */
unsigned mg_srtp_unprotect_rtcp_burst(struct mg_srtp_engine *e, struct mg_srtp_ctx *c,
				      struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);

/**
 * The four burst calls above with one context per packet: packet i uses
 * @p ctxs[i]. This fills the multi-buffer lanes across sessions, which is
 * what real traffic needs (one RTP packet per session per 20 ms, so a poll
 * rarely brings several packets of one session). A context may appear
 * several times; its packets are handled in array order, exactly as a plain
 * burst would. Each context still belongs to the calling thread.
 * @return number of packets with #MG_SRTP_OK.
 */
unsigned mg_srtp_protect_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
				     struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);
/** Unprotect with one context per packet; see mg_srtp_protect_burst_multi(). */
unsigned mg_srtp_unprotect_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
				       struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);
/** SRTCP protect with one context per packet. */
unsigned mg_srtp_protect_rtcp_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
					  struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);
/** SRTCP unprotect with one context per packet. */
unsigned mg_srtp_unprotect_rtcp_burst_multi(struct mg_srtp_engine *e, struct mg_srtp_ctx *const *ctxs,
					    struct mg_srtp_buf *pkts, uint8_t *res, unsigned n);

#ifdef __cplusplus
}
#endif

#endif
