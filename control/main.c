/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mediagate-control: SIP (sofia-sip), routing, SDP/SRTP negotiation, and the
 * client side of the control<->dataplane socket, on one su_root event loop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "calls.h"
#include "cli.h"
#include "dpclient.h"
#include "mg_build_config.h"
#include "mg_config.h"
#include "load.h"
#include "media.h"
#include "metrics.h"
#include "mg_log.h"
#include "ha.h"
#include "ng_cmd.h"
#include "ng_server.h"
#ifdef MG_HAVE_PRI
#include "pri_mgr.h"
#endif
#include "route.h"
#include "route_cli.h"
#include "sipua.h"
#include "tlscfg.h"

/* Everything the event loop's callbacks need. */
struct control {
	su_root_t *root;
	const char *config_path;
	struct mg_config *cfg_start; /* what the modules started with */
	struct mg_config *cfg;  /* current configuration; replaced on SIGHUP */
	struct dpc *dp;
	int sig_fd;
	su_wait_t sig_wait;
	int sig_index;          /* su_root registration of sig_fd */
	int exit_code;
	su_timer_t *media_tick; /* media_tick(): SRTP indexes, restartWait */
	const struct mg_settings *s_start; /* the SIP user agents start with it */
	bool sip_failed;        /* sip_start() failed (exit 2) */
	bool sip_up;
};

static struct control *ctl_g; /* main()'s, for on_ha_ready() */

/* The SIP user agents (and TLS credential checks) and the NG socket open
 * here: at once without Redis, else once this node's calls of a previous
 * run are read back and checked against the dataplane (ha_start(),
 * docs/ha-state.md "Control restart"); the calls read back send their
 * re-INVITEs before any SIP request is read. */
static void on_ha_ready(void)
{
	struct control *c = ctl_g;

	if (sip_start(c->root, c->s_start) < 0) {
		c->exit_code = 2;
		c->sip_failed = true;
		su_root_break(c->root);
		return;
	}
	c->sip_up = true;
	calls_check_routes();
	/* The NG control API (docs/ng.md) on the media layer; with no SIP
	 * user agent configured this is a pure media node. After the
	 * read-back too: an answer or delete of a session being read back
	 * would find none. */
	if (ng_cmd_start(c->root, c->s_start) < 0) {
		c->exit_code = 2;
		c->sip_failed = true;
		su_root_break(c->root);
		return;
	}
	calls_sip_open();
}

static void on_media_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)m;
	(void)t;
	(void)arg;
	media_tick();
}

/*
 * SIGHUP: load the file again; on success the new configuration replaces
 * the old one: the log settings, the routing rules and the call limits
 * (calls_reload()), the TLS certificate, key and trust store for new
 * connections (tlscfg_reload()) take effect, the rest at restart. On error the old one stays in force.
 */
static void control_reload(struct control *ctl)
{
	struct mg_config *cfg = mg_config_load(ctl->config_path, MG_CONFIG_ROLE_CONTROL, stderr);
	const struct mg_settings *old, *s;

	if (cfg == NULL) {
		MG_ERR("SIGHUP: %s has errors (listed above); keeping the running configuration",
		       ctl->config_path ? ctl->config_path : "(embedded defaults)");
		return;
	}
	old = mg_config_settings(ctl->cfg);
	s = mg_config_settings(cfg);
	mg_log_init("mediagate-control", s->log_level, s->log_syslog);
	if (strcmp(old->control_socket, s->control_socket) != 0)
		MG_WARN("SIGHUP: mediagate.control.socket changed to %s; takes effect on restart",
			s->control_socket);
	calls_reload(s);
	media_reload(s);
	load_reload(s);
	cli_reload(s);
	{
		char err[512];

		if (tlscfg_reload(s, err, sizeof(err)) < 0)
			MG_ERR("SIGHUP: %s; keeping the running TLS certificate, key and trust store",
			       err);
	}
	MG_INFO("SIGHUP: configuration reloaded from %s",
		ctl->config_path ? ctl->config_path : "(embedded defaults)");
	/* Modules keep pointers into the settings they started with (sockets,
	 * SIP user agents): that one lives until exit. A reload hook copies
	 * what it needs, so a later reloaded one can be freed at the next. */
	if (ctl->cfg != ctl->cfg_start)
		mg_config_free(ctl->cfg);
	ctl->cfg = cfg;
}

static int on_signal(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct control *ctl = arg;
	struct signalfd_siginfo si;

	(void)magic;
	(void)w;
	while (read(ctl->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			control_reload(ctl);
			continue;
		}
		MG_INFO("%s: stopping", strsignal((int)si.ssi_signo));
		su_root_break(ctl->root);
	}
	return 0;
}

static void on_dataplane_state(void *arg, bool up)
{
	(void)arg;
	calls_dataplane_state(up);
	media_dataplane_state(up);
	if (!up)
		MG_WARN("dataplane connection down: media sessions cannot be changed until it is "
			"back");
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mediagate-control [--config FILE] [--check] [--route PARAMS] [--help] [--version]\n"
		"  --config FILE  gw.properties to load (default: embedded defaults)\n"
		"  --check        validate, print the effective configuration, exit 0 or 2\n"
		"  --route PARAMS dry-run routing of a call, e.g. 'pstn.in.dnis=5551234,pstn.in.ani=5145550000':\n"
		"                 print the chosen rule and out-leg parameters, exit 0, 1 (no route) or 2\n");
}

/*
 * --check: the configuration file was valid; now what the start-up would
 * refuse beyond it, without starting anything: the TLS credentials of a
 * /tls user agent (files, key password, key vs certificate, dates, trust
 * store, cipher lists) and the routing rules file. 0 or 2, as the start.
 */
static int control_check(struct mg_config *cfg, const char *path)
{
	const struct mg_settings *s = mg_config_settings(cfg);
	struct route_table *t;
	char err[1024];
	bool tls = false;
	int rc = 0;

	mg_config_print(cfg, stdout);
	for (unsigned i = 0; i < s->n_ua; i++)
		tls |= s->ua[i].transport == MG_TRANSPORT_TLS;
	if (tls) {
		/* only what is wrong or doubtful: the start's info lines are noise here */
		mg_log_init("mediagate-control", MG_LOG_WARN, false);
		if (tlscfg_init(s, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			rc = 2;
		}
		tlscfg_fini();
	}
	t = route_table_load(s->routing_rules_file, err, sizeof(err));
	if (t != NULL) {
		struct route_env env;
		char ip[64];

		/* rules whose sip.out.transport has no user agent: warned */
		route_env_from_settings(cfg, &env, ip, sizeof(ip));
		route_table_check_env(t, &env);
		route_table_unref(t);
	} else if (errno == ENOENT) {
		/* not a fault of the file: the start runs and says the same */
		printf("# note: mediagate.routing.rulesFile %s does not exist: every INVITE gets "
		       "503 until it does (SIGHUP reloads)\n", s->routing_rules_file);
	} else {
		fprintf(stderr, "error: mediagate.routing.rulesFile: %s\n", err);
		rc = 2;
	}
	if (rc != 0)
		fprintf(stderr, "%s: configuration refused (the start would exit 2)\n",
			path != NULL ? path : "(embedded defaults)");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "route", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	int check = 0;
	const char *route_spec = NULL;
	int opt;

	mg_log_init("mediagate-control", MG_LOG_INFO, false);
	while ((opt = getopt_long(argc, argv, "c:ChVR:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'R':
			route_spec = optarg;
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
		int rc = control_check(cfg, config_path);

		mg_config_free(cfg);
		return rc;
	}
	if (route_spec != NULL) {
		int rc = route_cli_main(cfg, route_spec, stdout);

		mg_config_free(cfg);
		return rc;
	}
	const struct mg_settings *s = mg_config_settings(cfg);
	mg_log_init("mediagate-control", s->log_level, s->log_syslog);

	struct control ctl = { .config_path = config_path, .cfg = cfg, .cfg_start = cfg,
			       .sig_fd = -1,
			       .exit_code = 0 };
	sigset_t sigs;

	/* Signals arrive as events on the loop, never in the middle of a callback. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (su_init() != 0) {
		MG_ERR("sofia-sip su_init failed");
		mg_config_free(cfg);
		return 1;
	}
	ctl.root = su_root_create(NULL);
	ctl.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ctl.root == NULL || ctl.sig_fd < 0) {
		MG_ERR("cannot create the event loop: %s", strerror(errno));
		ctl.exit_code = 1;
		goto out;
	}
	su_wait_create(&ctl.sig_wait, ctl.sig_fd, SU_WAIT_IN);
	ctl.sig_index = su_root_register(ctl.root, &ctl.sig_wait, on_signal, &ctl,
					 su_pri_normal);

	ctl.dp = dpc_create(ctl.root, s, NULL);
	if (ctl.dp == NULL) {
		MG_ERR("dataplane client: mediagate.control.socket '%s': %s", s->control_socket,
		       strerror(errno));
		ctl.exit_code = 2;
		goto out;
	}
	dpc_on_state(ctl.dp, on_dataplane_state, &ctl);

#ifdef MG_HAVE_PRI
	/* ISDN PRI on the configured spans (docs/pri.md), before the call
	 * engine, which attaches to pri_default() */
	if (pri_start(ctl.root, s) < 0) {
		ctl.exit_code = 2;
		goto out;
	}
#endif
	/* The media layer first (with the load verdict it and the call engine
	 * ask before a new call): both front ends go through it. */
	if (load_start(ctl.root, s) < 0 || media_start(ctl.dp, s) < 0) {
		ctl.exit_code = 2;
		goto out;
	}
	/* The call engine; its SIP user agents open in on_ha_ready(). */
	if (calls_start(ctl.root, s) < 0) {
		ctl.exit_code = 2;
		goto out;
	}
	ctl.s_start = s;
	ctl_g = &ctl;
	ng_server_set_timing_hook(metrics_observe_ng);
	/* Session state in Redis (docs/ha-state.md): this node's calls and NG
	 * sessions of a previous run read back on the loop (each checked
	 * against the dataplane), then on_ha_ready() opens SIP and the NG
	 * socket; every call is published. Redis away is not fatal: retried
	 * in the background, SIP and NG open at mediagate.redis.readTimeout. */
	if (ha_start(ctl.root, s, on_ha_ready) < 0 || ctl.sip_failed) {
		ctl.exit_code = 2;
		goto out;
	}
	/* Prometheus /metrics (docs/operations.md): reads everything above.
	 * A port already taken (a second instance on the default) costs the
	 * metrics, not the calls: logged as an error, the gateway runs on. */
	if (metrics_start(ctl.root, s, ctl.dp) < 0)
		MG_ERR("metrics: running without /metrics");
	/* mgctl's socket (docs/operations.md "mgctl"). Not fatal: a gateway
	 * that cannot open it still carries calls; the error says why mgctl
	 * will not reach it (and mgctl exits 3). */
	if (cli_start(ctl.root, s, ctl.dp) < 0)
		MG_ERR("cli: mgctl cannot reach this control plane (mediagate.control.cliSocket)");

	ctl.media_tick = su_timer_create(su_root_task(ctl.root), 1000);
	if (ctl.media_tick != NULL)
		su_timer_set_for_ever(ctl.media_tick, on_media_tick, NULL);
	MG_INFO("mediagate-control %s running (dataplane socket %s)", MG_VERSION,
		s->control_socket);
	su_root_run(ctl.root);
	if (ctl.media_tick != NULL)
		su_timer_destroy(ctl.media_tick);
	ctl.media_tick = NULL;

	/* Scrapes first (they read everything else), then calls and SIP
	 * before the dataplane client: hanging up removes the media sessions. */
	metrics_stop();
	calls_stop();
	sip_stop();
out:
	metrics_stop();
	cli_stop();
	ng_cmd_stop();
	media_stop();
	ha_stop();
	load_stop();
#ifdef MG_HAVE_PRI
	pri_stop();
#endif
	dpc_destroy(ctl.dp);
	if (ctl.sig_index > 0)
		su_root_deregister(ctl.root, ctl.sig_index);
	if (ctl.root != NULL)
		su_root_destroy(ctl.root);
	if (ctl.sig_fd >= 0)
		close(ctl.sig_fd);
	su_deinit();
	if (ctl.cfg != ctl.cfg_start)
		mg_config_free(ctl.cfg);
	mg_config_free(ctl.cfg_start);
	return ctl.exit_code;
}
