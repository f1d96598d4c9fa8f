/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_tdm_sysconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHAN_WORDS ((MG_TDM_MAX_CHANNO + 64) / 64)

struct sc_parser {
	struct mg_tdm_sysconf *sc;
	const char *name;
	FILE *diag;
	unsigned line;
	unsigned errors;
	const char *key;
	const char *value;
};

__attribute__((format(printf, 3, 4))) static void sc_error(struct sc_parser *p,
							     const char *allowed,
							     const char *fmt, ...)
{
	va_list ap;

	fprintf(p->diag, "%s:%u: ", p->name, p->line);
	if (p->key)
		fprintf(p->diag, "%s=%s: ", p->key, p->value);
	va_start(ap, fmt);
	vfprintf(p->diag, fmt, ap);
	va_end(ap);
	if (allowed)
		fprintf(p->diag, " (allowed: %s)", allowed);
	fputc('\n', p->diag);
	p->errors++;
}

static char *sc_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A decimal number in [lo, hi] and nothing else. */
static int sc_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void bit_set(uint64_t *bm, unsigned i)
{
	bm[i / 64] |= 1ULL << (i % 64);
}

static bool bit_get(const uint64_t *bm, unsigned i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* "1-15,17-31" → bitmap. Reports the first bad element. */
static int sc_list(struct sc_parser *p, const char *text, uint64_t *bm)
{
	static const char allowed[] = "N or N-M with 1 <= N <= M <= 1023, comma separated";
	char buf[1024];
	char *cur = buf;
	char *tok;
	unsigned n = 0;

	memset(bm, 0, CHAN_WORDS * sizeof(uint64_t));
	if (strlen(text) >= sizeof(buf)) {
		sc_error(p, allowed, "channel list too long");
		return -EINVAL;
	}
	strcpy(buf, text);
	/* strsep, not strtok: "1,,2" has an empty element, which is an error */
	while ((tok = strsep(&cur, ",")) != NULL) {
		char *dash = strchr(tok, '-');
		unsigned a, b;

		if (dash) {
			*dash = '\0';
			if (sc_uint(sc_trim(tok), 1, MG_TDM_MAX_CHANNO, &a) ||
			    sc_uint(sc_trim(dash + 1), 1, MG_TDM_MAX_CHANNO, &b) || a > b) {
				*dash = '-';
				sc_error(p, allowed, "'%s' is not a channel range", sc_trim(tok));
				return -EINVAL;
			}
		} else {
			if (sc_uint(sc_trim(tok), 1, MG_TDM_MAX_CHANNO, &a)) {
				sc_error(p, allowed, "'%s' is not a channel number", sc_trim(tok));
				return -EINVAL;
			}
			b = a;
		}
		for (unsigned i = a; i <= b; i++)
			bit_set(bm, i);
		n++;
	}
	if (!n) {
		sc_error(p, allowed, "empty channel list");
		return -EINVAL;
	}
	return 0;
}

static bool sc_in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcasecmp(s, *set))
			return true;
	return false;
}

static void sc_span(struct sc_parser *p, char *value)
{
	static const char *const t1_framing[] = {"d4", "esf", NULL};
	static const char *const e1_framing[] = {"cas", "ccs", NULL};
	struct mg_tdm_span_conf s = {0};
	char *f[8];
	unsigned nf = 0;
	char *save = NULL;

	for (char *t = strtok_r(value, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (nf == 8) {
			sc_error(p, "span=<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]",
				 "too many fields");
			return;
		}
		f[nf++] = sc_trim(t);
	}
	if (nf < 5) {
		sc_error(p, "span=<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]",
			 "%u fields, 5 needed", nf);
		return;
	}
	if (sc_uint(f[0], 1, MG_TDM_MAX_SPANS, &s.num)) {
		sc_error(p, "1..32", "span number '%s' invalid", f[0]);
		return;
	}
	if (sc_uint(f[1], 0, MG_TDM_MAX_SPANS, &s.timing)) {
		sc_error(p, "0 (never) or a priority 1..32", "timing source '%s' invalid", f[1]);
		return;
	}
	if (sc_uint(f[2], 0, 7, &s.lbo)) {
		sc_error(p, "0..7", "line build-out '%s' invalid", f[2]);
		return;
	}
	if (sc_in(f[3], t1_framing)) {
		s.type = MG_TDM_SPAN_T1;
		s.n_chans = 24;
	} else if (sc_in(f[3], e1_framing)) {
		s.type = MG_TDM_SPAN_E1;
		s.n_chans = 31;
	} else {
		sc_error(p, "d4, esf (T1); cas, ccs (E1)", "framing '%s' unknown", f[3]);
		return;
	}
	snprintf(s.framing, sizeof(s.framing), "%s", f[3]);
	if (!strcasecmp(f[4], "ami") ||
	    (s.type == MG_TDM_SPAN_T1 && !strcasecmp(f[4], "b8zs")) ||
	    (s.type == MG_TDM_SPAN_E1 && !strcasecmp(f[4], "hdb3"))) {
		snprintf(s.coding, sizeof(s.coding), "%s", f[4]);
	} else {
		sc_error(p, s.type == MG_TDM_SPAN_T1 ? "ami, b8zs for T1" : "ami, hdb3 for E1",
			 "coding '%s' does not fit %s framing", f[4], f[3]);
		return;
	}
	for (unsigned i = 5; i < nf; i++) {
		if (!strcasecmp(f[i], "crc4") && s.type == MG_TDM_SPAN_E1) {
			s.crc4 = true;
		} else if (!strcasecmp(f[i], "yellow")) {
			s.yellow = true;
		} else {
			sc_error(p, "crc4 (E1 only), yellow", "option '%s' unknown", f[i]);
			return;
		}
	}
	if (p->sc->spans[s.num].defined) {
		sc_error(p, NULL, "span %u already defined at line %u", s.num,
			 p->sc->spans[s.num].line);
		return;
	}
	s.defined = true;
	s.line = p->line;
	p->sc->spans[s.num] = s;
	p->sc->n_spans++;
}

static const struct {
	const char *word;
	enum mg_tdm_chan_kind kind;
} chan_kinds[] = {
	{"bchan", MG_TDM_KIND_BCHAN},   {"dchan", MG_TDM_KIND_DCHAN},
	{"hardhdlc", MG_TDM_KIND_HARDHDLC}, {"clear", MG_TDM_KIND_OTHER},
	{"indclear", MG_TDM_KIND_OTHER}, {"rawhdlc", MG_TDM_KIND_OTHER},
	{"fcshdlc", MG_TDM_KIND_OTHER}, {"nethdlc", MG_TDM_KIND_OTHER},
	{"mtp2", MG_TDM_KIND_OTHER},    {"dacs", MG_TDM_KIND_OTHER},
	{"dacsrbs", MG_TDM_KIND_OTHER}, {"unused", MG_TDM_KIND_OTHER},
	{"cas", MG_TDM_KIND_OTHER},     {"e&m", MG_TDM_KIND_OTHER},
	{"e&me1", MG_TDM_KIND_OTHER},   {"fxsls", MG_TDM_KIND_OTHER},
	{"fxsgs", MG_TDM_KIND_OTHER},   {"fxsks", MG_TDM_KIND_OTHER},
	{"fxols", MG_TDM_KIND_OTHER},   {"fxogs", MG_TDM_KIND_OTHER},
	{"fxoks", MG_TDM_KIND_OTHER},
};

static const char keywords_allowed[] =
	"span, bchan, dchan, hardhdlc, clear, indclear, rawhdlc, fcshdlc, nethdlc, mtp2, "
	"dacs, dacsrbs, unused, cas, e&m, e&me1, fxsls, fxsgs, fxsks, fxols, fxogs, fxoks, "
	"alaw, mulaw, deflaw, echocanceller, loadzone, defaultzone";

static void sc_chans(struct sc_parser *p, const char *word, enum mg_tdm_chan_kind kind,
		     const char *value)
{
	uint64_t bm[CHAN_WORDS];

	if (sc_list(p, value, bm))
		return;
	for (unsigned i = 1; i <= MG_TDM_MAX_CHANNO; i++) {
		struct mg_tdm_chan_conf *c = &p->sc->chans[i];

		if (!bit_get(bm, i))
			continue;
		if (c->kind != MG_TDM_KIND_NONE) {
			sc_error(p, NULL, "channel %u already configured as %s at line %u", i,
				 c->kind_name, c->line);
			return;
		}
		c->kind = kind;
		snprintf(c->kind_name, sizeof(c->kind_name), "%s", word);
		c->line = p->line;
	}
}

static void sc_law(struct sc_parser *p, const char *word, const char *value)
{
	uint64_t bm[CHAN_WORDS];

	if (sc_list(p, value, bm))
		return;
	for (unsigned i = 1; i <= MG_TDM_MAX_CHANNO; i++) {
		if (!bit_get(bm, i))
			continue;
		p->sc->chans[i].law_explicit = strcasecmp(word, "deflaw") != 0;
		p->sc->chans[i].law = !strcasecmp(word, "alaw") ? MG_LAW_ALAW : MG_LAW_ULAW;
	}
}

static bool sc_zone_ok(const char *z)
{
	size_t n = strlen(z);

	if (n == 0 || n > 15)
		return false;
	for (; *z; z++)
		if (!islower((unsigned char)*z) && *z != '-' && *z != '_')
			return false;
	return true;
}

static void sc_echocan(struct sc_parser *p, char *value)
{
	uint64_t bm[CHAN_WORDS];
	char *comma = strchr(value, ',');
	char *name;

	if (!comma) {
		sc_error(p, "echocanceller=<name>,<channel list>", "no channel list");
		return;
	}
	*comma = '\0';
	name = sc_trim(value);
	if (!*name || strlen(name) > 15) {
		sc_error(p, "a module name of 1..15 characters", "echo canceller name invalid");
		return;
	}
	if (sc_list(p, comma + 1, bm))
		return;
	for (unsigned i = 1; i <= MG_TDM_MAX_CHANNO; i++)
		if (bit_get(bm, i))
			snprintf(p->sc->chans[i].echocan, sizeof(p->sc->chans[i].echocan), "%s",
				 name);
}

static void sc_line(struct sc_parser *p, char *line)
{
	char *eq = strchr(line, '=');
	char *key, *value;

	p->key = NULL;
	if (!eq) {
		sc_error(p, "keyword=value", "'%s' is not keyword=value", line);
		return;
	}
	*eq = '\0';
	key = sc_trim(line);
	value = sc_trim(eq + 1);
	p->key = key;
	p->value = value;
	if (!*value) {
		sc_error(p, NULL, "empty value");
		return;
	}
	if (!strcasecmp(key, "span")) {
		char copy[1024]; /* as long as a line: nothing is cut */

		snprintf(copy, sizeof(copy), "%s", value);
		sc_span(p, copy);
		return;
	}
	for (size_t i = 0; i < sizeof(chan_kinds) / sizeof(chan_kinds[0]); i++) {
		if (!strcasecmp(key, chan_kinds[i].word)) {
			sc_chans(p, chan_kinds[i].word, chan_kinds[i].kind, value);
			return;
		}
	}
	if (!strcasecmp(key, "alaw") || !strcasecmp(key, "mulaw") ||
	    !strcasecmp(key, "deflaw")) {
		sc_law(p, key, value);
	} else if (!strcasecmp(key, "echocanceller")) {
		char copy[1024];

		snprintf(copy, sizeof(copy), "%s", value);
		sc_echocan(p, copy);
	} else if (!strcasecmp(key, "loadzone")) {
		if (!sc_zone_ok(value)) {
			sc_error(p, "a tone zone name such as us, uk, fr, de", "bad zone name");
		} else if (p->sc->n_zones == MG_TDM_MAX_ZONES) {
			sc_error(p, NULL, "more than %d zones", MG_TDM_MAX_ZONES);
		} else {
			snprintf(p->sc->zones[p->sc->n_zones++], 16, "%s", value);
		}
	} else if (!strcasecmp(key, "defaultzone")) {
		if (!sc_zone_ok(value))
			sc_error(p, "a tone zone name such as us, uk, fr, de", "bad zone name");
		else
			snprintf(p->sc->default_zone, sizeof(p->sc->default_zone), "%s", value);
	} else {
		sc_error(p, keywords_allowed, "unknown keyword '%s'", key);
	}
}

/* After every line is read: number the spans' channels, check that each
 * configured channel sits on a span, give unset laws the span's default. */
static void sc_finish(struct sc_parser *p, unsigned dz_line)
{
	struct mg_tdm_sysconf *sc = p->sc;
	unsigned next = 1;

	for (unsigned s = 1; s <= MG_TDM_MAX_SPANS; s++) {
		struct mg_tdm_span_conf *sp = &sc->spans[s];

		if (!sp->defined)
			continue;
		sp->first_chan = next;
		next += sp->n_chans;
		for (unsigned c = sp->first_chan; c < next && c <= MG_TDM_MAX_CHANNO; c++) {
			sc->chans[c].span = s;
			if (!sc->chans[c].law_explicit)
				sc->chans[c].law =
					sp->type == MG_TDM_SPAN_E1 ? MG_LAW_ALAW : MG_LAW_ULAW;
		}
	}
	p->key = NULL;
	for (unsigned c = 1; c <= MG_TDM_MAX_CHANNO; c++) {
		const struct mg_tdm_chan_conf *cc = &sc->chans[c];

		if (cc->kind != MG_TDM_KIND_NONE && !cc->span) {
			p->line = cc->line;
			sc_error(p, NULL, "%s channel %u is on no span (the span= lines cover 1-%u)",
				 cc->kind_name, c, next - 1);
		}
	}
	if (sc->default_zone[0]) {
		bool found = false;

		for (unsigned z = 0; z < sc->n_zones; z++)
			found |= !strcmp(sc->zones[z], sc->default_zone);
		if (!found) {
			p->line = dz_line;
			sc_error(p, "a zone named by a loadzone= line", "defaultzone '%s' not loaded",
				 sc->default_zone);
		}
	}
}

int mg_tdm_sysconf_parse(const char *text, const char *name, struct mg_tdm_sysconf *out,
			 FILE *diag)
{
	struct sc_parser p = {.sc = out, .name = name ? name : "system.conf",
			      .diag = diag ? diag : stderr};
	unsigned dz_line = 0;
	const char *s = text;

	memset(out, 0, sizeof(*out));
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char buf[1024];
		char *hash, *line;

		p.line++;
		p.key = NULL;
		if (n >= sizeof(buf)) {
			sc_error(&p, NULL, "line longer than %zu characters", sizeof(buf) - 1);
		} else {
			memcpy(buf, s, n);
			buf[n] = '\0';
			hash = strchr(buf, '#');
			if (hash)
				*hash = '\0';
			line = sc_trim(buf);
			if (*line) {
				if (!strncasecmp(line, "defaultzone", 11))
					dz_line = p.line;
				sc_line(&p, line);
			}
		}
		s += n;
		if (*s == '\n')
			s++;
	}
	sc_finish(&p, dz_line);
	return p.errors ? -EINVAL : 0;
}

int mg_tdm_sysconf_load(const char *path, struct mg_tdm_sysconf *out, FILE *diag)
{
	FILE *f = fopen(path, "r");
	char *text;
	long len;
	int rc;

	if (!diag)
		diag = stderr;
	if (!f) {
		rc = -errno;
		fprintf(diag, "%s: cannot open: %s\n", path, strerror(-rc));
		return rc;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		rc = -errno;
		fclose(f);
		fprintf(diag, "%s: cannot read: %s\n", path, strerror(-rc));
		return rc;
	}
	if (len > 1 << 20) {
		fclose(f);
		fprintf(diag, "%s: larger than 1 MiB, not a system.conf\n", path);
		return -EFBIG;
	}
	text = malloc((size_t)len + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	len = (long)fread(text, 1, (size_t)len, f);
	text[len] = '\0';
	fclose(f);
	rc = mg_tdm_sysconf_parse(text, path, out, diag);
	free(text);
	return rc;
}

unsigned mg_tdm_sysconf_dchan(const struct mg_tdm_sysconf *sc, unsigned span)
{
	const struct mg_tdm_span_conf *sp;

	if (span == 0 || span > MG_TDM_MAX_SPANS || !sc->spans[span].defined)
		return 0;
	sp = &sc->spans[span];
	for (unsigned c = sp->first_chan; c < sp->first_chan + sp->n_chans && c <= MG_TDM_MAX_CHANNO;
	     c++)
		if (sc->chans[c].kind == MG_TDM_KIND_DCHAN ||
		    sc->chans[c].kind == MG_TDM_KIND_HARDHDLC)
			return c;
	return 0;
}

/* ---- groups ------------------------------------------------------------ */

int mg_tdm_role_parse(const char *s, enum mg_tdm_role *out)
{
	if (!strcasecmp(s, "nt")) {
		*out = MG_TDM_ROLE_NT;
		return 0;
	}
	if (!strcasecmp(s, "te")) {
		*out = MG_TDM_ROLE_TE;
		return 0;
	}
	return -EINVAL;
}

unsigned mg_tdm_groups_build(const struct mg_tdm_sysconf *sc, const enum mg_tdm_role *roles,
			     struct mg_tdm_group *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned s = 1; s <= MG_TDM_MAX_SPANS && n < max; s++) {
		const struct mg_tdm_span_conf *sp = &sc->spans[s];
		struct mg_tdm_group *g = &out[n];

		if (!sp->defined)
			continue;
		memset(g, 0, sizeof(*g));
		for (unsigned c = sp->first_chan;
		     c < sp->first_chan + sp->n_chans && c <= MG_TDM_MAX_CHANNO; c++)
			if (sc->chans[c].kind == MG_TDM_KIND_BCHAN &&
			    g->n_chans < MG_TDM_GROUP_MAX_CHANS)
				g->chans[g->n_chans++] = c;
		if (!g->n_chans)
			continue;
		snprintf(g->name, sizeof(g->name), "span%u", s);
		g->span = s;
		g->dchan = mg_tdm_sysconf_dchan(sc, s);
		g->hunt = roles && roles[s] == MG_TDM_ROLE_NT ? MG_TDM_HUNT_DESCENDING :
							       MG_TDM_HUNT_ASCENDING;
		n++;
	}
	return n;
}

struct mg_tdm_group *mg_tdm_group_find(struct mg_tdm_group *groups, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(groups[i].name, name))
			return &groups[i];
	return NULL;
}

static int group_index(const struct mg_tdm_group *g, unsigned chan)
{
	for (unsigned i = 0; i < g->n_chans; i++)
		if (g->chans[i] == chan)
			return (int)i;
	return -1;
}

int mg_tdm_group_hunt(struct mg_tdm_group *g, unsigned *chan)
{
	for (unsigned k = 0; k < g->n_chans; k++) {
		unsigned i;

		switch (g->hunt) {
		case MG_TDM_HUNT_DESCENDING:
			i = g->n_chans - 1 - k;
			break;
		case MG_TDM_HUNT_ROUND_ROBIN:
			i = (g->next + k) % g->n_chans;
			break;
		default:
			i = k;
			break;
		}
		if (!(g->busy >> i & 1)) {
			g->busy |= 1u << i;
			g->next = (i + 1) % g->n_chans;
			*chan = g->chans[i];
			return 0;
		}
	}
	return -EBUSY;
}

int mg_tdm_group_claim(struct mg_tdm_group *g, unsigned chan)
{
	int i = group_index(g, chan);

	if (i < 0)
		return -ENOENT;
	if (g->busy >> i & 1)
		return -EBUSY;
	g->busy |= 1u << i;
	return 0;
}

int mg_tdm_group_release(struct mg_tdm_group *g, unsigned chan)
{
	int i = group_index(g, chan);

	if (i < 0)
		return -ENOENT;
	if (!(g->busy >> i & 1))
		return -EALREADY;
	g->busy &= ~(1u << i);
	return 0;
}
