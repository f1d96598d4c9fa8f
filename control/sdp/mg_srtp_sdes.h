/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_srtp_sdes.h
 * @brief SDES (RFC 4568 §6.1) inline key parameters: parse and format
 * <tt>inline:BASE64(key‖salt)[|lifetime][|MKI:length]</tt>.
 *
 * Lifetime is decimal or <tt>2^n</tt>; MKI value is decimal, its length
 * 1..#MG_SRTP_MKI_MAX bytes. Several key-params (separated by ';') are
 * accepted by mg_srtp_sdes_parse_key_params(). Control-plane code (only it
 * reads SDES; the dataplane gets binary keys on the wire): no
 * allocation, but not meant for a packet path.
 */
#ifndef MG_SRTP_SDES_H
#define MG_SRTP_SDES_H

#include <stddef.h>
#include <stdint.h>

#include "mg_srtp.h"
#include "mg_srtp_suite.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest inline key-param mg_srtp_sdes_format_inline() writes (with NUL). */
#define MG_SRTP_SDES_INLINE_MAX 128

/** One parsed inline key. */
struct mg_srtp_sdes_key {
	uint8_t key[MG_SRTP_MASTER_KEY_MAX];
	uint8_t salt[MG_SRTP_MASTER_SALT_MAX];
	uint64_t lifetime;   /**< packets; 0 when the parameter was absent */
	uint32_t mki;        /**< MKI value (host order) */
	uint8_t mki_len;     /**< 0 when absent, else 1..#MG_SRTP_MKI_MAX */
};

/**
 * Parse one key-param ("inline:..."), @p len bytes of @p s (no NUL needed).
 * The base64 must decode to exactly master_key_len + master_salt_len of the
 * suite; lifetime must be 1..2^48 (2^n with n <= 48); MKI length 1..4 and
 * the value must fit in it.
 * @param err  one-line reason on failure (may be NULL)
 * @return 0 or -EINVAL.
 */
int mg_srtp_sdes_parse_inline(const struct mg_srtp_suite_info *suite, const char *s, size_t len,
			      struct mg_srtp_sdes_key *out, char *err, size_t errlen);

/**
 * Parse key-params "inline:...;inline:..." into up to @p max keys.
 * With more than one key every key must carry an MKI of the same length.
 * @return number of keys (>= 1) or -EINVAL (err filled).
 */
int mg_srtp_sdes_parse_key_params(const struct mg_srtp_suite_info *suite, const char *s, size_t len,
				  struct mg_srtp_sdes_key *out, unsigned max, char *err, size_t errlen);

/**
 * Format one key-param "inline:BASE64[|2^n or |decimal][|MKI:len]" (lifetime
 * written as 2^n when it is a power of two, omitted when 0).
 * @return length written (without NUL), or -ENOSPC / -EINVAL.
 */
int mg_srtp_sdes_format_inline(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *k,
			       char *out, size_t outlen);

/** Copy a parsed key into a policy master key (MKI written big-endian in
 * @p mki_len bytes). */
void mg_srtp_sdes_to_master_key(const struct mg_srtp_sdes_key *k, struct mg_srtp_master_key *mk);

#ifdef __cplusplus
}
#endif

#endif
