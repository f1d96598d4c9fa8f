/* SPDX-License-Identifier: BSD-3-Clause */
/* `mediagate-control --route PARAMS`: route one imaginary call and print what
 * the call engine would do with it, without SIP or a dataplane. */
#include "route_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"

/* First of the listening user agents for each transport; INADDR_ANY leaves
 * the address to mediagate.sip.contactHost or the first non-loopback one. */
void route_env_from_settings(const struct mg_config *cfg, struct route_env *env, char *ipbuf, size_t iplen)
{
	const struct mg_settings *s = mg_config_settings(cfg);
	const char *contact = mg_config_get(cfg, "mediagate.sip.contactHost");

	memset(env, 0, sizeof(*env));
	ipbuf[0] = '\0';
	for (unsigned i = 0; i < s->n_ua; i++) {
		uint16_t *p = s->ua[i].transport == MG_TRANSPORT_TLS   ? &env->sip_port_tls
			      : s->ua[i].transport == MG_TRANSPORT_TCP ? &env->sip_port_tcp
								       : &env->sip_port_udp;
		if (*p == 0)
			*p = s->ua[i].port;
		env->ua_transports |= ROUTE_UA_KNOWN | (s->ua[i].transport == MG_TRANSPORT_TLS   ? ROUTE_UA_TLS
							: s->ua[i].transport == MG_TRANSPORT_TCP ? ROUTE_UA_TCP
												 : ROUTE_UA_UDP);
		if (ipbuf[0] == '\0' && s->ua[i].addr[0] != '\0')
			snprintf(ipbuf, iplen, "%s", s->ua[i].addr);
	}
	if (env->sip_port_udp == 0)
		env->sip_port_udp = env->sip_port_tcp ? env->sip_port_tcp : 5060;
	if (env->sip_port_tcp == 0)
		env->sip_port_tcp = env->sip_port_udp;
	/* No TLS user agent: 5061 (RFC 3261's sips port) keeps the URI well
	 * formed, and route_table_check_env() says that nothing listens there
	 * and that the engine cannot place such a call. */
	if (env->sip_port_tls == 0)
		env->sip_port_tls = 5061;
	if (contact != NULL && contact[0] != '\0')
		snprintf(ipbuf, iplen, "%s", contact);
	if (ipbuf[0] == '\0') {
		struct ifaddrs *ifa = NULL;

		if (getifaddrs(&ifa) == 0) {
			for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
				if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
				    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
					continue;
				inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, ipbuf,
					  (socklen_t)iplen);
				break;
			}
			freeifaddrs(ifa);
		}
	}
	if (ipbuf[0] == '\0')
		snprintf(ipbuf, iplen, "127.0.0.1");
	env->host_ip = ipbuf;
}

unsigned route_cli_check_params(const struct route_table *t, const struct route_kv *kv, size_t n)
{
	unsigned warned = 0;

	for (size_t i = 0; i < n; i++) {
		const char *hint;

		if (route_param_known(kv[i].name)) {
			if (route_table_uses_param(t, kv[i].name))
				continue;
			MG_WARN("--route: no rule in %s has a condition on %s: it cannot change the result",
				route_table_path(t), kv[i].name);
		} else if (route_table_uses_param(t, kv[i].name)) {
			/* the file warned at load already; say what it means here */
			MG_WARN("--route: %s is read by a rule in %s but the call engine never sets it: a real "
				"call sees \"\" there, not \"%s\"",
				kv[i].name, route_table_path(t), kv[i].value);
		} else {
			hint = route_param_suggest(kv[i].name);
			MG_WARN("--route: %s is not a call parameter and no rule reads it: it is ignored%s%s%s "
				"(the engine sets: %s)",
				kv[i].name, hint ? "; did you mean " : "", hint ? hint : "", hint ? "?" : "",
				route_known_params_text());
		}
		warned++;
	}
	return warned;
}

int route_cli_main(const struct mg_config *cfg, const char *spec, FILE *out)
{
	const struct mg_settings *s = mg_config_settings(cfg);
	struct route_kv kv[64];
	struct route_env env;
	struct route_result res;
	char err[512], ip[sizeof(((struct mg_settings *)0)->sip_contact_host)]; /* GW_HOST_IP whole */
	char *buf = strdup(spec);
	int n, rc;

	if (buf == NULL)
		return 2;
	n = route_params_parse(buf, kv, 64, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "--route: %s\n", err);
		free(buf);
		return 2;
	}
	struct route_table *t = route_table_load(s->routing_rules_file, err, sizeof(err));

	if (t == NULL) {
		fprintf(stderr, "%s\n", err);
		free(buf);
		return 2;
	}
	route_env_from_settings(cfg, &env, ip, sizeof(ip));
	route_table_check_env(t, &env);
	route_cli_check_params(t, kv, (size_t)n);
	rc = route_match(t, kv, (size_t)n, &env, &res);
	if (rc == 0) {
		route_result_print(&res, out);
		route_result_clear(&res);
	} else if (rc == -ENOENT) {
		fprintf(out, "no route: %u rules in %s, none matches; the call is refused (SIP %d, PSTN cause %d)\n",
			route_table_count(t), route_table_path(t), ROUTE_NO_ROUTE_SIP_STATUS,
			ROUTE_NO_ROUTE_Q850_CAUSE);
	} else {
		fprintf(stderr, "--route: %s\n", strerror(-rc));
	}
	route_table_unref(t);
	free(buf);
	return rc == 0 ? 0 : rc == -ENOENT ? 1 : 2;
}
