#include "handlers.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "repair.h"
#include "replicate.h"

/* A reply waiting for its commit. */
struct pending {
	struct gf_conn *conn;
	uint16_t op;
	uint32_t reqid;
	int32_t status; /* the request's own result */
	struct gf_wbuf w;
};

static void pending_done(void *arg, int commit_status)
{
	struct pending *p = arg;
	int32_t status = commit_status ? commit_status : p->status;
	gf_conn_reply(p->conn, p->op, p->reqid, status, status ? NULL : &p->w, -1);
	gf_conn_put(p->conn);
	gf_wbuf_free(&p->w);
	free(p);
}

/*
 * Errors gfmd decides that an application will see and an operator may act
 * on (issue 11): one line each, rate-limited per kind. ENOENT, EEXIST,
 * ENOTEMPTY and the like are the application's business and not logged.
 */
static struct gf_ratelimit rl_denied = GF_RATELIMIT(10, 60000);
static struct gf_ratelimit rl_failed = GF_RATELIMIT(10, 60000);

static void log_refusal(struct gf_conn *c, const struct gf_frame *f, int status)
{
	struct gf_ratelimit *rl;
	if (f->hdr.op == GFM_ACCESS)
		return; /* access(2) asks; a "no" is its answer, not a refusal */
	switch (status) {
	case -EACCES:
	case -EPERM: rl = &rl_denied; break;
	case -EIO:
	case -ESTALE:
	case -ENOSPC:
	case -EROFS:
	case -ENOLCK:
	case -ENOMEM: rl = &rl_failed; break;
	default: return;
	}
	/* every namespace request starts with the caller's cred, then the
	 * inode (or directory) it is about */
	char what[96] = "";
	if (f->hdr.op >= GFM_LOOKUP && f->hdr.op <= GFM_REPLICAS_ALL) {
		struct gf_rbuf r;
		gf_rbuf_init(&r, f->payload, f->hdr.len);
		uint32_t uid = gf_get_u32(&r);
		gf_get_u32(&r); /* gid */
		uint32_t ng = gf_get_u32(&r);
		for (uint32_t i = 0; i < ng && i < GF_MAX_GROUPS && !r.err; i++)
			gf_get_u32(&r);
		uint64_t ino = gf_get_u64(&r);
		if (!r.err)
			snprintf(what, sizeof(what), " (inode %llu, uid %u)",
				 (unsigned long long)ino, uid);
	}
	gf_log_limited(rl, GF_LOG_WARN, "gfmd: %s: %s%s refused: %s", gf_conn_desc(c),
		       gf_op_name(f->hdr.op), what, strerror(-status));
}

/*
 * Send status (and w when status is 0) for request f: now, or after ticket
 * is committed. w is consumed. Every reply that shows state waits for the
 * commit of the changes it shows (namespace.h: visibility), errors too.
 */
/* The reply to f, sent once ticket is committed (durable: once it is on
 * disk, gf_store_on_durable), or now for ticket 0. */
static int reply_after(struct gfmd *g, struct gf_conn *c, const struct gf_frame *f,
		       int status, struct gf_wbuf *w, uint64_t ticket, int durable)
{
	uint16_t op = (uint16_t)(f->hdr.op | GF_OP_REPLY);
	if (status)
		log_refusal(c, f, status);
	if (!status && w && w->err) {
		gf_err("gfmd: %s: cannot encode reply to %s: %s", gf_conn_desc(c),
		       gf_op_name(f->hdr.op), strerror(-w->err));
		status = -EIO;
	}
	if (ticket) {
		struct pending *p = calloc(1, sizeof(*p));
		if (!p) {
			/* the change is queued; we only cannot say so: the client
			 * sees the connection close, as after a crash */
			gf_err("gfmd: out of memory parking a reply");
			if (w)
				gf_wbuf_free(w);
			return -ENOMEM;
		}
		p->conn = c;
		p->op = op;
		p->reqid = f->hdr.reqid;
		p->status = status;
		if (w && !status)
			p->w = *w;
		else if (w)
			gf_wbuf_free(w);
		gf_conn_get(c);
		if (durable)
			gf_store_on_durable(g->store, ticket, pending_done, p);
		else
			gf_store_on_commit(g->store, ticket, pending_done, p);
		return 0;
	}
	gf_conn_reply(c, op, f->hdr.reqid, status, status ? NULL : w, -1);
	if (w)
		gf_wbuf_free(w);
	return 0;
}

static int reply(struct gfmd *g, struct gf_conn *c, const struct gf_frame *f,
		 int status, struct gf_wbuf *w, uint64_t ticket)
{
	return reply_after(g, c, f, status, w, ticket, 0);
}

static int malformed(struct gf_conn *c, const struct gf_frame *f)
{
	gf_warn("gfmd: %s: malformed %s: %u-byte payload does not decode; closing",
		gf_conn_desc(c), gf_op_name(f->hdr.op), f->hdr.len);
	return -EBADMSG;
}

/* An attribute reply; dirs (may be NULL): the directories the mutation
 * changed (gf_ns_capture_dirs), for the client's cache. */
static int reply_attr_after(struct gfmd *g, struct gf_conn *c, const struct gf_frame *f,
			    int rc, const struct gf_attr *a, const struct gfm_dirs *dirs,
			    uint64_t ticket, int durable)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		struct gfm_attr_rep m = { .attr = *a };
		if (dirs)
			m.dirs = *dirs;
		gfm_attr_rep_encode(&w, &m);
	}
	return reply_after(g, c, f, rc, &w, ticket, durable);
}

static int reply_attr_dirs(struct gfmd *g, struct gf_conn *c, const struct gf_frame *f,
			   int rc, const struct gf_attr *a, const struct gfm_dirs *dirs,
			   uint64_t ticket)
{
	return reply_attr_after(g, c, f, rc, a, dirs, ticket, 0);
}

static int reply_attr(struct gfmd *g, struct gf_conn *c, const struct gf_frame *f,
		      int rc, const struct gf_attr *a, uint64_t ticket)
{
	return reply_attr_dirs(g, c, f, rc, a, NULL, ticket);
}

/* The reply to UNLINK, RMDIR and RENAME. */
static int reply_dirs(struct gfmd *g, struct gf_conn *c, const struct gf_frame *f, int rc,
		      const struct gfm_dirs *dirs, uint64_t ticket)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		struct gfm_dirs_rep m = { .dirs = *dirs };
		gfm_dirs_rep_encode(&w, &m);
	}
	return reply(g, c, f, rc, &w, ticket);
}

/*
 * A GFM_ONCE request being run (once.h): the mutation handlers below take
 * one (NULL for a plain request), pass its id to the namespace, which
 * records a success with the mutation's own changes, and note here how it
 * ended, for gf_once_end.
 */
struct once_run {
	struct gf_once_id id; /* the mutation notes in it what it recorded */
	int ran; /* the mutation was called: status and ticket are set */
	int status;
	uint64_t ticket;
};

static struct gf_once_id *once_id(struct once_run *o)
{
	return o ? &o->id : NULL;
}

static void ran(struct once_run *o, int status, uint64_t ticket)
{
	if (!o)
		return;
	o->ran = 1;
	o->status = status;
	o->ticket = ticket;
}

/* ---- namespace requests ----------------------------------------------------------- */

/* Around a mutation that adds a name to dir: the leases other clients hold
 * on dir are recalled first (leases.h). */
static void adding_begin(struct gfmd *g, const struct once_run *o, uint64_t dir)
{
	if (g->leases)
		gf_leases_write_begin(g->leases, o ? o->id.client : 0, dir);
}

static void adding_end(struct gfmd *g, uint64_t dir)
{
	if (g->leases)
		gf_leases_write_end(g->leases, dir);
}

static int h_name(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_name_req m;
	if (gfm_name_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_attr a;
	struct gfm_dirs dirs;
	uint64_t t = 0;
	int rc;
	switch (f->hdr.op) {
	case GFM_LOOKUP:
		rc = gf_ns_lookup(g->ns, &m.cred, m.parent, m.name, &a, &t);
		return reply_attr(g, c, f, rc, &a, t);
	case GFM_UNLINK:
		gf_ns_capture_dirs(&dirs);
		rc = gf_ns_unlink(g->ns, &m.cred, m.parent, m.name, once_id(o), &t);
		gf_ns_capture_dirs(NULL);
		break;
	default:
		gf_ns_capture_dirs(&dirs);
		rc = gf_ns_rmdir(g->ns, &m.cred, m.parent, m.name, once_id(o), &t);
		gf_ns_capture_dirs(NULL);
		break;
	}
	ran(o, rc, t);
	return reply_dirs(g, c, f, rc, &dirs, t);
}

static int h_ino(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_ino_req m;
	if (gfm_ino_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	uint64_t t = 0;
	int rc;
	switch (f->hdr.op) {
	case GFM_GETATTR: {
		struct gf_attr a;
		rc = gf_ns_getattr(g->ns, &m.cred, m.ino, &a, &t);
		return reply_attr(g, c, f, rc, &a, t);
	}
	case GFM_READLINK: {
		struct gfm_readlink_rep *r = malloc(sizeof(*r));
		if (!r)
			return reply(g, c, f, -ENOMEM, &w, 0);
		rc = gf_ns_readlink(g->ns, &m.cred, m.ino, r->target, sizeof(r->target), &t);
		if (!rc)
			gfm_readlink_rep_encode(&w, r);
		free(r);
		return reply(g, c, f, rc, &w, t);
	}
	case GFM_LISTXATTR: {
		size_t len = 0;
		rc = gf_ns_listxattr(g->ns, &m.cred, m.ino, NULL, 0, &len, &t);
		uint8_t *buf = NULL;
		if (!rc && len) {
			/* names may be added between the two calls: retry */
			for (int tries = 0; tries < 8; tries++) {
				free(buf);
				buf = malloc(len + 1024);
				if (!buf) {
					rc = -ENOMEM;
					break;
				}
				rc = gf_ns_listxattr(g->ns, &m.cred, m.ino, buf, len + 1024, &len,
						     &t);
				if (rc != -ERANGE)
					break;
			}
		}
		if (!rc) {
			struct gfm_xattr_rep r = { .len = (uint32_t)len,
						   .data_len = (uint32_t)len, .data = buf };
			gfm_xattr_rep_encode(&w, &r);
		}
		free(buf);
		return reply(g, c, f, rc, &w, t);
	}
	default: { /* GFM_STATFS */
		struct gfm_statfs_rep r = { .bsize = 4096, .namemax = GF_NAME_MAX };
		uint64_t cap, fr;
		uint32_t nup;
		gf_hosts_totals(g->hosts, &cap, &fr, &nup);
		r.blocks = cap / r.bsize;
		r.bfree = r.bavail = fr / r.bsize;
		uint64_t used = gf_ns_inode_count(g->ns);
		r.ffree = 1ull << 32;
		r.files = used + r.ffree;
		gfm_statfs_rep_encode(&w, &r);
		return reply(g, c, f, 0, &w, 0);
	}
	}
}

static int h_setattr(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_setattr_req m;
	if (gfm_setattr_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_attr a;
	struct gfm_dirs dirs;
	uint64_t t = 0;
	gf_ns_capture_dirs(&dirs);
	int rc = gf_ns_setattr(g->ns, &m, &a, &t);
	gf_ns_capture_dirs(NULL);
	return reply_attr_dirs(g, c, f, rc, &a, &dirs, t);
}

static int h_mknod(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_mknod_req m;
	if (gfm_mknod_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_attr a = { 0 };
	struct gfm_dirs dirs;
	uint64_t t = 0;
	int rc;
	adding_begin(g, o, m.parent);
	gf_ns_capture_dirs(&dirs);
	if (f->hdr.op == GFM_MKDIR)
		rc = gf_ns_mkdir(g->ns, &m.cred, m.parent, m.name, m.mode, m.umask, &a,
				 once_id(o), &t);
	else
		rc = gf_ns_mknod(g->ns, &m.cred, m.parent, m.name, m.mode, m.rdev, m.umask, &a,
				 once_id(o), &t);
	gf_ns_capture_dirs(NULL);
	adding_end(g, m.parent);
	ran(o, rc, t);
	return reply_attr_dirs(g, c, f, rc, &a, &dirs, t);
}

/* What gfmd keeps per connection: the mount whose locks it carries, and
 * the write handles it opened (gfmd/namespace.h: writers). */
struct conn_info {
	uint64_t client; /* 0: no lock session yet */
	struct conn_writer {
		uint64_t ino;
		uint32_t n;
	} *w;
	size_t nw, capw;
};

static struct conn_info *conn_info(struct gf_conn *c)
{
	struct conn_info *ci = gf_conn_data(c);
	if (!ci && (ci = calloc(1, sizeof(*ci))))
		gf_conn_set_data(c, ci);
	return ci;
}

static int wants_write(uint32_t flags)
{
	return (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR ||
	       (flags & O_TRUNC);
}

/* An open that the namespace counted as a writer (rc 0, a regular file,
 * flags that write) is this connection's until GFM_RELEASE or its close. */
static void track_writer(struct gfmd *g, struct gf_conn *c, int rc, struct gfm_open_rep *rep,
			 uint32_t flags)
{
	const struct gf_attr *a = &rep->attr;
	if (rc || !S_ISREG(a->mode) || !wants_write(flags))
		return;
	/* (after this open counted it; another open racing with it makes it
	 * more, never less: a writer that went meanwhile wrote before any
	 * request this one makes) */
	rep->writers = gf_ns_writers(g->ns, a->ino);
	struct conn_info *ci = conn_info(c);
	if (ci) {
		for (size_t i = 0; i < ci->nw; i++)
			if (ci->w[i].ino == a->ino) {
				ci->w[i].n++;
				return;
			}
		if (ci->nw == ci->capw) {
			size_t cap = ci->capw ? ci->capw * 2 : 8;
			struct conn_writer *v = realloc(ci->w, cap * sizeof(*v));
			if (v) {
				ci->w = v;
				ci->capw = cap;
			}
		}
		if (ci->nw < ci->capw) {
			ci->w[ci->nw].ino = a->ino;
			ci->w[ci->nw].n = 1;
			ci->nw++;
			return;
		}
	}
	/* cannot remember it: better forget the writer now than never */
	gf_warn("gfmd: %s: out of memory tracking a writer of inode %llu",
		gf_conn_desc(c), (unsigned long long)a->ino);
	gf_ns_writer_done(g->ns, a->ino);
}

/* fsync, fsyncdir: every mutation acknowledged before this one, on disk. */
static int h_sync(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	if (f->hdr.len != 0)
		return malformed(c, f);
	uint64_t t = gf_store_last_ticket(g->store);
	return reply_after(g, c, f, 0, NULL, t, 1);
}

static int h_release(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_ino_req m;
	if (gfm_ino_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct conn_info *ci = gf_conn_data(c);
	int found = 0;
	for (size_t i = 0; ci && i < ci->nw; i++)
		if (ci->w[i].ino == m.ino) {
			if (--ci->w[i].n == 0)
				ci->w[i] = ci->w[--ci->nw];
			uint32_t want = gf_ns_writer_done(g->ns, m.ino);
			if (want)
				gf_repair_check(g->repair, m.ino, want);
			found = 1;
			break;
		}
	if (!found) {
		/* a handle opened on an earlier connection (counted and let go
		 * with it), or before this gfmd started: not counted here, but
		 * its writes may have kept a copy from being made (gfsd refused
		 * it while the writer was there), so the repair looks again */
		uint32_t want = gf_ns_unknown_writer_done(g->ns, m.ino);
		if (want)
			gf_repair_check(g->repair, m.ino, want);
	}
	return reply(g, c, f, 0, NULL, 0);
}

/* gfrep: one more replica (replicate.h), copied before the reply. */
#define REPLICATE_BUSY_WAIT_MS 5000

static int h_replicate(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_replicate_req m;
	if (gfm_replicate_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gfm_replicate_rep r = { 0 };
	uint64_t t = 0;
	/* only the flags of the wire (gfmd's own, GFMD_REP_FOLLOW, are not) */
	if (m.flags & ~(uint32_t)GF_REP_KEEP)
		return reply(g, c, f, -EINVAL, NULL, 0);
	int rc = gfmd_replicate(g, &m.cred, m.ino, m.dst_host, m.src_host, m.flags, &r.host_id,
				&r.bytes, &t);
	/* A writer's close(2) returns before its mount releases the file
	 * (FUSE sends RELEASE afterwards, and the replica is sealed first): a
	 * copy asked for right after the close waits for that a while (this
	 * connection's thread only) before the file counts as still open. */
	for (int waited = 0; (rc == -EBUSY || rc == -EAGAIN) && waited < REPLICATE_BUSY_WAIT_MS;
	     waited += 50) {
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
		t = 0;
		rc = gfmd_replicate(g, &m.cred, m.ino, m.dst_host, m.src_host, m.flags, &r.host_id,
				    &r.bytes, &t);
	}
	if (rc == -EAGAIN)
		rc = -EBUSY; /* (a writer on gfsd's side: still open, to the client) */
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc)
		gfm_replicate_rep_encode(&w, &r);
	return reply(g, c, f, rc, &w, t);
}

static int h_host_drain(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_host_drain_req m;
	if (gfm_host_drain_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	if (gf_conn_peer_kind(c) != GF_PEER_ADMIN || m.cred.uid != 0)
		return reply(g, c, f, -EPERM, NULL, 0);
	uint64_t t = 0;
	int rc = gf_hosts_set_draining(g->hosts, m.host_id, m.on, &t);
	return reply(g, c, f, rc, NULL, t);
}

static int h_replica_drop(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_replica_drop_req m;
	if (gfm_replica_drop_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint64_t t = 0;
	int rc = gf_ns_replica_drop(g->ns, &m.cred, m.ino, m.host_id, m.keep, &t);
	if (rc == 0)
		gf_repair_check(g->repair, m.ino, 0); /* below its count now? */
	return reply(g, c, f, rc, NULL, t);
}

/*
 * Fill rep->replicas from the catalogue: up hosts first (the client's own
 * host first among them), then the others.
 */
static void fill_replicas(struct gfmd *g, struct gf_conn *c, struct gfm_open_rep *rep,
			  const struct gf_ns_replica *reps, size_t n)
{
	const char *me = gf_conn_peer_host(c);
	rep->nreplicas = 0;
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < n && rep->nreplicas < GF_MAX_REPLICAS; i++) {
			struct gf_replica r;
			int up = gf_hosts_replica_info(g->hosts, reps[i].host_id, reps[i].gen, &r);
			if (up < 0)
				continue;
			r.fgen = reps[i].fgen;
			int mine = me && strcmp(r.host, me) == 0;
			if ((pass == 0 && up && mine) || (pass == 1 && up && !mine) ||
			    (pass == 2 && !up))
				rep->replicas[rep->nreplicas++] = r;
		}
	}
}

/* What CREATE, OPEN and REPLICAS build their reply in (too big for the stack). */
struct open_reply {
	struct gfm_open_rep rep;
	struct gf_ns_replica r[GF_MAX_REPLICAS];
	size_t nr;
};

/* Reply with o->rep (attr set by the caller) and the replicas o->r[0..nr)
 * when rc is 0. o is freed. */
static int reply_open(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, int rc,
		      struct open_reply *o, uint64_t ticket)
{
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		fill_replicas(g, c, &o->rep, o->r, o->nr);
		gfm_open_rep_encode(&w, &o->rep);
	}
	free(o);
	return reply(g, c, f, rc, &w, ticket);
}

static int h_create(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_create_req m;
	if (gfm_create_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct open_reply *or = calloc(1, sizeof(*or));
	if (!or)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	struct gf_hosts_placement pl = { g->hosts, gf_conn_peer_host(c) };
	uint64_t t = 0;
	adding_begin(g, o, m.parent);
	gf_ns_capture_dirs(&or->rep.dirs);
	int rc = gf_ns_create(g->ns, &m.cred, m.parent, m.name, m.mode, m.flags, m.umask,
			      gf_hosts_place, &pl, &or->rep.attr, or->r, &or->nr, once_id(o), &t);
	gf_ns_capture_dirs(NULL);
	adding_end(g, m.parent);
	track_writer(g, c, rc, &or->rep, m.flags);
	ran(o, rc, t);
	return reply_open(g, c, f, rc, or, t);
}

static int h_open(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_open_req m;
	if (gfm_open_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct open_reply *or = calloc(1, sizeof(*or));
	if (!or)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	struct gf_hosts_placement pl = { g->hosts, gf_conn_peer_host(c) };
	uint64_t t = 0;
	int rc = gf_ns_open(g->ns, &m.cred, m.ino, m.flags, gf_hosts_place, &pl,
			    &or->rep.attr, or->r, GF_MAX_REPLICAS, &or->nr, once_id(o), &t);
	track_writer(g, c, rc, &or->rep, m.flags);
	ran(o, rc, t);
	return reply_open(g, c, f, rc, or, t);
}

static int h_rename(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_rename_req m;
	if (gfm_rename_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gfm_dirs dirs;
	uint64_t t = 0;
	adding_begin(g, o, m.newparent);
	gf_ns_capture_dirs(&dirs);
	int rc = gf_ns_rename(g->ns, &m.cred, m.parent, m.name, m.newparent, m.newname,
			      m.flags, once_id(o), &t);
	gf_ns_capture_dirs(NULL);
	adding_end(g, m.newparent);
	ran(o, rc, t);
	return reply_dirs(g, c, f, rc, &dirs, t);
}

static int h_link(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_link_req m;
	if (gfm_link_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_attr a;
	struct gfm_dirs dirs;
	uint64_t t = 0;
	adding_begin(g, o, m.newparent);
	gf_ns_capture_dirs(&dirs);
	int rc = gf_ns_link(g->ns, &m.cred, m.ino, m.newparent, m.newname, &a, once_id(o), &t);
	gf_ns_capture_dirs(NULL);
	adding_end(g, m.newparent);
	ran(o, rc, t);
	return reply_attr_dirs(g, c, f, rc, &a, &dirs, t);
}

static int h_symlink(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_symlink_req *m = malloc(sizeof(*m));
	if (!m)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	if (gfm_symlink_req_decode(f->payload, f->hdr.len, m)) {
		free(m);
		return malformed(c, f);
	}
	struct gf_attr a = { 0 };
	uint64_t t = 0;
	struct gfm_dirs dirs;
	uint64_t parent = m->parent;
	adding_begin(g, o, parent);
	gf_ns_capture_dirs(&dirs);
	int rc = gf_ns_symlink(g->ns, &m->cred, m->parent, m->name, m->target, &a, once_id(o),
			       &t);
	gf_ns_capture_dirs(NULL);
	adding_end(g, parent);
	free(m);
	ran(o, rc, t);
	return reply_attr_dirs(g, c, f, rc, &a, &dirs, t);
}

/* GFM_DIR_LEASE: the lease is registered first, the names read after, so
 * that a name added in between is recalled (leases.h). */
static int h_dir_lease(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_dir_lease_req m;
	if (gfm_dir_lease_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	if (!g->leases)
		return reply(g, c, f, -EOPNOTSUPP, NULL, 0);
	struct gfm_dir_lease_rep r = { 0 };
	int renewed = 0;
	int rc = gf_leases_grant(g->leases, m.client, m.dir, m.renew, &r.gen, &r.term_ms,
				 &renewed);
	if (rc)
		return reply(g, c, f, rc, NULL, 0);
	char *names = NULL;
	if (!renewed) {
		names = malloc(GF_LEASE_NAMES_BYTES);
		rc = names ? gf_ns_dir_names(g->ns, &m.cred, m.dir, names, GF_LEASE_NAMES_BYTES,
					     &r.names_len, &r.count)
			   : -ENOMEM;
		r.names = names;
	} else {
		/* (still a directory the caller may search: checked as a grant is) */
		uint32_t len, n;
		rc = gf_ns_dir_names(g->ns, &m.cred, m.dir, NULL, 0, &len, &n);
		if (rc == -E2BIG)
			rc = 0;
	}
	r.renewed = (uint8_t)renewed;
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		gfm_dir_lease_rep_encode(&w, &r);
		rc = w.err;
	}
	free(names);
	if (rc)
		gf_leases_drop(g->leases, m.client, m.dir, r.gen);
	return reply(g, c, f, rc, &w, 0);
}

static int h_lease_poll(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_lease_poll_req *m = malloc(sizeof(*m));
	if (!m)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	if (gfm_lease_poll_req_decode(f->payload, f->hdr.len, m)) {
		free(m);
		return malformed(c, f);
	}
	int rc = g->leases ? gf_leases_poll(g->leases, c, f->hdr.reqid, m) : -EOPNOTSUPP;
	free(m);
	return rc ? reply(g, c, f, rc, NULL, 0) : 0;
}

static int h_readdir(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_readdir_req m;
	if (gfm_readdir_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint32_t max = m.max == 0 || m.max > GF_READDIR_MAX ? GF_READDIR_MAX : m.max;
	struct gfm_readdir_rep r = { 0 };
	r.ents = calloc(max, sizeof(*r.ents));
	if (!r.ents)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	uint64_t t = 0;
	int rc = gf_ns_readdir(g->ns, &m.cred, m.ino, m.cookie, max, r.ents, &r.count, &r.eof,
			       &t);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc)
		gfm_readdir_rep_encode(&w, &r);
	free(r.ents);
	return reply(g, c, f, rc, &w, t);
}

static int h_close_write(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_close_write_req m;
	if (gfm_close_write_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_attr a;
	uint64_t t = 0;
	int rc = gf_ns_close_write(g->ns, &m.cred, m.ino, m.fgen, m.end, m.mtime, m.flags, m.blocks, &a,
				   &t);
	uint32_t want;
	if (rc == 0 && g->repair && (want = gf_ns_follow_wanted(g->ns, m.ino, REPAIR_FOLLOW_MIN)))
		gf_repair_check(g->repair, m.ino, want); /* copied while it is written */
	if (rc == 0 && (m.flags & GF_CW_SYNC)) {
		/* fsync's: once everything acknowledged before is on disk too */
		uint64_t last = gf_store_last_ticket(g->store);
		return reply_attr_after(g, c, f, 0, &a, NULL, last > t ? last : t, 1);
	}
	return reply_attr(g, c, f, rc, &a, t); /* the writer may keep its pages (fuse/ops.c) */
}

static int h_xattr(struct gfmd *g, struct gf_conn *c, struct gf_frame *f, struct once_run *o)
{
	struct gfm_xattr_req m;
	if (gfm_xattr_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint64_t t = 0;
	int rc;
	if (f->hdr.op == GFM_SETXATTR) {
		rc = gf_ns_setxattr(g->ns, &m.cred, m.ino, m.name, m.value, m.value_len,
				    m.flags, once_id(o), &t);
		ran(o, rc, t);
		if (rc == 0 && strcmp(m.name, GF_NCOPY_XATTR) == 0)
			gf_repair_check(g->repair, m.ino, gf_ncopy_parse(m.value, m.value_len));
		return reply(g, c, f, rc, NULL, t);
	}
	if (f->hdr.op == GFM_REMOVEXATTR) {
		rc = gf_ns_removexattr(g->ns, &m.cred, m.ino, m.name, once_id(o), &t);
		ran(o, rc, t);
		return reply(g, c, f, rc, NULL, t);
	}
	/* GETXATTR */
	size_t size = m.size > GF_XATTR_SIZE_MAX ? GF_XATTR_SIZE_MAX : m.size, len = 0;
	uint8_t *buf = size ? malloc(size) : NULL;
	if (size && !buf)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	rc = gf_ns_getxattr(g->ns, &m.cred, m.ino, m.name, buf, size, &len, &t);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		struct gfm_xattr_rep r = { .len = (uint32_t)len,
					   .data_len = size ? (uint32_t)len : 0, .data = buf };
		gfm_xattr_rep_encode(&w, &r);
	}
	free(buf);
	return reply(g, c, f, rc, &w, t);
}

static int h_access(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_access_req m;
	if (gfm_access_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint64_t t = 0;
	int rc = gf_ns_access(g->ns, &m.cred, m.ino, m.mask, &t);
	return reply(g, c, f, rc, NULL, t);
}

/*
 * Where a file's data is, for schedulers (gfsched, gfrun) and for a gfsd
 * checking a replica it is about to open: every current replica, down hosts
 * included (last), so the caller can tell "all down" from "none". Anyone
 * who may stat the inode may ask, as for GETATTR.
 */
static int h_replicas(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_ino_req m;
	if (gfm_ino_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct open_reply *o = calloc(1, sizeof(*o));
	if (!o)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	uint64_t t = 0, t2 = 0;
	int rc = gf_ns_getattr(g->ns, &m.cred, m.ino, &o->rep.attr, &t);
	if (!rc)
		rc = gf_ns_replicas(g->ns, m.ino, f->hdr.op == GFM_REPLICAS_ALL, o->r,
				    GF_MAX_REPLICAS, &o->nr, &t2);
	return reply_open(g, c, f, rc, o, t > t2 ? t : t2);
}

/*
 * The replica files a gfsd should hold, for its orphan scan. Only gfsd and
 * admin peers may ask; the reply waits until everything issued so far is
 * on disk (committed, and in the fsync mode flushed too), so a scan never
 * sees a replica killed by a change that a crash could roll back.
 */
static int h_host_replicas(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_host_replicas_req m;
	if (gfm_host_replicas_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint8_t kind = gf_conn_peer_kind(c);
	if (kind != GF_PEER_GFSD && kind != GF_PEER_ADMIN)
		return reply(g, c, f, -EPERM, NULL, 0);
	uint32_t max = m.max == 0 || m.max > GF_HOST_REPLICAS_MAX ? GF_HOST_REPLICAS_MAX : m.max;
	struct gfm_host_replicas_rep r = { 0 };
	r.ents = calloc(max, sizeof(*r.ents));
	if (!r.ents)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	uint64_t t = 0;
	int rc = gf_ns_host_replicas(g->ns, m.host_id, m.after, max, r.ents, &r.count, &r.eof,
				     &t);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc)
		gfm_host_replicas_rep_encode(&w, &r);
	free(r.ents);
	return reply_after(g, c, f, rc, &w, t, 1);
}

/* ---- hosts ----------------------------------------------------------------------------- */

static int h_register(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_host_register_req m;
	if (gfm_host_register_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	if (gf_conn_peer_kind(c) != GF_PEER_GFSD) {
		gf_warn("gfmd: %s: refusing host registration from a non-gfsd peer",
			gf_conn_desc(c));
		return reply(g, c, f, -EPERM, NULL, 0);
	}
	struct gfm_host_register_rep r = { .heartbeat_ms = g->heartbeat_ms };
	memcpy(r.cluster_id, g->cluster_id, sizeof(r.cluster_id));
	uint64_t t = 0;
	int rc = gf_hosts_register(g->hosts, &m, &r.host_id, &t);
	if (rc == -EINVAL)
		gf_warn("gfmd: %s: refusing host registration: bad host name or address",
			gf_conn_desc(c));
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc)
		gfm_host_register_rep_encode(&w, &r);
	return reply(g, c, f, rc, &w, t);
}

/* gfsd found one of its replicas corrupt (namespace.h gf_ns_replica_corrupt). */
static void corrupt_report(struct gfmd *g, uint32_t host_id, const struct gf_dead_replica *b)
{
	uint64_t t = 0;
	int rc = gf_ns_replica_corrupt(g->ns, b->ino, host_id, b->gen, &t);
	if (rc == 1) {
		gf_warn("gfmd: host %u: replica of inode %" PRIu64 " (file generation %#" PRIx64
			") is corrupt: no longer served; another copy will replace it",
			host_id, b->ino, b->gen);
		if (g->repair)
			gf_repair_check(g->repair, b->ino, 0);
	} else if (rc == -EMLINK) {
		gf_log(GF_LOG_ERR, "gfmd: host %u: the only current replica of inode %" PRIu64
		       " (file generation %#" PRIx64 ") is corrupt: reads of its bad blocks "
		       "fail with EIO; nothing to copy it from", host_id, b->ino, b->gen);
	}
}

static int h_heartbeat(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_heartbeat_req *m = malloc(sizeof(*m));
	struct gfm_heartbeat_rep *r = malloc(sizeof(*r));
	int rc;
	if (!m || !r) {
		rc = reply(g, c, f, -ENOMEM, NULL, 0);
		goto out;
	}
	if (gfm_heartbeat_req_decode(f->payload, f->hdr.len, m)) {
		rc = malformed(c, f);
		goto out;
	}
	if (gf_conn_peer_kind(c) != GF_PEER_GFSD) {
		rc = reply(g, c, f, -EPERM, NULL, 0);
		goto out;
	}
	int st = gf_hosts_heartbeat(g->hosts, m);
	if (st) {
		rc = reply(g, c, f, st, NULL, 0);
		goto out;
	}
	/* the reply does not wait for these deletions to be committed: if a
	 * crash loses them, gfmd asks again and gfsd finds nothing to delete;
	 * a heartbeat must not stall behind a slow database */
	uint64_t t = 0;
	gf_ns_dead_done(g->ns, m->host_id, m->done, m->ndone, &t);
	t = 0;
	for (uint32_t i = 0; i < m->nbad; i++)
		corrupt_report(g, m->host_id, &m->bad[i]);
	/* only replicas whose death is on disk (namespace.h): committed, and in
	 * the fsync mode also flushed, or a crash of the machine could bring
	 * back a file whose data is gone */
	r->ndead = (uint32_t)gf_ns_dead_list(g->ns, m->host_id, gf_store_durable(g->store),
					     r->dead, GF_MAX_DEAD);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gfm_heartbeat_rep_encode(&w, r);
	rc = reply(g, c, f, 0, &w, t);
out:
	free(m);
	free(r);
	return rc;
}

static int h_host_list(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_host_list_rep r = { 0 };
	int rc = gf_hosts_list(g->hosts, &r.hosts, &r.count);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		for (uint32_t i = 0; i < r.count; i++)
			r.hosts[i].nreplicas = gf_ns_replica_count(g->ns, r.hosts[i].host_id);
		gfm_host_list_rep_encode(&w, &r);
		free(r.hosts);
	}
	return reply(g, c, f, rc, &w, 0);
}

/* ---- users and groups by name ------------------------------------------------------- */

static int h_idmap_list(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	if (f->hdr.len != 0)
		return malformed(c, f);
	struct gfm_idmap_list_rep r = { 0 };
	int rc = gf_users_list(g->users, &r.ents, &r.count);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!rc) {
		gfm_idmap_list_rep_encode(&w, &r);
		free(r.ents);
	}
	return reply(g, c, f, rc, &w, 0);
}

static int h_idmap_set(struct gfmd *g, struct gf_conn *c, struct gf_frame *f,
		       struct once_run *o)
{
	struct gfm_idmap_set_req m;
	if (gfm_idmap_set_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint64_t t = 0;
	int rc = gf_users_set(g->users, &m.cred, m.kind, m.name, m.id, m.replace, once_id(o),
			      &t);
	ran(o, rc, t);
	if (rc == -EPERM)
		gf_info("gfmd: %s: uid %u may not change the %s map", gf_conn_desc(c),
			m.cred.uid, m.kind == GF_IDMAP_USER ? "user" : "group");
	return reply(g, c, f, rc, NULL, t);
}

static int h_idmap_del(struct gfmd *g, struct gf_conn *c, struct gf_frame *f,
		       struct once_run *o)
{
	struct gfm_idmap_del_req m;
	if (gfm_idmap_del_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	uint64_t t = 0;
	int rc = gf_users_del(g->users, &m.cred, m.kind, m.name, once_id(o), &t);
	ran(o, rc, t);
	return reply(g, c, f, rc, NULL, t);
}

/* ---- exactly once ------------------------------------------------------------------------- */

/*
 * Attributes for a replayed reply whose inode is gone since (another client
 * removed what this one made): what the request made, with no link left, so
 * the client's kernel soon finds it gone, as if it had been removed right
 * after the first reply.
 */
static void gone_attr(struct gf_attr *a, uint64_t ino, uint32_t mode, const struct gf_cred *cr)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = mode;
	a->uid = cr->uid;
	a->gid = cr->gid;
	a->gen = 1;
	a->atime.sec = a->mtime.sec = a->ctime.sec = now.tv_sec;
	a->atime.nsec = a->mtime.nsec = a->ctime.nsec = (uint32_t)now.tv_nsec;
}

/* A reply with the inode's current attributes (or gone_attr), waiting for
 * the first copy's commit and for what it shows. */
static int replay_attr(struct gfmd *g, struct gf_conn *c, struct gf_frame *f,
		       const struct gf_once_rec *rec, const struct gf_cred *cr, uint32_t mode)
{
	struct gf_attr a;
	uint64_t t = 0;
	if (gf_ns_getattr(g->ns, cr, rec->ino, &a, &t) < 0)
		gone_attr(&a, rec->ino, mode, cr);
	return reply_attr(g, c, f, 0, &a, t > rec->ticket ? t : rec->ticket);
}

/*
 * The open a CREATE or an O_TRUNC OPEN made, made again without truncating
 * (for a writer: a new generation and the replica to write). Only the
 * creator of the file is spared the permission check (gf_ns_reopen), as
 * its first open was; any other open is checked again, so that a resent
 * request can never gain what its first copy did not get.
 */
static int replay_open(struct gfmd *g, struct gf_conn *c, struct gf_frame *f,
		       const struct gf_once_rec *rec, const struct gf_cred *cr, uint32_t flags)
{
	struct open_reply *or = calloc(1, sizeof(*or));
	if (!or)
		return reply(g, c, f, -ENOMEM, NULL, 0);
	struct gf_hosts_placement pl = { g->hosts, gf_conn_peer_host(c) };
	uint64_t t = 0;
	int rc;
	if (rec->created)
		rc = gf_ns_reopen(g->ns, cr, rec->ino, flags, gf_hosts_place, &pl, &or->rep.attr,
				  or->r, GF_MAX_REPLICAS, &or->nr, &t);
	else
		rc = gf_ns_open(g->ns, cr, rec->ino, flags & ~(uint32_t)(O_TRUNC | O_CREAT | O_EXCL),
				gf_hosts_place, &pl, &or->rep.attr, or->r, GF_MAX_REPLICAS,
				&or->nr, NULL, &t);
	track_writer(g, c, rc, &or->rep, flags & ~(uint32_t)(O_TRUNC | O_CREAT | O_EXCL));
	return reply_open(g, c, f, rc, or, t > rec->ticket ? t : rec->ticket);
}

/*
 * The answer to a copy of a request that was applied before (once.h): its
 * error again, or a success rebuilt from the record and the inode as it is
 * now; nothing is applied twice. f is the request inside the envelope.
 */
static int replay(struct gfmd *g, struct gf_conn *c, struct gf_frame *f,
		  const struct gf_once_rec *rec)
{
	if (rec->status)
		return reply(g, c, f, rec->status, NULL, rec->ticket);
	switch (f->hdr.op) {
	case GFM_MKNOD:
	case GFM_MKDIR: {
		struct gfm_mknod_req m;
		if (gfm_mknod_req_decode(f->payload, f->hdr.len, &m))
			return malformed(c, f);
		uint32_t mode = f->hdr.op == GFM_MKDIR ? S_IFDIR | (m.mode & 07777)
			      : (m.mode & S_IFMT) ? m.mode : S_IFREG | m.mode;
		return replay_attr(g, c, f, rec, &m.cred, mode);
	}
	case GFM_SYMLINK: {
		struct gfm_symlink_req *m = malloc(sizeof(*m));
		if (!m)
			return reply(g, c, f, -ENOMEM, NULL, 0);
		int rc = gfm_symlink_req_decode(f->payload, f->hdr.len, m)
				 ? malformed(c, f)
				 : replay_attr(g, c, f, rec, &m->cred, S_IFLNK | 0777);
		free(m);
		return rc;
	}
	case GFM_LINK: {
		struct gfm_link_req m;
		if (gfm_link_req_decode(f->payload, f->hdr.len, &m))
			return malformed(c, f);
		return replay_attr(g, c, f, rec, &m.cred, S_IFREG);
	}
	case GFM_CREATE: {
		struct gfm_create_req m;
		if (gfm_create_req_decode(f->payload, f->hdr.len, &m))
			return malformed(c, f);
		return replay_open(g, c, f, rec, &m.cred, m.flags);
	}
	case GFM_OPEN: {
		struct gfm_open_req m;
		if (gfm_open_req_decode(f->payload, f->hdr.len, &m))
			return malformed(c, f);
		return replay_open(g, c, f, rec, &m.cred, m.flags);
	}
	case GFM_UNLINK:
	case GFM_RMDIR:
	case GFM_RENAME: {
		/* no directories: the client keeps none of this answer */
		struct gfm_dirs none = { 0 };
		return reply_dirs(g, c, f, 0, &none, rec->ticket);
	}
	default: /* SETXATTR, REMOVEXATTR, IDMAP_*: no payload */
		return reply(g, c, f, 0, NULL, rec->ticket);
	}
}

static int dispatch(struct gfmd *g, struct gf_conn *conn, struct gf_frame *f,
		    struct once_run *o);

/*
 * GFM_ONCE: the request inside runs at most once per (client, seq). Its
 * reply is the inner request's (op = the inner op | GF_OP_REPLY).
 */
static int h_once(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_once_req m;
	if (gfm_once_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	struct gf_frame in = *f;
	in.hdr.op = m.op;
	in.hdr.len = m.len;
	in.payload = (uint8_t *)m.payload;
	in.fd = -1;
	struct once_run o = { .id = { .client = m.client, .seq = m.seq, .op = m.op } };
	struct gf_once_rec rec;
	int v = gf_once_begin(g->once, &o.id, m.acked, (int64_t)time(NULL), &rec);
	switch (v) {
	case GF_ONCE_NEW:
		break;
	case GF_ONCE_REPLAY:
		gf_info("gfmd: %s: %s seq %llu again: answered from its record",
			 gf_conn_desc(c), gf_op_name(m.op), (unsigned long long)m.seq);
		return replay(g, c, &in, &rec);
	case GF_ONCE_STALE:
		gf_info("gfmd: %s: a late copy of %s seq %llu, settled by its client; "
			"not applied", gf_conn_desc(c), gf_op_name(m.op),
			(unsigned long long)m.seq);
		return reply(g, c, &in, -ESTALE, NULL, 0);
	case -EPROTO:
		gf_warn("gfmd: %s: client %016llx used seq %llu for two requests; refusing "
			"%s", gf_conn_desc(c), (unsigned long long)m.client,
			(unsigned long long)m.seq, gf_op_name(m.op));
		return reply(g, c, &in, -EPROTO, NULL, 0);
	default:
		return reply(g, c, &in, v < 0 ? v : -EIO, NULL, 0);
	}
	int rc = dispatch(g, c, &in, &o);
	/* -EAGAIN (gfmd cannot tell yet, hosts.h) is an answer to this copy
	 * only: the client sends it again, to be run then */
	if (o.ran && o.status != -EAGAIN)
		gf_once_end(g->once, &o.id, o.status, o.ticket);
	else
		gf_once_abort(g->once, &o.id); /* nothing was applied */
	return rc;
}

/* ---- file locks ------------------------------------------------------------------------ */

_Static_assert(GF_LK_UNLCK == GF_LOCK_UNLCK && GF_LK_RDLCK == GF_LOCK_RDLCK &&
		       GF_LK_WRLCK == GF_LOCK_WRLCK && (int)GF_LK_POSIX == (int)GF_LOCK_POSIX &&
		       (int)GF_LK_FLOCK == (int)GF_LOCK_FLOCK,
	       "the wire's lock constants are locks.h's");

/* A waiting F_SETLKW: its reply goes out when the lock is granted. */
struct lock_wait {
	struct gf_conn *conn;
	uint32_t reqid;
	struct gf_locks *locks;
	uint64_t ino, client;
};

static void lock_granted(void *arg, int status)
{
	struct lock_wait *lw = arg;
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (!status) {
		struct gfm_lock_rep r = { .type = GF_LK_UNLCK };
		if (gf_locks_others(lw->locks, lw->ino, lw->client))
			r.flags = GF_LKR_OTHERS;
		gfm_lock_rep_encode(&w, &r);
	}
	gf_conn_reply(lw->conn, GFM_LOCK, lw->reqid, status, status ? NULL : &w, -1);
	gf_wbuf_free(&w);
	gf_conn_put(lw->conn);
	free(lw);
}

/* The connection carries client's locks from now on (one client each). */
static int lock_session(struct gfmd *g, struct gf_conn *c, uint64_t client)
{
	struct conn_info *ci = conn_info(c);
	if (!ci)
		return -ENOMEM;
	if (ci->client)
		return ci->client == client ? 0 : -EINVAL;
	ci->client = client;
	gf_locks_client_up(g->locks, client);
	return 0;
}

void gfmd_conn_closed(struct gf_conn *c, void *arg)
{
	struct gfmd *g = arg;
	if (g->leases)
		gf_leases_conn_closed(g->leases, c);
	struct conn_info *ci = gf_conn_data(c);
	if (!ci)
		return;
	gf_conn_set_data(c, NULL);
	if (ci->client)
		gf_locks_client_down(g->locks, ci->client); /* its last session: locks go */
	for (size_t i = 0; i < ci->nw; i++)
		while (ci->w[i].n--) {
			uint32_t want = gf_ns_writer_done(g->ns, ci->w[i].ino);
			if (want)
				gf_repair_check(g->repair, ci->w[i].ino, want);
		}
	free(ci->w);
	free(ci);
}

static int h_lock(struct gfmd *g, struct gf_conn *c, struct gf_frame *f)
{
	struct gfm_lock_req m;
	if (gfm_lock_req_decode(f->payload, f->hdr.len, &m))
		return malformed(c, f);
	if (!m.client)
		return reply(g, c, f, -EINVAL, NULL, 0);
	struct gf_lock l = { .client = m.client, .owner = m.owner, .pid = m.pid,
			     .kind = m.kind, .type = m.type, .start = m.start, .end = m.end };
	if (f->hdr.op == GFM_LOCK_CANCEL) {
		gf_locks_cancel(g->locks, m.ino, m.client, m.owner);
		return reply(g, c, f, 0, NULL, 0);
	}
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	int rc;
	if (m.cmd == GF_LK_GET) {
		struct gf_lock got;
		rc = gf_locks_test(g->locks, m.ino, &l, &got);
		if (!rc) {
			struct gfm_lock_rep r = { .type = got.type, .pid = got.pid,
						  .start = got.start, .end = got.end };
			gfm_lock_rep_encode(&w, &r);
		}
		return reply(g, c, f, rc, &w, 0);
	}
	if ((rc = lock_session(g, c, m.client)) < 0)
		return reply(g, c, f, rc, NULL, 0);
	struct lock_wait *lw = NULL;
	if (m.cmd == GF_LK_SETW) {
		if (!(lw = calloc(1, sizeof(*lw))))
			return reply(g, c, f, -ENOMEM, NULL, 0);
		lw->conn = c;
		lw->reqid = f->hdr.reqid;
		lw->locks = g->locks;
		lw->ino = m.ino;
		lw->client = m.client;
		gf_conn_get(c);
	}
	rc = gf_locks_set(g->locks, m.ino, &l, m.cmd == GF_LK_SETW, lock_granted, lw);
	if (rc == 1)
		return 0; /* waits: lock_granted replies */
	if (lw) {
		gf_conn_put(c);
		free(lw);
	}
	if (!rc || rc == -EAGAIN) {
		/* refused: said in the reply, since status -EAGAIN means "not
		 * yet, ask again" to every client */
		struct gfm_lock_rep r = { .type = rc ? GF_LK_WRLCK : GF_LK_UNLCK };
		if (!rc && m.type != GF_LK_UNLCK && gf_locks_others(g->locks, m.ino, m.client))
			r.flags = GF_LKR_OTHERS;
		gfm_lock_rep_encode(&w, &r);
		rc = 0;
	}
	return reply(g, c, f, rc, &w, 0);
}

int gfmd_handle(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct gfmd *g = arg;
	if (f->hdr.op == GFM_ONCE)
		return h_once(g, conn, f);
	return dispatch(g, conn, f, NULL);
}

/* A request, plain (o NULL) or from inside GFM_ONCE. */
static int dispatch(struct gfmd *g, struct gf_conn *conn, struct gf_frame *f,
		    struct once_run *o)
{
	switch (f->hdr.op) {
	case GFM_LOOKUP:
	case GFM_UNLINK:
	case GFM_RMDIR:
		return h_name(g, conn, f, o);
	case GFM_GETATTR:
	case GFM_READLINK:
	case GFM_LISTXATTR:
	case GFM_STATFS:
		return h_ino(g, conn, f);
	case GFM_SETATTR:
		return h_setattr(g, conn, f);
	case GFM_MKNOD:
	case GFM_MKDIR:
		return h_mknod(g, conn, f, o);
	case GFM_DIR_LEASE:
		return h_dir_lease(g, conn, f);
	case GFM_LEASE_POLL:
		return h_lease_poll(g, conn, f);
	case GFM_CREATE:
		return h_create(g, conn, f, o);
	case GFM_OPEN:
		return h_open(g, conn, f, o);
	case GFM_RENAME:
		return h_rename(g, conn, f, o);
	case GFM_LINK:
		return h_link(g, conn, f, o);
	case GFM_SYMLINK:
		return h_symlink(g, conn, f, o);
	case GFM_READDIR:
		return h_readdir(g, conn, f);
	case GFM_CLOSE_WRITE:
		return h_close_write(g, conn, f);
	case GFM_SETXATTR:
	case GFM_GETXATTR:
	case GFM_REMOVEXATTR:
		return h_xattr(g, conn, f, o);
	case GFM_ACCESS:
		return h_access(g, conn, f);
	case GFM_REPLICAS:
	case GFM_REPLICAS_ALL:
		return h_replicas(g, conn, f);
	case GFM_LOCK:
	case GFM_LOCK_CANCEL:
		return h_lock(g, conn, f);
	case GFM_RELEASE:
		return h_release(g, conn, f);
	case GFM_SYNC:
		return h_sync(g, conn, f);
	case GFM_REPLICATE:
		return h_replicate(g, conn, f);
	case GFM_REPLICA_DROP:
		return h_replica_drop(g, conn, f);
	case GFM_HOST_REGISTER:
		return h_register(g, conn, f);
	case GFM_HEARTBEAT:
		return h_heartbeat(g, conn, f);
	case GFM_HOST_LIST:
		return h_host_list(g, conn, f);
	case GFM_HOST_REPLICAS:
		return h_host_replicas(g, conn, f);
	case GFM_HOST_DRAIN:
		return h_host_drain(g, conn, f);
	case GFM_IDMAP_LIST:
		return h_idmap_list(g, conn, f);
	case GFM_IDMAP_SET:
		return h_idmap_set(g, conn, f, o);
	case GFM_IDMAP_DEL:
		return h_idmap_del(g, conn, f, o);
	default:
		gf_debug("gfmd: %s: unknown op %u", gf_conn_desc(conn), f->hdr.op);
		return reply(g, conn, f, -ENOSYS, NULL, 0);
	}
}
