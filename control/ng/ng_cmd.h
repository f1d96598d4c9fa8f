/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NG commands (SPEC §8, docs/ng.md): ping, offer, answer, delete,
 * query, list, statistics, and the rest refused with a reason. Requests
 * arrive from ng_server (any transport); flags are mapped to media_opts
 * and the work is done by the media layer (control/media). Replies follow
 * rtpengine's shapes so that Kamailio's and OpenSIPS's modules read them.
 */
#ifndef MG_NG_CMD_H
#define MG_NG_CMD_H

#include <stdbool.h>

#include <sofia-sip/su_wait.h>

#include "mg_config.h"
#include "ng_codec.h"

struct ng_req;
struct ng_server;

/* The ng_server handler (arg unused). */
void ng_cmd_handle(void *arg, struct ng_req *req, const struct ng_val *dict);

/* Start the NG listeners of @p s with ng_cmd_handle; 0 when none are
 * configured too. -errno when a listener cannot be opened. */
int ng_cmd_start(su_root_t *root, const struct mg_settings *s);
/* Close the listeners (before media_stop()). */
void ng_cmd_stop(void);

/* Counters per command, for statistics and metrics. */
struct ng_cmd_counters {
	uint64_t ping, offer, answer, delete_, query, list, statistics, other, errors, load_limit;
};
void ng_cmd_get_counters(struct ng_cmd_counters *out);
/* Deletes waiting out their delete-delay now (one per call at most). */
unsigned ng_cmd_delayed_deletes(void);

/* The transports' counters (ng_server_get_stats); false and zeros while
 * no server runs. */
struct ng_server_stats;
bool ng_cmd_get_server_stats(struct ng_server_stats *out);

#endif
