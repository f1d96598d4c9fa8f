/* SPDX-License-Identifier: BSD-3-Clause */
/* Figures of the workers and of the main lcore's net path, for DP_STATS and
 * telemetry: racy reads of counters each worker writes alone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "dp_worker.h"
#include "dp_worker_rt.h"


unsigned dp_worker_count(void)
{
	return dp_n_run_workers;
}

void dp_worker_figures(unsigned idx, struct dp_worker_figures *f)
{
	const struct dp_worker *w = dp_workers[idx];

	f->lcore = w->lcore;
	f->packets = w->packets;
	f->busy_tsc = w->busy_tsc;
	f->polls = w->polls;
	f->idle_polls = w->idle_polls;
	f->handoffs = w->handoffs;
	f->preempted = w->preempted;
}

void dp_worker_net_totals(uint64_t *rx, uint64_t *tx, uint64_t *arp_in, uint64_t *arp_out,
			  uint64_t *icmp, uint64_t *drops)
{
	const struct dp_net_stats *m = &dp_main_net_stats;

	*rx = 0;
	*tx = 0;
	*arp_in = m->arp_in;
	*arp_out = m->arp_replies_sent + m->arp_requests_sent;
	*icmp = 0;
	for (unsigned r = 0; r < DP_NET_DROP__COUNT; r++)
		drops[r] = m->drops[r];
	for (unsigned i = 0; i < dp_n_run_workers; i++) {
		const struct dp_net_stats *n = &dp_workers[i]->net;

		*rx += n->rx_pkts;
		*tx += n->tx_pkts;
		*icmp += n->icmp_echo_replies;
		for (unsigned r = 0; r < DP_NET_DROP__COUNT; r++)
			drops[r] += n->drops[r];
	}
}

void dp_worker_fill_dp_stats(struct mg_msg_dp_stats *out)
{
	uint64_t drops[DP_NET_DROP__COUNT];

	memset(out, 0, sizeof(*out));
	out->tsc_hz = rte_get_tsc_hz();
	out->uptime_ns = (rte_get_tsc_cycles() - dp_start_tsc) * 1000000000ull / out->tsc_hz;
	out->n_sessions = dp_session_count();
	out->n_workers = dp_n_run_workers;
	out->n_ports = dp_n_ports;
	uint64_t rx, tx, ai, ao, icmp;

	dp_worker_net_totals(&rx, &tx, &ai, &ao, &icmp, drops);
	out->rx_packets = rx;
	out->tx_packets = tx;
	out->arp_rx = ai;
	out->arp_tx = ao;
	out->icmp_echo = icmp;
	/* wire slots by shared reason; the named per-reason detail is in telemetry */
	out->drops[MG_DROP_UNKNOWN_DEST] = drops[DP_NET_DROP_NO_SESSION] +
					   drops[DP_NET_DROP_IP_NOT_OURS];
	out->drops[MG_DROP_NO_NEIGHBOUR] = drops[DP_NET_DROP_NEIGH_FAILED] +
					   drops[DP_NET_DROP_NEIGH_HOLD_FULL] +
					   drops[DP_NET_DROP_NO_ROUTE];
	out->drops[MG_DROP_TX_FULL] = drops[DP_NET_DROP_TX_FULL] + drops[DP_NET_DROP_SLOW_RING_FULL] +
				      drops[DP_NET_DROP_HANDOFF_FULL];
	out->drops[MG_DROP_NO_MBUF] = drops[DP_NET_DROP_NO_MBUF];
	out->drops[MG_DROP_SOURCE_MISMATCH] = drops[DP_NET_DROP_SRC_OURS];
	out->drops[MG_DROP_MALFORMED] = drops[DP_NET_DROP_RUNT] + drops[DP_NET_DROP_IP_MALFORMED] +
					drops[DP_NET_DROP_IP_CHECKSUM] +
					drops[DP_NET_DROP_UDP_MALFORMED] +
					drops[DP_NET_DROP_ARP_MALFORMED];
	out->drops[MG_DROP_OTHER] = drops[DP_NET_DROP_NOT_OUR_MAC] + drops[DP_NET_DROP_ETHERTYPE] +
				    drops[DP_NET_DROP_IPV6] + drops[DP_NET_DROP_IP_FRAGMENT] +
				    drops[DP_NET_DROP_IP_PROTO] + drops[DP_NET_DROP_ICMP_OTHER] +
				    drops[DP_NET_DROP_ARP_NOT_OURS];
	/* sessions' drops that found no counters block (dp_worker_rt.h
	 * sess_drops()); not tx_full and no_neighbour, which tx_flush() and
	 * tx_ip() count in the worker's net drops too (above) */
	for (unsigned i = 0; i < dp_n_run_workers; i++) {
		const struct dp_sess_drops *sp = &dp_workers[i]->drops_spill;

		for (unsigned l = 0; l < 2; l++) {
			for (unsigned k = 0; k < DP_RX_DROPS; k++)
				out->drops[dp_rx_drop_reason[k]] += sp->rx[l][k];
			for (unsigned k = 0; k < DP_TX_DROPS; k++)
				if (dp_tx_drop_reason[k] != MG_DROP_TX_FULL &&
				    dp_tx_drop_reason[k] != MG_DROP_NO_NEIGHBOUR)
					out->drops[dp_tx_drop_reason[k]] += sp->tx[l][k];
		}
	}
	for (unsigned i = 0; i < dp_n_run_workers && i < MG_PROTO_MAX_WORKERS; i++) {
		out->workers[i].lcore = dp_workers[i]->lcore;
		out->workers[i].packets = dp_workers[i]->packets;
		out->workers[i].busy_tsc = dp_workers[i]->busy_tsc;
		out->workers[i].polls = dp_workers[i]->polls;
		out->workers[i].idle_polls = dp_workers[i]->idle_polls;
		out->workers[i].preempted = (uint32_t)dp_workers[i]->preempted;
	}
}
