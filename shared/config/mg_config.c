/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration loader: properties -> one entry per schema key (file value,
 * alias value or default) -> `${}` expansion -> validators fill the typed
 * view -> cross-key rules. Every problem is reported before giving up, so
 * an operator fixes a file in one pass.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mg_config_int.h"

static void cfg_report(struct mg_config *cfg, const struct mg_cfg_entry *e, const char *sev,
		       const char *fmt, va_list ap) __attribute__((format(printf, 4, 0), nonnull(4)));

static void cfg_report(struct mg_config *cfg, const struct mg_cfg_entry *e, const char *sev,
		       const char *fmt, va_list ap)
{
	FILE *d = cfg->diag;

	if (e == NULL)
		fprintf(d, "%s: ", cfg->props.n_files ? cfg->props.files[0] : "(defaults)");
	else if (e->file != NULL)
		fprintf(d, "%s:%u: %s=%s: ", e->file, e->line, e->via_alias ? e->via_alias : e->key,
			e->raw ? e->raw : "");
	else
		fprintf(d, "(default): %s=%s: ", e->key, e->raw ? e->raw : "");
	fprintf(d, "%s: ", sev);
	vfprintf(d, fmt, ap);
	fputc('\n', d);
}

void mg_cfg_error(struct mg_config *cfg, const struct mg_cfg_entry *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_report(cfg, e, "error", fmt, ap);
	va_end(ap);
	cfg->errors++;
}

void mg_cfg_warn(struct mg_config *cfg, const struct mg_cfg_entry *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_report(cfg, e, "warning", fmt, ap);
	va_end(ap);
	cfg->warnings++;
}

const struct mg_cfg_entry *mg_cfg_entry_find(const struct mg_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->e[i].key, key) == 0)
			return &cfg->e[i];
	return NULL;
}

/* "a.b.N.c" matches "a.b.<decimal>.c"; *idx gets the decimal. */
static int pattern_match(const char *pat, const char *key, unsigned long *idx)
{
	const char *n = strstr(pat, ".N.");
	size_t pre;
	char *end;

	if (n == NULL)
		return 0;
	pre = (size_t)(n - pat) + 1;
	if (strncmp(pat, key, pre) != 0)
		return 0;
	key += pre;
	if (*key < '0' || *key > '9' || (key[0] == '0' && key[1] >= '0' && key[1] <= '9'))
		return 0;
	errno = 0;
	*idx = strtoul(key, &end, 10);
	if (errno != 0 || strcmp(end, n + 2) != 0)
		return 0;
	return 1;
}

static int is_pattern(const struct mg_config_key *k)
{
	return strstr(k->name, ".N.") != NULL;
}

/* Same ".N." group (e.g. mediagate.dataplane.port.N.). */
static int same_group(const struct mg_config_key *a, const struct mg_config_key *b)
{
	const char *na = strstr(a->name, ".N."), *nb = strstr(b->name, ".N.");

	return na && nb && na - a->name == nb - b->name &&
	       strncmp(a->name, b->name, (size_t)(na - a->name)) == 0;
}

static struct mg_cfg_entry *cfg_add(struct mg_config *cfg, const struct mg_config_key *k,
				    const char *name)
{
	struct mg_cfg_entry *e;

	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 64;
		struct mg_cfg_entry *ne = realloc(cfg->e, cap * sizeof(*ne));
		if (ne == NULL)
			return NULL;
		cfg->e = ne;
		cfg->cap = cap;
	}
	e = &cfg->e[cfg->n];
	memset(e, 0, sizeof(*e));
	e->def = k;
	e->key = strdup(name);
	if (e->key == NULL)
		return NULL;
	cfg->n++;
	return e;
}

static const struct mg_config_key *schema_exact(const char *key)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);

	for (size_t i = 0; i < n; i++)
		if (!is_pattern(&t[i]) && strcmp(t[i].name, key) == 0)
			return &t[i];
	return NULL;
}

size_t mg_edit_distance(const char *a, const char *b, bool ignore_case)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[128];

	if (lb >= 128 || la >= 128)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			unsigned char x = (unsigned char)a[i - 1], y = (unsigned char)b[j - 1];
			size_t best = diag + (ignore_case ? tolower(x) != tolower(y) : x != y);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static void warn_unknown(struct mg_config *cfg, const struct mg_prop *p)
{
	size_t n, best = (size_t)-1;
	const struct mg_config_key *t = mg_config_schema(&n);
	const char *sugg = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = mg_edit_distance(p->key, t[i].name, false);
		if (d < best) {
			best = d;
			sugg = t[i].alias_of ? t[i].alias_of : t[i].name;
		}
	}
	fprintf(cfg->diag, "%s:%u: %s=%s: warning: unknown key, ignored", p->file, p->line, p->key,
		p->value);
	if (sugg != NULL && best <= 3)
		fprintf(cfg->diag, " (did you mean %s?)", sugg);
	fputc('\n', cfg->diag);
	cfg->warnings++;
}

/* Every property must be a schema key, an alias, or an in-range pattern instance. */
static void classify_props(struct mg_config *cfg)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);

	for (size_t i = 0; i < cfg->props.n; i++) {
		const struct mg_prop *p = &cfg->props.v[i];
		int known = schema_exact(p->key) != NULL;

		for (size_t j = 0; !known && j < n; j++) {
			unsigned long idx;
			if (!is_pattern(&t[j]) || !pattern_match(t[j].name, p->key, &idx))
				continue;
			known = 1;
			if (idx >= t[j].max_index) {
				fprintf(cfg->diag,
					"%s:%u: %s=%s: error: index %lu out of range "
					"(allowed: 0..%u)\n",
					p->file, p->line, p->key, p->value, idx, t[j].max_index - 1);
				cfg->errors++;
			}
		}
		if (!known)
			warn_unknown(cfg, p);
	}
}

static int build_entries(struct mg_config *cfg)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);

	for (size_t i = 0; i < n; i++) {
		const struct mg_config_key *k = &t[i];

		if (k->alias_of != NULL)
			continue;
		if (!is_pattern(k)) {
			const struct mg_prop *p = mg_props_find(&cfg->props, k->name);
			const struct mg_prop *ap = NULL;
			const char *alias = NULL;
			struct mg_cfg_entry *e;

			for (size_t j = 0; j < n; j++) {
				if (t[j].alias_of && strcmp(t[j].alias_of, k->name) == 0 &&
				    (ap = mg_props_find(&cfg->props, t[j].name)) != NULL) {
					alias = t[j].name;
					break;
				}
			}
			if ((e = cfg_add(cfg, k, k->name)) == NULL)
				return -ENOMEM;
			if (p != NULL && ap != NULL) {
				fprintf(cfg->diag,
					"%s:%u: %s=%s: warning: both %s (%s:%u) and its misspelt "
					"alias %s are set; %s wins and the alias is ignored\n",
					ap->file, ap->line, ap->key, ap->value, k->name, p->file,
					p->line, alias, k->name);
				cfg->warnings++;
			} else if (ap != NULL) {
				p = ap;
				e->via_alias = alias;
			}
			if (p != NULL) {
				e->raw = p->value;
				e->file = p->file;
				e->line = p->line;
			} else {
				e->raw = k->def;
			}
			continue;
		}
		/* pattern key: one entry per index given in its group, ascending */
		for (unsigned idx = 0; idx < k->max_index; idx++) {
			const struct mg_prop *own = NULL;
			int group = 0;

			for (size_t j = 0; j < cfg->props.n; j++) {
				const struct mg_prop *p = &cfg->props.v[j];
				unsigned long pi;
				for (size_t m = 0; m < n && !own; m++) {
					if (!is_pattern(&t[m]) || !same_group(&t[m], k) ||
					    !pattern_match(t[m].name, p->key, &pi) || pi != idx)
						continue;
					group = 1;
					if (&t[m] == k)
						own = p;
				}
			}
			if (!group || (own == NULL && k->def == NULL))
				continue;
			char name[256];
			const char *nn = strstr(k->name, ".N.");
			snprintf(name, sizeof(name), "%.*s.%u.%s", (int)(nn - k->name), k->name,
				 idx, nn + 3);
			struct mg_cfg_entry *e = cfg_add(cfg, k, name);
			if (e == NULL)
				return -ENOMEM;
			e->index = idx;
			if (own != NULL) {
				e->raw = own->value;
				e->file = own->file;
				e->line = own->line;
			} else {
				e->raw = k->def;
			}
		}
	}
	return 0;
}

/* `${key}` fallback: a known key that the file does not set expands to its default. */
static const char *default_of(void *ctx, const char *key)
{
	(void)ctx;
	const struct mg_config_key *k = schema_exact(key);

	return k != NULL ? k->def : NULL;
}

static void expand_all(struct mg_config *cfg)
{
	char err[512];

	for (size_t i = 0; i < cfg->n; i++) {
		struct mg_cfg_entry *e = &cfg->e[i];

		if (e->raw == NULL) {
			e->value = strdup("");
			continue;
		}
		if (mg_props_expand(&cfg->props, e->raw, default_of, NULL, &e->value, err,
				    sizeof(err)) < 0)
			mg_cfg_error(cfg, e, "%s", err);
	}
}

static void apply_one(struct mg_config *cfg, struct mg_cfg_entry *e)
{
	char why[8192];

	why[0] = '\0';
	if (e->def->apply(cfg, e, why, sizeof(why)) == 0)
		return;
	if (strstr(why, "(allowed:") != NULL || e->def->allowed == NULL)
		mg_cfg_error(cfg, e, "%s", why);
	else
		mg_cfg_error(cfg, e, "%s (allowed: %s)", why, e->def->allowed);
}

static void apply_all(struct mg_config *cfg)
{
	for (size_t i = 0; i < cfg->n; i++) {
		struct mg_cfg_entry *e = &cfg->e[i];
		unsigned errs = cfg->errors;

		if (e->value == NULL || e->raw == NULL || e->def->apply == NULL)
			continue;
		apply_one(cfg, e);
		if (cfg->errors != errs && e->file != NULL && e->def->def != NULL) {
			/*
			 * Keep the typed view consistent with the default so the
			 * cross-key rules do not pile follow-on errors onto this one.
			 */
			struct mg_cfg_entry d = *e;
			char *v = NULL;
			char err[256];
			if (mg_props_expand(&cfg->props, e->def->def, default_of, NULL, &v, err,
					    sizeof(err)) == 0) {
				d.value = v;
				d.raw = e->def->def;
				d.file = NULL;
				char why[1024];
				(void)e->def->apply(cfg, &d, why, sizeof(why));
			}
			free(v);
		}
	}
}

static struct mg_config *cfg_load(const char *path, const char *text, const char *name,
				  enum mg_config_role role, FILE *diag)
{
	struct mg_config *cfg = calloc(1, sizeof(*cfg));
	int rc = 0;

	if (cfg == NULL)
		return NULL;
	mg_props_init(&cfg->props);
	cfg->role = role;
	cfg->diag = diag ? diag : stderr;
	if (path != NULL)
		rc = mg_props_parse_file(&cfg->props, path, cfg->diag);
	else if (text != NULL)
		rc = mg_props_parse_buf(&cfg->props, text, strlen(text), name, cfg->diag);
	if (rc == -ENOMEM)
		goto nomem;
	cfg->errors += cfg->props.errors;
	cfg->warnings += cfg->props.warnings;
	classify_props(cfg);
	if (build_entries(cfg) < 0)
		goto nomem;
	expand_all(cfg);
	apply_all(cfg);
	mg_cfg_check_rules(cfg);
	if (cfg->errors > 0) {
		fprintf(cfg->diag, "%s: %u error%s, %u warning%s: configuration refused\n",
			path ? path : name ? name : "(defaults)", cfg->errors,
			cfg->errors == 1 ? "" : "s", cfg->warnings, cfg->warnings == 1 ? "" : "s");
		mg_config_free(cfg);
		errno = EINVAL;
		return NULL;
	}
	return cfg;
nomem:
	mg_config_free(cfg);
	errno = ENOMEM;
	return NULL;
}

struct mg_config *mg_config_load(const char *path, enum mg_config_role role, FILE *diag)
{
	return cfg_load(path, NULL, NULL, role, diag);
}

struct mg_config *mg_config_load_string(const char *text, const char *name,
					enum mg_config_role role, FILE *diag)
{
	return cfg_load(NULL, text ? text : "", name ? name : "(string)", role, diag);
}

void mg_config_free(struct mg_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->e[i].key);
		free(cfg->e[i].value);
	}
	free(cfg->e);
	mg_props_free(&cfg->props);
	free(cfg);
}

const struct mg_settings *mg_config_settings(const struct mg_config *cfg)
{
	return &cfg->s;
}

unsigned mg_config_warnings(const struct mg_config *cfg)
{
	return cfg->warnings;
}

const char *mg_config_get(const struct mg_config *cfg, const char *key)
{
	const struct mg_cfg_entry *e = mg_cfg_entry_find(cfg, key);
	size_t n;
	const struct mg_config_key *t;

	if (e != NULL)
		return e->value ? e->value : "";
	/* an alias reads the value of the key it stands for */
	t = mg_config_schema(&n);
	for (size_t i = 0; i < n; i++)
		if (t[i].alias_of && strcmp(t[i].name, key) == 0)
			return mg_config_get(cfg, t[i].alias_of);
	return NULL;
}

const char *mg_config_origin(const struct mg_config *cfg, const char *key, unsigned *line)
{
	const struct mg_cfg_entry *e = mg_cfg_entry_find(cfg, key);

	if (e == NULL)
		return NULL;
	if (line != NULL)
		*line = e->line;
	return e->file ? e->file : "default";
}

void mg_config_print(const struct mg_config *cfg, FILE *out)
{
	const struct mg_settings *s = &cfg->s;

	fprintf(out, "# mediagate effective configuration: key=value, then where it came from\n");
	for (size_t i = 0; i < cfg->n; i++) {
		const struct mg_cfg_entry *e = &cfg->e[i];

		fprintf(out, "%s=%s\t# ", e->key, e->value ? e->value : "");
		if (e->file != NULL)
			fprintf(out, "%s:%u", e->file, e->line);
		else if (e->raw != NULL)
			fprintf(out, "default");
		else
			fprintf(out, "default (unset)");
		if (e->via_alias != NULL)
			fprintf(out, " (as %s)", e->via_alias);
		fputc('\n', out);
	}
	fprintf(out, "# derived: OpenSSL TLS 1.0-1.2 cipher list: %s\n", s->tls12_ciphers);
	fprintf(out, "# derived: OpenSSL TLS 1.3 cipher suites: %s\n", s->tls13_ciphersuites);
	fprintf(out, "# %u warning%s\n", cfg->warnings, cfg->warnings == 1 ? "" : "s");
}

static const char *used_by_text(unsigned u)
{
	switch (u) {
	case MG_CFG_USE_CONTROL:
		return "mediagate-control";
	case MG_CFG_USE_DATAPLANE:
		return "mediagate-dataplane";
	default:
		return "both";
	}
}

/*
 * Markdown shared by docs/configuration.md and, converted by man_md(), by
 * gw.properties(5): "- " items, continuation lines indented by two blanks,
 * `code`. Nothing else.
 */
static const char syntax_md[] =
	"- `#` or `!` as the first non-blank character starts a comment line.\n"
	"- `key=value`, `key: value` and `key value` are the same; blanks around the\n"
	"  separator are ignored, and so are blanks at the end of a value (write `\\ ` to\n"
	"  keep one).\n"
	"- A line ending in `\\` continues on the next line (its leading blanks are "
	"skipped).\n"
	"- Escapes: `\\t`, `\\n`, `\\r`, `\\f`, `\\uXXXX`, and `\\` before any other "
	"character\n"
	"  gives that character (`\\\\`, `\\=`, `\\:`, `\\#`, `\\ `).\n"
	"- `${key}` is replaced by the value of another key (from the file, else its\n"
	"  default); `${netborder.Installation.Directory}` defaults to the installation\n"
	"  prefix. Undefined keys and cycles (`a=${b}`, `b=${a}`) are errors.\n"
	"- A key given twice: the last one wins, with a warning naming both lines.\n"
	"- Keys with `N` (for example `mediagate.dataplane.port.N.device`) are given once\n"
	"  per index: `mediagate.dataplane.port.0.device`, `...port.1.device`, and so on.\n";

static const char rules_md[] =
	"- A TCP and a TLS user agent on the same port (and overlapping address) are\n"
	"  refused; the message names both entries. Two identical entries are refused.\n"
	"- A TLS user agent beside UDP or TCP user agents starts, with a warning (not\n"
	"  recommended by the guide).\n"
	"- A TLS user agent needs `netborder.sip.tls.serverCertificateFile`,\n"
	"  `netborder.sip.tls.serverCertificatePrivateKeyFile` and\n"
	"  `netborder.sip.tls.trustedRootCertificatesStore` (an error for\n"
	"  mediagate-control, a warning for the other programs).\n"
	"- A file named in the configuration that the program will open (certificates,\n"
	"  key, key password, routing rules for mediagate-control; DAHDI system.conf for\n"
	"  mediagate-dataplane) but cannot read gives a warning naming file:line.\n"
	"- `netborder.mdedia.srtp.cryptoSuite` (the guide's spelling) is the same key as\n"
	"  `netborder.media.srtp.cryptoSuite`; if both are set, the correct spelling wins\n"
	"  with a warning.\n"
	"- `netborder.sip.tls.supportSSLv2ClientHello=true` starts with a warning: current\n"
	"  TLS libraries cannot accept SSLv2-format ClientHello, the setting has no "
	"effect.\n"
	"- `mediagate.sip.tls.minProtocol` below TLSv1.2 starts with a warning (an "
	"explicit\n"
	"  opt-in for legacy peers such as OCS 2007 R2, which speaks TLS 1.0); the OpenSSL\n"
	"  cipher list then carries `@SECLEVEL=0`, which OpenSSL 3 needs for TLS 1.0/1.1.\n"
	"  A minimum above the maximum is an error.\n"
	"- Cipher suites: the guide's names (`TLS_RSA_WITH_AES_128_CBC_SHA`) and OpenSSL\n"
	"  names (`AES128-SHA`) are accepted. A suite this OpenSSL build does not offer\n"
	"  (e.g. `TLS_RSA_WITH_3DES_EDE_CBC_SHA`: Debian 12's OpenSSL 3 has no 3DES) is\n"
	"  dropped with a warning; an unknown name is an error listing the allowed names.\n"
	"  A list with only TLS 1.0-1.2 names (as in the guide) restricts those versions\n"
	"  and leaves TLS 1.3 to `mediagate.sip.tls.tls13CipherSuites`. TLS 1.3 suites\n"
	"  named in `netborder.sip.tls.cypherSuites` are used for TLS 1.3 unless\n"
	"  `mediagate.sip.tls.tls13CipherSuites` is also set (it wins, with a warning).\n"
	"  A list without any TLS 1.0-1.2 suite needs `minProtocol=TLSv1.3`. The default\n"
	"  prefers ECDHE with AES-GCM or ChaCha20-Poly1305 and keeps the guide's\n"
	"  `TLS_RSA_WITH_AES_128_CBC_SHA` last, for TLS 1.2 peers that have nothing else.\n"
	"- `mediagate.media.portRange` starts even and ends odd (RTP on even ports, RTCP\n"
	"  on the next odd one), within 1024-65535.\n"
	"- Dataplane ports are numbered from 0 without gaps; a port needs a `device`.\n"
	"  TDM spans may have gaps: `mediagate.tdm.span.N` is DAHDI span N+1.\n";

void mg_config_write_reference(FILE *out)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);

	fprintf(out,
		"<!-- SPDX-License-Identifier: BSD-3-Clause -->\n"
		"<!-- Generated by mg-config-doc from shared/config/mg_config_schema.c. Do not "
		"edit: change the schema and run\n"
		"     build/shared/config/mg-config-doc --reference > docs/configuration.md -->\n"
		"# Configuration reference: `gw.properties`\n"
		"\n"
		"Both daemons read one Java-properties file, normally "
		"`/etc/mediagate/gw.properties`,\n"
		"given with `--config FILE`. A `gw.properties` written for the vendor gateway of "
		"the\n"
		"OCS TLS configuration guide is accepted unchanged: its `netborder.*` keys keep "
		"their\n"
		"meaning, and the gateway's own settings live under `mediagate.*`.\n"
		"\n"
		"Check a file before (re)starting:\n"
		"\n"
		"```sh\n"
		"mediagate-control --config /etc/mediagate/gw.properties --check\n"
		"```\n"
		"\n"
		"prints every key with its effective value and where it came from (`default` or\n"
		"`file:line`) and exits 0, or prints every problem and exits 2. Each problem reads\n"
		"`file:line: key=value: error: what is wrong (allowed: what is allowed)`. The\n"
		"daemons refuse to start on any error; warnings (unknown keys, settings with no\n"
		"effect, risky combinations) are printed and the daemon starts.\n"
		"`mediagate-control --check` also checks what its start would refuse beyond the\n"
		"file: the TLS credentials of /tls user agents (files, key password, key against\n"
		"certificate, dates, trust store) and the routing rules file (`file:line`); it\n"
		"then exits 2 after the configuration was printed. A rules file that does not\n"
		"exist is a note, not an error (the start runs and answers INVITE with 503).\n"
		"\n"
		"## Syntax\n"
		"\n");
	fputs(syntax_md, out);
	fputs("\n## Rules across keys\n\n", out);
	fputs(rules_md, out);
	fprintf(out,
		"\n"
		"## Keys\n"
		"\n"
		"| key | type | default | used by |\n"
		"|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct mg_config_key *k = &t[i];
		char anchor[128];
		size_t a = 0;

		/* GitHub's heading anchors: lower case, punctuation dropped */
		for (const char *c = k->name; *c && a + 1 < sizeof(anchor); c++)
			if (isalnum((unsigned char)*c) || *c == '-' || *c == '_')
				anchor[a++] = (char)tolower((unsigned char)*c);
		anchor[a] = '\0';
		fprintf(out, "| [`%s`](#%s) | %s | ", k->name, anchor, k->type);
		if (k->alias_of != NULL)
			fprintf(out, "alias of `%s`", k->alias_of);
		else if (k->doc_default != NULL)
			fprintf(out, "%s", k->doc_default);
		else if (k->def == NULL)
			fprintf(out, "none");
		else if (k->def[0] == '\0')
			fprintf(out, "(empty)");
		else
			fprintf(out, "`%s`", k->def);
		fprintf(out, " | %s |\n", used_by_text(k->used_by));
	}
	fprintf(out, "\n");
	for (size_t i = 0; i < n; i++) {
		const struct mg_config_key *k = &t[i];
		const char *d = k->def;

		fprintf(out, "### `%s`\n\n%s\n\n", k->name, k->help);
		if (k->alias_of != NULL) {
			fprintf(out, "- alias of: `%s`\n\n", k->alias_of);
			continue;
		}
		fprintf(out, "- type: %s\n", k->type);
		if (k->doc_default != NULL)
			fprintf(out, "- default: %s\n", k->doc_default);
		else if (d == NULL)
			fprintf(out, "- default: none\n");
		else if (*d == '\0')
			fprintf(out, "- default: (empty)\n");
		else
			fprintf(out, "- default: `%s`\n", d);
		if (k->allowed != NULL)
			fprintf(out, "- allowed: %s\n", k->allowed);
		if (k->max_index != 0)
			fprintf(out, "- N: 0..%u\n", k->max_index - 1);
		if (k->example != NULL)
			fprintf(out, "- example: `%s=%s`\n", k->name, k->example);
		fprintf(out, "- used by: %s\n\n", used_by_text(k->used_by));
	}
	fprintf(out,
		"## Design notes\n"
		"\n"
		"- Code: `shared/config/` holds the parser (`mg_props.c`), the schema table with\n"
		"  its validators and the rules across keys (`mg_config_schema.c`), the loader,\n"
		"  `--check` output and the writers of this page, of `configs/gw.properties` and\n"
		"  of the manual page gw.properties(5) (`docs/man/gw.properties.5`) (`mg_config.c`),\n"
		"  and the cipher-name mapping (`mg_tls_ciphers.c`). The unit suite fails when\n"
		"  this page, `configs/gw.properties` or the manual page is stale.\n"
		"- Adding a key is one row of the table plus its field in `struct mg_settings`;\n"
		"  parsing, validation, `--check`, this page and the example file follow.\n"
		"- Loading: parse, then one entry per key (file value, alias or default), then\n"
		"  `${}` expansion, then the validators fill `struct mg_settings`, then the rules\n"
		"  across keys. A value that fails validation is replaced by its default in the\n"
		"  typed view so the rules across keys do not pile follow-on errors on it; every\n"
		"  error is reported before the load is refused.\n"
		"- Consumers never re-parse strings: TLS code passes `tls12_ciphers` to\n"
		"  `SSL_CTX_set_cipher_list`, `tls13_ciphersuites` to `SSL_CTX_set_ciphersuites`\n"
		"  and `tls_min_version`/`tls_max_version` (OpenSSL `TLS1_x_VERSION` numbers) to\n"
		"  `SSL_CTX_set_min/max_proto_version`.\n"
		"- Differences from `java.util.Properties`: unescaped trailing blanks of a value\n"
		"  are dropped; `\\u0000`, lone UTF-16 surrogates, NUL bytes and lines without a\n"
		"  key are errors; `\\uXXXX` is stored as UTF-8.\n"
		"- Not done: include files, environment variables in `${}`, and checking that\n"
		"  files named by paths exist (the programs that open them report that). Unknown\n"
		"  keys are warned about but may still be used as `${}` variables.\n");
}

void mg_config_write_example(FILE *out)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);

	fprintf(out,
		"# SPDX-License-Identifier: BSD-3-Clause\n"
		"# mediagate gw.properties: every key with its default. Generated by\n"
		"#   build/shared/config/mg-config-doc --example > configs/gw.properties\n"
		"# Reference: docs/configuration.md. Check a file with\n"
		"#   mediagate-control --config FILE --check\n");
	for (size_t i = 0; i < n; i++) {
		const struct mg_config_key *k = &t[i];
		char name[256];
		const char *nn = strstr(k->name, ".N.");

		if (nn != NULL)
			snprintf(name, sizeof(name), "%.*s.0.%s", (int)(nn - k->name), k->name,
				 nn + 3);
		else
			snprintf(name, sizeof(name), "%s", k->name);
		fprintf(out, "\n# %s\n", k->help);
		if (k->alias_of != NULL) {
			fprintf(out, "# (alias of %s; set only one of them)\n#%s=\n", k->alias_of,
				name);
			continue;
		}
		if (k->allowed != NULL)
			fprintf(out, "# allowed: %s\n", k->allowed);
		if (nn != NULL)
			fprintf(out, "# N: 0..%u\n", k->max_index - 1);
		if (k->doc_default != NULL)
			fprintf(out, "# default: %s\n#%s=%s\n", k->doc_default, name,
				k->example ? k->example : "");
		else if (k->def != NULL && nn == NULL && k->must_exist && k->def[0] != '\0')
			/* a file this machine may not have yet: --check would warn */
			fprintf(out, "# default: %s\n#%s=%s\n", k->def, name, k->def);
		else if (k->def != NULL && nn == NULL && k->example != NULL)
			fprintf(out, "# example: %s=%s\n%s=%s\n", name, k->example, name, k->def);
		else if (k->def != NULL && nn == NULL)
			fprintf(out, "%s=%s\n", name, k->def);
		else if (k->def != NULL)
			fprintf(out, "# default: %s\n#%s=%s\n", k->def, name,
				k->example ? k->example : k->def);
		else
			fprintf(out, "# default: none\n#%s=%s\n", name, k->example ? k->example : "");
	}
}

/*
 * roff text: a backslash is \e, '-' is \- (a minus: what the reader types),
 * `code` is bold; *bold carries an open span over line ends. A line that
 * would start with '.' or '\'' (a request to roff) starts with \& instead.
 * Long values (cipher lists, paths) may break after ',', '/' and '=' (\:).
 */
static void man_text(FILE *out, const char *s, bool *bold)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			fputs("\\e", out);
			break;
		case '-':
			fputs("\\-", out);
			break;
		case '`':
			fputs(*bold ? "\\fR" : "\\fB", out);
			*bold = !*bold;
			break;
		case ',':
		case '/':
		case '=':
			fputc(*s, out);
			fputs("\\:", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

static void man_line(FILE *out, const char *s)
{
	bool bold = false;

	man_text(out, s, &bold);
	fputc('\n', out);
}

/* The Markdown subset of syntax_md/rules_md: "- " items and their
 * continuation lines. */
static void man_md(FILE *out, const char *md)
{
	bool bold = false;

	while (*md != '\0') {
		const char *nl = strchr(md, '\n');
		size_t n = nl ? (size_t)(nl - md) : strlen(md);
		char line[256];

		snprintf(line, sizeof(line), "%.*s", (int)n, md);
		md += n + (nl != NULL);
		if (strncmp(line, "- ", 2) == 0) {
			fputs(".IP \\(bu 2\n", out);
			man_text(out, line + 2, &bold);
		} else {
			man_text(out, line + strspn(line, " "), &bold);
		}
		fputc('\n', out);
	}
	if (bold)
		fputs("\\fR\n", out);
}

void mg_config_write_man(FILE *out)
{
	size_t n;
	const struct mg_config_key *t = mg_config_schema(&n);
	bool bold = false;

	fputs(".\\\" SPDX-License-Identifier: BSD-3-Clause\n"
	      ".\\\" Generated by mg-config-doc from shared/config/mg_config_schema.c. Do not edit:\n"
	      ".\\\" change the schema and run\n"
	      ".\\\"   build/shared/config/mg-config-doc --man > docs/man/gw.properties.5\n"
	      ".TH GW.PROPERTIES 5 \"\" \"mediagate\" \"File Formats Manual\"\n"
	      ".\\\" key names and values are read, not hyphenated; ragged right\n"
	      ".nh\n"
	      ".ad l\n"
	      ".SH NAME\n"
	      "gw.properties \\- configuration file of the mediagate media gateway\n"
	      ".SH SYNOPSIS\n"
	      ".I /etc/mediagate/gw.properties\n"
	      ".SH DESCRIPTION\n"
	      "Both daemons,\n"
	      ".BR mediagate\\-control (8)\n"
	      "and\n"
	      ".BR mediagate\\-dataplane (8),\n"
	      "read one Java\\-properties file given with\n"
	      ".BI \\-\\-config \" FILE\".\n"
	      "A\n"
	      ".I gw.properties\n"
	      "written for the vendor gateway of the OCS TLS configuration guide is\n"
	      "accepted unchanged: its\n"
	      ".B netborder.*\\&\n"
	      "keys keep their meaning, and the gateway's own settings live under\n"
	      ".BR mediagate.* .\n"
	      ".PP\n"
	      "Check a file before (re)starting:\n"
	      ".PP\n"
	      ".RS 4\n"
	      ".nf\n"
	      "mediagate\\-control \\-\\-config /etc/mediagate/gw.properties \\-\\-check\n"
	      ".fi\n"
	      ".RE\n"
	      ".PP\n"
	      "prints every key with its effective value and where it came from\n"
	      "(\\fBdefault\\fR or \\fIfile\\fB:\\fIline\\fR) and exits 0, or prints every\n"
	      "problem and exits 2. Each problem reads\n"
	      "\\fIfile\\fB:\\fIline\\fB: \\fIkey\\fB=\\fIvalue\\fB: error:\\fR what is wrong\n"
	      "(allowed: what is allowed). The daemons refuse to start on any error;\n"
	      "warnings (unknown keys, settings with no effect, risky combinations) are\n"
	      "printed and the daemon starts.\n"
	      ".B mediagate\\-control \\-\\-check\n"
	      "also checks the TLS credentials of /tls user agents and the routing rules\n"
	      "file, as its start would.\n"
	      ".SH SYNTAX\n",
	      out);
	man_md(out, syntax_md);
	fputs(".SH RULES ACROSS KEYS\n", out);
	man_md(out, rules_md);
	fputs(".SH KEYS\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct mg_config_key *k = &t[i];

		fputs(".TP\n.B ", out);
		man_text(out, k->name, &bold);
		fputc('\n', out);
		man_line(out, k->help);
		if (k->alias_of != NULL) {
			fputs(".br\nAlias of\n.BR ", out);
			man_text(out, k->alias_of, &bold);
			fputs(" .\n", out);
			continue;
		}
		fputs(".br\nType: ", out);
		man_text(out, k->type, &bold);
		fputs(".\n.br\nDefault: ", out);
		if (k->doc_default != NULL)
			man_text(out, k->doc_default, &bold);
		else if (k->def == NULL)
			fputs("none", out);
		else if (k->def[0] == '\0')
			fputs("(empty)", out);
		else {
			fputs("\\fB", out);
			man_text(out, k->def, &bold);
			fputs("\\fR", out);
		}
		fputc('\n', out);
		if (k->allowed != NULL) {
			fputs(".br\nAllowed: ", out);
			man_text(out, k->allowed, &bold);
			fputc('\n', out);
		}
		if (k->max_index != 0)
			fprintf(out, ".br\nN: 0..%u\n", k->max_index - 1);
		if (k->example != NULL) {
			fputs(".br\nExample: \\fB", out);
			man_text(out, k->name, &bold);
			fputs("=\\:", out);
			man_text(out, k->example, &bold);
			fputs("\\fR\n", out);
		}
		fputs(".br\nUsed by: ", out);
		man_text(out, used_by_text(k->used_by), &bold);
		fputs(".\n", out);
	}
	fputs(".SH FILES\n"
	      ".TP\n"
	      ".I /etc/mediagate/gw.properties\n"
	      "The configuration of an installation from the Debian package (a build for\n"
	      "prefix\n"
	      ".IR /usr );\n"
	      "from source, \\fIPREFIX\\fB/etc/mediagate/gw.properties\\fR\n"
	      "(\\fIPREFIX\\fR is\n"
	      ".I /usr/local\n"
	      "unless\n"
	      ".B meson setup \\-Dprefix=...\\&\n"
	      "says otherwise). The systemd units read this file.\n"
	      ".TP\n"
	      ".I /etc/mediagate/gw.properties.example\n"
	      "Every key with its help, allowed values and default: copy it to\n"
	      ".I gw.properties\n"
	      "and edit.\n"
	      ".TP\n"
	      ".I /etc/mediagate/routing\\-rules.xml\n"
	      "The example routing rules, the default of\n"
	      ".BR mediagate.routing.rulesFile .\n"
	      ".SH SEE ALSO\n"
	      ".BR mediagate\\-control (8),\n"
	      ".BR mediagate\\-dataplane (8),\n"
	      ".BR mediagate\\-dpctl (8),\n"
	      ".BR mediagate\\-cert (1)\n"
	      ".PP\n"
	      "docs/configuration.md in the source tree: the same reference, with design\n"
	      "notes.\n",
	      out);
}
