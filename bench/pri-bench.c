/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pri-bench: ISDN PRI call rate of the control plane's PRI manager
 * (control/pri) — two managers, network and user side of one E1 line, in one
 * su_root. Each call: SETUP → CALL PROCEEDING → ALERTING → CONNECT →
 * CONNECT ACK → DISCONNECT → RELEASE → RELEASE COMPLETE, with P calls in
 * flight at once (P = 1 and 30, a full E1). The line is a socketpair HDLC
 * pair, and, when MG_TDM_EMU_DIR names a mounted DAHDI emulator
 * (tests/dahdi-emu/tdm-emu-run), the emulator's D-channels 16 and 47
 * through the real dahdi backend (at most 200 calls there: the emulator
 * paces D-channel frames on its 20 ms clock). Prints calls/s, messages/s
 * and CPU time per call (both sides), and each row against the socketpair
 * P=1 baseline.
 *
 *   pri-bench [--calls N] [--csv]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libpri.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "mg_log.h"
#include "mg_tdm_chan.h"
#include "mg_tdm_sysconf.h"
#include "pri_mgr.h"

static const char sysconf_text[] = "span=1,1,0,ccs,hdb3,crc4\nspan=2,0,0,ccs,hdb3,crc4\n"
				   "bchan=1-15,17-31\ndchan=16\nbchan=32-46,48-62\ndchan=47\n";

static su_root_t *root;
static struct pri_mgr *net, *usr;
static unsigned target, placed, done, in_flight, parallel, failed;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void place_more(void)
{
	struct pri_call_req req = {.group = "span2", .dnis = "5551000", .ani = "5552000"};
	struct pri_call *c;

	while (in_flight < parallel && placed < target) {
		int rc = pri_call_place(usr, &req, NULL, &c);

		if (rc == -EBUSY)
			return; /* a channel is still being released */
		if (rc < 0) {
			failed++;
			placed++;
			continue;
		}
		placed++;
		in_flight++;
	}
}

static void on_incoming(void *arg, struct pri_call *c)
{
	(void)arg;
	pri_call_alerting(c, false);
	pri_call_answer(c);
}

static void on_answered(void *arg, struct pri_call *c)
{
	(void)arg;
	pri_call_hangup(c, 16);
	in_flight--;
	done++;
}

static void on_ended(void *arg, struct pri_call *c, int cause)
{
	(void)arg;
	(void)c;
	(void)cause;
	if (arg == &usr) { /* an outgoing call refused or lost */
		in_flight--;
		done++;
		failed++;
	}
}

struct row {
	const char *line;
	unsigned parallel, calls, failed;
	double secs, cpu;
};

static int run(const char *line, unsigned p, unsigned n, struct row *out)
{
	struct mg_tdm_sysconf *sc = calloc(1, sizeof(*sc));
	enum mg_tdm_role roles[MG_TDM_MAX_SPANS + 1] = {[1] = MG_TDM_ROLE_NT, [2] = MG_TDM_ROLE_TE};
	struct mg_tdm_group g[4];
	struct mg_tdm_open_opts o = {.hdlc = true};
	struct mg_tdm_chan *da, *db;
	struct pri_mgr_ops on = {.incoming = on_incoming, .arg = &net};
	struct pri_mgr_ops ou = {.answered = on_answered, .ended = on_ended, .arg = &usr};
	const char *dir = getenv("MG_TDM_EMU_DIR");
	double t0, c0, deadline;

	if (!sc || mg_tdm_sysconf_parse(sysconf_text, "bench", sc, stderr) < 0 ||
	    mg_tdm_groups_build(sc, roles, g, 4) != 2)
		return -1;
	free(sc);
	if (!strcmp(line, "emulator")) {
		if (mg_tdm_dahdi_open(dir, 16, &o, &da) < 0 || mg_tdm_dahdi_open(dir, 47, &o, &db) < 0)
			return -1;
	} else if (mg_tdm_socketpair_open(16, &o, &da, &db) < 0) {
		return -1;
	}
	net = pri_mgr_new(root, &on);
	usr = pri_mgr_new(root, &ou);
	if (!net || !usr ||
	    pri_mgr_add_span(net, 1, true, PRI_SWITCH_EUROISDN_E1, da, &g[0], MG_LAW_ALAW, 1) < 0 ||
	    pri_mgr_add_span(usr, 2, false, PRI_SWITCH_EUROISDN_E1, db, &g[1], MG_LAW_ALAW, 32) < 0)
		return -1;
	for (deadline = now_s() + 10; !(pri_mgr_span_up(net, 1) && pri_mgr_span_up(usr, 2));)
		if (su_root_step(root, 20), now_s() > deadline)
			return -1;
	target = n;
	parallel = p;
	placed = done = in_flight = failed = 0;
	t0 = now_s();
	c0 = cpu_s();
	deadline = t0 + 120;
	while ((done < target || pri_mgr_calls(net) || pri_mgr_calls(usr)) && now_s() < deadline) {
		place_more();
		su_root_step(root, 10);
	}
	*out = (struct row){.line = line, .parallel = p, .calls = done, .failed = failed,
			    .secs = now_s() - t0, .cpu = cpu_s() - c0};
	pri_mgr_free(net);
	pri_mgr_free(usr);
	return done == target ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"calls", required_argument, NULL, 'n'},
					     {"csv", no_argument, NULL, 'c'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *lines[2] = {"socketpair", "emulator"};
	unsigned n = 2000, n_lines = getenv("MG_TDM_EMU_DIR") ? 2 : 1, n_rows = 0;
	static const unsigned pars[] = {1, 30};
	struct row rows[4];
	bool csv = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:ch", opts, NULL)) != -1) {
		if (opt == 'n') {
			n = (unsigned)strtoul(optarg, NULL, 10);
		} else if (opt == 'c') {
			csv = true;
		} else {
			fprintf(stderr, "usage: %s [--calls N] [--csv]  (set MG_TDM_EMU_DIR for the "
				"emulator rows: run through tests/dahdi-emu/tdm-emu-run)\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (n == 0 || n > 1000000) {
		fprintf(stderr, "--calls %u: allowed 1..1000000\n", n);
		return 2;
	}
	mg_log_init("pri-bench", MG_LOG_ERR, false);
	su_init();
	root = su_root_create(NULL);
	for (unsigned l = 0; l < n_lines; l++) {
		for (unsigned p = 0; p < 2; p++) {
			/* the emulator moves D-channel frames on its 20 ms clock:
			 * fewer calls keep its rows to seconds */
			unsigned calls = l == 1 && n > 200 ? 200 : n;

			if (run(lines[l], pars[p], calls, &rows[n_rows]) < 0) {
				fprintf(stderr, "pri-bench: %s, %u in flight: did not complete\n",
					lines[l], pars[p]);
				return 1;
			}
			n_rows++;
		}
	}
	if (csv)
		printf("line,in_flight,calls,failed,seconds,calls_per_s,msgs_per_s,cpu_us_per_call,"
		       "vs_baseline\n");
	else
		printf("| line | in flight | calls | failed | s | calls/s | Q.931 msgs/s | CPU µs/call "
		       "(both sides) | vs socketpair, 1 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned i = 0; i < n_rows; i++) {
		const struct row *r = &rows[i];
		double rate = r->calls / r->secs, base = rows[0].calls / rows[0].secs;

		/* 8 Q.931 messages per call (SETUP .. RELEASE COMPLETE) */
		printf(csv ? "%s,%u,%u,%u,%.2f,%.0f,%.0f,%.0f,%.2f\n"
			   : "| %s | %u | %u | %u | %.2f | %.0f | %.0f | %.0f | %.2f |\n",
		       r->line, r->parallel, r->calls, r->failed, r->secs, rate, rate * 8,
		       r->cpu / r->calls * 1e6, rate / base);
	}
	su_root_destroy(root);
	su_deinit();
	return 0;
}
