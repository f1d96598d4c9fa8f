/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cipher-suite name mapping. The table is built once from what libssl
 * offers with every suite enabled ("ALL:COMPLEMENTOFALL:@SECLEVEL=0"), so
 * a suite a distribution compiled out (3DES in Debian 12's OpenSSL 3) is
 * reported as missing instead of failing later in SSL_CTX_set_cipher_list.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/obj_mac.h>
#include <openssl/ssl.h>

#include "mg_tls_ciphers.h"

#define CIPHERS_MAX 128

struct cipher_name {
	char iana[64];
	char ossl[64];
	enum mg_tls_cipher_kind kind;
};

/* Old suites the vendor guide (or its era) names, known even when absent. */
static const struct {
	const char *iana;
	const char *ossl;
} legacy_names[] = {
	{ "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA" },
	{ "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA" },
	{ "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", "EDH-RSA-DES-CBC3-SHA" },
	{ "TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA" },
	{ "TLS_RSA_WITH_RC4_128_MD5", "RC4-MD5" },
	{ "TLS_RSA_WITH_DES_CBC_SHA", "DES-CBC-SHA" },
};

static struct cipher_name table[CIPHERS_MAX];
static size_t table_n;
static char allowed[CIPHERS_MAX * 48];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static int usable(const SSL_CIPHER *c)
{
	int kx = SSL_CIPHER_get_kx_nid(c);
	int au = SSL_CIPHER_get_auth_nid(c);

	if (SSL_CIPHER_get_cipher_nid(c) == NID_undef)
		return 0; /* NULL encryption */
	if (kx == NID_kx_any && au == NID_auth_any)
		return 1; /* TLS 1.3 */
	if (kx != NID_kx_rsa && kx != NID_kx_ecdhe && kx != NID_kx_dhe)
		return 0; /* PSK, SRP, GOST, static DH */
	return au == NID_auth_rsa || au == NID_auth_ecdsa;
}

static void table_build(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	STACK_OF(SSL_CIPHER) *sk;
	size_t o = 0;

	if (ctx == NULL)
		return;
	if (SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") != 1) {
		SSL_CTX_free(ctx);
		return;
	}
	sk = SSL_CTX_get_ciphers(ctx);
	for (int i = 0; sk != NULL && i < sk_SSL_CIPHER_num(sk) && table_n < CIPHERS_MAX; i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		const char *std = SSL_CIPHER_standard_name(c);
		struct cipher_name *t = &table[table_n];

		if (!usable(c) || std == NULL)
			continue;
		snprintf(t->iana, sizeof(t->iana), "%s", std);
		snprintf(t->ossl, sizeof(t->ossl), "%s", SSL_CIPHER_get_name(c));
		t->kind = SSL_CIPHER_get_kx_nid(c) == NID_kx_any ? MG_TLS_CIPHER_TLS13
								 : MG_TLS_CIPHER_TLS12;
		table_n++;
		o += (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%s", o ? ", " : "",
				      t->iana);
		if (o >= sizeof(allowed))
			o = sizeof(allowed) - 1;
	}
	SSL_CTX_free(ctx);
}

enum mg_tls_cipher_kind mg_tls_cipher_lookup(const char *name, const char **ossl_name)
{
	pthread_once(&table_once, table_build);
	for (size_t i = 0; i < table_n; i++) {
		if (strcmp(name, table[i].iana) == 0 || strcmp(name, table[i].ossl) == 0) {
			if (ossl_name != NULL)
				*ossl_name = table[i].ossl;
			return table[i].kind;
		}
	}
	for (size_t i = 0; i < sizeof(legacy_names) / sizeof(legacy_names[0]); i++)
		if (strcmp(name, legacy_names[i].iana) == 0 ||
		    strcmp(name, legacy_names[i].ossl) == 0)
			return MG_TLS_CIPHER_MISSING;
	return MG_TLS_CIPHER_UNKNOWN;
}

const char *mg_tls_ciphers_allowed(void)
{
	pthread_once(&table_once, table_build);
	return allowed;
}

static int append(char *dst, size_t len, char sep, const char *s)
{
	size_t n = strlen(dst);
	int w = snprintf(dst + n, len - n, "%s%s", n ? (char[]){ sep, '\0' } : "", s);

	return w < 0 || (size_t)w >= len - n ? -ENOSPC : 0;
}

int mg_tls_ciphers_resolve(const char *list, char *tls12, size_t tls12_len, char *tls13,
			   size_t tls13_len, char *missing, size_t missing_len, char *err,
			   size_t errlen)
{
	const char *p = list;
	char name[128];
	const char *seen[CIPHERS_MAX];
	size_t n_seen = 0;

	tls12[0] = '\0';
	tls13[0] = '\0';
	if (missing != NULL)
		missing[0] = '\0';
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *s = p, *ossl = NULL;

		p = e ? e + 1 : p + n;
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 0) {
			snprintf(err, errlen, "empty name in the list (allowed: %s)",
				 mg_tls_ciphers_allowed());
			return -EINVAL;
		}
		if (n >= sizeof(name)) {
			snprintf(err, errlen, "unknown cipher suite \"%.40s...\" (allowed: %s)", s,
				 mg_tls_ciphers_allowed());
			return -EINVAL;
		}
		memcpy(name, s, n);
		name[n] = '\0';
		switch (mg_tls_cipher_lookup(name, &ossl)) {
		case MG_TLS_CIPHER_UNKNOWN:
			snprintf(err, errlen, "unknown cipher suite \"%s\" (allowed: %s)", name,
				 mg_tls_ciphers_allowed());
			return -EINVAL;
		case MG_TLS_CIPHER_MISSING:
			if (missing != NULL && append(missing, missing_len, ',', name) < 0)
				return -ENOSPC;
			continue;
		case MG_TLS_CIPHER_TLS12:
		case MG_TLS_CIPHER_TLS13:
			break;
		}
		for (size_t i = 0; i < n_seen; i++) {
			if (seen[i] == ossl) {
				snprintf(err, errlen, "cipher suite \"%s\" is listed twice", name);
				return -EINVAL;
			}
		}
		if (n_seen < CIPHERS_MAX)
			seen[n_seen++] = ossl;
		if (mg_tls_cipher_lookup(name, NULL) == MG_TLS_CIPHER_TLS13) {
			if (append(tls13, tls13_len, ':', ossl) < 0)
				return -ENOSPC;
		} else if (append(tls12, tls12_len, ':', ossl) < 0) {
			return -ENOSPC;
		}
	}
	return 0;
}
