/* SPDX-License-Identifier: BSD-3-Clause */
#include "mg_slab.h"

#include <string.h>

#include "mg_asan.h"

void mg_slab_init(struct mg_slab *s, size_t size, size_t align, unsigned per_chunk, int locked,
		  void *(*chunk_alloc)(size_t bytes, size_t align), void (*chunk_free)(void *chunk))
{
	memset(s, 0, sizeof(*s));
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (size < sizeof(void *))
		size = sizeof(void *);
	s->size = (size + align - 1) & ~(align - 1);
	s->align = align;
	s->per_chunk = per_chunk ? per_chunk : 1;
	s->locked = locked;
	s->chunk_alloc = chunk_alloc;
	s->chunk_free = chunk_free;
	pthread_mutex_init(&s->lock, NULL);
}

/* A new chunk's objects onto the free list (lock held). */
static int slab_grow(struct mg_slab *s)
{
	unsigned n = MG_ASAN ? 1 : s->per_chunk;
	char *c = s->chunk_alloc(s->size * n, s->align);

	if (c == NULL)
		return -1;
	for (unsigned i = n; i-- > 0;) {
		void *o = c + (size_t)i * s->size;

		*(void **)o = s->free_list;
		s->free_list = o;
	}
	s->chunks++;
	return 0;
}

void *mg_slab_get(struct mg_slab *s)
{
	void *o = NULL;

	if (s->locked)
		pthread_mutex_lock(&s->lock);
	if (s->free_list != NULL || slab_grow(s) == 0) {
		o = s->free_list;
		s->free_list = *(void **)o;
		s->in_use++;
	}
	if (s->locked)
		pthread_mutex_unlock(&s->lock);
	if (o != NULL)
		memset(o, 0, s->size);
	return o;
}

void mg_slab_put(struct mg_slab *s, void *obj)
{
	if (obj == NULL)
		return;
	if (s->locked)
		pthread_mutex_lock(&s->lock);
	s->in_use--;
	if (MG_ASAN && s->chunk_free != NULL) {
		s->chunks--;
		s->chunk_free(obj);
	} else {
		*(void **)obj = s->free_list;
		s->free_list = obj;
	}
	if (s->locked)
		pthread_mutex_unlock(&s->lock);
}

int mg_slab_objects_apart(void)
{
	return MG_ASAN;
}

size_t mg_slab_bytes(const struct mg_slab *s)
{
	return s->chunks * s->size * (MG_ASAN ? 1 : s->per_chunk);
}
