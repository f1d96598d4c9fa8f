/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PSTN calls over ISDN PRI, for the call engine. One manager runs the
 * signalling of every configured span (pri_span.h) inside the control
 * plane's su_root: each D-channel fd is a registered wait object and each
 * span has one su timer armed from libpri's schedule. It owns B-channel
 * selection: the channel groups of system.conf (mg_tdm_group, one per span,
 * NT hunting descending and TE ascending) are claimed by incoming SETUPs and
 * hunted by outgoing calls.
 *
 * The call engine sees calls as struct pri_call handles and a small set of
 * events (struct pri_mgr_ops). Rules that keep the engine simple:
 * - An incoming SETUP reaches the engine only once it holds a B-channel and
 *   CALL PROCEEDING has been sent; SETUPs that cannot get a channel are
 *   refused here (34 no circuit, 44 requested channel busy, 82 no such
 *   channel) and never seen by the engine.
 * - ended() is called once when the far end (or the link) clears the call;
 *   the handle is invalid after it returns. The manager completes the
 *   RELEASE / RELEASE COMPLETE exchange itself and frees the B-channel only
 *   when libpri has finished with it.
 * - pri_call_hangup() is the engine's way out; no callback follows it and
 *   the handle is invalid after it returns.
 * - Everything runs on the su_root thread; callbacks may call any pri_call_*
 *   or pri_call_place() (a PRI-to-PRI call, a hang-up from incoming()).
 * docs/pri.md.
 */
#ifndef PRI_MGR_H
#define PRI_MGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sofia-sip/su_wait.h>

#include "mg_config.h"
#include "mg_tdm_g711.h"
#include "route.h"

/* Only forward declarations of the TDM layer here: users of this header
 * (main.c, the call engine) need not see mg_tdm_chan.h / mg_tdm_sysconf.h. */
struct mg_tdm_chan;
struct mg_tdm_group;
struct pri_mgr;
struct pri_call;

#define PRI_NUM_MAX 31      /* digits of a number: what libpri carries (it cuts longer ones) */
#define PRI_NAME_MAX 50     /* calling name (display / facility name): what libpri carries */

enum pri_presentation {
	PRI_PRESENTATION_ALLOWED = 0,
	PRI_PRESENTATION_RESTRICTED,
	PRI_PRESENTATION_UNAVAILABLE, /* no calling number */
};

/* What the engine may read about a call (stable for the call's life). */
struct pri_call_info {
	bool outgoing;                  /* placed by us */
	unsigned span;                  /* DAHDI span number */
	unsigned timeslot;              /* B-channel timeslot on the span */
	unsigned channo;                /* global DAHDI channel number: the bearer for the media path */
	enum mg_law law;                /* the bearer's law */
	char group[16];                 /* channel group ("span1") */
	char dnis[PRI_NUM_MAX + 2];     /* called number ('+' in front if international) */
	char ani[PRI_NUM_MAX + 2];      /* calling number, "" if none */
	char caller_name[PRI_NAME_MAX + 1];
	char channel_name[24];          /* "span1/5": span and timeslot */
	enum pri_presentation presentation;
};

/* Events for the call engine. Any member may be NULL (then the event is
 * dropped, except incoming: without it SETUPs are refused with cause 41). */
struct pri_mgr_ops {
	/* Incoming SETUP: a B-channel is held and CALL PROCEEDING was sent.
	 * Route it (pri_call_route_params) and answer with pri_call_alerting /
	 * _progress / _answer, or refuse with pri_call_hangup(cause). */
	void (*incoming)(void *arg, struct pri_call *c);
	/* Outgoing call progress. */
	void (*proceeding)(void *arg, struct pri_call *c);
	void (*alerting)(void *arg, struct pri_call *c, bool inband);
	void (*progress)(void *arg, struct pri_call *c, bool inband);
	void (*answered)(void *arg, struct pri_call *c);
	/* The far end cleared (DISCONNECT or RELEASE) with Q.850 @cause, or the
	 * link went down (38). Either direction. Handle invalid after return. */
	void (*ended)(void *arg, struct pri_call *c, int cause);
	/* Q.921 of DAHDI span @span came up or went down. */
	void (*span_state)(void *arg, unsigned span, bool up);
	void *arg;
};

/* An outgoing call request (usually from a route's pstn.out.* params). */
struct pri_call_req {
	const char *group;       /* "span1", or a comma list tried in order; NULL/"": every group */
	const char *dnis;        /* required: digits, '*', '#'; a leading '+' = international */
	const char *ani;         /* NULL/"": no calling number */
	const char *caller_name; /* NULL/"": none */
	bool restricted;         /* presentation restricted */
};

/* A manager on @root with no spans. NULL and errno on failure. */
struct pri_mgr *pri_mgr_new(su_root_t *root, const struct pri_mgr_ops *ops);

/* Replace the event callbacks (the call engine attaches after start). */
void pri_mgr_set_ops(struct pri_mgr *m, const struct pri_mgr_ops *ops);

/*
 * The daemon's manager: pri_start() creates it on @root and starts every
 * span configured in @s (none: an idle manager); -errno after logging what
 * is wrong. pri_default() returns it (NULL before pri_start()) for the call
 * engine to attach its ops and place calls; pri_stop() frees it (live calls
 * released with 41). Span changes on SIGHUP take effect on restart.
 */
int pri_start(su_root_t *root, const struct mg_settings *s);
struct pri_mgr *pri_default(void);
void pri_stop(void);

/*
 * Run PRI on DAHDI span @span, network side (NT) or user side (TE), over the
 * HDLC channel @dchan (the manager takes
 * ownership, also on failure). @group: the span's B-channels as global
 * channel numbers (copied; NULL: the span takes no calls); @first_chan: the
 * global number of the span's timeslot 1. @law: bearer law. 0 or -errno
 * (-EEXIST: span already added, -EINVAL: bad argument).
 */
int pri_mgr_add_span(struct pri_mgr *m, unsigned span, bool network, int switch_type,
		     struct mg_tdm_chan *dchan, const struct mg_tdm_group *group, enum mg_law law,
		     unsigned first_chan);

/*
 * Add every span configured in @s (mediagate.tdm.span.N.* with N from 0 is
 * DAHDI span N+1 of mediagate.tdm.systemConf; D-channel opened under
 * mediagate.tdm.devicePath). Nothing configured: 0. Every span is checked
 * against system.conf before any D-channel is opened; on failure -errno and
 * @err says what is wrong and what is allowed (spans already started stay:
 * free the manager).
 */
int pri_mgr_add_configured(struct pri_mgr *m, const struct mg_settings *s, char *err,
			   size_t errlen);

/*
 * Stop: every call still up is released with cause 41 without callbacks,
 * D-channels closed, timers and registrations removed.
 */
void pri_mgr_free(struct pri_mgr *m);

/* Set a libpri timer ("T200", "T203", "T305", "T308", "N200", ...; ms or a
 * count) on every span added so far. 0 or -EINVAL (unknown name, bad value).
 * T305 and T308 also set the clearing guard: a call record still clearing
 * after 2 x (T305 + 2 x T308) (76 s by default) is dropped and its channel
 * freed, with a warning (the far end or a garbled exchange left libpri
 * finishing the call without telling us). */
int pri_mgr_set_timer(struct pri_mgr *m, const char *name, int value);

/* Turn Q.921/Q.931 dumps on or off on every span (debug log). */
void pri_mgr_set_debug(struct pri_mgr *m, bool on);

/* True when Q.921 of DAHDI span @span is up. */
bool pri_mgr_span_up(const struct pri_mgr *m, unsigned span);

/* The group named @name (read-only view of its busy map), NULL if none. */
const struct mg_tdm_group *pri_mgr_group(const struct pri_mgr *m, const char *name);

/*
 * Send RESTART for @timeslot of DAHDI span @span (a channel stuck in an
 * unknown state): both ends drop any call there at once; the engine hears
 * ended(41) for ours, as it does when the far end restarts a channel.
 * 0 or -errno (-ENOENT no such span, -ENOTCONN link down, -EINVAL timeslot).
 */
int pri_mgr_restart(struct pri_mgr *m, unsigned span, unsigned timeslot);

/* Calls that hold a record (including ones still clearing). */
unsigned pri_mgr_calls(const struct pri_mgr *m);

/* One line per span (link, busy channels) and per call record (direction,
 * channel, state, numbers) to @out: for operators and test failures. */
void pri_mgr_dump(const struct pri_mgr *m, FILE *out);

struct pri_mgr_counters {
	uint64_t in_setup;        /* SETUPs received */
	uint64_t in_refused;      /* refused here for lack of a channel (34/44/82) or no engine */
	uint64_t out_placed;      /* SETUPs sent */
	uint64_t out_no_channel;  /* pri_call_place() found every B-channel busy */
	uint64_t answered;        /* CONNECT sent or received */
	uint64_t released;        /* call records freed */
	uint64_t clear_guard;     /* records dropped by the clearing guard (libpri went silent) */
};
void pri_mgr_get_counters(const struct pri_mgr *m, struct pri_mgr_counters *out);

/*
 * Place a call: hunt a free B-channel in the request's group(s) on a span
 * whose link is up and send SETUP. 0 and *out, or -EBUSY (every B-channel
 * busy: cause 34), -ENOTCONN (no span of the groups is up: 38), -ENOENT (no
 * such group: 3), -EINVAL (bad number: 28), -ENOMEM. pri_mgr_place_cause()
 * turns these into the Q.850 cause to report.
 */
int pri_call_place(struct pri_mgr *m, const struct pri_call_req *req, void *user,
		   struct pri_call **out);
int pri_mgr_place_cause(int err);

/*
 * Fill @req from a route's out-leg: pstn.out.group, pstn.out.dnis (required),
 * pstn.out.ani, pstn.out.callerName, pstn.out.presentation (allowed |
 * restricted). Pointers go into @r. 0 or -EINVAL with @err.
 */
int pri_call_req_from_route(const struct route_result *r, struct pri_call_req *req, char *err,
			    size_t errlen);

/*
 * Routing parameters of an incoming call: pstn.in.dnis, pstn.in.ani,
 * pstn.in.callerName, pstn.in.channelName, pstn.in.presentation (allowed,
 * restricted, unavailable). Returns how many were written (at most @max);
 * values point into the call, valid while it is.
 */
size_t pri_call_route_params(const struct pri_call *c, struct route_kv *kv, size_t max);

const struct pri_call_info *pri_call_info(const struct pri_call *c);
void *pri_call_user(const struct pri_call *c);
void pri_call_set_user(struct pri_call *c, void *user);

/* Incoming calls: ALERTING (@inband: ringback is played on the B-channel),
 * PROGRESS with in-band information (early media), CONNECT. 0 or -errno
 * (-EINVAL on an outgoing call, -EALREADY once answered). */
int pri_call_alerting(struct pri_call *c, bool inband);
int pri_call_progress(struct pri_call *c);
int pri_call_answer(struct pri_call *c);

/* Clear with Q.850 @cause (1..127; 16 normal). The handle is invalid after. */
int pri_call_hangup(struct pri_call *c, int cause);

#endif
