/*
 * attrcache.c — see attrcache.h.
 */
#include "attrcache.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define SLOTS 16384 /* 2 MiB */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t timeout_ns;
static uint64_t seq;	    /* bumped by every forget (under lock; read without) */
static uint64_t all_forgot; /* seq of the last forget of everything */
static struct slot {
	uint64_t ino;	 /* 0: empty */
	uint64_t forgot; /* seq of the last forget that hit this slot */
	uint64_t put;	 /* seq when it was stored: stale once all_forgot passes it */
	int64_t expires; /* monotonic ns */
	struct gf_attr attr;
} slots[SLOTS];

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct slot *slot_of(uint64_t ino)
{
	return &slots[(ino * 0x9E3779B97F4A7C15ull) >> 50];
}

static int ts_before(struct gf_timespec a, struct gf_timespec b)
{
	return a.sec < b.sec || (a.sec == b.sec && a.nsec < b.nsec);
}

void gf_attrcache_init(double timeout)
{
	pthread_mutex_lock(&lock);
	timeout_ns = timeout > 0 ? (int64_t)(timeout * 1e9) : 0;
	memset(slots, 0, sizeof(slots));
	pthread_mutex_unlock(&lock);
}

uint64_t gf_attrcache_begin(void)
{
	return __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
}

static void forget_locked(uint64_t ino)
{
	struct slot *s = slot_of(ino);
	s->forgot = __atomic_add_fetch(&seq, 1, __ATOMIC_RELEASE);
	if (s->ino == ino)
		s->ino = 0;
}

void gf_attrcache_forget(uint64_t ino)
{
	pthread_mutex_lock(&lock);
	forget_locked(ino);
	pthread_mutex_unlock(&lock);
}

/* (an unlink or rename does this: O(1), the slots' put seq tells) */
static void forget_all_locked(void)
{
	all_forgot = __atomic_add_fetch(&seq, 1, __ATOMIC_RELEASE);
}

void gf_attrcache_forget_all(void)
{
	pthread_mutex_lock(&lock);
	forget_all_locked();
	pthread_mutex_unlock(&lock);
}

/* (lock held) */
static void put_locked(uint64_t cookie, const struct gf_attr *a, int64_t now)
{
	struct slot *s = slot_of(a->ino);

	if (!timeout_ns || a->ino == 0)
		return;
	/* something of this mount changed it after the request left: this
	 * reply may not show that change */
	if (s->forgot > cookie || all_forgot > cookie)
		return;
	if (s->ino == a->ino && s->put >= all_forgot &&
	    (ts_before(a->ctime, s->attr.ctime) ||
	     (!ts_before(s->attr.ctime, a->ctime) && a->gen < s->attr.gen)))
		return; /* an older reply, overtaken (another mount's write open
			 * makes a new generation before it moves the ctime) */
	s->ino = a->ino;
	s->put = __atomic_load_n(&seq, __ATOMIC_RELAXED);
	s->attr = *a;
	s->expires = now + timeout_ns;
}

void gf_attrcache_put(uint64_t cookie, const struct gfm_dirs *d)
{
	int64_t now = now_ns();

	pthread_mutex_lock(&lock);
	if (d->forget_all)
		forget_all_locked();
	for (uint8_t i = 0; i < d->nforget; i++)
		forget_locked(d->forget[i]);
	for (uint8_t i = 0; i < d->n; i++)
		put_locked(cookie, &d->attr[i], now);
	pthread_mutex_unlock(&lock);
}

void gf_attrcache_put_attr(uint64_t cookie, const struct gf_attr *a)
{
	int64_t now = now_ns();

	pthread_mutex_lock(&lock);
	put_locked(cookie, a, now);
	pthread_mutex_unlock(&lock);
}

int gf_attrcache_get(uint64_t ino, struct gf_attr *out, double *remaining)
{
	int64_t now = now_ns();
	int hit = 0;

	pthread_mutex_lock(&lock);
	struct slot *s = slot_of(ino);
	if (ino != 0 && s->ino == ino && s->put >= all_forgot && s->expires > now) {
		*out = s->attr;
		*remaining = (double)(s->expires - now) / 1e9;
		hit = 1;
	}
	pthread_mutex_unlock(&lock);
	return hit;
}
