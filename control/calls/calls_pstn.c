/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PSTN legs of a call (ISDN PRI, control/pri; built with libpri): a SETUP
 * from a span starts a call routed to SIP, a route to the PSTN places one,
 * and the pri_mgr events (ALERTING, PROGRESS, CONNECT, release) drive the
 * call like a SIP callee's answers. docs/calls.md, "PSTN legs".
 */
#ifdef MG_HAVE_PRI
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls_internal.h"
#include "mg_log.h"
#include "mg_tdm_cause.h"
#include "pri_mgr.h"

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
	rc = pri_call_place(calls_ce.pri, &req, c, &pc);
	if (rc < 0) {
		int cause = pri_mgr_place_cause(rc);
		int st = mg_q850_to_sip(cause, false);

		if (st < 300)
			st = 503;
		call_end(c, st, call_static_phrase(st), "PSTN: cause %d (%s)", cause, mg_q850_name(cause));
		return;
	}
	b->pc = pc;
	b->channo = pri_call_info(pc)->channo;
	leg_set_state(c, 1, LEG_CALLING);
	call_set_state(c, CALL_OUTGOING);
	MG_INFO("call %u: routed by rule %s to the PSTN: %s on %s (channel %u)", c->id,
		c->route.rule_name, req.dnis, pri_call_info(pc)->channel_name, b->channo);
}

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
	if (status >= 200) {
		leg_set_state(c, 1, LEG_ANSWERED);
	} else {
		if (c->leg[1].state == LEG_CALLING)
			leg_set_state(c, 1, LEG_EARLY);
		if (c->state == CALL_OUTGOING)
			call_set_state(c, CALL_EARLY);
	}
	if (c->late) {
		/* The caller made no offer: 180 (no early media), then our
		 * offer in the 200 on CONNECT. */
		if (status >= 200) {
			call_late_offer_caller(c);
		} else if (c->leg[0].state == LEG_INVITED) {
			call_relay0(c, 180, false); /* once: the caller's leg is early then */
		}
		return;
	}
	if (!media && status < 200) {
		if (c->relay_status == 0)
			call_relay0(c, status, media_call_installed(&c->mc));
		return;
	}
	c->relay_status = status;
	c->relay_sdp = true;
	if (media_call_busy(&c->mc))
		return; /* the session or the binding in flight relays it */
	if (media_call_installed(&c->mc) && media_call_bound(&c->mc, 1)) {
		call_relay_pending(c);
		return;
	}
	call_session_push(c, -1);
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
	bool unanswered = c->leg[li].state == LEG_CALLING || c->leg[li].state == LEG_EARLY;

	c->leg[li].pc = NULL;
	leg_set_state(c, li, LEG_GONE);
	if (c->state != CALL_ENDING) {
		if (li == 1 && unanswered) {
			int st = mg_q850_to_sip(cause, false);

			if (st < 300)
				st = 480;
			call_end(c, st, call_static_phrase(st), "PSTN callee released: cause %d (%s)", cause,
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
	const char *envip = "";
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
	c->from0_user = strdup(info->ani[0] ? info->ani : "anonymous");
	c->from0_name = strdup(info->caller_name);
	MG_INFO("call %u: PSTN SETUP %s from %s on %s (channel %u)", c->id, info->dnis,
		info->ani[0] ? info->ani : "(no number)", info->channel_name, info->channo);
	if (call_refused(c))
		return;
	n = pri_call_route_params(pc, kv, 15);
	kv[n++] = (struct route_kv){ "transfer", "false" };
	calls_route_env(&env);
	for (unsigned i = 0; i < calls_io->ua_count() && envip[0] == '\0'; i++)
		envip = calls_io->ua_cfg(i)->addr;
	if (calls_ce.s->sip_contact_host[0])
		envip = calls_ce.s->sip_contact_host;
	if (envip[0] == '\0')
		envip = "127.0.0.1";
	c->gw_host = strdup(envip);
	env.host_ip = c->gw_host;
	rc = c->gw_host == NULL || c->from0_user == NULL || c->from0_name == NULL ?
		     -ENOMEM :
		     calls_route_lookup(c, kv, n, &env);
	if (call_route_failed(c, rc))
		return;
	if (c->route.outbound_interface != ROUTE_IFACE_SIP ||
	    route_result_get(&c->route, "sip.out.requestUri") == NULL) {
		call_end(c, 503, "Service Unavailable", "route %s: PSTN to PSTN is not supported",
			 c->route.rule_name);
		return;
	}
	if (!media_dp_up()) {
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
void calls_pstn_start(void)
{
	calls_ce.pri = pri_default();
	if (calls_ce.pri != NULL)
		pri_mgr_set_ops(calls_ce.pri, &calls_pri_ops);
}

void calls_pstn_stop(void)
{
	if (calls_ce.pri != NULL)
		pri_mgr_set_ops(calls_ce.pri, &calls_pri_no_ops);
	calls_ce.pri = NULL;
}

/* ------------------------------------------------------- calls_leg_ops */

static int pstn_ports_ready(struct call *c)
{
	(void)c;
	return 0; /* nothing to answer: CONNECT follows the callee's answer */
}

/* The ISDN message that means what the SIP answer would: 180 ALERTING,
 * 183 with media PROGRESS, 2xx CONNECT. */
static void pstn_progress(struct call *c, int status, bool with_sdp)
{
	struct call_leg *a = &c->leg[0];

	if (a->pc == NULL)
		return;
	if (status >= 200 && status < 300) {
		pri_call_answer(a->pc);
		leg_set_state(c, 0, LEG_ANSWERED);
	} else if (status == 180 || (status > 100 && status < 200 && with_sdp)) {
		if (status == 180)
			pri_call_alerting(a->pc, with_sdp);
		else
			pri_call_progress(a->pc);
		if (a->state == LEG_INVITED)
			leg_set_state(c, 0, LEG_EARLY);
	}
}

/* A PSTN leg is cleared at once; no callback follows pri_call_hangup(). */
static void pstn_hang_up(struct call *c, unsigned li, int status, const char *phrase)
{
	struct call_leg *g = &c->leg[li];
	int cause = 16;

	(void)phrase;
	if (g->pc == NULL)
		return;
	/* The caller's leg has its release cause from @status: it is not
	 * released yet (pc is there), whether alerted or connected. */
	if (li == 0 && status >= 300) {
		cause = mg_sip_to_q850(status);
		if (status == ROUTE_NO_ROUTE_SIP_STATUS)
			cause = ROUTE_NO_ROUTE_Q850_CAUSE;
		if (c->overload)
			cause = 42; /* switching equipment congestion */
		calls_ce.cnt.failed++;
	}
	MG_INFO("call %u: PSTN leg %u released with cause %d (%s)", c->id, li, cause,
		mg_q850_name(cause));
	pri_call_set_user(g->pc, NULL);
	pri_call_hangup(g->pc, cause);
	g->pc = NULL;
	leg_set_state(c, li, LEG_GONE);
}

const struct calls_leg_ops calls_pstn_ops = {
	.ports_ready = pstn_ports_ready,
	.place = call_place_pstn,
	.progress = pstn_progress,
	.hang_up = pstn_hang_up,
};
#endif
