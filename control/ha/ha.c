/* SPDX-License-Identifier: BSD-3-Clause */
#include "ha.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "ha_rec.h"
#include "ha_watch.h"
#include "media.h"
#include "mg_log.h"

#define HA_KEY_MAX 4200

static struct {
	bool on;
	bool standby;    /* watching the active node's keys (not promoted yet) */
	bool promoted;   /* was a standby, took over */
	char node[64];
	const struct mg_settings *s;
	su_root_t *root;
	su_timer_t *refresh;
	struct ha_counters cnt;
	char **stale;       /* keys refused at the read-back, deleted once connected */
	unsigned n_stale;
	/* the read-back at start, then the SIP user agents (ha_start()) */
	void (*ready)(void);
	bool read_done;     /* the read-back finished (or failed, or timed out) */
	su_timer_t *wait;   /* polls for the calls' dataplane verdicts */
	uint64_t deadline_ms;
	/* the heartbeat mg:NODE:alive */
	su_timer_t *alive;
	char alive_key[96];
} ha;

static void ha_redis_put_later(const char *key)
{
	char **n = realloc(ha.stale, (ha.n_stale + 1) * sizeof(*n));

	if (n == NULL) {
		ha.cnt.stale_lost++; /* left in Redis: expires by itself */
		return;
	}
	ha.stale = n;
	if ((ha.stale[ha.n_stale] = strdup(key)) != NULL)
		ha.n_stale++;
	else
		ha.cnt.stale_lost++;
}

static void key_ng(char *buf, size_t len, const char *callid)
{
	snprintf(buf, len, "mg:%s:ng:%s", ha.node, callid);
}

static void key_call(char *buf, size_t len, uint64_t sess)
{
	snprintf(buf, len, "mg:%s:call:%016" PRIx64, ha.node, sess);
}

static void put(const char *key, struct ng_buf *b, int rc)
{
	if (rc < 0) {
		MG_WARN("redis: record of %s not built: %s", key, strerror(-rc));
		ha.cnt.unpublished++;
		ng_buf_free(b);
		return;
	}
	ha_redis_put(key, b->p, b->len);
	ha.cnt.published++;
	explicit_bzero(b->p, b->len);
	ng_buf_free(b);
}

static void on_media(const struct media_session *m, bool gone)
{
	char key[HA_KEY_MAX];
	struct ng_buf b = { 0 };
	uint64_t t0 = ha_thread_cpu_ns();

	key_ng(key, sizeof(key), m->key);
	if (gone)
		ha_redis_put(key, NULL, 0);
	else
		put(key, &b, ha_rec_media(m, &b));
	ha.cnt.cpu_ns += ha_thread_cpu_ns() - t0;
}

static void on_call(const struct calls_state *c, bool gone)
{
	char key[128];
	struct ng_buf b = { 0 };
	uint64_t t0 = ha_thread_cpu_ns();

	key_call(key, sizeof(key), c->sess_id);
	if (gone)
		ha_redis_put(key, NULL, 0);
	else
		put(key, &b, ha_rec_call(c, &b));
	ha.cnt.cpu_ns += ha_thread_cpu_ns() - t0;
}

/* Every call's current state again: after a (re)connection (what was lost
 * or dropped meanwhile) and every expire/3 (the expiry pushed back). */
static void publish_all(void)
{
	for (const struct media_session *m = media_first(); m != NULL; m = media_next(m))
		if (!m->deleting)
			on_media(m, false);
	calls_publish_all();
}

static void on_refresh(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	(void)arg;
	publish_all();
}

static void on_read(void *arg, const char *key, const char *val, size_t len)
{
	char why[160];
	struct media_session *m;
	int kind = ha_rec_kind(val, len);

	(void)arg;
	if (strcmp(key, ha.alive_key) == 0)
		return; /* the heartbeat (a previous run's, or ours already) */
	ha.cnt.read_back++;
	if (kind == 'c') {
		struct calls_adopt a;

		if (ha_rec_call_parse(val, len, &a, why, sizeof(why)) < 0) {
			ha.cnt.read_bad++;
			MG_WARN("redis: %s: call record refused: %s", key, why);
			ha_redis_put_later(key);
			return;
		}
		if (calls_adopt(&a) < 0) {
			ha.cnt.read_bad++;
			MG_WARN("redis: %s: call not taken over", key);
			ha_redis_put_later(key);
		}
		ha_rec_adopt_free(&a);
		return;
	}
	if (kind != 'n') {
		ha.cnt.read_bad++;
		MG_WARN("redis: %s: not a record of version %d: ignored", key, HA_REC_VERSION);
		return;
	}
	m = ha_rec_media_parse(val, len, why, sizeof(why));
	if (m == NULL) {
		ha.cnt.read_bad++;
		MG_WARN("redis: %s: record refused: %s", key, why);
		ha_redis_put_later(key);
		return;
	}
	if (media_adopt(m) < 0) {
		ha.cnt.read_bad++;
		MG_WARN("redis: %s: session %s exists already", key, m->key);
		ha_rec_media_free(m);
	}
}

/* ---------------------------------------------------------- standby */

/* A call record but for its SRTP indexes (FNV-1a): what a standby's call
 * compares to tell an index refresh from a change of the call. */
static uint64_t call_fp(const char *val, size_t len)
{
	static const char ix[] = "\"index\":[";
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		if (len - i >= sizeof(ix) - 1 && memcmp(val + i, ix, sizeof(ix) - 1) == 0) {
			int depth = 0;

			for (i += sizeof(ix) - 2; i < len; i++) {
				depth += val[i] == '[' ? 1 : val[i] == ']' ? -1 : 0;
				if (depth == 0)
					break;
			}
			continue;
		}
		h = (h ^ (unsigned char)val[i]) * 1099511628211ULL;
	}
	return h;
}

static int standby_put_call(const char *key, const char *val, size_t len)
{
	char why[160];
	struct calls_adopt a;
	int rc;

	if (ha_rec_call_parse(val, len, &a, why, sizeof(why)) < 0) {
		ha.cnt.read_bad++;
		MG_WARN("redis watch: %s: call record refused: %s", key, why);
		return 0;
	}
	rc = calls_standby_put(&a, call_fp(val, len));
	ha_rec_adopt_free(&a);
	if (rc == -EEXIST)
		MG_WARN("redis watch: %s: a call of this node has the session: not taken", key);
	else if (rc < 0 && rc != -EAGAIN)
		MG_WARN("redis watch: %s: call not pre-installed (%s)", key, strerror(-rc));
	return rc == -EAGAIN ? rc : 0;
}

static int standby_put(const char *key, const char *val, size_t len)
{
	char why[160];
	struct media_session *m;
	int rc, kind = ha_rec_kind(val, len);

	if (kind == 'c')
		return standby_put_call(key, val, len);
	if (kind != 'n') {
		ha.cnt.read_bad++;
		return 0;
	}
	m = ha_rec_media_parse(val, len, why, sizeof(why));
	if (m == NULL) {
		ha.cnt.read_bad++;
		MG_WARN("redis watch: %s: record refused: %s", key, why);
		return 0;
	}
	rc = media_standby_put(m);
	if (rc == -EEXIST)
		MG_WARN("redis watch: %s: a session of this node has the key: not taken", key);
	return rc;
}

/* mg:NODE:ng:CALL-ID -> CALL-ID */
static const char *callid_of(const char *key)
{
	size_t n = strlen(ha.node);

	if (strncmp(key, "mg:", 3) != 0 || strncmp(key + 3, ha.node, n) != 0 || strncmp(key + 3 + n, ":ng:", 4) != 0)
		return NULL;
	return key + 3 + n + 4;
}

/* mg:NODE:call:SESSION -> SESSION (0: not a call key) */
static uint64_t sess_of(const char *key)
{
	size_t n = strlen(ha.node);
	char *end;
	uint64_t id;

	if (strncmp(key, "mg:", 3) != 0 || strncmp(key + 3, ha.node, n) != 0 ||
	    strncmp(key + 3 + n, ":call:", 6) != 0)
		return 0;
	id = strtoull(key + 3 + n + 6, &end, 16);
	return *end == '\0' ? id : 0;
}

static void standby_drop(const char *key)
{
	const char *cid = callid_of(key);
	uint64_t sess = sess_of(key);

	if (cid != NULL)
		media_standby_drop(cid);
	else if (sess != 0)
		calls_standby_drop(sess);
}

struct list_arg {
	void (*each)(void *arg, const char *key);
	void *arg;
};

static void list_call(void *arg, uint64_t sess)
{
	const struct list_arg *la = arg;
	char key[128];

	key_call(key, sizeof(key), sess);
	la->each(la->arg, key);
}

static void standby_list(void (*each)(void *arg, const char *key), void *arg)
{
	char key[HA_KEY_MAX];

	for (const struct media_session *m = media_first(); m != NULL; m = media_next(m))
		if (m->standby && !m->deleting) {
			key_ng(key, sizeof(key), m->key);
			each(arg, key);
		}
	calls_standby_each(list_call, &(struct list_arg){ each, arg });
}

/* ------------------------------------------------------------ active */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The heartbeat (docs/ha-state.md "Liveness"): mg:NODE:alive, its value
 * the wall clock in ms, written every aliveTtl/3 while the event loop runs;
 * mgctl ha adopt NODE on a peer refuses while it exists. */
static void on_alive(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	struct timespec ts;
	char val[32];

	(void)magic;
	(void)t;
	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(val, sizeof(val), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (ha_redis_set_px(ha.alive_key, val, ha.s->redis_alive_ms) == 0)
		ha.cnt.alive_sent++;
	else
		ha.cnt.alive_missed++; /* not connected: the key expires, peers may adopt */
}

static void on_connected(void)
{
	publish_all();
	if (ha.alive != NULL)
		on_alive(NULL, NULL, NULL); /* at once, not a period later */
}

static int start_publishing(const struct mg_settings *s)
{
	media_set_change_hook(on_media);
	calls_set_observer(on_call);
	if (ha_redis_start(ha.root, s->redis_url, s->redis_db, s->redis_expire_s, s->redis_queue, on_connected) < 0)
		return -EINVAL;
	ha.refresh = su_timer_create(su_root_task(ha.root), (su_duration_t)s->redis_expire_s * 1000 / 3);
	if (ha.refresh != NULL)
		su_timer_set_for_ever(ha.refresh, on_refresh, NULL);
	if (s->redis_alive_ms > 0) {
		snprintf(ha.alive_key, sizeof(ha.alive_key), "mg:%s:alive", ha.node);
		ha.alive = su_timer_create(su_root_task(ha.root), (su_duration_t)s->redis_alive_ms / 3);
		if (ha.alive != NULL)
			su_timer_set_for_ever(ha.alive, on_alive, NULL);
	}
	return 0;
}

/* The SIP user agents open once the read-back is over and every call read
 * back has the dataplane's verdict (its re-INVITE waits for SIP, sent
 * before any request is read: a BYE of its party finds nua's dialog), or
 * at the deadline (mediagate.redis.readTimeout). */
static void sip_go(void)
{
	void (*ready)(void) = ha.ready;

	ha.ready = NULL; /* once; the poll timer is not armed again */
	if (ready != NULL)
		ready();
}

/* One-shot, armed again until SIP opens (a timer is not destroyed in its
 * own callback: ha_stop() does it). */
static void on_wait(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	unsigned waiting = calls_adopt_waiting();

	(void)magic;
	(void)t;
	(void)arg;
	if (ha.ready == NULL)
		return;
	if (ha.read_done && waiting == 0) {
		sip_go();
		return;
	}
	if (mono_ms() >= ha.deadline_ms) {
		if (!ha.read_done)
			MG_WARN("redis: read-back not over after %u ms (mediagate.redis.readTimeout): SIP "
				"opens without it", ha.s->redis_read_timeout_ms);
		else
			MG_WARN("redis: %u call(s) read back still without the dataplane's verdict after %u "
				"ms: SIP opens, their re-INVITE follows the verdict", waiting,
				ha.s->redis_read_timeout_ms);
		ha.cnt.sip_held_timeout++;
		sip_go();
		return;
	}
	if (t != NULL)
		su_timer_set(ha.wait, on_wait, NULL);
}

static void on_read_done(void *arg, int n, const char *why)
{
	(void)arg;
	ha.read_done = true;
	if (n < 0) {
		MG_WARN("redis: %s: read-back cut (%s) after %" PRIu64 " key(s); the calls of a previous "
			"run not read are not re-adopted", ha.s->redis_url, why != NULL ? why : strerror(-n),
			ha.cnt.read_back);
	} else {
		MG_INFO("redis: %d key(s) of node %s read back: %u NG session(s) and %u call(s) being "
			"checked against the dataplane, %" PRIu64 " refused", n, ha.node, media_count(),
			calls_active(), ha.cnt.read_bad);
	}
	/* records refused at the read-back: removed (they would be read again) */
	for (unsigned i = 0; i < ha.n_stale; i++) {
		ha_redis_put(ha.stale[i], NULL, 0);
		free(ha.stale[i]);
	}
	free(ha.stale);
	ha.stale = NULL;
	ha.n_stale = 0;
	on_wait(NULL, NULL, NULL);
}

int ha_start(su_root_t *root, const struct mg_settings *s, void (*ready)(void))
{
	char pattern[128];

	memset(&ha, 0, sizeof(ha));
	if (s->redis_url[0] == '\0') {
		ready();
		return 0;
	}
	if (s->redis_node[0] != '\0')
		snprintf(ha.node, sizeof(ha.node), "%s", s->redis_node);
	else if (gethostname(ha.node, sizeof(ha.node)) < 0 || ha.node[0] == '\0')
		snprintf(ha.node, sizeof(ha.node), "mediagate");
	ha.node[sizeof(ha.node) - 1] = '\0';
	snprintf(ha.cnt.node, sizeof(ha.cnt.node), "%s", ha.node);
	ha.root = root;
	ha.s = s;
	ha.on = true;
	ha.cnt.enabled = true;
	if (s->redis_role == MG_REDIS_STANDBY) {
		/* docs/standby.md: the active node's NG sessions pre-installed
		 * here, blocked; nothing published until promoted */
		MG_INFO("redis: role standby for node %s: its NG sessions and B2BUA calls are "
			"pre-installed here (not forwarding) until mgctl ha promote", ha.node);
		ha.standby = true;
		ha.cnt.standby = true;
		ready();
		return ha_watch_start(root, s->redis_url, s->redis_db, ha.node, standby_put, standby_drop,
				      standby_list);
	}
	if (start_publishing(s) < 0)
		return -EINVAL;
	/* this node's keys of a previous run read back on the loop (the
	 * connection above); SIP waits for it (sip_go()) */
	ha.ready = ready;
	ha.deadline_ms = mono_ms() + s->redis_read_timeout_ms;
	ha.wait = su_timer_create(su_root_task(root), 20);
	snprintf(pattern, sizeof(pattern), "mg:%s:*", ha.node);
	if (ha.wait == NULL || ha_redis_scan(pattern, s->redis_read_timeout_ms, on_read, on_read_done, NULL) < 0) {
		MG_WARN("redis: read-back not started (out of memory)");
		ha.read_done = true;
		sip_go();
		return 0;
	}
	su_timer_set(ha.wait, on_wait, NULL);
	return 0;
}

int ha_promote(unsigned *sessions)
{
	*sessions = 0;
	if (!ha.on || !ha.standby)
		return 0;
	ha_watch_stop();
	ha.standby = false;
	ha.promoted = true;
	ha.cnt.standby = false;
	ha.cnt.promoted = true;
	*sessions = media_promote();
	ha.cnt.calls_taken_over = calls_promote();
	MG_WARN("ha: promoted: %u NG session(s) and %u call(s) of node %s forward here now (the calls' "
		"re-INVITEs follow); publishing them as node %s", *sessions, ha.cnt.calls_taken_over, ha.node,
		ha.node);
	return start_publishing(ha.s);
}

void ha_stop(void)
{
	if (!ha.on)
		return;
	if (ha.standby) {
		ha_watch_stop();
		ha.on = false;
		return;
	}
	media_set_change_hook(NULL);
	calls_set_observer(NULL);
	if (ha.refresh != NULL)
		su_timer_destroy(ha.refresh);
	ha.refresh = NULL;
	if (ha.wait != NULL)
		su_timer_destroy(ha.wait);
	ha.wait = NULL;
	ha.ready = NULL;
	if (ha.alive != NULL) {
		/* a clean stop: no heartbeat left for a peer to wait out */
		su_timer_destroy(ha.alive);
		ha.alive = NULL;
		ha_redis_put(ha.alive_key, NULL, 0);
	}
	ha_redis_stop();
	ha.on = false;
}

/* ------------------------------------------------- a dead gateway's calls */

struct peer_read {
	unsigned ended, refused;
	int ua;
	bool force;
	char node[64];
	char alive_key[96];
	void (*done)(void *arg, int rc, const struct ha_adopt_result *res);
	void *arg;
	struct ha_adopt_result res;
};

static void on_peer_read(void *arg, const char *key, const char *val, size_t len)
{
	struct peer_read *pr = arg;
	struct calls_adopt a;
	char why[160];

	if (ha_rec_kind(val, len) != 'c')
		return; /* its NG sessions: a standby's business (docs/standby.md) */
	if (ha_rec_call_parse(val, len, &a, why, sizeof(why)) < 0) {
		pr->refused++;
		MG_WARN("ha adopt: %s: call record refused: %s", key, why);
	} else {
		if (calls_end_peer(&a, pr->ua) < 0) {
			pr->refused++;
			MG_WARN("ha adopt: %s: call not ended (a leg without its dialog)", key);
		} else {
			pr->ended++;
		}
		ha_rec_adopt_free(&a);
	}
	/* ended or not, the record is of no use any more */
	ha_redis_put(key, NULL, 0);
}

static void peer_finish(struct peer_read *pr, int rc)
{
	pr->res.ended = pr->ended;
	pr->res.refused = pr->refused;
	pr->done(pr->arg, rc, &pr->res);
	free(pr);
}

static void on_peer_done(void *arg, int n, const char *why)
{
	struct peer_read *pr = arg;

	if (n < 0) {
		ha.cnt.peer_read_failed++;
		snprintf(pr->res.why, sizeof(pr->res.why), "reading node %s's records: %s (%u call(s) ended "
			 "before the failure)", pr->node, why != NULL ? why : strerror(-n), pr->ended);
		MG_WARN("ha adopt: %s", pr->res.why);
		ha.cnt.peer_refused += pr->refused;
		peer_finish(pr, n);
		return;
	}
	ha.cnt.peer_adopts++;
	ha.cnt.peer_read += (uint64_t)n;
	ha.cnt.peer_refused += pr->refused;
	MG_INFO("ha adopt: node %s: %u call(s) ended with a BYE on each leg, %u refused", pr->node, pr->ended,
		pr->refused);
	peer_finish(pr, 0);
}

static void peer_scan(struct peer_read *pr)
{
	char pattern[96];

	snprintf(pattern, sizeof(pattern), "mg:%s:call:*", pr->node);
	if (ha_redis_scan(pattern, ha.s->redis_read_timeout_ms, on_peer_read, on_peer_done, pr) < 0) {
		snprintf(pr->res.why, sizeof(pr->res.why), "out of memory");
		peer_finish(pr, -ENOMEM);
	}
}

/* NODE's heartbeat: a key that exists (with its time to live) says NODE's
 * event loop ran less than aliveTtl ago. */
static void on_peer_alive(void *arg, long long ms, int err, const char *why)
{
	struct peer_read *pr = arg;

	if (err < 0) {
		ha.cnt.peer_read_failed++;
		snprintf(pr->res.why, sizeof(pr->res.why), "reading node %s's heartbeat %s: %s", pr->node,
			 pr->alive_key, why != NULL ? why : strerror(-err));
		peer_finish(pr, err);
		return;
	}
	pr->res.alive_ttl_ms = ms;
	if (ms != -2 && !pr->force) {
		ha.cnt.peer_alive_refused++;
		snprintf(pr->res.why, sizeof(pr->res.why), "node %s is alive: its heartbeat %s exists "
			 "(expires in %lld ms); its calls are not ended (--force: end them anyway)",
			 pr->node, pr->alive_key, ms);
		MG_WARN("ha adopt: %s", pr->res.why);
		peer_finish(pr, -EBUSY);
		return;
	}
	if (ms != -2) {
		ha.cnt.peer_forced++;
		MG_WARN("ha adopt: node %s's heartbeat is fresh (expires in %lld ms): its calls are ended "
			"anyway (--force)", pr->node, ms);
	}
	peer_scan(pr);
}

int ha_adopt_peer(const char *node, const char *addr, bool force,
		  void (*done)(void *arg, int rc, const struct ha_adopt_result *res), void *arg, char *why,
		  size_t wl)
{
	struct peer_read *pr;
	int ua = -1;

	if (!ha.on || ha.standby) {
		snprintf(why, wl, "%s", !ha.on ? "mediagate.redis.url is not set" : "this node is a standby");
		return -ENODEV;
	}
	if (node[0] == '\0' || strlen(node) >= sizeof(ha.node) || strpbrk(node, "*?[]:\\") != NULL) {
		snprintf(why, wl, "node '%s': a mediagate.redis.node name (no * ? [ ] : \\)", node);
		return -EINVAL;
	}
	if (strcmp(node, ha.node) == 0) {
		snprintf(why, wl, "node '%s' is this node", node);
		return -EINVAL;
	}
	if (addr != NULL) {
		ua = calls_ua_by_addr(addr);
		if (ua < 0) {
			snprintf(why, wl, "no SIP user agent on %s here (netborder.sip.userAgent.IPAddress: "
				 "add ADDR:PORT/udp, with sysctl net.ipv4.ip_nonlocal_bind=1 while the "
				 "address is the peer's)", addr);
			return -ENOENT;
		}
	}
	pr = calloc(1, sizeof(*pr));
	if (pr == NULL) {
		snprintf(why, wl, "out of memory");
		return -ENOMEM;
	}
	pr->ua = ua;
	pr->force = force;
	pr->done = done;
	pr->arg = arg;
	pr->res.alive_ttl_ms = -2;
	snprintf(pr->node, sizeof(pr->node), "%s", node);
	snprintf(pr->alive_key, sizeof(pr->alive_key), "mg:%s:alive", node);
	if (ha_redis_pttl(pr->alive_key, ha.s->redis_read_timeout_ms, on_peer_alive, pr) < 0) {
		free(pr);
		snprintf(why, wl, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void ha_get_counters(struct ha_counters *out)
{
	struct media_counters mc;

	*out = ha.cnt;
	if (!ha.on)
		return;
	ha_redis_counters(&out->redis);
	ha_redis_read_counters(&out->redis);
	out->cpu_ns += ha_redis_cpu_ns();
	out->unpublished += calls_unpublished();
	ha_watch_counters(&out->watch);
	media_get_counters(&mc);
	out->standby_sessions = media_standby_count();
	out->standby_installed = mc.standby_installed;
	out->standby_updated = mc.standby_updated;
	out->standby_replaced = mc.standby_replaced;
	out->standby_removed = mc.standby_removed;
	out->promote_sessions = mc.promoted;
	out->promote_failed = mc.promote_failed;
	out->adopted = mc.adopted;
	out->adopt_dropped = mc.adopt_dropped;
	calls_adopt_counters(&out->calls_adopted, &out->calls_adopt_dropped);
	calls_standby_counters(&out->calls_standby);
	calls_peer_counters(&out->peer);
}
