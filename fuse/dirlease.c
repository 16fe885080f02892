/*
 * dirlease.c — the mount's directory name leases: table, poll thread.
 */
#include "dirlease.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define SLOTS 256u
#define MISS_WINDOW_MS 5000 /* two misses this close ask for a lease */
#define BACKOFF_MS 1000	    /* no lease asked for after a recall or refusal */
#define BUDGET_BYTES (32u << 20) /* the names of every lease held, about */

enum { NONE, ACQUIRING, VALID };

struct nameset {
	char **v;
	uint64_t *h;
	uint32_t cap, n;
	size_t bytes; /* what it takes, about (L.bytes is the sum) */
};

struct slot {
	uint64_t dir;
	int state;
	int spoiled;	/* ACQUIRING: a recall or an own addition came meanwhile */
	uint64_t epoch; /* the poll epoch it was asked in */
	uint64_t gen;
	int64_t asked;	/* gf_mono_ms of the request (grant or renewal) */
	int64_t expiry; /* asked + term */
	uint32_t term_ms;
	int renewing;
	int misses;
	int64_t last_miss, quiet_until;
	struct nameset names;
};

static struct {
	pthread_mutex_t mu;
	struct slot s[SLOTS];
	uint64_t epoch; /* moves when a poll fails: every lease ends */
	int off;	/* gfmd has leases off */
	struct gfc *main, *poll;
	pthread_t thread;
	int running, stop;
	size_t bytes; /* every set's bytes */
	struct gfm_lease_ref *acks;
	uint32_t nacks;
	struct gf_dirlease_stats st;
} L = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h | 1; /* 0 marks a free place */
}

static void names_free(struct nameset *ns)
{
	L.bytes -= ns->bytes;
	for (uint32_t i = 0; i < ns->cap; i++)
		free(ns->v[i]);
	free(ns->v);
	free(ns->h);
	memset(ns, 0, sizeof(*ns));
}

static int names_has(const struct nameset *ns, const char *name)
{
	if (!ns->cap)
		return 0;
	uint64_t h = name_hash(name);
	for (uint32_t i = (uint32_t)h & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
		if (!ns->h[i])
			return 0;
		if (ns->h[i] == h && strcmp(ns->v[i], name) == 0)
			return 1;
	}
}

static int names_put(struct nameset *ns, char *owned, uint64_t h)
{
	if ((ns->n + 1) * 2 > ns->cap) {
		uint32_t cap = ns->cap ? ns->cap * 2 : 64;
		struct nameset g = { .cap = cap };
		g.v = calloc(cap, sizeof(*g.v));
		g.h = calloc(cap, sizeof(*g.h));
		if (!g.v || !g.h) {
			free(g.v);
			free(g.h);
			return -ENOMEM;
		}
		size_t more = (size_t)(cap - ns->cap) * (sizeof(*g.v) + sizeof(*g.h));
		g.bytes = ns->bytes + more;
		L.bytes += more;
		for (uint32_t i = 0; i < ns->cap; i++)
			if (ns->h[i]) {
				uint32_t j = (uint32_t)ns->h[i] & (cap - 1);
				while (g.h[j])
					j = (j + 1) & (cap - 1);
				g.h[j] = ns->h[i];
				g.v[j] = ns->v[i];
				g.n++;
			}
		free(ns->v);
		free(ns->h);
		*ns = g;
	}
	uint32_t i = (uint32_t)h & (ns->cap - 1);
	while (ns->h[i])
		i = (i + 1) & (ns->cap - 1);
	ns->h[i] = h;
	ns->v[i] = owned;
	ns->n++;
	size_t b = strlen(owned) + 1 + 16; /* (malloc's own share, about) */
	ns->bytes += b;
	L.bytes += b;
	return 0;
}

static int names_add(struct nameset *ns, const char *name)
{
	if (names_has(ns, name))
		return 0;
	if (L.bytes > BUDGET_BYTES)
		return -ENOMEM; /* the lease is not kept: lookups ask gfmd */
	char *c = strdup(name);
	if (!c)
		return -ENOMEM;
	int r = names_put(ns, c, name_hash(name));
	if (r)
		free(c);
	return r;
}

static struct slot *slot_of(uint64_t dir)
{
	uint64_t x = dir * 0x9e3779b97f4a7c15ull;
	return &L.s[(x >> 32) % SLOTS];
}

static void slot_drop(struct slot *e)
{
	names_free(&e->names);
	e->state = NONE;
	e->renewing = 0;
}

static int usable(const struct slot *e, uint64_t dir, int64_t now)
{
	return e->dir == dir && e->state == VALID && e->epoch == L.epoch && now < e->expiry;
}

/* ---- asking gfmd ------------------------------------------------------------------ */

static void note_refusal(struct slot *e, uint64_t dir, int r, int64_t now)
{
	if (r == -EOPNOTSUPP) {
		if (!L.off)
			gf_info("gfmd grants no directory leases (lease_ms = 0): every "
				"lookup asks gfmd");
		L.off = 1;
	}
	L.st.refused++;
	if (e->dir == dir) {
		slot_drop(e);
		e->quiet_until = now + BACKOFF_MS;
	}
}

static void renew(const struct gf_cred *cr, uint64_t dir, uint64_t gen)
{
	struct gfm_dir_lease_rep rep;
	char *names = NULL;
	int64_t t0 = gf_mono_ms();
	pthread_mutex_lock(&L.mu);
	uint64_t epoch = L.epoch;
	pthread_mutex_unlock(&L.mu);
	int r = gfc_dir_lease(L.main, cr, dir, gen, &rep, &names);
	pthread_mutex_lock(&L.mu);
	struct slot *e = slot_of(dir);
	if (e->dir == dir && e->state == VALID && e->gen == gen && e->renewing) {
		e->renewing = 0;
		if (r < 0 || e->epoch != epoch || epoch != L.epoch) {
			if (r < 0)
				note_refusal(e, dir, r, gf_mono_ms());
			else
				slot_drop(e);
		} else if (rep.renewed) {
			e->expiry = t0 + rep.term_ms;
			L.st.renewed++;
		} else {
			/* the lease was gone (recalled and its recall not yet
			 * here, or a new gfmd): this is a new one, names and all;
			 * simplest to drop and ask again at the next miss */
			slot_drop(e);
		}
	}
	pthread_mutex_unlock(&L.mu);
	free(names);
}

int gf_dirlease_absent(const struct gf_cred *cr, uint64_t dir, const char *name)
{
	if (!L.running)
		return 0;
	int64_t now = gf_mono_ms();
	pthread_mutex_lock(&L.mu);
	struct slot *e = slot_of(dir);
	int absent = usable(e, dir, now) && !names_has(&e->names, name);
	uint64_t gen = 0;
	if (usable(e, dir, now) && !e->renewing && e->expiry - now < (int64_t)e->term_ms / 2) {
		e->renewing = 1;
		gen = e->gen;
	}
	if (absent)
		L.st.answered++;
	pthread_mutex_unlock(&L.mu);
	if (gen)
		renew(cr, dir, gen);
	return absent;
}

void gf_dirlease_missed(const struct gf_cred *cr, uint64_t dir)
{
	if (!L.running)
		return;
	int64_t now = gf_mono_ms();
	pthread_mutex_lock(&L.mu);
	struct slot *e = slot_of(dir);
	if (e->dir == dir && e->state == VALID && !usable(e, dir, now))
		slot_drop(e); /* ran out, or its poll failed */
	if (L.off || (e->dir == dir && (e->state != NONE || now < e->quiet_until))) {
		pthread_mutex_unlock(&L.mu);
		return;
	}
	if (e->dir != dir) {
		slot_drop(e);
		e->dir = dir;
		e->misses = 0;
		e->quiet_until = 0;
	}
	if (e->misses == 0 || now - e->last_miss > MISS_WINDOW_MS) {
		e->misses = 1;
		e->last_miss = now;
		pthread_mutex_unlock(&L.mu);
		return;
	}
	e->misses = 0;
	e->state = ACQUIRING;
	e->spoiled = 0;
	e->epoch = L.epoch;
	pthread_mutex_unlock(&L.mu);

	struct gfm_dir_lease_rep rep;
	char *names = NULL;
	int r = gfc_dir_lease(L.main, cr, dir, 0, &rep, &names);

	pthread_mutex_lock(&L.mu);
	e = slot_of(dir);
	if (e->dir != dir || e->state != ACQUIRING) {
		/* evicted meanwhile; gfmd's recall of it will be acknowledged */
	} else if (r < 0) {
		note_refusal(e, dir, r, gf_mono_ms());
	} else if (e->spoiled || e->epoch != L.epoch || rep.renewed) {
		slot_drop(e);
		e->quiet_until = gf_mono_ms() + BACKOFF_MS;
	} else {
		int ok = 0;
		for (uint32_t off = 0; off < rep.names_len && ok == 0;) {
			const char *n = rep.names + off;
			ok = names_add(&e->names, n);
			off += (uint32_t)strlen(n) + 1;
		}
		if (ok) {
			slot_drop(e);
		} else {
			e->state = VALID;
			e->gen = rep.gen;
			e->term_ms = rep.term_ms;
			e->asked = now;
			e->expiry = now + rep.term_ms;
			L.st.granted++;
		}
	}
	pthread_mutex_unlock(&L.mu);
	free(names);
}

void gf_dirlease_added(uint64_t dir, const char *name)
{
	if (!L.running)
		return;
	pthread_mutex_lock(&L.mu);
	struct slot *e = slot_of(dir);
	if (e->dir == dir) {
		if (e->state == ACQUIRING)
			e->spoiled = 1;
		else if (e->state == VALID && names_add(&e->names, name) < 0)
			slot_drop(e); /* cannot remember it: no lease */
	}
	pthread_mutex_unlock(&L.mu);
}

/* ---- the poll thread ------------------------------------------------------------- */

static void *poller(void *arg)
{
	(void)arg;
	struct gfm_lease_poll_req *req = calloc(1, sizeof(*req));
	struct gfm_lease_poll_rep *rep = calloc(1, sizeof(*rep));
	unsigned backoff = 50;
	uint64_t client = gfc_client_id(L.main);

	while (req && rep) {
		pthread_mutex_lock(&L.mu);
		if (L.stop) {
			pthread_mutex_unlock(&L.mu);
			break;
		}
		req->client = client;
		req->n = L.nacks < GF_LEASE_POLL_MAX ? L.nacks : GF_LEASE_POLL_MAX;
		if (req->n)
			memcpy(req->refs, L.acks, req->n * sizeof(*req->refs));
		pthread_mutex_unlock(&L.mu);

		int r = gfc_lease_poll(L.poll, req, rep);

		pthread_mutex_lock(&L.mu);
		L.st.polls++;
		if (r < 0) {
			/* whatever gfmd recalled meanwhile cannot reach us: no
			 * lease is trusted any more */
			L.epoch++;
			for (size_t i = 0; i < SLOTS; i++)
				if (L.s[i].state != NONE)
					slot_drop(&L.s[i]);
			L.nacks = 0;
			L.st.poll_failures++;
			if (r == -EOPNOTSUPP)
				L.off = 1;
			int stop = L.stop;
			pthread_mutex_unlock(&L.mu);
			if (stop)
				break;
			/* (gfmd without leases: ask again now and then, it may
			 * be restarted with them) */
			unsigned ms = r == -EOPNOTSUPP ? 30000 : backoff;
			for (unsigned slept = 0; slept < ms && !stop; slept += 100) {
				struct timespec ts = { 0, 100 * 1000000L };
				nanosleep(&ts, NULL);
				pthread_mutex_lock(&L.mu);
				stop = L.stop;
				pthread_mutex_unlock(&L.mu);
			}
			backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
			continue;
		}
		backoff = 50;
		L.off = 0;
		/* the acks sent are done with */
		if (req->n) {
			memmove(L.acks, L.acks + req->n, (L.nacks - req->n) * sizeof(*L.acks));
			L.nacks -= req->n;
		}
		int64_t now = gf_mono_ms();
		for (uint32_t i = 0; i < rep->n; i++) {
			struct slot *e = slot_of(rep->refs[i].dir);
			if (e->dir == rep->refs[i].dir) {
				if (e->state == ACQUIRING)
					e->spoiled = 1;
				else if (e->state == VALID) {
					slot_drop(e);
					L.st.recalled++;
				}
				e->quiet_until = now + BACKOFF_MS;
			}
			struct gfm_lease_ref *v =
				realloc(L.acks, (L.nacks + 1) * sizeof(*L.acks));
			if (v) {
				L.acks = v;
				L.acks[L.nacks++] = rep->refs[i];
			}
		}
		pthread_mutex_unlock(&L.mu);
	}
	free(req);
	free(rep);
	return NULL;
}

int gf_dirlease_start(struct gfc *main, struct gfc *poll)
{
	L.main = main;
	L.poll = poll;
	L.stop = 0;
	int r = pthread_create(&L.thread, NULL, poller, NULL);
	if (r)
		return -r;
	L.running = 1;
	return 0;
}

void gf_dirlease_stop(void)
{
	if (!L.running)
		return;
	pthread_mutex_lock(&L.mu);
	L.stop = 1;
	pthread_mutex_unlock(&L.mu);
	pthread_join(L.thread, NULL);
	pthread_mutex_lock(&L.mu);
	L.running = 0;
	for (size_t i = 0; i < SLOTS; i++)
		slot_drop(&L.s[i]);
	free(L.acks);
	L.acks = NULL;
	L.nacks = 0;
	pthread_mutex_unlock(&L.mu);
}

void gf_dirlease_stats(struct gf_dirlease_stats *out)
{
	int64_t now = gf_mono_ms();
	pthread_mutex_lock(&L.mu);
	*out = L.st;
	out->held = 0;
	for (size_t i = 0; i < SLOTS; i++)
		if (usable(&L.s[i], L.s[i].dir, now))
			out->held++;
	pthread_mutex_unlock(&L.mu);
}
