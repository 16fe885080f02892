/*
 * sums.h — a replica's block checksums, kept beside it in the spool
 * (spool.h: "<name>.sum"), and the checks made against them.
 *
 * When. gfsd seals a replica — computes a checksum per GF_CSUM_BLOCK
 * (lib/csum.h) over what the file holds and writes them — when its last
 * write handle goes (GFS_CLOSE or the writer's connection closing), and when
 * a copy is made (copy.h). The first writer of a replica removes them
 * before anyone writes (service.c), so that no sums ever describe data
 * being changed. Every path that changes replica data — GFS_WRITE, a
 * passed fd's writes, truncate, fallocate, a copy — does so under a write
 * handle or a copy, so none bypasses this: data is summed as it is when
 * the last writer lets go, by gfsd, whoever wrote it. A replica left
 * without sums (gfsd or its machine crashed while it was written, or made
 * before checksums existed) is "unsealed": read unchecked, shown by gffsck,
 * and sealed by `gffsck --repair` (GFS_VERIFY_SEAL).
 *
 * The file: a 64-byte header (magic "GFSUMS01", algorithm, block size, the
 * data size, the number of blocks, and an XXH3 of the header and every sum,
 * so that a torn or damaged sums file reads as damaged, -EBADMSG, never as
 * sums), then one little-endian u64 per block.
 *
 * All functions return 0 or a negative errno.
 */
#ifndef GFSD_SUMS_H
#define GFSD_SUMS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"

struct sums {
	uint64_t size; /* the data size they describe */
	uint64_t n;    /* gf_csum_nblocks(size) */
	uint64_t *v;   /* n sums */
	uint64_t digest; /* the file's own check (its header's XXH3 of the
			    header and every sum): another means a new seal */
};

/* Sums of fd's first size bytes into v (gf_csum_nblocks(size) entries).
 * -EIO when fd holds fewer bytes. */
int sums_compute(int fd, uint64_t size, uint64_t *v);
/* Seal replica (ino, fgen), whose data fd holds (readable): sums of all of
 * it, written. *size (may be NULL): the size sealed. sync: fsync them. */
int sums_seal(struct spool *sp, uint64_t ino, uint64_t fgen, int fd, int sync, uint64_t *size);
/* Write sums already known (a copy summed as it was received). */
int sums_store(struct spool *sp, uint64_t ino, uint64_t fgen, uint64_t size,
	       const uint64_t *v, int sync);
/* Load replica (ino, fgen)'s sums: 0, -ENOENT (unsealed), -EBADMSG (the
 * sums file is damaged: treated as unsealed by readers, reported by gffsck). */
int sums_load(struct spool *sp, uint64_t ino, uint64_t fgen, struct sums *out);
void sums_free(struct sums *s);
/*
 * The sums file no longer holds what s was loaded from (resealed, gone, or
 * unreadable). Told by content, not by the file's inode and change time: a
 * seal right after another reuses the removed file's inode number (ext4)
 * and can get the same change time (one clock tick), and a reader holding
 * the old sums would take the new data for corruption.
 */
bool sums_changed(struct spool *sp, uint64_t ino, uint64_t fgen, const struct sums *s);

#endif
