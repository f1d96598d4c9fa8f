/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane ports: probed from mediagate.dataplane.port.N.device (any PMD:
 * real NIC or vdev such as net_af_packet, net_tap, net_memif, net_pcap), one
 * RX and one TX queue per worker, IPv4 media addresses and an optional next
 * hop. The table is filled once before the workers start and is read-only
 * afterwards.
 */
#ifndef DP_PORT_H
#define DP_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "mg_config.h"

#define DP_MAX_PORTS MG_CFG_MAX_PORTS
#define DP_MAX_ADDRS MG_CFG_MAX_ADDRS
#define DP_MAX_WORKERS 16

struct dp_port {
	uint16_t port_id;      /* ethdev id */
	uint16_t n_rxq;        /* RX queues actually configured (<= workers) */
	uint16_t n_txq;        /* TX queues: one per worker */
	bool rss;              /* the device spreads flows over n_rxq queues */
	struct rte_ether_addr mac;
	uint32_t addrs[DP_MAX_ADDRS]; /* network order */
	uint32_t masks[DP_MAX_ADDRS]; /* network order */
	unsigned n_addrs;
	uint32_t nexthop;      /* network order, 0 = none (on-link only) */
	unsigned shared_slot;  /* 1 + the addrs[] index of sharedAddress, 0 none: owned
				  only while dp_shared_on (docs/standby.md) */
	char name[64];
};

extern struct dp_port dp_ports[DP_MAX_PORTS];
extern unsigned dp_n_ports;
/* The shared address is ours (SHARED_ADDR from the control plane); written by
 * the main lcore, read by every lcore. */
extern bool dp_shared_on;
/* Packet buffers; and small/indirect buffers for fork headers and clones. */
extern struct rte_mempool *dp_pktmbuf_pool;
extern struct rte_mempool *dp_hdr_pool;
extern struct rte_mempool *dp_clone_pool;

/* Probe and configure every configured port for @p n_workers workers; start them. */
int dp_port_init(const struct mg_settings *s, unsigned n_workers);
void dp_port_close(void);

/* Index of the port that owns IPv4 address @p ip (network order), -1 if none. */
static inline int dp_port_by_addr(uint32_t ip)
{
	for (unsigned p = 0; p < dp_n_ports; p++)
		for (unsigned i = 0; i < dp_ports[p].n_addrs; i++)
			if (dp_ports[p].addrs[i] == ip)
				return (int)p;
	return -1;
}

static inline bool dp_port_owns(unsigned p, uint32_t ip)
{
	const struct dp_port *pt = &dp_ports[p];

	for (unsigned i = 0; i < pt->n_addrs; i++)
		if (pt->addrs[i] == ip)
			return i + 1 != pt->shared_slot || __atomic_load_n(&dp_shared_on, __ATOMIC_RELAXED);
	return false;
}

/* Parse "1,3-4" into a list of lcore ids; 0 on success, -EINVAL naming the problem. */
int dp_parse_lcores(const char *spec, unsigned *lcores, unsigned max, unsigned *n);

#endif
