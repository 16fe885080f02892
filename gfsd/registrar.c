#include "registrar.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "clock.h"
#include "log.h"
#include "proto.h"
#include "rpc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000
#define STOP_WAIT_SEC 5
#define QUERY_TIMEOUT_MS 10000
#define ORPHANS_PER_PAUSE 200 /* removals between pauses of ORPHAN_PAUSE_MS */
#define ORPHAN_PAUSE_MS 100

struct registrar {
	char gfmd_host[GF_HOST_MAX + 1];
	uint16_t gfmd_port;
	struct gf_key key;
	char hostname[GF_HOST_MAX + 1];
	char addr[GF_HOST_MAX + 1];
	uint16_t port;
	uint32_t heartbeat_ms;
	struct spool *sp;
	struct load_meter *load;
	struct replicas *rs;
	uint32_t orphan_scan_s;

	/* service.h's size question, from any thread */
	pthread_mutex_t qlock;
	struct gf_rpc *qrpc;
	_Atomic uint32_t host_id_now; /* 0 until registered */

	/* the orphan scan thread (at most one) */
	pthread_t scan_thread;
	bool scan_started;   /* a thread to join */
	_Atomic bool scan_running;
	struct timespec last_scan; /* CLOCK_MONOTONIC start of the last one */
	atomic_bool scan_asked;	   /* registrar_scan_soon */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled on stop */
	bool stopping;
	bool finished;
	bool refused; /* the spool belongs to another cluster */

	/* Owned by the thread. */
	struct gf_rpc *rpc;
	uint32_t host_id;
	uint32_t period_ms;
	uint8_t cluster_id[GF_CLUSTER_ID_LEN]; /* gfmd's, from the registration */
	struct gfm_heartbeat_req hb; /* hb.done / hb.ndone: deletions to report */
	void (*swap_space)(void *arg, uint64_t *total, uint64_t *free);
	void *swap_arg;
	struct gfm_heartbeat_rep rep;
};

/* Sleep ms or until stopped; returns true when stopping. */
static bool sleep_ms(struct registrar *r, uint32_t ms)
{
	struct timespec until = gf_mono_in_ms(ms);
	pthread_mutex_lock(&r->lock);
	while (!r->stopping &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
		;
	bool stopping = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return stopping;
}

static bool stopping(struct registrar *r)
{
	pthread_mutex_lock(&r->lock);
	bool s = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void disconnect(struct registrar *r)
{
	if (r->rpc) {
		gf_rpc_close(r->rpc);
		r->rpc = NULL;
	}
}

/* Connect and register. 0, or -errno with r->rpc closed. */
static int connect_and_register(struct registrar *r)
{
	struct gfm_host_register_req req;
	struct gfm_host_register_rep rep;
	struct gf_reply reply;
	struct gf_wbuf w;
	int rc;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", r->hostname);
	snprintf(req.addr, sizeof(req.addr), "%s", r->addr);
	req.port = r->port;
	rc = spool_space(r->sp, &req.capacity, &req.free);
	if (rc < 0)
		return rc;

	rc = gf_rpc_connect(r->gfmd_host, r->gfmd_port, &r->key, GF_PEER_GFSD,
			    r->hostname, &r->rpc);
	if (rc < 0) {
		r->rpc = NULL;
		return rc;
	}
	/* A gfmd that stops answering must not stall heartbeats forever. */
	gf_rpc_set_timeout(r->rpc, r->heartbeat_ms * 5 > 10000 ? r->heartbeat_ms * 5 : 10000);
	gf_wbuf_init(&w);
	gfm_host_register_req_encode(&w, &req);
	rc = w.err ? w.err : gf_rpc_call_status(r->rpc, GFM_HOST_REGISTER, &w, &reply);
	gf_wbuf_free(&w);
	if (rc < 0)
		goto out;
	rc = gfm_host_register_rep_decode(reply.payload, reply.len, &rep);
	gf_reply_release(&reply);
	if (rc < 0)
		goto out;
	r->host_id = rep.host_id;
	atomic_store(&r->host_id_now, rep.host_id);
	memcpy(r->cluster_id, rep.cluster_id, sizeof(r->cluster_id));
	r->period_ms = r->heartbeat_ms;
	if (rep.heartbeat_ms > 0 && rep.heartbeat_ms < r->period_ms)
		r->period_ms = rep.heartbeat_ms;
	return 0;
out:
	disconnect(r);
	return rc;
}

/* Remove what gfmd declared dead; remember what is gone for the next beat. */
static void delete_dead(struct registrar *r)
{
	for (uint32_t i = 0; i < r->rep.ndead; i++) {
		const struct gf_dead_replica *d = &r->rep.dead[i];
		if (r->hb.ndone == GF_MAX_DEAD)
			break; /* gfmd asks again; the rest go next time */
		int rc = spool_replica_remove(r->sp, d->ino, d->gen);
		if (rc < 0 && rc != -ENOENT) {
			gf_warn("gfsd: spool %s: %s while removing dead replica of inode %" PRIu64
				" gen %" PRIu64, spool_dir(r->sp), strerror(-rc), d->ino, d->gen);
			continue;
		}
		gf_debug("gfsd: removed dead replica of inode %" PRIu64 " gen %" PRIu64 "%s",
			 d->ino, d->gen, rc == -ENOENT ? " (was already gone)" : "");
		replicas_tomb_add(r->rs, d->ino, d->gen);
		replicas_count(r->rs, RC_DEAD_REMOVED, 1);
		r->hb.done[r->hb.ndone++] = *d;
	}
}

static int heartbeat(struct registrar *r)
{
	struct gf_reply reply;
	struct gf_wbuf w;
	int rc;

	r->hb.host_id = r->host_id;
	rc = spool_space(r->sp, &r->hb.capacity, &r->hb.free);
	if (rc < 0)
		return rc;
	r->hb.load_milli = load_meter_sample(r->load);
	r->hb.nbad = replicas_bad_take(r->rs, r->hb.bad, GF_MAX_BAD);
	if (r->swap_space)
		r->swap_space(r->swap_arg, &r->hb.swap_total, &r->hb.swap_free);
	gf_wbuf_init(&w);
	gfm_heartbeat_req_encode(&w, &r->hb);
	rc = w.err ? w.err : gf_rpc_call_status(r->rpc, GFM_HEARTBEAT, &w, &reply);
	gf_wbuf_free(&w);
	if (rc == 0) {
		rc = gfm_heartbeat_rep_decode(reply.payload, reply.len, &r->rep);
		gf_reply_release(&reply);
	}
	if (rc < 0) {
		replicas_bad_put_back(r->rs, r->hb.bad, r->hb.nbad);
		r->hb.nbad = 0;
		return rc;
	}
	if (r->hb.nbad)
		replicas_count(r->rs, RC_CORRUPT_REPORTED, r->hb.nbad);
	r->hb.nbad = 0;
	r->hb.ndone = 0; /* gfmd has them */
	replicas_count(r->rs, RC_HEARTBEATS, 1);
	delete_dead(r);
	return 0;
}

/*
 * Is the spool this gfmd's? Before the first heartbeat of every registration,
 * because a heartbeat reply names replicas to delete by inode number, which
 * means nothing in another cluster. 0: go on; 1: it is another cluster's
 * (or unreadable), the daemon must stop; -errno: cannot tell now, retry.
 */
static int check_cluster(struct registrar *r)
{
	char found[SPOOL_CLUSTER_ID_TEXT], ours[SPOOL_CLUSTER_ID_TEXT];
	uuid_t u;
	memcpy(u, r->cluster_id, sizeof(u));
	uuid_unparse_lower(u, ours);
	int rc = spool_cluster_id_check(r->sp, r->cluster_id, found);
	if (rc == 0)
		return 0;
	if (rc == -ESTALE) {
		gf_err("gfsd: spool %s belongs to cluster %s, but gfmd %s:%u is cluster %s; "
		       "refusing to serve it (delete %s/cluster_id only if this spool's data "
		       "is to be discarded)", spool_dir(r->sp), found, r->gfmd_host,
		       r->gfmd_port, ours, spool_dir(r->sp));
		return 1;
	}
	if (rc == -EBADMSG || rc == -ELOOP) {
		gf_err("gfsd: spool %s: %s/cluster_id does not hold a cluster id (a UUID); "
		       "refusing to serve the spool for gfmd %s:%u (cluster %s)",
		       spool_dir(r->sp), spool_dir(r->sp), r->gfmd_host, r->gfmd_port, ours);
		return 1;
	}
	return rc;
}

/* Stop heartbeating for good and make the daemon exit (status 1). */
static void refuse(struct registrar *r)
{
	disconnect(r);
	pthread_mutex_lock(&r->lock);
	r->refused = true;
	r->stopping = true;
	pthread_mutex_unlock(&r->lock);
	/* every thread blocks SIGTERM: main's gf_daemon_wait takes it */
	kill(getpid(), SIGTERM);
}

/* ---- gfmd queries from other threads ------------------------------------------- */

/* A connection to gfmd for q (under r->qlock): the one open, or a new one. */
static int query_conn(struct registrar *r, struct gf_rpc **out)
{
	if (r->qrpc && !gf_rpc_alive(r->qrpc)) {
		gf_rpc_close(r->qrpc);
		r->qrpc = NULL;
	}
	if (!r->qrpc) {
		int rc = gf_rpc_connect(r->gfmd_host, r->gfmd_port, &r->key, GF_PEER_GFSD,
					r->hostname, &r->qrpc);
		if (rc < 0) {
			r->qrpc = NULL;
			return rc;
		}
		gf_rpc_set_timeout(r->qrpc, QUERY_TIMEOUT_MS);
	}
	*out = r->qrpc;
	return 0;
}

int registrar_replica_size(void *arg, uint64_t ino, uint64_t fgen, uint64_t *size)
{
	struct registrar *r = arg;
	uint32_t me = atomic_load(&r->host_id_now);
	struct gfm_ino_req req = { .ino = ino }; /* root's cred: gfsd asks for itself */
	struct gf_reply reply;
	struct gf_wbuf w;
	struct gf_rpc *rpc;
	int rc = -EAGAIN;

	if (!me)
		return -EAGAIN; /* not registered yet: cannot name ourselves */
	gf_wbuf_init(&w);
	gfm_ino_req_encode(&w, &req);
	pthread_mutex_lock(&r->qlock);
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = query_conn(r, &rpc)) < 0)
			break;
		rc = gf_rpc_call_status(rpc, GFM_REPLICAS, &w, &reply);
		if (rc != -ENOTCONN && rc != -ETIMEDOUT && rc != -ECONNRESET && rc != -EPIPE)
			break;
		gf_rpc_close(r->qrpc); /* broken: once more on a new one */
		r->qrpc = NULL;
	}
	pthread_mutex_unlock(&r->qlock);
	gf_wbuf_free(&w);
	if (rc < 0)
		return rc;
	struct gfm_open_rep *o = malloc(sizeof(*o));
	if (!o) {
		gf_reply_release(&reply);
		return -ENOMEM;
	}
	rc = gfm_open_rep_decode(reply.payload, reply.len, o);
	gf_reply_release(&reply);
	if (rc == 0) {
		rc = -ESTALE;
		for (uint32_t i = 0; i < o->nreplicas; i++)
			if (o->replicas[i].host_id == me && o->replicas[i].fgen == fgen) {
				*size = o->attr.size;
				rc = 0;
			}
	} else {
		rc = -EIO;
	}
	free(o);
	return rc;
}

/* ---- orphan scan ----------------------------------------------------------------- */

struct name_list {
	struct gf_dead_replica *v;
	size_t n, cap;
};

static int list_add(uint64_t ino, uint64_t gen, void *arg)
{
	struct name_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct gf_dead_replica *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].ino = ino;
	l->v[l->n].gen = gen;
	l->n++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	const struct gf_dead_replica *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Every replica file gfmd says this host should hold, sorted. */
static int fetch_live(struct registrar *r, uint32_t host_id, struct name_list *live)
{
	struct gf_rpc *rpc;
	int rc = gf_rpc_connect(r->gfmd_host, r->gfmd_port, &r->key, GF_PEER_GFSD,
				r->hostname, &rpc);
	if (rc < 0)
		return rc;
	gf_rpc_set_timeout(rpc, QUERY_TIMEOUT_MS * 6);
	struct gfm_host_replicas_req req = { .host_id = host_id, .max = GF_HOST_REPLICAS_MAX };
	for (;;) {
		struct gf_reply reply;
		struct gf_wbuf w;
		struct gfm_host_replicas_rep rep;
		gf_wbuf_init(&w);
		gfm_host_replicas_req_encode(&w, &req);
		rc = gf_rpc_call_status(rpc, GFM_HOST_REPLICAS, &w, &reply);
		gf_wbuf_free(&w);
		if (rc < 0)
			break;
		rc = gfm_host_replicas_rep_decode(reply.payload, reply.len, &rep);
		gf_reply_release(&reply);
		if (rc < 0)
			break;
		for (uint32_t i = 0; i < rep.count && !rc; i++) {
			if (rep.ents[i].ino <= req.after)
				rc = -EPROTO; /* must ascend, or we would never end */
			else
				rc = list_add(rep.ents[i].ino, rep.ents[i].gen, live);
		}
		if (!rc && rep.count)
			req.after = rep.ents[rep.count - 1].ino;
		int eof = rep.eof || rep.count == 0;
		gfm_host_replicas_rep_free(&rep);
		if (rc || eof)
			break;
	}
	gf_rpc_close(rpc);
	if (!rc && live->n > 1)
		qsort(live->v, live->n, sizeof(*live->v), name_cmp);
	return rc;
}

static void *scan_main(void *arg)
{
	struct registrar *r = arg;
	struct name_list files = { 0 }, live = { 0 };
	uint32_t host_id = atomic_load(&r->host_id_now);
	size_t removed = 0, busy = 0;
	/* the spool first, then gfmd: a replica file exists only after gfmd
	 * committed its replica, so a file listed here that gfmd does not
	 * name afterwards is no live replica's */
	int rc = spool_list(r->sp, list_add, &files);
	if (rc == 0)
		rc = fetch_live(r, host_id, &live);
	if (rc < 0) {
		gf_warn("gfsd: spool %s: orphan scan abandoned, nothing removed: %s",
			spool_dir(r->sp), strerror(-rc));
		goto out;
	}
	if (files.n > 1)
		qsort(files.v, files.n, sizeof(*files.v), name_cmp);
	size_t j = 0;
	for (size_t i = 0; i < files.n && !stopping(r); i++) {
		const struct gf_dead_replica *fn = &files.v[i];
		while (j < live.n && name_cmp(&live.v[j], fn) < 0)
			j++;
		if (j < live.n && name_cmp(&live.v[j], fn) == 0)
			continue;
		if (replicas_writers(r->rs, fn->ino, fn->gen)) {
			busy++; /* open for writing: left for the next scan */
			continue;
		}
		int e = spool_replica_remove(r->sp, fn->ino, fn->gen);
		if (e < 0 && e != -ENOENT) {
			gf_warn("gfsd: spool %s: %s removing orphan replica file of inode %" PRIu64
				" gen %" PRIu64, spool_dir(r->sp), strerror(-e), fn->ino, fn->gen);
			continue;
		}
		if (e == 0) {
			removed++;
			replicas_count(r->rs, RC_ORPHANS_REMOVED, 1);
			gf_info("gfsd: spool %s: removed orphan replica file of inode %" PRIu64
				" gen %" PRIu64 " (no live replica names it)", spool_dir(r->sp),
				fn->ino, fn->gen);
			if (removed % ORPHANS_PER_PAUSE == 0 && sleep_ms(r, ORPHAN_PAUSE_MS))
				break;
		}
	}
	gf_info("gfsd: spool %s: orphan scan: %zu replica files, %zu live replicas, %zu "
		"orphans removed%s", spool_dir(r->sp), files.n, live.n, removed,
		busy ? " (some open for writing, left)" : "");
out:
	free(files.v);
	free(live.v);
	atomic_store(&r->scan_running, false);
	return NULL;
}

void registrar_scan_soon(void *arg)
{
	struct registrar *r = arg;
	atomic_store(&r->scan_asked, true);
}

/* Start an orphan scan if none runs and one is due. */
static void maybe_scan(struct registrar *r)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (atomic_load(&r->scan_running))
		return;
	bool asked = atomic_exchange(&r->scan_asked, false);
	if (r->scan_started) {
		if (!asked && (r->orphan_scan_s == 0 ||
			       now.tv_sec - r->last_scan.tv_sec < (time_t)r->orphan_scan_s))
			return;
		pthread_join(r->scan_thread, NULL);
		r->scan_started = false;
	}
	atomic_store(&r->scan_running, true);
	r->last_scan = now;
	if (pthread_create(&r->scan_thread, NULL, scan_main, r) != 0) {
		atomic_store(&r->scan_running, false);
		return;
	}
	r->scan_started = true;
}

static void *registrar_main(void *arg)
{
	struct registrar *r = arg;
	uint32_t backoff = BACKOFF_MIN_MS;
	bool trouble = false; /* an outage was logged; the recovery is not yet */
	bool ever = false;

	while (!stopping(r)) {
		int rc;
		if (!r->rpc) {
			rc = connect_and_register(r);
			if (rc < 0) {
				if (!trouble)
					gf_warn("gfsd: cannot register with gfmd %s:%u: %s; "
						"serving clients anyway and retrying",
						r->gfmd_host, r->gfmd_port, strerror(-rc));
				else
					gf_debug("gfsd: gfmd %s:%u: %s", r->gfmd_host,
						 r->gfmd_port, strerror(-rc));
				trouble = true;
				if (sleep_ms(r, backoff))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			rc = check_cluster(r);
			if (rc > 0) {
				refuse(r);
				break;
			}
			if (rc < 0) {
				if (!trouble)
					gf_warn("gfsd: spool %s: cannot check its cluster id: %s; "
						"not heartbeating, retrying", spool_dir(r->sp),
						strerror(-rc));
				trouble = true;
				disconnect(r);
				if (sleep_ms(r, backoff))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			if (!trouble)
				gf_info("gfsd: registered with gfmd %s:%u as host %u (%s, %s:%u), "
					"heartbeat every %u ms", r->gfmd_host, r->gfmd_port,
					r->host_id, r->hostname, r->addr, r->port, r->period_ms);
			ever = true;
		}
		rc = heartbeat(r);
		if (rc < 0) {
			if (!trouble)
				gf_warn("gfsd: heartbeat to gfmd %s:%u failed: %s; registering again",
					r->gfmd_host, r->gfmd_port, strerror(-rc));
			trouble = true;
			disconnect(r);
			if (sleep_ms(r, backoff))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (trouble && ever)
			gf_info("gfsd: gfmd %s:%u is back; registered as host %u",
				r->gfmd_host, r->gfmd_port, r->host_id);
		trouble = false;
		maybe_scan(r);
		backoff = BACKOFF_MIN_MS;
		if (sleep_ms(r, r->period_ms))
			break;
	}
	disconnect(r);
	pthread_mutex_lock(&r->lock);
	r->finished = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int registrar_start(const struct registrar_config *cfg, struct spool *sp,
		    struct registrar **out)
{
	if (strlen(cfg->gfmd_host) > GF_HOST_MAX || strlen(cfg->hostname) > GF_HOST_MAX ||
	    strlen(cfg->addr) > GF_HOST_MAX)
		return -ENAMETOOLONG;
	struct registrar *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	snprintf(r->gfmd_host, sizeof(r->gfmd_host), "%s", cfg->gfmd_host);
	r->gfmd_port = cfg->gfmd_port;
	r->key = *cfg->key;
	snprintf(r->hostname, sizeof(r->hostname), "%s", cfg->hostname);
	snprintf(r->addr, sizeof(r->addr), "%s", cfg->addr);
	r->port = cfg->port;
	r->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 1000;
	r->period_ms = r->heartbeat_ms;
	r->sp = sp;
	r->load = cfg->load;
	r->rs = cfg->rs;
	r->orphan_scan_s = cfg->orphan_scan_s;
	r->swap_space = cfg->swap_space;
	r->swap_arg = cfg->swap_arg;
	pthread_mutex_init(&r->qlock, NULL);

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&r->lock, NULL);
	int rc = pthread_create(&r->thread, NULL, registrar_main, r);
	if (rc) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		pthread_mutex_destroy(&r->qlock);
		free(r);
		return -rc;
	}
	*out = r;
	return 0;
}

bool registrar_refused(struct registrar *r)
{
	pthread_mutex_lock(&r->lock);
	bool refused = r->refused;
	pthread_mutex_unlock(&r->lock);
	return refused;
}

void registrar_stop(struct registrar *r)
{
	if (!r)
		return;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += STOP_WAIT_SEC;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	while (!r->finished &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
		;
	bool finished = r->finished;
	pthread_mutex_unlock(&r->lock);
	if (!finished) {
		/* Blocked on a gfmd that does not answer: leave it to exit(). */
		gf_warn("gfsd: gfmd %s:%u does not answer; not waiting for it",
			r->gfmd_host, r->gfmd_port);
		pthread_detach(r->thread);
		return;
	}
	pthread_join(r->thread, NULL);
	if (r->scan_started)
		pthread_join(r->scan_thread, NULL); /* it sees stopping */
	if (r->qrpc)
		gf_rpc_close(r->qrpc);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->qlock);
	load_meter_free(r->load);
	free(r);
}
