/*
 * csum.h — block checksums of replica data.
 *
 * A replica's data is cut into blocks of GF_CSUM_BLOCK bytes (the last one
 * may be shorter); each block has a 64-bit checksum, XXH3-64 of its bytes
 * (seed 0) — the algorithm the sidecar files name with GF_CSUM_XXH3 so that
 * another can be added later. XXH3 was chosen for speed: about 18 GB/s per
 * core on this class of machine (bench/checksum.sh), so summing a block
 * costs a few percent of reading it from the page cache, where CRC32C in
 * software or SHA-256 would cost more than the read itself. It detects
 * accidental corruption (bit rot, torn or misdirected writes, a flipped
 * byte); it is not a defence against someone who can write the spool, who
 * could rewrite the sums too.
 *
 * Holes read as zeros and are summed as zeros.
 */
#ifndef GF_CSUM_H
#define GF_CSUM_H

#include <stddef.h>
#include <stdint.h>

#define GF_CSUM_BLOCK (64u * 1024u)
#define GF_CSUM_XXH3 1u

/* The checksum of one block (len ≤ GF_CSUM_BLOCK bytes at p). */
uint64_t gf_csum_block(const void *p, size_t len);

/* The number of blocks of a replica of size bytes. */
static inline uint64_t gf_csum_nblocks(uint64_t size)
{
	return (size + GF_CSUM_BLOCK - 1) / GF_CSUM_BLOCK;
}

/*
 * Check the blocks in buf, which holds len bytes of the replica starting at
 * block first (block-aligned; len may end mid-block only at the replica's
 * end), against sums[0..]. 0 when every block matches; else the index of
 * the first bad block + 1 (so that block 0 reads as 1).
 */
uint64_t gf_csum_check(const void *buf, size_t len, uint64_t first, const uint64_t *sums);

#endif
