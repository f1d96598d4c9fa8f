/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offers and answers on an established SIP leg, after the call's own: a
 * re-INVITE is answered here (re-key, hold, resume, or without SDP: a 200
 * offering the session as it stands, answered in the ACK), hold and resume
 * are passed on to the other leg as our re-INVITE, and an answer in an ACK
 * (also a late-offer caller's first) is applied. docs/calls.md, "Re-INVITE"
 * and "Late offer".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>

#include "calls_internal.h"
#include "mg_log.h"

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

	if (g->pstn || g->nh == NULL || g->state == LEG_GONE || g->reoffer != NULL ||
	    g->ack_offer != NULL || g->neg == NULL || g->want_hold == g->sent_hold ||
	    c->state != CALL_ACTIVE || (o == 1 && g->state != LEG_ANSWERED))
		return;
	/* The session as it stands with the new direction: same payload
	 * numbers, crypto line and key, m= layout (RFC 3264 §8). */
	pol.local_addr = g->local_ip;
	pol.local_port = media_call_port(&c->mc, o);
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
	/* Kept only while the re-INVITE is out (call_sip_reinvite_answer()). */
	sdp_result_free(g->reoffer);
	g->reoffer = sdp_result_keep(&r);
	explicit_bzero(&r, sizeof(r));
	if (g->reoffer == NULL) {
		MG_WARN("call %u: cannot offer %s to leg %u: out of memory", c->id,
			g->want_hold ? "hold" : "resume", o);
		return;
	}
	g->sent_hold = g->want_hold;
	MG_INFO("call %u: re-INVITE to leg %u: %s", c->id, o, g->want_hold ? "hold (sendonly)" : "resume");
	calls_io->invite(g->nh, NULL, g->contact, g->reoffer->sdp);
}

/* The answer to our hold/resume re-INVITE on leg @o. */
void call_sip_reinvite_answer(struct call *c, unsigned o, int status, const sip_t *sip)
{
	struct call_leg *g = &c->leg[o];
	struct sdp_policy pol = c->pol;
	struct sdp_result r, *off;

	if (status < 200)
		return;
	off = g->reoffer; /* answered: our offer goes now, whatever the answer */
	g->reoffer = NULL;
	if (g->bye_after_answer) {
		/* the call ended while the take-over re-INVITE was out: the
		 * dialog is nua's now (2xx, ACKed by nua), the BYE goes; an
		 * error answer ended the dialog (the leg goes with its handle) */
		g->bye_after_answer = false;
		sdp_result_free(off);
		if (status < 300 && g->nh != NULL)
			calls_io->bye(g->nh, c->bye_reason[0] ? c->bye_reason : NULL);
		return;
	}
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
	pol.local_port = media_call_port(&c->mc, o);
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
	call_session_push(c, r.rekey ? (int)o : -1);
	explicit_bzero(&r, sizeof(r));
	call_offer_hold(c, o); /* a newer change that waited */
}

/* A re-INVITE on an established leg: answered here, the dataplane follows. */
void call_sip_reinvite(struct call *c, unsigned li, nua_handle_t *nh, const sip_t *sip)
{
	struct call_leg *g = &c->leg[li];
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	char warn[320];
	int rc;

	/* Not while an offer/answer of this leg is open (our re-INVITE, an
	 * offer in a 2xx whose ACK has not come), nor before a late-offer
	 * caller has answered (the session is not installed yet). */
	if ((c->state != CALL_ACTIVE && c->state != CALL_ANSWERED) || g->neg == NULL ||
	    g->reoffer != NULL || g->ack_offer != NULL || (c->late && c->leg[0].neg == NULL)) {
		calls_io->respond(nh, SIP_491_REQUEST_PENDING, g->contact, NULL, NULL, NULL);
		return;
	}
	if (sip->sip_payload == NULL || sip->sip_payload->pl_len == 0) {
		/* Offerless re-INVITE (session refresh, RFC 3261 14.2): the 200
		 * offers the session as it stands; the ACK brings the answer. */
		struct sdp_result *off = malloc(sizeof(*off));

		pol.local_addr = g->local_ip;
		pol.local_port = media_call_port(&c->mc, li);
		pol.media_type = g->sent_hold ? "sendonly" : li == 1 ? c->route.media_type : NULL;
		pol.last_sent_version = g->sent_version;
		if (off == NULL || sdp_offer_current(&pol, g->neg, off) < 0) {
			MG_WARN("call %u: re-INVITE without SDP on leg %u: cannot offer the session: %s", c->id,
				li, off ? off->warn_text : "out of memory");
			if (off != NULL)
				explicit_bzero(off, sizeof(*off)); /* may hold our key already */
			free(off);
			calls_io->respond(nh, SIP_500_INTERNAL_SERVER_ERROR, g->contact, NULL, NULL, NULL);
			return;
		}
		g->ack_offer = off;
		if (off->sess_version > g->sent_version)
			g->sent_version = off->sess_version;
		MG_INFO("call %u: re-INVITE without SDP on leg %u: 200 offers the current session (o= version %llu, %s)",
			c->id, li, (unsigned long long)off->sess_version,
			off->sess_version == g->neg->sess_version ? "SDP unchanged" : "SDP changed");
		calls_io->respond(nh, SIP_200_OK, g->contact, NULL, NULL, off->sdp);
		return;
	}
	pol.local_addr = g->local_ip;
	pol.local_port = media_call_port(&c->mc, li);
	if (li == 1)
		pol.media_type = c->route.media_type;
	rc = sdp_answer(&pol, sip->sip_payload->pl_data, sip->sip_payload->pl_len, g->neg, &r);
	if (rc < 0 || r.status != 0) {
		sdp_warning_header(&r, CALL_AGENT, warn, sizeof(warn));
		MG_INFO("call %u: re-INVITE on leg %u refused: %s", c->id, li, r.warn_text);
		calls_io->respond(nh, r.status ? r.status : 488, "Not Acceptable Here", g->contact, warn,
				  NULL, NULL);
		return;
	}
	MG_INFO("call %u: re-INVITE on leg %u: %s%s%s", c->id, li, r.rekey ? "new keys (ROC reset)" : "same keys",
		r.hold ? ", on hold" : "", g->neg->hold && !r.hold ? ", resumed" : "");
	if (leg_set_neg(g, &r) < 0) {
		explicit_bzero(&r, sizeof(r));
		calls_io->respond(nh, SIP_500_INTERNAL_SERVER_ERROR, g->contact, NULL, NULL, NULL);
		return;
	}
	calls_io->respond(nh, SIP_200_OK, g->contact, NULL, NULL, g->neg->sdp);
	call_session_push(c, (int)li);
	/* Hold and resume go on to the other side. */
	c->leg[li ^ 1].want_hold = r.hold;
	explicit_bzero(&r, sizeof(r));
	call_offer_hold(c, li ^ 1);
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
void call_sip_ack(struct call *c, unsigned li, const sip_t *sip)
{
	struct call_leg *g = &c->leg[li];
	struct sdp_result *off = g->ack_offer;
	/* The answer to the late offer of the call itself (our first 2xx to
	 * the caller), not to a re-INVITE's. */
	bool first = off != NULL && li == 0 && c->late && g->state == LEG_ANSWERED;
	bool body = sip != NULL && sip->sip_payload != NULL && sip->sip_payload->pl_len > 0;
	const char *who = li == 0 ? "caller" : "callee";
	struct sdp_policy pol = c->pol;
	struct sdp_result r;
	int rc;

	if (li == 0 && g->state == LEG_ANSWERED && c->state != CALL_ENDING)
		leg_set_state(c, 0, LEG_CONFIRMED);
	if (off == NULL) {
		if (li == 0 && c->state == CALL_ANSWERED) {
			call_set_state(c, CALL_ACTIVE);
			MG_INFO("call %u: active", c->id);
		}
		return;
	}
	g->ack_offer = NULL;
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
	pol.local_port = media_call_port(&c->mc, li);
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
		call_set_state(c, CALL_ACTIVE);
		MG_INFO("call %u: the caller answered in the ACK (%s%s)", c->id, r.srtp ? "SRTP " : "RTP",
			r.srtp ? mg_srtp_suite_by_id(r.suite)->sdes_name : "");
		MG_INFO("call %u: active", c->id);
		call_session_push(c, -1);
		if (r.hold) {
			/* answered on hold (sendonly/inactive): the callee is told */
			c->leg[1].want_hold = true;
			call_offer_hold(c, 1);
		}
		explicit_bzero(&r, sizeof(r));
		return;
	}
	bool changed = media_call_neg_differs(leg_neg(g), &r), was_hold = leg_neg(g)->hold;

	MG_INFO("call %u: leg %u's answer in the ACK: %s", c->id, li,
		!changed ? "session unchanged" : r.rekey ? "new keys (ROC reset)" : "session changed");
	if (leg_set_neg(g, &r) < 0) {
		explicit_bzero(&r, sizeof(r));
		call_end(c, 0, NULL, "out of memory");
		return;
	}
	if (changed)
		call_session_push(c, r.rekey ? (int)li : -1);
	if (r.hold != was_hold) {
		c->leg[li ^ 1].want_hold = r.hold;
		call_offer_hold(c, li ^ 1);
	}
	call_offer_hold(c, li); /* a hold/resume for this leg that waited */
	explicit_bzero(&r, sizeof(r));
}
