/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus metrics of mediagate (docs/operations.md, "Metrics"): HTTP
 * GET /metrics on mediagate.metrics.listen (libmicrohttpd in its external
 * epoll mode on the control plane's su_root, as the NG HTTP transport),
 * in the text exposition format.
 *
 * A scrape reads the control plane's own counters (call engine, media
 * layer, NG) at once and the dataplane's over the control socket:
 * DP_STATS, then SESSION_LIST and SESSION_STATS of every session, all
 * asynchronous: the HTTP connection waits suspended, the event loop runs
 * on. Scrapes arriving while one is reading the dataplane share its
 * result. A dataplane that does not answer in time (2 s, or 80 % of the
 * scraper's X-Prometheus-Scrape-Timeout-Seconds) does not hold the scrape:
 * it is answered with what is known and mediagate_dataplane_up 0.
 *
 * Media traffic counters stay monotonic across sessions ending: each
 * session's last counters read are kept and, once the session is gone
 * from the dataplane's list, added to a total of ended sessions (what an
 * ended session relayed after the last scrape before its end is not
 * counted: SESSION_DEL's final counters go to its owner, not here).
 */
#ifndef MG_METRICS_H
#define MG_METRICS_H

#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "dpclient.h"
#include "metrics_hooks.h"
#include "mg_config.h"

/* Listen on s->metrics_addr:metrics_port ("" = off: returns 0, no server);
 * @p dp may be NULL (no dataplane figures). @p s must stay valid until
 * metrics_stop(). 0 or -errno (the error is logged with the address). */
int metrics_start(su_root_t *root, const struct mg_settings *s, struct dpc *dp);
/* Close the listener; scrapes waiting for the dataplane are dropped. */
void metrics_stop(void);
/* The bound port (a configured 0 is the kernel's choice), 0 when off. */
uint16_t metrics_port(void);

/* metrics_observe_sip_setup(), metrics_observe_ng(): metrics_hooks.h */

#endif
