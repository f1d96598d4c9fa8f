/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ng_codec.h"

static struct ng_val *ben(struct ng_doc *d, const char *s)
{
	struct ng_val *v = NULL;
	char why[200];
	int rc = ng_bencode_decode(d, s, strlen(s), NULL, &v, why, sizeof(why));

	if (rc != 0)
		print_error("decode '%s': %d %s\n", s, rc, why);
	assert_int_equal(rc, 0);
	return v;
}

static char *enc_ben(const struct ng_val *v)
{
	struct ng_buf b = { 0 };

	assert_int_equal(ng_bencode_encode(v, &b), 0);
	return b.p;
}

static char *enc_json(const struct ng_val *v)
{
	struct ng_buf b = { 0 };

	assert_int_equal(ng_json_encode(v, &b), 0);
	return b.p;
}

static void test_bencode_round_trip(void **state)
{
	static const char *const cases[] = {
		"d7:command4:ping6:cookie3:abce",
		"i0e", "i-1e", "i9223372036854775807e", "i-9223372036854775808e",
		"0:", "le", "de",
		"d3:sdp10:v=0\r\no=- 15:flagsl13:trust-address9:symmetrice4:dictd1:ai1e1:bl"
		"leleee7:replaced5:zzzzzi42eee",
	};
	struct ng_doc *d = ng_doc_new();

	(void)state;
	assert_non_null(d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = enc_ben(ben(d, cases[i]));

		assert_string_equal(out, cases[i]);
		free(out);
	}
	ng_doc_free(d);
}

static void test_bencode_values(void **state)
{
	struct ng_doc *d = ng_doc_new();
	/* a string with a NUL inside: lengths, not strlen */
	static const char in[] = "d3:k\0yi-5e1:s3:a\0be";
	struct ng_val *v = NULL;
	const struct ng_val *s;

	(void)state;
	assert_int_equal(ng_bencode_decode(d, in, sizeof(in) - 1, NULL, &v, NULL, 0), 0);
	assert_int_equal(v->type, NG_DICT);
	assert_int_equal(v->len, 2);
	assert_int_equal(v->child->key_len, 3);
	assert_int_equal(v->child->type, NG_INT);
	assert_int_equal(v->child->i, -5);
	s = ng_dict_get(v, "s");
	assert_non_null(s);
	assert_int_equal(s->len, 3);
	assert_memory_equal(s->s, "a\0b", 4); /* NUL-terminated after len */
	ng_doc_free(d);
}

struct bad {
	const char *in;
	int rc;
	const char *why; /* a substring of the reason */
};

static void check_bad(int (*dec)(struct ng_doc *, const char *, size_t, const struct ng_limits *,
				 struct ng_val **, char *, size_t),
		      const struct bad *cases, size_t n, const struct ng_limits *lim)
{
	for (size_t i = 0; i < n; i++) {
		struct ng_doc *d = ng_doc_new();
		struct ng_val *v = NULL;
		char why[256] = "unset";
		int rc = dec(d, cases[i].in, strlen(cases[i].in), lim, &v, why, sizeof(why));

		if (rc != cases[i].rc || strstr(why, cases[i].why) == NULL)
			print_error("'%s': rc %d why '%s', expected %d '%s'\n", cases[i].in, rc, why,
				    cases[i].rc, cases[i].why);
		assert_int_equal(rc, cases[i].rc);
		assert_non_null(strstr(why, cases[i].why));
		assert_null(v);
		ng_doc_free(d);
	}
}

static void test_bencode_malformed(void **state)
{
	static const struct bad cases[] = {
		{ "", -EINVAL, "truncated input, expected a value at byte 0" },
		{ "i03e", -EINVAL, "leading zero at byte 1" },
		{ "i-0e", -EINVAL, "negative zero at byte 1" },
		{ "i-e", -EINVAL, "expected a digit at byte 2" },
		{ "ie", -EINVAL, "expected a digit at byte 1" },
		{ "i1x", -EINVAL, "unexpected 'x', expected a digit or 'e' at byte 2" },
		{ "i12", -EINVAL, "truncated input, expected 'e' at byte 3" },
		{ "i9223372036854775808e", -EINVAL, "integer out of range at byte 1" },
		{ "i-9223372036854775809e", -EINVAL, "integer out of range at byte 1" },
		{ "i99999999999999999999999999e", -EINVAL, "integer out of range" },
		{ "5:abc", -EINVAL, "string of 5 bytes but 3 left at byte 0" },
		{ "03:abc", -EINVAL, "leading zero at byte 0" },
		{ "3abc", -EINVAL, "expected a digit or ':' at byte 1" },
		{ "99999999999999999999:x", -E2BIG, "string length out of range at byte 0" },
		{ "-3:abc", -EINVAL, "unexpected '-'" },
		{ "l", -EINVAL, "truncated input, expected a value or 'e' at byte 1" },
		{ "d", -EINVAL, "expected a key or 'e' at byte 1" },
		{ "d3:abc", -EINVAL, "truncated input, expected a value at byte 6" },
		{ "di1ei2ee", -EINVAL, "expected a string key or 'e' at byte 1" },
		{ "i1ei2e", -EINVAL, "trailing data after the value at byte 3" },
		{ "de ", -EINVAL, "trailing data after the value at byte 2" },
		{ "x", -EINVAL, "unexpected 'x'" },
		{ "\x01", -EINVAL, "unexpected byte 0x01" },
		{ "d1:a", -EINVAL, "truncated" },
	};

	(void)state;
	check_bad(ng_bencode_decode, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void test_bencode_limits(void **state)
{
	static const struct ng_limits lim = { .max_depth = 3, .max_str = 4, .max_items = 5,
					      .max_input = 30 };
	static const struct bad cases[] = {
		{ "lllleeee", -E2BIG, "nesting deeper than 3 at byte 3" },
		{ "5:abcde", -E2BIG, "string of 5 bytes is over the limit of 4 at byte 0" },
		{ "li1ei2ei3ei4ei5ee", -E2BIG, "more than 5 values at byte 13" },
		{ "l4:abcd4:abcd4:abcd4:abcd4:abcde", -E2BIG, "input of 32 bytes is over the limit "
							       "of 30 at byte 0" },
	};
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v;

	(void)state;
	check_bad(ng_bencode_decode, cases, sizeof(cases) / sizeof(cases[0]), &lim);
	/* exactly at every limit: fine */
	assert_int_equal(ng_bencode_decode(d, "llleee", 6, &lim, &v, NULL, 0), 0);
	assert_int_equal(ng_bencode_decode(d, "4:abcd", 6, &lim, &v, NULL, 0), 0);
	assert_int_equal(ng_bencode_decode(d, "li1ei2ei3ei4ee", 14, &lim, &v, NULL, 0), 0);
	ng_doc_free(d);
}

static void test_bencode_default_limits(void **state)
{
	struct ng_doc *d = ng_doc_new();
	char *big = malloc(300000);
	struct ng_val *v = NULL;
	char why[200];
	size_t n = 0;

	(void)state;
	/* 17 nested lists: one over the default depth */
	for (int i = 0; i < 17; i++)
		big[n++] = 'l';
	for (int i = 0; i < 17; i++)
		big[n++] = 'e';
	assert_int_equal(ng_bencode_decode(d, big, n, NULL, &v, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "nesting deeper than 16"));
	/* 262145 bytes: over the default input size */
	memset(big, 'x', 300000);
	assert_int_equal(ng_bencode_decode(d, big, 262145, NULL, &v, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "over the limit of 262144"));
	/* a 65537-byte string */
	n = (size_t)sprintf(big, "65537:");
	memset(big + n, 'a', 65537);
	assert_int_equal(ng_bencode_decode(d, big, n + 65537, NULL, &v, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "over the limit of 65536"));
	/* 65536 is fine and lands in an arena chunk of its own */
	n = (size_t)sprintf(big, "65536:");
	memset(big + n, 'a', 65536);
	assert_int_equal(ng_bencode_decode(d, big, n + 65536, NULL, &v, why, sizeof(why)), 0);
	assert_int_equal(v->len, 65536);
	/* 4097 values */
	n = 0;
	big[n++] = 'l';
	for (int i = 0; i < 4096; i++) {
		memcpy(big + n, "i1e", 3);
		n += 3;
	}
	big[n++] = 'e';
	assert_int_equal(ng_bencode_decode(d, big, n, NULL, &v, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "more than 4096 values"));
	free(big);
	ng_doc_free(d);
}

static void test_bencode_prefix(void **state)
{
	static const char two[] = "d7:command4:pinged1:ai1ee";
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = NULL;
	size_t used = 0;
	char why[200];

	(void)state;
	for (size_t n = 0; n < 17; n++)
		assert_int_equal(ng_bencode_decode_prefix(d, two, n, NULL, &v, &used, why,
							  sizeof(why)),
				 -EAGAIN);
	assert_int_equal(ng_bencode_decode_prefix(d, two, 17, NULL, &v, &used, why, sizeof(why)),
			 0);
	assert_int_equal(used, 17);
	assert_string_equal(ng_dict_str(v, "command"), "ping");
	assert_int_equal(ng_bencode_decode_prefix(d, two + 17, sizeof(two) - 18, NULL, &v, &used,
						  why, sizeof(why)),
			 0);
	assert_int_equal(used, 8);
	/* malformed is malformed, however much follows */
	assert_int_equal(ng_bencode_decode_prefix(d, "dxe", 3, NULL, &v, &used, why, sizeof(why)),
			 -EINVAL);
	/* a value that cannot end within max_input */
	static const struct ng_limits lim = { .max_input = 8 };

	assert_int_equal(ng_bencode_decode_prefix(d, "l1:a1:a1:a1:a", 13, &lim, &v, &used, why,
						  sizeof(why)),
			 -E2BIG);
	assert_non_null(strstr(why, "limit of 8 bytes"));
	ng_doc_free(d);
}

static void test_key_equivalence(void **state)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = ben(d, "d7:call-id1:a8:FROM_TAG1:b10:via branch1:c6:to-tagi7ee");

	(void)state;
	assert_string_equal(ng_dict_str(v, "call-id"), "a");
	assert_string_equal(ng_dict_str(v, "call id"), "a");
	assert_string_equal(ng_dict_str(v, "Call_ID"), "a");
	assert_string_equal(ng_dict_str(v, "from-tag"), "b");
	assert_string_equal(ng_dict_str(v, "via-branch"), "c");
	assert_string_equal(ng_dict_str(v, "VIA_BRANCH"), "c");
	assert_null(ng_dict_str(v, "to-tag")); /* not a string */
	assert_non_null(ng_dict_get(v, "to tag"));
	assert_null(ng_dict_get(v, "call-i"));
	assert_null(ng_dict_get(v, "call-idx"));
	assert_null(ng_dict_get(v, "callid"));
	assert_null(ng_dict_get(v->child, "call-id")); /* not a dict */
	assert_true(ng_key_eq("trust address", 13, "TRUST-ADDRESS"));
	assert_true(ng_key_eq("a_b c-d", 7, "a-b-c-d"));
	assert_false(ng_key_eq("a.b", 3, "a-b"));
	assert_false(ng_key_eq("ab", 2, "abc"));
	assert_false(ng_key_eq("abc", 2, "abc"));
	ng_doc_free(d);
}

static void test_builders(void **state)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *r = ng_new_dict(d), *l;
	char *out;

	(void)state;
	assert_non_null(ng_dict_add_str(d, r, "result", "ok"));
	assert_non_null(ng_dict_add_int(d, r, "created", 1700000000));
	l = ng_dict_add(d, r, "tags", ng_new_list(d));
	assert_non_null(ng_list_add(l, ng_new_strf(d, "tag-%d", 1)));
	assert_non_null(ng_list_add(l, ng_new_strn(d, "xyz", 2)));
	assert_non_null(ng_dict_add_str(d, r, "result", "again"));
	out = enc_ben(r);
	assert_string_equal(out, "d6:result2:ok7:createdi1700000000e4:tagsl5:tag-12:xye6:result5:againe");
	free(out);
	out = enc_json(r);
	assert_string_equal(out, "{\"result\":\"ok\",\"created\":1700000000,\"tags\":[\"tag-1\",\"xy\"],"
				 "\"result\":\"again\"}");
	free(out);
	/* NULLs flow through a chain without a crash */
	assert_null(ng_dict_add(d, NULL, "k", ng_new_int(d, 1)));
	assert_null(ng_dict_add(d, r, "k", NULL));
	assert_null(ng_list_add(NULL, ng_new_int(d, 1)));
	assert_null(ng_list_add(r, ng_new_int(d, 1))); /* a dict is not a list */
	assert_null(ng_new_str(d, NULL));
	assert_null(ng_new_dict(NULL));
	assert_null(ng_dict_str(NULL, "x"));
	assert_int_equal(r->len, 4);
	ng_doc_free(d);
	ng_doc_free(NULL);
}

static struct ng_val *json(struct ng_doc *d, const char *s)
{
	struct ng_val *v = NULL;
	char why[200];
	int rc = ng_json_decode(d, s, strlen(s), NULL, &v, why, sizeof(why));

	if (rc != 0)
		print_error("decode '%s': %d %s\n", s, rc, why);
	assert_int_equal(rc, 0);
	return v;
}

static void test_json_decode(void **state)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = json(d, " {\"command\" : \"offer\", \"flags\": [\"trust-address\", "
				   "\"symmetric\"], \"n\": -42, \"t\": true, \"f\": false, "
				   "\"gone\": null, \"x\": 1.5e3, \"o\": {}, \"l\": [] }\r\n");
	const struct ng_val *f;
	char *out;

	(void)state;
	assert_int_equal(v->type, NG_DICT);
	assert_string_equal(ng_dict_str(v, "command"), "offer");
	f = ng_dict_get(v, "flags");
	assert_int_equal(f->type, NG_LIST);
	assert_int_equal(f->len, 2);
	assert_string_equal(f->child->next->s, "symmetric");
	assert_int_equal(ng_dict_get(v, "n")->i, -42);
	assert_int_equal(ng_dict_get(v, "t")->i, 1);
	assert_int_equal(ng_dict_get(v, "f")->i, 0);
	assert_null(ng_dict_get(v, "gone"));
	assert_string_equal(ng_dict_str(v, "x"), "1.5e3");
	out = enc_ben(v);
	assert_string_equal(out, "d7:command5:offer5:flagsl13:trust-address9:symmetrice1:ni-42e"
				 "1:ti1e1:fi0e1:x5:1.5e31:ode1:llee");
	free(out);
	v = json(d, "-9223372036854775808");
	assert_int_equal(v->i, INT64_MIN);
	v = json(d, "-0");
	assert_int_equal(v->i, 0);
	v = json(d, "[[[]],{\"a\":[1,2,{\"b\":\"c\"}]}]");
	out = enc_json(v);
	assert_string_equal(out, "[[[]],{\"a\":[1,2,{\"b\":\"c\"}]}]");
	free(out);
	ng_doc_free(d);
}

static void test_json_escapes(void **state)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v =
		json(d, "\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 \\u0000 "
			"\xc3\xa9\"");
	static const char want[] = "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
				   "\0 \xc3\xa9";
	char *out;

	(void)state;
	assert_int_equal(v->type, NG_STR);
	assert_int_equal(v->len, sizeof(want) - 1);
	assert_memory_equal(v->s, want, sizeof(want));
	out = enc_json(v);
	/* '/' needs no escape; bytes >= 0x80 go out as they are */
	assert_string_equal(out, "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \xc3\xa9 \xe2\x82\xac "
				 "\xf0\x9f\x98\x80 \\u0000 \xc3\xa9\"");
	free(out);
	v = ng_new_strn(d, "\x01\x1f\x7f", 3);
	out = enc_json(v);
	assert_string_equal(out, "\"\\u0001\\u001f\x7f\"");
	free(out);
	ng_doc_free(d);
}

static void test_json_malformed(void **state)
{
	static const struct bad cases[] = {
		{ "", -EINVAL, "JSON: truncated input, expected a value at byte 0" },
		{ "   ", -EINVAL, "expected a value at byte 3" },
		{ "{", -EINVAL, "expected a key or '}' at byte 1" },
		{ "{\"a\"", -EINVAL, "expected ':' at byte 4" },
		{ "{\"a\":}", -EINVAL, "unexpected '}', expected a value at byte 5" },
		{ "{\"a\":1,}", -EINVAL, "unexpected '}', expected a string key at byte 7" },
		{ "{\"a\":1 \"b\":2}", -EINVAL, "expected ',' or '}' at byte 7" },
		{ "{1:2}", -EINVAL, "expected a string key at byte 1" },
		{ "[1,]", -EINVAL, "unexpected ']', expected a value at byte 3" },
		{ "[1 2]", -EINVAL, "expected ',' or ']' at byte 3" },
		{ "[", -EINVAL, "expected a value or ']'" },
		{ "\"abc", -EINVAL, "closing the string" },
		{ "\"a\\", -EINVAL, "closing the string" },
		{ "\"a\tb\"", -EINVAL, "control byte 0x09 in a string at byte 2" },
		{ "\"\\x\"", -EINVAL, "invalid escape '\\x' at byte 1" },
		{ "\"\\u12\"", -EINVAL, "unexpected '\"', expected a hex digit at byte 5" },
		{ "\"\\u12g4\"", -EINVAL, "expected a hex digit at byte 5" },
		{ "\"\\ude00\"", -EINVAL, "lone low surrogate \\ude00 at byte 1" },
		{ "\"\\ud83d\"", -EINVAL, "high surrogate \\ud83d without a low one at byte 1" },
		{ "\"\\ud83dx\"", -EINVAL, "without a low one" },
		{ "\"\\ud83d\\u0041\"", -EINVAL, "followed by \\u0041" },
		{ "01", -EINVAL, "leading zero at byte 0" },
		{ "-01", -EINVAL, "leading zero at byte 0" },
		{ "-", -EINVAL, "truncated input, expected a digit at byte 1" },
		{ "-a", -EINVAL, "expected a digit at byte 1" },
		{ "1.", -EINVAL, "expected a digit after '.' at byte 2" },
		{ "1.e5", -EINVAL, "expected a digit after '.' at byte 2" },
		{ "1e", -EINVAL, "expected an exponent digit at byte 2" },
		{ "9223372036854775808", -EINVAL, "integer out of range at byte 0" },
		{ "tru", -EINVAL, "truncated input, expected true at byte 0" },
		{ "trux", -EINVAL, "unexpected 't', expected a value at byte 0" },
		{ "nul", -EINVAL, "expected null" },
		{ "null", -EINVAL, "null is not a document" },
		{ "{} {}", -EINVAL, "trailing data after the value at byte 3" },
		{ "1 x", -EINVAL, "trailing data after the value at byte 2" },
		{ "'a'", -EINVAL, "unexpected ''', expected a value at byte 0" },
		{ "\xff", -EINVAL, "unexpected byte 0xff" },
	};

	(void)state;
	check_bad(ng_json_decode, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void test_json_limits(void **state)
{
	static const struct ng_limits lim = { .max_depth = 2, .max_str = 3, .max_items = 4,
					      .max_input = 40 };
	static const struct bad cases[] = {
		{ "[[[]]]", -E2BIG, "nesting deeper than 2 at byte 2" },
		{ "\"abcd\"", -E2BIG, "string of 4 bytes is over the limit of 3 at byte 0" },
		{ "{\"abcd\":1}", -E2BIG, "string of 4 bytes is over the limit of 3 at byte 1" },
		{ "[1,2,3,4]", -E2BIG, "more than 4 values at byte 7" },
		{ "[null,null,null,null]", -E2BIG, "more than 4 values" },
		{ "                                         1", -E2BIG, "input of 42 bytes" },
	};
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v;

	(void)state;
	check_bad(ng_json_decode, cases, sizeof(cases) / sizeof(cases[0]), &lim);
	/* escapes count as what they decode to */
	assert_int_equal(ng_json_decode(d, "\"\\u00e9a\"", 9, &lim, &v, NULL, 0), 0);
	assert_int_equal(v->len, 3);
	ng_doc_free(d);
}

static void test_json_bencode_cross(void **state)
{
	/* JSON in, bencode out, bencode in, JSON out: the same document */
	static const char js[] = "{\"command\":\"offer\",\"call-id\":\"c1@h\",\"sdp\":\"v=0\\r\\n\","
				 "\"flags\":[\"a\",\"b\"],\"ptime\":20,\"replace\":[\"origin\"],"
				 "\"n\":{\"x\":-1}}";
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = json(d, js), *v2 = NULL;
	char *b = enc_ben(v), *j;

	(void)state;
	assert_int_equal(ng_bencode_decode(d, b, strlen(b), NULL, &v2, NULL, 0), 0);
	j = enc_json(v2);
	assert_string_equal(j, js);
	free(b);
	free(j);
	ng_doc_free(d);
}

static void test_arena_many(void **state)
{
	/* many values and big strings interleaved: the arena's chunk logic */
	struct ng_doc *d = ng_doc_new();
	struct ng_val *l = ng_new_list(d);
	char *big = calloc(1, 20000);

	(void)state;
	memset(big, 'b', 19999);
	for (int i = 0; i < 2000; i++) {
		assert_non_null(ng_list_add(l, ng_new_strf(d, "%d", i)));
		if (i % 100 == 0)
			assert_non_null(ng_list_add(l, ng_new_str(d, big)));
	}
	assert_int_equal(l->len, 2020);
	assert_string_equal(l->last->s, "1999");
	free(big);
	ng_doc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bencode_round_trip),
		cmocka_unit_test(test_bencode_values),
		cmocka_unit_test(test_bencode_malformed),
		cmocka_unit_test(test_bencode_limits),
		cmocka_unit_test(test_bencode_default_limits),
		cmocka_unit_test(test_bencode_prefix),
		cmocka_unit_test(test_key_equivalence),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_json_decode),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_malformed),
		cmocka_unit_test(test_json_limits),
		cmocka_unit_test(test_json_bencode_cross),
		cmocka_unit_test(test_arena_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
