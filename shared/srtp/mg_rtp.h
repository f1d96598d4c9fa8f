/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_rtp.h
 * RTP header helpers shared by the SRTP engine, the dataplane worker and the
 * TDM media path, so the three agree on where the payload starts.
 * Header only (inline): called per packet.
 */
#ifndef MG_RTP_H
#define MG_RTP_H

#include <stddef.h>
#include <stdint.h>

/**
 * Length of the RTP header of @p p (RFC 3550 §5.1, §5.3.1): the 12-byte
 * fixed header, the CSRC list and the header extension if X is set.
 * @param p   packet, at least @p len bytes readable
 * @param len bytes that may hold the header (for SRTP: without tag and MKI)
 * @return the header length, or 0 when @p len is below 12 or the CSRC list
 *         or the extension overruns @p len. The version is not checked.
 */
static inline size_t mg_rtp_hdr_len(const uint8_t *p, size_t len)
{
	size_t h;

	if (len < 12)
		return 0;
	h = 12 + 4 * (size_t)(p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (h + 4 > len)
			return 0;
		h += 4 + 4 * (size_t)((p[h + 2] << 8) | p[h + 3]);
	}
	return h <= len ? h : 0;
}

#endif
