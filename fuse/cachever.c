/*
 * cachever.c — versions of the files the kernel's page cache holds
 * (cachever.h).
 */
#define FUSE_USE_VERSION 312 /* as fuse/ops.h */
#include "cachever.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>

#include "log.h"

#define SLOTS 65536
#define OPENED_BITS (1u << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t ino, gen, size;
	struct gf_timespec mtime;
	int wrote; /* the version's pages were written through this mount */
} slot[SLOTS];
static uint64_t opened[OPENED_BITS / 64]; /* one hash */

static size_t slot_of(uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 48) % SLOTS;
}

static size_t bit_of(uint64_t ino)
{
	return (size_t)((ino * 0xD6E8FEB86659FD93ull) >> 40) % OPENED_BITS;
}

static void mark_opened(uint64_t ino)
{
	size_t b = bit_of(ino);

	__atomic_fetch_or(&opened[b / 64], 1ull << (b % 64), __ATOMIC_RELAXED);
}

static int maybe_opened(uint64_t ino)
{
	size_t b = bit_of(ino);

	return (__atomic_load_n(&opened[b / 64], __ATOMIC_RELAXED) >> (b % 64)) & 1;
}

/* (lock held) */
static int same(size_t i, const struct gf_attr *a)
{
	return slot[i].ino == a->ino && slot[i].gen == a->gen && slot[i].size == a->size &&
	       slot[i].mtime.sec == a->mtime.sec && slot[i].mtime.nsec == a->mtime.nsec;
}

static void set(size_t i, const struct gf_attr *a)
{
	if (!same(i, a))
		slot[i].wrote = 0;
	slot[i].ino = a->ino;
	slot[i].gen = a->gen;
	slot[i].size = a->size;
	slot[i].mtime = a->mtime;
}

int cachever_open(const struct gf_attr *a)
{
	size_t i = slot_of(a->ino);

	mark_opened(a->ino);
	pthread_mutex_lock(&lock);
	int keep = same(i, a);
	set(i, a);
	pthread_mutex_unlock(&lock);
	return keep;
}

int cachever_written(const struct gf_attr *a)
{
	size_t i = slot_of(a->ino);

	pthread_mutex_lock(&lock);
	int yes = same(i, a) && slot[i].wrote;
	pthread_mutex_unlock(&lock);
	return yes;
}

void cachever_forget(uint64_t ino)
{
	size_t i = slot_of(ino);

	mark_opened(ino);
	pthread_mutex_lock(&lock);
	if (slot[i].ino == ino)
		slot[i].ino = 0;
	pthread_mutex_unlock(&lock);
}

void cachever_wrote(const struct gf_attr *a)
{
	mark_opened(a->ino);
	pthread_mutex_lock(&lock);
	set(slot_of(a->ino), a);
	slot[slot_of(a->ino)].wrote = 1;
	pthread_mutex_unlock(&lock);
}

int cachever_stale(const struct gf_attr *a)
{
	size_t i = slot_of(a->ino);

	if (!maybe_opened(a->ino))
		return 0;
	pthread_mutex_lock(&lock);
	int stale = !same(i, a); /* another version, or its own was lost */
	if (stale)
		set(i, a);
	pthread_mutex_unlock(&lock);
	return stale;
}

/* ---- the thread that drops pages ----------------------------------------------- */

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER;
struct drop {
	uint64_t ino, off, len; /* len 0: the whole inode, attributes too */
};
static struct drop *q;
static size_t qn, qcap;
static struct fuse_session *qse;
static int running, stopping;
static pthread_t thread;

static void drop_now(struct fuse_session *se, const struct drop *d)
{
	/* an inode the kernel forgot: ENOENT */
	(void)fuse_lowlevel_notify_inval_inode(se, (fuse_ino_t)d->ino,
					       d->len ? (off_t)d->off : 0, (off_t)d->len);
}

static void *dropper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qlock);
	for (;;) {
		while (qn == 0 && !stopping)
			pthread_cond_wait(&qcv, &qlock);
		if (stopping)
			break;
		struct drop d = q[--qn];
		struct fuse_session *se = qse;
		pthread_mutex_unlock(&qlock);
		drop_now(se, &d);
		pthread_mutex_lock(&qlock);
	}
	pthread_mutex_unlock(&qlock);
	return NULL;
}

/* Queue d; 0, or -1 when it cannot be (stopping, out of memory or threads). */
static int enqueue(struct fuse_session *se, const struct drop *d)
{
	pthread_mutex_lock(&qlock);
	if (stopping) {
		pthread_mutex_unlock(&qlock);
		return 0;
	}
	qse = se;
	if (!running && pthread_create(&thread, NULL, dropper, NULL) == 0)
		running = 1;
	if (qn == qcap) {
		size_t cap = qcap ? qcap * 2 : 256;
		struct drop *v = realloc(q, cap * sizeof(*v));
		if (v) {
			q = v;
			qcap = cap;
		}
	}
	if (running && qn < qcap) {
		q[qn++] = *d;
		pthread_cond_signal(&qcv);
		pthread_mutex_unlock(&qlock);
		return 0;
	}
	pthread_mutex_unlock(&qlock);
	return -1;
}

void cachever_drop(struct fuse_session *se, uint64_t ino)
{
	struct drop d = {ino, 0, 0};

	if (!se || enqueue(se, &d) == 0)
		return;
	gf_warn("inode %llu: cannot queue dropping its cached pages (out of memory or "
		"threads): dropped now", (unsigned long long)ino);
	drop_now(se, &d);
}

void cachever_drop_range(struct fuse_session *se, uint64_t ino, uint64_t off, uint64_t len)
{
	struct drop d = {ino, off, len};

	if (se && len)
		(void)enqueue(se, &d); /* not queued: the pages stay, no harm */
}

void cachever_drop_stop(void)
{
	pthread_mutex_lock(&qlock);
	stopping = 1;
	pthread_cond_broadcast(&qcv);
	int was = running;
	running = 0;
	pthread_mutex_unlock(&qlock);
	if (was)
		pthread_join(thread, NULL);
	pthread_mutex_lock(&qlock);
	free(q);
	q = NULL;
	qn = qcap = 0;
	pthread_mutex_unlock(&qlock);
}
