/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine's clocks: the media timeout (a 1 s tick polls the answered
 * calls' session counters; calls_media.c judges them) and the wait for the
 * calls to finish at shutdown. The per-call guard timer of an ending call is
 * the core's (calls_core.c). docs/calls.md, "Media timeout".
 */
#include <stdint.h>

#include "calls_internal.h"
#include "mg_log.h"


/* Every second: poll the answered calls due for a check, each every
 * mediaTimeout/4 s (1 s at least, 5 s at most), one request per call at a
 * time; while the dataplane is away, end the calls that waited too long. */
static void on_mt_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	uint64_t now = calls_now_ms(), every;

	(void)m;
	(void)t;
	(void)arg;
	if (!media_dp_up()) {
		calls_dataplane_wait_check(now);
		return;
	}
	/* the counters, and the SRTP indexes a re-install after a dataplane
	 * restart goes on from (docs/reliability.md): every 5 s at most */
	every = calls_ce.media_timeout_s ? (uint64_t)calls_ce.media_timeout_s * 1000 / 4 : CALLS_INDEX_POLL_MS;
	if (every > CALLS_INDEX_POLL_MS)
		every = CALLS_INDEX_POLL_MS;
	if (every < 1000)
		every = 1000;
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next) {
		/* a standby's call: its dataplane sees nothing, the record's
		 * indexes are the right ones */
		if ((c->state != CALL_ANSWERED && c->state != CALL_ACTIVE) || c->standby ||
		    now - c->stats_last_ms < every)
			continue;
		/* not installed or one in flight: -EBUSY */
		if (media_call_stats(&c->mc) == 0)
			c->stats_last_ms = now;
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
