/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The core of the call engine: the call table, numbering a new call, a
 * leg's negotiation, and the one way out of a call (call_end(), then
 * call_maybe_free() once nothing can call back). It calls nothing of the
 * engine above it: a leg is hung up through its kind's calls_leg_ops, the
 * dataplane state is removed through calls_core_hooks. docs/calls.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/sip_status.h>

#include "calls_internal.h"
#include "mg_log.h"

struct calls_engine calls_ce;

static struct calls_core_hooks core_hooks;

static const char *const call_state_names[CALL_STATE_COUNT] = {
	[CALL_ROUTING] = "routing",
	[CALL_OUTGOING] = "outgoing",
	[CALL_EARLY] = "early",
	[CALL_ANSWERED] = "answered",
	[CALL_ACTIVE] = "active",
	[CALL_ENDING] = "ending",
	[CALL_FREED] = "freed",
};

#define TO(s) (1u << (s))

/* The moves a call may make: bit TO(x) of [from]. Any state but FREED may end. */
static const unsigned call_state_next[CALL_STATE_COUNT] = {
	[CALL_ROUTING] = TO(CALL_OUTGOING) | TO(CALL_ENDING),
	[CALL_OUTGOING] = TO(CALL_EARLY) | TO(CALL_ANSWERED) | TO(CALL_ENDING),
	[CALL_EARLY] = TO(CALL_ANSWERED) | TO(CALL_ENDING),
	[CALL_ANSWERED] = TO(CALL_ACTIVE) | TO(CALL_ENDING),
	[CALL_ACTIVE] = TO(CALL_ENDING),
	[CALL_ENDING] = TO(CALL_FREED),
	[CALL_FREED] = 0,
};

static const char *const leg_state_names[LEG_STATE_COUNT] = {
	[LEG_IDLE] = "idle",
	[LEG_INVITED] = "invited",
	[LEG_CALLING] = "calling",
	[LEG_EARLY] = "early",
	[LEG_ANSWERED] = "answered",
	[LEG_CONFIRMED] = "confirmed",
	[LEG_REFUSED] = "refused",
	[LEG_BYE_RX] = "bye-received",
	[LEG_CLOSING] = "closing",
	[LEG_GONE] = "gone",
};

/*
 * The moves a leg may make. Every leg may go (its handle terminated, the
 * ISDN call released, the guard timer or shutdown gave up on it). A leg
 * that has its final answer (or its CANCEL) may still get a BYE from us:
 * the CANCELled caller's leg (REFUSED by nua's 487) always did.
 */
static const unsigned leg_state_next[LEG_STATE_COUNT] = {
	[LEG_IDLE] = TO(LEG_CALLING) | TO(LEG_GONE),
	[LEG_INVITED] = TO(LEG_EARLY) | TO(LEG_ANSWERED) | TO(LEG_REFUSED) | TO(LEG_GONE),
	[LEG_CALLING] = TO(LEG_EARLY) | TO(LEG_ANSWERED) | TO(LEG_REFUSED) | TO(LEG_BYE_RX) |
			TO(LEG_CLOSING) | TO(LEG_GONE),
	[LEG_EARLY] = TO(LEG_ANSWERED) | TO(LEG_REFUSED) | TO(LEG_BYE_RX) | TO(LEG_CLOSING) |
		      TO(LEG_GONE),
	[LEG_ANSWERED] = TO(LEG_CONFIRMED) | TO(LEG_BYE_RX) | TO(LEG_CLOSING) | TO(LEG_GONE),
	[LEG_CONFIRMED] = TO(LEG_BYE_RX) | TO(LEG_CLOSING) | TO(LEG_GONE),
	[LEG_REFUSED] = TO(LEG_BYE_RX) | TO(LEG_CLOSING) | TO(LEG_GONE),
	[LEG_BYE_RX] = TO(LEG_GONE),
	[LEG_CLOSING] = TO(LEG_GONE),
	[LEG_GONE] = 0,
};

void calls_core_init(const struct calls_core_hooks *h)
{
	core_hooks = *h;
}

const char *call_state_name(enum call_state st)
{
	return call_state_names[st];
}

const char *leg_state_name(enum leg_state st)
{
	return leg_state_names[st];
}

int call_set_state(struct call *c, enum call_state to)
{
	enum call_state from = c->state;

	if (from == to)
		return 0;
	if (!(call_state_next[from] & TO(to))) {
		MG_ERR("call %u: state %s -> %s is not a move of the call state machine; ignored",
		       c->id, call_state_names[from], call_state_names[to]);
		return -EINVAL;
	}
	/* "state" keeps the line apart from the info lines ("call N: active"). */
	MG_DEBUG("call %u: state %s -> %s", c->id, call_state_names[from], call_state_names[to]);
	c->state = to;
	if (calls_io->trace != NULL)
		calls_io->trace(c, -1, (int)from, (int)to);
	/* the published record (docs/ha-state.md): from ACTIVE on (what can
	 * be taken over), an ending call's goes */
	if (to == CALL_ENDING && from == CALL_ACTIVE)
		call_unpublish(c);
	else if (to == CALL_ACTIVE)
		call_publish(c);
	return 0;
}

int leg_set_state(struct call *c, unsigned li, enum leg_state to)
{
	struct call_leg *g = &c->leg[li];
	enum leg_state from = g->state;

	if (from == to)
		return 0;
	if (!(leg_state_next[from] & TO(to))) {
		MG_ERR("call %u: leg %u %s -> %s is not a move of the leg state machine; ignored",
		       c->id, li, leg_state_names[from], leg_state_names[to]);
		return -EINVAL;
	}
	MG_DEBUG("call %u: leg %u state %s -> %s", c->id, li, leg_state_names[from],
		 leg_state_names[to]);
	g->state = to;
	if (calls_io->trace != NULL)
		calls_io->trace(c, (int)li, (int)from, (int)to);
	return 0;
}

bool leg_done(const struct call *c, unsigned li)
{
	return c->leg[li].state == LEG_IDLE || c->leg[li].state == LEG_GONE;
}

bool leg_final_sent(const struct call_leg *g)
{
	return g->state != LEG_INVITED && g->state != LEG_EARLY;
}

uint64_t calls_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

bool call_is_known(const struct call *c)
{
	for (const struct call *i = calls_ce.calls; i != NULL; i = i->next)
		if (i == c)
			return true;
	return false;
}

const struct calls_leg_ops *leg_ops(const struct call *c, unsigned li)
{
	return c->leg[li].pstn ? core_hooks.pstn : core_hooks.sip;
}

void call_relay0(struct call *c, int status, bool with_sdp)
{
	const struct calls_leg_ops *ops = leg_ops(c, 0);

	if (ops != NULL)
		ops->progress(c, status, with_sdp);
}

/* SRTP mode and suites from the configuration; the dataplane wire carries
 * one master key per direction, so a=crypto lines with several (MKI) are
 * not chosen, and the dataplane relays IPv4 only. */
static void call_policy_init(struct call *c)
{
	sdp_policy_from_settings(calls_ce.s, &c->pol);
	c->pol.max_keys = 1;
	c->pol.ipv4_only = true;
}

/* Number a fresh (zeroed) offered call, put it on the list and count it;
 * the caller's leg is INVITED, the callee's IDLE until an INVITE or SETUP
 * goes out. */
void call_link(struct call *c)
{
	c->id = ++calls_ce.next_id;
	c->sess_id = calls_ce.sess_base + c->id;
	media_call_init(&c->mc, c->id, c->sess_id, core_hooks.media, c);
	c->started = time(NULL);
	c->invite_ms = calls_now_ms();
	c->next = calls_ce.calls;
	calls_ce.calls = c;
	calls_ce.n_calls++;
	calls_ce.cnt.offered++;
	/* Where the machines start (not a move: nothing was before). */
	c->state = CALL_ROUTING;
	c->leg[0].state = LEG_INVITED;
	c->leg[1].state = LEG_IDLE;
	call_policy_init(c);
}

void call_link_adopted(struct call *c, uint64_t sess_id)
{
	call_link(c);
	calls_ce.cnt.offered--; /* offered in the run that set it up */
	c->sess_id = sess_id;
	media_call_init(&c->mc, c->id, c->sess_id, core_hooks.media, c);
	c->adopted = true;
}

/* A leg's last negotiation; all zero (nothing agreed) before the first. */
const struct sdp_result *leg_neg(const struct call_leg *g)
{
	static const struct sdp_result none;

	return g->neg != NULL ? g->neg : &none;
}

/* Keep @p r as leg @p g's last negotiation, in a heap copy cut to its SDP
 * text (a held call keeps two: the full struct is mostly the 4 kB text
 * buffer). The previous one is wiped. */
int leg_set_neg(struct call_leg *g, const struct sdp_result *r)
{
	struct sdp_result *k = sdp_result_keep(r);

	if (k == NULL)
		return -ENOMEM;
	sdp_result_free(g->neg);
	g->neg = k;
	return 0;
}

/*
 * nua_respond() queues the answer to the nua stack with the phrase pointer,
 * not a copy: only static strings may go there. The standard phrase of the
 * status is used, whatever phrase a relayed response carried.
 */
const char *call_static_phrase(int status)
{
	const char *p = sip_status_phrase(status);

	return p != NULL ? p : status < 200 ? "Call Progress" : "Unknown";
}

/* Forget the offer an ACK was to answer (our key goes with it). */
void leg_ack_offer_drop(struct call_leg *g)
{
	if (g->ack_offer == NULL)
		return;
	explicit_bzero(g->ack_offer, sizeof(*g->ack_offer));
	free(g->ack_offer);
	g->ack_offer = NULL;
}

/* Forget the caller's SDP (its a=crypto keys are wiped). */
void call_offer0_drop(struct call *c)
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

	for (pp = &calls_ce.calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	for (unsigned li = 0; li < 2; li++) {
		if (c->leg[li].nh != NULL) {
			calls_io->handle_bind(c->leg[li].nh, NULL);
			calls_io->handle_destroy(c->leg[li].nh);
		}
		leg_ack_offer_drop(&c->leg[li]);
		call_dialog_free(c->leg[li].dlg);
		sdp_result_free(c->leg[li].neg);
		sdp_result_free(c->leg[li].reoffer);
	}
	sdp_result_free(c->offer1);
	if (c->guard != NULL)
		su_timer_destroy(c->guard);
	if (c->routed)
		route_result_clear(&c->route);
	call_offer0_drop(c);
	free(c->from0_user);
	free(c->from0_name);
	free(c->target);
	free(c->gw_host);
	calls_ce.n_calls--;
	calls_ce.cnt.ended++;
	MG_INFO("call %u: ended after %lds (%s); %u calls active", c->id,
		(long)(time(NULL) - c->started), c->why[0] ? c->why : "normal", calls_ce.n_calls);
	/* Key material of both legs leaves memory with the call. */
	explicit_bzero(c, sizeof(*c));
	free(c);
}

void call_maybe_free(struct call *c)
{
	if (c->state != CALL_ENDING || media_call_busy(&c->mc))
		return;
	if (media_call_holds(&c->mc)) {
		media_call_release(&c->mc);
		if (media_call_busy(&c->mc))
			return;
	}
	if (!leg_done(c, 0) || !leg_done(c, 1))
		return;
	call_set_state(c, CALL_FREED);
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
	for (unsigned li = 0; li < 2; li++)
		if (!leg_done(c, li))
			leg_set_state(c, li, LEG_GONE);
	if (media_call_busy(&c->mc)) {
		/* Dataplane answers overdue as well: forget them, so that no late
		 * callback can reach the call once it is freed below. */
		media_call_abandon(&c->mc);
	}
	call_maybe_free(c);
}

/*
 * End the call: answer or hang up each leg as its state requires, then
 * remove the dataplane state. @status is the caller's final answer if it
 * has none yet (0: 487-like endings where nua already answered).
 */
void call_end(struct call *c, int status, const char *phrase, const char *fmt, ...)
{
	va_list ap;

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
	call_set_state(c, CALL_ENDING);

	/* PSTN legs first (cleared at once; no callback follows), then the
	 * SIP legs, caller before callee. */
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned li = 0; li < 2; li++) {
			const struct calls_leg_ops *ops = leg_ops(c, li);

			if (c->leg[li].pstn == (pass == 0) && ops != NULL)
				ops->hang_up(c, li, status, phrase);
		}
	if (c->guard == NULL)
		c->guard = su_timer_create(su_root_task(calls_ce.root), CALL_GUARD_MS);
	if (c->guard != NULL)
		su_timer_set(c->guard, on_guard, c);
	media_call_release(&c->mc);
	call_maybe_free(c);
}
