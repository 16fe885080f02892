/*
 * pagesvc.c — GFS_PAGE_* requests (pagesvc.h).
 */
#include "pagesvc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "net.h"
#include "proto.h"
#include "client.h"
#include "rpc.h"

#define PUNT_BATCH 64
#define MAX_PEERS 64

struct peer {
	char name[GF_HOST_MAX + 1], addr[GF_HOST_MAX + 1];
	uint16_t port;
	int64_t free;
	struct gf_rpc *rpc;
};

struct pagesvc {
	struct pages *pg;
	struct gf_key key;
	char hostname[GF_HOST_MAX + 1], gfmd_host[GF_HOST_MAX + 1];
	uint16_t gfmd_port;
	unsigned period_ms;
	pthread_t th;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, poke;
	struct peer peers[MAX_PEERS];
	unsigned npeers, rr;
};

static int malformed(struct gf_conn *conn, uint16_t op)
{
	gf_warn("gfsd: %s: malformed %s", gf_conn_desc(conn), gf_op_name(op));
	return -EBADMSG;
}

static void reply(struct gf_conn *conn, struct gf_frame *f, int status,
		  const struct gf_wbuf *w)
{
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, status, w, -1);
}

static int op_put(struct pages *pg, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_put_req req;

	if (gfs_page_put_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	int r = pages_put(pg, req.owner, req.slot, req.stamp, req.npages, req.data);
	if (r == 0 && gf_conn_peer_kind(conn) == GF_PEER_CLIENT)
		pages_set_owner_host(pg, req.owner, gf_conn_peer_host(conn));
	reply(conn, f, r, NULL);
	return 0;
}

/* Pages another gfsd moves on (PUNTPAGE): stored as a put, and the owner's
 * host it names is remembered as if the owner had put them here. */
static int op_punt(struct pages *pg, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_punt_req req;

	if (gfs_page_punt_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	if (gf_conn_peer_kind(conn) != GF_PEER_GFSD) {
		reply(conn, f, -EPERM, NULL);
		return 0;
	}
	int r = pages_put(pg, req.put.owner, req.put.slot, req.put.stamp, req.put.npages,
			  req.put.data);
	if (r == 0 && req.owner_host[0])
		pages_set_owner_host(pg, req.put.owner, req.owner_host);
	reply(conn, f, r, NULL);
	return 0;
}

static int op_get(struct pages *pg, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_get_req req;
	struct gf_wbuf w;
	size_t fixed, data;
	uint8_t *p;
	int rc;

	if (gfs_page_get_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	/* the reply is built in place: stamps, then the pages copied straight
	 * from the cache behind them */
	fixed = GFS_PAGE_GET_REP_FIXED(req.npages);
	data = (size_t)req.npages * GF_PAGE_SIZE;
	gf_wbuf_init(&w);
	if ((rc = gf_wbuf_reserve(&w, fixed + data)) < 0) {
		reply(conn, f, rc, NULL);
		return 0;
	}
	uint64_t stamps[GF_PAGE_BATCH];
	p = w.data;
	pages_get(pg, req.owner, req.slot, req.npages, stamps, p + fixed);
	gf_put_u32(&w, req.npages);
	for (uint32_t i = 0; i < req.npages; i++)
		gf_put_u64(&w, stamps[i]);
	w.len = fixed + data;
	reply(conn, f, 0, &w);
	gf_wbuf_free(&w);
	return 0;
}

static int op_invalidate(struct pages *pg, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_inval_req req;
	struct gfs_page_inval_rep rep;
	struct gf_wbuf w;

	if (gfs_page_inval_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	rep.dropped = pages_invalidate(pg, req.owner, req.slot, req.npages, req.stamp);
	gf_wbuf_init(&w);
	gfs_page_inval_rep_encode(&w, &rep);
	reply(conn, f, w.err, w.err ? NULL : &w);
	gf_wbuf_free(&w);
	return 0;
}

static int op_stats(struct pages *pg, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_stats_rep st;
	struct gf_wbuf w;

	if (f->hdr.len != 0)
		return malformed(conn, f->hdr.op);
	pages_stats(pg, &st);
	gf_wbuf_init(&w);
	gfs_page_stats_rep_encode(&w, &st);
	reply(conn, f, w.err, w.err ? NULL : &w);
	gf_wbuf_free(&w);
	return 0;
}

static int op_updates(struct pages *pg, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_updates_req req;
	struct gfs_page_updates_rep rep = { 0 };
	struct gf_wbuf w;

	if (gfs_page_updates_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	rep.moves = calloc(req.max, sizeof(*rep.moves));
	if (!rep.moves) {
		reply(conn, f, -ENOMEM, NULL);
		return 0;
	}
	/* the owner itself asks (it asks every server it knows, pages put
	 * here by another gfsd's punt included): from now on this cache
	 * knows its host too, and never punts its pages there */
	if (gf_conn_peer_kind(conn) == GF_PEER_CLIENT)
		pages_set_owner_host(pg, req.owner, gf_conn_peer_host(conn));
	rep.count = pages_updates(pg, req.owner, rep.moves, req.max);
	gf_wbuf_init(&w);
	gfs_page_updates_rep_encode(&w, &rep);
	reply(conn, f, w.err, w.err ? NULL : &w);
	gf_wbuf_free(&w);
	free(rep.moves);
	return 0;
}

static int op_cap(struct pagesvc *ps, struct gf_conn *conn, struct gf_frame *f)
{
	struct gfs_page_cap_req req;
	uint8_t kind = gf_conn_peer_kind(conn);

	if (gfs_page_cap_req_decode(f->payload, f->hdr.len, &req) < 0)
		return malformed(conn, f->hdr.op);
	if (kind != GF_PEER_ADMIN && kind != GF_PEER_GFMD) {
		reply(conn, f, -EPERM, NULL);
		return 0;
	}
	pages_set_cap(ps->pg, req.pages);
	gf_info("gfsd: swap page cache: %s lends at most %llu pages now", gf_conn_desc(conn),
		(unsigned long long)req.pages);
	pthread_mutex_lock(&ps->mu);
	ps->poke = 1;
	pthread_cond_signal(&ps->cv);
	pthread_mutex_unlock(&ps->mu);
	reply(conn, f, 0, NULL);
	return 0;
}

static int handle(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct pagesvc *ps = arg;
	struct pages *pg = ps->pg;

	switch (f->hdr.op) {
	case GFS_PAGE_PUT: return op_put(pg, conn, f);
	case GFS_PAGE_GET: return op_get(pg, conn, f);
	case GFS_PAGE_INVALIDATE: return op_invalidate(pg, conn, f);
	case GFS_PAGE_STATS: return op_stats(pg, conn, f);
	case GFS_PAGE_UPDATES: return op_updates(pg, conn, f);
	case GFS_PAGE_CAP: return op_cap(ps, conn, f);
	case GFS_PAGE_PUNT: return op_punt(pg, conn, f);
	default:
		reply(conn, f, -ENOSYS, NULL);
		return 0;
	}
}

void pagesvc_server_ops(struct pagesvc *ps, struct gf_server_ops *ops)
{
	ops->handle = handle;
	ops->closed = NULL;
	ops->arg = ps;
}

/* ---- the pager ------------------------------------------------------------------- */

/* The other gfsd that lend memory, from gfmd's host list. */
static int refresh_peers(struct pagesvc *ps)
{
	struct gfm_host_list_rep hl;
	int r = gf_host_list_once(ps->gfmd_host, ps->gfmd_port, &ps->key, GF_PEER_GFSD,
				  ps->hostname, &hl);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < ps->npeers; i++)
		ps->peers[i].free = 0;
	for (uint32_t i = 0; i < hl.count; i++) {
		const struct gf_host_info *h = &hl.hosts[i];
		unsigned k;
		if (!strcmp(h->name, ps->hostname))
			continue;
		for (k = 0; k < ps->npeers; k++)
			if (!strcmp(ps->peers[k].name, h->name))
				break;
		if (k == ps->npeers) {
			if (k == MAX_PEERS)
				continue;
			memset(&ps->peers[k], 0, sizeof(ps->peers[k]));
			snprintf(ps->peers[k].name, sizeof(ps->peers[k].name), "%s", h->name);
			ps->npeers++;
		}
		struct peer *pe = &ps->peers[k];
		if (strcmp(pe->addr, h->addr) || pe->port != h->port) {
			if (pe->rpc)
				gf_rpc_close(pe->rpc);
			pe->rpc = NULL;
			snprintf(pe->addr, sizeof(pe->addr), "%s", h->addr);
			pe->port = h->port;
		}
		pe->free = h->up ? (int64_t)h->swap_free : 0;
	}
	gfm_host_list_rep_free(&hl);
	return 0;
}

/* Put n pages (one stamp) on peer k, naming their owner's host (""
 * unknown): 0, or -errno (the peer is skipped). */
static int punt_to(struct pagesvc *ps, unsigned k, const struct page_victim *v, uint32_t n,
		   const uint8_t *data, const char *owner_host)
{
	struct peer *pe = &ps->peers[k];
	struct gfs_page_punt_req req = { .put = { .owner = v[0].owner, .slot = v[0].slot,
						  .stamp = v[0].stamp, .npages = n,
						  .data = data } };
	snprintf(req.owner_host, sizeof(req.owner_host), "%s", owner_host);
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	if (!pe->rpc || !gf_rpc_alive(pe->rpc)) {
		if (pe->rpc)
			gf_rpc_close(pe->rpc);
		pe->rpc = NULL;
		r = gf_rpc_connect_timeout(pe->addr, pe->port, &ps->key, GF_PEER_GFSD,
					   ps->hostname, 2000, &pe->rpc);
		if (r < 0)
			return r;
		gf_rpc_set_timeout(pe->rpc, 5000);
	}
	gf_wbuf_init(&w);
	gfs_page_punt_req_encode(&w, &req);
	r = w.err ? w.err : gf_rpc_call_status(pe->rpc, GFS_PAGE_PUNT, &w, &rep);
	gf_wbuf_free(&w);
	if (r == 0)
		gf_reply_release(&rep);
	return r;
}

/* The copy of v put on peer k is stale (the page was rewritten here
 * meanwhile): drop it there, as its owner would. */
static void unput(struct pagesvc *ps, unsigned k, const struct page_victim *v)
{
	struct gfs_page_inval_req req = { .owner = v->owner, .slot = v->slot, .npages = 1,
					  .stamp = v->stamp };
	struct gf_wbuf w;
	struct gf_reply rep;

	if (!ps->peers[k].rpc)
		return;
	gf_wbuf_init(&w);
	gfs_page_inval_req_encode(&w, &req);
	if (!w.err && gf_rpc_call_status(ps->peers[k].rpc, GFS_PAGE_INVALIDATE, &w, &rep) == 0)
		gf_reply_release(&rep);
	gf_wbuf_free(&w);
}

/* Move up to `excess` pages on; how many went (moved or dropped). */
static uint64_t shrink(struct pagesvc *ps, uint64_t excess)
{
	static struct page_victim v[PUNT_BATCH];
	static uint8_t data[PUNT_BATCH * GF_PAGE_SIZE];
	uint64_t done = 0;

	refresh_peers(ps); /* when gfmd does not answer, the peers known stay */
	while (done < excess) {
		uint32_t want = excess - done < PUNT_BATCH ? (uint32_t)(excess - done) : PUNT_BATCH;
		uint32_t n = pages_victims(ps->pg, want, v, data);
		if (n == 0)
			break;
		for (uint32_t i = 0; i < n;) {
			uint32_t run = 1; /* one PUT per stamp */
			while (i + run < n && v[i + run].stamp == v[i].stamp)
				run++;
			const char *to = NULL;
			unsigned to_k = 0;
			char owner_host[GF_HOST_MAX + 1];
			int known = pages_owner_host(ps->pg, v[i].owner, owner_host,
						     sizeof(owner_host));
			for (unsigned t = 0; t < ps->npeers && !to; t++) {
				unsigned k = (ps->rr + t) % ps->npeers;
				if (ps->peers[k].free < (int64_t)run)
					continue;
				/* never back to the host whose memory ran short */
				if (known && strcmp(ps->peers[k].name, owner_host) == 0)
					continue;
				int r = punt_to(ps, k, v + i, run, data + (size_t)i * GF_PAGE_SIZE,
						known ? owner_host : "");
				if (r == 0) {
					ps->peers[k].free -= run;
					ps->rr = k + 1;
					to = ps->peers[k].name;
					to_k = k;
				} else {
					ps->peers[k].free = 0;
				}
			}
			static uint8_t kept[PUNT_BATCH];
			pages_moved(ps->pg, v + i, run, to, 1, kept);
			for (uint32_t j = 0; to && j < run; j++)
				if (kept[j])
					unput(ps, to_k, &v[i + j]);
			i += run;
		}
		done += n;
	}
	return done;
}

static void *pager(void *arg)
{
	struct pagesvc *ps = arg;

	pthread_mutex_lock(&ps->mu);
	while (!ps->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(ps->period_ms % 1000) * 1000000L;
		ts.tv_sec += ps->period_ms / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!ps->stop && !ps->poke &&
		       pthread_cond_timedwait(&ps->cv, &ps->mu, &ts) != ETIMEDOUT)
			;
		ps->poke = 0;
		if (ps->stop)
			break;
		pthread_mutex_unlock(&ps->mu);
		uint64_t expired = pages_expire(ps->pg);
		uint64_t excess = pages_excess(ps->pg), moved = 0, given;
		if (excess)
			moved = shrink(ps, excess);
		given = pages_compact(ps->pg);
		if (moved || given || expired)
			gf_info("gfsd: swap page cache: %llu pages moved on or dropped, %llu of dead "
				"owners dropped, %llu MiB given back to the system",
				(unsigned long long)moved, (unsigned long long)expired,
				(unsigned long long)(given >> 20));
		pthread_mutex_lock(&ps->mu);
	}
	pthread_mutex_unlock(&ps->mu);
	return NULL;
}

int pagesvc_new(const struct pagesvc_config *cfg, struct pagesvc **out)
{
	struct pagesvc *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	ps->pg = cfg->pg;
	ps->key = *cfg->key;
	snprintf(ps->hostname, sizeof(ps->hostname), "%s", cfg->hostname);
	snprintf(ps->gfmd_host, sizeof(ps->gfmd_host), "%s", cfg->gfmd_host);
	ps->gfmd_port = cfg->gfmd_port;
	ps->period_ms = cfg->period_ms ? cfg->period_ms : 500;
	pthread_mutex_init(&ps->mu, NULL);
	pthread_cond_init(&ps->cv, NULL);
	*out = ps;
	return 0;
}

int pagesvc_start(struct pagesvc *ps)
{
	int r = pthread_create(&ps->th, NULL, pager, ps);

	if (r)
		return -r;
	ps->running = 1;
	return 0;
}

void pagesvc_stop(struct pagesvc *ps)
{
	if (!ps->running)
		return;
	pthread_mutex_lock(&ps->mu);
	ps->stop = 1;
	pthread_cond_signal(&ps->cv);
	pthread_mutex_unlock(&ps->mu);
	pthread_join(ps->th, NULL);
	ps->running = 0;
}

void pagesvc_free(struct pagesvc *ps)
{
	if (!ps)
		return;
	pagesvc_stop(ps);
	for (unsigned i = 0; i < ps->npeers; i++)
		if (ps->peers[i].rpc)
			gf_rpc_close(ps->peers[i].rpc);
	pthread_mutex_destroy(&ps->mu);
	pthread_cond_destroy(&ps->cv);
	memset(&ps->key, 0, sizeof(ps->key));
	free(ps);
}
