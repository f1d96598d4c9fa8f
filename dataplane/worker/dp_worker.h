/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker lcores: rx burst -> classify -> SRTP burst -> rewrite -> tx.
 *
 * Ownership: a session's SRTP state (ROC, replay windows), its latched
 * sources and its counters are written by exactly one worker, its owner
 * (session id modulo the number of workers). A worker that receives a packet
 * of a session it does not own passes the mbuf, untouched, to the owner's
 * hand-off ring (MP/SC rte_ring); the owner classifies it again. With one
 * worker there is never a hand-off.
 *
 * The main lcore never touches a NIC queue: what it sends (ARP, packets that
 * waited for a neighbour) goes through worker 0's main-TX ring. What workers
 * cannot finish (ARP input, unresolved next hop) goes to the main lcore's
 * slow ring.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "mg_config.h"
#include "mg_proto.h"

/*
 * Bring the dataplane up after rte_eal_init() and dp_ctl_init(): ports,
 * neighbour tables, session tables, telemetry, the main-lcore hook, then
 * launch the workers on settings.worker_lcores. Returns 0 or -errno (logged).
 */
int dp_dataplane_init(const struct mg_settings *s);

/* Stop the workers (they also stop when dp_ctl_stopping()), close ports. */
void dp_dataplane_fini(void);

/* DP_STATS reply. */
void dp_worker_fill_dp_stats(struct mg_msg_dp_stats *out);

/* Per-worker figures for telemetry. */
struct dp_worker_figures {
	unsigned lcore;
	uint64_t packets, busy_tsc, polls, idle_polls, handoffs;
	uint64_t preempted; /* loops > 100 us: not counted as busy time */
};
unsigned dp_worker_count(void);
void dp_worker_figures(unsigned idx, struct dp_worker_figures *f);
/* Net drop counters summed over workers and main. */
void dp_worker_net_totals(uint64_t *rx, uint64_t *tx, uint64_t *arp_in, uint64_t *arp_out,
			  uint64_t *icmp, uint64_t *drops /* [DP_NET_DROP__COUNT] */);

#endif
