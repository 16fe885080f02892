/*
 * once.c — see once.h for the contract.
 */
#include "once.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum { REC_BUSY = 1, REC_DONE };

struct rec {
	uint64_t seq;
	uint8_t state;
	struct gf_once_rec r;
};

struct client {
	struct client *next;
	uint64_t id;
	uint64_t acked;	     /* the highest acked it sent */
	uint64_t db_trimmed; /* the acked of the last trim of its rows */
	uint64_t db_floor;   /* rows with seq ≤ this are deleted, and none will
				be written again */
	int64_t last_seen;
	int stored;	     /* may have rows in the database */
	struct rec *v;	     /* unordered; a client has few at a time */
	size_t n, cap;
};

struct gf_once {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a BUSY record ended */
	struct client **tab;
	size_t tabsz, nclients;
	uint32_t forget_s;
	int64_t next_sweep;
	size_t waiting;
	gf_sink_fn sink;
	void *sink_arg;
};

static size_t slot(const struct gf_once *t, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (t->tabsz - 1);
}

struct gf_once *gf_once_new(uint32_t forget_s)
{
	struct gf_once *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tabsz = 64;
	t->tab = calloc(t->tabsz, sizeof(*t->tab));
	if (!t->tab) {
		free(t);
		return NULL;
	}
	t->forget_s = forget_s;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	return t;
}

static void client_free(struct client *cl)
{
	free(cl->v);
	free(cl);
}

void gf_once_free(struct gf_once *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->tabsz; i++) {
		struct client *cl = t->tab[i], *next;
		for (; cl; cl = next) {
			next = cl->next;
			client_free(cl);
		}
	}
	free(t->tab);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}

void gf_once_set_sink(struct gf_once *t, gf_sink_fn sink, void *arg)
{
	pthread_mutex_lock(&t->mu);
	t->sink = sink;
	t->sink_arg = arg;
	pthread_mutex_unlock(&t->mu);
}

/* ---- clients and records (mu held) ------------------------------------------------ */

static struct client *client_find(const struct gf_once *t, uint64_t id)
{
	for (struct client *cl = t->tab[slot(t, id)]; cl; cl = cl->next)
		if (cl->id == id)
			return cl;
	return NULL;
}

static void tab_grow(struct gf_once *t)
{
	size_t nsz = t->tabsz * 2, osz = t->tabsz;
	struct client **nt = calloc(nsz, sizeof(*nt)), **old = t->tab;
	if (!nt)
		return; /* longer chains, nothing worse */
	t->tab = nt;
	t->tabsz = nsz;
	for (size_t i = 0; i < osz; i++) {
		struct client *cl = old[i], *next;
		for (; cl; cl = next) {
			next = cl->next;
			size_t s = slot(t, cl->id);
			cl->next = nt[s];
			nt[s] = cl;
		}
	}
	free(old);
}

static struct client *client_get(struct gf_once *t, uint64_t id)
{
	struct client *cl = client_find(t, id);
	if (cl)
		return cl;
	if (t->nclients + 1 > t->tabsz)
		tab_grow(t);
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->id = id;
	size_t s = slot(t, id);
	cl->next = t->tab[s];
	t->tab[s] = cl;
	t->nclients++;
	return cl;
}

static struct rec *rec_find(struct client *cl, uint64_t seq)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->v[i].seq == seq)
			return &cl->v[i];
	return NULL;
}

static struct rec *rec_add(struct client *cl, uint64_t seq)
{
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 8;
		struct rec *v = realloc(cl->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		cl->v = v;
		cl->cap = cap;
	}
	struct rec *r = &cl->v[cl->n++];
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	return r;
}

static void rec_del(struct client *cl, struct rec *r)
{
	*r = cl->v[--cl->n];
}

/* Delete client's rows with after < seq ≤ upto from the database. */
static void db_forget(struct gf_once *t, uint64_t client, uint64_t after, uint64_t upto)
{
	if (!t->sink)
		return;
	struct gf_changes c;
	gf_changes_init(&c);
	if (upto > (uint64_t)INT64_MAX)
		upto = (uint64_t)INT64_MAX; /* seqs are stored as bigint */
	if (gf_changes_add(&c, GF_CHG_ONCE_DEL, client, upto, after, NULL, 0, NULL, 0, 0))
		t->sink(t->sink_arg, &c);
	gf_changes_free(&c);
}

/* acked settles every seq ≤ it: no copy of those will come again. */
static void settle(struct gf_once *t, struct client *cl, uint64_t acked)
{
	if (acked <= cl->acked)
		return;
	cl->acked = acked;
	uint64_t busy_min = UINT64_MAX;
	for (size_t i = 0; i < cl->n;) {
		/* a BUSY one is still being applied: its end needs it */
		if (cl->v[i].seq <= acked && cl->v[i].state == REC_DONE) {
			rec_del(cl, &cl->v[i]);
		} else {
			if (cl->v[i].seq <= acked && cl->v[i].seq < busy_min)
				busy_min = cl->v[i].seq;
			i++;
		}
	}
	if (cl->stored && acked - cl->db_trimmed >= GF_ONCE_TRIM_EVERY) {
		/* from where the last trim ended: every row at or below it is
		 * gone, except one a BUSY record may still write, which is why
		 * the next trim then starts below that one */
		db_forget(t, cl->id, cl->db_floor, acked);
		cl->db_trimmed = acked;
		cl->db_floor = busy_min <= acked ? busy_min - 1 : acked;
	}
}

static int busy(const struct client *cl)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->v[i].state == REC_BUSY)
			return 1;
	return 0;
}

/* Forget the clients silent since before now - forget_s. */
static void sweep(struct gf_once *t, int64_t now)
{
	size_t dropped = 0;
	for (size_t i = 0; i < t->tabsz; i++) {
		struct client **pp = &t->tab[i];
		while (*pp) {
			struct client *cl = *pp;
			if (cl->last_seen + (int64_t)t->forget_s >= now || busy(cl)) {
				pp = &cl->next;
				continue;
			}
			*pp = cl->next;
			if (cl->stored)
				db_forget(t, cl->id, 0, UINT64_MAX);
			client_free(cl);
			t->nclients--;
			dropped++;
		}
	}
	if (dropped)
		gf_info("gfmd: forgot the exactly-once records of %zu clients silent for %us",
			dropped, t->forget_s);
}

/* ---- the contract -------------------------------------------------------------------- */

int gf_once_load(struct gf_once *t, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		 int created, int64_t at)
{
	int rc = 0;
	pthread_mutex_lock(&t->mu);
	struct client *cl = client_get(t, client);
	struct rec *r;
	if (!cl) {
		rc = -ENOMEM;
	} else if (rec_find(cl, seq)) {
		rc = -EEXIST;
	} else if (!(r = rec_add(cl, seq))) {
		rc = -ENOMEM;
	} else {
		r->state = REC_DONE;
		r->r = (struct gf_once_rec){ .status = 0, .op = op, .ino = ino,
					     .created = created ? 1 : 0, .ticket = 0 };
		cl->stored = 1;
		if (at > cl->last_seen)
			cl->last_seen = at;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int gf_once_begin(struct gf_once *t, const struct gf_once_id *id, uint64_t acked,
		  int64_t now, struct gf_once_rec *rec)
{
	int rc;
	pthread_mutex_lock(&t->mu);
	if (now >= t->next_sweep) {
		/* the first time only schedules: clients loaded at start-up
		 * were checked by the store */
		if (t->next_sweep)
			sweep(t, now);
		t->next_sweep = now + GF_ONCE_SWEEP_S;
	}
	for (;;) {
		struct client *cl = client_get(t, id->client);
		if (!cl) {
			rc = -ENOMEM;
			break;
		}
		if (now > cl->last_seen)
			cl->last_seen = now;
		settle(t, cl, acked);
		struct rec *r = rec_find(cl, id->seq);
		if (r && r->state == REC_BUSY) {
			/* its first copy is being applied by another thread */
			t->waiting++;
			pthread_cond_wait(&t->cv, &t->mu);
			t->waiting--;
			continue;
		}
		if (r) {
			if (r->r.op != id->op) {
				rc = -EPROTO;
				break;
			}
			*rec = r->r;
			rc = GF_ONCE_REPLAY;
			break;
		}
		if (id->seq <= cl->acked) {
			rc = GF_ONCE_STALE;
			break;
		}
		if (!(r = rec_add(cl, id->seq))) {
			rc = -ENOMEM;
			break;
		}
		r->state = REC_BUSY;
		r->r.op = id->op;
		rc = GF_ONCE_NEW;
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void gf_once_end(struct gf_once *t, const struct gf_once_id *id, int status, uint64_t ticket)
{
	pthread_mutex_lock(&t->mu);
	struct client *cl = client_find(t, id->client);
	struct rec *r = cl ? rec_find(cl, id->seq) : NULL;
	if (r && r->state == REC_BUSY) {
		r->state = REC_DONE;
		r->r = (struct gf_once_rec){ .status = status, .op = id->op,
					     .ino = status ? 0 : id->ino,
					     .created = status ? 0 : id->created, .ticket = ticket };
		if (status == 0)
			cl->stored = 1;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
}

void gf_once_abort(struct gf_once *t, const struct gf_once_id *id)
{
	pthread_mutex_lock(&t->mu);
	struct client *cl = client_find(t, id->client);
	struct rec *r = cl ? rec_find(cl, id->seq) : NULL;
	if (r && r->state == REC_BUSY) {
		rec_del(cl, r);
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
}

size_t gf_once_count(struct gf_once *t, const uint64_t *client)
{
	size_t n = 0;
	pthread_mutex_lock(&t->mu);
	if (client) {
		struct client *cl = client_find(t, *client);
		n = cl ? cl->n : 0;
	} else {
		for (size_t i = 0; i < t->tabsz; i++)
			for (struct client *cl = t->tab[i]; cl; cl = cl->next)
				n += cl->n;
	}
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t gf_once_waiting(struct gf_once *t)
{
	pthread_mutex_lock(&t->mu);
	size_t n = t->waiting;
	pthread_mutex_unlock(&t->mu);
	return n;
}
