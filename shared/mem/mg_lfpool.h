/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_lfpool.h
 * @brief A fixed array of equal objects handed out and taken back without
 * a lock or an allocation: for objects a packet path must be able to take
 * (a worker) while a control path gives them back (after an RCU grace
 * period), in any number of threads.
 *
 * The array is reserved once (anonymous memory, MAP_NORESERVE): an object
 * costs memory only from the first time it is handed out. Objects never
 * handed out are taken in order from the untouched end; given-back ones go
 * to a lock-free stack (index + ABA tag in one 64-bit word), which is
 * served first. Objects are handed out zeroed: the caller gives one back
 * all zeros (it wipes what it kept there).
 */
#ifndef MG_LFPOOL_H
#define MG_LFPOOL_H

#include <stddef.h>
#include <stdint.h>

struct mg_lfpool {
	uint8_t *base;
	size_t size;       /* bytes per object (a multiple of 8) */
	size_t map_len;
	uint32_t n;        /* objects */
	uint32_t fresh;    /* objects [fresh, n) were never handed out (atomic) */
	uint64_t head;     /* tag << 32 | (index + 1) of the first given-back object, low 0: none (atomic) */
	uint64_t in_use;   /* objects handed out now (atomic) */
	uint64_t empty;    /* gets that found nothing (atomic) */
};

/** Reserve @p n objects of @p size bytes (rounded up to 8); 0 or -ENOMEM /
 * -EINVAL (n or size 0, or more than 2^32 - 1 objects). */
int mg_lfpool_init(struct mg_lfpool *p, size_t size, uint32_t n);

/** Release the array (no object may be in use any more). */
void mg_lfpool_fini(struct mg_lfpool *p);

/** A zeroed object, or NULL when all @c n are handed out (counted in
 * @c empty). Lock-free, never allocates: callable per packet. */
void *mg_lfpool_get(struct mg_lfpool *p);

/** Give back @p obj (from this pool; NULL is fine), which the caller has
 * set to all zeros. Lock-free. */
void mg_lfpool_put(struct mg_lfpool *p, void *obj);

/** Objects handed out now, and gets that found none (relaxed reads). */
uint64_t mg_lfpool_in_use(const struct mg_lfpool *p);
uint64_t mg_lfpool_empty(const struct mg_lfpool *p);

#endif
