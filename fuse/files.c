/*
 * files.c — open-file handles and the per-inode table of open handles.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "passthrough.h"
#include "readpin.h"

#define OPEN_BUCKETS 1024

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t refs_cv = PTHREAD_COND_INITIALIZER; /* a ref went */
static pthread_cond_t gone_cv = PTHREAD_COND_INITIALIZER; /* a handle was unlisted */
static struct gf_file *open_files[OPEN_BUCKETS];
static uint64_t n_listed; /* handles in open_files, under open_lock */

static struct gf_file **bucket(uint64_t ino)
{
	return &open_files[(ino * 0x9E3779B97F4A7C15ull) >> 54];
}

struct gf_file *gf_file_new(uint64_t ino, uint64_t fgen, int writable,
			    const struct gf_cred *cred)
{
	struct gf_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ino = ino;
	f->fgen = fgen;
	f->writable = writable;
	f->cred = *cred;
	f->data.fd = -1;
	f->pt_fd = -1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->published_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->publish_lock, NULL);
	pthread_rwlock_init(&f->data_lock, NULL);
	return f;
}

void gf_files_add(struct gf_file *f)
{
	struct gf_file **b = bucket(f->ino);

	pthread_mutex_lock(&open_lock);
	f->next_open = *b;
	*b = f;
	n_listed++;
	pthread_mutex_unlock(&open_lock);
}

void gf_file_free(struct gf_file *f)
{
	struct gf_file **pp;

	if (!f)
		return;
	pthread_mutex_lock(&open_lock);
	for (pp = bucket(f->ino); *pp; pp = &(*pp)->next_open)
		if (*pp == f) {
			*pp = f->next_open;
			n_listed--;
			break;
		}
	pthread_cond_broadcast(&gone_cv);
	while (f->refs)
		pthread_cond_wait(&refs_cv, &open_lock);
	if (f->pt_id > 0) {
		/* the last handle of this mount to use the backing id forgets
		 * it (under open_lock: a new open either shares it or, once it
		 * is gone, registers its own) */
		struct gf_file *g;

		for (g = *bucket(f->ino); g && g->pt_id != f->pt_id; g = g->next_open)
			;
		if (!g)
			gf_pt_backing_close(f->pt_id);
	}
	pthread_mutex_unlock(&open_lock);
	if (f->pt_fd >= 0)
		close(f->pt_fd);
	readpin_put(f->pin); /* after the backing id: no new opener shares it */
	/*
	 * A read replies while it holds data_lock shared (the fd it splices
	 * from must stay open until the reply is out), and the kernel may send
	 * RELEASE as soon as that reply arrives: wait for such a reader to let
	 * go, or its unlock would land in freed (and maybe reused) memory.
	 */
	pthread_rwlock_wrlock(&f->data_lock);
	pthread_rwlock_unlock(&f->data_lock);
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->publish_lock);
	pthread_rwlock_destroy(&f->data_lock);
	free(f);
}

uint64_t gf_files_open_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&open_lock);
	n = n_listed;
	pthread_mutex_unlock(&open_lock);
	return n;
}

static int ts_after(const struct gf_timespec *a, const struct gf_timespec *b)
{
	return a->sec > b->sec || (a->sec == b->sec && a->nsec > b->nsec);
}

int gf_files_writer_attr(uint64_t ino, uint64_t *wend, struct gf_timespec *mtime,
			 int *have_mtime)
{
	struct gf_file *f;
	int found = 0;

	*have_mtime = 0;
	pthread_mutex_lock(&open_lock);
	for (f = *bucket(ino); f; f = f->next_open) {
		if (f->ino != ino || !f->writable)
			continue;
		gf_file_pt_sync(f);
		pthread_mutex_lock(&f->lock);
		if (!found || f->wend > *wend)
			*wend = f->wend;
		if (f->mtime_dirty && (!*have_mtime || ts_after(&f->mtime, mtime))) {
			*mtime = f->mtime;
			*have_mtime = 1;
		}
		pthread_mutex_unlock(&f->lock);
		found = 1;
	}
	pthread_mutex_unlock(&open_lock);
	return found;
}

int gf_files_is_open(uint64_t ino)
{
	struct gf_file *f;
	int found = 0;

	pthread_mutex_lock(&open_lock);
	for (f = *bucket(ino); f && !found; f = f->next_open)
		found = f->ino == ino;
	pthread_mutex_unlock(&open_lock);
	return found;
}

int gf_files_open_attr(uint64_t ino, struct gf_attr *a)
{
	struct gf_file *f;
	int found = 0;

	pthread_mutex_lock(&open_lock);
	for (f = *bucket(ino); f && !found; f = f->next_open) {
		if (f->ino != ino)
			continue;
		gf_file_pt_sync(f);
		pthread_mutex_lock(&f->lock);
		*a = f->attr;
		a->size = f->size;
		if (f->mtime_dirty)
			a->mtime = a->ctime = f->mtime;
		pthread_mutex_unlock(&f->lock);
		found = 1;
	}
	pthread_mutex_unlock(&open_lock);
	return found;
}

void gf_files_truncated(uint64_t ino, uint64_t size)
{
	struct gf_file *f;

	pthread_mutex_lock(&open_lock);
	for (f = *bucket(ino); f; f = f->next_open) {
		if (f->ino != ino)
			continue;
		pthread_mutex_lock(&f->lock);
		f->size = size;
		if (f->wend > size)
			f->wend = size;
		f->blocks_dirty = 1; /* the writers tell what it takes now */
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&open_lock);
}

size_t gf_files_growing(struct gf_file **out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&open_lock);
	for (size_t b = 0; b < OPEN_BUCKETS && n < max; b++)
		for (struct gf_file *f = open_files[b]; f && n < max; f = f->next_open) {
			if (!f->writable)
				continue;
			gf_file_pt_sync(f);
			pthread_mutex_lock(&f->lock);
			int grew = f->wend > f->published_end;
			pthread_mutex_unlock(&f->lock);
			if (grew) {
				f->refs++;
				out[n++] = f;
			}
		}
	pthread_mutex_unlock(&open_lock);
	return n;
}

size_t gf_files_readers(uint64_t *out, size_t max, size_t *cursor)
{
	size_t n = 0, b = *cursor % OPEN_BUCKETS, seen = 0;

	pthread_mutex_lock(&open_lock);
	for (; seen < OPEN_BUCKETS && n < max; seen++, b = (b + 1) % OPEN_BUCKETS) {
		for (struct gf_file *f = open_files[b]; f && n < max; f = f->next_open) {
			int writer = 0, listed = 0;
			for (struct gf_file *g = open_files[b]; g; g = g->next_open)
				writer |= g->ino == f->ino && g->writable;
			for (size_t i = 0; i < n; i++)
				listed |= out[i] == f->ino;
			if (!writer && !listed)
				out[n++] = f->ino;
		}
	}
	pthread_mutex_unlock(&open_lock);
	*cursor = b;
	return n;
}

void gf_file_unref(struct gf_file *f)
{
	pthread_mutex_lock(&open_lock);
	if (--f->refs == 0)
		pthread_cond_broadcast(&refs_cv);
	pthread_mutex_unlock(&open_lock);
}

void gf_file_wrote(struct gf_file *f, uint64_t off, uint64_t len)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&f->lock);
	if (off + len > f->size)
		f->size = off + len;
	if (off + len > f->wend)
		f->wend = off + len;
	f->mtime.sec = now.tv_sec;
	f->mtime.nsec = (uint32_t)now.tv_nsec;
	f->dirty = 1;
	f->blocks_dirty = 1;
	f->mtime_dirty = 1;
	pthread_mutex_unlock(&f->lock);
}

void gf_file_changed(struct gf_file *f, uint64_t end, int data_changed)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&f->lock);
	if (end > f->size)
		f->size = end;
	if (end > f->wend)
		f->wend = end;
	if (data_changed || end) {
		f->mtime.sec = now.tv_sec;
		f->mtime.nsec = (uint32_t)now.tv_nsec;
		f->mtime_dirty = 1;
	}
	f->dirty = 1;
	f->blocks_dirty = 1;
	pthread_mutex_unlock(&f->lock);
}

void gf_files_mtime_set(uint64_t ino)
{
	struct gf_file *f;

	pthread_mutex_lock(&open_lock);
	for (f = *bucket(ino); f; f = f->next_open) {
		if (f->ino != ino)
			continue;
		gf_file_pt_sync(f); /* writes before the mtime was set: seen */
		pthread_mutex_lock(&f->lock);
		f->mtime_dirty = 0;
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&open_lock);
}

static void pt_seen(struct gf_file *f, const struct stat *st)
{
	f->pt_size = (uint64_t)st->st_size;
	f->pt_mtime.sec = st->st_mtim.tv_sec;
	f->pt_mtime.nsec = (uint32_t)st->st_mtim.tv_nsec;
}

/* How many other handles of f->ino are open here, and one of them that
 * passes through (NULL: none). open_lock held. */
static int others_of(const struct gf_file *f, struct gf_file **passing)
{
	struct gf_file *g;
	int n = 0;

	*passing = NULL;
	for (g = *bucket(f->ino); g; g = g->next_open)
		if (g->ino == f->ino && g != f) {
			n++;
			if (g->pt_id > 0)
				*passing = g;
		}
	return n;
}

int gf_files_pt_possible(const struct gf_file *f)
{
	struct gf_file *passing;
	int others;

	pthread_mutex_lock(&open_lock);
	others = others_of(f, &passing);
	pthread_mutex_unlock(&open_lock);
	return passing ? GF_PT_JOIN : others ? GF_PT_NO : GF_PT_ALONE;
}

int gf_files_pt_wait_alone(const struct gf_file *f, int ms)
{
	struct gf_file *passing, *g;
	struct timespec until;
	int others, writer;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)ms * 1000000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&open_lock);
	for (;;) {
		others = others_of(f, &passing);
		for (writer = 0, g = *bucket(f->ino); g; g = g->next_open)
			writer |= g->ino == f->ino && g != f && g->writable;
		if (!others || passing || writer ||
		    pthread_cond_timedwait(&gone_cv, &open_lock, &until) == ETIMEDOUT)
			break;
	}
	others = others_of(f, &passing);
	pthread_mutex_unlock(&open_lock);
	return passing ? GF_PT_JOIN : others ? GF_PT_NO : GF_PT_ALONE;
}

int gf_files_pt_join(struct gf_file *f, int fd)
{
	struct gf_file *other;
	int others, r = 0;

	pthread_mutex_lock(&open_lock);
	others = others_of(f, &other);
	if (other) {
		f->pt_fd = fcntl(other->pt_fd, F_DUPFD_CLOEXEC, 0);
		if (f->pt_fd < 0) {
			r = -errno;
		} else {
			f->pt_id = other->pt_id;
			/* a pinned replica stays pinned while any handle reads
			 * through it (readpin.h) */
			if ((f->pin = other->pin) != NULL)
				readpin_ref(f->pin);
		}
	} else if (!others && fd >= 0) {
		/* the backing file the kernel keeps is a read-only open of the
		 * replica (each passthrough open gets its own, in its mode): a
		 * writer's is gone with its last close or mapping, and gfsd
		 * seals only once no one has the replica open for writing */
		char path[64];
		int ro, id;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ro = open(path, O_RDONLY | O_CLOEXEC);
		if (ro >= 0 && (id = gf_pt_backing_open(ro)) > 0) {
			f->pt_fd = ro;
			f->pt_id = id;
		} else if (ro >= 0) {
			close(ro);
		}
	}
	if (f->pt_id > 0 && f->writable) {
		struct stat st;

		if (fstat(f->pt_fd, &st) == 0) {
			pthread_mutex_lock(&f->lock);
			pt_seen(f, &st);
			f->pt_counted = f->pt_size;
			f->pt_writer = 1;
			pthread_mutex_unlock(&f->lock);
		} else {
			r = -errno;
		}
	}
	pthread_mutex_unlock(&open_lock);
	return r;
}

void gf_file_pt_sync(struct gf_file *f)
{
	struct stat st;

	if (!__atomic_load_n(&f->pt_writer, __ATOMIC_ACQUIRE) || fstat(f->pt_fd, &st) < 0)
		return;
	pthread_mutex_lock(&f->lock);
	if ((uint64_t)st.st_size != f->pt_size || st.st_mtim.tv_sec != f->pt_mtime.sec ||
	    (uint32_t)st.st_mtim.tv_nsec != f->pt_mtime.nsec) {
		pt_seen(f, &st);
		f->size = f->pt_size;
		f->wend = f->pt_size;
		f->mtime = f->pt_mtime;
		f->dirty = 1;
		f->blocks_dirty = 1;
		f->mtime_dirty = 1;
		if (f->pt_size > f->pt_counted) {
			f->pt_grew += f->pt_size - f->pt_counted;
			f->pt_counted = f->pt_size;
		}
	}
	pthread_mutex_unlock(&f->lock);
}
