/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: mg_proto_decode() on hostile datagrams, as the dataplane
 * and the control plane receive them. Property: never crashes, returns only
 * 0/-EPROTO/-EMSGSIZE/-EINVAL, and anything accepted re-encodes to the same
 * bytes. Build: CC=clang meson setup build-fuzz -Dfuzz=true; run:
 * build-fuzz/shared/proto/mg_proto_fuzz_decode -runs=100000 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t body[MG_PROTO_MAX_MSG], out[MG_PROTO_MAX_MSG];
	struct mg_proto_hdr h;
	int rc, len;

	rc = mg_proto_decode(data, size, &h, body, sizeof(body));
	if (rc != 0 && rc != -EPROTO && rc != -EMSGSIZE && rc != -EINVAL)
		abort();
	if (rc != 0)
		return 0;
	len = mg_proto_encode(out, sizeof(out), h.type, h.flags, h.req_id, h.result,
			      h.length ? body : NULL);
	if (len != (int)size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
