/* SPDX-License-Identifier: BSD-3-Clause */
/* Stage 6: out through the other leg. */
#ifndef DP_STAGE_OUT_H
#define DP_STAGE_OUT_H

#include "dp_tx.h"

/* Eth/IPv4/UDP headers toward the other leg's destination, checksums,
 * counters, neighbour lookup and TX. */
static inline void stage_out(struct dp_worker *w, struct job *jobs, unsigned nj)
{
	for (unsigned i = 0; i < nj; i++) {
		struct job *j = &jobs[i];

		if (!j->ok)
			continue;
		struct dp_session_rt *s = j->s;
		struct dp_leg_rt *o = &s->leg[j->leg ^ 1];
		struct dp_tx_ctr *tx = &s->stats->tx[j->leg ^ 1];
		struct rte_mbuf *m = j->m;
		uint16_t plen = (uint16_t)m->pkt_len;

		if (j->rtcp == 0)
			s->stats->last_ssrc[j->leg ^ 1][1] =
				load32(rte_pktmbuf_mtod(m, const uint8_t *) + 8);
		if (unlikely(rte_pktmbuf_prepend(m, DP_HDR_LEN) == NULL)) {
			sess_drop_tx(w, s->stats, j->leg ^ 1, MG_DROP_OTHER);
			rte_pktmbuf_free(m);
			continue;
		}
		const struct dp_src_rt *dst = o->src;

		dp_net_write_udp(m, &dp_ports[o->port_idx].mac, o->local_ip,
				 j->rtcp ? o->local_rtcp_port : o->local_port, dst->ip,
				 j->rtcp ? dst->rtcp_port : dst->rtp_port);
		tx->packets++;
		tx->bytes += plen;
		tx->rtcp_packets += j->rtcp;
		tx_ip(w, o->port_idx, m, dst->ip, s->stats, j->leg ^ 1, j->cap);
	}
}

#endif
