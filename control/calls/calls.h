/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call engine: a back-to-back user agent on the control plane's su_root.
 * An INVITE taken from the SIP user agents (sipua hook) is routed by the
 * routing rules, its SDP answered per the SRTP policy, media ports are taken
 * from the dataplane through the media layer (control/media/media_call.h;
 * media_start() comes first), and the out leg is offered to the SIP peer the route
 * names, or placed on an ISDN PRI span (control/pri, when built with libpri
 * and spans are configured; PSTN calls in are routed to SIP). Sessions are
 * installed in the dataplane when the out leg answers (or sends early media)
 * and removed, with the ports, when the call ends. docs/calls.md.
 */
#ifndef CALLS_H
#define CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include <time.h>

#include <sofia-sip/su_wait.h>

#include "media_dp.h"
#include "mg_config.h"
#include "mg_proto.h"
#include "mg_srtp_sdes.h"
#include "mg_srtp_suite.h"
#include "sdp_neg.h"

/*
 * Start the engine: loads mediagate.routing.rulesFile, takes INVITE handling
 * over from the SIP module (call before or after sip_start()). @s must stay
 * valid until calls_stop(). Returns 0 or -errno (rules file unusable: the
 * error is logged with file:line).
 */
int calls_start(su_root_t *root, const struct mg_settings *s);

/* SIGHUP: load the rules file named by @s again; calls in progress keep the
 * rules they were routed with. A bad file keeps the old rules. The call
 * limits (mediagate.calls.maxCalls, retryAfter, mediaTimeout) are taken
 * from @s too. */
int calls_reload(const struct mg_settings *s);

/* Warn about routing rules whose sip.out.transport has no user agent (once
 * the SIP user agents are up: after sip_start(), and after each reload). */
void calls_check_routes(void);

/* The dataplane connection went up or down (dpc_on_state): a lost
 * connection ends every call (a restarted dataplane has lost their media). */
void calls_dataplane_state(bool up);

/* Hang up every call (BYE, CANCEL or an error answer), wait up to 3 s for
 * them to finish, and release everything. Call before sip_stop(). */
void calls_stop(void);

/* Calls that exist now (any state); 0 once every call has fully ended. */
unsigned calls_active(void);

/* Calls handled since start, and how they ended. */
struct calls_counters {
	uint64_t offered;   /* INVITEs that created a call */
	uint64_t answered;  /* 2xx sent to the caller */
	uint64_t failed;    /* ended with an error answer to the caller */
	uint64_t overload;  /* of those, refused by mediagate.calls.maxCalls */
	uint64_t media_timeout; /* answered calls ended by mediagate.calls.mediaTimeout */
	uint64_t ended;     /* freed (every state released) */
};
void calls_get_counters(struct calls_counters *out);

/*
 * A call as it is published (docs/ha-state.md): its legs with what ending
 * them needs (the SIP dialog's identifiers as far as known), the media
 * ports, keys and SRTP indexes. Valid during the observer's call only.
 */
struct calls_state_leg {
	const char *state;           /* leg state name */
	bool sip;                    /* a SIP dialog (else a PSTN call) */
	unsigned ua;                 /* SIP user agent index */
	unsigned channo;             /* PSTN: the B-channel */
	const char *call_id;         /* "" until known */
	const char *local_tag, *remote_tag;
	const char *local_uri, *remote_uri; /* From/To as this side sees them */
	const char *remote_target;   /* the peer's Contact */
	const char *route;           /* route set, comma list ("" none) */
	uint32_t remote_cseq;        /* highest CSeq seen from the peer */
	uint32_t local_cseq;         /* highest CSeq of ours the peer answered */
	const struct sdp_result *neg; /* the leg's negotiation (NULL: none yet) */
	struct mg_msg_port port;     /* our media port toward this leg */
	bool port_ok;
	struct mg_msg_addr remote;   /* the peer's media address (family NONE: none) */
	bool srtp;
	const struct mg_srtp_suite_info *suite;
	unsigned long crypto_tag;
	struct mg_srtp_sdes_key rx_key, tx_key; /* the peer's, ours */
};
struct calls_state {
	unsigned id;
	const char *state;           /* call state name */
	time_t started;
	uint64_t sess_id;
	bool sess_on;                /* the dataplane may hold the session */
	struct media_dp_index ix[2][2];
	struct calls_state_leg leg[2];
};
/*
 * A call read back at start (docs/ha-state.md, "Control restart"): both
 * legs SIP dialogs with their negotiation, the media ports and session.
 */
struct calls_adopt_leg {
	/* heap strings of their exact length, never cut (ha_rec_call_parse()
	 * makes them, ha_rec_adopt_free() frees them); NULL reads as "" */
	char *call_id, *local_tag, *remote_tag;
	char *local_uri, *remote_uri, *remote_target, *route;
	uint32_t remote_cseq, local_cseq;
	unsigned ua;
	struct mg_msg_port port;
	struct sdp_result *neg;      /* heap (sdp_result_keep()), the caller's */
};
struct calls_adopt {
	uint64_t sess_id;
	time_t started;
	struct media_dp_index ix[2][2];
	struct calls_adopt_leg leg[2];
};
/*
 * Take the call over: it is listed, timed and ended as any other; each leg
 * is sent a re-INVITE in its dialog (same Call-ID and tags, CSeq above the
 * last one, the session as it stands: same port and key) so that the SIP
 * stack holds the dialog again; its media is checked against the dataplane
 * when the connection is up (held: kept; not held: the call ends).
 * 0 or -errno (-EINVAL: not a call of two SIP legs with their dialogs).
 */
int calls_adopt(const struct calls_adopt *a);
/*
 * A standby node (docs/standby.md): the active node's call, read from its
 * record, held here as a call of its own with its media pre-installed in
 * this dataplane, blocked (same ports, keys, indexes), its dialogs' handles
 * made but nothing sent. @p fp: the record without its SRTP indexes; a call
 * already held with the same @p fp only takes the new indexes. 0, -EAGAIN
 * (the call's previous record is being removed: again later), -EEXIST (a
 * call of this node has the session) or -errno.
 */
int calls_standby_put(const struct calls_adopt *a, uint64_t fp);
/* Its record is gone (the call ended on the active node): removed, no SIP. */
int calls_standby_drop(uint64_t sess_id);
/* The dataplane session id of every standby call (the watch's resync). */
void calls_standby_each(void (*each)(void *arg, uint64_t sess_id), void *arg);
/*
 * mgctl ha promote: every standby call takes over as a call read back at a
 * restart does: media unblocked (SRTP contexts restarted at the record's
 * indexes, media_call_promote()), then a re-INVITE in each leg's dialog;
 * from then on a BYE from either side ends both legs. How many.
 */
unsigned calls_promote(void);
struct calls_standby_counters {
	unsigned held;                 /* standby calls now */
	uint64_t installed, updated, replaced, removed, promoted;
};
void calls_standby_counters(struct calls_standby_counters *out);
/* Calls taken over at start (calls_adopt()) and, of those, ended because the
 * dataplane no longer held their media. */
void calls_adopt_counters(uint64_t *adopted, uint64_t *dropped);
/* Calls read back and still waiting for the dataplane's verdict. */
unsigned calls_adopt_waiting(void);
/* The SIP user agents run (after sip_start()): the re-INVITEs of the calls
 * read back go now (and, for a later verdict, at once). */
void calls_sip_open(void);
/* Calls not published: a dialog value could not be kept (out of memory). */
uint64_t calls_unpublished(void);

/*
 * A call of another gateway that died (mgctl ha adopt NODE; docs/ha-state.md,
 * "A dead gateway's calls"): its media are gone with its dataplane, so the
 * call is not taken over but ended: each leg is sent a BYE in its recorded
 * dialog (Call-ID, tags, route set, remote target, CSeq above the last),
 * from user agent @p ua (-1: the leg's recorded index, when this node has
 * it). 0 or -EINVAL (a leg without its dialog).
 */
int calls_end_peer(const struct calls_adopt *a, int ua);
/* The index of the SIP user agent bound to address @p addr, or -1. */
int calls_ua_by_addr(const char *addr);
struct calls_peer_counters {
	uint64_t calls;       /* calls ended so */
	uint64_t byes_sent;   /* BYEs sent (two per call) */
	uint64_t byes_ok;     /* answered 2xx */
	uint64_t byes_failed; /* answered otherwise, or no answer (408 of the stack) */
	unsigned pending;     /* BYEs waiting for their answer */
};
void calls_peer_counters(struct calls_peer_counters *out);

/* @p gone: the call is freed (its key goes). NULL: none. */
typedef void (*calls_observer_f)(const struct calls_state *st, bool gone);
void calls_set_observer(calls_observer_f fn);
/* Every call that is up to the observer again (reconnection, refresh). */
void calls_publish_all(void);

#endif
