/*
 * leases.c — directory name leases: who holds which, recalls, parked polls.
 */
#include "leases.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define DIR_BUCKETS 4096u
#define CLIENT_BUCKETS 256u

struct lease {
	uint64_t client, dir, gen;
	int64_t expiry; /* gf_mono_ms */
	int acked;
	const void *waiter; /* recalling: whose write_begin waits for it */
	struct lease *next;
};

struct ldir {
	uint64_t dir;
	int busy; /* names being added */
	struct lease *leases;
	struct ldir *next;
};

struct lclient {
	uint64_t id;
	struct gf_conn *conn; /* its latest poll's, referenced; NULL: none open */
	int parked;
	uint32_t reqid;
	int64_t parked_at;
	struct gfm_lease_ref *pending; /* recalls not yet sent */
	uint32_t npending, cappending;
	struct lclient *next;
};

struct gf_leases {
	pthread_mutex_t mu;
	pthread_cond_t acked; /* broadcast on every ack and client change */
	pthread_cond_t tick;
	uint32_t term_ms;
	uint64_t next_gen;
	struct ldir *dirs[DIR_BUCKETS];
	struct lclient *clients[CLIENT_BUCKETS];
	struct lease *recalling;
	int stop;
	pthread_t thread;
	int has_thread;
};

/* A reply to send once the lock is released. */
struct send {
	struct gf_conn *conn; /* referenced */
	uint32_t reqid;
	struct gfm_lease_poll_rep rep;
	struct send *next;
};

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct ldir **dir_slot(struct gf_leases *L, uint64_t dir)
{
	struct ldir **pp = &L->dirs[hash64(dir) % DIR_BUCKETS];
	while (*pp && (*pp)->dir != dir)
		pp = &(*pp)->next;
	return pp;
}

static struct ldir *dir_get(struct gf_leases *L, uint64_t dir, int create)
{
	struct ldir **pp = dir_slot(L, dir);
	if (*pp || !create)
		return *pp;
	struct ldir *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dir = dir;
	*pp = d;
	return d;
}

static void dir_maybe_free(struct gf_leases *L, struct ldir *d)
{
	if (!d || d->busy || d->leases)
		return;
	struct ldir **pp = dir_slot(L, d->dir);
	*pp = d->next;
	free(d);
}

static void prune(struct ldir *d, int64_t now)
{
	for (struct lease **pp = &d->leases; *pp;) {
		struct lease *l = *pp;
		if (l->expiry <= now) {
			*pp = l->next;
			free(l);
		} else {
			pp = &l->next;
		}
	}
}

static struct lclient *client_get(struct gf_leases *L, uint64_t id, int create)
{
	struct lclient **pp = &L->clients[hash64(id) % CLIENT_BUCKETS];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	if (*pp || !create)
		return *pp;
	struct lclient *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->id = id;
	*pp = cl;
	return cl;
}

/* Answer cl's parked poll with its pending recalls (up to a frame's worth):
 * queued on *sends. Lock held. */
static void answer(struct lclient *cl, struct send **sends)
{
	if (!cl->parked || !cl->conn)
		return;
	struct send *s = calloc(1, sizeof(*s));
	if (!s)
		return; /* stays parked: the tick answers it later */
	uint32_t n = cl->npending < GF_LEASE_POLL_MAX ? cl->npending : GF_LEASE_POLL_MAX;
	if (n) {
		memcpy(s->rep.refs, cl->pending, n * sizeof(*cl->pending));
		memmove(cl->pending, cl->pending + n,
			(cl->npending - n) * sizeof(*cl->pending));
		cl->npending -= n;
	}
	s->rep.n = n;
	s->conn = cl->conn;
	gf_conn_get(s->conn);
	s->reqid = cl->reqid;
	cl->parked = 0;
	s->next = *sends;
	*sends = s;
}

static void send_all(struct send *s)
{
	while (s) {
		struct send *next = s->next;
		struct gf_wbuf w;
		gf_wbuf_init(&w);
		gfm_lease_poll_rep_encode(&w, &s->rep);
		gf_conn_reply(s->conn, GFM_LEASE_POLL, s->reqid, w.err, w.err ? NULL : &w, -1);
		gf_wbuf_free(&w);
		gf_conn_put(s->conn);
		free(s);
		s = next;
	}
}

/* recalls waiting for a client that does not poll: past this many, more
 * are not kept (their leases are waited out) */
#define PENDING_MAX 65536u

static int add_pending(struct lclient *cl, uint64_t dir, uint64_t gen)
{
	if (cl->npending >= PENDING_MAX)
		return -ENOSPC;
	if (cl->npending == cl->cappending) {
		uint32_t cap = cl->cappending ? 2 * cl->cappending : 16;
		struct gfm_lease_ref *v = realloc(cl->pending, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		cl->pending = v;
		cl->cappending = cap;
	}
	cl->pending[cl->npending++] = (struct gfm_lease_ref){ .dir = dir, .gen = gen };
	return 0;
}

/* client's ack of (dir, gen): a recalled lease is done; one still held
 * (the client dropped it by itself) is ended. Lock held. */
static void ack(struct gf_leases *L, uint64_t client, uint64_t dir, uint64_t gen)
{
	for (struct lease *l = L->recalling; l; l = l->next) {
		if (l->client == client && l->dir == dir && l->gen == gen) {
			gf_debug("gfmd: lease %llu on directory %llu given back",
				 (unsigned long long)gen, (unsigned long long)dir);
			l->acked = 1;
			pthread_cond_broadcast(&L->acked);
			return;
		}
	}
	struct ldir *d = dir_get(L, dir, 0);
	if (!d)
		return;
	for (struct lease **pp = &d->leases; *pp; pp = &(*pp)->next) {
		if ((*pp)->client == client && (*pp)->gen == gen) {
			struct lease *l = *pp;
			*pp = l->next;
			free(l);
			break;
		}
	}
	dir_maybe_free(L, d);
}

static void *ticker(void *arg)
{
	struct gf_leases *L = arg;
	pthread_mutex_lock(&L->mu);
	while (!L->stop) {
		struct timespec ts = gf_mono_in_ms(100);
		pthread_cond_timedwait(&L->tick, &L->mu, &ts);
		if (L->stop)
			break;
		int64_t now = gf_mono_ms();
		struct send *sends = NULL;
		for (size_t i = 0; i < CLIENT_BUCKETS; i++)
			for (struct lclient *cl = L->clients[i]; cl; cl = cl->next)
				if (cl->parked && now - cl->parked_at >= GF_LEASE_PARK_MS)
					answer(cl, &sends);
		/* expired leases of directories nobody writes any more */
		for (size_t i = 0; i < DIR_BUCKETS; i++) {
			for (struct ldir *d = L->dirs[i], *next; d; d = next) {
				next = d->next;
				prune(d, now);
				dir_maybe_free(L, d);
			}
		}
		pthread_mutex_unlock(&L->mu);
		send_all(sends);
		pthread_mutex_lock(&L->mu);
	}
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

int gf_leases_new(uint32_t term_ms, struct gf_leases **out)
{
	*out = NULL;
	struct gf_leases *L = calloc(1, sizeof(*L));
	if (!L)
		return -ENOMEM;
	pthread_mutex_init(&L->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&L->acked, &ca);
	pthread_cond_init(&L->tick, &ca);
	pthread_condattr_destroy(&ca);
	L->term_ms = term_ms;
	/* gens of one gfmd never meet those of the one before: a renewal of
	 * an old lease is a new grant, with the names */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	L->next_gen = ((uint64_t)ts.tv_sec << 24) | 1;
	int rc = pthread_create(&L->thread, NULL, ticker, L);
	if (rc) {
		gf_leases_free(L);
		return -rc;
	}
	L->has_thread = 1;
	*out = L;
	return 0;
}

void gf_leases_free(struct gf_leases *L)
{
	if (!L)
		return;
	if (L->has_thread) {
		pthread_mutex_lock(&L->mu);
		L->stop = 1;
		pthread_cond_broadcast(&L->tick);
		pthread_mutex_unlock(&L->mu);
		pthread_join(L->thread, NULL);
	}
	for (size_t i = 0; i < DIR_BUCKETS; i++) {
		for (struct ldir *d = L->dirs[i], *dn; d; d = dn) {
			dn = d->next;
			for (struct lease *l = d->leases, *ln; l; l = ln) {
				ln = l->next;
				free(l);
			}
			free(d);
		}
	}
	for (size_t i = 0; i < CLIENT_BUCKETS; i++) {
		for (struct lclient *cl = L->clients[i], *cn; cl; cl = cn) {
			cn = cl->next;
			if (cl->conn)
				gf_conn_put(cl->conn);
			free(cl->pending);
			free(cl);
		}
	}
	pthread_cond_destroy(&L->acked);
	pthread_cond_destroy(&L->tick);
	pthread_mutex_destroy(&L->mu);
	free(L);
}

/* Unlink and free cl (its parked poll, if any, is answered first into
 * *sends; its connection reference is handed back in *put). Lock held. */
static void client_free(struct gf_leases *L, struct lclient *cl, struct send **sends,
			struct gf_conn **put)
{
	answer(cl, sends);
	struct lclient **pp = &L->clients[hash64(cl->id) % CLIENT_BUCKETS];
	while (*pp != cl)
		pp = &(*pp)->next;
	*pp = cl->next;
	*put = cl->conn;
	free(cl->pending);
	free(cl);
}

int gf_leases_poll(struct gf_leases *L, struct gf_conn *c, uint32_t reqid,
		   const struct gfm_lease_poll_req *m)
{
	struct send *sends = NULL;
	struct gf_conn *old = NULL;
	int rc = 0;

	pthread_mutex_lock(&L->mu);
	/* one client per connection: another one polling here ends it */
	struct gf_conn *gone = NULL;
	for (size_t i = 0; i < CLIENT_BUCKETS && !gone; i++)
		for (struct lclient *o = L->clients[i]; o; o = o->next)
			if (o->conn == c && o->id != m->client) {
				client_free(L, o, &sends, &gone);
				break;
			}
	if (gone)
		gf_conn_put(gone); /* not the last reference: c is serving us */
	struct lclient *cl = client_get(L, m->client, 1);
	if (!cl) {
		rc = -ENOMEM;
		goto out;
	}
	/* one poll at a time: an earlier one still parked is answered empty */
	answer(cl, &sends);
	if (cl->conn != c) {
		old = cl->conn;
		cl->conn = c;
		gf_conn_get(c);
	}
	for (uint32_t i = 0; i < m->n; i++)
		ack(L, m->client, m->refs[i].dir, m->refs[i].gen);
	cl->parked = 1;
	cl->reqid = reqid;
	cl->parked_at = gf_mono_ms();
	if (cl->npending)
		answer(cl, &sends);
out:
	pthread_mutex_unlock(&L->mu);
	if (old)
		gf_conn_put(old);
	send_all(sends);
	return rc;
}

void gf_leases_conn_closed(struct gf_leases *L, struct gf_conn *c)
{
	struct gf_conn *put = NULL;

	pthread_mutex_lock(&L->mu);
	for (size_t i = 0; i < CLIENT_BUCKETS && !put; i++) {
		for (struct lclient *cl = L->clients[i]; cl; cl = cl->next) {
			if (cl->conn == c) {
				/* its leases stay until their term: the holder
				 * may still be using them (leases.h) */
				cl->parked = 0;
				struct send *none = NULL;
				client_free(L, cl, &none, &put);
				break;
			}
		}
	}
	pthread_mutex_unlock(&L->mu);
	if (put)
		gf_conn_put(put);
}

int gf_leases_grant(struct gf_leases *L, uint64_t client, uint64_t dir, uint64_t renew,
		    uint64_t *gen, uint32_t *term_ms, int *renewed)
{
	*gen = 0;
	*renewed = 0;
	*term_ms = L->term_ms;
	if (!L->term_ms)
		return -EOPNOTSUPP;
	int rc = 0;
	pthread_mutex_lock(&L->mu);
	struct lclient *cl = client_get(L, client, 0);
	struct ldir *d = NULL;
	if (!cl || !cl->conn) {
		rc = -EBUSY;
		goto out;
	}
	d = dir_get(L, dir, 1);
	if (!d) {
		rc = -ENOMEM;
		goto out;
	}
	if (d->busy) {
		rc = -EBUSY;
		goto out;
	}
	int64_t now = gf_mono_ms();
	prune(d, now);
	for (struct lease **pp = &d->leases; *pp; pp = &(*pp)->next) {
		struct lease *l = *pp;
		if (l->client != client)
			continue;
		if (renew && l->gen == renew) {
			gf_debug("gfmd: lease %llu on directory %llu renewed", (unsigned long long)renew,
				 (unsigned long long)dir);
			l->expiry = now + L->term_ms;
			*gen = l->gen;
			*renewed = 1;
			goto out;
		}
		*pp = l->next; /* replaced by the new one */
		free(l);
		break;
	}
	struct lease *l = calloc(1, sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto out;
	}
	l->client = client;
	l->dir = dir;
	l->gen = L->next_gen++;
	l->expiry = now + L->term_ms;
	l->next = d->leases;
	d->leases = l;
	*gen = l->gen;
	gf_debug("gfmd: lease %llu on directory %llu to client %016llx",
		 (unsigned long long)l->gen, (unsigned long long)dir, (unsigned long long)client);
out:
	dir_maybe_free(L, d);
	pthread_mutex_unlock(&L->mu);
	return rc;
}

void gf_leases_drop(struct gf_leases *L, uint64_t client, uint64_t dir, uint64_t gen)
{
	pthread_mutex_lock(&L->mu);
	ack(L, client, dir, gen);
	pthread_mutex_unlock(&L->mu);
}

void gf_leases_write_begin(struct gf_leases *L, uint64_t client, uint64_t dir)
{
	if (!L->term_ms)
		return;
	const int token = 0; /* this wait's own leases in L->recalling */
	struct send *sends = NULL;
	int64_t until = 0;
	int n = 0;

	pthread_mutex_lock(&L->mu);
	struct ldir *d = dir_get(L, dir, 1);
	if (!d) {
		/* out of memory: no lease can be granted on dir without it, and
		 * those held now are waited out */
		gf_warn("gfmd: out of memory recalling the leases on directory %llu",
			(unsigned long long)dir);
		pthread_mutex_unlock(&L->mu);
		struct timespec ts = { .tv_sec = L->term_ms / 1000,
				       .tv_nsec = (long)(L->term_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return;
	}
	d->busy++;
	int64_t now = gf_mono_ms();
	for (struct lease **pp = &d->leases; *pp;) {
		struct lease *l = *pp;
		if (l->expiry <= now) {
			*pp = l->next;
			free(l);
			continue;
		}
		if (l->client == client && client != 0) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		l->acked = 0;
		l->waiter = &token;
		l->next = L->recalling;
		L->recalling = l;
		if (l->expiry > until)
			until = l->expiry;
		n++;
		gf_debug("gfmd: recalling lease %llu on directory %llu from client %016llx",
			 (unsigned long long)l->gen, (unsigned long long)dir,
			 (unsigned long long)l->client);
		struct lclient *cl = client_get(L, l->client, 0);
		if (cl && add_pending(cl, dir, l->gen) == 0)
			answer(cl, &sends);
	}
	pthread_mutex_unlock(&L->mu);
	send_all(sends);
	if (!n)
		return;

	pthread_mutex_lock(&L->mu);
	for (;;) {
		int waiting = 0;
		for (struct lease *l = L->recalling; l; l = l->next)
			if (l->waiter == &token && !l->acked)
				waiting = 1;
		if (!waiting || gf_mono_ms() >= until)
			break;
		struct timespec ts = gf_mono_in_ms(until - gf_mono_ms());
		pthread_cond_timedwait(&L->acked, &L->mu, &ts);
	}
	for (struct lease **pp = &L->recalling; *pp;) {
		struct lease *l = *pp;
		if (l->waiter != &token) {
			pp = &l->next;
			continue;
		}
		if (!l->acked) {
			gf_info("gfmd: client %016llx did not give back its lease on directory %llu: "
				"waited out its term",
				(unsigned long long)l->client, (unsigned long long)dir);
		}
		*pp = l->next;
		free(l);
	}
	pthread_mutex_unlock(&L->mu);
}

void gf_leases_write_end(struct gf_leases *L, uint64_t dir)
{
	if (!L->term_ms)
		return;
	pthread_mutex_lock(&L->mu);
	struct ldir *d = dir_get(L, dir, 0);
	if (d) {
		d->busy--;
		dir_maybe_free(L, d);
	}
	pthread_mutex_unlock(&L->mu);
}
