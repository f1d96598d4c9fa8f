/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A standby node's view of the active node's keys (docs/standby.md):
 * PSUBSCRIBE to Redis keyspace notifications of mg:NODE:* (NG sessions and
 * B2BUA calls) and, at every
 * (re)connection, a SCAN of them (the subscription first: nothing falls
 * between the two). Each key written is read (GET) and given to @p put;
 * each key deleted or expired to @p drop; a key the SCAN no longer finds
 * after an outage too.
 *
 * The subscription's socket is on the su_root (read when readable, never
 * waited on); the GETs and the SCAN are blocking commands on a second
 * connection (a local Redis answers in well under a millisecond, and a
 * standby serves no call until it is promoted; the watch stops then).
 * Lost connections are retried every second.
 *
 * Redis must send the notifications (notify-keyspace-events with K, $ or
 * A, and g, x): when the server's setting lacks them, they are added to it
 * (CONFIG SET, what was set stays); a server that refuses is logged and
 * counted (config_refused), the standby then only syncs at reconnection.
 */
#ifndef MG_HA_WATCH_H
#define MG_HA_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

struct ha_watch_counters {
	bool connected;
	uint64_t connects;     /* subscriptions made (the first one too) */
	uint64_t events;       /* keyspace notifications of the node's keys */
	uint64_t gets;         /* records read */
	uint64_t gone;         /* keys deleted, expired or no longer found */
	uint64_t resyncs;      /* SCANs of every key (at each connection) */
	uint64_t refetched;    /* records read again after a changed session was removed */
	uint64_t errors;       /* lost connections, failed commands */
	bool config_refused;   /* notify-keyspace-events could not be set */
};

/* @p put returns 0, or -EAGAIN to be given the key's record again a
 * little later (its previous session is still being removed). */
typedef int (*ha_watch_put_f)(const char *key, const char *val, size_t len);
typedef void (*ha_watch_drop_f)(const char *key);
/* Keys this node holds for the watched node now (for the sweep after a
 * resync): @p each is called once per key. */
typedef void (*ha_watch_list_f)(void (*each)(void *arg, const char *key), void *arg);

int ha_watch_start(su_root_t *root, const char *url, unsigned db, const char *node, ha_watch_put_f put,
		   ha_watch_drop_f drop, ha_watch_list_f list);
void ha_watch_stop(void);
void ha_watch_counters(struct ha_watch_counters *out);

#endif
