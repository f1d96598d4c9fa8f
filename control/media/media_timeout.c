/* SPDX-License-Identifier: BSD-3-Clause */
#include "media_timeout.h"

#include <string.h>

#include "mg_config.h"

#define MEDIA_TO_POLL_MAX_MS 5000 /* also the SRTP index read-back's period */
#define MEDIA_TO_POLL_MIN_MS 1000
#define MEDIA_TO_GAP_MS 3000      /* checks this far apart: the clocks restart */

static const struct {
	const char *name, *key;
} reasons[MEDIA_TO_COUNT] = {
	[MEDIA_TO_TIMEOUT] = { .name = "timeout", .key = "mediagate.ng.timeout" },
	[MEDIA_TO_SILENT] = { .name = "silent_timeout", .key = "mediagate.ng.silentTimeout" },
	[MEDIA_TO_FINAL] = { .name = "final_timeout", .key = "mediagate.ng.finalTimeout" },
	[MEDIA_TO_OFFER] = { .name = "offer_timeout", .key = "mediagate.ng.offerTimeout" },
};

static struct {
	unsigned limit_s[MEDIA_TO_COUNT]; /* 0 = off */
	uint64_t expired[MEDIA_TO_COUNT];
	uint64_t last_ms;                 /* last media_timeout_begin() */
	bool gap;
} mt = {
	/* the configuration's defaults until media_timeout_config() */
	.limit_s = { [MEDIA_TO_TIMEOUT] = 60, [MEDIA_TO_SILENT] = 3600, [MEDIA_TO_OFFER] = 300 },
};

void media_timeout_config(const struct mg_settings *s)
{
	mt.limit_s[MEDIA_TO_TIMEOUT] = s->ng_timeout_s;
	mt.limit_s[MEDIA_TO_SILENT] = s->ng_silent_timeout_s;
	mt.limit_s[MEDIA_TO_FINAL] = s->ng_final_timeout_s;
	mt.limit_s[MEDIA_TO_OFFER] = s->ng_offer_timeout_s;
}

uint64_t media_timeout_poll_ms(void)
{
	uint64_t every = MEDIA_TO_POLL_MAX_MS;

	for (int r = MEDIA_TO_TIMEOUT; r <= MEDIA_TO_SILENT; r++)
		if (mt.limit_s[r] != 0 && (uint64_t)mt.limit_s[r] * 1000 / 4 < every)
			every = (uint64_t)mt.limit_s[r] * 1000 / 4;
	return every < MEDIA_TO_POLL_MIN_MS ? MEDIA_TO_POLL_MIN_MS : every;
}

void media_timeout_rx(struct media_watch *w, unsigned stream, uint64_t rx0, uint64_t rx1, uint64_t now_ms)
{
	if (stream >= MEDIA_TO_STREAMS || w->seen_ms == 0)
		return;
	/* every direction is watched; media_timeout_judge() picks its limit */
	(void)media_idle_feed(&w->rx[stream][0], rx0, true, now_ms);
	(void)media_idle_feed(&w->rx[stream][1], rx1, true, now_ms);
	w->polled_ms = now_ms;
}

void media_timeout_rx_none(struct media_watch *w, uint64_t now_ms)
{
	if (w->seen_ms != 0)
		w->polled_ms = now_ms;
}

void media_timeout_begin(uint64_t now_ms)
{
	mt.gap = mt.last_ms != 0 && (now_ms < mt.last_ms || now_ms - mt.last_ms > MEDIA_TO_GAP_MS);
	mt.last_ms = now_ms;
}

static void restart(struct media_watch *w, uint64_t now_ms)
{
	for (unsigned i = 0; i < MEDIA_TO_STREAMS; i++)
		for (int s = 0; s < 2; s++)
			media_idle_restart(&w->rx[i][s], now_ms);
}

static bool expire(struct media_watch *w, enum media_to_reason r, enum media_to_reason *why)
{
	w->expired = true;
	w->reason = (uint8_t)r;
	*why = r;
	return true;
}

static bool over(uint64_t since_ms, uint64_t now_ms, unsigned limit_s)
{
	return limit_s != 0 && now_ms >= since_ms && now_ms - since_ms >= (uint64_t)limit_s * 1000;
}

bool media_timeout_judge(struct media_watch *w, const struct media_to_view *v, uint64_t now_ms,
			 enum media_to_reason *why)
{
	bool watched = false, loud = false;
	uint64_t last = 0; /* when the last direction to fall silent passed its limit */

	if (w->expired)
		return false;
	if (w->seen_ms == 0) {
		w->seen_ms = now_ms;
		w->signals_seen = w->signals;
		restart(w, now_ms);
		return false;
	}
	if (over(w->seen_ms, now_ms, mt.limit_s[MEDIA_TO_FINAL]))
		return expire(w, MEDIA_TO_FINAL, why);
	if (!v->answered)
		return over(w->seen_ms, now_ms, mt.limit_s[MEDIA_TO_OFFER]) ? expire(w, MEDIA_TO_OFFER, why) : false;
	if (w->answered_ms == 0 || w->signals != w->signals_seen || mt.gap) {
		/* answered, re-signalled or not looked at for a while: a full period */
		if (w->answered_ms == 0)
			w->answered_ms = now_ms;
		w->signals_seen = w->signals;
		restart(w, now_ms);
		return false;
	}
	/* rtpengine's rule: alive while any direction is within its limit
	 * (a held call whose music stopped lives for silentTimeout); the
	 * reason is the limit of the direction that passed it last */
	for (unsigned i = 0; i < v->n_streams && i < MEDIA_TO_STREAMS; i++) {
		if (!v->relayed[i])
			continue;
		for (int s = 0; s < 2; s++) {
			unsigned lim = mt.limit_s[v->silent[i][s] ? MEDIA_TO_SILENT : MEDIA_TO_TIMEOUT];
			uint64_t idle = media_idle_for(&w->rx[i][s], w->polled_ms);

			if (lim == 0 || idle < (uint64_t)lim * 1000)
				return false;
			if (!watched || w->polled_ms - idle + (uint64_t)lim * 1000 >= last) {
				last = w->polled_ms - idle + (uint64_t)lim * 1000;
				loud = !v->silent[i][s];
			}
			watched = true;
		}
	}
	if (!watched) /* nothing relayed (e.g. only T.38 or rejected streams): no media clock */
		return false;
	return expire(w, loud ? MEDIA_TO_TIMEOUT : MEDIA_TO_SILENT, why);
}

const char *media_timeout_name(enum media_to_reason r)
{
	return r < MEDIA_TO_COUNT ? reasons[r].name : "?";
}

const char *media_timeout_key(enum media_to_reason r)
{
	return r < MEDIA_TO_COUNT ? reasons[r].key : "?";
}

unsigned media_timeout_limit_s(enum media_to_reason r)
{
	return r < MEDIA_TO_COUNT ? mt.limit_s[r] : 0;
}

void media_timeout_freed(const struct media_watch *w)
{
	if (w->expired && w->reason < MEDIA_TO_COUNT)
		mt.expired[w->reason]++;
}

void media_timeout_get_counters(uint64_t out[MEDIA_TO_COUNT])
{
	memcpy(out, mt.expired, sizeof(mt.expired));
}
