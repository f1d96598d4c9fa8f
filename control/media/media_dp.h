/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The media layer's dataplane requests: the one place the control plane
 * asks the dataplane for ports, sessions, counters, forks and B-channel
 * bindings, for both kinds of media session (media.c: the relay's, driven
 * by the NG front end; media_call.c: the B2BUA's, driven by the call
 * engine). It also keeps what sessions that ended while the connection was
 * down may have left in the dataplane, and removes it once the connection
 * is back.
 *
 * Replies come as dpclient's (media_dp_reply_f is dpc_reply_f): the
 * request's owner is the callback argument, so media_dp_cancel(owner)
 * forgets all of an owner's. Its users do not see dpclient itself.
 */
#ifndef MG_MEDIA_DP_H
#define MG_MEDIA_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_config.h"
#include "mg_proto.h"

#define MEDIA_DP_TIMEOUT_MS 2000 /* per dataplane request */

struct dpc;

/* A request's answer: @p result 0 or -errno (-ETIMEDOUT, -ENOTCONN,
 * -ECANCELED from the client), @p body the decoded reply body or NULL. */
typedef void (*media_dp_reply_f)(void *arg, int result, const void *body);

/* The dataplane client as the media layer uses it; the unit tests point
 * media_dp_io at fakes (calls_test.c), media_test.c fakes dpc_* itself. */
struct media_dp_io {
	int64_t (*request)(struct dpc *dp, unsigned type, const void *body, unsigned timeout_ms,
			   media_dp_reply_f cb, void *arg);
	bool (*is_up)(const struct dpc *dp);
	unsigned (*cancel_arg)(struct dpc *dp, const void *arg);
};
extern const struct media_dp_io media_dp_io_real;
extern const struct media_dp_io *media_dp_io;

/* The client every request goes to (NULL: none, requests fail). */
void media_dp_start(struct dpc *dp);
bool media_dp_up(void);
/* Forget every request of @p owner still in flight: no callback runs. */
unsigned media_dp_cancel(const void *owner);

/*
 * The dataplane address for media toward @p remote (NULL: not known): the
 * port address whose subnet holds it, else the first address of a port with
 * a next hop, else the dataplane's first address ("" if none).
 */
void media_dp_local_ip(const struct mg_settings *s, const char *remote, char *out, size_t len);

/* PORT_ALLOC on @p local_ip (NULL or "": any IPv4 address); the reply body
 * is the struct mg_msg_port. Returns the request id or -errno. */
int64_t media_dp_port_alloc(const char *local_ip, media_dp_reply_f cb, void *arg);
/* PORT_ALLOC of that very port @p p (its address, RTP port and rtcp-mux
 * flag): a re-install after a dataplane restart takes the ports the peers
 * know. -EADDRINUSE: the dataplane holds it (a dataplane that survived). */
int64_t media_dp_port_take(const struct mg_msg_port *p, media_dp_reply_f cb, void *arg);
/* PORT_FREE; @p cb NULL: nothing waits, a refusal is logged. */
int64_t media_dp_port_free(const struct mg_msg_port *p, media_dp_reply_f cb, void *arg);

/*
 * One dataplane session: its id and whether the dataplane may hold it.
 * One request at a time per session (the owner's job: a second ADD would
 * be refused and MODIFYs must arrive in order).
 */
struct media_dp_sess {
	uint64_t id;
	bool on; /* ADD sent (answered or not): later pushes MODIFY, the end DELs */
};

/*
 * SESSION_ADD (first time) or SESSION_MODIFY of @p s with the legs of
 * @p m (its id is set here). MG_CRYPTO_F_ROC_RESET is kept only on the
 * legs in @p roc_reset_legs (bit per leg): the ROC restarts at the push
 * that follows a re-key, not at later ones. Once sent, the session counts
 * as on whatever the reply (no answer may still have installed it: a DEL
 * costs nothing). Returns the request id or -errno (-EINVAL: see
 * mg_proto_last_error()).
 */
int64_t media_dp_session_put(struct media_dp_sess *s, struct mg_msg_session *m, unsigned roc_reset_legs,
			     media_dp_reply_f cb, void *arg);
/* SESSION_DEL (the reply body is the final struct mg_msg_session_stats). */
int64_t media_dp_session_del(struct media_dp_sess *s, media_dp_reply_f cb, void *arg);
/* SESSION_STATS (the reply body is the struct mg_msg_session_stats). */
int64_t media_dp_session_stats(const struct media_dp_sess *s, media_dp_reply_f cb, void *arg);

/*
 * A stream's highest SRTP index (ROC, highest sequence number) as the last
 * SESSION_STATS read it, per leg and direction ([leg][0 = rx, 1 = tx]);
 * docs/reliability.md, "Dataplane restart".
 */
struct media_dp_index {
	uint32_t roc;
	uint16_t seq;
	bool valid;
};
/* Keep what @p st says (directions it knows nothing of keep the last). */
void media_dp_index_take(struct media_dp_index ix[2][2], const struct mg_msg_session_stats *st);
/* Whether the record must be written again after a read moved @p was to
 * @p now: a direction became known, its ROC moved, or its sequence number
 * entered another quarter of the sequence space (2^14). A standby or a
 * re-install estimates the next index from the recorded one (RFC 3711
 * App. A), right only while the stream moved less than 2^15 since: an
 * estimate one ROC low would make the SRTP sender reuse indexes. */
bool media_dp_index_moved(const struct media_dp_index was[2][2], const struct media_dp_index now[2][2]);
/* A re-install's session: every SRTP direction with a known index goes on
 * from it (MG_CRYPTO_F_SEQ), none restarts its ROC. */
void media_dp_index_apply(struct mg_msg_session *m, const struct media_dp_index ix[2][2]);

/* The seconds sessions wait for a lost dataplane (mediagate.dataplane.
 * restartWait; 0: they end when the connection is lost). */
void media_dp_set_restart_wait(unsigned s);
unsigned media_dp_restart_wait(void);

/* TDM_BIND / TDM_UNBIND (the unbind reply body is the struct mg_msg_tdm_stats). */
int64_t media_dp_tdm_bind(const struct mg_msg_tdm_bind *b, media_dp_reply_f cb, void *arg);
int64_t media_dp_tdm_unbind(uint32_t channo, media_dp_reply_f cb, void *arg);

/* FORK_ADD / FORK_DEL (recording, SPEC §5). */
int64_t media_dp_fork_add(const struct mg_msg_fork *f, media_dp_reply_f cb, void *arg);
int64_t media_dp_fork_del(uint64_t session_id, uint32_t fork_id, media_dp_reply_f cb, void *arg);

/*
 * What an ended media session may have left in a dataplane it could not
 * reach (connection down). If the dataplane itself survived (a dropped
 * connection, not a restart), these are removed once the connection is back
 * (errors then, e.g. ENOENT after a restart, are fine).
 */
#define MEDIA_DP_LEFT_SESS 4
#define MEDIA_DP_LEFT_PORTS 8
struct media_dp_leftover {
	uint64_t sess[MEDIA_DP_LEFT_SESS];            /* 0: none */
	uint32_t channo[2];                            /* bound B-channels, 0: none */
	struct mg_msg_port port[MEDIA_DP_LEFT_PORTS];
	bool port_ok[MEDIA_DP_LEFT_PORTS];
};
/* Keep @p o for when the connection is back (nothing kept if it is empty). */
void media_dp_orphan(const struct media_dp_leftover *o);
/* The connection went up (remove the leftovers) or down. */
void media_dp_state(bool up);
/* Shutdown: the leftovers stay in the dataplane (logged). */
void media_dp_stop(void);

#endif
