/*
 * client.c — typed gfmd/gfsd calls, connection sharing and reconnection.
 * The contract is in client.h.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rpc.h"
#include "wire.h"

/*
 * A shared connection. refs and retired are protected by gfc->lock. A
 * connection that is replaced (broken) is retired: it leaves the table and
 * is closed by whoever drops the last reference, so a thread still waiting
 * in gf_rpc_call on it never sees it freed underneath.
 */
struct gfc_conn {
	struct gf_rpc *rpc;
	int refs;
	int retired;
	uint16_t port; /* 0: addr is a UNIX socket path */
	char addr[GF_PATH_MAX];
	struct gfc_conn *next;
};

struct gfc {
	char gfmd_host[GF_HOST_MAX + 1];
	uint16_t gfmd_port;
	char hostname[GF_HOST_MAX + 1];
	char *gfsd_socket; /* NULL: no local gfsd */
	uint8_t kind;
	struct gf_key key;

	pthread_mutex_t lock;
	struct gfc_conn *gfmd;	/* current gfmd connection or NULL */
	struct gfc_conn *gfsds; /* gfsd connections by (addr, port) */

	uint64_t read_local, read_remote, written_local, written_remote;
	uint64_t gfmd_calls, gfmd_reconnects;
};

/*
 * A remote gfsd silent this long is taken for gone (its host may have
 * vanished without closing the connection). Generous: GFS_CLOSE fsyncs.
 */
#define GFC_GFSD_TIMEOUT_MS 120000

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ---- life cycle ---------------------------------------------------------- */

int gfc_new(const struct gf_config *cfg, uint8_t kind, struct gfc **out,
	    char *errbuf, int errlen)
{
	struct gfc *c;
	const char *s;
	int err = 0, r;
	long long port;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->kind = kind;

	s = gf_config_str(cfg, "gfmd_host", "localhost");
	if (strlen(s) > GF_HOST_MAX) {
		snprintf(errbuf, errlen, "gfmd_host too long");
		r = -EINVAL;
		goto fail;
	}
	strcpy(c->gfmd_host, s);
	port = gf_config_int(cfg, "gfmd_port", 6600, 1, 65535, &err);
	if (err) {
		snprintf(errbuf, errlen, "gfmd_port: not a port number");
		r = -EINVAL;
		goto fail;
	}
	c->gfmd_port = (uint16_t)port;

	s = gf_config_hostname(cfg);
	if (!s || !*s || strlen(s) > GF_HOST_MAX) {
		snprintf(errbuf, errlen, "cannot tell this host's name (set hostname)");
		r = -EINVAL;
		goto fail;
	}
	strcpy(c->hostname, s);

	s = gf_config_str(cfg, "gfsd_socket", NULL);
	if (s && *s) {
		if (strlen(s) >= GF_PATH_MAX) {
			snprintf(errbuf, errlen, "gfsd_socket too long");
			r = -EINVAL;
			goto fail;
		}
		c->gfsd_socket = strdup(s);
		if (!c->gfsd_socket) {
			r = -ENOMEM;
			goto fail;
		}
	}

	s = gf_config_str(cfg, "key_file", NULL);
	if (!s) {
		snprintf(errbuf, errlen, "key_file is not set in the configuration");
		r = -EINVAL;
		goto fail;
	}
	r = gf_key_load(s, &c->key);
	if (r < 0) {
		snprintf(errbuf, errlen, "key file %s: %s", s, strerror(-r));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	free(c->gfsd_socket);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return r;
}

static void conn_free(struct gfc_conn *k)
{
	if (k->rpc)
		gf_rpc_close(k->rpc);
	free(k);
}

void gfc_disconnect(struct gfc *c)
{
	struct gfc_conn *k, *next;

	pthread_mutex_lock(&c->lock);
	k = c->gfmd;
	c->gfmd = NULL;
	if (k) {
		k->retired = 1;
		if (k->refs == 0)
			conn_free(k);
	}
	for (k = c->gfsds; k; k = next) {
		next = k->next;
		k->retired = 1;
		if (k->refs == 0)
			conn_free(k);
	}
	c->gfsds = NULL;
	pthread_mutex_unlock(&c->lock);
}

void gfc_free(struct gfc *c)
{
	if (!c)
		return;
	gfc_disconnect(c);
	free(c->gfsd_socket);
	pthread_mutex_destroy(&c->lock);
	memset(&c->key, 0, sizeof(c->key));
	free(c);
}

const char *gfc_hostname(const struct gfc *c)
{
	return c->hostname;
}

const char *gfc_gfsd_socket(const struct gfc *c)
{
	return c->gfsd_socket;
}

void gfc_get_stats(struct gfc *c, struct gfc_stats *out)
{
	out->read_local = LOAD(&c->read_local);
	out->read_remote = LOAD(&c->read_remote);
	out->written_local = LOAD(&c->written_local);
	out->written_remote = LOAD(&c->written_remote);
	out->gfmd_calls = LOAD(&c->gfmd_calls);
	out->gfmd_reconnects = LOAD(&c->gfmd_reconnects);
}

/* ---- connections ----------------------------------------------------------- */

static void conn_put(struct gfc *c, struct gfc_conn *k)
{
	int last;

	pthread_mutex_lock(&c->lock);
	last = --k->refs == 0 && k->retired;
	pthread_mutex_unlock(&c->lock);
	if (last)
		conn_free(k);
}

/* Under c->lock: take k out of service. Returns k if the caller must free it. */
static struct gfc_conn *conn_retire_locked(struct gfc *c, struct gfc_conn *k)
{
	struct gfc_conn **pp;

	if (k->retired)
		return NULL;
	k->retired = 1;
	if (c->gfmd == k)
		c->gfmd = NULL;
	for (pp = &c->gfsds; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	return k->refs == 0 ? k : NULL;
}

static struct gfc_conn *find_locked(struct gfc *c, int gfmd, const char *addr,
				    uint16_t port)
{
	struct gfc_conn *k;

	if (gfmd)
		return c->gfmd;
	for (k = c->gfsds; k; k = k->next)
		if (k->port == port && strcmp(k->addr, addr) == 0)
			return k;
	return NULL;
}

/*
 * A referenced, live connection to gfmd (gfmd = 1) or to the gfsd at
 * addr:port. Connects outside the lock so a slow or unreachable server
 * blocks only the callers that need it.
 */
static int conn_get(struct gfc *c, int gfmd, const char *addr, uint16_t port,
		    struct gfc_conn **out)
{
	struct gfc_conn *k, *dead = NULL, *nk;
	struct gf_rpc *rpc;
	int r;

	if (gfmd) {
		addr = c->gfmd_host;
		port = c->gfmd_port;
	}
	if (strlen(addr) >= GF_PATH_MAX)
		return -ENAMETOOLONG;

	pthread_mutex_lock(&c->lock);
	k = find_locked(c, gfmd, addr, port);
	if (k && gf_rpc_alive(k->rpc)) {
		k->refs++;
		pthread_mutex_unlock(&c->lock);
		*out = k;
		return 0;
	}
	if (k)
		dead = conn_retire_locked(c, k);
	pthread_mutex_unlock(&c->lock);
	if (dead)
		conn_free(dead);

	r = gf_rpc_connect(addr, port, &c->key, gfmd ? c->kind : GF_PEER_CLIENT,
			   c->hostname, &rpc);
	if (r < 0)
		return r;
	if (!gfmd && port)
		gf_rpc_set_timeout(rpc, GFC_GFSD_TIMEOUT_MS);
	nk = calloc(1, sizeof(*nk));
	if (!nk) {
		gf_rpc_close(rpc);
		return -ENOMEM;
	}
	nk->rpc = rpc;
	nk->port = port;
	strcpy(nk->addr, addr);

	pthread_mutex_lock(&c->lock);
	dead = NULL;
	k = find_locked(c, gfmd, addr, port);
	if (k && gf_rpc_alive(k->rpc)) {
		/* someone else connected meanwhile: use theirs */
		k->refs++;
		pthread_mutex_unlock(&c->lock);
		conn_free(nk);
		*out = k;
		return 0;
	}
	if (k)
		dead = conn_retire_locked(c, k);
	nk->refs = 1;
	if (gfmd) {
		if (LOAD(&c->gfmd_calls) > 0)
			ADD(&c->gfmd_reconnects, 1);
		c->gfmd = nk;
	} else {
		nk->next = c->gfsds;
		c->gfsds = nk;
	}
	pthread_mutex_unlock(&c->lock);
	if (dead)
		conn_free(dead);
	*out = nk;
	return 0;
}

int gfc_connect(struct gfc *c, char *errbuf, int errlen)
{
	struct gfc_conn *k;
	int r;

	r = conn_get(c, 1, NULL, 0, &k);
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot connect to gfmd at %s:%u: %s",
			 c->gfmd_host, c->gfmd_port, strerror(-r));
		return r;
	}
	conn_put(c, k);
	return 0;
}

static int transport_error(int r)
{
	return r == -ENOTCONN || r == -ECONNRESET || r == -EPIPE ||
	       r == -ECONNREFUSED || r == -ECONNABORTED || r == -EBADMSG ||
	       r == -EPROTO || r == -ETIMEDOUT;
}

/*
 * One gfmd request. 0 with rep holding the reply payload (release it), or
 * a negative errno (gfmd's status or a transport failure, as -EIO).
 */
static int gfm_call(struct gfc *c, uint16_t op, const struct gf_wbuf *req,
		    int idempotent, struct gf_reply *rep)
{
	struct gfc_conn *k;
	int r, attempt;

	if (req->err)
		return req->err;
	ADD(&c->gfmd_calls, 1);
	for (attempt = 0;; attempt++) {
		memset(rep, 0, sizeof(*rep));
		rep->fd = -1;
		r = conn_get(c, 1, NULL, 0, &k);
		if (r < 0) {
			gf_warn("gfmd %s:%u: cannot connect: %s", c->gfmd_host,
				c->gfmd_port, strerror(-r));
			return -EIO;
		}
		r = gf_rpc_call(k->rpc, op, req, rep);
		conn_put(c, k);
		if (r == 0)
			break;
		if (!transport_error(r)) /* e.g. -ENOMEM: nothing was sent */
			return r;
		if (attempt == 0 && idempotent) {
			gf_info("gfmd connection lost during %s; retrying once",
				gf_op_name(op));
			continue;
		}
		gf_warn("gfmd connection lost during %s: %s", gf_op_name(op),
			idempotent ? "retry failed" : "not retried (not idempotent)");
		return -EIO;
	}
	if (rep->status != 0) {
		r = rep->status;
		gf_reply_release(rep);
		return r > 0 ? -EIO : r;
	}
	return 0;
}

/* A request whose reply payload is ignored. */
static int gfm_call_noreply(struct gfc *c, uint16_t op, struct gf_wbuf *w, int idem)
{
	struct gf_reply rep;
	int r;

	r = gfm_call(c, op, w, idem, &rep);
	gf_wbuf_free(w);
	if (r == 0)
		gf_reply_release(&rep);
	return r;
}

/* A request answered with gfm_attr_rep. */
static int gfm_call_attr(struct gfc *c, uint16_t op, struct gf_wbuf *w, int idem,
			 struct gf_attr *out)
{
	struct gf_reply rep;
	struct gfm_attr_rep a;
	int r;

	r = gfm_call(c, op, w, idem, &rep);
	gf_wbuf_free(w);
	if (r < 0)
		return r;
	r = gfm_attr_rep_decode(rep.payload, rep.len, &a);
	gf_reply_release(&rep);
	if (r < 0) {
		gf_warn("gfmd: undecodable reply to %s", gf_op_name(op));
		return -EIO;
	}
	if (out)
		*out = a.attr;
	return 0;
}

static int copy_name(char dst[GF_NAME_MAX + 1], const char *name)
{
	size_t n = strlen(name);

	if (n > GF_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, name, n + 1);
	return 0;
}

/* ---- metadata ---------------------------------------------------------------- */

static int name_op(struct gfc *c, uint16_t op, const struct gf_cred *cr,
		   uint64_t parent, const char *name, int idem, struct gf_attr *out)
{
	struct gfm_name_req m;
	struct gf_wbuf w;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.parent = parent;
	if ((r = copy_name(m.name, name)) < 0)
		return r;
	gf_wbuf_init(&w);
	gfm_name_req_encode(&w, &m);
	if (out)
		return gfm_call_attr(c, op, &w, idem, out);
	return gfm_call_noreply(c, op, &w, idem);
}

int gfc_lookup(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, struct gf_attr *out)
{
	return name_op(c, GFM_LOOKUP, cr, parent, name, 1, out);
}

int gfc_unlink(struct gfc *c, const struct gf_cred *cr, uint64_t parent, const char *name)
{
	return name_op(c, GFM_UNLINK, cr, parent, name, 0, NULL);
}

int gfc_rmdir(struct gfc *c, const struct gf_cred *cr, uint64_t parent, const char *name)
{
	return name_op(c, GFM_RMDIR, cr, parent, name, 0, NULL);
}

static void ino_req(struct gf_wbuf *w, const struct gf_cred *cr, uint64_t ino)
{
	struct gfm_ino_req m;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	gf_wbuf_init(w);
	gfm_ino_req_encode(w, &m);
}

int gfc_getattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		struct gf_attr *out)
{
	struct gf_wbuf w;

	ino_req(&w, cr, ino);
	return gfm_call_attr(c, GFM_GETATTR, &w, 1, out);
}

int gfc_setattr(struct gfc *c, const struct gfm_setattr_req *req, struct gf_attr *out)
{
	struct gf_wbuf w;

	gf_wbuf_init(&w);
	gfm_setattr_req_encode(&w, req);
	return gfm_call_attr(c, GFM_SETATTR, &w, 1, out);
}

static int mknod_op(struct gfc *c, uint16_t op, const struct gf_cred *cr,
		    uint64_t parent, const char *name, uint32_t mode, uint64_t rdev,
		    uint32_t umask, struct gf_attr *out)
{
	struct gfm_mknod_req m;
	struct gf_wbuf w;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.parent = parent;
	if ((r = copy_name(m.name, name)) < 0)
		return r;
	m.mode = mode;
	m.rdev = rdev;
	m.umask = umask;
	gf_wbuf_init(&w);
	gfm_mknod_req_encode(&w, &m);
	return gfm_call_attr(c, op, &w, 0, out);
}

int gfc_mknod(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, uint64_t rdev, uint32_t umask,
	      struct gf_attr *out)
{
	return mknod_op(c, GFM_MKNOD, cr, parent, name, mode, rdev, umask, out);
}

int gfc_mkdir(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, uint32_t umask, struct gf_attr *out)
{
	return mknod_op(c, GFM_MKDIR, cr, parent, name, mode, 0, umask, out);
}

static int open_reply(uint16_t op, struct gf_reply *rep, struct gfm_open_rep *out)
{
	int r;

	r = gfm_open_rep_decode(rep->payload, rep->len, out);
	gf_reply_release(rep);
	if (r < 0) {
		gf_warn("gfmd: undecodable reply to %s", gf_op_name(op));
		return -EIO;
	}
	return 0;
}

int gfc_create(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t flags, uint32_t umask,
	       struct gfm_open_rep *out)
{
	struct gfm_create_req m;
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.parent = parent;
	if ((r = copy_name(m.name, name)) < 0)
		return r;
	m.mode = mode;
	m.flags = flags;
	m.umask = umask;
	gf_wbuf_init(&w);
	gfm_create_req_encode(&w, &m);
	r = gfm_call(c, GFM_CREATE, &w, 0, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return open_reply(GFM_CREATE, &rep, out);
}

int gfc_open(struct gfc *c, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
	     struct gfm_open_rep *out)
{
	struct gfm_open_req m;
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	m.flags = flags;
	gf_wbuf_init(&w);
	gfm_open_req_encode(&w, &m);
	r = gfm_call(c, GFM_OPEN, &w, !(flags & (O_CREAT | O_TRUNC)), &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return open_reply(GFM_OPEN, &rep, out);
}

int gfc_rename(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, uint64_t newparent, const char *newname, uint32_t flags)
{
	struct gfm_rename_req m;
	struct gf_wbuf w;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.parent = parent;
	m.newparent = newparent;
	m.flags = flags;
	if ((r = copy_name(m.name, name)) < 0 || (r = copy_name(m.newname, newname)) < 0)
		return r;
	gf_wbuf_init(&w);
	gfm_rename_req_encode(&w, &m);
	return gfm_call_noreply(c, GFM_RENAME, &w, 0);
}

int gfc_link(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
	     uint64_t newparent, const char *newname, struct gf_attr *out)
{
	struct gfm_link_req m;
	struct gf_wbuf w;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	m.newparent = newparent;
	if ((r = copy_name(m.newname, newname)) < 0)
		return r;
	gf_wbuf_init(&w);
	gfm_link_req_encode(&w, &m);
	return gfm_call_attr(c, GFM_LINK, &w, 0, out);
}

int gfc_symlink(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
		const char *name, const char *target, struct gf_attr *out)
{
	struct gfm_symlink_req *m;
	struct gf_wbuf w;
	size_t n = strlen(target);
	int r;

	if (n >= GF_PATH_MAX)
		return -ENAMETOOLONG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cred = *cr;
	m->parent = parent;
	if ((r = copy_name(m->name, name)) < 0)
		goto out;
	memcpy(m->target, target, n + 1);
	gf_wbuf_init(&w);
	gfm_symlink_req_encode(&w, m);
	r = gfm_call_attr(c, GFM_SYMLINK, &w, 0, out);
out:
	free(m);
	return r;
}

int gfc_readlink(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 char target[GF_PATH_MAX])
{
	struct gfm_readlink_rep *m;
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, ino);
	r = gfm_call(c, GFM_READLINK, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	m = malloc(sizeof(*m));
	if (!m) {
		gf_reply_release(&rep);
		return -ENOMEM;
	}
	r = gfm_readlink_rep_decode(rep.payload, rep.len, m);
	gf_reply_release(&rep);
	if (r == 0)
		memcpy(target, m->target, GF_PATH_MAX);
	else
		r = -EIO;
	free(m);
	return r;
}

int gfc_readdir(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		uint64_t cookie, uint32_t max, struct gfm_readdir_rep *out)
{
	struct gfm_readdir_req m;
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	m.cookie = cookie;
	m.max = max > GF_READDIR_MAX ? GF_READDIR_MAX : max ? max : 1;
	gf_wbuf_init(&w);
	gfm_readdir_req_encode(&w, &m);
	r = gfm_call(c, GFM_READDIR, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	r = gfm_readdir_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	if (r < 0) {
		gf_warn("gfmd: undecodable reply to GFM_READDIR");
		return -EIO;
	}
	return 0;
}

int gfc_close_write(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		    uint64_t fgen, uint64_t end, const struct gf_timespec *mtime,
		    uint32_t flags)
{
	struct gfm_close_write_req m;
	struct gf_wbuf w;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	m.fgen = fgen;
	m.end = end;
	m.flags = flags;
	if (mtime)
		m.mtime = *mtime;
	gf_wbuf_init(&w);
	gfm_close_write_req_encode(&w, &m);
	return gfm_call_noreply(c, GFM_CLOSE_WRITE, &w, 1);
}

int gfc_statfs(struct gfc *c, const struct gf_cred *cr, struct gfm_statfs_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, GF_ROOT_INO);
	r = gfm_call(c, GFM_STATFS, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	r = gfm_statfs_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

static int xattr_req(struct gf_wbuf *w, const struct gf_cred *cr, uint64_t ino,
		     const char *name, uint32_t flags, uint32_t size,
		     const void *value, size_t value_len)
{
	struct gfm_xattr_req m;
	size_t n = strlen(name);

	if (n > GF_XATTR_NAME_MAX)
		return -ERANGE;
	if (value_len > GF_XATTR_SIZE_MAX)
		return -E2BIG;
	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	memcpy(m.name, name, n + 1);
	m.flags = flags;
	m.size = size;
	m.value_len = (uint32_t)value_len;
	m.value = value;
	gf_wbuf_init(w);
	gfm_xattr_req_encode(w, &m);
	return 0;
}

int gfc_setxattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 const char *name, const void *value, size_t len, uint32_t flags)
{
	struct gf_wbuf w;
	int r;

	if ((r = xattr_req(&w, cr, ino, name, flags, 0, value, len)) < 0)
		return r;
	return gfm_call_noreply(c, GFM_SETXATTR, &w, flags == 0);
}

int gfc_removexattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		    const char *name)
{
	struct gf_wbuf w;
	int r;

	if ((r = xattr_req(&w, cr, ino, name, 0, 0, NULL, 0)) < 0)
		return r;
	return gfm_call_noreply(c, GFM_REMOVEXATTR, &w, 0);
}

static int xattr_reply(uint16_t op, struct gf_reply *rep, void *buf, size_t size,
		       size_t *len)
{
	struct gfm_xattr_rep m;
	int r;

	r = gfm_xattr_rep_decode(rep->payload, rep->len, &m);
	if (r < 0) {
		gf_warn("gfmd: undecodable reply to %s", gf_op_name(op));
		r = -EIO;
		goto out;
	}
	*len = m.len;
	if (size == 0)
		goto out;
	if (m.len > size || m.data_len != m.len) {
		r = -ERANGE;
		goto out;
	}
	memcpy(buf, m.data, m.len);
out:
	gf_reply_release(rep);
	return r;
}

int gfc_getxattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 const char *name, void *buf, size_t size, size_t *len)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	uint32_t ask = size > GF_XATTR_SIZE_MAX ? GF_XATTR_SIZE_MAX : (uint32_t)size;
	int r;

	if ((r = xattr_req(&w, cr, ino, name, 0, ask, NULL, 0)) < 0)
		return r == -ERANGE ? -ENODATA : r;
	r = gfm_call(c, GFM_GETXATTR, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return xattr_reply(GFM_GETXATTR, &rep, buf, ask, len);
}

int gfc_listxattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		  void *buf, size_t size, size_t *len)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, ino);
	r = gfm_call(c, GFM_LISTXATTR, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return xattr_reply(GFM_LISTXATTR, &rep, buf, size, len);
}

int gfc_access(struct gfc *c, const struct gf_cred *cr, uint64_t ino, uint32_t mask)
{
	struct gfm_access_req m;
	struct gf_wbuf w;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	m.mask = mask;
	gf_wbuf_init(&w);
	gfm_access_req_encode(&w, &m);
	return gfm_call_noreply(c, GFM_ACCESS, &w, 1);
}

int gfc_replicas(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 struct gfm_open_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, ino);
	r = gfm_call(c, GFM_REPLICAS, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return open_reply(GFM_REPLICAS, &rep, out);
}

int gfc_host_list(struct gfc *c, struct gfm_host_list_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	r = gfm_call(c, GFM_HOST_LIST, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	r = gfm_host_list_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

int gfc_idmap_list(struct gfc *c, struct gfm_idmap_list_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	r = gfm_call(c, GFM_IDMAP_LIST, &w, 1, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	r = gfm_idmap_list_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

static int copy_idname(char dst[GF_IDMAP_NAME_MAX + 1], const char *name)
{
	if (strlen(name) > GF_IDMAP_NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(dst, name);
	return 0;
}

int gfc_idmap_set(struct gfc *c, const struct gf_cred *cr, uint8_t kind,
		  const char *name, uint32_t id, int replace)
{
	struct gfm_idmap_set_req m;
	struct gf_wbuf w;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.kind = kind;
	m.replace = replace ? 1 : 0;
	m.id = id;
	if ((r = copy_idname(m.name, name)) < 0)
		return r;
	gf_wbuf_init(&w);
	gfm_idmap_set_req_encode(&w, &m);
	/* applying it twice ends the same: safe to resend */
	return gfm_call_noreply(c, GFM_IDMAP_SET, &w, 1);
}

int gfc_idmap_del(struct gfc *c, const struct gf_cred *cr, uint8_t kind, const char *name)
{
	struct gfm_idmap_del_req m;
	struct gf_wbuf w;
	int r;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.kind = kind;
	if ((r = copy_idname(m.name, name)) < 0)
		return r;
	gf_wbuf_init(&w);
	gfm_idmap_del_req_encode(&w, &m);
	return gfm_call_noreply(c, GFM_IDMAP_DEL, &w, 0);
}

/* ---- data ------------------------------------------------------------------------ */

/*
 * One gfsd request on h's connection. A broken connection loses the handle
 * (it lives in that connection on gfsd), so that is -EIO, never retried.
 */
static int gfs_call(struct gfc_conn *k, uint16_t op, const struct gf_wbuf *req,
		    struct gf_reply *rep)
{
	int r;

	if (req->err)
		return req->err;
	memset(rep, 0, sizeof(*rep));
	rep->fd = -1;
	r = gf_rpc_call(k->rpc, op, req, rep);
	if (r < 0) {
		gf_warn("gfsd %s%s%u: %s failed: %s", k->addr, k->port ? ":" : "",
			k->port, gf_op_name(op), strerror(-r));
		return transport_error(r) ? -EIO : r;
	}
	if (rep->status != 0) {
		r = rep->status;
		gf_reply_release(rep);
		return r > 0 ? -EIO : r;
	}
	return 0;
}

/* *unreachable is set when no gfsd answered (connect or transport failure). */
static int data_open_at(struct gfc *c, const char *addr, uint16_t port,
			uint64_t ino, uint64_t gen, uint32_t flags, struct gfc_data *h,
			int *unreachable)
{
	struct gfs_open_req m = { .ino = ino, .gen = gen, .flags = flags };
	struct gfs_open_rep o;
	struct gf_wbuf w;
	struct gf_reply rep;
	struct gfc_conn *k;
	int r;

	*unreachable = 0;
	r = conn_get(c, 0, addr, port, &k);
	if (r < 0) {
		gf_warn("gfsd %s%s%u: cannot connect: %s", addr, port ? ":" : "",
			port, strerror(-r));
		*unreachable = 1;
		return -EIO;
	}
	gf_wbuf_init(&w);
	gfs_open_req_encode(&w, &m);
	r = gfs_call(k, GFS_OPEN, &w, &rep);
	gf_wbuf_free(&w);
	if (r < 0) {
		*unreachable = !gf_rpc_alive(k->rpc);
		goto fail;
	}
	r = gfs_open_rep_decode(rep.payload, rep.len, &o);
	if (r < 0) {
		gf_warn("gfsd %s: undecodable reply to GFS_OPEN", addr);
		gf_reply_release(&rep);
		r = -EIO;
		goto fail;
	}
	memset(h, 0, sizeof(*h));
	h->gfc = c;
	h->conn = k;
	h->handle = o.handle;
	h->size = o.size;
	h->flags = flags;
	h->fd = -1;
	if (o.fd_passed && rep.fd >= 0) {
		h->fd = rep.fd;
		rep.fd = -1;
	}
	gf_reply_release(&rep);
	return 0;
fail:
	conn_put(c, k);
	return r;
}

int gfc_data_open(struct gfc *c, const struct gf_replica *r, uint64_t ino,
		  uint32_t flags, struct gfc_data *h)
{
	uint64_t gen = r->fgen; /* gfsd knows replicas by their file */
	int e, unreachable;

	flags &= ~(uint32_t)GFS_O_WANT_FD;
	if (c->gfsd_socket && strcmp(r->host, c->hostname) == 0) {
		e = data_open_at(c, c->gfsd_socket, 0, ino, gen, flags | GFS_O_WANT_FD,
				 h, &unreachable);
		if (e == 0 && h->fd < 0)
			gf_debug("gfsd %s passed no fd for %llu; using the socket",
				 c->gfsd_socket, (unsigned long long)ino);
		/* gfsd's answer is final; only an unreachable socket falls back */
		if (!unreachable)
			return e;
	}
	return data_open_at(c, r->addr, r->port, ino, gen, flags, h, &unreachable);
}

int gfc_data_read(struct gfc_data *h, void *buf, size_t len, uint64_t off, size_t *got)
{
	struct gfs_read_req m;
	struct gfs_read_rep d;
	struct gf_wbuf w;
	struct gf_reply rep;
	size_t done = 0;
	int r = 0;

	if (h->fd >= 0) {
		while (done < len) {
			ssize_t n = pread(h->fd, (char *)buf + done, len - done,
					  (off_t)(off + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = -errno;
				break;
			}
			if (n == 0)
				break;
			done += (size_t)n;
		}
		ADD(&h->local_read, done);
		ADD(&h->gfc->read_local, done);
		*got = done;
		return done > 0 ? 0 : r;
	}

	gf_wbuf_init(&w);
	while (done < len) {
		m.handle = h->handle;
		m.offset = off + done;
		m.len = len - done > GF_MAX_IO ? GF_MAX_IO : (uint32_t)(len - done);
		gf_wbuf_reset(&w);
		gfs_read_req_encode(&w, &m);
		r = gfs_call(h->conn, GFS_READ, &w, &rep);
		if (r < 0)
			break;
		r = gfs_read_rep_decode(rep.payload, rep.len, &d);
		if (r < 0 || d.len > m.len) {
			gf_reply_release(&rep);
			r = -EIO;
			break;
		}
		memcpy((char *)buf + done, d.data, d.len);
		gf_reply_release(&rep);
		done += d.len;
		if (d.len < m.len)
			break; /* end of the replica */
	}
	gf_wbuf_free(&w);
	ADD(&h->gfc->read_remote, done);
	*got = done;
	return done > 0 ? 0 : r;
}

int gfc_data_write(struct gfc_data *h, const void *buf, size_t len, uint64_t off)
{
	struct gfs_write_req m;
	struct gfs_write_rep o;
	struct gf_wbuf w;
	struct gf_reply rep;
	size_t done = 0;
	int r = 0;

	if (h->fd >= 0) {
		while (done < len) {
			ssize_t n = pwrite(h->fd, (const char *)buf + done, len - done,
					   (off_t)(off + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = -errno;
				break;
			}
			done += (size_t)n;
		}
		ADD(&h->local_written, done);
		ADD(&h->gfc->written_local, done);
		return r;
	}

	gf_wbuf_init(&w);
	while (done < len) {
		m.handle = h->handle;
		m.offset = off + done;
		m.len = len - done > GF_MAX_IO ? GF_MAX_IO : (uint32_t)(len - done);
		m.data = (const uint8_t *)buf + done;
		gf_wbuf_reset(&w);
		gfs_write_req_encode(&w, &m);
		r = gfs_call(h->conn, GFS_WRITE, &w, &rep);
		if (r < 0)
			break;
		r = gfs_write_rep_decode(rep.payload, rep.len, &o);
		gf_reply_release(&rep);
		if (r < 0 || o.written != m.len) {
			r = r < 0 ? -EIO : -ENOSPC;
			break;
		}
		done += m.len;
	}
	gf_wbuf_free(&w);
	ADD(&h->gfc->written_remote, done);
	return r;
}

static int handle_noreply(struct gfc_data *h, uint16_t op, struct gf_wbuf *w)
{
	struct gf_reply rep;
	int r;

	r = gfs_call(h->conn, op, w, &rep);
	gf_wbuf_free(w);
	if (r == 0)
		gf_reply_release(&rep);
	return r;
}

int gfc_data_truncate(struct gfc_data *h, uint64_t size)
{
	struct gfs_truncate_req m = { .handle = h->handle, .size = size };
	struct gf_wbuf w;

	if (h->fd >= 0)
		return ftruncate(h->fd, (off_t)size) < 0 ? -errno : 0;
	gf_wbuf_init(&w);
	gfs_truncate_req_encode(&w, &m);
	return handle_noreply(h, GFS_TRUNCATE, &w);
}

int gfc_data_fsync(struct gfc_data *h)
{
	struct gfs_handle_req m = { .handle = h->handle };
	struct gf_wbuf w;

	/* gfsd syncs even a local replica: a new replica file's directory
	 * entry must reach the disk too, and only gfsd holds that directory */
	gf_wbuf_init(&w);
	gfs_handle_req_encode(&w, &m);
	return handle_noreply(h, GFS_FSYNC, &w);
}

void gfc_data_account_local(struct gfc_data *h, uint64_t read, uint64_t written)
{
	if (read) {
		ADD(&h->local_read, read);
		ADD(&h->gfc->read_local, read);
	}
	if (written) {
		ADD(&h->local_written, written);
		ADD(&h->gfc->written_local, written);
	}
}

int gfc_data_close(struct gfc_data *h)
{
	struct gfs_close_req m;
	struct gf_wbuf w;
	int r;

	if (!h->conn)
		return 0;
	m.handle = h->handle;
	m.local_read = LOAD(&h->local_read);
	m.local_written = LOAD(&h->local_written);
	gf_wbuf_init(&w);
	gfs_close_req_encode(&w, &m);
	r = handle_noreply(h, GFS_CLOSE, &w);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	conn_put(h->gfc, h->conn);
	h->conn = NULL;
	return r;
}

int gfc_gfsd_stats(struct gfc *c, const char *addr, uint16_t port,
		   struct gfs_stats_rep *out)
{
	struct gfc_conn *k;
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	r = conn_get(c, 0, addr, port, &k);
	if (r < 0)
		return r;
	gf_wbuf_init(&w);
	r = gfs_call(k, GFS_STATS, &w, &rep);
	gf_wbuf_free(&w);
	conn_put(c, k);
	if (r < 0)
		return r;
	r = gfs_stats_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}
