/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media work of one TDM channel bound to an RTP stream, without threads,
 * rings or DPDK (so unit tests and the bench run it as is):
 *
 *   TDM -> RTP  tdmm_from_tdm(): one 160-byte frame read from the channel
 *               (span law) -> echo canceller (far-end reference = what we
 *               last wrote) -> DTMF detector -> RTP packets: G.711 in the
 *               call's law, or RFC 4733 telephone-events while a digit is
 *               down (audio of the digit is not sent: RFC 4733 section 2.6).
 *   RTP -> TDM  tdmm_from_rtp(): one RTP packet (plain, already decrypted):
 *               audio into the jitter buffer (mg_tdm_jb.h; converted to the span
 *               law), telephone-events start/stop a DTMF tone.
 *               tdmm_to_tdm(): one frame per 20 ms to write: the tone while
 *               an event plays, else the jitter buffer's frame.
 *
 * One channel is used by one thread; nothing here locks, logs or makes a
 * syscall. spandsp states are allocated at init (the control path).
 */
#ifndef DP_TDM_MEDIA_H
#define DP_TDM_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_tdm_g711.h"
#include "mg_tdm_jb.h"

#define TDMM_FRAME 160            /* samples (= bytes) per 20 ms frame */
#define TDMM_RTP_HDR 12
#define TDMM_PKT_MAX (TDMM_RTP_HDR + TDMM_FRAME)
#define TDMM_MAX_OUT 4            /* packets one frame can produce */
#define TDMM_EVENT_END_REPEATS 3  /* RFC 4733 2.5.1.4: the end packet is sent 3 times */
#define TDMM_EC_TAPS 128          /* 16 ms echo tail (DAHDI's usual 128 taps) */

/* RFC 4733 section 3.2 event payload, host order. */
struct tdmm_event {
	uint8_t event;     /* 0-9, 10 = '*', 11 = '#', 12-15 = A-D */
	bool end;
	uint8_t volume;    /* -dBm0, 0..63 */
	uint16_t duration; /* samples */
};

/* Encode/decode the 4-byte event payload. decode: 0 or -EINVAL (short). */
void tdmm_event_encode(const struct tdmm_event *e, uint8_t out[4]);
int tdmm_event_decode(const uint8_t *p, size_t len, struct tdmm_event *e);
/* '0'..'9', '*', '#', 'A'..'D' <-> event code; -1 / 0 for anything else. */
int tdmm_digit_to_event(char digit);
char tdmm_event_to_digit(unsigned event);

/* Parsed RTP header (RFC 3550), payload located past CSRCs/extension/padding. */
struct tdmm_rtp {
	bool marker;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	const uint8_t *payload;
	size_t len;
};
/* 0 or -EINVAL (not version 2, truncated header/extension, bad padding). */
int tdmm_rtp_parse(const uint8_t *pkt, size_t len, struct tdmm_rtp *out);

struct tdmm_config {
	enum mg_law span_law;  /* law on the TDM channel */
	enum mg_law call_law;  /* law of the call's codec (PCMU / PCMA) */
	uint8_t pt;            /* RTP payload type of the codec */
	uint8_t event_pt;      /* telephone-event payload type; 0 = DTMF off */
	uint32_t ssrc;
	uint16_t first_seq;    /* random in production (RFC 3550) */
	uint32_t first_ts;
	bool echo_cancel;
	const struct mg_jb_config *jb; /* NULL: defaults */
};

/* Why something was dropped on the RTP -> TDM side (counted per channel). */
enum tdmm_drop {
	TDMM_DROP_MALFORMED,   /* not RTP, or an event payload shorter than 4 bytes */
	TDMM_DROP_UNKNOWN_PT,  /* neither the codec nor telephone-event */
	TDMM_DROP_JB,          /* refused by the jitter buffer (late, duplicate, ...) */
	TDMM_DROP_STALE_EVENT, /* a telephone-event older than the one playing (reordered) */
	TDMM_DROP__COUNT
};

struct tdmm_stats {
	uint64_t tdm_frames_in;    /* frames read from TDM */
	uint64_t rtp_audio_out;    /* G.711 packets made */
	uint64_t rtp_event_out;    /* telephone-event packets made */
	uint64_t digits_detected;
	uint64_t digit_gaps_bridged; /* a digit heard stop and start again at once: kept one */
	uint64_t rtp_in;           /* RTP packets taken */
	uint64_t events_in;        /* telephone-event packets taken */
	uint64_t digits_played;
	uint64_t tdm_frames_out;   /* frames produced for TDM */
	uint64_t tone_frames_out;  /* of which DTMF tone */
	uint64_t ec_samples;       /* samples through the echo canceller */
	uint64_t ec_adapt_samples; /* of which took an NLMS step (not held by double talk) */
	uint64_t ec_resets;        /* divergence guard fired (filter restarted) */
	uint64_t drops[TDMM_DROP__COUNT];
};

struct tdmm_chan;

/* Allocate a channel's media state; NULL with errno (EINVAL, ENOMEM). */
struct tdmm_chan *tdmm_chan_new(const struct tdmm_config *cfg);
void tdmm_chan_free(struct tdmm_chan *c);

/*
 * TDM -> RTP for one frame (TDMM_FRAME bytes, span law). Writes up to
 * TDMM_MAX_OUT packets into @p pkt with lengths in @p len; returns how many.
 */
unsigned tdmm_from_tdm(struct tdmm_chan *c, const uint8_t *frame, uint8_t pkt[][TDMM_PKT_MAX],
		       uint16_t *len);

/* RTP -> TDM: take one plain RTP packet that arrived at @p arrival_us. */
void tdmm_from_rtp(struct tdmm_chan *c, const uint8_t *pkt, size_t len, uint64_t arrival_us);

/* The frame to write to TDM now (TDMM_FRAME bytes, span law). Once per 20 ms. */
void tdmm_to_tdm(struct tdmm_chan *c, uint8_t *frame);

/*
 * The channel's RTCP compound packet (RFC 3550 6.1): SR for the stream it
 * sends (NTP time @p ntp, 32.32 fixed point; packet and octet counts), one
 * reception report block on the far end's stream once one arrived
 * (cumulative and interval loss, extended highest sequence number,
 * interarrival jitter; LSR/DLSR 0), then SDES with @p cname. Starts a new
 * loss interval. Returns its length, 0 if @p cap is too small
 * (TDMM_RTCP_MAX always suffices).
 */
#define TDMM_RTCP_MAX (28 + 24 + 12 + 256)
size_t tdmm_rtcp_report(struct tdmm_chan *c, uint64_t ntp, const char *cname, uint8_t *out,
			size_t cap);

const struct tdmm_stats *tdmm_chan_stats(const struct tdmm_chan *c);
const struct mg_jb *tdmm_chan_jb(const struct tdmm_chan *c);
const char *tdmm_drop_name(enum tdmm_drop d);

#endif
