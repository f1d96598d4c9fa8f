/* SPDX-License-Identifier: BSD-3-Clause */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "dp_net.h"
#include "dp_port.h"

const char *const dp_net_drop_names[DP_NET_DROP__COUNT] = {
	[DP_NET_DROP_RUNT] = "runt",
	[DP_NET_DROP_NOT_OUR_MAC] = "not_our_mac",
	[DP_NET_DROP_ETHERTYPE] = "ethertype",
	[DP_NET_DROP_IPV6] = "ipv6",
	[DP_NET_DROP_IP_MALFORMED] = "ip_malformed",
	[DP_NET_DROP_IP_CHECKSUM] = "ip_checksum",
	[DP_NET_DROP_IP_FRAGMENT] = "ip_fragment",
	[DP_NET_DROP_IP_NOT_OURS] = "ip_not_ours",
	[DP_NET_DROP_IP_PROTO] = "ip_proto",
	[DP_NET_DROP_UDP_MALFORMED] = "udp_malformed",
	[DP_NET_DROP_NO_SESSION] = "no_session",
	[DP_NET_DROP_ICMP_OTHER] = "icmp_other",
	[DP_NET_DROP_ARP_MALFORMED] = "arp_malformed",
	[DP_NET_DROP_ARP_NOT_OURS] = "arp_not_ours",
	[DP_NET_DROP_SLOW_RING_FULL] = "slow_ring_full",
	[DP_NET_DROP_NEIGH_HOLD_FULL] = "neigh_hold_full",
	[DP_NET_DROP_NEIGH_FAILED] = "neigh_failed",
	[DP_NET_DROP_NO_ROUTE] = "no_route",
	[DP_NET_DROP_TX_FULL] = "tx_full",
	[DP_NET_DROP_NO_MBUF] = "no_mbuf",
	[DP_NET_DROP_HANDOFF_FULL] = "handoff_full",
	[DP_NET_DROP_SRC_OURS] = "source_is_ours",
};

struct dp_net_stats dp_main_net_stats;

void dp_net_write_udp(struct rte_mbuf *m, const struct rte_ether_addr *src_mac, uint32_t sip,
		      uint16_t sport, uint32_t dip, uint16_t dport)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t l3_len = (uint16_t)(m->pkt_len - RTE_ETHER_HDR_LEN);

	memset(&eh->dst_addr, 0, sizeof(eh->dst_addr));
	rte_ether_addr_copy(src_mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0xb8; /* DSCP EF: media */
	ip->total_length = rte_cpu_to_be_16(l3_len);
	ip->packet_id = 0;
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->hdr_checksum = 0;
	ip->src_addr = sip;
	ip->dst_addr = dip;
	udp->src_port = sport;
	udp->dst_port = dport;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(l3_len - sizeof(*ip)));
	udp->dgram_cksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	/* Always a full software checksum: no PMD here finishes partial ones. */
	if (m->nb_segs == 1)
		udp->dgram_cksum = dp_net_udp_cksum(ip, udp);
	else
		udp->dgram_cksum = rte_ipv4_udptcp_cksum_mbuf(m, ip, RTE_ETHER_HDR_LEN +
							      sizeof(*ip));
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = sizeof(*ip);
	m->ol_flags = 0;
}

bool dp_net_icmp_echo_reply(struct rte_mbuf *m, uint16_t l3_off)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l3_off);
	uint16_t ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	struct rte_icmp_hdr *icmp;
	uint16_t sum;
	uint32_t tmp;

	/* The IP and ICMP headers are written in place: both in the first
	 * segment. The message itself may go on in further segments (a NIC
	 * that scatters big frames): never read past one, see below. */
	if (tot < ihl + sizeof(*icmp) || m->pkt_len < (uint32_t)l3_off + tot ||
	    m->data_len < (uint32_t)l3_off + ihl + sizeof(*icmp))
		return false;
	icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0)
		return false;
	/* Trim Ethernet padding (it is in the last segment; if it is not all
	 * there, it stays: the checksum below covers exactly tot - ihl bytes
	 * whatever follows, and receivers go by the IP total length). */
	if (m->pkt_len > (uint32_t)l3_off + tot)
		(void)rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - l3_off - tot));
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	/* over the segments of a chain, not tot - ihl bytes from the first one */
	if (rte_raw_cksum_mbuf(m, (uint32_t)l3_off + ihl, (uint32_t)(tot - ihl), &sum) != 0) {
		icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
		return false;
	}
	icmp->icmp_cksum = (uint16_t)~sum;
	tmp = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = tmp;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	rte_ether_addr_copy(&eh->src_addr, &eh->dst_addr);
	rte_ether_addr_copy(&dp_ports[m->port].mac, &eh->src_addr);
	return true;
}

uint32_t dp_net_nexthop(uint16_t port_idx, uint32_t dip)
{
	const struct dp_port *pt = &dp_ports[port_idx];

	for (unsigned i = 0; i < pt->n_addrs; i++)
		if (((dip ^ pt->addrs[i]) & pt->masks[i]) == 0)
			return dip;
	return pt->nexthop;
}

/* ------------------------------------------------------------- neighbours */

#define NEIGH_SLOTS 256 /* per port, power of two */
#define NEIGH_PROBE 8   /* linear probe length */
#define NEIGH_HOLD 32   /* packets held per unresolved neighbour */
#define NEIGH_RETRIES 3
#define NEIGH_RETRY_MS 1000
#define NEIGH_REACHABLE_S 60
#define NEIGH_FAILED_HOLD_S 5

enum neigh_state { NS_FREE, NS_INCOMPLETE, NS_REACHABLE, NS_PROBE, NS_FAILED };
static const char *const neigh_state_names[] = { "free", "incomplete", "reachable", "probe",
						 "failed" };

/* What the workers read: two words, written only by the main lcore. */
struct neigh_pub {
	uint32_t ip;       /* network order; 0 = free */
	uint32_t pad;
	uint64_t mac_word; /* bit 63: valid; bits 0..47: MAC bytes */
};

/* Main lcore's private state of a slot. */
struct neigh_priv {
	enum neigh_state state;
	unsigned tries;
	uint64_t deadline;
	unsigned n_held;
	struct rte_mbuf *held[NEIGH_HOLD];
};

struct neigh_table {
	struct neigh_pub pub[NEIGH_SLOTS];
	struct neigh_priv priv[NEIGH_SLOTS];
};

static struct neigh_table *neigh_tables[DP_MAX_PORTS];
static uint64_t neigh_next_scan;

#define MAC_VALID (1ull << 63)

static inline unsigned neigh_hash(uint32_t ip)
{
	return (unsigned)((ip * 2654435761u) >> 24) & (NEIGH_SLOTS - 1);
}

struct rte_ring *dp_main_tx_ring;

void dp_net_main_tx(struct rte_mbuf *m)
{
	if (dp_main_tx_ring == NULL || rte_ring_sp_enqueue(dp_main_tx_ring, m) != 0) {
		dp_main_net_stats.drops[DP_NET_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

int dp_neigh_init(unsigned n_ports)
{
	dp_main_tx_ring = rte_ring_create("dp_main_tx", 4096, (int)rte_socket_id(),
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (dp_main_tx_ring == NULL)
		return -ENOMEM;
	for (unsigned p = 0; p < n_ports; p++) {
		neigh_tables[p] = rte_zmalloc("dp_neigh", sizeof(struct neigh_table),
					      RTE_CACHE_LINE_SIZE);
		if (neigh_tables[p] == NULL)
			return -ENOMEM;
	}
	return 0;
}

bool dp_neigh_lookup(uint16_t port_idx, uint32_t ip, struct rte_ether_addr *mac)
{
	const struct neigh_table *t = neigh_tables[port_idx];
	unsigned h = neigh_hash(ip);

	for (unsigned i = 0; i < NEIGH_PROBE; i++) {
		const struct neigh_pub *e = &t->pub[(h + i) & (NEIGH_SLOTS - 1)];
		uint32_t eip = __atomic_load_n(&e->ip, __ATOMIC_ACQUIRE);

		if (eip == ip) {
			uint64_t w = __atomic_load_n(&e->mac_word, __ATOMIC_ACQUIRE);

			if ((w & MAC_VALID) == 0)
				return false;
			memcpy(mac->addr_bytes, &w, RTE_ETHER_ADDR_LEN);
			return true;
		}
		if (eip == 0)
			return false;
	}
	return false;
}

static int neigh_find(struct neigh_table *t, uint32_t ip, bool create)
{
	unsigned h = neigh_hash(ip);
	int free_slot = -1;

	for (unsigned i = 0; i < NEIGH_PROBE; i++) {
		unsigned s = (h + i) & (NEIGH_SLOTS - 1);

		if (t->pub[s].ip == ip)
			return (int)s;
		if (t->pub[s].ip == 0 && free_slot < 0)
			free_slot = (int)s;
	}
	if (!create || free_slot < 0)
		return -1;
	t->priv[free_slot] = (struct neigh_priv){ .state = NS_INCOMPLETE };
	t->pub[free_slot].mac_word = 0;
	__atomic_store_n(&t->pub[free_slot].ip, ip, __ATOMIC_RELEASE);
	return free_slot;
}

/* The packets that waited for a neighbour that did not answer. */
static void neigh_drop_held(struct neigh_priv *pv)
{
	for (unsigned i = 0; i < pv->n_held; i++) {
		rte_pktmbuf_free(pv->held[i]);
		dp_main_net_stats.drops[DP_NET_DROP_NEIGH_FAILED]++;
	}
	pv->n_held = 0;
}

static void neigh_free_slot(struct neigh_table *t, unsigned s)
{
	struct neigh_priv *pv = &t->priv[s];

	neigh_drop_held(pv);
	pv->state = NS_FREE;
	/*
	 * Invalidate before freeing the key: a reader that still matches the
	 * old ip sees "not valid" and hands the packet to us. Probing (open
	 * addressing) must not break: a freed slot in the middle of a chain
	 * only shortens lookups of later keys, which then miss and get
	 * re-resolved by the main lcore - correct, just slower.
	 */
	__atomic_store_n(&t->pub[s].mac_word, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->pub[s].ip, 0, __ATOMIC_RELEASE);
}

static uint32_t port_src_for(unsigned p, uint32_t target)
{
	const struct dp_port *pt = &dp_ports[p];

	for (unsigned i = 0; i < pt->n_addrs; i++)
		if (((target ^ pt->addrs[i]) & pt->masks[i]) == 0)
			return pt->addrs[i];
	return pt->n_addrs > 0 ? pt->addrs[0] : 0;
}

static void arp_send(unsigned p, uint16_t op, uint32_t sip, uint32_t tip,
		     const struct rte_ether_addr *tha)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp_pktmbuf_pool);
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *arp;

	if (m == NULL) {
		dp_main_net_stats.drops[DP_NET_DROP_NO_MBUF]++;
		return;
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eh) + sizeof(*arp));
	arp = (struct rte_arp_hdr *)(eh + 1);
	if (op == RTE_ARP_OP_REPLY)
		rte_ether_addr_copy(tha, &eh->dst_addr);
	else
		memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	rte_ether_addr_copy(&dp_ports[p].mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&dp_ports[p].mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = sip;
	if (op == RTE_ARP_OP_REPLY)
		rte_ether_addr_copy(tha, &arp->arp_data.arp_tha);
	else
		memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	arp->arp_data.arp_tip = tip;
	m->port = (uint16_t)p;
	if (op == RTE_ARP_OP_REPLY)
		dp_main_net_stats.arp_replies_sent++;
	else
		dp_main_net_stats.arp_requests_sent++;
	dp_net_main_tx(m);
}

uint64_t dp_net_garps;

void dp_net_garp(unsigned p, uint32_t ip)
{
	arp_send(p, RTE_ARP_OP_REQUEST, ip, ip, NULL);
	dp_net_garps++;
}

static void neigh_resolved(unsigned p, unsigned s, const struct rte_ether_addr *mac)
{
	struct neigh_table *t = neigh_tables[p];
	struct neigh_priv *pv = &t->priv[s];
	uint64_t w = 0;

	memcpy(&w, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	__atomic_store_n(&t->pub[s].mac_word, w | MAC_VALID, __ATOMIC_RELEASE);
	pv->state = NS_REACHABLE;
	pv->tries = 0;
	pv->deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() * NEIGH_REACHABLE_S;
	for (unsigned i = 0; i < pv->n_held; i++) {
		struct rte_mbuf *m = pv->held[i];

		rte_ether_addr_copy(mac, &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr);
		dp_net_main_tx(m);
	}
	pv->n_held = 0;
}

void dp_net_arp_input(struct rte_mbuf *m)
{
	unsigned p = m->port;
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp;
	struct neigh_table *t = neigh_tables[p];
	uint32_t sip, tip;
	uint16_t op;
	bool for_us;
	int s;

	dp_main_net_stats.arp_in++;
	if (m->data_len < sizeof(*eh) + sizeof(*arp))
		goto malformed;
	arp = (struct rte_arp_hdr *)(eh + 1);
	op = rte_be_to_cpu_16(arp->arp_opcode);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
	    (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
	    !rte_is_unicast_ether_addr(&arp->arp_data.arp_sha))
		goto malformed;
	sip = arp->arp_data.arp_sip;
	tip = arp->arp_data.arp_tip;
	for_us = dp_port_owns(p, tip);
	/* RFC 826: update an existing entry from any ARP; create one only if addressed to us. */
	if (sip != 0) {
		s = neigh_find(t, sip, for_us);
		if (s >= 0)
			neigh_resolved(p, (unsigned)s, &arp->arp_data.arp_sha);
	}
	if (!for_us) {
		if (op == RTE_ARP_OP_REQUEST)
			dp_main_net_stats.drops[DP_NET_DROP_ARP_NOT_OURS]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (op == RTE_ARP_OP_REQUEST)
		arp_send(p, RTE_ARP_OP_REPLY, tip, sip, &arp->arp_data.arp_sha);
	rte_pktmbuf_free(m);
	return;
malformed:
	dp_main_net_stats.drops[DP_NET_DROP_ARP_MALFORMED]++;
	rte_pktmbuf_free(m);
}

void dp_neigh_hold(struct rte_mbuf *m)
{
	unsigned p = m->port;
	uint32_t ip = m->hash.usr;
	struct neigh_table *t = neigh_tables[p];
	struct neigh_priv *pv;
	int s = neigh_find(t, ip, true);

	if (s < 0) {
		/* every probe slot busy: table pressure, treat as unresolved */
		dp_main_net_stats.drops[DP_NET_DROP_NEIGH_HOLD_FULL]++;
		rte_pktmbuf_free(m);
		return;
	}
	pv = &t->priv[s];
	switch (pv->state) {
	case NS_REACHABLE:
	case NS_PROBE: {
		/* resolved meanwhile (the worker raced the reply) */
		uint64_t w = t->pub[s].mac_word;
		struct rte_ether_addr mac;

		memcpy(mac.addr_bytes, &w, RTE_ETHER_ADDR_LEN);
		rte_ether_addr_copy(&mac, &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr);
		dp_net_main_tx(m);
		return;
	}
	case NS_FAILED:
		dp_main_net_stats.drops[DP_NET_DROP_NEIGH_FAILED]++;
		rte_pktmbuf_free(m);
		return;
	default:
		break;
	}
	if (pv->n_held >= NEIGH_HOLD) {
		dp_main_net_stats.drops[DP_NET_DROP_NEIGH_HOLD_FULL]++;
		rte_pktmbuf_free(m);
		return;
	}
	pv->held[pv->n_held++] = m;
	if (pv->tries == 0) {
		pv->tries = 1;
		pv->deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() * NEIGH_RETRY_MS / 1000;
		arp_send(p, RTE_ARP_OP_REQUEST, port_src_for(p, ip), ip, NULL);
	}
}

void dp_neigh_timer(uint64_t now)
{
	uint64_t hz = rte_get_tsc_hz();

	if (now < neigh_next_scan)
		return;
	neigh_next_scan = now + hz / 10;
	for (unsigned p = 0; p < dp_n_ports; p++) {
		struct neigh_table *t = neigh_tables[p];

		for (unsigned s = 0; s < NEIGH_SLOTS; s++) {
			struct neigh_priv *pv = &t->priv[s];
			uint32_t ip = t->pub[s].ip;

			if (ip == 0 || now < pv->deadline)
				continue;
			switch (pv->state) {
			case NS_INCOMPLETE:
			case NS_PROBE:
				if (pv->tries >= NEIGH_RETRIES) {
					if (pv->state == NS_PROBE) {
						neigh_free_slot(t, s);
						break;
					}
					/* drop what waits, remember the failure for a while */
					neigh_drop_held(pv);
					pv->state = NS_FAILED;
					pv->deadline = now + hz * NEIGH_FAILED_HOLD_S;
					break;
				}
				pv->tries++;
				pv->deadline = now + hz * NEIGH_RETRY_MS / 1000;
				arp_send(p, RTE_ARP_OP_REQUEST, port_src_for(p, ip), ip, NULL);
				break;
			case NS_REACHABLE:
				/* aged: keep using the MAC while we ask again */
				pv->state = NS_PROBE;
				pv->tries = 1;
				pv->deadline = now + hz * NEIGH_RETRY_MS / 1000;
				arp_send(p, RTE_ARP_OP_REQUEST, port_src_for(p, ip), ip, NULL);
				break;
			case NS_FAILED:
				neigh_free_slot(t, s);
				break;
			default:
				break;
			}
		}
	}
}

unsigned dp_neigh_count(uint16_t port_idx)
{
	const struct neigh_table *t = neigh_tables[port_idx];
	unsigned n = 0;

	if (t == NULL)
		return 0;
	for (unsigned s = 0; s < NEIGH_SLOTS; s++)
		n += __atomic_load_n(&t->pub[s].ip, __ATOMIC_RELAXED) != 0;
	return n;
}

void dp_neigh_walk(uint16_t port_idx,
		   void (*cb)(void *arg, uint32_t ip, const struct rte_ether_addr *mac,
			      const char *state),
		   void *arg)
{
	const struct neigh_table *t = neigh_tables[port_idx];

	if (t == NULL)
		return;
	for (unsigned s = 0; s < NEIGH_SLOTS; s++) {
		uint32_t ip = __atomic_load_n(&t->pub[s].ip, __ATOMIC_ACQUIRE);
		uint64_t w = __atomic_load_n(&t->pub[s].mac_word, __ATOMIC_ACQUIRE);
		struct rte_ether_addr mac;
		unsigned st = t->priv[s].state;

		if (ip == 0)
			continue;
		memcpy(mac.addr_bytes, &w, RTE_ETHER_ADDR_LEN);
		cb(arg, ip, &mac, st < RTE_DIM(neigh_state_names) ? neigh_state_names[st] : "?");
	}
}
