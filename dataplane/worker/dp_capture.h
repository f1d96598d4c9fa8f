/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-session pcapng capture (mgctl capture start/stop; docs/operations.md
 * "Capture").
 *
 * Up to DP_CAPTURE_SLOTS sessions are captured at once. The main lcore (the
 * control socket) opens the file and publishes a slot; workers find the slot
 * of a packet's session with one relaxed load while nothing is captured
 * (dp_capture_of()), else a scan of the few slots. A worker copies the packet
 * with rte_pcapng_copy() into an mbuf of a preallocated pool and enqueues it
 * on one MP/SC ring: no lock, no allocation beyond the pool, no syscall. A
 * full ring or an empty pool is a counted drop of the copy (never of the
 * packet): capture_ring_full, capture_no_mbuf, per slot and in total.
 *
 * One writer thread (a plain pthread, not an lcore: it sleeps 1 ms whenever
 * the ring is empty, 20 ms while nothing is captured, so it costs nothing on
 * a 2-core machine) dequeues and
 * writes with rte_pcapng_write_packets(). Stopping: the main lcore
 * unpublishes the slot, waits for a QSBR grace period of the workers (no
 * copy for it can be enqueued after that), then asks the writer to drain
 * the ring and close the file, and waits for it.
 *
 * The packets of one slot are written by the session's owner worker only,
 * so a slot's worker counters have one writer.
 */
#ifndef DP_CAPTURE_H
#define DP_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "mg_config.h"
#include "mg_proto.h"

#define DP_CAPTURE_SLOTS 8
#define DP_CAPTURE_SNAPLEN 2048

/* Which copy of a packet (an interface of its own for decrypted ones). */
enum dp_capture_kind {
	DP_CAPTURE_IN = 0,  /* as received on the wire */
	DP_CAPTURE_OUT,     /* as sent on the wire */
	DP_CAPTURE_DECRYPTED, /* an SRTP leg's received packet, decrypted, with its
	                         Ethernet/IP/UDP headers (lengths adjusted) */
};

struct rte_pcapng;

struct dp_capture_slot {
	/* main lcore writes, workers read */
	uint64_t session_id; /* 0 = free */
	uint32_t flags;      /* MG_CAPTURE_F_* */
	uint32_t idx;
	/* the session's owner worker writes */
	uint64_t enqueued;
	uint64_t drops_ring_full;
	uint64_t drops_no_mbuf;
	/* the writer thread writes */
	uint64_t packets, bytes, write_errors;
	uint32_t stop_req; /* main -> writer: drain and close */
	uint32_t closed;   /* writer -> main: done */
	struct rte_pcapng *pcap;
	int fd;
	uint32_t decrypted_if; /* pcapng interface id of the decrypted copies */
	uint64_t base_tsc;     /* packet timestamps: TSC at start ... */
	uint64_t base_ns;      /* ... and the wall clock then (ns since 1970) */
	double ns_per_tsc;
	char path[MG_CAPTURE_MAX_PATH];
} __rte_cache_aligned;

extern struct dp_capture_slot dp_capture_slots[DP_CAPTURE_SLOTS];
extern uint32_t dp_capture_n_active;
extern struct rte_ring *dp_capture_ring;     /* workers -> writer (MP/SC) */
extern struct rte_mempool *dp_capture_pool;  /* the copies */

struct dp_capture_slot *dp_capture_lookup(uint64_t session_id);

/* Packet path: the slot capturing @p session_id, or NULL (the common case
 * costs one load of a shared, read-mostly word). */
static inline struct dp_capture_slot *dp_capture_of(uint64_t session_id)
{
	if (likely(__atomic_load_n(&dp_capture_n_active, __ATOMIC_RELAXED) == 0))
		return NULL;
	return dp_capture_lookup(session_id);
}

/*
 * Packet path: copy @p m for slot @p c. The frame starts @p hdr_len bytes
 * before m's data (Ethernet/IPv4/UDP as received, 0 when m starts at the
 * Ethernet header); m is left as it was. DECRYPTED rewrites those headers'
 * lengths and checksums (they are dead bytes to the worker by then).
 * @p port_id is the DPDK port id. Never blocks, never fails the packet.
 */
void dp_capture_pkt(struct dp_capture_slot *c, struct rte_mbuf *m, uint16_t hdr_len,
		    uint16_t port_id, enum dp_capture_kind kind, uint64_t tsc);

/* Setup (after EAL, before workers): pool, ring, writer thread. */
int dp_capture_init(const struct mg_settings *s);
/* The same with a ring of @p ring_size (power of 2) and a pool of @p pool_n
 * copies; without @p writer, stopping drains the ring itself (unit test). */
int dp_capture_init_sized(const char *dir, unsigned ring_size, unsigned pool_n, bool writer);
/* Close every open capture and stop the writer. */
void dp_capture_fini(void);

/* Control (main lcore). Return 0 or -errno; *err says why. */
int dp_capture_start(const struct mg_msg_capture *req, const char **err);
int dp_capture_stop(uint64_t session_id, struct mg_msg_capture_stats *out, const char **err);

/* Totals over every capture so far (telemetry). */
struct dp_capture_totals {
	uint64_t active, started, packets, drops_ring_full, drops_no_mbuf, write_errors;
};
void dp_capture_totals(struct dp_capture_totals *t);

#endif
