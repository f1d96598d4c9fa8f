/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the Java-properties reader: every syntax rule and every error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mg_props.h"

struct parsed {
	struct mg_props p;
	char *diag;
	size_t diag_len;
	int rc;
};

static void parse(struct parsed *r, const char *text, size_t len)
{
	FILE *d;

	mg_props_init(&r->p);
	r->diag = NULL;
	d = open_memstream(&r->diag, &r->diag_len);
	assert_non_null(d);
	r->rc = mg_props_parse_buf(&r->p, text, len, "t.properties", d);
	fclose(d);
}

static void parse_s(struct parsed *r, const char *text)
{
	parse(r, text, strlen(text));
}

static void done(struct parsed *r)
{
	mg_props_free(&r->p);
	free(r->diag);
}

static const char *val(const struct parsed *r, const char *key)
{
	const struct mg_prop *p = mg_props_find(&r->p, key);

	return p ? p->value : NULL;
}

static unsigned line_of(const struct parsed *r, const char *key)
{
	const struct mg_prop *p = mg_props_find(&r->p, key);

	return p ? p->line : 0;
}

static void test_separators(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "a=1\n"
		    "b:2\n"
		    "c 3\n"
		    "d = 4\n"
		    "e : 5\n"
		    "f\t\f6\n"
		    "g =:7\n"
		    "h  = = 8\n"
		    "i\n"
		    "j=\n"
		    "k:=v\n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "a"), "1");
	assert_string_equal(val(&r, "b"), "2");
	assert_string_equal(val(&r, "c"), "3");
	assert_string_equal(val(&r, "d"), "4");
	assert_string_equal(val(&r, "e"), "5");
	assert_string_equal(val(&r, "f"), "6");
	/* only the first separator is consumed */
	assert_string_equal(val(&r, "g"), ":7");
	assert_string_equal(val(&r, "h"), "= 8");
	assert_string_equal(val(&r, "i"), "");
	assert_string_equal(val(&r, "j"), "");
	assert_string_equal(val(&r, "k"), "=v");
	assert_int_equal(r.p.n, 11);
	assert_int_equal(r.p.warnings, 0);
	done(&r);
}

static void test_comments_and_blanks(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "# comment\n"
		    "! bang comment\n"
		    "   # indented comment\n"
		    "\t! indented bang\n"
		    "\n"
		    "   \n"
		    "a=x # not a comment\n"
		    "# comment ending in a backslash does not continue \\\n"
		    "b=y\n"
		    "   c = z\n");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.p.n, 3);
	assert_string_equal(val(&r, "a"), "x # not a comment");
	assert_string_equal(val(&r, "b"), "y");
	assert_int_equal(line_of(&r, "b"), 9);
	assert_string_equal(val(&r, "c"), "z");
	assert_int_equal(line_of(&r, "c"), 10);
	done(&r);
}

static void test_continuation(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "list=a,\\\n"
		    "     b,\\\n"
		    "\t c\n"
		    "even=x\\\\\n"
		    "next=1\n"
		    "odd=y\\\\\\\n"
		    "  z\n"
		    "key\\\n"
		    "  part=v\n"
		    "last=end\\");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "list"), "a,b,c");
	assert_int_equal(line_of(&r, "list"), 1);
	/* an even number of backslashes is escaped backslashes, no continuation */
	assert_string_equal(val(&r, "even"), "x\\");
	assert_string_equal(val(&r, "next"), "1");
	assert_int_equal(line_of(&r, "next"), 5);
	assert_string_equal(val(&r, "odd"), "y\\z");
	assert_int_equal(line_of(&r, "odd"), 6);
	assert_string_equal(val(&r, "keypart"), "v");
	assert_int_equal(line_of(&r, "keypart"), 8);
	/* continuation at end of file: the backslash is dropped */
	assert_string_equal(val(&r, "last"), "end");
	assert_int_equal(line_of(&r, "last"), 10);
	done(&r);
}

static void test_line_endings(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "a=1\r\nb=2\rc=3\r\n\r\nd=x\\\r\n  y\ne=5");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "a"), "1");
	assert_string_equal(val(&r, "b"), "2");
	assert_int_equal(line_of(&r, "b"), 2);
	assert_string_equal(val(&r, "c"), "3");
	assert_int_equal(line_of(&r, "c"), 3);
	assert_string_equal(val(&r, "d"), "xy");
	assert_int_equal(line_of(&r, "d"), 5);
	assert_string_equal(val(&r, "e"), "5");
	assert_int_equal(line_of(&r, "e"), 7);
	done(&r);
}

static void test_escapes(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "tab=a\\tb\n"
		    "nl=a\\nb\n"
		    "cr=a\\rb\n"
		    "ff=a\\fb\n"
		    "bs=c:\\\\dir\\\\file\n"
		    "other=\\q\\z\n"
		    "eacute=caf\\u00e9\n"
		    "upper=\\u00C9\\u20AC\n"
		    "emoji=\\uD83D\\uDE00\n"
		    "key\\=with\\:seps\\ and\\#hash=v\n"
		    "\\#notcomment=1\n"
		    "\\!bang=2\n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "tab"), "a\tb");
	assert_string_equal(val(&r, "nl"), "a\nb");
	assert_string_equal(val(&r, "cr"), "a\rb");
	assert_string_equal(val(&r, "ff"), "a\fb");
	assert_string_equal(val(&r, "bs"), "c:\\dir\\file");
	assert_string_equal(val(&r, "other"), "qz");
	assert_string_equal(val(&r, "eacute"), "caf\xc3\xa9");
	assert_string_equal(val(&r, "upper"), "\xc3\x89\xe2\x82\xac");
	assert_string_equal(val(&r, "emoji"), "\xf0\x9f\x98\x80");
	assert_string_equal(val(&r, "key=with:seps and#hash"), "v");
	assert_string_equal(val(&r, "#notcomment"), "1");
	assert_string_equal(val(&r, "!bang"), "2");
	done(&r);
}

static void test_trailing_blanks(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "a=value   \t\n"
		    "b=value\\ \n"
		    "c=value\\  \n"
		    "d=  \n"
		    "e=\\ \n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "a"), "value");
	assert_string_equal(val(&r, "b"), "value ");
	assert_string_equal(val(&r, "c"), "value ");
	assert_string_equal(val(&r, "d"), "");
	assert_string_equal(val(&r, "e"), " ");
	done(&r);
}

static void test_duplicate_last_wins(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "a=1\nb=x\na=2\n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "a"), "2");
	assert_int_equal(line_of(&r, "a"), 3);
	assert_int_equal(mg_props_find(&r.p, "a")->dup_of_line, 1);
	assert_int_equal(r.p.n, 2);
	assert_int_equal(r.p.warnings, 1);
	assert_non_null(strstr(r.diag, "t.properties:3: a=2: warning: duplicate key, first "
				       "defined at t.properties:1"));
	done(&r);
}

static void test_bad_unicode_escapes(void **state)
{
	static const char *const bad[] = {
		"a=\\u12\n",	       /* too short */
		"a=\\u12G4\n",	       /* not hex */
		"a=x\\u",	       /* at end of file */
		"a=\\u0000\n",	       /* NUL */
		"a=\\uD83D\n",	       /* high surrogate alone */
		"a=\\uD83Dx\n",	       /* high surrogate then text */
		"a=\\uDE00\n",	       /* low surrogate alone */
		"k\\uZZZZ=1\n",	       /* in a key */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parsed r;
		char text[64];

		snprintf(text, sizeof(text), "ok=1\n%s", bad[i]);
		parse_s(&r, text);
		assert_int_equal(r.rc, -EINVAL);
		assert_int_equal(r.p.errors, 1);
		assert_non_null(strstr(r.diag, "t.properties:2: "));
		assert_non_null(strstr(r.diag, "error: "));
		assert_non_null(strstr(r.diag, "\\u"));
		/* the good line is kept, the bad one is not */
		assert_string_equal(val(&r, "ok"), "1");
		assert_int_equal(r.p.n, 1);
		done(&r);
	}
}

static void test_empty_key_and_nul(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "=value\n:x\nok=1\n");
	assert_int_equal(r.rc, -EINVAL);
	assert_int_equal(r.p.errors, 2);
	assert_non_null(strstr(r.diag, "t.properties:1: =value: error: line has a value but no "
				       "key (allowed: "));
	assert_non_null(strstr(r.diag, "t.properties:2: "));
	assert_string_equal(val(&r, "ok"), "1");
	done(&r);

	parse(&r, "a=1\nb=x\0y\nc=3\n", 14);
	assert_int_equal(r.rc, -EINVAL);
	assert_int_equal(r.p.errors, 1);
	assert_non_null(strstr(r.diag, "t.properties:2: error: NUL byte"));
	assert_null(val(&r, "b"));
	assert_string_equal(val(&r, "c"), "3");
	done(&r);
}

/* Windows editors start a file with a UTF-8 BOM: it is not part of the first key. */
static void test_utf8_bom(void **state)
{
	struct parsed r;
	(void)state;

	parse_s(&r, "\xef\xbb\xbfnetborder.media.srtp.mode=always\r\nb=2\r\n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(val(&r, "netborder.media.srtp.mode"), "always");
	assert_int_equal(line_of(&r, "netborder.media.srtp.mode"), 1);
	assert_int_equal(line_of(&r, "b"), 2);
	assert_int_equal(r.p.n, 2);
	assert_int_equal(r.diag_len, 0);
	done(&r);

	/* BOM then a comment, and a BOM alone */
	parse_s(&r, "\xef\xbb\xbf# gw\na=1\n");
	assert_string_equal(val(&r, "a"), "1");
	assert_int_equal(line_of(&r, "a"), 2);
	done(&r);
	parse_s(&r, "\xef\xbb\xbf");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.p.n, 0);
	done(&r);

	/* only at the very start: elsewhere those bytes are ordinary key text */
	parse_s(&r, "a=1\n\xef\xbb\xbf" "b=2\n");
	assert_null(val(&r, "b"));
	assert_string_equal(val(&r, "\xef\xbb\xbf" "b"), "2");
	done(&r);
	parse_s(&r, " \xef\xbb\xbf" "c=3\n");
	assert_null(val(&r, "c"));
	done(&r);
}

static void test_file(void **state)
{
	char path[] = "/tmp/cfg_props_test_XXXXXX";
	int fd = mkstemp(path);
	struct mg_props p;
	char *diag = NULL;
	size_t dl;
	FILE *d;
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x = 1\n", 6), 6);
	close(fd);
	mg_props_init(&p);
	d = open_memstream(&diag, &dl);
	assert_int_equal(mg_props_parse_file(&p, path, d), 0);
	assert_string_equal(mg_props_find(&p, "x")->value, "1");
	assert_string_equal(mg_props_find(&p, "x")->file, path);
	unlink(path);
	assert_int_equal(mg_props_parse_file(&p, path, d), -ENOENT);
	fclose(d);
	assert_non_null(strstr(diag, "cannot open"));
	assert_int_equal(p.errors, 1);
	mg_props_free(&p);
	free(diag);
}

static const char *fallback(void *ctx, const char *key)
{
	(void)ctx;
	if (strcmp(key, "netborder.Installation.Directory") == 0)
		return "/opt/mg";
	if (strcmp(key, "dflt.chain") == 0)
		return "${netborder.Installation.Directory}/chain";
	return NULL;
}

static int expand(const struct parsed *r, const char *v, char **out, char *err, size_t el)
{
	return mg_props_expand(&r->p, v, fallback, NULL, out, err, el);
}

static void test_expand(void **state)
{
	struct parsed r;
	char err[256], *out;
	(void)state;

	parse_s(&r, "a=A\n"
		    "b=${a}-${a}\n"
		    "c=[${b}]\n"
		    "netborder.Installation.Directory=/srv\n");
	assert_int_equal(expand(&r, "plain", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "plain");
	free(out);
	assert_int_equal(expand(&r, "", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(expand(&r, "${c}", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "[A-A]");
	free(out);
	/* a lone $ and "$x" are literal */
	assert_int_equal(expand(&r, "$5 and $a and $", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "$5 and $a and $");
	free(out);
	/* the file's value wins over the fallback */
	assert_int_equal(expand(&r, "${netborder.Installation.Directory}/etc", &out, err,
				sizeof(err)),
			 0);
	assert_string_equal(out, "/srv/etc");
	free(out);
	done(&r);

	parse_s(&r, "x=1\n");
	assert_int_equal(expand(&r, "${netborder.Installation.Directory}/etc", &out, err,
				sizeof(err)),
			 0);
	assert_string_equal(out, "/opt/mg/etc");
	free(out);
	/* fallback values are expanded too */
	assert_int_equal(expand(&r, "${dflt.chain}", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "/opt/mg/chain");
	free(out);
	done(&r);
}

static void test_expand_errors(void **state)
{
	struct parsed r;
	char err[256], *out = (char *)1;
	(void)state;

	parse_s(&r, "self=${self}\n"
		    "a=${b}\n"
		    "b=${a}\n"
		    "x=${y}\n"
		    "y=${z}\n"
		    "z=${x}\n"
		    "ok=${missing.key}\n");
	assert_int_equal(expand(&r, "${self}", &out, err, sizeof(err)), -EINVAL);
	assert_null(out);
	assert_ptr_equal(strstr(err, "expansion cycle: ${self} -> ${self} (allowed: "), err);
	assert_int_equal(expand(&r, "${a}", &out, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(strstr(err, "expansion cycle: ${a} -> ${b} -> ${a} (allowed: "), err);
	assert_int_equal(expand(&r, "v=${x}", &out, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(strstr(err, "expansion cycle: ${x} -> ${y} -> ${z} -> ${x} (allowed: "), err);
	assert_int_equal(expand(&r, "${ok}", &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "${missing.key}: undefined key"));
	assert_int_equal(expand(&r, "abc${unterminated", &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unterminated"));
	assert_int_equal(expand(&r, "${}", &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
	done(&r);

	/* a long acyclic chain deeper than the limit is refused, not recursed forever */
	char *text = malloc(64 * 40);
	size_t o = 0;
	assert_non_null(text);
	for (int i = 0; i < 40; i++)
		o += (size_t)sprintf(text + o, "k%d=${k%d}\n", i, i + 1);
	sprintf(text + o, "k40=end\n");
	parse_s(&r, text);
	free(text);
	assert_int_equal(expand(&r, "${k30}", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "end");
	free(out);
	assert_int_equal(expand(&r, "${k0}", &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nested deeper than"));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_separators),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_trailing_blanks),
		cmocka_unit_test(test_duplicate_last_wins),
		cmocka_unit_test(test_bad_unicode_escapes),
		cmocka_unit_test(test_empty_key_and_nul),
		cmocka_unit_test(test_utf8_bom),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
