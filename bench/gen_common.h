/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the DPDK traffic generators of bench/ (dp_bench_gen, relay_bench_gen)
 * share: EAL and one port on one vdev, ARP frames, the per-stream sequence
 * check of their receive side, latency percentiles.
 */
#ifndef MG_BENCH_GEN_COMMON_H
#define MG_BENCH_GEN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#define GEN_HDR 42 /* Ethernet + IPv4 + UDP headers in front of the RTP */

/* The EAL of one generator: --no-huge --no-shconf --no-pci, one vdev (port 0). */
struct gen_eal {
	const char *prog;        /* argv[0] and the prefix of messages */
	const char *lcore;       /* -l */
	const char *mem_mb;      /* -m */
	const char *file_prefix; /* unique per process: generators side by side must not meet */
	const char *vdev;
	int no_telemetry;
	unsigned n_mbufs; /* the pool's size */
};

struct gen_port {
	uint16_t id;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
};

/* EAL up, pool "gen", one RX and one TX queue of 1024, started; 0, or -1
 * with a message on stderr. */
int gen_port_open(const struct gen_eal *e, struct gen_port *p);
/* The port stopped and closed, the EAL cleaned up. */
void gen_port_close(const struct gen_port *p);

/* One ARP frame of @p op from us (@p sip, network order) to @p tip; to
 * @p dst_mac, broadcast if NULL. Dropped if there is no mbuf or room. */
void gen_arp_send(const struct gen_port *p, uint16_t op, const struct rte_ether_addr *dst_mac,
		  uint32_t sip, uint32_t tip);

/* What the receive side counted; a packet counts as carried only verified. */
struct gen_rx_count {
	uint64_t verified, auth_fail, replay, bad, stray, reorder, dup, late, stale, gap;
};

/* One stream's order: the next sequence number expected and a 64-packet
 * window of those received before it (bit j: next - 1 - j). */
struct gen_stream {
	uint16_t next;
	uint8_t started;
	uint64_t win;
};

/*
 * The sequence number check of a stream whose trial started at @p seq0:
 * 1 if the packet counts as carried (in order: a jump adds to c->gap; or
 * reordered but new: c->reorder), 0 for a duplicate (c->dup) or one too old
 * to tell from a duplicate (c->late).
 */
int gen_seq_check(struct gen_stream *s, uint16_t seq0, uint16_t seq, struct gen_rx_count *c);

/* Median and 99th percentile of @p n TSC deltas in microseconds (sorts
 * @p lat); 0 and 0 if there are none. */
void gen_lat_pct(uint64_t *lat, size_t n, uint64_t hz, double *p50, double *p99);

#endif
