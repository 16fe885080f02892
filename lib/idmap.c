/*
 * idmap.c — translation of local ids through names (idmap.h).
 *
 * One rwlock guards the map snapshot and the four caches (local→global and
 * global→local, for uids and gids). A translation reads the cache under the
 * read lock; on a cache miss it works the answer out without any lock held
 * except briefly for the map look-up (getpw*_r may be slow), then stores it
 * under the write lock unless the map changed meanwhile (generation check).
 */
#include "idmap.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* ---- names ----------------------------------------------------------------------- */

int gf_idmap_check_name(const char *name)
{
	size_t n = strnlen(name, GF_IDMAP_NAME_MAX + 1);

	if (n == 0 || name[0] == '-')
		return -EINVAL;
	if (n > GF_IDMAP_NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

const char *gf_idmap_kind_name(uint8_t kind)
{
	return kind == GF_IDMAP_USER ? "user" : kind == GF_IDMAP_GROUP ? "group" : "?";
}

/* ---- the system's accounts ------------------------------------------------------------ */

/* getpw*_r / getgr*_r want a scratch buffer whose size nobody can promise. */
#define SCRATCH 4096
#define SCRATCH_MAX (1 << 20)

/* One getpw*_r or getgr*_r call (kind GF_IDMAP_USER or GF_IDMAP_GROUP): by
 * name when name is set, else by id. 0 with the account's name (in buf) and
 * id; ENOENT when there is no such account; else its error (ERANGE: buf is
 * too small). */
static int sys_get(uint8_t kind, const char *name, uint32_t id, char *buf, size_t len,
		   const char **found_name, uint32_t *found_id)
{
	int e;

	if (kind == GF_IDMAP_USER) {
		struct passwd pw, *res = NULL;
		e = name ? getpwnam_r(name, &pw, buf, len, &res)
			 : getpwuid_r((uid_t)id, &pw, buf, len, &res);
		if (!e && res) {
			*found_name = res->pw_name;
			*found_id = (uint32_t)res->pw_uid;
		}
		return e ? e : res ? 0 : ENOENT;
	}
	struct group gr, *res = NULL;
	e = name ? getgrnam_r(name, &gr, buf, len, &res)
		 : getgrgid_r((gid_t)id, &gr, buf, len, &res);
	if (!e && res) {
		*found_name = res->gr_name;
		*found_id = (uint32_t)res->gr_gid;
	}
	return e ? e : res ? 0 : ENOENT;
}

/* An account of the system by name (its id into *id_out) or, when name is
 * NULL, by id (its name into name_out, size bytes). 0, -ENOENT (no such
 * account, or a name too long for name_out) or -ENOMEM. */
static int sys_lookup(uint8_t kind, const char *name, uint32_t id, char *name_out,
		      size_t size, uint32_t *id_out)
{
	char stack[SCRATCH], *buf = stack, *heap = NULL;
	size_t len = sizeof(stack);
	const char *found_name = NULL;
	uint32_t found_id = 0;
	int e, rc = -ENOENT;

	while ((e = sys_get(kind, name, id, buf, len, &found_name, &found_id)) == ERANGE &&
	       len < SCRATCH_MAX) {
		len *= 2;
		free(heap);
		heap = buf = malloc(len);
		if (!buf)
			return -ENOMEM;
	}
	if (!e && name) {
		*id_out = found_id;
		rc = 0;
	} else if (!e && strlen(found_name) < size) {
		strcpy(name_out, found_name);
		rc = 0;
	}
	free(heap);
	return rc;
}

static int sys_uid_name(void *arg, uint32_t uid, char *name, size_t size)
{
	return sys_lookup(GF_IDMAP_USER, NULL, uid, name, size, NULL);
}

static int sys_name_uid(void *arg, const char *name, uint32_t *uid)
{
	return sys_lookup(GF_IDMAP_USER, name, 0, NULL, 0, uid);
}

static int sys_gid_name(void *arg, uint32_t gid, char *name, size_t size)
{
	return sys_lookup(GF_IDMAP_GROUP, NULL, gid, name, size, NULL);
}

static int sys_name_gid(void *arg, const char *name, uint32_t *gid)
{
	return sys_lookup(GF_IDMAP_GROUP, name, 0, NULL, 0, gid);
}

const struct gf_idmap_local gf_idmap_local_system = {
	.uid_name = sys_uid_name,
	.name_uid = sys_name_uid,
	.gid_name = sys_gid_name,
	.name_gid = sys_name_gid,
	.arg = NULL,
};

/* ---- the map: per kind, entries sorted by name and by id ------------------------------- */

struct table {
	struct gf_idmap_ent *by_name; /* owns the entries */
	struct gf_idmap_ent **by_id;  /* points into by_name */
	uint32_t n;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct gf_idmap_ent *)a)->name,
		      ((const struct gf_idmap_ent *)b)->name);
}

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = (*(const struct gf_idmap_ent *const *)a)->id;
	uint32_t y = (*(const struct gf_idmap_ent *const *)b)->id;
	return (x > y) - (x < y);
}

static void table_free(struct table *t)
{
	free(t->by_name);
	free(t->by_id);
	memset(t, 0, sizeof(*t));
}

static const struct gf_idmap_ent *table_name(const struct table *t, const char *name)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, t->by_name[mid].name);
		if (c == 0)
			return &t->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct gf_idmap_ent *table_id(const struct table *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t x = t->by_id[mid]->id;
		if (x == id)
			return t->by_id[mid];
		if (id < x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The valid entries of one kind, first of each name and id kept. */
static int table_build(struct table *t, uint8_t kind, const struct gf_idmap_ent *ents,
		       uint32_t n)
{
	memset(t, 0, sizeof(*t));
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		k += ents[i].kind == kind;
	if (!k)
		return 0;
	t->by_name = calloc(k, sizeof(*t->by_name));
	t->by_id = calloc(k, sizeof(*t->by_id));
	if (!t->by_name || !t->by_id) {
		table_free(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct gf_idmap_ent *e = &ents[i];
		if (e->kind != kind || e->id == 0 || e->id == UINT32_MAX ||
		    memchr(e->name, 0, sizeof(e->name)) == NULL || gf_idmap_check_name(e->name))
			continue;
		/* duplicates: O(n²) but maps are small and this is not the hot path */
		int dup = 0;
		for (uint32_t j = 0; j < t->n && !dup; j++)
			dup = t->by_name[j].id == e->id || strcmp(t->by_name[j].name, e->name) == 0;
		if (dup) {
			gf_warn("idmap: ignoring duplicate %s %s = %u", gf_idmap_kind_name(kind),
				e->name, e->id);
			continue;
		}
		t->by_name[t->n++] = *e;
	}
	if (t->n > 1)
		qsort(t->by_name, t->n, sizeof(*t->by_name), cmp_name);
	for (uint32_t i = 0; i < t->n; i++)
		t->by_id[i] = &t->by_name[i];
	if (t->n > 1)
		qsort(t->by_id, t->n, sizeof(*t->by_id), cmp_id);
	return 0;
}

static int table_same(const struct table *a, const struct table *b)
{
	if (a->n != b->n)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->by_name[i].id != b->by_name[i].id ||
		    strcmp(a->by_name[i].name, b->by_name[i].name) != 0)
			return 0;
	return 1;
}

/* ---- caches: open addressing, id → id ----------------------------------------------------- */

#define CACHE_SLOTS 1024u /* power of two */
#define CACHE_FILL 768u	  /* emptied when this full */

struct slot {
	uint32_t key, val;
	uint8_t used, miss; /* miss: the map did not hold it (refresh on use) */
};

struct cache {
	struct slot *s; /* CACHE_SLOTS, allocated on first store */
	uint32_t n;
};

static uint32_t slot_of(uint32_t key)
{
	return (key * 2654435761u) >> 22; /* 32 - log2(CACHE_SLOTS) */
}

static int cache_get(const struct cache *c, uint32_t key, uint32_t *val, int *miss)
{
	if (!c->s)
		return 0;
	for (uint32_t i = slot_of(key), k = 0; k < CACHE_SLOTS; i = (i + 1) & (CACHE_SLOTS - 1), k++) {
		const struct slot *s = &c->s[i];
		if (!s->used)
			return 0;
		if (s->key == key) {
			*val = s->val;
			*miss = s->miss;
			return 1;
		}
	}
	return 0;
}

static void cache_clear(struct cache *c)
{
	if (c->s && c->n)
		memset(c->s, 0, CACHE_SLOTS * sizeof(*c->s));
	c->n = 0;
}

static void cache_put(struct cache *c, uint32_t key, uint32_t val, int miss)
{
	if (!c->s) {
		c->s = calloc(CACHE_SLOTS, sizeof(*c->s));
		if (!c->s)
			return; /* uncached: slower, still right */
	}
	if (c->n >= CACHE_FILL)
		cache_clear(c);
	for (uint32_t i = slot_of(key);; i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct slot *s = &c->s[i];
		if (s->used && s->key != key)
			continue;
		if (!s->used)
			c->n++;
		*s = (struct slot){ key, val, 1, (uint8_t)(miss != 0) };
		return;
	}
}

/* ---- the object --------------------------------------------------------------------------------- */

enum { C_UID_OUT, C_GID_OUT, C_UID_IN, C_GID_IN, C_COUNT };

struct gf_idmap {
	pthread_rwlock_t lk;
	struct table users, groups;	 /* under lk */
	struct cache caches[C_COUNT];	 /* under lk (write to store) */
	uint64_t gen;			 /* under lk: bumped when the caches go */
	atomic_uint_fast32_t nents;	 /* users.n + groups.n, for the fast path */

	struct gf_idmap_local local;
	gf_idmap_fetch_fn fetch;
	void *fetch_arg;
	int64_t (*now_ms)(void *arg);
	void *now_arg;
	atomic_int refreshing;		 /* one miss refresh at a time */
	atomic_int_fast64_t last_miss_ms; /* when a miss last refreshed */

	atomic_uint_fast64_t refreshes, miss_refreshes, local_lookups, changes;

	pthread_mutex_t tmu; /* the refresh thread */
	pthread_cond_t tcv;
	pthread_t thread;
	int running, stopping;
	uint32_t period_ms;
};

static int64_t mono_ms(void *arg)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct gf_idmap *gf_idmap_new(const struct gf_idmap_local *local,
			      gf_idmap_fetch_fn fetch, void *fetch_arg)
{
	struct gf_idmap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_rwlock_init(&m->lk, NULL);
	pthread_mutex_init(&m->tmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->tcv, &ca);
	pthread_condattr_destroy(&ca);
	m->local = local ? *local : gf_idmap_local_system;
	m->fetch = fetch;
	m->fetch_arg = fetch_arg;
	m->now_ms = mono_ms;
	atomic_init(&m->nents, 0);
	atomic_init(&m->refreshing, 0);
	/* far in the past: the first miss may refresh at once */
	atomic_init(&m->last_miss_ms, INT64_MIN / 2);
	return m;
}

void gf_idmap_free(struct gf_idmap *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->tmu);
	int running = m->running;
	m->stopping = 1;
	pthread_cond_signal(&m->tcv);
	pthread_mutex_unlock(&m->tmu);
	if (running)
		pthread_join(m->thread, NULL);
	table_free(&m->users);
	table_free(&m->groups);
	for (int i = 0; i < C_COUNT; i++)
		free(m->caches[i].s);
	pthread_cond_destroy(&m->tcv);
	pthread_mutex_destroy(&m->tmu);
	pthread_rwlock_destroy(&m->lk);
	free(m);
}

void gf_idmap_set_clock(struct gf_idmap *m, int64_t (*now_ms)(void *arg), void *arg)
{
	m->now_ms = now_ms ? now_ms : mono_ms;
	m->now_arg = arg;
}

/* Caller holds lk for writing. */
static void flush_locked(struct gf_idmap *m)
{
	for (int i = 0; i < C_COUNT; i++)
		cache_clear(&m->caches[i]);
	m->gen++;
}

void gf_idmap_flush(struct gf_idmap *m)
{
	pthread_rwlock_wrlock(&m->lk);
	flush_locked(m);
	pthread_rwlock_unlock(&m->lk);
}

int gf_idmap_set(struct gf_idmap *m, const struct gf_idmap_ent *ents, uint32_t n)
{
	struct table u, g;
	if (table_build(&u, GF_IDMAP_USER, ents, n) < 0)
		return -ENOMEM;
	if (table_build(&g, GF_IDMAP_GROUP, ents, n) < 0) {
		table_free(&u);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&m->lk);
	int changed = !table_same(&u, &m->users) || !table_same(&g, &m->groups);
	if (changed) {
		struct table ou = m->users, og = m->groups;
		m->users = u;
		m->groups = g;
		u = ou;
		g = og;
		flush_locked(m);
		atomic_store(&m->nents, m->users.n + m->groups.n);
	}
	pthread_rwlock_unlock(&m->lk);
	table_free(&u);
	table_free(&g);
	if (changed)
		atomic_fetch_add(&m->changes, 1);
	return changed;
}

int gf_idmap_refresh(struct gf_idmap *m)
{
	struct gf_idmap_ent *ents = NULL;
	uint32_t n = 0;
	if (!m->fetch)
		return 0;
	int rc = m->fetch(m->fetch_arg, &ents, &n);
	if (rc < 0)
		return rc;
	rc = gf_idmap_set(m, ents, n);
	free(ents);
	if (rc >= 0)
		atomic_fetch_add(&m->refreshes, 1);
	return rc;
}

static void *refresher(void *arg)
{
	struct gf_idmap *m = arg;
	pthread_mutex_lock(&m->tmu);
	while (!m->stopping) {
		struct timespec ts = gf_mono_in_ms(m->period_ms);
		int e = 0;
		while (!m->stopping && e != ETIMEDOUT)
			e = pthread_cond_timedwait(&m->tcv, &m->tmu, &ts);
		if (m->stopping)
			break;
		pthread_mutex_unlock(&m->tmu);
		int rc = gf_idmap_refresh(m);
		if (rc == 0)
			gf_idmap_flush(m); /* same map: local accounts may have changed */
		else if (rc < 0)
			gf_debug("idmap: refresh failed: %s", strerror(-rc));
		pthread_mutex_lock(&m->tmu);
	}
	pthread_mutex_unlock(&m->tmu);
	return NULL;
}

int gf_idmap_start(struct gf_idmap *m, uint32_t period_ms)
{
	pthread_mutex_lock(&m->tmu);
	if (m->running) {
		pthread_mutex_unlock(&m->tmu);
		return -EALREADY;
	}
	m->period_ms = period_ms ? period_ms : GF_IDMAP_REFRESH_MS;
	int e = pthread_create(&m->thread, NULL, refresher, m);
	if (!e)
		m->running = 1;
	pthread_mutex_unlock(&m->tmu);
	return -e;
}

uint32_t gf_idmap_count(struct gf_idmap *m, uint8_t kind)
{
	pthread_rwlock_rdlock(&m->lk);
	uint32_t n = kind == GF_IDMAP_USER ? m->users.n : kind == GF_IDMAP_GROUP ? m->groups.n : 0;
	pthread_rwlock_unlock(&m->lk);
	return n;
}

static const struct table *table_of(const struct gf_idmap *m, uint8_t kind)
{
	return kind == GF_IDMAP_USER ? &m->users : kind == GF_IDMAP_GROUP ? &m->groups : NULL;
}

int gf_idmap_find_name(struct gf_idmap *m, uint8_t kind, const char *name, uint32_t *id)
{
	int rc = -ENOENT;
	pthread_rwlock_rdlock(&m->lk);
	const struct table *t = table_of(m, kind);
	const struct gf_idmap_ent *e = t ? table_name(t, name) : NULL;
	if (e) {
		*id = e->id;
		rc = 0;
	}
	pthread_rwlock_unlock(&m->lk);
	return rc;
}

int gf_idmap_find_id(struct gf_idmap *m, uint8_t kind, uint32_t id, char *name, size_t size)
{
	int rc = -ENOENT;
	pthread_rwlock_rdlock(&m->lk);
	const struct table *t = table_of(m, kind);
	const struct gf_idmap_ent *e = t ? table_id(t, id) : NULL;
	if (e && strlen(e->name) < size) {
		strcpy(name, e->name);
		rc = 0;
	}
	pthread_rwlock_unlock(&m->lk);
	return rc;
}

/* ---- translation ------------------------------------------------------------------------------- */

/*
 * A miss: refresh now unless one ran within GF_IDMAP_MISS_MS or another
 * thread is at it. 1 when the map changed (the caller translates again).
 */
static int refresh_on_miss(struct gf_idmap *m)
{
	if (!m->fetch)
		return 0;
	int64_t now = m->now_ms(m->now_arg);
	if (now - atomic_load(&m->last_miss_ms) < GF_IDMAP_MISS_MS)
		return 0;
	int expected = 0;
	if (!atomic_compare_exchange_strong(&m->refreshing, &expected, 1))
		return 0;
	atomic_store(&m->last_miss_ms, now);
	int rc = gf_idmap_refresh(m);
	if (rc >= 0)
		atomic_fetch_add(&m->miss_refreshes, 1);
	atomic_store(&m->refreshing, 0);
	return rc > 0;
}

/*
 * Work out one translation (no lock held on entry). *miss: the map was
 * consulted and did not have it.
 */
static uint32_t compute(struct gf_idmap *m, int which, uint32_t id, int *miss)
{
	char name[256];
	const struct gf_idmap_ent *e;
	uint32_t out = id, found;
	int user = which == C_UID_OUT || which == C_UID_IN;
	const struct table *t;

	*miss = 0;
	if (which == C_UID_OUT || which == C_GID_OUT) {
		atomic_fetch_add(&m->local_lookups, 1);
		int rc = user ? m->local.uid_name(m->local.arg, id, name, sizeof(name))
			      : m->local.gid_name(m->local.arg, id, name, sizeof(name));
		if (rc < 0)
			return id; /* nobody here by that number: as it is */
		pthread_rwlock_rdlock(&m->lk);
		t = user ? &m->users : &m->groups;
		e = table_name(t, name);
		if (e)
			out = e->id;
		else
			*miss = 1;
		pthread_rwlock_unlock(&m->lk);
		return out;
	}
	pthread_rwlock_rdlock(&m->lk);
	t = user ? &m->users : &m->groups;
	e = table_id(t, id);
	if (e)
		memcpy(name, e->name, sizeof(e->name));
	pthread_rwlock_unlock(&m->lk);
	if (!e) {
		*miss = 1;
		return id;
	}
	atomic_fetch_add(&m->local_lookups, 1);
	int rc = user ? m->local.name_uid(m->local.arg, name, &found)
		      : m->local.name_gid(m->local.arg, name, &found);
	return rc < 0 ? id : found; /* a name unknown here: the global id as it is */
}

static uint32_t translate(struct gf_idmap *m, int which, uint32_t id)
{
	if (!m || id == 0 || atomic_load_explicit(&m->nents, memory_order_relaxed) == 0)
		return id;
	for (int round = 0;; round++) {
		uint32_t val;
		int miss, hit;

		pthread_rwlock_rdlock(&m->lk);
		hit = cache_get(&m->caches[which], id, &val, &miss);
		uint64_t gen = m->gen;
		pthread_rwlock_unlock(&m->lk);
		if (!hit) {
			val = compute(m, which, id, &miss);
			pthread_rwlock_wrlock(&m->lk);
			if (m->gen == gen)
				cache_put(&m->caches[which], id, val, miss);
			pthread_rwlock_unlock(&m->lk);
		}
		if (!miss || round > 0 || !refresh_on_miss(m))
			return val;
		if (atomic_load_explicit(&m->nents, memory_order_relaxed) == 0)
			return id;
	}
}

uint32_t gf_idmap_uid_out(struct gf_idmap *m, uint32_t local_uid)
{
	return translate(m, C_UID_OUT, local_uid);
}

uint32_t gf_idmap_gid_out(struct gf_idmap *m, uint32_t local_gid)
{
	return translate(m, C_GID_OUT, local_gid);
}

uint32_t gf_idmap_uid_in(struct gf_idmap *m, uint32_t global_uid)
{
	return translate(m, C_UID_IN, global_uid);
}

uint32_t gf_idmap_gid_in(struct gf_idmap *m, uint32_t global_gid)
{
	return translate(m, C_GID_IN, global_gid);
}

void gf_idmap_cred_out(struct gf_idmap *m, struct gf_cred *cr)
{
	if (!m || atomic_load_explicit(&m->nents, memory_order_relaxed) == 0)
		return;
	cr->uid = translate(m, C_UID_OUT, cr->uid);
	cr->gid = translate(m, C_GID_OUT, cr->gid);
	for (uint32_t i = 0; i < cr->ngroups && i < GF_MAX_GROUPS; i++)
		cr->groups[i] = translate(m, C_GID_OUT, cr->groups[i]);
}

void gf_idmap_get_stats(struct gf_idmap *m, struct gf_idmap_stats *out)
{
	out->refreshes = atomic_load(&m->refreshes);
	out->miss_refreshes = atomic_load(&m->miss_refreshes);
	out->local_lookups = atomic_load(&m->local_lookups);
	out->changes = atomic_load(&m->changes);
}
