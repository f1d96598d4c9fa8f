/* SPDX-License-Identifier: BSD-3-Clause */
#include "media.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "load.h"
#include "media_dp.h"
#include "media_timeout.h"
#include "mg_log.h"
#include "mg_proto_crypto.h"
#include "sdp_crypto.h"
#include "sdp_rw.h"

#define MEDIA_HASH_BUCKETS 8192u /* power of two */
#define MEDIA_SDP_MAX 16384

enum media_op_kind { OP_OFFER, OP_ANSWER, OP_DELETE, OP_QUERY, OP_RECORD_START, OP_RECORD_STOP, OP_BLOCK, OP_UNBLOCK };

/* One queued operation of a session. */
struct media_op {
	enum media_op_kind kind;
	char from_tag[MEDIA_TAG_MAX];
	char to_tag[MEDIA_TAG_MAX];
	char *sdp;
	size_t sdp_len;
	struct media_opts o;
	media_done_f cb;
	void *arg;
	struct media_op *next;
	/* while it runs */
	struct media_result *res;
	struct sdprw_sdp *parsed;
	int xs;      /* the offering side (offer) / offerer's side (answer) */
	int py;      /* answer: the answering party's index on the other side */
	int err_rc;  /* first dataplane error of this step */
	int stage;   /* ST_*: where it stands between dataplane replies */
	char *out_sdp; /* res->sdp, ours to free */
	struct mg_msg_addr dest; /* OP_RECORD_START */
};

static struct {
	unsigned max_sessions;
	bool promoted;      /* media_promote() ran: a standby record installed now forwards */
	enum mg_srtp_suite suites[MG_CFG_MAX_SUITES];
	unsigned n_suites;
	struct media_session *hash[MEDIA_HASH_BUCKETS];
	struct media_session *head, *tail;
	unsigned count;
	uint64_t next_dp_id;
	struct media_counters ctr;
	bool handover; /* mediagate.media.handover: every leg gets MG_LEG_F_HANDOVER */
	bool stopping;
	bool draining;  /* mgctl drain: offers for new sessions refused */
	uint64_t lost_ms; /* the dataplane connection was lost then (0: up) */
	media_change_f changed; /* published state (docs/ha-state.md) */
	char shared_ip[64];     /* a port's sharedAddress: new sessions take it (docs/standby.md) */
} md;

static uint64_t mono_ms(void);
static uint64_t (*clock_fn)(void) = mono_ms; /* media_set_clock(): outlives media_start() */

static void op_run(struct media_session *m);
static void op_finish(struct media_session *m, struct media_op *op);

/* ---------------------------------------------------------------- helpers */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t media_now_ms(void)
{
	return clock_fn();
}

void media_set_clock(uint64_t (*now_ms)(void))
{
	clock_fn = now_ms != NULL ? now_ms : mono_ms;
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void why_set(struct media_result *r, enum media_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void why_set(struct media_result *r, enum media_err e, const char *fmt, ...)
{
	va_list ap;

	r->err = e;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void warn_add(struct media_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_add(struct media_result *r, const char *fmt, ...)
{
	size_t n = strlen(r->warning);
	va_list ap;

	if (n > 0 && n + 2 < sizeof(r->warning)) {
		memcpy(r->warning + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->warning + n, sizeof(r->warning) - n, fmt, ap);
	va_end(ap);
}

const char *media_err_name(enum media_err e)
{
	static const char *const names[] = {
		[MEDIA_OK] = "ok",
		[MEDIA_E_SDP] = "bad SDP",
		[MEDIA_E_POLICY] = "media policy",
		[MEDIA_E_NOTFOUND] = "not found",
		[MEDIA_E_LIMIT] = "session limit",
		[MEDIA_E_PORTS] = "out of ports",
		[MEDIA_E_DATAPLANE] = "dataplane",
		[MEDIA_E_NOMEM] = "out of memory",
		[MEDIA_E_SHUTDOWN] = "shutting down",
	};

	return (unsigned)e < sizeof(names) / sizeof(names[0]) && names[e] ? names[e] : "?";
}

/* RTP profiles we relay: RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF and the
 * DTLS spellings UDP/TLS/RTP/SAVP(F) (answered with SDES, see below). */
static bool profile_is_rtp(const char *p)
{
	return strncmp(p, "RTP/", 4) == 0 || strncmp(p, "UDP/TLS/RTP/", 12) == 0;
}

static bool profile_is_srtp(const char *p)
{
	return strstr(p, "SAVP") != NULL;
}

static bool profile_is_feedback(const char *p)
{
	size_t n = strlen(p);

	return n > 0 && p[n - 1] == 'F';
}

/* The plain or SDES profile of the same family: DTLS spellings become
 * RTP/SAVP(F), the only SRTP we can key. */
static const char *profile_norm(const char *p, bool srtp)
{
	bool f = profile_is_feedback(p);

	if (srtp)
		return f ? "RTP/SAVPF" : "RTP/SAVP";
	return f ? "RTP/AVPF" : "RTP/AVP";
}

static bool suite_allowed(const struct media_opts *o, enum mg_srtp_suite s)
{
	bool configured = false;

	for (unsigned i = 0; i < md.n_suites; i++)
		configured |= md.suites[i] == s;
	if (!configured)
		return false;
	if (o->suites_only != 0 && !(o->suites_only & (1u << s)))
		return false;
	return !(o->suites_no & (1u << s));
}

/* One direction on the wire: the shared policy <-> wire conversion
 * (mg_proto_crypto.h), from the SDES key through an engine policy. */
static int crypto_to_wire(const struct media_crypto *c, struct mg_msg_crypto *w)
{
	struct mg_srtp_policy p;
	int rc;

	if (c->suite == NULL)
		return mg_crypto_from_policy(NULL, 0, w);
	sdp_crypto_to_policy(c->suite, &c->key, 1, c->key.mki_len, MG_SRTP_DIR_INBOUND, &p);
	rc = mg_crypto_from_policy(&p, 0, w);
	explicit_bzero(&p, sizeof(p));
	return rc;
}

static int new_key(const struct mg_srtp_suite_info *si, unsigned long tag, uint64_t lifetime,
		   struct media_crypto *out)
{
	memset(out, 0, sizeof(*out));
	out->suite = si;
	out->tag = tag;
	out->key.lifetime = lifetime;
	return sdp_crypto_random_key(si, &out->key);
}

static void crypto_wipe(struct media_crypto *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* ------------------------------------------------------- session table */

static struct media_session *find(const char *key)
{
	for (struct media_session *m = md.hash[hash_str(key) & (MEDIA_HASH_BUCKETS - 1)]; m; m = m->hnext)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

const struct media_session *media_find(const char *key)
{
	return find(key);
}

const struct media_session *media_first(void)
{
	return md.head;
}

const struct media_session *media_next(const struct media_session *m)
{
	return m->next;
}

unsigned media_count(void)
{
	return md.count;
}

void media_get_counters(struct media_counters *out)
{
	*out = md.ctr;
}

static struct media_session *session_new(const char *key)
{
	struct media_session *m = calloc(1, sizeof(*m));
	uint32_t b;

	if (m == NULL)
		return NULL;
	m->key = strdup(key);
	if (m->key == NULL) {
		free(m);
		return NULL;
	}
	m->created_ms = m->last_signal_ms = wall_ms();
	m->side[0].active = m->side[1].active = -1;
	m->side[0].rtcp_attr = m->side[1].rtcp_attr = true;
	b = hash_str(key) & (MEDIA_HASH_BUCKETS - 1);
	m->hnext = md.hash[b];
	md.hash[b] = m;
	m->prev = md.tail;
	if (md.tail)
		md.tail->next = m;
	else
		md.head = m;
	md.tail = m;
	md.count++;
	md.ctr.created++;
	return m;
}

static void party_free(struct media_party *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->n_legs; i++) {
		crypto_wipe(&p->legs[i].rx);
		crypto_wipe(&p->legs[i].tx);
	}
	free(p->legs);
	free(p);
}

static void offered_drop(struct media_side *sd)
{
	if (sd->offered != NULL) {
		explicit_bzero(sd->offered, sizeof(*sd->offered) * sd->n_offered_streams);
		free(sd->offered);
		sd->offered = NULL;
	}
	sd->n_offered_streams = 0;
	memset(sd->n_offered, 0, sizeof(sd->n_offered));
}

/* The connection is down: what the dataplane may hold of @p m is removed
 * when it is back (media_dp_orphan()). */
static void leave_leftovers(const struct media_session *m)
{
	struct media_dp_leftover o;

	memset(&o, 0, sizeof(o));
	for (unsigned i = 0; i < m->n_streams && i < MEDIA_DP_LEFT_SESS; i++)
		if (m->dp[i].on)
			o.sess[i] = m->dp[i].id;
	for (int s = 0; s < 2; s++)
		for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++) {
			o.port[s * MEDIA_MAX_STREAMS + i] = m->side[s].ports[i];
			o.port_ok[s * MEDIA_MAX_STREAMS + i] = m->side[s].port_ok[i];
		}
	media_dp_orphan(&o);
}

/* Unlink and free; the dataplane sessions are gone already, the ports are
 * given back here (answers ignored: nothing waits for them). What the
 * dataplane may hold while the connection is down is removed when it is
 * back, as for the calls (media_dp_orphan()). */
static void standby_install(struct media_session *m);

static void session_free(struct media_session *m)
{
	struct media_session **pp = &md.hash[hash_str(m->key) & (MEDIA_HASH_BUCKETS - 1)];
	struct media_session *next;

	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	if (m->prev)
		m->prev->next = m->next;
	else
		md.head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		md.tail = m->prev;
	md.count--;
	md.ctr.deleted++;
	if (md.changed != NULL)
		md.changed(m, true);
	next = m->next_rec;
	m->next_rec = NULL;
	media_timeout_freed(&m->watch);
	if (!media_dp_up())
		leave_leftovers(m);
	for (int s = 0; s < 2; s++) {
		struct media_side *sd = &m->side[s];

		for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
			if (sd->port_ok[i] && media_dp_up())
				media_dp_port_free(&sd->ports[i], NULL, NULL);
		for (unsigned p = 0; p < sd->n_parties; p++)
			party_free(sd->parties[p]);
		offered_drop(sd);
	}
	free(m->key);
	free(m);
	/* a standby's newer record of the same key waited for this one */
	if (next != NULL)
		standby_install(next);
}

static int party_find(const struct media_side *sd, const char *tag)
{
	if (tag == NULL || tag[0] == '\0')
		return -1;
	for (unsigned p = 0; p < sd->n_parties; p++)
		if (strcmp(sd->parties[p]->tag, tag) == 0)
			return (int)p;
	return -1;
}

static int party_add(struct media_side *sd, const char *tag)
{
	struct media_party *p;

	if (sd->n_parties >= MEDIA_MAX_PARTIES)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	snprintf(p->tag, sizeof(p->tag), "%s", tag ? tag : "");
	sd->parties[sd->n_parties] = p;
	return (int)sd->n_parties++;
}

static int party_legs(struct media_party *p, unsigned n)
{
	struct media_leg *l;

	if (n <= p->n_legs)
		return 0;
	l = realloc(p->legs, n * sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	memset(l + p->n_legs, 0, (n - p->n_legs) * sizeof(*l));
	p->legs = l;
	p->n_legs = n;
	return 0;
}

/* ------------------------------------------------------------ dataplane */

static int fill_wire_leg(const struct media_session *m, int s, unsigned i, const struct media_opts *o,
			 struct mg_msg_leg *w)
{
	const struct media_side *sd = &m->side[s];
	const struct media_leg *l = &sd->parties[sd->active]->legs[i];

	memset(w, 0, sizeof(*w));
	w->local = sd->ports[i].local;
	w->remote = l->remote;
	w->remote_rtcp_port = l->remote_rtcp_port;
	if (l->rtcp_mux)
		w->flags |= MG_LEG_F_RTCP_MUX;
	w->source_policy = m->strict || (o != NULL && o->strict_source) ? MG_SOURCE_STRICT : MG_SOURCE_LATCH;
	if (sd->parties[sd->active]->blocked || m->standby)
		w->flags |= MG_LEG_F_BLOCK;
	/* SPEC 12: a learned source moves only with media-handover (and then
	 * only as the dataplane allows: authenticated, or after silence) */
	if (m->handover || md.handover)
		w->flags |= MG_LEG_F_HANDOVER;
	if (crypto_to_wire(&l->rx, &w->rx) < 0 || crypto_to_wire(&l->tx, &w->tx) < 0)
		return -EINVAL;
	return 0;
}

static void on_dp_step(void *arg, int result, const void *body)
{
	struct media_session *m = arg;
	struct media_op *op = m->ops;

	(void)body;
	m->pending--;
	if (result < 0 && op != NULL && op->err_rc == 0)
		op->err_rc = result;
	if (m->pending == 0 && op != NULL)
		op_run(m);
}

/* ---------------------------------------------------------------- ports */

static void on_port(void *arg, int result, const void *body)
{
	struct media_session *m = arg;
	struct media_op *op = m->ops;

	m->pending--;
	if (result == 0 && body != NULL) {
		const struct mg_msg_port *p = body;

		/* the first slot waiting: every port of a session comes from
		 * the same address family, so any waiting slot may take it */
		for (int s = 0; s < 2; s++)
			for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++) {
				struct media_side *sd = &m->side[s];

				if (sd->port_wait[i]) {
					sd->port_wait[i] = false;
					sd->ports[i] = *p;
					sd->port_ok[i] = true;
					goto placed;
				}
			}
		/* nobody waits for it (cannot happen: one request per slot) */
		media_dp_port_free(p, NULL, NULL);
	placed:;
	} else if (op != NULL && op->err_rc == 0) {
		op->err_rc = result < 0 ? result : -EIO;
	}
	if (result < 0) {
		/* give the slot back so a later offer asks again */
		for (int s = 0; s < 2; s++)
			for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
				if (m->side[s].port_wait[i]) {
					m->side[s].port_wait[i] = false;
					goto cleared;
				}
	cleared:;
	}
	if (m->pending == 0 && op != NULL)
		op_run(m);
}

/* PORT_ALLOC for every relayed stream of side @p s lacking one. Returns
 * how many requests went out, or -errno. */
static int ports_request(struct media_session *m, int s, const bool relayed[MEDIA_MAX_STREAMS], unsigned n)
{
	struct media_side *sd = &m->side[s];
	int sent = 0;

	for (unsigned i = 0; i < n; i++) {
		int64_t id;

		if (!relayed[i] || sd->port_ok[i] || sd->port_wait[i])
			continue;
		id = media_dp_port_alloc(md.shared_ip[0] ? md.shared_ip : NULL, on_port, m);
		if (id < 0)
			return (int)id;
		sd->port_wait[i] = true; /* on_port() fills it (any free slot: ports are alike) */
		m->pending++;
		sent++;
	}
	return sent;
}

/* ---------------------------------------------------------------- offer */

/* c=IN IP4 0.0.0.0 (RFC 2543 hold): nowhere to send; the dataplane learns
 * the party's endpoint from its packets (latching) if it sends any. */
static void hold_unknown(struct mg_msg_addr *a)
{
	static const uint8_t zero[16];

	if (memcmp(a->addr, zero, sizeof(zero)) == 0)
		a->family = MG_FAMILY_NONE;
}

/* Read the offering party's streams from its SDP into @p p. */
static int offer_read_party(struct media_op *op, struct media_party *p, struct media_result *r)
{
	const struct sdprw_sdp *sdp = op->parsed;

	if (party_legs(p, sdp->n_media) < 0) {
		why_set(r, MEDIA_E_NOMEM, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < sdp->n_media; i++) {
		const struct sdprw_media *sm = &sdp->m[i];
		struct media_leg *l = &p->legs[i];
		const char *addr = op->o.source_address ? op->o.source_address : sm->addr;
		struct media_crypto old_rx = l->rx, old_tx = l->tx;
		bool srtp;

		snprintf(l->media_type, sizeof(l->media_type), "%s", sm->type);
		snprintf(l->profile, sizeof(l->profile), "%s", sm->proto);
		l->relayed = sm->port != 0 && profile_is_rtp(sm->proto) && i < MEDIA_MAX_STREAMS;
		memset(&l->rx, 0, sizeof(l->rx));
		memset(&l->tx, 0, sizeof(l->tx));
		if (!l->relayed)
			continue;
		memset(&l->remote, 0, sizeof(l->remote));
		if (mg_proto_addr_parse(addr, &l->remote) < 0) {
			why_set(r, MEDIA_E_SDP, "m= line %u: connection address '%s' is not an IP address", i + 1,
				addr);
			return -1;
		}
		if (l->remote.family != MG_FAMILY_IPV4) {
			why_set(r, MEDIA_E_SDP, "m= line %u: IPv6 media (%s): the dataplane relays IPv4 only", i + 1,
				addr);
			return -1;
		}
		l->remote.port = sm->port;
		hold_unknown(&l->remote);
		l->silent = l->remote.family == MG_FAMILY_NONE || strcmp(sm->dir, "recvonly") == 0 ||
			    strcmp(sm->dir, "inactive") == 0;
		l->rtcp_mux = sm->rtcp_mux; /* what it offers; the answer decides */
		l->remote_rtcp_port = sm->rtcp_port ? sm->rtcp_port : (uint16_t)(sm->port + 1);
		if (sm->dtls && op->o.dtls_refuse) {
			why_set(r, MEDIA_E_POLICY,
				"m= line %u offers DTLS-SRTP and DTLS=off asks to refuse it: not answered", i + 1);
			return -1;
		}
		srtp = profile_is_srtp(sm->proto) || (sm->n_crypto > 0 && !op->o.sdes_off);
		if (srtp && sm->dtls && sm->n_crypto == 0 && sm->n_crypto_bad == 0) {
			why_set(r, MEDIA_E_POLICY,
				"m= line %u offers DTLS-SRTP only (%s, a=fingerprint, no a=crypto): mediagate keys "
				"SRTP with SDES only",
				i + 1, sm->proto);
			return -1;
		}
		if (!srtp)
			continue;
		/* the first a=crypto line we can do is the one we answer */
		for (unsigned k = 0; k < sm->n_crypto; k++) {
			const struct sdp_crypto *c = &sm->crypto[k];

			if (c->suite == NULL || !suite_allowed(&op->o, c->suite->id) || c->nkeys != 1)
				continue;
			l->rx.suite = c->suite;
			l->rx.tag = c->tag;
			l->rx.key = c->keys[0];
			break;
		}
		if (l->rx.suite == NULL) {
			if (!profile_is_srtp(sm->proto))
				continue; /* Microsoft dialect: crypto optional on RTP/AVP */
			why_set(r, MEDIA_E_POLICY,
				"m= line %u (%s): no usable a=crypto line (%u given, %u malformed; allowed suites "
				"and one key per line)",
				i + 1, sm->proto, sm->n_crypto, sm->n_crypto_bad);
			return -1;
		}
		/* our key towards it: kept across re-offers while its own key
		 * and suite stay (no needless re-key), else new */
		if (old_tx.suite == l->rx.suite && old_rx.suite == l->rx.suite &&
		    sdp_crypto_key_equal(l->rx.suite, &old_rx.key, &l->rx.key)) {
			l->tx = old_tx;
			l->tx.tag = l->rx.tag;
		} else if (new_key(l->rx.suite, l->rx.tag, op->o.lifetime, &l->tx) < 0) {
			why_set(r, MEDIA_E_NOMEM, "no random bytes for a key");
			return -1;
		}
		crypto_wipe(&old_rx);
		crypto_wipe(&old_tx);
	}
	return 0;
}

/* Our keys and rtcp-mux offer towards side @p ys for each stream. */
static int offer_prepare_other(struct media_session *m, struct media_op *op, const struct media_party *xp,
			       int ys, struct media_result *r)
{
	struct media_side *yd = &m->side[ys];

	offered_drop(yd);
	/* kept after the answer: a fork answering later picks from them */
	yd->offered = calloc(m->n_streams ? m->n_streams : 1, sizeof(*yd->offered));
	if (yd->offered == NULL) {
		why_set(r, MEDIA_E_NOMEM, "out of memory");
		return -1;
	}
	yd->n_offered_streams = (uint8_t)m->n_streams;
	yd->rtcp_attr = !op->o.no_rtcp_attr;
	for (unsigned i = 0; i < xp->n_legs && i < m->n_streams; i++) {
		const struct media_leg *xl = &xp->legs[i];
		const char *out = op->o.profile ? op->o.profile : xl->profile;
		unsigned n = 0;

		yd->mux_offered[i] = (xl->rtcp_mux && !(op->o.rtcp_mux & MEDIA_MUX_DEMUX)) ||
				     (op->o.rtcp_mux & (MEDIA_MUX_OFFER | MEDIA_MUX_REQUIRE));
		if (!xl->relayed || op->o.sdes_off || !profile_is_srtp(out))
			continue;
		for (unsigned s = 0; s < md.n_suites; s++) {
			const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(md.suites[s]);

			if (si == NULL || !suite_allowed(&op->o, si->id))
				continue;
			if (new_key(si, n + 1, op->o.lifetime, &yd->offered[i][n]) < 0) {
				why_set(r, MEDIA_E_NOMEM, "no random bytes for a key");
				return -1;
			}
			n++;
		}
		if (n == 0) {
			why_set(r, MEDIA_E_POLICY, "m= line %u: %s asked but every SRTP suite is excluded", i + 1, out);
			return -1;
		}
		yd->n_offered[i] = (uint8_t)n;
	}
	return 0;
}

static int addr_text(const struct media_session *m, int s, const struct media_opts *o, char *buf, size_t len,
		     int *family)
{
	const struct media_side *sd = &m->side[s];

	*family = AF_INET;
	if (o->media_address != NULL) {
		snprintf(buf, len, "%s", o->media_address);
		if (strchr(buf, ':') != NULL)
			*family = AF_INET6;
		return 0;
	}
	for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
		if (sd->port_ok[i]) {
			struct mg_msg_addr a = sd->ports[i].local;

			a.port = 0;
			if (inet_ntop(a.family == MG_FAMILY_IPV6 ? AF_INET6 : AF_INET, a.addr, buf, (socklen_t)len) ==
			    NULL)
				return -EINVAL;
			*family = a.family == MG_FAMILY_IPV6 ? AF_INET6 : AF_INET;
			return 0;
		}
	snprintf(buf, len, "0.0.0.0"); /* nothing relayed: every port is 0 */
	return 0;
}

/* What every SDP we write towards side @p s starts from: our address for
 * it and the options of the request. -1 (reason set) if none. */
static int sdp_out_init(const struct media_session *m, int s, const struct media_op *op, struct sdprw_out *w,
			char *addr, size_t addrlen)
{
	memset(w, 0, sizeof(*w));
	if (addr_text(m, s, &op->o, addr, addrlen, &w->family) < 0) {
		why_set(op->res, MEDIA_E_DATAPLANE, "bad local address from the dataplane");
		return -1;
	}
	w->addr = addr;
	w->replace_origin = op->o.replace_origin;
	w->strip_ice = !op->o.keep_ice;
	w->n_media = op->parsed->n_media;
	return 0;
}

/* Write the party's SDP rewritten per @p w into the result (@p what:
 * "offer" or "answer", for the error); @p w is wiped (our keys). */
static void sdp_out_emit(struct media_op *op, struct sdprw_out *w, const char *what)
{
	struct media_result *r = op->res;
	char *out = malloc(MEDIA_SDP_MAX);
	int n;

	if (out == NULL) {
		explicit_bzero(w, sizeof(*w));
		why_set(r, MEDIA_E_NOMEM, "out of memory");
		return;
	}
	n = sdprw_write(op->sdp, op->sdp_len, w, out, MEDIA_SDP_MAX);
	explicit_bzero(w, sizeof(*w));
	if (n < 0) {
		free(out);
		why_set(r, MEDIA_E_SDP, "cannot write the %s: %s", what, strerror(-n));
		return;
	}
	op->out_sdp = out;
	r->sdp = out;
	r->sdp_len = (size_t)n;
}

/* Both sides have their ports: write the offer towards the other side. */
static void offer_write(struct media_session *m, struct media_op *op)
{
	int ys = !op->xs;
	struct media_side *yd = &m->side[ys];
	const struct media_party *xp = m->side[op->xs].parties[party_find(&m->side[op->xs], op->from_tag)];
	struct sdprw_out w;
	char addr[64];

	if (sdp_out_init(m, ys, op, &w, addr, sizeof(addr)) < 0)
		return;
	for (unsigned i = 0; i < w.n_media; i++) {
		struct sdprw_media_out *mo = &w.m[i];
		const struct media_leg *xl = &xp->legs[i];
		bool srtp_out;

		mo->strip_dtls = true;
		mo->codec_strip = op->o.codec_strip;
		mo->codec_except = op->o.codec_except;
		if (!xl->relayed) {
			mo->port = 0;
			continue;
		}
		srtp_out = yd->n_offered[i] > 0;
		mo->proto = op->o.profile ? op->o.profile : profile_norm(xl->profile, profile_is_srtp(xl->profile));
		if (!op->o.profile && xl->rx.suite != NULL && !profile_is_srtp(xl->profile))
			mo->proto = xl->profile; /* Microsoft dialect stays RTP/AVP+crypto */
		mo->port = yd->ports[i].local.port;
		mo->rtcp_mux = yd->mux_offered[i];
		mo->rtcp_port = mo->rtcp_mux ? mo->port : yd->ports[i].rtcp_port;
		mo->rtcp_attr = yd->rtcp_attr;
		if (srtp_out)
			for (unsigned k = 0; k < yd->n_offered[i]; k++) {
				mo->crypto[k].tag = yd->offered[i][k].tag;
				mo->crypto[k].suite = yd->offered[i][k].suite;
				mo->crypto[k].key = yd->offered[i][k].key;
				mo->n_crypto++;
			}
	}
	sdp_out_emit(op, &w, "offer");
}

/* ----------------------------------------------------------------- answer */

static int answer_read_party(struct media_session *m, struct media_op *op, struct media_party *yp,
			     struct media_party *xp, struct media_result *r)
{
	const struct sdprw_sdp *sdp = op->parsed;
	int ys = !op->xs;
	struct media_side *yd = &m->side[ys];

	if (sdp->n_media != xp->n_legs) {
		why_set(r, MEDIA_E_SDP, "the answer has %u m= lines, the offer had %u", sdp->n_media, xp->n_legs);
		return -1;
	}
	if (party_legs(yp, sdp->n_media) < 0) {
		why_set(r, MEDIA_E_NOMEM, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < sdp->n_media; i++) {
		const struct sdprw_media *sm = &sdp->m[i];
		struct media_leg *l = &yp->legs[i];
		struct media_leg *xl = &xp->legs[i];
		const char *addr = op->o.source_address ? op->o.source_address : sm->addr;

		crypto_wipe(&l->rx);
		crypto_wipe(&l->tx);
		snprintf(l->media_type, sizeof(l->media_type), "%s", sm->type);
		snprintf(l->profile, sizeof(l->profile), "%s", sm->proto);
		l->relayed = xl->relayed && sm->port != 0 && yd->port_ok[i];
		if (!l->relayed)
			continue;
		memset(&l->remote, 0, sizeof(l->remote));
		if (mg_proto_addr_parse(addr, &l->remote) < 0 || l->remote.family != MG_FAMILY_IPV4) {
			why_set(r, MEDIA_E_SDP, "m= line %u: connection address '%s' is not an IPv4 address", i + 1,
				addr);
			return -1;
		}
		l->remote.port = sm->port;
		hold_unknown(&l->remote);
		l->silent = l->remote.family == MG_FAMILY_NONE || strcmp(sm->dir, "recvonly") == 0 ||
			    strcmp(sm->dir, "inactive") == 0;
		l->rtcp_mux = sm->rtcp_mux && yd->mux_offered[i];
		if ((op->o.rtcp_mux & MEDIA_MUX_REQUIRE) && !l->rtcp_mux) {
			why_set(r, MEDIA_E_POLICY, "m= line %u: rtcp-mux required and not accepted", i + 1);
			return -1;
		}
		l->remote_rtcp_port = l->rtcp_mux ? sm->port : sm->rtcp_port ? sm->rtcp_port : (uint16_t)(sm->port + 1);
		if (yd->n_offered[i] > 0) {
			/* its key is the line whose tag names one of ours */
			for (unsigned k = 0; k < sm->n_crypto && l->rx.suite == NULL; k++) {
				const struct sdp_crypto *c = &sm->crypto[k];

				for (unsigned j = 0; j < yd->n_offered[i]; j++) {
					const struct media_crypto *ours = &yd->offered[i][j];

					if (ours->tag != c->tag || ours->suite != c->suite || c->nkeys != 1)
						continue;
					l->rx.suite = c->suite;
					l->rx.tag = c->tag;
					l->rx.key = c->keys[0];
					l->tx = *ours;
					break;
				}
			}
			if (l->rx.suite == NULL && profile_is_srtp(sm->proto)) {
				why_set(r, MEDIA_E_POLICY,
					"m= line %u: the answer's a=crypto matches none of the %u offered (tag and suite)",
					i + 1, yd->n_offered[i]);
				return -1;
			}
			if (l->rx.suite == NULL)
				warn_add(r, "m= line %u answered %s without crypto: plain RTP on that side", i + 1,
					 sm->proto);
		}
		/* the offerer's side now: rtcp-mux as agreed */
		xl->rtcp_mux = xl->rtcp_mux && !(op->o.rtcp_mux & MEDIA_MUX_REJECT) &&
			       (l->rtcp_mux || (op->o.rtcp_mux & (MEDIA_MUX_ACCEPT | MEDIA_MUX_DEMUX)) ||
				yd->mux_offered[i] == false);
		if (xl->rtcp_mux)
			xl->remote_rtcp_port = xl->remote.port;
	}
	yp->answered = true;
	return 0;
}

static void answer_write(struct media_session *m, struct media_op *op, const struct media_party *xp)
{
	struct media_side *xd = &m->side[op->xs];
	struct sdprw_out w;
	char addr[64];

	if (sdp_out_init(m, op->xs, op, &w, addr, sizeof(addr)) < 0)
		return;
	for (unsigned i = 0; i < w.n_media; i++) {
		struct sdprw_media_out *mo = &w.m[i];
		const struct media_leg *xl = &xp->legs[i];
		const struct media_party *yp = m->side[!op->xs].parties[op->py];

		mo->strip_dtls = true;
		mo->codec_strip = op->o.codec_strip;
		mo->codec_except = op->o.codec_except;
		if (!xl->relayed || !yp->legs[i].relayed) {
			mo->port = 0;
			continue;
		}
		/* the offerer's own profile (RFC 3264: an answer keeps the
		 * offer's); transport-protocol in an answer is for the other
		 * side, set by the offer already */
		mo->proto = xl->rx.suite != NULL && !profile_is_srtp(xl->profile)
				    ? xl->profile
				    : profile_norm(xl->profile, xl->rx.suite != NULL);
		mo->port = xd->ports[i].local.port;
		mo->rtcp_mux = xl->rtcp_mux;
		mo->rtcp_port = mo->rtcp_mux ? mo->port : xd->ports[i].rtcp_port;
		mo->rtcp_attr = !op->o.no_rtcp_attr;
		if (xl->tx.suite != NULL) {
			mo->crypto[0].tag = xl->tx.tag;
			mo->crypto[0].suite = xl->tx.suite;
			mo->crypto[0].key = xl->tx.key;
			mo->n_crypto = 1;
		}
	}
	sdp_out_emit(op, &w, "answer");
}

/* ADD/MODIFY/DEL per stream between the two active parties. Returns how
 * many requests went out, or -errno. */
static int dp_sync(struct media_session *m, const struct media_opts *o)
{
	int sent = 0;

	for (unsigned i = 0; i < m->n_streams; i++) {
		bool want = m->side[0].active >= 0 && m->side[1].active >= 0 && m->side[0].port_ok[i] &&
			    m->side[1].port_ok[i];
		struct mg_msg_session s;
		int64_t id;

		if (want) {
			const struct media_party *a = m->side[0].parties[m->side[0].active];
			const struct media_party *b = m->side[1].parties[m->side[1].active];

			want = i < a->n_legs && i < b->n_legs && a->legs[i].relayed && b->legs[i].relayed;
		}
		if (!want) {
			if (m->dp[i].on) {
				id = media_dp_session_del(&m->dp[i], on_dp_step, m);
				if (id < 0)
					return (int)id;
				m->pending++;
				sent++;
			}
			continue;
		}
		memset(&s, 0, sizeof(s));
		if (m->dp[i].id == 0)
			m->dp[i].id = ++md.next_dp_id;
		if (o != NULL && o->strict_source)
			m->strict = true; /* sticky: a MODIFY without options keeps it */
		if (fill_wire_leg(m, 0, i, o, &s.legs[0]) < 0 || fill_wire_leg(m, 1, i, o, &s.legs[1]) < 0) {
			explicit_bzero(&s, sizeof(s));
			return -EINVAL;
		}
		/* ADD or MODIFY; no answer = maybe installed: a DEL costs nothing */
		id = media_dp_session_put(&m->dp[i], &s, 3u, on_dp_step, m);
		explicit_bzero(&s, sizeof(s));
		if (id < 0)
			return (int)id;
		m->pending++;
		sent++;
	}
	return sent;
}

/* ------------------------------------------------------- stats (query) */

static void dir_stats(const struct mg_msg_dir_stats *d, struct media_dir_stats *o)
{
	o->packets = d->packets;
	o->bytes = d->bytes;
	o->rtcp_packets = d->rtcp_packets;
	o->errors = 0;
	for (unsigned k = 0; k < MG_DROP_REASON_COUNT; k++) {
		o->errors += d->drops[k];
		o->drops[k] = d->drops[k];
	}
	o->auth_failures = d->drops[MG_DROP_AUTH];
	o->rr_ssrc = d->rr_ssrc;
	o->rr_lost = d->rr_lost;
	o->rr_jitter = d->rr_jitter;
	o->replays = d->drops[MG_DROP_REPLAY];
}

/* Replies carry the session id: the stream is found by it, so every
 * request of a session has the session as its argument (media_dp_cancel). */
static void on_stats(void *arg, int result, const void *body)
{
	struct media_session *m = arg;
	struct media_op *op = m->ops;

	m->pending--;
	if (result == 0 && body != NULL && op != NULL && op->res != NULL) {
		const struct mg_msg_session_stats *st = body;

		for (unsigned i = 0; i < m->n_streams; i++) {
			if (m->dp[i].id != st->id)
				continue;
			for (int s = 0; s < 2; s++) {
				int p = m->side[s].active;

				if (p < 0)
					continue;
				dir_stats(&st->legs[s][0], &op->res->stats[s][p][i].rx);
				dir_stats(&st->legs[s][1], &op->res->stats[s][p][i].tx);
			}
			op->res->have_stats = true;
		}
	}
	if (m->pending == 0 && op != NULL)
		op_run(m);
}

/* SESSION_STATS (query) or SESSION_DEL (delete: final counters) per
 * installed stream. */
static int stats_request(struct media_session *m, unsigned type)
{
	int sent = 0;

	for (unsigned i = 0; i < m->n_streams; i++) {
		int64_t id;

		if (!m->dp[i].on)
			continue;
		id = type == MG_MSG_SESSION_DEL ? media_dp_session_del(&m->dp[i], on_stats, m) :
						  media_dp_session_stats(&m->dp[i], on_stats, m);
		if (id < 0)
			return (int)id;
		m->pending++;
		sent++;
	}
	return sent;
}

/* ------------------------------------------------------ the operations */

/*
 * Each operation runs in steps: a step sends dataplane requests and
 * returns; when the last reply is in (m->pending == 0) op_run() calls it
 * again at the stage it stopped at.
 */
enum { ST_START, ST_PORTS, ST_DP, ST_DONE };

static int dp_error(struct media_result *r, int rc)
{
	if (rc == -ENOSPC) {
		why_set(r, MEDIA_E_PORTS, "Ran out of ports");
		md.ctr.ports_refused++;
	} else {
		why_set(r, MEDIA_E_DATAPLANE, "dataplane: %s", strerror(-rc));
	}
	return -1;
}

/*
 * A request of a step could not be sent (-errno) after others were: the
 * step waits for their replies like any other and fails then (run again
 * from its start, the operation was counted and parsed twice, and its first
 * parse leaked). The step returns after it.
 */
static void step_failed(struct media_session *m, struct media_op *op, int *stage, int next, int rc)
{
	if (op->err_rc == 0)
		op->err_rc = rc;
	*stage = next;
	if (m->pending == 0)
		dp_error(op->res, rc);
}

static void run_offer(struct media_session *m, struct media_op *op, int *stage)
{
	struct media_result *r = op->res;
	char why[256] = "";

	if (*stage == ST_START) {
		struct media_party *xp;
		bool relayed[MEDIA_MAX_STREAMS] = { false };
		int px, rc, sent = 0;

		md.ctr.offers++;
		op->parsed = malloc(sizeof(*op->parsed));
		if (op->parsed == NULL) {
			why_set(r, MEDIA_E_NOMEM, "out of memory");
			return;
		}
		if (sdprw_parse(op->sdp, op->sdp_len, op->parsed, why, sizeof(why)) < 0) {
			why_set(r, MEDIA_E_SDP, "%s", why);
			return;
		}
		if (op->parsed->n_media > MEDIA_MAX_STREAMS)
			warn_add(r, "%u m= lines: the first %u are relayed, the rest rejected", op->parsed->n_media,
				 MEDIA_MAX_STREAMS);
		/* the offering side: where from-tag is a party; else a new
		 * session's side 0; else (to-tag known) the other side */
		op->xs = party_find(&m->side[0], op->from_tag) >= 0 ? 0
			 : party_find(&m->side[1], op->from_tag) >= 0 ? 1
			 : m->side[0].n_parties == 0			 ? 0
			 : party_find(&m->side[0], op->to_tag) >= 0	 ? 1
									 : -1;
		if (op->xs < 0) {
			why_set(r, MEDIA_E_NOTFOUND, "from-tag '%s' is no party of call '%s'", op->from_tag, m->key);
			return;
		}
		px = party_find(&m->side[op->xs], op->from_tag);
		if (px < 0 && (px = party_add(&m->side[op->xs], op->from_tag)) < 0) {
			why_set(r, MEDIA_E_NOMEM, "too many parties");
			return;
		}
		m->side[op->xs].active = px;
		xp = m->side[op->xs].parties[px];
		if (offer_read_party(op, xp, r) < 0)
			return;
		if (m->n_streams < op->parsed->n_media)
			m->n_streams = op->parsed->n_media < MEDIA_MAX_STREAMS ? op->parsed->n_media
									  : MEDIA_MAX_STREAMS;
		if (offer_prepare_other(m, op, xp, !op->xs, r) < 0)
			return;
		for (unsigned i = 0; i < m->n_streams && i < xp->n_legs; i++)
			relayed[i] = xp->legs[i].relayed;
		if (!media_dp_up()) {
			why_set(r, MEDIA_E_DATAPLANE, "dataplane not connected");
			return;
		}
		for (int s = 0; s < 2; s++) {
			rc = ports_request(m, s, relayed, m->n_streams);
			if (rc < 0) {
				step_failed(m, op, stage, ST_PORTS, rc);
				return;
			}
			sent += rc;
		}
		*stage = ST_PORTS;
		if (sent > 0)
			return;
	}
	if (*stage == ST_PORTS) {
		if (op->err_rc < 0) {
			dp_error(r, op->err_rc);
			return;
		}
		offer_write(m, op);
		*stage = ST_DONE;
	}
}

static void run_answer(struct media_session *m, struct media_op *op, int *stage)
{
	struct media_result *r = op->res;
	char why[256] = "";

	if (*stage == ST_START) {
		struct media_side *yd;
		struct media_party *xp, *yp;
		int px, rc;

		md.ctr.answers++;
		op->parsed = malloc(sizeof(*op->parsed));
		if (op->parsed == NULL) {
			why_set(r, MEDIA_E_NOMEM, "out of memory");
			return;
		}
		if (sdprw_parse(op->sdp, op->sdp_len, op->parsed, why, sizeof(why)) < 0) {
			why_set(r, MEDIA_E_SDP, "%s", why);
			return;
		}
		op->xs = party_find(&m->side[0], op->from_tag) >= 0 ? 0
			 : party_find(&m->side[1], op->from_tag) >= 0 ? 1
								       : -1;
		if (op->xs < 0) {
			why_set(r, MEDIA_E_NOTFOUND, "from-tag '%s' made no offer in call '%s'", op->from_tag, m->key);
			return;
		}
		px = party_find(&m->side[op->xs], op->from_tag);
		xp = m->side[op->xs].parties[px];
		yd = &m->side[!op->xs];
		if (yd->offered == NULL && yd->n_parties == 0) {
			why_set(r, MEDIA_E_NOTFOUND, "no offer is waiting for an answer in call '%s'", m->key);
			return;
		}
		op->py = party_find(yd, op->to_tag);
		if (op->py < 0) {
			/* the offer's callee gets its tag; a further to-tag is a fork */
			for (unsigned p = 0; p < yd->n_parties && op->py < 0; p++)
				if (yd->parties[p]->tag[0] == '\0') {
					snprintf(yd->parties[p]->tag, sizeof(yd->parties[p]->tag), "%s", op->to_tag);
					op->py = (int)p;
				}
			if (op->py < 0 && (op->py = party_add(yd, op->to_tag)) < 0) {
				why_set(r, MEDIA_E_NOMEM, "more than %d answering parties (forks)", MEDIA_MAX_PARTIES);
				return;
			}
		}
		yp = yd->parties[op->py];
		if (answer_read_party(m, op, yp, xp, r) < 0)
			return;
		yd->active = op->py;
		m->side[op->xs].active = px;
		answer_write(m, op, xp);
		if (r->err != MEDIA_OK)
			return;
		if (!media_dp_up()) {
			why_set(r, MEDIA_E_DATAPLANE, "dataplane not connected");
			return;
		}
		rc = dp_sync(m, &op->o);
		if (rc < 0) {
			step_failed(m, op, stage, ST_DP, rc);
			return;
		}
		*stage = ST_DP;
		if (rc > 0)
			return;
	}
	if (*stage == ST_DP) {
		if (op->err_rc < 0) {
			dp_error(r, op->err_rc);
			return;
		}
		*stage = ST_DONE;
	}
}

/* Remove one non-active party of a side; true if it was such a party. */
static bool delete_fork(struct media_session *m, const char *tag)
{
	for (int s = 0; s < 2; s++) {
		struct media_side *sd = &m->side[s];
		int p = party_find(sd, tag);

		if (p < 0 || p == sd->active || sd->n_parties < 2)
			continue;
		party_free(sd->parties[p]);
		memmove(&sd->parties[p], &sd->parties[p + 1], (sd->n_parties - (unsigned)p - 1) * sizeof(sd->parties[0]));
		sd->n_parties--;
		if (sd->active > p)
			sd->active--;
		return true;
	}
	return false;
}

static void run_delete(struct media_session *m, struct media_op *op, int *stage)
{
	struct media_result *r = op->res;

	if (*stage == ST_START) {
		int rc;

		if (op->to_tag[0] != '\0' && delete_fork(m, op->to_tag)) {
			*stage = ST_DONE;
			return;
		}
		m->deleting = true;
		rc = media_dp_up() ? stats_request(m, MG_MSG_SESSION_DEL) : 0;
		if (rc < 0)
			warn_add(r, "dataplane: %s (the sessions are left to its clean-up)", strerror(-rc));
		*stage = ST_DP;
		if (rc > 0)
			return;
	}
	if (*stage == ST_DP)
		*stage = ST_DONE;
}

static void run_query(struct media_session *m, struct media_op *op, int *stage)
{
	if (*stage == ST_START) {
		int rc = media_dp_up() ? stats_request(m, MG_MSG_SESSION_STATS) : 0;

		if (rc < 0)
			warn_add(op->res, "no counters: dataplane: %s", strerror(-rc));
		*stage = ST_DP;
		if (rc > 0)
			return;
	}
	*stage = ST_DONE;
}

static void on_fork(void *arg, int result, const void *body)
{
	on_dp_step(arg, result == -EEXIST || result == -ENOENT ? 0 : result, body);
}

/* FORK_ADD / FORK_DEL per installed stream and leg; fork ids 2i+1, 2i+2. */
static void run_record(struct media_session *m, struct media_op *op, int *stage)
{
	struct media_result *r = op->res;

	if (*stage == ST_START) {
		int sent = 0;

		if (!media_dp_up()) {
			why_set(r, MEDIA_E_DATAPLANE, "dataplane not connected");
			return;
		}
		for (unsigned i = 0; i < m->n_streams; i++) {
			if (!m->dp[i].on)
				continue;
			for (unsigned leg = 0; leg < 2; leg++) {
				int64_t id;

				if (op->kind == OP_RECORD_START) {
					struct mg_msg_fork f;

					memset(&f, 0, sizeof(f));
					f.session_id = m->dp[i].id;
					f.fork_id = 2 * i + leg + 1;
					f.leg = (uint8_t)leg;
					f.flags = MG_FORK_F_RTCP;
					f.local = m->side[leg].ports[i].local;
					f.remote = op->dest;
					f.remote.port = (uint16_t)(op->dest.port + 4 * i + 2 * leg);
					id = media_dp_fork_add(&f, on_fork, m);
				} else {
					id = media_dp_fork_del(m->dp[i].id, 2 * i + leg + 1, on_fork, m);
				}
				if (id < 0) {
					dp_error(r, (int)id);
					break;
				}
				m->pending++;
				sent++;
			}
		}
		if (sent == 0 && op->kind == OP_RECORD_START && r->err == MEDIA_OK) {
			why_set(r, MEDIA_E_NOTFOUND, "no media installed yet (recording starts after the answer)");
			return;
		}
		*stage = ST_DP;
		if (sent > 0)
			return;
	}
	if (*stage == ST_DP) {
		if (op->err_rc < 0 && r->err == MEDIA_OK)
			dp_error(r, op->err_rc);
		if (r->err == MEDIA_OK) {
			m->recording = op->kind == OP_RECORD_START;
			m->rec_dest = op->dest;
		}
		*stage = ST_DONE;
	}
}

/* Mark the party (or every party) and MODIFY the installed streams. */
static void run_block(struct media_session *m, struct media_op *op, int *stage)
{
	struct media_result *r = op->res;

	if (*stage == ST_START) {
		bool found = false;
		int rc;

		for (int sd = 0; sd < 2; sd++)
			for (unsigned p = 0; p < m->side[sd].n_parties; p++)
				if (op->from_tag[0] == '\0' || strcmp(m->side[sd].parties[p]->tag, op->from_tag) == 0) {
					m->side[sd].parties[p]->blocked = op->kind == OP_BLOCK;
					found = true;
				}
		if (!found) {
			why_set(r, MEDIA_E_NOTFOUND, "from-tag '%s' is no party of call '%s'", op->from_tag, m->key);
			return;
		}
		rc = media_dp_up() ? dp_sync(m, NULL) : 0;
		if (rc < 0) {
			step_failed(m, op, stage, ST_DP, rc);
			return;
		}
		*stage = ST_DP;
		if (rc > 0)
			return;
	}
	if (op->err_rc < 0 && r->err == MEDIA_OK)
		dp_error(r, op->err_rc);
	*stage = ST_DONE;
}

static void op_run(struct media_session *m)
{
	struct media_op *op;

	while ((op = m->ops) != NULL) {
		int stage;

		if (op->res == NULL) {
			op->res = calloc(1, sizeof(*op->res));
			if (op->res == NULL) {
				static struct media_result oom = { .err = MEDIA_E_NOMEM, .why = "out of memory" };

				m->ops = op->next;
				op->cb(op->arg, &oom);
				free(op->sdp);
				free(op);
				continue;
			}
			op->res->session = m;
			op->stage = ST_START;
		}
		stage = op->stage;
		/* media-handover sticks to the session once an offer or answer
		 * asked for it: Kamailio scripts often pass it on one only */
		if ((op->kind == OP_OFFER || op->kind == OP_ANSWER) && op->o.media_handover)
			m->handover = true;
		if ((op->kind == OP_OFFER || op->kind == OP_ANSWER) && op->o.strict_source)
			m->strict = true; /* a later MODIFY (block, re-offer) keeps it */
		switch (op->kind) {
		case OP_OFFER:
			run_offer(m, op, &stage);
			break;
		case OP_ANSWER:
			run_answer(m, op, &stage);
			break;
		case OP_DELETE:
			run_delete(m, op, &stage);
			break;
		case OP_QUERY:
			run_query(m, op, &stage);
			break;
		case OP_RECORD_START:
		case OP_RECORD_STOP:
			run_record(m, op, &stage);
			break;
		case OP_BLOCK:
		case OP_UNBLOCK:
			run_block(m, op, &stage);
			break;
		}
		op->stage = stage;
		if (m->pending > 0 && (op->res->err == MEDIA_OK || stage != ST_DONE))
			return; /* waits for the dataplane (also after an error: replies
				 * must find the session) */
		op_finish(m, op);
		if (m->deleting && m->ops == NULL) {
			session_free(m);
			return;
		}
		if (m->deleting) {
			/* what was queued after a delete finds no session */
			continue;
		}
	}
}

static void op_finish(struct media_session *m, struct media_op *op)
{
	struct media_result *r = op->res;

	m->ops = op->next;
	if (m->ops == NULL)
		m->ops_tail = NULL;
	if (r->err != MEDIA_OK) {
		md.ctr.errors++;
		if (r->err == MEDIA_E_PORTS)
			MG_WARN("media %s: %s", m->key, r->why);
		else
			MG_INFO("media %s: %s refused: %s", m->key,
				op->kind == OP_OFFER ? "offer" : op->kind == OP_ANSWER ? "answer" : "request", r->why);
	}
	if (op->kind == OP_OFFER || op->kind == OP_ANSWER) {
		m->last_signal_ms = wall_ms();
		media_timeout_signal(&m->watch);
	}
	/* an offer that failed on a new session leaves nothing behind */
	if (r->err != MEDIA_OK && op->kind == OP_OFFER && m->side[1].n_parties == 0 &&
	    m->side[0].n_parties <= 1 && !m->dp[0].on)
		m->deleting = true;
	if (m->deleting && op->next != NULL) {
		/* later requests of a deleted session: answered "not found" */
		for (struct media_op *q = op->next; q; q = q->next)
			q->kind = OP_QUERY;
	}
	if (md.changed != NULL && op->kind != OP_QUERY && !m->deleting && r->err == MEDIA_OK)
		md.changed(m, false);
	op->cb(op->arg, r);
	free(op->out_sdp);
	free(r);
	if (op->parsed) {
		explicit_bzero(op->parsed, sizeof(*op->parsed));
		free(op->parsed);
	}
	free(op->sdp);
	free(op);
}

/* -------------------------------------------------------- public entry */

static void fail_now(media_done_f cb, void *arg, enum media_err e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail_now(media_done_f cb, void *arg, enum media_err e, const char *fmt, ...)
{
	struct media_result r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.err = e;
	va_start(ap, fmt);
	vsnprintf(r.why, sizeof(r.why), fmt, ap);
	va_end(ap);
	md.ctr.errors++;
	cb(arg, &r);
}

static struct media_op *op_new(enum media_op_kind kind, const char *from_tag, const char *to_tag, const char *sdp,
			       size_t len, const struct media_opts *o, media_done_f cb, void *arg)
{
	struct media_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		fail_now(cb, arg, MEDIA_E_NOMEM, "out of memory");
		return NULL;
	}
	op->kind = kind;
	snprintf(op->from_tag, sizeof(op->from_tag), "%s", from_tag ? from_tag : "");
	snprintf(op->to_tag, sizeof(op->to_tag), "%s", to_tag ? to_tag : "");
	if (sdp != NULL) {
		op->sdp = malloc(len + 1);
		if (op->sdp == NULL) {
			free(op);
			fail_now(cb, arg, MEDIA_E_NOMEM, "out of memory");
			return NULL;
		}
		memcpy(op->sdp, sdp, len);
		op->sdp[len] = '\0';
		op->sdp_len = len;
	}
	if (o != NULL)
		op->o = *o;
	op->cb = cb;
	op->arg = arg;
	op->py = -1;
	return op;
}

/* Queue @p op on @p m; it runs now if nothing else of the session does. */
static void op_push(struct media_session *m, struct media_op *op)
{
	if (op == NULL)
		return;
	if (m->ops_tail)
		m->ops_tail->next = op;
	else
		m->ops = op;
	m->ops_tail = op;
	if (m->ops == op && m->pending == 0)
		op_run(m);
}

static void enqueue(struct media_session *m, enum media_op_kind kind, const char *from_tag, const char *to_tag,
		    const char *sdp, size_t len, const struct media_opts *o, media_done_f cb, void *arg)
{
	op_push(m, op_new(kind, from_tag, to_tag, sdp, len, o, cb, arg));
}

static bool tag_ok(const char *t)
{
	return t == NULL || strlen(t) < MEDIA_TAG_MAX;
}

void media_offer(const char *key, const char *from_tag, const char *to_tag, const char *sdp, size_t len,
		 const struct media_opts *o, media_done_f cb, void *arg)
{
	struct media_session *m;

	if (md.stopping)
		return fail_now(cb, arg, MEDIA_E_SHUTDOWN, "shutting down");
	if (!tag_ok(from_tag) || !tag_ok(to_tag))
		return fail_now(cb, arg, MEDIA_E_SDP, "tag longer than %d bytes", MEDIA_TAG_MAX - 1);
	m = find(key);
	if (m == NULL || m->deleting) {
		enum load_verdict v;

		if (md.draining || (md.max_sessions > 0 && md.count >= md.max_sessions)) {
			md.ctr.limit_refused++;
			return fail_now(cb, arg, MEDIA_E_LIMIT, "Parallel session limit reached");
		}
		/* a new call: admitted by measured load too (rate, loop lag) */
		if ((v = load_admit()) != LOAD_OK) {
			md.ctr.load_refused++;
			return fail_now(cb, arg, MEDIA_E_LIMIT, "%s", load_reason(v));
		}
		m = session_new(key);
		if (m == NULL)
			return fail_now(cb, arg, MEDIA_E_NOMEM, "out of memory");
	}
	enqueue(m, OP_OFFER, from_tag, to_tag, sdp, len, o, cb, arg);
}

void media_answer(const char *key, const char *from_tag, const char *to_tag, const char *sdp, size_t len,
		  const struct media_opts *o, media_done_f cb, void *arg)
{
	struct media_session *m = find(key);

	if (m == NULL || m->deleting)
		return fail_now(cb, arg, MEDIA_E_NOTFOUND, "Unknown call-id");
	if (!tag_ok(from_tag) || !tag_ok(to_tag))
		return fail_now(cb, arg, MEDIA_E_SDP, "tag longer than %d bytes", MEDIA_TAG_MAX - 1);
	enqueue(m, OP_ANSWER, from_tag, to_tag, sdp, len, o, cb, arg);
}

void media_delete(const char *key, const char *from_tag, const char *to_tag, media_done_f cb, void *arg)
{
	struct media_session *m = find(key);

	if (m == NULL || m->deleting)
		return fail_now(cb, arg, MEDIA_E_NOTFOUND, "Unknown call-id");
	(void)from_tag;
	enqueue(m, OP_DELETE, from_tag, to_tag && tag_ok(to_tag) ? to_tag : NULL, NULL, 0, NULL, cb, arg);
}

void media_query(const char *key, media_done_f cb, void *arg)
{
	struct media_session *m = find(key);

	if (m == NULL || m->deleting)
		return fail_now(cb, arg, MEDIA_E_NOTFOUND, "Unknown call-id");
	enqueue(m, OP_QUERY, NULL, NULL, NULL, 0, NULL, cb, arg);
}

void media_record(const char *key, bool start, const struct mg_msg_addr *dest, media_done_f cb, void *arg)
{
	struct media_session *m = find(key);
	struct media_op *op;

	if (m == NULL || m->deleting)
		return fail_now(cb, arg, MEDIA_E_NOTFOUND, "Unknown call-id");
	if (start && (dest == NULL || dest->family != MG_FAMILY_IPV4 || dest->port == 0))
		return fail_now(cb, arg, MEDIA_E_POLICY, "recording destination must be an IPv4 ADDR:PORT");
	op = op_new(start ? OP_RECORD_START : OP_RECORD_STOP, NULL, NULL, NULL, 0, NULL, cb, arg);
	if (op != NULL && start)
		op->dest = *dest;
	op_push(m, op);
}

void media_block(const char *key, const char *tag, bool block, media_done_f cb, void *arg)
{
	struct media_session *m = find(key);

	if (m == NULL || m->deleting)
		return fail_now(cb, arg, MEDIA_E_NOTFOUND, "Unknown call-id");
	if (!tag_ok(tag))
		return fail_now(cb, arg, MEDIA_E_SDP, "tag longer than %d bytes", MEDIA_TAG_MAX - 1);
	enqueue(m, block ? OP_BLOCK : OP_UNBLOCK, tag, NULL, NULL, 0, NULL, cb, arg);
}

static void settings_take(const struct mg_settings *s)
{
	md.max_sessions = s->max_calls;
	md.handover = s->media_handover;
	media_timeout_config(s);
	media_dp_set_restart_wait(s->dp_restart_wait_s);
	md.shared_ip[0] = '\0';
	for (unsigned p = 0; p < s->n_ports && md.shared_ip[0] == '\0'; p++)
		if (s->ports[p].shared.family == AF_INET)
			inet_ntop(AF_INET, s->ports[p].shared.addr, md.shared_ip, sizeof(md.shared_ip));
	md.n_suites = 0;
	for (unsigned i = 0; i < s->n_crypto_suites && i < MG_CFG_MAX_SUITES; i++)
		md.suites[md.n_suites++] = s->crypto_suites[i];
	if (md.n_suites == 0) {
		md.suites[md.n_suites++] = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
		md.suites[md.n_suites++] = MG_SRTP_AES_CM_128_HMAC_SHA1_32;
	}
}

int media_start(struct dpc *dp, const struct mg_settings *s)
{
	memset(&md, 0, sizeof(md));
	media_dp_start(dp);
	/* dataplane session ids: the call engine numbers from time << 24;
	 * ours have the top bit set so the two never meet */
	md.next_dp_id = (1ull << 63) | ((uint64_t)time(NULL) << 24);
	settings_take(s);
	return 0;
}

/* ----------------------------------------------- dataplane restart */

/*
 * docs/reliability.md, "Dataplane restart": while the connection is down the
 * sessions stay (operations on them fail); when a dataplane connects, each
 * session takes its ports again first (PORT_ALLOC by number, the first
 * requests of the connection: nothing else can take them; EADDRINUSE from a
 * dataplane that survived: ours), then adds every installed stream again
 * (SESSION_ADD, SRTP going on from the last indexes read: MG_CRYPTO_F_SEQ;
 * EEXIST from a dataplane that survived: kept). Forks (recording) are not
 * re-installed. Queued operations run once it is done.
 */
/* RI_PORTS, RI_SESS: the step to take next; *_WAIT: its requests are in
 * flight */
enum { RI_NONE, RI_PORTS, RI_PORTS_WAIT, RI_SESS, RI_SESS_WAIT };

static void reinst_step(struct media_session *m);

static void adopt_drop_done(void *arg, const struct media_result *res)
{
	(void)arg;
	(void)res;
}

/* An adopted session's check is over: kept if the dataplane held every
 * port and session it names, else deleted (what the check took again is
 * given back with it). */
static void adopt_done(struct media_session *m)
{
	m->adopted = false;
	m->reinst = RI_NONE;
	if (m->adopt_new == 0) {
		md.ctr.adopted++;
		MG_INFO("media %s: re-adopted (the dataplane holds its %u port(s) and %u stream(s))", m->key,
			m->side[0].n_parties + m->side[1].n_parties ? m->n_streams * 2 : 0, m->kept);
		if (m->ops != NULL)
			op_run(m);
		return;
	}
	md.ctr.adopt_dropped++;
	/* ports another session holds now are not ours to free */
	for (int s = 0; s < 2; s++)
		for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
			if (!(m->adopt_taken & (1u << (s * MEDIA_MAX_STREAMS + i))))
				m->side[s].port_ok[i] = false;
	MG_WARN("media %s: read back from Redis but the dataplane did not hold it (%u part(s) missing): "
		"deleted", m->key, m->adopt_new);
	enqueue(m, OP_DELETE, NULL, NULL, NULL, 0, NULL, adopt_drop_done, NULL);
}

static void reinst_fail(struct media_session *m, const char *what, int rc)
{
	if (m->adopted) {
		m->adopt_new++; /* dropped below: nothing to adopt */
		MG_WARN("media %s: read back from Redis, but the dataplane refused it (%s: %s)", m->key,
			what, strerror(-rc));
	} else {
		MG_WARN("media %s: re-install after the dataplane restart failed (%s: %s); "
			"the session stays, without media", m->key, what, strerror(-rc));
	}
	m->reinst = RI_NONE;
	for (unsigned i = 0; i < m->n_streams; i++)
		m->dp[i].on = false;
}

static void on_reinst(void *arg, int result, const void *body)
{
	struct media_session *m = arg;

	(void)body;
	m->pending--;
	if (m->reinst == RI_NONE) {
		/* given up (failed or lost again): only wait for the rest */
	} else if (result == -ENOTCONN) {
		m->reinst = RI_NONE;
		m->lost = true;
	} else if (m->reinst == RI_SESS_WAIT && result == -EEXIST) {
		/* a dataplane that survived the lost connection kept it */
		m->kept++;
	} else if (m->adopted && result == 0) {
		/* a port or session the dataplane did not hold any more */
		m->adopt_new++;
		if (m->reinst == RI_PORTS_WAIT && body != NULL)
			for (int s = 0; s < 2; s++)
				for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
					if (m->side[s].port_ok[i] &&
					    m->side[s].ports[i].local.port == ((const struct mg_msg_port *)body)->local.port)
						m->adopt_taken |= 1u << (s * MEDIA_MAX_STREAMS + i);
	} else if (result < 0 && !(m->reinst == RI_PORTS_WAIT && result == -EADDRINUSE)) {
		/* EADDRINUSE: a dataplane that survived holds the port: ours */
		reinst_fail(m, m->reinst == RI_PORTS_WAIT ? "PORT_ALLOC" : "SESSION_ADD", result);
	}
	if (m->pending > 0)
		return;
	if (m->adopted && (m->adopt_new > 0 || m->reinst == RI_SESS_WAIT || (m->reinst == RI_NONE && !m->lost))) {
		adopt_done(m);
		return;
	}
	if (m->reinst == RI_PORTS_WAIT) {
		m->reinst = RI_SESS;
	} else if (m->reinst == RI_SESS_WAIT) {
		m->reinst = RI_NONE;
		if (m->kept)
			MG_INFO("media %s: %u stream(s) still in the dataplane", m->key, m->kept);
		else
			MG_INFO("media %s: re-installed in the dataplane", m->key);
	}
	if (m->reinst != RI_NONE) {
		reinst_step(m);
		if (m->pending > 0)
			return;
		if (m->adopted && !m->lost) {
			adopt_done(m);
			return;
		}
	}
	if (m->ops != NULL)
		op_run(m);
}

static void reinst_step(struct media_session *m)
{
	int64_t id;

	switch (m->reinst) {
	case RI_PORTS:
		m->reinst = RI_PORTS_WAIT;
		for (int s = 0; s < 2; s++)
			for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++) {
				if (!m->side[s].port_ok[i])
					continue;
				id = media_dp_port_take(&m->side[s].ports[i], on_reinst, m);
				if (id < 0)
					goto lost;
				m->pending++;
			}
		if (m->pending > 0)
			return;
		/* fall through */
	case RI_SESS: {
		struct media_opts o;
		unsigned n = 0;

		memset(&o, 0, sizeof(o));
		o.strict_source = m->strict;
		m->reinst = RI_SESS_WAIT;
		for (unsigned i = 0; i < m->n_streams; i++) {
			struct mg_msg_session w;

			if (!m->dp[i].on || m->side[0].active < 0 || m->side[1].active < 0)
				continue;
			memset(&w, 0, sizeof(w));
			if (fill_wire_leg(m, 0, i, &o, &w.legs[0]) < 0 || fill_wire_leg(m, 1, i, &o, &w.legs[1]) < 0) {
				explicit_bzero(&w, sizeof(w));
				continue;
			}
			media_dp_index_apply(&w, m->ix[i]);
			m->dp[i].on = false; /* a new dataplane: ADD */
			id = media_dp_session_put(&m->dp[i], &w, 0, on_reinst, m);
			explicit_bzero(&w, sizeof(w));
			if (id < 0) {
				m->dp[i].on = true; /* still to be installed */
				goto lost;
			}
			m->pending++;
			n++;
		}
		m->kept = 0;
		if (m->pending == 0)
			m->reinst = RI_NONE;
		return;
	}
	default:
		return;
	}
lost:
	m->reinst = RI_NONE;
	m->lost = true;
}

static void on_poll(void *arg, int result, const void *body)
{
	struct media_session *m = arg;

	m->pending--;
	if (result == 0 && body != NULL) {
		const struct mg_msg_session_stats *st = body;

		for (unsigned i = 0; i < m->n_streams; i++)
			if (m->dp[i].id == st->id) {
				struct media_dp_index was[2][2];

				memcpy(was, m->ix[i], sizeof(was));
				media_dp_index_take(m->ix[i], st);
				/* published again when a ROC moved or the sequence
				 * number entered another quarter (not for every
				 * one): the record's index must stay within 2^15
				 * of the stream for a standby's estimate */
				if (md.changed != NULL && !m->deleting && media_dp_index_moved(was, m->ix[i]))
					md.changed(m, false);
				media_timeout_rx(&m->watch, i, st->legs[0][0].packets, st->legs[1][0].packets,
						 media_now_ms());
			}
	}
	if (m->pending == 0 && m->ops != NULL)
		op_run(m);
}

/* ------------------------------------------------------ NG timeouts */

static void timeout_view(const struct media_session *m, struct media_to_view *v)
{
	memset(v, 0, sizeof(*v));
	v->n_streams = m->n_streams;
	for (int s = 0; s < 2; s++)
		for (unsigned p = 0; p < m->side[s].n_parties; p++)
			v->answered |= m->side[s].parties[p]->answered;
	for (unsigned i = 0; i < m->n_streams && i < MEDIA_TO_STREAMS; i++) {
		v->relayed[i] = true;
		for (int s = 0; s < 2; s++) {
			const struct media_party *p = m->side[s].active >= 0 ? m->side[s].parties[m->side[s].active] : NULL;

			if (p == NULL || i >= p->n_legs || !p->legs[i].relayed)
				v->relayed[i] = false;
			else
				v->silent[i][s] = p->legs[i].silent;
		}
	}
}

static void on_expired(void *arg, const struct media_result *res)
{
	(void)arg;
	if (res->err != MEDIA_OK)
		MG_WARN("media: deleting an expired session: %s", res->why);
}

/* docs/ng.md "Timeouts": what media_timeout.c judges expired is deleted as
 * a delete command would delete it (dataplane sessions, ports). Sessions
 * waiting for the dataplane are not judged (their clocks restart after). */
static void timeouts_check(uint64_t now)
{
	struct media_session *m, *next;

	media_timeout_begin(now);
	for (m = md.head; m != NULL; m = next) {
		struct media_to_view v;
		enum media_to_reason why;

		next = m->next;
		if (m->standby) {
			/* pre-installed on a standby node, which sees no packet:
			 * judged from its promotion on, a new session for the clocks */
			media_timeout_forget(&m->watch);
			continue;
		}
		if (m->deleting || m->lost || m->reinst != RI_NONE || m->adopted)
			continue;
		timeout_view(m, &v);
		if (!media_timeout_judge(&m->watch, &v, now, &why))
			continue;
		MG_INFO("media %s: %s after %u s (%s): deleted", m->key, media_timeout_name(why),
			media_timeout_limit_s(why), media_timeout_key(why));
		media_delete(m->key, NULL, NULL, on_expired, NULL);
	}
}

void media_tick(void)
{
	uint64_t now = media_now_ms();

	if (!media_dp_up()) {
		unsigned n = 0;

		if (md.lost_ms == 0 || now - md.lost_ms < (uint64_t)media_dp_restart_wait() * 1000)
			return;
		/* restartWait over: the sessions forget their dataplane state, as
		 * before (their ports and sessions may be left: removed when the
		 * connection is back) */
		for (struct media_session *m = md.head; m != NULL; m = m->next)
			if (m->lost && m->pending == 0) {
				/* as if it had nothing in the dataplane: the next
				 * offer/answer allocates and installs again; what a
				 * surviving dataplane holds is removed when it is back */
				leave_leftovers(m);
				m->lost = false;
				for (unsigned i = 0; i < m->n_streams; i++)
					m->dp[i].on = false;
				for (int sd = 0; sd < 2; sd++)
					for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
						m->side[sd].port_ok[i] = false;
				n++;
			}
		md.lost_ms = 0;
		if (n)
			MG_WARN("dataplane not back within %u s (mediagate.dataplane.restartWait): "
				"%u NG session(s) lose their media until their next offer/answer",
				media_dp_restart_wait(), n);
		return;
	}
	for (struct media_session *m = md.head; m != NULL; m = m->next) {
		/* a standby's session keeps the active node's indexes (its
		 * record's), not those of this dataplane, which sees no packet */
		if (m->pending > 0 || m->ops != NULL || m->deleting || m->reinst != RI_NONE || m->standby ||
		    now - m->poll_ms < media_timeout_poll_ms())
			continue;
		m->poll_ms = now;
		for (unsigned i = 0; i < m->n_streams; i++) {
			if (!m->dp[i].on || media_dp_session_stats(&m->dp[i], on_poll, m) < 0)
				continue;
			m->pending++;
		}
		if (m->pending == 0)
			media_timeout_rx_none(&m->watch, now);
	}
	timeouts_check(now);
}

void media_dataplane_state(bool up)
{
	unsigned n = 0;

	if (!up) {
		if (media_dp_restart_wait() == 0)
			return;
		for (struct media_session *m = md.head; m != NULL; m = m->next)
			if (!m->deleting) {
				m->lost = true;
				m->reinst = RI_NONE;
				n++;
			}
		if (n) {
			md.lost_ms = media_now_ms();
			MG_WARN("dataplane connection lost: %u NG session(s) wait up to %u s for it "
				"(mediagate.dataplane.restartWait)", n, media_dp_restart_wait());
		}
		media_dp_state(up);
		return;
	}
	md.lost_ms = 0;
	/* re-install first: the leftovers' PORT_FREEs must not meet ports a
	 * re-install takes (they are other ports, but the order is cheap) */
	for (struct media_session *m = md.head; m != NULL; m = m->next) {
		if (!m->lost || m->deleting || m->pending > 0)
			continue;
		m->lost = false;
		m->reinst = RI_PORTS; /* ports first: see media_call_reinstall() */
		reinst_step(m);
		if (m->adopted && m->pending == 0 && !m->lost)
			adopt_done(m); /* nothing in the dataplane to check */
		n++;
	}
	if (n)
		MG_INFO("dataplane back: re-installing %u NG session(s)", n);
	media_dp_state(up);
}

void media_set_change_hook(media_change_f fn)
{
	md.changed = fn;
}

/* Link a session built elsewhere (read back, a standby's record). */
static void link_in(struct media_session *m)
{
	uint32_t b = hash_str(m->key) & (MEDIA_HASH_BUCKETS - 1);

	m->hnext = md.hash[b];
	md.hash[b] = m;
	m->next = NULL;
	m->prev = md.tail;
	if (md.tail)
		md.tail->next = m;
	else
		md.head = m;
	md.tail = m;
	md.count++;
	/* ids of the node that made it: ours stay above them */
	for (unsigned i = 0; i < m->n_streams; i++)
		if (m->dp[i].id > md.next_dp_id && m->dp[i].id - md.next_dp_id < (1ull << 40))
			md.next_dp_id = m->dp[i].id;
}

int media_adopt(struct media_session *m)
{
	if (find(m->key) != NULL)
		return -EEXIST;
	link_in(m);
	m->adopted = true;
	m->adopt_new = 0;
	m->adopt_taken = 0;
	m->lost = true; /* checked when the connection is up */
	if (media_dp_up()) {
		m->lost = false;
		m->reinst = RI_PORTS;
		reinst_step(m);
		if (m->pending == 0 && !m->lost)
			adopt_done(m);
	}
	return 0;
}

/* ------------------------------------------------------------- standby */

static void standby_free(struct media_session *m)
{
	/* not linked: only its memory (ha_rec_media_parse() allocated it) */
	for (int s = 0; s < 2; s++) {
		for (unsigned p = 0; p < m->side[s].n_parties; p++)
			party_free(m->side[s].parties[p]);
		offered_drop(&m->side[s]);
	}
	explicit_bzero(m->ix, sizeof(m->ix));
	free(m->key);
	free(m);
}

/* Would @p a and @p b install the same thing (ports, sessions, legs and
 * keys; the SRTP indexes aside)? */
static bool same_install(const struct media_session *a, const struct media_session *b)
{
	if (a->n_streams != b->n_streams)
		return false;
	for (int s = 0; s < 2; s++) {
		if ((a->side[s].active < 0) != (b->side[s].active < 0))
			return false;
		for (unsigned i = 0; i < MEDIA_MAX_STREAMS; i++)
			if (a->side[s].port_ok[i] != b->side[s].port_ok[i] ||
			    (a->side[s].port_ok[i] &&
			     memcmp(&a->side[s].ports[i], &b->side[s].ports[i], sizeof(a->side[s].ports[i])) != 0))
				return false;
	}
	for (unsigned i = 0; i < a->n_streams; i++) {
		struct mg_msg_leg wa, wb;
		bool same = true;

		if (a->dp[i].id != b->dp[i].id || a->dp[i].on != b->dp[i].on)
			return false;
		if (!a->dp[i].on || a->side[0].active < 0 || a->side[1].active < 0)
			continue;
		for (int s = 0; s < 2 && same; s++) {
			int ra = fill_wire_leg(a, s, i, NULL, &wa), rb = fill_wire_leg(b, s, i, NULL, &wb);

			same = ra == 0 && rb == 0 && memcmp(&wa, &wb, sizeof(wa)) == 0;
			explicit_bzero(&wa, sizeof(wa));
			explicit_bzero(&wb, sizeof(wb));
		}
		if (!same)
			return false;
	}
	return a->strict == b->strict && a->handover == b->handover;
}

static void standby_drop_done(void *arg, const struct media_result *res)
{
	(void)arg;
	(void)res;
}

int media_standby_put(struct media_session *m)
{
	struct media_session *old = find(m->key);

	m->standby = true;
	m->adopted = false;
	if (old != NULL) {
		if (!old->standby) {
			standby_free(m);
			return -EEXIST;
		}
		if (!old->deleting && same_install(old, m)) {
			memcpy(old->ix, m->ix, sizeof(old->ix));
			md.ctr.standby_updated++;
			standby_free(m);
			return 0;
		}
		if (!old->deleting) {
			md.ctr.standby_replaced++;
			enqueue(old, OP_DELETE, NULL, NULL, NULL, 0, NULL, standby_drop_done, NULL);
		}
		/* installed when the old one is gone (session_free()), also
		 * if mgctl ha promote comes meanwhile: then unblocked */
		if (old->next_rec != NULL)
			standby_free(old->next_rec);
		old->next_rec = m;
		return 0;
	}
	standby_install(m);
	return 0;
}

static void standby_install(struct media_session *m)
{
	if (md.stopping) {
		standby_free(m);
		return;
	}
	/* promoted since its record came: it forwards at once, and its
	 * record is written as this node's (the old one's removal queued a
	 * DEL of the key; this SET replaces it) */
	m->standby = !md.promoted;
	m->created_ms = m->last_signal_ms = wall_ms();
	m->poll_ms = wall_ms(); /* the record's indexes, not this dataplane's, until promoted */
	link_in(m);
	md.ctr.created++;
	md.ctr.standby_installed++;
	if (md.promoted)
		md.ctr.promoted++;
	m->lost = true; /* installed when the connection is up */
	if (media_dp_up()) {
		m->lost = false;
		m->reinst = RI_PORTS;
		reinst_step(m);
	}
	if (md.promoted && md.changed != NULL)
		md.changed(m, false);
}

int media_standby_drop(const char *key)
{
	struct media_session *m = find(key);

	if (m == NULL || !m->standby)
		return -ENOENT;
	if (m->next_rec != NULL) {
		standby_free(m->next_rec); /* its newer record is gone too */
		m->next_rec = NULL;
	}
	if (!m->deleting) {
		md.ctr.standby_removed++;
		enqueue(m, OP_DELETE, NULL, NULL, NULL, 0, NULL, standby_drop_done, NULL);
	}
	return 0;
}

static void on_promoted(void *arg, int result, const void *body)
{
	struct media_session *m = arg;

	(void)body;
	m->pending--;
	if (result < 0) {
		md.ctr.promote_failed++;
		MG_WARN("media %s: taking over: SESSION_MODIFY refused (%s)", m->key, strerror(-result));
	}
	if (m->pending == 0 && m->ops != NULL)
		op_run(m);
}

unsigned media_promote(void)
{
	unsigned n = 0;

	md.promoted = true;
	for (struct media_session *m = md.head; m != NULL; m = m->next) {
		if (!m->standby)
			continue;
		m->standby = false;
		if (m->deleting)
			continue; /* going; a newer record waiting in it is counted when installed */
		n++;
		md.ctr.promoted++;
		/* one still being installed (or waiting for the dataplane) is
		 * installed unblocked: fill_wire_leg() reads the flag */
		if (m->deleting || m->lost || m->reinst != RI_NONE || m->pending > 0 || !media_dp_up())
			continue;
		for (unsigned i = 0; i < m->n_streams; i++) {
			struct mg_msg_session w;

			if (!m->dp[i].on || m->side[0].active < 0 || m->side[1].active < 0)
				continue;
			memset(&w, 0, sizeof(w));
			if (fill_wire_leg(m, 0, i, NULL, &w.legs[0]) < 0 || fill_wire_leg(m, 1, i, NULL, &w.legs[1]) < 0) {
				explicit_bzero(&w, sizeof(w));
				continue;
			}
			media_dp_index_apply(&w, m->ix[i]);
			for (unsigned li = 0; li < 2; li++) {
				if (w.legs[li].rx.suite != MG_SRTP_SUITE_NONE)
					w.legs[li].rx.flags |= MG_CRYPTO_F_ROC_RESET;
				if (w.legs[li].tx.suite != MG_SRTP_SUITE_NONE)
					w.legs[li].tx.flags |= MG_CRYPTO_F_ROC_RESET;
			}
			if (media_dp_session_put(&m->dp[i], &w, 3, on_promoted, m) > 0)
				m->pending++;
			else
				md.ctr.promote_failed++;
			explicit_bzero(&w, sizeof(w));
		}
	}
	return n;
}

unsigned media_standby_count(void)
{
	unsigned n = 0;

	for (const struct media_session *m = md.head; m != NULL; m = m->next)
		n += m->standby;
	return n;
}

void media_reload(const struct mg_settings *s)
{
	settings_take(s);
}

void media_set_drain(bool on)
{
	md.draining = on;
}

void media_set_max_sessions(unsigned n)
{
	md.max_sessions = n;
}

void media_stop(void)
{
	md.stopping = true;
	while (md.head != NULL) {
		struct media_session *m = md.head;

		/* The front ends are stopped first: queued operations are
		 * dropped without their callbacks (nobody is there to answer). */
		media_dp_cancel(m);
		m->pending = 0;
		while (m->ops != NULL) {
			struct media_op *op = m->ops;

			m->ops = op->next;
			free(op->out_sdp);
			free(op->res);
			free(op->parsed);
			free(op->sdp);
			free(op);
		}
		for (unsigned i = 0; i < m->n_streams; i++)
			if (m->dp[i].on && media_dp_up())
				media_dp_session_del(&m->dp[i], NULL, NULL);
		session_free(m);
	}
	media_dp_stop();
}
