/* SPDX-License-Identifier: BSD-3-Clause */
#include "sdp_leg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static int crypto_from_policy(const struct mg_srtp_policy *p, bool srtp, bool roc_reset, struct mg_msg_crypto *c)
{
	const struct mg_srtp_suite_info *si;

	memset(c, 0, sizeof(*c));
	if (!srtp)
		return 0; /* suite NONE, every length 0 */
	si = mg_srtp_suite_by_id(p->suite);
	if (si == NULL || p->nkeys == 0 || p->mki_len > MG_PROTO_MAX_MKI || si->master_key_len > MG_PROTO_MAX_KEY ||
	    si->master_salt_len > MG_PROTO_MAX_SALT)
		return -EINVAL;
	if (p->nkeys > 1)
		return -EOPNOTSUPP;
	c->suite = (uint8_t)si->id;
	c->key_len = si->master_key_len;
	c->salt_len = si->master_salt_len;
	c->mki_len = p->mki_len;
	c->flags = roc_reset ? MG_CRYPTO_F_ROC_RESET : 0;
	memcpy(c->mki, p->keys[0].mki, p->mki_len);
	c->roc = p->roc;
	c->lifetime = p->keys[0].lifetime;
	memcpy(c->key, p->keys[0].key, si->master_key_len);
	memcpy(c->salt, p->keys[0].salt, si->master_salt_len);
	return 0;
}

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
	rc = crypto_from_policy(&res->rx, res->srtp, res->rekey_rx, &leg->rx);
	if (rc == 0)
		rc = crypto_from_policy(&res->tx, res->srtp, res->rekey_tx, &leg->tx);
	return rc;
}
