/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules (SPEC §2): an XML file of <rule> elements, each a set of
 * regular-expression conditions over the incoming call's parameters and one
 * out leg whose parameters are templates expanded with the conditions'
 * captures. The table is immutable once loaded and reference counted, so a
 * reload builds a new table and swaps it while calls keep the one they were
 * routed with (their route_result holds a reference).
 *
 * Control-path code for the single su_root event loop: references are atomic
 * so a table may be released from another thread, nothing else is shared.
 */
#ifndef MG_ROUTE_H
#define MG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A call that matches no rule is refused with these (SPEC §2). */
#define ROUTE_NO_ROUTE_SIP_STATUS 404
#define ROUTE_NO_ROUTE_Q850_CAUSE 1

/* Bounds that keep a hostile or broken file from costing unbounded memory. */
#define ROUTE_MAX_RULES 10000
#define ROUTE_MAX_CONDS 64
#define ROUTE_MAX_OUT_PARAMS 64
/* An expanded out-leg value: room for a caller's URI of CALLS_SIP_VALUE_MAX
 * (control/calls) with every character %HH-escaped, and the template. */
#define ROUTE_MAX_VALUE 8192

/* PCRE2 limits for every condition match. Call parameters come from the
 * caller and matching runs on the single control event loop, so a
 * pathological expression (nested quantifiers) must fail fast instead of
 * backtracking for seconds: 100000 steps is about 1 ms here, far above what
 * a sane expression needs on a value of a few hundred bytes (PCRE2's own
 * default, 10 million, is about 90 ms). The depth limit still lets a
 * repeated group walk a 5000-character value; the heap limit is in KiB. */
#define ROUTE_PCRE2_MATCH_LIMIT 100000u
#define ROUTE_PCRE2_DEPTH_LIMIT 10000u
#define ROUTE_PCRE2_HEAP_LIMIT_KIB 8192u
/* At most one "match error" log line per table per this many seconds; the
 * errors in between are counted and reported with the next line. */
#define ROUTE_MATCH_ERROR_LOG_INTERVAL_S 10

enum route_iface { ROUTE_IFACE_SIP, ROUTE_IFACE_PSTN };

/* One call parameter ("pstn.in.dnis" = "5551234"). */
struct route_kv {
	const char *name;
	const char *value;
};

/* route_env.ua_transports: which transports have a listening user agent.
 * Without ROUTE_UA_KNOWN nothing is checked (the caller did not say). */
#define ROUTE_UA_UDP 1u
#define ROUTE_UA_TCP 2u
#define ROUTE_UA_TLS 4u
#define ROUTE_UA_KNOWN 0x100u

/* The gateway's own SIP address, for GW_HOST_IP and GW_SIP_PORT. The port
 * is taken for the out leg's sip.out.transport (udp when absent). */
struct route_env {
	const char *host_ip;    /* numeric; IPv6 gets [] around it in URIs */
	uint16_t sip_port_udp;
	uint16_t sip_port_tcp;
	uint16_t sip_port_tls;
	unsigned ua_transports; /* ROUTE_UA_* bits, 0 = unknown */
};

struct route_table;
struct route_rule;

/* What route_match() picked: the rule and its expanded out-leg parameters.
 * Holds a reference on the table; release with route_result_clear(). */
struct route_result {
	struct route_table *table;
	const struct route_rule *rule;
	const char *rule_name;
	enum route_iface outbound_interface;
	double qvalue;
	int line;                      /* of the <rule> element */
	const char *out_leg_name;
	const char *media_type;        /* sendrecv, sendonly, recvonly, inactive */
	unsigned n_params;
	struct {
		const char *name;      /* points into the table */
		char *value;           /* expanded, owned by the result */
	} params[ROUTE_MAX_OUT_PARAMS];
};

/*
 * Load and validate @p path. On failure returns NULL, errno set (EINVAL for
 * a bad file, ENOMEM, or the open error), and @p err holds
 * "file:line: what is wrong (allowed: ...)". Warnings (unknown attributes,
 * whitespace removed from a URI) are logged. The table starts with one
 * reference.
 */
struct route_table *route_table_load(const char *path, char *err, size_t errlen);

/*
 * Like route_table_load() but from the @p len bytes of @p buf (no NUL
 * needed), named @p name in messages and in route_table_path() (tests,
 * the fuzz target).
 */
struct route_table *route_table_load_buffer(const char *name, const char *buf, size_t len,
					    char *err, size_t errlen);

/*
 * Check the table against the user agents of @p env (needs ROUTE_UA_KNOWN):
 * logs a warning naming file:line, the rule and the transport for every SIP
 * out rule whose literal sip.out.transport (udp when absent) has no user
 * agent: such calls cannot be placed and GW_SIP_PORT would name a port
 * nobody listens on. Returns the number of warnings.
 */
unsigned route_table_check_env(const struct route_table *t, const struct route_env *env);

/* Warnings logged while loading @p t (unknown condition params, undefined
 * %N, ...): a non-zero count means the file deserves a look. */
unsigned route_table_warnings(const struct route_table *t);

/* Condition matches that ended in a PCRE2 error (match, depth or heap limit
 * hit, ...) since load. Each one made its rule not match. */
uint64_t route_table_match_errors(const struct route_table *t);

/*
 * Call parameters the call engine sets (control/calls for SIP in,
 * control/pri for PSTN in); any other name always reads as "" and only a
 * --route dry run can pass it. Returns the NULL-terminated list.
 */
const char *const *route_known_params(void);
/* The same list as one ", "-separated string, for messages. */
const char *route_known_params_text(void);
/* The known parameter @p name is probably a typo of, or NULL. */
const char *route_param_suggest(const char *name);
/* true if @p name is one of route_known_params(). */
bool route_param_known(const char *name);
/* true if some condition of @p t reads @p name. */
bool route_table_uses_param(const struct route_table *t, const char *name);

/* Take / drop a reference; the last drop frees (NULL is fine). */
struct route_table *route_table_ref(struct route_table *t);
void route_table_unref(struct route_table *t);
#define route_table_free route_table_unref

unsigned route_table_count(const struct route_table *t);
const char *route_table_path(const struct route_table *t);

/*
 * Route a call. Parameters absent from @p params match as the empty string,
 * except "transfer" which defaults to "false". Returns 0 and fills @p out
 * (clear it after use), -ENOENT when no rule matches (refuse the call with
 * ROUTE_NO_ROUTE_SIP_STATUS / ROUTE_NO_ROUTE_Q850_CAUSE), -E2BIG when an
 * expanded value exceeds ROUTE_MAX_VALUE, -ENOMEM.
 */
int route_match(struct route_table *t, const struct route_kv *params, size_t n_params,
		const struct route_env *env, struct route_result *out);

/* Value of an expanded out-leg parameter, NULL if the rule does not set it. */
const char *route_result_get(const struct route_result *r, const char *name);

/* Free the expanded values and drop the table reference. */
void route_result_clear(struct route_result *r);

/* Print a result the way `mediagate-control --route` shows it. */
void route_result_print(const struct route_result *r, FILE *out);

/*
 * Parse "name=value,name=value" (a backslash escapes ',' '=' or '\') into
 * @p kv, pointing into @p buf which is modified in place. Returns the count
 * or -EINVAL (err names the bad item) / -E2BIG (more than @p max).
 */
int route_params_parse(char *buf, struct route_kv *kv, size_t max, char *err, size_t errlen);

/*
 * The current table of a running process. route_set_reload() builds the new
 * table first and only then swaps it in: a bad file leaves the old table in
 * force. route_set_get() returns a new reference (NULL if none loaded).
 */
struct route_set {
	struct route_table *current;
};
int route_set_reload(struct route_set *s, const char *path, char *err, size_t errlen);
struct route_table *route_set_get(struct route_set *s);
void route_set_clear(struct route_set *s);

#endif
