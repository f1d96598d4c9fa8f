/* SPDX-License-Identifier: BSD-3-Clause */
#define ALLOW_EXPERIMENTAL_API
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "gen_common.h"

int gen_port_open(const struct gen_eal *e, struct gen_port *p)
{
	char prog[64], lcore[16], mem[16], fp[64], vdev[256];
	char a_l[] = "-l", a_nohuge[] = "--no-huge", a_m[] = "-m", a_noshconf[] = "--no-shconf",
	     a_nopci[] = "--no-pci", a_notel[] = "--no-telemetry", a_fp[] = "--file-prefix",
	     a_vdev[] = "--vdev", a_ll[] = "--log-level", a_llv[] = "*:error";
	/* --no-telemetry, when asked, goes in the last slot but one */
	char *eal[] = { prog,   a_l, lcore, a_nohuge, a_m, mem, a_noshconf, a_nopci, a_fp,
			fp, a_vdev, vdev, a_ll,   a_llv,   NULL, NULL };
	int n = (int)(sizeof(eal) / sizeof(eal[0])) - 2;
	struct rte_eth_conf conf = { 0 };

	snprintf(prog, sizeof(prog), "%s", e->prog);
	snprintf(lcore, sizeof(lcore), "%s", e->lcore);
	snprintf(mem, sizeof(mem), "%s", e->mem_mb);
	snprintf(fp, sizeof(fp), "%s", e->file_prefix);
	snprintf(vdev, sizeof(vdev), "%s", e->vdev);
	if (e->no_telemetry)
		eal[n++] = a_notel;
	if (rte_eal_init(n, eal) < 0) {
		fprintf(stderr, "%s: EAL init failed\n", e->prog);
		return -1;
	}
	p->id = 0;
	p->pool = rte_pktmbuf_pool_create("gen", e->n_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (p->pool == NULL || rte_eth_dev_configure(p->id, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(p->id, 0, 1024, 0, NULL, p->pool) < 0 ||
	    rte_eth_tx_queue_setup(p->id, 0, 1024, 0, NULL) < 0 || rte_eth_dev_start(p->id) < 0) {
		fprintf(stderr, "%s: port setup failed\n", e->prog);
		return -1;
	}
	rte_eth_macaddr_get(p->id, &p->mac);
	return 0;
}

void gen_port_close(const struct gen_port *p)
{
	rte_eth_dev_stop(p->id);
	rte_eth_dev_close(p->id);
	rte_eal_cleanup();
}

void gen_arp_send(const struct gen_port *p, uint16_t op, const struct rte_ether_addr *dst_mac,
		  uint32_t sip, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *a;

	if (m == NULL)
		return;
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eh) + sizeof(*a));
	if (eh == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	a = (struct rte_arp_hdr *)(eh + 1);
	if (dst_mac != NULL)
		eh->dst_addr = *dst_mac;
	else
		memset(&eh->dst_addr, 0xff, 6);
	eh->src_addr = p->mac;
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	a->arp_data.arp_sha = p->mac;
	a->arp_data.arp_sip = sip;
	if (dst_mac != NULL)
		a->arp_data.arp_tha = *dst_mac;
	else
		memset(&a->arp_data.arp_tha, 0, 6);
	a->arp_data.arp_tip = tip;
	if (rte_eth_tx_burst(p->id, 0, &m, 1) != 1)
		rte_pktmbuf_free(m);
}

int gen_seq_check(struct gen_stream *s, uint16_t seq0, uint16_t seq, struct gen_rx_count *c)
{
	int16_t d;

	if (!s->started) {
		s->started = 1;
		s->next = seq0;
		s->win = 0;
	}
	d = (int16_t)(uint16_t)(seq - s->next);
	if (d >= 0) {
		c->gap += (uint64_t)d;
		s->win = d >= 63 ? 1 : (s->win << (d + 1)) | 1;
		s->next = (uint16_t)(seq + 1);
		return 1;
	}
	unsigned back = (unsigned)(-d - 1);

	if (back >= 64) {
		c->late++; /* too old to tell a duplicate from a late one: not counted */
		return 0;
	}
	if (s->win & (1ull << back)) {
		c->dup++;
		return 0;
	}
	s->win |= 1ull << back;
	c->reorder++;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void gen_lat_pct(uint64_t *lat, size_t n, uint64_t hz, double *p50, double *p99)
{
	*p50 = *p99 = 0;
	if (n == 0)
		return;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	*p50 = (double)lat[n / 2] * 1e6 / (double)hz;
	*p99 = (double)lat[(size_t)((double)n * 0.99)] * 1e6 / (double)hz;
}
