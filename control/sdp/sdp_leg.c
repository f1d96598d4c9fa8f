/* SPDX-License-Identifier: BSD-3-Clause */
#include "sdp_leg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "mg_proto_crypto.h"

int sdp_result_to_leg(const struct sdp_result *res, struct mg_msg_leg *leg)
{
	int rc;

	if (res->status != 0)
		return -EINVAL;
	memset(&leg->remote, 0, sizeof(leg->remote));
	if (res->remote_family == AF_INET6) {
		leg->remote.family = MG_FAMILY_IPV6;
		rc = inet_pton(AF_INET6, res->remote_addr, leg->remote.addr);
	} else {
		leg->remote.family = MG_FAMILY_IPV4;
		rc = inet_pton(AF_INET, res->remote_addr, leg->remote.addr);
	}
	if (rc != 1)
		return -EINVAL;
	leg->remote.port = res->remote_rtp_port;
	leg->remote_rtcp_port = res->remote_rtcp_port;
	if (res->rtcp_mux)
		leg->flags |= MG_LEG_F_RTCP_MUX;
	else
		leg->flags &= (uint8_t)~MG_LEG_F_RTCP_MUX;
	/* the conversion the dataplane reverses (mg_crypto_to_policy()) */
	rc = mg_crypto_from_policy(res->srtp ? &res->rx : NULL, res->rekey_rx ? MG_CRYPTO_F_ROC_RESET : 0, &leg->rx);
	if (rc == 0)
		rc = mg_crypto_from_policy(res->srtp ? &res->tx : NULL, res->rekey_tx ? MG_CRYPTO_F_ROC_RESET : 0,
					   &leg->tx);
	return rc;
}
