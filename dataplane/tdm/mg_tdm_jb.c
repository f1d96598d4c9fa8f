/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_tdm_jb.h"

#include <errno.h>
#include <string.h>

#define JB_SHRINK_POPS 25     /* 0.5 s deeper than target + 1 before dropping a frame */
#define JB_FLOOR_DECAY_POPS 500 /* 10 s without lateness before the floor drops by one */
#define JB_CONCEAL_FRAMES 5   /* fading repeats before plain silence */

int mg_jb_init(struct mg_jb *jb, const struct mg_jb_config *cfg)
{
	struct mg_jb_config c = *cfg;

	if (!c.frame_samples)
		c.frame_samples = 160;
	if (!c.min_frames)
		c.min_frames = 1;
	if (!c.max_frames)
		c.max_frames = 10;
	if (!c.start_frames)
		c.start_frames = 2;
	if (c.frame_samples > MG_JB_MAX_FRAME || c.min_frames > c.max_frames ||
	    c.max_frames >= MG_JB_SLOTS / 2 || c.start_frames > c.max_frames ||
	    (c.law != MG_LAW_ULAW && c.law != MG_LAW_ALAW))
		return -EINVAL;
	memset(jb, 0, sizeof(*jb));
	jb->cfg = c;
	mg_g711_init();
	mg_jb_reset(jb);
	return 0;
}

void mg_jb_reset(struct mg_jb *jb)
{
	jb->have_base = false;
	jb->playing = false;
	jb->have_transit = false;
	jb->jitter_q4 = 0;
	jb->floor_frames = jb->cfg.start_frames;
	jb->quiet_pops = 0;
	jb->deep_pops = 0;
	jb->lost_run = 0;
	jb->have_last_good = false;
	memset(jb->slot_used, 0, sizeof(jb->slot_used));
}

static unsigned jb_slot(const struct mg_jb *jb, uint32_t ts)
{
	/* callers only pass timestamps at or after play_ts on its frame grid */
	return (jb->play_idx + (ts - jb->play_ts) / jb->cfg.frame_samples) % MG_JB_SLOTS;
}

unsigned mg_jb_depth(const struct mg_jb *jb)
{
	int32_t d;

	if (!jb->have_base)
		return 0;
	d = (int32_t)(jb->newest_end - jb->play_ts);
	return d > 0 ? (unsigned)d / jb->cfg.frame_samples : 0;
}

unsigned mg_jb_target(const struct mg_jb *jb)
{
	unsigned f = jb->cfg.frame_samples;
	unsigned t = 1 + (3 * (jb->jitter_q4 >> 4) + f - 1) / f;

	if (t < jb->floor_frames)
		t = jb->floor_frames;
	if (t < jb->cfg.min_frames)
		t = jb->cfg.min_frames;
	if (t > jb->cfg.max_frames)
		t = jb->cfg.max_frames;
	return t;
}

static void jb_raise_floor(struct mg_jb *jb)
{
	if (jb->floor_frames < jb->cfg.max_frames)
		jb->floor_frames++;
	jb->quiet_pops = 0;
}

static void jb_update_jitter(struct mg_jb *jb, uint32_t ts, uint64_t arrival_us)
{
	/* RFC 3550 A.8, in samples of an 8 kHz clock */
	int64_t transit = (int64_t)(arrival_us * 8 / 1000) - (int64_t)ts;
	int64_t d;

	if (jb->have_transit) {
		d = transit - jb->last_transit;
		if (d < 0)
			d = -d;
		if (d > 8000) /* a clock step or a stream restart, not jitter */
			d = 8000;
		jb->jitter_q4 += (uint32_t)d - ((jb->jitter_q4 + 8) >> 4);
	}
	jb->last_transit = transit;
	jb->have_transit = true;
}

enum mg_jb_push mg_jb_push(struct mg_jb *jb, uint16_t seq, uint32_t ts, const uint8_t *payload,
			   size_t len, uint64_t arrival_us)
{
	unsigned f = jb->cfg.frame_samples;
	unsigned nframes;
	int32_t d;

	if (len == 0 || len % f || len / f > MG_JB_SLOTS / 2) {
		jb->stats.bad_size++;
		return MG_JB_PUSH_BAD_SIZE;
	}
	nframes = (unsigned)(len / f);
	if (!jb->have_base) {
		jb->have_base = true;
		jb->play_idx = 0;
		jb->play_ts = ts;
		jb->newest_end = ts;
		jb->max_seq = seq;
	}
	d = (int32_t)(ts - jb->play_ts);
	if (d < 0) {
		jb->stats.late++;
		if (jb->playing)
			jb_raise_floor(jb);
		return MG_JB_PUSH_LATE;
	}
	if ((uint32_t)d % f) {
		/* not on the frame grid of this stream: a new stream */
		jb->stats.resync++;
		mg_jb_reset(jb);
		return mg_jb_push(jb, seq, ts, payload, len, arrival_us);
	}
	if ((uint32_t)d / f + nframes > MG_JB_SLOTS) {
		if ((uint32_t)d / f > 2 * MG_JB_SLOTS) {
			/* far beyond the window: the sender restarted its timeline */
			jb->stats.resync++;
			mg_jb_reset(jb);
			return mg_jb_push(jb, seq, ts, payload, len, arrival_us);
		}
		jb->stats.overflow++;
		return MG_JB_PUSH_OVERFLOW;
	}
	for (unsigned i = 0; i < nframes; i++) {
		uint32_t fts = ts + i * f;
		unsigned s = jb_slot(jb, fts);

		if (jb->slot_used[s] && jb->slot_ts[s] == fts) {
			if (i == 0) {
				jb->stats.duplicate++;
				return MG_JB_PUSH_DUPLICATE;
			}
			continue;
		}
		memcpy(jb->slot[s], payload + (size_t)i * f, f);
		jb->slot_ts[s] = fts;
		jb->slot_used[s] = true;
	}
	if ((int32_t)(ts + nframes * f - jb->newest_end) > 0)
		jb->newest_end = ts + nframes * f;
	if ((int16_t)(seq - jb->max_seq) < 0)
		jb->stats.reordered++;
	else
		jb->max_seq = seq;
	jb_update_jitter(jb, ts, arrival_us);
	jb->stats.pushed++;
	return MG_JB_PUSH_OK;
}

static bool jb_has(const struct mg_jb *jb, uint32_t ts)
{
	unsigned s = jb_slot(jb, ts);

	return jb->slot_used[s] && jb->slot_ts[s] == ts;
}

static void jb_take(struct mg_jb *jb, uint32_t ts, uint8_t *out)
{
	unsigned s = jb_slot(jb, ts);

	if (out)
		memcpy(out, jb->slot[s], jb->cfg.frame_samples);
	jb->slot_used[s] = false;
}

static enum mg_jb_frame jb_silence(struct mg_jb *jb, uint8_t *out)
{
	memset(out, mg_g711_silence(jb->cfg.law), jb->cfg.frame_samples);
	jb->stats.silence++;
	return MG_JB_FRAME_SILENCE;
}

static enum mg_jb_frame jb_conceal(struct mg_jb *jb, uint8_t *out)
{
	unsigned f = jb->cfg.frame_samples;
	/* gain in eighths, falling from 8/8 on the first lost frame */
	int gain;

	jb->lost_run++;
	if (!jb->have_last_good || jb->lost_run > JB_CONCEAL_FRAMES)
		return jb_silence(jb, out);
	gain = 8 - (int)(jb->lost_run - 1) * 8 / JB_CONCEAL_FRAMES;
	for (unsigned i = 0; i < f; i++) {
		int v = mg_g711_decode(jb->cfg.law, jb->last_good[i]) * gain / 8;

		out[i] = mg_g711_encode(jb->cfg.law, (int16_t)v);
	}
	jb->stats.concealed++;
	return MG_JB_FRAME_CONCEALED;
}

/* Playout is stopped: restart from the oldest buffered frame once the
 * buffer holds the target depth; a hole before it is skipped, not played. */
static bool jb_try_start(struct mg_jb *jb)
{
	unsigned f = jb->cfg.frame_samples;
	unsigned depth = mg_jb_depth(jb);

	for (unsigned i = 0; i < depth; i++) {
		uint32_t ts = jb->play_ts + i * f;

		if (jb_has(jb, ts)) {
			jb->play_ts = ts;
			jb->play_idx += i;
			break;
		}
	}
	if (!jb_has(jb, jb->play_ts) || mg_jb_depth(jb) < mg_jb_target(jb))
		return false;
	jb->playing = true;
	return true;
}

enum mg_jb_frame mg_jb_pop(struct mg_jb *jb, uint8_t *out)
{
	unsigned f = jb->cfg.frame_samples;
	unsigned target;

	if (!jb->have_base)
		return jb_silence(jb, out);
	if (++jb->quiet_pops >= JB_FLOOR_DECAY_POPS) {
		if (jb->floor_frames > jb->cfg.min_frames)
			jb->floor_frames--;
		jb->quiet_pops = 0;
	}
	if (!jb->playing && !jb_try_start(jb))
		return jb_conceal(jb, out); /* silence until a first frame was played */

	if (jb_has(jb, jb->play_ts)) {
		jb_take(jb, jb->play_ts, out);
		memcpy(jb->last_good, out, f);
		jb->have_last_good = true;
		jb->lost_run = 0;
		jb->play_ts += f;
		jb->play_idx++;
		jb->stats.played++;
		/* shrink: persistently deeper than needed, drop the next frame */
		target = mg_jb_target(jb);
		if (mg_jb_depth(jb) > target + 1) {
			if (++jb->deep_pops >= JB_SHRINK_POPS) {
				if (jb_has(jb, jb->play_ts))
					jb_take(jb, jb->play_ts, NULL);
				jb->play_ts += f;
				jb->play_idx++;
				jb->stats.shrunk++;
				jb->deep_pops = 0;
			}
		} else {
			jb->deep_pops = 0;
		}
		return MG_JB_FRAME_NORMAL;
	}
	if (mg_jb_depth(jb) == 0) {
		/* dry: wait for the stream instead of running ahead of it */
		jb->playing = false;
		jb->stats.underrun++;
		jb_raise_floor(jb);
		return jb_conceal(jb, out);
	}
	/* a hole with later frames present: that packet is lost (or late) */
	jb->play_ts += f;
	jb->play_idx++;
	return jb_conceal(jb, out);
}
