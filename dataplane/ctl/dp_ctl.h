/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control socket server. Runs on the main lcore only: it is
 * the single writer of every table, so handlers registered here may change
 * tables without locks (workers read them lock-free, see dataplane/session).
 *
 * A feature registers one handler per message type (grout style):
 *
 *	static int session_add(const void *req, void *rep, const struct dp_ctl_peer *p)
 *	{
 *		const struct mg_msg_session *s = req;   // decoded, validated
 *		struct mg_msg_session_id *id = rep;     // zeroed, reply-sized
 *		...
 *		return 0;                               // or -errno
 *	}
 *	DP_CTL_REGISTER(MG_MSG_SESSION_ADD, sizeof(struct mg_msg_session), session_add);
 *
 * The server decodes and validates the message with mg_proto_decode() before
 * calling the handler, so `req` is in host byte order and every field has
 * passed the shared checks; handlers only check what depends on their state
 * (unknown session, port not allocated, table full...). A negative return is
 * sent back as the result with no body; 0 sends the reply body.
 */
#ifndef DP_CTL_H
#define DP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_config.h"
#include "mg_proto.h"

/** Who sent a request (for logs and per-peer policy). */
struct dp_ctl_peer {
	unsigned conn_id;  /**< increasing per accepted connection */
	pid_t pid;
	uid_t uid;
	uint32_t role;     /**< enum mg_proto_role from the peer's HELLO */
	uint32_t req_id;
};

/**
 * Handler: @p req is the decoded request body (NULL for empty bodies),
 * @p rep a zeroed buffer of the reply body size. Returns 0 or -errno.
 */
typedef int (*dp_ctl_handler_t)(const void *req, void *rep, const struct dp_ctl_peer *peer);

/**
 * Register the handler of @p type. @p min_len is the request body size the
 * handler was written for; it must equal this build's size for the type
 * (the protocol is fixed-size), so a handler compiled against another
 * header is refused at start rather than reading past a buffer.
 * Returns 0, -EINVAL (unknown type, size mismatch), -EEXIST (taken).
 * HELLO and PING are handled by the server itself.
 */
int dp_ctl_register(uint16_t type, size_t min_len, dp_ctl_handler_t handler);

/** Register at load time from any file of the dataplane. */
#define DP_CTL_REGISTER(type, min_len, fn)                                                     \
	__attribute__((constructor)) static void dp_ctl_register_##fn(void)                    \
	{                                                                                      \
		if (dp_ctl_register((type), (min_len), (fn)) < 0)                              \
			dp_ctl_register_failed(#fn);                                           \
	}

/** Called by DP_CTL_REGISTER on failure: remembered and reported by dp_ctl_init(). */
void dp_ctl_register_failed(const char *name);

/**
 * Housekeeping hook, called on the main lcore after every poll of the socket
 * (at least every @c DP_CTL_POLL_MS ms): RCU reclaim, neighbour ageing,
 * stats snapshots. Up to DP_CTL_MAX_HOOKS.
 */
#define DP_CTL_POLL_MS 10
#define DP_CTL_MAX_HOOKS 8
typedef void (*dp_ctl_hook_t)(void *arg);
int dp_ctl_hook_add(dp_ctl_hook_t fn, void *arg);

/** Figures PING replies carry; set by whoever knows them. */
void dp_ctl_set_counts(uint32_t n_sessions, uint32_t n_workers);

/**
 * Create the listening socket at s->control_socket (parent directory made if
 * missing; a stale socket left by a killed dataplane is replaced, a live one
 * is an error). Returns 0 or -errno (logged).
 */
int dp_ctl_init(const struct mg_settings *s);

/** Serve until dp_ctl_stop() is called (from a signal handler, say). */
void dp_ctl_run(void);

/**
 * mediagate.dataplane.orphanTimeout: true once when the last control plane
 * (role CONTROL, HELLO done) left that many seconds ago and none came back;
 * the caller then removes what it holds (docs/reliability.md).
 */
bool dp_ctl_orphan_due(void);
/** A control plane is connected (HELLO done). */
bool dp_ctl_control_connected(void);

/** Ask dp_ctl_run() to return; async-signal-safe. */
void dp_ctl_stop(void);

/** True once dp_ctl_stop() was called: workers poll it to leave their loops. */
bool dp_ctl_stopping(void);

/** Close every connection and remove the socket file. */
void dp_ctl_fini(void);

#endif
