/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to shared/config: the schema table and the loader's state, shared
 * by mg_config.c (loader), mg_config_schema.c (table and validators) and the
 * unit tests.
 */
#ifndef MG_CONFIG_INT_H
#define MG_CONFIG_INT_H

#include "mg_config.h"
#include "mg_props.h"

struct mg_cfg_entry;

/*
 * Validator: parse e->value into cfg->s. Returns 0, or -EINVAL with a
 * one-line reason in why; the loader adds "file:line: key=value: error: "
 * before it and " (allowed: <key's allowed text>)" after it unless the
 * reason already says what is allowed.
 */
typedef int (*mg_cfg_apply_fn)(struct mg_config *cfg, const struct mg_cfg_entry *e, char *why,
			       size_t whylen);

/** Roles that read a key (documentation only: every role validates every key). */
#define MG_CFG_USE_CONTROL 1u
#define MG_CFG_USE_DATAPLANE 2u
#define MG_CFG_USE_BOTH 3u

/** One row of the schema table. */
struct mg_config_key {
	const char *name;     /* ".N." marks an index (pattern key) */
	const char *type;     /* for docs: "bool", "path", "list", ... */
	const char *def;      /* default text (expanded like a value), NULL = none */
	const char *allowed;  /* what is allowed, for messages and docs */
	mg_cfg_apply_fn apply;
	const char *help;     /* one line */
	unsigned max_index;   /* pattern keys: N < max_index */
	const char *alias_of; /* misspelt alias of another key */
	unsigned used_by;     /* MG_CFG_USE_* */
	const char *doc_default; /* default as docs say it, when def is build-specific */
	const char *example;  /* example value for keys without a default */
	size_t off;           /* generic validators: field of struct mg_settings */
	size_t size;          /* its size (strings) */
	unsigned long min, max; /* numeric range (v_uint) */
	bool must_exist;      /* path the daemons open: --check warns if missing */
};

/** One effective key: every schema key, every instance of a pattern key. */
struct mg_cfg_entry {
	const struct mg_config_key *def;
	char *key;        /* full name (instance name for pattern keys) */
	char *value;      /* expanded value, NULL if expansion failed */
	const char *raw;  /* as written (or the default), before expansion */
	const char *file; /* NULL: default */
	unsigned line;
	const char *via_alias; /* alias name the value was given under, or NULL */
	unsigned index;   /* N of a pattern key */
};

struct mg_config {
	struct mg_props props;
	struct mg_settings s;
	struct mg_cfg_entry *e;
	size_t n;
	size_t cap;
	enum mg_config_role role;
	FILE *diag;
	unsigned errors;
	unsigned warnings;
	bool tls13_from_cypher_suites; /* cypherSuites named TLS 1.3 suites */
};

/** The schema table, in the order keys are applied and printed. */
const struct mg_config_key *mg_config_schema(size_t *n);

/** Report against an entry: "origin: key=value: error|warning: msg". */
void mg_cfg_error(struct mg_config *cfg, const struct mg_cfg_entry *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mg_cfg_warn(struct mg_config *cfg, const struct mg_cfg_entry *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Entry of a key by full name, NULL if absent. */
const struct mg_cfg_entry *mg_cfg_entry_find(const struct mg_config *cfg, const char *key);

/** Cross-key rules, run once after every key was applied. */
void mg_cfg_check_rules(struct mg_config *cfg);

/** Parse "ADDR:PORT/transport" (ADDR: IPv4, [IPv6] or INADDR_ANY). */
int mg_cfg_parse_ua(const char *s, size_t n, struct mg_sip_ua *ua, char *why, size_t whylen);

/** Parse an address with optional "/prefix" (max prefix if absent). */
int mg_cfg_parse_cidr(const char *s, struct mg_cidr *out, int allow_prefix);

#endif
