/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mg_proto.h"

static uint8_t buf[MG_PROTO_MAX_MSG + 64];

static void make_session(struct mg_msg_session *s)
{
	memset(s, 0, sizeof(*s));
	s->id = 0x1122334455667788ull;
	assert_int_equal(mg_proto_addr_parse("192.0.2.1:30000", &s->legs[0].local), 0);
	assert_int_equal(mg_proto_addr_parse("198.51.100.7:4000", &s->legs[0].remote), 0);
	assert_int_equal(mg_proto_addr_parse("198.51.100.8:4002", &s->legs[0].candidates[0]), 0);
	s->legs[0].n_candidates = 1;
	s->legs[0].source_policy = MG_SOURCE_STRICT;
	s->legs[0].rx.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	s->legs[0].rx.key_len = 16;
	s->legs[0].rx.salt_len = 14;
	memset(s->legs[0].rx.key, 0xab, 16);
	memset(s->legs[0].rx.salt, 0xcd, 14);
	s->legs[0].rx.mki_len = 2;
	s->legs[0].rx.mki[0] = 0;
	s->legs[0].rx.mki[1] = 7;
	s->legs[0].rx.lifetime = 1ull << 31;
	s->legs[0].rx.roc = 0x01020304;
	assert_int_equal(mg_proto_addr_parse("[2001:db8::1]:30002", &s->legs[1].local), 0);
	s->legs[1].flags = MG_LEG_F_RTCP_MUX | MG_LEG_F_HANDOVER;
	s->legs[1].source_policy = MG_SOURCE_LATCH;
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(mg_proto_body_size(MG_MSG_HELLO, false), sizeof(struct mg_msg_hello));
	assert_int_equal(mg_proto_body_size(MG_MSG_PING, true), sizeof(struct mg_msg_pong));
	assert_int_equal(mg_proto_body_size(MG_MSG_SESSION_DEL, true),
			 sizeof(struct mg_msg_session_stats));
	assert_int_equal(mg_proto_body_size(MG_MSG_PORT_FREE, true), 0);
	assert_int_equal(mg_proto_body_size(0, false), -EPROTO);
	assert_int_equal(mg_proto_body_size(MG_MSG_TYPE_COUNT, false), -EPROTO);
	for (unsigned t = 1; t < MG_MSG_TYPE_COUNT; t++) {
		assert_true(sizeof(struct mg_proto_hdr) + (size_t)mg_proto_body_size(t, false) <=
			    MG_PROTO_MAX_MSG);
		assert_true(sizeof(struct mg_proto_hdr) + (size_t)mg_proto_body_size(t, true) <=
			    MG_PROTO_MAX_MSG);
		assert_string_not_equal(mg_proto_type_name(t), "?");
	}
}

static void test_roundtrip_session(void **state)
{
	struct mg_msg_session s, out;
	struct mg_proto_hdr h;
	int len;

	(void)state;
	make_session(&s);
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 42, 0, &s);
	assert_int_equal(len, sizeof(struct mg_proto_hdr) + sizeof(s));
	/* Little-endian on the wire, whatever the host. */
	assert_int_equal(buf[0], MG_PROTO_VERSION);
	assert_int_equal(buf[1], 0);
	assert_int_equal(buf[2], MG_MSG_SESSION_ADD);
	assert_int_equal(buf[8], 42);
	assert_int_equal(buf[24], 0x88);
	assert_int_equal(buf[31], 0x11);
	/* leg 0 local port 30000 = 0x7530 at body offset 16 + 2 */
	assert_int_equal(buf[24 + 18], 0x30);
	assert_int_equal(buf[24 + 19], 0x75);
	memset(&out, 0xff, sizeof(out));
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), 0);
	assert_int_equal(h.type, MG_MSG_SESSION_ADD);
	assert_int_equal(h.req_id, 42);
	assert_int_equal(h.flags, 0);
	assert_memory_equal(&s, &out, sizeof(s));
}

static void test_roundtrip_reply_and_error(void **state)
{
	struct mg_msg_pong p = { .seq = 9, .sent_ns = 123456789012ull, .uptime_ns = 5,
				 .n_sessions = 3, .n_workers = 1 };
	struct mg_msg_pong out;
	struct mg_proto_hdr h;
	int len;

	(void)state;
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_PING, MG_PROTO_F_REPLY, 7, 0, &p);
	assert_true(len > 0);
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), 0);
	assert_memory_equal(&p, &out, sizeof(p));
	/* Error reply without body. */
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, MG_PROTO_F_REPLY, 8, -EEXIST,
			      NULL);
	assert_int_equal(len, sizeof(struct mg_proto_hdr));
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, NULL, 0), 0);
	assert_int_equal(h.result, -EEXIST);
	/* A request cannot omit its body, nor carry a result. */
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, NULL),
			 -EINVAL);
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_PING, 0, 1, -EIO, &p), -EINVAL);
	/* Empty-body request. */
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_DP_STATS, 0, 1, 0, NULL);
	assert_int_equal(len, sizeof(struct mg_proto_hdr));
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, NULL, 0), 0);
}

static void test_truncated_and_oversized(void **state)
{
	struct mg_msg_session s, out;
	struct mg_proto_hdr h;
	int len;

	(void)state;
	make_session(&s);
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s);
	assert_true(len > 0);
	/* Shorter than a header. */
	assert_int_equal(mg_proto_decode(buf, 0, &h, &out, sizeof(out)), -EPROTO);
	assert_int_equal(mg_proto_decode(buf, 23, &h, &out, sizeof(out)), -EPROTO);
	/* Datagram cut short: header length no longer matches. */
	assert_int_equal(mg_proto_decode(buf, (size_t)len - 1, &h, &out, sizeof(out)), -EMSGSIZE);
	assert_int_equal(mg_proto_decode(buf, 24, &h, &out, sizeof(out)), -EMSGSIZE);
	/* Trailing junk. */
	buf[len] = 0;
	assert_int_equal(mg_proto_decode(buf, (size_t)len + 1, &h, &out, sizeof(out)), -EMSGSIZE);
	/* Consistent header but body size is not this type's size. */
	buf[16] = (uint8_t)(sizeof(s) + 1);
	buf[17] = (uint8_t)((sizeof(s) + 1) >> 8);
	assert_int_equal(mg_proto_decode(buf, (size_t)len + 1, &h, &out, sizeof(out)), -EMSGSIZE);
	buf[16] = 8;
	buf[17] = 0;
	assert_int_equal(mg_proto_decode(buf, 32, &h, &out, sizeof(out)), -EMSGSIZE);
	/* Caller's body buffer too small. */
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s);
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, 100), -EMSGSIZE);
	/* Encode into a buffer that is too small. */
	assert_int_equal(mg_proto_encode(buf, 100, MG_MSG_SESSION_ADD, 0, 1, 0, &s), -EMSGSIZE);
}

static void test_bad_header(void **state)
{
	struct mg_msg_ping p = { .seq = 1 };
	struct mg_msg_ping out;
	struct mg_proto_hdr h;
	int len;

	(void)state;
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_PING, 0, 1, 0, &p);
	buf[0] = MG_PROTO_VERSION + 1; /* other version */
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), -EPROTO);
	assert_int_equal(h.version, MG_PROTO_VERSION + 1);
	assert_non_null(strstr(mg_proto_last_error(), "version"));
	buf[0] = MG_PROTO_VERSION;
	buf[2] = 200; /* unknown type */
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), -EPROTO);
	buf[2] = 0;
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), -EPROTO);
	buf[2] = MG_MSG_PING;
	buf[4] = 0x80; /* unknown flag */
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), -EPROTO);
	buf[4] = 0;
	buf[12] = 0xff; /* request with a result */
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), -EPROTO);
	buf[12] = 0;
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), 0);
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), 99, 0, 1, 0, &p), -EPROTO);
}

/* Encode a good session, patch one wire byte, expect decode to say -EINVAL. */
static void expect_wire_einval(size_t body_off, uint8_t value, const char *needle)
{
	struct mg_msg_session s, out;
	struct mg_proto_hdr h;
	int len;

	make_session(&s);
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s);
	assert_true(len > 0);
	buf[sizeof(struct mg_proto_hdr) + body_off] = value;
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &out, sizeof(out)), -EINVAL);
	if (strstr(mg_proto_last_error(), needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", mg_proto_last_error(), needle);
}

static void test_bad_enums_on_wire(void **state)
{
	size_t leg0 = offsetof(struct mg_msg_session, legs);
	size_t rx = leg0 + offsetof(struct mg_msg_leg, rx);

	(void)state;
	expect_wire_einval(leg0 + offsetof(struct mg_msg_leg, source_policy), 7, "source policy");
	expect_wire_einval(leg0 + offsetof(struct mg_msg_leg, local), 5, "family");
	expect_wire_einval(leg0 + offsetof(struct mg_msg_leg, n_candidates), 5, "candidates");
	expect_wire_einval(leg0 + offsetof(struct mg_msg_leg, flags), 0x80, "flags");
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, suite), 99, "suite");
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, key_len), 15, "master key");
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, salt_len), 12, "salt");
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, mki_len), 5, "MKI length");
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, key) + 20, 1, "beyond");
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, flags), 0x10, "flags");
	/* lifetime > 2^48: byte 6 of the le64 */
	expect_wire_einval(rx + offsetof(struct mg_msg_crypto, lifetime) + 6, 2, "lifetime");
	expect_wire_einval(offsetof(struct mg_msg_session, flags), 1, "flags");
	/* session id 0 */
	for (unsigned i = 0; i < 8; i++)
		buf[sizeof(struct mg_proto_hdr) + i] = 0;
	{
		struct mg_msg_session out;
		struct mg_proto_hdr h;

		assert_int_equal(mg_proto_decode(buf, sizeof(struct mg_proto_hdr) +
						 sizeof(struct mg_msg_session), &h, &out,
						 sizeof(out)), -EINVAL);
	}
}

static void test_encode_validates(void **state)
{
	struct mg_msg_session s;
	struct mg_msg_fork f;
	struct mg_msg_port_alloc pa;
	struct mg_msg_port port;
	struct mg_msg_session_list_req lr = { .max = 0 };

	(void)state;
	make_session(&s);
	s.legs[1].rx.suite = MG_SRTP_SUITE_NONE;
	s.legs[1].rx.key_len = 16; /* plain with a key */
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s),
			 -EINVAL);
	make_session(&s);
	s.legs[0].local.port = 30001; /* odd RTP port without mux */
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_MODIFY, 0, 1, 0, &s),
			 -EINVAL);
	assert_non_null(strstr(mg_proto_last_error(), "odd"));
	make_session(&s);
	memset(&s.legs[1].local, 0, sizeof(s.legs[1].local));
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s),
			 -EINVAL);
	make_session(&s);
	s.legs[0].candidates[3].family = MG_FAMILY_IPV4; /* beyond n_candidates */
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s),
			 -EINVAL);
	/* AEAD GCM needs a 12-byte salt. */
	make_session(&s);
	s.legs[0].tx.suite = MG_SRTP_AEAD_AES_128_GCM;
	s.legs[0].tx.key_len = 16;
	s.legs[0].tx.salt_len = 14;
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s),
			 -EINVAL);
	s.legs[0].tx.salt_len = 12;
	assert_true(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_ADD, 0, 1, 0, &s) > 0);

	memset(&f, 0, sizeof(f));
	f.session_id = 1;
	f.fork_id = 2;
	mg_proto_addr_parse("192.0.2.1:31000", &f.local);
	mg_proto_addr_parse("203.0.113.5:5000", &f.remote);
	assert_true(mg_proto_encode(buf, sizeof(buf), MG_MSG_FORK_ADD, 0, 1, 0, &f) > 0);
	f.leg = 2;
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_FORK_ADD, 0, 1, 0, &f),
			 -EINVAL);
	f.leg = 1;
	f.flags = MG_FORK_F_RAW;
	f.crypto.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_32;
	f.crypto.key_len = 16;
	f.crypto.salt_len = 14;
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_FORK_ADD, 0, 1, 0, &f),
			 -EINVAL);
	assert_non_null(strstr(mg_proto_last_error(), "raw"));

	memset(&pa, 0, sizeof(pa));
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_PORT_ALLOC, 0, 1, 0, &pa),
			 -EINVAL);
	pa.local.family = MG_FAMILY_IPV6;
	assert_true(mg_proto_encode(buf, sizeof(buf), MG_MSG_PORT_ALLOC, 0, 1, 0, &pa) > 0);
	memset(&port, 0, sizeof(port));
	mg_proto_addr_parse("192.0.2.1:30000", &port.local);
	port.rtcp_port = 30001;
	assert_true(mg_proto_encode(buf, sizeof(buf), MG_MSG_PORT_ALLOC, MG_PROTO_F_REPLY, 1, 0,
				    &port) > 0);
	port.flags = MG_PORT_F_RTCP_MUX; /* mux needs rtcp == rtp */
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_PORT_FREE, 0, 1, 0, &port),
			 -EINVAL);
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_LIST, 0, 1, 0, &lr),
			 -EINVAL);
	lr.max = MG_PROTO_LIST_PAGE + 1;
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_SESSION_LIST, 0, 1, 0, &lr),
			 -EINVAL);
}

static void test_hello(void **state)
{
	struct mg_msg_hello a, b;
	struct mg_proto_hdr h;
	char why[512];
	int len;

	(void)state;
	mg_proto_hello_init(&a, MG_ROLE_CONTROL, "mediagate-control test");
	assert_int_equal(a.n_types, MG_MSG_TYPE_COUNT - 1);
	assert_int_equal(mg_proto_hello_check(&a, why, sizeof(why)), 0);
	len = mg_proto_encode(buf, sizeof(buf), MG_MSG_HELLO, 0, 1, 0, &a);
	assert_int_equal(mg_proto_decode(buf, (size_t)len, &h, &b, sizeof(b)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* A peer built with another SESSION_ADD size is refused, and named. */
	for (unsigned i = 0; i < b.n_types; i++)
		if (b.sizes[i].type == MG_MSG_SESSION_ADD)
			b.sizes[i].req_size += 8;
	assert_int_equal(mg_proto_hello_check(&b, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "SESSION_ADD"));
	/* Missing types. */
	b = a;
	b.n_types = 2;
	assert_int_equal(mg_proto_hello_check(&b, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "missing"));
	/* Bad role and unterminated name are decode errors. */
	a.role = 9;
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_HELLO, 0, 1, 0, &a), -EINVAL);
	a.role = MG_ROLE_TOOL;
	memset(a.software, 'x', sizeof(a.software));
	assert_int_equal(mg_proto_encode(buf, sizeof(buf), MG_MSG_HELLO, 0, 1, 0, &a), -EINVAL);
}

static void test_addr(void **state)
{
	struct mg_msg_addr a;
	char s[64];

	(void)state;
	assert_int_equal(mg_proto_addr_parse("10.1.2.3:5004", &a), 0);
	assert_int_equal(a.family, MG_FAMILY_IPV4);
	assert_int_equal(a.port, 5004);
	assert_string_equal(mg_proto_addr_str(&a, s, sizeof(s)), "10.1.2.3:5004");
	assert_int_equal(mg_proto_addr_parse("[2001:db8::5]:6000", &a), 0);
	assert_int_equal(a.family, MG_FAMILY_IPV6);
	assert_string_equal(mg_proto_addr_str(&a, s, sizeof(s)), "[2001:db8::5]:6000");
	assert_int_equal(mg_proto_addr_parse("2001:db8::5", &a), 0);
	assert_int_equal(a.port, 0);
	assert_int_equal(mg_proto_addr_parse("10.1.2.3:70000", &a), -EINVAL);
	assert_int_equal(mg_proto_addr_parse("10.1.2:5", &a), -EINVAL);
	assert_int_equal(mg_proto_addr_parse("[::1", &a), -EINVAL);
	assert_int_equal(mg_proto_addr_parse("host:5", &a), -EINVAL);
	assert_int_equal(mg_proto_addr_parse("10.0.0.1:", &a), -EINVAL);
}

static uint32_t rnd_state = 0x2545f491u;

static uint32_t rnd(void)
{
	/* xorshift32: deterministic, so a failure reproduces. */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/*
 * Mutated valid messages of every shape: decode never crashes, never
 * returns anything but 0/-EPROTO/-EMSGSIZE/-EINVAL, and whatever it accepts
 * re-encodes to exactly the same bytes (nothing accepted is silently
 * normalised or misread).
 */
static void test_mutations_never_crash(void **state)
{
	static uint8_t corpus[14][MG_PROTO_MAX_MSG];
	static uint8_t in[MG_PROTO_MAX_MSG + 64], out[MG_PROTO_MAX_MSG + 64];
	static union {
		struct mg_msg_session s;
		struct mg_msg_hello h;
		uint8_t raw[MG_PROTO_MAX_MSG];
	} body;
	int clen[14], n = 0, accepted = 0;
	struct mg_msg_session s;
	struct mg_msg_hello hello;
	struct mg_msg_ping ping = { .seq = 3, .sent_ns = 99 };
	struct mg_msg_port_alloc pa = { .local.family = MG_FAMILY_IPV4, .flags = 1 };
	struct mg_msg_port port = { .rtcp_port = 16385 };
	struct mg_msg_fork f = { .session_id = 9, .fork_id = 1 };
	struct mg_msg_session_list list = { .count = 2, .total = 2, .next_cursor = 0 };
	struct mg_msg_session_stats st = { .id = 5 };
	struct mg_msg_session_list_req lr = { .max = 64 };
	struct mg_msg_fork_id fid = { .session_id = 9, .fork_id = 1 };
	struct mg_msg_tdm_bind tb = { .session_id = 9, .channo = 17, .leg = 1, .law = 1, .pt = 8,
				      .event_pt = 101, .ssrc = 0x12345678, .flags = 1 };
	struct mg_msg_tdm_stats ts = { .channo = 17, .rtp_in = 5, .drops = 1 };

	(void)state;
	make_session(&s);
	mg_proto_hello_init(&hello, MG_ROLE_CONTROL, "x");
	mg_proto_addr_parse("192.0.2.1:16384", &port.local);
	mg_proto_addr_parse("192.0.2.1:30010", &f.local);
	mg_proto_addr_parse("[2001:db8::9]:6000", &f.remote);
	list.entries[0].id = 1;
	list.entries[1].id = 2;
	st.legs[0][0].packets = 77;
#define ADD(t, fl, res, b) clen[n] = mg_proto_encode(corpus[n], sizeof(corpus[n]), t, fl, 1, res, b), assert_true(clen[n++] > 0)
	ADD(MG_MSG_SESSION_ADD, 0, 0, &s);
	ADD(MG_MSG_HELLO, 0, 0, &hello);
	ADD(MG_MSG_HELLO, MG_PROTO_F_REPLY, -EPROTO, &hello);
	ADD(MG_MSG_PING, 0, 0, &ping);
	ADD(MG_MSG_PORT_ALLOC, 0, 0, &pa);
	ADD(MG_MSG_PORT_ALLOC, MG_PROTO_F_REPLY, 0, &port);
	ADD(MG_MSG_FORK_ADD, 0, 0, &f);
	ADD(MG_MSG_SESSION_LIST, MG_PROTO_F_REPLY, 0, &list);
	ADD(MG_MSG_SESSION_STATS, MG_PROTO_F_REPLY, 0, &st);
	ADD(MG_MSG_SESSION_LIST, 0, 0, &lr);
	ADD(MG_MSG_FORK_DEL, 0, 0, &fid);
	ADD(MG_MSG_DP_STATS, MG_PROTO_F_REPLY, -ENOENT, NULL);
	ADD(MG_MSG_TDM_BIND, 0, 0, &tb);
	ADD(MG_MSG_TDM_UNBIND, MG_PROTO_F_REPLY, 0, &ts);
#undef ADD
	for (unsigned iter = 0; iter < 100000; iter++) {
		unsigned k = rnd() % (unsigned)n, muts = 1 + rnd() % 4;
		size_t len = (size_t)clen[k];
		struct mg_proto_hdr h;
		int rc, olen;

		memcpy(in, corpus[k], len);
		for (unsigned m = 0; m < muts; m++) {
			switch (rnd() % 8) {
			case 0: /* cut */
				len = rnd() % (len + 1);
				break;
			case 1: /* grow */
				len = len + 1 + rnd() % 32;
				break;
			case 2: /* touch the header */
				in[rnd() % sizeof(struct mg_proto_hdr)] = (uint8_t)rnd();
				break;
			default: /* one body byte: enums, lengths, flags, keys */
				if (len > 0)
					in[rnd() % len] = (uint8_t)(rnd() % 4 == 0 ? rnd() : rnd() % 8);
				break;
			}
		}
		rc = mg_proto_decode(in, len, &h, &body, sizeof(body));
		if (rc != 0 && rc != -EPROTO && rc != -EMSGSIZE && rc != -EINVAL)
			fail_msg("iteration %u: decode returned %d", iter, rc);
		if (rc != 0)
			continue;
		accepted++;
		olen = mg_proto_encode(out, sizeof(out), h.type, h.flags, h.req_id, h.result,
				       h.length ? (const void *)&body : NULL);
		if (olen != (int)len || memcmp(in, out, len) != 0)
			fail_msg("iteration %u: accepted %s does not re-encode to the same bytes (%d)",
				 iter, mg_proto_type_name(h.type), olen);
	}
	/* The mutations are not all fatal: the round trip was exercised. */
	assert_true(accepted > 1000);
}

/* CAPTURE_START / CAPTURE_STOP: round trip, and the path rules. */
static void test_capture(void **state)
{
	uint8_t wire[MG_PROTO_MAX_MSG];
	struct mg_proto_hdr h;
	struct mg_msg_capture ok = { .session_id = 7, .flags = MG_CAPTURE_F_DECRYPTED }, c, got;
	struct mg_msg_capture_stats st = { .session_id = 7, .packets = 3, .drops_ring_full = 1 }, gst;
	int len;

	(void)state;
	strcpy(ok.path, "/var/lib/mediagate/capture/a.pcapng");
	len = mg_proto_encode(wire, sizeof(wire), MG_MSG_CAPTURE_START, 0, 3, 0, &ok);
	assert_int_equal(len, (int)(sizeof(struct mg_proto_hdr) + sizeof(ok)));
	assert_int_equal(mg_proto_decode(wire, (size_t)len, &h, &got, sizeof(got)), 0);
	assert_memory_equal(&got, &ok, sizeof(ok));
	len = mg_proto_encode(wire, sizeof(wire), MG_MSG_CAPTURE_STOP, MG_PROTO_F_REPLY, 4, 0, &st);
	assert_int_equal(mg_proto_decode(wire, (size_t)len, &h, &gst, sizeof(gst)), 0);
	assert_memory_equal(&gst, &st, sizeof(st));
	assert_int_equal(mg_proto_body_size(MG_MSG_CAPTURE_START, true), 0);
	assert_int_equal(mg_proto_body_size(MG_MSG_CAPTURE_STOP, false),
			 (int)sizeof(struct mg_msg_session_id));
	assert_string_equal(mg_proto_type_name(MG_MSG_CAPTURE_STOP), "CAPTURE_STOP");
#define BAD(stmt)                                                                              \
	do {                                                                                   \
		c = ok;                                                                        \
		stmt;                                                                          \
		assert_int_equal(mg_proto_encode(wire, sizeof(wire), MG_MSG_CAPTURE_START, 0, 1, 0, \
						 &c), -EINVAL);                                \
	} while (0)
	BAD(c.session_id = 0);
	BAD(c.flags = 0x02);
	BAD(c.reserved = 1);
	BAD(memset(c.path, 0, sizeof(c.path)));                   /* empty */
	BAD(strcpy(c.path, "relative/a.pcapng"));                 /* not absolute */
	BAD(memset(c.path, 'a', sizeof(c.path)); c.path[0] = '/'); /* no NUL */
	BAD(c.path[sizeof(c.path) - 1] = 'x');                    /* junk after the NUL */
#undef BAD
}

/* TDM_BIND / TDM_UNBIND: round trip, and every field's rule refused. */
static void test_tdm(void **state)
{
	uint8_t wire[MG_PROTO_MAX_MSG];
	struct mg_proto_hdr h;
	struct mg_msg_tdm_bind ok = { .session_id = 9, .channo = 17, .leg = 1, .law = 1, .pt = 8,
				      .event_pt = 101, .ssrc = 0x12345678,
				      .flags = MG_TDM_F_ECHO_CANCEL }, b, got;
	struct mg_msg_tdm_chan ch = { .channo = MG_TDM_MAX_CHANNO }, gch;
	int len;

	(void)state;
	len = mg_proto_encode(wire, sizeof(wire), MG_MSG_TDM_BIND, 0, 3, 0, &ok);
	assert_int_equal(len, (int)(sizeof(struct mg_proto_hdr) + sizeof(ok)));
	assert_int_equal(mg_proto_decode(wire, (size_t)len, &h, &got, sizeof(got)), 0);
	assert_memory_equal(&got, &ok, sizeof(ok));
	len = mg_proto_encode(wire, sizeof(wire), MG_MSG_TDM_UNBIND, 0, 4, 0, &ch);
	assert_int_equal(mg_proto_decode(wire, (size_t)len, &h, &gch, sizeof(gch)), 0);
	assert_int_equal(gch.channo, MG_TDM_MAX_CHANNO); /* the highest DAHDI channel */
	assert_int_equal(mg_proto_body_size(MG_MSG_TDM_BIND, true), 0);
	assert_int_equal(mg_proto_body_size(MG_MSG_TDM_UNBIND, true),
			 (int)sizeof(struct mg_msg_tdm_stats));
	assert_string_equal(mg_proto_type_name(MG_MSG_TDM_BIND), "TDM_BIND");
#define BAD(field, value)                                                                      \
	do {                                                                                   \
		b = ok;                                                                        \
		b.field = value;                                                               \
		assert_int_equal(mg_proto_encode(wire, sizeof(wire), MG_MSG_TDM_BIND, 0, 1, 0, &b), \
				 -EINVAL);                                                     \
	} while (0)
	BAD(session_id, 0);
	BAD(channo, 0);
	BAD(channo, MG_TDM_MAX_CHANNO + 1);
	BAD(leg, 2);
	BAD(law, 2);
	BAD(pt, 128);
	BAD(event_pt, 95);
	BAD(event_pt, 128);
	BAD(flags, 0x02);
	BAD(reserved[10], 1);
	b = ok;
	b.pt = 101; /* the codec and telephone-event cannot share a payload type */
	assert_int_equal(mg_proto_encode(wire, sizeof(wire), MG_MSG_TDM_BIND, 0, 1, 0, &b), -EINVAL);
	b.event_pt = 0; /* no events: fine */
	assert_true(mg_proto_encode(wire, sizeof(wire), MG_MSG_TDM_BIND, 0, 1, 0, &b) > 0);
#undef BAD
	ch.channo = 0;
	assert_int_equal(mg_proto_encode(wire, sizeof(wire), MG_MSG_TDM_UNBIND, 0, 1, 0, &ch),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_roundtrip_session),
		cmocka_unit_test(test_roundtrip_reply_and_error),
		cmocka_unit_test(test_truncated_and_oversized),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_enums_on_wire),
		cmocka_unit_test(test_encode_validates),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_mutations_never_crash),
		cmocka_unit_test(test_tdm),
		cmocka_unit_test(test_capture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
