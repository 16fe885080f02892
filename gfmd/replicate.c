#include "replicate.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "rpc.h"

static const struct gf_host_info *host_of(const struct gf_host_info *v, uint32_t n,
					  uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].host_id == id)
			return &v[i];
	return NULL;
}

static int holds(const struct gf_ns_replica *r, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].host_id == id)
			return 1;
	return 0;
}

/* Waiting in this thread for a ticket's commit (gf_store_on_commit). A
 * failed commit ends the process, so the wait ends either way. */
struct commit_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void commit_waited(void *arg, int status)
{
	struct commit_wait *w = arg;
	(void)status;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void wait_commit(struct gfmd *g, uint64_t ticket)
{
	struct commit_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	gf_store_on_commit(g->store, ticket, commit_waited, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
}

/* Ask dst's gfsd for the copy; 0 and *bytes or -errno. */
static int ask_gfsd(struct gfmd *g, const struct gf_host_info *dst,
		    const struct gf_host_info *src, const struct gf_ns_copy *cp, uint64_t *bytes)
{
	struct gf_rpc *rpc;
	int rc = gf_rpc_connect_timeout(dst->addr, dst->port, g->key, GF_PEER_GFMD, g->hostname,
					30000, &rpc);
	if (rc < 0)
		return rc == -EACCES ? rc : -EHOSTDOWN;
	struct gfs_replicate_req rq = { .ino = cp->ino, .fgen = cp->fgen,
					.src_fgen = cp->src.fgen, .size = cp->size,
					.src_port = src->port,
					.flags = cp->follow ? GFS_REP_FOLLOW : 0 };
	strcpy(rq.src_addr, src->addr);
	struct gf_wbuf w;
	struct gf_reply rep;
	struct gfs_replicate_rep rr;
	gf_wbuf_init(&w);
	gfs_replicate_req_encode(&w, &rq);
	/* no timeout: a big file takes its time; a dead host breaks the
	 * connection (keepalive) */
	rc = w.err ? w.err : gf_rpc_call_status(rpc, GFS_REPLICATE, &w, &rep);
	gf_wbuf_free(&w);
	if (rc == -ENOTCONN || rc == -ETIMEDOUT)
		rc = -EHOSTDOWN;
	if (rc == 0) {
		rc = gfs_replicate_rep_decode(rep.payload, rep.len, &rr);
		gf_reply_release(&rep);
		if (rc == 0)
			*bytes = rr.bytes;
	}
	gf_rpc_close(rpc);
	return rc;
}

/* Until ino has no writer (or FOLLOW_RELEASE_WAIT_MS passed). */
static void wait_writers_gone(struct gfmd *g, uint64_t ino)
{
	struct gf_ns_repl_state *st = malloc(sizeof(*st));
	for (unsigned waited = 0; st && waited < FOLLOW_RELEASE_WAIT_MS; waited += 5) {
		if (gf_ns_repl_state(g->ns, ino, st) < 0 || st->writers == 0)
			break;
		usleep(5000);
	}
	free(st);
}

int gfmd_replicate(struct gfmd *g, const struct gf_cred *cr, uint64_t ino,
		   uint32_t dst_host, uint32_t src_host, uint32_t flags, uint32_t *host_id,
		   uint64_t *bytes, uint64_t *ticket)
{
	struct gf_ns_replica reps[GF_MAX_REPLICAS];
	struct gf_host_info *hv = NULL;
	uint32_t nh = 0;
	size_t nr = 0;
	struct gf_attr a;
	int rc;

	*host_id = 0;
	*bytes = 0;
	*ticket = 0;
	if ((rc = gf_ns_getattr(g->ns, cr, ino, &a, ticket)) < 0)
		return rc;
	if (!S_ISREG(a.mode))
		return S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	struct gf_ns_replica all[GF_MAX_REPLICAS], stale[GF_MAX_REPLICAS];
	size_t nall = 0, ns = 0;
	if ((rc = gf_ns_replicas(g->ns, ino, 1, all, GF_MAX_REPLICAS, &nall, NULL)) < 0)
		return rc;
	for (size_t i = 0; i < nall; i++) {
		if (all[i].gen == a.gen)
			reps[nr++] = all[i];
		else
			stale[ns++] = all[i];
	}
	if ((rc = gf_hosts_list(g->hosts, &hv, &nh)) < 0)
		return rc;

	/* the source */
	const struct gf_host_info *src = NULL;
	if (src_host) {
		src = host_of(hv, nh, src_host);
		if (!src || !holds(reps, nr, src_host))
			rc = -ENOENT;
		else if (!src->up)
			rc = -EHOSTDOWN;
	} else {
		uint32_t nup = 0;
		for (size_t i = 0; i < nr; i++) {
			const struct gf_host_info *h = host_of(hv, nh, reps[i].host_id);
			if (h && h->up && (random() % ++nup) == 0)
				src = h;
		}
		if (!src)
			rc = nr ? -EHOSTDOWN : -ENODATA;
	}
	/* the destination */
	const struct gf_host_info *dst = NULL;
	if (rc == 0 && dst_host) {
		dst = host_of(hv, nh, dst_host);
		if (!dst)
			rc = -ENOENT;
		else if (holds(reps, nr, dst_host))
			rc = -EEXIST;
		else if (!dst->up)
			rc = -EHOSTDOWN;
	} else if (rc == 0) {
		/* a host holding a stale replica (a refresh keeps the file where
		 * it was), else the hosts with room, and among those within 10%
		 * of the most free space one at random: copies spread over
		 * equal hosts */
		for (size_t k = 0; k < ns && !dst; k++) {
			const struct gf_host_info *h = host_of(hv, nh, stale[k].host_id);
			if (h && h->up && !h->draining && !holds(reps, nr, h->host_id) &&
			    h->free + a.size > a.size + gf_hosts_reserve(g->hosts, h->capacity))
				dst = h;
		}
		uint64_t most = 0;
		for (int pass = 0; pass < 2 && !dst; pass++) {
			uint32_t seen = 0;
			for (uint32_t i = 0; i < nh; i++) {
				const struct gf_host_info *h = &hv[i];
				if (!h->up || h->draining || holds(reps, nr, h->host_id) ||
				    h->free <= a.size + gf_hosts_reserve(g->hosts, h->capacity))
					continue;
				if (pass == 0 && h->free > most)
					most = h->free;
				if (pass == 1 && h->free >= most - most / 10 &&
				    (random() % ++seen) == 0)
					dst = h;
			}
		}
		if (!dst)
			rc = -ENOSPC;
	}
	struct gf_ns_copy cp;
	if (rc == 0)
		rc = gf_ns_copy_begin(g->ns, cr, ino, src->host_id, dst->host_id,
				      (flags & GFMD_REP_FOLLOW) ? GF_NS_COPY_FOLLOW : 0, &cp);
	if (rc == 0) {
		/* the copy's file name stored as used before gfsd makes it */
		if (cp.ticket)
			wait_commit(g, cp.ticket);
		int crc = ask_gfsd(g, dst, src, &cp, bytes);
		if (crc == 0 && cp.follow) {
			/* the source was sealed at its writer's close on gfsd; the
			 * release reaches gfmd just after */
			cp.size = *bytes;
			wait_writers_gone(g, ino);
		}
		cp.keep = (flags & GF_REP_KEEP) != 0;
		uint64_t t = 0;
		rc = gf_ns_copy_end(g->ns, &cp, crc == 0, &t);
		if (t > *ticket)
			*ticket = t;
		if (crc == -EBUSY && rc != -EBUSY) {
			/* gfsd has a writer of the file that gfmd does not count
			 * (opened before gfmd restarted): not a fault, and no
			 * release counted here will bring the file back */
			gf_debug("gfmd: copy of inode %" PRIu64 " from %s to %s: the source has a "
				 "writer gfmd does not know of; later", ino, src->name, dst->name);
			rc = -EAGAIN;
		} else if (crc < 0 && rc == -EBUSY) {
			/* written meanwhile: what the copy met (a source cut
			 * short or changed under it) is that, not a fault; the
			 * writer's release has the file copied again */
			gf_debug("gfmd: copy of inode %" PRIu64 " from %s to %s ended (%s): the "
				 "file was written meanwhile", ino, src->name, dst->name,
				 strerror(-crc));
		} else if (crc < 0) {
			rc = crc;
			if (crc != -EBUSY)
				gf_warn("gfmd: copy of inode %" PRIu64 " from %s to %s failed: %s",
					ino, src->name, dst->name, strerror(-crc));
		} else if (rc == 0) {
			*host_id = dst->host_id;
			gf_info("gfmd: inode %" PRIu64 ": new replica on %s (%" PRIu64
				" bytes copied from %s)", ino, dst->name, *bytes, src->name);
		}
	}
	free(hv);
	return rc;
}
