/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A telephone conversation for the echo-canceller benchmark (tdm-path-bench):
 * synthetic, deterministic (fixed seeds), 8 kHz.
 *
 *   far   the remote party, arriving by RTP and played to the TDM line: the
 *         echo canceller's reference.
 *   near  the local party on the line (what the canceller must keep).
 *   echo  the line's hybrid reflects what is played: a dispersive impulse
 *         response (bulk delay + ringing decay), scaled to TDM_SCENE_ERL_DB
 *         of echo return loss on this far-end signal.
 *
 * Speech model (for each party): syllables of 120-280 ms at 3-5 per second
 * with a smooth rise and fall, mostly voiced (a glottal pulse train at the
 * talker's pitch, with intonation and jitter, through three formant
 * resonators of one of five vowels, spectral tilt), some starting with a
 * fricative (noise through a 3.5 kHz resonator); pauses between words and
 * phrases; active speech level TDM_SCENE_LEVEL_DBM0.
 *
 * Who talks when repeats every TDM_SCENE_LOOP_S seconds, in whole seconds
 * (tdm_scene_talk()): far end alone first (convergence), then near end
 * alone, both (double talk), far alone again, silence, and so on.
 */
#ifndef TDM_SCENE_H
#define TDM_SCENE_H

#include <stdbool.h>
#include <stdint.h>

#define TDM_SCENE_RATE 8000
#define TDM_SCENE_FRAME 160
#define TDM_SCENE_LOOP_S 20
#define TDM_SCENE_SAMPLES (TDM_SCENE_LOOP_S * TDM_SCENE_RATE)
#define TDM_SCENE_FRAMES (TDM_SCENE_SAMPLES / TDM_SCENE_FRAME)
#define TDM_SCENE_ERL_DB 10.0
#define TDM_SCENE_LEVEL_DBM0 (-20.0)
#define TDM_SCENE_H_LEN 128          /* echo path taps (16 ms), the canceller's span */
#define TDM_SCENE_H_DELAY 32         /* bulk delay: 4 ms */
#define TDM_SCENE_H_DISP 64          /* dispersion after it: 8 ms (tail ends at 12 ms) */
#define TDM_SCENE_CONVERGED_S 4      /* ERLE "after convergence": frames from here on */
/* rms of a 0 dBm0 sine in 16-bit linear (A-law overload at +3.14 dBm0) */
#define TDM_SCENE_DBM0_RMS 15840.0

enum tdm_talk { TDM_TALK_QUIET, TDM_TALK_FAR, TDM_TALK_NEAR, TDM_TALK_BOTH };

struct tdm_scene {
	int16_t far[TDM_SCENE_SAMPLES];       /* gated by the script: silent where far is not talking */
	uint8_t far_ulaw[TDM_SCENE_SAMPLES];  /* the same as PCMU payload, as the far end sends it */
	int16_t near[TDM_SCENE_SAMPLES];      /* gated likewise */
	float h[TDM_SCENE_H_LEN];             /* echo path */
	double erl_db;                        /* measured on far[] through h[] */
};

/* Who talks in second @p sec of the conversation (any sec: it loops). */
enum tdm_talk tdm_scene_talk(unsigned sec);
const char *tdm_talk_name(enum tdm_talk t);

/* Build the scene (deterministic; ~10 ms). */
void tdm_scene_init(struct tdm_scene *s);

/*
 * The line side of one channel: holds what was played (for the echo).
 * tdm_scene_line_frame(): frame @p k of the conversation read back from the
 * line = echo of @p played (span law, what TDM wrote; NULL = silence) +
 * near end, into @p out (span law). Returns the echo's energy in the frame
 * (sum of squares, linear, before the law), for ERLE; *near_talk says
 * whether the near end's script has it talking in this frame.
 */
struct tdm_line {
	float hist[TDM_SCENE_H_LEN + TDM_SCENE_FRAME]; /* played, linear, oldest first */
};
double tdm_scene_line_frame(const struct tdm_scene *s, struct tdm_line *l, uint64_t k, bool alaw,
			    const uint8_t *played, uint8_t *out, bool *near_talk);

/* Energy of a frame in dBm0 per sample (-99 for silence). */
double tdm_scene_dbm0(double energy, double samples);

#endif
