/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_lfpool.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mg_asan.h"

#define LINK(p, i) ((uint32_t *)((p)->base + (size_t)(i) * (p)->size))

/* AddressSanitizer: a given-back object is poisoned but for its link word
 * (which get() reads, also racily), so a use after put is caught. */
#if MG_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(o, n) ASAN_POISON_MEMORY_REGION((uint8_t *)(o) + sizeof(uint32_t), (n) - sizeof(uint32_t))
#define UNPOISON(o, n) ASAN_UNPOISON_MEMORY_REGION((o), (n))
#else
#define POISON(o, n) ((void)(o), (void)(n))
#define UNPOISON(o, n) ((void)(o), (void)(n))
#endif

int mg_lfpool_init(struct mg_lfpool *p, size_t size, uint32_t n)
{
	memset(p, 0, sizeof(*p));
	if (size == 0 || n == 0 || n == UINT32_MAX)
		return -EINVAL;
	p->size = (size + 7) & ~(size_t)7;
	p->n = n;
	p->map_len = p->size * n;
	p->base = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p->base == MAP_FAILED) {
		memset(p, 0, sizeof(*p));
		return -ENOMEM;
	}
	return 0;
}

void mg_lfpool_fini(struct mg_lfpool *p)
{
	if (p->base) {
		UNPOISON(p->base, p->map_len);
		munmap(p->base, p->map_len);
	}
	memset(p, 0, sizeof(*p));
}

void *mg_lfpool_get(struct mg_lfpool *p)
{
	uint64_t h = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE);
	uint32_t f;

	while ((uint32_t)h != 0) {
		uint32_t i = (uint32_t)h - 1;
		/* may be stale if another thread takes i meanwhile: then the
		 * tag has moved on and the exchange fails */
		uint32_t next = __atomic_load_n(LINK(p, i), __ATOMIC_RELAXED);
		uint64_t nh = ((h >> 32) + 1) << 32 | next;

		if (__atomic_compare_exchange_n(&p->head, &h, nh, 1, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			UNPOISON(LINK(p, i), p->size);
			__atomic_store_n(LINK(p, i), 0, __ATOMIC_RELAXED);
			__atomic_fetch_add(&p->in_use, 1, __ATOMIC_RELAXED);
			return LINK(p, i);
		}
	}
	f = __atomic_load_n(&p->fresh, __ATOMIC_RELAXED);
	while (f < p->n) {
		if (__atomic_compare_exchange_n(&p->fresh, &f, f + 1, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			__atomic_fetch_add(&p->in_use, 1, __ATOMIC_RELAXED);
			return LINK(p, f);
		}
	}
	__atomic_fetch_add(&p->empty, 1, __ATOMIC_RELAXED);
	return NULL;
}

void mg_lfpool_put(struct mg_lfpool *p, void *obj)
{
	uint32_t i;
	uint64_t h, nh;

	if (!obj)
		return;
	i = (uint32_t)(((uint8_t *)obj - p->base) / p->size);
	POISON(obj, p->size);
	h = __atomic_load_n(&p->head, __ATOMIC_RELAXED);
	do {
		__atomic_store_n(LINK(p, i), (uint32_t)h, __ATOMIC_RELAXED);
		nh = ((h >> 32) + 1) << 32 | (i + 1);
	} while (!__atomic_compare_exchange_n(&p->head, &h, nh, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	__atomic_fetch_sub(&p->in_use, 1, __ATOMIC_RELAXED);
}

uint64_t mg_lfpool_in_use(const struct mg_lfpool *p)
{
	return __atomic_load_n(&p->in_use, __ATOMIC_RELAXED);
}

uint64_t mg_lfpool_empty(const struct mg_lfpool *p)
{
	return __atomic_load_n(&p->empty, __ATOMIC_RELAXED);
}
