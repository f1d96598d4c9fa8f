/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media sessions: the control plane's one media layer (ARCHITECTURE.md,
 * "one media layer, two front ends"). A media session is what a relay keeps
 * for one call: two sides (the first offerer's and the other), each with a
 * local port pair per relayed m= line, the parties on each side (a side
 * has several parties when a forked offer is answered by several to-tags,
 * RFC 3960), every party's remote endpoints and SDES keys, our keys toward
 * it, and one dataplane session per relayed m= line between the active
 * parties of the two sides.
 *
 * It reads an SDP, puts the relay in the path (sdp_rw.h: c=/o=, m= ports,
 * profile RTP/AVP <-> RTP/SAVP with the dataplane converting, a=crypto of
 * ours, rtcp-mux, ICE and DTLS removed) and installs, modifies and deletes
 * the dataplane sessions through media_dp.h, the requests the call engine's
 * media (media_call.h) goes through too. It knows nothing about SIP
 * dialogs or NG cookies: a session is found by an opaque key (the NG
 * front end uses the call-id) and parties by their tags.
 *
 * Every operation is asynchronous (the dataplane answers later): the
 * callback runs exactly once from the event loop, also on error. Operations
 * on one session run one at a time, in the order they were asked.
 */
#ifndef MG_MEDIA_H
#define MG_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "media_dp.h"
#include "media_timeout.h"
#include "mg_config.h"
#include "mg_proto.h"
#include "mg_srtp_sdes.h"
#include "mg_srtp_suite.h"

#define MEDIA_MAX_STREAMS 4  /* relayed m= lines per session */
#define MEDIA_MAX_PARTIES 4  /* parties per side (forks by to-tag) */
#define MEDIA_TAG_MAX 128
_Static_assert(MEDIA_TO_STREAMS >= MEDIA_MAX_STREAMS, "media_watch has a clock per stream");

/* rtcp-mux handling (NG "rtcp-mux" list). */
enum media_rtcp_mux {
	MEDIA_MUX_OFFER = 1u << 0,   /* offer rtcp-mux to the other side even if not offered to us */
	MEDIA_MUX_ACCEPT = 1u << 1,  /* accept the offerer's rtcp-mux whatever the other side does */
	MEDIA_MUX_DEMUX = 1u << 2,   /* do not pass rtcp-mux on; accept it from the offerer */
	MEDIA_MUX_REJECT = 1u << 3,  /* refuse the offerer's rtcp-mux */
	MEDIA_MUX_REQUIRE = 1u << 4, /* offer rtcp-mux and require it in the answer */
};

/* What the front end asks for one offer or answer. Zero = defaults. */
struct media_opts {
	const char *profile;          /* transport protocol of the SDP we write
					 (RTP/AVP, RTP/SAVP, RTP/AVPF, RTP/SAVPF);
					 NULL = as the party wrote it */
	const char *media_address;    /* address written in c= (default: the
					 dataplane's local address) */
	const char *source_address;   /* the party's address to use instead of
					 its SDP's (NG SIP-source-address) */
	bool replace_origin;          /* o= address too */
	bool keep_ice;                /* pass ICE lines through (default: remove:
					 the relay does no ICE) */
	bool sdes_off;                /* offer no SDES to the other side */
	uint32_t suites_no;           /* bits (1u << enum mg_srtp_suite) not to offer/accept */
	uint32_t suites_only;         /* bits: only these (0 = every configured suite) */
	uint64_t lifetime;            /* SDES lifetime on our keys, 0 = none */
	unsigned rtcp_mux;            /* enum media_rtcp_mux bits */
	bool strict_source;           /* accept media only from the SDP's endpoint */
	bool media_handover;          /* a latched leg's source may move (SPEC 12);
					 sticks to the session once given */
	bool dtls_refuse;             /* DTLS-SRTP offer: refuse instead of SDES-only */
	bool no_rtcp_attr;            /* write no a=rtcp line */
	const char *codec_strip;      /* codecs taken out of the SDP we write (NG codec
					 strip and mask: no transcoding, so both mean
					 "not offered"); names, "all"; NULL = none */
	const char *codec_except;     /* kept despite codec_strip "all" */
};

enum media_err {
	MEDIA_OK = 0,
	MEDIA_E_SDP,       /* unusable SDP (why says what) */
	MEDIA_E_POLICY,    /* SRTP/DTLS policy (no acceptable crypto, ...) */
	MEDIA_E_NOTFOUND,  /* unknown session / tag */
	MEDIA_E_LIMIT,     /* mediagate.calls.maxCalls sessions exist */
	MEDIA_E_PORTS,     /* the dataplane ran out of ports */
	MEDIA_E_DATAPLANE, /* the dataplane refused or is not connected */
	MEDIA_E_NOMEM,
	MEDIA_E_SHUTDOWN,
};

/* Counters of one direction of one stream (from SESSION_STATS). */
struct media_dir_stats {
	uint64_t packets, bytes, rtcp_packets, errors; /* errors = drops of every reason */
	uint64_t auth_failures, replays;
	uint64_t drops[MG_DROP_REASON_COUNT]; /* by enum mg_drop_reason */
	/* rx: the party's last RTCP report block (0 ssrc: none yet) */
	uint32_t rr_ssrc, rr_lost, rr_jitter;
};

struct media_stream_stats {
	struct media_dir_stats rx, tx; /* rx: received from this party, tx: sent to it */
};

/* Result of an operation. Valid during the callback only. */
struct media_result {
	enum media_err err;
	char why[256];          /* error text (also for MEDIA_OK warnings) */
	char warning[256];      /* non-fatal, e.g. a refused flag */
	const char *sdp;        /* offer/answer: the SDP to pass on */
	size_t sdp_len;
	const struct media_session *session; /* query/delete: the session as it was */
	/* query/delete: counters per side, party and stream */
	struct media_stream_stats stats[2][MEDIA_MAX_PARTIES][MEDIA_MAX_STREAMS];
	bool have_stats;
};

typedef void (*media_done_f)(void *arg, const struct media_result *res);

/* ---- read-only view of a session, for query/list replies ---- */

struct media_crypto {
	const struct mg_srtp_suite_info *suite; /* NULL: plain RTP */
	unsigned long tag;
	struct mg_srtp_sdes_key key;
};

/* One party's view of one stream (m= line). */
struct media_leg {
	struct mg_msg_addr remote;  /* family NONE: not known */
	uint16_t remote_rtcp_port;
	bool rtcp_mux;              /* RTCP on the RTP port on this party's side */
	bool relayed;               /* an RTP stream we relay (else port 0) */
	char profile[16];           /* what the party speaks */
	char media_type[12];
	bool silent;                /* its SDP says it sends nothing (recvonly,
				       inactive, c=0.0.0.0 hold): silentTimeout */
	struct media_crypto rx;     /* the party's key (what it sends) */
	struct media_crypto tx;     /* our key (what we send it) */
};

struct media_party {
	char tag[MEDIA_TAG_MAX];    /* "" until known (an offer's callee) */
	bool answered;
	bool blocked;               /* NG block media: what it sends is not forwarded */
	unsigned n_legs;
	struct media_leg *legs;     /* n_legs */
};

struct media_side {
	struct mg_msg_port ports[MEDIA_MAX_STREAMS]; /* our port pair per stream facing this side */
	bool port_ok[MEDIA_MAX_STREAMS];
	bool port_wait[MEDIA_MAX_STREAMS];          /* PORT_ALLOC sent, no answer yet */
	unsigned n_parties;
	struct media_party *parties[MEDIA_MAX_PARTIES];
	int active;                 /* party installed in the dataplane, -1 none */
	/* while an offer to this side awaits its answer: our keys per stream
	 * (each SRTP suite offered once), NULL otherwise */
	struct media_crypto (*offered)[MG_SRTP_SUITE_COUNT];
	uint8_t n_offered_streams;                /* entries of offered */
	uint8_t n_offered[MEDIA_MAX_STREAMS];
	bool mux_offered[MEDIA_MAX_STREAMS];      /* we offered rtcp-mux to this side */
	bool rtcp_attr;                           /* write a=rtcp (no-rtcp-attribute: false) */
};

struct media_session {
	char *key;
	uint64_t created_ms, last_signal_ms;   /* wall clock, ms */
	struct media_side side[2];             /* [0] = the first offerer's */
	unsigned n_streams;
	struct media_dp_sess dp[MEDIA_MAX_STREAMS]; /* dataplane session per stream (id 0 = none) */
	char label[64];
	bool recording;                        /* forks to rec_dest installed */
	bool handover;                         /* media-handover was asked for */
	bool strict;                           /* strict-source was asked for */
	struct mg_msg_addr rec_dest;
	/* internal */
	struct media_dp_index ix[MEDIA_MAX_STREAMS][2][2]; /* SRTP indexes read back */
	uint64_t poll_ms;                      /* last SESSION_STATS of media_tick() */
	bool lost;                             /* dataplane lost: re-install when back */
	unsigned reinst;                       /* re-install step (media.c) */
	unsigned kept;                         /* re-install: streams the dataplane still had */
	bool adopted;                          /* read back at start (media_adopt()): checked
						  against the dataplane by the re-install */
	unsigned adopt_new;                    /* ... which did not hold this many of its parts */
	unsigned adopt_taken;                  /* ports (bit side * MEDIA_MAX_STREAMS + i) the
						  check took anew: the only ones a drop frees */
	bool standby;                          /* an active node's session pre-installed on
						  this standby: blocked until media_promote() */
	struct media_session *next_rec;        /* standby: its newer record (not linked),
						  installed once this one is gone */
	struct media_watch watch;              /* timeouts (media_timeout.c) */
	struct media_op *ops, *ops_tail;       /* queued operations */
	unsigned pending;                      /* dataplane requests in flight */
	bool deleting;
	struct media_session *hnext;           /* hash chain */
	struct media_session *next, *prev;     /* list, oldest first */
};

/* Start with the dataplane client and settings (kept until media_stop()),
 * before either front end. */
int media_start(struct dpc *dp, const struct mg_settings *s);
/* The dataplane connection went up (what sessions ended meanwhile left
 * there is removed) or down (dpc_on_state). */
void media_dataplane_state(bool up);
/* Every second (main.c): read the counters and SRTP indexes of installed
 * sessions back (each every 5 s at most, more often for short NG timeouts)
 * for a re-install after a dataplane restart and the NG timeouts
 * (media_timeout.h: what they judge expired is deleted, counted by
 * reason), and end the sessions that waited longer than
 * mediagate.dataplane.restartWait. */
void media_tick(void);
/* The clock of media_tick() and the timeouts: CLOCK_MONOTONIC in ms.
 * media_set_clock() replaces it (tests drive time; NULL: the real one). */
uint64_t media_now_ms(void);
void media_set_clock(uint64_t (*now_ms)(void));
/* Limits from a reloaded configuration (maxCalls, suites, srtp mode). */
void media_reload(const struct mg_settings *s);
/* Drain (mgctl): offers that would create a session are refused as over
 * the limit (MEDIA_E_LIMIT: NG "load limit"); sessions up go on. */
void media_set_drain(bool on);
/* The session limit until the next media_reload(); 0 = none. */
void media_set_max_sessions(unsigned n);
/* Delete every session from the dataplane (best effort) and free them.
 * Stop both front ends first: queued operations are dropped without their
 * callbacks. */
void media_stop(void);

/*
 * An offer from the party @p from_tag (to @p to_tag when known, e.g. a
 * re-INVITE). Creates the session on the first offer. The result's SDP is
 * the offer to pass on to the other side.
 */
void media_offer(const char *key, const char *from_tag, const char *to_tag, const char *sdp, size_t len,
		 const struct media_opts *o, media_done_f cb, void *arg);
/*
 * The answer of party @p to_tag to the offer of @p from_tag. A second
 * to-tag answering the same offer is a fork (RFC 3960): it becomes the
 * active party of its side. Installs or modifies the dataplane sessions.
 * The result's SDP is the answer to pass on to the offerer.
 */
void media_answer(const char *key, const char *from_tag, const char *to_tag, const char *sdp, size_t len,
		  const struct media_opts *o, media_done_f cb, void *arg);
/*
 * Delete: with @p to_tag of a fork that is not active, only that party;
 * otherwise the whole session (both sides, every party), with its final
 * counters in the result. @p from_tag NULL or "" = whole session.
 */
void media_delete(const char *key, const char *from_tag, const char *to_tag, media_done_f cb, void *arg);
/* The session and its current counters. */
void media_query(const char *key, media_done_f cb, void *arg);
/*
 * Recording as a fork (SPEC §5): every installed stream is copied in both
 * directions, decrypted, to @p dest: what side 0 sends to port + 4i, what
 * side 1 sends to port + 4i + 2 (i = stream index; RTCP to those + 1),
 * the main path untouched. @p start false removes the forks (dest unused).
 */
void media_record(const char *key, bool start, const struct mg_msg_addr *dest, media_done_f cb, void *arg);
/*
 * Block (or unblock) the media the party @p tag sends: the dataplane still
 * receives, authenticates, counts and forks it (recording), but does not
 * forward it. @p tag NULL or "": every party of the call.
 */
void media_block(const char *key, const char *tag, bool block, media_done_f cb, void *arg);

const struct media_session *media_find(const char *key);
/* Sessions oldest first: media_first() then media_next(). */
const struct media_session *media_first(void);
const struct media_session *media_next(const struct media_session *m);
unsigned media_count(void);

struct media_counters {
	uint64_t created, deleted, offers, answers, errors;
	uint64_t limit_refused;   /* refused by maxCalls */
	uint64_t ports_refused;   /* dataplane out of ports */
	uint64_t load_refused;    /* refused by load (rate, loop lag: control/load) */
	uint64_t adopted;         /* sessions read back at start that the dataplane held */
	uint64_t adopt_dropped;   /* read back, but the dataplane no longer held them */
	uint64_t standby_installed; /* standby: an active node's sessions pre-installed */
	uint64_t standby_updated;   /* ... records read again with only new indexes */
	uint64_t standby_replaced;  /* ... records that changed (re-offer): removed, read again */
	uint64_t standby_removed;   /* ... removed (their key deleted or expired) */
	uint64_t promoted;          /* sessions made forwarding by media_promote() */
	uint64_t promote_failed;    /* ... whose SESSION_MODIFY the dataplane refused */
};
void media_get_counters(struct media_counters *out);

const char *media_err_name(enum media_err e);

/*
 * Published state (docs/ha-state.md): @p fn runs after every change of a
 * session that a restarted control plane needs (an offer, an answer,
 * block, recording, a new ROC read back) and with @p gone when it is
 * freed. NULL: none.
 */
typedef void (*media_change_f)(const struct media_session *m, bool gone);
void media_set_change_hook(media_change_f fn);
/*
 * A session read back at start (a heap session as media.c allocates it,
 * with the ports, dataplane session ids, parties, keys and indexes it had):
 * taken over (0) or -EEXIST. It is checked against the dataplane when the
 * connection is up, as a re-install after a dataplane restart: ports taken
 * again by number and sessions added again; a dataplane that holds them
 * all (EADDRINUSE, EEXIST) keeps it, otherwise it is deleted (counted:
 * adopt_dropped).
 */
int media_adopt(struct media_session *m);

/*
 * Standby node (docs/standby.md). media_standby_put(): a session read from
 * the active node's record (as ha_rec_media_parse() builds it): a new one
 * is installed in this node's dataplane as a re-install does (its ports by
 * number, its sessions with the record's SRTP indexes), every leg blocked
 * (MG_LEG_F_BLOCK: nothing forwarded); 0. A session already pre-installed:
 * only its indexes are taken when it installs the same (0; @p m freed),
 * else it is removed and -EAGAIN asks the caller to read the record again
 * once it is gone. -EEXIST: a session of this node's own (not a standby
 * one) has the key (@p m freed).
 */
int media_standby_put(struct media_session *m);
/* The active node's session @p key ended: removed here. 0 or -ENOENT. */
int media_standby_drop(const char *key);
/*
 * Take over (mgctl ha promote): every pre-installed session forwards from
 * now on. Each installed stream is modified unblocked, its SRTP contexts
 * restarted at the record's latest indexes (MG_CRYPTO_F_ROC_RESET with
 * MG_CRYPTO_F_SEQ: the next packet's index is estimated from them, as after
 * a dataplane restart). Returns the number of sessions taken over.
 */
unsigned media_promote(void);
/* Sessions still waiting as a standby's (not promoted). */
unsigned media_standby_count(void);

#endif
