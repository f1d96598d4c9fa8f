/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sip-load-client: a SIP call load tool on sofia-sip, for call-bench's ramp
 * over TLS (Debian's SIPp has no TLS, issue 14 item 4). Two modes:
 *
 *   uac  places --rate calls/s (--calls in all) to --target: INVITE with an
 *        SRTP offer (the SDP of tests/interop/call_uac.xml), 200 -> ACK,
 *        --hold-ms, BYE. Counts the 200s, the failures by final status, the
 *        calls with no final answer after the run (+ --timeout s) and the
 *        INVITE -> 200 time (microseconds, monotonic clock) and when the
 *        last 200 came (s from the start). At the end prints one JSON
 *        object on stdout.
 *   uas  answers every INVITE with 200 and a plain RTP/AVP answer, accepts
 *        ACK and BYE, until SIGTERM/SIGINT; then prints its counts as JSON.
 *
 *   sip-load-client --mode uac|uas --bind ADDR:PORT [--transport udp|tls]
 *                   [--target HOST:PORT] [--user-prefix uas] [--rate R]
 *                   [--calls N] [--hold-ms MS] [--timeout S]
 *                   [--cert PEM --key KEY --ca CA]
 *
 * TLS goes through the gateway's own TLS module (control/tls): client
 * certificate presented, the peer's chain and address verified, the uas
 * requires a client certificate (mutual TLS, as the gateway does).
 * A bench tool: it judges nothing, it counts.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct load;
struct call;
#define NUA_MAGIC_T struct load
#define NUA_HMAGIC_T struct call
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#include "mg_log.h"
#include "tlscfg.h"

static const char offer_sdp[] =
	"v=0\r\no=uac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	"m=audio 6000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
	"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
	"a=ptime:20\r\n";
static const char answer_sdp[] =
	"v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	"m=audio 6002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n";

struct call {
	nua_handle_t *nh;
	double t0;          /* INVITE sent, s (monotonic) */
	double bye_at;      /* hang up at, s */
	struct call *next;  /* bye queue (FIFO: one hold time, so due order) */
	bool answered;
};

struct load {
	su_root_t *root;
	nua_t *nua;
	bool uac;
	const char *target, *prefix, *transport;
	double rate, hold_s, start, limit; /* limit: give up at (monotonic s) */
	double last_ok;     /* when the last 200 came */
	long calls, sent, ok, failed, byes_ok, byes_failed, pending;
	long st_4xx, st_5xx, st_6xx, st_other;
	double *lat;        /* setup times, s, of the 200s */
	long nlat;
	struct call *bq_head, *bq_tail;
	/* uas */
	long invites, answered, byes_in;
	bool done;
};

static volatile sig_atomic_t stop_req;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void call_end(struct load *l, struct call *c)
{
	if (c->nh)
		nua_handle_destroy(c->nh);
	free(c);
	l->pending--;
}

static void uac_place(struct load *l)
{
	struct call *c = calloc(1, sizeof(*c));
	char to[256];

	if (c == NULL)
		return;
	snprintf(to, sizeof(to), "sip:%s%ld@%s%s", l->prefix, l->sent, l->target,
		 strcmp(l->transport, "tls") == 0 ? ";transport=tls" : "");
	c->nh = nua_handle(l->nua, c, SIPTAG_TO_STR(to), TAG_END());
	if (c->nh == NULL) {
		free(c);
		l->failed++;
		l->st_other++;
		l->sent++;
		return;
	}
	c->t0 = now_s();
	l->sent++;
	l->pending++;
	nua_invite(c->nh, NUTAG_URL(to), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
		   SIPTAG_PAYLOAD_STR(offer_sdp), TAG_END());
}

/* Every 2 ms: place the calls due by now at --rate, hang up the ones held long enough. */
static void uac_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct load *l = (struct load *)arg;
	double now = now_s();
	long due = (long)((now - l->start) * l->rate) + 1;

	(void)m;
	(void)t;
	if (due > l->calls)
		due = l->calls;
	while (l->sent < due)
		uac_place(l);
	while (l->bq_head && l->bq_head->bye_at <= now) {
		struct call *c = l->bq_head;

		l->bq_head = c->next;
		if (l->bq_head == NULL)
			l->bq_tail = NULL;
		nua_bye(c->nh, TAG_END());
	}
	if (stop_req || (l->sent >= l->calls && l->pending == 0) || now >= l->limit)
		su_root_break(l->root);
}

static void uac_event(struct load *l, nua_event_t ev, int status, struct call *c)
{
	if (c == NULL)
		return;
	if (ev == nua_r_invite && status >= 200 && !c->answered) {
		c->answered = true;
		if (status < 300) {
			l->ok++;
			l->last_ok = now_s();
			l->lat[l->nlat++] = l->last_ok - c->t0;
			c->bye_at = now_s() + l->hold_s;
			if (l->bq_tail)
				l->bq_tail->next = c;
			else
				l->bq_head = c;
			l->bq_tail = c;
			return;
		}
		l->failed++;
		if (status < 500)
			l->st_4xx++;
		else if (status < 600)
			l->st_5xx++;
		else if (status < 700)
			l->st_6xx++;
		else
			l->st_other++;
		call_end(l, c);
	} else if (ev == nua_r_bye && status >= 200) {
		if (status < 300)
			l->byes_ok++;
		else
			l->byes_failed++;
		call_end(l, c);
	}
}

static void uas_event(struct load *l, nua_t *nua, nua_event_t ev, nua_handle_t *nh, tagi_t tags[])
{
	if (ev == nua_i_invite) {
		l->invites++;
		nua_respond(nh, 200, "OK", NUTAG_WITH_THIS(nua),
			    SIPTAG_CONTENT_TYPE_STR("application/sdp"),
			    SIPTAG_PAYLOAD_STR(answer_sdp), TAG_END());
		l->answered++;
	} else if (ev == nua_i_bye) {
		l->byes_in++;
	} else if (ev == nua_i_state) {
		int state = -1;

		tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
		if (state == nua_callstate_terminated)
			nua_handle_destroy(nh);
	}
}

static void load_event(nua_event_t ev, int status, char const *phrase, nua_t *nua,
		       struct load *l, nua_handle_t *nh, struct call *c, sip_t const *sip,
		       tagi_t tags[])
{
	(void)phrase;
	(void)sip;
	if (ev == nua_r_shutdown) {
		if (status >= 200) {
			l->done = true;
			su_root_break(l->root);
		}
		return;
	}
	if (l->uac)
		uac_event(l, ev, status, c);
	else
		uas_event(l, nua, ev, nh, tags);
}

static void uas_tick(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)m;
	(void)t;
	if (stop_req)
		su_root_break(((struct load *)arg)->root);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
	if (n == 0)
		return NAN;
	long i = (long)(p * (double)n);

	return v[i >= n ? n - 1 : i];
}

/* JSON has no NaN: no value is null */
static const char *ms_json(char *buf, size_t len, double s)
{
	if (isnan(s))
		return "null";
	snprintf(buf, len, "%.3f", 1000.0 * s);
	return buf;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_req = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: sip-load-client --mode uac|uas --bind ADDR:PORT "
		"[--transport udp|tls] [--target HOST:PORT] [--user-prefix P] [--rate R] "
		"[--calls N] [--hold-ms MS] [--timeout S] [--cert PEM --key KEY --ca CA]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "bind", required_argument, NULL, 'b' },
		{ "transport", required_argument, NULL, 'T' },
		{ "target", required_argument, NULL, 't' },
		{ "user-prefix", required_argument, NULL, 'u' },
		{ "rate", required_argument, NULL, 'r' },
		{ "calls", required_argument, NULL, 'n' },
		{ "hold-ms", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	static struct mg_settings s;
	static struct load l;
	const char *mode = NULL, *bind = NULL;
	int opt, timeout = 10;
	bool tls;
	char url[300], err[512];

	l.transport = "udp";
	l.prefix = "uas";
	l.rate = 10;
	l.calls = 10;
	l.hold_s = 1.0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'b': bind = optarg; break;
		case 'T': l.transport = optarg; break;
		case 't': l.target = optarg; break;
		case 'u': l.prefix = optarg; break;
		case 'r': l.rate = atof(optarg); break;
		case 'n': l.calls = atol(optarg); break;
		case 'd': l.hold_s = atof(optarg) / 1000.0; break;
		case 'w': timeout = atoi(optarg); break;
		case 'c': snprintf(s.tls_cert_file, sizeof(s.tls_cert_file), "%s", optarg); break;
		case 'k': snprintf(s.tls_key_file, sizeof(s.tls_key_file), "%s", optarg); break;
		case 'a': snprintf(s.tls_trust_store, sizeof(s.tls_trust_store), "%s", optarg); break;
		default: usage(); return 2;
		}
	}
	tls = strcmp(l.transport, "tls") == 0;
	if (mode == NULL || bind == NULL || (strcmp(mode, "uac") && strcmp(mode, "uas")) ||
	    (!tls && strcmp(l.transport, "udp")) || l.rate <= 0 || l.calls < 0) {
		usage();
		return 2;
	}
	l.uac = strcmp(mode, "uac") == 0;
	if (l.uac && l.target == NULL) {
		fprintf(stderr, "sip-load-client: uac needs --target\n");
		return 2;
	}
	mg_log_init("sip-load-client", MG_LOG_WARN, false);
	if (tls) {
		s.tls_client_auth = MG_TLS_CLIENT_AUTH_REQUIRE;
		if (tlscfg_init(&s, err, sizeof(err)) < 0) {
			fprintf(stderr, "sip-load-client: %s\n", err);
			return 2;
		}
		snprintf(url, sizeof(url), "sips:%s;transport=tls", bind);
	} else {
		snprintf(url, sizeof(url), "sip:%s;transport=udp", bind);
	}
	l.lat = calloc((size_t)l.calls + 1, sizeof(double));
	if (l.lat == NULL)
		return 2;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	su_init();
	su_log_set_level(NULL, 0);
	l.root = su_root_create(NULL);
	const struct tlscfg_sofia *tc = tls ? tlscfg_sofia() : NULL;
	l.nua = nua_create(l.root, load_event, &l, NUTAG_URL(url),
			   TAG_IF(tls, TPTAG_CERTIFICATE(tc ? tc->cert_dir : NULL)),
			   TAG_IF(tls, TPTAG_TLS_VERIFY_POLICY(tc ? tc->verify_policy : 0)),
			   TAG_IF(tls, TPTAG_TLS_VERIFY_DATE(1)),
			   NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOACK(1),
			   NUTAG_ENABLEMESSAGE(0), TAG_END());
	if (l.nua == NULL) {
		fprintf(stderr, "sip-load-client: cannot create the user agent on %s\n", url);
		return 2;
	}
	if (tls)
		tlscfg_sofia_loaded();
	su_timer_t *tick = su_timer_create(su_root_task(l.root), 2);
	double t_end = 0;

	l.start = now_s();
	if (l.uac) {
		/* until every call ended; past the last call's hold + --timeout, stop */
		l.limit = l.start + (double)l.calls / l.rate + l.hold_s + timeout;
		su_timer_set_for_ever(tick, uac_tick, (su_timer_arg_t *)&l);
		su_root_run(l.root);
		t_end = now_s();
	} else {
		su_timer_set_for_ever(tick, uas_tick, (su_timer_arg_t *)&l);
		su_root_run(l.root);
		t_end = now_s();
	}
	su_timer_destroy(tick);
	nua_shutdown(l.nua);
	for (int i = 0; i < 100 && !l.done; i++)
		su_root_step(l.root, 50);

	if (l.uac) {
		qsort(l.lat, (size_t)l.nlat, sizeof(double), cmp_d);
		double sum = 0;
		char b0[32], b1[32], b2[32];

		for (long i = 0; i < l.nlat; i++)
			sum += l.lat[i];
		printf("{\"mode\":\"uac\",\"transport\":\"%s\",\"rate\":%.1f,\"offered\":%ld,"
		       "\"sent\":%ld,\"ok\":%ld,\"failed\":%ld,\"no_answer\":%ld,"
		       "\"failed_4xx\":%ld,\"failed_5xx\":%ld,\"failed_6xx\":%ld,"
		       "\"failed_other\":%ld,\"byes_ok\":%ld,\"byes_failed\":%ld,"
		       "\"setup_mean_ms\":%s,\"setup_p50_ms\":%s,\"setup_p99_ms\":%s,"
		       "\"last_200_s\":%.3f,\"elapsed_s\":%.3f}\n",
		       l.transport, l.rate, l.calls, l.sent, l.ok, l.failed,
		       l.sent - l.ok - l.failed, l.st_4xx, l.st_5xx, l.st_6xx, l.st_other,
		       l.byes_ok, l.byes_failed,
		       ms_json(b0, sizeof(b0), l.nlat ? sum / (double)l.nlat : NAN),
		       ms_json(b1, sizeof(b1), pct(l.lat, l.nlat, 0.50)),
		       ms_json(b2, sizeof(b2), pct(l.lat, l.nlat, 0.99)),
		       l.nlat ? l.last_ok - l.start : 0.0, t_end - l.start);
	} else {
		printf("{\"mode\":\"uas\",\"transport\":\"%s\",\"invites\":%ld,\"answered\":%ld,"
		       "\"byes\":%ld}\n", l.transport, l.invites, l.answered, l.byes_in);
	}
	fflush(stdout);
	nua_destroy(l.nua);
	su_root_destroy(l.root);
	su_deinit();
	if (tls)
		tlscfg_fini();
	free(l.lat);
	return 0;
}
