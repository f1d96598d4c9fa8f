/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text exposition (format 0.0.4) of everything /metrics
 * reports, from one snapshot of plain numbers. Kept apart from the HTTP
 * server and the collection (metrics.c) so that a unit test can render any
 * snapshot and have `promtool check metrics` judge it, with no event loop,
 * no dataplane and no call engine linked in.
 */
#ifndef MG_METRICS_TEXT_H
#define MG_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_proto.h"

/* ---- histograms ---- */

#define METRICS_HIST_MAX_BUCKETS 16

struct metrics_hist {
	const double *bounds;   /* upper bounds, ascending, n_bounds of them (+Inf implied) */
	unsigned n_bounds;
	uint64_t buckets[METRICS_HIST_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
	uint64_t count;
	double sum;
};

/* Count @p v (seconds) in @p h. Negative or NaN values count as 0. */
void metrics_hist_observe(struct metrics_hist *h, double v);

/* NG commands with a label of their own; everything else is "other". */
enum metrics_ng_cmd {
	METRICS_NG_PING,
	METRICS_NG_OFFER,
	METRICS_NG_ANSWER,
	METRICS_NG_DELETE,
	METRICS_NG_QUERY,
	METRICS_NG_LIST,
	METRICS_NG_STATISTICS,
	METRICS_NG_OTHER,
	METRICS_NG_CMD_COUNT
};
const char *metrics_ng_cmd_name(enum metrics_ng_cmd c);
/* The label of a command as sent ("offer", "Offer" -> offer; unknown -> other). */
enum metrics_ng_cmd metrics_ng_cmd_of(const char *command);

extern const double metrics_ng_bounds[];
extern const unsigned metrics_ng_n_bounds;
extern const double metrics_sip_bounds[];
extern const unsigned metrics_sip_n_bounds;

/* ---- media traffic, summed over the dataplane's sessions ---- */

enum metrics_leg_type { METRICS_LEG_RTP, METRICS_LEG_SRTP, METRICS_LEG_TYPE_COUNT };
enum metrics_dir { METRICS_DIR_RX, METRICS_DIR_TX, METRICS_DIR_COUNT };

struct metrics_traffic {
	uint64_t packets, bytes, rtcp_packets;
	uint64_t drops[MG_DROP_REASON_COUNT];
};

/* ---- the snapshot ---- */

struct metrics_snapshot {
	double uptime_seconds;            /* of mediagate-control */

	/* call engine (calls.h) */
	bool have_calls;
	unsigned calls_active;
	uint64_t calls_offered, calls_answered, calls_failed, calls_overload;
	uint64_t calls_media_timeout, calls_ended;

	/* media layer (media.h) */
	unsigned sessions_offered, sessions_answered, sessions_deleting;
	uint64_t sessions_created, sessions_deleted, media_offers, media_answers, media_errors;
	uint64_t sessions_limit_refused, sessions_ports_refused, sessions_load_refused;
	/* part of sessions_deleted: deleted by the NG timeouts (media_timeout.h) */
	uint64_t sessions_timeout, sessions_silent_timeout, sessions_final_timeout, sessions_offer_timeout;

	/* session state in Redis (control/ha) */
	bool have_redis;
	bool redis_connected;
	uint64_t redis_writes, redis_errors, redis_dropped, redis_retried, redis_published;
	uint64_t redis_adopted, redis_adopt_dropped;
	unsigned redis_queued;
	uint64_t redis_read_back, redis_read_refused;       /* keys read at start, refused */
	uint64_t redis_calls_adopted, redis_calls_adopt_dropped;
	bool redis_standby;                                 /* role standby (not promoted) */
	bool redis_watch_connected;
	uint64_t redis_watch_errors;
	unsigned redis_standby_sessions;
	uint64_t redis_promote_failed;
	uint64_t redis_unpublished, redis_stale_lost;
	uint64_t redis_peer_byes_ok, redis_peer_byes_failed;
	unsigned redis_standby_calls;                       /* B2BUA calls pre-installed */
	uint64_t redis_promoted_calls;                      /* ... taken over at a promote */
	uint64_t redis_read_errors, redis_read_timeouts;    /* reads on the loop */
	uint64_t redis_peer_alive_refused;                  /* ha adopt of a live node */
	uint64_t redis_alive_missed;                        /* heartbeats not written */

	/* NG (ng_cmd.h, ng_server.h) */
	bool have_ng_server;
	uint64_t ng_requests[METRICS_NG_CMD_COUNT];
	uint64_t ng_errors, ng_load_limit;
	uint64_t ng_decoded, ng_replies, ng_cache_replays, ng_decode_errors, ng_refused_source,
		ng_oversize;
	unsigned ng_in_flight;
	struct metrics_hist ng_latency[METRICS_NG_CMD_COUNT];
	struct metrics_hist sip_setup;

	/* media ports (mediagate.media.portRange) */
	unsigned ports_total;

	/* control <-> dataplane */
	bool dp_up;                       /* connected and answered DP_STATS this scrape */
	bool dp_connected;                /* dpc_is_up() */
	unsigned dp_connects;             /* dpc_connect_count() */
	bool have_dp_stats;
	struct mg_msg_dp_stats dp;        /* valid when have_dp_stats */
	bool sessions_complete;           /* every session's counters read this scrape */
	double collect_seconds;           /* how long reading the dataplane took */
	unsigned dp_sessions_read;        /* sessions whose counters were read this scrape */
	struct metrics_traffic traffic[METRICS_LEG_TYPE_COUNT][METRICS_DIR_COUNT];
};

/* A growing text buffer. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool oom;                         /* an append failed: the text is incomplete */
};
void metrics_buf_free(struct metrics_buf *b);

/* Append the whole exposition of @p s to @p out. 0 or -ENOMEM. */
int metrics_render(const struct metrics_snapshot *s, struct metrics_buf *out);

#endif
