/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Java-properties reader. Follows java.util.Properties.load() line by line
 * (see mg_props.h for the one deliberate difference: trailing blanks).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_props.h"

#define PROPS_MAX_DEPTH 32

struct sbuf {
	char *s;
	size_t n;
	size_t cap;
};

static int sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (ns == NULL)
			return -ENOMEM;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

static int sbuf_putc(struct sbuf *b, char c)
{
	return sbuf_putn(b, &c, 1);
}

void mg_props_init(struct mg_props *p)
{
	memset(p, 0, sizeof(*p));
}

void mg_props_free(struct mg_props *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i]);
	free(p->files);
	mg_props_init(p);
}

static struct mg_prop *props_find_mut(const struct mg_props *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return &p->v[i];
	return NULL;
}

const struct mg_prop *mg_props_find(const struct mg_props *p, const char *key)
{
	return props_find_mut(p, key);
}

static const char *props_add_file(struct mg_props *p, const char *name)
{
	char **nf = realloc(p->files, (p->n_files + 1) * sizeof(*nf));
	if (nf == NULL)
		return NULL;
	p->files = nf;
	nf[p->n_files] = strdup(name);
	if (nf[p->n_files] == NULL)
		return NULL;
	return nf[p->n_files++];
}

/* Takes ownership of key and value. */
static int props_store(struct mg_props *p, char *key, char *value, const char *file,
		       unsigned line, FILE *diag)
{
	struct mg_prop *old = props_find_mut(p, key);

	if (old != NULL) {
		fprintf(diag,
			"%s:%u: %s=%s: warning: duplicate key, first defined at %s:%u; "
			"the last definition wins\n",
			file, line, key, value, old->file, old->line);
		p->warnings++;
		free(old->value);
		free(key);
		old->value = value;
		old->dup_of_line = old->line;
		old->file = file;
		old->line = line;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct mg_prop *nv = realloc(p->v, cap * sizeof(*nv));
		if (nv == NULL) {
			free(key);
			free(value);
			return -ENOMEM;
		}
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = (struct mg_prop){
		.key = key, .value = value, .file = file, .line = line, .dup_of_line = 0
	};
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

static bool is_eol(char c)
{
	return c == '\n' || c == '\r';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_u4(const char *s, size_t n, size_t i, uint32_t *out)
{
	uint32_t v = 0;

	if (i + 4 > n)
		return -EINVAL;
	for (size_t k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);
		if (h < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct sbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sbuf_putn(b, u, n);
}

/*
 * Resolve escapes of s[0..n) into b. *keep is set to the output length up
 * to the last character that is not an unescaped blank, so the caller can
 * drop unescaped trailing blanks.
 */
static int unescape(const char *s, size_t n, struct sbuf *b, size_t *keep, char *err,
		    size_t errlen)
{
	size_t i = 0;
	int rc;

	*keep = b->n;
	while (i < n) {
		char c = s[i++];

		if (c != '\\') {
			if ((rc = sbuf_putc(b, c)) < 0)
				return rc;
			if (!is_blank(c))
				*keep = b->n;
			continue;
		}
		if (i == n) /* lone backslash at end of file: Java drops it */
			break;
		c = s[i++];
		switch (c) {
		case 't':
			rc = sbuf_putc(b, '\t');
			break;
		case 'n':
			rc = sbuf_putc(b, '\n');
			break;
		case 'r':
			rc = sbuf_putc(b, '\r');
			break;
		case 'f':
			rc = sbuf_putc(b, '\f');
			break;
		case 'u': {
			uint32_t cp, lo;

			if (read_u4(s, n, i, &cp) < 0) {
				snprintf(err, errlen,
					 "malformed \\uXXXX escape (allowed: \\u followed by "
					 "exactly 4 hex digits)");
				return -EINVAL;
			}
			i += 4;
			if (cp == 0) {
				snprintf(err, errlen, "\\u0000 is not allowed (allowed: \\u0001-\\uFFFF)");
				return -EINVAL;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* UTF-16 surrogate pair, as Java writes non-BMP characters */
				if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' ||
				    read_u4(s, n, i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
					snprintf(err, errlen,
						 "\\u%04X is a high surrogate not followed by a low "
						 "surrogate (allowed: \\uD800-\\uDBFF followed by "
						 "\\uDC00-\\uDFFF)",
						 (unsigned)cp);
					return -EINVAL;
				}
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				snprintf(err, errlen, "\\u%04X is a lone low surrogate (allowed: "
					 "\\uDC00-\\uDFFF right after a high surrogate)",
					 (unsigned)cp);
				return -EINVAL;
			}
			rc = put_utf8(b, cp);
			break;
		}
		default:
			rc = sbuf_putc(b, c);
			break;
		}
		if (rc < 0)
			return rc;
		*keep = b->n;
	}
	return 0;
}

/* Split one logical line (escapes unresolved) into key and value and store it. */
static int props_line(struct mg_props *p, const char *ln, size_t n, const char *file,
		      unsigned line, FILE *diag)
{
	struct sbuf k = { 0 }, v = { 0 };
	size_t i = 0, keyend, keep;
	char err[160];
	int rc;

	while (i < n) {
		char c = ln[i];
		if (c == '\\') {
			i += 2;
			continue;
		}
		if (c == '=' || c == ':' || is_blank(c))
			break;
		i++;
	}
	if (i > n)
		i = n;
	keyend = i;
	while (i < n && is_blank(ln[i]))
		i++;
	if (i < n && (ln[i] == '=' || ln[i] == ':')) {
		i++;
		while (i < n && is_blank(ln[i]))
			i++;
	}
	if (keyend == 0) {
		fprintf(diag, "%s:%u: %.*s: error: line has a value but no key "
			      "(allowed: key=value, key: value or key value)\n",
			file, line, (int)n, ln);
		p->errors++;
		return -EINVAL;
	}
	err[0] = '\0';
	rc = unescape(ln, keyend, &k, &keep, err, sizeof(err));
	if (rc == 0 && k.s == NULL)
		rc = sbuf_putn(&k, "", 0);
	if (rc == 0)
		rc = unescape(ln + i, n - i, &v, &keep, err, sizeof(err));
	if (rc == 0 && v.s == NULL)
		rc = sbuf_putn(&v, "", 0);
	if (rc == -EINVAL) {
		fprintf(diag, "%s:%u: %.*s: error: %s\n", file, line, (int)n, ln, err);
		p->errors++;
	}
	if (rc < 0) {
		free(k.s);
		free(v.s);
		return rc;
	}
	v.s[keep] = '\0'; /* drop unescaped trailing blanks */
	return props_store(p, k.s, v.s, file, line, diag);
}

int mg_props_parse_buf(struct mg_props *p, const char *text, size_t len, const char *name,
		       FILE *diag)
{
	struct sbuf lb = { 0 };
	const char *file;
	unsigned lineno = 1;
	size_t i = 0;
	int ret = 0, rc;

	if (diag == NULL)
		diag = stderr;
	file = props_add_file(p, name);
	if (file == NULL)
		return -ENOMEM;
	/* a UTF-8 byte order mark (Windows editors write one) is not part of
	 * the first key: left there, that key would be unknown and ignored */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len) {
		unsigned start_line;
		bool bad_nul = false;

		while (i < len && is_blank(text[i]))
			i++;
		if (i == len)
			break;
		if (is_eol(text[i]) || text[i] == '#' || text[i] == '!') {
			/* blank line or comment: comments never continue */
			while (i < len && !is_eol(text[i]))
				i++;
			if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
			i++;
			lineno++;
			continue;
		}
		start_line = lineno;
		lb.n = 0;
		for (;;) {
			size_t s = i, bs = 0;

			while (i < len && !is_eol(text[i])) {
				if (text[i] == '\0')
					bad_nul = true;
				bs = text[i] == '\\' ? bs + 1 : 0;
				i++;
			}
			if ((rc = sbuf_putn(&lb, text + s, i - s)) < 0) {
				free(lb.s);
				return rc;
			}
			if (i < len) {
				if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
					i++;
				i++;
				lineno++;
			}
			if (bs % 2 == 0 || i >= len)
				break;
			lb.n--; /* the continuation backslash */
			while (i < len && is_blank(text[i]))
				i++;
		}
		if (bad_nul) {
			fprintf(diag, "%s:%u: error: NUL byte in line (allowed: text)\n", file,
				start_line);
			p->errors++;
			ret = -EINVAL;
			continue;
		}
		rc = props_line(p, lb.s, lb.n, file, start_line, diag);
		if (rc == -ENOMEM) {
			free(lb.s);
			return rc;
		}
		if (rc < 0)
			ret = rc;
	}
	free(lb.s);
	return ret;
}

int mg_props_parse_file(struct mg_props *p, const char *path, FILE *diag)
{
	FILE *f;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (diag == NULL)
		diag = stderr;
	f = fopen(path, "rb");
	if (f == NULL) {
		rc = -errno;
		fprintf(diag, "%s: error: cannot open: %s\n", path, strerror(-rc));
		p->errors++;
		return rc;
	}
	errno = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		fprintf(diag, "%s: error: cannot read: %s\n", path, strerror(-rc));
		p->errors++;
		free(buf);
		fclose(f);
		return rc;
	}
	fclose(f);
	rc = mg_props_parse_buf(p, buf, n, path, diag);
	free(buf);
	return rc;
}

struct expand_ctx {
	const struct mg_props *p;
	mg_props_fallback_fn fallback;
	void *ctx;
	const char *stack[PROPS_MAX_DEPTH];
	size_t depth;
	char *err;
	size_t errlen;
};

static int expand_rec(struct expand_ctx *x, const char *v, struct sbuf *out)
{
	int rc;

	while (*v != '\0') {
		const char *end;

		if (v[0] != '$' || v[1] != '{') {
			const char *d = strchr(v + 1, '$');
			size_t n = d ? (size_t)(d - v) : strlen(v);
			if ((rc = sbuf_putn(out, v, n)) < 0)
				return rc;
			v += n;
			continue;
		}
		end = strchr(v + 2, '}');
		if (end == NULL) {
			snprintf(x->err, x->errlen,
				 "unterminated \"${\" (allowed: ${key})");
			return -EINVAL;
		}
		size_t kn = (size_t)(end - (v + 2));
		char *key = strndup(v + 2, kn);
		if (key == NULL)
			return -ENOMEM;
		if (kn == 0) {
			snprintf(x->err, x->errlen, "empty \"${}\" (allowed: ${key})");
			free(key);
			return -EINVAL;
		}
		for (size_t i = 0; i < x->depth; i++) {
			if (strcmp(x->stack[i], key) != 0)
				continue;
			size_t o = (size_t)snprintf(x->err, x->errlen, "expansion cycle: ");
			for (size_t j = i; j < x->depth && o < x->errlen; j++)
				o += (size_t)snprintf(x->err + o, x->errlen - o, "${%s} -> ",
						      x->stack[j]);
			if (o < x->errlen)
				snprintf(x->err + o, x->errlen - o,
					 "${%s} (allowed: references that end in a plain value)", key);
			free(key);
			return -EINVAL;
		}
		if (x->depth == PROPS_MAX_DEPTH) {
			snprintf(x->err, x->errlen, "${%s}: expansion nested deeper than %d (allowed: at most %d levels)",
				 key, PROPS_MAX_DEPTH, PROPS_MAX_DEPTH);
			free(key);
			return -EINVAL;
		}
		const struct mg_prop *pr = mg_props_find(x->p, key);
		const char *raw = pr ? pr->value : NULL;
		if (raw == NULL && x->fallback != NULL)
			raw = x->fallback(x->ctx, key);
		if (raw == NULL) {
			snprintf(x->err, x->errlen,
				 "${%s}: undefined key (allowed: a key set in the file or a "
				 "known key with a default)",
				 key);
			free(key);
			return -EINVAL;
		}
		x->stack[x->depth++] = key;
		rc = expand_rec(x, raw, out);
		x->depth--;
		free(key);
		if (rc < 0)
			return rc;
		v = end + 1;
	}
	return 0;
}

int mg_props_expand(const struct mg_props *p, const char *value, mg_props_fallback_fn fallback,
		    void *ctx, char **out, char *err, size_t errlen)
{
	struct expand_ctx x = {
		.p = p, .fallback = fallback, .ctx = ctx, .depth = 0, .err = err, .errlen = errlen
	};
	struct sbuf b = { 0 };
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	rc = expand_rec(&x, value, &b);
	if (rc == 0 && b.s == NULL)
		rc = sbuf_putn(&b, "", 0);
	if (rc < 0) {
		free(b.s);
		return rc;
	}
	*out = b.s;
	return 0;
}
