/* SPDX-License-Identifier: BSD-3-Clause */
#include "ha_rec.h"

#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_proto.h"
#include "mg_srtp_suite.h"

/* ------------------------------------------------------------ reading */

static const struct ng_limits rec_limits = {
	.max_depth = 8,
	.max_str = HA_REC_STR_MAX,
	.max_items = 4096,
	.max_input = HA_REC_MAX,
};

struct rd {
	char *why;
	size_t wl;
	bool bad;
};

static void bad(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct rd *r, const char *fmt, ...)
{
	va_list ap;

	if (r->bad)
		return;
	r->bad = true;
	va_start(ap, fmt);
	vsnprintf(r->why, r->wl, fmt, ap);
	va_end(ap);
}

static int64_t get_int(struct rd *r, const struct ng_val *d, const char *k, int64_t lo, int64_t hi)
{
	const struct ng_val *v = ng_dict_get(d, k);

	if (v == NULL || v->type != NG_INT) {
		bad(r, "'%s' missing or not a number", k);
		return lo;
	}
	if (v->i < lo || v->i > hi) {
		bad(r, "'%s' %" PRId64 " out of range %" PRId64 "-%" PRId64, k, v->i, lo, hi);
		return lo;
	}
	return v->i;
}

static const char *get_str(struct rd *r, const struct ng_val *d, const char *k, size_t max)
{
	const struct ng_val *v = ng_dict_get(d, k);

	if (v == NULL || v->type != NG_STR) {
		bad(r, "'%s' missing or not a string", k);
		return "";
	}
	if (v->len >= max || strlen(v->s) != v->len) {
		bad(r, "'%s' too long or not text", k);
		return "";
	}
	return v->s;
}

static const struct ng_val *get_typed(struct rd *r, const struct ng_val *d, const char *k, enum ng_type t)
{
	const struct ng_val *v = ng_dict_get(d, k);

	if (v == NULL || v->type != t) {
		bad(r, "'%s' missing or not a %s", k, t == NG_LIST ? "list" : "dict");
		return NULL;
	}
	return v;
}

static void get_hex(struct rd *r, const struct ng_val *d, const char *k, uint8_t *out, size_t n)
{
	const char *s = get_str(r, d, k, 2 * n + 1);

	if (r->bad)
		return;
	if (strlen(s) != 2 * n) {
		bad(r, "'%s' is not %zu hex bytes", k, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned x;

		if (sscanf(s + 2 * i, "%2x", &x) != 1) {
			bad(r, "'%s' is not hex", k);
			return;
		}
		out[i] = (uint8_t)x;
	}
}

static void get_addr(struct rd *r, const struct ng_val *d, const char *k, struct mg_msg_addr *a)
{
	const char *s = get_str(r, d, k, 80);

	memset(a, 0, sizeof(*a));
	if (r->bad || s[0] == '\0')
		return;
	if (mg_proto_addr_parse(s, a) < 0)
		bad(r, "'%s' is not an address", k);
}

static void get_crypto(struct rd *r, const struct ng_val *d, struct media_crypto *c)
{
	const struct ng_val *sv;

	memset(c, 0, sizeof(*c));
	if (d == NULL || d->type != NG_DICT) {
		bad(r, "crypto not a dict");
		return;
	}
	sv = ng_dict_get(d, "suite");
	if (sv == NULL)
		return; /* plain RTP */
	c->suite = mg_srtp_suite_by_name(get_str(r, d, "suite", 64));
	if (c->suite == NULL) {
		bad(r, "unknown SRTP suite");
		return;
	}
	c->tag = (unsigned long)get_int(r, d, "tag", 0, 999999999);
	get_hex(r, d, "key", c->key.key, c->suite->master_key_len);
	get_hex(r, d, "salt", c->key.salt, c->suite->master_salt_len);
	c->key.lifetime = (uint64_t)get_int(r, d, "lifetime", 0, INT64_MAX);
	c->key.mki = (uint32_t)get_int(r, d, "mki", 0, UINT32_MAX);
	c->key.mki_len = (uint8_t)get_int(r, d, "mki_len", 0, 4);
}

static void get_port(struct rd *r, const struct ng_val *d, struct mg_msg_port *p, bool *ok)
{
	memset(p, 0, sizeof(*p));
	*ok = false;
	if (d == NULL || d->type != NG_DICT) {
		bad(r, "port not a dict");
		return;
	}
	*ok = get_int(r, d, "ok", 0, 1) != 0;
	if (!*ok)
		return;
	get_addr(r, d, "local", &p->local);
	p->rtcp_port = (uint16_t)get_int(r, d, "rtcp", 1, 65535);
	p->flags = (uint8_t)get_int(r, d, "flags", 0, 255);
	if (!r->bad && p->local.family == MG_FAMILY_NONE)
		bad(r, "a port without its address");
}

static void get_index(struct rd *r, const struct ng_val *l, struct media_dp_index ix[2][2])
{
	const struct ng_val *e = l ? l->child : NULL;

	memset(ix, 0, sizeof(struct media_dp_index) * 4);
	if (l == NULL || l->type != NG_LIST || l->len != 4) {
		bad(r, "'index' is not 4 entries");
		return;
	}
	for (int i = 0; i < 4; i++, e = e->next) {
		const struct ng_val *a = e->child, *b, *c;

		if (e->type != NG_LIST || e->len != 3 || (b = a->next) == NULL || (c = b->next) == NULL ||
		    a->type != NG_INT || b->type != NG_INT || c->type != NG_INT || a->i < 0 ||
		    a->i > UINT32_MAX || b->i < 0 || b->i > 65535 || c->i < 0 || c->i > 1) {
			bad(r, "'index' entry %d malformed", i);
			return;
		}
		ix[i / 2][i % 2].roc = (uint32_t)a->i;
		ix[i / 2][i % 2].seq = (uint16_t)b->i;
		ix[i / 2][i % 2].valid = c->i != 0;
	}
}

static void get_side(struct rd *r, const struct ng_val *d, struct media_session *m, int s)
{
	struct media_side *sd = &m->side[s];
	const struct ng_val *ports, *parties, *off, *e;
	unsigned i = 0;

	if (d == NULL || d->type != NG_DICT) {
		bad(r, "side not a dict");
		return;
	}
	ports = get_typed(r, d, "ports", NG_LIST);
	parties = get_typed(r, d, "parties", NG_LIST);
	if (r->bad)
		return;
	if (ports->len != m->n_streams) {
		bad(r, "side %d: %zu ports for %u streams", s, ports->len, m->n_streams);
		return;
	}
	for (e = ports->child; e != NULL; e = e->next, i++)
		get_port(r, e, &sd->ports[i], &sd->port_ok[i]);
	sd->rtcp_attr = get_int(r, d, "rtcp_attr", 0, 1) != 0;
	if (parties->len > MEDIA_MAX_PARTIES) {
		bad(r, "side %d: %zu parties", s, parties->len);
		return;
	}
	sd->active = (int)get_int(r, d, "active", -1, (int64_t)parties->len - 1);
	for (e = parties->child; e != NULL && !r->bad; e = e->next) {
		struct media_party *p = calloc(1, sizeof(*p));
		const struct ng_val *legs, *lv;
		unsigned li = 0;

		if (p == NULL) {
			bad(r, "out of memory");
			return;
		}
		sd->parties[sd->n_parties++] = p;
		if (e->type != NG_DICT) {
			bad(r, "party not a dict");
			return;
		}
		snprintf(p->tag, sizeof(p->tag), "%s", get_str(r, e, "tag", MEDIA_TAG_MAX));
		p->answered = get_int(r, e, "answered", 0, 1) != 0;
		p->blocked = get_int(r, e, "blocked", 0, 1) != 0;
		legs = get_typed(r, e, "legs", NG_LIST);
		if (r->bad)
			return;
		if (legs->len > MEDIA_MAX_STREAMS) {
			bad(r, "party with %zu legs", legs->len);
			return;
		}
		if (legs->len > 0) {
			p->legs = calloc(legs->len, sizeof(*p->legs));
			if (p->legs == NULL) {
				bad(r, "out of memory");
				return;
			}
			p->n_legs = (unsigned)legs->len;
		}
		for (lv = legs->child; lv != NULL && !r->bad; lv = lv->next, li++) {
			struct media_leg *l = &p->legs[li];

			if (lv->type != NG_DICT) {
				bad(r, "leg not a dict");
				return;
			}
			get_addr(r, lv, "remote", &l->remote);
			l->remote_rtcp_port = (uint16_t)get_int(r, lv, "rtcp", 0, 65535);
			l->rtcp_mux = get_int(r, lv, "mux", 0, 1) != 0;
			l->relayed = get_int(r, lv, "relayed", 0, 1) != 0;
			snprintf(l->profile, sizeof(l->profile), "%s", get_str(r, lv, "profile", sizeof(l->profile)));
			snprintf(l->media_type, sizeof(l->media_type), "%s",
				 get_str(r, lv, "media", sizeof(l->media_type)));
			get_crypto(r, ng_dict_get(lv, "rx"), &l->rx);
			get_crypto(r, ng_dict_get(lv, "tx"), &l->tx);
		}
	}
	off = ng_dict_get(d, "offered");
	if (off == NULL || r->bad)
		return;
	if (off->type != NG_LIST || off->len > m->n_streams) {
		bad(r, "'offered' malformed");
		return;
	}
	sd->offered = calloc(off->len ? off->len : 1, sizeof(*sd->offered));
	if (sd->offered == NULL) {
		bad(r, "out of memory");
		return;
	}
	sd->n_offered_streams = (uint8_t)off->len;
	i = 0;
	for (e = off->child; e != NULL && !r->bad; e = e->next, i++) {
		const struct ng_val *keys, *k;
		unsigned n = 0;

		if (e->type != NG_DICT) {
			bad(r, "'offered' entry not a dict");
			return;
		}
		sd->mux_offered[i] = get_int(r, e, "mux", 0, 1) != 0;
		keys = get_typed(r, e, "keys", NG_LIST);
		if (r->bad)
			return;
		if (keys->len > MG_SRTP_SUITE_COUNT) {
			bad(r, "too many offered keys");
			return;
		}
		for (k = keys->child; k != NULL; k = k->next, n++)
			get_crypto(r, k, &sd->offered[i][n]);
		sd->n_offered[i] = (uint8_t)n;
	}
}

void ha_rec_media_free(struct media_session *m)
{
	if (m == NULL)
		return;
	for (int s = 0; s < 2; s++) {
		struct media_side *sd = &m->side[s];

		for (unsigned p = 0; p < sd->n_parties; p++) {
			if (sd->parties[p]->legs != NULL)
				explicit_bzero(sd->parties[p]->legs, sd->parties[p]->n_legs * sizeof(struct media_leg));
			free(sd->parties[p]->legs);
			free(sd->parties[p]);
		}
		if (sd->offered != NULL) {
			explicit_bzero(sd->offered, sizeof(*sd->offered) * (sd->n_offered_streams ? sd->n_offered_streams : 1));
			free(sd->offered);
		}
	}
	free(m->key);
	free(m);
}

/* Secrets in the decoder's arena (the hex keys) are overwritten before it
 * is freed. */
static void wipe(const struct ng_val *v)
{
	for (; v != NULL; v = v->next) {
		if (v->type == NG_STR && v->key != NULL &&
		    (strcmp(v->key, "key") == 0 || strcmp(v->key, "salt") == 0))
			explicit_bzero((void *)(uintptr_t)v->s, v->len); /* the arena is ours */
		if (v->type == NG_LIST || v->type == NG_DICT)
			wipe(v->child);
	}
}

int ha_rec_kind(const char *buf, size_t len)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *root = NULL;
	char why[128];
	int kind = 0;

	if (d == NULL)
		return 0;
	if (ng_json_decode(d, buf, len, &rec_limits, &root, why, sizeof(why)) == 0 && root->type == NG_DICT) {
		const struct ng_val *v = ng_dict_get(root, "v");
		const char *k = ng_dict_str(root, "kind");

		if (v != NULL && v->type == NG_INT && v->i == HA_REC_VERSION && k != NULL)
			kind = strcmp(k, "ng") == 0 ? 'n' : strcmp(k, "call") == 0 ? 'c' : 0;
		wipe(root);
	}
	ng_doc_free(d);
	return kind;
}

struct media_session *ha_rec_media_parse(const char *buf, size_t len, char *why, size_t wl)
{
	struct rd r = { .why = why, .wl = wl };
	struct ng_doc *d = ng_doc_new();
	struct ng_val *root = NULL;
	struct media_session *m = NULL;
	const struct ng_val *dp, *sides, *e;
	const char *key, *kind;
	unsigned i = 0;

	snprintf(why, wl, "ok");
	if (d == NULL) {
		snprintf(why, wl, "out of memory");
		return NULL;
	}
	if (ng_json_decode(d, buf, len, &rec_limits, &root, why, wl) < 0) {
		ng_doc_free(d);
		return NULL;
	}
	if (root->type != NG_DICT) {
		bad(&r, "not a JSON object");
		goto out;
	}
	get_int(&r, root, "v", HA_REC_VERSION, HA_REC_VERSION);
	kind = get_str(&r, root, "kind", 8);
	if (!r.bad && strcmp(kind, "ng") != 0)
		bad(&r, "not an NG session record");
	key = get_str(&r, root, "key", 4096);
	if (r.bad)
		goto out;
	if (key[0] == '\0') {
		bad(&r, "empty key");
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->key = strdup(key)) == NULL) {
		bad(&r, "out of memory");
		goto out;
	}
	m->side[0].active = m->side[1].active = -1;
	m->created_ms = (uint64_t)get_int(&r, root, "created", 0, INT64_MAX);
	m->last_signal_ms = (uint64_t)get_int(&r, root, "signal", 0, INT64_MAX);
	snprintf(m->label, sizeof(m->label), "%s", get_str(&r, root, "label", sizeof(m->label)));
	m->handover = get_int(&r, root, "handover", 0, 1) != 0;
	m->strict = get_int(&r, root, "strict", 0, 1) != 0;
	m->n_streams = (unsigned)get_int(&r, root, "streams", 0, MEDIA_MAX_STREAMS);
	dp = get_typed(&r, root, "dp", NG_LIST);
	sides = get_typed(&r, root, "sides", NG_LIST);
	if (r.bad)
		goto out;
	if (dp->len != m->n_streams || sides->len != 2) {
		bad(&r, "%zu dataplane sessions and %zu sides for %u streams", dp->len, sides->len, m->n_streams);
		goto out;
	}
	for (e = dp->child; e != NULL && !r.bad; e = e->next, i++) {
		const char *id;
		char *end;

		if (e->type != NG_DICT) {
			bad(&r, "'dp' entry not a dict");
			break;
		}
		id = get_str(&r, e, "id", 17);
		if (r.bad)
			break;
		errno = 0;
		m->dp[i].id = strtoull(id, &end, 16);
		if (errno != 0 || *end != '\0' || id[0] == '\0' || id[0] == '-') {
			bad(&r, "'id' is not hex");
			break;
		}
		m->dp[i].on = get_int(&r, e, "on", 0, 1) != 0;
		get_index(&r, ng_dict_get(e, "index"), m->ix[i]);
	}
	get_side(&r, sides->child, m, 0);
	get_side(&r, sides->child->next, m, 1);
	/* what the re-install reads must be there */
	for (int s = 0; s < 2 && !r.bad; s++) {
		const struct media_side *sd = &m->side[s];

		if (sd->active >= 0 && sd->parties[sd->active]->n_legs < m->n_streams)
			bad(&r, "side %d: the active party has fewer legs than streams", s);
	}
out:
	wipe(root);
	ng_doc_free(d);
	if (r.bad) {
		ha_rec_media_free(m);
		return NULL;
	}
	return m;
}

/* ------------------------------------------------------- a call read back */

static void get_policy(struct rd *r, const struct ng_val *d, struct mg_srtp_policy *p)
{
	const struct mg_srtp_suite_info *si;
	const struct ng_val *keys, *k;
	unsigned n = 0;

	memset(p, 0, sizeof(*p));
	if (d == NULL || d->type != NG_DICT) {
		bad(r, "SRTP policy not a dict");
		return;
	}
	si = mg_srtp_suite_by_name(get_str(r, d, "suite", 64));
	if (r->bad)
		return;
	if (si == NULL) {
		bad(r, "unknown SRTP suite");
		return;
	}
	p->suite = si->id;
	p->dir = (enum mg_srtp_dir)get_int(r, d, "dir", MG_SRTP_DIR_OUTBOUND, MG_SRTP_DIR_INBOUND);
	p->mki_len = (uint8_t)get_int(r, d, "mki_len", 0, MG_SRTP_MKI_MAX);
	p->active_key = (uint8_t)get_int(r, d, "active", 0, MG_SRTP_KEYS_MAX - 1);
	keys = get_typed(r, d, "keys", NG_LIST);
	if (r->bad)
		return;
	if (keys->len < 1 || keys->len > MG_SRTP_KEYS_MAX || p->active_key >= keys->len) {
		bad(r, "SRTP policy with %zu keys", keys->len);
		return;
	}
	for (k = keys->child; k != NULL && !r->bad; k = k->next, n++) {
		if (k->type != NG_DICT) {
			bad(r, "SRTP key not a dict");
			return;
		}
		get_hex(r, k, "key", p->keys[n].key, si->master_key_len);
		get_hex(r, k, "salt", p->keys[n].salt, si->master_salt_len);
		get_hex(r, k, "mki", p->keys[n].mki, p->mki_len);
		p->keys[n].lifetime = (uint64_t)get_int(r, k, "lifetime", 0, INT64_MAX);
	}
	p->nkeys = (uint8_t)n;
}

static uint64_t get_u64_text(struct rd *r, const struct ng_val *d, const char *k)
{
	const char *s = get_str(r, d, k, 24);
	char *end;
	uint64_t v;

	if (r->bad)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0)
		bad(r, "'%s' is not a number", k);
	return v;
}

static struct sdp_result *get_neg(struct rd *r, const struct ng_val *d)
{
	struct sdp_result *res, *kept;
	const struct ng_val *pts, *e;
	const char *sdp;

	if (d == NULL || d->type != NG_DICT) {
		bad(r, "'neg' missing");
		return NULL;
	}
	res = calloc(1, sizeof(*res));
	if (res == NULL) {
		bad(r, "out of memory");
		return NULL;
	}
	res->srtp = get_int(r, d, "srtp", 0, 1) != 0;
	if (res->srtp) {
		const struct mg_srtp_suite_info *si = mg_srtp_suite_by_name(get_str(r, d, "suite", 64));

		if (si == NULL) {
			bad(r, "unknown SRTP suite");
		} else {
			res->suite = si->id;
			res->crypto_tag = (unsigned long)get_int(r, d, "crypto_tag", 0, 999999999);
			get_policy(r, ng_dict_get(d, "rx"), &res->rx);
			get_policy(r, ng_dict_get(d, "tx"), &res->tx);
			get_hex(r, d, "local_key", res->local_key.key, si->master_key_len);
			get_hex(r, d, "local_salt", res->local_key.salt, si->master_salt_len);
			res->local_key.lifetime = (uint64_t)get_int(r, d, "local_lifetime", 0, INT64_MAX);
		}
	}
	res->ms_dialect = get_int(r, d, "ms_dialect", 0, 1) != 0;
	snprintf(res->remote_addr, sizeof(res->remote_addr), "%s", get_str(r, d, "remote_addr", sizeof(res->remote_addr)));
	res->remote_family = get_int(r, d, "family", 4, 6) == 6 ? AF_INET6 : AF_INET;
	res->remote_rtp_port = (uint16_t)get_int(r, d, "rtp_port", 0, 65535);
	res->remote_rtcp_port = (uint16_t)get_int(r, d, "rtcp_port", 0, 65535);
	res->rtcp_mux = get_int(r, d, "mux", 0, 1) != 0;
	res->dir = (enum sdp_dir)get_int(r, d, "dir", SDP_DIR_INACTIVE, SDP_DIR_SENDRECV);
	res->hold = get_int(r, d, "hold", 0, 1) != 0;
	pts = get_typed(r, d, "pts", NG_LIST);
	if (pts != NULL && pts->len > SDP_MAX_PTS)
		bad(r, "%zu payload types", pts->len);
	for (e = pts ? pts->child : NULL; e != NULL && !r->bad; e = e->next) {
		struct sdp_pt *p = &res->pts[res->n_pts++];

		if (e->type != NG_DICT) {
			bad(r, "payload type not a dict");
			break;
		}
		p->pt = (uint8_t)get_int(r, e, "pt", 0, 127);
		snprintf(p->name, sizeof(p->name), "%s", get_str(r, e, "name", sizeof(p->name)));
		p->rate = (unsigned)get_int(r, e, "rate", 0, 1000000);
		snprintf(p->params, sizeof(p->params), "%s", get_str(r, e, "params", sizeof(p->params)));
		snprintf(p->fmtp, sizeof(p->fmtp), "%s", get_str(r, e, "fmtp", sizeof(p->fmtp)));
	}
	res->telephone_event_pt = (int)get_int(r, d, "te_pt", -1, 127);
	res->ptime = (unsigned)get_int(r, d, "ptime", 0, 10000);
	res->media_index = (unsigned)get_int(r, d, "media_index", 0, 64);
	res->sess_id = get_u64_text(r, d, "sess_id");
	res->sess_version = get_u64_text(r, d, "sess_version");
	sdp = get_str(r, d, "sdp", sizeof(res->sdp));
	if (!r->bad) {
		snprintf(res->sdp, sizeof(res->sdp), "%s", sdp);
		res->sdp_len = strlen(res->sdp);
		if (res->remote_addr[0] == '\0' || res->sdp_len == 0)
			bad(r, "negotiation without an address or our SDP");
	}
	kept = r->bad ? NULL : sdp_result_keep(res);
	if (!r->bad && kept == NULL)
		bad(r, "out of memory");
	explicit_bzero(res, sizeof(*res));
	free(res);
	return kept;
}

/* A dialog's identifier or URI: text that goes into our SIP headers, so no
 * control character (a CR LF would add a header of the record's making). */
static void get_text(struct rd *r, const struct ng_val *d, const char *k, char **out)
{
	const char *s = get_str(r, d, k, HA_REC_STR_MAX);

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			bad(r, "'%s' has a control character", k);
			s = "";
			break;
		}
	/* whole, as long as it is (the writer keeps to HA_REC_STR_MAX) */
	if ((*out = strdup(s)) == NULL)
		bad(r, "out of memory");
}

void ha_rec_adopt_free(struct calls_adopt *a)
{
	for (int i = 0; i < 2; i++) {
		struct calls_adopt_leg *l = &a->leg[i];

		sdp_result_free(l->neg);
		l->neg = NULL;
		free(l->call_id);
		free(l->local_tag);
		free(l->remote_tag);
		free(l->local_uri);
		free(l->remote_uri);
		free(l->remote_target);
		free(l->route);
		l->call_id = l->local_tag = l->remote_tag = NULL;
		l->local_uri = l->remote_uri = l->remote_target = l->route = NULL;
	}
}

int ha_rec_call_parse(const char *buf, size_t len, struct calls_adopt *out, char *why, size_t wl)
{
	struct rd r = { .why = why, .wl = wl };
	struct ng_doc *d = ng_doc_new();
	struct ng_val *root = NULL;
	const struct ng_val *legs, *e;
	const char *kind;
	int li = 0;

	memset(out, 0, sizeof(*out));
	snprintf(why, wl, "ok");
	if (d == NULL) {
		snprintf(why, wl, "out of memory");
		return -ENOMEM;
	}
	if (ng_json_decode(d, buf, len, &rec_limits, &root, why, wl) < 0) {
		ng_doc_free(d);
		return -EINVAL;
	}
	if (root->type != NG_DICT) {
		bad(&r, "not a JSON object");
		goto out;
	}
	get_int(&r, root, "v", HA_REC_VERSION, HA_REC_VERSION);
	kind = get_str(&r, root, "kind", 8);
	if (!r.bad && strcmp(kind, "call") != 0)
		bad(&r, "not a call record");
	if (!r.bad && strcmp(get_str(&r, root, "state", 16), "active") != 0)
		bad(&r, "not an active call (set-up or ending calls are not taken over)");
	{
		const char *sess = get_str(&r, root, "sess", 17);
		char *end;

		errno = 0;
		out->sess_id = strtoull(sess, &end, 16);
		if (!r.bad && (sess[0] == '\0' || sess[0] == '-' || *end != '\0' || errno != 0))
			bad(&r, "'sess' is not hex");
	}
	if (!r.bad && out->sess_id == 0)
		bad(&r, "no dataplane session");
	out->started = (time_t)get_int(&r, root, "started", 0, INT64_MAX);
	get_index(&r, ng_dict_get(root, "index"), out->ix);
	legs = get_typed(&r, root, "legs", NG_LIST);
	if (r.bad)
		goto out;
	if (legs->len != 2) {
		bad(&r, "%zu legs", legs->len);
		goto out;
	}
	for (e = legs->child; e != NULL && !r.bad; e = e->next, li++) {
		struct calls_adopt_leg *l = &out->leg[li];
		bool ok;

		if (e->type != NG_DICT) {
			bad(&r, "leg not a dict");
			break;
		}
		if (strcmp(get_str(&r, e, "kind", 8), "sip") != 0) {
			bad(&r, "leg %d is not a SIP dialog", li);
			break;
		}
		get_text(&r, e, "call_id", &l->call_id);
		get_text(&r, e, "local_tag", &l->local_tag);
		get_text(&r, e, "remote_tag", &l->remote_tag);
		get_text(&r, e, "local_uri", &l->local_uri);
		get_text(&r, e, "remote_uri", &l->remote_uri);
		get_text(&r, e, "remote_target", &l->remote_target);
		get_text(&r, e, "route", &l->route);
		/* ours goes on at +1 and stays below 2^31 (RFC 3261 8.1.1.5) */
		l->remote_cseq = (uint32_t)get_int(&r, e, "remote_cseq", 0, UINT32_MAX);
		l->local_cseq = (uint32_t)get_int(&r, e, "local_cseq", 0, INT32_MAX - 1);
		l->ua = (unsigned)get_int(&r, e, "ua", 0, 64);
		get_port(&r, ng_dict_get(e, "port"), &l->port, &ok);
		if (!r.bad && !ok)
			bad(&r, "leg %d has no media port", li);
		if (!r.bad && (*l->call_id == '\0' || *l->local_tag == '\0' || *l->remote_tag == '\0' ||
			       *l->remote_target == '\0' || *l->local_uri == '\0' || *l->remote_uri == '\0'))
			bad(&r, "leg %d's dialog is not complete", li);
		if (!r.bad)
			l->neg = get_neg(&r, ng_dict_get(e, "neg"));
	}
out:
	wipe(root);
	ng_doc_free(d);
	if (r.bad) {
		ha_rec_adopt_free(out);
		return -EINVAL;
	}
	return 0;
}
