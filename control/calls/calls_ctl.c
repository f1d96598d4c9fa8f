/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call engine seen by the operator's CLI (calls_ctl.h): a read-only view
 * of the call table, termination through call_end() (the one way out of a
 * call), the drain flag and the admission limit. Above the core in the
 * layers of calls_internal.h; nothing below calls it except the admission
 * hook in calls_route.c.
 */
#include "calls_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "calls_internal.h"
#include "mg_log.h"
#include "mg_srtp_suite.h"

static struct {
	bool draining;
	uint64_t drain_refused;
} cc;

static void leg_info(const struct call *c, unsigned li, struct calls_leg_info *out)
{
	const struct call_leg *g = &c->leg[li];
	const struct sdp_result *r = leg_neg(g);
	char a[64];

	memset(out, 0, sizeof(*out));
	out->state = leg_state_name(g->state);
	out->pstn = g->pstn;
	out->channo = g->channo;
	out->suite = "";
	if (r != NULL && r->remote_addr[0] != '\0')
		snprintf(out->remote, sizeof(out->remote), r->remote_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 r->remote_addr, r->remote_rtp_port);
	if (r != NULL) {
		const struct mg_srtp_suite_info *si = r->srtp ? mg_srtp_suite_by_id(r->suite) : NULL;

		out->suite = si != NULL ? si->sdes_name : "RTP";
	}
	/* the port belongs to the media layer (control/media, media_call) */
	if (c->mc.leg[li].port_ok)
		snprintf(out->local, sizeof(out->local), "%s",
			 mg_proto_addr_str(&c->mc.leg[li].port.local, a, sizeof(a)));
}

static void call_info(const struct call *c, struct calls_info *out)
{
	time_t now = time(NULL);

	memset(out, 0, sizeof(*out));
	out->id = c->id;
	out->state = call_state_name(c->state);
	out->age_s = now > c->started ? (uint64_t)(now - c->started) : 0;
	out->session_id = c->sess_id;
	out->session_on = media_call_installed(&c->mc);
	out->standby = c->standby;
	out->from = c->from0_user ? c->from0_user : "";
	out->rule = c->routed && c->route.rule_name ? c->route.rule_name : "";
	out->target = c->target ? c->target : "";
	if (c->state == CALL_ENDING || c->state == CALL_FREED)
		snprintf(out->why, sizeof(out->why), "%s", c->why);
	for (unsigned li = 0; li < 2; li++)
		leg_info(c, li, &out->leg[li]);
}

void calls_info_each(calls_info_f fn, void *arg)
{
	struct calls_info ci;

	/* newest first, the table's order (call_link()) */
	for (const struct call *c = calls_ce.calls; c != NULL; c = c->next) {
		call_info(c, &ci);
		fn(arg, &ci);
	}
}

static struct call *call_by_id(unsigned id)
{
	for (struct call *c = calls_ce.calls; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

int calls_info_get(unsigned id, struct calls_info *out)
{
	const struct call *c = call_by_id(id);

	if (c == NULL)
		return -ENOENT;
	call_info(c, out);
	return 0;
}

int calls_terminate(unsigned id)
{
	struct call *c = call_by_id(id);

	if (c == NULL)
		return -ENOENT;
	if (c->state == CALL_ENDING || c->state == CALL_FREED)
		return -EALREADY;
	call_end(c, 503, "Service Unavailable", "terminated by the operator (mgctl)");
	return 0;
}

void calls_set_drain(bool on)
{
	if (on != cc.draining)
		MG_INFO("calls: drain %s (%u calls up)", on ? "on: new calls are refused with 503" : "off",
			calls_ce.n_calls);
	cc.draining = on;
}

bool calls_draining(void)
{
	return cc.draining;
}

uint64_t calls_drain_refused(void)
{
	return cc.drain_refused;
}

bool call_drain_refused(struct call *c)
{
	if (!cc.draining)
		return false;
	/* As a maxCalls refusal: 503 + Retry-After (cause 42), so that a proxy
	 * tries another gateway now and this one again later. */
	c->overload = true;
	cc.drain_refused++;
	call_end(c, 503, "Service Unavailable", "the gateway is draining");
	return true;
}

void calls_set_max_calls(unsigned n)
{
	if (n != calls_ce.max_calls)
		MG_INFO("calls: mediagate.calls.maxCalls=%u until the next SIGHUP (was %u; %u calls up)",
			n, calls_ce.max_calls, calls_ce.n_calls);
	calls_ce.max_calls = n;
}

unsigned calls_max_calls(void)
{
	return calls_ce.max_calls;
}
