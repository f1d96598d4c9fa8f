/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_srtp_suite.h"

#include <string.h>

static const struct mg_srtp_suite_info suites[] = {
	{ MG_SRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, 10, 0, 1 },
	/* RFC 3711/4568: SRTCP keeps the 80-bit tag even in the _32 suite. */
	{ MG_SRTP_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, 10, 0, 1 },
	/* RFC 7714: 12-byte salt, 16-byte tag on both. */
	{ MG_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 16, 12, 16, 16, 1, 0 },
};

const struct mg_srtp_suite_info *mg_srtp_suite_by_name_n(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (strlen(suites[i].sdes_name) == len && memcmp(suites[i].sdes_name, name, len) == 0)
			return &suites[i];
	}
	return NULL;
}

const struct mg_srtp_suite_info *mg_srtp_suite_by_name(const char *name)
{
	return mg_srtp_suite_by_name_n(name, strlen(name));
}

const struct mg_srtp_suite_info *mg_srtp_suite_by_id(enum mg_srtp_suite id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (suites[i].id == id)
			return &suites[i];
	}
	return NULL;
}

const char *mg_srtp_suite_names(int configurable_only)
{
	return configurable_only ? "AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32"
				 : "AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM";
}
