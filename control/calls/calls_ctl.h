/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call engine for the operator's CLI (mgctl over the control plane's
 * local socket, control/cli): list, show and terminate calls, drain (new
 * calls refused, calls up finish normally) and the admission limit changed
 * at run time. Kept apart from calls.h so that the CLI reads calls through
 * one small view and never through struct call.
 */
#ifndef CALLS_CTL_H
#define CALLS_CTL_H

#include <stdbool.h>
#include <stdint.h>

/* One leg of a call as the CLI shows it. */
struct calls_leg_info {
	const char *state;      /* leg_state_name() */
	bool pstn;
	unsigned channo;        /* PSTN: B-channel, 0 none */
	char remote[80];        /* media endpoint from its SDP, "" before it is known */
	char local[80];         /* our media port toward it, "" none */
	const char *suite;      /* SRTP suite in use, "RTP" plain, "" not negotiated */
};

struct calls_info {
	unsigned id;
	const char *state;      /* call_state_name() */
	uint64_t age_s;         /* since the INVITE or SETUP */
	uint64_t session_id;    /* dataplane session, 0 none */
	bool session_on;
	bool standby;           /* a standby's copy, not forwarding (docs/standby.md) */
	const char *from;       /* caller's From user, whole ("" none) */
	const char *rule;       /* routing rule the call was routed by, "" not routed */
	const char *target;     /* Request-URI of the INVITE to the callee, "" none sent */
	char why[160];          /* how it is ending, "" while it is up */
	struct calls_leg_info leg[2];
};

typedef void (*calls_info_f)(void *arg, const struct calls_info *ci);

/* Every call, newest first (@p ci and its strings valid during the callback only). */
void calls_info_each(calls_info_f fn, void *arg);
/* One call by id: 0, or -ENOENT. The strings of @p out point into the call:
 * valid until the event loop runs again. */
int calls_info_get(unsigned id, struct calls_info *out);
/* End call @p id now (BYE or CANCEL on each leg, the caller gets 503 if it
 * has no answer yet) through the usual path: 0, -ENOENT, -EALREADY (it is
 * ending already). */
int calls_terminate(unsigned id);

/* Drain: new calls are refused with 503 + Retry-After (cause 42 to a PSTN
 * caller) like calls over maxCalls; calls up are not touched. */
void calls_set_drain(bool on);
bool calls_draining(void);
/* INVITEs and SETUPs refused by the drain since start. */
uint64_t calls_drain_refused(void);

/* The admission limit (mediagate.calls.maxCalls) until the next SIGHUP,
 * which sets the file's value again; 0 = none. */
void calls_set_max_calls(unsigned n);
unsigned calls_max_calls(void);

/* calls_route.c's admission: true if @p c was refused by the drain. */
struct call;
bool call_drain_refused(struct call *c);

#endif
