/*
 * attrcache.h — attributes of directories and files that this mount's own
 * requests brought back from gfmd (proto.h gfm_dirs, and the attributes in
 * replies to create, lookup, getattr, setattr, open, link and close-write).
 *
 * FUSE drops an inode's cached attributes whenever its own operation may
 * have changed them: a directory's at every create, unlink, rename ... in
 * it; a file's size, mtime and ctime at every WRITE. The kernel's next stat
 * or path walk then sends a GETATTR: one more gfmd round trip per operation
 * (git's fstat after each file's write, the walk after each create). gfmd's
 * reply to the request before already said what the inode looks like; this
 * cache answers that GETATTR instead. ops.c serves files from it only while
 * this mount has them open (a writer's size and mtime over the cached
 * attributes: merge_writer; a read open's reply with the atime it moved),
 * never from a close-write's reply (a close ends that view: what other
 * mounts published before it must show), and forgets a file whose lock it
 * takes.
 *
 * What it promises is what the kernel's own attribute cache promises: an
 * entry is served for at most `timeout` seconds after gfmd sent it (others'
 * changes show within that time), and never once this mount has done
 * anything else that may change the inode: the request handlers call
 * gf_attrcache_forget() for the inodes they touch (gf_attrcache_forget_all()
 * when they cannot name them: an unlink, rmdir or rename changes the link
 * count or ctime of an inode known only by its name) before calling gfmd,
 * and a reply to a request sent before such a forget is not stored (the
 * cookie of gf_attrcache_begin()). Of two replies about one inode the one
 * with the later ctime wins, whatever order they arrive in (of two with
 * the same ctime, the later data generation).
 *
 * Thread-safe. A fixed table: an entry may be evicted by another that
 * hashes to its slot, which only costs a round trip.
 */
#ifndef GF_ATTRCACHE_H
#define GF_ATTRCACHE_H

#include <stdint.h>

#include "proto.h"

/* seconds an entry is served; 0 disables the cache */
void gf_attrcache_init(double timeout);
/* before sending a request whose reply may carry directories */
uint64_t gf_attrcache_begin(void);
/* a reply's directories, for a request sent when begin returned cookie */
void gf_attrcache_put(uint64_t cookie, const struct gfm_dirs *d);
/* one inode's attributes from a reply to a request sent when begin
 * returned cookie */
void gf_attrcache_put_attr(uint64_t cookie, const struct gf_attr *a);
/* this mount is about to change ino (or changed it): drop what is cached */
void gf_attrcache_forget(uint64_t ino);
/* ... about to change inodes it cannot name: drop everything */
void gf_attrcache_forget_all(void);
/* 1 and *out, *remaining (seconds of validity left) if ino is cached and
 * fresh; else 0 */
int gf_attrcache_get(uint64_t ino, struct gf_attr *out, double *remaining);

#endif
