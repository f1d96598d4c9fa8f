/* SPDX-License-Identifier: BSD-3-Clause */
/* HMAC-SHA1 of up to 16 messages at once on AVX-512 (mg_srtp_sha1x16.c);
 * the ipsec-mb backend's hash pass on CPUs that have it. */
#ifndef MG_SRTP_SHA1X16_H
#define MG_SRTP_SHA1X16_H

#include <stdint.h>

/* One message: HMAC-SHA1 of msg[0..len) keyed by the SHA-1 chaining
 * values after the key^ipad (in) and key^opad (out) blocks, h0..h4 as
 * host-order words (struct mg_srtp_dkeys hmac_in/hmac_out); the 20-byte
 * MAC goes to digest. */
struct mg_srtp_sha1x16_lane {
	const uint8_t *msg;
	unsigned len;
	const uint32_t *in, *out;
	uint8_t *digest;
};

/* SHA-1 blocks of an HMAC inner hash over @len message bytes after the
 * key^ipad block: the full blocks, then the tail with 0x80 and the 64-bit
 * length, in one block or (56..63 bytes left) two. */
static inline unsigned mg_srtp_hmac_sha1_blocks(unsigned len)
{
	return (len >> 6) + ((len & 63) < 56 ? 1 : 2);
}

/* 1 if this CPU runs mg_srtp_hmac_sha1_x16 (AVX-512 F and BW). */
int mg_srtp_sha1x16_usable(void);
/* HMAC-SHA1 of @n (1..16) messages; lanes of different lengths run in
 * lock-step, each for its own number of blocks. */
void mg_srtp_hmac_sha1_x16(const struct mg_srtp_sha1x16_lane *l, unsigned n);

#endif
