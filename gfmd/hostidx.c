/* hostidx.c — see hostidx.h. */
#include "hostidx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORDS (HOSTIDX_CHUNK / 64)

struct hostidx_chunk {
	uint32_t members;
	uint64_t bits[WORDS];
};

void hostidx_init(struct hostidx *ix)
{
	ix->hosts = NULL;
	ix->nhosts = 0;
}

void hostidx_free(struct hostidx *ix)
{
	for (size_t h = 0; h < ix->nhosts; h++) {
		struct hostidx_host *hh = &ix->hosts[h];
		for (size_t c = 0; c < hh->nchunks; c++)
			free(hh->chunks[c]);
		free(hh->chunks);
	}
	free(ix->hosts);
	hostidx_init(ix);
}

static struct hostidx_host *host_of(const struct hostidx *ix, uint32_t host)
{
	return host < ix->nhosts ? &ix->hosts[host] : NULL;
}

/* Grows *v (of *n elements of size sz) to hold index i, zero-filled. */
static int grow(void **v, size_t *n, size_t sz, size_t i)
{
	if (i < *n)
		return 0;
	size_t nn = *n ? *n : 16;
	while (nn <= i)
		nn *= 2;
	void *nv = realloc(*v, nn * sz);
	if (!nv)
		return -ENOMEM;
	memset((char *)nv + *n * sz, 0, (nn - *n) * sz);
	*v = nv;
	*n = nn;
	return 0;
}

int hostidx_add(struct hostidx *ix, uint32_t host, uint64_t ino)
{
	if (ino == 0)
		return 0;
	if (grow((void **)&ix->hosts, &ix->nhosts, sizeof(*ix->hosts), host) < 0)
		return -ENOMEM;
	struct hostidx_host *hh = &ix->hosts[host];
	size_t c = (size_t)(ino / HOSTIDX_CHUNK);
	if (grow((void **)&hh->chunks, &hh->nchunks, sizeof(*hh->chunks), c) < 0)
		return -ENOMEM;
	struct hostidx_chunk *ch = hh->chunks[c];
	if (!ch && !(ch = hh->chunks[c] = calloc(1, sizeof(*ch))))
		return -ENOMEM;
	uint32_t b = (uint32_t)(ino % HOSTIDX_CHUNK);
	uint64_t m = 1ull << (b % 64);
	if (!(ch->bits[b / 64] & m)) {
		ch->bits[b / 64] |= m;
		ch->members++;
		hh->members++;
	}
	return 0;
}

void hostidx_del(struct hostidx *ix, uint32_t host, uint64_t ino)
{
	struct hostidx_host *hh = host_of(ix, host);
	size_t c = (size_t)(ino / HOSTIDX_CHUNK);
	if (!hh || c >= hh->nchunks || !hh->chunks[c])
		return;
	struct hostidx_chunk *ch = hh->chunks[c];
	uint32_t b = (uint32_t)(ino % HOSTIDX_CHUNK);
	uint64_t m = 1ull << (b % 64);
	if (!(ch->bits[b / 64] & m))
		return;
	ch->bits[b / 64] &= ~m;
	hh->members--;
	if (--ch->members == 0) {
		free(ch);
		hh->chunks[c] = NULL;
	}
}

int hostidx_has(const struct hostidx *ix, uint32_t host, uint64_t ino)
{
	const struct hostidx_host *hh = host_of(ix, host);
	size_t c = (size_t)(ino / HOSTIDX_CHUNK);
	if (!hh || c >= hh->nchunks || !hh->chunks[c])
		return 0;
	uint32_t b = (uint32_t)(ino % HOSTIDX_CHUNK);
	return (hh->chunks[c]->bits[b / 64] >> (b % 64)) & 1;
}

uint64_t hostidx_next(const struct hostidx *ix, uint32_t host, uint64_t after)
{
	const struct hostidx_host *hh = host_of(ix, host);
	if (!hh || after == UINT64_MAX)
		return 0;
	uint64_t from = after + 1;
	for (size_t c = (size_t)(from / HOSTIDX_CHUNK); c < hh->nchunks; c++) {
		const struct hostidx_chunk *ch = hh->chunks[c];
		if (!ch)
			continue;
		uint32_t b = (uint64_t)c * HOSTIDX_CHUNK < from ? (uint32_t)(from % HOSTIDX_CHUNK) : 0;
		for (uint32_t w = b / 64; w < WORDS; w++) {
			uint64_t word = ch->bits[w];
			if (w == b / 64)
				word &= ~0ull << (b % 64);
			if (word)
				return (uint64_t)c * HOSTIDX_CHUNK + w * 64 +
				       (uint64_t)__builtin_ctzll(word);
		}
	}
	return 0;
}

uint64_t hostidx_count(const struct hostidx *ix, uint32_t host)
{
	const struct hostidx_host *hh = host_of(ix, host);
	return hh ? hh->members : 0;
}

size_t hostidx_bytes(const struct hostidx *ix)
{
	size_t n = ix->nhosts * sizeof(*ix->hosts);
	for (size_t h = 0; h < ix->nhosts; h++) {
		const struct hostidx_host *hh = &ix->hosts[h];
		n += hh->nchunks * sizeof(*hh->chunks);
		for (size_t c = 0; c < hh->nchunks; c++)
			if (hh->chunks[c])
				n += sizeof(struct hostidx_chunk);
	}
	return n;
}
