/*
 * cachever.h — which version of a file the kernel's page cache holds, per
 * inode, so that an open keeps cached pages that are still the file's and
 * stale ones are dropped (the mount's close-to-open consistency).
 *
 * A version is gfmd's data generation, size and mtime of the file. Every
 * write open makes a new generation (gfmd), so another mount's writes,
 * once closed, never look like the version cached here.
 *
 *   cachever_open     at a reader's open: 1 when the cached version is the
 *                     file's (the open keeps the pages); the file's version
 *                     is remembered either way (the pages read from now on
 *                     are of it).
 *   cachever_forget   a handle of this mount changes the file around the
 *                     page cache (O_DIRECT, O_APPEND's direct I/O), or
 *                     writes it: the next open drops the pages.
 *   cachever_wrote    this mount's writer was the file's only one and wrote
 *                     through the page cache: the pages it left are version
 *                     a (gfmd's reply to its last GFM_CLOSE_WRITE).
 *   cachever_stale    attributes a go to the kernel (no writer of the file on
 *                     this mount): 1 when the kernel may hold pages of
 *                     another version, which must go; a is remembered as
 *                     the version from then on. Never 1 for a file never
 *                     opened here (the kernel holds no page of it). The
 *                     kernel's own test (FUSE_CAP_AUTO_INVAL_DATA, mtime
 *                     only) would drop what this mount just wrote.
 *
 * The table is fixed (a collision forgets a version, which costs one drop
 * too many, never a stale page kept). The inodes the kernel may hold pages
 * of (every one _open, _forget or _wrote was called for) are a Bloom
 * filter (a false positive costs the same).
 *
 * Dropping the pages (fuse_lowlevel_notify_inval_inode) is done by a thread
 * of its own, never by a request handler: the kernel may hold page locks
 * that only other requests release. cachever_drop queues it (made at once
 * if it cannot be queued); cachever_drop_stop ends the thread before the
 * session goes (what is still queued is not needed: the mount goes).
 *
 * Thread-safe.
 */
#ifndef GF_CACHEVER_H
#define GF_CACHEVER_H

#include <stdint.h>

#include "proto.h"

struct fuse_session;

int cachever_open(const struct gf_attr *a);
/* 1 when version a is what this mount's own writer left in the page cache
 * (cachever_wrote), without remembering anything. */
int cachever_written(const struct gf_attr *a);
void cachever_forget(uint64_t ino);
void cachever_wrote(const struct gf_attr *a);
int cachever_stale(const struct gf_attr *a);

void cachever_drop(struct fuse_session *se, uint64_t ino);
/* Queue dropping ino's cached pages in [off, off+len) (len > 0), for
 * memory's sake only: a page dropped that is still wanted is read again.
 * Nothing happens if it cannot be queued. */
void cachever_drop_range(struct fuse_session *se, uint64_t ino, uint64_t off, uint64_t len);
void cachever_drop_stop(void);

#endif
