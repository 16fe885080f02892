/*
 * store.h — gfmd's durable store, behind a handful of functions.
 *
 * PostgreSQL today (store_pg.c); a distributed PostgreSQL, or anything that
 * can apply a list of row upserts/deletes atomically, could replace it.
 *
 *   open → lock → migrate → cluster_id → load (rows to callbacks)
 *   → start (committer thread) → submit/on_commit while serving
 *   → close (drains, then stops).
 *
 * One gfmd per database: memory is the truth while gfmd runs, so a second
 * gfmd on the same database would serve a diverging copy and overwrite the
 * first one's rows. gf_store_lock() takes a lock that belongs to the store's
 * database session: held until gf_store_close(), or until the process dies
 * in any way (kill -9 included), when PostgreSQL ends the session. (If the
 * gfmd machine dies, PostgreSQL frees it once it notices the dead
 * connection: TCP keepalives.)
 *
 * Group commit: gf_store_submit() only queues a change list (changes.h) and
 * returns its ticket; it is the sink the namespace and the host registry
 * call under their locks, so it never blocks on I/O. The committer thread
 * takes everything queued, applies it as one transaction (pipelined), and
 * then runs the completions of every ticket it covered, in ticket order
 * (one ticket's in the order they were registered). A completion
 * registered for a ticket that is already committed runs at once, in the
 * caller's thread.
 *
 * A failed commit is fatal: memory is ahead of the database, so the
 * failure is logged and the process exits (a restart reloads the truth).
 * Crash-only. A transaction PostgreSQL refused was rolled back: every
 * waiting completion gets -EIO first. With the connection lost, whether
 * the COMMIT happened is unknown: no completion runs (clients resend their
 * requests to the next gfmd, which answers each exactly once).
 */
#ifndef GF_STORE_H
#define GF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "proto.h"

struct gf_store;

/* Embedded migrations (gfmd/schema_sql.c, generated from sql/NNN_*.sql). */
struct gf_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct gf_migration gf_migrations[];
extern const size_t gf_migrations_count;

/* What the store found at start-up; each returns 0 or -errno (stops the load). */
struct gf_store_loader {
	void *arg;
	int (*inode)(void *arg, const struct gf_attr *a, const char *symlink);
	int (*dirent)(void *arg, uint64_t parent, const char *name, uint64_t ino,
		      uint64_t cookie);
	int (*xattr)(void *arg, uint64_t ino, const char *name, const void *value,
		     size_t len);
	int (*replica)(void *arg, uint64_t ino, uint32_t host_id, uint64_t gen, uint64_t fgen);
	int (*dead)(void *arg, uint64_t ino, uint32_t host_id, uint64_t fgen);
	int (*host)(void *arg, const struct gf_change_host *h);
	void (*next_ino)(void *arg, uint64_t next);
	/* a row of users or groups (kind gf_idmap_kind); may be NULL */
	int (*idmap)(void *arg, uint8_t kind, const char *name, uint32_t id);
	/* an exactly-once record (gfmd/once.h): at is when it was made (unix
	 * seconds); may be NULL */
	int (*once)(void *arg, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		    int created, int64_t at);
	/* before loading them, the records of every client whose newest one is
	 * older than this many seconds are deleted (0: none) */
	uint32_t once_forget_s;
};

/* Connect (application_name "gfmd" unless conninfo sets one). On failure
 * logs "cannot connect to PostgreSQL '...': why". */
int gf_store_open(const char *conninfo, struct gf_store **out);
/* Become the only gfmd of this database, before touching it: take the
 * serving lock (an advisory lock of this session, distinct from the one
 * migrations take). A lock that is busy is retried for 2 s (the session of
 * a gfmd killed a moment ago may still be ending). 0, or without logging:
 * -EBUSY, another session holds it (why: "another gfmd is already serving
 * database '...' (PostgreSQL backend pid N holds its lock)"), or -EIO. */
int gf_store_lock(struct gf_store *s, char *why, size_t whysz);
/* Apply the embedded migrations not yet in schema_version, in order. */
int gf_store_migrate(struct gf_store *s);
int gf_store_load(struct gf_store *s, const struct gf_store_loader *ld);
/* The cluster id (after migrate, before start): made with uuid_generate and
 * stored at the first start, read from the cluster table ever after. */
int gf_store_cluster_id(struct gf_store *s, uint8_t id[GF_CLUSTER_ID_LEN]);
/*
 * Durability (before start). GF_DURABLE_COMMIT (the default): every commit
 * is flushed before its completions run. GF_DURABLE_FSYNC: commits are
 * asynchronous (synchronous_commit = off): a completion runs once
 * PostgreSQL holds the transaction (it survives a crash of gfmd, and
 * PostgreSQL writes it to disk within 3 × its wal_writer_delay, 0.6 s by
 * default), and gf_store_on_durable() waits for a flush.
 */
enum gf_durability { GF_DURABLE_COMMIT = 0, GF_DURABLE_FSYNC = 1 };
void gf_store_set_durability(struct gf_store *s, enum gf_durability d);
/* GF_DURABLE_FSYNC: the longest a committed change waits for a flush when
 * nothing asks for one (default 1000 ms): what a crash of the machine may
 * lose, and how long a replica's deletion waits for the death it follows
 * to be on disk (gf_store_durable). */
void gf_store_set_flush_ms(struct gf_store *s, uint32_t ms);
/* The size past which the journal is emptied (default 64 MiB). */
void gf_store_set_journal_max(struct gf_store *s, uint64_t bytes);
/*
 * The journal (journal.h): after the cluster id and
 * before load, replay into the database the journal's records it does not
 * have yet (the epoch the database recorded must be the file's, and the
 * records must follow the last ticket it recorded without a gap), start a
 * new epoch in the file and then in the database, and keep j: from start
 * on, gf_store_submit() appends each list to it before returning. In
 * GF_DURABLE_FSYNC mode a completion of gf_store_on_commit() runs as soon
 * as the record is written (a kill -9 of gfmd or of PostgreSQL loses none
 * of it). In GF_DURABLE_COMMIT mode commits no longer wait for a flush, a
 * thread of the store flushes the journal (one fdatasync for every record
 * written while the last one ran), and a completion runs once its record
 * is flushed or a flushed commit holds it: on disk, as without a journal,
 * and gf_store_durable() moves with those flushes. Every commit
 * records the last ticket it holds; the file is emptied when it passes
 * gf_store_set_journal_max (at a flushed commit of all it holds) and at a
 * clean close. A
 * failed append is logged and ends journaling: completions wait for
 * commits again. On success the store owns j (gf_store_close closes it).
 * 0, or -EIO / -errno (logged).
 */
struct gf_journal;
int gf_store_journal_recover(struct gf_store *s, struct gf_journal *j);
/* Start the committer thread. */
int gf_store_start(struct gf_store *s);

/* A gf_sink_fn: queue chg's contents; returns the ticket. */
uint64_t gf_store_submit(void *store, struct gf_changes *chg);
/* Run done(arg, 0) once ticket is committed, or written to the journal
 * (or done(arg, -EIO) before the process exits on a commit PostgreSQL
 * refused; never, when the connection was lost). */
void gf_store_on_commit(struct gf_store *s, uint64_t ticket,
			void (*done)(void *arg, int status), void *arg);

/* Run done(arg, 0) once every ticket ≤ ticket is on disk (in
 * GF_DURABLE_COMMIT mode: committed; else a flush is made for it). */
void gf_store_on_durable(struct gf_store *s, uint64_t ticket,
			 void (*done)(void *arg, int status), void *arg);
/* The newest ticket handed out so far. */
uint64_t gf_store_last_ticket(struct gf_store *s);

/* The newest ticket committed so far (every ticket ≤ it is in PostgreSQL;
 * on disk too in GF_DURABLE_COMMIT mode without a journal). */
uint64_t gf_store_committed(struct gf_store *s);

/* The newest ticket on disk (every ticket ≤ it is; in GF_DURABLE_FSYNC mode
 * the committer flushes every flush_ms while anything is not). */
uint64_t gf_store_durable(struct gf_store *s);

/* Commit everything queued, run the completions, stop the thread, close. */
void gf_store_close(struct gf_store *s);

#endif
