/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mg-config-doc: writes docs/configuration.md, configs/gw.properties and the
 * manual page docs/man/gw.properties.5 from the schema table, or checks that
 * the committed copies are up to date (meson tests run the checks so the
 * documents cannot go stale).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_config.h"

static char *render(void (*fn)(FILE *), size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		return NULL;
	fn(f);
	fclose(f);
	return buf;
}

static int check(void (*fn)(FILE *), const char *path, const char *how)
{
	size_t want_len, have_len = 0, cap = 0;
	char *want = render(fn, &want_len), *have = NULL;
	FILE *f = fopen(path, "rb");
	int rc = 1;

	if (want == NULL || f == NULL) {
		fprintf(stderr, "mg-config-doc: cannot read %s\n", path);
		goto out;
	}
	for (;;) {
		if (have_len == cap) {
			cap = cap ? cap * 2 : 65536;
			char *n = realloc(have, cap);
			if (n == NULL)
				goto out;
			have = n;
		}
		size_t r = fread(have + have_len, 1, cap - have_len, f);
		if (r == 0)
			break;
		have_len += r;
	}
	if (have_len == want_len && memcmp(have, want, want_len) == 0) {
		rc = 0;
		goto out;
	}
	size_t line = 1;
	for (size_t i = 0; i < have_len && i < want_len && have[i] == want[i]; i++)
		line += have[i] == '\n';
	fprintf(stderr,
		"mg-config-doc: %s is stale (first difference at line %zu); regenerate it with\n"
		"  mg-config-doc %s > %s\n",
		path, line, how, path);
out:
	if (f != NULL)
		fclose(f);
	free(want);
	free(have);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--reference") == 0) {
		mg_config_write_reference(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--example") == 0) {
		mg_config_write_example(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--man") == 0) {
		mg_config_write_man(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--check-reference") == 0)
		return check(mg_config_write_reference, argv[2], "--reference");
	if (argc == 3 && strcmp(argv[1], "--check-example") == 0)
		return check(mg_config_write_example, argv[2], "--example");
	if (argc == 3 && strcmp(argv[1], "--check-man") == 0)
		return check(mg_config_write_man, argv[2], "--man");
	fprintf(stderr, "usage: mg-config-doc --reference | --example | --man | "
			"--check-reference FILE | --check-example FILE | --check-man FILE\n");
	return 2;
}
