/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The value of an SDES "a=crypto:" attribute (RFC 4568 §9.1):
 *   tag 1*WSP crypto-suite 1*WSP key-params *(1*WSP session-param)
 * Suites come from the shared table (mg_srtp_suite.h); keys are
 * struct mg_srtp_sdes_key so they go straight into an mg_srtp_policy.
 *
 * Key parameters (inline:KEY|lifetime|MKI:len) are parsed and written by
 * the SDES code beside this file (mg_srtp_sdes.h); the dataplane never sees
 * SDES text, only the binary keys of the wire protocol.
 */
#ifndef MG_SDP_CRYPTO_H
#define MG_SDP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_srtp.h"
#include "mg_srtp_sdes.h"
#include "mg_srtp_suite.h"

#define SDP_CRYPTO_LINE_MAX 512

struct sdp_crypto {
	unsigned long tag;
	char suite_name[48];
	const struct mg_srtp_suite_info *suite; /* NULL: suite not in the table */
	struct mg_srtp_sdes_key keys[MG_SRTP_KEYS_MAX];
	unsigned nkeys;
	uint8_t mki_len;                        /* same for every key */
};

/*
 * Parse one attribute value (without "crypto:"). Returns 0, -ENOTSUP when
 * the line is well-formed but cannot be used (unknown suite, a session
 * parameter that changes the transform), or -EINVAL when malformed or
 * beyond the engine (bad key, more than MG_SRTP_KEYS_MAX keys, MKI longer
 * than MG_SRTP_MKI_MAX). @p why says which, for the
 * Warning text and the log.
 */
int sdp_crypto_parse(const char *value, struct sdp_crypto *out, char *why, size_t whylen);

/*
 * Format "TAG SUITE inline:KEY[|lifetime][|MKI:LEN]" with exactly one space
 * between fields (Microsoft's parser insists on it). Returns the length or
 * -ENOSPC.
 */
int sdp_crypto_format(unsigned long tag, const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *k,
		      char *out, size_t outlen);

/* Fresh random master key and salt for @p suite (RAND_bytes), keeping
 * lifetime and MKI fields of @p k as set by the caller. 0 or -EIO. */
int sdp_crypto_random_key(const struct mg_srtp_suite_info *suite, struct mg_srtp_sdes_key *k);

/* Same master key, salt and MKI? */
bool sdp_crypto_key_equal(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *a,
			  const struct mg_srtp_sdes_key *b);

/* Fill one direction of an engine policy from SDES keys. */
void sdp_crypto_to_policy(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *keys,
			  unsigned nkeys, uint8_t mki_len, enum mg_srtp_dir dir, struct mg_srtp_policy *p);

/* Plain padded base64 (RFC 4648) of @p in, NUL-terminated; returns its length. */
size_t sdp_base64_encode(const uint8_t *in, size_t len, char *out);

#endif
