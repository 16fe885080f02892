/*
 * csum.c — block checksums (csum.h), XXH3 from libxxhash.
 */
#include "csum.h"

#include <xxhash.h>

uint64_t gf_csum_block(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

uint64_t gf_csum_check(const void *buf, size_t len, uint64_t first, const uint64_t *sums)
{
	const unsigned char *p = buf;
	for (size_t off = 0, i = 0; off < len; off += GF_CSUM_BLOCK, i++) {
		size_t n = len - off < GF_CSUM_BLOCK ? len - off : GF_CSUM_BLOCK;
		if (gf_csum_block(p + off, n) != sums[i])
			return first + i + 1;
	}
	return 0;
}
