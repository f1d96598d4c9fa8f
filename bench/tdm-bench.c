/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tdm-bench: how many channels one TDM thread moves (160 bytes per 20 ms per
 * channel, read one block, write one block back), through
 *   - emu: the real dahdi backend on the FUSE DAHDI emulator (every read,
 *     write and poll is a FUSE round trip through the kernel), and
 *   - socketpair: the same thread code on socketpairs, paced by a "line"
 *     thread: the baseline, i.e. the cost of the TDM loop itself.
 * Two ways to drive the thread: `poll` (poll() over all channel fds, handle
 * what is ready) and `tick` (wait for the 20 ms timer, then read every
 * channel non-blocking, as a timer-driven TDM thread does): the timer is
 * DAHDI's (the span clock, emulated) for emu, a timerfd for socketpair.
 * `engine` is tick plus the real per-frame work of bench/mg_tdm_engine:
 * A-law span to µ-law call and back, every block looped through a jitter
 * buffer.
 *
 *   tdm-bench [--backend emu|socketpair|both] [--mode poll|tick|engine|both|all]
 *             [--channels 30,120,240] [--seconds 2] [--emu PATH] [--csv]
 *
 * CPU % is per thread (100 = one core); "far end" is the emulated other
 * side (emu) or the line thread (socketpair); "emulator" is the dahdi-emu
 * process. Prints; never asserts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mg_build_config.h"
#include "mg_tdm_chan.h"
#include "mg_tdm_engine.h"

#define MAX_CHANS 480
#define E1_BCHANS 30
#define TICK_NS 20000000L

enum side_role { ROLE_TDM, ROLE_ECHO, ROLE_LINE };
enum mode { MODE_POLL, MODE_TICK, MODE_ENGINE };

static const char *const mode_names[] = {"poll", "tick", "engine"};

struct side {
	enum side_role role;
	enum mode mode;
	struct mg_tdm_chan *ch[MAX_CHANS];
	unsigned n;
	struct mg_tdm_timer *timer; /* tick and engine modes of the TDM side */
	struct mg_tdm_engine *engine;
	uint16_t seq[MAX_CHANS];
	uint32_t ts[MAX_CHANS];
	pthread_t thr;
	uint64_t rx, tx, tx_full;
	volatile bool stop;
};

static bool opt_csv;

static uint64_t ts_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void ts_add(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

/* Read everything ready on channel i and answer each block with one block. */
static void drain(struct side *s, unsigned i, uint8_t *buf)
{
	ssize_t n;

	while ((n = mg_tdm_chan_read(s->ch[i], buf, MG_TDM_BLOCK)) > 0) {
		__atomic_add_fetch(&s->rx, 1, __ATOMIC_RELAXED);
		if (s->role == ROLE_LINE)
			continue;
		if (mg_tdm_chan_write(s->ch[i], buf, (size_t)n) == n)
			__atomic_add_fetch(&s->tx, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&s->tx_full, 1, __ATOMIC_RELAXED);
	}
	if (n == -ENOMSG) {
		enum mg_tdm_event ev;

		mg_tdm_chan_get_event(s->ch[i], &ev, NULL);
	}
}

/* Engine mode: what the TDM side reads goes straight back as "RTP" (µ-law
 * call on an A-law span), through the jitter buffer, to the line. */
static void engine_rx(void *arg, unsigned port, const uint8_t *payload, size_t len)
{
	struct side *s = arg;

	__atomic_add_fetch(&s->rx, 1, __ATOMIC_RELAXED);
	mg_tdm_engine_push(s->engine, port, s->seq[port]++, s->ts[port], payload, len,
			   ts_ns(CLOCK_MONOTONIC) / 1000);
	s->ts[port] += (uint32_t)len;
}

static void *side_main(void *arg)
{
	struct side *s = arg;
	struct pollfd *p = calloc(s->n, sizeof(*p));
	uint8_t buf[MG_TDM_BLOCK];
	struct timespec next;

	if (!p)
		return NULL;
	memset(buf, 0x55, sizeof(buf));
	for (unsigned i = 0; i < s->n; i++)
		p[i] = (struct pollfd){.fd = s->ch[i]->fd, .events = POLLIN | POLLPRI};
	clock_gettime(CLOCK_MONOTONIC, &next);
	if (s->engine) {
		while (!s->stop)
			mg_tdm_engine_run_once(s->engine, 100);
		free(p);
		return NULL;
	}
	while (!s->stop) {
		if (s->role == ROLE_LINE || s->mode == MODE_TICK) {
			if (s->timer) {
				/* the span's clock (DAHDI timer) or the host's (timerfd) */
				struct pollfd tp = {.fd = s->timer->fd, .events = s->timer->events};

				if (poll(&tp, 1, 100) <= 0 || mg_tdm_timer_ack(s->timer) <= 0)
					continue;
			} else {
				ts_add(&next, TICK_NS);
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
			}
			for (unsigned i = 0; i < s->n; i++) {
				if (s->role == ROLE_LINE) {
					/* the line: one block per channel per tick */
					if (mg_tdm_chan_write(s->ch[i], buf, MG_TDM_BLOCK) ==
					    MG_TDM_BLOCK)
						__atomic_add_fetch(&s->tx, 1, __ATOMIC_RELAXED);
					else
						__atomic_add_fetch(&s->tx_full, 1, __ATOMIC_RELAXED);
				}
				drain(s, i, buf);
			}
			continue;
		}
		if (poll(p, s->n, 100) <= 0)
			continue;
		for (unsigned i = 0; i < s->n; i++)
			if (p[i].revents)
				drain(s, i, buf);
	}
	free(p);
	return NULL;
}

static uint64_t thread_cpu_ns(pthread_t t)
{
	clockid_t id;

	if (pthread_getcpuclockid(t, &id))
		return 0;
	return ts_ns(id);
}

static uint64_t proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;
	char *p;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* fields after the command: state ppid ... utime(14) stime(15) */
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
		return ut + st;
	return 0;
}

struct result {
	const char *backend, *mode;
	unsigned n;
	double fps, expected, cpu_tdm, cpu_far, cpu_emu, tx_full;
};

static void print_result(const struct result *r)
{
	if (opt_csv)
		printf("%s,%s,%u,%.0f,%.0f,%.1f,%.1f,%.1f,%.0f\n", r->backend, r->mode, r->n, r->fps,
		       r->expected, r->cpu_tdm, r->cpu_far, r->cpu_emu, r->tx_full);
	else
		printf("%-10s %-6s %8u %12.0f %12.0f %9.1f %9.1f %9.1f %9.0f\n", r->backend,
		       r->mode, r->n, r->fps, r->expected, r->cpu_tdm, r->cpu_far, r->cpu_emu,
		       r->tx_full);
	fflush(stdout);
}

/* What measure() reads at the start and the end of the window. */
struct sample {
	uint64_t wall, cpu_a, cpu_b, emu, rx, tx_full;
};

static void take_sample(struct side *a, struct side *b, pid_t emu_pid, struct sample *s)
{
	s->wall = ts_ns(CLOCK_MONOTONIC);
	s->cpu_a = thread_cpu_ns(a->thr);
	s->cpu_b = thread_cpu_ns(b->thr);
	s->emu = proc_cpu_ticks(emu_pid);
	s->rx = __atomic_load_n(&a->rx, __ATOMIC_RELAXED);
	s->tx_full = __atomic_load_n(&a->tx_full, __ATOMIC_RELAXED);
}

/* Run both sides for @p secs and report the TDM side. */
static void measure(struct side *a, struct side *b, pid_t emu_pid, double secs,
		    struct result *r)
{
	struct sample s0, s1;
	long hz = sysconf(_SC_CLK_TCK);

	a->stop = b->stop = false;
	a->rx = a->tx = a->tx_full = b->rx = b->tx = b->tx_full = 0;
	pthread_create(&a->thr, NULL, side_main, a);
	pthread_create(&b->thr, NULL, side_main, b);
	usleep(300000); /* warm up: buffers settle */
	take_sample(a, b, emu_pid, &s0);
	usleep((useconds_t)(secs * 1e6));
	take_sample(a, b, emu_pid, &s1);
	a->stop = b->stop = true;
	pthread_join(a->thr, NULL);
	pthread_join(b->thr, NULL);

	double wall = (double)(s1.wall - s0.wall) / 1e9;
	r->fps = (double)(s1.rx - s0.rx) / wall;
	r->expected = 50.0 * r->n;
	r->cpu_tdm = 100.0 * (double)(s1.cpu_a - s0.cpu_a) / (double)(s1.wall - s0.wall);
	r->cpu_far = 100.0 * (double)(s1.cpu_b - s0.cpu_b) / (double)(s1.wall - s0.wall);
	r->cpu_emu = emu_pid > 0 ? 100.0 * (double)(s1.emu - s0.emu) / (double)hz / wall : 0;
	r->tx_full = (double)(s1.tx_full - s0.tx_full);
}

static int engine_setup(struct side *a)
{
	a->engine = mg_tdm_engine_new(a->n, a->timer, engine_rx, a);
	if (!a->engine)
		return -1;
	for (unsigned i = 0; i < a->n; i++) {
		a->seq[i] = 0;
		a->ts[i] = i * 1000;
		if (mg_tdm_engine_attach(a->engine, a->ch[i], MG_LAW_ULAW, NULL) < 0) {
			mg_tdm_engine_free(a->engine);
			a->engine = NULL;
			return -1;
		}
	}
	return 0;
}

static void close_all(struct side *s)
{
	for (unsigned i = 0; i < s->n; i++)
		mg_tdm_chan_close(s->ch[i]);
	s->n = 0;
}

/* Both sides are open (and the TDM side's timer unless polling): set up the
 * engine for its mode, measure, print, close everything. */
static int measure_and_close(struct side *a, struct side *b, enum mode mode, pid_t emu_pid,
			     double secs, struct result *r)
{
	int rc = 0;

	if (mode == MODE_ENGINE && engine_setup(a)) {
		rc = -1;
	} else {
		measure(a, b, emu_pid, secs, r);
		print_result(r);
		mg_tdm_engine_free(a->engine);
	}
	mg_tdm_timer_close(a->timer);
	close_all(a);
	close_all(b);
	return rc;
}

static int run_socketpair(unsigned n, enum mode mode, double secs)
{
	static struct side a, b;
	struct mg_tdm_open_opts o = {.law = MG_LAW_ALAW};
	struct result r = {.backend = "socketpair", .mode = mode_names[mode], .n = n};

	a = (struct side){.role = ROLE_TDM, .mode = mode};
	b = (struct side){.role = ROLE_LINE, .mode = MODE_TICK};
	for (unsigned i = 0; i < n; i++) {
		int rc = mg_tdm_socketpair_open(i + 1, &o, &a.ch[i], &b.ch[i]);

		if (rc) {
			fprintf(stderr, "tdm-bench: socketpair: %s\n", strerror(-rc));
			close_all(&a);
			close_all(&b);
			return rc;
		}
		a.n = b.n = i + 1;
	}
	if (mode != MODE_POLL && mg_tdm_timer_open_host(160, &a.timer)) {
		fprintf(stderr, "tdm-bench: no host timer\n");
		close_all(&a);
		close_all(&b);
		return -1;
	}
	return measure_and_close(&a, &b, mode, 0, secs, &r);
}

static pid_t emu_start(const char *emu, unsigned spans, char *mnt)
{
	char sp[16], path[512];
	pid_t pid;

	snprintf(sp, sizeof(sp), "%u", spans);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 2);
		execl(emu, emu, "-s", sp, mnt, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/channel", mnt);
	for (int i = 0; i < 100; i++) {
		if (access(path, F_OK) == 0)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void emu_stop(pid_t pid, const char *mnt)
{
	umount2(mnt, MNT_DETACH);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static int run_emu(const char *mnt, pid_t emu_pid, unsigned n, enum mode mode, double secs)
{
	static struct side a, b;
	struct mg_tdm_open_opts o = {.law = MG_LAW_ALAW, .set_law = true};
	struct result r = {.backend = "emu", .mode = mode_names[mode], .n = n};

	a = (struct side){.role = ROLE_TDM, .mode = mode};
	b = (struct side){.role = ROLE_ECHO, .mode = MODE_POLL};
	/* bearer k of the TDM side: E1 span 2j+1, the far end on span 2j+2 */
	for (unsigned i = 0; i < n; i++) {
		unsigned span_pair = i / E1_BCHANS, k = i % E1_BCHANS;
		unsigned pos = k < 15 ? k + 1 : k + 2; /* skip timeslot 16 */
		unsigned ca = span_pair * 62 + pos, cb = ca + 31;
		int rc = mg_tdm_dahdi_open(mnt, ca, &o, &a.ch[i]);

		if (!rc)
			rc = mg_tdm_dahdi_open(mnt, cb, &o, &b.ch[i]);
		if (rc) {
			fprintf(stderr, "tdm-bench: emu channel %u/%u: %s\n", ca, cb, strerror(-rc));
			mg_tdm_chan_close(a.ch[i]);
			close_all(&a);
			close_all(&b);
			return rc;
		}
		a.n = b.n = i + 1;
	}
	if (mode != MODE_POLL) {
		int rc = mg_tdm_timer_open_dahdi(mnt, 160, &a.timer);

		if (rc) {
			fprintf(stderr, "tdm-bench: emu timer: %s\n", strerror(-rc));
			close_all(&a);
			close_all(&b);
			return rc;
		}
	}
	return measure_and_close(&a, &b, mode, emu_pid, secs, &r);
}

static void usage(void)
{
	fprintf(stderr, "usage: tdm-bench [--backend emu|socketpair|both] "
			"[--mode poll|tick|engine|both|all]\n"
			"                 [--channels N,N,...] [--seconds S] [--emu PATH] [--csv]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"backend", required_argument, NULL, 'b'}, {"mode", required_argument, NULL, 'm'},
		{"channels", required_argument, NULL, 'n'}, {"seconds", required_argument, NULL, 's'},
		{"emu", required_argument, NULL, 'e'},      {"csv", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *backend = "both", *modes = "all";
	const char *emu = MG_BUILD_ROOT "/tests/dahdi-emu/dahdi-emu";
	char chans_arg[256] = "30,120,240";
	unsigned chans[16], nc = 0, maxn = 0;
	double secs = 2;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			backend = optarg;
			break;
		case 'm':
			modes = optarg;
			break;
		case 'n':
			snprintf(chans_arg, sizeof(chans_arg), "%s", optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'e':
			emu = optarg;
			break;
		case 'c':
			opt_csv = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	for (char *save = NULL, *t = strtok_r(chans_arg, ",", &save); t && nc < 16;
	     t = strtok_r(NULL, ",", &save)) {
		chans[nc] = (unsigned)atoi(t);
		if (chans[nc] < 1 || chans[nc] > MAX_CHANS) {
			fprintf(stderr, "tdm-bench: channel count '%s' outside 1..%d\n", t, MAX_CHANS);
			return 2;
		}
		if (chans[nc] > maxn)
			maxn = chans[nc];
		nc++;
	}
	if (secs <= 0 || secs > 60 || !nc) {
		usage();
		return 2;
	}
	bool do_emu = strcmp(backend, "socketpair") != 0;
	bool do_sp = strcmp(backend, "emu") != 0;
	bool do_poll = !strcmp(modes, "both") || !strcmp(modes, "all") || !strcmp(modes, "poll");
	bool do_tick = !strcmp(modes, "both") || !strcmp(modes, "all") || !strcmp(modes, "tick");
	bool do_engine = !strcmp(modes, "all") || !strcmp(modes, "engine");

	if (opt_csv)
		printf("backend,mode,channels,frames_per_s,expected_per_s,tdm_cpu_pct,"
		       "far_end_cpu_pct,emulator_cpu_pct,tx_refused\n");
	else
		printf("%-10s %-6s %8s %12s %12s %9s %9s %9s %9s\n", "backend", "mode", "channels",
		       "frames/s", "expected", "tdm CPU%", "far CPU%", "emu CPU%", "tx full");

	if (do_sp)
		for (unsigned i = 0; i < nc; i++) {
			if (do_poll)
				run_socketpair(chans[i], MODE_POLL, secs);
			if (do_tick)
				run_socketpair(chans[i], MODE_TICK, secs);
			if (do_engine)
				run_socketpair(chans[i], MODE_ENGINE, secs);
		}
	if (do_emu) {
		char dir[] = "/tmp/tdm-bench.XXXXXX", mnt[64];
		unsigned spans = 2 * ((maxn + E1_BCHANS - 1) / E1_BCHANS);
		pid_t pid;

		if (!mkdtemp(dir)) {
			perror("tdm-bench: mkdtemp");
			return 1;
		}
		snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
		mkdir(mnt, 0755);
		pid = emu_start(emu, spans, mnt);
		if (pid < 0) {
			fprintf(stderr, "tdm-bench: could not start %s (needs root and /dev/fuse)\n",
				emu);
		} else {
			for (unsigned i = 0; i < nc; i++) {
				if (do_poll)
					run_emu(mnt, pid, chans[i], MODE_POLL, secs);
				if (do_tick)
					run_emu(mnt, pid, chans[i], MODE_TICK, secs);
				if (do_engine)
					run_emu(mnt, pid, chans[i], MODE_ENGINE, secs);
			}
			emu_stop(pid, mnt);
		}
		rmdir(mnt);
		rmdir(dir);
	}
	return 0;
}
