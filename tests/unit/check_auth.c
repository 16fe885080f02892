/*
 * check_auth.c — the handshake's primitives (lib/auth.h): gf_hmac_sha256
 * against RFC 4231's test cases and against OpenSSL's own HMAC for keys and
 * messages of every length around SHA-256's 64-byte block, and gf_random.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

static void unhex(const char *hex, uint8_t *out)
{
	for (size_t i = 0; hex[2 * i]; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void expect(const uint8_t *key, size_t klen, const void *msg, size_t len, const char *hex)
{
	uint8_t want[GF_HMAC_LEN], got[GF_HMAC_LEN];
	unhex(hex, want);
	gf_hmac_sha256(key, klen, msg, len, got);
	ck_assert_mem_eq(got, want, GF_HMAC_LEN);
}

START_TEST(test_rfc4231)
{
	uint8_t k[131];
	memset(k, 0x0b, 20);
	expect(k, 20, "Hi There", 8,
	       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	expect((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
	       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	uint8_t d[50];
	memset(k, 0xaa, 20);
	memset(d, 0xdd, 50);
	expect(k, 20, d, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	memset(k, 0xaa, 131); /* longer than a block: hashed first */
	expect(k, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	const char *m7 = "This is a test using a larger than block-size key and a larger "
			 "than block-size data. The key needs to be hashed before being "
			 "used by the HMAC algorithm.";
	expect(k, 131, m7, strlen(m7),
	       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}
END_TEST

/* Every key length 0..200 and message lengths around the block size: the
 * same MAC as OpenSSL's HMAC(EVP_sha256()). */
START_TEST(test_against_openssl)
{
	uint8_t key[200], msg[300], a[GF_HMAC_LEN], b[EVP_MAX_MD_SIZE];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 + 11);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 101 + 7);
	static const size_t lens[] = { 0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300 };
	for (size_t kl = 0; kl <= sizeof(key); kl++)
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			unsigned int bl = 0;
			gf_hmac_sha256(key, kl, msg, lens[j], a);
			ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)kl, msg, lens[j], b, &bl));
			ck_assert_uint_eq(bl, GF_HMAC_LEN);
			ck_assert_msg(memcmp(a, b, GF_HMAC_LEN) == 0, "key %zu bytes, message %zu",
				      kl, lens[j]);
		}
}
END_TEST

START_TEST(test_random)
{
	uint8_t a[4096], b[4096], zero[4096] = { 0 };
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(gf_random(a, sizeof(a)), 0);
	ck_assert_int_eq(gf_random(b, sizeof(b)), 0);
	ck_assert(memcmp(a, zero, sizeof(a)) != 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	ck_assert_int_eq(gf_random(a, 0), 0);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rfc4231);
	tcase_add_test(tc, test_against_openssl);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
