/* SPDX-License-Identifier: BSD-3-Clause */
#include "sdp_neg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include "mg_log.h"

/* RFC 3261 §20.43 warn-codes used here */
#define WARN_TRANSPORT 302 /* incompatible transport protocol (RTP vs SRTP) */
#define WARN_MEDIA 304     /* media type not available */
#define WARN_FORMAT 305    /* incompatible media format (codecs) */
#define WARN_MISC 399

static const struct sdp_codec default_codecs[] = {
	{ "PCMU", 8000 },
	{ "PCMA", 8000 },
	{ "telephone-event", 8000 },
};

static const enum mg_srtp_suite default_suites[] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80,
						     MG_SRTP_AES_CM_128_HMAC_SHA1_32 };

static const char *const mode_names[] = {
	[MG_SRTP_MODE_ALWAYS] = "always",
	[MG_SRTP_MODE_AS_NEEDED] = "as-needed",
	[MG_SRTP_MODE_NEVER] = "never",
};

const char *sdp_dir_name(enum sdp_dir d)
{
	static const char *const n[] = { "inactive", "sendonly", "recvonly", "sendrecv" };

	return n[d & 3];
}

static int fail(struct sdp_result *res, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct sdp_result *res, int status, int code, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	res->warn_code = code;
	va_start(ap, fmt);
	vsnprintf(res->warn_text, sizeof(res->warn_text), fmt, ap);
	va_end(ap);
	res->sdp[0] = '\0';
	res->sdp_len = 0;
	return -EPROTO;
}

int sdp_warning_header(const struct sdp_result *res, const char *agent, char *out, size_t outlen)
{
	char text[sizeof(res->warn_text)];
	size_t n = 0;

	/* quoted-string: no bare quotes or backslashes from our own text */
	for (const char *s = res->warn_text; *s != '\0' && n + 1 < sizeof(text); s++)
		text[n++] = *s == '"' ? '\'' : *s == '\\' ? '/' : *s;
	text[n] = '\0';
	return snprintf(out, outlen, "%d %s \"%s\"", res->warn_code ? res->warn_code : WARN_MISC,
			agent ? agent : "mediagate", text);
}

static void pol_suites(const struct sdp_policy *pol, const enum mg_srtp_suite **s, unsigned *n)
{
	if (pol->n_suites > 0) {
		*s = pol->suites;
		*n = pol->n_suites;
	} else {
		*s = default_suites;
		*n = 2;
	}
}

static void pol_suite_names(const struct sdp_policy *pol, char *buf, size_t len)
{
	const enum mg_srtp_suite *s;
	unsigned n;
	size_t o = 0;

	pol_suites(pol, &s, &n);
	buf[0] = '\0';
	for (unsigned i = 0; i < n && o < len; i++) {
		const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(s[i]);

		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", si ? si->sdes_name : "?");
	}
}

static int suite_prio(const struct sdp_policy *pol, const struct mg_srtp_suite_info *si)
{
	const enum mg_srtp_suite *s;
	unsigned n;

	pol_suites(pol, &s, &n);
	for (unsigned i = 0; i < n; i++)
		if (si != NULL && s[i] == si->id)
			return (int)i;
	return -1;
}

static enum sdp_dir pol_dir(const struct sdp_policy *pol)
{
	const char *m = pol->media_type;

	if (m == NULL || strcmp(m, "sendrecv") == 0)
		return SDP_DIR_SENDRECV;
	if (strcmp(m, "sendonly") == 0)
		return SDP_DIR_SENDONLY;
	if (strcmp(m, "recvonly") == 0)
		return SDP_DIR_RECVONLY;
	return SDP_DIR_INACTIVE;
}

static const char *attr_value(const sdp_attribute_t *list, const char *name, bool *present)
{
	for (const sdp_attribute_t *a = list; a != NULL; a = a->a_next) {
		if (strcasecmp(a->a_name, name) == 0) {
			if (present)
				*present = true;
			return a->a_value ? a->a_value : "";
		}
	}
	if (present)
		*present = false;
	return NULL;
}

/* The number an attribute value starts with (a=rtcp:PORT [address],
 * a=ptime:MS), 0 when it does not start with a digit or exceeds @max:
 * atoi() would take "-20" or wrap "4294967297" to 1. */
static unsigned attr_uint(const char *v, unsigned max)
{
	unsigned long n = 0;

	if (v == NULL || !isdigit((unsigned char)v[0]))
		return 0;
	for (; isdigit((unsigned char)*v); v++) {
		n = n * 10 + (unsigned long)(*v - '0');
		if (n > max)
			return 0;
	}
	return (unsigned)n;
}

void sdp_policy_from_settings(const struct mg_settings *s, struct sdp_policy *pol)
{
	pol->mode = s->srtp_mode;
	pol->n_suites = 0;
	for (unsigned i = 0; i < s->n_crypto_suites && i < MG_CFG_MAX_SUITES; i++)
		pol->suites[pol->n_suites++] = s->crypto_suites[i];
}

/* ---- text output ---------------------------------------------------- */

struct out {
	char *s;
	size_t len, cap;
	bool overflow;
};

static void out_add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
}

static void out_session(struct out *o, const struct sdp_policy *pol, const struct sdp_result *res)
{
	const char *ip = pol->local_addr ? pol->local_addr : "0.0.0.0";
	const char *fam = strchr(ip, ':') ? "IP6" : "IP4";
	const char *user = pol->origin_user ? pol->origin_user : "mediagate";

	out_add(o, "v=0\r\no=%s %llu %llu IN %s %s\r\ns=%s\r\nc=IN %s %s\r\nt=0 0\r\n", user,
		(unsigned long long)res->sess_id, (unsigned long long)res->sess_version, fam, ip, user, fam, ip);
}

static void out_pts(struct out *o, const struct sdp_result *res)
{
	for (unsigned i = 0; i < res->n_pts; i++) {
		const struct sdp_pt *p = &res->pts[i];

		out_add(o, "a=rtpmap:%u %s/%u%s%s\r\n", p->pt, p->name, p->rate, p->params[0] ? "/" : "", p->params);
		if (p->fmtp[0] != '\0')
			out_add(o, "a=fmtp:%u %s\r\n", p->pt, p->fmtp);
	}
}

static int out_crypto(struct out *o, unsigned long tag, const struct mg_srtp_suite_info *si,
		      const struct mg_srtp_sdes_key *k)
{
	char line[SDP_CRYPTO_LINE_MAX];

	if (sdp_crypto_format(tag, si, k, line, sizeof(line)) < 0)
		return -ENOSPC;
	out_add(o, "a=crypto:%s\r\n", line);
	return 0;
}

/* Our audio m= line and the attributes that go with it (answers and
 * re-offers of the session as it stands): payload types, ptime, direction,
 * rtcp-mux, and the crypto line of @p suite (NULL: plain RTP). */
static void out_audio(struct out *o, uint16_t port, const char *proto,
		      const struct sdp_result *res, const struct mg_srtp_suite_info *suite)
{
	out_add(o, "m=audio %u %s", port, proto);
	for (unsigned k = 0; k < res->n_pts; k++)
		out_add(o, " %u", res->pts[k].pt);
	out_add(o, "\r\n");
	out_pts(o, res);
	if (res->ptime)
		out_add(o, "a=ptime:%u\r\n", res->ptime);
	out_add(o, "a=%s\r\n", sdp_dir_name(res->dir));
	if (res->rtcp_mux)
		out_add(o, "a=rtcp-mux\r\n");
	if (suite != NULL && out_crypto(o, res->crypto_tag, suite, &res->local_key) < 0)
		o->overflow = true;
}

static void new_session_ids(const struct sdp_policy *pol, const struct sdp_result *prev, struct sdp_result *res)
{
	if (prev != NULL && prev->sess_id != 0) {
		res->sess_id = prev->sess_id;
		res->sess_version = prev->sess_version + 1;
	} else {
		res->sess_id = pol->sess_id;
		if (res->sess_id == 0 && RAND_bytes((unsigned char *)&res->sess_id, sizeof(res->sess_id)) == 1)
			res->sess_id &= 0x7fffffffffffffffull; /* some parsers read it as signed */
		res->sess_version = 1;
	}
}

/* ---- input screening ------------------------------------------------ */

static bool is_token_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`{|}~", c) != NULL);
}

/*
 * sofia-sip 1.12's parser loops without end, allocating, on an m= line whose
 * format list holds a non-token character (e.g. "m=audio 4000 RT /SAVP 0"):
 * one packet could exhaust the memory of the process. So every m= line is
 * checked against RFC 4566 (media SP port[/n] SP proto *(SP fmt), proto =
 * token *("/" token), fmt = token) before sofia sees the text, and a body
 * with a NUL byte is refused too.
 */
static int sdp_screen(const char *text, size_t len, char *why, size_t whylen)
{
	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, whylen, "NUL byte in the SDP body");
		return -EINVAL;
	}
	/* lines end at CR, LF or CRLF, as sofia reads them */
	for (const char *l = text; l < text + len;) {
		const char *end = l;

		while (end < text + len && *end != '\n' && *end != '\r')
			end++;
		const char *eol = end < text + len ? end : NULL;

		/* sofia reads " m=..." and "\tm=..." as m= lines too: so do we
		 * (an indented m= line went around this check, found by sdp_fuzz) */
		while (l < end && (*l == ' ' || *l == '\t'))
			l++;
		if (end - l >= 2 && l[0] == 'm' && l[1] == '=') {
			const char *p = l + 2;
			int field = 0;

			while (p < end) {
				const char *t = p;

				while (t < end && *t != ' ')
					t++;
				if (t == p) { /* runs of blanks: tolerated, as sofia does */
					p++;
					continue;
				}
				bool ok = true;

				for (const char *c = p; ok && c < t; c++) {
					if (field == 1)
						ok = (*c >= '0' && *c <= '9') || (*c == '/' && c > p && c + 1 < t);
					else if (field == 2)
						ok = is_token_char(*c) ||
						     (*c == '/' && c > p && c + 1 < t && c[1] != '/');
					else
						ok = is_token_char(*c);
				}
				if (!ok) {
					snprintf(why, whylen, "m= line \"%.*s\" (allowed: media port[/count] proto fmt..., "
						 "RFC 4566 tokens separated by spaces)",
						 (int)(end - l > 80 ? 80 : end - l), l);
					return -EINVAL;
				}
				field++;
				p = t < end ? t + 1 : t;
			}
			if (field < 3) {
				snprintf(why, whylen, "m= line \"%.*s\" has fewer than 3 fields", (int)(end - l > 80 ? 80 : end - l), l);
				return -EINVAL;
			}
		}
		l = eol ? eol + 1 : text + len;
	}
	return 0;
}

/* The SDP @p what ("offer", "answer") screened and parsed: its session, or
 * NULL with @p res failed (400) and *@p rc set. *@p p, once set, is the
 * caller's to free either way. */
static sdp_session_t *sdp_parse_screened(su_home_t *home, const char *text, size_t len, const char *what,
					 struct sdp_result *res, sdp_parser_t **p, int *rc)
{
	sdp_session_t *sess;
	char why[200];

	if (sdp_screen(text, len, why, sizeof(why)) < 0) {
		*rc = fail(res, 400, WARN_MISC, "SDP %s refused: %s", what, why);
		return NULL;
	}
	*p = sdp_parse(home, text, (issize_t)len, 0);
	if (*p == NULL || sdp_parsing_error(*p) != NULL || (sess = sdp_session(*p)) == NULL) {
		*rc = fail(res, 400, WARN_MISC, "SDP %s does not parse: %s", what,
			   *p && sdp_parsing_error(*p) ? sdp_parsing_error(*p) : "empty");
		return NULL;
	}
	return sess;
}

/* ---- offers we receive ---------------------------------------------- */

struct cand {
	sdp_media_t *m;
	unsigned index;
	bool usable;       /* audio, not rejected, RTP/AVP or RTP/SAVP */
	bool offers_srtp;  /* RTP/SAVP, or a=crypto in RTP/AVP (Microsoft) */
	bool offers_rtp;   /* RTP/AVP not marked a=encryption:required */
	int prio;          /* our priority of its best usable crypto line, -1 none */
	struct sdp_crypto crypto;
};

static void classify(const struct sdp_policy *pol, struct cand *c, char *skipped, size_t skiplen)
{
	sdp_media_t *m = c->m;
	bool savp = m->m_proto == sdp_proto_srtp, has_crypto = false;
	const char *enc = attr_value(m->m_attributes, "encryption", NULL);

	c->prio = -1;
	c->usable = m->m_type == sdp_media_audio && m->m_port != 0 && !m->m_rejected &&
		    (m->m_proto == sdp_proto_rtp || savp);
	if (!c->usable)
		return;
	for (const sdp_attribute_t *a = m->m_attributes; a != NULL; a = a->a_next) {
		struct sdp_crypto cr;
		char why[160];
		int rc, prio;

		if (strcasecmp(a->a_name, "crypto") != 0)
			continue;
		has_crypto = true;
		rc = sdp_crypto_parse(a->a_value ? a->a_value : "", &cr, why, sizeof(why));
		prio = rc == 0 ? suite_prio(pol, cr.suite) : -1;
		if (rc == 0 && prio < 0)
			snprintf(why, sizeof(why), "%s not enabled", cr.suite_name);
		if (rc == 0 && prio >= 0 && pol->max_keys != 0 && cr.nkeys > pol->max_keys) {
			snprintf(why, sizeof(why), "%u keys in one line (allowed: %u)", cr.nkeys, pol->max_keys);
			prio = -1;
		}
		if (rc < 0 || prio < 0) {
			size_t l = strlen(skipped);

			/* The line without its key: logs hold no key material. */
			const char *v = a->a_value ? a->a_value : "", *k = strstr(v, "inline:");

			MG_DEBUG("sdp: crypto line \"%.*s%s\" skipped: %s", k ? (int)(k - v) : (int)strlen(v), v,
				 k ? "inline:..." : "", why);
			snprintf(skipped + l, skiplen - l, "%s%s", l ? "; " : "", why);
			continue;
		}
		/* our priority decides; among equals the offerer's order */
		if (c->prio < 0 || prio < c->prio) {
			c->prio = prio;
			c->crypto = cr;
		}
	}
	bool required = enc != NULL && strcasecmp(enc, "required") == 0;
	bool rejected = enc != NULL && strcasecmp(enc, "rejected") == 0;

	c->offers_srtp = savp || (has_crypto && !rejected);
	c->offers_rtp = !savp && !required;
	if (rejected)
		c->prio = -1;
}

static bool codec_allowed(const struct sdp_policy *pol, const char *name, unsigned rate)
{
	const struct sdp_codec *cs = pol->codecs ? pol->codecs : default_codecs;
	unsigned n = pol->codecs ? pol->n_codecs : 3;

	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(cs[i].name, name) == 0 && cs[i].rate == rate)
			return true;
	return false;
}

/* Payload types both sides have, in the offerer's order. Returns the count
 * of audio codecs (telephone-event and CN alone do not make a call). */
static unsigned intersect(const struct sdp_policy *pol, const sdp_media_t *m, struct sdp_result *res)
{
	unsigned audio = 0;

	res->n_pts = 0;
	res->telephone_event_pt = -1;
	for (const sdp_rtpmap_t *r = m->m_rtpmaps; r != NULL; r = r->rm_next) {
		if (r->rm_encoding == NULL || r->rm_encoding[0] == '\0' || res->n_pts >= SDP_MAX_PTS)
			continue;
		if (!codec_allowed(pol, r->rm_encoding, (unsigned)r->rm_rate))
			continue;
		struct sdp_pt *p = &res->pts[res->n_pts++];

		p->pt = (uint8_t)r->rm_pt;
		snprintf(p->name, sizeof(p->name), "%s", r->rm_encoding);
		p->rate = (unsigned)r->rm_rate;
		snprintf(p->params, sizeof(p->params), "%s", r->rm_params ? r->rm_params : "");
		snprintf(p->fmtp, sizeof(p->fmtp), "%s", r->rm_fmtp ? r->rm_fmtp : "");
		if (strcasecmp(p->name, "telephone-event") == 0) {
			if (res->telephone_event_pt < 0)
				res->telephone_event_pt = p->pt;
		} else if (strcasecmp(p->name, "CN") != 0) {
			audio++;
		}
	}
	return audio;
}

/* Remote address, ports, rtcp-mux, direction and hold from a media line. */
static int remote_media(const struct sdp_policy *pol, const sdp_session_t *sess, const sdp_media_t *m,
			enum sdp_dir allowed, struct sdp_result *res)
{
	const sdp_connection_t *c = m->m_connections ? m->m_connections : sess->sdp_connection;
	const char *rtcp;
	bool mux;
	unsigned peer;

	if (c == NULL || c->c_address == NULL)
		return fail(res, 488, WARN_MISC, "no connection address (c=) for the audio stream");
	snprintf(res->remote_addr, sizeof(res->remote_addr), "%s", c->c_address);
	res->remote_family = c->c_addrtype == sdp_addr_ip6 ? AF_INET6 : AF_INET;
	unsigned char bin[16];

	if (inet_pton(res->remote_family, res->remote_addr, bin) != 1)
		return fail(res, 488, 301, "connection address %s is not a numeric IP%s address (host names are "
			    "not resolved)", res->remote_addr, res->remote_family == AF_INET6 ? "v6" : "v4");
	if (pol->ipv4_only && res->remote_family == AF_INET6)
		return fail(res, 488, 301, "IPv6 media address %s (allowed: IPv4)", res->remote_addr);
	if (m->m_port == 0 || m->m_port > 65535)
		return fail(res, 488, WARN_MISC, "audio port %lu", m->m_port);
	res->remote_rtp_port = (uint16_t)m->m_port;
	attr_value(m->m_attributes, "rtcp-mux", &mux);
	res->rtcp_mux = mux && !pol->no_rtcp_mux;
	rtcp = attr_value(m->m_attributes, "rtcp", NULL);
	if (res->rtcp_mux)
		res->remote_rtcp_port = res->remote_rtp_port;
	else if (attr_uint(rtcp, 65535) > 0)
		res->remote_rtcp_port = (uint16_t)attr_uint(rtcp, 65535);
	else
		res->remote_rtcp_port = (uint16_t)(res->remote_rtp_port + 1);
	/* peer's mode is its own view: its "send" is our "receive" */
	peer = m->m_mode & 3;
	if (strcmp(res->remote_addr, "0.0.0.0") == 0 || strcmp(res->remote_addr, "::") == 0)
		peer &= ~(unsigned)SDP_DIR_RECVONLY; /* RFC 2543 hold: it receives nothing */
	res->hold = !(peer & SDP_DIR_RECVONLY);
	res->dir = (enum sdp_dir)((((peer & 1) << 1) | ((peer & 2) >> 1)) & allowed);
	return 0;
}

static void key_for_peer(const struct sdp_policy *pol, const struct sdp_crypto *peer, struct mg_srtp_sdes_key *k)
{
	memset(k, 0, sizeof(*k));
	/* Mirror the peer's MKI length (some stacks, OCS among them, expect
	 * it) and lifetime; our MKI value is 1. */
	k->lifetime = peer->keys[0].lifetime ? peer->keys[0].lifetime : pol->key_lifetime;
	if (peer->mki_len != 0) {
		k->mki = 1;
		k->mki_len = peer->mki_len;
	}
}

static bool peer_keys_same(const struct sdp_result *prev, const struct sdp_crypto *cr)
{
	struct mg_srtp_policy p;

	if (!prev->srtp || prev->suite != cr->suite->id)
		return false;
	sdp_crypto_to_policy(cr->suite, cr->keys, cr->nkeys, cr->mki_len, MG_SRTP_DIR_INBOUND, &p);
	return memcmp(&p, &prev->rx, sizeof(p)) == 0;
}

int sdp_answer(const struct sdp_policy *pol, const char *offer, size_t len, const struct sdp_result *prev,
	       struct sdp_result *res)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	struct cand cands[16];
	unsigned n = 0;
	char skipped[512] = "", names[128];
	bool any_srtp = false, any_rtp = false;
	int best = -1, rtp_line = -1, rc = 0;
	sdp_parser_t *p = NULL;
	sdp_session_t *sess;

	memset(res, 0, sizeof(*res));
	res->telephone_event_pt = -1;
	sess = sdp_parse_screened(home, offer, len, "offer", res, &p, &rc);
	if (sess == NULL)
		goto out;
	for (sdp_media_t *m = sess->sdp_media; m != NULL; m = m->m_next) {
		if (n >= sizeof(cands) / sizeof(cands[0])) {
			rc = fail(res, 488, WARN_MEDIA, "more than %zu media lines", sizeof(cands) / sizeof(cands[0]));
			goto out;
		}
		memset(&cands[n], 0, sizeof(cands[n]));
		cands[n].m = m;
		cands[n].index = n;
		classify(pol, &cands[n], skipped, sizeof(skipped));
		if (cands[n].usable) {
			any_srtp |= cands[n].offers_srtp;
			any_rtp |= cands[n].offers_rtp;
			if (cands[n].prio >= 0 && (best < 0 || cands[n].prio < cands[best].prio))
				best = (int)n;
			if (cands[n].offers_rtp && rtp_line < 0)
				rtp_line = (int)n;
		}
		n++;
	}
	if (!any_srtp && !any_rtp) {
		char offered[128] = "";
		size_t ol = 0;

		for (unsigned i = 0; i < n && ol < sizeof(offered); i++)
			ol += (size_t)snprintf(offered + ol, sizeof(offered) - ol, "%s%s %s", i ? ", " : "",
					       cands[i].m->m_type_name, cands[i].m->m_proto_name);
		rc = fail(res, 488, WARN_MEDIA, "no usable audio stream (offered: %s; allowed: audio RTP/AVP or RTP/SAVP)",
			  n ? offered : "nothing");
		goto out;
	}
	pol_suite_names(pol, names, sizeof(names));

	/* SPEC §4 answer table */
	int use = -1;
	bool srtp = false;

	switch (pol->mode) {
	case MG_SRTP_MODE_ALWAYS:
		if (best >= 0) {
			use = best;
			srtp = true;
		} else if (any_srtp) {
			rc = fail(res, 488, WARN_TRANSPORT, "no offered crypto line is usable: %s (enabled suites: %s)",
				  skipped[0] ? skipped : "no a=crypto line", names);
			goto out;
		} else {
			rc = fail(res, 488, WARN_TRANSPORT,
				  "SRTP is required (netborder.media.srtp.mode=always) but the offer has RTP only");
			goto out;
		}
		break;
	case MG_SRTP_MODE_AS_NEEDED:
		if (best >= 0) {
			use = best;
			srtp = true;
		} else if (any_rtp) {
			use = rtp_line;
		} else {
			rc = fail(res, 488, WARN_TRANSPORT, "no offered crypto line is usable: %s (enabled suites: %s)",
				  skipped[0] ? skipped : "no a=crypto line", names);
			goto out;
		}
		break;
	case MG_SRTP_MODE_NEVER:
	default:
		if (any_rtp) {
			use = rtp_line;
		} else {
			rc = fail(res, 488, WARN_TRANSPORT,
				  "SRTP is disabled (netborder.media.srtp.mode=never) but the offer has SRTP only");
			goto out;
		}
		break;
	}
	struct cand *c = &cands[use];

	res->media_index = c->index;
	if (intersect(pol, c->m, res) == 0) {
		rc = fail(res, 488, WARN_FORMAT, "no audio codec in common (allowed: %s)",
			  pol->codecs ? "the configured codecs" : "PCMU/8000, PCMA/8000");
		goto out;
	}
	if ((rc = remote_media(pol, sess, c->m, pol_dir(pol), res)) < 0)
		goto out;
	const char *ptime = attr_value(c->m->m_attributes, "ptime", NULL);

	res->ptime = attr_uint(ptime, 65535);
	res->srtp = srtp;
	res->ms_dialect = srtp && c->m->m_proto == sdp_proto_rtp;
	if (srtp) {
		const struct mg_srtp_suite_info *si = c->crypto.suite;

		res->suite = si->id;
		res->crypto_tag = c->crypto.tag;
		if (prev != NULL && peer_keys_same(prev, &c->crypto)) {
			res->local_key = prev->local_key;
		} else {
			key_for_peer(pol, &c->crypto, &res->local_key);
			if (sdp_crypto_random_key(si, &res->local_key) < 0) {
				rc = -EIO;
				goto out;
			}
			res->rekey_rx = res->rekey_tx = prev != NULL;
		}
		sdp_crypto_to_policy(si, c->crypto.keys, c->crypto.nkeys, c->crypto.mki_len, MG_SRTP_DIR_INBOUND,
				     &res->rx);
		sdp_crypto_to_policy(si, &res->local_key, 1, res->local_key.mki_len, MG_SRTP_DIR_OUTBOUND, &res->tx);
	} else if (prev != NULL && prev->srtp) {
		res->rekey_rx = res->rekey_tx = true; /* SRTP -> RTP */
	}
	res->rekey = res->rekey_rx || res->rekey_tx;

	/* the answer: one m= line per offered line, ours or port 0 */
	struct out o = { .s = res->sdp, .cap = sizeof(res->sdp) };

	new_session_ids(pol, prev, res);
	out_session(&o, pol, res);
	for (unsigned i = 0; i < n; i++) {
		sdp_media_t *m = cands[i].m;

		if (i != res->media_index) {
			out_add(&o, "m=%s 0 %s", m->m_type_name, m->m_proto_name);
			if (m->m_rtpmaps != NULL) {
				for (const sdp_rtpmap_t *r = m->m_rtpmaps; r != NULL; r = r->rm_next)
					out_add(&o, " %u", r->rm_pt);
			} else {
				for (const sdp_list_t *l = m->m_format; l != NULL; l = l->l_next)
					out_add(&o, " %s", l->l_text);
				if (m->m_format == NULL)
					out_add(&o, " 0");
			}
			out_add(&o, "\r\n");
			continue;
		}
		out_audio(&o, pol->local_port, m->m_proto_name, res, srtp ? c->crypto.suite : NULL);
	}
	if (o.overflow) {
		rc = fail(res, 500, WARN_MISC, "answer longer than %d bytes", SDP_TEXT_MAX);
		goto out;
	}
	res->sdp_len = o.len;
	MG_DEBUG("sdp: answered %s with %s%s%s (mode %s)", srtp ? "SRTP" : "RTP", srtp ? c->crypto.suite->sdes_name : "",
		 res->ms_dialect ? " in RTP/AVP" : "", res->rekey ? ", re-keyed" : "", mode_names[pol->mode]);
out:
	if (p != NULL)
		sdp_parser_free(p);
	su_home_deinit(home);
	return rc;
}

/* ---- offers we make ------------------------------------------------- */

static const struct {
	const char *name;
	unsigned rate;
	uint8_t pt;
} static_pts[] = {
	{ "PCMU", 8000, 0 }, { "GSM", 8000, 3 },  { "G723", 8000, 4 }, { "PCMA", 8000, 8 },
	{ "G722", 8000, 9 }, { "CN", 8000, 13 }, { "G729", 8000, 18 },
};

int sdp_offer(const struct sdp_policy *pol, const struct sdp_result *prev, struct sdp_result *res)
{
	const struct sdp_codec *cs = pol->codecs ? pol->codecs : default_codecs;
	unsigned ncs = pol->codecs ? pol->n_codecs : 3, dyn = 101;
	const enum mg_srtp_suite *suites;
	unsigned nsuites;
	struct out o = { .s = res->sdp, .cap = sizeof(res->sdp) };

	memset(res, 0, sizeof(*res));
	res->telephone_event_pt = -1;
	if (prev != NULL) {
		res->before.valid = true;
		res->before.srtp = prev->srtp;
		res->before.suite = prev->suite;
		res->before.rx = prev->rx;
	}
	for (unsigned i = 0; i < ncs && res->n_pts < SDP_MAX_PTS; i++) {
		struct sdp_pt *p = &res->pts[res->n_pts++];
		bool found = false;

		for (size_t k = 0; k < sizeof(static_pts) / sizeof(static_pts[0]); k++) {
			if (strcasecmp(static_pts[k].name, cs[i].name) == 0 && static_pts[k].rate == cs[i].rate) {
				p->pt = static_pts[k].pt;
				found = true;
			}
		}
		if (!found) {
			if (dyn > 127) {
				res->n_pts--;
				continue;
			}
			p->pt = (uint8_t)dyn++;
		}
		snprintf(p->name, sizeof(p->name), "%s", cs[i].name);
		p->rate = cs[i].rate;
		if (strcasecmp(cs[i].name, "telephone-event") == 0) {
			snprintf(p->fmtp, sizeof(p->fmtp), "0-16");
			res->telephone_event_pt = p->pt;
		}
	}
	res->ptime = pol->ptime;
	res->dir = pol_dir(pol);
	res->rtcp_mux = !pol->no_rtcp_mux;
	new_session_ids(pol, prev, res);
	out_session(&o, pol, res);

	bool srtp = pol->mode != MG_SRTP_MODE_NEVER;
	bool savp = pol->mode == MG_SRTP_MODE_ALWAYS && !pol->ms_offer;

	out_add(&o, "m=audio %u %s", pol->local_port, savp ? "RTP/SAVP" : "RTP/AVP");
	for (unsigned k = 0; k < res->n_pts; k++)
		out_add(&o, " %u", res->pts[k].pt);
	out_add(&o, "\r\n");
	out_pts(&o, res);
	if (res->ptime)
		out_add(&o, "a=ptime:%u\r\n", res->ptime);
	out_add(&o, "a=%s\r\n", sdp_dir_name(res->dir));
	if (res->rtcp_mux)
		out_add(&o, "a=rtcp-mux\r\n");
	if (srtp) {
		pol_suites(pol, &suites, &nsuites);
		for (unsigned i = 0; i < nsuites && res->n_offered < MG_CFG_MAX_SUITES; i++) {
			const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(suites[i]);

			if (si == NULL)
				continue;
			unsigned k = res->n_offered++;

			res->offered[k].tag = k + 1;
			res->offered[k].suite = si;
			/* re-offer: keep the key in use so our ROC need not restart */
			if (prev != NULL && prev->srtp && prev->suite == si->id) {
				res->offered[k].key = prev->local_key;
			} else {
				res->offered[k].key.lifetime = pol->key_lifetime;
				if (sdp_crypto_random_key(si, &res->offered[k].key) < 0)
					return -EIO;
			}
			if (out_crypto(&o, res->offered[k].tag, si, &res->offered[k].key) < 0)
				o.overflow = true;
		}
		if (!savp)
			out_add(&o, "a=encryption:%s\r\n", pol->mode == MG_SRTP_MODE_ALWAYS ? "required" : "optional");
	}
	if (o.overflow)
		return fail(res, 500, WARN_MISC, "offer longer than %d bytes", SDP_TEXT_MAX);
	res->sdp_len = o.len;
	return 0;
}

/* The SDP of the session as it stands (see sdp_offer_current()), o= version
 * @version. The m= lines of our previous SDP other than the audio one are
 * repeated with port 0, so the offer keeps their number and order (RFC 3264
 * §8); the audio line carries what is in use. */
static int current_text(const struct sdp_policy *pol, const struct sdp_result *cur, struct sdp_result *res,
			uint64_t version)
{
	struct out o = { .s = res->sdp, .cap = sizeof(res->sdp) };
	const char *l = cur->sdp, *end = cur->sdp + strnlen(cur->sdp, sizeof(cur->sdp));
	unsigned idx = 0;
	bool audio_done = false;

	res->sess_version = version;
	out_session(&o, pol, res);
	while (l < end) {
		const char *eol = memchr(l, '\n', (size_t)(end - l));
		size_t n = eol ? (size_t)(eol - l) : (size_t)(end - l);

		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (n > 2 && l[0] == 'm' && l[1] == '=') {
			if (idx != cur->media_index) {
				/* "m=TYPE PORT REST": written again with port 0 */
				const char *sp = memchr(l, ' ', n), *sp2 = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - l)) : NULL;

				if (sp == NULL || sp2 == NULL)
					return -EINVAL;
				out_add(&o, "%.*s 0%.*s\r\n", (int)(sp - l), l, (int)(n - (size_t)(sp2 - l)), sp2);
			} else {
				audio_done = true;
				out_audio(&o, pol->local_port,
					  res->srtp && !res->ms_dialect ? "RTP/SAVP" : "RTP/AVP", res,
					  res->srtp ? res->offered[0].suite : NULL);
				if (res->srtp && res->ms_dialect)
					out_add(&o, "a=encryption:%s\r\n",
						pol->mode == MG_SRTP_MODE_ALWAYS ? "required" : "optional");
			}
			idx++;
		}
		l = eol ? eol + 1 : end;
	}
	if (!audio_done)
		return -EINVAL;
	if (o.overflow)
		return -ENOSPC;
	res->sdp_len = o.len;
	return 0;
}

int sdp_offer_current(const struct sdp_policy *pol, const struct sdp_result *cur, struct sdp_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if (cur == NULL || cur->status != 0 || cur->sess_id == 0 || cur->sdp_len == 0)
		return fail(res, 500, WARN_MISC, "no negotiated session to offer again");
	res->before.valid = true;
	res->before.srtp = cur->srtp;
	res->before.suite = cur->suite;
	res->before.rx = cur->rx;
	res->srtp = cur->srtp;
	res->suite = cur->suite;
	res->crypto_tag = cur->crypto_tag;
	res->ms_dialect = cur->ms_dialect;
	res->local_key = cur->local_key;
	memcpy(res->pts, cur->pts, sizeof(res->pts));
	res->n_pts = cur->n_pts;
	res->telephone_event_pt = cur->telephone_event_pt;
	res->ptime = cur->ptime;
	res->rtcp_mux = cur->rtcp_mux && !pol->no_rtcp_mux;
	res->dir = pol_dir(pol);
	res->media_index = cur->media_index;
	if (cur->srtp) {
		/* the one crypto line in use: its tag, suite and our key */
		res->offered[0].tag = cur->crypto_tag;
		res->offered[0].suite = mg_srtp_suite_by_id(cur->suite);
		res->offered[0].key = cur->local_key;
		res->n_offered = 1;
		if (res->offered[0].suite == NULL)
			return fail(res, 500, WARN_MISC, "unknown suite in use");
	}
	res->sess_id = cur->sess_id;
	/* RFC 3264 §8: the version goes up only when the SDP differs from the
	 * previous one sent. That is cur's, unless a later offer of ours went
	 * out and got no answer (an ACK without SDP, a refused re-INVITE): then
	 * the version must pass that one's, whatever the text. */
	rc = current_text(pol, cur, res, cur->sess_version);
	if (rc == 0 && pol->last_sent_version > cur->sess_version)
		rc = current_text(pol, cur, res, pol->last_sent_version + 1);
	else if (rc == 0 && strcmp(res->sdp, cur->sdp) != 0)
		rc = current_text(pol, cur, res, cur->sess_version + 1);
	if (rc < 0) {
		enum sdp_dir dir = res->dir;

		fail(res, 500, WARN_MISC, "cannot write the current session: %s", strerror(-rc));
		res->dir = dir;
		return -EPROTO;
	}
	return 0;
}

int sdp_answer_process(const struct sdp_policy *pol, const char *answer, size_t len, struct sdp_result *res)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	sdp_parser_t *p = NULL;
	sdp_session_t *sess;
	sdp_media_t *m;
	struct sdp_pt offered_pts[SDP_MAX_PTS];
	unsigned n_offered_pts = res->n_pts;
	enum sdp_dir offered_dir = res->dir;
	int rc = 0;

	memcpy(offered_pts, res->pts, sizeof(offered_pts));
	sess = sdp_parse_screened(home, answer, len, "answer", res, &p, &rc);
	if (sess == NULL)
		goto out;
	/* the answer's line at the index of our audio line (0 in offers made
	 * by sdp_offer(); sdp_offer_current() keeps the previous layout) */
	m = sess->sdp_media;
	for (unsigned i = 0; i < res->media_index && m != NULL; i++)
		m = m->m_next;
	if (m == NULL || m->m_type != sdp_media_audio || m->m_port == 0 || m->m_rejected) {
		rc = fail(res, 488, WARN_MEDIA, "the answer rejects the audio stream");
		goto out;
	}
	if (m->m_proto != sdp_proto_rtp && m->m_proto != sdp_proto_srtp) {
		rc = fail(res, 488, WARN_TRANSPORT, "answer transport %s (allowed: RTP/AVP, RTP/SAVP)",
			  m->m_proto_name);
		goto out;
	}
	/* the crypto line the answerer picked, by tag and suite */
	const struct sdp_crypto *pick = NULL;
	struct sdp_crypto cr;
	unsigned picked = 0;
	char why[160] = "";

	for (const sdp_attribute_t *a = m->m_attributes; a != NULL && pick == NULL; a = a->a_next) {
		if (strcasecmp(a->a_name, "crypto") != 0)
			continue;
		if (sdp_crypto_parse(a->a_value ? a->a_value : "", &cr, why, sizeof(why)) < 0)
			continue;
		if (pol->max_keys != 0 && cr.nkeys > pol->max_keys) {
			snprintf(why, sizeof(why), "%u keys in one line (allowed: %u)", cr.nkeys, pol->max_keys);
			continue;
		}
		for (unsigned k = 0; k < res->n_offered; k++) {
			if (res->offered[k].tag == cr.tag && res->offered[k].suite == cr.suite) {
				pick = &cr;
				picked = k;
			}
		}
		if (pick == NULL)
			snprintf(why, sizeof(why), "crypto tag %lu %s was not offered", cr.tag, cr.suite_name);
	}
	if (pick == NULL && m->m_proto == sdp_proto_srtp) {
		rc = fail(res, 488, WARN_TRANSPORT, "the RTP/SAVP answer has no usable crypto line%s%s",
			  why[0] ? ": " : "", why);
		goto out;
	}
	if (pick == NULL && pol->mode == MG_SRTP_MODE_ALWAYS) {
		rc = fail(res, 488, WARN_TRANSPORT,
			  "SRTP is required (netborder.media.srtp.mode=always) but the answer has RTP only%s%s",
			  why[0] ? ": " : "", why);
		goto out;
	}
	/* codecs: what the answer lists among what we offered */
	res->n_pts = 0;
	res->telephone_event_pt = -1;
	unsigned audio = 0;

	for (const sdp_rtpmap_t *r = m->m_rtpmaps; r != NULL; r = r->rm_next) {
		for (unsigned k = 0; k < n_offered_pts && res->n_pts < SDP_MAX_PTS; k++) {
			if (offered_pts[k].pt != r->rm_pt)
				continue;
			res->pts[res->n_pts] = offered_pts[k];
			if (r->rm_fmtp != NULL)
				snprintf(res->pts[res->n_pts].fmtp, sizeof(res->pts[0].fmtp), "%s", r->rm_fmtp);
			if (strcasecmp(offered_pts[k].name, "telephone-event") == 0)
				res->telephone_event_pt = offered_pts[k].pt;
			else if (strcasecmp(offered_pts[k].name, "CN") != 0)
				audio++;
			res->n_pts++;
		}
	}
	if (audio == 0) {
		rc = fail(res, 488, WARN_FORMAT, "the answer names no audio codec we offered");
		goto out;
	}
	bool mux_offered = res->rtcp_mux;

	if ((rc = remote_media(pol, sess, m, offered_dir, res)) < 0)
		goto out;
	res->rtcp_mux = res->rtcp_mux && mux_offered;
	if (!res->rtcp_mux && res->remote_rtcp_port == res->remote_rtp_port)
		res->remote_rtcp_port = (uint16_t)(res->remote_rtp_port + 1);
	const char *ptime = attr_value(m->m_attributes, "ptime", NULL);

	if (ptime != NULL)
		res->ptime = attr_uint(ptime, 65535);
	res->srtp = pick != NULL;
	if (pick != NULL) {
		const struct mg_srtp_suite_info *si = pick->suite;

		res->suite = si->id;
		res->crypto_tag = pick->tag;
		res->ms_dialect = m->m_proto == sdp_proto_rtp;
		res->local_key = res->offered[picked].key;
		sdp_crypto_to_policy(si, pick->keys, pick->nkeys, pick->mki_len, MG_SRTP_DIR_INBOUND, &res->rx);
		sdp_crypto_to_policy(si, &res->local_key, 1, res->local_key.mki_len, MG_SRTP_DIR_OUTBOUND, &res->tx);
	}
	if (res->before.valid) {
		res->rekey_rx = res->srtp != res->before.srtp ||
				(res->srtp && memcmp(&res->rx, &res->before.rx, sizeof(res->rx)) != 0);
		/* our key is new unless sdp_offer() reused the previous one */
		res->rekey_tx = res->srtp != res->before.srtp || (res->srtp && res->suite != res->before.suite);
		res->rekey = res->rekey_rx || res->rekey_tx;
	}
out:
	if (p != NULL)
		sdp_parser_free(p);
	su_home_deinit(home);
	return rc;
}

/* Bytes of a kept copy: everything before the text, the text and its NUL. */
static size_t kept_size(size_t text_len)
{
	return offsetof(struct sdp_result, sdp) + text_len + 1;
}

struct sdp_result *sdp_result_keep(const struct sdp_result *res)
{
	size_t n = strnlen(res->sdp, sizeof(res->sdp) - 1);
	char *k = malloc(kept_size(n));

	if (k == NULL)
		return NULL;
	/* Byte copies: the cut object is smaller than the struct. */
	memcpy(k, res, offsetof(struct sdp_result, sdp));
	memcpy(k + offsetof(struct sdp_result, sdp), res->sdp, n);
	k[offsetof(struct sdp_result, sdp) + n] = '\0';
	memcpy(k + offsetof(struct sdp_result, sdp_len), &n, sizeof(n));
	return (struct sdp_result *)(void *)k;
}

void sdp_result_load(struct sdp_result *dst, const struct sdp_result *kept)
{
	size_t n = kept->sdp_len;

	memset(dst, 0, sizeof(*dst));
	memcpy(dst, kept, kept_size(n));
}

void sdp_result_free(struct sdp_result *kept)
{
	if (kept == NULL)
		return;
	explicit_bzero(kept, kept_size(kept->sdp_len));
	free(kept);
}
