/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transmit side of a worker: per-port TX buffers (drained at BURST packets
 * or by the loop's TSC timer), and the neighbour lookup that either fills in
 * the next hop's MAC or hands the packet to the main lcore to wait for ARP.
 */
#ifndef DP_TX_H
#define DP_TX_H

#include <rte_ethdev.h>

#include "dp_worker_rt.h"

static inline void tx_flush(struct dp_worker *w, unsigned p)
{
	struct txbuf *b = &w->tx[p];
	uint16_t sent;

	if (b->n == 0)
		return;
	sent = rte_eth_tx_burst(dp_ports[p].port_id, (uint16_t)w->idx, b->m, b->n);
	w->net.tx_pkts += sent;
	for (uint16_t i = sent; i < b->n; i++) {
		w->net.drops[DP_NET_DROP_TX_FULL]++;
		if (b->drop_st[i] != NULL)
			sess_drop_tx(w, b->drop_st[i], b->drop_leg[i], MG_DROP_TX_FULL);
		rte_pktmbuf_free(b->m[i]);
	}
	b->n = 0;
}

/* @p st (may be NULL): session counters to charge tx_full to, leg @p leg */
static inline void tx_enqueue(struct dp_worker *w, unsigned p, struct rte_mbuf *m, struct dp_sess_stats *st,
			      unsigned leg)
{
	struct txbuf *b = &w->tx[p];

	b->m[b->n] = m;
	b->drop_st[b->n] = st;
	b->drop_leg[b->n] = (uint8_t)leg;
	if (++b->n >= BURST)
		tx_flush(w, p);
}

/*
 * Send a built Eth/IPv4/UDP packet to @p dip on port @p p: neighbour lookup,
 * or hand it to the main lcore to wait for ARP. @p st: session counters to
 * charge a failure to, as sent on leg @p leg (may be NULL).
 */
static inline void tx_ip(struct dp_worker *w, unsigned p, struct rte_mbuf *m, uint32_t dip,
			 struct dp_sess_stats *st, unsigned leg, struct dp_capture_slot *cap)
{
	uint32_t nh = dp_net_nexthop((uint16_t)p, dip);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (unlikely(nh == 0)) {
		w->net.drops[DP_NET_DROP_NO_ROUTE]++;
		if (st != NULL)
			sess_drop_tx(w, st, leg, MG_DROP_NO_NEIGHBOUR);
		rte_pktmbuf_free(m);
		return;
	}
	if (likely(dp_neigh_lookup((uint16_t)p, nh, &eh->dst_addr))) {
		if (unlikely(cap != NULL)) /* as it leaves: the next hop's MAC is in */
			dp_capture_pkt(cap, m, 0, dp_ports[p].port_id, DP_CAPTURE_OUT, rte_rdtsc());
		tx_enqueue(w, p, m, st, leg);
		return;
	}
	m->port = (uint16_t)p;
	m->hash.usr = nh;
	if (rte_ring_mp_enqueue(dp_slow_ring, m) != 0) {
		w->net.drops[DP_NET_DROP_SLOW_RING_FULL]++;
		if (st != NULL)
			sess_drop_tx(w, st, leg, MG_DROP_NO_NEIGHBOUR);
		rte_pktmbuf_free(m);
	}
}

#endif
