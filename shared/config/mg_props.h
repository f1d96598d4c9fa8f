/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_props.h
 * @brief Java-properties reader used for gw.properties.
 *
 * Syntax (java.util.Properties.load, plus `${key}` expansion as the
 * gateway's guide uses it):
 * - a line whose first non-blank character is `#` or `!` is a comment;
 * - key and value are separated by the first unescaped `=`, `:` or
 *   blank; blanks around the separator are skipped;
 * - a line ending in an odd number of backslashes continues on the next
 *   line, whose leading blanks are skipped;
 * - escapes: `\t \n \r \f \uXXXX`, and `\c` is `c` for any other c (so
 *   `\\`, `\=`, `\:`, `\#`, `\ ` give the character itself);
 * - unlike Java, unescaped trailing blanks of a value are dropped (write
 *   `\ ` to keep one), because an invisible trailing blank in a value is
 *   almost always a typo;
 * - a key given twice: the last one wins and a warning names both lines.
 *
 * Every key remembers the file and line where its logical line started.
 */
#ifndef MG_PROPS_H
#define MG_PROPS_H

#include <stddef.h>
#include <stdio.h>

/** One key=value pair as read (escapes resolved, `${...}` not expanded). */
struct mg_prop {
	char *key;
	char *value;
	const char *file; /**< points into mg_props (shared by all keys of a file) */
	unsigned line;    /**< 1-based line where the logical line starts */
	unsigned dup_of_line; /**< line of the earlier definition it replaced, 0 if none */
};

/** A set of properties, in first-definition order. */
struct mg_props {
	struct mg_prop *v;
	size_t n;
	size_t cap;
	char **files; /**< file names owned by the set */
	size_t n_files;
	unsigned errors;   /**< syntax errors reported so far */
	unsigned warnings; /**< warnings reported so far */
};

/** Initialise an empty set. */
void mg_props_init(struct mg_props *p);

/** Free everything the set owns (the struct itself is the caller's). */
void mg_props_free(struct mg_props *p);

/**
 * Parse @p len bytes of @p text, naming it @p name in messages. Syntax
 * errors (bad `\u` escape, empty key, NUL byte) and duplicate-key warnings
 * go to @p diag as "name:line: ...". Returns 0, -EINVAL if there was a
 * syntax error (the good lines are still stored), -ENOMEM.
 */
int mg_props_parse_buf(struct mg_props *p, const char *text, size_t len, const char *name,
		       FILE *diag);

/** Read and parse a file; -errno (reported to @p diag) if it cannot be read. */
int mg_props_parse_file(struct mg_props *p, const char *path, FILE *diag);

/** Find a key (exact match); NULL if absent. */
const struct mg_prop *mg_props_find(const struct mg_props *p, const char *key);

/**
 * Called by mg_props_expand() for `${key}` not present in the set: returns
 * the raw (unexpanded) value to use, or NULL if the key is undefined.
 */
typedef const char *(*mg_props_fallback_fn)(void *ctx, const char *key);

/**
 * Expand every `${key}` in @p value, recursively, looking keys up in @p p
 * first and then through @p fallback. `$` not followed by `{` is literal.
 * On success *out is a malloc'd string and 0 is returned; on failure a
 * one-line reason (undefined key, cycle "a -> b -> a", unterminated `${`,
 * too deep) is written to @p err and -EINVAL (or -ENOMEM) returned.
 */
int mg_props_expand(const struct mg_props *p, const char *value, mg_props_fallback_fn fallback,
		    void *ctx, char **out, char *err, size_t errlen);

#endif
