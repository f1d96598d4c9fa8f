/* SPDX-License-Identifier: BSD-3-Clause */
#include "ng_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ arena */

/* A request is a few KiB of SDP plus a few hundred small values: one chunk
 * usually holds all of it; big strings get a chunk of their own so a
 * 64 KiB SDP does not waste the rest of a standard chunk. */
#define NG_CHUNK 8192
#define NG_ALIGN 16

struct ng_chunk {
	struct ng_chunk *next;
	size_t cap, used;
	_Alignas(NG_ALIGN) unsigned char data[];
};

struct ng_doc {
	struct ng_chunk *head;
};

struct ng_doc *ng_doc_new(void)
{
	return calloc(1, sizeof(struct ng_doc));
}

void ng_doc_free(struct ng_doc *d)
{
	if (d == NULL)
		return;
	while (d->head != NULL) {
		struct ng_chunk *c = d->head;

		d->head = c->next;
		free(c);
	}
	free(d);
}

static void *ng_alloc(struct ng_doc *d, size_t n)
{
	struct ng_chunk *c = d->head;
	size_t need = (n + NG_ALIGN - 1) & ~(size_t)(NG_ALIGN - 1);

	if (need < n)
		return NULL;
	if (c == NULL || c->cap - c->used < need) {
		size_t cap = need > NG_CHUNK / 4 ? need : NG_CHUNK;

		if (cap > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		/* A dedicated big chunk goes behind the current one, which
		 * keeps its free room for the small values that follow. */
		if (need > NG_CHUNK / 4 && d->head != NULL) {
			c->next = d->head->next;
			d->head->next = c;
		} else {
			c->next = d->head;
			d->head = c;
		}
	}
	void *p = c->data + c->used;

	c->used += need;
	return p;
}

static char *ng_strdup_n(struct ng_doc *d, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = ng_alloc(d, n + 1);
	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static struct ng_val *ng_val_new(struct ng_doc *d, enum ng_type t)
{
	struct ng_val *v = ng_alloc(d, sizeof(*v));

	if (v == NULL)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->type = t;
	return v;
}

/* --------------------------------------------------------------- builders */

struct ng_val *ng_new_dict(struct ng_doc *d)
{
	return d == NULL ? NULL : ng_val_new(d, NG_DICT);
}

struct ng_val *ng_new_list(struct ng_doc *d)
{
	return d == NULL ? NULL : ng_val_new(d, NG_LIST);
}

struct ng_val *ng_new_strn(struct ng_doc *d, const char *s, size_t n)
{
	struct ng_val *v;

	if (d == NULL || (s == NULL && n > 0))
		return NULL;
	v = ng_val_new(d, NG_STR);
	if (v == NULL)
		return NULL;
	v->s = ng_strdup_n(d, s, n);
	if (v->s == NULL)
		return NULL;
	v->len = n;
	return v;
}

struct ng_val *ng_new_str(struct ng_doc *d, const char *s)
{
	return s == NULL ? NULL : ng_new_strn(d, s, strlen(s));
}

struct ng_val *ng_new_strf(struct ng_doc *d, const char *fmt, ...)
{
	va_list ap, ap2;
	struct ng_val *v;
	char *p;
	int n;

	if (d == NULL || fmt == NULL)
		return NULL;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return NULL;
	}
	v = ng_val_new(d, NG_STR);
	p = v == NULL ? NULL : ng_alloc(d, (size_t)n + 1);
	if (p != NULL)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (p == NULL)
		return NULL;
	v->s = p;
	v->len = (size_t)n;
	return v;
}

struct ng_val *ng_new_int(struct ng_doc *d, int64_t i)
{
	struct ng_val *v = d == NULL ? NULL : ng_val_new(d, NG_INT);

	if (v != NULL)
		v->i = i;
	return v;
}

static void ng_append(struct ng_val *c, struct ng_val *v)
{
	v->next = NULL;
	if (c->last != NULL)
		c->last->next = v;
	else
		c->child = v;
	c->last = v;
	c->len++;
}

struct ng_val *ng_dict_add(struct ng_doc *d, struct ng_val *dict, const char *key, struct ng_val *v)
{
	char *k;

	if (d == NULL || dict == NULL || dict->type != NG_DICT || key == NULL || v == NULL)
		return NULL;
	k = ng_strdup_n(d, key, strlen(key));
	if (k == NULL)
		return NULL;
	v->key = k;
	v->key_len = strlen(key);
	ng_append(dict, v);
	return v;
}

struct ng_val *ng_list_add(struct ng_val *list, struct ng_val *v)
{
	if (list == NULL || list->type != NG_LIST || v == NULL)
		return NULL;
	v->key = NULL;
	v->key_len = 0;
	ng_append(list, v);
	return v;
}

struct ng_val *ng_dict_add_str(struct ng_doc *d, struct ng_val *dict, const char *key, const char *s)
{
	return ng_dict_add(d, dict, key, ng_new_str(d, s));
}

struct ng_val *ng_dict_add_int(struct ng_doc *d, struct ng_val *dict, const char *key, int64_t i)
{
	return ng_dict_add(d, dict, key, ng_new_int(d, i));
}

/* ---------------------------------------------------------------- look-up */

static int ng_key_char(unsigned char c)
{
	if (c == '_' || c == ' ')
		return '-';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	return c;
}

bool ng_key_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return false;
	for (i = 0; i < alen; i++) {
		if (b[i] == '\0' || ng_key_char((unsigned char)a[i]) != ng_key_char((unsigned char)b[i]))
			return false;
	}
	return b[i] == '\0';
}

const struct ng_val *ng_dict_get(const struct ng_val *dict, const char *key)
{
	if (dict == NULL || dict->type != NG_DICT || key == NULL)
		return NULL;
	for (const struct ng_val *v = dict->child; v != NULL; v = v->next)
		if (ng_key_eq(v->key, v->key_len, key))
			return v;
	return NULL;
}

const char *ng_dict_str(const struct ng_val *dict, const char *key)
{
	const struct ng_val *v = ng_dict_get(dict, key);

	return v != NULL && v->type == NG_STR ? v->s : NULL;
}

/* --------------------------------------------------------------- decoding */

static const struct ng_limits ng_default_limits = {
	.max_depth = 16,
	.max_str = 65536,
	.max_items = 4096,
	.max_input = 262144,
};

struct ng_dec {
	struct ng_doc *d;
	const char *buf;
	size_t len, pos;
	struct ng_limits lim;
	unsigned items, depth;
	bool stream;    /* a prefix decode: running out of input is -EAGAIN */
	const char *what;
	char *why;
	size_t whylen;
};

static void ng_dec_init(struct ng_dec *x, struct ng_doc *d, const char *buf, size_t len,
			const struct ng_limits *lim, const char *what, char *why, size_t whylen)
{
	memset(x, 0, sizeof(*x));
	x->d = d;
	x->buf = buf;
	x->len = len;
	x->lim = lim != NULL ? *lim : ng_default_limits;
	/* 0 in a caller's limits means "the default", not "nothing allowed" */
	if (x->lim.max_depth == 0)
		x->lim.max_depth = ng_default_limits.max_depth;
	if (x->lim.max_str == 0)
		x->lim.max_str = ng_default_limits.max_str;
	if (x->lim.max_items == 0)
		x->lim.max_items = ng_default_limits.max_items;
	if (x->lim.max_input == 0)
		x->lim.max_input = ng_default_limits.max_input;
	x->what = what;
	x->why = why;
	x->whylen = whylen;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
}

static int ng_fail(struct ng_dec *x, int rc, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int ng_fail(struct ng_dec *x, int rc, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (x->why == NULL || x->whylen == 0)
		return rc;
	n = snprintf(x->why, x->whylen, "%s: ", x->what);
	if (n < 0 || (size_t)n >= x->whylen)
		return rc;
	va_start(ap, fmt);
	int m = vsnprintf(x->why + n, x->whylen - (size_t)n, fmt, ap);

	va_end(ap);
	if (m >= 0 && (size_t)(n + m) < x->whylen)
		snprintf(x->why + n + m, x->whylen - (size_t)(n + m), " at byte %zu", at);
	return rc;
}

static int ng_truncated(struct ng_dec *x, const char *expected)
{
	if (x->stream)
		return -EAGAIN;
	return ng_fail(x, -EINVAL, x->pos, "truncated input, expected %s", expected);
}

static int ng_oom(struct ng_dec *x)
{
	return ng_fail(x, -ENOMEM, x->pos, "out of memory");
}

/* A printable rendering of the byte at x->pos for error messages. */
static int ng_unexpected(struct ng_dec *x, const char *expected)
{
	unsigned char c = (unsigned char)x->buf[x->pos];

	if (c >= 0x20 && c < 0x7f)
		return ng_fail(x, -EINVAL, x->pos, "unexpected '%c', expected %s", c, expected);
	return ng_fail(x, -EINVAL, x->pos, "unexpected byte 0x%02x, expected %s", c, expected);
}

static int ng_count_item(struct ng_dec *x)
{
	if (x->items >= x->lim.max_items)
		return ng_fail(x, -E2BIG, x->pos, "more than %u values", x->lim.max_items);
	x->items++;
	return 0;
}

static int ng_enter(struct ng_dec *x)
{
	if (x->depth >= x->lim.max_depth)
		return ng_fail(x, -E2BIG, x->pos, "nesting deeper than %u", x->lim.max_depth);
	x->depth++;
	return 0;
}

static int ng_check_input(struct ng_dec *x)
{
	if (x->len > x->lim.max_input)
		return ng_fail(x, -E2BIG, 0, "input of %zu bytes is over the limit of %zu", x->len,
			       x->lim.max_input);
	return 0;
}

/* Bencode ------------------------------------------------------------- */

/*
 * Digits of a bencode integer or string length at x->pos, up to the
 * terminator @p term. No leading zeros (BEP 3), no "-0"; @p neg_ok only
 * for integers. Overflow is an error, never a wrap.
 */
static int ben_number(struct ng_dec *x, char term, bool neg_ok, int64_t *out)
{
	size_t start = x->pos;
	bool neg = false;
	uint64_t v = 0;
	const uint64_t max_pos = INT64_MAX, max_neg = (uint64_t)INT64_MAX + 1;

	if (x->pos < x->len && x->buf[x->pos] == '-' && neg_ok) {
		neg = true;
		x->pos++;
	}
	if (x->pos >= x->len)
		return ng_truncated(x, "a digit");
	if (x->buf[x->pos] < '0' || x->buf[x->pos] > '9')
		return ng_unexpected(x, "a digit");
	if (x->buf[x->pos] == '0' && x->pos + 1 < x->len && x->buf[x->pos + 1] != term) {
		if (x->buf[x->pos + 1] >= '0' && x->buf[x->pos + 1] <= '9')
			return ng_fail(x, -EINVAL, start, "number with a leading zero");
	}
	if (neg && x->buf[x->pos] == '0')
		return ng_fail(x, -EINVAL, start, "negative zero");
	while (x->pos < x->len && x->buf[x->pos] >= '0' && x->buf[x->pos] <= '9') {
		unsigned dgt = (unsigned)(x->buf[x->pos] - '0');

		if (v > ((neg ? max_neg : max_pos) - dgt) / 10)
			return ng_fail(x, neg_ok ? -EINVAL : -E2BIG, start, "%s out of range",
				       neg_ok ? "integer" : "string length");
		v = v * 10 + dgt;
		x->pos++;
	}
	if (x->pos >= x->len)
		return ng_truncated(x, term == 'e' ? "'e'" : "':'");
	if (x->buf[x->pos] != term)
		return ng_unexpected(x, term == 'e' ? "a digit or 'e'" : "a digit or ':'");
	x->pos++;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int ben_string(struct ng_dec *x, const char **s, size_t *n)
{
	size_t start = x->pos;
	int64_t len;
	int rc = ben_number(x, ':', false, &len);

	if (rc < 0)
		return rc;
	if ((uint64_t)len > x->lim.max_str)
		return ng_fail(x, -E2BIG, start, "string of %" PRId64 " bytes is over the limit of %zu",
			       len, x->lim.max_str);
	if ((uint64_t)len > x->len - x->pos) {
		if (x->stream)
			return -EAGAIN;
		return ng_fail(x, -EINVAL, start,
			       "truncated input, string of %" PRId64 " bytes but %zu left", len,
			       x->len - x->pos);
	}
	*s = x->buf + x->pos;
	*n = (size_t)len;
	x->pos += (size_t)len;
	return 0;
}

static int ben_value(struct ng_dec *x, struct ng_val **out)
{
	struct ng_val *v;
	int rc;

	if (x->pos >= x->len)
		return ng_truncated(x, "a value");
	rc = ng_count_item(x);
	if (rc < 0)
		return rc;
	char c = x->buf[x->pos];

	if (c == 'i') {
		x->pos++;
		v = ng_val_new(x->d, NG_INT);
		if (v == NULL)
			return ng_oom(x);
		rc = ben_number(x, 'e', true, &v->i);
		if (rc < 0)
			return rc;
	} else if (c >= '0' && c <= '9') {
		const char *s;
		size_t n;

		rc = ben_string(x, &s, &n);
		if (rc < 0)
			return rc;
		v = ng_new_strn(x->d, s, n);
		if (v == NULL)
			return ng_oom(x);
	} else if (c == 'l' || c == 'd') {
		bool dict = c == 'd';

		rc = ng_enter(x);
		if (rc < 0)
			return rc;
		x->pos++;
		v = ng_val_new(x->d, dict ? NG_DICT : NG_LIST);
		if (v == NULL)
			return ng_oom(x);
		for (;;) {
			const char *k = NULL;
			size_t kn = 0;
			struct ng_val *item;

			if (x->pos >= x->len)
				return ng_truncated(x, dict ? "a key or 'e'" : "a value or 'e'");
			if (x->buf[x->pos] == 'e') {
				x->pos++;
				break;
			}
			if (dict) {
				if (x->buf[x->pos] < '0' || x->buf[x->pos] > '9')
					return ng_unexpected(x, "a string key or 'e'");
				rc = ben_string(x, &k, &kn);
				if (rc < 0)
					return rc;
			}
			rc = ben_value(x, &item);
			if (rc < 0)
				return rc;
			if (dict) {
				item->key = ng_strdup_n(x->d, k, kn);
				if (item->key == NULL)
					return ng_oom(x);
				item->key_len = kn;
			}
			ng_append(v, item);
		}
		x->depth--;
	} else {
		return ng_unexpected(x, "'i', 'l', 'd' or a string length");
	}
	*out = v;
	return 0;
}

int ng_bencode_decode(struct ng_doc *d, const char *buf, size_t len, const struct ng_limits *lim,
		      struct ng_val **out, char *why, size_t whylen)
{
	struct ng_dec x;
	struct ng_val *v;
	int rc;

	ng_dec_init(&x, d, buf, len, lim, "bencode", why, whylen);
	if (d == NULL || out == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	rc = ng_check_input(&x);
	if (rc < 0)
		return rc;
	rc = ben_value(&x, &v);
	if (rc < 0)
		return rc;
	if (x.pos != len)
		return ng_fail(&x, -EINVAL, x.pos, "trailing data after the value");
	*out = v;
	return 0;
}

int ng_bencode_decode_prefix(struct ng_doc *d, const char *buf, size_t len,
			     const struct ng_limits *lim, struct ng_val **out, size_t *used,
			     char *why, size_t whylen)
{
	struct ng_dec x;
	struct ng_val *v;
	int rc;

	ng_dec_init(&x, d, buf, len, lim, "bencode", why, whylen);
	if (d == NULL || out == NULL || used == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	x.stream = true;
	/* What is buffered may be more than one message: the limit is on
	 * the value, checked once it is over (or once it cannot fit). */
	if (x.len > x.lim.max_input)
		x.len = x.lim.max_input;
	rc = ben_value(&x, &v);
	if (rc == -EAGAIN && len > x.lim.max_input)
		return ng_fail(&x, -E2BIG, 0, "message longer than the limit of %zu bytes",
			       x.lim.max_input);
	if (rc < 0)
		return rc;
	*out = v;
	*used = x.pos;
	return 0;
}

/* JSON ---------------------------------------------------------------- */

static void json_ws(struct ng_dec *x)
{
	while (x->pos < x->len) {
		char c = x->buf[x->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		x->pos++;
	}
}

static int json_hex4(struct ng_dec *x, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		if (x->pos >= x->len)
			return ng_truncated(x, "a hex digit");
		char c = x->buf[x->pos];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return ng_unexpected(x, "a hex digit");
		x->pos++;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *p, unsigned cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A JSON string at x->pos (the opening quote), unescaped into the arena.
 * Unescaping never makes a string longer than its escaped form, so the
 * raw run's length bounds the allocation.
 */
static int json_string(struct ng_dec *x, const char **s, size_t *n)
{
	size_t start = x->pos, end, o = 0;
	char *p;

	x->pos++;
	for (end = x->pos; end < x->len && x->buf[end] != '"'; end++)
		if (x->buf[end] == '\\')
			end++;
	if (end >= x->len) {
		x->pos = x->len;
		return ng_truncated(x, "'\"' closing the string");
	}
	p = ng_alloc(x->d, end - x->pos + 1);
	if (p == NULL)
		return ng_oom(x);
	while (x->pos < end) {
		unsigned char c = (unsigned char)x->buf[x->pos];

		if (c < 0x20)
			return ng_fail(x, -EINVAL, x->pos, "control byte 0x%02x in a string", c);
		if (c != '\\') {
			p[o++] = (char)c;
			x->pos++;
			continue;
		}
		x->pos++;
		c = (unsigned char)x->buf[x->pos];
		switch (c) {
		case '"': case '\\': case '/':
			p[o++] = (char)c;
			break;
		case 'b': p[o++] = '\b'; break;
		case 'f': p[o++] = '\f'; break;
		case 'n': p[o++] = '\n'; break;
		case 'r': p[o++] = '\r'; break;
		case 't': p[o++] = '\t'; break;
		case 'u': {
			size_t at = x->pos - 1;
			unsigned cp, lo;
			int rc;

			x->pos++;
			rc = json_hex4(x, &cp);
			if (rc < 0)
				return rc;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return ng_fail(x, -EINVAL, at, "lone low surrogate \\u%04x", cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (x->pos + 2 > end || x->buf[x->pos] != '\\' ||
				    x->buf[x->pos + 1] != 'u')
					return ng_fail(x, -EINVAL, at,
						       "high surrogate \\u%04x without a low one", cp);
				x->pos += 2;
				rc = json_hex4(x, &lo);
				if (rc < 0)
					return rc;
				if (lo < 0xdc00 || lo > 0xdfff)
					return ng_fail(x, -EINVAL, at,
						       "high surrogate \\u%04x followed by \\u%04x", cp,
						       lo);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			/* \uXXXX is 6 bytes, its UTF-8 at most 3 (4 for a pair of 12) */
			o += utf8_put(p + o, cp);
			if (x->pos > end)
				return ng_fail(x, -EINVAL, at, "escape runs past the string");
			continue;
		}
		default:
			return ng_fail(x, -EINVAL, x->pos - 1, "invalid escape '\\%c'",
				       c >= 0x20 && c < 0x7f ? c : '?');
		}
		x->pos++;
	}
	p[o] = '\0';
	if (o > x->lim.max_str)
		return ng_fail(x, -E2BIG, start, "string of %zu bytes is over the limit of %zu", o,
			       x->lim.max_str);
	x->pos = end + 1;
	*s = p;
	*n = o;
	return 0;
}

/*
 * A JSON number. Integers become NG_INT (out of int64 range: an error);
 * a fraction or exponent keeps the number's text as an NG_STR, so that a
 * key nobody reads does not fail the request and a key that is read gets
 * a type error from its command instead of a silent truncation.
 */
static int json_number(struct ng_dec *x, struct ng_val **out)
{
	size_t start = x->pos;
	bool neg = false, frac = false;
	uint64_t v = 0;
	const uint64_t max_pos = INT64_MAX, max_neg = (uint64_t)INT64_MAX + 1;
	bool overflow = false;
	struct ng_val *val;

	if (x->buf[x->pos] == '-') {
		neg = true;
		x->pos++;
	}
	if (x->pos >= x->len)
		return ng_truncated(x, "a digit");
	if (x->buf[x->pos] < '0' || x->buf[x->pos] > '9')
		return ng_unexpected(x, "a digit");
	if (x->buf[x->pos] == '0' && x->pos + 1 < x->len && x->buf[x->pos + 1] >= '0' &&
	    x->buf[x->pos + 1] <= '9')
		return ng_fail(x, -EINVAL, start, "number with a leading zero");
	while (x->pos < x->len && x->buf[x->pos] >= '0' && x->buf[x->pos] <= '9') {
		unsigned dgt = (unsigned)(x->buf[x->pos] - '0');

		if (v > ((neg ? max_neg : max_pos) - dgt) / 10)
			overflow = true;
		else
			v = v * 10 + dgt;
		x->pos++;
	}
	if (x->pos < x->len && x->buf[x->pos] == '.') {
		frac = true;
		x->pos++;
		if (x->pos >= x->len)
			return ng_truncated(x, "a digit after '.'");
		if (x->buf[x->pos] < '0' || x->buf[x->pos] > '9')
			return ng_unexpected(x, "a digit after '.'");
		while (x->pos < x->len && x->buf[x->pos] >= '0' && x->buf[x->pos] <= '9')
			x->pos++;
	}
	if (x->pos < x->len && (x->buf[x->pos] == 'e' || x->buf[x->pos] == 'E')) {
		frac = true;
		x->pos++;
		if (x->pos < x->len && (x->buf[x->pos] == '+' || x->buf[x->pos] == '-'))
			x->pos++;
		if (x->pos >= x->len)
			return ng_truncated(x, "an exponent digit");
		if (x->buf[x->pos] < '0' || x->buf[x->pos] > '9')
			return ng_unexpected(x, "an exponent digit");
		while (x->pos < x->len && x->buf[x->pos] >= '0' && x->buf[x->pos] <= '9')
			x->pos++;
	}
	if (frac) {
		val = ng_new_strn(x->d, x->buf + start, x->pos - start);
	} else {
		if (overflow)
			return ng_fail(x, -EINVAL, start, "integer out of range");
		val = ng_new_int(x->d, neg ? (int64_t)(0 - v) : (int64_t)v);
	}
	if (val == NULL)
		return ng_oom(x);
	*out = val;
	return 0;
}

static int json_literal(struct ng_dec *x, const char *word)
{
	size_t n = strlen(word);

	if (x->len - x->pos < n) {
		if (memcmp(x->buf + x->pos, word, x->len - x->pos) == 0)
			return ng_truncated(x, word);
		return ng_unexpected(x, "a value");
	}
	if (memcmp(x->buf + x->pos, word, n) != 0)
		return ng_unexpected(x, "a value");
	x->pos += n;
	return 0;
}

/* *out is NULL for JSON null: containers leave it out (a key given as null
 * is a key not given, which is what every NG command means by it). */
static int json_value(struct ng_dec *x, struct ng_val **out)
{
	struct ng_val *v = NULL;
	int rc;

	json_ws(x);
	if (x->pos >= x->len)
		return ng_truncated(x, "a value");
	rc = ng_count_item(x);
	if (rc < 0)
		return rc;
	char c = x->buf[x->pos];

	if (c == '"') {
		const char *s;
		size_t n;

		rc = json_string(x, &s, &n);
		if (rc < 0)
			return rc;
		v = ng_val_new(x->d, NG_STR);
		if (v == NULL)
			return ng_oom(x);
		v->s = s;
		v->len = n;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		rc = json_number(x, &v);
		if (rc < 0)
			return rc;
	} else if (c == 't' || c == 'f') {
		rc = json_literal(x, c == 't' ? "true" : "false");
		if (rc < 0)
			return rc;
		v = ng_new_int(x->d, c == 't');
		if (v == NULL)
			return ng_oom(x);
	} else if (c == 'n') {
		rc = json_literal(x, "null");
		if (rc < 0)
			return rc;
	} else if (c == '[' || c == '{') {
		bool dict = c == '{';
		bool first = true;

		rc = ng_enter(x);
		if (rc < 0)
			return rc;
		x->pos++;
		v = ng_val_new(x->d, dict ? NG_DICT : NG_LIST);
		if (v == NULL)
			return ng_oom(x);
		for (;;) {
			const char *k = NULL;
			size_t kn = 0;
			struct ng_val *item;

			json_ws(x);
			if (x->pos >= x->len)
				return ng_truncated(x, dict ? "a key or '}'" : "a value or ']'");
			if (x->buf[x->pos] == (dict ? '}' : ']') && first) {
				x->pos++;
				break;
			}
			if (!first) {
				if (x->buf[x->pos] == (dict ? '}' : ']')) {
					x->pos++;
					break;
				}
				if (x->buf[x->pos] != ',')
					return ng_unexpected(x, dict ? "',' or '}'" : "',' or ']'");
				x->pos++;
				json_ws(x);
				if (x->pos >= x->len)
					return ng_truncated(x, dict ? "a key" : "a value");
			}
			first = false;
			if (dict) {
				if (x->buf[x->pos] != '"')
					return ng_unexpected(x, "a string key");
				rc = json_string(x, &k, &kn);
				if (rc < 0)
					return rc;
				json_ws(x);
				if (x->pos >= x->len)
					return ng_truncated(x, "':'");
				if (x->buf[x->pos] != ':')
					return ng_unexpected(x, "':'");
				x->pos++;
			}
			rc = json_value(x, &item);
			if (rc < 0)
				return rc;
			if (item == NULL)
				continue;
			item->key = k;
			item->key_len = kn;
			ng_append(v, item);
		}
		x->depth--;
	} else {
		return ng_unexpected(x, "a value");
	}
	*out = v;
	return 0;
}

int ng_json_decode(struct ng_doc *d, const char *buf, size_t len, const struct ng_limits *lim,
		   struct ng_val **out, char *why, size_t whylen)
{
	struct ng_dec x;
	struct ng_val *v;
	int rc;

	ng_dec_init(&x, d, buf, len, lim, "JSON", why, whylen);
	if (d == NULL || out == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	rc = ng_check_input(&x);
	if (rc < 0)
		return rc;
	rc = json_value(&x, &v);
	if (rc < 0)
		return rc;
	json_ws(&x);
	if (x.pos != len)
		return ng_fail(&x, -EINVAL, x.pos, "trailing data after the value");
	if (v == NULL)
		return ng_fail(&x, -EINVAL, 0, "null is not a document");
	*out = v;
	return 0;
}

/* --------------------------------------------------------------- encoding */

int ng_buf_append(struct ng_buf *b, const void *p, size_t n)
{
	/* one byte more than asked: the buffer stays NUL-terminated */
	if (n >= SIZE_MAX - b->len)
		return -ENOMEM;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;

		while (cap < b->len + n + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		q = realloc(b->p, cap);
		if (q == NULL)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void ng_buf_free(struct ng_buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int ng_buf_printf(struct ng_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ng_buf_printf(struct ng_buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -EINVAL;
	return ng_buf_append(b, tmp, (size_t)n);
}

static int ben_put_str(struct ng_buf *b, const char *s, size_t n)
{
	int rc = ng_buf_printf(b, "%zu:", n);

	return rc < 0 ? rc : ng_buf_append(b, s, n);
}

/* Encoders recurse as deep as the tree: decoded trees are bounded by
 * max_depth, built ones by their builder's code. */
int ng_bencode_encode(const struct ng_val *v, struct ng_buf *out)
{
	int rc;

	if (v == NULL || out == NULL)
		return -EINVAL;
	switch (v->type) {
	case NG_STR:
		return ben_put_str(out, v->s, v->len);
	case NG_INT:
		return ng_buf_printf(out, "i%" PRId64 "e", v->i);
	case NG_LIST:
	case NG_DICT:
		rc = ng_buf_append(out, v->type == NG_DICT ? "d" : "l", 1);
		for (const struct ng_val *c = v->child; c != NULL && rc == 0; c = c->next) {
			if (v->type == NG_DICT)
				rc = ben_put_str(out, c->key != NULL ? c->key : "", c->key_len);
			if (rc == 0)
				rc = ng_bencode_encode(c, out);
		}
		return rc < 0 ? rc : ng_buf_append(out, "e", 1);
	}
	return -EINVAL;
}

static int json_put_str(struct ng_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int rc = ng_buf_append(b, "\"", 1);

	/* copy runs of plain bytes at once; escape the rest */
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t en = 2;

		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		rc = ng_buf_append(b, s + i - run, run);
		run = 0;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			en = 6;
		}
		if (rc == 0)
			rc = ng_buf_append(b, esc, en);
	}
	if (rc == 0)
		rc = ng_buf_append(b, s + n - run, run);
	return rc < 0 ? rc : ng_buf_append(b, "\"", 1);
}

int ng_json_encode(const struct ng_val *v, struct ng_buf *out)
{
	int rc;

	if (v == NULL || out == NULL)
		return -EINVAL;
	switch (v->type) {
	case NG_STR:
		return json_put_str(out, v->s, v->len);
	case NG_INT:
		return ng_buf_printf(out, "%" PRId64, v->i);
	case NG_LIST:
	case NG_DICT:
		rc = ng_buf_append(out, v->type == NG_DICT ? "{" : "[", 1);
		for (const struct ng_val *c = v->child; c != NULL && rc == 0; c = c->next) {
			if (c != v->child)
				rc = ng_buf_append(out, ",", 1);
			if (rc == 0 && v->type == NG_DICT) {
				rc = json_put_str(out, c->key != NULL ? c->key : "", c->key_len);
				if (rc == 0)
					rc = ng_buf_append(out, ":", 1);
			}
			if (rc == 0)
				rc = ng_json_encode(c, out);
		}
		return rc < 0 ? rc : ng_buf_append(out, v->type == NG_DICT ? "}" : "]", 1);
	}
	return -EINVAL;
}
