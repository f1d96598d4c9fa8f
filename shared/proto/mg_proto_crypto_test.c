/* SPDX-License-Identifier: BSD-3-Clause */
/* policy <-> wire crypto: round trips over every suite, MKI length, lifetime
 * and ROC, through the real encoder and decoder; the refusals; and byte
 * identity with the two copies this code replaced (control/sdp/sdp_leg.c
 * and dataplane/session/dp_session.c), kept below as they were. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_proto_crypto.h"

/* control/sdp/sdp_leg.c before the move, verbatim but for the name */
static int old_from_policy(const struct mg_srtp_policy *p, bool srtp, bool roc_reset, struct mg_msg_crypto *c)
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

/* the policy half of dataplane/session/dp_session.c crypto_ctx() before the move */
static int old_to_policy(const struct mg_msg_crypto *c, enum mg_srtp_dir dir, struct mg_srtp_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->suite = (enum mg_srtp_suite)c->suite;
	p->dir = dir;
	p->mki_len = c->mki_len;
	p->nkeys = 1;
	p->roc = c->roc;
	if (c->key_len > sizeof(p->keys[0].key) || c->salt_len > sizeof(p->keys[0].salt) ||
	    c->mki_len > sizeof(p->keys[0].mki))
		return -EINVAL;
	memcpy(p->keys[0].key, c->key, c->key_len);
	memcpy(p->keys[0].salt, c->salt, c->salt_len);
	memcpy(p->keys[0].mki, c->mki, c->mki_len);
	p->keys[0].lifetime = c->lifetime;
	return 0;
}

static void make_policy(struct mg_srtp_policy *p, enum mg_srtp_suite suite, uint8_t mki_len, uint64_t lifetime,
			uint32_t roc, uint8_t seed)
{
	memset(p, 0, sizeof(*p));
	p->suite = suite;
	p->dir = MG_SRTP_DIR_INBOUND;
	p->nkeys = 1;
	p->mki_len = mki_len;
	p->roc = roc;
	p->keys[0].lifetime = lifetime;
	/* only the suite's lengths are meaningful; the rest stays zero so a
	 * round trip can compare whole structs */
	for (unsigned i = 0; i < mg_srtp_suite_by_id(suite)->master_key_len; i++)
		p->keys[0].key[i] = (uint8_t)(seed + i);
	for (unsigned i = 0; i < mg_srtp_suite_by_id(suite)->master_salt_len; i++)
		p->keys[0].salt[i] = (uint8_t)(seed * 3 + i);
	for (unsigned i = 0; i < mki_len; i++)
		p->keys[0].mki[i] = (uint8_t)(0xa0 + i);
}

/* every suite x MKI 0/1/2/4 x lifetime x ROC x ROC-reset flag: the wire
 * struct is what the old control code wrote, it passes the wire validator
 * and survives encode/decode byte for byte, and comes back as the policy
 * it was made from (and as the old dataplane code read it) */
static void test_roundtrip(void **state)
{
	static const uint8_t mkis[] = { 0, 1, 2, 4 };
	static const uint64_t lifetimes[] = { 0, 1, 1ull << 31, MG_SRTP_DEFAULT_LIFETIME };
	static const uint32_t rocs[] = { 0, 1, 0xffffffffu };
	static uint8_t buf[MG_PROTO_MAX_MSG];
	unsigned cases = 0;

	(void)state;
	for (int s = MG_SRTP_SUITE_NONE + 1; s < MG_SRTP_SUITE_COUNT; s++)
		for (unsigned m = 0; m < sizeof(mkis); m++)
			for (unsigned l = 0; l < sizeof(lifetimes) / sizeof(lifetimes[0]); l++)
				for (unsigned r = 0; r < sizeof(rocs) / sizeof(rocs[0]); r++)
					for (int reset = 0; reset < 2; reset++) {
		const struct mg_srtp_suite_info *si = mg_srtp_suite_by_id((enum mg_srtp_suite)s);
		struct mg_srtp_policy p, back, old_back;
		struct mg_msg_crypto c, old;
		struct mg_msg_session sess, dec;
		struct mg_proto_hdr h;
		int len;

		make_policy(&p, (enum mg_srtp_suite)s, mkis[m], lifetimes[l], rocs[r], (uint8_t)(s * 16 + m));
		assert_int_equal(mg_crypto_from_policy(&p, reset ? MG_CRYPTO_F_ROC_RESET : 0, &c), 0);
		assert_int_equal(old_from_policy(&p, true, reset, &old), 0);
		assert_memory_equal(&c, &old, sizeof(c));
		assert_int_equal(c.suite, s);
		assert_int_equal(c.key_len, si->master_key_len);
		assert_int_equal(c.salt_len, si->master_salt_len);
		assert_int_equal(c.mki_len, mkis[m]);
		assert_int_equal(c.flags, reset ? MG_CRYPTO_F_ROC_RESET : 0);
		assert_true(c.lifetime == lifetimes[l]);
		assert_int_equal(c.roc, rocs[r]);
		assert_memory_equal(c.key, p.keys[0].key, si->master_key_len);
		assert_memory_equal(c.salt, p.keys[0].salt, si->master_salt_len);
		assert_memory_equal(c.mki, p.keys[0].mki, mkis[m]);
		assert_int_equal(mg_proto_check_crypto(&c, "rt"), 0);

		/* through the wire, as SESSION_ADD's leg 0 rx */
		memset(&sess, 0, sizeof(sess));
		sess.id = 7;
		assert_int_equal(mg_proto_addr_parse("192.0.2.1:30000", &sess.legs[0].local), 0);
		assert_int_equal(mg_proto_addr_parse("192.0.2.1:30002", &sess.legs[1].local), 0);
		sess.legs[0].rx = c;
		len = mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &sess);
		if (len < 0)
			fail_msg("encode: %s", mg_proto_last_error());
		assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &dec, sizeof(dec)), 0);
		assert_memory_equal(&dec.legs[0].rx, &c, sizeof(c));

		assert_int_equal(mg_crypto_to_policy(&dec.legs[0].rx, MG_SRTP_DIR_INBOUND, &back), 0);
		assert_memory_equal(&back, &p, sizeof(p));
		assert_int_equal(old_to_policy(&dec.legs[0].rx, MG_SRTP_DIR_INBOUND, &old_back), 0);
		assert_memory_equal(&back, &old_back, sizeof(back));
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_OUTBOUND, &back), 0);
		assert_int_equal(back.dir, MG_SRTP_DIR_OUTBOUND);
		cases++;
	}
	assert_int_equal(cases, (MG_SRTP_SUITE_COUNT - 1) * 4 * 4 * 3 * 2);
}

/* plain RTP: no policy, an all-zero wire struct (flags too), and the other
 * way no policy either */
static void test_plain(void **state)
{
	struct mg_msg_crypto c, zero, old;
	struct mg_srtp_policy p;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	memset(&c, 0xff, sizeof(c));
	assert_int_equal(mg_crypto_from_policy(NULL, MG_CRYPTO_F_ROC_RESET, &c), 0);
	assert_memory_equal(&c, &zero, sizeof(c));
	assert_int_equal(old_from_policy(NULL, false, true, &old), 0);
	assert_memory_equal(&c, &old, sizeof(c));
	assert_int_equal(mg_proto_check_crypto(&c, "plain"), 0);
	assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
}

/* what the wire cannot carry is refused, and the output is left zeroed */
static void test_from_policy_refused(void **state)
{
	struct mg_srtp_policy p;
	struct mg_msg_crypto c, zero, old;

	(void)state;
	memset(&zero, 0, sizeof(zero));

	make_policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 2, 0, 0, 1);
	p.nkeys = 0;
	assert_int_equal(mg_crypto_from_policy(&p, 0, &c), -EINVAL);
	assert_memory_equal(&c, &zero, sizeof(c));
	assert_int_equal(old_from_policy(&p, true, false, &old), -EINVAL);

	make_policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 2, 0, 0, 1);
	p.nkeys = 2; /* a key set told apart by MKI: one key per direction on the wire */
	memset(&c, 0xff, sizeof(c));
	assert_int_equal(mg_crypto_from_policy(&p, 0, &c), -EOPNOTSUPP);
	assert_memory_equal(&c, &zero, sizeof(c));
	assert_int_equal(old_from_policy(&p, true, false, &old), -EOPNOTSUPP);

	make_policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 4, 0, 0, 1);
	p.mki_len = MG_PROTO_MAX_MKI + 1;
	assert_int_equal(mg_crypto_from_policy(&p, 0, &c), -EINVAL);
	assert_int_equal(old_from_policy(&p, true, false, &old), -EINVAL);

	make_policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 0, 0, 0, 1);
	p.suite = MG_SRTP_SUITE_COUNT;
	assert_int_equal(mg_crypto_from_policy(&p, 0, &c), -EINVAL);
	p.suite = MG_SRTP_SUITE_NONE; /* plain RTP is asked for with NULL */
	assert_int_equal(mg_crypto_from_policy(&p, 0, &c), -EINVAL);

	make_policy(&p, MG_SRTP_AES_CM_128_HMAC_SHA1_80, 0, 0, 0, 1);
	assert_int_equal(mg_crypto_from_policy(&p, 0x02, &c), -EINVAL);
	assert_memory_equal(&c, &zero, sizeof(c));
}

/* a wire struct whose lengths do not match its suite gives no policy */
static void test_to_policy_bad_lengths(void **state)
{
	struct mg_srtp_policy p, good, zero;
	struct mg_msg_crypto c;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	for (int s = MG_SRTP_SUITE_NONE + 1; s < MG_SRTP_SUITE_COUNT; s++) {
		make_policy(&good, (enum mg_srtp_suite)s, 4, 0, 0, 9);
		assert_int_equal(mg_crypto_from_policy(&good, 0, &c), 0);

		c.key_len--;
		memset(&p, 0xff, sizeof(p));
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
		assert_memory_equal(&p, &zero, sizeof(p));
		c.key_len = MG_PROTO_MAX_KEY + 1;
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
		assert_int_equal(mg_crypto_from_policy(&good, 0, &c), 0);

		c.salt_len++;
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
		c.salt_len = 0;
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
		assert_int_equal(mg_crypto_from_policy(&good, 0, &c), 0);

		c.mki_len = MG_SRTP_MKI_MAX + 1;
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
		assert_int_equal(mg_crypto_from_policy(&good, 0, &c), 0);

		c.suite = MG_SRTP_SUITE_COUNT;
		assert_int_equal(mg_crypto_to_policy(&c, MG_SRTP_DIR_INBOUND, &p), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_from_policy_refused),
		cmocka_unit_test(test_to_policy_bad_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
