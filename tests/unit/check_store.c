/*
 * check_store.c — gfmd/store_pg.c (store.h) against a real PostgreSQL:
 * migrations, the cluster id, the serving lock, every change kind through a
 * commit and back through a fresh load, group commit and the order of its
 * completions, close, and a failed commit (which ends the process by design,
 * so it runs in a child of the test).
 *
 * GF_TEST_PGCONN is a key=value libpq conninfo of a server and a database
 * to connect to first (e.g. "host=/tmp/x/sock port=5433 user=postgres
 * dbname=postgres"), as a role that may create databases. Each test makes a
 * database of its own there and drops it afterwards. tests/it_store.sh
 * starts a throwaway PostgreSQL and runs this; without GF_TEST_PGCONN it
 * exits 77 (skipped).
 *
 * Growing the store: a new column or change field touches the put_*,
 * want_* and row_* helpers of its kind (and ld_* for a new loader
 * argument); a new change kind makes -Wswitch point at case_every_kind;
 * a new sql/NNN_*.sql is found by the migration tests on their own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf */
#endif
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uuid/uuid.h>

#include "changes.h"
#include "log.h"
#include "store.h"

#define WAIT_SECS 60 /* a safety net for waits that end by themselves */

static const char *admin_ci; /* GF_TEST_PGCONN */
static char dbname[64];	     /* this test's own database */
static char db_ci[2048];     /* conninfo of dbname */
static PGconn *side;	     /* a second session on dbname, for SQL of the tests */
static char logpath[4096];   /* where log_capture() sends the log */

/* ---- SQL on the side ------------------------------------------------------------ */

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *connect_to(const char *ci)
{
	PGconn *c = PQconnectdb(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect to '%s': %s", ci,
		      PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static PGresult *vquery(PGconn *c, const char *fmt, va_list ap)
{
	char *sql;
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
		      PQresultErrorMessage(r));
	free(sql);
	return r;
}

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PQclear(vquery(side, fmt, ap));
	va_end(ap);
}

/* The one value a query returns, as an integer (NULL: -1). */
static long long sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_int(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = vquery(side, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(PQntuples(r), 1);
	long long v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* The one value a query returns, as a malloc'ed string ("(null)" for NULL). */
static char *sql_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_text(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = vquery(side, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(PQntuples(r), 1);
	char *v = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* ---- a database per test ----------------------------------------------------------- */

static void db_setup(void)
{
	static unsigned n;
	snprintf(dbname, sizeof(dbname), "gfst_%d_%u", (int)getpid(), n++);
	PGconn *a = connect_to(admin_ci);
	char q[128];
	snprintf(q, sizeof(q), "CREATE DATABASE %s", dbname);
	PGresult *r = PQexec(a, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", q,
		      PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(a);
	/* in a conninfo the last of a repeated keyword counts */
	snprintf(db_ci, sizeof(db_ci), "%s dbname=%s", admin_ci, dbname);
	char ci[2100];
	snprintf(ci, sizeof(ci), "%s application_name=check_store", db_ci);
	side = connect_to(ci);
	gf_log_init("check_store", GF_LOG_WARN);
}

static void db_teardown(void)
{
	PQfinish(side);
	side = NULL;
	PGconn *a = connect_to(admin_ci);
	char q[128];
	snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	PQclear(PQexec(a, q));
	PQfinish(a);
	if (logpath[0])
		unlink(logpath);
}

/* From here on the log goes to a file of this test (see log_has). */
static void log_capture(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(logpath, sizeof(logpath), "%s/check_store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(logpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(gf_log_open(logpath), 0);
	gf_log_set_level(GF_LOG_INFO);
}

static int log_has(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* ---- the store ------------------------------------------------------------------------ */

static struct gf_store *store_open(void)
{
	struct gf_store *s = NULL;
	ck_assert_int_eq(gf_store_open(db_ci, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

static struct gf_store *store_migrated(void)
{
	struct gf_store *s = store_open();
	ck_assert_int_eq(gf_store_migrate(s), 0);
	return s;
}

static struct gf_store *store_started(void)
{
	struct gf_store *s = store_migrated();
	ck_assert_int_eq(gf_store_start(s), 0);
	return s;
}

/* A completion that one thread waits for. */
struct one_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fired, status;
};

static void one_done(void *arg, int status)
{
	struct one_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	w->fired++;
	w->status = status;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Wait (at most WAIT_SECS) until *count reaches want, under mu/cv. */
static void wait_count(pthread_mutex_t *mu, pthread_cond_t *cv, const size_t *count,
		       size_t want)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_SECS;
	pthread_mutex_lock(mu);
	int rc = 0;
	while (*count < want && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(cv, mu, &until);
	size_t got = *count;
	pthread_mutex_unlock(mu);
	ck_assert_msg(got >= want, "%zu of %zu completions after %d s", got, want, WAIT_SECS);
}

/* Submit c and wait for its commit; the completion's status. */
static int commit_sync(struct gf_store *s, struct gf_changes *c)
{
	struct one_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	uint64_t t = gf_store_submit(s, c);
	ck_assert_uint_gt(t, 0);
	gf_store_on_commit(s, t, one_done, &w);
	size_t fired = 0;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_SECS;
	pthread_mutex_lock(&w.mu);
	while (!w.fired && pthread_cond_timedwait(&w.cv, &w.mu, &until) != ETIMEDOUT)
		;
	fired = (size_t)w.fired;
	pthread_mutex_unlock(&w.mu);
	ck_assert_msg(fired == 1, "ticket %" PRIu64 ": %zu completions", t, fired);
	return w.status;
}

/* ---- rows as text ------------------------------------------------------------------------
 * Whatever the store loads becomes one line of text per row, and so does
 * what a test expects; the two sorted lists must be equal. */

struct rows {
	char **v;
	size_t n, cap;
};

static void rows_add(struct rows *r, char *line)
{
	ck_assert_ptr_nonnull(line);
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		ck_assert_ptr_nonnull(r->v);
	}
	r->v[r->n++] = line;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	char *s;
	va_list ap;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* Bytes as a quoted string, anything but printable ASCII as \xNN. */
static char *esc(const void *p, size_t n)
{
	const unsigned char *b = p;
	char *s = malloc(n * 4 + 3), *o = s;
	ck_assert_ptr_nonnull(s);
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != '"')
			*o++ = (char)b[i];
		else
			o += sprintf(o, "\\x%02x", b[i]);
	}
	*o++ = '"';
	*o = 0;
	return s;
}

static char *row_inode(const struct gf_attr *a, const void *target, size_t tlen, int has_target)
{
	char *t = has_target ? esc(target, tlen) : strdup("-");
	char *r = fmt("inode %" PRIu64 " mode=0%o nlink=%u uid=%u gid=%u size=%" PRIu64
		      " rdev=%" PRIu64 " gen=%" PRIu64 " atime=%" PRId64 ".%09u mtime=%" PRId64
		      ".%09u ctime=%" PRId64 ".%09u symlink=%s",
		      a->ino, a->mode, a->nlink, a->uid, a->gid, a->size, a->rdev, a->gen,
		      a->atime.sec, a->atime.nsec, a->mtime.sec, a->mtime.nsec, a->ctime.sec,
		      a->ctime.nsec, t);
	free(t);
	return r;
}

static char *row_dirent(uint64_t parent, const void *name, size_t len, uint64_t ino,
			uint64_t cookie)
{
	char *n = esc(name, len);
	char *r = fmt("dirent %" PRIu64 " %s ino=%" PRIu64 " cookie=%" PRIu64, parent, n, ino,
		      cookie);
	free(n);
	return r;
}

static char *row_xattr(uint64_t ino, const char *name, const void *value, size_t len)
{
	char *n = esc(name, strlen(name)), *v = esc(value, len);
	char *r = fmt("xattr %" PRIu64 " %s = %s (%zu bytes)", ino, n, v, len);
	free(n);
	free(v);
	return r;
}

static char *row_replica(uint64_t ino, uint32_t host_id, uint64_t gen, uint64_t fgen)
{
	return fmt("replica ino=%" PRIu64 " host=%u gen=%" PRIu64 " fgen=%" PRIu64, ino, host_id,
		   gen, fgen);
}

static char *row_dead(uint64_t ino, uint32_t host_id, uint64_t fgen)
{
	return fmt("dead ino=%" PRIu64 " host=%u fgen=%" PRIu64, ino, host_id, fgen);
}

static char *row_host(const struct gf_change_host *h)
{
	char *n = esc(h->name, strlen(h->name)), *a = esc(h->addr, strlen(h->addr));
	char *r = fmt("host %u name=%s addr=%s port=%u capacity=%" PRIu64 " free=%" PRIu64,
		      h->host_id, n, a, h->port, h->capacity, h->free);
	free(n);
	free(a);
	return r;
}

static char *row_next_ino(uint64_t next)
{
	return fmt("next_ino %" PRIu64, next);
}

static char *row_idmap(uint8_t kind, const char *name, uint32_t id)
{
	char *n = esc(name, strlen(name));
	const char *k = kind == GF_IDMAP_USER ? "user" : kind == GF_IDMAP_GROUP ? "group" : "?";
	char *r = fmt("%s %s id=%u", k, n, id);
	free(n);
	return r;
}

/* old: recorded more than an hour ago (a record's time is when it was put). */
static char *row_once(uint64_t client, uint64_t seq, uint16_t op, uint64_t ino, int created,
		      int old)
{
	return fmt("once client=%016" PRIx64 " seq=%" PRIu64 " op=%u ino=%" PRIu64 "%s %s",
		   client, seq, op, ino, created ? " created" : "", old ? "old" : "recent");
}

/* the loader: every row it is given becomes a line */
static int ld_inode(void *arg, const struct gf_attr *a, const char *symlink)
{
	rows_add(arg, row_inode(a, symlink, symlink ? strlen(symlink) : 0, symlink != NULL));
	return 0;
}
static int ld_dirent(void *arg, uint64_t parent, const char *name, uint64_t ino,
		     uint64_t cookie)
{
	rows_add(arg, row_dirent(parent, name, strlen(name), ino, cookie));
	return 0;
}
static int ld_xattr(void *arg, uint64_t ino, const char *name, const void *value, size_t len)
{
	rows_add(arg, row_xattr(ino, name, value, len));
	return 0;
}
static int ld_replica(void *arg, uint64_t ino, uint32_t host_id, uint64_t gen, uint64_t fgen)
{
	rows_add(arg, row_replica(ino, host_id, gen, fgen));
	return 0;
}
static int ld_dead(void *arg, uint64_t ino, uint32_t host_id, uint64_t gen)
{
	rows_add(arg, row_dead(ino, host_id, gen));
	return 0;
}
static int ld_host(void *arg, const struct gf_change_host *h)
{
	rows_add(arg, row_host(h));
	return 0;
}
static void ld_next_ino(void *arg, uint64_t next)
{
	rows_add(arg, row_next_ino(next));
}
static int ld_idmap(void *arg, uint8_t kind, const char *name, uint32_t id)
{
	rows_add(arg, row_idmap(kind, name, id));
	return 0;
}
static int ld_once(void *arg, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		   int created, int64_t at)
{
	rows_add(arg, row_once(client, seq, op, ino, created, at < (int64_t)time(NULL) - 3600));
	return 0;
}

/* Everything a fresh store (open, migrate, load) finds in the database;
 * exactly-once records of clients silent for forget_s seconds are forgotten
 * first (0: none). */
static void load_rows_forgetting(struct rows *got, uint32_t forget_s)
{
	struct gf_store *s = store_migrated();
	struct gf_store_loader ld = {
		.arg = got, .inode = ld_inode, .dirent = ld_dirent, .xattr = ld_xattr,
		.replica = ld_replica, .dead = ld_dead, .host = ld_host,
		.next_ino = ld_next_ino, .idmap = ld_idmap, .once = ld_once,
		.once_forget_s = forget_s,
	};
	ck_assert_int_eq(gf_store_load(s, &ld), 0);
	gf_store_close(s);
}

static void load_rows(struct rows *got)
{
	load_rows_forgetting(got, 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void rows_expect_equal(const char *what, struct rows *want, struct rows *got)
{
	qsort(want->v, want->n, sizeof(char *), cmp_str);
	qsort(got->v, got->n, sizeof(char *), cmp_str);
	size_t i = 0;
	while (i < want->n && i < got->n && strcmp(want->v[i], got->v[i]) == 0)
		i++;
	if (i == want->n && i == got->n)
		return;
	for (size_t k = 0; k < want->n; k++)
		fprintf(stderr, "%s: want %.300s\n", what, want->v[k]);
	for (size_t k = 0; k < got->n; k++)
		fprintf(stderr, "%s: got  %.300s\n", what, got->v[k]);
	ck_abort_msg("%s: %zu rows wanted, %zu loaded; first difference at sorted row %zu: "
		     "want %.200s, got %.200s", what, want->n, got->n, i,
		     i < want->n ? want->v[i] : "(nothing)", i < got->n ? got->v[i] : "(nothing)");
}

/* ---- the row round trip: a table of cases ----------------------------------------------
 * Each case puts and deletes rows through transactions of the store
 * (commit() ends one) and says which rows must then load (want_*). */

struct rt {
	struct gf_store *s;
	struct gf_changes c; /* the transaction being built */
	struct rows want;
};

static struct gf_change *add(struct rt *t, enum gf_change_kind k, uint64_t a, uint64_t b,
			     uint64_t c, const void *name, size_t nlen, const void *blob,
			     size_t blen, int has_blob)
{
	struct gf_change *ch = gf_changes_add(&t->c, k, a, b, c, name, nlen, blob, blen, has_blob);
	ck_assert_ptr_nonnull(ch);
	return ch;
}

static void commit(struct rt *t)
{
	ck_assert_int_eq(commit_sync(t->s, &t->c), 0);
	gf_changes_free(&t->c);
}

/* a string literal as (bytes, length): names may hold any byte but NUL */
#define B(lit) lit, sizeof(lit) - 1

static void put_inode(struct rt *t, const struct gf_attr *a, const void *target, size_t tlen,
		      int has_target)
{
	add(t, GF_CHG_INODE_PUT, 0, 0, 0, NULL, 0, target, tlen, has_target)->attr = *a;
}
static void want_inode(struct rt *t, const struct gf_attr *a, const void *target, size_t tlen,
		       int has_target)
{
	rows_add(&t->want, row_inode(a, target, tlen, has_target));
}
static void del_inode(struct rt *t, uint64_t ino)
{
	add(t, GF_CHG_INODE_DEL, ino, 0, 0, NULL, 0, NULL, 0, 0);
}
static void put_dirent(struct rt *t, uint64_t parent, const char *name, size_t len,
		       uint64_t ino, uint64_t cookie)
{
	add(t, GF_CHG_DIRENT_PUT, parent, ino, cookie, name, len, NULL, 0, 0);
}
static void want_dirent(struct rt *t, uint64_t parent, const char *name, size_t len,
			uint64_t ino, uint64_t cookie)
{
	rows_add(&t->want, row_dirent(parent, name, len, ino, cookie));
}
static void del_dirent(struct rt *t, uint64_t parent, const char *name, size_t len)
{
	add(t, GF_CHG_DIRENT_DEL, parent, 0, 0, name, len, NULL, 0, 0);
}
static void put_xattr(struct rt *t, uint64_t ino, const char *name, const void *v, size_t len)
{
	add(t, GF_CHG_XATTR_PUT, ino, 0, 0, name, strlen(name), v, len, 1);
}
static void want_xattr(struct rt *t, uint64_t ino, const char *name, const void *v, size_t len)
{
	rows_add(&t->want, row_xattr(ino, name, v, len));
}
static void del_xattr(struct rt *t, uint64_t ino, const char *name)
{
	add(t, GF_CHG_XATTR_DEL, ino, 0, 0, name, strlen(name), NULL, 0, 0);
}
static void put_replica(struct rt *t, uint64_t ino, uint32_t host_id, uint64_t gen,
			uint64_t fgen)
{
	add(t, GF_CHG_REPLICA_PUT, ino, host_id, gen, NULL, 0, NULL, 0, 0)->d = fgen;
}
static void want_replica(struct rt *t, uint64_t ino, uint32_t host_id, uint64_t gen,
			 uint64_t fgen)
{
	rows_add(&t->want, row_replica(ino, host_id, gen, fgen));
}
static void del_replica(struct rt *t, uint64_t ino, uint32_t host_id)
{
	add(t, GF_CHG_REPLICA_DEL, ino, host_id, 0, NULL, 0, NULL, 0, 0);
}
static void put_dead(struct rt *t, uint64_t ino, uint32_t host_id, uint64_t gen)
{
	add(t, GF_CHG_DEAD_PUT, ino, host_id, gen, NULL, 0, NULL, 0, 0);
}
static void want_dead(struct rt *t, uint64_t ino, uint32_t host_id, uint64_t gen)
{
	rows_add(&t->want, row_dead(ino, host_id, gen));
}
static void del_dead(struct rt *t, uint64_t ino, uint32_t host_id, uint64_t gen)
{
	add(t, GF_CHG_DEAD_DEL, ino, host_id, gen, NULL, 0, NULL, 0, 0);
}
static void put_host(struct rt *t, const struct gf_change_host *h)
{
	add(t, GF_CHG_HOST_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0)->host = *h;
}
static void want_host(struct rt *t, const struct gf_change_host *h)
{
	rows_add(&t->want, row_host(h));
}
static void put_next_ino(struct rt *t, uint64_t next)
{
	add(t, GF_CHG_NEXT_INO, next, 0, 0, NULL, 0, NULL, 0, 0);
}
static void want_next_ino(struct rt *t, uint64_t next)
{
	rows_add(&t->want, row_next_ino(next));
}
static void put_idmap(struct rt *t, uint8_t kind, const char *name, uint32_t id)
{
	add(t, GF_CHG_IDMAP_PUT, kind, id, 0, name, strlen(name), NULL, 0, 0);
}
static void want_idmap(struct rt *t, uint8_t kind, const char *name, uint32_t id)
{
	rows_add(&t->want, row_idmap(kind, name, id));
}
static void del_idmap(struct rt *t, uint8_t kind, const char *name, uint32_t id)
{
	add(t, GF_CHG_IDMAP_DEL, kind, id, 0, name, strlen(name), NULL, 0, 0);
}

static void put_once(struct rt *t, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		     int created)
{
	struct gf_once_id id = { .client = client, .seq = seq, .op = op };
	gf_changes_once(&t->c, &id, ino, created);
	ck_assert_int_eq(t->c.err, 0);
}
static void want_once(struct rt *t, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		      int created)
{
	rows_add(&t->want, row_once(client, seq, op, ino, created, 0));
}
static void del_once(struct rt *t, uint64_t client, uint64_t after, uint64_t upto)
{
	add(t, GF_CHG_ONCE_DEL, client, upto, after, NULL, 0, NULL, 0, 0);
}

static struct gf_attr attr(uint64_t ino, uint32_t mode)
{
	struct gf_attr a = { .ino = ino, .mode = mode, .nlink = 1, .uid = 1000, .gid = 100,
			     .gen = 1, .atime = { 1700000000, 1 }, .mtime = { 1700000000, 2 },
			     .ctime = { 1700000000, 3 } };
	return a;
}

static void case_inode_attrs(struct rt *t)
{
	struct gf_attr big = {
		.ino = (1ULL << 53) + 1, /* past a double's precision */
		.mode = S_IFREG | 07777,
		.nlink = UINT32_MAX,
		.uid = 4294967294u, /* (uid_t)-2: nobody on some systems */
		.gid = 4294967294u,
		.size = (1ULL << 40) + 12345,
		.rdev = 0x8000000000000001ULL,
		.gen = UINT64_MAX,
		.atime = { INT64_MIN, 1 },
		.mtime = { INT64_MAX, 999999999 },
		.ctime = { -1234567890, 500000000 },
	};
	put_inode(t, &big, NULL, 0, 0);
	want_inode(t, &big, NULL, 0, 0);

	struct gf_attr dev = attr(2, S_IFCHR | 0620);
	dev.rdev = (136 << 8) | 3;
	dev.size = (1ULL << 32) + 1;
	dev.atime = (struct gf_timespec){ -1, 999999999 }; /* just before 1970 */
	dev.mtime = (struct gf_timespec){ 253402300799, 0 }; /* 9999-12-31 23:59:59 */
	dev.ctime = (struct gf_timespec){ 0, 0 };
	put_inode(t, &dev, NULL, 0, 0);
	want_inode(t, &dev, NULL, 0, 0);

	/* a symlink target is any bytes but NUL, up to GF_PATH_MAX - 1 of them */
	char target[GF_PATH_MAX - 1];
	for (size_t i = 0; i < sizeof(target); i++)
		target[i] = (char)(1 + i % 255);
	struct gf_attr ln = attr(3, S_IFLNK | 0777);
	ln.size = sizeof(target);
	put_inode(t, &ln, target, sizeof(target), 1);
	want_inode(t, &ln, target, sizeof(target), 1);

	struct gf_attr odd = attr(4, S_IFLNK | 0777);
	put_inode(t, &odd, B("..\xff\n/\\ \"x"), 1);
	want_inode(t, &odd, B("..\xff\n/\\ \"x"), 1);

	/* an empty target is a value, not the absence of one */
	struct gf_attr empty = attr(5, S_IFLNK | 0777);
	put_inode(t, &empty, "", 0, 1);
	want_inode(t, &empty, "", 0, 1);
	commit(t);
}

static void case_inode_replace(struct rt *t)
{
	struct gf_attr a = attr(10, S_IFLNK | 0777);
	put_inode(t, &a, B("old"), 1);
	commit(t);
	struct gf_attr b = { .ino = 10, .mode = S_IFREG | 0600, .nlink = 2, .uid = 7, .gid = 8,
			     .size = 9, .rdev = 10, .gen = 11, .atime = { 12, 13 },
			     .mtime = { 14, 15 }, .ctime = { 16, 17 } };
	put_inode(t, &b, NULL, 0, 0); /* every field changes, the target goes */
	commit(t);
	want_inode(t, &b, NULL, 0, 0);
}

/* One transaction that puts a row several times (only the last is sent),
 * puts then deletes one, and deletes then puts one (the delete still takes
 * the xattrs) */
static void case_inode_many_in_one(struct rt *t)
{
	struct gf_attr a = attr(30, S_IFDIR | 0755), b = attr(31, S_IFREG | 0644),
		       c = attr(32, S_IFREG | 0644);
	put_inode(t, &c, NULL, 0, 0);
	put_xattr(t, 32, "user.x", B("1"));
	commit(t);
	for (int i = 0; i < 5; i++) {
		a.nlink = 2 + (uint32_t)i;
		a.mtime.sec = 1000 + i;
		put_inode(t, &a, NULL, 0, 0);
		put_inode(t, &b, NULL, 0, 0);
	}
	del_inode(t, 31);
	del_inode(t, 32);
	c.size = 77;
	put_inode(t, &c, NULL, 0, 0);
	commit(t);
	want_inode(t, &a, NULL, 0, 0); /* the last of the five */
	want_inode(t, &c, NULL, 0, 0); /* no user.x */
}

static void case_inode_del(struct rt *t)
{
	struct gf_attr a = attr(20, S_IFREG | 0644), b = attr(21, S_IFREG | 0644);
	put_inode(t, &a, NULL, 0, 0);
	put_inode(t, &b, NULL, 0, 0);
	put_xattr(t, 20, "user.a", B("1"));
	put_xattr(t, 20, "user.b", B("2"));
	put_xattr(t, 21, "user.a", B("3"));
	put_dirent(t, 1, B("f"), 20, 7);
	commit(t);
	/* an inode goes with its xattrs; its entries are the namespace's to delete */
	del_inode(t, 20);
	del_inode(t, 999); /* none: nothing happens */
	commit(t);
	want_inode(t, &b, NULL, 0, 0);
	want_xattr(t, 21, "user.a", B("3"));
	want_dirent(t, 1, B("f"), 20, 7);
}

static void case_dirent_names(struct rt *t)
{
	/* any bytes but NUL and '/', up to GF_NAME_MAX of them */
	char longest[GF_NAME_MAX];
	for (size_t i = 0, b = 1; i < sizeof(longest); i++, b = b % 255 + 1)
		longest[i] = (char)(b == '/' ? '.' : b);
	put_dirent(t, 1, longest, sizeof(longest), 30, 1);
	want_dirent(t, 1, longest, sizeof(longest), 30, 1);
	static const struct {
		const char *name;
		size_t len;
	} names[] = {
		{ B("a\xff\nb") }, { B("\xff") }, { B(" ") }, { B("\\") }, { B("\xc3\x28") },
		{ B(".x") }, { B("\x7f\t\r") }, { B("\xe6\x97\xa5\xe6\x9c\xac") }, { B("'; --") },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		put_dirent(t, 1, names[i].name, names[i].len, 31 + i, 2 + i);
		want_dirent(t, 1, names[i].name, names[i].len, 31 + i, 2 + i);
	}
	/* the same name in another directory; big numbers */
	put_dirent(t, (1ULL << 40) + 1, B("a\xff\nb"), (1ULL << 53) + 3, (1ULL << 62) + 5);
	want_dirent(t, (1ULL << 40) + 1, B("a\xff\nb"), (1ULL << 53) + 3, (1ULL << 62) + 5);
	commit(t);
}

static void case_dirent_replace_del(struct rt *t)
{
	put_dirent(t, 1, B("x"), 40, 1);
	put_dirent(t, 1, B("y"), 41, 2);
	put_dirent(t, 2, B("x"), 42, 1);
	put_dirent(t, 1, B("a\xff\nb"), 43, 3);
	commit(t);
	put_dirent(t, 1, B("x"), 44, 5); /* rename over x */
	del_dirent(t, 1, B("y"));
	del_dirent(t, 1, B("a\xff\nb"));
	del_dirent(t, 1, B("a\xff")); /* none */
	commit(t);
	want_dirent(t, 1, B("x"), 44, 5);
	want_dirent(t, 2, B("x"), 42, 1);
}

static void case_xattrs(struct rt *t)
{
	static const char nuls[] = "\0a\0\0b\0";
	put_xattr(t, 50, "user.nuls", nuls, sizeof(nuls)); /* the final NUL too */
	want_xattr(t, 50, "user.nuls", nuls, sizeof(nuls));
	put_xattr(t, 50, "user.empty", "", 0);
	want_xattr(t, 50, "user.empty", "", 0);
	static unsigned char big[GF_XATTR_SIZE_MAX];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + (i >> 8));
	put_xattr(t, 50, "security.big", big, sizeof(big));
	want_xattr(t, 50, "security.big", big, sizeof(big));
	char name[GF_XATTR_NAME_MAX + 1];
	memset(name, 'n', GF_XATTR_NAME_MAX);
	memcpy(name, "user.", 5);
	name[GF_XATTR_NAME_MAX] = 0;
	put_xattr(t, 51, name, B("\xff\xfe"));
	want_xattr(t, 51, name, B("\xff\xfe"));
	put_xattr(t, 51, "user.\xc3\xa9t\xc3\xa9", B("v1"));
	put_xattr(t, 51, "user.gone", B("v"));
	commit(t);
	put_xattr(t, 51, "user.\xc3\xa9t\xc3\xa9", B("v2")); /* replaces */
	del_xattr(t, 51, "user.gone");
	del_xattr(t, 51, "user.none");
	commit(t);
	want_xattr(t, 51, "user.\xc3\xa9t\xc3\xa9", B("v2"));
}

static void case_replicas(struct rt *t)
{
	put_replica(t, 60, 1, 1, 1);
	put_replica(t, 60, 2, 1, 1);
	put_replica(t, 61, 1, 3, 2);
	put_replica(t, (1ULL << 53) + 1, INT32_MAX, (1ULL << 40) + 1, (1ULL << 40) - 7);
	commit(t);
	put_replica(t, 60, 1, 2, 1); /* a new generation replaces the old one */
	del_replica(t, 60, 2);
	del_replica(t, 62, 1); /* none */
	commit(t);
	want_replica(t, 60, 1, 2, 1);
	want_replica(t, 61, 1, 3, 2);
	want_replica(t, (1ULL << 53) + 1, INT32_MAX, (1ULL << 40) + 1, (1ULL << 40) - 7);
}

static void case_dead_replicas(struct rt *t)
{
	put_dead(t, 70, 1, 1);
	put_dead(t, 70, 1, 2); /* several generations of one file on one host */
	put_dead(t, 70, 2, 1);
	put_dead(t, 70, 1, 1); /* twice is once */
	commit(t);
	put_dead(t, 70, 1, 1);
	commit(t);
	del_dead(t, 70, 1, 1);
	del_dead(t, 70, 2, 9); /* another generation: stays */
	commit(t);
	want_dead(t, 70, 1, 2);
	want_dead(t, 70, 2, 1);
}

static void case_hosts(struct rt *t)
{
	struct gf_change_host a = { .host_id = 1, .port = 6601, .capacity = 1ULL << 42,
				    .free = (1ULL << 41) + 1 };
	snprintf(a.name, sizeof(a.name), "node1");
	snprintf(a.addr, sizeof(a.addr), "10.0.0.1");
	struct gf_change_host b = { .host_id = INT32_MAX, .port = 65535 };
	memset(b.name, 'h', GF_HOST_MAX);
	snprintf(b.addr, sizeof(b.addr), "fe80::1%%eth0");
	put_host(t, &a);
	put_host(t, &b);
	commit(t);
	snprintf(a.addr, sizeof(a.addr), "node1.example.org");
	a.port = 1;
	a.free = 0;
	put_host(t, &a); /* a new address, port and free space */
	commit(t);
	want_host(t, &a);
	want_host(t, &b);
}

static void case_next_ino(struct rt *t)
{
	put_next_ino(t, 100);
	put_next_ino(t, 50); /* in one transaction */
	commit(t);
	put_next_ino(t, 70); /* in a later one */
	commit(t);
	want_next_ino(t, 100);
}

static void case_next_ino_forward(struct rt *t)
{
	put_next_ino(t, 100);
	commit(t);
	put_next_ino(t, (1ULL << 40) + 1);
	commit(t);
	want_next_ino(t, (1ULL << 40) + 1);
}

static void case_idmap_replace(struct rt *t)
{
	put_idmap(t, GF_IDMAP_USER, "alice", 1000);
	put_idmap(t, GF_IDMAP_GROUP, "alice", 1000); /* users and groups are apart */
	commit(t);
	put_idmap(t, GF_IDMAP_USER, "alice", 1001); /* same name: replaces */
	put_idmap(t, GF_IDMAP_USER, "nobody", 4294967294u);
	commit(t);
	put_idmap(t, GF_IDMAP_USER, "carol", 1001); /* same id: replaces alice */
	put_idmap(t, GF_IDMAP_GROUP, "staff", 50);
	put_idmap(t, GF_IDMAP_GROUP, "staff", 51);
	commit(t);
	want_idmap(t, GF_IDMAP_USER, "carol", 1001);
	want_idmap(t, GF_IDMAP_USER, "nobody", 4294967294u);
	want_idmap(t, GF_IDMAP_GROUP, "alice", 1000);
	want_idmap(t, GF_IDMAP_GROUP, "staff", 51);
}

/* Client ids are any 64 bits (the high one too), seqs up to 2^63 - 1; a put
 * of the same (client, seq) replaces; a delete takes one client's seqs in a
 * range (after, upto], everything of it from 0 to beyond INT64_MAX. */
static void case_once(struct rt *t)
{
	const uint64_t a = 0xfedcba9876543210ull, b = 0x0123456789abcdefull, c = UINT64_MAX;
	put_once(t, a, 1, GFM_MKDIR, 17, 0);
	put_once(t, a, 2, GFM_UNLINK, 0, 0);
	put_once(t, a, 3, GFM_CREATE, 18, 1);
	put_once(t, a, 4, GFM_CREATE, 21, 0); /* opened, not created */
	put_once(t, a, (uint64_t)INT64_MAX, GFM_RENAME, 0, 0);
	put_once(t, b, 1, GFM_LINK, (1ull << 53) + 1, 0);
	put_once(t, c, 5, GFM_IDMAP_DEL, 0, 0);
	commit(t);
	put_once(t, b, 1, GFM_SYMLINK, 19, 1); /* replaces */
	del_once(t, a, 1, 3);			/* a's 2 and 3, not 1 */
	commit(t);
	want_once(t, a, 1, GFM_MKDIR, 17, 0);
	want_once(t, a, 4, GFM_CREATE, 21, 0);
	want_once(t, a, (uint64_t)INT64_MAX, GFM_RENAME, 0, 0);
	want_once(t, b, 1, GFM_SYMLINK, 19, 1);
	put_once(t, c, 6, GFM_OPEN, 20, 0);
	del_once(t, c, 0, UINT64_MAX); /* all of c's, the one of this transaction too */
	commit(t);
	del_once(t, b, 0, 0); /* nothing */
	commit(t);
}

static void case_idmap_del(struct rt *t)
{
	put_idmap(t, GF_IDMAP_USER, "a", 1);
	put_idmap(t, GF_IDMAP_USER, "b", 2);
	put_idmap(t, GF_IDMAP_USER, "c", 3);
	put_idmap(t, GF_IDMAP_GROUP, "g", 5);
	put_idmap(t, GF_IDMAP_GROUP, "a", 1);
	commit(t);
	del_idmap(t, GF_IDMAP_USER, "a", 1);
	del_idmap(t, GF_IDMAP_USER, "zz", 2); /* by id */
	del_idmap(t, GF_IDMAP_GROUP, "g", 99); /* by name */
	commit(t);
	want_idmap(t, GF_IDMAP_USER, "c", 3);
	want_idmap(t, GF_IDMAP_GROUP, "a", 1);
}

/* One change of every kind in one transaction (deletes of rows put just
 * before). The switch has no default, so that a new kind makes -Wswitch
 * (-Wall) point here; numbers that name no kind match no case. */
static void case_every_kind(struct rt *t)
{
	struct gf_attr a = attr(80, S_IFREG | 0644), gone = attr(81, S_IFREG | 0644);
	struct gf_change_host h = { .host_id = 3, .port = 6601, .capacity = 10, .free = 5 };
	snprintf(h.name, sizeof(h.name), "node3");
	snprintf(h.addr, sizeof(h.addr), "10.0.0.3");
	for (int k = 0; k < 64; k++) {
		switch ((enum gf_change_kind)k) {
		case GF_CHG_INODE_PUT:
			put_inode(t, &a, NULL, 0, 0);
			want_inode(t, &a, NULL, 0, 0);
			break;
		case GF_CHG_INODE_DEL:
			put_inode(t, &gone, NULL, 0, 0);
			del_inode(t, 81);
			break;
		case GF_CHG_DIRENT_PUT:
			put_dirent(t, 1, B("m"), 80, 1);
			want_dirent(t, 1, B("m"), 80, 1);
			break;
		case GF_CHG_DIRENT_DEL:
			put_dirent(t, 1, B("gone"), 81, 2);
			del_dirent(t, 1, B("gone"));
			break;
		case GF_CHG_XATTR_PUT:
			put_xattr(t, 80, "user.m", B("v"));
			want_xattr(t, 80, "user.m", B("v"));
			break;
		case GF_CHG_XATTR_DEL:
			put_xattr(t, 80, "user.gone", B("v"));
			del_xattr(t, 80, "user.gone");
			break;
		case GF_CHG_REPLICA_PUT:
			put_replica(t, 80, 3, 1, 1);
			want_replica(t, 80, 3, 1, 1);
			break;
		case GF_CHG_REPLICA_DEL:
			put_replica(t, 80, 4, 1, 1);
			del_replica(t, 80, 4);
			break;
		case GF_CHG_DEAD_PUT:
			put_dead(t, 79, 3, 1);
			want_dead(t, 79, 3, 1);
			break;
		case GF_CHG_DEAD_DEL:
			put_dead(t, 79, 3, 2);
			del_dead(t, 79, 3, 2);
			break;
		case GF_CHG_HOST_PUT:
			put_host(t, &h);
			want_host(t, &h);
			break;
		case GF_CHG_NEXT_INO:
			put_next_ino(t, 82);
			want_next_ino(t, 82);
			break;
		case GF_CHG_IDMAP_PUT:
			put_idmap(t, GF_IDMAP_USER, "m", 1000);
			want_idmap(t, GF_IDMAP_USER, "m", 1000);
			break;
		case GF_CHG_IDMAP_DEL:
			put_idmap(t, GF_IDMAP_GROUP, "gone", 7);
			del_idmap(t, GF_IDMAP_GROUP, "gone", 7);
			break;
		case GF_CHG_ONCE_PUT:
			put_once(t, 42, 7, GFM_CREATE, 80, 1);
			want_once(t, 42, 7, GFM_CREATE, 80, 1);
			break;
		case GF_CHG_ONCE_DEL:
			put_once(t, 43, 1, GFM_UNLINK, 0, 0);
			del_once(t, 43, 0, 1);
			break;
		}
	}
	commit(t);
}

/* Every order of puts and deletes of one key within a transaction ends as
 * the last change says; the same numbers as keys of different tables stay
 * apart; an xattr put after its inode's delete, and once puts around a
 * trim, keep the batch's order: whatever way a store sends a batch. */
static void case_last_change_per_key(struct rt *t)
{
	struct gf_attr a = attr(40, S_IFREG | 0644), b = attr(41, S_IFREG | 0644);
	put_dirent(t, 2, B("gone"), 50, 1);
	put_replica(t, 5, 1, 1, 1);
	put_replica(t, 6, 1, 1, 1);
	put_dead(t, 7, 1, 1);
	put_inode(t, &b, NULL, 0, 0);
	put_xattr(t, 41, "user.old", B("o"));
	put_xattr(t, 40, "user.keep", B("k"));
	put_once(t, 9, 1, GFM_MKDIR, 17, 0);
	commit(t);
	/* dirent: put then delete, delete then put, put twice, put-delete-put */
	put_dirent(t, 2, B("a"), 51, 2);
	del_dirent(t, 2, B("a"));
	del_dirent(t, 2, B("gone"));
	put_dirent(t, 2, B("gone"), 52, 3);
	put_dirent(t, 2, B("c"), 53, 4);
	put_dirent(t, 2, B("c"), 54, 5);
	put_dirent(t, 3, B("c"), 55, 6); /* another directory, the same name */
	del_dirent(t, 3, B("c"));
	put_dirent(t, 3, B("c"), 56, 7);
	/* replica: an existing one deleted and put again; one put then deleted */
	del_replica(t, 5, 1);
	put_replica(t, 5, 1, 2, 2);
	del_replica(t, 6, 1);
	put_replica(t, 8, 2, 1, 1);
	del_replica(t, 8, 2);
	/* dead: an existing one deleted; one put, deleted and put again */
	del_dead(t, 7, 1, 1);
	put_dead(t, 5, 1, 1);
	del_dead(t, 5, 1, 1);
	put_dead(t, 5, 1, 1);
	/* inode 41 deleted (its xattr with it) and made again; 40 put twice;
	 * an xattr put after a delete of its inode stays (xattr order kept) */
	del_inode(t, 41);
	b.size = 9;
	put_inode(t, &b, NULL, 0, 0);
	put_inode(t, &a, NULL, 0, 0);
	a.size = 3;
	put_inode(t, &a, NULL, 0, 0);
	put_xattr(t, 41, "user.new", B("n"));
	/* once: puts of the same numbers as the replica's key, a trim between */
	put_once(t, 5, 1, GFM_CREATE, 60, 1);
	put_once(t, 9, 2, GFM_CREATE, 61, 1);
	del_once(t, 9, 0, 2);
	put_once(t, 9, 3, GFM_UNLINK, 0, 0);
	commit(t);
	/* an inode's delete takes its xattrs in a batch with no xattr put */
	del_inode(t, 40);
	put_dirent(t, 2, B("d"), 57, 8);
	commit(t);
	want_dirent(t, 2, B("gone"), 52, 3);
	want_dirent(t, 2, B("c"), 54, 5);
	want_dirent(t, 3, B("c"), 56, 7);
	want_dirent(t, 2, B("d"), 57, 8);
	want_replica(t, 5, 1, 2, 2);
	want_dead(t, 5, 1, 1);
	want_inode(t, &b, NULL, 0, 0);
	want_xattr(t, 41, "user.new", B("n"));
	want_once(t, 5, 1, GFM_CREATE, 60, 1);
	want_once(t, 9, 3, GFM_UNLINK, 0, 0);
}

static const struct rt_case {
	const char *what;
	void (*run)(struct rt *t);
} rt_cases[] = {
	{ "inode: every attribute, extreme values, symlink targets", case_inode_attrs },
	{ "inode: a put replaces every field", case_inode_replace },
	{ "inode: a delete takes its xattrs along, not its entries", case_inode_del },
	{ "inode: puts and deletes of one row in one transaction", case_inode_many_in_one },
	{ "dirent: names of any bytes but NUL and '/'", case_dirent_names },
	{ "dirent: a put replaces ino and cookie, a delete removes one name", case_dirent_replace_del },
	{ "xattr: values are bytes (NULs, empty, 64 KiB), put replaces, delete", case_xattrs },
	{ "replica: a put replaces the generation, a delete removes one host's", case_replicas },
	{ "dead replica: a put twice is one row, a delete needs the generation", case_dead_replicas },
	{ "host: put inserts and replaces", case_hosts },
	{ "next_ino never goes back, within and across transactions", case_next_ino },
	{ "next_ino goes forward", case_next_ino_forward },
	{ "users/groups: a put replaces the row of the same name or the same id", case_idmap_replace },
	{ "users/groups: a delete removes the row of the name or of the id", case_idmap_del },
	{ "once: any client id, a put replaces, a delete of a range of seqs", case_once },
	{ "every change kind in one transaction", case_every_kind },
	{ "the last change of a key decides, orders kept where ranges go", case_last_change_per_key },
};
#define N_RT_CASES ((int)(sizeof(rt_cases) / sizeof(rt_cases[0])))

START_TEST(test_roundtrip)
{
	const struct rt_case *rc = &rt_cases[_i];
	struct rt t = { .s = store_started() };
	gf_changes_init(&t.c);
	rc->run(&t);
	ck_assert_uint_eq(t.c.n, 0); /* every change was committed */
	gf_store_close(t.s);
	struct rows got = { 0 };
	load_rows(&got);
	rows_expect_equal(rc->what, &t.want, &got);
	rows_free(&got);
	rows_free(&t.want);
}
END_TEST

/* One transaction far larger than the socket buffers both ways; loaded
 * back in batches (store_pg.c reads a table 10000 rows at a time): the
 * entries fill exactly two, the replicas two and a bit of a third. */
START_TEST(test_big_batch)
{
	enum { N = 20000, EXTRA = 7 };
	struct rt t = { .s = store_started() };
	gf_changes_init(&t.c);
	for (int i = 0; i < N; i++) {
		char name[32];
		int len = snprintf(name, sizeof(name), "file-%06d", i);
		put_dirent(&t, 1, name, (size_t)len, 1000 + (uint64_t)i, (uint64_t)i + 1);
		put_replica(&t, 1000 + (uint64_t)i, 1, 1, 1);
	}
	for (int i = 0; i < EXTRA; i++)
		put_replica(&t, 1000 + (uint64_t)i, 2, 1, 1);
	put_next_ino(&t, 1000 + N);
	commit(&t);
	gf_store_close(t.s);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM dirent"), N);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM replica"), N + EXTRA);
	ck_assert_int_eq(sql_int("SELECT count(DISTINCT xmin::text) FROM dirent"), 1);
	struct rows got = { 0 };
	load_rows(&got);
	ck_assert_uint_eq(got.n, 2 * N + EXTRA + 1);
	rows_free(&got);
}
END_TEST

/* At start-up the exactly-once records of clients silent for longer than
 * once_forget_s are deleted before loading: a client counts as silent by its
 * newest record. */
START_TEST(test_once_forget_silent)
{
	struct rt t = { .s = store_started() };
	gf_changes_init(&t.c);
	put_once(&t, 1, 10, GFM_MKDIR, 5, 1);  /* silent: both rows old */
	put_once(&t, 1, 11, GFM_UNLINK, 0, 0);
	put_once(&t, 2, 20, GFM_MKDIR, 6, 1);  /* one old row, one new: kept */
	put_once(&t, 2, 21, GFM_RMDIR, 0, 0);
	put_once(&t, 3, 30, GFM_CREATE, 7, 1); /* new */
	commit(&t);
	gf_store_close(t.s);
	sql("UPDATE once_reply SET at = now() - interval '2 days' WHERE client = 1 "
	    "OR (client = 2 AND seq = 20)");
	struct rows got = { 0 }, want = { 0 };
	rows_add(&want, row_once(2, 20, GFM_MKDIR, 6, 1, 1));
	rows_add(&want, row_once(2, 21, GFM_RMDIR, 0, 0, 0));
	rows_add(&want, row_once(3, 30, GFM_CREATE, 7, 1, 0));
	load_rows_forgetting(&got, 86400);
	rows_expect_equal("loading, silent client 1 forgotten", &want, &got);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM once_reply WHERE client = 1"), 0);
	rows_free(&got);
	load_rows(&got); /* and gone for good */
	rows_expect_equal("loading again", &want, &got);
	rows_free(&got);
	rows_free(&want);
}
END_TEST

/* ---- migrations ------------------------------------------------------------------------ */

#define MAX_TABLES 64
struct tables {
	char name[MAX_TABLES][64];
	int n;
};

static void tables_add(struct tables *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0)
			return;
	ck_assert_int_lt(t->n, MAX_TABLES);
	snprintf(t->name[t->n++], sizeof(t->name[0]), "%s", name);
}

static void tables_del(struct tables *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0) {
			memmove(t->name[i], t->name[i + 1], (size_t)(t->n - i - 1) * sizeof(t->name[0]));
			t->n--;
			return;
		}
}

static int word_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* The tables a migration leaves behind, in the order it creates them, read
 * from its CREATE [UNLOGGED|TEMP] TABLE [IF NOT EXISTS] and DROP TABLE [IF
 * EXISTS] statements: a new sql/NNN_*.sql needs no change here. */
static void tables_of(const char *sqltext, struct tables *t)
{
	/* its words, lower-cased, and dots; comments left out */
	size_t max = strlen(sqltext) + 1, n = 0;
	char(*w)[64] = calloc(max, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	for (const char *p = sqltext; *p;) {
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
		} else if (*p == '.') {
			strcpy(w[n++], ".");
			p++;
		} else if (word_char(*p)) {
			size_t k = 0;
			for (; word_char(*p); p++)
				if (k < sizeof(w[0]) - 1)
					w[n][k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			n++;
		} else {
			p++;
		}
	}
#define IS(i, word) ((i) < n && strcmp(w[i], word) == 0)
	for (size_t i = 0; i < n; i++) {
		int create = IS(i, "create"), drop = IS(i, "drop");
		size_t j = i + 1;
		if (create && (IS(j, "unlogged") || IS(j, "temp") || IS(j, "temporary")))
			j++;
		if (!(create || drop) || !IS(j, "table"))
			continue;
		j++;
		if (create && IS(j, "if") && IS(j + 1, "not") && IS(j + 2, "exists"))
			j += 3;
		else if (drop && IS(j, "if") && IS(j + 1, "exists"))
			j += 2;
		if (IS(j + 1, ".")) /* schema.name */
			j += 2;
		if (j >= n)
			continue;
		if (create)
			tables_add(t, w[j]);
		else
			tables_del(t, w[j]);
	}
#undef IS
	free(w);
}

static void tables_of_all(struct tables *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < gf_migrations_count; i++)
		tables_of(gf_migrations[i].sql, t);
}

START_TEST(test_tables_of_parses)
{
	struct tables t = { 0 };
	tables_of("-- create table not_me (x int);\n/* create table nor_me */\n"
		  "CREATE TABLE a (x int);\ncreate unlogged table IF NOT EXISTS b(y int);\n"
		  "CREATE INDEX c ON a (x); create table\n\td (z int); DROP TABLE a;\n"
		  "drop table if exists zz; CREATE FUNCTION f() ...;\n"
		  "CREATE TABLE IF NOT EXISTS public.e (\"Q\" int);",
		  &t);
	ck_assert_int_eq(t.n, 3);
	ck_assert_str_eq(t.name[0], "b");
	ck_assert_str_eq(t.name[1], "d");
	ck_assert_str_eq(t.name[2], "e");
}
END_TEST

static int table_exists(const char *name)
{
	return (int)sql_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND "
			    "tablename = '%s'", name);
}

START_TEST(test_migrate_empty)
{
	struct gf_store *s = store_migrated();
	struct tables t;
	tables_of_all(&t);
	ck_assert_int_ge(t.n, 1);
	for (int i = 0; i < t.n; i++)
		ck_assert_msg(table_exists(t.name[i]), "table %s is missing after the migrations",
			      t.name[i]);
	ck_assert_msg(table_exists("schema_version"), "no schema_version");
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
			 t.n + 1);
	/* every migration recorded, in order */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM schema_version"), (long long)gf_migrations_count);
	for (size_t i = 0; i < gf_migrations_count; i++) {
		char *name = sql_text("SELECT name FROM schema_version WHERE version = %d",
				      gf_migrations[i].version);
		ck_assert_str_eq(name, gf_migrations[i].name);
		free(name);
	}
	/* and nothing to load in a new database */
	gf_store_close(s);
	struct rows got = { 0 };
	load_rows(&got);
	ck_assert_uint_eq(got.n, 0);
	rows_free(&got);
}
END_TEST

/* What migrations could change: the tables' columns, the indexes, and
 * what schema_version records (with the time of each migration). */
static char *schema_fingerprint(void)
{
	char *cols = sql_text(
		"SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || "
		"is_nullable || ':' || coalesce(column_default, ''), ',' "
		"ORDER BY table_name, ordinal_position) FROM information_schema.columns "
		"WHERE table_schema = 'public'");
	char *idx = sql_text("SELECT string_agg(indexdef, ',' ORDER BY indexname) FROM pg_indexes "
			     "WHERE schemaname = 'public'");
	char *ver = sql_text("SELECT string_agg(version || ' ' || name || ' ' || applied_at, ',' "
			     "ORDER BY version) FROM schema_version");
	char *r = fmt("%s\n%s\n%s", cols, idx, ver);
	free(cols);
	free(idx);
	free(ver);
	return r;
}

START_TEST(test_migrate_twice)
{
	struct gf_store *s = store_migrated();
	char *before = schema_fingerprint();
	ck_assert_int_eq(gf_store_migrate(s), 0); /* again in the same session */
	gf_store_close(s);
	s = store_migrated(); /* and after a restart */
	gf_store_close(s);
	char *after = schema_fingerprint();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_migrate_newer_schema)
{
	struct gf_store *s = store_migrated();
	gf_store_close(s);
	int known = 0;
	for (size_t i = 0; i < gf_migrations_count; i++)
		if (gf_migrations[i].version > known)
			known = gf_migrations[i].version;
	/* a later gfmd ran here before */
	sql("INSERT INTO schema_version (version, name) VALUES (%d, '%d_from_the_future.sql')",
	    known + 1000, known + 1000);
	log_capture();
	s = store_migrated();
	char want[128];
	snprintf(want, sizeof(want), "the database has schema version %d, newer than this gfmd "
				     "knows (%d)", known + 1000, known);
	ck_assert_msg(log_has(want), "no warning '%s' in the log", want);
	/* and it works */
	uint8_t id[GF_CLUSTER_ID_LEN];
	ck_assert_int_eq(gf_store_cluster_id(s, id), 0);
	ck_assert_int_eq(gf_store_start(s), 0);
	struct rt t = { .s = s };
	gf_changes_init(&t.c);
	put_dirent(&t, 1, B("works"), 2, 3);
	want_dirent(&t, 1, B("works"), 2, 3);
	commit(&t);
	gf_store_close(s);
	struct rows got = { 0 };
	load_rows(&got);
	rows_expect_equal("newer schema", &t.want, &got);
	rows_free(&got);
	rows_free(&t.want);
}
END_TEST

/* A migration that fails leaves nothing of itself behind, and says so. */
START_TEST(test_migration_failure_rolls_back)
{
	struct tables first = { 0 };
	tables_of(gf_migrations[0].sql, &first);
	ck_assert_msg(first.n >= 2, "the first migration creates %d tables", first.n);
	/* something in the way of its last table */
	sql("CREATE TABLE %s (in_the_way integer)", first.name[first.n - 1]);
	log_capture();
	struct gf_store *s = store_open();
	ck_assert_int_lt(gf_store_migrate(s), 0);
	gf_store_close(s);
	char want[300];
	snprintf(want, sizeof(want), "migration %s failed", gf_migrations[0].name);
	ck_assert_msg(log_has(want), "no '%s' in the log", want);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM schema_version"), 0);
	ck_assert_msg(!table_exists(first.name[0]), "table %s of the failed migration is there",
		      first.name[0]);
}
END_TEST

/* ---- cluster id ---------------------------------------------------------------------- */

START_TEST(test_cluster_id)
{
	static const uint8_t zero[GF_CLUSTER_ID_LEN];
	uint8_t id[GF_CLUSTER_ID_LEN], again[GF_CLUSTER_ID_LEN], later[GF_CLUSTER_ID_LEN];
	struct gf_store *s = store_migrated();
	ck_assert_int_eq(gf_store_cluster_id(s, id), 0);
	ck_assert_mem_ne(id, zero, GF_CLUSTER_ID_LEN);
	ck_assert_int_eq(gf_store_cluster_id(s, again), 0);
	ck_assert_mem_eq(id, again, GF_CLUSTER_ID_LEN);
	gf_store_close(s);
	s = store_migrated();
	ck_assert_int_eq(gf_store_cluster_id(s, later), 0);
	gf_store_close(s);
	ck_assert_mem_eq(id, later, GF_CLUSTER_ID_LEN);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM cluster"), 1);
	char text[37];
	uuid_unparse_lower(id, text);
	char *stored = sql_text("SELECT id::text FROM cluster");
	ck_assert_str_eq(stored, text);
	free(stored);
}
END_TEST

/* ---- the serving lock ---------------------------------------------------------------- */

/* The backend pid that holds an advisory lock in this database (0: none). */
static long long advisory_holder(void)
{
	return sql_int("SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' "
		       "AND granted AND database = (SELECT oid FROM pg_database "
		       "WHERE datname = current_database())");
}

START_TEST(test_lock_one_per_database)
{
	char why[2400] = "";
	struct gf_store *first = store_open(), *second = store_open();
	ck_assert_int_eq(gf_store_lock(first, why, sizeof(why)), 0);
	long long holder = advisory_holder();
	ck_assert_int_gt(holder, 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pg_stat_activity WHERE pid = %lld AND "
				 "application_name = 'gfmd'", holder), 1);

	ck_assert_int_eq(gf_store_lock(second, why, sizeof(why)), -EBUSY);
	char want[2400];
	snprintf(want, sizeof(want), "another gfmd is already serving database '%s' "
				     "(PostgreSQL backend pid %lld holds its lock)", db_ci, holder);
	ck_assert_str_eq(why, want);
	/* the one holding it goes on: migrations take a lock of their own */
	ck_assert_int_eq(gf_store_migrate(first), 0);
	ck_assert_int_eq(gf_store_start(first), 0);
	struct rt t = { .s = first };
	gf_changes_init(&t.c);
	put_next_ino(&t, 5);
	commit(&t);
	/* another database is another lock */
	struct gf_store *elsewhere = NULL;
	ck_assert_int_eq(gf_store_open(admin_ci, &elsewhere), 0);
	ck_assert_int_eq(gf_store_lock(elsewhere, why, sizeof(why)), 0);
	gf_store_close(elsewhere);

	gf_store_close(first); /* frees it */
	ck_assert_int_eq(gf_store_lock(second, why, sizeof(why)), 0);
	ck_assert_int_ne(advisory_holder(), holder);
	gf_store_close(second);
}
END_TEST

/* The lock is the session's: a holder killed with SIGKILL frees it. */
START_TEST(test_lock_freed_by_kill9)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct gf_store *s;
		char why[1024];
		close(p[0]);
		if (gf_store_open(db_ci, &s) < 0 || gf_store_lock(s, why, sizeof(why)) < 0)
			_exit(2);
		if (write(p[1], "L", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	char c = 0;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_gt(advisory_holder(), 0);
	char why[1024] = "";
	struct gf_store *s = store_open();
	ck_assert_int_eq(gf_store_lock(s, why, sizeof(why)), -EBUSY);
	kill(pid, SIGKILL);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_msg(gf_store_lock(s, why, sizeof(why)) == 0,
		      "the lock of a killed holder is not freed: %s", why);
	gf_store_close(s);
}
END_TEST

/* ---- group commit and completions ---------------------------------------------------- */

/* Keep the committer's next transaction waiting (on a lock of table dirent)
 * until block_release(): what is submitted meanwhile queues up. */
static void block_dirent(void)
{
	sql("BEGIN");
	sql("LOCK TABLE dirent IN ACCESS EXCLUSIVE MODE");
}

static void block_release(void)
{
	sql("COMMIT");
}

#define GC_THREADS 4
#define GC_PER_THREAD 250
#define GC_TOTAL (GC_THREADS * GC_PER_THREAD)

struct gc_waiter {
	uint64_t ticket;
	pthread_t registrar;
	int fired, status, in_registrar;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t nfired;
	uint64_t order[GC_TOTAL * 2]; /* tickets, as the committer ran them */
	size_t norder;
} gc = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 }, 0 };

static void gc_done(void *arg, int status)
{
	struct gc_waiter *w = arg;
	pthread_mutex_lock(&gc.mu);
	w->fired++;
	w->status = status;
	if (pthread_equal(pthread_self(), w->registrar))
		w->in_registrar = 1;
	else if (gc.norder < sizeof(gc.order) / sizeof(gc.order[0]))
		gc.order[gc.norder++] = w->ticket;
	gc.nfired++;
	pthread_cond_broadcast(&gc.cv);
	pthread_mutex_unlock(&gc.mu);
}

struct gc_thread {
	struct gf_store *s;
	int k;
	struct gc_waiter *w; /* GC_PER_THREAD of them */
};

static void *gc_submitter(void *arg)
{
	struct gc_thread *th = arg;
	for (int i = 0; i < GC_PER_THREAD; i++) {
		struct gf_changes c;
		char name[32];
		int len = snprintf(name, sizeof(name), "t%d-%04d", th->k, i);
		uint64_t ino = 100 + (uint64_t)(th->k * GC_PER_THREAD + i);
		gf_changes_init(&c);
		gf_changes_add(&c, GF_CHG_DIRENT_PUT, 1, ino, ino, name, (size_t)len, NULL, 0, 0);
		gf_changes_add(&c, GF_CHG_NEXT_INO, ino + 1, 0, 0, NULL, 0, NULL, 0, 0);
		struct gc_waiter *w = &th->w[i];
		w->registrar = pthread_self();
		w->ticket = gf_store_submit(th->s, &c);
		gf_changes_free(&c);
		gf_store_on_commit(th->s, w->ticket, gc_done, w);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

START_TEST(test_group_commit)
{
	static struct gc_waiter w[GC_TOTAL];
	struct gc_thread th[GC_THREADS];
	pthread_t tid[GC_THREADS];
	struct gf_store *s = store_started();

	gc.nfired = gc.norder = 0;
	block_dirent();
	for (int k = 0; k < GC_THREADS; k++) {
		th[k] = (struct gc_thread){ s, k, &w[k * GC_PER_THREAD] };
		ck_assert_int_eq(pthread_create(&tid[k], NULL, gc_submitter, &th[k]), 0);
	}
	for (int k = 0; k < GC_THREADS; k++)
		pthread_join(tid[k], NULL);
	block_release();
	wait_count(&gc.mu, &gc.cv, &gc.nfired, GC_TOTAL);

	uint64_t tickets[GC_TOTAL];
	for (int i = 0; i < GC_TOTAL; i++) {
		ck_assert_msg(w[i].fired == 1, "waiter %d (ticket %" PRIu64 ") fired %d times", i,
			      w[i].ticket, w[i].fired);
		ck_assert_int_eq(w[i].status, 0);
		/* nothing was committed while they registered */
		ck_assert_int_eq(w[i].in_registrar, 0);
		tickets[i] = w[i].ticket;
	}
	qsort(tickets, GC_TOTAL, sizeof(tickets[0]), cmp_u64);
	for (int i = 1; i < GC_TOTAL; i++)
		ck_assert_msg(tickets[i] > tickets[i - 1], "ticket %" PRIu64 " handed out twice",
			      tickets[i]);
	ck_assert_uint_eq(gc.norder, GC_TOTAL);
	for (size_t i = 1; i < gc.norder; i++)
		ck_assert_msg(gc.order[i] >= gc.order[i - 1],
			      "completion %zu: ticket %" PRIu64 " ran after ticket %" PRIu64, i,
			      gc.order[i], gc.order[i - 1]);

	/* A completion for a ticket already committed runs at once, here. */
	struct gc_waiter late = { .ticket = tickets[GC_TOTAL - 1], .registrar = pthread_self() };
	gf_store_on_commit(s, late.ticket, gc_done, &late);
	ck_assert_int_eq(late.fired, 1);
	ck_assert_int_eq(late.in_registrar, 1);
	ck_assert_int_eq(late.status, 0);
	gf_store_close(s);

	/* All of it is there, in at most two transactions: whatever the committer
	 * had taken when it met the lock, and everything queued behind it. */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM dirent"), GC_TOTAL);
	ck_assert_int_le(sql_int("SELECT count(DISTINCT xmin::text) FROM dirent"), 2);
	ck_assert_int_eq(sql_int("SELECT value FROM counter WHERE name = 'next_ino'"),
			 100 + GC_TOTAL);
}
END_TEST

/* Several completions of one ticket run in the order they were registered. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int order[8];
	size_t n;
} same = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0 };

static void same_done(void *arg, int status)
{
	pthread_mutex_lock(&same.mu);
	same.order[same.n++] = status == 0 ? (int)(intptr_t)arg : -1;
	pthread_cond_broadcast(&same.cv);
	pthread_mutex_unlock(&same.mu);
}

START_TEST(test_same_ticket_order)
{
	struct gf_store *s = store_started();
	same.n = 0;
	block_dirent();
	struct gf_changes c;
	gf_changes_init(&c);
	gf_changes_add(&c, GF_CHG_DIRENT_PUT, 1, 2, 3, "x", 1, NULL, 0, 0);
	uint64_t t = gf_store_submit(s, &c);
	for (int i = 0; i < 5; i++)
		gf_store_on_commit(s, t, same_done, (void *)(intptr_t)i);
	block_release();
	wait_count(&same.mu, &same.cv, &same.n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(same.order[i], i);
	gf_store_close(s);
}
END_TEST

/* close commits everything submitted before it and runs every completion. */
#define CLOSE_N 500
static struct gc_waiter close_w[CLOSE_N];

static void *closer(void *arg)
{
	gf_store_close(arg);
	return NULL;
}

START_TEST(test_close_drains)
{
	struct gf_store *s = store_started();
	block_dirent(); /* so that all of it is still queued when close begins */
	for (int i = 0; i < CLOSE_N; i++) {
		struct gf_changes c;
		char name[16];
		int len = snprintf(name, sizeof(name), "c%04d", i);
		gf_changes_init(&c);
		gf_changes_add(&c, GF_CHG_DIRENT_PUT, 1, 10 + (uint64_t)i, (uint64_t)i + 1, name,
			       (size_t)len, NULL, 0, 0);
		close_w[i].registrar = pthread_self();
		close_w[i].ticket = gf_store_submit(s, &c);
		gf_store_on_commit(s, close_w[i].ticket, gc_done, &close_w[i]);
	}
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, closer, s), 0);
	block_release();
	pthread_join(tid, NULL);
	/* close has returned: every completion has run, with success */
	for (int i = 0; i < CLOSE_N; i++) {
		ck_assert_int_eq(close_w[i].fired, 1);
		ck_assert_int_eq(close_w[i].status, 0);
	}
	struct rows got = { 0 };
	load_rows(&got);
	ck_assert_uint_eq(got.n, CLOSE_N);
	rows_free(&got);
}
END_TEST

/* ---- a failed commit ---------------------------------------------------------------------
 * The store then fails every waiting completion with -EIO and ends the
 * process with _exit(1); when its session was lost instead, it ends the
 * process without running any (whether the COMMIT happened is unknown). In a child: transaction A (inode 50) is held on a
 * lock of table inode; B and C queue behind it, one transaction; then the
 * case makes B+C (or A) fail. */

#define REJECT_FN                                                                          \
	"CREATE FUNCTION reject() RETURNS trigger LANGUAGE plpgsql AS "                     \
	"$$ BEGIN RAISE EXCEPTION 'check_store: rejected %', NEW.name; END $$; "

static const struct fail_case {
	const char *what;
	const char *before;	   /* SQL before the store starts */
	const char *while_held;	   /* SQL in the transaction holding A */
	int kill_session;	   /* terminate the store's session while A waits */
} fail_cases[] = {
	{ "a statement fails (a trigger rejects a name)",
	  REJECT_FN "CREATE TRIGGER reject BEFORE INSERT ON dirent FOR EACH ROW "
		    "WHEN (NEW.name = convert_to('poison', 'UTF8')) EXECUTE FUNCTION reject()",
	  NULL, 0 },
	{ "COMMIT fails (a deferred constraint trigger)",
	  REJECT_FN "CREATE CONSTRAINT TRIGGER reject AFTER INSERT ON dirent "
		    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
		    "WHEN (NEW.name = convert_to('poison', 'UTF8')) EXECUTE FUNCTION reject()",
	  NULL, 0 },
	{ "another session drops a table", NULL, "DROP TABLE xattr", 0 },
	{ "the store's session is terminated", NULL, NULL, 1 },
};
#define N_FAIL_CASES ((int)(sizeof(fail_cases) / sizeof(fail_cases[0])))

struct fail_waiter {
	char name;
	int fd;
};

static void fail_done(void *arg, int status)
{
	struct fail_waiter *w = arg;
	char line[32];
	int n = snprintf(line, sizeof(line), "%c %d\n", w->name, status);
	if (write(w->fd, line, (size_t)n) != n)
		_exit(5);
}

/* In the child: no Check, no return; a line "error ..." and exit 2 if
 * something else goes wrong. */
static _Noreturn void child_fail(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static _Noreturn void child_fail(int fd, const char *fmt, ...)
{
	char line[1024] = "error ";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + 6, sizeof(line) - 7, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	ssize_t w = write(fd, line, strlen(line));
	(void)w;
	_exit(2);
}

static void child_sql(int fd, PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		child_fail(fd, "%s: %s", q, PQresultErrorMessage(r));
	PQclear(r);
}

static void child_submit(struct gf_store *s, struct gf_changes *c, struct fail_waiter *w)
{
	uint64_t t = gf_store_submit(s, c);
	gf_changes_free(c);
	gf_store_on_commit(s, t, fail_done, w);
}

#define WAITING_ON_INODE \
	"FROM pg_locks WHERE NOT granted AND relation = 'inode'::regclass"

static _Noreturn void fail_child(const struct fail_case *fc, int fd)
{
	/* (the parent's session "side" is left alone: this process shares it) */
	struct fail_waiter wa = { 'A', fd }, wb = { 'B', fd }, wc = { 'C', fd };
	struct gf_store *s;
	if (gf_store_open(db_ci, &s) < 0 || gf_store_migrate(s) < 0 || gf_store_start(s) < 0)
		child_fail(fd, "cannot start the store");
	PGconn *c = PQconnectdb(db_ci);
	if (PQstatus(c) != CONNECTION_OK)
		child_fail(fd, "cannot connect: %s", PQerrorMessage(c));
	child_sql(fd, c, "BEGIN");
	child_sql(fd, c, "LOCK TABLE inode IN ACCESS EXCLUSIVE MODE");

	struct gf_changes ch;
	gf_changes_init(&ch);
	struct gf_attr a = attr(50, S_IFREG | 0644);
	gf_changes_add(&ch, GF_CHG_INODE_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0)->attr = a;
	child_submit(s, &ch, &wa);
	for (int i = 0;; i++) { /* until A waits for the lock */
		PGresult *r = PQexec(c, "SELECT count(*) " WAITING_ON_INODE);
		int waiting = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) > 0;
		PQclear(r);
		if (waiting)
			break;
		if (i > WAIT_SECS * 100)
			child_fail(fd, "the store's transaction never waited for the lock");
		usleep(10000);
	}
	/* B: changes before and after the poisoned entry */
	a = attr(100, S_IFREG | 0644);
	gf_changes_add(&ch, GF_CHG_INODE_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0)->attr = a;
	gf_changes_add(&ch, GF_CHG_DIRENT_PUT, 1, 100, 1, "poison", 6, NULL, 0, 0);
	gf_changes_add(&ch, GF_CHG_XATTR_PUT, 100, 0, 0, "user.x", 6, "v", 1, 1);
	gf_changes_add(&ch, GF_CHG_REPLICA_PUT, 100, 1, 1, NULL, 0, NULL, 0, 0)->d = 1;
	child_submit(s, &ch, &wb);
	/* C */
	a = attr(101, S_IFREG | 0644);
	gf_changes_add(&ch, GF_CHG_INODE_PUT, 0, 0, 0, NULL, 0, NULL, 0, 0)->attr = a;
	gf_changes_add(&ch, GF_CHG_DIRENT_PUT, 1, 101, 2, "c", 1, NULL, 0, 0);
	gf_changes_add(&ch, GF_CHG_NEXT_INO, 102, 0, 0, NULL, 0, NULL, 0, 0);
	child_submit(s, &ch, &wc);

	if (fc->while_held)
		child_sql(fd, c, fc->while_held);
	if (fc->kill_session)
		child_sql(fd, c, "SELECT pg_terminate_backend(pid) " WAITING_ON_INODE);
	child_sql(fd, c, "COMMIT");
	sleep(WAIT_SECS); /* the store is to end this process meanwhile */
	child_fail(fd, "the store did not exit after its commit failed");
}

START_TEST(test_failed_commit)
{
	const struct fail_case *fc = &fail_cases[_i];
	gf_store_close(store_migrated());
	if (fc->before)
		sql("%s", fc->before);
	log_capture();
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		fail_child(fc, p[1]);
	}
	close(p[1]);
	char report[4096];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(report) - 1 &&
	       (n = read(p[0], report + len, sizeof(report) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
	}
	report[len] = 0;
	close(p[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		      "%s: the child ended with %s %d, not exit 1; it reported:\n%s", fc->what,
		      WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st)
								: WTERMSIG(st), report);

	/* each completion ran once, in ticket order: A's commit went through
	 * and B and C failed with -EIO; or, its session killed, none ran: A's
	 * COMMIT may or may not have happened, clients ask the next gfmd */
	char want[64];
	if (fc->kill_session)
		want[0] = 0;
	else
		snprintf(want, sizeof(want), "A 0\nB %d\nC %d\n", -EIO, -EIO);
	ck_assert_msg(strcmp(report, want) == 0, "%s: completions, in this order:\n%s"
		      "wanted:\n%s", fc->what, report, want);
	ck_assert_msg(log_has("COMMIT of") && log_has("failed") && log_has("exiting"),
		      "%s: the failure is not logged", fc->what);

	/* nothing of the failed transaction is in the database */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM inode WHERE ino = 50"),
			 fc->kill_session ? 0 : 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM inode WHERE ino IN (100, 101)"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM dirent"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM replica"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM counter"), 0);
	if (table_exists("xattr"))
		ck_assert_int_eq(sql_int("SELECT count(*) FROM xattr"), 0);
}
END_TEST

/* ---- the runner ---------------------------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, db_setup, db_teardown);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase(s, "migrations");
	tcase_add_test(tc, test_tables_of_parses);
	tcase_add_test(tc, test_migrate_empty);
	tcase_add_test(tc, test_migrate_twice);
	tcase_add_test(tc, test_migrate_newer_schema);
	tcase_add_test(tc, test_migration_failure_rolls_back);
	tc = tcase(s, "cluster_id");
	tcase_add_test(tc, test_cluster_id);
	tc = tcase(s, "lock");
	tcase_add_test(tc, test_lock_one_per_database);
	tcase_add_test(tc, test_lock_freed_by_kill9);
	tc = tcase(s, "rows");
	tcase_add_loop_test(tc, test_roundtrip, 0, N_RT_CASES);
	tcase_add_test(tc, test_big_batch);
	tcase_add_test(tc, test_once_forget_silent);
	tc = tcase(s, "commit");
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_same_ticket_order);
	tcase_add_test(tc, test_close_drains);
	tc = tcase(s, "failure");
	tcase_add_loop_test(tc, test_failed_commit, 0, N_FAIL_CASES);
	return s;
}

int main(void)
{
	admin_ci = getenv("GF_TEST_PGCONN");
	if (!admin_ci || !*admin_ci) {
		printf("SKIP check_store: GF_TEST_PGCONN is not set (tests/it_store.sh runs it "
		       "against a throwaway PostgreSQL)\n");
		return 77;
	}
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
