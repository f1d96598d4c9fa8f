/* SPDX-License-Identifier: BSD-3-Clause */
#include "pri_mgr.h"

#include <errno.h>
#include <libpri.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mg_log.h"
#include "mg_tdm_cause.h"
#include "mg_tdm_chan.h"
#include "mg_tdm_sysconf.h"
#include "pri_span.h"

enum call_state {
	CALL_IN_PROCEEDING, /* SETUP taken, CALL PROCEEDING sent */
	CALL_IN_ALERTING,
	CALL_OUT_SETUP,     /* SETUP sent */
	CALL_OUT_PROCEEDING,
	CALL_OUT_ALERTING,
	CALL_ACTIVE,
	CALL_CLEARING,      /* DISCONNECT/RELEASE sent or received; waiting for libpri to finish */
};

struct mgr_span;

struct pri_call {
	struct pri_call *next;
	struct mgr_span *sp;
	struct q931_call *q;
	enum call_state state;
	bool attached;      /* the engine holds the handle */
	bool holds_chan;    /* info.channo is claimed in the span's group */
	bool announced;     /* its "incoming/outgoing call" line was logged */
	uint64_t clearing_since; /* ms (monotonic) when CALL_CLEARING began */
	void *user;
	struct pri_call_info info;
};

struct mgr_span {
	struct pri_mgr *m;
	unsigned num;
	enum mg_tdm_role role;
	enum mg_law law;
	struct pri_span *ps;
	bool has_group;
	struct mg_tdm_group group;
	unsigned first_chan;  /* global channel number of timeslot 1 */
	su_wait_t wait;
	int reg;
	su_timer_t *timer;
	struct pri_call *calls;
};

struct pri_mgr {
	su_root_t *root;
	struct pri_mgr_ops ops;
	struct mgr_span *spans[MG_TDM_MAX_SPANS + 1]; /* by DAHDI span number */
	unsigned n_calls;
	struct pri_mgr_counters cnt;
	/* Safety net: a record still clearing after clear_guard_ms is dropped
	 * (libpri finished the call without an event we know of, e.g. after a
	 * garbled exchange); re-derived from T305/T308 when those are set. */
	su_timer_t *sweep;
	unsigned clear_guard_ms, t305_ms, t308_ms;
};

static void span_rearm(struct mgr_span *sp);
static void sweep_arm(struct pri_mgr *m);

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- calls ------------------------------------------------------------- */

static struct pri_call *call_find(struct mgr_span *sp, struct q931_call *q)
{
	for (struct pri_call *c = sp->calls; c; c = c->next)
		if (c->q == q)
			return c;
	return NULL;
}

static struct pri_call *call_new(struct mgr_span *sp, struct q931_call *q, bool outgoing)
{
	struct pri_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sp = sp;
	c->q = q;
	c->info.outgoing = outgoing;
	c->info.span = sp->num;
	c->info.law = sp->law;
	snprintf(c->info.group, sizeof(c->info.group), "%s", sp->has_group ? sp->group.name : "");
	c->next = sp->calls;
	sp->calls = c;
	sp->m->n_calls++;
	return c;
}

static void call_set_channel(struct pri_call *c, unsigned channo)
{
	struct mgr_span *sp = c->sp;

	c->holds_chan = true;
	c->info.channo = channo;
	c->info.timeslot = channo - sp->first_chan + 1;
	snprintf(c->info.channel_name, sizeof(c->info.channel_name), "span%u/%u", sp->num,
		 c->info.timeslot);
}

static void call_free(struct pri_call *c)
{
	struct mgr_span *sp = c->sp;

	for (struct pri_call **pp = &sp->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->holds_chan && mg_tdm_group_release(&sp->group, c->info.channo) < 0)
		MG_WARN("pri: span %u: channel %u was not held at release", sp->num, c->info.channo);
	/* the end of the trace the operator (and call_pstn) follows per channel */
	if (c->announced)
		MG_INFO("pri: span %u: %s released, channel %u free", sp->num, c->info.channel_name,
			c->info.channo);
	sp->m->n_calls--;
	sp->m->cnt.released++;
	free(c);
}

/*
 * libpri hands out a call handle that one of our records still names: it
 * freed that call without telling us (a path we do not know of). The old
 * record is dead; drop it, telling its engine, rather than mix two calls.
 */
static void call_drop_stale(struct mgr_span *sp, struct q931_call *q, struct pri_call *keep);

/* The engine lets go of the call (it hung up, or was told it ended). */
static void call_detach(struct pri_call *c)
{
	c->attached = false;
	c->user = NULL;
}

/* Tell the engine the far end (or the link) ended the call. */
static void call_ended(struct pri_call *c, int cause)
{
	struct pri_mgr *m = c->sp->m;

	if (!c->attached)
		return;
	/* detached first: a pri_call_* from inside the callback is refused */
	c->attached = false;
	if (m->ops.ended)
		m->ops.ended(m->ops.arg, c, cause);
	c->user = NULL;
}

static void call_set_clearing(struct pri_call *c)
{
	if (c->state == CALL_CLEARING)
		return;
	c->state = CALL_CLEARING;
	c->clearing_since = mono_ms();
	sweep_arm(c->sp->m);
}

/*
 * libpri clears with RELEASE COMPLETE instead of DISCONNECT for these causes
 * (unallocated number, no circuit, requested channel unavailable, invalid
 * call reference, no such channel) and destroys its call record at once,
 * with no event to follow: our record must go with it.
 */
static bool cause_ends_at_once(int cause)
{
	return cause == PRI_CAUSE_UNALLOCATED || cause == PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION ||
	       cause == PRI_CAUSE_REQUESTED_CHAN_UNAVAIL ||
	       cause == PRI_CAUSE_INVALID_CALL_REFERENCE ||
	       cause == PRI_CAUSE_IDENTIFIED_CHANNEL_NOTEXIST;
}

/* Start clearing from our side (engine hang-up, refusal, shutdown). */
static int call_clear(struct pri_call *c, int cause)
{
	struct mgr_span *sp = c->sp;
	int rc;

	if (c->state == CALL_CLEARING)
		return 0;
	call_set_clearing(c);
	rc = pri_span_hangup(sp->ps, c->q, cause);
	if (c->announced)
		MG_INFO("pri: span %u: %s on %s, cause %d (%s)", sp->num,
			cause_ends_at_once(cause) ? "RELEASE COMPLETE" : "DISCONNECT",
			c->info.channel_name, cause, mg_q850_name(cause));
	if (cause_ends_at_once(cause))
		call_free(c);
	span_rearm(sp);
	return rc;
}

static void call_drop_stale(struct mgr_span *sp, struct q931_call *q, struct pri_call *keep)
{
	for (struct pri_call *c = sp->calls, *next; c; c = next) {
		next = c->next;
		if (c == keep || c->q != q)
			continue;
		MG_WARN("pri: span %u: libpri reused the handle of a call on %s; dropping its record",
			sp->num, c->info.channel_name[0] ? c->info.channel_name : "no channel");
		call_ended(c, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		call_free(c);
	}
}

/* ---- incoming SETUP ------------------------------------------------------ */

static bool digits_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '*' || *s == '#'))
			return false;
	return true;
}

/* The number as the routing rules see it: '+' for international numbers.
 * False (and "") when it is not IA5 digits or is longer than PRI_NUM_MAX. */
static bool number_copy(char *dst, size_t len, const char *src, int plan)
{
	bool intl = ((plan >> 4) & 7) == 1;

	if (!src)
		src = "";
	if (strlen(src) > PRI_NUM_MAX || !digits_ok(src)) {
		dst[0] = '\0';
		return false;
	}
	snprintf(dst, len, "%s%s", intl && *src ? "+" : "", src);
	return true;
}

/* The calling name as routing and SIP see it: Display IE text is IA5, so
 * anything outside printable ASCII becomes '?'. */
static void name_copy(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * Pick the B-channel for an incoming SETUP. Returns 0 and the channel
 * number, or the Q.850 cause to refuse with: exclusive requests get
 * exactly their channel or a refusal, preferred ones fall back to hunting.
 */
static int in_channel(struct mgr_span *sp, const struct pri_span_event *ev, unsigned *chan)
{
	struct mg_tdm_group *g = &sp->group;
	unsigned want;
	int rc;

	if (!sp->has_group || g->n_chans == 0)
		return PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION;
	if (ev->channel) {
		want = sp->first_chan + ev->channel - 1;
		rc = mg_tdm_group_claim(g, want);
		if (rc == 0) {
			*chan = want;
			return 0;
		}
		if (ev->channel_exclusive) {
			if (rc == -ENOENT)
				return PRI_CAUSE_IDENTIFIED_CHANNEL_NOTEXIST;
			/* glare: both ends seized the same timeslot */
			unsigned busy = (unsigned)__builtin_popcount(g->busy);
			return busy >= g->n_chans ? PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION
						  : PRI_CAUSE_REQUESTED_CHAN_UNAVAIL;
		}
	}
	if (mg_tdm_group_hunt(g, chan) < 0)
		return PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION;
	return 0;
}

static void on_setup(struct mgr_span *sp, const struct pri_span_event *ev)
{
	struct pri_mgr *m = sp->m;
	struct pri_call *c;
	unsigned chan = 0;
	bool numbers_ok;
	int cause;

	m->cnt.in_setup++;
	call_drop_stale(sp, ev->call, NULL);
	c = call_new(sp, ev->call, false);
	if (!c) {
		MG_ERR("pri: span %u: no memory for an incoming call; refused (cause 47)", sp->num);
		pri_span_reject(sp->ps, ev->call, ev->channel, 47);
		return;
	}
	numbers_ok = number_copy(c->info.dnis, sizeof(c->info.dnis), ev->called, ev->called_plan);
	numbers_ok &= number_copy(c->info.ani, sizeof(c->info.ani), ev->calling, ev->calling_plan);
	name_copy(c->info.caller_name, sizeof(c->info.caller_name), ev->calling_name);
	if (!ev->calling || !*ev->calling || (ev->calling_pres & 0x60) == 0x40)
		c->info.presentation = PRI_PRESENTATION_UNAVAILABLE;
	else
		c->info.presentation = ev->calling_restricted ? PRI_PRESENTATION_RESTRICTED
							      : PRI_PRESENTATION_ALLOWED;
	/* numbers are IA5 digits (Q.931 4.5.8): anything else would reach the
	 * routing rules and SIP URIs; refuse it as an invalid number format */
	if (!numbers_ok)
		cause = PRI_CAUSE_INVALID_NUMBER_FORMAT;
	else
		cause = in_channel(sp, ev, &chan);
	if (cause == 0 && !m->ops.incoming)
		cause = PRI_CAUSE_NORMAL_TEMPORARY_FAILURE;
	if (cause) {
		m->cnt.in_refused++;
		MG_INFO("pri: span %u: SETUP to %s on timeslot %u refused: cause %d (%s)", sp->num,
			numbers_ok ? c->info.dnis : "(a number that is not 1-31 IA5 digits)",
			ev->channel, cause, mg_q850_name(cause));
		if (chan)
			call_set_channel(c, chan); /* released with the record */
		else
			c->info.timeslot = ev->channel;
		if (cause_ends_at_once(cause)) {
			/* answered with RELEASE COMPLETE straight away */
			call_set_clearing(c);
			pri_span_hangup(sp->ps, ev->call, cause);
			call_free(c);
			return;
		}
		call_set_clearing(c);
		pri_span_reject(sp->ps, ev->call, c->info.timeslot, cause);
		return;
	}
	call_set_channel(c, chan);
	if (pri_span_proceeding(sp->ps, ev->call, c->info.timeslot) < 0) {
		MG_WARN("pri: span %u: CALL PROCEEDING on timeslot %u failed", sp->num,
			c->info.timeslot);
		call_clear(c, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		return;
	}
	c->state = CALL_IN_PROCEEDING;
	c->attached = true;
	c->announced = true;
	MG_INFO("pri: span %u: incoming call %s -> %s on %s", sp->num,
		c->info.ani[0] ? c->info.ani : "(no number)", c->info.dnis, c->info.channel_name);
	m->ops.incoming(m->ops.arg, c);
}

/* ---- span events --------------------------------------------------------- */

static void span_link_down(struct mgr_span *sp)
{
	/* the engine learns now; libpri finishes (or times out) each record */
	for (struct pri_call *c = sp->calls, *next; c; c = next) {
		next = c->next; /* call_clear may free c */
		if (c->state == CALL_CLEARING)
			continue;
		call_ended(c, PRI_CAUSE_NETWORK_OUT_OF_ORDER);
		call_clear(c, PRI_CAUSE_NETWORK_OUT_OF_ORDER);
	}
}

/*
 * A RESTART (either way) wiped timeslot @ts (0: all): its calls are gone
 * without any further message; the engine hears 41 (temporary failure).
 */
static void span_drop_calls(struct mgr_span *sp, unsigned ts)
{
	for (struct pri_call *c = sp->calls, *next; c; c = next) {
		next = c->next;
		if (ts && (!c->holds_chan || c->info.timeslot != ts))
			continue;
		call_ended(c, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		/* a clearing call may already be gone inside libpri (it forgets
		 * failed clearings silently): never hand it a handle it freed */
		if (c->state != CALL_CLEARING)
			pri_span_destroy_call(sp->ps, c->q);
		call_free(c);
	}
}

/*
 * One line per Q.931 call message from the far end, so an operator (and
 * call_pstn) can follow a call on its channel: what came in, with the
 * in-band flag (progress indicator 1 or 8) and the cause.
 */
static void call_log_event(const struct pri_call *c, const struct pri_span_event *ev)
{
	static const char *const names[] = {
		[PRI_SPAN_EV_PROCEEDING] = "CALL PROCEEDING", [PRI_SPAN_EV_ALERTING] = "ALERTING",
		[PRI_SPAN_EV_PROGRESS] = "PROGRESS",          [PRI_SPAN_EV_CONNECT] = "CONNECT",
		[PRI_SPAN_EV_DISCONNECT] = "DISCONNECT",      [PRI_SPAN_EV_RELEASED] = "RELEASE (COMPLETE)",
	};
	const char *name = (size_t)ev->kind < sizeof(names) / sizeof(names[0]) ? names[ev->kind] : NULL;

	if (name == NULL)
		return;
	if (ev->kind == PRI_SPAN_EV_DISCONNECT || ev->kind == PRI_SPAN_EV_RELEASED)
		MG_INFO("pri: span %u: %s received on %s, cause %d (%s)", c->sp->num, name,
			c->info.channel_name, ev->cause, mg_q850_name(ev->cause));
	else
		MG_INFO("pri: span %u: %s received on %s%s", c->sp->num, name, c->info.channel_name,
			ev->inband ? " (in-band information, PI 8)" : "");
}

static void on_span_event(void *arg, struct pri_span *ps, const struct pri_span_event *ev)
{
	struct mgr_span *sp = arg;
	struct pri_mgr *m = sp->m;
	struct pri_call *c = NULL;
	int cause;

	(void)ps;
	switch (ev->kind) {
	case PRI_SPAN_EV_UP:
	case PRI_SPAN_EV_DOWN:
		MG_INFO("pri: span %u: D-channel %s", sp->num, ev->kind == PRI_SPAN_EV_UP ? "up" : "down");
		if (ev->kind == PRI_SPAN_EV_DOWN)
			span_link_down(sp);
		if (m->ops.span_state)
			m->ops.span_state(m->ops.arg, sp->num, ev->kind == PRI_SPAN_EV_UP);
		return;
	case PRI_SPAN_EV_SETUP:
		on_setup(sp, ev);
		return;
	case PRI_SPAN_EV_RESTART:
		MG_INFO("pri: span %u: far end restarted %s%.0u", sp->num,
			ev->channel ? "timeslot " : "every channel", ev->channel);
		span_drop_calls(sp, ev->channel);
		return;
	default:
		break;
	}
	c = call_find(sp, ev->call);
	if (!c) {
		MG_DEBUG("pri: span %u: event %d for a call we do not know", sp->num, ev->kind);
		return;
	}
	call_log_event(c, ev);
	switch (ev->kind) {
	case PRI_SPAN_EV_PROCEEDING:
		if (c->state == CALL_OUT_SETUP)
			c->state = CALL_OUT_PROCEEDING;
		if (c->attached && m->ops.proceeding)
			m->ops.proceeding(m->ops.arg, c);
		break;
	case PRI_SPAN_EV_ALERTING:
		if (c->state == CALL_OUT_SETUP || c->state == CALL_OUT_PROCEEDING)
			c->state = CALL_OUT_ALERTING;
		if (c->attached && m->ops.alerting)
			m->ops.alerting(m->ops.arg, c, ev->inband);
		break;
	case PRI_SPAN_EV_PROGRESS:
		if (c->attached && m->ops.progress)
			m->ops.progress(m->ops.arg, c, ev->inband);
		break;
	case PRI_SPAN_EV_CONNECT:
		if (c->state == CALL_CLEARING)
			break;
		c->state = CALL_ACTIVE;
		m->cnt.answered++;
		if (c->attached && m->ops.answered)
			m->ops.answered(m->ops.arg, c);
		break;
	case PRI_SPAN_EV_DISCONNECT:
		/* answer the far end's DISCONNECT with RELEASE (also when we had
		 * sent our own DISCONNECT: the two crossed) */
		call_ended(c, ev->cause);
		call_set_clearing(c);
		/* RELEASE echoes the cause, except one libpri would turn into RELEASE
		 * COMPLETE (destroying the call under us) */
		cause = ev->cause > 0 && !cause_ends_at_once(ev->cause) ? ev->cause
									 : PRI_CAUSE_NORMAL_CLEARING;
		pri_span_hangup(sp->ps, c->q, cause);
		MG_INFO("pri: span %u: RELEASE sent on %s, cause %d (%s)", sp->num, c->info.channel_name,
			cause, mg_q850_name(cause));
		break;
	case PRI_SPAN_EV_RELEASED:
		call_ended(c, ev->cause > 0 ? ev->cause : PRI_CAUSE_NORMAL_CLEARING);
		call_free(c);
		break;
	default:
		break;
	}
}

/* ---- su_root glue --------------------------------------------------------- */

static void on_timer(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	struct mgr_span *sp = (struct mgr_span *)arg;

	(void)magic;
	(void)t;
	pri_span_run_timers(sp->ps);
	span_rearm(sp);
}

static void span_rearm(struct mgr_span *sp)
{
	int ms = pri_span_next_timeout_ms(sp->ps);

	if (ms < 0)
		su_timer_reset(sp->timer);
	else
		su_timer_set_interval(sp->timer, on_timer, (su_timer_arg_t *)sp, ms);
}

static int on_readable(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct mgr_span *sp = (struct mgr_span *)arg;

	(void)magic;
	(void)w;
	pri_span_on_readable(sp->ps);
	if (pri_span_is_dead(sp->ps) && sp->reg >= 0) {
		su_root_deregister(sp->m->root, sp->reg);
		sp->reg = -1;
	}
	span_rearm(sp);
	return 0;
}

/* ---- the clearing guard ---------------------------------------------------- */

static void on_sweep(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	struct pri_mgr *m = (struct pri_mgr *)arg;
	uint64_t now = mono_ms();

	(void)magic;
	(void)t;
	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++) {
		struct mgr_span *sp = m->spans[i];

		for (struct pri_call *c = sp ? sp->calls : NULL, *next; c; c = next) {
			next = c->next;
			if (c->state != CALL_CLEARING || now - c->clearing_since < m->clear_guard_ms)
				continue;
			MG_WARN("pri: span %u: call on %s still clearing after %u ms; dropping its "
				"record and freeing the channel", sp->num,
				c->info.channel_name[0] ? c->info.channel_name : "no channel",
				m->clear_guard_ms);
			m->cnt.clear_guard++;
			call_ended(c, PRI_CAUSE_RECOVERY_ON_TIMER_EXPIRE);
			/* Q.931 5.3.4.3: a channel whose clearing failed is restarted
			 * before it is used again, so the far end drops its side too */
			if (c->holds_chan && pri_span_is_up(sp->ps))
				pri_span_restart(sp->ps, c->info.timeslot);
			call_free(c);
			span_rearm(sp);
		}
	}
	sweep_arm(m);
}

/* Keep the sweep running while some record is clearing. */
static void sweep_arm(struct pri_mgr *m)
{
	bool any = false;

	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS && !any; i++)
		for (struct pri_call *c = m->spans[i] ? m->spans[i]->calls : NULL; c && !any;
		     c = c->next)
			any = c->state == CALL_CLEARING;
	if (!any)
		su_timer_reset(m->sweep);
	else if (!su_timer_is_set(m->sweep))
		su_timer_set_interval(m->sweep, on_sweep, (su_timer_arg_t *)m,
				      m->clear_guard_ms / 4 ? m->clear_guard_ms / 4 : 1);
}

static void guard_update(struct pri_mgr *m)
{
	/* two full clearing sequences: DISCONNECT (T305), RELEASE twice (T308) */
	m->clear_guard_ms = 2 * (m->t305_ms + 2 * m->t308_ms);
}

/* ---- manager ------------------------------------------------------------- */

struct pri_mgr *pri_mgr_new(su_root_t *root, const struct pri_mgr_ops *ops)
{
	struct pri_mgr *m;

	if (!root) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->root = root;
	if (ops)
		m->ops = *ops;
	m->t305_ms = 30000; /* libpri's defaults (Q.931) */
	m->t308_ms = 4000;
	guard_update(m);
	m->sweep = su_timer_create(su_root_task(root), 0);
	if (!m->sweep) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void pri_mgr_set_ops(struct pri_mgr *m, const struct pri_mgr_ops *ops)
{
	if (ops)
		m->ops = *ops;
	else
		memset(&m->ops, 0, sizeof(m->ops));
}

int pri_mgr_add_span(struct pri_mgr *m, unsigned span, bool network, int switch_type,
		     struct mg_tdm_chan *dchan, const struct mg_tdm_group *group, enum mg_law law,
		     unsigned first_chan)
{
	enum mg_tdm_role role = network ? MG_TDM_ROLE_NT : MG_TDM_ROLE_TE;
	struct mgr_span *sp;
	unsigned dchan_no;
	int rc = -EINVAL;

	if (!m || span == 0 || span > MG_TDM_MAX_SPANS || !dchan || switch_type <= 0 ||
	    (group && (first_chan == 0 || group->span != span)))
		goto err;
	for (unsigned i = 0; group && i < group->n_chans; i++)
		if (group->chans[i] < first_chan || group->chans[i] - first_chan >= 31)
			goto err;
	dchan_no = dchan->channo;
	if (m->spans[span]) {
		rc = -EEXIST;
		goto err;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		rc = -ENOMEM;
		goto err;
	}
	sp->m = m;
	sp->num = span;
	sp->role = role;
	sp->law = law;
	sp->reg = -1;
	if (group) {
		sp->has_group = true;
		sp->group = *group;
		sp->first_chan = first_chan;
	}
	sp->ps = pri_span_new(dchan, role, switch_type, on_span_event, sp);
	if (!sp->ps) {
		rc = -errno;
		free(sp);
		goto err;
	}
	dchan = NULL; /* owned by the span now */
	sp->timer = su_timer_create(su_root_task(m->root), 0);
	if (!sp->timer || su_wait_create(&sp->wait, pri_span_fd(sp->ps), SU_WAIT_IN | POLLPRI) < 0) {
		rc = -ENOMEM;
		goto err_span;
	}
	sp->reg = su_root_register(m->root, &sp->wait, on_readable, (su_wakeup_arg_t *)sp, 0);
	if (sp->reg < 0) {
		su_wait_destroy(&sp->wait);
		rc = -EIO;
		goto err_span;
	}
	m->spans[span] = sp;
	MG_INFO("pri: span %u: %s side, D-channel %u, %u B-channels in group %s", span,
		role == MG_TDM_ROLE_NT ? "network" : "user", dchan_no,
		sp->has_group ? sp->group.n_chans : 0, sp->has_group ? sp->group.name : "(none)");
	span_rearm(sp);
	return 0;

err_span:
	if (sp->timer)
		su_timer_destroy(sp->timer);
	pri_span_free(sp->ps);
	free(sp);
err:
	mg_tdm_chan_close(dchan);
	return rc;
}

static void span_free(struct mgr_span *sp)
{
	while (sp->calls) {
		struct pri_call *c = sp->calls;

		call_detach(c);
		if (c->state != CALL_CLEARING && pri_span_is_up(sp->ps))
			pri_span_hangup(sp->ps, c->q, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		call_free(c);
	}
	if (sp->reg >= 0)
		su_root_deregister(sp->m->root, sp->reg); /* destroys the wait object too */
	su_timer_destroy(sp->timer);
	pri_span_free(sp->ps);
	free(sp);
}

void pri_mgr_free(struct pri_mgr *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++)
		if (m->spans[i])
			span_free(m->spans[i]);
	su_timer_destroy(m->sweep);
	free(m);
}

int pri_mgr_set_timer(struct pri_mgr *m, const char *name, int value)
{
	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++) {
		int rc = m->spans[i] ? pri_span_set_timer(m->spans[i]->ps, name, value) : 0;

		if (rc < 0)
			return rc;
	}
	if (!strcmp(name, "T305"))
		m->t305_ms = (unsigned)value;
	else if (!strcmp(name, "T308"))
		m->t308_ms = (unsigned)value;
	guard_update(m);
	return 0;
}

void pri_mgr_set_debug(struct pri_mgr *m, bool on)
{
	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++)
		if (m->spans[i])
			pri_span_set_debug(m->spans[i]->ps, on);
}

bool pri_mgr_span_up(const struct pri_mgr *m, unsigned span)
{
	return span && span <= MG_TDM_MAX_SPANS && m->spans[span] &&
	       pri_span_is_up(m->spans[span]->ps);
}

const struct mg_tdm_group *pri_mgr_group(const struct pri_mgr *m, const char *name)
{
	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++)
		if (m->spans[i] && m->spans[i]->has_group && !strcmp(m->spans[i]->group.name, name))
			return &m->spans[i]->group;
	return NULL;
}

unsigned pri_mgr_calls(const struct pri_mgr *m)
{
	return m->n_calls;
}

void pri_mgr_dump(const struct pri_mgr *m, FILE *out)
{
	static const char *const state_names[] = {"in-proceeding", "in-alerting", "out-setup",
						   "out-proceeding", "out-alerting", "active",
						   "clearing"};

	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++) {
		const struct mgr_span *sp = m->spans[i];

		if (!sp)
			continue;
		fprintf(out, "span %u: %s side, link %s%s, group %s busy 0x%x\n", sp->num,
			sp->role == MG_TDM_ROLE_NT ? "network" : "user",
			pri_span_is_up(sp->ps) ? "up" : "down",
			pri_span_is_dead(sp->ps) ? " (D-channel failed)" : "",
			sp->has_group ? sp->group.name : "-", sp->has_group ? sp->group.busy : 0);
		for (const struct pri_call *c = sp->calls; c; c = c->next)
			fprintf(out, "  %s %s %s%s: %s -> %s\n", c->info.outgoing ? "out" : "in",
				c->info.channel_name[0] ? c->info.channel_name : "(no channel)",
				state_names[c->state], c->attached ? "" : " (engine detached)",
				c->info.ani[0] ? c->info.ani : "-", c->info.dnis);
	}
}

void pri_mgr_get_counters(const struct pri_mgr *m, struct pri_mgr_counters *out)
{
	*out = m->cnt;
}

int pri_mgr_restart(struct pri_mgr *m, unsigned span, unsigned timeslot)
{
	struct mgr_span *sp = span && span <= MG_TDM_MAX_SPANS ? m->spans[span] : NULL;
	int rc;

	if (!sp)
		return -ENOENT;
	rc = pri_span_restart(sp->ps, timeslot);
	if (rc == 0) {
		MG_INFO("pri: span %u: RESTART of timeslot %u", span, timeslot);
		span_drop_calls(sp, timeslot);
	}
	span_rearm(sp);
	return rc;
}

/* ---- outgoing ------------------------------------------------------------- */

static struct mgr_span *span_of_group(struct pri_mgr *m, const char *name, size_t len)
{
	for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++) {
		struct mgr_span *sp = m->spans[i];

		if (sp && sp->has_group && strlen(sp->group.name) == len &&
		    !strncmp(sp->group.name, name, len))
			return sp;
	}
	return NULL;
}

/* Try one span: 0 and *out, -EBUSY / -ENOTCONN to try the next, other -errno to stop. */
static int place_on(struct mgr_span *sp, const struct pri_call_req *req, void *user,
		    struct pri_call **out)
{
	struct pri_span_dial d = {0};
	struct pri_call *c;
	unsigned chan;

	if (!pri_span_is_up(sp->ps))
		return -ENOTCONN;
	if (mg_tdm_group_hunt(&sp->group, &chan) < 0)
		return -EBUSY;
	c = call_new(sp, NULL, true);
	if (!c) {
		mg_tdm_group_release(&sp->group, chan);
		return -ENOMEM;
	}
	call_set_channel(c, chan);
	snprintf(c->info.dnis, sizeof(c->info.dnis), "%s", req->dnis);
	snprintf(c->info.ani, sizeof(c->info.ani), "%s", req->ani ? req->ani : "");
	snprintf(c->info.caller_name, sizeof(c->info.caller_name), "%s",
		 req->caller_name ? req->caller_name : "");
	c->info.presentation = !c->info.ani[0]	 ? PRI_PRESENTATION_UNAVAILABLE
			       : req->restricted ? PRI_PRESENTATION_RESTRICTED
						 : PRI_PRESENTATION_ALLOWED;
	d.channel = c->info.timeslot;
	d.called = c->info.dnis;
	d.calling = c->info.ani;
	d.calling_name = c->info.caller_name;
	d.restricted = req->restricted;
	d.law = sp->law;
	c->q = pri_span_dial(sp->ps, &d);
	if (!c->q) {
		int rc = -errno;

		call_free(c);
		sp->m->cnt.released--; /* never was a call */
		return rc == -ENOTCONN ? rc : -EIO;
	}
	call_drop_stale(sp, c->q, c);
	c->state = CALL_OUT_SETUP;
	c->attached = true;
	c->user = user;
	sp->m->cnt.out_placed++;
	c->announced = true;
	MG_INFO("pri: span %u: outgoing call %s -> %s on %s", sp->num,
		c->info.ani[0] ? c->info.ani : "(no number)", c->info.dnis, c->info.channel_name);
	span_rearm(sp);
	*out = c;
	return 0;
}

static bool number_ok(const char *s, bool required)
{
	if (!s || !*s)
		return !required;
	if (*s == '+')
		s++;
	return *s && strlen(s) <= PRI_NUM_MAX && digits_ok(s);
}

int pri_call_place(struct pri_mgr *m, const struct pri_call_req *req, void *user,
		   struct pri_call **out)
{
	bool any_down = false, any_busy = false;
	const char *g;

	if (!m || !req || !out || !number_ok(req->dnis, true) || !number_ok(req->ani, false) ||
	    (req->caller_name && strlen(req->caller_name) > PRI_NAME_MAX))
		return -EINVAL;
	g = req->group && *req->group ? req->group : NULL;
	if (!g) {
		for (unsigned i = 0; i <= MG_TDM_MAX_SPANS; i++) {
			struct mgr_span *sp = m->spans[i];
			int rc;

			if (!sp || !sp->has_group)
				continue;
			rc = place_on(sp, req, user, out);
			if (rc == 0 || (rc != -EBUSY && rc != -ENOTCONN))
				return rc;
			any_busy |= rc == -EBUSY;
			any_down |= rc == -ENOTCONN;
		}
	} else {
		while (*g) {
			size_t len = strcspn(g, ",");
			struct mgr_span *sp = span_of_group(m, g, len);
			int rc;

			if (!sp) {
				MG_WARN("pri: no channel group \"%.*s\" (groups are span<N> of the "
					"configured PRI spans)", (int)len, g);
				return -ENOENT;
			}
			rc = place_on(sp, req, user, out);
			if (rc == 0 || (rc != -EBUSY && rc != -ENOTCONN))
				return rc;
			any_busy |= rc == -EBUSY;
			any_down |= rc == -ENOTCONN;
			g += len;
			g += *g == ',';
		}
	}
	if (any_busy) {
		m->cnt.out_no_channel++;
		return -EBUSY;
	}
	return any_down ? -ENOTCONN : -ENOENT;
}

int pri_mgr_place_cause(int err)
{
	switch (err) {
	case 0:
		return 0;
	case -EBUSY:
		return PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION;
	case -ENOTCONN:
		return PRI_CAUSE_NETWORK_OUT_OF_ORDER;
	case -ENOENT:
		return PRI_CAUSE_NO_ROUTE_DESTINATION;
	case -EINVAL:
		return PRI_CAUSE_INVALID_NUMBER_FORMAT;
	default:
		return PRI_CAUSE_NORMAL_TEMPORARY_FAILURE;
	}
}

int pri_call_req_from_route(const struct route_result *r, struct pri_call_req *req, char *err,
			    size_t errlen)
{
	const char *pres;

	memset(req, 0, sizeof(*req));
	req->group = route_result_get(r, "pstn.out.group");
	req->dnis = route_result_get(r, "pstn.out.dnis");
	req->ani = route_result_get(r, "pstn.out.ani");
	req->caller_name = route_result_get(r, "pstn.out.callerName");
	pres = route_result_get(r, "pstn.out.presentation");
	if (!number_ok(req->dnis, true)) {
		snprintf(err, errlen, "rule %s: pstn.out.dnis \"%s\" (allowed: 1 to %d digits, * or #, "
			 "optionally after a leading +)", r->rule_name, req->dnis ? req->dnis : "",
			 PRI_NUM_MAX);
		return -EINVAL;
	}
	if (!number_ok(req->ani, false)) {
		snprintf(err, errlen, "rule %s: pstn.out.ani \"%s\" (allowed: empty, or up to %d digits, "
			 "* or #, optionally after a leading +)", r->rule_name, req->ani, PRI_NUM_MAX);
		return -EINVAL;
	}
	if (req->caller_name && strlen(req->caller_name) > PRI_NAME_MAX) {
		snprintf(err, errlen, "rule %s: pstn.out.callerName is %zu characters (allowed: up to %d)",
			 r->rule_name, strlen(req->caller_name), PRI_NAME_MAX);
		return -EINVAL;
	}
	if (pres && *pres && strcmp(pres, "allowed") && strcmp(pres, "restricted")) {
		snprintf(err, errlen, "rule %s: pstn.out.presentation \"%s\" (allowed: allowed, restricted)",
			 r->rule_name, pres);
		return -EINVAL;
	}
	req->restricted = pres && !strcmp(pres, "restricted");
	return 0;
}

/* ---- the engine's side of a call ---------------------------------------- */

size_t pri_call_route_params(const struct pri_call *c, struct route_kv *kv, size_t max)
{
	static const char *const pres[] = {"allowed", "restricted", "unavailable"};
	const struct route_kv all[] = {
		{"pstn.in.dnis", c->info.dnis},
		{"pstn.in.ani", c->info.ani},
		{"pstn.in.callerName", c->info.caller_name},
		{"pstn.in.channelName", c->info.channel_name},
		{"pstn.in.presentation", pres[c->info.presentation]},
	};
	size_t n = sizeof(all) / sizeof(all[0]);

	if (n > max)
		n = max;
	memcpy(kv, all, n * sizeof(*kv));
	return n;
}

const struct pri_call_info *pri_call_info(const struct pri_call *c)
{
	return &c->info;
}

void *pri_call_user(const struct pri_call *c)
{
	return c->user;
}

void pri_call_set_user(struct pri_call *c, void *user)
{
	c->user = user;
}

static int in_call_check(const struct pri_call *c)
{
	if (!c || !c->attached || c->info.outgoing)
		return -EINVAL;
	if (c->state == CALL_ACTIVE || c->state == CALL_CLEARING)
		return -EALREADY;
	return 0;
}

int pri_call_alerting(struct pri_call *c, bool inband)
{
	int rc = in_call_check(c);

	if (rc)
		return rc;
	rc = pri_span_alerting(c->sp->ps, c->q, c->info.timeslot, inband);
	if (rc == 0) {
		c->state = CALL_IN_ALERTING;
		MG_INFO("pri: span %u: ALERTING sent on %s%s", c->sp->num, c->info.channel_name,
			inband ? " (in-band information, PI 8)" : "");
	}
	span_rearm(c->sp);
	return rc;
}

int pri_call_progress(struct pri_call *c)
{
	int rc = in_call_check(c);

	if (rc)
		return rc;
	rc = pri_span_progress(c->sp->ps, c->q, c->info.timeslot);
	if (rc == 0)
		MG_INFO("pri: span %u: PROGRESS sent on %s (in-band information, PI 8)", c->sp->num,
			c->info.channel_name);
	span_rearm(c->sp);
	return rc;
}

int pri_call_answer(struct pri_call *c)
{
	int rc = in_call_check(c);

	if (rc)
		return rc;
	rc = pri_span_answer(c->sp->ps, c->q, c->info.timeslot);
	if (rc == 0) {
		c->state = CALL_ACTIVE;
		c->sp->m->cnt.answered++;
		MG_INFO("pri: span %u: CONNECT sent on %s", c->sp->num, c->info.channel_name);
	}
	span_rearm(c->sp);
	return rc;
}

int pri_call_hangup(struct pri_call *c, int cause)
{
	if (!c || !c->attached)
		return -EINVAL;
	if (cause <= 0 || cause > 127)
		cause = PRI_CAUSE_NORMAL_CLEARING;
	call_detach(c);
	return call_clear(c, cause);
}

/* ---- configuration ---------------------------------------------------------- */

int pri_mgr_add_configured(struct pri_mgr *m, const struct mg_settings *s, char *err,
			   size_t errlen)
{
	enum mg_tdm_role roles[MG_TDM_MAX_SPANS + 1] = {0};
	struct mg_tdm_group groups[MG_TDM_MAX_SPANS];
	struct mg_tdm_sysconf *sc;
	char *diag = NULL;
	size_t diag_len = 0;
	FILE *df;
	unsigned n_groups;
	int rc = 0;

	if (s->n_tdm_spans == 0)
		return 0;
	sc = calloc(1, sizeof(*sc));
	df = open_memstream(&diag, &diag_len);
	if (!sc || !df) {
		if (df)
			fclose(df);
		free(sc);
		snprintf(err, errlen, "no memory for %s", s->tdm_system_conf);
		return -ENOMEM;
	}
	rc = mg_tdm_sysconf_load(s->tdm_system_conf, sc, df);
	fclose(df);
	if (rc < 0) {
		/* the first problem; all of them went to the log */
		if (diag)
			MG_ERR("%s", diag);
		snprintf(err, errlen, "mediagate.tdm.systemConf: %.*s", diag ? (int)strcspn(diag, "\n") : 0,
			 diag ? diag : "");
		goto out;
	}
	for (unsigned i = 0; i < s->n_tdm_spans && i < MG_TDM_MAX_SPANS; i++)
		roles[i + 1] = s->tdm_spans[i].role == MG_TDM_SPAN_NETWORK ? MG_TDM_ROLE_NT
									    : MG_TDM_ROLE_TE;
	n_groups = mg_tdm_groups_build(sc, roles, groups, MG_TDM_MAX_SPANS);
	/* every span is checked before any D-channel is opened */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < s->n_tdm_spans && i < MG_TDM_MAX_SPANS; i++) {
			const struct mg_tdm_span *cs = &s->tdm_spans[i];
			const struct mg_tdm_group *g = NULL;
			struct mg_tdm_open_opts o = {.hdlc = true};
			struct mg_tdm_chan *dchan;
			unsigned span = i + 1, dc;
			const char *sw = cs->switch_type[0] ? cs->switch_type : "national";
			enum mg_law law;
			int st;

			if (!cs->configured)
				continue;
			if (span > MG_TDM_MAX_SPANS || !sc->spans[span].defined) {
				snprintf(err, errlen, "mediagate.tdm.span.%u: DAHDI span %u is not defined "
					 "in %s (allowed: span.N for each span=N+1 line there)", i,
					 span, s->tdm_system_conf);
				rc = -ENOENT;
				goto out;
			}
			dc = mg_tdm_sysconf_dchan(sc, span);
			if (!dc) {
				snprintf(err, errlen, "mediagate.tdm.span.%u: DAHDI span %u has no dchan= "
					 "or hardhdlc= channel in %s (allowed: PRI spans with a "
					 "D-channel)", i, span, s->tdm_system_conf);
				rc = -ENOENT;
				goto out;
			}
			st = pri_span_switch_parse(sw);
			if (st < 0) {
				snprintf(err, errlen, "mediagate.tdm.span.%u.switchType \"%s\" (allowed: "
					 "national, ni1, dms100, 4ess, 5ess, euroisdn_e1, euroisdn_t1, "
					 "qsig)", i, sw);
				rc = -EINVAL;
				goto out;
			}
			if (pass == 0)
				continue;
			for (unsigned k = 0; k < n_groups; k++)
				if (groups[k].span == span)
					g = &groups[k];
			law = g && g->n_chans ? sc->chans[g->chans[0]].law
			      : sc->spans[span].type == MG_TDM_SPAN_E1 ? MG_LAW_ALAW
									: MG_LAW_ULAW;
			rc = mg_tdm_dahdi_open(s->tdm_device_path, dc, &o, &dchan);
			if (rc < 0) {
				snprintf(err, errlen, "mediagate.tdm.span.%u: D-channel %u under %s: %s", i,
					 dc, s->tdm_device_path, strerror(-rc));
				goto out;
			}
			rc = pri_mgr_add_span(m, span, roles[span] == MG_TDM_ROLE_NT, st, dchan, g, law,
					      sc->spans[span].first_chan);
			if (rc < 0) {
				snprintf(err, errlen, "mediagate.tdm.span.%u: PRI on D-channel %u: %s", i,
					 dc, strerror(-rc));
				goto out;
			}
		}
	}
out:
	free(diag);
	free(sc);
	return rc;
}

/* ---- the daemon's manager ---------------------------------------------------- */

static struct pri_mgr *pri_the_mgr;

int pri_start(su_root_t *root, const struct mg_settings *s)
{
	char err[512] = "";
	int rc;

	if (pri_the_mgr)
		return -EALREADY;
	pri_the_mgr = pri_mgr_new(root, NULL);
	if (!pri_the_mgr) {
		rc = -errno;
		MG_ERR("pri: %s", strerror(errno));
		return rc;
	}
	rc = pri_mgr_add_configured(pri_the_mgr, s, err, sizeof(err));
	if (rc < 0) {
		MG_ERR("pri: %s", err);
		pri_stop();
		return rc;
	}
	return 0;
}

struct pri_mgr *pri_default(void)
{
	return pri_the_mgr;
}

void pri_stop(void)
{
	pri_mgr_free(pri_the_mgr);
	pri_the_mgr = NULL;
}
