/* SPDX-License-Identifier: BSD-3-Clause */
#include "sdp_crypto.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static void why_set(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sdp_base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/* Session parameters that change the transform are refused (we cannot do
 * them, and ignoring them would break the stream or its security); the
 * rest are hints we may ignore. */
static int check_session_param(const char *p, size_t n, char *why, size_t whylen)
{
	static const char *const refuse[] = { "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP",
					      "FEC_KEY=" };

	if (n > 4 && strncmp(p, "KDR=", 4) == 0) {
		if (n == 5 && p[4] == '0')
			return 0;
		why_set(why, whylen, "session parameter %.*s (allowed: KDR=0)", (int)n, p);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++) {
		size_t rl = strlen(refuse[i]);

		if (n >= rl && strncmp(p, refuse[i], rl) == 0 && (refuse[i][rl - 1] == '=' || n == rl)) {
			why_set(why, whylen, "session parameter %.*s is not supported", (int)n, p);
			return -ENOTSUP;
		}
	}
	if ((n > 10 && strncmp(p, "FEC_ORDER=", 10) == 0) || (n > 4 && strncmp(p, "WSH=", 4) == 0) || p[0] == '-')
		return 0;
	/* RFC 4568 §6.3: an unknown parameter not marked optional ("-")
	 * makes the line unusable */
	why_set(why, whylen, "unknown session parameter %.*s", (int)n, p);
	return -ENOTSUP;
}

int sdp_crypto_parse(const char *value, struct sdp_crypto *out, char *why, size_t whylen)
{
	const char *s = value, *t;
	int rc;

	memset(out, 0, sizeof(*out));
	why_set(why, whylen, "%s", "");
	/* tag */
	for (t = s; isdigit((unsigned char)*t); t++)
		;
	if (t == s || t - s > 9 || (*t != ' ' && *t != '\t')) {
		why_set(why, whylen, "crypto tag (allowed: 1 to 9 digits)");
		return -EINVAL;
	}
	out->tag = strtoul(s, NULL, 10);
	/* suite: 1*WSP tolerated on input, we only ever write one space */
	for (s = t; *s == ' ' || *s == '\t'; s++)
		;
	for (t = s; *t != '\0' && *t != ' ' && *t != '\t'; t++)
		;
	if (t == s || (size_t)(t - s) >= sizeof(out->suite_name)) {
		why_set(why, whylen, "crypto suite missing");
		return -EINVAL;
	}
	memcpy(out->suite_name, s, (size_t)(t - s));
	out->suite = mg_srtp_suite_by_name(out->suite_name);
	/* key-params */
	for (s = t; *s == ' ' || *s == '\t'; s++)
		;
	for (t = s; *t != '\0' && *t != ' ' && *t != '\t'; t++)
		;
	if (t == s) {
		why_set(why, whylen, "crypto key parameters missing");
		return -EINVAL;
	}
	if (out->suite == NULL) {
		why_set(why, whylen, "unknown crypto suite %s", out->suite_name);
		return -ENOTSUP;
	}
	/* key-params: the SRTP engine's own SDES parser, so both agree */
	rc = mg_srtp_sdes_parse_key_params(out->suite, s, (size_t)(t - s), out->keys, MG_SRTP_KEYS_MAX, why, whylen);
	if (rc < 0)
		return rc;
	out->nkeys = (unsigned)rc;
	out->mki_len = out->keys[0].mki_len;
	/* session params */
	for (s = t; *s != '\0';) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		for (t = s; *t != '\0' && *t != ' ' && *t != '\t' && *t != '\r' && *t != '\n'; t++)
			;
		if (t > s && (rc = check_session_param(s, (size_t)(t - s), why, whylen)) < 0)
			return rc;
		s = t;
	}
	return 0;
}

int sdp_crypto_format(unsigned long tag, const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *k,
		      char *out, size_t outlen)
{
	char key[MG_SRTP_SDES_INLINE_MAX];
	int n = mg_srtp_sdes_format_inline(suite, k, key, sizeof(key));

	if (n < 0)
		return n;
	n = snprintf(out, outlen, "%lu %s %s", tag, suite->sdes_name, key);
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : n;
}

int sdp_crypto_random_key(const struct mg_srtp_suite_info *suite, struct mg_srtp_sdes_key *k)
{
	if (RAND_bytes(k->key, suite->master_key_len) != 1 || RAND_bytes(k->salt, suite->master_salt_len) != 1)
		return -EIO;
	return 0;
}

bool sdp_crypto_key_equal(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *a,
			  const struct mg_srtp_sdes_key *b)
{
	return memcmp(a->key, b->key, suite->master_key_len) == 0 &&
	       memcmp(a->salt, b->salt, suite->master_salt_len) == 0 && a->mki == b->mki && a->mki_len == b->mki_len;
}

void sdp_crypto_to_policy(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *keys,
			  unsigned nkeys, uint8_t mki_len, enum mg_srtp_dir dir, struct mg_srtp_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->suite = suite->id;
	p->dir = dir;
	p->mki_len = mki_len;
	p->nkeys = (uint8_t)nkeys;
	for (unsigned i = 0; i < nkeys && i < MG_SRTP_KEYS_MAX; i++)
		mg_srtp_sdes_to_master_key(&keys[i], &p->keys[i]);
}
