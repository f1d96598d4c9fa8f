/*
 * Generator of the mg_proto seed corpus (tests/fuzz/corpus/proto), built by
 * meson: the unit test proto-seeds runs it into a temporary directory and
 * compares with the checked-in files, so a protocol change (version, a
 * layout) cannot leave the fuzzer starting from seeds every decode refuses
 * at the header (it did: version 1 seeds against version 2 for weeks).
 *
 *   gen_proto_seeds OUT_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "mg_proto.h"

static const char *out_dir;

/* A message refused by the encoder is not a seed (the zero-filled bodies of
 * types that need a non-zero field); anything else that fails is fatal. */
static void put(const char *name, unsigned type, uint16_t flags, const void *body)
{
	static uint8_t out[MG_PROTO_MAX_MSG];
	char path[4096];
	int n = mg_proto_encode(out, sizeof(out), type, flags, 7, 0, body);
	FILE *f;

	if (n < 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(out, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_proto_seeds OUT_DIR\n");
		return 2;
	}
	out_dir = argv[1];
	static union { struct mg_msg_hello h; struct mg_msg_session s; struct mg_msg_fork f; uint8_t raw[MG_PROTO_MAX_MSG]; } b;
	struct mg_msg_ping ping = { 1, 2 };

	mg_proto_hello_init(&b.h, MG_ROLE_CONTROL, "mediagate-control fuzz-seed");
	b.h.pid = 4242; /* the same bytes at every run */
	put("hello", MG_MSG_HELLO, 0, &b.h);
	put("hello-reply", MG_MSG_HELLO, MG_PROTO_F_REPLY, &b.h);
	put("ping", MG_MSG_PING, 0, &ping);
	put("dp-stats", MG_MSG_DP_STATS, 0, NULL);
	memset(&b, 0, sizeof(b));
	b.s.id = 1;
	mg_proto_addr_parse("192.0.2.1:30000", &b.s.legs[0].local);
	mg_proto_addr_parse("192.0.2.2:40000", &b.s.legs[0].remote);
	mg_proto_addr_parse("192.0.2.17:30002", &b.s.legs[1].local);
	mg_proto_addr_parse("192.0.2.18:40002", &b.s.legs[1].remote);
	put("session-add-plain", MG_MSG_SESSION_ADD, 0, &b.s);
	b.s.legs[0].rx.suite = MG_SRTP_AES_CM_128_HMAC_SHA1_80;
	b.s.legs[0].rx.key_len = 16; b.s.legs[0].rx.salt_len = 14;
	b.s.legs[0].tx = b.s.legs[0].rx;
	put("session-add-srtp", MG_MSG_SESSION_ADD, 0, &b.s);
	put("session-modify-srtp", MG_MSG_SESSION_MODIFY, 0, &b.s);
	for (unsigned t = 1; t < MG_MSG_TYPE_COUNT; t++) {
		char name[64];
		int sz = mg_proto_body_size(t, false);
		static uint8_t zero[MG_PROTO_MAX_MSG];
		if (sz < 0) continue;
		snprintf(name, sizeof(name), "zero-%s", mg_proto_type_name(t));
		put(name, t, 0, sz ? zero : NULL);
	}
	return 0;
}
