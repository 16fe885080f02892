#include "copy.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rpc.h"
#include "wire.h"

struct job {
	struct gf_rpc *rpc;
	uint64_t handle, size;
	int fd;
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

/* One stream: fetch the next piece until none is left or something failed. */
static void *stream(void *arg)
{
	struct job *j = arg;
	for (;;) {
		uint64_t off = atomic_fetch_add(&j->next, GF_MAX_IO);
		if (off >= j->size || atomic_load(&j->err))
			return NULL;
		uint32_t want = j->size - off < GF_MAX_IO ? (uint32_t)(j->size - off) : GF_MAX_IO;
		struct gfs_read_req rq = { .handle = j->handle, .offset = off, .len = want };
		struct gf_wbuf w;
		struct gf_reply rep;
		struct gfs_read_rep rr;
		gf_wbuf_init(&w);
		gfs_read_req_encode(&w, &rq);
		int rc = gf_rpc_call_status(j->rpc, GFS_READ, &w, &rep);
		gf_wbuf_free(&w);
		if (rc < 0) {
			fail(j, rc == -ENOTCONN || rc == -ETIMEDOUT ? -EHOSTDOWN : rc);
			return NULL;
		}
		rc = gfs_read_rep_decode(rep.payload, rep.len, &rr);
		if (rc == 0 && rr.len != want)
			rc = -EIO; /* the source is shorter than gfmd's size */
		for (uint32_t done = 0; rc == 0 && done < want;) {
			if (all_zero(rr.data + done, want - done))
				break; /* a hole: the final ftruncate covers it */
			ssize_t n = pwrite(j->fd, rr.data + done, want - done, (off_t)(off + done));
			if (n < 0 && errno != EINTR)
				rc = -errno;
			else if (n > 0)
				done += (uint32_t)n;
		}
		gf_reply_release(&rep);
		if (rc < 0) {
			fail(j, rc);
			return NULL;
		}
	}
}

static int call(struct gf_rpc *rpc, uint16_t op, struct gf_wbuf *w, struct gf_reply *rep)
{
	int rc = w->err ? w->err : gf_rpc_call_status(rpc, op, w, rep);
	gf_wbuf_free(w);
	return rc == -ENOTCONN || rc == -ETIMEDOUT ? -EHOSTDOWN : rc;
}

int copy_replica(const struct copy_source *cs, struct spool *sp,
		 const struct gfs_replicate_req *req, uint64_t *bytes)
{
	struct gf_rpc *rpc;
	struct gf_wbuf w;
	struct gf_reply rep;
	struct spool_tmp t = { .fd = -1 };
	int rc;

	*bytes = 0;
	rc = gf_rpc_connect_timeout(req->src_addr, req->src_port, cs->key, GF_PEER_GFSD,
				    cs->my_host, COPY_TIMEOUT_MS, &rpc);
	if (rc < 0)
		return rc == -EACCES ? rc : -EHOSTDOWN;
	gf_rpc_set_timeout(rpc, COPY_TIMEOUT_MS);

	struct gfs_open_req oq = { .ino = req->ino, .gen = req->src_fgen,
				   .flags = GFS_O_READ | GFS_O_COPY };
	struct gfs_open_rep orp;
	gf_wbuf_init(&w);
	gfs_open_req_encode(&w, &oq);
	if ((rc = call(rpc, GFS_OPEN, &w, &rep)) < 0) {
		if (rc != -ENOENT || req->size != 0)
			goto out;
		/* an empty file whose replica was never written (replica files
		 * are made by the first write): the copy is an empty file */
		if ((rc = spool_tmp_open(sp, req->ino, &t)) == 0)
			rc = spool_tmp_commit(sp, &t, req->ino, req->fgen);
		spool_tmp_abort(sp, &t, req->ino);
		goto out;
	}
	rc = gfs_open_rep_decode(rep.payload, rep.len, &orp);
	gf_reply_release(&rep);
	if (rc < 0)
		goto out;
	if (orp.size != req->size) {
		gf_warn("gfsd: copy of inode %" PRIu64 ": the source replica on %s has %" PRIu64
			" bytes, gfmd says %" PRIu64 "; not copied", req->ino, req->src_addr,
			orp.size, req->size);
		rc = -EIO;
		goto close_src;
	}
	if ((rc = spool_tmp_open(sp, req->ino, &t)) < 0)
		goto close_src;

	struct job j = { .rpc = rpc, .handle = orp.handle, .size = req->size, .fd = t.fd };
	atomic_init(&j.next, 0);
	atomic_init(&j.err, 0);
	pthread_t th[COPY_STREAMS];
	int nth = 0;
	for (int i = 0; i < COPY_STREAMS && (uint64_t)i * GF_MAX_IO < req->size; i++) {
		if (pthread_create(&th[nth], NULL, stream, &j) != 0) {
			fail(&j, -EAGAIN);
			break;
		}
		nth++;
	}
	if (nth == 0 && req->size > 0)
		fail(&j, -EAGAIN);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	rc = atomic_load(&j.err);
	if (rc == 0 && ftruncate(t.fd, (off_t)req->size) < 0)
		rc = -errno;
	if (rc == 0)
		rc = spool_tmp_commit(sp, &t, req->ino, req->fgen);
	spool_tmp_abort(sp, &t, req->ino); /* closes; removes nothing once named */
	if (rc == 0)
		*bytes = req->size;

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
