/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_ROUTE_CLI_H
#define MG_ROUTE_CLI_H

#include <stdio.h>

#include "mg_config.h"
#include "route.h"

/* GW_HOST_IP / GW_SIP_PORT from the configuration: per transport the first
 * user agent's port; the address from mediagate.sip.contactHost, else the
 * first user agent bound to a specific address, else the first non-loopback
 * IPv4 address, else 127.0.0.1. @p ipbuf backs env->host_ip. */
void route_env_from_settings(const struct mg_config *cfg, struct route_env *env, char *ipbuf, size_t iplen);

/* Warn (log) about each dry-run parameter that no rule could see the way it
 * is given: not a name the call engine sets (with "did you mean"), or not
 * read by any condition of @p t. Returns the number of warnings. */
unsigned route_cli_check_params(const struct route_table *t, const struct route_kv *kv, size_t n);

/* Dry run of `--route 'name=value,...'` against the configured rules file.
 * Returns the process exit status: 0 routed, 1 no route, 2 error. */
int route_cli_main(const struct mg_config *cfg, const char *spec, FILE *out);

#endif
