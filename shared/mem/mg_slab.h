/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_slab.h
 * @brief Fixed-size object pool for per-session objects: objects are cut
 * from chunks of @c per_chunk objects, so an object costs its size and
 * nothing more (no allocator header, no alignment slack: glibc's
 * aligned_alloc(64, 768) takes ~908 bytes of RSS, DPDK's rte_malloc adds a
 * 64-byte element header to each object).
 *
 * Chunks come from the caller's allocator and are kept for reuse: a freed
 * object goes to the pool's free list, never back to that allocator (memory
 * of a peak stays with the pool, ready for the next sessions). Control path
 * only (get and put may take the pool's lock; they never run per packet).
 *
 * Built with AddressSanitizer, every object is a chunk of its own, freed on
 * put, so a use after free is still caught.
 */
#ifndef MG_SLAB_H
#define MG_SLAB_H

#include <pthread.h>
#include <stddef.h>

struct mg_slab {
	size_t size;          /* object bytes (a multiple of align) */
	size_t align;         /* object alignment (power of two, >= pointer) */
	unsigned per_chunk;   /* objects per chunk */
	int locked;           /* 1: get/put take the lock (several threads) */
	void *(*chunk_alloc)(size_t bytes, size_t align); /* NULL when out of memory */
	void (*chunk_free)(void *chunk);  /* ASan builds only (objects of their own) */
	void *free_list;      /* first free object; its first word links the next */
	size_t in_use;        /* objects handed out */
	size_t chunks;        /* chunks allocated */
	pthread_mutex_t lock;
};

/** Set up a pool of @p size-byte objects (rounded up to @p align). */
void mg_slab_init(struct mg_slab *s, size_t size, size_t align, unsigned per_chunk, int locked,
		  void *(*chunk_alloc)(size_t bytes, size_t align), void (*chunk_free)(void *chunk));

/** An object of the pool, zeroed; NULL when a new chunk cannot be had. */
void *mg_slab_get(struct mg_slab *s);

/** Give an object back (NULL is fine). The caller wipes secrets first. */
void mg_slab_put(struct mg_slab *s, void *obj);

/** 1 when every object is an allocation of its own (an ASan build), so the
 * caller's allocator statistics count the objects themselves. */
int mg_slab_objects_apart(void);

/** Bytes the pool holds (chunks), for reports. */
size_t mg_slab_bytes(const struct mg_slab *s);

#endif
