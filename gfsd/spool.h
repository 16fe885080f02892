/*
 * spool.h — where gfsd keeps replicas: the storage back end.
 *
 * A spool is one directory on local disk:
 *
 *     SPOOL/data/00 … SPOOL/data/ff          256 buckets
 *     SPOOL/data/XX/<ino:016x>-<gen:016x>    one replica, XX = ino & 0xff
 *     SPOOL/cluster_id                       the cluster it belongs to (a UUID)
 *
 *     SPOOL/data/XX/<ino:016x>-<gen:016x>.sum  its block checksums (sums.h)
 *
 * e.g. inode 0x1234, generation 3 is data/34/0000000000001234-0000000000000003.
 * A replica is named only by the numbers (ino, gen) from the wire, never by a
 * user path, so nothing a client sends can name a file outside the spool.
 * Every bucket is held open as a directory fd from spool_open() on, and each
 * replica is opened with openat() relative to it with O_NOFOLLOW: a symlink
 * planted in place of a replica or a bucket is refused (-ELOOP / -ENOTDIR),
 * never followed.
 *
 * All functions return 0 (or an fd) or a negative errno. A spool is safe to
 * use from many threads at once; the file system does the locking.
 */
#ifndef GFSD_SPOOL_H
#define GFSD_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* The length of a replica name "<ino:016x>-<gen:016x>" plus its NUL. */
#define SPOOL_NAME_SIZE 34

/* Open (creating what is missing, mode 0700) the spool at dir. */
int spool_open(const char *dir, struct spool **out);
void spool_close(struct spool *sp);
/* The directory given to spool_open, for logs. */
const char *spool_dir(const struct spool *sp);

/* The replica's path relative to the spool: "data/XX/<ino>-<gen>".
 * Returns the length, or -ENAMETOOLONG when buf is too small. */
int spool_replica_path(uint64_t ino, uint64_t gen, char *buf, size_t size);

/* ---- replicas ------------------------------------------------------------ */

enum spool_open_flags {
	SPOOL_READ = 1u << 0,
	SPOOL_WRITE = 1u << 1,	/* opened read-write */
	SPOOL_CREATE = 1u << 2, /* create if missing (mode 0600) */
	SPOOL_TRUNC = 1u << 3,	/* truncate to 0 (needs SPOOL_WRITE) */
};

/*
 * Open replica (ino, gen). Returns an fd (O_CLOEXEC; O_RDONLY unless
 * SPOOL_WRITE, then O_RDWR) or -ENOENT when missing and not SPOOL_CREATE,
 * -ELOOP for a symlink, -EINVAL for flags that ask for neither read nor write
 * or truncate without write.
 */
int spool_replica_open(struct spool *sp, uint64_t ino, uint64_t gen, unsigned flags);
/* The size of replica file (ino, gen): 0 and *size, -ENOENT, -errno. */
int spool_replica_size(struct spool *sp, uint64_t ino, uint64_t gen, uint64_t *size);
/* Unlink replica (ino, gen): 0 or -ENOENT or another -errno. */
int spool_replica_remove(struct spool *sp, uint64_t ino, uint64_t gen);
/*
 * A copy being made of replica ino (GFS_REPLICATE): spool_tmp_open gives an
 * unnamed file (O_TMPFILE, mode 0600, read-write) in ino's bucket — a crash
 * leaves nothing behind. spool_tmp_commit fsyncs it, names it (ino, gen) —
 * replacing a file of that name — and syncs the bucket; the fd stays the
 * caller's. A file system without O_TMPFILE gets a hidden named file
 * (".copy-…", which spool_list skips) renamed into place instead; it then
 * needs spool_tmp_abort to go when the copy fails.
 */
struct spool_tmp {
	int fd;
	char name[48]; /* "" for an unnamed (O_TMPFILE) file */
};
int spool_tmp_open(struct spool *sp, uint64_t ino, struct spool_tmp *t);
int spool_tmp_commit(struct spool *sp, struct spool_tmp *t, uint64_t ino, uint64_t gen);
/* Close t's fd and remove its hidden name, if any. */
void spool_tmp_abort(struct spool *sp, struct spool_tmp *t, uint64_t ino);

/*
 * A replica's checksum file ("<name>.sum", sums.h keeps its format).
 * spool_sums_open: a read-only fd, or -ENOENT. spool_sums_replace writes
 * buf as the whole new file under that name atomically (an unnamed file
 * linked in place; with sync, fsynced first and the bucket after).
 * spool_sums_remove: 0, or -ENOENT when there was none. spool_replica_remove
 * removes a replica's checksum file with it.
 */
int spool_sums_open(struct spool *sp, uint64_t ino, uint64_t gen);
int spool_sums_replace(struct spool *sp, uint64_t ino, uint64_t gen, const void *buf,
		       size_t len, int sync);
int spool_sums_remove(struct spool *sp, uint64_t ino, uint64_t gen);

/* fsync the bucket directory of ino, so that a created or removed replica's
 * directory entry survives a crash. */
int spool_sync_bucket(struct spool *sp, uint64_t ino);

/* ---- the cluster the spool belongs to ------------------------------------------ */

/* Length of a UUID as text ("xxxxxxxx-xxxx-...") plus its NUL. */
#define SPOOL_CLUSTER_ID_TEXT 37

/*
 * Compare id (16 bytes: gfmd's cluster id, a UUID) with SPOOL/cluster_id,
 * a line with the UUID as text. When the file is missing (a new spool) it is
 * written atomically (temporary file, fsync, rename, fsync of the spool
 * directory) and 0 returned; 0 also when it holds id. -ESTALE when it holds
 * another cluster's id (its text in found, when not NULL), -EBADMSG when it
 * holds no UUID, or another -errno. Nothing is ever removed or overwritten.
 */
int spool_cluster_id_check(struct spool *sp, const uint8_t id[16],
			   char found[SPOOL_CLUSTER_ID_TEXT]);

/* ---- space and listing ----------------------------------------------------- */

/* Size of the file system holding the spool and what is free to us (bytes). */
int spool_space(struct spool *sp, uint64_t *capacity, uint64_t *free);

/*
 * Call fn for every replica in the spool (bucket order, unsorted within a
 * bucket); names that are not replica names are skipped. A non-zero return
 * from fn stops the walk and is returned.
 */
typedef int (*spool_list_fn)(uint64_t ino, uint64_t gen, void *arg);
int spool_list(struct spool *sp, spool_list_fn fn, void *arg);

#endif
