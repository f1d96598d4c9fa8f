/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the call engine (control/calls), for its files only. The layers,
 * each calling only those below it (docs/calls.md, "Files"):
 *
 *   calls_api.c     the public API (calls.h): start, reload, stop, counters
 *   calls_pstn.c    PSTN legs: pri_mgr events, SETUP out
 *   calls_sip.c     SIP legs: nua events through the sipua hook, INVITE out
 *   calls_sip_offer.c  re-INVITEs, hold/resume passed on, answers in ACKs
 *   calls_timer.c   the media timeout tick, the shutdown wait
 *   calls_media.c   the call's media through control/media (media_call.h):
 *                   what the call is, what media/ tells it back
 *   calls_route.c   routing lookups and call admission
 *   calls_core.c    the call table, the call and leg state machines, ending
 *                   and freeing a call
 *   calls_io.c      the seam to sofia's nua, the SIP user agents and the
 *                   routing rules (the unit test puts fakes there, and
 *                   fakes the dataplane under media/ through media_dp_io)
 *
 * The core reaches what is above it only through calls_core_hooks and the
 * per-kind calls_leg_ops, both set by calls_start().
 */
#ifndef CALLS_INTERNAL_H
#define CALLS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

#include "calls.h"
#include "media_call.h"
#include "media_idle.h"
#include "mg_proto.h"
#include "route.h"
#include "sdp_neg.h"
#include "sipua.h"

#define CALL_GUARD_MS 40000     /* a finished call is released by then at the latest */
#define CALL_AGENT "mediagate"
/* Longest Request-URI (414 beyond), From or To URI or From display name
 * (400 beyond) of a caller's INVITE, in bytes as received. Below it every
 * value reaches the routing rules and the out leg whole. */
#define CALLS_SIP_VALUE_MAX 2048
#define CALLS_INDEX_POLL_MS 5000 /* SESSION_STATS of an answered call at least this often */

/*
 * Where a call is in its life; call_set_state() is the only place it
 * changes, along call_state_next[] (calls_core.c):
 *
 *   ROUTING -> OUTGOING -> EARLY -> ANSWERED -> ACTIVE
 *      any of these -> ENDING -> FREED
 *
 * OUTGOING -> ANSWERED without EARLY when the callee answers at once.
 */
enum call_state {
	CALL_ROUTING,   /* INVITE or SETUP taken: routing, media ports being allocated */
	CALL_OUTGOING,  /* INVITE or SETUP sent to the callee */
	CALL_EARLY,     /* callee sent 18x (ALERTING, PROGRESS) */
	CALL_ANSWERED,  /* 2xx sent to the caller, waiting for ACK */
	CALL_ACTIVE,    /* ACK received (PSTN caller: CONNECT sent) */
	CALL_ENDING,    /* hanging up both legs and the dataplane */
	CALL_FREED,     /* being released (call_free()); nothing may touch it */
	CALL_STATE_COUNT
};

/*
 * Where a leg (a SIP dialog or an ISDN call) is in its life; leg_set_state()
 * is the only place it changes, along leg_state_next[] (calls_core.c).
 * Leg 0 (the caller): INVITED -> EARLY -> ANSWERED -> CONFIRMED; leg 1 (the
 * callee): IDLE -> CALLING -> EARLY -> ANSWERED. Either can end REFUSED,
 * BYE_RX, CLOSING, then GONE.
 */
enum leg_state {
	LEG_IDLE,       /* no dialog or ISDN call: the callee's leg until it is placed */
	LEG_INVITED,    /* leg 0: the INVITE or SETUP waits for our final answer */
	LEG_CALLING,    /* leg 1: our INVITE or SETUP waits for an answer */
	LEG_EARLY,      /* a provisional answer sent (leg 0) or received (leg 1) */
	LEG_ANSWERED,   /* 2xx or CONNECT sent (leg 0; a SIP caller's ACK is due) or
			   received (leg 1) */
	LEG_CONFIRMED,  /* leg 0: the caller's ACK came */
	LEG_REFUSED,    /* a final error answer sent to the caller (or nua's 487 after
			   its CANCEL) or received from the callee */
	LEG_BYE_RX,     /* the peer sent BYE: nothing more to send it */
	LEG_CLOSING,    /* we sent BYE or CANCEL; the handle is finishing */
	LEG_GONE,       /* handle terminated, ISDN call released */
	LEG_STATE_COUNT
};

/* A SIP leg's dialog as the published state needs it to end the call
 * (docs/ha-state.md): from the requests and responses seen on the leg. */
struct call_dialog {
	/* heap strings of their exact length (never cut), NULL until seen */
	char *call_id;
	char *local_tag, *remote_tag;
	char *local_uri, *remote_uri;
	char *remote_target;
	char *route;
	bool incomplete;             /* a value could not be kept (out of memory): the
					call is not published (calls_state.c) */
	uint32_t remote_cseq;
	uint32_t local_cseq;         /* of our requests the peer answered */
};

struct call_leg {
	enum leg_state state;
	struct call_dialog *dlg;     /* heap, NULL until a message of the leg was seen */
	bool pstn;                   /* an ISDN call (pri_mgr), not a SIP dialog */
	struct pri_call *pc;         /* PSTN: the call while it exists */
	unsigned channo;             /* PSTN: its B-channel (DAHDI channel) */
	nua_handle_t *nh;
	unsigned ua;                 /* sipua index */
	struct sdp_result *neg;      /* last negotiation of this leg (sdp_result_keep(): the
					text only as long as it is), NULL before; read it
					through leg_neg() */
	bool want_hold, sent_hold;   /* hold state the other leg asked for / we offered */
	struct sdp_result *reoffer;  /* the offer of our hold/resume re-INVITE on this leg,
					kept while it awaits its answer (NULL: none out) */
	bool bye_after_answer;       /* taken over: our BYE waits for its re-INVITE's
					answer (nua would CANCEL it instead) */
	struct sdp_result *ack_offer; /* the offer in our 2xx to an INVITE without SDP (the
					 late offer, or a re-INVITE's): its answer is due in
					 the ACK (heap: rare) */
	char local_ip[64];
	char contact[320];
	uint64_t sent_version;       /* highest o= version offered on this leg (RFC 3264 8) */
	/* media timeout: accepted rx packets at the last change, and when */
	struct media_idle mt;
};

struct call {
	struct call *next;
	unsigned id;
	uint64_t sess_id;
	enum call_state state;
	/* The call's media (ports, session, binding: what the dataplane holds
	 * for it and what is in flight), not where the call is in its life: */
	struct media_call mc;
	struct call_leg leg[2];
	struct sdp_result *offer1;   /* our offer to leg 1 as sent (kept; each answer completes
					a copy) */
	/* What leg 0 gets once the session change in flight is acknowledged. */
	int relay_status;
	bool relay_sdp;
	struct sdp_policy pol;       /* shared parts of the SDP policy */
	struct route_result route;
	bool routed;                 /* route holds a result (and its table) to clear */
	bool unpublished;            /* counted once: a dialog value not kept, not published */
	char *offer0;                /* the caller's SDP, until it is answered */
	bool late;                   /* the caller's INVITE had no SDP (late offer) */
	char bye_reason[200];        /* Reason header of the BYEs call_end() sends, "" none */
	size_t offer0_len;
	char why[160];               /* how it ended, for the log */
	bool overload;               /* refused by maxCalls: 503 + Retry-After, cause 42 */
	char warn[320];              /* Warning for the caller's error answer ("" = from why) */
	char *from0_user;            /* caller's From user (heap, any length; NULL none),
					the default From of the out leg */
	char *from0_name;            /* its display name, unquoted (heap; NULL none) */
	char *target;                /* Request-URI of our INVITE to leg 1 (heap), NULL none */
	const char *phrase0;         /* reason phrase of the caller's error answer when not
					the status's usual one (a literal), NULL usual */
	char *gw_host;               /* GW_HOST_IP of this call (heap), NULL before routing */
	su_timer_t *guard;
	time_t started;
	uint64_t invite_ms;           /* calls_now_ms() at the INVITE/SETUP: set-up time */
	uint64_t stats_last_ms;      /* media timeout: when SESSION_STATS was last asked */
	bool adopted;                /* read back at start (calls_adopt.c) */
	bool resumed;                /* ... its legs were re-established */
	bool standby;                /* a standby's copy of the active node's call: media
					blocked, no SIP sent (calls_adopt.c, docs/standby.md) */
	uint64_t standby_fp;         /* its record, but for the SRTP indexes (ha.c) */
};

/* The engine: one per process, on the control plane's su_root. */
struct calls_engine {
	su_root_t *root;
	const struct mg_settings *s;
	struct route_set routes;
	struct call *calls;
	unsigned n_calls;
	unsigned next_id;
	uint64_t sess_base;
	struct pri_mgr *pri;
	struct calls_counters cnt;
	bool stopping;
	unsigned max_calls;     /* mediagate.calls.maxCalls (SIGHUP reloads it) */
	unsigned retry_after_s; /* mediagate.calls.retryAfter */
	unsigned media_timeout_s; /* mediagate.calls.mediaTimeout, 0 = off */
	bool lock_on_sdp;       /* netborder.media.rtp.lockOnSDP (SIGHUP reloads) */
	bool media_handover;    /* mediagate.media.handover (SIGHUP reloads) */
	su_timer_t *mt_timer;   /* 1 s tick of the media timeout */
	uint64_t dp_lost_ms;    /* when the dataplane connection was lost (0: up) */
	bool sip_open;          /* the SIP user agents run (calls_sip_open()): a call
				   read back sends its re-INVITEs from then on */
};
extern struct calls_engine calls_ce;

/* The dataplane is away (calls_api.c): end the waiting calls once
 * mediagate.dataplane.restartWait is over. */
void calls_dataplane_wait_check(uint64_t now_ms);

/* ------------------------------------------------------------ the seam */

/*
 * Everything the engine asks of sofia's nua, the SIP user agents
 * (control/sip) and the routing rules, with the tags spelled out
 * as arguments (NULL: header left out). calls_io points at the real ones;
 * the unit test (calls_test.c) points it at fakes before calls_start().
 */
struct calls_io {
	unsigned (*ua_count)(void);
	const struct mg_sip_ua *(*ua_cfg)(unsigned ua);
	void (*ua_contact)(unsigned ua, const sip_t *req, char *buf, size_t len);
	void (*set_hook)(sipua_hook_fn *fn, void *arg);
	nua_handle_t *(*handle)(unsigned ua, void *magic, const char *to, const char *from);
	void *(*handle_magic)(nua_handle_t *nh);
	void (*handle_bind)(nua_handle_t *nh, void *magic);
	void (*handle_destroy)(nua_handle_t *nh);
	void (*respond)(nua_handle_t *nh, int status, const char *phrase, const char *contact,
			const char *warning, const char *retry_after, const char *sdp);
	void (*invite)(nua_handle_t *nh, const char *url, const char *contact, const char *sdp);
	void (*bye)(nua_handle_t *nh, const char *reason);
	void (*cancel)(nua_handle_t *nh);
	/* Our tag in the handle's dialog (NULL: none yet, or not asked). */
	const char *(*local_tag)(nua_handle_t *nh);
	/* A handle for an existing dialog (re-adoption, calls_adopt.c): From
	 * @p local and To @p remote with their tags, @p route the route set
	 * ("" none); and the re-INVITE in it with CSeq @p cseq. */
	nua_handle_t *(*dialog_handle)(unsigned ua, void *magic, const char *call_id, const char *local,
				       const char *remote, const char *route);
	void (*dialog_invite)(nua_handle_t *nh, const char *url, const char *contact, const char *sdp,
			      uint32_t cseq);
	/* A BYE in such a dialog (calls_peer.c), answered by nua_r_method. */
	void (*dialog_bye)(nua_handle_t *nh, const char *url, const char *contact, uint32_t cseq);

	int (*rules_reload)(struct route_set *set, const char *path, char *err, size_t errlen);
	unsigned (*rules_count)(struct route_set *set);
	/* route_match() on the current table; -ENOENT without one */
	int (*route)(struct route_set *set, const struct route_kv *kv, size_t n,
		     const struct route_env *env, struct route_result *out);

	/* Every state change (@li -1: the call's, else leg @li's); NULL: none
	 * (the test records the sequences). */
	void (*trace)(const struct call *c, int li, int from, int to);
};
extern const struct calls_io calls_io_real;
extern const struct calls_io *calls_io;

/* ------------------------------------------------------------ the core */

/*
 * What the core needs from a kind of leg (SIP dialog, PSTN call), set by
 * calls_start() for each kind; the core calls nothing above it directly.
 */
struct calls_leg_ops {
	/* Leg 0: both media ports are there; prepare the caller's answer.
	 * <0: the call was ended. */
	int (*ports_ready)(struct call *c);
	/* Leg 1: offer the call (INVITE or SETUP). */
	void (*place)(struct call *c);
	/* Leg 0: tell the caller how the call progresses (18x, 2xx). */
	void (*progress)(struct call *c, int status, bool with_sdp);
	/* call_end(): answer, hang up or cancel leg @li as its state requires;
	 * @status is the caller's final answer if it has none yet. */
	void (*hang_up)(struct call *c, unsigned li, int status, const char *phrase);
	/* A call taken over at start (calls_adopt.c) whose media the dataplane
	 * still holds: re-establish leg @li (SIP: the re-INVITE). NULL: none. */
	void (*resume)(struct call *c, unsigned li);
};

struct calls_core_hooks {
	const struct calls_leg_ops *sip, *pstn;
	/* What the media layer tells a call (calls_media.c). */
	const struct media_call_ops *media;
};
void calls_core_init(const struct calls_core_hooks *h);

uint64_t calls_now_ms(void);
bool call_is_known(const struct call *c);
void call_link(struct call *c);
void call_end(struct call *c, int status, const char *phrase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void call_maybe_free(struct call *c);
const struct sdp_result *leg_neg(const struct call_leg *g);
int leg_set_neg(struct call_leg *g, const struct sdp_result *r);
void leg_ack_offer_drop(struct call_leg *g);
void call_offer0_drop(struct call *c);
const char *call_static_phrase(int status);
const char *call_state_name(enum call_state st);
const char *leg_state_name(enum leg_state st);
/* The only places states change: a move the tables do not allow is logged
 * and refused (-EINVAL); the same state again is no change. */
int call_set_state(struct call *c, enum call_state to);
int leg_set_state(struct call *c, unsigned li, enum leg_state to);
/* Leg @li has nothing left that can call back: never placed, or gone. */
bool leg_done(const struct call *c, unsigned li);
/* Leg 0 has its final answer (or CANCEL): no error answer can go any more. */
bool leg_final_sent(const struct call_leg *g);
/* The kind's operations of leg @li (NULL: that kind is not built). */
const struct calls_leg_ops *leg_ops(const struct call *c, unsigned li);
/* Tell leg 0 how the call progresses (its kind's progress()). */
void call_relay0(struct call *c, int status, bool with_sdp);

/* ------------------------------------------------------------ routing */

void calls_route_env(struct route_env *env);
int calls_route_lookup(struct call *c, const struct route_kv *kv, size_t n,
		       const struct route_env *env);
bool call_refused(struct call *c);
bool call_route_failed(struct call *c, int rc);

/* ------------------------------------------------------------ media */

extern const struct media_call_ops calls_media_ops;
void call_pick_local_ip(const char *remote, char *out, size_t len);
void call_alloc_ports(struct call *c);
void call_session_push(struct call *c, int rekey_leg);
void call_relay_pending(struct call *c);

/* ------------------------------------------------------------ timers */

void calls_timer_start(void);
void calls_timer_stop(void);
/* Run the loop up to @ms for the calls to finish. */
void calls_timer_drain(unsigned ms);

/* ------------------------------------------------------------ legs */

extern const struct calls_leg_ops calls_sip_ops;
bool calls_sip_hook(void *arg, unsigned ua_index, nua_event_t event, int status,
		    char const *phrase, nua_t *nua, nua_handle_t *nh, sip_t const *sip,
		    tagi_t tags[]);
void call_late_offer_caller(struct call *c);
void call_respond0(struct call *c, int status, const char *warning, bool with_sdp);
/* calls_sip_offer.c: later offers and answers on an established SIP leg */
void call_sip_reinvite(struct call *c, unsigned li, nua_handle_t *nh, const sip_t *sip);
void call_sip_reinvite_answer(struct call *c, unsigned li, int status, const sip_t *sip);
void call_sip_ack(struct call *c, unsigned li, const sip_t *sip);
/* Keep what @p sip says of leg @p li's dialog (@p request: received by us). */
void call_dialog_take(struct call *c, unsigned li, const sip_t *sip, bool request);
/* Free a dialog and its strings (NULL: nothing). */
void call_dialog_free(struct call_dialog *d);
/* Replace *field by a copy of @p v (whole). -ENOMEM: *field kept as it was. */
int call_dialog_set(char **field, const char *v);

/* Link a call read back at start with its own session id (calls_adopt.c). */
void call_link_adopted(struct call *c, uint64_t sess_id);
/* One of those ended because the dataplane no longer held its media. */
void calls_adopt_dropped(void);
/* calls_sip_ops.resume: the re-INVITE in leg @li's dialog (calls_adopt.c). */
void call_sip_resume(struct call *c, unsigned li);
nua_handle_t *calls_dialog_handle(unsigned ua, unsigned li, const struct calls_adopt_leg *l, void *magic);
/* The answer to a BYE of calls_end_peer() (calls_sip_hook()): true when
 * @p nh was one of them. */
bool calls_peer_response(nua_handle_t *nh, int status);
/* At calls_stop(): BYEs still unanswered are forgotten (handles destroyed). */
void calls_peer_stop(void);

/* ------------------------------------------------------------ published state */

/* The call changed in a way a restarted control plane needs (state,
 * negotiation): tell the observer (calls_set_observer()). */
void call_publish(struct call *c);
/* The call ends: its record goes. */
void call_unpublish(struct call *c);

#ifdef MG_HAVE_PRI
extern const struct calls_leg_ops calls_pstn_ops;
void calls_pstn_start(void);
void calls_pstn_stop(void);
#endif

#endif
