/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Redis connection of the published state (docs/ha-state.md): hiredis'
 * asynchronous client on the control plane's su_root (a small adapter:
 * the socket registered with su_root_register(), its events set as hiredis
 * asks), never blocking the event loop. Writes go through a bounded queue
 * with one entry per key (a newer value replaces the one waiting: the
 * latest state wins), sent 10 ms after the first record (a batch: one
 * write() and one read() for several); a write that failed on a lost connection is queued
 * again unless a newer one waits. The connection comes back by itself
 * (backoff 0.5 s doubling to 8 s); the loss is logged once per outage.
 *
 * Reads (the read-back at start, mgctl ha adopt) go on the same connection,
 * answered in callbacks on the loop, each bounded by a timer
 * (mediagate.redis.readTimeout).
 */
#ifndef MG_HA_REDIS_H
#define MG_HA_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

struct ha_redis_counters {
	uint64_t writes;      /* SET/DEL Redis acknowledged */
	uint64_t errors;      /* error replies, and writes lost with a connection */
	uint64_t dropped;     /* not queued: the queue was full */
	uint64_t retried;     /* queued again after a lost connection */
	uint64_t connects;    /* connections made (the first one too) */
	uint64_t read_errors; /* reads (ha_redis_scan/pttl) failed: refused, connection lost */
	uint64_t read_timeouts; /* reads given up at their bound */
	unsigned reads_pending; /* reads under way or waiting for the connection */
	unsigned queued;      /* keys waiting */
	unsigned inflight;    /* writes sent, not answered */
	bool connected;
};

/* Where to connect: "redis://HOST[:PORT]" or "unix:/PATH". 0 or -EINVAL. */
int ha_redis_parse_url(const char *url, char *host, size_t hl, int *port, bool *unix_path);

/* Connect (in the background) and keep connected. @p on_connect runs after
 * every connection made (the owner republishes what it has). */
int ha_redis_start(su_root_t *root, const char *url, unsigned db, unsigned expire_s, unsigned queue_max,
		   void (*on_connect)(void));
/* SET @p key @p val EX expire, or DEL when @p val is NULL. */
void ha_redis_put(const char *key, const char *val, size_t len);
void ha_redis_counters(struct ha_redis_counters *out);
/* Thread CPU time spent in the socket's event handler (ns). */
uint64_t ha_redis_cpu_ns(void);
uint64_t ha_thread_cpu_ns(void);
void ha_redis_stop(void);

/*
 * Every key matching @p pattern (SCAN MATCH, one GET per key) to @p each,
 * then @p done once: @p n the keys read, or -errno with @p why (-ETIMEDOUT
 * after @p timeout_ms, the wait for the connection included; -EIO refused or
 * connection lost). Never blocks; 0, or -ENOMEM (nothing will be called).
 */
int ha_redis_scan(const char *pattern, unsigned timeout_ms,
		  void (*each)(void *arg, const char *key, const char *val, size_t len),
		  void (*done)(void *arg, int n, const char *why), void *arg);
/* PTTL @p key: @p done(arg, ms (-2: no key, -1: no expiry), 0) or (0, -errno, why). */
int ha_redis_pttl(const char *key, unsigned timeout_ms,
		  void (*done)(void *arg, long long ms, int err, const char *why), void *arg);
/* The reads' counters (read_errors, read_timeouts, reads_pending) into
 * @p out (ha_redis_counters() fills the others). */
void ha_redis_read_counters(struct ha_redis_counters *out);
/* SET @p key @p val PX @p px_ms now, not queued (the heartbeat): -ENOTCONN
 * when not connected. Counted in writes/errors. */
int ha_redis_set_px(const char *key, const char *val, unsigned px_ms);

#endif
