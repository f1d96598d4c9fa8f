/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media of a call in the dataplane, through dpclient: a port per leg
 * (PORT_ALLOC), the session (SESSION_ADD, then SESSION_MODIFY for every later
 * SDP, one request in flight per call), the B-channel binding of a PSTN leg
 * (TDM_BIND), and their removal when the call ends (TDM_UNBIND, SESSION_DEL,
 * PORT_FREE), or later, when the connection is back, for calls that ended
 * while it was down. docs/calls.md, docs/tdm-media.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/url.h>

#include "calls_internal.h"
#include "mg_log.h"
#include "sdp_leg.h"
#ifdef MG_HAVE_PRI
#include "pri_mgr.h"
#endif
/*
 * The dataplane address a leg's media should use: the port address whose
 * subnet holds @remote, else the first address of a port with a next hop,
 * else the dataplane's first address.
 */
void call_pick_local_ip(const char *remote, char *out, size_t len)
{
	const struct mg_settings *s = calls_ce.s;
	uint8_t r[16];
	bool have = remote != NULL && inet_pton(AF_INET, remote, r) == 1;

	out[0] = '\0';
	for (unsigned p = 0; have && p < s->n_ports; p++) {
		for (unsigned a = 0; a < s->ports[p].n_addrs; a++) {
			const struct mg_cidr *ci = &s->ports[p].addrs[a];
			uint32_t net, rem, mask;

			if (ci->family != AF_INET)
				continue;
			memcpy(&net, ci->addr, 4);
			memcpy(&rem, r, 4);
			mask = ci->prefix_len == 0 ? 0 : htonl(~0u << (32 - ci->prefix_len));
			if ((net & mask) == (rem & mask)) {
				inet_ntop(AF_INET, ci->addr, out, (socklen_t)len);
				return;
			}
		}
	}
	for (unsigned p = 0; p < s->n_ports; p++)
		if (s->ports[p].nexthop.family == AF_INET && s->ports[p].n_addrs > 0 &&
		    s->ports[p].addrs[0].family == AF_INET) {
			inet_ntop(AF_INET, s->ports[p].addrs[0].addr, out, (socklen_t)len);
			return;
		}
	if (s->n_ports > 0 && s->ports[0].n_addrs > 0 && s->ports[0].addrs[0].family == AF_INET)
		inet_ntop(AF_INET, s->ports[0].addrs[0].addr, out, (socklen_t)len);
}

/* The host of @uri ("" if none). */
static void url_host_of(const char *uri, char *out, size_t len)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	url_t *u = url_make(home, uri);

	snprintf(out, len, "%s", u && u->url_host ? u->url_host : "");
	su_home_deinit(home);
}

/* One leg of the session from its last negotiation. */
static int session_leg(const struct call *c, unsigned li, bool rekey, struct mg_msg_leg *l)
{
	const struct call_leg *g = &c->leg[li];
	const struct sdp_result *n = leg_neg(g);
	int rc;

	memset(l, 0, sizeof(*l));
	l->local = g->port.local;
	if (g->pstn) {
		/* The TDM side (docs/tdm-media.md): our port, plain, latching;
		 * the dataplane's TDM thread injects its packets there. */
		l->source_policy = MG_SOURCE_LATCH;
		return 0;
	}
	/* Remote side, rtcp-mux and keys (the call's policy negotiates with
	 * max_keys = 1, the one key per direction the wire carries). */
	rc = sdp_result_to_leg(n, l);
	if (rc < 0)
		return rc;
	if (!rekey) {
		/* The ROC restarts only at the push that follows the re-key. */
		l->rx.flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
		l->tx.flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
	}
	l->source_policy = calls_ce.lock_on_sdp ? MG_SOURCE_STRICT : MG_SOURCE_LATCH;
	/* RFC 3960: every address an 18x named stays an allowed source of the
	 * callee's leg; the first that sends wins (the dataplane then sends to
	 * it). Until the final answer, early media goes to the first known
	 * source (SPEC 5), not to the fork that answered last: that one becomes
	 * a candidate like the others. */
	if (li == 1) {
		struct mg_msg_addr latest = l->remote;
		bool first = false;

		if (calls_ce.lock_on_sdp && c->leg[1].state != LEG_ANSWERED && c->n_cand > 1 &&
		    (c->cand[0].port != l->remote.port ||
		     memcmp(c->cand[0].addr, l->remote.addr, 16) != 0)) {
			l->remote = c->cand[0];
			l->remote_rtcp_port = 0; /* its RTP port + 1 (or the same with mux) */
			first = true;
		}
		if (first)
			l->candidates[l->n_candidates++] = latest;
		for (unsigned i = 0; i < c->n_cand && l->n_candidates < MG_PROTO_MAX_CANDIDATES; i++) {
			if ((c->cand[i].port == l->remote.port &&
			     memcmp(c->cand[i].addr, l->remote.addr, 16) == 0) ||
			    (first && c->cand[i].port == latest.port &&
			     memcmp(c->cand[i].addr, latest.addr, 16) == 0))
				continue;
			l->candidates[l->n_candidates++] = c->cand[i];
		}
	}
	return 0;
}

/* Tell leg 0 what waited for the session (or the binding): an 18x or the
 * answer; the answer makes the call answered (active: a PSTN caller sends
 * no ACK). */
void call_relay_pending(struct call *c)
{
	if (c->relay_status != 0) {
		int st = c->relay_status;

		c->relay_status = 0;
		call_relay0(c, st, c->relay_sdp);
		if (st >= 200 && st < 300) {
			call_set_state(c, CALL_ANSWERED);
			calls_ce.cnt.answered++;
			c->leg[0].mt_since_ms = c->leg[1].mt_since_ms = calls_now_ms();
			/* No ACK comes from a PSTN caller. */
			if (c->leg[0].pstn) {
				call_set_state(c, CALL_ACTIVE);
				MG_INFO("call %u: active", c->id);
			}
		}
	}
}

#ifdef MG_HAVE_PRI
static void on_bind_reply(void *arg, int result, const void *body)
{
	struct call *c = arg;
	unsigned pl = c->leg[0].pstn ? 0 : 1;

	(void)body;
	c->pending--;
	if (result == 0 || result == -ENOTCONN || result == -ETIMEDOUT)
		c->leg[pl].bound = true; /* unbound (or retried) at the end */
	if (c->state == CALL_ENDING) {
		call_dp_cleanup(c);
		call_maybe_free(c);
		return;
	}
	if (result < 0) {
		call_end(c, 503, "Service Unavailable", "dataplane refused TDM_BIND of channel %u: %s",
			 c->leg[pl].channo, strerror(-result));
		return;
	}
	MG_INFO("call %u: channel %u bound to session %llu", c->id, c->leg[pl].channo,
		(unsigned long long)c->sess_id);
	call_relay_pending(c);
}

/* Bind the PSTN leg's B-channel to the session, once (docs/tdm-media.md). */
static bool call_bind_tdm(struct call *c)
{
	unsigned pl = c->leg[0].pstn ? 0 : c->leg[1].pstn ? 1 : 2;
	struct mg_msg_tdm_bind b;
	const struct sdp_result *n;
	int64_t id;

	if (pl == 2 || c->leg[pl].bound)
		return false;
	n = leg_neg(&c->leg[pl ^ 1]);
	memset(&b, 0, sizeof(b));
	b.session_id = c->sess_id;
	b.channo = c->leg[pl].channo;
	b.leg = (uint8_t)(pl ^ 1); /* the leg facing the RTP peer */
	b.law = n->n_pts > 0 && strcasecmp(n->pts[0].name, "PCMA") == 0 ? 1 : 0;
	b.pt = n->n_pts > 0 ? n->pts[0].pt : 0;
	b.event_pt = n->telephone_event_pt >= 96 && n->telephone_event_pt <= 127 ?
			     (uint8_t)n->telephone_event_pt : 0;
	b.ssrc = (uint32_t)random() ^ (uint32_t)c->sess_id;
	id = calls_io->dp_request(calls_ce.dp, MG_MSG_TDM_BIND, &b, CALL_DP_TIMEOUT_MS, on_bind_reply, c);
	if (id < 0) {
		call_end(c, 503, "Service Unavailable", "dataplane: TDM_BIND: %s", strerror((int)-id));
		return true;
	}
	c->pending++;
	return true;
}
#endif

static void on_session_reply(void *arg, int result, const void *body)
{
	struct call *c = arg;

	(void)body;
	c->pending--;
	c->session_busy = false;
	/* No answer: the dataplane may have installed it; a DEL costs nothing. */
	if (result == 0 || result == -ENOTCONN || result == -ETIMEDOUT)
		c->session_on = true;
	if (c->state == CALL_ENDING) {
		call_dp_cleanup(c);
		call_maybe_free(c);
		return;
	}
	if (result < 0) {
		call_end(c, 503, "Service Unavailable",
			 "dataplane refused the media session: %s", strerror(-result));
		return;
	}
	c->session_on = true;
	if (c->session_again) {
		/* A later 18x/2xx or re-INVITE changed the session meanwhile. */
		c->session_again = false;
		call_session_push(c, -1);
		return;
	}
#ifdef MG_HAVE_PRI
	if (call_bind_tdm(c))
		return; /* relayed once the channel is bound */
#endif
	call_relay_pending(c);
}

/*
 * Install (first time) or replace the session, then relay what waits.
 * @rekey_leg: the leg whose re-INVITE just changed keys (its ROC restarts),
 * -1 for none.
 */
void call_session_push(struct call *c, int rekey_leg)
{
	struct mg_msg_session m;
	unsigned rekey;
	int64_t id;

	if (rekey_leg >= 0)
		c->rekey_mask |= 1u << rekey_leg;
	/* One request at a time per session: a second ADD would be refused,
	 * and MODIFYs must reach the dataplane in order. */
	if (c->session_busy) {
		c->session_again = true;
		return;
	}
	rekey = c->rekey_mask;
	c->rekey_mask = 0;
	memset(&m, 0, sizeof(m));
	m.id = c->sess_id;
	if (session_leg(c, 0, rekey & 1u, &m.legs[0]) < 0 ||
	    session_leg(c, 1, rekey & 2u, &m.legs[1]) < 0) {
		call_end(c, 500, "Server Internal Error", "negotiated keys do not fit the dataplane");
		return;
	}
	{
		char a0[64], a1[64];

		MG_INFO("call %u: %s %llu%s: caller %s %s, callee %s %s, %u extra source%s%s%s", c->id,
			c->session_on ? "SESSION_MODIFY" : "SESSION_ADD", (unsigned long long)c->sess_id,
			c->relay_status > 100 && c->relay_status < 200 ? " (early media)" : "",
			c->leg[0].pstn ? "TDM" : mg_proto_addr_str(&m.legs[0].remote, a0, sizeof(a0)),
			c->leg[0].pstn ? "channel" : leg_neg(&c->leg[0])->srtp ? "SRTP" : "RTP",
			c->leg[1].pstn ? "TDM" : mg_proto_addr_str(&m.legs[1].remote, a1, sizeof(a1)),
			c->leg[1].pstn ? "channel" : leg_neg(&c->leg[1])->srtp ? "SRTP" : "RTP", m.legs[1].n_candidates,
			m.legs[1].n_candidates == 1 ? "" : "s",
			(m.legs[0].rx.flags | m.legs[1].rx.flags) & MG_CRYPTO_F_ROC_RESET ? ", rx ROC reset" : "",
			(m.legs[0].tx.flags | m.legs[1].tx.flags) & MG_CRYPTO_F_ROC_RESET ? ", tx ROC reset" : "");
	}
	id = calls_io->dp_request(calls_ce.dp, c->session_on ? MG_MSG_SESSION_MODIFY : MG_MSG_SESSION_ADD, &m,
			 CALL_DP_TIMEOUT_MS, on_session_reply, c);
	if (id < 0) {
		call_end(c, 503, "Service Unavailable", "dataplane: %s%s%s", strerror((int)-id),
			 id == -EINVAL ? ": " : "", id == -EINVAL ? mg_proto_last_error() : "");
		return;
	}
	c->pending++;
	c->session_busy = true;
}

static void on_del_reply(void *arg, int result, const void *body)
{
	struct call *c = arg;
	const struct mg_msg_session_stats *st = body;

	c->pending--;
	if (result == 0 && st != NULL) {
		char drops[256] = "";
		size_t n = 0;

		for (unsigned li = 0; li < 2; li++)
			for (unsigned d = 0; d < 2; d++)
				for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
					if (st->legs[li][d].drops[r] && n < sizeof(drops))
						n += (size_t)snprintf(drops + n, sizeof(drops) - n,
								      " leg%u.%s.%s=%llu", li,
								      d ? "tx" : "rx", mg_proto_drop_name(r),
								      (unsigned long long)st->legs[li][d].drops[r]);
		MG_INFO("call %u: session %llu removed: caller->gw %llu, gw->callee %llu, "
			"callee->gw %llu, gw->caller %llu packets; drops:%s",
			c->id, (unsigned long long)c->sess_id,
			(unsigned long long)st->legs[0][0].packets,
			(unsigned long long)st->legs[1][1].packets,
			(unsigned long long)st->legs[1][0].packets,
			(unsigned long long)st->legs[0][1].packets, drops[0] ? drops : " none");
	} else if (result < 0 && result != -ENOTCONN && result != -ECANCELED) {
		MG_WARN("call %u: SESSION_DEL %llu: %s", c->id, (unsigned long long)c->sess_id,
			strerror(-result));
	}
	if (result != -ENOTCONN && result != -ETIMEDOUT)
		c->session_on = false; /* else the DEL is retried when the connection is back */
	call_dp_cleanup(c);
	call_maybe_free(c);
}

static void on_free_reply(void *arg, int result, const void *body)
{
	struct call *c = arg;

	(void)body;
	if (result < 0 && result != -ENOTCONN && result != -ECANCELED)
		MG_WARN("call %u: PORT_FREE: %s", c->id, strerror(-result));
	c->pending--;
	call_maybe_free(c);
}

/* Move what the dataplane may still hold for @c to the orphan list. */
void call_orphan(struct call *c)
{
	struct calls_orphan o;

	memset(&o, 0, sizeof(o));
	if (c->session_on)
		o.sess_id = c->sess_id;
	for (unsigned li = 0; li < 2; li++) {
		if (c->leg[li].bound)
			o.channo[li] = c->leg[li].channo;
		o.port[li] = c->leg[li].port;
		o.port_ok[li] = c->leg[li].port_ok;
		c->leg[li].bound = false;
		c->leg[li].port_ok = false;
	}
	c->session_on = false;
	if (o.sess_id == 0 && !o.port_ok[0] && !o.port_ok[1] && !o.channo[0] && !o.channo[1])
		return;
	if (calls_ce.n_orphans == calls_ce.cap_orphans) {
		unsigned cap = calls_ce.cap_orphans ? calls_ce.cap_orphans * 2 : 16;
		struct calls_orphan *n = realloc(calls_ce.orphans, cap * sizeof(*n));

		if (n == NULL) {
			MG_WARN("call %u: out of memory: session %llu may stay in the dataplane", c->id,
				(unsigned long long)c->sess_id);
			return;
		}
		calls_ce.orphans = n;
		calls_ce.cap_orphans = cap;
	}
	calls_ce.orphans[calls_ce.n_orphans++] = o;
}

static void on_orphan_reply(void *arg, int result, const void *body)
{
	(void)arg;
	(void)result;
	(void)body;
}

/* The connection is back: remove what calls that ended meanwhile left. */
void calls_orphans_clean(void)
{
	unsigned kept = 0, sent = 0;

	for (unsigned i = 0; i < calls_ce.n_orphans; i++) {
		struct calls_orphan *o = &calls_ce.orphans[i];
		struct mg_msg_session_id sid = { .id = o->sess_id };
		bool ok = true;

#ifdef MG_HAVE_PRI
		for (unsigned li = 0; li < 2; li++) {
			struct mg_msg_tdm_chan ch = { .channo = o->channo[li] };

			if (o->channo[li] != 0)
				ok &= calls_io->dp_request(calls_ce.dp, MG_MSG_TDM_UNBIND, &ch, CALL_DP_TIMEOUT_MS,
						  on_orphan_reply, NULL) > 0;
		}
#endif
		if (o->sess_id != 0)
			ok &= calls_io->dp_request(calls_ce.dp, MG_MSG_SESSION_DEL, &sid, CALL_DP_TIMEOUT_MS,
					  on_orphan_reply, NULL) > 0;
		for (unsigned li = 0; li < 2; li++)
			if (o->port_ok[li])
				ok &= calls_io->dp_request(calls_ce.dp, MG_MSG_PORT_FREE, &o->port[li], CALL_DP_TIMEOUT_MS,
						  on_orphan_reply, NULL) > 0;
		if (ok)
			sent++;
		else
			calls_ce.orphans[kept++] = *o; /* down again: next time */
	}
	if (sent)
		MG_INFO("calls: dataplane back: removed what %u call(s) ended meanwhile left there",
			sent);
	calls_ce.n_orphans = kept;
}

/* Shutdown: what is left on the list stays in the dataplane. */
void calls_orphans_release(void)
{
	if (calls_ce.n_orphans)
		MG_WARN("calls: %u ended call(s) may have left sessions or ports in the dataplane (connection down)",
			calls_ce.n_orphans);
	free(calls_ce.orphans);
	calls_ce.orphans = NULL;
	calls_ce.n_orphans = calls_ce.cap_orphans = 0;
}

#ifdef MG_HAVE_PRI
static void on_unbind_reply(void *arg, int result, const void *body)
{
	struct call *c = arg;
	const struct mg_msg_tdm_stats *st = body;

	c->pending--;
	if (result == 0 && st != NULL)
		MG_INFO("call %u: channel %u unbound: %llu frames from TDM, %llu RTP out, %llu RTP in, "
			"%llu frames to TDM, %llu concealed, %llu drops", c->id, st->channo,
			(unsigned long long)st->tdm_frames_in, (unsigned long long)st->rtp_audio_out,
			(unsigned long long)st->rtp_in, (unsigned long long)st->tdm_frames_out,
			(unsigned long long)st->concealed, (unsigned long long)st->drops);
	call_dp_cleanup(c);
	call_maybe_free(c);
}
#endif

void call_dp_cleanup(struct call *c)
{
	if (c->pending > 0)
		return;
	if (!calls_io->dp_is_up(calls_ce.dp)) {
		call_orphan(c);
		return;
	}
#ifdef MG_HAVE_PRI
	/* SESSION_DEL does not unbind a channel (docs/tdm-media.md). */
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];
		struct mg_msg_tdm_chan ch = { .channo = g->channo };

		if (!g->bound)
			continue;
		g->bound = false;
		if (calls_io->dp_is_up(calls_ce.dp) &&
		    calls_io->dp_request(calls_ce.dp, MG_MSG_TDM_UNBIND, &ch, CALL_DP_TIMEOUT_MS, on_unbind_reply, c) > 0) {
			c->pending++;
			return;
		}
	}
#endif
	if (c->session_on && calls_io->dp_is_up(calls_ce.dp)) {
		struct mg_msg_session_id sid = { .id = c->sess_id };

		if (calls_io->dp_request(calls_ce.dp, MG_MSG_SESSION_DEL, &sid, CALL_DP_TIMEOUT_MS, on_del_reply, c) > 0) {
			c->pending++;
			return;
		}
	}
	c->session_on = false;
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];

		if (!g->port_ok)
			continue;
		g->port_ok = false;
		if (calls_io->dp_is_up(calls_ce.dp) &&
		    calls_io->dp_request(calls_ce.dp, MG_MSG_PORT_FREE, &g->port, CALL_DP_TIMEOUT_MS, on_free_reply, c) > 0)
			c->pending++;
	}
}

static void port_reply(struct call *c, unsigned li, int result, const void *body)
{
	c->pending--;
	if (result == 0 && body != NULL) {
		c->leg[li].port = *(const struct mg_msg_port *)body;
		c->leg[li].port_ok = true;
	}
	if (result < 0 && c->state != CALL_ENDING)
		call_end(c, 503, "Service Unavailable", "dataplane: no media port: %s",
			 strerror(-result));
	if (c->state == CALL_ENDING) {
		call_maybe_free(c);
		return;
	}
	if (c->pending > 0)
		return;
	/* Both ports: the caller's answer is ready, the callee gets the offer
	 * (late offer: the caller gets an offer of ours once the callee answered). */
	if (leg_ops(c, 0)->ports_ready(c) < 0)
		return;
	leg_ops(c, 1)->place(c);
}

static void on_port0_reply(void *arg, int result, const void *body)
{
	port_reply(arg, 0, result, body);
}

static void on_port1_reply(void *arg, int result, const void *body)
{
	port_reply(arg, 1, result, body);
}

/* PORT_ALLOC for both legs; the replies go on in port_reply(). */
void call_alloc_ports(struct call *c)
{
	struct mg_msg_port_alloc pa;

	if (!c->leg[1].pstn) {
		char host[128];

		url_host_of(route_result_get(&c->route, "sip.out.requestUri"), host, sizeof(host));
		call_pick_local_ip(host, c->leg[1].local_ip, sizeof(c->leg[1].local_ip));
	} else {
		call_pick_local_ip(NULL, c->leg[1].local_ip, sizeof(c->leg[1].local_ip));
	}
	if (c->leg[0].pstn)
		call_pick_local_ip(NULL, c->leg[0].local_ip, sizeof(c->leg[0].local_ip));
	for (unsigned li = 0; li < 2; li++) {
		memset(&pa, 0, sizeof(pa));
		if (mg_proto_addr_parse(c->leg[li].local_ip[0] ? c->leg[li].local_ip : "0.0.0.0",
					&pa.local) < 0)
			pa.local.family = MG_FAMILY_IPV4;
		pa.local.port = 0;
		int64_t id = calls_io->dp_request(calls_ce.dp, MG_MSG_PORT_ALLOC, &pa, CALL_DP_TIMEOUT_MS,
					 li == 0 ? on_port0_reply : on_port1_reply, c);

		if (id < 0) {
			call_end(c, 503, "Service Unavailable", "dataplane: %s", strerror((int)-id));
			return;
		}
		c->pending++;
	}
}

