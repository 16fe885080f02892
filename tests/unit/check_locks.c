/*
 * check_locks.c — gfmd's lock manager (gfmd/locks.h) on its own: POSIX
 * ranges (split, merge, convert), conflicts between owners and kinds,
 * waiting in order, deadlock detection, cancel, and a client going away.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "locks.h"

static struct gf_locks *lk;

static struct gf_lock L(uint64_t client, uint64_t owner, int kind, int type, uint64_t s,
			uint64_t e)
{
	return (struct gf_lock){ .client = client, .owner = owner, .pid = (uint32_t)owner,
				 .kind = (uint8_t)kind, .type = (uint8_t)type, .start = s, .end = e };
}
#define P(c, o, t, s, e) L(c, o, GF_LOCK_POSIX, t, s, e)
#define F(c, o, t) L(c, o, GF_LOCK_FLOCK, t, 0, UINT64_MAX)
#define RD GF_LOCK_RDLCK
#define WR GF_LOCK_WRLCK
#define UN GF_LOCK_UNLCK
#define EOFL UINT64_MAX

static int set(struct gf_lock l)
{
	return gf_locks_set(lk, 7, &l, 0, NULL, NULL);
}

/* The type of the lock that would block l, or UN. */
static int test(struct gf_lock l, struct gf_lock *c)
{
	struct gf_lock tmp;
	if (!c)
		c = &tmp;
	ck_assert_int_eq(gf_locks_test(lk, 7, &l, c), 0);
	return c->type;
}

struct waitrec {
	int calls, status;
};
static void on_done(void *arg, int status)
{
	struct waitrec *w = arg;
	w->calls++;
	w->status = status;
}

static void setup(void)
{
	lk = gf_locks_new();
	ck_assert_ptr_nonnull(lk);
}

static void teardown(void)
{
	gf_locks_free(lk);
}

START_TEST(test_conflicts)
{
	ck_assert_int_eq(set(P(1, 1, WR, 0, 99)), 0);
	ck_assert_int_eq(set(P(1, 2, RD, 50, 60)), -EAGAIN); /* another process */
	ck_assert_int_eq(set(P(2, 1, RD, 50, 60)), -EAGAIN); /* another client, same owner id */
	ck_assert_int_eq(set(P(1, 2, WR, 100, 200)), 0);	    /* no overlap */
	ck_assert_int_eq(set(P(1, 1, RD, 0, 9)), 0);	    /* its own: converted */
	struct gf_lock c;
	ck_assert_int_eq(test(P(1, 3, WR, 5, 5), &c), RD);
	ck_assert_uint_eq(c.start, 0);
	ck_assert_uint_eq(c.end, 9);
	ck_assert_uint_eq(c.pid, 1);
	ck_assert_int_eq(test(P(1, 3, RD, 5, 5), NULL), UN); /* readers share */
	ck_assert_int_eq(test(P(1, 3, RD, 10, 10), NULL), WR);
	/* flock and POSIX locks never meet */
	ck_assert_int_eq(set(F(1, 9, WR)), 0);
	ck_assert_int_eq(set(F(1, 10, RD)), -EAGAIN);
	ck_assert_int_eq(set(F(1, 9, RD)), 0); /* converted in place */
	ck_assert_int_eq(set(F(1, 10, RD)), 0);
	ck_assert_int_eq(set(F(1, 11, WR)), -EAGAIN);
	/* an unlock over another owner's locks succeeds and leaves them
	 * (close(2) unlocks the whole file of every process that closes) */
	ck_assert_int_eq(set(P(2, 5, UN, 0, EOFL)), 0);
	ck_assert_int_eq(set(F(2, 5, UN)), 0);
	ck_assert_int_eq(test(P(1, 3, WR, 5, 5), NULL), RD);
	ck_assert_int_eq(set(F(1, 11, WR)), -EAGAIN);
	/* a flock conversion that fails loses the old lock, as on Linux
	 * (flock_lock_inode): 9 and 10 share; 10's upgrade fails and leaves
	 * it nothing, so 9 can upgrade */
	ck_assert_int_eq(set(F(1, 10, WR)), -EAGAIN);
	ck_assert_int_eq(set(F(1, 9, WR)), 0);
	ck_assert_int_eq(set(F(1, 9, UN)), 0);
	/* bad requests */
	struct gf_lock bad = P(1, 1, WR, 10, 5);
	ck_assert_int_eq(gf_locks_set(lk, 7, &bad, 0, NULL, NULL), -EINVAL);
	bad = P(1, 1, 7, 0, 5);
	ck_assert_int_eq(gf_locks_set(lk, 7, &bad, 0, NULL, NULL), -EINVAL);
}
END_TEST

/* Who locked a file last: a client that follows another must drop its cache. */
START_TEST(test_others)
{
	ck_assert_int_eq(gf_locks_others(lk, 7, 1), 1); /* never seen: cannot tell */
	ck_assert_int_eq(gf_locks_others(lk, 7, 1), 0);
	ck_assert_int_eq(gf_locks_others(lk, 7, 1), 0);
	ck_assert_int_eq(gf_locks_others(lk, 7, 2), 1);
	ck_assert_int_eq(gf_locks_others(lk, 7, 1), 1);
	ck_assert_int_eq(gf_locks_others(lk, 8, 1), 1); /* per file */
	ck_assert_int_eq(gf_locks_others(lk, 7, 1), 0);
}
END_TEST

START_TEST(test_split_and_merge)
{
	ck_assert_int_eq(set(P(1, 1, WR, 0, EOFL)), 0);
	ck_assert_int_eq(set(P(1, 1, UN, 100, 199)), 0); /* a hole in the middle */
	ck_assert_int_eq(test(P(1, 2, WR, 100, 199), NULL), UN);
	ck_assert_int_eq(test(P(1, 2, WR, 99, 99), NULL), WR);
	ck_assert_int_eq(test(P(1, 2, WR, 200, 200), NULL), WR);
	ck_assert_int_eq(test(P(1, 2, WR, 1000000, 1000000), NULL), WR); /* to EOF */
	/* fill the hole again: one lock, so unlocking the whole of it frees all */
	ck_assert_int_eq(set(P(1, 1, WR, 100, 199)), 0);
	ck_assert_int_eq(set(P(1, 1, UN, 0, EOFL)), 0);
	ck_assert_int_eq(test(P(1, 2, WR, 0, EOFL), NULL), UN);
	/* adjacent ranges of one type merge; of two types they stay apart */
	ck_assert_int_eq(set(P(1, 1, RD, 0, 9)), 0);
	ck_assert_int_eq(set(P(1, 1, RD, 10, 19)), 0);
	ck_assert_int_eq(set(P(1, 1, WR, 20, 29)), 0);
	struct gf_lock c;
	ck_assert_int_eq(test(P(1, 2, WR, 15, 15), &c), RD);
	ck_assert_uint_eq(c.start, 0);
	ck_assert_uint_eq(c.end, 19);
	ck_assert_int_eq(test(P(1, 2, RD, 25, 25), &c), WR);
	ck_assert_uint_eq(c.start, 20);
	/* downgrading part of a write lock */
	ck_assert_int_eq(set(P(1, 1, RD, 22, 23)), 0);
	ck_assert_int_eq(test(P(1, 2, RD, 22, 23), NULL), UN);
	ck_assert_int_eq(test(P(1, 2, RD, 21, 21), NULL), WR);
	ck_assert_int_eq(test(P(1, 2, RD, 24, 24), NULL), WR);
}
END_TEST

START_TEST(test_wait_in_order)
{
	struct waitrec a = { 0 }, b = { 0 };
	ck_assert_int_eq(set(P(1, 1, WR, 0, 9)), 0);
	struct gf_lock wa = P(1, 2, WR, 0, 9), wb = P(2, 3, RD, 5, 5);
	ck_assert_int_eq(gf_locks_set(lk, 7, &wa, 1, on_done, &a), 1);
	ck_assert_int_eq(gf_locks_set(lk, 7, &wb, 1, on_done, &b), 1);
	ck_assert_int_eq(a.calls + b.calls, 0);
	ck_assert_int_eq(set(P(1, 1, UN, 0, 9)), 0);
	/* the first waiter gets it, the second still conflicts with it */
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(test(P(1, 9, RD, 0, 0), NULL), WR);
	ck_assert_int_eq(set(P(1, 2, UN, 0, EOFL)), 0);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(b.status, 0);
	ck_assert_int_eq(test(P(1, 9, WR, 5, 5), NULL), RD);
}
END_TEST

START_TEST(test_deadlock_cancel_client)
{
	struct waitrec a = { 0 }, b = { 0 }, d = { 0 };
	ck_assert_int_eq(set(P(1, 1, WR, 0, 0)), 0);
	ck_assert_int_eq(set(P(2, 2, WR, 1, 1)), 0);
	struct gf_lock a_wants = P(1, 1, WR, 1, 1), b_wants = P(2, 2, WR, 0, 0);
	ck_assert_int_eq(gf_locks_set(lk, 7, &a_wants, 1, on_done, &a), 1);
	/* b waiting for a, which waits for b: EDEADLK, not a wait */
	ck_assert_int_eq(gf_locks_set(lk, 7, &b_wants, 1, on_done, &b), -EDEADLK);
	ck_assert_int_eq(b.calls, 0);
	/* an interrupted wait ends with EINTR */
	gf_locks_cancel(lk, 7, 1, 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.status, -EINTR);
	/* a client going away frees its locks; its waiters end with ENOLCK */
	gf_locks_client_up(lk, 1);
	gf_locks_client_up(lk, 1); /* two sessions */
	gf_locks_client_up(lk, 3);
	struct gf_lock c3 = P(3, 5, WR, 0, 0), c1w = P(1, 6, WR, 1, 1);
	ck_assert_int_eq(gf_locks_set(lk, 7, &c3, 1, on_done, &d), 1); /* waits for client 1 */
	ck_assert_int_eq(gf_locks_set(lk, 7, &c1w, 1, on_done, &a), 1); /* waits for client 2 */
	gf_locks_client_down(lk, 1); /* one session left: nothing happens */
	ck_assert_int_eq(d.calls, 0);
	gf_locks_client_down(lk, 1);
	ck_assert_int_eq(a.calls, 2);
	ck_assert_int_eq(a.status, -ENOLCK);
	ck_assert_int_eq(d.calls, 1);
	ck_assert_int_eq(d.status, 0); /* client 1's lock went: client 3 gets it */
	ck_assert_int_eq(test(P(9, 9, RD, 0, 0), NULL), WR);
	/* an inode that is gone takes its locks along */
	gf_locks_forget(lk, 7);
	ck_assert_int_eq(test(P(9, 9, WR, 0, EOFL), NULL), UN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("locks");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conflicts);
	tcase_add_test(tc, test_others);
	tcase_add_test(tc, test_split_and_merge);
	tcase_add_test(tc, test_wait_in_order);
	tcase_add_test(tc, test_deadlock_cancel_client);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
