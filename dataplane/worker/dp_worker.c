/* SPDX-License-Identifier: BSD-3-Clause */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dp_capture.h"
#include "dp_ctl.h"
#include "dp_net.h"
#include "dp_port.h"
#include "dp_session.h"
#include "dp_tdm.h"
#include "dp_worker.h"
#include "mg_log.h"
#include "mg_rtp.h"
#include "mg_srtp.h"

#define BURST 32
#define TXB_MAX (BURST * 2)
#define RING_SIZE 4096
#define DRAIN_US 100
#define IDLE_POLLS_BEFORE_SLEEP 4

struct txbuf {
	uint16_t n;
	struct rte_mbuf *m[TXB_MAX];
	uint64_t *drop_ctr[TXB_MAX]; /* per-leg tx_full counter, or NULL */
};

struct dp_worker {
	unsigned idx;
	unsigned lcore;
	struct rte_ring *handoff; /* other workers -> this one */
	struct rte_ring *main_tx; /* main lcore -> this one (worker 0 only) */
	struct mg_srtp_engine *eng;
	uint64_t packets, busy_tsc, polls, idle_polls, handoffs, preempted;
	struct dp_net_stats net;
	struct txbuf tx[DP_MAX_PORTS];
} __rte_cache_aligned;

static struct dp_worker *workers[DP_MAX_WORKERS];
static unsigned n_workers;
static unsigned n_launched;
static struct rte_ring *slow_ring; /* workers -> main: ARP, unresolved next hops */
static unsigned idle_sleep_us;
static volatile int quit;
static uint64_t drain_tsc;
static uint64_t preempt_tsc;
static uint64_t start_tsc; /* dataplane up: DP_STATS uptime counts from here */
/* media-handover on a plain leg: how long the learned source must have been
 * silent before another may take its place (mediagate.media.handoverSilenceMs) */
static uint64_t src_silence_tsc;

/* One UDP packet addressed to a session endpoint, through the stages. */
struct job {
	struct rte_mbuf *m;
	struct dp_session *s;
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

/* ----------------------------------------------------------------- tx */

static void tx_flush(struct dp_worker *w, unsigned p)
{
	struct txbuf *b = &w->tx[p];
	uint16_t sent;

	if (b->n == 0)
		return;
	sent = rte_eth_tx_burst(dp_ports[p].port_id, (uint16_t)w->idx, b->m, b->n);
	w->net.tx_pkts += sent;
	for (uint16_t i = sent; i < b->n; i++) {
		w->net.drops[DP_NET_DROP_TX_FULL]++;
		if (b->drop_ctr[i] != NULL)
			(*b->drop_ctr[i])++;
		rte_pktmbuf_free(b->m[i]);
	}
	b->n = 0;
}

static inline void tx_enqueue(struct dp_worker *w, unsigned p, struct rte_mbuf *m, uint64_t *ctr)
{
	struct txbuf *b = &w->tx[p];

	b->m[b->n] = m;
	b->drop_ctr[b->n] = ctr;
	if (++b->n >= BURST)
		tx_flush(w, p);
}

/*
 * Send a built Eth/IPv4/UDP packet to @p dip on port @p p: neighbour lookup,
 * or hand it to the main lcore to wait for ARP. @p ctr: per-leg counters'
 * drops[] to charge on failure (may be NULL).
 */
static inline void tx_ip(struct dp_worker *w, unsigned p, struct rte_mbuf *m, uint32_t dip,
			 uint64_t *drops, struct dp_capture_slot *cap)
{
	uint32_t nh = dp_net_nexthop((uint16_t)p, dip);
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (unlikely(nh == 0)) {
		w->net.drops[DP_NET_DROP_NO_ROUTE]++;
		if (drops != NULL)
			drops[MG_DROP_NO_NEIGHBOUR]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (likely(dp_neigh_lookup((uint16_t)p, nh, &eh->dst_addr))) {
		if (unlikely(cap != NULL)) /* as it leaves: the next hop's MAC is in */
			dp_capture_pkt(cap, m, 0, dp_ports[p].port_id, DP_CAPTURE_OUT, rte_rdtsc());
		tx_enqueue(w, p, m, drops != NULL ? &drops[MG_DROP_TX_FULL] : NULL);
		return;
	}
	m->port = (uint16_t)p;
	m->hash.usr = nh;
	if (rte_ring_mp_enqueue(slow_ring, m) != 0) {
		w->net.drops[DP_NET_DROP_SLOW_RING_FULL]++;
		if (drops != NULL)
			drops[MG_DROP_NO_NEIGHBOUR]++;
		rte_pktmbuf_free(m);
	}
}

/* ------------------------------------------------------------ classify */

static inline void net_drop(struct dp_worker *w, struct rte_mbuf *m, enum dp_net_drop r)
{
	w->net.drops[r]++;
	rte_pktmbuf_free(m);
}

static inline uint8_t srtp_to_drop(uint8_t r)
{
	switch (r) {
	case MG_SRTP_AUTH_FAIL:
		return MG_DROP_AUTH;
	case MG_SRTP_REPLAY:
		return MG_DROP_REPLAY;
	case MG_SRTP_LIFETIME:
		return MG_DROP_KEY_EXPIRED;
	case MG_SRTP_UNKNOWN_MKI:
		return MG_DROP_MKI;
	case MG_SRTP_TOO_SHORT:
	case MG_SRTP_BAD_VERSION:
	case MG_SRTP_MALFORMED:
		return MG_DROP_MALFORMED;
	default:
		return MG_DROP_OTHER;
	}
}

/* 4 bytes at any alignment (the RTP header follows 42 bytes of headers): one
 * load on x86, and no undefined behaviour */
static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* RTP/RTCP sanity beyond what SRTP checks: version, CSRC list, extension. */
static inline bool media_ok(const uint8_t *p, uint16_t len, bool rtcp)
{
	if (rtcp)
		return len >= 8 && (p[0] >> 6) == 2;
	return len >= 12 && (p[0] >> 6) == 2 && mg_rtp_hdr_len(p, len) != 0;
}

/* RTCP port that goes with an RTP port (network order): the same with rtcp-mux,
 * else port + 1; 0 (no port) after 65535 */
static inline uint16_t rtcp_port_of(const struct dp_leg *l, uint16_t rtp_port)
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
static inline enum src_verdict src_strict(const struct dp_leg *l, const struct dp_src_rt *r,
					  uint32_t ip, uint16_t port, bool rtcp)
{
	if (r->flags & DP_SRC_RTP)
		return ip == r->ip && (rtcp ? port == r->rtcp_port && port != 0 : port == r->rtp_port)
			       ? SRC_OK : SRC_DROP;
	for (unsigned c = 0; c < l->n_cand; c++) {
		uint16_t want;

		if (ip != l->cand_ip[c])
			continue;
		if (!rtcp) {
			want = l->cand_port[c];
		} else if (c == 0 && l->remote_ip != 0) {
			/* candidate 0 is the SDP remote itself: its RTCP port is
			 * known (explicit or derived when the session was built) */
			want = l->remote_rtcp_port;
		} else {
			want = rtcp_port_of(l, l->cand_port[c]);
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
 * once the current one was silent for src_silence_tsc.
 */
static inline enum src_verdict src_move(const struct dp_leg *l, const struct dp_src_rt *r,
					uint64_t now)
{
	if (!l->handover)
		return SRC_DROP;
	if (l->rx_ctx != NULL)
		return SRC_LEARN; /* if, and only if, it authenticates */
	return now - r->last_tsc >= src_silence_tsc ? SRC_LEARN : SRC_DROP;
}

static inline enum src_verdict src_latch(const struct dp_leg *l, const struct dp_src_rt *r,
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

static inline enum src_verdict src_check(const struct dp_session *s, unsigned leg, uint32_t ip,
					 uint16_t port, bool rtcp, uint64_t now)
{
	const struct dp_leg *l = &s->leg[leg];

	/* the TDM side of a bound channel (the other leg carries it): only what
	 * the TDM thread injects, framed from this leg's own address and port
	 * (stage 1 drops whatever a NIC delivers from one of our addresses) */
	if (unlikely(s->leg[leg ^ 1].tdm))
		return ip == l->local_ip && port == (rtcp ? l->local_rtcp_port : l->local_port)
			       ? SRC_OK : SRC_DROP;
	if (l->policy == MG_SOURCE_STRICT)
		return src_strict(l, l->src, ip, port, rtcp);
	return src_latch(l, l->src, ip, port, rtcp, now);
}

/* Stage 4, owner worker: accept @p ip:@p port as the leg's source (SRC_LEARN). */
static inline void src_learn(const struct dp_leg *l, struct dp_src_rt *r, uint32_t ip,
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

/* ---------------------------------------------------------------- forks */

static void fork_send(struct dp_worker *w, struct dp_session *s, const struct dp_fork *f,
		      struct rte_mbuf *m, bool rtcp, bool may_clone)
{
	struct dp_fork_ctr *c = &s->stats->fork[f->slot];
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
	tx_ip(w, f->port_idx, out, f->remote_ip, NULL, NULL);
}

/* --------------------------------------------------------------- stages */

typedef unsigned (*srtp_multi_fn)(struct mg_srtp_engine *, struct mg_srtp_ctx *const *,
				  struct mg_srtp_buf *, uint8_t *, unsigned);

/*
 * One SRTP pass over the jobs that need it, in at most two engine calls (RTP
 * and RTCP): the _multi calls take one context per packet, so packets of
 * different sessions fill the multi-buffer lanes together. Packets of one
 * context keep their order.
 */
static void srtp_stage(struct dp_worker *w, struct job *jobs, unsigned nj, bool outbound)
{
	struct mg_srtp_ctx *ctxs[BURST];
	struct mg_srtp_buf bufs[BURST];
	uint8_t res[BURST];
	unsigned idx[BURST];

	for (unsigned rtcp = 0; rtcp < 2; rtcp++) {
		unsigned n = 0;

		for (unsigned k = 0; k < nj; k++) {
			struct job *j = &jobs[k];
			struct mg_srtp_ctx *c;

			if (!j->ok || j->rtcp != rtcp)
				continue;
			c = outbound ? j->s->leg[j->leg ^ 1].tx_ctx : j->s->leg[j->leg].rx_ctx;
			if (c == NULL)
				continue;
			struct rte_mbuf *m = j->m;

			ctxs[n] = c;
			bufs[n].buf = rte_pktmbuf_mtod(m, uint8_t *);
			bufs[n].len = (uint16_t)m->data_len;
			bufs[n].cap = (uint16_t)(m->data_len + rte_pktmbuf_tailroom(m));
			idx[n++] = k;
		}
		if (n == 0)
			continue;
		srtp_multi_fn fn = outbound ? (rtcp ? mg_srtp_protect_rtcp_burst_multi
						    : mg_srtp_protect_burst_multi)
					    : (rtcp ? mg_srtp_unprotect_rtcp_burst_multi
						    : mg_srtp_unprotect_burst_multi);
		fn(w->eng, ctxs, bufs, res, n);
		for (unsigned q = 0; q < n; q++) {
			struct job *jq = &jobs[idx[q]];
			struct rte_mbuf *m = jq->m;

			if (res[q] != MG_SRTP_OK) {
				struct dp_dir_ctr *c = outbound ? &jq->s->stats->dir[jq->leg ^ 1][1]
								: &jq->s->stats->dir[jq->leg][0];
				c->drops[srtp_to_drop(res[q])]++;
				jq->ok = 0;
				rte_pktmbuf_free(m);
				if (jq->raw != NULL) {
					rte_pktmbuf_free(jq->raw);
					jq->raw = NULL;
				}
				continue;
			}
			/* the engine worked in place; tell the mbuf the new length */
			m->data_len = bufs[q].len;
			m->pkt_len = bufs[q].len;
		}
	}
}

/*
 * @p from_nic: the packets come from a NIC queue (not a hand-off ring, which
 * carries what other workers already passed through stage 1, and what the TDM
 * thread injects from our own addresses).
 */
/* The first report block of an SR (PT 200) or RR (PT 201) that opens a
 * (decrypted) RTCP compound packet: what the party says about the stream
 * it receives (loss, jitter) for queries (NG query, SPEC 8). */
static inline void rr_take(struct dp_dir_ctr *c, const uint8_t *pl, uint32_t len)
{
	unsigned off;

	if (len < 8 || (pl[0] & 0x1f) == 0)
		return;
	off = pl[1] == 200 ? 28u : pl[1] == 201 ? 8u : 0u;
	if (off == 0 || len < off + 24)
		return;
	c->rr_ssrc = rte_be_to_cpu_32(load32(pl + off));
	c->rr_lost = rte_be_to_cpu_32(load32(pl + off + 4));
	c->rr_jitter = rte_be_to_cpu_32(load32(pl + off + 12));
}

static void process(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n, bool from_nic)
{
	struct job jobs[BURST];
	struct dp_ep_key keys[BURST];
	const void *kp[BURST];
	void *data[BURST];
	uint64_t hits = 0;
	uint64_t now = rte_rdtsc();
	unsigned nj = 0;

	/* 1: Ethernet/IPv4/UDP; everything that is not session media leaves here */
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned p = m->port;
		const struct dp_port *pt = &dp_ports[p];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (unlikely(m->data_len < RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr))) {
			net_drop(w, m, DP_NET_DROP_RUNT);
			continue;
		}
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

		if (unlikely(!rte_is_same_ether_addr(&eh->dst_addr, &pt->mac) &&
			     !rte_is_broadcast_ether_addr(&eh->dst_addr))) {
			net_drop(w, m, DP_NET_DROP_NOT_OUR_MAC);
			continue;
		}
		if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
			if (rte_ring_mp_enqueue(slow_ring, m) != 0)
				net_drop(w, m, DP_NET_DROP_SLOW_RING_FULL);
			continue;
		}
		if (unlikely(eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))) {
			net_drop(w, m, eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)
					       ? DP_NET_DROP_IPV6 : DP_NET_DROP_ETHERTYPE);
			continue;
		}
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
		uint16_t ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
		uint16_t tot = rte_be_to_cpu_16(ip->total_length);

		if (unlikely((ip->version_ihl >> 4) != 4 || ihl < 20 ||
			     m->data_len < RTE_ETHER_HDR_LEN + ihl || tot < ihl ||
			     m->pkt_len < (uint32_t)RTE_ETHER_HDR_LEN + tot)) {
			net_drop(w, m, DP_NET_DROP_IP_MALFORMED);
			continue;
		}
		if (unlikely(rte_raw_cksum(ip, ihl) != 0xffff)) {
			net_drop(w, m, DP_NET_DROP_IP_CHECKSUM);
			continue;
		}
		if (unlikely(ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
								    RTE_IPV4_HDR_OFFSET_MASK))) {
			net_drop(w, m, DP_NET_DROP_IP_FRAGMENT);
			continue;
		}
		if (unlikely(!dp_port_owns(p, ip->dst_addr))) {
			net_drop(w, m, DP_NET_DROP_IP_NOT_OURS);
			continue;
		}
		/* nothing on the wire comes from us: a spoofed source of ours
		 * would pass as the TDM thread's own packets (src_check()) */
		if (unlikely(from_nic && dp_port_by_addr(ip->src_addr) >= 0)) {
			net_drop(w, m, DP_NET_DROP_SRC_OURS);
			continue;
		}
		if (ip->next_proto_id == IPPROTO_ICMP) {
			if (dp_net_icmp_echo_reply(m, RTE_ETHER_HDR_LEN)) {
				w->net.icmp_echo_replies++;
				tx_enqueue(w, p, m, NULL);
			} else {
				net_drop(w, m, DP_NET_DROP_ICMP_OTHER);
			}
			continue;
		}
		if (unlikely(ip->next_proto_id != IPPROTO_UDP)) {
			net_drop(w, m, DP_NET_DROP_IP_PROTO);
			continue;
		}
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
		uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);

		/* the UDP checksum is not verified: veth hands over partial ones */
		if (unlikely(tot < ihl + sizeof(*udp) || ulen < sizeof(*udp) || ulen > tot - ihl ||
			     m->data_len < RTE_ETHER_HDR_LEN + ihl + sizeof(*udp))) {
			net_drop(w, m, DP_NET_DROP_UDP_MALFORMED);
			continue;
		}
		keys[nj] = (struct dp_ep_key){ ip->dst_addr, udp->dst_port, 0 };
		kp[nj] = &keys[nj];
		struct job *j = &jobs[nj++];

		j->m = m;
		j->src_ip = ip->src_addr;
		j->src_port = udp->src_port;
		j->raw = NULL;
		j->hdr_len = (uint16_t)(RTE_ETHER_HDR_LEN + ihl + sizeof(*udp));
		j->udp_pl = (uint16_t)(ulen - sizeof(*udp));
		/* from here on the mbuf starts at the UDP payload; it is trimmed to
		 * the UDP length only once this worker owns the session, so that a
		 * hand-off restores the frame as received and the owner's checks
		 * (this same code) reach the same verdict */
		rte_pktmbuf_adj(m, j->hdr_len);
	}
	if (nj == 0)
		return;

	/* 2: sessions, owner, source policy, RTP/RTCP sanity */
	rte_hash_lookup_bulk_data(dp_ep_hash, kp, nj, &hits, data);
	/* with many sessions each one is a cache miss: start them all now */
	for (unsigned i = 0; i < nj; i++) {
		if (hits & (1ull << i)) {
			const struct dp_session *ps =
				(const struct dp_session *)((uintptr_t)data[i] & DP_EP_PTR_MASK);

			rte_prefetch0(ps);
			rte_prefetch0((const uint8_t *)ps + RTE_CACHE_LINE_SIZE);
			rte_prefetch0((const uint8_t *)ps + 2 * RTE_CACHE_LINE_SIZE);
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
		struct dp_session *s = (struct dp_session *)(d & DP_EP_PTR_MASK);

		if (s->owner != w->idx) {
			/* restore the frame: the owner classifies it from scratch */
			rte_pktmbuf_prepend(m, j->hdr_len);
			if (rte_ring_mp_enqueue(workers[s->owner]->handoff, m) != 0)
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
		struct dp_leg *l = &s->leg[leg];
		const uint8_t *pl = rte_pktmbuf_mtod(m, const uint8_t *);
		uint16_t len = (uint16_t)m->data_len;
		bool rtcp = (d & DP_EP_RTCP) != 0;

		if (l->mux && len >= 2 && (pl[1] & 0x7f) >= 64 && (pl[1] & 0x7f) <= 95)
			rtcp = true; /* RFC 5761 demultiplexing */
		struct dp_dir_ctr *rx = &s->stats->dir[leg][0];

		if (unlikely(m->nb_segs != 1 || !media_ok(pl, len, rtcp))) {
			rx->drops[MG_DROP_MALFORMED]++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (unlikely(src_check(s, leg, j->src_ip, j->src_port, rtcp, now) == SRC_DROP)) {
			rx->drops[MG_DROP_SOURCE_MISMATCH]++;
			rte_pktmbuf_free(m);
			continue;
		}
		rte_prefetch0(&s->stats->dir[leg][0]);
		rte_prefetch0(&s->stats->dir[leg ^ 1][1]);
		rte_prefetch0(s->leg[leg ^ 1].src);
		if (l->rx_ctx != NULL)
			rte_prefetch0(l->rx_ctx);
		if (s->leg[leg ^ 1].tx_ctx != NULL)
			rte_prefetch0(s->leg[leg ^ 1].tx_ctx);
		j->s = s;
		j->leg = (uint8_t)leg;
		j->rtcp = rtcp;
		j->ok = 1;
		/* a raw fork of an encrypted leg that takes this packet (stage 4's
		 * test) needs it as received, before decryption */
		for (unsigned f = 0; f < s->n_forks && l->rx_ctx != NULL; f++) {
			const struct dp_fork *fk = &s->forks[f];

			if (fk->raw && fk->leg == leg && (!rtcp || fk->rtcp)) {
				j->raw = rte_pktmbuf_copy(m, dp_pktmbuf_pool, 0, UINT32_MAX);
				break;
			}
		}
		jobs[out++] = *j;
	}
	nj = out;
	if (nj == 0)
		return;

	/* 3: decrypt, per context burst */
	srtp_stage(w, jobs, nj, false);

	/* 4: learn sources, count, forks, destination */
	for (unsigned i = 0; i < nj; i++) {
		struct job *j = &jobs[i];

		if (!j->ok)
			continue;
		struct dp_session *s = j->s;
		struct dp_leg *l = &s->leg[j->leg];
		struct dp_leg *o = &s->leg[j->leg ^ 1];
		struct dp_sess_stats *st = s->stats;
		struct rte_mbuf *m = j->m;
		const uint8_t *pl = rte_pktmbuf_mtod(m, const uint8_t *);
		/* again, now that the packet is valid (authenticated) and earlier
		 * packets of this burst may have taught the leg its source */
		enum src_verdict v = src_check(s, j->leg, j->src_ip, j->src_port, j->rtcp, now);

		if (unlikely(v == SRC_DROP)) {
			st->dir[j->leg][0].drops[MG_DROP_SOURCE_MISMATCH]++;
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
		st->dir[j->leg][0].packets++;
		st->dir[j->leg][0].bytes += m->pkt_len;
		st->dir[j->leg][0].rtcp_packets += j->rtcp;
		if (j->rtcp)
			rr_take(&st->dir[j->leg][0], pl, m->data_len);
		if (!j->rtcp) /* as on tx: RTCP must not hide the stream's ROC from stats */
			st->last_ssrc[j->leg][0] = load32(pl + 8);
		if (unlikely(j->cap != NULL) && (j->cap->flags & MG_CAPTURE_F_DECRYPTED) &&
		    l->rx_ctx != NULL)
			dp_capture_pkt(j->cap, m, j->hdr_len, dp_ports[m->port].port_id,
				       DP_CAPTURE_DECRYPTED, now);
		for (unsigned f = 0; f < s->n_forks; f++) {
			const struct dp_fork *fk = &s->forks[f];

			if (fk->leg != j->leg || (j->rtcp && !fk->rtcp))
				continue;
			if (fk->raw && j->raw != NULL) {
				fork_send(w, s, fk, j->raw, j->rtcp, false);
			} else if (fk->raw && l->rx_ctx != NULL) {
				/* stage 2 could not copy the SRTP packet (no mbuf): m is
				 * decrypted now, and a raw fork must never get plaintext */
				s->stats->fork[fk->slot].drops++;
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
			st->dir[j->leg][0].drops[MG_DROP_BLOCKED]++;
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
			st->dir[j->leg ^ 1][1].drops[MG_DROP_UNKNOWN_DEST]++;
			rte_pktmbuf_free(m);
			j->ok = 0;
		}
	}

	/* 5: encrypt toward the other leg */
	srtp_stage(w, jobs, nj, true);

	/* 6: headers, checksums, neighbour, tx */
	for (unsigned i = 0; i < nj; i++) {
		struct job *j = &jobs[i];

		if (!j->ok)
			continue;
		struct dp_session *s = j->s;
		struct dp_leg *o = &s->leg[j->leg ^ 1];
		struct dp_dir_ctr *tx = &s->stats->dir[j->leg ^ 1][1];
		struct rte_mbuf *m = j->m;
		uint16_t plen = (uint16_t)m->pkt_len;

		if (j->rtcp == 0)
			s->stats->last_ssrc[j->leg ^ 1][1] =
				load32(rte_pktmbuf_mtod(m, const uint8_t *) + 8);
		if (unlikely(rte_pktmbuf_prepend(m, DP_HDR_LEN) == NULL)) {
			tx->drops[MG_DROP_OTHER]++;
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
		tx_ip(w, o->port_idx, m, dst->ip, tx->drops, j->cap);
	}
}

/* ----------------------------------------------------------------- loop */

static int worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_mbuf *pkts[BURST];
	uint64_t last_drain = rte_rdtsc();
	unsigned empty = 0;

	/* short sleeps must stay short: default timer slack is 50 us */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	rte_rcu_qsbr_thread_register(dp_qsbr, w->idx);
	rte_rcu_qsbr_thread_online(dp_qsbr, w->idx);
	mg_log(MG_LOG_INFO, "worker %u on lcore %u: SRTP backend %s", w->idx, w->lcore,
	       mg_srtp_backend_name(mg_srtp_engine_backend(w->eng)));
	while (!quit && !dp_ctl_stopping()) {
		uint64_t t0 = rte_rdtsc();
		unsigned total = 0, n;

		for (unsigned p = 0; p < dp_n_ports; p++) {
			if (w->idx >= dp_ports[p].n_rxq)
				continue;
			n = rte_eth_rx_burst(dp_ports[p].port_id, (uint16_t)w->idx, pkts, BURST);
			if (n == 0)
				continue;
			for (unsigned i = 0; i < n; i++)
				pkts[i]->port = (uint16_t)p;
			w->net.rx_pkts += n;
			process(w, pkts, n, true);
			total += n;
		}
		n = rte_ring_sc_dequeue_burst(w->handoff, (void **)pkts, BURST, NULL);
		if (n > 0) {
			process(w, pkts, n, false);
			total += n;
		}
		if (w->main_tx != NULL) {
			n = rte_ring_sc_dequeue_burst(w->main_tx, (void **)pkts, BURST, NULL);
			for (unsigned i = 0; i < n; i++)
				tx_enqueue(w, pkts[i]->port, pkts[i], NULL);
			total += n;
		}
		uint64_t t1 = rte_rdtsc();

		if (t1 - last_drain > drain_tsc) {
			for (unsigned p = 0; p < dp_n_ports; p++)
				tx_flush(w, p);
			last_drain = t1 = rte_rdtsc();
		}
		w->polls++;
		rte_rcu_qsbr_quiescent(dp_qsbr, w->idx);
		if (total > 0) {
			w->packets += total;
			/*
			 * A loop that took longer than any burst can (100 us) was
			 * preempted: on a shared machine its wall time says nothing
			 * about our cost, so it is counted apart, not as busy time.
			 */
			if (t1 - t0 < preempt_tsc)
				w->busy_tsc += t1 - t0;
			else
				w->preempted++;
			empty = 0;
			continue;
		}
		w->idle_polls++;
		if (idle_sleep_us > 0 && ++empty >= IDLE_POLLS_BEFORE_SLEEP) {
			struct timespec ts = { 0, (long)idle_sleep_us * 1000 };

			for (unsigned p = 0; p < dp_n_ports; p++)
				tx_flush(w, p);
			nanosleep(&ts, NULL);
		}
	}
	for (unsigned p = 0; p < dp_n_ports; p++)
		tx_flush(w, p);
	rte_rcu_qsbr_thread_offline(dp_qsbr, w->idx);
	rte_rcu_qsbr_thread_unregister(dp_qsbr, w->idx);
	return 0;
}

/* ------------------------------------------------------------ main lcore */

void dp_worker_main_tx(struct rte_mbuf *m)
{
	if (rte_ring_sp_enqueue(workers[0]->main_tx, m) != 0) {
		dp_main_net_stats.drops[DP_NET_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

static void main_hook(void *arg)
{
	struct rte_mbuf *pkts[BURST];
	unsigned n;

	RTE_SET_USED(arg);
	while ((n = rte_ring_sc_dequeue_burst(slow_ring, (void **)pkts, BURST, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct rte_ether_hdr *eh = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);

			if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
				dp_net_arp_input(pkts[i]);
			else
				dp_neigh_hold(pkts[i]);
		}
	}
	dp_neigh_timer(rte_get_tsc_cycles());
	dp_session_reclaim();
}

int dp_dataplane_init(const struct mg_settings *s)
{
	unsigned lcores[DP_MAX_WORKERS];
	unsigned nl = 0;
	char name[32];
	int rc;

	if (s->worker_lcores[0] != '\0') {
		rc = dp_parse_lcores(s->worker_lcores, lcores, DP_MAX_WORKERS, &nl);
		if (rc < 0)
			return rc;
		for (unsigned i = 0; i < nl; i++) {
			if (!rte_lcore_is_enabled(lcores[i]) || lcores[i] == rte_get_main_lcore()) {
				mg_log(MG_LOG_ERR, "workerLcores: lcore %u is not a worker lcore "
				       "enabled in the EAL arguments (-l/--lcores; the first one is "
				       "the main lcore)", lcores[i]);
				return -EINVAL;
			}
		}
	} else {
		unsigned l;

		RTE_LCORE_FOREACH_WORKER(l) {
			if (nl < DP_MAX_WORKERS)
				lcores[nl++] = l;
		}
	}
	if (nl == 0) {
		mg_log(MG_LOG_ERR, "no worker lcore: give the EAL at least two lcores (-l 0,1)");
		return -EINVAL;
	}
	n_workers = nl;
	idle_sleep_us = s->idle_sleep_us;
	src_silence_tsc = rte_get_tsc_hz() / 1000 * s->media_handover_silence_ms;
	drain_tsc = rte_get_tsc_hz() / 1000000 * DRAIN_US;
	preempt_tsc = rte_get_tsc_hz() / 10000; /* 100 us */
	start_tsc = rte_get_tsc_cycles();

	rc = dp_port_init(s, n_workers);
	if (rc < 0)
		return rc;
	rc = dp_neigh_init(dp_n_ports);
	if (rc < 0)
		return rc;
	rc = dp_session_init(s->max_sessions, n_workers, s->media_port_min, s->media_port_max);
	if (rc < 0)
		return rc;
	slow_ring = rte_ring_create("dp_slow", RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (slow_ring == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n_workers; i++) {
		struct dp_worker *w = rte_zmalloc("dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);

		if (w == NULL)
			return -ENOMEM;
		w->idx = i;
		w->lcore = lcores[i];
		snprintf(name, sizeof(name), "dp_handoff%u", i);
		w->handoff = rte_ring_create(name, RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
		if (i == 0) {
			w->main_tx = rte_ring_create("dp_main_tx", RING_SIZE, (int)rte_socket_id(),
						     RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (w->main_tx == NULL)
				return -ENOMEM;
		}
		w->eng = mg_srtp_engine_create(MG_SRTP_BACKEND_AUTO);
		if (w->handoff == NULL || w->eng == NULL) {
			mg_log(MG_LOG_ERR, "worker %u: %s", i, w->eng == NULL ?
			       "cannot create the SRTP engine" : "cannot create its ring");
			return -ENOMEM;
		}
		workers[i] = w;
	}
	dp_ctl_hook_add(main_hook, NULL);
	dp_ctl_set_counts(0, n_workers);
	rc = dp_capture_init(s);
	if (rc < 0)
		return rc;
	rc = dp_telemetry_register();
	if (rc < 0)
		mg_log(MG_LOG_WARN, "telemetry commands not registered: %s", strerror(-rc));
	for (unsigned i = 0; i < n_workers; i++) {
		rc = rte_eal_remote_launch(worker_main, workers[i], workers[i]->lcore);
		if (rc < 0) {
			mg_log(MG_LOG_ERR, "launch worker on lcore %u: %s", workers[i]->lcore,
			       strerror(-rc));
			return rc;
		}
		n_launched = i + 1;
	}
	mg_log(MG_LOG_INFO, "dataplane up: %u port(s), %u worker(s), idle sleep %u us", dp_n_ports,
	       n_workers, idle_sleep_us);
	return 0;
}

void dp_dataplane_fini(void)
{
	quit = 1;
	for (unsigned i = 0; i < n_launched; i++)
		rte_eal_wait_lcore(workers[i]->lcore);
	n_launched = 0;
	dp_capture_fini();
	dp_port_close();
}

/* ----------------------------------------------------------- statistics */

unsigned dp_worker_count(void)
{
	return n_workers;
}

void dp_worker_figures(unsigned idx, struct dp_worker_figures *f)
{
	const struct dp_worker *w = workers[idx];

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
	for (unsigned i = 0; i < n_workers; i++) {
		const struct dp_net_stats *n = &workers[i]->net;

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
	out->uptime_ns = (rte_get_tsc_cycles() - start_tsc) * 1000000000ull / out->tsc_hz;
	out->n_sessions = dp_session_count();
	out->n_workers = n_workers;
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
	for (unsigned i = 0; i < n_workers && i < MG_PROTO_MAX_WORKERS; i++) {
		out->workers[i].lcore = workers[i]->lcore;
		out->workers[i].packets = workers[i]->packets;
		out->workers[i].busy_tsc = workers[i]->busy_tsc;
		out->workers[i].polls = workers[i]->polls;
		out->workers[i].idle_polls = workers[i]->idle_polls;
	}
}
