/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bring-up and shut-down of the dataplane after rte_eal_init() and
 * dp_ctl_init(): ports, neighbour tables, session tables, the workers and
 * their rings, capture, telemetry, the main-lcore hook; then the workers are
 * launched (dp_worker.c). Also the main lcore's share of the packet path
 * (dp_main_hook).
 */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "dp_capture.h"
#include "dp_ctl.h"
#include "dp_telemetry.h"
#include "dp_worker.h"
#include "dp_worker_rt.h"
#include "mg_log.h"

#define DRAIN_US 100

struct dp_worker *dp_workers[DP_MAX_WORKERS];
unsigned dp_n_run_workers;
struct rte_ring *dp_slow_ring;
unsigned dp_idle_sleep_us;
uint64_t dp_drain_tsc;
uint64_t dp_preempt_tsc;
uint64_t dp_start_tsc;
uint64_t dp_src_silence_tsc;
volatile int dp_worker_quit;
static unsigned n_launched;


/* Main-lcore hook (dp_ctl_hook_add): ARP input and packets waiting for a
 * neighbour from the workers' slow ring, neighbour timers, RCU reclaim. */
void dp_main_hook(void *arg)
{
	struct rte_mbuf *pkts[BURST];
	unsigned n;

	RTE_SET_USED(arg);
	while ((n = rte_ring_sc_dequeue_burst(dp_slow_ring, (void **)pkts, BURST, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct rte_ether_hdr *eh = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);

			if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
				dp_net_arp_input(pkts[i]);
			else
				dp_neigh_hold(pkts[i]);
		}
	}
	dp_neigh_timer(rte_get_tsc_cycles());
	dp_session_reclaim();
}

int dp_dataplane_init(const struct mg_settings *s)
{
	unsigned lcores[DP_MAX_WORKERS];
	unsigned nl = 0;
	char name[32];
	int rc;

	if (s->worker_lcores[0] != '\0') {
		rc = dp_parse_lcores(s->worker_lcores, lcores, DP_MAX_WORKERS, &nl);
		if (rc < 0)
			return rc;
		for (unsigned i = 0; i < nl; i++) {
			if (!rte_lcore_is_enabled(lcores[i]) || lcores[i] == rte_get_main_lcore()) {
				mg_log(MG_LOG_ERR, "workerLcores: lcore %u is not a worker lcore "
				       "enabled in the EAL arguments (-l/--lcores; the first one is "
				       "the main lcore)", lcores[i]);
				return -EINVAL;
			}
		}
	} else {
		unsigned l;

		RTE_LCORE_FOREACH_WORKER(l) {
			if (nl < DP_MAX_WORKERS)
				lcores[nl++] = l;
		}
	}
	if (nl == 0) {
		mg_log(MG_LOG_ERR, "no worker lcore: give the EAL at least two lcores (-l 0,1)");
		return -EINVAL;
	}
	dp_n_run_workers = nl;
	dp_idle_sleep_us = s->idle_sleep_us;
	dp_src_silence_tsc = rte_get_tsc_hz() / 1000 * s->media_handover_silence_ms;
	dp_drain_tsc = rte_get_tsc_hz() / 1000000 * DRAIN_US;
	dp_preempt_tsc = rte_get_tsc_hz() / 10000; /* 100 us */
	dp_start_tsc = rte_get_tsc_cycles();

	rc = dp_port_init(s, dp_n_run_workers);
	if (rc < 0)
		return rc;
	rc = dp_neigh_init(dp_n_ports);
	if (rc < 0)
		return rc;
	rc = dp_session_init(s->max_sessions, dp_n_run_workers, s->media_port_min, s->media_port_max);
	if (rc < 0)
		return rc;
	dp_slow_ring = rte_ring_create("dp_slow", DP_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (dp_slow_ring == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < dp_n_run_workers; i++) {
		struct dp_worker *w = rte_zmalloc("dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);

		if (w == NULL)
			return -ENOMEM;
		w->idx = i;
		w->lcore = lcores[i];
		snprintf(name, sizeof(name), "dp_handoff%u", i);
		w->handoff = rte_ring_create(name, DP_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
		if (i == 0)
			w->main_tx = dp_main_tx_ring; /* created by dp_neigh_init() */
		w->eng = mg_srtp_engine_create(MG_SRTP_BACKEND_AUTO);
		if (w->handoff == NULL || w->eng == NULL) {
			mg_log(MG_LOG_ERR, "worker %u: %s", i, w->eng == NULL ?
			       "cannot create the SRTP engine" : "cannot create its ring");
			return -ENOMEM;
		}
		dp_workers[i] = w;
	}
	dp_ctl_hook_add(dp_main_hook, NULL);
	dp_ctl_set_counts(0, dp_n_run_workers);
	rc = dp_capture_init(s);
	if (rc < 0)
		return rc;
	rc = dp_telemetry_register();
	if (rc < 0)
		mg_log(MG_LOG_WARN, "telemetry commands not registered: %s", strerror(-rc));
	for (unsigned i = 0; i < dp_n_run_workers; i++) {
		rc = rte_eal_remote_launch(dp_worker_main, dp_workers[i], dp_workers[i]->lcore);
		if (rc < 0) {
			mg_log(MG_LOG_ERR, "launch worker on lcore %u: %s", dp_workers[i]->lcore,
			       strerror(-rc));
			return rc;
		}
		n_launched = i + 1;
	}
	mg_log(MG_LOG_INFO, "dataplane up: %u port(s), %u worker(s), idle sleep %u us", dp_n_ports,
	       dp_n_run_workers, dp_idle_sleep_us);
	return 0;
}

void dp_dataplane_fini(void)
{
	dp_worker_quit = 1;
	for (unsigned i = 0; i < n_launched; i++)
		rte_eal_wait_lcore(dp_workers[i]->lcore);
	n_launched = 0;
	dp_capture_fini();
	dp_port_close();
}

