/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend-independent channel calls and the socketpair backend. */
#include "mg_tdm_chan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

void mg_tdm_chan_close(struct mg_tdm_chan *c)
{
	if (c)
		c->ops->close(c);
}

int mg_tdm_chan_set_blocksize(struct mg_tdm_chan *c, unsigned size)
{
	int rc;

	if (c->hdlc)
		return -EINVAL;
	if (size < 16 || size > MG_TDM_MAX_BLOCK)
		return -EINVAL;
	rc = c->ops->set_blocksize(c, size);
	if (rc == 0)
		c->blocksize = size;
	return rc;
}

int mg_tdm_chan_set_law(struct mg_tdm_chan *c, enum mg_law law)
{
	int rc;

	if (c->hdlc || (law != MG_LAW_ULAW && law != MG_LAW_ALAW))
		return -EINVAL;
	rc = c->ops->set_law(c, law);
	if (rc == 0)
		c->law = law;
	return rc;
}

int mg_tdm_chan_get_event(struct mg_tdm_chan *c, enum mg_tdm_event *ev, int *raw)
{
	int r = 0;
	int rc = c->ops->get_event(c, ev, &r);

	if (rc == 0 && *ev != MG_TDM_EV_NONE)
		c->stats.events++;
	if (raw)
		*raw = r;
	return rc;
}

int mg_tdm_chan_get_params(struct mg_tdm_chan *c, struct mg_tdm_params *p)
{
	memset(p, 0, sizeof(*p));
	return c->ops->get_params(c, p);
}

const char *mg_tdm_event_name(enum mg_tdm_event ev)
{
	static const char *const names[] = {
		[MG_TDM_EV_NONE] = "none",
		[MG_TDM_EV_ALARM] = "alarm",
		[MG_TDM_EV_NOALARM] = "noalarm",
		[MG_TDM_EV_HDLC_ABORT] = "hdlc-abort",
		[MG_TDM_EV_HDLC_OVERRUN] = "hdlc-overrun",
		[MG_TDM_EV_HDLC_BADFCS] = "hdlc-badfcs",
		[MG_TDM_EV_READ_OVERRUN] = "read-overrun",
		[MG_TDM_EV_WRITE_UNDERRUN] = "write-underrun",
		[MG_TDM_EV_REMOVED] = "removed",
		[MG_TDM_EV_OTHER] = "other",
	};

	if ((unsigned)ev >= sizeof(names) / sizeof(names[0]))
		return "invalid";
	return names[ev];
}

/* ---- socketpair backend ------------------------------------------------
 * SOCK_SEQPACKET keeps message boundaries; each message is one type byte
 * then the payload: 'B' a block or frame, 'E' an event (one byte code).
 * Events travel in order with the audio, as DAHDI reports them before the
 * data that follows them. */

#define SP_MSG_DATA 'B'
#define SP_MSG_EVENT 'E'
#define SP_MAX_PENDING 8

struct sp_state {
	enum mg_tdm_event pending[SP_MAX_PENDING];
	unsigned n_pending;
};

static int sp_set_blocksize(struct mg_tdm_chan *c, unsigned size)
{
	(void)c;
	(void)size;
	return 0;
}

static int sp_set_law(struct mg_tdm_chan *c, enum mg_law law)
{
	(void)c;
	(void)law;
	return 0;
}

static ssize_t sp_read(struct mg_tdm_chan *c, void *buf, size_t len)
{
	struct sp_state *st = c->backend;
	uint8_t type = 0;
	struct iovec iov[2] = {{&type, 1}, {buf, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	if (st->n_pending)
		return -ENOMSG;
	if (len == 0)
		return -EINVAL; /* an event's code byte needs somewhere to land */
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->stats.rx_eagain++;
			return -EAGAIN;
		}
		c->stats.errors++;
		return -errno;
	}
	if (n == 0) {
		c->stats.errors++;
		return -EPIPE; /* the other end closed */
	}
	if (type == SP_MSG_EVENT) {
		/* the code byte landed in buf */
		if (st->n_pending < SP_MAX_PENDING && n == 2)
			st->pending[st->n_pending++] = (enum mg_tdm_event)((uint8_t *)buf)[0];
		return -ENOMSG;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		c->stats.errors++;
		return -EMSGSIZE;
	}
	c->stats.rx_frames++;
	return n - 1;
}

static ssize_t sp_send(struct mg_tdm_chan *c, uint8_t type, const void *buf, size_t len)
{
	struct iovec iov[2] = {{&type, 1}, {(void *)(uintptr_t)buf, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			c->stats.tx_eagain++;
			return -EAGAIN;
		}
		c->stats.errors++;
		return -errno;
	}
	return n - 1;
}

static ssize_t sp_write(struct mg_tdm_chan *c, const void *buf, size_t len)
{
	ssize_t n;

	if (len == 0 || len > (c->hdlc ? MG_TDM_HDLC_MAX : c->blocksize))
		return -EINVAL;
	n = sp_send(c, SP_MSG_DATA, buf, len);
	if (n > 0)
		c->stats.tx_frames++;
	return n;
}

static int sp_get_event(struct mg_tdm_chan *c, enum mg_tdm_event *ev, int *raw)
{
	struct sp_state *st = c->backend;

	if (!st->n_pending) {
		*ev = MG_TDM_EV_NONE;
		*raw = 0;
		return 0;
	}
	*ev = st->pending[0];
	*raw = (int)*ev;
	memmove(&st->pending[0], &st->pending[1], --st->n_pending * sizeof(st->pending[0]));
	return 0;
}

static int sp_get_params(struct mg_tdm_chan *c, struct mg_tdm_params *p)
{
	p->channo = c->channo;
	p->spanno = 0;
	p->chanpos = c->channo;
	p->law = c->law;
	p->blocksize = c->blocksize;
	snprintf(p->name, sizeof(p->name), "socketpair/%u", c->channo);
	return 0;
}

static void sp_close(struct mg_tdm_chan *c)
{
	close(c->fd);
	free(c->backend);
	free(c);
}

static const struct mg_tdm_chan_ops sp_ops = {
	.name = "socketpair",
	.set_blocksize = sp_set_blocksize,
	.set_law = sp_set_law,
	.read = sp_read,
	.write = sp_write,
	.get_event = sp_get_event,
	.get_params = sp_get_params,
	.close = sp_close,
};

static struct mg_tdm_chan *sp_new(int fd, unsigned channo, const struct mg_tdm_open_opts *o)
{
	struct mg_tdm_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->backend = calloc(1, sizeof(struct sp_state));
	if (!c->backend) {
		free(c);
		return NULL;
	}
	c->ops = &sp_ops;
	c->fd = fd;
	c->channo = channo;
	c->hdlc = o->hdlc;
	c->blocksize = o->hdlc ? 0 : (o->blocksize ? o->blocksize : MG_TDM_BLOCK);
	c->law = o->law;
	return c;
}

int mg_tdm_socketpair_open(unsigned channo, const struct mg_tdm_open_opts *opts,
			   struct mg_tdm_chan **a, struct mg_tdm_chan **b)
{
	static const struct mg_tdm_open_opts defaults = {0};
	const struct mg_tdm_open_opts *o = opts ? opts : &defaults;
	int sv[2];

	if (!o->hdlc && o->blocksize && (o->blocksize < 16 || o->blocksize > MG_TDM_MAX_BLOCK))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	*a = sp_new(sv[0], channo, o);
	*b = sp_new(sv[1], channo, o);
	if (!*a || !*b) {
		if (*a)
			sp_close(*a);
		else
			close(sv[0]);
		if (*b)
			sp_close(*b);
		else
			close(sv[1]);
		*a = *b = NULL;
		return -ENOMEM;
	}
	return 0;
}

int mg_tdm_socketpair_inject_event(struct mg_tdm_chan *c, enum mg_tdm_event ev)
{
	uint8_t code = (uint8_t)ev;
	ssize_t n;

	if (c->ops != &sp_ops)
		return -EOPNOTSUPP;
	if (ev <= MG_TDM_EV_NONE || ev > MG_TDM_EV_OTHER)
		return -EINVAL;
	n = sp_send(c, SP_MSG_EVENT, &code, 1);
	return n < 0 ? (int)n : 0;
}

/* ---- host timer ---------------------------------------------------------- */

int mg_tdm_timer_open_host(unsigned samples, struct mg_tdm_timer **out)
{
	struct itimerspec its = {0};
	struct mg_tdm_timer *t;
	uint64_t ns = (uint64_t)samples * 125000; /* 8 kHz: 125 µs a sample */
	int rc;

	*out = NULL;
	if (samples == 0 || samples > 8000 * 60)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		free(t);
		return rc;
	}
	its.it_interval.tv_sec = (time_t)(ns / 1000000000);
	its.it_interval.tv_nsec = (long)(ns % 1000000000);
	its.it_value = its.it_interval;
	if (timerfd_settime(t->fd, 0, &its, NULL) < 0) {
		rc = -errno;
		close(t->fd);
		free(t);
		return rc;
	}
	t->events = POLLIN;
	t->samples = samples;
	*out = t;
	return 0;
}
