/* SPDX-License-Identifier: BSD-3-Clause */
/* SDES inline key-params (RFC 4568 §6.1):
 *   key-param = "inline:" key-salt ["|" lifetime] ["|" mki-value ":" mki-length]
 * Every rejection says which part was wrong and what is allowed. */
#include "mg_srtp_sdes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The SRTP engine's own error helper is in its internal header; SDES is
 * control-plane code on the engine's public API, so it keeps this one. */
static void sdes_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void sdes_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char ch)
{
	const char *p = ch ? strchr(b64, ch) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Strict base64 (with or without '=' padding); returns bytes or -1. */
static int b64_decode(const char *s, size_t len, uint8_t *out, size_t max)
{
	uint32_t acc = 0;
	size_t o = 0, i, pad = 0;
	int bits = 0;

	while (len && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (pad && (len + pad) % 4)
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64_val(s[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* leftover bits must be zero and fewer than a byte */
	if (bits >= 6 || (acc & ((1u << bits) - 1)))
		return -1;
	return (int)o;
}

static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rem = len - i;

		if (rem > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rem > 2)
			v |= in[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = rem > 1 ? b64[(v >> 6) & 63] : '=';
		out[o++] = rem > 2 ? b64[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

/* Decimal digits only, no sign, no overflow past @max. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!len || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int mg_srtp_sdes_parse_inline(const struct mg_srtp_suite_info *suite, const char *s, size_t len,
			      struct mg_srtp_sdes_key *out, char *err, size_t errlen)
{
	uint8_t raw[MG_SRTP_MASTER_KEY_MAX + MG_SRTP_MASTER_SALT_MAX + 3];
	const char *p, *end = s + len, *bar;
	unsigned want;
	int n;

	if (!suite) {
		sdes_err(err, errlen, "no crypto suite given for the inline key");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (len < 7 || memcmp(s, "inline:", 7) != 0) {
		sdes_err(err, errlen, "key-param must start with \"inline:\" (the only key method SDES defines)");
		return -EINVAL;
	}
	p = s + 7;
	bar = memchr(p, '|', (size_t)(end - p));
	if (!bar)
		bar = end;
	want = suite->master_key_len + suite->master_salt_len;
	n = b64_decode(p, (size_t)(bar - p), raw, sizeof(raw));
	if (n < 0) {
		sdes_err(err, errlen, "inline key \"%.*s\" is not valid base64", (int)(bar - p), p);
		return -EINVAL;
	}
	if ((unsigned)n != want) {
		sdes_err(err, errlen, "inline key decodes to %d bytes; %s needs %u (%u key + %u salt)", n,
			suite->sdes_name, want, suite->master_key_len, suite->master_salt_len);
		return -EINVAL;
	}
	memcpy(out->key, raw, suite->master_key_len);
	memcpy(out->salt, raw + suite->master_key_len, suite->master_salt_len);
	memset(raw, 0, sizeof(raw));

	for (int field = 0; bar < end; field++) {
		const char *f = bar + 1, *colon;
		size_t flen;

		bar = memchr(f, '|', (size_t)(end - f));
		if (!bar)
			bar = end;
		flen = (size_t)(bar - f);
		colon = memchr(f, ':', flen);
		if (colon) {
			uint64_t v, l;

			if (out->mki_len) {
				sdes_err(err, errlen, "inline key has two MKI parameters; at most one is allowed");
				return -EINVAL;
			}
			if (parse_dec(colon + 1, (size_t)(bar - colon - 1), 128, &l) || l < 1) {
				sdes_err(err, errlen, "MKI length \"%.*s\" invalid; allowed: 1 to 128 (this gateway: 1 to %u)",
					(int)(bar - colon - 1), colon + 1, MG_SRTP_MKI_MAX);
				return -EINVAL;
			}
			if (l > MG_SRTP_MKI_MAX) {
				sdes_err(err, errlen, "MKI length %llu not supported; allowed: 1 to %u bytes",
					(unsigned long long)l, MG_SRTP_MKI_MAX);
				return -EINVAL;
			}
			if (parse_dec(f, (size_t)(colon - f), UINT32_MAX, &v) || (l < 4 && v >> (8 * l))) {
				sdes_err(err, errlen, "MKI value \"%.*s\" invalid; allowed: a decimal number that fits in %llu byte(s)",
					(int)(colon - f), f, (unsigned long long)l);
				return -EINVAL;
			}
			out->mki = (uint32_t)v;
			out->mki_len = (uint8_t)l;
			continue;
		}
		if (field > 0 || out->lifetime) {
			sdes_err(err, errlen, "unexpected parameter \"%.*s\"; allowed: inline:KEY[|lifetime][|MKI:length]",
				(int)flen, f);
			return -EINVAL;
		}
		if (flen > 2 && f[0] == '2' && f[1] == '^') {
			uint64_t e;

			if (parse_dec(f + 2, flen - 2, 48, &e) || e < 1) {
				sdes_err(err, errlen, "lifetime \"%.*s\" invalid; allowed: 2^1 to 2^48 or a decimal packet count",
					(int)flen, f);
				return -EINVAL;
			}
			out->lifetime = 1ULL << e;
		} else {
			uint64_t v;

			if (parse_dec(f, flen, 1ULL << 48, &v) || v < 1) {
				sdes_err(err, errlen, "lifetime \"%.*s\" invalid; allowed: 2^1 to 2^48 or a decimal packet count 1 to 2^48",
					(int)flen, f);
				return -EINVAL;
			}
			out->lifetime = v;
		}
	}
	return 0;
}

int mg_srtp_sdes_parse_key_params(const struct mg_srtp_suite_info *suite, const char *s, size_t len,
				  struct mg_srtp_sdes_key *out, unsigned max, char *err, size_t errlen)
{
	const char *p = s, *end = s + len;
	unsigned n = 0;

	while (p <= end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		int rc;

		if (!semi)
			semi = end;
		if (n >= max) {
			sdes_err(err, errlen, "more than %u inline keys; allowed: at most %u", max, max);
			return -EINVAL;
		}
		rc = mg_srtp_sdes_parse_inline(suite, p, (size_t)(semi - p), &out[n], err, errlen);
		if (rc)
			return rc;
		n++;
		p = semi + 1;
		if (semi == end)
			break;
	}
	if (n > 1) {
		for (unsigned i = 0; i < n; i++) {
			if (!out[i].mki_len || out[i].mki_len != out[0].mki_len) {
				sdes_err(err, errlen, "%u inline keys: each needs an MKI of the same length", n);
				return -EINVAL;
			}
			for (unsigned j = 0; j < i; j++) {
				if (out[i].mki == out[j].mki) {
					sdes_err(err, errlen, "inline keys %u and %u have the same MKI %u; MKIs must differ",
						j + 1, i + 1, out[i].mki);
					return -EINVAL;
				}
			}
		}
	}
	return (int)n;
}

int mg_srtp_sdes_format_inline(const struct mg_srtp_suite_info *suite, const struct mg_srtp_sdes_key *k,
			       char *out, size_t outlen)
{
	uint8_t raw[MG_SRTP_MASTER_KEY_MAX + MG_SRTP_MASTER_SALT_MAX];
	char tmp[MG_SRTP_SDES_INLINE_MAX + 32];
	size_t o;
	int n;

	if (!suite || k->mki_len > MG_SRTP_MKI_MAX)
		return -EINVAL;
	memcpy(raw, k->key, suite->master_key_len);
	memcpy(raw + suite->master_key_len, k->salt, suite->master_salt_len);
	o = (size_t)snprintf(tmp, sizeof(tmp), "inline:");
	o += b64_encode(raw, suite->master_key_len + suite->master_salt_len, tmp + o);
	memset(raw, 0, sizeof(raw));
	if (k->lifetime) {
		/* 2^n for n >= 1 only: the parser (and RFC 4568 peers) refuse
		 * 2^0, so a lifetime of 1 (decimal on input) stays decimal */
		if (k->lifetime >= 2 && (k->lifetime & (k->lifetime - 1)) == 0)
			o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "|2^%d", __builtin_ctzll(k->lifetime));
		else
			o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "|%llu", (unsigned long long)k->lifetime);
	}
	if (k->mki_len)
		o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "|%u:%u", k->mki, k->mki_len);
	if (o + 1 > outlen) {
		memset(tmp, 0, sizeof(tmp));
		return -ENOSPC;
	}
	memcpy(out, tmp, o + 1);
	memset(tmp, 0, sizeof(tmp));
	n = (int)o;
	return n;
}

void mg_srtp_sdes_to_master_key(const struct mg_srtp_sdes_key *k, struct mg_srtp_master_key *mk)
{
	memset(mk, 0, sizeof(*mk));
	memcpy(mk->key, k->key, sizeof(mk->key));
	memcpy(mk->salt, k->salt, sizeof(mk->salt));
	for (unsigned i = 0; i < k->mki_len; i++)
		mk->mki[i] = (uint8_t)(k->mki >> (8 * (k->mki_len - 1 - i)));
	mk->lifetime = k->lifetime;
}
