/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A line-based SDP reader/writer. sofia-sip's SDP parser is not used on
 * purpose: it re-prints what it parsed (order, spacing, unknown lines), and
 * a relay must hand on every line it does not own exactly as it came.
 */
#include "sdp_rw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static void sdprw_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sdprw_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* ---- lines ---------------------------------------------------------- */

struct sdprw_line {
	const char *p; /* "x=..." without the line end */
	size_t n;
	unsigned no;   /* 1-based, for error messages */
};

struct sdprw_reader {
	const char *buf;
	size_t len, pos;
	unsigned no;
};

/* A caller passing sizeof() of a string buffer hands us its NUL too:
 * trailing NULs end the SDP, they are not a line of it. */
static size_t sdprw_len(const char *sdp, size_t len)
{
	while (sdp != NULL && len > 0 && sdp[len - 1] == '\0')
		len--;
	return len;
}

/* 1: @p l is the next line, 0: end of input, -EINVAL: a line we refuse. */
static int sdprw_next(struct sdprw_reader *r, struct sdprw_line *l, char *why, size_t whylen)
{
	while (r->pos < r->len) {
		const char *s = r->buf + r->pos;
		size_t rest = r->len - r->pos;
		const char *nl = memchr(s, '\n', rest);
		size_t n = nl != NULL ? (size_t)(nl - s) : rest;

		r->pos += nl != NULL ? n + 1 : n;
		r->no++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		/* blank lines are not SDP, but a SIP body ending in an extra
		 * CRLF is common enough to tolerate; they are not written back */
		if (n == 0)
			continue;
		if (n > SDPRW_LINE_MAX) {
			sdprw_why(why, whylen, "line %u: longer than %d bytes", r->no, SDPRW_LINE_MAX);
			return -EINVAL;
		}
		/* a CR we would copy into the output could end a line for the
		 * next parser: refuse it rather than pass it on */
		if (memchr(s, '\0', n) != NULL || memchr(s, '\r', n) != NULL) {
			sdprw_why(why, whylen, "line %u: NUL or CR inside the line", r->no);
			return -EINVAL;
		}
		if (n < 2 || s[0] < 'a' || s[0] > 'z' || s[1] != '=') {
			sdprw_why(why, whylen, "line %u: not a type=value line (allowed: a lower-case letter, '=')",
				  r->no);
			return -EINVAL;
		}
		l->p = s;
		l->n = n;
		l->no = r->no;
		return 1;
	}
	return 0;
}

static bool sdprw_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Next blank-separated token of [*s, end): its start and length (0: none). */
static size_t sdprw_tok(const char **s, const char *end, const char **t)
{
	const char *p = *s;
	size_t n;

	while (p < end && sdprw_ws(*p))
		p++;
	*t = p;
	while (p < end && !sdprw_ws(*p))
		p++;
	n = (size_t)(p - *t);
	*s = p;
	return n;
}

static bool sdprw_copy(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool sdprw_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int sdprw_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* ---- m=, c=, o= ------------------------------------------------------ */

struct sdprw_mline {
	const char *type, *proto, *fmt, *rest; /* rest: what follows proto, as written */
	size_t type_n, proto_n, fmt_n, rest_n;
	uint16_t port;
};

static int sdprw_parse_m(const struct sdprw_line *l, struct sdprw_mline *m)
{
	const char *s = l->p + 2, *end = l->p + l->n, *t;
	size_t n, pn;

	m->type_n = sdprw_tok(&s, end, &m->type);
	if (m->type_n == 0 || m->type_n >= sizeof(((struct sdprw_media *)0)->type))
		return -EINVAL;
	n = sdprw_tok(&s, end, &t);
	/* port[/number of ports]: the count is dropped on output, we relay
	 * one port (pair) per m= */
	for (pn = 0; pn < n && t[pn] != '/'; pn++)
		;
	if (sdprw_port(t, pn, &m->port) < 0)
		return -EINVAL;
	if (pn < n) {
		uint16_t cnt;

		if (sdprw_port(t + pn + 1, n - pn - 1, &cnt) < 0)
			return -EINVAL;
	}
	m->proto_n = sdprw_tok(&s, end, &m->proto);
	if (m->proto_n == 0 || m->proto_n >= sizeof(((struct sdprw_media *)0)->proto))
		return -EINVAL;
	m->rest = s;
	m->rest_n = (size_t)(end - s);
	while (s < end && sdprw_ws(*s))
		s++;
	m->fmt = s;
	m->fmt_n = (size_t)(end - s);
	if (m->fmt_n >= sizeof(((struct sdprw_media *)0)->fmt))
		return -EINVAL;
	return 0;
}

/* c=IN IP4|IP6 ADDR[/ttl[/n]] */
static int sdprw_parse_c(const struct sdprw_line *l, char *addr, size_t addrlen, int *family)
{
	const char *s = l->p + 2, *end = l->p + l->n, *t;
	size_t n, an;

	n = sdprw_tok(&s, end, &t);
	if (!sdprw_eq(t, n, "IN"))
		return -EINVAL;
	n = sdprw_tok(&s, end, &t);
	if (sdprw_eq(t, n, "IP4"))
		*family = AF_INET;
	else if (sdprw_eq(t, n, "IP6"))
		*family = AF_INET6;
	else
		return -EINVAL;
	/* the address without a multicast /ttl/count */
	n = sdprw_tok(&s, end, &t);
	for (an = 0; an < n && t[an] != '/'; an++)
		;
	if (an == 0 || !sdprw_copy(addr, addrlen, t, an))
		return -EINVAL;
	if (sdprw_tok(&s, end, &t) != 0)
		return -EINVAL;
	return 0;
}

/* o=user sess-id sess-version nettype addrtype addr: where addrtype starts
 * and the address; -EINVAL when it has not exactly six fields. */
static int sdprw_parse_o(const struct sdprw_line *l, const char **addrtype, const char **addr, size_t *addr_n)
{
	const char *s = l->p + 2, *end = l->p + l->n, *t = NULL;
	size_t n = 0;

	for (int i = 0; i < 6; i++) {
		n = sdprw_tok(&s, end, &t);
		if (n == 0)
			return -EINVAL;
		if (i == 4)
			*addrtype = t;
	}
	*addr = t;
	*addr_n = n;
	return sdprw_tok(&s, end, &t) == 0 ? 0 : -EINVAL;
}

/* ---- attributes ------------------------------------------------------ */

enum sdprw_attr {
	SDPRW_A_OTHER,
	SDPRW_A_RTCP,
	SDPRW_A_RTCP_MUX,
	SDPRW_A_CRYPTO,
	SDPRW_A_DIR,
	SDPRW_A_ICE,
	SDPRW_A_FINGERPRINT,
	SDPRW_A_DTLS, /* the rest of DTLS-SRTP: setup, tls-id */
	SDPRW_A_ENCRYPTION,
};

static const struct {
	const char *name;
	enum sdprw_attr kind;
} sdprw_attrs[] = {
	{ "rtcp", SDPRW_A_RTCP },
	{ "rtcp-mux", SDPRW_A_RTCP_MUX },
	{ "crypto", SDPRW_A_CRYPTO },
	{ "sendrecv", SDPRW_A_DIR },
	{ "sendonly", SDPRW_A_DIR },
	{ "recvonly", SDPRW_A_DIR },
	{ "inactive", SDPRW_A_DIR },
	{ "ice-ufrag", SDPRW_A_ICE },
	{ "ice-pwd", SDPRW_A_ICE },
	{ "ice-options", SDPRW_A_ICE },
	{ "ice-lite", SDPRW_A_ICE },
	{ "candidate", SDPRW_A_ICE },
	{ "remote-candidates", SDPRW_A_ICE },
	{ "end-of-candidates", SDPRW_A_ICE },
	{ "fingerprint", SDPRW_A_FINGERPRINT },
	{ "setup", SDPRW_A_DTLS },
	{ "tls-id", SDPRW_A_DTLS },
	{ "encryption", SDPRW_A_ENCRYPTION },
};

struct sdprw_a {
	enum sdprw_attr kind;
	const char *name, *value; /* value: after ':', NULL without one */
	size_t name_n, value_n;
};

static void sdprw_parse_a(const struct sdprw_line *l, struct sdprw_a *a)
{
	const char *s = l->p + 2, *end = l->p + l->n;
	const char *colon = memchr(s, ':', (size_t)(end - s));

	a->name = s;
	a->name_n = (size_t)((colon != NULL ? colon : end) - s);
	a->value = colon != NULL ? colon + 1 : NULL;
	a->value_n = colon != NULL ? (size_t)(end - colon - 1) : 0;
	a->kind = SDPRW_A_OTHER;
	for (size_t i = 0; i < sizeof(sdprw_attrs) / sizeof(sdprw_attrs[0]); i++) {
		if (sdprw_eq(a->name, a->name_n, sdprw_attrs[i].name)) {
			a->kind = sdprw_attrs[i].kind;
			break;
		}
	}
}

/* ---- the scan both directions share ---------------------------------- */

/* What the writer needs to know before it writes the first line. */
struct sdprw_layout {
	unsigned n_media;
	bool session_c;
	bool session_dtls; /* a DTLS line (fingerprint, setup, tls-id) before the first m= */
	bool media_c[SDPRW_MAX_MEDIA];
	uint16_t port[SDPRW_MAX_MEDIA];
};

static void sdprw_media_attr(struct sdprw_media *m, const struct sdprw_a *a, bool *has_dir)
{
	char v[SDP_CRYPTO_LINE_MAX];

	switch (a->kind) {
	case SDPRW_A_RTCP: {
		const char *s = a->value, *end, *t;
		size_t n;

		if (s == NULL)
			break;
		end = s + a->value_n;
		n = sdprw_tok(&s, end, &t);
		/* a malformed a=rtcp is someone else's problem: we drop it
		 * on output anyway */
		if (sdprw_port(t, n, &m->rtcp_port) < 0)
			m->rtcp_port = 0;
		break;
	}
	case SDPRW_A_RTCP_MUX:
		m->rtcp_mux = true;
		break;
	case SDPRW_A_CRYPTO:
		if (m->n_crypto < SDPRW_MAX_CRYPTO && a->value != NULL && sdprw_copy(v, sizeof(v), a->value, a->value_n) &&
		    sdp_crypto_parse(v, &m->crypto[m->n_crypto], NULL, 0) == 0)
			m->n_crypto++;
		else
			m->n_crypto_bad++;
		break;
	case SDPRW_A_DIR:
		sdprw_copy(m->dir, sizeof(m->dir), a->name, a->name_n);
		*has_dir = true;
		break;
	case SDPRW_A_ICE:
		m->ice = true;
		break;
	case SDPRW_A_FINGERPRINT:
		m->dtls = true;
		break;
	case SDPRW_A_ENCRYPTION:
		if (a->value != NULL &&
		    (sdprw_eq(a->value, a->value_n, "required") || sdprw_eq(a->value, a->value_n, "optional")))
			m->ms_encryption = true;
		break;
	case SDPRW_A_DTLS:
	case SDPRW_A_OTHER:
		break;
	}
}

/*
 * One pass over the SDP: checks the structure, fills @p lay and, when
 * @p out is not NULL, what the party said. The writer passes NULL so that
 * it needs no struct sdprw_sdp (tens of KiB with the crypto keys).
 */
static int sdprw_scan(const char *sdp, size_t len, struct sdprw_sdp *out, struct sdprw_layout *lay, char *why,
		      size_t whylen)
{
	struct sdprw_reader r = { .buf = sdp, .len = len };
	struct sdprw_line l;
	struct sdprw_media sess; /* session-level attributes, applied at the end */
	bool sess_dir = false, has_dir[SDPRW_MAX_MEDIA] = { false };
	int sec = -1, rc;
	bool first = true;

	memset(lay, 0, sizeof(*lay));
	memset(&sess, 0, sizeof(sess));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (sdp == NULL) {
		sdprw_why(why, whylen, "no SDP");
		return -EINVAL;
	}
	while ((rc = sdprw_next(&r, &l, why, whylen)) > 0) {
		struct sdprw_media *m = NULL;

		if (first && l.p[0] != 'v') {
			sdprw_why(why, whylen, "line %u: the SDP does not start with v=", l.no);
			return -EINVAL;
		}
		first = false;
		if (sec >= 0 && out != NULL)
			m = &out->m[sec];
		switch (l.p[0]) {
		case 'm': {
			struct sdprw_mline ml;

			if (lay->n_media >= SDPRW_MAX_MEDIA) {
				sdprw_why(why, whylen, "line %u: more than %d m= lines", l.no, SDPRW_MAX_MEDIA);
				return -EINVAL;
			}
			if (sdprw_parse_m(&l, &ml) < 0) {
				sdprw_why(why, whylen,
					  "line %u: m= line does not parse (allowed: m=<media> <port 0-65535> "
					  "<proto> <fmt ...>, at most %zu bytes of formats)",
					  l.no, sizeof(out->m[0].fmt) - 1);
				return -EINVAL;
			}
			sec = (int)lay->n_media++;
			lay->port[sec] = ml.port;
			if (out != NULL) {
				m = &out->m[sec];
				out->n_media = lay->n_media;
				sdprw_copy(m->type, sizeof(m->type), ml.type, ml.type_n);
				sdprw_copy(m->proto, sizeof(m->proto), ml.proto, ml.proto_n);
				sdprw_copy(m->fmt, sizeof(m->fmt), ml.fmt, ml.fmt_n);
				m->port = ml.port;
			}
			break;
		}
		case 'c': {
			char addr[SDPRW_ADDR_MAX];
			int family;

			if (sdprw_parse_c(&l, addr, sizeof(addr), &family) < 0) {
				sdprw_why(why, whylen,
					  "line %u: c= line does not parse (allowed: c=IN IP4|IP6 <address>, "
					  "address shorter than %d bytes)",
					  l.no, SDPRW_ADDR_MAX);
				return -EINVAL;
			}
			if (sec < 0) {
				lay->session_c = true;
				if (out != NULL)
					memcpy(out->session_addr, addr, sizeof(addr));
				memcpy(sess.addr, addr, sizeof(addr));
				sess.family = family;
			} else {
				lay->media_c[sec] = true;
				if (m != NULL) {
					memcpy(m->addr, addr, sizeof(addr));
					m->family = family;
				}
			}
			break;
		}
		case 'o': {
			const char *at, *a;
			size_t an;

			if (sec < 0 && out != NULL && sdprw_parse_o(&l, &at, &a, &an) == 0)
				sdprw_copy(out->origin_addr, sizeof(out->origin_addr), a, an);
			break;
		}
		case 'a': {
			struct sdprw_a a;

			sdprw_parse_a(&l, &a);
			if (sec < 0) {
				if (a.kind == SDPRW_A_FINGERPRINT || a.kind == SDPRW_A_DTLS)
					lay->session_dtls = true;
				/* crypto at session level is not RFC 4568; it is
				 * not counted for any m= (it is dropped on output) */
				if (a.kind != SDPRW_A_CRYPTO)
					sdprw_media_attr(&sess, &a, &sess_dir);
			} else if (m != NULL) {
				sdprw_media_attr(m, &a, &has_dir[sec]);
			}
			break;
		}
		default:
			break;
		}
	}
	if (rc < 0)
		return rc;
	if (first) {
		sdprw_why(why, whylen, "empty SDP (no v= line)");
		return -EINVAL;
	}
	if (out == NULL)
		return 0;
	/* session level: a=fingerprint, ICE credentials, direction and c=
	 * hold for every m= that does not say otherwise */
	for (unsigned i = 0; i < out->n_media; i++) {
		struct sdprw_media *m = &out->m[i];

		if (!has_dir[i])
			snprintf(m->dir, sizeof(m->dir), "%s", sess_dir ? sess.dir : "sendrecv");
		m->dtls |= sess.dtls;
		m->ice |= sess.ice;
		m->ms_encryption |= sess.ms_encryption;
		if (!lay->media_c[i] && lay->session_c) {
			memcpy(m->addr, sess.addr, sizeof(m->addr));
			m->family = sess.family;
		}
	}
	return 0;
}

int sdprw_parse(const char *sdp, size_t len, struct sdprw_sdp *out, char *why, size_t whylen)
{
	struct sdprw_layout lay;

	sdprw_why(why, whylen, "%s", "");
	if (out == NULL) {
		sdprw_why(why, whylen, "no output");
		return -EINVAL;
	}
	return sdprw_scan(sdp, sdprw_len(sdp, len), out, &lay, why, whylen);
}

int sdprw_find_media(const struct sdprw_sdp *s, const char *type)
{
	for (unsigned i = 0; i < s->n_media && i < SDPRW_MAX_MEDIA; i++)
		if (strcmp(s->m[i].type, type) == 0)
			return (int)i;
	return -ENOENT;
}

const char *sdprw_proto_srtp(const char *proto, bool srtp)
{
	static const struct {
		const char *in, *plain, *secure;
	} map[] = {
		{ "RTP/AVP", "RTP/AVP", "RTP/SAVP" },
		{ "RTP/SAVP", "RTP/AVP", "RTP/SAVP" },
		{ "RTP/AVPF", "RTP/AVPF", "RTP/SAVPF" },
		{ "RTP/SAVPF", "RTP/AVPF", "RTP/SAVPF" },
		{ "UDP/TLS/RTP/SAVP", "RTP/AVP", "RTP/SAVP" },
		{ "UDP/TLS/RTP/SAVPF", "RTP/AVPF", "RTP/SAVPF" },
	};

	for (size_t i = 0; proto != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(proto, map[i].in) == 0)
			return srtp ? map[i].secure : map[i].plain;
	return NULL;
}

/* ---- codecs (strip/mask) --------------------------------------------- */

/* RFC 3551's static payload types that have a name. */
static const char *sdprw_static_pt(unsigned pt)
{
	static const char *const names[35] = {
		[0] = "PCMU", [3] = "GSM",   [4] = "G723", [5] = "DVI4", [6] = "DVI4", [7] = "LPC",
		[8] = "PCMA", [9] = "G722",  [10] = "L16", [11] = "L16", [12] = "QCELP", [13] = "CN",
		[14] = "MPA", [15] = "G728", [16] = "DVI4", [17] = "DVI4", [18] = "G729", [25] = "CelB",
		[26] = "JPEG", [28] = "nv",  [31] = "H261", [32] = "MPV", [33] = "MP2T", [34] = "H263",
	};

	return pt < 35 ? names[pt] : NULL;
}

/* Is @p name (n bytes) in the list @p list (comma/space separated)? */
static bool sdprw_in_list(const char *list, const char *name, size_t n)
{
	const char *s = list;

	while (s != NULL && *s) {
		size_t k;

		while (*s == ',' || *s == ' ')
			s++;
		for (k = 0; s[k] && s[k] != ',' && s[k] != ' '; k++)
			;
		if (k > 0 && ((k == n && strncasecmp(s, name, n) == 0) || (k == 3 && strncasecmp(s, "all", 3) == 0)))
			return true;
		s += k;
	}
	return false;
}

/* The encoding name of payload type @p pt in section @p sec (its
 * a=rtpmap, else the static name); *n = 0 when unknown. */
static const char *sdprw_pt_name(const char *sdp, size_t len, unsigned sec, unsigned pt, size_t *n)
{
	struct sdprw_reader r = { .buf = sdp, .len = len };
	struct sdprw_line l;
	int cur = -1;

	while (sdprw_next(&r, &l, NULL, 0) > 0) {
		if (l.p[0] == 'm') {
			if (++cur > (int)sec)
				break;
			continue;
		}
		if (cur == (int)sec && l.n > 9 && memcmp(l.p, "a=rtpmap:", 9) == 0) {
			const char *s = l.p + 9, *end = l.p + l.n;
			unsigned v = 0;
			size_t k = 0;

			while (s < end && *s >= '0' && *s <= '9' && k++ < 3)
				v = v * 10 + (unsigned)(*s++ - '0');
			if (k == 0 || v != pt)
				continue;
			while (s < end && sdprw_ws(*s))
				s++;
			for (k = 0; s + k < end && s[k] != '/' && !sdprw_ws(s[k]); k++)
				;
			*n = k;
			return s;
		}
	}
	{
		const char *st = sdprw_static_pt(pt);

		*n = st ? strlen(st) : 0;
		return st;
	}
}

/* Payload types of section @p sec to take out (bit per type 0-127). */
static void sdprw_strip_set(const char *sdp, size_t len, unsigned sec, const struct sdprw_mline *ml,
			    const struct sdprw_media_out *mo, uint64_t strip[2])
{
	const char *s = ml->fmt, *end = ml->fmt + ml->fmt_n;
	unsigned kept = 0;

	strip[0] = strip[1] = 0;
	if (mo->codec_strip == NULL || mo->codec_strip[0] == '\0')
		return;
	while (s < end) {
		const char *t;
		size_t n = sdprw_tok(&s, end, &t), nn = 0;
		unsigned pt = 0;
		const char *name;

		if (n == 0 || n > 3)
			continue;
		for (size_t i = 0; i < n; i++)
			pt = pt * 10 + (unsigned)(t[i] - '0');
		if (pt > 127)
			continue;
		name = sdprw_pt_name(sdp, len, sec, pt, &nn);
		if (name != NULL && nn > 0 && sdprw_in_list(mo->codec_strip, name, nn) &&
		    !(mo->codec_except != NULL && sdprw_in_list(mo->codec_except, name, nn)))
			strip[pt / 64] |= 1ull << (pt % 64);
		else
			kept++;
	}
	if (kept == 0) /* nothing would be left: a stream needs a format */
		strip[0] = strip[1] = 0;
}

static bool sdprw_stripped(const uint64_t strip[2], const char *s, size_t n)
{
	unsigned pt = 0;
	size_t i;

	for (i = 0; i < n && i < 4 && s[i] >= '0' && s[i] <= '9'; i++)
		pt = pt * 10 + (unsigned)(s[i] - '0');
	if (i == 0 || i > 3 || pt > 127 || (i < n && !sdprw_ws(s[i])))
		return false;
	return (strip[pt / 64] >> (pt % 64)) & 1;
}

/* ---- writing --------------------------------------------------------- */

struct sdprw_buf {
	char *p;
	size_t n, cap; /* cap >= 1: room for the NUL is kept at all times */
	bool full;
};

static void sdprw_put(struct sdprw_buf *b, const char *s, size_t n)
{
	if (b->full || n >= b->cap - b->n) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sdprw_putf(struct sdprw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sdprw_putf(struct sdprw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (b->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= b->cap - b->n) {
		b->full = true;
		b->p[b->n] = '\0';
		return;
	}
	b->n += (size_t)r;
}

static void sdprw_put_line(struct sdprw_buf *b, const struct sdprw_line *l)
{
	sdprw_put(b, l->p, l->n);
	sdprw_put(b, "\r\n", 2);
}

/* Something we copy into a line must not end it or split its fields. */
static bool sdprw_token_ok(const char *s, size_t max, bool spaces)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (!spaces && s[i] == ' '))
			return false;
	return true;
}

static int sdprw_check_out(const struct sdprw_out *o, const struct sdprw_layout *lay)
{
	if (!sdprw_token_ok(o->addr, SDPRW_ADDR_MAX, false) || (o->family != AF_INET && o->family != AF_INET6) ||
	    o->n_media != lay->n_media)
		return -EINVAL;
	for (unsigned i = 0; i < o->n_media; i++) {
		const struct sdprw_media_out *mo = &o->m[i];

		if (mo->proto != NULL && !sdprw_token_ok(mo->proto, sizeof(((struct sdprw_media *)0)->proto), false))
			return -EINVAL;
		if (mo->n_crypto > SDPRW_MAX_CRYPTO)
			return -EINVAL;
		for (unsigned k = 0; k < mo->n_crypto; k++)
			if (mo->crypto[k].suite == NULL ||
			    (mo->crypto[k].session_params != NULL &&
			     !sdprw_token_ok(mo->crypto[k].session_params, SDP_CRYPTO_LINE_MAX, true)))
				return -EINVAL;
	}
	return 0;
}

/* Microsoft's a=encryption goes with RTP/AVP + a=crypto only. */
static bool sdprw_drop_encryption(const struct sdprw_media_out *mo, const char *proto_in, size_t proto_in_n,
				  uint16_t port_in)
{
	bool savp = false;

	if (mo->proto != NULL) {
		savp = strstr(mo->proto, "SAVP") != NULL;
	} else {
		for (size_t i = 0; i + 4 <= proto_in_n && !savp; i++)
			savp = memcmp(proto_in + i, "SAVP", 4) == 0;
	}
	return savp || port_in == 0 || mo->n_crypto == 0;
}

static void sdprw_put_c(struct sdprw_buf *b, const struct sdprw_out *o)
{
	sdprw_putf(b, "c=IN %s %s\r\n", o->family == AF_INET6 ? "IP6" : "IP4", o->addr);
}

struct sdprw_writer {
	const char *sdp;
	size_t len;
	const struct sdprw_out *o;
	const struct sdprw_layout *lay;
	struct sdprw_buf b;
	bool sess_dtls_keep;   /* session-level DTLS lines stay where they are */
	bool sess_dtls_copy;   /* ... or move into the m= that keep DTLS */
	bool sess_enc_drop;
};

/* Lines a relay adds at the end of a section, in rtpengine's order:
 * a=rtcp, a=rtcp-mux, a=crypto..., then DTLS. */
static void sdprw_tail(struct sdprw_writer *w, unsigned sec)
{
	const struct sdprw_media_out *mo = &w->o->m[sec];
	char line[SDP_CRYPTO_LINE_MAX];

	/* a rejected stream (port 0 in, or 0 written: the caller refuses it)
	 * gets nothing of ours; rtpengine writes a port-0 m= without any of
	 * them either */
	if (w->lay->port[sec] == 0 || mo->port == 0)
		return;
	if (mo->rtcp_attr)
		sdprw_putf(&w->b, "a=rtcp:%u\r\n", mo->rtcp_port);
	if (mo->rtcp_mux)
		sdprw_put(&w->b, "a=rtcp-mux\r\n", 12);
	for (unsigned k = 0; k < mo->n_crypto; k++) {
		const struct sdprw_crypto_out *c = &mo->crypto[k];

		if (sdp_crypto_format(c->tag, c->suite, &c->key, line, sizeof(line)) < 0) {
			w->b.full = true;
			break;
		}
		sdprw_putf(&w->b, "a=crypto:%s%s%s\r\n", line, c->session_params != NULL ? " " : "",
			   c->session_params != NULL ? c->session_params : "");
	}
	/* the key in the clear stays in the caller's output only */
	explicit_bzero(line, sizeof(line));
	if (w->b.full)
		return;
	if (w->sess_dtls_copy && !mo->strip_dtls) {
		struct sdprw_reader r = { .buf = w->sdp, .len = w->len };
		struct sdprw_line l;

		while (sdprw_next(&r, &l, NULL, 0) > 0 && l.p[0] != 'm') {
			struct sdprw_a a;

			if (l.p[0] != 'a')
				continue;
			sdprw_parse_a(&l, &a);
			if (a.kind == SDPRW_A_FINGERPRINT || a.kind == SDPRW_A_DTLS)
				sdprw_put_line(&w->b, &l);
		}
	}
}

static int sdprw_rewrite(const char *sdp, size_t len, const struct sdprw_out *o, char *out, size_t outlen)
{
	struct sdprw_layout lay;
	struct sdprw_writer w = { .sdp = sdp, .len = len, .o = o, .lay = &lay };
	struct sdprw_reader r = { .buf = sdp, .len = len };
	struct sdprw_line l;
	struct sdprw_mline ml = { 0 };
	bool need_c = false, all_strip = true, all_enc_drop = true;
	uint64_t strip[2] = { 0, 0 }; /* payload types of the current section to take out */
	int sec = -1;

	if (out == NULL || outlen == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (o == NULL || sdprw_scan(sdp, len, NULL, &lay, NULL, 0) < 0 || sdprw_check_out(o, &lay) < 0)
		return -EINVAL;
	w.b = (struct sdprw_buf){ .p = out, .cap = outlen };

	/* Session-level DTLS applies to every m=: it stays when all of them
	 * keep DTLS, goes when all strip it, and otherwise moves into the
	 * sections that keep it so the others do not inherit it. The
	 * section m= protos are needed for a=encryption, hence a first pass. */
	{
		bool any_strip = false;
		struct sdprw_reader r2 = { .buf = sdp, .len = len };
		int s2 = -1;

		while (sdprw_next(&r2, &l, NULL, 0) > 0) {
			if (l.p[0] != 'm')
				continue;
			s2++;
			sdprw_parse_m(&l, &ml);
			if (!sdprw_drop_encryption(&o->m[s2], ml.proto, ml.proto_n, ml.port))
				all_enc_drop = false;
			if (o->m[s2].strip_dtls)
				any_strip = true;
			else
				all_strip = false;
		}
		w.sess_dtls_keep = !any_strip;
		w.sess_dtls_copy = any_strip && !all_strip && lay.session_dtls;
		w.sess_enc_drop = lay.n_media > 0 && all_enc_drop;
	}

	while (sdprw_next(&r, &l, NULL, 0) > 0) {
		if (l.p[0] == 'm') {
			if (sec >= 0) {
				if (need_c)
					sdprw_put_c(&w.b, o);
				sdprw_tail(&w, (unsigned)sec);
			}
			sec++;
			sdprw_parse_m(&l, &ml);
			sdprw_putf(&w.b, "m=%.*s %u ", (int)ml.type_n, ml.type, ml.port == 0 ? 0 : o->m[sec].port);
			/* the profile, then the formats as written */
			if (o->m[sec].proto != NULL)
				sdprw_put(&w.b, o->m[sec].proto, strlen(o->m[sec].proto));
			else
				sdprw_put(&w.b, ml.proto, ml.proto_n);
			sdprw_strip_set(sdp, len, (unsigned)sec, &ml, &o->m[sec], strip);
			if (strip[0] == 0 && strip[1] == 0) {
				sdprw_put(&w.b, ml.rest, ml.rest_n);
			} else {
				const char *s = ml.fmt, *end = ml.fmt + ml.fmt_n, *t;
				size_t n;

				while ((n = sdprw_tok(&s, end, &t)) > 0)
					if (!sdprw_stripped(strip, t, n)) {
						sdprw_put(&w.b, " ", 1);
						sdprw_put(&w.b, t, n);
					}
			}
			sdprw_put(&w.b, "\r\n", 2);
			/* rtpengine adds a c= to a section that has none when the
			 * session has none either; RFC 4566 puts it after i= */
			need_c = !lay.session_c && !lay.media_c[sec];
			continue;
		}
		if (need_c && l.p[0] != 'i') {
			sdprw_put_c(&w.b, o);
			need_c = false;
		}
		switch (l.p[0]) {
		case 'o': {
			const char *at, *a;
			size_t an;

			if (sec < 0 && o->replace_origin && sdprw_parse_o(&l, &at, &a, &an) == 0) {
				/* user, session id, version, nettype as written */
				sdprw_put(&w.b, l.p, (size_t)(at - l.p));
				sdprw_putf(&w.b, "%s %s\r\n", o->family == AF_INET6 ? "IP6" : "IP4", o->addr);
			} else {
				sdprw_put_line(&w.b, &l);
			}
			break;
		}
		case 'c':
			/* RFC 2543 hold (c=0.0.0.0) stays visible to the other
			 * side, as rtpengine keeps it */
			if (l.n >= 16 && memcmp(l.p, "c=IN IP4 0.0.0.0", 16) == 0 &&
			    (l.n == 16 || l.p[16] == '/' || sdprw_ws(l.p[16])))
				sdprw_put(&w.b, "c=IN IP4 0.0.0.0\r\n", 18);
			else
				sdprw_put_c(&w.b, o);
			break;
		case 'a': {
			struct sdprw_a a;
			bool drop = false;

			sdprw_parse_a(&l, &a);
			switch (a.kind) {
			case SDPRW_A_RTCP:
			case SDPRW_A_RTCP_MUX:
			case SDPRW_A_CRYPTO:
				drop = true;
				break;
			case SDPRW_A_ICE:
				drop = o->strip_ice;
				break;
			case SDPRW_A_FINGERPRINT:
			case SDPRW_A_DTLS:
				drop = sec < 0 ? !w.sess_dtls_keep : o->m[sec].strip_dtls;
				break;
			case SDPRW_A_ENCRYPTION:
				drop = sec < 0 ? w.sess_enc_drop
					       : sdprw_drop_encryption(&o->m[sec], ml.proto, ml.proto_n, ml.port);
				break;
			case SDPRW_A_DIR:
				break;
			case SDPRW_A_OTHER:
				/* a stripped codec's own lines */
				if (sec >= 0 && (strip[0] | strip[1]) && a.value != NULL &&
				    (sdprw_eq(a.name, a.name_n, "rtpmap") || sdprw_eq(a.name, a.name_n, "fmtp") ||
				     sdprw_eq(a.name, a.name_n, "rtcp-fb")))
					drop = sdprw_stripped(strip, a.value, a.value_n);
				break;
			}
			if (!drop)
				sdprw_put_line(&w.b, &l);
			break;
		}
		default:
			sdprw_put_line(&w.b, &l);
			break;
		}
	}
	if (sec >= 0) {
		if (need_c)
			sdprw_put_c(&w.b, o);
		sdprw_tail(&w, (unsigned)sec);
	}
	if (w.b.full) {
		out[0] = '\0';
		return -ENOSPC;
	}
	return (int)w.b.n;
}

int sdprw_write(const char *sdp, size_t len, const struct sdprw_out *o, char *out, size_t outlen)
{
	return sdprw_rewrite(sdp, sdprw_len(sdp, len), o, out, outlen);
}
