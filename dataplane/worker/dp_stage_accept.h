/* SPDX-License-Identifier: BSD-3-Clause */
/* Stage 4: accept, learn, count, fork. */
#ifndef DP_STAGE_ACCEPT_H
#define DP_STAGE_ACCEPT_H

#include "dp_fork_tx.h"
#include "dp_src.h"
#include "dp_tdm.h"

/* The first report block of an SR (PT 200) or RR (PT 201) that opens a
 * (decrypted) RTCP compound packet: what the party says about the stream
 * it receives (loss, jitter) for queries (NG query, SPEC 8). */
static inline void rr_take(struct dp_rr *c, const uint8_t *pl, uint32_t len)
{
	unsigned off;

	if (len < 8 || (pl[0] & 0x1f) == 0)
		return;
	off = pl[1] == 200 ? 28u : pl[1] == 201 ? 8u : 0u;
	if (off == 0 || len < off + 24)
		return;
	c->ssrc = rte_be_to_cpu_32(load32(pl + off));
	c->lost = rte_be_to_cpu_32(load32(pl + off + 4));
	c->jitter = rte_be_to_cpu_32(load32(pl + off + 12));
}

/* Jobs that passed decryption: the source policy's verdict for good (earlier
 * packets of the burst may have taught the leg its source), learning,
 * counters, forks, block, TDM, and whether the other leg has a destination. */
static inline void stage_accept(struct dp_worker *w, struct job *jobs, unsigned nj, uint64_t now)
{
	for (unsigned i = 0; i < nj; i++) {
		struct job *j = &jobs[i];

		if (!j->ok)
			continue;
		struct dp_session_rt *s = j->s;
		struct dp_leg_rt *l = &s->leg[j->leg];
		struct dp_leg_rt *o = &s->leg[j->leg ^ 1];
		struct dp_sess_stats *st = s->stats;
		struct rte_mbuf *m = j->m;
		const uint8_t *pl = rte_pktmbuf_mtod(m, const uint8_t *);
		/* again, now that the packet is valid (authenticated) and earlier
		 * packets of this burst may have taught the leg its source */
		enum src_verdict v = src_check(s, j->leg, j->src_ip, j->src_port, j->rtcp, now);

		if (unlikely(v == SRC_DROP)) {
			sess_drop_rx(w, st, j->leg, MG_DROP_SOURCE_MISMATCH);
			rte_pktmbuf_free(m);
			if (j->raw != NULL) {
				rte_pktmbuf_free(j->raw);
				j->raw = NULL;
			}
			j->ok = 0;
			continue;
		}
		if (v == SRC_LEARN)
			src_learn(l, l->src, j->src_ip, j->src_port, j->rtcp, now);
		else
			l->src->last_tsc = now;
		st->rx[j->leg].packets++;
		st->rx[j->leg].bytes += m->pkt_len;
		st->rx[j->leg].rtcp_packets += j->rtcp;
		if (j->rtcp)
			rr_take(&st->rr[j->leg], pl, m->data_len);
		if (!j->rtcp) /* as on tx: RTCP must not hide the stream's ROC from stats */
			st->last_ssrc[j->leg][0] = load32(pl + 8);
		if (unlikely(j->cap != NULL) && (j->cap->flags & MG_CAPTURE_F_DECRYPTED) &&
		    l->rx_ctx != NULL)
			dp_capture_pkt(j->cap, m, j->hdr_len, dp_ports[m->port].port_id,
				       DP_CAPTURE_DECRYPTED, now);
		for (unsigned f = 0; f < s->n_forks; f++) {
			const struct dp_fork *fk = &s->cold->forks[f];

			if (fk->leg != j->leg || (j->rtcp && !fk->rtcp))
				continue;
			if (fk->raw && j->raw != NULL) {
				fork_send(w, s, fk, j->raw, j->rtcp, false);
			} else if (fk->raw && l->rx_ctx != NULL) {
				/* stage 2 could not copy the SRTP packet (no mbuf): m is
				 * decrypted now, and a raw fork must never get plaintext */
				s->stats->forks->fork[fk->slot].drops++;
				w->net.drops[DP_NET_DROP_NO_MBUF]++;
			} else if (fk->raw) {
				fork_send(w, s, fk, m, j->rtcp, false); /* plain leg: m is as received */
			} else {
				fork_send(w, s, fk, m, j->rtcp, o->tx_ctx == NULL);
			}
		}
		if (j->raw != NULL) {
			rte_pktmbuf_free(j->raw);
			j->raw = NULL;
		}
		/* blocked (NG block media): received, counted, forked, not sent on */
		if (unlikely(l->block)) {
			sess_drop_rx(w, st, j->leg, MG_DROP_BLOCKED);
			rte_pktmbuf_free(m);
			j->ok = 0;
			continue;
		}
		/* a leg carrying a TDM channel (marked by TDM_BIND): the RTP goes
		 * to the TDM thread; other legs never look the binding up */
		if (unlikely(l->tdm) && dp_tdm_take(s->id, j->leg, j->rtcp, m)) {
			j->ok = 0;
			continue;
		}
		if (unlikely(o->src->ip == 0 || (j->rtcp ? o->src->rtcp_port : o->src->rtp_port) == 0)) {
			sess_drop_tx(w, st, j->leg ^ 1, MG_DROP_UNKNOWN_DEST);
			rte_pktmbuf_free(m);
			j->ok = 0;
		}
	}
}

#endif
