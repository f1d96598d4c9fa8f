/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Both ends of the TDM media path test (area tag tdmm):
 *
 *   tdmm_peer rtp BIND_IP:PORT TO_IP:PORT [opts]   an RTP/SRTP endpoint
 *   tdmm_peer tdm DEVDIR CHANNO [opts]             a DAHDI channel (dahdi backend)
 *
 * Each sends a tone (--tone HZ) every 20 ms and measures what it receives
 * with spandsp's Goertzel filters: power at --measure HZ and at the tone it
 * sends itself (a loop-back or a crossed path would show there), plus the
 * RMS level. The RTP end also checks sequence numbers (+1), timestamps
 * (+160) and a constant SSRC. One JSON line on stdout.
 *
 * DTMF (--dtmf DIGITS, from 1 s on, 100 ms on / 100 ms off): the RTP end
 * sends them as RFC 4733 events (--event-pt N) and reports the events it
 * receives; the TDM end plays them with spandsp's dtmf_tx over its tone and
 * reports what spandsp's dtmf_rx hears on the line.
 *
 * options: --ms N (how long; default 2000) --law pcmu|pcma (rtp: codec;
 *          tdm: only to decode, the channel keeps its span law)
 *          --pt N --tx-key HEX --rx-key HEX (30 bytes key||salt, AES_CM_128_HMAC_SHA1_80;
 *          absent = plain RTP)
 * SRTP with Debian's libsrtp2, not the gateway's engine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <spandsp.h>
#include <srtp2/srtp.h>

#include "mg_tdm_chan.h"
#include "mg_tdm_g711.h"

#define FRAME 160

struct opt {
	unsigned ms;
	enum mg_law law;
	int pt;
	int tone, measure;
	const char *tx_key, *rx_key;
	const char *dtmf;   /* digits to send, from 1 s on, 100 ms each, 100 ms apart */
	int event_pt;
};

/* DTMF schedule shared by both ends: digit k is down in frames
 * [50 + 10k, 55 + 10k) (20 ms frames), i.e. 100 ms on, 100 ms off. */
static int dtmf_digit_at(const struct opt *o, unsigned frame, bool *first, bool *last)
{
	if (o->dtmf == NULL || frame < 50)
		return 0;
	unsigned k = (frame - 50) / 10, in = (frame - 50) % 10;

	if (k >= strlen(o->dtmf) || in >= 5)
		return 0;
	*first = in == 0;
	*last = in == 4;
	return (unsigned char)o->dtmf[k];
}

static int digit_event(int d)
{
	static const char ev[] = "0123456789*#ABCD";
	const char *p = strchr(ev, d);

	return p != NULL && d != 0 ? (int)(p - ev) : -1;
}

struct meter {
	goertzel_descriptor_t dm, dt;
	double p_measure, p_tone, energy;
	uint64_t samples;
	bool skip_first; /* the first frames hold the start-up silence */
};

static void meter_init(struct meter *m, const struct opt *o)
{
	memset(m, 0, sizeof(*m));
	make_goertzel_descriptor(&m->dm, (float)o->measure, FRAME);
	make_goertzel_descriptor(&m->dt, (float)o->tone, FRAME);
}

static void meter_frame(struct meter *m, const int16_t *x)
{
	goertzel_state_t a, b;

	goertzel_init(&a, &m->dm);
	goertzel_init(&b, &m->dt);
	goertzel_update(&a, x, FRAME);
	goertzel_update(&b, x, FRAME);
	m->p_measure += goertzel_result(&a);
	m->p_tone += goertzel_result(&b);
	for (int i = 0; i < FRAME; i++)
		m->energy += (double)x[i] * x[i];
	m->samples += FRAME;
}

static void tone_frame(const struct opt *o, uint64_t *n, int16_t *x)
{
	for (int i = 0; i < FRAME; i++, (*n)++)
		x[i] = (int16_t)(8000.0 * sin(2 * M_PI * o->tone * (double)*n / 8000.0));
}

static void meter_json(const struct meter *m)
{
	double rms = m->samples ? sqrt(m->energy / (double)m->samples) : 0;

	printf("\"frames\": %llu, \"rms\": %.1f, \"measure_db\": %.1f, \"own_tone_db\": %.1f",
	       (unsigned long long)(m->samples / FRAME), rms,
	       10 * log10(m->p_measure + 1e-9), 10 * log10(m->p_tone + 1e-9));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_ipport(const char *s, struct sockaddr_in *a)
{
	char ip[64];
	const char *c = strrchr(s, ':');

	if (c == NULL || (size_t)(c - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(c - s));
	ip[c - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static srtp_t srtp_make(const char *hex, bool inbound)
{
	uint8_t key[30];
	srtp_policy_t p;
	srtp_t s;

	if (hex == NULL)
		return NULL;
	for (int i = 0; i < 30; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &key[i]) != 1)
			exit(2);
	memset(&p, 0, sizeof(p));
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
	p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	p.key = key;
	p.window_size = 128;
	if (srtp_create(&s, &p) != srtp_err_status_ok)
		exit(1);
	return s;
}

static int run_rtp(const char *bind_s, const char *to_s, const struct opt *o)
{
	struct sockaddr_in b, to;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	srtp_t tx, rx;
	struct meter m;
	uint64_t t_end, next, nsamp = 0;
	uint16_t seq = 1000, last_seq = 0;
	uint32_t ts = 5000, last_ts = 0, ssrc0 = 0;
	unsigned rx_pkts = 0, bad_seq = 0, bad_ts = 0, bad_ssrc = 0, bad_pt = 0, auth_fail = 0;
	unsigned sent = 0, ev_ends = 0, ev_n = 0;
	char ev_digits[32] = "";
	bool have_ev = false, last_audio = false;
	uint32_t ev_ts = 0, ev_start = 0;
	uint16_t ev_dur = 0;
	/* RTCP from the gateway on port + 1 (RFC 3550 SR + SDES, SRTCP when keyed) */
	int rfd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in rb;
	unsigned rtcp_n = 0, rtcp_bad = 0, rtcp_auth_fail = 0;
	uint32_t sr_ssrc = 0, sr_packets = 0, sr_octets = 0, rr_ssrc = 0, rr_lost = 0;
	char cname[64] = "";

	srtp_init();
	tx = srtp_make(o->tx_key, false);
	rx = srtp_make(o->rx_key, true);
	if (parse_ipport(bind_s, &b) < 0 || parse_ipport(to_s, &to) < 0 ||
	    bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0) {
		perror("tdmm_peer rtp: bind");
		return 1;
	}
	rb = b;
	rb.sin_port = htons((uint16_t)(ntohs(b.sin_port) + 1));
	if (bind(rfd, (struct sockaddr *)&rb, sizeof(rb)) < 0) {
		perror("tdmm_peer rtp: bind RTCP");
		return 1;
	}
	meter_init(&m, o);
	t_end = now_ms() + o->ms;
	next = now_ms();
	for (;;) {
		/* past the end nothing is sent, and what is already queued is
		 * still read: a stalled peer reads an SR first and would
		 * otherwise leave the RTP sent before it unread */
		bool over = now_ms() >= t_end;
		int wait = over ? 0 : (int)((int64_t)next - (int64_t)now_ms());
		struct pollfd p = { fd, POLLIN, 0 }, pr[2] = { { fd, POLLIN, 0 }, { rfd, POLLIN, 0 } };
		int ready = poll(pr, 2, wait > 0 ? wait : 0);

		if (over && ready <= 0)
			break;
		if (ready > 0 && (pr[1].revents & POLLIN)) {
			uint8_t buf[2048];
			int n = (int)recv(rfd, buf, sizeof(buf), 0);

			if (rx != NULL && (n < 8 || srtp_unprotect_rtcp(rx, buf, &n) != srtp_err_status_ok)) {
				rtcp_auth_fail++;
				continue;
			}
			/* compound: SR first (with at most one block), then SDES CNAME */
			unsigned l0 = n >= 4 ? 4u * (((unsigned)buf[2] << 8 | buf[3]) + 1) : 0;

			if (n < 28 || buf[1] != 200 || (buf[0] & 0xc0) != 0x80 || l0 + 12 > (unsigned)n ||
			    buf[l0 + 1] != 202 || buf[l0 + 8] != 1) {
				rtcp_bad++;
				continue;
			}
			rtcp_n++;
			sr_ssrc = be32(buf + 4);
			sr_packets = be32(buf + 20);
			sr_octets = be32(buf + 24);
			if ((buf[0] & 0x1f) >= 1 && l0 >= 52) {
				rr_ssrc = be32(buf + 28);
				rr_lost = be32(buf + 32) & 0xffffff;
			}
			unsigned cl = buf[l0 + 9];

			if (l0 + 10 + cl <= (unsigned)n && cl < sizeof(cname)) {
				memcpy(cname, buf + l0 + 10, cl);
				cname[cl] = 0;
			}
			continue;
		}
		p.revents = pr[0].revents;
		if (p.revents & POLLIN) {
			uint8_t buf[2048];
			int n = (int)recv(fd, buf, sizeof(buf), 0);

			if (n < 12)
				continue;
			if (rx != NULL && srtp_unprotect(rx, buf, &n) != srtp_err_status_ok) {
				auth_fail++;
				continue;
			}
			uint16_t s = (uint16_t)((buf[2] << 8) | buf[3]);
			uint32_t t = ((uint32_t)buf[4] << 24) | ((uint32_t)buf[5] << 16) |
				     ((uint32_t)buf[6] << 8) | buf[7];
			uint32_t ss = ((uint32_t)buf[8] << 24) | ((uint32_t)buf[9] << 16) |
				      ((uint32_t)buf[10] << 8) | buf[11];

			if (rx_pkts > 0) {
				bad_seq += s != (uint16_t)(last_seq + 1);
				bad_ssrc += ss != ssrc0;
			} else {
				ssrc0 = ss;
			}
			last_seq = s;
			rx_pkts++;
			if (o->event_pt != 0 && (buf[1] & 0x7f) == o->event_pt && n >= 16) {
				/* RFC 4733: a new event has a new timestamp */
				if ((!have_ev || t != ev_ts) && buf[12] < 16 && ev_n + 1 < sizeof(ev_digits)) {
					ev_digits[ev_n++] = "0123456789*#ABCD"[buf[12]];
					ev_digits[ev_n] = 0;
				}
				ev_ends += (buf[13] & 0x80) != 0;
				have_ev = true;
				ev_ts = t;
				last_audio = false;
				continue;
			}
			if ((buf[1] & 0x7f) != o->pt || n != 12 + FRAME) {
				bad_pt++;
				continue;
			}
			if (last_audio)
				bad_ts += t != last_ts + FRAME;
			last_audio = true;
			last_ts = t;
			if (rx_pkts > 10) { /* past the start-up */
				int16_t x[FRAME];

				mg_g711_decode_buf(o->law, x, buf + 12, FRAME);
				meter_frame(&m, x);
			}
			continue;
		}
		if (!over && now_ms() >= next) {
			uint8_t pkt[12 + FRAME + 16];
			int16_t x[FRAME];
			int len = 12 + FRAME;

			next += 20;
			bool first = false, last = false;
			int d = dtmf_digit_at(o, sent, &first, &last);
			uint32_t pts = ts;

			pkt[0] = 0x80;
			pkt[1] = (uint8_t)o->pt;
			tone_frame(o, &nsamp, x);
			mg_g711_encode_buf(o->law, pkt + 12, x, FRAME);
			if (d != 0 && o->event_pt != 0) {
				/* RFC 4733 instead of audio: M on the first, E on the last */
				if (first) {
					ev_start = ts;
					ev_dur = 0;
					pkt[1] = (uint8_t)(0x80 | o->event_pt);
				} else {
					pkt[1] = (uint8_t)o->event_pt;
				}
				ev_dur += FRAME;
				pts = ev_start;
				pkt[12] = (uint8_t)digit_event(d);
				pkt[13] = (uint8_t)((last ? 0x80 : 0) | 10);
				pkt[14] = (uint8_t)(ev_dur >> 8);
				pkt[15] = (uint8_t)ev_dur;
				len = 16;
			}
			pkt[2] = (uint8_t)(seq >> 8);
			pkt[3] = (uint8_t)seq;
			for (int i = 0; i < 4; i++)
				pkt[4 + i] = (uint8_t)(pts >> (24 - 8 * i));
			memcpy(pkt + 8, "\x0a\x0b\x0c\x0d", 4);
			if (tx != NULL && srtp_protect(tx, pkt, &len) != srtp_err_status_ok)
				return 1;
			sendto(fd, pkt, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to));
			seq++;
			ts += FRAME;
			sent++;
		}
	}
	printf("{\"sent\": %u, \"received\": %u, \"bad_seq\": %u, \"bad_ts\": %u, \"bad_ssrc\": %u, "
	       "\"bad_pt_or_size\": %u, \"auth_fail\": %u, \"events\": \"%s\", \"event_ends\": %u, ",
	       sent, rx_pkts, bad_seq, bad_ts, bad_ssrc, bad_pt, auth_fail, ev_digits, ev_ends);
	printf("\"rtcp\": {\"sr\": %u, \"bad\": %u, \"auth_fail\": %u, \"ssrc\": %u, \"rtp_ssrc\": %u, "
	       "\"packets\": %u, \"octets\": %u, \"rr_ssrc\": %u, \"rr_lost\": %u, \"cname\": \"%s\"}, ",
	       rtcp_n, rtcp_bad, rtcp_auth_fail, sr_ssrc, ssrc0, sr_packets, sr_octets, rr_ssrc, rr_lost,
	       cname);
	meter_json(&m);
	printf("}\n");
	return 0;
}

static int run_tdm(const char *devdir, unsigned channo, const struct opt *o)
{
	struct mg_tdm_open_opts oo = { .blocksize = FRAME };
	struct mg_tdm_chan *c;
	struct meter m;
	uint64_t t_end, nsamp = 0;
	unsigned got = 0, written = 0;
	int rc = mg_tdm_dahdi_open(devdir, channo, &oo, &c);

	if (rc < 0) {
		fprintf(stderr, "tdmm_peer tdm: open %s channel %u: %s\n", devdir, channo,
			strerror(-rc));
		return 1;
	}
	dtmf_rx_state_t *det = dtmf_rx_init(NULL, NULL, NULL);
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	char heard[32] = "";

	meter_init(&m, o);
	t_end = now_ms() + o->ms;
	while (now_ms() < t_end) {
		struct pollfd p = { c->fd, POLLIN | POLLPRI, 0 };
		uint8_t buf[FRAME];
		int16_t x[FRAME];

		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = mg_tdm_chan_read(c, buf, sizeof(buf));

		if (n == -ENOMSG) {
			enum mg_tdm_event ev;

			mg_tdm_chan_get_event(c, &ev, NULL);
			continue;
		}
		if (n != FRAME)
			continue;
		/* the line's clock paces us: one block out for every block in */
		mg_g711_decode_buf(c->law, x, buf, FRAME);
		dtmf_rx(det, x, FRAME);
		if (++got > 10)
			meter_frame(&m, x);
		tone_frame(o, &nsamp, x);
		bool first = false, last = false;
		int d = dtmf_digit_at(o, written, &first, &last);

		if (d != 0 && first) {
			char ds = (char)d;

			dtmf_tx_set_timing(gen, 100, 0);
			dtmf_tx_put(gen, &ds, 1);
		}
		if (d != 0) {
			int16_t t[FRAME];
			int k = dtmf_tx(gen, t, FRAME);

			for (int i = 0; i < k; i++)
				x[i] = (int16_t)(x[i] / 4 + t[i]); /* the digit over quiet speech */
		}
		mg_g711_encode_buf(c->law, buf, x, FRAME);
		if (mg_tdm_chan_write(c, buf, FRAME) == FRAME)
			written++;
	}
	dtmf_rx_get(det, heard, sizeof(heard) - 1);
	printf("{\"law\": \"%s\", \"read\": %u, \"written\": %u, \"dtmf\": \"%s\", ",
	       mg_law_name(c->law), got, written, heard);
	dtmf_rx_free(det);
	dtmf_tx_free(gen);
	meter_json(&m);
	printf("}\n");
	mg_tdm_chan_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	struct opt o = { .ms = 2000, .law = MG_LAW_ULAW, .pt = 0, .tone = 440, .measure = 1000 };

	if (argc < 4) {
		fprintf(stderr, "usage: tdmm_peer rtp BIND TO [opts] | tdm DEVDIR CHANNO [opts]\n");
		return 2;
	}
	mg_g711_init();
	for (int i = 4; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--ms") == 0)
			o.ms = (unsigned)atoi(v);
		else if (strcmp(k, "--law") == 0)
			mg_law_parse(v, &o.law);
		else if (strcmp(k, "--pt") == 0)
			o.pt = atoi(v);
		else if (strcmp(k, "--tone") == 0)
			o.tone = atoi(v);
		else if (strcmp(k, "--measure") == 0)
			o.measure = atoi(v);
		else if (strcmp(k, "--tx-key") == 0)
			o.tx_key = v;
		else if (strcmp(k, "--rx-key") == 0)
			o.rx_key = v;
		else if (strcmp(k, "--dtmf") == 0)
			o.dtmf = v;
		else if (strcmp(k, "--event-pt") == 0)
			o.event_pt = atoi(v);
		else {
			fprintf(stderr, "tdmm_peer: unknown option %s\n", k);
			return 2;
		}
	}
	if (strcmp(argv[1], "rtp") == 0)
		return run_rtp(argv[2], argv[3], &o);
	if (strcmp(argv[1], "tdm") == 0)
		return run_tdm(argv[2], (unsigned)atoi(argv[3]), &o);
	fprintf(stderr, "tdmm_peer: mode %s (allowed: rtp, tdm)\n", argv[1]);
	return 2;
}
