#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <uuid/uuid.h>

#define SPOOL_BUCKETS 256
#define CLUSTER_ID_FILE "cluster_id"
#define CLUSTER_ID_TMP "cluster_id.tmp"

struct spool {
	char *dir;
	int dirfd;
	int datafd;
	int bucketfd[SPOOL_BUCKETS];
};

static unsigned bucket_of(uint64_t ino)
{
	return (unsigned)(ino & 0xff);
}

static void replica_name(uint64_t ino, uint64_t gen, char name[SPOOL_NAME_SIZE])
{
	snprintf(name, SPOOL_NAME_SIZE, "%016" PRIx64 "-%016" PRIx64, ino, gen);
}

int spool_replica_path(uint64_t ino, uint64_t gen, char *buf, size_t size)
{
	int n = snprintf(buf, size, "data/%02x/%016" PRIx64 "-%016" PRIx64,
			 bucket_of(ino), ino, gen);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

/* mkdir name under dirfd if missing, then open it as a directory without
 * following a symlink in its place. */
static int open_subdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int spool_open(const char *dir, struct spool **out)
{
	int rc;
	struct spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->dirfd = sp->datafd = -1;
	for (int i = 0; i < SPOOL_BUCKETS; i++)
		sp->bucketfd[i] = -1;
	sp->dir = strdup(dir);
	if (!sp->dir) {
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = open_subdir(sp->dirfd, "data");
	if (rc < 0)
		goto out;
	sp->datafd = rc;
	for (int i = 0; i < SPOOL_BUCKETS; i++) {
		char name[3];
		snprintf(name, sizeof(name), "%02x", i);
		rc = open_subdir(sp->datafd, name);
		if (rc < 0)
			goto out;
		sp->bucketfd[i] = rc;
	}
	*out = sp;
	return 0;
out:
	spool_close(sp);
	return rc;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	for (int i = 0; i < SPOOL_BUCKETS; i++)
		if (sp->bucketfd[i] >= 0)
			close(sp->bucketfd[i]);
	if (sp->datafd >= 0)
		close(sp->datafd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp->dir);
	free(sp);
}

const char *spool_dir(const struct spool *sp)
{
	return sp->dir;
}

int spool_replica_open(struct spool *sp, uint64_t ino, uint64_t gen, unsigned flags)
{
	if (!(flags & (SPOOL_READ | SPOOL_WRITE)))
		return -EINVAL;
	if ((flags & SPOOL_TRUNC) && !(flags & SPOOL_WRITE))
		return -EINVAL;
	/* O_NONBLOCK so that a fifo planted in the spool cannot hang us; it is
	 * cleared again below for the regular file we accept. */
	int oflags = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	oflags |= (flags & SPOOL_WRITE) ? O_RDWR : O_RDONLY;
	if (flags & SPOOL_CREATE)
		oflags |= O_CREAT;
	if (flags & SPOOL_TRUNC)
		oflags |= O_TRUNC;
	char name[SPOOL_NAME_SIZE];
	replica_name(ino, gen, name);
	int fd = openat(sp->bucketfd[bucket_of(ino)], name, oflags, 0600);
	if (fd < 0)
		return -errno;
	/* O_NOFOLLOW stops symlinks; anything else that is not a plain file
	 * (a fifo would block a reader, a device is not ours) is refused too. */
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		rc = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int spool_replica_size(struct spool *sp, uint64_t ino, uint64_t gen, uint64_t *size)
{
	char name[SPOOL_NAME_SIZE];
	struct stat st;
	replica_name(ino, gen, name);
	if (fstatat(sp->bucketfd[bucket_of(ino)], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

#define SUMS_SUFFIX ".sum"
#define SUMS_NAME_SIZE (SPOOL_NAME_SIZE + sizeof(SUMS_SUFFIX) - 1)

static void sums_name(uint64_t ino, uint64_t gen, char name[SUMS_NAME_SIZE])
{
	snprintf(name, SUMS_NAME_SIZE, "%016" PRIx64 "-%016" PRIx64 SUMS_SUFFIX, ino, gen);
}

int spool_replica_remove(struct spool *sp, uint64_t ino, uint64_t gen)
{
	char name[SPOOL_NAME_SIZE];
	replica_name(ino, gen, name);
	if (unlinkat(sp->bucketfd[bucket_of(ino)], name, 0) < 0)
		return -errno;
	spool_sums_remove(sp, ino, gen);
	return 0;
}

int spool_sums_open(struct spool *sp, uint64_t ino, uint64_t gen)
{
	char name[SUMS_NAME_SIZE];
	sums_name(ino, gen, name);
	int fd = openat(sp->bucketfd[bucket_of(ino)], name,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int spool_sums_remove(struct spool *sp, uint64_t ino, uint64_t gen)
{
	char name[SUMS_NAME_SIZE];
	sums_name(ino, gen, name);
	return unlinkat(sp->bucketfd[bucket_of(ino)], name, 0) < 0 ? -errno : 0;
}

int spool_sums_replace(struct spool *sp, uint64_t ino, uint64_t gen, const void *buf,
		       size_t len, int sync)
{
	int dfd = sp->bucketfd[bucket_of(ino)], rc = 0;
	char name[SUMS_NAME_SIZE], proc[64];
	int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len && !rc;) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (!rc && sync && fsync(fd) < 0)
		rc = -errno;
	sums_name(ino, gen, name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	while (!rc && linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0) {
		if (errno != EEXIST || (unlinkat(dfd, name, 0) < 0 && errno != ENOENT))
			rc = -errno;
	}
	close(fd);
	if (!rc && sync && fsync(dfd) < 0)
		rc = -errno;
	return rc;
}

int spool_tmp_open(struct spool *sp, uint64_t ino, struct spool_tmp *t)
{
	static atomic_uint seq;
	int dfd = sp->bucketfd[bucket_of(ino)];

	t->name[0] = '\0';
	t->fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (t->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	snprintf(t->name, sizeof(t->name), ".copy-%016" PRIx64 "-%d-%u", ino, (int)getpid(),
		 atomic_fetch_add(&seq, 1));
	t->fd = openat(dfd, t->name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		t->name[0] = '\0';
		return -errno;
	}
	return 0;
}

int spool_tmp_commit(struct spool *sp, struct spool_tmp *t, uint64_t ino, uint64_t gen)
{
	int dfd = sp->bucketfd[bucket_of(ino)];
	char name[SPOOL_NAME_SIZE];

	replica_name(ino, gen, name);
	if (fsync(t->fd) < 0)
		return -errno;
	spool_sums_remove(sp, ino, gen); /* of a file this one replaces */
	if (t->name[0]) {
		if (renameat(dfd, t->name, dfd, name) < 0)
			return -errno;
		t->name[0] = '\0';
	} else {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
		while (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0) {
			if (errno != EEXIST)
				return -errno;
			/* a copy gfmd never recorded (it died first) left this name */
			if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
				return -errno;
		}
	}
	return fsync(dfd) < 0 ? -errno : 0;
}

void spool_tmp_abort(struct spool *sp, struct spool_tmp *t, uint64_t ino)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->name[0])
		unlinkat(sp->bucketfd[bucket_of(ino)], t->name, 0);
	t->name[0] = '\0';
}

int spool_sync_bucket(struct spool *sp, uint64_t ino)
{
	return fsync(sp->bucketfd[bucket_of(ino)]) < 0 ? -errno : 0;
}

/* Write SPOOL/cluster_id atomically (only the registrar thread writes it,
 * and only after finding it missing). */
static int cluster_id_write(struct spool *sp, const char *text)
{
	char line[SPOOL_CLUSTER_ID_TEXT + 1];
	int len = snprintf(line, sizeof(line), "%s\n", text);
	int rc = 0;
	int fd = openat(sp->dirfd, CLUSTER_ID_TMP,
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, line, (size_t)len);
	if (n < 0)
		rc = -errno;
	else if (n != len)
		rc = -ENOSPC;
	else if (fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(sp->dirfd, CLUSTER_ID_TMP, sp->dirfd, CLUSTER_ID_FILE) < 0)
		rc = -errno;
	if (rc)
		unlinkat(sp->dirfd, CLUSTER_ID_TMP, 0);
	if (!rc && fsync(sp->dirfd) < 0)
		rc = -errno;
	return rc;
}

/* Read SPOOL/cluster_id: 0 and the id, -ENOENT, -EBADMSG, or -errno. */
static int cluster_id_read(struct spool *sp, uuid_t id, char text[SPOOL_CLUSTER_ID_TEXT])
{
	char buf[128];
	int fd = openat(sp->dirfd, CLUSTER_ID_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	ssize_t n;
	if (fstat(fd, &st) < 0)
		n = -errno;
	else if (!S_ISREG(st.st_mode))
		n = -EBADMSG;
	else if ((n = read(fd, buf, sizeof(buf) - 1)) < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (n != SPOOL_CLUSTER_ID_TEXT - 1 || uuid_parse(buf, id) != 0)
		return -EBADMSG;
	memcpy(text, buf, SPOOL_CLUSTER_ID_TEXT);
	return 0;
}

int spool_cluster_id_check(struct spool *sp, const uint8_t id[16],
			   char found[SPOOL_CLUSTER_ID_TEXT])
{
	uuid_t want, have;
	char want_text[SPOOL_CLUSTER_ID_TEXT], have_text[SPOOL_CLUSTER_ID_TEXT];
	memcpy(want, id, sizeof(want));
	uuid_unparse_lower(want, want_text);
	int rc = cluster_id_read(sp, have, have_text);
	if (rc == -ENOENT)
		return cluster_id_write(sp, want_text);
	if (rc < 0)
		return rc;
	if (uuid_compare(want, have) == 0)
		return 0;
	if (found)
		memcpy(found, have_text, SPOOL_CLUSTER_ID_TEXT);
	return -ESTALE;
}

int spool_space(struct spool *sp, uint64_t *capacity, uint64_t *free)
{
	struct statvfs vfs;
	if (fstatvfs(sp->dirfd, &vfs) < 0)
		return -errno;
	uint64_t frsize = vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize;
	*capacity = (uint64_t)vfs.f_blocks * frsize;
	*free = (uint64_t)vfs.f_bavail * frsize;
	return 0;
}

/* Exactly 16 lower-case hex digits. */
static int parse_hex16(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -EINVAL;
		x = x << 4 | d;
	}
	*v = x;
	return 0;
}

static int parse_replica_name(const char *name, uint64_t *ino, uint64_t *gen)
{
	if (strlen(name) != SPOOL_NAME_SIZE - 1 || name[16] != '-')
		return -EINVAL;
	if (parse_hex16(name, ino) < 0 || parse_hex16(name + 17, gen) < 0)
		return -EINVAL;
	return 0;
}

int spool_list(struct spool *sp, spool_list_fn fn, void *arg)
{
	int rc = 0;
	for (unsigned b = 0; b < SPOOL_BUCKETS && rc == 0; b++) {
		/* fdopendir takes the fd: give it a fresh one on the same dir. */
		int fd = openat(sp->bucketfd[b], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		DIR *d = fdopendir(fd);
		if (!d) {
			rc = -errno;
			close(fd);
			return rc;
		}
		for (;;) {
			errno = 0;
			struct dirent *de = readdir(d);
			if (!de) {
				if (errno != 0)
					rc = -errno;
				break;
			}
			uint64_t ino, gen;
			if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
				continue;
			if (parse_replica_name(de->d_name, &ino, &gen) < 0 ||
			    bucket_of(ino) != b)
				continue;
			rc = fn(ino, gen, arg);
			if (rc != 0)
				break;
		}
		closedir(d);
	}
	return rc;
}
