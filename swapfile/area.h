/*
 * area.h — a gfswap swap area: pages by slot, kept in other hosts' gfsd RAM.
 *
 * What the kernel writes to the area's file (through FUSE and a loop
 * device) lands here as whole 4 KiB pages at page-aligned offsets. Each
 * page is kept in `copies` places (default 2): two page servers, or one
 * and the owner's local disk file when fewer servers have room or answer,
 * or the disk alone when none does (a fall-back, counted). A page is
 * written again to where it was if those servers still take it, else to
 * new ones; copies it no longer has are invalidated with the stamp they
 * had, so a reordered invalidate never drops a newer page. A read takes the
 * first copy and checks its stamp against the slot map; a copy that is
 * missing, stale or on a server that fails is read from the other one.
 *
 * Every call works on at most GF_PAGE_BATCH slots (area_discard on any
 * number) and allocates nothing. Errors: -EIO when no copy of a page could
 * be written or read (logged), -EINVAL for a range outside the area.
 */
#ifndef GFSWAP_AREA_H
#define GFSWAP_AREA_H

#include <stdint.h>

#include "servers.h"
#include "slotmap.h"

struct area_counters {
	uint64_t pages_out, pages_in;	/* pages written / read by the kernel */
	uint64_t remote_out, remote_in; /* page copies sent to / read from servers */
	uint64_t disk_out, disk_in;	/* page copies written to / read from disk */
	uint64_t fallbacks;		/* pages with fewer remote copies than wanted */
	uint64_t second_copy_reads;	/* reads the first copy could not serve */
	uint64_t moved;			/* pages rewritten to other servers */
	uint64_t discarded;		/* slots freed by a discard */
	uint64_t lost;			/* reads that found no good copy */
	uint64_t updates;		/* moves servers told of, applied */
	uint64_t recopied;		/* pages copied again to restore their copies */
};

struct area {
	struct slotmap map;
	struct servers *srv;
	int disk_fd; /* the fall-back file, as large as the area */
	uint64_t nslots;
	int copies; /* 1 or 2 */
	uint64_t stamp;
	uint64_t repair_at; /* where area_repair goes on */
	struct area_counters c; /* atomics */
};

int area_init(struct area *a, struct servers *srv, int disk_fd, uint64_t nslots, int copies);
void area_destroy(struct area *a);
int area_write(struct area *a, uint64_t slot, uint32_t n, const uint8_t *data);
int area_read(struct area *a, uint64_t slot, uint32_t n, uint8_t *out);
/*
 * area_read for read-ahead: good[k] says whether page k was read good;
 * a page with no good copy is not counted lost nor logged (the kernel may
 * never ask for it; if it does, area_read reports it). 0 or -EINVAL.
 */
int area_peek(struct area *a, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *good);
/* Pages the kernel read from the area (area_read counts them itself). */
void area_count_in(struct area *a, uint64_t n);
int area_discard(struct area *a, uint64_t slot, uint64_t n);
/*
 * Server `from` moved pages on (Nswap's PUNTPAGE; moves[i].host "" when it
 * dropped them): slots that still have that page (same stamp) there now
 * have it on the new server, or one copy fewer. How many applied.
 */
uint32_t area_apply_moves(struct area *a, int from, const struct gfs_page_move *moves,
			  uint32_t n);
/*
 * Give pages that have fewer good copies than wanted (a copy dropped, on a
 * server that is down or restarted since: servers_holds) another copy, read
 * from a good one: up to max pages, from where the last call stopped; buf
 * holds GF_PAGE_BATCH pages. Pages copied, or -errno.
 */
int64_t area_repair(struct area *a, uint8_t *buf, uint64_t max);
/*
 * Slots in use with fewer good copies than wanted: *repairable those with
 * one left (what area_repair fixes), *without_copy those with none (a read
 * of one fails with EIO, counted lost; a slot the kernel freed without a
 * discard is never read: the collector's ground, issue 8).
 */
void area_short(struct area *a, uint64_t *repairable, uint64_t *without_copy);
/* Slots whose copies are on server i (or LOC_DISK for the disk: i = -1). */
uint64_t area_slots_on(struct area *a, int server);

#endif
