/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ng-bench-client: NG session setup load against one relay (bench/ng-bench
 * drives it, SPEC.md §8, §9).
 *
 *   ng-bench-client --addr 127.0.0.1:2223 [--sessions N] [--window W]
 *                   [--pid PID] [--timeout-ms T] [--tag S]
 *   ng-bench-client --sink [--sessions N] [--window W]   (client ceiling)
 *
 * Phase 1: N SRTP sessions set up, W requests in flight: offer (plain
 * RTP/AVP in, transport-protocol RTP/SAVP out: the relay makes an SRTP leg
 * with SDES keys), then on its reply the answer (RTP/SAVP + a=crypto in,
 * RTP/AVP out). All N are then held: the relay's RSS growth (VmRSS of
 * --pid) over phase 1 / N is its control memory per session. Phase 2: the N
 * deletes, W in flight. sessions/s = N / (phase 1 + phase 2 time), each
 * session being offer + answer + delete. Latency: every request's round
 * trip (p50, p99). A request unanswered for --timeout-ms is sent again with
 * the same cookie (the relay must answer it from its cookie cache).
 *
 * --sink answers every request itself from a second thread ("d6:result2:oke")
 * on 127.0.0.1: the same loop with a relay that costs nothing, i.e. the
 * ceiling of this client on this machine.
 *
 * Output: one line of JSON (sessions, seconds, sessions_per_s, p50_us,
 * p99_us, rss_base_kb, rss_held_kb, ctl_bytes_per_session, errors, retrans).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { ST_IDLE, ST_OFFER, ST_ANSWER, ST_HELD, ST_DELETE, ST_DONE, ST_FAILED };

struct sess {
	enum st st;
	uint64_t sent_ns;  /* first send of the pending request */
	uint64_t last_ns;  /* last (re)send */
	int len;           /* bytes of the pending request in buf */
	char *buf;
};

static struct sess *S;
static unsigned n_sess = 1000, window = 64;
static unsigned timeout_ms = 1000;
static uint64_t *lat;
static size_t n_lat;
static unsigned long errors, retrans;
static char tag[32] = "b";
static char first_error[256];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static long rss_kb(int pid)
{
	char p[64], line[256];
	long kb = -1;
	FILE *f;
	if (pid <= 0)
		return -1;
	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* bencode string "LEN:S" */
static int bstr(char *o, const char *s)
{
	return sprintf(o, "%zu:%s", strlen(s), s);
}

#define SDP_OFFER "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" \
	"m=audio %u RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
#define SDP_ANSWER "v=0\r\no=- 2 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n" \
	"m=audio %u RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" \
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"

/* Build session i's request for state st into its buffer. */
static void build(unsigned i, enum st st)
{
	char *o = S[i].buf, sdp[512], id[64];
	o += sprintf(o, "%u_%d d", i, (int)st);
	snprintf(id, sizeof(id), "%s-%u", tag, i);
	o += sprintf(o, "7:call-id");
	o += bstr(o, id);
	o += sprintf(o, "8:from-tag");
	snprintf(id, sizeof(id), "f%u", i);
	o += bstr(o, id);
	if (st == ST_OFFER) {
		o += sprintf(o, "7:command5:offer");
		o += sprintf(o, "4:DTLS3:off3:ICE6:remove7:replacel6:origin18:session-connectione");
		snprintf(sdp, sizeof(sdp), SDP_OFFER, 10000 + 2 * (i % 20000));
		o += sprintf(o, "3:sdp");
		o += bstr(o, sdp);
		o += sprintf(o, "18:transport-protocol8:RTP/SAVP");
	} else if (st == ST_ANSWER) {
		o += sprintf(o, "7:command6:answer");
		o += sprintf(o, "7:replacel6:origin18:session-connectione");
		snprintf(sdp, sizeof(sdp), SDP_ANSWER, 10000 + 2 * (i % 20000));
		o += sprintf(o, "3:sdp");
		o += bstr(o, sdp);
		snprintf(id, sizeof(id), "t%u", i);
		o += sprintf(o, "6:to-tag");
		o += bstr(o, id);
		o += sprintf(o, "18:transport-protocol7:RTP/AVP");
	} else {
		o += sprintf(o, "7:command6:delete");
	}
	o += sprintf(o, "e");
	S[i].len = (int)(o - S[i].buf);
	S[i].st = st;
}

static int xsend(int fd, unsigned i)
{
	ssize_t r = send(fd, S[i].buf, S[i].len, 0);
	if (r < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED)
		return -1;
	return r < 0 ? 1 : 0; /* 1: not sent now, the timeout sends it again */
}

/* The reply's result: 1 ok, 0 anything else (first one kept for the report). */
static int reply_ok(const char *b, size_t n)
{
	const char *r = memmem(b, n, "6:result", 8);
	if (r && (size_t)(b + n - r) >= 12 && !memcmp(r + 8, "2:ok", 4))
		return 1;
	if (!first_error[0])
		snprintf(first_error, sizeof(first_error), "%.*s", (int)(n < 200 ? n : 200), b);
	return 0;
}

/* Run phase: from state `from` (all sessions in it) to `to` via requests. */
static int phase(int fd, enum st want_first, unsigned *done_out)
{
	unsigned next = 0, inflight = 0, done = 0;
	char rb[65536];
	while (done < n_sess) {
		while (inflight < window && next < n_sess) {
			if (S[next].st == ST_FAILED) {
				next++;
				done++;
				continue;
			}
			build(next, want_first);
			S[next].sent_ns = S[next].last_ns = now_ns();
			if (xsend(fd, next) < 0)
				return -1;
			next++;
			inflight++;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, 5);
		uint64_t t = now_ns();
		if (pr > 0) {
			for (;;) {
				ssize_t n = recv(fd, rb, sizeof(rb) - 1, MSG_DONTWAIT);
				if (n <= 0)
					break;
				rb[n] = 0;
				unsigned i;
				int st;
				char *sp = memchr(rb, ' ', n);
				if (!sp || sscanf(rb, "%u_%d", &i, &st) != 2 || i >= n_sess || st != (int)S[i].st)
					continue; /* a late duplicate */
				t = now_ns();
				lat[n_lat++] = (t - S[i].last_ns) / 1000;
				int ok = reply_ok(sp + 1, n - (sp + 1 - rb));
				if (!ok) {
					errors++;
					S[i].st = ST_FAILED;
					inflight--;
					done++;
					continue;
				}
				if (S[i].st == ST_OFFER) {
					build(i, ST_ANSWER);
					S[i].sent_ns = S[i].last_ns = t;
					if (xsend(fd, i) < 0)
						return -1;
				} else {
					S[i].st = S[i].st == ST_ANSWER ? ST_HELD : ST_DONE;
					inflight--;
					done++;
				}
			}
		}
		/* retransmissions, same cookie */
		static unsigned scan;
		for (unsigned k = 0; k < 256 && n_sess; k++, scan = (scan + 1) % n_sess) {
			struct sess *s = &S[scan];
			if ((s->st == ST_OFFER || s->st == ST_ANSWER || s->st == ST_DELETE) &&
			    t - s->last_ns > (uint64_t)timeout_ms * 1000000ull) {
				if (t - s->sent_ns > 10ull * timeout_ms * 1000000ull) {
					s->st = ST_FAILED; /* 10 tries: given up */
					errors++;
					inflight--;
					done++;
					continue;
				}
				s->last_ns = t;
				retrans++;
				if (xsend(fd, scan) < 0)
					return -1;
			}
		}
	}
	*done_out = done;
	return 0;
}

/* --sink: answer everything with a canned ok from 127.0.0.1:port. */
static void *sink(void *arg)
{
	int fd = *(int *)arg;
	char b[65536], out[128];
	struct sockaddr_in from;
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		char *sp = memchr(b, ' ', n);
		if (!sp)
			continue;
		int cl = (int)(sp - b);
		int ol = snprintf(out, sizeof(out), "%.*s d6:result2:oke", cl, b);
		sendto(fd, out, ol, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: ng-bench-client (--addr HOST:PORT | --sink) [--sessions N] [--window W]\n"
			"                       [--pid PID] [--timeout-ms T] [--tag S]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	char addr[128] = "";
	int pid = 0, use_sink = 0;
	static const struct option lo[] = {
		{"addr", 1, 0, 'a'}, {"sessions", 1, 0, 'n'}, {"window", 1, 0, 'w'}, {"pid", 1, 0, 'p'},
		{"timeout-ms", 1, 0, 't'}, {"tag", 1, 0, 'g'}, {"sink", 0, 0, 's'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'a': snprintf(addr, sizeof(addr), "%s", optarg); break;
		case 'n': n_sess = (unsigned)atoi(optarg); break;
		case 'w': window = (unsigned)atoi(optarg); break;
		case 'p': pid = atoi(optarg); break;
		case 't': timeout_ms = (unsigned)atoi(optarg); break;
		case 'g': snprintf(tag, sizeof(tag), "%s", optarg); break;
		case 's': use_sink = 1; break;
		default: usage();
		}
	}
	if ((!addr[0] && !use_sink) || !n_sess || !window)
		usage();

	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (use_sink) {
		int sfd = socket(AF_INET, SOCK_DGRAM, 0);
		int big = 8 << 20;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		if (bind(sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("ng-bench-client: sink bind");
			return 1;
		}
		socklen_t l = sizeof(sa);
		getsockname(sfd, (struct sockaddr *)&sa, &l);
		pthread_t th;
		static int sfd_s;
		sfd_s = sfd;
		pthread_create(&th, NULL, sink, &sfd_s);
		pid = getpid();
	} else {
		char *colon = strrchr(addr, ':');
		if (!colon)
			usage();
		*colon = 0;
		sa.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
			fprintf(stderr, "ng-bench-client: %s: not an IPv4 address\n", addr);
			return 64;
		}
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int big = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("ng-bench-client: connect");
		return 1;
	}
	S = calloc(n_sess, sizeof(*S));
	lat = calloc(3ull * n_sess + 16, sizeof(*lat));
	if (!S || !lat)
		return 1;
	for (unsigned i = 0; i < n_sess; i++)
		S[i].buf = malloc(1024);

	long rss0 = rss_kb(pid);
	uint64_t t0 = now_ns();
	unsigned done;
	if (phase(fd, ST_OFFER, &done) < 0) {
		perror("ng-bench-client: send");
		return 1;
	}
	uint64_t t1 = now_ns();
	long rss1 = rss_kb(pid);
	unsigned held = 0;
	for (unsigned i = 0; i < n_sess; i++)
		held += S[i].st == ST_HELD;
	if (phase(fd, ST_DELETE, &done) < 0) {
		perror("ng-bench-client: send");
		return 1;
	}
	uint64_t t2 = now_ns();
	unsigned ok = 0;
	for (unsigned i = 0; i < n_sess; i++)
		ok += S[i].st == ST_DONE;

	qsort(lat, n_lat, sizeof(*lat), cmp64);
	double secs = (t2 - t0) / 1e9;
	uint64_t p50 = n_lat ? lat[n_lat / 2] : 0, p99 = n_lat ? lat[(n_lat * 99) / 100] : 0;
	double per = (use_sink || rss0 < 0 || rss1 < 0 || !held) ? -1 : (rss1 - rss0) * 1024.0 / held;
	printf("{\"sessions\": %u, \"completed\": %u, \"held\": %u, \"seconds\": %.3f, "
	       "\"setup_seconds\": %.3f, \"sessions_per_s\": %.1f, \"p50_us\": %llu, \"p99_us\": %llu, "
	       "\"rss_base_kb\": %ld, \"rss_held_kb\": %ld, \"ctl_bytes_per_session\": %.0f, "
	       "\"errors\": %lu, \"retrans\": %lu, \"first_error\": \"",
	       n_sess, ok, held, secs, (t1 - t0) / 1e9, ok / secs, (unsigned long long)p50,
	       (unsigned long long)p99, use_sink ? -1 : rss0, use_sink ? -1 : rss1, per, errors, retrans);
	for (const char *e = first_error; *e; e++)
		if (*e >= 32 && *e != '"' && *e != '\\')
			putchar(*e);
	printf("\"}\n");
	return ok == n_sess ? 0 : 1;
}
