/* SPDX-License-Identifier: BSD-3-Clause */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "route.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlversion.h>
#include <pcre2.h>

#include "mg_config.h"
#include "mg_log.h"

struct route_cond {
	char *param;
	char *expr;
	pcre2_code *re;
	int capture_index; /* %N this condition feeds, -1 when it has no group */
	int line;
};

struct route_out_param {
	char *name;
	char *expr;
	int line;
};

struct route_rule {
	char *name;
	enum route_iface outbound;
	double qvalue;
	int line;
	unsigned doc_index;
	struct route_cond *conds;
	unsigned n_conds;
	unsigned n_captures;
	char *leg_name;
	char *media_type;
	struct route_out_param *params;
	unsigned n_params;
};

/* At most one log line per interval; what is left out is counted and said
 * with the next line. */
struct route_ratelimit {
	_Atomic int64_t next_s; /* CLOCK_MONOTONIC second of the next allowed line */
	atomic_uint suppressed;
};

struct route_table {
	atomic_int refs;
	char *path;
	struct route_rule *rules;
	unsigned n_rules;
	unsigned *order; /* rule indexes, highest qvalue first, then document order */
	unsigned warnings;
	pcre2_match_context *mctx; /* ROUTE_PCRE2_* limits */
	atomic_uint_fast64_t match_errors;
	struct route_ratelimit match_error_log;
	struct route_ratelimit transport_log;
};

static const char *const cond_allowed = "pstn.in.*, sip.in.*, transfer";
/* What the call engine puts in a call's parameter list: call_route() in
 * control/calls/calls_sip.c for SIP in, pri_call_route_params() in
 * control/pri/pri_mgr.c for PSTN in, "transfer" from both. Keep in step
 * with them (tests/sdp/route_dry_run.sh checks the sources). */
static const char *const cond_known[] = {
	"transfer",
	"pstn.in.dnis",
	"pstn.in.ani",
	"pstn.in.callerName",
	"pstn.in.channelName",
	"pstn.in.presentation",
	"sip.in.requestUri",
	"sip.in.requestUri.user",
	"sip.in.requestUri.host",
	"sip.in.from.uri",
	"sip.in.from.user",
	"sip.in.from.host",
	"sip.in.from.displayName",
	"sip.in.to.uri",
	"sip.in.to.user",
	"sip.in.transport",
	NULL,
};
#define COND_KNOWN_LIST                                                                                  \
	"transfer, pstn.in.dnis, pstn.in.ani, pstn.in.callerName, pstn.in.channelName, "                 \
	"pstn.in.presentation, sip.in.requestUri, sip.in.requestUri.user, sip.in.requestUri.host, "      \
	"sip.in.from.uri, sip.in.from.user, sip.in.from.host, sip.in.from.displayName, sip.in.to.uri, " \
	"sip.in.to.user, sip.in.transport"
static const char *const out_known[] = {
	"sip.out.requestUri", "sip.out.from.uri", "sip.out.from.displayName", "sip.out.transport",
	"sip.out.to.uri",     "sip.out.to.displayName",
};
static const char *const media_types[] = { "sendrecv", "sendonly", "recvonly", "inactive" };

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool cond_param_ok(const char *p)
{
	return (has_prefix(p, "pstn.in.") && p[8] != '\0') || (has_prefix(p, "sip.in.") && p[7] != '\0') ||
	       strcmp(p, "transfer") == 0;
}

const char *const *route_known_params(void)
{
	return cond_known;
}

const char *route_known_params_text(void)
{
	return COND_KNOWN_LIST;
}

bool route_param_known(const char *name)
{
	for (const char *const *k = cond_known; *k != NULL; k++)
		if (strcmp(name, *k) == 0)
			return true;
	return false;
}

/* Edit distance, case-insensitive (pstn.in.DNIS is pstn.in.dnis mistyped),
 * capped at 16. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t d = mg_edit_distance(a, b, true);

	return d > 16 ? 16 : (unsigned)d;
}

/* Closest known name within 3 edits (case does not count: pstn.in.DNIS is
 * pstn.in.dnis mistyped), or the one @p name ends like (pstn.in.from.user
 * -> sip.in.from.user is 4 edits, but ".from.user" says it). */
const char *route_param_suggest(const char *name)
{
	const char *best = NULL;
	unsigned best_d = 4;

	for (const char *const *k = cond_known; *k != NULL; k++) {
		unsigned d = edit_distance(name, *k);

		if (d < best_d) {
			best_d = d;
			best = *k;
		}
	}
	if (best != NULL)
		return best;
	const char *tail = strchr(name, '.') ? strchr(strchr(name, '.') + 1, '.') : NULL;

	for (const char *const *k = cond_known; tail != NULL && *k != NULL; k++) {
		const char *kt = strchr(*k, '.') ? strchr(strchr(*k, '.') + 1, '.') : NULL;

		if (kt != NULL && strcasecmp(kt, tail) == 0)
			return *k;
	}
	return NULL;
}

static bool is_uri_param(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && strcmp(name + n - 4, ".uri") == 0) || strcmp(name, "sip.out.requestUri") == 0;
}

static void rule_free(struct route_rule *r)
{
	for (unsigned i = 0; i < r->n_conds; i++) {
		free(r->conds[i].param);
		free(r->conds[i].expr);
		pcre2_code_free(r->conds[i].re);
	}
	free(r->conds);
	for (unsigned i = 0; i < r->n_params; i++) {
		free(r->params[i].name);
		free(r->params[i].expr);
	}
	free(r->params);
	free(r->name);
	free(r->leg_name);
	free(r->media_type);
}

static void table_destroy(struct route_table *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < t->n_rules; i++)
		rule_free(&t->rules[i]);
	free(t->rules);
	free(t->order);
	free(t->path);
	pcre2_match_context_free(t->mctx);
	free(t);
}

/* libxml2 hands out xmlChar* that must be xmlFree()d; copy into malloc. */
static char *prop_dup(xmlNode *n, const char *name, bool *present)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s;

	*present = v != NULL;
	if (v == NULL)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

struct load_ctx {
	const char *path;
	char *err;
	size_t errlen;
	unsigned warnings;
};

#define LOAD_WARN(c, ...)                \
	do {                             \
		(c)->warnings++;         \
		MG_WARN(__VA_ARGS__);    \
	} while (0)

static int need_prop(struct load_ctx *c, xmlNode *n, const char *attr, char **out)
{
	bool present;

	*out = prop_dup(n, attr, &present);
	if (!present) {
		set_err(c->err, c->errlen, "%s:%ld: <%s> needs the attribute %s", c->path, xmlGetLineNo(n),
			(const char *)n->name, attr);
		return -EINVAL;
	}
	return *out == NULL ? -ENOMEM : 0;
}

static void warn_unknown_attrs(struct load_ctx *c, xmlNode *n, const char *const *allowed, size_t n_allowed)
{
	for (xmlAttr *a = n->properties; a != NULL; a = a->next) {
		bool ok = false;

		for (size_t i = 0; i < n_allowed; i++)
			ok |= strcmp((const char *)a->name, allowed[i]) == 0;
		if (!ok)
			LOAD_WARN(c, "%s:%ld: <%s> attribute %s is not used by mediagate (ignored)", c->path,
				xmlGetLineNo(n), (const char *)n->name, (const char *)a->name);
	}
}

static int parse_condition(struct load_ctx *c, struct route_rule *r, xmlNode *n)
{
	static const char *const attrs[] = { "param", "expr" };
	struct route_cond *cd;
	uint32_t groups = 0;
	int errcode, rc;
	PCRE2_SIZE erroff;

	if (r->n_conds >= ROUTE_MAX_CONDS) {
		set_err(c->err, c->errlen, "%s:%ld: more than %d conditions in rule %s", c->path, xmlGetLineNo(n),
			ROUTE_MAX_CONDS, r->name);
		return -EINVAL;
	}
	cd = &r->conds[r->n_conds];
	memset(cd, 0, sizeof(*cd));
	cd->line = (int)xmlGetLineNo(n);
	cd->capture_index = -1;
	r->n_conds++; /* counted now so rule_free() releases partial state */
	warn_unknown_attrs(c, n, attrs, 2);
	if ((rc = need_prop(c, n, "param", &cd->param)) < 0 || (rc = need_prop(c, n, "expr", &cd->expr)) < 0)
		return rc;
	if (!cond_param_ok(cd->param)) {
		set_err(c->err, c->errlen, "%s:%d: condition param \"%s\" is not a call parameter (allowed: %s)",
			c->path, cd->line, cd->param, cond_allowed);
		return -EINVAL;
	}
	/* Loaded as written (a --route dry run can still pass the name), but
	 * in a real call the parameter never exists and reads as "": a typo
	 * here silently changes what the rule matches. */
	if (!route_param_known(cd->param)) {
		const char *hint = route_param_suggest(cd->param);

		LOAD_WARN(c,
			  "%s:%d: rule %s: condition param %s is not set by the call engine, so it always "
			  "reads as \"\"%s%s%s (the engine sets: " COND_KNOWN_LIST ")",
			  c->path, cd->line, r->name, cd->param, hint ? "; did you mean " : "", hint ? hint : "",
			  hint ? "?" : "");
	}
	/* Full match: expr must describe the whole value, as the guide's
	 * "(.*)" and ".*" imply. Values are UTF-8 but may be invalid (caller
	 * names from the PSTN): match them without failing. */
	cd->re = pcre2_compile((PCRE2_SPTR)cd->expr, PCRE2_ZERO_TERMINATED,
			       PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode,
			       &erroff, NULL);
	if (cd->re == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		set_err(c->err, c->errlen,
			"%s:%d: condition %s: bad regular expression \"%s\" at offset %zu: %s (allowed: PCRE2 syntax)",
			c->path, cd->line, cd->param, cd->expr, (size_t)erroff, (const char *)msg);
		return -EINVAL;
	}
	pcre2_pattern_info(cd->re, PCRE2_INFO_CAPTURECOUNT, &groups);
	if (groups > 0)
		cd->capture_index = (int)r->n_captures++;
	return 0;
}

/* Warn about every %N of a template that names no capture-bearing
 * condition: it expands to "" (SPEC §2's own example uses %2 with two). */
static void check_template(struct load_ctx *c, const struct route_rule *r, const struct route_out_param *p)
{
	for (const char *s = p->expr; *s != '\0'; s++) {
		if (*s != '%')
			continue;
		if (s[1] == '%') {
			s++;
			continue;
		}
		if (!isdigit((unsigned char)s[1]))
			continue;
		char *end;
		unsigned long n = strtoul(s + 1, &end, 10);

		if (n >= r->n_captures) {
			if (r->n_captures == 0)
				LOAD_WARN(c,
					  "%s:%d: param %s uses %%%lu but rule %s has no condition with a capture "
					  "group: %%%lu expands to \"\"",
					  c->path, p->line, p->name, n, r->name, n);
			else
				LOAD_WARN(c,
					  "%s:%d: param %s uses %%%lu but rule %s has %u capture-bearing "
					  "condition%s (defined: %%0..%%%u): %%%lu expands to \"\"",
					  c->path, p->line, p->name, n, r->name, r->n_captures,
					  r->n_captures == 1 ? "" : "s", r->n_captures - 1, n);
		}
		s = end - 1;
	}
}

static int parse_param(struct load_ctx *c, struct route_rule *r, xmlNode *n)
{
	static const char *const attrs[] = { "name", "expr" };
	struct route_out_param *p;
	int rc;

	if (r->n_params >= ROUTE_MAX_OUT_PARAMS) {
		set_err(c->err, c->errlen, "%s:%ld: more than %d out_leg params in rule %s", c->path,
			xmlGetLineNo(n), ROUTE_MAX_OUT_PARAMS, r->name);
		return -EINVAL;
	}
	p = &r->params[r->n_params++];
	memset(p, 0, sizeof(*p));
	p->line = (int)xmlGetLineNo(n);
	warn_unknown_attrs(c, n, attrs, 2);
	if ((rc = need_prop(c, n, "name", &p->name)) < 0 || (rc = need_prop(c, n, "expr", &p->expr)) < 0)
		return rc;
	for (unsigned i = 0; i + 1 < r->n_params; i++) {
		if (strcmp(r->params[i].name, p->name) == 0) {
			set_err(c->err, c->errlen, "%s:%d: param %s already set at line %d", c->path, p->line,
				p->name, r->params[i].line);
			return -EINVAL;
		}
	}
	if (has_prefix(p->name, "sip.out.")) {
		bool known = false;

		for (size_t i = 0; i < sizeof(out_known) / sizeof(out_known[0]); i++)
			known |= strcmp(p->name, out_known[i]) == 0;
		if (!known)
			LOAD_WARN(c, "%s:%d: out_leg param %s is not used by mediagate (kept; known: "
				"sip.out.requestUri, sip.out.from.uri, sip.out.from.displayName, "
				"sip.out.transport, sip.out.to.uri, sip.out.to.displayName)",
				c->path, p->line, p->name);
	} else if (!(has_prefix(p->name, "pstn.out.") && p->name[9] != '\0')) {
		set_err(c->err, c->errlen, "%s:%d: out_leg param name \"%s\" (allowed: sip.out.*, pstn.out.*)",
			c->path, p->line, p->name);
		return -EINVAL;
	}
	/* The guide's own example wraps sip.out.requestUri over two lines;
	 * XML turns the newline into a space. No URI contains blanks, so
	 * drop them and say so rather than place calls to a broken URI. */
	if (is_uri_param(p->name) && strpbrk(p->expr, " \t\r\n") != NULL) {
		char *w = p->expr;

		for (const char *s = p->expr; *s != '\0'; s++)
			if (!isspace((unsigned char)*s))
				*w++ = *s;
		*w = '\0';
		LOAD_WARN(c, "%s:%d: param %s: whitespace removed from the URI (now \"%s\")", c->path, p->line, p->name,
			p->expr);
	}
	if (strcmp(p->name, "sip.out.transport") == 0 && strchr(p->expr, '%') == NULL &&
	    strcasecmp(p->expr, "udp") != 0 && strcasecmp(p->expr, "tcp") != 0 && strcasecmp(p->expr, "tls") != 0) {
		set_err(c->err, c->errlen, "%s:%d: sip.out.transport \"%s\" (allowed: udp, tcp, tls)", c->path,
			p->line, p->expr);
		return -EINVAL;
	}
	check_template(c, r, p);
	return 0;
}

static int parse_out_leg(struct load_ctx *c, struct route_rule *r, xmlNode *n)
{
	static const char *const attrs[] = { "name", "media_type" };
	bool present;
	int rc;

	warn_unknown_attrs(c, n, attrs, 2);
	r->leg_name = prop_dup(n, "name", &present);
	if (!present)
		r->leg_name = strdup("");
	r->media_type = prop_dup(n, "media_type", &present);
	if (!present)
		r->media_type = strdup("sendrecv");
	if (r->leg_name == NULL || r->media_type == NULL)
		return -ENOMEM;
	bool ok = false;

	for (size_t i = 0; i < 4; i++)
		ok |= strcmp(r->media_type, media_types[i]) == 0;
	if (!ok) {
		set_err(c->err, c->errlen,
			"%s:%ld: out_leg media_type \"%s\" (allowed: sendrecv, sendonly, recvonly, inactive)",
			c->path, xmlGetLineNo(n), r->media_type);
		return -EINVAL;
	}
	r->params = calloc(ROUTE_MAX_OUT_PARAMS, sizeof(*r->params));
	if (r->params == NULL)
		return -ENOMEM;
	for (xmlNode *k = n->children; k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)k->name, "param") != 0) {
			set_err(c->err, c->errlen, "%s:%ld: <%s> inside <out_leg> (allowed: <param>)", c->path,
				xmlGetLineNo(k), (const char *)k->name);
			return -EINVAL;
		}
		if ((rc = parse_param(c, r, k)) < 0)
			return rc;
	}
	return 0;
}

static int parse_qvalue(const char *s, double *q)
{
	char *end;

	errno = 0;
	*q = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(*q) || *q < 0.0 || *q > 1.0)
		return -EINVAL;
	return 0;
}

static int parse_rule(struct load_ctx *c, struct route_table *t, xmlNode *n)
{
	static const char *const attrs[] = { "name", "outbound_interface", "qvalue" };
	struct route_rule *r = &t->rules[t->n_rules];
	char *iface = NULL, *q = NULL;
	bool present, have_leg = false;
	int rc;

	memset(r, 0, sizeof(*r));
	r->line = (int)xmlGetLineNo(n);
	r->doc_index = t->n_rules;
	t->n_rules++;
	warn_unknown_attrs(c, n, attrs, 3);
	if ((rc = need_prop(c, n, "name", &r->name)) < 0)
		return rc;
	for (unsigned i = 0; i + 1 < t->n_rules; i++) {
		if (strcmp(t->rules[i].name, r->name) == 0)
			LOAD_WARN(c, "%s:%d: rule name %s already used at line %d", c->path, r->line, r->name,
				t->rules[i].line);
	}
	if ((rc = need_prop(c, n, "outbound_interface", &iface)) < 0)
		goto out;
	if (strcmp(iface, "sip") == 0) {
		r->outbound = ROUTE_IFACE_SIP;
	} else if (strcmp(iface, "pstn") == 0) {
		r->outbound = ROUTE_IFACE_PSTN;
	} else {
		set_err(c->err, c->errlen, "%s:%d: rule %s: outbound_interface \"%s\" (allowed: sip, pstn)", c->path,
			r->line, r->name, iface);
		rc = -EINVAL;
		goto out;
	}
	q = prop_dup(n, "qvalue", &present);
	r->qvalue = 1.0; /* as a SIP Contact without q */
	if (present && (q == NULL || parse_qvalue(q, &r->qvalue) < 0)) {
		set_err(c->err, c->errlen, "%s:%d: rule %s: qvalue \"%s\" (allowed: a number from 0 to 1)", c->path,
			r->line, r->name, q ? q : "");
		rc = -EINVAL;
		goto out;
	}
	r->conds = calloc(ROUTE_MAX_CONDS, sizeof(*r->conds));
	if (r->conds == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (xmlNode *k = n->children; k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)k->name, "condition") == 0) {
			if (have_leg) {
				/* %N numbering is by document order; a condition
				 * after the templates that use it reads wrong. */
				set_err(c->err, c->errlen, "%s:%ld: rule %s: <condition> after <out_leg> (allowed: "
					"conditions first)", c->path, xmlGetLineNo(k), r->name);
				rc = -EINVAL;
				goto out;
			}
			rc = parse_condition(c, r, k);
		} else if (strcmp((const char *)k->name, "out_leg") == 0) {
			if (have_leg) {
				set_err(c->err, c->errlen, "%s:%ld: rule %s: second <out_leg> (allowed: one per rule)",
					c->path, xmlGetLineNo(k), r->name);
				rc = -EINVAL;
				goto out;
			}
			have_leg = true;
			rc = parse_out_leg(c, r, k);
		} else {
			set_err(c->err, c->errlen, "%s:%ld: <%s> inside <rule> (allowed: <condition>, <out_leg>)",
				c->path, xmlGetLineNo(k), (const char *)k->name);
			rc = -EINVAL;
		}
		if (rc < 0)
			goto out;
	}
	if (!have_leg) {
		set_err(c->err, c->errlen, "%s:%d: rule %s has no <out_leg> (allowed: exactly one)", c->path,
			r->line, r->name);
		rc = -EINVAL;
	}
out:
	free(iface);
	free(q);
	return rc;
}

struct first_error {
	bool seen;
	int line;
	char msg[256];
};

/* libxml2 2.12 made the error const */
#if LIBXML_VERSION >= 21200
static void first_error_cb(void *ctx, const xmlError *e)
#else
static void first_error_cb(void *ctx, xmlError *e)
#endif
{
	struct first_error *fe = ctx;

	if (fe->seen || e == NULL || e->level < XML_ERR_ERROR)
		return;
	fe->seen = true;
	fe->line = e->line;
	snprintf(fe->msg, sizeof(fe->msg), "%s", e->message ? e->message : "parse error");
}

static int order_cmp(const void *a, const void *b, void *arg)
{
	const struct route_table *t = arg;
	const struct route_rule *ra = &t->rules[*(const unsigned *)a];
	const struct route_rule *rb = &t->rules[*(const unsigned *)b];

	if (ra->qvalue != rb->qvalue)
		return ra->qvalue > rb->qvalue ? -1 : 1;
	return ra->doc_index < rb->doc_index ? -1 : ra->doc_index > rb->doc_index;
}

#define ROUTE_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES)

/* The file @p path, or (@p buf != NULL) the @p len bytes of @p buf named
 * @p path in messages. */
static struct route_table *table_load(const char *path, const char *buf, size_t len, char *err,
				      size_t errlen)
{
	struct load_ctx c = { .path = path, .err = err, .errlen = errlen };
	struct route_table *t = NULL;
	xmlDoc *doc = NULL;
	xmlNode *root;
	unsigned count = 0;
	int rc = -EINVAL;

	set_err(err, errlen, "%s", "");
	if (buf == NULL) {
		FILE *f = fopen(path, "r");

		if (f == NULL) {
			rc = -errno;
			set_err(err, errlen, "%s: cannot open the routing rules file: %s", path,
				strerror(errno));
			goto fail;
		}
		fclose(f);
	} else if (len > INT_MAX) {
		set_err(err, errlen, "%s: %zu bytes (allowed: at most %d)", path, len, INT_MAX);
		goto fail;
	}
	struct first_error fe = { 0 };

	/* libxml2 recovers and reports the last error; the first one is
	 * where the operator has to look. */
	xmlSetStructuredErrorFunc(&fe, first_error_cb);
	if (buf == NULL)
		doc = xmlReadFile(path, NULL, ROUTE_XML_OPTIONS);
	else
		doc = xmlReadMemory(buf, (int)len, path, NULL, ROUTE_XML_OPTIONS);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (doc == NULL || fe.seen) {
		size_t n = strlen(fe.msg);

		while (n > 0 && (fe.msg[n - 1] == '\n' || fe.msg[n - 1] == ' '))
			fe.msg[--n] = '\0';
		set_err(err, errlen, "%s:%d: not well-formed XML: %s", path, fe.line, fe.seen ? fe.msg : "parse error");
		goto fail;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || (strcmp((const char *)root->name, "routing_rules") != 0 &&
			     strcmp((const char *)root->name, "rule") != 0)) {
		set_err(err, errlen, "%s:%ld: root element <%s> (allowed: <routing_rules> holding <rule> elements)",
			path, root ? xmlGetLineNo(root) : 0, root ? (const char *)root->name : "");
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL || (t->path = strdup(path)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	atomic_init(&t->refs, 1);
	if (strcmp((const char *)root->name, "rule") == 0) {
		count = 1; /* a lone rule, as the guide prints it */
	} else {
		for (xmlNode *k = root->children; k != NULL; k = k->next)
			count += k->type == XML_ELEMENT_NODE;
	}
	if (count > ROUTE_MAX_RULES) {
		set_err(err, errlen, "%s: %u rules (allowed: at most %d)", path, count, ROUTE_MAX_RULES);
		goto fail;
	}
	t->rules = calloc(count ? count : 1, sizeof(*t->rules));
	t->order = calloc(count ? count : 1, sizeof(*t->order));
	if (t->rules == NULL || t->order == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (strcmp((const char *)root->name, "rule") == 0) {
		if ((rc = parse_rule(&c, t, root)) < 0)
			goto fail;
	} else {
		for (xmlNode *k = root->children; k != NULL; k = k->next) {
			if (k->type != XML_ELEMENT_NODE)
				continue;
			if (strcmp((const char *)k->name, "rule") != 0) {
				set_err(err, errlen, "%s:%ld: <%s> inside <routing_rules> (allowed: <rule>)", path,
					xmlGetLineNo(k), (const char *)k->name);
				rc = -EINVAL;
				goto fail;
			}
			if ((rc = parse_rule(&c, t, k)) < 0)
				goto fail;
		}
	}
	if (t->n_rules == 0)
		LOAD_WARN(&c, "%s: no <rule>: every call will be refused (SIP 404, PSTN cause 1)", path);
	for (unsigned i = 0; i < t->n_rules; i++)
		t->order[i] = i;
	qsort_r(t->order, t->n_rules, sizeof(*t->order), order_cmp, t);
	t->mctx = pcre2_match_context_create(NULL);
	if (t->mctx == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	pcre2_set_match_limit(t->mctx, ROUTE_PCRE2_MATCH_LIMIT);
	pcre2_set_depth_limit(t->mctx, ROUTE_PCRE2_DEPTH_LIMIT);
	pcre2_set_heap_limit(t->mctx, ROUTE_PCRE2_HEAP_LIMIT_KIB);
	t->warnings = c.warnings;
	xmlFreeDoc(doc);
	return t;
fail:
	if (rc == -ENOMEM)
		set_err(err, errlen, "%s: out of memory", path);
	table_destroy(t);
	xmlFreeDoc(doc);
	errno = -rc;
	return NULL;
}

struct route_table *route_table_load(const char *path, char *err, size_t errlen)
{
	return table_load(path, NULL, 0, err, errlen);
}

struct route_table *route_table_load_buffer(const char *name, const char *buf, size_t len,
					    char *err, size_t errlen)
{
	return table_load(name != NULL ? name : "(buffer)", buf != NULL ? buf : "",
			  buf != NULL ? len : 0, err, errlen);
}

struct route_table *route_table_ref(struct route_table *t)
{
	if (t != NULL)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void route_table_unref(struct route_table *t)
{
	if (t != NULL && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		table_destroy(t);
}

unsigned route_table_count(const struct route_table *t)
{
	return t->n_rules;
}

const char *route_table_path(const struct route_table *t)
{
	return t->path;
}

unsigned route_table_warnings(const struct route_table *t)
{
	return t->warnings;
}

uint64_t route_table_match_errors(const struct route_table *t)
{
	return atomic_load_explicit(&t->match_errors, memory_order_relaxed);
}

bool route_table_uses_param(const struct route_table *t, const char *name)
{
	for (unsigned i = 0; i < t->n_rules; i++)
		for (unsigned k = 0; k < t->rules[i].n_conds; k++)
			if (strcmp(t->rules[i].conds[k].param, name) == 0)
				return true;
	return false;
}

/* true when a line may be logged now; @p suppressed gets the count of the
 * lines left out since the last one. */
static bool ratelimit_ok(struct route_ratelimit *rl, unsigned *suppressed)
{
	struct timespec ts;
	int64_t next;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	next = atomic_load_explicit(&rl->next_s, memory_order_relaxed);
	if ((int64_t)ts.tv_sec < next ||
	    !atomic_compare_exchange_strong(&rl->next_s, &next, (int64_t)ts.tv_sec + ROUTE_MATCH_ERROR_LOG_INTERVAL_S)) {
		atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
		return false;
	}
	*suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return true;
}

static const char *transport_of(const struct route_rule *r)
{
	for (unsigned i = 0; i < r->n_params; i++)
		if (strcmp(r->params[i].name, "sip.out.transport") == 0)
			return r->params[i].expr;
	return "udp";
}

static unsigned transport_bit(const char *tp)
{
	return strcasecmp(tp, "tls") == 0 ? ROUTE_UA_TLS : strcasecmp(tp, "tcp") == 0 ? ROUTE_UA_TCP : ROUTE_UA_UDP;
}

static void ua_list(unsigned mask, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", mask & ROUTE_UA_UDP ? " udp" : "", mask & ROUTE_UA_TCP ? " tcp" : "",
		 mask & ROUTE_UA_TLS ? " tls" : "", mask & (ROUTE_UA_UDP | ROUTE_UA_TCP | ROUTE_UA_TLS) ? "" : " none");
}

static bool uses_gw_sip_port(const struct route_rule *r)
{
	for (unsigned i = 0; i < r->n_params; i++)
		if (strstr(r->params[i].expr, "GW_SIP_PORT") != NULL)
			return true;
	return false;
}

unsigned route_table_check_env(const struct route_table *t, const struct route_env *env)
{
	unsigned n = 0;
	char have[32];

	if (env == NULL || !(env->ua_transports & ROUTE_UA_KNOWN))
		return 0;
	ua_list(env->ua_transports, have, sizeof(have));
	for (unsigned i = 0; i < t->n_rules; i++) {
		const struct route_rule *r = &t->rules[i];
		const char *tp = transport_of(r);

		/* a templated transport is checked when a call expands it */
		if (r->outbound != ROUTE_IFACE_SIP || strchr(tp, '%') != NULL ||
		    (env->ua_transports & transport_bit(tp)))
			continue;
		MG_WARN("%s:%d: rule %s: sip.out.transport %s but no %s user agent is configured "
			"(netborder.sip.userAgent.IPAddress has:%s): calls it routes cannot be placed%s",
			t->path, r->line, r->name, tp, tp, have,
			uses_gw_sip_port(r) ? ", and GW_SIP_PORT names a port nobody listens on" : "");
		n++;
	}
	return n;
}

static const char *param_value(const struct route_kv *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (params[i].name != NULL && strcmp(params[i].name, name) == 0)
			return params[i].value ? params[i].value : "";
	return strcmp(name, "transfer") == 0 ? "false" : "";
}

struct strbuf {
	char *s;
	size_t len, cap;
	bool overflow, nomem;
};

/* Grows as needed (a caller's long Request-URI user is expanded whole);
 * beyond ROUTE_MAX_VALUE, or without memory, the value is refused, never cut. */
static void sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->overflow || b->len + n >= ROUTE_MAX_VALUE) {
		b->overflow = true;
		return;
	}
	if (b->len + n >= b->cap) {
		size_t cap = b->cap;
		char *p;

		while (b->len + n >= cap)
			cap *= 2;
		if (cap > ROUTE_MAX_VALUE)
			cap = ROUTE_MAX_VALUE;
		p = realloc(b->s, cap);
		if (p == NULL) {
			b->overflow = b->nomem = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* RFC 3261 25.1: characters a URI user part may carry as they are
 * (unreserved, user-unreserved); '%' stays when it starts an escape. */
static bool uri_user_char(const char *s)
{
	unsigned char c = (unsigned char)*s;

	if (isalnum(c) || strchr("-_.!~*'()&=+$,;?/", c) != NULL)
		return c != '\0';
	return c == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2]);
}

/* Past the user part ('@' seen): what a host[:port] or a parameter value
 * carries (RFC 3261 25.1 unreserved and param-unreserved), never ';', '?',
 * '=' or ',' that would start another parameter or a header. */
static bool uri_host_char(const char *s)
{
	unsigned char c = (unsigned char)*s;

	if (isalnum(c) || strchr("-_.!~*'()[]/:&+$", c) != NULL)
		return c != '\0';
	return c == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2]);
}

/* Append @p s, %HH-escaping what a URI user part cannot carry ('#', '@',
 * ':', '<', '>', '"', spaces, controls, non-ASCII, ...), or, @p host, what
 * a host[:port] or parameter value cannot (a caller's ";maddr=..." stays
 * text, never a parameter). */
static void sb_add_uri(struct strbuf *b, const char *s, bool host)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		if (host ? uri_host_char(s) : uri_user_char(s)) {
			sb_add(b, s, 1);
		} else {
			char e[3] = { '%', hex[(unsigned char)*s >> 4], hex[(unsigned char)*s & 15] };

			sb_add(b, e, 3);
		}
	}
}

/* One pass over the template, so text coming from the caller (captures) is
 * never itself expanded: a caller name "GW_HOST_IP" stays as typed. In a URI
 * parameter (@p uri) the captures are escaped for a URI user part before the
 * template's '@' and for a host[:port] after it, so a caller's '#', '>', '@'
 * or ';param=' cannot change the URI or break out of it. */
static int expand(const char *tpl, char *const *caps, unsigned n_caps, const struct route_env *env,
		  uint16_t port, bool uri, char **out)
{
	struct strbuf b = { .s = malloc(256), .cap = 256 };
	char portbuf[8];

	if (b.s == NULL)
		return -ENOMEM;
	bool past_user = false; /* the template's own '@' passed */

	b.s[0] = '\0';
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	for (const char *s = tpl; *s != '\0';) {
		if (s[0] == '%' && s[1] == '%') {
			sb_add(&b, "%", 1);
			s += 2;
		} else if (s[0] == '%' && isdigit((unsigned char)s[1])) {
			char *end;
			unsigned long n = strtoul(s + 1, &end, 10);
			/* beyond the rule's groups: "" (warned at load) */
			const char *cap = n < n_caps ? caps[n] : "";

			if (uri)
				sb_add_uri(&b, cap, past_user);
			else
				sb_add(&b, cap, strlen(cap));
			s = end;
		} else if (has_prefix(s, "GW_HOST_IP")) {
			const char *ip = env && env->host_ip ? env->host_ip : "127.0.0.1";

			if (strchr(ip, ':') != NULL && ip[0] != '[') {
				sb_add(&b, "[", 1);
				sb_add(&b, ip, strlen(ip));
				sb_add(&b, "]", 1);
			} else {
				sb_add(&b, ip, strlen(ip));
			}
			s += strlen("GW_HOST_IP");
		} else if (has_prefix(s, "GW_SIP_PORT")) {
			sb_add(&b, portbuf, strlen(portbuf));
			s += strlen("GW_SIP_PORT");
		} else {
			past_user |= *s == '@';
			sb_add(&b, s, 1);
			s++;
		}
	}
	if (b.overflow) {
		free(b.s);
		return b.nomem ? -ENOMEM : -E2BIG;
	}
	*out = b.s;
	return 0;
}

/* A condition could not be evaluated (limit hit): the rule does not
 * match, and the operator hears of it without a flood of lines. */
static void match_error(struct route_table *t, const struct route_rule *r, const struct route_cond *cd,
			size_t len, int rc)
{
	uint64_t total = atomic_fetch_add_explicit(&t->match_errors, 1, memory_order_relaxed) + 1;
	unsigned suppressed;
	PCRE2_UCHAR msg[120];

	if (!ratelimit_ok(&t->match_error_log, &suppressed))
		return;
	pcre2_get_error_message(rc, msg, sizeof(msg));
	MG_WARN("route: %s:%d: rule %s, condition %s \"%s\" on a %zu-byte value: PCRE2 error %d (%s; "
		"limits: match %u, depth %u, heap %u KiB): the rule is treated as not matching "
		"(%" PRIu64 " match errors since load, %u log lines suppressed)",
		t->path, cd->line, r->name, cd->param, cd->expr, len, rc, (const char *)msg,
		ROUTE_PCRE2_MATCH_LIMIT, ROUTE_PCRE2_DEPTH_LIMIT, ROUTE_PCRE2_HEAP_LIMIT_KIB, total, suppressed);
}

/* Try one rule; 1 = matched (caps filled, caller frees), 0 = no, <0 error. */
static int rule_try(struct route_table *t, const struct route_rule *r, const struct route_kv *params,
		    size_t n_params, pcre2_match_data *md, char **caps)
{
	int ret = 1;

	for (unsigned i = 0; i < r->n_conds; i++) {
		const struct route_cond *cd = &r->conds[i];
		const char *v = param_value(params, n_params, cd->param);
		size_t len = strlen(v);
		int rc = pcre2_match(cd->re, (PCRE2_SPTR)v, len, 0, 0, md, t->mctx);

		if (rc < 0) {
			if (rc != PCRE2_ERROR_NOMATCH)
				match_error(t, r, cd, len, rc);
			ret = 0;
			break;
		}
		if (cd->capture_index < 0)
			continue;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		/* group 1 unset (optional group) reads as "" */
		/* rc 0: more groups than ovector pairs, group 1 is still set */
		size_t clen = (rc == 0 || rc >= 2) && ov[2] != PCRE2_UNSET ? ov[3] - ov[2] : 0;

		caps[cd->capture_index] = strndup(clen ? v + ov[2] : "", clen);
		if (caps[cd->capture_index] == NULL) {
			ret = -ENOMEM;
			break;
		}
	}
	return ret;
}

static void caps_free(char **caps, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(caps[i]);
		caps[i] = NULL;
	}
}

static uint16_t env_port(const struct route_env *env, const char *transport)
{
	if (env == NULL)
		return 5060;
	if (transport != NULL && strcasecmp(transport, "tls") == 0)
		return env->sip_port_tls;
	if (transport != NULL && strcasecmp(transport, "tcp") == 0)
		return env->sip_port_tcp;
	return env->sip_port_udp;
}

int route_match(struct route_table *t, const struct route_kv *params, size_t n_params,
		const struct route_env *env, struct route_result *out)
{
	char *caps[ROUTE_MAX_CONDS] = { 0 };
	pcre2_match_data *md;
	int rc;

	memset(out, 0, sizeof(*out));
	md = pcre2_match_data_create(8, NULL);
	if (md == NULL)
		return -ENOMEM;
	for (unsigned k = 0; k < t->n_rules; k++) {
		const struct route_rule *r = &t->rules[t->order[k]];

		rc = rule_try(t, r, params, n_params, md, caps);
		if (rc == 0) {
			caps_free(caps, r->n_captures);
			continue;
		}
		if (rc < 0) {
			caps_free(caps, r->n_captures);
			pcre2_match_data_free(md);
			return rc;
		}
		/* matched: transport first, its port feeds GW_SIP_PORT */
		char *transport = NULL;

		for (unsigned i = 0; i < r->n_params; i++) {
			if (strcmp(r->params[i].name, "sip.out.transport") == 0) {
				rc = expand(r->params[i].expr, caps, r->n_captures, env, 0, false, &transport);
				if (rc < 0)
					goto fail;
			}
		}
		uint16_t port = env_port(env, transport);

		/* a literal transport was checked at load (route_table_check_env) */
		if (r->outbound == ROUTE_IFACE_SIP && env != NULL && (env->ua_transports & ROUTE_UA_KNOWN) &&
		    strchr(transport_of(r), '%') != NULL && transport != NULL &&
		    !(env->ua_transports & transport_bit(transport))) {
			unsigned suppressed;
			char have[32];

			ua_list(env->ua_transports, have, sizeof(have));
			if (ratelimit_ok(&t->transport_log, &suppressed))
				MG_WARN("route: %s:%d: rule %s: sip.out.transport \"%s\" expands to %s but no %s "
					"user agent is configured (have:%s): the call cannot be placed%s (%u log "
					"lines suppressed)",
					t->path, r->line, r->name, transport_of(r), transport, transport, have,
					uses_gw_sip_port(r) ? " and GW_SIP_PORT names a port nobody listens on" : "",
					suppressed);
		}
		free(transport);
		out->table = route_table_ref(t);
		out->rule = r;
		out->rule_name = r->name;
		out->outbound_interface = r->outbound;
		out->qvalue = r->qvalue;
		out->line = r->line;
		out->out_leg_name = r->leg_name;
		out->media_type = r->media_type;
		for (unsigned i = 0; i < r->n_params; i++) {
			out->params[i].name = r->params[i].name;
			rc = expand(r->params[i].expr, caps, r->n_captures, env, port,
				    is_uri_param(r->params[i].name), &out->params[i].value);
			if (rc < 0)
				goto fail;
			out->n_params = i + 1;
		}
		caps_free(caps, r->n_captures);
		pcre2_match_data_free(md);
		return 0;
fail:
		caps_free(caps, r->n_captures);
		pcre2_match_data_free(md);
		route_result_clear(out);
		return rc;
	}
	pcre2_match_data_free(md);
	return -ENOENT;
}

const char *route_result_get(const struct route_result *r, const char *name)
{
	for (unsigned i = 0; i < r->n_params; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

void route_result_clear(struct route_result *r)
{
	for (unsigned i = 0; i < r->n_params; i++)
		free(r->params[i].value);
	route_table_unref(r->table);
	memset(r, 0, sizeof(*r));
}

void route_result_print(const struct route_result *r, FILE *out)
{
	fprintf(out, "rule: %s (%s:%d)\n", r->rule_name, r->table ? route_table_path(r->table) : "?", r->line);
	fprintf(out, "outbound_interface: %s\n", r->outbound_interface == ROUTE_IFACE_SIP ? "sip" : "pstn");
	fprintf(out, "qvalue: %g\n", r->qvalue);
	fprintf(out, "out_leg: name=\"%s\" media_type=%s\n", r->out_leg_name, r->media_type);
	for (unsigned i = 0; i < r->n_params; i++)
		fprintf(out, "%s=%s\n", r->params[i].name, r->params[i].value);
}

int route_params_parse(char *buf, struct route_kv *kv, size_t max, char *err, size_t errlen)
{
	size_t n = 0;
	char *r = buf, *w = buf;

	while (*r != '\0') {
		char *name = w, *value = NULL;

		/* one item: unescape in place, split at the first bare '=' */
		for (; *r != '\0' && *r != ','; r++) {
			if (*r == '\\' && r[1] != '\0') {
				*w++ = *++r;
			} else if (*r == '=' && value == NULL) {
				*w++ = '\0';
				value = w;
			} else {
				*w++ = *r;
			}
		}
		if (*r == ',')
			r++;
		*w++ = '\0';
		if (value == NULL || name[0] == '\0') {
			set_err(err, errlen, "call parameter \"%s\" (allowed: name=value, e.g. pstn.in.dnis=5551234)",
				name);
			return -EINVAL;
		}
		if (n >= max) {
			set_err(err, errlen, "more than %zu call parameters", max);
			return -E2BIG;
		}
		kv[n].name = name;
		kv[n].value = value;
		n++;
	}
	return (int)n;
}

int route_set_reload(struct route_set *s, const char *path, char *err, size_t errlen)
{
	struct route_table *t = route_table_load(path, err, errlen);

	if (t == NULL)
		return -errno;
	struct route_table *old = s->current;

	s->current = t;
	route_table_unref(old);
	return 0;
}

struct route_table *route_set_get(struct route_set *s)
{
	return route_table_ref(s->current);
}

void route_set_clear(struct route_set *s)
{
	route_table_unref(s->current);
	s->current = NULL;
}
