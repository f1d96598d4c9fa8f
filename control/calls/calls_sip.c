/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP legs of a call: the nua events of every user agent come here through
 * the sipua hook (an INVITE that belongs to no call starts one), the caller
 * is answered, the callee offered, re-INVITEs answered here and hold/resume
 * passed on, ACKs with an answer applied. docs/calls.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/url.h>

#include "calls_internal.h"
#include "metrics_hooks.h"
#include "mg_log.h"
#ifdef MG_HAVE_PRI
#include "pri_mgr.h"
#endif

static const char *transport_name(enum mg_transport t)
{
	return t == MG_TRANSPORT_UDP ? "udp" : t == MG_TRANSPORT_TCP ? "tcp" : "tls";
}

/* Answer the caller (leg 0, SIP), once finally. */
void call_respond0(struct call *c, int status, const char *warning, bool with_sdp)
{
	struct call_leg *g = &c->leg[0];
	char retry[16];
	bool with_retry = c->overload && status == 503 && calls_ce.retry_after_s > 0;

	if (g->nh == NULL || leg_final_sent(g))
		return;
	snprintf(retry, sizeof(retry), "%u", calls_ce.retry_after_s);
	/* Late offer: the 2xx carries our offer, not an answer. */
	calls_io->respond(g->nh, status, status >= 300 && c->phrase0 ? c->phrase0 : call_static_phrase(status),
			  g->contact, warning,
			  with_retry ? retry : NULL,
			  !with_sdp ? NULL : g->ack_offer ? g->ack_offer->sdp : leg_neg(g)->sdp);
	if (status >= 300)
		leg_set_state(c, 0, LEG_REFUSED);
	else if (status >= 200)
		leg_set_state(c, 0, LEG_ANSWERED);
	else if (status > 100)
		leg_set_state(c, 0, LEG_EARLY);
}

/* @s of a message of the caller (NULL: ""), copied into @home. */
static char *hstr(su_home_t *home, const char *s)
{
	return su_strdup(home, s != NULL ? s : "");
}

/*
 * A display name as its text: a quoted one loses its quotes and quoted-pair
 * escapes (display_quote() adds them back on the out leg). In place.
 */
static void display_unquote(char *s)
{
	size_t l = strlen(s), o = 0;

	if (s[0] != '"')
		return;
	if (l >= 2 && s[l - 1] == '"')
		s[--l] = '\0';
	for (size_t i = 1; i < l; i++) {
		if (s[i] == '\\' && i + 1 < l)
			i++;
		s[o++] = s[i];
	}
	s[o] = '\0';
}

/*
 * A header of the caller's INVITE longer than the gateway takes: the caller
 * is refused (414 for the Request-URI, 400 with a phrase naming the header
 * for From and To), never routed on a cut value. True if it was.
 */
static bool call_too_long(struct call *c, const char *ruri, const char *from_uri, const char *fname,
			  const char *to_uri)
{
	size_t l;

	if ((l = strlen(ruri)) > CALLS_SIP_VALUE_MAX) {
		call_end(c, 414, "Request-URI Too Long", "the Request-URI is %zu bytes (allowed: up to %d)", l,
			 CALLS_SIP_VALUE_MAX);
		return true;
	}
	if ((l = strlen(from_uri)) > CALLS_SIP_VALUE_MAX || (l = strlen(fname)) > CALLS_SIP_VALUE_MAX) {
		c->phrase0 = "From Header Too Long";
		call_end(c, 400, c->phrase0, "the From %s is %zu bytes (allowed: up to %d)",
			 strlen(from_uri) > CALLS_SIP_VALUE_MAX ? "URI" : "display name", l, CALLS_SIP_VALUE_MAX);
		return true;
	}
	if ((l = strlen(to_uri)) > CALLS_SIP_VALUE_MAX) {
		c->phrase0 = "To Header Too Long";
		call_end(c, 400, c->phrase0, "the To URI is %zu bytes (allowed: up to %d)", l, CALLS_SIP_VALUE_MAX);
		return true;
	}
	return false;
}

/*
 * Route the caller's INVITE by its sip.in.* parameters (docs/calls.md).
 * Every value is whole (strings of @home, any length up to
 * CALLS_SIP_VALUE_MAX). Returns 0, the route_match() error, or 1 if the
 * call was refused here (ended).
 */
static int call_route(struct call *c, const sip_t *sip, unsigned ua_index)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	const url_t *ru = sip->sip_request->rq_url, *fu = sip->sip_from->a_url, *tu = sip->sip_to->a_url;
	char *ruri = url_as_string(home, ru), *from_uri = url_as_string(home, fu),
	     *to_uri = url_as_string(home, tu), *fname = hstr(home, sip->sip_from->a_display);
	const char *rhost = ru->url_host ? ru->url_host : "";
	struct route_kv kv[16];
	size_t n = 0;
	struct route_env env;
	const struct mg_sip_ua *uac = calls_io->ua_cfg(ua_index);
	int rc;

	if (ruri == NULL || from_uri == NULL || to_uri == NULL || fname == NULL) {
		su_home_deinit(home);
		return -ENOMEM;
	}
	display_unquote(fname);
	if (call_too_long(c, ruri, from_uri, fname, to_uri)) {
		su_home_deinit(home);
		return 1;
	}
	kv[n++] = (struct route_kv){ "sip.in.requestUri", ruri };
	kv[n++] = (struct route_kv){ "sip.in.requestUri.user", ru->url_user ? ru->url_user : "" };
	kv[n++] = (struct route_kv){ "sip.in.requestUri.host", rhost };
	kv[n++] = (struct route_kv){ "sip.in.from.uri", from_uri };
	kv[n++] = (struct route_kv){ "sip.in.from.user", fu->url_user ? fu->url_user : "" };
	kv[n++] = (struct route_kv){ "sip.in.from.host", fu->url_host ? fu->url_host : "" };
	kv[n++] = (struct route_kv){ "sip.in.from.displayName", fname };
	kv[n++] = (struct route_kv){ "sip.in.to.uri", to_uri };
	kv[n++] = (struct route_kv){ "sip.in.to.user", tu->url_user ? tu->url_user : "" };
	kv[n++] = (struct route_kv){ "sip.in.transport", uac ? transport_name(uac->transport) : "udp" };
	kv[n++] = (struct route_kv){ "transfer", "false" };

	calls_route_env(&env);
	c->gw_host = strdup(calls_ce.s->sip_contact_host[0] ? calls_ce.s->sip_contact_host :
			    uac && uac->addr[0]			 ? uac->addr :
								   rhost);
	env.host_ip = c->gw_host;
	c->from0_user = strdup(fu->url_user ? fu->url_user : "");
	c->from0_name = strdup(fname);
	rc = c->gw_host == NULL || c->from0_user == NULL || c->from0_name == NULL ? -ENOMEM : calls_route_lookup(c, kv, n, &env);
	su_home_deinit(home);
	return rc;
}

/* ---------------------------------------------------------- out leg */

/*
 * @name as a SIP quoted-string (RFC 3261 25.1): '"' and '\\' escaped,
 * control characters left out. The text comes from the caller (From
 * display name, ISDN calling name) or a rule; unescaped it would end the
 * string early and make the From/To header unparsable. Whole, in @home;
 * NULL without memory.
 */
static char *display_quote(su_home_t *home, const char *name)
{
	char *out = su_alloc(home, 2 * strlen(name) + 3);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			continue;
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = (char)*p;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* The user agent the out leg leaves from: the first with its transport. */
static int out_ua(enum mg_transport want)
{
	for (unsigned i = 0; i < calls_io->ua_count(); i++)
		if (calls_io->ua_cfg(i)->transport == want)
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
	su_home_t home[1] = { SU_HOME_INIT(home) };
	const char *from, *to, *target, *fq, *tq;
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
	pol.local_port = media_call_port(&c->mc, 1);
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
	/* sofia needs the transport in the URI to pick the connection. The
	 * headers are whole whatever their length (strings of @home). */
	target = strstr(ruri, "transport=") ? su_strdup(home, ruri) :
					       su_sprintf(home, "%s;transport=%s", ruri, transport_name(want));
	/* a display name goes in quoted: @fq / @tq, NULL without one */
	from_name = from_uri == NULL || from_uri[0] == '\0' ? c->from0_name : from_name;
	fq = from_name != NULL && from_name[0] != '\0' ? display_quote(home, from_name) : NULL;
	tq = to_name != NULL && to_name[0] != '\0' ? display_quote(home, to_name) : NULL;
	if (from_uri == NULL || from_uri[0] == '\0')
		from_uri = su_sprintf(home, "sip:%s@%s",
				      c->from0_user && c->from0_user[0] ? c->from0_user : "anonymous", c->gw_host);
	if (to_uri == NULL)
		to_uri = ruri;
	from = from_uri == NULL ? NULL : su_sprintf(home, "%s%s<%s>", fq ? fq : "", fq ? " " : "", from_uri);
	to = su_sprintf(home, "%s%s<%s>", tq ? tq : "", tq ? " " : "", to_uri);
	free(c->target);
	c->target = target ? strdup(target) : NULL;
	if (c->target == NULL || from == NULL || to == NULL || (from_name && from_name[0] && !fq) ||
	    (to_name && to_name[0] && !tq)) {
		su_home_deinit(home);
		call_end(c, 500, "Server Internal Error", "out of memory");
		return;
	}
	b->ua = (unsigned)ua;
	calls_io->ua_contact((unsigned)ua, NULL, b->contact, sizeof(b->contact));
	b->nh = calls_io->handle((unsigned)ua, c, to, from);
	if (b->nh == NULL) {
		su_home_deinit(home);
		call_end(c, 500, "Server Internal Error", "cannot create the out-leg handle");
		return;
	}
	leg_set_state(c, 1, LEG_CALLING);
	call_set_state(c, CALL_OUTGOING);
	MG_INFO("call %u: routed by rule %s to %s (from %s), SRTP %s", c->id, c->route.rule_name,
		target, from, c->offer1->n_offered ? "offered" : "not offered");
	calls_io->invite(b->nh, target, b->contact, c->offer1->sdp);
	su_home_deinit(home);
}
/* ------------------------------------------------------------ SIP events */

static void call_new(unsigned ua_index, nua_handle_t *nh, const sip_t *sip)
{
	struct call *c = calloc(1, sizeof(*c));
	struct call_leg *a;
	struct sdp_result probe;
	char warn[320];
	int rc;

	if (c == NULL) {
		calls_io->respond(nh, SIP_500_INTERNAL_SERVER_ERROR, NULL, NULL, NULL, NULL);
		calls_io->handle_destroy(nh);
		return;
	}
	call_link(c);
	a = &c->leg[0];
	a->nh = nh;
	a->ua = ua_index;
	call_dialog_take(c, 0, sip, true);
	calls_io->handle_bind(nh, c);
	calls_io->ua_contact(ua_index, sip, a->contact, sizeof(a->contact));

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
	if (rc > 0 || call_route_failed(c, rc))
		return;
	if (c->route.outbound_interface == ROUTE_IFACE_PSTN) {
		if (calls_ce.pri == NULL) {
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
		 * caller gets one in our 2xx and answers in its ACK (call_sip_ack()). */
		const sip_via_t *v = sip->sip_via;
		const char *src = v ? (v->v_received ? v->v_received : v->v_host) : NULL;

		c->late = true;
		MG_INFO("call %u: no SDP in the INVITE (late offer): the caller's offer comes in our 2xx",
			c->id);
		if (!media_dp_up()) {
			call_end(c, 503, "Service Unavailable", "dataplane is not connected");
			return;
		}
		/* The caller's media address is not known yet: its signalling
		 * source is the best guess for the dataplane address. */
		call_pick_local_ip(src, a->local_ip, sizeof(a->local_ip));
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
		calls_ce.cnt.failed++;
		calls_io->respond(nh, st, st == 488 ? "Not Acceptable Here" : "Bad Request", a->contact,
				  warn, NULL, NULL);
		leg_set_state(c, 0, LEG_REFUSED);
		call_set_state(c, CALL_ENDING);
		call_maybe_free(c);
		return;
	}
	if (!media_dp_up()) {
		call_end(c, 503, "Service Unavailable", "dataplane is not connected");
		return;
	}
	call_pick_local_ip(probe.remote_addr, a->local_ip, sizeof(a->local_ip));
	call_alloc_ports(c);
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
	pol.local_port = media_call_port(&c->mc, 1);
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
	media_call_candidate(&c->mc, &r); /* RFC 3960: a fork's source */
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
 * in the ACK (call_sip_ack()), which installs the session.
 */
void call_late_offer_caller(struct call *c)
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
	pol.local_port = media_call_port(&c->mc, 0);
	pol.media_type = NULL;
	pol.sess_id = 0;
	leg_ack_offer_drop(a);
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
	MG_INFO("call %u: late offer: 200 to the caller with our offer (%u payload types, SRTP %s); its answer is due in the ACK",
		c->id, a->ack_offer->n_pts, a->ack_offer->n_offered ? "offered" : "not offered");
	call_respond0(c, 200, NULL, true);
	call_set_state(c, CALL_ANSWERED);
	calls_ce.cnt.answered++;
	metrics_observe_sip_setup((double)(calls_now_ms() - c->invite_ms) / 1e3);
	media_idle_restart(&a->mt, calls_now_ms());
	media_idle_restart(&b->mt, calls_now_ms());
}

static void on_leg1_response(struct call *c, int status, const char *phrase, const sip_t *sip)
{
	struct call_leg *b = &c->leg[1];
	bool sdp = sip && sip->sip_payload && sip->sip_payload->pl_len > 0;

	if (status >= 200 && (b->state == LEG_CALLING || b->state == LEG_EARLY))
		leg_set_state(c, 1, status < 300 ? LEG_ANSWERED : LEG_REFUSED);
	if (c->state == CALL_ENDING) {
		/* 200 crossing our CANCEL: hang it up. */
		if (status >= 200 && status < 300 && b->nh && b->state != LEG_GONE)
			calls_io->bye(b->nh, NULL);
		return;
	}
	if (status < 180 && status >= 100)
		return;
	if (status < 200) {
		if (b->state == LEG_CALLING)
			leg_set_state(c, 1, LEG_EARLY);
		if (c->state == CALL_OUTGOING)
			call_set_state(c, CALL_EARLY);
		if (c->late) {
			/* No early media towards a caller that has made no offer
			 * (it would need an offer in a reliable 18x): 180, once.
			 * An early SDP still counts (candidates, a 2xx without SDP). */
			if (sdp)
				(void)leg1_answer(c, sip);
			if (c->leg[0].state == LEG_INVITED)
				call_respond0(c, 180, NULL, false); /* leg 0 early: once */
			return;
		}
		if (sdp && leg1_answer(c, sip) == 0) {
			/* Early media: install, then tell the caller with our SDP. */
			c->relay_status = status;
			c->relay_sdp = true;
			call_session_push(c, -1);
		} else if (c->relay_status == 0) {
			call_relay0(c, status, media_call_installed(&c->mc));
		}
		return;
	}
	if (status < 300) {
		if (sdp) {
			if (leg1_answer(c, sip) < 0) {
				call_end(c, 488, "Not Acceptable Here", "%s", c->why);
				return;
			}
		} else if (b->neg == NULL) {
			call_end(c, 502, "Bad Gateway", "callee answered without SDP");
			return;
		}
		if (c->late) {
			MG_INFO("call %u: answered by the callee (%s%s)", c->id, leg_neg(b)->srtp ? "SRTP " : "RTP",
				leg_neg(b)->srtp ? mg_srtp_suite_by_id(leg_neg(b)->suite)->sdes_name : "");
			call_late_offer_caller(c);
			return;
		}
		c->relay_status = 200;
		c->relay_sdp = true;
		MG_INFO("call %u: answered by the callee (%s%s)", c->id,
			leg_neg(b)->srtp ? "SRTP " : "RTP",
			leg_neg(b)->srtp ? mg_srtp_suite_by_id(leg_neg(b)->suite)->sdes_name : "");
		call_session_push(c, -1);
		return;
	}
	{
		const char *ph = phrase;
		int st = map_status(status, &ph);

		call_end(c, st, ph, "callee answered %d %s", status, phrase);
	}
}

/*
 * The peer's BYE: none goes back. A caller not answered yet (a BYE in its
 * early dialog) still gets its error answer from call_end(), so its leg
 * stays where it is; a leg already closing or gone has nothing more to do.
 */
static void on_bye(struct call *c, unsigned li)
{
	struct call_leg *g = &c->leg[li];

	if ((li == 0 && !leg_final_sent(g)) || g->state == LEG_CLOSING || g->state == LEG_GONE ||
	    g->state == LEG_IDLE)
		return;
	leg_set_state(c, li, LEG_BYE_RX);
}

/* The leg's handle is finished (terminated call state). */
static void on_leg_gone(struct call *c, unsigned li, int status, const char *phrase)
{
	struct call_leg *g = &c->leg[li];

	if (g->state == LEG_GONE)
		return;
	leg_set_state(c, li, LEG_GONE);
	calls_io->handle_bind(g->nh, NULL);
	calls_io->handle_destroy(g->nh);
	g->nh = NULL;
	if (c->state != CALL_ENDING)
		call_end(c, 500, "Server Internal Error", "%s leg terminated (%d %s)",
			 li == 0 ? "caller" : "callee", status, phrase ? phrase : "");
	call_maybe_free(c);
}

bool calls_sip_hook(void *arg, unsigned ua_index, nua_event_t event, int status,
		    char const *phrase, nua_t *nua, nua_handle_t *nh, sip_t const *sip,
		    tagi_t tags[])
{
	struct call *c = nh ? calls_io->handle_magic(nh) : NULL;
	unsigned li;

	(void)arg;
	(void)nua;
	if (event == nua_r_method && calls_peer_response(nh, status))
		return true;
	if (c != NULL && !call_is_known(c))
		c = NULL;
	if (c == NULL) {
		if (event != nua_i_invite || nh == NULL || sip == NULL)
			return false;
		call_new(ua_index, nh, sip);
		return true;
	}
	li = nh == c->leg[0].nh ? 0 : 1;
	if (sip != NULL && (event == nua_i_invite || event == nua_i_ack || event == nua_i_bye))
		call_dialog_take(c, li, sip, true);
	else if (sip != NULL && event == nua_r_invite && status >= 101)
		call_dialog_take(c, li, sip, false);
	switch (event) {
	case nua_i_invite:
		call_sip_reinvite(c, li, nh, sip);
		break;
	case nua_r_invite:
		if (c->leg[li].reoffer != NULL)
			call_sip_reinvite_answer(c, li, status, sip);
		else if (li == 1)
			on_leg1_response(c, status, phrase, sip);
		break;
	case nua_i_ack:
		call_sip_ack(c, li, sip);
		break;
	case nua_i_cancel:
		/* nua has answered 200 to the CANCEL and 487 to the INVITE. */
		if (!leg_final_sent(&c->leg[0]))
			leg_set_state(c, 0, LEG_REFUSED);
		call_end(c, 0, NULL, "caller cancelled");
		break;
	case nua_i_bye:
		on_bye(c, li);
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

/* ------------------------------------------------------- calls_leg_ops */

/* Both ports: the caller's SDP is answered (a late-offer caller gets an
 * offer of ours once the callee answered). */
static int sip_ports_ready(struct call *c)
{
	struct call_leg *a = &c->leg[0];
	struct sdp_policy pol;
	struct sdp_result r;
	int rc;

	if (c->late)
		return 0;
	pol = c->pol;
	pol.local_addr = a->local_ip;
	pol.local_port = media_call_port(&c->mc, 0);
	rc = sdp_answer(&pol, c->offer0, c->offer0_len, NULL, &r);
	call_offer0_drop(c); /* answered: not needed any more */
	if (rc < 0 || r.status != 0) {
		sdp_warning_header(&r, CALL_AGENT, c->warn, sizeof(c->warn));
		call_end(c, r.status ? r.status : 500, "Not Acceptable Here", "%s", r.warn_text);
		return -EPROTO;
	}
	rc = leg_set_neg(a, &r);
	explicit_bzero(&r, sizeof(r));
	if (rc < 0) {
		call_end(c, 500, "Server Internal Error", "out of memory");
		return rc;
	}
	return 0;
}

static void sip_progress(struct call *c, int status, bool with_sdp)
{
	call_respond0(c, status, NULL, with_sdp);
}

/* The caller gets its error answer if it has none yet (with the Warning of
 * why), an established leg BYE, a pending out leg CANCEL. */
static void sip_hang_up(struct call *c, unsigned li, int status, const char *phrase)
{
	struct call_leg *g = &c->leg[li];
	const char *reason = c->bye_reason[0] ? c->bye_reason : NULL;
	char warn[320];

	(void)phrase;
	if (c->adopted && (!c->resumed || g->nh == NULL)) {
		/* taken over at start but never re-established (the dataplane no
		 * longer held its media, or SIP was not open yet): nua holds no
		 * dialog to end */
		if (g->nh != NULL) {
			calls_io->handle_bind(g->nh, NULL);
			calls_io->handle_destroy(g->nh);
		}
		g->nh = NULL;
		leg_set_state(c, li, LEG_GONE);
		return;
	}
	if (g->nh == NULL)
		return;
	switch (g->state) {
	case LEG_INVITED:
	case LEG_CALLING:
	case LEG_EARLY:
		if (li == 1) {
			calls_io->cancel(g->nh);
			leg_set_state(c, li, LEG_CLOSING);
			break;
		}
		if (status == 0)
			status = 500;
		if (c->warn[0])
			memcpy(warn, c->warn, sizeof(warn) - 1), warn[sizeof(warn) - 1] = '\0';
		else
			snprintf(warn, sizeof(warn), "399 %s \"%.200s\"", CALL_AGENT, c->why);
		call_respond0(c, status, warn, false); /* the leg is REFUSED then */
		calls_ce.cnt.failed++;
		break;
	case LEG_ANSWERED:
	case LEG_CONFIRMED:
		if (c->adopted && g->reoffer != NULL) {
			/* its take-over re-INVITE is unanswered: nua sees an INVITE
			 * in progress and would CANCEL it; the BYE goes with the
			 * answer (call_sip_reinvite_answer()) */
			g->bye_after_answer = true;
			leg_set_state(c, li, LEG_CLOSING);
			break;
		}
		calls_io->bye(g->nh, reason);
		leg_set_state(c, li, LEG_CLOSING);
		break;
	case LEG_REFUSED:
		/* The callee's error answer ended its leg. The caller's leg is
		 * REFUSED here only after its CANCEL (call_end() sends the
		 * other error answers itself); it has always been sent a BYE
		 * then, which nua handles without a dialog to end. */
		if (li == 0) {
			calls_io->bye(g->nh, reason);
			leg_set_state(c, li, LEG_CLOSING);
		}
		break;
	case LEG_IDLE:
	case LEG_BYE_RX:
	case LEG_CLOSING:
	case LEG_GONE:
	case LEG_STATE_COUNT:
		break;
	}
}

const struct calls_leg_ops calls_sip_ops = {
	.ports_ready = sip_ports_ready,
	.place = call_send_invite,
	.progress = sip_progress,
	.hang_up = sip_hang_up,
	.resume = call_sip_resume,
};
