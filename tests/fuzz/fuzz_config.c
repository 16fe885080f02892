/*
 * fuzz_config.c — libFuzzer target for the configuration file parser.
 *
 * The input is written to a memfd and loaded with gf_config_load through
 * /proc/self/fd/N, as any program reads its configuration file. A file that
 * loads is then queried the way the daemons do; one that does not must
 * leave an error message and no config.
 *
 * Seeds: tests/fuzz/corpus/config/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "net.h"

static const char *const keys[] = {
	"gfmd_host", "gfmd_port", "key_file", "spool", "hostname",
	"log_level", "heartbeat_ms", "launcher", "mount_point", "nonexistent",
};

static void fail(const char *what, long v)
{
	fprintf(stderr, "fuzz_config: %s (%ld)\n", what, v);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[256];
	struct gf_config *cfg = (struct gf_config *)&fd; /* must be reset */

	if (fd < 0) {
		fd = memfd_create("fuzz_config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (size && gf_write_full(fd, data, size) != 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	err[0] = '\0';
	int rc = gf_config_load(path, &cfg, err, (int)sizeof(err));
	if (rc) {
		if (cfg)
			fail("failed load left a config", rc);
		if (rc != -EINVAL && rc != -ENOMEM && rc != -EIO)
			fail("unexpected result", rc);
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			fail("no error message", rc);
		return 0;
	}
	if (!cfg)
		fail("load succeeded without a config", 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int e;
		const char *v = gf_config_str(cfg, keys[i], NULL);
		if (v)
			(void)strlen(v);
		(void)gf_config_int(cfg, keys[i], 7, -1000, 1000000, &e);
		if (e != 0 && e != -EINVAL)
			fail("gf_config_int error", e);
	}
	(void)strlen(gf_config_hostname(cfg));
	if (gf_config_set(cfg, "spool", "/tmp/x") != 0)
		fail("gf_config_set", 0);
	gf_config_free(cfg);
	return 0;
}
