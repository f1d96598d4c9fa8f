/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The records of the state published in Redis (docs/ha-state.md, "Record
 * format"): an NG relay session (struct media_session) or a B2BUA call
 * (struct calls_state) as one JSON object, and an NG session read back.
 * Reading is the NG codec's JSON decoder with its limits (fuzzed): a
 * record that is not what this version writes is refused with a reason,
 * never half taken.
 */
#ifndef MG_HA_REC_H
#define MG_HA_REC_H

#include <stddef.h>

#include "calls.h"
#include "media.h"
#include "ng_codec.h"

#define HA_REC_VERSION 1
/* What a record may be, read back (ha_rec_read.c's decoder limits): the
 * writer builds no record beyond them (-E2BIG: not published, counted as
 * unpublished), so a record we wrote always reads back, every value whole. */
#define HA_REC_STR_MAX 65536    /* bytes of one string, below */
#define HA_REC_MAX 262144       /* bytes of the record */

/* The record of @p m into @p out (appended). 0, -ENOMEM or -E2BIG. */
int ha_rec_media(const struct media_session *m, struct ng_buf *out);

/* The record of the B2BUA call @p c into @p out (appended). 0, -ENOMEM or
 * -E2BIG (a value or the whole beyond what is read back). */
int ha_rec_call(const struct calls_state *c, struct ng_buf *out);

/* Which kind of record @p buf is: 'n' (NG session), 'c' (B2BUA call) or 0
 * (not a record of this version). */
int ha_rec_kind(const char *buf, size_t len);

/*
 * An NG session record read back: a new session (heap, as media.c
 * allocates them: parties and offered keys with malloc) for media_adopt(),
 * or NULL and @p why. Secrets are wiped from the decoder's arena.
 */
struct media_session *ha_rec_media_parse(const char *buf, size_t len, char *why, size_t wl);
/* Free a session from ha_rec_media_parse() that was not adopted. */
void ha_rec_media_free(struct media_session *m);

/*
 * A B2BUA call record read back into @p out (each leg's negotiation on the
 * heap: ha_rec_adopt_free()). 0, or -EINVAL and @p why (also for a call
 * that cannot be taken over: a PSTN leg, a leg without its dialog or
 * negotiation).
 */
int ha_rec_call_parse(const char *buf, size_t len, struct calls_adopt *out, char *why, size_t wl);
void ha_rec_adopt_free(struct calls_adopt *a);

#endif
