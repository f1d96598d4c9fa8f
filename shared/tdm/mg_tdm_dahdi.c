/* SPDX-License-Identifier: BSD-3-Clause */
/* The dahdi backend: DAHDI's character-device API from dahdi/user.h (the
 * header is extracted from Debian's dahdi-source at build time). */
#include "mg_tdm_chan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <dahdi/user.h>

#include "mg_tdm_limits.h"

_Static_assert(MG_TDM_MAX_CHANNO == DAHDI_MAX_CHANNELS - 1,
	       "MG_TDM_MAX_CHANNO must follow DAHDI_MAX_CHANNELS of dahdi/user.h");

/* DAHDI signals "an event is waiting" by failing read/write with ELAST. */
#define DAHDI_ERR_EVENT ELAST

static int dahdi_ioctl(struct mg_tdm_chan *c, unsigned long req, void *arg)
{
	return ioctl(c->fd, req, arg) < 0 ? -errno : 0;
}

static int dahdi_set_blocksize(struct mg_tdm_chan *c, unsigned size)
{
	int bs = (int)size;

	return dahdi_ioctl(c, DAHDI_SET_BLOCKSIZE, &bs);
}

static int dahdi_set_law(struct mg_tdm_chan *c, enum mg_law law)
{
	int l = law == MG_LAW_ALAW ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;

	return dahdi_ioctl(c, DAHDI_SETLAW, &l);
}

static ssize_t dahdi_read(struct mg_tdm_chan *c, void *buf, size_t len)
{
	ssize_t n = read(c->fd, buf, len);

	if (n > 0) {
		c->stats.rx_frames++;
		return n;
	}
	if (n == 0) {
		/* DAHDI returns 0 when the channel was hung up under us */
		c->stats.errors++;
		return -EPIPE;
	}
	if (errno == EAGAIN) {
		c->stats.rx_eagain++;
		return -EAGAIN;
	}
	if (errno == DAHDI_ERR_EVENT)
		return -ENOMSG;
	c->stats.errors++;
	return -errno;
}

static ssize_t dahdi_write(struct mg_tdm_chan *c, const void *buf, size_t len)
{
	ssize_t n;

	if (len == 0 || len > (c->hdlc ? MG_TDM_HDLC_MAX : c->blocksize))
		return -EINVAL;
	n = write(c->fd, buf, len);
	if (n >= 0) {
		c->stats.tx_frames++;
		return n;
	}
	if (errno == EAGAIN) {
		c->stats.tx_eagain++;
		return -EAGAIN;
	}
	if (errno == DAHDI_ERR_EVENT)
		return -ENOMSG;
	c->stats.errors++;
	return -errno;
}

static enum mg_tdm_event dahdi_event_map(int e)
{
	switch (e) {
	case DAHDI_EVENT_NONE:
		return MG_TDM_EV_NONE;
	case DAHDI_EVENT_ALARM:
		return MG_TDM_EV_ALARM;
	case DAHDI_EVENT_NOALARM:
		return MG_TDM_EV_NOALARM;
	case DAHDI_EVENT_ABORT:
		return MG_TDM_EV_HDLC_ABORT;
	case DAHDI_EVENT_OVERRUN:
		return MG_TDM_EV_HDLC_OVERRUN;
	case DAHDI_EVENT_BADFCS:
		return MG_TDM_EV_HDLC_BADFCS;
	case DAHDI_EVENT_READ_OVERRUN:
		return MG_TDM_EV_READ_OVERRUN;
	case DAHDI_EVENT_WRITE_UNDERRUN:
		return MG_TDM_EV_WRITE_UNDERRUN;
	case DAHDI_EVENT_REMOVED:
		return MG_TDM_EV_REMOVED;
	default:
		return MG_TDM_EV_OTHER;
	}
}

static int dahdi_get_event(struct mg_tdm_chan *c, enum mg_tdm_event *ev, int *raw)
{
	int e = 0;
	int rc = dahdi_ioctl(c, DAHDI_GETEVENT, &e);

	if (rc)
		return rc;
	*raw = e;
	*ev = dahdi_event_map(e);
	return 0;
}

static int dahdi_get_params(struct mg_tdm_chan *c, struct mg_tdm_params *p)
{
	struct dahdi_params dp;
	int rc;

	memset(&dp, 0, sizeof(dp));
	dp.channo = 0; /* 0: the channel this fd is bound to */
	rc = dahdi_ioctl(c, DAHDI_GET_PARAMS, &dp);
	if (rc)
		return rc;
	p->channo = (unsigned)dp.channo;
	p->spanno = (unsigned)dp.spanno;
	p->chanpos = (unsigned)dp.chanpos;
	p->law = dp.curlaw == DAHDI_LAW_ALAW ? MG_LAW_ALAW : MG_LAW_ULAW;
	p->blocksize = c->blocksize;
	p->alarms = dp.chan_alarms;
	memcpy(p->name, dp.name, sizeof(p->name) - 1);
	p->name[sizeof(p->name) - 1] = '\0';
	return 0;
}

static void dahdi_close(struct mg_tdm_chan *c)
{
	close(c->fd);
	free(c);
}

static const struct mg_tdm_chan_ops dahdi_ops = {
	.name = "dahdi",
	.set_blocksize = dahdi_set_blocksize,
	.set_law = dahdi_set_law,
	.read = dahdi_read,
	.write = dahdi_write,
	.get_event = dahdi_get_event,
	.get_params = dahdi_get_params,
	.close = dahdi_close,
};

int mg_tdm_dahdi_open(const char *devdir, unsigned channo, const struct mg_tdm_open_opts *opts,
		      struct mg_tdm_chan **out)
{
	static const struct mg_tdm_open_opts defaults = {0};
	const struct mg_tdm_open_opts *o = opts ? opts : &defaults;
	struct dahdi_bufferinfo bi;
	struct mg_tdm_params p;
	struct mg_tdm_chan *c;
	char path[PATH_MAX];
	int chan = (int)channo;
	int rc;

	*out = NULL;
	if (channo == 0 || channo > INT_MAX)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/channel", devdir) >= sizeof(path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ops = &dahdi_ops;
	c->channo = channo;
	c->hdlc = o->hdlc;
	c->law = o->law;
	c->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (c->fd < 0) {
		rc = -errno;
		free(c);
		return rc;
	}
	/* bind this open file to the channel: the one step that names it */
	rc = dahdi_ioctl(c, DAHDI_SPECIFY, &chan);
	if (rc)
		goto err;
	memset(&bi, 0, sizeof(bi));
	rc = dahdi_ioctl(c, DAHDI_GET_BUFINFO, &bi);
	if (rc)
		goto err;
	bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
	bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
	bi.numbufs = (int)(o->numbufs ? o->numbufs : (o->hdlc ? 16 : 4));
	if (o->hdlc)
		bi.bufsize = MG_TDM_HDLC_MAX;
	else
		bi.bufsize = (int)(o->blocksize ? o->blocksize : MG_TDM_BLOCK);
	rc = dahdi_ioctl(c, DAHDI_SET_BUFINFO, &bi);
	if (rc)
		goto err;
	if (!o->hdlc) {
		rc = mg_tdm_chan_set_blocksize(c, o->blocksize ? o->blocksize : MG_TDM_BLOCK);
		if (rc)
			goto err;
		if (o->set_law) {
			rc = mg_tdm_chan_set_law(c, o->law);
			if (rc)
				goto err;
		} else {
			rc = dahdi_get_params(c, &p);
			if (rc)
				goto err;
			c->law = p.law;
		}
	}
	*out = c;
	return 0;
err:
	close(c->fd);
	free(c);
	return rc;
}

/* ---- DAHDI timer and the shared timer calls ------------------------------ */

int mg_tdm_timer_open_dahdi(const char *devdir, unsigned samples, struct mg_tdm_timer **out)
{
	struct mg_tdm_timer *t;
	char path[PATH_MAX];
	int j = (int)samples;
	int rc;

	*out = NULL;
	if (samples == 0 || samples > INT_MAX)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/timer", devdir) >= sizeof(path))
		return -ENAMETOOLONG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		free(t);
		return rc;
	}
	if (ioctl(t->fd, DAHDI_TIMERCONFIG, &j) < 0) {
		rc = -errno;
		close(t->fd);
		free(t);
		return rc;
	}
	t->dahdi = true;
	t->events = POLLPRI;
	t->samples = samples;
	*out = t;
	return 0;
}

int mg_tdm_timer_ack(struct mg_tdm_timer *t)
{
	if (t->dahdi) {
		/* DAHDI_TIMERACK writes nothing back, so count by acking one
		 * period at a time while GETEVENT still says "expired" */
		int count = 0;

		while (count < 1000) {
			int ev = 0, one = 1;

			if (ioctl(t->fd, DAHDI_GETEVENT, &ev) < 0)
				return -errno;
			if (ev != DAHDI_EVENT_TIMER_EXPIRED)
				break;
			if (ioctl(t->fd, DAHDI_TIMERACK, &one) < 0)
				return -errno;
			count++;
		}
		return count;
	} else {
		uint64_t n = 0;

		if (read(t->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			return errno == EAGAIN ? 0 : -errno;
		return n > INT_MAX ? INT_MAX : (int)n;
	}
}

void mg_tdm_timer_close(struct mg_tdm_timer *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t);
}
