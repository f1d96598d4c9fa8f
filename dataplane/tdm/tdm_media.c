/* SPDX-License-Identifier: BSD-3-Clause */
#include "tdm_media.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include <spandsp.h>

#include "mg_rtp.h"

/* A telephone-event stream that stops without an end packet (all lost) stops
 * the tone after this many frames without an update (RFC 4733 2.5.2.3 leaves
 * the choice to the receiver; 200 ms is several update intervals). */
#define TONE_IDLE_FRAMES 10
/* A digit the detector hears stop and start again within this many 10 ms
 * halves of a frame is one key press: a late or slipped frame on the line
 * (20 ms of idle code in the tone, tests/dahdi-emu when the TDM thread misses
 * a period) is not a second digit. spandsp decides in 12.75 ms blocks: with
 * 40 ms, interruptions of 20 and 30 ms are bridged at every phase, pauses of
 * 50 ms or more between two presses of one key told at every phase, 40 ms
 * pauses (ITU-T Q.24's shortest) at 14 of 20 (tdm_media_test). */
#define TDMM_DIGIT_GAP_HALVES 4
/* An event timestamp this far (10 s) behind the current event's is a late
 * packet of an earlier event; further back, the sender's clock jumped: new. */
#define TDMM_EVENT_STALE_SPAN (10u * 8000u)
/* Shortest tone played for an event (so the far end can detect it). */
#define TONE_MIN_SAMPLES 320
/* DTMF levels (dBm0): low group -10, high group -8 (2 dB twist, as DTMF
 * senders commonly use and spandsp's dtmf_tx does). */
#define TONE_LOW_DBM0 (-10)
#define TONE_HIGH_DBM0 (-8)

/* One continuous spandsp tone descriptor per DTMF key, built once. The tone
 * runs as long as the RFC 4733 event says (dtmf_tx would cut it into its own
 * fixed on/off cadence). */
static tone_gen_descriptor_t *dtmf_desc[16];
static pthread_once_t dtmf_desc_once = PTHREAD_ONCE_INIT;

static void dtmf_desc_init(void)
{
	static const char keys[] = "123A456B789C*0#D";
	static const int low[4] = { 697, 770, 852, 941 }, high[4] = { 1209, 1336, 1477, 1633 };

	for (int k = 0; k < 16; k++) {
		int ev = tdmm_digit_to_event(keys[k]);

		dtmf_desc[ev] = tone_gen_descriptor_init(NULL, low[k / 4], TONE_LOW_DBM0, high[k % 4],
							 TONE_HIGH_DBM0, 1000, 0, 0, 0, 1);
	}
}
#define EVENT_VOLUME 10 /* -dBm0 reported for detected digits */

/*
 * Line echo canceller: NLMS over TDMM_EC_TAPS taps with a Geigel double-talk
 * detector (adaptation stops while the near end is louder than half the
 * loudest recent far-end sample, and for a hangover after). Not spandsp's
 * echo_can: Debian 12's spandsp 0.0.6 build prints two debug lines to stdout
 * for every sample echo_can_update() processes (16053 lines for 8000
 * samples, every mode), which no media path can carry.
 * The reference is kept twice (x[pos..pos+TAPS-1] is contiguous, newest
 * first) so the filter loops have no modulo and vectorise.
 */
#define EC_MU 0.4f
#define EC_HANGOVER 240 /* samples (30 ms) of no adaptation after double talk */
struct tdmm_ec {
	float w[TDMM_EC_TAPS];
	float x[2 * TDMM_EC_TAPS];
	unsigned pos;
	double xpow;           /* energy of the reference window */
	unsigned hangover;
	int16_t prev_max;      /* loudest |reference| of the previous frame */
	uint64_t resets;       /* divergence guard fired */
};

/*
 * @p adapt false: filter with the current estimate but do not learn. The
 * caller passes false while the reference is a tone we generate ourselves
 * (RFC 4733 -> DTMF): a two-tone reference is too narrowband for NLMS, and
 * at DTMF level it is loud enough to hide near-end talk from the Geigel
 * test, which together make the filter learn garbage (found by the
 * end-to-end test: the far end's own 1000 Hz came back after '123').
 */
/* Returns how many of the frame's samples took an NLMS step. */
static unsigned ec_frame(struct tdmm_ec *ec, const int16_t *ref, int16_t *rx, bool adapt)
{
	unsigned stepped = 0;
	int16_t cur_max = 0;
	double e_in = 0, e_out = 0;

	for (unsigned i = 0; i < TDMM_FRAME; i++) {
		int16_t a = (int16_t)(ref[i] < 0 ? (ref[i] == INT16_MIN ? INT16_MAX : -ref[i]) : ref[i]);

		if (a > cur_max)
			cur_max = a;
	}
	int16_t xmax = cur_max > ec->prev_max ? cur_max : ec->prev_max;
	int rx_max = 0;

	/* Geigel over the whole frame before any sample adapts: tested sample by
	 * sample only, the first samples of near-end talk (quieter than half the
	 * far end's peak while they rise) were learnt from, one NLMS step each
	 * (mu 0.4 of the error), and the filter then injected the far end into
	 * the near end's audio for as long as the talk lasted (found end to end
	 * with a steady far-end tone: it broke DTMF detection, "159##"). */
	for (unsigned i = 0; i < TDMM_FRAME; i++)
		if (abs(rx[i]) > rx_max)
			rx_max = abs(rx[i]);
	if (rx_max * 2 > xmax && xmax > 0)
		ec->hangover = EC_HANGOVER;

	for (unsigned n = 0; n < TDMM_FRAME; n++) {
		float old, y = 0.0f, e;

		const float *x;

		ec->pos = ec->pos == 0 ? TDMM_EC_TAPS - 1 : ec->pos - 1;
		old = ec->x[ec->pos];
		ec->x[ec->pos] = ec->x[ec->pos + TDMM_EC_TAPS] = (float)ref[n];
		ec->xpow += (double)ref[n] * ref[n] - (double)old * old;
		if (ec->xpow < 0)
			ec->xpow = 0;
		x = &ec->x[ec->pos];
		/* eight partial sums: lets the compiler use vector lanes without
		 * reassociating a single float sum itself */
		float acc[8] = { 0 };

		for (unsigned i = 0; i < TDMM_EC_TAPS; i += 8)
			for (unsigned k = 0; k < 8; k++)
				acc[k] += ec->w[i + k] * x[i + k];
		for (unsigned k = 0; k < 8; k++)
			y += acc[k];
		e = (float)rx[n] - y;
		e_in += (double)rx[n] * rx[n];
		e_out += (double)e * e;
		if (!adapt || (abs(rx[n]) * 2 > xmax && xmax > 0))
			ec->hangover = EC_HANGOVER; /* near end talking (or no echo path yet) */
		if (ec->hangover > 0) {
			ec->hangover--;
		} else if (ec->xpow > TDMM_EC_TAPS * 64.0) {
			float g = EC_MU * e / (float)ec->xpow;

			for (unsigned i = 0; i < TDMM_EC_TAPS; i++)
				ec->w[i] += g * x[i];
			stepped++;
		}
		rx[n] = (int16_t)(e > 32767.0f ? 32767 : (e < -32768.0f ? -32768 : (int)e));
	}
	ec->prev_max = cur_max;
	/* divergence guard: a canceller that adds energy has learnt a wrong
	 * path; start again from nothing rather than keep injecting it */
	if (e_out > 2 * e_in && e_out > (double)TDMM_FRAME * 100 * 100) {
		memset(ec->w, 0, sizeof(ec->w));
		ec->resets++;
	}
	return stepped;
}

struct tdmm_chan {
	struct tdmm_config cfg;
	struct tdmm_stats stats;
	/* TDM -> RTP */
	uint16_t seq;
	uint32_t ts;
	dtmf_rx_state_t *dtmf_rx;
	struct tdmm_ec *ec;
	int16_t ref[TDMM_FRAME]; /* linear of the frame last written to TDM: echo reference */
	bool ref_tone;           /* ... and it was a DTMF tone of ours */
	int det_start;           /* digit the detector reported down in this frame, 0 none */
	bool det_end;            /* the detector reported the digit up */
	uint32_t halves;         /* 10 ms halves of frames given to the detector */
	uint32_t det_start_at;   /* ... the half det_start came in */
	uint32_t det_end_at;     /* ... the half det_end came in */
	bool ev_active;
	uint8_t ev_code;
	uint32_t ev_ts;
	uint32_t ev_dur;
	bool ev_marker;
	bool ev_hold;            /* the detector said up: waiting for the digit to come back */
	uint32_t ev_up_at;       /* the half it said up in */
	uint32_t ev_dur_up;      /* duration when the detector said up */
	/* RTP -> TDM */
	struct mg_jb jb;
	tone_gen_state_t *tone;
	bool rx_ev_known;        /* rx_ev_ts names the last event seen (of rx_ev_ssrc) */
	uint32_t rx_ev_ts;
	uint32_t rx_ev_ssrc;
	bool tone_active;
	uint32_t tone_played;    /* samples */
	uint32_t tone_target;    /* 0 = until the end packet */
	unsigned tone_idle;      /* frames since the last packet of the event */
	/* RTCP (RFC 3550): what we sent, and reception of the far end's stream */
	uint64_t tx_octets;      /* RTP payload octets sent */
	bool rx_known;           /* rx_* describe the stream of rx_ssrc */
	uint32_t rx_ssrc;
	uint16_t rx_max_seq;
	uint32_t rx_cycles;      /* sequence number wraps, << 16 */
	uint32_t rx_base_seq;
	uint64_t rx_received;
	uint64_t rx_expected_prior, rx_received_prior; /* at the last report */
	bool rx_transit_known;
	uint32_t rx_transit;     /* arrival - RTP timestamp, in samples (mod 2^32) */
	double rx_jitter;        /* RFC 3550 A.8, samples */
};

static const char event_digits[16] = "0123456789*#ABCD";

int tdmm_digit_to_event(char digit)
{
	for (int i = 0; i < 16; i++)
		if (event_digits[i] == digit)
			return i;
	if (digit >= 'a' && digit <= 'd')
		return 12 + (digit - 'a');
	return -1;
}

char tdmm_event_to_digit(unsigned event)
{
	return event < 16 ? event_digits[event] : 0;
}

void tdmm_event_encode(const struct tdmm_event *e, uint8_t out[4])
{
	out[0] = e->event;
	out[1] = (uint8_t)((e->end ? 0x80 : 0) | (e->volume & 0x3f));
	out[2] = (uint8_t)(e->duration >> 8);
	out[3] = (uint8_t)e->duration;
}

int tdmm_event_decode(const uint8_t *p, size_t len, struct tdmm_event *e)
{
	if (len < 4)
		return -EINVAL;
	e->event = p[0];
	e->end = (p[1] & 0x80) != 0;
	e->volume = p[1] & 0x3f;
	e->duration = (uint16_t)((p[2] << 8) | p[3]);
	return 0;
}

int tdmm_rtp_parse(const uint8_t *pkt, size_t len, struct tdmm_rtp *r)
{
	size_t hl;

	if (len < TDMM_RTP_HDR || (pkt[0] >> 6) != 2)
		return -EINVAL;
	hl = mg_rtp_hdr_len(pkt, len);
	if (hl == 0)
		return -EINVAL;
	if (pkt[0] & 0x20) {
		uint8_t pad = pkt[len - 1];

		if (pad == 0 || pad > len - hl)
			return -EINVAL;
		len -= pad;
	}
	r->marker = (pkt[1] & 0x80) != 0;
	r->pt = pkt[1] & 0x7f;
	r->seq = (uint16_t)((pkt[2] << 8) | pkt[3]);
	r->ts = ((uint32_t)pkt[4] << 24) | ((uint32_t)pkt[5] << 16) | ((uint32_t)pkt[6] << 8) | pkt[7];
	r->ssrc = ((uint32_t)pkt[8] << 24) | ((uint32_t)pkt[9] << 16) | ((uint32_t)pkt[10] << 8) |
		  pkt[11];
	r->payload = pkt + hl;
	r->len = len - hl;
	return 0;
}

const char *tdmm_drop_name(enum tdmm_drop d)
{
	switch (d) {
	case TDMM_DROP_MALFORMED:
		return "malformed";
	case TDMM_DROP_UNKNOWN_PT:
		return "unknown_pt";
	case TDMM_DROP_JB:
		return "jitter_buffer";
	case TDMM_DROP_STALE_EVENT:
		return "stale_event";
	default:
		return "?";
	}
}

/* spandsp's realtime report: code = ASCII digit when it goes down, 0 when up. */
static void dtmf_report(void *arg, int code, int level, int delay)
{
	struct tdmm_chan *c = arg;

	(void)level;
	(void)delay;
	if (code != 0) {
		c->det_start = code;
		c->det_start_at = c->halves;
	} else {
		c->det_end = true;
		c->det_end_at = c->halves;
	}
}

struct tdmm_chan *tdmm_chan_new(const struct tdmm_config *cfg)
{
	struct mg_jb_config jc = {0};
	struct tdmm_chan *c;

	if (cfg == NULL || cfg->pt > 127 || cfg->event_pt > 127 ||
	    (cfg->event_pt != 0 && cfg->event_pt == cfg->pt) ||
	    (cfg->span_law != MG_LAW_ULAW && cfg->span_law != MG_LAW_ALAW) ||
	    (cfg->call_law != MG_LAW_ULAW && cfg->call_law != MG_LAW_ALAW)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	mg_g711_init();
	c->cfg = *cfg;
	c->seq = cfg->first_seq;
	c->ts = cfg->first_ts;
	if (cfg->jb != NULL)
		jc = *cfg->jb;
	jc.law = cfg->span_law;
	jc.frame_samples = TDMM_FRAME;
	if (mg_jb_init(&c->jb, &jc) < 0) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->event_pt != 0) {
		c->dtmf_rx = dtmf_rx_init(NULL, NULL, NULL);
		pthread_once(&dtmf_desc_once, dtmf_desc_init);
		for (int k = 0; k < 16; k++)
			if (dtmf_desc[k] == NULL)
				goto nomem;
		c->tone = tone_gen_init(NULL, dtmf_desc[0]);
		if (c->dtmf_rx == NULL || c->tone == NULL)
			goto nomem;
		dtmf_rx_set_realtime_callback(c->dtmf_rx, dtmf_report, c);
	}
	if (cfg->echo_cancel) {
		c->ec = calloc(1, sizeof(*c->ec));
		if (c->ec == NULL)
			goto nomem;
	}
	return c;
nomem:
	tdmm_chan_free(c);
	errno = ENOMEM;
	return NULL;
}

void tdmm_chan_free(struct tdmm_chan *c)
{
	if (c == NULL)
		return;
	if (c->dtmf_rx != NULL)
		dtmf_rx_free(c->dtmf_rx);
	if (c->tone != NULL)
		tone_gen_free(c->tone);
	if (c->ec != NULL)
		free(c->ec);
	free(c);
}

const struct tdmm_stats *tdmm_chan_stats(const struct tdmm_chan *c)
{
	return &c->stats;
}

const struct mg_jb *tdmm_chan_jb(const struct tdmm_chan *c)
{
	return &c->jb;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void rtp_header(struct tdmm_chan *c, uint8_t *p, uint8_t pt, bool marker, uint32_t ts)
{
	p[0] = 0x80;
	p[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	p[2] = (uint8_t)(c->seq >> 8);
	p[3] = (uint8_t)c->seq;
	c->seq++;
	put32(p + 4, ts);
	put32(p + 8, c->cfg.ssrc);
}

static uint16_t event_packet(struct tdmm_chan *c, uint8_t *p, bool end)
{
	struct tdmm_event e = {
		.event = c->ev_code,
		.end = end,
		.volume = EVENT_VOLUME,
		.duration = c->ev_dur > 0xffff ? 0xffff : (uint16_t)c->ev_dur,
	};

	rtp_header(c, p, c->cfg.event_pt, c->ev_marker, c->ev_ts);
	c->ev_marker = false;
	tdmm_event_encode(&e, p + TDMM_RTP_HDR);
	c->stats.rtp_event_out++;
	c->tx_octets += 4;
	return TDMM_RTP_HDR + 4;
}

/* The held event's end packet three times (RFC 4733 2.5.1.4), each its own
 * seq; its duration is the tone's, up to when the detector said up. */
static unsigned event_end(struct tdmm_chan *c, uint8_t pkt[][TDMM_PKT_MAX], uint16_t *len, unsigned n)
{
	c->ev_dur = c->ev_dur_up;
	for (unsigned k = 0; k < TDMM_EVENT_END_REPEATS; k++, n++)
		len[n] = event_packet(c, pkt[n], true);
	c->ev_active = false;
	c->ev_hold = false;
	return n;
}

unsigned tdmm_from_tdm(struct tdmm_chan *c, const uint8_t *frame, uint8_t pkt[][TDMM_PKT_MAX],
		       uint16_t *len)
{
	int16_t lin[TDMM_FRAME];
	bool linear = c->ec != NULL || c->dtmf_rx != NULL;
	unsigned n = 0;

	c->stats.tdm_frames_in++;
	if (linear) {
		mg_g711_decode_buf(c->cfg.span_law, lin, frame, TDMM_FRAME);
		if (c->ec != NULL) {
			c->stats.ec_samples += TDMM_FRAME;
			c->stats.ec_adapt_samples += ec_frame(c->ec, c->ref, lin, !c->ref_tone);
			c->stats.ec_resets = c->ec->resets;
		}
	}
	if (c->dtmf_rx != NULL) {
		c->det_start = 0;
		c->det_end = false;
		/* in halves: when the digit went up and came back, to 10 ms */
		for (unsigned h = 0; h < 2; h++, c->halves++)
			dtmf_rx(c->dtmf_rx, lin + h * (TDMM_FRAME / 2), TDMM_FRAME / 2);
		if (c->ev_active && c->ev_hold && c->det_start != 0) {
			if (tdmm_digit_to_event((char)c->det_start) == c->ev_code &&
			    c->det_start_at - c->ev_up_at <= TDMM_DIGIT_GAP_HALVES) {
				/* the same digit back after a short interruption: the
				 * same key press, the event goes on */
				c->ev_hold = false;
				c->det_start = 0;
				c->stats.digit_gaps_bridged++;
			} else {
				n = event_end(c, pkt, len, n); /* a new press: this one is over */
			}
		}
		if (!c->ev_active && c->det_start != 0) {
			int ev = tdmm_digit_to_event((char)c->det_start);

			if (ev >= 0) {
				c->ev_active = true;
				c->ev_code = (uint8_t)ev;
				c->ev_ts = c->ts;
				c->ev_dur = 0;
				c->ev_marker = true;
				c->ev_hold = false;
				c->stats.digits_detected++;
			}
		}
	}
	if (c->ev_active) {
		c->ev_dur += TDMM_FRAME;
		if (c->det_end && !c->ev_hold) {
			/* up: ended only if it stays up TDMM_DIGIT_GAP_HALVES (a late
			 * or slipped frame on the line is not a second key press) */
			c->ev_hold = true;
			c->ev_up_at = c->det_end_at;
			c->ev_dur_up = c->ev_dur;
		}
		if (c->ev_hold && c->halves - 1 - c->ev_up_at >= TDMM_DIGIT_GAP_HALVES) {
			n = event_end(c, pkt, len, n); /* no digit back within the gap */
		} else {
			/* while held, the duration stays where the tone stopped */
			uint32_t dur = c->ev_dur;

			if (c->ev_hold)
				c->ev_dur = c->ev_dur_up;
			len[n] = event_packet(c, pkt[n], false);
			c->ev_dur = dur;
			n++;
		}
	} else {
		uint8_t *p = pkt[n];

		rtp_header(c, p, c->cfg.pt, false, c->ts);
		if (c->dtmf_rx != NULL && (c->det_end || dtmf_rx_status(c->dtmf_rx) != 0))
			/* a digit may be starting (not confirmed yet) or just ended: its
			 * tone must not leak as audio next to the events */
			memset(p + TDMM_RTP_HDR, mg_g711_silence(c->cfg.call_law), TDMM_FRAME);
		else if (c->ec != NULL)
			mg_g711_encode_buf(c->cfg.call_law, p + TDMM_RTP_HDR, lin, TDMM_FRAME);
		else
			mg_g711_transcode(c->cfg.span_law, c->cfg.call_law, p + TDMM_RTP_HDR, frame,
					  TDMM_FRAME);
		len[n++] = TDMM_PKT_MAX;
		c->stats.rtp_audio_out++;
		c->tx_octets += TDMM_FRAME;
	}
	c->ts += TDMM_FRAME;
	return n;
}

static void event_in(struct tdmm_chan *c, const struct tdmm_rtp *r)
{
	struct tdmm_event e;

	if (tdmm_event_decode(r->payload, r->len, &e) < 0) {
		c->stats.drops[TDMM_DROP_MALFORMED]++;
		return;
	}
	c->stats.events_in++;
	if (c->rx_ev_known && r->ts == c->rx_ev_ts) {
		/* update or end (or a repeat of it) of the event we know */
		if (!c->tone_active)
			return;
		c->tone_idle = 0;
		if (e.end)
			c->tone_target = e.duration > TONE_MIN_SAMPLES ? e.duration : TONE_MIN_SAMPLES;
		return;
	}
	if (c->rx_ev_known && r->ssrc == c->rx_ev_ssrc && (int32_t)(r->ts - c->rx_ev_ts) < 0 &&
	    c->rx_ev_ts - r->ts < TDMM_EVENT_STALE_SPAN) {
		/* a late packet of an earlier event (the network reordered it, a
		 * retransmitted end): playing it would cut the current digit
		 * and add one (RFC 4733: events are told apart by timestamp) */
		c->stats.drops[TDMM_DROP_STALE_EVENT]++;
		return;
	}
	c->rx_ev_known = true;
	c->rx_ev_ts = r->ts;
	c->rx_ev_ssrc = r->ssrc;
	if (e.event > 15)
		return; /* not DTMF (flash, modem tones): nothing to play */
	tone_gen_init(c->tone, dtmf_desc[e.event]); /* re-init in place: no allocation */
	/* the tone replaces the audio: what the buffer holds (and would conceal
	 * with after the tone) is the start of the same digit */
	mg_jb_reset(&c->jb);
	c->tone_active = true;
	c->tone_played = 0;
	c->tone_idle = 0;
	c->tone_target = 0;
	if (e.end)
		c->tone_target = e.duration > TONE_MIN_SAMPLES ? e.duration : TONE_MIN_SAMPLES;
	c->stats.digits_played++;
}

/* RFC 3550 A.1/A.8, simplified: no probation; a new SSRC starts over. */
static void rx_stats(struct tdmm_chan *c, const struct tdmm_rtp *r, uint64_t arrival_us)
{
	/* modulo 2^32 like the timestamps themselves, so a wrap is no jump */
	uint32_t transit = (uint32_t)(arrival_us * 8 / 1000) - r->ts;

	if (!c->rx_known || r->ssrc != c->rx_ssrc) {
		c->rx_known = true;
		c->rx_ssrc = r->ssrc;
		c->rx_base_seq = r->seq;
		c->rx_max_seq = r->seq;
		c->rx_cycles = 0;
		c->rx_received = 0;
		c->rx_expected_prior = c->rx_received_prior = 0;
		c->rx_transit_known = false;
		c->rx_jitter = 0;
	}
	uint16_t delta = (uint16_t)(r->seq - c->rx_max_seq);

	if (delta < 0x8000) { /* in order, maybe with a gap */
		if (r->seq < c->rx_max_seq)
			c->rx_cycles += 1u << 16;
		c->rx_max_seq = r->seq;
	}
	c->rx_received++;
	/* jitter over the codec's packets only: events keep one timestamp */
	if (r->pt == c->cfg.pt) {
		if (c->rx_transit_known) {
			int32_t d = (int32_t)(transit - c->rx_transit);

			c->rx_jitter += (fabs((double)d) - c->rx_jitter) / 16.0;
		}
		c->rx_transit = transit;
		c->rx_transit_known = true;
	}
}

size_t tdmm_rtcp_report(struct tdmm_chan *c, uint64_t ntp, const char *cname, uint8_t *out,
			size_t cap)
{
	size_t cn = strlen(cname) > 255 ? 255 : strlen(cname);
	bool rr = c->rx_known;
	size_t sr_len = 28 + (rr ? 24 : 0);
	size_t sdes_len = (8 + 2 + cn + 1 + 3) & ~(size_t)3; /* header, SSRC, item, END, pad */
	uint8_t *p = out;

	if (sr_len + sdes_len > cap)
		return 0;
	memset(out, 0, sr_len + sdes_len);
	p[0] = (uint8_t)(0x80 | (rr ? 1 : 0));
	p[1] = 200; /* SR */
	p[2] = (uint8_t)((sr_len / 4 - 1) >> 8);
	p[3] = (uint8_t)(sr_len / 4 - 1);
	put32(p + 4, c->cfg.ssrc);
	put32(p + 8, (uint32_t)(ntp >> 32));
	put32(p + 12, (uint32_t)ntp);
	/* c->ts is the timestamp of the frame the next TDM period makes: the
	 * sampling instant of "now" to within one frame */
	put32(p + 16, c->ts);
	put32(p + 20, (uint32_t)(c->stats.rtp_audio_out + c->stats.rtp_event_out));
	put32(p + 24, (uint32_t)c->tx_octets);
	if (rr) {
		uint64_t ext_max = c->rx_cycles + c->rx_max_seq;
		uint64_t expected = ext_max - c->rx_base_seq + 1;
		int64_t lost = (int64_t)expected - (int64_t)c->rx_received;
		uint64_t exp_int = expected - c->rx_expected_prior;
		int64_t lost_int = (int64_t)exp_int - (int64_t)(c->rx_received - c->rx_received_prior);
		uint8_t *b = p + 28;

		c->rx_expected_prior = expected;
		c->rx_received_prior = c->rx_received;
		if (lost > 0x7fffff)
			lost = 0x7fffff;
		else if (lost < -0x800000)
			lost = -0x800000;
		put32(b, c->rx_ssrc);
		put32(b + 4, (uint32_t)lost & 0xffffff);
		b[4] = exp_int == 0 || lost_int <= 0 ? 0 : (uint8_t)((lost_int << 8) / (int64_t)exp_int);
		put32(b + 8, (uint32_t)ext_max);
		put32(b + 12, (uint32_t)c->rx_jitter);
		/* LSR/DLSR 0: the far end's SRs are not read (RFC 3550 6.4.1 allows it) */
	}
	p += sr_len;
	p[0] = 0x81; /* one chunk */
	p[1] = 202; /* SDES */
	p[2] = (uint8_t)((sdes_len / 4 - 1) >> 8);
	p[3] = (uint8_t)(sdes_len / 4 - 1);
	put32(p + 4, c->cfg.ssrc);
	p[8] = 1; /* CNAME */
	p[9] = (uint8_t)cn;
	memcpy(p + 10, cname, cn);
	/* the END item and the padding are the zeros memset left */
	return sr_len + sdes_len;
}

void tdmm_from_rtp(struct tdmm_chan *c, const uint8_t *pkt, size_t len, uint64_t arrival_us)
{
	struct tdmm_rtp r;

	if (tdmm_rtp_parse(pkt, len, &r) < 0) {
		c->stats.drops[TDMM_DROP_MALFORMED]++;
		return;
	}
	c->stats.rtp_in++;
	rx_stats(c, &r, arrival_us);
	if (r.pt == c->cfg.pt) {
		uint8_t buf[MG_JB_SLOTS / 2 * TDMM_FRAME];
		const uint8_t *p = r.payload;

		if (r.len > sizeof(buf)) {
			c->stats.drops[TDMM_DROP_JB]++;
			return;
		}
		if (c->cfg.call_law != c->cfg.span_law) {
			mg_g711_transcode(c->cfg.call_law, c->cfg.span_law, buf, r.payload, r.len);
			p = buf;
		}
		if (mg_jb_push(&c->jb, r.seq, r.ts, p, r.len, arrival_us) != MG_JB_PUSH_OK)
			c->stats.drops[TDMM_DROP_JB]++;
		return;
	}
	if (c->cfg.event_pt != 0 && r.pt == c->cfg.event_pt) {
		event_in(c, &r);
		return;
	}
	c->stats.drops[TDMM_DROP_UNKNOWN_PT]++;
}

void tdmm_to_tdm(struct tdmm_chan *c, uint8_t *frame)
{
	bool tone = c->tone_active;

	mg_jb_pop(&c->jb, frame); /* always: the buffer keeps its own clock */
	if (tone) {
		int16_t lin[TDMM_FRAME];
		int got = tone_gen(c->tone, lin, TDMM_FRAME);

		for (int i = got < 0 ? 0 : got; i < TDMM_FRAME; i++)
			lin[i] = 0;
		mg_g711_encode_buf(c->cfg.span_law, frame, lin, TDMM_FRAME);
		c->tone_played += TDMM_FRAME;
		c->stats.tone_frames_out++;
		if ((c->tone_target != 0 && c->tone_played >= c->tone_target) ||
		    ++c->tone_idle > TONE_IDLE_FRAMES)
			c->tone_active = false;
	}
	if (c->ec != NULL) {
		c->ref_tone = tone;
		mg_g711_decode_buf(c->cfg.span_law, c->ref, frame, TDMM_FRAME);
	}
	c->stats.tdm_frames_out++;
}
