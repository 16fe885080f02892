/*
 * locks.c — cluster-wide POSIX and flock locks (locks.h).
 *
 * Per inode: the held locks (a small array) and the waiting requests (a
 * FIFO). Files without either are freed. Clients: a count of sessions.
 */
#include "locks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FILE_BUCKETS 1024
#define CLIENT_BUCKETS 256
#define DEADLOCK_DEPTH 64

struct waiter {
	struct waiter *next;
	struct gf_lock want;
	gf_lock_done_fn done;
	void *arg;
};

struct lfile {
	struct lfile *hnext;
	uint64_t ino;
	struct gf_lock *held;
	size_t nheld, cap;
	struct waiter *wait_head, *wait_tail;
};

struct client {
	struct client *hnext;
	uint64_t id;
	unsigned sessions;
};

/* A completion to run once the mutex is released. */
struct done_item {
	gf_lock_done_fn done;
	void *arg;
	int status;
};

struct done_list {
	struct done_item *v;
	size_t n, cap;
};

#define LAST_SLOTS 4096 /* gf_locks_others: the last client to lock, per inode */

struct gf_locks {
	pthread_mutex_t mu;
	struct {
		uint64_t ino, client;
	} last[LAST_SLOTS];
	struct lfile *files[FILE_BUCKETS];
	struct client *clients[CLIENT_BUCKETS];
};

static size_t hash64(uint64_t x, size_t n)
{
	return (size_t)((x * 0x9E3779B97F4A7C15ull) >> 40) % n;
}

struct gf_locks *gf_locks_new(void)
{
	struct gf_locks *lk = calloc(1, sizeof(*lk));
	if (lk)
		pthread_mutex_init(&lk->mu, NULL);
	return lk;
}

void gf_locks_free(struct gf_locks *lk)
{
	if (!lk)
		return;
	for (size_t i = 0; i < FILE_BUCKETS; i++)
		for (struct lfile *f = lk->files[i], *fn; f; f = fn) {
			fn = f->hnext;
			for (struct waiter *w = f->wait_head, *wn; w; w = wn) {
				wn = w->next;
				free(w);
			}
			free(f->held);
			free(f);
		}
	for (size_t i = 0; i < CLIENT_BUCKETS; i++)
		for (struct client *c = lk->clients[i], *cn; c; c = cn) {
			cn = c->hnext;
			free(c);
		}
	pthread_mutex_destroy(&lk->mu);
	free(lk);
}

/* ---- helpers ---------------------------------------------------------------------- */

static int same_owner(const struct gf_lock *a, const struct gf_lock *b)
{
	return a->client == b->client && a->owner == b->owner;
}

static int overlap(const struct gf_lock *a, const struct gf_lock *b)
{
	return a->start <= b->end && b->start <= a->end;
}

/* Would held lock h keep want from being taken? */
static int conflicts(const struct gf_lock *h, const struct gf_lock *want)
{
	if (want->type == GF_LOCK_UNLCK || h->kind != want->kind || same_owner(h, want) ||
	    !overlap(h, want))
		return 0; /* an unlock is never in anyone's way */
	return h->type == GF_LOCK_WRLCK || want->type == GF_LOCK_WRLCK;
}

static const struct gf_lock *first_conflict(const struct lfile *f, const struct gf_lock *want)
{
	for (size_t i = 0; f && i < f->nheld; i++)
		if (conflicts(&f->held[i], want))
			return &f->held[i];
	return NULL;
}

static int valid(const struct gf_lock *l)
{
	if (l->type != GF_LOCK_RDLCK && l->type != GF_LOCK_WRLCK && l->type != GF_LOCK_UNLCK)
		return 0;
	if (l->kind != GF_LOCK_POSIX && l->kind != GF_LOCK_FLOCK)
		return 0;
	return l->start <= l->end;
}

static struct lfile *file_get(struct gf_locks *lk, uint64_t ino, int create)
{
	struct lfile **pp = &lk->files[hash64(ino, FILE_BUCKETS)];
	for (struct lfile *f = *pp; f; f = f->hnext)
		if (f->ino == ino)
			return f;
	if (!create)
		return NULL;
	struct lfile *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ino = ino;
	f->hnext = *pp;
	*pp = f;
	return f;
}

/* Free f when it holds and awaits nothing. */
static void file_tidy(struct gf_locks *lk, struct lfile *f)
{
	if (f->nheld || f->wait_head)
		return;
	struct lfile **pp = &lk->files[hash64(f->ino, FILE_BUCKETS)];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	free(f->held);
	free(f);
}

static int held_reserve(struct lfile *f, size_t extra)
{
	if (f->nheld + extra <= f->cap)
		return 0;
	size_t cap = f->cap ? f->cap * 2 : 8;
	while (cap < f->nheld + extra)
		cap *= 2;
	struct gf_lock *v = realloc(f->held, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	f->held = v;
	f->cap = cap;
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct gf_lock *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Apply want to f's held locks for its owner, as fcntl/flock do: the
 * owner's locks of that kind lose the range (split when it falls inside),
 * the new range is added unless it is an unlock, and the owner's locks of
 * one type that touch are merged. Cannot fail after held_reserve(f, 2).
 */
static void apply(struct lfile *f, const struct gf_lock *want)
{
	size_t n = 0;
	struct gf_lock split = { 0 };
	int have_split = 0;
	for (size_t i = 0; i < f->nheld; i++) {
		struct gf_lock h = f->held[i];
		if (h.kind != want->kind || !same_owner(&h, want) || !overlap(&h, want)) {
			f->held[n++] = h;
			continue;
		}
		/* the part before and the part after want's range stay */
		if (h.start < want->start) {
			struct gf_lock left = h;
			left.end = want->start - 1;
			f->held[n++] = left;
		}
		if (h.end > want->end) {
			struct gf_lock right = h;
			right.start = want->end + 1;
			if (h.start < want->start) {
				split = right; /* one lock became two */
				have_split = 1;
			} else {
				f->held[n++] = right;
			}
		}
	}
	f->nheld = n;
	if (have_split)
		f->held[f->nheld++] = split;
	if (want->type != GF_LOCK_UNLCK)
		f->held[f->nheld++] = *want;
	if (want->kind != GF_LOCK_POSIX)
		return;
	/* merge the owner's touching ranges of one type */
	qsort(f->held, f->nheld, sizeof(*f->held), cmp_start);
	n = 0;
	for (size_t i = 0; i < f->nheld; i++) {
		struct gf_lock h = f->held[i];
		size_t j;
		for (j = n; j-- > 0;) {
			struct gf_lock *p = &f->held[j];
			if (p->kind == GF_LOCK_POSIX && same_owner(p, &h) && p->type == h.type &&
			    (p->end == UINT64_MAX || p->end + 1 >= h.start)) {
				if (h.end > p->end)
					p->end = h.end;
				if (h.pid)
					p->pid = h.pid;
				break;
			}
		}
		if (j == (size_t)-1)
			f->held[n++] = h;
	}
	f->nheld = n;
}

static void done_push(struct done_list *dl, gf_lock_done_fn done, void *arg, int status)
{
	if (dl->n == dl->cap) {
		size_t cap = dl->cap ? dl->cap * 2 : 8;
		struct done_item *v = realloc(dl->v, cap * sizeof(*v));
		if (!v) {
			/* cannot defer it: a completion must not be lost */
			done(arg, status);
			return;
		}
		dl->v = v;
		dl->cap = cap;
	}
	dl->v[dl->n++] = (struct done_item){ done, arg, status };
}

static void done_run(struct done_list *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		dl->v[i].done(dl->v[i].arg, dl->v[i].status);
	free(dl->v);
}

/* Grant, in arrival order, every waiting request that no longer conflicts. */
static void grant_waiters(struct gf_locks *lk, struct lfile *f, struct done_list *dl)
{
	struct waiter **pp = &f->wait_head, *prev = NULL;
	while (*pp) {
		struct waiter *w = *pp;
		if (first_conflict(f, &w->want) || held_reserve(f, 2)) {
			prev = w;
			pp = &w->next;
			continue;
		}
		apply(f, &w->want);
		*pp = w->next;
		if (f->wait_tail == w)
			f->wait_tail = prev;
		done_push(dl, w->done, w->arg, 0);
		free(w);
	}
	file_tidy(lk, f);
}

/* Does owner a wait (in any file, for a POSIX lock) for a lock that target
 * holds, directly or through others? */
static int waits_for(struct gf_locks *lk, const struct gf_lock *a, const struct gf_lock *target,
		     int depth)
{
	if (depth > DEADLOCK_DEPTH)
		return 0;
	for (size_t b = 0; b < FILE_BUCKETS; b++)
		for (struct lfile *f = lk->files[b]; f; f = f->hnext)
			for (struct waiter *w = f->wait_head; w; w = w->next) {
				if (w->want.kind != GF_LOCK_POSIX || !same_owner(&w->want, a))
					continue;
				for (size_t i = 0; i < f->nheld; i++) {
					const struct gf_lock *h = &f->held[i];
					if (!conflicts(h, &w->want))
						continue;
					if (same_owner(h, target) ||
					    waits_for(lk, h, target, depth + 1))
						return 1;
				}
			}
	return 0;
}

/* ---- the interface ------------------------------------------------------------------ */

int gf_locks_test(struct gf_locks *lk, uint64_t ino, const struct gf_lock *want,
		  struct gf_lock *conflict)
{
	if (!valid(want) || want->type == GF_LOCK_UNLCK)
		return -EINVAL;
	pthread_mutex_lock(&lk->mu);
	const struct gf_lock *c = first_conflict(file_get(lk, ino, 0), want);
	if (c) {
		*conflict = *c;
	} else {
		*conflict = *want;
		conflict->type = GF_LOCK_UNLCK;
	}
	pthread_mutex_unlock(&lk->mu);
	return 0;
}

/* Whether want's owner holds a flock of f of another type (a conversion). */
static int converts(const struct lfile *f, const struct gf_lock *want)
{
	for (size_t i = 0; i < f->nheld; i++)
		if (f->held[i].kind == GF_LOCK_FLOCK && same_owner(&f->held[i], want) &&
		    f->held[i].type != want->type)
			return 1;
	return 0;
}

int gf_locks_set(struct gf_locks *lk, uint64_t ino, const struct gf_lock *want, int wait,
		 gf_lock_done_fn done, void *arg)
{
	struct done_list dl = { 0 };
	int rc = 0;
	if (!valid(want))
		return -EINVAL;
	pthread_mutex_lock(&lk->mu);
	struct lfile *f = file_get(lk, ino, want->type != GF_LOCK_UNLCK || wait);
	if (!f) {
		rc = want->type == GF_LOCK_UNLCK ? 0 : -ENOMEM;
		goto out;
	}
	if (want->kind == GF_LOCK_FLOCK && want->type != GF_LOCK_UNLCK && converts(f, want)) {
		/* flock(2) converts "not atomically" (flock_lock_inode): the
		 * owner's old lock goes first, and stays gone if the new one
		 * cannot be had; waiters it held back may get in meanwhile */
		struct gf_lock un = *want;
		un.type = GF_LOCK_UNLCK;
		apply(f, &un);
		grant_waiters(lk, f, &dl); /* (may free f) */
		if (!(f = file_get(lk, ino, 1))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	const struct gf_lock *c = first_conflict(f, want);
	if (!c) {
		if (held_reserve(f, 2)) {
			rc = -ENOMEM;
		} else {
			apply(f, want);
			/* an unlock or a downgrade may let others in */
			grant_waiters(lk, f, &dl);
			f = NULL;
		}
		goto out;
	}
	if (!wait || !done) {
		rc = -EAGAIN;
		goto out;
	}
	if (want->kind == GF_LOCK_POSIX && waits_for(lk, c, want, 0)) {
		rc = -EDEADLK;
		goto out;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		rc = -ENOMEM;
		goto out;
	}
	w->want = *want;
	w->done = done;
	w->arg = arg;
	if (f->wait_tail)
		f->wait_tail->next = w;
	else
		f->wait_head = w;
	f->wait_tail = w;
	rc = 1;
	f = NULL;
out:
	if (f)
		file_tidy(lk, f);
	pthread_mutex_unlock(&lk->mu);
	done_run(&dl);
	return rc;
}

/* Remove f's waiters that match (any owner when owner_too is 0), giving
 * them status. */
static void drop_waiters(struct lfile *f, uint64_t client, uint64_t owner, int owner_too,
			 int status, struct done_list *dl)
{
	struct waiter **pp = &f->wait_head, *prev = NULL;
	while (*pp) {
		struct waiter *w = *pp;
		if (w->want.client != client || (owner_too && w->want.owner != owner)) {
			prev = w;
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (f->wait_tail == w)
			f->wait_tail = prev;
		done_push(dl, w->done, w->arg, status);
		free(w);
	}
}

void gf_locks_cancel(struct gf_locks *lk, uint64_t ino, uint64_t client, uint64_t owner)
{
	struct done_list dl = { 0 };
	pthread_mutex_lock(&lk->mu);
	struct lfile *f = file_get(lk, ino, 0);
	if (f) {
		drop_waiters(f, client, owner, 1, -EINTR, &dl);
		grant_waiters(lk, f, &dl);
	}
	pthread_mutex_unlock(&lk->mu);
	done_run(&dl);
}

int gf_locks_others(struct gf_locks *lk, uint64_t ino, uint64_t client)
{
	pthread_mutex_lock(&lk->mu);
	size_t k = hash64(ino, LAST_SLOTS);
	int others = lk->last[k].ino != ino || lk->last[k].client != client;
	lk->last[k].ino = ino;
	lk->last[k].client = client;
	pthread_mutex_unlock(&lk->mu);
	return others;
}

static struct client **client_slot(struct gf_locks *lk, uint64_t id)
{
	struct client **pp = &lk->clients[hash64(id, CLIENT_BUCKETS)];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->hnext;
	return pp;
}

void gf_locks_client_up(struct gf_locks *lk, uint64_t client)
{
	pthread_mutex_lock(&lk->mu);
	struct client **pp = client_slot(lk, client);
	if (!*pp && (*pp = calloc(1, sizeof(**pp))))
		(*pp)->id = client;
	if (*pp)
		(*pp)->sessions++;
	pthread_mutex_unlock(&lk->mu);
}

void gf_locks_client_down(struct gf_locks *lk, uint64_t client)
{
	struct done_list dl = { 0 };
	pthread_mutex_lock(&lk->mu);
	struct client **pp = client_slot(lk, client), *c = *pp;
	if (c && --c->sessions > 0) {
		pthread_mutex_unlock(&lk->mu);
		return;
	}
	if (c) {
		*pp = c->hnext;
		free(c);
	}
	for (size_t b = 0; b < FILE_BUCKETS; b++) {
		struct lfile *f = lk->files[b], *fn;
		for (; f; f = fn) {
			fn = f->hnext;
			size_t n = 0;
			for (size_t i = 0; i < f->nheld; i++)
				if (f->held[i].client != client)
					f->held[n++] = f->held[i];
			f->nheld = n;
			drop_waiters(f, client, 0, 0, -ENOLCK, &dl);
			grant_waiters(lk, f, &dl); /* may free f */
		}
	}
	pthread_mutex_unlock(&lk->mu);
	done_run(&dl);
}

void gf_locks_forget(struct gf_locks *lk, uint64_t ino)
{
	struct done_list dl = { 0 };
	pthread_mutex_lock(&lk->mu);
	struct lfile *f = file_get(lk, ino, 0);
	if (f) {
		f->nheld = 0;
		while (f->wait_head) {
			struct waiter *w = f->wait_head;
			f->wait_head = w->next;
			done_push(&dl, w->done, w->arg, -ENOLCK);
			free(w);
		}
		f->wait_tail = NULL;
		file_tidy(lk, f);
	}
	pthread_mutex_unlock(&lk->mu);
	done_run(&dl);
}
