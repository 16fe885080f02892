/*
 * namespace.h — gfmd's whole namespace, in memory.
 *
 * What it holds: every inode (attributes as struct gf_attr, symlink target,
 * xattrs, replica catalogue), every directory's entries, the dead replicas
 * that gfsd still has to delete, and the inode-number counter. Inode
 * numbers are never reused (the counter is stored).
 *
 * Replicas and generations. A replica is {host, gen, fgen}: it holds data
 * generation gen and lives in spool file ino-fgen on that host. The inode's
 * gen is its current data generation; only replicas whose gen equals it are
 * current, handed to readers and counted. A new generation begins
 *   - at every open for writing of an existing regular file: the writer's
 *     replica (one of the current ones, or a new one for an empty file) moves
 *     to it in place, the others become stale: they stay, holding the older
 *     generation, never served or counted, until the repair refreshes or
 *     removes them once the writers are done (a replica already stale dies);
 *   - at every truncate (SETATTR of the size, O_TRUNC): to a size > 0 in
 *     place; to size 0 the file gets a fresh replica instance instead: every
 *     replica dies and the next writer starts an empty one, so no byte of the
 *     old data (nor any a crashed writer left beyond the size) survives.
 * A new writer's replica gets fgen = the generation it is made in, and each
 * generation is made once; a copy (gfrep, repair) gets a number of its own
 * (GF_FGEN_COPY below). So a replica file name (ino, fgen) that died is
 * never used again on any host: a late deletion cannot hit live data.
 *
 * Size rule (what gfmd's size is when several clients write and truncate):
 *   - SETATTR of the size and O_TRUNC set it, in the order gfmd sees them;
 *   - CLOSE_WRITE(end) from a writer makes it max(size, end), where end is
 *     the end of the furthest byte that writer wrote since it opened the file
 *     (after its own truncates). So writers of disjoint ranges leave the size
 *     at the end of the furthest write whatever order they close in, a
 *     truncate seen before a writer's CLOSE_WRITE is extended by that
 *     writer's bytes, and one seen after it cuts them.
 *
 * Durability and visibility:
 *   - Every mutation that succeeds describes its row changes (changes.h) and
 *     hands them to the sink while still holding the lock, so the store sees
 *     changes in the order memory saw them; the sink's ticket comes back in
 *     *ticket. The reply may leave once that ticket is committed.
 *   - A failed operation changes nothing. Its *ticket is the newest ticket
 *     issued so far (its error may depend on a change not yet committed).
 *   - Reads report in *wait the ticket of the newest change to what they
 *     looked at (each inode remembers the ticket of its last change; a
 *     missing inode the ticket of the last removal): their reply waits for
 *     that commit, so no client ever sees a change a crash could roll back.
 *   - A dead replica is handed to gfsd for deletion (gf_ns_dead_list) only
 *     once the change that killed it is committed.
 *
 * POSIX semantics and errors as ext4 gives them, checked against the
 * caller's struct gf_cred for every operation (root bypasses permission
 * bits, except that executing needs some x bit). READDIR cookies are per
 * directory, strictly increasing in insertion order and never reused.
 *
 * Exactly once: a mutation run for a GFM_ONCE request (proto.h) gets its
 * struct gf_once_id in `once` (NULL otherwise) and, when it succeeds,
 * records GF_CHG_ONCE_PUT with the inode it created, linked or opened (and
 * whether it created it) in the same change list, hence the same
 * transaction (gfmd/once.h), and notes the same in *once. A success that
 * changes nothing (a rename onto itself) records that alone.
 *
 * Locking: one pthread rwlock per namespace, taken inside each function
 * (read for lookups, write for mutations) and held only for in-memory work
 * plus the sink call — never across I/O. The sink and the placement callback
 * run under the write lock: they must not call back into the namespace and
 * must only take locks that are never held while calling into it (the store
 * queue lock, the host registry lock).
 *
 * Loading (gf_ns_load_*) happens single-threaded before serving.
 */
#ifndef GF_NAMESPACE_H
#define GF_NAMESPACE_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "proto.h"

#define GF_LINK_MAX 65000

struct gf_ns;

struct gf_ns_replica {
	uint32_t host_id;
	uint64_t gen;  /* data generation held: current iff == the inode's gen */
	uint64_t fgen; /* spool file ino-fgen */
};

/*
 * Where to write a file: given the hosts that hold a current replica (nhave
 * may be 0), choose one of them or a new host. 0 and *host_id, or -errno
 * (-ENOSPC when no gfsd is up, -EAGAIN when that cannot be told yet). Called
 * under the namespace write lock.
 */
typedef int (*gf_place_fn)(void *arg, const struct gf_ns_replica *have, size_t nhave,
			   uint32_t *host_id);

/* ---- life cycle and loading ---------------------------------------------- */

struct gf_ns *gf_ns_new(void);
void gf_ns_free(struct gf_ns *ns);
void gf_ns_set_sink(struct gf_ns *ns, gf_sink_fn sink, void *arg);
/*
 * Grace of a removed regular file (default 0: none): for ms after its last
 * name went, a read-only GFM_OPEN by its inode number still opens its last
 * version (a client's kernel may still map the old name to it) and its
 * replica files are not handed out for deletion. Only memory: a restart
 * ends every grace.
 */
void gf_ns_set_grace(struct gf_ns *ns, uint32_t ms);

/* Rows from the store, in any order. -EEXIST, -ENOMEM or -EINVAL. */
int gf_ns_load_inode(struct gf_ns *ns, const struct gf_attr *a, const char *symlink);
int gf_ns_load_dirent(struct gf_ns *ns, uint64_t parent, const char *name,
		      uint64_t ino, uint64_t cookie);
int gf_ns_load_xattr(struct gf_ns *ns, uint64_t ino, const char *name,
		     const void *value, size_t len);
int gf_ns_load_replica(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t gen,
		       uint64_t fgen);
int gf_ns_load_dead(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t fgen);
void gf_ns_load_next_ino(struct gf_ns *ns, uint64_t next);
/*
 * After the rows: orders directories, checks that every entry names a known
 * inode (dangling entries are dropped with a warning), and creates the root
 * directory (ino 1, 0755 root:root) when there is none — a change recorded
 * through the sink.
 */
int gf_ns_load_finish(struct gf_ns *ns, uint64_t *ticket);

/* ---- reads (read lock) -----------------------------------------------------
 * wait (may be NULL) receives the ticket the reply must wait for (see the
 * visibility rule above), whatever the result.
 */

int gf_ns_lookup(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, struct gf_attr *out, uint64_t *wait);
int gf_ns_getattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		  struct gf_attr *out, uint64_t *wait);
int gf_ns_readlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   char *buf, size_t bufsz, uint64_t *wait);
/* mask: R_OK | W_OK | X_OK, or F_OK. */
int gf_ns_access(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t mask,
		 uint64_t *wait);
/*
 * Up to max entries with cookie greater than `cookie` (0 = from the start),
 * in cookie order, with their attributes. *eof = 1 when nothing follows.
 */
int gf_ns_readdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		  uint64_t cookie, uint32_t max, struct gfm_dirent *ents,
		  uint32_t *count, uint8_t *eof, uint64_t *wait);
/*
 * Every name in directory ino (the caller needs search permission), each
 * NUL-terminated, one after another in buf (cap bytes): *len bytes, *count
 * names. -E2BIG when they do not fit. For a name lease (leases.h).
 */
int gf_ns_dir_names(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, char *buf,
		    size_t cap, uint32_t *len, uint32_t *count);
/*
 * size 0: only *len (the full length). size < length: -ERANGE. Else copies.
 * listxattr gives NUL-terminated names one after another, hiding trusted.*
 * from non-root callers.
 */
int gf_ns_getxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   const char *name, void *buf, size_t size, size_t *len, uint64_t *wait);
int gf_ns_listxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		    void *buf, size_t size, size_t *len, uint64_t *wait);
/* The directories the calling thread's next mutation changes, as it leaves
 * them (proto.h gfm_dirs), for the reply: out is emptied now and filled
 * when that mutation records its changes; it stays empty if the mutation
 * fails or changes nothing. Call right before the mutation, from the
 * thread that makes it, and with NULL right after it (out is then no
 * longer written). */
void gf_ns_capture_dirs(struct gfm_dirs *out);
/* Number of inodes (for statfs). */
uint64_t gf_ns_inode_count(struct gf_ns *ns);
/* Replicas a host holds, current or stale (for the host list): a counter
 * kept as replicas come and go, not a scan. */
uint64_t gf_ns_replica_count(struct gf_ns *ns, uint32_t host_id);
/* For tests: 0 if every host's counter equals a count of the replicas in
 * the namespace, else -EUCLEAN. Scans everything under the read lock. */
int gf_ns_check_counts(struct gf_ns *ns);
/* The current replicas of a file (the whole catalogue when all is set). */
int gf_ns_replicas(struct gf_ns *ns, uint64_t ino, int all, struct gf_ns_replica *out,
		   size_t max, size_t *n, uint64_t *wait);
/*
 * The replica files host_id should hold — (ino, fgen) of each of its live
 * replicas — with ino > after, ascending, at most max; *eof when none
 * follows. *wait is the newest ticket issued: an orphan scan must see only
 * committed state.
 */
int gf_ns_host_replicas(struct gf_ns *ns, uint32_t host_id, uint64_t after, uint32_t max,
			struct gf_dead_replica *out, uint32_t *count, uint8_t *eof,
			uint64_t *wait);
/* The newest ticket issued by any mutation so far. */
uint64_t gf_ns_last_ticket(struct gf_ns *ns);

/* ---- mutations (write lock) ------------------------------------------------
 * once: see "Exactly once" above; NULL for a plain request.
 */

/*
 * chmod, chown, utimes, truncate (GF_SET_*). A size change makes a new
 * generation (to 0: a fresh replica instance, the old replicas die); with
 * GF_SET_SIZE_FH no write permission is needed (ftruncate of a descriptor
 * open for writing). GF_SET_KILL_SUID alone: a non-owner's write clears
 * set-user-ID and set-group-ID, given write permission.
 */
int gf_ns_setattr(struct gf_ns *ns, const struct gfm_setattr_req *req,
		  struct gf_attr *out, uint64_t *ticket);
/*
 * New inodes: mode is what the caller asked for, umask the caller's umask,
 * applied here unless the parent has a default ACL, which then decides the
 * permission bits and gives the inode its ACLs (acl.h, as ext4 does).
 */
/* Any non-directory type (S_IFREG if the type bits are 0). */
int gf_ns_mknod(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, uint64_t rdev, uint32_t umask,
		struct gf_attr *out, struct gf_once_id *once, uint64_t *ticket);
int gf_ns_mkdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, uint32_t umask, struct gf_attr *out,
		struct gf_once_id *once, uint64_t *ticket);
/*
 * Create a regular file and open it (open(2) flags: O_EXCL; an existing file
 * without O_EXCL is opened as gf_ns_open would). place (may be NULL: no
 * replica) chooses where its data goes; the chosen replica is in *rep and
 * *nrep is 1 (0 without place).
 */
int gf_ns_create(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint32_t mode, uint32_t flags, uint32_t umask,
		 gf_place_fn place, void *place_arg, struct gf_attr *out,
		 struct gf_ns_replica *rep, size_t *nrep, struct gf_once_id *once,
		 uint64_t *ticket);
/*
 * Permission check by flags (O_TRUNC needs write). For a write
 * (O_WRONLY/O_RDWR/O_TRUNC) on a regular file with place set: a new
 * generation (see above), and exactly one replica returned — the one the
 * writer must use. O_TRUNC of a file with data gives it a fresh, empty
 * replica instance. Everything (placement included) is decided before
 * anything changes. For a read, returns the current replicas (up to max),
 * and *ticket is what the reply must wait for.
 */
int gf_ns_open(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
	       gf_place_fn place, void *place_arg, struct gf_attr *out,
	       struct gf_ns_replica *reps, size_t max, size_t *nreps,
	       struct gf_once_id *once, uint64_t *ticket);
/*
 * The open of a CREATE that made the file, again (its reply was lost and
 * the GFM_ONCE request is replayed: gfmd/once.h): as gf_ns_open (for
 * writing: a new generation, the writer's one replica) without the
 * permission check — open(O_CREAT) lets the creator use the file whatever
 * mode it gave it — and without truncating again (O_TRUNC, O_CREAT and
 * O_EXCL are ignored). Only for the creator: it grants what it is asked.
 */
int gf_ns_reopen(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
		 gf_place_fn place, void *place_arg, struct gf_attr *out,
		 struct gf_ns_replica *reps, size_t max, size_t *nreps, uint64_t *ticket);
/*
 * A writer's bytes become part of the file (the size rule above): size =
 * max(size, end); mtime set when flags has GF_CW_MTIME (now when it is 0);
 * st_blocks set to blocks with GF_CW_BLOCKS; clears setuid/setgid for
 * non-root. -ESTALE when replica fgen is no longer a replica of the file
 * (an O_TRUNC elsewhere replaced its data).
 */
int gf_ns_close_write(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		      uint64_t fgen, uint64_t end, struct gf_timespec mtime, uint32_t flags,
		      uint64_t blocks, struct gf_attr *out, uint64_t *ticket);
int gf_ns_unlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, struct gf_once_id *once, uint64_t *ticket);
int gf_ns_rmdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, struct gf_once_id *once, uint64_t *ticket);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. */
int gf_ns_rename(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint64_t newparent, const char *newname,
		 uint32_t flags, struct gf_once_id *once, uint64_t *ticket);
int gf_ns_link(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
	       uint64_t newparent, const char *newname, struct gf_attr *out,
	       struct gf_once_id *once, uint64_t *ticket);
int gf_ns_symlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		  const char *name, const char *target, struct gf_attr *out,
		  struct gf_once_id *once, uint64_t *ticket);
/*
 * flags: XATTR_CREATE, XATTR_REPLACE. Names: see xattr_permission in
 * namespace.c ("user.", "trusted.", "security.", and the POSIX ACLs, which
 * are validated (-EINVAL), change the mode bits an access ACL implies, and
 * are not stored when the mode bits say it all).
 */
int gf_ns_setxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   const char *name, const void *value, size_t len, uint32_t flags,
		   struct gf_once_id *once, uint64_t *ticket);
int gf_ns_removexattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		      const char *name, struct gf_once_id *once, uint64_t *ticket);

/* ---- replication (gfmd/replicate.h drives these) ------------------------------
 *
 * Writers. Every successful open for writing of a regular file (gf_ns_open,
 * gf_ns_reopen, gf_ns_create with O_WRONLY, O_RDWR or O_TRUNC) counts one
 * writer of the inode, in memory only; gf_ns_writer_done takes one back
 * (the handle was released, or the connection that opened it closed). A
 * file with a writer is neither copied nor trimmed (-EBUSY): what a copy
 * read while someone writes would be neither the old data nor the new.
 *
 * A copy. gf_ns_copy_begin checks that ino is a regular file the caller may
 * read, with no writer, a current replica on src_host and none on dst_host
 * (-EEXIST), and no copy to dst_host under way (-EALREADY); then records the
 * copy as under way and fills *out: the data generation and size to copy,
 * the source replica, and the new replica's file generation fgen — fresh
 * and never used on any host (GF_FGEN_COPY | a number from the
 * inode-number counter), and after a crash of gfmd never again once
 * out->ticket (the counter moved past it, when that was needed) is
 * committed: wait for it before gfsd hears of fgen. Copies under way are listed by gf_ns_host_replicas
 * for dst_host, so an orphan scan leaves their file alone. gf_ns_copy_end
 * says the copy is over: when ok, and the inode still has that generation
 * and no writer (every write-open moves the generation, so nothing was
 * written since the copy began), the new replica is added (replacing any
 * other replica on dst_host) and 0 returned; else -ENOENT (removed),
 * -EBUSY (written meanwhile) or -EIO (!ok), and the destination's file, if
 * any, is dead. Either way *ticket is what to wait for. With keep set, an
 * explicit replica count below the current replicas there now is raised
 * to their number in the same change (GF_REP_KEEP).
 */
#define GF_FGEN_COPY (1ull << 63)
struct gf_ns_copy {
	uint64_t ino, gen, size, fgen;
	struct gf_ns_replica src;
	uint32_t dst;
	int keep; /* set by the caller: GF_REP_KEEP (proto.h) at gf_ns_copy_end */
	int follow; /* GF_NS_COPY_FOLLOW: size is set by the caller to the size
		     * copied, which gf_ns_copy_end checks against the file's */
	uint64_t ticket; /* set by gf_ns_copy_begin: the change that stored the
			  * inode-number counter past fgen (0: none was needed);
			  * fgen must not reach gfsd before it is committed */
};
/* A copy that follows the file's writer (gfsd/copy.h): begun while it is
 * open for writing; it counts only if, when it ends, the writers are gone
 * and the file's size is the size copied (-EBUSY otherwise). */
#define GF_NS_COPY_FOLLOW 1u
/* Whether ino is a file worth copying while it is written: open for
 * writing, a count above 1, at least min_size bytes, one current replica
 * (the writer's) and no copy under way. Its count, else 0. */
uint32_t gf_ns_follow_wanted(struct gf_ns *ns, uint64_t ino, uint64_t min_size);
/* When this was the file's last writer and the file needs the repair's
 * attention (a count above 1, or stale replicas), its replica count (below);
 * else 0. */
uint32_t gf_ns_writer_done(struct gf_ns *ns, uint64_t ino);
/* A writer gfmd does not count closed (a handle opened before gfmd
 * restarted, whose release reaches the new gfmd): when the file has no
 * counted writer and needs the repair's attention, as gf_ns_writer_done
 * says; else 0. */
uint32_t gf_ns_unknown_writer_done(struct gf_ns *ns, uint64_t ino);
/* The writers of ino now (0: none, or no such inode). */
uint32_t gf_ns_writers(struct gf_ns *ns, uint64_t ino);
/* The stale (not current) replica of ino on host_id dies. -ENOENT: none. */
int gf_ns_stale_drop(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t *ticket);

/*
 * Replica counts. A regular file wants as many current replicas as the
 * decimal number in its xattr GF_NCOPY_XATTR says (1 to GF_MAX_REPLICAS;
 * any other value is refused by setxattr with -EINVAL), 1 without it. A
 * new file or directory inherits the xattr of the directory it is made in,
 * so a count set on a directory holds for what is created below it.
 */
struct gf_ns_repl_state {
	uint32_t want;	  /* replica count */
	uint8_t explicit; /* set by the xattr (else 1 by default) */
	uint32_t writers; /* open for writing now */
	uint64_t size;
	size_t n;	  /* current replicas (any host, up or down) */
	struct gf_ns_replica cur[GF_MAX_REPLICAS];
	size_t nstale;	  /* stale ones (an older generation) */
	struct gf_ns_replica stale[GF_MAX_REPLICAS];
};
/* What replication needs to know of a regular file (-ENOENT, -EINVAL). */
int gf_ns_repl_state(struct gf_ns *ns, uint64_t ino, struct gf_ns_repl_state *st);
/* fn(arg, ino, want) for every file with a replica (current or stale) on
 * host_id, in inode order; a non-zero return stops the walk and is returned.
 * fn runs under the read lock (it must not call into the namespace), which
 * the walk takes for a batch of files at a time, so that a host with a
 * million files does not hold off every writer: the walk is no snapshot. A
 * file that gains a replica on host_id meanwhile may be missed, and one
 * that loses its replica there may still be listed (the caller looks at
 * each file again, as repair does). */
int gf_ns_files_on_host(struct gf_ns *ns, uint32_t host_id,
			int (*fn)(void *arg, uint64_t ino, uint32_t want), void *arg);
int gf_ns_copy_begin(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		     uint32_t src_host, uint32_t dst_host, uint32_t flags, struct gf_ns_copy *out);
int gf_ns_copy_end(struct gf_ns *ns, const struct gf_ns_copy *cp, int ok, uint64_t *ticket);
/*
 * The current replica of ino on host_id dies, if at least keep (0 counts as
 * 1) other current replicas remain (-EMLINK otherwise). Owner or root
 * (-EPERM); -EBUSY with a writer; -ENOENT when host_id holds no current one.
 */
int gf_ns_replica_drop(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		       uint32_t host_id, uint32_t keep, uint64_t *ticket);
/*
 * gfsd host_id found its replica file ino-fgen corrupt (a block failed its
 * checksum). When the file has another current replica, this one becomes
 * stale with generation GF_GEN_CORRUPT (proto.h): never
 * served nor counted again, kept until repair has made another copy
 * (gfmd/repair.c) and then removed. 1: so marked (the caller has repair
 * look at the file); 0: nothing to do (not current or unknown: an old
 * report); -EMLINK: it is the only current replica and stays as it is (its
 * good blocks are still read; gfsd refuses the bad ones, EIO).
 */
int gf_ns_replica_corrupt(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t fgen,
			  uint64_t *ticket);

/* keep for gf_ns_replica_drop: the file's explicit replica count as it is
 * at that moment (-EMLINK when it has none): for a caller that decided on an
 * older look at the file (gfmd/repair.c). */
#define GF_NS_KEEP_COUNT UINT32_MAX

/* ---- dead replicas (what gfsd must delete) ---------------------------------- */

/* Up to max replicas that host_id should delete, of those whose death is
 * committed (ticket ≤ committed). */
size_t gf_ns_dead_list(struct gf_ns *ns, uint32_t host_id, uint64_t committed,
		       struct gf_dead_replica *out, size_t max);
/* host_id reports these deleted: forget them. */
int gf_ns_dead_done(struct gf_ns *ns, uint32_t host_id, const struct gf_dead_replica *done,
		    size_t n, uint64_t *ticket);

#endif
