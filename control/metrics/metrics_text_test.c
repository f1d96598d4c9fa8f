/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /metrics text: valid Prometheus exposition (promtool check metrics,
 * from Debian's prometheus package, when $PROMTOOL names it), every family
 * announced once with HELP and TYPE before its samples, every named drop
 * reason present, histograms cumulative and consistent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_text.h"
#include "mg_build_config.h"

static void fill(struct metrics_snapshot *s, bool with_dp)
{
	memset(s, 0, sizeof(*s));
	s->uptime_seconds = 12.5;
	s->have_calls = true;
	s->calls_active = 3;
	s->calls_offered = 10;
	s->calls_answered = 6;
	s->calls_failed = 4;
	s->calls_overload = 1;
	s->calls_media_timeout = 1;
	s->calls_ended = 7;
	s->sessions_offered = 1;
	s->sessions_answered = 2;
	s->sessions_created = 9;
	s->sessions_deleted = 6;
	s->sessions_timeout = 2; /* of the 6 */
	s->sessions_offer_timeout = 1;
	s->sessions_limit_refused = 4;
	s->sessions_load_refused = 5;
	s->ng_requests[METRICS_NG_OFFER] = 9;
	s->ng_requests[METRICS_NG_ANSWER] = 8;
	s->ng_errors = 1;
	s->have_ng_server = true;
	s->ng_decoded = 17;
	s->ng_replies = 17;
	for (unsigned c = 0; c < METRICS_NG_CMD_COUNT; c++) {
		s->ng_latency[c].bounds = metrics_ng_bounds;
		s->ng_latency[c].n_bounds = metrics_ng_n_bounds;
	}
	metrics_hist_observe(&s->ng_latency[METRICS_NG_OFFER], 0.0003);
	metrics_hist_observe(&s->ng_latency[METRICS_NG_OFFER], 0.002);
	metrics_hist_observe(&s->ng_latency[METRICS_NG_OFFER], 7.0);
	s->sip_setup.bounds = metrics_sip_bounds;
	s->sip_setup.n_bounds = metrics_sip_n_bounds;
	metrics_hist_observe(&s->sip_setup, 1.5);
	s->ports_total = 16384;
	s->have_redis = true;
	s->redis_connected = true;
	s->redis_writes = 5;
	s->redis_published = 6;
	s->redis_queued = 1;
	s->redis_standby = true;
	s->redis_watch_connected = false;
	s->redis_watch_errors = 4;
	s->redis_read_refused = 2;
	s->redis_peer_byes_failed = 3;
	s->redis_standby_calls = 7;
	s->redis_peer_alive_refused = 9;
	s->dp_connected = with_dp;
	s->dp_up = with_dp;
	s->dp_connects = 2;
	s->sessions_complete = with_dp;
	s->have_dp_stats = with_dp;
	if (with_dp) {
		s->dp.uptime_ns = 5000000000ull;
		s->dp.tsc_hz = 2000000000ull;
		s->dp.n_sessions = 2;
		s->dp.n_workers = 2;
		s->dp.n_ports = 1;
		s->dp.ports_used = 6;
		s->dp.rx_packets = 1000;
		s->dp.tx_packets = 990;
		s->dp.drops[MG_DROP_UNKNOWN_DEST] = 4;
		for (unsigned i = 0; i < 2; i++) {
			s->dp.workers[i].lcore = i + 1;
			s->dp.workers[i].packets = 500;
			s->dp.workers[i].busy_tsc = 500 * 1200;
			s->dp.workers[i].polls = 10000;
			s->dp.workers[i].idle_polls = 9500;
		}
	}
	s->traffic[METRICS_LEG_RTP][METRICS_DIR_RX].packets = 250;
	s->traffic[METRICS_LEG_RTP][METRICS_DIR_RX].bytes = 250 * 172;
	s->traffic[METRICS_LEG_SRTP][METRICS_DIR_RX].packets = 240;
	s->traffic[METRICS_LEG_SRTP][METRICS_DIR_RX].drops[MG_DROP_AUTH] = 3;
	s->traffic[METRICS_LEG_SRTP][METRICS_DIR_RX].drops[MG_DROP_REPLAY] = 2;
}

static char *render(const struct metrics_snapshot *s)
{
	struct metrics_buf b = { 0 };

	assert_int_equal(metrics_render(s, &b), 0);
	assert_non_null(b.p);
	assert_int_equal(strlen(b.p), b.len);
	return b.p;
}

/* promtool check metrics < text: exit 0 and nothing said. */
static void promtool_check(const char *text)
{
	const char *tool = getenv("PROMTOOL");
	char path[] = "/tmp/metrics_text_test.XXXXXX", cmd[512], out[4096];
	FILE *f, *p;
	size_t n;
	int fd, st;

	if (tool == NULL || tool[0] == '\0') {
		print_message("promtool not installed (Debian package prometheus): format checked "
			      "by this test only\n");
		return;
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' 2>&1", tool, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	unlink(path);
	if (n > 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("promtool check metrics (exit %d): %s", WEXITSTATUS(st), out);
}

/* Every family: HELP then TYPE once, before its samples, samples together. */
static void structure_check(const char *text)
{
	char *copy = strdup(text), *save = NULL, *line;
	char families[256][96];
	unsigned n_fam = 0;
	char cur[96] = "";

	assert_non_null(copy);
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[96];

		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%95s", name), 1);
			for (unsigned i = 0; i < n_fam; i++)
				if (strcmp(families[i], name) == 0)
					fail_msg("family %s announced twice", name);
			assert_true(n_fam < 256);
			snprintf(families[n_fam++], sizeof(families[0]), "%s", name);
			snprintf(cur, sizeof(cur), "%s", name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];

			assert_int_equal(sscanf(line + 7, "%95s %31s", name, type), 2);
			assert_string_equal(name, cur);
			if (strcmp(type, "counter") == 0 && strlen(name) > 6)
				assert_string_equal(name + strlen(name) - 6, "_total");
			continue;
		}
		assert_true(line[0] != '#');
		/* a sample of the current family (histograms: _bucket/_sum/_count) */
		size_t l = strcspn(line, "{ ");

		snprintf(name, sizeof(name), "%.*s", (int)l, line);
		if (strcmp(name, cur) != 0) {
			size_t cl = strlen(cur);

			if (strncmp(name, cur, cl) != 0 ||
			    (strcmp(name + cl, "_bucket") != 0 && strcmp(name + cl, "_sum") != 0 &&
			     strcmp(name + cl, "_count") != 0))
				fail_msg("sample %s outside its family (current %s)", name, cur);
		}
	}
	free(copy);
}

static void test_exposition_valid(void **state)
{
	struct metrics_snapshot s;
	char *t;

	(void)state;
	fill(&s, true);
	t = render(&s);
	structure_check(t);
	promtool_check(t);
	free(t);
	/* no dataplane figures at all (never answered) */
	fill(&s, false);
	t = render(&s);
	structure_check(t);
	promtool_check(t);
	assert_non_null(strstr(t, "\nmediagate_dataplane_up 0\n"));
	assert_null(strstr(t, "mediagate_worker_packets_total"));
	free(t);
}

static void test_values(void **state)
{
	struct metrics_snapshot s;
	char *t, want[160];

	(void)state;
	fill(&s, true);
	t = render(&s);
	assert_non_null(strstr(t, "\nmediagate_dataplane_up 1\n"));
	assert_non_null(strstr(t, "\nmediagate_dataplane_reconnects_total 1\n"));
	/* NG timeouts are part of the deleted sessions: terminated is the rest */
	assert_non_null(strstr(t, "\nmediagate_closed_sessions_total{reason=\"terminated\"} 3\n"));
	assert_non_null(strstr(t, "\nmediagate_closed_sessions_total{reason=\"timeout\"} 2\n"));
	assert_non_null(strstr(t, "\nmediagate_closed_sessions_total{reason=\"offer_timeout\"} 1\n"));
	assert_non_null(strstr(t, "\nmediagate_closed_sessions_total{reason=\"silent_timeout\"} 0\n"));
	/* offers shed by rate or loop lag are rejected sessions too */
	assert_non_null(strstr(t, "\nmediagate_rejected_sessions_total{cause=\"load_limit\"} 4\n"));
	assert_non_null(strstr(t, "\nmediagate_rejected_sessions_total{cause=\"overload\"} 5\n"));
	assert_non_null(strstr(t, "\nmediagate_packets_total{leg_type=\"rtp\",direction=\"rx\"} 250\n"));
	assert_non_null(strstr(t, "\nmediagate_bytes_total{leg_type=\"rtp\",direction=\"rx\"} 43000\n"));
	assert_non_null(strstr(t, "\nmediagate_srtp_auth_failures_total 3\n"));
	/* a standby whose watch is down is seen (docs/standby.md) */
	assert_non_null(strstr(t, "\nmediagate_redis_standby 1\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_watch_connected 0\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_watch_errors_total 4\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_read_refused_total 2\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_peer_byes_total{result=\"failed\"} 3\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_standby_calls 7\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_peer_alive_refused_total 9\n"));
	assert_non_null(strstr(t, "\nmediagate_redis_read_timeouts_total 0\n"));
	assert_non_null(strstr(t, "\nmediagate_ports_used 6\n"));
	assert_non_null(strstr(t, "\nmediagate_ports_free 16378\n"));
	assert_non_null(strstr(t, "\nmediagate_srtp_replay_failures_total 2\n"));
	assert_non_null(strstr(t, "\nmediagate_calls_total{outcome=\"failed\",cause=\"other\"} 3\n"));
	assert_non_null(strstr(t, "\nmediagate_worker_busy_cycles_per_packet{worker=\"1\",lcore=\"2\"} 1200\n"));
	snprintf(want, sizeof(want), "\nmediagate_drops_total{reason=\"%s\",scope=\"dataplane\"} 4\n",
		 mg_proto_drop_name(MG_DROP_UNKNOWN_DEST));
	assert_non_null(strstr(t, want));
	/* every named drop reason, both scopes, zeros included */
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++) {
		assert_string_not_equal(mg_proto_drop_name(r), "?");
		snprintf(want, sizeof(want), "mediagate_drops_total{reason=\"%s\",scope=\"session\"} ",
			 mg_proto_drop_name(r));
		assert_non_null(strstr(t, want));
		snprintf(want, sizeof(want), "mediagate_drops_total{reason=\"%s\",scope=\"dataplane\"} ",
			 mg_proto_drop_name(r));
		assert_non_null(strstr(t, want));
	}
	/* histogram: cumulative, +Inf = count, le inclusive */
	assert_non_null(strstr(t, "mediagate_ng_request_duration_seconds_bucket{request=\"offer\",le=\"0.00025\"} 0\n"));
	assert_non_null(strstr(t, "mediagate_ng_request_duration_seconds_bucket{request=\"offer\",le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(t, "mediagate_ng_request_duration_seconds_bucket{request=\"offer\",le=\"0.0025\"} 2\n"));
	assert_non_null(strstr(t, "mediagate_ng_request_duration_seconds_bucket{request=\"offer\",le=\"2.5\"} 2\n"));
	assert_non_null(strstr(t, "mediagate_ng_request_duration_seconds_bucket{request=\"offer\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(t, "mediagate_ng_request_duration_seconds_count{request=\"offer\"} 3\n"));
	assert_non_null(strstr(t, "mediagate_sip_setup_duration_seconds_bucket{le=\"2\"} 1\n"));
	assert_non_null(strstr(t, "mediagate_sip_setup_duration_seconds_bucket{le=\"1\"} 0\n"));
	free(t);
}

static void test_hist_and_names(void **state)
{
	struct metrics_hist h = { .bounds = metrics_ng_bounds, .n_bounds = metrics_ng_n_bounds };

	(void)state;
	metrics_hist_observe(&h, 0.001); /* exactly on a bound: that bucket (le) */
	metrics_hist_observe(&h, -1);    /* nonsense: counted as 0 */
	assert_int_equal(h.buckets[3], 1);
	assert_int_equal(h.buckets[0], 1);
	assert_int_equal(h.count, 2);
	assert_int_equal(metrics_ng_cmd_of("offer"), METRICS_NG_OFFER);
	assert_int_equal(metrics_ng_cmd_of("Answer"), METRICS_NG_ANSWER);
	assert_int_equal(metrics_ng_cmd_of("start recording"), METRICS_NG_OTHER);
	assert_int_equal(metrics_ng_cmd_of(""), METRICS_NG_OTHER);
	assert_int_equal(metrics_ng_cmd_of(NULL), METRICS_NG_OTHER);
	assert_string_equal(metrics_ng_cmd_name(METRICS_NG_STATISTICS), "statistics");
}

/* docs/operations.md, "Metrics", lists every family with its HELP text:
 * a metric added or reworded here without the docs fails. */
static void test_docs_list_every_metric(void **state)
{
	struct metrics_snapshot s;
	char *t, *doc, *save = NULL, *line;
	FILE *f = fopen(MG_SOURCE_ROOT "/docs/operations.md", "r");
	long n;

	(void)state;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	doc = calloc(1, (size_t)n + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	fill(&s, true);
	t = render(&s);
	for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[96], row[128];
		const char *help;

		if (strncmp(line, "# HELP ", 7) != 0)
			continue;
		assert_int_equal(sscanf(line + 7, "%95s", name), 1);
		help = line + 7 + strlen(name) + 1;
		snprintf(row, sizeof(row), "| `%s` |", name);
		if (strstr(doc, row) == NULL)
			fail_msg("docs/operations.md does not list %s", name);
		if (strstr(doc, help) == NULL)
			fail_msg("docs/operations.md: HELP of %s differs: \"%s\"", name, help);
	}
	free(t);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition_valid),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_hist_and_names),
		cmocka_unit_test(test_docs_list_every_metric),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
