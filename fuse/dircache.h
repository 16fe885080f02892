/*
 * dircache.h — directory attributes that this mount's own mutations brought
 * back from gfmd (proto.h gfm_dirs).
 *
 * FUSE drops a directory's cached attributes whenever a create, unlink,
 * rename, ... in it returns, so the kernel's next path walk through it
 * sends a GETATTR: one more gfmd round trip per operation. gfmd's reply to
 * the mutation already said what the directory looks like after it; this
 * cache answers that GETATTR instead.
 *
 * What it promises is what the kernel's own attribute cache promises: an
 * entry is served for at most `timeout` seconds after gfmd sent it (others'
 * changes show within that time), and never once this mount has done
 * anything else that may change the directory: the request handlers call
 * gf_dircache_forget() for the directories they touch before calling gfmd,
 * and a reply to a request sent before such a forget is not stored (the
 * cookie of gf_dircache_begin()). Of two replies about one directory the one
 * with the later ctime wins, whatever order they arrive in; a LOOKUP that
 * finds a directory refreshes it too, so that the kernel is never answered
 * with attributes older than those it already has.
 *
 * Thread-safe. A fixed table: an entry may be evicted by another that
 * hashes to its slot, which only costs a round trip.
 */
#ifndef GF_DIRCACHE_H
#define GF_DIRCACHE_H

#include <stdint.h>

#include "proto.h"

/* seconds an entry is served; 0 disables the cache */
void gf_dircache_init(double timeout);
/* before sending a request whose reply may carry directories */
uint64_t gf_dircache_begin(void);
/* a reply's directories, for a request sent when begin returned cookie */
void gf_dircache_put(uint64_t cookie, const struct gfm_dirs *d);
/* this mount is about to change ino (or changed it): drop what is cached */
void gf_dircache_forget(uint64_t ino);
/* 1 and *out, *remaining (seconds of validity left) if ino is cached and
 * fresh; else 0 */
int gf_dircache_get(uint64_t ino, struct gf_attr *out, double *remaining);

#endif
