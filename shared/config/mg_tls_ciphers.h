/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tls_ciphers.h
 * @brief TLS cipher-suite names of gw.properties to OpenSSL cipher strings.
 *
 * gw.properties names suites as the vendor guide does (IANA/RFC names such
 * as TLS_RSA_WITH_AES_128_CBC_SHA); OpenSSL names (AES128-SHA) are accepted
 * too. What is allowed is what the linked libssl really offers, found by
 * enumerating it once, restricted to certificate-authenticated suites (RSA
 * or ECDSA auth; RSA, ECDHE or DHE key exchange; no NULL cipher, no PSK,
 * no anonymous), plus the TLS 1.3 suites.
 */
#ifndef MG_TLS_CIPHERS_H
#define MG_TLS_CIPHERS_H

#include <stdbool.h>
#include <stddef.h>

/** Outcome of resolving one name. */
enum mg_tls_cipher_kind {
	MG_TLS_CIPHER_UNKNOWN = 0, /**< no such suite */
	MG_TLS_CIPHER_MISSING,     /**< a guide suite this libssl build lacks (e.g. 3DES) */
	MG_TLS_CIPHER_TLS12,       /**< TLS 1.0-1.2 suite */
	MG_TLS_CIPHER_TLS13,       /**< TLS 1.3 suite */
};

/**
 * Look one name up (IANA or OpenSSL spelling, case-sensitive). On
 * TLS12/TLS13, @p ossl_name (if not NULL) receives the OpenSSL name.
 */
enum mg_tls_cipher_kind mg_tls_cipher_lookup(const char *name, const char **ossl_name);

/**
 * Resolve a comma-separated list (blanks around names ignored), keeping
 * its order. TLS 1.0-1.2 suites are joined with ':' into @p tls12, TLS 1.3
 * suites into @p tls13. Names of MISSING suites are skipped and listed,
 * comma-separated, in @p missing (may be NULL). Returns 0, or -EINVAL
 * with @p err naming the first unknown or repeated name, or -ENOSPC.
 */
int mg_tls_ciphers_resolve(const char *list, char *tls12, size_t tls12_len, char *tls13,
			   size_t tls13_len, char *missing, size_t missing_len, char *err,
			   size_t errlen);

/** Every accepted IANA name, comma-separated, for "allowed: ..." messages. */
const char *mg_tls_ciphers_allowed(void);

#endif
