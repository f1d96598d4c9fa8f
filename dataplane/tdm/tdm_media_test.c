/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the TDM media path of one channel (dataplane/tdm/tdm_media). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <spandsp.h>

#include "mg_rtp.h"
#include "tdm_media.h"

static struct tdmm_chan *chan(enum mg_law span, enum mg_law call, uint8_t ev_pt, bool ec)
{
	struct tdmm_config cfg = {
		.span_law = span, .call_law = call, .pt = call == MG_LAW_ALAW ? 8 : 0,
		.event_pt = ev_pt, .ssrc = 0x11223344, .first_seq = 65530, .first_ts = 0xffffff00u,
		.echo_cancel = ec,
	};
	struct tdmm_chan *c = tdmm_chan_new(&cfg);

	assert_non_null(c);
	return c;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void make_rtp(uint8_t *p, uint8_t pt, bool m, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = (uint8_t)((m ? 0x80 : 0) | pt);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
}

/* TDM -> RTP: seq and timestamp continuous across wrap, SSRC, PT, law converted. */
static void test_packetise(void **state)
{
	(void)state;
	for (int laws = 0; laws < 3; laws++) {
		enum mg_law span = laws == 1 ? MG_LAW_ALAW : MG_LAW_ULAW;
		enum mg_law call = laws == 0 ? MG_LAW_ULAW : (laws == 1 ? MG_LAW_ULAW : MG_LAW_ALAW);
		struct tdmm_chan *c = chan(span, call, 0, false);
		uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
		uint16_t len[TDMM_MAX_OUT];
		uint16_t seq = 65530;
		uint32_t ts = 0xffffff00u;

		for (int f = 0; f < 20; f++) {
			uint8_t frame[TDMM_FRAME];

			for (int i = 0; i < TDMM_FRAME; i++)
				frame[i] = (uint8_t)(f * 7 + i * 13);
			assert_int_equal(tdmm_from_tdm(c, frame, pkt, len), 1);
			assert_int_equal(len[0], TDMM_PKT_MAX);
			assert_int_equal(pkt[0][0], 0x80);
			assert_int_equal(pkt[0][1], call == MG_LAW_ALAW ? 8 : 0);
			assert_int_equal(be16(pkt[0] + 2), seq);
			assert_int_equal(be32(pkt[0] + 4), ts);
			assert_int_equal(be32(pkt[0] + 8), 0x11223344);
			for (int i = 0; i < TDMM_FRAME; i++) {
				uint8_t want = frame[i];

				if (span == MG_LAW_ULAW && call == MG_LAW_ALAW)
					want = mg_g711_ulaw_to_alaw[frame[i]];
				else if (span == MG_LAW_ALAW && call == MG_LAW_ULAW)
					want = mg_g711_alaw_to_ulaw[frame[i]];
				assert_int_equal(pkt[0][TDMM_RTP_HDR + i], want);
			}
			seq++;
			ts += TDMM_FRAME;
		}
		assert_int_equal(tdmm_chan_stats(c)->rtp_audio_out, 20);
		tdmm_chan_free(c);
	}
}

/* RTP -> TDM: PCMA packets on a µ-law span come out converted, in order. */
static void test_depacketise_law(void **state)
{
	struct tdmm_chan *c = chan(MG_LAW_ULAW, MG_LAW_ALAW, 101, false);
	uint8_t pkt[TDMM_PKT_MAX], out[TDMM_FRAME];
	int got = 0;

	(void)state;
	for (int f = 0; f < 30; f++) {
		make_rtp(pkt, 8, f == 0, (uint16_t)(100 + f), 4000u + (uint32_t)f * 160, 7);
		for (int i = 0; i < TDMM_FRAME; i++)
			pkt[TDMM_RTP_HDR + i] = (uint8_t)(f + i);
		tdmm_from_rtp(c, pkt, sizeof(pkt), (uint64_t)f * 20000);
		tdmm_to_tdm(c, out);
		if (out[0] == MG_G711_ULAW_SILENCE && out[1] == MG_G711_ULAW_SILENCE)
			continue; /* the buffer fills to its target depth first */
		for (int i = 0; i < TDMM_FRAME; i++)
			assert_int_equal(out[i], mg_g711_alaw_to_ulaw[(uint8_t)(got + i)]);
		got++;
	}
	assert_true(got >= 25);
	/* a packet of another payload type is counted, not played */
	make_rtp(pkt, 18, false, 200, 9000, 7);
	tdmm_from_rtp(c, pkt, sizeof(pkt), 700000);
	assert_int_equal(tdmm_chan_stats(c)->drops[TDMM_DROP_UNKNOWN_PT], 1);
	tdmm_from_rtp(c, pkt, 5, 700000);
	assert_int_equal(tdmm_chan_stats(c)->drops[TDMM_DROP_MALFORMED], 1);
	tdmm_chan_free(c);
}

static void test_event_codec(void **state)
{
	struct tdmm_event e = { .event = 5, .end = true, .volume = 10, .duration = 800 }, d;
	uint8_t b[4];
	const uint8_t want[4] = { 0x05, 0x8a, 0x03, 0x20 };

	(void)state;
	tdmm_event_encode(&e, b);
	assert_memory_equal(b, want, 4);
	assert_int_equal(tdmm_event_decode(b, 4, &d), 0);
	assert_int_equal(d.event, 5);
	assert_true(d.end);
	assert_int_equal(d.volume, 10);
	assert_int_equal(d.duration, 800);
	b[1] = 0x3f; /* no end, R bit clear, volume 63 */
	assert_int_equal(tdmm_event_decode(b, 4, &d), 0);
	assert_false(d.end);
	assert_int_equal(d.volume, 63);
	assert_int_equal(tdmm_event_decode(b, 3, &d), -EINVAL);
	assert_int_equal(tdmm_digit_to_event('#'), 11);
	assert_int_equal(tdmm_digit_to_event('*'), 10);
	assert_int_equal(tdmm_digit_to_event('D'), 15);
	assert_int_equal(tdmm_digit_to_event('x'), -1);
	assert_int_equal(tdmm_event_to_digit(11), '#');
	assert_int_equal(tdmm_event_to_digit(16), 0);
}

static void test_rtp_parse(void **state)
{
	uint8_t p[64] = {0};
	struct tdmm_rtp r;

	(void)state;
	make_rtp(p, 101, true, 1, 2, 3);
	p[0] = 0x80 | 0x20 | 0x10 | 1; /* padding, extension, one CSRC */
	/* CSRC at 12..15, extension header at 16: profile, length 1 word */
	p[18] = 0;
	p[19] = 1;
	p[24] = 0xaa; /* payload */
	p[63] = 4;    /* 4 bytes of padding */
	assert_int_equal(tdmm_rtp_parse(p, 64, &r), 0);
	assert_true(r.marker);
	assert_int_equal(r.pt, 101);
	assert_int_equal(r.payload - p, 24);
	assert_int_equal(r.len, 64 - 24 - 4);
	p[63] = 41; /* padding longer than the payload */
	assert_int_equal(tdmm_rtp_parse(p, 64, &r), -EINVAL);
	p[63] = 4;
	p[19] = 20; /* extension past the end */
	assert_int_equal(tdmm_rtp_parse(p, 64, &r), -EINVAL);
	p[0] = 0x40;
	assert_int_equal(tdmm_rtp_parse(p, 64, &r), -EINVAL);
	assert_int_equal(tdmm_rtp_parse(p, 11, &r), -EINVAL);
}

/* The shared header-length helper (also the SRTP engine's and the worker's). */
static void test_rtp_hdr_len(void **state)
{
	uint8_t p[32] = { 0x80 };

	(void)state;
	assert_int_equal(mg_rtp_hdr_len(p, 11), 0);
	assert_int_equal(mg_rtp_hdr_len(p, 12), 12);
	p[0] = 0x82; /* two CSRCs: 20 bytes */
	assert_int_equal(mg_rtp_hdr_len(p, 19), 0);
	assert_int_equal(mg_rtp_hdr_len(p, 20), 20);
	p[0] = 0x91; /* one CSRC + extension header at 16 */
	assert_int_equal(mg_rtp_hdr_len(p, 19), 0); /* extension header cut */
	assert_int_equal(mg_rtp_hdr_len(p, 20), 20); /* extension of 0 words */
	p[18] = 0;
	p[19] = 2; /* 2 words: 28 bytes */
	assert_int_equal(mg_rtp_hdr_len(p, 27), 0);
	assert_int_equal(mg_rtp_hdr_len(p, 28), 28);
	assert_int_equal(mg_rtp_hdr_len(p, 32), 28);
	p[0] = 0x8f; /* 15 CSRCs: 72 bytes, more than there is */
	assert_int_equal(mg_rtp_hdr_len(p, 32), 0);
}

/*
 * DTMF both ways: spandsp dtmf_tx makes digits on TDM at A; A detects them
 * and sends RFC 4733 events; B takes them from RTP and plays tones into its
 * TDM; spandsp dtmf_rx on B's TDM output finds the same digits.
 */
static void test_dtmf_round_trip(void **state)
{
	const char *digits = "159#*0D";
	struct tdmm_chan *a = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, false);
	struct tdmm_chan *b = chan(MG_LAW_ULAW, MG_LAW_ULAW, 101, false);
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	dtmf_rx_state_t *det = dtmf_rx_init(NULL, NULL, NULL);
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
	uint16_t len[TDMM_MAX_OUT];
	char heard[32] = {0};
	unsigned ends = 0, starts = 0;
	uint32_t ev_ts = 0;
	uint16_t last_dur = 0, last_seq = 0;
	bool have_seq = false;

	(void)state;
	dtmf_tx_set_timing(gen, 80, 80);
	dtmf_tx_put(gen, digits, -1);
	for (int f = 0; f < 150; f++) {
		int16_t lin[TDMM_FRAME];
		uint8_t frame[TDMM_FRAME], out[TDMM_FRAME];
		int n = dtmf_tx(gen, lin, TDMM_FRAME);

		for (int i = n < 0 ? 0 : n; i < TDMM_FRAME; i++)
			lin[i] = 0;
		mg_g711_encode_buf(MG_LAW_ALAW, frame, lin, TDMM_FRAME);
		unsigned np = tdmm_from_tdm(a, frame, pkt, len);

		for (unsigned k = 0; k < np; k++) {
			struct tdmm_rtp r;
			struct tdmm_event e;

			assert_int_equal(tdmm_rtp_parse(pkt[k], len[k], &r), 0);
			if (have_seq)
				assert_int_equal(r.seq, (uint16_t)(last_seq + 1));
			last_seq = r.seq;
			have_seq = true;
			if (r.pt == 101) {
				assert_int_equal(tdmm_event_decode(r.payload, r.len, &e), 0);
				if (r.marker) {
					starts++;
					ev_ts = r.ts;
					last_dur = 0;
				}
				assert_int_equal(r.ts, ev_ts);  /* one timestamp per event */
				assert_true(e.duration >= last_dur);
				last_dur = e.duration;
				ends += e.end;
			}
			tdmm_from_rtp(b, pkt[k], len[k], (uint64_t)f * 20000);
		}
		tdmm_to_tdm(b, out);
		mg_g711_decode_buf(MG_LAW_ULAW, lin, out, TDMM_FRAME);
		dtmf_rx(det, lin, TDMM_FRAME);
	}
	dtmf_rx_get(det, heard, sizeof(heard) - 1);
	assert_int_equal(starts, strlen(digits));
	assert_int_equal(ends, strlen(digits) * TDMM_EVENT_END_REPEATS);
	assert_int_equal(tdmm_chan_stats(a)->digits_detected, strlen(digits));
	assert_int_equal(tdmm_chan_stats(b)->digits_played, strlen(digits));
	assert_string_equal(heard, digits);
	dtmf_tx_free(gen);
	dtmf_rx_free(det);
	tdmm_chan_free(a);
	tdmm_chan_free(b);
}

static double energy(const int16_t *x, int n)
{
	double e = 0;

	for (int i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return e;
}

/*
 * Echo canceller: far-end noise arrives by RTP and is played to TDM; the
 * line returns it as an echo (attenuated, delayed, smeared); what goes back
 * to RTP is the residual. ERLE (echo energy / residual energy) must grow as
 * the canceller converges, and the same run without the canceller must not.
 */
static double erle_run(bool ec, double *first, double *last)
{
	struct tdmm_chan *c = chan(MG_LAW_ULAW, MG_LAW_ULAW, 0, ec);
	int16_t hist[TDMM_FRAME * 2] = {0};
	double e_echo[2] = {0}, e_res[2] = {0};
	uint32_t rnd = 12345;
	const int frames = 250; /* 5 s */

	for (int f = 0; f < frames; f++) {
		uint8_t pkt[TDMM_PKT_MAX], out[TDMM_FRAME], echo_f[TDMM_FRAME];
		uint8_t opkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
		uint16_t olen[TDMM_MAX_OUT];
		int16_t echo[TDMM_FRAME], far[TDMM_FRAME], res[TDMM_FRAME];

		for (int i = 0; i < TDMM_FRAME; i++) {
			rnd = rnd * 1103515245u + 12345u;
			far[i] = (int16_t)((int)((rnd >> 16) & 0x3fff) - 0x2000);
		}
		make_rtp(pkt, 0, f == 0, (uint16_t)f, (uint32_t)f * 160, 9);
		mg_g711_encode_buf(MG_LAW_ULAW, pkt + TDMM_RTP_HDR, far, TDMM_FRAME);
		tdmm_from_rtp(c, pkt, sizeof(pkt), (uint64_t)f * 20000);
		tdmm_to_tdm(c, out);
		memmove(hist, hist + TDMM_FRAME, TDMM_FRAME * sizeof(hist[0]));
		mg_g711_decode_buf(MG_LAW_ULAW, hist + TDMM_FRAME, out, TDMM_FRAME);
		/* echo path: 40 samples (5 ms) late, -12 dB, plus a -18 dB tap 3 samples on
		 * (ERL about 10 dB, inside G.168's >= 6 dB) */
		for (int i = 0; i < TDMM_FRAME; i++) {
			int n = TDMM_FRAME + i;

			echo[i] = (int16_t)(hist[n - 40] / 4 + hist[n - 43] / 8);
		}
		mg_g711_encode_buf(MG_LAW_ULAW, echo_f, echo, TDMM_FRAME);
		assert_int_equal(tdmm_from_tdm(c, echo_f, opkt, olen), 1);
		mg_g711_decode_buf(MG_LAW_ULAW, res, opkt[0] + TDMM_RTP_HDR, TDMM_FRAME);
		/* frames 5-29 (0.1-0.6 s) against the last second */
		int slot = f >= 5 && f < 30 ? 0 : (f >= frames - 50 ? 1 : -1);

		if (slot >= 0) {
			e_echo[slot] += energy(echo, TDMM_FRAME);
			e_res[slot] += energy(res, TDMM_FRAME) + 1;
		}
	}
	*first = 10 * log10(e_echo[0] / e_res[0]);
	*last = 10 * log10(e_echo[1] / e_res[1]);
	tdmm_chan_free(c);
	return *last;
}

static void test_echo_canceller(void **state)
{
	double f_on, l_on, f_off, l_off;

	(void)state;
	erle_run(true, &f_on, &l_on);
	erle_run(false, &f_off, &l_off);
	print_message("ERLE with canceller: %.1f dB first 0.5 s, %.1f dB last 1 s; "
		      "without: %.1f / %.1f dB\n", f_on, l_on, f_off, l_off);
	assert_true(l_on > f_on + 6);   /* it converges */
	assert_true(l_on > 15);         /* and removes most of the echo */
	assert_true(l_off < 1 && l_off > -1); /* without it the echo passes */
}

/*
 * No echo path, near-end talk (440 Hz) all along, far end 1000 Hz with RFC
 * 4733 digits in the middle (played as DTMF into TDM): the canceller must
 * leave the near end alone, i.e. not learn from our own DTMF tones and
 * inject the far end (the regression the end-to-end test found).
 */
static void test_echo_canceller_no_echo_dtmf(void **state)
{
	struct tdmm_chan *c = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, true);
	double e_near = 0, e_diff = 0;
	uint64_t n1 = 0, n2 = 0;

	(void)state;
	for (int f = 0; f < 150; f++) {
		uint8_t rp[TDMM_PKT_MAX], out[TDMM_FRAME], in[TDMM_FRAME];
		uint8_t opkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
		uint16_t olen[TDMM_MAX_OUT];
		int16_t x[TDMM_FRAME], near[TDMM_FRAME], res[TDMM_FRAME];
		size_t l = sizeof(rp);

		for (int i = 0; i < TDMM_FRAME; i++, n1++)
			x[i] = (int16_t)(8000 * sin(2 * M_PI * 1000 * (double)n1 / 8000));
		make_rtp(rp, 0, false, (uint16_t)f, (uint32_t)f * 160, 1);
		mg_g711_encode_buf(MG_LAW_ULAW, rp + TDMM_RTP_HDR, x, TDMM_FRAME);
		if (f >= 50 && f < 80 && (f - 50) % 10 < 5) { /* digits 1, 2, 3: 100 ms each */
			int in_ev = (f - 50) % 10;
			uint32_t es = (uint32_t)(50 + (f - 50) / 10 * 10) * 160;
			struct tdmm_event e = { (uint8_t)(1 + (f - 50) / 10), in_ev == 4, 10,
						(uint16_t)((in_ev + 1) * 160) };

			make_rtp(rp, 101, in_ev == 0, (uint16_t)f, es, 1);
			tdmm_event_encode(&e, rp + TDMM_RTP_HDR);
			l = TDMM_RTP_HDR + 4;
		}
		tdmm_from_rtp(c, rp, l, (uint64_t)f * 20000);
		tdmm_to_tdm(c, out);
		for (int i = 0; i < TDMM_FRAME; i++, n2++)
			near[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * (double)n2 / 8000));
		mg_g711_encode_buf(MG_LAW_ALAW, in, near, TDMM_FRAME);
		assert_int_equal(tdmm_from_tdm(c, in, opkt, olen), 1);
		mg_g711_decode_buf(MG_LAW_ULAW, res, opkt[0] + TDMM_RTP_HDR, TDMM_FRAME);
		for (int i = 0; i < TDMM_FRAME; i++) {
			e_near += (double)near[i] * near[i];
			e_diff += (double)(res[i] - near[i]) * (res[i] - near[i]);
		}
	}
	print_message("near end vs what the canceller changed: %.1f dB\n",
		      10 * log10(e_near / (e_diff + 1)));
	assert_int_equal(tdmm_chan_stats(c)->digits_played, 3);
	assert_true(10 * log10(e_near / (e_diff + 1)) > 25); /* G.711 twice: ~30 dB */
	tdmm_chan_free(c);
}

/*
 * Two gateways' channels back to back, no echo path (what
 * tests/tdm/tdme_two_gateways.sh runs through the emulator): gateway A's
 * channel gets the caller's 440 Hz by RTP plus RFC 4733 "159#" the way
 * baresip sends it (events interleaved with audio, 12 packets of 20 ms, the
 * last three ends) and plays it to the line; gateway B's channel hears that
 * line while its far end sends a steady 880 Hz (a pure tone: the worst
 * reference for NLMS) at about the same level. B must report every digit
 * exactly once as RFC 4733. Found end to end: "159##".
 */
static void test_echo_canceller_near_dtmf_tone_ref(void **state)
{
	const char *digits = "159#";
	struct tdmm_chan *a = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, true);
	struct tdmm_chan *b = chan(MG_LAW_ALAW, MG_LAW_ALAW, 101, true);
	char got[16] = {0};
	unsigned ngot = 0;
	uint64_t n1 = 0, n2 = 0;
	double e_near = 0, e_diff = 0;

	(void)state;
	for (int f = 0; f < 250; f++) {
		uint8_t rp[TDMM_PKT_MAX], ep[TDMM_RTP_HDR + 4], out[TDMM_FRAME], line[TDMM_FRAME];
		uint8_t opkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
		uint16_t olen[TDMM_MAX_OUT];
		int16_t x[TDMM_FRAME];
		int d = (f - 50) / 40, k = (f - 50) % 40;

		/* A: the caller's tone, and the digit's event packets beside it */
		for (int i = 0; i < TDMM_FRAME; i++, n1++)
			x[i] = (int16_t)(14000 * sin(2 * M_PI * 440 * (double)n1 / 8000));
		make_rtp(rp, 0, f == 25, (uint16_t)(2 * f), (uint32_t)f * 160, 1);
		mg_g711_encode_buf(MG_LAW_ULAW, rp + TDMM_RTP_HDR, x, TDMM_FRAME);
		if (f >= 25) /* the caller's audio starts after the far end's */
			tdmm_from_rtp(a, rp, sizeof(rp), (uint64_t)f * 20000);
		if (f >= 50 && d < 4 && k < 12) {
			struct tdmm_event e = { (uint8_t)tdmm_digit_to_event(digits[d]), k >= 9, 10,
						(uint16_t)((k < 9 ? k + 1 : 9) * 160) };

			make_rtp(ep, 101, k == 0, (uint16_t)(2 * f + 1), (uint32_t)(50 + d * 40) * 160, 1);
			tdmm_event_encode(&e, ep + TDMM_RTP_HDR);
			tdmm_from_rtp(a, ep, sizeof(ep), (uint64_t)f * 20000 + 1);
		}
		tdmm_to_tdm(a, line);
		/* B: its far end's 880 Hz to the line, then what A put on the line */
		for (int i = 0; i < TDMM_FRAME; i++, n2++)
			x[i] = (int16_t)(16000 * sin(2 * M_PI * 880 * (double)n2 / 8000));
		make_rtp(rp, 8, f == 0, (uint16_t)f, (uint32_t)f * 160, 2);
		mg_g711_encode_buf(MG_LAW_ALAW, rp + TDMM_RTP_HDR, x, TDMM_FRAME);
		tdmm_from_rtp(b, rp, sizeof(rp), (uint64_t)f * 20000);
		tdmm_to_tdm(b, out);
		unsigned np = tdmm_from_tdm(b, line, opkt, olen);

		for (unsigned j = 0; j < np; j++) {
			struct tdmm_rtp r;
			struct tdmm_event e;

			assert_int_equal(tdmm_rtp_parse(opkt[j], olen[j], &r), 0);
			/* audio while no digit is on the line (B silences the frames
			 * around a digit's edges) */
			if (r.pt == 8 && r.len == TDMM_FRAME && (f < 50 || f >= 200)) {
				int16_t sent[TDMM_FRAME], res[TDMM_FRAME];

				mg_g711_decode_buf(MG_LAW_ALAW, sent, line, TDMM_FRAME);
				mg_g711_decode_buf(MG_LAW_ALAW, res, r.payload, TDMM_FRAME);
				for (int i = 0; i < TDMM_FRAME; i++) {
					e_near += (double)sent[i] * sent[i];
					e_diff += (double)(res[i] - sent[i]) * (res[i] - sent[i]);
				}
			}
			if (r.pt != 101 || !r.marker)
				continue;
			assert_int_equal(tdmm_event_decode(r.payload, r.len, &e), 0);
			if (ngot < sizeof(got) - 1)
				got[ngot++] = tdmm_event_to_digit(e.event);
		}
	}
	print_message("digits as RFC 4733 events at B: \"%s\"; near end vs what B's canceller "
		      "changed: %.1f dB\n", got, 10 * log10(e_near / (e_diff + 1)));
	assert_string_equal(got, digits);
	assert_true(10 * log10(e_near / (e_diff + 1)) > 25);
	tdmm_chan_free(a);
	tdmm_chan_free(b);
}

/*
 * A late TDM write on the line (tests/dahdi-emu: a period the dataplane did
 * not write in time goes out as idle code, the frame a period later): gateway
 * A plays RFC 4733 '#' for 200 ms; the line carries @p gap_frames x 20 ms of
 * idle code before A's frame @p gap_at, the tone resumes where it was.
 * Returns the digits gateway B sent as events in @p got, the duration of
 * B's end packet in @p end_dur, how many gaps B bridged.
 */
static uint64_t dtmf_line_gap(int gap_at, int gap_frames, char *got, size_t cap, unsigned *end_dur)
{
	struct tdmm_chan *a = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, false);
	struct tdmm_chan *b = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, false);
	uint8_t line[64][TDMM_FRAME];
	unsigned ngot = 0, nline = 0;

	uint64_t bridged;

	got[0] = '\0';
	*end_dur = 0;
	for (int f = 0; f < 40; f++) {
		uint8_t ep[TDMM_RTP_HDR + 4];
		int k = f - 5;

		if (k >= 0 && k < 13) {
			struct tdmm_event e = { 11, k >= 10, 10, (uint16_t)((k < 10 ? k + 1 : 10) * 160) };

			make_rtp(ep, 101, k == 0, (uint16_t)f, 5 * 160, 1);
			tdmm_event_encode(&e, ep + TDMM_RTP_HDR);
			tdmm_from_rtp(a, ep, sizeof(ep), (uint64_t)f * 20000);
		}
		/* the period(s) A missed: idle code on the line, A's frame comes later */
		if (f == gap_at)
			for (int g = 0; g < gap_frames && nline < 64; g++)
				memset(line[nline++], mg_g711_silence(MG_LAW_ALAW), TDMM_FRAME);
		if (nline < 64)
			tdmm_to_tdm(a, line[nline++]);
	}
	for (unsigned f = 0; f < nline; f++) {
		uint8_t opkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
		uint16_t olen[TDMM_MAX_OUT];
		unsigned np = tdmm_from_tdm(b, line[f], opkt, olen);

		for (unsigned j = 0; j < np; j++) {
			struct tdmm_rtp r;
			struct tdmm_event e;

			assert_int_equal(tdmm_rtp_parse(opkt[j], olen[j], &r), 0);
			if (r.pt != 101)
				continue;
			assert_int_equal(tdmm_event_decode(r.payload, r.len, &e), 0);
			if (e.end)
				*end_dur = e.duration;
			if (r.marker && ngot < cap - 1)
				got[ngot++] = tdmm_event_to_digit(e.event);
		}
	}
	got[ngot] = '\0';
	bridged = tdmm_chan_stats(b)->digit_gaps_bridged;
	tdmm_chan_free(a);
	tdmm_chan_free(b);
	return bridged;
}

/* One 20 ms interruption is the same key press (found end to end under load:
 * bob got "159##" for "159#"); a 60 ms pause is two presses. */
static void test_dtmf_line_gap(void **state)
{
	char got[8];
	unsigned dur;

	(void)state;
	assert_int_equal(dtmf_line_gap(-1, 0, got, sizeof(got), &dur), 0);
	assert_string_equal(got, "#");
	assert_in_range(dur, 1600 - 320, 1600 + 320); /* 200 ms, within the detector's lags */
	for (int at = 7; at < 14; at++) {
		uint64_t bridged = dtmf_line_gap(at, 1, got, sizeof(got), &dur);

		assert_string_equal(got, "#");
		assert_int_equal(bridged, 1);
		assert_in_range(dur, 1600, 1600 + 160 + 320); /* the tone and the gap */
		assert_int_equal(dtmf_line_gap(at, 3, got, sizeof(got), &dur), 0);
		assert_string_equal(got, "##");
	}
}

/* Two presses of '5' (100 ms each) with a pause of @p pause_ms between, on
 * the line @p shift samples into a frame: how many events B sent. */
static unsigned dtmf_two_presses(int pause_ms, int shift)
{
	struct tdmm_chan *b = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, false);
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	int16_t lin[TDMM_FRAME * 40 + TDMM_FRAME] = {0};
	unsigned starts = 0;

	dtmf_tx_set_timing(gen, 100, pause_ms);
	dtmf_tx_put(gen, "55", -1);
	dtmf_tx(gen, lin + shift, TDMM_FRAME * 40);
	for (int f = 0; f < 40; f++) {
		uint8_t frame[TDMM_FRAME], pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
		uint16_t len[TDMM_MAX_OUT];
		unsigned np;

		mg_g711_encode_buf(MG_LAW_ALAW, frame, lin + f * TDMM_FRAME, TDMM_FRAME);
		np = tdmm_from_tdm(b, frame, pkt, len);
		for (unsigned k = 0; k < np; k++)
			starts += (pkt[k][1] & 0x7f) == 101 && (pkt[k][1] & 0x80) != 0;
	}
	dtmf_tx_free(gen);
	tdmm_chan_free(b);
	return starts;
}

/* What bridging a gap costs: two presses of one key 50 ms apart (a fast
 * dialer) stay two digits at every phase; 30 ms apart are one. */
static void test_dtmf_two_presses(void **state)
{
	unsigned told40 = 0;

	(void)state;
	for (int shift = 0; shift < TDMM_FRAME; shift += 8) {
		assert_int_equal(dtmf_two_presses(50, shift), 2);
		assert_int_equal(dtmf_two_presses(30, shift), 1);
		told40 += dtmf_two_presses(40, shift) == 2;
	}
	print_message("40 ms pause: two digits at %u of 20 phases\n", told40);
}

/*
 * RFC 4733 from a network that reorders: '5' (timestamp T1, three end
 * packets) then '9' (T2 > T1); one of '5''s end packets is late and arrives
 * while '9' plays. It is the old event's: dropped and counted, '9' goes on;
 * the line carries "59", not "595". A new SSRC (another stream) starts over.
 */
static void send_event(struct tdmm_chan *c, uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t ev,
		       bool end, uint16_t dur, unsigned f)
{
	uint8_t ep[TDMM_RTP_HDR + 4];
	struct tdmm_event e = { ev, end, 10, dur };

	make_rtp(ep, 101, dur == 160, seq, ts, ssrc);
	tdmm_event_encode(&e, ep + TDMM_RTP_HDR);
	tdmm_from_rtp(c, ep, sizeof(ep), (uint64_t)f * 20000);
}

static void test_dtmf_late_end_of_old_event(void **state)
{
	struct tdmm_chan *c = chan(MG_LAW_ALAW, MG_LAW_ULAW, 101, false);
	dtmf_rx_state_t *det = dtmf_rx_init(NULL, NULL, NULL);
	const uint32_t t1 = 0xfffff000u, t2 = t1 + 40 * 160; /* across the wrap */
	char heard[16] = {0};
	uint16_t seq = 100;

	(void)state;
	for (unsigned f = 0; f < 90; f++) {
		uint8_t out[TDMM_FRAME];
		int16_t lin[TDMM_FRAME];

		if (f < 8) /* '5': 8 updates, then 3 ends */
			send_event(c, seq++, t1, 7, 5, false, (uint16_t)((f + 1) * 160), f);
		else if (f < 10)
			send_event(c, seq++, t1, 7, 5, true, 8 * 160, f);
		else if (f >= 40 && f < 48) /* '9' */
			send_event(c, seq++, t2, 7, 9, false, (uint16_t)((f - 39) * 160), f);
		else if (f >= 48 && f < 51)
			send_event(c, seq++, t2, 7, 9, true, 8 * 160, f);
		if (f == 43) /* '5''s third end packet, late */
			send_event(c, 109, t1, 7, 5, true, 8 * 160, f);
		tdmm_to_tdm(c, out);
		mg_g711_decode_buf(MG_LAW_ALAW, lin, out, TDMM_FRAME);
		dtmf_rx(det, lin, TDMM_FRAME);
	}
	dtmf_rx_get(det, heard, sizeof(heard) - 1);
	assert_string_equal(heard, "59");
	assert_int_equal(tdmm_chan_stats(c)->digits_played, 2);
	assert_int_equal(tdmm_chan_stats(c)->drops[TDMM_DROP_STALE_EVENT], 1);
	/* another stream (a new SSRC), its timestamps anywhere: a new event */
	send_event(c, 1, t1 - 5000, 8, 1, false, 160, 91);
	assert_int_equal(tdmm_chan_stats(c)->digits_played, 3);
	dtmf_rx_free(det);
	tdmm_chan_free(c);
}

/*
 * RTCP: SR counts what was sent, the report block what arrived from the far
 * end (a gap of 3 packets, a sequence wrap, steady 20 ms arrival = zero
 * jitter, then one late packet), SDES carries the CNAME; byte layout per
 * RFC 3550 6.4.1 / 6.5.
 */
static void test_rtcp_report(void **state)
{
	(void)state;
	struct tdmm_chan *c = chan(MG_LAW_ULAW, MG_LAW_ULAW, 101, false);
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX], rtp[TDMM_RTP_HDR + TDMM_FRAME], out[TDMM_RTCP_MAX];
	uint16_t len[TDMM_MAX_OUT];
	uint8_t frame[TDMM_FRAME];
	uint64_t ntp = ((uint64_t)3900000000u << 32) | 0x80000000u;
	size_t n;

	/* no RTP from the far end yet: SR without report block */
	memset(frame, 0xff, sizeof(frame));
	for (int f = 0; f < 50; f++)
		assert_int_equal(tdmm_from_tdm(c, frame, pkt, len), 1);
	n = tdmm_rtcp_report(c, ntp, "mg@192.0.2.1", out, sizeof(out));
	assert_int_equal(n, 28 + 24); /* SDES: 8 + item 2+12 + END, padded to 24 */
	assert_int_equal(out[0], 0x80);
	assert_int_equal(out[1], 200);
	assert_int_equal(be16(out + 2), 28 / 4 - 1);
	assert_int_equal(be32(out + 4), 0x11223344);
	assert_int_equal(be32(out + 8), 3900000000u);
	assert_int_equal(be32(out + 12), 0x80000000u);
	assert_int_equal(be32(out + 16), 0xffffff00u + 50 * 160); /* the next frame's timestamp */
	assert_int_equal(be32(out + 20), 50);
	assert_int_equal(be32(out + 24), 50 * 160);
	assert_int_equal(out[28], 0x81);
	assert_int_equal(out[29], 202);
	assert_int_equal(be16(out + 30), 24 / 4 - 1);
	assert_int_equal(be32(out + 32), 0x11223344);
	assert_int_equal(out[36], 1);
	assert_int_equal(out[37], 12);
	assert_memory_equal(out + 38, "mg@192.0.2.1", 12);
	assert_int_equal(out[50], 0); /* END */
	assert_int_equal(n % 4, 0);

	/* the far end: seq 65530.. across the wrap, 3 lost (seq 2, 3, 4) */
	memset(rtp + TDMM_RTP_HDR, 0xff, TDMM_FRAME);
	uint16_t seq = 65530;
	uint32_t ts = 1000;
	uint64_t t_us = 5000000;
	unsigned sent = 0;

	for (int k = 0; k < 20; k++, seq++, ts += 160, t_us += 20000) {
		if (seq == 2 || seq == 3 || seq == 4)
			continue;
		make_rtp(rtp, 0, false, seq, ts, 0xcafe0001u);
		tdmm_from_rtp(c, rtp, sizeof(rtp), t_us);
		sent++;
	}
	/* seq is now 14; the last one taken was 13 */
	n = tdmm_rtcp_report(c, ntp, "mg@192.0.2.1", out, sizeof(out));
	assert_int_equal(n, 28 + 24 + 24);
	assert_int_equal(out[0], 0x81);
	assert_int_equal(be16(out + 2), 52 / 4 - 1);
	const uint8_t *b = out + 28;

	assert_int_equal(be32(b), 0xcafe0001u);
	assert_int_equal(b[4], 3 * 256 / 20);           /* fraction lost: 3 of 20 */
	assert_int_equal(be32(b + 4) & 0xffffff, 3);    /* cumulative lost */
	assert_int_equal(be32(b + 8), 65536 + 13);      /* one wrap, highest 13 */
	assert_int_equal(be32(b + 12), 0);              /* steady arrival: no jitter */
	assert_int_equal(be32(b + 16), 0);              /* LSR */
	assert_int_equal(be32(b + 20), 0);              /* DLSR */
	assert_int_equal(out[52 + 1], 202);

	/* next interval: nothing lost; one packet 80 ms late gives jitter 640/16 */
	for (int k = 0; k < 5; k++, seq++, ts += 160, t_us += 20000) {
		make_rtp(rtp, 0, false, seq, ts, 0xcafe0001u);
		tdmm_from_rtp(c, rtp, sizeof(rtp), t_us + (k == 4 ? 80000 : 0));
	}
	n = tdmm_rtcp_report(c, ntp, "x", out, sizeof(out));
	b = out + 28;
	assert_int_equal(b[4], 0);
	assert_int_equal(be32(b + 4) & 0xffffff, 3);
	assert_int_equal(be32(b + 8), 65536 + 18);
	assert_int_equal(be32(b + 12), 640 / 16);
	assert_int_equal(n, 28 + 24 + 12); /* SDES: 8 + item 2+1 + END, padded to 12 */

	/* too small a buffer: nothing written, 0 */
	assert_int_equal(tdmm_rtcp_report(c, ntp, "x", out, 40), 0);
	tdmm_chan_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packetise),
		cmocka_unit_test(test_depacketise_law),
		cmocka_unit_test(test_event_codec),
		cmocka_unit_test(test_rtp_parse),
		cmocka_unit_test(test_rtp_hdr_len),
		cmocka_unit_test(test_dtmf_round_trip),
		cmocka_unit_test(test_echo_canceller),
		cmocka_unit_test(test_echo_canceller_no_echo_dtmf),
		cmocka_unit_test(test_echo_canceller_near_dtmf_tone_ref),
		cmocka_unit_test(test_dtmf_line_gap),
		cmocka_unit_test(test_dtmf_two_presses),
		cmocka_unit_test(test_dtmf_late_end_of_old_event),
		cmocka_unit_test(test_rtcp_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
