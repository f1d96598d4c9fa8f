/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /metrics server and the collection behind it. Everything runs on the
 * control plane's event loop: MHD in external epoll mode (its epoll fd on
 * the su_root, a timer for its own deadlines, as control/ng/ng_server.c),
 * dpclient's replies, the collection's deadline timer.
 *
 * One collection at a time (mt.col): DP_STATS, then the session list page
 * by page, SESSION_STATS for each listed session with at most
 * METRICS_WINDOW requests outstanding (a few thousand sessions must not
 * fill the socket or starve the calls' own requests). Every HTTP
 * connection that asks while it runs waits for it; when it ends (all
 * answered, or the deadline) each gets the text rendered then.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sofia-sip/su.h>

#include "calls.h"
#include "ha.h"
#include "media.h"
#include "metrics_hooks.h"
#include "metrics_text.h"
#include "mg_log.h"
#include "ng_cmd.h"
#include "ng_server.h"

#define METRICS_DEADLINE_MS 2000u     /* without the scraper's own timeout */
#define METRICS_DEADLINE_MAX_MS 10000u
#define METRICS_DEADLINE_MIN_MS 100u
#define METRICS_DP_TIMEOUT_MS 1000u   /* per dataplane request */
#define METRICS_WINDOW 32u            /* SESSION_STATS outstanding at once */
#define METRICS_MAX_CONNS 32u
#define METRICS_CONN_TIMEOUT_S 15u
#define METRICS_MHD_TICK_MS 1000

/* What a session counted when last read, kept to keep the totals monotonic. */
struct metrics_sess {
	uint64_t id;
	uint64_t seen;                     /* collection generation that listed it */
	struct metrics_sess *next;         /* hash chain */
	uint8_t type[2][2];                /* [leg][dir]: enum metrics_leg_type */
	struct metrics_traffic t[2][2];    /* [leg][dir]: the counters last read */
	/* what t held when its type last changed (a MODIFY from RTP to SRTP
	 * keeps the dataplane's counters): only t - base counts under type */
	struct metrics_traffic base[2][2];
};

#define METRICS_SESS_BUCKETS 4096u

struct metrics_http {
	struct MHD_Connection *mc;
	struct metrics_http *next;         /* waiting for the collection */
	bool waiting;
	bool suspended;
	bool drop;                         /* server going away */
	struct metrics_buf text;
	bool ready;
	unsigned status;
};

struct metrics_col {
	uint64_t gen;
	uint64_t t0_ns;
	struct metrics_http *waiters;
	bool dp_stats_done, dp_stats_ok;
	struct mg_msg_dp_stats dp;
	bool list_done, list_ok;
	uint64_t *queue;                   /* listed ids whose counters are not asked yet */
	size_t q_head, q_len, q_cap;
	unsigned in_flight;
	unsigned read;                     /* sessions whose counters came back */
	bool stats_failed;                 /* a SESSION_STATS failed other than "gone" */
};

static struct {
	su_root_t *root;
	const struct mg_settings *s;
	struct dpc *dp;
	struct MHD_Daemon *mhd;
	int mhd_fd;
	su_wait_t mhd_wait;
	int mhd_index;
	su_timer_t *mhd_timer;
	/* the collection's deadline: one timer for the module's life, set and
	 * reset per collection (never destroyed from inside its callback) */
	su_timer_t *deadline;
	bool in_mhd;
	uint16_t port;
	uint64_t start_ns;

	struct metrics_col *col;           /* the collection running, NULL when idle */
	uint64_t gen;
	/* kept between scrapes */
	struct metrics_sess *sess[METRICS_SESS_BUCKETS];
	struct metrics_traffic retired[METRICS_LEG_TYPE_COUNT][METRICS_DIR_COUNT];
	struct mg_msg_dp_stats last_dp;    /* last DP_STATS answered */
	bool have_last_dp;
} mt;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ----------------------------------------------------- session counters */

static struct metrics_sess **sess_slot(uint64_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull;
	struct metrics_sess **pp = &mt.sess[(h >> 40) % METRICS_SESS_BUCKETS];

	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static uint64_t since(uint64_t now, uint64_t base)
{
	return now >= base ? now - base : 0;
}

/* @p to += @p t - @p base: what a session counted under its current type. */
static void traffic_add(struct metrics_traffic *to, const struct metrics_traffic *t,
			const struct metrics_traffic *base)
{
	to->packets += since(t->packets, base->packets);
	to->bytes += since(t->bytes, base->bytes);
	to->rtcp_packets += since(t->rtcp_packets, base->rtcp_packets);
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		to->drops[r] += since(t->drops[r], base->drops[r]);
}

/* Sessions not listed by a complete listing have ended: their last
 * counters go to the retired totals. */
static void sess_retire(uint64_t gen)
{
	for (unsigned b = 0; b < METRICS_SESS_BUCKETS; b++) {
		struct metrics_sess **pp = &mt.sess[b];

		while (*pp != NULL) {
			struct metrics_sess *e = *pp;

			if (e->seen == gen) {
				pp = &e->next;
				continue;
			}
			for (unsigned l = 0; l < 2; l++)
				for (unsigned d = 0; d < 2; d++)
					traffic_add(&mt.retired[e->type[l][d]][d], &e->t[l][d],
						    &e->base[l][d]);
			*pp = e->next;
			free(e);
		}
	}
}

static void sess_free_all(void)
{
	for (unsigned b = 0; b < METRICS_SESS_BUCKETS; b++)
		while (mt.sess[b] != NULL) {
			struct metrics_sess *e = mt.sess[b];

			mt.sess[b] = e->next;
			free(e);
		}
}

/* ------------------------------------------------------------ snapshot */

static void snapshot(struct metrics_snapshot *s, const struct metrics_col *col)
{
	struct calls_counters cc;
	struct media_counters mc;
	uint64_t expired[MEDIA_TO_COUNT];
	struct ng_cmd_counters nc;
	struct ng_server_stats ns;

	memset(s, 0, sizeof(*s));
	s->uptime_seconds = (double)(now_ns() - mt.start_ns) / 1e9;

	calls_get_counters(&cc);
	s->have_calls = true;
	s->calls_active = calls_active();
	s->calls_offered = cc.offered;
	s->calls_answered = cc.answered;
	s->calls_failed = cc.failed;
	s->calls_overload = cc.overload;
	s->calls_media_timeout = cc.media_timeout;
	s->calls_ended = cc.ended;

	for (const struct media_session *m = media_first(); m != NULL; m = media_next(m)) {
		bool answered = false;

		for (unsigned sd = 0; sd < 2; sd++)
			for (unsigned p = 0; p < m->side[sd].n_parties; p++)
				answered |= m->side[sd].parties[p] != NULL &&
					    m->side[sd].parties[p]->answered;
		if (m->deleting)
			s->sessions_deleting++;
		else if (answered)
			s->sessions_answered++;
		else
			s->sessions_offered++;
	}
	media_get_counters(&mc);
	s->sessions_created = mc.created;
	s->sessions_deleted = mc.deleted;
	s->media_offers = mc.offers;
	s->media_answers = mc.answers;
	s->media_errors = mc.errors;
	s->sessions_limit_refused = mc.limit_refused;
	s->sessions_ports_refused = mc.ports_refused;
	s->sessions_load_refused = mc.load_refused;
	media_timeout_get_counters(expired);
	s->sessions_timeout = expired[MEDIA_TO_TIMEOUT];
	s->sessions_silent_timeout = expired[MEDIA_TO_SILENT];
	s->sessions_final_timeout = expired[MEDIA_TO_FINAL];
	s->sessions_offer_timeout = expired[MEDIA_TO_OFFER];

	{
		struct ha_counters hc;

		ha_get_counters(&hc);
		s->have_redis = hc.enabled;
		s->redis_connected = hc.redis.connected;
		s->redis_writes = hc.redis.writes;
		s->redis_errors = hc.redis.errors;
		s->redis_dropped = hc.redis.dropped;
		s->redis_retried = hc.redis.retried;
		s->redis_published = hc.published;
		s->redis_queued = hc.redis.queued;
		s->redis_adopted = hc.adopted;
		s->redis_adopt_dropped = hc.adopt_dropped;
		s->redis_read_back = hc.read_back;
		s->redis_read_refused = hc.read_bad;
		s->redis_calls_adopted = hc.calls_adopted;
		s->redis_calls_adopt_dropped = hc.calls_adopt_dropped;
		s->redis_standby = hc.standby;
		s->redis_watch_connected = hc.watch.connected;
		s->redis_watch_errors = hc.watch.errors;
		s->redis_standby_sessions = hc.standby_sessions;
		s->redis_promote_failed = hc.promote_failed;
		s->redis_unpublished = hc.unpublished;
		s->redis_stale_lost = hc.stale_lost;
		s->redis_peer_byes_ok = hc.peer.byes_ok;
		s->redis_peer_byes_failed = hc.peer.byes_failed;
		s->redis_standby_calls = hc.calls_standby.held;
		s->redis_promoted_calls = hc.calls_standby.promoted;
		s->redis_read_errors = hc.redis.read_errors;
		s->redis_read_timeouts = hc.redis.read_timeouts;
		s->redis_peer_alive_refused = hc.peer_alive_refused;
		s->redis_alive_missed = hc.alive_missed;
	}

	ng_cmd_get_counters(&nc);
	s->ng_requests[METRICS_NG_PING] = nc.ping;
	s->ng_requests[METRICS_NG_OFFER] = nc.offer;
	s->ng_requests[METRICS_NG_ANSWER] = nc.answer;
	s->ng_requests[METRICS_NG_DELETE] = nc.delete_;
	s->ng_requests[METRICS_NG_QUERY] = nc.query;
	s->ng_requests[METRICS_NG_LIST] = nc.list;
	s->ng_requests[METRICS_NG_STATISTICS] = nc.statistics;
	s->ng_requests[METRICS_NG_OTHER] = nc.other;
	s->ng_errors = nc.errors;
	s->ng_load_limit = nc.load_limit;
	s->have_ng_server = ng_cmd_get_server_stats(&ns);
	s->ng_decoded = ns.requests;
	s->ng_replies = ns.replies;
	s->ng_cache_replays = ns.cache_replays;
	s->ng_decode_errors = ns.decode_errors;
	s->ng_refused_source = ns.refused_source;
	s->ng_oversize = ns.oversize;
	s->ng_in_flight = ns.in_flight;
	metrics_hooks_read(s->ng_latency, &s->sip_setup);

	if (mt.s != NULL && mt.s->media_port_max > mt.s->media_port_min)
		s->ports_total = (unsigned)mt.s->media_port_max - mt.s->media_port_min + 1;

	s->dp_connected = mt.dp != NULL && dpc_is_up(mt.dp);
	s->dp_connects = mt.dp != NULL ? dpc_connect_count(mt.dp) : 0;
	s->dp_up = col != NULL && col->dp_stats_ok;
	if (s->dp_up) {
		s->dp = col->dp;
		s->have_dp_stats = true;
	} else if (mt.have_last_dp) {
		/* the counters must not fall to 0 and come back: a rate() would
		 * read that as a reset */
		s->dp = mt.last_dp;
		s->have_dp_stats = true;
	}
	s->sessions_complete = col != NULL && col->list_ok && col->list_done && col->q_len == 0 &&
			       col->in_flight == 0 && !col->stats_failed;
	if (col != NULL) {
		s->collect_seconds = (double)(now_ns() - col->t0_ns) / 1e9;
		s->dp_sessions_read = col->read;
	}
	memcpy(s->traffic, mt.retired, sizeof(s->traffic));
	for (unsigned b = 0; b < METRICS_SESS_BUCKETS; b++)
		for (const struct metrics_sess *e = mt.sess[b]; e != NULL; e = e->next)
			for (unsigned l = 0; l < 2; l++)
				for (unsigned d = 0; d < 2; d++)
					traffic_add(&s->traffic[e->type[l][d]][d], &e->t[l][d],
						    &e->base[l][d]);
}

/* ------------------------------------------------------------ HTTP glue */

static void mhd_run(void);

static void on_mhd_timer(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	(void)arg;
	mhd_run();
}

static void mhd_run(void)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (mt.mhd == NULL || mt.in_mhd)
		return;
	mt.in_mhd = true;
	MHD_run(mt.mhd);
	mt.in_mhd = false;
	if (MHD_get_timeout(mt.mhd, &ms) == MHD_YES)
		su_timer_set_interval(mt.mhd_timer, on_mhd_timer, NULL,
				      ms > METRICS_MHD_TICK_MS ? METRICS_MHD_TICK_MS : (su_duration_t)ms);
	else
		su_timer_reset(mt.mhd_timer);
}

static int on_mhd(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	(void)w;
	(void)arg;
	mhd_run();
	return 0;
}

/* MHD runs on the loop's next turn: its external epoll mode does not wake
 * its fd for a resumed connection, and running it from inside a dpclient
 * callback would re-enter it. */
static void http_resume(struct metrics_http *h)
{
	if (!h->suspended)
		return;
	h->suspended = false;
	MHD_resume_connection(h->mc);
	su_timer_set_interval(mt.mhd_timer, on_mhd_timer, NULL, 0);
}

/* ------------------------------------------------------------ collection */

static void col_pump(struct metrics_col *col);

static void col_finish(struct metrics_col *col)
{
	struct metrics_snapshot *s = malloc(sizeof(*s));

	if (mt.deadline != NULL)
		su_timer_reset(mt.deadline);
	if (mt.dp != NULL)
		dpc_cancel_arg(mt.dp, col);
	if (col->list_ok && col->list_done)
		sess_retire(col->gen);
	if (col->dp_stats_ok) {
		mt.last_dp = col->dp;
		mt.have_last_dp = true;
	}
	if (s != NULL)
		snapshot(s, col);
	while (col->waiters != NULL) {
		struct metrics_http *h = col->waiters;

		col->waiters = h->next;
		h->waiting = false;
		h->ready = true;
		if (s == NULL || metrics_render(s, &h->text) < 0)
			h->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		else
			h->status = MHD_HTTP_OK;
		http_resume(h);
	}
	free(s);
	free(col->queue);
	free(col);
	if (mt.col == col)
		mt.col = NULL;
}

static void col_check_done(struct metrics_col *col)
{
	if (col->dp_stats_done && col->list_done && col->q_len == 0 && col->in_flight == 0)
		col_finish(col);
}

static void on_deadline(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	struct metrics_col *col = arg;

	(void)magic;
	(void)t;
	MG_DEBUG("metrics: the dataplane did not answer everything in time (%u sessions read)",
		 col->read);
	col_finish(col);
}

static void on_dp_stats(void *arg, int result, const void *body)
{
	struct metrics_col *col = arg;

	col->dp_stats_done = true;
	if (result == 0 && body != NULL) {
		col->dp = *(const struct mg_msg_dp_stats *)body;
		col->dp_stats_ok = true;
	}
	col_check_done(col);
}

static void on_sess_stats(void *arg, int result, const void *body)
{
	struct metrics_col *col = arg;
	const struct mg_msg_session_stats *st = body;

	col->in_flight--;
	if (result == 0 && st != NULL) {
		struct metrics_sess *e = *sess_slot(st->id);

		col->read++;
		for (unsigned l = 0; e != NULL && l < 2; l++)
			for (unsigned d = 0; d < 2; d++) {
				const struct mg_msg_dir_stats *ds = &st->legs[l][d];
				struct metrics_traffic *t = &e->t[l][d];

				/* fewer than last time: the session was installed
				 * again (a dataplane restart); what it had counted
				 * stays in the totals */
				if (ds->packets < t->packets || ds->bytes < t->bytes) {
					traffic_add(&mt.retired[e->type[l][d]][d], t,
						    &e->base[l][d]);
					memset(&e->base[l][d], 0, sizeof(e->base[l][d]));
				}
				t->packets = ds->packets;
				t->bytes = ds->bytes;
				t->rtcp_packets = ds->rtcp_packets;
				for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
					t->drops[r] = ds->drops[r];
			}
	} else if (result != -ENOENT) {
		/* ENOENT: deleted since the list; its last counters stand */
		col->stats_failed = true;
	}
	col_pump(col);
}

static int col_list(struct metrics_col *col, uint64_t cursor);

static void on_list(void *arg, int result, const void *body)
{
	struct metrics_col *col = arg;
	const struct mg_msg_session_list *ls = body;

	if (result != 0 || ls == NULL) {
		col->list_done = true;
		col->list_ok = false;
		col_pump(col);
		return;
	}
	for (uint32_t i = 0; i < ls->count && i < MG_PROTO_LIST_PAGE; i++) {
		const struct mg_msg_session_list_entry *en = &ls->entries[i];
		struct metrics_sess **pp = sess_slot(en->id), *e = *pp;

		if (e == NULL) {
			e = calloc(1, sizeof(*e));
			if (e == NULL) {
				/* not followed: the listing cannot retire anything */
				col->list_ok = false;
				continue;
			}
			e->id = en->id;
			*pp = e;
		}
		e->seen = col->gen;
		for (unsigned l = 0; l < 2; l++)
			for (unsigned d = 0; d < 2; d++) {
				uint8_t ty = en->suite[l][d] != MG_SRTP_SUITE_NONE ? METRICS_LEG_SRTP
										   : METRICS_LEG_RTP;

				if (ty == e->type[l][d])
					continue;
				/* what was counted so far stays under the old type */
				traffic_add(&mt.retired[e->type[l][d]][d], &e->t[l][d],
					    &e->base[l][d]);
				e->base[l][d] = e->t[l][d];
				e->type[l][d] = ty;
			}
		/* the head's slots were sent: reuse them before growing */
		if (col->q_head > 0 && col->q_head + col->q_len == col->q_cap) {
			memmove(col->queue, col->queue + col->q_head, col->q_len * sizeof(uint64_t));
			col->q_head = 0;
		}
		if (col->q_len == col->q_cap) {
			size_t cap = col->q_cap != 0 ? col->q_cap * 2 : 256;
			uint64_t *q = realloc(col->queue, cap * sizeof(*q));

			if (q == NULL) {
				col->stats_failed = true;
				continue;
			}
			col->queue = q;
			col->q_cap = cap;
		}
		col->queue[col->q_head + col->q_len++] = en->id;
	}
	if (ls->next_cursor != 0 && col_list(col, ls->next_cursor) == 0) {
		col_pump(col);
		return;
	}
	if (ls->next_cursor != 0)
		col->list_ok = false;
	col->list_done = true;
	col_pump(col);
}

static int col_list(struct metrics_col *col, uint64_t cursor)
{
	struct mg_msg_session_list_req rq = { .cursor = cursor, .max = MG_PROTO_LIST_PAGE };
	int64_t id = dpc_request(mt.dp, MG_MSG_SESSION_LIST, &rq, METRICS_DP_TIMEOUT_MS, on_list, col);

	return id > 0 ? 0 : (int)id;
}

static void col_pump(struct metrics_col *col)
{
	while (col->q_len > 0 && col->in_flight < METRICS_WINDOW) {
		struct mg_msg_session_id sid = { .id = col->queue[col->q_head] };

		col->q_head++;
		col->q_len--;
		if (dpc_request(mt.dp, MG_MSG_SESSION_STATS, &sid, METRICS_DP_TIMEOUT_MS,
				on_sess_stats, col) > 0)
			col->in_flight++;
		else
			col->stats_failed = true;
	}
	col_check_done(col);
}

/* Start a collection for @p h (or join the one running). */
static void col_join(struct metrics_http *h, unsigned deadline_ms)
{
	struct metrics_col *col = mt.col;

	h->waiting = true;
	if (col != NULL) {
		h->next = col->waiters;
		col->waiters = h;
		return;
	}
	col = calloc(1, sizeof(*col));
	if (col == NULL) {
		h->waiting = false;
		h->ready = true;
		h->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		return;
	}
	mt.col = col;
	col->gen = ++mt.gen;
	col->t0_ns = now_ns();
	col->list_ok = true;
	h->next = NULL;
	col->waiters = h;
	if (mt.dp == NULL || !dpc_is_up(mt.dp)) {
		col_finish(col);
		return;
	}
	if (mt.deadline == NULL ||
	    su_timer_set_interval(mt.deadline, on_deadline, col, (su_duration_t)deadline_ms) < 0 ||
	    dpc_request(mt.dp, MG_MSG_DP_STATS, NULL, METRICS_DP_TIMEOUT_MS, on_dp_stats, col) <= 0) {
		col->list_ok = false;
		col_finish(col);
		return;
	}
	if (col_list(col, 0) < 0) {
		col->list_ok = false;
		col->list_done = true;
	}
	col_check_done(col);
}

/* ------------------------------------------------------------ HTTP */

static enum MHD_Result queue_text(struct MHD_Connection *mc, unsigned status, const char *body,
				  size_t len, const char *ctype)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* How long the scraper waits (Prometheus says so in a header): answer
 * inside it, with what is known, rather than not at all. */
static unsigned deadline_of(struct MHD_Connection *mc)
{
	const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
						     "X-Prometheus-Scrape-Timeout-Seconds");
	char *end;
	double t;

	if (v == NULL)
		return METRICS_DEADLINE_MS;
	t = strtod(v, &end);
	if (end == v || !(t > 0))
		return METRICS_DEADLINE_MS;
	t = t * 1000.0 * 0.8;
	if (t < METRICS_DEADLINE_MIN_MS)
		return METRICS_DEADLINE_MIN_MS;
	if (t > METRICS_DEADLINE_MAX_MS)
		return METRICS_DEADLINE_MAX_MS;
	return (unsigned)t;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
	struct metrics_http *h = *con_cls;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (h == NULL) {
		static const char nf[] = "Not found: GET /metrics\n";
		static const char na[] = "Method not allowed: GET only\n";
		static const char root[] = "mediagate-control: metrics at /metrics\n";

		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return queue_text(mc, MHD_HTTP_METHOD_NOT_ALLOWED, na, sizeof(na) - 1,
					  "text/plain");
		if (strcmp(url, "/") == 0)
			return queue_text(mc, MHD_HTTP_OK, root, sizeof(root) - 1, "text/plain");
		if (strcmp(url, "/metrics") != 0)
			return queue_text(mc, MHD_HTTP_NOT_FOUND, nf, sizeof(nf) - 1, "text/plain");
		h = calloc(1, sizeof(*h));
		if (h == NULL)
			return MHD_NO;
		h->mc = mc;
		*con_cls = h;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0; /* a GET with a body: ignored */
		return MHD_YES;
	}
	if (h->drop)
		return MHD_NO;
	if (h->ready) {
		static const char err[] = "out of memory\n";

		if (h->status != MHD_HTTP_OK)
			return queue_text(mc, h->status, err, sizeof(err) - 1, "text/plain");
		return queue_text(mc, MHD_HTTP_OK, h->text.p != NULL ? h->text.p : "", h->text.len,
				  ctype);
	}
	if (!h->waiting)
		col_join(h, deadline_of(mc));
	if (h->ready)
		return on_access(cls, mc, url, method, version, upload_data, upload_data_size,
				 con_cls);
	h->suspended = true;
	MHD_suspend_connection(mc);
	return MHD_YES;
}

static void http_unlink(struct metrics_http *h)
{
	if (!h->waiting || mt.col == NULL)
		return;
	for (struct metrics_http **pp = &mt.col->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	h->waiting = false;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct metrics_http *h = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (h == NULL)
		return;
	http_unlink(h);
	metrics_buf_free(&h->text);
	free(h);
	*con_cls = NULL;
}

/* ------------------------------------------------------------ set-up */

static int listen_socket(const char *addr, uint16_t port, int *family, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return -EINVAL;
	}
	*family = ss.ss_family;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0)
		goto err;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto err;
	*bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
err:
	{
		int e = errno;

		close(fd);
		return -e;
	}
}

int metrics_start(su_root_t *root, const struct mg_settings *s, struct dpc *dp)
{
	const union MHD_DaemonInfo *di;
	int fd, family = AF_INET;

	if (mt.start_ns == 0)
		mt.start_ns = now_ns();
	mt.root = root;
	mt.s = s;
	mt.dp = dp;
	mt.mhd_fd = -1;
	if (s->metrics_addr[0] == '\0') {
		MG_INFO("metrics: off (mediagate.metrics.listen is empty)");
		return 0;
	}
	fd = listen_socket(s->metrics_addr, s->metrics_port, &family, &mt.port);
	if (fd < 0) {
		MG_ERR("metrics: cannot listen on %s port %u (mediagate.metrics.listen): %s",
		       s->metrics_addr, s->metrics_port, strerror(-fd));
		return fd;
	}
	/* external epoll mode: MHD never blocks and never starts a thread */
	mt.mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
					  (family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_access, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				  MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT, METRICS_MAX_CONNS,
				  MHD_OPTION_END);
	if (mt.mhd == NULL) {
		close(fd);
		MG_ERR("metrics: libmicrohttpd did not start on %s port %u", s->metrics_addr,
		       s->metrics_port);
		return -EIO;
	}
	di = MHD_get_daemon_info(mt.mhd, MHD_DAEMON_INFO_EPOLL_FD);
	mt.mhd_timer = su_timer_create(su_root_task(root), METRICS_MHD_TICK_MS);
	mt.deadline = su_timer_create(su_root_task(root), METRICS_DEADLINE_MS);
	if (di == NULL || mt.mhd_timer == NULL || mt.deadline == NULL)
		goto fail;
	mt.mhd_fd = di->epoll_fd;
	su_wait_create(&mt.mhd_wait, mt.mhd_fd, SU_WAIT_IN);
	mt.mhd_index = su_root_register(root, &mt.mhd_wait, on_mhd, NULL, 0);
	if (mt.mhd_index <= 0)
		goto fail;
	MG_INFO("metrics: listening on http %s port %u (GET /metrics)", s->metrics_addr, mt.port);
	return 0;
fail:
	MG_ERR("metrics: cannot run libmicrohttpd on the event loop");
	metrics_stop();
	return -EIO;
}

void metrics_stop(void)
{
	struct metrics_col *col = mt.col;

	if (col != NULL) {
		/* the waiting connections are closed unanswered */
		for (struct metrics_http *h = col->waiters; h != NULL; h = h->next) {
			h->drop = true;
			h->waiting = false;
			if (h->suspended) {
				h->suspended = false;
				MHD_resume_connection(h->mc);
			}
		}
		col->waiters = NULL;
		if (mt.dp != NULL)
			dpc_cancel_arg(mt.dp, col);
		if (mt.deadline != NULL)
			su_timer_reset(mt.deadline);
		free(col->queue);
		free(col);
		mt.col = NULL;
	}
	if (mt.mhd != NULL) {
		MHD_run(mt.mhd);
		if (mt.mhd_index > 0)
			su_root_deregister(mt.root, mt.mhd_index);
		MHD_stop_daemon(mt.mhd);
	}
	if (mt.mhd_timer != NULL)
		su_timer_destroy(mt.mhd_timer);
	if (mt.deadline != NULL)
		su_timer_destroy(mt.deadline);
	mt.mhd = NULL;
	mt.mhd_timer = NULL;
	mt.deadline = NULL;
	mt.mhd_index = 0;
	mt.mhd_fd = -1;
	mt.port = 0;
	sess_free_all();
	mt.have_last_dp = false;
	memset(mt.retired, 0, sizeof(mt.retired));
	mt.dp = NULL;
}

uint16_t metrics_port(void)
{
	return mt.port;
}
