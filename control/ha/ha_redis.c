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

#include "ha_redis_int.h"
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
	/* the reads' module (ha_redis_read.c): told of connections and the stop */
	void (*read_connected)(void);
	void (*read_stop)(void);
} hr;


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
	if (hr.read_connected != NULL)
		hr.read_connected();
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
	if (hr.read_stop != NULL)
		hr.read_stop(); /* their owners stop too: no answer */
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

/* -------------------------------------------- the heartbeat (ha.c) */

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
	*out = hr.cnt; /* the reads' fields: ha_redis_read_counters() */
}

redisAsyncContext *ha_redis_ac(void)
{
	return hr.connected && !hr.stopping ? hr.ac : NULL;
}

su_root_t *ha_redis_root(void)
{
	return hr.stopping ? NULL : hr.root;
}

void ha_redis_set_read_hooks(void (*connected)(void), void (*stop)(void))
{
	hr.read_connected = connected;
	hr.read_stop = stop;
}
