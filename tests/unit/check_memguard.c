/*
 * check_memguard.c — reading a mapped file cut short under the mapping
 * (fuse/memguard.h): the guarded checksum check of pages past the new end
 * returns -EFAULT and the process lives on; of pages still there, it
 * checks them; a SIGBUS outside the guard still ends the process, as it
 * would without memguard.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csum.h"
#include "memguard.h"

#define NB 4
#define LEN (NB * GF_CSUM_BLOCK)

static char path[] = "/tmp/check_memguard.XXXXXX";
static int fd = -1;
static const char *map;
static uint64_t sums[NB];

static void setup(void)
{
	char *buf = malloc(LEN);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	for (int b = 0; b < NB; b++)
		sums[b] = gf_csum_block(buf + (size_t)b * GF_CSUM_BLOCK, GF_CSUM_BLOCK);
	strcpy(path, "/tmp/check_memguard.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, LEN), LEN);
	free(buf);
	map = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(map != MAP_FAILED);
	ck_assert_int_eq(memguard_init(), 0);
}

static void teardown(void)
{
	munmap((void *)map, LEN);
	close(fd);
	unlink(path);
}

START_TEST(test_checks_what_is_there)
{
	ck_assert_int_eq(memguard_csum_check(map, LEN, 0, sums), 0);
	ck_assert_int_eq(memguard_csum_check(map + GF_CSUM_BLOCK, GF_CSUM_BLOCK, 1, sums + 1), 0);
	/* a block that does not match */
	ck_assert_int_eq(memguard_csum_check(map, GF_CSUM_BLOCK, 0, sums + 1), 1);
	ck_assert_int_eq(memguard_init(), 0); /* again: nothing changes */
}
END_TEST

START_TEST(test_cut_short_is_efault)
{
	ck_assert_int_eq(ftruncate(fd, GF_CSUM_BLOCK), 0);
	/* the pages past the end are gone: SIGBUS, caught */
	ck_assert_int_eq(memguard_csum_check(map, LEN, 0, sums), -EFAULT);
	ck_assert_int_eq(memguard_csum_check(map + 2 * GF_CSUM_BLOCK, GF_CSUM_BLOCK, 2, sums + 2),
			 -EFAULT);
	/* and the thread goes on: what is still there checks, again and again */
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(memguard_csum_check(map, GF_CSUM_BLOCK, 0, sums), 0);
		ck_assert_int_eq(memguard_csum_check(map, LEN, 0, sums), -EFAULT);
	}
}
END_TEST

START_TEST(test_unguarded_sigbus_still_kills)
{
	pid_t pid;
	int status;

	ck_assert_int_eq(ftruncate(fd, GF_CSUM_BLOCK), 0);
	ck_assert_int_eq(memguard_csum_check(map, LEN, 0, sums), -EFAULT);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		volatile char c = map[3 * GF_CSUM_BLOCK]; /* outside the guard */
		(void)c;
		_exit(0); /* survived: wrong */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* killed by SIGBUS, or (under AddressSanitizer) its report's exit */
	ck_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
	if (WIFSIGNALED(status))
		ck_assert_int_eq(WTERMSIG(status), SIGBUS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memguard");
	TCase *tc = tcase_create("sigbus");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_checks_what_is_there);
	tcase_add_test(tc, test_cut_short_is_efault);
	tcase_add_test(tc, test_unguarded_sigbus_still_kills);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
