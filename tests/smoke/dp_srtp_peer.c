/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test peer for the dataplane smoke tests: an ordinary UDP socket plus
 * Debian's libsrtp2 (the reference, not our engine) to protect what it sends
 * and check what it receives.
 *
 *   dp_srtp_peer send BIND_IP:PORT TO_IP:PORT [options]
 *   dp_srtp_peer recv BIND_IP:PORT [options]     prints one JSON line
 *
 * options: --key HEX (30 bytes key||salt; absent = plain RTP)
 *          --suite 80|32   --ssrc N  --count N  --seq N  --interval-us N
 *          --rtcp (RTCP sender reports)  --replay (send every packet twice)
 *          --tamper (flip one payload byte after protecting)
 *          --timeout-ms N (recv: stop after N ms without a packet)
 *
 * recv also says why unprotect failed (auth_fail, replay_fail: libsrtp's
 * verdicts) and the largest gap between two good packets: max_gap_ms and
 * resume_ms (CLOCK_REALTIME ms of the packet that ended it), for the
 * dataplane restart test (tests/ng/dp_restart_test.sh); and every gap of
 * more than 60 ms (the first 64) as [end_ms, gap_ms] in "gaps", for the
 * standby test (tests/ng/ha_standby_test.sh: the gap across a failover).
 *
 * RTP payload of sequence number s: 160 bytes, byte i = (s + i) & 0xff;
 * timestamp = 1000 + 160 * s. The receiver checks both, so a relay that
 * mangles payload, sequence number, timestamp or SSRC is caught.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#define PAYLOAD 160

struct opts {
	const char *key_hex;
	int suite;
	uint32_t ssrc;
	unsigned count;
	unsigned seq;
	unsigned interval_us;
	int rtcp, replay, tamper;
	unsigned timeout_ms;
};

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char buf[64];
	char *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, buf, &sa->sin_addr) == 1 ? 0 : -1;
}

static srtp_t make_srtp(const struct opts *o, int inbound)
{
	static unsigned char key[30];
	srtp_policy_t p;
	srtp_t s;

	if (o->key_hex == NULL)
		return NULL;
	if (strlen(o->key_hex) != 60) {
		fprintf(stderr, "--key: 60 hex digits expected\n");
		exit(2);
	}
	for (int i = 0; i < 30; i++) {
		unsigned v;

		sscanf(o->key_hex + 2 * i, "%2x", &v);
		key[i] = (unsigned char)v;
	}
	memset(&p, 0, sizeof(p));
	if (o->suite == 32)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
	else
		srtp_crypto_policy_set_rtp_default(&p.rtp);
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	p.key = key;
	p.window_size = 128;
	p.allow_repeat_tx = 1;
	if (srtp_create(&s, &p) != srtp_err_status_ok) {
		fprintf(stderr, "srtp_create failed\n");
		exit(2);
	}
	return s;
}

static int build_rtp(uint8_t *b, unsigned seq, uint32_t ssrc)
{
	uint32_t ts = 1000u + 160u * seq;

	b[0] = 0x80;
	b[1] = 0; /* PCMU */
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (int i = 0; i < PAYLOAD; i++)
		b[12 + i] = (uint8_t)(seq + (unsigned)i);
	return 12 + PAYLOAD;
}

static int build_rtcp(uint8_t *b, unsigned n, uint32_t ssrc)
{
	memset(b, 0, 28);
	b[0] = 0x80;
	b[1] = 200; /* SR */
	b[3] = 6;
	b[4] = (uint8_t)(ssrc >> 24);
	b[5] = (uint8_t)(ssrc >> 16);
	b[6] = (uint8_t)(ssrc >> 8);
	b[7] = (uint8_t)ssrc;
	b[23] = (uint8_t)n; /* packet count */
	return 28;
}

static int do_send(int fd, const struct sockaddr_in *to, const struct opts *o)
{
	srtp_t s = make_srtp(o, 0);
	uint8_t b[512];
	unsigned sent = 0;

	for (unsigned k = 0; k < o->count; k++) {
		unsigned seq = (o->seq + k) & 0xffff;
		int len = o->rtcp ? build_rtcp(b, k, o->ssrc) : build_rtp(b, seq, o->ssrc);

		if (s != NULL) {
			srtp_err_status_t e = o->rtcp ? srtp_protect_rtcp(s, b, &len)
						      : srtp_protect(s, b, &len);
			if (e != srtp_err_status_ok) {
				fprintf(stderr, "protect: %d\n", e);
				return 1;
			}
		}
		if (o->tamper)
			b[o->rtcp ? 10 : 20] ^= 0x5a;
		for (int r = 0; r <= o->replay; r++) {
			if (sendto(fd, b, (size_t)len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
				perror("sendto");
			else
				sent++;
		}
		if (o->interval_us != 0)
			usleep(o->interval_us);
	}
	printf("{\"sent\":%u}\n", sent);
	return 0;
}

static int do_recv(int fd, const struct opts *o)
{
	srtp_t s = make_srtp(o, 1);
	uint8_t b[2048];
	unsigned received = 0, ok = 0, unprotect_fail = 0, bad = 0, ssrc_bad = 0;
	unsigned auth_fail = 0, replay_fail = 0;
	uint64_t last_ok_ms = 0, max_gap_ms = 0, resume_ms = 0;
	uint64_t gaps[64][2];
	unsigned n_gaps = 0;
	long first_seq = -1, last_seq = -1;
	uint32_t last_ssrc = 0;
	char src[64] = "";
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (o->count == 0 || received < o->count) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		int len;

		if (poll(&pfd, 1, (int)o->timeout_ms) <= 0)
			break;
		len = (int)recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (len < 0)
			continue;
		received++;
		snprintf(src, sizeof(src), "%s:%u", inet_ntoa(from.sin_addr), ntohs(from.sin_port));
		if (s != NULL) {
			srtp_err_status_t e = o->rtcp ? srtp_unprotect_rtcp(s, b, &len)
						      : srtp_unprotect(s, b, &len);
			if (e != srtp_err_status_ok) {
				unprotect_fail++;
				if (e == srtp_err_status_auth_fail)
					auth_fail++;
				else if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old)
					replay_fail++;
				continue;
			}
		}
		if (o->rtcp) {
			uint32_t ssrc = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | b[6] << 8 | b[7];

			if (len < 28 || b[0] != 0x80 || b[1] != 200) {
				bad++;
				continue;
			}
			last_ssrc = ssrc;
			if (o->ssrc != 0 && ssrc != o->ssrc)
				ssrc_bad++;
			ok++;
			continue;
		}
		if (len != 12 + PAYLOAD || (b[0] & 0xc0) != 0x80) {
			bad++;
			continue;
		}
		unsigned seq = (unsigned)(b[2] << 8 | b[3]);
		uint32_t ts = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
		uint32_t ssrc = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 |
				b[11];
		int good = ts == 1000u + 160u * seq;

		for (int i = 0; i < PAYLOAD && good; i++)
			good = b[12 + i] == (uint8_t)(seq + (unsigned)i);
		if (!good) {
			bad++;
			continue;
		}
		if (o->ssrc != 0 && ssrc != o->ssrc)
			ssrc_bad++;
		last_ssrc = ssrc;
		if (first_seq < 0)
			first_seq = seq;
		last_seq = seq;
		ok++;
		{
			struct timespec now;
			uint64_t ms;

			clock_gettime(CLOCK_REALTIME, &now);
			ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
			if (last_ok_ms != 0 && ms - last_ok_ms > 60 && n_gaps < 64) {
				gaps[n_gaps][0] = ms;
				gaps[n_gaps++][1] = ms - last_ok_ms;
			}
			if (last_ok_ms != 0 && ms - last_ok_ms > max_gap_ms) {
				max_gap_ms = ms - last_ok_ms;
				resume_ms = ms;
			}
			last_ok_ms = ms;
		}
	}
	printf("{\"received\":%u,\"ok\":%u,\"unprotect_fail\":%u,\"bad\":%u,\"ssrc_bad\":%u,"
	       "\"first_seq\":%ld,\"last_seq\":%ld,\"ssrc\":%u,\"source\":\"%s\","
	       "\"auth_fail\":%u,\"replay_fail\":%u,\"max_gap_ms\":%llu,\"resume_ms\":%llu,\"gaps\":[",
	       received, ok, unprotect_fail, bad, ssrc_bad, first_seq, last_seq, last_ssrc, src,
	       auth_fail, replay_fail, (unsigned long long)max_gap_ms, (unsigned long long)resume_ms);
	for (unsigned g = 0; g < n_gaps; g++)
		printf("%s[%llu,%llu]", g ? "," : "", (unsigned long long)gaps[g][0], (unsigned long long)gaps[g][1]);
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .suite = 80, .ssrc = 0x11223344, .count = 10, .timeout_ms = 2000 };
	struct sockaddr_in bind_sa, to_sa;
	int fd, i, send_mode;

	if (argc < 3 || (strcmp(argv[1], "send") != 0 && strcmp(argv[1], "recv") != 0)) {
		fprintf(stderr, "usage: dp_srtp_peer send BIND TO [opts] | recv BIND [opts]\n");
		return 2;
	}
	send_mode = strcmp(argv[1], "send") == 0;
	if (!send_mode)
		o.ssrc = 0; /* recv: check the SSRC only when told */
	if (parse_addr(argv[2], &bind_sa) < 0 || (send_mode && (argc < 4 ||
						  parse_addr(argv[3], &to_sa) < 0))) {
		fprintf(stderr, "bad address\n");
		return 2;
	}
	for (i = send_mode ? 4 : 3; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : "";

		if (strcmp(a, "--key") == 0) {
			o.key_hex = v;
			i++;
		} else if (strcmp(a, "--suite") == 0) {
			o.suite = atoi(v);
			i++;
		} else if (strcmp(a, "--ssrc") == 0) {
			o.ssrc = (uint32_t)strtoul(v, NULL, 0);
			i++;
		} else if (strcmp(a, "--count") == 0) {
			o.count = (unsigned)atoi(v);
			i++;
		} else if (strcmp(a, "--seq") == 0) {
			o.seq = (unsigned)atoi(v);
			i++;
		} else if (strcmp(a, "--interval-us") == 0) {
			o.interval_us = (unsigned)atoi(v);
			i++;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			o.timeout_ms = (unsigned)atoi(v);
			i++;
		} else if (strcmp(a, "--rtcp") == 0) {
			o.rtcp = 1;
		} else if (strcmp(a, "--replay") == 0) {
			o.replay = 1;
		} else if (strcmp(a, "--tamper") == 0) {
			o.tamper = 1;
		} else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	if (srtp_init() != srtp_err_status_ok)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&bind_sa, sizeof(bind_sa)) < 0) {
		perror("bind");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	return send_mode ? do_send(fd, &to_sa, &o) : do_recv(fd, &o);
}
