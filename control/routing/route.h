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
#define ROUTE_MAX_VALUE 1024

enum route_iface { ROUTE_IFACE_SIP, ROUTE_IFACE_PSTN };

/* One call parameter ("pstn.in.dnis" = "5551234"). */
struct route_kv {
	const char *name;
	const char *value;
};

/* The gateway's own SIP address, for GW_HOST_IP and GW_SIP_PORT. The port
 * is taken for the out leg's sip.out.transport (udp when absent). */
struct route_env {
	const char *host_ip;    /* numeric; IPv6 gets [] around it in URIs */
	uint16_t sip_port_udp;
	uint16_t sip_port_tcp;
	uint16_t sip_port_tls;
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
