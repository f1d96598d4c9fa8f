/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target (meson -Dfuzz=true, clang): SDES attributes from a peer.
 * The first byte picks a suite of the shared table; the rest is given, as is,
 * to mg_srtp_sdes_parse_key_params() (the key-params of that suite, with no
 * NUL: the parser must stay inside the length) and, NUL-terminated, to
 * sdp_crypto_parse() as a whole a=crypto value. Properties: no crash, no UB,
 * no leak; a key accepted by either parser formats back to text that parses
 * to the same key (what we would put in our answer is readable by us).
 *
 *   build-fuzz/control/sdp/sdes_fuzz tests/fuzz/corpus/sdes -max_total_time=60
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"
#include "mg_srtp_sdes.h"
#include "sdp_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *k)
{
	char text[MG_SRTP_SDES_INLINE_MAX];
	struct mg_srtp_sdes_key back;
	int n = mg_srtp_sdes_format_inline(suite, k, text, sizeof(text));

	if (n < 0)
		return; /* a lifetime or MKI we read but would not write: fine */
	if (mg_srtp_sdes_parse_inline(suite, text, (size_t)n, &back, NULL, 0) != 0)
		abort();
	if (!sdp_crypto_key_equal(suite, k, &back) || back.lifetime != k->lifetime)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct mg_srtp_sdes_key keys[MG_SRTP_KEYS_MAX];
	const struct mg_srtp_suite_info *suite;
	char err[128], value[SDP_CRYPTO_LINE_MAX];
	struct sdp_crypto c;
	int n;

	if (!init) {
		mg_log_init("sdes_fuzz", MG_LOG_ERR, false);
		init = 1;
	}
	if (size < 1)
		return 0;
	suite = mg_srtp_suite_by_id((enum mg_srtp_suite)(data[0] % MG_SRTP_SUITE_COUNT));
	data++;
	size--;
	if (suite != NULL) {
		/* exactly size bytes on the heap: ASan sees a read past the end */
		char *kp = malloc(size ? size : 1);

		if (kp == NULL)
			return 0;
		memcpy(kp, data, size);
		n = mg_srtp_sdes_parse_key_params(suite, kp, size, keys, MG_SRTP_KEYS_MAX, err,
						  sizeof(err));
		if (n != -EINVAL && (n < 1 || n > MG_SRTP_KEYS_MAX))
			abort();
		for (int i = 0; i < n; i++)
			round_trip(suite, &keys[i]);
		free(kp);
	}
	if (size < sizeof(value)) {
		memcpy(value, data, size);
		value[size] = '\0';
		memset(&c, 0, sizeof(c));
		n = sdp_crypto_parse(value, &c, err, sizeof(err));
		if (n != 0 && n != -EINVAL && n != -ENOTSUP)
			abort();
		if (n == 0) {
			if (c.suite == NULL || c.nkeys < 1 || c.nkeys > MG_SRTP_KEYS_MAX)
				abort();
			for (unsigned i = 0; i < c.nkeys; i++)
				round_trip(c.suite, &c.keys[i]);
		}
	}
	return 0;
}
