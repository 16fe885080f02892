#include "copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csum.h"
#include "log.h"
#include "rpc.h"
#include "sums.h"
#include "wire.h"
#include "clock.h"

struct job {
	struct gf_rpc *rpc;
	uint64_t handle, size;
	int fd, dfd; /* the copy's file; dfd: the same, O_DIRECT (or -1) */
	uint64_t *sums;		   /* of what arrived, one per GF_CSUM_BLOCK */
	atomic_uint_fast64_t next; /* offset of the next piece to fetch */
	atomic_int err;		   /* the first error, 0 while all is well */
};

static void fail(struct job *j, int e)
{
	int zero = 0;
	atomic_compare_exchange_strong(&j->err, &zero, e);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zeros[4096];
	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		if (memcmp(p, zeros, k) != 0)
			return false;
		p += k;
		n -= k;
	}
	return true;
}

/*
 * The copy's file is written around the page cache where it can be (dfd,
 * O_DIRECT: an aligned part through a bounce buffer), the rest through fd:
 * a new replica is not read back soon, and filling the page cache with it
 * cost more CPU here than the network copy (profiled: a 1 GiB copy beside
 * a 1 GiB write spent most of gfsd's time in the kernel's page-cache copy).
 */
#define DIO_ALIGN 4096u

static int open_direct(int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

static uint8_t *bounce_new(int dfd)
{
	void *p = NULL;
	if (dfd < 0 || posix_memalign(&p, DIO_ALIGN, GF_MAX_IO) != 0)
		return NULL;
	return p;
}

static int put(int fd, int dfd, uint8_t *bounce, const uint8_t *p, size_t len, uint64_t off)
{
	size_t done = 0;
	if (dfd >= 0 && bounce && off % DIO_ALIGN == 0) {
		size_t al = len - len % DIO_ALIGN;
		while (done < al) {
			size_t k = al - done < GF_MAX_IO ? al - done : GF_MAX_IO;
			memcpy(bounce, p + done, k);
			ssize_t n = pwrite(dfd, bounce, k, (off_t)(off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EINVAL)
				break; /* not for this file system after all: as usual */
			if (n < 0)
				return -errno;
			done += (size_t)n;
			if ((size_t)n % DIO_ALIGN)
				break;
		}
	}
	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done, (off_t)(off + done));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

static int call(struct gf_rpc *rpc, uint16_t op, struct gf_wbuf *w, struct gf_reply *rep)
{
	int rc = w->err ? w->err : gf_rpc_call_status(rpc, op, w, rep);
	gf_wbuf_free(w);
	return rc == -ENOTCONN || rc == -ETIMEDOUT ? -EHOSTDOWN : rc;
}

/* GFS_READ of len bytes at off: 0 with *rr pointing into *rep (release it). */
static int fetch(struct gf_rpc *rpc, uint64_t handle, uint64_t off, uint32_t len,
		 struct gf_reply *rep, struct gfs_read_rep *rr)
{
	struct gfs_read_req rq = { .handle = handle, .offset = off, .len = len };
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gfs_read_req_encode(&w, &rq);
	int rc = call(rpc, GFS_READ, &w, rep);
	if (rc < 0)
		return rc;
	if ((rc = gfs_read_rep_decode(rep->payload, rep->len, rr)) < 0)
		gf_reply_release(rep);
	return rc;
}

/* GFS_SUMS from block first, at most count: 0 and *sr (gfs_sums_rep_free). */
static int fetch_sums(struct gf_rpc *rpc, uint64_t handle, uint64_t first, uint32_t count,
		      struct gfs_sums_rep *sr)
{
	struct gfs_sums_req q = { .handle = handle, .first = first, .count = count };
	struct gf_reply rep;
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gfs_sums_req_encode(&w, &q);
	int rc = call(rpc, GFS_SUMS, &w, &rep);
	if (rc < 0)
		return rc;
	rc = gfs_sums_rep_decode(rep.payload, rep.len, sr);
	gf_reply_release(&rep);
	return rc;
}

/* A piece of the copy that arrived at off: its blocks' sums into sums, its
 * bytes into the file (zeros stay a hole: nothing was written there yet,
 * and the final ftruncate covers one at the end). */
static int store(int fd, int dfd, uint8_t *bounce, uint64_t *sums, const uint8_t *p,
		 uint32_t len, uint64_t off)
{
	_Static_assert(GF_MAX_IO % GF_CSUM_BLOCK == 0, "pieces are whole blocks");
	for (uint32_t b = 0; b < len; b += GF_CSUM_BLOCK)
		sums[(off + b) / GF_CSUM_BLOCK] =
			gf_csum_block(p + b, len - b < GF_CSUM_BLOCK ? len - b : GF_CSUM_BLOCK);
	return all_zero(p, len) ? 0 : put(fd, dfd, bounce, p, len, off);
}

/* One stream: fetch the next piece until none is left or something failed. */
static void *stream(void *arg)
{
	struct job *j = arg;
	uint8_t *bounce = bounce_new(j->dfd);
	for (;;) {
		uint64_t off = atomic_fetch_add(&j->next, GF_MAX_IO);
		if (off >= j->size || atomic_load(&j->err))
			break;
		uint32_t want = j->size - off < GF_MAX_IO ? (uint32_t)(j->size - off) : GF_MAX_IO;
		struct gf_reply rep;
		struct gfs_read_rep rr;
		int rc = fetch(j->rpc, j->handle, off, want, &rep, &rr);
		if (rc < 0) {
			fail(j, rc);
			break;
		}
		if (rr.len != want)
			rc = -EIO; /* the source is shorter than gfmd's size */
		else
			rc = store(j->fd, j->dfd, bounce, j->sums, rr.data, want, off);
		gf_reply_release(&rep);
		if (rc < 0) {
			fail(j, rc);
			break;
		}
	}
	free(bounce);
	return NULL;
}

/* Block b of the source again, written over the copy's whatever it holds
 * (zeros too: the block held data before), and its sum into have[b]. */
static int refetch(struct gf_rpc *rpc, uint64_t handle, int fd, uint64_t size, uint64_t b,
		   uint64_t *have)
{
	uint64_t off = b * GF_CSUM_BLOCK;
	uint32_t want = size - off < GF_CSUM_BLOCK ? (uint32_t)(size - off) : GF_CSUM_BLOCK;
	struct gfs_read_rep rr;
	struct gf_reply rep;
	int rc = fetch(rpc, handle, off, want, &rep, &rr);
	if (rc < 0)
		return rc;
	if (rr.len != want)
		rc = -EBUSY; /* changed again under us: the copy after the close */
	else
		rc = put(fd, -1, NULL, rr.data, want, off);
	if (rc == 0)
		have[b] = gf_csum_block(rr.data, want);
	gf_reply_release(&rep);
	return rc;
}

/*
 * What arrived against the source's own sums (GFS_SUMS), when it has them:
 * the source checked every block it sent, so a difference here was made on
 * the way (network, memory). 0, or -EIO for a difference.
 * With mended (a copy that followed a writer): a block that differs was
 * rewritten after it was copied; it is fetched again (fd), counted in
 * *mended, and must match then. A source without sums then is being
 * written again: -EBUSY.
 */
static int compare_sums(struct gf_rpc *rpc, uint64_t handle, uint64_t ino, uint64_t size,
			uint64_t *have, int fd, uint64_t *mended)
{
	uint64_t n = gf_csum_nblocks(size);
	for (uint64_t first = 0; first < n;) {
		struct gfs_sums_rep sr;
		int rc = fetch_sums(rpc, handle, first, GFS_SUMS_MAX, &sr);
		if (rc < 0)
			return rc;
		if (!sr.sealed) {
			gfs_sums_rep_free(&sr);
			return mended ? -EBUSY : 0; /* nothing to compare with */
		}
		if (sr.size != size || sr.first != first || sr.count == 0) {
			gfs_sums_rep_free(&sr);
			return mended ? -EBUSY : -EIO;
		}
		for (uint32_t i = 0; i < sr.count && first + i < n; i++) {
			if (mended && sr.sums[i] != have[first + i]) {
				int rc = refetch(rpc, handle, fd, size, first + i, have);
				if (rc < 0) {
					gfs_sums_rep_free(&sr);
					return rc;
				}
				(*mended)++;
			}
			if (sr.sums[i] != have[first + i]) {
				gf_warn("gfsd: copy of inode %" PRIu64 ": block %" PRIu64 " differs from "
					"the source's checksum: damaged on the way; not kept",
					ino, first + i);
				gfs_sums_rep_free(&sr);
				return -EIO;
			}
		}
		first += sr.count;
		gfs_sums_rep_free(&sr);
	}
	return 0;
}

/* What following a writer got: whole blocks [0, have) with their sums. */
struct followed {
	uint64_t have, size; /* size: the source's once sealed */
	uint64_t *sums;
	size_t cap;
};

static int follow_loop(struct gf_rpc *rpc, uint64_t handle, int fd, int dfd, uint8_t *bounce,
		       struct followed *f)
{
	uint64_t idle_since = gf_mono_ms();
	unsigned nap_us = 1000;
	for (;;) {
		struct gfs_read_rep rr;
		struct gf_reply rep;
		int rc = fetch(rpc, handle, f->have, GF_MAX_IO, &rep, &rr);
		if (rc < 0)
			return rc;
		uint32_t whole = rr.len - rr.len % GF_CSUM_BLOCK;
		if (whole > 0) {
			uint64_t nb = (f->have + whole) / GF_CSUM_BLOCK;
			if (nb > f->cap) {
				size_t cap = f->cap ? f->cap : 1024;
				while (cap < nb)
					cap *= 2;
				uint64_t *v = realloc(f->sums, cap * sizeof(*v));
				if (!v)
					rc = -ENOMEM;
				else {
					f->sums = v;
					f->cap = cap;
				}
			}
			if (rc == 0)
				rc = store(fd, dfd, bounce, f->sums, rr.data, whole, f->have);
		}
		gf_reply_release(&rep);
		if (rc < 0)
			return rc;
		if (whole > 0) {
			f->have += whole;
			idle_since = gf_mono_ms();
			nap_us = 1000;
			continue;
		}
		/* nothing new: sealed (its writers are gone), or wait a little */
		struct gfs_sums_rep sr;
		if ((rc = fetch_sums(rpc, handle, 0, 1, &sr)) < 0)
			return rc;
		bool sealed = sr.sealed;
		f->size = sr.size;
		gfs_sums_rep_free(&sr);
		if (sealed)
			return 0;
		if (gf_mono_ms() - idle_since >= GFS_FOLLOW_IDLE_MS)
			return -EBUSY;
		usleep(nap_us);
		if (nap_us < 20000)
			nap_us *= 2;
	}
}

/*
 * Copy the source's whole blocks as they appear, while its writer writes,
 * until it is sealed (f->size then). The sums kept are of what was copied;
 * compare_sums finds what the writer rewrote since. -EBUSY when it neither
 * grows nor gets sealed for GFS_FOLLOW_IDLE_MS.
 */
static int follow_writer(struct gf_rpc *rpc, uint64_t handle, int fd, int dfd,
			 struct followed *f)
{
	uint8_t *bounce = bounce_new(dfd);
	int rc = follow_loop(rpc, handle, fd, dfd, bounce, f);
	free(bounce);
	return rc;
}

int copy_replica(const struct copy_source *cs, struct spool *sp,
		 const struct gfs_replicate_req *req, uint64_t *bytes, uint64_t *mended)
{
	struct gf_rpc *rpc;
	struct gf_wbuf w;
	struct gf_reply rep;
	struct spool_tmp t = { .fd = -1 };
	int rc;

	*bytes = 0;
	*mended = 0;
	const bool follow = req->flags & GFS_REP_FOLLOW;
	rc = gf_rpc_connect_timeout(req->src_addr, req->src_port, cs->key, GF_PEER_GFSD,
				    cs->my_host, COPY_TIMEOUT_MS, &rpc);
	if (rc < 0)
		return rc == -EACCES ? rc : -EHOSTDOWN;
	gf_rpc_set_timeout(rpc, COPY_TIMEOUT_MS);

	struct gfs_open_req oq = { .ino = req->ino, .gen = req->src_fgen,
				   .flags = GFS_O_READ | GFS_O_COPY |
					    (follow ? GFS_O_FOLLOW : 0) };
	struct gfs_open_rep orp;
	gf_wbuf_init(&w);
	gfs_open_req_encode(&w, &oq);
	if ((rc = call(rpc, GFS_OPEN, &w, &rep)) < 0) {
		if (follow && rc == -ENOENT)
			rc = -EBUSY; /* not written yet: the copy after the close */
		if (rc != -ENOENT || req->size != 0)
			goto out;
		/* an empty file whose replica was never written (replica files
		 * are made by the first write): the copy is an empty file */
		if ((rc = spool_tmp_open(sp, req->ino, &t)) == 0)
			rc = spool_tmp_commit(sp, &t, req->ino, req->fgen);
		spool_tmp_abort(sp, &t, req->ino);
		if (rc == 0)
			sums_store(sp, req->ino, req->fgen, 0, NULL, 1);
		goto out;
	}
	rc = gfs_open_rep_decode(rep.payload, rep.len, &orp);
	gf_reply_release(&rep);
	if (rc < 0)
		goto out;
	uint64_t size = req->size;
	struct followed fw = { 0 };
	if (!follow && orp.size != req->size) {
		gf_warn("gfsd: copy of inode %" PRIu64 ": the source replica on %s has %" PRIu64
			" bytes, gfmd says %" PRIu64 "; not copied", req->ino, req->src_addr,
			orp.size, req->size);
		rc = -EIO;
		goto close_src;
	}
	if ((rc = spool_tmp_open(sp, req->ino, &t)) < 0)
		goto close_src;
	int dfd = open_direct(t.fd); /* -1: through the page cache */
	if (follow) {
		if ((rc = follow_writer(rpc, orp.handle, t.fd, dfd, &fw)) < 0) {
			free(fw.sums);
			if (dfd >= 0)
				close(dfd);
			spool_tmp_abort(sp, &t, req->ino);
			goto close_src;
		}
		size = fw.size;
		if (fw.have > size)
			fw.have = size - size % GF_CSUM_BLOCK; /* cut since */
	}
	uint64_t *sums = realloc(fw.sums, (gf_csum_nblocks(size) + 1) * sizeof(*sums));
	if (!sums) {
		free(fw.sums);
		if (dfd >= 0)
			close(dfd);
		spool_tmp_abort(sp, &t, req->ino);
		rc = -ENOMEM;
		goto close_src;
	}
	/* what was followed past a cut goes, so that the rest is a hole again:
	 * store() leaves zeros unwritten, and they must not land on older
	 * bytes (gfmd discards a followed copy of a file cut meanwhile today;
	 * this keeps the copy right by itself) */
	if (follow && ftruncate(t.fd, (off_t)fw.have) < 0)
		rc = -errno;

	/* the rest (all of it, unless it followed a writer) */
	struct job j = { .rpc = rpc, .handle = orp.handle, .size = size, .fd = t.fd,
			 .dfd = dfd, .sums = sums };
	atomic_init(&j.next, fw.have);
	atomic_init(&j.err, rc);
	pthread_t th[COPY_STREAMS];
	int nth = 0;
	for (int i = 0; i < COPY_STREAMS && fw.have + (uint64_t)i * GF_MAX_IO < size; i++) {
		if (pthread_create(&th[nth], NULL, stream, &j) != 0) {
			fail(&j, -EAGAIN);
			break;
		}
		nth++;
	}
	if (nth == 0 && fw.have < size)
		fail(&j, -EAGAIN);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (dfd >= 0)
		close(dfd);
	rc = atomic_load(&j.err);
	if (rc == 0)
		rc = compare_sums(rpc, orp.handle, req->ino, size, sums, t.fd,
				  follow ? mended : NULL);
	if (rc == 0 && ftruncate(t.fd, (off_t)size) < 0)
		rc = -errno;
	if (rc == 0)
		rc = spool_tmp_commit(sp, &t, req->ino, req->fgen);
	spool_tmp_abort(sp, &t, req->ino); /* closes; removes nothing once named */
	/* named: a crash now leaves it unsealed, never with wrong sums */
	int src;
	if (rc == 0 && (src = sums_store(sp, req->ino, req->fgen, size, sums, 1)) < 0)
		gf_warn("gfsd: copy of inode %" PRIu64 ": %s writing its checksums: it is read "
			"unchecked until `gffsck --repair` seals it", req->ino, strerror(-src));
	free(sums);
	if (rc == 0)
		*bytes = size;

close_src:
	if (gf_rpc_alive(rpc)) {
		struct gfs_close_req cq = { .handle = orp.handle };
		gf_wbuf_init(&w);
		gfs_close_req_encode(&w, &cq);
		if (call(rpc, GFS_CLOSE, &w, &rep) == 0)
			gf_reply_release(&rep);
	}
out:
	gf_rpc_close(rpc);
	return rc;
}
