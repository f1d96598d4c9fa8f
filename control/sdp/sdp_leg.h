/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * From a negotiation result to one leg of a dataplane SESSION_ADD/MODIFY
 * (shared/proto/mg_proto.h): remote address and ports, rtcp-mux, and the
 * SRTP parameters per direction (rx = the peer's key, tx = ours).
 */
#ifndef MG_SDP_LEG_H
#define MG_SDP_LEG_H

#include "mg_proto.h"
#include "sdp_neg.h"

/*
 * Fill @p leg's remote side and crypto from @p res; leg->local, the fork
 * candidates and the source policy are the call engine's and left alone.
 * A re-key (res->rekey_rx / rekey_tx) sets MG_CRYPTO_F_ROC_RESET on that
 * direction. Returns 0, -EINVAL (result not usable: failed negotiation,
 * bad address) or -EOPNOTSUPP when the peer gave several keys (MKI) and
 * the wire carries one per direction: negotiate with
 * sdp_policy.max_keys = 1 to avoid choosing such lines.
 */
int sdp_result_to_leg(const struct sdp_result *res, struct mg_msg_leg *leg);

#endif
