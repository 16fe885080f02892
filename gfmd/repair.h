/*
 * repair.h — gfmd keeps every file at its replica count (namespace.h:
 * GF_NCOPY_XATTR), in the background.
 *
 * What it looks at: a file whose last writer closed it (GFM_RELEASE or its
 * connection closing) and whose count is above 1; a file whose count was
 * set; and, once a host has been down for delay_ms, every file with a
 * current replica on it (and every file on a host that comes back up, for
 * replicas it may now have too many of); and once after gfmd starts, when
 * every host is up or delay_ms has passed, every file with a replica on an
 * up host (what the last gfmd still had to do was in its memory only).
 * Files wait in a queue without
 * duplicates, those with the fewest replicas on up hosts first (one left
 * before two).
 *
 * What it does with one, in one of `jobs` worker threads (the rate limit:
 * at most that many copies at once): while it is open for writing, with a
 * count above 1, at least REPAIR_FOLLOW_MIN bytes (gfmd looks when its
 * writer tells it how far it wrote) and only the writer's replica, a copy
 * that follows the writer (replicate.h: GFMD_REP_FOLLOW), in at most
 * jobs - 1 workers at once (one is kept for the rest), else nothing (its
 * last close brings it back); with fewer current replicas on up
 * hosts than its count, one copy (replicate.h: gfsd to gfsd, the
 * destination chosen by free space), after which the file goes back in the
 * queue for the next; with more than its count, replicas beyond it are
 * removed — those on down hosts first, never below the count. A file whose
 * every replica is down cannot be copied: that is logged, and the file is
 * looked at again once one of those hosts is up, however short its absence
 * was (its files needing work are queued then). A copy that fails (no room, a
 * source that went down) is logged and the file tried again after
 * retry_ms; one that ends because the file was written meanwhile (-EBUSY)
 * is no failure: that writer's release brings the file back. A file asked
 * for while a worker has it is looked at again once that worker is done
 * (what the worker saw may be old by then: a release during its copy).
 *
 * Counters (repairs made, bytes, failures, removed) are logged at info
 * level as they change, with the file and the hosts involved.
 *
 * Thread-safe. gf_repair_check may be called from any thread, even with
 * the namespace lock not held (never with it held).
 */
#ifndef GF_REPAIR_H
#define GF_REPAIR_H

#include <stdint.h>

#include "handlers.h"

#define REPAIR_FOLLOW_MIN (8u << 20)

struct gf_repair_config {
	uint32_t delay_ms; /* a host down this long is repaired around */
	uint32_t jobs;	   /* copies at once (≥ 1) */
	uint32_t retry_ms; /* a failed file is tried again after this */
};

struct gf_repair;
int gf_repair_start(struct gfmd *g, const struct gf_repair_config *cfg,
		    struct gf_repair **out);
void gf_repair_stop(struct gf_repair *r);
/* Look at ino soon (want: its replica count, if known, else 0). */
void gf_repair_check(struct gf_repair *r, uint64_t ino, uint32_t want);
/* Files waiting now (tests, logs). */
uint64_t gf_repair_queued(struct gf_repair *r);

#endif
