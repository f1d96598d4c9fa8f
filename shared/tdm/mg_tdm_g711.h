/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_g711.h
 * @brief G.711 µ-law / A-law: sample encode/decode and byte-wise A↔µ
 * transcoding, all table driven (no branches per sample on the hot path).
 *
 * Tables are built once by mg_g711_init() (idempotent, thread-safe); the
 * inline helpers only index them. Silence is 0xFF in µ-law and 0xD5 in A-law.
 */
#ifndef MG_TDM_G711_H
#define MG_TDM_G711_H

#include <stddef.h>
#include <stdint.h>

/** Companding law of a channel or codec. */
enum mg_law {
	MG_LAW_ULAW = 0, /**< µ-law, PCMU, T1 spans */
	MG_LAW_ALAW = 1, /**< A-law, PCMA, E1 spans */
};

#define MG_G711_ULAW_SILENCE 0xFF
#define MG_G711_ALAW_SILENCE 0xD5

extern int16_t mg_g711_ulaw_to_lin[256];
extern int16_t mg_g711_alaw_to_lin[256];
extern uint8_t mg_g711_ulaw_to_alaw[256];
extern uint8_t mg_g711_alaw_to_ulaw[256];

/** Build the tables; called by every other entry point, cheap after the first call. */
void mg_g711_init(void);

/** Encode one 16-bit linear sample to µ-law (ITU-T G.711, bias 0x84, clipped). */
uint8_t mg_g711_lin_to_ulaw(int16_t sample);

/** Encode one 16-bit linear sample to A-law (ITU-T G.711, even bits inverted). */
uint8_t mg_g711_lin_to_alaw(int16_t sample);

/** Encode with the given law. */
static inline uint8_t mg_g711_encode(enum mg_law law, int16_t sample)
{
	return law == MG_LAW_ALAW ? mg_g711_lin_to_alaw(sample) : mg_g711_lin_to_ulaw(sample);
}

/** Decode with the given law (tables must be built: mg_g711_init()). */
static inline int16_t mg_g711_decode(enum mg_law law, uint8_t code)
{
	return law == MG_LAW_ALAW ? mg_g711_alaw_to_lin[code] : mg_g711_ulaw_to_lin[code];
}

/** Silence byte of a law. */
static inline uint8_t mg_g711_silence(enum mg_law law)
{
	return law == MG_LAW_ALAW ? MG_G711_ALAW_SILENCE : MG_G711_ULAW_SILENCE;
}

/**
 * Transcode @p n bytes from law @p from to law @p to (in place allowed).
 * Same law: a copy.
 */
void mg_g711_transcode(enum mg_law from, enum mg_law to, uint8_t *dst, const uint8_t *src,
		       size_t n);

/** Decode @p n bytes to linear. */
void mg_g711_decode_buf(enum mg_law law, int16_t *dst, const uint8_t *src, size_t n);

/** Encode @p n linear samples. */
void mg_g711_encode_buf(enum mg_law law, uint8_t *dst, const int16_t *src, size_t n);

/** Parse "ulaw", "mulaw", "pcmu", "alaw", "pcma" (any case); -EINVAL otherwise. */
int mg_law_parse(const char *name, enum mg_law *out);

/** "ulaw" or "alaw". */
const char *mg_law_name(enum mg_law law);

#endif
