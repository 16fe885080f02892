#include "repair.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "replicate.h"
#include "clock.h"

#define NPRIO 4		/* queues by replicas left on up hosts: 0..2, 3+ */
#define PRIO_NEW 2	/* a file just closed (its count is usually short by one) */
#define MAX_JOBS 64

/* ---- a set of inode numbers (open addressing) ---------------------------------------- */

struct iset {
	uint64_t *v; /* 0: empty, UINT64_MAX: removed */
	size_t cap, n, used;
};

static size_t iset_slot(uint64_t ino, size_t cap)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int iset_grow(struct iset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint64_t *v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t x = s->v[i];
		if (x && x != UINT64_MAX) {
			size_t j = iset_slot(x, cap);
			while (v[j])
				j = (j + 1) & (cap - 1);
			v[j] = x;
		}
	}
	free(s->v);
	s->v = v;
	s->cap = cap;
	s->used = s->n;
	return 0;
}

/* 1 added, 0 already there, -ENOMEM. */
static int iset_add(struct iset *s, uint64_t ino)
{
	if ((s->used + 1) * 2 > s->cap && iset_grow(s))
		return -ENOMEM;
	size_t j = iset_slot(ino, s->cap), tomb = SIZE_MAX;
	while (s->v[j]) {
		if (s->v[j] == ino)
			return 0;
		if (s->v[j] == UINT64_MAX && tomb == SIZE_MAX)
			tomb = j;
		j = (j + 1) & (s->cap - 1);
	}
	if (tomb != SIZE_MAX)
		j = tomb;
	else
		s->used++;
	s->v[j] = ino;
	s->n++;
	return 1;
}

static bool iset_has(const struct iset *s, uint64_t ino)
{
	if (!s->cap)
		return false;
	for (size_t j = iset_slot(ino, s->cap); s->v[j]; j = (j + 1) & (s->cap - 1))
		if (s->v[j] == ino)
			return true;
	return false;
}

/* 1 removed, 0 not there. */
static int iset_del(struct iset *s, uint64_t ino)
{
	if (!s->cap)
		return 0;
	size_t j = iset_slot(ino, s->cap);
	while (s->v[j]) {
		if (s->v[j] == ino) {
			s->v[j] = UINT64_MAX;
			s->n--;
			return 1;
		}
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

/* ---- queues ------------------------------------------------------------------------------ */

struct fifo {
	uint64_t *v;
	size_t head, n, cap; /* ring */
};

static int fifo_push(struct fifo *q, uint64_t ino)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		uint64_t *v = malloc(cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = ino;
	q->n++;
	return 0;
}

static uint64_t fifo_pop(struct fifo *q)
{
	uint64_t x = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return x;
}

struct retry {
	uint64_t ino;
	int64_t at_ms;
};

struct hoststate {
	uint32_t host_id;
	bool up;
	bool handled;	  /* its files were queued for this down period */
	int64_t drain_queued; /* monotonic ms its files were last queued for a drain; 0: not */
	int64_t down_since; /* monotonic ms, while down */
};

struct gf_repair {
	struct gfmd *g;
	struct gf_repair_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* workers: a file was queued */
	pthread_cond_t mcv; /* the monitor: stop */
	bool stopping;
	struct fifo q[NPRIO];
	struct iset queued;  /* in a queue */
	struct iset working; /* being worked on now */
	struct iset recheck; /* of those, asked for again meanwhile: queued after */
	struct iset parked;  /* host ids: a file found every replica of it down
			      * on them (its files are queued when it is up) */
	struct retry *retry;
	size_t nretry, capretry;
	struct hoststate *hosts;
	size_t nhosts;
	int64_t started_ms;
	bool looked_all; /* every file looked at once since gfmd started */
	uint64_t made, bytes, failed, removed;
	uint32_t following; /* copies following a writer now (≤ jobs - 1) */
	pthread_t monitor;
	pthread_t workers[MAX_JOBS];
	uint32_t nworkers;
};

static void queue_oom(uint64_t ino)
{
	static struct gf_ratelimit rl = GF_RATELIMIT(5, 60000);
	gf_log_limited(&rl, GF_LOG_ERR, "gfmd: repair: out of memory queueing inode %" PRIu64,
		       ino);
}

/* (mu held) */
static void enqueue_locked(struct gf_repair *r, uint64_t ino, int prio)
{
	if (prio < 0)
		prio = 0;
	if (prio >= NPRIO)
		prio = NPRIO - 1;
	if (iset_has(&r->working, ino)) {
		/* what the worker saw may be old already (a writer's release
		 * while its copy was made): it looks again when done */
		if (iset_add(&r->recheck, ino) < 0)
			queue_oom(ino);
		return;
	}
	int added = iset_add(&r->queued, ino);
	if (added < 0 || (added == 1 && fifo_push(&r->q[prio], ino) < 0)) {
		iset_del(&r->queued, ino);
		queue_oom(ino);
		return;
	}
	if (added == 1)
		pthread_cond_signal(&r->cv);
}

void gf_repair_check(struct gf_repair *r, uint64_t ino, uint32_t want)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	enqueue_locked(r, ino, want > 1 ? PRIO_NEW : NPRIO - 1);
	pthread_mutex_unlock(&r->mu);
}

uint64_t gf_repair_queued(struct gf_repair *r)
{
	pthread_mutex_lock(&r->mu);
	uint64_t n = r->queued.n + r->working.n + r->nretry;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* The counters (repair.h): one copy made (its bytes), returning the copies
 * made so far; one copy failed; one replica removed. */
static uint64_t count_made(struct gf_repair *r, uint64_t bytes)
{
	pthread_mutex_lock(&r->mu);
	r->made++;
	r->bytes += bytes;
	uint64_t made = r->made;
	pthread_mutex_unlock(&r->mu);
	return made;
}

static void count_failed(struct gf_repair *r)
{
	pthread_mutex_lock(&r->mu);
	r->failed++;
	pthread_mutex_unlock(&r->mu);
}

static void count_removed(struct gf_repair *r)
{
	pthread_mutex_lock(&r->mu);
	r->removed++;
	pthread_mutex_unlock(&r->mu);
}

/* (mu held) */
static void retry_after_locked(struct gf_repair *r, uint64_t ino, uint32_t ms)
{
	if (r->nretry == r->capretry) {
		size_t cap = r->capretry ? r->capretry * 2 : 64;
		struct retry *v = realloc(r->retry, cap * sizeof(*v));
		if (!v)
			return;
		r->retry = v;
		r->capretry = cap;
	}
	r->retry[r->nretry++] = (struct retry){ ino, gf_mono_ms() + ms };
}

/* (mu held) */
static void retry_later_locked(struct gf_repair *r, uint64_t ino)
{
	retry_after_locked(r, ino, r->cfg.retry_ms);
}

/* A copy that gfsd refused for a writer gfmd does not count (opened before
 * gfmd restarted; gfmd_replicate's -EAGAIN): looked at again soon, as its
 * release may never be counted here. */
#define REPAIR_WRITER_UNKNOWN_MS 1000
static void retry_soon(struct gf_repair *r, uint64_t ino)
{
	pthread_mutex_lock(&r->mu);
	retry_after_locked(r, ino, REPAIR_WRITER_UNKNOWN_MS);
	pthread_mutex_unlock(&r->mu);
}

static void retry_later(struct gf_repair *r, uint64_t ino)
{
	pthread_mutex_lock(&r->mu);
	retry_later_locked(r, ino);
	pthread_mutex_unlock(&r->mu);
}

/* ---- one file ------------------------------------------------------------------------ */

static int host_up(const struct gf_host_info *hv, uint32_t nh, uint32_t id,
		   uint64_t *free_out)
{
	for (uint32_t i = 0; i < nh; i++)
		if (hv[i].host_id == id) {
			if (free_out)
				*free_out = hv[i].free;
			return hv[i].up != 0;
		}
	return 0;
}

static const char *host_name(const struct gf_host_info *hv, uint32_t nh, uint32_t id)
{
	for (uint32_t i = 0; i < nh; i++)
		if (hv[i].host_id == id)
			return hv[i].name;
	return "?";
}

static int host_draining(const struct gf_host_info *hv, uint32_t nh, uint32_t id)
{
	for (uint32_t i = 0; i < nh; i++)
		if (hv[i].host_id == id)
			return hv[i].draining != 0;
	return 0;
}

/* Replicas of st that count: on up hosts that are not draining. */
static uint32_t count_up(const struct gf_ns_repl_state *st, const struct gf_host_info *hv,
			 uint32_t nh)
{
	uint32_t n = 0;
	for (size_t i = 0; i < st->n; i++)
		n += (uint32_t)(host_up(hv, nh, st->cur[i].host_id, NULL) &&
				!host_draining(hv, nh, st->cur[i].host_id));
	return n;
}

/* Replicas of st on draining hosts. */
static uint32_t count_draining(const struct gf_ns_repl_state *st, const struct gf_host_info *hv,
			       uint32_t nh)
{
	uint32_t n = 0;
	for (size_t i = 0; i < st->n; i++)
		n += (uint32_t)host_draining(hv, nh, st->cur[i].host_id);
	return n;
}

static const struct gf_cred ROOT_CRED = { 0, 0, 0, { 0 } };

/*
 * ino is being written (st): with a count above 1 and only the writer's
 * replica, a copy that follows the writer (replicate.h: GFMD_REP_FOLLOW),
 * if a worker is free for it beside one kept for the rest. 1: look at the
 * file again now (the copy was made, or the writer went meanwhile).
 */
static int follow(struct gf_repair *r, uint64_t ino, struct gf_ns_repl_state *st,
		  const struct gf_host_info *hv, uint32_t nh)
{
	if (st->want < 2 || st->n != 1 || !host_up(hv, nh, st->cur[0].host_id, NULL))
		return 0;
	pthread_mutex_lock(&r->mu);
	int go = r->following + 1 < r->cfg.jobs;
	if (go)
		r->following++;
	pthread_mutex_unlock(&r->mu);
	if (!go)
		return 0; /* the next growth the writer tells asks again */
	uint32_t host = 0;
	uint64_t bytes = 0, t = 0;
	int rc = gfmd_replicate(r->g, &ROOT_CRED, ino, 0, 0, GFMD_REP_FOLLOW, &host, &bytes, &t);
	pthread_mutex_lock(&r->mu);
	r->following--;
	pthread_mutex_unlock(&r->mu);
	if (rc == 0) {
		uint64_t made = count_made(r, bytes);
		gf_info("gfmd: repair: inode %" PRIu64 ": replica 2 of %u made on %s while it was "
			"written (%" PRIu64 " bytes; %" PRIu64 " repairs so far)", ino, st->want,
			host_name(hv, nh, host), bytes, made);
		return 1;
	}
	gf_info("gfmd: repair: inode %" PRIu64 ": no copy while it was written (%s); the copy "
		"after its last close does it", ino, strerror(-rc));
	if (gf_ns_repl_state(r->g->ns, ino, st) == 0 && st->writers == 0)
		return 1; /* closed meanwhile: its release found it being worked on */
	/* still written: its release queues it; in case that came just now
	 * (and found it being worked on), a look later too */
	retry_later(r, ino);
	return 0;
}

/* Work on ino once. Returns 1 to queue it again now, 0 when done. */
static int work(struct gf_repair *r, uint64_t ino)
{
	struct gfmd *g = r->g;
	struct gf_ns_repl_state *st = malloc(sizeof(*st));
	struct gf_host_info *hv = NULL;
	uint32_t nh = 0;
	int again = 0;

	if (!st || gf_ns_repl_state(g->ns, ino, st) < 0 || gf_hosts_list(g->hosts, &hv, &nh) < 0)
		goto out; /* gone, or not a file */
	if (st->writers) {
		/* its last close comes back; a big one is copied meanwhile */
		again = follow(r, ino, st, hv, nh);
		goto out;
	}
	uint32_t nup = count_up(st, hv, nh);
	if (st->n == 0 && st->nstale == 0)
		goto out; /* no data (never written) */
	uint32_t ndrain = count_draining(st, hv, nh);
	if (nup == 0 && ndrain == 0) {
		static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
		gf_log_limited(&rl, GF_LOG_WARN,
			       "gfmd: repair: inode %" PRIu64 ": every replica (%zu) is on a host "
			       "that is down; nothing to copy from until one comes back", ino, st->n);
		/* looked at again when one of them is up, however short its
		 * absence (no "down too long" brings it back then) */
		pthread_mutex_lock(&r->mu);
		for (size_t i = 0; i < st->n; i++)
			if (iset_add(&r->parked, st->cur[i].host_id) < 0)
				retry_later_locked(r, ino);
		pthread_mutex_unlock(&r->mu);
		goto out;
	}
	/* a corrupt replica (GF_GEN_CORRUPT) is replaced: one more copy, and
	 * it goes (unless the copy took its place on its host) */
	for (size_t i = 0; i < st->nstale && nup > 0; i++) {
		if (st->stale[i].gen != GF_GEN_CORRUPT)
			continue;
		uint32_t bad = st->stale[i].host_id, host = 0;
		uint64_t bytes = 0, t = 0;
		int rc = gfmd_replicate(g, &ROOT_CRED, ino, 0, 0, 0, &host, &bytes, &t);
		if (rc == 0) {
			if (host != bad)
				gf_ns_stale_drop(g->ns, ino, bad, &t);
			count_made(r, bytes);
			gf_info("gfmd: repair: inode %" PRIu64 ": corrupt replica on %s replaced by a "
				"copy on %s (%" PRIu64 " bytes)", ino, host_name(hv, nh, bad),
				host_name(hv, nh, host), bytes);
			again = 1;
		} else if (rc == -EAGAIN) {
			retry_soon(r, ino);
		} else if (rc != -EBUSY && rc != -ENOENT) {
			count_failed(r);
			static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
			gf_log_limited(&rl, GF_LOG_WARN,
				       "gfmd: repair: inode %" PRIu64 ": no copy to replace the corrupt "
				       "replica on %s: %s; trying again in %u s", ino,
				       host_name(hv, nh, bad), strerror(-rc), r->cfg.retry_ms / 1000);
			retry_later(r, ino);
		}
		goto out;
	}
	if (nup < st->want) {
		uint32_t host = 0;
		uint64_t bytes = 0, t = 0;
		/* (a host holding a stale replica is preferred: replicate.h) */
		int rc = gfmd_replicate(g, &ROOT_CRED, ino, 0, 0, 0, &host, &bytes, &t);
		if (rc == 0) {
			uint64_t made = count_made(r, bytes);
			gf_info("gfmd: repair: inode %" PRIu64 ": replica %u of %u made on %s "
				"(%" PRIu64 " bytes; %" PRIu64 " repairs so far)", ino, nup + 1,
				st->want, host_name(hv, nh, host), bytes, made);
			again = nup + 1 < st->want || ndrain > 0;
		} else if (rc == -EAGAIN) {
			retry_soon(r, ino);
		} else if (rc != -EBUSY && rc != -ENOENT) {
			count_failed(r);
			static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
			gf_log_limited(&rl, GF_LOG_WARN,
				       "gfmd: repair: inode %" PRIu64 " has %u of %u replicas on up "
				       "hosts; copy failed: %s; trying again in %u s", ino, nup,
				       st->want, strerror(-rc), r->cfg.retry_ms / 1000);
			retry_later(r, ino);
		}
		goto out;
	}
	/* enough current ones: stale replicas (an older generation, left by
	 * a write elsewhere) go */
	for (size_t i = 0; i < st->nstale; i++) {
		uint64_t t = 0;
		uint32_t host = st->stale[i].host_id;
		if (gf_ns_stale_drop(g->ns, ino, host, &t) == 0) {
			count_removed(r);
			gf_info("gfmd: repair: inode %" PRIu64 ": stale replica on %s (generation "
				"%" PRIu64 ") removed; %u current", ino, host_name(hv, nh, host),
				st->stale[i].gen, nup);
		}
	}
	/* enough elsewhere: the replicas on draining hosts go (the drain) */
	for (size_t i = 0; i < st->n && ndrain; i++) {
		uint32_t host = st->cur[i].host_id;
		uint64_t t = 0;
		if (!host_draining(hv, nh, host))
			continue;
		int rc = gf_ns_replica_drop(g->ns, &ROOT_CRED, ino, host, st->want, &t);
		st->cur[i].host_id = 0;
		if (rc == 0) {
			count_removed(r);
			gf_info("gfmd: repair: inode %" PRIu64 ": replica on draining %s removed "
				"(%u elsewhere)", ino, host_name(hv, nh, host), nup);
		} else if (rc != -ENOENT) {
			goto out;
		}
	}
	if (!st->explicit || st->n <= st->want)
		goto out;
	/* too many: those on down hosts first, then the fullest hosts' */
	uint32_t n = 0;
	for (size_t i = 0; i < st->n; i++)
		n += st->cur[i].host_id != 0;
	for (int pass = 0; pass < 2 && n > st->want; pass++) {
		for (;;) {
			int pick = -1;
			uint64_t least = UINT64_MAX;
			for (size_t i = 0; i < st->n; i++) {
				uint64_t fr = 0;
				int up = host_up(hv, nh, st->cur[i].host_id, &fr);
				if (!st->cur[i].host_id || (pass == 0) == up)
					continue;
				if (pass == 0 || fr < least) {
					least = fr;
					pick = (int)i;
				}
			}
			if (pick < 0 || n <= st->want)
				break;
			uint64_t t = 0;
			uint32_t host = st->cur[pick].host_id;
			/* against the count as it is then: this look at the file
			 * may be old (a copy gfrep made meanwhile raised it) */
			int rc = gf_ns_replica_drop(g->ns, &ROOT_CRED, ino, host, GF_NS_KEEP_COUNT,
						    &t);
			st->cur[pick].host_id = 0;
			if (rc == 0) {
				n--;
				count_removed(r);
				gf_info("gfmd: repair: inode %" PRIu64 ": extra replica on %s removed "
					"(%u wanted)", ino, host_name(hv, nh, host), st->want);
			} else if (rc == -EMLINK) {
				goto out; /* at the count (now) */
			} else if (rc != -ENOENT) {
				goto out;
			}
		}
	}
out:
	free(hv);
	free(st);
	return again;
}

static void *worker_main(void *arg)
{
	struct gf_repair *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		int p = 0;
		while (!r->stopping) {
			for (p = 0; p < NPRIO && r->q[p].n == 0; p++)
				;
			if (p < NPRIO)
				break;
			pthread_cond_wait(&r->cv, &r->mu);
		}
		if (r->stopping)
			break;
		uint64_t ino = fifo_pop(&r->q[p]);
		iset_del(&r->queued, ino);
		/* (out of memory: not tracked, as if no look came meanwhile) */
		(void)iset_add(&r->working, ino);
		pthread_mutex_unlock(&r->mu);
		int again = work(r, ino);
		pthread_mutex_lock(&r->mu);
		iset_del(&r->working, ino);
		if (iset_del(&r->recheck, ino))
			enqueue_locked(r, ino, p); /* changed while worked on */
		else if (again)
			enqueue_locked(r, ino, p + 1); /* one more replica now */
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- hosts going down and coming back ----------------------------------------------- */

struct collect {
	uint64_t *v;
	size_t n, cap;
};

static int collect_fn(void *arg, uint64_t ino, uint32_t want)
{
	struct collect *c = arg;
	(void)want;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		uint64_t *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = ino;
	return 0;
}

/* Queue every file with a replica on host_id, by how endangered it is. */
static void queue_host_files(struct gf_repair *r, uint32_t host_id, const char *name,
			     const char *why)
{
	struct collect c = { 0 };
	if (gf_ns_files_on_host(r->g->ns, host_id, collect_fn, &c) < 0) {
		gf_err("gfmd: repair: out of memory listing the files on %s", name);
		free(c.v);
		return;
	}
	struct gf_host_info *hv = NULL;
	uint32_t nh = 0;
	struct gf_ns_repl_state *st = malloc(sizeof(*st));
	if (!st || gf_hosts_list(r->g->hosts, &hv, &nh) < 0) {
		free(st);
		free(c.v);
		return;
	}
	size_t queued = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (gf_ns_repl_state(r->g->ns, c.v[i], st) < 0)
			continue;
		uint32_t nup = count_up(st, hv, nh);
		if (nup >= st->want && (!st->explicit || st->n <= st->want) &&
		    count_draining(st, hv, nh) == 0 && st->nstale == 0)
			continue;
		pthread_mutex_lock(&r->mu);
		enqueue_locked(r, c.v[i], (int)nup);
		pthread_mutex_unlock(&r->mu);
		queued++;
	}
	if (queued || c.n)
		gf_info("gfmd: repair: %s %s: %zu file%s with a replica there, %zu to repair", name,
			why, c.n, c.n == 1 ? "" : "s", queued);
	free(hv);
	free(st);
	free(c.v);
}

static struct hoststate *hoststate(struct gf_repair *r, uint32_t id, int64_t now)
{
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].host_id == id)
			return &r->hosts[i];
	struct hoststate *v = realloc(r->hosts, (r->nhosts + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->hosts = v;
	/* a host gfmd has not heard from yet counts as down since gfmd started */
	v[r->nhosts] = (struct hoststate){ .host_id = id, .up = false, .down_since = r->started_ms };
	(void)now;
	return &v[r->nhosts++];
}

/*
 * Once after gfmd starts, when every host is up (or delay_ms has passed):
 * every file with a replica on an up host is looked at. What was to be done
 * when the last gfmd stopped — copies not made yet, failures waiting for
 * their retry — was in its memory only; the files it concerned are below
 * their count now, and nothing else would bring them back.
 */
static void look_at_all(struct gf_repair *r, const struct gf_host_info *hv, uint32_t nh,
			int64_t now)
{
	uint32_t up = 0;
	for (uint32_t i = 0; i < nh; i++)
		up += hv[i].up != 0;
	if (up < nh && now - r->started_ms < (int64_t)r->cfg.delay_ms)
		return;
	r->looked_all = true;
	for (uint32_t i = 0; i < nh; i++)
		if (hv[i].up)
			queue_host_files(r, hv[i].host_id, hv[i].name, "at gfmd's start");
}

static void *monitor_main(void *arg)
{
	struct gf_repair *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&r->mcv, &r->mu, &until);
		if (r->stopping)
			break;
		int64_t now = gf_mono_ms();
		/* files whose retry is due */
		for (size_t i = 0; i < r->nretry;) {
			if (r->retry[i].at_ms <= now) {
				enqueue_locked(r, r->retry[i].ino, 1);
				r->retry[i] = r->retry[--r->nretry];
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&r->mu);

		struct gf_host_info *hv = NULL;
		uint32_t nh = 0;
		if (gf_hosts_list(r->g->hosts, &hv, &nh) == 0) {
			if (!r->looked_all)
				look_at_all(r, hv, nh, now);
			for (uint32_t i = 0; i < nh; i++) {
				struct hoststate *h = hoststate(r, hv[i].host_id, now);
				if (!h)
					continue;
				if (!hv[i].draining) {
					h->drain_queued = 0;
				} else if (hv[i].up && (h->drain_queued == 0 ||
							now - h->drain_queued >= (int64_t)r->cfg.retry_ms)) {
					/* and again now and then, until it holds nothing */
					h->drain_queued = now;
					queue_host_files(r, h->host_id, hv[i].name, "is draining");
				}
				if (hv[i].up) {
					bool was_handled = h->handled;
					h->up = true;
					h->handled = false;
					pthread_mutex_lock(&r->mu);
					bool was_parked = iset_del(&r->parked, h->host_id);
					pthread_mutex_unlock(&r->mu);
					/* back after it was repaired around: some files
					 * may have too many replicas now; and files whose
					 * every replica was down can be copied again */
					if (was_handled || was_parked)
						queue_host_files(r, h->host_id, hv[i].name,
								 "is back up");
					continue;
				}
				if (h->up) {
					h->up = false;
					h->down_since = now;
				}
				if (!h->handled && now - h->down_since >= (int64_t)r->cfg.delay_ms) {
					h->handled = true;
					queue_host_files(r, h->host_id, hv[i].name,
							 "has been down too long");
				}
			}
			free(hv);
		}
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- life cycle ----------------------------------------------------------------------- */

int gf_repair_start(struct gfmd *g, const struct gf_repair_config *cfg, struct gf_repair **out)
{
	struct gf_repair *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->g = g;
	r->cfg = *cfg;
	if (r->cfg.jobs == 0)
		r->cfg.jobs = 1;
	if (r->cfg.jobs > MAX_JOBS)
		r->cfg.jobs = MAX_JOBS;
	if (r->cfg.retry_ms == 0)
		r->cfg.retry_ms = 30000;
	r->started_ms = gf_mono_ms();
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_cond_init(&r->mcv, NULL);
	if (pthread_create(&r->monitor, NULL, monitor_main, r) != 0) {
		free(r);
		return -EAGAIN;
	}
	for (uint32_t i = 0; i < r->cfg.jobs; i++) {
		if (pthread_create(&r->workers[i], NULL, worker_main, r) != 0)
			break;
		r->nworkers++;
	}
	*out = r;
	return 0;
}

void gf_repair_stop(struct gf_repair *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->cv);
	pthread_cond_broadcast(&r->mcv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->monitor, NULL);
	for (uint32_t i = 0; i < r->nworkers; i++)
		pthread_join(r->workers[i], NULL);
	for (int p = 0; p < NPRIO; p++)
		free(r->q[p].v);
	free(r->queued.v);
	free(r->working.v);
	free(r->recheck.v);
	free(r->parked.v);
	free(r->retry);
	free(r->hosts);
	pthread_cond_destroy(&r->cv);
	pthread_cond_destroy(&r->mcv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
