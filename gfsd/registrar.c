#include "registrar.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "log.h"
#include "proto.h"
#include "rpc.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000
#define STOP_WAIT_SEC 5

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
	struct gfm_heartbeat_rep rep;
};

/* Sleep ms or until stopped; returns true when stopping. */
static bool sleep_ms(struct registrar *r, uint32_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
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
	gf_wbuf_init(&w);
	gfm_heartbeat_req_encode(&w, &r->hb);
	rc = w.err ? w.err : gf_rpc_call_status(r->rpc, GFM_HEARTBEAT, &w, &reply);
	gf_wbuf_free(&w);
	if (rc < 0)
		return rc;
	rc = gfm_heartbeat_rep_decode(reply.payload, reply.len, &r->rep);
	gf_reply_release(&reply);
	if (rc < 0)
		return rc;
	r->hb.ndone = 0; /* gfmd has them */
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
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	load_meter_free(r->load);
	free(r);
}
