/*
 * slotmap.h — where each page of a gfswap swap area lives (Nswap's slot map).
 *
 * One entry per 4 KiB slot of the area: up to SLOT_COPIES locations (a page
 * server's index in the server table, or the owner's local disk file), the
 * time stamp the page was written with, the hop count (how many times a
 * server moved it on), and whether the slot is in use. The map is allocated
 * and locked into memory once, at start: no call allocates.
 *
 * Locking: slots are locked in stripes of SLOT_STRIPE slots; a caller locks
 * the range it works on (at most GF_PAGE_BATCH slots, so two stripes) with
 * slotmap_lock/unlock and may then read and change those entries freely.
 */
#ifndef GFSWAP_SLOTMAP_H
#define GFSWAP_SLOTMAP_H

#include <pthread.h>
#include <stdint.h>

#define SLOT_COPIES 2
#define SLOT_STRIPE 256
#define SLOT_STRIPES 64

/* a location: none, the local disk file, or server table index + LOC_SERVER */
enum { LOC_NONE = 0, LOC_DISK = 1, LOC_SERVER = 2 };

struct slot {
	uint64_t stamp;		  /* 0 while not in use */
	uint16_t loc[SLOT_COPIES]; /* LOC_NONE where a copy is missing */
	uint8_t hops;
	uint8_t in_use;
	/* the server's epoch (servers.h) when each copy was put: a copy put
	 * before its server restarted is gone */
	uint8_t epoch[SLOT_COPIES];
};

struct slotmap {
	uint64_t nslots;
	struct slot *v;
	pthread_mutex_t stripes[SLOT_STRIPES];
};

/* nslots entries, all free. 0 or -ENOMEM. */
int slotmap_init(struct slotmap *m, uint64_t nslots);
void slotmap_destroy(struct slotmap *m);
/* Lock / unlock slots first..first+n-1 (n ≤ 2 * SLOT_STRIPE). */
void slotmap_lock(struct slotmap *m, uint64_t first, uint32_t n);
void slotmap_unlock(struct slotmap *m, uint64_t first, uint32_t n);

#endif
