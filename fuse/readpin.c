/*
 * readpin.c — checked, pinned local replicas (readpin.h).
 *
 * One table of pins under tab_mu (hash by inode, budget, counters); each
 * pin's blocks under its own mutex, held across the mlock that reads them
 * in, so that no block is marked checked by a read that ran before it was
 * locked. A pin is freed (munmap unlocks it) once dropped and unheld.
 */
#include "readpin.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "csum.h"
#include "log.h"
#include "memguard.h"

#define PIN_MIN_SIZE (1u << 20)
#define PIN_MAX 1024
#define PIN_BUCKETS 256
#define SWEEP_MS 1000

struct gf_pin {
	uint64_t ino, fgen;
	dev_t dev;
	ino_t fino;
	off_t size;
	struct timespec mtime, ctime;
	int fd;		/* a duplicate of the replica's, for fstat */
	char *map;	/* the replica, read-only, shared */
	size_t maplen;
	uint32_t nblocks, nlocked, nchecked;
	uint8_t *locked, *checked; /* a bit per block */
	pthread_mutex_t mu;	   /* the bitmaps and the mlock that fills them */
	unsigned refs;		   /* under tab_mu */
	int dropped;		   /* under tab_mu: unlisted, freed at refs 0 */
	int64_t used_ms;	   /* under tab_mu: last lock or open */
	int unsealed;		   /* readpin_unsealed's: dropped when unheld */
	struct gf_pin *next;	   /* hash chain */
};

static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static struct gf_pin *tab[PIN_BUCKETS];
static uint64_t budget, locked_bytes, npins, opens, unsealed_opens;
static unsigned free_pct = 10;
static pthread_t sweeper;
static pthread_mutex_t sweep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cv = PTHREAD_COND_INITIALIZER;
static int sweep_running, sweep_stop;

/* mlock(2) itself: AddressSanitizer's interceptor makes mlock a no-op, and
 * a pin that does not lock would let the kernel read blocks back from
 * disk unchecked under a passthrough reader. (munmap unlocks.) */
static int lock_pages(void *addr, size_t len)
{
	return (int)syscall(SYS_mlock, addr, len);
}

static struct gf_pin **bucket(uint64_t ino)
{
	return &tab[(ino * 0x9E3779B97F4A7C15ull) >> 56 & (PIN_BUCKETS - 1)];
}

static int bit(const uint8_t *m, uint32_t i)
{
	return m[i / 8] >> (i % 8) & 1;
}

static void set_bit(uint8_t *m, uint32_t i)
{
	m[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* st is still the replica p pinned, unchanged. */
static int unchanged(const struct gf_pin *p, const struct stat *st)
{
	return st->st_dev == p->dev && st->st_ino == p->fino && st->st_size == p->size &&
	       st->st_nlink > 0 && same_ts(&st->st_mtim, &p->mtime) &&
	       same_ts(&st->st_ctim, &p->ctime);
}

static void pin_free(struct gf_pin *p)
{
	if (p->map)
		munmap(p->map, p->maplen); /* unlocks */
	if (p->fd >= 0)
		close(p->fd);
	pthread_mutex_destroy(&p->mu);
	free(p->locked);
	free(p->checked);
	free(p);
}

/* Unlist p (tab_mu held); freed now if unheld, else by the last put. */
static struct gf_pin *drop_locked(struct gf_pin *p)
{
	struct gf_pin **pp;

	for (pp = bucket(p->ino); *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->dropped = 1;
	npins--;
	/* its locked bytes leave the budget now: an unheld pin goes at once,
	 * a held one is no longer handed out */
	locked_bytes -= (uint64_t)p->nlocked * GF_CSUM_BLOCK;
	p->nlocked = 0;
	return p->refs == 0 ? p : NULL;
}

/* The oldest unheld pin (tab_mu held), or NULL. */
static struct gf_pin *oldest_unheld(void)
{
	struct gf_pin *best = NULL;

	for (int b = 0; b < PIN_BUCKETS; b++)
		for (struct gf_pin *p = tab[b]; p; p = p->next)
			if (p->refs == 0 && (!best || p->used_ms < best->used_ms))
				best = p;
	return best;
}

/*
 * With tab_mu held (let go while a pin is freed): room under the budget
 * for need more bytes, and for one more pin if slot, made by dropping
 * unheld pins, oldest use first. 1 when there is room.
 */
static int make_room(uint64_t need, int slot)
{
	struct gf_pin *old;

	while ((slot && npins >= PIN_MAX) || locked_bytes + need > budget) {
		if (!(old = oldest_unheld()))
			return 0;
		old = drop_locked(old);
		pthread_mutex_unlock(&tab_mu);
		if (old)
			pin_free(old);
		pthread_mutex_lock(&tab_mu);
	}
	return 1;
}

static struct gf_pin *find(uint64_t ino, uint64_t fgen)
{
	for (struct gf_pin *p = *bucket(ino); p; p = p->next)
		if (p->ino == ino && p->fgen == fgen)
			return p;
	return NULL;
}

static struct gf_pin *pin_new(uint64_t ino, uint64_t fgen, int fd, const struct stat *st)
{
	struct gf_pin *p = calloc(1, sizeof(*p));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (!p)
		return NULL;
	p->ino = ino;
	p->fgen = fgen;
	p->dev = st->st_dev;
	p->fino = st->st_ino;
	p->size = st->st_size;
	p->mtime = st->st_mtim;
	p->ctime = st->st_ctim;
	p->nblocks = (uint32_t)gf_csum_nblocks((uint64_t)st->st_size);
	p->maplen = ((size_t)st->st_size + page - 1) / page * page;
	p->locked = calloc((p->nblocks + 7) / 8, 1);
	p->checked = calloc((p->nblocks + 7) / 8, 1);
	p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	p->map = mmap(NULL, p->maplen, PROT_READ, MAP_SHARED, fd, 0);
	if (p->map == MAP_FAILED)
		p->map = NULL;
	pthread_mutex_init(&p->mu, NULL);
	if (!p->locked || !p->checked || p->fd < 0 || !p->map) {
		pin_free(p);
		return NULL;
	}
	return p;
}

struct gf_pin *readpin_lock(uint64_t ino, uint64_t fgen, int fd, uint64_t off, size_t len)
{
	const uint64_t B = GF_CSUM_BLOCK;
	struct gf_pin *p, *made = NULL, *gone = NULL;
	struct stat st;
	uint32_t first, last, want = 0;

	if (!budget || len == 0 || fstat(fd, &st) < 0 || st.st_size < PIN_MIN_SIZE ||
	    (uint64_t)st.st_size > budget || off >= (uint64_t)st.st_size)
		return NULL;
	first = (uint32_t)(off / B);
	last = (uint32_t)((off + len < (uint64_t)st.st_size ? off + len : (uint64_t)st.st_size) +
			  B - 1) / B; /* one past */

	pthread_mutex_lock(&tab_mu);
	p = find(ino, fgen);
	if (p && !unchanged(p, &st)) {
		gone = drop_locked(p);
		p = NULL;
	}
	pthread_mutex_unlock(&tab_mu);
	if (gone)
		pin_free(gone);
	if (!p) {
		/* made outside the lock (mmap), listed unless another beat us */
		if (!(made = pin_new(ino, fgen, fd, &st)))
			return NULL;
		pthread_mutex_lock(&tab_mu);
		if ((p = find(ino, fgen)) == NULL && npins < PIN_MAX) {
			p = made;
			made = NULL;
			p->next = *bucket(ino);
			*bucket(ino) = p;
			npins++;
		}
		if (p)
			p->refs++;
		pthread_mutex_unlock(&tab_mu);
		if (made)
			pin_free(made);
		if (!p)
			return NULL;
	} else {
		pthread_mutex_lock(&tab_mu);
		p->refs++;
		pthread_mutex_unlock(&tab_mu);
	}

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = first; i < last; i++)
		want += !bit(p->locked, i);
	if (want) {
		/* room for them: unheld pins go first, oldest use first */
		uint64_t need = (uint64_t)want * B;
		int room;

		pthread_mutex_lock(&tab_mu);
		room = !p->dropped && make_room(need, 0) && !p->dropped;
		if (room)
			locked_bytes += need; /* reserved: given back if mlock fails */
		pthread_mutex_unlock(&tab_mu);
		if (!room)
			goto refuse;
		size_t a = (size_t)first * B, e = (size_t)last * B;

		if (e > p->maplen)
			e = p->maplen;
		if (lock_pages(p->map + a, e - a) < 0) {
			static struct gf_ratelimit rl = GF_RATELIMIT(1, 600000);

			gf_log_limited(&rl, GF_LOG_WARN,
				       "cannot lock a replica's pages in memory (%s): "
				       "reads pass through no pinned replica for now",
				       strerror(errno));
			pthread_mutex_lock(&tab_mu);
			locked_bytes -= need;
			pthread_mutex_unlock(&tab_mu);
			goto refuse;
		}
		for (uint32_t i = first; i < last; i++)
			set_bit(p->locked, i);
		pthread_mutex_lock(&tab_mu);
		if (p->dropped)
			locked_bytes -= need; /* dropped meanwhile: not counted */
		else
			p->nlocked += want;
		pthread_mutex_unlock(&tab_mu);
	}
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_lock(&tab_mu);
	p->used_ms = gf_mono_ms();
	pthread_mutex_unlock(&tab_mu);
	return p;
refuse:
	pthread_mutex_unlock(&p->mu);
	readpin_put(p);
	return NULL;
}

const char *readpin_addr(struct gf_pin *p, uint64_t a, uint64_t b)
{
	return a <= b && b <= (uint64_t)p->size ? p->map + a : NULL;
}

void readpin_verified(struct gf_pin *p, uint64_t off, size_t len)
{
	const uint64_t B = GF_CSUM_BLOCK;
	uint64_t end;

	if (!p || len == 0)
		return;
	end = off + len < (uint64_t)p->size ? off + len : (uint64_t)p->size;
	pthread_mutex_lock(&p->mu);
	for (uint32_t i = (uint32_t)(off / B); i < (uint32_t)((end + B - 1) / B); i++)
		if (bit(p->locked, i) && !bit(p->checked, i)) {
			set_bit(p->checked, i);
			p->nchecked++;
		}
	pthread_mutex_unlock(&p->mu);
}

void readpin_bad(struct gf_pin *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&tab_mu);
	if (!p->dropped)
		(void)drop_locked(p); /* held by the caller: freed by its put */
	pthread_mutex_unlock(&tab_mu);
}

void readpin_ref(struct gf_pin *p)
{
	pthread_mutex_lock(&tab_mu);
	p->refs++;
	pthread_mutex_unlock(&tab_mu);
}

void readpin_put(struct gf_pin *p)
{
	int last;

	if (!p)
		return;
	pthread_mutex_lock(&tab_mu);
	if (--p->refs == 0 && p->unsealed && !p->dropped)
		drop_locked(p); /* nothing checked in it to keep */
	last = p->refs == 0 && p->dropped;
	pthread_mutex_unlock(&tab_mu);
	if (last)
		pin_free(p);
}

static int whole(struct gf_pin *p)
{
	int yes;

	pthread_mutex_lock(&p->mu);
	yes = p->nchecked == p->nblocks;
	pthread_mutex_unlock(&p->mu);
	return yes;
}

int readpin_maybe_whole(uint64_t ino, uint64_t fgen)
{
	struct gf_pin *p;
	int yes = 0;

	if (!budget)
		return 0;
	pthread_mutex_lock(&tab_mu);
	if ((p = find(ino, fgen)) != NULL)
		p->refs++;
	pthread_mutex_unlock(&tab_mu);
	if (p) {
		yes = whole(p);
		readpin_put(p);
	}
	return yes;
}

struct gf_pin *readpin_whole(uint64_t ino, uint64_t fgen, int fd)
{
	struct gf_pin *p, *gone = NULL;
	struct stat st;

	if (!budget || fstat(fd, &st) < 0)
		return NULL;
	pthread_mutex_lock(&tab_mu);
	p = find(ino, fgen);
	if (p && !unchanged(p, &st)) {
		gone = drop_locked(p);
		p = NULL;
	}
	if (p)
		p->refs++;
	pthread_mutex_unlock(&tab_mu);
	if (gone)
		pin_free(gone);
	if (p && !whole(p)) {
		readpin_put(p);
		return NULL;
	}
	if (p) {
		pthread_mutex_lock(&tab_mu);
		p->used_ms = gf_mono_ms();
		opens++;
		pthread_mutex_unlock(&tab_mu);
	}
	return p;
}

/* cachestat(2) (Linux 6.5): Debian 12's headers predate it */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct pin_cachestat_range {
	uint64_t off, len;
};
struct pin_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

int readpin_fits(uint64_t size)
{
	return budget && size >= PIN_MIN_SIZE && size <= budget;
}

/* cachestat(2) of the whole of fd; *pages: how many pages size bytes fill.
 * 0, or -1 when the kernel cannot tell. */
static int cachestat_of(int fd, uint64_t size, struct pin_cachestat *cs, uint64_t *pages)
{
	struct pin_cachestat_range range = {0, 0}; /* len 0: to the end */
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	*pages = (size + page - 1) / page;
	return syscall(__NR_cachestat, fd, &range, cs, 0) < 0 ? -1 : 0;
}

int readpin_resident(int fd, uint64_t max)
{
	struct pin_cachestat cs;
	uint64_t pages;
	struct stat st;

	if (!budget || fstat(fd, &st) < 0 || st.st_size < PIN_MIN_SIZE ||
	    (uint64_t)st.st_size > max || (uint64_t)st.st_size > budget)
		return 0;
	return cachestat_of(fd, (uint64_t)st.st_size, &cs, &pages) == 0 && cs.nr_cache >= pages;
}

/* The last writers' replicas as they left them (readpin_written), one per
 * slot by inode number: a lost one only costs a checked open. */
#define WRITTEN_SLOTS 256
static struct written {
	uint64_t ino, fgen;
	dev_t dev;
	ino_t st_ino;
	off_t size;
	struct timespec mtime, ctime;
} written[WRITTEN_SLOTS];
static pthread_mutex_t written_mu = PTHREAD_MUTEX_INITIALIZER;

static struct written *written_slot(uint64_t ino)
{
	return &written[(ino * 0x9E3779B97F4A7C15ull) >> 56 & (WRITTEN_SLOTS - 1)];
}

void readpin_written(uint64_t ino, uint64_t fgen, const struct stat *st)
{
	pthread_mutex_lock(&written_mu);
	*written_slot(ino) = (struct written){ .ino = ino, .fgen = fgen, .dev = st->st_dev,
					       .st_ino = st->st_ino, .size = st->st_size,
					       .mtime = st->st_mtim, .ctime = st->st_ctim };
	pthread_mutex_unlock(&written_mu);
}

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

int readpin_unwritten(int fd, uint64_t ino, uint64_t fgen, uint64_t size)
{
	struct pin_cachestat cs;
	uint64_t pages;
	struct stat st;
	int same;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size)
		return 0;
	pthread_mutex_lock(&written_mu);
	const struct written *w = written_slot(ino);
	same = w->ino == ino && w->fgen == fgen && w->dev == st.st_dev && w->st_ino == st.st_ino &&
	       w->size == st.st_size && same_time(w->mtime, st.st_mtim) &&
	       same_time(w->ctime, st.st_ctim);
	pthread_mutex_unlock(&written_mu);
	if (!same || cachestat_of(fd, size, &cs, &pages) < 0)
		return 0;
	/* (a page both dirty and under writeback counts in both: hence only
	 * the dirty count) */
	return pages && cs.nr_cache >= pages && cs.nr_dirty >= pages;
}

struct gf_pin *readpin_unsealed(uint64_t ino, uint64_t fgen, int fd)
{
	struct gf_pin *p;
	struct stat st;
	uint64_t need;
	int room;

	if (!budget || fstat(fd, &st) < 0 || st.st_size < PIN_MIN_SIZE ||
	    (uint64_t)st.st_size > budget)
		return NULL;
	if (!(p = pin_new(ino, fgen, fd, &st)))
		return NULL;
	p->unsealed = 1;
	p->refs = 1;
	need = (uint64_t)p->nblocks * GF_CSUM_BLOCK;
	pthread_mutex_lock(&tab_mu);
	/* pinned already (not whole): read through the mount */
	room = !find(ino, fgen) && make_room(need, 1) && !find(ino, fgen);
	if (room) {
		/* listed (and its bytes reserved) before it is locked: another
		 * open of this replica meanwhile finds it and reads through the
		 * mount, as it would without a pin */
		locked_bytes += need;
		p->nlocked = p->nblocks;
		p->next = *bucket(ino);
		*bucket(ino) = p;
		npins++;
	}
	pthread_mutex_unlock(&tab_mu);
	if (!room) {
		pin_free(p);
		return NULL;
	}
	pthread_mutex_lock(&p->mu);
	int r = lock_pages(p->map, p->maplen);
	pthread_mutex_unlock(&p->mu);
	if (r < 0) {
		readpin_bad(p);
		readpin_put(p);
		return NULL;
	}
	memset(p->locked, 0xff, (p->nblocks + 7) / 8);
	pthread_mutex_lock(&tab_mu);
	p->used_ms = gf_mono_ms();
	unsealed_opens++;
	pthread_mutex_unlock(&tab_mu);
	return p;
}

void readpin_stats(uint64_t *pins, uint64_t *locked, uint64_t *nwhole, uint64_t *nopens,
		   uint64_t *nunsealed)
{
	uint64_t w = 0;

	pthread_mutex_lock(&tab_mu);
	for (int b = 0; b < PIN_BUCKETS; b++)
		for (struct gf_pin *p = tab[b]; p; p = p->next) {
			/* (a racy read of nchecked: a counter, not a decision) */
			w += __atomic_load_n(&p->nchecked, __ATOMIC_RELAXED) == p->nblocks;
		}
	*pins = npins;
	*locked = locked_bytes;
	*nwhole = w;
	*nopens = opens;
	*nunsealed = unsealed_opens;
	pthread_mutex_unlock(&tab_mu);
}

/* MemAvailable under free_pct percent of MemTotal. */
static int short_of_memory(void)
{
	FILE *fp = fopen("/proc/meminfo", "r");
	unsigned long long total = 0, avail = 0, v;
	char line[128];

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
			total = v;
		else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
			avail = v;
	}
	fclose(fp);
	return total > 0 && avail < total / 100 * free_pct;
}

/* One pass: drop unheld pins whose replica changed or went, and, while
 * memory is short, unheld pins oldest first. */
static void sweep(void)
{
	struct gf_pin *v[PIN_MAX];
	size_t n = 0;
	struct stat st;

	pthread_mutex_lock(&tab_mu);
	for (int b = 0; b < PIN_BUCKETS; b++)
		for (struct gf_pin *p = tab[b]; p && n < PIN_MAX; p = p->next)
			if (p->refs == 0 && (fstat(p->fd, &st) < 0 || !unchanged(p, &st)))
				v[n++] = p;
	for (size_t i = 0; i < n; i++)
		v[i] = drop_locked(v[i]);
	pthread_mutex_unlock(&tab_mu);
	for (size_t i = 0; i < n; i++)
		if (v[i])
			pin_free(v[i]);
	while (short_of_memory()) {
		struct gf_pin *old;

		pthread_mutex_lock(&tab_mu);
		old = oldest_unheld();
		if (old)
			old = drop_locked(old);
		pthread_mutex_unlock(&tab_mu);
		if (!old)
			break;
		pin_free(old);
	}
}

static void *sweeper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sweep_mu);
	while (!sweep_stop) {
		struct timespec until = gf_mono_in_ms(SWEEP_MS);

		pthread_cond_timedwait(&sweep_cv, &sweep_mu, &until);
		if (sweep_stop)
			break;
		pthread_mutex_unlock(&sweep_mu);
		sweep();
		pthread_mutex_lock(&sweep_mu);
	}
	pthread_mutex_unlock(&sweep_mu);
	return NULL;
}

int readpin_init(uint64_t bytes, unsigned min_free_pct)
{
	pthread_condattr_t ca;
	int r;

	if (min_free_pct > 100)
		return -EINVAL;
	free_pct = min_free_pct;
	budget = bytes;
	if (!budget)
		return 0;
	/* reads from the mappings (ops.c) go through the guard; without it
	 * they read the usual way */
	if ((r = memguard_init()) < 0)
		gf_warn("cannot catch SIGBUS (%s): pinned replicas are read, not "
			"checked in place", strerror(-r));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&sweep_cv);
	pthread_cond_init(&sweep_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = pthread_create(&sweeper, NULL, sweeper_main, NULL)) != 0) {
		budget = 0;
		return -r;
	}
	sweep_running = 1;
	return 0;
}

void readpin_shutdown(void)
{
	if (sweep_running) {
		pthread_mutex_lock(&sweep_mu);
		sweep_stop = 1;
		pthread_cond_signal(&sweep_cv);
		pthread_mutex_unlock(&sweep_mu);
		pthread_join(sweeper, NULL);
		sweep_running = 0;
	}
	pthread_mutex_lock(&tab_mu);
	for (int b = 0; b < PIN_BUCKETS; b++)
		while (tab[b]) {
			struct gf_pin *p = drop_locked(tab[b]);

			if (p)
				pin_free(p);
		}
	budget = 0;
	pthread_mutex_unlock(&tab_mu);
}
