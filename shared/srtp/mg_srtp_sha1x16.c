/* SPDX-License-Identifier: BSD-3-Clause */
/* HMAC-SHA1 of up to 16 SRTP packets at once on AVX-512: one 32-bit lane
 * of each zmm register per packet. ipsec-mb 1.3 has the same 16-lane SHA-1
 * but reaches it only through its HMAC lane manager, which queues one job
 * at a time, copies each job's last block, and on this machine cost about
 * as much as the SHA-1 rounds themselves (docs/srtp.md, "Multi-buffer
 * HMAC"). Here a burst's packets run in lock-step: block b of every lane
 * whose message has one, the rest masked off; the padded last block(s)
 * and the outer block are built directly. */
#include "mg_build_config.h"

#if MG_HAVE_IPSECMB

#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "mg_srtp_sha1x16.h"

#define X16 __attribute__((target("avx512f,avx512bw")))

int mg_srtp_sha1x16_usable(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

/* 16 lanes' 64-byte blocks to 16 registers of word t of every lane
 * (unpack within 128-bit lanes, then a 4x4 transpose of those). */
X16 static inline void transpose16(__m512i r[16])
{
	__m512i t[16], u[16];

	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
	/* u[4g + j], 128-bit lane k: word 4k + j of lanes 4g..4g+3 */
	for (int g = 0; g < 4; g++) {
		u[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
		u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
		u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
		u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
	}
	for (int j = 0; j < 4; j++) {
		__m512i x0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
		__m512i x1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xee);
		__m512i y0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
		__m512i y1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xee);

		r[0 + j] = _mm512_shuffle_i32x4(x0, y0, 0x88);
		r[4 + j] = _mm512_shuffle_i32x4(x0, y0, 0xdd);
		r[8 + j] = _mm512_shuffle_i32x4(x1, y1, 0x88);
		r[12 + j] = _mm512_shuffle_i32x4(x1, y1, 0xdd);
	}
}

/* W[t] for t >= 16, in the ring w[t & 15] */
#define SCHED(t)                                                                                     \
	(w[(t)&15] = _mm512_rol_epi32(                                                               \
		 _mm512_xor_si512(_mm512_ternarylogic_epi32(w[((t)-3) & 15], w[((t)-8) & 15],        \
							    w[((t)-14) & 15], 0x96),                 \
				  w[(t)&15]),                                                        \
		 1))

/* f: 0xca = choose(b, c, d), 0x96 = b ^ c ^ d, 0xe8 = majority */
#define ROUNDS(from, to, fimm, kval)                                                                 \
	for (int t = (from); t < (to); t++) {                                                        \
		const __m512i wt = t < 16 ? w[t] : SCHED(t);                                         \
		const __m512i f = _mm512_ternarylogic_epi32(b, c, d, fimm);                         \
		const __m512i x = _mm512_add_epi32(_mm512_add_epi32(_mm512_rol_epi32(a, 5), f),     \
						   _mm512_add_epi32(_mm512_add_epi32(e, wt),        \
								    _mm512_set1_epi32((int)(kval))));\
		e = d;                                                                               \
		d = c;                                                                               \
		c = _mm512_rol_epi32(b, 30);                                                         \
		b = a;                                                                               \
		a = x;                                                                               \
	}

/* One SHA-1 compression of the lanes in @k: s[] += rounds over w[]
 * (lanes outside @k keep s[]). */
X16 static inline __attribute__((always_inline)) void compress(__m512i s[5], __m512i w[16], __mmask16 k)
{
	__m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];

#pragma GCC unroll 20
	ROUNDS(0, 20, 0xca, 0x5a827999)
#pragma GCC unroll 20
	ROUNDS(20, 40, 0x96, 0x6ed9eba1)
#pragma GCC unroll 20
	ROUNDS(40, 60, 0xe8, 0x8f1bbcdc)
#pragma GCC unroll 20
	ROUNDS(60, 80, 0x96, 0xca62c1d6)
	s[0] = _mm512_mask_add_epi32(s[0], k, s[0], a);
	s[1] = _mm512_mask_add_epi32(s[1], k, s[1], b);
	s[2] = _mm512_mask_add_epi32(s[2], k, s[2], c);
	s[3] = _mm512_mask_add_epi32(s[3], k, s[3], d);
	s[4] = _mm512_mask_add_epi32(s[4], k, s[4], e);
}

/* chaining values h0..h4 of 16 lanes, gathered through the lanes'
 * pointers (unused lanes: lane 0's) */
X16 static inline void load_state(__m512i s[5], const struct mg_srtp_sha1x16_lane *l, unsigned n, int outer)
{
	long long p[16] __attribute__((aligned(64)));
	__m512i lo, hi;

	for (unsigned i = 0; i < 16; i++)
		p[i] = (long long)(uintptr_t)(outer ? l[i < n ? i : 0].out : l[i < n ? i : 0].in);
	lo = _mm512_load_si512(p);
	hi = _mm512_load_si512(p + 8);
	for (int j = 0; j < 5; j++) {
		const __m256i a = _mm512_i64gather_epi32(lo, (const void *)(uintptr_t)(4 * j), 1);
		const __m256i b = _mm512_i64gather_epi32(hi, (const void *)(uintptr_t)(4 * j), 1);

		s[j] = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
	}
}

X16 void mg_srtp_hmac_sha1_x16(const struct mg_srtp_sha1x16_lane *l, unsigned n)
{
	/* each lane's padded last block(s): the message's last L mod 64
	 * bytes, 0x80, zeros, bit length of ipad block + message */
	uint8_t tail[16][128] __attribute__((aligned(64)));
	static const uint8_t idle[64] __attribute__((aligned(64)));
	const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	unsigned nfull[16], nb[16], maxnb = 0;
	__m512i s[5], w[16];
	uint32_t out[5][16] __attribute__((aligned(64)));

	if (n > 16)
		n = 16;
	for (unsigned i = 0; i < n; i++) {
		const unsigned len = l[i].len, rem = len & 63;
		const uint64_t bits = __builtin_bswap64(((uint64_t)len + 64) * 8);
		uint8_t *tb = tail[i];
		__m512i v;

		nfull[i] = len >> 6;
		nb[i] = mg_srtp_hmac_sha1_blocks(len);
		if (nb[i] > maxnb)
			maxnb = nb[i];
		/* built in registers and stored whole: the loads below
		 * then forward from (or find in L1) one store each */
		v = _mm512_maskz_loadu_epi8(_cvtu64_mask64(((uint64_t)1 << rem) - 1), l[i].msg + (len & ~63u));
		v = _mm512_mask_set1_epi8(v, _cvtu64_mask64((uint64_t)1 << rem), (char)0x80);
		if (rem < 56) {
			_mm512_store_si512(tb, _mm512_mask_set1_epi64(v, 0x80, (long long)bits));
		} else {
			_mm512_store_si512(tb, v);
			_mm512_store_si512(tb + 64, _mm512_maskz_set1_epi64(0x80, (long long)bits));
		}
	}
	load_state(s, l, n, 0);
	for (unsigned blk = 0; blk < maxnb; blk++) {
		__mmask16 k = 0;

		for (unsigned i = 0; i < 16; i++) {
			const uint8_t *p = idle;

			if (i < n && blk < nb[i]) {
				k |= (__mmask16)(1u << i);
				p = blk < nfull[i] ? l[i].msg + 64 * blk : tail[i] + 64 * (blk - nfull[i]);
			}
			w[i] = _mm512_shuffle_epi8(_mm512_loadu_si512(p), bswap);
		}
		transpose16(w);
		compress(s, w, k);
	}
	/* outer: one block, the inner digest then padding for 84 bytes */
	for (int j = 0; j < 5; j++)
		w[j] = s[j];
	w[5] = _mm512_set1_epi32((int)0x80000000u);
	for (int j = 6; j < 15; j++)
		w[j] = _mm512_setzero_si512();
	w[15] = _mm512_set1_epi32((64 + 20) * 8);
	load_state(s, l, n, 1);
	compress(s, w, 0xffff);
	for (int j = 0; j < 5; j++)
		_mm512_store_si512(out[j], s[j]);
	for (unsigned i = 0; i < n; i++)
		for (int j = 0; j < 5; j++) {
			const uint32_t v = __builtin_bswap32(out[j][i]);

			memcpy(l[i].digest + 4 * j, &v, 4);
		}
}

#endif
