/* SPDX-License-Identifier: BSD-3-Clause */
/* SDES inline key-params: RFC 4568 examples, round trips, and every
 * rejection with its message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_srtp_sdes.h"

static const struct mg_srtp_suite_info *s80(void)
{
	return mg_srtp_suite_by_name("AES_CM_128_HMAC_SHA1_80");
}

static int parse(const char *s, struct mg_srtp_sdes_key *k, char *err)
{
	return mg_srtp_sdes_parse_inline(s80(), s, strlen(s), k, err, 200);
}

/* RFC 4568 §9.1 example key: the 30 bytes it encodes round-trip */
static void test_rfc4568_example(void **state)
{
	struct mg_srtp_sdes_key k;
	char err[200] = "", out[MG_SRTP_SDES_INLINE_MAX];
	const char *in = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";

	(void)state;
	assert_int_equal(parse(in, &k, err), 0);
	assert_int_equal(k.lifetime, 1u << 20);
	assert_int_equal(k.mki, 1);
	assert_int_equal(k.mki_len, 4);
	assert_int_equal(k.key[0], 0x3d);
	assert_int_equal(mg_srtp_sdes_format_inline(s80(), &k, out, sizeof(out)), (int)strlen(in));
	assert_string_equal(out, in);
}

static void test_optional_parts(void **state)
{
	struct mg_srtp_sdes_key k, k2;
	char err[200], out[MG_SRTP_SDES_INLINE_MAX];
	struct mg_srtp_master_key mk;

	(void)state;
	assert_int_equal(parse("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", &k, err), 0);
	assert_int_equal(k.lifetime, 0);
	assert_int_equal(k.mki_len, 0);
	assert_int_equal(parse("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1000", &k, err), 0);
	assert_int_equal(k.lifetime, 1000);
	assert_int_equal(parse("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|258:2", &k, err), 0);
	assert_int_equal(k.lifetime, 0);
	assert_int_equal(k.mki, 258);
	mg_srtp_sdes_to_master_key(&k, &mk);
	assert_int_equal(mk.mki[0], 1);
	assert_int_equal(mk.mki[1], 2);
	/* decimal lifetime that is not a power of two formats as decimal */
	k.lifetime = 1000;
	assert_true(mg_srtp_sdes_format_inline(s80(), &k, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "|1000|258:2"));
	assert_int_equal(parse(out, &k2, err), 0);
	assert_memory_equal(k.key, k2.key, 16);
	assert_memory_equal(k.salt, k2.salt, 14);
	assert_int_equal(mg_srtp_sdes_format_inline(s80(), &k, out, 20), -ENOSPC);
}

/* Found by sdes_fuzz: a lifetime of 1 (read as decimal "|1") was written
 * back as "|2^0", which the parser refuses (2^1 to 2^48): our own answer
 * would carry a key-param we cannot read. Every accepted lifetime must
 * survive format + parse. */
static void test_lifetime_one_round_trips(void **state)
{
	static const uint64_t lifetimes[] = { 1, 2, 3, 1u << 20, 1ull << 48 };
	struct mg_srtp_sdes_key k, k2;
	char err[200] = "", out[MG_SRTP_SDES_INLINE_MAX];

	(void)state;
	assert_int_equal(parse("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1", &k, err), 0);
	assert_int_equal(k.lifetime, 1);
	for (size_t i = 0; i < sizeof(lifetimes) / sizeof(lifetimes[0]); i++) {
		k.lifetime = lifetimes[i];
		assert_true(mg_srtp_sdes_format_inline(s80(), &k, out, sizeof(out)) > 0);
		if (parse(out, &k2, err) != 0)
			fail_msg("lifetime %llu written as \"%s\", refused: %s",
				 (unsigned long long)lifetimes[i], out, err);
		assert_int_equal(k2.lifetime, lifetimes[i]);
	}
	k.lifetime = 1;
	mg_srtp_sdes_format_inline(s80(), &k, out, sizeof(out));
	assert_string_equal(out, "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1");
}

static void test_gcm_length(void **state)
{
	struct mg_srtp_sdes_key k;
	char err[200];
	const struct mg_srtp_suite_info *g = mg_srtp_suite_by_name("AEAD_AES_128_GCM");
	/* 28 bytes = 16 key + 12 salt */
	const char *in = "inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";

	(void)state;
	assert_int_equal(mg_srtp_sdes_parse_inline(g, in, strlen(in), &k, err, sizeof(err)), 0);
	assert_int_equal(k.salt[11], 27);
	assert_int_equal(parse(in, &k, err), -EINVAL);
	assert_non_null(strstr(err, "decodes to 28 bytes"));
	assert_non_null(strstr(err, "needs 30"));
}

static void expect_err(const char *in, const char *needle)
{
	struct mg_srtp_sdes_key k;
	char err[200] = "";

	assert_int_equal(parse(in, &k, err), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("'%s': error '%s' does not mention '%s'", in, err, needle);
}

static void test_errors(void **state)
{
	(void)state;
	expect_err("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "inline:");
	expect_err("uri:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "inline:");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB!", "base64");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaV", "base64");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtx", "decodes to 27 bytes");
	expect_err("inline:", "decodes to 0 bytes");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^49", "lifetime");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^0", "lifetime");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|0", "lifetime");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|abc", "lifetime");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|", "lifetime");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|99999999999999999999999", "lifetime");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:0", "MKI length");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:5", "1 to 4 bytes");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|256:1", "fits in 1 byte");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|x:1", "MKI value");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:1|2:1", "two MKI");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:1|2^20", "allowed: inline:KEY");
	expect_err("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|2^20", "allowed: inline:KEY");
}

static void test_key_params_list(void **state)
{
	struct mg_srtp_sdes_key k[4];
	char err[200] = "";
	const char *two = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4;"
			  "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4";
	const char *nomki = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;"
			    "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5";
	const char *dup = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:4;"
			  "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|1:4";

	(void)state;
	assert_int_equal(mg_srtp_sdes_parse_key_params(s80(), two, strlen(two), k, 4, err, sizeof(err)), 2);
	assert_int_equal(k[1].mki, 2);
	assert_int_equal(mg_srtp_sdes_parse_key_params(s80(), two, strlen(two), k, 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 1"));
	assert_int_equal(mg_srtp_sdes_parse_key_params(s80(), nomki, strlen(nomki), k, 4, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "each needs an MKI"));
	assert_int_equal(mg_srtp_sdes_parse_key_params(s80(), dup, strlen(dup), k, 4, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "same MKI"));
	/* a length-delimited slice inside a longer line needs no NUL */
	assert_int_equal(mg_srtp_sdes_parse_key_params(s80(), two, 47, k, 4, err, sizeof(err)), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4568_example),
		cmocka_unit_test(test_optional_parts),
		cmocka_unit_test(test_lifetime_one_round_trips),
		cmocka_unit_test(test_gcm_length),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_key_params_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
