/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_tdm_jb.h
 * @brief Adaptive jitter buffer for the RTP → TDM direction of one channel.
 *
 * Packets (G.711 payload, RTP sequence number and timestamp, arrival time)
 * are pushed as they come; the TDM thread pops exactly one frame per frame
 * period (20 ms for 160-sample frames) and always gets a full frame back:
 * the packet due at that time, a loss concealment frame, or silence.
 *
 * - Reordering: packets are placed by timestamp, so any order before their
 *   playout time is fine.
 * - Loss: a missing frame is concealed by repeating the last good frame with
 *   a fading gain (five frames, then silence).
 * - Late packets (due before the playout point) are dropped and counted, and
 *   raise the target depth: lateness is the sign that the buffer is short.
 * - Adaptive depth: the target follows the RFC 3550 interarrival jitter
 *   estimate (target = 1 + ceil(3 J / frame)), never below a floor raised by
 *   late packets and underruns and lowered again after quiet periods; a
 *   buffer deeper than target + 1 for half a second drops one frame.
 * - Silence suppression / talk spurts: when the buffer runs dry, playout
 *   waits (concealing) and re-fills to the target depth from the oldest
 *   packet it then holds, so a gap in the stream does not add delay.
 *
 * Fixed size (no allocation), no locks, no syscalls: the caller supplies
 * arrival times. One buffer belongs to one thread.
 */
#ifndef MG_TDM_JB_H
#define MG_TDM_JB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_tdm_g711.h"

#define MG_JB_SLOTS 64            /**< ring size in frames (1.28 s at 20 ms) */
#define MG_JB_MAX_FRAME 160       /**< bytes of one frame, at most */

/** Counters; every packet pushed ends up in exactly one of the push counters. */
struct mg_jb_stats {
	uint64_t pushed;      /**< accepted into the buffer */
	uint64_t reordered;   /**< accepted, but older than a packet already seen */
	uint64_t late;        /**< dropped: due before the playout point */
	uint64_t duplicate;   /**< dropped: that frame is already buffered */
	uint64_t overflow;    /**< dropped: too far ahead of playout */
	uint64_t bad_size;    /**< dropped: payload not a whole number of frames */
	uint64_t resync;      /**< timestamp jump: buffer restarted */
	uint64_t played;      /**< pops that returned a real frame */
	uint64_t concealed;   /**< pops that returned a concealment frame */
	uint64_t silence;     /**< pops that returned silence (idle, prefetch, long loss) */
	uint64_t underrun;    /**< the buffer ran dry while playing */
	uint64_t shrunk;      /**< frames dropped to shrink toward the target */
};

/** What a pop returned. */
enum mg_jb_frame {
	MG_JB_FRAME_NORMAL,    /**< the packet due now */
	MG_JB_FRAME_CONCEALED, /**< repeat of the last good frame, fading */
	MG_JB_FRAME_SILENCE,   /**< nothing to play */
};

/** What a push did with the packet. */
enum mg_jb_push {
	MG_JB_PUSH_OK,
	MG_JB_PUSH_LATE,
	MG_JB_PUSH_DUPLICATE,
	MG_JB_PUSH_OVERFLOW,
	MG_JB_PUSH_BAD_SIZE,
};

/** Tuning; zeroes pick the defaults shown. */
struct mg_jb_config {
	enum mg_law law;          /**< law of the payload (for concealment and silence) */
	unsigned frame_samples;   /**< samples (bytes) per frame: 160 */
	unsigned min_frames;      /**< lowest target depth: 1 */
	unsigned max_frames;      /**< highest target depth: 10 (200 ms) */
	unsigned start_frames;    /**< initial target: 2 */
};

/** One buffer. Embed it; treat the fields as private. */
struct mg_jb {
	struct mg_jb_config cfg;
	struct mg_jb_stats stats;
	bool have_base;
	uint32_t play_idx;        /**< frame counter of play_ts: slots are indexed by it,
				       so timestamp wrap-around never moves a frame's slot */
	bool playing;
	uint32_t play_ts;         /**< RTP timestamp of the next frame to play */
	uint32_t newest_end;      /**< timestamp just past the newest buffered frame */
	uint16_t max_seq;
	uint32_t jitter_q4;       /**< RFC 3550 J in samples, times 16 */
	int64_t last_transit;
	bool have_transit;
	unsigned floor_frames;    /**< raised by late packets and underruns */
	unsigned quiet_pops;      /**< pops since the floor was last raised */
	unsigned deep_pops;       /**< consecutive pops deeper than target + 1 */
	unsigned lost_run;        /**< consecutive concealed frames */
	uint8_t last_good[MG_JB_MAX_FRAME];
	bool have_last_good;
	uint32_t slot_ts[MG_JB_SLOTS];
	bool slot_used[MG_JB_SLOTS];
	uint8_t slot[MG_JB_SLOTS][MG_JB_MAX_FRAME];
};

/** Initialise @p jb; -EINVAL if frame_samples > MG_JB_MAX_FRAME or min > max. */
int mg_jb_init(struct mg_jb *jb, const struct mg_jb_config *cfg);

/** Forget every buffered frame and the timing history (new stream / SSRC). */
void mg_jb_reset(struct mg_jb *jb);

/**
 * Add a packet. @p len must be a multiple of the frame size (20, 40, 60 ms
 * packets are split into frames). @p arrival_us: any monotonic clock.
 */
enum mg_jb_push mg_jb_push(struct mg_jb *jb, uint16_t seq, uint32_t ts, const uint8_t *payload,
			   size_t len, uint64_t arrival_us);

/** Take the next frame (frame_samples bytes into @p out). Call once per frame period. */
enum mg_jb_frame mg_jb_pop(struct mg_jb *jb, uint8_t *out);

/** Frames buffered from the playout point to the newest packet. */
unsigned mg_jb_depth(const struct mg_jb *jb);

/** Current target depth in frames. */
unsigned mg_jb_target(const struct mg_jb *jb);

/** Current interarrival jitter estimate in samples. */
static inline unsigned mg_jb_jitter(const struct mg_jb *jb)
{
	return jb->jitter_q4 >> 4;
}

#endif
