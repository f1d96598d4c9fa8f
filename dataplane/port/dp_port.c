/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_port.h"
#include "mg_log.h"

struct dp_port dp_ports[DP_MAX_PORTS];
unsigned dp_n_ports;
bool dp_shared_on;
struct rte_mempool *dp_pktmbuf_pool;
struct rte_mempool *dp_hdr_pool;
struct rte_mempool *dp_clone_pool;

#define DP_RX_DESC 1024
#define DP_TX_DESC 1024
/*
 * Sized for EAL --no-huge -m 256: 16k full buffers (~38 MB) cover every
 * RX ring, TX ring, hand-off ring and neighbour hold with room to spare.
 */
#define DP_NB_MBUF 16383
#define DP_NB_SMALL 8191
#define DP_MBUF_CACHE 256

int dp_parse_lcores(const char *spec, unsigned *lcores, unsigned max, unsigned *n)
{
	const char *p = spec;

	*n = 0;
	while (*p != '\0') {
		char *end;
		unsigned long a, b;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (b < a || b >= RTE_MAX_LCORE)
			goto bad;
		for (unsigned long l = a; l <= b; l++) {
			if (*n >= max) {
				mg_log(MG_LOG_ERR, "workerLcores '%s': more than %u workers", spec, max);
				return -EINVAL;
			}
			lcores[(*n)++] = (unsigned)l;
		}
		if (*p != '\0' && *p != ',' && *p != ' ')
			goto bad;
	}
	return 0;
bad:
	mg_log(MG_LOG_ERR, "workerLcores '%s': expected a list like 1,2-3 of lcore ids < %d",
	       spec, RTE_MAX_LCORE);
	return -EINVAL;
}

/* The device name is the devargs up to the first comma. */
static void devargs_name(const char *devargs, char *name, size_t len)
{
	size_t i = 0;

	while (devargs[i] != '\0' && devargs[i] != ',' && i + 1 < len) {
		name[i] = devargs[i];
		i++;
	}
	name[i] = '\0';
}

static int port_find_or_probe(const char *devargs, uint16_t *port_id)
{
	char name[64];
	int rc;

	devargs_name(devargs, name, sizeof(name));
	if (rte_eth_dev_get_port_by_name(name, port_id) == 0)
		return 0; /* already created by an EAL --vdev/-a argument */
	rc = rte_dev_probe(devargs);
	if (rc < 0 && rc != -EEXIST) {
		mg_log(MG_LOG_ERR, "port '%s': probe failed: %s", devargs, strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(name, port_id) != 0) {
		mg_log(MG_LOG_ERR, "port '%s': probed but no ethdev named '%s'", devargs, name);
		return -ENODEV;
	}
	return 0;
}

static int port_setup(struct dp_port *pt, const struct mg_dp_port *cfg, unsigned n_workers)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrx = DP_RX_DESC, ntx = DP_TX_DESC;
	int socket, rc;

	rc = port_find_or_probe(cfg->devargs, &pt->port_id);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_info_get(pt->port_id, &info);
	if (rc < 0)
		return rc;
	/*
	 * Every worker must be able to transmit without a lock, so a TX queue
	 * per worker is required. RX: one queue per worker when the device has
	 * them; RSS is asked for where the device offers it. However the device
	 * spreads packets (RSS, af_packet fanout, or all on queue 0), each
	 * worker polls its own queue and passes packets of sessions it does not
	 * own to the owner's hand-off ring, so any spreading is correct.
	 */
	if (info.max_tx_queues < n_workers) {
		mg_log(MG_LOG_ERR,
		       "port '%s': %u TX queues needed (one per worker), device has %u "
		       "(net_af_packet: add qpairs=%u)",
		       cfg->devargs, n_workers, info.max_tx_queues, n_workers);
		return -EINVAL;
	}
	pt->n_txq = (uint16_t)n_workers;
	pt->n_rxq = (uint16_t)RTE_MAX(1u, RTE_MIN(n_workers, info.max_rx_queues));
	memset(&conf, 0, sizeof(conf));
	pt->rss = false;
	if (pt->n_rxq > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_UDP) != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
						   (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
		pt->rss = true;
	}
	rc = rte_eth_dev_configure(pt->port_id, pt->n_rxq, pt->n_txq, &conf);
	if (rc < 0) {
		mg_log(MG_LOG_ERR, "port '%s': configure: %s", cfg->devargs, strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(pt->port_id, &nrx, &ntx);
	socket = rte_eth_dev_socket_id(pt->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < pt->n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(pt->port_id, q, nrx, (unsigned)socket, NULL,
					    dp_pktmbuf_pool);
		if (rc < 0) {
			mg_log(MG_LOG_ERR, "port '%s': rx queue %u: %s", cfg->devargs, q,
			       strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < pt->n_txq; q++) {
		rc = rte_eth_tx_queue_setup(pt->port_id, q, ntx, (unsigned)socket, NULL);
		if (rc < 0) {
			mg_log(MG_LOG_ERR, "port '%s': tx queue %u: %s", cfg->devargs, q,
			       strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(pt->port_id);
	if (rc < 0) {
		mg_log(MG_LOG_ERR, "port '%s': start: %s", cfg->devargs, strerror(-rc));
		return rc;
	}
	/* Unicast filtering is done in software; some PMDs only see our MAC otherwise. */
	rte_eth_promiscuous_enable(pt->port_id);
	rte_eth_macaddr_get(pt->port_id, &pt->mac);
	rte_eth_dev_set_link_up(pt->port_id);

	pt->n_addrs = 0;
	for (unsigned i = 0; i < cfg->n_addrs; i++) {
		const struct mg_cidr *c = &cfg->addrs[i];
		uint32_t a;

		if (c->family != AF_INET) {
			mg_log(MG_LOG_WARN, "port '%s': IPv6 media address ignored "
			       "(the dataplane handles IPv4 only)", cfg->devargs);
			continue;
		}
		memcpy(&a, c->addr, 4);
		pt->addrs[pt->n_addrs] = a;
		pt->masks[pt->n_addrs] = c->prefix_len == 0 ? 0 :
			rte_cpu_to_be_32(~0u << (32 - c->prefix_len));
		pt->n_addrs++;
	}
	pt->shared_slot = 0;
	if (cfg->shared.family == AF_INET) {
		uint32_t a;

		memcpy(&a, cfg->shared.addr, 4);
		if (pt->n_addrs >= DP_MAX_ADDRS) {
			mg_log(MG_LOG_ERR, "port '%s': sharedAddress: already %u addresses (allowed: "
			       "at most %u with it)", cfg->devargs, pt->n_addrs, DP_MAX_ADDRS - 1);
			return -EINVAL;
		}
		pt->shared_slot = pt->n_addrs + 1;
		pt->addrs[pt->n_addrs] = a;
		pt->masks[pt->n_addrs] = 0xffffffffu;
		pt->n_addrs++;
	}
	pt->nexthop = 0;
	if (cfg->nexthop.family == AF_INET)
		memcpy(&pt->nexthop, cfg->nexthop.addr, 4);
	devargs_name(cfg->devargs, pt->name, sizeof(pt->name));
	mg_log(MG_LOG_INFO, "port %s: id %u, %u rxq%s, %u txq, MAC " RTE_ETHER_ADDR_PRT_FMT
	       ", %u IPv4 address(es)", pt->name, pt->port_id, pt->n_rxq, pt->rss ? " (RSS)" : "",
	       pt->n_txq, RTE_ETHER_ADDR_BYTES(&pt->mac), pt->n_addrs);
	return 0;
}

int dp_port_init(const struct mg_settings *s, unsigned n_workers)
{
	int rc;

	if (s->n_ports == 0) {
		mg_log(MG_LOG_ERR, "no dataplane port configured "
		       "(mediagate.dataplane.port.0.device and .addresses)");
		return -EINVAL;
	}
	dp_pktmbuf_pool = rte_pktmbuf_pool_create("dp_mbuf", DP_NB_MBUF, DP_MBUF_CACHE, 0,
						  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	dp_hdr_pool = rte_pktmbuf_pool_create("dp_hdr", DP_NB_SMALL, DP_MBUF_CACHE, 0,
					      RTE_PKTMBUF_HEADROOM + 64, (int)rte_socket_id());
	dp_clone_pool = rte_pktmbuf_pool_create("dp_clone", DP_NB_SMALL, DP_MBUF_CACHE, 0, 0,
						(int)rte_socket_id());
	if (dp_pktmbuf_pool == NULL || dp_hdr_pool == NULL || dp_clone_pool == NULL) {
		mg_log(MG_LOG_ERR, "mbuf pools: %s (EAL -m too small?)", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (unsigned i = 0; i < s->n_ports; i++) {
		rc = port_setup(&dp_ports[i], &s->ports[i], n_workers);
		if (rc < 0)
			return rc;
		dp_n_ports = i + 1;
	}
	return 0;
}

void dp_port_close(void)
{
	for (unsigned i = 0; i < dp_n_ports; i++) {
		rte_eth_dev_stop(dp_ports[i].port_id);
		rte_eth_dev_close(dp_ports[i].port_id);
	}
	dp_n_ports = 0;
}
