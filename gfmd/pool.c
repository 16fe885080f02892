/* pool.c — see pool.h. */
#include "pool.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct gf_pool_chunk {
	struct gf_pool_chunk *next;
	/* objects follow, 8-aligned (the header is 8 bytes) */
};

void gf_pool_init(struct gf_pool *p, size_t size)
{
	assert(size > 0 && size <= GF_POOL_CHUNK / 4);
	if (size < sizeof(void *))
		size = sizeof(void *);
	p->size = (size + 7) & ~(size_t)7;
	p->free = NULL;
	p->chunks = NULL;
	p->next = p->end = NULL;
	p->live = 0;
}

void *gf_pool_alloc(struct gf_pool *p)
{
	void *o = p->free;
	if (o) {
		UNPOISON(o, p->size);
		p->free = *(void **)o;
	} else {
		if ((size_t)(p->end - p->next) < p->size) {
			struct gf_pool_chunk *c = malloc(GF_POOL_CHUNK);
			if (!c)
				return NULL;
			c->next = p->chunks;
			p->chunks = c;
			p->next = (char *)(c + 1);
			p->end = (char *)c + GF_POOL_CHUNK;
			POISON(p->next, (size_t)(p->end - p->next));
		}
		o = p->next;
		p->next += p->size;
		UNPOISON(o, p->size);
	}
	p->live++;
	return o;
}

void gf_pool_free(struct gf_pool *p, void *obj)
{
	if (!obj)
		return;
	assert(p->live > 0);
	p->live--;
	*(void **)obj = p->free;
	p->free = obj;
	POISON(obj, p->size); /* (gf_pool_alloc unpoisons before reading the link) */
}

void gf_pool_destroy(struct gf_pool *p)
{
	struct gf_pool_chunk *c = p->chunks, *next;
	for (; c; c = next) {
		next = c->next;
		UNPOISON(c, GF_POOL_CHUNK);
		free(c);
	}
	gf_pool_init(p, p->size);
}

size_t gf_pool_bytes(const struct gf_pool *p)
{
	size_t n = 0;
	for (const struct gf_pool_chunk *c = p->chunks; c; c = c->next)
		n += GF_POOL_CHUNK;
	return n;
}
