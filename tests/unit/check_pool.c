/*
 * check_pool.c — gfmd's fixed-size object pools (gfmd/pool.h): objects
 * never overlap and keep what was written in them, a freed object is handed
 * out again before new memory is taken, chunks are only taken when needed,
 * and destroy leaves an empty, usable pool.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

START_TEST(test_size_rounding)
{
	struct gf_pool p;
	gf_pool_init(&p, 1);
	ck_assert_uint_eq(p.size, sizeof(void *));
	gf_pool_init(&p, 152);
	ck_assert_uint_eq(p.size, 152);
	gf_pool_init(&p, 20);
	ck_assert_uint_eq(p.size, 24);
	ck_assert_uint_eq(gf_pool_bytes(&p), 0); /* nothing taken before the first */
	gf_pool_destroy(&p);
}
END_TEST

/* Many objects, each filled with its own pattern; half freed and taken
 * again; every live one still holds its pattern. */
START_TEST(test_objects)
{
	enum { N = 20000, SZ = 40 };
	struct gf_pool p;
	gf_pool_init(&p, SZ);
	unsigned char **v = calloc(N, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	for (int i = 0; i < N; i++) {
		v[i] = gf_pool_alloc(&p);
		ck_assert_ptr_nonnull(v[i]);
		ck_assert_uint_eq((uintptr_t)v[i] % 8, 0);
		memset(v[i], i & 0xff, SZ);
	}
	ck_assert_uint_eq(p.live, N);
	/* exactly the chunks N objects need: 8 bytes of each chunk are its link */
	size_t per_chunk = (GF_POOL_CHUNK - 8) / SZ;
	ck_assert_uint_eq(gf_pool_bytes(&p), ((N + per_chunk - 1) / per_chunk) * GF_POOL_CHUNK);
	size_t bytes = gf_pool_bytes(&p);
	for (int i = 0; i < N; i += 2) {
		gf_pool_free(&p, v[i]);
		v[i] = NULL;
	}
	gf_pool_free(&p, NULL); /* nothing */
	ck_assert_uint_eq(p.live, N / 2);
	for (int i = 0; i < N; i += 2) {
		v[i] = gf_pool_alloc(&p);
		memset(v[i], i & 0xff, SZ);
	}
	/* the freed ones came back: no new chunk */
	ck_assert_uint_eq(gf_pool_bytes(&p), bytes);
	for (int i = 0; i < N; i++)
		for (int b = 0; b < SZ; b++)
			ck_assert_uint_eq(v[i][b], (unsigned)(i & 0xff));
	gf_pool_destroy(&p);
	ck_assert_uint_eq(gf_pool_bytes(&p), 0);
	ck_assert_uint_eq(p.live, 0);
	/* usable again */
	void *o = gf_pool_alloc(&p);
	ck_assert_ptr_nonnull(o);
	memset(o, 1, SZ);
	gf_pool_destroy(&p);
	free(v);
}
END_TEST

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

/* Sorted by address, each object ends before the next begins. */
START_TEST(test_no_overlap)
{
	enum { N = 5000, SZ = 152 };
	struct gf_pool p;
	gf_pool_init(&p, SZ);
	void **v = malloc(N * sizeof(*v));
	for (int i = 0; i < N; i++)
		v[i] = gf_pool_alloc(&p);
	for (int i = 0; i < N; i += 3)
		gf_pool_free(&p, v[i]);
	for (int i = 0; i < N; i += 3)
		v[i] = gf_pool_alloc(&p);
	qsort(v, N, sizeof(*v), cmp_ptr);
	for (int i = 0; i + 1 < N; i++)
		ck_assert((char *)v[i] + SZ <= (char *)v[i + 1]);
	free(v);
	gf_pool_destroy(&p);
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_size_rounding);
	tcase_add_test(tc, test_objects);
	tcase_add_test(tc, test_no_overlap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pool_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
