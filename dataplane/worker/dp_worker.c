/* SPDX-License-Identifier: BSD-3-Clause */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "dp_ctl.h"
#include "dp_stage_accept.h"
#include "dp_stage_out.h"
#include "dp_stage_rx.h"
#include "dp_stage_session.h"
#include "dp_stage_srtp.h"
#include "dp_worker.h"
#include "mg_log.h"

#define DRAIN_US 100
#define IDLE_POLLS_BEFORE_SLEEP 4

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

/* One burst through the stages (dp_stage_*.h). */
static void process(struct dp_worker *w, struct rte_mbuf **pkts, unsigned n, bool from_nic)
{
	struct job jobs[BURST];
	struct dp_ep_key keys[BURST];
	const void *kp[BURST];
	uint64_t now = rte_rdtsc();
	unsigned nj;

	nj = stage_rx(w, pkts, n, from_nic, jobs, keys, kp);	/* 1 */
	if (nj == 0)
		return;
	nj = stage_session(w, jobs, kp, nj, now);		/* 2 */
	if (nj == 0)
		return;
	stage_srtp(w, jobs, nj, false);				/* 3: decrypt */
	stage_accept(w, jobs, nj, now);				/* 4 */
	stage_srtp(w, jobs, nj, true);				/* 5: encrypt */
	stage_out(w, jobs, nj);					/* 6 */
}

/* ----------------------------------------------------------------- loop */

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_mbuf *pkts[BURST];
	uint64_t last_drain = rte_rdtsc();
	unsigned empty = 0;

	/* short sleeps must stay short: default timer slack is 50 us */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	rte_rcu_qsbr_thread_register(dp_qsbr, w->idx);
	rte_rcu_qsbr_thread_online(dp_qsbr, w->idx);
	mg_log(MG_LOG_INFO, "worker %u on lcore %u: SRTP backend %s", w->idx, w->lcore,
	       mg_srtp_backend_name(mg_srtp_engine_backend(w->eng)));
	while (!dp_worker_quit && !dp_ctl_stopping()) {
		uint64_t t0 = rte_rdtsc();
		unsigned total = 0, n;

		for (unsigned p = 0; p < dp_n_ports; p++) {
			if (w->idx >= dp_ports[p].n_rxq)
				continue;
			n = rte_eth_rx_burst(dp_ports[p].port_id, (uint16_t)w->idx, pkts, BURST);
			if (n == 0)
				continue;
			for (unsigned i = 0; i < n; i++)
				pkts[i]->port = (uint16_t)p;
			w->net.rx_pkts += n;
			process(w, pkts, n, true);
			total += n;
		}
		n = rte_ring_sc_dequeue_burst(w->handoff, (void **)pkts, BURST, NULL);
		if (n > 0) {
			process(w, pkts, n, false);
			total += n;
		}
		if (w->main_tx != NULL) {
			n = rte_ring_sc_dequeue_burst(w->main_tx, (void **)pkts, BURST, NULL);
			for (unsigned i = 0; i < n; i++)
				tx_enqueue(w, pkts[i]->port, pkts[i], NULL);
			total += n;
		}
		uint64_t t1 = rte_rdtsc();

		if (t1 - last_drain > dp_drain_tsc) {
			for (unsigned p = 0; p < dp_n_ports; p++)
				tx_flush(w, p);
			last_drain = t1 = rte_rdtsc();
		}
		w->polls++;
		rte_rcu_qsbr_quiescent(dp_qsbr, w->idx);
		if (total > 0) {
			w->packets += total;
			/*
			 * A loop that took longer than any burst can (100 us) was
			 * preempted: on a shared machine its wall time says nothing
			 * about our cost, so it is counted apart, not as busy time.
			 */
			if (t1 - t0 < dp_preempt_tsc)
				w->busy_tsc += t1 - t0;
			else
				w->preempted++;
			empty = 0;
			continue;
		}
		w->idle_polls++;
		if (dp_idle_sleep_us > 0 && ++empty >= IDLE_POLLS_BEFORE_SLEEP) {
			struct timespec ts = { 0, (long)dp_idle_sleep_us * 1000 };

			for (unsigned p = 0; p < dp_n_ports; p++)
				tx_flush(w, p);
			nanosleep(&ts, NULL);
		}
	}
	for (unsigned p = 0; p < dp_n_ports; p++)
		tx_flush(w, p);
	rte_rcu_qsbr_thread_offline(dp_qsbr, w->idx);
	rte_rcu_qsbr_thread_unregister(dp_qsbr, w->idx);
	return 0;
}

/* ------------------------------------------------------------ main lcore */

void dp_worker_main_tx(struct rte_mbuf *m)
{
	if (rte_ring_sp_enqueue(dp_workers[0]->main_tx, m) != 0) {
		dp_main_net_stats.drops[DP_NET_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

static void main_hook(void *arg)
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
		if (i == 0) {
			w->main_tx = rte_ring_create("dp_main_tx", DP_RING_SIZE, (int)rte_socket_id(),
						     RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (w->main_tx == NULL)
				return -ENOMEM;
		}
		w->eng = mg_srtp_engine_create(MG_SRTP_BACKEND_AUTO);
		if (w->handoff == NULL || w->eng == NULL) {
			mg_log(MG_LOG_ERR, "worker %u: %s", i, w->eng == NULL ?
			       "cannot create the SRTP engine" : "cannot create its ring");
			return -ENOMEM;
		}
		dp_workers[i] = w;
	}
	dp_ctl_hook_add(main_hook, NULL);
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

/* ----------------------------------------------------------- statistics */

unsigned dp_worker_count(void)
{
	return dp_n_run_workers;
}

void dp_worker_figures(unsigned idx, struct dp_worker_figures *f)
{
	const struct dp_worker *w = dp_workers[idx];

	f->lcore = w->lcore;
	f->packets = w->packets;
	f->busy_tsc = w->busy_tsc;
	f->polls = w->polls;
	f->idle_polls = w->idle_polls;
	f->handoffs = w->handoffs;
	f->preempted = w->preempted;
}

void dp_worker_net_totals(uint64_t *rx, uint64_t *tx, uint64_t *arp_in, uint64_t *arp_out,
			  uint64_t *icmp, uint64_t *drops)
{
	const struct dp_net_stats *m = &dp_main_net_stats;

	*rx = 0;
	*tx = 0;
	*arp_in = m->arp_in;
	*arp_out = m->arp_replies_sent + m->arp_requests_sent;
	*icmp = 0;
	for (unsigned r = 0; r < DP_NET_DROP__COUNT; r++)
		drops[r] = m->drops[r];
	for (unsigned i = 0; i < dp_n_run_workers; i++) {
		const struct dp_net_stats *n = &dp_workers[i]->net;

		*rx += n->rx_pkts;
		*tx += n->tx_pkts;
		*icmp += n->icmp_echo_replies;
		for (unsigned r = 0; r < DP_NET_DROP__COUNT; r++)
			drops[r] += n->drops[r];
	}
}

void dp_worker_fill_dp_stats(struct mg_msg_dp_stats *out)
{
	uint64_t drops[DP_NET_DROP__COUNT];

	memset(out, 0, sizeof(*out));
	out->tsc_hz = rte_get_tsc_hz();
	out->uptime_ns = (rte_get_tsc_cycles() - dp_start_tsc) * 1000000000ull / out->tsc_hz;
	out->n_sessions = dp_session_count();
	out->n_workers = dp_n_run_workers;
	out->n_ports = dp_n_ports;
	uint64_t rx, tx, ai, ao, icmp;

	dp_worker_net_totals(&rx, &tx, &ai, &ao, &icmp, drops);
	out->rx_packets = rx;
	out->tx_packets = tx;
	out->arp_rx = ai;
	out->arp_tx = ao;
	out->icmp_echo = icmp;
	/* wire slots by shared reason; the named per-reason detail is in telemetry */
	out->drops[MG_DROP_UNKNOWN_DEST] = drops[DP_NET_DROP_NO_SESSION] +
					   drops[DP_NET_DROP_IP_NOT_OURS];
	out->drops[MG_DROP_NO_NEIGHBOUR] = drops[DP_NET_DROP_NEIGH_FAILED] +
					   drops[DP_NET_DROP_NEIGH_HOLD_FULL] +
					   drops[DP_NET_DROP_NO_ROUTE];
	out->drops[MG_DROP_TX_FULL] = drops[DP_NET_DROP_TX_FULL] + drops[DP_NET_DROP_SLOW_RING_FULL] +
				      drops[DP_NET_DROP_HANDOFF_FULL];
	out->drops[MG_DROP_NO_MBUF] = drops[DP_NET_DROP_NO_MBUF];
	out->drops[MG_DROP_SOURCE_MISMATCH] = drops[DP_NET_DROP_SRC_OURS];
	out->drops[MG_DROP_MALFORMED] = drops[DP_NET_DROP_RUNT] + drops[DP_NET_DROP_IP_MALFORMED] +
					drops[DP_NET_DROP_IP_CHECKSUM] +
					drops[DP_NET_DROP_UDP_MALFORMED] +
					drops[DP_NET_DROP_ARP_MALFORMED];
	out->drops[MG_DROP_OTHER] = drops[DP_NET_DROP_NOT_OUR_MAC] + drops[DP_NET_DROP_ETHERTYPE] +
				    drops[DP_NET_DROP_IPV6] + drops[DP_NET_DROP_IP_FRAGMENT] +
				    drops[DP_NET_DROP_IP_PROTO] + drops[DP_NET_DROP_ICMP_OTHER] +
				    drops[DP_NET_DROP_ARP_NOT_OURS];
	for (unsigned i = 0; i < dp_n_run_workers && i < MG_PROTO_MAX_WORKERS; i++) {
		out->workers[i].lcore = dp_workers[i]->lcore;
		out->workers[i].packets = dp_workers[i]->packets;
		out->workers[i].busy_tsc = dp_workers[i]->busy_tsc;
		out->workers[i].polls = dp_workers[i]->polls;
		out->workers[i].idle_polls = dp_workers[i]->idle_polls;
	}
}
