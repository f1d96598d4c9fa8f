/* SPDX-License-Identifier: BSD-3-Clause */
#include "tdm_scene.h"

#include <math.h>
#include <string.h>

#include "mg_tdm_g711.h"

/* Who talks, second by second (loops every TDM_SCENE_LOOP_S). The far end
 * alone for the first TDM_SCENE_CONVERGED_S seconds; then each kind of
 * stretch, and far-alone stretches after near-alone and double talk (where
 * a canceller that learnt the near end shows it). */
static const enum tdm_talk script[TDM_SCENE_LOOP_S] = {
	TDM_TALK_FAR,  TDM_TALK_FAR,  TDM_TALK_FAR,  TDM_TALK_FAR,  /* 0-3: converge */
	TDM_TALK_NEAR, TDM_TALK_BOTH, TDM_TALK_FAR,  TDM_TALK_FAR,  /* 4-7 */
	TDM_TALK_QUIET, TDM_TALK_BOTH, TDM_TALK_BOTH, TDM_TALK_FAR, /* 8-11 */
	TDM_TALK_FAR,  TDM_TALK_FAR,  TDM_TALK_NEAR, TDM_TALK_NEAR, /* 12-15 */
	TDM_TALK_FAR,  TDM_TALK_FAR,  TDM_TALK_FAR,  TDM_TALK_FAR,  /* 16-19 */
};

enum tdm_talk tdm_scene_talk(unsigned sec)
{
	return script[sec % TDM_SCENE_LOOP_S];
}

const char *tdm_talk_name(enum tdm_talk t)
{
	static const char *const n[] = { "quiet", "far", "near", "both" };

	return n[t];
}

struct rng {
	uint32_t s;
};

static double urand(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 17;
	r->s ^= r->s << 5;
	return r->s / 4294967296.0;
}

static double uniform(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * urand(r);
}

/* Two-pole resonator (formant), unity-ish gain at its peak. */
struct reson {
	double a1, a2, b0, y1, y2;
};

static void reson_set(struct reson *r, double f, double bw)
{
	double rad = exp(-M_PI * bw / TDM_SCENE_RATE);

	r->a1 = 2 * rad * cos(2 * M_PI * f / TDM_SCENE_RATE);
	r->a2 = -rad * rad;
	r->b0 = 1 - rad;
}

static double reson_run(struct reson *r, double x)
{
	double y = r->b0 * x + r->a1 * r->y1 + r->a2 * r->y2;

	r->y2 = r->y1;
	r->y1 = y;
	return y;
}

/* One talker's continuous speech into @p out (float, arbitrary scale). */
static void talker(float *out, unsigned n, uint32_t seed, double f0_base)
{
	static const double vowels[5][3] = {
		{ 730, 1090, 2440 }, /* a */
		{ 530, 1840, 2480 }, /* e */
		{ 270, 2290, 3010 }, /* i */
		{ 570, 840, 2410 },  /* o */
		{ 300, 870, 2240 },  /* u */
	};
	struct rng r = { seed };
	struct reson f[3] = { 0 }, fric = { 0 };
	double phase = 0, tilt1 = 0, tilt2 = 0, hp_x = 0, hp_y = 0;
	unsigned i = 0, syl_in_phrase = 0, phrase_len = 8;

	reson_set(&fric, 3500, 1500);
	while (i < n) {
		unsigned dur = (unsigned)(uniform(&r, 0.12, 0.28) * TDM_SCENE_RATE);
		unsigned fric_len = urand(&r) < 0.3 ? (unsigned)(uniform(&r, 0.04, 0.08) * TDM_SCENE_RATE) : 0;
		const double *v = vowels[(unsigned)(urand(&r) * 5) % 5];
		double f0 = f0_base * uniform(&r, 0.9, 1.1) * (1.1 - 0.2 * syl_in_phrase / phrase_len);
		double amp = uniform(&r, 0.6, 1.0), gap;

		static float syl[4096];
		double se = 0, fe = 0, norm, fnorm;

		for (int k = 0; k < 3; k++)
			reson_set(&f[k], v[k] * uniform(&r, 0.93, 1.07), 60 + 40 * k);
		/* the syllable, then scaled to its own level: the resonators' gain
		 * depends on where the pitch harmonics fall */
		for (unsigned t = 0; t < dur + fric_len; t++) {
			double x = 0, y;

			if (t < fric_len) {
				/* fricative onset: noise, rising */
				y = reson_run(&fric, urand(&r) - 0.5) * t / fric_len;
			} else {
				unsigned tv = t - fric_len;
				double env = pow(sin(M_PI * tv / dur), 0.6);

				/* pitch pulse train with 2 % jitter and a slow glide */
				phase += f0 * (1 + 0.15 * (double)tv / dur) / TDM_SCENE_RATE;
				if (phase >= 1) {
					phase -= 1 + uniform(&r, -0.02, 0.02);
					x = 1;
				}
				/* glottal spectral tilt: two one-pole low-passes */
				tilt1 = x + 0.9 * tilt1;
				tilt2 = tilt1 + 0.7 * tilt2;
				y = tilt2;
				for (int k = 0; k < 3; k++)
					y = reson_run(&f[k], y) * 4;
				y *= env;
			}
			syl[t] = (float)y;
			if (t < fric_len)
				fe += y * y;
			else
				se += y * y;
		}
		norm = se > 0 ? amp / sqrt(se / dur) : 0;
		fnorm = fe > 0 ? 0.3 * amp / sqrt(fe / fric_len) : 0; /* fricatives ~10 dB softer */
		for (unsigned t = 0; t < dur + fric_len && i < n; t++, i++) {
			double y = syl[t] * (t < fric_len ? fnorm : norm) + 0.01 * (urand(&r) - 0.5); /* breath */

			/* telephone band: ~100 Hz high-pass */
			hp_y = 0.92 * hp_y + y - hp_x;
			hp_x = y;
			out[i] = (float)hp_y;
		}
		/* gap: between syllables, longer between words, a pause between phrases */
		syl_in_phrase++;
		if (syl_in_phrase >= phrase_len) {
			gap = uniform(&r, 0.25, 0.6);
			syl_in_phrase = 0;
			phrase_len = 6 + (unsigned)(urand(&r) * 7);
		} else {
			gap = urand(&r) < 0.4 ? uniform(&r, 0.06, 0.15) : uniform(&r, 0.02, 0.06);
		}
		for (unsigned t = 0; t < (unsigned)(gap * TDM_SCENE_RATE) && i < n; t++, i++) {
			hp_y = 0.92 * hp_y - hp_x;
			hp_x = 0;
			out[i] = (float)hp_y;
		}
	}
}

/* Gate @p x by the script (who == FAR or NEAR talks in BOTH too), 10 ms
 * fades at the edges, and scale its active speech to the target level. */
static void gate_scale(const float *x, int16_t *out, enum tdm_talk who)
{
	static float g[TDM_SCENE_SAMPLES];
	const unsigned fade = TDM_SCENE_RATE / 100;
	double e = 0, active = 0, k;

	for (unsigned i = 0; i < TDM_SCENE_SAMPLES; i++) {
		unsigned sec = i / TDM_SCENE_RATE, in = i % TDM_SCENE_RATE;
		enum tdm_talk t = tdm_scene_talk(sec);
		bool on = t == who || t == TDM_TALK_BOTH;
		bool prev = sec > 0 && (tdm_scene_talk(sec - 1) == who || tdm_scene_talk(sec - 1) == TDM_TALK_BOTH);
		bool next = sec + 1 < TDM_SCENE_LOOP_S &&
			    (tdm_scene_talk(sec + 1) == who || tdm_scene_talk(sec + 1) == TDM_TALK_BOTH);
		double gain = on ? 1 : 0;

		if (on && !prev && in < fade)
			gain = (double)in / fade;
		if (on && !next && in >= TDM_SCENE_RATE - fade)
			gain = (double)(TDM_SCENE_RATE - 1 - in) / fade;
		g[i] = (float)(x[i] * gain);
		if (fabs(g[i]) > 1e-4) {
			e += (double)g[i] * g[i];
			active++;
		}
	}
	k = active > 0 ? TDM_SCENE_DBM0_RMS * pow(10, TDM_SCENE_LEVEL_DBM0 / 20) / sqrt(e / active) : 0;
	for (unsigned i = 0; i < TDM_SCENE_SAMPLES; i++) {
		double v = g[i] * k;

		out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
	}
}

void tdm_scene_init(struct tdm_scene *s)
{
	static float raw[TDM_SCENE_SAMPLES];
	double env_sum = 0, h_sum = 0, pf = 0, pe = 0, k;

	mg_g711_init();
	talker(raw, TDM_SCENE_SAMPLES, 0x2545f491u, 115); /* far: lower voice */
	gate_scale(raw, s->far, TDM_TALK_FAR);
	talker(raw, TDM_SCENE_SAMPLES, 0x9e3779b9u, 205); /* near: higher voice */
	gate_scale(raw, s->near, TDM_TALK_NEAR);
	mg_g711_encode_buf(MG_LAW_ULAW, s->far_ulaw, s->far, TDM_SCENE_SAMPLES);

	/* hybrid echo: bulk delay, then a ringing decay (6-sample time
	 * constant, 1.6 kHz: most energy in the first ~3 ms); no DC
	 * (transformer). The figures depend on this choice: see
	 * docs/benchmarks.md */
	memset(s->h, 0, sizeof(s->h));
	for (unsigned i = 0; i < TDM_SCENE_H_DISP; i++) {
		double env = exp(-(double)i / 6.0);

		s->h[TDM_SCENE_H_DELAY + i] = (float)(env * cos(2 * M_PI * 0.2 * i + 0.4));
		env_sum += env;
		h_sum += s->h[TDM_SCENE_H_DELAY + i];
	}
	for (unsigned i = 0; i < TDM_SCENE_H_DISP; i++)
		s->h[TDM_SCENE_H_DELAY + i] -= (float)(h_sum / env_sum * exp(-(double)i / 6.0));
	/* scale to the ERL on this far-end signal */
	for (unsigned n = TDM_SCENE_H_LEN; n < TDM_SCENE_SAMPLES; n++) {
		double y = 0;

		for (unsigned j = TDM_SCENE_H_DELAY; j < TDM_SCENE_H_DELAY + TDM_SCENE_H_DISP; j++)
			y += s->h[j] * s->far[n - j];
		pe += y * y;
		pf += (double)s->far[n] * s->far[n];
	}
	k = sqrt(pf / pow(10, TDM_SCENE_ERL_DB / 10) / pe);
	for (unsigned j = 0; j < TDM_SCENE_H_LEN; j++)
		s->h[j] *= (float)k;
	s->erl_db = TDM_SCENE_ERL_DB;
}

double tdm_scene_line_frame(const struct tdm_scene *s, struct tdm_line *l, uint64_t k, bool alaw,
			    const uint8_t *played, uint8_t *out, bool *near_talk)
{
	const unsigned base = (unsigned)((k * TDM_SCENE_FRAME) % TDM_SCENE_SAMPLES);
	float *cur = l->hist + TDM_SCENE_H_LEN;
	int16_t rx[TDM_SCENE_FRAME];
	double e = 0;

	for (unsigned n = 0; n < TDM_SCENE_FRAME; n++)
		cur[n] = played ? (float)mg_g711_decode(alaw ? MG_LAW_ALAW : MG_LAW_ULAW, played[n]) : 0.0f;
	for (unsigned n = 0; n < TDM_SCENE_FRAME; n++) {
		float y = 0;
		double v;

		for (unsigned j = TDM_SCENE_H_DELAY; j < TDM_SCENE_H_DELAY + TDM_SCENE_H_DISP; j++)
			y += s->h[j] * cur[(int)n - (int)j];
		e += (double)y * y;
		v = (double)y + s->near[base + n];
		rx[n] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
	}
	memmove(l->hist, l->hist + TDM_SCENE_FRAME, sizeof(float) * TDM_SCENE_H_LEN);
	mg_g711_encode_buf(alaw ? MG_LAW_ALAW : MG_LAW_ULAW, out, rx, TDM_SCENE_FRAME);
	{
		enum tdm_talk t = tdm_scene_talk((unsigned)(k * TDM_SCENE_FRAME / TDM_SCENE_RATE));

		*near_talk = t == TDM_TALK_NEAR || t == TDM_TALK_BOTH;
	}
	return e;
}

double tdm_scene_dbm0(double energy, double samples)
{
	if (energy <= 0 || samples <= 0)
		return -99;
	return 10 * log10(energy / samples / (TDM_SCENE_DBM0_RMS * TDM_SCENE_DBM0_RMS));
}
