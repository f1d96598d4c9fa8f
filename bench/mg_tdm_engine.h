/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_engine.h
 * @brief The per-frame work of a TDM thread, without the thread: bearer
 * channels bound to calls, driven by a 20 ms timer on the span clock.
 *
 * Each period the engine, for every attached port:
 * - reads the blocks the channel has (TDM → RTP), converts them from the
 *   span's law to the call's law and hands them to the rx callback (the
 *   dataplane packetises and encrypts them; a test loops them back);
 * - pops one frame per elapsed period from the port's jitter buffer (RTP →
 *   TDM, already in the span's law) and writes it.
 * RTP payloads enter with mg_tdm_engine_push() (call law, converted on the
 * way in). Every call is made on the engine's thread; nothing here locks,
 * allocates, logs or makes a syscall beyond the channel reads and writes.
 *
 * Users: bench/tdm-bench (mode `engine`) and the unit test, hence its place
 * in bench/ (shared/ holds what both processes compile). The dataplane's
 * TDM thread (dataplane/tdm/dp_tdm.c) runs its own loop around
 * dataplane/tdm/tdm_media, which also does DTMF and echo cancellation.
 */
#ifndef MG_TDM_ENGINE_H
#define MG_TDM_ENGINE_H

#include <stdint.h>

#include "mg_tdm_chan.h"
#include "mg_tdm_jb.h"

/** TDM → RTP: one block of @p len bytes in the call's law. */
typedef void (*mg_tdm_engine_rx_cb)(void *arg, unsigned port, const uint8_t *payload, size_t len);

/**
 * Media processing supplied by the user of the engine (e.g. the dataplane's
 * per-channel media, dataplane/tdm/tdm_media: echo canceller, DTMF with
 * RFC 4733, RTP framing; DTMF exists only there). With it,
 * the engine only moves blocks: every block read goes to from_tdm() and
 * to_tdm() fills the block written each period. Both get the span's law.
 */
struct mg_tdm_media_ops {
	void (*from_tdm)(void *media, unsigned port, const uint8_t *block, size_t len);
	void (*to_tdm)(void *media, unsigned port, uint8_t *block, size_t len);
};

/** Counters of one port. */
struct mg_tdm_port_stats {
	uint64_t rx_blocks;        /**< read from TDM, handed to rx */
	uint64_t tx_blocks;        /**< written to TDM */
	uint64_t tx_refused;       /**< write refused (kernel buffers full): dropped */
	uint64_t events;           /**< channel events taken */
	uint64_t read_errors;
};

/** One bearer bound to a call. */
struct mg_tdm_port {
	struct mg_tdm_chan *chan;  /**< not owned */
	enum mg_law call_law;
	bool active;
	struct mg_jb jb;           /**< in the span's law */
	struct mg_tdm_port_stats stats;
	/* private: external media (attach_media), NULL for the built-in path */
	const struct mg_tdm_media_ops *media_ops;
	void *media;
};

struct mg_tdm_engine;

/**
 * An engine for up to @p max_ports ports, ticking on @p timer (not owned).
 * NULL with errno on failure.
 */
struct mg_tdm_engine *mg_tdm_engine_new(unsigned max_ports, struct mg_tdm_timer *timer,
					mg_tdm_engine_rx_cb rx, void *arg);

/** Free (ports' channels are not closed). */
void mg_tdm_engine_free(struct mg_tdm_engine *e);

/**
 * Bind @p chan (a bearer, law = the span's) to a call of law @p call_law.
 * @p jbc: jitter buffer tuning (law and frame size are set by the engine;
 * NULL for defaults). Returns the port index or -errno (-ENOSPC: full).
 */
int mg_tdm_engine_attach(struct mg_tdm_engine *e, struct mg_tdm_chan *chan, enum mg_law call_law,
			 const struct mg_jb_config *jbc);

/**
 * Bind @p chan to external media processing @p ops / @p media (not owned):
 * the engine reads and writes, @p ops does everything else (the built-in
 * transcoding, jitter buffer and the rx callback are not used for this
 * port). Returns the port index or -errno.
 */
int mg_tdm_engine_attach_media(struct mg_tdm_engine *e, struct mg_tdm_chan *chan,
			       const struct mg_tdm_media_ops *ops, void *media);

/** Unbind a port (the call ended). */
void mg_tdm_engine_detach(struct mg_tdm_engine *e, unsigned port);

/** The port's state and counters (NULL if out of range). */
const struct mg_tdm_port *mg_tdm_engine_port(const struct mg_tdm_engine *e, unsigned port);

/** RTP → TDM: queue an RTP payload (call law) for playout on @p port. */
enum mg_jb_push mg_tdm_engine_push(struct mg_tdm_engine *e, unsigned port, uint16_t seq,
				   uint32_t ts, const uint8_t *payload, size_t len,
				   uint64_t arrival_us);

/**
 * Wait up to @p timeout_ms for the timer, then do the work of every period
 * that elapsed. Returns the number of periods done (0 on timeout) or -errno.
 */
int mg_tdm_engine_run_once(struct mg_tdm_engine *e, int timeout_ms);

#endif
