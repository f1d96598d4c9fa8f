/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP offer/answer for one audio stream with SDES-SRTP (SPEC §4).
 *
 * The call engine calls sdp_answer() for an offer it received,
 * sdp_offer() to make an offer and sdp_answer_process() for the answer to
 * it. Each fills a struct sdp_result: what to tell the dataplane (remote
 * address and ports, suite, keys per direction as engine policies,
 * rtcp-mux, direction, payload types) plus the SDP text to send, or a SIP
 * status with Warning text when the negotiation must fail. Keep the result
 * of the last negotiation of a dialog and pass it as @p prev on a
 * re-INVITE: keys are kept when the peer keeps its own, else both
 * directions are re-keyed (a ROC reset never reuses a key).
 */
#ifndef MG_SDP_NEG_H
#define MG_SDP_NEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_config.h"
#include "mg_srtp.h"
#include "sdp_crypto.h"

#define SDP_MAX_PTS 16
#define SDP_TEXT_MAX 4096

/* Our side's media direction (bit 0: we send, bit 1: we receive), the same
 * values as sofia-sip's sdp_mode_t. */
enum sdp_dir {
	SDP_DIR_INACTIVE = 0,
	SDP_DIR_SENDONLY = 1,
	SDP_DIR_RECVONLY = 2,
	SDP_DIR_SENDRECV = 3,
};

struct sdp_codec {
	const char *name; /* as in a=rtpmap, compared without case */
	unsigned rate;
};

/* What this side may do. Zero-initialise, then set what you need. */
struct sdp_policy {
	enum mg_srtp_mode mode;                        /* netborder.media.srtp.mode */
	enum mg_srtp_suite suites[MG_CFG_MAX_SUITES];  /* cryptoSuite, first = preferred */
	unsigned n_suites;                             /* 0: _80 then _32 */
	const char *local_addr;                        /* our media address (dataplane) */
	uint16_t local_port;                           /* our RTP port (RTCP = +1 without mux) */
	const char *origin_user;                       /* o= user, default "mediagate" */
	uint64_t sess_id;                              /* o= id of a new session */
	const char *media_type;                        /* routing out_leg media_type: sendrecv
							  (NULL), sendonly, recvonly, inactive */
	bool no_rtcp_mux;                              /* refuse / do not offer rtcp-mux */
	bool ipv4_only;                                /* refuse IPv6 media (488, warn-code
							  301): the dataplane relays IPv4 */
	bool ms_offer;                                 /* offers in Microsoft's dialect:
							  RTP/AVP + a=crypto + a=encryption */
	const struct sdp_codec *codecs;                /* NULL: PCMU, PCMA, telephone-event */
	unsigned n_codecs;
	unsigned ptime;                                /* a=ptime in our offers, 0 = none */
	uint64_t key_lifetime;                         /* lifetime put on our keys when the peer
							  gave none, 0 = omit */
	unsigned max_keys;                             /* skip a=crypto lines with more keys
							  (0 = MG_SRTP_KEYS_MAX; 1 while the
							  dataplane wire carries one key) */
	uint64_t last_sent_version;                    /* sdp_offer_current(): the highest o=
							  version already sent on this leg (an
							  offer that got no answer), 0 = none */
};

struct sdp_pt {
	uint8_t pt;
	char name[32];
	unsigned rate;
	char params[16]; /* encoding parameters (channels), "" if none */
	char fmtp[128];  /* "" if none */
};

struct sdp_result {
	int status;            /* 0 ok; else the SIP status to answer with (488, 400) */
	int warn_code;         /* RFC 3261 warn-code for the Warning header */
	char warn_text[256];   /* its text, without quotes */

	bool srtp;
	enum mg_srtp_suite suite;
	unsigned long crypto_tag;
	struct mg_srtp_policy rx;   /* unprotect what the peer sends (its keys) */
	struct mg_srtp_policy tx;   /* protect what we send (our keys) */
	bool rekey;                 /* re-INVITE changed keys or SRTP on/off: MODIFY */
	bool rekey_rx, rekey_tx;    /* which direction got new keys (its ROC restarts) */
	bool ms_dialect;            /* SRTP inside an RTP/AVP m= line */

	char remote_addr[64];
	int remote_family;          /* AF_INET, AF_INET6 */
	uint16_t remote_rtp_port;
	uint16_t remote_rtcp_port;  /* == rtp port with rtcp-mux */
	bool rtcp_mux;
	enum sdp_dir dir;           /* what WE do: send and/or receive */
	bool hold;                  /* the peer stopped receiving (sendonly, inactive, c=0.0.0.0) */

	struct sdp_pt pts[SDP_MAX_PTS]; /* agreed payload types, offerer's order */
	unsigned n_pts;
	int telephone_event_pt;     /* -1 if none */
	unsigned ptime;             /* 0 if not given */
	unsigned media_index;       /* m= line used (0-based) */

	/* Our keys per crypto tag while an offer awaits its answer. */
	struct {
		unsigned long tag;
		const struct mg_srtp_suite_info *suite;
		struct mg_srtp_sdes_key key;
	} offered[MG_CFG_MAX_SUITES];
	unsigned n_offered;
	struct mg_srtp_sdes_key local_key; /* our key in use (valid when srtp) */
	struct {
		bool valid, srtp;
		enum mg_srtp_suite suite;
		struct mg_srtp_policy rx;
	} before;                          /* sdp_offer(prev): state the answer is compared to */

	uint64_t sess_id, sess_version;    /* o= of our SDP; +1 per new SDP */
	size_t sdp_len;
	/* Last member: a copy made by sdp_result_keep() ends with the text. */
	char sdp[SDP_TEXT_MAX];            /* SDP to send (answer or offer), CRLF lines */
};

/*
 * A dialog keeps its results for as long as the call lasts, mostly with an
 * SDP of a few hundred bytes in sdp[SDP_TEXT_MAX]. sdp_result_keep()
 * returns a heap copy of @p res cut after the text's NUL (NULL: out of
 * memory): it may be read and passed as @p prev / @p cur (those only read
 * the text up to its NUL), never assigned or copied by value (use
 * sdp_result_load()) nor written. sdp_result_free() wipes it (our keys) and
 * frees it; NULL is fine.
 */
struct sdp_result *sdp_result_keep(const struct sdp_result *res);
/* The full result again from a kept copy, e.g. to complete an offer with
 * one of several answers (the text after the NUL is left zero). */
void sdp_result_load(struct sdp_result *dst, const struct sdp_result *kept);
void sdp_result_free(struct sdp_result *kept);

/* mode and cryptoSuite from the configuration; the rest is left as is. */
void sdp_policy_from_settings(const struct mg_settings *s, struct sdp_policy *pol);

/* Answer @p offer. @p prev: the dialog's last result (re-INVITE) or NULL.
 * Returns 0 when @p res->status is 0, else -EPROTO (status/warning set) or
 * -ENOMEM/-EIO. */
int sdp_answer(const struct sdp_policy *pol, const char *offer, size_t len, const struct sdp_result *prev,
	       struct sdp_result *res);

/* Make an offer per the offer table: always = SRTP only, as-needed = SRTP
 * or RTP (RTP/AVP with a=crypto and a=encryption:optional), never = RTP.
 * @p prev (re-INVITE from our side): keep our key. */
int sdp_offer(const struct sdp_policy *pol, const struct sdp_result *prev, struct sdp_result *res);

/* Offer the session as it stands, e.g. in the 2xx to an INVITE without SDP
 * (RFC 3261 14.2, a session refresh): @p cur is the dialog's last result
 * (cur->sdp the last SDP we sent). The offer has the agreed payload types
 * with their numbers, the crypto line in use with our key (no new key: the
 * peer's answer re-keys only if it brings new keys of its own), rtcp-mux
 * if in use, our address/port from @p pol and the direction of
 * pol->media_type; the other m= lines of the previous SDP are kept with
 * port 0. RFC 3264 §8: the o= version stays when the SDP is identical to
 * cur->sdp, else it goes up by one. Process the answer (in the ACK) with
 * sdp_answer_process(): rekey_rx/rekey say whether the peer changed keys. */
int sdp_offer_current(const struct sdp_policy *pol, const struct sdp_result *cur, struct sdp_result *res);

/* Complete @p res (filled by sdp_offer() or sdp_offer_current()) with the peer's answer, in place.
 * Fails (status 488) when the answer breaks the policy or our offer. Several
 * answers to one offer (RFC 3960 forking, 18x then 200): process each into
 * its own copy of the sdp_offer() result. */
int sdp_answer_process(const struct sdp_policy *pol, const char *answer, size_t len, struct sdp_result *res);

/* "CODE AGENT \"TEXT\"" for a Warning header; returns the length. */
int sdp_warning_header(const struct sdp_result *res, const char *agent, char *out, size_t outlen);

const char *sdp_dir_name(enum sdp_dir d);

#endif
