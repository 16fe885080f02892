/*
 * hostidx.h — which inodes have a replica on each host: the per-host index
 * that drain, repair and orphan scans walk instead of every inode.
 *
 * A set of inode numbers per host id, as a sparse bitmap: chunks of
 * HOSTIDX_CHUNK consecutive inode numbers, each made when its first member
 * comes and freed when its last goes, found through an array indexed by
 * chunk number. Inode numbers come from one counter, so they are dense:
 * a host with a replica of one file in k of each chunk's inodes costs
 * HOSTIDX_CHUNK / 8 bytes per chunk, an eighth of a byte per inode.
 *
 * The caller keeps its meaning (the namespace: "host has at least one
 * replica of this inode, current or stale") and its locking: nothing here
 * locks. Inode number 0 is never a member.
 */
#ifndef GFMD_HOSTIDX_H
#define GFMD_HOSTIDX_H

#include <stddef.h>
#include <stdint.h>

#define HOSTIDX_CHUNK 4096u /* inode numbers per chunk (a power of two) */

struct hostidx_chunk;

struct hostidx_host {
	struct hostidx_chunk **chunks; /* by chunk number; NULL: none there */
	size_t nchunks;		       /* length of chunks */
	uint64_t members;	       /* inodes in the set */
};

struct hostidx {
	struct hostidx_host *hosts; /* by host id */
	size_t nhosts;
};

/* An empty index (all zero is one too). */
void hostidx_init(struct hostidx *ix);
/* Frees everything; ix is empty again. */
void hostidx_free(struct hostidx *ix);
/* ino joins host's set (already there: nothing); 0 or -ENOMEM. */
int hostidx_add(struct hostidx *ix, uint32_t host, uint64_t ino);
/* ino leaves host's set (not there: nothing). */
void hostidx_del(struct hostidx *ix, uint32_t host, uint64_t ino);
/* 1 if ino is in host's set. */
int hostidx_has(const struct hostidx *ix, uint32_t host, uint64_t ino);
/* The smallest member of host's set above `after`, or 0 when none is. */
uint64_t hostidx_next(const struct hostidx *ix, uint32_t host, uint64_t after);
/* How many inodes host's set holds. */
uint64_t hostidx_count(const struct hostidx *ix, uint32_t host);
/* Bytes the index takes (the unit test checks that emptied chunks go). */
size_t hostidx_bytes(const struct hostidx *ix);

#endif
