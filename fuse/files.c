/*
 * files.c — open-file handles and the per-inode table of writers.
 */
#include "files.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITER_BUCKETS 1024

static pthread_mutex_t writers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gf_file *writers[WRITER_BUCKETS];

static struct gf_file **bucket(uint64_t ino)
{
	return &writers[(ino * 0x9E3779B97F4A7C15ull) >> 54];
}

struct gf_file *gf_file_new(uint64_t ino, uint64_t gen, int writable,
			    const struct gf_cred *cred)
{
	struct gf_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ino = ino;
	f->gen = gen;
	f->writable = writable;
	f->cred = *cred;
	f->data.fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_rwlock_init(&f->data_lock, NULL);
	return f;
}

void gf_files_add_writer(struct gf_file *f)
{
	struct gf_file **b = bucket(f->ino);

	pthread_mutex_lock(&writers_lock);
	f->next_writer = *b;
	*b = f;
	pthread_mutex_unlock(&writers_lock);
}

void gf_file_free(struct gf_file *f)
{
	struct gf_file **pp;

	if (!f)
		return;
	if (f->writable) {
		pthread_mutex_lock(&writers_lock);
		for (pp = bucket(f->ino); *pp; pp = &(*pp)->next_writer)
			if (*pp == f) {
				*pp = f->next_writer;
				break;
			}
		pthread_mutex_unlock(&writers_lock);
	}
	pthread_mutex_destroy(&f->lock);
	pthread_rwlock_destroy(&f->data_lock);
	free(f);
}

static int ts_after(const struct gf_timespec *a, const struct gf_timespec *b)
{
	return a->sec > b->sec || (a->sec == b->sec && a->nsec > b->nsec);
}

int gf_files_writer_attr(uint64_t ino, uint64_t *size, struct gf_timespec *mtime,
			 int *have_mtime)
{
	struct gf_file *f;
	int found = 0;

	*have_mtime = 0;
	pthread_mutex_lock(&writers_lock);
	for (f = *bucket(ino); f; f = f->next_writer) {
		if (f->ino != ino)
			continue;
		pthread_mutex_lock(&f->lock);
		if (!found || f->size > *size)
			*size = f->size;
		if (f->dirty && (!*have_mtime || ts_after(&f->mtime, mtime))) {
			*mtime = f->mtime;
			*have_mtime = 1;
		}
		pthread_mutex_unlock(&f->lock);
		found = 1;
	}
	pthread_mutex_unlock(&writers_lock);
	return found;
}

void gf_files_truncated(uint64_t ino, uint64_t size)
{
	struct gf_file *f;

	pthread_mutex_lock(&writers_lock);
	for (f = *bucket(ino); f; f = f->next_writer) {
		if (f->ino != ino)
			continue;
		pthread_mutex_lock(&f->lock);
		f->size = size;
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&writers_lock);
}

void gf_file_wrote(struct gf_file *f, uint64_t off, uint64_t len)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&f->lock);
	if (off + len > f->size)
		f->size = off + len;
	f->mtime.sec = now.tv_sec;
	f->mtime.nsec = (uint32_t)now.tv_nsec;
	f->dirty = 1;
	pthread_mutex_unlock(&f->lock);
}
