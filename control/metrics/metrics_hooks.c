/* SPDX-License-Identifier: BSD-3-Clause */
#include "metrics_hooks.h"

#include <stdbool.h>

static struct {
	bool init;
	struct metrics_hist ng[METRICS_NG_CMD_COUNT];
	struct metrics_hist sip;
} mh;

/* Bounds set on first use: a hook may run before anything else of ours. */
static void hooks_init(void)
{
	if (mh.init)
		return;
	for (unsigned c = 0; c < METRICS_NG_CMD_COUNT; c++) {
		mh.ng[c].bounds = metrics_ng_bounds;
		mh.ng[c].n_bounds = metrics_ng_n_bounds;
	}
	mh.sip.bounds = metrics_sip_bounds;
	mh.sip.n_bounds = metrics_sip_n_bounds;
	mh.init = true;
}

void metrics_observe_sip_setup(double seconds)
{
	hooks_init();
	metrics_hist_observe(&mh.sip, seconds);
}

void metrics_observe_ng(const char *command, double seconds)
{
	hooks_init();
	metrics_hist_observe(&mh.ng[metrics_ng_cmd_of(command)], seconds);
}

void metrics_hooks_read(struct metrics_hist ng[METRICS_NG_CMD_COUNT], struct metrics_hist *sip)
{
	hooks_init();
	for (unsigned c = 0; c < METRICS_NG_CMD_COUNT; c++)
		ng[c] = mh.ng[c];
	*sip = mh.sip;
}
