/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target (meson -Dfuzz=true, clang): any bytes as bencode (whole
 * and as a stream prefix) and as JSON, under the default limits and under
 * tiny ones picked by the first byte. Every call ends in a value or a
 * refusal with a reason; a value must survive encode -> decode -> encode
 * unchanged (both codecs), and look-ups on it must not crash. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ng_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NG_FUZZ_CHECK(c)                                                                   \
	do {                                                                               \
		if (!(c))                                                                  \
			abort();                                                           \
	} while (0)

typedef int (*ng_fuzz_dec)(struct ng_doc *, const char *, size_t, const struct ng_limits *,
			   struct ng_val **, char *, size_t);
typedef int (*ng_fuzz_enc)(const struct ng_val *, struct ng_buf *);

static void ng_fuzz_lookups(const struct ng_val *v)
{
	static const char *const keys[] = { "command", "call-id", "FROM_TAG", "flags", "" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct ng_val *x = ng_dict_get(v, keys[i]);

		if (x != NULL)
			NG_FUZZ_CHECK(ng_key_eq(x->key, x->key_len, keys[i]));
		(void)ng_dict_str(v, keys[i]);
	}
}

/* decode; on success: encode, decode that (with @p dec2, the decoder of
 * what @p enc writes), encode again: the same bytes */
static void ng_fuzz_one(ng_fuzz_dec dec, ng_fuzz_enc enc, ng_fuzz_dec dec2, const char *in,
			size_t n, const struct ng_limits *lim)
{
	struct ng_doc *d = ng_doc_new();
	struct ng_val *v = NULL, *v2 = NULL;
	struct ng_buf a = { 0 }, b = { 0 };
	char why[160];
	int rc;

	if (d == NULL)
		return;
	why[0] = 'x';
	rc = dec(d, in, n, lim, &v, why, sizeof(why));
	if (rc < 0) {
		NG_FUZZ_CHECK(rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
		NG_FUZZ_CHECK(why[0] != '\0' && strstr(why, " at byte ") != NULL);
		goto out;
	}
	NG_FUZZ_CHECK(v != NULL);
	ng_fuzz_lookups(v);
	if (enc(v, &a) < 0)
		goto out;
	/* no limits on the way back: an escaped string may be longer than
	 * what the limit allowed, but never differently shaped */
	static const struct ng_limits big = { .max_depth = 1000, .max_str = 1u << 30,
					      .max_items = 1u << 30, .max_input = 1u << 30 };

	rc = dec2(d, a.p, a.len, &big, &v2, why, sizeof(why));
	NG_FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
	if (rc == 0 && enc(v2, &b) == 0)
		NG_FUZZ_CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
out:
	ng_buf_free(&a);
	ng_buf_free(&b);
	ng_doc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ng_limits tiny = { .max_depth = 3, .max_str = 8, .max_items = 12,
					       .max_input = 64 };
	const char *in = (const char *)data;
	const struct ng_limits *lim = size > 0 && (data[0] & 1) ? &tiny : NULL;
	struct ng_doc *d;
	struct ng_val *v;
	size_t used = 0;
	char why[160];
	int rc;

	ng_fuzz_one(ng_bencode_decode, ng_bencode_encode, ng_bencode_decode, in, size, lim);
	ng_fuzz_one(ng_json_decode, ng_json_encode, ng_json_decode, in, size, lim);
	/* JSON in, bencode out and back (what /ng-plain does to a request) */
	ng_fuzz_one(ng_json_decode, ng_bencode_encode, ng_bencode_decode, in, size, lim);
	/* and bencode in, JSON out and back */
	ng_fuzz_one(ng_bencode_decode, ng_json_encode, ng_json_decode, in, size, lim);

	d = ng_doc_new();
	if (d == NULL)
		return 0;
	rc = ng_bencode_decode_prefix(d, in, size, lim, &v, &used, why, sizeof(why));
	NG_FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
	if (rc == 0)
		NG_FUZZ_CHECK(used > 0 && used <= size);
	ng_doc_free(d);
	return 0;
}
