/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_chan.h
 * @brief TDM channel layer: one interface, several backends.
 *
 * A channel is a bearer (B) or signalling (D) timeslot opened by its DAHDI
 * channel number. Bearer channels move fixed blocks (160 bytes = 20 ms of
 * G.711 at 8 kHz); D-channels move whole HDLC frames. Every channel has a
 * non-blocking file descriptor to put in poll(): POLLIN when a block (or
 * frame) can be read, POLLPRI (dahdi) or POLLIN (socketpair) for an event.
 * A read returns -ENOMSG when an event is waiting: take it with
 * mg_tdm_chan_get_event() and read again.
 *
 * Backends:
 * - dahdi: the kernel API of dahdi/user.h through `<devdir>/channel`
 *   (DAHDI_SPECIFY, DAHDI_SET_BLOCKSIZE, DAHDI_SETLAW, DAHDI_SET_BUFINFO,
 *   DAHDI_GET_PARAMS, DAHDI_GETEVENT). devdir is /dev/dahdi in production
 *   (mediagate.tdm.devicePath) or the mount point of tests/dahdi-emu.
 * - socketpair: two channels joined back to back in one process, for unit
 *   tests; events are injected from the other end.
 *
 * The read/write calls are the per-frame path: no allocation, no logging.
 */
#ifndef MG_TDM_CHAN_H
#define MG_TDM_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_tdm_g711.h"

#define MG_TDM_BLOCK 160           /**< 20 ms of G.711 */
#define MG_TDM_MAX_BLOCK 1024      /**< largest block size accepted */
#define MG_TDM_HDLC_MAX 1024       /**< largest D-channel frame (with 2 FCS bytes) */

/** Channel events (from DAHDI_GETEVENT, or injected on a socketpair). */
enum mg_tdm_event {
	MG_TDM_EV_NONE = 0,
	MG_TDM_EV_ALARM,          /**< span in alarm: layer 1 down */
	MG_TDM_EV_NOALARM,        /**< alarm cleared */
	MG_TDM_EV_HDLC_ABORT,     /**< D-channel: frame aborted */
	MG_TDM_EV_HDLC_OVERRUN,   /**< D-channel: receive overrun */
	MG_TDM_EV_HDLC_BADFCS,    /**< D-channel: bad frame check sequence */
	MG_TDM_EV_READ_OVERRUN,   /**< bearer: receive buffers overflowed */
	MG_TDM_EV_WRITE_UNDERRUN, /**< bearer: transmit ran dry */
	MG_TDM_EV_REMOVED,        /**< the device went away */
	MG_TDM_EV_OTHER,          /**< anything else; see the raw code */
};

/** What mg_tdm_chan_get_params() reports. */
struct mg_tdm_params {
	unsigned channo;          /**< global channel number */
	unsigned spanno;          /**< span */
	unsigned chanpos;         /**< timeslot within the span */
	enum mg_law law;
	unsigned blocksize;
	uint32_t alarms;          /**< DAHDI alarm bits, 0 when the channel is fine */
	char name[40];
};

/** How to open a channel. Zeroes pick the defaults. */
struct mg_tdm_open_opts {
	unsigned blocksize;       /**< bearer block: 160 */
	enum mg_law law;          /**< bearer law */
	bool set_law;             /**< false: keep the span's default law */
	bool hdlc;                /**< D-channel: frames, no block size or law */
	unsigned numbufs;         /**< kernel buffers: 4 bearer, 16 HDLC */
};

/** Per-channel counters (read by the TDM thread's statistics). */
struct mg_tdm_chan_stats {
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint64_t rx_eagain;       /**< read found nothing (spurious wake-up) */
	uint64_t tx_eagain;       /**< write refused: kernel buffers full */
	uint64_t events;
	uint64_t errors;          /**< any other read/write failure */
};

struct mg_tdm_chan;

/** Backend operations; every int function returns 0 or -errno. */
struct mg_tdm_chan_ops {
	const char *name;
	int (*set_blocksize)(struct mg_tdm_chan *c, unsigned size);
	int (*set_law)(struct mg_tdm_chan *c, enum mg_law law);
	ssize_t (*read)(struct mg_tdm_chan *c, void *buf, size_t len);
	ssize_t (*write)(struct mg_tdm_chan *c, const void *buf, size_t len);
	int (*get_event)(struct mg_tdm_chan *c, enum mg_tdm_event *ev, int *raw);
	int (*get_params)(struct mg_tdm_chan *c, struct mg_tdm_params *p);
	void (*close)(struct mg_tdm_chan *c);
};

/** An open channel. Fields are read-only for users. */
struct mg_tdm_chan {
	const struct mg_tdm_chan_ops *ops;
	int fd;                   /**< non-blocking; for poll() */
	unsigned channo;
	unsigned blocksize;
	enum mg_law law;
	bool hdlc;
	struct mg_tdm_chan_stats stats;
	void *backend;            /**< backend private state */
};

/**
 * Open DAHDI channel @p channo through `<devdir>/channel` and configure it
 * per @p opts (NULL: a bearer with 160-byte blocks and the span's law).
 * Returns 0 and *out, or -errno (-ENOENT: no such device directory or
 * channel, -EINVAL: a setting the driver refused).
 */
int mg_tdm_dahdi_open(const char *devdir, unsigned channo, const struct mg_tdm_open_opts *opts,
		      struct mg_tdm_chan **out);

/**
 * Two channels numbered @p channo joined back to back (a block written on
 * one is read on the other). Blocks and HDLC frames keep their boundaries.
 */
int mg_tdm_socketpair_open(unsigned channo, const struct mg_tdm_open_opts *opts,
			   struct mg_tdm_chan **a, struct mg_tdm_chan **b);

/**
 * Make @p ev appear on the channel joined to @p c (socketpair backend only;
 * -EOPNOTSUPP on others).
 */
int mg_tdm_socketpair_inject_event(struct mg_tdm_chan *c, enum mg_tdm_event ev);

/** Close and free (NULL is fine). */
void mg_tdm_chan_close(struct mg_tdm_chan *c);

/** Change the block size (bearer only): -EINVAL outside 16..MG_TDM_MAX_BLOCK. */
int mg_tdm_chan_set_blocksize(struct mg_tdm_chan *c, unsigned size);

/** Change the law (bearer only). */
int mg_tdm_chan_set_law(struct mg_tdm_chan *c, enum mg_law law);

/**
 * Read one block (bearer) or frame (HDLC). Returns the byte count, -EAGAIN
 * when nothing is ready, -ENOMSG when an event waits, other -errno on failure.
 */
static inline ssize_t mg_tdm_chan_read(struct mg_tdm_chan *c, void *buf, size_t len)
{
	return c->ops->read(c, buf, len);
}

/** Write one block or frame: byte count, -EAGAIN when buffers are full, -errno. */
static inline ssize_t mg_tdm_chan_write(struct mg_tdm_chan *c, const void *buf, size_t len)
{
	return c->ops->write(c, buf, len);
}

/** Take the pending event (MG_TDM_EV_NONE if none); @p raw gets the backend's code. */
int mg_tdm_chan_get_event(struct mg_tdm_chan *c, enum mg_tdm_event *ev, int *raw);

/** Read the channel's parameters. */
int mg_tdm_chan_get_params(struct mg_tdm_chan *c, struct mg_tdm_params *p);

/** Name of an event ("alarm", "noalarm", ...). */
const char *mg_tdm_event_name(enum mg_tdm_event ev);

/* ---- timers -------------------------------------------------------------
 * A TDM thread should run on the span's clock, not the host's: two clocks
 * drift, and the difference ends as receive overruns or transmit underruns.
 * DAHDI's timer device counts samples of the span clock; the host timer
 * (timerfd) is the stand-in where there is no DAHDI (socketpair tests). */

/** A periodic timer. Poll timer->fd for timer->events; then mg_tdm_timer_ack(). */
struct mg_tdm_timer {
	int fd;
	short events;             /**< POLLPRI (dahdi) or POLLIN (host) */
	bool dahdi;
	unsigned samples;
};

/**
 * DAHDI timer: open `<devdir>/timer`, DAHDI_TIMERCONFIG to fire every
 * @p samples samples (160 = 20 ms). 0 or -errno.
 */
int mg_tdm_timer_open_dahdi(const char *devdir, unsigned samples, struct mg_tdm_timer **out);

/** Host timer (timerfd, CLOCK_MONOTONIC) firing every @p samples / 8 ms. */
int mg_tdm_timer_open_host(unsigned samples, struct mg_tdm_timer **out);

/**
 * Acknowledge expirations: returns how many periods passed since the last
 * ack (0 if none; more than 1 means the thread was late), or -errno.
 */
int mg_tdm_timer_ack(struct mg_tdm_timer *t);

/** Close and free (NULL is fine). */
void mg_tdm_timer_close(struct mg_tdm_timer *t);

#endif
