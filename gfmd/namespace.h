/*
 * namespace.h — gfmd's whole namespace, in memory.
 *
 * What it holds: every inode (attributes as struct gf_attr, symlink target,
 * xattrs, replica catalogue {host_id, gen}), every directory's entries, the
 * dead replicas that gfsd still has to delete, and the inode-number counter.
 * Inode numbers are never reused (the counter is stored), so a replica named
 * ino-gen on a gfsd can never be mistaken for a newer file's.
 *
 * What it guarantees:
 *   - POSIX semantics and errors as ext4 gives them, checked against the
 *     caller's struct gf_cred for every operation (root bypasses permission
 *     bits, except that executing needs some x bit).
 *   - READDIR cookies are per directory, strictly increasing in insertion
 *     order and never reused, so continuing from a cookie neither repeats
 *     nor skips entries that stayed in the directory meanwhile.
 *   - Every mutation that succeeds describes its row changes (changes.h) and
 *     hands them to the sink while still holding the lock, so the store sees
 *     changes in the order memory saw them; the sink's ticket comes back in
 *     *ticket (0 when nothing changed or no sink is set). A failed operation
 *     changes nothing and returns *ticket = 0.
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
	uint64_t gen;
};

/*
 * Where to write a file: given the hosts that hold a replica now (nhave may
 * be 0), choose one of them or a new host. 0 and *host_id, or -errno
 * (-ENOSPC when no gfsd is up). Called under the namespace write lock.
 */
typedef int (*gf_place_fn)(void *arg, const struct gf_ns_replica *have, size_t nhave,
			   uint32_t *host_id);

/* ---- life cycle and loading ---------------------------------------------- */

struct gf_ns *gf_ns_new(void);
void gf_ns_free(struct gf_ns *ns);
void gf_ns_set_sink(struct gf_ns *ns, gf_sink_fn sink, void *arg);

/* Rows from the store, in any order. -EEXIST, -ENOMEM or -EINVAL. */
int gf_ns_load_inode(struct gf_ns *ns, const struct gf_attr *a, const char *symlink);
int gf_ns_load_dirent(struct gf_ns *ns, uint64_t parent, const char *name,
		      uint64_t ino, uint64_t cookie);
int gf_ns_load_xattr(struct gf_ns *ns, uint64_t ino, const char *name,
		     const void *value, size_t len);
int gf_ns_load_replica(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t gen);
int gf_ns_load_dead(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t gen);
void gf_ns_load_next_ino(struct gf_ns *ns, uint64_t next);
/*
 * After the rows: orders directories, checks that every entry names a known
 * inode (dangling entries are dropped with a warning), and creates the root
 * directory (ino 1, 0755 root:root) when there is none — a change recorded
 * through the sink.
 */
int gf_ns_load_finish(struct gf_ns *ns, uint64_t *ticket);

/* ---- reads (read lock) ----------------------------------------------------- */

int gf_ns_lookup(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, struct gf_attr *out);
int gf_ns_getattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		  struct gf_attr *out);
int gf_ns_readlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   char *buf, size_t bufsz);
/* mask: R_OK | W_OK | X_OK, or F_OK. */
int gf_ns_access(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t mask);
/*
 * Up to max entries with cookie greater than `cookie` (0 = from the start),
 * in cookie order, with their attributes. *eof = 1 when nothing follows.
 */
int gf_ns_readdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		  uint64_t cookie, uint32_t max, struct gfm_dirent *ents,
		  uint32_t *count, uint8_t *eof);
/*
 * size 0: only *len (the full length). size < length: -ERANGE. Else copies.
 * listxattr gives NUL-terminated names one after another, hiding trusted.*
 * from non-root callers.
 */
int gf_ns_getxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   const char *name, void *buf, size_t size, size_t *len);
int gf_ns_listxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		    void *buf, size_t size, size_t *len);
/* Number of inodes (for statfs). */
uint64_t gf_ns_inode_count(struct gf_ns *ns);
/* Replicas a host holds (for the host list). */
uint64_t gf_ns_replica_count(struct gf_ns *ns, uint32_t host_id);
/* The replica catalogue of a file. */
int gf_ns_replicas(struct gf_ns *ns, uint64_t ino, struct gf_ns_replica *out,
		   size_t max, size_t *n);

/* ---- mutations (write lock) ------------------------------------------------ */

int gf_ns_setattr(struct gf_ns *ns, const struct gfm_setattr_req *req,
		  struct gf_attr *out, uint64_t *ticket);
/* Any non-directory type (S_IFREG if the type bits are 0). */
int gf_ns_mknod(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, uint64_t rdev,
		struct gf_attr *out, uint64_t *ticket);
int gf_ns_mkdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, struct gf_attr *out, uint64_t *ticket);
/*
 * Create a regular file and open it (open(2) flags: O_EXCL; an existing file
 * without O_EXCL is opened as gf_ns_open would). place (may be NULL: no
 * replica) chooses where its data goes; the chosen replica is in *rep and
 * *nrep is 1 (0 without place).
 */
int gf_ns_create(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint32_t mode, uint32_t flags,
		 gf_place_fn place, void *place_arg, struct gf_attr *out,
		 struct gf_ns_replica *rep, size_t *nrep, uint64_t *ticket);
/*
 * Permission check by flags (O_TRUNC needs write). O_TRUNC empties the file.
 * For a write (O_WRONLY/O_RDWR/O_TRUNC) on a regular file with place set,
 * returns exactly one replica: the one place chooses, created when new (gen
 * = the inode's gen); other replicas would go stale, so they become dead.
 * For a read, returns every replica (up to max).
 */
int gf_ns_open(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
	       gf_place_fn place, void *place_arg, struct gf_attr *out,
	       struct gf_ns_replica *reps, size_t max, size_t *nreps, uint64_t *ticket);
/* Data was written: new size and mtime; clears setuid/setgid for non-root. */
int gf_ns_close_write(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		      uint64_t gen, uint64_t size, struct gf_timespec mtime,
		      struct gf_attr *out, uint64_t *ticket);
int gf_ns_unlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint64_t *ticket);
int gf_ns_rmdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint64_t *ticket);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. */
int gf_ns_rename(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint64_t newparent, const char *newname,
		 uint32_t flags, uint64_t *ticket);
int gf_ns_link(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
	       uint64_t newparent, const char *newname, struct gf_attr *out,
	       uint64_t *ticket);
int gf_ns_symlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		  const char *name, const char *target, struct gf_attr *out,
		  uint64_t *ticket);
/* flags: XATTR_CREATE, XATTR_REPLACE. Only "user." (and "trusted." for root). */
int gf_ns_setxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   const char *name, const void *value, size_t len, uint32_t flags,
		   uint64_t *ticket);
int gf_ns_removexattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		      const char *name, uint64_t *ticket);

/* ---- dead replicas (what gfsd must delete) ---------------------------------- */

/* Up to max replicas that host_id should delete. */
size_t gf_ns_dead_list(struct gf_ns *ns, uint32_t host_id, struct gf_dead_replica *out,
		       size_t max);
/* host_id reports these deleted: forget them. */
int gf_ns_dead_done(struct gf_ns *ns, uint32_t host_id, const struct gf_dead_replica *done,
		    size_t n, uint64_t *ticket);

#endif
