/*
 * replicas.c — writer counts, tombstones and counters (replicas.h).
 */
#include "replicas.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define WBUCKETS 1024
#define TBUCKETS (TOMBS_MAX * 2)

struct writer {
	struct writer *next;
	uint64_t ino, fgen;
	unsigned n;	 /* write handles open */
	bool checking;	 /* the first opener has not called ready yet */
};

struct tomb {
	uint64_t ino, fgen;
	uint32_t next; /* chain in the hash, index + 1 (0: end) */
	bool used;
};

struct replicas {
	pthread_mutex_t mu;
	pthread_cond_t ready;
	struct writer *w[WBUCKETS];
	/* tombstones: a ring in insertion order, chained by hash */
	struct tomb *ring;
	uint32_t *head; /* TBUCKETS chain heads, index + 1 */
	uint32_t next;	/* ring slot to use next */
	atomic_uint_fast64_t counters[RC_COUNT];
	struct gf_dead_replica bad[GF_MAX_BAD]; /* to tell gfmd */
	uint32_t nbad;
};

static uint64_t mix(uint64_t ino, uint64_t fgen)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ (fgen + 0x632BE59BD9B4E019ull);
	return h ^ (h >> 29);
}

int replicas_new(struct replicas **out)
{
	struct replicas *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->ring = calloc(TOMBS_MAX, sizeof(*rs->ring));
	rs->head = calloc(TBUCKETS, sizeof(*rs->head));
	if (!rs->ring || !rs->head) {
		free(rs->ring);
		free(rs->head);
		free(rs);
		return -ENOMEM;
	}
	pthread_mutex_init(&rs->mu, NULL);
	pthread_cond_init(&rs->ready, NULL);
	for (int i = 0; i < RC_COUNT; i++)
		atomic_init(&rs->counters[i], 0);
	*out = rs;
	return 0;
}

void replicas_free(struct replicas *rs)
{
	if (!rs)
		return;
	for (int i = 0; i < WBUCKETS; i++) {
		struct writer *w = rs->w[i], *next;
		for (; w; w = next) {
			next = w->next;
			free(w);
		}
	}
	free(rs->ring);
	free(rs->head);
	pthread_mutex_destroy(&rs->mu);
	pthread_cond_destroy(&rs->ready);
	free(rs);
}

/* ---- writers ------------------------------------------------------------------ */

static struct writer **wslot(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	struct writer **pp = &rs->w[mix(ino, fgen) % WBUCKETS];
	while (*pp && ((*pp)->ino != ino || (*pp)->fgen != fgen))
		pp = &(*pp)->next;
	return pp;
}

int replicas_writer_open(struct replicas *rs, uint64_t ino, uint64_t fgen, bool *first)
{
	pthread_mutex_lock(&rs->mu);
	struct writer **pp = wslot(rs, ino, fgen), *w;
	while ((w = *pp) && w->checking) {
		pthread_cond_wait(&rs->ready, &rs->mu);
		pp = wslot(rs, ino, fgen); /* it may have gone meanwhile */
	}
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			pthread_mutex_unlock(&rs->mu);
			return -ENOMEM;
		}
		w->ino = ino;
		w->fgen = fgen;
		*pp = w;
	}
	*first = w->n == 0;
	w->n++;
	if (*first)
		w->checking = true;
	pthread_mutex_unlock(&rs->mu);
	return 0;
}

void replicas_writer_ready(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	struct writer **pp = wslot(rs, ino, fgen), *w = *pp;
	if (w) {
		w->checking = false;
		if (w->n == 0) {
			*pp = w->next;
			free(w);
		}
	}
	pthread_cond_broadcast(&rs->ready);
	pthread_mutex_unlock(&rs->mu);
}

void replicas_writer_close(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	struct writer **pp = wslot(rs, ino, fgen), *w = *pp;
	if (w && w->n > 0 && --w->n == 0 && !w->checking) {
		*pp = w->next;
		free(w);
	}
	pthread_mutex_unlock(&rs->mu);
}

bool replicas_writer_close_last(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	bool last = false;
	pthread_mutex_lock(&rs->mu);
	struct writer **pp = wslot(rs, ino, fgen), *w = *pp;
	if (w && w->n > 0 && --w->n == 0 && !w->checking) {
		w->checking = true;
		last = true;
	}
	pthread_mutex_unlock(&rs->mu);
	return last;
}

bool replicas_seal_begin(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	struct writer **pp = wslot(rs, ino, fgen), *w = *pp;
	bool ok = false;
	if (!w && (w = calloc(1, sizeof(*w)))) {
		w->ino = ino;
		w->fgen = fgen;
		w->checking = true;
		*pp = w;
		ok = true;
	}
	pthread_mutex_unlock(&rs->mu);
	return ok;
}

void replicas_bad_add(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	uint32_t i;
	for (i = 0; i < rs->nbad; i++)
		if (rs->bad[i].ino == ino && rs->bad[i].gen == fgen)
			break;
	if (i == rs->nbad && rs->nbad < GF_MAX_BAD)
		rs->bad[rs->nbad++] = (struct gf_dead_replica){ ino, fgen };
	pthread_mutex_unlock(&rs->mu);
}

uint32_t replicas_bad_take(struct replicas *rs, struct gf_dead_replica *out, uint32_t max)
{
	pthread_mutex_lock(&rs->mu);
	uint32_t n = rs->nbad < max ? rs->nbad : max;
	memcpy(out, rs->bad, n * sizeof(*out));
	memmove(rs->bad, rs->bad + n, (rs->nbad - n) * sizeof(*out));
	rs->nbad -= n;
	pthread_mutex_unlock(&rs->mu);
	return n;
}

void replicas_bad_put_back(struct replicas *rs, const struct gf_dead_replica *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		replicas_bad_add(rs, v[i].ino, v[i].gen);
}

bool replicas_sealing(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	struct writer *w = *wslot(rs, ino, fgen);
	bool yes = w && w->n == 0 && w->checking;
	pthread_mutex_unlock(&rs->mu);
	return yes;
}

void replicas_wait_sealed(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	struct writer *w;
	while ((w = *wslot(rs, ino, fgen)) && w->n == 0 && w->checking)
		pthread_cond_wait(&rs->ready, &rs->mu);
	pthread_mutex_unlock(&rs->mu);
}

unsigned replicas_writers(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	struct writer *w = *wslot(rs, ino, fgen);
	unsigned n = w ? w->n : 0;
	pthread_mutex_unlock(&rs->mu);
	return n;
}

/* ---- tombstones ----------------------------------------------------------------- */

static uint32_t *tchain(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	return &rs->head[mix(ino, fgen) % TBUCKETS];
}

static void tomb_unchain(struct replicas *rs, uint32_t idx)
{
	struct tomb *t = &rs->ring[idx];
	uint32_t *pp = tchain(rs, t->ino, t->fgen);
	while (*pp && *pp != idx + 1)
		pp = &rs->ring[*pp - 1].next;
	if (*pp)
		*pp = t->next;
	t->used = false;
}

void replicas_tomb_add(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	pthread_mutex_lock(&rs->mu);
	for (uint32_t i = *tchain(rs, ino, fgen); i; i = rs->ring[i - 1].next)
		if (rs->ring[i - 1].ino == ino && rs->ring[i - 1].fgen == fgen) {
			pthread_mutex_unlock(&rs->mu);
			return;
		}
	uint32_t idx = rs->next;
	rs->next = (rs->next + 1) % TOMBS_MAX;
	if (rs->ring[idx].used)
		tomb_unchain(rs, idx); /* the oldest is forgotten */
	struct tomb *t = &rs->ring[idx];
	uint32_t *head = tchain(rs, ino, fgen);
	t->ino = ino;
	t->fgen = fgen;
	t->used = true;
	t->next = *head;
	*head = idx + 1;
	pthread_mutex_unlock(&rs->mu);
}

bool replicas_tomb_has(struct replicas *rs, uint64_t ino, uint64_t fgen)
{
	bool found = false;
	pthread_mutex_lock(&rs->mu);
	for (uint32_t i = *tchain(rs, ino, fgen); i && !found; i = rs->ring[i - 1].next)
		found = rs->ring[i - 1].ino == ino && rs->ring[i - 1].fgen == fgen;
	pthread_mutex_unlock(&rs->mu);
	return found;
}

/* ---- counters ----------------------------------------------------------------- */

void replicas_count(struct replicas *rs, enum replicas_counter c, uint64_t n)
{
	atomic_fetch_add(&rs->counters[c], n);
}

uint64_t replicas_counter(struct replicas *rs, enum replicas_counter c)
{
	return atomic_load(&rs->counters[c]);
}
