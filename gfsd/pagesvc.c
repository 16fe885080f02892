/*
 * pagesvc.c — GFS_PAGE_* requests (pagesvc.h).
 */
#include "pagesvc.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "net.h"
#include "proto.h"

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
	reply(conn, f, pages_put(pg, req.owner, req.slot, req.stamp, req.npages, req.data),
	      NULL);
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

static int handle(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct pages *pg = arg;

	switch (f->hdr.op) {
	case GFS_PAGE_PUT: return op_put(pg, conn, f);
	case GFS_PAGE_GET: return op_get(pg, conn, f);
	case GFS_PAGE_INVALIDATE: return op_invalidate(pg, conn, f);
	case GFS_PAGE_STATS: return op_stats(pg, conn, f);
	default:
		reply(conn, f, -ENOSYS, NULL);
		return 0;
	}
}

void pagesvc_server_ops(struct pages *pg, struct gf_server_ops *ops)
{
	ops->handle = handle;
	ops->closed = NULL;
	ops->arg = pg;
}
