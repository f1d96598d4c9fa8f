/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session tables. The main lcore is the single writer; workers read
 * lock-free:
 *
 *   ep_hash  (rte_hash, RW_CONCURRENCY_LF): (local IPv4, local UDP port) ->
 *            tagged pointer to the session (bit 0: leg, bit 1: RTCP port)
 *   id_hash  (rte_hash, RW_CONCURRENCY_LF): session id -> session (control
 *            path and telemetry only)
 *
 * Both hashes are attached to one RCU QSBR variable (rte_hash_rcu_qsbr_add,
 * defer-queue mode) so key slots are recycled only after a grace period.
 *
 * A session version is a hot struct dp_session_rt (what a worker reads per
 * packet, two cache lines) and its cold struct dp_session_cold (the
 * definition as installed, candidates and forks; read by workers only for a
 * strict leg before its source won and for forks). Neither is written once
 * published. What the owner worker writes lives in objects they point to and
 * that outlive a version: the per-session struct dp_sess_stats (counters and
 * each leg's learned source), SRTP contexts (ROC, replay window). MODIFY,
 * FORK_ADD/DEL and TDM marks build a new version that shares what carries
 * over, re-point the keys to it and retire the old one on our own defer
 * queue (same QSBR variable) with the set of things only it holds; DEL
 * retires everything. Nothing is freed (contexts wiped) before every worker
 * reported a quiescent state after the unlink.
 */
#ifndef DP_SESSION_H
#define DP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_rcu_qsbr.h>

#include "mg_lfpool.h"
#include "mg_proto.h"
#include "mg_srtp.h"

#define DP_SESS_MAX_FORKS MG_PROTO_MAX_FORKS
#define DP_SESS_MAX_CAND (MG_PROTO_MAX_CANDIDATES + 1)

/*
 * Per leg and direction counters (one writer: the session's owner worker).
 * Drop counters have a slot only for the reasons the direction can count;
 * the wire and telemetry carry every reason (dp_session_fill_stats() maps
 * back), the reasons a direction never counts reading 0. A reason without a
 * slot of its own (none is counted so today) would land in `other`'s.
 */
#define DP_RX_DROPS 8
#define DP_TX_DROPS 7
static const uint8_t dp_rx_drop_reason[DP_RX_DROPS] = {
	MG_DROP_AUTH,        MG_DROP_REPLAY, MG_DROP_MALFORMED, MG_DROP_SOURCE_MISMATCH,
	MG_DROP_KEY_EXPIRED, MG_DROP_MKI,    MG_DROP_OTHER,     MG_DROP_BLOCKED,
};
static const uint8_t dp_rx_drop_slot[MG_DROP_REASON_COUNT] = {
	[MG_DROP_AUTH] = 0,         [MG_DROP_REPLAY] = 1,      [MG_DROP_UNKNOWN_DEST] = 6,
	[MG_DROP_SOURCE_MISMATCH] = 3, [MG_DROP_MALFORMED] = 2, [MG_DROP_NO_NEIGHBOUR] = 6,
	[MG_DROP_TX_FULL] = 6,      [MG_DROP_KEY_EXPIRED] = 4, [MG_DROP_MKI] = 5,
	[MG_DROP_NO_MBUF] = 6,      [MG_DROP_OTHER] = 6,       [MG_DROP_BLOCKED] = 7,
};
static const uint8_t dp_tx_drop_reason[DP_TX_DROPS] = {
	MG_DROP_UNKNOWN_DEST, MG_DROP_NO_NEIGHBOUR, MG_DROP_TX_FULL, MG_DROP_MALFORMED,
	MG_DROP_REPLAY,       MG_DROP_KEY_EXPIRED,  MG_DROP_OTHER,
};
static const uint8_t dp_tx_drop_slot[MG_DROP_REASON_COUNT] = {
	[MG_DROP_AUTH] = 6,         [MG_DROP_REPLAY] = 4,      [MG_DROP_UNKNOWN_DEST] = 0,
	[MG_DROP_SOURCE_MISMATCH] = 6, [MG_DROP_MALFORMED] = 3, [MG_DROP_NO_NEIGHBOUR] = 1,
	[MG_DROP_TX_FULL] = 2,      [MG_DROP_KEY_EXPIRED] = 5, [MG_DROP_MKI] = 6,
	[MG_DROP_NO_MBUF] = 6,      [MG_DROP_OTHER] = 6,       [MG_DROP_BLOCKED] = 6,
};
_Static_assert(MG_DROP_REASON_COUNT == 12, "a new drop reason: give it a slot above");
#define DP_RX(reason) (dp_rx_drop_slot[(reason)])
#define DP_TX(reason) (dp_tx_drop_slot[(reason)])

struct dp_rx_ctr {
	uint64_t packets;
	uint64_t bytes;
	uint64_t rtcp_packets;
};

struct dp_tx_ctr {
	uint64_t packets;
	uint64_t bytes;
	uint64_t rtcp_packets;
};

/*
 * A session's drop counters by reason. Most sessions never drop a packet,
 * so they are not part of dp_sess_stats: the owner worker takes a block
 * from dp_drops_pool (lock-free, no allocation) at the session's first
 * drop and it goes back with the counters block. If the pool were empty
 * (it is sized so that it cannot be: dp_session_init()), the worker counts
 * the drop in its own block, reported with the drops no session has
 * (DP_STATS drops, `drop_blocks_empty`).
 */
struct dp_sess_drops {
	uint64_t rx[2][DP_RX_DROPS]; /* [leg][DP_RX(reason)]: what it received */
	uint64_t tx[2][DP_TX_DROPS]; /* [leg][DP_TX(reason)]: what it sent */
};

/* rx: the party's last RTCP report block (first of its SR/RR) */
struct dp_rr {
	uint32_t ssrc, lost, jitter;
};

struct dp_fork_ctr {
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops;
};

/* Fork counters of a session, allocated with its first fork. */
struct dp_fork_stats {
	struct dp_fork_ctr fork[DP_SESS_MAX_FORKS];
	uint32_t ids[DP_SESS_MAX_FORKS]; /* which fork a slot counts for (0 = free) */
};

#define DP_SRC_RTP 0x01u  /* the RTP source was learned (strict: a source won) */
#define DP_SRC_RTCP 0x02u /* the RTCP source port was learned */

/*
 * A leg's current remote: where it sends, and once learned the only source it
 * accepts (SPEC 12). Written only by the session's owner worker, from the
 * first valid packet (an authenticated one on an SRTP leg) and on a handover;
 * read racily by GET and telemetry. It lives apart from the session version,
 * like an SRTP context, so that a FORK_ADD/DEL or TDM mark (a new version)
 * can never re-open a learned leg; MODIFY keeps it while the leg's remote,
 * RTCP port, rtcp-mux, candidates and policy are unchanged and starts a
 * fresh one otherwise (dp_session.c same_remote()). The first one of each
 * leg is dp_sess_stats.src[leg]; a fresh one is an allocation of its own.
 */
struct dp_src_rt {
	uint32_t ip;        /* network order; 0 = none known (nothing is sent) */
	uint16_t rtp_port;  /* network order */
	uint16_t rtcp_port; /* network order; 0 = none (RTCP toward it is dropped) */
	uint8_t flags;      /* DP_SRC_*: 0 = nothing learned yet */
	uint8_t pad[7];
	uint64_t last_tsc;  /* last packet accepted from it (plain handover's silence) */
	uint64_t handovers; /* times media-handover moved it */
} __attribute__((aligned(32)));
/* half a cache line: the two of dp_sess_stats share one (the owner worker
 * writes both, so there is no false sharing to avoid) */
_Static_assert(sizeof(struct dp_src_rt) == RTE_CACHE_LINE_SIZE / 2, "dp_src_rt: half a cache line");

/*
 * What the owner worker writes for one session id, shared by every version
 * of it and freed with the last: the learned sources the session started
 * with, and the counters.
 */
struct dp_sess_stats {
	struct dp_src_rt src[2];
	struct dp_rx_ctr rx[2];      /* [leg]: what it received */
	struct dp_tx_ctr tx[2];      /* [leg]: what it sent */
	struct dp_rr rr[2];          /* [leg], what that leg's party reports */
	uint32_t last_ssrc[2][2];    /* [leg][0 rx, 1 tx], network order; to read the ROC back */
	/* NULL until the first FORK_ADD, which sets it (main lcore) before it
	 * publishes the version that has the fork */
	struct dp_fork_stats *forks;
	/* NULL until the session's first drop (the owner worker sets it,
	 * release; readers load it acquire) */
	struct dp_sess_drops *drops;
} __rte_cache_aligned;
_Static_assert(sizeof(struct dp_sess_stats) == 4 * RTE_CACHE_LINE_SIZE,
	       "dp_sess_stats: four cache lines");

/* Drop blocks (struct dp_sess_drops) of the sessions, any thread. */
extern struct mg_lfpool dp_drops_pool;

/* A leg as the worker reads it on every packet. */
struct dp_leg_rt {
	/* network byte order */
	uint32_t local_ip;
	uint16_t local_port;
	uint16_t local_rtcp_port;
	uint32_t remote_ip;        /* the definition's remote; 0 = none given */
	uint16_t remote_port;
	uint16_t remote_rtcp_port; /* explicit, or derived from the remote's port */
	uint16_t port_idx;         /* dataplane port that owns local_ip */
	uint8_t policy;            /* enum mg_source_policy */
	uint8_t mux;               /* RTCP on the RTP port */
	uint8_t handover;          /* MG_LEG_F_HANDOVER: a latched source may move */
	uint8_t block;             /* MG_LEG_F_BLOCK: what it receives is not forwarded */
	uint8_t n_cand;            /* strict: allowed sources, in the cold part */
	uint8_t tdm;               /* a TDM channel is bound: RTP received here goes to it */
	struct mg_srtp_ctx *rx_ctx; /* NULL: plain on the wire toward us */
	struct mg_srtp_ctx *tx_ctx; /* NULL: send plain */
	struct dp_src_rt *src;     /* never NULL once built */
};

struct dp_fork {
	uint32_t id;
	uint8_t leg;        /* copies what leg `leg` receives */
	uint8_t raw;        /* as received (before decryption) */
	uint8_t rtcp;       /* copy RTCP too, to remote_port + 1 */
	uint8_t pad;
	uint16_t port_idx;
	uint16_t slot;      /* index in dp_sess_stats.fork[] */
	uint32_t local_ip;
	uint16_t local_port;
	uint16_t remote_port;
	uint32_t remote_ip;
	struct mg_srtp_ctx *ctx; /* NULL: plain copy */
};

/* One direction's crypto as installed, without its keys: the master key and
 * salt are not kept, a SHA-256 of them (first 16 bytes) tells at MODIFY
 * whether they changed. */
struct dp_crypto_def {
	uint8_t suite, key_len, salt_len, mki_len, flags;
	uint8_t mki[MG_PROTO_MAX_MKI];
	uint16_t seq;
	uint32_t roc;
	uint64_t lifetime;
	uint8_t digest[16];
};

/* The rest of a leg's definition (address fields the dataplane accepts are
 * IPv4 only, so this is the message without loss; dp_session_get() puts it
 * back together). */
struct dp_leg_cold {
	uint32_t cand_ip[DP_SESS_MAX_CAND]; /* strict: [0] the remote if given, then
					     * the candidates (network order) */
	uint16_t cand_port[DP_SESS_MAX_CAND];
	uint16_t def_rtcp_port;  /* remote_rtcp_port as given (0 = derived) */
	uint8_t remote_family;   /* MG_FAMILY_NONE or MG_FAMILY_IPV4 */
	uint8_t flags;           /* MG_LEG_F_* as given */
	/* [0 rx, 1 tx]: 1 + index of the direction's dp_crypto_def after the
	 * forks; 0: nothing given (plain, every field zero), no def kept */
	uint8_t crypto[2];
};

/* Cold part of a session version: control path, and workers for strict
 * candidates and forks. Never written once published. Sized for what the
 * version has: room for fork_room forks (dp_session_rt.n_forks used), then
 * n_crypto crypto definitions (the directions that have one). */
struct dp_session_cold {
	struct dp_leg_cold leg[2];
	uint8_t fork_room;
	uint8_t n_crypto;
	struct dp_fork forks[];
};

#define DP_RAW_RTP 0x01u  /* a raw fork of the leg copies RTP */
#define DP_RAW_RTCP 0x02u /* ... and RTCP */

/* Hot part of a session version: what a worker reads for every packet. */
struct dp_session_rt {
	uint64_t id;
	struct dp_sess_stats *stats;
	struct dp_session_cold *cold; /* read-only once published */
	uint16_t owner;           /* worker index that owns the SRTP state */
	uint8_t n_forks;          /* forks in cold->forks[] */
	/* [leg]: DP_RAW_*, a raw fork takes what the leg receives (from
	 * cold->forks[], set before publication): the worker copies a packet
	 * before decryption without reading the cold part */
	uint8_t raw_fork[2];
	struct dp_leg_rt leg[2];
} __rte_cache_aligned;
_Static_assert(sizeof(struct dp_session_rt) <= 3 * RTE_CACHE_LINE_SIZE,
	       "dp_session_rt: at most three cache lines");

/* ep_hash key: 8 bytes */
struct dp_ep_key {
	uint32_t ip;
	uint16_t port;
	uint16_t pad;
};

#define DP_EP_LEG_MASK 1ul
#define DP_EP_RTCP 2ul
#define DP_EP_PTR_MASK (~3ul)

extern struct rte_hash *dp_ep_hash;
extern struct rte_rcu_qsbr *dp_qsbr;
extern unsigned dp_n_workers;

/* Setup (main lcore, after ports): @p n_readers QSBR threads (workers + telemetry). */
int dp_session_init(unsigned max_sessions, unsigned n_workers, uint16_t port_min,
		    uint16_t port_max);
/* Reclaim what is past its grace period; main loop. */
void dp_session_reclaim(void);
unsigned dp_session_count(void);
/* The SRTP SSRC room pool's and the drop counters pool's figures into
 * DP_STATS (ssrc_rooms*, drop_blocks*). */
void dp_session_lazy_pools(struct mg_msg_dp_stats *out);

/* Control operations (main lcore only); return 0 or -errno, *err names the problem. */
int dp_port_alloc(const struct mg_msg_port_alloc *req, struct mg_msg_port *rep, const char **err);
int dp_port_free(const struct mg_msg_port *req, const char **err);
/* Ports of the range allocated now (RTP and RTCP each count), for DP_STATS. */
unsigned dp_port_used_count(void);
/** Free every allocated port (orphan sweep); returns the RTP ports freed. */
unsigned dp_port_free_all(void);
/** Main-lcore hook (dp_ctl_hook_add): once the control plane has been gone
 * for mediagate.dataplane.orphanTimeout, remove every session and port. */
void dp_session_orphan_hook(void *arg);
int dp_session_add(const struct mg_msg_session *s, bool modify, const char **err);
int dp_session_del(uint64_t id, struct mg_msg_session_stats *final, const char **err);
int dp_session_get(uint64_t id, struct mg_msg_session *out, const char **err);
int dp_session_stats(uint64_t id, struct mg_msg_session_stats *out, const char **err);
int dp_session_list(const struct mg_msg_session_list_req *req, struct mg_msg_session_list *out,
		    const char **err);
int dp_fork_add(const struct mg_msg_fork *f, const char **err);
int dp_fork_del(const struct mg_msg_fork_id *f, const char **err);
/*
 * Mark leg @p leg (0/1; -1: neither) of session @p id as carrying a TDM
 * channel, through the same replace-and-retire path as FORK_ADD, so workers
 * look the TDM binding up only for such legs. MODIFY keeps the mark.
 */
int dp_session_set_tdm_leg(uint64_t id, int leg, const char **err);

/* Lookup by id for readers outside the main lcore (telemetry): call between
 * dp_session_reader_begin/end. */
const struct dp_session_rt *dp_session_find(uint64_t id);
void dp_session_reader_begin(void);
void dp_session_reader_end(void);
/* Iterate ids (main lcore or inside reader_begin/end). */
int dp_session_iterate(uint32_t *next, uint64_t *id);

/* Session versions and counters blocks in use that rte_malloc's statistics
 * do not count (taken from their pools' chunks; 0 in an ASan build, where
 * each is an allocation of its own). */
size_t dp_session_pool_objects(void);

/* Fill wire stats from a session's counters. */
void dp_session_fill_stats(const struct dp_session_rt *s, struct mg_msg_session_stats *out);

#endif
