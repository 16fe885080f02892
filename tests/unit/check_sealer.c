/*
 * check_sealer.c — the background sealer's queue (gfsd/sealer.h): every
 * job runs; a job that asks to run again later does, with its tries
 * counted and the fd it left, while the jobs behind it run meanwhile;
 * stopping runs what is queued, telling each job it is its last run.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "sealer.h"

#define NJOBS 16

static struct {
	pthread_mutex_t mu;
	unsigned runs[NJOBS];
	unsigned last_tries[NJOBS];
	int last_flag[NJOBS];
	int done[NJOBS];
	int order[NJOBS * 8]; /* job ids in the order of their runs */
	unsigned norder;
	unsigned retry_until; /* job 0 asks again while tries < this */
	int fd_seen;	      /* the fd job 0 saw at its second run */
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

static unsigned job(void *arg, uint64_t ino, uint64_t fgen, int *fd, unsigned tries, int last)
{
	(void)arg;
	(void)fgen;
	pthread_mutex_lock(&st.mu);
	st.runs[ino]++;
	st.last_tries[ino] = tries;
	st.last_flag[ino] = last;
	st.order[st.norder++] = (int)ino;
	if (ino == 0 && tries == 1)
		st.fd_seen = *fd;
	if (ino == 0 && tries == 0) {
		/* as the service's job does: trade the fd for another */
		int other = dup(*fd);
		close(*fd);
		*fd = other;
	}
	unsigned again = ino == 0 && !last && tries < st.retry_until ? 5 : 0;
	if (!again) {
		close(*fd);
		st.done[ino] = 1;
	}
	pthread_mutex_unlock(&st.mu);
	return again;
}

static void reset(unsigned retry_until)
{
	pthread_mutex_lock(&st.mu);
	for (int i = 0; i < NJOBS; i++)
		st.runs[i] = st.last_tries[i] = st.done[i] = st.last_flag[i] = 0;
	st.norder = 0;
	st.retry_until = retry_until;
	st.fd_seen = -1;
	pthread_mutex_unlock(&st.mu);
}

static int all_done(int n)
{
	pthread_mutex_lock(&st.mu);
	int k = 0;
	for (int i = 0; i < n; i++)
		k += st.done[i];
	pthread_mutex_unlock(&st.mu);
	return k == n;
}

static void wait_done(int n)
{
	for (int i = 0; i < 100000 && !all_done(n); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert(all_done(n));
}

START_TEST(test_every_job_runs_once)
{
	struct sealer *s;
	reset(0);
	ck_assert_int_eq(sealer_start(job, NULL, 2, NULL, &s), 0);
	for (int i = 0; i < NJOBS; i++)
		ck_assert_int_eq(sealer_submit(s, (uint64_t)i, 1, dup(0)), 0);
	wait_done(NJOBS);
	for (int i = 0; i < NJOBS; i++)
		ck_assert_uint_eq(st.runs[i], 1);
	ck_assert_uint_eq(sealer_pending(s), 0);
	sealer_stop(s);
}
END_TEST

START_TEST(test_a_job_runs_again_while_others_pass)
{
	struct sealer *s;
	reset(4);
	ck_assert_int_eq(sealer_start(job, NULL, 1, NULL, &s), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(sealer_submit(s, (uint64_t)i, 1, dup(0)), 0);
	wait_done(4);
	ck_assert_uint_eq(st.runs[0], 5);	/* tries 0..4 */
	ck_assert_uint_eq(st.last_tries[0], 4);
	ck_assert_int_eq(st.last_flag[0], 0);
	ck_assert_int_ge(st.fd_seen, 0);	/* the fd it traded in was kept */
	for (int i = 1; i < 4; i++)
		ck_assert_uint_eq(st.runs[i], 1);
	/* one thread: the others ran before job 0's second run (it waits) */
	ck_assert_int_eq(st.order[0], 0);
	ck_assert_int_eq(st.order[1], 1);
	ck_assert_int_eq(st.order[2], 2);
	ck_assert_int_eq(st.order[3], 3);
	ck_assert_uint_eq(sealer_pending(s), 0);
	sealer_stop(s);
}
END_TEST

START_TEST(test_stop_makes_it_the_last_run)
{
	struct sealer *s;
	reset(1000000); /* would ask again for ever */
	ck_assert_int_eq(sealer_start(job, NULL, 2, NULL, &s), 0);
	ck_assert_int_eq(sealer_submit(s, 0, 1, dup(0)), 0);
	for (int i = 0; i < 100000; i++) {
		pthread_mutex_lock(&st.mu);
		unsigned r = st.runs[0];
		pthread_mutex_unlock(&st.mu);
		if (r >= 2)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	sealer_stop(s);
	ck_assert_int_eq(st.done[0], 1);
	ck_assert_int_eq(st.last_flag[0], 1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sealer");
	TCase *tc = tcase_create("queue");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_job_runs_once);
	tcase_add_test(tc, test_a_job_runs_again_while_others_pass);
	tcase_add_test(tc, test_stop_makes_it_the_last_run);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
