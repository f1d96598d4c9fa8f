/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_tdm_engine.h"
#include "mg_tdm_limits.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* A thread late by more than this many periods drops the backlog of
 * jitter-buffer playout instead of writing a burst the line cannot take. */
#define ENGINE_MAX_CATCHUP 4

struct mg_tdm_engine {
	struct mg_tdm_timer *timer;
	mg_tdm_engine_rx_cb rx;
	void *arg;
	unsigned max_ports;
	struct mg_tdm_port ports[];
};

struct mg_tdm_engine *mg_tdm_engine_new(unsigned max_ports, struct mg_tdm_timer *timer,
					mg_tdm_engine_rx_cb rx, void *arg)
{
	struct mg_tdm_engine *e;

	/* a port is a bound bearer: never more than DAHDI has channels */
	if (!max_ports || max_ports > MG_TDM_MAX_CHANNO || !timer || !rx) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e) + max_ports * sizeof(e->ports[0]));
	if (!e)
		return NULL;
	e->timer = timer;
	e->rx = rx;
	e->arg = arg;
	e->max_ports = max_ports;
	mg_g711_init();
	return e;
}

void mg_tdm_engine_free(struct mg_tdm_engine *e)
{
	free(e);
}

int mg_tdm_engine_attach(struct mg_tdm_engine *e, struct mg_tdm_chan *chan, enum mg_law call_law,
			 const struct mg_jb_config *jbc)
{
	struct mg_jb_config c = {0};
	int rc;

	if (!chan || chan->hdlc || chan->blocksize > MG_JB_MAX_FRAME ||
	    (call_law != MG_LAW_ULAW && call_law != MG_LAW_ALAW))
		return -EINVAL;
	if (jbc)
		c = *jbc;
	c.law = chan->law;
	c.frame_samples = chan->blocksize;
	for (unsigned i = 0; i < e->max_ports; i++) {
		struct mg_tdm_port *p = &e->ports[i];

		if (p->active)
			continue;
		memset(p, 0, sizeof(*p));
		rc = mg_jb_init(&p->jb, &c);
		if (rc)
			return rc;
		p->chan = chan;
		p->call_law = call_law;
		p->active = true;
		return (int)i;
	}
	return -ENOSPC;
}

int mg_tdm_engine_attach_media(struct mg_tdm_engine *e, struct mg_tdm_chan *chan,
			       const struct mg_tdm_media_ops *ops, void *media)
{
	int port;

	if (!ops || !ops->from_tdm || !ops->to_tdm)
		return -EINVAL;
	port = mg_tdm_engine_attach(e, chan, chan ? chan->law : MG_LAW_ULAW, NULL);
	if (port < 0)
		return port;
	e->ports[port].media_ops = ops;
	e->ports[port].media = media;
	return port;
}

void mg_tdm_engine_detach(struct mg_tdm_engine *e, unsigned port)
{
	if (port < e->max_ports)
		e->ports[port].active = false;
}

const struct mg_tdm_port *mg_tdm_engine_port(const struct mg_tdm_engine *e, unsigned port)
{
	return port < e->max_ports ? &e->ports[port] : NULL;
}

enum mg_jb_push mg_tdm_engine_push(struct mg_tdm_engine *e, unsigned port, uint16_t seq,
				   uint32_t ts, const uint8_t *payload, size_t len,
				   uint64_t arrival_us)
{
	struct mg_tdm_port *p;
	uint8_t buf[MG_JB_SLOTS / 2 * MG_JB_MAX_FRAME];

	if (port >= e->max_ports || !e->ports[port].active || e->ports[port].media_ops ||
	    len > sizeof(buf))
		return MG_JB_PUSH_BAD_SIZE;
	p = &e->ports[port];
	if (p->call_law == p->chan->law)
		return mg_jb_push(&p->jb, seq, ts, payload, len, arrival_us);
	mg_g711_transcode(p->call_law, p->chan->law, buf, payload, len);
	return mg_jb_push(&p->jb, seq, ts, buf, len, arrival_us);
}

static void engine_port_period(struct mg_tdm_engine *e, unsigned idx, unsigned periods)
{
	struct mg_tdm_port *p = &e->ports[idx];
	uint8_t buf[MG_TDM_MAX_BLOCK];
	ssize_t n;

	/* TDM → RTP: everything the channel has */
	for (;;) {
		n = mg_tdm_chan_read(p->chan, buf, sizeof(buf));
		if (n > 0 && p->media_ops) {
			p->stats.rx_blocks++;
			p->media_ops->from_tdm(p->media, idx, buf, (size_t)n);
			continue;
		}
		if (n > 0) {
			if (p->call_law != p->chan->law)
				mg_g711_transcode(p->chan->law, p->call_law, buf, buf, (size_t)n);
			p->stats.rx_blocks++;
			e->rx(e->arg, idx, buf, (size_t)n);
			continue;
		}
		if (n == -ENOMSG) {
			enum mg_tdm_event ev;

			mg_tdm_chan_get_event(p->chan, &ev, NULL);
			p->stats.events++;
			continue;
		}
		if (n != -EAGAIN)
			p->stats.read_errors++;
		break;
	}
	/* RTP → TDM: one frame per elapsed period */
	if (periods > ENGINE_MAX_CATCHUP)
		periods = ENGINE_MAX_CATCHUP;
	for (unsigned k = 0; k < periods; k++) {
		if (p->media_ops)
			p->media_ops->to_tdm(p->media, idx, buf, p->chan->blocksize);
		else
			mg_jb_pop(&p->jb, buf);
		if (mg_tdm_chan_write(p->chan, buf, p->chan->blocksize) == (ssize_t)p->chan->blocksize)
			p->stats.tx_blocks++;
		else
			p->stats.tx_refused++;
	}
}

int mg_tdm_engine_run_once(struct mg_tdm_engine *e, int timeout_ms)
{
	struct pollfd tp = {.fd = e->timer->fd, .events = e->timer->events};
	int periods;

	if (poll(&tp, 1, timeout_ms) < 0)
		return -errno;
	if (!tp.revents)
		return 0;
	periods = mg_tdm_timer_ack(e->timer);
	if (periods <= 0)
		return periods;
	for (unsigned i = 0; i < e->max_ports; i++)
		if (e->ports[i].active)
			engine_port_period(e, i, (unsigned)periods);
	return periods;
}
