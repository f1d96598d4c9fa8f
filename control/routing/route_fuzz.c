/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target (meson -Dfuzz=true, clang): the routing rules loader on
 * any bytes (libxml2 document, <rule> structure, PCRE2 compilation of the
 * conditions, out-leg templates), then route_match() of a call against the
 * table. The input is the XML up to its first NUL byte; what follows the NUL,
 * if anything, is the call's parameters as "name=value,name=value" (what a
 * caller controls: SIP URIs, From, To, DNIS...), else a fixed SIP call.
 * Properties: no crash, no UB, no leak; a refusal is NULL with errno EINVAL
 * (or ENOMEM) and a message; a match returns 0/-ENOENT/-E2BIG/-ENOMEM.
 *
 *   build-fuzz/control/routing/route_fuzz tests/fuzz/corpus/routing -max_total_time=60
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"
#include "route.h"

#define MAX_PARAMS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void match(struct route_table *t, char *params)
{
	static char fixed[] = "sip.in.requestUri=sip:5551234@192.0.2.1,sip.in.requestUri.user=5551234,"
			      "sip.in.requestUri.host=192.0.2.1,sip.in.from.uri=sip:alice@example.com,"
			      "sip.in.from.user=alice,sip.in.from.displayName=Alice,"
			      "sip.in.to.uri=sip:5551234@example.com,sip.in.to.user=5551234,"
			      "sip.in.transport=udp,pstn.in.dnis=5551234,pstn.in.ani=5550000,transfer=false";
	static const struct route_env env = { .host_ip = "192.0.2.1", .sip_port_udp = 5060,
					      .sip_port_tcp = 5060, .sip_port_tls = 5061,
					      .ua_transports = ROUTE_UA_KNOWN | ROUTE_UA_UDP };
	struct route_kv kv[MAX_PARAMS];
	struct route_result res;
	char copy[sizeof(fixed)];
	char err[256];
	int n, rc;

	if (params == NULL) {
		memcpy(copy, fixed, sizeof(fixed));
		params = copy;
	}
	n = route_params_parse(params, kv, MAX_PARAMS, err, sizeof(err));
	if (n < 0)
		return;
	memset(&res, 0, sizeof(res));
	rc = route_match(t, kv, (size_t)n, &env, &res);
	if (rc != 0 && rc != -ENOENT && rc != -E2BIG && rc != -ENOMEM)
		abort();
	if (rc == 0) {
		FILE *sink = fopen("/dev/null", "w");

		if (sink != NULL) {
			route_result_print(&res, sink);
			fclose(sink);
		}
		route_result_clear(&res);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	const uint8_t *nul = memchr(data, 0, size);
	size_t xml_len = nul != NULL ? (size_t)(nul - data) : size;
	char err[512];
	char *xml, *params = NULL;
	struct route_table *t;

	if (!init) {
		/* warnings of a bad file are logged: keep the run quiet */
		mg_log_init("route_fuzz", MG_LOG_ERR, false);
		init = 1;
	}
	/* exactly the XML's bytes on the heap: a read past them is seen */
	xml = malloc(xml_len ? xml_len : 1);
	if (xml == NULL)
		return 0;
	memcpy(xml, data, xml_len);
	if (nul != NULL) {
		size_t pl = size - xml_len - 1;

		params = malloc(pl + 1);
		if (params == NULL) {
			free(xml);
			return 0;
		}
		memcpy(params, nul + 1, pl);
		params[pl] = '\0';
	}
	errno = 0;
	err[0] = '\0';
	t = route_table_load_buffer("fuzz.xml", xml, xml_len, err, sizeof(err));
	if (t == NULL) {
		if ((errno != EINVAL && errno != ENOMEM) || err[0] == '\0')
			abort();
	} else {
		(void)route_table_count(t);
		(void)route_table_check_env(t, &(struct route_env){ .host_ip = "::1",
			.ua_transports = ROUTE_UA_KNOWN | ROUTE_UA_TLS });
		match(t, params);
		route_table_unref(t);
	}
	free(params);
	free(xml);
	return 0;
}
