/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing a new call (the rules it was routed with stay with it) and call
 * admission (mediagate.calls.maxCalls). The call parameters come from the
 * leg that brought the call (calls_sip.c, calls_pstn.c). docs/routing.md.
 */
#include <errno.h>
#include <string.h>

#include "calls_ctl.h"
#include "calls_internal.h"
#include "load.h"

/* GW_SIP_PORT and friends of the rules: the first user agent of each
 * transport, else the standard port (TCP falls back to UDP's). */
void calls_route_env(struct route_env *env)
{
	memset(env, 0, sizeof(*env));
	for (unsigned i = 0; i < calls_io->ua_count(); i++) {
		const struct mg_sip_ua *u = calls_io->ua_cfg(i);
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

/* Route @p c by the current rules; the result (and the rules table it
 * refers to) stays with the call until it is freed. */
int calls_route_lookup(struct call *c, const struct route_kv *kv, size_t n,
		       const struct route_env *env)
{
	int rc = calls_io->route(&calls_ce.routes, kv, n, env, &c->route);

	if (rc == 0)
		c->routed = true;
	return rc;
}

/*
 * Call admission: with mediagate.calls.maxCalls set, a call beyond it (every
 * call in progress counts, whatever its state, this one included) is refused
 * before routing, so it costs no rule, port or session: 503 with Retry-After
 * to a SIP caller, cause 42 to a PSTN caller. Returns true if @p c was ended.
 */
static bool call_over_limit(struct call *c)
{
	enum load_verdict v;

	if (calls_ce.max_calls > 0 && calls_ce.n_calls > calls_ce.max_calls) {
		c->overload = true;
		calls_ce.cnt.overload++;
		call_end(c, 503, "Service Unavailable", "over mediagate.calls.maxCalls=%u", calls_ce.max_calls);
		return true;
	}
	/* measured load (control/load): the new-call rate and the event
	 * loop's lag; refused like maxCalls (503 + Retry-After, cause 42) */
	v = load_admit();
	if (v == LOAD_OK)
		return false;
	c->overload = true;
	calls_ce.cnt.overload++;
	call_end(c, 503, "Service Unavailable", "%s (%s)", load_reason(v),
		 v == LOAD_RATE ? "mediagate.calls.maxRate" : "mediagate.calls.maxLoopLagMs");
	return true;
}

/* A new call the gateway does not take now (shutting down, over the
 * limit) is ended; true if it was. */
bool call_refused(struct call *c)
{
	if (calls_ce.stopping) {
		call_end(c, 503, "Service Unavailable", "the gateway is shutting down");
		return true;
	}
	if (call_drain_refused(c))
		return true;
	return call_over_limit(c);
}

/* A failed route lookup (@p rc < 0) ends the call; true if it did. */
bool call_route_failed(struct call *c, int rc)
{
	if (rc == -ENOENT)
		call_end(c, ROUTE_NO_ROUTE_SIP_STATUS, "Not Found", "no routing rule matches");
	else if (rc == -E2BIG)
		call_end(c, 500, "Server Internal Error",
			 "routing failed: an out-leg parameter would expand beyond %d bytes", ROUTE_MAX_VALUE);
	else if (rc < 0)
		call_end(c, 500, "Server Internal Error", "routing failed: %s", strerror(-rc));
	return rc < 0;
}
