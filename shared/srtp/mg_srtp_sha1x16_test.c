/* SPDX-License-Identifier: BSD-3-Clause */
/* mg_srtp_hmac_sha1_x16 against OpenSSL's HMAC-SHA1: every message length
 * 0..1487 (so every position of the padding in the last block, one- and
 * two-block tails; the random groups reach 1500), groups of 1..16 lanes of
 * random lengths and keys (the lock-step with lanes that finish early), and
 * messages at odd addresses next to the end of a buffer. The SRTP vectors check the same code through
 * the engine on whole packets; this one checks the primitive alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "mg_srtp_sha1x16.h"

#define MAXLEN 1500

static uint32_t seed = 20261207;

static uint32_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* a key's chaining values after key^ipad and key^opad, as the engine
 * keeps them (OpenSSL's SHA_CTX h0..h4) */
static void key_state(const uint8_t key[20], uint32_t in[5], uint32_t out[5])
{
	uint8_t pad[64];
	SHA_CTX x;

	for (int pass = 0; pass < 2; pass++) {
		memset(pad, pass ? 0x5c : 0x36, sizeof(pad));
		for (int i = 0; i < 20; i++)
			pad[i] ^= key[i];
		SHA1_Init(&x);
		SHA1_Update(&x, pad, sizeof(pad));
		memcpy(pass ? out : in, (uint32_t[5]){ x.h0, x.h1, x.h2, x.h3, x.h4 }, 20);
	}
}

struct lane_case {
	uint8_t key[20];
	uint32_t in[5], out[5];
	uint8_t *msg;
	unsigned len;
	uint8_t mac[20];
};

/* run @n lanes and compare each with HMAC() */
static void check_group(struct lane_case *c, unsigned n)
{
	struct mg_srtp_sha1x16_lane l[16];

	for (unsigned i = 0; i < n; i++) {
		key_state(c[i].key, c[i].in, c[i].out);
		l[i] = (struct mg_srtp_sha1x16_lane){ c[i].msg, c[i].len, c[i].in, c[i].out, c[i].mac };
	}
	mg_srtp_hmac_sha1_x16(l, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t want[20];
		unsigned wl = 0;

		HMAC(EVP_sha1(), c[i].key, 20, c[i].msg, c[i].len, want, &wl);
		if (memcmp(want, c[i].mac, 20) != 0)
			fail_msg("lane %u of %u, %u bytes: MAC differs from OpenSSL's", i, n, c[i].len);
	}
}

static void test_every_length(void **state)
{
	static uint8_t buf[16][MAXLEN];
	struct lane_case c[16];

	(void)state;
	for (unsigned i = 0; i < 16; i++)
		for (unsigned k = 0; k < MAXLEN; k++)
			buf[i][k] = (uint8_t)rnd();
	/* 16 lanes of lengths len..len+15: every length in 16 groups, each
	 * one ending at the end of its buffer */
	for (unsigned len = 0; len + 15 <= MAXLEN; len += 16) {
		for (unsigned i = 0; i < 16; i++) {
			for (int k = 0; k < 20; k++)
				c[i].key[k] = (uint8_t)rnd();
			c[i].len = len + i;
			c[i].msg = buf[i] + MAXLEN - c[i].len;
		}
		check_group(c, 16);
	}
}

static void test_ragged_groups(void **state)
{
	static uint8_t buf[16][MAXLEN + 1];
	struct lane_case c[16];

	(void)state;
	for (unsigned i = 0; i < 16; i++)
		for (unsigned k = 0; k <= MAXLEN; k++)
			buf[i][k] = (uint8_t)rnd();
	for (int round = 0; round < 400; round++) {
		const unsigned n = 1 + rnd() % 16;

		for (unsigned i = 0; i < n; i++) {
			for (int k = 0; k < 20; k++)
				c[i].key[k] = (uint8_t)rnd();
			c[i].len = rnd() % 3 ? rnd() % 200 : rnd() % (MAXLEN + 1);
			/* odd start addresses too */
			c[i].msg = buf[i] + (MAXLEN + 1 - c[i].len) - (rnd() % 2 && c[i].len < MAXLEN + 1);
		}
		check_group(c, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_ragged_groups),
	};

	if (!mg_srtp_sha1x16_usable()) {
		/* nothing to test: the engine uses the library's HMAC here */
		printf("mg_srtp_sha1x16_test: no AVX-512 F/BW on this CPU, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
