/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator's socket of the control plane (mgctl, docs/operations.md
 * "mgctl"): AF_UNIX stream at mediagate.control.cliSocket, file mode 0660,
 * peers checked by SO_PEERCRED against mediagate.control.allowedUids (root
 * and the daemon's own uid always). One JSON object per line each way:
 *
 *   -> {"command": "calls list"}
 *   <- {"result": "ok", "calls": [...]}
 *   <- {"result": "error", "error-reason": "..."}
 *
 * Requests of one connection are answered in order, one at a time.
 */
#ifndef MG_CLI_H
#define MG_CLI_H

#include <stdbool.h>

#include <sofia-sip/su_wait.h>

#include "dpclient.h"
#include "mg_config.h"
#include "ng_codec.h"

/* Listen on s->cli_socket; -errno (logged) when it cannot. */
int cli_start(su_root_t *root, const struct mg_settings *s, struct dpc *dp);
/* Close the socket and every connection (before media_stop()). */
void cli_stop(void);
/* A reloaded configuration: the uids allowed from now on. */
void cli_reload(const struct mg_settings *s);

/* ---- between cli_sock.c (transport) and cli_cmd.c (commands) ---- */

struct cli_req;
/* The arena of the request: build the reply in it. */
struct ng_doc *cli_req_doc(struct cli_req *r);
/* Send @p reply (a dict; NULL = out of memory) and release the request.
 * Exactly once per request, now or later from the event loop. */
void cli_req_reply(struct cli_req *r, const struct ng_val *reply);

/* Run the command of @p dict (a dict with "command"). */
void cli_cmd_handle(struct cli_req *r, const struct ng_val *dict);
void cli_cmd_start(su_root_t *root, struct dpc *dp);
void cli_cmd_stop(void);

#endif
