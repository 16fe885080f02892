/*
 * leases.h — directory name leases (proto.h GFM_DIR_LEASE, GFM_LEASE_POLL).
 *
 * A mount that holds a directory's lease answers "no such name" in it
 * itself: the lease promises that no name was added to the directory by
 * anyone else since gfmd granted it. So before a name is added to a
 * directory (create, mkdir, mknod, symlink, link, the target of a rename),
 * gf_leases_write_begin recalls the leases other clients hold on it and
 * waits until each holder has acknowledged (its next GFM_LEASE_POLL says it
 * dropped the lease) or the lease's term has run out; a directory with a
 * name being added grants no lease until gf_leases_write_end. The client
 * that adds the name keeps its own lease (it adds the name itself).
 *
 * Term. A lease lasts term_ms from the grant (the mount counts from when it
 * asked, so it stops first). A holder that never answers (stopped, killed,
 * cut off) therefore holds a writer back for at most term_ms, once: its
 * lease is gone after that. Nothing else ends a lease early on gfmd's side:
 * a holder whose connection broke may still be using its lease, so it is
 * waited out like a silent one. Leases live in memory only; a mount drops
 * all of its leases when its connection to gfmd breaks (its poll fails),
 * so a restarted gfmd owes nothing to the leases of the one before.
 *
 * Polls. A client's GFM_LEASE_POLL is parked until there is a recall for
 * it, or for at most GF_LEASE_PARK_MS (then answered with none), so that
 * the mount sees a silent gfmd as it sees any unanswered request. The
 * latest poll's connection is the client's: a grant needs one that is open.
 *
 * Thread-safe; replies leave through gf_conn_reply outside the module's lock.
 */
#ifndef GF_LEASES_H
#define GF_LEASES_H

#include <stdint.h>

#include "proto.h"
#include "server.h"

#define GF_LEASE_PARK_MS 1000

struct gf_leases;

/* term_ms 0: leases are off (every grant is -EOPNOTSUPP). Starts the
 * thread that answers polls parked for GF_LEASE_PARK_MS. */
int gf_leases_new(uint32_t term_ms, struct gf_leases **out);
void gf_leases_free(struct gf_leases *L);

/* A GFM_LEASE_POLL frame (reqid) from c: its acks are applied, then it is
 * answered now if recalls wait for its client, else parked. 0 or -errno. */
int gf_leases_poll(struct gf_leases *L, struct gf_conn *c, uint32_t reqid,
		   const struct gfm_lease_poll_req *m);
/* c closed: polls parked on it are dropped; its clients' leases run out. */
void gf_leases_conn_closed(struct gf_leases *L, struct gf_conn *c);

/*
 * Grant client a lease on dir (renew: a gen it holds, extended when still
 * held: *renewed = 1). -EBUSY: a name is being added to dir, or the client
 * has no open poll connection; -EOPNOTSUPP: leases are off. On success the
 * caller reads the directory's names AFTER this call (a name added since
 * is recalled) and calls gf_leases_drop if it cannot send them.
 */
int gf_leases_grant(struct gf_leases *L, uint64_t client, uint64_t dir, uint64_t renew,
		    uint64_t *gen, uint32_t *term_ms, int *renewed);
void gf_leases_drop(struct gf_leases *L, uint64_t client, uint64_t dir, uint64_t gen);

/* Around adding a name to dir on behalf of client (0: nobody's own): begin
 * recalls the others' leases and waits as described above. */
void gf_leases_write_begin(struct gf_leases *L, uint64_t client, uint64_t dir);
void gf_leases_write_end(struct gf_leases *L, uint64_t dir);

#endif
