#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/gfcfgXXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(parse_values)
{
	char err[256];
	struct gf_config *cfg;
	char *p = write_tmp("# comment\n\n gfmd_host = meta1 \n"
			    "postgresql = \"host=/tmp port=5 dbname=gf\"\n"
			    "gfmd_port=6700 # trailing comment\nspool=/srv/gf\n");
	ck_assert_int_eq(gf_config_load(p, &cfg, err, sizeof(err)), 0);
	unlink(p);
	ck_assert_str_eq(gf_config_str(cfg, "gfmd_host", NULL), "meta1");
	ck_assert_str_eq(gf_config_str(cfg, "postgresql", NULL), "host=/tmp port=5 dbname=gf");
	ck_assert_str_eq(gf_config_str(cfg, "spool", NULL), "/srv/gf");
	ck_assert_ptr_null(gf_config_str(cfg, "key_file", NULL));
	int e;
	ck_assert_int_eq(gf_config_int(cfg, "gfmd_port", 1, 1, 65535, &e), 6700);
	ck_assert_int_eq(e, 0);
	ck_assert_int_eq(gf_config_int(cfg, "heartbeat_ms", 1000, 1, 100000, &e), 1000);
	ck_assert_int_eq(gf_config_int(cfg, "gfmd_port", 1, 1, 100, &e), 1);
	ck_assert_int_eq(e, -EINVAL);
	int b = -1;
	ck_assert_int_eq(gf_config_bool(cfg, "passthrough", 1, &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(gf_config_set(cfg, "passthrough", "false"), 0);
	ck_assert_int_eq(gf_config_bool(cfg, "passthrough", 1, &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(gf_config_set(cfg, "passthrough", "yes"), 0);
	ck_assert_int_eq(gf_config_bool(cfg, "passthrough", 0, &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(gf_config_set(cfg, "passthrough", "maybe"), 0);
	ck_assert_int_eq(gf_config_bool(cfg, "passthrough", 0, &b), -EINVAL);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(gf_config_set(cfg, "hostname", "node7"), 0);
	ck_assert_str_eq(gf_config_hostname(cfg), "node7");
	gf_config_free(cfg);
}
END_TEST

START_TEST(reject_bad_files)
{
	char err[256];
	struct gf_config *cfg;
	const char *bad[] = { "gfmd_hots = x\n", "just words\n", "spool = \"unterminated\n", NULL };
	for (int i = 0; bad[i]; i++) {
		char *p = write_tmp(bad[i]);
		ck_assert_int_eq(gf_config_load(p, &cfg, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, ":1:"));
		unlink(p);
	}
	ck_assert_int_eq(gf_config_load("/nonexistent/gf.conf", &cfg, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/gf.conf"));
}
END_TEST

START_TEST(not_a_number)
{
	char err[256];
	struct gf_config *cfg;
	char *p = write_tmp("gfmd_port = 66x\n");
	ck_assert_int_eq(gf_config_load(p, &cfg, err, sizeof(err)), 0);
	unlink(p);
	int e;
	ck_assert_int_eq(gf_config_int(cfg, "gfmd_port", 6600, 1, 65535, &e), 6600);
	ck_assert_int_eq(e, -EINVAL);
	gf_config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_values);
	tcase_add_test(tc, reject_bad_files);
	tcase_add_test(tc, not_a_number);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
