/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's TDM thread: an ordinary pthread (not a polling lcore)
 * that, while a channel is bound, wakes every 20 ms on the span clock (DAHDI
 * timer, else a host timer) and, for every bound channel (a packed list, not
 * every channel number), reads its frames, runs the channel's media work
 * (tdm_media.h) and writes one frame back. With nothing bound it sleeps on
 * an eventfd that posting a command writes.
 *
 * Rings (all rte_ring, no locks):
 *  - workers -> TDM (MP/SC "dp_tdm_rx"): decrypted RTP of a bound session leg,
 *    the mbuf itself with {session id, channel} in front of the payload;
 *  - TDM -> workers: the TDM thread builds each RTP packet as an Ethernet/
 *    IPv4/UDP frame addressed to the session's TDM-side leg, as if it had
 *    arrived there, and puts it on a worker's hand-off ring; the worker
 *    relays it out of the RTP leg like any packet of the session, which
 *    encrypts it with that leg's SRTP context (owner worker only);
 *  - main -> TDM (SP/SC) commands: bind / unbind, applied between periods.
 * Bindings are looked up by workers in an rte_hash (lock-free readers, key
 * slots recycled through the dataplane's QSBR variable).
 */
#ifndef DP_TDM_H
#define DP_TDM_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "mg_config.h"

/* Bindings installed (telemetry, orphan check); workers look a binding up
 * only for a leg TDM_BIND marked (dp_leg.tdm). */
extern volatile unsigned dp_tdm_n_bound;

/* Main lcore, after dp_dataplane_init(): rings, table, thread. 0 or -errno. */
int dp_tdm_init(const struct mg_settings *s);
/* Stop the thread, close the channels. */
void dp_tdm_fini(void);

/*
 * Worker hook (owner worker, after decryption): if leg @p leg of session
 * @p session_id carries a TDM channel, take the RTP packet in @p m (the
 * mbuf holds the RTP packet only) and return true; the mbuf is consumed.
 * RTCP (@p rtcp) of such a leg is consumed and counted: the TDM side has no
 * RTCP of its own yet.
 */
bool dp_tdm_take(uint64_t session_id, unsigned leg, bool rtcp, struct rte_mbuf *m);

#endif
