/*
 * slotmap.c — the slot map (slotmap.h).
 */
#include "slotmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int slotmap_init(struct slotmap *m, uint64_t nslots)
{
	size_t bytes = (size_t)nslots * sizeof(struct slot);

	memset(m, 0, sizeof(*m));
	m->v = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m->v == MAP_FAILED) {
		m->v = NULL;
		return -ENOMEM;
	}
	m->nslots = nslots;
	for (int i = 0; i < SLOT_STRIPES; i++)
		pthread_mutex_init(&m->stripes[i], NULL);
	return 0;
}

void slotmap_destroy(struct slotmap *m)
{
	if (!m->v)
		return;
	size_t bytes = (size_t)m->nslots * sizeof(struct slot);

	munmap(m->v, bytes ? bytes : 1);
	for (int i = 0; i < SLOT_STRIPES; i++)
		pthread_mutex_destroy(&m->stripes[i]);
	m->v = NULL;
}

static void stripes_of(uint64_t first, uint32_t n, unsigned *a, unsigned *b)
{
	uint64_t last = first + (n ? n : 1) - 1;
	unsigned x = (unsigned)((first / SLOT_STRIPE) % SLOT_STRIPES);
	unsigned y = (unsigned)((last / SLOT_STRIPE) % SLOT_STRIPES);

	/* at most two stripes; always lock the lower-numbered first */
	*a = x < y ? x : y;
	*b = x < y ? y : x;
}

void slotmap_lock(struct slotmap *m, uint64_t first, uint32_t n)
{
	unsigned a, b;

	stripes_of(first, n, &a, &b);
	pthread_mutex_lock(&m->stripes[a]);
	if (b != a)
		pthread_mutex_lock(&m->stripes[b]);
}

void slotmap_unlock(struct slotmap *m, uint64_t first, uint32_t n)
{
	unsigned a, b;

	stripes_of(first, n, &a, &b);
	if (b != a)
		pthread_mutex_unlock(&m->stripes[b]);
	pthread_mutex_unlock(&m->stripes[a]);
}
