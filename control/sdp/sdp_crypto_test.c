/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sdp_crypto.h"

/* RFC 4568 §9.1 example key */
#define RFC_KEY "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

static void test_parse_rfc_example(void **state)
{
	(void)state;
	struct sdp_crypto c;
	char why[160], out[256];

	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^20|1:4", &c, why,
					  sizeof(why)),
			 0);
	assert_int_equal(c.tag, 1);
	assert_non_null(c.suite);
	assert_int_equal(c.suite->id, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(c.nkeys, 1);
	assert_int_equal(c.keys[0].lifetime, 1 << 20);
	assert_int_equal(c.keys[0].mki, 1);
	assert_int_equal(c.mki_len, 4);
	/* base64 "PS1u" = 0x3d 0x2d 0x6e */
	assert_int_equal(c.keys[0].key[0], 0x3d);
	assert_int_equal(c.keys[0].key[1], 0x2d);
	assert_int_equal(c.keys[0].key[2], 0x6e);
	/* format writes it back byte for byte, one space between fields */
	assert_true(sdp_crypto_format(c.tag, c.suite, &c.keys[0], out, sizeof(out)) > 0);
	assert_string_equal(out, "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^20|1:4");
}

static void test_parse_variants(void **state)
{
	(void)state;
	struct sdp_crypto c;
	char why[160], out[256];

	/* several blanks on input are tolerated; lifetime decimal; MKI only */
	assert_int_equal(sdp_crypto_parse("12  AES_CM_128_HMAC_SHA1_32 \tinline:" RFC_KEY "|1048576", &c, why,
					  sizeof(why)),
			 0);
	assert_int_equal(c.tag, 12);
	assert_int_equal(c.suite->id, MG_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(c.keys[0].lifetime, 1048576);
	assert_int_equal(c.mki_len, 0);
	assert_true(sdp_crypto_format(c.tag, c.suite, &c.keys[0], out, sizeof(out)) > 0);
	assert_string_equal(out, "12 AES_CM_128_HMAC_SHA1_32 inline:" RFC_KEY "|2^20");
	assert_int_equal(sdp_crypto_parse("2 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|7:1", &c, why, sizeof(why)),
			 0);
	assert_int_equal(c.keys[0].lifetime, 0);
	assert_int_equal(c.keys[0].mki, 7);
	assert_int_equal(c.mki_len, 1);
	/* several keys, each with an MKI of one length */
	assert_int_equal(sdp_crypto_parse("3 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^20|1:2;inline:" RFC_KEY
					  "|2^20|2:2",
					  &c, why, sizeof(why)),
			 0);
	assert_int_equal(c.nkeys, 2);
	assert_int_equal(c.keys[1].mki, 2);
	assert_int_equal(sdp_crypto_parse("3 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY ";inline:" RFC_KEY, &c, why,
					  sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "MKI"));
	/* session parameters: safe hints ignored, transform changes refused */
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY " KDR=0 WSH=128 FEC_ORDER=FEC_SRTP -X",
					  &c, why, sizeof(why)),
			 0);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY " KDR=3", &c, why, sizeof(why)),
			 -ENOTSUP);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY " UNENCRYPTED_SRTP", &c, why,
					  sizeof(why)),
			 -ENOTSUP);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY " UNAUTHENTICATED_SRTP", &c,
					  why, sizeof(why)),
			 -ENOTSUP);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY " FOO=1", &c, why, sizeof(why)),
			 -ENOTSUP);
	assert_non_null(strstr(why, "FOO=1"));
}

static void test_parse_bad(void **state)
{
	(void)state;
	struct sdp_crypto c;
	char why[160];

	assert_int_equal(sdp_crypto_parse("1 F8_128_HMAC_SHA1_80 inline:" RFC_KEY, &c, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "unknown crypto suite F8_128_HMAC_SHA1_80"));
	assert_int_equal(sdp_crypto_parse("x AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY, &c, why, sizeof(why)), -EINVAL);
	assert_int_equal(sdp_crypto_parse("1234567890 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY, &c, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80", &c, why, sizeof(why)), -EINVAL);
	/* 29 bytes, not 30 */
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVA=",
					  &c, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxa!BR",
					  &c, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^49", &c, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^20|256:1", &c, why,
					  sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|1:5", &c, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "MKI length 5"));
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|1:4|2^20", &c, why,
					  sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 dtls:" RFC_KEY, &c, why, sizeof(why)), -EINVAL);
	/* two keys with the same MKI cannot be told apart */
	assert_int_equal(sdp_crypto_parse("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|1:1;inline:" RFC_KEY "|1:1", &c,
					  why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(sdp_crypto_parse("", &c, why, sizeof(why)), -EINVAL);
}

static void test_random_keys_and_policy(void **state)
{
	(void)state;
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id(MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	struct mg_srtp_sdes_key a = { .mki = 0x0102, .mki_len = 2, .lifetime = 1u << 31 }, b = a;
	struct mg_srtp_policy p;
	char line[256];
	struct sdp_crypto back;

	assert_int_equal(sdp_crypto_random_key(si, &a), 0);
	assert_int_equal(sdp_crypto_random_key(si, &b), 0);
	assert_false(sdp_crypto_key_equal(si, &a, &b));
	assert_true(sdp_crypto_key_equal(si, &a, &a));
	assert_true(sdp_crypto_format(5, si, &a, line, sizeof(line)) > 0);
	assert_int_equal(sdp_crypto_parse(line, &back, NULL, 0), 0);
	assert_true(sdp_crypto_key_equal(si, &a, &back.keys[0]));
	assert_int_equal(back.keys[0].lifetime, 1u << 31);
	sdp_crypto_to_policy(si, &a, 1, 2, MG_SRTP_DIR_OUTBOUND, &p);
	assert_int_equal(p.suite, MG_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(p.nkeys, 1);
	assert_int_equal(p.mki_len, 2);
	assert_int_equal(p.keys[0].mki[0], 0x01);
	assert_int_equal(p.keys[0].mki[1], 0x02);
	assert_memory_equal(p.keys[0].key, a.key, 16);
	assert_memory_equal(p.keys[0].salt, a.salt, 14);
	assert_int_equal(sdp_crypto_format(5, si, &a, line, 20), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rfc_example),
		cmocka_unit_test(test_parse_variants),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_random_keys_and_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
