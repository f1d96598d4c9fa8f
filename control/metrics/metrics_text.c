/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every family is written as HELP, TYPE, then all of its samples together:
 * the text format wants a family's samples in one block, and Prometheus'
 * parser refuses a second TYPE line. Names follow the Prometheus
 * conventions (counters end in _total, times in seconds, sizes in bytes);
 * where rtpengine exports the same thing the name is rtpengine's with our
 * prefix (docs/operations.md, "Metrics", says which).
 */
#include "metrics_text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* NG: tens of microseconds for a ping, a dataplane round trip or two for
 * an offer; seconds mean something is wrong. */
const double metrics_ng_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				     0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
const unsigned metrics_ng_n_bounds = sizeof(metrics_ng_bounds) / sizeof(metrics_ng_bounds[0]);
/* SIP: INVITE to answer includes a human picking up. */
const double metrics_sip_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120 };
const unsigned metrics_sip_n_bounds = sizeof(metrics_sip_bounds) / sizeof(metrics_sip_bounds[0]);

#define METRICS_N(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(METRICS_N(metrics_ng_bounds) <= METRICS_HIST_MAX_BUCKETS, "too many NG buckets");
_Static_assert(METRICS_N(metrics_sip_bounds) <= METRICS_HIST_MAX_BUCKETS, "too many SIP buckets");

static const char *const ng_cmd_names[METRICS_NG_CMD_COUNT] = {
	[METRICS_NG_PING] = "ping",
	[METRICS_NG_OFFER] = "offer",
	[METRICS_NG_ANSWER] = "answer",
	[METRICS_NG_DELETE] = "delete",
	[METRICS_NG_QUERY] = "query",
	[METRICS_NG_LIST] = "list",
	[METRICS_NG_STATISTICS] = "statistics",
	[METRICS_NG_OTHER] = "other",
};

const char *metrics_ng_cmd_name(enum metrics_ng_cmd c)
{
	return (unsigned)c < METRICS_NG_CMD_COUNT ? ng_cmd_names[c] : "other";
}

enum metrics_ng_cmd metrics_ng_cmd_of(const char *command)
{
	/* a fixed set: a label value per arbitrary string a proxy sends would
	 * let anyone on the NG port grow the series without bound */
	for (unsigned c = 0; command != NULL && c < METRICS_NG_OTHER; c++)
		if (strcasecmp(command, ng_cmd_names[c]) == 0)
			return (enum metrics_ng_cmd)c;
	return METRICS_NG_OTHER;
}

void metrics_hist_observe(struct metrics_hist *h, double v)
{
	unsigned i;

	if (!(v >= 0)) /* NaN too */
		v = 0;
	for (i = 0; i < h->n_bounds && v > h->bounds[i]; i++)
		;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

/* ------------------------------------------------------------- text */

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void put(struct metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap != 0 ? b->cap * 2 : 16384;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static void family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; @p labels is "" or 'a="x",b="y"' (our own values: no escaping needed). */
static void u64(struct metrics_buf *b, const char *name, const char *labels, uint64_t v)
{
	if (labels[0] != '\0')
		put(b, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		put(b, "%s %" PRIu64 "\n", name, v);
}

static void dbl(struct metrics_buf *b, const char *name, const char *labels, double v)
{
	if (labels[0] != '\0')
		put(b, "%s{%s} %.17g\n", name, labels, v);
	else
		put(b, "%s %.17g\n", name, v);
}

static void counter(struct metrics_buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	u64(b, name, "", v);
}

static void gauge(struct metrics_buf *b, const char *name, const char *help, double v)
{
	family(b, name, "gauge", help);
	dbl(b, name, "", v);
}

/* The samples of one histogram series (the family header is the caller's). */
static void hist(struct metrics_buf *b, const char *name, const char *labels,
		 const struct metrics_hist *h)
{
	const char *sep = labels[0] != '\0' ? "," : "";
	uint64_t cum = 0;

	for (unsigned i = 0; i < h->n_bounds; i++) {
		cum += h->buckets[i];
		put(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep, h->bounds[i], cum);
	}
	cum += h->buckets[h->n_bounds];
	put(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cum);
	if (labels[0] != '\0') {
		put(b, "%s_sum{%s} %.17g\n", name, labels, h->sum);
		put(b, "%s_count{%s} %" PRIu64 "\n", name, labels, h->count);
	} else {
		put(b, "%s_sum %.17g\n", name, h->sum);
		put(b, "%s_count %" PRIu64 "\n", name, h->count);
	}
}

static const char *const leg_type_name[METRICS_LEG_TYPE_COUNT] = { "rtp", "srtp" };
static const char *const dir_name[METRICS_DIR_COUNT] = { "rx", "tx" };

static void render_traffic(const struct metrics_snapshot *s, struct metrics_buf *b)
{
	char l[96];

#define EACH_LEG_DIR                                              \
	for (unsigned t = 0; t < METRICS_LEG_TYPE_COUNT; t++)     \
		for (unsigned d = 0; d < METRICS_DIR_COUNT; d++)
#define LEG_LABELS                                                                      \
	snprintf(l, sizeof(l), "leg_type=\"%s\",direction=\"%s\"", leg_type_name[t], \
		 dir_name[d])
	family(b, "mediagate_packets_total", "counter",
	       "Media packets (RTP and RTCP) of the dataplane's sessions: received from (rx) or "
	       "sent to (tx) a leg, by whether that leg's direction is SRTP.");
	EACH_LEG_DIR {
		LEG_LABELS;
		u64(b, "mediagate_packets_total", l, s->traffic[t][d].packets);
	}
	family(b, "mediagate_bytes_total", "counter",
	       "UDP payload bytes of those packets: received ones as relayed (after SRTP "
	       "decryption), sent ones as sent (after SRTP encryption).");
	EACH_LEG_DIR {
		LEG_LABELS;
		u64(b, "mediagate_bytes_total", l, s->traffic[t][d].bytes);
	}
	family(b, "mediagate_rtcp_packets_total", "counter",
	       "Of mediagate_packets_total, the RTCP packets.");
	EACH_LEG_DIR {
		LEG_LABELS;
		u64(b, "mediagate_rtcp_packets_total", l, s->traffic[t][d].rtcp_packets);
	}
	family(b, "mediagate_packet_errors_total", "counter",
	       "Packets of the dataplane's sessions dropped, every reason together.");
	EACH_LEG_DIR {
		uint64_t sum = 0;

		for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
			sum += s->traffic[t][d].drops[r];
		LEG_LABELS;
		u64(b, "mediagate_packet_errors_total", l, sum);
	}
#undef LEG_LABELS
#undef EACH_LEG_DIR

	/* every named reason, zeros too: a query for one that never happened
	 * must find 0, not nothing */
	family(b, "mediagate_drops_total", "counter",
	       "Packets dropped by the dataplane, by reason; scope session: a session's packet, "
	       "scope dataplane: one no session could be charged with (unknown destination, "
	       "malformed, no neighbour, ...).");
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++) {
		uint64_t sum = 0;

		for (unsigned t = 0; t < METRICS_LEG_TYPE_COUNT; t++)
			for (unsigned d = 0; d < METRICS_DIR_COUNT; d++)
				sum += s->traffic[t][d].drops[r];
		snprintf(l, sizeof(l), "reason=\"%s\",scope=\"session\"", mg_proto_drop_name(r));
		u64(b, "mediagate_drops_total", l, sum);
		snprintf(l, sizeof(l), "reason=\"%s\",scope=\"dataplane\"", mg_proto_drop_name(r));
		u64(b, "mediagate_drops_total", l, s->have_dp_stats ? s->dp.drops[r] : 0);
	}

	uint64_t auth = 0, replay = 0;

	for (unsigned t = 0; t < METRICS_LEG_TYPE_COUNT; t++)
		for (unsigned d = 0; d < METRICS_DIR_COUNT; d++) {
			auth += s->traffic[t][d].drops[MG_DROP_AUTH];
			replay += s->traffic[t][d].drops[MG_DROP_REPLAY];
		}
	counter(b, "mediagate_srtp_auth_failures_total",
		"SRTP/SRTCP packets whose authentication tag did not verify (dropped).", auth);
	counter(b, "mediagate_srtp_replay_failures_total",
		"SRTP/SRTCP packets refused as replayed or too old for the replay window (dropped).",
		replay);
}

static bool worker_labels(char *l, size_t n, const struct mg_msg_dp_stats *d, unsigned i)
{
	snprintf(l, n, "worker=\"%u\",lcore=\"%u\"", i, d->workers[i].lcore);
	return true;
}

static void render_dataplane(const struct metrics_snapshot *s, struct metrics_buf *b)
{
	const struct mg_msg_dp_stats *d = &s->dp;
	char l[64];

	gauge(b, "mediagate_dataplane_up",
	      "1 when the dataplane answered this scrape's DP_STATS over the control socket, else 0 "
	      "(its figures below are then absent or the last known).",
	      s->dp_up ? 1 : 0);
	gauge(b, "mediagate_dataplane_connected",
	      "1 while the control<->dataplane socket is connected (HELLO done, PINGs answered).",
	      s->dp_connected ? 1 : 0);
	counter(b, "mediagate_dataplane_connects_total",
		"Times the control<->dataplane socket came up (the first connection included).",
		s->dp_connects);
	counter(b, "mediagate_dataplane_reconnects_total",
		"Times the control<->dataplane socket came up again after it was lost.",
		s->dp_connects > 0 ? s->dp_connects - 1 : 0);
	gauge(b, "mediagate_dataplane_scrape_complete",
	      "1 when every dataplane session's counters were read for this scrape; 0: the media "
	      "traffic counters hold the last values known of the sessions not read.",
	      s->sessions_complete ? 1 : 0);
	gauge(b, "mediagate_dataplane_scrape_duration_seconds",
	      "Time this scrape spent reading the dataplane's counters.", s->collect_seconds);
	gauge(b, "mediagate_dataplane_sessions_read",
	      "Dataplane sessions whose counters this scrape read.", s->dp_sessions_read);
	if (!s->have_dp_stats)
		return;
	gauge(b, "mediagate_dataplane_uptime_seconds", "Time since the dataplane started.",
	      (double)d->uptime_ns / 1e9);
	gauge(b, "mediagate_dataplane_sessions",
	      "Sessions installed in the dataplane (one per relayed stream of a call).",
	      d->n_sessions);
	gauge(b, "mediagate_dataplane_workers", "Dataplane worker lcores.", d->n_workers);
	gauge(b, "mediagate_dataplane_interfaces", "Dataplane network ports (DPDK ethdevs).",
	      d->n_ports);
	counter(b, "mediagate_dataplane_rx_packets_total",
		"Packets the dataplane received on its network ports (any protocol).", d->rx_packets);
	counter(b, "mediagate_dataplane_tx_packets_total",
		"Packets the dataplane sent on its network ports.", d->tx_packets);
	family(b, "mediagate_dataplane_arp_packets_total", "counter",
	       "ARP packets received (rx) and sent (tx) by the dataplane.");
	u64(b, "mediagate_dataplane_arp_packets_total", "direction=\"rx\"", d->arp_rx);
	u64(b, "mediagate_dataplane_arp_packets_total", "direction=\"tx\"", d->arp_tx);
	counter(b, "mediagate_dataplane_icmp_echo_replies_total",
		"ICMP echo requests the dataplane answered.", d->icmp_echo);

	unsigned nw = d->n_workers < MG_PROTO_MAX_WORKERS ? d->n_workers : MG_PROTO_MAX_WORKERS;

#define EACH_WORKER for (unsigned i = 0; i < nw && worker_labels(l, sizeof(l), d, i); i++)
	family(b, "mediagate_worker_packets_total", "counter", "Packets a dataplane worker processed.");
	EACH_WORKER u64(b, "mediagate_worker_packets_total", l, d->workers[i].packets);
	family(b, "mediagate_worker_busy_cycles_total", "counter",
	       "TSC cycles a dataplane worker spent on polls that found packets.");
	EACH_WORKER u64(b, "mediagate_worker_busy_cycles_total", l, d->workers[i].busy_tsc);
	family(b, "mediagate_worker_busy_seconds_total", "counter",
	       "The same busy time in seconds (cycles / TSC frequency).");
	EACH_WORKER dbl(b, "mediagate_worker_busy_seconds_total", l,
			d->tsc_hz != 0 ? (double)d->workers[i].busy_tsc / (double)d->tsc_hz : 0);
	family(b, "mediagate_worker_busy_cycles_per_packet", "gauge",
	       "Busy TSC cycles per packet since the dataplane started (0 before any packet); "
	       "for a recent figure use rate(busy_cycles_total) / rate(packets_total).");
	EACH_WORKER dbl(b, "mediagate_worker_busy_cycles_per_packet", l,
			d->workers[i].packets != 0
				? (double)d->workers[i].busy_tsc / (double)d->workers[i].packets
				: 0);
	family(b, "mediagate_worker_polls_total", "counter", "Receive polls of a dataplane worker.");
	EACH_WORKER u64(b, "mediagate_worker_polls_total", l, d->workers[i].polls);
	family(b, "mediagate_worker_idle_polls_total", "counter",
	       "Receive polls of a dataplane worker that found nothing.");
	EACH_WORKER u64(b, "mediagate_worker_idle_polls_total", l, d->workers[i].idle_polls);
	family(b, "mediagate_worker_preempted_total", "counter",
	       "Polling loops of a dataplane worker that took over 100 us: the worker was preempted "
	       "(its core is shared); 32 bits, wraps.");
	EACH_WORKER u64(b, "mediagate_worker_preempted_total", l, d->workers[i].preempted);
#undef EACH_WORKER
}

int metrics_render(const struct metrics_snapshot *s, struct metrics_buf *b)
{
	char l[96];
	uint64_t expired;

	gauge(b, "mediagate_uptime_seconds", "Time since mediagate-control started.",
	      s->uptime_seconds);

	/* calls (SIP/PRI call engine) */
	family(b, "mediagate_calls", "gauge",
	       "Calls of the call engine that exist now, by state (the engine reports active "
	       "only: every state from INVITE to the end of its release).");
	u64(b, "mediagate_calls", "state=\"active\"", s->calls_active);
	counter(b, "mediagate_calls_offered_total", "INVITEs (or PRI SETUPs) that created a call.",
		s->calls_offered);
	family(b, "mediagate_calls_total", "counter",
	       "Calls by outcome (answered: 2xx sent to the caller; failed: ended with an error "
	       "answer) and cause (max_calls: refused by mediagate.calls.maxCalls; other: any other "
	       "failure).");
	u64(b, "mediagate_calls_total", "outcome=\"answered\",cause=\"answered\"", s->calls_answered);
	u64(b, "mediagate_calls_total", "outcome=\"failed\",cause=\"max_calls\"", s->calls_overload);
	u64(b, "mediagate_calls_total", "outcome=\"failed\",cause=\"other\"",
	    s->calls_failed >= s->calls_overload ? s->calls_failed - s->calls_overload : 0);
	family(b, "mediagate_calls_ended_total", "counter",
	       "Calls fully ended (every state released), by cause (media_timeout: an answered "
	       "call ended by mediagate.calls.mediaTimeout; other: every other end).");
	u64(b, "mediagate_calls_ended_total", "cause=\"media_timeout\"", s->calls_media_timeout);
	u64(b, "mediagate_calls_ended_total", "cause=\"other\"",
	    s->calls_ended >= s->calls_media_timeout ? s->calls_ended - s->calls_media_timeout : 0);
	family(b, "mediagate_sip_setup_duration_seconds", "histogram",
	       "SIP set-up time of answered calls: INVITE received to 2xx sent to the caller.");
	hist(b, "mediagate_sip_setup_duration_seconds", "", &s->sip_setup);

	/* session state in Redis (docs/ha-state.md) */
	if (s->have_redis) {
		gauge(b, "mediagate_redis_connected", "1 while the connection to mediagate.redis.url is up.",
		      s->redis_connected ? 1 : 0);
		counter(b, "mediagate_redis_published_total",
			"Call and NG session records built for Redis (one per change, refresh, reconnection).",
			s->redis_published);
		counter(b, "mediagate_redis_writes_total", "Writes (SET, DEL) Redis acknowledged.",
			s->redis_writes);
		counter(b, "mediagate_redis_errors_total",
			"Writes Redis refused or lost with the connection (those are queued again).",
			s->redis_errors);
		counter(b, "mediagate_redis_dropped_total",
			"Records not queued because mediagate.redis.queue keys were waiting (written "
			"again at the next change or reconnection).", s->redis_dropped);
		counter(b, "mediagate_redis_retried_total",
			"Writes queued again after the connection was lost before their answer.",
			s->redis_retried);
		gauge(b, "mediagate_redis_queue", "Keys waiting to be written.", s->redis_queued);
		counter(b, "mediagate_redis_adopted_total",
			"NG sessions read back at start that the dataplane still held (re-adopted).",
			s->redis_adopted);
		counter(b, "mediagate_redis_adopt_dropped_total",
			"NG sessions read back at start that the dataplane no longer held (deleted).",
			s->redis_adopt_dropped);
		counter(b, "mediagate_redis_read_back_total",
			"Keys of this node read back at start (NG sessions and calls).", s->redis_read_back);
		counter(b, "mediagate_redis_read_refused_total",
			"Keys read back at start or by a standby's watch that were refused (not a record of "
			"this version, malformed, or a call not taken over).", s->redis_read_refused);
		counter(b, "mediagate_redis_calls_adopted_total",
			"B2BUA calls read back at start and taken over (re-INVITE in their dialogs).",
			s->redis_calls_adopted);
		counter(b, "mediagate_redis_calls_adopt_dropped_total",
			"B2BUA calls read back at start that ended: the dataplane no longer held them.",
			s->redis_calls_adopt_dropped);
		gauge(b, "mediagate_redis_standby", "1 while this node is a standby (not promoted).",
		      s->redis_standby ? 1 : 0);
		gauge(b, "mediagate_redis_watch_connected",
		      "1 while a standby's watch of the active node's keys is subscribed.",
		      s->redis_watch_connected ? 1 : 0);
		counter(b, "mediagate_redis_watch_errors_total",
			"A standby's watch: lost connections and failed commands.", s->redis_watch_errors);
		gauge(b, "mediagate_redis_standby_sessions",
		      "NG sessions pre-installed by a standby (blocked until promoted).",
		      s->redis_standby_sessions);
		counter(b, "mediagate_redis_promote_failed_total",
			"Sessions whose dataplane modify failed at mgctl ha promote.", s->redis_promote_failed);
		counter(b, "mediagate_redis_unpublished_total",
			"Records not published: a value beyond what is read back, or out of memory.",
			s->redis_unpublished);
		counter(b, "mediagate_redis_stale_lost_total",
			"Refused keys not queued for deletion (out of memory; they expire).", s->redis_stale_lost);
		family(b, "mediagate_redis_peer_byes_total", "counter",
		       "BYEs of mgctl ha adopt (a dead gateway's calls), by answer (ok: 2xx; failed: "
		       "another or none).");
		u64(b, "mediagate_redis_peer_byes_total", "result=\"ok\"", s->redis_peer_byes_ok);
		u64(b, "mediagate_redis_peer_byes_total", "result=\"failed\"", s->redis_peer_byes_failed);
		gauge(b, "mediagate_redis_standby_calls",
		      "B2BUA calls of the active node pre-installed here (standby, blocked).",
		      s->redis_standby_calls);
		counter(b, "mediagate_redis_promoted_calls_total",
			"B2BUA calls taken over by mgctl ha promote.", s->redis_promoted_calls);
		counter(b, "mediagate_redis_read_errors_total",
			"Reads on the event loop (read-back, ha adopt) that failed.", s->redis_read_errors);
		counter(b, "mediagate_redis_read_timeouts_total",
			"Reads on the event loop given up at mediagate.redis.readTimeout.",
			s->redis_read_timeouts);
		counter(b, "mediagate_redis_peer_alive_refused_total",
			"mgctl ha adopt refused: the node's heartbeat (mg:NODE:alive) was fresh.",
			s->redis_peer_alive_refused);
		counter(b, "mediagate_redis_alive_missed_total",
			"Heartbeats not written (Redis not connected).", s->redis_alive_missed);
	}

	/* media sessions (the NG front end's media layer) */
	family(b, "mediagate_sessions", "gauge",
	       "Media sessions of the NG front end now, by state (offered: no answer yet; "
	       "answered; deleting).");
	u64(b, "mediagate_sessions", "state=\"offered\"", s->sessions_offered);
	u64(b, "mediagate_sessions", "state=\"answered\"", s->sessions_answered);
	u64(b, "mediagate_sessions", "state=\"deleting\"", s->sessions_deleting);
	counter(b, "mediagate_sessions_total", "Media sessions created since start.",
		s->sessions_created);
	family(b, "mediagate_closed_sessions_total", "counter",
	       "Media sessions ended, by reason (terminated: deleted by a delete command or at "
	       "shutdown; timeout, silent_timeout, final_timeout, offer_timeout: by "
	       "mediagate.ng.timeout, silentTimeout, finalTimeout, offerTimeout).");
	expired = s->sessions_timeout + s->sessions_silent_timeout + s->sessions_final_timeout +
		  s->sessions_offer_timeout;
	u64(b, "mediagate_closed_sessions_total", "reason=\"terminated\"",
	    s->sessions_deleted > expired ? s->sessions_deleted - expired : 0);
	u64(b, "mediagate_closed_sessions_total", "reason=\"timeout\"", s->sessions_timeout);
	u64(b, "mediagate_closed_sessions_total", "reason=\"silent_timeout\"", s->sessions_silent_timeout);
	u64(b, "mediagate_closed_sessions_total", "reason=\"final_timeout\"", s->sessions_final_timeout);
	u64(b, "mediagate_closed_sessions_total", "reason=\"offer_timeout\"", s->sessions_offer_timeout);
	family(b, "mediagate_rejected_sessions_total", "counter",
	       "Offers refused a session, by cause (load_limit: mediagate.calls.maxCalls or drain; "
	       "overload: mediagate.calls.maxRate or maxLoopLagMs; no_ports: the dataplane's "
	       "port range is exhausted).");
	u64(b, "mediagate_rejected_sessions_total", "cause=\"load_limit\"", s->sessions_limit_refused);
	u64(b, "mediagate_rejected_sessions_total", "cause=\"no_ports\"", s->sessions_ports_refused);
	u64(b, "mediagate_rejected_sessions_total", "cause=\"overload\"", s->sessions_load_refused);
	family(b, "mediagate_media_operations_total", "counter",
	       "Offers and answers the media layer carried out, and those that failed.");
	u64(b, "mediagate_media_operations_total", "operation=\"offer\"", s->media_offers);
	u64(b, "mediagate_media_operations_total", "operation=\"answer\"", s->media_answers);
	u64(b, "mediagate_media_operations_total", "operation=\"error\"", s->media_errors);

	/* NG control API */
	family(b, "mediagate_requests_total", "counter", "NG commands received, by command.");
	for (unsigned c = 0; c < METRICS_NG_CMD_COUNT; c++) {
		snprintf(l, sizeof(l), "request=\"%s\"", ng_cmd_names[c]);
		u64(b, "mediagate_requests_total", l, s->ng_requests[c]);
	}
	counter(b, "mediagate_errors_total", "NG commands answered with result error.", s->ng_errors);
	counter(b, "mediagate_ng_load_limit_total",
		"NG offers answered \"load limit\" (maxCalls, maxRate, loop lag, drain or no port left).",
		s->ng_load_limit);
	family(b, "mediagate_ng_request_duration_seconds", "histogram",
	       "NG command latency: request decoded to reply sent, by command.");
	for (unsigned c = 0; c < METRICS_NG_CMD_COUNT; c++) {
		snprintf(l, sizeof(l), "request=\"%s\"", ng_cmd_names[c]);
		hist(b, "mediagate_ng_request_duration_seconds", l, &s->ng_latency[c]);
	}
	family(b, "mediagate_ng_messages_total", "counter",
	       "NG messages at the transports, by what became of them (decoded: given to the "
	       "commands; cache_replay: a retransmission answered from the cookie cache; "
	       "decode_error: answered with an error by the server; refused_source: not in "
	       "mediagate.ng.allowedSources, not answered; oversize: over the size limit).");
	u64(b, "mediagate_ng_messages_total", "result=\"decoded\"", s->ng_decoded);
	u64(b, "mediagate_ng_messages_total", "result=\"cache_replay\"", s->ng_cache_replays);
	u64(b, "mediagate_ng_messages_total", "result=\"decode_error\"", s->ng_decode_errors);
	u64(b, "mediagate_ng_messages_total", "result=\"refused_source\"", s->ng_refused_source);
	u64(b, "mediagate_ng_messages_total", "result=\"oversize\"", s->ng_oversize);
	counter(b, "mediagate_ng_replies_total", "NG replies sent (cache replays included).",
		s->ng_replies);
	gauge(b, "mediagate_ng_requests_in_flight", "NG commands being carried out now.",
	      s->ng_in_flight);

	/* ports */
	gauge(b, "mediagate_ports",
	      "UDP ports of mediagate.media.portRange (RTP and RTCP), shared by the media "
	      "addresses.",
	      s->ports_total);
	if (s->have_dp_stats) {
		unsigned used = s->dp.ports_used;

		gauge(b, "mediagate_ports_used",
		      "Ports of the range allocated by the dataplane now (an RTP and its RTCP port "
		      "count 2).",
		      used);
		gauge(b, "mediagate_ports_free", "Ports of the range not allocated now.",
		      s->ports_total > used ? s->ports_total - used : 0);
	}

	render_traffic(s, b);
	render_dataplane(s, b);
	return b->oom ? -ENOMEM : 0;
}
