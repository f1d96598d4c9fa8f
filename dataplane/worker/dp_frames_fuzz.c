/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target (meson -Dfuzz=true, clang): raw Ethernet frames through
 * the workers' own per-packet pipeline. Like dp_worker_test.c, this file
 * includes dp_worker.c and runs process() under a real EAL without ports
 * (--no-huge --no-pci --no-shconf, started once in LLVMFuzzerInitialize):
 * real session table, SRTP engine, neighbour table and mbuf pools, and two
 * workers (this thread plays both) so the hand-off to a session's owner runs
 * too. What reaches it is what an attacker on the media network sends:
 * Ethernet/VLAN/ARP/IPv4/ICMP/UDP classification, fragments, the RTP/RTCP
 * sanity checks, rtcp-mux demultiplexing, the source policies, SRTP/SRTCP
 * unprotect, raw and decrypted forks, RTCP port derivation, the slow path
 * of the main lcore (ARP input and replies, packets held for a neighbour).
 *
 * Each input is up to MAX_FRAMES records: [flags][len: 2 bytes LE][frame].
 * flags bit 0: deliver the frame as a chain of two segments, split
 * (flags >> 1) * 4 bytes into it (scattered RX of a NIC); bit 7: received
 * by worker 1 instead of worker 0. All frames of one input form one burst.
 * Sessions are installed afresh for every input (reproducible: no SRTP
 * replay window or latched source carries over from another input).
 *
 * Checked besides the sanitizers: every packet the pipeline sends has a
 * valid IPv4 header checksum, an ICMP echo reply a valid ICMP checksum over
 * the whole message (chained or not), a UDP packet a valid UDP checksum; and
 * no mbuf is lost (the pools are full again after every input, except what
 * the neighbour table holds by design). The mbuf data itself lives in
 * DPDK memory, which ASan does not see: a read past a segment shows up as a
 * wrong checksum or length here, not as an ASan report.
 *
 * MG_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (real RTP, SRTP, SRTCP,
 * RTCP, ARP, ICMP, VLAN, fragment, truncated frames) into DIR and exits.
 *
 *   build-fuzz/dataplane/dp_frames_fuzz tests/fuzz/corpus/frames -max_total_time=60
 */
#define ALLOW_EXPERIMENTAL_API
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dp_worker.c"
#include "dp_worker_bed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 8
#define POOL_N 1024
/* IP_A, IP_B, REM_A, REM_B (its neighbour known here), FORK_R: dp_worker_bed.h */
#define CAND RTE_BE32(0xc0000203) /* 192.0.2.3: strict-policy candidate */

static const struct rte_ether_addr our_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
static struct dp_worker tw[2];
static uint64_t fake_now; /* TSC value handed to the neighbour timer */
static bool verbose;      /* MG_FUZZ_VERBOSE: what each input did, on stderr */
static unsigned n_sent;

/*
 * 1: SRTP from REM_A:40000 to IP_A:30000 <-> plain REM_B:40002 via IP_B:30002,
 *    raw fork of leg 0 to FORK_R:40004, decrypted fork of leg 1 (worker 1)
 * 2: plain latching REM_B:40010 on IP_A:30010 <-> SRTP (GCM) toward REM_B:40012
 * 3: strict, rtcp-mux, one candidate, explicit a=rtcp (owned by worker 1)
 * 4: latching, remote not known yet on both legs
 */
static void sessions_install(void)
{
	struct mg_msg_session d;
	struct mg_msg_fork f;
	const char *err = NULL;

	if (bed_session1(true, &err) < 0)
		goto bad;
	memset(&f, 0, sizeof(f));
	f.session_id = 1;
	f.fork_id = 2;
	f.leg = 1;
	f.flags = 0;
	addr(&f.local, IP_B, 30006);
	addr(&f.remote, FORK_R, 40006);
	if (dp_fork_add(&f, &err) < 0)
		goto bad;

	memset(&d, 0, sizeof(d));
	d.id = 2;
	addr(&d.legs[0].local, IP_A, 30010);
	addr(&d.legs[0].remote, REM_B, 40010);
	addr(&d.legs[1].local, IP_B, 30012);
	addr(&d.legs[1].remote, REM_B, 40012);
	crypto(&d.legs[1].tx, MG_SRTP_AEAD_AES_128_GCM);
	crypto(&d.legs[1].rx, MG_SRTP_AEAD_AES_128_GCM);
	if (dp_session_add(&d, false, &err) < 0)
		goto bad;

	memset(&d, 0, sizeof(d));
	d.id = 3;
	addr(&d.legs[0].local, IP_A, 30020);
	addr(&d.legs[0].remote, REM_A, 40020);
	d.legs[0].remote_rtcp_port = 40025;
	addr(&d.legs[0].candidates[0], CAND, 40030);
	d.legs[0].n_candidates = 1;
	d.legs[0].source_policy = MG_SOURCE_STRICT;
	d.legs[0].flags = MG_LEG_F_RTCP_MUX;
	addr(&d.legs[1].local, IP_B, 30022);
	addr(&d.legs[1].remote, REM_B, 40022);
	if (dp_session_add(&d, false, &err) < 0)
		goto bad;

	memset(&d, 0, sizeof(d));
	d.id = 4;
	addr(&d.legs[0].local, IP_A, 30030);
	d.legs[0].remote.family = MG_FAMILY_NONE;
	addr(&d.legs[1].local, IP_B, 30032);
	d.legs[1].remote.family = MG_FAMILY_NONE;
	if (dp_session_add(&d, false, &err) < 0)
		goto bad;
	return;
bad:
	fprintf(stderr, "dp_frames_fuzz: session setup: %s\n", err ? err : "?");
	abort();
}

static void sessions_remove(void)
{
	const char *err = NULL;

	for (uint64_t id = 1; id <= 4; id++)
		if (dp_session_del(id, NULL, &err) < 0)
			abort();
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 1);
	dp_session_reclaim();
}

/* ---------------------------------------------------------------- checks */

static void check_sent(struct rte_mbuf *m)
{
	uint8_t hdr[RTE_ETHER_HDR_LEN + 60 + 8];
	const struct rte_ether_hdr *eh;
	const struct rte_ipv4_hdr *ip;
	uint16_t ihl, tot;
	uint16_t sum = 0;

	if (m->pkt_len < RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr))
		abort(); /* we never send runts */
	eh = rte_pktmbuf_read(m, 0, RTE_ETHER_HDR_LEN, hdr);
	if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return;
	if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		abort();
	ip = rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN, sizeof(*ip), hdr);
	ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	tot = rte_be_to_cpu_16(ip->total_length);
	if (ihl < 20 || m->pkt_len < RTE_ETHER_HDR_LEN + (uint32_t)tot || tot < ihl)
		abort();
	ip = rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN, ihl, hdr);
	if (rte_raw_cksum(ip, ihl) != 0xffff)
		abort(); /* IPv4 header checksum */
	if (ip->next_proto_id == IPPROTO_ICMP) {
		if (rte_raw_cksum_mbuf(m, RTE_ETHER_HDR_LEN + ihl, tot - ihl, &sum) != 0)
			abort();
		if (sum != 0xffff)
			abort(); /* ICMP checksum over the whole message */
	} else if (ip->next_proto_id == IPPROTO_UDP) {
		uint8_t ip_copy[60];
		const struct rte_udp_hdr *u;

		memcpy(ip_copy, ip, ihl);
		u = rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN + ihl, sizeof(*u), hdr + 60);
		if (rte_be_to_cpu_16(u->dgram_len) != tot - ihl)
			abort();
		if (u->dgram_cksum != 0 &&
		    rte_ipv4_udptcp_cksum_mbuf_verify(m, (const struct rte_ipv4_hdr *)ip_copy,
						      RTE_ETHER_HDR_LEN + ihl) != 0)
			abort(); /* UDP checksum */
	} else {
		abort();
	}
}

/* What the pipeline sent and what waits for the main lcore. */
static void drain(void)
{
	struct rte_mbuf *m;

	for (unsigned w = 0; w < 2; w++) {
		for (unsigned i = 0; i < tw[w].tx[0].n; i++) {
			n_sent++;
			check_sent(tw[w].tx[0].m[i]);
			rte_pktmbuf_free(tw[w].tx[0].m[i]);
		}
		tw[w].tx[0].n = 0;
	}
	/* the main lcore's share: ARP input (answers go to main_tx), held packets */
	dp_main_hook(NULL);
	while (rte_ring_sc_dequeue(tw[0].main_tx, (void **)&m) == 0) {
		n_sent++;
		check_sent(m);
		rte_pktmbuf_free(m);
	}
}

static void report(void)
{
	uint64_t drops[DP_NET_DROP__COUNT], rx, tx, ai, ao, icmp;
	struct mg_msg_session_stats st;
	const char *err;

	dp_worker_net_totals(&rx, &tx, &ai, &ao, &icmp, drops);
	fprintf(stderr, "input: %u sent, arp in %" PRIu64 ", icmp replies %" PRIu64, n_sent, ai,
		icmp);
	for (unsigned r = 0; r < DP_NET_DROP__COUNT; r++)
		if (drops[r] != 0)
			fprintf(stderr, ", %s %" PRIu64, dp_net_drop_names[r], drops[r]);
	for (uint64_t id = 1; id <= 4; id++) {
		if (dp_session_stats(id, &st, &err) < 0)
			continue;
		for (unsigned l = 0; l < 2; l++) {
			uint64_t d = 0;

			for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
				d += st.legs[l][0].drops[r];
			if (st.legs[l][0].packets || d)
				fprintf(stderr, "; s%" PRIu64 " leg %u rx %" PRIu64 " drops %" PRIu64, id,
					l, st.legs[l][0].packets, d);
			for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
				if (st.legs[l][0].drops[r])
					fprintf(stderr, " %s", mg_proto_drop_name(r));
		}
	}
	fputc('\n', stderr);
}

static size_t arp(uint8_t *out, uint16_t op, uint32_t sip, uint32_t tip, bool bcast);
static struct rte_mbuf *mbuf_of(const uint8_t *f, uint16_t len, uint8_t flags);

/* B's MAC is known (an ARP reply), so what goes to B is sent at once; the
 * other remotes are not: their packets wait for ARP (the slow path). */
static void neigh_learn_b(void)
{
	uint8_t f[128];
	struct rte_ether_addr mac;

	dp_net_arp_input(mbuf_of(f, (uint16_t)arp(f, RTE_ARP_OP_REPLY, REM_B, IP_B, false), 0));
	if (!dp_neigh_lookup(0, REM_B, &mac))
		abort();
}

/* Age every neighbour out (retries, failure, release): the packets held for
 * one are dropped and counted, the table is empty for the next input. */
static void neigh_flush(void)
{
	struct rte_mbuf *m;

	/*
	 * The fake clock only moves forward (dp_net keeps its next scan time)
	 * and stays ahead of the real TSC the entries' deadlines are taken
	 * from (at most 60 s ahead: reachable). Steps of 6 s pass every
	 * deadline the timer sets (retry 1 s, failed hold 5 s); an entry needs
	 * at most 5 scans (3 tries, failed, freed). 36 s per input: the 64-bit
	 * clock lasts ~2 x 10^8 inputs; 100 s x 12 wrapped it after 5.9 M
	 * inputs (a long run aborted here on a full table: the harness, not
	 * the dataplane, whose TSC does not wrap).
	 */
	for (unsigned k = 0; k < 6; k++) {
		fake_now += 6 * rte_get_tsc_hz();
		if (fake_now < 6 * rte_get_tsc_hz()) {
			fprintf(stderr, "dp_frames_fuzz: fake clock wrapped: restart the run\n");
			abort();
		}
		dp_neigh_timer(fake_now);
		while (rte_ring_sc_dequeue(tw[0].main_tx, (void **)&m) == 0) {
			check_sent(m);
			rte_pktmbuf_free(m);
		}
	}
	if (dp_neigh_count(0) != 0)
		abort();
}

/* ------------------------------------------------------------------ input */

static struct rte_mbuf *mbuf_of(const uint8_t *f, uint16_t len, uint8_t flags)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp_pktmbuf_pool), *t;
	uint16_t first = len;

	if (m == NULL)
		abort();
	if (flags & 1) {
		first = (uint16_t)((flags >> 1) & 0x3f) * 4;
		if (first > len)
			first = len;
	}
	memcpy(rte_pktmbuf_append(m, first), f, first);
	if (first < len) {
		t = rte_pktmbuf_alloc(dp_pktmbuf_pool);
		if (t == NULL)
			abort();
		memcpy(rte_pktmbuf_append(t, (uint16_t)(len - first)), f + first, len - first);
		if (rte_pktmbuf_chain(m, t) != 0)
			abort();
	}
	m->port = 0;
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rte_mbuf *pkts[2][MAX_FRAMES];
	unsigned n[2] = { 0, 0 }, total = 0;
	size_t i = 0;

	n_sent = 0;
	memset(&tw[0].net, 0, sizeof(tw[0].net));
	memset(&tw[1].net, 0, sizeof(tw[1].net));
	memset(&dp_main_net_stats, 0, sizeof(dp_main_net_stats));
	neigh_learn_b();
	sessions_install();
	while (total < MAX_FRAMES && size - i >= 3) {
		uint8_t flags = data[i];
		size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;

		i += 3;
		if (len > size - i)
			len = size - i;
		if (len > RTE_MBUF_DEFAULT_DATAROOM)
			len = RTE_MBUF_DEFAULT_DATAROOM;
		unsigned w = flags >> 7;

		pkts[w][n[w]++] = mbuf_of(data + i, (uint16_t)len, flags);
		i += len;
		total++;
	}
	for (unsigned w = 0; w < 2; w++) {
		if (n[w] == 0)
			continue;
		tw[w].net.rx_pkts += n[w];
		process(&tw[w], pkts[w], n[w], true);
	}
	/* what one worker handed to the other: the owner classifies it again */
	for (unsigned w = 0; w < 2; w++) {
		struct rte_mbuf *h[BURST];
		unsigned k = rte_ring_sc_dequeue_burst(tw[w].handoff, (void **)h, BURST, NULL);

		if (k > 0)
			process(&tw[w], h, k, false);
	}
	drain();
	if (verbose)
		report();
	sessions_remove();
	neigh_flush();
	/* nothing lost: every mbuf is back in its pool */
	if (rte_mempool_in_use_count(dp_pktmbuf_pool) != 0 ||
	    rte_mempool_in_use_count(dp_hdr_pool) != 0 || rte_mempool_in_use_count(dp_clone_pool) != 0)
		abort();
	return 0;
}

/* -------------------------------------------------------------- seeds */

static size_t frame(uint8_t *out, uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport,
		    const uint8_t *pl, uint16_t len)
{
	size_t n = bed_udp_frame(out, &our_mac, &peer_mac, sip, sport, dip, dport, pl, len);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(out + RTE_ETHER_HDR_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	udp->dgram_cksum = dp_net_udp_cksum(ip, udp);
	return n;
}

static size_t rtp(uint8_t *b, uint8_t pt, uint16_t seq, size_t n)
{
	memset(b, 0, 12 + n);
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[7] = (uint8_t)(seq * 160);
	b[8] = 0x12;
	b[11] = 0x34;
	for (size_t k = 0; k < n; k++)
		b[12 + k] = (uint8_t)(0xff - k);
	return 12 + n;
}

static size_t rtcp_sr(uint8_t *b)
{
	static const uint8_t sr[28] = { 0x80, 200, 0, 6, 0, 0, 0x51, 0x51 };

	memcpy(b, sr, sizeof(sr));
	return sizeof(sr);
}

static size_t icmp_echo(uint8_t *out, size_t payload)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)out;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(ip + 1);
	uint16_t tot = (uint16_t)(sizeof(*ip) + sizeof(*ic) + payload);

	memset(out, 0, RTE_ETHER_HDR_LEN + tot);
	rte_ether_addr_copy(&our_mac, &eh->dst_addr);
	rte_ether_addr_copy(&peer_mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(tot);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = REM_B;
	ip->dst_addr = IP_A;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	ic->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	ic->icmp_ident = RTE_BE16(0x4242);
	ic->icmp_seq_nb = RTE_BE16(1);
	for (size_t k = 0; k < payload; k++)
		((uint8_t *)(ic + 1))[k] = (uint8_t)k;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, sizeof(*ic) + payload);
	return RTE_ETHER_HDR_LEN + tot;
}

static size_t arp(uint8_t *out, uint16_t op, uint32_t sip, uint32_t tip, bool bcast)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)out;
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eh + 1);

	memset(out, 0, sizeof(*eh) + sizeof(*a));
	if (bcast)
		memset(&eh->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	else
		rte_ether_addr_copy(&our_mac, &eh->dst_addr);
	rte_ether_addr_copy(&peer_mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&peer_mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = sip;
	a->arp_data.arp_tip = tip;
	return sizeof(*eh) + sizeof(*a);
}

struct seed {
	uint8_t b[8192];
	size_t n;
};

static void seed_add(struct seed *s, const uint8_t *f, size_t len, uint8_t flags)
{
	s->b[s->n++] = flags;
	s->b[s->n++] = (uint8_t)len;
	s->b[s->n++] = (uint8_t)(len >> 8);
	memcpy(s->b + s->n, f, len);
	s->n += len;
}

static void seed_write(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* SRTP (or SRTCP) of session 1's remote A, protected with its key. */
static size_t srtp_from_a(uint8_t *b, size_t len, bool rtcp, uint8_t suite)
{
	struct mg_srtp_policy p;
	struct mg_srtp_ctx *c;
	struct mg_srtp_buf sb = { b, (uint16_t)len, (uint16_t)(len + MG_SRTP_MAX_OVERHEAD) };
	char e[128];
	uint8_t r;

	memset(&p, 0, sizeof(p));
	p.suite = suite;
	p.dir = MG_SRTP_DIR_OUTBOUND;
	p.nkeys = 1;
	memcpy(p.keys[0].key, master, 16);
	memcpy(p.keys[0].salt, master + 16, suite == MG_SRTP_AEAD_AES_128_GCM ? 12 : 14);
	c = mg_srtp_ctx_create(&p, e, sizeof(e));
	if (c == NULL ||
	    (rtcp ? mg_srtp_protect_rtcp_burst(tw[0].eng, c, &sb, &r, 1)
		  : mg_srtp_protect_burst(tw[0].eng, c, &sb, &r, 1)) != 1) {
		fprintf(stderr, "seed: SRTP protect failed\n");
		exit(1);
	}
	mg_srtp_ctx_free(c);
	return sb.len;
}

static void write_seeds(const char *dir)
{
	static struct seed s;
	uint8_t pl[1500], f[2048];
	size_t n, fl;

	/* 1: SRTP to session 1 (relayed decrypted to B, raw fork), then SRTCP */
	memset(&s, 0, sizeof(s));
	for (uint16_t q = 1; q <= 3; q++) {
		n = srtp_from_a(pl, rtp(pl, 0, q, 160), false, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
		seed_add(&s, f, frame(f, REM_A, 40000, IP_A, 30000, pl, (uint16_t)n), 0);
	}
	n = srtp_from_a(pl, rtcp_sr(pl), true, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	seed_add(&s, f, frame(f, REM_A, 40001, IP_A, 30001, pl, (uint16_t)n), 0);
	seed_write(dir, "srtp-srtcp-session1", &s);

	/* 2: plain RTP and RTCP from B to session 1 leg 1 (encrypted toward A, fork) */
	memset(&s, 0, sizeof(s));
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)rtp(pl, 0, 7, 160)), 0);
	seed_add(&s, f, frame(f, REM_B, 40003, IP_B, 30003, pl, (uint16_t)rtcp_sr(pl)), 0);
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)rtp(pl, 8, 8, 160)), 0x80);
	seed_write(dir, "rtp-rtcp-plain-leg", &s);

	/* 3: latching leg, GCM toward the other, then a second source */
	memset(&s, 0, sizeof(s));
	seed_add(&s, f, frame(f, REM_B, 40010, IP_A, 30010, pl, (uint16_t)rtp(pl, 0, 1, 160)), 0);
	seed_add(&s, f, frame(f, CAND, 41000, IP_A, 30010, pl, (uint16_t)rtp(pl, 0, 2, 160)), 0);
	n = srtp_from_a(pl, rtp(pl, 0, 1, 160), false, MG_SRTP_AEAD_AES_128_GCM);
	seed_add(&s, f, frame(f, REM_B, 40012, IP_B, 30012, pl, (uint16_t)n), 0);
	seed_write(dir, "latch-gcm", &s);

	/* 4: strict + rtcp-mux: RTP, muxed RTCP, candidate, wrong port */
	memset(&s, 0, sizeof(s));
	seed_add(&s, f, frame(f, CAND, 40030, IP_A, 30020, pl, (uint16_t)rtp(pl, 0, 1, 160)), 0x80);
	seed_add(&s, f, frame(f, CAND, 40030, IP_A, 30020, pl, (uint16_t)rtcp_sr(pl)), 0);
	seed_add(&s, f, frame(f, REM_A, 40020, IP_A, 30020, pl, (uint16_t)rtp(pl, 0, 2, 160)), 0);
	seed_add(&s, f, frame(f, REM_A, 40099, IP_A, 30020, pl, (uint16_t)rtp(pl, 0, 3, 160)), 0);
	seed_write(dir, "strict-mux", &s);

	/* 5: RTP header oddities: CSRCs, extension, padding, version 1, short */
	memset(&s, 0, sizeof(s));
	n = rtp(pl, 0, 1, 160);
	pl[0] = 0x83; /* 3 CSRCs */
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)n), 0);
	n = rtp(pl, 0, 2, 160);
	pl[0] = 0x90; /* extension */
	pl[12] = 0xbe;
	pl[13] = 0xde;
	pl[15] = 2;
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)n), 0);
	n = rtp(pl, 0, 3, 160);
	pl[0] = 0xa0; /* padding */
	pl[n - 1] = 200;
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)n), 0);
	n = rtp(pl, 0, 4, 160);
	pl[0] = 0x40;
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)n), 0);
	seed_add(&s, f, frame(f, REM_B, 40002, IP_B, 30002, pl, 11), 0);
	seed_write(dir, "rtp-header-oddities", &s);

	/* 6: ARP request for us, reply from B, request for someone else */
	memset(&s, 0, sizeof(s));
	seed_add(&s, f, arp(f, RTE_ARP_OP_REQUEST, REM_B, IP_A, true), 0);
	seed_add(&s, f, arp(f, RTE_ARP_OP_REPLY, REM_A, IP_A, false), 0);
	seed_add(&s, f, arp(f, RTE_ARP_OP_REQUEST, REM_B, FORK_R, true), 0);
	seed_write(dir, "arp", &s);

	/* 7: ICMP echo: small, 1400 bytes, 1400 bytes in two segments, padded */
	memset(&s, 0, sizeof(s));
	seed_add(&s, f, icmp_echo(f, 56), 0);
	fl = icmp_echo(f, 1400);
	seed_add(&s, f, fl, 0);
	seed_add(&s, f, fl, 1 | (16 << 1)); /* split 64 bytes in */
	fl = icmp_echo(f, 4);
	memset(f + fl, 0xee, 20); /* Ethernet padding to 60 bytes */
	seed_add(&s, f, 60, 0);
	seed_write(dir, "icmp-echo", &s);

	/* 8: RTP in a chain of two segments (scattered RX): dropped as malformed */
	memset(&s, 0, sizeof(s));
	fl = frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)rtp(pl, 0, 9, 160));
	seed_add(&s, f, fl, 1 | (12 << 1));
	seed_write(dir, "rtp-chained", &s);

	/* 9: a VLAN tag, an IPv4 fragment, a truncated IP header, IP options, IPv6 */
	memset(&s, 0, sizeof(s));
	fl = frame(f, REM_B, 40002, IP_B, 30002, pl, (uint16_t)rtp(pl, 0, 10, 160));
	{
		uint8_t v[2048];

		memcpy(v, f, 12);
		v[12] = 0x81;
		v[13] = 0x00;
		v[14] = 0x00;
		v[15] = 0x05;
		memcpy(v + 16, f + 12, fl - 12);
		seed_add(&s, v, fl + 4, 0);
	}
	{
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);

		ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		seed_add(&s, f, fl, 0);
		seed_add(&s, f, RTE_ETHER_HDR_LEN + 10, 0);
		ip->fragment_offset = 0;
		ip->version_ihl = 0x46; /* 4 bytes of options: the UDP header moves */
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		seed_add(&s, f, fl, 0);
		f[12] = 0x86;
		f[13] = 0xdd;
		seed_add(&s, f, fl, 0);
	}
	seed_write(dir, "vlan-fragment-truncated", &s);
	exit(0);
}

/* ---------------------------------------------------------------- setup */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char a0[] = "dp_frames_fuzz", a1[] = "--no-huge", a2[] = "-m", a3[] = "64",
		    a4[] = "--no-pci", a5[] = "--no-shconf", a6[] = "--no-telemetry",
		    a7[] = "--log-level=*:error", a8[] = "-l", a9[] = "0";
	char *eal[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, NULL };
	const char *seeds = getenv("MG_FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	mg_log_init("dp_frames_fuzz", MG_LOG_ERR, false);
	if (rte_eal_init(10, eal) < 0) {
		fprintf(stderr, "dp_frames_fuzz: rte_eal_init failed\n");
		abort();
	}
	dp_ports[0].mac = our_mac;
	if (bed_init("f", POOL_N, 256, 1024, 64, 2) < 0)
		abort();
	for (unsigned w = 0; w < 2; w++) {
		char name[32];

		snprintf(name, sizeof(name), "f_handoff%u", w);
		tw[w].handoff = rte_ring_create(name, 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (bed_worker(&tw[w], w) < 0 || tw[w].handoff == NULL)
			abort();
	}
	tw[0].main_tx = dp_main_tx_ring; /* dp_neigh_init() made it */
	if (tw[0].main_tx == NULL)
		abort();
	dp_n_run_workers = 2;
	fake_now = rte_get_tsc_cycles() + 120 * rte_get_tsc_hz(); /* past any deadline of now */
	verbose = getenv("MG_FUZZ_VERBOSE") != NULL;
	if (seeds != NULL)
		write_seeds(seeds);
	return 0;
}
