/* SPDX-License-Identifier: BSD-3-Clause */
#include "load.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/su.h>

#include "load_rxq.h"
#include "mg_log.h"

#define LOAD_TICK_MS 10
#define LOAD_WINDOW_TICKS 10 /* 100 ms */

static struct {
	su_timer_t *timer;
	unsigned max_rate, max_lag_ms;
	double tokens;
	uint64_t last_fill_ns;
	uint64_t expect_ns;                    /* when the running tick was due */
	unsigned lag_ring[LOAD_WINDOW_TICKS];  /* lateness of the last ticks, ms */
	unsigned rxq_ring[LOAD_WINDOW_TICKS];  /* SIP receive queue wait at the last ticks, ms */
	unsigned lag_pos;
	struct load_counters ctr;
	uint64_t last_warn_ns;
} ld;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned ring_max(const unsigned *ring)
{
	unsigned worst = 0;

	for (unsigned i = 0; i < LOAD_WINDOW_TICKS; i++)
		if (ring[i] > worst)
			worst = ring[i];
	return worst;
}

/* The loop's lag: its timers' lateness, or how long SIP datagrams wait
 * before it reads them (load_rxq.h), whichever is worse. */
static unsigned lag_now(void)
{
	unsigned worst = ring_max(ld.lag_ring), rxq = ring_max(ld.rxq_ring);

	if (rxq > worst)
		worst = rxq;
	/* a tick that is overdue right now counts too: a loop stuck in one
	 * long callback has not fired the timer at all */
	if (ld.expect_ns != 0) {
		uint64_t now = mono_ns();

		if (now > ld.expect_ns && (now - ld.expect_ns) / 1000000u > worst)
			worst = (unsigned)((now - ld.expect_ns) / 1000000u);
	}
	return worst;
}

static void on_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	uint64_t now = mono_ns();
	unsigned late = now > ld.expect_ns ? (unsigned)((now - ld.expect_ns) / 1000000u) : 0;

	(void)m;
	(void)t;
	(void)arg;
	unsigned rxq = load_rxq_age_ms();

	ld.rxq_ring[ld.lag_pos % LOAD_WINDOW_TICKS] = rxq;
	ld.lag_ring[ld.lag_pos++ % LOAD_WINDOW_TICKS] = late;
	if (late > ld.ctr.lag_max_ms)
		ld.ctr.lag_max_ms = late;
	if (rxq > ld.ctr.rxq_max_ms)
		ld.ctr.rxq_max_ms = rxq;
	ld.expect_ns = now + LOAD_TICK_MS * 1000000ull;
	su_timer_set(ld.timer, on_tick, NULL);
}

static void limits(const struct mg_settings *s)
{
	ld.max_rate = s->max_rate;
	ld.max_lag_ms = s->max_loop_lag_ms;
	ld.tokens = s->max_rate; /* a full second's worth */
	ld.last_fill_ns = mono_ns();
	load_rxq_config(s);
}

int load_start(su_root_t *root, const struct mg_settings *s)
{
	memset(&ld, 0, sizeof(ld));
	limits(s);
	ld.timer = su_timer_create(su_root_task(root), LOAD_TICK_MS);
	if (ld.timer == NULL)
		return -ENOMEM;
	ld.expect_ns = mono_ns() + LOAD_TICK_MS * 1000000ull;
	if (su_timer_set(ld.timer, on_tick, NULL) < 0)
		return -EIO;
	return 0;
}

void load_reload(const struct mg_settings *s)
{
	limits(s);
}

void load_stop(void)
{
	if (ld.timer != NULL)
		su_timer_destroy(ld.timer);
	ld.timer = NULL;
	ld.expect_ns = 0;
	load_rxq_reset();
}

enum load_verdict load_admit(void)
{
	ld.ctr.lag_ms = lag_now();
	if (ld.max_lag_ms > 0 && ld.ctr.lag_ms > ld.max_lag_ms) {
		uint64_t now = mono_ns();

		ld.ctr.refused_lag++;
		if (now - ld.last_warn_ns > 10000000000ull) {
			MG_WARN("overload: the event loop runs %u ms late (SIP datagrams wait up "
				"to %u ms to be read; limit %u ms, mediagate.calls.maxLoopLagMs): new "
				"calls refused (%llu so far)", ld.ctr.lag_ms, ring_max(ld.rxq_ring),
				ld.max_lag_ms, (unsigned long long)ld.ctr.refused_lag);
			ld.last_warn_ns = now;
		}
		return LOAD_LAG;
	}
	if (ld.max_rate > 0) {
		uint64_t now = mono_ns();

		ld.tokens += (double)(now - ld.last_fill_ns) * ld.max_rate / 1e9;
		if (ld.tokens > ld.max_rate)
			ld.tokens = ld.max_rate;
		ld.last_fill_ns = now;
		if (ld.tokens < 1.0) {
			ld.ctr.refused_rate++;
			return LOAD_RATE;
		}
		ld.tokens -= 1.0;
	}
	ld.ctr.admitted++;
	return LOAD_OK;
}

const char *load_reason(enum load_verdict v)
{
	switch (v) {
	case LOAD_RATE:
		return "Call rate limit reached";
	case LOAD_LAG:
		return "Overloaded";
	default:
		return "ok";
	}
}

void load_get_counters(struct load_counters *out)
{
	ld.ctr.lag_ms = lag_now();
	ld.ctr.rxq_ms = ring_max(ld.rxq_ring);
	*out = ld.ctr;
}
