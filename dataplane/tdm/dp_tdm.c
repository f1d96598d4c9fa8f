/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "dp_ctl.h"
#include "dp_net.h"
#include "dp_port.h"
#include "dp_session.h"
#include "dp_tdm.h"
#include "mg_log.h"
#include "mg_tdm_chan.h"
#include "tdm_media.h"

#define TDM_RING 8192   /* RTP packets toward TDM: 240 channels x 34 frames */
#define TDM_CMD_RING 64
#define TDM_BURST 64
#define TDM_MAX_CATCHUP 4 /* periods written at most after a late wake-up */
#define TDM_POLL_MS 30    /* longest wait for the timer before asking it anyway */
#define TDM_IDLE_MS 1000  /* nothing bound: the thread waits for a command this long */

/* What a worker puts in front of the RTP packet it hands over. */
struct tdm_tag {
	uint64_t session_id;
	uint64_t tsc;      /* when the worker took it: the jitter buffer's arrival
			      time (the TDM thread only looks every 20 ms) */
	uint32_t channo;
	uint32_t pad;
};

struct tdm_ch {
	struct mg_tdm_chan *chan;
	struct tdmm_chan *media;
	uint64_t session_id;
	uint32_t channo;
	uint16_t port_idx;
	/* the injected frames: from the TDM-side leg's local address to itself */
	uint32_t tdm_ip;
	uint16_t tdm_port;
	uint16_t tdm_rtcp_port;   /* RTP port + 1, or the RTP port with rtcp-mux */
	/* RTCP of the stream this channel sends (RFC 3550 6.2: 5 s, randomised) */
	uint64_t next_rtcp_us;
	uint64_t rtcp_sent;
	char cname[24];           /* RFC 7022: random, per call */
	/* drops by reason (TDM thread); the media layer counts its own */
	uint64_t drop_no_mbuf;   /* TDM -> RTP: packet pool empty */
	uint64_t drop_handoff;   /* TDM -> RTP: worker hand-off ring full */
	uint64_t drop_stale;     /* RTP -> TDM: packet of the channel's previous call */
	uint64_t drop_bad_block; /* TDM -> RTP: a read of another size than 160 */
	struct mg_msg_tdm_stats final;
};

enum tdm_cmd_op { TDM_CMD_BIND, TDM_CMD_UNBIND };
struct tdm_cmd {
	enum tdm_cmd_op op;
	struct tdm_ch *ch;
	volatile int done;
};

volatile unsigned dp_tdm_n_bound;
static struct rte_hash *bind_hash;  /* session id -> channo << 1 | leg */
static struct rte_ring *rx_ring, *cmd_ring;
static struct rte_ring *handoff[DP_MAX_WORKERS];
static unsigned n_handoff;
static struct tdm_ch *owned[MG_TDM_MAX_CHANNO + 1]; /* TDM thread's view */
/* The same channels, packed: the TDM thread walks these each period, not
 * every possible channel number. Written only by the TDM thread, from the
 * commands the main lcore posts (the ring is the hand-over). */
static struct tdm_ch *live[MG_TDM_MAX_CHANNO];
static unsigned n_live;
static int cmd_efd = -1; /* main -> TDM: a command is waiting (or quit) */
static struct tdm_ch *bound[MG_TDM_MAX_CHANNO + 1]; /* main lcore's view */
static pthread_t thread;
static bool running;
static volatile int quit;
static bool echo_cancel;
static char devpath[PATH_MAX];
static uint64_t ring_full_drops; /* workers: TDM ring full */
static uint64_t rtcp_ignored;    /* workers: RTCP of a TDM leg */

/* For telemetry (its own threads): the TDM thread copies each channel's
 * counters here once a second; readers never touch live channel state. */
struct tdm_snap {
	bool bound;
	uint64_t session_id;
	struct mg_msg_tdm_stats st;
	uint64_t drops[TDMM_DROP__COUNT];
	uint64_t drop_no_mbuf, drop_handoff, drop_stale, drop_bad_block;
	unsigned jb_depth, jb_target, jb_jitter;
	uint64_t rtcp_sent;
};
static struct tdm_snap snap[MG_TDM_MAX_CHANNO + 1];
static uint64_t th_periods, th_late, th_cpu_ns, th_wall_ns, th_missed_wakeups;
static uint64_t th_max_work_us;  /* longest pass over the channels */
static uint64_t th_max_periods;  /* most periods acknowledged at once (a stall) */

bool dp_tdm_take(uint64_t session_id, unsigned leg, bool rtcp, struct rte_mbuf *m)
{
	void *data;
	struct tdm_tag *t;

	if (rte_hash_lookup_data(bind_hash, &session_id, &data) < 0)
		return false;
	uintptr_t v = (uintptr_t)data;

	if ((v & 1) != leg)
		return false; /* the TDM side's own injected packets go on */
	if (rtcp) {
		__atomic_fetch_add(&rtcp_ignored, 1, __ATOMIC_RELAXED);
		rte_pktmbuf_free(m);
		return true;
	}
	t = (struct tdm_tag *)rte_pktmbuf_prepend(m, sizeof(*t));
	if (t != NULL) {
		/* before the enqueue: the TDM thread may dequeue it at once */
		t->session_id = session_id;
		t->tsc = rte_get_tsc_cycles();
		t->channo = (uint32_t)(v >> 1);
	}
	if (t == NULL || rte_ring_mp_enqueue(rx_ring, m) != 0) {
		__atomic_fetch_add(&ring_full_drops, 1, __ATOMIC_RELAXED);
		rte_pktmbuf_free(m);
	}
	return true;
}

static uint64_t tsc_per_us;

/* One RTP (or, to @p dport, RTCP) packet of the TDM side, framed as if it
 * arrived on the TDM-side leg. */
static bool inject_to(struct tdm_ch *c, const uint8_t *pkt, uint16_t len, uint16_t dport)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp_pktmbuf_pool);
	uint8_t *p;

	if (m == NULL || (p = (uint8_t *)rte_pktmbuf_append(m, DP_HDR_LEN + len)) == NULL) {
		rte_pktmbuf_free(m);
		c->drop_no_mbuf++;
		return false;
	}
	memcpy(p + DP_HDR_LEN, pkt, len);
	dp_net_write_udp(m, &dp_ports[c->port_idx].mac, c->tdm_ip, dport, c->tdm_ip, dport);
	rte_ether_addr_copy(&dp_ports[c->port_idx].mac,
			    &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr);
	m->port = c->port_idx;
	/* any worker's ring: a non-owner hands it on to the owner */
	if (rte_ring_mp_enqueue(handoff[c->session_id % n_handoff], m) != 0) {
		rte_pktmbuf_free(m);
		c->drop_handoff++;
		return false;
	}
	return true;
}

static void inject(struct tdm_ch *c, const uint8_t *pkt, uint16_t len)
{
	(void)inject_to(c, pkt, len, c->tdm_port);
}


/* RFC 3550 6.2: 5 s between reports (the minimum interval; one sender per
 * session, so no bandwidth scaling), times a random 0.5..1.5 so that
 * channels bound together do not report together; the first after half of
 * that. */
static uint64_t rtcp_interval_us(bool first)
{
	uint64_t us = 2500000 + rte_rand() % 5000000;

	return first ? us / 2 : us;
}

/* Send the channel's SR + SDES when due (the workers relay it to the other
 * leg as RTCP, SRTCP there when that leg is SRTP). */
static void rtcp_maybe(struct tdm_ch *c, uint64_t now_us)
{
	uint8_t pkt[TDMM_RTCP_MAX];
	struct timespec t;
	uint64_t ntp;
	size_t n;

	if (now_us < c->next_rtcp_us)
		return;
	c->next_rtcp_us = now_us + rtcp_interval_us(false);
	clock_gettime(CLOCK_REALTIME, &t);
	/* NTP: seconds since 1900, 32.32 fixed point */
	ntp = ((uint64_t)t.tv_sec + 2208988800u) << 32 |
	      (((uint64_t)t.tv_nsec << 32) / 1000000000u);
	n = tdmm_rtcp_report(c->media, ntp, c->cname, pkt, sizeof(pkt));
	if (n == 0)
		return;
	/* (a report that could not go is counted as a drop; its interval's
	 * loss then shows in the next one, which covers both) */
	if (inject_to(c, pkt, (uint16_t)n, c->tdm_rtcp_port))
		c->rtcp_sent++;
}

static void fill_stats(const struct tdm_ch *c, struct mg_msg_tdm_stats *o)
{
	const struct tdmm_stats *s = tdmm_chan_stats(c->media);

	memset(o, 0, sizeof(*o));
	o->channo = c->channo;
	o->tdm_frames_in = s->tdm_frames_in;
	o->rtp_audio_out = s->rtp_audio_out;
	o->rtp_event_out = s->rtp_event_out;
	o->digits_detected = s->digits_detected;
	o->rtp_in = s->rtp_in;
	o->digits_played = s->digits_played;
	o->tdm_frames_out = s->tdm_frames_out;
	o->concealed = tdmm_chan_jb(c->media)->stats.concealed;
	o->drops = c->drop_no_mbuf + c->drop_handoff + c->drop_stale + c->drop_bad_block;
	for (unsigned r = 0; r < TDMM_DROP__COUNT; r++)
		o->drops += s->drops[r];
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void snapshot(void)
{
	for (unsigned i = 0; i < n_live; i++) {
		const struct tdm_ch *c = live[i];
		struct tdm_snap *sn = &snap[c->channo];
		const struct tdmm_stats *ms = tdmm_chan_stats(c->media);
		const struct mg_jb *jb = tdmm_chan_jb(c->media);

		fill_stats(c, &sn->st);
		memcpy(sn->drops, ms->drops, sizeof(sn->drops));
		sn->drop_no_mbuf = c->drop_no_mbuf;
		sn->drop_handoff = c->drop_handoff;
		sn->drop_stale = c->drop_stale;
		sn->drop_bad_block = c->drop_bad_block;
		sn->jb_depth = mg_jb_depth(jb);
		sn->jb_target = mg_jb_target(jb);
		sn->jb_jitter = mg_jb_jitter(jb);
		sn->rtcp_sent = c->rtcp_sent;
		sn->session_id = c->session_id;
		sn->bound = true;
	}
}

static void do_commands(void)
{
	struct tdm_cmd *cmd;

	while (rte_ring_sc_dequeue(cmd_ring, (void **)&cmd) == 0) {
		struct tdm_ch *c = cmd->ch;

		if (cmd->op == TDM_CMD_BIND) {
			owned[c->channo] = c;
			live[n_live++] = c;
		} else {
			owned[c->channo] = NULL;
			for (unsigned i = 0; i < n_live; i++)
				if (live[i] == c) {
					live[i] = live[--n_live];
					break;
				}
			snap[c->channo].bound = false;
			fill_stats(c, &c->final);
		}
		__atomic_store_n(&cmd->done, 1, __ATOMIC_RELEASE);
	}
}

static void do_rx(void)
{
	struct rte_mbuf *m[TDM_BURST];
	unsigned n;

	while ((n = rte_ring_sc_dequeue_burst(rx_ring, (void **)m, TDM_BURST, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			const struct tdm_tag *t = rte_pktmbuf_mtod(m[i], const struct tdm_tag *);
			struct tdm_ch *c = t->channo <= MG_TDM_MAX_CHANNO ? owned[t->channo] : NULL;

			if (c != NULL && c->session_id == t->session_id)
				tdmm_from_rtp(c->media, (const uint8_t *)(t + 1),
					      m[i]->data_len - sizeof(*t), t->tsc / tsc_per_us);
			else if (c != NULL)
				c->drop_stale++; /* a packet of the previous call on this channel */
		}
		rte_pktmbuf_free_bulk(m, n);
	}
}

/*
 * One channel's periods. The timer runs on the span clock, so each period
 * brings exactly one block: read that many and no more (the read that would
 * say EAGAIN costs a syscall, a FUSE round trip on the emulator); @p drain
 * (once a second) reads to EAGAIN, so a backlog (host clock fallback drifting
 * against the span, a stall) cannot build up.
 */
static void do_channel(struct tdm_ch *c, unsigned periods, bool drain)
{
	uint8_t frame[MG_TDM_MAX_BLOCK];
	uint8_t pkt[TDMM_MAX_OUT][TDMM_PKT_MAX];
	uint16_t len[TDMM_MAX_OUT];
	unsigned reads = 0;
	ssize_t r;

	while ((drain || reads++ < periods) &&
	       (r = mg_tdm_chan_read(c->chan, frame, sizeof(frame))) != -EAGAIN) {
		if (r == TDMM_FRAME) {
			unsigned np = tdmm_from_tdm(c->media, frame, pkt, len);

			for (unsigned k = 0; k < np; k++)
				inject(c, pkt[k], len[k]);
		} else if (r > 0) {
			c->drop_bad_block++; /* not a 20 ms block: the driver's block size changed */
		} else if (r == -ENOMSG) {
			enum mg_tdm_event ev;

			mg_tdm_chan_get_event(c->chan, &ev, NULL);
		} else {
			break; /* counted by the channel layer */
		}
	}
	if (periods > TDM_MAX_CATCHUP)
		periods = TDM_MAX_CATCHUP;
	for (unsigned k = 0; k < periods; k++) {
		tdmm_to_tdm(c->media, frame);
		mg_tdm_chan_write(c->chan, frame, TDMM_FRAME);
	}
	rtcp_maybe(c, rte_get_tsc_cycles() / tsc_per_us);
}

static void *tdm_main(void *arg)
{
	struct mg_tdm_timer *timer = arg;
	uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), wall0 = clock_ns(CLOCK_MONOTONIC);

	while (!quit) {
		struct pollfd p[2] = { { .fd = cmd_efd, .events = POLLIN },
				       { .fd = timer->fd, .events = timer->events } };
		int periods, ready;
		uint64_t ev;

		if (n_live == 0) {
			/* nothing bound: no periods to serve, sleep until a command
			 * (TDM_BIND posts one and wakes us) */
			poll(p, 1, TDM_IDLE_MS);
			if (read(cmd_efd, &ev, sizeof(ev)) < 0)
				ev = 0;
			do_commands();
			do_rx(); /* packets of a channel unbound meanwhile: freed */
			/* the periods that passed while idle are nobody's */
			if (n_live != 0)
				mg_tdm_timer_ack(timer);
			continue;
		}
		/* The ack is non-blocking and tells by itself how many periods
		 * passed: ask it after a timeout too, so a lost wake-up (seen
		 * through FUSE under load) costs one timeout, not the call. */
		ready = poll(p, 2, TDM_POLL_MS);
		if (p[0].revents & POLLIN) {
			if (read(cmd_efd, &ev, sizeof(ev)) < 0)
				ev = 0;
			ready--;
		}
		periods = mg_tdm_timer_ack(timer);
		if (ready <= 0 && periods > 0)
			th_missed_wakeups++;
		do_commands();
		do_rx();
		if (periods <= 0)
			continue;
		bool drain = th_periods % 50 == 49;
		uint64_t w0 = clock_ns(CLOCK_MONOTONIC), w;

		for (unsigned i = 0; i < n_live; i++)
			do_channel(live[i], (unsigned)periods, drain);
		w = (clock_ns(CLOCK_MONOTONIC) - w0) / 1000;
		if (w > th_max_work_us)
			th_max_work_us = w;
		th_late += periods > 1;
		if ((uint64_t)periods > th_max_periods)
			th_max_periods = (uint64_t)periods;
		if (++th_periods % 50 == 0) {
			snapshot();
			th_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
			th_wall_ns = clock_ns(CLOCK_MONOTONIC) - wall0;
		}
	}
	mg_tdm_timer_close(timer);
	return NULL;
}

/* Post a command and wait for the thread to take it (at most ~0.5 s). */
static int post(enum tdm_cmd_op op, struct tdm_ch *c)
{
	struct tdm_cmd cmd = { .op = op, .ch = c };
	struct timespec ms = { 0, 1000000 };
	uint64_t one = 1;

	if (rte_ring_sp_enqueue(cmd_ring, &cmd) != 0)
		return -EBUSY;
	/* an idle thread sleeps on this; a busy one takes the command next period */
	if (write(cmd_efd, &one, sizeof(one)) < 0)
		mg_log(MG_LOG_WARN, "TDM: wake the TDM thread: %s", strerror(errno));
	for (int i = 0; i < 500 && !__atomic_load_n(&cmd.done, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
	/* the thread always takes commands within one period; if it is gone the
	 * dataplane is stopping: wait on rather than free what it may use */
	while (!__atomic_load_n(&cmd.done, __ATOMIC_ACQUIRE))
		nanosleep(&ms, NULL);
	return 0;
}

static void ch_free(struct tdm_ch *c)
{
	if (c == NULL)
		return;
	tdmm_chan_free(c->media);
	mg_tdm_chan_close(c->chan);
	free(c);
}

static int tdm_bind(const void *req, void *rep, const struct dp_ctl_peer *peer)
{
	const struct mg_msg_tdm_bind *b = req;
	struct mg_msg_session def;
	const char *err = NULL;
	struct tdm_ch *c;
	int rc;

	RTE_SET_USED(rep);
	RTE_SET_USED(peer);
	if (!running) {
		mg_log(MG_LOG_ERR, "TDM_BIND: the TDM thread is not running");
		return -ENODEV;
	}
	if (bound[b->channo] != NULL) {
		mg_log(MG_LOG_ERR, "TDM_BIND: channel %u is already bound to session %" PRIu64,
		       b->channo, bound[b->channo]->session_id);
		return -EBUSY;
	}
	if (rte_hash_lookup(bind_hash, &b->session_id) >= 0) {
		mg_log(MG_LOG_ERR, "TDM_BIND: session %" PRIu64 " already carries a channel",
		       b->session_id);
		return -EEXIST;
	}
	rc = dp_session_get(b->session_id, &def, &err);
	if (rc < 0) {
		mg_log(MG_LOG_ERR, "TDM_BIND: session %" PRIu64 ": %s", b->session_id,
		       err != NULL ? err : strerror(-rc));
		return rc;
	}
	const struct mg_msg_leg *tl = &def.legs[b->leg ^ 1];
	uint32_t tip;

	memcpy(&tip, tl->local.addr, 4);
	if (tl->local.family != MG_FAMILY_IPV4 || tl->rx.suite != MG_SRTP_SUITE_NONE ||
	    tl->source_policy != MG_SOURCE_LATCH) {
		mg_log(MG_LOG_ERR, "TDM_BIND: session %" PRIu64 ": leg %u (the TDM side) must be "
		       "IPv4, plain on receive and latching", b->session_id, b->leg ^ 1);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->session_id = b->session_id;
	c->channo = b->channo;
	c->tdm_ip = tip;
	c->tdm_port = rte_cpu_to_be_16(tl->local.port);
	c->tdm_rtcp_port = rte_cpu_to_be_16((tl->flags & MG_LEG_F_RTCP_MUX) ? tl->local.port
									   : tl->local.port + 1);
	snprintf(c->cname, sizeof(c->cname), "mg-%012" PRIx64, rte_rand() & UINT64_C(0xffffffffffff));
	c->next_rtcp_us = rte_get_tsc_cycles() / tsc_per_us + rtcp_interval_us(true);
	rc = dp_port_by_addr(tip);
	if (rc < 0) {
		mg_log(MG_LOG_ERR, "TDM_BIND: no port owns the TDM-side leg's address");
		free(c);
		return -EINVAL;
	}
	c->port_idx = (uint16_t)rc;
	struct mg_tdm_open_opts o = { .blocksize = TDMM_FRAME };

	rc = mg_tdm_dahdi_open(devpath, b->channo, &o, &c->chan);
	if (rc < 0) {
		mg_log(MG_LOG_ERR, "TDM_BIND: open channel %u under %s: %s", b->channo, devpath,
		       strerror(-rc));
		free(c);
		return rc;
	}
	struct tdmm_config mc = {
		.span_law = c->chan->law,
		.call_law = b->law ? MG_LAW_ALAW : MG_LAW_ULAW,
		.pt = b->pt,
		.event_pt = b->event_pt,
		.ssrc = b->ssrc,
		.first_seq = (uint16_t)rte_rand(),
		.first_ts = (uint32_t)rte_rand(),
		.echo_cancel = echo_cancel || (b->flags & MG_TDM_F_ECHO_CANCEL),
	};

	c->media = tdmm_chan_new(&mc);
	if (c->media == NULL) {
		rc = -errno;
		ch_free(c);
		return rc;
	}
	rc = post(TDM_CMD_BIND, c);
	if (rc < 0) {
		ch_free(c);
		return rc;
	}
	rc = rte_hash_add_key_data(bind_hash, &b->session_id,
				   (void *)(((uintptr_t)b->channo << 1) | b->leg));
	if (rc < 0) {
		post(TDM_CMD_UNBIND, c);
		ch_free(c);
		return rc;
	}
	/* after the binding exists: a worker that sees the mark finds it */
	rc = dp_session_set_tdm_leg(b->session_id, b->leg, &err);
	if (rc < 0) {
		mg_log(MG_LOG_ERR, "TDM_BIND: session %" PRIu64 ": %s", b->session_id, err);
		rte_hash_del_key(bind_hash, &b->session_id);
		post(TDM_CMD_UNBIND, c);
		ch_free(c);
		return rc;
	}
	bound[b->channo] = c;
	__atomic_fetch_add(&dp_tdm_n_bound, 1, __ATOMIC_RELEASE);
	mg_log(MG_LOG_INFO, "TDM: channel %u (%s) bound to session %" PRIu64 " leg %u, %s pt %u, "
	       "events pt %u, echo canceller %s", b->channo, mg_law_name(c->chan->law),
	       b->session_id, b->leg, mg_law_name(mc.call_law), b->pt, b->event_pt,
	       mc.echo_cancel ? "on" : "off");
	return 0;
}
DP_CTL_REGISTER(MG_MSG_TDM_BIND, sizeof(struct mg_msg_tdm_bind), tdm_bind);

/* Main lcore: take channel @p channo away from the TDM thread and close it. */
static void unbind_channel(unsigned channo, struct mg_msg_tdm_stats *st)
{
	struct tdm_ch *c = bound[channo];
	const char *err;

	/* the session may be gone already (orphan_check): nothing to unmark */
	dp_session_set_tdm_leg(c->session_id, -1, &err);
	rte_hash_del_key(bind_hash, &c->session_id);
	post(TDM_CMD_UNBIND, c);
	bound[channo] = NULL;
	__atomic_fetch_sub(&dp_tdm_n_bound, 1, __ATOMIC_RELEASE);
	if (st != NULL)
		*st = c->final;
	/* workers may still hold the old key slot until their next quiescent
	 * state: the hash recycles it through QSBR; the channel state itself is
	 * only read by the TDM thread, which has let go of it */
	ch_free(c);
}

static int tdm_unbind(const void *req, void *rep, const struct dp_ctl_peer *peer)
{
	const struct mg_msg_tdm_chan *r = req;

	RTE_SET_USED(peer);
	if (bound[r->channo] == NULL) {
		mg_log(MG_LOG_ERR, "TDM_UNBIND: channel %u is not bound", r->channo);
		return -ENOENT;
	}
	unbind_channel(r->channo, rep);
	return 0;
}

/*
 * Main-lcore hook, about once a second: a channel whose session was deleted
 * (SESSION_DEL without TDM_UNBIND first) is released, so it neither keeps
 * sending into nothing nor stays busy for the next call.
 */
static void orphan_check(void *arg)
{
	static unsigned calls;
	struct mg_msg_session def;
	const char *err;

	RTE_SET_USED(arg);
	if (++calls < 1000 / DP_CTL_POLL_MS || dp_tdm_n_bound == 0)
		return;
	calls = 0;
	for (unsigned ch = 1; ch <= MG_TDM_MAX_CHANNO; ch++) {
		if (bound[ch] == NULL || dp_session_get(bound[ch]->session_id, &def, &err) == 0)
			continue;
		mg_log(MG_LOG_WARN, "TDM: session %" PRIu64 " was deleted while channel %u was "
		       "bound to it: channel released (send TDM_UNBIND before SESSION_DEL)",
		       bound[ch]->session_id, ch);
		unbind_channel(ch, NULL);
	}
}
DP_CTL_REGISTER(MG_MSG_TDM_UNBIND, sizeof(struct mg_msg_tdm_chan), tdm_unbind);

static int t_tdm(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *ch = rte_tel_data_alloc();

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "bound", dp_tdm_n_bound);
	rte_tel_data_add_dict_u64(d, "periods", th_periods);
	rte_tel_data_add_dict_u64(d, "late_periods", th_late);
	rte_tel_data_add_dict_u64(d, "missed_wakeups", th_missed_wakeups);
	rte_tel_data_add_dict_u64(d, "max_work_us", th_max_work_us);
	rte_tel_data_add_dict_u64(d, "max_periods_at_once", th_max_periods);
	rte_tel_data_add_dict_u64(d, "thread_cpu_permille",
				  th_wall_ns ? th_cpu_ns * 1000 / th_wall_ns : 0);
	rte_tel_data_add_dict_u64(d, "thread_cpu_ns", th_cpu_ns);   /* for deltas */
	rte_tel_data_add_dict_u64(d, "thread_wall_ns", th_wall_ns);
	rte_tel_data_add_dict_u64(d, "drop_ring_full", ring_full_drops);
	rte_tel_data_add_dict_u64(d, "rtcp_ignored", rtcp_ignored);
	if (ch != NULL) {
		rte_tel_data_start_array(ch, RTE_TEL_INT_VAL);
		for (unsigned c = 1; c <= MG_TDM_MAX_CHANNO; c++)
			if (snap[c].bound)
				rte_tel_data_add_array_int(ch, (int)c);
		rte_tel_data_add_dict_container(d, "channels", ch, 0);
	}
	return 0;
}

static int t_tdm_channel(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned long n = params != NULL ? strtoul(params, NULL, 10) : 0;
	const struct tdm_snap *sn;
	struct rte_tel_data *dr = rte_tel_data_alloc();

	RTE_SET_USED(cmd);
	if (n == 0 || n > MG_TDM_MAX_CHANNO || !snap[n].bound) {
		rte_tel_data_free(dr);
		return -EINVAL;
	}
	sn = &snap[n];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "session", sn->session_id);
	rte_tel_data_add_dict_u64(d, "tdm_frames_in", sn->st.tdm_frames_in);
	rte_tel_data_add_dict_u64(d, "rtp_audio_out", sn->st.rtp_audio_out);
	rte_tel_data_add_dict_u64(d, "rtp_event_out", sn->st.rtp_event_out);
	rte_tel_data_add_dict_u64(d, "digits_detected", sn->st.digits_detected);
	rte_tel_data_add_dict_u64(d, "rtp_in", sn->st.rtp_in);
	rte_tel_data_add_dict_u64(d, "digits_played", sn->st.digits_played);
	rte_tel_data_add_dict_u64(d, "tdm_frames_out", sn->st.tdm_frames_out);
	rte_tel_data_add_dict_u64(d, "concealed", sn->st.concealed);
	rte_tel_data_add_dict_u64(d, "jb_depth", sn->jb_depth);
	rte_tel_data_add_dict_u64(d, "jb_target", sn->jb_target);
	rte_tel_data_add_dict_u64(d, "jitter_samples", sn->jb_jitter);
	rte_tel_data_add_dict_u64(d, "rtcp_sent", sn->rtcp_sent);
	if (dr != NULL) {
		rte_tel_data_start_dict(dr);
		for (unsigned r = 0; r < TDMM_DROP__COUNT; r++)
			rte_tel_data_add_dict_u64(dr, tdmm_drop_name((enum tdmm_drop)r), sn->drops[r]);
		rte_tel_data_add_dict_u64(dr, "no_mbuf", sn->drop_no_mbuf);
		rte_tel_data_add_dict_u64(dr, "handoff_full", sn->drop_handoff);
		rte_tel_data_add_dict_u64(dr, "previous_call", sn->drop_stale);
		rte_tel_data_add_dict_u64(dr, "bad_block", sn->drop_bad_block);
		rte_tel_data_add_dict_container(d, "drops", dr, 0);
	}
	return 0;
}

int dp_tdm_init(const struct mg_settings *s)
{
	struct rte_hash_parameters hp = {
		.name = "dp_tdm_bind",
		.entries = MG_TDM_MAX_CHANNO * 2,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct rte_hash_rcu_config rc_cfg = { .v = dp_qsbr, .mode = RTE_HASH_QSBR_MODE_DQ };
	struct mg_tdm_timer *timer = NULL;
	char name[32];
	int rc;

	snprintf(devpath, sizeof(devpath), "%s", s->tdm_device_path);
	tsc_per_us = rte_get_tsc_hz() / 1000000;
	if (tsc_per_us == 0)
		tsc_per_us = 1;
	echo_cancel = s->tdm_echo_cancel;
	bind_hash = rte_hash_create(&hp);
	rx_ring = rte_ring_create("dp_tdm_rx", TDM_RING, (int)rte_socket_id(), RING_F_SC_DEQ);
	cmd_ring = rte_ring_create("dp_tdm_cmd", TDM_CMD_RING, (int)rte_socket_id(),
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (bind_hash == NULL || rx_ring == NULL || cmd_ring == NULL)
		return -ENOMEM;
	cmd_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cmd_efd < 0)
		return -errno;
	rc = rte_hash_rcu_qsbr_add(bind_hash, &rc_cfg);
	if (rc < 0)
		return rc;
	n_handoff = dp_n_workers;
	for (unsigned i = 0; i < n_handoff; i++) {
		snprintf(name, sizeof(name), "dp_handoff%u", i);
		handoff[i] = rte_ring_lookup(name);
		if (handoff[i] == NULL)
			return -ENOENT;
	}
	/* the span's clock when DAHDI is there; the host's otherwise */
	if (mg_tdm_timer_open_dahdi(devpath, TDMM_FRAME, &timer) < 0) {
		rc = mg_tdm_timer_open_host(TDMM_FRAME, &timer);
		if (rc < 0)
			return rc;
		mg_log(MG_LOG_INFO, "TDM: no DAHDI timer under %s: host clock", devpath);
	}
	rte_telemetry_register_cmd("/mediagate/tdm", t_tdm,
				   "TDM thread: bound channels, periods, CPU, drops outside channels");
	rte_telemetry_register_cmd("/mediagate/tdm/channel", t_tdm_channel,
				   "Media counters of one bound TDM channel (refreshed every second). "
				   "Parameter: channel number");
	dp_ctl_hook_add(orphan_check, NULL);
	rc = pthread_create(&thread, NULL, tdm_main, timer);
	if (rc != 0) {
		mg_tdm_timer_close(timer);
		return -rc;
	}
	pthread_setname_np(thread, "mg-tdm");
	running = true;
	mg_log(MG_LOG_INFO, "TDM thread up (devices %s, echo canceller %s)", devpath,
	       echo_cancel ? "on" : "off");
	return 0;
}

void dp_tdm_fini(void)
{
	if (!running)
		return;
	uint64_t one = 1;

	quit = 1;
	if (write(cmd_efd, &one, sizeof(one)) < 0)
		mg_log(MG_LOG_WARN, "TDM: wake the TDM thread to stop: %s", strerror(errno));
	pthread_join(thread, NULL);
	close(cmd_efd);
	cmd_efd = -1;
	running = false;
	for (unsigned ch = 1; ch <= MG_TDM_MAX_CHANNO; ch++) {
		ch_free(bound[ch]);
		bound[ch] = owned[ch] = NULL;
	}
}
