/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_tdm_g711.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

int16_t mg_g711_ulaw_to_lin[256];
int16_t mg_g711_alaw_to_lin[256];
uint8_t mg_g711_ulaw_to_alaw[256];
uint8_t mg_g711_alaw_to_ulaw[256];

#define ULAW_BIAS 0x84
#define ULAW_CLIP 32635

/* Segment of a magnitude: index of the highest set bit above bit 7 (0..7). */
static int g711_segment(unsigned mag)
{
	int seg = 0;

	for (mag >>= 8; mag && seg < 7; mag >>= 1)
		seg++;
	return seg;
}

uint8_t mg_g711_lin_to_ulaw(int16_t sample)
{
	int s = sample;
	uint8_t sign = 0;
	int seg;
	uint8_t code;

	if (s < 0) {
		s = -s;
		sign = 0x80;
	}
	if (s > ULAW_CLIP)
		s = ULAW_CLIP;
	/* the bias puts every magnitude at >= 0x84, so segment = log2(s >> 7) */
	s += ULAW_BIAS;
	seg = g711_segment((unsigned)s);
	code = (uint8_t)((seg << 4) | ((s >> (seg + 3)) & 0x0F));
	return (uint8_t)~(sign | code);
}

static int16_t ulaw_decode_one(uint8_t u)
{
	int t;

	u = (uint8_t)~u;
	t = ((u & 0x0F) << 3) + ULAW_BIAS;
	t <<= (u & 0x70) >> 4;
	return (int16_t)((u & 0x80) ? (ULAW_BIAS - t) : (t - ULAW_BIAS));
}

uint8_t mg_g711_lin_to_alaw(int16_t sample)
{
	int s = sample;
	uint8_t mask;
	int seg;
	uint8_t code;

	if (s >= 0) {
		mask = 0xD5; /* sign bit set, even bits inverted */
	} else {
		mask = 0x55;
		s = -s - 1;
	}
	if (s > 32767)
		s = 32767;
	seg = g711_segment((unsigned)s);
	if (seg == 0)
		code = (uint8_t)((s >> 4) & 0x0F);
	else
		code = (uint8_t)((seg << 4) | ((s >> (seg + 3)) & 0x0F));
	return (uint8_t)(code ^ mask);
}

static int16_t alaw_decode_one(uint8_t a)
{
	int t, seg;

	a ^= 0x55;
	t = (a & 0x0F) << 4;
	seg = (a & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else
		t = (t + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? t : -t);
}

static void g711_build(void)
{
	for (int i = 0; i < 256; i++) {
		mg_g711_ulaw_to_lin[i] = ulaw_decode_one((uint8_t)i);
		mg_g711_alaw_to_lin[i] = alaw_decode_one((uint8_t)i);
	}
	/* Transcoding goes through the linear value: the nearest code of the
	 * other law, which is what G.711's own conversion tables aim at. */
	for (int i = 0; i < 256; i++) {
		mg_g711_ulaw_to_alaw[i] = mg_g711_lin_to_alaw(mg_g711_ulaw_to_lin[i]);
		mg_g711_alaw_to_ulaw[i] = mg_g711_lin_to_ulaw(mg_g711_alaw_to_lin[i]);
	}
}

void mg_g711_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, g711_build);
}

void mg_g711_transcode(enum mg_law from, enum mg_law to, uint8_t *dst, const uint8_t *src,
		       size_t n)
{
	const uint8_t *t;

	if (from == to) {
		if (dst != src)
			memmove(dst, src, n);
		return;
	}
	mg_g711_init();
	t = from == MG_LAW_ULAW ? mg_g711_ulaw_to_alaw : mg_g711_alaw_to_ulaw;
	for (size_t i = 0; i < n; i++)
		dst[i] = t[src[i]];
}

void mg_g711_decode_buf(enum mg_law law, int16_t *dst, const uint8_t *src, size_t n)
{
	const int16_t *t;

	mg_g711_init();
	t = law == MG_LAW_ALAW ? mg_g711_alaw_to_lin : mg_g711_ulaw_to_lin;
	for (size_t i = 0; i < n; i++)
		dst[i] = t[src[i]];
}

void mg_g711_encode_buf(enum mg_law law, uint8_t *dst, const int16_t *src, size_t n)
{
	if (law == MG_LAW_ALAW)
		for (size_t i = 0; i < n; i++)
			dst[i] = mg_g711_lin_to_alaw(src[i]);
	else
		for (size_t i = 0; i < n; i++)
			dst[i] = mg_g711_lin_to_ulaw(src[i]);
}

int mg_law_parse(const char *name, enum mg_law *out)
{
	if (!strcasecmp(name, "ulaw") || !strcasecmp(name, "mulaw") ||
	    !strcasecmp(name, "pcmu")) {
		*out = MG_LAW_ULAW;
		return 0;
	}
	if (!strcasecmp(name, "alaw") || !strcasecmp(name, "pcma")) {
		*out = MG_LAW_ALAW;
		return 0;
	}
	return -EINVAL;
}

const char *mg_law_name(enum mg_law law)
{
	return law == MG_LAW_ALAW ? "alaw" : "ulaw";
}
