/*
 * sums.c — replica checksum files (sums.h).
 */
#include "sums.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csum.h"

#define MAGIC "GFSUMS01"
#define HDR 64
#define CHUNK (16u * GF_CSUM_BLOCK) /* read this much at a time */

static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int sums_compute(int fd, uint64_t size, uint64_t *v)
{
	uint8_t *buf = malloc(CHUNK);
	int rc = 0;
	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size && !rc; off += CHUNK) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK, got;
		if ((rc = pread_full(fd, buf, want, off, &got)) < 0)
			break;
		if (got < want) {
			rc = -EIO;
			break;
		}
		for (size_t b = 0; b < got; b += GF_CSUM_BLOCK) {
			size_t n = got - b < GF_CSUM_BLOCK ? got - b : GF_CSUM_BLOCK;
			v[(off + b) / GF_CSUM_BLOCK] = gf_csum_block(buf + b, n);
		}
	}
	free(buf);
	return rc;
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

int sums_store(struct spool *sp, uint64_t ino, uint64_t fgen, uint64_t size,
	       const uint64_t *v, int sync)
{
	uint64_t n = gf_csum_nblocks(size);
	size_t len = HDR + (size_t)n * 8;
	uint8_t *buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, MAGIC, 8);
	uint32_t algo = htole32(GF_CSUM_XXH3), block = htole32(GF_CSUM_BLOCK);
	memcpy(buf + 8, &algo, 4);
	memcpy(buf + 12, &block, 4);
	put64(buf + 16, size);
	put64(buf + 24, n);
	for (uint64_t i = 0; i < n; i++)
		put64(buf + HDR + i * 8, v[i]);
	put64(buf + 32, gf_csum_block(buf, 32) ^ gf_csum_block(buf + HDR, len - HDR));
	int rc = spool_sums_replace(sp, ino, fgen, buf, len, sync);
	free(buf);
	return rc;
}

int sums_seal(struct spool *sp, uint64_t ino, uint64_t fgen, int fd, int sync, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t sz = (uint64_t)st.st_size, n = gf_csum_nblocks(sz);
	uint64_t *v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	int rc = sums_compute(fd, sz, v);
	if (rc == 0)
		rc = sums_store(sp, ino, fgen, sz, v, sync);
	free(v);
	if (rc == 0 && size)
		*size = sz;
	return rc;
}

int sums_load(struct spool *sp, uint64_t ino, uint64_t fgen, struct sums *out)
{
	memset(out, 0, sizeof(*out));
	int fd = spool_sums_open(sp, ino, fgen);
	if (fd < 0)
		return fd == -EINVAL ? -EBADMSG : fd;
	struct stat st;
	uint8_t hdr[HDR];
	size_t got;
	int rc = fstat(fd, &st) < 0 ? -errno : pread_full(fd, hdr, HDR, 0, &got);
	if (rc < 0)
		goto out;
	rc = -EBADMSG;
	uint32_t algo, block;
	memcpy(&algo, hdr + 8, 4);
	memcpy(&block, hdr + 12, 4);
	uint64_t size = get64(hdr + 16), n = get64(hdr + 24);
	if (got != HDR || memcmp(hdr, MAGIC, 8) != 0 || le32toh(algo) != GF_CSUM_XXH3 ||
	    le32toh(block) != GF_CSUM_BLOCK || n != gf_csum_nblocks(size) ||
	    (uint64_t)st.st_size != HDR + n * 8)
		goto out;
	uint8_t *raw = malloc(n ? n * 8 : 1);
	uint64_t *v = malloc(n ? n * 8 : 1);
	if (!raw || !v) {
		free(raw);
		free(v);
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = pread_full(fd, raw, n * 8, HDR, &got)) == 0 && got == n * 8 &&
	    get64(hdr + 32) == (gf_csum_block(hdr, 32) ^ gf_csum_block(raw, n * 8))) {
		for (uint64_t i = 0; i < n; i++)
			v[i] = get64(raw + i * 8);
		*out = (struct sums){ .size = size, .n = n, .v = v, .digest = get64(hdr + 32) };
		v = NULL;
		rc = 0;
	} else if (rc == 0) {
		rc = -EBADMSG;
	}
	free(raw);
	free(v);
out:
	close(fd);
	return rc;
}

void sums_free(struct sums *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

bool sums_changed(struct spool *sp, uint64_t ino, uint64_t fgen, const struct sums *s)
{
	int fd = spool_sums_open(sp, ino, fgen);
	if (fd < 0)
		return true;
	uint8_t hdr[HDR];
	size_t got;
	bool changed = pread_full(fd, hdr, HDR, 0, &got) < 0 || got != HDR ||
		       memcmp(hdr, MAGIC, 8) != 0 || get64(hdr + 16) != s->size ||
		       get64(hdr + 32) != s->digest;
	close(fd);
	return changed;
}
