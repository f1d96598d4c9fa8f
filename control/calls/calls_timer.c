/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's clocks: the media timeout (a 1 s tick polls the answered
 * calls' session counters) and the wait for the calls to finish at
 * shutdown. The per-call guard timer of an ending call is the core's
 * (calls_core.c). docs/calls.md, "Media timeout".
 */
#include <stdint.h>

#include "calls_internal.h"
#include "mg_log.h"


/*
 * SESSION_STATS of an answered call: a SIP leg we receive on (not on hold
 * either way, not inactive) whose accepted packet count (RTP + RTCP that
 * passed source and SRTP checks) has not moved for mediagate.calls.mediaTimeout
 * seconds ends the call. A leg we do not expect media from restarts its
 * clock on every poll, so a resumed call gets a full period. PSTN legs are
 * not watched: the TDM side sends a frame every 20 ms whatever happens.
 */
static void on_mt_stats(void *arg, int result, const void *body)
{
	struct call *c = arg;
	const struct mg_msg_session_stats *st = body;
	uint64_t now = calls_now_ms();

	c->pending--;
	c->stats_busy = false;
	if (c->state == CALL_ENDING) {
		call_dp_cleanup(c);
		call_maybe_free(c);
		return;
	}
	if (result < 0 || st == NULL || calls_ce.media_timeout_s == 0)
		return;
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];
		uint64_t rx = st->legs[li][0].packets;

		if (g->pstn || g->neg == NULL)
			continue;
		/* on hold either way (the peer's sendonly or inactive, c=0.0.0.0):
		 * not watched; many phones send nothing while they hold */
		if (!(leg_neg(g)->dir & SDP_DIR_RECVONLY) || leg_neg(g)->hold || rx != g->mt_rx ||
		    g->mt_since_ms == 0) {
			g->mt_rx = rx;
			g->mt_since_ms = now;
			continue;
		}
		if (now - g->mt_since_ms >= (uint64_t)calls_ce.media_timeout_s * 1000) {
			calls_ce.cnt.media_timeout++;
			call_end(c, 0, NULL, "no media from the %s for %u s (mediagate.calls.mediaTimeout; %llu packets in all)",
				 li == 0 ? "caller" : "callee", calls_ce.media_timeout_s,
				 (unsigned long long)rx);
			return;
		}
	}
}

/* Every second: poll the answered calls due for a check, each every
 * mediaTimeout/4 s (1 s at least), one request per call at a time. */
static void on_mt_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	uint64_t now = calls_now_ms(), every;

	(void)m;
	(void)t;
	(void)arg;
	if (calls_ce.media_timeout_s == 0 || !calls_io->dp_is_up(calls_ce.dp))
		return;
	every = (uint64_t)calls_ce.media_timeout_s * 1000 / 4;
	if (every < 1000)
		every = 1000;
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next) {
		struct mg_msg_session_id sid = { .id = c->sess_id };

		if ((c->state != CALL_ANSWERED && c->state != CALL_ACTIVE) || !c->session_on ||
		    c->stats_busy || now - c->stats_last_ms < every)
			continue;
		if (calls_io->dp_request(calls_ce.dp, MG_MSG_SESSION_STATS, &sid, CALL_DP_TIMEOUT_MS, on_mt_stats,
				c) > 0) {
			c->pending++;
			c->stats_busy = true;
			c->stats_last_ms = now;
		}
	}
}

void calls_timer_start(void)
{
	calls_ce.mt_timer = su_timer_create(su_root_task(calls_ce.root), 1000);
	if (calls_ce.mt_timer != NULL)
		su_timer_set_for_ever(calls_ce.mt_timer, on_mt_tick, NULL);
}

void calls_timer_stop(void)
{
	if (calls_ce.mt_timer != NULL) {
		su_timer_destroy(calls_ce.mt_timer);
		calls_ce.mt_timer = NULL;
	}
}

void calls_timer_drain(unsigned ms)
{
	for (unsigned i = 0; i < ms / 100 && calls_ce.calls != NULL; i++)
		su_root_step(calls_ce.root, 100);
}
