/*
 * check_idmap — identities global by name: the client's translation
 * (lib/idmap.c) over a fake account database and a fake gfmd, and gfmd's
 * user and group maps (gfmd/users.c) with a recording sink.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changes.h"
#include "idmap.h"
#include "log.h"
#include "proto.h"
#include "users.h"

/* ---- a fake node: its /etc/passwd and /etc/group ------------------------------------ */

struct account {
	const char *name;
	uint32_t id;
};

/* This node numbers alice 1001 and bob 1002; the cluster says 5001 / 5002. */
static const struct account local_users[] = {
	{ "root", 0 }, { "alice", 1001 }, { "bob", 1002 }, { "dave", 1004 },
};
static const struct account local_groups[] = {
	{ "root", 0 }, { "staff", 50 }, { "alice", 1001 }, { "wheel", 10 },
};
static atomic_int lookups; /* calls into the fake database */

static int find_id(const struct account *v, size_t n, uint32_t id, char *name, size_t size)
{
	atomic_fetch_add(&lookups, 1);
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id && strlen(v[i].name) < size) {
			strcpy(name, v[i].name);
			return 0;
		}
	return -ENOENT;
}

static int find_name(const struct account *v, size_t n, const char *name, uint32_t *id)
{
	atomic_fetch_add(&lookups, 1);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0) {
			*id = v[i].id;
			return 0;
		}
	return -ENOENT;
}

#define NU (sizeof(local_users) / sizeof(local_users[0]))
#define NG (sizeof(local_groups) / sizeof(local_groups[0]))

static int f_uid_name(void *a, uint32_t uid, char *name, size_t size)
{
	return find_id(local_users, NU, uid, name, size);
}
static int f_name_uid(void *a, const char *name, uint32_t *uid)
{
	return find_name(local_users, NU, name, uid);
}
static int f_gid_name(void *a, uint32_t gid, char *name, size_t size)
{
	return find_id(local_groups, NG, gid, name, size);
}
static int f_name_gid(void *a, const char *name, uint32_t *gid)
{
	return find_name(local_groups, NG, name, gid);
}

static const struct gf_idmap_local fake_local = {
	f_uid_name, f_name_uid, f_gid_name, f_name_gid, NULL,
};

/* ---- a fake gfmd: the map it would list, and a clock ---------------------------------- */

static struct gf_idmap_ent server[16];
static uint32_t nserver;
static int server_err;
static atomic_int fetches;
static int64_t clock_ms = 1000000;

static int fake_fetch(void *arg, struct gf_idmap_ent **ents, uint32_t *n)
{
	atomic_fetch_add(&fetches, 1);
	if (server_err)
		return server_err;
	*ents = malloc((nserver ? nserver : 1) * sizeof(**ents));
	if (!*ents)
		return -ENOMEM;
	memcpy(*ents, server, nserver * sizeof(**ents));
	*n = nserver;
	return 0;
}

static int64_t fake_clock(void *arg)
{
	return clock_ms;
}

static void server_put(uint8_t kind, const char *name, uint32_t id)
{
	server[nserver].kind = kind;
	server[nserver].id = id;
	snprintf(server[nserver].name, sizeof(server[nserver].name), "%s", name);
	nserver++;
}

/* The cluster's map: alice 5001, bob 5002, carol 5003 (unknown here);
 * groups staff 7000, ghost 7001 (unknown here). */
static void server_default(void)
{
	nserver = 0;
	server_err = 0;
	server_put(GF_IDMAP_USER, "alice", 5001);
	server_put(GF_IDMAP_USER, "bob", 5002);
	server_put(GF_IDMAP_USER, "carol", 5003);
	server_put(GF_IDMAP_GROUP, "staff", 7000);
	server_put(GF_IDMAP_GROUP, "ghost", 7001);
}

static struct gf_idmap *new_map(void)
{
	server_default();
	atomic_store(&fetches, 0);
	atomic_store(&lookups, 0);
	clock_ms = 1000000;
	struct gf_idmap *m = gf_idmap_new(&fake_local, fake_fetch, NULL);
	ck_assert_ptr_nonnull(m);
	gf_idmap_set_clock(m, fake_clock, NULL);
	return m;
}

/* ---- names ---------------------------------------------------------------------------- */

START_TEST(test_check_name)
{
	char name[GF_IDMAP_NAME_MAX + 2];

	ck_assert_int_eq(gf_idmap_check_name("alice"), 0);
	ck_assert_int_eq(gf_idmap_check_name("a.b_c-D9"), 0);
	ck_assert_int_eq(gf_idmap_check_name("x-"), 0);
	ck_assert_int_eq(gf_idmap_check_name("_svc"), 0);
	ck_assert_int_eq(gf_idmap_check_name(""), -EINVAL);
	ck_assert_int_eq(gf_idmap_check_name("-x"), -EINVAL);
	ck_assert_int_eq(gf_idmap_check_name("a b"), -EINVAL);
	ck_assert_int_eq(gf_idmap_check_name("a/b"), -EINVAL);
	ck_assert_int_eq(gf_idmap_check_name("a:b"), -EINVAL);
	ck_assert_int_eq(gf_idmap_check_name("caf\xc3\xa9"), -EINVAL);
	memset(name, 'n', GF_IDMAP_NAME_MAX);
	name[GF_IDMAP_NAME_MAX] = 0;
	ck_assert_int_eq(gf_idmap_check_name(name), 0);
	name[GF_IDMAP_NAME_MAX] = 'n';
	name[GF_IDMAP_NAME_MAX + 1] = 0;
	ck_assert_int_eq(gf_idmap_check_name(name), -ENAMETOOLONG);
	ck_assert_str_eq(gf_idmap_kind_name(GF_IDMAP_USER), "user");
	ck_assert_str_eq(gf_idmap_kind_name(GF_IDMAP_GROUP), "group");
}
END_TEST

/* ---- translation ------------------------------------------------------------------------ */

START_TEST(test_empty_map_is_identity)
{
	struct gf_idmap *m = new_map();
	struct gf_cred cr = { .uid = 1001, .gid = 50, .ngroups = 2, .groups = { 10, 1001 } };

	/* never fetched: empty */
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 1001);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5001), 5001);
	ck_assert_uint_eq(gf_idmap_gid_out(m, 50), 50);
	ck_assert_uint_eq(gf_idmap_gid_in(m, 7000), 7000);
	gf_idmap_cred_out(m, &cr);
	ck_assert_uint_eq(cr.uid, 1001);
	ck_assert_uint_eq(cr.gid, 50);
	ck_assert_uint_eq(cr.groups[0], 10);
	ck_assert_uint_eq(cr.groups[1], 1001);
	/* the common case costs no account look-up and no fetch */
	ck_assert_int_eq(atomic_load(&lookups), 0);
	ck_assert_int_eq(atomic_load(&fetches), 0);

	/* a NULL map is the identity too */
	ck_assert_uint_eq(gf_idmap_uid_out(NULL, 1001), 1001);
	ck_assert_uint_eq(gf_idmap_gid_in(NULL, 7000), 7000);
	gf_idmap_cred_out(NULL, &cr);
	ck_assert_uint_eq(cr.uid, 1001);
	gf_idmap_free(m);
	gf_idmap_free(NULL);
}
END_TEST

START_TEST(test_translate_by_name)
{
	struct gf_idmap *m = new_map();

	ck_assert_int_eq(gf_idmap_refresh(m), 1);
	ck_assert_uint_eq(gf_idmap_count(m, GF_IDMAP_USER), 3);
	ck_assert_uint_eq(gf_idmap_count(m, GF_IDMAP_GROUP), 2);

	/* out: local id → local name → global id */
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1002), 5002);
	ck_assert_uint_eq(gf_idmap_gid_out(m, 50), 7000);
	/* a local name the map lacks, or no local name: unchanged */
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1004), 1004);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 4242), 4242);
	ck_assert_uint_eq(gf_idmap_gid_out(m, 10), 10);

	/* in: global id → name → local id */
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5001), 1001);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5002), 1002);
	ck_assert_uint_eq(gf_idmap_gid_in(m, 7000), 50);
	/* a name this node does not have: the global id as it is */
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5003), 5003);
	ck_assert_uint_eq(gf_idmap_gid_in(m, 7001), 7001);
	/* an id the map does not hold: unchanged */
	ck_assert_uint_eq(gf_idmap_uid_in(m, 1004), 1004);

	/* root is root everywhere, without asking anyone */
	int before = atomic_load(&lookups);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 0), 0);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 0), 0);
	ck_assert_uint_eq(gf_idmap_gid_out(m, 0), 0);
	ck_assert_uint_eq(gf_idmap_gid_in(m, 0), 0);
	ck_assert_int_eq(atomic_load(&lookups), before);

	/* user and group namespaces are separate: group "alice" is not mapped */
	ck_assert_uint_eq(gf_idmap_gid_out(m, 1001), 1001);

	struct gf_cred cr = { .uid = 1001, .gid = 50, .ngroups = 3, .groups = { 50, 10, 0 } };
	gf_idmap_cred_out(m, &cr);
	ck_assert_uint_eq(cr.uid, 5001);
	ck_assert_uint_eq(cr.gid, 7000);
	ck_assert_uint_eq(cr.ngroups, 3);
	ck_assert_uint_eq(cr.groups[0], 7000);
	ck_assert_uint_eq(cr.groups[1], 10);
	ck_assert_uint_eq(cr.groups[2], 0);

	uint32_t id;
	char name[64];
	ck_assert_int_eq(gf_idmap_find_name(m, GF_IDMAP_USER, "carol", &id), 0);
	ck_assert_uint_eq(id, 5003);
	ck_assert_int_eq(gf_idmap_find_name(m, GF_IDMAP_GROUP, "carol", &id), -ENOENT);
	ck_assert_int_eq(gf_idmap_find_id(m, GF_IDMAP_GROUP, 7001, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "ghost");
	ck_assert_int_eq(gf_idmap_find_id(m, GF_IDMAP_USER, 7001, name, sizeof(name)), -ENOENT);
	gf_idmap_free(m);
}
END_TEST

START_TEST(test_cached)
{
	struct gf_idmap *m = new_map();

	ck_assert_int_eq(gf_idmap_refresh(m), 1);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5001), 1001);
	int n = atomic_load(&lookups);
	ck_assert_int_eq(n, 2);
	for (int i = 0; i < 1000; i++) {
		ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
		ck_assert_uint_eq(gf_idmap_uid_in(m, 5001), 1001);
	}
	ck_assert_int_eq(atomic_load(&lookups), n);

	/* a flush (periodic refresh) asks the account database again */
	gf_idmap_flush(m);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
	ck_assert_int_eq(atomic_load(&lookups), n + 1);

	/* many distinct ids overflow the cache and still translate right */
	for (uint32_t id = 100000; id < 103000; id++)
		ck_assert_uint_eq(gf_idmap_uid_in(m, id), id);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5002), 1002);
	gf_idmap_free(m);
}
END_TEST

START_TEST(test_set_changes_and_invalid_entries)
{
	struct gf_idmap *m = new_map();
	struct gf_idmap_stats st;

	ck_assert_int_eq(gf_idmap_refresh(m), 1);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
	/* the same map again: nothing changes, caches stay */
	int n = atomic_load(&lookups);
	ck_assert_int_eq(gf_idmap_refresh(m), 0);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
	ck_assert_int_eq(atomic_load(&lookups), n);

	/* renumbered: the cache goes with the old map */
	server[0].id = 6001;
	ck_assert_int_eq(gf_idmap_refresh(m), 1);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 6001);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 6001), 1001);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5001), 5001);

	/* rows a map must not hold are ignored: id 0, id -1, bad names, a second
	 * use of a name or of an id, unknown kinds */
	struct gf_idmap_ent v[] = {
		{ GF_IDMAP_USER, 0, "alice" },
		{ GF_IDMAP_USER, UINT32_MAX, "alice" },
		{ GF_IDMAP_USER, 9000, "-alice" },
		{ GF_IDMAP_USER, 9001, "bad name" },
		{ GF_IDMAP_USER, 9002, "bob" },
		{ GF_IDMAP_USER, 9003, "bob" },
		{ GF_IDMAP_USER, 9002, "dave" },
		{ 7, 9004, "alice" },
		{ GF_IDMAP_GROUP, 9002, "staff" },
	};
	ck_assert_int_eq(gf_idmap_set(m, v, sizeof(v) / sizeof(v[0])), 1);
	ck_assert_uint_eq(gf_idmap_count(m, GF_IDMAP_USER), 1);
	ck_assert_uint_eq(gf_idmap_count(m, GF_IDMAP_GROUP), 1);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1002), 9002);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1004), 1004);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 1001);
	ck_assert_uint_eq(gf_idmap_gid_out(m, 50), 9002);

	/* a failed fetch keeps the map */
	server_err = -EIO;
	ck_assert_int_eq(gf_idmap_refresh(m), -EIO);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1002), 9002);

	/* emptied: identity again */
	ck_assert_int_eq(gf_idmap_set(m, NULL, 0), 1);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1002), 1002);
	gf_idmap_get_stats(m, &st);
	ck_assert_uint_eq(st.changes, 4);
	gf_idmap_free(m);
}
END_TEST

START_TEST(test_refresh_on_miss)
{
	struct gf_idmap *m = new_map();
	struct gf_idmap_stats st;

	ck_assert_int_eq(gf_idmap_refresh(m), 1);
	ck_assert_int_eq(atomic_load(&fetches), 1);

	/* dave is added on gfmd; his first request misses and refreshes at once */
	server_put(GF_IDMAP_USER, "dave", 5004);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1004), 5004);
	ck_assert_int_eq(atomic_load(&fetches), 2);
	gf_idmap_get_stats(m, &st);
	ck_assert_uint_eq(st.miss_refreshes, 1);

	/* hits never refresh */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(gf_idmap_uid_out(m, 1001), 5001);
	ck_assert_int_eq(atomic_load(&fetches), 2);

	/* misses refresh at most once per GF_IDMAP_MISS_MS */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(gf_idmap_uid_in(m, 4242), 4242);
	ck_assert_int_eq(atomic_load(&fetches), 2);
	clock_ms += GF_IDMAP_MISS_MS - 1;
	ck_assert_uint_eq(gf_idmap_uid_in(m, 4242), 4242);
	ck_assert_int_eq(atomic_load(&fetches), 2);
	clock_ms += 1;
	ck_assert_uint_eq(gf_idmap_uid_in(m, 4242), 4242);
	ck_assert_int_eq(atomic_load(&fetches), 3);

	/* a cached miss still counts as one: dave removed then re-added with
	 * another id is picked up on the next miss after the interval */
	nserver = 0;
	server_put(GF_IDMAP_USER, "alice", 5001);
	clock_ms += GF_IDMAP_MISS_MS;
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5004), 1004); /* cached, no miss */
	ck_assert_uint_eq(gf_idmap_uid_in(m, 4242), 4242); /* a miss: refresh */
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5004), 5004); /* dave is gone */
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1004), 1004);
	server_put(GF_IDMAP_USER, "dave", 5014);
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1004), 1004); /* too soon */
	clock_ms += GF_IDMAP_MISS_MS;
	ck_assert_uint_eq(gf_idmap_uid_out(m, 1004), 5014);
	ck_assert_uint_eq(gf_idmap_uid_in(m, 5014), 1004);

	/* a local id without a name is no miss (the map is by name) */
	int f = atomic_load(&fetches);
	clock_ms += GF_IDMAP_MISS_MS;
	ck_assert_uint_eq(gf_idmap_uid_out(m, 31337), 31337);
	ck_assert_int_eq(atomic_load(&fetches), f);

	/* without a fetch callback nothing is fetched */
	struct gf_idmap *h = gf_idmap_new(&fake_local, NULL, NULL);
	ck_assert_int_eq(gf_idmap_refresh(h), 0);
	ck_assert_int_eq(gf_idmap_set(h, server, nserver), 1);
	ck_assert_uint_eq(gf_idmap_uid_in(h, 4242), 4242);
	ck_assert_uint_eq(gf_idmap_uid_in(h, 5014), 1004);
	gf_idmap_free(h);
	gf_idmap_free(m);
}
END_TEST

/* The refresh thread picks up changes by itself (polling, never timing). */
START_TEST(test_refresh_thread)
{
	struct gf_idmap *m = new_map();
	struct gf_idmap_stats st;

	gf_idmap_set_clock(m, NULL, NULL);
	ck_assert_int_eq(gf_idmap_start(m, 100), 0);
	ck_assert_int_eq(gf_idmap_start(m, 100), -EALREADY);
	int ok = 0;
	/* up to 30 s: only a guard against a hang (the period is 100 ms) */
	for (int i = 0; i < 3000 && !ok; i++) {
		ok = gf_idmap_count(m, GF_IDMAP_USER) == 3;
		if (!ok)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	ck_assert_msg(ok, "the refresh thread never loaded the map");
	gf_idmap_get_stats(m, &st);
	ck_assert_uint_ge(st.refreshes, 1);
	gf_idmap_free(m); /* joins the thread */
}
END_TEST

/* Readers translating while the map flips between two versions. */
static atomic_int stop_flag;

static void *reader(void *arg)
{
	struct gf_idmap *m = arg;
	long bad = 0;
	while (!atomic_load(&stop_flag)) {
		uint32_t o = gf_idmap_uid_out(m, 1001), i = gf_idmap_uid_in(m, 5001);
		if (o != 5001 && o != 6001)
			bad++;
		if (i != 1001 && i != 5001)
			bad++;
		struct gf_cred cr = { .uid = 1002, .gid = 50, .ngroups = 1, .groups = { 50 } };
		gf_idmap_cred_out(m, &cr);
		if (cr.uid != 5002 || (cr.gid != 7000 && cr.gid != 7100))
			bad++;
	}
	return (void *)bad;
}

START_TEST(test_concurrent)
{
	struct gf_idmap *m = new_map();
	pthread_t t[4];

	ck_assert_int_eq(gf_idmap_refresh(m), 1);
	atomic_store(&stop_flag, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, m), 0);
	struct gf_idmap_ent a[3] = { { GF_IDMAP_USER, 5001, "alice" },
				     { GF_IDMAP_USER, 5002, "bob" },
				     { GF_IDMAP_GROUP, 7000, "staff" } };
	struct gf_idmap_ent b[3] = { { GF_IDMAP_USER, 6001, "alice" },
				     { GF_IDMAP_USER, 5002, "bob" },
				     { GF_IDMAP_GROUP, 7100, "staff" } };
	for (int k = 0; k < 2000; k++) {
		ck_assert_int_eq(gf_idmap_set(m, k % 2 ? a : b, 3), 1);
		if (k % 100 == 0)
			gf_idmap_flush(m);
	}
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		ck_assert_int_eq((long)bad, 0);
	}
	gf_idmap_free(m);
}
END_TEST

/* ---- gfmd's maps ------------------------------------------------------------------------ */

struct recorded {
	enum gf_change_kind kind;
	uint64_t a, b;
	char name[64];
};
static struct recorded rec[64];
static size_t nrec;
static uint64_t last_ticket;

static uint64_t record_sink(void *arg, struct gf_changes *chg)
{
	for (size_t i = 0; i < chg->n && nrec < 64; i++) {
		rec[nrec].kind = chg->v[i].kind;
		rec[nrec].a = chg->v[i].a;
		rec[nrec].b = chg->v[i].b;
		snprintf(rec[nrec].name, sizeof(rec[nrec].name), "%s",
			 chg->v[i].name ? chg->v[i].name : "");
		nrec++;
	}
	gf_changes_free(chg);
	gf_changes_init(chg);
	return ++last_ticket;
}

static const struct gf_cred root_cr = { 0 };
static const struct gf_cred user_cr = { .uid = 1000, .gid = 1000 };

START_TEST(test_users_rules)
{
	struct gf_users *u = gf_users_new();
	uint64_t t;

	nrec = 0;
	gf_users_set_sink(u, record_sink, NULL);

	/* only root */
	ck_assert_int_eq(gf_users_set(u, &user_cr, GF_IDMAP_USER, "alice", 5001, 0, NULL, &t), -EPERM);
	ck_assert_uint_eq(t, 0);
	ck_assert_int_eq(gf_users_del(u, &user_cr, GF_IDMAP_USER, "alice", NULL, &t), -EPERM);
	/* names, ids and kinds */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "-x", 5001, 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "a b", 5001, 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "", 5001, 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "alice", 0, 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "alice", UINT32_MAX, 0, NULL, &t),
			 -EINVAL);
	ck_assert_int_eq(gf_users_set(u, &root_cr, 3, "alice", 5001, 0, NULL, &t), -EINVAL);
	ck_assert_uint_eq(nrec, 0);

	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "alice", 5001, 0, NULL, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(nrec, 1);
	ck_assert_int_eq(rec[0].kind, GF_CHG_IDMAP_PUT);
	ck_assert_uint_eq(rec[0].a, GF_IDMAP_USER);
	ck_assert_uint_eq(rec[0].b, 5001);
	ck_assert_str_eq(rec[0].name, "alice");

	/* the same pair again: nothing to store */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "alice", 5001, 0, NULL, &t), 0);
	ck_assert_uint_eq(t, 0);
	ck_assert_uint_eq(nrec, 1);
	/* the id is alice's; alice has an id */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "bob", 5001, 0, NULL, &t), -EEXIST);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "alice", 5009, 0, NULL, &t), -EEXIST);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "bob", 5001, 1, NULL, &t), -EEXIST);
	ck_assert_uint_eq(nrec, 1);
	/* kinds are separate namespaces */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_GROUP, "alice", 5001, 0, NULL, &t), 0);
	ck_assert_uint_eq(rec[1].a, GF_IDMAP_GROUP);
	/* replace */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "alice", 5009, 1, NULL, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_int_eq(rec[2].kind, GF_CHG_IDMAP_PUT);
	ck_assert_uint_eq(rec[2].b, 5009);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "bob", 5001, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "aaron", 5100, 0, NULL, &t), 0);

	struct gf_idmap_ent *v;
	uint32_t n;
	ck_assert_int_eq(gf_users_list(u, &v, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(v[0].name, "aaron");
	ck_assert_str_eq(v[1].name, "alice");
	ck_assert_uint_eq(v[1].id, 5009);
	ck_assert_str_eq(v[2].name, "bob");
	ck_assert_uint_eq(v[2].id, 5001);
	ck_assert_uint_eq(v[3].kind, GF_IDMAP_GROUP);
	free(v);

	/* delete */
	size_t before = nrec;
	ck_assert_int_eq(gf_users_del(u, &root_cr, GF_IDMAP_USER, "nobody", NULL, &t), -ENOENT);
	ck_assert_int_eq(gf_users_del(u, &root_cr, GF_IDMAP_USER, "alice", NULL, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(nrec, before + 1);
	ck_assert_int_eq(rec[before].kind, GF_CHG_IDMAP_DEL);
	ck_assert_uint_eq(rec[before].b, 5009);
	ck_assert_str_eq(rec[before].name, "alice");
	ck_assert_int_eq(gf_users_del(u, &root_cr, GF_IDMAP_USER, "alice", NULL, &t), -ENOENT);
	/* its id is free again */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "carol", 5009, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_users_list(u, &v, &n), 0);
	ck_assert_uint_eq(n, 4);
	free(v);
	gf_users_free(u);
}
END_TEST

START_TEST(test_users_load)
{
	struct gf_users *u = gf_users_new();
	uint64_t t = 99;

	ck_assert_int_eq(gf_users_load(u, GF_IDMAP_USER, "alice", 5001), 0);
	ck_assert_int_eq(gf_users_load(u, GF_IDMAP_USER, "alice", 5002), -EEXIST);
	ck_assert_int_eq(gf_users_load(u, GF_IDMAP_USER, "bob", 5001), -EEXIST);
	ck_assert_int_eq(gf_users_load(u, GF_IDMAP_GROUP, "alice", 5001), 0);
	ck_assert_int_eq(gf_users_load(u, GF_IDMAP_USER, "b c", 5003), -EINVAL);
	ck_assert_int_eq(gf_users_load(u, GF_IDMAP_USER, "bob", 0), -EINVAL);
	/* no sink: changes are made, nothing to wait for */
	ck_assert_int_eq(gf_users_set(u, &root_cr, GF_IDMAP_USER, "bob", 5002, 0, NULL, &t), 0);
	ck_assert_uint_eq(t, 0);
	struct gf_idmap_ent *v;
	uint32_t n;
	ck_assert_int_eq(gf_users_list(u, &v, &n), 0);
	ck_assert_uint_eq(n, 3);
	free(v);
	gf_users_free(u);
	gf_users_free(NULL);
}
END_TEST

static Suite *idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("client translation");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check_name);
	tcase_add_test(tc, test_empty_map_is_identity);
	tcase_add_test(tc, test_translate_by_name);
	tcase_add_test(tc, test_cached);
	tcase_add_test(tc, test_set_changes_and_invalid_entries);
	tcase_add_test(tc, test_refresh_on_miss);
	tcase_add_test(tc, test_refresh_thread);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);

	tc = tcase_create("gfmd maps");
	tcase_add_test(tc, test_users_rules);
	tcase_add_test(tc, test_users_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	gf_log_init("check_idmap", GF_LOG_ERR); /* the maps log every change */
	SRunner *sr = srunner_create(idmap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
