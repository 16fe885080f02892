/*
 * pool.h — fixed-size objects without malloc's per-object cost, for what
 * gfmd keeps once per file (an inode, a file's replica list): at a million
 * files, malloc's header and 16-byte rounding alone cost 8–24 bytes each.
 *
 * A pool hands out objects of one size (rounded up to 8 bytes) carved from
 * chunks of GF_POOL_CHUNK bytes; a freed object goes on the pool's free list
 * and is the next one handed out. Memory returns to the system only when the
 * pool is destroyed: after a mass removal it stays in gfmd, for new files.
 *
 * Not thread-safe: the caller serialises (gfmd's namespace: its write lock,
 * or the single-threaded load). Objects are not zeroed. Under AddressSanitizer
 * a freed object is poisoned until it is handed out again, so a use after
 * free is still caught.
 */
#ifndef GFMD_POOL_H
#define GFMD_POOL_H

#include <stddef.h>

#define GF_POOL_CHUNK (64u * 1024u)

struct gf_pool_chunk;

struct gf_pool {
	size_t size;			/* of one object, a multiple of 8 */
	void *free;			/* freed objects, linked through their first word */
	struct gf_pool_chunk *chunks;	/* newest first */
	char *next, *end;		/* not yet handed out, in the newest chunk */
	size_t live;			/* objects handed out and not freed */
};

/* An empty pool of objects of size bytes (1 .. GF_POOL_CHUNK / 4). */
void gf_pool_init(struct gf_pool *p, size_t size);
/* One object (not zeroed), or NULL when memory is short. */
void *gf_pool_alloc(struct gf_pool *p);
/* obj (from gf_pool_alloc of this pool, or NULL) is free again. */
void gf_pool_free(struct gf_pool *p, void *obj);
/* Frees every chunk: every object of the pool is gone. The pool is empty
 * and may be used again. */
void gf_pool_destroy(struct gf_pool *p);
/* Bytes the pool's chunks take. */
size_t gf_pool_bytes(const struct gf_pool *p);

#endif
