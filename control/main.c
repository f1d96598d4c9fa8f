/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mediagate-control: SIP (sofia-sip), routing, SDP/SRTP negotiation, and the
 * client side of the control<->dataplane socket, on one su_root event loop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "mg_build_config.h"
#include "mg_config.h"
#include "mg_log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mediagate-control [--config FILE] [--check] [--help] [--version]\n"
		"  --config FILE  gw.properties to load (default: embedded defaults)\n"
		"  --check        validate, print the effective configuration, exit 0 or 2\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	int check = 0;
	int opt;

	mg_log_init("mediagate-control", MG_LOG_INFO, false);
	while ((opt = getopt_long(argc, argv, "c:ChV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mediagate-control %s\n", MG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}

	struct mg_config *cfg = mg_config_load(config_path, MG_CONFIG_ROLE_CONTROL, stderr);
	if (cfg == NULL)
		return 2;
	if (check) {
		mg_config_print(cfg, stdout);
		mg_config_free(cfg);
		return 0;
	}
	const struct mg_settings *s = mg_config_settings(cfg);
	mg_log_init("mediagate-control", s->log_level, s->log_syslog);

	/* The event loop, SIP and the dataplane client are added by their modules. */
	mg_config_free(cfg);
	return 0;
}
