/*
 * journal.c — the journal of journal.h: a header, then length- and
 * checksum-framed records written with pwrite at the known end.
 *
 * The file is grown GROW bytes at a time, with zeros written, and records
 * overwrite them: a flush of a record then writes its pages and not the
 * file's size and blocks each time (fdatasync of an append measured 195 us
 * here, of an overwrite 140). Reading stops at the zeros (a length of 0).
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "csum.h"
#include "wire.h"

#define MAGIC "GFMDJNL1"
#define REC_HEAD 12 /* u32 len, u64 sum */
/* a record larger than this is not one of ours: a change list of a
 * mutation is a few KiB, a symlink target or xattr value at most 16 MiB */
#define REC_MAX (64u << 20)
#define GROW (1u << 20)

static const uint8_t zeros[64 << 10];

struct gf_journal {
	int fd;
	char *path;
	uint8_t id[GF_CLUSTER_ID_LEN];
	uint64_t epoch;
	uint64_t end;	/* where the next record goes */
	uint64_t alloc; /* the file's size: zeros from end to it */
	struct gf_wbuf w;
};

static int write_all(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = pwrite(fd, b, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		b += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/* n bytes at off: n, fewer at the end of the file, or -errno */
static ssize_t read_full(int fd, void *p, size_t n, off_t off)
{
	uint8_t *b = p;
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, b + got, n - got, off + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static void header(const struct gf_journal *j, uint8_t out[GF_JOURNAL_HEADER])
{
	struct gf_wbuf w;
	gf_wbuf_init_fixed(&w, out, GF_JOURNAL_HEADER);
	gf_put_raw(&w, MAGIC, 8);
	gf_put_raw(&w, j->id, GF_CLUSTER_ID_LEN);
	gf_put_u64(&w, j->epoch);
	gf_put_u64(&w, gf_csum_block(out, 32));
}

/* The header for j->epoch, then nothing: flushed to disk. */
static int rewrite(struct gf_journal *j)
{
	uint8_t h[GF_JOURNAL_HEADER];
	header(j, h);
	int rc = write_all(j->fd, h, sizeof(h), 0);
	if (!rc && ftruncate(j->fd, GF_JOURNAL_HEADER) < 0)
		rc = -errno;
	if (!rc && fdatasync(j->fd) < 0)
		rc = -errno;
	if (!rc)
		j->end = j->alloc = GF_JOURNAL_HEADER;
	return rc;
}

/* Make the file at least need bytes long, zeros written up to a multiple
 * of GROW. 0, or -errno with the file as it was. */
static int grow(struct gf_journal *j, uint64_t need)
{
	uint64_t to = (need + GROW - 1) / GROW * GROW;
	for (uint64_t off = j->alloc; off < to;) {
		size_t n = to - off < sizeof(zeros) ? (size_t)(to - off) : sizeof(zeros);
		int rc = write_all(j->fd, zeros, n, (off_t)off);
		if (rc < 0) {
			(void)!ftruncate(j->fd, (off_t)j->alloc);
			return rc;
		}
		off += n;
	}
	j->alloc = to;
	return 0;
}

/* Flush the directory holding path: a file made there is then found after
 * a crash of the machine. 0 or -errno. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int gf_journal_open(const char *path, const uint8_t id[GF_CLUSTER_ID_LEN],
		    struct gf_journal **out, char *why, size_t whysz)
{
	*out = NULL;
	why[0] = 0;
	struct gf_journal *j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		snprintf(why, whysz, "journal %s: out of memory", path);
		return -ENOMEM;
	}
	memcpy(j->id, id, GF_CLUSTER_ID_LEN);
	gf_wbuf_init(&j->w);
	int rc;
	j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		rc = -errno;
		snprintf(why, whysz, "journal %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(why, whysz, "journal %s: %s", path,
			 rc == -EBUSY ? "in use by another process (another gfmd?)"
				      : strerror(-rc));
		goto fail;
	}
	uint8_t h[GF_JOURNAL_HEADER];
	ssize_t n = read_full(j->fd, h, sizeof(h), 0);
	if (n < 0) {
		rc = (int)n;
		snprintf(why, whysz, "journal %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (n == 0) {
		if ((rc = rewrite(j)) < 0 || (rc = sync_dir(path)) < 0) {
			snprintf(why, whysz, "journal %s: cannot write its header: %s", path,
				 strerror(-rc));
			goto fail;
		}
		*out = j;
		return 0;
	}
	struct gf_rbuf r;
	gf_rbuf_init(&r, h, (size_t)n);
	uint8_t magic[8], fid[GF_CLUSTER_ID_LEN];
	gf_get_raw(&r, magic, sizeof(magic));
	gf_get_raw(&r, fid, sizeof(fid));
	uint64_t epoch = gf_get_u64(&r);
	uint64_t sum = gf_get_u64(&r);
	if (r.err || memcmp(magic, MAGIC, 8) != 0 || sum != gf_csum_block(h, 32)) {
		rc = -EINVAL;
		snprintf(why, whysz, "journal %s: not a gfmd journal (bad header); move it away "
			 "if it is not one", path);
		goto fail;
	}
	if (memcmp(fid, id, GF_CLUSTER_ID_LEN) != 0) {
		char a[37], b[37];
		uuid_unparse_lower(fid, a);
		uuid_unparse_lower(id, b);
		rc = -EXDEV;
		snprintf(why, whysz, "journal %s belongs to cluster %s, not to this database's "
			 "cluster %s", path, a, b);
		goto fail;
	}
	j->epoch = epoch;
	struct stat st;
	if (fstat(j->fd, &st) < 0) {
		rc = -errno;
		snprintf(why, whysz, "journal %s: %s", path, strerror(-rc));
		goto fail;
	}
	j->end = j->alloc = (uint64_t)st.st_size;
	*out = j;
	return 0;
fail:
	if (j->fd >= 0)
		close(j->fd);
	gf_wbuf_free(&j->w);
	free(j->path);
	free(j);
	return rc;
}

uint64_t gf_journal_epoch(const struct gf_journal *j)
{
	return j->epoch;
}

const char *gf_journal_path(const struct gf_journal *j)
{
	return j->path;
}

uint64_t gf_journal_bytes(const struct gf_journal *j)
{
	return j->end - GF_JOURNAL_HEADER;
}

/* Whether the bytes from off to size are all zero (a read error: no). */
static int all_zero(int fd, uint64_t off, uint64_t size)
{
	uint8_t b[4096];
	while (off < size) {
		size_t n = size - off < sizeof(b) ? (size_t)(size - off) : sizeof(b);
		ssize_t k = read_full(fd, b, n, (off_t)off);
		if (k <= 0)
			return 0;
		for (ssize_t i = 0; i < k; i++)
			if (b[i])
				return 0;
		off += (uint64_t)k;
	}
	return 1;
}

int gf_journal_read(struct gf_journal *j,
		    int (*apply)(void *arg, uint64_t ticket, struct gf_changes *c), void *arg,
		    uint64_t *records, uint64_t *tail_bytes)
{
	struct stat st;
	*records = 0;
	*tail_bytes = 0;
	if (fstat(j->fd, &st) < 0)
		return -EIO;
	uint64_t size = (uint64_t)st.st_size, off = GF_JOURNAL_HEADER, prev = 0;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	while (off + REC_HEAD <= size) {
		uint8_t rh[REC_HEAD];
		ssize_t n = read_full(j->fd, rh, REC_HEAD, (off_t)off);
		if (n < 0) {
			rc = -EIO;
			break;
		}
		if (n < REC_HEAD)
			break;
		struct gf_rbuf r;
		gf_rbuf_init(&r, rh, REC_HEAD);
		uint32_t len = gf_get_u32(&r);
		uint64_t sum = gf_get_u64(&r);
		if (len < 8 || len > REC_MAX || off + REC_HEAD + len > size)
			break;
		if (len > cap) {
			uint8_t *nb = realloc(buf, len);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap = len;
		}
		n = read_full(j->fd, buf, len, (off_t)(off + REC_HEAD));
		if (n < 0) {
			rc = -EIO;
			break;
		}
		if ((size_t)n < len || gf_csum_block(buf, len) != sum)
			break;
		gf_rbuf_init(&r, buf, len);
		uint64_t ticket = gf_get_u64(&r);
		if (r.err || ticket == 0 || (*records && ticket != prev + 1))
			break;
		struct gf_changes c;
		gf_changes_init(&c);
		int d = gf_changes_decode(&r, &c);
		if (d == -ENOMEM) {
			gf_changes_free(&c);
			rc = -ENOMEM;
			break;
		}
		if (d || r.off != r.len) {
			gf_changes_free(&c);
			break;
		}
		rc = apply(arg, ticket, &c);
		gf_changes_free(&c);
		if (rc < 0)
			break;
		rc = 0;
		prev = ticket;
		(*records)++;
		off += REC_HEAD + len;
	}
	free(buf);
	/* zeros after the records are space made for more, not a torn tail */
	*tail_bytes = !rc && all_zero(j->fd, off, size) ? 0 : size - off;
	j->end = j->alloc = off;
	/* a bad tail goes: nothing after it may be read as following it */
	if (!rc && off < size && ftruncate(j->fd, (off_t)off) < 0)
		rc = -EIO;
	return rc;
}

int gf_journal_append(struct gf_journal *j, uint64_t ticket, const struct gf_changes *c)
{
	struct gf_wbuf *w = &j->w;
	gf_wbuf_reset(w);
	gf_put_u32(w, 0);
	gf_put_u64(w, 0);
	gf_put_u64(w, ticket);
	gf_changes_encode(w, c);
	if (w->err)
		return w->err;
	size_t len = w->len - REC_HEAD;
	if (len > REC_MAX)
		return -EFBIG;
	struct gf_wbuf h;
	gf_wbuf_init_fixed(&h, w->data, REC_HEAD);
	gf_put_u32(&h, (uint32_t)len);
	gf_put_u64(&h, gf_csum_block(w->data + REC_HEAD, len));
	int rc = 0;
	if (j->end + w->len > j->alloc && (rc = grow(j, j->end + w->len)) < 0)
		return rc;
	rc = write_all(j->fd, w->data, w->len, (off_t)j->end);
	if (rc < 0) {
		/* no half record may stay before a later whole one; should even
		 * this fail, the half record ends the journal when it is read
		 * (the store appends nothing after a failed append) */
		(void)!ftruncate(j->fd, (off_t)j->end);
		j->alloc = j->end;
		return rc;
	}
	j->end += w->len;
	/* a big list once must not pin its buffer for the rest of the run */
	if (w->cap > (1u << 20)) {
		gf_wbuf_free(w);
		gf_wbuf_init(w);
	}
	return 0;
}

int gf_journal_sync(struct gf_journal *j)
{
	while (fdatasync(j->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int gf_journal_truncate(struct gf_journal *j)
{
	if (ftruncate(j->fd, GF_JOURNAL_HEADER) < 0)
		return -errno;
	j->end = j->alloc = GF_JOURNAL_HEADER;
	return 0;
}

int gf_journal_new_epoch(struct gf_journal *j, uint64_t epoch)
{
	uint64_t old = j->epoch;
	j->epoch = epoch;
	int rc = rewrite(j);
	if (rc < 0)
		j->epoch = old;
	return rc;
}

void gf_journal_close(struct gf_journal *j)
{
	if (!j)
		return;
	close(j->fd); /* and with it the lock */
	gf_wbuf_free(&j->w);
	free(j->path);
	free(j);
}
