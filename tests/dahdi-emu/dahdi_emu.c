/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dahdi-emu: a FUSE file system that behaves like /dev/dahdi for the
 * channel API, so mediagate's real dahdi backend runs without the kernel
 * module (this kernel has FUSE but no CUSE).
 *
 *   dahdi-emu [-c system.conf | -s NSPANS] [-t e1|t1] MOUNTPOINT
 *
 * Files: `channel` (open, then DAHDI_SPECIFY), `1`, `2`, ... (bound to that
 * channel at open, like the old /dev/dahdi/N nodes), `timer` (DAHDI's
 * timer: TIMERCONFIG in samples, POLLPRI and TIMER_EXPIRED when it trips,
 * TIMERACK), and `emu` (write
 * "alarm N" / "noalarm N" to raise or clear span N's red alarm; read for
 * counters).
 *
 * Spans are joined in pairs back to back: span 1 <-> span 2, 3 <-> 4, ...;
 * timeslot k of one span is wired to timeslot k of the other. A clock
 * thread moves 160 bytes (20 ms at 8 kHz) per direction per bearer every
 * 20 ms whether or not anyone wrote: what was not written goes out as the
 * idle code of the writer's law, as a real line does. D-channels (dchan,
 * hardhdlc) carry whole frames (HDLC).
 *
 * DAHDI's ioctl numbers encode direction and size (_IOR/_IOW/_IOWR of an int
 * or a fixed struct), which is what FUSE's restricted ioctl mode needs: the
 * kernel copies _IOC_SIZE(cmd) bytes in and out. Every ioctl served here is
 * of that kind. Reads fail with ELAST while an event waits, as DAHDI's do.
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dahdi/user.h>

#include "mg_tdm_g711.h"
#include "mg_tdm_sysconf.h"

#define EMU_TICK_NS 20000000L
#define EMU_TICK_BYTES 160
#define EMU_MAX_BUF 8192          /* DAHDI_MAX_BLOCKSIZE */
#define EMU_MAX_NUMBUFS 32
#define EMU_HDLC_QUEUE 16
#define EMU_HDLC_MAX 1024
#define EMU_MAX_EVENTS 16
#define EMU_MAX_CATCHUP 5         /* ticks made up after a stall, then resync */

struct emu_frame {
	uint16_t len;
	uint8_t data[EMU_HDLC_MAX];
};

/* A byte FIFO of fixed capacity. */
struct emu_ring {
	uint8_t buf[EMU_MAX_BUF * 2];
	unsigned head, len, cap;
};

struct emu_chan {
	unsigned channo, span, chanpos, peer;
	bool exists, hdlc, open;
	enum mg_law law, default_law;
	unsigned blocksize, numbufs;
	struct emu_ring rx, tx;
	struct emu_frame *hrx, *htx; /* HDLC queues, EMU_HDLC_QUEUE each */
	unsigned hrx_n, htx_n;
	int events[EMU_MAX_EVENTS];
	unsigned n_events;
	struct fuse_pollhandle *ph;
	uint64_t rx_bytes, tx_bytes, rx_overrun, idle_ticks;
};

struct emu_fh {
	unsigned channo; /* 0 until bound */
	bool nonblock;
	bool ctl;
	bool timer;
	/* timer: fires every `interval` samples of the emulated span clock */
	int interval, pos, tripped;
	struct fuse_pollhandle *ph;
};

#define EMU_MAX_TIMERS 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* signalled when a file handle is released (see bind_chan) */
	pthread_cond_t released;
	struct mg_tdm_sysconf *sc;
	struct emu_chan chans[MG_TDM_MAX_CHANNO + 1];
	unsigned max_chan;
	uint32_t span_alarm[MG_TDM_MAX_SPANS + 1];
	struct emu_fh *timers[EMU_MAX_TIMERS];
	pthread_t clock;
	bool stop;
	uint64_t ticks, late_ticks;
} emu = {.lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER,
	 .released = PTHREAD_COND_INITIALIZER};

/* ---- rings ------------------------------------------------------------- */

static unsigned ring_space(const struct emu_ring *r)
{
	return r->cap - r->len;
}

static void ring_put(struct emu_ring *r, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		r->buf[(r->head + r->len + i) % sizeof(r->buf)] = p[i];
	r->len += n;
}

static void ring_get(struct emu_ring *r, uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = r->buf[(r->head + i) % sizeof(r->buf)];
	r->head = (r->head + n) % sizeof(r->buf);
	r->len -= n;
}

static void ring_reset(struct emu_ring *r, unsigned cap)
{
	r->head = r->len = 0;
	r->cap = cap > sizeof(r->buf) ? sizeof(r->buf) : cap;
}

/* ---- channel state (emu.lock held) ------------------------------------- */

static void chan_reset(struct emu_chan *c)
{
	c->law = c->default_law;
	c->blocksize = c->hdlc ? EMU_HDLC_MAX : 160;
	c->numbufs = c->hdlc ? EMU_HDLC_QUEUE : 4;
	ring_reset(&c->rx, c->blocksize * c->numbufs);
	ring_reset(&c->tx, c->blocksize * c->numbufs);
	c->hrx_n = c->htx_n = 0;
	c->n_events = 0;
}

static void chan_event(struct emu_chan *c, int ev)
{
	if (c->n_events < EMU_MAX_EVENTS)
		c->events[c->n_events++] = ev;
}

static bool chan_readable(const struct emu_chan *c)
{
	return c->hdlc ? c->hrx_n > 0 : c->rx.len >= c->blocksize;
}

static bool chan_writable(const struct emu_chan *c)
{
	return c->hdlc ? c->htx_n < EMU_HDLC_QUEUE : ring_space(&c->tx) >= c->blocksize;
}

static void chan_wake(struct emu_chan *c)
{
	if (c->ph) {
		fuse_notify_poll(c->ph);
		fuse_pollhandle_destroy(c->ph);
		c->ph = NULL;
	}
}

/* One 20 ms tick from @p a to @p b. */
static void carry(struct emu_chan *a, struct emu_chan *b)
{
	uint8_t blk[EMU_TICK_BYTES];
	unsigned n;

	if (a->hdlc) {
		/* a D-channel runs at 64 kbit/s too, but LAPD frames are small:
		 * deliver what is queued, a few frames per tick */
		for (unsigned k = 0; k < 4 && a->htx_n; k++) {
			if (b->open && b->hrx_n < EMU_HDLC_QUEUE)
				b->hrx[b->hrx_n++] = a->htx[0];
			else if (b->open)
				b->rx_overrun++;
			memmove(&a->htx[0], &a->htx[1], --a->htx_n * sizeof(a->htx[0]));
		}
		return;
	}
	n = a->open ? (a->tx.len < EMU_TICK_BYTES ? a->tx.len : EMU_TICK_BYTES) : 0;
	if (n)
		ring_get(&a->tx, blk, n);
	if (n < EMU_TICK_BYTES) {
		/* nothing (or too little) written: the line carries idle code */
		memset(blk + n, mg_g711_silence(a->open ? a->law : a->default_law),
		       EMU_TICK_BYTES - n);
		if (a->open)
			a->idle_ticks++;
	}
	a->tx_bytes += n;
	if (!b->open)
		return;
	if (ring_space(&b->rx) < EMU_TICK_BYTES) {
		/* reader too slow: drop the oldest audio, keep the newest */
		uint8_t junk[EMU_TICK_BYTES];
		unsigned drop = EMU_TICK_BYTES - ring_space(&b->rx);

		ring_get(&b->rx, junk, drop);
		b->rx_overrun += drop;
	}
	ring_put(&b->rx, blk, EMU_TICK_BYTES);
	b->rx_bytes += EMU_TICK_BYTES;
}

static void tick(void)
{
	for (unsigned i = 1; i <= emu.max_chan; i++) {
		struct emu_chan *a = &emu.chans[i];

		if (!a->exists || !a->peer)
			continue;
		carry(a, &emu.chans[a->peer]);
	}
	for (unsigned i = 1; i <= emu.max_chan; i++) {
		struct emu_chan *c = &emu.chans[i];

		if (c->open && c->ph && (chan_readable(c) || chan_writable(c) || c->n_events))
			chan_wake(c);
	}
	for (unsigned i = 0; i < EMU_MAX_TIMERS; i++) {
		struct emu_fh *t = emu.timers[i];

		if (!t || t->interval <= 0)
			continue;
		for (t->pos -= EMU_TICK_BYTES; t->pos <= 0; t->pos += t->interval)
			t->tripped++;
		if (t->tripped && t->ph) {
			fuse_notify_poll(t->ph);
			fuse_pollhandle_destroy(t->ph);
			t->ph = NULL;
		}
	}
	emu.ticks++;
	pthread_cond_broadcast(&emu.cond);
}

static void ts_add(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static void *clock_main(void *arg)
{
	struct timespec next, now;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		int64_t behind;
		unsigned due = 0;

		ts_add(&next, EMU_TICK_NS);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		pthread_mutex_lock(&emu.lock);
		if (emu.stop) {
			pthread_mutex_unlock(&emu.lock);
			break;
		}
		/* a line does not stop when the host is busy: make up missed
		 * ticks (a few), then start again from now */
		clock_gettime(CLOCK_MONOTONIC, &now);
		behind = (int64_t)(now.tv_sec - next.tv_sec) * 1000000000LL +
			 (now.tv_nsec - next.tv_nsec);
		do {
			tick();
			due++;
			if (behind >= EMU_TICK_NS) {
				ts_add(&next, EMU_TICK_NS);
				behind -= EMU_TICK_NS;
				emu.late_ticks++;
			}
		} while (behind >= EMU_TICK_NS && due < EMU_MAX_CATCHUP);
		if (behind >= EMU_TICK_NS)
			next = now;
		pthread_mutex_unlock(&emu.lock);
	}
	return NULL;
}

/* ---- file system ------------------------------------------------------- */

static int path_chan(const char *path)
{
	char *end;
	unsigned long n;

	if (path[0] != '/' || path[1] < '1' || path[1] > '9')
		return -1;
	n = strtoul(path + 1, &end, 10);
	if (*end || n > emu.max_chan || !emu.chans[n].exists)
		return -1;
	return (int)n;
}

static int emu_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (!strcmp(path, "/channel") || !strcmp(path, "/emu") || !strcmp(path, "/timer") ||
	    path_chan(path) > 0) {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		return 0;
	}
	return -ENOENT;
}

static int emu_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	char name[16];

	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "channel", NULL, 0, 0);
	fill(buf, "emu", NULL, 0, 0);
	fill(buf, "timer", NULL, 0, 0);
	for (unsigned i = 1; i <= emu.max_chan; i++) {
		if (!emu.chans[i].exists)
			continue;
		snprintf(name, sizeof(name), "%u", i);
		fill(buf, name, NULL, 0, 0);
	}
	return 0;
}

/*
 * Bind @p fh to channel @p n (lock held). DAHDI allows one opener.
 *
 * The kernel driver releases a channel inside the opener's close(), so a
 * close() followed by an open() of the same channel always succeeds. FUSE
 * delivers RELEASE asynchronously: close() returns before our release
 * handler has run, and an immediate re-open would see the channel still
 * open and fail with EBUSY where real DAHDI would not. So a busy channel
 * waits up to 500 ms for a release in flight before it is called busy; a
 * channel that stays open (a real second opener) still gets EBUSY.
 */
static int bind_chan(struct emu_fh *fh, unsigned n)
{
	struct emu_chan *c;
	struct timespec until;

	if (n == 0 || n > emu.max_chan || !emu.chans[n].exists)
		return -ENXIO;
	c = &emu.chans[n];
	if (fh->channo == n)
		return 0;
	if (c->open) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 500 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (c->open)
			if (pthread_cond_timedwait(&emu.released, &emu.lock, &until) == ETIMEDOUT)
				break;
	}
	if (c->open)
		return -EBUSY;
	if (fh->channo) {
		emu.chans[fh->channo].open = false;
		chan_wake(&emu.chans[fh->channo]);
		pthread_cond_broadcast(&emu.released);
	}
	chan_reset(c);
	c->open = true;
	fh->channo = n;
	return 0;
}

static int emu_open(const char *path, struct fuse_file_info *fi)
{
	struct emu_fh *fh = calloc(1, sizeof(*fh));
	int n, rc = 0;

	if (!fh)
		return -ENOMEM;
	fh->nonblock = (fi->flags & O_NONBLOCK) != 0;
	if (!strcmp(path, "/emu")) {
		fh->ctl = true;
	} else if (!strcmp(path, "/timer")) {
		fh->timer = true;
		pthread_mutex_lock(&emu.lock);
		rc = -EMFILE;
		for (unsigned i = 0; i < EMU_MAX_TIMERS; i++) {
			if (!emu.timers[i]) {
				emu.timers[i] = fh;
				rc = 0;
				break;
			}
		}
		pthread_mutex_unlock(&emu.lock);
	} else if ((n = path_chan(path)) > 0) {
		pthread_mutex_lock(&emu.lock);
		rc = bind_chan(fh, (unsigned)n);
		pthread_mutex_unlock(&emu.lock);
	} else if (strcmp(path, "/channel")) {
		rc = -ENOENT;
	}
	if (rc) {
		free(fh);
		return rc;
	}
	/* no page cache: every read and write reaches us with its own size */
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->fh = (uintptr_t)fh;
	return 0;
}

static int emu_release(const char *path, struct fuse_file_info *fi)
{
	struct emu_fh *fh = (struct emu_fh *)(uintptr_t)fi->fh;

	(void)path;
	pthread_mutex_lock(&emu.lock);
	for (unsigned i = 0; i < EMU_MAX_TIMERS; i++)
		if (emu.timers[i] == fh)
			emu.timers[i] = NULL;
	if (fh->ph)
		fuse_pollhandle_destroy(fh->ph);
	if (fh->channo) {
		struct emu_chan *c = &emu.chans[fh->channo];

		c->open = false;
		if (c->ph) {
			fuse_pollhandle_destroy(c->ph);
			c->ph = NULL;
		}
		pthread_cond_broadcast(&emu.released);
	}
	pthread_mutex_unlock(&emu.lock);
	free(fh);
	return 0;
}

static int ctl_read(char *buf, size_t size)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int n;

	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&emu.lock);
	fprintf(f, "ticks %" PRIu64 " late %" PRIu64 "\n", emu.ticks, emu.late_ticks);
	for (unsigned i = 1; i <= emu.max_chan; i++) {
		const struct emu_chan *c = &emu.chans[i];

		if (c->exists && (c->open || c->rx_bytes || c->tx_bytes))
			fprintf(f,
				"chan %u span %u pos %u open %d rx %" PRIu64 " tx %" PRIu64
				" overrun %" PRIu64 " idle %" PRIu64 "\n",
				i, c->span, c->chanpos, c->open, c->rx_bytes, c->tx_bytes,
				c->rx_overrun, c->idle_ticks);
	}
	pthread_mutex_unlock(&emu.lock);
	fclose(f);
	n = (int)(len < size ? len : size);
	memcpy(buf, text, (size_t)n);
	free(text);
	return n;
}

union emu_iobuf {
	char *r;       /* read: filled */
	const char *w; /* write: taken */
};

/* Read or write of a channel: @try moves what it can and returns the byte
 * count or an error, or -EAGAIN while the channel is not ready. A pending
 * event fails the call with ELAST, as DAHDI does; a blocking handle waits. */
static int chan_io(struct emu_fh *fh, int (*try)(struct emu_chan *, union emu_iobuf, size_t),
		   union emu_iobuf buf, size_t size)
{
	struct emu_chan *c;
	int n;

	if (fh->timer)
		return -EINVAL;
	pthread_mutex_lock(&emu.lock);
	if (!fh->channo) {
		pthread_mutex_unlock(&emu.lock);
		return -EINVAL;
	}
	c = &emu.chans[fh->channo];
	for (;;) {
		if (c->n_events) {
			n = -ELAST;
			break;
		}
		n = try(c, buf, size);
		if (n != -EAGAIN || fh->nonblock)
			break;
		pthread_cond_wait(&emu.cond, &emu.lock);
	}
	pthread_mutex_unlock(&emu.lock);
	return n;
}

static int chan_try_read(struct emu_chan *c, union emu_iobuf buf, size_t size)
{
	int n;

	if (!chan_readable(c))
		return -EAGAIN;
	if (c->hdlc) {
		n = c->hrx[0].len < size ? c->hrx[0].len : (int)size;
		memcpy(buf.r, c->hrx[0].data, (size_t)n);
		memmove(&c->hrx[0], &c->hrx[1], --c->hrx_n * sizeof(c->hrx[0]));
	} else {
		/* one block per read, as DAHDI does */
		n = (int)(size < c->blocksize ? size : c->blocksize);
		ring_get(&c->rx, (uint8_t *)buf.r, (unsigned)n);
	}
	return n;
}

static int emu_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct emu_fh *fh = (struct emu_fh *)(uintptr_t)fi->fh;

	(void)path;
	if (fh->ctl)
		return off ? 0 : ctl_read(buf, size);
	return chan_io(fh, chan_try_read, (union emu_iobuf){ .r = buf }, size);
}

static int ctl_write(const char *buf, size_t size)
{
	char cmd[64];
	unsigned span;
	size_t n = size < sizeof(cmd) - 1 ? size : sizeof(cmd) - 1;
	bool alarm;

	memcpy(cmd, buf, n);
	cmd[n] = '\0';
	if (sscanf(cmd, "alarm %u", &span) == 1)
		alarm = true;
	else if (sscanf(cmd, "noalarm %u", &span) == 1)
		alarm = false;
	else
		return -EINVAL;
	if (span == 0 || span > MG_TDM_MAX_SPANS || !emu.sc->spans[span].defined)
		return -ENXIO;
	pthread_mutex_lock(&emu.lock);
	emu.span_alarm[span] = alarm ? DAHDI_ALARM_RED : 0;
	for (unsigned i = 1; i <= emu.max_chan; i++) {
		struct emu_chan *c = &emu.chans[i];

		if (c->span == span && c->open) {
			chan_event(c, alarm ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
			chan_wake(c);
		}
	}
	pthread_cond_broadcast(&emu.cond);
	pthread_mutex_unlock(&emu.lock);
	return (int)size;
}

static int chan_try_write(struct emu_chan *c, union emu_iobuf buf, size_t size)
{
	if (c->hdlc) {
		/* a frame carries two FCS bytes at its end, filled by the
		 * hardware: at least address, control and FCS */
		if (size < 4 || size > EMU_HDLC_MAX)
			return -EINVAL;
		if (c->htx_n >= EMU_HDLC_QUEUE)
			return -EAGAIN;
		c->htx[c->htx_n].len = (uint16_t)size;
		memcpy(c->htx[c->htx_n].data, buf.w, size);
		c->htx_n++;
	} else {
		if (size == 0 || size > c->blocksize)
			return -EINVAL;
		if (ring_space(&c->tx) < size)
			return -EAGAIN;
		ring_put(&c->tx, (const uint8_t *)buf.w, (unsigned)size);
	}
	return (int)size;
}

static int emu_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct emu_fh *fh = (struct emu_fh *)(uintptr_t)fi->fh;

	(void)path;
	(void)off;
	if (fh->ctl)
		return ctl_write(buf, size);
	return chan_io(fh, chan_try_write, (union emu_iobuf){ .w = buf }, size);
}

static int ioctl_get_params(struct emu_fh *fh, struct dahdi_params *p)
{
	unsigned n = p->channo ? (unsigned)p->channo : fh->channo;
	const struct emu_chan *c;

	if (n == 0 || n > emu.max_chan || !emu.chans[n].exists)
		return -EINVAL;
	c = &emu.chans[n];
	memset(p, 0, sizeof(*p));
	p->channo = (int)n;
	p->spanno = (int)c->span;
	p->chanpos = (int)c->chanpos;
	p->sigtype = c->hdlc ? DAHDI_SIG_HARDHDLC : DAHDI_SIG_CLEAR;
	p->sigcap = p->sigtype;
	p->curlaw = c->law == MG_LAW_ALAW ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
	snprintf(p->name, sizeof(p->name), "EMU/%u/%u", c->span, c->chanpos);
	p->chan_alarms = emu.span_alarm[c->span];
	return 0;
}

static int ioctl_spanstat(struct dahdi_spaninfo *si)
{
	unsigned s = si->spanno ? (unsigned)si->spanno : 1;
	const struct mg_tdm_span_conf *sp;

	if (s > MG_TDM_MAX_SPANS || !emu.sc->spans[s].defined)
		return -EINVAL;
	sp = &emu.sc->spans[s];
	memset(si, 0, sizeof(*si));
	si->spanno = (int)s;
	snprintf(si->name, sizeof(si->name), "EMU/%u", s);
	snprintf(si->desc, sizeof(si->desc), "dahdi-emu span %u (%s)", s,
		 sp->type == MG_TDM_SPAN_E1 ? "E1" : "T1");
	snprintf(si->spantype, sizeof(si->spantype), "%s",
		 sp->type == MG_TDM_SPAN_E1 ? "E1" : "T1");
	si->alarms = (int)emu.span_alarm[s];
	si->numchans = (int)sp->n_chans;
	si->totalchans = (int)sp->n_chans;
	si->lbo = (int)sp->lbo;
	return 0;
}

static int emu_ioctl(const char *path, unsigned int cmd, void *arg, struct fuse_file_info *fi,
		     unsigned int flags, void *data)
{
	struct emu_fh *fh = (struct emu_fh *)(uintptr_t)fi->fh;
	struct emu_chan *c;
	int *ip = data;
	int rc = 0;

	(void)path;
	(void)arg;
	if (flags & FUSE_IOCTL_COMPAT)
		return -ENOSYS;
	if (fh->ctl)
		return -ENOTTY;
	pthread_mutex_lock(&emu.lock);
	if (fh->timer) {
		switch (cmd) {
		case DAHDI_TIMERCONFIG:
			if (*ip < 0)
				rc = -EINVAL;
			else
				fh->interval = fh->pos = *ip;
			break;
		case DAHDI_TIMERACK:
			/* as DAHDI: out of range (e.g. -1) acknowledges all */
			if (*ip < 1 || *ip > fh->tripped)
				fh->tripped = 0;
			else
				fh->tripped -= *ip;
			break;
		case DAHDI_GETEVENT:
			*ip = fh->tripped ? DAHDI_EVENT_TIMER_EXPIRED : DAHDI_EVENT_NONE;
			break;
		default:
			rc = -ENOTTY;
			break;
		}
		pthread_mutex_unlock(&emu.lock);
		return rc;
	}
	c = fh->channo ? &emu.chans[fh->channo] : NULL;
	switch (cmd) {
	case DAHDI_SPECIFY:
		rc = bind_chan(fh, (unsigned)*ip);
		break;
	case DAHDI_GET_PARAMS:
		rc = ioctl_get_params(fh, data);
		break;
	case DAHDI_SPANSTAT:
		rc = ioctl_spanstat(data);
		break;
	default:
		if (!c) {
			/* every other call needs a bound channel */
			rc = -EINVAL;
			break;
		}
		switch (cmd) {
		case DAHDI_CHANNO:
			*ip = (int)c->channo;
			break;
		case DAHDI_GET_BLOCKSIZE:
			*ip = (int)c->blocksize;
			break;
		case DAHDI_SET_BLOCKSIZE:
			if (c->hdlc || *ip < 16 || *ip > EMU_MAX_BUF) {
				rc = -EINVAL;
				break;
			}
			c->blocksize = (unsigned)*ip;
			ring_reset(&c->rx, c->blocksize * c->numbufs);
			ring_reset(&c->tx, c->blocksize * c->numbufs);
			break;
		case DAHDI_SETLAW:
			if (*ip == DAHDI_LAW_DEFAULT)
				c->law = c->default_law;
			else if (*ip == DAHDI_LAW_MULAW)
				c->law = MG_LAW_ULAW;
			else if (*ip == DAHDI_LAW_ALAW)
				c->law = MG_LAW_ALAW;
			else
				rc = -EINVAL;
			break;
		case DAHDI_GETEVENT:
			*ip = 0;
			if (c->n_events) {
				*ip = c->events[0];
				memmove(&c->events[0], &c->events[1],
					--c->n_events * sizeof(c->events[0]));
			}
			break;
		case DAHDI_GET_BUFINFO: {
			struct dahdi_bufferinfo *bi = data;

			memset(bi, 0, sizeof(*bi));
			bi->numbufs = (int)c->numbufs;
			bi->bufsize = (int)c->blocksize;
			bi->readbufs = (int)(c->hdlc ? c->hrx_n : c->rx.len / c->blocksize);
			bi->writebufs = (int)(c->hdlc ? c->htx_n : c->tx.len / c->blocksize);
			break;
		}
		case DAHDI_SET_BUFINFO: {
			const struct dahdi_bufferinfo *bi = data;

			if (bi->numbufs < 1 || bi->numbufs > EMU_MAX_NUMBUFS || bi->bufsize < 16 ||
			    bi->bufsize > EMU_MAX_BUF ||
			    (unsigned)(bi->numbufs * bi->bufsize) > EMU_MAX_BUF * 2) {
				rc = -EINVAL;
				break;
			}
			/* as in DAHDI, the buffer size becomes the block size */
			c->numbufs = (unsigned)bi->numbufs;
			if (!c->hdlc) {
				c->blocksize = (unsigned)bi->bufsize;
				ring_reset(&c->rx, c->blocksize * c->numbufs);
				ring_reset(&c->tx, c->blocksize * c->numbufs);
			}
			break;
		}
		case DAHDI_FLUSH:
			if (*ip & DAHDI_FLUSH_READ) {
				ring_reset(&c->rx, c->rx.cap);
				c->hrx_n = 0;
			}
			if (*ip & DAHDI_FLUSH_WRITE) {
				ring_reset(&c->tx, c->tx.cap);
				c->htx_n = 0;
			}
			if (*ip & DAHDI_FLUSH_EVENT)
				c->n_events = 0;
			break;
		case DAHDI_HDLCFCSMODE:
			if (!c->hdlc)
				rc = -EINVAL;
			break;
		default:
			rc = -ENOTTY;
			break;
		}
	}
	pthread_mutex_unlock(&emu.lock);
	return rc;
}

static int emu_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		    unsigned *reventsp)
{
	struct emu_fh *fh = (struct emu_fh *)(uintptr_t)fi->fh;
	struct emu_chan *c;
	unsigned ev = 0;

	(void)path;
	if (fh->timer) {
		pthread_mutex_lock(&emu.lock);
		if (ph) {
			if (fh->ph)
				fuse_pollhandle_destroy(fh->ph);
			fh->ph = ph;
		}
		*reventsp = fh->tripped ? POLLPRI : 0;
		pthread_mutex_unlock(&emu.lock);
		return 0;
	}
	if (fh->ctl || !fh->channo) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		*reventsp = POLLIN | POLLOUT;
		return 0;
	}
	pthread_mutex_lock(&emu.lock);
	c = &emu.chans[fh->channo];
	if (ph) {
		if (c->ph)
			fuse_pollhandle_destroy(c->ph);
		c->ph = ph;
	}
	if (chan_readable(c))
		ev |= POLLIN;
	if (chan_writable(c))
		ev |= POLLOUT;
	if (c->n_events)
		ev |= POLLPRI; /* DAHDI reports events as exceptional conditions */
	pthread_mutex_unlock(&emu.lock);
	*reventsp = ev;
	return 0;
}

static void *emu_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->nullpath_ok = 1;
	cfg->direct_io = 1;
	cfg->attr_timeout = 3600;
	cfg->entry_timeout = 3600;
	if (pthread_create(&emu.clock, NULL, clock_main, NULL)) {
		fprintf(stderr, "dahdi-emu: cannot start the clock thread\n");
		exit(1);
	}
	return NULL;
}

static void emu_destroy(void *priv)
{
	(void)priv;
	pthread_mutex_lock(&emu.lock);
	emu.stop = true;
	pthread_mutex_unlock(&emu.lock);
	pthread_join(emu.clock, NULL);
}

static const struct fuse_operations emu_ops = {
	.getattr = emu_getattr,
	.readdir = emu_readdir,
	.open = emu_open,
	.release = emu_release,
	.read = emu_read,
	.write = emu_write,
	.ioctl = emu_ioctl,
	.poll = emu_poll,
	.init = emu_init,
	.destroy = emu_destroy,
};

/* A system.conf for @p n spans of one type: all bearers plus the D-channel. */
static char *gen_sysconf(unsigned n, bool e1)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned base = 1, per = e1 ? 31 : 24;

	if (!f)
		return NULL;
	for (unsigned s = 1; s <= n; s++)
		fprintf(f, "span=%u,%u,0,%s\n", s, s == 1 ? 1 : 0, e1 ? "ccs,hdb3,crc4" : "esf,b8zs");
	for (unsigned s = 1; s <= n; s++, base += per) {
		if (e1)
			fprintf(f, "bchan=%u-%u,%u-%u\nhardhdlc=%u\n", base, base + 14, base + 16,
				base + 30, base + 15);
		else
			fprintf(f, "bchan=%u-%u\nhardhdlc=%u\n", base, base + 22, base + 23);
	}
	fclose(f);
	return text;
}

static void usage(void)
{
	fprintf(stderr, "usage: dahdi-emu [-c system.conf | -s NSPANS] [-t e1|t1] "
			"[-- fuse options] MOUNTPOINT\n"
			"  spans are joined in pairs: 1<->2, 3<->4, ...; NSPANS must be even\n");
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *mnt;
	unsigned nspans = 2;
	bool e1 = true;
	char *fargv[8];
	int fargc = 0, opt, rc;

	while ((opt = getopt(argc, argv, "c:s:t:h")) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			nspans = (unsigned)atoi(optarg);
			break;
		case 't':
			if (!strcmp(optarg, "e1")) {
				e1 = true;
			} else if (!strcmp(optarg, "t1")) {
				e1 = false;
			} else {
				usage();
				return 2;
			}
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || nspans < 2 || nspans > MG_TDM_MAX_SPANS || nspans % 2) {
		usage();
		return 2;
	}
	mnt = argv[optind];
	if (access("/dev/fuse", R_OK | W_OK)) {
		fprintf(stderr, "dahdi-emu: /dev/fuse is not usable (%s): the emulator needs FUSE "
				"(modprobe fuse; run as root)\n", strerror(errno));
		return 1;
	}
	mg_g711_init();
	emu.sc = calloc(1, sizeof(*emu.sc));
	if (!emu.sc)
		return 1;
	if (conf) {
		rc = mg_tdm_sysconf_load(conf, emu.sc, stderr);
	} else {
		char *text = gen_sysconf(nspans, e1);

		rc = text ? mg_tdm_sysconf_parse(text, "generated", emu.sc, stderr) : -ENOMEM;
		free(text);
	}
	if (rc)
		return 1;
	for (unsigned s = 1; s <= MG_TDM_MAX_SPANS; s++) {
		const struct mg_tdm_span_conf *sp = &emu.sc->spans[s];
		const struct mg_tdm_span_conf *peer = &emu.sc->spans[s % 2 ? s + 1 : s - 1];

		if (!sp->defined)
			continue;
		if ((s % 2 && s == MG_TDM_MAX_SPANS) || !peer->defined ||
		    peer->n_chans != sp->n_chans) {
			fprintf(stderr, "dahdi-emu: span %u has no partner of its type (spans are "
					"joined 1<->2, 3<->4, ...)\n", s);
			return 1;
		}
		for (unsigned k = 0; k < sp->n_chans; k++) {
			unsigned n = sp->first_chan + k;
			struct emu_chan *c = &emu.chans[n];
			const struct mg_tdm_chan_conf *cc = &emu.sc->chans[n];

			c->exists = true;
			c->channo = n;
			c->span = s;
			c->chanpos = k + 1;
			c->peer = peer->first_chan + k;
			c->hdlc = cc->kind == MG_TDM_KIND_DCHAN || cc->kind == MG_TDM_KIND_HARDHDLC;
			c->default_law = cc->law;
			if (c->hdlc) {
				c->hrx = calloc(EMU_HDLC_QUEUE, sizeof(struct emu_frame));
				c->htx = calloc(EMU_HDLC_QUEUE, sizeof(struct emu_frame));
				if (!c->hrx || !c->htx)
					return 1;
			}
			chan_reset(c);
			if (n > emu.max_chan)
				emu.max_chan = n;
		}
	}
	static char opt_f[] = "-f", opt_o[] = "-o", opt_fsname[] = "fsname=dahdi-emu";

	fargv[fargc++] = argv[0];
	fargv[fargc++] = opt_f;
	fargv[fargc++] = opt_o;
	fargv[fargc++] = opt_fsname;
	fargv[fargc++] = (char *)(uintptr_t)mnt;
	fargv[fargc] = NULL;
	rc = fuse_main(fargc, fargv, &emu_ops, NULL);
	for (unsigned i = 1; i <= emu.max_chan; i++) {
		free(emu.chans[i].hrx);
		free(emu.chans[i].htx);
	}
	free(emu.sc);
	return rc;
}
