/* SPDX-License-Identifier: BSD-3-Clause */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dp_port.h"
#include "dp_session.h"
#include "mg_log.h"
#include "mg_slab.h"
#include "mg_proto_crypto.h"

struct rte_hash *dp_ep_hash;
struct rte_rcu_qsbr *dp_qsbr;
unsigned dp_n_workers;

static struct rte_hash *id_hash;
static struct rte_rcu_qsbr_dq *sess_dq;
static unsigned max_sessions;
static unsigned n_sessions;

/* Local media port allocator: one bit per UDP port, shared by all addresses. */
static uint64_t port_used[65536 / 64];
/*
 * One bit per even port: allocated with its RTCP port (no rtcp-mux). PORT_FREE
 * frees what was allocated, whatever its flags say: trusting them leaked the
 * RTCP port when a pair was freed as rtcp-mux.
 */
static uint64_t port_pair[65536 / 64];
static uint16_t port_lo, port_hi, port_cursor;

/* Error text of the last failed operation (main lcore only). */
static char errbuf[256];

/*
 * Hot versions and counters blocks come from pools in DPDK memory (chunks
 * of SESS_PER_CHUNK): each object costs its size, without the 64-byte
 * element header rte_malloc puts before each allocation (mg_slab.h).
 */
#define SESS_PER_CHUNK 64
static struct mg_slab rt_pool, stats_pool;
/* SRTP contexts' room for further SSRCs (dp_session_init()) */
static struct mg_srtp_ssrc_pool *ssrc_pool;
struct mg_lfpool dp_drops_pool;

static void *dpdk_chunk(size_t bytes, size_t align)
{
	return rte_malloc("dp_sess_pool", bytes, (unsigned)align);
}

size_t dp_session_pool_objects(void)
{
	/* in an ASan build each object is an rte_malloc allocation already */
	return mg_slab_objects_apart() ? 0 : rt_pool.in_use + stats_pool.in_use;
}

#define FAIL(rc, ...)                                                 \
	do {                                                          \
		snprintf(errbuf, sizeof(errbuf), __VA_ARGS__);        \
		*err = errbuf;                                        \
		return (rc);                                          \
	} while (0)

/*
 * What a session version holds that another version may share, as the bits
 * of a retire mask: a version is retired with the set of things no newer
 * version refers to, computed before it goes on the defer queue, so that
 * nothing is ever written to an object readers may still hold.
 */
#define RES_CTX(l, d) (1ull << ((l) * 2 + (d))) /* leg l's context, d: 0 rx, 1 tx */
#define RES_SRC(l) (1ull << (4 + (l)))          /* a dp_src_rt allocated apart */
#define RES_STATS (1ull << 6)                   /* the session's dp_sess_stats */
#define RES_FORK(f) (1ull << (8 + (f)))         /* fork f's context */

struct sess_retired {
	struct dp_session_rt *s;
	uint64_t mask;
};

static size_t cold_size(unsigned fork_room, unsigned n_crypto)
{
	return sizeof(struct dp_session_cold) + fork_room * sizeof(struct dp_fork) +
	       n_crypto * sizeof(struct dp_crypto_def);
}

static struct dp_crypto_def *cold_crypto(struct dp_session_cold *c)
{
	return (struct dp_crypto_def *)(void *)&c->forks[c->fork_room];
}

/* Direction @p dir (0 rx, 1 tx) of leg @p li as installed. */
static const struct dp_crypto_def *leg_crypto(const struct dp_session_cold *c, unsigned li, unsigned dir)
{
	static const struct dp_crypto_def none;
	unsigned i = c->leg[li].crypto[dir];

	return i ? &cold_crypto((struct dp_session_cold *)(uintptr_t)c)[i - 1] : &none;
}

/* A direction keeps a definition when anything of it was given. */
static bool crypto_given(const struct mg_msg_crypto *c)
{
	return c->suite != MG_SRTP_SUITE_NONE || c->flags != 0 || c->seq != 0 || c->roc != 0;
}

static bool ctx_in(const struct dp_session_rt *v, const struct mg_srtp_ctx *c)
{
	if (v == NULL)
		return false;
	for (unsigned l = 0; l < 2; l++)
		if (v->leg[l].rx_ctx == c || v->leg[l].tx_ctx == c)
			return true;
	for (unsigned f = 0; f < v->n_forks; f++)
		if (v->cold->forks[f].ctx == c)
			return true;
	return false;
}

/* Leg @p l's source is an allocation of its own (not dp_sess_stats.src[]). */
static bool src_apart(const struct dp_session_rt *v, unsigned l)
{
	const struct dp_src_rt *r = v->leg[l].src;

	return r != NULL && (v->stats == NULL || (r != &v->stats->src[0] && r != &v->stats->src[1]));
}

/* What @p a holds that @p b (NULL: nothing) does not refer to. */
static uint64_t sess_exclusive(const struct dp_session_rt *a, const struct dp_session_rt *b)
{
	uint64_t m = 0;

	for (unsigned l = 0; l < 2; l++) {
		if (a->leg[l].rx_ctx != NULL && !ctx_in(b, a->leg[l].rx_ctx))
			m |= RES_CTX(l, 0);
		if (a->leg[l].tx_ctx != NULL && !ctx_in(b, a->leg[l].tx_ctx))
			m |= RES_CTX(l, 1);
		if (src_apart(a, l) &&
		    (b == NULL || (b->leg[0].src != a->leg[l].src && b->leg[1].src != a->leg[l].src)))
			m |= RES_SRC(l);
	}
	if (a->stats != NULL && (b == NULL || b->stats != a->stats))
		m |= RES_STATS;
	for (unsigned f = 0; a->cold != NULL && f < a->n_forks; f++)
		if (a->cold->forks[f].ctx != NULL && !ctx_in(b, a->cold->forks[f].ctx))
			m |= RES_FORK(f);
	return m;
}

/* Free a version and what @p mask says only it holds. */
static void sess_free_version(struct dp_session_rt *s, uint64_t mask)
{
	for (unsigned l = 0; l < 2; l++) {
		if (mask & RES_CTX(l, 0))
			mg_srtp_ctx_free(s->leg[l].rx_ctx);
		if (mask & RES_CTX(l, 1))
			mg_srtp_ctx_free(s->leg[l].tx_ctx);
		if (mask & RES_SRC(l))
			rte_free(s->leg[l].src);
	}
	if (s->cold != NULL) {
		for (unsigned f = 0; f < s->n_forks; f++)
			if (mask & RES_FORK(f))
				mg_srtp_ctx_free(s->cold->forks[f].ctx);
		/* the cold part holds key digests: wipe before the memory goes back */
		OPENSSL_cleanse(s->cold, cold_size(s->cold->fork_room, s->cold->n_crypto));
		free(s->cold);
	}
	if (mask & RES_STATS) {
		rte_free(s->stats->forks);
		if (s->stats->drops != NULL) {
			memset(s->stats->drops, 0, sizeof(*s->stats->drops));
			mg_lfpool_put(&dp_drops_pool, s->stats->drops);
		}
		mg_slab_put(&stats_pool, s->stats);
	}
	memset(s, 0, sizeof(*s));
	mg_slab_put(&rt_pool, s);
}

static void sess_dq_free(void *p, void *e, unsigned n)
{
	struct sess_retired *r = e;

	RTE_SET_USED(p);
	for (unsigned i = 0; i < n; i++)
		sess_free_version(r[i].s, r[i].mask);
}

/* Retire a version that readers may still hold; @p now: the version that
 * replaced it (NULL: the session is gone). */
static void sess_retire(struct dp_session_rt *s, const struct dp_session_rt *now)
{
	struct sess_retired r = { s, sess_exclusive(s, now) };

	if (rte_rcu_qsbr_dq_enqueue(sess_dq, &r) != 0) {
		/*
		 * Defer queue full even after reclaiming: wait for a grace
		 * period right here (workers report every loop, so this is
		 * short); never free early.
		 */
		rte_rcu_qsbr_synchronize(dp_qsbr, RTE_QSBR_THRID_INVALID);
		sess_free_version(s, r.mask);
	}
}

int dp_session_init(unsigned max_sess, unsigned n_workers, uint16_t pmin, uint16_t pmax)
{
	struct rte_hash_parameters hp = { 0 };
	struct rte_hash_rcu_config rc = { 0 };
	struct rte_rcu_qsbr_dq_parameters dqp = { 0 };
	unsigned n_readers = n_workers + 1; /* + telemetry */
	size_t sz;

	if (max_sess == 0)
		max_sess = 10000;
	max_sessions = max_sess;
	dp_n_workers = n_workers;
	if (rt_pool.size == 0) {
		mg_slab_init(&rt_pool, sizeof(struct dp_session_rt), RTE_CACHE_LINE_SIZE, SESS_PER_CHUNK,
			     0, dpdk_chunk, rte_free);
		mg_slab_init(&stats_pool, sizeof(struct dp_sess_stats), RTE_CACHE_LINE_SIZE,
			     SESS_PER_CHUNK, 0, dpdk_chunk, rte_free);
	}
	sz = rte_rcu_qsbr_get_memsize(n_readers);
	dp_qsbr = rte_zmalloc("dp_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (dp_qsbr == NULL || rte_rcu_qsbr_init(dp_qsbr, n_readers) != 0)
		return -ENOMEM;
	/* thread ids 0..n-1: workers (they register themselves); n: telemetry */
	rte_rcu_qsbr_thread_register(dp_qsbr, n_workers);

	hp.name = "dp_ep";
	/* up to 4 endpoints per session, plus room for cuckoo displacement */
	hp.entries = RTE_MAX(max_sess * 4u + 1024u, 8192u);
	hp.key_len = sizeof(struct dp_ep_key);
	hp.hash_func = rte_jhash;
	hp.socket_id = (int)rte_socket_id();
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
	dp_ep_hash = rte_hash_create(&hp);
	hp.name = "dp_id";
	hp.entries = RTE_MAX(max_sess + 1024u, 8192u);
	hp.key_len = sizeof(uint64_t);
	id_hash = rte_hash_create(&hp);
	if (dp_ep_hash == NULL || id_hash == NULL) {
		mg_log(MG_LOG_ERR, "session hashes: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc.v = dp_qsbr;
	rc.mode = RTE_HASH_QSBR_MODE_DQ;
	if (rte_hash_rcu_qsbr_add(dp_ep_hash, &rc) != 0 || rte_hash_rcu_qsbr_add(id_hash, &rc) != 0) {
		mg_log(MG_LOG_ERR, "session hashes: RCU: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	dqp.name = "dp_sess_dq";
	dqp.size = max_sess * 2 + 64;
	dqp.esize = sizeof(struct sess_retired);
	dqp.trigger_reclaim_limit = 64;
	dqp.max_reclaim_size = 256;
	dqp.free_fn = sess_dq_free;
	dqp.v = dp_qsbr;
	sess_dq = rte_rcu_qsbr_dq_create(&dqp);
	if (sess_dq == NULL) {
		mg_log(MG_LOG_ERR, "session defer queue: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/* room for SSRCs 2..4 of an SRTP context, taken by the worker at a
	 * context's second SSRC: one for every context a live session can
	 * have (a leg's rx and tx, a fork's), and 1024 for contexts replaced
	 * but not yet reclaimed; address space only until taken (docs/srtp.md,
	 * memory). More than that at once is counted (ssrc_rooms_empty). */
	if (ssrc_pool == NULL)
		ssrc_pool = mg_srtp_ssrc_pool_create(max_sess * (4u + DP_SESS_MAX_FORKS) + 1024u);
	if (ssrc_pool == NULL) {
		mg_log(MG_LOG_ERR, "SRTP SSRC pool: %s", strerror(errno));
		return -ENOMEM;
	}
	/* a drop counters block per counters block, which live as long as a
	 * session or until the defer queue (max_sess * 2 + 64) reclaims them:
	 * never more than max_sess * 3 + 64; address space until taken */
	if (dp_drops_pool.base == NULL &&
	    mg_lfpool_init(&dp_drops_pool, sizeof(struct dp_sess_drops), max_sess * 3u + 1024u) != 0) {
		mg_log(MG_LOG_ERR, "session drop counters pool: out of address space");
		return -ENOMEM;
	}
	port_lo = pmin;
	port_hi = pmax;
	port_cursor = pmin;
	return 0;
}

void dp_session_lazy_pools(struct mg_msg_dp_stats *out)
{
	struct mg_srtp_ssrc_pool_stats ps = { 0 };

	if (ssrc_pool != NULL)
		mg_srtp_ssrc_pool_stats(ssrc_pool, &ps);
	out->ssrc_rooms = ps.rooms;
	out->ssrc_rooms_used = ps.in_use;
	out->ssrc_rooms_empty = ps.empty;
	out->drop_blocks = dp_drops_pool.n;
	out->drop_blocks_used = mg_lfpool_in_use(&dp_drops_pool);
	out->drop_blocks_empty = mg_lfpool_empty(&dp_drops_pool);
}

void dp_session_reclaim(void)
{
	unsigned freed, pending, avail;

	rte_rcu_qsbr_dq_reclaim(sess_dq, 256, &freed, &pending, &avail);
}

unsigned dp_session_count(void)
{
	return n_sessions;
}

/* ------------------------------------------------------------ port alloc */

static inline bool pbit(unsigned p)
{
	return (port_used[p / 64] >> (p % 64)) & 1;
}

static inline void bset(uint64_t *map, unsigned p, bool v)
{
	if (v)
		map[p / 64] |= 1ull << (p % 64);
	else
		map[p / 64] &= ~(1ull << (p % 64));
}

static inline void pset(unsigned p, bool v)
{
	bset(port_used, p, v);
}

static int local_addr_check(const struct mg_msg_addr *a, const char *what, uint32_t *ip,
			    int *port_idx, const char **err)
{
	if (a->family == MG_FAMILY_IPV6)
		FAIL(-EAFNOSUPPORT, "%s: IPv6 media is not supported by this dataplane (use IPv4)",
		     what);
	if (a->family != MG_FAMILY_IPV4)
		FAIL(-EINVAL, "%s: family %u (allowed: 4)", what, a->family);
	memcpy(ip, a->addr, 4);
	*port_idx = dp_port_by_addr(*ip);
	if (*port_idx < 0) {
		char b[64];

		FAIL(-EADDRNOTAVAIL, "%s: %s is not a media address of this dataplane", what,
		     mg_proto_addr_str(a, b, sizeof(b)));
	}
	return 0;
}

int dp_port_alloc(const struct mg_msg_port_alloc *req, struct mg_msg_port *rep, const char **err)
{
	bool mux = (req->flags & MG_PORT_F_RTCP_MUX) != 0;
	static const uint8_t zero[16];
	uint32_t ip;
	int pidx, rc;
	unsigned span, start;

	if (req->local.port != 0) {
		/* that port (re-install after a restart: the peers know it) */
		unsigned p = req->local.port;

		if (p < port_lo || p + (mux ? 0u : 1u) > port_hi || (p & 1) != 0)
			FAIL(-EINVAL, "PORT_ALLOC: port %u is not an RTP port of the range %u-%u", p,
			     port_lo, port_hi);
		if (req->local.family != MG_FAMILY_IPV4 || memcmp(req->local.addr, zero, 16) == 0)
			FAIL(-EINVAL, "PORT_ALLOC: port %u requested without its address", p);
		rc = local_addr_check(&req->local, "PORT_ALLOC local", &ip, &pidx, err);
		if (rc < 0)
			return rc;
		if (pbit(p) || (!mux && pbit(p + 1)))
			FAIL(-EADDRINUSE, "PORT_ALLOC: port %u is in use", p);
		pset(p, true);
		if (!mux)
			pset(p + 1, true);
		bset(port_pair, p, !mux);
		memset(rep, 0, sizeof(*rep));
		rep->local.family = MG_FAMILY_IPV4;
		memcpy(rep->local.addr, &ip, 4);
		rep->local.port = (uint16_t)p;
		rep->rtcp_port = (uint16_t)(mux ? p : p + 1);
		rep->flags = req->flags & MG_PORT_F_RTCP_MUX;
		return 0;
	}
	if (req->local.family == MG_FAMILY_IPV4 && memcmp(req->local.addr, zero, 16) == 0) {
		if (dp_n_ports == 0 || dp_ports[0].n_addrs == 0)
			FAIL(-EADDRNOTAVAIL, "PORT_ALLOC: no IPv4 media address configured");
		ip = dp_ports[0].addrs[0];
	} else {
		rc = local_addr_check(&req->local, "PORT_ALLOC local", &ip, &pidx, err);
		if (rc < 0)
			return rc;
	}
	span = (unsigned)(port_hi - port_lo + 1) / 2;
	start = (unsigned)(port_cursor - port_lo) / 2;
	for (unsigned i = 0; i < span; i++) {
		unsigned p = port_lo + ((start + i) % span) * 2;

		if (pbit(p) || (!mux && pbit(p + 1)))
			continue;
		pset(p, true);
		if (!mux)
			pset(p + 1, true);
		bset(port_pair, p, !mux);
		port_cursor = (uint16_t)(p + 2 > port_hi ? port_lo : p + 2);
		memset(rep, 0, sizeof(*rep));
		rep->local.family = MG_FAMILY_IPV4;
		memcpy(rep->local.addr, &ip, 4);
		rep->local.port = (uint16_t)p;
		rep->rtcp_port = (uint16_t)(mux ? p : p + 1);
		rep->flags = req->flags & MG_PORT_F_RTCP_MUX;
		return 0;
	}
	FAIL(-ENOSPC, "PORT_ALLOC: every port pair of %u-%u is in use", port_lo, port_hi);
}

int dp_port_free(const struct mg_msg_port *req, const char **err)
{
	unsigned p = req->local.port;
	bool pair;

	/* req->flags is not trusted: the allocation says whether p + 1 is ours */
	if (p < port_lo || p > port_hi || (p & 1) != 0)
		FAIL(-EINVAL, "PORT_FREE: port %u is not an RTP port of the range %u-%u", p,
		     port_lo, port_hi);
	if (!pbit(p))
		FAIL(-ENOENT, "PORT_FREE: port %u is not allocated", p);
	pair = (port_pair[p / 64] >> (p % 64)) & 1;
	pset(p, false);
	if (pair)
		pset(p + 1, false);
	bset(port_pair, p, false);
	return 0;
}

unsigned dp_port_free_all(void)
{
	unsigned n = 0;

	for (unsigned p = port_lo; port_hi != 0 && p <= port_hi; p += 2)
		if (pbit(p)) {
			bool pair = (port_pair[p / 64] >> (p % 64)) & 1;

			pset(p, false);
			if (pair)
				pset(p + 1, false);
			bset(port_pair, p, false);
			n++;
		}
	return n;
}

unsigned dp_port_used_count(void)
{
	unsigned n = 0;

	/* only ports of the range are ever set: whole words may be counted */
	for (unsigned w = port_lo / 64; port_hi != 0 && w <= port_hi / 64u; w++)
		n += (unsigned)__builtin_popcountll(port_used[w]);
	return n;
}

/* -------------------------------------------------------------- building */

/*
 * The dataplane does not keep master keys: once the contexts are derived, the
 * cold definition holds the first 16 bytes of a SHA-256 of the key material
 * instead, enough to tell at MODIFY whether a direction's keys changed.
 */
static void crypto_digest(const struct mg_msg_crypto *c, uint8_t out[16])
{
	uint8_t d[32];
	unsigned int n = 32;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	memset(out, 0, 16);
	if (md == NULL)
		return;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, &c->suite, 1);
	EVP_DigestUpdate(md, &c->key_len, 1);
	EVP_DigestUpdate(md, c->key, c->key_len);
	EVP_DigestUpdate(md, &c->salt_len, 1);
	EVP_DigestUpdate(md, c->salt, c->salt_len);
	EVP_DigestUpdate(md, &c->mki_len, 1);
	EVP_DigestUpdate(md, c->mki, c->mki_len);
	EVP_DigestUpdate(md, &c->lifetime, sizeof(c->lifetime));
	EVP_DigestFinal_ex(md, d, &n);
	EVP_MD_CTX_free(md);
	memcpy(out, d, 16);
	OPENSSL_cleanse(d, sizeof(d));
}

/* A direction's crypto as installed: everything of the message but the keys. */
static void crypto_def_set(struct dp_crypto_def *d, const struct mg_msg_crypto *c)
{
	memset(d, 0, sizeof(*d));
	d->suite = c->suite;
	d->key_len = c->key_len;
	d->salt_len = c->salt_len;
	d->mki_len = c->mki_len;
	d->flags = c->flags;
	memcpy(d->mki, c->mki, sizeof(d->mki));
	d->seq = c->seq;
	d->roc = c->roc;
	d->lifetime = c->lifetime;
	if (c->suite != MG_SRTP_SUITE_NONE)
		crypto_digest(c, d->digest);
}

/* The message again, keys and salt zero (what GET reports). */
static void crypto_def_get(const struct dp_crypto_def *d, struct mg_msg_crypto *c)
{
	memset(c, 0, sizeof(*c));
	c->suite = d->suite;
	c->key_len = d->key_len;
	c->salt_len = d->salt_len;
	c->mki_len = d->mki_len;
	c->flags = d->flags;
	memcpy(c->mki, d->mki, sizeof(c->mki));
	c->seq = d->seq;
	c->roc = d->roc;
	c->lifetime = d->lifetime;
}

/* @p fresh from a message (keys), @p stored from an installed definition (digest). */
static bool crypto_same(const struct mg_msg_crypto *fresh, const struct dp_crypto_def *stored)
{
	uint8_t d[16];
	bool same;

	if (fresh->suite != stored->suite || fresh->key_len != stored->key_len ||
	    fresh->salt_len != stored->salt_len || fresh->mki_len != stored->mki_len ||
	    memcmp(fresh->mki, stored->mki, sizeof(fresh->mki)) != 0 ||
	    fresh->lifetime != stored->lifetime)
		return false;
	crypto_digest(fresh, d);
	same = memcmp(d, stored->digest, sizeof(d)) == 0;
	OPENSSL_cleanse(d, sizeof(d));
	return same;
}

static void addr4(struct mg_msg_addr *a, uint32_t be_ip, uint16_t be_port)
{
	memset(a, 0, sizeof(*a));
	a->family = MG_FAMILY_IPV4;
	memcpy(a->addr, &be_ip, 4);
	a->port = rte_be_to_cpu_16(be_port);
}

/* Leg @p li's definition as it was installed (keys zero), from the hot and
 * cold parts: the dataplane accepts IPv4 addresses only, so nothing is lost. */
static void leg_def_get(const struct dp_session_rt *s, unsigned li, struct mg_msg_leg *m)
{
	const struct dp_leg_rt *l = &s->leg[li];
	const struct dp_leg_cold *c = &s->cold->leg[li];
	unsigned first = c->remote_family == MG_FAMILY_IPV4 ? 1 : 0;

	memset(m, 0, sizeof(*m));
	addr4(&m->local, l->local_ip, l->local_port);
	if (first)
		addr4(&m->remote, l->remote_ip, l->remote_port);
	m->remote_rtcp_port = c->def_rtcp_port;
	m->n_candidates = (uint8_t)(l->n_cand - first);
	for (unsigned i = 0; i < m->n_candidates; i++)
		addr4(&m->candidates[i], c->cand_ip[first + i], c->cand_port[first + i]);
	m->source_policy = l->policy;
	m->flags = c->flags;
	crypto_def_get(leg_crypto(s->cold, li, 0), &m->rx);
	crypto_def_get(leg_crypto(s->cold, li, 1), &m->tx);
}

static void sess_def_get(const struct dp_session_rt *s, struct mg_msg_session *out)
{
	memset(out, 0, sizeof(*out));
	out->id = s->id;
	for (unsigned l = 0; l < 2; l++)
		leg_def_get(s, l, &out->legs[l]);
}

static int crypto_ctx(const struct mg_msg_crypto *c, enum mg_srtp_dir dir, const char *what,
		      struct mg_srtp_ctx **out, const char **err)
{
	struct mg_srtp_policy p;
	char e[160];

	*out = NULL;
	if (c->suite == MG_SRTP_SUITE_NONE)
		return 0;
	/* the conversion the control plane made in reverse (mg_crypto_from_policy());
	 * decoded messages always pass it (mg_proto_check_crypto() is stricter) */
	if (mg_crypto_to_policy(c, dir, &p) < 0)
		FAIL(-EINVAL, "%s: suite %u with key/salt/MKI lengths %u/%u/%u out of range", what, c->suite,
		     c->key_len, c->salt_len, c->mki_len);
	p.stats_off = 1; /* the worker counts every result by reason itself */
	p.ssrc_pool = ssrc_pool;
	*out = mg_srtp_ctx_create(&p, e, sizeof(e));
	if (*out == NULL) {
		int rc = errno != 0 ? -errno : -EINVAL;

		FAIL(rc, "%s: %s", what, e);
	}
	return 0;
}

/*
 * MODIFY keeps what a leg learned about its source only while the definition
 * still describes the same remote: a re-INVITE that changes keys, codecs or
 * forks must not re-open a latched leg to whoever sends first, while a new
 * remote address (the peer moved) or another policy starts learning again.
 */
static bool same_remote(const struct mg_msg_leg *a, const struct mg_msg_leg *b)
{
	return memcmp(&a->remote, &b->remote, sizeof(a->remote)) == 0 &&
	       a->remote_rtcp_port == b->remote_rtcp_port && a->source_policy == b->source_policy &&
	       (a->flags & MG_LEG_F_RTCP_MUX) == (b->flags & MG_LEG_F_RTCP_MUX) &&
	       a->n_candidates == b->n_candidates &&
	       memcmp(a->candidates, b->candidates, sizeof(a->candidates)) == 0;
}

static int build_src(struct dp_session_rt *s, unsigned li, const struct mg_msg_leg *m,
		     const struct dp_session_rt *old, const char **err)
{
	struct dp_leg_rt *l = &s->leg[li];
	struct dp_src_rt *r;

	if (old != NULL) {
		struct mg_msg_leg was;

		leg_def_get(old, li, &was);
		if (same_remote(m, &was)) {
			l->src = old->leg[li].src;
			return 0;
		}
		/* the peer moved: a fresh one (the old version keeps its own
		 * until it is retired) */
		r = rte_zmalloc("dp_src_rt", sizeof(*r), RTE_CACHE_LINE_SIZE);
		if (r == NULL)
			FAIL(-ENOMEM, "out of memory for leg %u's source state", li);
	} else {
		r = &s->stats->src[li]; /* zeroed with the counters */
	}
	/* until a source is learned, media goes to the definition's remote */
	r->ip = l->remote_ip;
	r->rtp_port = l->remote_port;
	r->rtcp_port = l->remote_rtcp_port;
	l->src = r;
	return 0;
}

/* The directions of @p m given a crypto definition, in the cold part's
 * order from @p *next (leg 0 rx, tx, leg 1 rx, tx). */
static void leg_crypto_set(struct dp_session_cold *cold, unsigned li, const struct mg_msg_leg *m,
			   unsigned *next)
{
	const struct mg_msg_crypto *dir[2] = { &m->rx, &m->tx };

	for (unsigned d = 0; d < 2; d++) {
		cold->leg[li].crypto[d] = 0;
		if (crypto_given(dir[d]) && *next < cold->n_crypto) {
			crypto_def_set(&cold_crypto(cold)[*next], dir[d]);
			cold->leg[li].crypto[d] = (uint8_t)++*next;
		}
	}
}

static int build_leg(struct dp_session_rt *s, struct dp_session_cold *cold, unsigned li,
		     const struct mg_msg_leg *m, const struct dp_session_rt *old, unsigned *next_crypto,
		     const char **err)
{
	struct dp_leg_rt *l = &s->leg[li];
	struct dp_leg_cold *c = &cold->leg[li];
	char what[32];
	uint32_t ip;
	int pidx, rc;

	snprintf(what, sizeof(what), "leg %u local", li);
	rc = local_addr_check(&m->local, what, &ip, &pidx, err);
	if (rc < 0)
		return rc;
	l->mux = (m->flags & MG_LEG_F_RTCP_MUX) != 0;
	if (!l->mux && m->local.port == 65535)
		FAIL(-EINVAL, "leg %u local: port 65535 leaves no RTCP port (use rtcp-mux)", li);
	l->local_ip = ip;
	l->port_idx = (uint16_t)pidx;
	l->local_port = rte_cpu_to_be_16(m->local.port);
	l->local_rtcp_port = rte_cpu_to_be_16(l->mux ? m->local.port : m->local.port + 1);
	l->policy = m->source_policy;
	l->handover = (m->flags & MG_LEG_F_HANDOVER) != 0;
	l->block = (m->flags & MG_LEG_F_BLOCK) != 0;
	c->flags = m->flags;
	c->def_rtcp_port = m->remote_rtcp_port;
	c->remote_family = m->remote.family;
	if (m->remote.family == MG_FAMILY_IPV6)
		FAIL(-EAFNOSUPPORT, "leg %u remote: IPv6 media is not supported (use IPv4)", li);
	if (m->remote.family == MG_FAMILY_IPV4) {
		uint16_t rr;

		/* RTCP to remote.port + 1 would be port 0: the worker must never send there */
		if (!l->mux && m->remote_rtcp_port == 0 && m->remote.port == 65535)
			FAIL(-EINVAL, "leg %u remote: port 65535 without rtcp-mux leaves no RTCP "
			     "port (give the remote RTCP port (a=rtcp) or use rtcp-mux)", li);
		memcpy(&l->remote_ip, m->remote.addr, 4);
		l->remote_port = rte_cpu_to_be_16(m->remote.port);
		rr = m->remote_rtcp_port != 0 ? m->remote_rtcp_port :
		     (l->mux ? m->remote.port : (uint16_t)(m->remote.port + 1));
		l->remote_rtcp_port = rte_cpu_to_be_16(rr);
		c->cand_ip[0] = l->remote_ip;
		c->cand_port[0] = l->remote_port;
		l->n_cand = 1;
	}
	for (unsigned i = 0; i < m->n_candidates; i++) {
		const struct mg_msg_addr *a = &m->candidates[i];

		if (a->family != MG_FAMILY_IPV4)
			FAIL(-EINVAL, "leg %u candidate %u: need an IPv4 address (IPv6 media is "
			     "not supported)", li, i);
		memcpy(&c->cand_ip[l->n_cand], a->addr, 4);
		c->cand_port[l->n_cand] = rte_cpu_to_be_16(a->port);
		l->n_cand++;
	}
	if (l->policy == MG_SOURCE_STRICT && l->n_cand == 0)
		FAIL(-EINVAL, "leg %u: strict source policy needs a remote or candidates", li);
	rc = build_src(s, li, m, old, err);
	if (rc < 0)
		return rc;
	leg_crypto_set(cold, li, m, next_crypto);

	/* keep a direction's SRTP state when its keys did not change */
	snprintf(what, sizeof(what), "leg %u rx crypto", li);
	if (old != NULL && old->leg[li].rx_ctx != NULL && m->rx.suite != MG_SRTP_SUITE_NONE &&
	    crypto_same(&m->rx, leg_crypto(old->cold, li, 0)) && !(m->rx.flags & MG_CRYPTO_F_ROC_RESET)) {
		l->rx_ctx = old->leg[li].rx_ctx;
	} else {
		rc = crypto_ctx(&m->rx, MG_SRTP_DIR_INBOUND, what, &l->rx_ctx, err);
		if (rc < 0)
			return rc;
	}
	snprintf(what, sizeof(what), "leg %u tx crypto", li);
	if (old != NULL && old->leg[li].tx_ctx != NULL && m->tx.suite != MG_SRTP_SUITE_NONE &&
	    crypto_same(&m->tx, leg_crypto(old->cold, li, 1)) && !(m->tx.flags & MG_CRYPTO_F_ROC_RESET)) {
		l->tx_ctx = old->leg[li].tx_ctx;
	} else {
		rc = crypto_ctx(&m->tx, MG_SRTP_DIR_OUTBOUND, what, &l->tx_ctx, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static unsigned sess_keys(const struct dp_session_rt *s, struct dp_ep_key *k, uintptr_t *tag)
{
	unsigned n = 0;

	for (unsigned l = 0; l < 2; l++) {
		k[n] = (struct dp_ep_key){ s->leg[l].local_ip, s->leg[l].local_port, 0 };
		tag[n++] = l;
		if (!s->leg[l].mux) {
			k[n] = (struct dp_ep_key){ s->leg[l].local_ip, s->leg[l].local_rtcp_port, 0 };
			tag[n++] = l | DP_EP_RTCP;
		}
	}
	return n;
}

static bool key_in(const struct dp_ep_key *k, const struct dp_ep_key *set, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i].ip == k->ip && set[i].port == k->port)
			return true;
	return false;
}

/*
 * Point every key of @p s at it, remove keys of @p old that @p s no longer
 * has, swap the id entry. On failure, restore @p old's keys.
 */
static int sess_publish(struct dp_session_rt *s, struct dp_session_rt *old, const char **err)
{
	struct dp_ep_key k[4], ok[4];
	uintptr_t tag[4], otag[4];
	unsigned n = sess_keys(s, k, tag), on = old != NULL ? sess_keys(old, ok, otag) : 0;
	unsigned done;
	int rc;

	/* the hot flags of what the forks take raw (never written after this) */
	s->raw_fork[0] = s->raw_fork[1] = 0;
	for (unsigned f = 0; f < s->n_forks; f++) {
		const struct dp_fork *fk = &s->cold->forks[f];

		if (fk->raw)
			s->raw_fork[fk->leg & 1] |= (uint8_t)(DP_RAW_RTP | (fk->rtcp ? DP_RAW_RTCP : 0));
	}

	for (unsigned i = 0; i < n; i++) {
		void *d;

		for (unsigned j = 0; j < i; j++)
			if (k[j].ip == k[i].ip && k[j].port == k[i].port)
				FAIL(-EINVAL, "legs share local port %u (each leg, and RTP and "
				     "RTCP without mux, need their own)", rte_be_to_cpu_16(k[i].port));
		if (rte_hash_lookup_data(dp_ep_hash, &k[i], &d) >= 0) {
			const struct dp_session_rt *o =
				(const struct dp_session_rt *)((uintptr_t)d & DP_EP_PTR_MASK);

			if (old == NULL || o != old)
				FAIL(-EADDRINUSE, "local port %u is used by session %" PRIu64,
				     rte_be_to_cpu_16(k[i].port), o->id);
		}
	}
	for (done = 0; done < n; done++) {
		rc = rte_hash_add_key_data(dp_ep_hash, &k[done], (void *)((uintptr_t)s | tag[done]));
		if (rc < 0)
			break;
	}
	if (done < n) {
		for (unsigned i = 0; i < done; i++) {
			if (old != NULL && key_in(&k[i], ok, on)) {
				for (unsigned j = 0; j < on; j++)
					if (ok[j].ip == k[i].ip && ok[j].port == k[i].port)
						rte_hash_add_key_data(dp_ep_hash, &ok[j],
							(void *)((uintptr_t)old | otag[j]));
			} else {
				rte_hash_del_key(dp_ep_hash, &k[i]);
			}
		}
		FAIL(-ENOSPC, "endpoint table full (mediagate.dataplane.maxSessions=%u)",
		     max_sessions);
	}
	for (unsigned j = 0; j < on; j++)
		if (!key_in(&ok[j], k, n))
			rte_hash_del_key(dp_ep_hash, &ok[j]);
	rc = rte_hash_add_key_data(id_hash, &s->id, s);
	if (rc < 0) {
		/* cannot happen for MODIFY (key exists); ADD checked the count */
		for (unsigned i = 0; i < n; i++)
			rte_hash_del_key(dp_ep_hash, &k[i]);
		FAIL(-ENOSPC, "session table full");
	}
	return 0;
}

static void sess_unpublish(struct dp_session_rt *s)
{
	struct dp_ep_key k[4];
	uintptr_t tag[4];
	unsigned n = sess_keys(s, k, tag);

	for (unsigned i = 0; i < n; i++)
		rte_hash_del_key(dp_ep_hash, &k[i]);
	rte_hash_del_key(id_hash, &s->id);
}

static struct dp_session_rt *sess_lookup(uint64_t id)
{
	void *d;

	if (rte_hash_lookup_data(id_hash, &id, &d) < 0)
		return NULL;
	return d;
}

/*
 * A new version: hot part (DPDK memory, cache aligned) and a cold part with
 * room for @p n_forks forks and @p n_crypto crypto definitions. NULL when
 * out of memory.
 */
static struct dp_session_rt *sess_alloc(unsigned n_forks, unsigned n_crypto)
{
	struct dp_session_rt *s = mg_slab_get(&rt_pool);

	if (s == NULL)
		return NULL;
	s->cold = calloc(1, cold_size(n_forks, n_crypto));
	if (s->cold == NULL) {
		mg_slab_put(&rt_pool, s);
		return NULL;
	}
	s->cold->fork_room = (uint8_t)n_forks;
	s->cold->n_crypto = (uint8_t)n_crypto;
	return s;
}

int dp_session_add(const struct mg_msg_session *def, bool modify, const char **err)
{
	struct dp_session_rt *s, *old;
	unsigned n_crypto = 0, next_crypto = 0;
	int rc;

	/* the field rules (ids, ports, enums, key sizes): below, only what
	 * depends on this dataplane and its tables */
	if (mg_proto_check_session(def) < 0)
		FAIL(-EINVAL, "%s", mg_proto_last_error());
	old = sess_lookup(def->id);
	if (!modify && old != NULL)
		FAIL(-EEXIST, "session %" PRIu64 " exists (use SESSION_MODIFY)", def->id);
	if (modify && old == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, def->id);
	if (!modify && n_sessions >= max_sessions)
		FAIL(-ENOSPC, "%u sessions installed = mediagate.dataplane.maxSessions", n_sessions);
	for (unsigned l = 0; l < 2; l++)
		n_crypto += crypto_given(&def->legs[l].rx) + crypto_given(&def->legs[l].tx);
	s = sess_alloc(old != NULL ? old->n_forks : 0, n_crypto);
	if (s == NULL)
		FAIL(-ENOMEM, "out of memory for a session");
	s->id = def->id;
	s->owner = (uint16_t)(def->id % dp_n_workers);
	if (old != NULL) {
		/* forks survive a modify: share their contexts and the counters */
		s->n_forks = old->n_forks;
		memcpy(s->cold->forks, old->cold->forks, old->n_forks * sizeof(struct dp_fork));
		s->stats = old->stats;
		/* a bound TDM channel stays bound (TDM_UNBIND clears the mark) */
		for (unsigned l = 0; l < 2; l++)
			s->leg[l].tdm = old->leg[l].tdm;
	} else {
		s->stats = mg_slab_get(&stats_pool);
		if (s->stats == NULL) {
			rc = -ENOMEM;
			snprintf(errbuf, sizeof(errbuf), "out of memory for counters");
			*err = errbuf;
			goto fail;
		}
	}
	for (unsigned l = 0; l < 2; l++) {
		rc = build_leg(s, s->cold, l, &def->legs[l], old, &next_crypto, err);
		if (rc < 0)
			goto fail;
	}
	rc = sess_publish(s, old, err);
	if (rc < 0)
		goto fail;
	if (old != NULL)
		sess_retire(old, s);
	else
		n_sessions++;
	return 0;
fail:
	/* never published: free at once what it does not share with old */
	sess_free_version(s, sess_exclusive(s, old));
	return rc;
}

int dp_session_del(uint64_t id, struct mg_msg_session_stats *final, const char **err)
{
	struct dp_session_rt *s = sess_lookup(id);

	if (s == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, id);
	sess_unpublish(s);
	if (final != NULL)
		dp_session_fill_stats(s, final);
	n_sessions--;
	sess_retire(s, NULL);
	return 0;
}

int dp_session_get(uint64_t id, struct mg_msg_session *out, const char **err)
{
	const struct dp_session_rt *s = sess_lookup(id);

	if (s == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, id);
	sess_def_get(s, out);
	for (unsigned l = 0; l < 2; l++) {
		/* what the dataplane learned: the current remote (a racy read
		 * of the owner's state, consistent enough for a report) */
		const struct dp_src_rt *r = s->leg[l].src;

		if (r->ip != 0) {
			out->legs[l].remote.family = MG_FAMILY_IPV4;
			memset(out->legs[l].remote.addr, 0, 16);
			memcpy(out->legs[l].remote.addr, &r->ip, 4);
			out->legs[l].remote.port = rte_be_to_cpu_16(r->rtp_port);
		}
	}
	return 0;
}

/* One direction on the wire: @p drops has a slot per reason of @p reason. */
static void fill_dir(struct mg_msg_dir_stats *o, uint64_t packets, uint64_t bytes,
		     uint64_t rtcp_packets, const uint64_t *drops, const uint8_t *reason,
		     unsigned n_drops, const struct dp_rr *rr, const struct mg_srtp_ctx *ctx,
		     uint32_t ssrc)
{
	memset(o, 0, sizeof(*o));
	o->packets = packets;
	o->bytes = bytes;
	o->rtcp_packets = rtcp_packets;
	for (unsigned i = 0; i < n_drops; i++)
		o->drops[reason[i]] = drops[i];
	if (rr != NULL) {
		o->rr_ssrc = rr->ssrc;
		o->rr_lost = rr->lost;
		o->rr_jitter = rr->jitter;
	}
	if (ctx != NULL && ssrc != 0) {
		uint32_t roc;
		uint16_t seq;

		/* racy read of the owner's state: fine for a counter (and for the
		 * highest index the control plane keeps for a re-install: it is
		 * read again every few seconds); the worker keeps the SSRC as on
		 * the wire, the engine in host order */
		if (mg_srtp_get_roc(ctx, rte_be_to_cpu_32(ssrc), &roc, &seq) == 0) {
			o->roc = roc;
			o->seq = seq;
			o->seq_valid = 1;
		}
	}
}

void dp_session_fill_stats(const struct dp_session_rt *s, struct mg_msg_session_stats *out)
{
	static const struct dp_sess_drops none;
	const struct dp_sess_stats *st = s->stats;
	/* (set by the owner worker at the session's first drop) */
	const struct dp_sess_drops *dr = __atomic_load_n(&st->drops, __ATOMIC_ACQUIRE);

	if (dr == NULL)
		dr = &none;
	memset(out, 0, sizeof(*out));
	out->id = s->id;
	for (unsigned l = 0; l < 2; l++) {
		const struct dp_rx_ctr *rx = &st->rx[l];
		const struct dp_tx_ctr *tx = &st->tx[l];

		fill_dir(&out->legs[l][0], rx->packets, rx->bytes, rx->rtcp_packets, dr->rx[l],
			 dp_rx_drop_reason, DP_RX_DROPS, &st->rr[l], s->leg[l].rx_ctx,
			 st->last_ssrc[l][0]);
		fill_dir(&out->legs[l][1], tx->packets, tx->bytes, tx->rtcp_packets, dr->tx[l],
			 dp_tx_drop_reason, DP_TX_DROPS, NULL, s->leg[l].tx_ctx, st->last_ssrc[l][1]);
	}
	for (unsigned f = 0; f < s->n_forks; f++) {
		const struct dp_fork_ctr *c = &st->forks->fork[s->cold->forks[f].slot];

		out->forks[f].fork_id = s->cold->forks[f].id;
		out->forks[f].packets = c->packets;
		out->forks[f].bytes = c->bytes;
		out->forks[f].drops = c->drops;
	}
}

int dp_session_stats(uint64_t id, struct mg_msg_session_stats *out, const char **err)
{
	const struct dp_session_rt *s = sess_lookup(id);

	if (s == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, id);
	dp_session_fill_stats(s, out);
	return 0;
}

int dp_session_iterate(uint32_t *next, uint64_t *id)
{
	const void *k;
	void *d;
	int32_t rc = rte_hash_iterate(id_hash, &k, &d, next);

	if (rc < 0)
		return rc;
	*id = *(const uint64_t *)k;
	return 0;
}

int dp_session_list(const struct mg_msg_session_list_req *req, struct mg_msg_session_list *out,
		    const char **err)
{
	uint32_t next;

	if (req->max == 0 || req->max > MG_PROTO_LIST_PAGE)
		FAIL(-EINVAL, "SESSION_LIST: max %u (allowed: 1-%u)", req->max, MG_PROTO_LIST_PAGE);
	if (req->cursor > UINT32_MAX)
		FAIL(-EINVAL, "SESSION_LIST: cursor %" PRIu64 " is not one this dataplane gave",
		     req->cursor);
	memset(out, 0, sizeof(*out));
	out->total = n_sessions;
	next = (uint32_t)req->cursor;
	while (out->count < req->max) {
		const void *k;
		void *d;
		const struct dp_session_rt *s;
		struct mg_msg_session_list_entry *e;

		if (rte_hash_iterate(id_hash, &k, &d, &next) < 0) {
			next = 0;
			break;
		}
		s = d;
		e = &out->entries[out->count++];
		e->id = s->id;
		for (unsigned l = 0; l < 2; l++) {
			e->local_port[l] = rte_be_to_cpu_16(s->leg[l].local_port);
			e->suite[l][0] = leg_crypto(s->cold, l, 0)->suite;
			e->suite[l][1] = leg_crypto(s->cold, l, 1)->suite;
		}
	}
	out->next_cursor = next;
	return 0;
}

/* ----------------------------------------------------------------- forks */

/* A copy of @p old to change before publication, with room for @p extra
 * more forks; shares everything old refers to. */
static struct dp_session_rt *sess_clone(const struct dp_session_rt *old, unsigned extra)
{
	struct dp_session_rt *s = sess_alloc(old->n_forks + extra, old->cold->n_crypto);
	struct dp_session_cold *cold;

	if (s == NULL)
		return NULL;
	cold = s->cold;
	memcpy(s, old, sizeof(*s));
	memcpy(cold->leg, old->cold->leg, sizeof(cold->leg));
	memcpy(cold->forks, old->cold->forks, old->n_forks * sizeof(struct dp_fork));
	memcpy(cold_crypto(cold), cold_crypto(old->cold), cold->n_crypto * sizeof(struct dp_crypto_def));
	s->cold = cold;
	return s;
}

int dp_fork_add(const struct mg_msg_fork *f, const char **err)
{
	struct dp_session_rt *old = sess_lookup(f->session_id), *s;
	struct dp_fork *fk;
	uint32_t lip;
	int pidx, rc;
	unsigned slot;

	if (mg_proto_check_fork(f) < 0)
		FAIL(-EINVAL, "%s", mg_proto_last_error());
	if (old == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, f->session_id);
	for (unsigned i = 0; i < old->n_forks; i++)
		if (old->cold->forks[i].id == f->fork_id)
			FAIL(-EEXIST, "fork %u exists in session %" PRIu64, f->fork_id, f->session_id);
	if (old->n_forks >= DP_SESS_MAX_FORKS)
		FAIL(-ENOSPC, "session %" PRIu64 " has %u forks (the most)", f->session_id,
		     DP_SESS_MAX_FORKS);
	if (f->remote.family != MG_FAMILY_IPV4)
		FAIL(-EINVAL, "fork remote: need an IPv4 address (IPv6 media is not supported)");
	if ((f->flags & MG_FORK_F_RTCP) && (f->remote.port == 65535 || f->local.port == 65535))
		FAIL(-EINVAL, "fork with RTCP: port 65535 leaves no RTCP port (port + 1)");
	rc = local_addr_check(&f->local, "fork local", &lip, &pidx, err);
	if (rc < 0)
		return rc;
	if (old->stats->forks == NULL) {
		/* the workers look at it only through a version with forks,
		 * published below (the hash's release store orders it) */
		old->stats->forks = rte_zmalloc("dp_fork_stats", sizeof(struct dp_fork_stats), 0);
		if (old->stats->forks == NULL)
			FAIL(-ENOMEM, "out of memory for fork counters");
	}
	for (slot = 0; slot < DP_SESS_MAX_FORKS; slot++)
		if (old->stats->forks->ids[slot] == 0)
			break;
	if (slot == DP_SESS_MAX_FORKS)
		FAIL(-ENOSPC, "no fork counter slot free");
	s = sess_clone(old, 1);
	if (s == NULL)
		FAIL(-ENOMEM, "out of memory");
	fk = &s->cold->forks[s->n_forks];
	memset(fk, 0, sizeof(*fk));
	fk->id = f->fork_id;
	fk->leg = f->leg;
	fk->raw = (f->flags & MG_FORK_F_RAW) != 0;
	fk->rtcp = (f->flags & MG_FORK_F_RTCP) != 0;
	fk->port_idx = (uint16_t)pidx;
	fk->slot = (uint16_t)slot;
	fk->local_ip = lip;
	fk->local_port = rte_cpu_to_be_16(f->local.port);
	memcpy(&fk->remote_ip, f->remote.addr, 4);
	fk->remote_port = rte_cpu_to_be_16(f->remote.port);
	rc = crypto_ctx(&f->crypto, MG_SRTP_DIR_OUTBOUND, "fork crypto", &fk->ctx, err);
	if (rc < 0) {
		sess_free_version(s, sess_exclusive(s, old));
		return rc;
	}
	s->n_forks++;
	memset(&old->stats->forks->fork[slot], 0, sizeof(old->stats->forks->fork[slot]));
	old->stats->forks->ids[slot] = f->fork_id;
	rc = sess_publish(s, old, err);
	if (rc < 0) {
		old->stats->forks->ids[slot] = 0;
		sess_free_version(s, sess_exclusive(s, old));
		return rc;
	}
	sess_retire(old, s);
	return 0;
}

int dp_fork_del(const struct mg_msg_fork_id *f, const char **err)
{
	struct dp_session_rt *old = sess_lookup(f->session_id), *s;
	unsigned i;
	int rc;

	if (old == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, f->session_id);
	for (i = 0; i < old->n_forks; i++)
		if (old->cold->forks[i].id == f->fork_id)
			break;
	if (i == old->n_forks)
		FAIL(-ENOENT, "no fork %u in session %" PRIu64, f->fork_id, f->session_id);
	s = sess_clone(old, 0);
	if (s == NULL)
		FAIL(-ENOMEM, "out of memory");
	memmove(&s->cold->forks[i], &s->cold->forks[i + 1],
		(s->n_forks - i - 1) * sizeof(s->cold->forks[0]));
	s->n_forks--;
	rc = sess_publish(s, old, err);
	if (rc < 0) {
		sess_free_version(s, sess_exclusive(s, old));
		return rc;
	}
	old->stats->forks->ids[old->cold->forks[i].slot] = 0;
	sess_retire(old, s); /* frees the deleted fork's context: only old has it */
	return 0;
}

int dp_session_set_tdm_leg(uint64_t id, int leg, const char **err)
{
	struct dp_session_rt *old = sess_lookup(id), *s;
	int rc;

	if (leg < -1 || leg > 1)
		FAIL(-EINVAL, "TDM leg %d (allowed: 0, 1, or -1 for none)", leg);
	if (old == NULL)
		FAIL(-ENOENT, "no session %" PRIu64, id);
	if (old->leg[0].tdm == (leg == 0) && old->leg[1].tdm == (leg == 1))
		return 0;
	s = sess_clone(old, 0);
	if (s == NULL)
		FAIL(-ENOMEM, "out of memory");
	s->leg[0].tdm = leg == 0;
	s->leg[1].tdm = leg == 1;
	rc = sess_publish(s, old, err);
	if (rc < 0) {
		sess_free_version(s, sess_exclusive(s, old));
		return rc;
	}
	sess_retire(old, s);
	return 0;
}

/* ------------------------------------------------------ foreign readers */

static pthread_mutex_t reader_lock = PTHREAD_MUTEX_INITIALIZER;

void dp_session_reader_begin(void)
{
	/* telemetry may run one thread per client: one QSBR slot, so serialize */
	pthread_mutex_lock(&reader_lock);
	rte_rcu_qsbr_thread_online(dp_qsbr, dp_n_workers);
}

void dp_session_reader_end(void)
{
	rte_rcu_qsbr_thread_offline(dp_qsbr, dp_n_workers);
	pthread_mutex_unlock(&reader_lock);
}

const struct dp_session_rt *dp_session_find(uint64_t id)
{
	return sess_lookup(id);
}
