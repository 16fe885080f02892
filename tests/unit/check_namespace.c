/*
 * check_namespace.c — gfmd's in-memory namespace on its own (no database):
 * every operation and its errors, the permission rules, rename edge cases,
 * readdir cookies under churn, link counts, and the changes handed to the
 * sink.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "namespace.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

static struct gf_ns *ns;
static uint64_t last_ticket;
static size_t nchanges;
static int kinds[32];
static uint64_t stored_counter; /* the highest inode-number counter stored */

/* A sink that counts what it is given. */
static uint64_t test_sink(void *arg, struct gf_changes *c)
{
	(void)arg;
	for (size_t i = 0; i < c->n; i++) {
		nchanges++;
		kinds[c->v[i].kind]++;
		if (c->v[i].kind == GF_CHG_NEXT_INO && c->v[i].a > stored_counter)
			stored_counter = c->v[i].a;
	}
	gf_changes_free(c);
	return ++last_ticket;
}

static const struct gf_cred ROOT = { 0, 0, 0, { 0 } };
static struct gf_cred U1 = { 1000, 1000, 1, { 1000 } };
static struct gf_cred U2 = { 2000, 2000, 2, { 2000, 3000 } };
static struct gf_cred U3 = { 3000, 3000, 0, { 0 } };

static void setup(void)
{
	ns = gf_ns_new();
	ck_assert_ptr_nonnull(ns);
	gf_ns_set_sink(ns, test_sink, NULL);
	uint64_t t = 0;
	stored_counter = 0;
	ck_assert_int_eq(gf_ns_load_finish(ns, &t), 0);
	ck_assert_uint_gt(t, 0);
	nchanges = 0;
	memset(kinds, 0, sizeof(kinds));
}

static void teardown(void)
{
	/* the per-host replica counters agree with the replicas themselves */
	ck_assert_int_eq(gf_ns_check_counts(ns), 0);
	gf_ns_free(ns);
	ns = NULL;
}

/* helpers that assert success and return the inode number */
static uint64_t mkdir_(const struct gf_cred *c, uint64_t parent, const char *name,
		       uint32_t mode)
{
	struct gf_attr a;
	uint64_t t;
	ck_assert_int_eq(gf_ns_mkdir(ns, c, parent, name, mode, 0, &a, NULL, &t), 0);
	ck_assert_uint_gt(t, 0);
	return a.ino;
}

static uint64_t mkfile(const struct gf_cred *c, uint64_t parent, const char *name,
		       uint32_t mode)
{
	struct gf_attr a;
	uint64_t t;
	ck_assert_int_eq(gf_ns_mknod(ns, c, parent, name, S_IFREG | mode, 0, 0, &a, NULL, &t), 0);
	return a.ino;
}

static struct gf_attr attr(uint64_t ino)
{
	struct gf_attr a;
	ck_assert_int_eq(gf_ns_getattr(ns, &ROOT, ino, &a, NULL), 0);
	return a;
}

static int lookup(const struct gf_cred *c, uint64_t parent, const char *name)
{
	struct gf_attr a;
	return gf_ns_lookup(ns, c, parent, name, &a, NULL);
}

static int setattr(const struct gf_cred *c, uint64_t ino, uint32_t valid, uint32_t mode,
		   uint32_t uid, uint32_t gid)
{
	struct gfm_setattr_req r = { .cred = *c, .ino = ino, .valid = valid, .mode = mode,
				     .uid = uid, .gid = gid };
	struct gf_attr a;
	uint64_t t;
	return gf_ns_setattr(ns, &r, &a, &t);
}

static int ts_le(struct gf_timespec a, struct gf_timespec b)
{
	return a.sec < b.sec || (a.sec == b.sec && a.nsec <= b.nsec);
}

/*
 * Wait until the clock the namespace stamps times with (CLOCK_REALTIME) has
 * passed every time of a, so that an operation from now on must give a
 * strictly later time: the condition itself is polled for, rather than
 * sleeping for a guess at the clock's resolution.
 */
static void clock_past(struct gf_attr a)
{
	struct gf_timespec latest = a.atime;
	if (!ts_le(a.mtime, latest))
		latest = a.mtime;
	if (!ts_le(a.ctime, latest))
		latest = a.ctime;
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		struct gf_timespec n = { .sec = now.tv_sec, .nsec = (uint32_t)now.tv_nsec };
		if (!ts_le(n, latest))
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
	}
}

static int place_host;
static int place_calls;
static int test_place(void *arg, const struct gf_ns_replica *have, size_t nhave,
		      uint32_t *host_id)
{
	(void)arg;
	place_calls++;
	if (place_host < 0)
		return -ENOSPC;
	*host_id = (uint32_t)place_host;
	return 0;
}

/* ---- basics ------------------------------------------------------------------ */

START_TEST(test_root)
{
	struct gf_attr a = attr(GF_ROOT_INO);
	ck_assert(S_ISDIR(a.mode));
	ck_assert_uint_eq(a.mode & 07777, 0755);
	ck_assert_uint_eq(a.nlink, 2);
	ck_assert_uint_eq(a.uid, 0);
	ck_assert_int_eq(gf_ns_getattr(ns, &ROOT, 999, &a, NULL), -ENOENT);
	ck_assert_uint_eq(gf_ns_inode_count(ns), 1);
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, GF_ROOT_INO, "..", &a, NULL), 0);
	ck_assert_uint_eq(a.ino, GF_ROOT_INO);
}
END_TEST

START_TEST(test_mkdir_nlink)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0755);
	ck_assert_uint_eq(attr(GF_ROOT_INO).nlink, 3);
	ck_assert_uint_eq(attr(d).nlink, 2);
	mkdir_(&ROOT, d, "a", 0755);
	mkdir_(&ROOT, d, "b", 0755);
	mkfile(&ROOT, d, "f", 0644);
	ck_assert_uint_eq(attr(d).nlink, 4);
	struct gf_attr a;
	uint64_t t;
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, d, "a", 0755, 0, &a, NULL, &t), -EEXIST);
	/* a failed mutation's reply waits for what was issued before it */
	ck_assert_uint_eq(t, last_ticket);
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, 12345, "x", 0755, 0, &a, NULL, &t), -ENOENT);
	uint64_t f = mkfile(&ROOT, d, "f2", 0644);
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, f, "x", 0755, 0, &a, NULL, &t), -ENOTDIR);
	char longname[300];
	memset(longname, 'x', 256);
	longname[256] = 0;
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, d, longname, 0755, 0, &a, NULL, &t), -ENAMETOOLONG);
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, d, "a/b", 0755, 0, &a, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, d, "a", NULL, &t), 0);
	ck_assert_uint_eq(attr(d).nlink, 3);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, d, "f", NULL, &t), -ENOTDIR);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, d, "zz", NULL, &t), -ENOENT);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, GF_ROOT_INO, "d", NULL, &t), -ENOTEMPTY);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, d, ".", NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, "b", NULL, &t), -EISDIR);
}
END_TEST

/* gfsd reports deletions in any order: exactly those are forgotten, the
 * rest stay listed in their order; an empty report changes nothing. */
START_TEST(test_dead_done_many)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "dd", 0777), t;
	struct gf_attr a;
	struct gf_ns_replica rep[1];
	size_t nrep;
	char name[16];
	place_host = 9;
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(gf_ns_create(ns, &ROOT, d, name, 0644, O_CREAT | O_WRONLY, 0,
					      test_place, NULL, &a, rep, &nrep, NULL, &t), 0);
	}
	ck_assert_uint_eq(gf_ns_replica_count(ns, 9), 10);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, name, NULL, &t), 0);
	}
	ck_assert_uint_eq(gf_ns_replica_count(ns, 9), 0);
	struct gf_dead_replica dead[16], rest[16], done[4];
	ck_assert_uint_eq(gf_ns_dead_list(ns, 9, UINT64_MAX, dead, 16), 10);
	ck_assert_int_eq(gf_ns_dead_done(ns, 9, NULL, 0, &t), 0);
	ck_assert_uint_eq(gf_ns_dead_list(ns, 9, UINT64_MAX, rest, 16), 10);
	/* 8, 1, 5 and one that was never dead */
	done[0] = dead[8];
	done[1] = dead[1];
	done[2] = dead[5];
	done[3] = dead[2];
	done[3].gen += 100;
	ck_assert_int_eq(gf_ns_dead_done(ns, 9, done, 4, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(gf_ns_dead_list(ns, 9, UINT64_MAX, rest, 16), 7);
	size_t k = 0;
	for (size_t i = 0; i < 10; i++) {
		if (i == 8 || i == 1 || i == 5)
			continue;
		ck_assert_uint_eq(rest[k].ino, dead[i].ino);
		ck_assert_uint_eq(rest[k].gen, dead[i].gen);
		k++;
	}
	ck_assert_int_eq(gf_ns_dead_done(ns, 9, rest, 7, &t), 0);
	ck_assert_uint_eq(gf_ns_dead_list(ns, 9, UINT64_MAX, rest, 16), 0);
}
END_TEST

static int dirs_has(const struct gfm_dirs *d, uint64_t ino, struct gf_attr *out)
{
	for (uint8_t i = 0; i < d->n; i++)
		if (d->attr[i].ino == ino) {
			if (out)
				*out = d->attr[i];
			return 1;
		}
	return 0;
}

static int dirs_forgets(const struct gfm_dirs *d, uint64_t ino)
{
	for (uint8_t i = 0; i < d->nforget; i++)
		if (d->forget[i] == ino)
			return 1;
	return 0;
}

/* A mutation reports the directories it changed exactly as it left them;
 * a failed one reports nothing; a removed directory is to be forgotten. */
START_TEST(test_capture_dirs)
{
	uint64_t a = mkdir_(&ROOT, GF_ROOT_INO, "a", 0777), b = mkdir_(&ROOT, GF_ROOT_INO, "b", 0777);
	uint64_t sub = mkdir_(&ROOT, a, "sub", 0777), t;
	struct gfm_dirs d;
	struct gf_attr at, got;

	gf_ns_capture_dirs(&d);
	ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, a, "f", S_IFREG | 0644, 0, 0, &at, NULL, &t), 0);
	gf_ns_capture_dirs(NULL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert(dirs_has(&d, a, &got));
	struct gf_attr now = attr(a);
	ck_assert_mem_eq(&got, &now, sizeof(got));
	ck_assert_uint_eq(d.nforget, 0);

	/* a failure: nothing */
	gf_ns_capture_dirs(&d);
	ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, a, "f", S_IFREG | 0644, 0, 0, &at, NULL, &t),
			 -EEXIST);
	gf_ns_capture_dirs(NULL);
	ck_assert_uint_eq(d.n + d.nforget + d.forget_all, 0);

	/* a directory moved between two: both parents and the moved one */
	gf_ns_capture_dirs(&d);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "sub", b, "sub2", 0, NULL, &t), 0);
	gf_ns_capture_dirs(NULL);
	ck_assert_uint_eq(d.n, 3);
	now = attr(a);
	ck_assert(dirs_has(&d, a, &got));
	ck_assert_mem_eq(&got, &now, sizeof(got));
	now = attr(b);
	ck_assert(dirs_has(&d, b, &got));
	ck_assert_mem_eq(&got, &now, sizeof(got));
	ck_assert_uint_eq(got.nlink, 3); /* sub2's ".." */
	ck_assert(dirs_has(&d, sub, NULL));

	/* rmdir: the parent given, the removed one forgotten */
	gf_ns_capture_dirs(&d);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, b, "sub2", NULL, &t), 0);
	gf_ns_capture_dirs(NULL);
	ck_assert(dirs_has(&d, b, &got));
	ck_assert_uint_eq(got.nlink, 2);
	ck_assert(!dirs_has(&d, sub, NULL));
	ck_assert(dirs_forgets(&d, sub));

	/* not captured when nobody asked: the buffer stays as it was */
	memset(&d, 0x5a, sizeof(d));
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, a, "f", NULL, &t), 0);
	ck_assert_uint_eq(d.n, 0x5a);
}
END_TEST

START_TEST(test_create_unlink_times)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	struct gf_attr before = attr(d), a;
	clock_past(before);
	struct gf_ns_replica rep[1];
	size_t nrep;
	uint64_t t;
	place_host = 7;
	ck_assert_int_eq(gf_ns_create(ns, &U1, d, "f", 0644, O_CREAT | O_EXCL | O_WRONLY, 0,
				      test_place, NULL, &a, rep, &nrep, NULL, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(nrep, 1);
	ck_assert_uint_eq(rep[0].host_id, 7);
	ck_assert_uint_eq(rep[0].gen, 1);
	ck_assert_uint_eq(a.gen, 1);
	ck_assert_uint_eq(a.uid, 1000);
	ck_assert_uint_eq(a.gid, 1000);
	ck_assert_uint_eq(a.nlink, 1);
	ck_assert(S_ISREG(a.mode));
	struct gf_attr p = attr(d);
	ck_assert(!ts_le(p.mtime, before.mtime));
	ck_assert(ts_le(p.mtime, p.ctime) && ts_le(p.ctime, p.mtime));
	ck_assert(a.atime.sec == a.mtime.sec && a.mtime.sec == a.ctime.sec);
	ck_assert_uint_eq(gf_ns_replica_count(ns, 7), 1);
	/* O_EXCL on an existing name; without it the file is opened */
	ck_assert_int_eq(gf_ns_create(ns, &U1, d, "f", 0644, O_CREAT | O_EXCL | O_WRONLY, 0,
				      test_place, NULL, &a, rep, &nrep, NULL, &t), -EEXIST);
	ck_assert_int_eq(gf_ns_create(ns, &U1, d, "f", 0644, O_CREAT | O_WRONLY, 0,
				      test_place, NULL, &a, rep, &nrep, NULL, &t), 0);
	ck_assert_uint_eq(nrep, 1);
	ck_assert_uint_eq(gf_ns_replica_count(ns, 7), 1);
	/* no gfsd up */
	place_host = -1;
	ck_assert_int_eq(gf_ns_create(ns, &U1, d, "g", 0644, O_CREAT | O_WRONLY, 0,
				      test_place, NULL, &a, rep, &nrep, NULL, &t), -ENOSPC);
	ck_assert_int_eq(lookup(&U1, d, "g"), -ENOENT);

	before = attr(d);
	clock_past(before);
	ck_assert_int_eq(gf_ns_unlink(ns, &U1, d, "f", NULL, &t), 0);
	ck_assert(!ts_le(attr(d).mtime, before.mtime));
	ck_assert_int_eq(lookup(&U1, d, "f"), -ENOENT);
	ck_assert_int_eq(gf_ns_unlink(ns, &U1, d, "f", NULL, &t), -ENOENT);
	/* its replica is now dead, to be deleted by host 7 */
	struct gf_dead_replica dead[4];
	ck_assert_uint_eq(gf_ns_dead_list(ns, 7, UINT64_MAX, dead, 4), 1);
	ck_assert_uint_eq(dead[0].gen, 1);
	ck_assert_uint_eq(gf_ns_replica_count(ns, 7), 0);
	ck_assert_int_eq(gf_ns_dead_done(ns, 7, dead, 1, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(gf_ns_dead_list(ns, 7, UINT64_MAX, dead, 4), 0);
}
END_TEST

START_TEST(test_changes_recorded)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0755);
	ck_assert_int_eq(kinds[GF_CHG_INODE_PUT], 2); /* new dir, parent */
	ck_assert_int_eq(kinds[GF_CHG_DIRENT_PUT], 1);
	/* the stored counter runs a block (1024) ahead of the numbers handed
	 * out, since the start: not one row per create */
	ck_assert_int_eq(kinds[GF_CHG_NEXT_INO], 0);
	char nm[16];
	for (int i = 0; i < 1100; i++) {
		snprintf(nm, sizeof(nm), "e%d", i);
		mkdir_(&ROOT, d, nm, 0755);
	}
	ck_assert_int_eq(kinds[GF_CHG_NEXT_INO], 1);
	struct gf_attr a;
	struct gf_ns_replica rep[1];
	size_t nrep;
	uint64_t t;
	place_host = 3;
	ck_assert_int_eq(gf_ns_create(ns, &ROOT, d, "f", 0644, O_CREAT | O_WRONLY, 0,
				      test_place, NULL, &a, rep, &nrep, NULL, &t), 0);
	ck_assert_int_eq(kinds[GF_CHG_REPLICA_PUT], 1);
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, "f", NULL, &t), 0);
	ck_assert_int_eq(kinds[GF_CHG_DIRENT_DEL], 1);
	ck_assert_int_eq(kinds[GF_CHG_INODE_DEL], 1);
	ck_assert_int_eq(kinds[GF_CHG_REPLICA_DEL], 1);
	ck_assert_int_eq(kinds[GF_CHG_DEAD_PUT], 1);
	/* a failed operation records nothing */
	size_t before = nchanges;
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, "f", NULL, &t), -ENOENT);
	ck_assert_uint_eq(t, last_ticket); /* its reply waits for what it saw */
	ck_assert_uint_eq(nchanges, before);
}
END_TEST

/* ---- permissions ---------------------------------------------------------------- */

START_TEST(test_permission_classes)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t f = mkfile(&U1, d, "f", 0640);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_GID, 0, 0, 3000), 0);
	/* owner: rw */
	ck_assert_int_eq(gf_ns_access(ns, &U1, f, R_OK | W_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U1, f, X_OK, NULL), -EACCES);
	/* group via supplementary group 3000: r only */
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, R_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, W_OK, NULL), -EACCES);
	/* primary group 3000 */
	ck_assert_int_eq(gf_ns_access(ns, &U3, f, R_OK, NULL), 0);
	/* other: nothing */
	struct gf_cred other = { 4000, 4000, 0, { 0 } };
	ck_assert_int_eq(gf_ns_access(ns, &other, f, R_OK, NULL), -EACCES);
	ck_assert_int_eq(gf_ns_access(ns, &other, f, F_OK, NULL), 0);
	/* owner class decides even when group would allow more */
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0070, 0, 0), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U1, f, R_OK, NULL), -EACCES);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, R_OK | W_OK | X_OK, NULL), 0);
	/* root: anything, but exec needs some x bit */
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0600, 0, 0), 0);
	ck_assert_int_eq(gf_ns_access(ns, &ROOT, f, R_OK | W_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &ROOT, f, X_OK, NULL), -EACCES);
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0601, 0, 0), 0);
	ck_assert_int_eq(gf_ns_access(ns, &ROOT, f, X_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &ROOT, d, X_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U1, f, 0100, NULL), -EINVAL);
}
END_TEST

START_TEST(test_search_and_write_on_dirs)
{
	uint64_t pub = mkdir_(&ROOT, GF_ROOT_INO, "pub", 0777);
	uint64_t d = mkdir_(&U1, pub, "d", 0700);
	mkfile(&U1, d, "f", 0644);
	struct gf_attr a;
	uint64_t t;
	ck_assert_int_eq(lookup(&U2, d, "f"), -EACCES);
	ck_assert_int_eq(lookup(&U1, d, "f"), 0);
	ck_assert_int_eq(lookup(&ROOT, d, "f"), 0);
	ck_assert_int_eq(setattr(&U1, d, GF_SET_MODE, 0711, 0, 0), 0);
	ck_assert_int_eq(lookup(&U2, d, "f"), 0);
	/* search but no write: no create, no unlink */
	ck_assert_int_eq(gf_ns_mknod(ns, &U2, d, "g", S_IFREG | 0644, 0, 0, &a, NULL, &t), -EACCES);
	ck_assert_int_eq(gf_ns_unlink(ns, &U2, d, "f", NULL, &t), -EACCES);
	/* readdir needs read */
	struct gfm_dirent ents[4];
	uint32_t n;
	uint8_t eof;
	ck_assert_int_eq(gf_ns_readdir(ns, &U2, d, 0, 4, ents, &n, &eof, NULL), -EACCES);
	ck_assert_int_eq(gf_ns_readdir(ns, &U1, d, 0, 4, ents, &n, &eof, NULL), 0);
	ck_assert_uint_eq(n, 1);
	/* write without search is not enough either */
	ck_assert_int_eq(setattr(&U1, d, GF_SET_MODE, 0766, 0, 0), 0);
	ck_assert_int_eq(gf_ns_mknod(ns, &U2, d, "g", S_IFREG | 0644, 0, 0, &a, NULL, &t), -EACCES);
	ck_assert_int_eq(setattr(&U1, d, GF_SET_MODE, 0777, 0, 0), 0);
	ck_assert_int_eq(gf_ns_mknod(ns, &U2, d, "g", S_IFREG | 0644, 0, 0, &a, NULL, &t), 0);
	/* devices need root */
	ck_assert_int_eq(gf_ns_mknod(ns, &U2, d, "c", S_IFCHR | 0644, 0x0103, 0, &a, NULL, &t), -EPERM);
	ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, d, "c", S_IFCHR | 0644, 0x0103, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.rdev, 0x0103);
	ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, d, "dd", S_IFDIR | 0755, 0, 0, &a, NULL, &t), -EPERM);
}
END_TEST

START_TEST(test_sticky)
{
	uint64_t pub = mkdir_(&ROOT, GF_ROOT_INO, "pub", 0777);
	uint64_t d = mkdir_(&U3, pub, "tmp", 01777);
	uint64_t t;
	mkfile(&U1, d, "f1", 0666);
	mkfile(&U1, d, "f2", 0666);
	mkfile(&U1, d, "f3", 0666);
	mkfile(&U1, d, "f4", 0666);
	/* another user may not remove or rename it away */
	ck_assert_int_eq(gf_ns_unlink(ns, &U2, d, "f1", NULL, &t), -EPERM);
	ck_assert_int_eq(gf_ns_rename(ns, &U2, d, "f1", d, "x", 0, NULL, &t), -EPERM);
	/* the file owner, the directory owner and root may */
	ck_assert_int_eq(gf_ns_unlink(ns, &U1, d, "f1", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_unlink(ns, &U3, d, "f2", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_rename(ns, &U3, d, "f3", d, "g3", 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, "f4", NULL, &t), 0);
	/* replacing someone else's file in a sticky dir is refused too */
	mkfile(&U1, d, "victim", 0666);
	mkfile(&U2, d, "mine", 0666);
	ck_assert_int_eq(gf_ns_rename(ns, &U2, d, "mine", d, "victim", 0, NULL, &t), -EPERM);
}
END_TEST

START_TEST(test_setgid_dirs)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "shared", 0777);
	ck_assert_int_eq(setattr(&ROOT, d, GF_SET_GID | GF_SET_MODE, 02777, 0, 5000), 0);
	ck_assert_uint_eq(attr(d).mode & 07777, 02777);
	struct gf_attr a;
	uint64_t t;
	/* new file gets the directory's group */
	ck_assert_int_eq(gf_ns_mknod(ns, &U1, d, "f", S_IFREG | 0644, 0, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.gid, 5000);
	ck_assert_uint_eq(a.mode & S_ISGID, 0);
	/* a new subdirectory inherits group and S_ISGID */
	ck_assert_int_eq(gf_ns_mkdir(ns, &U1, d, "sub", 0755, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.gid, 5000);
	ck_assert_uint_eq(a.mode & 07777, 02755);
	/* a set-group-ID file by a non-member loses S_ISGID; a member keeps it */
	ck_assert_int_eq(gf_ns_mknod(ns, &U1, d, "sg", S_IFREG | 02755, 0, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.mode & S_ISGID, 0);
	struct gf_cred member = { 1000, 1000, 2, { 1000, 5000 } };
	ck_assert_int_eq(gf_ns_mknod(ns, &member, d, "sg2", S_IFREG | 02755, 0, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.mode & S_ISGID, S_ISGID);
	ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, d, "sg3", S_IFREG | 02755, 0, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.mode & S_ISGID, S_ISGID);
	/* outside a setgid dir the creator's gid is used */
	ck_assert_int_eq(gf_ns_mknod(ns, &U2, GF_ROOT_INO, "x", S_IFREG | 0644, 0, 0, &a, NULL, &t),
			 -EACCES);
	uint64_t pub = mkdir_(&ROOT, GF_ROOT_INO, "pub", 0777);
	ck_assert_int_eq(gf_ns_mknod(ns, &U2, pub, "x", S_IFREG | 0644, 0, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.gid, 2000);
}
END_TEST

START_TEST(test_chmod_chown_rules)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t f = mkfile(&U2, d, "f", 0644);
	/* chmod: owner or root */
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0777, 0, 0), -EPERM);
	ck_assert_int_eq(setattr(&U2, f, GF_SET_MODE, 0600, 0, 0), 0);
	ck_assert_uint_eq(attr(f).mode & 07777, 0600);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_MODE, 0644, 0, 0), 0);
	/* chown uid: root only (owner may "change" it to itself) */
	ck_assert_int_eq(setattr(&U2, f, GF_SET_UID, 0, 1000, 0), -EPERM);
	ck_assert_int_eq(setattr(&U2, f, GF_SET_UID, 0, 2000, 0), 0);
	ck_assert_int_eq(setattr(&U1, f, GF_SET_UID, 0, 2000, 0), -EPERM);
	/* chgrp: owner to a group they are in */
	ck_assert_int_eq(setattr(&U2, f, GF_SET_GID, 0, 0, 3000), 0);
	ck_assert_uint_eq(attr(f).gid, 3000);
	ck_assert_int_eq(setattr(&U2, f, GF_SET_GID, 0, 0, 4000), -EPERM);
	ck_assert_int_eq(setattr(&U1, f, GF_SET_GID, 0, 0, 1000), -EPERM);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_GID, 0, 0, 4000), 0);
	/* chmod by a non-member of the file's group clears S_ISGID */
	ck_assert_int_eq(setattr(&U2, f, GF_SET_MODE, 02755, 0, 0), 0);
	ck_assert_uint_eq(attr(f).mode & 07777, 0755);
	ck_assert_int_eq(setattr(&U2, f, GF_SET_GID, 0, 0, 3000), 0);
	ck_assert_int_eq(setattr(&U2, f, GF_SET_MODE, 06755, 0, 0), 0);
	ck_assert_uint_eq(attr(f).mode & 07777, 06755);
	/* chown of a file clears set-user-ID, and set-group-ID with group exec */
	ck_assert_int_eq(setattr(&U2, f, GF_SET_GID, 0, 0, 2000), 0);
	ck_assert_uint_eq(attr(f).mode & 07777, 0755);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_MODE, 06745, 0, 0), 0);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_UID, 0, 1000, 0), 0);
	ck_assert_uint_eq(attr(f).mode & 07777, 02745); /* no group exec: S_ISGID stays */
	/* chown keeps the bits of a directory */
	uint64_t sd = mkdir_(&ROOT, d, "sd", 02755);
	ck_assert_int_eq(setattr(&ROOT, sd, GF_SET_UID, 0, 1000, 0), 0);
	ck_assert_uint_eq(attr(sd).mode & 07777, 02755);
	/* ctime moves on chmod */
	struct gf_attr before = attr(f);
	clock_past(before);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_MODE, 0644, 0, 0), 0);
	ck_assert(!ts_le(attr(f).ctime, before.ctime));
}
END_TEST

START_TEST(test_utimens_truncate)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t f = mkfile(&U1, d, "f", 0646);
	struct gfm_setattr_req r = { .ino = f };
	struct gf_attr a;
	uint64_t t;
	/* set to now: owner or anyone with write permission */
	r.cred = U2;
	r.valid = GF_SET_ATIME | GF_SET_ATIME_NOW | GF_SET_MTIME | GF_SET_MTIME_NOW;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0644, 0, 0), 0);
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), -EACCES);
	/* explicit times: owner only */
	r.valid = GF_SET_MTIME;
	r.mtime.sec = 12345;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), -EPERM);
	r.cred = U1;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_int_eq(a.mtime.sec, 12345);
	/* truncate needs write permission */
	r.cred = U2;
	r.valid = GF_SET_SIZE;
	r.size = 10;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), -EACCES);
	r.cred = U1;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_uint_eq(a.size, 10);
	ck_assert_int_gt(a.mtime.sec, 12345);
	r.ino = d;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), -EISDIR);
	r.ino = 9999;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), -ENOENT);
}
END_TEST

/* ---- rename -------------------------------------------------------------------------- */

START_TEST(test_rename_rules)
{
	uint64_t t;
	uint64_t a = mkdir_(&ROOT, GF_ROOT_INO, "a", 0755);
	uint64_t b = mkdir_(&ROOT, GF_ROOT_INO, "b", 0755);
	uint64_t sub = mkdir_(&ROOT, a, "sub", 0755);
	uint64_t f = mkfile(&ROOT, a, "f", 0644);
	mkfile(&ROOT, b, "g", 0644);
	mkdir_(&ROOT, b, "empty", 0755);
	uint64_t full = mkdir_(&ROOT, b, "full", 0755);
	mkfile(&ROOT, full, "x", 0644);

	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "nope", b, "x", 0, NULL, &t), -ENOENT);
	/* file over dir, dir over file */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "f", b, "empty", 0, NULL, &t), -EISDIR);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "sub", b, "g", 0, NULL, &t), -ENOTDIR);
	/* dir over non-empty dir */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "sub", b, "full", 0, NULL, &t), -ENOTEMPTY);
	/* into its own subtree */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, GF_ROOT_INO, "a", sub, "a2", 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, GF_ROOT_INO, "a", a, "a2", 0, NULL, &t), -EINVAL);
	/* NOREPLACE, bad flags */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "f", b, "g", RENAME_NOREPLACE, NULL, &t), -EEXIST);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "f", b, "g",
				      RENAME_NOREPLACE | RENAME_EXCHANGE, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "f", b, "g", 0x100, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "f", b, "new", RENAME_EXCHANGE, NULL, &t), -ENOENT);

	/* dir over empty dir: link counts follow */
	ck_assert_uint_eq(attr(a).nlink, 3);
	ck_assert_uint_eq(attr(b).nlink, 4);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "sub", b, "empty", 0, NULL, &t), 0);
	ck_assert_uint_eq(attr(a).nlink, 2);
	ck_assert_uint_eq(attr(b).nlink, 4);
	struct gf_attr at;
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, b, "empty", &at, NULL), 0);
	ck_assert_uint_eq(at.ino, sub);
	ck_assert_int_eq(lookup(&ROOT, a, "sub"), -ENOENT);
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, sub, "..", &at, NULL), 0);
	ck_assert_uint_eq(at.ino, b);

	/* file over file: the old target is gone */
	uint64_t g = 0;
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, b, "g", &at, NULL), 0);
	g = at.ino;
	struct gf_attr before = attr(f);
	clock_past(before);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "f", b, "g", 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_getattr(ns, &ROOT, g, &at, NULL), -ENOENT);
	ck_assert(!ts_le(attr(f).ctime, before.ctime));
	ck_assert(!ts_le(attr(a).mtime, before.ctime));
	ck_assert(!ts_le(attr(b).mtime, before.ctime));

	/* same inode (two links): nothing happens */
	struct gf_attr l;
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, f, a, "link", &l, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "link", b, "g", 0, NULL, &t), 0);
	ck_assert_int_eq(lookup(&ROOT, a, "link"), 0);
	ck_assert_uint_eq(attr(f).nlink, 2);

	/* exchange a file and a directory across parents */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "link", b, "full", RENAME_EXCHANGE, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, a, "link", &at, NULL), 0);
	ck_assert_uint_eq(at.ino, full);
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, b, "full", &at, NULL), 0);
	ck_assert_uint_eq(at.ino, f);
	ck_assert_uint_eq(attr(a).nlink, 3);
	ck_assert_uint_eq(attr(b).nlink, 3);
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, full, "..", &at, NULL), 0);
	ck_assert_uint_eq(at.ino, a);
	/* exchange a dir with its own ancestor's entry */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, GF_ROOT_INO, "a", a, "link", RENAME_EXCHANGE,
				      NULL, &t), -EINVAL);
	/* rename within a directory */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, a, "link", a, "renamed", 0, NULL, &t), 0);
	ck_assert_uint_eq(attr(a).nlink, 3);
	/* over an ancestor of the source: not empty, whatever the types */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, full, "x", GF_ROOT_INO, "a", 0, NULL, &t), -ENOTEMPTY);
}
END_TEST

START_TEST(test_rename_dir_needs_write_on_itself)
{
	uint64_t t;
	uint64_t p = mkdir_(&ROOT, GF_ROOT_INO, "p", 0777);
	uint64_t q = mkdir_(&ROOT, GF_ROOT_INO, "q", 0777);
	uint64_t d = mkdir_(&U1, p, "d", 0555);
	(void)d;
	/* moving to another parent rewrites "..": needs write on the dir */
	ck_assert_int_eq(gf_ns_rename(ns, &U1, p, "d", q, "d", 0, NULL, &t), -EACCES);
	ck_assert_int_eq(gf_ns_rename(ns, &U1, p, "d", p, "e", 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, p, "e", q, "d", 0, NULL, &t), 0);
	/* no write on the source directory */
	uint64_t ro = mkdir_(&ROOT, GF_ROOT_INO, "ro", 0755);
	mkfile(&ROOT, ro, "f", 0666);
	ck_assert_int_eq(gf_ns_rename(ns, &U1, ro, "f", q, "f", 0, NULL, &t), -EACCES);
}
END_TEST

/* ---- links, symlinks ------------------------------------------------------------------ */

START_TEST(test_link_symlink)
{
	struct gf_attr a;
	uint64_t t;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0755);
	uint64_t f = mkfile(&ROOT, d, "f", 0644);
	struct gf_attr before = attr(f);
	clock_past(before);
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, f, d, "f2", &a, NULL, &t), 0);
	ck_assert_uint_eq(a.nlink, 2);
	ck_assert(!ts_le(a.ctime, before.ctime));
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, f, d, "f2", &a, NULL, &t), -EEXIST);
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, d, GF_ROOT_INO, "dl", &a, NULL, &t), -EPERM);
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, 4242, d, "x", &a, NULL, &t), -ENOENT);
	ck_assert_int_eq(gf_ns_link(ns, &U1, f, d, "x", &a, NULL, &t), -EACCES);
	/* unlink one name: the inode stays with the other, ctime moves */
	before = attr(f);
	clock_past(before);
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, "f", NULL, &t), 0);
	ck_assert_uint_eq(attr(f).nlink, 1);
	ck_assert(!ts_le(attr(f).ctime, before.ctime));
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, "f2", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_getattr(ns, &ROOT, f, &a, NULL), -ENOENT);

	ck_assert_int_eq(gf_ns_symlink(ns, &U1, d, "s", "../x/y", &a, NULL, &t), -EACCES);
	ck_assert_int_eq(gf_ns_symlink(ns, &ROOT, d, "s", "../x/y", &a, NULL, &t), 0);
	ck_assert(S_ISLNK(a.mode));
	ck_assert_uint_eq(a.size, 6);
	char buf[GF_PATH_MAX];
	ck_assert_int_eq(gf_ns_readlink(ns, &ROOT, a.ino, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "../x/y");
	ck_assert_int_eq(gf_ns_readlink(ns, &ROOT, d, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(gf_ns_symlink(ns, &ROOT, d, "e", "", &a, NULL, &t), -ENOENT);
	ck_assert_int_eq(gf_ns_symlink(ns, &ROOT, d, "s", "z", &a, NULL, &t), -EEXIST);
}
END_TEST

START_TEST(test_emlink)
{
	struct gf_attr a;
	uint64_t t;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0755);
	uint64_t f = mkfile(&ROOT, d, "f", 0644);
	char name[32];
	for (int i = 1; i < GF_LINK_MAX; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		ck_assert_int_eq(gf_ns_link(ns, &ROOT, f, d, name, &a, NULL, &t), 0);
	}
	ck_assert_uint_eq(attr(f).nlink, GF_LINK_MAX);
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, f, d, "one-more", &a, NULL, &t), -EMLINK);
}
END_TEST

/* ---- xattrs ------------------------------------------------------------------------------ */

START_TEST(test_xattrs)
{
	uint64_t t;
	size_t len;
	char buf[64];
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t f = mkfile(&U1, d, "f", 0644);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "user.a", "hello", 5, 0, NULL, &t), 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "user.a", "x", 1, 1 /* CREATE */, NULL, &t),
			 -EEXIST);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "user.b", "x", 1, 2 /* REPLACE */, NULL, &t),
			 -ENODATA);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "user.b", "", 0, 1, NULL, &t), 0);
	/* security.*: written by root only, read by all; system.* other than
	 * the POSIX ACLs does not exist */
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "security.x", "x", 1, 0, NULL, &t), -EPERM);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, f, "security.x", "s", 1, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U2, f, "security.x", buf, sizeof(buf), &len, NULL), 0);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, f, "system.x", "x", 1, 0, NULL, &t), -EOPNOTSUPP);
	ck_assert_int_eq(gf_ns_removexattr(ns, &ROOT, f, "security.x", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "trusted.x", "x", 1, 0, NULL, &t), -EPERM);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, f, "trusted.x", "t", 1, 0, NULL, &t), 0);
	/* others need write permission */
	ck_assert_int_eq(gf_ns_setxattr(ns, &U2, f, "user.c", "x", 1, 0, NULL, &t), -EACCES);
	/* size 0 asks the length; too small a buffer is ERANGE */
	ck_assert_int_eq(gf_ns_getxattr(ns, &U2, f, "user.a", NULL, 0, &len, NULL), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U2, f, "user.a", buf, 3, &len, NULL), -ERANGE);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U2, f, "user.a", buf, sizeof(buf), &len, NULL), 0);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U2, f, "user.zz", buf, sizeof(buf), &len, NULL), -ENODATA);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U2, f, "trusted.x", buf, sizeof(buf), &len, NULL),
			 -ENODATA);
	ck_assert_int_eq(gf_ns_getxattr(ns, &ROOT, f, "trusted.x", buf, sizeof(buf), &len, NULL), 0);
	/* list hides trusted.* from non-root */
	ck_assert_int_eq(gf_ns_listxattr(ns, &U2, f, NULL, 0, &len, NULL), 0);
	ck_assert_uint_eq(len, strlen("user.a") + 1 + strlen("user.b") + 1);
	ck_assert_int_eq(gf_ns_listxattr(ns, &U2, f, buf, 4, &len, NULL), -ERANGE);
	ck_assert_int_eq(gf_ns_listxattr(ns, &ROOT, f, buf, sizeof(buf), &len, NULL), 0);
	ck_assert_uint_eq(len, 7 + 7 + 10);
	ck_assert_int_eq(gf_ns_removexattr(ns, &U1, f, "user.a", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_removexattr(ns, &U1, f, "user.a", NULL, &t), -ENODATA);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "", "x", 1, 0, NULL, &t), -ERANGE);
	char big[10];
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, "user.big", big, GF_XATTR_SIZE_MAX + 1, 0,
					NULL, &t), -E2BIG);
	/* user.* is for regular files and directories only */
	struct gf_attr a;
	ck_assert_int_eq(gf_ns_symlink(ns, &U1, d, "s", "f", &a, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, a.ino, "user.a", "x", 1, 0, NULL, &t), -EPERM);
}
END_TEST

/* ---- open, close_write ------------------------------------------------------------------- */

START_TEST(test_open_close_write)
{
	struct gf_attr a;
	struct gf_ns_replica reps[8];
	size_t n;
	uint64_t t;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t f = mkfile(&U1, d, "f", 0644);
	place_host = 2;
	ck_assert_int_eq(gf_ns_open(ns, &U2, f, O_RDONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t), 0);
	ck_assert_uint_eq(n, 0); /* no data yet */
	ck_assert_int_eq(gf_ns_open(ns, &U2, f, O_WRONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t),
			 -EACCES);
	ck_assert_int_eq(gf_ns_open(ns, &U2, f, O_RDONLY | O_TRUNC, test_place, NULL, &a, reps, 8,
				    &n, NULL, &t), -EACCES);
	ck_assert_int_eq(gf_ns_open(ns, &U1, d, O_WRONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t),
			 -EISDIR);
	ck_assert_int_eq(gf_ns_open(ns, &U1, 777, O_RDONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t),
			 -ENOENT);
	/* the first writer gets a replica, made in a new generation */
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_RDWR, test_place, NULL, &a, reps, 8, &n, NULL, &t), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(reps[0].host_id, 2);
	ck_assert_uint_eq(a.gen, 2);
	ck_assert_uint_eq(reps[0].gen, 2);
	ck_assert_uint_eq(reps[0].fgen, 2);
	struct gf_timespec mt = { 5000, 7 };
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 2, 4096, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(a.size, 4096);
	ck_assert_int_eq(a.mtime.sec, 5000);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 99, 4096, mt, GF_CW_MTIME, 0, &a, &t),
			 -ESTALE);
	ck_assert_int_eq(gf_ns_close_write(ns, &U2, f, 2, 1, mt, GF_CW_MTIME, 0, &a, &t), -EACCES);
	/* without GF_CW_MTIME the mtime stays (it was set after the writes) */
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 2, 100, (struct gf_timespec){ 9, 9 }, 0, 0,
					   &a, &t), 0);
	ck_assert_int_eq(a.mtime.sec, 5000);
	ck_assert_uint_eq(a.size, 4096); /* max(size, end) */
	/* st_blocks: as the writer measured it, only with GF_CW_BLOCKS */
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 2, 0, mt, GF_CW_BLOCKS, 24, &a, &t), 0);
	ck_assert_uint_eq(a.blocks, 24);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 2, 0, mt, 0, 99, &a, &t), 0);
	ck_assert_uint_eq(a.blocks, 24);
	/* fdatasync's: a size that covers end changes nothing (no ticket, the
	 * attributes as they were, mtime and blocks not taken); a size short
	 * of end is made to cover it, as without the flag */
	struct gf_attr before = a;
	t = 7;
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 2, 4096, (struct gf_timespec){ 6000, 1 },
					   GF_CW_DATASYNC | GF_CW_MTIME | GF_CW_BLOCKS, 99, &a, &t), 0);
	ck_assert_uint_eq(t, 0);
	ck_assert_uint_eq(a.size, 4096);
	ck_assert_int_eq(a.mtime.sec, before.mtime.sec);
	ck_assert_int_eq(a.ctime.sec, before.ctime.sec);
	ck_assert_int_eq(a.ctime.nsec, before.ctime.nsec);
	ck_assert_uint_eq(a.blocks, 24);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 99, 10, mt, GF_CW_DATASYNC, 0, &a, &t),
			 -ESTALE);
	ck_assert_int_eq(gf_ns_close_write(ns, &U2, f, 2, 10, mt, GF_CW_DATASYNC, 0, &a, &t),
			 -EACCES);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, 2, 5000, (struct gf_timespec){ 6000, 1 },
					   GF_CW_DATASYNC | GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(a.size, 5000);
	ck_assert_int_eq(a.mtime.sec, 6000);
	ck_assert_uint_gt(t, 0);
	struct gfm_setattr_req sr0 = { .cred = U1, .ino = f, .valid = GF_SET_SIZE, .size = 4096 };
	ck_assert_int_eq(gf_ns_setattr(ns, &sr0, &a, &t), 0);
	/* a truncate leaves at most the blocks of the new size */
	struct gfm_setattr_req sr = { .cred = U1, .ino = f, .valid = GF_SET_SIZE, .size = 100 };
	ck_assert_int_eq(gf_ns_setattr(ns, &sr, &a, &t), 0);
	ck_assert_uint_eq(a.blocks, 8);
	sr.size = 4096;
	ck_assert_int_eq(gf_ns_setattr(ns, &sr, &a, &t), 0);
	ck_assert_uint_eq(a.blocks, 8);
	/* readers see the replica */
	ck_assert_int_eq(gf_ns_open(ns, &U2, f, O_RDONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t), 0);
	ck_assert_uint_eq(n, 1);
	/* a write by a non-root clears set-user-ID */
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 06777, 0, 0), 0);
	ck_assert_int_eq(gf_ns_close_write(ns, &U2, f, 2, 10, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 00777);
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 06767, 0, 0), 0);
	ck_assert_int_eq(gf_ns_close_write(ns, &ROOT, f, 2, 10, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 06767);
	/* O_TRUNC empties it, in a new generation, in place */
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY | O_TRUNC, test_place, NULL, &a, reps, 8,
				    &n, NULL, &t), 0);
	ck_assert_uint_eq(a.size, 0);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_eq(reps[0].fgen, 2);
	ck_assert_uint_eq(reps[0].gen, a.gen);
	/* a replica of an old generation elsewhere dies at the next write-open */
	ck_assert_int_eq(gf_ns_load_replica(ns, f, 5, 1, 1), 0);
	ck_assert_uint_eq(gf_ns_replica_count(ns, 5), 1);
	ck_assert_int_eq(gf_ns_open(ns, &U2, f, O_RDONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t), 0);
	ck_assert_uint_eq(n, 1); /* not served: it is not current */
	ck_assert_uint_eq(reps[0].host_id, 2);
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY, test_place, NULL, &a, reps, 8, &n, NULL, &t), 0);
	ck_assert_uint_eq(reps[0].host_id, 2);
	ck_assert_uint_eq(gf_ns_replica_count(ns, 5), 0);
	struct gf_dead_replica dead[2];
	ck_assert_uint_eq(gf_ns_dead_list(ns, 5, UINT64_MAX, dead, 2), 1);
	ck_assert_uint_eq(dead[0].gen, 1);
}
END_TEST

/* ---- generations, the size rule, visibility --------------------------------------------- */

/* A file with data on host 2: its inode. */
static uint64_t file_with_data(uint64_t size, uint64_t *fgen)
{
	struct gf_attr a;
	struct gf_ns_replica reps[4];
	size_t n;
	uint64_t t;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "pub", 0777);
	uint64_t f = mkfile(&U1, d, "data", 0666);
	place_host = 2;
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY, test_place, NULL, &a, reps, 4, &n, NULL, &t), 0);
	*fgen = reps[0].fgen;
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, *fgen, size, a.mtime, 0, 0, &a, &t), 0);
	return f;
}

START_TEST(test_generations)
{
	uint64_t fgen, t;
	struct gf_attr a;
	struct gf_ns_replica reps[4];
	size_t n;
	uint64_t f = file_with_data(100, &fgen);
	uint64_t g = attr(f).gen;
	/* every write-open makes a new generation; the replica file stays */
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY, test_place, NULL, &a, reps, 4, &n, NULL, &t), 0);
	ck_assert_uint_eq(a.gen, g + 1);
	ck_assert_uint_eq(reps[0].gen, g + 1);
	ck_assert_uint_eq(reps[0].fgen, fgen);
	/* a read-open does not */
	ck_assert_int_eq(gf_ns_open(ns, &U2, f, O_RDONLY, test_place, NULL, &a, reps, 4, &n, NULL, &t), 0);
	ck_assert_uint_eq(a.gen, g + 1);
	/* a truncate does, in place */
	struct gfm_setattr_req r = { .cred = U1, .ino = f, .valid = GF_SET_SIZE, .size = 10 };
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_uint_eq(a.gen, g + 2);
	ck_assert_int_eq(gf_ns_replicas(ns, f, 1, reps, 4, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(reps[0].gen, g + 2);
	ck_assert_uint_eq(reps[0].fgen, fgen);
	/* the data is on host 2 only: a writer cannot move it while host 2 is
	 * down (placement chooses another host), unless O_TRUNC empties it */
	place_host = 3;
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY, test_place, NULL, &a, reps, 4, &n, NULL, &t),
			 -EIO);
	ck_assert_uint_eq(attr(f).gen, g + 2); /* a failed open changed nothing */
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY | O_TRUNC, test_place, NULL, &a, reps, 4,
				    &n, NULL, &t), 0);
	ck_assert_uint_eq(reps[0].host_id, 3);
	ck_assert_uint_eq(reps[0].fgen, g + 3); /* a new file: a name never used */
	ck_assert_uint_eq(a.size, 0);
	/* host 2's replica is stale: kept (not current, never served) until the
	 * repair refreshes or removes it */
	struct gf_dead_replica dead[2];
	ck_assert_uint_eq(gf_ns_dead_list(ns, 2, UINT64_MAX, dead, 2), 0);
	ck_assert_int_eq(gf_ns_replicas(ns, f, 0, reps, 4, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(reps[0].host_id, 3);
	ck_assert_int_eq(gf_ns_replicas(ns, f, 1, reps, 4, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	struct gf_ns_repl_state *st = malloc(sizeof(*st));
	ck_assert_int_eq(gf_ns_repl_state(ns, f, st), 0);
	ck_assert_uint_eq(st->n, 1);
	ck_assert_uint_eq(st->nstale, 1);
	ck_assert_uint_eq(st->stale[0].host_id, 2);
	ck_assert_uint_eq(st->stale[0].fgen, fgen);
	free(st);
	/* a writer may not publish to it */
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 5, a.mtime, 0, 0, &a, &t), -ESTALE);
	/* the last writer's close asks for the repair (stale replicas) */
	uint32_t want = 0;
	for (int i = 0; i < 10 && want == 0; i++)
		want = gf_ns_writer_done(ns, f);
	ck_assert_uint_eq(want, 1);
	ck_assert_int_eq(gf_ns_stale_drop(ns, f, 3, &t), -ENOENT); /* current there */
	ck_assert_int_eq(gf_ns_stale_drop(ns, f, 2, &t), 0);
	ck_assert_uint_eq(gf_ns_dead_list(ns, 2, UINT64_MAX, dead, 2), 1);
	ck_assert_uint_eq(dead[0].gen, fgen);
}
END_TEST

/* Issue 6 point 3: a failed mutation changes nothing — O_TRUNC with nowhere
 * to write leaves size, times and generation as they were. */
START_TEST(test_failed_open_changes_nothing)
{
	uint64_t fgen, t;
	struct gf_attr a;
	struct gf_ns_replica reps[4];
	size_t n;
	uint64_t f = file_with_data(100, &fgen);
	struct gf_attr before = attr(f);
	size_t changes = nchanges;
	usleep(2000);
	place_host = -1; /* no gfsd has room */
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY | O_TRUNC, test_place, NULL, &a, reps,
				    4, &n, NULL, &t), -ENOSPC);
	struct gf_attr after = attr(f);
	ck_assert_uint_eq(after.size, 100);
	ck_assert_uint_eq(after.gen, before.gen);
	ck_assert(memcmp(&after.mtime, &before.mtime, sizeof(after.mtime)) == 0);
	ck_assert(memcmp(&after.ctime, &before.ctime, sizeof(after.ctime)) == 0);
	ck_assert_uint_eq(nchanges, changes); /* nothing reached the store */
}
END_TEST

/* Issue 6 point 2: writers of disjoint ranges, closing in either order, leave
 * the size at the furthest end; a truncate and a writer's close follow the
 * order gfmd sees them in. */
START_TEST(test_size_rule)
{
	uint64_t fgen, t;
	struct gf_attr a;
	uint64_t f = file_with_data(0, &fgen);
	struct gf_timespec mt = { 1, 1 };
	/* A wrote [0,100), B [100,200): B closes first, then A */
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 200, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 100, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(attr(f).size, 200);
	/* and the other order */
	struct gfm_setattr_req r = { .cred = U1, .ino = f, .valid = GF_SET_SIZE, .size = 0 };
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 100, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 200, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(attr(f).size, 200);
	/* a truncate after a writer's close cuts it */
	r.size = 50;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_uint_eq(attr(f).size, 50);
	/* a writer's close after a truncate extends it */
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 120, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(attr(f).size, 120);
	/* a writer that wrote below the size changes no size */
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f, fgen, 10, mt, GF_CW_MTIME, 0, &a, &t), 0);
	ck_assert_uint_eq(attr(f).size, 120);
}
END_TEST

/* Issue 6 point 1: a dead replica is handed out only once the change that
 * killed it is committed. */
START_TEST(test_dead_after_commit)
{
	uint64_t fgen, t;
	uint64_t f = file_with_data(10, &fgen);
	(void)f;
	ck_assert_int_eq(lookup(&U1, GF_ROOT_INO, "pub"), 0);
	struct gf_attr pa;
	ck_assert_int_eq(gf_ns_lookup(ns, &U1, GF_ROOT_INO, "pub", &pa, NULL), 0);
	ck_assert_int_eq(gf_ns_unlink(ns, &U1, pa.ino, "data", NULL, &t), 0);
	struct gf_dead_replica dead[2];
	ck_assert_uint_eq(gf_ns_dead_list(ns, 2, t - 1, dead, 2), 0); /* not yet */
	ck_assert_uint_eq(gf_ns_dead_list(ns, 2, t, dead, 2), 1);
	ck_assert_uint_eq(dead[0].ino, f);
	ck_assert_uint_eq(dead[0].gen, fgen);
	/* loaded from the store: committed */
	ck_assert_int_eq(gf_ns_load_dead(ns, 777, 4, 3), 0);
	ck_assert_uint_eq(gf_ns_dead_list(ns, 4, 0, dead, 2), 1);
}
END_TEST

/* Issue 6 point 9: a read reports the ticket of the newest change it shows,
 * so its reply waits for that commit. */
START_TEST(test_read_waits_for_commit)
{
	uint64_t t, w, tm;
	struct gf_attr a;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t d2 = mkdir_(&ROOT, GF_ROOT_INO, "d2", 0777);
	ck_assert_int_eq(gf_ns_mkdir(ns, &U1, d, "x", 0755, 0, &a, NULL, &tm), 0);
	uint64_t x = a.ino;
	ck_assert_int_eq(gf_ns_lookup(ns, &U1, d, "x", &a, &w), 0);
	ck_assert_uint_eq(w, tm);
	ck_assert_int_eq(gf_ns_getattr(ns, &U1, x, &a, &w), 0);
	ck_assert_uint_eq(w, tm);
	/* a directory untouched since does not wait for it */
	ck_assert_int_eq(gf_ns_getattr(ns, &U1, d2, &a, &w), 0);
	ck_assert_uint_lt(w, tm);
	struct gfm_dirent ents[4];
	uint32_t cnt;
	uint8_t eof;
	ck_assert_int_eq(gf_ns_readdir(ns, &U1, d, 0, 4, ents, &cnt, &eof, &w), 0);
	ck_assert_uint_eq(w, tm);
	/* a removal: the name and the inode are gone, and saying so waits */
	ck_assert_int_eq(gf_ns_rmdir(ns, &U1, d, "x", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_lookup(ns, &U1, d, "x", &a, &w), -ENOENT);
	ck_assert_uint_eq(w, t);
	ck_assert_int_eq(gf_ns_getattr(ns, &U1, x, &a, &w), -ENOENT);
	ck_assert_uint_eq(w, t);
	/* a chmod */
	ck_assert_int_eq(setattr(&ROOT, d2, GF_SET_MODE, 0700, 0, 0), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U1, d2, R_OK, &w), -EACCES);
	ck_assert_uint_eq(w, last_ticket);
	char buf[8];
	size_t len;
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, d, "user.a", "v", 1, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U1, d, "user.a", buf, sizeof(buf), &len, &w), 0);
	ck_assert_uint_eq(w, t);
}
END_TEST

/* Issue 6 point 12: ftruncate through a descriptor open for writing needs
 * no write permission now; a non-owner's write clears setuid/setgid. */
START_TEST(test_setattr_fh_and_kill_suid)
{
	uint64_t t;
	struct gf_attr a;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "pub", 0777);
	uint64_t f = mkfile(&U1, d, "ro", 0444);
	struct gfm_setattr_req r = { .cred = U1, .ino = f, .valid = GF_SET_SIZE, .size = 5 };
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), -EACCES);
	r.valid |= GF_SET_SIZE_FH;
	ck_assert_int_eq(gf_ns_setattr(ns, &r, &a, &t), 0);
	ck_assert_uint_eq(a.size, 5);
	uint64_t s = mkfile(&U1, d, "suid", 06775);
	struct gfm_setattr_req k = { .cred = U2, .ino = s, .valid = GF_SET_KILL_SUID };
	ck_assert_int_eq(gf_ns_setattr(ns, &k, &a, &t), -EACCES); /* U2 may not write */
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 06777, 0, 0), 0);
	ck_assert_int_eq(gf_ns_setattr(ns, &k, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 0777);
	/* root's writes keep them */
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 06777, 0, 0), 0);
	k.cred = ROOT;
	ck_assert_int_eq(gf_ns_setattr(ns, &k, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 06777);
	/* the kernel's form of it: a chmod by a non-owner that clears exactly
	 * what a write clears (any other chmod stays EPERM) */
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 06777, 0, 0), 0);
	ck_assert_int_eq(setattr(&U2, s, GF_SET_MODE, 00777, 0, 0), 0);
	ck_assert_uint_eq(attr(s).mode & 07777, 0777);
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 06777, 0, 0), 0);
	ck_assert_int_eq(setattr(&U2, s, GF_SET_MODE, 00775, 0, 0), -EPERM);
	ck_assert_int_eq(setattr(&U2, s, GF_SET_MODE, 04777, 0, 0), -EPERM);
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 0775, 0, 0), 0);
	ck_assert_int_eq(setattr(&U2, s, GF_SET_MODE, 00775, 0, 0), -EPERM); /* no-op */
	/* setgid without group-execute stays for a writer in the file's
	 * group, and goes for one who is not (setattr_should_drop_sgid, as
	 * ext4 does on Linux 6) */
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 02666, 0, 0), 0);
	k.cred = U1;
	ck_assert_int_eq(gf_ns_setattr(ns, &k, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 02666);
	k.cred = U2;
	ck_assert_int_eq(gf_ns_setattr(ns, &k, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 0666);
	/* a SETATTR that sets nothing (chown(-1, -1)): the ctime moves; the
	 * set-ID bits go as a chown takes them, for root too; a non-owner
	 * without write permission may not take them */
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 06755, 0, 0), 0);
	struct gfm_setattr_req tq = { .cred = U2, .ino = s, .valid = GF_SET_TOUCH };
	ck_assert_int_eq(gf_ns_setattr(ns, &tq, &a, &t), -EPERM);
	ck_assert_uint_eq(attr(s).mode & 07777, 06755);
	tq.cred = ROOT;
	struct gf_timespec before = attr(s).ctime;
	ck_assert_int_eq(gf_ns_setattr(ns, &tq, &a, &t), 0);
	ck_assert_uint_eq(a.mode & 07777, 0755);
	ck_assert(a.ctime.sec > before.sec || (a.ctime.sec == before.sec && a.ctime.nsec >= before.nsec));
	ck_assert_int_eq(setattr(&U1, s, GF_SET_MODE, 0644, 0, 0), 0);
	tq.cred = U2;
	ck_assert_int_eq(gf_ns_setattr(ns, &tq, &a, &t), 0); /* nothing to take */
}
END_TEST

START_TEST(test_host_replicas)
{
	struct gf_attr a;
	struct gf_ns_replica reps[2];
	size_t n;
	uint64_t t, ino[5];
	char name[8];
	place_host = 4;
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(gf_ns_create(ns, &ROOT, GF_ROOT_INO, name, 0644, O_CREAT | O_WRONLY, 0,
					      test_place, NULL, &a, reps, &n, NULL, &t), 0);
		ino[i] = a.ino;
	}
	struct gf_dead_replica out[8];
	uint32_t cnt;
	uint8_t eof;
	ck_assert_int_eq(gf_ns_host_replicas(ns, 4, 0, 3, out, &cnt, &eof, &t), 0);
	ck_assert_uint_eq(cnt, 3);
	ck_assert_uint_eq(eof, 0);
	ck_assert_uint_eq(t, last_ticket);
	ck_assert_uint_eq(out[0].ino, ino[0]);
	ck_assert_uint_eq(out[2].ino, ino[2]);
	ck_assert_int_eq(gf_ns_host_replicas(ns, 4, out[2].ino, 3, out, &cnt, &eof, &t), 0);
	ck_assert_uint_eq(cnt, 2);
	ck_assert_uint_eq(eof, 1);
	ck_assert_uint_eq(out[1].ino, ino[4]);
	ck_assert_int_eq(gf_ns_host_replicas(ns, 9, 0, 3, out, &cnt, &eof, &t), 0);
	ck_assert_uint_eq(cnt, 0);
	ck_assert_uint_eq(eof, 1);
}
END_TEST

/* Issue 7: copies (gfrep). A copy starts only from a current replica, to a
 * host without one, of a file nobody writes; it becomes a replica only if
 * the data did not change meanwhile; a failed or overtaken copy's file dies;
 * a trim never takes a file below what it keeps. */
static int has_dead(uint32_t host, uint64_t fgen)
{
	struct gf_dead_replica d[16];
	size_t k = gf_ns_dead_list(ns, host, UINT64_MAX, d, 16);
	for (size_t i = 0; i < k; i++)
		if (d[i].gen == fgen)
			return 1;
	return 0;
}

/* A file copied to host after host: its replica list grows through every
 * pooled size into a malloc'd one and keeps every replica, in order. */
START_TEST(test_many_replicas)
{
	uint64_t fgen, t;
	struct gf_ns_copy cp;
	struct gf_ns_replica reps[GF_MAX_REPLICAS];
	size_t n;
	uint64_t f = file_with_data(100, &fgen); /* on host 2 */
	gf_ns_writer_done(ns, f);
	uint64_t fgens[10] = { fgen };
	for (uint32_t h = 3; h < 12; h++) {
		ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, h, 0, &cp), 0);
		ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), 0);
		fgens[h - 2] = cp.fgen;
		ck_assert_int_eq(gf_ns_replicas(ns, f, 1, reps, GF_MAX_REPLICAS, &n, NULL), 0);
		ck_assert_uint_eq(n, h - 1);
		for (uint32_t i = 0; i < n; i++) {
			ck_assert_uint_eq(reps[i].host_id, i + 2);
			ck_assert_uint_eq(reps[i].fgen, fgens[i]);
		}
	}
	/* dropped down to one and grown again */
	for (uint32_t h = 11; h > 2; h--)
		ck_assert_int_eq(gf_ns_replica_drop(ns, &ROOT, f, h, 1, &t), 0);
	ck_assert_int_eq(gf_ns_replicas(ns, f, 1, reps, GF_MAX_REPLICAS, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(reps[0].host_id, 2);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 5, 0, &cp), 0);
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), 0);
	ck_assert_int_eq(gf_ns_replicas(ns, f, 1, reps, GF_MAX_REPLICAS, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(reps[1].host_id, 5);
	ck_assert_int_eq(gf_ns_check_counts(ns), 0);
}
END_TEST

/* A copy's file name is a number from the inode-number counter, and gfsd
 * makes the file before anything of the copy is committed: the number
 * must be below the counter stored already (or in out->ticket, which the
 * caller waits for), or a gfmd killed then would hand it out again after
 * its restart. Past the counter's reserve too (2,000 copies, no create). */
START_TEST(test_copy_fgen_stored)
{
	uint64_t fgen, t;
	struct gf_ns_copy cp;
	uint64_t f = file_with_data(100, &fgen); /* on host 2 */
	gf_ns_writer_done(ns, f);
	int tickets = 0;
	for (int i = 0; i < 2000; i++) {
		uint64_t before = last_ticket;
		ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 3, 0, &cp), 0);
		ck_assert_msg((cp.fgen & ~GF_FGEN_COPY) < stored_counter,
			      "copy %d: file number %" PRIu64 " handed out, counter stored: %" PRIu64,
			      i, cp.fgen & ~GF_FGEN_COPY, stored_counter);
		if (cp.ticket) {
			ck_assert_uint_gt(cp.ticket, before);
			tickets++;
		}
		ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 0, &t), -EIO);
	}
	/* once per reserve (1024 numbers), not per copy */
	ck_assert_int_ge(tickets, 1);
	ck_assert_int_le(tickets, 3);
}
END_TEST

struct walk {
	uint64_t last;
	size_t n, stop_at;
};

static int walk_fn(void *arg, uint64_t ino, uint32_t want)
{
	struct walk *w = arg;
	(void)want;
	ck_assert_uint_gt(ino, w->last); /* ascending, each once */
	w->last = ino;
	return ++w->n == w->stop_at ? -EINTR : 0;
}

/* The walk over a host's files (taken in batches of the lock) lists each
 * of them once, in order, across batches; a non-zero return stops it. */
START_TEST(test_files_on_host)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "many", 0777), t;
	struct gf_attr a;
	struct gf_ns_replica rep[1];
	size_t nrep;
	char name[16];
	enum { N = 3000 };
	for (int i = 0; i < N; i++) {
		place_host = i % 3 ? 4 : 9; /* 1000 on host 9 */
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(gf_ns_create(ns, &ROOT, d, name, 0644, O_CREAT | O_WRONLY, 0,
					      test_place, NULL, &a, rep, &nrep, NULL, &t), 0);
	}
	struct walk w = { 0 };
	ck_assert_int_eq(gf_ns_files_on_host(ns, 9, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, N / 3);
	w = (struct walk){ 0 };
	ck_assert_int_eq(gf_ns_files_on_host(ns, 4, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 2 * N / 3);
	w = (struct walk){ .stop_at = 1500 };
	ck_assert_int_eq(gf_ns_files_on_host(ns, 4, walk_fn, &w), -EINTR);
	ck_assert_uint_eq(w.n, 1500);
	w = (struct walk){ 0 };
	ck_assert_int_eq(gf_ns_files_on_host(ns, 77, walk_fn, &w), 0);
	ck_assert_uint_eq(w.n, 0);
}
END_TEST

START_TEST(test_copy)
{
	uint64_t fgen, t;
	struct gf_ns_copy cp, cp2;
	struct gf_ns_replica reps[4];
	struct gf_dead_replica hr[8];
	uint32_t cnt;
	uint8_t eof;
	size_t n;
	struct gf_attr a;
	uint64_t f = file_with_data(100, &fgen); /* on host 2, U1's writer still open */
	ck_assert_int_eq(gf_ns_copy_begin(ns, &U1, f, 2, 3, 0, &cp), -EBUSY);
	gf_ns_writer_done(ns, f);
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0600, 0, 0), 0);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &U2, f, 2, 3, 0, &cp), -EACCES);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &U1, f, 5, 3, 0, &cp), -ENOENT);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &U1, f, 2, 2, 0, &cp), -EEXIST);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, GF_ROOT_INO, 2, 3, 0, &cp), -EISDIR);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 3, 0, &cp), 0);
	ck_assert(cp.fgen & GF_FGEN_COPY);
	ck_assert_uint_eq(cp.size, 100);
	ck_assert_uint_eq(cp.src.fgen, fgen);
	ck_assert_uint_eq(cp.gen, attr(f).gen);
	ck_assert_uint_eq(cp.dst, 3);
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 3, 0, &cp2), -EALREADY);
	/* under way: not a replica yet, but the orphan scan leaves it alone */
	ck_assert_int_eq(gf_ns_replicas(ns, f, 1, reps, 4, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(gf_ns_host_replicas(ns, 3, 0, 8, hr, &cnt, &eof, &t), 0);
	ck_assert_uint_eq(cnt, 1);
	ck_assert_uint_eq(hr[0].gen, cp.fgen);
	size_t before = kinds[GF_CHG_REPLICA_PUT];
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), 0);
	ck_assert_uint_eq(t, last_ticket);
	ck_assert_uint_eq(kinds[GF_CHG_REPLICA_PUT], before + 1);
	ck_assert_int_eq(gf_ns_replicas(ns, f, 0, reps, 4, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(reps[1].host_id, 3);
	ck_assert_uint_eq(reps[1].fgen, cp.fgen);
	ck_assert_uint_eq(gf_ns_replica_count(ns, 3), 1);

	/* a write-open during a copy: the copy is refused, its file dies */
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 3, 4, 0, &cp2), 0);
	ck_assert_uint_ne(cp2.fgen, cp.fgen); /* every copy its own name */
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_WRONLY, test_place, NULL, &a, reps, 4, &n,
				    NULL, &t), 0);
	gf_ns_writer_done(ns, f);
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp2, 1, &t), -EBUSY);
	ck_assert(has_dead(4, cp2.fgen));
	ck_assert_int_eq(gf_ns_replicas(ns, f, 0, reps, 4, &n, NULL), 0);
	ck_assert_uint_eq(n, 1); /* the writer's (host 2); host 3's copy went stale */
	ck_assert_uint_eq(reps[0].host_id, 2);

	/* a failed copy's file dies too */
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 3, 0, &cp), 0);
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 0, &t), -EIO);
	ck_assert(has_dead(3, cp.fgen));
	ck_assert_int_eq(gf_ns_host_replicas(ns, 3, 0, 8, hr, &cnt, &eof, &t), 0);
	ck_assert_uint_eq(cnt, 1); /* the stale replica, still referenced */
	ck_assert_uint_ne(hr[0].gen, cp.fgen);

	/* trims: owner or root, never below keep, never the last one */
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 3, 0, &cp), 0);
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), 0);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &U2, f, 3, 1, &t), -EPERM);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &U1, f, 4, 1, &t), -ENOENT);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &U1, f, 3, 2, &t), -EMLINK);
	ck_assert_int_eq(gf_ns_open(ns, &U1, f, O_RDWR, test_place, NULL, &a, reps, 4, &n,
				    NULL, &t), 0);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &U1, f, 3, 1, &t), -EBUSY); /* a writer */
	gf_ns_writer_done(ns, f);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &U1, f, 3, 1, &t), -ENOENT); /* died at the open */
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 2, 3, 0, &cp), 0);
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), 0);
	/* the repair's trim goes by the count as it is at the drop: none set,
	 * nothing to trim to; 2, no; 1 (and GF_REP_KEEP raises it again) */
	ck_assert_int_eq(gf_ns_replica_drop(ns, &ROOT, f, 2, GF_NS_KEEP_COUNT, &t), -EMLINK);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_NCOPY_XATTR, "2", 1, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &ROOT, f, 2, GF_NS_KEEP_COUNT, &t), -EMLINK);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_NCOPY_XATTR, "x", 1, 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_NCOPY_XATTR, "1\n", 2, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &ROOT, f, 2, GF_NS_KEEP_COUNT, &t), 0);
	ck_assert(has_dead(2, fgen));
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 3, 4, 0, &cp), 0);
	cp.keep = 1;
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), 0);
	char v[8];
	size_t vl = 0;
	ck_assert_int_eq(gf_ns_getxattr(ns, &ROOT, f, GF_NCOPY_XATTR, v, sizeof(v), &vl, NULL), 0);
	ck_assert_uint_eq(vl, 1);
	ck_assert_int_eq(v[0], '2'); /* raised with the copy */
	ck_assert_int_eq(gf_ns_replica_drop(ns, &ROOT, f, 4, GF_NS_KEEP_COUNT, &t), -EMLINK);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &U1, f, 4, 1, &t), 0);
	ck_assert_int_eq(gf_ns_replica_drop(ns, &ROOT, f, 3, 0, &t), -EMLINK);

	/* a file removed during its copy: the copy's file dies */
	ck_assert_int_eq(gf_ns_copy_begin(ns, &ROOT, f, 3, 2, 0, &cp), 0);
	struct gf_attr pa;
	ck_assert_int_eq(gf_ns_lookup(ns, &ROOT, GF_ROOT_INO, "pub", &pa, NULL), 0);
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, pa.ino, "data", NULL, &t), 0);
	ck_assert_int_eq(gf_ns_copy_end(ns, &cp, 1, &t), -ENOENT);
	ck_assert(has_dead(2, cp.fgen));
}
END_TEST

/* ---- POSIX ACLs ---------------------------------------------------------------------------- */

/* An ACL in xattr form from (tag, perm, id) triples. */
static size_t acl_blob(uint8_t *buf, const uint32_t (*e)[3], size_t n)
{
	buf[0] = 2;
	buf[1] = buf[2] = buf[3] = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *q = buf + 4 + i * 8;
		q[0] = (uint8_t)e[i][0];
		q[1] = (uint8_t)(e[i][0] >> 8);
		q[2] = (uint8_t)e[i][1];
		q[3] = 0;
		for (int k = 0; k < 4; k++)
			q[4 + k] = (uint8_t)(e[i][2] >> (8 * k));
	}
	return 4 + n * 8;
}

#define UOBJ 0x01
#define USR 0x02
#define GOBJ 0x04
#define GRP 0x08
#define MSK 0x10
#define OTH 0x20
#define NOID 0xffffffffu

START_TEST(test_acl_access)
{
	uint64_t t;
	uint8_t buf[256];
	struct gf_attr a;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	uint64_t f = mkfile(&U1, d, "f", 0600);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, R_OK, NULL), -EACCES);
	/* user 2000 may read and write, the mask allows read only */
	static const uint32_t e1[][3] = { { UOBJ, 6, NOID }, { USR, 6, 2000 }, { GOBJ, 0, NOID },
					  { MSK, 4, NOID }, { OTH, 0, NOID } };
	size_t n = acl_blob(buf, e1, 5);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U2, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), -EPERM);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), 0);
	a = attr(f);
	ck_assert_uint_eq(a.mode & 0777, 0640); /* group bits show the mask */
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, R_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, W_OK, NULL), -EACCES); /* masked */
	ck_assert_int_eq(gf_ns_access(ns, &U3, f, R_OK, NULL), -EACCES);
	/* chmod rewrites the mask (and the owner and other entries) */
	ck_assert_int_eq(setattr(&U1, f, GF_SET_MODE, 0660, 0, 0), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, W_OK, NULL), 0);
	size_t len;
	uint8_t got[256];
	ck_assert_int_eq(gf_ns_getxattr(ns, &U3, f, GF_ACL_ACCESS, got, sizeof(got), &len, NULL), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_uint_eq(got[4 + 3 * 8 + 2], 6); /* MASK rw */
	/* a group entry: members of group 3000 (U2's second group) */
	static const uint32_t e2[][3] = { { UOBJ, 6, NOID }, { GOBJ, 0, NOID },
					  { GRP, 4, 3000 }, { MSK, 7, NOID }, { OTH, 0, NOID } };
	n = acl_blob(buf, e2, 5);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, R_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, W_OK, NULL), -EACCES);
	/* an ACL the mode bits say all about is not kept: only the mode */
	static const uint32_t e3[][3] = { { UOBJ, 7, NOID }, { GOBJ, 5, NOID }, { OTH, 1, NOID } };
	n = acl_blob(buf, e3, 3);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), 0);
	ck_assert_uint_eq(attr(f).mode & 0777, 0751);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U1, f, GF_ACL_ACCESS, got, sizeof(got), &len, NULL),
			 -ENODATA);
	ck_assert_int_eq(gf_ns_access(ns, &U2, f, R_OK, NULL), -EACCES);
	/* invalid ones are refused: no mask with named entries, unsorted, bad version */
	static const uint32_t bad1[][3] = { { UOBJ, 6, NOID }, { USR, 6, 2000 }, { GOBJ, 0, NOID },
					    { OTH, 0, NOID } };
	n = acl_blob(buf, bad1, 4);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), -EINVAL);
	static const uint32_t bad2[][3] = { { GOBJ, 0, NOID }, { UOBJ, 6, NOID }, { OTH, 0, NOID } };
	n = acl_blob(buf, bad2, 3);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), -EINVAL);
	n = acl_blob(buf, e3, 3);
	buf[0] = 1;
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, n, 0, NULL, &t), -EINVAL);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_ACCESS, buf, 3, 0, NULL, &t), -EINVAL);
	/* a default ACL only on directories */
	n = acl_blob(buf, e1, 5);
	ck_assert_int_eq(gf_ns_setxattr(ns, &U1, f, GF_ACL_DEFAULT, buf, n, 0, NULL, &t), -EACCES);
}
END_TEST

START_TEST(test_acl_default_inherited)
{
	uint64_t t;
	uint8_t buf[256], got[256];
	size_t len;
	struct gf_attr a;
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0777);
	static const uint32_t e[][3] = { { UOBJ, 7, NOID }, { USR, 7, 2000 }, { GOBJ, 5, NOID },
					 { MSK, 7, NOID }, { OTH, 0, NOID } };
	size_t n = acl_blob(buf, e, 5);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, d, GF_ACL_DEFAULT, buf, n, 0, NULL, &t), 0);
	/* a file asked with 0666 and umask 022: the default ACL rules, not the umask */
	ck_assert_int_eq(gf_ns_mknod(ns, &U1, d, "f", S_IFREG | 0666, 0, 022, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.mode & 0777, 0660); /* user rw, mask rw (group bits), other 0 */
	ck_assert_int_eq(gf_ns_getxattr(ns, &U1, a.ino, GF_ACL_ACCESS, got, sizeof(got), &len,
					NULL), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(gf_ns_access(ns, &U2, a.ino, R_OK | W_OK, NULL), 0);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U1, a.ino, GF_ACL_DEFAULT, got, sizeof(got), &len,
					NULL), -ENODATA);
	/* a directory inherits the default ACL as its own default too */
	ck_assert_int_eq(gf_ns_mkdir(ns, &U1, d, "sub", 0777, 077, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.mode & 0777, 0770);
	ck_assert_int_eq(gf_ns_getxattr(ns, &U1, a.ino, GF_ACL_DEFAULT, got, sizeof(got), &len,
					NULL), 0);
	ck_assert(len == n && memcmp(got, buf, n) == 0);
	/* without a default ACL, the umask applies */
	ck_assert_int_eq(gf_ns_removexattr(ns, &ROOT, d, GF_ACL_DEFAULT, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_mknod(ns, &U1, d, "g", S_IFREG | 0666, 0, 027, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.mode & 0777, 0640);
}
END_TEST

/* Writes, truncates and chowns drop file capabilities (security.capability). */
START_TEST(test_kill_priv)
{
	uint64_t t, fgen;
	struct gf_attr a;
	size_t len;
	char buf[8];
	uint64_t f = file_with_data(10, &fgen);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, f, "security.capability", "c", 1, 0, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_close_write(ns, &ROOT, f, fgen, 20, (struct gf_timespec){ 0, 0 }, 0, 0,
					   &a, &t), 0);
	ck_assert_int_eq(gf_ns_getxattr(ns, &ROOT, f, "security.capability", buf, sizeof(buf),
					&len, NULL), -ENODATA);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, f, "security.capability", "c", 1, 0, NULL, &t), 0);
	ck_assert_int_eq(setattr(&ROOT, f, GF_SET_UID, 0, 5, 0), 0);
	ck_assert_int_eq(gf_ns_getxattr(ns, &ROOT, f, "security.capability", buf, sizeof(buf),
					&len, NULL), -ENODATA);
}
END_TEST

/* ---- readdir ------------------------------------------------------------------------------- */

START_TEST(test_readdir_cookies_stable)
{
	enum { N = 10000 };
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "big", 0755);
	char name[32];
	struct gf_attr a;
	uint64_t t;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%05d", i);
		ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, d, name, S_IFREG | 0644, 0, 0, &a, NULL, &t), 0);
	}
	/*
	 * Read in pages; between pages remove every third entry not yet seen
	 * (and some seen ones), and add new entries. Every original entry that
	 * stays must be seen exactly once, none removed before being reached.
	 */
	static unsigned char seen[N], removed[N];
	memset(seen, 0, sizeof(seen));
	memset(removed, 0, sizeof(removed));
	struct gfm_dirent *ents = calloc(100, sizeof(*ents));
	uint64_t cookie = 0, last = 0;
	uint8_t eof = 0;
	int page = 0, added = 0;
	while (!eof) {
		uint32_t n;
		ck_assert_int_eq(gf_ns_readdir(ns, &ROOT, d, cookie, 100, ents, &n, &eof, NULL), 0);
		for (uint32_t i = 0; i < n; i++) {
			ck_assert_uint_gt(ents[i].cookie, last);
			last = ents[i].cookie;
			if (ents[i].name[0] == 'e') {
				int k = atoi(ents[i].name + 1);
				ck_assert(!seen[k]);
				ck_assert(!removed[k]);
				seen[k] = 1;
			}
		}
		if (n)
			cookie = ents[n - 1].cookie;
		page++;
		for (int k = page * 37 % N; k < N; k += 97) {
			if (removed[k])
				continue;
			snprintf(name, sizeof(name), "e%05d", k);
			ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d, name, NULL, &t), 0);
			removed[k] = 1;
		}
		snprintf(name, sizeof(name), "n%05d", added++);
		ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, d, name, S_IFREG | 0644, 0, 0, &a, NULL, &t), 0);
	}
	for (int k = 0; k < N; k++)
		ck_assert(seen[k] || removed[k]);
	/* a full read now sees every live entry once, in cookie order */
	uint32_t total = 0;
	cookie = 0;
	eof = 0;
	while (!eof) {
		uint32_t n;
		ck_assert_int_eq(gf_ns_readdir(ns, &ROOT, d, cookie, 100, ents, &n, &eof, NULL), 0);
		total += n;
		if (n)
			cookie = ents[n - 1].cookie;
	}
	int live = 0;
	for (int k = 0; k < N; k++)
		live += !removed[k];
	ck_assert_uint_eq(total, (uint32_t)(live + added));
	free(ents);
	struct gfm_dirent e1;
	uint32_t n;
	ck_assert_int_eq(gf_ns_readdir(ns, &ROOT, 1ull << 40, 0, 1, &e1, &n, &eof, NULL), -ENOENT);
	uint64_t f = mkfile(&ROOT, GF_ROOT_INO, "file", 0644);
	ck_assert_int_eq(gf_ns_readdir(ns, &ROOT, f, 0, 1, &e1, &n, &eof, NULL), -ENOTDIR);
}
END_TEST

START_TEST(test_readdir_attrs_and_eof)
{
	uint64_t d = mkdir_(&ROOT, GF_ROOT_INO, "d", 0755);
	uint64_t f = mkfile(&ROOT, d, "f", 0600);
	mkdir_(&ROOT, d, "s", 0700);
	struct gfm_dirent ents[4];
	uint32_t n;
	uint8_t eof;
	ck_assert_int_eq(gf_ns_readdir(ns, &ROOT, d, 0, 1, ents, &n, &eof, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(eof, 0);
	ck_assert_str_eq(ents[0].name, "f");
	ck_assert_uint_eq(ents[0].attr.ino, f);
	ck_assert_int_eq(gf_ns_readdir(ns, &ROOT, d, ents[0].cookie, 4, ents, &n, &eof, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(eof, 1);
	ck_assert_str_eq(ents[0].name, "s");
	ck_assert(S_ISDIR(ents[0].attr.mode));
}
END_TEST

/* ---- loading ---------------------------------------------------------------------------------- */

START_TEST(test_load)
{
	struct gf_ns *l = gf_ns_new();
	struct gf_attr root = { .ino = 1, .mode = S_IFDIR | 0755, .nlink = 3, .gen = 1 };
	struct gf_attr dir = { .ino = 5, .mode = S_IFDIR | 0700, .nlink = 2, .gen = 1, .uid = 7 };
	struct gf_attr file = { .ino = 9, .mode = S_IFREG | 0644, .nlink = 1, .gen = 3, .size = 42 };
	struct gf_attr sl = { .ino = 12, .mode = S_IFLNK | 0777, .nlink = 1, .gen = 1, .size = 3 };
	ck_assert_int_eq(gf_ns_load_inode(l, &root, NULL), 0);
	ck_assert_int_eq(gf_ns_load_inode(l, &dir, NULL), 0);
	ck_assert_int_eq(gf_ns_load_inode(l, &file, NULL), 0);
	ck_assert_int_eq(gf_ns_load_inode(l, &sl, "abc"), 0);
	ck_assert_int_eq(gf_ns_load_inode(l, &sl, "abc"), -EEXIST);
	/* entries out of cookie order, one dangling */
	ck_assert_int_eq(gf_ns_load_dirent(l, 5, "z", 9, 7), 0);
	ck_assert_int_eq(gf_ns_load_dirent(l, 5, "a", 12, 3), 0);
	ck_assert_int_eq(gf_ns_load_dirent(l, 5, "ghost", 77, 5), 0);
	ck_assert_int_eq(gf_ns_load_dirent(l, 1, "d", 5, 1), 0);
	ck_assert_int_eq(gf_ns_load_dirent(l, 9, "x", 5, 1), -EINVAL);
	ck_assert_int_eq(gf_ns_load_xattr(l, 9, "user.k", "v", 1), 0);
	ck_assert_int_eq(gf_ns_load_replica(l, 9, 4, 3, 3), 0);
	ck_assert_int_eq(gf_ns_load_dead(l, 100, 4, 1), 0);
	gf_ns_load_next_ino(l, 20);
	uint64_t t;
	ck_assert_int_eq(gf_ns_load_finish(l, &t), 0);
	ck_assert_uint_eq(t, 0); /* no sink */
	struct gfm_dirent ents[4];
	uint32_t n;
	uint8_t eof;
	ck_assert_int_eq(gf_ns_readdir(l, &ROOT, 5, 0, 4, ents, &n, &eof, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ents[0].name, "a");
	ck_assert_str_eq(ents[1].name, "z");
	ck_assert_uint_eq(ents[1].attr.size, 42);
	char buf[16];
	ck_assert_int_eq(gf_ns_readlink(l, &ROOT, 12, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "abc");
	size_t len;
	ck_assert_int_eq(gf_ns_getxattr(l, &ROOT, 9, "user.k", buf, sizeof(buf), &len, NULL), 0);
	ck_assert_uint_eq(gf_ns_replica_count(l, 4), 1);
	struct gf_dead_replica dead[2];
	ck_assert_uint_eq(gf_ns_dead_list(l, 4, UINT64_MAX, dead, 2), 1);
	struct gf_attr a;
	ck_assert_int_eq(gf_ns_lookup(l, &ROOT, 5, "..", &a, NULL), 0);
	ck_assert_uint_eq(a.ino, 1);
	/* new inode numbers continue after the stored counter */
	ck_assert_int_eq(gf_ns_mkdir(l, &ROOT, 1, "new", 0755, 0, &a, NULL, &t), 0);
	ck_assert_uint_eq(a.ino, 20);
	/* new entries get cookies after the loaded ones */
	ck_assert_int_eq(gf_ns_mknod(l, &ROOT, 5, "b", S_IFREG | 0644, 0, 0, &a, NULL, &t), 0);
	ck_assert_int_eq(gf_ns_readdir(l, &ROOT, 5, 7, 4, ents, &n, &eof, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(ents[0].name, "b");
	gf_ns_free(l);
}
END_TEST

static Suite *namespace_suite(void)
{
	Suite *s = suite_create("namespace");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_root);
	tcase_add_test(tc, test_mkdir_nlink);
	tcase_add_test(tc, test_create_unlink_times);
	tcase_add_test(tc, test_dead_done_many);
	tcase_add_test(tc, test_capture_dirs);
	tcase_add_test(tc, test_changes_recorded);
	tcase_add_test(tc, test_permission_classes);
	tcase_add_test(tc, test_search_and_write_on_dirs);
	tcase_add_test(tc, test_sticky);
	tcase_add_test(tc, test_setgid_dirs);
	tcase_add_test(tc, test_chmod_chown_rules);
	tcase_add_test(tc, test_utimens_truncate);
	tcase_add_test(tc, test_rename_rules);
	tcase_add_test(tc, test_rename_dir_needs_write_on_itself);
	tcase_add_test(tc, test_link_symlink);
	tcase_add_test(tc, test_emlink);
	tcase_add_test(tc, test_xattrs);
	tcase_add_test(tc, test_open_close_write);
	tcase_add_test(tc, test_generations);
	tcase_add_test(tc, test_failed_open_changes_nothing);
	tcase_add_test(tc, test_size_rule);
	tcase_add_test(tc, test_dead_after_commit);
	tcase_add_test(tc, test_read_waits_for_commit);
	tcase_add_test(tc, test_setattr_fh_and_kill_suid);
	tcase_add_test(tc, test_host_replicas);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_acl_access);
	tcase_add_test(tc, test_acl_default_inherited);
	tcase_add_test(tc, test_kill_priv);
	tcase_add_test(tc, test_readdir_cookies_stable);
	tcase_add_test(tc, test_readdir_attrs_and_eof);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_many_replicas);
	tcase_add_test(tc, test_copy_fgen_stored);
	tcase_add_test(tc, test_files_on_host);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(namespace_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
