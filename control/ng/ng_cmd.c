/* SPDX-License-Identifier: BSD-3-Clause */
#include "ng_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media.h"
#include "mg_build_config.h"
#include "mg_log.h"
#include "ng_server.h"

static struct {
	struct ng_server *srv;
	struct ng_cmd_counters ctr;
	char record_dest[64]; /* mediagate.ng.recordingDestination */
	su_root_t *root;
	struct delayed *delayed; /* deletes waiting out their delete-delay */
	unsigned n_delayed;
} nc;

/* A delete with delete-delay: the call stays (media flows, queries work)
 * for that long, then goes as a delete without delay would. */
struct delayed {
	struct delayed *next;
	su_timer_t *timer;
	char *call_id;
};

static void on_delayed_done(void *arg, const struct media_result *res)
{
	(void)arg;
	(void)res; /* gone meanwhile (a delete without delay): nothing to do */
}

static void delayed_free(struct delayed *d)
{
	for (struct delayed **pp = &nc.delayed; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			nc.n_delayed--;
			break;
		}
	su_timer_destroy(d->timer);
	free(d->call_id);
	free(d);
}

static struct delayed *delayed_find(const char *call_id)
{
	for (struct delayed *d = nc.delayed; d != NULL; d = d->next)
		if (strcmp(d->call_id, call_id) == 0)
			return d;
	return NULL;
}

/* The call is signalled again (an offer after a delete with delete-delay:
 * a serial fork with the same Call-ID), or deleted now: its delayed delete
 * must not end it, or a later call with its Call-ID, when the timer fires. */
static void delayed_cancel(const char *call_id)
{
	struct delayed *d = delayed_find(call_id);

	if (d != NULL)
		delayed_free(d);
}

unsigned ng_cmd_delayed_deletes(void)
{
	return nc.n_delayed;
}

static void on_delete_delay(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct delayed *d = arg;

	(void)m;
	(void)t;
	if (media_find(d->call_id) != NULL)
		media_delete(d->call_id, NULL, NULL, on_delayed_done, NULL);
	delayed_free(d);
}

/* 0 and the timer set (or one set already: its time stands, one per call
 * however many deletes come), or -errno (then delete at once). */
static int delete_later(const char *call_id, unsigned secs)
{
	struct delayed *d;

	if (delayed_find(call_id) != NULL)
		return 0;
	d = calloc(1, sizeof(*d));
	if (d == NULL || nc.root == NULL)
		goto err;
	d->call_id = strdup(call_id);
	d->timer = su_timer_create(su_root_task(nc.root), secs * 1000u);
	if (d->call_id == NULL || d->timer == NULL || su_timer_set(d->timer, on_delete_delay, d) < 0)
		goto err;
	d->next = nc.delayed;
	nc.delayed = d;
	nc.n_delayed++;
	return 0;
err:
	if (d != NULL) {
		if (d->timer)
			su_timer_destroy(d->timer);
		free(d->call_id);
		free(d);
	}
	return -ENOMEM;
}

void ng_cmd_get_counters(struct ng_cmd_counters *out)
{
	*out = nc.ctr;
}

bool ng_cmd_get_server_stats(struct ng_server_stats *out)
{
	if (nc.srv == NULL) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	ng_server_get_stats(nc.srv, out);
	return true;
}

/* ------------------------------------------------------------- replies */

static struct ng_val *reply_new(struct ng_req *req, const char *result)
{
	struct ng_doc *d = ng_req_doc(req);
	struct ng_val *r = ng_new_dict(d);

	ng_dict_add_str(d, r, "result", result);
	return r;
}

static void reply_error(struct ng_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_error(struct ng_req *req, const char *fmt, ...)
{
	struct ng_doc *d = ng_req_doc(req);
	struct ng_val *r = reply_new(req, "error");
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ng_dict_add_str(d, r, "error-reason", why);
	nc.ctr.errors++;
	ng_req_reply(req, r);
}

/* ----------------------------------------------------- request options */

/* A list value's items or a single string, each word given to @p fn. */
typedef void (*word_f)(void *ctx, const char *w, size_t n);

static void for_words(const struct ng_val *v, word_f fn, void *ctx)
{
	if (v == NULL)
		return;
	if (v->type == NG_STR) {
		/* a space-separated string is accepted where a list is expected */
		const char *p = v->s, *end = v->s + v->len;

		while (p < end) {
			const char *q;

			while (p < end && *p == ' ')
				p++;
			q = p;
			while (q < end && *q != ' ')
				q++;
			if (q > p)
				fn(ctx, p, (size_t)(q - p));
			p = q;
		}
		return;
	}
	if (v->type != NG_LIST)
		return;
	for (const struct ng_val *i = v->child; i; i = i->next)
		if (i->type == NG_STR)
			fn(ctx, i->s, i->len);
}

struct opt_ctx {
	struct media_opts *o;
	struct ng_doc *d;
	struct ng_val *warnings; /* list of strings */
	bool load_limit;         /* the client supports "load limit" */
	struct ng_buf strip;     /* codec names to strip/mask, comma separated */
	struct ng_buf except;    /* codec names kept */
};

static void codec_add(struct ng_buf *b, const char *w, size_t n)
{
	if (b->len)
		ng_buf_append(b, ",", 1);
	ng_buf_append(b, w, n);
}

static void codec_strip_word(void *ctx, const char *w, size_t n)
{
	codec_add(&((struct opt_ctx *)ctx)->strip, w, n);
}

static void codec_except_word(void *ctx, const char *w, size_t n)
{
	codec_add(&((struct opt_ctx *)ctx)->except, w, n);
}

static void warn(struct opt_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct opt_ctx *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->warnings == NULL)
		c->warnings = ng_new_list(c->d);
	ng_list_add(c->warnings, ng_new_str(c->d, buf));
}

static bool word_is(const char *w, size_t n, const char *name)
{
	return ng_key_eq(w, n, name);
}

static bool word_prefix(const char *w, size_t n, const char *prefix, const char **rest, size_t *rn)
{
	size_t pl = strlen(prefix);

	if (n <= pl || !ng_key_eq(w, pl, prefix))
		return false;
	*rest = w + pl;
	*rn = n - pl;
	return true;
}

static uint32_t suite_bit(const char *name, size_t n)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_name_n(name, n);

	return si != NULL ? 1u << si->id : 0;
}

static const char *profile_word(const char *w, size_t n)
{
	static const char *const p[] = { "RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF", "UDP/TLS/RTP/SAVP",
					 "UDP/TLS/RTP/SAVPF" };

	for (unsigned i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		if (strlen(p[i]) == n && strncasecmp(w, p[i], n) == 0)
			return i >= 4 ? p[i - 3] : p[i]; /* DTLS profiles: we key with SDES */
	return NULL;
}

static void sdes_word(void *ctx, const char *w, size_t n)
{
	struct opt_ctx *c = ctx;
	const char *r;
	size_t rn;

	if (word_is(w, n, "off") || word_is(w, n, "no"))
		c->o->sdes_off = true;
	else if (word_prefix(w, n, "no-", &r, &rn)) {
		if (suite_bit(r, rn) == 0)
			warn(c, "SDES no-%.*s: unknown suite, ignored", (int)rn, r);
		c->o->suites_no |= suite_bit(r, rn);
	} else if (word_prefix(w, n, "only-", &r, &rn)) {
		if (suite_bit(r, rn) == 0)
			warn(c, "SDES only-%.*s: unknown suite, ignored", (int)rn, r);
		c->o->suites_only |= suite_bit(r, rn);
	} else if (word_prefix(w, n, "lifetime", &r, &rn) || word_is(w, n, "lifetime")) {
		c->o->lifetime = 1ull << 31; /* rtpengine writes 2^31 */
	} else if (word_is(w, n, "pad") || word_is(w, n, "nonew") || word_is(w, n, "static") ||
		   word_is(w, n, "prefer")) {
		/* our base64 is always padded; keys are kept while the peer's
		 * stay (static); preference: the configured suite order */
	} else if (word_is(w, n, "unencrypted_srtp") || word_is(w, n, "unencrypted_srtcp") ||
		   word_is(w, n, "unauthenticated_srtp") || word_is(w, n, "unencrypted-srtp") ||
		   word_is(w, n, "unencrypted-srtcp") || word_is(w, n, "unauthenticated-srtp")) {
		warn(c, "SDES %.*s refused: mediagate always encrypts and authenticates SRTP and SRTCP",
		     (int)n, w);
	} else {
		warn(c, "SDES %.*s: unknown, ignored", (int)n, w);
	}
}

static void mux_word(void *ctx, const char *w, size_t n)
{
	struct opt_ctx *c = ctx;
	static const struct {
		const char *name;
		unsigned bit;
	} t[] = { { "offer", MEDIA_MUX_OFFER },	  { "accept", MEDIA_MUX_ACCEPT }, { "demux", MEDIA_MUX_DEMUX },
		  { "reject", MEDIA_MUX_REJECT }, { "require", MEDIA_MUX_REQUIRE } };

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (word_is(w, n, t[i].name)) {
			c->o->rtcp_mux |= t[i].bit;
			return;
		}
	warn(c, "rtcp-mux %.*s: unknown, ignored", (int)n, w);
}

static void replace_word(void *ctx, const char *w, size_t n)
{
	struct opt_ctx *c = ctx;

	if (word_is(w, n, "origin"))
		c->o->replace_origin = true;
	else if (word_is(w, n, "session-connection") || word_is(w, n, "session connection"))
		; /* c= is always ours */
	else
		warn(c, "replace %.*s: unknown, ignored", (int)n, w);
}

static void supports_word(void *ctx, const char *w, size_t n)
{
	struct opt_ctx *c = ctx;

	if (word_is(w, n, "load limit") || word_is(w, n, "load-limit"))
		c->load_limit = true;
}

static void ice_value(struct opt_ctx *c, const char *w, size_t n)
{
	if (word_is(w, n, "remove") || word_is(w, n, "force-relay") || word_is(w, n, "default"))
		c->o->keep_ice = false;
	else
		warn(c, "ICE=%.*s: mediagate does no ICE, candidates are removed", (int)n, w);
}

static void dtls_value(struct opt_ctx *c, const char *w, size_t n)
{
	if (word_is(w, n, "off") || word_is(w, n, "no") || word_is(w, n, "disable"))
		c->o->dtls_refuse = false; /* answered SDES-only: the default */
	else if (word_is(w, n, "refuse"))
		c->o->dtls_refuse = true;
	else
		warn(c, "DTLS=%.*s: mediagate keys SRTP with SDES only; DTLS-SRTP offers are answered with SDES",
		     (int)n, w);
}

/* One word of "flags" or of rtpp-flags ("key=value" words map to keys). */
static void flag_word(void *ctx, const char *w, size_t n)
{
	struct opt_ctx *c = ctx;
	const char *r, *p;
	size_t rn;

	if ((p = profile_word(w, n)) != NULL) {
		c->o->profile = p;
	} else if (word_is(w, n, "trust-address") || word_is(w, n, "port-latching") || word_is(w, n, "symmetric") ||
		   word_is(w, n, "loop-protect") || word_is(w, n, "no-redis-update") || word_is(w, n, "record-call") ||
		   word_is(w, n, "generate-mid") || word_is(w, n, "pad-crypto") || word_is(w, n, "full-rtcp-attribute")) {
		/* the SDP's address is used by default (trust-address); latching
		 * is the default source policy; loops through ourselves cannot
		 * happen: our ports are not in any SDP we are given */
	} else if (word_is(w, n, "SIP-source-address")) {
		/* opts_read() takes received-from then */
	} else if (word_is(w, n, "asymmetric")) {
		/* accepted: the dataplane latches every leg (SPEC 12) */
	} else if (word_is(w, n, "strict-source")) {
		c->o->strict_source = true;
	} else if (word_is(w, n, "media-handover")) {
		c->o->media_handover = true;
	} else if (word_is(w, n, "no-rtcp-attribute")) {
		c->o->no_rtcp_attr = true;
	} else if (word_is(w, n, "always-transcode") || word_is(w, n, "transcode")) {
		warn(c, "%.*s refused: mediagate does not transcode (codecs pass through)", (int)n, w);
	} else if (word_is(w, n, "replace-origin")) {
		c->o->replace_origin = true;
	} else if (word_is(w, n, "replace-session-connection")) {
		;
	} else if (word_prefix(w, n, "replace-", &r, &rn)) {
		replace_word(ctx, r, rn);
	} else if (word_prefix(w, n, "rtcp-mux-", &r, &rn)) {
		mux_word(ctx, r, rn);
	} else if (word_prefix(w, n, "SDES-", &r, &rn)) {
		sdes_word(ctx, r, rn);
	} else if (word_prefix(w, n, "ICE=", &r, &rn)) {
		ice_value(c, r, rn);
	} else if (word_prefix(w, n, "DTLS=", &r, &rn)) {
		dtls_value(c, r, rn);
	} else if (word_prefix(w, n, "transport-protocol=", &r, &rn) || word_prefix(w, n, "transport protocol=", &r, &rn)) {
		if ((p = profile_word(r, rn)) != NULL)
			c->o->profile = p;
		else
			warn(c, "transport-protocol %.*s: unknown, ignored", (int)rn, r);
	} else if (word_prefix(w, n, "media-address=", &r, &rn)) {
		struct ng_val *a = ng_new_strn(c->d, r, rn);

		c->o->media_address = a ? a->s : NULL;
	} else if (word_prefix(w, n, "direction=", &r, &rn) || word_prefix(w, n, "address-family=", &r, &rn) ||
		   word_prefix(w, n, "label=", &r, &rn) || word_prefix(w, n, "delete-delay=", &r, &rn) ||
		   word_prefix(w, n, "from-tag=", &r, &rn) || word_prefix(w, n, "to-tag=", &r, &rn) ||
		   word_prefix(w, n, "call-id=", &r, &rn) || word_prefix(w, n, "via-branch=", &r, &rn)) {
		/* keys given as rtpp-flags words: read from the dict too */
	} else if (word_prefix(w, n, "codec-strip-", &r, &rn) || word_prefix(w, n, "codec-mask-", &r, &rn)) {
		codec_add(&c->strip, r, rn);
	} else if (word_prefix(w, n, "codec-except-", &r, &rn)) {
		codec_add(&c->except, r, rn);
	} else if (word_prefix(w, n, "codec-transcode-", &r, &rn) || word_prefix(w, n, "codec-accept-", &r, &rn) ||
		   word_prefix(w, n, "codec-offer-", &r, &rn)) {
		warn(c, "%.*s refused: mediagate does not transcode (codecs pass through)", (int)n, w);
	} else {
		warn(c, "flag %.*s: unknown, ignored", (int)n, w);
	}
}

static const char *str_of(const struct ng_val *dict, const char *key)
{
	return ng_dict_str(dict, key);
}

static void opts_read(struct opt_ctx *c, const struct ng_val *dict)
{
	const struct ng_val *v;
	const char *s;

	for_words(ng_dict_get(dict, "flags"), flag_word, c);
	for_words(ng_dict_get(dict, "rtpp-flags"), flag_word, c);
	for_words(ng_dict_get(dict, "replace"), replace_word, c);
	for_words(ng_dict_get(dict, "rtcp-mux"), mux_word, c);
	for_words(ng_dict_get(dict, "SDES"), sdes_word, c);
	for_words(ng_dict_get(dict, "supports"), supports_word, c);
	if ((s = str_of(dict, "transport-protocol")) != NULL) {
		const char *p = profile_word(s, strlen(s));

		if (p != NULL)
			c->o->profile = p;
		else
			warn(c, "transport-protocol %s: not a profile we relay (RTP/AVP, RTP/SAVP, RTP/AVPF, "
				"RTP/SAVPF), kept as offered", s);
	}
	if ((s = str_of(dict, "ICE")) != NULL)
		ice_value(c, s, strlen(s));
	if ((s = str_of(dict, "DTLS")) != NULL)
		dtls_value(c, s, strlen(s));
	if ((s = str_of(dict, "media-address")) != NULL)
		c->o->media_address = s;
	if ((s = str_of(dict, "address-family")) != NULL && strcasecmp(s, "IP4") != 0)
		warn(c, "address-family %s: the dataplane relays IPv4 only", s);
	if ((v = ng_dict_get(dict, "codec")) != NULL && v->type == NG_DICT) {
		/* strip and mask both take the codec out of the SDP we write:
		 * without transcoding a masked codec cannot be used either */
		for_words(ng_dict_get(v, "strip"), codec_strip_word, c);
		for_words(ng_dict_get(v, "mask"), codec_strip_word, c);
		for_words(ng_dict_get(v, "except"), codec_except_word, c);
		if (ng_dict_get(v, "transcode") != NULL || ng_dict_get(v, "offer") != NULL ||
		    ng_dict_get(v, "accept") != NULL)
			warn(c, "codec transcode/offer/accept refused: mediagate does not transcode");
	}
	if (c->strip.len) {
		struct ng_val *sv = ng_new_strn(c->d, c->strip.p, c->strip.len);

		c->o->codec_strip = sv ? sv->s : NULL;
	}
	if (c->except.len) {
		struct ng_val *ev = ng_new_strn(c->d, c->except.p, c->except.len);

		c->o->codec_except = ev ? ev->s : NULL;
	}
	ng_buf_free(&c->strip);
	ng_buf_free(&c->except);
	v = ng_dict_get(dict, "received-from");
	if (v != NULL && v->type == NG_LIST && v->len == 2 && v->child->next->type == NG_STR) {
		/* used only with SIP-source-address */
		bool want = false;
		const struct ng_val *f = ng_dict_get(dict, "flags");

		if (f != NULL && f->type == NG_LIST)
			for (const struct ng_val *i = f->child; i; i = i->next)
				want |= i->type == NG_STR && ng_key_eq(i->s, i->len, "SIP-source-address");
		if (want)
			c->o->source_address = v->child->next->s;
	}
}

/* ------------------------------------------------------ offer / answer */

struct pending {
	struct ng_req *req;
	struct ng_val *warnings;
	bool load_limit;
	bool is_delete;
};

static void add_warnings(struct ng_doc *d, struct ng_val *r, struct ng_val *warnings, const char *extra)
{
	struct ng_buf b = { 0 };

	if (warnings != NULL)
		for (const struct ng_val *w = warnings->child; w; w = w->next) {
			if (b.len)
				ng_buf_append(&b, "; ", 2);
			ng_buf_append(&b, w->s, w->len);
		}
	if (extra != NULL && extra[0]) {
		if (b.len)
			ng_buf_append(&b, "; ", 2);
		ng_buf_append(&b, extra, strlen(extra));
	}
	if (b.len) {
		ng_dict_add(d, r, "warning", ng_new_strn(d, b.p, b.len));
		ng_buf_free(&b);
	}
}

static void reply_media_error(struct pending *p, const struct media_result *res)
{
	struct ng_doc *d = ng_req_doc(p->req);

	if ((res->err == MEDIA_E_LIMIT || res->err == MEDIA_E_PORTS) && p->load_limit) {
		struct ng_val *r = reply_new(p->req, "load limit");

		ng_dict_add_str(d, r, "message", res->why);
		nc.ctr.load_limit++;
		ng_req_reply(p->req, r);
		return;
	}
	reply_error(p->req, "%s", res->why);
}

static void on_sdp_done(void *arg, const struct media_result *res)
{
	struct pending *p = arg;

	if (res->err != MEDIA_OK) {
		reply_media_error(p, res);
	} else {
		struct ng_doc *d = ng_req_doc(p->req);
		struct ng_val *r = reply_new(p->req, "ok");

		ng_dict_add(d, r, "sdp", ng_new_strn(d, res->sdp, res->sdp_len));
		add_warnings(d, r, p->warnings, res->warning);
		ng_req_reply(p->req, r);
	}
	free(p);
}

static void cmd_offer_answer(struct ng_req *req, const struct ng_val *dict, bool offer)
{
	struct ng_doc *d = ng_req_doc(req);
	struct media_opts *o = calloc(1, sizeof(*o));
	struct opt_ctx c = { .o = o, .d = d };
	const char *call_id = str_of(dict, "call-id");
	const char *from_tag = str_of(dict, "from-tag");
	const char *to_tag = str_of(dict, "to-tag");
	const struct ng_val *sdp = ng_dict_get(dict, "sdp");
	struct pending *p;

	if (o == NULL)
		return reply_error(req, "Out of memory");
	if (call_id == NULL || call_id[0] == '\0') {
		free(o);
		return reply_error(req, "No call-id in message");
	}
	if (from_tag == NULL || from_tag[0] == '\0') {
		free(o);
		return reply_error(req, "No from-tag in message");
	}
	if (!offer && (to_tag == NULL || to_tag[0] == '\0')) {
		free(o);
		return reply_error(req, "No to-tag in message");
	}
	if (sdp == NULL || sdp->type != NG_STR || sdp->len == 0) {
		free(o);
		return reply_error(req, "No SDP body in message");
	}
	opts_read(&c, dict);
	/* media copies the options; their strings are in the request's
	 * arena (or static) and stay valid until the reply */
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		free(p);
		free(o);
		return reply_error(req, "Out of memory");
	}
	p->req = req;
	p->warnings = c.warnings;
	p->load_limit = c.load_limit;
	delayed_cancel(call_id);
	if (offer)
		media_offer(call_id, from_tag, to_tag, sdp->s, sdp->len, o, on_sdp_done, p);
	else
		media_answer(call_id, from_tag, to_tag, sdp->s, sdp->len, o, on_sdp_done, p);
	free(o);
}

/* ---------------------------------------------------- query / delete */

static struct ng_val *stats_dict(struct ng_doc *d, uint64_t packets, uint64_t bytes, uint64_t errors)
{
	struct ng_val *s = ng_new_dict(d);

	ng_dict_add_int(d, s, "packets", (int64_t)packets);
	ng_dict_add_int(d, s, "bytes", (int64_t)bytes);
	ng_dict_add_int(d, s, "errors", (int64_t)errors);
	return s;
}

static struct ng_val *endpoint_dict(struct ng_doc *d, const struct mg_msg_addr *a)
{
	struct ng_val *e = ng_new_dict(d);
	char buf[64];

	if (a->family == MG_FAMILY_NONE)
		return e;
	mg_proto_addr_str(a, buf, sizeof(buf));
	if (strrchr(buf, ':'))
		*strrchr(buf, ':') = '\0';
	ng_dict_add_str(d, e, "family", a->family == MG_FAMILY_IPV6 ? "IPv6" : "IPv4");
	ng_dict_add_str(d, e, "address", buf);
	ng_dict_add_int(d, e, "port", a->port);
	return e;
}

/* rtpengine's query shape: created, last signal, tags -> medias ->
 * streams (RTP and RTCP), totals {RTP, RTCP}. */
static void session_report(struct ng_doc *d, struct ng_val *r, const struct media_result *res)
{
	const struct media_session *m = res->session;
	struct ng_val *tags = ng_new_dict(d);
	uint64_t tot[2][3] = { { 0 } }; /* [RTP, RTCP][packets, bytes, errors] */
	static const struct media_stream_stats none; /* m= lines past MEDIA_MAX_STREAMS: never relayed */

	ng_dict_add_int(d, r, "created", (int64_t)(m->created_ms / 1000));
	ng_dict_add_int(d, r, "created_us", (int64_t)(m->created_ms % 1000) * 1000);
	ng_dict_add_int(d, r, "last signal", (int64_t)(m->last_signal_ms / 1000));
	for (int s = 0; s < 2; s++) {
		const struct media_side *sd = &m->side[s];
		const struct media_side *od = &m->side[!s];

		for (unsigned pi = 0; pi < sd->n_parties; pi++) {
			const struct media_party *pa = sd->parties[pi];
			struct ng_val *t = ng_new_dict(d), *medias = ng_new_list(d);

			ng_dict_add_str(d, t, "tag", pa->tag);
			ng_dict_add_int(d, t, "created", (int64_t)(m->created_ms / 1000));
			if (od->active >= 0 && sd->active == (int)pi)
				ng_dict_add_str(d, t, "in dialogue with", od->parties[od->active]->tag);
			for (unsigned i = 0; i < pa->n_legs; i++) {
				const struct media_leg *l = &pa->legs[i];
				const struct media_stream_stats *st = i < MEDIA_MAX_STREAMS ? &res->stats[s][pi][i] : &none;
				struct ng_val *md_ = ng_new_dict(d), *streams = ng_new_list(d);
				struct ng_val *rtp = ng_new_dict(d), *rtcp = ng_new_dict(d), *fl;
				uint64_t rtp_pk = st->rx.packets - st->rx.rtcp_packets;
				uint64_t rtcp_b = 0;

				ng_dict_add_int(d, md_, "index", i + 1);
				ng_dict_add_str(d, md_, "type", l->media_type);
				ng_dict_add_str(d, md_, "protocol", l->profile);
				if (i < MEDIA_MAX_STREAMS && sd->port_ok[i]) {
					ng_dict_add_int(d, rtp, "local port", sd->ports[i].local.port);
					ng_dict_add_int(d, rtcp, "local port",
							l->rtcp_mux ? sd->ports[i].local.port : sd->ports[i].rtcp_port);
				}
				ng_dict_add(d, rtp, "endpoint", endpoint_dict(d, &l->remote));
				ng_dict_add(d, rtp, "advertised endpoint", endpoint_dict(d, &l->remote));
				if (l->rx.suite != NULL)
					ng_dict_add_str(d, rtp, "crypto suite", l->rx.suite->sdes_name);
				/* bytes are not split by RTP/RTCP in the dataplane: all on RTP */
				ng_dict_add(d, rtp, "stats", stats_dict(d, rtp_pk, st->rx.bytes, st->rx.errors));
				if (st->rx.rr_ssrc != 0) {
					/* what the party's RTCP said of the stream it
					 * receives (SR/RR report block) */
					struct ng_val *rr = ng_new_dict(d);
					uint32_t lost = st->rx.rr_lost & 0xffffff;

					ng_dict_add_int(d, rr, "SSRC", st->rx.rr_ssrc);
					ng_dict_add_int(d, rr, "fraction lost", st->rx.rr_lost >> 24);
					/* 24-bit two's complement (RFC 3550: may go negative) */
					ng_dict_add_int(d, rr, "packets lost",
							lost & 0x800000 ? (int64_t)lost - 0x1000000 : (int64_t)lost);
					ng_dict_add_int(d, rr, "jitter", st->rx.rr_jitter);
					ng_dict_add(d, rtp, "RTCP report", rr);
				}
				if (st->rx.errors > 0) {
					/* mediagate's own key: the drops by named reason */
					struct ng_val *dr = ng_new_dict(d);

					for (unsigned k = 0; k < MG_DROP_REASON_COUNT; k++)
						if (st->rx.drops[k])
							ng_dict_add_int(d, dr, mg_proto_drop_name(k),
									(int64_t)st->rx.drops[k]);
					ng_dict_add(d, rtp, "drops", dr);
				}
				ng_dict_add(d, rtcp, "stats", stats_dict(d, st->rx.rtcp_packets, rtcp_b, 0));
				fl = ng_new_list(d);
				ng_list_add(fl, ng_new_str(d, "RTP"));
				if (l->rtcp_mux)
					ng_list_add(fl, ng_new_str(d, "RTCP"));
				ng_dict_add(d, rtp, "flags", fl);
				fl = ng_new_list(d);
				ng_list_add(fl, ng_new_str(d, "RTCP"));
				ng_dict_add(d, rtcp, "flags", fl);
				ng_list_add(streams, rtp);
				if (!l->rtcp_mux)
					ng_list_add(streams, rtcp);
				ng_dict_add(d, md_, "streams", streams);
				fl = ng_new_list(d);
				if (l->rx.suite != NULL)
					ng_list_add(fl, ng_new_str(d, "SDES"));
				if (l->rtcp_mux)
					ng_list_add(fl, ng_new_str(d, "RTCP-mux"));
				ng_dict_add(d, md_, "flags", fl);
				ng_list_add(medias, md_);
				tot[0][0] += rtp_pk;
				tot[0][1] += st->rx.bytes;
				tot[0][2] += st->rx.errors;
				tot[1][0] += st->rx.rtcp_packets;
			}
			ng_dict_add(d, t, "medias", medias);
			ng_dict_add(d, tags, pa->tag[0] ? pa->tag : "(no tag yet)", t);
		}
	}
	ng_dict_add(d, r, "tags", tags);
	{
		struct ng_val *totals = ng_new_dict(d);

		ng_dict_add(d, totals, "RTP", stats_dict(d, tot[0][0], tot[0][1], tot[0][2]));
		ng_dict_add(d, totals, "RTCP", stats_dict(d, tot[1][0], tot[1][1], tot[1][2]));
		ng_dict_add(d, r, "totals", totals);
	}
}

static void on_report_done(void *arg, const struct media_result *res)
{
	struct pending *p = arg;
	struct ng_doc *d = ng_req_doc(p->req);

	if (res->err == MEDIA_E_NOTFOUND && p->is_delete) {
		/* rtpengine: deleting what is gone is not an error */
		struct ng_val *r = reply_new(p->req, "ok");

		ng_dict_add_str(d, r, "warning", "Call-ID not found or tags didn't match");
		ng_req_reply(p->req, r);
	} else if (res->err != MEDIA_OK) {
		reply_error(p->req, "%s", res->err == MEDIA_E_NOTFOUND ? "Unknown call-id" : res->why);
	} else {
		struct ng_val *r = reply_new(p->req, "ok");

		session_report(d, r, res);
		add_warnings(d, r, NULL, res->warning);
		ng_req_reply(p->req, r);
	}
	free(p);
}

/* A to-tag naming a party that is not installed (a fork that lost). */
static bool is_fork_tag(const struct media_session *m, const char *tag)
{
	if (tag == NULL || tag[0] == '\0')
		return false;
	for (int s = 0; s < 2; s++)
		for (unsigned p = 0; p < m->side[s].n_parties; p++)
			if ((int)p != m->side[s].active && strcmp(m->side[s].parties[p]->tag, tag) == 0)
				return true;
	return false;
}

static void cmd_delete_query(struct ng_req *req, const struct ng_val *dict, bool del)
{
	const char *call_id = str_of(dict, "call-id");
	struct pending *p;

	if (call_id == NULL || call_id[0] == '\0')
		return reply_error(req, "No call-id in message");
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return reply_error(req, "Out of memory");
	p->req = req;
	p->is_delete = del;
	if (del) {
		const struct ng_val *dd = ng_dict_get(dict, "delete-delay");
		long long secs = 0;

		if (dd != NULL && dd->type == NG_INT)
			secs = dd->i;
		else if (dd != NULL && dd->type == NG_STR)
			secs = strtoll(dd->s, NULL, 10);
		if (secs > 3600)
			secs = 3600;
		/* rtpengine's delete-delay: the whole call stays that long (late
		 * media, a last query), then goes; the reply has its counters as
		 * they stand. A fork's to-tag is removed at once. */
		if (secs > 0 && media_find(call_id) != NULL && !is_fork_tag(media_find(call_id), str_of(dict, "to-tag")) &&
		    delete_later(call_id, (unsigned)secs) == 0) {
			p->is_delete = false;
			media_query(call_id, on_report_done, p);
			return;
		}
		if (media_find(call_id) == NULL || !is_fork_tag(media_find(call_id), str_of(dict, "to-tag")))
			delayed_cancel(call_id);
		media_delete(call_id, str_of(dict, "from-tag"), str_of(dict, "to-tag"), on_report_done, p);
	} else {
		media_query(call_id, on_report_done, p);
	}
}

/* ---------------------------------------------------------- recording */

static void on_simple_done(void *arg, const struct media_result *res)
{
	struct pending *p = arg;

	if (res->err != MEDIA_OK)
		reply_error(p->req, "%s", res->why);
	else
		ng_req_reply(p->req, reply_new(p->req, "ok"));
	free(p);
}

/* start/stop recording (and forwarding, its alias here): a fork of every
 * stream, decrypted, to the recorder at recording-destination (request)
 * or mediagate.ng.recordingDestination (config). */
static void cmd_record(struct ng_req *req, const struct ng_val *dict, bool start)
{
	const char *call_id = str_of(dict, "call-id");
	const char *dest = str_of(dict, "recording-destination");
	struct mg_msg_addr a;
	struct pending *p;

	if (call_id == NULL || call_id[0] == '\0')
		return reply_error(req, "No call-id in message");
	if (dest == NULL || dest[0] == '\0')
		dest = nc.record_dest;
	memset(&a, 0, sizeof(a));
	if (start && (dest[0] == '\0' || mg_proto_addr_parse(dest, &a) < 0 || a.port == 0))
		return reply_error(req,
				   "start recording: mediagate records by forking the streams to a recorder: "
				   "give recording-destination ADDR:PORT or set mediagate.ng.recordingDestination "
				   "(got '%s')", dest);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return reply_error(req, "Out of memory");
	p->req = req;
	media_record(call_id, start, &a, on_simple_done, p);
}

/* ------------------------------------------------------- block media */

/* block/unblock media: the from-tag's media (or, without one or with the
 * flag "all", every party's) is received and counted, not forwarded. */
static void cmd_block(struct ng_req *req, const struct ng_val *dict, bool block)
{
	const char *call_id = str_of(dict, "call-id");
	const char *tag = str_of(dict, "from-tag");
	const struct ng_val *f = ng_dict_get(dict, "flags");
	struct pending *p;

	if (call_id == NULL || call_id[0] == '\0')
		return reply_error(req, "No call-id in message");
	if (f != NULL && f->type == NG_LIST)
		for (const struct ng_val *i = f->child; i; i = i->next)
			if (i->type == NG_STR && ng_key_eq(i->s, i->len, "all"))
				tag = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return reply_error(req, "Out of memory");
	p->req = req;
	media_block(call_id, tag, block, on_simple_done, p);
}

/* ------------------------------------------------------- list / stats */

static void cmd_list(struct ng_req *req, const struct ng_val *dict)
{
	struct ng_doc *d = ng_req_doc(req);
	struct ng_val *r = reply_new(req, "ok"), *calls = ng_new_list(d);
	const struct ng_val *lim = ng_dict_get(dict, "limit");
	int64_t max = 32;

	if (lim != NULL && lim->type == NG_INT)
		max = lim->i;
	else if (lim != NULL && lim->type == NG_STR)
		max = strtoll(lim->s, NULL, 10);
	if (max < 0)
		max = 0;
	for (const struct media_session *m = media_first(); m && max > 0; m = media_next(m), max--)
		ng_list_add(calls, ng_new_str(d, m->key));
	ng_dict_add(d, r, "calls", calls);
	ng_req_reply(req, r);
}

static void cmd_statistics(struct ng_req *req)
{
	struct ng_doc *d = ng_req_doc(req);
	struct ng_val *r = reply_new(req, "ok"), *st = ng_new_dict(d), *cur = ng_new_dict(d),
		      *tot = ng_new_dict(d), *ctl = ng_new_dict(d);
	struct media_counters mc;
	struct ng_server_stats ss = { 0 };
	uint64_t expired[MEDIA_TO_COUNT];

	media_get_counters(&mc);
	if (nc.srv)
		ng_server_get_stats(nc.srv, &ss);
	ng_dict_add_int(d, cur, "sessionsown", media_count());
	ng_dict_add_int(d, cur, "sessionsforeign", 0);
	ng_dict_add_int(d, cur, "sessionstotal", media_count());
	ng_dict_add_int(d, cur, "transcodedmedia", 0);
	ng_dict_add(d, st, "currentstatistics", cur);
	ng_dict_add_int(d, tot, "managedsessions", (int64_t)mc.created);
	ng_dict_add_int(d, tot, "deletedsessions", (int64_t)mc.deleted);
	ng_dict_add_int(d, tot, "rejectedsessions", (int64_t)(mc.limit_refused + mc.ports_refused + mc.load_refused));
	media_timeout_get_counters(expired);
	ng_dict_add_int(d, tot, "timeoutsessions", (int64_t)expired[MEDIA_TO_TIMEOUT]);
	ng_dict_add_int(d, tot, "silenttimeoutsessions", (int64_t)expired[MEDIA_TO_SILENT]);
	ng_dict_add_int(d, tot, "finaltimeoutsessions", (int64_t)expired[MEDIA_TO_FINAL]);
	ng_dict_add_int(d, tot, "offertimeoutsessions", (int64_t)expired[MEDIA_TO_OFFER]);
	ng_dict_add(d, st, "totalstatistics", tot);
	ng_dict_add_int(d, ctl, "ping", (int64_t)nc.ctr.ping);
	ng_dict_add_int(d, ctl, "offer", (int64_t)nc.ctr.offer);
	ng_dict_add_int(d, ctl, "answer", (int64_t)nc.ctr.answer);
	ng_dict_add_int(d, ctl, "delete", (int64_t)nc.ctr.delete_);
	ng_dict_add_int(d, ctl, "query", (int64_t)nc.ctr.query);
	ng_dict_add_int(d, ctl, "list", (int64_t)nc.ctr.list);
	ng_dict_add_int(d, ctl, "statistics", (int64_t)nc.ctr.statistics);
	ng_dict_add_int(d, ctl, "errors", (int64_t)nc.ctr.errors);
	ng_dict_add_int(d, ctl, "load limit", (int64_t)nc.ctr.load_limit);
	ng_dict_add_int(d, ctl, "requests", (int64_t)ss.requests);
	ng_dict_add_int(d, ctl, "cache replays", (int64_t)ss.cache_replays);
	ng_dict_add_int(d, ctl, "decode errors", (int64_t)ss.decode_errors);
	ng_dict_add_int(d, ctl, "refused sources", (int64_t)ss.refused_source);
	ng_dict_add(d, st, "control", ctl);
	ng_dict_add(d, r, "statistics", st);
	ng_req_reply(req, r);
}

/* ------------------------------------------------------------ dispatch */

void ng_cmd_handle(void *arg, struct ng_req *req, const struct ng_val *dict)
{
	const char *cmd = str_of(dict, "command");

	(void)arg;
	if (cmd == NULL)
		return reply_error(req, "No command in message");
	if (ng_key_eq(cmd, strlen(cmd), "ping")) {
		nc.ctr.ping++;
		ng_req_reply(req, reply_new(req, "pong"));
	} else if (ng_key_eq(cmd, strlen(cmd), "offer")) {
		nc.ctr.offer++;
		cmd_offer_answer(req, dict, true);
	} else if (ng_key_eq(cmd, strlen(cmd), "answer")) {
		nc.ctr.answer++;
		cmd_offer_answer(req, dict, false);
	} else if (ng_key_eq(cmd, strlen(cmd), "delete")) {
		nc.ctr.delete_++;
		cmd_delete_query(req, dict, true);
	} else if (ng_key_eq(cmd, strlen(cmd), "query")) {
		nc.ctr.query++;
		cmd_delete_query(req, dict, false);
	} else if (ng_key_eq(cmd, strlen(cmd), "list")) {
		nc.ctr.list++;
		cmd_list(req, dict);
	} else if (ng_key_eq(cmd, strlen(cmd), "statistics")) {
		nc.ctr.statistics++;
		cmd_statistics(req);
	} else if (ng_key_eq(cmd, strlen(cmd), "start recording") || ng_key_eq(cmd, strlen(cmd), "start forwarding")) {
		nc.ctr.other++;
		cmd_record(req, dict, true);
	} else if (ng_key_eq(cmd, strlen(cmd), "stop recording") || ng_key_eq(cmd, strlen(cmd), "stop forwarding")) {
		nc.ctr.other++;
		cmd_record(req, dict, false);
	} else if (ng_key_eq(cmd, strlen(cmd), "block media") || ng_key_eq(cmd, strlen(cmd), "unblock media")) {
		nc.ctr.other++;
		cmd_block(req, dict, ng_key_eq(cmd, strlen(cmd), "block media"));
	} else if (ng_key_eq(cmd, strlen(cmd), "block DTMF") || ng_key_eq(cmd, strlen(cmd), "unblock DTMF") ||
		   ng_key_eq(cmd, strlen(cmd), "play media") || ng_key_eq(cmd, strlen(cmd), "stop media") ||
		   ng_key_eq(cmd, strlen(cmd), "play DTMF") || ng_key_eq(cmd, strlen(cmd), "publish") ||
		   ng_key_eq(cmd, strlen(cmd), "subscribe request") || ng_key_eq(cmd, strlen(cmd), "subscribe answer") ||
		   ng_key_eq(cmd, strlen(cmd), "unsubscribe")) {
		nc.ctr.other++;
		reply_error(req, "Unsupported command '%s' (docs/ng.md lists what mediagate does)", cmd);
	} else {
		nc.ctr.other++;
		reply_error(req, "Unrecognized command '%s'", cmd);
	}
}

int ng_cmd_start(su_root_t *root, const struct mg_settings *s)
{
	memset(&nc, 0, sizeof(nc));
	nc.root = root;
	nc.srv = ng_server_create(root, s, ng_cmd_handle, NULL);
	if (nc.srv == NULL)
		return -errno;
	return 0;
}

void ng_cmd_stop(void)
{
	if (nc.srv != NULL)
		ng_server_destroy(nc.srv);
	while (nc.delayed != NULL)
		delayed_free(nc.delayed);
	nc.srv = NULL;
}
