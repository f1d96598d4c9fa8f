/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session tables without ports or workers: EAL without files (--no-huge
 * --no-pci --no-shconf --no-telemetry), one fake port with two addresses, this thread
 * playing the one worker as a QSBR reader. Checks the control operations and
 * their errors, and that a deleted or replaced session is freed only after
 * the reader reported a quiescent state.
 */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dp_net.h"
#include "dp_port.h"
#include "dp_session.h"

#define IP_A RTE_BE32(0xc0000201) /* 192.0.2.1 */
#define IP_B RTE_BE32(0xc0000211) /* 192.0.2.17 */

static void addr(struct mg_msg_addr *a, uint32_t be_ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = MG_FAMILY_IPV4;
	memcpy(a->addr, &be_ip, 4);
	a->port = port;
}

static void def(struct mg_msg_session *s, uint64_t id, uint16_t p0, uint16_t p1)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	addr(&s->legs[0].local, IP_A, p0);
	addr(&s->legs[0].remote, RTE_BE32(0xc0000202), 30000);
	addr(&s->legs[1].local, IP_B, p1);
	addr(&s->legs[1].remote, RTE_BE32(0xc0000212), 30002);
}

static void srtp(struct mg_msg_crypto *c, uint8_t fill)
{
	memset(c, 0, sizeof(*c));
	c->suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	c->key_len = 16;
	c->salt_len = 14;
	memset(c->key, fill, 16);
	memset(c->salt, fill, 14);
}

/* DPDK allocations plus the session objects taken from the pools (a pool's
 * chunk is one allocation, made once and kept) */
static unsigned allocs(void)
{
	struct rte_malloc_socket_stats st;

	rte_malloc_get_socket_stats(0, &st);
	return st.alloc_count + (unsigned)dp_session_pool_objects();
}

static struct dp_session_rt *lookup_ep(uint32_t ip, uint16_t port)
{
	struct dp_ep_key k = { ip, rte_cpu_to_be_16(port), 0 };
	void *d;

	if (rte_hash_lookup_data(dp_ep_hash, &k, &d) < 0)
		return NULL;
	return (struct dp_session_rt *)((uintptr_t)d & DP_EP_PTR_MASK);
}

/* The session behind an endpoint that must exist. */
static struct dp_session_rt *must_ep(uint32_t ip, uint16_t port)
{
	struct dp_session_rt *s = lookup_ep(ip, port);

	if (s == NULL) {
		print_error("no session on port %u\n", port);
		abort();
	}
	return s;
}

static void test_add_get_del(void **state)
{
	struct mg_msg_session s, g;
	struct mg_msg_session_stats st;
	const char *err = NULL;

	(void)state;
	def(&s, 1, 20000, 20002);
	srtp(&s.legs[1].tx, 0x11);
	s.legs[0].rx.roc = 7; /* plain, but a field given: kept for GET */
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	assert_int_equal(dp_session_count(), 1);
	/* the cold part keeps a crypto definition for those two directions only */
	assert_int_equal(must_ep(IP_A, 20000)->cold->n_crypto, 2);
	assert_non_null(lookup_ep(IP_A, 20000));
	assert_non_null(lookup_ep(IP_A, 20001)); /* RTCP */
	assert_non_null(lookup_ep(IP_B, 20003));
	assert_int_equal(dp_session_add(&s, false, &err), -EEXIST);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(dp_session_get(1, &g, &err), 0);
	assert_int_equal(g.legs[1].tx.key_len, 16);
	assert_int_equal(g.legs[1].tx.key[0], 0); /* redacted */
	assert_int_equal(g.legs[1].tx.suite, s.legs[1].tx.suite);
	assert_int_equal(g.legs[0].rx.suite, MG_SRTP_SUITE_NONE);
	assert_int_equal(g.legs[0].rx.roc, 7);
	{
		static const struct mg_msg_crypto none;

		assert_memory_equal(&g.legs[0].tx, &none, sizeof(none));
		assert_memory_equal(&g.legs[1].rx, &none, sizeof(none));
	}
	assert_int_equal(dp_session_stats(1, &st, &err), 0);
	assert_int_equal(st.id, 1);
	assert_int_equal(dp_session_del(1, &st, &err), 0);
	assert_null(lookup_ep(IP_A, 20000));
	assert_int_equal(dp_session_del(1, &st, &err), -ENOENT);
	assert_int_equal(dp_session_get(1, &g, &err), -ENOENT);
	assert_int_equal(dp_session_count(), 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
}

static void test_refusals(void **state)
{
	struct mg_msg_session s;
	const char *err = NULL;

	(void)state;
	def(&s, 2, 20010, 20012);
	addr(&s.legs[0].local, RTE_BE32(0xc6336401), 20010); /* 198.51.100.1: not ours */
	assert_int_equal(dp_session_add(&s, false, &err), -EADDRNOTAVAIL);
	def(&s, 2, 20010, 20012);
	s.legs[0].local.family = MG_FAMILY_IPV6;
	assert_true(dp_session_add(&s, false, &err) < 0);
	def(&s, 2, 20010, 20010);
	addr(&s.legs[1].local, IP_A, 20010); /* both legs on one port */
	assert_int_equal(dp_session_add(&s, false, &err), -EINVAL);
	def(&s, 2, 20010, 20012);
	s.legs[0].source_policy = MG_SOURCE_STRICT;
	s.legs[0].remote.family = MG_FAMILY_NONE;
	assert_true(dp_session_add(&s, false, &err) < 0);
	/* remote RTP port 65535 without mux: RTCP would go to port 0 */
	def(&s, 2, 20010, 20012);
	s.legs[1].remote.port = 65535;
	assert_int_equal(dp_session_add(&s, false, &err), -EINVAL);
	assert_non_null(strstr(err, "leg 1 remote: port 65535"));
	s.legs[1].remote_rtcp_port = 40001; /* explicit a=rtcp: fine */
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	assert_int_equal(must_ep(IP_B, 20012)->leg[1].remote_rtcp_port, RTE_BE16(40001));
	/* MODIFY is checked the same way */
	s.legs[1].remote_rtcp_port = 0;
	assert_int_equal(dp_session_add(&s, true, &err), -EINVAL);
	s.legs[1].flags |= MG_LEG_F_RTCP_MUX; /* RTCP on 65535 itself */
	assert_int_equal(dp_session_add(&s, true, &err), 0);
	assert_int_equal(must_ep(IP_B, 20012)->leg[1].remote_rtcp_port, RTE_BE16(65535));
	assert_int_equal(dp_session_del(2, NULL, &err), 0);
	def(&s, 2, 20010, 20012);
	assert_int_equal(dp_session_add(&s, true, &err), -ENOENT); /* modify unknown */
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	def(&s, 3, 20010, 20020); /* 20010 is session 2's */
	assert_int_equal(dp_session_add(&s, false, &err), -EADDRINUSE);
	assert_non_null(strstr(err, "used by session 2"));
	assert_int_equal(dp_session_del(2, NULL, &err), 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
	assert_int_equal(dp_session_count(), 0);
}

/* The heart of the single-writer design: nothing is freed under a reader. */
static void test_rcu_deferred_free(void **state)
{
	struct mg_msg_session s;
	const char *err = NULL;
	unsigned base, with;
	struct dp_session_rt *obj;

	(void)state;
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
	base = allocs();
	def(&s, 5, 20030, 20032);
	srtp(&s.legs[0].rx, 0x22);
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	with = allocs();
	assert_true(with > base);
	obj = must_ep(IP_A, 20030); /* "the worker" holds this pointer now */

	/* MODIFY with a new key: new object, old one still readable */
	srtp(&s.legs[0].rx, 0x33);
	assert_int_equal(dp_session_add(&s, true, &err), 0);
	assert_ptr_not_equal(lookup_ep(IP_A, 20030), obj);
	dp_session_reclaim();
	assert_int_equal(obj->id, 5); /* not freed: no quiescent state yet */
	assert_int_equal(allocs(), with + 1); /* new object; stats block shared */

	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
	assert_int_equal(allocs(), with); /* old object freed after the grace period */

	/* MODIFY with leg 1's remote moved: that leg's source state starts over
	 * (a new one), leg 0's is shared; the old leg 1 state goes with the old
	 * object after the grace period */
	obj = must_ep(IP_A, 20030);
	const struct dp_src_rt *src0 = obj->leg[0].src, *src1 = obj->leg[1].src;

	s.legs[1].remote.port = 30004;
	assert_int_equal(dp_session_add(&s, true, &err), 0);
	assert_ptr_equal(must_ep(IP_A, 20030)->leg[0].src, src0);
	assert_ptr_not_equal(must_ep(IP_A, 20030)->leg[1].src, src1);
	assert_int_equal(must_ep(IP_A, 20030)->leg[1].src->rtp_port, RTE_BE16(30004));
	assert_int_equal(allocs(), with + 2);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
	/* the old object went; leg 1's new source state stays, an allocation of
	 * its own (a session's first ones live in its counters block) */
	assert_int_equal(allocs(), with + 1);
	with++;

	/* DEL: the same */
	assert_int_equal(dp_session_del(5, NULL, &err), 0);
	dp_session_reclaim();
	assert_int_equal(allocs(), with);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
	assert_int_equal(allocs(), base);
}

static void test_modify_keeps_unchanged_context(void **state)
{
	struct mg_msg_session s;
	const char *err = NULL;
	struct dp_session_rt *a, *b;

	(void)state;
	def(&s, 6, 20040, 20042);
	srtp(&s.legs[0].rx, 0x44);
	srtp(&s.legs[1].tx, 0x55);
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	a = must_ep(IP_A, 20040);
	srtp(&s.legs[1].tx, 0x66); /* only leg 1 tx changes */
	assert_int_equal(dp_session_add(&s, true, &err), 0);
	b = must_ep(IP_A, 20040);
	assert_ptr_equal(a->leg[0].rx_ctx, b->leg[0].rx_ctx); /* ROC/replay state kept */
	assert_ptr_not_equal(a->leg[1].tx_ctx, b->leg[1].tx_ctx);
	assert_ptr_equal(a->stats, b->stats);
	/* MODIFY may move a leg: the old endpoints go, the new ones point at it */
	addr(&s.legs[1].local, IP_B, 20046);
	assert_int_equal(dp_session_add(&s, true, &err), 0);
	assert_null(lookup_ep(IP_B, 20042));
	assert_null(lookup_ep(IP_B, 20043));
	b = must_ep(IP_B, 20047);
	assert_ptr_equal(must_ep(IP_A, 20040), b);
	s.legs[0].rx.flags = MG_CRYPTO_F_ROC_RESET;
	assert_int_equal(dp_session_add(&s, true, &err), 0);
	assert_ptr_not_equal(must_ep(IP_A, 20040)->leg[0].rx_ctx, b->leg[0].rx_ctx);
	assert_int_equal(dp_session_del(6, NULL, &err), 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
}

/* SESSION_STATS reads the ROC of the last SSRC a worker saw; the worker keeps
 * that SSRC as the RTP header's bytes (network order). */
static void test_stats_roc(void **state)
{
	struct mg_msg_session s;
	struct mg_msg_session_stats st;
	const char *err = NULL;
	struct dp_session_rt *obj;

	(void)state;
	def(&s, 8, 20060, 20062);
	srtp(&s.legs[0].rx, 0x77);
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	obj = must_ep(IP_A, 20060);
	assert_int_equal(mg_srtp_set_roc(obj->leg[0].rx_ctx, 0x11223344, 5), 0);
	obj->stats->last_ssrc[0][0] = rte_cpu_to_be_32(0x11223344);
	assert_int_equal(dp_session_stats(8, &st, &err), 0);
	assert_int_equal(st.legs[0][0].roc, 5);
	assert_int_equal(dp_session_del(8, NULL, &err), 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
}

static void test_forks(void **state)
{
	struct mg_msg_session s;
	struct mg_msg_fork f;
	struct mg_msg_fork_id fid = { .session_id = 7, .fork_id = 1 };
	const char *err = NULL;

	(void)state;
	def(&s, 7, 20050, 20052);
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	memset(&f, 0, sizeof(f));
	f.session_id = 7;
	f.fork_id = 1;
	addr(&f.local, IP_B, 20100);
	addr(&f.remote, RTE_BE32(0xc0000222), 30100);
	assert_int_equal(dp_fork_add(&f, &err), 0);
	assert_int_equal(must_ep(IP_A, 20050)->n_forks, 1);
	/* a plain fork: the worker copies nothing before decryption */
	assert_int_equal(must_ep(IP_A, 20050)->raw_fork[0] | must_ep(IP_A, 20050)->raw_fork[1], 0);
	assert_int_equal(dp_fork_add(&f, &err), -EEXIST);
	for (uint32_t i = 2; i <= DP_SESS_MAX_FORKS; i++) {
		f.fork_id = i;
		/* 2: raw RTP of leg 1, 3: raw RTP and RTCP of leg 1 */
		f.leg = i == 2 || i == 3 ? 1 : 0;
		f.flags = i == 2 ? MG_FORK_F_RAW : i == 3 ? MG_FORK_F_RAW | MG_FORK_F_RTCP : 0;
		assert_int_equal(dp_fork_add(&f, &err), 0);
	}
	assert_int_equal(must_ep(IP_A, 20050)->raw_fork[0], 0);
	assert_int_equal(must_ep(IP_A, 20050)->raw_fork[1], DP_RAW_RTP | DP_RAW_RTCP);
	f.fork_id = 99;
	assert_int_equal(dp_fork_add(&f, &err), -ENOSPC);
	assert_int_equal(dp_fork_del(&fid, &err), 0);
	assert_int_equal(dp_fork_del(&fid, &err), -ENOENT);
	assert_int_equal(must_ep(IP_A, 20050)->n_forks, DP_SESS_MAX_FORKS - 1);
	assert_int_equal(must_ep(IP_A, 20050)->raw_fork[1], DP_RAW_RTP | DP_RAW_RTCP);
	fid.fork_id = 3; /* the raw one with RTCP goes: raw RTP only */
	assert_int_equal(dp_fork_del(&fid, &err), 0);
	assert_int_equal(must_ep(IP_A, 20050)->raw_fork[1], DP_RAW_RTP);
	fid.fork_id = 1;
	f.leg = 0;
	f.flags = 0;
	f.session_id = 4242;
	assert_int_equal(dp_fork_add(&f, &err), -ENOENT);
	assert_int_equal(dp_session_del(7, NULL, &err), 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
}

static void test_port_alloc(void **state)
{
	struct mg_msg_port_alloc req;
	struct mg_msg_port p1, p2, p3;
	const char *err = NULL;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.local.family = MG_FAMILY_IPV4; /* all-zero address: our first one */
	assert_int_equal(dp_port_used_count(), 0);
	assert_int_equal(dp_port_alloc(&req, &p1, &err), 0);
	assert_int_equal(dp_port_used_count(), 2); /* RTP and RTCP */
	assert_int_equal(p1.local.port % 2, 0);
	assert_int_equal(p1.rtcp_port, p1.local.port + 1);
	assert_memory_equal(p1.local.addr, &(uint32_t){ IP_A }, 4);
	req.flags = MG_PORT_F_RTCP_MUX;
	assert_int_equal(dp_port_alloc(&req, &p2, &err), 0);
	assert_int_equal(p2.rtcp_port, p2.local.port);
	assert_int_not_equal(p2.local.port, p1.local.port);
	assert_int_equal(dp_port_used_count(), 3); /* rtcp-mux: one port */
	/* range 30000-30005: three pairs; the third fits, a fourth does not */
	req.flags = 0;
	assert_int_equal(dp_port_alloc(&req, &p3, &err), 0);
	assert_int_equal(dp_port_alloc(&req, &p3, &err), -ENOSPC);
	assert_int_equal(dp_port_free(&p1, &err), 0);
	assert_int_equal(dp_port_free(&p1, &err), -ENOENT);
	{
		/* that very port (re-install after a restart): free, then taken */
		struct mg_msg_port_alloc want;
		struct mg_msg_port got;

		memset(&want, 0, sizeof(want));
		want.local = p1.local;
		assert_int_equal(dp_port_alloc(&want, &got, &err), 0);
		assert_int_equal(got.local.port, p1.local.port);
		assert_int_equal(got.rtcp_port, p1.local.port + 1);
		assert_int_equal(dp_port_alloc(&want, &got, &err), -EADDRINUSE);
		want.local.port = p2.local.port; /* rtcp-mux pair of p2 */
		assert_int_equal(dp_port_alloc(&want, &got, &err), -EADDRINUSE);
		want.local.port = 29998; /* outside the range */
		assert_int_equal(dp_port_alloc(&want, &got, &err), -EINVAL);
		assert_int_equal(dp_port_free(&p1, &err), 0);
	}
	p1.local.port = 30001;
	assert_int_equal(dp_port_free(&p1, &err), -EINVAL);
	req.local.port = 5;
	assert_int_equal(dp_port_alloc(&req, &p3, &err), -EINVAL);
	assert_int_equal(dp_port_free(&p2, &err), 0);
	assert_int_equal(dp_port_free(&p3, &err), 0);
	assert_int_equal(dp_port_used_count(), 0);
}

/* PORT_FREE frees what PORT_ALLOC took, whatever the request's mux flag says. */
static void test_port_free_mux_mismatch(void **state)
{
	struct mg_msg_port_alloc req;
	struct mg_msg_port p[3], again;
	const char *err = NULL;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.local.family = MG_FAMILY_IPV4;
	/* range 30000-30005: three pairs, all taken with their RTCP port */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(dp_port_alloc(&req, &p[i], &err), 0);
	assert_int_equal(dp_port_alloc(&req, &again, &err), -ENOSPC);
	/* freed as if it were rtcp-mux: its RTCP port must be freed too */
	p[1].flags = MG_PORT_F_RTCP_MUX;
	assert_int_equal(dp_port_free(&p[1], &err), 0);
	assert_int_equal(dp_port_alloc(&req, &again, &err), 0);
	assert_int_equal(again.local.port, p[1].local.port);
	assert_int_equal(again.rtcp_port, p[1].local.port + 1);
	assert_int_equal(dp_port_free(&again, &err), 0);
	assert_int_equal(dp_port_free(&p[0], &err), 0);
	assert_int_equal(dp_port_free(&p[2], &err), 0);
}

/* The TDM mark of a leg: set and cleared by replacing the object, kept by MODIFY. */
static void test_tdm_leg_mark(void **state)
{
	struct mg_msg_session s;
	struct dp_session_rt *o1, *o2;
	const char *err = NULL;

	(void)state;
	def(&s, 12, 20120, 20122);
	assert_int_equal(dp_session_add(&s, false, &err), 0);
	o1 = must_ep(IP_A, 20120);
	assert_false(o1->leg[0].tdm || o1->leg[1].tdm);
	assert_int_equal(dp_session_set_tdm_leg(12, 1, &err), 0);
	o2 = must_ep(IP_A, 20120);
	assert_ptr_not_equal(o2, o1); /* a new object: readers of o1 are unaffected */
	assert_false(o1->leg[1].tdm);  /* still readable: no quiescent state yet */
	assert_false(o2->leg[0].tdm);
	assert_true(o2->leg[1].tdm);
	assert_ptr_equal(must_ep(IP_B, 20123), o2); /* every key re-pointed */
	s.legs[0].remote.port = 31000;
	assert_int_equal(dp_session_add(&s, true, &err), 0); /* MODIFY keeps it */
	assert_true(must_ep(IP_A, 20120)->leg[1].tdm);
	assert_int_equal(dp_session_set_tdm_leg(12, -1, &err), 0);
	o1 = must_ep(IP_A, 20120);
	assert_false(o1->leg[0].tdm || o1->leg[1].tdm);
	assert_int_equal(dp_session_set_tdm_leg(12, 2, &err), -EINVAL);
	assert_int_equal(dp_session_set_tdm_leg(4242, 0, &err), -ENOENT);
	assert_int_equal(dp_session_del(12, NULL, &err), 0);
	rte_rcu_qsbr_quiescent(dp_qsbr, 0);
	dp_session_reclaim();
}

/* The 8-bytes-at-a-time UDP checksum equals DPDK's for every length/alignment. */
static void test_udp_cksum(void **state)
{
	static uint8_t buf[16 + 20 + 8 + 1500];
	uint32_t seed = 12345;

	(void)state;
	for (unsigned len = 0; len <= 1472; len += (len < 64 ? 1 : 37)) {
		for (unsigned off = 0; off < 4; off++) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + off);
			struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
			uint8_t *pl = (uint8_t *)(u + 1);

			memset(ip, 0, sizeof(*ip));
			ip->version_ihl = RTE_IPV4_VHL_DEF;
			ip->next_proto_id = IPPROTO_UDP;
			ip->total_length = rte_cpu_to_be_16((uint16_t)(28 + len));
			ip->src_addr = IP_A ^ seed;
			ip->dst_addr = IP_B + seed;
			u->src_port = (uint16_t)seed;
			u->dst_port = (uint16_t)(seed >> 16);
			u->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len));
			u->dgram_cksum = 0;
			for (unsigned i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				pl[i] = (uint8_t)(seed >> 16);
			}
			assert_int_equal(dp_net_udp_cksum(ip, u), rte_ipv4_udptcp_cksum(ip, u));
		}
	}
}

static void test_parse_lcores(void **state)
{
	unsigned l[DP_MAX_WORKERS], n;

	(void)state;
	assert_int_equal(dp_parse_lcores("1,3-4", l, DP_MAX_WORKERS, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(l[2], 4);
	assert_int_equal(dp_parse_lcores("4-3", l, DP_MAX_WORKERS, &n), -EINVAL);
	assert_int_equal(dp_parse_lcores("x", l, DP_MAX_WORKERS, &n), -EINVAL);
	assert_int_equal(dp_parse_lcores("0-99", l, DP_MAX_WORKERS, &n), -EINVAL);
}

int main(void)
{
	static char a0[] = "dp_session_test", a1[] = "--no-huge", a2[] = "-m", a3[] = "128",
		    a4[] = "--no-pci", a5[] = "--no-shconf", a6[] = "--no-telemetry",
		    a7[] = "--log-level=*:error", a8[] = "-l", a9[] = "0";
	char *eal[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get_del),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_rcu_deferred_free),
		cmocka_unit_test(test_modify_keeps_unchanged_context),
		cmocka_unit_test(test_stats_roc),
		cmocka_unit_test(test_forks),
		cmocka_unit_test(test_port_alloc),
		cmocka_unit_test(test_port_free_mux_mismatch),
		cmocka_unit_test(test_tdm_leg_mark),
		cmocka_unit_test(test_parse_lcores),
		cmocka_unit_test(test_udp_cksum),
	};

	if (rte_eal_init(10, eal) < 0)
		return 1;
	dp_n_ports = 1;
	dp_ports[0].n_addrs = 2;
	dp_ports[0].addrs[0] = IP_A;
	dp_ports[0].addrs[1] = IP_B;
	dp_ports[0].masks[0] = dp_ports[0].masks[1] = RTE_BE32(0xfffffff0);
	if (dp_session_init(1000, 1, 30000, 30005) < 0)
		return 1;
	/* this thread is worker 0: a registered, online QSBR reader */
	rte_rcu_qsbr_thread_register(dp_qsbr, 0);
	rte_rcu_qsbr_thread_online(dp_qsbr, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
