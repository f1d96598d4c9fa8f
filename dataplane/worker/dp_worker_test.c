/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's packet pipeline (process(), this file includes dp_worker.c)
 * under a real EAL without ports: real session tables, SRTP engine, neighbour
 * table and mbuf pools, but tiny pools (so a test can empty them) and this
 * thread as worker 0. Nothing has a resolved neighbour, so every packet the
 * pipeline sends lands on the main lcore's slow ring, where the test reads it.
 */
#define ALLOW_EXPERIMENTAL_API
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp_worker.c"
#include "dp_worker_bed.h"

/* REM_A:40000 sends SRTP to leg 0, REM_B:40002 gets the relayed RTP,
 * FORK_R:40004 the raw fork */
#define POOL_N 64
#define RTP_LEN (12 + 160)

static struct dp_worker tw;
static struct mg_srtp_ctx *sender; /* remote A's outbound context (leg 0's rx key) */

/* An Ethernet/IPv4/UDP frame from @p sip:@p sport to @p dip:@p dport carrying @p pl. */
static struct rte_mbuf *frame(uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport,
			      const uint8_t *pl, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp_pktmbuf_pool);
	uint16_t ulen = (uint16_t)(sizeof(struct rte_udp_hdr) + len);
	uint16_t tot = (uint16_t)(sizeof(struct rte_ipv4_hdr) + ulen);
	uint8_t *f = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(RTE_ETHER_HDR_LEN + tot))
			       : NULL;

	if (f == NULL)
		abort(); /* 64 mbufs of 2 kB, at most a few in use: cannot happen */
	bed_udp_frame(f, NULL, NULL, sip, sport, dip, dport, pl, len);
	m->port = 0;
	return m;
}

/* An RTP packet of SSRC @p ssrc, sequence number @p seq (payload byte i =
 * seq + i), protected by `sender` into @p b; returns its length. */
static uint16_t srtp_build(uint8_t b[RTP_LEN + MG_SRTP_MAX_OVERHEAD], uint32_t ssrc, uint16_t seq)
{
	struct mg_srtp_buf sb = { b, RTP_LEN, RTP_LEN + MG_SRTP_MAX_OVERHEAD };
	uint8_t r;

	memset(b, 0, RTP_LEN + MG_SRTP_MAX_OVERHEAD);
	b[0] = 0x80;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (unsigned i = 0; i < 160; i++)
		b[12 + i] = (uint8_t)(seq + i);
	assert_int_equal(mg_srtp_protect_burst(tw.eng, sender, &sb, &r, 1), 1);
	return sb.len;
}

/* SRTP from REM_A:40000 to IP_A:30000 (SSRC 0x12000034, RTP seq @p seq);
 * @p wire gets the UDP payload. */
static struct rte_mbuf *srtp_frame(uint16_t seq, bool tamper, uint8_t *wire, uint16_t *wire_len)
{
	uint8_t b[RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	uint16_t len = srtp_build(b, 0x12000034, seq);

	if (tamper)
		b[40] ^= 0x5a;
	memcpy(wire, b, len);
	*wire_len = len;
	return frame(REM_A, 40000, IP_A, 30000, b, len);
}

/* What the pipeline sent: destination port and UDP payload of each slow-ring packet. */
struct sent {
	unsigned n;
	uint16_t dport[8];
	uint16_t len[8];
	uint8_t pl[8][RTP_LEN + MG_SRTP_MAX_OVERHEAD];
};

static void collect(struct sent *s)
{
	struct rte_mbuf *m;

	memset(s, 0, sizeof(*s));
	while (rte_ring_sc_dequeue(dp_slow_ring, (void **)&m) == 0) {
		const struct rte_udp_hdr *u =
			rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *,
						RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr));
		uint16_t len = (uint16_t)(m->pkt_len - DP_HDR_LEN);

		assert_true(s->n < 8);
		assert_true(len <= sizeof(s->pl[0]));
		s->dport[s->n] = rte_be_to_cpu_16(u->dst_port);
		s->len[s->n] = len;
		/* a fork's packet may be a chain: read it as one */
		const void *d = rte_pktmbuf_read(m, DP_HDR_LEN, len, s->pl[s->n]);

		assert_non_null(d);
		if (d != s->pl[s->n])
			memcpy(s->pl[s->n], d, len);
		s->n++;
		rte_pktmbuf_free(m);
	}
}

static int find(const struct sent *s, uint16_t dport)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->dport[i] == dport)
			return (int)i;
	return -1;
}

static void stats_of(uint64_t id, struct mg_msg_session_stats *st)
{
	const char *err = NULL;

	assert_int_equal(dp_session_stats(id, st, &err), 0);
}

static void stats(struct mg_msg_session_stats *st)
{
	stats_of(1, st);
}

/* Normal case: the raw fork of the SRTP leg gets the bytes as received. */
static void test_raw_fork_gets_wire_bytes(void **state)
{
	uint8_t wire[RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	uint16_t wl;
	struct rte_mbuf *pkts[1] = { srtp_frame(1, false, wire, &wl) };
	struct mg_msg_session_stats st;
	static struct sent s;
	(void)state;

	process(&tw, pkts, 1, true);
	collect(&s);
	assert_int_equal(s.n, 2);
	int main_i = find(&s, 40002), fork_i = find(&s, 40004);

	assert_true(main_i >= 0 && fork_i >= 0);
	assert_int_equal(s.len[main_i], RTP_LEN); /* decrypted toward the plain leg */
	assert_int_equal(s.pl[main_i][12 + 5], (uint8_t)(1 + 5));
	assert_int_equal(s.len[fork_i], wl); /* as received: SRTP, tag included */
	assert_memory_equal(s.pl[fork_i], wire, wl);
	stats(&st);
	assert_int_equal(st.forks[0].packets, 1);
	assert_int_equal(st.forks[0].drops, 0);
}

/*
 * The raw copy (stage 2) fails because the pool is empty; a tampered packet
 * in the same burst is freed by the SRTP stage, so a copy made later (stage 4)
 * would succeed. The raw fork must then skip the packet, counted, and never
 * get the decrypted one.
 */
static void test_raw_fork_no_mbuf_never_plaintext(void **state)
{
	uint8_t wire[2][RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	uint16_t wl[2];
	struct rte_mbuf *pkts[2] = { srtp_frame(2, false, wire[0], &wl[0]),
				     srtp_frame(3, true, wire[1], &wl[1]) };
	struct rte_mbuf *held[POOL_N];
	unsigned nh = 0;
	struct mg_msg_session_stats st0, st;
	uint64_t nombuf0 = tw.net.drops[DP_NET_DROP_NO_MBUF];
	static struct sent s;
	(void)state;

	stats(&st0);
	while (nh < POOL_N && (held[nh] = rte_pktmbuf_alloc(dp_pktmbuf_pool)) != NULL)
		nh++;
	assert_true(nh < POOL_N);
	assert_int_equal(rte_mempool_avail_count(dp_pktmbuf_pool), 0);

	process(&tw, pkts, 2, true);
	collect(&s);
	for (unsigned i = 0; i < nh; i++)
		rte_pktmbuf_free(held[i]);
	stats(&st);
	/* the good packet still reaches the other leg, decrypted */
	assert_int_equal(st.legs[0][0].drops[MG_DROP_AUTH] - st0.legs[0][0].drops[MG_DROP_AUTH], 1);
	int main_i = find(&s, 40002);

	assert_true(main_i >= 0);
	assert_int_equal(s.pl[main_i][12 + 7], (uint8_t)(2 + 7));
	/* nothing at all toward the raw fork's destination, and the drop counted */
	if (find(&s, 40004) >= 0)
		fail_msg("the raw fork was sent %u bytes%s", s.len[find(&s, 40004)],
			 s.len[find(&s, 40004)] == RTP_LEN ? " of decrypted RTP" : "");
	assert_int_equal(s.n, 1);
	assert_int_equal(st.forks[0].packets, st0.forks[0].packets);
	assert_int_equal(st.forks[0].drops, st0.forks[0].drops + 1);
	assert_int_equal(tw.net.drops[DP_NET_DROP_NO_MBUF], nombuf0 + 1);
}

#define A2 RTE_BE32(0xc0000203) /* 192.0.2.3: RFC 3960 candidate */
#define A3 RTE_BE32(0xc0000204) /* 192.0.2.4: candidate on port 65535 */

/*
 * RTCP from @p sip:@p sport to session @p id's leg 0 RTCP port @p dport: true
 * if relayed to B's RTCP port @p to, false if dropped as source_mismatch
 * (anything else fails the test).
 */
static bool rtcp_from(uint64_t id, uint32_t sip, uint16_t sport, uint16_t dport, uint16_t to)
{
	static const uint8_t sr[28] = { 0x80, 200, 0, 6, 0, 0, 0x51, 0x51 };
	struct rte_mbuf *m = frame(sip, sport, IP_A, dport, sr, sizeof(sr));
	struct mg_msg_session_stats a, b;
	static struct sent s;

	stats_of(id, &a);
	process(&tw, &m, 1, true);
	collect(&s);
	stats_of(id, &b);
	uint64_t mism = b.legs[0][0].drops[MG_DROP_SOURCE_MISMATCH] -
			a.legs[0][0].drops[MG_DROP_SOURCE_MISMATCH];

	if (s.n == 1 && s.dport[0] == to && s.len[0] == sizeof(sr) && mism == 0)
		return true;
	if (s.n == 0 && mism == 1)
		return false;
	fail_msg("RTCP from port %u: %u sent (port %u), source_mismatch +%" PRIu64, sport, s.n,
		 s.n ? s.dport[0] : 0, mism);
	return false;
}

/* SPEC 5, strict policy: RTCP only from the RTCP port of an allowed source. */
static void test_strict_rtcp_source_port(void **state)
{
	struct mg_msg_session def;
	const char *err = NULL;
	uint8_t rtp[RTP_LEN] = { 0x80 };
	struct rte_mbuf *m;
	static struct sent s;
	(void)state;

	/* remote A:40010 with a=rtcp:40015, candidates A2:40020 and A3:65535 */
	memset(&def, 0, sizeof(def));
	def.id = 2;
	addr(&def.legs[0].local, IP_A, 30010);
	addr(&def.legs[0].remote, REM_A, 40010);
	def.legs[0].remote_rtcp_port = 40015;
	addr(&def.legs[0].candidates[0], A2, 40020);
	addr(&def.legs[0].candidates[1], A3, 65535);
	def.legs[0].n_candidates = 2;
	def.legs[0].source_policy = MG_SOURCE_STRICT;
	addr(&def.legs[1].local, IP_B, 30012);
	addr(&def.legs[1].remote, REM_B, 40012);
	assert_int_equal(dp_session_add(&def, false, &err), 0);

	/* nobody has won yet: the remote from its a=rtcp port only */
	assert_false(rtcp_from(2, REM_A, 40011, 30011, 40013)); /* RTP + 1: not its RTCP port */
	assert_false(rtcp_from(2, REM_A, 40010, 30011, 40013));
	assert_true(rtcp_from(2, REM_A, 40015, 30011, 40013));
	/* a candidate from its port + 1 only */
	assert_false(rtcp_from(2, A2, 40015, 30011, 40013));
	assert_false(rtcp_from(2, A2, 40020, 30011, 40013));
	assert_true(rtcp_from(2, A2, 40021, 30011, 40013));
	/* a candidate on 65535 has no RTCP port: not 0, not 65535 */
	assert_false(rtcp_from(2, A3, 0, 30011, 40013));
	assert_false(rtcp_from(2, A3, 65535, 30011, 40013));

	/* A3's RTP wins; then nothing is its RTCP port, and the others lost */
	m = frame(A3, 65535, IP_A, 30010, rtp, sizeof(rtp));
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.dport[0], 40012);
	assert_false(rtcp_from(2, A3, 0, 30011, 40013));
	assert_false(rtcp_from(2, A3, 65535, 30011, 40013));
	assert_false(rtcp_from(2, A3, 40015, 30011, 40013)); /* not the SDP remote's a=rtcp */
	assert_false(rtcp_from(2, REM_A, 40015, 30011, 40013));
	assert_false(rtcp_from(2, A2, 40021, 30011, 40013));

	/* rtcp-mux: RTCP (told apart by payload type) only from the RTP port */
	memset(&def, 0, sizeof(def));
	def.id = 3;
	addr(&def.legs[0].local, IP_A, 30020);
	addr(&def.legs[0].remote, REM_A, 40020);
	def.legs[0].flags = MG_LEG_F_RTCP_MUX;
	def.legs[0].source_policy = MG_SOURCE_STRICT;
	addr(&def.legs[1].local, IP_B, 30022);
	addr(&def.legs[1].remote, REM_B, 40022);
	assert_int_equal(dp_session_add(&def, false, &err), 0);
	assert_false(rtcp_from(3, REM_A, 40021, 30020, 40023));
	assert_true(rtcp_from(3, REM_A, 40020, 30020, 40023));
}

/* ------------------------------------------------ latching (SPEC 12) */

#define ATK RTE_BE32(0xc0000205) /* 192.0.2.5: an injector */

/*
 * One packet from @p sip:@p sport to @p dip:@p dport (RTP, or an RTCP SR);
 * SRTP/SRTCP under the test key when @p srtp (@p tamper: a forgery).
 * Returns the destination port it was relayed to, 0 if it was dropped as
 * source_mismatch; any other outcome fails unless @p other_drop names the
 * reason expected instead (then returns 0).
 */
static uint16_t pkt_from(uint64_t id, unsigned leg, uint32_t sip, uint16_t sport, uint32_t dip,
			 uint16_t dport, bool rtcp, bool srtp, bool tamper, int other_drop)
{
	static uint16_t seq = 100;
	uint8_t b[RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	struct mg_srtp_buf sb = { b, rtcp ? 28 : RTP_LEN, sizeof(b) };
	struct mg_msg_session_stats a, z;
	static struct sent s;
	uint8_t r;
	int reason = other_drop >= 0 ? other_drop : MG_DROP_SOURCE_MISMATCH;

	memset(b, 0, sizeof(b));
	b[0] = 0x80;
	if (rtcp) {
		b[1] = 200;
		b[3] = 6;
		b[7] = 0x51;
	} else {
		seq++;
		b[2] = (uint8_t)(seq >> 8);
		b[3] = (uint8_t)seq;
		b[11] = 0x77;
	}
	if (srtp) {
		unsigned ok = rtcp ? mg_srtp_protect_rtcp_burst(tw.eng, sender, &sb, &r, 1)
				   : mg_srtp_protect_burst(tw.eng, sender, &sb, &r, 1);

		assert_int_equal(ok, 1);
		if (tamper)
			b[sb.len - 1] ^= 0x5a; /* the tag */
	}
	struct rte_mbuf *m = frame(sip, sport, dip, dport, b, sb.len);

	stats_of(id, &a);
	process(&tw, &m, 1, true);
	collect(&s);
	stats_of(id, &z);
	uint64_t d = z.legs[leg][0].drops[reason] - a.legs[leg][0].drops[reason];
	uint64_t all = 0;

	for (unsigned k = 0; k < MG_PROTO_DROP_SLOTS; k++)
		all += z.legs[leg][0].drops[k] - a.legs[leg][0].drops[k];
	if (s.n == 1 && all == 0)
		return s.dport[0];
	if (s.n == 0 && d == 1 && all == 1)
		return 0;
	fail_msg("packet from port %u to %u: %u sent, drops +%" PRIu64 " (+%" PRIu64 " %s)",
		 sport, dport, s.n, all, d,
		 mg_proto_drop_name((unsigned)reason));
	return 0;
}

#define RTP_IN(id, sip, sport, dport) pkt_from(id, 0, sip, sport, IP_A, dport, false, false, false, -1)
#define RTCP_IN(id, sip, sport, dport) pkt_from(id, 0, sip, sport, IP_A, dport, true, false, false, -1)
#define SRTP_IN(id, sip, sport, dport) pkt_from(id, 0, sip, sport, IP_A, dport, false, true, false, -1)

static struct dp_src_rt *src_of(uint64_t id, unsigned leg)
{
	const struct dp_session_rt *s = dp_session_find(id);

	assert_non_null(s);
	return s->leg[leg].src;
}

/* leg 0: IP_A:@p port from REM_A:@p rport (latching), plain or SRTP on receive;
 * leg 1: IP_B:@p port + 2 toward REM_B:@p rport + 2 */
static void latch_def(struct mg_msg_session *def, uint64_t id, uint16_t port, uint16_t rport,
		      bool srtp, uint8_t flags)
{
	memset(def, 0, sizeof(*def));
	def->id = id;
	addr(&def->legs[0].local, IP_A, port);
	addr(&def->legs[0].remote, REM_A, rport);
	def->legs[0].flags = flags;
	if (srtp) {
		def->legs[0].rx.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
		def->legs[0].rx.key_len = 16;
		def->legs[0].rx.salt_len = 14;
		memcpy(def->legs[0].rx.key, master, 16);
		memcpy(def->legs[0].rx.salt, master + 16, 14);
	}
	addr(&def->legs[1].local, IP_B, (uint16_t)(port + 2));
	addr(&def->legs[1].remote, REM_B, (uint16_t)(rport + 2));
}

static void latch_add(uint64_t id, uint16_t port, uint16_t rport, bool srtp, uint8_t flags,
		      bool modify)
{
	struct mg_msg_session def;
	const char *err = NULL;

	latch_def(&def, id, port, rport, srtp, flags);
	if (dp_session_add(&def, modify, &err) != 0)
		fail_msg("session %" PRIu64 ": %s", id, err);
}

/* Plain leg: the first well-formed packet teaches the source, from then on
 * nothing else gets through, RTP or RTCP, and replies go to it. */
static void test_latch_first_valid_packet(void **state)
{
	static const uint8_t bad[12] = { 0x40 }; /* RTP version 1 */
	struct rte_mbuf *m;
	static struct sent s;
	(void)state;

	latch_add(10, 30100, 40100, false, 0, false);
	/* a malformed packet from the injector teaches nothing */
	m = frame(ATK, 6000, IP_A, 30100, bad, sizeof(bad));
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 0);
	assert_int_equal(src_of(10, 0)->flags, 0);
	/* the peer, from behind a NAT (not the SDP's address): learned */
	assert_int_equal(RTP_IN(10, A2, 41000, 30100), 40102);
	assert_int_equal(src_of(10, 0)->flags, DP_SRC_RTP);
	assert_int_equal(src_of(10, 0)->ip, A2);
	/* everyone else: the injector, the SDP's own address, the peer's
	 * address from another port */
	assert_int_equal(RTP_IN(10, ATK, 6000, 30100), 0);
	assert_int_equal(RTP_IN(10, REM_A, 40100, 30100), 0);
	assert_int_equal(RTP_IN(10, A2, 41002, 30100), 0);
	assert_int_equal(RTP_IN(10, A2, 41000, 30100), 40102);
	/* RTCP: from the learned address only; its first valid RTCP packet
	 * gives the port (NAT), then only that port */
	assert_int_equal(RTCP_IN(10, ATK, 6001, 30101), 0);
	assert_int_equal(RTCP_IN(10, A2, 41001, 30101), 40103);
	assert_int_equal(src_of(10, 0)->flags, DP_SRC_RTP | DP_SRC_RTCP);
	assert_int_equal(RTCP_IN(10, A2, 41003, 30101), 0);
	assert_int_equal(RTCP_IN(10, REM_A, 40101, 30101), 0);
	assert_int_equal(RTCP_IN(10, A2, 41001, 30101), 40103);
	/* B's media goes to the learned source */
	assert_int_equal(pkt_from(10, 1, REM_B, 40102, IP_B, 30102, false, false, false, -1), 41000);
	assert_int_equal(pkt_from(10, 1, REM_B, 40103, IP_B, 30103, true, false, false, -1), 41001);
	/* without media-handover, silence changes nothing */
	src_of(10, 0)->last_tsc = 0;
	assert_int_equal(RTP_IN(10, ATK, 6000, 30100), 0);
	assert_int_equal(src_of(10, 0)->ip, A2);
}

/* Several sources in one burst: the first valid one wins, the rest are
 * dropped even though none was learned when the burst arrived. */
static void test_latch_one_burst(void **state)
{
	uint8_t rtp[RTP_LEN] = { 0x80 };
	struct rte_mbuf *m[3] = { frame(A2, 42000, IP_A, 30110, rtp, sizeof(rtp)),
				  frame(ATK, 6000, IP_A, 30110, rtp, sizeof(rtp)),
				  frame(A2, 42000, IP_A, 30110, rtp, sizeof(rtp)) };
	struct mg_msg_session_stats st;
	static struct sent s;
	(void)state;

	latch_add(11, 30110, 40110, false, 0, false);
	process(&tw, m, 3, true);
	collect(&s);
	assert_int_equal(s.n, 2);
	stats_of(11, &st);
	assert_int_equal(st.legs[0][0].drops[MG_DROP_SOURCE_MISMATCH], 1);
	assert_int_equal(src_of(11, 0)->ip, A2);
}

/* SRTP leg: a forgery cannot latch (it fails as auth before any source is
 * learned); once learned, another source is dropped before decryption. */
static void test_latch_srtp_needs_auth(void **state)
{
	struct mg_msg_session_stats st;
	(void)state;

	latch_add(12, 30120, 40120, true, 0, false);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pkt_from(12, 0, ATK, 6000, IP_A, 30120, false, true, true,
					  MG_DROP_AUTH), 0);
	assert_int_equal(pkt_from(12, 0, ATK, 6001, IP_A, 30121, true, true, true, MG_DROP_AUTH),
			 0);
	assert_int_equal(src_of(12, 0)->flags, 0);
	assert_int_equal(SRTP_IN(12, A2, 42000, 30120), 40122);
	assert_int_equal(src_of(12, 0)->ip, A2);
	/* a forgery now is a source_mismatch (no decryption spent on it), and
	 * so is a packet that would authenticate (replayed from elsewhere) */
	assert_int_equal(pkt_from(12, 0, ATK, 6000, IP_A, 30120, false, true, true, -1), 0);
	assert_int_equal(SRTP_IN(12, ATK, 6000, 30120), 0);
	stats_of(12, &st);
	assert_int_equal(st.legs[0][0].drops[MG_DROP_AUTH], 4);
	assert_int_equal(src_of(12, 0)->ip, A2);
	assert_int_equal(SRTP_IN(12, A2, 42000, 30120), 40122);
}

/* SRTP from @p sip:@p sport to IP_A:@p dport with SSRC @p ssrc and sequence
 * number @p seq; @p wire/@p wire_len (may be NULL) get the UDP payload. */
static struct rte_mbuf *srtp_ssrc_frame(uint32_t sip, uint16_t sport, uint16_t dport, uint32_t ssrc,
					uint16_t seq, uint8_t *wire, uint16_t *wire_len)
{
	uint8_t b[RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	uint16_t len = srtp_build(b, ssrc, seq);

	if (wire) {
		memcpy(wire, b, len);
		*wire_len = len;
	}
	return frame(sip, sport, IP_A, dport, b, len);
}

/* The session's SRTP receive context keeps its first SSRC inside; the
 * worker takes room for the next ones from the dataplane's pool when a
 * second SSRC shows up (DP_STATS ssrc_rooms_used), and both SSRCs keep
 * their own state: each one's replayed packet is dropped as a replay, the
 * next of each is forwarded. */
static void test_srtp_second_ssrc_room(void **state)
{
	struct mg_msg_dp_stats before, after;
	uint8_t w1[RTP_LEN + MG_SRTP_MAX_OVERHEAD], w2[RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	uint16_t l1, l2;
	struct rte_mbuf *m;
	struct mg_msg_session_stats a, z;
	static struct sent s;
	(void)state;

	latch_add(31, 30310, 40310, true, 0, false);
	dp_session_lazy_pools(&before);
	assert_true(before.ssrc_rooms > 0);
	m = srtp_ssrc_frame(A2, 42000, 30310, 0x5a5a0001, 1000, w1, &l1);
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 1);
	dp_session_lazy_pools(&after);
	assert_int_equal(after.ssrc_rooms_used, before.ssrc_rooms_used); /* one SSRC: inside */
	m = srtp_ssrc_frame(A2, 42000, 30310, 0x5a5a0002, 7000, w2, &l2);
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 1);
	dp_session_lazy_pools(&after);
	assert_int_equal(after.ssrc_rooms_used, before.ssrc_rooms_used + 1);
	assert_int_equal(after.ssrc_rooms_empty, before.ssrc_rooms_empty);
	stats_of(31, &a);
	m = frame(A2, 42000, IP_A, 30310, w1, l1);
	process(&tw, &m, 1, true);
	m = frame(A2, 42000, IP_A, 30310, w2, l2);
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 0);
	stats_of(31, &z);
	assert_int_equal(z.legs[0][0].drops[MG_DROP_REPLAY] - a.legs[0][0].drops[MG_DROP_REPLAY], 2);
	m = srtp_ssrc_frame(A2, 42000, 30310, 0x5a5a0001, 1001, NULL, NULL);
	process(&tw, &m, 1, true);
	m = srtp_ssrc_frame(A2, 42000, 30310, 0x5a5a0002, 7001, NULL, NULL);
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 2);
}

/* A session's drop counters are a block it takes at its first drop: none
 * while it only forwards, one (the same) for every later drop, and the
 * counts by reason are what was dropped. */
static void test_drop_block_first_drop(void **state)
{
	struct mg_msg_dp_stats before, after;
	struct mg_msg_session_stats st;
	(void)state;

	latch_add(32, 30320, 40320, false, 0, false);
	dp_session_lazy_pools(&before);
	assert_true(before.drop_blocks > 0);
	assert_int_equal(RTP_IN(32, A2, 41000, 30320), 40322);
	assert_int_equal(RTP_IN(32, A2, 41000, 30320), 40322);
	dp_session_lazy_pools(&after);
	assert_int_equal(after.drop_blocks_used, before.drop_blocks_used);
	stats_of(32, &st);
	for (unsigned r = 0; r < MG_PROTO_DROP_SLOTS; r++)
		assert_int_equal(st.legs[0][0].drops[r], 0);
	assert_int_equal(RTP_IN(32, ATK, 6000, 30320), 0);
	dp_session_lazy_pools(&after);
	assert_int_equal(after.drop_blocks_used, before.drop_blocks_used + 1);
	assert_int_equal(RTP_IN(32, ATK, 6000, 30320), 0);
	assert_int_equal(RTP_IN(32, ATK, 6002, 30320), 0);
	dp_session_lazy_pools(&after);
	assert_int_equal(after.drop_blocks_used, before.drop_blocks_used + 1);
	assert_int_equal(after.drop_blocks_empty, before.drop_blocks_empty);
	stats_of(32, &st);
	assert_int_equal(st.legs[0][0].drops[MG_DROP_SOURCE_MISMATCH], 3);
	assert_int_equal(st.legs[0][0].packets, 2);
}

/* NG block media: a blocked leg still learns its source and counts what it
 * receives, but forwards nothing (drop reason blocked); unblocked by a
 * MODIFY, it forwards again. */
static void test_block_leg(void **state)
{
	struct mg_msg_session_stats st;
	(void)state;

	latch_add(20, 30200, 40200, false, MG_LEG_F_BLOCK, false);
	assert_int_equal(pkt_from(20, 0, A2, 41000, IP_A, 30200, false, false, false, MG_DROP_BLOCKED), 0);
	assert_int_equal(pkt_from(20, 0, A2, 41000, IP_A, 30200, false, false, false, MG_DROP_BLOCKED), 0);
	assert_int_equal(src_of(20, 0)->ip, A2); /* learned all the same */
	stats_of(20, &st);
	assert_int_equal(st.legs[0][0].packets, 2);
	assert_int_equal(st.legs[0][0].drops[MG_DROP_BLOCKED], 2);
	latch_add(20, 30200, 40200, false, 0, true);
	assert_int_equal(RTP_IN(20, A2, 41000, 30200), 40202);
	stats_of(20, &st);
	assert_int_equal(st.legs[0][0].drops[MG_DROP_BLOCKED], 2);
}

/* An RTCP RR's first report block is kept for queries (NG query's loss
 * and jitter, SPEC 8); other RTCP leaves it alone. */
static void test_rtcp_report_kept(void **state)
{
	static const uint8_t rr[32] = {
		0x81, 201, 0, 7, 0xaa, 0xbb, 0xcc, 0xdd, /* RR, one block, sender */
		0x11, 0x22, 0x33, 0x44,                   /* about SSRC 0x11223344 */
		0x05, 0x00, 0x00, 0x07,                   /* fraction 5, cumulative 7 */
		0, 0, 0x01, 0x00,                         /* highest sequence */
		0, 0, 0, 0x99,                            /* jitter */
	};
	struct mg_msg_session_stats st;
	struct rte_mbuf *m;
	static struct sent s;
	(void)state;

	latch_add(21, 30210, 40210, false, 0, false);
	m = frame(REM_A, 40211, IP_A, 30211, rr, sizeof(rr));
	process(&tw, &m, 1, true);
	collect(&s);
	stats_of(21, &st);
	assert_int_equal(st.legs[0][0].rtcp_packets, 1);
	assert_int_equal(st.legs[0][0].rr_ssrc, 0x11223344);
	assert_int_equal(st.legs[0][0].rr_lost, 0x05000007);
	assert_int_equal(st.legs[0][0].rr_jitter, 0x99);
	/* an SR without report blocks (RC 0) changes nothing */
	assert_int_equal(RTCP_IN(21, REM_A, 40211, 30211), 40213);
	stats_of(21, &st);
	assert_int_equal(st.legs[0][0].rr_ssrc, 0x11223344);
}

/* media-handover on an SRTP leg: only a packet that authenticates moves it. */
static void test_handover_srtp(void **state)
{
	struct mg_msg_session_stats st;
	(void)state;

	latch_add(13, 30130, 40130, true, MG_LEG_F_HANDOVER, false);
	assert_int_equal(SRTP_IN(13, A2, 42000, 30130), 40132);
	/* forgeries from a new source: tried, fail, move nothing */
	assert_int_equal(pkt_from(13, 0, ATK, 6000, IP_A, 30130, false, true, true, MG_DROP_AUTH),
			 0);
	assert_int_equal(src_of(13, 0)->ip, A2);
	assert_int_equal(src_of(13, 0)->handovers, 0);
	/* RTCP never moves it, authenticated or not */
	assert_int_equal(pkt_from(13, 0, REM_A, 7001, IP_A, 30131, true, true, false, -1), 0);
	/* the peer itself from a new address (a NAT rebinding, a new network) */
	assert_int_equal(SRTP_IN(13, REM_A, 7000, 30130), 40132);
	assert_int_equal(src_of(13, 0)->ip, REM_A);
	assert_int_equal(src_of(13, 0)->rtp_port, RTE_BE16(7000));
	assert_int_equal(src_of(13, 0)->rtcp_port, RTE_BE16(7001));
	assert_int_equal(src_of(13, 0)->handovers, 1);
	assert_int_equal(SRTP_IN(13, A2, 42000, 30130), 40132); /* and back */
	assert_int_equal(src_of(13, 0)->ip, A2);
	assert_int_equal(pkt_from(13, 1, REM_B, 40132, IP_B, 30132, false, false, false, -1),
			 42000);
	stats_of(13, &st);
	assert_int_equal(st.legs[0][0].drops[MG_DROP_AUTH], 1);
}

/* media-handover on a plain leg: a new source only after the learned one
 * was silent for the configured time. */
static void test_handover_plain_after_silence(void **state)
{
	struct dp_src_rt *r;
	uint64_t saved = dp_src_silence_tsc;
	(void)state;

	dp_src_silence_tsc = rte_get_tsc_hz() * 3600; /* nothing is that silent here */
	latch_add(14, 30140, 40140, false, MG_LEG_F_HANDOVER, false);
	assert_int_equal(RTP_IN(14, A2, 42000, 30140), 40142);
	assert_int_equal(RTP_IN(14, ATK, 6000, 30140), 0);
	assert_int_equal(src_of(14, 0)->ip, A2);
	/* the learned source went quiet long enough: the next one takes over */
	dp_src_silence_tsc = rte_get_tsc_hz();
	r = src_of(14, 0);
	r->last_tsc = rte_rdtsc() - 2 * rte_get_tsc_hz();
	assert_int_equal(RTP_IN(14, REM_A, 7000, 30140), 40142);
	assert_int_equal(r->ip, REM_A);
	assert_int_equal(r->handovers, 1);
	/* and the old one, back at once, is now the stranger */
	assert_int_equal(RTP_IN(14, A2, 42000, 30140), 0);
	assert_int_equal(pkt_from(14, 1, REM_B, 40142, IP_B, 30142, false, false, false, -1),
			 7000);
	dp_src_silence_tsc = saved;
}

/* MODIFY keeps a learned source while the remote is unchanged (a re-INVITE
 * must not re-open the leg), as do FORK_ADD/DEL; a new remote starts over. */
static void test_latch_modify(void **state)
{
	struct mg_msg_fork f;
	const char *err = NULL;
	(void)state;

	latch_add(15, 30150, 40150, false, 0, false);
	assert_int_equal(RTP_IN(15, A2, 42000, 30150), 40152);
	latch_add(15, 30150, 40150, false, 0, true);
	assert_int_equal(RTP_IN(15, ATK, 6000, 30150), 0);
	memset(&f, 0, sizeof(f));
	f.session_id = 15;
	f.fork_id = 1;
	addr(&f.local, IP_B, 30154);
	addr(&f.remote, FORK_R, 40154);
	assert_int_equal(dp_fork_add(&f, &err), 0);
	/* a new session object: the source it learned came along */
	assert_int_equal(src_of(15, 0)->ip, A2);
	assert_int_equal(RTP_IN(15, ATK, 6000, 30150), 0);
	struct mg_msg_fork_id fid = { .session_id = 15, .fork_id = 1 };

	assert_int_equal(dp_fork_del(&fid, &err), 0);
	assert_int_equal(RTP_IN(15, ATK, 6000, 30150), 0);
	/* the peer moved (another remote in the SDP): learn again */
	latch_add(15, 30150, 40160, false, 0, true);
	assert_int_equal(src_of(15, 0)->flags, 0);
	assert_int_equal(RTP_IN(15, REM_A, 40160, 30150), 40162); /* B moved too */
	assert_int_equal(RTP_IN(15, A2, 42000, 30150), 0);
}

/* RTCP before any RTP teaches the address and RTCP port; RTP must then come
 * from that address. */
static void test_latch_rtcp_first(void **state)
{
	(void)state;

	latch_add(16, 30160, 40160, false, 0, false);
	assert_int_equal(RTCP_IN(16, A2, 42001, 30161), 40163);
	assert_int_equal(src_of(16, 0)->flags, DP_SRC_RTCP);
	assert_int_equal(RTP_IN(16, ATK, 6000, 30160), 0);
	assert_int_equal(RTP_IN(16, A2, 42000, 30160), 40162);
	assert_int_equal(src_of(16, 0)->flags, DP_SRC_RTP | DP_SRC_RTCP);
	assert_int_equal(RTP_IN(16, A2, 42002, 30160), 0);
	assert_int_equal(RTCP_IN(16, A2, 42003, 30161), 0);
	/* rtcp-mux: one source for both */
	latch_add(17, 30170, 40170, false, MG_LEG_F_RTCP_MUX, false);
	assert_int_equal(RTCP_IN(17, A2, 42000, 30170), 40173);
	assert_int_equal(RTCP_IN(17, A2, 42001, 30170), 0);
	assert_int_equal(RTP_IN(17, A2, 42001, 30170), 0);
	assert_int_equal(RTP_IN(17, A2, 42000, 30170), 40172);
}

/* The TDM side of a bound channel takes only what the TDM thread injects
 * (from the leg's own address, through a hand-off ring); the wire cannot
 * send from our addresses. */
static void test_tdm_side_only_tdm_thread(void **state)
{
	uint8_t rtp[RTP_LEN] = { 0x80 };
	struct rte_mbuf *m;
	uint64_t ours0 = tw.net.drops[DP_NET_DROP_SRC_OURS];
	const char *err = NULL;
	static struct sent s;
	(void)state;

	/* leg 0 faces the RTP peer and carries the channel, leg 1 is the TDM side */
	latch_add(18, 30180, 40180, false, 0, false);
	assert_int_equal(dp_session_set_tdm_leg(18, 0, &err), 0);
	assert_int_equal(pkt_from(18, 1, ATK, 6000, IP_B, 30182, false, false, false, -1), 0);
	assert_int_equal(pkt_from(18, 1, ATK, 6001, IP_B, 30183, true, false, false, -1), 0);
	/* the TDM thread's frame: from IP_B:30182 to itself, not from a NIC */
	m = frame(IP_B, 30182, IP_B, 30182, rtp, sizeof(rtp));
	process(&tw, &m, 1, false);
	collect(&s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.dport[0], 40180);
	/* the same frame off the wire: dropped before any session sees it */
	m = frame(IP_B, 30182, IP_B, 30182, rtp, sizeof(rtp));
	process(&tw, &m, 1, true);
	collect(&s);
	assert_int_equal(s.n, 0);
	assert_int_equal(tw.net.drops[DP_NET_DROP_SRC_OURS], ours0 + 1);
	assert_int_equal(dp_session_set_tdm_leg(18, -1, &err), 0);
}

static int setup(void)
{
	struct mg_srtp_policy p;
	const char *err = NULL;
	char e[128];

	/* tiny pools: a test can empty them exactly */
	if (bed_init("t", POOL_N, POOL_N, 64, 100, 1) < 0 || bed_worker(&tw, 0) < 0)
		return -1;
	dp_n_run_workers = 1;

	memset(&p, 0, sizeof(p));
	p.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	p.dir = MG_SRTP_DIR_OUTBOUND;
	p.nkeys = 1;
	memcpy(p.keys[0].key, master, 16);
	memcpy(p.keys[0].salt, master + 16, 14);
	sender = mg_srtp_ctx_create(&p, e, sizeof(e));
	if (sender == NULL)
		return -1;

	/* session 1: leg 0 receives SRTP from A, leg 1 is plain toward B; a raw
	 * fork of leg 0: what A sent, as received */
	if (bed_session1(false, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * Capture: copies of one SRTP packet are IN and DECRYPTED (nothing has a
 * neighbour here, so nothing leaves on the wire to be copied as OUT). A full
 * ring and an empty copy pool are counted drops, by name, and never touch
 * the packet itself; the file holds what the ring held.
 */
static void test_capture_ring_and_drops(void **state)
{
	uint8_t wire[RTP_LEN + MG_SRTP_MAX_OVERHEAD];
	uint16_t wl;
	char dir[] = "/tmp/dp_capture_test.XXXXXX";
	struct mg_msg_capture c = { .session_id = 1, .flags = MG_CAPTURE_F_DECRYPTED };
	struct mg_msg_capture_stats cs;
	struct mg_msg_session_stats st0, st;
	struct rte_mbuf *pkts[2], *held[3];
	const char *err = NULL;
	struct dp_capture_totals t;
	static struct sent s;
	uint32_t magic = 0;
	FILE *fp;
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* a ring of 4 holds 3; a pool of 5 copies; this test is the writer */
	assert_int_equal(dp_capture_init_sized(dir, 4, 5, false), 0);
	snprintf(c.path, sizeof(c.path), "%s/sub/t.pcapng", dir);
	assert_int_equal(dp_capture_start(&c, &err), -EACCES); /* not directly in it */
	snprintf(c.path, sizeof(c.path), "/tmp/t.pcapng");
	assert_int_equal(dp_capture_start(&c, &err), -EACCES);
	snprintf(c.path, sizeof(c.path), "%s/t.pcapng", dir);
	c.session_id = 99;
	assert_int_equal(dp_capture_start(&c, &err), -ENOENT);
	c.session_id = 1;
	assert_int_equal(dp_capture_start(&c, &err), 0);
	assert_int_equal(dp_capture_start(&c, &err), -EBUSY);
	stats(&st0);

	/* 2 packets, 4 copies, the ring takes 3 */
	pkts[0] = srtp_frame(100, false, wire, &wl);
	pkts[1] = srtp_frame(101, false, wire, &wl);
	process(&tw, pkts, 2, true);
	collect(&s);
	assert_int_equal(s.n, 4); /* relayed and forked as ever */
	assert_int_equal(dp_capture_slots[0].enqueued, 3);
	assert_int_equal(dp_capture_slots[0].drops_ring_full, 1);
	/* take the 3 out (pool: 2 free), then 2 more packets: 2 copies, 2 lost */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rte_ring_sc_dequeue(dp_capture_ring, (void **)&held[i]), 0);
	pkts[0] = srtp_frame(102, false, wire, &wl);
	pkts[1] = srtp_frame(103, false, wire, &wl);
	process(&tw, pkts, 2, true);
	collect(&s);
	assert_int_equal(s.n, 4);
	assert_int_equal(dp_capture_slots[0].enqueued, 5);
	assert_int_equal(dp_capture_slots[0].drops_no_mbuf, 2);
	stats(&st);
	assert_int_equal(st.legs[0][0].packets, st0.legs[0][0].packets + 4);
	for (unsigned i = 0; i < 3; i++)
		rte_pktmbuf_free(held[i]);

	/* stop: the grace period waits for this thread as worker 0 */
	rte_rcu_qsbr_thread_offline(dp_qsbr, 0);
	assert_int_equal(dp_capture_stop(1, &cs, &err), 0);
	rte_rcu_qsbr_thread_online(dp_qsbr, 0);
	assert_int_equal(cs.packets, 2);
	assert_int_equal(cs.drops_ring_full, 1);
	assert_int_equal(cs.drops_no_mbuf, 2);
	assert_int_equal(cs.write_errors, 0);
	assert_int_equal(dp_capture_stop(1, &cs, &err), -ENOENT);
	assert_int_equal(dp_capture_start(&c, &err), -EEXIST); /* never overwritten */
	dp_capture_totals(&t);
	assert_int_equal(t.active, 0);
	assert_int_equal(t.drops_ring_full, 1);
	assert_int_equal(t.drops_no_mbuf, 2);
	assert_int_equal(rte_mempool_avail_count(dp_capture_pool), 5); /* every copy back */
	/* no more copies once stopped */
	pkts[0] = srtp_frame(104, false, wire, &wl);
	process(&tw, pkts, 1, true);
	collect(&s);
	assert_int_equal(rte_ring_count(dp_capture_ring), 0);
	fp = fopen(c.path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(&magic, 4, 1, fp), 1);
	fclose(fp);
	assert_int_equal(magic, 0x0a0d0d0a); /* pcapng section header */
	unlink(c.path);
	rmdir(dir);
}

int main(void)
{
	static char a0[] = "dp_worker_test", a1[] = "--no-huge", a2[] = "-m", a3[] = "128",
		    a4[] = "--no-pci", a5[] = "--no-shconf", a6[] = "--no-telemetry",
		    a7[] = "--log-level=*:error", a8[] = "-l", a9[] = "0";
	char *eal[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_fork_gets_wire_bytes),
		cmocka_unit_test(test_raw_fork_no_mbuf_never_plaintext),
		cmocka_unit_test(test_strict_rtcp_source_port),
		cmocka_unit_test(test_latch_first_valid_packet),
		cmocka_unit_test(test_latch_one_burst),
		cmocka_unit_test(test_latch_srtp_needs_auth),
		cmocka_unit_test(test_srtp_second_ssrc_room),
		cmocka_unit_test(test_drop_block_first_drop),
		cmocka_unit_test(test_block_leg),
		cmocka_unit_test(test_rtcp_report_kept),
		cmocka_unit_test(test_handover_srtp),
		cmocka_unit_test(test_handover_plain_after_silence),
		cmocka_unit_test(test_latch_modify),
		cmocka_unit_test(test_latch_rtcp_first),
		cmocka_unit_test(test_tdm_side_only_tdm_thread),
		cmocka_unit_test(test_capture_ring_and_drops),
	};

	int rc;

	if (rte_eal_init(10, eal) < 0 || setup() < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	/* Everything installed goes, as at a dataplane's stop: the sessions'
	 * SRTP contexts live in malloc memory that only DPDK memory points to,
	 * which LeakSanitizer does not scan. */
	{
		uint32_t next = 0;
		uint64_t id, ids[128];
		unsigned n = 0;
		const char *err = NULL;

		while (n < 128 && dp_session_iterate(&next, &id) >= 0)
			ids[n++] = id;
		for (unsigned i = 0; i < n; i++)
			dp_session_del(ids[i], NULL, &err);
		rte_rcu_qsbr_quiescent(dp_qsbr, 0);
		dp_session_reclaim();
	}
	/* and every SSRC room and drop counters block is back in its pool */
	{
		struct mg_msg_dp_stats left;

		dp_session_lazy_pools(&left);
		if (dp_session_count() != 0 || left.ssrc_rooms_used != 0 || left.drop_blocks_used != 0) {
			fprintf(stderr, "after every session's end: %u sessions, %" PRIu64 " SSRC rooms and %"
				PRIu64 " drop blocks still held\n", dp_session_count(), left.ssrc_rooms_used,
				left.drop_blocks_used);
			rc = 1;
		}
	}
	return rc;
}
