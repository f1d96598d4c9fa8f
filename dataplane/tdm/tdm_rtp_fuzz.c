/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target (meson -Dfuzz=true, clang): the TDM media path's RTP side,
 * what a peer of a PSTN-bridged call controls. One channel (tdm_media: RTP
 * parsing, RFC 4733 events, law conversion, the adaptive jitter buffer,
 * DTMF generation, echo canceller) is built from the first byte; the rest is
 * a script of records, each one control byte:
 *   op 0: an RTP packet, 2-byte little-endian length then that many bytes,
 *         arriving (ctl >> 2) ms after the previous one -> tdmm_from_rtp()
 *         (and tdmm_rtp_parse() / tdmm_event_decode() on the same bytes);
 *   op 1: one 20 ms frame toward TDM -> tdmm_to_tdm();
 *   op 2: one frame from TDM (up to 160 bytes of the input) -> tdmm_from_tdm();
 *   op 3: an RTCP report -> tdmm_rtcp_report().
 * Every packet is copied to a heap block of exactly its length, so a read
 * past it is an ASan error. Properties: no crash, no UB, no leak, outputs
 * within their bounds.
 *
 *   build-fuzz/dataplane/tdm/tdm_rtp_fuzz tests/fuzz/corpus/tdm_rtp -max_total_time=60
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mg_jb_config jbs[4] = {
		{ 0 },
		{ .min_frames = 1, .max_frames = 1, .start_frames = 1 },
		{ .min_frames = 2, .max_frames = 60, .start_frames = 5 },
		{ .frame_samples = 80, .min_frames = 1, .max_frames = 20, .start_frames = 2 },
	};
	struct mg_jb_config jb;
	struct tdmm_config cfg;
	struct tdmm_chan *c;
	uint8_t frame[TDMM_FRAME], rtcp[TDMM_RTCP_MAX];
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
	uint16_t plen[TDMM_MAX_OUT];
	uint64_t now_us = 1000000;
	size_t i = 1;

	if (size < 1)
		return 0;
	jb = jbs[(data[0] >> 4) & 3];
	memset(&cfg, 0, sizeof(cfg));
	cfg.span_law = (data[0] & 1) ? MG_LAW_ALAW : MG_LAW_ULAW;
	cfg.call_law = (data[0] & 2) ? MG_LAW_ALAW : MG_LAW_ULAW;
	cfg.pt = cfg.call_law == MG_LAW_ALAW ? 8 : 0;
	cfg.event_pt = (data[0] & 4) ? 101 : 0;
	cfg.echo_cancel = (data[0] & 8) != 0;
	cfg.ssrc = 0x11223344;
	cfg.first_seq = 65530; /* wraps early */
	cfg.first_ts = 0xfffff000u;
	jb.law = cfg.call_law;
	cfg.jb = &jb;
	c = tdmm_chan_new(&cfg);
	if (c == NULL) {
		if (errno != EINVAL && errno != ENOMEM)
			abort();
		return 0;
	}
	while (i < size) {
		uint8_t ctl = data[i++];

		switch (ctl & 3) {
		case 0: {
			size_t len;
			uint8_t *p;
			struct tdmm_rtp r;
			struct tdmm_event e;

			if (size - i < 2)
				goto out;
			len = (size_t)data[i] | (size_t)data[i + 1] << 8;
			i += 2;
			if (len > size - i)
				len = size - i;
			p = malloc(len ? len : 1);
			if (p == NULL)
				goto out;
			memcpy(p, data + i, len);
			i += len;
			now_us += (uint64_t)(ctl >> 2) * 1000;
			if (tdmm_rtp_parse(p, len, &r) == 0) {
				if (r.payload < p || r.payload + r.len > p + len)
					abort();
				(void)tdmm_event_decode(r.payload, r.len, &e);
			}
			tdmm_from_rtp(c, p, len, now_us);
			free(p);
			break;
		}
		case 1:
			tdmm_to_tdm(c, frame);
			now_us += 20000;
			break;
		case 2: {
			size_t n = size - i < TDMM_FRAME ? size - i : TDMM_FRAME;
			unsigned k;

			memset(frame, 0xff, sizeof(frame));
			memcpy(frame, data + i, n);
			i += n;
			k = tdmm_from_tdm(c, frame, pkt, plen);
			if (k > TDMM_MAX_OUT)
				abort();
			for (unsigned q = 0; q < k; q++)
				if (plen[q] > TDMM_PKT_MAX)
					abort();
			break;
		}
		default:
			if (tdmm_rtcp_report(c, now_us << 12, "fuzz@mediagate", rtcp, sizeof(rtcp)) >
			    sizeof(rtcp))
				abort();
			break;
		}
	}
out:
	(void)tdmm_chan_stats(c);
	tdmm_chan_free(c);
	return 0;
}
