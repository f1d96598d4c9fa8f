/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bed that dp_worker_test.c and dp_frames_fuzz.c run the workers'
 * pipeline on (each includes dp_worker.c, then this): port 0 with our two
 * addresses, the remote peers, one SRTP master key, the pools and tables
 * under a real EAL without ports, a worker on this thread, and session 1
 * (SRTP from A, plain toward B, a raw fork of leg 0), which both install.
 */
#ifndef DP_WORKER_BED_H
#define DP_WORKER_BED_H

#define IP_A RTE_BE32(0xc0000201)   /* 192.0.2.1: our first address, leg 0 local */
#define IP_B RTE_BE32(0xc0000211)   /* 192.0.2.17: our second address, leg 1 and fork local */
#define REM_A RTE_BE32(0xc0000202)  /* 192.0.2.2: SRTP peer of session 1 leg 0 */
#define REM_B RTE_BE32(0xc0000212)  /* 192.0.2.18: plain peer of session 1 leg 1 */
#define FORK_R RTE_BE32(0xc0000213) /* 192.0.2.19: fork destination */

static const uint8_t master[30] = "0123456789abcdefghijklmnopqrs";

static void addr(struct mg_msg_addr *a, uint32_t be_ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = MG_FAMILY_IPV4;
	memcpy(a->addr, &be_ip, 4);
	a->port = port;
}

/* @p suite with the bed's master key (GCM: 12 bytes of salt, else 14) */
static void crypto(struct mg_msg_crypto *c, uint8_t suite)
{
	c->suite = suite;
	c->key_len = 16;
	c->salt_len = suite == MG_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	memcpy(c->key, master, 16);
	memcpy(c->salt, master + 16, c->salt_len);
}

/*
 * Ethernet (to @p dst, broadcast if NULL; from @p src, zeros if NULL), IPv4
 * and UDP headers from @p sip:@p sport to @p dip:@p dport (IPv4 checksum
 * set, UDP checksum 0) and @p len bytes of @p pl at @p f; returns the
 * frame's length.
 */
static size_t bed_udp_frame(uint8_t *f, const struct rte_ether_addr *dst,
			    const struct rte_ether_addr *src, uint32_t sip, uint16_t sport,
			    uint32_t dip, uint16_t dport, const uint8_t *pl, uint16_t len)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t ulen = (uint16_t)(sizeof(*udp) + len);

	memset(f, 0, RTE_ETHER_HDR_LEN + sizeof(*ip) + sizeof(*udp));
	if (dst != NULL)
		rte_ether_addr_copy(dst, &eh->dst_addr);
	else
		memset(&eh->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	if (src != NULL)
		rte_ether_addr_copy(src, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + ulen));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = sip;
	ip->dst_addr = dip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(dport);
	udp->dgram_len = rte_cpu_to_be_16(ulen);
	memcpy(udp + 1, pl, len);
	return RTE_ETHER_HDR_LEN + sizeof(*ip) + ulen;
}

/*
 * Port 0 with IP_A and IP_B (/28); the three mbuf pools (@p n_mbufs of
 * 2 kB, @p n_small headers and clones) without per-lcore caches, so that
 * their in-use counts are exact; the slow ring of @p slow_size, the
 * neighbour table, and a session table of @p max_sessions for @p n_workers
 * workers on the media ports 30000-30099. Names begin with @p tag. 0 or -1.
 */
static int bed_init(const char *tag, unsigned n_mbufs, unsigned n_small, unsigned slow_size,
		    unsigned max_sessions, unsigned n_workers)
{
	char name[4][32];

	snprintf(name[0], sizeof(name[0]), "%s_mbuf", tag);
	snprintf(name[1], sizeof(name[1]), "%s_hdr", tag);
	snprintf(name[2], sizeof(name[2]), "%s_clone", tag);
	snprintf(name[3], sizeof(name[3]), "%s_slow", tag);
	dp_n_ports = 1;
	dp_ports[0].n_addrs = 2;
	dp_ports[0].addrs[0] = IP_A;
	dp_ports[0].addrs[1] = IP_B;
	dp_ports[0].masks[0] = dp_ports[0].masks[1] = RTE_BE32(0xfffffff0);
	dp_pktmbuf_pool = rte_pktmbuf_pool_create(name[0], n_mbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						  SOCKET_ID_ANY);
	dp_hdr_pool = rte_pktmbuf_pool_create(name[1], n_small, 0, 0, 256, SOCKET_ID_ANY);
	dp_clone_pool = rte_pktmbuf_pool_create(name[2], n_small, 0, 0, 0, SOCKET_ID_ANY);
	dp_slow_ring = rte_ring_create(name[3], slow_size, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (dp_pktmbuf_pool == NULL || dp_hdr_pool == NULL || dp_clone_pool == NULL ||
	    dp_slow_ring == NULL || dp_neigh_init(1) < 0 ||
	    dp_session_init(max_sessions, n_workers, 30000, 30099) < 0)
		return -1;
	return 0;
}

/* This thread as worker @p idx: its SRTP engine, QSBR reader online, in
 * dp_workers[]. 0 or -1. */
static int bed_worker(struct dp_worker *w, unsigned idx)
{
	w->idx = idx;
	w->eng = mg_srtp_engine_create(MG_SRTP_BACKEND_AUTO);
	rte_rcu_qsbr_thread_register(dp_qsbr, idx);
	rte_rcu_qsbr_thread_online(dp_qsbr, idx);
	dp_workers[idx] = w;
	return w->eng != NULL ? 0 : -1;
}

/*
 * Session 1: leg 0 IP_A:30000 with REM_A:40000, receiving SRTP
 * AES_CM_128_HMAC_SHA1_80 (and sending it if @p tx_srtp), leg 1 IP_B:30002
 * with REM_B:40002, plain; fork 1: a raw copy of what leg 0 receives, from
 * IP_B:30004 to FORK_R:40004. 0, or -1 with @p err set.
 */
static int bed_session1(bool tx_srtp, const char **err)
{
	struct mg_msg_session d;
	struct mg_msg_fork f;

	memset(&d, 0, sizeof(d));
	d.id = 1;
	addr(&d.legs[0].local, IP_A, 30000);
	addr(&d.legs[0].remote, REM_A, 40000);
	crypto(&d.legs[0].rx, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	if (tx_srtp)
		crypto(&d.legs[0].tx, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	addr(&d.legs[1].local, IP_B, 30002);
	addr(&d.legs[1].remote, REM_B, 40002);
	if (dp_session_add(&d, false, err) < 0)
		return -1;
	memset(&f, 0, sizeof(f));
	f.session_id = 1;
	f.fork_id = 1;
	f.leg = 0;
	f.flags = MG_FORK_F_RAW;
	addr(&f.local, IP_B, 30004);
	addr(&f.remote, FORK_R, 40004);
	return dp_fork_add(&f, err);
}

#endif
