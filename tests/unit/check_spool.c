/* Unit tests for gfsd/spool: naming, replica life cycle, symlink safety,
 * listing, a full spool surfacing ENOSPC, and the spool's cluster id; and
 * gfsd/sums (a replica's checksums beside it) with lib/csum. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw flags; configure defines it too */
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csum.h"
#include "spool.h"
#include "sums.h"

static char tmpdir[64];
static char spooldir[160];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/check_spool.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(spooldir, sizeof(spooldir), "%s/spool", tmpdir);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	char mnt[96];
	snprintf(mnt, sizeof(mnt), "%s/small", tmpdir);
	umount2(mnt, MNT_DETACH); /* test_enospc's tmpfs, if an assert left it */
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, size - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
}

/* Absolute path of replica (ino, gen) in the test spool. */
static void replica_abspath(uint64_t ino, uint64_t gen, char *buf, size_t size)
{
	char rel[64];
	ck_assert_int_gt(spool_replica_path(ino, gen, rel, sizeof(rel)), 0);
	snprintf(buf, size, "%s/%s", spooldir, rel);
}

START_TEST(test_naming)
{
	char buf[64];
	ck_assert_int_eq(spool_replica_path(0x1234, 3, buf, sizeof(buf)), 41);
	ck_assert_str_eq(buf, "data/34/0000000000001234-0000000000000003");
	spool_replica_path(UINT64_MAX, UINT64_MAX, buf, sizeof(buf));
	ck_assert_str_eq(buf, "data/ff/ffffffffffffffff-ffffffffffffffff");
	spool_replica_path(0x100, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "data/00/0000000000000100-0000000000000000");
	ck_assert_int_eq(spool_replica_path(1, 1, buf, 41), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_open_makes_buckets)
{
	struct spool *sp;
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	ck_assert_str_eq(spool_dir(sp), spooldir);
	for (int i = 0; i < 256; i++) {
		char path[256];
		struct stat st;
		snprintf(path, sizeof(path), "%s/data/%02x", spooldir, i);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert(S_ISDIR(st.st_mode));
	}
	spool_close(sp);
	/* An existing spool opens again. */
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	spool_close(sp);
}
END_TEST

START_TEST(test_create_open_remove)
{
	struct spool *sp;
	char path[256], buf[64];
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);

	int fd = spool_replica_open(sp, 0x2a5, 7, SPOOL_WRITE | SPOOL_CREATE);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "hello", 5, 0), 5);
	close(fd);
	replica_abspath(0x2a5, 7, path, sizeof(path));
	ck_assert(strstr(path, "/data/a5/00000000000002a5-0000000000000007"));
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "hello");

	/* Read-only handles cannot write. */
	fd = spool_replica_open(sp, 0x2a5, 7, SPOOL_READ);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 5);
	ck_assert_int_lt(pwrite(fd, "x", 1, 0), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);

	/* Another generation is another replica. */
	ck_assert_int_eq(spool_replica_open(sp, 0x2a5, 8, SPOOL_READ), -ENOENT);

	fd = spool_replica_open(sp, 0x2a5, 7, SPOOL_WRITE | SPOOL_TRUNC);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	close(fd);
	ck_assert_int_eq(spool_sync_bucket(sp, 0x2a5), 0);

	ck_assert_int_eq(spool_replica_remove(sp, 0x2a5, 7), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(spool_replica_remove(sp, 0x2a5, 7), -ENOENT);
	spool_close(sp);
}
END_TEST

START_TEST(test_missing_and_bad_flags)
{
	struct spool *sp;
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	ck_assert_int_eq(spool_replica_open(sp, 99, 1, SPOOL_READ), -ENOENT);
	ck_assert_int_eq(spool_replica_open(sp, 99, 1, SPOOL_WRITE), -ENOENT);
	ck_assert_int_eq(spool_replica_open(sp, 99, 1, SPOOL_CREATE), -EINVAL);
	ck_assert_int_eq(spool_replica_open(sp, 99, 1, SPOOL_READ | SPOOL_TRUNC), -EINVAL);
	ck_assert_int_eq(spool_replica_remove(sp, 99, 1), -ENOENT);
	spool_close(sp);
}
END_TEST

START_TEST(test_symlink_not_followed)
{
	struct spool *sp;
	char path[256], outside[256], buf[64];
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
	write_file(outside, "secret");
	replica_abspath(5, 1, path, sizeof(path));
	ck_assert_int_eq(symlink(outside, path), 0);

	ck_assert_int_eq(spool_replica_open(sp, 5, 1, SPOOL_READ), -ELOOP);
	ck_assert_int_eq(spool_replica_open(sp, 5, 1, SPOOL_WRITE | SPOOL_CREATE | SPOOL_TRUNC),
			 -ELOOP);
	read_file(outside, buf, sizeof(buf));
	ck_assert_str_eq(buf, "secret");
	/* Removing it removes the link, not its target. */
	ck_assert_int_eq(spool_replica_remove(sp, 5, 1), 0);
	ck_assert_int_eq(access(outside, F_OK), 0);
	spool_close(sp);
}
END_TEST

START_TEST(test_symlink_bucket_refused)
{
	struct spool *sp;
	char bucket[256], elsewhere[256];
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	spool_close(sp);
	/* Replace bucket 07 by a symlink to a directory outside the spool. */
	snprintf(bucket, sizeof(bucket), "%s/data/07", spooldir);
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", tmpdir);
	ck_assert_int_eq(mkdir(elsewhere, 0700), 0);
	ck_assert_int_eq(rmdir(bucket), 0);
	ck_assert_int_eq(symlink(elsewhere, bucket), 0);
	int rc = spool_open(spooldir, &sp);
	ck_assert(rc == -ELOOP || rc == -ENOTDIR);
}
END_TEST

START_TEST(test_fifo_refused)
{
	struct spool *sp;
	char path[256];
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	replica_abspath(6, 1, path, sizeof(path));
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* Must not block waiting for a writer. */
	ck_assert_int_eq(spool_replica_open(sp, 6, 1, SPOOL_READ), -EINVAL);
	spool_close(sp);
}
END_TEST

START_TEST(test_space)
{
	struct spool *sp;
	uint64_t cap = 0, avail = 0;
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	ck_assert_int_eq(spool_space(sp, &cap, &avail), 0);
	ck_assert_uint_gt(cap, 0);
	ck_assert_uint_le(avail, cap);
	spool_close(sp);
}
END_TEST

struct seen {
	int n;
	uint64_t ino[8], gen[8];
};

static int collect(uint64_t ino, uint64_t gen, void *arg)
{
	struct seen *s = arg;
	ck_assert_int_lt(s->n, 8);
	s->ino[s->n] = ino;
	s->gen[s->n] = gen;
	s->n++;
	return 0;
}

static int stop_at_first(uint64_t ino, uint64_t gen, void *arg)
{
	(void)ino, (void)gen;
	++*(int *)arg;
	return 42;
}

START_TEST(test_list)
{
	struct spool *sp;
	char path[256];
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	uint64_t inos[3] = {1, 0x101, 0xdeadbeefcafe};
	uint64_t gens[3] = {1, 2, 0xffffffffffffffff};
	for (int i = 0; i < 3; i++) {
		int fd = spool_replica_open(sp, inos[i], gens[i], SPOOL_WRITE | SPOOL_CREATE);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	/* Junk that must be skipped: wrong bucket, bad names, upper case. */
	snprintf(path, sizeof(path), "%s/data/02/0000000000000001-0000000000000001", spooldir);
	write_file(path, "");
	snprintf(path, sizeof(path), "%s/data/01/junk", spooldir);
	write_file(path, "");
	snprintf(path, sizeof(path), "%s/data/01/000000000000000A-0000000000000001", spooldir);
	write_file(path, "");
	snprintf(path, sizeof(path), "%s/data/01/0000000000000001-0000000000000001.tmp", spooldir);
	write_file(path, "");

	struct seen s = {0};
	ck_assert_int_eq(spool_list(sp, collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	for (int i = 0; i < 3; i++) {
		int found = 0;
		for (int j = 0; j < s.n; j++)
			if (s.ino[j] == inos[i] && s.gen[j] == gens[i])
				found++;
		ck_assert_int_eq(found, 1);
	}
	int calls = 0;
	ck_assert_int_eq(spool_list(sp, stop_at_first, &calls), 42);
	ck_assert_int_eq(calls, 1);
	spool_close(sp);
}
END_TEST

/* Sums of a replica: sealed, loaded, checked; a damaged sums file is
 * refused; listing skips them; removing the replica removes them. */
START_TEST(test_sums)
{
	struct spool *sp;
	struct sums s;
	char path[256];
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	int fd = spool_replica_open(sp, 0x42, 7, SPOOL_WRITE | SPOOL_CREATE);
	ck_assert_int_ge(fd, 0);
	size_t len = 3 * GF_CSUM_BLOCK + 1000;
	unsigned char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 31 + (i >> 9));
	ck_assert_int_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), -ENOENT); /* unsealed */
	uint64_t size = 0;
	ck_assert_int_eq(sums_seal(sp, 0x42, 7, fd, 0, &size), 0);
	ck_assert_uint_eq(size, len);
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), 0);
	ck_assert_uint_eq(s.size, len);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(gf_csum_check(buf, len, 0, s.v), 0);
	ck_assert_uint_eq(gf_csum_check(buf + GF_CSUM_BLOCK, len - GF_CSUM_BLOCK, 1, s.v + 1), 0);
	buf[2 * GF_CSUM_BLOCK + 5] ^= 1; /* one bit in block 2 */
	ck_assert_uint_eq(gf_csum_check(buf, len, 0, s.v), 3);
	ck_assert(!sums_changed(sp, 0x42, 7, &s));
	sums_free(&s);

	/* a damaged sums file: one byte of one sum */
	snprintf(path, sizeof(path), "%s/data/42/0000000000000042-0000000000000007.sum", spooldir);
	int sfd = open(path, O_RDWR);
	ck_assert_int_ge(sfd, 0);
	unsigned char b;
	ck_assert_int_eq(pread(sfd, &b, 1, 64 + 9), 1);
	b ^= 0x80;
	ck_assert_int_eq(pwrite(sfd, &b, 1, 64 + 9), 1);
	close(sfd);
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), -EBADMSG);
	/* a torn one: cut short */
	ck_assert_int_eq(truncate(path, 70), 0);
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), -EBADMSG);

	/* sealed again over the same bytes: the same sums, not a change */
	ck_assert_int_eq(sums_seal(sp, 0x42, 7, fd, 1, NULL), 0);
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), 0);
	ck_assert_int_eq(sums_seal(sp, 0x42, 7, fd, 0, NULL), 0);
	ck_assert(!sums_changed(sp, 0x42, 7, &s));
	/* over other bytes (the same size), or of another size: a change */
	ck_assert_int_eq(pwrite(fd, "!", 1, GF_CSUM_BLOCK + 3), 1);
	ck_assert_int_eq(sums_seal(sp, 0x42, 7, fd, 0, NULL), 0);
	ck_assert(sums_changed(sp, 0x42, 7, &s));
	sums_free(&s);
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)len + 1), 0);
	ck_assert_int_eq(sums_seal(sp, 0x42, 7, fd, 0, NULL), 0);
	ck_assert(sums_changed(sp, 0x42, 7, &s));
	sums_free(&s);
	/* gone, or damaged: a change too */
	ck_assert_int_eq(sums_load(sp, 0x42, 7, &s), 0);
	ck_assert_int_eq(truncate(path, 40), 0);
	ck_assert(sums_changed(sp, 0x42, 7, &s));
	ck_assert_int_eq(spool_sums_remove(sp, 0x42, 7), 0);
	ck_assert(sums_changed(sp, 0x42, 7, &s));
	sums_free(&s);
	ck_assert_int_eq(sums_seal(sp, 0x42, 7, fd, 0, NULL), 0);

	/* an empty replica has sums too: none */
	int efd = spool_replica_open(sp, 0x43, 1, SPOOL_WRITE | SPOOL_CREATE);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(sums_seal(sp, 0x43, 1, efd, 0, NULL), 0);
	ck_assert_int_eq(sums_load(sp, 0x43, 1, &s), 0);
	ck_assert_uint_eq(s.n, 0);
	sums_free(&s);
	close(efd);

	/* listing names replicas only */
	struct seen seen = {0};
	ck_assert_int_eq(spool_list(sp, collect, &seen), 0);
	ck_assert_int_eq(seen.n, 2);

	/* the replica goes, its sums with it */
	ck_assert_int_eq(spool_replica_remove(sp, 0x42, 7), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(spool_sums_remove(sp, 0x42, 7), -ENOENT);
	close(fd);
	free(buf);
	spool_close(sp);
}
END_TEST

/*
 * A replica appended to and sealed again at once, as a writer's open (which
 * removes the sums), its write and its close do: the new sums file may get
 * the old one's inode number (ext4 reuses it) and the same change time (a
 * clock tick is milliseconds). sums_changed must still tell, or a reader
 * holding the old sums takes the new size for corruption.
 */
START_TEST(test_sums_resealed_at_once)
{
	struct spool *sp;
	struct sums s;
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	int fd = spool_replica_open(sp, 0x44, 3, SPOOL_WRITE | SPOOL_CREATE);
	ck_assert_int_ge(fd, 0);
	char line[16];
	size_t len = 0;
	for (int i = 0; i < 300; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		ck_assert_int_eq(pwrite(fd, line, (size_t)n, (off_t)len), n);
		len += (size_t)n;
		ck_assert_int_eq(sums_seal(sp, 0x44, 3, fd, 0, NULL), 0);
		ck_assert_int_eq(sums_load(sp, 0x44, 3, &s), 0);
		ck_assert_uint_eq(s.size, len);
		ck_assert_int_eq(spool_sums_remove(sp, 0x44, 3), 0); /* the next writer */
		ck_assert_int_eq(pwrite(fd, "x", 1, (off_t)len), 1);
		len++;
		ck_assert_int_eq(sums_seal(sp, 0x44, 3, fd, 0, NULL), 0);
		ck_assert_msg(sums_changed(sp, 0x44, 3, &s), "round %d: a reseal not noticed", i);
		sums_free(&s);
		/* and loaded again, they are not changed */
		ck_assert_int_eq(sums_load(sp, 0x44, 3, &s), 0);
		ck_assert(!sums_changed(sp, 0x44, 3, &s));
		sums_free(&s);
	}
	close(fd);
	spool_close(sp);
}
END_TEST

START_TEST(test_enospc)
{
	char mnt[96];
	snprintf(mnt, sizeof(mnt), "%s/small", tmpdir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		fprintf(stderr, "check_spool: ENOSPC case skipped (cannot mount tmpfs: %s)\n",
			strerror(errno));
		return;
	}
	snprintf(spooldir, sizeof(spooldir), "%s/spool", mnt);
	struct spool *sp;
	int rc = spool_open(spooldir, &sp);
	int err = 0;
	if (rc == 0) {
		int fd = spool_replica_open(sp, 1, 1, SPOOL_WRITE | SPOOL_CREATE);
		static char block[64 * 1024];
		memset(block, 'x', sizeof(block));
		/* 1 MiB of tmpfs: 4 MiB of writes must run out. */
		for (off_t off = 0; fd >= 0 && off < 4 << 20; off += sizeof(block)) {
			if (pwrite(fd, block, sizeof(block), off) < 0) {
				err = errno;
				break;
			}
		}
		if (fd >= 0)
			close(fd);
		uint64_t cap = 0, avail = 1;
		spool_space(sp, &cap, &avail);
		ck_assert_uint_le(cap, 1 << 20);
		ck_assert_uint_eq(avail, 0);
		/* A full spool still removes replicas, and space comes back. */
		ck_assert_int_eq(spool_replica_remove(sp, 1, 1), 0);
		spool_space(sp, &cap, &avail);
		ck_assert_uint_gt(avail, 0);
		spool_close(sp);
	}
	umount2(mnt, MNT_DETACH);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(err, ENOSPC);
}
END_TEST

/* SPOOL/cluster_id: written for a new spool, accepted when equal, a
 * mismatch or garbage refused without touching anything. */
START_TEST(test_cluster_id)
{
	static const uint8_t a[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef,
				       0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	static const char a_text[] = "12345678-9abc-4def-8102-030405060708";
	uint8_t b[16];
	char path[256], tmp[256], buf[128], found[SPOOL_CLUSTER_ID_TEXT];
	struct spool *sp;
	struct stat st;

	memcpy(b, a, sizeof(b));
	b[15] ^= 1;
	snprintf(path, sizeof(path), "%s/cluster_id", spooldir);
	snprintf(tmp, sizeof(tmp), "%s/cluster_id.tmp", spooldir);
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	ck_assert_int_eq(stat(path, &st), -1);

	/* a new spool takes the cluster's id, as one text line, and no temp file */
	ck_assert_int_eq(spool_cluster_id_check(sp, a, NULL), 0);
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12345678-9abc-4def-8102-030405060708\n");
	ck_assert_int_eq(stat(tmp, &st), -1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* the same cluster again (and after reopening) */
	ck_assert_int_eq(spool_cluster_id_check(sp, a, NULL), 0);
	spool_close(sp);
	ck_assert_int_eq(spool_open(spooldir, &sp), 0);
	ck_assert_int_eq(spool_cluster_id_check(sp, a, found), 0);

	/* another cluster: -ESTALE, the stored id reported, the file unchanged */
	memset(found, 0, sizeof(found));
	ck_assert_int_eq(spool_cluster_id_check(sp, b, found), -ESTALE);
	ck_assert_str_eq(found, a_text);
	ck_assert_int_eq(spool_cluster_id_check(sp, b, NULL), -ESTALE);
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12345678-9abc-4def-8102-030405060708\n");

	/* upper case and no newline are the same id */
	write_file(path, "12345678-9ABC-4DEF-8102-030405060708");
	ck_assert_int_eq(spool_cluster_id_check(sp, a, NULL), 0);

	/* garbage is never taken for a match nor overwritten */
	write_file(path, "not a uuid\n");
	ck_assert_int_eq(spool_cluster_id_check(sp, a, NULL), -EBADMSG);
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "not a uuid\n");
	write_file(path, "");
	ck_assert_int_eq(spool_cluster_id_check(sp, a, NULL), -EBADMSG);

	/* a symlink in its place is not followed */
	ck_assert_int_eq(unlink(path), 0);
	char target[256];
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	write_file(target, "12345678-9abc-4def-8102-030405060708\n");
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(spool_cluster_id_check(sp, a, NULL), -ELOOP);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	spool_close(sp);
}
END_TEST

static Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_naming);
	tcase_add_test(tc, test_open_makes_buckets);
	tcase_add_test(tc, test_create_open_remove);
	tcase_add_test(tc, test_missing_and_bad_flags);
	tcase_add_test(tc, test_symlink_not_followed);
	tcase_add_test(tc, test_symlink_bucket_refused);
	tcase_add_test(tc, test_fifo_refused);
	tcase_add_test(tc, test_space);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_sums);
	tcase_add_test(tc, test_sums_resealed_at_once);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_cluster_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spool_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
