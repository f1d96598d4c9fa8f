/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NG sessions' timeouts (docs/ng.md "Timeouts"), rtpengine's four:
 *   timeout        an answered session none of whose parties that should
 *                  send (not on hold, recvonly or inactive) has sent media
 *                  for mediagate.ng.timeout s;
 *   silent_timeout the same when every watched party is on hold, recvonly
 *                  or inactive: mediagate.ng.silentTimeout s;
 *   final_timeout  any session mediagate.ng.finalTimeout s after its first
 *                  offer;
 *   offer_timeout  a session offered and never answered for
 *                  mediagate.ng.offerTimeout s.
 * This file only judges (the bottom of media.c, which reads the counters
 * from the dataplane, builds the view and deletes what is judged expired).
 * A session's clocks are on media_now_ms() and start when it is first
 * looked at; media clocks restart on every offer/answer (a re-INVITE
 * resuming a held call gets a full period) and after a gap in the checks
 * (the dataplane was away, the loop stalled).
 */
#ifndef MG_MEDIA_TIMEOUT_H
#define MG_MEDIA_TIMEOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "media_idle.h"

#define MEDIA_TO_STREAMS 4 /* >= MEDIA_MAX_STREAMS (media.h asserts it) */

enum media_to_reason {
	MEDIA_TO_TIMEOUT,
	MEDIA_TO_SILENT,
	MEDIA_TO_FINAL,
	MEDIA_TO_OFFER,
	MEDIA_TO_COUNT
};

/* What the timeouts keep of a session (media_session.watch). */
struct media_watch {
	uint64_t seen_ms;       /* first looked at; 0 = not yet */
	uint64_t answered_ms;   /* first seen answered; 0 = not yet */
	uint64_t polled_ms;     /* counters last read (or nothing to read); silence is
				   judged up to there only: what a poll has not seen
				   yet may have moved */
	uint32_t signals;       /* offers and answers carried out (media_timeout_signal()) */
	uint32_t signals_seen;  /* signals when last looked at */
	struct media_idle rx[MEDIA_TO_STREAMS][2]; /* per stream, what side s sends */
	bool expired;           /* judged expired (its delete may be queued) */
	uint8_t reason;         /* enum media_to_reason, when expired */
};

/* The session as the timeouts see it (built by media.c). */
struct media_to_view {
	bool answered;          /* a party has answered */
	unsigned n_streams;
	bool relayed[MEDIA_TO_STREAMS];            /* both sides' active parties relay it */
	bool silent[MEDIA_TO_STREAMS][2];          /* side s's active party sends nothing */
};

struct mg_settings;

/* mediagate.ng.timeout, silentTimeout, finalTimeout, offerTimeout (start, SIGHUP). */
void media_timeout_config(const struct mg_settings *s);
/* How often media_tick() reads an installed session's counters:
 * a quarter of the shortest media timeout, 1 s at least, 5 s at most. */
uint64_t media_timeout_poll_ms(void);
/* An offer or answer was carried out: the media clocks restart. */
static inline void media_timeout_signal(struct media_watch *w)
{
	w->signals++;
}
/* Stream @p stream's received packets per side, read at @p now_ms. */
void media_timeout_rx(struct media_watch *w, unsigned stream, uint64_t rx0, uint64_t rx1, uint64_t now_ms);
/* Nothing of the session is in the dataplane to read at @p now_ms: its
 * counters stand still. */
void media_timeout_rx_none(struct media_watch *w, uint64_t now_ms);
/* Start the session's clocks again at its next look (a standby's session
 * promoted: media_promote()). */
static inline void media_timeout_forget(struct media_watch *w)
{
	w->seen_ms = 0;
}
/* Before judging the sessions at @p now_ms (a tick): notes a gap since the last. */
void media_timeout_begin(uint64_t now_ms);
/* true: the session is expired for *@p why (judged once). */
bool media_timeout_judge(struct media_watch *w, const struct media_to_view *v, uint64_t now_ms,
			 enum media_to_reason *why);
/* The session is freed: counted by reason if it expired (so the counters
 * are part of media_counters.deleted, never ahead of it). */
void media_timeout_freed(const struct media_watch *w);

/* "timeout", "silent_timeout", "final_timeout", "offer_timeout" */
const char *media_timeout_name(enum media_to_reason r);
/* The configuration key of @p r, and its value in seconds. */
const char *media_timeout_key(enum media_to_reason r);
unsigned media_timeout_limit_s(enum media_to_reason r);
/* Sessions expired since start, by reason. */
void media_timeout_get_counters(uint64_t out[MEDIA_TO_COUNT]);

#endif
