/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet/ARP/IPv4/UDP/ICMP for the dataplane: drop reasons, checksum
 * helpers used on every transmitted packet, ICMP echo answered in place by the
 * workers, and the neighbour table.
 *
 * Neighbour table: one open-addressed array per port. The main lcore is the
 * only writer (it receives every ARP packet and every packet whose next hop is
 * unresolved through rings from the workers); workers read an entry with two
 * atomic loads (ip, then the packed MAC|valid word). A slot is reused only
 * after its entry aged out and was first invalidated, so a reader racing a
 * reuse at worst sends one packet to the previous MAC; that is accepted and
 * documented in docs/dataplane.md.
 */
#ifndef DP_NET_H
#define DP_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

/* Drops that belong to no session: counted per worker (or main) by reason. */
enum dp_net_drop {
	DP_NET_DROP_RUNT,            /* shorter than Ethernet + L3 header */
	DP_NET_DROP_NOT_OUR_MAC,     /* unicast to another MAC, or multicast */
	DP_NET_DROP_ETHERTYPE,       /* neither IPv4 nor ARP (VLAN, LLDP...) */
	DP_NET_DROP_IPV6,            /* IPv6 is not handled by this dataplane */
	DP_NET_DROP_IP_MALFORMED,    /* version, IHL, total length */
	DP_NET_DROP_IP_CHECKSUM,
	DP_NET_DROP_IP_FRAGMENT,
	DP_NET_DROP_IP_NOT_OURS,     /* destination is none of our addresses */
	DP_NET_DROP_IP_PROTO,        /* not UDP or ICMP */
	DP_NET_DROP_UDP_MALFORMED,   /* UDP length */
	DP_NET_DROP_NO_SESSION,      /* UDP to our address, no session on that port */
	DP_NET_DROP_ICMP_OTHER,      /* ICMP other than echo request */
	DP_NET_DROP_ARP_MALFORMED,
	DP_NET_DROP_ARP_NOT_OURS,    /* ARP request for an address we do not own */
	DP_NET_DROP_SLOW_RING_FULL,  /* main lcore's ARP/neighbour ring was full */
	DP_NET_DROP_NEIGH_HOLD_FULL, /* too many packets waiting for one neighbour */
	DP_NET_DROP_NEIGH_FAILED,    /* ARP resolution gave up */
	DP_NET_DROP_NO_ROUTE,        /* off-link destination and no next hop */
	DP_NET_DROP_TX_FULL,         /* NIC TX queue refused the packet */
	DP_NET_DROP_NO_MBUF,
	DP_NET_DROP_HANDOFF_FULL,    /* owner worker's hand-off ring was full */
	DP_NET_DROP_SRC_OURS,        /* from a NIC with one of our addresses as source */
	DP_NET_DROP__COUNT
};

extern const char *const dp_net_drop_names[DP_NET_DROP__COUNT];

/* Plain counters of one lcore (workers and main each own one). */
struct dp_net_stats {
	uint64_t rx_pkts;
	uint64_t tx_pkts;
	uint64_t arp_in;
	uint64_t arp_replies_sent;
	uint64_t arp_requests_sent;
	uint64_t icmp_echo_replies;
	uint64_t drops[DP_NET_DROP__COUNT];
} __rte_cache_aligned;

/*
 * RFC 1071 sum over @p len bytes, 8 bytes per addition (the end-around carry
 * makes the 64-bit sum fold to the same 16-bit value as rte_raw_cksum, in the
 * same byte order). Not complemented.
 */
static inline uint16_t dp_net_sum(const void *buf, size_t len, uint64_t init)
{
	const uint8_t *p = (const uint8_t *)buf;
	uint64_t s = init, w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		s += w;
		s += s < w;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, p, len);
		s += w;
		s += s < w;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/* UDP checksum of a single-segment IPv4/UDP datagram (header + payload). */
static inline uint16_t dp_net_udp_cksum(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp)
{
	uint16_t ulen = rte_be_to_cpu_16(udp->dgram_len);
	/* pseudo header: addresses, protocol, UDP length (all as laid out on the wire) */
	uint64_t init = (uint64_t)ip->src_addr + ip->dst_addr +
			rte_cpu_to_be_16((uint16_t)IPPROTO_UDP) + udp->dgram_len;
	uint16_t c = (uint16_t)~dp_net_sum(udp, ulen, init);

	return c == 0 ? 0xffff : c;
}

/* Header bytes of every transmitted IPv4/UDP packet (no options, no VLAN). */
#define DP_HDR_LEN (RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))

/*
 * Fill Ethernet (source MAC; destination zero until the neighbour lookup),
 * IPv4 and UDP headers in the first DP_HDR_LEN bytes of @p m (a single
 * segment or a chain whose first segment holds the headers) and set both
 * checksums in software: veth/af_packet never completes them for us.
 * Addresses and ports in network byte order.
 */
void dp_net_write_udp(struct rte_mbuf *m, const struct rte_ether_addr *src_mac, uint32_t sip,
		      uint16_t sport, uint32_t dip, uint16_t dport);

/*
 * Answer an ICMP echo request in place (swap addresses, type 0, checksums).
 * Returns false (and leaves the packet alone) if it is not a well-formed echo
 * request.
 */
bool dp_net_icmp_echo_reply(struct rte_mbuf *m, uint16_t l3_off);

/* Neighbour table: reader side (any lcore). */
bool dp_neigh_lookup(uint16_t port_idx, uint32_t ip, struct rte_ether_addr *mac);

/* Next hop of destination @p dip on port @p port_idx; 0 if off-link and no next hop. */
uint32_t dp_net_nexthop(uint16_t port_idx, uint32_t dip);

/* main lcore only ---------------------------------------------------------- */
int dp_neigh_init(unsigned n_ports);
/* An ARP packet received on port index m->port (mbuf consumed). */
void dp_net_arp_input(struct rte_mbuf *m);
/*
 * A fully built packet whose next hop (m->hash.usr, network order) on port
 * index m->port was unresolved in the worker: hold it and resolve (consumed).
 */
void dp_neigh_hold(struct rte_mbuf *m);
/* Retries, ageing; called from the main loop. */
void dp_neigh_timer(uint64_t now_tsc);
/* A gratuitous ARP (request, sender = target = @p ip, broadcast) on port
 * index @p p: the segment learns that @p ip moved to our MAC. */
void dp_net_garp(unsigned p, uint32_t ip);
extern uint64_t dp_net_garps;
/* Statistics of the main lcore's share of the net path. */
extern struct dp_net_stats dp_main_net_stats;
/* Entries in use on one port (telemetry; racy read). */
unsigned dp_neigh_count(uint16_t port_idx);
/* Dump one port's table: calls @p cb per entry in use. */
void dp_neigh_walk(uint16_t port_idx,
		   void (*cb)(void *arg, uint32_t ip, const struct rte_ether_addr *mac,
			      const char *state),
		   void *arg);

/*
 * The main lcore never touches a NIC queue: what it sends (ARP, packets that
 * waited for a neighbour; m->port = port index) goes on this ring, created by
 * dp_neigh_init(), which worker 0 drains into its TX buffers. Consumes m;
 * ring full (or no ring) is a counted tx_full drop.
 */
extern struct rte_ring *dp_main_tx_ring;
void dp_net_main_tx(struct rte_mbuf *m);

#endif
