/*
 * check_wire.c — the bounds-checked field codec (wire.h).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

START_TEST(test_ints_big_endian)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_u8(&w, 0xab);
	gf_put_u16(&w, 0x0102);
	gf_put_u32(&w, 0x03040506);
	gf_put_u64(&w, 0x0708090a0b0c0d0eull);
	gf_put_i32(&w, -2);
	gf_put_i64(&w, -3);
	ck_assert_int_eq(w.err, 0);
	static const uint8_t want[] = {
		0xab, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
		0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
		0xff, 0xff, 0xff, 0xfe,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd,
	};
	ck_assert_uint_eq(w.len, sizeof(want));
	ck_assert_mem_eq(w.data, want, sizeof(want));

	struct gf_rbuf r;
	gf_rbuf_init(&r, w.data, w.len);
	ck_assert_uint_eq(gf_get_u8(&r), 0xab);
	ck_assert_uint_eq(gf_get_u16(&r), 0x0102);
	ck_assert_uint_eq(gf_get_u32(&r), 0x03040506);
	ck_assert_uint_eq(gf_get_u64(&r), 0x0708090a0b0c0d0eull);
	ck_assert_int_eq(gf_get_i32(&r), -2);
	ck_assert_int_eq(gf_get_i64(&r), -3);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_extremes)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_u16(&w, UINT16_MAX);
	gf_put_u32(&w, UINT32_MAX);
	gf_put_u64(&w, UINT64_MAX);
	gf_put_i32(&w, INT32_MIN);
	gf_put_i64(&w, INT64_MIN);
	gf_put_i64(&w, INT64_MAX);
	ck_assert_int_eq(w.err, 0);

	struct gf_rbuf r;
	gf_rbuf_init(&r, w.data, w.len);
	ck_assert_uint_eq(gf_get_u16(&r), UINT16_MAX);
	ck_assert_uint_eq(gf_get_u32(&r), UINT32_MAX);
	ck_assert_uint_eq(gf_get_u64(&r), UINT64_MAX);
	ck_assert_int_eq(gf_get_i32(&r), INT32_MIN);
	ck_assert_int_eq(gf_get_i64(&r), INT64_MIN);
	ck_assert_int_eq(gf_get_i64(&r), INT64_MAX);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_bytes_and_strings)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_str(&w, "hello");
	gf_put_str(&w, "");
	gf_put_bytes(&w, "\0\1\2", 3);
	gf_put_raw(&w, "xyz", 3);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 4 + 5 + 4 + 4 + 3 + 3);
	ck_assert_mem_eq(w.data, "\0\0\0\5hello\0\0\0\0\0\0\0\3\0\1\2xyz", w.len);

	struct gf_rbuf r;
	char s[16];
	const uint8_t *p;
	char raw[3];
	gf_rbuf_init(&r, w.data, w.len);
	gf_get_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "hello");
	gf_get_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(gf_get_bytes(&r, &p, 3), 3);
	ck_assert_ptr_eq(p, w.data + 4 + 5 + 4 + 4);
	ck_assert_mem_eq(p, "\0\1\2", 3);
	gf_get_raw(&r, raw, 3);
	ck_assert_mem_eq(raw, "xyz", 3);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_str_exact_fit_and_oversize)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_str(&w, "abcdefg"); /* 7 bytes: fits char[8], not char[7] */
	ck_assert_int_eq(w.err, 0);

	struct gf_rbuf r;
	char s[8];
	gf_rbuf_init(&r, w.data, w.len);
	gf_get_str(&r, s, 8);
	ck_assert_str_eq(s, "abcdefg");
	ck_assert_int_eq(gf_rbuf_done(&r), 0);

	gf_rbuf_init(&r, w.data, w.len);
	gf_get_str(&r, s, 7);
	ck_assert_int_eq(r.err, -EBADMSG);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);

	gf_rbuf_init(&r, w.data, w.len);
	gf_get_str(&r, s, 0);
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_str_embedded_nul)
{
	static const uint8_t buf[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	struct gf_rbuf r;
	char s[16];
	memset(s, 'x', sizeof(s));
	gf_rbuf_init(&r, buf, sizeof(buf));
	gf_get_str(&r, s, sizeof(s));
	ck_assert_int_eq(r.err, -EBADMSG);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);
}
END_TEST

START_TEST(test_bytes_over_max_and_over_end)
{
	static const uint8_t buf[] = { 0, 0, 0, 4, 1, 2, 3, 4 };
	struct gf_rbuf r;
	const uint8_t *p = (const uint8_t *)"sentinel";

	gf_rbuf_init(&r, buf, sizeof(buf));
	ck_assert_uint_eq(gf_get_bytes(&r, &p, 3), 0);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(r.err, -EBADMSG);

	gf_rbuf_init(&r, buf, sizeof(buf));
	ck_assert_uint_eq(gf_get_bytes(&r, &p, 4), 4);
	ck_assert_ptr_eq(p, buf + 4);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);

	/* Length claims more than the buffer holds. */
	gf_rbuf_init(&r, buf, sizeof(buf) - 1);
	ck_assert_uint_eq(gf_get_bytes(&r, &p, UINT32_MAX), 0);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);

	/* A huge length must not wrap the offset. */
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 1 };
	gf_rbuf_init(&r, huge, sizeof(huge));
	ck_assert_uint_eq(gf_get_bytes(&r, &p, UINT32_MAX), 0);
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);
}
END_TEST

START_TEST(test_truncated_every_length)
{
	static const uint8_t full[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	for (size_t n = 0; n < sizeof(full); n++) {
		struct gf_rbuf r;
		gf_rbuf_init(&r, full, n);
		(void)gf_get_u64(&r); /* value unspecified on error */
		ck_assert_int_eq(r.err, -EBADMSG);
		ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);
	}
	for (size_t n = 0; n < 4; n++) {
		struct gf_rbuf r;
		gf_rbuf_init(&r, full, n);
		ck_assert_uint_eq(gf_get_u32(&r), 0);
		ck_assert_int_eq(r.err, -EBADMSG);
	}
	struct gf_rbuf r;
	gf_rbuf_init(&r, full, 1);
	ck_assert_uint_eq(gf_get_u16(&r), 0);
	ck_assert_int_eq(r.err, -EBADMSG);
	gf_rbuf_init(&r, full, 0);
	ck_assert_uint_eq(gf_get_u8(&r), 0);
	ck_assert_int_eq(r.err, -EBADMSG);
}
END_TEST

START_TEST(test_errors_are_sticky)
{
	static const uint8_t buf[] = { 0, 0, 0, 9, 0, 0, 0, 1 };
	struct gf_rbuf r;
	gf_rbuf_init(&r, buf, 2);
	ck_assert_uint_eq(gf_get_u32(&r), 0);
	ck_assert_int_eq(r.err, -EBADMSG);
	/* Later gets read nothing even though bytes exist. */
	ck_assert_uint_eq(gf_get_u8(&r), 0);
	ck_assert_uint_eq(r.off, 0);

	uint8_t raw[4] = { 9, 9, 9, 9 };
	gf_get_raw(&r, raw, sizeof(raw));
	ck_assert_mem_eq(raw, "\0\0\0\0", 4); /* zeroed on failure */
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);
}
END_TEST

START_TEST(test_trailing_bytes)
{
	static const uint8_t buf[] = { 0, 0, 0, 1, 0xee };
	struct gf_rbuf r;
	gf_rbuf_init(&r, buf, sizeof(buf));
	ck_assert_uint_eq(gf_get_u32(&r), 1);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(gf_rbuf_done(&r), -EBADMSG);

	gf_rbuf_init(&r, NULL, 0);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);
}
END_TEST

START_TEST(test_wbuf_growth_reset_free)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	ck_assert_ptr_null(w.data);
	for (uint32_t i = 0; i < 100000; i++)
		gf_put_u32(&w, i);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 400000);
	ck_assert_uint_ge(w.cap, w.len);

	struct gf_rbuf r;
	gf_rbuf_init(&r, w.data, w.len);
	for (uint32_t i = 0; i < 100000; i++)
		ck_assert_uint_eq(gf_get_u32(&r), i);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);

	uint8_t *keep = w.data;
	gf_wbuf_reset(&w);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_ptr_eq(w.data, keep);
	gf_put_u8(&w, 7);
	ck_assert_uint_eq(w.len, 1);

	gf_wbuf_free(&w);
	ck_assert_ptr_null(w.data);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_uint_eq(w.cap, 0);
}
END_TEST

START_TEST(test_wbuf_reserve_overflow)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_u32(&w, 1);
	ck_assert_int_eq(gf_wbuf_reserve(&w, SIZE_MAX), -ENOMEM);
	ck_assert_int_eq(w.err, -ENOMEM);
	gf_put_u32(&w, 2); /* no-op after an error */
	ck_assert_uint_eq(w.len, 4);
	gf_wbuf_reset(&w);
	ck_assert_int_eq(w.err, 0);
	gf_wbuf_free(&w);
}
END_TEST

START_TEST(test_large_bytes)
{
	size_t n = 1u << 20;
	uint8_t *src = malloc(n);
	ck_assert_ptr_nonnull(src);
	for (size_t i = 0; i < n; i++)
		src[i] = (uint8_t)(i * 131 + 7);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_bytes(&w, src, (uint32_t)n);
	ck_assert_int_eq(w.err, 0);

	struct gf_rbuf r;
	const uint8_t *p;
	gf_rbuf_init(&r, w.data, w.len);
	ck_assert_uint_eq(gf_get_bytes(&r, &p, (uint32_t)n), n);
	ck_assert_int_eq(memcmp(p, src, n), 0);
	ck_assert_int_eq(gf_rbuf_done(&r), 0);
	gf_wbuf_free(&w);
	free(src);
}
END_TEST

/* A fixed encoder writes into the caller's buffer and never past it. */
START_TEST(test_wbuf_fixed)
{
	uint8_t buf[12];
	struct gf_wbuf w;

	memset(buf, 0xee, sizeof(buf));
	gf_wbuf_init_fixed(&w, buf, 10);
	gf_put_u64(&w, 0x0102030405060708ull);
	ck_assert_int_eq(w.err, 0);
	ck_assert_ptr_eq(w.data, buf);
	ck_assert_uint_eq(buf[0], 1);
	ck_assert_uint_eq(buf[7], 8);
	gf_put_u32(&w, 9); /* 12 > 10 */
	ck_assert_int_eq(w.err, -EMSGSIZE);
	ck_assert_uint_eq(w.len, 8);
	ck_assert_uint_eq(buf[8], 0xee); /* nothing written past what fitted */
	gf_wbuf_free(&w);		 /* not the caller's buffer to free */
	ck_assert_uint_eq(buf[0], 1);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, test_ints_big_endian);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_bytes_and_strings);
	tcase_add_test(tc, test_str_exact_fit_and_oversize);
	tcase_add_test(tc, test_str_embedded_nul);
	tcase_add_test(tc, test_bytes_over_max_and_over_end);
	tcase_add_test(tc, test_truncated_every_length);
	tcase_add_test(tc, test_errors_are_sticky);
	tcase_add_test(tc, test_trailing_bytes);
	tcase_add_test(tc, test_wbuf_growth_reset_free);
	tcase_add_test(tc, test_wbuf_reserve_overflow);
	tcase_add_test(tc, test_large_bytes);
	tcase_add_test(tc, test_wbuf_fixed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
