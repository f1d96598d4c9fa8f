/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Call engine (B2BUA), its public face (calls.h). Leg 0 is the caller (the
 * INVITE we received), leg 1 the callee (the INVITE we send). Everything
 * runs on the one su_root: SIP events arrive through the sipua hook,
 * dataplane answers through the media layer's callbacks (media_call.h). A
 * call is freed only when both SIP handles are gone and no dataplane request
 * is outstanding, so no callback ever sees a freed call; a guard timer forces the release if a
 * peer never finishes. The files and their layers: calls_internal.h.
 * docs/calls.md.
 */
#include "calls.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "calls_internal.h"
#include "mg_log.h"

static const struct calls_core_hooks calls_hooks = {
	.sip = &calls_sip_ops,
#ifdef MG_HAVE_PRI
	.pstn = &calls_pstn_ops,
#endif
	.media = &calls_media_ops,
};

int calls_start(su_root_t *root, const struct mg_settings *s)
{
	char err[512];
	int rc;

	memset(&calls_ce, 0, sizeof(calls_ce));
	calls_ce.root = root;
	calls_ce.s = s;
	calls_ce.max_calls = s->max_calls;
	calls_ce.retry_after_s = s->retry_after_s;
	calls_ce.media_timeout_s = s->media_timeout_s;
	calls_ce.lock_on_sdp = s->lock_on_sdp;
	calls_ce.media_handover = s->media_handover;
	calls_core_init(&calls_hooks);
	calls_timer_start();
	/* Session ids unique across restarts of the control plane, so a
	 * dataplane that outlived us never sees an id twice. */
	calls_ce.sess_base = ((uint64_t)time(NULL) << 24) | 1;
#ifdef MG_HAVE_PRI
	calls_pstn_start();
#endif
	rc = calls_io->rules_reload(&calls_ce.routes, s->routing_rules_file, err, sizeof(err));
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
	MG_INFO("calls: %u routing rules from %s", calls_io->rules_count(&calls_ce.routes),
		s->routing_rules_file);
	calls_io->set_hook(calls_sip_hook, NULL);
	return 0;
}

void calls_check_routes(void)
{
	struct route_env env;

	if (calls_ce.routes.current == NULL || calls_io->ua_count() == 0)
		return;
	calls_route_env(&env);
	route_table_check_env(calls_ce.routes.current, &env);
}

int calls_reload(const struct mg_settings *s)
{
	char err[512];
	int rc = calls_io->rules_reload(&calls_ce.routes, s->routing_rules_file, err, sizeof(err));

	if (s->max_calls != calls_ce.max_calls || s->retry_after_s != calls_ce.retry_after_s)
		MG_INFO("SIGHUP: mediagate.calls.maxCalls=%u, retryAfter=%u s (%u calls active)",
			s->max_calls, s->retry_after_s, calls_ce.n_calls);
	if (s->media_timeout_s != calls_ce.media_timeout_s)
		MG_INFO("SIGHUP: mediagate.calls.mediaTimeout=%u s", s->media_timeout_s);
	if (s->lock_on_sdp != calls_ce.lock_on_sdp)
		MG_INFO("SIGHUP: netborder.media.rtp.lockOnSDP=%s for the sessions set up or changed "
			"from now on", s->lock_on_sdp ? "true" : "false");
	calls_ce.lock_on_sdp = s->lock_on_sdp;
	calls_ce.media_handover = s->media_handover;
	calls_ce.max_calls = s->max_calls;
	calls_ce.retry_after_s = s->retry_after_s;
	calls_ce.media_timeout_s = s->media_timeout_s;
	if (rc < 0)
		MG_ERR("SIGHUP: mediagate.routing.rulesFile: %s; keeping the previous rules", err);
	else {
		MG_INFO("SIGHUP: %u routing rules from %s", calls_io->rules_count(&calls_ce.routes),
			s->routing_rules_file);
		calls_io->set_hook(calls_sip_hook, NULL);
		calls_check_routes();
	}
	return rc;
}

/* End a call whose media the dataplane cannot carry any more. */
static void call_dp_gone(struct call *c, const char *why)
{
	media_call_lost(&c->mc);
	call_end(c, 503, "Service Unavailable", "%s", why);
}

void calls_dataplane_wait_check(uint64_t now_ms)
{
	unsigned n = 0;

	if (calls_ce.dp_lost_ms == 0 ||
	    now_ms - calls_ce.dp_lost_ms < (uint64_t)media_dp_restart_wait() * 1000)
		return;
	for (struct call *c = calls_ce.calls, *nx; c != NULL; c = nx) {
		nx = c->next;
		if (c->state == CALL_ENDING || !media_call_suspended(&c->mc))
			continue;
		c->mc.lost = false;
		c->mc.reinst = 0;
		call_dp_gone(c, "dataplane connection lost (mediagate.dataplane.restartWait over)");
		n++;
	}
	if (n)
		MG_WARN("dataplane not back within %u s (mediagate.dataplane.restartWait): %u call(s) ended",
			media_dp_restart_wait(), n);
	calls_ce.dp_lost_ms = 0;
}

void calls_dataplane_state(bool up)
{
	unsigned kept = 0, ended = 0;

	/*
	 * Lost: calls whose ports are taken wait for the dataplane (at most
	 * mediagate.dataplane.restartWait s); when it is back their sessions
	 * are re-installed with the same ports, keys and SRTP indexes
	 * (docs/reliability.md). The others (and every call when the wait is
	 * 0) end; whatever a live dataplane may still hold for them is
	 * removed when the connection is back (media_dp_state()).
	 */
	if (up) {
		calls_ce.dp_lost_ms = 0;
		for (struct call *c = calls_ce.calls; c != NULL; c = c->next)
			if (c->state != CALL_ENDING && c->mc.lost) {
				media_call_reinstall(&c->mc);
				kept++;
			}
		if (kept)
			MG_INFO("dataplane back: re-installing the media of %u call(s)", kept);
		return;
	}
	for (struct call *c = calls_ce.calls, *n; c != NULL; c = n) {
		n = c->next;
		if (c->state == CALL_ENDING)
			continue;
		if (media_call_suspend(&c->mc)) {
			kept++;
			continue;
		}
		call_dp_gone(c, "dataplane connection lost");
		ended++;
	}
	if (kept) {
		calls_ce.dp_lost_ms = calls_now_ms();
		MG_WARN("dataplane connection lost: %u call(s) wait up to %u s for it "
			"(mediagate.dataplane.restartWait), %u ended", kept, media_dp_restart_wait(), ended);
	}
}

void calls_stop(void)
{
	calls_ce.stopping = true;
	calls_timer_stop();
	for (struct call *c = calls_ce.calls, *n; c != NULL; c = n) {
		n = c->next;
		call_end(c, 503, "Service Unavailable", "the gateway is shutting down");
	}
	calls_timer_drain(3000);
	while (calls_ce.calls != NULL) {
		struct call *c = calls_ce.calls;

		MG_WARN("call %u: still %s at shutdown; released", c->id, call_state_name(c->state));
		for (unsigned li = 0; li < 2; li++)
			if (!leg_done(c, li))
				leg_set_state(c, li, LEG_GONE);
		media_call_abandon(&c->mc);
		call_set_state(c, CALL_ENDING);
		call_maybe_free(c);
	}
	calls_io->set_hook(NULL, NULL);
	calls_peer_stop();
#ifdef MG_HAVE_PRI
	calls_pstn_stop();
#endif
	route_set_clear(&calls_ce.routes);
	MG_INFO("calls: %llu offered, %llu answered, %llu failed (%llu over maxCalls), "
		"%llu ended (%llu by media timeout); %u active",
		(unsigned long long)calls_ce.cnt.offered, (unsigned long long)calls_ce.cnt.answered,
		(unsigned long long)calls_ce.cnt.failed, (unsigned long long)calls_ce.cnt.overload,
		(unsigned long long)calls_ce.cnt.ended, (unsigned long long)calls_ce.cnt.media_timeout,
		calls_ce.n_calls);
}

unsigned calls_active(void)
{
	return calls_ce.n_calls;
}

void calls_get_counters(struct calls_counters *out)
{
	*out = calls_ce.cnt;
}
