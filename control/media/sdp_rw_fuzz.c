/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target (meson -Dfuzz=true, clang): any bytes as a party's SDP,
 * read and then written back as the relay would, with the first byte
 * choosing the options. Every call must end in a result or a refusal
 * without crashing, and the output must stay inside its buffer and be
 * NUL-terminated (ASan sees the former, the checks below the latter). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sdp_rw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdprw_sdp in;
	static char out[16384];
	struct sdprw_out o;
	char why[160];
	uint8_t sel = size > 0 ? data[0] : 0;
	size_t outlen;
	int rc;

	memset(&o, 0, sizeof(o));
	if (sdprw_parse((const char *)data, size, &in, why, sizeof(why)) < 0)
		in.n_media = 0;
	o.addr = sel & 1 ? "2001:db8::1" : "192.0.2.1";
	o.family = sel & 1 ? AF_INET6 : AF_INET;
	o.replace_origin = sel & 2;
	o.strip_ice = sel & 4;
	o.n_media = in.n_media;
	for (unsigned i = 0; i < in.n_media && i < SDPRW_MAX_MEDIA; i++) {
		struct sdprw_media_out *m = &o.m[i];

		m->port = (uint16_t)(30000 + 2 * i);
		m->rtcp_port = (uint16_t)(sel & 8 ? m->port : m->port + 1);
		m->rtcp_mux = sel & 8;
		m->rtcp_attr = sel & 16;
		m->strip_dtls = (sel >> i) & 1;
		m->proto = sdprw_proto_srtp(in.m[i].proto, sel & 32);
		if (sel & 32) {
			m->n_crypto = 2;
			m->crypto[0].tag = 1;
			m->crypto[0].suite = mg_srtp_suite_by_name("AES_CM_128_HMAC_SHA1_80");
			m->crypto[1].tag = 2;
			m->crypto[1].suite = mg_srtp_suite_by_name("AES_CM_128_HMAC_SHA1_32");
			m->crypto[1].session_params = "UNENCRYPTED_SRTCP";
		}
	}
	/* a small buffer now and then, to walk the -ENOSPC paths */
	outlen = sel & 64 ? (size_t)(sel & 63) * 8 + 1 : sizeof(out);
	out[outlen - 1] = 'X';
	rc = sdprw_write((const char *)data, size, &o, out, outlen);
	if (rc >= 0 && ((size_t)rc >= outlen || out[rc] != '\0' || strlen(out) != (size_t)rc))
		abort();
	if (rc < 0 && rc != -EINVAL && rc != -ENOSPC)
		abort();
	/* what we wrote must read back with the same m= count */
	if (rc >= 0 && in.n_media > 0) {
		static struct sdprw_sdp back;

		if (sdprw_parse(out, (size_t)rc, &back, why, sizeof(why)) < 0 || back.n_media != in.n_media)
			abort();
	}
	return 0;
}
