/*
 * pages.c — the swap page cache (pages.h).
 *
 * A page's bookkeeping is an entry in one array indexed like the page
 * frames: frame i lives in chunk i / per_chunk. Entries are chained per
 * hash bucket by index; free frames are chained the same way.
 */
#include "pages.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "clock.h"

#define NONE UINT32_MAX
#define MAX_OWNERS 256

struct ent {
	uint64_t owner, slot, stamp; /* stamp 0: the frame is free */
	uint32_t next;		     /* hash chain, or free list */
};

struct owner {
	uint64_t id;
	uint64_t pages;
	uint64_t seen_ms; /* CLOCK_MONOTONIC: its last request */
	char host[GF_HOST_MAX + 1]; /* its gfswap's host; "": not known */
};

#define MAX_MOVES (1u << 20) /* moves kept for owners to collect */
#define MAX_HOSTS 256

struct move {
	uint64_t owner, slot, stamp;
	uint16_t host; /* index into hosts; 0: nowhere */
};

struct pages {
	pthread_mutex_t mu;
	uint64_t max_pages, reserve_bytes;
	size_t chunk_bytes;
	uint32_t per_chunk;
	char meminfo[256];
	uint8_t **chunks;
	uint32_t nchunks, max_chunks;
	uint32_t nframes; /* frames handed out by grow() so far */
	uint32_t hand;	  /* where the next victim search starts */
	uint64_t cap;	  /* lend at most this many pages */
	struct move *moves;
	uint32_t nmoves, cmoves;
	char *hosts[MAX_HOSTS]; /* hosts[0] unused: "nowhere" */
	uint32_t nhosts;
	uint64_t lease_ms;
	struct ent *ents; /* max_chunks * per_chunk, touched as chunks come */
	uint32_t *buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t free_head;
	uint64_t nfree, used;
	struct owner owners[MAX_OWNERS];
	uint32_t nowners;
	int lock_warned;
	uint64_t spare_bytes, spare_idle_ms;
	uint64_t last_put_ms; /* CLOCK_MONOTONIC */
	struct gfs_page_stats_rep st;
};

static uint32_t hash(const struct pages *p, uint64_t owner, uint64_t slot)
{
	uint64_t h = (owner ^ (slot * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
	return (uint32_t)(h >> 32) & (p->nbuckets - 1);
}

static uint8_t *frame(const struct pages *p, uint32_t i)
{
	return p->chunks[i / p->per_chunk] + (size_t)(i % p->per_chunk) * GF_PAGE_SIZE;
}

int pages_new(const struct pages_config *cfg, struct pages **out)
{
	struct pages *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	p->chunk_bytes = cfg->chunk_bytes ? cfg->chunk_bytes : (size_t)16 << 20;
	p->chunk_bytes -= p->chunk_bytes % GF_PAGE_SIZE;
	if (p->chunk_bytes == 0)
		p->chunk_bytes = GF_PAGE_SIZE;
	p->per_chunk = (uint32_t)(p->chunk_bytes / GF_PAGE_SIZE);
	p->max_chunks = (uint32_t)((cfg->max_bytes + p->chunk_bytes - 1) / p->chunk_bytes);
	if ((uint64_t)p->max_chunks * p->per_chunk >= NONE)
		p->max_chunks = (uint32_t)((NONE - 1) / p->per_chunk);
	p->max_pages = cfg->max_bytes / GF_PAGE_SIZE;
	if (p->max_pages > (uint64_t)p->max_chunks * p->per_chunk)
		p->max_pages = (uint64_t)p->max_chunks * p->per_chunk;
	p->reserve_bytes = cfg->reserve_bytes;
	p->spare_bytes = cfg->spare_bytes;
	p->spare_idle_ms = cfg->spare_idle_ms ? cfg->spare_idle_ms : 30000;
	snprintf(p->meminfo, sizeof(p->meminfo), "%s", cfg->meminfo ? cfg->meminfo : "/proc/meminfo");
	p->nbuckets = 1024;
	while (p->nbuckets < p->max_pages && p->nbuckets < (1u << 24))
		p->nbuckets <<= 1;
	p->buckets = malloc(sizeof(*p->buckets) * p->nbuckets);
	p->chunks = calloc(p->max_chunks ? p->max_chunks : 1, sizeof(*p->chunks));
	/* calloc of a large array is fresh mmap'd memory: untouched pages of
	 * it cost nothing until chunks come */
	p->ents = calloc((size_t)(p->max_chunks ? p->max_chunks : 1) * p->per_chunk,
			 sizeof(*p->ents));
	if (!p->buckets || !p->chunks || !p->ents) {
		pages_free(p);
		return -ENOMEM;
	}
	memset(p->buckets, 0xff, sizeof(*p->buckets) * p->nbuckets);
	p->free_head = NONE;
	p->cap = UINT64_MAX;
	p->nhosts = 1;
	p->lease_ms = (uint64_t)cfg->owner_lease_s * 1000;
	if (getrandom(&p->st.instance, sizeof(p->st.instance), 0) != sizeof(p->st.instance))
		p->st.instance = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	*out = p;
	return 0;
}

void pages_free(struct pages *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nchunks; i++)
		munmap(p->chunks[i], p->chunk_bytes);
	free(p->chunks);
	free(p->ents);
	free(p->moves);
	for (uint32_t i = 1; i < p->nhosts; i++)
		free(p->hosts[i]);
	free(p->buckets);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* MemAvailable in bytes, or UINT64_MAX when it cannot be read. */
static uint64_t mem_available(const struct pages *p)
{
	FILE *f = fopen(p->meminfo, "re");
	char line[256];
	unsigned long long kb;
	uint64_t v = UINT64_MAX;

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			v = (uint64_t)kb * 1024;
			break;
		}
	fclose(f);
	return v;
}

/* Chunks that may still be added now (max and the host's reserve). */
static uint32_t chunks_allowed(const struct pages *p)
{
	uint64_t avail = mem_available(p);
	uint64_t by_mem, left = p->max_chunks - p->nchunks;

	if ((uint64_t)p->nchunks * p->per_chunk >= p->max_pages)
		return 0;
	if (avail == UINT64_MAX)
		return (uint32_t)left;
	by_mem = avail > p->reserve_bytes ? (avail - p->reserve_bytes) / p->chunk_bytes : 0;
	return (uint32_t)(by_mem < left ? by_mem : left);
}

/* Add one chunk of frames to the free list. mu held. */
static int grow(struct pages *p)
{
	uint8_t *c;
	uint32_t base, n;

	if (p->nchunks >= p->max_chunks || chunks_allowed(p) == 0)
		return -ENOSPC;
	c = mmap(NULL, p->chunk_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c == MAP_FAILED)
		return -ENOSPC;
	if (mlock(c, p->chunk_bytes) < 0 && !p->lock_warned) {
		p->lock_warned = 1;
		gf_warn("gfsd: cannot lock swap page memory (%s): cached pages may "
			"themselves be swapped out", strerror(errno));
	}
	base = p->nchunks * p->per_chunk;
	p->chunks[p->nchunks++] = c;
	n = p->per_chunk;
	if ((uint64_t)base + n > p->max_pages)
		n = (uint32_t)(p->max_pages - base);
	for (uint32_t i = n; i-- > 0;) {
		p->ents[base + i].stamp = 0;
		p->ents[base + i].next = p->free_head;
		p->free_head = base + i;
	}
	p->nfree += n;
	p->nframes = base + n;
	p->st.locked += p->chunk_bytes;
	return 0;
}

static uint32_t *find(struct pages *p, uint64_t owner, uint64_t slot)
{
	uint32_t *pp = &p->buckets[hash(p, owner, slot)];

	while (*pp != NONE) {
		struct ent *e = &p->ents[*pp];
		if (e->owner == owner && e->slot == slot)
			return pp;
		pp = &e->next;
	}
	return pp;
}

/* owner made a request: its lease starts again. mu held. */
static void owner_seen(struct pages *p, uint64_t owner)
{
	for (uint32_t i = 0; i < p->nowners; i++)
		if (p->owners[i].id == owner) {
			p->owners[i].seen_ms = gf_mono_ms();
			return;
		}
}

static void owner_count(struct pages *p, uint64_t owner, int delta)
{
	uint32_t i;

	for (i = 0; i < p->nowners; i++)
		if (p->owners[i].id == owner)
			break;
	if (i == p->nowners) {
		if (delta < 0 || p->nowners == MAX_OWNERS)
			return;
		p->owners[p->nowners++] = (struct owner){ .id = owner, .seen_ms = gf_mono_ms() };
	}
	p->owners[i].pages += (uint64_t)(int64_t)delta;
	if (p->owners[i].pages == 0)
		p->owners[i] = p->owners[--p->nowners];
}

void pages_set_owner_host(struct pages *p, uint64_t owner, const char *host)
{
	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < p->nowners; i++)
		if (p->owners[i].id == owner) {
			snprintf(p->owners[i].host, sizeof(p->owners[i].host), "%s", host);
			break;
		}
	pthread_mutex_unlock(&p->mu);
}

int pages_owner_host(struct pages *p, uint64_t owner, char *buf, size_t bufsz)
{
	int known = 0;

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < p->nowners; i++)
		if (p->owners[i].id == owner && p->owners[i].host[0]) {
			snprintf(buf, bufsz, "%s", p->owners[i].host);
			known = 1;
			break;
		}
	pthread_mutex_unlock(&p->mu);
	return known;
}

int pages_put(struct pages *p, uint64_t owner, uint64_t slot, uint64_t stamp, uint32_t n,
	      const uint8_t *data)
{
	uint32_t fresh = 0;

	if (n == 0 || n > GF_PAGE_BATCH || stamp == 0)
		return -EINVAL;
	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < n; i++)
		if (*find(p, owner, slot + i) == NONE)
			fresh++;
	while (p->nfree < fresh && grow(p) == 0)
		;
	if (p->nfree < fresh || p->used + fresh > p->cap) {
		p->st.refused += n;
		pthread_mutex_unlock(&p->mu);
		return -ENOSPC;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t *pp = find(p, owner, slot + i), x = *pp;
		if (x != NONE) {
			if (p->ents[x].stamp > stamp) {
				p->st.stale_puts++;
				continue;
			}
		} else {
			x = p->free_head;
			p->free_head = p->ents[x].next;
			p->nfree--;
			p->used++;
			p->ents[x] = (struct ent){ .owner = owner, .slot = slot + i, .next = NONE };
			*pp = x;
			owner_count(p, owner, 1);
		}
		p->ents[x].stamp = stamp;
		memcpy(frame(p, x), data + (size_t)i * GF_PAGE_SIZE, GF_PAGE_SIZE);
	}
	p->st.puts += n;
	p->last_put_ms = gf_mono_ms();
	owner_seen(p, owner);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

uint32_t pages_get(struct pages *p, uint64_t owner, uint64_t slot, uint32_t n,
		   uint64_t *stamps, uint8_t *out)
{
	uint32_t held = 0;

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = *find(p, owner, slot + i);
		uint8_t *dst = out + (size_t)i * GF_PAGE_SIZE;
		if (x == NONE) {
			stamps[i] = 0;
			memset(dst, 0, GF_PAGE_SIZE);
			p->st.get_misses++;
			continue;
		}
		stamps[i] = p->ents[x].stamp;
		memcpy(dst, frame(p, x), GF_PAGE_SIZE);
		held++;
	}
	p->st.gets += n;
	owner_seen(p, owner);
	pthread_mutex_unlock(&p->mu);
	return held;
}

uint32_t pages_invalidate(struct pages *p, uint64_t owner, uint64_t slot, uint32_t n,
			  uint64_t stamp)
{
	uint32_t dropped = 0;

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < n && p->used; i++) {
		uint32_t *pp = find(p, owner, slot + i), x = *pp;
		if (x == NONE || p->ents[x].stamp > stamp)
			continue;
		*pp = p->ents[x].next;
		p->ents[x].stamp = 0;
		p->ents[x].next = p->free_head;
		p->free_head = x;
		p->nfree++;
		p->used--;
		owner_count(p, owner, -1);
		dropped++;
	}
	p->st.invalidated += dropped;
	owner_seen(p, owner);
	pthread_mutex_unlock(&p->mu);
	return dropped;
}

void pages_stats(struct pages *p, struct gfs_page_stats_rep *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	st->used = p->used;
	st->free = p->nfree + (uint64_t)chunks_allowed(p) * p->per_chunk;
	if (p->used + st->free > p->max_pages)
		st->free = p->max_pages - p->used;
	if (p->cap != UINT64_MAX)
		st->free = p->used >= p->cap ? 0 : st->free < p->cap - p->used ? st->free : p->cap - p->used;
	st->total = p->used + st->free;
	st->owners = p->nowners;
	st->owners_located = 0;
	for (uint32_t i = 0; i < p->nowners; i++)
		st->owners_located += p->owners[i].host[0] != 0;
	st->cap = p->cap;
	pthread_mutex_unlock(&p->mu);
}

void pages_space(void *arg, uint64_t *total, uint64_t *free)
{
	struct gfs_page_stats_rep st;

	pages_stats(arg, &st);
	*total = st.total;
	*free = st.free;
}

/* ---- shrinking ------------------------------------------------------------------ */

void pages_set_cap(struct pages *p, uint64_t cap)
{
	pthread_mutex_lock(&p->mu);
	p->cap = cap;
	pthread_mutex_unlock(&p->mu);
}

uint64_t pages_excess(struct pages *p)
{
	uint64_t avail = mem_available(p), excess = 0;

	pthread_mutex_lock(&p->mu);
	if (p->used > p->cap)
		excess = p->used - p->cap;
	if (avail != UINT64_MAX && avail < p->reserve_bytes) {
		/* the host needs memory back: what free frames give back (by
		 * compaction) first, then held pages */
		uint64_t short_pages = (p->reserve_bytes - avail + GF_PAGE_SIZE - 1) / GF_PAGE_SIZE;
		uint64_t need = short_pages > p->nfree ? short_pages - p->nfree : 0;
		if (need > p->used)
			need = p->used;
		if (need > excess)
			excess = need;
	}
	pthread_mutex_unlock(&p->mu);
	return excess;
}

uint32_t pages_victims(struct pages *p, uint32_t max, struct page_victim *v, uint8_t *data)
{
	uint32_t n = 0;

	pthread_mutex_lock(&p->mu);
	if (p->used == 0 || p->nframes == 0 || max == 0) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	for (uint32_t tries = 0; tries < p->nframes; tries++) {
		uint32_t x = p->hand++ % p->nframes;
		if (p->ents[x].stamp == 0)
			continue;
		/* this page and the owner's next slots that are here too */
		uint64_t owner = p->ents[x].owner, slot = p->ents[x].slot;
		while (n < max) {
			uint32_t y = *find(p, owner, slot + n);
			if (y == NONE)
				break;
			v[n] = (struct page_victim){ owner, slot + n, p->ents[y].stamp };
			memcpy(data + (size_t)n * GF_PAGE_SIZE, frame(p, y), GF_PAGE_SIZE);
			n++;
		}
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

static uint16_t host_index(struct pages *p, const char *host)
{
	if (!host || !*host)
		return 0;
	for (uint32_t i = 1; i < p->nhosts; i++)
		if (!strcmp(p->hosts[i], host))
			return (uint16_t)i;
	if (p->nhosts == MAX_HOSTS || !(p->hosts[p->nhosts] = strdup(host)))
		return 0; /* the owner takes it for dropped and copies it again */
	return (uint16_t)p->nhosts++;
}

void pages_moved(struct pages *p, const struct page_victim *v, uint32_t n, const char *host,
		 uint8_t hops, uint8_t *kept)
{
	(void)hops;
	pthread_mutex_lock(&p->mu);
	uint16_t h = host_index(p, host);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t *pp = find(p, v[i].owner, v[i].slot), x = *pp;
		/* rewritten meanwhile: the copy put elsewhere is older than the
		 * owner's, for the caller to drop there (by its stamp, which
		 * cannot touch the newer one) */
		if (kept)
			kept[i] = x != NONE && p->ents[x].stamp != v[i].stamp;
		if (x != NONE && p->ents[x].stamp != v[i].stamp)
			continue;
		if (x != NONE) {
			*pp = p->ents[x].next;
			p->ents[x].stamp = 0;
			p->ents[x].next = p->free_head;
			p->free_head = x;
			p->nfree++;
			p->used--;
			owner_count(p, v[i].owner, -1);
			if (h)
				p->st.punted++;
			else
				p->st.dropped++;
		}
		/* (gone meanwhile: its owner dropped it here; the copy put
		 * elsewhere is still told of, and the owner decides: it may be
		 * the very copy it is keeping there) */
		if (p->nmoves == p->cmoves) {
			uint32_t c = p->cmoves ? p->cmoves * 2 : 1024;
			struct move *m = c <= MAX_MOVES ? realloc(p->moves, c * sizeof(*m)) : NULL;
			if (!m)
				continue; /* the owner reads its other copy */
			p->moves = m;
			p->cmoves = c;
		}
		p->moves[p->nmoves++] = (struct move){ v[i].owner, v[i].slot, v[i].stamp, h };
	}
	pthread_mutex_unlock(&p->mu);
}

uint32_t pages_updates(struct pages *p, uint64_t owner, struct gfs_page_move *out, uint32_t max)
{
	uint32_t n = 0, k = 0;

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < p->nmoves; i++) {
		struct move *m = &p->moves[i];
		if (m->owner == owner && n < max) {
			out[n].slot = m->slot;
			out[n].stamp = m->stamp;
			out[n].hops = 1;
			snprintf(out[n].host, sizeof(out[n].host), "%s", m->host ? p->hosts[m->host] : "");
			n++;
			continue;
		}
		p->moves[k++] = *m;
	}
	p->nmoves = k;
	owner_seen(p, owner);
	pthread_mutex_unlock(&p->mu);
	return n;
}

uint64_t pages_compact(struct pages *p)
{
	uint64_t given = 0, keep = 0;
	uint64_t avail = mem_available(p);

	pthread_mutex_lock(&p->mu);
	/* free frames kept for the next burst of puts: while the host has
	 * memory to spare (4 chunks beyond its reserve), the cap leaves room
	 * and puts came lately */
	if ((avail == UINT64_MAX || avail >= p->reserve_bytes + 4 * (uint64_t)p->chunk_bytes) &&
	    (p->cap == UINT64_MAX || p->cap >= (uint64_t)p->nframes) &&
	    gf_mono_ms() - p->last_put_ms < p->spare_idle_ms)
		keep = p->spare_bytes == UINT64_MAX ? UINT64_MAX : p->spare_bytes / GF_PAGE_SIZE;
	while (p->nchunks > 0) {
		uint32_t base = (p->nchunks - 1) * p->per_chunk, end = p->nframes, in_use = 0;
		for (uint32_t x = base; x < end; x++)
			in_use += p->ents[x].stamp != 0;
		uint64_t free_last = (end - base) - in_use;
		if (p->nfree - free_last < in_use)
			break; /* its pages do not fit elsewhere */
		if (p->nfree - free_last - in_use < keep)
			break; /* what is left free would be under the spare */
		/* the free list without the last chunk's frames */
		p->free_head = NONE;
		for (uint32_t x = base; x-- > 0;)
			if (p->ents[x].stamp == 0) {
				p->ents[x].next = p->free_head;
				p->free_head = x;
			}
		for (uint32_t x = base; x < end; x++) {
			if (p->ents[x].stamp == 0)
				continue;
			uint32_t y = p->free_head;
			p->free_head = p->ents[y].next;
			uint32_t *pp = find(p, p->ents[x].owner, p->ents[x].slot);
			p->ents[y] = p->ents[x];
			*pp = y;
			memcpy(frame(p, y), frame(p, x), GF_PAGE_SIZE);
			p->ents[x].stamp = 0;
		}
		p->nfree -= free_last + in_use; /* its free frames, and those its pages took */
		munmap(p->chunks[p->nchunks - 1], p->chunk_bytes);
		p->chunks[--p->nchunks] = NULL;
		p->nframes = base;
		p->st.locked -= p->chunk_bytes;
		given += p->chunk_bytes;
		if (p->hand >= p->nframes)
			p->hand = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return given;
}

uint64_t pages_expire(struct pages *p)
{
	uint64_t dropped = 0, now;

	pthread_mutex_lock(&p->mu);
	now = gf_mono_ms(); /* under the lock: a request seen since is not older */
	for (uint32_t o = 0; p->lease_ms && o < p->nowners;) {
		if (p->owners[o].seen_ms >= now || now - p->owners[o].seen_ms <= p->lease_ms) {
			o++;
			continue;
		}
		uint64_t id = p->owners[o].id;
		gf_warn("gfsd: swap owner %016llx not heard from for %llu s: dropping its %llu pages",
			(unsigned long long)id, (unsigned long long)(p->lease_ms / 1000),
			(unsigned long long)p->owners[o].pages);
		for (uint32_t x = 0; x < p->nframes; x++) {
			if (p->ents[x].stamp == 0 || p->ents[x].owner != id)
				continue;
			uint32_t *pp = find(p, id, p->ents[x].slot);
			*pp = p->ents[x].next;
			p->ents[x].stamp = 0;
			p->ents[x].next = p->free_head;
			p->free_head = x;
			p->nfree++;
			p->used--;
			dropped++;
		}
		/* its moves go too; owner_count's entry is this one */
		uint32_t k = 0;
		for (uint32_t i = 0; i < p->nmoves; i++)
			if (p->moves[i].owner != id)
				p->moves[k++] = p->moves[i];
		p->nmoves = k;
		p->owners[o] = p->owners[--p->nowners];
	}
	p->st.expired += dropped;
	pthread_mutex_unlock(&p->mu);
	return dropped;
}
