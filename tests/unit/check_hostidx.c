/*
 * check_hostidx.c — gfmd's per-host inode index (gfmd/hostidx.h): members
 * come and go, the walk returns exactly them in order, chunks are freed
 * when emptied, against a plain array as the reference.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hostidx.h"

START_TEST(test_basic)
{
	struct hostidx ix;
	hostidx_init(&ix);
	ck_assert_uint_eq(hostidx_next(&ix, 3, 0), 0);
	ck_assert_int_eq(hostidx_add(&ix, 3, 5), 0);
	ck_assert_int_eq(hostidx_add(&ix, 3, 5), 0); /* twice: once */
	ck_assert_int_eq(hostidx_add(&ix, 3, HOSTIDX_CHUNK * 7 + 63), 0);
	ck_assert_int_eq(hostidx_add(&ix, 3, HOSTIDX_CHUNK * 7 + 64), 0);
	ck_assert_int_eq(hostidx_add(&ix, 1, 9), 0);
	ck_assert_int_eq(hostidx_add(&ix, 3, 0), 0); /* 0 is never a member */
	ck_assert_uint_eq(hostidx_count(&ix, 3), 3);
	ck_assert_uint_eq(hostidx_count(&ix, 1), 1);
	ck_assert_uint_eq(hostidx_count(&ix, 2), 0);
	ck_assert(hostidx_has(&ix, 3, 5) && !hostidx_has(&ix, 3, 9) && hostidx_has(&ix, 1, 9));
	ck_assert_uint_eq(hostidx_next(&ix, 3, 0), 5);
	ck_assert_uint_eq(hostidx_next(&ix, 3, 4), 5);
	ck_assert_uint_eq(hostidx_next(&ix, 3, 5), HOSTIDX_CHUNK * 7 + 63);
	ck_assert_uint_eq(hostidx_next(&ix, 3, HOSTIDX_CHUNK * 7 + 63), HOSTIDX_CHUNK * 7 + 64);
	ck_assert_uint_eq(hostidx_next(&ix, 3, HOSTIDX_CHUNK * 7 + 64), 0);
	ck_assert_uint_eq(hostidx_next(&ix, 3, UINT64_MAX), 0);
	ck_assert_uint_eq(hostidx_next(&ix, 99, 0), 0);
	size_t full = hostidx_bytes(&ix);
	hostidx_del(&ix, 3, HOSTIDX_CHUNK * 7 + 63);
	hostidx_del(&ix, 3, HOSTIDX_CHUNK * 7 + 63); /* twice: nothing */
	hostidx_del(&ix, 3, 12345678);		     /* never there */
	hostidx_del(&ix, 77, 5);		     /* unknown host */
	ck_assert_uint_eq(hostidx_count(&ix, 3), 2);
	hostidx_del(&ix, 3, HOSTIDX_CHUNK * 7 + 64);
	/* the emptied chunk went */
	ck_assert_uint_lt(hostidx_bytes(&ix), full);
	ck_assert_uint_eq(hostidx_next(&ix, 3, 5), 0);
	hostidx_free(&ix);
	ck_assert_uint_eq(hostidx_bytes(&ix), 0);
}
END_TEST

/* Random adds and deletes on 4 hosts against a reference bitmap. */
START_TEST(test_random)
{
	enum { HOSTS = 4, MAXINO = 5 * HOSTIDX_CHUNK + 17 };
	static unsigned char ref[HOSTS][MAXINO];
	struct hostidx ix;
	unsigned seed = 12345;
	memset(ref, 0, sizeof(ref));
	hostidx_init(&ix);
	for (int step = 0; step < 200000; step++) {
		uint32_t h = (uint32_t)(rand_r(&seed) % HOSTS);
		/* clustered inode numbers, as a counter makes them */
		uint64_t ino = 1 + (uint64_t)(rand_r(&seed) % (MAXINO - 1));
		if (rand_r(&seed) % 3) {
			ck_assert_int_eq(hostidx_add(&ix, h, ino), 0);
			ref[h][ino] = 1;
		} else {
			hostidx_del(&ix, h, ino);
			ref[h][ino] = 0;
		}
		if (step % 20000 == 0 || step == 199999) {
			for (uint32_t k = 0; k < HOSTS; k++) {
				uint64_t want = 0, n = 0, at = 0;
				for (uint64_t i = 1; i < MAXINO; i++) {
					if (!ref[k][i])
						continue;
					n++;
					ck_assert_uint_eq(hostidx_next(&ix, k, at), i);
					ck_assert_uint_eq(hostidx_next(&ix, k, i - 1), i);
					at = i;
					want = i;
				}
				ck_assert_uint_eq(hostidx_next(&ix, k, want), 0);
				ck_assert_uint_eq(hostidx_count(&ix, k), n);
			}
		}
	}
	/* everything deleted: every chunk freed */
	for (uint32_t k = 0; k < HOSTS; k++)
		for (uint64_t i = 1; i < MAXINO; i++)
			hostidx_del(&ix, k, i);
	for (size_t k = 0; k < ix.nhosts; k++)
		for (size_t c = 0; c < ix.hosts[k].nchunks; c++)
			ck_assert_ptr_null(ix.hosts[k].chunks[c]);
	hostidx_free(&ix);
}
END_TEST

static Suite *hostidx_suite(void)
{
	Suite *s = suite_create("hostidx");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hostidx_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
