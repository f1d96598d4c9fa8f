/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The commands of the operator's socket (cli.h, docs/operations.md
 * "mgctl"): calls (control/calls, calls_ctl.h), NG media sessions
 * (control/media), counters of every layer and of the dataplane (DP_STATS
 * through dpclient), drain, the admission limit, the log level, version.
 * Command names are written once, in cli_cmds[].
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "calls_ctl.h"
#include "cli.h"
#include "ha.h"
#include "load.h"
#include "media.h"
#include "mg_build_config.h"
#include "mg_log.h"
#include "mg_proto.h"
#include "ng_cmd.h"
#include "ng_server.h"

#define CLI_DP_TIMEOUT_MS 2000
#define CLI_DRAIN_TICK_MS 200

static struct {
	su_root_t *root;
	struct dpc *dp;
	time_t started;
	bool exit_at_zero;      /* drain on --exit: stop the loop at 0 calls and sessions */
	su_timer_t *tick;
} cc;

static struct ng_val *reply_ok(struct cli_req *r)
{
	struct ng_doc *d = cli_req_doc(r);
	struct ng_val *v = ng_new_dict(d);

	ng_dict_add_str(d, v, "result", "ok");
	return v;
}

__attribute__((format(printf, 2, 3))) static void reply_error(struct cli_req *r, const char *fmt, ...)
{
	struct ng_doc *d = cli_req_doc(r);
	struct ng_val *v = ng_new_dict(d);
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ng_dict_add_str(d, v, "result", "error");
	ng_dict_add_str(d, v, "error-reason", why);
	cli_req_reply(r, v);
}

/* An integer argument: 0 and *out, -ENOENT (absent), -EINVAL (not a
 * non-negative integer: JSON number or decimal string). */
static int arg_uint(const struct ng_val *dict, const char *key, uint64_t *out)
{
	const struct ng_val *v = ng_dict_get(dict, key);
	char *end;

	if (v == NULL)
		return -ENOENT;
	if (v->type == NG_INT && v->i >= 0) {
		*out = (uint64_t)v->i;
		return 0;
	}
	if (v->type == NG_STR && v->s[0] >= '0' && v->s[0] <= '9') {
		errno = 0;
		*out = strtoull(v->s, &end, 10);
		if (*end == '\0' && errno == 0)
			return 0;
	}
	return -EINVAL;
}

/* A boolean argument: JSON true/false (1/0), or "on"/"off". -ENOENT, -EINVAL. */
static int arg_bool(const struct ng_val *dict, const char *key, bool *out)
{
	const struct ng_val *v = ng_dict_get(dict, key);

	if (v == NULL)
		return -ENOENT;
	if (v->type == NG_INT && (v->i == 0 || v->i == 1)) {
		*out = v->i == 1;
		return 0;
	}
	if (v->type == NG_STR && (strcmp(v->s, "on") == 0 || strcmp(v->s, "off") == 0)) {
		*out = strcmp(v->s, "on") == 0;
		return 0;
	}
	return -EINVAL;
}

static struct ng_val *add_bool(struct ng_doc *d, struct ng_val *dict, const char *key, bool b)
{
	return ng_dict_add_int(d, dict, key, b ? 1 : 0);
}

/* ------------------------------------------------------------------ calls */

static struct ng_val *call_val(struct ng_doc *d, const struct calls_info *ci)
{
	struct ng_val *v = ng_new_dict(d), *legs;

	ng_dict_add_int(d, v, "id", ci->id);
	ng_dict_add_str(d, v, "state", ci->state);
	ng_dict_add_int(d, v, "age_s", (int64_t)ci->age_s);
	ng_dict_add_str(d, v, "from", ci->from);
	ng_dict_add_str(d, v, "rule", ci->rule);
	ng_dict_add_str(d, v, "target", ci->target);
	ng_dict_add_int(d, v, "session", (int64_t)ci->session_id);
	add_bool(d, v, "session_on", ci->session_on);
	add_bool(d, v, "standby", ci->standby);
	if (ci->why[0] != '\0')
		ng_dict_add_str(d, v, "ending", ci->why);
	legs = ng_dict_add(d, v, "legs", ng_new_list(d));
	for (unsigned li = 0; li < 2; li++) {
		const struct calls_leg_info *g = &ci->leg[li];
		struct ng_val *l = ng_list_add(legs, ng_new_dict(d));

		ng_dict_add_str(d, l, "state", g->state);
		ng_dict_add_str(d, l, "kind", g->pstn ? "pstn" : "sip");
		if (g->pstn)
			ng_dict_add_int(d, l, "channel", g->channo);
		ng_dict_add_str(d, l, "remote", g->remote);
		ng_dict_add_str(d, l, "local", g->local);
		ng_dict_add_str(d, l, "srtp", g->suite);
	}
	return v;
}

struct calls_list_ctx {
	struct ng_doc *d;
	struct ng_val *list;
};

static void calls_list_add(void *arg, const struct calls_info *ci)
{
	struct calls_list_ctx *x = arg;

	ng_list_add(x->list, call_val(x->d, ci));
}

static void cmd_calls_list(struct cli_req *r, const struct ng_val *a)
{
	struct ng_doc *d = cli_req_doc(r);
	struct ng_val *v = reply_ok(r), *list = ng_new_list(d);
	struct calls_list_ctx x = { .d = d, .list = list };

	(void)a;
	if (list != NULL)
		calls_info_each(calls_list_add, &x);
	ng_dict_add_int(d, v, "count", calls_active());
	ng_dict_add(d, v, "calls", list);
	cli_req_reply(r, v);
}

static int arg_call_id(struct cli_req *r, const struct ng_val *a, unsigned *id)
{
	uint64_t v;

	if (arg_uint(a, "id", &v) < 0 || v == 0 || v > UINT32_MAX) {
		reply_error(r, "give the call's \"id\" (a number from calls list)");
		return -EINVAL;
	}
	*id = (unsigned)v;
	return 0;
}

static void cmd_calls_show(struct cli_req *r, const struct ng_val *a)
{
	struct calls_info ci;
	unsigned id;

	if (arg_call_id(r, a, &id) < 0)
		return;
	if (calls_info_get(id, &ci) < 0)
		return reply_error(r, "no call %u", id);
	struct ng_val *v = reply_ok(r);

	ng_dict_add(cli_req_doc(r), v, "call", call_val(cli_req_doc(r), &ci));
	cli_req_reply(r, v);
}

static void cmd_calls_terminate(struct cli_req *r, const struct ng_val *a)
{
	unsigned id;
	int rc;

	if (arg_call_id(r, a, &id) < 0)
		return;
	rc = calls_terminate(id);
	if (rc == -ENOENT)
		return reply_error(r, "no call %u", id);
	if (rc == -EALREADY)
		return reply_error(r, "call %u is ending already", id);
	MG_INFO("cli: call %u terminated by the operator", id);
	struct ng_val *v = reply_ok(r);

	ng_dict_add_int(cli_req_doc(r), v, "id", id);
	cli_req_reply(r, v);
}

/* --------------------------------------------------------------- sessions */

static const char *crypto_name(const struct media_crypto *c)
{
	return c->suite != NULL ? c->suite->sdes_name : "RTP";
}

static struct ng_val *session_val(struct ng_doc *d, const struct media_session *m,
				  const struct media_result *res)
{
	struct ng_val *v = ng_new_dict(d), *sides;
	uint64_t now = (uint64_t)time(NULL) * 1000;
	char a[64];

	ng_dict_add_str(d, v, "call-id", m->key);
	ng_dict_add_int(d, v, "created", (int64_t)(m->created_ms / 1000));
	ng_dict_add_int(d, v, "age_s", now > m->created_ms ? (int64_t)((now - m->created_ms) / 1000) : 0);
	ng_dict_add_int(d, v, "last_signal_s",
			now > m->last_signal_ms ? (int64_t)((now - m->last_signal_ms) / 1000) : 0);
	ng_dict_add_int(d, v, "streams", m->n_streams);
	if (m->label[0] != '\0')
		ng_dict_add_str(d, v, "label", m->label);
	add_bool(d, v, "recording", m->recording);
	add_bool(d, v, "standby", m->standby); /* pre-installed, not forwarding (docs/standby.md) */
	sides = ng_dict_add(d, v, "sides", ng_new_list(d));
	for (unsigned si = 0; si < 2; si++) {
		const struct media_side *s = &m->side[si];
		struct ng_val *sv = ng_list_add(sides, ng_new_dict(d)), *parties;

		parties = ng_dict_add(d, sv, "parties", ng_new_list(d));
		for (unsigned p = 0; p < s->n_parties; p++) {
			const struct media_party *pa = s->parties[p];
			struct ng_val *pv = ng_list_add(parties, ng_new_dict(d)), *streams;

			ng_dict_add_str(d, pv, "tag", pa->tag);
			add_bool(d, pv, "active", (int)p == s->active);
			streams = ng_dict_add(d, pv, "streams", ng_new_list(d));
			for (unsigned st = 0; st < pa->n_legs && st < MEDIA_MAX_STREAMS; st++) {
				const struct media_leg *l = &pa->legs[st];
				struct ng_val *lv = ng_list_add(streams, ng_new_dict(d));

				ng_dict_add_str(d, lv, "local",
						s->port_ok[st] ? mg_proto_addr_str(&s->ports[st].local, a, sizeof(a)) : "");
				ng_dict_add_str(d, lv, "remote",
						l->remote.family != MG_FAMILY_NONE
							? mg_proto_addr_str(&l->remote, a, sizeof(a)) : "");
				ng_dict_add_str(d, lv, "srtp", crypto_name(&l->rx));
				if (res != NULL && res->have_stats && p < MEDIA_MAX_PARTIES) {
					const struct media_stream_stats *ss = &res->stats[si][p][st];

					ng_dict_add_int(d, lv, "rx_packets", (int64_t)ss->rx.packets);
					ng_dict_add_int(d, lv, "tx_packets", (int64_t)ss->tx.packets);
					ng_dict_add_int(d, lv, "rx_bytes", (int64_t)ss->rx.bytes);
					ng_dict_add_int(d, lv, "tx_bytes", (int64_t)ss->tx.bytes);
					ng_dict_add_int(d, lv, "errors", (int64_t)(ss->rx.errors + ss->tx.errors));
					ng_dict_add_int(d, lv, "auth_failures", (int64_t)ss->rx.auth_failures);
				}
			}
		}
	}
	return v;
}

static void cmd_sessions(struct cli_req *r, const struct ng_val *a)
{
	struct ng_doc *d = cli_req_doc(r);
	struct ng_val *v = reply_ok(r), *list = ng_new_list(d);

	(void)a;
	for (const struct media_session *m = media_first(); m != NULL; m = media_next(m))
		ng_list_add(list, session_val(d, m, NULL));
	ng_dict_add_int(d, v, "count", media_count());
	ng_dict_add(d, v, "sessions", list);
	cli_req_reply(r, v);
}

static void on_session_query(void *arg, const struct media_result *res)
{
	struct cli_req *r = arg;
	struct ng_val *v;

	if (res->err != MEDIA_OK || res->session == NULL)
		return reply_error(r, "%s", res->why[0] ? res->why : media_err_name(res->err));
	v = reply_ok(r);
	ng_dict_add(cli_req_doc(r), v, "session", session_val(cli_req_doc(r), res->session, res));
	cli_req_reply(r, v);
}

static void cmd_session_show(struct cli_req *r, const struct ng_val *a)
{
	const char *key = ng_dict_str(a, "call-id");

	if (key == NULL)
		return reply_error(r, "give the session's \"call-id\" (from sessions)");
	media_query(key, on_session_query, r);
}

/* ------------------------------------------------------------------ stats */

/* The standby node's part (docs/standby.md): "ha" in stats and in ha. */
static void ha_stats(struct ng_doc *d, struct ng_val *v, const struct ha_counters *hc)
{
	struct ng_val *o = ng_dict_add(d, v, "ha", ng_new_dict(d));

	ng_dict_add_str(d, o, "role", !hc->enabled ? "off" : hc->standby ? "standby" :
				      hc->promoted ? "promoted" : "active");
	ng_dict_add_int(d, o, "standby_sessions", hc->standby_sessions);
	ng_dict_add_int(d, o, "installed", (int64_t)hc->standby_installed);
	ng_dict_add_int(d, o, "updated", (int64_t)hc->standby_updated);
	ng_dict_add_int(d, o, "replaced", (int64_t)hc->standby_replaced);
	ng_dict_add_int(d, o, "removed", (int64_t)hc->standby_removed);
	ng_dict_add_int(d, o, "promoted_sessions", (int64_t)hc->promote_sessions);
	ng_dict_add_int(d, o, "promote_failed", (int64_t)hc->promote_failed);
	/* B2BUA calls of the active node (calls_standby_put()) */
	ng_dict_add_int(d, o, "standby_calls", hc->calls_standby.held);
	ng_dict_add_int(d, o, "calls_installed", (int64_t)hc->calls_standby.installed);
	ng_dict_add_int(d, o, "calls_updated", (int64_t)hc->calls_standby.updated);
	ng_dict_add_int(d, o, "calls_replaced", (int64_t)hc->calls_standby.replaced);
	ng_dict_add_int(d, o, "calls_removed", (int64_t)hc->calls_standby.removed);
	ng_dict_add_int(d, o, "promoted_calls", (int64_t)hc->calls_standby.promoted);
	ng_dict_add_int(d, o, "unpublished", (int64_t)hc->unpublished);
	ng_dict_add_int(d, o, "stale_lost", (int64_t)hc->stale_lost);
	/* a dead gateway's calls, ended here (mgctl ha adopt NODE) */
	ng_dict_add_int(d, o, "peer_adopts", (int64_t)hc->peer_adopts);
	ng_dict_add_int(d, o, "peer_read", (int64_t)hc->peer_read);
	ng_dict_add_int(d, o, "peer_refused", (int64_t)hc->peer_refused);
	ng_dict_add_int(d, o, "peer_alive_refused", (int64_t)hc->peer_alive_refused);
	ng_dict_add_int(d, o, "peer_forced", (int64_t)hc->peer_forced);
	ng_dict_add_int(d, o, "peer_read_failed", (int64_t)hc->peer_read_failed);
	ng_dict_add_int(d, o, "peer_calls_ended", (int64_t)hc->peer.calls);
	ng_dict_add_int(d, o, "peer_byes_sent", (int64_t)hc->peer.byes_sent);
	ng_dict_add_int(d, o, "peer_byes_ok", (int64_t)hc->peer.byes_ok);
	ng_dict_add_int(d, o, "peer_byes_failed", (int64_t)hc->peer.byes_failed);
	ng_dict_add_int(d, o, "peer_byes_pending", hc->peer.pending);
	ng_dict_add_int(d, o, "watch_connected", hc->watch.connected);
	ng_dict_add_int(d, o, "watch_connects", (int64_t)hc->watch.connects);
	ng_dict_add_int(d, o, "watch_events", (int64_t)hc->watch.events);
	ng_dict_add_int(d, o, "watch_gets", (int64_t)hc->watch.gets);
	ng_dict_add_int(d, o, "watch_gone", (int64_t)hc->watch.gone);
	ng_dict_add_int(d, o, "watch_resyncs", (int64_t)hc->watch.resyncs);
	ng_dict_add_int(d, o, "watch_refetched", (int64_t)hc->watch.refetched);
	ng_dict_add_int(d, o, "watch_errors", (int64_t)hc->watch.errors);
	ng_dict_add_int(d, o, "watch_config_refused", hc->watch.config_refused);
}

static void stats_control(struct ng_doc *d, struct ng_val *v)
{
	struct calls_counters cn;
	struct media_counters mc;
	struct ng_cmd_counters nc;
	struct ng_val *o;
	uint64_t expired[MEDIA_TO_COUNT];

	calls_get_counters(&cn);
	o = ng_dict_add(d, v, "calls", ng_new_dict(d));
	ng_dict_add_int(d, o, "active", calls_active());
	ng_dict_add_int(d, o, "max_calls", calls_max_calls());
	ng_dict_add_int(d, o, "offered", (int64_t)cn.offered);
	ng_dict_add_int(d, o, "answered", (int64_t)cn.answered);
	ng_dict_add_int(d, o, "failed", (int64_t)cn.failed);
	ng_dict_add_int(d, o, "overload", (int64_t)cn.overload);
	ng_dict_add_int(d, o, "drain_refused", (int64_t)calls_drain_refused());
	ng_dict_add_int(d, o, "media_timeout", (int64_t)cn.media_timeout);
	ng_dict_add_int(d, o, "ended", (int64_t)cn.ended);

	media_get_counters(&mc);
	o = ng_dict_add(d, v, "media", ng_new_dict(d));
	ng_dict_add_int(d, o, "sessions", media_count());
	ng_dict_add_int(d, o, "created", (int64_t)mc.created);
	ng_dict_add_int(d, o, "deleted", (int64_t)mc.deleted);
	ng_dict_add_int(d, o, "offers", (int64_t)mc.offers);
	ng_dict_add_int(d, o, "answers", (int64_t)mc.answers);
	ng_dict_add_int(d, o, "errors", (int64_t)mc.errors);
	ng_dict_add_int(d, o, "limit_refused", (int64_t)mc.limit_refused);
	ng_dict_add_int(d, o, "ports_refused", (int64_t)mc.ports_refused);
	ng_dict_add_int(d, o, "load_refused", (int64_t)mc.load_refused);
	/* NG sessions deleted by a timeout, by reason (docs/ng.md "Timeouts") */
	media_timeout_get_counters(expired);
	o = ng_dict_add(d, o, "timeout", ng_new_dict(d));
	for (unsigned r = 0; r < MEDIA_TO_COUNT; r++)
		ng_dict_add_int(d, o, media_timeout_name(r), (int64_t)expired[r]);

	{
		struct ha_counters hc;

		ha_get_counters(&hc);
		o = ng_dict_add(d, v, "redis", ng_new_dict(d));
		ng_dict_add_int(d, o, "enabled", hc.enabled);
		ng_dict_add_str(d, o, "node", hc.node);
		ng_dict_add_int(d, o, "connected", hc.redis.connected);
		ng_dict_add_int(d, o, "connects", (int64_t)hc.redis.connects);
		ng_dict_add_int(d, o, "published", (int64_t)hc.published);
		ng_dict_add_int(d, o, "cpu_us", (int64_t)(hc.cpu_ns / 1000));
		ng_dict_add_int(d, o, "writes", (int64_t)hc.redis.writes);
		ng_dict_add_int(d, o, "errors", (int64_t)hc.redis.errors);
		ng_dict_add_int(d, o, "dropped", (int64_t)hc.redis.dropped);
		ng_dict_add_int(d, o, "retried", (int64_t)hc.redis.retried);
		ng_dict_add_int(d, o, "queued", hc.redis.queued);
		ng_dict_add_int(d, o, "inflight", hc.redis.inflight);
		ng_dict_add_int(d, o, "read_back", (int64_t)hc.read_back);
		ng_dict_add_int(d, o, "read_bad", (int64_t)hc.read_bad);
		ng_dict_add_int(d, o, "adopted", (int64_t)hc.adopted);
		ng_dict_add_int(d, o, "adopt_dropped", (int64_t)hc.adopt_dropped);
		ng_dict_add_int(d, o, "calls_adopted", (int64_t)hc.calls_adopted);
		ng_dict_add_int(d, o, "calls_adopt_dropped", (int64_t)hc.calls_adopt_dropped);
		ng_dict_add_int(d, o, "read_errors", (int64_t)hc.redis.read_errors);
		ng_dict_add_int(d, o, "read_timeouts", (int64_t)hc.redis.read_timeouts);
		ng_dict_add_int(d, o, "reads_pending", hc.redis.reads_pending);
		ng_dict_add_int(d, o, "sip_held_timeout", (int64_t)hc.sip_held_timeout);
		ng_dict_add_int(d, o, "alive_sent", (int64_t)hc.alive_sent);
		ng_dict_add_int(d, o, "alive_missed", (int64_t)hc.alive_missed);
		ha_stats(d, v, &hc);
	}

	{
		/* admission by measured load (control/load), both front ends */
		struct load_counters lc;

		load_get_counters(&lc);
		o = ng_dict_add(d, v, "load", ng_new_dict(d));
		ng_dict_add_int(d, o, "admitted", (int64_t)lc.admitted);
		ng_dict_add_int(d, o, "refused_rate", (int64_t)lc.refused_rate);
		ng_dict_add_int(d, o, "refused_lag", (int64_t)lc.refused_lag);
		ng_dict_add_int(d, o, "lag_ms", lc.lag_ms);
		ng_dict_add_int(d, o, "lag_max_ms", lc.lag_max_ms);
		ng_dict_add_int(d, o, "rxq_ms", lc.rxq_ms);
		ng_dict_add_int(d, o, "rxq_max_ms", lc.rxq_max_ms);
	}

	ng_cmd_get_counters(&nc);
	o = ng_dict_add(d, v, "ng", ng_new_dict(d));
	ng_dict_add_int(d, o, "ping", (int64_t)nc.ping);
	ng_dict_add_int(d, o, "offer", (int64_t)nc.offer);
	ng_dict_add_int(d, o, "answer", (int64_t)nc.answer);
	ng_dict_add_int(d, o, "delete", (int64_t)nc.delete_);
	ng_dict_add_int(d, o, "query", (int64_t)nc.query);
	ng_dict_add_int(d, o, "list", (int64_t)nc.list);
	ng_dict_add_int(d, o, "statistics", (int64_t)nc.statistics);
	ng_dict_add_int(d, o, "other", (int64_t)nc.other);
	ng_dict_add_int(d, o, "errors", (int64_t)nc.errors);
	ng_dict_add_int(d, o, "load_limit", (int64_t)nc.load_limit);
	ng_dict_add_int(d, o, "delete_delayed", ng_cmd_delayed_deletes());

	add_bool(d, v, "draining", calls_draining());
}

static void stats_dataplane(struct ng_doc *d, struct ng_val *v, const struct mg_msg_dp_stats *body)
{
	struct mg_msg_dp_stats s;
	struct ng_val *o, *drops, *workers;

	/* copied out: the wire struct is packed, its members unaligned */
	memcpy(&s, body, sizeof(s));
	o = ng_dict_add(d, v, "dataplane", ng_new_dict(d));
	ng_dict_add_int(d, o, "uptime_s", (int64_t)(s.uptime_ns / 1000000000ull));
	ng_dict_add_int(d, o, "sessions", s.n_sessions);
	ng_dict_add_int(d, o, "ports", s.n_ports);
	ng_dict_add_int(d, o, "rx_packets", (int64_t)s.rx_packets);
	ng_dict_add_int(d, o, "tx_packets", (int64_t)s.tx_packets);
	ng_dict_add_int(d, o, "arp_rx", (int64_t)s.arp_rx);
	ng_dict_add_int(d, o, "arp_tx", (int64_t)s.arp_tx);
	ng_dict_add_int(d, o, "icmp_echo", (int64_t)s.icmp_echo);
	ng_dict_add_int(d, o, "ssrc_rooms", (int64_t)s.ssrc_rooms);
	ng_dict_add_int(d, o, "ssrc_rooms_used", (int64_t)s.ssrc_rooms_used);
	ng_dict_add_int(d, o, "ssrc_rooms_empty", (int64_t)s.ssrc_rooms_empty);
	ng_dict_add_int(d, o, "drop_blocks", (int64_t)s.drop_blocks);
	ng_dict_add_int(d, o, "drop_blocks_used", (int64_t)s.drop_blocks_used);
	ng_dict_add_int(d, o, "drop_blocks_empty", (int64_t)s.drop_blocks_empty);
	drops = ng_dict_add(d, o, "drops", ng_new_dict(d));
	for (unsigned i = 0; i < MG_DROP_REASON_COUNT; i++)
		ng_dict_add_int(d, drops, mg_proto_drop_name(i), (int64_t)s.drops[i]);
	workers = ng_dict_add(d, o, "workers", ng_new_list(d));
	for (unsigned i = 0; i < s.n_workers && i < MG_PROTO_MAX_WORKERS; i++) {
		struct ng_val *w = ng_list_add(workers, ng_new_dict(d));

		ng_dict_add_int(d, w, "lcore", s.workers[i].lcore);
		ng_dict_add_int(d, w, "packets", (int64_t)s.workers[i].packets);
		ng_dict_add_int(d, w, "busy_tsc", (int64_t)s.workers[i].busy_tsc);
		ng_dict_add_int(d, w, "preempted", s.workers[i].preempted);
	}
}

static void on_dp_stats(void *arg, int result, const void *body)
{
	struct cli_req *r = arg;
	struct ng_doc *d = cli_req_doc(r);
	struct ng_val *v = reply_ok(r);

	stats_control(d, v);
	if (result == 0 && body != NULL)
		stats_dataplane(d, v, body);
	else
		ng_dict_add(d, v, "dataplane_error", ng_new_strf(d, "DP_STATS: %s", strerror(-result)));
	cli_req_reply(r, v);
}

static void cmd_stats(struct cli_req *r, const struct ng_val *a)
{
	(void)a;
	if (cc.dp != NULL && dpc_is_up(cc.dp) &&
	    dpc_request(cc.dp, MG_MSG_DP_STATS, NULL, CLI_DP_TIMEOUT_MS, on_dp_stats, r) > 0)
		return;
	on_dp_stats(r, -ENOTCONN, NULL);
}

/* ------------------------------------------------------------ admin */

static void drain_state(struct cli_req *r, struct ng_val *v)
{
	struct ng_doc *d = cli_req_doc(r);

	add_bool(d, v, "draining", calls_draining());
	add_bool(d, v, "exit_at_zero", cc.exit_at_zero);
	ng_dict_add_int(d, v, "calls", calls_active());
	ng_dict_add_int(d, v, "sessions", media_count());
}

static void on_drain_tick(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	(void)arg;
	if (cc.exit_at_zero && calls_draining() && calls_active() == 0 && media_count() == 0) {
		MG_INFO("cli: drained (0 calls, 0 sessions): stopping as asked (drain on --exit)");
		cc.exit_at_zero = false;
		su_root_break(cc.root);
	}
}

static void cmd_drain(struct cli_req *r, const struct ng_val *a)
{
	bool on, ex = false;
	int rc = arg_bool(a, "on", &on);
	struct ng_val *v;

	if (rc == -EINVAL || arg_bool(a, "exit", &ex) == -EINVAL)
		return reply_error(r, "\"on\" and \"exit\" are true or false");
	if (rc == 0) {
		calls_set_drain(on);
		media_set_drain(on);
		cc.exit_at_zero = on && ex;
		if (cc.exit_at_zero && cc.tick == NULL) {
			cc.tick = su_timer_create(su_root_task(cc.root), CLI_DRAIN_TICK_MS);
			if (cc.tick != NULL)
				su_timer_set_for_ever(cc.tick, on_drain_tick, NULL);
		}
	}
	v = reply_ok(r);
	drain_state(r, v);
	cli_req_reply(r, v);
}

static void cmd_maxcalls(struct cli_req *r, const struct ng_val *a)
{
	uint64_t n;
	int rc = arg_uint(a, "value", &n);
	struct ng_val *v;

	if (rc == -EINVAL || (rc == 0 && n > 1000000))
		return reply_error(r, "\"value\" is the number of calls, 0..1000000 (0: no limit)");
	if (rc == 0) {
		calls_set_max_calls((unsigned)n);
		media_set_max_sessions((unsigned)n);
	}
	v = reply_ok(r);
	ng_dict_add_int(cli_req_doc(r), v, "max_calls", calls_max_calls());
	ng_dict_add_int(cli_req_doc(r), v, "calls", calls_active());
	cli_req_reply(r, v);
}

static void cmd_log_level(struct cli_req *r, const struct ng_val *a)
{
	const char *name = ng_dict_str(a, "level");
	enum mg_log_level l;
	struct ng_val *v;

	if (name != NULL) {
		if (mg_log_level_parse(name, &l) < 0)
			return reply_error(r, "log level '%s' unknown (allowed: error, warning, info, debug)",
					   name);
		mg_log_set_level(l);
		MG_INFO("cli: log level %s until the next SIGHUP", mg_log_level_name(l));
	}
	v = reply_ok(r);
	ng_dict_add_str(cli_req_doc(r), v, "level", mg_log_level_name(mg_log_get_level()));
	cli_req_reply(r, v);
}

static void cmd_version(struct cli_req *r, const struct ng_val *a)
{
	struct ng_doc *d = cli_req_doc(r);
	struct ng_val *v = reply_ok(r);

	(void)a;
	ng_dict_add_str(d, v, "software", "mediagate-control " MG_VERSION);
	ng_dict_add_str(d, v, "version", MG_VERSION);
	ng_dict_add_int(d, v, "pid", getpid());
	ng_dict_add_int(d, v, "uptime_s", (int64_t)(time(NULL) - cc.started));
	ng_dict_add_int(d, v, "protocol_version", MG_PROTO_VERSION);
	add_bool(d, v, "dataplane_up", cc.dp != NULL && dpc_is_up(cc.dp));
	cli_req_reply(r, v);
}

/* "ng": {"command": "ng", "request": {NG dict}}: any NG command, run by
 * ng_cmd as if it came over UDP, its reply passed back as it is. */
static void on_ng_reply(void *arg, const struct ng_val *reply)
{
	/* cli_req_reply() encodes at once: the reply may live in the NG doc */
	cli_req_reply(arg, reply);
}

static void cmd_ng(struct cli_req *r, const struct ng_val *a)
{
	const struct ng_val *q = ng_dict_get(a, "request");
	struct ng_buf b = { 0 };
	struct ng_doc *d;
	struct ng_val *copy = NULL;
	struct ng_req *req;
	char why[160];

	if (q == NULL || q->type != NG_DICT || ng_dict_str(q, "command") == NULL)
		return reply_error(r, "give \"request\": an NG command dict with its \"command\"");
	/* the NG request owns its doc: a copy, through the codec */
	d = ng_doc_new();
	if (d == NULL || ng_json_encode(q, &b) < 0 ||
	    ng_json_decode(d, b.p, b.len, NULL, &copy, why, sizeof(why)) < 0) {
		ng_buf_free(&b);
		ng_doc_free(d);
		return reply_error(r, "out of memory");
	}
	ng_buf_free(&b);
	req = ng_req_local(d, on_ng_reply, r);
	if (req == NULL)
		return reply_error(r, "out of memory");
	ng_cmd_handle(NULL, req, copy);
}

/*
 * capture start|stop: {"call": N} (a B2BUA call: its one dataplane session)
 * or {"call-id": "..."} (an NG session: one dataplane session per stream);
 * start also takes "file" (absolute; the dataplane creates it inside its
 * mediagate.dataplane.captureDir) and "decrypted". With several streams,
 * stream k > 0 goes to FILE with "-k" before its extension. One
 * CAPTURE_START/STOP per dataplane session; one reply when all answered.
 */
struct cap_op;
struct cap_item {
	struct cap_op *op;
	uint64_t id;
	int result;
	struct mg_msg_capture_stats st;
	char file[MG_CAPTURE_MAX_PATH];
};
struct cap_op {
	struct cli_req *r;
	bool start;
	unsigned n, pending;
	struct cap_item it[MEDIA_MAX_STREAMS];
};

static void cap_done(struct cap_op *op)
{
	struct ng_doc *d = cli_req_doc(op->r);
	struct ng_val *v, *list;
	unsigned failed = 0;
	int first_err = 0;

	for (unsigned i = 0; i < op->n; i++)
		if (op->it[i].result < 0 && failed++ == 0)
			first_err = op->it[i].result;
	if (failed == op->n) {
		reply_error(op->r, "the dataplane refused capture %s: %s%s", op->start ? "start" : "stop",
			    strerror(-first_err),
			    first_err == -EACCES ? " (the file must be a new file directly in "
						   "mediagate.dataplane.captureDir)"
			    : first_err == -EEXIST ? " (the file exists, or the session is being "
						     "captured already)"
			    : first_err == -ENOENT && !op->start ? " (not being captured)" : "");
		free(op);
		return;
	}
	v = reply_ok(op->r);
	list = ng_dict_add(d, v, "captures", ng_new_list(d));
	for (unsigned i = 0; i < op->n; i++) {
		const struct cap_item *c = &op->it[i];
		struct ng_val *e = ng_list_add(list, ng_new_dict(d)), *drops;

		ng_dict_add_int(d, e, "session", (int64_t)c->id);
		if (op->start)
			ng_dict_add_str(d, e, "file", c->file);
		if (c->result < 0) {
			ng_dict_add_str(d, e, "error", strerror(-c->result));
			continue;
		}
		if (op->start)
			continue;
		ng_dict_add_int(d, e, "packets", (int64_t)c->st.packets);
		ng_dict_add_int(d, e, "bytes", (int64_t)c->st.bytes);
		drops = ng_dict_add(d, e, "drops", ng_new_dict(d));
		ng_dict_add_int(d, drops, "capture_ring_full", (int64_t)c->st.drops_ring_full);
		ng_dict_add_int(d, drops, "capture_no_mbuf", (int64_t)c->st.drops_no_mbuf);
		ng_dict_add_int(d, drops, "capture_write_error", (int64_t)c->st.write_errors);
	}
	if (failed > 0)
		ng_dict_add_int(d, v, "failed", failed);
	cli_req_reply(op->r, v);
	free(op);
}

static void on_capture(void *arg, int result, const void *body)
{
	struct cap_item *c = arg;
	struct cap_op *op = c->op;

	c->result = result;
	if (result == 0 && body != NULL && !op->start)
		memcpy(&c->st, body, sizeof(c->st));
	if (--op->pending == 0)
		cap_done(op);
}

/* FILE for stream 0, FILE with "-k" before the extension for stream k. */
static int cap_file(const char *file, unsigned k, char *out, size_t len)
{
	const char *slash = strrchr(file, '/'), *dot = strrchr(file, '.');
	int n;

	if (k == 0)
		n = snprintf(out, len, "%s", file);
	else if (dot != NULL && dot > slash + 1)
		n = snprintf(out, len, "%.*s-%u%s", (int)(dot - file), file, k, dot);
	else
		n = snprintf(out, len, "%s-%u", file, k);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void cmd_capture(struct cli_req *r, const struct ng_val *a, bool start)
{
	const char *key = ng_dict_str(a, "call-id"), *file = ng_dict_str(a, "file");
	uint64_t ids[MEDIA_MAX_STREAMS], call;
	unsigned n = 0;
	bool decrypted = false;
	struct cap_op *op;
	int rc = arg_uint(a, "call", &call);

	if ((rc == 0) == (key != NULL) || rc == -EINVAL)
		return reply_error(r, "give either \"call\" (a number from calls list) or "
				      "\"call-id\" (an NG session, from sessions)");
	if (start && (file == NULL || file[0] != '/'))
		return reply_error(r, "give \"file\": an absolute path (in the dataplane's "
				      "mediagate.dataplane.captureDir)");
	if (start && arg_bool(a, "decrypted", &decrypted) == -EINVAL)
		return reply_error(r, "\"decrypted\" is true or false");
	if (rc == 0) {
		struct calls_info ci;

		if (call == 0 || call > UINT32_MAX || calls_info_get((unsigned)call, &ci) < 0)
			return reply_error(r, "no call %" PRIu64, call);
		if (ci.session_id == 0 || !ci.session_on)
			return reply_error(r, "call %" PRIu64 " has no media in the dataplane", call);
		ids[n++] = ci.session_id;
	} else {
		const struct media_session *m = media_find(key);

		if (m == NULL)
			return reply_error(r, "no session '%s'", key);
		for (unsigned i = 0; i < m->n_streams && i < MEDIA_MAX_STREAMS; i++)
			if (m->dp[i].id != 0 && m->dp[i].on)
				ids[n++] = m->dp[i].id;
		if (n == 0)
			return reply_error(r, "session '%s' has no media in the dataplane", key);
	}
	if (cc.dp == NULL || !dpc_is_up(cc.dp))
		return reply_error(r, "the dataplane is not connected");
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return reply_error(r, "out of memory");
	op->r = r;
	op->start = start;
	op->n = n;
	for (unsigned i = 0; i < n; i++) {
		op->it[i].op = op;
		op->it[i].id = ids[i];
		if (start && cap_file(file, i, op->it[i].file, sizeof(op->it[i].file)) < 0) {
			free(op);
			return reply_error(r, "\"file\" is too long (at most %d bytes)",
					   MG_CAPTURE_MAX_PATH - 1);
		}
	}
	/* sent only once all are built: a synchronous failure answers at once */
	op->pending = n + 1;
	for (unsigned i = 0; i < n; i++) {
		struct cap_item *c = &op->it[i];
		int64_t q;

		if (start) {
			struct mg_msg_capture m = { .session_id = c->id };

			m.flags = decrypted ? MG_CAPTURE_F_DECRYPTED : 0;
			memcpy(m.path, c->file, sizeof(m.path));
			q = dpc_request(cc.dp, MG_MSG_CAPTURE_START, &m, CLI_DP_TIMEOUT_MS, on_capture, c);
		} else {
			struct mg_msg_session_id m = { .id = c->id };

			q = dpc_request(cc.dp, MG_MSG_CAPTURE_STOP, &m, CLI_DP_TIMEOUT_MS, on_capture, c);
		}
		if (q < 0) {
			c->result = (int)q;
			op->pending--;
		} else if (start) {
			MG_INFO("cli: capture of dataplane session %" PRIu64 " to %s asked", c->id, c->file);
		}
	}
	if (--op->pending == 0)
		cap_done(op);
}

/* ------------------------------------------------------------- ha */

struct ha_op {
	struct cli_req *r;
	unsigned sessions;
	bool promote;
};

static void on_shared(void *arg, int result, const void *body)
{
	struct ha_op *op = arg;
	struct cli_req *r = op->r;
	struct ng_doc *d = cli_req_doc(r);
	struct ha_counters hc;
	struct ng_val *v, *o;

	if (result < 0 && !(result == -ENOENT && !op->promote)) {
		reply_error(r, "dataplane: SHARED_ADDR: %s%s", strerror(-result),
			    result == -ENOENT ? " (no mediagate.dataplane.port.N.sharedAddress)" : "");
		free(op);
		return;
	}
	v = reply_ok(r);
	ha_get_counters(&hc);
	ha_stats(d, v, &hc);
	ng_dict_add_int(d, v, "sessions_taken_over", op->sessions);
	ng_dict_add_int(d, v, "calls_taken_over", hc.calls_taken_over);
	o = ng_dict_add(d, v, "shared_address", ng_new_dict(d));
	if (result == 0 && body != NULL) {
		const struct mg_msg_shared_addr *sa = body;

		add_bool(d, o, "on", sa->on);
		ng_dict_add_int(d, o, "ports", sa->n_ports);
		ng_dict_add_int(d, o, "garps", (int64_t)sa->garps);
	} else {
		add_bool(d, o, "on", false);
		ng_dict_add_int(d, o, "ports", 0);
	}
	cli_req_reply(r, v);
	free(op);
}

/* ha [status] | ha promote | ha release: the standby pair (docs/standby.md) */
static void ha_cmd(struct cli_req *r, bool set, bool on)
{
	struct ha_op *op = calloc(1, sizeof(*op));
	struct mg_msg_shared_addr q;

	if (op == NULL)
		return reply_error(r, "out of memory");
	op->r = r;
	op->promote = set && on;
	/* sessions first: the dataplane takes the address after their
	 * modifies (one connection, in order) */
	if (op->promote && ha_promote(&op->sessions) < 0)
		MG_WARN("ha: promoted, but publishing to Redis did not start");
	memset(&q, 0, sizeof(q));
	q.flags = set ? MG_SHARED_F_SET : 0;
	q.on = on;
	if (cc.dp == NULL || !dpc_is_up(cc.dp) ||
	    dpc_request(cc.dp, MG_MSG_SHARED_ADDR, &q, CLI_DP_TIMEOUT_MS, on_shared, op) <= 0)
		on_shared(op, -ENOTCONN, NULL);
	else if (set)
		MG_INFO("cli: shared media address %s asked", on ? "on (promote)" : "off (release)");
}

static void cmd_ha(struct cli_req *r, const struct ng_val *a)
{
	(void)a;
	ha_cmd(r, false, false);
}

static void cmd_ha_promote(struct cli_req *r, const struct ng_val *a)
{
	(void)a;
	ha_cmd(r, true, true);
}

static void cmd_ha_release(struct cli_req *r, const struct ng_val *a)
{
	(void)a;
	ha_cmd(r, true, false);
}

/* A dead gateway's calls: ended from here (keepalived notify_master). The
 * answer comes once NODE's heartbeat and records are read (asynchronous). */
struct adopt_op {
	struct cli_req *r;
	char node[64];
};

static void on_adopted(void *arg, int rc, const struct ha_adopt_result *res)
{
	struct adopt_op *op = arg;
	struct cli_req *r = op->r;
	struct ng_val *v;

	if (rc < 0) {
		reply_error(r, "ha adopt: %s", res->why);
	} else {
		v = reply_ok(r);
		ng_dict_add_str(cli_req_doc(r), v, "node", op->node);
		ng_dict_add_int(cli_req_doc(r), v, "calls_ended", res->ended);
		ng_dict_add_int(cli_req_doc(r), v, "refused", res->refused);
		ng_dict_add_int(cli_req_doc(r), v, "alive_ttl_ms", res->alive_ttl_ms);
		cli_req_reply(r, v);
	}
	free(op);
}

static void cmd_ha_adopt(struct cli_req *r, const struct ng_val *a)
{
	const char *node = ng_dict_str(a, "node");
	const struct ng_val *f = ng_dict_get(a, "force");
	struct adopt_op *op;
	char why[320];

	if (node == NULL)
		return reply_error(r, "give the dead gateway's \"node\" (its mediagate.redis.node)");
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return reply_error(r, "ha adopt: out of memory");
	op->r = r;
	snprintf(op->node, sizeof(op->node), "%s", node);
	if (ha_adopt_peer(node, ng_dict_str(a, "address"), f != NULL && f->type == NG_INT && f->i != 0, on_adopted,
			  op, why, sizeof(why)) < 0) {
		free(op);
		return reply_error(r, "ha adopt: %s", why);
	}
}

static void cmd_capture_start(struct cli_req *r, const struct ng_val *a)
{
	cmd_capture(r, a, true);
}

static void cmd_capture_stop(struct cli_req *r, const struct ng_val *a)
{
	cmd_capture(r, a, false);
}

static const struct {
	const char *name;
	void (*fn)(struct cli_req *r, const struct ng_val *args);
	const char *help;
} cli_cmds[] = {
	{ .name = "version", .fn = cmd_version, .help = "software, pid, uptime" },
	{ .name = "stats", .fn = cmd_stats, .help = "counters of calls, media, NG, dataplane" },
	{ .name = "calls list", .fn = cmd_calls_list, .help = "B2BUA calls" },
	{ .name = "calls show", .fn = cmd_calls_show, .help = "one call: id" },
	{ .name = "calls terminate", .fn = cmd_calls_terminate, .help = "end a call: id" },
	{ .name = "sessions", .fn = cmd_sessions, .help = "NG media sessions" },
	{ .name = "sessions show", .fn = cmd_session_show, .help = "one session and its counters: call-id" },
	{ .name = "drain", .fn = cmd_drain, .help = "on: true|false, exit: true|false; state" },
	{ .name = "maxcalls", .fn = cmd_maxcalls, .help = "value: N (0 none); current" },
	{ .name = "log level", .fn = cmd_log_level, .help = "level: error|warning|info|debug" },
	{ .name = "ng", .fn = cmd_ng, .help = "request: an NG command dict, its reply as it is" },
	{ .name = "capture start", .fn = cmd_capture_start,
	  .help = "call: N or call-id: S, file: /abs/path (in captureDir), decrypted: true|false" },
	{ .name = "capture stop", .fn = cmd_capture_stop, .help = "call: N or call-id: S" },
	{ .name = "ha", .fn = cmd_ha, .help = "standby pair state" },
	{ .name = "ha promote", .fn = cmd_ha_promote,
	  .help = "take over: pre-installed sessions forward, the shared address is ours" },
	{ .name = "ha release", .fn = cmd_ha_release, .help = "give the shared address up" },
	{ .name = "ha adopt", .fn = cmd_ha_adopt,
	  .help = "node: N[, address: A], a dead gateway's calls: a BYE on each leg, records deleted" },
};

void cli_cmd_handle(struct cli_req *r, const struct ng_val *dict)
{
	const char *cmd = ng_dict_str(dict, "command");
	char names[512];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++) {
		if (ng_key_eq(cmd, strlen(cmd), cli_cmds[i].name)) {
			cli_cmds[i].fn(r, dict);
			return;
		}
		n += (size_t)snprintf(names + n, n < sizeof(names) ? sizeof(names) - n : 0, "%s%s",
				      i ? ", " : "", cli_cmds[i].name);
	}
	reply_error(r, "unknown command '%s' (allowed: %s)", cmd, names);
}

void cli_cmd_start(su_root_t *root, struct dpc *dp)
{
	memset(&cc, 0, sizeof(cc));
	cc.root = root;
	cc.dp = dp;
	cc.started = time(NULL);
}

void cli_cmd_stop(void)
{
	if (cc.tick != NULL)
		su_timer_destroy(cc.tick);
	cc.tick = NULL;
}
