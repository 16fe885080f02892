#include "users.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "log.h"

/* Maps are small (people, not files): a plain array per kind. */
struct kindmap {
	struct gf_idmap_ent *v;
	size_t n, cap;
};

struct gf_users {
	pthread_mutex_t mu;
	struct kindmap users, groups;
	gf_sink_fn sink;
	void *sink_arg;
};

static struct kindmap *map_of(struct gf_users *u, uint8_t kind)
{
	return kind == GF_IDMAP_USER ? &u->users : kind == GF_IDMAP_GROUP ? &u->groups : NULL;
}

static struct gf_idmap_ent *find_name(struct kindmap *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i].name, name) == 0)
			return &k->v[i];
	return NULL;
}

static struct gf_idmap_ent *find_id(struct kindmap *k, uint32_t id)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->v[i].id == id)
			return &k->v[i];
	return NULL;
}

static struct gf_idmap_ent *append(struct kindmap *k)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		struct gf_idmap_ent *v = realloc(k->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		k->v = v;
		k->cap = cap;
	}
	memset(&k->v[k->n], 0, sizeof(k->v[0]));
	return &k->v[k->n++];
}

static int valid(uint8_t kind, const char *name, uint32_t id)
{
	return (kind == GF_IDMAP_USER || kind == GF_IDMAP_GROUP) &&
	       gf_idmap_check_name(name) == 0 && id != 0 && id != UINT32_MAX;
}

struct gf_users *gf_users_new(void)
{
	struct gf_users *u = calloc(1, sizeof(*u));
	if (u)
		pthread_mutex_init(&u->mu, NULL);
	return u;
}

void gf_users_free(struct gf_users *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->mu);
	free(u->users.v);
	free(u->groups.v);
	free(u);
}

void gf_users_set_sink(struct gf_users *u, gf_sink_fn sink, void *arg)
{
	pthread_mutex_lock(&u->mu);
	u->sink = sink;
	u->sink_arg = arg;
	pthread_mutex_unlock(&u->mu);
}

int gf_users_load(struct gf_users *u, uint8_t kind, const char *name, uint32_t id)
{
	if (!valid(kind, name, id))
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&u->mu);
	struct kindmap *k = map_of(u, kind);
	if (find_name(k, name) || find_id(k, id)) {
		rc = -EEXIST;
	} else {
		struct gf_idmap_ent *e = append(k);
		if (!e) {
			rc = -ENOMEM;
		} else {
			e->kind = kind;
			e->id = id;
			strcpy(e->name, name);
		}
	}
	pthread_mutex_unlock(&u->mu);
	return rc;
}

/* Hand one change (ck 0: none) and the record of once to the sink (caller
 * holds mu). 0 or -ENOMEM. */
static int submit(struct gf_users *u, enum gf_change_kind ck, uint8_t kind, uint32_t id,
		  const char *name, struct gf_once_id *once, uint64_t *ticket)
{
	if (!u->sink)
		return 0;
	struct gf_changes c;
	gf_changes_init(&c);
	if (ck)
		gf_changes_add(&c, ck, kind, id, 0, name, strlen(name), NULL, 0, 0);
	gf_changes_once(&c, once, 0, 0);
	if (c.err) {
		gf_changes_free(&c);
		return -ENOMEM;
	}
	if (!c.n) {
		gf_changes_free(&c);
		return 0;
	}
	*ticket = u->sink(u->sink_arg, &c);
	gf_changes_free(&c);
	return 0;
}

int gf_users_set(struct gf_users *u, const struct gf_cred *cr, uint8_t kind,
		 const char *name, uint32_t id, int replace, struct gf_once_id *once,
		 uint64_t *ticket)
{
	*ticket = 0;
	if (cr->uid != 0)
		return -EPERM;
	if (!valid(kind, name, id))
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&u->mu);
	struct kindmap *k = map_of(u, kind);
	struct gf_idmap_ent *byname = find_name(k, name), *byid = find_id(k, id);
	if (byname && byname == byid) { /* already so */
		rc = submit(u, 0, 0, 0, NULL, once, ticket);
		goto out;
	}
	if (byid || (byname && !replace)) {
		rc = -EEXIST;
		goto out;
	}
	/* reserve the slot first so that a failure leaves memory unchanged */
	struct gf_idmap_ent *e = byname;
	if (!e) {
		e = append(k);
		if (!e) {
			rc = -ENOMEM;
			goto out;
		}
		e->kind = kind;
		strcpy(e->name, name);
	}
	uint32_t old = e->id;
	e->id = id;
	rc = submit(u, GF_CHG_IDMAP_PUT, kind, id, name, once, ticket);
	if (rc) {
		if (byname)
			e->id = old;
		else
			k->n--;
		goto out;
	}
	if (byname)
		gf_info("gfmd: %s %s: id %u → %u", gf_idmap_kind_name(kind), name, old, id);
	else
		gf_info("gfmd: %s %s = %u", gf_idmap_kind_name(kind), name, id);
out:
	pthread_mutex_unlock(&u->mu);
	return rc;
}

int gf_users_del(struct gf_users *u, const struct gf_cred *cr, uint8_t kind,
		 const char *name, struct gf_once_id *once, uint64_t *ticket)
{
	*ticket = 0;
	if (cr->uid != 0)
		return -EPERM;
	if (kind != GF_IDMAP_USER && kind != GF_IDMAP_GROUP)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&u->mu);
	struct kindmap *k = map_of(u, kind);
	struct gf_idmap_ent *e = find_name(k, name);
	if (!e) {
		rc = -ENOENT;
		goto out;
	}
	rc = submit(u, GF_CHG_IDMAP_DEL, kind, e->id, name, once, ticket);
	if (rc)
		goto out;
	gf_info("gfmd: %s %s (%u) removed", gf_idmap_kind_name(kind), name, e->id);
	*e = k->v[--k->n];
out:
	pthread_mutex_unlock(&u->mu);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct gf_idmap_ent *)a)->name,
		      ((const struct gf_idmap_ent *)b)->name);
}

int gf_users_list(struct gf_users *u, struct gf_idmap_ent **out, uint32_t *count)
{
	pthread_mutex_lock(&u->mu);
	size_t n = u->users.n + u->groups.n;
	struct gf_idmap_ent *v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&u->mu);
		return -ENOMEM;
	}
	if (u->users.n)
		memcpy(v, u->users.v, u->users.n * sizeof(*v));
	if (u->groups.n)
		memcpy(v + u->users.n, u->groups.v, u->groups.n * sizeof(*v));
	size_t nu = u->users.n;
	pthread_mutex_unlock(&u->mu);
	if (nu > 1)
		qsort(v, nu, sizeof(*v), by_name);
	if (n - nu > 1)
		qsort(v + nu, n - nu, sizeof(*v), by_name);
	*out = v;
	*count = (uint32_t)n;
	return 0;
}
