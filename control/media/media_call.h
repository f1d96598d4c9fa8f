/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The media of one B2BUA call (the call engine's media session): two legs,
 * each a local port and either an RTP/SRTP peer negotiated by the call's
 * SDP policy (control/sdp, struct sdp_result) or a PSTN B-channel (TDM). It
 * owns everything the call needs from the dataplane, through media_dp.h:
 * the ports (PORT_ALLOC), the session (SESSION_ADD, then SESSION_MODIFY for
 * every later SDP, one request in flight, the ROC restarted at the push
 * that follows a re-key), the RFC 3960 candidates of a forked callee, the
 * B-channel binding (TDM_BIND), the counters for the media timeout
 * (SESSION_STATS), and the removal when the call ends (TDM_UNBIND,
 * SESSION_DEL with its final counters, PORT_FREE), or later, when the
 * connection is back, for calls that ended while it was down.
 *
 * It knows nothing about SIP dialogs: the owner (control/calls) embeds one
 * per call, hears back through struct media_call_ops, and describes the
 * call as it stands at every push (media_call_ops.view), so that a push
 * queued behind one in flight sends the newest state. docs/calls.md.
 */
#ifndef MG_MEDIA_CALL_H
#define MG_MEDIA_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "media_dp.h"
#include "mg_proto.h"
#include "sdp_neg.h"

/* The call as it stands, for the session the next push sends. */
struct media_call_view {
	const struct sdp_result *neg[2]; /* each SIP leg's last negotiation (never NULL) */
	bool tdm[2];                     /* a PSTN leg: its B-channel, no RTP peer */
	uint32_t channo[2];              /* the TDM leg's B-channel */
	bool callee_answered;            /* leg 1 sent its final answer */
	bool early;                      /* an 18x waits for this session (for the log) */
	bool lock_on_sdp;                /* netborder.media.rtp.lockOnSDP */
	bool media_handover;             /* mediagate.media.handover: a latched SIP leg
					    may move to a new authenticated source */
};

/* What the owner hears; each runs from a dataplane reply (or at once when a
 * request cannot go), never after media_call_release() (then only idle). */
struct media_call_ops {
	void (*view)(void *arg, struct media_call_view *v);
	/* A port reply came (media_call_busy(): more to come); 0 or -errno. */
	void (*port)(void *arg, int result);
	/* The push (and, the first time, the B-channel binding) is done. */
	void (*installed)(void *arg);
	/* Counters of media_call_stats(). */
	void (*stats)(void *arg, const struct mg_msg_session_stats *st);
	/* The dataplane refused or cannot be asked: end the call with @status. */
	void (*failed)(void *arg, int status, const char *why);
	/* Released and nothing left in flight or held: the owner may go. */
	void (*idle)(void *arg);
};

struct media_call_leg {
	struct mg_msg_port port;
	bool port_ok;                /* PORT_ALLOC acknowledged (dataplane resource) */
	bool bound;                  /* TDM_BIND acknowledged (dataplane resource) */
	uint32_t channo;             /* the bound B-channel */
};

/* Embedded in the owner; the fields are media_call.c's. */
struct media_call {
	unsigned call_id;            /* "call N" in the log */
	struct media_dp_sess sess;
	const struct media_call_ops *ops;
	void *arg;
	int pending;                 /* dataplane requests outstanding */
	bool installed;              /* SESSION_ADD acknowledged (or no answer) */
	bool busy;                   /* SESSION_ADD/MODIFY in flight */
	bool again;                  /* pushed meanwhile: push again */
	bool stats_busy;             /* SESSION_STATS in flight */
	bool ending;                 /* released: removing what the dataplane holds */
	unsigned rekey_mask;         /* legs (bit) whose ROC restarts at the next push */
	bool lost;                   /* the connection was lost: waiting to re-install */
	bool lost_push;              /* a push went unanswered (or was asked) meanwhile */
	unsigned reinst;             /* re-install step in flight (media_call.c) */
	struct media_dp_index ix[2][2]; /* highest SRTP indexes read back */
	bool ix_moved;               /* ... and the last read moved them enough that the
					call's record must be written again (a standby
					estimates from it: media_dp_index_moved()) */
	struct media_call_leg leg[2];
	bool adopted;                /* read back at start: the re-install checks that the
					dataplane holds the ports and the session */
	bool adopt_port_new[2];      /* ... a port it did not hold (taken anew) */
	bool standby;                /* pre-installed on a standby node: both legs blocked
					(MG_LEG_F_BLOCK), nothing forwarded (docs/standby.md) */
	bool promote;                /* the next push restarts every SRTP context at ix[][] */
	struct mg_msg_addr cand[MG_PROTO_MAX_CANDIDATES]; /* RFC 3960 sources seen in 18x */
	unsigned n_cand;
};

void media_call_init(struct media_call *mc, unsigned call_id, uint64_t sess_id,
		     const struct media_call_ops *ops, void *arg);

/* PORT_ALLOC for both legs on these dataplane addresses (media_dp_local_ip()). */
void media_call_ports(struct media_call *mc, const char *local_ip0, const char *local_ip1);
/* Leg @li's local RTP port (0 before its PORT_ALLOC answer). */
uint16_t media_call_port(const struct media_call *mc, unsigned li);

/* The callee's SDP named this source (RFC 3960: an allowed source of the
 * callee's leg under lockOnSDP until the final answer). */
void media_call_candidate(struct media_call *mc, const struct sdp_result *r);

/* Whether a new negotiation of a leg would change what the dataplane or
 * the media timeout see (address, rtcp-mux, keys, direction, hold, a
 * re-key): an answer that changes nothing needs no push. */
bool media_call_neg_differs(const struct sdp_result *x, const struct sdp_result *y);

/* Install or replace the session from the owner's view, then bind the
 * TDM leg once; ops->installed follows. @rekey_leg: the leg whose re-key
 * just changed keys (its ROC restarts), -1 none. */
void media_call_push(struct media_call *mc, int rekey_leg);

/* SESSION_STATS; -EBUSY (one in flight, or nothing installed) or -errno. */
int media_call_stats(struct media_call *mc);

bool media_call_installed(const struct media_call *mc);
bool media_call_bound(const struct media_call *mc, unsigned li);
/* Requests in flight. */
bool media_call_busy(const struct media_call *mc);
/* The dataplane holds something of the call (session or ports). */
bool media_call_holds(const struct media_call *mc);

/* The call ends: remove what the dataplane holds, one request after the
 * other (or keep it for when the connection is back); ops->idle when done.
 * Called again it takes the next step. */
void media_call_release(struct media_call *mc);
/* The connection is lost: keep what the dataplane may hold for when it is
 * back (unless requests are still in flight: their answers come first). */
void media_call_lost(struct media_call *mc);
/*
 * Dataplane restart (docs/reliability.md): the connection is lost and the
 * call waits for it (media_dp_restart_wait()); true if it can (both ports
 * taken, not ending), else it must end as before (media_call_lost()).
 */
bool media_call_suspend(struct media_call *mc);
bool media_call_suspended(const struct media_call *mc);
/* The connection is back: the ports are taken again by number (first),
 * the session re-installed with the last indexes read and the B-channel
 * bound again; a dataplane that kept them answers EADDRINUSE and EEXIST
 * (kept). ops->failed if the dataplane refuses, ops->installed if a push
 * was waiting. */
void media_call_reinstall(struct media_call *mc);

/*
 * A standby's call takes over (docs/standby.md): a SESSION_MODIFY without
 * the block flags, every SRTP context restarted (ROC reset) at the indexes
 * in ix[][] (MG_CRYPTO_F_SEQ where known), as media_promote() does for NG
 * sessions; ops->installed follows. A call still being installed is
 * installed unblocked.
 */
void media_call_promote(struct media_call *mc);

/* Forget the requests in flight and what the dataplane holds (the call is
 * freed by force: guard timer, shutdown). */
void media_call_abandon(struct media_call *mc);

#endif
