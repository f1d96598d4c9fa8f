/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_net under a real EAL without ports (--no-huge --no-pci): the ICMP echo
 * reply on single-segment and chained mbufs. A NIC that scatters a big
 * frame over several mbufs hands the worker a chain; the reply's checksum
 * must cover the message in every segment, and nothing may be read past
 * the first one's data (it used to be: the checksum summed tot - ihl bytes
 * from the first segment, i.e. whatever lay in its buffer after its data).
 */
#define ALLOW_EXPERIMENTAL_API
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_icmp.h>
#include <rte_mbuf.h>

#include "dp_net.h"
#include "dp_port.h"

#define IP_US RTE_BE32(0xc0000201)   /* 192.0.2.1 */
#define IP_PEER RTE_BE32(0xc0000202) /* 192.0.2.2 */

static struct rte_mempool *pool;

/* An echo request with @p payload bytes (byte i = i * 7), as one frame. */
static size_t echo_request(uint8_t *out, size_t payload)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)out;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(ip + 1);
	uint16_t tot = (uint16_t)(sizeof(*ip) + sizeof(*ic) + payload);

	memset(out, 0, RTE_ETHER_HDR_LEN + tot);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(tot);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = IP_PEER;
	ip->dst_addr = IP_US;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	ic->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	ic->icmp_ident = RTE_BE16(0x4242);
	ic->icmp_seq_nb = RTE_BE16(7);
	for (size_t i = 0; i < payload; i++)
		((uint8_t *)(ic + 1))[i] = (uint8_t)(i * 7);
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, sizeof(*ic) + payload);
	return RTE_ETHER_HDR_LEN + tot;
}

/* @p len bytes of @p f as an mbuf chain cut at @p cuts (ascending offsets).
 * Each segment's buffer is filled with 0xa5 past its data first, so reading
 * past a segment gives a wrong sum, not a lucky right one. */
static struct rte_mbuf *chain_of(const uint8_t *f, size_t len, const size_t *cuts, unsigned ncuts)
{
	struct rte_mbuf *head = NULL;
	size_t from = 0;

	for (unsigned k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		char *d;

		if (m == NULL)
			abort(); /* 64 mbufs, a few in use: cannot happen */
		memset(rte_pktmbuf_mtod(m, uint8_t *), 0xa5, rte_pktmbuf_tailroom(m));
		d = rte_pktmbuf_append(m, (uint16_t)(to - from));
		if (d == NULL)
			abort();
		memcpy(d, f + from, to - from);
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		from = to;
	}
	head->port = 0;
	return head;
}

/* The reply is type 0, addresses swapped, and both checksums verify over
 * the whole message, read across the chain. */
static void check_reply(struct rte_mbuf *m, size_t payload)
{
	uint8_t buf[2048];
	const struct rte_ipv4_hdr *ip =
		rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN, sizeof(*ip), buf);
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	const uint8_t *icmp;
	uint16_t sum = 0;

	assert_int_equal(tot, sizeof(*ip) + 8 + payload);
	assert_int_equal(ip->src_addr, IP_US);
	assert_int_equal(ip->dst_addr, IP_PEER);
	assert_int_equal(rte_raw_cksum(ip, sizeof(*ip)), 0xffff);
	icmp = rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN + sizeof(*ip), tot - sizeof(*ip), buf + 64);
	assert_non_null(icmp);
	assert_int_equal(icmp[0], RTE_IP_ICMP_ECHO_REPLY);
	for (size_t i = 0; i < payload; i++)
		assert_int_equal(icmp[8 + i], (uint8_t)(i * 7));
	assert_int_equal(rte_raw_cksum_mbuf(m, RTE_ETHER_HDR_LEN + sizeof(*ip), tot - sizeof(*ip),
					    &sum),
			 0);
	if (sum != 0xffff)
		fail_msg("ICMP checksum of the reply does not verify (sum %#x, %u segment(s))", sum,
			 m->nb_segs);
}

static void test_echo_single_segment(void **state)
{
	uint8_t f[2048];
	size_t len = echo_request(f, 56);
	struct rte_mbuf *m;

	(void)state;
	/* with Ethernet padding after it, trimmed off */
	memset(f + len, 0xee, 16);
	m = chain_of(f, len + 16, NULL, 0);
	assert_true(dp_net_icmp_echo_reply(m, RTE_ETHER_HDR_LEN));
	assert_int_equal(m->pkt_len, len);
	check_reply(m, 56);
	rte_pktmbuf_free(m);
}

/* A 1400-byte echo in two and in three segments. */
static void test_echo_chained(void **state)
{
	static const size_t two[] = { 100 }, three[] = { 64, 700 };
	uint8_t f[2048];
	size_t len = echo_request(f, 1400);
	struct rte_mbuf *m;

	(void)state;
	m = chain_of(f, len, two, 1);
	assert_int_equal(m->nb_segs, 2);
	assert_true(dp_net_icmp_echo_reply(m, RTE_ETHER_HDR_LEN));
	check_reply(m, 1400);
	rte_pktmbuf_free(m);

	m = chain_of(f, len, three, 2);
	assert_true(dp_net_icmp_echo_reply(m, RTE_ETHER_HDR_LEN));
	check_reply(m, 1400);
	rte_pktmbuf_free(m);
}

/* The ICMP header split over two segments, or a message longer than the
 * frame: refused, nothing written. */
static void test_echo_refused(void **state)
{
	static const size_t in_header[] = { RTE_ETHER_HDR_LEN + 20 + 4 };
	uint8_t f[2048];
	size_t len = echo_request(f, 100);
	struct rte_mbuf *m;

	(void)state;
	m = chain_of(f, len, in_header, 1);
	assert_false(dp_net_icmp_echo_reply(m, RTE_ETHER_HDR_LEN));
	rte_pktmbuf_free(m);
	m = chain_of(f, len - 10, NULL, 0);
	assert_false(dp_net_icmp_echo_reply(m, RTE_ETHER_HDR_LEN));
	assert_int_equal(rte_pktmbuf_mtod_offset(m, uint8_t *, RTE_ETHER_HDR_LEN + 20)[0],
			 RTE_IP_ICMP_ECHO_REQUEST);
	rte_pktmbuf_free(m);
}

int main(void)
{
	static char a0[] = "dp_net_test", a1[] = "--no-huge", a2[] = "-m", a3[] = "64",
		    a4[] = "--no-pci", a5[] = "--no-shconf", a6[] = "--no-telemetry",
		    a7[] = "--log-level=*:error", a8[] = "-l", a9[] = "0";
	char *eal[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_single_segment),
		cmocka_unit_test(test_echo_chained),
		cmocka_unit_test(test_echo_refused),
	};

	if (rte_eal_init(10, eal) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("t_net", 64, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		return 1;
	dp_n_ports = 1;
	dp_ports[0].n_addrs = 1;
	dp_ports[0].addrs[0] = IP_US;
	dp_ports[0].masks[0] = RTE_BE32(0xffffff00);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
