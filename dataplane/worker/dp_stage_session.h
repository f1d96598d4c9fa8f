/* SPDX-License-Identifier: BSD-3-Clause */
/* Stage 2: from endpoint to session, owner and first source check. */
#ifndef DP_STAGE_SESSION_H
#define DP_STAGE_SESSION_H

#include <rte_hash.h>
#include <rte_prefetch.h>

#include "dp_src.h"
#include "mg_rtp.h"

/* RTP/RTCP sanity beyond what SRTP checks: version, CSRC list, extension. */
static inline bool media_ok(const uint8_t *p, uint16_t len, bool rtcp)
{
	if (rtcp)
		return len >= 8 && (p[0] >> 6) == 2;
	return len >= 12 && (p[0] >> 6) == 2 && mg_rtp_hdr_len(p, len) != 0;
}

/* Sessions of the @p nj jobs (one bulk lookup), hand-off of what another
 * worker owns, RTP/RTCP sanity, the first source check (no decryption is
 * spent on a packet that can never be accepted), the copy a raw fork of a
 * decrypting leg needs. Returns the jobs left, compacted. */
static inline unsigned stage_session(struct dp_worker *w, struct job *jobs, const void **kp,
				     unsigned nj, uint64_t now)
{
	void *data[BURST];
	uint64_t hits = 0;

	rte_hash_lookup_bulk_data(dp_ep_hash, kp, nj, &hits, data);
	/* with many sessions each one is a cache miss: start them all now */
	for (unsigned i = 0; i < nj; i++) {
		if (hits & (1ull << i)) {
			const struct dp_session_rt *ps =
				(const struct dp_session_rt *)((uintptr_t)data[i] & DP_EP_PTR_MASK);

			for (unsigned c = 0; c < sizeof(*ps); c += RTE_CACHE_LINE_SIZE)
				rte_prefetch0((const uint8_t *)ps + c);
		}
	}
	unsigned out = 0;

	for (unsigned i = 0; i < nj; i++) {
		struct job *j = &jobs[i];
		struct rte_mbuf *m = j->m;

		if (!(hits & (1ull << i))) {
			net_drop(w, m, DP_NET_DROP_NO_SESSION);
			continue;
		}
		uintptr_t d = (uintptr_t)data[i];
		struct dp_session_rt *s = (struct dp_session_rt *)(d & DP_EP_PTR_MASK);

		if (s->owner != w->idx) {
			/* restore the frame: the owner classifies it from scratch */
			rte_pktmbuf_prepend(m, j->hdr_len);
			if (rte_ring_mp_enqueue(dp_workers[s->owner]->handoff, m) != 0)
				net_drop(w, m, DP_NET_DROP_HANDOFF_FULL);
			else
				w->handoffs++;
			continue;
		}
		if (m->pkt_len > j->udp_pl)
			rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - j->udp_pl));
		/* capture: as received, before any verdict on it */
		j->cap = dp_capture_of(s->id);
		if (unlikely(j->cap != NULL))
			dp_capture_pkt(j->cap, m, j->hdr_len, dp_ports[m->port].port_id,
				       DP_CAPTURE_IN, now);
		unsigned leg = d & DP_EP_LEG_MASK;
		struct dp_leg_rt *l = &s->leg[leg];
		const uint8_t *pl = rte_pktmbuf_mtod(m, const uint8_t *);
		uint16_t len = (uint16_t)m->data_len;
		bool rtcp = (d & DP_EP_RTCP) != 0;

		if (l->mux && len >= 2 && (pl[1] & 0x7f) >= 64 && (pl[1] & 0x7f) <= 95)
			rtcp = true; /* RFC 5761 demultiplexing */
		if (unlikely(m->nb_segs != 1 || !media_ok(pl, len, rtcp))) {
			sess_drop_rx(w, s->stats, leg, MG_DROP_MALFORMED);
			rte_pktmbuf_free(m);
			continue;
		}
		if (unlikely(src_check(s, leg, j->src_ip, j->src_port, rtcp, now) == SRC_DROP)) {
			sess_drop_rx(w, s->stats, leg, MG_DROP_SOURCE_MISMATCH);
			rte_pktmbuf_free(m);
			continue;
		}
		rte_prefetch0(&s->stats->rx[leg]);
		rte_prefetch0(&s->stats->tx[leg ^ 1]);
		rte_prefetch0(s->leg[leg ^ 1].src);
		/* all of a context: stage 3 reads every line of it (SSRC state,
		 * per-packet fields, round keys, HMAC states, lifetime) */
		if (l->rx_ctx != NULL)
			for (unsigned c = 0; c < MG_SRTP_CTX_PACKET_BYTES; c += RTE_CACHE_LINE_SIZE)
				rte_prefetch0((const uint8_t *)l->rx_ctx + c);
		if (s->leg[leg ^ 1].tx_ctx != NULL)
			for (unsigned c = 0; c < MG_SRTP_CTX_PACKET_BYTES; c += RTE_CACHE_LINE_SIZE)
				rte_prefetch0((const uint8_t *)s->leg[leg ^ 1].tx_ctx + c);
		j->s = s;
		j->leg = (uint8_t)leg;
		j->rtcp = rtcp;
		j->ok = 1;
		/* a raw fork of an encrypted leg that takes this packet (stage 4's
		 * test) needs it as received, before decryption; the hot flags
		 * say so without the cold part */
		if (unlikely(s->raw_fork[leg] & (rtcp ? DP_RAW_RTCP : DP_RAW_RTP)) && l->rx_ctx != NULL)
			j->raw = rte_pktmbuf_copy(m, dp_pktmbuf_pool, 0, UINT32_MAX);
		jobs[out++] = *j;
	}
	return out;
}

#endif
