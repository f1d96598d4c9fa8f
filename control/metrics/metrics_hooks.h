/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The figures other modules hand to /metrics as they happen (latency
 * histograms), kept from the start of the process whether or not the
 * server runs. Apart from metrics.c, which depends on the call engine, the
 * media layer and NG: a module those depend on (or the call engine itself)
 * can report here without a dependency cycle. Event loop thread only.
 */
#ifndef MG_METRICS_HOOKS_H
#define MG_METRICS_HOOKS_H

#include "metrics_text.h"

/* SIP set-up time of an answered call: INVITE received to 2xx sent to
 * the caller, seconds. The call engine calls it where it counts the call
 * answered (docs/operations.md, "Metrics"). */
void metrics_observe_sip_setup(double seconds);
/* NG command latency (ng_server_set_timing_hook's signature). */
void metrics_observe_ng(const char *command, double seconds);

/* Copies of the histograms so far. */
void metrics_hooks_read(struct metrics_hist ng[METRICS_NG_CMD_COUNT], struct metrics_hist *sip);

#endif
