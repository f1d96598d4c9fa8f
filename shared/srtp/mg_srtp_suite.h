/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_srtp_suite.h
 * @brief The one table of SRTP crypto suites: SDES names (RFC 4568, RFC 7714)
 * to key, salt and tag lengths. The configuration, the SDP code and the
 * dataplane all look suites up here and nowhere else.
 */
#ifndef MG_SRTP_SUITE_H
#define MG_SRTP_SUITE_H

#include <stddef.h>
#include <stdint.h>

/** Suite identifiers; values travel on the control<->dataplane wire. */
enum mg_srtp_suite {
	MG_SRTP_SUITE_NONE = 0,            /**< plain RTP (no transform) */
	MG_SRTP_AES_CM_128_HMAC_SHA1_80 = 1,
	MG_SRTP_AES_CM_128_HMAC_SHA1_32 = 2,
	MG_SRTP_AEAD_AES_128_GCM = 3,
	MG_SRTP_SUITE_COUNT
};

/** Static description of one suite. */
struct mg_srtp_suite_info {
	enum mg_srtp_suite id;
	const char *sdes_name;   /**< name in a=crypto and in gw.properties */
	uint8_t master_key_len;  /**< bytes */
	uint8_t master_salt_len; /**< bytes */
	uint8_t srtp_tag_len;    /**< bytes of auth tag on SRTP */
	uint8_t srtcp_tag_len;   /**< bytes of auth tag on SRTCP */
	uint8_t aead;            /**< 1 for AEAD (GCM) suites */
	uint8_t configurable;    /**< 1 if gw.properties cryptoSuite may name it */
};

/** Look a suite up by its SDES name (exact, case-sensitive); NULL if unknown. */
const struct mg_srtp_suite_info *mg_srtp_suite_by_name(const char *name);

/** Look a suite up by length-delimited SDES name; NULL if unknown. */
const struct mg_srtp_suite_info *mg_srtp_suite_by_name_n(const char *name, size_t len);

/** Look a suite up by id; NULL for MG_SRTP_SUITE_NONE or out of range. */
const struct mg_srtp_suite_info *mg_srtp_suite_by_id(enum mg_srtp_suite id);

/** Comma-separated list of names for error messages ("allowed: ..."). */
const char *mg_srtp_suite_names(int configurable_only);

#endif
