/* SPDX-License-Identifier: BSD-3-Clause */
#include "ha_watch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "ha_redis.h"
#include "mg_log.h"

#define WATCH_RETRY_MS 1000
#define WATCH_REFETCH_MS 50
#define WATCH_MAX_REFETCH 1024

static struct {
	su_root_t *root;
	char url[256], host[256];
	int port;
	bool unix_path;
	unsigned db;
	char prefix[128];     /* mg:NODE: (NG sessions and B2BUA calls) */
	char channel[160];    /* __keyspace@DB__:mg:NODE: */
	ha_watch_put_f put;
	ha_watch_drop_f drop;
	ha_watch_list_f list;
	redisContext *sub, *cmd;
	su_wait_t wait;
	int wait_index;
	su_timer_t *retry, *refetch;
	char *again[WATCH_MAX_REFETCH]; /* keys to read again */
	unsigned n_again;
	bool resync_due;      /* more keys to read again than again[] holds */
	bool down_logged;
	struct ha_watch_counters cnt;
} hw;

static void on_retry(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg);
static void on_refetch(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg);

static void disconnect(void)
{
	if (hw.wait_index > 0)
		su_root_deregister(hw.root, hw.wait_index);
	hw.wait_index = 0;
	redisFree(hw.sub);
	redisFree(hw.cmd);
	hw.sub = hw.cmd = NULL;
	hw.cnt.connected = false;
}

static void lost(const char *what, const char *err)
{
	hw.cnt.errors++;
	if (!hw.down_logged)
		MG_WARN("redis watch: %s: %s; retried every %d ms", what, err, WATCH_RETRY_MS);
	hw.down_logged = true;
	disconnect();
	if (hw.retry != NULL)
		su_timer_set_interval(hw.retry, on_retry, NULL, WATCH_RETRY_MS);
}

static redisContext *open_ctx(void)
{
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	redisContext *c = hw.unix_path ? redisConnectUnixWithTimeout(hw.host, tv)
				       : redisConnectWithTimeout(hw.host, hw.port, tv);
	redisReply *r;

	if (c == NULL || c->err) {
		if (!hw.down_logged)
			MG_WARN("redis watch: cannot connect to %s: %s; retried every %d ms", hw.url,
				c != NULL ? c->errstr : "out of memory", WATCH_RETRY_MS);
		hw.down_logged = true;
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, (struct timeval){ .tv_sec = 2 });
	r = redisCommand(c, "SELECT %u", hw.db);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		MG_WARN("redis watch: SELECT %u: %s", hw.db, r != NULL ? r->str : c->errstr);
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

/* notify-keyspace-events must have K (keyspace channel), $ or A (string
 * commands: SET), g (DEL) and x (expired): what lacks is added. */
static void check_config(void)
{
	redisReply *r = redisCommand(hw.cmd, "CONFIG GET notify-keyspace-events");
	char have[64] = "", want[80];
	bool all;

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING)
		snprintf(have, sizeof(have), "%s", r->element[1]->str);
	freeReplyObject(r);
	all = strchr(have, 'A') != NULL;
	snprintf(want, sizeof(want), "%s%s%s%s%s", have, strchr(have, 'K') ? "" : "K",
		 all || strchr(have, '$') ? "" : "$", all || strchr(have, 'g') ? "" : "g",
		 all || strchr(have, 'x') ? "" : "x");
	if (strcmp(want, have) == 0)
		return;
	r = redisCommand(hw.cmd, "CONFIG SET notify-keyspace-events %s", want);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		hw.cnt.config_refused = true;
		MG_ERR("redis watch: notify-keyspace-events is '%s' and CONFIG SET %s was refused (%s): "
		       "the standby sees the active node's sessions only at each reconnection; set it "
		       "on the server (docs/standby.md)", have, want, r != NULL ? r->str : hw.cmd->errstr);
	} else {
		MG_INFO("redis watch: notify-keyspace-events set to '%s' (was '%s')", want, have);
	}
	freeReplyObject(r);
}

/* GET @p key and hand it over. false: the connection failed. */
static bool fetch(const char *key)
{
	redisReply *r = redisCommand(hw.cmd, "GET %s", key);
	int rc;

	if (r == NULL)
		return false;
	hw.cnt.gets++;
	if (r->type == REDIS_REPLY_STRING) {
		rc = hw.put(key, r->str, r->len);
		explicit_bzero(r->str, r->len);
		if (rc == -EAGAIN) {
			char *k = hw.n_again < WATCH_MAX_REFETCH ? strdup(key) : NULL;

			if (k != NULL) {
				hw.again[hw.n_again++] = k;
			} else {
				/* not lost: every key is read again (a resync) */
				hw.cnt.errors++;
				hw.resync_due = true;
			}
			su_timer_set_interval(hw.refetch, on_refetch, NULL, WATCH_REFETCH_MS);
		}
	} else if (r->type == REDIS_REPLY_NIL) {
		hw.cnt.gone++;
		hw.drop(key); /* gone meanwhile */
	}
	freeReplyObject(r);
	return true;
}

/* ------------------------------------------------------------- resync */

struct seen {
	char **keys;
	size_t n, cap;
};

static void seen_add(void *arg, const char *key)
{
	struct seen *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **k = realloc(s->keys, cap * sizeof(*k));

		if (k == NULL)
			return;
		s->keys = k;
		s->cap = cap;
	}
	if ((s->keys[s->n] = strdup(key)) != NULL)
		s->n++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every key of the node read again; those this node holds that Redis no
 * longer has are dropped (deleted or expired while the watch was away). */
static bool resync(void)
{
	struct seen held = { 0 };
	char cursor[32] = "0", pattern[160];
	bool ok = true;

	hw.cnt.resyncs++;
	hw.list(seen_add, &held);
	qsort(held.keys, held.n, sizeof(*held.keys), cmp_str);
	snprintf(pattern, sizeof(pattern), "%s*", hw.prefix);
	do {
		redisReply *r = redisCommand(hw.cmd, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);

		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			ok = false;
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; ok && i < r->element[1]->elements; i++) {
			const redisReply *k = r->element[1]->element[i];
			char *key = k->str, **hit;

			if (k->type != REDIS_REPLY_STRING)
				continue;
			hit = held.n ? bsearch(&key, held.keys, held.n, sizeof(*held.keys), cmp_str) : NULL;
			if (hit != NULL)
				(*hit)[0] = '\0'; /* seen: not swept */
			ok = fetch(key);
		}
		freeReplyObject(r);
	} while (ok && strcmp(cursor, "0") != 0);
	for (size_t i = 0; i < held.n; i++) {
		if (ok && held.keys[i][0] != '\0') {
			hw.cnt.gone++;
			hw.drop(held.keys[i]);
		}
		free(held.keys[i]);
	}
	free(held.keys);
	return ok;
}

/* ------------------------------------------------------ notifications */

static void on_message(const redisReply *r)
{
	const char *key;

	/* pmessage PATTERN CHANNEL EVENT */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "pmessage") != 0 || r->element[2]->type != REDIS_REPLY_STRING ||
	    r->element[3]->type != REDIS_REPLY_STRING)
		return;
	if (strncmp(r->element[2]->str, hw.channel, strlen(hw.channel)) != 0)
		return;
	key = r->element[2]->str + strlen(hw.channel) - strlen(hw.prefix);
	hw.cnt.events++;
	if (strcmp(r->element[3]->str, "set") == 0) {
		if (!fetch(key))
			lost("GET", hw.cmd->errstr);
	} else if (strcmp(r->element[3]->str, "del") == 0 || strcmp(r->element[3]->str, "expired") == 0) {
		hw.cnt.gone++;
		hw.drop(key);
	}
}

/* The replies the reader holds (no read). */
static void drain(void)
{
	void *reply;

	while (hw.sub != NULL) {
		if (redisGetReplyFromReader(hw.sub, &reply) != REDIS_OK) {
			lost("subscription", hw.sub->errstr);
			return;
		}
		if (reply == NULL)
			break;
		on_message(reply);
		freeReplyObject(reply);
	}
}

static int on_io(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	(void)w;
	(void)arg;
	if (hw.sub == NULL)
		return 0;
	/* readable: one read() that does not wait */
	if (redisBufferRead(hw.sub) != REDIS_OK) {
		lost("subscription", hw.sub->errstr);
		return 0;
	}
	drain();
	return 0;
}

static void connect_now(void)
{
	redisReply *r;
	char pattern[200];

	if (hw.sub != NULL)
		return;
	hw.sub = open_ctx();
	hw.cmd = hw.sub != NULL ? open_ctx() : NULL;
	if (hw.cmd == NULL) {
		hw.cnt.errors++;
		disconnect();
		su_timer_set_interval(hw.retry, on_retry, NULL, WATCH_RETRY_MS);
		return;
	}
	check_config();
	snprintf(pattern, sizeof(pattern), "%s*", hw.channel);
	r = redisCommand(hw.sub, "PSUBSCRIBE %s", pattern);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		lost("PSUBSCRIBE", hw.sub->errstr[0] ? hw.sub->errstr : "refused");
		return;
	}
	freeReplyObject(r);
	/* no timeout on the subscription: read only when readable */
	redisSetTimeout(hw.sub, (struct timeval){ 0 });
	if (su_wait_create(&hw.wait, hw.sub->fd, SU_WAIT_IN) < 0 ||
	    (hw.wait_index = su_root_register(hw.root, &hw.wait, on_io, NULL, su_pri_normal)) <= 0) {
		lost("su_root_register", "failed");
		return;
	}
	hw.cnt.connected = true;
	hw.cnt.connects++;
	if (!resync()) {
		lost("SCAN", hw.cmd->errstr[0] ? hw.cmd->errstr : "unexpected reply");
		return;
	}
	MG_INFO("redis watch: subscribed to %s* (%s); %" PRIu64 " record(s) read so far", hw.prefix,
		hw.down_logged ? "again" : "first time", hw.cnt.gets);
	hw.down_logged = false;
	/* what the PSUBSCRIBE reply brought along; the rest comes readable */
	drain();
}

static void on_retry(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	(void)arg;
	connect_now();
}

static void on_refetch(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	unsigned n = hw.n_again;
	char *keys[WATCH_MAX_REFETCH];

	(void)magic;
	(void)t;
	(void)arg;
	memcpy(keys, hw.again, n * sizeof(*keys));
	hw.n_again = 0;
	for (unsigned i = 0; i < n; i++) {
		if (hw.cmd != NULL) {
			hw.cnt.refetched++;
			if (!fetch(keys[i]))
				lost("GET", hw.cmd->errstr);
		}
		free(keys[i]);
	}
	if (hw.resync_due && hw.cmd != NULL) {
		hw.resync_due = false;
		if (!resync())
			lost("SCAN", hw.cmd->errstr[0] ? hw.cmd->errstr : "unexpected reply");
	}
}

int ha_watch_start(su_root_t *root, const char *url, unsigned db, const char *node, ha_watch_put_f put,
		   ha_watch_drop_f drop, ha_watch_list_f list)
{
	memset(&hw, 0, sizeof(hw));
	if (ha_redis_parse_url(url, hw.host, sizeof(hw.host), &hw.port, &hw.unix_path) < 0)
		return -EINVAL;
	snprintf(hw.url, sizeof(hw.url), "%s", url);
	snprintf(hw.prefix, sizeof(hw.prefix), "mg:%s:", node);
	snprintf(hw.channel, sizeof(hw.channel), "__keyspace@%u__:%s", db, hw.prefix);
	hw.root = root;
	hw.db = db;
	hw.put = put;
	hw.drop = drop;
	hw.list = list;
	hw.retry = su_timer_create(su_root_task(root), WATCH_RETRY_MS);
	hw.refetch = su_timer_create(su_root_task(root), WATCH_REFETCH_MS);
	if (hw.retry == NULL || hw.refetch == NULL)
		return -ENOMEM;
	connect_now();
	return 0;
}

void ha_watch_stop(void)
{
	if (hw.root == NULL)
		return;
	disconnect();
	if (hw.retry != NULL)
		su_timer_destroy(hw.retry);
	if (hw.refetch != NULL)
		su_timer_destroy(hw.refetch);
	for (unsigned i = 0; i < hw.n_again; i++)
		free(hw.again[i]);
	hw.n_again = 0;
	hw.retry = hw.refetch = NULL;
	hw.root = NULL;
}

void ha_watch_counters(struct ha_watch_counters *out)
{
	*out = hw.cnt;
}
