/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tdm-path-bench: how many channels one dataplane TDM thread carries with
 * the whole per-channel media work of dataplane/tdm (tdm_media.c), its CPU
 * use, and what the line echo canceller achieves while it runs.
 *
 * The traffic is a telephone conversation (bench/tdm_scene.h: synthetic
 * speech for both parties, deterministic): the far end's speech arrives as
 * RTP (PCMU, one packet per 20 ms, through the channel's jitter buffer) and
 * is played to the TDM line; the line's hybrid returns it as an echo (4 ms
 * bulk delay, 8 ms dispersion, ERL 10 dB) with the near end's speech added,
 * in a script of far-only, near-only, double-talk and quiet stretches.
 *
 * 1. Echo canceller pass (no threads, one channel, bit-exact from run to
 *    run): the same calls frame by frame; per second of the conversation:
 *    who talks, echo and residual levels, ERLE over the far-only frames,
 *    and the share of samples on which the NLMS filter took a step (the
 *    Geigel double-talk detector holds it otherwise). ERLE = echo energy
 *    / residual energy, over frames where only the far end talks (the near
 *    end's script silent and an echo above -54 dBm0), measured on what goes
 *    out as RTP. The pass runs again without the canceller: tdm -> RTP's
 *    thread CPU time per frame with and without it is the canceller's
 *    own cost per channel.
 * 2. Rows per channel count, same run: channels are socketpairs (the
 *    channel layer's socketpair backend); a "line" thread plays the far
 *    side of every channel, answering each block the TDM side writes with
 *    the next block read back (echo of that block + near end: epoll, so
 *    the echo is aligned the way a TDM span's is: the block read in period
 *    k+1 carries the echo of the block written in period k). The TDM
 *    thread waits on a 20 ms timer (as dataplane/tdm does) and, per channel
 *    and period: reads the block, runs tdm -> RTP (echo canceller if on,
 *    DTMF detector, G.711 A-law span -> PCMU call, RTP header), takes the
 *    far end's next RTP packet (PCMU -> A-law, jitter buffer) and writes
 *    the jitter buffer's frame.
 *      io        read + write only: the baseline (cost of the channel loop)
 *      media     + RTP framing, law conversion, DTMF detection, jitter buffer
 *      media+ec  + the NLMS line echo canceller (128 taps, 16 ms)
 *    media and media+ec also decode each outgoing packet for the ERLE
 *    figure (~160 table look-ups and multiply-adds per frame, both rows).
 *    ERLE and adapt % of a row are over all its channels, frames from
 *    second TDM_SCENE_CONVERGED_S (4) on.
 * Not measured here: the DPDK rings and the workers' SRTP (see srtp-bench
 * and dp-bench for those).
 *
 *   tdm-path-bench [--channels 30,120,240,480] [--seconds 8] [--erle-seconds 20]
 *                  [--csv FILE] [--erle-csv FILE]
 *
 * CPU % is the TDM thread's own CPU time (100 = one core). Prints; never asserts.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "mg_tdm_chan.h"
#include "tdm_media.h"
#include "tdm_scene.h"

#define MAX_CHANS 960
#define MAX_SECONDS 600
#define RING 64                  /* line -> TDM thread: frames in flight per channel */
#define ECHO_MIN_E (TDMM_FRAME * 30.0 * 30.0) /* -54 dBm0: below, a far-end pause */
#define FAR_SSRC 0x0f0e0d0cu

enum mode { MODE_IO, MODE_MEDIA, MODE_MEDIA_EC, MODE__COUNT };
static const char *const mode_names[] = { "io", "media", "media+ec" };

/* What the line thread tells the TDM thread about block j of a channel:
 * the echo's energy in it, negative when the near end talks. */
struct chan_aux {
	struct tdm_line line;     /* line thread only */
	uint64_t j_line;          /* blocks the line wrote */
	uint64_t j_tdm;           /* blocks the TDM thread read */
	uint64_t written;         /* blocks the TDM thread wrote (= far-end packets sent) */
	double echo_e[RING];
};

/* ERLE accounting over far-only frames. */
struct erle_acc {
	double echo, res;
	uint64_t frames, muted;
};

struct run {
	enum mode mode;
	unsigned n;
	double seconds;
	const struct tdm_scene *scene;
	struct mg_tdm_chan *tdm[MAX_CHANS], *line[MAX_CHANS];
	struct tdmm_chan *media[MAX_CHANS];
	struct chan_aux *aux;
	volatile int stop;
	/* results */
	uint64_t frames;          /* blocks the TDM thread read */
	uint64_t misaligned;      /* read a period late: the echo of an older block */
	uint64_t periods, late;   /* timer periods, of which > 1 at once */
	double cpu_s, wall_s;
	struct erle_acc erle;     /* TDM thread only */
};

static double ts_s(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The far end's RTP packet k (PCMU). */
static void far_packet(const struct tdm_scene *s, uint64_t k, uint8_t *p)
{
	uint32_t ts = (uint32_t)(k * TDMM_FRAME);

	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(k >> 8);
	p[3] = (uint8_t)k;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(FAR_SSRC >> 24);
	p[9] = (uint8_t)(FAR_SSRC >> 16);
	p[10] = (uint8_t)(FAR_SSRC >> 8);
	p[11] = (uint8_t)FAR_SSRC;
	memcpy(p + TDMM_RTP_HDR, s->far_ulaw + (k * TDMM_FRAME) % TDM_SCENE_SAMPLES, TDMM_FRAME);
}

/* Residual energy of what tdmm_from_tdm() sent (PCMU audio); -1 if the
 * frame was not audio or muted by the DTMF detector (all silence). */
static double residual_energy(uint8_t pkt[][TDMM_PKT_MAX], const uint16_t *len, unsigned np)
{
	const uint8_t *pl = pkt[0] + TDMM_RTP_HDR;
	double e = 0;
	bool silent = true;

	if (np != 1 || len[0] != TDMM_PKT_MAX || (pkt[0][1] & 0x7f) != 0)
		return -1;
	for (unsigned i = 0; i < TDMM_FRAME; i++) {
		double v = mg_g711_ulaw_to_lin[pl[i]];

		e += v * v;
		silent &= pl[i] == 0xff;
	}
	return silent ? -1 : e;
}

/* Account block j: @p echo_e from the line (negative: near end talking). */
static void erle_add(struct erle_acc *a, double echo_e, double res_e)
{
	if (echo_e < ECHO_MIN_E)
		return; /* near end talking, or a far-end pause */
	if (res_e < 0) {
		a->muted++;
		return;
	}
	a->echo += echo_e;
	a->res += res_e;
	a->frames++;
}

static double erle_db(const struct erle_acc *a)
{
	if (a->frames == 0)
		return NAN;
	return 10 * log10(a->echo / (a->res > 0 ? a->res : 1));
}

static struct tdmm_chan *media_new(unsigned ssrc, bool ec)
{
	struct tdmm_config mc = {
		.span_law = MG_LAW_ALAW, .call_law = MG_LAW_ULAW, .pt = 0, .event_pt = 101,
		.ssrc = ssrc, .echo_cancel = ec,
	};

	return tdmm_chan_new(&mc);
}

/*
 * Pass 1: the conversation through one channel, frame by frame, in the TDM
 * thread's order (read block k = echo of the frame played in period k-1 +
 * near end; tdm -> RTP; far end's packet k in; frame k to play).
 */
static int erle_pass(const struct tdm_scene *s, unsigned seconds, FILE *csv, bool ec, double *us_per_frame)
{
	struct tdmm_chan *c = media_new(1, ec);
	double busy = 0;
	const bool quiet = !ec;
	struct tdm_line line;
	uint8_t played[TDMM_FRAME], rx[TDMM_FRAME], far[TDMM_PKT_MAX];
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
	uint16_t len[TDMM_MAX_OUT];
	struct erle_acc after = { 0 };
	uint64_t ad0 = 0, sm0 = 0;

	if (c == NULL)
		return -1;
	memset(&line, 0, sizeof(line));
	if (!quiet) {
		printf("# echo canceller pass: one channel, the conversation frame by frame (deterministic); "
		       "echo path %d ms bulk + %d ms dispersion, ERL %.0f dB, speech at %.0f dBm0\n",
		       TDM_SCENE_H_DELAY / 8, TDM_SCENE_H_DISP / 8, s->erl_db, TDM_SCENE_LEVEL_DBM0);
		printf("%4s %-6s %10s %10s %13s %8s %8s %7s\n", "sec", "talk", "far dBm0", "echo dBm0",
		       "residual dBm0", "ERLE dB", "adapt %", "resets");
		if (csv)
			fprintf(csv, "second,talk,far_dbm0,echo_dbm0,residual_dbm0,erle_db,adapt_pct,ec_resets\n");
	}
	for (unsigned sec = 0; sec < seconds; sec++) {
		struct erle_acc a = { 0 };
		double far_e = 0, far_n = 0, echo_all = 0, echo_n = 0;

		for (unsigned f = 0; f < 50; f++) {
			uint64_t k = (uint64_t)sec * 50 + f;
			bool near;
			double e = tdm_scene_line_frame(s, &line, k, true, k ? played : NULL, rx, &near);
			double t0 = ts_s(CLOCK_THREAD_CPUTIME_ID);
			unsigned np = tdmm_from_tdm(c, rx, pkt, len);
			const int16_t *fl = s->far + (k * TDMM_FRAME) % TDM_SCENE_SAMPLES;

			busy += ts_s(CLOCK_THREAD_CPUTIME_ID) - t0;
			erle_add(&a, near ? -1 : e, residual_energy(pkt, len, np));
			if (!near && e >= ECHO_MIN_E) {
				echo_all += e;
				echo_n += TDMM_FRAME;
			}
			for (unsigned i = 0; i < TDMM_FRAME; i++)
				far_e += (double)fl[i] * fl[i];
			far_n += TDMM_FRAME;
			far_packet(s, k, far);
			tdmm_from_rtp(c, far, sizeof(far), k * 20000);
			tdmm_to_tdm(c, played);
		}
		const struct tdmm_stats *st = tdmm_chan_stats(c);
		double adapt = st->ec_samples > sm0 ? 100.0 * (double)(st->ec_adapt_samples - ad0) /
							      (double)(st->ec_samples - sm0)
						    : 0;
		double erle = erle_db(&a);
		char es[16] = "-";

		ad0 = st->ec_adapt_samples;
		sm0 = st->ec_samples;
		if (!isnan(erle))
			snprintf(es, sizeof(es), "%.1f", erle);
		if (sec >= TDM_SCENE_CONVERGED_S) {
			after.echo += a.echo;
			after.res += a.res;
			after.frames += a.frames;
		}
		if (!quiet)
			printf("%4u %-6s %10.1f %10.1f %13.1f %8s %8.1f %7" PRIu64 "\n", sec,
			       tdm_talk_name(tdm_scene_talk(sec)), tdm_scene_dbm0(far_e, far_n),
			       tdm_scene_dbm0(echo_all, echo_n),
			       tdm_scene_dbm0(a.res, (double)a.frames * TDMM_FRAME), es, adapt, st->ec_resets);
		if (csv && !quiet)
			fprintf(csv, "%u,%s,%.2f,%.2f,%.2f,%s,%.2f,%" PRIu64 "\n", sec,
				tdm_talk_name(tdm_scene_talk(sec)), tdm_scene_dbm0(far_e, far_n),
				tdm_scene_dbm0(echo_all, echo_n),
				tdm_scene_dbm0(a.res, (double)a.frames * TDMM_FRAME), isnan(erle) ? "" : es, adapt,
				st->ec_resets);
	}
	*us_per_frame = busy * 1e6 / ((double)seconds * 50);
	if (!quiet) {
		const struct tdmm_stats *st = tdmm_chan_stats(c);

		printf("# ERLE after convergence (far-only frames from second %d on): %.1f dB; NLMS stepped on "
		       "%.1f %% of all samples; divergence resets %" PRIu64 "\n",
		       TDM_SCENE_CONVERGED_S, erle_db(&after),
		       st->ec_samples ? 100.0 * (double)st->ec_adapt_samples / (double)st->ec_samples : 0,
		       st->ec_resets);
	}
	tdmm_chan_free(c);
	return 0;
}

/* Line thread: the block read back for each block the TDM side wrote. */
static void line_respond(struct run *r, unsigned c, const uint8_t *played)
{
	struct chan_aux *a = &r->aux[c];
	uint8_t out[TDMM_FRAME];
	bool near;
	double e = tdm_scene_line_frame(r->scene, &a->line, a->j_line, true, played, out, &near);

	/* published before the block itself goes out */
	e = near ? -1 : e;
	__atomic_store(&a->echo_e[a->j_line % RING], &e, __ATOMIC_RELEASE);
	a->j_line++;
	mg_tdm_chan_write(r->line[c], out, TDMM_FRAME);
}

static void *line_main(void *arg)
{
	struct run *r = arg;
	struct epoll_event ev[64];
	uint8_t buf[MG_TDM_MAX_BLOCK];
	int ep = epoll_create1(0);

	if (ep < 0)
		return NULL;
	for (unsigned c = 0; c < r->n; c++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = c };

		epoll_ctl(ep, EPOLL_CTL_ADD, r->line[c]->fd, &e);
	}
	while (!r->stop) {
		int n = epoll_wait(ep, ev, 64, 100);

		for (int i = 0; i < n; i++) {
			unsigned c = ev[i].data.u32;

			while (mg_tdm_chan_read(r->line[c], buf, sizeof(buf)) == TDMM_FRAME)
				line_respond(r, c, buf);
		}
	}
	close(ep);
	return NULL;
}

static void *tdm_main(void *arg)
{
	struct run *r = arg;
	struct mg_tdm_timer *t;
	uint8_t frame[MG_TDM_MAX_BLOCK];
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX], far[TDMM_PKT_MAX];
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
		for (unsigned c = 0; c < r->n; c++) {
			struct chan_aux *a = &r->aux[c];
			unsigned reads = 0;

			/* every block owed: one per period while the line thread keeps up
			 * (block j answers the block written j-1 periods in); after it was
			 * late, the late one and the current one (at most 4). dataplane/tdm
			 * reads one per period and drains once a second, which a real span
			 * never needs: its blocks are clocked. Here a late block would
			 * leave the echo one period behind its reference for a second. */
			while (a->j_tdm <= a->written && reads++ < 4 &&
			       mg_tdm_chan_read(r->tdm[c], frame, sizeof(frame)) == TDMM_FRAME) {
				uint64_t j = a->j_tdm++;
				bool aligned = j == a->written;

				r->frames++;
				r->misaligned += !aligned;
				if (r->mode == MODE_IO)
					continue;
				unsigned np = tdmm_from_tdm(r->media[c], frame, pkt, len);

				if (aligned && j >= (uint64_t)TDM_SCENE_CONVERGED_S * 50) {
					double e;

					__atomic_load(&a->echo_e[j % RING], &e, __ATOMIC_ACQUIRE);
					erle_add(&r->erle, e, residual_energy(pkt, len, np));
				}
			}
			for (int k = 0; k < (periods > 4 ? 4 : periods); k++) {
				if (r->mode != MODE_IO) {
					far_packet(r->scene, a->written, far); /* the far end's next packet */
					tdmm_from_rtp(r->media[c], far, sizeof(far), us);
					tdmm_to_tdm(r->media[c], frame);
				}
				mg_tdm_chan_write(r->tdm[c], frame, TDMM_FRAME);
				a->written++;
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

	r->aux = calloc(r->n, sizeof(*r->aux));
	if (r->aux == NULL)
		return -ENOMEM;
	for (unsigned c = 0; c < r->n; c++) {
		rc = mg_tdm_socketpair_open(c + 1, &o, &r->tdm[c], &r->line[c]);
		if (rc < 0) {
			fprintf(stderr, "socketpair %u: %s\n", c, strerror(-rc));
			return rc;
		}
		r->media[c] = media_new(c, r->mode == MODE_MEDIA_EC);
		if (r->media[c] == NULL)
			return -ENOMEM;
		line_respond(r, c, NULL); /* block 0: nothing played yet */
	}
	pthread_create(&lt, NULL, line_main, r);
	pthread_create(&tt, NULL, tdm_main, r);
	nanosleep(&d, NULL);
	r->stop = 1;
	pthread_join(tt, NULL);
	pthread_join(lt, NULL);
	for (unsigned c = 0; c < r->n; c++) {
		mg_tdm_chan_close(r->tdm[c]);
		mg_tdm_chan_close(r->line[c]);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tdm-path-bench [--channels N,N,...] [--seconds S] [--erle-seconds S] [--csv FILE] "
		   "[--erle-csv FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "channels", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "erle-seconds", required_argument, NULL, 'e' },
		{ "csv", required_argument, NULL, 'c' },
		{ "erle-csv", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct tdm_scene scene;
	char chans[256] = "30,120,240,480";
	double seconds = 8;
	unsigned erle_seconds = 20;
	const char *csv_path = NULL, *erle_csv_path = NULL;
	FILE *csv = NULL, *erle_csv = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:s:e:c:E:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			snprintf(chans, sizeof(chans), "%s", optarg);
			break;
		case 's':
			seconds = atof(optarg);
			if (seconds < 0.2 || seconds > MAX_SECONDS) {
				fprintf(stderr, "--seconds %s (allowed: 0.2..%d)\n", optarg, MAX_SECONDS);
				return 2;
			}
			break;
		case 'e':
			erle_seconds = (unsigned)atoi(optarg);
			if (atoi(optarg) < 0 || erle_seconds > MAX_SECONDS) {
				fprintf(stderr, "--erle-seconds %s (allowed: 0..%d; 0 = skip the pass)\n", optarg,
					MAX_SECONDS);
				return 2;
			}
			break;
		case 'c':
			csv_path = optarg;
			break;
		case 'E':
			erle_csv_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
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
	if ((csv_path && !(csv = fopen(csv_path, "w"))) || (erle_csv_path && !(erle_csv = fopen(erle_csv_path, "w")))) {
		fprintf(stderr, "tdm-path-bench: %s: %s\n", csv && csv_path ? erle_csv_path : csv_path,
			strerror(errno));
		return 1;
	}
	tdm_scene_init(&scene);
	if (erle_seconds > 0) {
		double us_ec, us_plain;

		if (erle_pass(&scene, erle_seconds, erle_csv, true, &us_ec) < 0 ||
		    erle_pass(&scene, erle_seconds, NULL, false, &us_plain) < 0) {
			fprintf(stderr, "tdm-path-bench: %s\n", strerror(errno));
			return 1;
		}
		/* the same frames without the canceller: what it adds, alone */
		printf("# tdm -> RTP per frame (this pass, thread CPU time): %.2f us with the echo canceller, "
		       "%.2f us without: the canceller costs %.2f us per channel per 20 ms (%.3f %% of a core)\n\n",
		       us_ec, us_plain, us_ec - us_plain, (us_ec - us_plain) / 200.0);
	}
	if (csv)
		fprintf(csv, "mode,channels,frames_per_s,expected,tdm_cpu_pct,us_per_channel_frame,"
			     "late_periods,periods,misaligned_frames,adapt_pct,ec_resets,erle_db,erle_frames,muted_frames\n");
	printf("%-9s %8s %10s %9s %10s %14s %5s %7s %8s %8s\n", "mode", "channels", "frames/s", "expected",
	       "TDM CPU %", "us/chan-frame", "late", "misal.", "adapt %", "ERLE dB");
	for (char *save = NULL, *tok = strtok_r(chans, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned n = (unsigned)atoi(tok);

		for (int m = 0; m < MODE__COUNT; m++) {
			struct run *r = calloc(1, sizeof(*r));
			uint64_t smp = 0, adp = 0, resets = 0;
			char es[16] = "-", as[16] = "-";

			if (r == NULL)
				return 1;
			r->mode = (enum mode)m;
			r->n = n;
			r->seconds = seconds;
			r->scene = &scene;
			if (run_one(r) < 0)
				return 1;
			for (unsigned c = 0; c < n; c++) {
				const struct tdmm_stats *st = tdmm_chan_stats(r->media[c]);

				smp += st->ec_samples;
				adp += st->ec_adapt_samples;
				resets += st->ec_resets;
				tdmm_chan_free(r->media[c]);
			}
			double fps = (double)r->frames / r->wall_s;
			double cpu = 100.0 * r->cpu_s / r->wall_s;
			double per = r->frames ? r->cpu_s * 1e6 / (double)r->frames : 0;
			double erle = erle_db(&r->erle);

			if (!isnan(erle))
				snprintf(es, sizeof(es), "%.1f", erle);
			if (smp)
				snprintf(as, sizeof(as), "%.1f", 100.0 * (double)adp / (double)smp);
			if (csv)
				fprintf(csv, "%s,%u,%.0f,%u,%.2f,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s,%" PRIu64
					     ",%s,%" PRIu64 ",%" PRIu64 "\n",
					mode_names[m], n, fps, n * 50, cpu, per, r->late, r->periods, r->misaligned,
					smp ? as : "",
					resets, isnan(erle) ? "" : es, r->erle.frames, r->erle.muted);
			printf("%-9s %8u %10.0f %9u %10.2f %14.3f %5" PRIu64 " %7" PRIu64 " %8s %8s\n", mode_names[m],
			       n, fps, n * 50, cpu, per, r->late, r->misaligned, as, es);
			fflush(stdout);
			free(r->aux);
			free(r);
		}
	}
	if (csv)
		fclose(csv);
	if (erle_csv)
		fclose(erle_csv);
	return 0;
}
