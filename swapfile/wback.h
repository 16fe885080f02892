/*
 * wback.h — write-behind for a gfswap area: the kernel's page-out is answered
 * once its pages are copied into a buffer of this daemon's own (allocated and
 * locked at start), and flusher threads write them to their servers (with
 * their copies, as area_write does) in the background.
 *
 * Why: a page-out that waits for two servers' replies keeps the kernel's
 * reclaim waiting on the network; the process short of memory waits with
 * it. A page in this buffer is in the owner's RAM, locked, until its
 * copies are on servers: the loss of a server cannot lose it; the loss of
 * this daemon loses the whole area anyway.
 *
 * Contract:
 * - wb_write copies n pages (any n ≥ 1) into entries of at most
 *   WB_ENTRY_PAGES pages and returns; it waits while the buffer is full, and
 *   while a page of its range is still pending from an earlier write (so
 *   two writes of one slot never race to the servers: the later one is
 *   written later).
 * - wb_lookup copies the pending pages of a range (the newest data of those
 *   slots) and marks them in have[]; other pages are left alone.
 * - A flusher calls write(arg, slot, n, data) for each entry; on success it
 *   calls written(arg, slot, n) and only then forgets the entry, so a
 *   reader finds the pages either here or where write put them. A write
 *   that fails is kept and tried again (every RETRY_MS, logged once per
 *   streak): a page the kernel was told is written is never dropped.
 * - wb_settle waits until no page of the range is pending (before a discard
 *   or a write that must not be reordered); wb_drain until none at all.
 * - wb_free drains (pages still pending are written first, unless every
 *   write is failing: then after stop_ms they are dropped, logged) and
 *   stops the threads.
 * Every call is thread-safe; nothing allocates after wb_new.
 */
#ifndef GFSWAP_WBACK_H
#define GFSWAP_WBACK_H

#include <stdint.h>

#define WB_ENTRY_PAGES 64

struct wback;

struct wb_ops {
	/* write n pages at slot: 0 or -errno */
	int (*write)(void *arg, uint64_t slot, uint32_t n, const uint8_t *data);
	/* the pages were written (may be NULL) */
	void (*written)(void *arg, uint64_t slot, uint32_t n);
	void *arg;
};

struct wb_stats {
	uint64_t pages_in;     /* pages taken from the kernel */
	uint64_t pages_out;    /* pages written on by the flushers */
	uint64_t entries_out;  /* writes the flushers made */
	uint64_t lookups_hit;  /* pages a read found here */
	uint64_t full_waits;   /* writes that waited for room */
	uint64_t order_waits;  /* writes that waited for an earlier one of a slot */
	uint64_t retries;      /* failed writes tried again */
	uint64_t dropped;      /* pages dropped at wb_free after failures */
	uint32_t pending;      /* entries not yet written now */
	uint32_t entries;      /* the buffer's size in entries */
};

/* A buffer of `entries` entries (≥ 1) and `threads` flushers (≥ 1). 0 or
 * -errno (-ENOMEM, or a thread that could not start). */
int wb_new(unsigned entries, unsigned threads, const struct wb_ops *ops, struct wback **out);
/* Drain for at most stop_ms while writes keep failing, then stop and free. */
void wb_free(struct wback *w, unsigned stop_ms);
int wb_write(struct wback *w, uint64_t slot, uint64_t n, const uint8_t *data);
/* Pending pages of slot..slot+n-1 into out (page k at k * 4096) where
 * have[k] is 0; sets have[k]. How many it copied. */
uint32_t wb_lookup(struct wback *w, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *have);
void wb_settle(struct wback *w, uint64_t slot, uint64_t n);
void wb_drain(struct wback *w);
void wb_get_stats(struct wback *w, struct wb_stats *st);

#endif
