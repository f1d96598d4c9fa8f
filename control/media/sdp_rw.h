/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP as a media relay sees it (rtpengine's way, for the NG control API):
 * read what a party's SDP says per m= line, then write the same SDP back
 * with the relay put in the path, every line the relay has no business
 * with kept as it was (codecs, fmtp, ptime, unknown attributes, order).
 *
 * What sdprw_write() changes:
 *  - c= (session and media level): the relay's media address (IN IP4/IP6);
 *  - o=: the address too, only with replace_origin (NG `replace: origin`);
 *  - m=: port = ours (0 stays 0: a rejected stream stays rejected),
 *    profile as asked (RTP/AVP <-> RTP/SAVP, RTP/AVPF <-> RTP/SAVPF);
 *  - a=rtcp: removed, then written as ours when rtcp_attr;
 *  - a=rtcp-mux: removed, then written when rtcp_mux;
 *  - a=crypto: every line removed, ours written (in the given order);
 *  - DTLS-SRTP (a=fingerprint, a=setup, a=tls-id): removed when strip_dtls;
 *  - ICE (a=ice-ufrag, ice-pwd, ice-options, ice-lite, candidate,
 *    remote-candidates, end-of-candidates): removed when strip_ice;
 *  - Microsoft's a=encryption: removed when the profile written is SAVP
 *    or no crypto is written (it only makes sense next to RTP/AVP+crypto).
 * Lines end with CRLF on output whatever the input used.
 *
 * Details (rtpengine's sdp_replace() does the same unless noted):
 *  - our a=rtcp, a=rtcp-mux, a=crypto lines (that order) end the section,
 *    after the attributes kept (rtpengine re-prints codecs and direction
 *    first and a=ptime after them; we keep the input's order);
 *  - an m= with port 0 (in the input, or written as 0 because the caller
 *    rejects it) gets none of them (rtpengine writes a rejected stream
 *    without them too); its c= is still ours;
 *  - a section without c= in an SDP without session c= gets one after
 *    m= (and i=); rtpengine 10.5 refuses such an SDP instead;
 *  - a session c= is always replaced (rtpengine keeps it when every m=
 *    has its own; it would show the party's address for nothing);
 *  - c=IN IP4 0.0.0.0 (RFC 2543 hold) is kept as it is;
 *  - session-level DTLS lines go when every m= strips DTLS; when only some
 *    do, they move into the sections that keep DTLS;
 *  - a=crypto at session level (not RFC 4568) is removed;
 *  - the "/<number of ports>" of an m= port is dropped; blank lines too.
 */
#ifndef MG_SDP_RW_H
#define MG_SDP_RW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdp_crypto.h"

#define SDPRW_MAX_MEDIA 8
#define SDPRW_MAX_CRYPTO 8
#define SDPRW_ADDR_MAX 64
#define SDPRW_LINE_MAX 4096 /* longer lines: -EINVAL */

/* One m= section as the party wrote it. */
struct sdprw_media {
	char type[16];            /* audio, video, image, application, ... */
	uint16_t port;            /* 0: stream rejected/disabled */
	char proto[32];           /* RTP/AVP, RTP/SAVP, RTP/AVPF, RTP/SAVPF,
				     UDP/TLS/RTP/SAVP(F), udptl, ... */
	char fmt[256];            /* the formats after the profile, as written */
	char addr[SDPRW_ADDR_MAX];/* effective connection address (media c=,
				     else session c=); "" if none */
	int family;               /* AF_INET, AF_INET6, 0 if none */
	uint16_t rtcp_port;       /* a=rtcp:PORT, 0 if absent */
	bool rtcp_mux;            /* a=rtcp-mux */
	char dir[12];             /* sendrecv (default), sendonly, recvonly, inactive */
	struct sdp_crypto crypto[SDPRW_MAX_CRYPTO]; /* usable a=crypto lines, in order */
	unsigned n_crypto;
	unsigned n_crypto_bad;    /* a=crypto lines that could not be used */
	bool dtls;                /* a=fingerprint (session or media level) */
	bool ice;                 /* ICE attributes present */
	bool ms_encryption;       /* a=encryption:required|optional present */
};

struct sdprw_sdp {
	char origin_addr[SDPRW_ADDR_MAX];   /* o= address */
	char session_addr[SDPRW_ADDR_MAX];  /* session-level c=, "" if none */
	unsigned n_media;
	struct sdprw_media m[SDPRW_MAX_MEDIA];
};

/*
 * Read @p sdp (CRLF or LF lines). Returns 0, or -EINVAL when it is not an
 * SDP we can relay (no v=, a line that is not "x=...", an m= or c= line
 * that does not parse, more than SDPRW_MAX_MEDIA m= lines): @p why says
 * which line and what. Only structure is checked; unknown attributes are
 * fine.
 */
int sdprw_parse(const char *sdp, size_t len, struct sdprw_sdp *out, char *why, size_t whylen);

/* Index of the first m= of @p type ("audio"), or -ENOENT. */
int sdprw_find_media(const struct sdprw_sdp *s, const char *type);

/*
 * The RTP profile to write for @p proto with (@p srtp) or without SDES-SRTP:
 * RTP/AVP <-> RTP/SAVP, RTP/AVPF <-> RTP/SAVPF, UDP/TLS/RTP/SAVP(F) to
 * RTP/(S)AVP(F). NULL for anything else (udptl, TCP/MSRP, ...).
 */
const char *sdprw_proto_srtp(const char *proto, bool srtp);

/* One of our crypto lines. */
struct sdprw_crypto_out {
	unsigned long tag;
	const struct mg_srtp_suite_info *suite;
	struct mg_srtp_sdes_key key;
	const char *session_params; /* e.g. "UNENCRYPTED_SRTCP", NULL = none */
};

/* How to write one m= section. */
struct sdprw_media_out {
	uint16_t port;            /* our RTP port (ignored when the input port is 0;
				     0 rejects the stream) */
	uint16_t rtcp_port;       /* our RTCP port (== port with rtcp-mux) */
	const char *proto;        /* profile to write, NULL = as in the input */
	bool rtcp_mux;            /* write a=rtcp-mux */
	bool rtcp_attr;           /* write a=rtcp:rtcp_port */
	struct sdprw_crypto_out crypto[SDPRW_MAX_CRYPTO];
	unsigned n_crypto;
	bool strip_dtls;
	/* Codecs to take out of this m= (NG `codec` strip/mask): encoding
	 * names (a=rtpmap's, or RFC 3551's for static payload types without
	 * one), comma or space separated, case ignored; "all" = every codec.
	 * @codec_except: names kept anyway. The payload types go from the m=
	 * line with their a=rtpmap, a=fmtp and a=rtcp-fb lines. A strip that
	 * would leave no format is not done. NULL = none. */
	const char *codec_strip;
	const char *codec_except;
};

struct sdprw_out {
	const char *addr;         /* the relay's media address */
	int family;               /* AF_INET or AF_INET6 */
	bool replace_origin;      /* o= address too */
	bool strip_ice;
	unsigned n_media;         /* must equal the input's m= count */
	struct sdprw_media_out m[SDPRW_MAX_MEDIA];
};

/*
 * Write @p sdp rewritten per @p o into @p out (NUL-terminated). Returns
 * the length, -EINVAL (the input does not parse, or n_media differs), or
 * -ENOSPC.
 */
int sdprw_write(const char *sdp, size_t len, const struct sdprw_out *o, char *out, size_t outlen);

#endif
