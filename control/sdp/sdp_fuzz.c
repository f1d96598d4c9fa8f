/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target (meson -Dfuzz=true, clang): any bytes as an SDP offer,
 * as an answer to one of our offers, and as an a=crypto value. Every call
 * must end in a result or a refusal, without crashing, leaking or running
 * away with memory (libFuzzer's -rss_limit_mb catches the latter). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"
#include "sdp_neg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_result res, offer;
	static int init;
	struct sdp_policy pol = { .mode = MG_SRTP_MODE_AS_NEEDED, .local_addr = "192.0.2.1", .local_port = 20000 };
	char value[SDP_CRYPTO_LINE_MAX];
	struct sdp_crypto c;

	if (!init) {
		mg_log_init("sdp_fuzz", MG_LOG_ERR, false);
		init = 1;
	}
	pol.mode = size > 0 ? (enum mg_srtp_mode)(data[0] % 3) : MG_SRTP_MODE_AS_NEEDED;
	sdp_answer(&pol, (const char *)data, size, NULL, &res);
	if (sdp_offer(&pol, NULL, &offer) == 0)
		sdp_answer_process(&pol, (const char *)data, size, &offer);
	if (size < sizeof(value)) {
		memcpy(value, data, size);
		value[size] = '\0';
		sdp_crypto_parse(value, &c, NULL, 0);
	}
	return 0;
}
