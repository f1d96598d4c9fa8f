/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop: poll each port's queue, the hand-off ring and (worker 0)
 * the main lcore's TX ring, run each burst through the stages, drain TX on
 * a TSC timer, report quiescence, sleep when idle. The stages themselves are
 * the dp_stage_*.h headers; bring-up is dp_bringup.c, figures
 * dp_worker_stats.c.
 */
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

#define IDLE_POLLS_BEFORE_SLEEP 4

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
				tx_enqueue(w, pkts[i]->port, pkts[i], NULL, 0);
			total += n;
		}
		uint64_t t1 = rte_rdtsc();

		if (t1 - last_drain > dp_drain_tsc) {
			for (unsigned p = 0; p < dp_n_ports; p++)
				tx_flush(w, p);
			last_drain = t1 = rte_rdtsc();
		}
		w->polls++;
		/*
		 * Quiescent only with the TX buffers empty: a buffered packet
		 * keeps its session's counters block (dp_tx.h drop_st) until it
		 * is sent, and a block may be freed once we report. They are
		 * drained at least every dp_drain_tsc (above), so a grace period
		 * waits for us at most that much longer.
		 */
		bool held = false;

		for (unsigned p = 0; p < dp_n_ports; p++)
			held |= w->tx[p].n != 0;
		if (!held)
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
