/* SPDX-License-Identifier: BSD-3-Clause */
/* Source policy of a leg (SPEC 5 and 12): strict, latch, media-handover,
 * the TDM side. Read in stages 2 and 4; learning written in stage 4 only. */
#ifndef DP_SRC_H
#define DP_SRC_H

#include <rte_byteorder.h>

#include "dp_worker_rt.h"

/* RTCP port that goes with an RTP port (network order): the same with rtcp-mux,
 * else port + 1; 0 (no port) after 65535 */
static inline uint16_t rtcp_port_of(const struct dp_leg_rt *l, uint16_t rtp_port)
{
	uint16_t p = rte_be_to_cpu_16(rtp_port);

	if (l->mux)
		return rtp_port;
	return p == 65535 ? 0 : rte_cpu_to_be_16((uint16_t)(p + 1));
}

/*
 * Source policy (SPEC 5 and 12): which source a leg accepts a packet from.
 * Called twice per packet: in stage 2, before decryption, to drop what can
 * never be accepted without spending a decryption on it; and in stage 4,
 * once the packet is known valid (authenticated on an SRTP leg, a well-formed
 * RTP/RTCP packet on a plain one) and earlier packets of the same burst may
 * have taught the leg its source, to decide for good. SRC_LEARN means "accept
 * and learn (or move to) this source": stage 2 lets such a packet on, stage 4
 * learns with src_learn().
 */
enum src_verdict { SRC_DROP, SRC_OK, SRC_LEARN };

/* Strict: RTP and RTCP only from the addresses and ports of the SDP. RTCP's
 * port is the remote's RTCP port (explicit a=rtcp, else RTP port + 1, or the
 * RTP port with rtcp-mux; once a source won, the one learned with it); an
 * RFC 3960 candidate's is its port + 1 (the same with mux). */
static inline enum src_verdict src_strict(const struct dp_leg_rt *l, const struct dp_leg_cold *lc,
					  const struct dp_src_rt *r, uint32_t ip, uint16_t port,
					  bool rtcp)
{
	if (r->flags & DP_SRC_RTP)
		return ip == r->ip && (rtcp ? port == r->rtcp_port && port != 0 : port == r->rtp_port)
			       ? SRC_OK : SRC_DROP;
	for (unsigned c = 0; c < l->n_cand; c++) {
		uint16_t want;

		if (ip != lc->cand_ip[c])
			continue;
		if (!rtcp) {
			want = lc->cand_port[c];
		} else if (c == 0 && l->remote_ip != 0) {
			/* candidate 0 is the SDP remote itself: its RTCP port is
			 * known (explicit or derived when the session was built) */
			want = l->remote_rtcp_port;
		} else {
			want = rtcp_port_of(l, lc->cand_port[c]);
		}
		if (port == want && want != 0)
			return rtcp ? SRC_OK : SRC_LEARN; /* the first RTP wins */
	}
	return SRC_DROP;
}

/*
 * Latch: the first valid packet teaches the leg its source, RTP or RTCP:
 *  - RTP: the address and RTP port; RTCP is then accepted from that address
 *    only, on the RTP port with rtcp-mux, else on the port the first valid
 *    RTCP packet from that address comes from (NATs do not always map RTP
 *    port + 1 to the mapped RTP port + 1), and only that port from then on;
 *    until that packet, RTCP is sent to RTP port + 1 (or the SDP's a=rtcp
 *    when the source is the SDP's remote).
 *  - RTCP first: the address and the RTCP port (with mux, the RTP port too);
 *    the first valid RTP from that address then gives the RTP port.
 * Only RTP moves a learned source, and only with media-handover: on an SRTP
 * leg to any source whose packet authenticated (stage 2 lets it through to
 * decryption, where a forgery fails as `auth`), on a plain leg to any source
 * once the current one was silent for dp_src_silence_tsc.
 */
static inline enum src_verdict src_move(const struct dp_leg_rt *l, const struct dp_src_rt *r,
					uint64_t now)
{
	if (!l->handover)
		return SRC_DROP;
	if (l->rx_ctx != NULL)
		return SRC_LEARN; /* if, and only if, it authenticates */
	return now - r->last_tsc >= dp_src_silence_tsc ? SRC_LEARN : SRC_DROP;
}

static inline enum src_verdict src_latch(const struct dp_leg_rt *l, const struct dp_src_rt *r,
					 uint32_t ip, uint16_t port, bool rtcp, uint64_t now)
{
	if (r->flags == 0)
		return SRC_LEARN;
	if (rtcp) {
		if (ip != r->ip)
			return SRC_DROP;
		if (r->flags & DP_SRC_RTCP) /* always so with mux */
			return port == r->rtcp_port ? SRC_OK : SRC_DROP;
		return SRC_LEARN;
	}
	if (ip == r->ip && !(r->flags & DP_SRC_RTP))
		return SRC_LEARN; /* RTCP came first: this gives the RTP port */
	if (ip == r->ip && port == r->rtp_port)
		return SRC_OK;
	return src_move(l, r, now);
}

static inline enum src_verdict src_check(const struct dp_session_rt *s, unsigned leg, uint32_t ip,
					 uint16_t port, bool rtcp, uint64_t now)
{
	const struct dp_leg_rt *l = &s->leg[leg];

	/* the TDM side of a bound channel (the other leg carries it): only what
	 * the TDM thread injects, framed from this leg's own address and port
	 * (stage 1 drops whatever a NIC delivers from one of our addresses) */
	if (unlikely(s->leg[leg ^ 1].tdm))
		return ip == l->local_ip && port == (rtcp ? l->local_rtcp_port : l->local_port)
			       ? SRC_OK : SRC_DROP;
	/* strict reads the cold part's candidates only until a source won */
	if (l->policy == MG_SOURCE_STRICT)
		return src_strict(l, &s->cold->leg[leg], l->src, ip, port, rtcp);
	return src_latch(l, l->src, ip, port, rtcp, now);
}

/* Stage 4, owner worker: accept @p ip:@p port as the leg's source (SRC_LEARN). */
static inline void src_learn(const struct dp_leg_rt *l, struct dp_src_rt *r, uint32_t ip,
			     uint16_t port, bool rtcp, uint64_t now)
{
	uint16_t sp = rte_be_to_cpu_16(port);

	if (r->flags != 0 && (ip != r->ip || (!rtcp && (r->flags & DP_SRC_RTP) &&
					      port != r->rtp_port))) {
		/* media-handover: what was learned with the old source goes */
		r->flags = 0;
		r->handovers++;
	}
	if (rtcp && !l->mux) {
		/* RTCP first from another address than the SDP's: RTP is sent
		 * to the port below it until RTP from there tells better */
		if (!(r->flags & DP_SRC_RTP) && ip != r->ip)
			r->rtp_port = sp > 0 ? rte_cpu_to_be_16((uint16_t)(sp - 1)) : 0;
		r->ip = ip;
		r->rtcp_port = port;
		r->flags |= DP_SRC_RTCP;
		r->last_tsc = now;
		return;
	}
	if (!(r->flags & DP_SRC_RTCP) && (ip != r->ip || port != r->rtp_port)) {
		/* RTP from 65535 has no RTCP port after it: keep the one we had
		 * (explicit a=rtcp, or 0 = unknown, not sent to); a strict leg's
		 * winner is a candidate whose RTCP port is its port + 1, so it
		 * has none (RTCP from it is dropped). The SDP's remote itself
		 * keeps its RTCP port (explicit a=rtcp). */
		if (l->mux)
			r->rtcp_port = port;
		else if (sp != 65535)
			r->rtcp_port = rte_cpu_to_be_16((uint16_t)(sp + 1));
		else if (l->policy == MG_SOURCE_STRICT)
			r->rtcp_port = 0;
	}
	r->ip = ip;
	r->rtp_port = port;
	r->flags |= DP_SRC_RTP | (l->mux ? DP_SRC_RTCP : 0);
	r->last_tsc = now;
}

#endif
