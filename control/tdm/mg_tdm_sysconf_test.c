/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mg_tdm_sysconf.h"

static struct mg_tdm_sysconf *sc;
static char *diag_text;
static size_t diag_len;

static int setup(void **state)
{
	(void)state;
	sc = calloc(1, sizeof(*sc));
	return sc ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(sc);
	free(diag_text);
	diag_text = NULL;
	return 0;
}

/* Parse @p text, capturing the diagnostics. */
static int parse(const char *text)
{
	FILE *d = open_memstream(&diag_text, &diag_len);
	int rc = mg_tdm_sysconf_parse(text, "t.conf", sc, d);

	fclose(d);
	return rc;
}

static void test_e1_file(void **state)
{
	FILE *d = open_memstream(&diag_text, &diag_len);
	int rc;

	(void)state;
	rc = mg_tdm_sysconf_load(MG_TDM_TESTDATA "/tdm-e1-pri.conf", sc, d);
	fclose(d);
	assert_int_equal(rc, 0);
	assert_string_equal(diag_text, "");
	assert_int_equal(sc->n_spans, 2);
	assert_int_equal(sc->spans[1].type, MG_TDM_SPAN_E1);
	assert_true(sc->spans[1].crc4);
	assert_int_equal(sc->spans[1].timing, 1);
	assert_int_equal(sc->spans[1].first_chan, 1);
	assert_int_equal(sc->spans[2].first_chan, 32);
	assert_int_equal(sc->spans[2].n_chans, 31);
	assert_int_equal(sc->chans[16].kind, MG_TDM_KIND_HARDHDLC);
	assert_int_equal(sc->chans[15].kind, MG_TDM_KIND_BCHAN);
	assert_int_equal(sc->chans[17].kind, MG_TDM_KIND_BCHAN);
	assert_int_equal(sc->chans[47].kind, MG_TDM_KIND_DCHAN);
	assert_int_equal(sc->chans[62].span, 2);
	assert_int_equal(sc->chans[1].law, MG_LAW_ALAW); /* E1 default */
	assert_string_equal(sc->chans[31].echocan, "mg2");
	assert_string_equal(sc->chans[32].echocan, "");
	assert_int_equal(mg_tdm_sysconf_dchan(sc, 1), 16);
	assert_int_equal(mg_tdm_sysconf_dchan(sc, 2), 47);
	assert_int_equal(sc->n_zones, 2);
	assert_string_equal(sc->default_zone, "nl");
}

static void test_t1_and_laws(void **state)
{
	(void)state;
	assert_int_equal(parse("span=1,0,0,esf,b8zs\n"
			       "span=3,1,2,d4,ami,yellow\n"
			       "bchan=1-23\ndchan=24\n"
			       "bchan=25-47\ndchan=48\n"
			       "alaw=1-2\n"
			       "mulaw=30\n"
			       "fxoks=49 # not on a span? 49 > 48: must fail\n"),
			 -EINVAL);
	assert_non_null(strstr(diag_text, "t.conf:9: fxoks channel 49 is on no span"));
	assert_int_equal(sc->spans[3].first_chan, 25); /* span 2 absent: numbering goes on */
	assert_int_equal(sc->spans[3].lbo, 2);
	assert_true(sc->spans[3].yellow);
	assert_int_equal(sc->chans[1].law, MG_LAW_ALAW);
	assert_int_equal(sc->chans[3].law, MG_LAW_ULAW);
	assert_int_equal(sc->chans[30].law, MG_LAW_ULAW);
	assert_int_equal(sc->chans[30].span, 3);

	free(diag_text);
	diag_text = NULL;
	assert_int_equal(parse("span=1,0,0,esf,b8zs\nbchan=1-23\ndchan=24\nalaw=1-24\n"
			       "deflaw=24\n"),
			 0);
	assert_int_equal(sc->chans[23].law, MG_LAW_ALAW);
	assert_int_equal(sc->chans[24].law, MG_LAW_ULAW);
}

/* Every line of tdm-bad.conf is reported, with its own line number, and the
 * good lines between them still count. */
static void test_bad_file(void **state)
{
	static const char *const expected[] = {
		("tdm-bad.conf:3: span=1,1,0,esf,hdb3: coding 'hdb3' does not fit esf framing "
		 "(allowed: ami, b8zs for T1)"),
		"tdm-bad.conf:5: bchan=1-15,17-x: '17-x' is not a channel range",
		"tdm-bad.conf:6: bchan=32-30: '32-30' is not a channel range",
		"tdm-bad.conf:8: bchan=16: channel 16 already configured as dchan at line 7",
		"tdm-bad.conf:9: frobnicate=1: unknown keyword 'frobnicate' (allowed: span, bchan",
		"tdm-bad.conf:10: span=2,0,0,ccs,hdb3: span 2 already defined at line 4",
		"tdm-bad.conf:11: bchan channel 100 is on no span (the span= lines cover 1-31)",
		"tdm-bad.conf:12: defaultzone 'de' not loaded",
	};
	FILE *d = open_memstream(&diag_text, &diag_len);
	int rc;
	unsigned lines = 0;

	(void)state;
	rc = mg_tdm_sysconf_load(MG_TDM_TESTDATA "/tdm-bad.conf", sc, d);
	fclose(d);
	assert_int_equal(rc, -EINVAL);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		if (!strstr(diag_text, expected[i]))
			fail_msg("missing diagnostic: %s\n--- got:\n%s", expected[i], diag_text);
	}
	for (const char *p = diag_text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 8);
	assert_int_equal(sc->chans[16].kind, MG_TDM_KIND_DCHAN);
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{"span=1,0,0,ccs\n", "4 fields, 5 needed"},
		{"span=33,0,0,ccs,hdb3\n", "span number '33' invalid (allowed: 1..32)"},
		{"span=1,0,8,ccs,hdb3\n", "line build-out '8' invalid (allowed: 0..7)"},
		{"span=1,0,0,sf,ami\n", "framing 'sf' unknown"},
		{"span=1,0,0,esf,b8zs,crc4\n", "option 'crc4' unknown (allowed: crc4 (E1 only)"},
		{"span=1,0,0,ccs,hdb3\nbchan=\n", "empty value"},
		{"span=1,0,0,ccs,hdb3\nbchan=0\n", "'0' is not a channel number"},
		{"span=1,0,0,ccs,hdb3\nbchan=1,,2\n", "t.conf:2:"},
		{"just words\n", "'just words' is not keyword=value"},
		{"loadzone=US!\n", "bad zone name"},
		{"echocanceller=mg2\n", "no channel list"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		free(diag_text);
		diag_text = NULL;
		assert_int_equal(parse(cases[i].text), -EINVAL);
		if (!strstr(diag_text, cases[i].msg))
			fail_msg("case %zu: want '%s', got '%s'", i, cases[i].msg, diag_text);
	}
}

static void test_groups(void **state)
{
	struct mg_tdm_group g[4];
	enum mg_tdm_role roles[MG_TDM_MAX_SPANS + 1] = {0};
	enum mg_tdm_role r;
	unsigned n, c;

	(void)state;
	assert_int_equal(mg_tdm_sysconf_load(MG_TDM_TESTDATA "/tdm-e1-pri.conf", sc, NULL), 0);
	assert_int_equal(mg_tdm_role_parse("NT", &r), 0);
	assert_int_equal(r, MG_TDM_ROLE_NT);
	assert_int_equal(mg_tdm_role_parse("cpe", &r), -EINVAL);
	roles[1] = MG_TDM_ROLE_NT;
	roles[2] = MG_TDM_ROLE_TE;
	n = mg_tdm_groups_build(sc, roles, g, 4);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "span1");
	assert_int_equal(g[0].n_chans, 30);
	assert_int_equal(g[0].dchan, 16);
	assert_int_equal(g[1].dchan, 47);
	assert_ptr_equal(mg_tdm_group_find(g, n, "span2"), &g[1]);
	assert_null(mg_tdm_group_find(g, n, "span9"));

	/* NT hunts from the top, TE from the bottom */
	assert_int_equal(mg_tdm_group_hunt(&g[0], &c), 0);
	assert_int_equal(c, 31);
	assert_int_equal(mg_tdm_group_hunt(&g[1], &c), 0);
	assert_int_equal(c, 32);
	/* the far end picked 33: taken, so hunting skips it */
	assert_int_equal(mg_tdm_group_claim(&g[1], 33), 0);
	assert_int_equal(mg_tdm_group_claim(&g[1], 33), -EBUSY);
	assert_int_equal(mg_tdm_group_claim(&g[1], 16), -ENOENT);
	assert_int_equal(mg_tdm_group_hunt(&g[1], &c), 0);
	assert_int_equal(c, 34);
	assert_int_equal(mg_tdm_group_release(&g[1], 33), 0);
	assert_int_equal(mg_tdm_group_release(&g[1], 33), -EALREADY);
	/* exhaust a group */
	for (unsigned i = 1; i < 30; i++)
		assert_int_equal(mg_tdm_group_hunt(&g[0], &c), 0);
	assert_int_equal(mg_tdm_group_hunt(&g[0], &c), -EBUSY);
	assert_int_equal(mg_tdm_group_release(&g[0], 17), 0);
	assert_int_equal(mg_tdm_group_hunt(&g[0], &c), 0);
	assert_int_equal(c, 17);
	/* round robin moves on after each seizure */
	g[1].hunt = MG_TDM_HUNT_ROUND_ROBIN;
	g[1].busy = 0;
	g[1].next = 0;
	assert_int_equal(mg_tdm_group_hunt(&g[1], &c), 0);
	assert_int_equal(c, 32);
	mg_tdm_group_release(&g[1], 32);
	assert_int_equal(mg_tdm_group_hunt(&g[1], &c), 0);
	assert_int_equal(c, 33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_e1_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_t1_and_laws, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
