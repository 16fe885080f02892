/*
 * check_pages.c — gfsd's swap page cache (gfsd/pages.h): stamps decide
 * which page stays, puts are all or nothing, memory grows in chunks only
 * while the host keeps its reserve (MemAvailable read from a file of ours).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pages.h"

#define PG GF_PAGE_SIZE
#define MiB (1ull << 20)

static char meminfo[64];

static void set_available(uint64_t bytes)
{
	FILE *f = fopen(meminfo, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "MemTotal:       99999999 kB\nMemFree: 1 kB\nMemAvailable:   %llu kB\n",
		(unsigned long long)(bytes / 1024));
	fclose(f);
}

static void setup(void)
{
	snprintf(meminfo, sizeof(meminfo), "/tmp/check_pages.%d", (int)getpid());
	set_available(1ull << 40);
}

static void teardown(void)
{
	unlink(meminfo);
}

static struct pages *make_lease(uint64_t max, uint64_t reserve, size_t chunk, uint32_t lease)
{
	struct pages_config cfg = { .max_bytes = max, .reserve_bytes = reserve,
				    .chunk_bytes = chunk, .meminfo = meminfo,
				    .owner_lease_s = lease };
	struct pages *p;
	ck_assert_int_eq(pages_new(&cfg, &p), 0);
	return p;
}

static struct pages *make(uint64_t max, uint64_t reserve, size_t chunk)
{
	return make_lease(max, reserve, chunk, 0);
}

static void fill(uint8_t *buf, uint32_t n, uint8_t v)
{
	for (uint32_t i = 0; i < n; i++)
		memset(buf + (size_t)i * PG, v + i, PG);
}

START_TEST(test_put_get_roundtrip)
{
	struct pages *p = make(4 * MiB, 0, MiB);
	static uint8_t in[8 * PG], out[8 * PG];
	uint64_t st[8];

	fill(in, 8, 10);
	ck_assert_int_eq(pages_put(p, 1, 100, 5, 8, in), 0);
	ck_assert_uint_eq(pages_get(p, 1, 100, 8, st, out), 8);
	ck_assert_mem_eq(in, out, sizeof(in));
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(st[i], 5);
	/* another owner's slots are other pages */
	ck_assert_uint_eq(pages_get(p, 2, 100, 1, st, out), 0);
	ck_assert_uint_eq(st[0], 0);
	for (unsigned i = 0; i < PG; i++)
		ck_assert_uint_eq(out[i], 0);
	/* half held: the held ones with their stamps, the rest zero */
	ck_assert_uint_eq(pages_get(p, 1, 104, 8, st, out), 4);
	ck_assert_uint_eq(st[3], 5);
	ck_assert_uint_eq(st[4], 0);
	ck_assert_mem_eq(out, in + 4 * PG, 4 * PG);
	struct gfs_page_stats_rep s;
	pages_stats(p, &s);
	ck_assert_uint_eq(s.used, 8);
	ck_assert_uint_eq(s.owners, 1);
	ck_assert_uint_eq(s.total, 4 * MiB / PG);
	pages_free(p);
}
END_TEST

START_TEST(test_stamps_order)
{
	struct pages *p = make(4 * MiB, 0, MiB);
	static uint8_t a[PG], b[PG], out[PG];
	uint64_t st;

	memset(a, 'a', PG);
	memset(b, 'b', PG);
	ck_assert_int_eq(pages_put(p, 1, 7, 20, 1, a), 0);
	/* an older put that arrives late does not replace the newer page */
	ck_assert_int_eq(pages_put(p, 1, 7, 10, 1, b), 0);
	pages_get(p, 1, 7, 1, &st, out);
	ck_assert_uint_eq(st, 20);
	ck_assert_mem_eq(out, a, PG);
	/* an invalidate of an older stamp leaves it */
	ck_assert_uint_eq(pages_invalidate(p, 1, 7, 1, 19), 0);
	ck_assert_uint_eq(pages_get(p, 1, 7, 1, &st, out), 1);
	/* a newer put replaces; an invalidate of its stamp drops it */
	ck_assert_int_eq(pages_put(p, 1, 7, 30, 1, b), 0);
	pages_get(p, 1, 7, 1, &st, out);
	ck_assert_mem_eq(out, b, PG);
	ck_assert_uint_eq(pages_invalidate(p, 1, 7, 1, 30), 1);
	ck_assert_uint_eq(pages_get(p, 1, 7, 1, &st, out), 0);
	struct gfs_page_stats_rep s;
	pages_stats(p, &s);
	ck_assert_uint_eq(s.stale_puts, 1);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_uint_eq(s.owners, 0);
	pages_free(p);
}
END_TEST

START_TEST(test_full_is_all_or_nothing)
{
	struct pages *p = make(64 * PG, 0, 16 * PG);
	static uint8_t in[GF_PAGE_BATCH * PG];
	uint64_t st[GF_PAGE_BATCH];

	fill(in, 60, 1);
	ck_assert_int_eq(pages_put(p, 1, 0, 1, 60, in), 0);
	/* 8 new pages do not fit in the 4 left: none is stored */
	ck_assert_int_eq(pages_put(p, 1, 60, 2, 8, in), -ENOSPC);
	ck_assert_uint_eq(pages_get(p, 1, 60, 8, st, in), 0);
	/* rewriting held pages needs no room */
	fill(in, 60, 1);
	ck_assert_int_eq(pages_put(p, 1, 0, 3, 60, in), 0);
	/* pages that overlap held ones need room only for the new ones */
	ck_assert_int_eq(pages_put(p, 1, 56, 4, 8, in), 0);
	struct gfs_page_stats_rep s;
	pages_stats(p, &s);
	ck_assert_uint_eq(s.used, 64);
	ck_assert_uint_eq(s.free, 0);
	ck_assert_uint_eq(s.refused, 8);
	/* freed room is used again */
	ck_assert_uint_eq(pages_invalidate(p, 1, 0, 10, ~0ull), 10);
	ck_assert_int_eq(pages_put(p, 9, 0, 1, 10, in), 0);
	ck_assert_int_eq(pages_put(p, 1, 0, 5, 1, in), -ENOSPC);
	ck_assert_int_eq(pages_put(p, 1, 0, 0, 1, in), -EINVAL);
	ck_assert_int_eq(pages_put(p, 1, 0, 1, GF_PAGE_BATCH + 1, in), -EINVAL);
	pages_free(p);
}
END_TEST

START_TEST(test_grows_only_within_reserve)
{
	/* 16 chunks of 16 pages at most; the host must keep 1 MiB */
	struct pages *p = make(256 * PG, MiB, 16 * PG);
	static uint8_t in[32 * PG];
	struct gfs_page_stats_rep s;

	set_available(MiB + 40 * PG); /* room for 2 chunks beyond the reserve */
	pages_stats(p, &s);
	ck_assert_uint_eq(s.locked, 0); /* nothing allocated before a put */
	ck_assert_uint_eq(s.free, 32);
	fill(in, 32, 0);
	ck_assert_int_eq(pages_put(p, 1, 0, 1, 32, in), 0);
	pages_stats(p, &s);
	ck_assert_uint_eq(s.locked, 32 * PG);
	set_available(MiB + 8 * PG); /* what the two chunks took */
	ck_assert_int_eq(pages_put(p, 1, 32, 1, 1, in), -ENOSPC);
	pages_stats(p, &s);
	ck_assert_uint_eq(s.free, 0);
	/* memory came free on the host: it lends more */
	set_available(64 * MiB);
	pages_stats(p, &s);
	ck_assert_uint_eq(s.free, 256 - 32);
	ck_assert_int_eq(pages_put(p, 1, 32, 1, 1, in), 0);
	pages_free(p);
	/* max 0: nothing lent */
	p = make(0, 0, 0);
	pages_stats(p, &s);
	ck_assert_uint_eq(s.total, 0);
	ck_assert_int_eq(pages_put(p, 1, 0, 1, 1, in), -ENOSPC);
	pages_free(p);
}
END_TEST

/* Compaction keeps a spare of free chunks for the next burst while the host
 * has memory, the cap allows it and puts are recent; gives everything back
 * when memory runs short, the cap is lowered or puts stop. */
static struct pages *make_spare(uint64_t spare, uint64_t idle_ms)
{
	struct pages_config cfg = { .max_bytes = 64 * 16 * PG, .reserve_bytes = MiB,
				    .chunk_bytes = 16 * PG, .meminfo = meminfo,
				    .spare_bytes = spare, .spare_idle_ms = idle_ms };
	struct pages *p;
	ck_assert_int_eq(pages_new(&cfg, &p), 0);
	return p;
}

static uint64_t locked_chunks(struct pages *p)
{
	struct gfs_page_stats_rep s;
	pages_stats(p, &s);
	return s.locked / (16 * PG);
}

/* six chunks of pages put, then all invalidated */
static void burst(struct pages *p)
{
	static uint8_t in[96 * PG];
	fill(in, 96, 3);
	ck_assert_int_eq(pages_put(p, 1, 0, 7, 96, in), 0);
	ck_assert_uint_eq(locked_chunks(p), 6);
	ck_assert_uint_eq(pages_invalidate(p, 1, 0, 96, 7), 96);
}

START_TEST(test_compact_keeps_spare)
{
	struct pages *p = make_spare(2 * 16 * PG, 3600 * 1000);
	static uint8_t in[PG], out[PG];
	uint64_t st;

	burst(p);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 2); /* the spare */
	/* a page still held survives compaction */
	fill(in, 1, 9);
	ck_assert_int_eq(pages_put(p, 2, 5, 8, 1, in), 0);
	pages_compact(p);
	ck_assert_uint_eq(pages_get(p, 2, 5, 1, &st, out), 1);
	ck_assert_mem_eq(in, out, PG);
	/* the host runs short (under reserve + 4 chunks): all given back but
	 * what the held page needs */
	set_available(MiB + 16 * PG);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 1);
	ck_assert_uint_eq(pages_get(p, 2, 5, 1, &st, out), 1);
	ck_assert_mem_eq(in, out, PG);
	ck_assert_uint_eq(pages_invalidate(p, 2, 5, 1, 8), 1);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 0);
	/* memory again: a spare again after a burst; a lowered cap takes it */
	set_available(1ull << 40);
	burst(p);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 2);
	pages_set_cap(p, 0);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 0);
	pages_free(p);
	/* spare 0: every free chunk goes at once (the old behaviour) */
	p = make_spare(0, 3600 * 1000);
	burst(p);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 0);
	pages_free(p);
	/* spare "all" (gfsd's): nothing goes while memory is plentiful */
	p = make_spare(UINT64_MAX, 3600 * 1000);
	burst(p);
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 6);
	set_available(MiB + 63 * PG); /* under reserve + 4 chunks of 16 pages */
	pages_compact(p);
	ck_assert_uint_eq(locked_chunks(p), 0);
	pages_free(p);
}
END_TEST

START_TEST(test_compact_idle)
{
	struct pages *p = make_spare(2 * 16 * PG, 20);
	int i;

	burst(p);
	/* puts stopped: after spare_idle_ms the spare goes too (polled) */
	for (i = 0; i < 100000 && (pages_compact(p), locked_chunks(p)) > 0; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_uint_eq(locked_chunks(p), 0);
	pages_free(p);
}
END_TEST

/* An owner that stops asking loses its pages after its lease; one that
 * goes on asking keeps them. Polls (a lease is whole seconds). */
START_TEST(test_owner_lease)
{
	struct pages *p = make_lease(4 * MiB, 0, MiB, 1);
	static uint8_t in[4 * PG], out[PG];
	uint64_t st, gone = 0;
	struct gfs_page_stats_rep s;

	fill(in, 4, 3);
	ck_assert_int_eq(pages_put(p, 1, 0, 1, 4, in), 0); /* goes silent */
	ck_assert_int_eq(pages_put(p, 2, 0, 1, 2, in), 0); /* keeps asking */
	ck_assert_uint_eq(pages_expire(p), 0);
	for (int i = 0; i < 6000 && gone == 0; i++) { /* a 60 s guard against a hang */
		usleep(10000);
		pages_get(p, 2, 0, 1, &st, out);
		gone = pages_expire(p);
	}
	ck_assert_uint_eq(gone, 4);
	ck_assert_uint_eq(pages_get(p, 1, 0, 1, &st, out), 0);
	ck_assert_uint_eq(pages_get(p, 2, 0, 1, &st, out), 1);
	pages_stats(p, &s);
	ck_assert_uint_eq(s.used, 2);
	ck_assert_uint_eq(s.expired, 4);
	ck_assert_uint_eq(s.owners, 1);
	pages_free(p);
}
END_TEST

/* The owner's host is kept while its pages are here, per owner */
START_TEST(test_owner_host)
{
	struct pages *p = make(4 * MiB, 0, MiB);
	static uint8_t in[2 * PG];
	char h[GF_HOST_MAX + 1];

	fill(in, 2, 1);
	ck_assert(!pages_owner_host(p, 1, h, sizeof(h)));
	pages_set_owner_host(p, 1, "node1"); /* no pages yet: not kept */
	ck_assert(!pages_owner_host(p, 1, h, sizeof(h)));
	ck_assert_int_eq(pages_put(p, 1, 0, 1, 2, in), 0);
	pages_set_owner_host(p, 1, "node1");
	ck_assert_int_eq(pages_put(p, 2, 0, 1, 1, in), 0);
	ck_assert(pages_owner_host(p, 1, h, sizeof(h)));
	ck_assert_str_eq(h, "node1");
	ck_assert(!pages_owner_host(p, 2, h, sizeof(h))); /* its host never said */
	pages_set_owner_host(p, 2, "node7");
	ck_assert(pages_owner_host(p, 2, h, sizeof(h)));
	ck_assert_str_eq(h, "node7");
	/* its pages gone, the owner is forgotten with its host */
	ck_assert_uint_eq(pages_invalidate(p, 1, 0, 2, 1), 2);
	ck_assert(!pages_owner_host(p, 1, h, sizeof(h)));
	pages_free(p);
}
END_TEST

static Suite *pages_suite(void)
{
	Suite *s = suite_create("pages");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_get_roundtrip);
	tcase_add_test(tc, test_stamps_order);
	tcase_add_test(tc, test_full_is_all_or_nothing);
	tcase_add_test(tc, test_grows_only_within_reserve);
	tcase_add_test(tc, test_owner_lease);
	tcase_add_test(tc, test_owner_host);
	tcase_add_test(tc, test_compact_keeps_spare);
	tcase_add_test(tc, test_compact_idle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pages_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
