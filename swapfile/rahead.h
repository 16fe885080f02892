/*
 * rahead.h — read-ahead for a gfswap area: sequential page-in streams are
 * fetched ahead from their servers into windows of this daemon's own
 * buffer (allocated and locked at start), so that the kernel's next reads
 * of the stream find their pages here instead of waiting for the network.
 *
 * Streams: ra_note tells of each read the kernel made. A read that starts
 * where a known stream ended, or up to RA_GAP slots after (pages already in
 * the kernel's swap cache are skipped), continues it; any other read starts
 * a new stream in place of the least recently used one, and fetches
 * nothing. A stream continued RA_RUNS times keeps RA_AHEAD windows of
 * RA_WINDOW_PAGES pages fetched ahead of its end: a random reader, whose
 * reads seldom continue one another, costs little extra traffic. When
 * the windows that go were mostly not read (streams that interleave in
 * the area, as several processes paging out at once leave them), the
 * score falls under half and only one window in eight asked for is
 * fetched, until reads show it pays again.
 *
 * Contract:
 * - ra_lookup copies the pages of a range that a window holds (and waits
 *   for a window still being fetched that holds one) into out where have[k]
 *   is 0, and sets have[k].
 * - ra_forget must be called for every range written or discarded, both
 *   before the write is accepted and once its new copies are in place (a
 *   fetch that read the old copies in between then holds nothing of that
 *   range): a window never hands out a page older than the slot's last
 *   write.
 * - Fetches go through read(arg, slot, n, out, ok): ok[k] says whether page
 *   k came good; pages not good are simply not held (the kernel's own read
 *   then goes the normal way, and reports any loss).
 * Thread-safe; nothing allocates after ra_new.
 */
#ifndef GFSWAP_RAHEAD_H
#define GFSWAP_RAHEAD_H

#include <stdint.h>

#define RA_WINDOW_PAGES 64
#define RA_AHEAD 2
#define RA_GAP 16
#define RA_RUNS 2
#define RA_STREAMS 8

struct rahead;

struct ra_ops {
	/* read n ≤ RA_WINDOW_PAGES pages at slot; ok[k] = page k is good.
	 * 0 or -errno (then nothing is held) */
	int (*read)(void *arg, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *ok);
	void *arg;
};

struct ra_stats {
	uint64_t scheduled;  /* windows asked for */
	uint64_t windows;    /* windows fetched */
	uint64_t fetched;    /* pages fetched ahead */
	uint64_t hits;	     /* pages a read found here */
	uint64_t waits;	     /* reads that waited for a window being fetched */
	uint64_t unused;     /* fetched pages dropped before any read took them */
	uint64_t forgotten;  /* held pages dropped because they were written */
	uint64_t skipped;    /* windows not fetched: read-ahead was not paying */
	uint32_t score_pct;  /* share of recent windows' pages that were read */
};

/* `windows` windows (≥ 1) over an area of nslots slots, `threads` fetchers.
 * 0 or -errno. */
int ra_new(unsigned windows, unsigned threads, uint64_t nslots, const struct ra_ops *ops,
	   struct rahead **out);
void ra_free(struct rahead *r);
uint32_t ra_lookup(struct rahead *r, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *have);
void ra_note(struct rahead *r, uint64_t slot, uint32_t n);
void ra_forget(struct rahead *r, uint64_t slot, uint64_t n);
void ra_get_stats(struct rahead *r, struct ra_stats *st);

#endif
