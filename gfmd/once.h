/*
 * once.h — exactly-once mutations: what gfmd remembers of each client's
 * GFM_ONCE requests (proto.h), so that a copy sent again is answered and
 * never applied twice.
 *
 * A client resends a request whose connection broke before its reply came
 * (gfmd restarted, or the connection was lost), not knowing whether gfmd
 * applied it. Each (client, seq) is applied at most once:
 *
 *   - gf_once_begin claims (client, seq) before the mutation runs. A seq
 *     already answered gets its record instead (REPLAY); one whose first
 *     copy is being applied right now, by another connection's thread,
 *     waits for that one to end (the wait is for in-memory work only: the
 *     commit is not waited for here); one the client has already settled
 *     (seq ≤ its acked) and that is not known any more is STALE: a late
 *     copy whose client is not waiting for it, never applied.
 *   - The mutation records its success in its own change list
 *     (GF_CHG_ONCE_PUT, changes.h): the record is committed exactly when the
 *     mutation is, and a crash of gfmd loses both or neither. At start-up
 *     the store's rows come back through gf_once_load.
 *   - gf_once_end keeps the result in memory: status, the inode the
 *     mutation created, linked or opened, and its ticket, which a replayed
 *     reply waits for as the first reply did (namespace.h: no reply shows
 *     what a crash could still roll back). A failure is kept in memory
 *     only: it changed nothing, so after a restart a copy sent again simply
 *     runs again, and its client, which never saw the first answer, sees
 *     the second one.
 *
 * Forgetting. acked, sent with every request, settles every seq ≤ it: their
 * records leave memory at once and the database every GF_ONCE_TRIM_EVERY
 * seqs (GF_CHG_ONCE_DEL through the sink; a row left behind meanwhile is
 * harmless, no copy of it will come). Each delete covers only the seqs
 * since the previous one (from below the lowest seq it found still being
 * applied, whose row may come later): a range delete walks the index
 * entries of rows already deleted too, until PostgreSQL vacuums them. A
 * client silent for forget_s seconds (a day in gfmd) is forgotten whole,
 * in memory by a sweep at most every GF_ONCE_SWEEP_S, in the database also
 * at start-up (store.h): a mutation resent after that long is no longer
 * protected.
 *
 * Thread-safe: one mutex and one condition variable. The sink is called
 * under the mutex; it must not call back in (the store's queue lock is
 * never held while calling here).
 */
#ifndef GF_ONCE_H
#define GF_ONCE_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"

#define GF_ONCE_FORGET_S (24 * 3600)
#define GF_ONCE_TRIM_EVERY 64
#define GF_ONCE_SWEEP_S 3600

struct gf_once;

/* What a first copy ended with. */
struct gf_once_rec {
	int32_t status;	 /* 0 or the -errno it was answered with */
	uint16_t op;	 /* the request inside (proto.h) */
	uint64_t ino;	 /* created, linked or opened (0: none) */
	uint8_t created; /* the request created ino */
	uint64_t ticket; /* of its changes (0: committed, e.g. loaded) */
};

enum gf_once_verdict {
	GF_ONCE_NEW = 1, /* claimed: run the mutation, then gf_once_end/abort */
	GF_ONCE_REPLAY,	 /* done before: answer from *rec, apply nothing */
	GF_ONCE_STALE,	 /* settled by its client and forgotten: apply nothing */
};

struct gf_once *gf_once_new(uint32_t forget_s);
void gf_once_free(struct gf_once *t);
/* Where GF_CHG_ONCE_DEL of trims and sweeps go (NULL: nowhere). */
void gf_once_set_sink(struct gf_once *t, gf_sink_fn sink, void *arg);

/* A row of the store (a success committed before the last start): at is
 * when it was recorded (unix seconds). -EEXIST, -ENOMEM. */
int gf_once_load(struct gf_once *t, uint64_t client, uint64_t seq, uint16_t op, uint64_t ino,
		 int created, int64_t at);

/*
 * A GFM_ONCE request arrived at time now (unix seconds): settle what acked
 * says, then decide. Returns a gf_once_verdict (*rec filled for REPLAY),
 * -EPROTO when (client, seq) was used for another op, or -ENOMEM. After
 * NEW the caller must call gf_once_end or gf_once_abort, or every later
 * copy would wait for ever.
 */
int gf_once_begin(struct gf_once *t, const struct gf_once_id *id, uint64_t acked,
		  int64_t now, struct gf_once_rec *rec);
/* The claimed mutation ended with status, and ticket; what it recorded
 * (ino, created) is in id (changes.h: gf_changes_once). */
void gf_once_end(struct gf_once *t, const struct gf_once_id *id, int status, uint64_t ticket);
/* The claimed request was not run at all (it did not decode): forget it. */
void gf_once_abort(struct gf_once *t, const struct gf_once_id *id);

/* For tests: records held in memory for *client (NULL: all clients), and
 * callers of gf_once_begin waiting for a first copy to end. */
size_t gf_once_count(struct gf_once *t, const uint64_t *client);
size_t gf_once_waiting(struct gf_once *t);

#endif
