/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_proto_crypto.h"

#include <errno.h>
#include <string.h>

/* What fits on the wire fits in a policy and the other way round, so the
 * suite's lengths are the only bound either direction needs. */
_Static_assert(MG_PROTO_MAX_KEY == MG_SRTP_MASTER_KEY_MAX, "wire and engine key sizes differ");
_Static_assert(MG_PROTO_MAX_SALT == MG_SRTP_MASTER_SALT_MAX, "wire and engine salt sizes differ");
_Static_assert(MG_PROTO_MAX_MKI == MG_SRTP_MKI_MAX, "wire and engine MKI sizes differ");

int mg_crypto_from_policy(const struct mg_srtp_policy *p, uint8_t flags, struct mg_msg_crypto *c)
{
	const struct mg_srtp_suite_info *si;

	memset(c, 0, sizeof(*c));
	if (p == NULL)
		return 0; /* suite NONE, every length 0 */
	si = mg_srtp_suite_by_id(p->suite);
	if (si == NULL || p->nkeys == 0 || p->mki_len > MG_PROTO_MAX_MKI || si->master_key_len > MG_PROTO_MAX_KEY ||
	    si->master_salt_len > MG_PROTO_MAX_SALT || (flags & ~MG_CRYPTO_F_ROC_RESET) != 0)
		return -EINVAL;
	if (p->nkeys > 1)
		return -EOPNOTSUPP;
	c->suite = (uint8_t)si->id;
	c->key_len = si->master_key_len;
	c->salt_len = si->master_salt_len;
	c->mki_len = p->mki_len;
	c->flags = flags;
	memcpy(c->mki, p->keys[0].mki, p->mki_len);
	c->roc = p->roc;
	c->lifetime = p->keys[0].lifetime;
	memcpy(c->key, p->keys[0].key, si->master_key_len);
	memcpy(c->salt, p->keys[0].salt, si->master_salt_len);
	return 0;
}

int mg_crypto_to_policy(const struct mg_msg_crypto *c, enum mg_srtp_dir dir, struct mg_srtp_policy *p)
{
	const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id((enum mg_srtp_suite)c->suite);

	memset(p, 0, sizeof(*p));
	if (si == NULL || c->key_len != si->master_key_len || c->salt_len != si->master_salt_len ||
	    c->mki_len > MG_SRTP_MKI_MAX)
		return -EINVAL;
	p->suite = si->id;
	p->dir = dir;
	p->mki_len = c->mki_len;
	p->nkeys = 1;
	p->roc = c->roc;
	if (c->flags & MG_CRYPTO_F_SEQ) {
		p->seq = c->seq;
		p->seq_valid = 1;
	}
	memcpy(p->keys[0].key, c->key, c->key_len);
	memcpy(p->keys[0].salt, c->salt, c->salt_len);
	memcpy(p->keys[0].mki, c->mki, c->mki_len);
	p->keys[0].lifetime = c->lifetime;
	return 0;
}
