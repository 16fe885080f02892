/*
 * journal.h — gfmd's own log of the change lists it acknowledged before
 * PostgreSQL held them on disk (`journal = PATH`).
 *
 * The store (store.h) appends each change list here, in ticket order and
 * with one write(2), before the reply to its mutation may leave. In the
 * fsync mode the file is not flushed while gfmd serves: what the kernel
 * holds survives a kill -9 of gfmd and of PostgreSQL, not a crash of the
 * machine, which is exactly the fsync mode's promise (a crash of the
 * machine may lose what was acknowledged in about the last second, except
 * what an fsync covered). In the commit mode a reply waits for
 * gf_journal_sync() to cover its record: one fdatasync for every record
 * appended meanwhile (a group commit), instead of a PostgreSQL commit.
 *
 * Layout: a 40-byte header — "GFMDJNL1", the cluster id (16 bytes), the
 * epoch (u64), and the header's gf_csum_block (u64) — then records:
 *   u32 len, u64 gf_csum_block(payload), payload of len bytes:
 *   u64 ticket, then the change list (gf_changes_encode).
 * Reading stops at the first record that is short, fails its checksum,
 * does not decode, or whose ticket does not follow the one before it: a
 * torn or stale tail (after a crash of the machine the file may hold any
 * mix of what was written to it), never applied.
 *
 * The epoch ties the file to the database: the store records the epoch
 * and the last ticket it committed from it, and starts a new epoch at every
 * start-up once the records the database lacked are replayed (store.h).
 *
 * Not thread-safe: the store calls it under its own lock, except
 * gf_journal_sync().
 */
#ifndef GF_JOURNAL_H
#define GF_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "proto.h"

#define GF_JOURNAL_HEADER 40

struct gf_journal;

/* Open or create path for cluster id, and lock it (flock, exclusive, not
 * waiting). A new or empty file gets epoch 0, its header flushed to disk.
 * 0, or with why filled: -EBUSY (another process holds it), -EXDEV (it is
 * another cluster's), -EINVAL (not a journal), or -errno of the file. */
int gf_journal_open(const char *path, const uint8_t id[GF_CLUSTER_ID_LEN],
		    struct gf_journal **out, char *why, size_t whysz);
uint64_t gf_journal_epoch(const struct gf_journal *j);
const char *gf_journal_path(const struct gf_journal *j);

/* Each good record, in file order, to apply(arg, ticket, changes); apply
 * takes the changes' contents (or leaves them to be freed). Stops at the
 * end or at a bad tail, which it cuts off: further appends go after the
 * last good record. *records counts the good ones, *tail_bytes the bytes
 * that were after them.
 * 0, what apply returned (< 0), -ENOMEM, or -EIO (a read error). */
int gf_journal_read(struct gf_journal *j,
		    int (*apply)(void *arg, uint64_t ticket, struct gf_changes *c), void *arg,
		    uint64_t *records, uint64_t *tail_bytes);

/* Append one record. 0, or -errno: then the file is cut back to where it
 * was, so that a failed append leaves no half record before later ones. */
int gf_journal_append(struct gf_journal *j, uint64_t ticket, const struct gf_changes *c);

/* Flush to disk every record appended before the call (fdatasync). The
 * one call that may run while another thread appends or truncates: it
 * touches only the descriptor, which stays the same until close.
 * 0 or -errno. */
int gf_journal_sync(struct gf_journal *j);

/* Drop every record (their changes are all on disk in the database); the
 * header and the epoch stay. 0 or -errno. */
int gf_journal_truncate(struct gf_journal *j);

/* Drop every record and start epoch, its header flushed to disk before
 * this returns. 0 or -errno. */
int gf_journal_new_epoch(struct gf_journal *j, uint64_t epoch);

/* Bytes of records in the file. */
uint64_t gf_journal_bytes(const struct gf_journal *j);

void gf_journal_close(struct gf_journal *j);

#endif
