/*
 * wback.c — write-behind for a gfswap area (wback.h).
 */
#include "wback.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define PAGE 4096u
#define RETRY_MS 100

enum { E_FREE, E_FILLING, E_QUEUED, E_BUSY };

struct wentry {
	uint64_t slot;
	uint32_t n;
	int state;
	uint64_t seq;	      /* FIFO order */
	int64_t not_before;   /* a failed write waits until then (ms) */
	uint8_t *data;
};

struct wback {
	pthread_mutex_t mu;
	pthread_cond_t work;  /* flushers: an entry queued, or stop */
	pthread_cond_t done;  /* writers and settlers: an entry left */
	struct wentry *e;
	unsigned nent, nthreads, started;
	uint8_t *mem;
	size_t memlen;
	pthread_t *th;
	struct wb_ops ops;
	uint64_t seq;
	unsigned pending;     /* entries FILLING, QUEUED or BUSY */
	int stop;
	int64_t stop_at;      /* when stop was asked (ms) */
	unsigned stop_ms;
	int failing;	      /* a write is failing (for the log) */
	struct wb_stats st;
};

static int overlaps(const struct wentry *x, uint64_t slot, uint64_t n)
{
	return x->state != E_FREE && x->slot < slot + n && slot < x->slot + x->n;
}

static int any_overlap(struct wback *w, uint64_t slot, uint64_t n)
{
	for (unsigned i = 0; i < w->nent; i++)
		if (overlaps(&w->e[i], slot, n))
			return 1;
	return 0;
}

/* The oldest queued entry due now, or NULL; *wait_ms how long until one is. */
static struct wentry *next_due(struct wback *w, int64_t now, int64_t *wait_ms)
{
	struct wentry *best = NULL;

	*wait_ms = -1;
	for (unsigned i = 0; i < w->nent; i++) {
		struct wentry *x = &w->e[i];
		if (x->state != E_QUEUED)
			continue;
		if (x->not_before > now) {
			int64_t d = x->not_before - now;
			if (*wait_ms < 0 || d < *wait_ms)
				*wait_ms = d;
			continue;
		}
		if (!best || x->seq < best->seq)
			best = x;
	}
	return best;
}

static void *flusher(void *arg)
{
	struct wback *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		int64_t now = gf_mono_ms(), wait_ms;
		struct wentry *x = next_due(w, now, &wait_ms);
		if (!x) {
			if (w->stop && w->pending == 0)
				break;
			if (w->stop && wait_ms >= 0 && now - w->stop_at >= (int64_t)w->stop_ms) {
				/* stopping, and every write left is failing */
				for (unsigned i = 0; i < w->nent; i++)
					if (w->e[i].state == E_QUEUED) {
						w->st.dropped += w->e[i].n;
						w->e[i].state = E_FREE;
						w->pending--;
					}
				gf_err("gfswap: stopping with pages no server or disk took: "
				       "%llu pages dropped",
				       (unsigned long long)w->st.dropped);
				pthread_cond_broadcast(&w->done);
				pthread_cond_broadcast(&w->work);
				continue;
			}
			if (wait_ms >= 0) {
				struct timespec ts = gf_mono_in_ms(wait_ms);
				pthread_cond_timedwait(&w->work, &w->mu, &ts);
			} else {
				pthread_cond_wait(&w->work, &w->mu);
			}
			continue;
		}
		x->state = E_BUSY;
		pthread_mutex_unlock(&w->mu);
		int r = w->ops.write(w->ops.arg, x->slot, x->n, x->data);
		if (r == 0 && w->ops.written)
			w->ops.written(w->ops.arg, x->slot, x->n);
		pthread_mutex_lock(&w->mu);
		if (r < 0) {
			if (!w->failing)
				gf_err("gfswap: writing pages %llu..%llu failed (%s): they stay in "
				       "memory and are tried again",
				       (unsigned long long)x->slot,
				       (unsigned long long)(x->slot + x->n - 1), strerror(-r));
			w->failing = 1;
			w->st.retries++;
			x->state = E_QUEUED;
			x->not_before = gf_mono_ms() + RETRY_MS;
			continue;
		}
		if (w->failing)
			gf_info("gfswap: pages are written again");
		w->failing = 0;
		w->st.pages_out += x->n;
		w->st.entries_out++;
		x->state = E_FREE;
		w->pending--;
		pthread_cond_broadcast(&w->done);
		if (w->stop && w->pending == 0)
			pthread_cond_broadcast(&w->work); /* the other flushers end too */
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int wb_new(unsigned entries, unsigned threads, const struct wb_ops *ops, struct wback **out)
{
	struct wback *w;
	int r;

	*out = NULL;
	if (entries == 0 || threads == 0 || !ops || !ops->write)
		return -EINVAL;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->nent = entries;
	w->nthreads = threads;
	w->ops = *ops;
	w->memlen = (size_t)entries * WB_ENTRY_PAGES * PAGE;
	w->e = calloc(entries, sizeof(*w->e));
	w->th = calloc(threads, sizeof(*w->th));
	w->mem = mmap(NULL, w->memlen, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (w->mem == MAP_FAILED)
		w->mem = NULL;
	if (!w->e || !w->th || !w->mem) {
		wb_free(w, 0);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < entries; i++)
		w->e[i].data = w->mem + (size_t)i * WB_ENTRY_PAGES * PAGE;
	w->st.entries = entries;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->work, &ca);
	pthread_cond_init(&w->done, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < threads; i++) {
		if ((r = pthread_create(&w->th[i], NULL, flusher, w)) != 0) {
			wb_free(w, 0);
			return -r;
		}
		w->started++;
	}
	*out = w;
	return 0;
}

void wb_free(struct wback *w, unsigned stop_ms)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		w->stop_at = gf_mono_ms();
		w->stop_ms = stop_ms;
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->mu);
		for (unsigned i = 0; i < w->started; i++)
			pthread_join(w->th[i], NULL);
		pthread_cond_destroy(&w->work);
		pthread_cond_destroy(&w->done);
		pthread_mutex_destroy(&w->mu);
	}
	if (w->mem)
		munmap(w->mem, w->memlen);
	free(w->e);
	free(w->th);
	free(w);
}

int wb_write(struct wback *w, uint64_t slot, uint64_t n, const uint8_t *data)
{
	if (n == 0)
		return -EINVAL;
	while (n > 0) {
		uint32_t k = n > WB_ENTRY_PAGES ? WB_ENTRY_PAGES : (uint32_t)n;
		struct wentry *x = NULL;
		int waited_full = 0, waited_order = 0;

		pthread_mutex_lock(&w->mu);
		for (;;) {
			if (any_overlap(w, slot, k)) {
				if (!waited_order)
					w->st.order_waits++;
				waited_order = 1;
			} else {
				for (unsigned i = 0; i < w->nent && !x; i++)
					if (w->e[i].state == E_FREE)
						x = &w->e[i];
				if (x)
					break;
				if (!waited_full)
					w->st.full_waits++;
				waited_full = 1;
			}
			pthread_cond_wait(&w->done, &w->mu);
		}
		x->state = E_FILLING;
		x->slot = slot;
		x->n = k;
		x->not_before = 0;
		w->pending++;
		pthread_mutex_unlock(&w->mu);
		/* a reader never asks for slots being written: copied unlocked */
		memcpy(x->data, data, (size_t)k * PAGE);
		pthread_mutex_lock(&w->mu);
		x->state = E_QUEUED;
		x->seq = ++w->seq;
		w->st.pages_in += k;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
		slot += k;
		n -= k;
		data += (size_t)k * PAGE;
	}
	return 0;
}

uint32_t wb_lookup(struct wback *w, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *have)
{
	uint32_t got = 0;

	pthread_mutex_lock(&w->mu);
	if (w->pending)
		for (unsigned i = 0; i < w->nent; i++) {
			struct wentry *x = &w->e[i];
			if ((x->state != E_QUEUED && x->state != E_BUSY) || !overlaps(x, slot, n))
				continue;
			uint64_t a = x->slot > slot ? x->slot : slot;
			uint64_t b = x->slot + x->n < slot + n ? x->slot + x->n : slot + n;
			for (uint64_t s = a; s < b; s++)
				if (!have[s - slot]) {
					memcpy(out + (s - slot) * PAGE, x->data + (s - x->slot) * PAGE,
					       PAGE);
					have[s - slot] = 1;
					got++;
				}
		}
	w->st.lookups_hit += got;
	pthread_mutex_unlock(&w->mu);
	return got;
}

void wb_settle(struct wback *w, uint64_t slot, uint64_t n)
{
	pthread_mutex_lock(&w->mu);
	while (any_overlap(w, slot, n))
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void wb_drain(struct wback *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->pending)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void wb_get_stats(struct wback *w, struct wb_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	st->pending = w->pending;
	pthread_mutex_unlock(&w->mu);
}
