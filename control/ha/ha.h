/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session state in Redis (docs/ha-state.md; SPEC §10): every NG relay
 * session and every B2BUA call is published as one key with an expiry
 * (mg:NODE:ng:CALL-ID, mg:NODE:call:SESSION), written when it changes,
 * refreshed every expire/3 and at every (re)connection, deleted when it
 * ends (a standby: ha_watch.h, until ha_promote()). At start the node's keys are read back: NG sessions are re-adopted
 * (media_adopt()) and B2BUA calls taken over (calls_adopt()), both checked
 * against the dataplane once connected; refused records are deleted.
 *
 * Nothing here runs on the packet path or blocks the event loop: the reads
 * (at start, mgctl ha adopt) are asynchronous on the loop too.
 */
#ifndef MG_HA_H
#define MG_HA_H

#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "calls.h"
#include "ha_redis.h"
#include "ha_watch.h"
#include "mg_config.h"

/* After media_start() and calls_start(), before the event loop runs.
 * mediagate.redis.url empty, or a standby: @p ready() at once. Else this
 * node's keys of a previous run are read back on the loop (asynchronous,
 * bounded by mediagate.redis.readTimeout) and @p ready() runs (once) when the
 * read is over and every call read back has the dataplane's verdict, or at
 * that bound: the caller opens SIP then (docs/ha-state.md "Control
 * restart"). Redis unreachable: nothing read back, retried in the
 * background (0). */
int ha_start(su_root_t *root, const struct mg_settings *s, void (*ready)(void));
void ha_stop(void);
/*
 * A standby takes over (mgctl ha promote; docs/standby.md): the watch of
 * the active node's keys stops, every pre-installed session forwards
 * (media_promote()), and this node publishes them as the node it stood
 * for. @p sessions: how many. On a node that is no standby: nothing (0).
 * The dataplane's shared address is the caller's (cli: SHARED_ADDR).
 */
int ha_promote(unsigned *sessions);

/*
 * The calls of another gateway that died (mgctl ha adopt NODE, run by
 * keepalived's notify_master when its address moves here; docs/ha-state.md):
 * first NODE's heartbeat (mg:NODE:alive): while it exists NODE lives and
 * nothing is done (-EBUSY) unless @p force; then node @p node's call
 * records are read (on the loop, bounded by mediagate.redis.readTimeout),
 * each call ended with a BYE on both legs (calls_end_peer()) and its record
 * deleted. @p addr (NULL: none) the dead node's SIP address, now ours: the
 * BYEs go from the user agent bound to it (its answers come there).
 * 0: @p done(arg, rc, res) follows, once, from the loop (rc 0 or -errno with
 * res->why). -errno with @p why: refused at once (done not called).
 */
struct ha_adopt_result {
	unsigned ended, refused;
	long long alive_ttl_ms;   /* the heartbeat's PTTL read (-2: none) */
	char why[320];
};
int ha_adopt_peer(const char *node, const char *addr, bool force,
		  void (*done)(void *arg, int rc, const struct ha_adopt_result *res), void *arg, char *why,
		  size_t wl);

struct ha_counters {
	bool enabled;
	char node[64];
	struct ha_redis_counters redis;
	uint64_t published;      /* records built and queued */
	uint64_t unpublished;    /* records not built: a value beyond what is read back
				    (HA_REC_STR_MAX) or out of memory, plus calls_unpublished() */
	uint64_t stale_lost;     /* refused keys not queued for deletion (out of memory) */
	uint64_t cpu_ns;         /* thread CPU time spent here: building records, hiredis
				    (commands, socket reads and writes, replies) */
	uint64_t read_back;      /* keys read at start */
	uint64_t read_bad;       /* of those, refused (not a record of this version) */
	uint64_t calls_adopted;  /* B2BUA calls read back and taken over */
	uint64_t calls_adopt_dropped; /* of those, ended: the dataplane no longer held them */
	uint64_t adopted;        /* NG sessions the dataplane held (media counters) */
	uint64_t adopt_dropped;  /* NG sessions it did not hold any more */
	/* standby node (docs/standby.md) */
	bool standby;            /* role standby, not promoted */
	bool promoted;           /* was a standby, took over */
	struct ha_watch_counters watch;
	unsigned standby_sessions;   /* pre-installed, waiting (blocked) */
	uint64_t standby_installed, standby_updated, standby_replaced, standby_removed;
	uint64_t promote_sessions;   /* sessions that took over */
	uint64_t promote_failed;     /* ... whose dataplane modify failed */
	struct calls_standby_counters calls_standby; /* B2BUA calls (calls_standby_put()) */
	unsigned calls_taken_over;   /* calls the last promote took over */
	/* a dead gateway's calls (ha_adopt_peer()) */
	uint64_t peer_adopts;        /* ha adopt commands run */
	uint64_t peer_read;          /* its keys read */
	uint64_t peer_refused;       /* call records that could not be ended */
	uint64_t peer_alive_refused; /* ha adopt refused: NODE's heartbeat was fresh */
	uint64_t peer_forced;        /* ... run anyway (--force) */
	uint64_t peer_read_failed;   /* ha adopt whose Redis read failed or timed out */
	/* start and heartbeat */
	uint64_t sip_held_timeout;   /* SIP opened at the readTimeout bound, not at the end of the read-back */
	uint64_t alive_sent;         /* heartbeats written */
	uint64_t alive_missed;       /* heartbeats not written (Redis not connected) */
	struct calls_peer_counters peer; /* calls ended, their BYEs and answers */
};
void ha_get_counters(struct ha_counters *out);

#endif
