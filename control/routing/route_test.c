/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mg_log.h"
#include "route.h"
#include "route_cli.h"

static const struct route_env env4 = { "192.0.2.1", 5060, 5060, 5061, 0 };

/* Log lines (stderr) of what runs between capture_start() and
 * capture_end(), warnings included. */
static int capture_saved = -1;
static char capture_path[64];

static void capture_start(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "/tmp/rt-route-log-XXXXXX");
	fd = mkstemp(capture_path);
	assert_true(fd >= 0);
	fflush(stderr);
	capture_saved = dup(2);
	assert_true(capture_saved >= 0);
	assert_true(dup2(fd, 2) == 2);
	close(fd);
	mg_log_set_level(MG_LOG_WARN);
}

static const char *capture_end(void)
{
	static char buf[32768];
	FILE *f;
	size_t n;

	fflush(stderr);
	mg_log_set_level(MG_LOG_ERR);
	dup2(capture_saved, 2);
	close(capture_saved);
	f = fopen(capture_path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(capture_path);
	return buf;
}

static unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

#define assert_has(hay, needle)                                                      \
	do {                                                                         \
		if (strstr((hay), (needle)) == NULL)                                 \
			fail_msg("\"%s\" not in the log:\n%s", (needle), (hay));      \
	} while (0)

/* Write @p xml to a fresh temporary file and load it. */
static struct route_table *load_str(const char *xml, char *err, size_t errlen, char *path, size_t pathlen)
{
	char tmpl[] = "/tmp/sdp-route-XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
	close(fd);
	if (path != NULL)
		snprintf(path, pathlen, "%s", tmpl);
	struct route_table *t = route_table_load(tmpl, err, errlen);

	unlink(tmpl);
	return t;
}

static struct route_table *load_ok(const char *xml)
{
	char err[512];
	struct route_table *t = load_str(xml, err, sizeof(err), NULL, 0);

	if (t == NULL)
		fail_msg("load failed: %s", err);
	return t;
}

/* Load must fail; the message must name path:line and contain @p needle. */
static void load_bad(const char *xml, int line, const char *needle)
{
	char err[512], path[64], want[96];
	struct route_table *t = load_str(xml, err, sizeof(err), path, sizeof(path));

	if (t != NULL)
		fail_msg("load of bad file succeeded (expected \"%s\")", needle);
	snprintf(want, sizeof(want), "%s:%d:", path, line);
	if (strstr(err, want) == NULL || strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err, want, needle);
}

#define KV(...) ((const struct route_kv[]){ __VA_ARGS__ })
#define NKV(...) (sizeof((const struct route_kv[]){ __VA_ARGS__ }) / sizeof(struct route_kv))

/* Copied from the vendor guide, including its line-wrapped request URI. */
static const char guide_rule[] =
	"<rule name=\"default_sip_out\" outbound_interface=\"sip\" qvalue=\"0.001\">\n"
	"<condition param=\"transfer\" expr=\"false\"/>\n"
	"<condition param=\"pstn.in.channelName\" expr=\".*\"/>\n"
	"<condition param=\"pstn.in.dnis\" expr=\"(.*)\"/>\n"
	"<condition param=\"pstn.in.ani\" expr=\"(.*)\"/>\n"
	"<condition param=\"pstn.in.callerName\" expr=\"(.*)\"/>\n"
	"\n"
	"<out_leg name=\"\" media_type=\"sendrecv\">\n"
	"\n"
	"<param name=\"sip.out.requestUri\" expr=\"sip:%0@mediation-server-ip-\n"
	"address:5060\" />\n"
	"\n"
	"<param name=\"sip.out.from.uri\" expr=\"sip:%1@GW_HOST_IP:GW_SIP_PORT\"/>\n"
	"<param name=\"sip.out.from.displayName\" expr=\"%2\"/>\n"
	"<param name=\"sip.out.transport\" expr=\"tls\"/>\n"
	"\n"
	"</out_leg>\n"
	"\n"
	"</rule>\n";

static void check_guide_result(struct route_table *t)
{
	struct route_result r;

	assert_int_equal(route_match(t,
				     KV({ "pstn.in.dnis", "5551234" }, { "pstn.in.ani", "5145550000" },
					{ "pstn.in.callerName", "Alice Smith" }),
				     3, &env4, &r),
			 0);
	assert_string_equal(r.rule_name, "default_sip_out");
	assert_int_equal(r.outbound_interface, ROUTE_IFACE_SIP);
	assert_string_equal(r.media_type, "sendrecv");
	assert_string_equal(route_result_get(&r, "sip.out.requestUri"), "sip:5551234@mediation-server-ip-address:5060");
	/* tls transport: GW_SIP_PORT is the TLS user agent's port */
	assert_string_equal(route_result_get(&r, "sip.out.from.uri"), "sip:5145550000@192.0.2.1:5061");
	assert_string_equal(route_result_get(&r, "sip.out.from.displayName"), "Alice Smith");
	assert_string_equal(route_result_get(&r, "sip.out.transport"), "tls");
	assert_null(route_result_get(&r, "sip.out.to.uri"));
	route_result_clear(&r);
}

static void test_guide_verbatim(void **state)
{
	(void)state;
	char buf[4096];
	struct route_table *t = load_ok(guide_rule);

	check_guide_result(t);
	route_table_unref(t);
	snprintf(buf, sizeof(buf), "<?xml version=\"1.0\"?>\n<routing_rules>\n%s</routing_rules>\n", guide_rule);
	t = load_ok(buf);
	assert_int_equal(route_table_count(t), 1);
	check_guide_result(t);
	route_table_unref(t);
}

/* SPEC §2's example, byte for byte: three conditions, two with a group, and
 * sip.out.from.displayName="%2". %N counts capture-bearing conditions (SPEC
 * §2), so %2 names nothing: the rule loads, %2 expands to "" and the load
 * warns at the param's line. */
static const char spec_rule[] =
	"<rule name=\"default_sip_out\" outbound_interface=\"sip\" qvalue=\"0.001\">\n"
	"  <condition param=\"transfer\" expr=\"false\"/>\n"
	"  <condition param=\"pstn.in.dnis\" expr=\"(.*)\"/>\n"
	"  <condition param=\"pstn.in.ani\" expr=\"(.*)\"/>\n"
	"  <out_leg name=\"\" media_type=\"sendrecv\">\n"
	"    <param name=\"sip.out.requestUri\" expr=\"sip:%0@192.0.2.10:5060\"/>\n"
	"    <param name=\"sip.out.from.uri\" expr=\"sip:%1@GW_HOST_IP:GW_SIP_PORT\"/>\n"
	"    <param name=\"sip.out.from.displayName\" expr=\"%2\"/>\n"
	"    <param name=\"sip.out.transport\" expr=\"tls\"/>\n"
	"  </out_leg>\n"
	"</rule>\n";

static void check_spec_result(struct route_table *t)
{
	struct route_result r;

	/* a caller name is there, but no condition of this rule captures it */
	assert_int_equal(route_match(t,
				     KV({ "pstn.in.dnis", "5551234" }, { "pstn.in.ani", "5145550000" },
					{ "pstn.in.callerName", "Alice Smith" }),
				     3, &env4, &r),
			 0);
	assert_string_equal(r.rule_name, "default_sip_out");
	assert_int_equal(r.outbound_interface, ROUTE_IFACE_SIP);
	assert_true(r.qvalue == 0.001);
	assert_string_equal(route_result_get(&r, "sip.out.requestUri"), "sip:5551234@192.0.2.10:5060");
	assert_string_equal(route_result_get(&r, "sip.out.from.uri"), "sip:5145550000@192.0.2.1:5061");
	assert_string_equal(route_result_get(&r, "sip.out.from.displayName"), "");
	assert_string_equal(route_result_get(&r, "sip.out.transport"), "tls");
	route_result_clear(&r);
	/* transfer=true: the rule's first condition fails */
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "5551234" }, { "transfer", "true" }), 2, &env4, &r),
			 -ENOENT);
}

static void test_spec_example_verbatim(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/rt-route-spec-XXXXXX", err[512], want[512];
	struct route_set set = { 0 };
	struct route_table *t;
	const char *log;
	FILE *f;
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(spec_rule, f);
	fclose(f);

	/* --route loads with route_table_load() */
	capture_start();
	t = route_table_load(tmpl, err, sizeof(err));
	log = capture_end();
	if (t == NULL)
		fail_msg("SPEC §2 example refused: %s", err);
	snprintf(want, sizeof(want), "%s:8: param sip.out.from.displayName uses %%2 but rule default_sip_out", tmpl);
	assert_has(log, want);
	assert_has(log, "has 2 capture-bearing conditions (defined: %0..%1): %2 expands to \"\"");
	assert_int_equal(route_table_warnings(t), 1);
	check_spec_result(t);
	route_table_unref(t);

	/* the call engine loads (start, SIGHUP) with route_set_reload() */
	assert_int_equal(route_set_reload(&set, tmpl, err, sizeof(err)), 0);
	t = route_set_get(&set);
	assert_int_equal(route_table_count(t), 1);
	check_spec_result(t);
	route_table_unref(t);
	route_set_clear(&set);
	unlink(tmpl);
}

/* %N beyond the rule's groups: "" and a warning (was a load error). */
static void test_undefined_capture(void **state)
{
	(void)state;
	char err[512], path[64], want[512];
	struct route_result r;
	struct route_table *t;
	const char *log;

	capture_start();
	t = load_str("<routing_rules>\n<rule name=\"a\" outbound_interface=\"pstn\">\n"
		     "<condition param=\"pstn.in.dnis\" expr=\"(.*)\"/>\n<out_leg>\n"
		     "<param name=\"pstn.out.dnis\" expr=\"%0-%1-%12345678901234567890%%1\"/></out_leg>\n"
		     "</rule>\n<rule name=\"b\" outbound_interface=\"sip\" qvalue=\"0.5\">\n"
		     "<out_leg>\n<param name=\"sip.out.requestUri\" expr=\"sip:%0@x\"/></out_leg>\n</rule>\n"
		     "</routing_rules>\n",
		     err, sizeof(err), path, sizeof(path));
	log = capture_end();
	if (t == NULL)
		fail_msg("refused: %s", err);
	snprintf(want, sizeof(want), "%s:5: param pstn.out.dnis uses %%1 but rule a has 1 capture-bearing condition "
		 "(defined: %%0..%%0)", path);
	assert_has(log, want);
	assert_has(log, "uses %12345678901234567890 but rule a");
	snprintf(want, sizeof(want), "%s:9: param sip.out.requestUri uses %%0 but rule b has no condition with a "
		 "capture group: %%0 expands to \"\"", path);
	assert_has(log, want);
	assert_int_equal(route_table_warnings(t), 3);
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "555" }), 1, &env4, &r), 0);
	assert_string_equal(route_result_get(&r, "pstn.out.dnis"), "555--%1");
	route_result_clear(&r);
	route_table_unref(t);
}

/* Condition params the engine never sets load with a warning naming
 * file:line, the name, a likely fix and the names the engine sets. */
static void test_unknown_param_warns(void **state)
{
	(void)state;
	char err[512], path[64], want[512], buf[4096];
	struct route_table *t;
	const char *log;
	size_t o;

	capture_start();
	t = load_str("<routing_rules>\n<rule name=\"typos\" outbound_interface=\"sip\">\n"
		     "<condition param=\"pstn.in.dnsi\" expr=\"(.*)\"/>\n"
		     "<condition param=\"sip.in.From.User\" expr=\".*\"/>\n"
		     "<condition param=\"pstn.in.from.user\" expr=\".*\"/>\n"
		     "<condition param=\"sip.in.header.X-Account\" expr=\".*\"/>\n"
		     "<condition param=\"pstn.in.dnis\" expr=\".*\"/>\n"
		     "<out_leg/>\n</rule>\n</routing_rules>\n",
		     err, sizeof(err), path, sizeof(path));
	log = capture_end();
	if (t == NULL)
		fail_msg("refused: %s", err);
	snprintf(want, sizeof(want), "%s:3: rule typos: condition param pstn.in.dnsi is not set by the call engine, "
		 "so it always reads as \"\"; did you mean pstn.in.dnis?", path);
	assert_has(log, want);
	assert_has(log, "(the engine sets: transfer, pstn.in.dnis, pstn.in.ani, pstn.in.callerName, ");
	snprintf(want, sizeof(want), "%s:4: rule typos: condition param sip.in.From.User ", path);
	assert_has(log, want);
	assert_has(log, "sip.in.From.User is not set by the call engine, so it always reads as \"\"; did you mean "
			"sip.in.from.user?");
	assert_has(log, "pstn.in.from.user is not set by the call engine, so it always reads as \"\"; did you mean "
			"sip.in.from.user?");
	snprintf(want, sizeof(want), "%s:6: rule typos: condition param sip.in.header.X-Account is not set by the "
		 "call engine, so it always reads as \"\" (the engine sets:", path);
	assert_has(log, want);
	/* a real name is quiet */
	assert_null(strstr(log, ":7:"));
	assert_int_equal(route_table_warnings(t), 4);
	route_table_unref(t);

	/* every name the engine sets loads without a warning, and the
	 * message's list is the same list */
	o = (size_t)snprintf(buf, sizeof(buf), "<routing_rules>\n<rule name=\"all\" outbound_interface=\"sip\">\n");
	for (const char *const *k = route_known_params(); *k != NULL; k++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "<condition param=\"%s\" expr=\".*\"/>\n", *k);
		assert_true(route_param_known(*k));
		assert_non_null(strstr(route_known_params_text(), *k));
		assert_string_equal(route_param_suggest(*k), *k);
	}
	snprintf(buf + o, sizeof(buf) - o, "<out_leg/>\n</rule>\n</routing_rules>\n");
	capture_start();
	t = load_str(buf, err, sizeof(err), NULL, 0);
	log = capture_end();
	assert_non_null(t);
	assert_int_equal(route_table_warnings(t), 0);
	assert_string_equal(log, "");
	assert_true(route_table_uses_param(t, "sip.in.transport"));
	assert_false(route_table_uses_param(t, "foo.bar"));
	route_table_unref(t);
	assert_false(route_param_known("pstn.in.DNIS"));
	assert_string_equal(route_param_suggest("pstn.in.DNIS"), "pstn.in.dnis");
	assert_null(route_param_suggest("foo.bar"));
}

/* --route's parameter list: names no rule could see are warned about. */
static void test_cli_params_warn(void **state)
{
	(void)state;
	struct route_table *t = load_ok("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n"
					"<condition param=\"pstn.in.dnis\" expr=\"(.*)\"/>\n"
					"<condition param=\"sip.in.header.X\" expr=\".*\"/>\n"
					"<out_leg/>\n</rule>\n</routing_rules>\n");
	const char *log;

	capture_start();
	assert_int_equal(route_cli_check_params(t,
						KV({ "pstn.in.dnis", "1" }, { "foo.bar", "1" }, { "pstn.in.dnsi", "2" },
						   { "pstn.in.ani", "3" }, { "sip.in.header.X", "4" }),
						5),
			 4);
	log = capture_end();
	assert_has(log, "--route: foo.bar is not a call parameter and no rule reads it: it is ignored (the engine "
			"sets: transfer, ");
	assert_has(log, "--route: pstn.in.dnsi is not a call parameter and no rule reads it: it is ignored; did you "
			"mean pstn.in.dnis?");
	assert_has(log, "--route: no rule in ");
	assert_has(log, "has a condition on pstn.in.ani: it cannot change the result");
	assert_has(log, "--route: sip.in.header.X is read by a rule in ");
	assert_has(log, "but the call engine never sets it: a real call sees \"\" there, not \"4\"");
	assert_null(strstr(log, "pstn.in.dnis is"));
	assert_null(strstr(log, "condition on pstn.in.dnis"));
	route_table_unref(t);
}

/* A SIP out rule whose transport has no user agent is named at load. */
static void test_check_env(void **state)
{
	(void)state;
	char err[512], path[64], want[512];
	struct route_table *t;
	struct route_result r;
	struct route_env env = env4;
	const char *log;

	capture_start();
	t = load_str("<routing_rules>\n"
		     "<rule name=\"tls_out\" outbound_interface=\"sip\">\n"
		     " <condition param=\"pstn.in.dnis\" expr=\"1(.*)\"/>\n"
		     " <out_leg><param name=\"sip.out.from.uri\" expr=\"sip:%0@GW_HOST_IP:GW_SIP_PORT\"/>\n"
		     " <param name=\"sip.out.transport\" expr=\"tls\"/></out_leg>\n"
		     "</rule>\n"
		     "<rule name=\"udp_out\" outbound_interface=\"sip\">\n"
		     " <condition param=\"pstn.in.dnis\" expr=\"2.*\"/>\n"
		     " <out_leg><param name=\"sip.out.requestUri\" expr=\"sip:x@y\"/></out_leg>\n"
		     "</rule>\n"
		     "<rule name=\"tdm\" outbound_interface=\"pstn\">\n"
		     " <condition param=\"sip.in.transport\" expr=\"udp\"/>\n"
		     " <out_leg><param name=\"pstn.out.dnis\" expr=\"1\"/></out_leg>\n"
		     "</rule>\n"
		     "<rule name=\"dyn\" outbound_interface=\"sip\">\n"
		     " <condition param=\"pstn.in.dnis\" expr=\"3.*\"/>\n"
		     " <condition param=\"pstn.in.channelName\" expr=\"(.*)\"/>\n"
		     " <out_leg><param name=\"sip.out.from.uri\" expr=\"sip:a@GW_HOST_IP:GW_SIP_PORT\"/>\n"
		     " <param name=\"sip.out.transport\" expr=\"%0\"/></out_leg>\n"
		     "</rule>\n"
		     "</routing_rules>\n",
		     err, sizeof(err), path, sizeof(path));
	assert_non_null(t);
	/* the caller did not say which user agents exist: nothing to check */
	assert_int_equal(route_table_check_env(t, &env4), 0);
	/* udp and tcp only, as tests/sdp/route_dry_run.sh configures */
	env.ua_transports = ROUTE_UA_KNOWN | ROUTE_UA_UDP | ROUTE_UA_TCP;
	assert_int_equal(route_table_check_env(t, &env), 1);
	log = capture_end();
	snprintf(want, sizeof(want), "%s:2: rule tls_out: sip.out.transport tls but no tls user agent is configured "
		 "(netborder.sip.userAgent.IPAddress has: udp tcp): calls it routes cannot be placed, and "
		 "GW_SIP_PORT names a port nobody listens on", path);
	assert_has(log, want);
	/* TLS only: the udp rule (no sip.out.transport) is the one named */
	env.ua_transports = ROUTE_UA_KNOWN | ROUTE_UA_TLS;
	capture_start();
	assert_int_equal(route_table_check_env(t, &env), 1);
	log = capture_end();
	snprintf(want, sizeof(want), "%s:7: rule udp_out: sip.out.transport udp but no udp user agent", path);
	assert_has(log, want);
	assert_null(strstr(log, "GW_SIP_PORT"));
	assert_null(strstr(log, "tdm"));
	/* a transport from a capture is checked when the call expands it */
	capture_start();
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "3" }, { "pstn.in.channelName", "tcp" }), 2, &env, &r),
			 0);
	log = capture_end();
	assert_string_equal(route_result_get(&r, "sip.out.transport"), "tcp");
	route_result_clear(&r);
	snprintf(want, sizeof(want), "route: %s:15: rule dyn: sip.out.transport \"%%0\" expands to tcp but no tcp "
		 "user agent is configured (have: tls): the call cannot be placed and GW_SIP_PORT", path);
	assert_has(log, want);
	capture_start();
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "3" }, { "pstn.in.channelName", "tls" }), 2, &env, &r),
			 0);
	log = capture_end();
	route_result_clear(&r);
	assert_string_equal(log, "");
	route_table_unref(t);
}

/* A catastrophic-backtracking condition on caller-controlled text stops at
 * ROUTE_PCRE2_MATCH_LIMIT: the rule does not match, the next one routes
 * the call, the error is counted and logged (once per interval). */
static void test_match_limit(void **state)
{
	(void)state;
	char err[512], path[64], want[512], a20[21], a40[41], ab[1001];
	struct route_table *t;
	struct route_result r;
	const char *log;

	memset(a20, 'a', 20);
	a20[20] = '\0';
	memset(a40, 'a', 40);
	a40[40] = '\0';
	for (int i = 0; i < 1000; i++)
		ab[i] = "ab"[i & 1];
	ab[1000] = '\0';
	t = load_str("<routing_rules>\n"
		     "<rule name=\"evil\" outbound_interface=\"pstn\">\n"
		     " <condition param=\"pstn.in.callerName\" expr=\"(?:(a+)+x|(a*))\"/>\n"
		     " <out_leg><param name=\"pstn.out.dnis\" expr=\"evil\"/></out_leg>\n"
		     "</rule>\n"
		     "<rule name=\"long\" outbound_interface=\"pstn\" qvalue=\"0.5\">\n"
		     " <condition param=\"pstn.in.callerName\" expr=\"((?:a|b)*)\"/>\n"
		     " <out_leg><param name=\"pstn.out.dnis\" expr=\"long\"/></out_leg>\n"
		     "</rule>\n"
		     "<rule name=\"fallback\" outbound_interface=\"pstn\" qvalue=\"0.1\">\n"
		     " <out_leg><param name=\"pstn.out.dnis\" expr=\"fallback\"/></out_leg>\n"
		     "</rule>\n"
		     "</routing_rules>\n",
		     err, sizeof(err), path, sizeof(path));
	assert_non_null(t);
	/* a short name: evil's expression is cheap and matches */
	assert_int_equal(route_match(t, KV({ "pstn.in.callerName", "aaa" }), 1, &env4, &r), 0);
	assert_string_equal(r.rule_name, "evil");
	route_result_clear(&r);
	assert_int_equal(route_table_match_errors(t), 0);

	/* 20 a's take about 2.6 million steps: PCRE2's default limit (10
	 * million) lets evil match after ~25 ms, ours stops it */
	capture_start();
	assert_int_equal(route_match(t, KV({ "pstn.in.callerName", a20 }), 1, &env4, &r), 0);
	log = capture_end();
	assert_string_equal(r.rule_name, "long");
	route_result_clear(&r);
	assert_int_equal(route_table_match_errors(t), 1);
	snprintf(want, sizeof(want), "route: %s:3: rule evil, condition pstn.in.callerName \"(?:(a+)+x|(a*))\" on a "
		 "20-byte value: PCRE2 error -47 (match limit exceeded;", path);
	assert_has(log, want);
	assert_has(log, "the rule is treated as not matching (1 match errors since load, 0 log lines suppressed)");

	/* 40 a's would take 2^40 steps: still prompt; counted, but the log
	 * line waits for the interval */
	capture_start();
	assert_int_equal(route_match(t, KV({ "pstn.in.callerName", a40 }), 1, &env4, &r), 0);
	assert_string_equal(r.rule_name, "long");
	route_result_clear(&r);
	assert_int_equal(route_match(t, KV({ "pstn.in.callerName", a40 }, { "pstn.in.dnis", "x" }), 2, &env4, &r), 0);
	route_result_clear(&r);
	log = capture_end();
	assert_int_equal(route_table_match_errors(t), 3);
	assert_int_equal(count_str(log, "PCRE2 error"), 0);

	/* a repeated group over a 1000-byte value is within the depth limit */
	capture_start();
	assert_int_equal(route_match(t, KV({ "pstn.in.callerName", ab }), 1, &env4, &r), 0);
	log = capture_end();
	assert_string_equal(log, "");
	assert_string_equal(r.rule_name, "long");
	route_result_clear(&r);
	assert_int_equal(route_table_match_errors(t), 3);

	/* ... but not a 20000-byte one: 20000 nested backtracking frames (some
	 * 5 MB) is past ROUTE_PCRE2_DEPTH_LIMIT, PCRE2's default would go on */
	char *big = malloc(20001);

	assert_non_null(big);
	for (int i = 0; i < 20000; i++)
		big[i] = "ab"[i & 1];
	big[20000] = '\0';
	assert_int_equal(route_match(t, KV({ "pstn.in.callerName", big }), 1, &env4, &r), 0);
	assert_string_equal(r.rule_name, "fallback");
	route_result_clear(&r);
	assert_int_equal(route_table_match_errors(t), 4);
	free(big);
	route_table_unref(t);
}

static void test_captures(void **state)
{
	(void)state;
	struct route_result r;
	struct route_table *t = load_ok(
		"<routing_rules>\n"
		" <rule name=\"r\" outbound_interface=\"sip\">\n"
		"  <condition param=\"sip.in.requestUri.user\" expr=\"\\+?1?(\\d{3})(\\d{7})\"/>\n"
		"  <condition param=\"sip.in.from.displayName\" expr=\"[A-Za-z_ ]*\"/>\n"
		"  <condition param=\"sip.in.from.user\" expr=\"(?:x)?(.*)\"/>\n"
		"  <condition param=\"sip.in.header.X\" expr=\"(a)?b\"/>\n"
		"  <out_leg>\n"
		"   <param name=\"sip.out.requestUri\" expr=\"sip:%0@GW_HOST_IP;area=%1;pct=%%0\"/>\n"
		"   <param name=\"sip.out.from.displayName\" expr=\"%1|%2\"/>\n"
		"   <param name=\"pstn.out.dnis\" expr=\"%0\"/>\n"
		"  </out_leg>\n"
		" </rule>\n"
		"</routing_rules>\n");
	const struct route_env env6 = { "2001:db8::1", 5070, 5070, 5071, 0 };

	/* group 1 only; the group-less condition does not count; an unset
	 * optional group reads as ""; caller text is never expanded */
	assert_int_equal(route_match(t,
				     KV({ "sip.in.requestUri.user", "+15145550000" },
					{ "sip.in.from.displayName", "GW_HOST_IP" },
					{ "sip.in.from.user", "xGW_HOST_IP%0" }, { "sip.in.header.X", "b" }),
				     4, &env6, &r),
			 0);
	/* in a URI the capture's '%' (not an escape) is escaped itself */
	assert_string_equal(route_result_get(&r, "sip.out.requestUri"), "sip:514@[2001:db8::1];area=GW_HOST_IP%250;pct=%0");
	assert_string_equal(route_result_get(&r, "sip.out.from.displayName"), "GW_HOST_IP%0|");
	assert_string_equal(route_result_get(&r, "pstn.out.dnis"), "514");
	assert_string_equal(r.media_type, "sendrecv");
	assert_true(r.qvalue == 1.0);
	route_result_clear(&r);
	route_table_unref(t);
}

/* A long capture is expanded whole (the value grows as needed); one that
 * would expand beyond ROUTE_MAX_VALUE is refused (-E2BIG), never cut. */
static void test_long_values(void **state)
{
	(void)state;
	struct route_result r;
	struct route_table *t = load_ok(
		"<routing_rules>\n"
		" <rule name=\"r\" outbound_interface=\"sip\">\n"
		"  <condition param=\"sip.in.requestUri.user\" expr=\"(.*)\"/>\n"
		"  <out_leg>\n"
		"   <param name=\"sip.out.requestUri\" expr=\"sip:%0@192.0.2.20\"/>\n"
		"   <param name=\"sip.out.to.displayName\" expr=\"%0\"/>\n"
		"  </out_leg>\n"
		" </rule>\n"
		"</routing_rules>\n");
	size_t n = 3000;
	char *user = malloc(n + 1), *want = malloc(n + 32);

	assert_non_null(user);
	assert_non_null(want);
	for (size_t i = 0; i < n; i++)
		user[i] = (char)('0' + i % 10);
	user[n] = '\0';
	snprintf(want, n + 32, "sip:%s@192.0.2.20", user);
	assert_int_equal(route_match(t, KV({ "sip.in.requestUri.user", user }), 1, &env4, &r), 0);
	assert_string_equal(route_result_get(&r, "sip.out.requestUri"), want);
	assert_string_equal(route_result_get(&r, "sip.out.to.displayName"), user);
	route_result_clear(&r);
	/* '#' is escaped to %23 in the URI: 3 x 3000 bytes is over the bound */
	memset(user, '#', n);
	assert_int_equal(route_match(t, KV({ "sip.in.requestUri.user", user }), 1, &env4, &r), -E2BIG);
	assert_null(r.table);
	free(user);
	free(want);
	route_table_unref(t);
}

/* Captures going into SIP URIs are escaped for a URI user part before the
 * template's '@' and for a host[:port] after it; other parameters get them
 * as they are. */
static void test_uri_escaping(void **state)
{
	(void)state;
	struct route_result r;
	struct route_table *t = load_ok(
		"<routing_rules>\n"
		" <rule name=\"r\" outbound_interface=\"sip\">\n"
		"  <condition param=\"pstn.in.dnis\" expr=\"(.*)\"/>\n"
		"  <condition param=\"pstn.in.ani\" expr=\"(.*)\"/>\n"
		"  <condition param=\"pstn.in.callerName\" expr=\"(.*)\"/>\n"
		"  <out_leg>\n"
		"   <param name=\"sip.out.requestUri\" expr=\"sip:%0@example.net;user=phone\"/>\n"
		"   <param name=\"sip.out.from.uri\" expr=\"sip:%1@GW_HOST_IP\"/>\n"
		"   <param name=\"sip.out.from.displayName\" expr=\"%1\"/>\n"
		"   <param name=\"sip.out.to.uri\" expr=\"sip:gw@%2;tgrp=%0\"/>\n"
		"   <param name=\"pstn.out.dnis\" expr=\"%0\"/>\n"
		"  </out_leg>\n"
		" </rule>\n"
		"</routing_rules>\n");
	const struct route_env env = { "192.0.2.1", 5060, 5060, 5061, 0 };

	/* '#' would start a fragment, '>' close the header's <URI>, '@' and ':'
	 * move the host; '*', '+', ';' and a real escape (%23) are kept */
	assert_int_equal(route_match(t,
				     KV({ "pstn.in.dnis", "*72#5551234" },
					{ "pstn.in.ani", "+1 514>x@evil:5060%23;y=\"z\"\x01\xc3\xa9" },
					{ "pstn.in.callerName", "gw.example:5070;maddr=evil?x=y" }),
				     3, &env, &r),
			 0);
	assert_string_equal(route_result_get(&r, "sip.out.requestUri"),
			    "sip:*72%235551234@example.net;user=phone");
	assert_string_equal(route_result_get(&r, "sip.out.from.uri"),
			    "sip:+1%20514%3Ex%40evil%3A5060%23;y=%22z%22%01%C3%A9@192.0.2.1");
	assert_string_equal(route_result_get(&r, "sip.out.from.displayName"),
			    "+1 514>x@evil:5060%23;y=\"z\"\x01\xc3\xa9");
	/* past the template's '@' a capture is a host[:port]: ';', '?' and '='
	 * cannot open URI parameters or headers, in the host or after it */
	assert_string_equal(route_result_get(&r, "sip.out.to.uri"),
			    "sip:gw@gw.example:5070%3Bmaddr%3Devil%3Fx%3Dy;tgrp=*72%235551234");
	assert_string_equal(route_result_get(&r, "pstn.out.dnis"), "*72#5551234");
	route_result_clear(&r);
	route_table_unref(t);
}

static const char q_rules[] =
	"<routing_rules>\n"
	" <rule name=\"low\" outbound_interface=\"sip\" qvalue=\"0.001\">\n"
	"  <condition param=\"pstn.in.dnis\" expr=\"(.*)\"/>\n"
	"  <out_leg><param name=\"sip.out.requestUri\" expr=\"sip:%0@low\"/></out_leg>\n"
	" </rule>\n"
	" <rule name=\"first_tie\" outbound_interface=\"sip\" qvalue=\"0.5\">\n"
	"  <condition param=\"pstn.in.dnis\" expr=\"555.*\"/>\n"
	"  <out_leg><param name=\"sip.out.requestUri\" expr=\"sip:first@tie\"/></out_leg>\n"
	" </rule>\n"
	" <rule name=\"second_tie\" outbound_interface=\"pstn\" qvalue=\"0.50\">\n"
	"  <condition param=\"pstn.in.dnis\" expr=\"5551.*\"/>\n"
	"  <out_leg><param name=\"pstn.out.dnis\" expr=\"x\"/></out_leg>\n"
	" </rule>\n"
	" <rule name=\"high\" outbound_interface=\"pstn\" qvalue=\"0.9\">\n"
	"  <condition param=\"pstn.in.dnis\" expr=\"5559(.*)\"/>\n"
	"  <condition param=\"transfer\" expr=\"true\"/>\n"
	"  <out_leg media_type=\"recvonly\"><param name=\"pstn.out.dnis\" expr=\"%0\"/></out_leg>\n"
	" </rule>\n"
	"</routing_rules>\n";

static const char *route_name(struct route_table *t, const char *dnis, const char *transfer)
{
	static char name[64];
	struct route_result r;
	struct route_kv kv[2] = { { "pstn.in.dnis", dnis }, { "transfer", transfer } };
	int rc = route_match(t, kv, transfer ? 2 : 1, &env4, &r);

	if (rc == -ENOENT)
		return "none";
	assert_int_equal(rc, 0);
	snprintf(name, sizeof(name), "%s", r.rule_name);
	route_result_clear(&r);
	return name;
}

static void test_qvalue_and_ties(void **state)
{
	(void)state;
	struct route_table *t = load_ok(q_rules);

	/* highest qvalue wins even though it is last in the file */
	assert_string_equal(route_name(t, "55591", "true"), "high");
	/* "high" needs transfer=true; absent transfer reads as false */
	assert_string_equal(route_name(t, "55591", NULL), "first_tie");
	/* two rules at q 0.5 match: document order breaks the tie */
	assert_string_equal(route_name(t, "5551234", "false"), "first_tie");
	/* only the low-q catch-all */
	assert_string_equal(route_name(t, "4441234", NULL), "low");
	route_table_unref(t);
}

static void test_no_match_full_match(void **state)
{
	(void)state;
	struct route_result r;
	struct route_table *t = load_ok("<routing_rules>\n"
					"<rule name=\"exact\" outbound_interface=\"sip\">\n"
					" <condition param=\"pstn.in.dnis\" expr=\"555\"/>\n"
					" <condition param=\"transfer\" expr=\"false\"/>\n"
					" <out_leg><param name=\"sip.out.requestUri\" expr=\"sip:x@y\"/></out_leg>\n"
					"</rule>\n"
					"</routing_rules>\n");

	/* expr must match the whole value, not a substring or prefix */
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "5551234" }), 1, &env4, &r), -ENOENT);
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "1555" }), 1, &env4, &r), -ENOENT);
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "555" }, { "transfer", "true" }), 2, &env4, &r),
			 -ENOENT);
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "555" }), 1, &env4, &r), 0);
	route_result_clear(&r);
	/* absent parameter = "" which "555" does not match */
	assert_int_equal(route_match(t, NULL, 0, &env4, &r), -ENOENT);
	route_table_unref(t);
	assert_int_equal(ROUTE_NO_ROUTE_SIP_STATUS, 404);
	assert_int_equal(ROUTE_NO_ROUTE_Q850_CAUSE, 1);

	/* an empty table refuses everything */
	t = load_ok("<routing_rules/>");
	assert_int_equal(route_table_count(t), 0);
	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "555" }), 1, &env4, &r), -ENOENT);
	route_table_unref(t);
}

static void test_bad_xml(void **state)
{
	(void)state;
	char err[512];

	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n<condition param=x/>\n"
		 "</rule></routing_rules>\n",
		 3, "not well-formed XML");
	load_bad("<routing_rules>\n<rule name=\"a\">\n</routing_rules>\n", 3, "not well-formed XML");
	load_bad("\n<rules/>\n", 2, "allowed: <routing_rules>");
	load_bad("<routing_rules>\n\n<route/>\n</routing_rules>\n", 3, "allowed: <rule>");
	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n"
		 "<out_leg/>\n<bogus/>\n</rule></routing_rules>\n",
		 4, "allowed: <condition>, <out_leg>");
	assert_null(route_table_load("/nonexistent/sdp-route.xml", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/sdp-route.xml"));
}

/* route_table_load_buffer(): the same loader on bytes without a NUL, named
 * in messages as given (what route_fuzz drives). */
static void test_load_buffer(void **state)
{
	static const char xml[] = "<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n"
				  "<condition param=\"pstn.in.dnis\" expr=\"^555\"/>\n"
				  "<out_leg/>\n</rule></routing_rules>\n";
	char err[512];
	char *copy = malloc(sizeof(xml) - 1);
	struct route_table *t;

	(void)state;
	assert_non_null(copy);
	memcpy(copy, xml, sizeof(xml) - 1); /* no NUL after it */
	t = route_table_load_buffer("mem.xml", copy, sizeof(xml) - 1, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(route_table_count(t), 1);
	assert_string_equal(route_table_path(t), "mem.xml");
	route_table_unref(t);
	/* cut short: refused with the name and the line */
	assert_null(route_table_load_buffer("mem.xml", copy, 40, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "mem.xml:"));
	assert_non_null(strstr(err, "not well-formed XML"));
	free(copy);
}

static void test_bad_regex(void **state)
{
	(void)state;
	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n"
		 "<condition param=\"pstn.in.dnis\" expr=\"(555\"/>\n"
		 "<out_leg/>\n</rule></routing_rules>\n",
		 3, "bad regular expression \"(555\"");
	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n\n"
		 "<condition param=\"pstn.in.dnis\" expr=\"[a-\"/>\n"
		 "<out_leg/>\n</rule></routing_rules>\n",
		 4, "bad regular expression");
}

static void test_bad_values(void **state)
{
	(void)state;
	const char *head = "<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\">\n";
	char buf[1024];

#define BAD(body, line, needle)                                                    \
	do {                                                                       \
		snprintf(buf, sizeof(buf), "%s%s</rule></routing_rules>\n", head, body); \
		load_bad(buf, line, needle);                                       \
	} while (0)
	BAD("<condition param=\"pstn.in.dnis\"/>\n<out_leg/>\n", 3, "needs the attribute expr");
	BAD("<condition expr=\".*\"/>\n<out_leg/>\n", 3, "needs the attribute param");
	BAD("<condition param=\"dnis\" expr=\".*\"/>\n<out_leg/>\n", 3, "allowed: pstn.in.*, sip.in.*, transfer");
	BAD("<out_leg>\n<param expr=\"x\"/></out_leg>\n", 4, "needs the attribute name");
	BAD("<out_leg>\n<param name=\"sip.out.requestUri\"/></out_leg>\n", 4, "needs the attribute expr");
	BAD("<out_leg>\n<param name=\"foo\" expr=\"x\"/></out_leg>\n", 4, "allowed: sip.out.*, pstn.out.*");
	BAD("<out_leg>\n<param name=\"sip.out.transport\" expr=\"sctp\"/></out_leg>\n", 4, "allowed: udp, tcp, tls");
	BAD("<out_leg media_type=\"both\"/>\n", 3, "allowed: sendrecv, sendonly, recvonly, inactive");
	BAD("", 2, "has no <out_leg>");
	BAD("<out_leg/>\n<out_leg/>\n", 4, "one per rule");
	BAD("<out_leg/>\n<condition param=\"transfer\" expr=\"false\"/>\n", 4, "conditions first");
	BAD("<out_leg>\n<param name=\"pstn.out.x\" expr=\"1\"/>\n<param name=\"pstn.out.x\" expr=\"2\"/>\n"
	    "</out_leg>\n",
	    5, "already set at line 4");
#undef BAD
	load_bad("<routing_rules>\n<rule outbound_interface=\"sip\"><out_leg/></rule></routing_rules>", 2,
		 "needs the attribute name");
	load_bad("<routing_rules>\n<rule name=\"a\"><out_leg/></rule></routing_rules>", 2,
		 "needs the attribute outbound_interface");
	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"h323\"><out_leg/></rule></routing_rules>", 2,
		 "allowed: sip, pstn");
	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\" qvalue=\"1.5\"><out_leg/></rule>"
		 "</routing_rules>",
		 2, "allowed: a number from 0 to 1");
	load_bad("<routing_rules>\n<rule name=\"a\" outbound_interface=\"sip\" qvalue=\"high\"><out_leg/></rule>"
		 "</routing_rules>",
		 2, "qvalue \"high\"");
}

static void test_reload_keeps_calls(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/sdp-route-XXXXXX", err[512];
	int fd = mkstemp(tmpl);
	struct route_set set = { 0 };
	struct route_result call;
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	f = fopen(tmpl, "w");
	fputs(q_rules, f);
	fclose(f);
	assert_int_equal(route_set_reload(&set, tmpl, err, sizeof(err)), 0);
	struct route_table *t = route_set_get(&set);

	assert_int_equal(route_match(t, KV({ "pstn.in.dnis", "4441234" }), 1, &env4, &call), 0);
	route_table_unref(t);

	/* a broken file leaves the running table in place */
	f = fopen(tmpl, "w");
	fputs("<routing_rules><rule", f);
	fclose(f);
	assert_int_equal(route_set_reload(&set, tmpl, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not well-formed"));
	t = route_set_get(&set);
	assert_int_equal(route_table_count(t), 4);
	route_table_unref(t);

	/* a good new file replaces it; the call in progress keeps its rule */
	f = fopen(tmpl, "w");
	fputs("<routing_rules/>", f);
	fclose(f);
	assert_int_equal(route_set_reload(&set, tmpl, err, sizeof(err)), 0);
	t = route_set_get(&set);
	assert_int_equal(route_table_count(t), 0);
	route_table_unref(t);
	assert_string_equal(call.rule_name, "low");
	assert_string_equal(route_result_get(&call, "sip.out.requestUri"), "sip:4441234@low");
	assert_int_equal(route_table_count(call.table), 4);
	route_result_clear(&call);
	route_set_clear(&set);
	unlink(tmpl);
}

static void test_params_parse(void **state)
{
	(void)state;
	struct route_kv kv[4];
	char err[256];
	char a[] = "pstn.in.dnis=5551234,pstn.in.ani=5145550000,pstn.in.callerName=Smith\\, John";
	char b[] = "pstn.in.dnis";
	char c[] = "a=1,b=2,c=3,d=4,e=5";
	char d[] = "x=a=b,y=";

	assert_int_equal(route_params_parse(a, kv, 4, err, sizeof(err)), 3);
	assert_string_equal(kv[0].name, "pstn.in.dnis");
	assert_string_equal(kv[0].value, "5551234");
	assert_string_equal(kv[1].value, "5145550000");
	assert_string_equal(kv[2].name, "pstn.in.callerName");
	assert_string_equal(kv[2].value, "Smith, John");
	assert_int_equal(route_params_parse(b, kv, 4, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "name=value"));
	assert_int_equal(route_params_parse(c, kv, 4, err, sizeof(err)), -E2BIG);
	assert_int_equal(route_params_parse(d, kv, 4, err, sizeof(err)), 2);
	assert_string_equal(kv[0].value, "a=b");
	assert_string_equal(kv[1].value, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guide_verbatim),     cmocka_unit_test(test_captures),
		cmocka_unit_test(test_spec_example_verbatim), cmocka_unit_test(test_undefined_capture),
		cmocka_unit_test(test_unknown_param_warns), cmocka_unit_test(test_cli_params_warn),
		cmocka_unit_test(test_check_env),          cmocka_unit_test(test_match_limit),
		cmocka_unit_test(test_uri_escaping),       cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_qvalue_and_ties),    cmocka_unit_test(test_no_match_full_match),
		cmocka_unit_test(test_bad_xml),            cmocka_unit_test(test_bad_regex),
		cmocka_unit_test(test_bad_values),         cmocka_unit_test(test_reload_keeps_calls),
		cmocka_unit_test(test_params_parse),
		cmocka_unit_test(test_load_buffer),
	};

	mg_log_init("route_test", MG_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
