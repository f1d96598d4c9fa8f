/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_proto_crypto.h
 * @brief One direction's SRTP parameters between the SRTP engine's policy
 * (struct mg_srtp_policy, mg_srtp.h) and the wire (struct mg_msg_crypto,
 * mg_proto.h).
 *
 * The control plane turns the policies SDP negotiation gives it into wire
 * structs (mg_crypto_from_policy()); the dataplane turns the wire structs it
 * receives back into policies to create its SRTP contexts
 * (mg_crypto_to_policy()). Both directions are written once, here, so the two
 * processes cannot disagree on which byte goes where.
 *
 * The wire carries one master key per direction: suite, key, salt, MKI
 * (value and length), lifetime and initial ROC. Lengths on the wire are the
 * suite's (mg_srtp_suite.h); bytes past them stay zero.
 */
#ifndef MG_PROTO_CRYPTO_H
#define MG_PROTO_CRYPTO_H

#include <stdint.h>

#include "mg_proto.h"
#include "mg_srtp.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Fill the wire form of @p p's master key.
 * @param p      the policy; NULL for plain RTP (suite NONE, every length 0)
 * @param flags  MG_CRYPTO_F_* to set (ignored for plain RTP)
 * @param c      zeroed first, also on error
 * @return 0; -EINVAL for an unknown suite, no key, an MKI longer than
 *         #MG_PROTO_MAX_MKI or unknown flags; -EOPNOTSUPP for more than one
 *         master key (the wire carries one per direction).
 */
int mg_crypto_from_policy(const struct mg_srtp_policy *p, uint8_t flags, struct mg_msg_crypto *c);

/**
 * Make the policy of direction @p dir from a wire crypto: one master key,
 * KDR 0, the wire's ROC. Plain RTP (suite NONE) has no policy: test for it
 * first.
 * @param p  zeroed first, also on error
 * @return 0; -EINVAL for suite NONE or unknown, a key or salt length other
 *         than the suite's, or an MKI longer than #MG_SRTP_MKI_MAX.
 */
int mg_crypto_to_policy(const struct mg_msg_crypto *c, enum mg_srtp_dir dir, struct mg_srtp_policy *p);

#ifdef __cplusplus
}
#endif

#endif
