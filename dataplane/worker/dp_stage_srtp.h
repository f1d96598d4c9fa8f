/* SPDX-License-Identifier: BSD-3-Clause */
/* Stages 3 (decrypt) and 5 (encrypt toward the other leg). */
#ifndef DP_STAGE_SRTP_H
#define DP_STAGE_SRTP_H

#include "dp_worker_rt.h"

static inline uint8_t srtp_to_drop(uint8_t r)
{
	switch (r) {
	case MG_SRTP_AUTH_FAIL:
		return MG_DROP_AUTH;
	case MG_SRTP_REPLAY:
		return MG_DROP_REPLAY;
	case MG_SRTP_LIFETIME:
		return MG_DROP_KEY_EXPIRED;
	case MG_SRTP_UNKNOWN_MKI:
		return MG_DROP_MKI;
	case MG_SRTP_TOO_SHORT:
	case MG_SRTP_BAD_VERSION:
	case MG_SRTP_MALFORMED:
		return MG_DROP_MALFORMED;
	default:
		return MG_DROP_OTHER;
	}
}

typedef unsigned (*srtp_multi_fn)(struct mg_srtp_engine *, struct mg_srtp_ctx *const *,
				  struct mg_srtp_buf *, uint8_t *, unsigned);

/*
 * One SRTP pass over the jobs that need it, in at most two engine calls (RTP
 * and RTCP): the _multi calls take one context per packet, so packets of
 * different sessions fill the multi-buffer lanes together. Packets of one
 * context keep their order.
 */
static inline void stage_srtp(struct dp_worker *w, struct job *jobs, unsigned nj, bool outbound)
{
	struct mg_srtp_ctx *ctxs[BURST];
	struct mg_srtp_buf bufs[BURST];
	uint8_t res[BURST];
	unsigned idx[BURST];

	for (unsigned rtcp = 0; rtcp < 2; rtcp++) {
		unsigned n = 0;

		for (unsigned k = 0; k < nj; k++) {
			struct job *j = &jobs[k];
			struct mg_srtp_ctx *c;

			if (!j->ok || j->rtcp != rtcp)
				continue;
			c = outbound ? j->s->leg[j->leg ^ 1].tx_ctx : j->s->leg[j->leg].rx_ctx;
			if (c == NULL)
				continue;
			struct rte_mbuf *m = j->m;

			ctxs[n] = c;
			bufs[n].buf = rte_pktmbuf_mtod(m, uint8_t *);
			bufs[n].len = (uint16_t)m->data_len;
			bufs[n].cap = (uint16_t)(m->data_len + rte_pktmbuf_tailroom(m));
			idx[n++] = k;
		}
		if (n == 0)
			continue;
		srtp_multi_fn fn = outbound ? (rtcp ? mg_srtp_protect_rtcp_burst_multi
						    : mg_srtp_protect_burst_multi)
					    : (rtcp ? mg_srtp_unprotect_rtcp_burst_multi
						    : mg_srtp_unprotect_burst_multi);
		fn(w->eng, ctxs, bufs, res, n);
		for (unsigned q = 0; q < n; q++) {
			struct job *jq = &jobs[idx[q]];
			struct rte_mbuf *m = jq->m;

			if (res[q] != MG_SRTP_OK) {
				uint8_t r = srtp_to_drop(res[q]);

				if (outbound)
					sess_drop_tx(w, jq->s->stats, jq->leg ^ 1, r);
				else
					sess_drop_rx(w, jq->s->stats, jq->leg, r);
				jq->ok = 0;
				rte_pktmbuf_free(m);
				if (jq->raw != NULL) {
					rte_pktmbuf_free(jq->raw);
					jq->raw = NULL;
				}
				continue;
			}
			/* the engine worked in place; tell the mbuf the new length */
			m->data_len = bufs[q].len;
			m->pkt_len = bufs[q].len;
		}
	}
}

#endif
