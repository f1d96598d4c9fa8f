/* SPDX-License-Identifier: BSD-3-Clause */
/* Stage 1: classify what a queue or a ring brought. @p from_nic: the packets
 * come from a NIC queue (not a hand-off ring, which carries what other
 * workers already passed through stage 1, and what the TDM thread injects
 * from our own addresses). */
#ifndef DP_STAGE_RX_H
#define DP_STAGE_RX_H

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "dp_tx.h"

/* Ethernet/IPv4/UDP of a burst: ARP goes to the main lcore, ICMP echo is
 * answered in place, everything else that is not UDP to one of our addresses
 * is dropped by named reason. What is left becomes a job (mbuf now at the
 * UDP payload) with its endpoint key in @p keys / @p kp. Returns the jobs. */
static inline unsigned stage_rx(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n,
				bool from_nic, struct job *jobs, struct dp_ep_key *keys,
				const void **kp)
{
	unsigned nj = 0;

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
			if (rte_ring_mp_enqueue(dp_slow_ring, m) != 0)
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
				tx_enqueue(w, p, m, NULL, 0);
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
	return nj;
}

#endif
