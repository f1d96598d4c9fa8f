/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Call engine (B2BUA). Leg 0 is the caller (the INVITE we received), leg 1
 * the callee (the INVITE we send). Everything runs on the one su_root: SIP
 * events arrive through the sipua hook, dataplane answers through dpclient
 * callbacks. A call is freed only when both SIP handles are gone and no
 * dataplane request is outstanding, so no callback ever sees a freed call;
 * a guard timer forces the release if a peer never finishes. docs/calls.md.
 */
#include "calls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/url.h>

#include "mg_log.h"
#include "mg_proto.h"
#include "route.h"
#include "sdp_leg.h"
#include "sdp_neg.h"
#include "sipua.h"
#ifdef MG_HAVE_PRI
#include "mg_tdm_cause.h"
#include "pri_mgr.h"
#endif

#define CALL_GUARD_MS 40000     /* a finished call is released by then at the latest */
#define CALL_DP_TIMEOUT_MS 2000 /* per dataplane request */
#define CALL_AGENT "mediagate"

enum call_state {
	CALL_ROUTING,   /* ports being allocated */
	CALL_OUTGOING,  /* INVITE sent to the callee */
	CALL_EARLY,     /* callee sent 18x */
	CALL_ANSWERED,  /* 2xx sent to the caller, waiting for ACK */
	CALL_ACTIVE,    /* ACK received */
	CALL_ENDING,    /* hanging up both legs and the dataplane */
};

static const char *const call_state_names[] = { "routing", "outgoing", "early", "answered",
						  "active", "ending" };

struct call_leg {
	bool pstn;                   /* an ISDN call (pri_mgr), not a SIP dialog */
	struct pri_call *pc;         /* PSTN: the call while it exists */
	unsigned channo;             /* PSTN: its B-channel (DAHDI channel) */
	bool bound;                  /* PSTN: TDM_BIND acknowledged */
	nua_handle_t *nh;
	unsigned ua;                 /* sipua index */
	bool gone;                   /* handle terminated or never existed */
	bool final_sent;             /* leg 0: final answer sent */
	bool bye_rx;                 /* the peer sent BYE (do not send one back) */
	int final_status;            /* leg 1: final answer received (0 none) */
	bool port_ok;
	struct mg_msg_port port;
	bool neg_ok;
	struct sdp_result *neg;      /* last negotiation of this leg (sdp_result_keep(): the
					text only as long as it is), NULL before; read it
					through leg_neg() */
	bool reinv_out;              /* our re-INVITE on this leg awaits its answer */
	bool want_hold, sent_hold;   /* hold state the other leg asked for / we offered */
	struct sdp_result *reoffer;  /* that re-INVITE's offer, kept while it is out */
	struct sdp_result *ack_offer; /* the offer in our 2xx to an INVITE without SDP:
					 its answer is due in the ACK (heap: rare) */
	bool ack_first;              /* ...and it is the late offer of the call itself */
	char local_ip[64];
	char contact[320];
	uint64_t sent_version;       /* highest o= version offered on this leg (RFC 3264 8) */
	/* media timeout: accepted rx packets at the last change, and when */
	uint64_t mt_rx;
	uint64_t mt_since_ms;
};

struct call {
	struct call *next;
	unsigned id;
	uint64_t sess_id;
	enum call_state state;
	int pending;                 /* dataplane requests outstanding */
	bool session_on;             /* SESSION_ADD succeeded */
	bool session_busy;           /* SESSION_ADD/MODIFY in flight */
	bool session_again;          /* newer SDP arrived meanwhile: push again */
	unsigned rekey_mask;         /* legs (bit) whose ROC restarts at the next push */
	bool session_wanted_del;
	bool dp_cleanup_started;
	bool freeing;
	struct call_leg leg[2];
	struct sdp_result *offer1;   /* our offer to leg 1 as sent (kept; each answer completes
					a copy) */
	struct mg_msg_addr cand[MG_PROTO_MAX_CANDIDATES]; /* RFC 3960 sources seen in 18x */
	unsigned n_cand;
	/* What leg 0 gets once the session change in flight is acknowledged. */
	int relay_status;
	bool relay_sdp;
	struct sdp_policy pol;       /* shared parts of the SDP policy */
	struct route_result route;
	bool routed;
	char *offer0;                /* the caller's SDP, until it is answered */
	bool late;                   /* the caller's INVITE had no SDP (late offer) */
	bool ringing_sent;           /* late offer: 180 relayed (once) */
	char bye_reason[200];        /* Reason header of the BYEs call_end() sends, "" none */
	size_t offer0_len;
	char why[160];               /* how it ended, for the log */
	bool overload;               /* refused by maxCalls: 503 + Retry-After, cause 42 */
	char warn[320];              /* Warning for the caller's error answer ("" = from why) */
	char from0_user[128];        /* caller's From, the default From of the out leg */
	char from0_name[128];
	char gw_host[64];            /* GW_HOST_IP of this call */
	su_timer_t *guard;
	time_t started;
	bool stats_busy;             /* media timeout: SESSION_STATS in flight */
	uint64_t stats_last_ms;      /* when it was sent */
};

/*
 * Dataplane state of calls that ended while the connection was down. If the
 * dataplane itself survived (a dropped connection, not a restart), their
 * sessions, bindings and ports are still there: they are removed as soon as
 * the connection is back (errors, e.g. ENOENT after a restart, are fine).
 */
struct orphan {
	uint64_t sess_id;            /* 0: none */
	uint32_t channo[2];          /* bound B-channels, 0: none */
	struct mg_msg_port port[2];
	bool port_ok[2];
};

static struct {
	su_root_t *root;
	const struct mg_settings *s;
	struct dpc *dp;
	struct route_set routes;
	struct call *calls;
	unsigned n_calls;
	unsigned next_id;
	uint64_t sess_base;
	struct pri_mgr *pri;
	struct orphan *orphans;
	unsigned n_orphans, cap_orphans;
	struct calls_counters cnt;
	bool stopping;
	unsigned max_calls;     /* mediagate.calls.maxCalls (SIGHUP reloads it) */
	unsigned retry_after_s; /* mediagate.calls.retryAfter */
	unsigned media_timeout_s; /* mediagate.calls.mediaTimeout, 0 = off */
	bool lock_on_sdp;       /* netborder.media.rtp.lockOnSDP (SIGHUP reloads) */
	su_timer_t *mt_timer;   /* 1 s tick of the media timeout */
} ce;

static void call_end(struct call *c, int status, const char *phrase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}
static void call_maybe_free(struct call *c);
static void call_dp_cleanup(struct call *c);
static void session_push(struct call *c, int rekey_leg);

/* ------------------------------------------------------------ helpers */

static bool call_is_known(const struct call *c)
{
	for (const struct call *i = ce.calls; i != NULL; i = i->next)
		if (i == c)
			return true;
	return false;
}

static const char *transport_name(enum mg_transport t)
{
	return t == MG_TRANSPORT_UDP ? "udp" : t == MG_TRANSPORT_TCP ? "tcp" : "tls";
}

/*
 * The dataplane address a leg's media should use: the port address whose
 * subnet holds @remote, else the first address of a port with a next hop,
 * else the dataplane's first address.
 */
static void pick_local_ip(const char *remote, char *out, size_t len)
{
	const struct mg_settings *s = ce.s;
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

/* SRTP mode and suites from the configuration; the dataplane wire carries
 * one master key per direction, so a=crypto lines with several (MKI) are
 * not chosen, and the dataplane relays IPv4 only. */
static void call_policy_init(struct call *c)
{
	sdp_policy_from_settings(ce.s, &c->pol);
	c->pol.max_keys = 1;
	c->pol.ipv4_only = true;
}

/* Number a fresh (zeroed) offered call, put it on the list and count it;
 * its outgoing leg stays gone until an INVITE or SETUP goes out. */
static void call_link(struct call *c)
{
	c->id = ++ce.next_id;
	c->sess_id = ce.sess_base + c->id;
	c->started = time(NULL);
	c->next = ce.calls;
	ce.calls = c;
	ce.n_calls++;
	ce.cnt.offered++;
	c->leg[1].gone = true;
	call_policy_init(c);
}

/* A leg's last negotiation; all zero (nothing agreed) before the first. */
static const struct sdp_result *leg_neg(const struct call_leg *g)
{
	static const struct sdp_result none;

	return g->neg != NULL ? g->neg : &none;
}

/* Keep @p r as leg @p g's last negotiation, in a heap copy cut to its SDP
 * text (a held call keeps two: the full struct is mostly the 4 kB text
 * buffer). The previous one is wiped. */
static int leg_set_neg(struct call_leg *g, const struct sdp_result *r)
{
	struct sdp_result *k = sdp_result_keep(r);

	if (k == NULL)
		return -ENOMEM;
	sdp_result_free(g->neg);
	g->neg = k;
	g->neg_ok = true;
	return 0;
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
	l->source_policy = ce.lock_on_sdp ? MG_SOURCE_STRICT : MG_SOURCE_LATCH;
	/* RFC 3960: every address an 18x named stays an allowed source of the
	 * callee's leg; the first that sends wins (the dataplane then sends to
	 * it). Until the final answer, early media goes to the first known
	 * source (SPEC 5), not to the fork that answered last: that one becomes
	 * a candidate like the others. */
	if (li == 1) {
		struct mg_msg_addr latest = l->remote;
		bool first = false;

		if (ce.lock_on_sdp && c->leg[1].final_status < 200 && c->n_cand > 1 &&
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

/*
 * nua_respond() queues the answer to the nua stack with the phrase pointer,
 * not a copy: only static strings may go there. The standard phrase of the
 * status is used, whatever phrase a relayed response carried.
 */
static const char *static_phrase(int status)
{
	const char *p = sip_status_phrase(status);

	return p != NULL ? p : status < 200 ? "Call Progress" : "Unknown";
}

static void respond0(struct call *c, int status, const char *warning, bool with_sdp)
{
	struct call_leg *g = &c->leg[0];
	char retry[16];
	bool with_retry = c->overload && status == 503 && ce.retry_after_s > 0;

	if (g->nh == NULL || g->final_sent || g->gone)
		return;
	if (status >= 200)
		g->final_sent = true;
	snprintf(retry, sizeof(retry), "%u", ce.retry_after_s);
	/* Late offer: the 2xx carries our offer, not an answer. */
	nua_respond(g->nh, status, static_phrase(status), SIPTAG_CONTACT_STR(g->contact),
		    TAG_IF(warning != NULL, SIPTAG_WARNING_STR(warning)),
		    TAG_IF(with_retry, SIPTAG_RETRY_AFTER_STR(retry)),
		    TAG_IF(with_sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		    TAG_IF(with_sdp, SIPTAG_PAYLOAD_STR(g->ack_offer ? g->ack_offer->sdp : leg_neg(g)->sdp)),
		    TAG_END());
}

/*
 * Tell leg 0 how the call progresses: a SIP answer, or for a PSTN caller
 * the ISDN message that means the same (180 ALERTING, 183 with media
 * PROGRESS, 2xx CONNECT).
 */
static void relay0(struct call *c, int status, bool with_sdp)
{
#ifdef MG_HAVE_PRI
	struct call_leg *a = &c->leg[0];

	if (a->pstn) {
		if (a->pc == NULL)
			return;
		if (status >= 200 && status < 300)
			pri_call_answer(a->pc);
		else if (status == 180)
			pri_call_alerting(a->pc, with_sdp);
		else if (status > 100 && status < 200 && with_sdp)
			pri_call_progress(a->pc);
		return;
	}
#endif
	respond0(c, status, NULL, with_sdp);
}

/* ------------------------------------------------------------ dataplane */

static void call_relay_pending(struct call *c)
{
	if (c->relay_status != 0) {
		int st = c->relay_status;

		c->relay_status = 0;
		relay0(c, st, c->relay_sdp);
		if (st >= 200 && st < 300) {
			c->state = CALL_ANSWERED;
			ce.cnt.answered++;
			c->leg[0].mt_since_ms = c->leg[1].mt_since_ms = now_ms();
			/* No ACK comes from a PSTN caller. */
			if (c->leg[0].pstn) {
				c->state = CALL_ACTIVE;
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
	id = dpc_request(ce.dp, MG_MSG_TDM_BIND, &b, CALL_DP_TIMEOUT_MS, on_bind_reply, c);
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
		session_push(c, -1);
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
static void session_push(struct call *c, int rekey_leg)
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
	id = dpc_request(ce.dp, c->session_on ? MG_MSG_SESSION_MODIFY : MG_MSG_SESSION_ADD, &m,
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

/* Delete the session, then free the ports; runs again after each reply. */
/* Move what the dataplane may still hold for @c to the orphan list. */
static void call_orphan(struct call *c)
{
	struct orphan o;

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
	if (ce.n_orphans == ce.cap_orphans) {
		unsigned cap = ce.cap_orphans ? ce.cap_orphans * 2 : 16;
		struct orphan *n = realloc(ce.orphans, cap * sizeof(*n));

		if (n == NULL) {
			MG_WARN("call %u: out of memory: session %llu may stay in the dataplane", c->id,
				(unsigned long long)c->sess_id);
			return;
		}
		ce.orphans = n;
		ce.cap_orphans = cap;
	}
	ce.orphans[ce.n_orphans++] = o;
}

static void on_orphan_reply(void *arg, int result, const void *body)
{
	(void)arg;
	(void)result;
	(void)body;
}

/* The connection is back: remove what calls that ended meanwhile left. */
static void calls_orphans_clean(void)
{
	unsigned kept = 0, sent = 0;

	for (unsigned i = 0; i < ce.n_orphans; i++) {
		struct orphan *o = &ce.orphans[i];
		struct mg_msg_session_id sid = { .id = o->sess_id };
		bool ok = true;

#ifdef MG_HAVE_PRI
		for (unsigned li = 0; li < 2; li++) {
			struct mg_msg_tdm_chan ch = { .channo = o->channo[li] };

			if (o->channo[li] != 0)
				ok &= dpc_request(ce.dp, MG_MSG_TDM_UNBIND, &ch, CALL_DP_TIMEOUT_MS,
						  on_orphan_reply, NULL) > 0;
		}
#endif
		if (o->sess_id != 0)
			ok &= dpc_request(ce.dp, MG_MSG_SESSION_DEL, &sid, CALL_DP_TIMEOUT_MS,
					  on_orphan_reply, NULL) > 0;
		for (unsigned li = 0; li < 2; li++)
			if (o->port_ok[li])
				ok &= dpc_request(ce.dp, MG_MSG_PORT_FREE, &o->port[li], CALL_DP_TIMEOUT_MS,
						  on_orphan_reply, NULL) > 0;
		if (ok)
			sent++;
		else
			ce.orphans[kept++] = *o; /* down again: next time */
	}
	if (sent)
		MG_INFO("calls: dataplane back: removed what %u call(s) ended meanwhile left there",
			sent);
	ce.n_orphans = kept;
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

static void call_dp_cleanup(struct call *c)
{
	if (c->pending > 0)
		return;
	if (!dpc_is_up(ce.dp)) {
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
		if (dpc_is_up(ce.dp) &&
		    dpc_request(ce.dp, MG_MSG_TDM_UNBIND, &ch, CALL_DP_TIMEOUT_MS, on_unbind_reply, c) > 0) {
			c->pending++;
			return;
		}
	}
#endif
	if (c->session_on && dpc_is_up(ce.dp)) {
		struct mg_msg_session_id sid = { .id = c->sess_id };

		if (dpc_request(ce.dp, MG_MSG_SESSION_DEL, &sid, CALL_DP_TIMEOUT_MS, on_del_reply, c) > 0) {
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
		if (dpc_is_up(ce.dp) &&
		    dpc_request(ce.dp, MG_MSG_PORT_FREE, &g->port, CALL_DP_TIMEOUT_MS, on_free_reply, c) > 0)
			c->pending++;
	}
}

/* ----------------------------------------------------------- lifecycle */

/* Forget the offer an ACK was to answer (our key goes with it). */
static void ack_offer_drop(struct call_leg *g)
{
	if (g->ack_offer == NULL)
		return;
	explicit_bzero(g->ack_offer, sizeof(*g->ack_offer));
	free(g->ack_offer);
	g->ack_offer = NULL;
	g->ack_first = false;
}

/* Forget the caller's SDP (its a=crypto keys are wiped). */
static void offer0_drop(struct call *c)
{
	if (c->offer0 == NULL)
		return;
	explicit_bzero(c->offer0, c->offer0_len);
	free(c->offer0);
	c->offer0 = NULL;
	c->offer0_len = 0;
}

static void call_free(struct call *c)
{
	struct call **pp;

	for (pp = &ce.calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	for (unsigned li = 0; li < 2; li++) {
		if (c->leg[li].nh != NULL) {
			nua_handle_bind(c->leg[li].nh, NULL);
			nua_handle_destroy(c->leg[li].nh);
		}
		ack_offer_drop(&c->leg[li]);
		sdp_result_free(c->leg[li].neg);
		sdp_result_free(c->leg[li].reoffer);
	}
	sdp_result_free(c->offer1);
	if (c->guard != NULL)
		su_timer_destroy(c->guard);
	if (c->routed)
		route_result_clear(&c->route);
	offer0_drop(c);
	ce.n_calls--;
	ce.cnt.ended++;
	MG_INFO("call %u: ended after %lds (%s); %u calls active", c->id,
		(long)(time(NULL) - c->started), c->why[0] ? c->why : "normal", ce.n_calls);
	/* Key material of both legs leaves memory with the call. */
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static void call_maybe_free(struct call *c)
{
	if (c->state != CALL_ENDING || c->pending > 0 || c->freeing)
		return;
	if (c->session_on || c->leg[0].port_ok || c->leg[1].port_ok) {
		call_dp_cleanup(c);
		if (c->pending > 0)
			return;
	}
	if (!c->leg[0].gone || !c->leg[1].gone)
		return;
	c->freeing = true;
	call_free(c);
}

static void on_guard(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct call *c = arg;

	(void)m;
	(void)t;
	if (!call_is_known(c))
		return;
	MG_WARN("call %u: peer did not finish in %d s; releasing the call", c->id,
		CALL_GUARD_MS / 1000);
	c->leg[0].gone = c->leg[1].gone = true;
	if (c->pending > 0) {
		/* Dataplane answers overdue as well: forget them, so that no late
		 * callback can reach the call once it is freed below. */
		dpc_cancel_arg(ce.dp, c);
		c->pending = 0;
		c->session_on = false;
		c->leg[0].port_ok = c->leg[1].port_ok = false;
	}
	call_maybe_free(c);
}

/*
 * End the call: answer or hang up each leg as its state requires, then
 * remove the dataplane state. @status is the caller's final answer if it
 * has none yet (0: 487-like endings where nua already answered).
 */
static void call_end(struct call *c, int status, const char *phrase, const char *fmt, ...)
{
	va_list ap;
	char warn[320];

	if (c->state == CALL_ENDING)
		return;
	/* The reason may be c->why itself (set by a helper): format into a
	 * copy, vsnprintf() must not read the buffer it writes. */
	char why[sizeof(c->why)];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	memcpy(c->why, why, sizeof(c->why));
	MG_INFO("call %u: ending in state %s: %s%s%s", c->id, call_state_names[c->state], c->why,
		status ? ", caller gets " : "", status ? phrase : "");
	c->state = CALL_ENDING;

	struct call_leg *a = &c->leg[0], *b = &c->leg[1];

#ifdef MG_HAVE_PRI
	/* A PSTN leg is cleared at once; no callback follows pri_call_hangup(). */
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];
		int cause = 16;

		if (!g->pstn || g->pc == NULL)
			continue;
		if (li == 0 && !g->final_sent && status >= 300) {
			cause = mg_sip_to_q850(status);
			if (status == ROUTE_NO_ROUTE_SIP_STATUS)
				cause = ROUTE_NO_ROUTE_Q850_CAUSE;
			if (c->overload)
				cause = 42; /* switching equipment congestion */
			ce.cnt.failed++;
		}
		MG_INFO("call %u: PSTN leg %u released with cause %d (%s)", c->id, li, cause,
			mg_q850_name(cause));
		pri_call_set_user(g->pc, NULL);
		pri_call_hangup(g->pc, cause);
		g->pc = NULL;
		g->gone = true;
		g->final_sent = true;
	}
#endif
	if (a->nh != NULL && !a->gone) {
		if (!a->final_sent) {
			if (status == 0)
				status = 500, phrase = "Server Internal Error";
			if (c->warn[0])
				memcpy(warn, c->warn, sizeof(warn) - 1), warn[sizeof(warn) - 1] = '\0';
			else
				snprintf(warn, sizeof(warn), "399 %s \"%.200s\"", CALL_AGENT, c->why);
			respond0(c, status, warn, false);
			ce.cnt.failed++;
		} else if (!a->bye_rx) {
			nua_bye(a->nh, TAG_IF(c->bye_reason[0], SIPTAG_REASON_STR(c->bye_reason)), TAG_END());
		}
	}
	if (b->nh != NULL && !b->gone && !b->bye_rx) {
		if (b->final_status >= 200 && b->final_status < 300)
			nua_bye(b->nh, TAG_IF(c->bye_reason[0], SIPTAG_REASON_STR(c->bye_reason)), TAG_END());
		else if (b->final_status == 0)
			nua_cancel(b->nh, TAG_END());
	}
	if (c->guard == NULL)
		c->guard = su_timer_create(su_root_task(ce.root), CALL_GUARD_MS);
	if (c->guard != NULL)
		su_timer_set(c->guard, on_guard, c);
	call_dp_cleanup(c);
	call_maybe_free(c);
}

/*
 * Call admission: with mediagate.calls.maxCalls set, a call beyond it (every
 * call in progress counts, whatever its state, this one included) is refused
 * before routing, so it costs no rule, port or session: 503 with Retry-After
 * to a SIP caller, cause 42 to a PSTN caller. Returns true if @p c was ended.
 */
static bool call_over_limit(struct call *c)
{
	if (ce.max_calls == 0 || ce.n_calls <= ce.max_calls)
		return false;
	c->overload = true;
	ce.cnt.overload++;
	call_end(c, 503, "Service Unavailable", "over mediagate.calls.maxCalls=%u", ce.max_calls);
	return true;
}

/* A new call the gateway does not take now (shutting down, over the
 * limit) is ended; true if it was. */
static bool call_refused(struct call *c)
{
	if (ce.stopping) {
		call_end(c, 503, "Service Unavailable", "the gateway is shutting down");
		return true;
	}
	return call_over_limit(c);
}

/* A failed route lookup (@p rc < 0) ends the call; true if it did. */
static bool call_route_failed(struct call *c, int rc)
{
	if (rc == -ENOENT)
		call_end(c, ROUTE_NO_ROUTE_SIP_STATUS, "Not Found", "no routing rule matches");
	else if (rc < 0)
		call_end(c, 500, "Server Internal Error", "routing failed: %s", strerror(-rc));
	return rc < 0;
}

/* ------------------------------------------------------- media timeout */

/*
 * SESSION_STATS of an answered call: a SIP leg we receive on (not on hold
 * either way, not inactive) whose accepted packet count (RTP + RTCP that
 * passed source and SRTP checks) has not moved for mediagate.calls.mediaTimeout
 * seconds ends the call. A leg we do not expect media from restarts its
 * clock on every poll, so a resumed call gets a full period. PSTN legs are
 * not watched: the TDM side sends a frame every 20 ms whatever happens.
 */
static void on_mt_stats(void *arg, int result, const void *body)
{
	struct call *c = arg;
	const struct mg_msg_session_stats *st = body;
	uint64_t now = now_ms();

	c->pending--;
	c->stats_busy = false;
	if (c->state == CALL_ENDING) {
		call_dp_cleanup(c);
		call_maybe_free(c);
		return;
	}
	if (result < 0 || st == NULL || ce.media_timeout_s == 0)
		return;
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];
		uint64_t rx = st->legs[li][0].packets;

		if (g->pstn || !g->neg_ok)
			continue;
		/* on hold either way (the peer's sendonly or inactive, c=0.0.0.0):
		 * not watched; many phones send nothing while they hold */
		if (!(leg_neg(g)->dir & SDP_DIR_RECVONLY) || leg_neg(g)->hold || rx != g->mt_rx ||
		    g->mt_since_ms == 0) {
			g->mt_rx = rx;
			g->mt_since_ms = now;
			continue;
		}
		if (now - g->mt_since_ms >= (uint64_t)ce.media_timeout_s * 1000) {
			ce.cnt.media_timeout++;
			call_end(c, 0, NULL, "no media from the %s for %u s (mediagate.calls.mediaTimeout; %llu packets in all)",
				 li == 0 ? "caller" : "callee", ce.media_timeout_s,
				 (unsigned long long)rx);
			return;
		}
	}
}

/* Every second: poll the answered calls due for a check, each every
 * mediaTimeout/4 s (1 s at least), one request per call at a time. */
static void on_mt_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	uint64_t now = now_ms(), every;

	(void)m;
	(void)t;
	(void)arg;
	if (ce.media_timeout_s == 0 || !dpc_is_up(ce.dp))
		return;
	every = (uint64_t)ce.media_timeout_s * 1000 / 4;
	if (every < 1000)
		every = 1000;
	for (struct call *c = ce.calls; c != NULL; c = c->next) {
		struct mg_msg_session_id sid = { .id = c->sess_id };

		if ((c->state != CALL_ANSWERED && c->state != CALL_ACTIVE) || !c->session_on ||
		    c->stats_busy || now - c->stats_last_ms < every)
			continue;
		if (dpc_request(ce.dp, MG_MSG_SESSION_STATS, &sid, CALL_DP_TIMEOUT_MS, on_mt_stats,
				c) > 0) {
			c->pending++;
			c->stats_busy = true;
			c->stats_last_ms = now;
		}
	}
}

/* ------------------------------------------------------------- routing */

static void url_user(const url_t *u, char *buf, size_t len)
{
	snprintf(buf, len, "%s", u && u->url_user ? u->url_user : "");
}

/* GW_SIP_PORT and friends of the rules: the first user agent of each
 * transport, else the standard port (TCP falls back to UDP's). */
static void route_env_ports(struct route_env *env)
{
	memset(env, 0, sizeof(*env));
	for (unsigned i = 0; i < sipua_count(); i++) {
		const struct mg_sip_ua *u = sipua_cfg(i);
		uint16_t *p = u->transport == MG_TRANSPORT_TLS ? &env->sip_port_tls :
			      u->transport == MG_TRANSPORT_TCP ? &env->sip_port_tcp : &env->sip_port_udp;

		if (*p == 0)
			*p = u->port;
		env->ua_transports |= ROUTE_UA_KNOWN |
				      (u->transport == MG_TRANSPORT_TLS ? ROUTE_UA_TLS :
				       u->transport == MG_TRANSPORT_TCP ? ROUTE_UA_TCP : ROUTE_UA_UDP);
	}
	if (env->sip_port_tls == 0)
		env->sip_port_tls = 5061;
	if (env->sip_port_udp == 0)
		env->sip_port_udp = 5060;
	if (env->sip_port_tcp == 0)
		env->sip_port_tcp = env->sip_port_udp;
}

static int call_route(struct call *c, const sip_t *sip, unsigned ua_index)
{
	char ruri[512], from_uri[512], to_uri[512], ruser[128], rhost[128], fuser[128], fhost[128],
		fname[128], tuser[128], envip[64];
	struct route_kv kv[16];
	size_t n = 0;
	struct route_env env;
	const struct mg_sip_ua *uac = sipua_cfg(ua_index);
	struct route_table *t;
	int rc;

	url_e(ruri, (int)sizeof(ruri), sip->sip_request->rq_url);
	url_e(from_uri, (int)sizeof(from_uri), sip->sip_from->a_url);
	url_e(to_uri, (int)sizeof(to_uri), sip->sip_to->a_url);
	url_user(sip->sip_request->rq_url, ruser, sizeof(ruser));
	snprintf(rhost, sizeof(rhost), "%s", sip->sip_request->rq_url->url_host ? sip->sip_request->rq_url->url_host : "");
	url_user(sip->sip_from->a_url, fuser, sizeof(fuser));
	snprintf(fhost, sizeof(fhost), "%s", sip->sip_from->a_url->url_host ? sip->sip_from->a_url->url_host : "");
	snprintf(fname, sizeof(fname), "%s", sip->sip_from->a_display ? sip->sip_from->a_display : "");
	/* A quoted display name routes by its text (quotes and quoted-pair
	 * escapes removed; display_quote() adds them back on the out leg). */
	if (fname[0] == '"') {
		size_t l = strlen(fname), o = 0;

		if (l >= 2 && fname[l - 1] == '"')
			fname[--l] = '\0';
		for (size_t i = 1; i < l; i++) {
			if (fname[i] == '\\' && i + 1 < l)
				i++;
			fname[o++] = fname[i];
		}
		fname[o] = '\0';
	}
	url_user(sip->sip_to->a_url, tuser, sizeof(tuser));
	kv[n++] = (struct route_kv){ "sip.in.requestUri", ruri };
	kv[n++] = (struct route_kv){ "sip.in.requestUri.user", ruser };
	kv[n++] = (struct route_kv){ "sip.in.requestUri.host", rhost };
	kv[n++] = (struct route_kv){ "sip.in.from.uri", from_uri };
	kv[n++] = (struct route_kv){ "sip.in.from.user", fuser };
	kv[n++] = (struct route_kv){ "sip.in.from.host", fhost };
	kv[n++] = (struct route_kv){ "sip.in.from.displayName", fname };
	kv[n++] = (struct route_kv){ "sip.in.to.uri", to_uri };
	kv[n++] = (struct route_kv){ "sip.in.to.user", tuser };
	kv[n++] = (struct route_kv){ "sip.in.transport", uac ? transport_name(uac->transport) : "udp" };
	kv[n++] = (struct route_kv){ "transfer", "false" };

	route_env_ports(&env);
	snprintf(envip, sizeof(envip), "%.63s",
		 ce.s->sip_contact_host[0] ? ce.s->sip_contact_host :
		 uac && uac->addr[0] ? uac->addr : rhost);
	env.host_ip = envip;
	snprintf(c->gw_host, sizeof(c->gw_host), "%s", envip);
	snprintf(c->from0_user, sizeof(c->from0_user), "%s", fuser);
	snprintf(c->from0_name, sizeof(c->from0_name), "%s", fname);

	t = route_set_get(&ce.routes);
	if (t == NULL)
		return -ENOENT;
	rc = route_match(t, kv, n, &env, &c->route);
	route_table_unref(t);
	if (rc == 0)
		c->routed = true;
	return rc;
}

/* ---------------------------------------------------------- out leg */

static void url_host_of(const char *uri, char *out, size_t len)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	url_t *u = url_make(home, uri);

	snprintf(out, len, "%s", u && u->url_host ? u->url_host : "");
	su_home_deinit(home);
}

/*
 * @name as a SIP quoted-string (RFC 3261 25.1): '"' and '\\' escaped,
 * control characters left out. The text comes from the caller (From
 * display name, ISDN calling name) or a rule; unescaped it would end the
 * string early and make the From/To header unparsable.
 */
static void display_quote(const char *name, char *out, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		bool esc = *p == '"' || *p == '\\';

		if (*p < 0x20 || *p == 0x7f)
			continue;
		if (o + (esc ? 2 : 1) + 2 > len)
			break;
		if (esc)
			out[o++] = '\\';
		out[o++] = (char)*p;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* The user agent the out leg leaves from: the first with its transport. */
static int out_ua(enum mg_transport want)
{
	for (unsigned i = 0; i < sipua_count(); i++)
		if (sipua_cfg(i)->transport == want)
			return (int)i;
	return -1;
}

static void call_send_invite(struct call *c)
{
	struct call_leg *a = &c->leg[0], *b = &c->leg[1];
	struct sdp_policy pol = c->pol;
	struct sdp_codec codecs[SDP_MAX_PTS];
	const struct sdp_result *an = leg_neg(a);
	struct sdp_result r;
	const char *ruri = route_result_get(&c->route, "sip.out.requestUri");
	const char *from_uri = route_result_get(&c->route, "sip.out.from.uri");
	const char *from_name = route_result_get(&c->route, "sip.out.from.displayName");
	const char *to_uri = route_result_get(&c->route, "sip.out.to.uri");
	const char *to_name = route_result_get(&c->route, "sip.out.to.displayName");
	const char *tp = route_result_get(&c->route, "sip.out.transport");
	enum mg_transport want = MG_TRANSPORT_UDP;
	char from[640], to[640], target[600], name[260];
	int ua, rc;

	/* Offer the callee what the caller can take (the dataplane relays
	 * payload unchanged, so both legs must share the codecs). */
	for (unsigned i = 0; i < an->n_pts; i++)
		codecs[i] = (struct sdp_codec){ an->pts[i].name, an->pts[i].rate };
	pol.codecs = codecs;
	pol.n_codecs = an->n_pts;
	if (c->late)
		pol.codecs = NULL; /* nothing to follow: PCMU, PCMA, telephone-event */
#ifdef MG_HAVE_PRI
	if (a->pstn) {
		/* The B-channel's law first; the dataplane transcodes the other. */
		bool alaw = a->pc && pri_call_info(a->pc)->law == MG_LAW_ALAW;

		codecs[0] = (struct sdp_codec){ alaw ? "PCMA" : "PCMU", 8000 };
		codecs[1] = (struct sdp_codec){ alaw ? "PCMU" : "PCMA", 8000 };
		codecs[2] = (struct sdp_codec){ "telephone-event", 8000 };
		pol.n_codecs = 3;
	}
#endif
	pol.local_addr = b->local_ip;
	pol.local_port = b->port.local.port;
	pol.media_type = c->route.media_type;
	pol.sess_id = 0;
	rc = sdp_offer(&pol, NULL, &r);
	if (rc < 0 || r.status != 0) {
		call_end(c, 500, "Server Internal Error", "cannot build the offer to the callee: %s",
			 r.warn_text[0] ? r.warn_text : strerror(-rc));
		return;
	}
	sdp_result_free(c->offer1);
	c->offer1 = sdp_result_keep(&r);
	explicit_bzero(&r, sizeof(r));
	if (c->offer1 == NULL) {
		call_end(c, 500, "Server Internal Error", "out of memory");
		return;
	}
	if (tp != NULL && strcasecmp(tp, "tls") == 0)
		want = MG_TRANSPORT_TLS;
	else if (tp != NULL && strcasecmp(tp, "tcp") == 0)
		want = MG_TRANSPORT_TCP;
	ua = out_ua(want);
	if (ua < 0) {
		call_end(c, 503, "Service Unavailable",
			 "route %s wants sip.out.transport=%s but no such user agent is configured",
			 c->route.rule_name, transport_name(want));
		return;
	}
	/* sofia needs the transport in the URI to pick the connection. */
	snprintf(target, sizeof(target), "%s%s%s", ruri,
		 strstr(ruri, "transport=") ? "" : ";transport=", strstr(ruri, "transport=") ? "" : transport_name(want));
	if (from_uri == NULL || from_uri[0] == '\0') {
		display_quote(c->from0_name, name, sizeof(name));
		snprintf(from, sizeof(from), "%s%s<sip:%s@%s>", c->from0_name[0] ? name : "",
			 c->from0_name[0] ? " " : "", c->from0_user[0] ? c->from0_user : "anonymous",
			 c->gw_host);
	} else if (from_name != NULL && from_name[0] != '\0') {
		display_quote(from_name, name, sizeof(name));
		snprintf(from, sizeof(from), "%s <%s>", name, from_uri);
	} else {
		snprintf(from, sizeof(from), "<%s>", from_uri);
	}
	if (to_name != NULL && to_name[0] != '\0') {
		display_quote(to_name, name, sizeof(name));
		snprintf(to, sizeof(to), "%s <%s>", name, to_uri ? to_uri : ruri);
	} else {
		snprintf(to, sizeof(to), "<%s>", to_uri ? to_uri : ruri);
	}
	b->ua = (unsigned)ua;
	sipua_contact((unsigned)ua, NULL, b->contact, sizeof(b->contact));
	b->nh = nua_handle(sipua_nua((unsigned)ua), c, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(from),
			   TAG_END());
	if (b->nh == NULL) {
		call_end(c, 500, "Server Internal Error", "cannot create the out-leg handle");
		return;
	}
	b->gone = false;
	c->state = CALL_OUTGOING;
	MG_INFO("call %u: routed by rule %s to %s (from %s), SRTP %s", c->id, c->route.rule_name,
		target, from, c->offer1->n_offered ? "offered" : "not offered");
	nua_invite(b->nh, NUTAG_URL(target), SIPTAG_CONTACT_STR(b->contact),
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(c->offer1->sdp),
		   TAG_END());
}

#ifdef MG_HAVE_PRI
/* SIP in, PSTN out: SETUP on a B-channel the route's pstn.out.* names. */
static void call_place_pstn(struct call *c)
{
	struct call_leg *b = &c->leg[1];
	struct pri_call_req req;
	struct pri_call *pc = NULL;
	char err[256];
	int rc;

	rc = pri_call_req_from_route(&c->route, &req, err, sizeof(err));
	if (rc < 0) {
		call_end(c, 500, "Server Internal Error", "route %s: %s", c->route.rule_name, err);
		return;
	}
	rc = pri_call_place(ce.pri, &req, c, &pc);
	if (rc < 0) {
		int cause = pri_mgr_place_cause(rc);
		int st = mg_q850_to_sip(cause, false);

		if (st < 300)
			st = 503;
		call_end(c, st, static_phrase(st), "PSTN: cause %d (%s)", cause, mg_q850_name(cause));
		return;
	}
	b->pc = pc;
	b->gone = false;
	b->channo = pri_call_info(pc)->channo;
	c->state = CALL_OUTGOING;
	MG_INFO("call %u: routed by rule %s to the PSTN: %s on %s (channel %u)", c->id,
		c->route.rule_name, req.dnis, pri_call_info(pc)->channel_name, b->channo);
}
#endif

static void port_reply(struct call *c, unsigned li, int result, const void *body)
{
	struct call_leg *a = &c->leg[0];
	struct sdp_policy pol;
	int rc;

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
	if (!a->pstn && !c->late) {
		pol = c->pol;
		pol.local_addr = a->local_ip;
		pol.local_port = a->port.local.port;
		struct sdp_result r;

		rc = sdp_answer(&pol, c->offer0, c->offer0_len, NULL, &r);
		offer0_drop(c); /* answered: not needed any more */
		if (rc < 0 || r.status != 0) {
			sdp_warning_header(&r, CALL_AGENT, c->warn, sizeof(c->warn));
			call_end(c, r.status ? r.status : 500, "Not Acceptable Here", "%s", r.warn_text);
			return;
		}
		rc = leg_set_neg(a, &r);
		explicit_bzero(&r, sizeof(r));
		if (rc < 0) {
			call_end(c, 500, "Server Internal Error", "out of memory");
			return;
		}
	}
#ifdef MG_HAVE_PRI
	if (c->leg[1].pstn) {
		call_place_pstn(c);
		return;
	}
#endif
	call_send_invite(c);
}

static void on_port0_reply(void *arg, int result, const void *body)
{
	port_reply(arg, 0, result, body);
}

static void on_port1_reply(void *arg, int result, const void *body)
{
	port_reply(arg, 1, result, body);
}

/* ------------------------------------------------------------ SIP events */

static void call_alloc_ports(struct call *c);

static void call_new(unsigned ua_index, nua_handle_t *nh, const sip_t *sip)
{
	struct call *c = calloc(1, sizeof(*c));
	struct call_leg *a;
	struct sdp_result probe;
	char warn[320];
	int rc;

	if (c == NULL) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	call_link(c);
	a = &c->leg[0];
	a->nh = nh;
	a->ua = ua_index;
	nua_handle_bind(nh, c);
	sipua_contact(ua_index, sip, a->contact, sizeof(a->contact));

	MG_INFO("call %u: INVITE %s%s%s from %s%s%s", c->id,
		sip->sip_request->rq_url->url_user ? sip->sip_request->rq_url->url_user : "",
		sip->sip_request->rq_url->url_user ? "@" : "",
		sip->sip_request->rq_url->url_host ? sip->sip_request->rq_url->url_host : "",
		sip->sip_from->a_url->url_user ? sip->sip_from->a_url->url_user : "",
		sip->sip_from->a_url->url_user ? "@" : "",
		sip->sip_from->a_url->url_host ? sip->sip_from->a_url->url_host : "");

	if (call_refused(c))
		return;
	rc = call_route(c, sip, ua_index);
	if (call_route_failed(c, rc))
		return;
	if (c->route.outbound_interface == ROUTE_IFACE_PSTN) {
		if (ce.pri == NULL) {
			call_end(c, 503, "Service Unavailable",
				 "route %s goes to the PSTN but no ISDN span is running",
				 c->route.rule_name);
			return;
		}
		c->leg[1].pstn = true;
	} else if (route_result_get(&c->route, "sip.out.requestUri") == NULL) {
		call_end(c, 500, "Server Internal Error", "route %s has no sip.out.requestUri",
			 c->route.rule_name);
		return;
	}
	if (sip->sip_payload == NULL || sip->sip_payload->pl_len == 0) {
		/* Late offer (RFC 3261 13.2.1): the callee gets our offer, the
		 * caller gets one in our 2xx and answers in its ACK (on_ack). */
		const sip_via_t *v = sip->sip_via;
		const char *src = v ? (v->v_received ? v->v_received : v->v_host) : NULL;

		c->late = true;
		MG_INFO("call %u: no SDP in the INVITE (late offer): the caller's offer comes in our 2xx",
			c->id);
		if (!dpc_is_up(ce.dp)) {
			call_end(c, 503, "Service Unavailable", "dataplane is not connected");
			return;
		}
		/* The caller's media address is not known yet: its signalling
		 * source is the best guess for the dataplane address. */
		pick_local_ip(src, a->local_ip, sizeof(a->local_ip));
		call_alloc_ports(c);
		return;
	}
	if (sip->sip_content_type && sip->sip_content_type->c_type &&
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0) {
		call_end(c, 488, "Not Acceptable Here", "INVITE body is %.60s (allowed: application/sdp)",
			 sip->sip_content_type->c_type);
		return;
	}
	c->offer0 = malloc(sip->sip_payload->pl_len + 1);
	if (c->offer0 == NULL) {
		call_end(c, 500, "Server Internal Error", "out of memory");
		return;
	}
	memcpy(c->offer0, sip->sip_payload->pl_data, sip->sip_payload->pl_len);
	c->offer0[sip->sip_payload->pl_len] = '\0';
	c->offer0_len = sip->sip_payload->pl_len;

	/* Policy first (488 per SPEC §4) so a refused offer costs no ports. */
	c->pol.local_addr = "0.0.0.0";
	c->pol.local_port = 9;
	rc = sdp_answer(&c->pol, c->offer0, c->offer0_len, NULL, &probe);
	if (rc < 0 || probe.status != 0) {
		int st = probe.status ? probe.status : 400;

		sdp_warning_header(&probe, CALL_AGENT, warn, sizeof(warn));
		snprintf(c->why, sizeof(c->why), "SDP refused: %.120s", probe.warn_text);
		MG_INFO("call %u: %d, %s", c->id, st, probe.warn_text);
		a->final_sent = true;
		ce.cnt.failed++;
		nua_respond(nh, st, st == 488 ? "Not Acceptable Here" : "Bad Request",
			    SIPTAG_CONTACT_STR(a->contact), SIPTAG_WARNING_STR(warn), TAG_END());
		c->state = CALL_ENDING;
		call_maybe_free(c);
		return;
	}
	if (!dpc_is_up(ce.dp)) {
		call_end(c, 503, "Service Unavailable", "dataplane is not connected");
		return;
	}
	pick_local_ip(probe.remote_addr, a->local_ip, sizeof(a->local_ip));
	call_alloc_ports(c);
}

/* PORT_ALLOC for both legs; the replies go on in port_reply(). */
static void call_alloc_ports(struct call *c)
{
	struct mg_msg_port_alloc pa;

	if (!c->leg[1].pstn) {
		char host[128];

		url_host_of(route_result_get(&c->route, "sip.out.requestUri"), host, sizeof(host));
		pick_local_ip(host, c->leg[1].local_ip, sizeof(c->leg[1].local_ip));
	} else {
		pick_local_ip(NULL, c->leg[1].local_ip, sizeof(c->leg[1].local_ip));
	}
	if (c->leg[0].pstn)
		pick_local_ip(NULL, c->leg[0].local_ip, sizeof(c->leg[0].local_ip));
	for (unsigned li = 0; li < 2; li++) {
		memset(&pa, 0, sizeof(pa));
		if (mg_proto_addr_parse(c->leg[li].local_ip[0] ? c->leg[li].local_ip : "0.0.0.0",
					&pa.local) < 0)
			pa.local.family = MG_FAMILY_IPV4;
		pa.local.port = 0;
		int64_t id = dpc_request(ce.dp, MG_MSG_PORT_ALLOC, &pa, CALL_DP_TIMEOUT_MS,
					 li == 0 ? on_port0_reply : on_port1_reply, c);

		if (id < 0) {
			call_end(c, 503, "Service Unavailable", "dataplane: %s", strerror((int)-id));
			return;
		}
		c->pending++;
	}
	c->state = CALL_ROUTING;
}

/* Apply the callee's SDP (18x or 2xx) to a copy of our offer. */
static int leg1_answer(struct call *c, const sip_t *sip)
{
	struct call_leg *b = &c->leg[1];
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	int rc;

	if (c->offer1 == NULL)
		return -EPROTO;
	sdp_result_load(&r, c->offer1);
	pol.local_addr = b->local_ip;
	pol.local_port = b->port.local.port;
	pol.media_type = c->route.media_type;
	rc = sdp_answer_process(&pol, sip->sip_payload->pl_data, sip->sip_payload->pl_len, &r);
	if (rc < 0 || r.status != 0) {
		MG_INFO("call %u: callee's SDP refused: %s", c->id, r.warn_text);
		snprintf(c->why, sizeof(c->why), "callee's SDP: %.120s", r.warn_text);
		explicit_bzero(&r, sizeof(r));
		return -EPROTO;
	}
	if (leg_set_neg(b, &r) < 0) {
		snprintf(c->why, sizeof(c->why), "callee's SDP: out of memory");
		explicit_bzero(&r, sizeof(r));
		return -ENOMEM;
	}
	if (r.remote_family == AF_INET && c->n_cand < MG_PROTO_MAX_CANDIDATES) {
		struct mg_msg_addr ad;

		if (mg_proto_addr_parse(r.remote_addr, &ad) == 0) {
			bool seen = false;

			ad.port = r.remote_rtp_port;
			for (unsigned i = 0; i < c->n_cand; i++)
				if (memcmp(&c->cand[i], &ad, sizeof(ad)) == 0)
					seen = true;
			if (!seen)
				c->cand[c->n_cand++] = ad;
		}
	}
	explicit_bzero(&r, sizeof(r));
	return 0;
}

static int map_status(int st, const char **phrase)
{
	switch (st) {
	case 401:
	case 407:
		*phrase = "Forbidden"; /* the callee's credentials are not the caller's business */
		return 403;
	case 503:
		/* RFC 3261 16.7: a 503 from beyond is not ours to pass on; the
		 * caller would take this gateway for overloaded. */
		*phrase = "Bad Gateway";
		return 502;
	default:
		if (st >= 300 && st < 400) {
			*phrase = "Temporarily Unavailable"; /* redirects are not followed */
			return 480;
		}
		return st;
	}
}

/*
 * Late offer: the callee (SIP 2xx or PSTN CONNECT) answered. The caller gets
 * our offer in the 200: the codecs the callee agreed (the dataplane relays
 * payload unchanged; a PSTN callee: the span's law first), telephone-event
 * if agreed, SRTP per the offer table with keys of our own. Its answer comes
 * in the ACK (on_ack), which installs the session.
 */
static void late_offer_caller(struct call *c)
{
	struct call_leg *a = &c->leg[0], *b = &c->leg[1];
	struct sdp_policy pol = c->pol;
	struct sdp_codec codecs[SDP_MAX_PTS];
	unsigned n = 0;
	int rc;

	if (!b->pstn) {
		const struct sdp_result *bn = leg_neg(b);

		for (unsigned i = 0; i < bn->n_pts && n < SDP_MAX_PTS; i++)
			codecs[n++] = (struct sdp_codec){ bn->pts[i].name, bn->pts[i].rate };
	}
#ifdef MG_HAVE_PRI
	if (b->pstn) {
		bool alaw = b->pc && pri_call_info(b->pc)->law == MG_LAW_ALAW;

		codecs[n++] = (struct sdp_codec){ alaw ? "PCMA" : "PCMU", 8000 };
		codecs[n++] = (struct sdp_codec){ alaw ? "PCMU" : "PCMA", 8000 };
		codecs[n++] = (struct sdp_codec){ "telephone-event", 8000 };
	}
#endif
	pol.codecs = codecs;
	pol.n_codecs = n;
	pol.local_addr = a->local_ip;
	pol.local_port = a->port.local.port;
	pol.media_type = NULL;
	pol.sess_id = 0;
	ack_offer_drop(a);
	a->ack_offer = malloc(sizeof(*a->ack_offer));
	if (a->ack_offer == NULL) {
		call_end(c, 500, "Server Internal Error", "out of memory");
		return;
	}
	rc = sdp_offer(&pol, NULL, a->ack_offer);
	if (rc < 0 || a->ack_offer->status != 0) {
		call_end(c, 500, "Server Internal Error", "cannot build the offer to the caller: %s",
			 a->ack_offer->warn_text[0] ? a->ack_offer->warn_text : strerror(-rc));
		return;
	}
	a->ack_first = true;
	MG_INFO("call %u: late offer: 200 to the caller with our offer (%u payload types, SRTP %s); its answer is due in the ACK",
		c->id, a->ack_offer->n_pts, a->ack_offer->n_offered ? "offered" : "not offered");
	respond0(c, 200, NULL, true);
	c->state = CALL_ANSWERED;
	ce.cnt.answered++;
	a->mt_since_ms = b->mt_since_ms = now_ms();
}

static void on_leg1_response(struct call *c, int status, const char *phrase, const sip_t *sip)
{
	struct call_leg *b = &c->leg[1];
	bool sdp = sip && sip->sip_payload && sip->sip_payload->pl_len > 0;

	if (status >= 200)
		b->final_status = status;
	if (c->state == CALL_ENDING) {
		/* 200 crossing our CANCEL: hang it up. */
		if (status >= 200 && status < 300 && b->nh && !b->gone)
			nua_bye(b->nh, TAG_END());
		return;
	}
	if (status < 180 && status >= 100)
		return;
	if (status < 200) {
		if (c->state == CALL_OUTGOING)
			c->state = CALL_EARLY;
		if (c->late) {
			/* No early media towards a caller that has made no offer
			 * (it would need an offer in a reliable 18x): 180, once.
			 * An early SDP still counts (candidates, a 2xx without SDP). */
			if (sdp)
				(void)leg1_answer(c, sip);
			if (!c->ringing_sent) {
				c->ringing_sent = true;
				respond0(c, 180, NULL, false);
			}
			return;
		}
		if (sdp && leg1_answer(c, sip) == 0) {
			/* Early media: install, then tell the caller with our SDP. */
			c->relay_status = status;
			c->relay_sdp = true;
			session_push(c, -1);
		} else if (c->relay_status == 0) {
			relay0(c, status, c->session_on);
		}
		return;
	}
	if (status < 300) {
		if (sdp) {
			if (leg1_answer(c, sip) < 0) {
				call_end(c, 488, "Not Acceptable Here", "%s", c->why);
				return;
			}
		} else if (!b->neg_ok) {
			call_end(c, 502, "Bad Gateway", "callee answered without SDP");
			return;
		}
		if (c->late) {
			MG_INFO("call %u: answered by the callee (%s%s)", c->id, leg_neg(b)->srtp ? "SRTP " : "RTP",
				leg_neg(b)->srtp ? mg_srtp_suite_by_id(leg_neg(b)->suite)->sdes_name : "");
			late_offer_caller(c);
			return;
		}
		c->relay_status = 200;
		c->relay_sdp = true;
		MG_INFO("call %u: answered by the callee (%s%s)", c->id,
			leg_neg(b)->srtp ? "SRTP " : "RTP",
			leg_neg(b)->srtp ? mg_srtp_suite_by_id(leg_neg(b)->suite)->sdes_name : "");
		session_push(c, -1);
		return;
	}
	{
		const char *ph = phrase;
		int st = map_status(status, &ph);

		call_end(c, st, ph, "callee answered %d %s", status, phrase);
	}
}

/*
 * Tell leg @o that the other side went on hold or resumed: a re-INVITE
 * offering sendonly (we keep sending what the holder plays, nothing comes
 * back) or sendrecv again, with our key kept. One at a time: a change that
 * arrives meanwhile is offered when the answer is in.
 */
static void call_offer_hold(struct call *c, unsigned o)
{
	struct call_leg *g = &c->leg[o];
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	int rc;

	if (g->pstn || g->nh == NULL || g->gone || g->reinv_out || g->ack_offer != NULL || !g->neg_ok ||
	    g->want_hold == g->sent_hold || c->state != CALL_ACTIVE ||
	    (o == 1 && (g->final_status < 200 || g->final_status >= 300)))
		return;
	/* The session as it stands with the new direction: same payload
	 * numbers, crypto line and key, m= layout (RFC 3264 §8). */
	pol.local_addr = g->local_ip;
	pol.local_port = g->port.local.port;
	pol.media_type = g->want_hold ? "sendonly" : o == 1 ? c->route.media_type : NULL;
	pol.last_sent_version = g->sent_version;
	rc = sdp_offer_current(&pol, g->neg, &r);
	if (rc < 0 || r.status != 0) {
		MG_WARN("call %u: cannot offer %s to leg %u: %s", c->id,
			g->want_hold ? "hold" : "resume", o, r.warn_text);
		return;
	}
	if (r.sess_version > g->sent_version)
		g->sent_version = r.sess_version;
	/* Kept only while the re-INVITE is out (on_reinvite_answer). */
	sdp_result_free(g->reoffer);
	g->reoffer = sdp_result_keep(&r);
	explicit_bzero(&r, sizeof(r));
	if (g->reoffer == NULL) {
		MG_WARN("call %u: cannot offer %s to leg %u: out of memory", c->id,
			g->want_hold ? "hold" : "resume", o);
		return;
	}
	g->reinv_out = true;
	g->sent_hold = g->want_hold;
	MG_INFO("call %u: re-INVITE to leg %u: %s", c->id, o, g->want_hold ? "hold (sendonly)" : "resume");
	nua_invite(g->nh, SIPTAG_CONTACT_STR(g->contact), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
		   SIPTAG_PAYLOAD_STR(g->reoffer->sdp), TAG_END());
}

/* The answer to our hold/resume re-INVITE on leg @o. */
static void on_reinvite_answer(struct call *c, unsigned o, int status, const sip_t *sip)
{
	struct call_leg *g = &c->leg[o];
	struct sdp_policy pol = c->pol;
	struct sdp_result r, *off;

	if (status < 200)
		return;
	g->reinv_out = false;
	off = g->reoffer; /* answered: our offer goes now, whatever the answer */
	g->reoffer = NULL;
	if (c->state == CALL_ENDING || off == NULL) {
		sdp_result_free(off);
		return;
	}
	if (status >= 300 || sip == NULL || sip->sip_payload == NULL || sip->sip_payload->pl_len == 0) {
		/* The dialog goes on with the previous session (RFC 3261 14.1). */
		MG_INFO("call %u: leg %u answered our re-INVITE with %d: previous media kept", c->id, o,
			status);
		sdp_result_free(off);
		return;
	}
	sdp_result_load(&r, off);
	sdp_result_free(off);
	pol.local_addr = g->local_ip;
	pol.local_port = g->port.local.port;
	if (sdp_answer_process(&pol, sip->sip_payload->pl_data, sip->sip_payload->pl_len, &r) < 0 ||
	    r.status != 0) {
		MG_WARN("call %u: leg %u's answer to our re-INVITE refused: %s; previous media kept",
			c->id, o, r.warn_text);
		explicit_bzero(&r, sizeof(r));
		return;
	}
	if (leg_set_neg(g, &r) < 0) {
		explicit_bzero(&r, sizeof(r));
		call_end(c, 500, "Server Internal Error", "out of memory");
		return;
	}
	session_push(c, r.rekey ? (int)o : -1);
	explicit_bzero(&r, sizeof(r));
	call_offer_hold(c, o); /* a newer change that waited */
}

/* A re-INVITE on an established leg: answered here, the dataplane follows. */
static void on_reinvite(struct call *c, unsigned li, nua_handle_t *nh, const sip_t *sip)
{
	struct call_leg *g = &c->leg[li];
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	char warn[320];
	int rc;

	/* Not while an offer/answer of this leg is open (our re-INVITE, an
	 * offer in a 2xx whose ACK has not come), nor before a late-offer
	 * caller has answered (the session is not installed yet). */
	if ((c->state != CALL_ACTIVE && c->state != CALL_ANSWERED) || !g->neg_ok || g->reinv_out ||
	    g->ack_offer != NULL || (c->late && !c->leg[0].neg_ok)) {
		nua_respond(nh, SIP_491_REQUEST_PENDING, SIPTAG_CONTACT_STR(g->contact), TAG_END());
		return;
	}
	if (sip->sip_payload == NULL || sip->sip_payload->pl_len == 0) {
		/* Offerless re-INVITE (session refresh, RFC 3261 14.2): the 200
		 * offers the session as it stands; the ACK brings the answer. */
		struct sdp_result *off = malloc(sizeof(*off));

		pol.local_addr = g->local_ip;
		pol.local_port = g->port.local.port;
		pol.media_type = g->sent_hold ? "sendonly" : li == 1 ? c->route.media_type : NULL;
		pol.last_sent_version = g->sent_version;
		if (off == NULL || sdp_offer_current(&pol, g->neg, off) < 0) {
			MG_WARN("call %u: re-INVITE without SDP on leg %u: cannot offer the session: %s", c->id,
				li, off ? off->warn_text : "out of memory");
			if (off != NULL)
				explicit_bzero(off, sizeof(*off)); /* may hold our key already */
			free(off);
			nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_CONTACT_STR(g->contact), TAG_END());
			return;
		}
		g->ack_offer = off;
		g->ack_first = false;
		if (off->sess_version > g->sent_version)
			g->sent_version = off->sess_version;
		MG_INFO("call %u: re-INVITE without SDP on leg %u: 200 offers the current session (o= version %llu, %s)",
			c->id, li, (unsigned long long)off->sess_version,
			off->sess_version == g->neg->sess_version ? "SDP unchanged" : "SDP changed");
		nua_respond(nh, SIP_200_OK, SIPTAG_CONTACT_STR(g->contact),
			    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(off->sdp), TAG_END());
		return;
	}
	pol.local_addr = g->local_ip;
	pol.local_port = g->port.local.port;
	if (li == 1)
		pol.media_type = c->route.media_type;
	rc = sdp_answer(&pol, sip->sip_payload->pl_data, sip->sip_payload->pl_len, g->neg, &r);
	if (rc < 0 || r.status != 0) {
		sdp_warning_header(&r, CALL_AGENT, warn, sizeof(warn));
		MG_INFO("call %u: re-INVITE on leg %u refused: %s", c->id, li, r.warn_text);
		nua_respond(nh, r.status ? r.status : 488, "Not Acceptable Here",
			    SIPTAG_CONTACT_STR(g->contact), SIPTAG_WARNING_STR(warn), TAG_END());
		return;
	}
	MG_INFO("call %u: re-INVITE on leg %u: %s%s%s", c->id, li, r.rekey ? "new keys (ROC reset)" : "same keys",
		r.hold ? ", on hold" : "", g->neg->hold && !r.hold ? ", resumed" : "");
	if (leg_set_neg(g, &r) < 0) {
		explicit_bzero(&r, sizeof(r));
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_CONTACT_STR(g->contact), TAG_END());
		return;
	}
	nua_respond(nh, SIP_200_OK, SIPTAG_CONTACT_STR(g->contact),
		    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(g->neg->sdp), TAG_END());
	session_push(c, (int)li);
	/* Hold and resume go on to the other side. */
	c->leg[li ^ 1].want_hold = r.hold;
	explicit_bzero(&r, sizeof(r));
	call_offer_hold(c, li ^ 1);
}

/* What the dataplane or the media watch would see differently. */
static bool neg_differs(const struct sdp_result *x, const struct sdp_result *y)
{
	struct mg_msg_leg lx, ly;

	memset(&lx, 0, sizeof(lx));
	memset(&ly, 0, sizeof(ly));
	if (sdp_result_to_leg(x, &lx) < 0 || sdp_result_to_leg(y, &ly) < 0)
		return true;
	lx.rx.flags = ly.rx.flags = lx.tx.flags = ly.tx.flags = 0;
	return memcmp(&lx, &ly, sizeof(lx)) != 0 || x->dir != y->dir || x->hold != y->hold ||
	       y->rekey;
}

/* RFC 3326 Reason of the BYEs that end a call over an unusable answer;
 * the text becomes a quoted-string (no '"', '\\' or controls). */
static void set_bye_reason(struct call *c, const char *text)
{
	size_t n = (size_t)snprintf(c->bye_reason, sizeof(c->bye_reason), "SIP;cause=488;text=\"");

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && n + 2 < sizeof(c->bye_reason); p++)
		c->bye_reason[n++] = *p == '"' || *p == '\\' ? '\'' : *p < 0x20 || *p >= 0x7f ? ' ' : (char)*p;
	c->bye_reason[n++] = '"';
	c->bye_reason[n] = '\0';
}

/*
 * ACK on leg @li. After our 2xx carried an offer (late offer, or a
 * re-INVITE without SDP), the ACK carries the answer (RFC 3264 §4): checked
 * with the call's policy like any answer. The late offer of the call: a
 * good answer installs the session, a missing or refused one ends the
 * call (BYE both legs: an ACK cannot be refused). A re-INVITE's answer is
 * applied if it changes the session; without one the session stays as it
 * was (it is what we offered, like a refresh whose offer was ignored).
 */
static void on_ack(struct call *c, unsigned li, const sip_t *sip)
{
	struct call_leg *g = &c->leg[li];
	struct sdp_result *off = g->ack_offer;
	bool first = g->ack_first;
	bool body = sip != NULL && sip->sip_payload != NULL && sip->sip_payload->pl_len > 0;
	const char *who = li == 0 ? "caller" : "callee";
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	int rc;

	if (off == NULL) {
		if (li == 0 && c->state == CALL_ANSWERED) {
			c->state = CALL_ACTIVE;
			MG_INFO("call %u: active", c->id);
		}
		return;
	}
	g->ack_offer = NULL;
	g->ack_first = false;
	if (c->state == CALL_ENDING) {
		explicit_bzero(off, sizeof(*off));
		free(off);
		return;
	}
	if (!body) {
		explicit_bzero(off, sizeof(*off));
		free(off);
		if (first) {
			set_bye_reason(c, "no SDP answer in the ACK");
			call_end(c, 0, NULL, "the %s's ACK has no SDP answer to our offer", who);
		} else {
			MG_INFO("call %u: leg %u's ACK has no SDP answer to our offer: session unchanged", c->id,
				li);
			call_offer_hold(c, li); /* a hold/resume for this leg that waited */
		}
		return;
	}
	r = *off;
	explicit_bzero(off, sizeof(*off));
	free(off);
	pol.local_addr = g->local_ip;
	pol.local_port = g->port.local.port;
	rc = sdp_answer_process(&pol, sip->sip_payload->pl_data, sip->sip_payload->pl_len, &r);
	if (rc < 0 || r.status != 0) {
		set_bye_reason(c, r.warn_text);
		call_end(c, 0, NULL, "the %s's SDP answer in the ACK refused: %.100s", who, r.warn_text);
		explicit_bzero(&r, sizeof(r));
		return;
	}
	if (first) {
		if (leg_set_neg(g, &r) < 0) {
			explicit_bzero(&r, sizeof(r));
			call_end(c, 0, NULL, "out of memory");
			return;
		}
		c->state = CALL_ACTIVE;
		MG_INFO("call %u: the caller answered in the ACK (%s%s)", c->id, r.srtp ? "SRTP " : "RTP",
			r.srtp ? mg_srtp_suite_by_id(r.suite)->sdes_name : "");
		MG_INFO("call %u: active", c->id);
		session_push(c, -1);
		if (r.hold) {
			/* answered on hold (sendonly/inactive): the callee is told */
			c->leg[1].want_hold = true;
			call_offer_hold(c, 1);
		}
		explicit_bzero(&r, sizeof(r));
		return;
	}
	bool changed = neg_differs(leg_neg(g), &r), was_hold = leg_neg(g)->hold;

	MG_INFO("call %u: leg %u's answer in the ACK: %s", c->id, li,
		!changed ? "session unchanged" : r.rekey ? "new keys (ROC reset)" : "session changed");
	if (leg_set_neg(g, &r) < 0) {
		explicit_bzero(&r, sizeof(r));
		call_end(c, 0, NULL, "out of memory");
		return;
	}
	if (changed)
		session_push(c, r.rekey ? (int)li : -1);
	if (r.hold != was_hold) {
		c->leg[li ^ 1].want_hold = r.hold;
		call_offer_hold(c, li ^ 1);
	}
	call_offer_hold(c, li); /* a hold/resume for this leg that waited */
	explicit_bzero(&r, sizeof(r));
}

/* The leg's handle is finished (terminated call state). */
static void on_leg_gone(struct call *c, unsigned li, int status, const char *phrase)
{
	struct call_leg *g = &c->leg[li];

	if (g->gone)
		return;
	g->gone = true;
	nua_handle_bind(g->nh, NULL);
	nua_handle_destroy(g->nh);
	g->nh = NULL;
	if (c->state != CALL_ENDING)
		call_end(c, 500, "Server Internal Error", "%s leg terminated (%d %s)",
			 li == 0 ? "caller" : "callee", status, phrase ? phrase : "");
	call_maybe_free(c);
}

static bool calls_hook(void *arg, unsigned ua_index, nua_event_t event, int status,
		       char const *phrase, nua_t *nua, nua_handle_t *nh, sip_t const *sip,
		       tagi_t tags[])
{
	struct call *c = nh ? nua_handle_magic(nh) : NULL;
	unsigned li;

	(void)arg;
	(void)nua;
	if (c != NULL && !call_is_known(c))
		c = NULL;
	if (c == NULL) {
		if (event != nua_i_invite || nh == NULL || sip == NULL)
			return false;
		call_new(ua_index, nh, sip);
		return true;
	}
	li = nh == c->leg[0].nh ? 0 : 1;
	switch (event) {
	case nua_i_invite:
		on_reinvite(c, li, nh, sip);
		break;
	case nua_r_invite:
		if (c->leg[li].reinv_out)
			on_reinvite_answer(c, li, status, sip);
		else if (li == 1)
			on_leg1_response(c, status, phrase, sip);
		break;
	case nua_i_ack:
		on_ack(c, li, sip);
		break;
	case nua_i_cancel:
		/* nua has answered 200 to the CANCEL and 487 to the INVITE. */
		c->leg[0].final_sent = true;
		call_end(c, 0, NULL, "caller cancelled");
		break;
	case nua_i_bye:
		c->leg[li].bye_rx = true;
		call_end(c, 0, NULL, "BYE from the %s", li == 0 ? "caller" : "callee");
		break;
	case nua_i_state: {
		int cs = -1;

		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated)
			on_leg_gone(c, li, status, phrase);
		break;
	}
	case nua_i_terminated:
		on_leg_gone(c, li, status, phrase);
		break;
	default:
		break;
	}
	return true;
}

/* ------------------------------------------------------------- PSTN */

#ifdef MG_HAVE_PRI
static struct call *pri_owner(struct pri_call *pc, unsigned *li)
{
	struct call *c = pri_call_user(pc);

	if (c == NULL || !call_is_known(c))
		return NULL;
	*li = c->leg[0].pc == pc ? 0 : 1;
	return c;
}

/*
 * The PSTN callee progresses: ALERTING or PROGRESS (with in-band media:
 * the caller gets 180/183 with SDP once the session and the channel are
 * in place), CONNECT (200).
 */
static void pstn_callee_event(struct pri_call *pc, int status, bool media)
{
	unsigned li;
	struct call *c = pri_owner(pc, &li);

	if (c == NULL || li != 1 || c->state == CALL_ENDING)
		return;
	if (status >= 200)
		c->leg[1].final_status = status;
	else if (c->state == CALL_OUTGOING)
		c->state = CALL_EARLY;
	if (c->late) {
		/* The caller made no offer: 180 (no early media), then our
		 * offer in the 200 on CONNECT. */
		if (status >= 200) {
			late_offer_caller(c);
		} else if (!c->ringing_sent) {
			c->ringing_sent = true;
			relay0(c, 180, false);
		}
		return;
	}
	if (!media && status < 200) {
		if (c->relay_status == 0)
			relay0(c, status, c->session_on);
		return;
	}
	c->relay_status = status;
	c->relay_sdp = true;
	if (c->pending > 0)
		return; /* the session or the binding in flight relays it */
	if (c->session_on && c->leg[1].bound) {
		call_relay_pending(c);
		return;
	}
	session_push(c, -1);
}

static void on_pri_alerting(void *arg, struct pri_call *pc, bool inband)
{
	(void)arg;
	pstn_callee_event(pc, inband ? 183 : 180, inband);
}

static void on_pri_progress(void *arg, struct pri_call *pc, bool inband)
{
	(void)arg;
	if (inband)
		pstn_callee_event(pc, 183, true);
}

static void on_pri_answered(void *arg, struct pri_call *pc)
{
	(void)arg;
	pstn_callee_event(pc, 200, true);
}

static void on_pri_ended(void *arg, struct pri_call *pc, int cause)
{
	unsigned li;
	struct call *c = pri_owner(pc, &li);

	(void)arg;
	if (c == NULL)
		return;
	c->leg[li].pc = NULL;
	c->leg[li].gone = true;
	c->leg[li].final_sent = true;
	if (c->state != CALL_ENDING) {
		if (li == 1 && c->leg[1].final_status == 0) {
			int st = mg_q850_to_sip(cause, false);

			if (st < 300)
				st = 480;
			call_end(c, st, static_phrase(st), "PSTN callee released: cause %d (%s)", cause,
				 mg_q850_name(cause));
		} else {
			call_end(c, 0, NULL, "PSTN %s released: cause %d (%s)",
				 li == 0 ? "caller" : "callee", cause, mg_q850_name(cause));
		}
	}
	call_maybe_free(c);
}

/* PSTN in: SETUP with a B-channel held, CALL PROCEEDING sent. */
static void on_pri_incoming(void *arg, struct pri_call *pc)
{
	const struct pri_call_info *info = pri_call_info(pc);
	struct call *c = calloc(1, sizeof(*c));
	struct route_kv kv[16];
	struct route_env env;
	struct route_table *t;
	char envip[64] = "";
	size_t n;
	int rc;

	(void)arg;
	if (c == NULL) {
		pri_call_hangup(pc, 47);
		return;
	}
	call_link(c);
	c->leg[0].pstn = true;
	c->leg[0].pc = pc;
	c->leg[0].channo = info->channo;
	pri_call_set_user(pc, c);
	snprintf(c->from0_user, sizeof(c->from0_user), "%s", info->ani[0] ? info->ani : "anonymous");
	snprintf(c->from0_name, sizeof(c->from0_name), "%s", info->caller_name);
	MG_INFO("call %u: PSTN SETUP %s from %s on %s (channel %u)", c->id, info->dnis,
		info->ani[0] ? info->ani : "(no number)", info->channel_name, info->channo);
	if (call_refused(c))
		return;
	n = pri_call_route_params(pc, kv, 15);
	kv[n++] = (struct route_kv){ "transfer", "false" };
	route_env_ports(&env);
	for (unsigned i = 0; i < sipua_count() && envip[0] == '\0'; i++)
		if (sipua_cfg(i)->addr[0])
			snprintf(envip, sizeof(envip), "%.63s", sipua_cfg(i)->addr);
	if (ce.s->sip_contact_host[0])
		snprintf(envip, sizeof(envip), "%.63s", ce.s->sip_contact_host);
	if (envip[0] == '\0')
		snprintf(envip, sizeof(envip), "127.0.0.1");
	env.host_ip = envip;
	snprintf(c->gw_host, sizeof(c->gw_host), "%s", envip);
	t = route_set_get(&ce.routes);
	rc = t != NULL ? route_match(t, kv, n, &env, &c->route) : -ENOENT;
	route_table_unref(t);
	if (rc == 0)
		c->routed = true;
	if (call_route_failed(c, rc))
		return;
	if (c->route.outbound_interface != ROUTE_IFACE_SIP ||
	    route_result_get(&c->route, "sip.out.requestUri") == NULL) {
		call_end(c, 503, "Service Unavailable", "route %s: PSTN to PSTN is not supported",
			 c->route.rule_name);
		return;
	}
	if (!dpc_is_up(ce.dp)) {
		call_end(c, 503, "Service Unavailable", "dataplane is not connected");
		return;
	}
	call_alloc_ports(c);
}

static const struct pri_mgr_ops calls_pri_ops = {
	.incoming = on_pri_incoming,
	.alerting = on_pri_alerting,
	.progress = on_pri_progress,
	.answered = on_pri_answered,
	.ended = on_pri_ended,
};

/* Nothing but refusals (SETUPs get 41) once the engine has stopped. */
static const struct pri_mgr_ops calls_pri_no_ops;

/* Attach to the daemon's PRI manager (control/main.c starts it first). */
static void calls_pri_start(void)
{
	ce.pri = pri_default();
	if (ce.pri != NULL)
		pri_mgr_set_ops(ce.pri, &calls_pri_ops);
}
#endif

/* ------------------------------------------------------------------ API */

int calls_start(su_root_t *root, const struct mg_settings *s, struct dpc *dp)
{
	char err[512];
	int rc;

	memset(&ce, 0, sizeof(ce));
	ce.root = root;
	ce.s = s;
	ce.dp = dp;
	ce.max_calls = s->max_calls;
	ce.retry_after_s = s->retry_after_s;
	ce.media_timeout_s = s->media_timeout_s;
	ce.lock_on_sdp = s->lock_on_sdp;
	ce.mt_timer = su_timer_create(su_root_task(root), 1000);
	if (ce.mt_timer != NULL)
		su_timer_set_for_ever(ce.mt_timer, on_mt_tick, NULL);
	/* Session ids unique across restarts of the control plane, so a
	 * dataplane that outlived us never sees an id twice. */
	ce.sess_base = ((uint64_t)time(NULL) << 24) | 1;
#ifdef MG_HAVE_PRI
	calls_pri_start();
#endif
	rc = route_set_reload(&ce.routes, s->routing_rules_file, err, sizeof(err));
	if (rc == -ENOENT) {
		/* No rules, no calls: the SIP module keeps answering INVITE with
		 * 503 (a proxy fails over) until a SIGHUP finds the file. */
		MG_WARN("calls: mediagate.routing.rulesFile %s does not exist; INVITEs are refused with 503 until it does (SIGHUP reloads)",
			s->routing_rules_file);
		return 0;
	}
	if (rc < 0) {
		MG_ERR("mediagate.routing.rulesFile: %s", err);
		return rc;
	}
	MG_INFO("calls: %u routing rules from %s", route_table_count(ce.routes.current),
		s->routing_rules_file);
	sipua_set_hook(calls_hook, NULL);
	return 0;
}

void calls_check_routes(void)
{
	struct route_env env;

	if (ce.routes.current == NULL || sipua_count() == 0)
		return;
	route_env_ports(&env);
	route_table_check_env(ce.routes.current, &env);
}

int calls_reload(const struct mg_settings *s)
{
	char err[512];
	int rc = route_set_reload(&ce.routes, s->routing_rules_file, err, sizeof(err));

	if (s->max_calls != ce.max_calls || s->retry_after_s != ce.retry_after_s)
		MG_INFO("SIGHUP: mediagate.calls.maxCalls=%u, retryAfter=%u s (%u calls active)",
			s->max_calls, s->retry_after_s, ce.n_calls);
	if (s->media_timeout_s != ce.media_timeout_s)
		MG_INFO("SIGHUP: mediagate.calls.mediaTimeout=%u s", s->media_timeout_s);
	if (s->lock_on_sdp != ce.lock_on_sdp)
		MG_INFO("SIGHUP: netborder.media.rtp.lockOnSDP=%s for the sessions set up or changed "
			"from now on", s->lock_on_sdp ? "true" : "false");
	ce.lock_on_sdp = s->lock_on_sdp;
	ce.max_calls = s->max_calls;
	ce.retry_after_s = s->retry_after_s;
	ce.media_timeout_s = s->media_timeout_s;
	if (rc < 0)
		MG_ERR("SIGHUP: mediagate.routing.rulesFile: %s; keeping the previous rules", err);
	else {
		MG_INFO("SIGHUP: %u routing rules from %s", route_table_count(ce.routes.current),
			s->routing_rules_file);
		sipua_set_hook(calls_hook, NULL);
		calls_check_routes();
	}
	return rc;
}

void calls_dataplane_state(bool up)
{
	/* A restarted dataplane has lost every session and port: calls whose
	 * media it carried cannot continue. Whatever a live dataplane may still
	 * hold for them is removed when the connection is back. */
	if (up) {
		calls_orphans_clean();
		return;
	}
	for (struct call *c = ce.calls, *n; c != NULL; c = n) {
		n = c->next;
		if (c->state == CALL_ENDING)
			continue;
		if (c->pending == 0)
			call_orphan(c);
		call_end(c, 503, "Service Unavailable", "dataplane connection lost");
	}
}

void calls_stop(void)
{
	ce.stopping = true;
	if (ce.mt_timer != NULL) {
		su_timer_destroy(ce.mt_timer);
		ce.mt_timer = NULL;
	}
	for (struct call *c = ce.calls, *n; c != NULL; c = n) {
		n = c->next;
		call_end(c, 503, "Service Unavailable", "the gateway is shutting down");
	}
	for (int i = 0; i < 30 && ce.calls != NULL; i++)
		su_root_step(ce.root, 100);
	while (ce.calls != NULL) {
		struct call *c = ce.calls;

		MG_WARN("call %u: still %s at shutdown; released", c->id, call_state_names[c->state]);
		for (unsigned li = 0; li < 2; li++)
			c->leg[li].gone = true;
		c->pending = 0;
		c->session_on = c->leg[0].port_ok = c->leg[1].port_ok = false;
		c->state = CALL_ENDING;
		call_maybe_free(c);
	}
	sipua_set_hook(NULL, NULL);
	if (ce.n_orphans)
		MG_WARN("calls: %u ended call(s) may have left sessions or ports in the dataplane (connection down)",
			ce.n_orphans);
	free(ce.orphans);
	ce.orphans = NULL;
	ce.n_orphans = ce.cap_orphans = 0;
#ifdef MG_HAVE_PRI
	if (ce.pri != NULL)
		pri_mgr_set_ops(ce.pri, &calls_pri_no_ops);
	ce.pri = NULL;
#endif
	route_set_clear(&ce.routes);
	MG_INFO("calls: %llu offered, %llu answered, %llu failed (%llu over maxCalls), "
		"%llu ended (%llu by media timeout); %u active",
		(unsigned long long)ce.cnt.offered, (unsigned long long)ce.cnt.answered,
		(unsigned long long)ce.cnt.failed, (unsigned long long)ce.cnt.overload,
		(unsigned long long)ce.cnt.ended, (unsigned long long)ce.cnt.media_timeout,
		ce.n_calls);
}

unsigned calls_active(void)
{
	return ce.n_calls;
}

void calls_get_counters(struct calls_counters *out)
{
	*out = ce.cnt;
}
