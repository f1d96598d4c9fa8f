/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: SRTP/SRTCP unprotect on hostile input.
 * Byte 0 picks the case: bits 0-1 suite (_80, _32, GCM), bit 2 MKI (2 keys,
 * 2-byte MKI), bit 3 SRTCP, bit 4 backend (scalar / ipsec-mb), bit 5 "valid
 * then mutated": the rest is first protected, then byte 1 names a position
 * and byte 2 a XOR mask, so authentication and decryption paths are reached,
 * bit 6 also sends the packet twice in one burst (replay inside a burst),
 * bit 7 makes that a _multi burst whose second packet goes to another suite's
 * context.
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true; run:
 * build-fuzz/shared/srtp/mg_srtp_fuzz_unprotect -runs=20000 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mg_srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 2048

static struct mg_srtp_engine *eng[2];
static struct mg_srtp_ctx *out[3][2], *in[3][2];

static void init(void)
{
	static const enum mg_srtp_suite s[3] = { MG_SRTP_AES_CM_128_HMAC_SHA1_80, MG_SRTP_AES_CM_128_HMAC_SHA1_32,
						 MG_SRTP_AEAD_AES_128_GCM };

	eng[0] = mg_srtp_engine_create(MG_SRTP_BACKEND_SCALAR);
	eng[1] = mg_srtp_engine_create(MG_SRTP_BACKEND_IPSECMB);
	if (!eng[1])
		eng[1] = eng[0];
	for (int i = 0; i < 3; i++) {
		for (int m = 0; m < 2; m++) {
			struct mg_srtp_policy p = { 0 };

			p.suite = s[i];
			p.nkeys = m ? 2 : 1;
			p.mki_len = m ? 2 : 0;
			for (int k = 0; k < 2; k++) {
				memset(p.keys[k].key, 0x11 * (k + 1), sizeof(p.keys[k].key));
				memset(p.keys[k].salt, 0x22 * (k + 1), sizeof(p.keys[k].salt));
				p.keys[k].mki[0] = 0;
				p.keys[k].mki[1] = (uint8_t)(k + 1);
			}
			p.dir = MG_SRTP_DIR_OUTBOUND;
			out[i][m] = mg_srtp_ctx_create(&p, NULL, 0);
			p.dir = MG_SRTP_DIR_INBOUND;
			in[i][m] = mg_srtp_ctx_create(&p, NULL, 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[2][CAP];
	struct mg_srtp_buf b[2];
	uint8_t res[2];
	unsigned sel, suite, mki, rtcp, be, n;
	struct mg_srtp_engine *e;

	if (!eng[0])
		init();
	if (size < 3 || size > CAP - MG_SRTP_MAX_OVERHEAD)
		return 0;
	sel = data[0];
	suite = (sel & 3) % 3;
	mki = (sel >> 2) & 1;
	rtcp = (sel >> 3) & 1;
	be = (sel >> 4) & 1;
	n = (sel & 0x40) ? 2 : 1;
	e = eng[be];
	memcpy(buf[0], data + 3, size - 3);
	b[0] = (struct mg_srtp_buf){ buf[0], (uint16_t)(size - 3), CAP };
	if (sel & 0x20) {
		if (rtcp)
			mg_srtp_protect_rtcp_burst(e, out[suite][mki], b, res, 1);
		else
			mg_srtp_protect_burst(e, out[suite][mki], b, res, 1);
		if (b[0].len)
			buf[0][data[1] % b[0].len] ^= data[2];
	}
	memcpy(buf[1], buf[0], b[0].len);
	b[1] = b[0];
	b[1].buf = buf[1];
	if (sel & 0x80) {
		struct mg_srtp_ctx *cv[2] = { in[suite][mki], in[(suite + 1) % 3][mki] };

		if (rtcp)
			mg_srtp_unprotect_rtcp_burst_multi(e, cv, b, res, n);
		else
			mg_srtp_unprotect_burst_multi(e, cv, b, res, n);
	} else if (rtcp) {
		mg_srtp_unprotect_rtcp_burst(e, in[suite][mki], b, res, n);
	} else {
		mg_srtp_unprotect_burst(e, in[suite][mki], b, res, n);
	}
	for (unsigned i = 0; i < n; i++) {
		if (res[i] >= MG_SRTP_RESULT_COUNT || b[i].len > size - 3 + MG_SRTP_MAX_OVERHEAD)
			__builtin_trap();
		if (n == 2 && !(sel & 0x80) && res[0] == MG_SRTP_OK && res[1] == MG_SRTP_OK)
			__builtin_trap(); /* the same packet twice in a burst */
	}
	return 0;
}
