/*
 * dirlease.h — directory name leases held by this mount (proto.h
 * GFM_DIR_LEASE, gfmd/leases.h).
 *
 * While this mount holds a directory's lease it knows every name the
 * directory has (those gfmd sent with the lease, plus those this mount
 * added since), and gfmd adds no name there for anyone else before taking
 * the lease back. So a LOOKUP of any other name is answered "no such file"
 * here, without a gfmd round trip: the first LOOKUP of a name about to be
 * created (open(O_CREAT), rename's target, mkdir, git's and rsync's probes).
 *
 * A lease is asked for at the second name gfmd found missing in a directory
 * within a few seconds, and only by a mount whose kernel checks permissions
 * (default_permissions: the kernel has already checked search permission on
 * the directory when it sends a LOOKUP). It is used only:
 *   - within its term, counted from when it was asked for, and renewed
 *     (without the names) once half of it has passed, while in use;
 *   - while the poll that carries gfmd's recalls has not failed since it was
 *     asked for: a broken connection to gfmd (gfmd restarted, a network cut)
 *     ends every lease at once;
 *   - when no recall of it and no name added by this mount came between the
 *     request and the grant (the names might miss that one).
 * A recall drops the lease and is acknowledged on the next poll; the
 * directory then asks for no lease for a second, so that directories others
 * write to are looked up at gfmd as before. Names that go away stay in the
 * set: a name in the set is only looked up at gfmd.
 *
 * Thread-safe. A fixed table: a lease may be evicted by another directory's
 * that hashes to its slot, which only costs round trips; and about 32 MiB
 * of names in all: a lease that would pass that is not kept.
 */
#ifndef GF_DIRLEASE_H
#define GF_DIRLEASE_H

#include <stdint.h>

#include "client.h"

/* Start the poll thread on a connection of its own (poll: a gfc used for
 * nothing else), for the leases of main's client id. */
int gf_dirlease_start(struct gfc *main, struct gfc *poll);
/* Stop it (gfc_cancel the poll gfc first); every lease is dropped. */
void gf_dirlease_stop(void);
/* 1 when name is certainly not in dir (a lease is held and valid and the
 * name is not among its names); 0: ask gfmd. cr: the caller's, for a
 * renewal. */
int gf_dirlease_absent(const struct gf_cred *cr, uint64_t dir, const char *name);
/* gfmd said name is not in dir: maybe ask for a lease (a round trip). */
void gf_dirlease_missed(const struct gf_cred *cr, uint64_t dir);
/* This mount added name to dir (its create, mkdir, rename, ... succeeded). */
void gf_dirlease_added(uint64_t dir, const char *name);

struct gf_dirlease_stats {
	uint64_t answered; /* LOOKUPs answered "no such file" from a lease */
	uint64_t granted, renewed, refused, recalled, polls, poll_failures;
	uint64_t held;
};
void gf_dirlease_stats(struct gf_dirlease_stats *out);

#endif
