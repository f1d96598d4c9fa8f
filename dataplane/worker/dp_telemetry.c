/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry commands (usertools/dpdk-telemetry.py, or any client of the
 * telemetry socket):
 *   /mediagate/workers        per worker packets, busy cycles, cycles/packet
 *   /mediagate/net            rx/tx, ARP, ICMP, drops by named reason
 *   /mediagate/sessions       number of sessions and the first ids
 *   /mediagate/session,<id>   per leg/direction counters of one session
 *   /mediagate/neigh          neighbour tables
 *   /mediagate/ports          ethdev counters (imissed: the NIC ring overflowed)
 * Callbacks run on telemetry threads: session reads go through the
 * telemetry QSBR slot (dp_session_reader_begin/end).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "dp_net.h"
#include "dp_port.h"
#include "dp_session.h"
#include "dp_telemetry.h"
#include "dp_worker.h"

static int t_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "n_workers", (int)dp_worker_count());
	for (unsigned i = 0; i < dp_worker_count(); i++) {
		struct dp_worker_figures f;
		struct rte_tel_data *c = rte_tel_data_alloc();
		char name[24];

		if (c == NULL)
			return -ENOMEM;
		dp_worker_figures(i, &f);
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "lcore", f.lcore);
		rte_tel_data_add_dict_u64(c, "packets", f.packets);
		rte_tel_data_add_dict_u64(c, "busy_tsc", f.busy_tsc);
		rte_tel_data_add_dict_u64(c, "cycles_per_packet",
					  f.packets != 0 ? f.busy_tsc / f.packets : 0);
		rte_tel_data_add_dict_u64(c, "polls", f.polls);
		rte_tel_data_add_dict_u64(c, "idle_polls", f.idle_polls);
		rte_tel_data_add_dict_u64(c, "handoffs", f.handoffs);
		rte_tel_data_add_dict_u64(c, "preempted_loops", f.preempted);
		snprintf(name, sizeof(name), "worker%u", i);
		rte_tel_data_add_dict_container(d, name, c, 0);
	}
	return 0;
}

static int t_net(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t rx, tx, ai, ao, icmp, drops[DP_NET_DROP__COUNT];
	struct rte_tel_data *c = rte_tel_data_alloc();

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	if (c == NULL)
		return -ENOMEM;
	dp_worker_net_totals(&rx, &tx, &ai, &ao, &icmp, drops);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx_packets", rx);
	rte_tel_data_add_dict_u64(d, "tx_packets", tx);
	rte_tel_data_add_dict_u64(d, "arp_in", ai);
	rte_tel_data_add_dict_u64(d, "arp_out", ao);
	rte_tel_data_add_dict_u64(d, "icmp_echo_replies", icmp);
	rte_tel_data_start_dict(c);
	for (unsigned r = 0; r < DP_NET_DROP__COUNT; r++)
		rte_tel_data_add_dict_u64(c, dp_net_drop_names[r], drops[r]);
	rte_tel_data_add_dict_container(d, "drops", c, 0);
	return 0;
}

static int t_sessions(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *ids = rte_tel_data_alloc();
	uint32_t next = 0;
	uint64_t id;
	unsigned n = 0;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	if (ids == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(ids, RTE_TEL_U64_VAL);
	dp_session_reader_begin();
	while (n < 256 && dp_session_iterate(&next, &id) == 0) {
		rte_tel_data_add_array_u64(ids, id);
		n++;
	}
	dp_session_reader_end();
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "count", dp_session_count());
	rte_tel_data_add_dict_container(d, "ids", ids, 0);
	return 0;
}

static void add_dir(struct rte_tel_data *d, const char *name, const struct mg_msg_dir_stats *s)
{
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (c == NULL)
		return;
	rte_tel_data_start_dict(c);
	rte_tel_data_add_dict_u64(c, "packets", s->packets);
	rte_tel_data_add_dict_u64(c, "bytes", s->bytes);
	rte_tel_data_add_dict_u64(c, "rtcp_packets", s->rtcp_packets);
	rte_tel_data_add_dict_u64(c, "roc", s->roc);
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++) {
		char k[40];

		snprintf(k, sizeof(k), "drop_%s", mg_proto_drop_name(r));
		rte_tel_data_add_dict_u64(c, k, s->drops[r]);
	}
	rte_tel_data_add_dict_container(d, name, c, 0);
}

static int t_session(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_msg_session_stats st;
	const struct dp_session_rt *s;
	char *end;
	uint64_t id;

	RTE_SET_USED(cmd);
	if (params == NULL || *params == '\0')
		return -EINVAL;
	id = strtoull(params, &end, 0);
	if (*end != '\0')
		return -EINVAL;
	uint64_t learned[2] = { 0, 0 }, handovers[2] = { 0, 0 };

	dp_session_reader_begin();
	s = dp_session_find(id);
	if (s != NULL) {
		dp_session_fill_stats(s, &st);
		/* the owner's source state, read racily (SPEC 12) */
		for (unsigned l = 0; l < 2; l++) {
			learned[l] = s->leg[l].src->flags;
			handovers[l] = s->leg[l].src->handovers;
		}
	}
	dp_session_reader_end();
	if (s == NULL)
		return -ENOENT;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "id", st.id);
	add_dir(d, "leg0_rx", &st.legs[0][0]);
	add_dir(d, "leg0_tx", &st.legs[0][1]);
	add_dir(d, "leg1_rx", &st.legs[1][0]);
	add_dir(d, "leg1_tx", &st.legs[1][1]);
	/* DP_SRC_* bits: 1 = RTP source learned, 2 = RTCP port learned */
	rte_tel_data_add_dict_u64(d, "leg0_source_learned", learned[0]);
	rte_tel_data_add_dict_u64(d, "leg1_source_learned", learned[1]);
	rte_tel_data_add_dict_u64(d, "leg0_handovers", handovers[0]);
	rte_tel_data_add_dict_u64(d, "leg1_handovers", handovers[1]);
	for (unsigned f = 0; f < MG_PROTO_MAX_FORKS; f++) {
		char k[32];

		if (st.forks[f].fork_id == 0)
			continue;
		snprintf(k, sizeof(k), "fork%u_packets", st.forks[f].fork_id);
		rte_tel_data_add_dict_u64(d, k, st.forks[f].packets);
		snprintf(k, sizeof(k), "fork%u_drops", st.forks[f].fork_id);
		rte_tel_data_add_dict_u64(d, k, st.forks[f].drops);
	}
	return 0;
}

struct neigh_walk {
	struct rte_tel_data *d;
};

static void neigh_cb(void *arg, uint32_t ip, const struct rte_ether_addr *mac, const char *state)
{
	struct neigh_walk *nw = arg;
	const uint8_t *b = (const uint8_t *)&ip;
	char v[80];

	/* dict keys may not contain '.', so one string per entry */
	snprintf(v, sizeof(v), "%u.%u.%u.%u " RTE_ETHER_ADDR_PRT_FMT " %s", b[0], b[1], b[2], b[3],
		 RTE_ETHER_ADDR_BYTES(mac), state);
	rte_tel_data_add_array_string(nw->d, v);
}

static int t_neigh(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct neigh_walk nw = { d };

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	/* racy read of the main lcore's table: good enough for a dump */
	for (unsigned p = 0; p < dp_n_ports; p++)
		dp_neigh_walk((uint16_t)p, neigh_cb, &nw);
	return 0;
}

static int t_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	for (unsigned p = 0; p < dp_n_ports; p++) {
		struct rte_tel_data *c = rte_tel_data_alloc();
		struct rte_eth_stats st;
		char name[24], mac[RTE_ETHER_ADDR_FMT_SIZE];

		if (c == NULL)
			return -ENOMEM;
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(dp_ports[p].port_id, &st);
		rte_ether_format_addr(mac, sizeof(mac), &dp_ports[p].mac);
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_string(c, "device", dp_ports[p].name);
		rte_tel_data_add_dict_string(c, "mac", mac);
		rte_tel_data_add_dict_u64(c, "rx_queues", dp_ports[p].n_rxq);
		rte_tel_data_add_dict_u64(c, "rss", dp_ports[p].rss);
		rte_tel_data_add_dict_u64(c, "ipackets", st.ipackets);
		rte_tel_data_add_dict_u64(c, "opackets", st.opackets);
		rte_tel_data_add_dict_u64(c, "imissed", st.imissed);
		rte_tel_data_add_dict_u64(c, "ierrors", st.ierrors);
		rte_tel_data_add_dict_u64(c, "oerrors", st.oerrors);
		rte_tel_data_add_dict_u64(c, "rx_nombuf", st.rx_nombuf);
		rte_tel_data_add_dict_u64(c, "neighbours", dp_neigh_count((uint16_t)p));
		snprintf(name, sizeof(name), "port%u", p);
		rte_tel_data_add_dict_container(d, name, c, 0);
	}
	return 0;
}

int dp_telemetry_register(void)
{
	int rc = 0;

	rc |= rte_telemetry_register_cmd("/mediagate/workers", t_workers,
					 "Per worker: packets, busy TSC, cycles/packet, polls");
	rc |= rte_telemetry_register_cmd("/mediagate/net", t_net,
					 "Packets, ARP, ICMP and drops by reason outside sessions");
	rc |= rte_telemetry_register_cmd("/mediagate/sessions", t_sessions,
					 "Session count and ids (first 256)");
	rc |= rte_telemetry_register_cmd("/mediagate/session", t_session,
					 "Counters of one session. Parameter: session id");
	rc |= rte_telemetry_register_cmd("/mediagate/neigh", t_neigh, "Neighbour (ARP) tables");
	rc |= rte_telemetry_register_cmd("/mediagate/ports", t_ports,
					 "Per port: device, MAC, queues, ethdev counters, neighbours");
	return rc != 0 ? -EINVAL : 0;
}
