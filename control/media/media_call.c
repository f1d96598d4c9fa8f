/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The media of a B2BUA call in the dataplane (media_call.h): ports, the
 * session, the B-channel binding, and their removal. docs/calls.md,
 * docs/tdm-media.md.
 */
#include "media_call.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mg_log.h"
#include "sdp_leg.h"

void media_call_init(struct media_call *mc, unsigned call_id, uint64_t sess_id,
		     const struct media_call_ops *ops, void *arg)
{
	memset(mc, 0, sizeof(*mc));
	mc->call_id = call_id;
	mc->sess.id = sess_id;
	mc->ops = ops;
	mc->arg = arg;
}

uint16_t media_call_port(const struct media_call *mc, unsigned li)
{
	return mc->leg[li].port.local.port;
}

bool media_call_installed(const struct media_call *mc)
{
	return mc->installed;
}

bool media_call_bound(const struct media_call *mc, unsigned li)
{
	return mc->leg[li].bound;
}

bool media_call_busy(const struct media_call *mc)
{
	return mc->pending > 0;
}

bool media_call_holds(const struct media_call *mc)
{
	return mc->installed || mc->leg[0].port_ok || mc->leg[1].port_ok;
}

/* A reply while the call ends: go on removing; tell the owner once
 * nothing is left in flight (it may free @mc: touch nothing after). */
static void ending_step(struct media_call *mc)
{
	media_call_release(mc);
	if (mc->pending == 0)
		mc->ops->idle(mc->arg);
}

/* ---------------------------------------------------------------- ports */

static void port_reply(struct media_call *mc, unsigned li, int result, const void *body)
{
	mc->pending--;
	if (result == 0 && body != NULL) {
		mc->leg[li].port = *(const struct mg_msg_port *)body;
		mc->leg[li].port_ok = true;
	}
	if (mc->ending) {
		if (mc->pending == 0)
			mc->ops->idle(mc->arg);
		return;
	}
	if (result < 0) {
		char why[160];

		snprintf(why, sizeof(why), "dataplane: no media port: %s", strerror(-result));
		mc->ops->failed(mc->arg, 503, why);
		return;
	}
	mc->ops->port(mc->arg, result);
}

static void on_port0_reply(void *arg, int result, const void *body)
{
	port_reply(arg, 0, result, body);
}

static void on_port1_reply(void *arg, int result, const void *body)
{
	port_reply(arg, 1, result, body);
}

void media_call_ports(struct media_call *mc, const char *local_ip0, const char *local_ip1)
{
	for (unsigned li = 0; li < 2; li++) {
		int64_t id = media_dp_port_alloc(li == 0 ? local_ip0 : local_ip1,
						 li == 0 ? on_port0_reply : on_port1_reply, mc);

		if (id < 0) {
			char why[160];

			snprintf(why, sizeof(why), "dataplane: %s", strerror((int)-id));
			mc->ops->failed(mc->arg, 503, why);
			return;
		}
		mc->pending++;
	}
}

/* ------------------------------------------------------------ candidates */

void media_call_candidate(struct media_call *mc, const struct sdp_result *r)
{
	struct mg_msg_addr ad;

	if (r->remote_family != AF_INET || mc->n_cand >= MG_PROTO_MAX_CANDIDATES ||
	    mg_proto_addr_parse(r->remote_addr, &ad) < 0)
		return;
	ad.port = r->remote_rtp_port;
	for (unsigned i = 0; i < mc->n_cand; i++)
		if (memcmp(&mc->cand[i], &ad, sizeof(ad)) == 0)
			return;
	mc->cand[mc->n_cand++] = ad;
}

/* ------------------------------------------------------------- session */

bool media_call_neg_differs(const struct sdp_result *x, const struct sdp_result *y)
{
	struct mg_msg_leg lx, ly;

	memset(&lx, 0, sizeof(lx));
	memset(&ly, 0, sizeof(ly));
	if (sdp_result_to_leg(x, &lx) < 0 || sdp_result_to_leg(y, &ly) < 0)
		return true;
	lx.rx.flags = ly.rx.flags = lx.tx.flags = ly.tx.flags = 0;
	return memcmp(&lx, &ly, sizeof(lx)) != 0 || x->dir != y->dir || x->hold != y->hold ||
	       y->rekey;
}

/* One leg of the session from the call's view. */
static int session_leg(const struct media_call *mc, const struct media_call_view *v, unsigned li,
		       struct mg_msg_leg *l)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->local = mc->leg[li].port.local;
	if (v->tdm[li]) {
		/* The TDM side (docs/tdm-media.md): our port, plain, latching;
		 * the dataplane's TDM thread injects its packets there. */
		l->source_policy = MG_SOURCE_LATCH;
		return 0;
	}
	/* Remote side, rtcp-mux and keys (the call's policy negotiates with
	 * max_keys = 1, the one key per direction the wire carries; the ROC
	 * reset flags of a re-key are cut by media_dp_session_put()). */
	rc = sdp_result_to_leg(v->neg[li], l);
	if (rc < 0)
		return rc;
	l->source_policy = v->lock_on_sdp ? MG_SOURCE_STRICT : MG_SOURCE_LATCH;
	if (mc->standby)
		l->flags |= MG_LEG_F_BLOCK;
	if (v->media_handover)
		l->flags |= MG_LEG_F_HANDOVER;
	/* RFC 3960: every address an 18x named stays an allowed source of the
	 * callee's leg; the first that sends wins (the dataplane then sends to
	 * it). Until the final answer, early media goes to the first known
	 * source (SPEC 5), not to the fork that answered last: that one becomes
	 * a candidate like the others. */
	if (li == 1) {
		struct mg_msg_addr latest = l->remote;
		bool first = false;

		if (v->lock_on_sdp && !v->callee_answered && mc->n_cand > 1 &&
		    (mc->cand[0].port != l->remote.port ||
		     memcmp(mc->cand[0].addr, l->remote.addr, 16) != 0)) {
			l->remote = mc->cand[0];
			l->remote_rtcp_port = 0; /* its RTP port + 1 (or the same with mux) */
			first = true;
		}
		if (first)
			l->candidates[l->n_candidates++] = latest;
		for (unsigned i = 0; i < mc->n_cand && l->n_candidates < MG_PROTO_MAX_CANDIDATES; i++) {
			if ((mc->cand[i].port == l->remote.port &&
			     memcmp(mc->cand[i].addr, l->remote.addr, 16) == 0) ||
			    (first && mc->cand[i].port == latest.port &&
			     memcmp(mc->cand[i].addr, latest.addr, 16) == 0))
				continue;
			l->candidates[l->n_candidates++] = mc->cand[i];
		}
	}
	return 0;
}

static void on_bind_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;
	unsigned pl = mc->leg[0].channo != 0 ? 0 : 1; /* bind_tdm() set only its leg's */

	(void)body;
	mc->pending--;
	if (result == 0 || result == -ENOTCONN || result == -ETIMEDOUT)
		mc->leg[pl].bound = true; /* unbound (or retried) at the end */
	if (mc->ending) {
		ending_step(mc);
		return;
	}
	if (result == -ENOTCONN && media_dp_restart_wait() > 0) {
		mc->leg[pl].bound = false; /* bound again at the re-install */
		mc->lost_push = true;
		return;
	}
	if (result < 0) {
		char why[160];

		snprintf(why, sizeof(why), "dataplane refused TDM_BIND of channel %u: %s", mc->leg[pl].channo,
			 strerror(-result));
		mc->ops->failed(mc->arg, 503, why);
		return;
	}
	MG_INFO("call %u: channel %u bound to session %llu", mc->call_id, mc->leg[pl].channo,
		(unsigned long long)mc->sess.id);
	mc->ops->installed(mc->arg);
}

/* Bind the PSTN leg's B-channel to the session, once (docs/tdm-media.md).
 * True if a request went out or the call failed. */
static bool bind_tdm(struct media_call *mc, const struct media_call_view *v)
{
	unsigned pl = v->tdm[0] ? 0 : v->tdm[1] ? 1 : 2;
	const struct sdp_result *n;
	struct mg_msg_tdm_bind b;
	int64_t id;

	if (pl == 2 || mc->leg[pl].bound)
		return false;
	n = v->neg[pl ^ 1];
	memset(&b, 0, sizeof(b));
	b.session_id = mc->sess.id;
	b.channo = v->channo[pl];
	b.leg = (uint8_t)(pl ^ 1); /* the leg facing the RTP peer */
	b.law = n->n_pts > 0 && strcasecmp(n->pts[0].name, "PCMA") == 0 ? 1 : 0;
	b.pt = n->n_pts > 0 ? n->pts[0].pt : 0;
	b.event_pt = n->telephone_event_pt >= 96 && n->telephone_event_pt <= 127 ?
			     (uint8_t)n->telephone_event_pt : 0;
	b.ssrc = (uint32_t)random() ^ (uint32_t)mc->sess.id;
	/* which leg's channel the reply is about: the one not yet bound */
	mc->leg[pl].channo = b.channo;
	mc->leg[pl ^ 1].channo = 0;
	id = media_dp_tdm_bind(&b, on_bind_reply, mc);
	if (id < 0) {
		char why[160];

		snprintf(why, sizeof(why), "dataplane: TDM_BIND: %s", strerror((int)-id));
		mc->ops->failed(mc->arg, 503, why);
		return true;
	}
	mc->pending++;
	return true;
}

static void on_session_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;
	struct media_call_view v;

	(void)body;
	mc->pending--;
	mc->busy = false;
	/* No answer: the dataplane may have installed it; a DEL costs nothing. */
	if (result == 0 || result == -ENOTCONN || result == -ETIMEDOUT)
		mc->installed = true;
	if (mc->ending) {
		ending_step(mc);
		return;
	}
	if (result == -ENOTCONN && media_dp_restart_wait() > 0) {
		/* the connection is lost: pushed again once it is back */
		mc->lost_push = true;
		mc->again = false;
		return;
	}
	if (result < 0) {
		char why[160];

		snprintf(why, sizeof(why), "dataplane refused the media session: %s", strerror(-result));
		mc->ops->failed(mc->arg, 503, why);
		return;
	}
	mc->installed = true;
	if (mc->again) {
		/* A later 18x/2xx or re-INVITE changed the session meanwhile. */
		mc->again = false;
		media_call_push(mc, -1);
		return;
	}
	memset(&v, 0, sizeof(v));
	mc->ops->view(mc->arg, &v);
	if (bind_tdm(mc, &v))
		return; /* installed once the channel is bound */
	mc->ops->installed(mc->arg);
}

void media_call_push(struct media_call *mc, int rekey_leg)
{
	struct media_call_view v;
	struct mg_msg_session m;
	unsigned rekey;
	int64_t id;

	if (rekey_leg >= 0) {
		mc->rekey_mask |= 1u << rekey_leg;
		/* new keys: the indexes read under the old ones are void */
		memset(mc->ix[rekey_leg], 0, sizeof(mc->ix[rekey_leg]));
	}
	if (mc->lost || mc->reinst) {
		/* the re-install sends the newest state */
		mc->lost_push = true;
		return;
	}
	/* One request at a time per session: a second ADD would be refused,
	 * and MODIFYs must reach the dataplane in order. */
	if (mc->busy) {
		mc->again = true;
		return;
	}
	rekey = mc->rekey_mask;
	mc->rekey_mask = 0;
	if (mc->promote)
		rekey = 3;
	memset(&v, 0, sizeof(v));
	mc->ops->view(mc->arg, &v);
	memset(&m, 0, sizeof(m));
	if (session_leg(mc, &v, 0, &m.legs[0]) < 0 || session_leg(mc, &v, 1, &m.legs[1]) < 0) {
		explicit_bzero(&m, sizeof(m));
		mc->ops->failed(mc->arg, 500, "negotiated keys do not fit the dataplane");
		return;
	}
	for (unsigned li = 0; li < 2; li++)
		if (!(rekey & (1u << li))) {
			/* The ROC restarts only at the push that follows the re-key. */
			m.legs[li].rx.flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
			m.legs[li].tx.flags &= (uint8_t)~MG_CRYPTO_F_ROC_RESET;
		}
	if (mc->promote) {
		/* a standby's call takes over: every context from the record's
		 * indexes (the relay passes sequence numbers through) */
		mc->promote = false;
		media_dp_index_apply(&m, mc->ix);
		for (unsigned li = 0; li < 2; li++) {
			if (m.legs[li].rx.suite != MG_SRTP_SUITE_NONE)
				m.legs[li].rx.flags |= MG_CRYPTO_F_ROC_RESET;
			if (m.legs[li].tx.suite != MG_SRTP_SUITE_NONE)
				m.legs[li].tx.flags |= MG_CRYPTO_F_ROC_RESET;
		}
	}
	{
		char a0[64], a1[64];

		MG_INFO("call %u: %s %llu%s: caller %s %s, callee %s %s, %u extra source%s%s%s", mc->call_id,
			mc->installed ? "SESSION_MODIFY" : "SESSION_ADD", (unsigned long long)mc->sess.id,
			v.early ? " (early media)" : "",
			v.tdm[0] ? "TDM" : mg_proto_addr_str(&m.legs[0].remote, a0, sizeof(a0)),
			v.tdm[0] ? "channel" : v.neg[0]->srtp ? "SRTP" : "RTP",
			v.tdm[1] ? "TDM" : mg_proto_addr_str(&m.legs[1].remote, a1, sizeof(a1)),
			v.tdm[1] ? "channel" : v.neg[1]->srtp ? "SRTP" : "RTP", m.legs[1].n_candidates,
			m.legs[1].n_candidates == 1 ? "" : "s",
			(m.legs[0].rx.flags | m.legs[1].rx.flags) & MG_CRYPTO_F_ROC_RESET ? ", rx ROC reset" : "",
			(m.legs[0].tx.flags | m.legs[1].tx.flags) & MG_CRYPTO_F_ROC_RESET ? ", tx ROC reset" : "");
	}
	id = media_dp_session_put(&mc->sess, &m, rekey, on_session_reply, mc);
	explicit_bzero(&m, sizeof(m));
	if (id < 0) {
		char why[160];

		snprintf(why, sizeof(why), "dataplane: %s%s%s", strerror((int)-id), id == -EINVAL ? ": " : "",
			 id == -EINVAL ? mg_proto_last_error() : "");
		mc->ops->failed(mc->arg, 503, why);
		return;
	}
	mc->pending++;
	mc->busy = true;
}

/* --------------------------------------------------------------- stats */

/*
 * The indexes read: kept, and ix_moved set when the call's record must be
 * written again (media_dp_index_moved(): a ROC moved, a sequence number
 * entered another quarter). Not when the first indexes come in at ROC 0: a
 * standby's estimate from none is ROC 0, right until a wrap, which a
 * quarter move publishes; a short call stays at two writes.
 */
static void index_take(struct media_call *mc, const struct mg_msg_session_stats *st)
{
	struct media_dp_index was[2][2];
	bool known = false; /* an index was known, or a ROC is past 0 */

	memcpy(was, mc->ix, sizeof(was));
	media_dp_index_take(mc->ix, st);
	for (unsigned li = 0; li < 2; li++)
		for (unsigned d = 0; d < 2; d++)
			known = known || was[li][d].valid || (mc->ix[li][d].valid && mc->ix[li][d].roc > 0);
	mc->ix_moved = known && media_dp_index_moved(was, mc->ix);
}

static void on_stats_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;

	mc->pending--;
	mc->stats_busy = false;
	if (mc->ending) {
		ending_step(mc);
		return;
	}
	if (result < 0 || body == NULL)
		return;
	index_take(mc, body);
	mc->ops->stats(mc->arg, body);
}

int media_call_stats(struct media_call *mc)
{
	int64_t id;

	if (!mc->installed || mc->stats_busy || mc->ending || mc->lost || mc->reinst)
		return -EBUSY;
	id = media_dp_session_stats(&mc->sess, on_stats_reply, mc);
	if (id < 0)
		return (int)id;
	mc->pending++;
	mc->stats_busy = true;
	return 0;
}

/* ------------------------------------------------------------ removal */

static void on_del_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;
	const struct mg_msg_session_stats *st = body;

	mc->pending--;
	if (result == 0 && st != NULL) {
		char drops[256] = "";
		size_t n = 0;

		for (unsigned li = 0; li < 2; li++)
			for (unsigned d = 0; d < 2; d++)
				for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
					if (st->legs[li][d].drops[r] && n < sizeof(drops))
						n += (size_t)snprintf(drops + n, sizeof(drops) - n,
								      " leg%u.%s.%s=%llu", li,
								      d ? "tx" : "rx", mg_proto_drop_name(r),
								      (unsigned long long)st->legs[li][d].drops[r]);
		MG_INFO("call %u: session %llu removed: caller->gw %llu, gw->callee %llu, "
			"callee->gw %llu, gw->caller %llu packets; drops:%s",
			mc->call_id, (unsigned long long)mc->sess.id,
			(unsigned long long)st->legs[0][0].packets,
			(unsigned long long)st->legs[1][1].packets,
			(unsigned long long)st->legs[1][0].packets,
			(unsigned long long)st->legs[0][1].packets, drops[0] ? drops : " none");
	} else if (result < 0 && result != -ENOTCONN && result != -ECANCELED) {
		MG_WARN("call %u: SESSION_DEL %llu: %s", mc->call_id, (unsigned long long)mc->sess.id,
			strerror(-result));
	}
	if (result != -ENOTCONN && result != -ETIMEDOUT)
		mc->installed = false; /* else the DEL is retried when the connection is back */
	ending_step(mc);
}

static void on_free_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;

	(void)body;
	if (result < 0 && result != -ENOTCONN && result != -ECANCELED)
		MG_WARN("call %u: PORT_FREE: %s", mc->call_id, strerror(-result));
	mc->pending--;
	if (mc->pending == 0)
		mc->ops->idle(mc->arg);
}

static void on_unbind_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;
	const struct mg_msg_tdm_stats *st = body;

	mc->pending--;
	if (result == 0 && st != NULL)
		MG_INFO("call %u: channel %u unbound: %llu frames from TDM, %llu RTP out, %llu RTP in, "
			"%llu frames to TDM, %llu concealed, %llu drops", mc->call_id, st->channo,
			(unsigned long long)st->tdm_frames_in, (unsigned long long)st->rtp_audio_out,
			(unsigned long long)st->rtp_in, (unsigned long long)st->tdm_frames_out,
			(unsigned long long)st->concealed, (unsigned long long)st->drops);
	ending_step(mc);
}

void media_call_lost(struct media_call *mc)
{
	struct media_dp_leftover o;

	if (mc->pending > 0)
		return;
	memset(&o, 0, sizeof(o));
	if (mc->installed)
		o.sess[0] = mc->sess.id;
	for (unsigned li = 0; li < 2; li++) {
		if (mc->leg[li].bound)
			o.channo[li] = mc->leg[li].channo;
		o.port[li] = mc->leg[li].port;
		o.port_ok[li] = mc->leg[li].port_ok;
		mc->leg[li].bound = false;
		mc->leg[li].port_ok = false;
	}
	mc->installed = false;
	media_dp_orphan(&o);
}

void media_call_release(struct media_call *mc)
{
	mc->ending = true;
	if (mc->pending > 0)
		return;
	if (!media_dp_up()) {
		media_call_lost(mc);
		return;
	}
	/* SESSION_DEL does not unbind a channel (docs/tdm-media.md). */
	for (unsigned li = 0; li < 2; li++) {
		struct media_call_leg *g = &mc->leg[li];

		if (!g->bound)
			continue;
		g->bound = false;
		if (media_dp_tdm_unbind(g->channo, on_unbind_reply, mc) > 0) {
			mc->pending++;
			return;
		}
	}
	if (mc->installed && media_dp_session_del(&mc->sess, on_del_reply, mc) > 0) {
		mc->pending++;
		return;
	}
	mc->installed = false;
	for (unsigned li = 0; li < 2; li++) {
		struct media_call_leg *g = &mc->leg[li];

		if (!g->port_ok)
			continue;
		g->port_ok = false;
		if (media_dp_port_free(&g->port, on_free_reply, mc) > 0)
			mc->pending++;
	}
}

void media_call_abandon(struct media_call *mc)
{
	if (mc->pending > 0)
		media_dp_cancel(mc);
	mc->pending = 0;
	mc->installed = false;
	mc->leg[0].port_ok = mc->leg[1].port_ok = false;
	mc->ending = true;
}

/* ------------------------------------------------- dataplane restart */

/* Re-install steps (mc->reinst): docs/reliability.md, "Dataplane restart". */
enum { RI_NONE, RI_PORTS, RI_SESSION, RI_BIND };

bool media_call_suspend(struct media_call *mc)
{
	if (mc->ending || !mc->leg[0].port_ok || !mc->leg[1].port_ok || media_dp_restart_wait() == 0)
		return false;
	mc->lost = true;
	mc->reinst = RI_NONE;
	return true;
}

bool media_call_suspended(const struct media_call *mc)
{
	return mc->lost || mc->reinst != RI_NONE;
}

static void reinst_fail(struct media_call *mc, const char *step, int result)
{
	char why[160];

	mc->reinst = RI_NONE;
	snprintf(why, sizeof(why), "dataplane restarted: re-install (%s): %s", step, strerror(-result));
	mc->ops->failed(mc->arg, 503, why);
}

/* The connection went again during the re-install: wait for the next. */
static bool reinst_lost(struct media_call *mc, int result)
{
	if (result != -ENOTCONN)
		return false;
	mc->reinst = RI_NONE;
	mc->lost = true;
	return true;
}

static void reinst_done(struct media_call *mc)
{
	bool told = mc->lost_push;

	mc->reinst = RI_NONE;
	mc->lost = false;
	mc->lost_push = false;
	MG_INFO("call %u: session %llu re-installed in the dataplane", mc->call_id,
		(unsigned long long)mc->sess.id);
	if (mc->promote) {
		/* a standby's call promoted while its blocked ADD was in flight */
		media_call_push(mc, -1);
		return;
	}
	if (told)
		mc->ops->installed(mc->arg);
}

static void reinst_session(struct media_call *mc);

static void on_reinst_bind_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;
	unsigned pl = mc->leg[0].channo != 0 ? 0 : 1;

	(void)body;
	mc->pending--;
	if (result == 0)
		mc->leg[pl].bound = true;
	if (mc->ending) {
		mc->reinst = RI_NONE;
		ending_step(mc);
		return;
	}
	if (reinst_lost(mc, result))
		return;
	if (result < 0)
		return reinst_fail(mc, "TDM_BIND", result);
	reinst_done(mc);
}

static void on_reinst_session_reply(void *arg, int result, const void *body)
{
	struct media_call *mc = arg;
	struct media_call_view v;
	unsigned pl;

	(void)body;
	mc->pending--;
	if (result == 0 || result == -ENOTCONN || result == -ETIMEDOUT)
		mc->installed = true;
	if (mc->ending) {
		mc->reinst = RI_NONE;
		ending_step(mc);
		return;
	}
	if (reinst_lost(mc, result))
		return;
	if (mc->adopted) {
		/* read back at start: kept only if the dataplane held it all
		 * (the owner sees adopted still set in ops->failed) */
		if (result != -EEXIST || mc->adopt_port_new[0] || mc->adopt_port_new[1]) {
			if (result == -EEXIST)
				mc->installed = true;
			/* a port it held is another session's now: not ours to free */
			for (unsigned li = 0; li < 2; li++)
				if (!mc->adopt_port_new[li])
					mc->leg[li].port_ok = false;
			mc->reinst = RI_NONE;
			mc->lost = false;
			mc->ops->failed(mc->arg, 503, "read back from Redis, but the dataplane no longer holds "
				       "its media");
			mc->adopted = false;
			return;
		}
		/* held: the owner hears it (ops->installed) once the state is set */
		mc->adopted = false;
		mc->lost_push = true;
	}
	if (result == -EEXIST) {
		/* a dataplane that survived the lost connection kept it all */
		mc->installed = true;
		mc->reinst = RI_NONE;
		mc->lost = false;
		MG_INFO("call %u: session %llu still in the dataplane", mc->call_id,
			(unsigned long long)mc->sess.id);
		if (mc->lost_push) {
			mc->lost_push = false;
			media_call_push(mc, -1); /* MODIFY with what changed meanwhile */
		}
		return;
	}
	if (result < 0)
		return reinst_fail(mc, "SESSION_ADD", result);
	memset(&v, 0, sizeof(v));
	mc->ops->view(mc->arg, &v);
	pl = v.tdm[0] ? 0 : v.tdm[1] ? 1 : 2;
	if (pl != 2 && mc->leg[pl].channo != 0) {
		struct mg_msg_tdm_bind b;
		const struct sdp_result *n = v.neg[pl ^ 1];
		int64_t id;

		memset(&b, 0, sizeof(b));
		b.session_id = mc->sess.id;
		b.channo = mc->leg[pl].channo;
		b.leg = (uint8_t)(pl ^ 1);
		b.law = n->n_pts > 0 && strcasecmp(n->pts[0].name, "PCMA") == 0 ? 1 : 0;
		b.pt = n->n_pts > 0 ? n->pts[0].pt : 0;
		b.event_pt = n->telephone_event_pt >= 96 && n->telephone_event_pt <= 127 ?
				     (uint8_t)n->telephone_event_pt : 0;
		b.ssrc = (uint32_t)random() ^ (uint32_t)mc->sess.id;
		mc->leg[pl ^ 1].channo = 0;
		mc->leg[pl].bound = false;
		id = media_dp_tdm_bind(&b, on_reinst_bind_reply, mc);
		if (id < 0) {
			reinst_fail(mc, "TDM_BIND", (int)id);
			return;
		}
		mc->reinst = RI_BIND;
		mc->pending++;
		return;
	}
	reinst_done(mc);
}

static void reinst_session(struct media_call *mc)
{
	struct media_call_view v;
	struct mg_msg_session m;
	int64_t id;

	if (!mc->installed && !mc->lost_push) {
		reinst_done(mc); /* nothing was pushed yet: the ports are all */
		return;
	}
	memset(&v, 0, sizeof(v));
	mc->ops->view(mc->arg, &v);
	memset(&m, 0, sizeof(m));
	if (session_leg(mc, &v, 0, &m.legs[0]) < 0 || session_leg(mc, &v, 1, &m.legs[1]) < 0) {
		explicit_bzero(&m, sizeof(m));
		mc->reinst = RI_NONE;
		mc->ops->failed(mc->arg, 500, "negotiated keys do not fit the dataplane");
		return;
	}
	media_dp_index_apply(&m, mc->ix);
	MG_INFO("call %u: SESSION_ADD %llu again (dataplane back; ports %u/%u, caller rx/tx ROC %u/%u, "
		"callee rx/tx ROC %u/%u)", mc->call_id, (unsigned long long)mc->sess.id,
		mc->leg[0].port.local.port, mc->leg[1].port.local.port, m.legs[0].rx.roc, m.legs[0].tx.roc,
		m.legs[1].rx.roc, m.legs[1].tx.roc);
	mc->sess.on = false; /* ADD: a new dataplane installs it, one that kept it says EEXIST */
	mc->rekey_mask = 0;
	id = media_dp_session_put(&mc->sess, &m, 0, on_reinst_session_reply, mc);
	explicit_bzero(&m, sizeof(m));
	if (id < 0) {
		if (!reinst_lost(mc, (int)id))
			reinst_fail(mc, "SESSION_ADD", (int)id);
		return;
	}
	mc->reinst = RI_SESSION;
	mc->pending++;
}

static void port_taken(struct media_call *mc, unsigned li, int result, const void *body)
{
	mc->pending--;
	if (result == 0 && body != NULL)
		mc->leg[li].port = *(const struct mg_msg_port *)body;
	if (mc->ending) {
		mc->reinst = RI_NONE;
		if (result == 0)
			mc->leg[li].port_ok = true;
		if (mc->pending == 0)
			ending_step(mc);
		return;
	}
	if (mc->adopted && result == 0)
		mc->adopt_port_new[li] = true;
	/* EADDRINUSE: the dataplane held it (it survived): ours */
	if (result < 0 && result != -EADDRINUSE) {
		if (mc->reinst != RI_PORTS)
			return; /* the other port's reply said it */
		if (reinst_lost(mc, result))
			return;
		reinst_fail(mc, "PORT_ALLOC", result);
		return;
	}
	if (mc->pending == 0 && mc->reinst == RI_PORTS)
		reinst_session(mc);
}

static void on_port0_taken(void *arg, int result, const void *body)
{
	port_taken(arg, 0, result, body);
}

static void on_port1_taken(void *arg, int result, const void *body)
{
	port_taken(arg, 1, result, body);
}

static void reinst_ports(struct media_call *mc)
{
	mc->reinst = RI_PORTS;
	for (unsigned li = 0; li < 2; li++) {
		int64_t id = media_dp_port_take(&mc->leg[li].port, li == 0 ? on_port0_taken : on_port1_taken, mc);

		if (id < 0) {
			if (!reinst_lost(mc, (int)id))
				reinst_fail(mc, "PORT_ALLOC", (int)id);
			return;
		}
		mc->pending++;
	}
}

void media_call_promote(struct media_call *mc)
{
	mc->standby = false;
	if (mc->ending)
		return;
	mc->promote = true;
	media_call_push(mc, -1);
}

void media_call_reinstall(struct media_call *mc)
{
	if (!mc->lost || mc->ending || mc->pending > 0)
		return;
	mc->lost = false;
	/* the ports first, in the connection's first requests: nothing else
	 * can take them in a new dataplane (a dataplane that survived answers
	 * EADDRINUSE: ours; then its SESSION_ADD says EEXIST: kept) */
	reinst_ports(mc);
}
