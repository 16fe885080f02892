/*
 * check_attrcache.c — the mount's cache of attributes from gfmd's replies
 * (fuse/attrcache.h): served only while fresh, never after this mount
 * touched the inode again, never older over newer.
 */
#include <check.h>
#include <string.h>
#include <time.h>

#include "attrcache.h"

static struct gfm_dirs one(uint64_t ino, int64_t ctime_sec, uint32_t nlink)
{
	struct gfm_dirs d;
	memset(&d, 0, sizeof(d));
	d.n = 1;
	d.attr[0].ino = ino;
	d.attr[0].mode = 040755;
	d.attr[0].nlink = nlink;
	d.attr[0].ctime.sec = ctime_sec;
	return d;
}

START_TEST(test_put_get)
{
	struct gf_attr a;
	double left;
	gf_attrcache_init(5);
	ck_assert(!gf_attrcache_get(7, &a, &left));
	struct gfm_dirs d = one(7, 100, 3);
	gf_attrcache_put(gf_attrcache_begin(), &d);
	ck_assert(gf_attrcache_get(7, &a, &left));
	ck_assert_uint_eq(a.nlink, 3);
	ck_assert(left > 0 && left <= 5);
	ck_assert(!gf_attrcache_get(8, &a, &left));
}
END_TEST

START_TEST(test_forget)
{
	struct gf_attr a;
	double left;
	gf_attrcache_init(5);
	struct gfm_dirs d = one(7, 100, 3);
	gf_attrcache_put(gf_attrcache_begin(), &d);
	gf_attrcache_forget(7);
	ck_assert(!gf_attrcache_get(7, &a, &left));
	/* a reply to a request sent before the forget is not kept */
	uint64_t before = gf_attrcache_begin();
	gf_attrcache_forget(7);
	gf_attrcache_put(before, &d);
	ck_assert(!gf_attrcache_get(7, &a, &left));
	/* one sent after it is */
	gf_attrcache_put(gf_attrcache_begin(), &d);
	ck_assert(gf_attrcache_get(7, &a, &left));
	/* forget lists and forget_all in a reply */
	struct gfm_dirs f;
	memset(&f, 0, sizeof(f));
	f.nforget = 1;
	f.forget[0] = 7;
	gf_attrcache_put(gf_attrcache_begin(), &f);
	ck_assert(!gf_attrcache_get(7, &a, &left));
	gf_attrcache_put(gf_attrcache_begin(), &d);
	struct gfm_dirs e = one(9, 1, 2);
	gf_attrcache_put(gf_attrcache_begin(), &e);
	memset(&f, 0, sizeof(f));
	before = gf_attrcache_begin();
	f.forget_all = 1;
	gf_attrcache_put(gf_attrcache_begin(), &f);
	ck_assert(!gf_attrcache_get(7, &a, &left));
	ck_assert(!gf_attrcache_get(9, &a, &left));
	gf_attrcache_put(before, &d); /* sent before the forget_all */
	ck_assert(!gf_attrcache_get(7, &a, &left));
}
END_TEST

START_TEST(test_newer_wins)
{
	struct gf_attr a;
	double left;
	gf_attrcache_init(5);
	uint64_t c = gf_attrcache_begin();
	struct gfm_dirs newer = one(7, 200, 4), older = one(7, 100, 3);
	gf_attrcache_put(c, &newer);
	gf_attrcache_put(c, &older); /* arrives late */
	ck_assert(gf_attrcache_get(7, &a, &left));
	ck_assert_uint_eq(a.nlink, 4);
}
END_TEST

START_TEST(test_files)
{
	struct gf_attr a, f;
	double left;
	gf_attrcache_init(5);
	memset(&f, 0, sizeof(f));
	f.ino = 11;
	f.mode = 0100644;
	f.size = 10;
	f.gen = 3;
	f.ctime.sec = 100;
	uint64_t c = gf_attrcache_begin();
	gf_attrcache_put_attr(c, &f);
	ck_assert(gf_attrcache_get(11, &a, &left));
	ck_assert_uint_eq(a.size, 10);
	/* same ctime, a later generation (another mount's write open) wins;
	 * the earlier one arriving late does not */
	struct gf_attr g = f;
	g.gen = 4;
	g.size = 0;
	gf_attrcache_put_attr(c, &g);
	gf_attrcache_put_attr(c, &f);
	ck_assert(gf_attrcache_get(11, &a, &left));
	ck_assert_uint_eq(a.gen, 4);
	/* same ctime and generation (an atime moved): the later reply */
	g.atime.sec = 50;
	gf_attrcache_put_attr(c, &g);
	ck_assert(gf_attrcache_get(11, &a, &left));
	ck_assert_int_eq(a.atime.sec, 50);
	/* forget_all: every entry goes, replies sent before it are not
	 * kept, replies sent after it are */
	struct gfm_dirs d = one(7, 100, 3);
	gf_attrcache_put(gf_attrcache_begin(), &d);
	uint64_t before = gf_attrcache_begin();
	gf_attrcache_forget_all();
	ck_assert(!gf_attrcache_get(11, &a, &left));
	ck_assert(!gf_attrcache_get(7, &a, &left));
	gf_attrcache_put_attr(before, &g);
	ck_assert(!gf_attrcache_get(11, &a, &left));
	gf_attrcache_put_attr(gf_attrcache_begin(), &g);
	ck_assert(gf_attrcache_get(11, &a, &left));
	ck_assert(!gf_attrcache_get(7, &a, &left));
	/* an older reply than one dropped by forget_all may be stored again */
	f.ctime.sec = 90;
	gf_attrcache_forget_all();
	gf_attrcache_put_attr(gf_attrcache_begin(), &f);
	ck_assert(gf_attrcache_get(11, &a, &left));
	ck_assert_int_eq(a.ctime.sec, 90);
	/* ino 0 is never an entry */
	f.ino = 0;
	gf_attrcache_put_attr(gf_attrcache_begin(), &f);
	ck_assert(!gf_attrcache_get(0, &a, &left));
}
END_TEST

START_TEST(test_expiry_and_off)
{
	struct gf_attr a;
	double left;
	gf_attrcache_init(0.05);
	struct gfm_dirs d = one(7, 100, 3);
	gf_attrcache_put(gf_attrcache_begin(), &d);
	ck_assert(gf_attrcache_get(7, &a, &left));
	/* poll: served until its time is up, then never again */
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int n = 0;
	while (gf_attrcache_get(7, &a, &left) && n++ < 1000)
		nanosleep(&ts, NULL);
	ck_assert(!gf_attrcache_get(7, &a, &left));
	gf_attrcache_init(0);
	gf_attrcache_put(gf_attrcache_begin(), &d);
	ck_assert(!gf_attrcache_get(7, &a, &left));
}
END_TEST

static Suite *attrcache_suite(void)
{
	Suite *s = suite_create("attrcache");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_newer_wins);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_expiry_and_off);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(attrcache_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
