/*
 * check_once.c — exactly-once mutations in gfmd (gfmd/once.h), on their own
 * and with the namespace and the user maps that record them:
 *   - a claimed (client, seq) is answered from its record afterwards, its
 *     error too; a seq used for two ops is refused; an abort forgets;
 *   - a copy arriving while its first one is being applied waits for it;
 *   - acked settles: records leave memory, late copies are stale, the
 *     database is trimmed every GF_ONCE_TRIM_EVERY seqs (only for clients
 *     with stored rows);
 *   - silent clients are swept (and their rows deleted), busy ones kept;
 *   - loaded rows replay as committed successes;
 *   - a mutation records its success in its own change list (the inode it
 *     made, linked or opened), a failure records nothing, a rename onto
 *     itself records only that; gf_ns_reopen is the creator's open again.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "namespace.h"
#include "once.h"
#include "users.h"

#define WAIT_SECS 60 /* a safety net for waits that end by themselves */

/* ---- a sink that keeps every change list ----------------------------------------- */

#define MAX_LISTS 256
static struct gf_changes lists[MAX_LISTS];
static size_t nlists;
static uint64_t last_ticket;

static uint64_t keep_sink(void *arg, struct gf_changes *c)
{
	(void)arg;
	ck_assert_uint_lt(nlists, MAX_LISTS);
	gf_changes_init(&lists[nlists]);
	ck_assert_int_eq(gf_changes_move(&lists[nlists], c), 0);
	nlists++;
	return ++last_ticket;
}

static void lists_clear(void)
{
	for (size_t i = 0; i < nlists; i++)
		gf_changes_free(&lists[i]);
	nlists = 0;
}

/* How many changes of kind k list i holds. */
static size_t count_kind(size_t i, enum gf_change_kind k)
{
	size_t n = 0;
	for (size_t j = 0; j < lists[i].n; j++)
		n += lists[i].v[j].kind == k;
	return n;
}

static const struct gf_change *find_kind(size_t i, enum gf_change_kind k)
{
	for (size_t j = 0; j < lists[i].n; j++)
		if (lists[i].v[j].kind == k)
			return &lists[i].v[j];
	return NULL;
}

static struct gf_once *t;

static void setup(void)
{
	t = gf_once_new(GF_ONCE_FORGET_S);
	ck_assert_ptr_nonnull(t);
	gf_once_set_sink(t, keep_sink, NULL);
	nlists = 0;
	last_ticket = 0;
}

static void teardown(void)
{
	gf_once_free(t);
	t = NULL;
	lists_clear();
}

static const int64_t T0 = 1700000000;

/* The claimed request ended: what the mutation would have noted in the id
 * (gf_changes_once) and its result. */
static void end_(struct gf_once_id *id, int status, uint64_t ino, uint64_t ticket)
{
	id->ino = ino;
	id->created = 0;
	gf_once_end(t, id, status, ticket);
}

static struct gf_once_id id(uint64_t client, uint64_t seq, uint16_t op)
{
	return (struct gf_once_id){ .client = client, .seq = seq, .op = op };
}

/* ---- the table ---------------------------------------------------------------------- */

START_TEST(test_claim_then_replay)
{
	struct gf_once_id a = id(7, 1, GFM_MKDIR);
	struct gf_once_rec rec;
	ck_assert_int_eq(gf_once_begin(t, &a, 0, T0, &rec), GF_ONCE_NEW);
	end_(&a, 0, 42, 9);
	memset(&rec, 0xa5, sizeof(rec));
	ck_assert_int_eq(gf_once_begin(t, &a, 0, T0, &rec), GF_ONCE_REPLAY);
	ck_assert_int_eq(rec.status, 0);
	ck_assert_uint_eq(rec.op, GFM_MKDIR);
	ck_assert_uint_eq(rec.ino, 42);
	ck_assert_uint_eq(rec.ticket, 9);
	/* and again: a record answers every copy */
	ck_assert_int_eq(gf_once_begin(t, &a, 0, T0, &rec), GF_ONCE_REPLAY);
	/* the same seq for another op is a client bug */
	struct gf_once_id b = id(7, 1, GFM_UNLINK);
	ck_assert_int_eq(gf_once_begin(t, &b, 0, T0, &rec), -EPROTO);
	/* another client's seq 1 is its own */
	struct gf_once_id c = id(8, 1, GFM_UNLINK);
	ck_assert_int_eq(gf_once_begin(t, &c, 0, T0, &rec), GF_ONCE_NEW);
	end_(&c, 0, 0, 10);
	uint64_t seven = 7;
	ck_assert_uint_eq(gf_once_count(t, &seven), 1);
	ck_assert_uint_eq(gf_once_count(t, NULL), 2);
	ck_assert_uint_eq(nlists, 0); /* nothing for the database yet */
}
END_TEST

START_TEST(test_failure_replays_and_abort_forgets)
{
	struct gf_once_id a = id(7, 3, GFM_RMDIR), b = id(7, 4, GFM_CREATE);
	struct gf_once_rec rec;
	ck_assert_int_eq(gf_once_begin(t, &a, 0, T0, &rec), GF_ONCE_NEW);
	end_(&a, -ENOTEMPTY, 99, 5);
	ck_assert_int_eq(gf_once_begin(t, &a, 0, T0, &rec), GF_ONCE_REPLAY);
	ck_assert_int_eq(rec.status, -ENOTEMPTY);
	ck_assert_uint_eq(rec.ino, 0); /* a failure made nothing */
	ck_assert_uint_eq(rec.ticket, 5);

	ck_assert_int_eq(gf_once_begin(t, &b, 0, T0, &rec), GF_ONCE_NEW);
	gf_once_abort(t, &b); /* not run at all */
	ck_assert_int_eq(gf_once_begin(t, &b, 0, T0, &rec), GF_ONCE_NEW);
	end_(&b, 0, 11, 6);
	/* end and abort of what is not claimed change nothing */
	end_(&b, -EIO, 0, 0);
	gf_once_abort(t, &b);
	struct gf_once_id z = id(12345, 1, GFM_MKDIR);
	end_(&z, 0, 1, 1);
	gf_once_abort(t, &z);
	ck_assert_int_eq(gf_once_begin(t, &b, 0, T0, &rec), GF_ONCE_REPLAY);
	ck_assert_int_eq(rec.status, 0);
	ck_assert_uint_eq(rec.ino, 11);
}
END_TEST

struct racer {
	struct gf_once_id id;
	int verdict;
	struct gf_once_rec rec;
};

static void *race_begin(void *arg)
{
	struct racer *r = arg;
	r->verdict = gf_once_begin(t, &r->id, 0, T0, &r->rec);
	return NULL;
}

static int wait_for_waiters(size_t n)
{
	for (int i = 0; i < WAIT_SECS * 1000; i++) {
		if (gf_once_waiting(t) == n)
			return 1;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return 0;
}

/* A copy that arrives while the first one is applied (another connection
 * of the same client, after a reconnect) waits for it and gets its result:
 * it is neither applied as well nor answered before the first one ends. */
START_TEST(test_copy_waits_for_first)
{
	struct racer r = { .id = id(7, 1, GFM_MKDIR) };
	struct gf_once_rec rec;
	pthread_t th;
	ck_assert_int_eq(gf_once_begin(t, &r.id, 0, T0, &rec), GF_ONCE_NEW);
	ck_assert_int_eq(pthread_create(&th, NULL, race_begin, &r), 0);
	ck_assert_msg(wait_for_waiters(1), "the second copy does not wait");
	end_(&r.id, 0, 77, 3);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(r.verdict, GF_ONCE_REPLAY);
	ck_assert_uint_eq(r.rec.ino, 77);
	ck_assert_uint_eq(r.rec.ticket, 3);
	ck_assert_uint_eq(gf_once_waiting(t), 0);

	/* the same with an abort: the waiter then runs it itself */
	r = (struct racer){ .id = id(7, 2, GFM_MKDIR) };
	ck_assert_int_eq(gf_once_begin(t, &r.id, 0, T0, &rec), GF_ONCE_NEW);
	ck_assert_int_eq(pthread_create(&th, NULL, race_begin, &r), 0);
	ck_assert_msg(wait_for_waiters(1), "the second copy does not wait");
	gf_once_abort(t, &r.id);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(r.verdict, GF_ONCE_NEW);
	end_(&r.id, 0, 1, 1);
}
END_TEST

/* acked settles: records leave memory, late copies of settled seqs are
 * stale (applied never), a busy record stays until it ends. */
START_TEST(test_acked_settles)
{
	struct gf_once_rec rec;
	for (uint64_t s = 1; s <= 5; s++) {
		struct gf_once_id a = id(7, s, GFM_UNLINK);
		ck_assert_int_eq(gf_once_begin(t, &a, 0, T0, &rec), GF_ONCE_NEW);
		if (s != 4)
			end_(&a, s == 2 ? -ENOENT : 0, 0, s);
	}
	uint64_t seven = 7;
	ck_assert_uint_eq(gf_once_count(t, &seven), 5);
	struct gf_once_id six = id(7, 6, GFM_UNLINK);
	ck_assert_int_eq(gf_once_begin(t, &six, 4, T0, &rec), GF_ONCE_NEW);
	/* 1, 2, 3 gone; 4 (still busy) and 5 and 6 remain */
	ck_assert_uint_eq(gf_once_count(t, &seven), 3);
	end_(&six, 0, 0, 6);
	struct gf_once_id one = id(7, 1, GFM_UNLINK), three = id(7, 3, GFM_UNLINK);
	ck_assert_int_eq(gf_once_begin(t, &one, 0, T0, &rec), GF_ONCE_STALE);
	ck_assert_int_eq(gf_once_begin(t, &three, 0, T0, &rec), GF_ONCE_STALE);
	/* a lower acked later does not undo it */
	ck_assert_int_eq(gf_once_begin(t, &three, 1, T0, &rec), GF_ONCE_STALE);
	/* a seq never seen but settled (the client gave up on it): stale too */
	struct gf_once_id b = id(9, 2, GFM_MKDIR);
	ck_assert_int_eq(gf_once_begin(t, &b, 5, T0, &rec), GF_ONCE_STALE);
	/* the busy one ends after its client settled it: answered all the same */
	struct gf_once_id four = id(7, 4, GFM_UNLINK);
	end_(&four, 0, 0, 44);
	ck_assert_int_eq(gf_once_begin(t, &four, 4, T0, &rec), GF_ONCE_REPLAY);
	ck_assert_uint_eq(rec.ticket, 44);
	struct gf_once_id seven7 = id(7, 7, GFM_UNLINK);
	ck_assert_int_eq(gf_once_begin(t, &seven7, 6, T0, &rec), GF_ONCE_NEW);
	ck_assert_uint_eq(gf_once_count(t, &seven), 1); /* 7 only */
	end_(&seven7, 0, 0, 45);
}
END_TEST

/* The database follows every GF_ONCE_TRIM_EVERY seqs, for clients that have
 * rows at all. */
START_TEST(test_trim_reaches_database)
{
	struct gf_once_rec rec;
	uint64_t s;
	/* client 9 only ever fails: nothing of it is stored */
	for (s = 1; s <= 3 * GF_ONCE_TRIM_EVERY; s++) {
		struct gf_once_id a = id(9, s, GFM_MKDIR);
		ck_assert_int_eq(gf_once_begin(t, &a, s - 1, T0, &rec), GF_ONCE_NEW);
		end_(&a, -EEXIST, 0, s);
	}
	ck_assert_uint_eq(nlists, 0);
	/* client 7 succeeds: a delete each GF_ONCE_TRIM_EVERY settled seqs */
	for (s = 1; s <= 2 * GF_ONCE_TRIM_EVERY + 1; s++) {
		struct gf_once_id a = id(7, s, GFM_MKDIR);
		ck_assert_int_eq(gf_once_begin(t, &a, s - 1, T0, &rec), GF_ONCE_NEW);
		end_(&a, 0, 100 + s, s);
	}
	ck_assert_uint_eq(nlists, 2);
	for (size_t i = 0; i < nlists; i++) {
		ck_assert_uint_eq(lists[i].n, 1);
		const struct gf_change *ch = find_kind(i, GF_CHG_ONCE_DEL);
		ck_assert_ptr_nonnull(ch);
		ck_assert_uint_eq(ch->a, 7);
		ck_assert_uint_eq(ch->b, (i + 1) * GF_ONCE_TRIM_EVERY);
		/* from where the previous one ended, not from seq 0 */
		ck_assert_uint_eq(ch->c, i * GF_ONCE_TRIM_EVERY);
	}
	uint64_t seven = 7;
	ck_assert_uint_eq(gf_once_count(t, &seven), 1); /* memory keeps only the last */
}
END_TEST

/* A trim starts below a seq still being applied when it ran: that one's row
 * may be written after the trim, and the next trim must cover it. */
START_TEST(test_trim_starts_below_busy)
{
	struct gf_once_rec rec;
	struct gf_once_id slow = id(5, 1, GFM_MKDIR);
	ck_assert_int_eq(gf_once_begin(t, &slow, 0, T0, &rec), GF_ONCE_NEW);
	uint64_t s;
	for (s = 2; s <= 3 * GF_ONCE_TRIM_EVERY + 1; s++) {
		if (s == 2 * GF_ONCE_TRIM_EVERY + 1)
			end_(&slow, 0, 50, 1); /* its row comes after two trims */
		struct gf_once_id a = id(5, s, GFM_MKDIR);
		ck_assert_int_eq(gf_once_begin(t, &a, s - 1, T0, &rec), GF_ONCE_NEW);
		end_(&a, 0, 100 + s, s);
	}
	ck_assert_uint_eq(nlists, 3);
	const uint64_t after[] = { 0, 0, 2 * GF_ONCE_TRIM_EVERY };
	for (size_t i = 0; i < nlists; i++) {
		const struct gf_change *ch = find_kind(i, GF_CHG_ONCE_DEL);
		ck_assert_ptr_nonnull(ch);
		ck_assert_uint_eq(ch->b, (i + 1) * GF_ONCE_TRIM_EVERY);
		ck_assert_uint_eq(ch->c, after[i]);
	}
}
END_TEST

/* A client silent for forget_s is forgotten at the next sweep (at most one
 * per GF_ONCE_SWEEP_S), with its rows; one with a request in progress is
 * not. */
START_TEST(test_sweep_forgets_silent_clients)
{
	struct gf_once_rec rec;
	struct gf_once_id quiet = id(1, 1, GFM_MKDIR), failed = id(2, 1, GFM_MKDIR),
			  busy = id(3, 1, GFM_MKDIR), chatty = id(4, 1, GFM_MKDIR);
	ck_assert_int_eq(gf_once_begin(t, &quiet, 0, T0, &rec), GF_ONCE_NEW);
	end_(&quiet, 0, 5, 1);
	ck_assert_int_eq(gf_once_begin(t, &failed, 0, T0, &rec), GF_ONCE_NEW);
	end_(&failed, -EEXIST, 0, 1);
	ck_assert_int_eq(gf_once_begin(t, &busy, 0, T0, &rec), GF_ONCE_NEW);
	ck_assert_int_eq(gf_once_begin(t, &chatty, 0, T0, &rec), GF_ONCE_NEW);
	end_(&chatty, 0, 6, 2);
	/* a day later, but before the next sweep is due: nobody is forgotten */
	struct gf_once_id next = id(4, 2, GFM_MKDIR);
	ck_assert_int_eq(gf_once_begin(t, &next, 1, T0 + GF_ONCE_SWEEP_S - 1, &rec), GF_ONCE_NEW);
	end_(&next, 0, 7, 3);
	ck_assert_uint_eq(gf_once_count(t, NULL), 4);
	ck_assert_uint_eq(nlists, 0);
	/* the sweep runs at the first request once it is due: then clients
	 * silent for forget_s go, but not one with a request in progress */
	int64_t later = T0 + GF_ONCE_FORGET_S + 1;
	ck_assert_uint_ge(later, T0 + GF_ONCE_SWEEP_S);
	struct gf_once_id more = id(4, 3, GFM_MKDIR);
	ck_assert_int_eq(gf_once_begin(t, &more, 2, later, &rec), GF_ONCE_NEW);
	end_(&more, 0, 8, 4);
	const uint64_t c[] = { 1, 2, 3, 4 };
	ck_assert_uint_eq(gf_once_count(t, &c[0]), 0);
	ck_assert_uint_eq(gf_once_count(t, &c[1]), 0);
	ck_assert_uint_eq(gf_once_count(t, &c[2]), 1);
	ck_assert_uint_eq(gf_once_count(t, &c[3]), 1);
	/* rows are deleted only for the client that had any */
	ck_assert_uint_eq(nlists, 1);
	const struct gf_change *ch = find_kind(0, GF_CHG_ONCE_DEL);
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(ch->a, 1);
	ck_assert_uint_eq(ch->b, (uint64_t)INT64_MAX);
	ck_assert_uint_eq(ch->c, 0);
	/* a forgotten client's copy runs again: the price of a day's silence */
	ck_assert_int_eq(gf_once_begin(t, &quiet, 0, later, &rec), GF_ONCE_NEW);
	gf_once_abort(t, &quiet);
	end_(&busy, 0, 9, 5);
}
END_TEST

/* Rows of the store replay as committed successes. */
START_TEST(test_loaded_rows_replay)
{
	struct gf_once_rec rec;
	ck_assert_int_eq(gf_once_load(t, 0xfedcba9876543210ull, 5, GFM_CREATE, 33, 1, T0), 0);
	ck_assert_int_eq(gf_once_load(t, 0xfedcba9876543210ull, 5, GFM_CREATE, 33, 1, T0), -EEXIST);
	struct gf_once_id a = id(0xfedcba9876543210ull, 5, GFM_CREATE);
	memset(&rec, 0xa5, sizeof(rec));
	ck_assert_int_eq(gf_once_begin(t, &a, 4, T0 + 10, &rec), GF_ONCE_REPLAY);
	ck_assert_int_eq(rec.status, 0);
	ck_assert_uint_eq(rec.ino, 33);
	ck_assert_uint_eq(rec.created, 1);
	ck_assert_uint_eq(rec.ticket, 0);
	/* a loaded client counts as stored: its settled rows get deleted */
	struct gf_once_id b = id(0xfedcba9876543210ull, 6 + GF_ONCE_TRIM_EVERY, GFM_MKDIR);
	ck_assert_int_eq(gf_once_begin(t, &b, 5 + GF_ONCE_TRIM_EVERY, T0 + 10, &rec),
			 GF_ONCE_NEW);
	gf_once_abort(t, &b);
	ck_assert_uint_eq(nlists, 1);
	ck_assert_uint_eq(count_kind(0, GF_CHG_ONCE_DEL), 1);
}
END_TEST

/* ---- with the namespace -------------------------------------------------------------- */

static struct gf_ns *ns;
static const struct gf_cred ROOT = { 0, 0, 0, { 0 } };
static const struct gf_cred U1 = { 1000, 1000, 0, { 0 } };

static int place_one(void *arg, const struct gf_ns_replica *have, size_t nhave, uint32_t *host)
{
	(void)arg;
	*host = nhave ? have[0].host_id : 3;
	return 0;
}

static void ns_setup(void)
{
	setup();
	ns = gf_ns_new();
	ck_assert_ptr_nonnull(ns);
	gf_ns_set_sink(ns, keep_sink, NULL);
	uint64_t tk;
	ck_assert_int_eq(gf_ns_load_finish(ns, &tk), 0);
	lists_clear();
}

static void ns_teardown(void)
{
	gf_ns_free(ns);
	ns = NULL;
	teardown();
}

/* The last change list holds exactly one ONCE_PUT for o with inode ino,
 * created by it or not, and o notes the same. */
static void expect_recorded_as(const struct gf_once_id *o, uint64_t ino, int created)
{
	ck_assert_uint_gt(nlists, 0);
	size_t i = nlists - 1;
	ck_assert_uint_eq(count_kind(i, GF_CHG_ONCE_PUT), 1);
	const struct gf_change *ch = find_kind(i, GF_CHG_ONCE_PUT);
	ck_assert_uint_eq(ch->a, o->client);
	ck_assert_uint_eq(ch->b, o->seq);
	ck_assert_uint_eq(ch->c, ino);
	ck_assert_uint_eq(ch->d, o->op | (created ? GF_ONCE_CREATED : 0));
	ck_assert_uint_eq(o->ino, ino);
	ck_assert_uint_eq(o->created, created);
}

static void expect_recorded(const struct gf_once_id *o, uint64_t ino)
{
	expect_recorded_as(o, ino, 0);
}

START_TEST(test_mutations_record_in_their_own_changes)
{
	struct gf_attr a, d, f, l, s;
	struct gf_ns_replica rep[GF_MAX_REPLICAS];
	size_t nrep;
	uint64_t tk;
	struct gf_once_id o = id(0x8000000000000001ull, 1, GFM_MKDIR);

	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, GF_ROOT_INO, "d", 0755, 0, &d, &o, &tk), 0);
	expect_recorded_as(&o, d.ino, 1);
	ck_assert_uint_eq(count_kind(nlists - 1, GF_CHG_DIRENT_PUT), 1); /* the same list */
	ck_assert_uint_eq(tk, last_ticket);

	size_t before = nlists;
	o.seq = 2;
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, GF_ROOT_INO, "d", 0755, 0, &a, &o, &tk), -EEXIST);
	ck_assert_uint_eq(nlists, before); /* a failure records nothing */

	o = id(1, 3, GFM_CREATE);
	ck_assert_int_eq(gf_ns_create(ns, &U1, d.ino, "f", 0444, O_WRONLY | O_EXCL, 0, place_one,
				      NULL, &f, rep, &nrep, &o, &tk), -EACCES);
	ck_assert_uint_eq(nlists, before);
	ck_assert_int_eq(gf_ns_setattr(ns, &(struct gfm_setattr_req){ .cred = ROOT, .ino = d.ino,
				       .valid = GF_SET_MODE, .mode = 0777 }, &a, &tk), 0);
	ck_assert_int_eq(gf_ns_create(ns, &U1, d.ino, "f", 0444, O_WRONLY | O_EXCL, 0, place_one,
				      NULL, &f, rep, &nrep, &o, &tk), 0);
	expect_recorded_as(&o, f.ino, 1);
	ck_assert_uint_eq(count_kind(nlists - 1, GF_CHG_REPLICA_PUT), 1);
	/* the same name without O_EXCL opens the file: not created by it, so a
	 * replay must check permissions again */
	struct gf_once_id o2 = id(1, 30, GFM_CREATE);
	ck_assert_int_eq(gf_ns_create(ns, &ROOT, d.ino, "f", 0644, O_RDONLY, 0, place_one, NULL,
				      &a, rep, &nrep, &o2, &tk), 0);
	ck_assert_uint_eq(a.ino, f.ino);
	ck_assert_uint_eq(o2.ino, f.ino);
	ck_assert_uint_eq(o2.created, 0);

	o = id(1, 4, GFM_LINK);
	ck_assert_int_eq(gf_ns_link(ns, &ROOT, f.ino, d.ino, "f2", &l, &o, &tk), 0);
	expect_recorded(&o, f.ino);
	o = id(1, 5, GFM_SYMLINK);
	ck_assert_int_eq(gf_ns_symlink(ns, &ROOT, d.ino, "s", "f", &s, &o, &tk), 0);
	expect_recorded_as(&o, s.ino, 1);
	o = id(1, 6, GFM_MKNOD);
	ck_assert_int_eq(gf_ns_mknod(ns, &ROOT, d.ino, "n", S_IFIFO | 0600, 0, 0, &a, &o, &tk), 0);
	expect_recorded_as(&o, a.ino, 1);
	o = id(1, 7, GFM_SETXATTR);
	ck_assert_int_eq(gf_ns_setxattr(ns, &ROOT, d.ino, "user.x", "v", 1, 0, &o, &tk), 0);
	expect_recorded(&o, 0);
	o = id(1, 8, GFM_REMOVEXATTR);
	ck_assert_int_eq(gf_ns_removexattr(ns, &ROOT, d.ino, "user.x", &o, &tk), 0);
	expect_recorded(&o, 0);
	o = id(1, 9, GFM_RENAME);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, d.ino, "n", d.ino, "n2", 0, &o, &tk), 0);
	expect_recorded(&o, 0);
	o = id(1, 10, GFM_UNLINK);
	ck_assert_int_eq(gf_ns_unlink(ns, &ROOT, d.ino, "n2", &o, &tk), 0);
	expect_recorded(&o, 0);
	o = id(1, 11, GFM_OPEN);
	ck_assert_int_eq(gf_ns_open(ns, &U1, f.ino, O_WRONLY, place_one, NULL, &a, rep,
				    GF_MAX_REPLICAS, &nrep, &o, &tk), -EACCES);
	ck_assert_int_eq(gf_ns_open(ns, &ROOT, f.ino, O_WRONLY | O_TRUNC, place_one, NULL, &a,
				    rep, GF_MAX_REPLICAS, &nrep, &o, &tk), 0);
	expect_recorded(&o, f.ino);

	/* a rename onto itself changes nothing but is done: only its record */
	before = nlists;
	o = id(1, 12, GFM_RENAME);
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, d.ino, "f", d.ino, "f2", 0, &o, &tk), 0);
	ck_assert_uint_eq(nlists, before + 1);
	ck_assert_uint_eq(lists[nlists - 1].n, 1);
	expect_recorded(&o, 0);
	ck_assert_uint_eq(tk, last_ticket);
	/* without an id, still nothing at all */
	ck_assert_int_eq(gf_ns_rename(ns, &ROOT, d.ino, "f", d.ino, "f2", 0, NULL, &tk), 0);
	ck_assert_uint_eq(nlists, before + 1);

	o = id(1, 13, GFM_RMDIR);
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, d.ino, "e", 0755, 0, &a, NULL, &tk), 0);
	ck_assert_uint_eq(count_kind(nlists - 1, GF_CHG_ONCE_PUT), 0);
	ck_assert_int_eq(gf_ns_rmdir(ns, &ROOT, d.ino, "e", &o, &tk), 0);
	expect_recorded(&o, 0);
}
END_TEST

/* gf_ns_reopen: the creator of a read-only file may write it (its open was
 * granted at create), gets the writer's one replica in a new generation,
 * and nothing is truncated again. */
START_TEST(test_reopen_is_the_granted_open)
{
	struct gf_attr d, f, a;
	struct gf_ns_replica rep[GF_MAX_REPLICAS];
	size_t nrep;
	uint64_t tk;
	ck_assert_int_eq(gf_ns_mkdir(ns, &ROOT, GF_ROOT_INO, "d", 0777, 0, &d, NULL, &tk), 0);
	ck_assert_int_eq(gf_ns_create(ns, &U1, d.ino, "ro", 0444, O_WRONLY | O_EXCL, 0, place_one,
				      NULL, &f, rep, &nrep, NULL, &tk), 0);
	ck_assert_uint_eq(nrep, 1);
	uint64_t fgen = rep[0].fgen;
	ck_assert_int_eq(gf_ns_close_write(ns, &U1, f.ino, fgen, 100, (struct gf_timespec){ 0 },
					   0, 0, &a, &tk), 0);
	ck_assert_int_eq(gf_ns_open(ns, &U1, f.ino, O_WRONLY, place_one, NULL, &a, rep,
				    GF_MAX_REPLICAS, &nrep, NULL, &tk), -EACCES);
	size_t before = nlists;
	ck_assert_int_eq(gf_ns_reopen(ns, &U1, f.ino, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC,
				      place_one, NULL, &a, rep, GF_MAX_REPLICAS, &nrep, &tk), 0);
	ck_assert_uint_eq(nlists, before + 1);
	ck_assert_uint_eq(tk, last_ticket);
	ck_assert_uint_eq(nrep, 1);
	ck_assert_uint_eq(rep[0].fgen, fgen);	  /* the same replica file */
	ck_assert_uint_eq(rep[0].gen, a.gen);	  /* current */
	ck_assert_uint_gt(a.gen, f.gen);	  /* in a new generation */
	ck_assert_uint_eq(a.size, 100);		  /* not truncated */
	ck_assert_uint_eq(count_kind(nlists - 1, GF_CHG_ONCE_PUT), 0);
	ck_assert_int_eq(gf_ns_reopen(ns, &U1, 9999, O_WRONLY, place_one, NULL, &a, rep,
				      GF_MAX_REPLICAS, &nrep, &tk), -ENOENT);
	ck_assert_int_eq(gf_ns_reopen(ns, &U1, d.ino, O_WRONLY, place_one, NULL, &a, rep,
				      GF_MAX_REPLICAS, &nrep, &tk), -EISDIR);
}
END_TEST

/* The user maps record like the namespace, "already so" included. */
START_TEST(test_users_record)
{
	struct gf_users *u = gf_users_new();
	ck_assert_ptr_nonnull(u);
	gf_users_set_sink(u, keep_sink, NULL);
	uint64_t tk;
	struct gf_once_id o = id(5, 1, GFM_IDMAP_SET);
	ck_assert_int_eq(gf_users_set(u, &ROOT, GF_IDMAP_USER, "alice", 5001, 0, &o, &tk), 0);
	expect_recorded(&o, 0);
	ck_assert_uint_eq(count_kind(nlists - 1, GF_CHG_IDMAP_PUT), 1);
	o.seq = 2;
	ck_assert_int_eq(gf_users_set(u, &ROOT, GF_IDMAP_USER, "alice", 5001, 0, &o, &tk), 0);
	ck_assert_uint_eq(lists[nlists - 1].n, 1);
	expect_recorded(&o, 0);
	ck_assert_uint_eq(tk, last_ticket);
	size_t before = nlists;
	ck_assert_int_eq(gf_users_set(u, &ROOT, GF_IDMAP_USER, "alice", 5001, 0, NULL, &tk), 0);
	ck_assert_uint_eq(tk, 0);
	ck_assert_uint_eq(nlists, before);
	o = id(5, 3, GFM_IDMAP_DEL);
	ck_assert_int_eq(gf_users_del(u, &ROOT, GF_IDMAP_USER, "bob", &o, &tk), -ENOENT);
	ck_assert_uint_eq(nlists, before);
	ck_assert_int_eq(gf_users_del(u, &ROOT, GF_IDMAP_USER, "alice", &o, &tk), 0);
	expect_recorded(&o, 0);
	ck_assert_uint_eq(count_kind(nlists - 1, GF_CHG_IDMAP_DEL), 1);
	gf_users_free(u);
}
END_TEST

static Suite *once_suite(void)
{
	Suite *s = suite_create("once");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, WAIT_SECS + 10);
	tcase_add_test(tc, test_claim_then_replay);
	tcase_add_test(tc, test_failure_replays_and_abort_forgets);
	tcase_add_test(tc, test_copy_waits_for_first);
	tcase_add_test(tc, test_acked_settles);
	tcase_add_test(tc, test_trim_reaches_database);
	tcase_add_test(tc, test_trim_starts_below_busy);
	tcase_add_test(tc, test_sweep_forgets_silent_clients);
	tcase_add_test(tc, test_loaded_rows_replay);
	suite_add_tcase(s, tc);

	tc = tcase_create("recording");
	tcase_add_checked_fixture(tc, ns_setup, ns_teardown);
	tcase_add_test(tc, test_mutations_record_in_their_own_changes);
	tcase_add_test(tc, test_reopen_is_the_granted_open);
	tcase_add_test(tc, test_users_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(once_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
