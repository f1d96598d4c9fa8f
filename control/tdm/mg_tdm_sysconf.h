/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_sysconf.h
 * @brief DAHDI's own /etc/dahdi/system.conf, read as dahdi_cfg reads it, and
 * the channel groups the gateway hunts B-channels in.
 *
 * Accepted lines (`keyword=value`, `#` starts a comment, blank lines ignored):
 * - `span=<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]`:
 *   framing d4|esf (T1, 24 channels) or cas|ccs (E1, 31 channels); coding
 *   ami|b8zs (T1) or ami|hdb3 (E1). Channel numbers are given out span by
 *   span in span order, as DAHDI does for spans registered in that order.
 * - channel lines `<kind>=<list>`, list like `1-15,17-31`: bchan, dchan,
 *   hardhdlc (PRI bearers and D-channels), and also clear, indclear, rawhdlc,
 *   fcshdlc, nethdlc, mtp2, dacs, dacsrbs, unused, cas, e&m, e&me1, fxsls,
 *   fxsgs, fxsks, fxols, fxogs, fxoks (kept, not used by the gateway).
 * - `alaw=<list>`, `mulaw=<list>`, `deflaw=<list>`: law per channel (default:
 *   A-law on E1, µ-law on T1).
 * - `echocanceller=<name>,<list>`, `loadzone=<zone>`, `defaultzone=<zone>`.
 * Any other keyword, a bad number, a channel outside every span, a channel
 * given two kinds, a defaultzone never loaded: an error naming file:line.
 */
#ifndef MG_TDM_SYSCONF_H
#define MG_TDM_SYSCONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_tdm_g711.h"
#include "mg_tdm_limits.h"

#define MG_TDM_MAX_SPANS 32
#define MG_TDM_MAX_ZONES 16
#define MG_TDM_GROUP_MAX_CHANS 32

enum mg_tdm_span_type { MG_TDM_SPAN_NONE = 0, MG_TDM_SPAN_T1, MG_TDM_SPAN_E1 };

/** Channel kinds of system.conf; only bchan/dchan/hardhdlc matter to PRI. */
enum mg_tdm_chan_kind {
	MG_TDM_KIND_NONE = 0, /**< not mentioned */
	MG_TDM_KIND_BCHAN,
	MG_TDM_KIND_DCHAN,
	MG_TDM_KIND_HARDHDLC,
	MG_TDM_KIND_OTHER,    /**< any other kind (clear, fxs..., unused) */
};

/** One span= line. */
struct mg_tdm_span_conf {
	bool defined;
	unsigned num;
	unsigned timing;       /**< 0 = never a timing source, 1 = first choice... */
	unsigned lbo;          /**< line build-out 0..7 */
	enum mg_tdm_span_type type;
	char framing[4];       /**< d4, esf, cas, ccs */
	char coding[5];        /**< ami, b8zs, hdb3 */
	bool crc4;
	bool yellow;
	unsigned first_chan;   /**< global number of timeslot 1 */
	unsigned n_chans;      /**< 24 or 31 */
	unsigned line;         /**< where it was defined */
};

/** One channel. */
struct mg_tdm_chan_conf {
	enum mg_tdm_chan_kind kind;
	char kind_name[12];    /**< keyword as written (e.g. "fxoks") */
	enum mg_law law;
	bool law_explicit;
	char echocan[16];
	unsigned span;         /**< 0 if not on a span */
	unsigned line;
};

/** A parsed system.conf. Large (~60 KiB): allocate it, do not put it on a small stack. */
struct mg_tdm_sysconf {
	struct mg_tdm_span_conf spans[MG_TDM_MAX_SPANS + 1]; /**< index = span number */
	struct mg_tdm_chan_conf chans[MG_TDM_MAX_CHANNO + 1]; /**< index = channel number */
	char zones[MG_TDM_MAX_ZONES][16];
	unsigned n_zones;
	char default_zone[16];
	unsigned n_spans;
};

/**
 * Parse system.conf text. @p name is used in messages ("name:line: ...").
 * Every problem is written to @p diag (stderr if NULL); returns 0, or
 * -EINVAL after reporting all of them.
 */
int mg_tdm_sysconf_parse(const char *text, const char *name, struct mg_tdm_sysconf *out,
			 FILE *diag);

/** Read and parse a file; -errno if it cannot be read (reported too). */
int mg_tdm_sysconf_load(const char *path, struct mg_tdm_sysconf *out, FILE *diag);

/** The D-channel of span @p span (dchan or hardhdlc), 0 if none. */
unsigned mg_tdm_sysconf_dchan(const struct mg_tdm_sysconf *sc, unsigned span);

/* ---- hunting ----------------------------------------------------------- */

/** PRI side of a span (mediagate.tdm.span.N.role). */
enum mg_tdm_role { MG_TDM_ROLE_TE = 0, MG_TDM_ROLE_NT };

/** Order in which a group offers free channels. */
enum mg_tdm_hunt { MG_TDM_HUNT_ASCENDING = 0, MG_TDM_HUNT_DESCENDING, MG_TDM_HUNT_ROUND_ROBIN };

/** B-channels of one span that calls are placed on. */
struct mg_tdm_group {
	char name[16];         /**< "span1", ... */
	unsigned span;
	unsigned dchan;
	enum mg_tdm_hunt hunt;
	unsigned chans[MG_TDM_GROUP_MAX_CHANS];
	unsigned n_chans;
	uint32_t busy;         /**< bit i: chans[i] in use */
	unsigned next;         /**< round robin position */
};

/** Parse "nt" / "te" (any case); -EINVAL otherwise. */
int mg_tdm_role_parse(const char *s, enum mg_tdm_role *out);

/**
 * Build one group per span that has B-channels, in span order, named
 * "span<N>". NT spans hunt descending and TE spans ascending (the usual
 * split that keeps both ends from seizing the same channel at once);
 * @p roles indexed by span number, NULL for all TE. Returns the count.
 */
unsigned mg_tdm_groups_build(const struct mg_tdm_sysconf *sc, const enum mg_tdm_role *roles,
			     struct mg_tdm_group *out, unsigned max);

/** Find a group by name, NULL if none. */
struct mg_tdm_group *mg_tdm_group_find(struct mg_tdm_group *groups, unsigned n, const char *name);

/** Take a free channel in hunt order: 0 and *chan, or -EBUSY when all are in use. */
int mg_tdm_group_hunt(struct mg_tdm_group *g, unsigned *chan);

/** Take a given channel (the far end chose it): -ENOENT not in group, -EBUSY in use. */
int mg_tdm_group_claim(struct mg_tdm_group *g, unsigned chan);

/** Give a channel back: -ENOENT not in group, -EALREADY not in use. */
int mg_tdm_group_release(struct mg_tdm_group *g, unsigned chan);

#endif
