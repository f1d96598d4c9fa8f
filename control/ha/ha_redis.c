/* SPDX-License-Identifier: BSD-3-Clause */
#include "ha_redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "mg_log.h"

#define HA_HASH 4096u          /* buckets of the waiting keys, power of two */
#define HA_MAX_INFLIGHT 1024u  /* writes sent and not answered */
#define HA_BACKOFF_MIN_MS 500u
#define HA_BACKOFF_MAX_MS 8000u
#define HA_BATCH_MS 10u        /* records gathered before they are sent */

/* One key waiting to be written: its newest value (NULL: DEL). */
struct ha_entry {
	char *key;
	char *val;
	size_t len;
	struct ha_entry *hnext;
	struct ha_entry *next; /* queue, oldest first */
};

/* A write sent: what to queue again if the connection goes first. */
struct ha_sent {
	char *key;
	char *val;
	size_t len;
};

static struct {
	su_root_t *root;
	char url[256];
	char host[256];
	int port;
	bool unix_path;
	unsigned db, expire_s, queue_max;
	void (*on_connect)(void);
	redisAsyncContext *ac;
	bool connected;
	su_wait_t wait;
	int wait_index;
	int events;
	su_timer_t *retry;
	unsigned backoff_ms;
	bool down_logged;       /* this outage's warning was written */
	bool drop_logged;       /* this outage's first drop was logged */
	bool stopping;
	struct ha_entry *hash[HA_HASH];
	struct ha_entry *head, *tail;
	struct ha_redis_counters cnt;
	uint64_t cpu_ns;        /* in on_io() and on_batch() */
	su_timer_t *batch;      /* HA_BATCH_MS after the first record queued */
	bool batch_armed;
	struct ha_read *reads;  /* reads under way or waiting for the connection */
} hr;

struct ha_read;
static void reads_start(void);
static void reads_fail_all(int err, const char *why);

static void connect_now(void);
static int on_io(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg);

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h & (HA_HASH - 1);
}

int ha_redis_parse_url(const char *url, char *host, size_t hl, int *port, bool *unix_path)
{
	const char *colon;
	char *end;
	long p = 6379;

	*unix_path = false;
	if (strncmp(url, "unix:", 5) == 0) {
		if (url[5] != '/' || strlen(url + 5) >= hl)
			return -EINVAL;
		snprintf(host, hl, "%s", url + 5);
		*unix_path = true;
		*port = 0;
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -EINVAL;
	url += 8;
	colon = strrchr(url, ':');
	if (colon != NULL) {
		p = strtol(colon + 1, &end, 10);
		if (*end != '\0' && *end != '/')
			return -EINVAL;
		if (p < 1 || p > 65535)
			return -EINVAL;
	} else {
		colon = url + strcspn(url, "/");
	}
	if (colon == url || (size_t)(colon - url) >= hl)
		return -EINVAL;
	memcpy(host, url, (size_t)(colon - url));
	host[colon - url] = '\0';
	*port = (int)p;
	return 0;
}

/* --------------------------------------------------- su_root adapter */

static void set_events(int ev)
{
	if (hr.ac == NULL)
		return;
	hr.events = ev;
	if (hr.wait_index <= 0) {
		if (su_wait_create(&hr.wait, hr.ac->c.fd, ev) < 0)
			return;
		hr.wait_index = su_root_register(hr.root, &hr.wait, on_io, NULL, su_pri_normal);
		return;
	}
	su_root_eventmask(hr.root, hr.wait_index, hr.ac->c.fd, ev);
}

static void ev_add_read(void *p)
{
	(void)p;
	set_events(hr.events | SU_WAIT_IN);
}

static void ev_del_read(void *p)
{
	(void)p;
	set_events(hr.events & ~SU_WAIT_IN);
}

static void ev_add_write(void *p)
{
	(void)p;
	set_events(hr.events | SU_WAIT_OUT);
}

static void ev_del_write(void *p)
{
	(void)p;
	set_events(hr.events & ~SU_WAIT_OUT);
}

static void on_retry(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	(void)arg;
	connect_now();
}

static void schedule_retry(void)
{
	if (hr.stopping || hr.retry == NULL)
		return;
	su_timer_set_interval(hr.retry, on_retry, NULL, (su_duration_t)hr.backoff_ms);
	hr.backoff_ms = hr.backoff_ms * 2 > HA_BACKOFF_MAX_MS ? HA_BACKOFF_MAX_MS : hr.backoff_ms * 2;
}

/* hiredis frees the context (error, disconnect): it is gone after this. */
static void ev_cleanup(void *p)
{
	(void)p;
	if (hr.wait_index > 0)
		su_root_deregister(hr.root, hr.wait_index);
	hr.wait_index = 0;
	hr.events = 0;
	hr.ac = NULL;
	if (!hr.stopping && !hr.down_logged)
		MG_WARN("redis: not connected to %s; calls go on, their state waits (queue of %u "
			"keys) and the connection is retried", hr.url, hr.queue_max);
	hr.down_logged = true;
	hr.connected = false;
	hr.cnt.connected = false;
	schedule_retry();
}

uint64_t ha_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ha_redis_cpu_ns(void)
{
	return hr.cpu_ns;
}

static int on_io(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	uint64_t t0 = ha_thread_cpu_ns();
	int ev;

	(void)magic;
	(void)arg;
	if (hr.ac == NULL)
		return 0;
	ev = su_wait_events(w, hr.ac->c.fd);
	if (ev & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR))
		redisAsyncHandleRead(hr.ac);
	if (hr.ac != NULL && (ev & SU_WAIT_OUT))
		redisAsyncHandleWrite(hr.ac);
	hr.cpu_ns += ha_thread_cpu_ns() - t0;
	return 0;
}

/* ------------------------------------------------------------ queue */

static struct ha_entry *entry_find(const char *key, struct ha_entry ***slot)
{
	struct ha_entry **pp = &hr.hash[hash_str(key)];

	while (*pp != NULL && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->hnext;
	if (slot != NULL)
		*slot = pp;
	return *pp;
}

static void entry_free(struct ha_entry *e)
{
	if (e->val != NULL)
		explicit_bzero(e->val, e->len);
	free(e->val);
	free(e->key);
	free(e);
}

/* Queue @p key's value (ownership of @p val taken; NULL: DEL). A value
 * waiting for the key is replaced. @p retry: an older value coming back
 * from a lost connection, which never replaces a waiting one. */
static void enqueue(const char *key, char *val, size_t len, bool retry)
{
	struct ha_entry **slot, *e = entry_find(key, &slot);

	if (e != NULL) {
		if (retry) {
			if (val != NULL)
				explicit_bzero(val, len);
			free(val);
			return;
		}
		if (e->val != NULL)
			explicit_bzero(e->val, e->len);
		free(e->val);
		e->val = val;
		e->len = len;
		return;
	}
	if (hr.cnt.queued >= hr.queue_max || (e = calloc(1, sizeof(*e))) == NULL ||
	    (e->key = strdup(key)) == NULL) {
		free(e);
		if (val != NULL)
			explicit_bzero(val, len);
		free(val);
		hr.cnt.dropped++;
		if (!hr.drop_logged)
			MG_WARN("redis: write queue full (%u keys, mediagate.redis.queue): a call's state "
				"is not published until its next change or the reconnection "
				"(counted: mediagate_redis_dropped_total)", hr.queue_max);
		hr.drop_logged = true;
		return;
	}
	if (retry)
		hr.cnt.retried++;
	e->val = val;
	e->len = len;
	*slot = e;
	if (hr.tail != NULL)
		hr.tail->next = e;
	else
		hr.head = e;
	hr.tail = e;
	hr.cnt.queued++;
}

static struct ha_entry *dequeue(void)
{
	struct ha_entry *e = hr.head, **slot;

	if (e == NULL)
		return NULL;
	hr.head = e->next;
	if (hr.head == NULL)
		hr.tail = NULL;
	entry_find(e->key, &slot);
	*slot = e->hnext;
	hr.cnt.queued--;
	return e;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;
	struct ha_sent *s = priv;

	(void)ac;
	hr.cnt.inflight--;
	if (reply == NULL) {
		/* the connection went before the answer: again, unless newer waits */
		hr.cnt.errors++;
		enqueue(s->key, s->val, s->len, true); /* at a stop too: written by the flush */
		s->val = NULL;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		hr.cnt.errors++;
		MG_WARN("redis: write of %s refused: %.*s", s->key, (int)reply->len, reply->str);
	} else {
		hr.cnt.writes++;
	}
	if (s->val != NULL)
		explicit_bzero(s->val, s->len);
	free(s->val);
	free(s->key);
	free(s);
}

static void pump(void)
{
	struct ha_entry *e;

	while (hr.connected && hr.ac != NULL && hr.cnt.inflight < HA_MAX_INFLIGHT && (e = dequeue()) != NULL) {
		struct ha_sent *s = calloc(1, sizeof(*s));
		int rc;

		if (s == NULL) {
			hr.cnt.errors++;
			entry_free(e);
			continue;
		}
		s->key = e->key;
		s->val = e->val;
		s->len = e->len;
		e->key = NULL;
		e->val = NULL;
		free(e);
		if (s->val != NULL)
			rc = redisAsyncCommand(hr.ac, on_reply, s, "SET %s %b EX %u", s->key, s->val, s->len,
					       hr.expire_s);
		else
			rc = redisAsyncCommand(hr.ac, on_reply, s, "DEL %s", s->key);
		if (rc != REDIS_OK) {
			enqueue(s->key, s->val, s->len, true);
			free(s->key);
			free(s);
			return;
		}
		hr.cnt.inflight++;
	}
}

static void on_batch(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	uint64_t t0 = ha_thread_cpu_ns();

	(void)magic;
	(void)t;
	(void)arg;
	hr.batch_armed = false;
	pump();
	hr.cpu_ns += ha_thread_cpu_ns() - t0;
}

void ha_redis_put(const char *key, const char *val, size_t len)
{
	char *copy = NULL;

	if (hr.root == NULL)
		return;
	if (val != NULL) {
		copy = malloc(len + 1);
		if (copy == NULL) {
			hr.cnt.dropped++;
			return;
		}
		memcpy(copy, val, len);
		copy[len] = '\0';
	}
	enqueue(key, copy, len, false);
	/* sent HA_BATCH_MS later, with whatever else came meanwhile: one
	 * write() and one read() for several records, and a call's changes
	 * within the window merged (its latest state) */
	if (!hr.batch_armed && hr.batch != NULL && su_timer_set(hr.batch, on_batch, NULL) == 0)
		hr.batch_armed = true;
	else if (hr.batch == NULL)
		pump();
}

/* ------------------------------------------------------- connection */

static void on_select(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;

	(void)priv;
	if (reply == NULL)
		return; /* lost meanwhile: ev_cleanup retries */
	if (reply->type == REDIS_REPLY_ERROR) {
		MG_ERR("redis: SELECT %u refused: %.*s", hr.db, (int)reply->len, reply->str);
		hr.cnt.errors++;
		/* not connected: closed, ev_cleanup retries with the backoff */
		redisAsyncDisconnect(ac);
		return;
	}
	if (hr.down_logged && hr.cnt.connects > 0)
		MG_INFO("redis: connected again; republishing every call");
	else
		MG_INFO("redis: connected (db %u)", hr.db);
	hr.connected = true;
	hr.cnt.connected = true;
	hr.cnt.connects++;
	hr.down_logged = false;
	hr.drop_logged = false;
	hr.backoff_ms = HA_BACKOFF_MIN_MS;
	if (hr.on_connect != NULL)
		hr.on_connect();
	pump();
	reads_start();
}

static void connect_now(void)
{
	if (hr.ac != NULL || hr.stopping)
		return;
	hr.ac = hr.unix_path ? redisAsyncConnectUnix(hr.host) : redisAsyncConnect(hr.host, hr.port);
	if (hr.ac == NULL || hr.ac->err) {
		if (hr.ac != NULL)
			redisAsyncFree(hr.ac);
		hr.ac = NULL;
		if (!hr.down_logged)
			MG_WARN("redis: cannot connect to %s; calls go on, the connection is retried",
				hr.url);
		hr.down_logged = true;
		schedule_retry();
		return;
	}
	hr.ac->ev.addRead = ev_add_read;
	hr.ac->ev.delRead = ev_del_read;
	hr.ac->ev.addWrite = ev_add_write;
	hr.ac->ev.delWrite = ev_del_write;
	hr.ac->ev.cleanup = ev_cleanup;
	hr.events = 0;
	set_events(SU_WAIT_IN | SU_WAIT_OUT);
	if (hr.wait_index <= 0) {
		redisAsyncFree(hr.ac); /* calls ev_cleanup: retried */
		return;
	}
	/* the first command makes hiredis watch for the connection */
	if (redisAsyncCommand(hr.ac, on_select, NULL, "SELECT %u", hr.db) != REDIS_OK)
		redisAsyncFree(hr.ac);
}

int ha_redis_start(su_root_t *root, const char *url, unsigned db, unsigned expire_s, unsigned queue_max,
		   void (*on_connect)(void))
{
	memset(&hr, 0, sizeof(hr));
	if (ha_redis_parse_url(url, hr.host, sizeof(hr.host), &hr.port, &hr.unix_path) < 0)
		return -EINVAL;
	snprintf(hr.url, sizeof(hr.url), "%s", url);
	hr.root = root;
	hr.db = db;
	hr.expire_s = expire_s;
	hr.queue_max = queue_max;
	hr.on_connect = on_connect;
	hr.backoff_ms = HA_BACKOFF_MIN_MS;
	hr.retry = su_timer_create(su_root_task(root), HA_BACKOFF_MIN_MS);
	hr.batch = su_timer_create(su_root_task(root), HA_BATCH_MS);
	if (hr.retry == NULL || hr.batch == NULL)
		return -ENOMEM;
	connect_now();
	return 0;
}

/* At a stop (the event loop no longer runs): what waits is written with a
 * blocking connection (one second to connect, two per reply), so that the
 * calls that ended do not stay in Redis to be read back by the next start. */
static void flush_blocking(void)
{
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	redisContext *c;
	struct ha_entry *e;
	unsigned n = 0, done = 0;

	if (hr.head == NULL)
		return;
	c = hr.unix_path ? redisConnectUnixWithTimeout(hr.host, tv) : redisConnectWithTimeout(hr.host, hr.port, tv);
	if (c == NULL || c->err) {
		MG_WARN("redis: %u write(s) lost at the stop: %s", hr.cnt.queued, c ? c->errstr : "out of memory");
		redisFree(c);
		return;
	}
	redisSetTimeout(c, (struct timeval){ .tv_sec = 2 });
	/* the database first: writes after a refused SELECT would land in db 0 */
	{
		redisReply *sel = redisCommand(c, "SELECT %u", hr.db);

		if (sel == NULL || sel->type == REDIS_REPLY_ERROR) {
			MG_WARN("redis: %u write(s) lost at the stop: SELECT %u %s", hr.cnt.queued, hr.db,
				sel ? "refused" : "not answered");
			freeReplyObject(sel);
			redisFree(c);
			return;
		}
		freeReplyObject(sel);
	}
	for (e = hr.head; e != NULL; e = e->next, n++) {
		if (e->val != NULL)
			redisAppendCommand(c, "SET %s %b EX %u", e->key, e->val, e->len, hr.expire_s);
		else
			redisAppendCommand(c, "DEL %s", e->key);
	}
	for (unsigned i = 0; i < n; i++) {
		void *r = NULL;

		if (redisGetReply(c, &r) != REDIS_OK)
			break;
		if (((redisReply *)r)->type != REDIS_REPLY_ERROR)
			done++;
		freeReplyObject(r);
	}
	hr.cnt.writes += done;
	if (done < n)
		MG_WARN("redis: %u of %u write(s) lost at the stop", n - done, n);
	redisFree(c);
}

void ha_redis_stop(void)
{
	struct ha_entry *e;

	if (hr.root == NULL)
		return;
	hr.stopping = true;
	reads_fail_all(0, NULL); /* their owners stop too: no answer */
	if (hr.ac != NULL)
		redisAsyncFree(hr.ac); /* answers NULL to what is in flight: queued again */
	flush_blocking();
	while ((e = dequeue()) != NULL)
		entry_free(e);
	if (hr.retry != NULL)
		su_timer_destroy(hr.retry);
	hr.retry = NULL;
	if (hr.batch != NULL)
		su_timer_destroy(hr.batch);
	hr.batch = NULL;
	hr.root = NULL;
}

/* ------------------------------------------------------ reads on the loop */

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

static void read_free_if_idle(struct ha_read *rd)
{
	struct ha_read **pp;

	if (!rd->finished || rd->refs > 0)
		return;
	for (pp = &hr.reads; *pp != NULL && *pp != rd; pp = &(*pp)->next)
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
			hr.cnt.read_timeouts++;
		else
			hr.cnt.read_errors++;
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
	read_finish(arg, -ETIMEDOUT, 0, hr.connected ? "Redis did not answer in time" : "Redis not reachable in time");
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

	(void)ac;
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
		if (hr.ac == NULL || redisAsyncCommand(hr.ac, on_get_value, g, "GET %b", k->str, k->len) != REDIS_OK) {
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
	if (hr.ac == NULL ||
	    redisAsyncCommand(hr.ac, on_scan, rd, "SCAN %s MATCH %s COUNT 1000", rd->cursor, rd->arg_str) != REDIS_OK) {
		read_finish(rd, -EIO, 0, "SCAN not sent (connection lost)");
		return;
	}
	rd->refs++;
}

static void read_start(struct ha_read *rd)
{
	if (rd->started || rd->finished || !hr.connected || hr.ac == NULL)
		return;
	rd->started = true;
	if (!rd->pttl)
		read_scan_next(rd);
	else if (redisAsyncCommand(hr.ac, on_pttl, rd, "PTTL %s", rd->arg_str) != REDIS_OK)
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

	for (rd = hr.reads; rd != NULL; rd = next) {
		next = rd->next;
		read_start(rd);
	}
}

static void reads_fail_all(int err, const char *why)
{
	struct ha_read *rd, *next;

	for (rd = hr.reads; rd != NULL; rd = next) {
		next = rd->next;
		if (err == 0) {
			/* at the stop: nobody to tell */
			rd->done = NULL;
			rd->done_pttl = NULL;
			rd->finished = true;
			if (rd->timer != NULL)
				su_timer_reset(rd->timer);
			read_free_if_idle(rd);
		} else {
			read_finish(rd, err, 0, why);
			read_free_if_idle(rd);
		}
	}
}

static struct ha_read *read_new(const char *str, unsigned timeout_ms)
{
	struct ha_read *rd;

	if (hr.root == NULL || hr.stopping)
		return NULL;
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL || (rd->arg_str = strdup(str)) == NULL ||
	    (rd->timer = su_timer_create(su_root_task(hr.root), timeout_ms)) == NULL) {
		if (rd != NULL)
			free(rd->arg_str);
		free(rd);
		return NULL;
	}
	snprintf(rd->cursor, sizeof(rd->cursor), "0");
	rd->next = hr.reads;
	hr.reads = rd;
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

static void on_px_reply(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;

	(void)ac;
	(void)priv;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		hr.cnt.errors++;
	else
		hr.cnt.writes++;
}

int ha_redis_set_px(const char *key, const char *val, unsigned px_ms)
{
	if (!hr.connected || hr.ac == NULL)
		return -ENOTCONN;
	if (redisAsyncCommand(hr.ac, on_px_reply, NULL, "SET %s %s PX %u", key, val, px_ms) != REDIS_OK)
		return -EIO;
	return 0;
}

void ha_redis_counters(struct ha_redis_counters *out)
{
	*out = hr.cnt;
	out->reads_pending = 0;
	for (const struct ha_read *rd = hr.reads; rd != NULL; rd = rd->next)
		if (!rd->finished)
			out->reads_pending++;
}
