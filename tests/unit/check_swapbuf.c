/*
 * check_swapbuf.c — gfswap's write-behind (swapfile/wback.h) and read-ahead
 * (swapfile/rahead.h) over a page store in memory whose writes and reads
 * can be held at a gate or made to fail:
 *   write-behind: pending pages are read back from the buffer; a write of a
 *   slot still pending waits for the earlier one (the newer data lands
 *   last); a full buffer makes writers wait; failed writes are kept and
 *   tried again, never dropped; settle and drain wait; stop drops only
 *   after its grace when every write fails.
 *   read-ahead: a sequential stream is fetched ahead and served from the
 *   windows; random reads fetch nothing; a page written is never handed out
 *   old, whether it was written before, during or after the fetch; a fetch
 *   that fails holds nothing.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "rahead.h"
#include "wback.h"

#define PG 4096u
#define NSLOTS 1024

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t pages[NSLOTS][PG];
	int gate_closed;  /* writes and reads wait while set */
	int in_gate;	  /* how many wait at it now */
	int fail_writes;  /* this many writes fail (-1: all) */
	int fail_reads;
	unsigned writes, reads, written_calls;
	uint64_t written_pages;
} S = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void store_reset(void)
{
	pthread_mutex_lock(&S.mu);
	memset(S.pages, 0, sizeof(S.pages));
	S.gate_closed = S.in_gate = S.fail_writes = S.fail_reads = 0;
	S.writes = S.reads = S.written_calls = 0;
	S.written_pages = 0;
	pthread_mutex_unlock(&S.mu);
}

static void gate_wait(void)
{
	S.in_gate++;
	pthread_cond_broadcast(&S.cv);
	while (S.gate_closed)
		pthread_cond_wait(&S.cv, &S.mu);
	S.in_gate--;
}

static void set_gate(int closed)
{
	pthread_mutex_lock(&S.mu);
	S.gate_closed = closed;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

/* Wait until n calls wait at the gate. */
static void await_gate(int n)
{
	pthread_mutex_lock(&S.mu);
	while (S.in_gate < n)
		pthread_cond_wait(&S.cv, &S.mu);
	pthread_mutex_unlock(&S.mu);
}

static int st_write(void *arg, uint64_t slot, uint32_t n, const uint8_t *data)
{
	(void)arg;
	pthread_mutex_lock(&S.mu);
	gate_wait();
	S.writes++;
	if (S.fail_writes) {
		if (S.fail_writes > 0)
			S.fail_writes--;
		pthread_mutex_unlock(&S.mu);
		return -EIO;
	}
	memcpy(S.pages[slot], data, (size_t)n * PG);
	pthread_mutex_unlock(&S.mu);
	return 0;
}

static void st_written(void *arg, uint64_t slot, uint32_t n)
{
	(void)arg;
	(void)slot;
	pthread_mutex_lock(&S.mu);
	S.written_calls++;
	S.written_pages += n;
	pthread_mutex_unlock(&S.mu);
}

static int st_read(void *arg, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *ok)
{
	(void)arg;
	pthread_mutex_lock(&S.mu);
	gate_wait();
	S.reads++;
	if (S.fail_reads) {
		if (S.fail_reads > 0)
			S.fail_reads--;
		pthread_mutex_unlock(&S.mu);
		return -EIO;
	}
	memcpy(out, S.pages[slot], (size_t)n * PG);
	memset(ok, 1, n);
	pthread_mutex_unlock(&S.mu);
	return 0;
}

static uint8_t store_byte(uint64_t slot)
{
	pthread_mutex_lock(&S.mu);
	uint8_t v = S.pages[slot][17];
	pthread_mutex_unlock(&S.mu);
	return v;
}

static void fill(uint8_t *buf, uint32_t n, uint8_t v)
{
	for (uint32_t i = 0; i < n; i++)
		memset(buf + (size_t)i * PG, (uint8_t)(v + i), PG);
}

static const struct wb_ops WOPS = { .write = st_write, .written = st_written };

/* ---- write-behind ------------------------------------------------------------------ */

START_TEST(test_wb_pending_read_back)
{
	static uint8_t in[100 * PG], out[100 * PG];
	uint8_t have[100];
	struct wback *w;
	struct wb_stats s;

	store_reset();
	ck_assert_int_eq(wb_new(8, 2, &WOPS, &w), 0);
	set_gate(1);
	fill(in, 100, 1);
	/* 100 pages: two entries (64 + 36), answered before any is written */
	ck_assert_int_eq(wb_write(w, 10, 100, in), 0);
	await_gate(2);
	memset(have, 0, sizeof(have));
	have[3] = 1; /* a page the caller has already is left alone */
	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(wb_lookup(w, 10, 100, out, have), 99);
	ck_assert_mem_eq(out, in, 3 * PG);
	ck_assert_uint_eq(out[3 * PG], 0xee);
	ck_assert_mem_eq(out + 4 * PG, in + 4 * PG, 96 * PG);
	ck_assert_uint_eq(store_byte(10), 0); /* not written yet */
	set_gate(0);
	wb_drain(w);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(store_byte(10 + i), (uint8_t)(1 + i));
	ck_assert_uint_eq(S.written_pages, 100);
	memset(have, 0, sizeof(have));
	ck_assert_uint_eq(wb_lookup(w, 10, 100, out, have), 0); /* nothing pending now */
	wb_get_stats(w, &s);
	ck_assert_uint_eq(s.pages_in, 100);
	ck_assert_uint_eq(s.pages_out, 100);
	ck_assert_uint_eq(s.entries_out, 2);
	ck_assert_uint_eq(s.pending, 0);
	wb_free(w, 0);
}
END_TEST

struct wjob {
	struct wback *w;
	uint64_t slot;
	uint32_t n;
	uint8_t *data;
	int done;
	uint8_t seen; /* settle_thread: slot 50's byte in the store on return */
};

static void *write_thread(void *arg)
{
	struct wjob *j = arg;
	wb_write(j->w, j->slot, j->n, j->data);
	pthread_mutex_lock(&S.mu);
	j->done = 1;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
	return NULL;
}

static void await_stat(struct wback *w, int which, uint64_t want)
{
	for (;;) {
		struct wb_stats s;
		wb_get_stats(w, &s);
		uint64_t v = which == 0 ? s.order_waits : s.full_waits;
		if (v >= want)
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

START_TEST(test_wb_same_slot_in_order)
{
	static uint8_t a[PG], b[PG];
	struct wback *w;
	pthread_t th;

	store_reset();
	ck_assert_int_eq(wb_new(8, 4, &WOPS, &w), 0);
	set_gate(1);
	fill(a, 1, 0xa0);
	fill(b, 1, 0xb0);
	ck_assert_int_eq(wb_write(w, 5, 1, a), 0);
	await_gate(1); /* a's write is at the store */
	struct wjob j = { w, 5, 1, b, 0, 0 };
	pthread_create(&th, NULL, write_thread, &j);
	await_stat(w, 0, 1); /* b waits for a: another flusher is free */
	ck_assert_int_eq(j.done, 0);
	set_gate(0);
	pthread_join(th, NULL);
	wb_drain(w);
	ck_assert_uint_eq(store_byte(5), 0xb0); /* the newer data landed last */
	wb_free(w, 0);
}
END_TEST

START_TEST(test_wb_full_waits)
{
	static uint8_t in[3 * PG];
	struct wback *w;
	pthread_t th;

	store_reset();
	ck_assert_int_eq(wb_new(2, 2, &WOPS, &w), 0);
	set_gate(1);
	fill(in, 3, 0x10);
	ck_assert_int_eq(wb_write(w, 0, 1, in), 0);
	ck_assert_int_eq(wb_write(w, 1, 1, in + PG), 0);
	struct wjob j = { w, 2, 1, in + 2 * PG, 0, 0 };
	pthread_create(&th, NULL, write_thread, &j);
	await_stat(w, 1, 1);
	ck_assert_int_eq(j.done, 0);
	set_gate(0);
	pthread_join(th, NULL);
	wb_drain(w);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(store_byte((uint64_t)i), 0x10 + i);
	wb_free(w, 0);
}
END_TEST

START_TEST(test_wb_failures_kept)
{
	static uint8_t in[4 * PG], out[4 * PG];
	uint8_t have[4] = { 0 };
	struct wback *w;
	struct wb_stats s;

	store_reset();
	S.fail_writes = 3;
	ck_assert_int_eq(wb_new(4, 1, &WOPS, &w), 0);
	fill(in, 4, 0x40);
	set_gate(1);
	ck_assert_int_eq(wb_write(w, 100, 4, in), 0);
	await_gate(1); /* its first try, which will fail, is at the store */
	ck_assert_uint_eq(wb_lookup(w, 100, 4, out, have), 4);
	ck_assert_mem_eq(out, in, 4 * PG);
	set_gate(0);
	wb_drain(w);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(store_byte(100 + (uint64_t)i), 0x40 + i);
	wb_get_stats(w, &s);
	ck_assert_uint_eq(s.retries, 3);
	ck_assert_uint_eq(s.dropped, 0);
	ck_assert_uint_eq(S.written_calls, 1); /* told once, when it worked */
	wb_free(w, 0);

	/* every write fails: stopping drops after its grace, counted */
	store_reset();
	S.fail_writes = -1;
	ck_assert_int_eq(wb_new(4, 2, &WOPS, &w), 0);
	ck_assert_int_eq(wb_write(w, 7, 1, in), 0);
	wb_free(w, 50);
	ck_assert_uint_eq(store_byte(7), 0);
	ck_assert_uint_ge(S.writes, 1);
	ck_assert_uint_eq(S.written_calls, 0);
}
END_TEST

static void *settle_thread(void *arg)
{
	struct wjob *j = arg;
	wb_settle(j->w, j->slot, j->n);
	j->seen = store_byte(50);
	pthread_mutex_lock(&S.mu);
	j->done = 1;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
	return NULL;
}

START_TEST(test_wb_settle)
{
	static uint8_t in[PG];
	struct wback *w;
	pthread_t th;

	store_reset();
	ck_assert_int_eq(wb_new(4, 1, &WOPS, &w), 0);
	set_gate(1);
	fill(in, 1, 0x70);
	ck_assert_int_eq(wb_write(w, 50, 1, in), 0);
	await_gate(1);
	wb_settle(w, 51, 10); /* another range: returns at once */
	struct wjob j = { w, 40, 20, NULL, 0, 0 };
	pthread_create(&th, NULL, settle_thread, &j);
	/* let it run before the gate opens (how long decides only whether a
	 * settle that does not wait is caught, never whether one that does
	 * passes): it must return only once slot 50 is in the store */
	for (int i = 0; i < 1000; i++)
		sched_yield();
	set_gate(0);
	pthread_join(th, NULL);
	ck_assert_uint_eq(j.seen, 0x70);
	wb_free(w, 0);
}
END_TEST

/* ---- read-ahead -------------------------------------------------------------------- */

static const struct ra_ops ROPS = { .read = st_read };

static void store_fill(uint64_t slot, uint32_t n, uint8_t v)
{
	pthread_mutex_lock(&S.mu);
	for (uint32_t i = 0; i < n; i++)
		memset(S.pages[slot + i], (uint8_t)(v + i), PG);
	pthread_mutex_unlock(&S.mu);
}

static void await_fetched(struct rahead *r, uint64_t pages)
{
	for (;;) {
		struct ra_stats s;
		ra_get_stats(r, &s);
		if (s.fetched >= pages)
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

START_TEST(test_ra_sequential)
{
	static uint8_t out[8 * PG], want[8 * PG];
	uint8_t have[8];
	struct rahead *r;
	struct ra_stats s;

	store_reset();
	store_fill(0, 512, 1);
	ck_assert_int_eq(ra_new(8, 2, NSLOTS, &ROPS, &r), 0);
	ra_note(r, 0, 8);
	ra_note(r, 8, 8);
	ra_get_stats(r, &s);
	ck_assert_uint_eq(s.scheduled, 0); /* one continuation is not a stream yet */
	ra_note(r, 16, 8);
	await_fetched(r, (uint64_t)RA_AHEAD * RA_WINDOW_PAGES);
	/* the stream's next reads come from the windows */
	for (uint64_t slot = 24; slot < 24 + RA_WINDOW_PAGES; slot += 8) {
		memset(have, 0, sizeof(have));
		ck_assert_uint_eq(ra_lookup(r, slot, 8, out, have), 8);
		fill(want, 8, (uint8_t)(1 + slot));
		ck_assert_mem_eq(out, want, sizeof(out));
		ra_note(r, slot, 8);
	}
	ra_get_stats(r, &s);
	ck_assert_uint_eq(s.hits, RA_WINDOW_PAGES);
	ck_assert_uint_eq(s.skipped, 0);
	ck_assert_uint_eq(s.score_pct, 100);
	ra_free(r);
}
END_TEST

START_TEST(test_ra_random_fetches_nothing)
{
	struct rahead *r;
	struct ra_stats s;
	uint64_t x = 12345;

	store_reset();
	ck_assert_int_eq(ra_new(8, 2, NSLOTS, &ROPS, &r), 0);
	for (int i = 0; i < 200; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		ra_note(r, (x >> 33) % (NSLOTS / 64) * 64, 1); /* never within RA_GAP */
	}
	ra_get_stats(r, &s);
	ck_assert_uint_eq(s.scheduled, 0);
	ck_assert_uint_eq(S.reads, 0);
	ra_free(r);
}
END_TEST

START_TEST(test_ra_forget)
{
	static uint8_t out[8 * PG];
	uint8_t have[8];
	struct rahead *r;

	store_reset();
	store_fill(0, 512, 1);
	ck_assert_int_eq(ra_new(8, 1, NSLOTS, &ROPS, &r), 0);
	ra_note(r, 0, 8);
	ra_note(r, 8, 8);
	ra_note(r, 16, 8);
	await_fetched(r, (uint64_t)RA_AHEAD * RA_WINDOW_PAGES);
	/* written after the fetch: slot 26 is not handed out */
	ra_forget(r, 26, 1);
	memset(have, 0, sizeof(have));
	ck_assert_uint_eq(ra_lookup(r, 24, 8, out, have), 7);
	ck_assert_uint_eq(have[2], 0);
	ck_assert_uint_eq(have[3], 1);
	ra_free(r);

	/* written while being fetched: the fetch read the old page */
	store_reset();
	store_fill(0, 512, 1);
	ck_assert_int_eq(ra_new(8, 1, NSLOTS, &ROPS, &r), 0);
	set_gate(1);
	ra_note(r, 0, 8);
	ra_note(r, 8, 8);
	ra_note(r, 16, 8);
	await_gate(1); /* the first window's fetch is at the store */
	ra_forget(r, 30, 1);
	store_fill(30, 1, 0x99);
	set_gate(0);
	await_fetched(r, 2 * RA_WINDOW_PAGES - 1);
	memset(have, 0, sizeof(have));
	ck_assert_uint_eq(ra_lookup(r, 24, 8, out, have), 7);
	ck_assert_uint_eq(have[6], 0);
	ra_free(r);

	/* written while its window was still queued: the fetch, which starts
	 * after, reads the new page */
	store_reset();
	store_fill(0, 512, 1);
	ck_assert_int_eq(ra_new(8, 1, NSLOTS, &ROPS, &r), 0);
	set_gate(1);
	ra_note(r, 0, 8);
	ra_note(r, 8, 8);
	ra_note(r, 16, 8);
	await_gate(1); /* the first window at the store, the second queued */
	store_fill(100, 1, 0x55);
	ra_forget(r, 100, 1);
	set_gate(0);
	await_fetched(r, 2 * RA_WINDOW_PAGES);
	memset(have, 0, sizeof(have));
	ck_assert_uint_eq(ra_lookup(r, 96, 8, out, have), 8);
	ck_assert_uint_eq(out[4 * PG + 17], 0x55);
	ra_free(r);
}
END_TEST

static int zero_read(void *arg, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *ok)
{
	(void)arg;
	(void)slot;
	memset(out, 0, (size_t)n * PG);
	memset(ok, 1, n);
	return 0;
}

/* Streams whose windows nobody reads: the score falls and fetching stops
 * but for probes; a stream that is read keeps it up. */
START_TEST(test_ra_backs_off)
{
	static const struct ra_ops zops = { .read = zero_read };
	struct rahead *r;
	struct ra_stats s = { 0 };
	int i;

	ck_assert_int_eq(ra_new(4, 1, 1u << 30, &zops, &r), 0);
	for (i = 0; i < 200 && s.skipped == 0; i++) {
		uint64_t base = (uint64_t)i * 4096;
		ra_note(r, base, 8);
		ra_note(r, base + 8, 8);
		ra_note(r, base + 16, 8);
		do { /* every window asked for is fetched before the next stream */
			ra_get_stats(r, &s);
		} while (s.windows + 0 < s.scheduled);
	}
	ck_assert_uint_gt(s.skipped, 0);
	ck_assert_uint_lt(s.score_pct, 50);
	ra_free(r);
}
END_TEST

START_TEST(test_ra_failed_fetch)
{
	static uint8_t out[8 * PG];
	uint8_t have[8] = { 0 };
	struct rahead *r;
	struct ra_stats s;

	store_reset();
	S.fail_reads = -1;
	ck_assert_int_eq(ra_new(4, 1, NSLOTS, &ROPS, &r), 0);
	ra_note(r, 0, 8);
	ra_note(r, 8, 8);
	ra_note(r, 16, 8);
	/* wait for both fetches to have failed */
	for (;;) {
		ra_get_stats(r, &s);
		if (s.windows >= RA_AHEAD)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_uint_eq(ra_lookup(r, 24, 8, out, have), 0);
	ck_assert_uint_eq(s.fetched, 0);
	ra_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("swapbuf");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_wb_pending_read_back);
	tcase_add_test(tc, test_wb_same_slot_in_order);
	tcase_add_test(tc, test_wb_full_waits);
	tcase_add_test(tc, test_wb_failures_kept);
	tcase_add_test(tc, test_wb_settle);
	tcase_add_test(tc, test_ra_sequential);
	tcase_add_test(tc, test_ra_random_fetches_nothing);
	tcase_add_test(tc, test_ra_forget);
	tcase_add_test(tc, test_ra_failed_fetch);
	tcase_add_test(tc, test_ra_backs_off);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
