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

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int sdp_base64_decode(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	size_t n = 0, pad = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* RFC 4568 keys are padded base64; accept a missing pad too (some
	 * phones drop it) but never characters outside the alphabet. */
	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	for (size_t i = 0; i < len; i++) {
		int v = b64_val(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outlen)
				return -EINVAL;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if ((len + pad) % 4 != 0 && pad != 0)
		return -EINVAL;
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL; /* dangling bits: not canonical base64 */
	return (int)n;
}

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

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "inline:KEYSALT[|lifetime][|MKI:LEN]" */
static int parse_inline(const struct mg_srtp_suite_info *suite, const char *s, size_t len, struct mg_srtp_sdes_key *k,
			char *why, size_t whylen)
{
	uint8_t buf[MG_SRTP_MASTER_KEY_MAX + MG_SRTP_MASTER_SALT_MAX + 4];
	size_t want = (size_t)suite->master_key_len + suite->master_salt_len;
	const char *end = s + len, *f, *bar;
	int n;

	memset(k, 0, sizeof(*k));
	if (len < 7 || strncasecmp(s, "inline:", 7) != 0) {
		const char *colon = memchr(s, ':', len);

		why_set(why, whylen, "key method \"%.*s\" (allowed: inline)", (int)(colon ? (size_t)(colon - s) : len), s);
		return -ENOTSUP;
	}
	f = s + 7;
	bar = memchr(f, '|', (size_t)(end - f));
	if (bar == NULL)
		bar = end;
	n = sdp_base64_decode(f, (size_t)(bar - f), buf, sizeof(buf));
	if (n < 0 || (size_t)n != want) {
		why_set(why, whylen, "inline key is not base64 of %zu bytes (%s key + salt)", want, suite->sdes_name);
		return -EINVAL;
	}
	memcpy(k->key, buf, suite->master_key_len);
	memcpy(k->salt, buf + suite->master_key_len, suite->master_salt_len);
	/* up to two more fields: lifetime (no ':') and MKI:LEN, in that order */
	for (int field = 0; bar < end; field++) {
		f = bar + 1;
		bar = memchr(f, '|', (size_t)(end - f));
		if (bar == NULL)
			bar = end;
		size_t flen = (size_t)(bar - f);
		const char *colon = memchr(f, ':', flen);

		if (field >= 2)
			goto bad;
		if (colon == NULL) {
			if (field == 1 || k->lifetime != 0)
				goto bad;
			if (flen > 2 && f[0] == '2' && f[1] == '^' && all_digits(f + 2, flen - 2) && flen <= 4) {
				unsigned long e = strtoul(f + 2, NULL, 10);

				if (e < 1 || e > 48)
					goto bad;
				k->lifetime = 1ull << e;
			} else if (all_digits(f, flen) && flen <= 15) {
				k->lifetime = strtoull(f, NULL, 10);
				if (k->lifetime == 0 || k->lifetime > (1ull << 48))
					goto bad;
			} else {
				goto bad;
			}
		} else {
			size_t vlen = (size_t)(colon - f), llen = flen - vlen - 1;

			if (!all_digits(f, vlen) || !all_digits(colon + 1, llen) || vlen > 10 || llen > 3)
				goto bad;
			unsigned long mki_len = strtoul(colon + 1, NULL, 10);
			unsigned long long mki = strtoull(f, NULL, 10);

			if (mki_len < 1 || mki_len > 128)
				goto bad;
			if (mki_len > MG_SRTP_MKI_MAX) {
				why_set(why, whylen, "MKI length %lu (allowed: 1..%d)", mki_len, MG_SRTP_MKI_MAX);
				return -ENOTSUP;
			}
			if (mki_len < 4 && mki >= (1ull << (8 * mki_len)))
				goto bad;
			if (mki > 0xffffffffull)
				goto bad;
			k->mki = (uint32_t)mki;
			k->mki_len = (uint8_t)mki_len;
			field = 1;
		}
	}
	return 0;
bad:
	why_set(why, whylen, "inline key parameter \"%.*s\" (allowed: |LIFETIME or |2^N with N <= 48, |MKI:LENGTH)",
		(int)(bar - f), f);
	return -EINVAL;
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
	for (const char *k = s; k < t;) {
		const char *semi = memchr(k, ';', (size_t)(t - k));
		const char *kend = semi ? semi : t;

		if (out->nkeys >= MG_SRTP_KEYS_MAX) {
			why_set(why, whylen, "more than %d keys in one crypto line", MG_SRTP_KEYS_MAX);
			return -ENOTSUP;
		}
		rc = parse_inline(out->suite, k, (size_t)(kend - k), &out->keys[out->nkeys], why, whylen);
		if (rc < 0)
			return rc;
		out->nkeys++;
		k = semi ? semi + 1 : t;
	}
	out->mki_len = out->keys[0].mki_len;
	for (unsigned i = 1; i < out->nkeys; i++) {
		if (out->keys[i].mki_len != out->mki_len || out->mki_len == 0) {
			why_set(why, whylen, "several keys need an MKI of the same length on each");
			return -EINVAL;
		}
	}
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
	uint8_t raw[MG_SRTP_MASTER_KEY_MAX + MG_SRTP_MASTER_SALT_MAX];
	char key64[((sizeof(raw) + 2) / 3) * 4 + 1];
	char life[32] = "", mki[32] = "";
	int n;

	memcpy(raw, k->key, suite->master_key_len);
	memcpy(raw + suite->master_key_len, k->salt, suite->master_salt_len);
	sdp_base64_encode(raw, (size_t)suite->master_key_len + suite->master_salt_len, key64);
	if (k->lifetime != 0) {
		if ((k->lifetime & (k->lifetime - 1)) == 0)
			snprintf(life, sizeof(life), "|2^%d", __builtin_ctzll(k->lifetime));
		else
			snprintf(life, sizeof(life), "|%llu", (unsigned long long)k->lifetime);
	}
	if (k->mki_len != 0)
		snprintf(mki, sizeof(mki), "|%u:%u", k->mki, k->mki_len);
	n = snprintf(out, outlen, "%lu %s inline:%s%s%s", tag, suite->sdes_name, key64, life, mki);
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
	for (unsigned i = 0; i < nkeys && i < MG_SRTP_KEYS_MAX; i++) {
		memcpy(p->keys[i].key, keys[i].key, suite->master_key_len);
		memcpy(p->keys[i].salt, keys[i].salt, suite->master_salt_len);
		p->keys[i].lifetime = keys[i].lifetime;
		for (unsigned b = 0; b < mki_len; b++)
			p->keys[i].mki[b] = (uint8_t)(keys[i].mki >> (8 * (mki_len - 1 - b)));
	}
}
