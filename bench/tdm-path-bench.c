/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tdm-path-bench: how many channels one dataplane TDM thread carries with
 * the whole per-channel media work of dataplane/tdm (tdm_media.c), and its
 * CPU use. Channels are socketpairs (the channel layer's socketpair backend);
 * a "line" thread plays the far end of every channel: one 160-byte block of
 * speech-like noise in, and the block the TDM side wrote out, every 20 ms.
 * The TDM thread waits on a 20 ms timer (as dataplane/tdm does) and, per
 * channel and period: reads the block, runs tdm -> RTP (echo canceller if
 * on, DTMF detector, G.711 A-law span -> PCMU call, RTP header), feeds each
 * packet back as received RTP (PCMU -> A-law, jitter buffer: a loop-back
 * peer), and writes the jitter buffer's frame.
 *
 * Rows per channel count, same run:
 *   io        read + write only: the baseline (cost of the channel loop)
 *   media     + RTP framing, law conversion, DTMF detection, jitter buffer
 *   media+ec  + the NLMS line echo canceller (128 taps)
 * Not measured here: the DPDK rings and the workers' SRTP (see srtp-bench
 * and dp-bench for those).
 *
 *   tdm-path-bench [--channels 30,120,240,480] [--seconds 2] [--csv]
 *
 * CPU % is the TDM thread's own CPU time (100 = one core). Prints; never asserts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mg_tdm_chan.h"
#include "tdm_media.h"

#define MAX_CHANS 960

enum mode { MODE_IO, MODE_MEDIA, MODE_MEDIA_EC, MODE__COUNT };
static const char *const mode_names[] = { "io", "media", "media+ec" };

struct run {
	enum mode mode;
	unsigned n;
	double seconds;
	struct mg_tdm_chan *tdm[MAX_CHANS], *line[MAX_CHANS];
	struct tdmm_chan *media[MAX_CHANS];
	volatile int stop;
	/* results */
	uint64_t frames;          /* blocks the TDM thread read */
	uint64_t periods, late;   /* timer periods, of which > 1 at once */
	double cpu_s, wall_s;
	uint64_t line_frames;
};

static bool opt_csv;

static double ts_s(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *line_main(void *arg)
{
	struct run *r = arg;
	struct mg_tdm_timer *t;
	uint8_t buf[TDMM_FRAME];
	uint32_t rnd = 1;

	if (mg_tdm_timer_open_host(TDMM_FRAME, &t) < 0)
		return NULL;
	while (!r->stop) {
		struct pollfd p = { t->fd, t->events, 0 };

		if (poll(&p, 1, 100) <= 0)
			continue;
		mg_tdm_timer_ack(t);
		for (unsigned c = 0; c < r->n; c++) {
			/* near-end speech stand-in: noise, different per channel */
			for (int i = 0; i < TDMM_FRAME; i++) {
				rnd = rnd * 1103515245u + 12345u;
				buf[i] = (uint8_t)(rnd >> 24);
			}
			mg_tdm_chan_write(r->line[c], buf, TDMM_FRAME);
			while (mg_tdm_chan_read(r->line[c], buf, sizeof(buf)) > 0)
				r->line_frames++;
		}
	}
	mg_tdm_timer_close(t);
	return NULL;
}

static void *tdm_main(void *arg)
{
	struct run *r = arg;
	struct mg_tdm_timer *t;
	uint8_t frame[MG_TDM_MAX_BLOCK];
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
	uint16_t len[TDMM_MAX_OUT];
	double c0, w0;
	uint64_t us = 0;

	if (mg_tdm_timer_open_host(TDMM_FRAME, &t) < 0)
		return NULL;
	c0 = ts_s(CLOCK_THREAD_CPUTIME_ID);
	w0 = ts_s(CLOCK_MONOTONIC);
	while (!r->stop) {
		struct pollfd p = { t->fd, t->events, 0 };
		int periods;

		if (poll(&p, 1, 100) <= 0)
			continue;
		periods = mg_tdm_timer_ack(t);
		if (periods <= 0)
			continue;
		r->periods++;
		r->late += periods > 1;
		us += 20000;
		bool drain = r->periods % 50 == 49;

		for (unsigned c = 0; c < r->n; c++) {
			unsigned reads = 0;

			/* as dataplane/tdm: one block per period, drained once a second */
			while ((drain || reads++ < (unsigned)periods) &&
			       mg_tdm_chan_read(r->tdm[c], frame, sizeof(frame)) == TDMM_FRAME) {
				r->frames++;
				if (r->mode == MODE_IO)
					continue;
				unsigned np = tdmm_from_tdm(r->media[c], frame, pkt, len);

				for (unsigned k = 0; k < np; k++) /* the loop-back peer */
					tdmm_from_rtp(r->media[c], pkt[k], len[k], us);
			}
			for (int k = 0; k < (periods > 4 ? 4 : periods); k++) {
				if (r->mode != MODE_IO)
					tdmm_to_tdm(r->media[c], frame);
				mg_tdm_chan_write(r->tdm[c], frame, TDMM_FRAME);
			}
		}
	}
	r->cpu_s = ts_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	r->wall_s = ts_s(CLOCK_MONOTONIC) - w0;
	mg_tdm_timer_close(t);
	return NULL;
}

static int run_one(struct run *r)
{
	struct mg_tdm_open_opts o = { .blocksize = TDMM_FRAME, .law = MG_LAW_ALAW, .set_law = true };
	pthread_t lt, tt;
	struct timespec d = { (time_t)r->seconds,
			      (long)((r->seconds - (double)(time_t)r->seconds) * 1e9) };
	int rc = 0;

	for (unsigned c = 0; c < r->n; c++) {
		struct tdmm_config mc = {
			.span_law = MG_LAW_ALAW, .call_law = MG_LAW_ULAW, .pt = 0, .event_pt = 101,
			.ssrc = c, .echo_cancel = r->mode == MODE_MEDIA_EC,
		};

		rc = mg_tdm_socketpair_open(c + 1, &o, &r->tdm[c], &r->line[c]);
		if (rc < 0) {
			fprintf(stderr, "socketpair %u: %s\n", c, strerror(-rc));
			return rc;
		}
		r->media[c] = tdmm_chan_new(&mc);
		if (r->media[c] == NULL)
			return -ENOMEM;
	}
	pthread_create(&tt, NULL, tdm_main, r);
	pthread_create(&lt, NULL, line_main, r);
	nanosleep(&d, NULL);
	r->stop = 1;
	pthread_join(tt, NULL);
	pthread_join(lt, NULL);
	for (unsigned c = 0; c < r->n; c++) {
		mg_tdm_chan_close(r->tdm[c]);
		mg_tdm_chan_close(r->line[c]);
		tdmm_chan_free(r->media[c]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "channels", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char chans[256] = "30,120,240,480";
	double seconds = 2;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:s:ch", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			snprintf(chans, sizeof(chans), "%s", optarg);
			break;
		case 's':
			seconds = atof(optarg);
			if (seconds < 0.2 || seconds > 600) {
				fprintf(stderr, "--seconds %s (allowed: 0.2..600)\n", optarg);
				return 2;
			}
			break;
		case 'c':
			opt_csv = true;
			break;
		default:
			fprintf(stderr, "usage: tdm-path-bench [--channels N,N,...] [--seconds S] "
					"[--csv]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	{
		char check[256];

		snprintf(check, sizeof(check), "%s", chans);
		for (char *sv = NULL, *t = strtok_r(check, ",", &sv); t != NULL;
		     t = strtok_r(NULL, ",", &sv)) {
			if (atoi(t) <= 0 || atoi(t) > MAX_CHANS) {
				fprintf(stderr, "channels %s (allowed: 1..%u)\n", t, MAX_CHANS);
				return 2;
			}
		}
	}
	if (opt_csv)
		printf("mode,channels,frames_per_s,expected,tdm_cpu_pct,us_per_channel_frame,"
		       "late_periods,periods\n");
	else
		printf("%-9s %8s %12s %10s %12s %16s %6s\n", "mode", "channels", "frames/s",
		       "expected", "TDM CPU %", "us/chan-frame", "late");
	for (char *save = NULL, *tok = strtok_r(chans, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned n = (unsigned)atoi(tok);

		if (n == 0 || n > MAX_CHANS) {
			fprintf(stderr, "channels %s (allowed: 1..%u)\n", tok, MAX_CHANS);
			return 2;
		}
		for (int m = 0; m < MODE__COUNT; m++) {
			struct run *r = calloc(1, sizeof(*r));

			if (r == NULL)
				return 1;
			r->mode = (enum mode)m;
			r->n = n;
			r->seconds = seconds;
			if (run_one(r) < 0)
				return 1;
			double fps = (double)r->frames / r->wall_s;
			double cpu = 100.0 * r->cpu_s / r->wall_s;
			double per = r->frames ? r->cpu_s * 1e6 / (double)r->frames : 0;

			if (opt_csv)
				printf("%s,%u,%.0f,%u,%.2f,%.3f,%" PRIu64 ",%" PRIu64 "\n",
				       mode_names[m], n, fps, n * 50, cpu, per, r->late, r->periods);
			else
				printf("%-9s %8u %12.0f %10u %12.2f %16.3f %6" PRIu64 "\n",
				       mode_names[m], n, fps, n * 50, cpu, per, r->late);
			fflush(stdout);
			free(r);
		}
	}
	return 0;
}
