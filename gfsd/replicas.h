/*
 * replicas.h — what gfsd knows about its replicas besides the files: who is
 * writing them, which names gfmd declared dead, and gfsd's counters.
 *
 * Writers. Every handle open for writing on replica (ino, fgen) — through
 * gfsd or through a passed fd — is counted from its GFS_OPEN to its close
 * (GFS_CLOSE or its connection closing). When a replica goes from no writer
 * to one, the opener must make the file agree with gfmd before anyone
 * writes: bytes beyond gfmd's committed size can only be left by a writer
 * that never told gfmd about them (it crashed, or its connection died), and
 * no writer is left that may still do so, so they are cut
 * (service.c asks gfmd for the size). replicas_writer_open() tells the
 * caller whether it is that first writer and makes later openers of the same
 * replica wait until it called replicas_writer_ready().
 *
 * Tombstones. A replica file gfmd declared dead and gfsd removed is
 * remembered (the last TOMBS_MAX of them). A writer that opens such a name
 * with GFS_O_CREATE afterwards — a file unlinked while open and written for
 * the first time since (mkstemp, then unlink, then write) — gets a file
 * without a name, freed at its last close, instead of an orphan. Names are
 * never reused (namespace.h), so a tombstone can never hide live data.
 *
 * Thread-safe: one mutex.
 */
#ifndef GFSD_REPLICAS_H
#define GFSD_REPLICAS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#define TOMBS_MAX 65536

struct replicas;

/* Counters shown by GFS_STATS (gfhost stats). */
enum replicas_counter {
	RC_HEARTBEATS,	    /* heartbeats gfmd answered */
	RC_DEAD_REMOVED,    /* dead replicas gfmd asked to remove, removed (or gone) */
	RC_ORPHANS_REMOVED, /* files no live replica named, removed by a scan */
	RC_WRITERS_CUT,	    /* replicas cut back to gfmd's size by a first writer */
	RC_SEALED,	    /* replicas whose checksums were written (sums.h) */
	RC_CORRUPT,	    /* checks that found a block failing its checksum */
	RC_CORRUPT_REPORTED, /* corrupt replicas gfmd acknowledged */
	RC_COUNT
};

int replicas_new(struct replicas **out);
void replicas_free(struct replicas *rs);

/*
 * A write handle on (ino, fgen) is opening. Waits while another opener of
 * the same replica has not called replicas_writer_ready. *first is true
 * when no other write handle is open: the caller checks the file against
 * gfmd, then calls replicas_writer_ready (whether it succeeded or not).
 * 0 or -ENOMEM.
 */
int replicas_writer_open(struct replicas *rs, uint64_t ino, uint64_t fgen, bool *first);
void replicas_writer_ready(struct replicas *rs, uint64_t ino, uint64_t fgen);
/* A write handle closed (or its open failed after replicas_writer_open). */
void replicas_writer_close(struct replicas *rs, uint64_t ino, uint64_t fgen);
/*
 * A write handle closes, and the replica is sealed (sums.h) if it was the
 * last: then true is returned and later openers wait, as for a first
 * opener, until the caller has sealed it and called replicas_writer_ready.
 */
bool replicas_writer_close_last(struct replicas *rs, uint64_t ino, uint64_t fgen);
/* No writer and no opener: true, and openers wait until
 * replicas_writer_ready (sealing outside a close: GFS_VERIFY_SEAL). */
bool replicas_seal_begin(struct replicas *rs, uint64_t ino, uint64_t fgen);
/*
 * (ino, fgen) is being sealed: its last writer closed and its sums are not
 * written yet (sealer.h). _sealing tells; _wait_sealed waits until it is
 * not (a copy, or gffsck, that must compare every block). A replica with
 * a writer is not being sealed.
 */
bool replicas_sealing(struct replicas *rs, uint64_t ino, uint64_t fgen);
void replicas_wait_sealed(struct replicas *rs, uint64_t ino, uint64_t fgen);
/* Write handles open on (ino, fgen) now. */
unsigned replicas_writers(struct replicas *rs, uint64_t ino, uint64_t fgen);

void replicas_tomb_add(struct replicas *rs, uint64_t ino, uint64_t fgen);
bool replicas_tomb_has(struct replicas *rs, uint64_t ino, uint64_t fgen);

/*
 * Corrupt replicas to tell gfmd (in the next heartbeat): add one (a replica
 * already waiting is not added twice; beyond GF_MAX_BAD waiting, it is
 * dropped: the next read that meets it adds it again). take moves up to max
 * out; put_back returns those a failed heartbeat did not deliver.
 */
void replicas_bad_add(struct replicas *rs, uint64_t ino, uint64_t fgen);
uint32_t replicas_bad_take(struct replicas *rs, struct gf_dead_replica *out, uint32_t max);
void replicas_bad_put_back(struct replicas *rs, const struct gf_dead_replica *v, uint32_t n);

void replicas_count(struct replicas *rs, enum replicas_counter c, uint64_t n);
uint64_t replicas_counter(struct replicas *rs, enum replicas_counter c);

#endif
