/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's side of the dataplane socket, on the su_root event
 * loop: connects, exchanges HELLO (refusing a dataplane built with other
 * message sizes), PINGs periodically, and reconnects with exponential
 * backoff (100 ms doubling up to 5 s) whenever the dataplane goes away.
 * Liveness survives a request backlog: PINGs go out ahead of queued
 * requests, and a PING unanswered in time only drops the connection when
 * nothing at all came back for that long.
 *
 * Requests are asynchronous: dpc_request() sends at once and the callback
 * runs later from the event loop with the reply, or with -ETIMEDOUT /
 * -ENOTCONN if none came. The call engine listens for connection changes
 * with dpc_on_state() to re-install its sessions after a dataplane restart.
 */
#ifndef DPCLIENT_H
#define DPCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "mg_config.h"
#include "mg_proto.h"

struct dpc;

/**
 * Answer to a request. @p result is the dataplane's result (0 or -errno),
 * or -ETIMEDOUT (no answer in time), -ENOTCONN (connection lost before the
 * answer), -ECANCELED (client destroyed). @p body is the decoded reply body
 * (host order, validated) when result == 0 and the type has one, else NULL.
 */
typedef void (*dpc_reply_f)(void *arg, int result, const void *body);

/** Connection went up (after a successful HELLO) or down. */
typedef void (*dpc_state_f)(void *arg, bool up);

/** Tunables; zero fields take the defaults in brackets. */
struct dpc_params {
	unsigned ping_interval_ms; /**< [1000] */
	unsigned ping_timeout_ms;  /**< [3000] no PONG: the connection is dropped */
	unsigned backoff_min_ms;   /**< [100] */
	unsigned backoff_max_ms;   /**< [5000] */
};

/** Create and start connecting to s->control_socket. NULL + errno on error. */
struct dpc *dpc_create(su_root_t *root, const struct mg_settings *s,
		       const struct dpc_params *params);

/** Close; pending callbacks run with -ECANCELED. */
void dpc_destroy(struct dpc *c);

/** One state listener (NULL to remove). */
void dpc_on_state(struct dpc *c, dpc_state_f fn, void *arg);

/** True between a successful HELLO and the loss of the connection. */
bool dpc_is_up(const struct dpc *c);

/** PINGs that timed out while other replies kept arriving (a busy dataplane,
 * not a lost one: the connection is dropped only after ping_timeout_ms of
 * silence). */
uint64_t dpc_late_pongs(const struct dpc *c);

/** Times the connection came up (1 after the first HELLO). */
unsigned dpc_connect_count(const struct dpc *c);

/**
 * Send a request of @p type with @p body (the host struct named in
 * enum mg_msg_type; NULL for empty bodies). Returns the request id (> 0),
 * or -ENOTCONN, -EINVAL (body fails validation, see mg_proto_last_error()),
 * -ENOMEM. On success @p cb runs exactly once (unless cancelled).
 */
int64_t dpc_request(struct dpc *c, unsigned type, const void *body, unsigned timeout_ms,
		    dpc_reply_f cb, void *arg);

/**
 * Forget every pending request whose callback argument is @p arg (an owner
 * about to be freed): none of their callbacks will run. Returns how many.
 */
unsigned dpc_cancel_arg(struct dpc *c, const void *arg);

#endif
