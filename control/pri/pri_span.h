/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ISDN PRI signalling of one span: libpri on the span's D-channel, opened
 * through the TDM channel layer (dahdi backend in production, socketpair or
 * the FUSE emulator in tests). Event driven: the owner polls pri_span_fd(),
 * calls pri_span_on_readable() when it is readable and pri_span_run_timers()
 * when pri_span_next_timeout_ms() expires; libpri events come back through
 * one callback, already mapped to the gateway's vocabulary.
 *
 * This is the signalling half only: mapping to SIP (INVITE/180/183/200/BYE/
 * CANCEL) belongs to the call engine, which is not written yet.
 */
#ifndef PRI_SPAN_H
#define PRI_SPAN_H

#include <stdbool.h>

#include "mg_tdm_chan.h"
#include "mg_tdm_sysconf.h"

struct pri_span;
struct q931_call; /* libpri's call handle, opaque here */

/** What happened on the span. */
enum pri_span_event_kind {
	PRI_SPAN_EV_UP,          /**< D-channel (Q.921) established */
	PRI_SPAN_EV_DOWN,        /**< D-channel lost */
	PRI_SPAN_EV_SETUP,       /**< incoming SETUP: numbers and channel filled in */
	PRI_SPAN_EV_PROCEEDING,  /**< CALL PROCEEDING */
	PRI_SPAN_EV_ALERTING,    /**< ALERTING */
	PRI_SPAN_EV_PROGRESS,    /**< PROGRESS (in-band information, early media) */
	PRI_SPAN_EV_CONNECT,     /**< CONNECT: answered */
	PRI_SPAN_EV_DISCONNECT,  /**< far end DISCONNECT: answer with pri_span_hangup() */
	PRI_SPAN_EV_RELEASED,    /**< the call is gone (cause filled in); handle invalid after */
	PRI_SPAN_EV_RESTART,     /**< far end RESTART of @c channel (0: every channel); acknowledged */
};

/** One event; pointers valid during the callback only. */
struct pri_span_event {
	enum pri_span_event_kind kind;
	struct q931_call *call;
	unsigned channel;        /**< B-channel timeslot, 0 if none given */
	bool channel_exclusive;
	int cause;               /**< Q.850 cause on DISCONNECT / RELEASED */
	const char *called;      /**< SETUP only */
	int called_plan;         /**< SETUP only: type of number / plan octet (0x11 international) */
	const char *calling;
	int calling_plan;
	const char *calling_name; /**< SETUP only; "" when none was sent */
	int calling_pres;        /**< SETUP only: Q.931 presentation/screening octet */
	bool calling_restricted; /**< presentation restricted */
	bool inband;             /**< ALERTING / PROGRESS / CONNECT: in-band information available */
};

typedef void (*pri_span_cb)(void *arg, struct pri_span *span, const struct pri_span_event *ev);

/** libpri switch type for a mediagate.tdm.span.N.switchType name, -EINVAL if unknown. */
int pri_span_switch_parse(const char *name);

/**
 * Start signalling on @p dchan (an HDLC channel; the span takes ownership).
 * @p role: NT (network) or TE (user/CPE). Returns NULL and errno on failure.
 */
struct pri_span *pri_span_new(struct mg_tdm_chan *dchan, enum mg_tdm_role role, int switch_type,
			      pri_span_cb cb, void *arg);

/** Stop, close the D-channel, free. */
void pri_span_free(struct pri_span *s);

/** File descriptor to poll for POLLIN|POLLPRI. */
int pri_span_fd(const struct pri_span *s);

/** Handle everything readable on the D-channel (frames and channel events). */
void pri_span_on_readable(struct pri_span *s);

/** Milliseconds until the next libpri timer, -1 if none. */
int pri_span_next_timeout_ms(struct pri_span *s);

/** Run expired timers. */
void pri_span_run_timers(struct pri_span *s);

/** Log Q.921/Q.931 traffic and state changes at debug level (libpri's dump). */
void pri_span_set_debug(struct pri_span *s, bool on);

/**
 * Set a libpri timer by its Q.921/Q.931 name ("T200", "T203", "T305",
 * "T308", "N200", ...) in milliseconds (counts for N-names).
 * -EINVAL for an unknown name or a value libpri refuses.
 */
int pri_span_set_timer(struct pri_span *s, const char *name, int value);

/** True while Q.921 is up. */
bool pri_span_is_up(const struct pri_span *s);

/**
 * True once a read of the D-channel failed for good (the far end of a
 * socketpair closed, the device went away): stop polling its fd; libpri's
 * timers still run and report the link down.
 */
bool pri_span_is_dead(const struct pri_span *s);

/** What an outgoing SETUP carries. */
struct pri_span_dial {
	unsigned channel;        /**< timeslot 1..31 */
	bool preferred;          /**< false: exclusive (the far end must take it or refuse) */
	const char *called;      /**< digits, required; a leading '+' sends it as international */
	const char *calling;     /**< digits or NULL */
	const char *calling_name;/**< NULL or "" for none */
	bool restricted;         /**< presentation restricted */
	enum mg_law law;         /**< speech bearer, layer 1 in this law */
};

/**
 * Place a call. Returns the call handle, or NULL with errno (ENOTCONN:
 * D-channel down, EINVAL: bad numbers or channel).
 */
struct q931_call *pri_span_dial(struct pri_span *s, const struct pri_span_dial *d);

/** Incoming call: CALL PROCEEDING on @p channel. */
int pri_span_proceeding(struct pri_span *s, struct q931_call *c, unsigned channel);

/** Incoming call: ALERTING; @p inband says whether the B-channel carries tones. */
int pri_span_alerting(struct pri_span *s, struct q931_call *c, unsigned channel, bool inband);

/** Incoming call: PROGRESS with "in-band information now available" (early media). */
int pri_span_progress(struct pri_span *s, struct q931_call *c, unsigned channel);

/** Incoming call: CONNECT. */
int pri_span_answer(struct pri_span *s, struct q931_call *c, unsigned channel);

/**
 * Refuse an incoming SETUP with a Q.850 cause (busy 17, unallocated 1, ...):
 * CALL PROCEEDING then DISCONNECT. libpri sends nothing for a hang-up of a
 * call it has not yet answered in any way, so a bare pri_span_hangup() on a
 * fresh SETUP would leave the caller waiting for T303.
 */
int pri_span_reject(struct pri_span *s, struct q931_call *c, unsigned channel, int cause);

/**
 * Send RESTART for timeslot @p channel: the far end drops whatever call it
 * has there. Calls of ours on it must be dropped with pri_span_destroy_call().
 */
int pri_span_restart(struct pri_span *s, unsigned channel);

/** Forget a call without any message (after a RESTART of its channel). */
void pri_span_destroy_call(struct pri_span *s, struct q931_call *c);

/** Clear (DISCONNECT, or RELEASE after the far end's DISCONNECT) with a Q.850 cause. */
int pri_span_hangup(struct pri_span *s, struct q931_call *c, int cause);

#endif
