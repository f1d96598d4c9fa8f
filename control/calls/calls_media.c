/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A call's media, asked of the media layer (control/media/media_call.h):
 * the engine describes the call as it stands (each SIP leg's negotiation,
 * the TDM legs, whether the callee answered) and hears back when the ports
 * are there, when the session is installed (an 18x or the answer waits for
 * it), when the dataplane refuses, and when an ending call holds nothing
 * more there. What is sent to the dataplane, in which order, and what is
 * removed when the call ends is the media layer's. docs/calls.md.
 */
#include <stdio.h>
#include <string.h>

#include <sofia-sip/url.h>

#include "calls_internal.h"
#include "metrics_hooks.h"
#include "mg_log.h"

void call_pick_local_ip(const char *remote, char *out, size_t len)
{
	media_dp_local_ip(calls_ce.s, remote, out, len);
}

/* The dataplane address facing the host of @uri (any length). */
static void local_ip_toward(const char *uri, char *out, size_t len)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	url_t *u = url_make(home, uri);

	call_pick_local_ip(u && u->url_host ? u->url_host : "", out, len);
	su_home_deinit(home);
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
			metrics_observe_sip_setup((double)(calls_now_ms() - c->invite_ms) / 1e3);
			media_idle_restart(&c->leg[0].mt, calls_now_ms());
			media_idle_restart(&c->leg[1].mt, calls_now_ms());
			/* No ACK comes from a PSTN caller. */
			if (c->leg[0].pstn) {
				call_set_state(c, CALL_ACTIVE);
				MG_INFO("call %u: active", c->id);
			}
		}
	}
}

/* ------------------------------------------------ what media/ asks and tells */

static void on_media_view(void *arg, struct media_call_view *v)
{
	const struct call *c = arg;

	for (unsigned li = 0; li < 2; li++) {
		v->neg[li] = leg_neg(&c->leg[li]);
		v->tdm[li] = c->leg[li].pstn;
		v->channo[li] = c->leg[li].channo;
	}
	v->callee_answered = c->leg[1].state == LEG_ANSWERED;
	v->early = c->relay_status > 100 && c->relay_status < 200;
	v->lock_on_sdp = calls_ce.lock_on_sdp;
	v->media_handover = calls_ce.media_handover;
}

/* A port is there; with both, the caller's answer is ready and the callee
 * gets the offer (late offer: the caller gets an offer of ours once the
 * callee answered). */
static void on_media_port(void *arg, int result)
{
	struct call *c = arg;

	(void)result;
	if (media_call_busy(&c->mc))
		return;
	if (leg_ops(c, 0)->ports_ready(c) < 0)
		return;
	leg_ops(c, 1)->place(c);
}

static void on_media_installed(void *arg)
{
	struct call *c = arg;

	if (c->adopted && !c->resumed && !c->standby && c->state == CALL_ACTIVE) {
		/* taken over (at start, or a standby's promoted) and the
		 * dataplane holds its media (a standby's: not before promote) */
		c->resumed = true;
		for (unsigned li = 0; li < 2; li++)
			if (leg_ops(c, li) != NULL && leg_ops(c, li)->resume != NULL)
				leg_ops(c, li)->resume(c, li);
	}
	call_publish(arg); /* new keys or addresses in the record */
	call_relay_pending(arg);
}

/*
 * The media timeout (docs/calls.md): a SIP leg we receive on (not on hold
 * either way, not inactive) whose accepted packet count (RTP + RTCP that
 * passed source and SRTP checks) has not moved for mediagate.calls.mediaTimeout
 * seconds ends the call. A leg we do not expect media from restarts its
 * clock on every poll, so a resumed call gets a full period. PSTN legs are
 * not watched: the TDM side sends a frame every 20 ms whatever happens.
 * calls_timer.c asks for the counters.
 */
static void on_media_stats(void *arg, const struct mg_msg_session_stats *st)
{
	struct call *c = arg;
	uint64_t now = calls_now_ms();

	if (c->mc.ix_moved) {
		/* a ROC moved or a sequence number entered another quarter: the
		 * record again, as for NG sessions (docs/standby.md, "SRTP
		 * index: what is safe") */
		c->mc.ix_moved = false;
		call_publish(c);
	}
	if (calls_ce.media_timeout_s == 0)
		return;
	for (unsigned li = 0; li < 2; li++) {
		struct call_leg *g = &c->leg[li];
		uint64_t rx = st->legs[li][0].packets;

		if (g->pstn || g->neg == NULL)
			continue;
		/* on hold either way (the peer's sendonly or inactive, c=0.0.0.0):
		 * not watched; many phones send nothing while they hold */
		if (media_idle_feed(&g->mt, rx, (leg_neg(g)->dir & SDP_DIR_RECVONLY) && !leg_neg(g)->hold, now) >=
		    (uint64_t)calls_ce.media_timeout_s * 1000) {
			calls_ce.cnt.media_timeout++;
			call_end(c, 0, NULL, "no media from the %s for %u s (mediagate.calls.mediaTimeout; %llu packets in all)",
				 li == 0 ? "caller" : "callee", calls_ce.media_timeout_s,
				 (unsigned long long)rx);
			return;
		}
	}
}

static void on_media_failed(void *arg, int status, const char *why)
{
	const struct call *c = arg;

	if (c->mc.adopted)
		calls_adopt_dropped();
	/* nua keeps the phrase pointer: static strings only */
	call_end(arg, status, status == 500 ? "Server Internal Error" : "Service Unavailable", "%s", why);
}

static void on_media_idle(void *arg)
{
	call_maybe_free(arg);
}

const struct media_call_ops calls_media_ops = {
	.view = on_media_view,
	.port = on_media_port,
	.installed = on_media_installed,
	.stats = on_media_stats,
	.failed = on_media_failed,
	.idle = on_media_idle,
};

/* ------------------------------------------------------------ requests */

void call_session_push(struct call *c, int rekey_leg)
{
	media_call_push(&c->mc, rekey_leg);
}

/* Ports for both legs, each on the dataplane address facing its peer. */
void call_alloc_ports(struct call *c)
{
	if (!c->leg[1].pstn) {
		local_ip_toward(route_result_get(&c->route, "sip.out.requestUri"), c->leg[1].local_ip,
				sizeof(c->leg[1].local_ip));
	} else {
		call_pick_local_ip(NULL, c->leg[1].local_ip, sizeof(c->leg[1].local_ip));
	}
	if (c->leg[0].pstn)
		call_pick_local_ip(NULL, c->leg[0].local_ip, sizeof(c->leg[0].local_ip));
	media_call_ports(&c->mc, c->leg[0].local_ip, c->leg[1].local_ip);
}
