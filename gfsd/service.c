#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "csum.h"
#include "log.h"
#include "net.h"
#include "sealer.h"
#include "sums.h"

/* More open handles than this on one connection is a client bug or abuse. */
#define MAX_HANDLES_PER_CONN 4096
/* Background sealing (sealer.h): two threads, so that one large replica
 * does not hold up the seals of the small ones closed after it. */
#define SEALER_THREADS 2

struct service {
	struct spool *sp;
	struct replicas *rs;
	service_size_fn size;
	void *size_arg;
	bool fsync_on_close;
	struct sealer *sealer; /* background sealing (sealer.h) */
	struct copy_source copy;
	void (*scan_soon)(void *arg);
	void *scan_arg;
	atomic_uint_fast64_t copies, copied_bytes, copies_failed;
	atomic_uint_fast64_t copies_followed, copy_blocks_mended;
	atomic_uint_fast64_t read_local, read_remote;
	atomic_uint_fast64_t written_local, written_remote;
	atomic_uint_fast64_t fds_passed;
	atomic_uint_fast64_t open_handles;
};

struct handle {
	uint64_t id; /* 0: free slot */
	int fd;
	uint64_t ino, gen;
	uint32_t flags;	  /* GFS_O_* it was opened with */
	uint64_t written; /* bytes received through GFS_WRITE */
	bool dirty;	  /* changed since the last fsync */
	bool created;	  /* opened with CREATE: its directory entry needs a sync */
	bool writer;	  /* counted in replicas_writer_* */
	bool fd_passed;
	bool enospc_logged;
	int8_t sums_state; /* 0: not looked for yet; 1: sums loaded; -1: none */
	struct sums sums;  /* the replica's checksums (sums.h), for reads */
};

/* A read covers whole checksum blocks: up to one more on each side. */
#define IOBUF_SIZE (GF_MAX_IO + 2 * GF_CSUM_BLOCK)

/*
 * Per-connection state. The server calls the handler for one connection
 * from one thread, one frame at a time, so this needs no lock.
 * A handle id is (open sequence << 32 | slot + 1): O(1) to find, and an id
 * from a closed handle does not match a new handle in the same slot.
 */
struct conn_state {
	struct handle *h;
	uint32_t nslots;
	uint32_t seq;
	uint8_t *iobuf; /* IOBUF_SIZE, for reads, allocated on first use */
	struct gf_wbuf out;
};

/* ---- handle table ---------------------------------------------------------- */

static struct conn_state *conn_state(struct gf_conn *conn)
{
	struct conn_state *cs = gf_conn_data(conn);
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return NULL;
		gf_wbuf_init(&cs->out);
		gf_conn_set_data(conn, cs);
	}
	return cs;
}

static struct handle *handle_find(struct conn_state *cs, uint64_t id)
{
	uint64_t slot = (id & 0xffffffffu);
	if (slot == 0 || slot > cs->nslots)
		return NULL;
	struct handle *h = &cs->h[slot - 1];
	return h->id == id ? h : NULL;
}

static struct handle *handle_alloc(struct conn_state *cs)
{
	uint32_t i;
	for (i = 0; i < cs->nslots; i++)
		if (cs->h[i].id == 0)
			break;
	if (i == cs->nslots) {
		if (cs->nslots >= MAX_HANDLES_PER_CONN)
			return NULL;
		uint32_t n = cs->nslots ? cs->nslots * 2 : 8;
		if (n > MAX_HANDLES_PER_CONN)
			n = MAX_HANDLES_PER_CONN;
		struct handle *nh = realloc(cs->h, n * sizeof(*nh));
		if (!nh)
			return NULL;
		memset(nh + cs->nslots, 0, (n - cs->nslots) * sizeof(*nh));
		cs->h = nh;
		cs->nslots = n;
	}
	if (++cs->seq == 0)
		cs->seq = 1;
	struct handle *h = &cs->h[i];
	memset(h, 0, sizeof(*h));
	h->id = (uint64_t)cs->seq << 32 | (i + 1);
	h->fd = -1;
	return h;
}

static void seal(struct service *svc, uint64_t ino, uint64_t fgen, int fd);

/*
 * Whether some open file other than gfsd's own read-only fd can still
 * write the replica: a process writing it straight through the kernel
 * (FUSE passthrough: the mount is not asked, and such a process goes on
 * writing even if its mount died), or a shared writable mapping of it. A
 * read lease is refused while the file is open for writing anywhere; it
 * is let go at once (a lease break would be signalled with SIGURG, which
 * is ignored). 0 when that cannot be told (no leases here).
 */
static int written_elsewhere(int rofd)
{
	if (fcntl(rofd, F_SETSIG, SIGURG) < 0)
		return 0;
	if (fcntl(rofd, F_SETLEASE, F_RDLCK) == 0) {
		(void)fcntl(rofd, F_SETLEASE, F_UNLCK);
		return 0;
	}
	return errno == EAGAIN || errno == EBUSY;
}

/*
 * A sealer job (sealer.h): seal once nobody can write the replica any
 * more, then let writers, readers and copies on. Sums computed while
 * someone still writes would call good data corrupt at the next read. The
 * job first trades its duplicate of the writer's fd (open for writing
 * itself) for a read-only one, then waits, doubling its pause up to a
 * second, while the replica is written elsewhere; after about 10 min
 * (or when gfsd stops) it leaves the replica unsealed instead (no sums: it
 * is read unchecked until its next writer's close, or gffsck --repair).
 */
/* pauses of 2 ms doubling to about 1 s, then of 1 s: about 10 min in all */
#define SEAL_WRITERS_TRIES (9 + 600)
static unsigned seal_job(void *arg, uint64_t ino, uint64_t fgen, int *fd, unsigned tries,
			 int last)
{
	struct service *svc = arg;
	if (tries == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
		int ro = open(path, O_RDONLY | O_CLOEXEC);
		if (ro >= 0) {
			close(*fd);
			*fd = ro;
		}
	}
	if (written_elsewhere(*fd)) {
		if (tries == 6)
			gf_info("gfsd: replica of inode %" PRIu64 " gen %" PRIu64 " is still open "
				"for writing outside gfsd (a process writing through FUSE "
				"passthrough or a mapping): sealing it once that ends",
				ino, fgen);
		if (!last && tries < SEAL_WRITERS_TRIES)
			return tries < 9 ? 2u << tries : 1000;
		gf_warn("gfsd: replica of inode %" PRIu64 " gen %" PRIu64 " is still open for "
			"writing outside gfsd %s: left unsealed (read unchecked until its next "
			"writer closes it, or gffsck --repair)",
			ino, fgen, last ? "as gfsd stops" : "after 10 min");
		spool_sums_remove(svc->sp, ino, fgen);
	} else {
		seal(svc, ino, fgen, *fd);
	}
	close(*fd);
	replicas_writer_ready(svc->rs, ino, fgen);
	return 0;
}

static void handle_free(struct service *svc, struct handle *h)
{
	if (h->writer && replicas_writer_close_last(svc->rs, h->ino, h->gen)) {
		/* the last writer: sealed in the background, from a duplicate fd
		 * (this one closes now); in this thread if that cannot be */
		int dup = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
		if (dup < 0 || sealer_submit(svc->sealer, h->ino, h->gen, dup) < 0) {
			seal(svc, h->ino, h->gen, h->fd);
			replicas_writer_ready(svc->rs, h->ino, h->gen);
		}
	}
	if (h->fd >= 0)
		close(h->fd);
	sums_free(&h->sums);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	atomic_fetch_sub(&svc->open_handles, 1);
}

static void conn_closed(struct gf_conn *conn, void *arg)
{
	struct service *svc = arg;
	struct conn_state *cs = gf_conn_data(conn);
	if (!cs)
		return;
	for (uint32_t i = 0; i < cs->nslots; i++)
		if (cs->h[i].id)
			handle_free(svc, &cs->h[i]);
	free(cs->h);
	free(cs->iobuf);
	gf_wbuf_free(&cs->out);
	free(cs);
	gf_conn_set_data(conn, NULL);
}

/* ---- helpers --------------------------------------------------------------- */

static int malformed(struct gf_conn *conn, uint16_t op)
{
	gf_warn("gfsd: %s: malformed %s", gf_conn_desc(conn), gf_op_name(op));
	return -EBADMSG;
}

static int reply_status(struct gf_conn *conn, struct gf_frame *f, int status)
{
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, status, NULL, -1);
	return 0;
}

/* Make what the handle changed durable: data, and its name if it is new. */
static int handle_sync(struct service *svc, struct handle *h)
{
	if (fsync(h->fd) < 0)
		return -errno;
	if (h->created) {
		int rc = spool_sync_bucket(svc->sp, h->ino);
		if (rc < 0)
			return rc;
		h->created = false;
	}
	h->dirty = false;
	return 0;
}

static void log_io_error(struct service *svc, struct gf_conn *conn, struct handle *h,
			 const char *what, int err)
{
	if (err == -ENOSPC) {
		if (h->enospc_logged)
			return;
		h->enospc_logged = true;
	}
	static struct gf_ratelimit rl = GF_RATELIMIT(20, 60000);
	gf_log_limited(&rl, GF_LOG_WARN,
		       "gfsd: spool %s: %s while %s replica of inode %" PRIu64 " gen %" PRIu64
		       " for %s", spool_dir(svc->sp), strerror(-err), what, h->ino, h->gen,
		       gf_conn_desc(conn));
}

/*
 * The first writer of an existing replica: bytes beyond gfmd's committed
 * size were left by a writer that never told gfmd (it crashed or lost its
 * connection) and no other writer is left that may still tell it, so they
 * go (service.h) — unless this is such a writer reclaiming its handle
 * (GFS_O_RECLAIM, cut false): they are its own, it goes on writing and
 * tells gfmd at its close. Returns fd, or a -errno with fd closed.
 */
static int agree_with_gfmd(struct service *svc, struct gf_conn *conn, int fd, uint64_t ino,
			   uint64_t gen, bool cut)
{
	uint64_t size;
	struct stat st;
	int rc = svc->size ? svc->size(svc->size_arg, ino, gen, &size) : -EAGAIN;
	if (rc == -ENOENT)
		return fd; /* unlinked while open: its writers are all there is */
	if (rc == -ESTALE) {
		static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
		gf_log_limited(&rl, GF_LOG_WARN,
			       "gfsd: %s: replica of inode %" PRIu64 " gen %" PRIu64
			       " is no longer the file's (gfmd); refusing to write it",
			       gf_conn_desc(conn), ino, gen);
		close(fd);
		return rc;
	}
	if (rc < 0) {
		gf_warn("gfsd: %s: cannot check replica of inode %" PRIu64 " gen %" PRIu64
			" with gfmd before writing it: %s; the writer may try again",
			gf_conn_desc(conn), ino, gen, strerror(-rc));
		close(fd);
		return -EAGAIN;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size > size && !cut) {
		gf_info("gfsd: %s: replica of inode %" PRIu64 " gen %" PRIu64 ": %lld bytes "
			"beyond its committed size %" PRIu64 " kept for the writer reclaiming "
			"its handle", gf_conn_desc(conn), ino, gen,
			(long long)st.st_size - (long long)size, size);
	} else if ((uint64_t)st.st_size > size) {
		if (ftruncate(fd, (off_t)size) < 0) {
			rc = -errno;
			gf_warn("gfsd: spool %s: %s cutting replica of inode %" PRIu64
				" gen %" PRIu64 " to %" PRIu64 " bytes", spool_dir(svc->sp),
				strerror(-rc), ino, gen, size);
			close(fd);
			return rc;
		}
		replicas_count(svc->rs, RC_WRITERS_CUT, 1);
		gf_info("gfsd: replica of inode %" PRIu64 " gen %" PRIu64 ": cut %lld bytes "
			"that a writer left beyond its committed size %" PRIu64, ino, gen,
			(long long)st.st_size - (long long)size, size);
	}
	return fd;
}

/* ---- operations ------------------------------------------------------------ */

static int op_open(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		   struct gf_frame *f)
{
	struct gfs_open_req req;
	if (gfs_open_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	const uint32_t known = GFS_O_READ | GFS_O_WRITE | GFS_O_CREATE | GFS_O_TRUNC |
			       GFS_O_WANT_FD | GFS_O_RECLAIM | GFS_O_APPEND | GFS_O_COPY |
			       GFS_O_FOLLOW;
	if (req.flags & ~known)
		return reply_status(conn, f, -EINVAL);
	if ((req.flags & GFS_O_COPY) &&
	    (req.flags & ~(uint32_t)(GFS_O_COPY | GFS_O_READ | GFS_O_FOLLOW)))
		return reply_status(conn, f, -EINVAL);
	if ((req.flags & GFS_O_FOLLOW) && !(req.flags & GFS_O_COPY))
		return reply_status(conn, f, -EINVAL);
	/* a copy of data a writer is changing would be neither old nor new,
	 * unless it follows the writer and mends what changed (copy.h) */
	if ((req.flags & GFS_O_COPY) && !(req.flags & GFS_O_FOLLOW) &&
	    replicas_writers(svc->rs, req.ino, req.gen) > 0)
		return reply_status(conn, f, -EBUSY);
	if ((req.flags & GFS_O_APPEND) && !(req.flags & GFS_O_WRITE))
		return reply_status(conn, f, -EINVAL);
	/* only a writer reclaims; and it never creates nor truncates again */
	bool reclaim = req.flags & GFS_O_RECLAIM;
	if (reclaim && (!(req.flags & GFS_O_WRITE) || (req.flags & (GFS_O_CREATE | GFS_O_TRUNC))))
		return reply_status(conn, f, -EINVAL);
	unsigned sflags = 0;
	if (req.flags & GFS_O_READ)
		sflags |= SPOOL_READ;
	if (req.flags & GFS_O_WRITE)
		sflags |= SPOOL_WRITE;
	if (req.flags & GFS_O_CREATE)
		sflags |= SPOOL_CREATE;
	if (req.flags & GFS_O_TRUNC)
		sflags |= SPOOL_TRUNC;

	struct handle *h = handle_alloc(cs);
	if (!h)
		return reply_status(conn, f, -EMFILE);
	bool writer = req.flags & GFS_O_WRITE, first = false;
	int rc;
	if (writer && (rc = replicas_writer_open(svc->rs, req.ino, req.gen, &first)) < 0) {
		h->id = 0;
		return reply_status(conn, f, rc);
	}
	/* Only a replica file that this open creates needs its directory
	 * synced at close: try the existing one first. */
	bool created = false;
	int fd = spool_replica_open(svc->sp, req.ino, req.gen, sflags & ~SPOOL_CREATE);
	if (fd == -ENOENT && (sflags & SPOOL_CREATE)) {
		fd = spool_replica_open(svc->sp, req.ino, req.gen, sflags);
		created = fd >= 0;
		if (created && replicas_tomb_has(svc->rs, req.ino, req.gen)) {
			/* gfmd declared this name dead (the file was unlinked while
			 * open): the data lives until its last close, nameless */
			spool_replica_remove(svc->sp, req.ino, req.gen);
			created = false;
		}
	}
	if (fd >= 0 && writer && first && !created)
		fd = agree_with_gfmd(svc, conn, fd, req.ino, req.gen, !reclaim);
	/* the first writer: no sums may describe data about to change
	 * (sums.h); their removal is made durable by the writer's fsync */
	bool unsealed = fd >= 0 && writer && first && !created &&
			spool_sums_remove(svc->sp, req.ino, req.gen) == 0;
	if (writer)
		replicas_writer_ready(svc->rs, req.ino, req.gen);
	if (fd < 0) {
		if (fd != -ENOENT && fd != -EINVAL && fd != -ESTALE && fd != -EAGAIN)
			gf_warn("gfsd: spool %s: %s opening replica of inode %" PRIu64
				" gen %" PRIu64 " for %s", spool_dir(svc->sp),
				strerror(-fd), req.ino, req.gen, gf_conn_desc(conn));
		if (writer)
			replicas_writer_close(svc->rs, req.ino, req.gen);
		h->id = 0;
		return reply_status(conn, f, fd);
	}
	struct stat st;
	if (((req.flags & GFS_O_APPEND) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND) < 0) ||
	    fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		if (writer)
			replicas_writer_close(svc->rs, req.ino, req.gen);
		h->id = 0;
		return reply_status(conn, f, rc);
	}
	h->writer = writer;
	h->fd = fd;
	h->ino = req.ino;
	h->gen = req.gen;
	h->flags = req.flags;
	/* a reclaimer may have created the file before gfsd restarted: its
	 * fsync syncs the name too */
	h->created = created || reclaim || unsealed;
	h->dirty = created || reclaim || (req.flags & GFS_O_TRUNC);
	atomic_fetch_add(&svc->open_handles, 1);

	struct gfs_open_rep rep = {
		.handle = h->id,
		.size = (uint64_t)st.st_size,
		.fd_passed = (req.flags & GFS_O_WANT_FD) && gf_conn_is_local(conn),
	};
	gf_wbuf_reset(&cs->out);
	gfs_open_rep_encode(&cs->out, &rep);
	if (cs->out.err) {
		handle_free(svc, h);
		return reply_status(conn, f, cs->out.err);
	}
	if (rep.fd_passed) {
		h->fd_passed = true;
		atomic_fetch_add(&svc->fds_passed, 1);
	}
	gf_debug("gfsd: %s: open inode %" PRIu64 " gen %" PRIu64 " flags %#x handle %#" PRIx64,
		 gf_conn_desc(conn), req.ino, req.gen, req.flags, h->id);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, rep.fd_passed ? h->fd : -1);
	return 0;
}

/* ---- checksums (sums.h) ----------------------------------------------------- */

static int pread_all(int fd, uint8_t *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break; /* end of file */
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

/* h's replica has sums to check reads against (loading them once): 1, or 0
 * to read unchecked (a writer's handle; an unsealed replica). */
static int handle_sums(struct service *svc, struct handle *h)
{
	if (h->writer)
		return 0;
	if (h->sums_state == 1)
		return 1;
	int rc = sums_load(svc->sp, h->ino, h->gen, &h->sums);
	if (rc == 0) {
		h->sums_state = 1;
		return 1;
	}
	if (rc != -ENOENT && h->sums_state == 0) {
		static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
		gf_log_limited(&rl, GF_LOG_WARN,
			       "gfsd: spool %s: checksums of replica of inode %" PRIu64 " gen %" PRIu64
			       " unreadable (%s): read unchecked; `gffsck --repair` seals it again",
			       spool_dir(svc->sp), h->ino, h->gen,
			       rc == -EBADMSG ? "damaged" : strerror(-rc));
	}
	h->sums_state = -1; /* looked for again at the next read */
	return 0;
}

/* A block of (ino, fgen) failed its checksum: counted, logged, and gfmd told
 * in the next heartbeat (it has another replica made and this one removed). */
static void corrupt(struct service *svc, const char *who, uint64_t ino, uint64_t fgen,
		    uint64_t block)
{
	char path[64];
	replicas_count(svc->rs, RC_CORRUPT, 1);
	replicas_bad_add(svc->rs, ino, fgen);
	spool_replica_path(ino, fgen, path, sizeof(path));
	static struct gf_ratelimit rl = GF_RATELIMIT(20, 60000);
	gf_log_limited(&rl, GF_LOG_ERR,
		       "gfsd: spool %s: replica %s of inode %" PRIu64 " is corrupt: block %" PRIu64
		       " (bytes %" PRIu64 "-%" PRIu64 ") fails its checksum; not served (%s); "
		       "gfmd is told", spool_dir(svc->sp), path, ino, block,
		       block * GF_CSUM_BLOCK, (block + 1) * GF_CSUM_BLOCK - 1, who);
}

/* A check failed on (ino, fgen) while it had sums s: the replica may have
 * changed legitimately since s was loaded (a writer has it; it was sealed
 * again). 1: it did (read it unchecked or with new sums), 0: it did not. */
static int changed_since(struct service *svc, uint64_t ino, uint64_t fgen,
			 const struct sums *s)
{
	return replicas_writers(svc->rs, ino, fgen) > 0 || sums_changed(svc->sp, ino, fgen, s);
}

/*
 * Read up to want bytes at off through h into cs->iobuf, checked against the
 * replica's sums when it has them: *data and *got say what to send.
 * -EBADMSG for a block that fails (corrupt() told).
 */
static int read_checked(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
			struct handle *h, uint64_t off, uint32_t want, const uint8_t **data,
			uint32_t *got)
{
	size_t n;
	int rc;
	for (int attempt = 0; attempt < 2 && handle_sums(svc, h); attempt++) {
		const struct sums *s = &h->sums;
		uint64_t bad = 0; /* the first block that fails, + 1 */
		if (off + want > s->size) {
			/* a read past the sums' end: the file must end there too */
			struct stat st;
			if (fstat(h->fd, &st) < 0)
				return -errno;
			if ((uint64_t)st.st_size > s->size ||
			    (off >= s->size && (uint64_t)st.st_size != s->size))
				bad = s->n + 1; /* another size than its sums say */
			else if (off >= s->size) {
				*data = cs->iobuf;
				*got = 0;
				return 0;
			}
		}
		if (!bad) {
			uint64_t end = off + want < s->size ? off + want : s->size;
			uint64_t a = off - off % GF_CSUM_BLOCK;
			uint64_t b = end + (GF_CSUM_BLOCK - end % GF_CSUM_BLOCK) % GF_CSUM_BLOCK;
			if (b > s->size)
				b = s->size;
			if ((rc = pread_all(h->fd, cs->iobuf, b - a, a, &n)) < 0)
				return rc;
			bad = n < b - a ? (a + n) / GF_CSUM_BLOCK + 1
					: gf_csum_check(cs->iobuf, n, a / GF_CSUM_BLOCK,
							s->v + a / GF_CSUM_BLOCK);
			if (!bad) {
				*data = cs->iobuf + (off - a);
				*got = (uint32_t)(end - off);
				return 0;
			}
		}
		/* a block or the size differs: rewritten since the sums were
		 * loaded (load the new ones, and look again), or corrupt */
		if (!changed_since(svc, h->ino, h->gen, s)) {
			corrupt(svc, gf_conn_desc(conn), h->ino, h->gen, bad - 1);
			return -EBADMSG;
		}
		sums_free(&h->sums);
		h->sums_state = 0;
	}
	/* no sums (being written, or unsealed): as it is */
	if ((rc = pread_all(h->fd, cs->iobuf, want, off, &n)) < 0)
		return rc;
	*data = cs->iobuf;
	*got = (uint32_t)n;
	return 0;
}

/* Seal replica (ino, fgen) through fd, for its last writer (sums.h). */
static void seal(struct service *svc, uint64_t ino, uint64_t fgen, int fd)
{
	uint64_t size = 0;
	int rc = sums_seal(svc->sp, ino, fgen, fd, svc->fsync_on_close, &size);
	if (rc == 0 && spool_replica_size(svc->sp, ino, fgen, &size) == -ENOENT) {
		/* its name went meanwhile (removed, or never had one): so do they */
		spool_sums_remove(svc->sp, ino, fgen);
		return;
	}
	if (rc == 0) {
		replicas_count(svc->rs, RC_SEALED, 1);
		return;
	}
	static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
	gf_log_limited(&rl, GF_LOG_WARN,
		       "gfsd: spool %s: %s writing the checksums of replica of inode %" PRIu64
		       " gen %" PRIu64 ": it is read unchecked until `gffsck --repair` seals it",
		       spool_dir(svc->sp), strerror(-rc), ino, fgen);
}

static int op_read(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		   struct gf_frame *f)
{
	struct gfs_read_req req;
	if (gfs_read_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h)
		return reply_status(conn, f, -EBADF);
	if (req.offset > INT64_MAX - GF_MAX_IO)
		return reply_status(conn, f, -EINVAL);
	uint32_t want = req.len < GF_MAX_IO ? req.len : GF_MAX_IO, got = 0;
	if (!cs->iobuf && !(cs->iobuf = malloc(IOBUF_SIZE)))
		return reply_status(conn, f, -ENOMEM);
	const uint8_t *data = NULL;
	int rc = read_checked(svc, conn, cs, h, req.offset, want, &data, &got);
	if (rc < 0) {
		if (rc != -EBADMSG)
			log_io_error(svc, conn, h, "reading", rc);
		return reply_status(conn, f, rc);
	}
	atomic_fetch_add(gf_conn_is_local(conn) ? &svc->read_local : &svc->read_remote, got);
	/* a copy reads on in order, one request at a time on this
	 * connection: the disk reads ahead while this piece travels */
	if ((h->flags & GFS_O_COPY) && got == want)
		(void)posix_fadvise(h->fd, (off_t)(req.offset + got), 4 * (off_t)GF_MAX_IO,
				    POSIX_FADV_WILLNEED);
	struct gfs_read_rep rep = { .len = got, .data = data };
	gf_wbuf_reset(&cs->out);
	gfs_read_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

/* GFS_SUMS: the sums a reader through a passed fd checks against. */
static int op_sums(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		   struct gf_frame *f)
{
	struct gfs_sums_req req;
	if (gfs_sums_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h)
		return reply_status(conn, f, -EBADF);
	struct gfs_sums_rep rep = { .block = GF_CSUM_BLOCK, .first = req.first };
	/* a copy compares every block with these: it waits for a seal under
	 * way; a reader reads unchecked meanwhile and asks again (pending) */
	if (h->flags & GFS_O_COPY)
		replicas_wait_sealed(svc->rs, h->ino, h->gen);
	if (!h->writer && h->sums_state == 1 && sums_changed(svc->sp, h->ino, h->gen, &h->sums)) {
		sums_free(&h->sums);
		h->sums_state = 0;
	}
	if (!handle_sums(svc, h)) {
		rep.pending = !h->writer && replicas_sealing(svc->rs, h->ino, h->gen);
	} else {
		rep.sealed = 1;
		rep.size = h->sums.size;
		uint64_t max = req.count < GFS_SUMS_MAX ? req.count : GFS_SUMS_MAX;
		if (req.first < h->sums.n) {
			uint64_t left = h->sums.n - req.first;
			rep.count = (uint32_t)(left < max ? left : max);
			rep.sums = h->sums.v + req.first;
		}
	}
	gf_wbuf_reset(&cs->out);
	gfs_sums_rep_encode(&cs->out, &rep);
	if (cs->out.err)
		return reply_status(conn, f, cs->out.err);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int op_write(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		    struct gf_frame *f)
{
	struct gfs_write_req req;
	if (gfs_write_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h || !(h->flags & GFS_O_WRITE))
		return reply_status(conn, f, -EBADF);
	if (req.offset > INT64_MAX || req.len > INT64_MAX - req.offset)
		return reply_status(conn, f, -EFBIG);
	uint32_t done = 0;
	int rc = 0;
	while (done < req.len) {
		ssize_t n = pwrite(h->fd, req.data + done, req.len - done,
				   (off_t)(req.offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		done += (uint32_t)n;
	}
	if (done > 0) {
		h->dirty = true;
		h->written += done;
		atomic_fetch_add(gf_conn_is_local(conn) ? &svc->written_local
							: &svc->written_remote, done);
	}
	if (rc < 0) {
		log_io_error(svc, conn, h, "writing", rc);
		return reply_status(conn, f, rc);
	}
	struct gfs_write_rep rep = { .written = done, .end = req.offset + done };
	struct stat st;
	if ((h->flags & GFS_O_APPEND) && fstat(h->fd, &st) == 0)
		rep.end = (uint64_t)st.st_size; /* pwrite appended (O_APPEND) */
	gf_wbuf_reset(&cs->out);
	gfs_write_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int op_truncate(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		       struct gf_frame *f)
{
	struct gfs_truncate_req req;
	if (gfs_truncate_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h || !(h->flags & GFS_O_WRITE))
		return reply_status(conn, f, -EBADF);
	if (req.size > INT64_MAX)
		return reply_status(conn, f, -EFBIG);
	if (ftruncate(h->fd, (off_t)req.size) < 0) {
		int rc = -errno;
		log_io_error(svc, conn, h, "truncating", rc);
		return reply_status(conn, f, rc);
	}
	h->dirty = true;
	return reply_status(conn, f, 0);
}

static int op_fallocate(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
			struct gf_frame *f)
{
	struct gfs_fallocate_req req;
	if (gfs_fallocate_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h || !(h->flags & GFS_O_WRITE))
		return reply_status(conn, f, -EBADF);
	if (!gf_falloc_mode_ok(req.mode))
		return reply_status(conn, f, -EOPNOTSUPP);
	if (req.length == 0 || req.offset > INT64_MAX || req.length > INT64_MAX - req.offset)
		return reply_status(conn, f, req.length == 0 ? -EINVAL : -EFBIG);
	_Static_assert(GF_FALLOC_KEEP_SIZE == FALLOC_FL_KEEP_SIZE &&
			       GF_FALLOC_PUNCH_HOLE == FALLOC_FL_PUNCH_HOLE &&
			       GF_FALLOC_ZERO_RANGE == FALLOC_FL_ZERO_RANGE,
		       "the wire's fallocate modes are Linux's");
	if (fallocate(h->fd, (int)req.mode, (off_t)req.offset, (off_t)req.length) < 0) {
		int rc = -errno;
		if (rc != -EOPNOTSUPP && rc != -ENOSPC)
			log_io_error(svc, conn, h, "allocating", rc);
		return reply_status(conn, f, rc);
	}
	h->dirty = true;
	return reply_status(conn, f, 0);
}

static int op_seek(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		   struct gf_frame *f)
{
	struct gfs_seek_req req;
	if (gfs_seek_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h)
		return reply_status(conn, f, -EBADF);
	if (req.offset > INT64_MAX)
		return reply_status(conn, f, -ENXIO);
	off_t at = lseek(h->fd, (off_t)req.offset,
			 req.whence == GF_SEEK_DATA ? SEEK_DATA : SEEK_HOLE);
	if (at < 0)
		return reply_status(conn, f, -errno);
	struct gfs_seek_rep rep = { .offset = (uint64_t)at };
	gf_wbuf_reset(&cs->out);
	gfs_seek_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int op_fstat(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		    struct gf_frame *f)
{
	struct gfs_handle_req req;
	if (gfs_handle_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h)
		return reply_status(conn, f, -EBADF);
	struct stat st;
	if (fstat(h->fd, &st) < 0)
		return reply_status(conn, f, -errno);
	struct gfs_fstat_rep rep = { .size = (uint64_t)st.st_size, .blocks = (uint64_t)st.st_blocks };
	gf_wbuf_reset(&cs->out);
	gfs_fstat_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int op_fsync(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		    struct gf_frame *f)
{
	struct gfs_handle_req req;
	if (gfs_handle_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h)
		return reply_status(conn, f, -EBADF);
	int rc = handle_sync(svc, h);
	if (rc < 0)
		log_io_error(svc, conn, h, "syncing", rc);
	return reply_status(conn, f, rc);
}

static int op_close(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		    struct gf_frame *f)
{
	struct gfs_close_req req;
	if (gfs_close_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	struct handle *h = handle_find(cs, req.handle);
	if (!h)
		return reply_status(conn, f, -EBADF);
	/* Bytes moved through a passed fd: only a handle whose fd was passed
	 * can have any, so a remote client cannot inflate the local counters. */
	if (h->fd_passed) {
		atomic_fetch_add(&svc->read_local, req.local_read);
		atomic_fetch_add(&svc->written_local, req.local_written);
	}
	if (req.local_written > 0)
		h->dirty = true;
	int rc = 0;
	if (h->dirty && svc->fsync_on_close) {
		rc = handle_sync(svc, h);
		if (rc < 0)
			log_io_error(svc, conn, h, "syncing on close", rc);
	}
	gf_debug("gfsd: %s: close handle %#" PRIx64 " (inode %" PRIu64 " gen %" PRIu64
		 ", %" PRIu64 " bytes written, %" PRIu64 " local)", gf_conn_desc(conn),
		 h->id, h->ino, h->gen, h->written, req.local_written);
	handle_free(svc, h);
	return reply_status(conn, f, rc);
}

void service_stats(struct service *svc, struct gfs_stats_rep *st)
{
	memset(st, 0, sizeof(*st));
	st->read_local = atomic_load(&svc->read_local);
	st->read_remote = atomic_load(&svc->read_remote);
	st->written_local = atomic_load(&svc->written_local);
	st->written_remote = atomic_load(&svc->written_remote);
	st->fds_passed = atomic_load(&svc->fds_passed);
	st->open_handles = atomic_load(&svc->open_handles);
	spool_space(svc->sp, &st->capacity, &st->free);
	st->heartbeats = replicas_counter(svc->rs, RC_HEARTBEATS);
	st->dead_removed = replicas_counter(svc->rs, RC_DEAD_REMOVED);
	st->orphans_removed = replicas_counter(svc->rs, RC_ORPHANS_REMOVED);
	st->writers_cut = replicas_counter(svc->rs, RC_WRITERS_CUT);
	st->sealed = replicas_counter(svc->rs, RC_SEALED);
	st->corrupt = replicas_counter(svc->rs, RC_CORRUPT);
	st->corrupt_reported = replicas_counter(svc->rs, RC_CORRUPT_REPORTED);
	st->copies = atomic_load(&svc->copies);
	st->copies_followed = atomic_load(&svc->copies_followed);
	st->copy_blocks_mended = atomic_load(&svc->copy_blocks_mended);
	st->sealing = sealer_pending(svc->sealer);
}

static int op_stats(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		    struct gf_frame *f)
{
	if (f->hdr.len != 0)
		return malformed(conn, f->hdr.op);
	struct gfs_stats_rep rep;
	service_stats(svc, &rep);
	gf_wbuf_reset(&cs->out);
	gfs_stats_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

/* ---- dispatch -------------------------------------------------------------- */

/* GFS_REPLICATE: gfmd asks for a copy of another gfsd's replica (copy.h). */
static int op_replicate(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
			struct gf_frame *f)
{
	struct gfs_replicate_req req;
	if (gfs_replicate_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	if (gf_conn_peer_kind(conn) != GF_PEER_GFMD)
		return reply_status(conn, f, -EPERM);
	if (!svc->copy.key)
		return reply_status(conn, f, -ENOSYS);
	struct gfs_replicate_rep rep = { 0 };
	uint64_t mended = 0;
	int rc = copy_replica(&svc->copy, svc->sp, &req, &rep.bytes, &mended);
	atomic_fetch_add(&svc->copy_blocks_mended, mended);
	if (rc < 0) {
		atomic_fetch_add(&svc->copies_failed, 1);
		gf_log(rc == -EBUSY ? GF_LOG_INFO : GF_LOG_WARN,
		       "gfsd: copy of inode %" PRIu64 " (file generation %" PRIu64 ") from %s:%u "
		       "for %s failed: %s", req.ino, req.src_fgen, req.src_addr, req.src_port,
		       gf_conn_desc(conn), strerror(-rc));
		return reply_status(conn, f, rc);
	}
	atomic_fetch_add(&svc->copies, 1);
	if (req.flags & GFS_REP_FOLLOW)
		atomic_fetch_add(&svc->copies_followed, 1);
	atomic_fetch_add(&svc->copied_bytes, rep.bytes);
	gf_info("gfsd: copied inode %" PRIu64 " (%" PRIu64 " bytes) from %s:%u as file "
		"generation %#" PRIx64, req.ino, rep.bytes, req.src_addr, req.src_port, req.fgen);
	gf_wbuf_reset(&cs->out);
	gfs_replicate_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int admin_peer(struct gf_conn *conn)
{
	uint8_t k = gf_conn_peer_kind(conn);
	return k == GF_PEER_ADMIN || k == GF_PEER_GFMD;
}

struct list_acc {
	struct spool *sp;
	struct gfs_list_ent *v;
	size_t n, cap;
	uint64_t after_ino, after_fgen;
};

static int list_one(uint64_t ino, uint64_t gen, void *arg)
{
	struct list_acc *a = arg;
	if (ino < a->after_ino || (ino == a->after_ino && gen <= a->after_fgen))
		return 0;
	uint64_t size = 0;
	if (spool_replica_size(a->sp, ino, gen, &size) < 0)
		return 0; /* gone meanwhile */
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		struct gfs_list_ent *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct gfs_list_ent){ ino, gen, size };
	return 0;
}

static int ent_cmp(const void *x, const void *y)
{
	const struct gfs_list_ent *a = x, *b = y;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return a->fgen < b->fgen ? -1 : a->fgen > b->fgen;
}

/* GFS_LIST: the spool as it is, for gffsck. */
static int op_list(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		   struct gf_frame *f)
{
	struct gfs_list_req req;
	if (gfs_list_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	if (!admin_peer(conn))
		return reply_status(conn, f, -EPERM);
	uint32_t max = req.max == 0 || req.max > GFS_LIST_MAX ? GFS_LIST_MAX : req.max;
	struct list_acc a = { .sp = svc->sp, .after_ino = req.after_ino,
			      .after_fgen = req.after_fgen };
	int rc = spool_list(svc->sp, list_one, &a);
	if (rc < 0) {
		free(a.v);
		return reply_status(conn, f, rc);
	}
	if (a.n > 1)
		qsort(a.v, a.n, sizeof(*a.v), ent_cmp);
	struct gfs_list_rep rep = { .count = a.n > max ? max : (uint32_t)a.n,
				    .eof = a.n <= max, .ents = a.v };
	gf_wbuf_reset(&cs->out);
	gfs_list_rep_encode(&cs->out, &rep);
	free(a.v);
	if (cs->out.err)
		return reply_status(conn, f, cs->out.err);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int op_orphan_scan(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
			  struct gf_frame *f)
{
	if (f->hdr.len != 0)
		return malformed(conn, f->hdr.op);
	if (!admin_peer(conn))
		return reply_status(conn, f, -EPERM);
	if (!svc->scan_soon)
		return reply_status(conn, f, -ENOSYS);
	svc->scan_soon(svc->scan_arg);
	gf_info("gfsd: %s asked for an orphan scan", gf_conn_desc(conn));
	return reply_status(conn, f, 0);
}

/* GFS_VERIFY: check a whole replica (gffsck), or seal one left unsealed. */
static int verify(struct service *svc, const struct gfs_verify_req *req, const char *who,
		  struct gfs_verify_rep *rep)
{
	int fd = spool_replica_open(svc->sp, req->ino, req->fgen, SPOOL_READ);
	if (fd < 0)
		return fd;
	struct stat st;
	struct sums s;
	uint64_t *v = NULL;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc < 0)
		goto out;
	rep->size = (uint64_t)st.st_size;
	replicas_wait_sealed(svc->rs, req->ino, req->fgen);
	if (replicas_writers(svc->rs, req->ino, req->fgen) > 0) {
		rep->state = GFS_VERIFY_WRITING;
		goto out;
	}
	rc = sums_load(svc->sp, req->ino, req->fgen, &s);
	if (rc == -ENOENT || rc == -EBADMSG) {
		rc = 0;
		rep->state = GFS_VERIFY_UNSEALED;
		if (!(req->flags & GFS_VERIFY_SEAL))
			goto out;
		if (!replicas_seal_begin(svc->rs, req->ino, req->fgen)) {
			rep->state = GFS_VERIFY_WRITING;
			goto out;
		}
		rc = sums_seal(svc->sp, req->ino, req->fgen, fd, 1, &rep->size);
		replicas_writer_ready(svc->rs, req->ino, req->fgen);
		if (rc == 0) {
			replicas_count(svc->rs, RC_SEALED, 1);
			rep->state = GFS_VERIFY_SEALED_NOW;
			gf_info("gfsd: replica of inode %" PRIu64 " gen %" PRIu64 " sealed "
				"(%" PRIu64 " bytes) for %s", req->ino, req->fgen, rep->size, who);
		}
		goto out;
	}
	if (rc < 0)
		goto out;
	uint64_t bad = 0;
	if (s.size != (uint64_t)st.st_size) {
		bad = (s.size < (uint64_t)st.st_size ? s.size : (uint64_t)st.st_size) /
			      GF_CSUM_BLOCK + 1;
	} else if (!(v = malloc((s.n ? s.n : 1) * sizeof(*v)))) {
		rc = -ENOMEM;
	} else if ((rc = sums_compute(fd, s.size, v)) == 0) {
		for (uint64_t i = 0; i < s.n && !bad; i++)
			if (v[i] != s.v[i])
				bad = i + 1;
	}
	if (rc == 0 && bad && changed_since(svc, req->ino, req->fgen, &s)) {
		rep->state = GFS_VERIFY_WRITING; /* rewritten meanwhile: ask again */
	} else if (rc == 0 && bad) {
		rep->state = GFS_VERIFY_CORRUPT;
		rep->bad_block = bad - 1;
		corrupt(svc, who, req->ino, req->fgen, bad - 1);
	}
	sums_free(&s);
out:
	free(v);
	close(fd);
	return rc;
}

static int op_verify(struct service *svc, struct gf_conn *conn, struct conn_state *cs,
		     struct gf_frame *f)
{
	struct gfs_verify_req req;
	if (gfs_verify_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	if (!admin_peer(conn))
		return reply_status(conn, f, -EPERM);
	if (req.flags & ~GFS_VERIFY_SEAL)
		return reply_status(conn, f, -EINVAL);
	struct gfs_verify_rep rep = { 0 };
	int rc = verify(svc, &req, gf_conn_desc(conn), &rep);
	if (rc < 0)
		return reply_status(conn, f, rc);
	gf_wbuf_reset(&cs->out);
	gfs_verify_rep_encode(&cs->out, &rep);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, &cs->out, -1);
	return 0;
}

static int handle_frame(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct service *svc = arg;
	struct conn_state *cs = conn_state(conn);
	if (!cs)
		return reply_status(conn, f, -ENOMEM);
	switch (f->hdr.op) {
	case GFS_OPEN: return op_open(svc, conn, cs, f);
	case GFS_READ: return op_read(svc, conn, cs, f);
	case GFS_WRITE: return op_write(svc, conn, cs, f);
	case GFS_TRUNCATE: return op_truncate(svc, conn, cs, f);
	case GFS_FSYNC: return op_fsync(svc, conn, cs, f);
	case GFS_CLOSE: return op_close(svc, conn, cs, f);
	case GFS_STATS: return op_stats(svc, conn, cs, f);
	case GFS_FALLOCATE: return op_fallocate(svc, conn, cs, f);
	case GFS_SEEK: return op_seek(svc, conn, cs, f);
	case GFS_FSTAT: return op_fstat(svc, conn, cs, f);
	case GFS_REPLICATE: return op_replicate(svc, conn, cs, f);
	case GFS_LIST: return op_list(svc, conn, cs, f);
	case GFS_ORPHAN_SCAN: return op_orphan_scan(svc, conn, cs, f);
	case GFS_SUMS: return op_sums(svc, conn, cs, f);
	case GFS_VERIFY: return op_verify(svc, conn, cs, f);
	default:
		gf_debug("gfsd: %s: unsupported op %u", gf_conn_desc(conn), f->hdr.op);
		return reply_status(conn, f, -ENOSYS);
	}
}

int service_new(const struct service_config *cfg, struct service **out)
{
	struct service *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	svc->sp = cfg->sp;
	svc->rs = cfg->rs;
	svc->size = cfg->size;
	svc->size_arg = cfg->size_arg;
	svc->fsync_on_close = cfg->fsync_on_close;
	svc->copy.key = cfg->key;
	svc->scan_soon = cfg->scan_soon;
	svc->scan_arg = cfg->scan_arg;
	svc->copy.my_host = cfg->hostname;
	int rc = sealer_start(seal_job, svc, SEALER_THREADS, cfg->seal_gate, &svc->sealer);
	if (rc < 0) {
		free(svc);
		return rc;
	}
	*out = svc;
	return 0;
}

void service_free(struct service *svc)
{
	if (!svc)
		return;
	sealer_stop(svc->sealer); /* what is queued is sealed first */
	free(svc);
}

void service_server_ops(struct service *svc, struct gf_server_ops *ops)
{
	ops->handle = handle_frame;
	ops->closed = conn_closed;
	ops->arg = svc;
}
