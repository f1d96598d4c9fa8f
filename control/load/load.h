/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admission by measured load (SPEC §12, docs/reliability.md), one verdict
 * for both front ends (the SIP call engine and the NG control API) before
 * a NEW call or session is taken on: a token bucket on the rate of new
 * calls (mediagate.calls.maxRate) and shedding while the event loop runs
 * late (mediagate.calls.maxLoopLagMs: a 10 ms su_timer measures how late
 * it fires, and how long the oldest datagram has waited in the SIP UDP
 * sockets' receive queues (load_rxq.h); the worst of the last 100 ms counts). What is already
 * admitted never asks: re-INVITEs, answers, deletes, BYEs go on.
 */
#ifndef MG_LOAD_H
#define MG_LOAD_H

#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "mg_config.h"

enum load_verdict {
	LOAD_OK = 0,
	LOAD_RATE,  /* over mediagate.calls.maxRate */
	LOAD_LAG,   /* the event loop lags over mediagate.calls.maxLoopLagMs */
};

/* Start the lag tick on @p root; limits from @p s. 0 or -errno. */
int load_start(su_root_t *root, const struct mg_settings *s);
void load_reload(const struct mg_settings *s);
void load_stop(void);

/* May one more new call be taken now? LOAD_OK takes a token. */
enum load_verdict load_admit(void);
/* Text for a refusal (SIP Warning, NG "message"): never NULL. */
const char *load_reason(enum load_verdict v);

struct load_counters {
	uint64_t admitted, refused_rate, refused_lag;
	unsigned lag_ms;      /* the worst lateness of the last window */
	unsigned lag_max_ms;  /* the worst timer lateness ever seen */
	unsigned rxq_ms;      /* the longest SIP receive-queue wait of the last window */
	unsigned rxq_max_ms;  /* the longest ever seen */
};
void load_get_counters(struct load_counters *out);

#endif
