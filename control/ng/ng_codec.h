/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NG protocol values (rtpengine's control protocol): bencode (BEP 3) and
 * JSON decoded into one tree, built and encoded back. Every value of a
 * request lives in one arena (struct ng_doc) freed at once.
 *
 * Decoding has limits (depth, string length, item count, total size): a
 * request beyond them is refused with a precise reason, never a crash.
 * Dictionary look-up treats '-', ' ' and '_' in keys as the same
 * character ("call-id", "call id", "call_id"), as proxies send both.
 */
#ifndef MG_NG_CODEC_H
#define MG_NG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ng_type {
	NG_STR = 1,  /* byte string (bencode) or JSON string */
	NG_INT,      /* integer (JSON numbers without fraction; true/false as 1/0) */
	NG_LIST,
	NG_DICT,
};

struct ng_val {
	enum ng_type type;
	int64_t i;              /* NG_INT */
	const char *s;          /* NG_STR: bytes, always NUL-terminated after len */
	size_t len;             /* NG_STR: length; NG_LIST/NG_DICT: number of items */
	struct ng_val *child;   /* NG_LIST/NG_DICT: first item */
	struct ng_val *last;    /* NG_LIST/NG_DICT: last item (appending) */
	struct ng_val *next;    /* next item of the parent list/dict */
	const char *key;        /* item of a dict: its key (NUL-terminated) */
	size_t key_len;
};

struct ng_limits {
	unsigned max_depth;     /* [16] nesting of lists/dicts */
	size_t max_str;         /* [65536] bytes of one string */
	unsigned max_items;     /* [4096] values in the whole document */
	size_t max_input;       /* [262144] bytes of the whole input */
};

/* An arena; every value and string of a document is in it. */
struct ng_doc;
struct ng_doc *ng_doc_new(void);          /* NULL + errno on ENOMEM */
void ng_doc_free(struct ng_doc *d);       /* NULL is fine */

/*
 * Decode one complete value from @p buf (all @p len bytes must be used:
 * trailing bytes are an error). @p lim may be NULL (defaults). Returns 0
 * and *out, or -EINVAL (malformed: @p why says what and at which byte
 * offset), -E2BIG (a limit: @p why names it), -ENOMEM.
 */
int ng_bencode_decode(struct ng_doc *d, const char *buf, size_t len, const struct ng_limits *lim,
		      struct ng_val **out, char *why, size_t whylen);
/* JSON: integers within int64 are NG_INT, true/false 1/0, a number with a
 * fraction or exponent its text as NG_STR, null an absent dict item or
 * list item (a document that is null is an error); \u escapes to UTF-8,
 * lone surrogates refused. */
int ng_json_decode(struct ng_doc *d, const char *buf, size_t len, const struct ng_limits *lim,
		   struct ng_val **out, char *why, size_t whylen);
/*
 * For streams (NG over TCP, where messages follow each other with no
 * length in front): decode the one value at the start of @p buf and set
 * *used to its length; the bytes after it are the caller's. -EAGAIN: the
 * value is not complete yet (read more); -E2BIG also when the value would
 * be longer than lim->max_input; otherwise as ng_bencode_decode().
 */
int ng_bencode_decode_prefix(struct ng_doc *d, const char *buf, size_t len,
			     const struct ng_limits *lim, struct ng_val **out, size_t *used,
			     char *why, size_t whylen);

/* Builders (NULL only on ENOMEM; every function below accepts NULL values
 * and then does nothing, so a chain of builders needs one check). */
struct ng_val *ng_new_dict(struct ng_doc *d);
struct ng_val *ng_new_list(struct ng_doc *d);
struct ng_val *ng_new_str(struct ng_doc *d, const char *s);           /* copies */
struct ng_val *ng_new_strn(struct ng_doc *d, const char *s, size_t n); /* copies */
struct ng_val *ng_new_strf(struct ng_doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct ng_val *ng_new_int(struct ng_doc *d, int64_t i);
/* Append @p v to @p dict under @p key (copied); returns v. A later add
 * with the same key appends another item (encoders write both). */
struct ng_val *ng_dict_add(struct ng_doc *d, struct ng_val *dict, const char *key, struct ng_val *v);
struct ng_val *ng_list_add(struct ng_val *list, struct ng_val *v);
/* Shorthands: ng_dict_add(d, dict, key, ng_new_str/ng_new_int(...)). */
struct ng_val *ng_dict_add_str(struct ng_doc *d, struct ng_val *dict, const char *key, const char *s);
struct ng_val *ng_dict_add_int(struct ng_doc *d, struct ng_val *dict, const char *key, int64_t i);

/* Look-up: the first item whose key equals @p key, '-', ' ' and '_'
 * counting as one character and ASCII case ignored; NULL if none or
 * @p dict is not a dict. */
const struct ng_val *ng_dict_get(const struct ng_val *dict, const char *key);
/* The item's string (NUL-terminated) when it is NG_STR, else NULL. */
const char *ng_dict_str(const struct ng_val *dict, const char *key);
/* Same key equivalence, for comparing flag words from lists. */
bool ng_key_eq(const char *a, size_t alen, const char *b);

/*
 * Encode into a growing buffer. Returns 0 or -ENOMEM. The output of
 * ng_bencode_encode() sorts nothing: items go out in insertion order
 * (rtpengine does the same; bencode's sorted-key rule is not enforced by
 * any NG client). JSON strings are escaped per RFC 8259 (bytes >= 0x80
 * are copied as they are, control bytes as \u00XX).
 */
struct ng_buf {
	char *p;
	size_t len, cap;
};
int ng_bencode_encode(const struct ng_val *v, struct ng_buf *out);
int ng_json_encode(const struct ng_val *v, struct ng_buf *out);
int ng_buf_append(struct ng_buf *b, const void *p, size_t n);
void ng_buf_free(struct ng_buf *b);

#endif
