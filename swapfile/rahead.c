/*
 * rahead.c — read-ahead for a gfswap area (rahead.h).
 */
#include "rahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096u
#define SCORE_ONE 1024u
#define PROBE_EVERY 8u

enum { W_FREE, W_QUEUED, W_FETCHING, W_READY };

struct win {
	uint64_t first;
	uint32_t n;
	int state;
	uint64_t seq;  /* fetch order */
	uint64_t used; /* last scheduled or read (LRU) */
	uint8_t valid[RA_WINDOW_PAGES]; /* held and good */
	uint8_t dead[RA_WINDOW_PAGES];	/* written while being fetched */
	uint8_t taken[RA_WINDOW_PAGES]; /* a read took it */
	uint8_t *data;
};

struct stream {
	uint64_t next;	/* where its last read ended; 0: no stream */
	uint64_t ahead; /* fetches are scheduled up to here */
	uint64_t used;
	uint32_t runs;	/* reads that continued it */
};

struct rahead {
	pthread_mutex_t mu;
	pthread_cond_t work; /* fetchers: a window queued, or stop */
	pthread_cond_t done; /* readers: a fetch ended */
	struct win *w;
	unsigned nwin, nthreads, started;
	pthread_t *th;
	uint8_t *mem;
	size_t memlen;
	uint64_t nslots;
	struct ra_ops ops;
	struct stream s[RA_STREAMS];
	uint64_t tick, seq;
	/* how much of what was fetched was read, recently: 0..SCORE_ONE, an
	 * average over retired windows; under half, only one window in
	 * PROBE_EVERY asked for is fetched, to see whether it pays again */
	uint32_t score, probe;
	int stop, inited;
	struct ra_stats st;
};

static int win_overlaps(const struct win *w, uint64_t slot, uint64_t n)
{
	return w->state != W_FREE && w->first < slot + n && slot < w->first + w->n;
}

/* The slots [*a, *b) that window w (in use) holds of slot..slot+n-1; 0 when
 * none. */
static int win_clip(const struct win *w, uint64_t slot, uint64_t n, uint64_t *a, uint64_t *b)
{
	if (!win_overlaps(w, slot, n))
		return 0;
	*a = w->first > slot ? w->first : slot;
	*b = w->first + w->n < slot + n ? w->first + w->n : slot + n;
	return 1;
}

/* A ready window goes: what share of it was read counts in the score. */
static void retire(struct rahead *r, struct win *w)
{
	if (w->state == W_READY) {
		uint32_t held = 0, taken = 0;
		for (uint32_t k = 0; k < w->n; k++) {
			held += w->valid[k] || w->taken[k];
			taken += w->taken[k];
		}
		r->st.unused += held - taken;
		if (held)
			r->score = (r->score * 7 + taken * SCORE_ONE / held) / 8;
	}
	w->state = W_FREE;
}

static void *fetcher(void *arg)
{
	struct rahead *r = arg;
	uint8_t ok[RA_WINDOW_PAGES];

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct win *w = NULL;
		for (unsigned i = 0; i < r->nwin; i++)
			if (r->w[i].state == W_QUEUED && (!w || r->w[i].seq < w->seq))
				w = &r->w[i];
		if (!w) {
			pthread_cond_wait(&r->work, &r->mu);
			continue;
		}
		w->state = W_FETCHING;
		memset(w->dead, 0, sizeof(w->dead));
		pthread_mutex_unlock(&r->mu);
		memset(ok, 0, sizeof(ok));
		int e = r->ops.read(r->ops.arg, w->first, w->n, w->data, ok);
		pthread_mutex_lock(&r->mu);
		uint32_t good = 0;
		for (uint32_t k = 0; k < w->n; k++) {
			w->valid[k] = e == 0 && ok[k] && !w->dead[k];
			good += w->valid[k];
		}
		r->st.windows++;
		r->st.fetched += good;
		w->state = good ? W_READY : W_FREE;
		w->used = ++r->tick;
		pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int ra_new(unsigned windows, unsigned threads, uint64_t nslots, const struct ra_ops *ops,
	   struct rahead **out)
{
	struct rahead *r;
	int e;

	*out = NULL;
	if (windows == 0 || threads == 0 || !ops || !ops->read)
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->nwin = windows;
	r->nthreads = threads;
	r->nslots = nslots;
	r->ops = *ops;
	r->score = SCORE_ONE;
	r->memlen = (size_t)windows * RA_WINDOW_PAGES * PAGE;
	r->w = calloc(windows, sizeof(*r->w));
	r->th = calloc(threads, sizeof(*r->th));
	r->mem = mmap(NULL, r->memlen, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->mem == MAP_FAILED)
		r->mem = NULL;
	if (!r->w || !r->th || !r->mem) {
		ra_free(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < windows; i++)
		r->w[i].data = r->mem + (size_t)i * RA_WINDOW_PAGES * PAGE;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->work, NULL);
	pthread_cond_init(&r->done, NULL);
	r->inited = 1;
	for (unsigned i = 0; i < threads; i++) {
		if ((e = pthread_create(&r->th[i], NULL, fetcher, r)) != 0) {
			ra_free(r);
			return -e;
		}
		r->started++;
	}
	*out = r;
	return 0;
}

void ra_free(struct rahead *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_broadcast(&r->work);
		pthread_cond_broadcast(&r->done);
		pthread_mutex_unlock(&r->mu);
		for (unsigned i = 0; i < r->started; i++)
			pthread_join(r->th[i], NULL);
	}
	if (r->inited) {
		pthread_cond_destroy(&r->work);
		pthread_cond_destroy(&r->done);
		pthread_mutex_destroy(&r->mu);
	}
	if (r->mem)
		munmap(r->mem, r->memlen);
	free(r->w);
	free(r->th);
	free(r);
}

uint32_t ra_lookup(struct rahead *r, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *have)
{
	uint32_t got = 0;
	int waited = 0;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		int wait = 0;
		for (unsigned i = 0; i < r->nwin; i++) {
			struct win *w = &r->w[i];
			uint64_t a, b;
			if (!win_clip(w, slot, n, &a, &b))
				continue;
			if (w->state != W_READY) {
				/* queued or being fetched: wait, if it would give a page */
				for (uint64_t s = a; s < b && !wait; s++)
					wait = !have[s - slot];
				continue;
			}
			uint32_t left = 0;
			for (uint64_t s = a; s < b; s++) {
				uint32_t k = (uint32_t)(s - w->first);
				if (have[s - slot] || !w->valid[k])
					continue;
				memcpy(out + (s - slot) * PAGE, w->data + (size_t)k * PAGE, PAGE);
				have[s - slot] = 1;
				w->taken[k] = 1;
				got++;
			}
			w->used = ++r->tick;
			for (uint32_t k = 0; k < w->n; k++)
				left += w->valid[k] && !w->taken[k];
			if (!left)
				retire(r, w); /* every page it held was read */
		}
		if (!wait || r->stop)
			break;
		waited = 1;
		pthread_cond_wait(&r->done, &r->mu);
	}
	r->st.hits += got;
	r->st.waits += (uint64_t)waited;
	pthread_mutex_unlock(&r->mu);
	return got;
}

/* A window to fetch into: a free one, else the least recently used ready
 * one. NULL when all are queued or being fetched. mu held. */
static struct win *take_window(struct rahead *r)
{
	struct win *lru = NULL;

	for (unsigned i = 0; i < r->nwin; i++) {
		struct win *w = &r->w[i];
		if (w->state == W_FREE)
			return w;
		if (w->state == W_READY && (!lru || w->used < lru->used))
			lru = w;
	}
	if (lru)
		retire(r, lru);
	return lru;
}

void ra_note(struct rahead *r, uint64_t slot, uint32_t n)
{
	struct stream *st = NULL, *lru = &r->s[0];
	uint64_t end = slot + n;

	pthread_mutex_lock(&r->mu);
	r->tick++;
	for (unsigned i = 0; i < RA_STREAMS && !st; i++) {
		struct stream *x = &r->s[i];
		if (x->next && slot >= x->next && slot <= x->next + RA_GAP)
			st = x;
		else if (x->used < lru->used)
			lru = x;
	}
	if (!st) {
		/* a new stream: nothing fetched until it is read again */
		*lru = (struct stream){ .next = end, .ahead = end, .used = r->tick };
		pthread_mutex_unlock(&r->mu);
		return;
	}
	st->used = r->tick;
	st->runs++;
	if (end > st->next)
		st->next = end;
	if (st->ahead < st->next)
		st->ahead = st->next;
	while (!r->stop && st->runs >= RA_RUNS && st->ahead < st->next + (uint64_t)RA_AHEAD * RA_WINDOW_PAGES &&
	       st->ahead < r->nslots) {
		struct win *w = NULL;
		/* a window already there (another stream's) */
		for (unsigned i = 0; i < r->nwin && !w; i++)
			if (win_overlaps(&r->w[i], st->ahead, 1))
				w = &r->w[i];
		if (w) {
			st->ahead = w->first + w->n;
			continue;
		}
		/* fetching ahead has not paid lately: only a probe now and then */
		if (r->score < SCORE_ONE / 2 && ++r->probe % PROBE_EVERY != 0) {
			r->st.skipped++;
			break;
		}
		if (!(w = take_window(r)))
			break;
		uint64_t len = r->nslots - st->ahead;
		w->first = st->ahead;
		w->n = len < RA_WINDOW_PAGES ? (uint32_t)len : RA_WINDOW_PAGES;
		/* not into the next window already there */
		for (unsigned i = 0; i < r->nwin; i++) {
			struct win *o = &r->w[i];
			if (o != w && o->state != W_FREE && o->first > w->first &&
			    o->first < w->first + w->n)
				w->n = (uint32_t)(o->first - w->first);
		}
		w->state = W_QUEUED;
		w->seq = ++r->seq;
		r->st.scheduled++;
		w->used = r->tick;
		memset(w->valid, 0, sizeof(w->valid));
		memset(w->dead, 0, sizeof(w->dead));
		memset(w->taken, 0, sizeof(w->taken));
		st->ahead = w->first + w->n;
		pthread_cond_signal(&r->work);
	}
	pthread_mutex_unlock(&r->mu);
}

void ra_forget(struct rahead *r, uint64_t slot, uint64_t n)
{
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < r->nwin; i++) {
		struct win *w = &r->w[i];
		uint64_t a, b;
		if (!win_clip(w, slot, n, &a, &b))
			continue;
		for (uint64_t s = a; s < b; s++) {
			uint32_t k = (uint32_t)(s - w->first);
			r->st.forgotten += w->state == W_READY && w->valid[k] && !w->taken[k];
			w->valid[k] = 0;
			w->dead[k] = 1;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

void ra_get_stats(struct rahead *r, struct ra_stats *st)
{
	pthread_mutex_lock(&r->mu);
	*st = r->st;
	st->score_pct = r->score * 100 / SCORE_ONE;
	pthread_mutex_unlock(&r->mu);
}
