/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reads of Redis on the event loop (docs/ha-state.md "Control restart",
 * "A dead gateway's calls"): the read-back at start and mgctl ha adopt.
 * They go on the write queue's asynchronous connection (ha_redis.c, whose
 * ha_redis_int.h gives the connection and tells of connections and the
 * stop), answered in hiredis callbacks; nothing blocks the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "ha_redis.h"
#include "ha_redis_int.h"

/*
 * A read (SCAN MATCH + one GET per key, or a PTTL) on the same asynchronous
 * connection as the writes: nothing blocks the event loop. It waits for the
 * connection if there is none yet, and is bounded by its timer: past it the
 * owner is told -ETIMEDOUT once and the answers still coming are dropped.
 * A read owns a reference per command in flight; it is freed when it is
 * finished (the owner told) and none is left.
 */
struct ha_read {
	struct ha_read *next;
	bool pttl;               /* a PTTL of one key, else SCAN + GETs */
	char *arg_str;           /* the pattern or the key */
	char cursor[32];
	bool started, scan_done, finished;
	unsigned refs;           /* commands in flight */
	int n;                   /* keys given to each() */
	su_timer_t *timer;
	void (*each)(void *arg, const char *key, const char *val, size_t len);
	void (*done)(void *arg, int n, const char *why);
	void (*done_pttl)(void *arg, long long ms, int err, const char *why);
	void *arg;
};

static struct {
	struct ha_read *reads;  /* under way or waiting for the connection */
	uint64_t errors, timeouts;
} rs;

static void read_free_if_idle(struct ha_read *rd)
{
	struct ha_read **pp;

	if (!rd->finished || rd->refs > 0)
		return;
	for (pp = &rs.reads; *pp != NULL && *pp != rd; pp = &(*pp)->next)
		;
	if (*pp == rd)
		*pp = rd->next;
	if (rd->timer != NULL)
		su_timer_destroy(rd->timer);
	free(rd->arg_str);
	free(rd);
}

/* The owner is told once: @p rc the keys read or -errno; @p ms the PTTL. */
static void read_finish(struct ha_read *rd, int rc, long long ms, const char *why)
{
	if (rd->finished)
		return;
	rd->finished = true;
	if (rd->timer != NULL)
		su_timer_reset(rd->timer);
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			rs.timeouts++;
		else
			rs.errors++;
	}
	if (rd->pttl) {
		if (rd->done_pttl != NULL)
			rd->done_pttl(rd->arg, ms, rc < 0 ? rc : 0, why);
	} else if (rd->done != NULL) {
		rd->done(rd->arg, rc, why);
	}
	/* freed by the caller (read_free_if_idle(), read_unref()) */
}

static void on_read_timer(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	read_finish(arg, -ETIMEDOUT, 0, ha_redis_ac() != NULL ? "Redis did not answer in time" : "Redis not reachable in time");
	read_free_if_idle(arg);
}

static void read_scan_next(struct ha_read *rd);

/* One GET; the key travels with it (the reply has only the value). */
struct ha_get {
	struct ha_read *rd;
	char *key;
};

/* A reply handler keeps its reference until it is done with @p rd (the
 * owner's done() may be called meanwhile), then drops it. */
static void read_unref(struct ha_read *rd)
{
	rd->refs--;
	if (!rd->finished && !rd->pttl && rd->scan_done && rd->refs == 0)
		read_finish(rd, rd->n, 0, NULL);
	read_free_if_idle(rd);
}

static void on_get_value(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *v = r;
	struct ha_get *g = priv;
	struct ha_read *rd = g->rd;

	(void)ac;
	if (!rd->finished) {
		if (v == NULL) {
			read_finish(rd, -EIO, 0, "connection lost during the read");
		} else if (v->type == REDIS_REPLY_ERROR) {
			read_finish(rd, -EIO, 0, "GET refused");
		} else if (v->type == REDIS_REPLY_STRING) {
			rd->each(rd->arg, g->key, v->str, v->len);
			explicit_bzero(v->str, v->len);
			rd->n++;
		} /* nil: expired or deleted since the SCAN */
	}
	free(g->key);
	free(g);
	read_unref(rd);
}

static void on_scan(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct ha_read *rd = priv;

	if (rd->finished) {
		read_unref(rd);
		return;
	}
	if (rep == NULL) {
		read_finish(rd, -EIO, 0, "connection lost during the read");
		read_unref(rd);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY) {
		read_finish(rd, -EIO, 0, "SCAN: unexpected reply");
		read_unref(rd);
		return;
	}
	snprintf(rd->cursor, sizeof(rd->cursor), "%s", rep->element[0]->str);
	for (size_t i = 0; i < rep->element[1]->elements && !rd->finished; i++) {
		const redisReply *k = rep->element[1]->element[i];
		struct ha_get *g;

		if (k->type != REDIS_REPLY_STRING)
			continue;
		g = calloc(1, sizeof(*g));
		if (g == NULL || (g->key = strndup(k->str, k->len)) == NULL) {
			free(g);
			read_finish(rd, -ENOMEM, 0, "out of memory");
			break;
		}
		g->rd = rd;
		if ((ac = ha_redis_ac()) == NULL ||
		    redisAsyncCommand(ac, on_get_value, g, "GET %b", k->str, k->len) != REDIS_OK) {
			free(g->key);
			free(g);
			read_finish(rd, -EIO, 0, "GET not sent (connection lost)");
			break;
		}
		rd->refs++;
	}
	if (!rd->finished) {
		if (strcmp(rd->cursor, "0") != 0)
			read_scan_next(rd);
		else
			rd->scan_done = true;
	}
	read_unref(rd);
}

static void on_pttl(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *rep = r;
	struct ha_read *rd = priv;

	(void)ac;
	if (!rd->finished) {
		if (rep == NULL)
			read_finish(rd, -EIO, 0, "connection lost during the read");
		else if (rep->type != REDIS_REPLY_INTEGER)
			read_finish(rd, -EIO, 0, "PTTL: unexpected reply");
		else
			read_finish(rd, 0, rep->integer, NULL);
	}
	read_unref(rd);
}

static void read_scan_next(struct ha_read *rd)
{
	redisAsyncContext *ac = ha_redis_ac();

	if (ac == NULL ||
	    redisAsyncCommand(ac, on_scan, rd, "SCAN %s MATCH %s COUNT 1000", rd->cursor, rd->arg_str) != REDIS_OK) {
		read_finish(rd, -EIO, 0, "SCAN not sent (connection lost)");
		return;
	}
	rd->refs++;
}

static void read_start(struct ha_read *rd)
{
	redisAsyncContext *ac = ha_redis_ac();

	if (rd->started || rd->finished || ac == NULL)
		return;
	rd->started = true;
	if (!rd->pttl)
		read_scan_next(rd);
	else if (redisAsyncCommand(ac, on_pttl, rd, "PTTL %s", rd->arg_str) != REDIS_OK)
		read_finish(rd, -EIO, 0, "PTTL not sent (connection lost)");
	else
		rd->refs++;
	read_free_if_idle(rd); /* failed at once: nothing in flight */
}

/* After every connection: the reads that waited for it (a read cut by a
 * lost connection has failed already: it is not started again). */
static void reads_start(void)
{
	struct ha_read *rd, *next;

	for (rd = rs.reads; rd != NULL; rd = next) {
		next = rd->next;
		read_start(rd);
	}
}

/* At the stop (ha_redis_stop(), before the connection is freed): their
 * owners stop too, nobody is told; each read goes once its commands have
 * come back (NULL replies from the free). */
static void reads_drop(void)
{
	struct ha_read *rd, *next;

	for (rd = rs.reads; rd != NULL; rd = next) {
		next = rd->next;
		rd->done = NULL;
		rd->done_pttl = NULL;
		rd->finished = true;
		if (rd->timer != NULL)
			su_timer_reset(rd->timer);
		read_free_if_idle(rd);
	}
}

static struct ha_read *read_new(const char *str, unsigned timeout_ms)
{
	struct ha_read *rd;

	su_root_t *root = ha_redis_root();

	if (root == NULL)
		return NULL;
	/* told of every connection (reads waiting start) and of the stop */
	ha_redis_set_read_hooks(reads_start, reads_drop);
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL || (rd->arg_str = strdup(str)) == NULL ||
	    (rd->timer = su_timer_create(su_root_task(root), timeout_ms)) == NULL) {
		if (rd != NULL)
			free(rd->arg_str);
		free(rd);
		return NULL;
	}
	snprintf(rd->cursor, sizeof(rd->cursor), "0");
	rd->next = rs.reads;
	rs.reads = rd;
	return rd;
}

int ha_redis_scan(const char *pattern, unsigned timeout_ms,
		  void (*each)(void *arg, const char *key, const char *val, size_t len),
		  void (*done)(void *arg, int n, const char *why), void *arg)
{
	struct ha_read *rd = read_new(pattern, timeout_ms);

	if (rd == NULL)
		return -ENOMEM;
	rd->each = each;
	rd->done = done;
	rd->arg = arg;
	su_timer_set(rd->timer, on_read_timer, rd);
	read_start(rd);
	return 0;
}

int ha_redis_pttl(const char *key, unsigned timeout_ms,
		  void (*done)(void *arg, long long ms, int err, const char *why), void *arg)
{
	struct ha_read *rd = read_new(key, timeout_ms);

	if (rd == NULL)
		return -ENOMEM;
	rd->pttl = true;
	rd->done_pttl = done;
	rd->arg = arg;
	su_timer_set(rd->timer, on_read_timer, rd);
	read_start(rd);
	return 0;
}

void ha_redis_read_counters(struct ha_redis_counters *out)
{
	out->read_errors = rs.errors;
	out->read_timeouts = rs.timeouts;
	out->reads_pending = 0;
	for (const struct ha_read *rd = rs.reads; rd != NULL; rd = rd->next)
		if (!rd->finished)
			out->reads_pending++;
}
