/* SPDX-License-Identifier: BSD-3-Clause */
/* Forks: a copy (or a reference-counted clone) of what a leg receives, to an
 * extra destination, encrypted with the fork's own context if it has one. */
#ifndef DP_FORK_TX_H
#define DP_FORK_TX_H

#include "dp_tx.h"

static inline void fork_send(struct dp_worker *w, struct dp_session_rt *s, const struct dp_fork *f,
		      struct rte_mbuf *m, bool rtcp, bool may_clone)
{
	struct dp_fork_ctr *c = &s->stats->forks->fork[f->slot];
	struct rte_mbuf *out;
	uint16_t len = (uint16_t)m->pkt_len;

	if (may_clone && f->ctx == NULL) {
		/* payload shared by reference: a header mbuf in front of a clone */
		struct rte_mbuf *h = rte_pktmbuf_alloc(dp_hdr_pool);
		struct rte_mbuf *cl = h != NULL ? rte_pktmbuf_clone(m, dp_clone_pool) : NULL;

		if (cl == NULL) {
			rte_pktmbuf_free(h);
			c->drops++;
			w->net.drops[DP_NET_DROP_NO_MBUF]++;
			return;
		}
		rte_pktmbuf_append(h, DP_HDR_LEN);
		rte_pktmbuf_chain(h, cl);
		out = h;
	} else {
		out = rte_pktmbuf_copy(m, dp_pktmbuf_pool, 0, UINT32_MAX);
		if (out == NULL) {
			c->drops++;
			w->net.drops[DP_NET_DROP_NO_MBUF]++;
			return;
		}
		if (f->ctx != NULL) {
			struct mg_srtp_buf b = { rte_pktmbuf_mtod(out, uint8_t *), len,
						 (uint16_t)(len + rte_pktmbuf_tailroom(out)) };
			uint8_t r;
			unsigned ok = rtcp ? mg_srtp_protect_rtcp_burst(w->eng, f->ctx, &b, &r, 1)
					   : mg_srtp_protect_burst(w->eng, f->ctx, &b, &r, 1);

			if (ok != 1) {
				c->drops++;
				rte_pktmbuf_free(out);
				return;
			}
			rte_pktmbuf_append(out, (uint16_t)(b.len - len));
		}
		if (rte_pktmbuf_prepend(out, DP_HDR_LEN) == NULL) {
			c->drops++;
			rte_pktmbuf_free(out);
			return;
		}
	}
	uint16_t sp = rtcp ? rte_cpu_to_be_16(rte_be_to_cpu_16(f->local_port) + 1) : f->local_port;
	uint16_t dport = rtcp ? rte_cpu_to_be_16(rte_be_to_cpu_16(f->remote_port) + 1)
			      : f->remote_port;

	dp_net_write_udp(out, &dp_ports[f->port_idx].mac, f->local_ip, sp, f->remote_ip, dport);
	c->packets++;
	c->bytes += out->pkt_len - DP_HDR_LEN;
	tx_ip(w, f->port_idx, out, f->remote_ip, NULL, 0, NULL);
}

#endif
