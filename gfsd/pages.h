/*
 * pages.h — gfsd's cache of other hosts' swap pages, in RAM (network swap).
 *
 * Pages are kept by (owner, slot): owner is a random id a gfswap client
 * chose for its swap area, slot the page's index in it. Each page carries
 * its owner's time stamp (proto.h, the page service): a put never replaces
 * a newer page, an invalidate never drops one newer than it names.
 *
 * Memory: pages live in chunks of chunk_bytes, mapped, populated and locked
 * (mlock) so that they are never themselves swapped out; a chunk is added
 * only when a put needs room, only while the host keeps reserve_bytes of
 * MemAvailable besides, and never past max_bytes. A put of n pages is all
 * or nothing: -ENOSPC when the pages it would add do not fit.
 *
 * Thread-safe: one mutex; every call copies at most one batch of pages.
 */
#ifndef GFSD_PAGES_H
#define GFSD_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct pages;

struct pages_config {
	uint64_t max_bytes;	/* 0: the service holds nothing (-ENOSPC) */
	uint64_t reserve_bytes; /* MemAvailable the host keeps for itself */
	size_t chunk_bytes;	/* 0: 16 MiB */
	/* where MemAvailable is read (NULL: /proc/meminfo); tests point it
	 * at a file of their own */
	const char *meminfo;
	/* an owner not heard from (put, get, invalidate, updates) for this
	 * long is taken for dead and its pages dropped (pages_expire); its
	 * gfswap asks for updates every few seconds while it lives. 0: never */
	uint32_t owner_lease_s;
	/* free frames pages_compact keeps for the next burst of puts (so that
	 * a swap storm does not map, zero and unmap chunks over and over),
	 * while the host's MemAvailable stays 4 chunks above the reserve, the
	 * cap allows them and a put came within spare_idle_ms (0: 30 s).
	 * UINT64_MAX: all of them; 0: none */
	uint64_t spare_bytes;
	uint64_t spare_idle_ms;
};

int pages_new(const struct pages_config *cfg, struct pages **out);
void pages_free(struct pages *p);

/*
 * Store n (1..GF_PAGE_BATCH) pages from data at slots slot..slot+n-1 with
 * stamp (> 0). Pages held with a newer stamp stay (counted stale). 0, or
 * -ENOSPC when the new pages do not fit (nothing stored).
 */
int pages_put(struct pages *p, uint64_t owner, uint64_t slot, uint64_t stamp, uint32_t n,
	      const uint8_t *data);
/* The host owner's gfswap runs on, as the connection of its own requests
 * names it (its puts, and its asking for updates, which it does of every
 * server it knows: a cache that holds only pages another gfsd punted here
 * learns it so), never a gfsd that punted its pages here: the pager never
 * moves the owner's pages there, where they would sit in the very RAM that
 * ran short. Kept while this cache holds pages of the owner (a call for an
 * owner it holds nothing of does nothing). pages_owner_host: 1 and the
 * name into buf if known. */
void pages_set_owner_host(struct pages *p, uint64_t owner, const char *host);
int pages_owner_host(struct pages *p, uint64_t owner, char *buf, size_t bufsz);
/* Copy n pages to out (n * GF_PAGE_SIZE) with their stamps; a page not held
 * has stamp 0 and zero bytes. Returns how many were held. */
uint32_t pages_get(struct pages *p, uint64_t owner, uint64_t slot, uint32_t n,
		   uint64_t *stamps, uint8_t *out);
/* Drop pages of slot..slot+n-1 whose stamp is ≤ stamp; how many went. */
uint32_t pages_invalidate(struct pages *p, uint64_t owner, uint64_t slot, uint32_t n,
			  uint64_t stamp);
/*
 * Shrinking (Nswap's PUNTPAGE). The cache lends at most `cap` pages
 * (pages_set_cap; UINT64_MAX: no cap but max_bytes) and, when the host's
 * MemAvailable falls below the reserve, that much less than it holds.
 * pages_excess says how many held pages are over that; the pager
 * (pagesvc.h) takes victims with pages_victims, puts them on another gfsd,
 * and calls pages_moved, which drops them here (unless rewritten since:
 * a newer stamp stays) and logs for their owner where they went (an empty
 * host: nowhere, dropped; the owner copies its other copy again). The
 * owner collects the log with pages_updates (Nswap's UPDATE, pulled).
 * pages_compact gives whole chunks no page uses back to the system.
 */
void pages_set_cap(struct pages *p, uint64_t cap);
uint64_t pages_excess(struct pages *p);
struct page_victim {
	uint64_t owner, slot, stamp;
};
/* Up to max victims, consecutive slots of one owner where there are: their
 * ids into v and their data into data (max * GF_PAGE_SIZE); how many. */
uint32_t pages_victims(struct pages *p, uint32_t max, struct page_victim *v, uint8_t *data);
/* v[0..n) now live on host (NULL: nowhere); hops is theirs now. kept[i]
 * (may be NULL) is set for a page rewritten meanwhile, which stays: its
 * copy on host is older, for the caller to drop by its stamp. A page
 * invalidated meanwhile is told of all the same (its owner may keep the
 * copy on host: it can hold the same page already). */
void pages_moved(struct pages *p, const struct page_victim *v, uint32_t n, const char *host,
		 uint8_t hops, uint8_t *kept);
/* Give back chunks that hold no page after moving what little they hold
 * into free frames elsewhere, down to the spare (pages_config); bytes
 * given back. */
uint64_t pages_compact(struct pages *p);
/* Pop up to max moves of owner's pages (oldest first) into out. */
uint32_t pages_updates(struct pages *p, uint64_t owner, struct gfs_page_move *out, uint32_t max);

/* Drop the pages of owners whose lease ran out; how many pages went. */
uint64_t pages_expire(struct pages *p);

/* The counters and capacity (GFS_PAGE_STATS). */
void pages_stats(struct pages *p, struct gfs_page_stats_rep *st);
/* For the heartbeat (registrar.h swap_space): total and free pages. */
void pages_space(void *p, uint64_t *total, uint64_t *free);

#endif
