/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mediagate-dataplane: DPDK poll-mode media engine; the main lcore serves the
 * control socket and is the only writer of the session tables.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "dp_ctl.h"
#include "dp_session.h"
#include "dp_tdm.h"
#include "dp_worker.h"
#include "mg_build_config.h"
#include "mg_config.h"
#include "mg_log.h"

#define EAL_MAX_ARGS 128

static void on_signal(int sig)
{
	(void)sig;
	dp_ctl_stop();
}

/* A device string is PCI if it starts like "0000:01:00.0" or "01:00.0". */
static int is_pci(const char *dev)
{
	unsigned a, b, c;
	char dot;

	return sscanf(dev, "%x:%x:%x.%c", &a, &b, &c, &dot) == 4 ||
	       sscanf(dev, "%x:%x.%c", &a, &b, &dot) == 3;
}

/*
 * EAL argv: program name, mediagate.dataplane.eal split on blanks (single or
 * double quotes group), a --vdev per virtual port device (PCI devices are
 * probed by dataplane/port), then whatever followed "--" on our command line.
 */
static int eal_argv_build(const struct mg_settings *s, char *store, size_t store_len,
			  char **argv, int extra_argc, char **extra_argv)
{
	static char prog[] = "mediagate-dataplane";
	static char vdev_opt[] = "--vdev";
	int argc = 0;
	size_t off = 0;
	const char *p = s->eal_args;

	/* the words after "--" and a --vdev pair per port must fit whatever the
	 * EAL string holds */
	if (extra_argc > EAL_MAX_ARGS - 2 * MG_CFG_MAX_PORTS - 1)
		return -E2BIG;
	argv[argc++] = prog;
	while (*p != '\0') {
		char quote = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (argc >= EAL_MAX_ARGS - 2 * MG_CFG_MAX_PORTS - extra_argc - 1)
			return -E2BIG;
		argv[argc++] = store + off;
		while (*p != '\0' && (quote || (*p != ' ' && *p != '\t'))) {
			if (!quote && (*p == '"' || *p == '\'')) {
				quote = *p++;
				continue;
			}
			if (quote && *p == quote) {
				quote = 0;
				p++;
				continue;
			}
			if (off + 1 >= store_len)
				return -E2BIG;
			store[off++] = *p++;
		}
		if (quote) {
			MG_ERR("mediagate.dataplane.eal: unterminated quote in '%s'", s->eal_args);
			return -EINVAL;
		}
		store[off++] = '\0';
	}
	for (unsigned i = 0; i < s->n_ports; i++) {
		if (is_pci(s->ports[i].devargs))
			continue;
		size_t dl = strlen(s->ports[i].devargs) + 1;

		if (off + dl > store_len)
			return -E2BIG;
		memcpy(store + off, s->ports[i].devargs, dl);
		argv[argc++] = vdev_opt;
		argv[argc++] = store + off;
		off += dl;
	}
	for (int i = 0; i < extra_argc; i++)
		argv[argc++] = extra_argv[i];
	argv[argc] = NULL;
	return argc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mediagate-dataplane [--config FILE] [--check] [--help] [--version]"
		" [-- EAL-ARGS...]\n"
		"  --config FILE  gw.properties to load (default: embedded defaults)\n"
		"  --check        validate, print the effective configuration, exit 0 or 2\n"
		"  -- EAL-ARGS    appended to mediagate.dataplane.eal (e.g. --file-prefix X)\n");
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

	mg_log_init("mediagate-dataplane", MG_LOG_INFO, false);
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
			printf("mediagate-dataplane %s\n", MG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}

	struct mg_config *cfg = mg_config_load(config_path, MG_CONFIG_ROLE_DATAPLANE, stderr);
	if (cfg == NULL)
		return 2;
	if (check) {
		mg_config_print(cfg, stdout);
		mg_config_free(cfg);
		return 0;
	}
	const struct mg_settings *s = mg_config_settings(cfg);
	mg_log_init("mediagate-dataplane", s->log_level, s->log_syslog);

	static char eal_store[sizeof(s->eal_args) + MG_CFG_MAX_PORTS * 256 + 16];
	char *eal_argv[EAL_MAX_ARGS + 1];
	int eal_argc = eal_argv_build(s, eal_store, sizeof(eal_store), eal_argv, argc - optind,
				      argv + optind);
	int rc = 2;

	if (eal_argc < 0) {
		MG_ERR("EAL arguments: %s", strerror(-eal_argc));
		goto out_cfg;
	}
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		MG_ERR("EAL init failed: %s (arguments from mediagate.dataplane.eal: '%s')",
		       rte_strerror(rte_errno), s->eal_args);
		goto out_cfg;
	}
	/* After EAL init: our handlers must win over anything EAL installed. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* Nothing to reload here (ports and EAL are fixed at start); a SIGHUP
	 * sent to both daemons must not kill the dataplane. */
	signal(SIGHUP, SIG_IGN);

	/* Ports, tables and workers start here (dataplane/port, session, worker). */

	if (dp_ctl_init(s) < 0)
		goto out_eal;
	if (dp_dataplane_init(s) < 0) {
		dp_ctl_stop();
		dp_dataplane_fini();
		dp_ctl_fini();
		goto out_eal;
	}
	if (dp_tdm_init(s) < 0)
		MG_WARN("TDM thread not started: TDM_BIND will be refused");
	dp_ctl_hook_add(dp_session_orphan_hook, NULL);
	MG_INFO("mediagate-dataplane %s running (main lcore %u)", MG_VERSION, rte_lcore_id());
	dp_ctl_run();
	MG_INFO("stopping");
	dp_tdm_fini();
	dp_dataplane_fini();
	dp_ctl_fini();
	rc = 0;
out_eal:
	rte_eal_cleanup();
out_cfg:
	mg_config_free(cfg);
	return rc;
}
