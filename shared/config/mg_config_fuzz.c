/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target (meson -Dfuzz=true, clang): any text as gw.properties,
 * loaded with mg_config_load_string() as the control plane and as the
 * dataplane load it (the Java-properties reader, the schema's validators,
 * the cross-key checks of each role). Properties: no crash, no UB, no leak;
 * a refusal is NULL with errno EINVAL; an accepted configuration prints.
 *
 *   build-fuzz/shared/config/mg_config_fuzz tests/fuzz/corpus/config -max_total_time=60
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum mg_config_role roles[] = { MG_CONFIG_ROLE_CONTROL,
						     MG_CONFIG_ROLE_DATAPLANE };
	static FILE *sink;
	char *text;

	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		abort();
	/* exactly the input and its NUL on the heap: a read past it is seen */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		struct mg_config *cfg;

		errno = 0;
		cfg = mg_config_load_string(text, "fuzz.properties", roles[r], sink);
		if (cfg == NULL) {
			if (errno != EINVAL && errno != ENOMEM)
				abort();
			continue;
		}
		if (mg_config_settings(cfg) == NULL)
			abort();
		mg_config_print(cfg, sink);
		mg_config_free(cfg);
	}
	free(text);
	return 0;
}
