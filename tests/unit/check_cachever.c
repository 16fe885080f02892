/*
 * check_cachever.c — which version of a file the kernel's page cache holds
 * (fuse/cachever.h): an open keeps pages only of the version cached; a
 * sole writer's version is kept; attributes of another version (or of a
 * file whose version was lost) say "drop"; a file never opened never does.
 */
#include <check.h>
#include <string.h>

#include "cachever.h"

static struct gf_attr v(uint64_t ino, uint64_t gen, uint64_t size, int64_t mtime)
{
	struct gf_attr a;
	memset(&a, 0, sizeof(a));
	a.ino = ino;
	a.mode = 0100644;
	a.gen = gen;
	a.size = size;
	a.mtime.sec = mtime;
	return a;
}

START_TEST(test_open_keeps_only_the_same_version)
{
	struct gf_attr a = v(101, 1, 100, 5), b = v(101, 2, 100, 5);
	ck_assert(!cachever_open(&a)); /* nothing cached yet */
	ck_assert(cachever_open(&a));  /* the same version: keep */
	ck_assert(!cachever_open(&b)); /* another generation: drop */
	ck_assert(cachever_open(&b));
	struct gf_attr c = b;
	c.mtime.nsec = 1;
	ck_assert(!cachever_open(&c)); /* another mtime */
	c.size = 101;
	ck_assert(!cachever_open(&c)); /* another size */
}
END_TEST

START_TEST(test_forget)
{
	struct gf_attr a = v(202, 1, 10, 5);
	cachever_open(&a);
	cachever_forget(202);
	ck_assert(!cachever_open(&a)); /* written around the cache meanwhile */
}
END_TEST

START_TEST(test_wrote)
{
	struct gf_attr w = v(303, 4, 4096, 9);
	cachever_forget(303); /* the writer's open */
	cachever_wrote(&w);   /* its close, as the only writer */
	ck_assert(!cachever_stale(&w));
	ck_assert(cachever_open(&w)); /* the reader after it keeps the pages */
}
END_TEST

START_TEST(test_stale)
{
	struct gf_attr never = v(404, 1, 10, 5);
	ck_assert(!cachever_stale(&never)); /* never opened: nothing to drop */
	ck_assert(!cachever_stale(&never));
	struct gf_attr a = v(505, 1, 10, 5), b = v(505, 2, 10, 5);
	cachever_open(&a);
	ck_assert(!cachever_stale(&a));
	ck_assert(cachever_stale(&b));	/* another mount wrote it: drop */
	ck_assert(!cachever_stale(&b)); /* once: b is the version now */
	ck_assert(cachever_open(&b));	/* and what was read since is b's */
	/* a version lost to a collision in the table: dropped, then known */
	struct gf_attr c = v(606, 1, 10, 5);
	cachever_forget(606);
	ck_assert(cachever_stale(&c));
	ck_assert(!cachever_stale(&c));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cachever");
	TCase *tc = tcase_create("versions");
	tcase_add_test(tc, test_open_keeps_only_the_same_version);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_wrote);
	tcase_add_test(tc, test_stale);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
