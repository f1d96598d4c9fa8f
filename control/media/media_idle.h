/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The media timeouts' one clock (docs/calls.md "Media timeout", docs/ng.md
 * "Timeouts"): a direction's received-packet counter, read from the
 * dataplane's SESSION_STATS now and then, and when it last moved. The call
 * engine (mediagate.calls.mediaTimeout) and the NG sessions
 * (mediagate.ng.timeout, silentTimeout: media_timeout.c) both judge
 * silence by it.
 */
#ifndef MG_MEDIA_IDLE_H
#define MG_MEDIA_IDLE_H

#include <stdbool.h>
#include <stdint.h>

struct media_idle {
	uint64_t rx;       /* accepted packets at the last change */
	uint64_t since_ms; /* when it last changed (or was restarted); 0 = never read */
};

/* Restart the clock at @p now_ms (a new period: resumed, re-signalled). */
static inline void media_idle_restart(struct media_idle *w, uint64_t now_ms)
{
	w->since_ms = now_ms;
}

/*
 * The counter @p rx read at @p now_ms: milliseconds it has not moved
 * (0 when it moved, on the first read, or when @p watched is false: a
 * direction nobody expects media on restarts its clock every read).
 */
static inline uint64_t media_idle_feed(struct media_idle *w, uint64_t rx, bool watched, uint64_t now_ms)
{
	if (!watched || rx != w->rx || w->since_ms == 0 || now_ms < w->since_ms) {
		w->rx = rx;
		w->since_ms = now_ms;
		return 0;
	}
	return now_ms - w->since_ms;
}

/* Milliseconds since the last change, without a new reading. */
static inline uint64_t media_idle_for(const struct media_idle *w, uint64_t now_ms)
{
	return w->since_ms == 0 || now_ms < w->since_ms ? 0 : now_ms - w->since_ms;
}

#endif
