/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/worker: one worker's state, the per-packet job that
 * carries a packet through the stages (dp_stage_*.h), and what the stages
 * share. The loop (dp_worker.c) only sequences the stages; bring-up
 * (dp_bringup.c) creates the workers, dp_worker_stats.c reads them.
 */
#ifndef DP_WORKER_RT_H
#define DP_WORKER_RT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_capture.h"
#include "dp_net.h"
#include "dp_port.h"
#include "dp_session.h"
#include "mg_srtp.h"

#define BURST 32
#define TXB_MAX (BURST * 2)
#define DP_RING_SIZE 4096

struct txbuf {
	uint16_t n;
	struct rte_mbuf *m[TXB_MAX];
	/* whose tx_full a packet that cannot be sent is: session counters (or
	 * NULL) and the leg it leaves on */
	struct dp_sess_stats *drop_st[TXB_MAX];
	uint8_t drop_leg[TXB_MAX];
};

struct dp_worker {
	unsigned idx;
	unsigned lcore;
	struct rte_ring *handoff; /* other workers -> this one */
	struct rte_ring *main_tx; /* main lcore -> this one (worker 0 only) */
	struct mg_srtp_engine *eng;
	uint64_t packets, busy_tsc, polls, idle_polls, handoffs, preempted;
	struct dp_net_stats net;
	/* sessions' drops when dp_drops_pool had no block (cannot happen as
	 * sized; counted all the same, in DP_STATS drops) */
	struct dp_sess_drops drops_spill;
	struct txbuf tx[DP_MAX_PORTS];
} __rte_cache_aligned;

/* One UDP packet addressed to a session endpoint, through the stages. */
struct job {
	struct rte_mbuf *m;
	struct dp_session_rt *s;
	struct rte_mbuf *raw; /* copy as received, for raw forks */
	struct dp_capture_slot *cap; /* the session is being captured */
	uint32_t src_ip;
	uint16_t src_port;
	uint16_t hdr_len; /* Ethernet + IPv4 + UDP bytes removed in stage 1 */
	uint16_t udp_pl;  /* UDP payload length (the UDP header's, <= the IP payload) */
	uint8_t leg;  /* receiving leg */
	uint8_t rtcp;
	uint8_t ok;
};

/* Set by bring-up (dp_bringup.c) before the workers start; read-only after. */
extern struct dp_worker *dp_workers[DP_MAX_WORKERS];
extern unsigned dp_n_run_workers;
extern struct rte_ring *dp_slow_ring; /* workers -> main: ARP, unresolved next hops */
extern unsigned dp_idle_sleep_us;
extern uint64_t dp_drain_tsc;
extern uint64_t dp_preempt_tsc;
extern uint64_t dp_start_tsc; /* dataplane up: DP_STATS uptime counts from here */
/* media-handover on a plain leg: how long the learned source must have been
 * silent before another may take its place (mediagate.media.handoverSilenceMs) */
extern uint64_t dp_src_silence_tsc;
extern volatile int dp_worker_quit;

/* The worker loop (rte_eal_remote_launch). */
int dp_worker_main(void *arg);
/* Main-lcore hook (bring-up registers it). */
void dp_main_hook(void *arg);

static inline void net_drop(struct dp_worker *w, struct rte_mbuf *m, enum dp_net_drop r)
{
	w->net.drops[r]++;
	rte_pktmbuf_free(m);
}

/* The drop counters of session counters @p st, taken at its first drop. */
static inline struct dp_sess_drops *sess_drops(struct dp_worker *w, struct dp_sess_stats *st)
{
	struct dp_sess_drops *d = st->drops;

	if (likely(d != NULL))
		return d;
	d = mg_lfpool_get(&dp_drops_pool);
	if (unlikely(d == NULL))
		return &w->drops_spill;
	__atomic_store_n(&st->drops, d, __ATOMIC_RELEASE);
	return d;
}

/* Count a drop of what leg @p leg received / sent, by enum mg_drop_reason. */
static inline void sess_drop_rx(struct dp_worker *w, struct dp_sess_stats *st, unsigned leg, unsigned reason)
{
	sess_drops(w, st)->rx[leg][DP_RX(reason)]++;
}

static inline void sess_drop_tx(struct dp_worker *w, struct dp_sess_stats *st, unsigned leg, unsigned reason)
{
	sess_drops(w, st)->tx[leg][DP_TX(reason)]++;
}

/* 4 bytes at any alignment (the RTP header follows 42 bytes of headers): one
 * load on x86, and no undefined behaviour */
static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif
