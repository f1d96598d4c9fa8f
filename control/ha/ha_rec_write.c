/* SPDX-License-Identifier: BSD-3-Clause */
#include "ha_rec.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_proto.h"
#include "mg_srtp_suite.h"

/* ------------------------------------------------------------ writing */

static struct ng_val *hex_val(struct ng_doc *d, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	static const char hx[] = "0123456789abcdef";

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = hx[p[i] >> 4];
		buf[2 * i + 1] = hx[p[i] & 15];
	}
	buf[2 * n] = '\0';
	return ng_new_str(d, buf);
}

static struct ng_val *addr_val(struct ng_doc *d, const struct mg_msg_addr *a)
{
	char buf[80];

	if (a->family == MG_FAMILY_NONE)
		return ng_new_str(d, "");
	return ng_new_str(d, mg_proto_addr_str(a, buf, sizeof(buf)));
}

static struct ng_val *crypto_val(struct ng_doc *d, const struct media_crypto *c)
{
	struct ng_val *v = ng_new_dict(d);

	if (c->suite == NULL)
		return v;
	ng_dict_add_str(d, v, "suite", c->suite->sdes_name);
	ng_dict_add_int(d, v, "tag", (int64_t)c->tag);
	ng_dict_add(d, v, "key", hex_val(d, c->key.key, c->suite->master_key_len));
	ng_dict_add(d, v, "salt", hex_val(d, c->key.salt, c->suite->master_salt_len));
	ng_dict_add_int(d, v, "lifetime", (int64_t)(c->key.lifetime & INT64_MAX));
	ng_dict_add_int(d, v, "mki", c->key.mki);
	ng_dict_add_int(d, v, "mki_len", c->key.mki_len);
	return v;
}

static struct ng_val *port_val(struct ng_doc *d, const struct mg_msg_port *p, bool ok)
{
	struct ng_val *v = ng_new_dict(d);

	ng_dict_add_int(d, v, "ok", ok);
	if (!ok)
		return v;
	ng_dict_add(d, v, "local", addr_val(d, &p->local));
	ng_dict_add_int(d, v, "rtcp", p->rtcp_port);
	ng_dict_add_int(d, v, "flags", p->flags);
	return v;
}

static struct ng_val *leg_val(struct ng_doc *d, const struct media_leg *l)
{
	struct ng_val *v = ng_new_dict(d);

	ng_dict_add(d, v, "remote", addr_val(d, &l->remote));
	ng_dict_add_int(d, v, "rtcp", l->remote_rtcp_port);
	ng_dict_add_int(d, v, "mux", l->rtcp_mux);
	ng_dict_add_int(d, v, "relayed", l->relayed);
	ng_dict_add_str(d, v, "profile", l->profile);
	ng_dict_add_str(d, v, "media", l->media_type);
	ng_dict_add(d, v, "rx", crypto_val(d, &l->rx));
	ng_dict_add(d, v, "tx", crypto_val(d, &l->tx));
	return v;
}

static struct ng_val *index_val(struct ng_doc *d, const struct media_dp_index ix[2][2])
{
	struct ng_val *v = ng_new_list(d);

	for (int l = 0; l < 2; l++)
		for (int dir = 0; dir < 2; dir++) {
			struct ng_val *e = ng_new_list(d);

			ng_list_add(e, ng_new_int(d, ix[l][dir].roc));
			ng_list_add(e, ng_new_int(d, ix[l][dir].seq));
			ng_list_add(e, ng_new_int(d, ix[l][dir].valid));
			ng_list_add(v, e);
		}
	return v;
}

static struct ng_val *side_val(struct ng_doc *d, const struct media_session *m, int s)
{
	const struct media_side *sd = &m->side[s];
	struct ng_val *v = ng_new_dict(d), *ports = ng_new_list(d), *parties = ng_new_list(d);

	for (unsigned i = 0; i < m->n_streams && i < MEDIA_MAX_STREAMS; i++)
		ng_list_add(ports, port_val(d, &sd->ports[i], sd->port_ok[i]));
	ng_dict_add(d, v, "ports", ports);
	ng_dict_add_int(d, v, "active", sd->active);
	ng_dict_add_int(d, v, "rtcp_attr", sd->rtcp_attr);
	for (unsigned p = 0; p < sd->n_parties; p++) {
		const struct media_party *pt = sd->parties[p];
		struct ng_val *pv = ng_new_dict(d), *legs = ng_new_list(d);

		ng_dict_add_str(d, pv, "tag", pt->tag);
		ng_dict_add_int(d, pv, "answered", pt->answered);
		ng_dict_add_int(d, pv, "blocked", pt->blocked);
		for (unsigned i = 0; i < pt->n_legs; i++)
			ng_list_add(legs, leg_val(d, &pt->legs[i]));
		ng_dict_add(d, pv, "legs", legs);
		ng_list_add(parties, pv);
	}
	ng_dict_add(d, v, "parties", parties);
	if (sd->offered != NULL) {
		struct ng_val *off = ng_new_list(d);

		for (unsigned i = 0; i < sd->n_offered_streams; i++) {
			struct ng_val *st = ng_new_dict(d), *keys = ng_new_list(d);

			ng_dict_add_int(d, st, "mux", sd->mux_offered[i]);
			for (unsigned k = 0; k < sd->n_offered[i] && k < MG_SRTP_SUITE_COUNT; k++)
				ng_list_add(keys, crypto_val(d, &sd->offered[i][k]));
			ng_dict_add(d, st, "keys", keys);
			ng_list_add(off, st);
		}
		ng_dict_add(d, v, "offered", off);
	}
	return v;
}

/* A string the reader would refuse (HA_REC_STR_MAX). */
static bool too_long(const struct ng_val *v)
{
	if (v->type == NG_STR)
		return v->len >= HA_REC_STR_MAX;
	if (v->type == NG_LIST || v->type == NG_DICT)
		for (const struct ng_val *c = v->child; c != NULL; c = c->next)
			if (too_long(c))
				return true;
	return false;
}

static int finish(struct ng_doc *d, struct ng_val *root, struct ng_buf *out)
{
	size_t start = out->len;
	int rc;

	if (root == NULL) {
		ng_doc_free(d);
		return -ENOMEM;
	}
	rc = too_long(root) ? -E2BIG : ng_json_encode(root, out);
	ng_doc_free(d);
	if (rc == 0 && out->len - start > HA_REC_MAX) {
		explicit_bzero(out->p + start, out->len - start);
		out->len = start;
		rc = -E2BIG;
	}
	return rc;
}

int ha_rec_media(const struct media_session *m, struct ng_buf *out)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *root, *dp;

	if (d == NULL)
		return -ENOMEM;
	root = ng_new_dict(d);
	ng_dict_add_int(d, root, "v", HA_REC_VERSION);
	ng_dict_add_str(d, root, "kind", "ng");
	ng_dict_add_str(d, root, "key", m->key);
	ng_dict_add_int(d, root, "created", (int64_t)m->created_ms);
	ng_dict_add_int(d, root, "signal", (int64_t)m->last_signal_ms);
	ng_dict_add_str(d, root, "label", m->label);
	ng_dict_add_int(d, root, "handover", m->handover);
	ng_dict_add_int(d, root, "strict", m->strict);
	ng_dict_add_int(d, root, "streams", m->n_streams);
	dp = ng_new_list(d);
	for (unsigned i = 0; i < m->n_streams && i < MEDIA_MAX_STREAMS; i++) {
		struct ng_val *e = ng_new_dict(d);

		ng_dict_add(d, e, "id", ng_new_strf(d, "%016" PRIx64, m->dp[i].id));
		ng_dict_add_int(d, e, "on", m->dp[i].on);
		ng_dict_add(d, e, "index", index_val(d, m->ix[i]));
		ng_list_add(dp, e);
	}
	ng_dict_add(d, root, "dp", dp);
	{
		struct ng_val *sides = ng_new_list(d);

		ng_list_add(sides, side_val(d, m, 0));
		ng_list_add(sides, side_val(d, m, 1));
		ng_dict_add(d, root, "sides", sides);
	}
	return finish(d, root, out);
}

static struct ng_val *policy_val(struct ng_doc *d, const struct mg_srtp_policy *p)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(p->suite);
	struct ng_val *v = ng_new_dict(d), *keys = ng_new_list(d);

	if (si == NULL)
		return v;
	ng_dict_add_str(d, v, "suite", si->sdes_name);
	ng_dict_add_int(d, v, "dir", p->dir);
	ng_dict_add_int(d, v, "mki_len", p->mki_len);
	ng_dict_add_int(d, v, "active", p->active_key);
	for (unsigned k = 0; k < p->nkeys && k < MG_SRTP_KEYS_MAX; k++) {
		struct ng_val *kv = ng_new_dict(d);

		ng_dict_add(d, kv, "key", hex_val(d, p->keys[k].key, si->master_key_len));
		ng_dict_add(d, kv, "salt", hex_val(d, p->keys[k].salt, si->master_salt_len));
		ng_dict_add(d, kv, "mki", hex_val(d, p->keys[k].mki, p->mki_len));
		ng_dict_add_int(d, kv, "lifetime", (int64_t)(p->keys[k].lifetime & INT64_MAX));
		ng_list_add(keys, kv);
	}
	ng_dict_add(d, v, "keys", keys);
	return v;
}

/* What the re-adoption needs of a leg's negotiation (struct sdp_result):
 * the media the dataplane session is built from, and our last SDP, from
 * which the re-INVITE's offer is made. */
static struct ng_val *neg_val(struct ng_doc *d, const struct sdp_result *r)
{
	struct ng_val *v = ng_new_dict(d), *pts = ng_new_list(d);
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(r->suite);

	ng_dict_add_int(d, v, "srtp", r->srtp);
	if (r->srtp && si != NULL) {
		ng_dict_add_str(d, v, "suite", si->sdes_name);
		ng_dict_add_int(d, v, "crypto_tag", (int64_t)r->crypto_tag);
		ng_dict_add(d, v, "rx", policy_val(d, &r->rx));
		ng_dict_add(d, v, "tx", policy_val(d, &r->tx));
		ng_dict_add(d, v, "local_key", hex_val(d, r->local_key.key, si->master_key_len));
		ng_dict_add(d, v, "local_salt", hex_val(d, r->local_key.salt, si->master_salt_len));
		ng_dict_add_int(d, v, "local_lifetime", (int64_t)(r->local_key.lifetime & INT64_MAX));
	}
	ng_dict_add_int(d, v, "ms_dialect", r->ms_dialect);
	ng_dict_add_str(d, v, "remote_addr", r->remote_addr);
	ng_dict_add_int(d, v, "family", r->remote_family == AF_INET6 ? 6 : 4);
	ng_dict_add_int(d, v, "rtp_port", r->remote_rtp_port);
	ng_dict_add_int(d, v, "rtcp_port", r->remote_rtcp_port);
	ng_dict_add_int(d, v, "mux", r->rtcp_mux);
	ng_dict_add_int(d, v, "dir", r->dir);
	ng_dict_add_int(d, v, "hold", r->hold);
	for (unsigned i = 0; i < r->n_pts && i < SDP_MAX_PTS; i++) {
		struct ng_val *p = ng_new_dict(d);

		ng_dict_add_int(d, p, "pt", r->pts[i].pt);
		ng_dict_add_str(d, p, "name", r->pts[i].name);
		ng_dict_add_int(d, p, "rate", r->pts[i].rate);
		ng_dict_add_str(d, p, "params", r->pts[i].params);
		ng_dict_add_str(d, p, "fmtp", r->pts[i].fmtp);
		ng_list_add(pts, p);
	}
	ng_dict_add(d, v, "pts", pts);
	ng_dict_add_int(d, v, "te_pt", r->telephone_event_pt);
	ng_dict_add_int(d, v, "ptime", r->ptime);
	ng_dict_add_int(d, v, "media_index", r->media_index);
	ng_dict_add(d, v, "sess_id", ng_new_strf(d, "%" PRIu64, r->sess_id));
	ng_dict_add(d, v, "sess_version", ng_new_strf(d, "%" PRIu64, r->sess_version));
	ng_dict_add_str(d, v, "sdp", r->sdp);
	return v;
}

static struct ng_val *call_leg_val(struct ng_doc *d, const struct calls_state_leg *l)
{
	struct ng_val *v = ng_new_dict(d);

	ng_dict_add_str(d, v, "state", l->state);
	ng_dict_add_str(d, v, "kind", l->sip ? "sip" : "pstn");
	ng_dict_add(d, v, "port", port_val(d, &l->port, l->port_ok));
	if (l->sip) {
		ng_dict_add_str(d, v, "call_id", l->call_id);
		ng_dict_add_str(d, v, "local_tag", l->local_tag);
		ng_dict_add_str(d, v, "remote_tag", l->remote_tag);
		ng_dict_add_str(d, v, "local_uri", l->local_uri);
		ng_dict_add_str(d, v, "remote_uri", l->remote_uri);
		ng_dict_add_str(d, v, "remote_target", l->remote_target);
		ng_dict_add_str(d, v, "route", l->route);
		ng_dict_add_int(d, v, "remote_cseq", l->remote_cseq);
		ng_dict_add_int(d, v, "local_cseq", l->local_cseq);
		ng_dict_add_int(d, v, "ua", l->ua);
		if (l->neg != NULL)
			ng_dict_add(d, v, "neg", neg_val(d, l->neg));
	} else {
		ng_dict_add_int(d, v, "channo", l->channo);
	}
	if (l->remote.family != MG_FAMILY_NONE)
		ng_dict_add(d, v, "remote", addr_val(d, &l->remote));
	if (l->srtp) {
		struct media_crypto rx = { .suite = l->suite, .tag = l->crypto_tag, .key = l->rx_key };
		struct media_crypto tx = { .suite = l->suite, .tag = l->crypto_tag, .key = l->tx_key };

		ng_dict_add(d, v, "rx", crypto_val(d, &rx));
		ng_dict_add(d, v, "tx", crypto_val(d, &tx));
		explicit_bzero(&rx, sizeof(rx));
		explicit_bzero(&tx, sizeof(tx));
	}
	return v;
}

int ha_rec_call(const struct calls_state *c, struct ng_buf *out)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *root, *legs;

	if (d == NULL)
		return -ENOMEM;
	root = ng_new_dict(d);
	ng_dict_add_int(d, root, "v", HA_REC_VERSION);
	ng_dict_add_str(d, root, "kind", "call");
	ng_dict_add_int(d, root, "id", c->id);
	ng_dict_add_str(d, root, "state", c->state);
	ng_dict_add_int(d, root, "started", (int64_t)c->started);
	ng_dict_add(d, root, "sess", ng_new_strf(d, "%016" PRIx64, c->sess_id));
	ng_dict_add_int(d, root, "sess_on", c->sess_on);
	ng_dict_add(d, root, "index", index_val(d, c->ix));
	legs = ng_new_list(d);
	ng_list_add(legs, call_leg_val(d, &c->leg[0]));
	ng_list_add(legs, call_leg_val(d, &c->leg[1]));
	ng_dict_add(d, root, "legs", legs);
	return finish(d, root, out);
}

