/*
 * store_pg.c — the store of store.h on PostgreSQL through libpq.
 *
 * One connection. Start-up work (migrations, loading) uses plain queries;
 * then the connection enters pipeline mode and belongs to the committer
 * thread, which sends each group of changes as BEGIN, one prepared
 * statement per change, COMMIT, and a single sync — one round trip per
 * group however many mutations it holds. Integers travel as text, names
 * and values as binary bytea (file names are bytes, not UTF-8).
 *
 * The same connection holds the session-level advisory lock that makes a
 * gfmd the only one on its database (gf_store_lock): it lasts exactly as
 * long as the session, so it goes with gfmd however gfmd ends.
 */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uuid/uuid.h>

#include "journal.h"
#include "log.h"

#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT4 23
#define OID_TEXT 25

/* Advisory lock keys (per database). A serving gfmd holds SERVING for its
 * whole session; migrations take MIGRATE briefly. pg_locks shows a bigint key
 * as classid = its high and objid = its low 32 bits, objsubid = 1. */
#define LOCK_KEY_MIGRATE "6600"
#define LOCK_KEY_SERVING "1734765924" /* 0x67666d64, "gfmd" */
/* How long a busy lock is retried before giving up: the session of a gfmd
 * killed a moment ago may still be ending. */
#define LOCK_GRACE_MS 2000
#define LOCK_RETRY_MS 100

struct waiter {
	struct waiter *next, *prev;
	uint64_t ticket;
	void (*done)(void *arg, int status);
	void *arg;
};

struct wlist {
	struct waiter *head, *tail;
};

struct gf_store {
	PGconn *pg;
	char *shown; /* the conninfo for messages, password hidden */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gf_changes queue;
	uint64_t last_ticket, committed;
	/* sorted by ticket, so completions run in ticket order */
	struct wlist waiting; /* for a commit */
	struct wlist durable_waiting; /* for a flush (GF_DURABLE_FSYNC) */
	uint64_t durable; /* every ticket ≤ it is on disk */
	uint64_t pg_durable; /* every ticket ≤ it is on disk in PostgreSQL */
	int async;	  /* commits do not wait for a flush: GF_DURABLE_FSYNC, or
			   * GF_DURABLE_COMMIT with a journal (jsync) */
	int stopping, started, prepared;
	/* GF_DURABLE_FSYNC with a journal (journal.h): a ticket is acknowledged
	 * once its record is written there, or once committed; acked is the
	 * newest ticket such that every one up to it is either.
	 * GF_DURABLE_COMMIT with a journal (jsync): once its record is flushed
	 * there by the syncer thread (jsynced), or once a flushed commit holds
	 * it; acked then never passes durable. */
	struct gf_journal *journal;
	int journal_broken; /* an append or a flush failed: replies wait for
			     * (flushed) commits again */
	uint64_t acked;
	int jsync;
	uint64_t queued_ms; /* jsync: when the oldest change queued came */
	uint64_t appended; /* jsync: every ticket ≤ it is written to the journal */
	uint64_t jsynced;  /* jsync: every ticket ≤ it is flushed there */
	int sync_stopping;
	pthread_cond_t scv; /* the syncer waits on it */
	pthread_t syncer;
	int syncer_started;
	uint64_t last_flush_ms; /* when durable last caught up (async) */
	uint64_t flush_every_ms; /* gf_store_set_flush_ms */
	/* a journal past this many bytes of records is emptied at the next
	 * commit, which then holds off new mutations for that one flushed
	 * commit (gf_store_set_journal_max) */
	uint64_t journal_max;
	pthread_t thread;
};

/* ---- prepared statements ------------------------------------------------------ */

enum stmt {
	S_INODE_PUT,
	S_INODE_DEL,
	S_XATTR_DEL_INO,
	S_DIRENT_PUT,
	S_DIRENT_DEL,
	S_XATTR_PUT,
	S_XATTR_DEL,
	S_REPLICA_PUT,
	S_REPLICA_DEL,
	S_DEAD_PUT,
	S_DEAD_DEL,
	S_HOST_PUT,
	S_COUNTER_PUT,
	S_COUNTER_SET,
	S_USER_DEL,
	S_USER_INS,
	S_GROUP_DEL,
	S_GROUP_INS,
	S_ONCE_PUT,
	S_ONCE_DEL,
	S_COUNT
};

#define MAX_PARAMS 16 /* the most a statement takes (inode_put) */

static const struct {
	const char *name;
	const char *sql;
	int nparams;
	Oid types[MAX_PARAMS];
} stmts[S_COUNT] = {
	[S_INODE_PUT] = { "inode_put",
		"INSERT INTO inode (ino, mode, nlink, uid, gid, size, rdev, gen, "
		"atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, symlink, "
		"blocks) "
		"VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) "
		"ON CONFLICT (ino) DO UPDATE SET mode = EXCLUDED.mode, nlink = EXCLUDED.nlink, "
		"uid = EXCLUDED.uid, gid = EXCLUDED.gid, size = EXCLUDED.size, "
		"rdev = EXCLUDED.rdev, gen = EXCLUDED.gen, atime_sec = EXCLUDED.atime_sec, "
		"atime_nsec = EXCLUDED.atime_nsec, mtime_sec = EXCLUDED.mtime_sec, "
		"mtime_nsec = EXCLUDED.mtime_nsec, ctime_sec = EXCLUDED.ctime_sec, "
		"ctime_nsec = EXCLUDED.ctime_nsec, symlink = EXCLUDED.symlink, "
		"blocks = EXCLUDED.blocks",
		16, { OID_INT8, OID_INT4, OID_INT4, OID_INT8, OID_INT8, OID_INT8, OID_INT8,
		      OID_INT8, OID_INT8, OID_INT4, OID_INT8, OID_INT4, OID_INT8, OID_INT4,
		      OID_BYTEA, OID_INT8 } },
	[S_INODE_DEL] = { "inode_del", "DELETE FROM inode WHERE ino = $1", 1, { OID_INT8 } },
	[S_XATTR_DEL_INO] = { "xattr_del_ino", "DELETE FROM xattr WHERE ino = $1", 1,
			      { OID_INT8 } },
	[S_DIRENT_PUT] = { "dirent_put",
		"INSERT INTO dirent (parent, name, ino, cookie) VALUES ($1,$2,$3,$4) "
		"ON CONFLICT (parent, name) DO UPDATE SET ino = EXCLUDED.ino, "
		"cookie = EXCLUDED.cookie",
		4, { OID_INT8, OID_BYTEA, OID_INT8, OID_INT8 } },
	[S_DIRENT_DEL] = { "dirent_del", "DELETE FROM dirent WHERE parent = $1 AND name = $2",
			   2, { OID_INT8, OID_BYTEA } },
	[S_XATTR_PUT] = { "xattr_put",
		"INSERT INTO xattr (ino, name, value) VALUES ($1,$2,$3) "
		"ON CONFLICT (ino, name) DO UPDATE SET value = EXCLUDED.value",
		3, { OID_INT8, OID_BYTEA, OID_BYTEA } },
	[S_XATTR_DEL] = { "xattr_del", "DELETE FROM xattr WHERE ino = $1 AND name = $2", 2,
			  { OID_INT8, OID_BYTEA } },
	[S_REPLICA_PUT] = { "replica_put",
		"INSERT INTO replica (ino, host_id, gen, fgen) VALUES ($1,$2,$3,$4) "
		"ON CONFLICT (ino, host_id) DO UPDATE SET gen = EXCLUDED.gen, "
		"fgen = EXCLUDED.fgen",
		4, { OID_INT8, OID_INT4, OID_INT8, OID_INT8 } },
	[S_REPLICA_DEL] = { "replica_del",
		"DELETE FROM replica WHERE ino = $1 AND host_id = $2", 2,
		{ OID_INT8, OID_INT4 } },
	[S_DEAD_PUT] = { "dead_put",
		"INSERT INTO dead_replica (ino, host_id, fgen) VALUES ($1,$2,$3) "
		"ON CONFLICT DO NOTHING",
		3, { OID_INT8, OID_INT4, OID_INT8 } },
	[S_DEAD_DEL] = { "dead_del",
		"DELETE FROM dead_replica WHERE ino = $1 AND host_id = $2 AND fgen = $3", 3,
		{ OID_INT8, OID_INT4, OID_INT8 } },
	[S_HOST_PUT] = { "host_put",
		"INSERT INTO host (host_id, name, addr, port, capacity, free, draining) "
		"VALUES ($1,$2,$3,$4,$5,$6,$7 <> 0) ON CONFLICT (host_id) DO UPDATE SET "
		"name = EXCLUDED.name, addr = EXCLUDED.addr, port = EXCLUDED.port, "
		"capacity = EXCLUDED.capacity, free = EXCLUDED.free, "
		"draining = EXCLUDED.draining",
		7, { OID_INT4, OID_TEXT, OID_TEXT, OID_INT4, OID_INT8, OID_INT8, OID_INT4 } },
	[S_COUNTER_PUT] = { "counter_put",
		"INSERT INTO counter (name, value) VALUES ($1,$2) ON CONFLICT (name) "
		"DO UPDATE SET value = GREATEST(counter.value, EXCLUDED.value)",
		2, { OID_TEXT, OID_INT8 } },
	[S_COUNTER_SET] = { "counter_set",
		"INSERT INTO counter (name, value) VALUES ($1,$2) ON CONFLICT (name) "
		"DO UPDATE SET value = EXCLUDED.value",
		2, { OID_TEXT, OID_INT8 } },
	/* a name and an id are each unique per kind: a put first clears both */
	[S_USER_DEL] = { "user_del", "DELETE FROM users WHERE uid = $1 OR name = $2", 2,
			 { OID_INT8, OID_TEXT } },
	[S_USER_INS] = { "user_ins", "INSERT INTO users (uid, name) VALUES ($1,$2)", 2,
			 { OID_INT8, OID_TEXT } },
	[S_GROUP_DEL] = { "group_del", "DELETE FROM groups WHERE gid = $1 OR name = $2", 2,
			  { OID_INT8, OID_TEXT } },
	[S_GROUP_INS] = { "group_ins", "INSERT INTO groups (gid, name) VALUES ($1,$2)", 2,
			  { OID_INT8, OID_TEXT } },
	[S_ONCE_PUT] = { "once_put",
		"INSERT INTO once_reply (client, seq, op, ino, created) VALUES ($1,$2,$3,$4,$5) "
		"ON CONFLICT (client, seq) DO UPDATE SET op = EXCLUDED.op, ino = EXCLUDED.ino, "
		"created = EXCLUDED.created, at = now()",
		5, { OID_INT8, OID_INT8, OID_INT4, OID_INT8, OID_BOOL } },
	/* bounded below: a range delete walks every index entry it covers, the
	 * dead ones too (a bitmap scan never marks them), so one from seq 0
	 * would cost more with every trim until the table is vacuumed */
	[S_ONCE_DEL] = { "once_del",
		"DELETE FROM once_reply WHERE client = $1 AND seq > $3 AND seq <= $2", 3,
		{ OID_INT8, OID_INT8, OID_INT8 } },
};

/* ---- helpers ------------------------------------------------------------------- */

/* conninfo for a log line, with any password hidden. */
static void conninfo_for_log(const char *ci, char *buf, size_t bufsz)
{
	const char *p = strstr(ci, "password");
	if (!p) {
		snprintf(buf, bufsz, "%s", ci);
		return;
	}
	const char *end = p + strcspn(p, " \t");
	snprintf(buf, bufsz, "%.*spassword=***%s", (int)(p - ci), ci, end);
}

static void notice_to_log(void *arg, const char *msg)
{
	gf_debug("gfmd: postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		gf_err("gfmd: %s failed: %s", what, PQerrorMessage(pg));
		rc = -EIO;
	}
	PQclear(r);
	return rc;
}

static int64_t get_int(const PGresult *r, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	uint64_t v = 0;
	if (PQgetisnull(r, row, col))
		return 0;
	for (int i = 0; i < len; i++)
		v = (v << 8) | p[i];
	if (len == 4)
		return (int32_t)(uint32_t)v;
	if (len == 2)
		return (int16_t)(uint16_t)v;
	return (int64_t)v;
}

/* A bytea/text column as a NUL-terminated copy in buf (NULL if it holds a NUL
 * or does not fit). */
static const char *get_str(const PGresult *r, int row, int col, char *buf, size_t bufsz)
{
	int len = PQgetlength(r, row, col);
	const char *p = PQgetvalue(r, row, col);
	if ((size_t)len >= bufsz || memchr(p, 0, (size_t)len))
		return NULL;
	memcpy(buf, p, (size_t)len);
	buf[len] = 0;
	return buf;
}

static PGresult *query_bin(PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		gf_err("gfmd: loading %s failed: %s", what, PQerrorMessage(pg));
		PQclear(r);
		return NULL;
	}
	return r;
}

/*
 * A table read in batches through a cursor (one transaction per table, as
 * one query was): a million-row result held at once would be freed among
 * the inodes allocated while reading it, and the process would keep that
 * memory for good.
 */
#define ROWS_BATCH 10000
#define ROWS_FETCH "FETCH 10000 FROM load_rows"

struct rows {
	PGconn *pg;
	PGresult *r; /* the current batch */
	int i, n;    /* next row of it, and its rows */
	int end, err;
	const char *what;
};

static int rows_cmd(struct rows *it, const char *sql)
{
	PGresult *r = PQexec(it->pg, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		gf_err("gfmd: loading %s failed: %s", it->what, PQerrorMessage(it->pg));
	PQclear(r);
	return ok ? 0 : -EIO;
}

static int rows_open(struct rows *it, PGconn *pg, const char *sql, const char *what)
{
	char decl[512];
	memset(it, 0, sizeof(*it));
	it->pg = pg;
	it->what = what;
	if ((size_t)snprintf(decl, sizeof(decl), "DECLARE load_rows NO SCROLL CURSOR FOR %s",
			     sql) >= sizeof(decl))
		return -ENAMETOOLONG;
	if (rows_cmd(it, "BEGIN") < 0)
		return -EIO;
	if (rows_cmd(it, decl) < 0) {
		rows_cmd(it, "ROLLBACK");
		return -EIO;
	}
	return 0;
}

/* The index in it->r of the next row, or -1 at the end or on an error
 * (then logged, and rows_close fails). */
static int rows_next(struct rows *it)
{
	if (it->i < it->n)
		return it->i++;
	PQclear(it->r);
	it->r = NULL;
	if (it->end || it->err)
		return -1;
	it->r = query_bin(it->pg, ROWS_FETCH, it->what);
	if (!it->r) {
		it->err = 1;
		return -1;
	}
	it->n = PQntuples(it->r);
	it->i = 0;
	if (it->n < ROWS_BATCH)
		it->end = 1;
	if (it->n == 0)
		return -1;
	return it->i++;
}

static int rows_close(struct rows *it)
{
	PQclear(it->r);
	it->r = NULL;
	int rc = rows_cmd(it, it->err ? "ROLLBACK" : "COMMIT");
	return it->err ? -EIO : rc;
}

/* ---- open, migrate, load ---------------------------------------------------------- */

int gf_store_open(const char *conninfo, struct gf_store **out)
{
	char shown[1024];
	struct gf_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->flush_every_ms = 1000;
	s->journal_max = 64ull << 20;
	conninfo_for_log(conninfo, shown, sizeof(shown));
	if (!(s->shown = strdup(shown))) {
		free(s);
		return -ENOMEM;
	}
	/* named "gfmd" in pg_stat_activity unless the conninfo names it */
	const char *const keys[] = { "dbname", "fallback_application_name", NULL };
	const char *const vals[] = { conninfo, "gfmd", NULL };
	s->pg = PQconnectdbParams(keys, vals, 1);
	if (!s->pg || PQstatus(s->pg) != CONNECTION_OK) {
		const char *why = s->pg ? PQerrorMessage(s->pg) : "out of memory";
		gf_err("gfmd: cannot connect to PostgreSQL '%s': %.*s", shown,
		       (int)strcspn(why, "\n"), why);
		PQfinish(s->pg);
		free(s->shown);
		free(s);
		return -ECONNREFUSED;
	}
	PQsetNoticeProcessor(s->pg, notice_to_log, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->scv, NULL);
	gf_changes_init(&s->queue);
	*out = s;
	return 0;
}

/* The holder of the serving lock, for the message: "pid N" and where its
 * client connected from, as far as pg_locks and pg_stat_activity tell. */
static void lock_holder(PGconn *pg, char *buf, size_t bufsz)
{
	const char *pv[1] = { LOCK_KEY_SERVING };
	PGresult *r = PQexecParams(pg,
		"SELECT l.pid, a.client_addr::text FROM pg_locks l "
		"LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
		"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
		"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
		"AND l.classid = ($1::bigint >> 32)::oid "
		"AND l.objid = ($1::bigint & 4294967295)::oid",
		1, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1 || PQgetisnull(r, 0, 0))
		snprintf(buf, bufsz, "another PostgreSQL session holds its lock");
	else if (PQgetisnull(r, 0, 1))
		snprintf(buf, bufsz, "PostgreSQL backend pid %s holds its lock",
			 PQgetvalue(r, 0, 0));
	else
		snprintf(buf, bufsz, "PostgreSQL backend pid %s holds its lock; its client "
				     "is at %s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);
}

int gf_store_lock(struct gf_store *s, char *why, size_t whysz)
{
	const char *pv[1] = { LOCK_KEY_SERVING };
	for (int waited = 0;; waited += LOCK_RETRY_MS) {
		PGresult *r = PQexecParams(s->pg, "SELECT pg_try_advisory_lock($1::bigint)", 1,
					   NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			const char *m = PQerrorMessage(s->pg);
			snprintf(why, whysz, "cannot lock database '%s': %.*s", s->shown,
				 (int)strcspn(m, "\n"), m);
			PQclear(r);
			return -EIO;
		}
		int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (got) {
			gf_info("gfmd: database '%s' is locked for this gfmd (PostgreSQL "
				"backend pid %d holds the lock)", s->shown, PQbackendPID(s->pg));
			return 0;
		}
		if (waited >= LOCK_GRACE_MS)
			break;
		usleep(LOCK_RETRY_MS * 1000);
	}
	char holder[256];
	lock_holder(s->pg, holder, sizeof(holder));
	snprintf(why, whysz, "another gfmd is already serving database '%s' (%s)", s->shown,
		 holder);
	return -EBUSY;
}

int gf_store_migrate(struct gf_store *s)
{
	PGconn *pg = s->pg;
	int rc = exec_ok(pg, "SET client_min_messages = warning", "setting client_min_messages");
	if (rc)
		return rc;
	rc = exec_ok(pg, "CREATE TABLE IF NOT EXISTS schema_version ("
			 "version integer PRIMARY KEY, name text NOT NULL, "
			 "applied_at timestamptz NOT NULL DEFAULT now())",
		     "creating schema_version");
	if (rc)
		return rc;
	/* two gfmd starting on one database must not both migrate */
	if ((rc = exec_ok(pg, "SELECT pg_advisory_lock(" LOCK_KEY_MIGRATE ")",
			  "locking for migrations")))
		return rc;
	int known = 0;
	for (size_t i = 0; i < gf_migrations_count && !rc; i++) {
		const struct gf_migration *m = &gf_migrations[i];
		char v[32];
		const char *pv[2] = { v, m->name };
		snprintf(v, sizeof(v), "%d", m->version);
		if (m->version > known)
			known = m->version;
		PGresult *r = PQexecParams(pg, "SELECT 1 FROM schema_version WHERE version = $1",
					   1, NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			gf_err("gfmd: reading schema_version failed: %s", PQerrorMessage(pg));
			PQclear(r);
			rc = -EIO;
			break;
		}
		int done = PQntuples(r) > 0;
		PQclear(r);
		if (done)
			continue;
		char what[300];
		snprintf(what, sizeof(what), "migration %s", m->name);
		if ((rc = exec_ok(pg, "BEGIN", what)))
			break;
		if ((rc = exec_ok(pg, m->sql, what))) {
			exec_ok(pg, "ROLLBACK", what);
			break;
		}
		r = PQexecParams(pg, "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
				 2, NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			gf_err("gfmd: recording %s failed: %s", what, PQerrorMessage(pg));
			rc = -EIO;
		}
		PQclear(r);
		if (rc) {
			exec_ok(pg, "ROLLBACK", what);
			break;
		}
		if ((rc = exec_ok(pg, "COMMIT", what)))
			break;
		gf_info("gfmd: applied %s", what);
	}
	if (!rc) {
		PGresult *r = PQexec(pg, "SELECT max(version) FROM schema_version");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    !PQgetisnull(r, 0, 0) && atoi(PQgetvalue(r, 0, 0)) > known)
			gf_warn("gfmd: the database has schema version %s, newer than this "
				"gfmd knows (%d)", PQgetvalue(r, 0, 0), known);
		PQclear(r);
	}
	exec_ok(pg, "SELECT pg_advisory_unlock(" LOCK_KEY_MIGRATE ")",
		"unlocking after migrations");
	return rc;
}

/* SELECT the cluster id: 1 found, 0 none yet, or -EIO. */
static int read_cluster_id(PGconn *pg, uint8_t id[GF_CLUSTER_ID_LEN])
{
	PGresult *r = PQexec(pg, "SELECT id::text FROM cluster");
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		gf_err("gfmd: reading the cluster id failed: %s", PQerrorMessage(pg));
		rc = -EIO;
	} else if (PQntuples(r) == 1) {
		if (uuid_parse(PQgetvalue(r, 0, 0), id) != 0) {
			gf_err("gfmd: the cluster table holds '%s', not a UUID",
			       PQgetvalue(r, 0, 0));
			rc = -EIO;
		} else {
			rc = 1;
		}
	}
	PQclear(r);
	return rc;
}

int gf_store_cluster_id(struct gf_store *s, uint8_t id[GF_CLUSTER_ID_LEN])
{
	int rc = read_cluster_id(s->pg, id);
	if (rc)
		return rc < 0 ? rc : 0;
	uuid_t u;
	char text[37];
	uuid_generate(u);
	uuid_unparse_lower(u, text);
	const char *pv[1] = { text };
	/* another gfmd starting on this database at once may win: then its id is
	 * the one read back */
	PGresult *r = PQexecParams(s->pg, "INSERT INTO cluster (id) VALUES ($1::uuid) "
					  "ON CONFLICT DO NOTHING",
				   1, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		gf_err("gfmd: storing the new cluster id failed: %s", PQerrorMessage(s->pg));
		PQclear(r);
		return -EIO;
	}
	PQclear(r);
	rc = read_cluster_id(s->pg, id);
	if (rc == 0) {
		gf_err("gfmd: the cluster id just stored is not there");
		return -EIO;
	}
	if (rc < 0)
		return rc;
	if (memcmp(id, u, GF_CLUSTER_ID_LEN) == 0)
		gf_info("gfmd: new cluster %s", text);
	return 0;
}

int gf_store_load(struct gf_store *s, const struct gf_store_loader *ld)
{
	PGconn *pg = s->pg;
	PGresult *r;
	struct rows it;
	int rc = 0;
	char name[GF_PATH_MAX + 1], name2[GF_HOST_MAX + 1];

	if (rows_open(&it, pg, "SELECT ino, mode, nlink, uid, gid, size, rdev, gen, atime_sec, "
			  "atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, symlink, "
			  "blocks FROM inode", "inodes") < 0)
		return -EIO;
	for (int i; !rc && (i = rows_next(&it)) >= 0;) {
		r = it.r;
		struct gf_attr a = {
			.ino = (uint64_t)get_int(r, i, 0),
			.mode = (uint32_t)get_int(r, i, 1),
			.nlink = (uint32_t)get_int(r, i, 2),
			.uid = (uint32_t)get_int(r, i, 3),
			.gid = (uint32_t)get_int(r, i, 4),
			.size = (uint64_t)get_int(r, i, 5),
			.rdev = (uint64_t)get_int(r, i, 6),
			.gen = (uint64_t)get_int(r, i, 7),
			.atime = { get_int(r, i, 8), (uint32_t)get_int(r, i, 9) },
			.mtime = { get_int(r, i, 10), (uint32_t)get_int(r, i, 11) },
			.ctime = { get_int(r, i, 12), (uint32_t)get_int(r, i, 13) },
		};
		/* NULL: stored before st_blocks was kept (sql/005_blocks.sql) */
		a.blocks = PQgetisnull(r, i, 15) ? (a.size + 511) / 512
						 : (uint64_t)get_int(r, i, 15);
		const char *target = NULL;
		if (!PQgetisnull(r, i, 14))
			target = get_str(r, i, 14, name, sizeof(name));
		rc = ld->inode(ld->arg, &a, target);
		if (rc)
			gf_err("gfmd: loading inode %" PRIu64 ": %s", a.ino, strerror(-rc));
	}
	if (rows_close(&it) < 0 && !rc)
		rc = -EIO;
	if (rc)
		return rc;

	if (rows_open(&it, pg, "SELECT parent, name, ino, cookie FROM dirent", "directory entries") < 0)
		return -EIO;
	for (int i; !rc && (i = rows_next(&it)) >= 0;) {
		r = it.r;
		uint64_t parent = (uint64_t)get_int(r, i, 0);
		const char *nm = get_str(r, i, 1, name, GF_NAME_MAX + 1);
		if (!nm) {
			gf_warn("gfmd: skipping an unusable entry name in directory %" PRIu64,
				parent);
			continue;
		}
		rc = ld->dirent(ld->arg, parent, nm, (uint64_t)get_int(r, i, 2),
				(uint64_t)get_int(r, i, 3));
		if (rc == -EINVAL) {
			gf_warn("gfmd: skipping entry '%s' of %" PRIu64 ": no such directory",
				nm, parent);
			rc = 0;
		} else if (rc) {
			gf_err("gfmd: loading entry '%s' of %" PRIu64 ": %s", nm, parent,
			       strerror(-rc));
		}
	}
	if (rows_close(&it) < 0 && !rc)
		rc = -EIO;
	if (rc)
		return rc;

	if (rows_open(&it, pg, "SELECT ino, name, value FROM xattr", "xattrs") < 0)
		return -EIO;
	for (int i; !rc && (i = rows_next(&it)) >= 0;) {
		r = it.r;
		const char *nm = get_str(r, i, 1, name, GF_XATTR_NAME_MAX + 1);
		if (!nm)
			continue;
		rc = ld->xattr(ld->arg, (uint64_t)get_int(r, i, 0), nm, PQgetvalue(r, i, 2),
			       (size_t)PQgetlength(r, i, 2));
		if (rc == -EINVAL)
			rc = 0; /* of a vanished inode */
	}
	if (rows_close(&it) < 0 && !rc)
		rc = -EIO;
	if (rc)
		return rc;

	if (rows_open(&it, pg, "SELECT host_id, name, addr, port, capacity, free, draining::int4 "
		      "FROM host", "hosts") < 0)
		return -EIO;
	for (int i; !rc && (i = rows_next(&it)) >= 0;) {
		r = it.r;
		struct gf_change_host h = { 0 };
		h.host_id = (uint32_t)get_int(r, i, 0);
		if (!get_str(r, i, 1, h.name, sizeof(h.name)) ||
		    !get_str(r, i, 2, name2, sizeof(name2)))
			continue;
		memcpy(h.addr, name2, sizeof(h.addr));
		h.port = (uint16_t)get_int(r, i, 3);
		h.capacity = (uint64_t)get_int(r, i, 4);
		h.free = (uint64_t)get_int(r, i, 5);
		h.draining = get_int(r, i, 6) != 0;
		rc = ld->host(ld->arg, &h);
	}
	if (rows_close(&it) < 0 && !rc)
		rc = -EIO;
	if (rc)
		return rc;

	/* by file: a file's replicas come together, so the list its first one
	 * outgrew is reused by the next file (gfmd/namespace.c, REPS_POOLS) */
	if (rows_open(&it, pg, "SELECT ino, host_id, gen, fgen FROM replica ORDER BY ino",
		      "replicas") < 0)
		return -EIO;
	for (int i; !rc && (i = rows_next(&it)) >= 0;) {
		r = it.r;
		rc = ld->replica(ld->arg, (uint64_t)get_int(r, i, 0), (uint32_t)get_int(r, i, 1),
				 (uint64_t)get_int(r, i, 2), (uint64_t)get_int(r, i, 3));
		if (rc == -EINVAL)
			rc = 0;
	}
	if (rows_close(&it) < 0 && !rc)
		rc = -EIO;
	if (rc)
		return rc;

	if (rows_open(&it, pg, "SELECT ino, host_id, fgen FROM dead_replica", "dead replicas") < 0)
		return -EIO;
	for (int i; !rc && (i = rows_next(&it)) >= 0;) {
		r = it.r;
		rc = ld->dead(ld->arg, (uint64_t)get_int(r, i, 0), (uint32_t)get_int(r, i, 1),
			      (uint64_t)get_int(r, i, 2));
	}
	if (rows_close(&it) < 0 && !rc)
		rc = -EIO;
	if (rc)
		return rc;

	for (int kind = GF_IDMAP_USER; kind <= GF_IDMAP_GROUP && ld->idmap; kind++) {
		if (rows_open(&it, pg, kind == GF_IDMAP_USER ? "SELECT uid, name FROM users"
							: "SELECT gid, name FROM groups",
			      kind == GF_IDMAP_USER ? "users" : "groups") < 0)
			return -EIO;
		for (int i; !rc && (i = rows_next(&it)) >= 0;) {
			r = it.r;
			int64_t id = get_int(r, i, 0);
			const char *nm = get_str(r, i, 1, name, GF_IDMAP_NAME_MAX + 1);
			rc = nm && id > 0 && id < UINT32_MAX
				     ? ld->idmap(ld->arg, (uint8_t)kind, nm, (uint32_t)id)
				     : -EINVAL;
			if (rc == -EINVAL || rc == -EEXIST) {
				gf_warn("gfmd: skipping unusable %s row (id %lld)",
					kind == GF_IDMAP_USER ? "users" : "groups", (long long)id);
				rc = 0;
			}
		}
		if (rows_close(&it) < 0 && !rc)
			rc = -EIO;
		if (rc)
			return rc;
	}

	if (ld->once) {
		if (ld->once_forget_s) {
			char age[32];
			const char *pv[1] = { age };
			snprintf(age, sizeof(age), "%u", ld->once_forget_s);
			r = PQexecParams(pg, "DELETE FROM once_reply WHERE client IN (SELECT client "
					     "FROM once_reply GROUP BY client HAVING max(at) < "
					     "now() - make_interval(secs => $1::integer))",
					 1, NULL, pv, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				gf_err("gfmd: forgetting silent clients failed: %s",
				       PQerrorMessage(pg));
				PQclear(r);
				return -EIO;
			}
			if (atoi(PQcmdTuples(r)) > 0)
				gf_info("gfmd: forgot %s exactly-once records of clients silent "
					"for %us", PQcmdTuples(r), ld->once_forget_s);
			PQclear(r);
		}
		if (rows_open(&it, pg, "SELECT client, seq, op, ino, created::int, "
				  "extract(epoch FROM at)::bigint FROM once_reply",
			      "exactly-once records") < 0)
			return -EIO;
		for (int i; !rc && (i = rows_next(&it)) >= 0;) {
			r = it.r;
			rc = ld->once(ld->arg, (uint64_t)get_int(r, i, 0),
				      (uint64_t)get_int(r, i, 1), (uint16_t)get_int(r, i, 2),
				      (uint64_t)get_int(r, i, 3), (int)get_int(r, i, 4),
				      get_int(r, i, 5));
		}
		if (rows_close(&it) < 0 && !rc)
			rc = -EIO;
		if (rc)
			return rc;
	}

	r = query_bin(pg, "SELECT value FROM counter WHERE name = 'next_ino'", "counters");
	if (!r)
		return -EIO;
	if (PQntuples(r) == 1)
		ld->next_ino(ld->arg, (uint64_t)get_int(r, 0, 0));
	PQclear(r);
	/* what the batches left free among the inodes goes back to the system */
	malloc_trim(0);
	return 0;
}

/* ---- the committer ------------------------------------------------------------------ */

/* Parameter storage for one statement. */
struct params {
	char num[MAX_PARAMS][24];
	const char *val[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	int n;
};

static void p_int(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p->val[p->n] = p->num[p->n];
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void p_text(struct params *p, const char *s)
{
	p->val[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void p_bytes(struct params *p, const void *b, uint32_t len)
{
	p->val[p->n] = b ? (const char *)b : "";
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1;
	p->n++;
}

static void p_null(struct params *p)
{
	p->val[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static int send_stmt(PGconn *pg, enum stmt st, struct params *p)
{
	return PQsendQueryPrepared(pg, stmts[st].name, p->n, p->val, p->len, p->fmt, 0) ? 0
											   : -EIO;
}

/* Queue the statements of one change; returns how many were sent or -EIO. */
static int send_change(PGconn *pg, const struct gf_change *ch)
{
	struct params p = { .n = 0 };
	const struct gf_attr *a = &ch->attr;
	switch (ch->kind) {
	case GF_CHG_INODE_PUT:
		p_int(&p, (int64_t)a->ino);
		p_int(&p, (int32_t)a->mode);
		p_int(&p, (int32_t)a->nlink);
		p_int(&p, a->uid);
		p_int(&p, a->gid);
		p_int(&p, (int64_t)a->size);
		p_int(&p, (int64_t)a->rdev);
		p_int(&p, (int64_t)a->gen);
		p_int(&p, a->atime.sec);
		p_int(&p, a->atime.nsec);
		p_int(&p, a->mtime.sec);
		p_int(&p, a->mtime.nsec);
		p_int(&p, a->ctime.sec);
		p_int(&p, a->ctime.nsec);
		if (ch->has_blob)
			p_bytes(&p, ch->blob, ch->blob_len);
		else
			p_null(&p);
		p_int(&p, (int64_t)a->blocks);
		return send_stmt(pg, S_INODE_PUT, &p) ? -EIO : 1;
	case GF_CHG_INODE_DEL:
		p_int(&p, (int64_t)ch->a);
		if (send_stmt(pg, S_XATTR_DEL_INO, &p) || send_stmt(pg, S_INODE_DEL, &p))
			return -EIO;
		return 2;
	case GF_CHG_DIRENT_PUT:
		p_int(&p, (int64_t)ch->a);
		p_bytes(&p, ch->name, ch->name_len);
		p_int(&p, (int64_t)ch->b);
		p_int(&p, (int64_t)ch->c);
		return send_stmt(pg, S_DIRENT_PUT, &p) ? -EIO : 1;
	case GF_CHG_DIRENT_DEL:
		p_int(&p, (int64_t)ch->a);
		p_bytes(&p, ch->name, ch->name_len);
		return send_stmt(pg, S_DIRENT_DEL, &p) ? -EIO : 1;
	case GF_CHG_XATTR_PUT:
		p_int(&p, (int64_t)ch->a);
		p_bytes(&p, ch->name, ch->name_len);
		p_bytes(&p, ch->blob, ch->blob_len);
		return send_stmt(pg, S_XATTR_PUT, &p) ? -EIO : 1;
	case GF_CHG_XATTR_DEL:
		p_int(&p, (int64_t)ch->a);
		p_bytes(&p, ch->name, ch->name_len);
		return send_stmt(pg, S_XATTR_DEL, &p) ? -EIO : 1;
	case GF_CHG_REPLICA_PUT:
		p_int(&p, (int64_t)ch->a);
		p_int(&p, (int64_t)ch->b);
		p_int(&p, (int64_t)ch->c);
		p_int(&p, (int64_t)ch->d);
		return send_stmt(pg, S_REPLICA_PUT, &p) ? -EIO : 1;
	case GF_CHG_REPLICA_DEL:
		p_int(&p, (int64_t)ch->a);
		p_int(&p, (int64_t)ch->b);
		return send_stmt(pg, S_REPLICA_DEL, &p) ? -EIO : 1;
	case GF_CHG_DEAD_PUT:
	case GF_CHG_DEAD_DEL:
		p_int(&p, (int64_t)ch->a);
		p_int(&p, (int64_t)ch->b);
		p_int(&p, (int64_t)ch->c);
		return send_stmt(pg, ch->kind == GF_CHG_DEAD_PUT ? S_DEAD_PUT : S_DEAD_DEL, &p)
			       ? -EIO : 1;
	case GF_CHG_HOST_PUT:
		p_int(&p, ch->host.host_id);
		p_text(&p, ch->host.name);
		p_text(&p, ch->host.addr);
		p_int(&p, ch->host.port);
		p_int(&p, (int64_t)ch->host.capacity);
		p_int(&p, (int64_t)ch->host.free);
		p_int(&p, ch->host.draining);
		return send_stmt(pg, S_HOST_PUT, &p) ? -EIO : 1;
	case GF_CHG_NEXT_INO:
		p_text(&p, "next_ino");
		p_int(&p, (int64_t)ch->a);
		return send_stmt(pg, S_COUNTER_PUT, &p) ? -EIO : 1;
	case GF_CHG_IDMAP_PUT:
	case GF_CHG_IDMAP_DEL: {
		int user = ch->a == GF_IDMAP_USER;
		p_int(&p, (int64_t)(uint32_t)ch->b);
		p_text(&p, ch->name);
		if (send_stmt(pg, user ? S_USER_DEL : S_GROUP_DEL, &p))
			return -EIO;
		if (ch->kind == GF_CHG_IDMAP_DEL)
			return 1;
		return send_stmt(pg, user ? S_USER_INS : S_GROUP_INS, &p) ? -EIO : 2;
	}
	case GF_CHG_ONCE_PUT:
		/* the client id's 64 bits as a bigint; seqs stay below 2^63 */
		p_int(&p, (int64_t)ch->a);
		p_int(&p, (int64_t)ch->b);
		p_int(&p, (int32_t)(ch->d & 0xffff));
		p_int(&p, (int64_t)ch->c);
		p_text(&p, (ch->d & GF_ONCE_CREATED) ? "t" : "f");
		return send_stmt(pg, S_ONCE_PUT, &p) ? -EIO : 1;
	case GF_CHG_ONCE_DEL:
		p_int(&p, (int64_t)ch->a);
		p_int(&p, ch->b > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ch->b);
		p_int(&p, ch->c > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ch->c);
		return send_stmt(pg, S_ONCE_DEL, &p) ? -EIO : 1;
	}
	return -EINVAL;
}

/* One transaction for the whole batch, in one pipeline. */
/*
 * Changes of a batch that a later change of the same batch makes moot: an
 * inode row put again or deleted later (rows are whole, so the last word
 * on a row is all that matters, and the batch is one transaction), and a
 * counter value no larger than a later one (the counter only grows). Returns a flag per change, or NULL
 * when there is nothing to skip (or no memory to find out: all are sent).
 */
static uint8_t *moot_changes(const struct gf_changes *b)
{
	if (b->n < 2)
		return NULL;
	size_t cap = 16;
	while (cap < 2 * b->n)
		cap *= 2;
	uint64_t *seen = calloc(cap, sizeof(*seen));
	uint8_t *moot = calloc(b->n, 1);
	if (!seen || !moot) {
		free(seen);
		free(moot);
		return NULL;
	}
	size_t skipped = 0;
	int later_counter = 0;
	uint64_t later_max = 0;
	for (size_t i = b->n; i-- > 0;) {
		const struct gf_change *ch = &b->v[i];
		if (ch->kind == GF_CHG_NEXT_INO) {
			/* the stored counter only grows (GREATEST): a value no
			 * larger than a later one changes nothing */
			if (later_counter && ch->a <= later_max) {
				moot[i] = 1;
				skipped++;
			} else {
				later_max = ch->a;
			}
			later_counter = 1;
			continue;
		}
		if (ch->kind != GF_CHG_INODE_PUT && ch->kind != GF_CHG_INODE_DEL)
			continue;
		uint64_t ino = ch->kind == GF_CHG_INODE_PUT ? ch->attr.ino : ch->a;
		if (ino == 0)
			continue;
		size_t h = (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
		while (seen[h] && seen[h] != ino)
			h = (h + 1) & (cap - 1);
		if (seen[h] == ino) {
			/* a later put or delete of this row: an earlier put is moot
			 * (an earlier delete is not: it also drops the xattrs) */
			if (ch->kind == GF_CHG_INODE_PUT) {
				moot[i] = 1;
				skipped++;
			}
		} else {
			seen[h] = ino;
		}
	}
	free(seen);
	if (!skipped) {
		free(moot);
		return NULL;
	}
	return moot;
}

/*
 * One transaction of b's changes, and the journal's last ticket (jticket,
 * when ≥ 0) with them. flush (asynchronous sessions only): this
 * commit waits for its WAL to reach the disk, and with it every earlier
 * commit's; a batch with no change then writes a row of its own, as a
 * transaction that writes nothing has no commit to wait for.
 */
static int commit_batch(PGconn *pg, const struct gf_changes *b, int flush, int64_t jticket,
			char *why, size_t whysz)
{
	int sent = 0, rc = 0;
	uint8_t *moot = moot_changes(b);
	why[0] = 0;
	if (!PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
		goto send_failed;
	sent++;
	if (flush) {
		if (!PQsendQueryParams(pg, "SET LOCAL synchronous_commit TO on", 0, NULL, NULL,
				       NULL, NULL, 0))
			goto send_failed;
		sent++;
		if (!PQsendQueryParams(pg, "INSERT INTO counter (name, value) VALUES ('flushes', 1) "
					   "ON CONFLICT (name) DO UPDATE SET value = counter.value + 1",
				       0, NULL, NULL, NULL, NULL, 0))
			goto send_failed;
		sent++;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (moot && moot[i])
			continue;
		int k = send_change(pg, &b->v[i]);
		if (k < 0)
			goto send_failed;
		sent += k;
	}
	if (jticket >= 0) {
		/* the journal's records up to here are in this transaction */
		struct params p = { .n = 0 };
		p_text(&p, "journal_ticket");
		p_int(&p, jticket);
		if (send_stmt(pg, S_COUNTER_SET, &p))
			goto send_failed;
		sent++;
	}
	if (!PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		goto send_failed;
	sent++;
	if (!PQpipelineSync(pg))
		goto send_failed;

	for (int i = 0; i < sent; i++) {
		PGresult *r = PQgetResult(pg);
		if (!r) {
			snprintf(why, whysz, "result %d of %d missing: %s", i, sent,
				 PQerrorMessage(pg));
			free(moot);
			return -EIO;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !rc) {
			const char *m = PQresultErrorMessage(r);
			snprintf(why, whysz, "%s", *m ? m : PQresStatus(st));
			rc = -EIO;
		}
		PQclear(r);
		/* each query's results end with NULL */
		while ((r = PQgetResult(pg)))
			PQclear(r);
	}
	PGresult *r = PQgetResult(pg);
	if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
		if (!rc)
			snprintf(why, whysz, "no pipeline sync: %s", PQerrorMessage(pg));
		rc = -EIO;
	}
	PQclear(r);
	free(moot);
	return rc;

send_failed:
	snprintf(why, whysz, "sending failed: %s", PQerrorMessage(pg));
	free(moot);
	return -EIO;
}

static void run_waiters(struct waiter *w, int status)
{
	while (w) {
		struct waiter *next = w->next;
		w->done(w->arg, status);
		free(w);
		w = next;
	}
}

/* Insert w by ticket, after any waiter of the same ticket (caller holds mu).
 * Tickets are handed out in order, so w nearly always goes last. */
static void add_waiter(struct wlist *l, struct waiter *w)
{
	struct waiter *after = l->tail;
	while (after && after->ticket > w->ticket)
		after = after->prev;
	w->prev = after;
	w->next = after ? after->next : l->head;
	if (w->next)
		w->next->prev = w;
	else
		l->tail = w;
	if (after)
		after->next = w;
	else
		l->head = w;
}

/* Detach the waiters whose ticket is ≤ upto, in ticket order (caller holds mu). */
static struct waiter *take_waiters(struct wlist *l, uint64_t upto)
{
	struct waiter *ready = l->head, *last = NULL, *w = ready;
	while (w && w->ticket <= upto) {
		last = w;
		w = w->next;
	}
	if (!last)
		return NULL;
	last->next = NULL;
	l->head = w;
	if (w)
		w->prev = NULL;
	else
		l->tail = NULL;
	return ready;
}

/* Someone waits for a flush that no commit has made yet (caller holds mu).
 * With a flushed journal (jsync) only when the journal failed: else the
 * syncer makes the flush. */
static int flush_wanted(const struct gf_store *s)
{
	if (s->jsync)
		return s->journal_broken && (s->durable_waiting.head || s->waiting.head);
	return s->async && s->durable_waiting.head;
}


static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Committed but not yet on disk in PostgreSQL (caller holds mu). */
static int unflushed(const struct gf_store *s)
{
	return s->async && s->pg_durable < s->committed;
}

/*
 * With a flushed journal (jsync) nobody waits for a commit: changes are
 * gathered for up to JSYNC_DELAY_MS or JSYNC_BATCH of them, so that
 * PostgreSQL's work (and the CPU it takes from the replies' path) is done
 * in larger transactions.
 */
#define JSYNC_DELAY_MS 20
#define JSYNC_BATCH 4096

/* Queued changes due for a commit (caller holds mu). */
static int queue_due(const struct gf_store *s, uint64_t now)
{
	if (!s->queue.n)
		return 0;
	return !s->jsync || s->journal_broken || s->stopping || s->queue.n >= JSYNC_BATCH ||
	       now >= s->queued_ms + JSYNC_DELAY_MS ||
	       gf_journal_bytes(s->journal) > s->journal_max;
}

/* Whether the committer has something to do now (caller holds mu). */
static int work_due(const struct gf_store *s, uint64_t now)
{
	return queue_due(s, now) || flush_wanted(s) ||
	       (unflushed(s) && (s->stopping || now >= s->last_flush_ms + s->flush_every_ms));
}

static void wait_for_work(struct gf_store *s)
{
	for (;;) {
		uint64_t now = now_ms();
		if (work_due(s, now) || s->stopping)
			return;
		if (!unflushed(s) && !s->queue.n) {
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		uint64_t due = UINT64_MAX;
		if (unflushed(s))
			due = s->last_flush_ms + s->flush_every_ms;
		if (s->queue.n && s->queued_ms + JSYNC_DELAY_MS < due)
			due = s->queued_ms + JSYNC_DELAY_MS;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (due - now) * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
}

static void *committer(void *arg)
{
	struct gf_store *s = arg;
	char why[512];
	for (;;) {
		pthread_mutex_lock(&s->mu);
		wait_for_work(s);
		uint64_t now = now_ms();
		if (!work_due(s, now)) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		struct gf_changes batch = s->queue;
		uint64_t upto = s->last_ticket;
		/* a journal grown too big is emptied after a flushed commit of
		 * everything in it: no submit may slip in meanwhile */
		int rotate = s->journal && !s->journal_broken &&
			     gf_journal_bytes(s->journal) > s->journal_max;
		/* a flush when asked for, every flush_every_ms while anything is
		 * unflushed, and for the last batch before a close */
		int flush = !s->async || flush_wanted(s) || s->stopping || rotate ||
			    now >= s->last_flush_ms + s->flush_every_ms;
		gf_changes_init(&s->queue);
		if (!rotate)
			pthread_mutex_unlock(&s->mu);

		int rc = commit_batch(s->pg, &batch, s->async && flush,
				      s->journal ? (int64_t)upto : -1, why, sizeof(why));
		size_t n = batch.n;
		gf_changes_free(&batch);
		if (rc) {
			/*
			 * PostgreSQL said no (the connection still works): the
			 * transaction was rolled back, nothing of it happened,
			 * and its requests are told so (EIO). The connection
			 * lost instead (PostgreSQL killed or unreachable): the
			 * COMMIT may have happened or not, and an EIO could be a
			 * lie. Then nobody is answered: clients send their
			 * requests again to the next gfmd, which answers each
			 * once (from its exactly-once record if it was
			 * committed, by doing it if not), as after a kill -9.
			 */
			int lost = PQstatus(s->pg) != CONNECTION_OK;
			gf_err("gfmd: COMMIT of %zu row changes failed: %.*s — exiting: memory "
			       "is ahead of the database, a restart reloads it%s%s", n,
			       (int)strcspn(why, "\n"), why,
			       s->journal ? " (and replays the journal)" : "",
			       lost ? "; the connection is lost, so whether it was committed is "
				      "unknown: no reply is sent, clients ask the next gfmd"
				    : "; its requests get EIO");
			if (lost)
				_exit(1);
			if (!rotate)
				pthread_mutex_lock(&s->mu);
			struct waiter *all = take_waiters(&s->waiting, UINT64_MAX);
			struct waiter *dall = take_waiters(&s->durable_waiting, UINT64_MAX);
			pthread_mutex_unlock(&s->mu);
			run_waiters(all, -EIO);
			run_waiters(dall, -EIO);
			_exit(1);
		}
		if (!rotate)
			pthread_mutex_lock(&s->mu);
		s->committed = upto;
		/* (with a flushed journal a reply waits for the disk) */
		if (s->acked < upto && (!s->jsync || flush))
			s->acked = upto;
		if (flush) {
			if (s->durable < upto)
				s->durable = upto;
			s->pg_durable = upto;
			s->last_flush_ms = now;
		}
		if (rotate) {
			int r = gf_journal_truncate(s->journal);
			if (r < 0)
				gf_warn("gfmd: journal %s: cannot empty it: %s (it keeps growing)",
					gf_journal_path(s->journal), strerror(-r));
		}
		struct waiter *ready = take_waiters(&s->waiting, s->acked);
		struct waiter *dready = take_waiters(&s->durable_waiting, s->durable);
		pthread_mutex_unlock(&s->mu);
		run_waiters(ready, 0);
		run_waiters(dready, 0);
	}
	return NULL;
}

/* An append or a flush of the journal failed (what: "writing", "flushing"):
 * journaling ends for this run, and replies wait for commits as with no
 * journal (flushed ones in the commit mode: the committer is woken for the
 * replies already waiting). Caller holds mu. */
static void journal_failed(struct gf_store *s, const char *what, int rc)
{
	s->journal_broken = 1;
	gf_err("gfmd: journal %s: %s it failed: %s — from now on a mutation is "
	       "acknowledged once %s (as with no journal); a restart of gfmd uses the "
	       "journal again", gf_journal_path(s->journal), what, strerror(-rc),
	       s->jsync ? "its commit is on disk" : "PostgreSQL holds it");
	pthread_cond_signal(&s->cv);
}

/*
 * The syncer (jsync): one round flushes the journal up to what was appended
 * when it started, then acknowledges all of that at once; appends made
 * during the flush wait for the next round (a group commit). A failed
 * flush ends journaling as a failed append does: what is not flushed waits
 * for a flushed commit. (mu held, and held again on return.)
 */
static void sync_round(struct gf_store *s)
{
	uint64_t upto = s->appended;
	pthread_mutex_unlock(&s->mu);
	int rc = gf_journal_sync(s->journal);
	pthread_mutex_lock(&s->mu);
	if (rc < 0) {
		journal_failed(s, "flushing", rc);
		return;
	}
	s->jsynced = upto;
	if (s->durable < upto)
		s->durable = upto;
	if (s->acked < upto)
		s->acked = upto;
	struct waiter *ready = take_waiters(&s->waiting, s->acked);
	struct waiter *dready = take_waiters(&s->durable_waiting, s->durable);
	pthread_mutex_unlock(&s->mu);
	run_waiters(ready, 0);
	run_waiters(dready, 0);
	pthread_mutex_lock(&s->mu);
}

static int sync_due(const struct gf_store *s)
{
	return !s->journal_broken && s->appended > s->jsynced;
}

static void *syncer(void *arg)
{
	struct gf_store *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!sync_due(s) && !s->sync_stopping)
			pthread_cond_wait(&s->scv, &s->mu);
		if (!sync_due(s))
			break;
		sync_round(s);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Prepare every statement (once). */
static int prepare_all(struct gf_store *s)
{
	if (s->prepared)
		return 0;
	for (int i = 0; i < S_COUNT; i++) {
		PGresult *r = PQprepare(s->pg, stmts[i].name, stmts[i].sql, stmts[i].nparams,
					stmts[i].types);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			gf_err("gfmd: preparing statement %s failed: %s", stmts[i].name,
			       PQerrorMessage(s->pg));
			PQclear(r);
			return -EIO;
		}
		PQclear(r);
	}
	s->prepared = 1;
	return 0;
}

/* ---- the journal at start-up ------------------------------------------------- */

struct replay {
	struct gf_store *s;
	uint64_t after;	   /* the database has every ticket up to this */
	uint64_t next;	   /* the ticket the next record applied must have */
	uint64_t first, last, applied;
	int gap;
	struct gf_changes batch;
	char why[512];
};

/* Commit what the replay gathered, with the last ticket it covers. */
static int replay_commit(struct replay *rp)
{
	if (!rp->batch.n)
		return 0;
	int rc = commit_batch(rp->s->pg, &rp->batch, 0, (int64_t)rp->last, rp->why,
			      sizeof(rp->why));
	gf_changes_free(&rp->batch);
	return rc;
}

static int replay_apply(void *arg, uint64_t ticket, struct gf_changes *c)
{
	struct replay *rp = arg;
	if (ticket <= rp->after)
		return 0;
	if (ticket != rp->next) {
		/* records the database lacks are missing: what follows them
		 * cannot be applied without them */
		rp->gap = 1;
		return -ESPIPE;
	}
	if (!rp->applied)
		rp->first = ticket;
	if (gf_changes_move(&rp->batch, c))
		return -ENOMEM;
	rp->last = ticket;
	rp->next = ticket + 1;
	rp->applied++;
	return rp->batch.n >= 4096 ? replay_commit(rp) : 0;
}

static int read_counter(PGresult *r, const char *name, uint64_t *v)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 0), name) == 0) {
			*v = strtoull(PQgetvalue(r, i, 1), NULL, 10);
			return 1;
		}
	return 0;
}

int gf_store_journal_recover(struct gf_store *s, struct gf_journal *j)
{
	PGresult *r = PQexec(s->pg, "SELECT name, value FROM counter WHERE name IN "
				    "('journal_epoch', 'journal_ticket')");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		gf_err("gfmd: reading the journal's counters failed: %s", PQerrorMessage(s->pg));
		PQclear(r);
		return -EIO;
	}
	uint64_t db_epoch = 0, db_ticket = 0;
	int known = read_counter(r, "journal_epoch", &db_epoch);
	read_counter(r, "journal_ticket", &db_ticket);
	PQclear(r);
	int rc = prepare_all(s);
	if (rc < 0)
		return rc;
	if (!PQenterPipelineMode(s->pg)) {
		gf_err("gfmd: cannot enter libpq pipeline mode: %s", PQerrorMessage(s->pg));
		return -EIO;
	}
	const char *path = gf_journal_path(j);
	uint64_t jepoch = gf_journal_epoch(j);
	struct replay rp = { .s = s, .after = db_ticket, .next = db_ticket + 1 };
	gf_changes_init(&rp.batch);
	if (known && db_epoch == jepoch) {
		uint64_t records = 0, tail = 0;
		rc = gf_journal_read(j, replay_apply, &rp, &records, &tail);
		if (rc == -ESPIPE && rp.gap) {
			gf_err("gfmd: journal %s: records after ticket %llu are missing (the "
			       "next one is later); nothing after that point is replayed",
			       path, (unsigned long long)(rp.next - 1));
			rc = 0;
		}
		if (!rc)
			rc = replay_commit(&rp);
		gf_changes_free(&rp.batch);
		if (rc < 0) {
			gf_err("gfmd: journal %s: replaying it into the database failed: %s", path,
			       rp.why[0] ? rp.why : strerror(-rc));
			return -EIO;
		}
		if (rp.applied)
			gf_info("gfmd: journal %s: replayed %llu change lists the database did "
				"not have (tickets %llu to %llu of epoch %llu)",
				path, (unsigned long long)rp.applied,
				(unsigned long long)rp.first, (unsigned long long)rp.last,
				(unsigned long long)jepoch);
		else
			gf_info("gfmd: journal %s: the database has all of its %llu records",
				path, (unsigned long long)records);
		if (tail)
			gf_warn("gfmd: journal %s: %llu bytes after its last whole record "
				"ignored (a write cut short by a crash: never acknowledged)",
				path, (unsigned long long)tail);
	} else if (gf_journal_bytes(j) > 0) {
		gf_info("gfmd: journal %s: epoch %llu is not the database's (%s%llu): its "
			"records were replayed before, not replayed again", path,
			(unsigned long long)jepoch, known ? "" : "none, ",
			(unsigned long long)db_epoch);
	}
	if (!PQexitPipelineMode(s->pg)) {
		gf_err("gfmd: cannot leave libpq pipeline mode: %s", PQerrorMessage(s->pg));
		return -EIO;
	}
	/* a new epoch: the file first, flushed, then the database. A crash
	 * between them leaves the two epochs different, and an empty file
	 * or one whose records the database has either way. */
	uint64_t epoch = (db_epoch > jepoch ? db_epoch : jepoch) + 1;
	if ((rc = gf_journal_new_epoch(j, epoch)) < 0) {
		gf_err("gfmd: journal %s: cannot start epoch %llu: %s", path,
		       (unsigned long long)epoch, strerror(-rc));
		return rc;
	}
	/* with its ticket back at 0: a run's tickets start again at 1, and the
	 * last epoch's ticket would hide them from the next replay. (One
	 * statement, its own transaction; the session still flushes every
	 * commit at this point.) */
	char num[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)epoch);
	const char *pv[1] = { num };
	r = PQexecParams(s->pg, "INSERT INTO counter (name, value) VALUES "
				"('journal_epoch', $1::bigint), ('journal_ticket', 0) "
				"ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
			 1, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		gf_err("gfmd: recording the journal's epoch failed: %s", PQerrorMessage(s->pg));
		PQclear(r);
		return -EIO;
	}
	PQclear(r);
	s->journal = j;
	gf_info("gfmd: journal %s: epoch %llu", path, (unsigned long long)epoch);
	return 0;
}

int gf_store_start(struct gf_store *s)
{
	if (prepare_all(s) < 0)
		return -EIO;
	if (s->journal && !s->async) {
		/* the commit mode with a journal: a reply waits for the journal's
		 * flush, and commits need not wait for theirs */
		s->jsync = 1;
		s->async = 1;
	}
	if (s->journal)
		gf_info("gfmd: journal %s: a mutation is acknowledged once written there%s",
			gf_journal_path(s->journal),
			s->jsync ? " and flushed to disk" : " (not flushed: durability = fsync)");
	s->last_flush_ms = now_ms();
	if (s->async) {
		PGresult *r = PQexec(s->pg, "SET synchronous_commit TO off");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			gf_err("gfmd: cannot make commits asynchronous: %s", PQerrorMessage(s->pg));
			PQclear(r);
			return -EIO;
		}
		PQclear(r);
	}
	if (!PQenterPipelineMode(s->pg)) {
		gf_err("gfmd: cannot enter libpq pipeline mode: %s", PQerrorMessage(s->pg));
		return -EIO;
	}
	int rc = pthread_create(&s->thread, NULL, committer, s);
	if (rc)
		return -rc;
	s->started = 1;
	if (s->jsync) {
		if ((rc = pthread_create(&s->syncer, NULL, syncer, s)))
			return -rc;
		s->syncer_started = 1;
	}
	return 0;
}

uint64_t gf_store_submit(void *store, struct gf_changes *chg)
{
	struct gf_store *s = store;
	pthread_mutex_lock(&s->mu);
	uint64_t t = ++s->last_ticket;
	if (s->journal && !s->journal_broken) {
		/* the record of this list, in ticket order (mu is held) */
		int rc = gf_journal_append(s->journal, t, chg);
		if (rc < 0) {
			journal_failed(s, "writing", rc);
		} else if (s->jsync) {
			if (s->appended == t - 1)
				s->appended = t;
			pthread_cond_signal(&s->scv);
		} else if (s->acked == t - 1) {
			s->acked = t;
		}
	}
	if (!s->queue.n && s->jsync)
		s->queued_ms = now_ms();
	if (gf_changes_move(&s->queue, chg)) {
		gf_err("gfmd: out of memory queueing changes for the database; exiting");
		abort();
	}
	if (!s->jsync || s->journal_broken || s->queue.n >= JSYNC_BATCH)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return t;
}

void gf_store_set_durability(struct gf_store *s, enum gf_durability d)
{
	s->async = d == GF_DURABLE_FSYNC;
}

void gf_store_set_flush_ms(struct gf_store *s, uint32_t ms)
{
	s->flush_every_ms = ms;
}

void gf_store_set_journal_max(struct gf_store *s, uint64_t bytes)
{
	s->journal_max = bytes;
}

uint64_t gf_store_last_ticket(struct gf_store *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t t = s->last_ticket;
	pthread_mutex_unlock(&s->mu);
	return t;
}


/* Run done now if *reached covers ticket, else park it on l (and wake the
 * committer: a flush may be wanted). */
static void wait_on(struct gf_store *s, struct wlist *l, const uint64_t *reached,
		    uint64_t ticket, void (*done)(void *arg, int status), void *arg)
{
	pthread_mutex_lock(&s->mu);
	if (ticket <= *reached) {
		pthread_mutex_unlock(&s->mu);
		done(arg, 0);
		return;
	}
	struct waiter *w = malloc(sizeof(*w));
	if (!w) {
		gf_err("gfmd: out of memory waiting for a commit; exiting");
		abort();
	}
	w->ticket = ticket;
	w->done = done;
	w->arg = arg;
	add_waiter(l, w);
	/* (with a flushed journal the syncer, woken at the submit, answers it;
	 * the committer only when the journal failed) */
	if (!s->jsync || s->journal_broken)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void gf_store_on_commit(struct gf_store *s, uint64_t ticket,
			void (*done)(void *arg, int status), void *arg)
{
	wait_on(s, &s->waiting, &s->acked, ticket, done, arg);
}

void gf_store_on_durable(struct gf_store *s, uint64_t ticket,
			 void (*done)(void *arg, int status), void *arg)
{
	if (s->async)
		wait_on(s, &s->durable_waiting, &s->durable, ticket, done, arg);
	else
		gf_store_on_commit(s, ticket, done, arg);
}

uint64_t gf_store_committed(struct gf_store *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t t = s->committed;
	pthread_mutex_unlock(&s->mu);
	return t;
}

uint64_t gf_store_durable(struct gf_store *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t t = s->durable;
	pthread_mutex_unlock(&s->mu);
	return t;
}

void gf_store_close(struct gf_store *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	if (s->syncer_started) {
		pthread_mutex_lock(&s->mu);
		s->sync_stopping = 1;
		pthread_cond_signal(&s->scv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->syncer, NULL);
	}
	pthread_mutex_lock(&s->mu);
	struct waiter *left = take_waiters(&s->waiting, UINT64_MAX);
	struct waiter *dleft = take_waiters(&s->durable_waiting, UINT64_MAX);
	pthread_mutex_unlock(&s->mu);
	run_waiters(left, s->started ? 0 : -EIO);
	run_waiters(dleft, s->started ? 0 : -EIO);
	gf_changes_free(&s->queue);
	/* the last batch was flushed: nothing in the journal is needed */
	if (s->journal && s->started && s->pg_durable == s->last_ticket)
		(void)gf_journal_truncate(s->journal);
	gf_journal_close(s->journal);
	PQfinish(s->pg); /* ends the session, and with it the serving lock */
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->scv);
	free(s->shown);
	free(s);
}
