/*
 * proto.c — frame header and one encode/decode pair per message.
 *
 * Layout conventions (every integer big-endian, see wire.h):
 *   string      u32 length + bytes, no NUL; decoders refuse NUL bytes and
 *               lengths that would not fit the struct's array
 *   gf_cred     u32 uid, u32 gid, u32 ngroups, ngroups × u32
 *   gf_timespec i64 sec, u32 nsec (nsec < 1e9)
 *   gf_attr     u64 ino, u32 mode nlink uid gid, u64 size rdev gen,
 *               atime, mtime, ctime
 *   gf_replica  u32 host_id, u64 gen, u64 fgen, u16 port, string host, string addr
 *   flag bytes  u8 0 or 1
 * Counted arrays carry a u32 count first; decoders check it against its
 * bound and against the bytes left before looping or allocating.
 *
 * Encoders refuse (w->err = -EINVAL) what their decoder would refuse, so a
 * message that encodes cleanly always decodes.
 */
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000u
#define HOST_LIST_MAX 65536u

/* Wire sizes of fixed parts, for "is there room for count entries" checks. */
#define CRED_MIN_WIRE 12u
#define TS_WIRE 12u
#define ATTR_WIRE (8u + 4u * 4u + 8u * 3u + TS_WIRE * 3u)
#define DIRENT_MIN_WIRE (8u + 4u + ATTR_WIRE)
#define HOST_INFO_MIN_WIRE (4u + 4u + 4u + 2u + 1u + 8u + 8u + 4u + 8u + 8u + 1u + 8u + 8u)
#define DEAD_WIRE 16u
#define REPLICA_MIN_WIRE (4u + 8u + 8u + 2u + 4u + 4u)
#define IDMAP_ENT_MIN_WIRE (1u + 4u + 4u)
#define IDMAP_LIST_MAX 131072u

/* ---- frame header --------------------------------------------------------- */

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void gf_hdr_encode(const struct gf_hdr *h, uint8_t out[GF_HDR_SIZE])
{
	be32(out, h->len);
	be16(out + 4, h->version);
	be16(out + 6, h->op);
	be32(out + 8, h->reqid);
	be32(out + 12, (uint32_t)h->status);
}

int gf_hdr_decode(const uint8_t in[GF_HDR_SIZE], struct gf_hdr *h)
{
	h->len = rd32(in);
	h->version = rd16(in + 4);
	h->op = rd16(in + 6);
	h->reqid = rd32(in + 8);
	h->status = (int32_t)rd32(in + 12);
	if (h->version != GF_PROTO_VERSION)
		return -EPROTO;
	if (h->len > GF_MAX_PAYLOAD)
		return -EMSGSIZE;
	return 0;
}

/* ---- opcode names ------------------------------------------------------------ */

#define GF_OPS(X)                                                          \
	X(GF_OP_HELLO) X(GF_OP_AUTH) X(GF_OP_AUTH_OK)                      \
	X(GFM_LOOKUP) X(GFM_GETATTR) X(GFM_SETATTR) X(GFM_MKNOD)           \
	X(GFM_MKDIR) X(GFM_CREATE) X(GFM_UNLINK) X(GFM_RMDIR)              \
	X(GFM_RENAME) X(GFM_LINK) X(GFM_SYMLINK) X(GFM_READLINK)           \
	X(GFM_READDIR) X(GFM_OPEN) X(GFM_CLOSE_WRITE) X(GFM_STATFS)        \
	X(GFM_SETXATTR) X(GFM_GETXATTR) X(GFM_LISTXATTR)                   \
	X(GFM_REMOVEXATTR) X(GFM_ACCESS) X(GFM_REPLICAS) X(GFM_ONCE)       \
	X(GFM_LOCK) X(GFM_LOCK_CANCEL)                                     \
	X(GFM_HOST_REGISTER) X(GFM_HEARTBEAT) X(GFM_HOST_LIST)             \
	X(GFM_HOST_REPLICAS)                                               \
	X(GFM_IDMAP_LIST) X(GFM_IDMAP_SET) X(GFM_IDMAP_DEL)                \
	X(GFS_OPEN) X(GFS_READ) X(GFS_WRITE) X(GFS_TRUNCATE) X(GFS_FSYNC)  \
	X(GFS_CLOSE) X(GFS_STATS) X(GFS_FALLOCATE) X(GFS_SEEK) X(GFS_FSTAT)  \
	X(GFS_REPLICATE) X(GFM_RELEASE) X(GFM_REPLICATE) X(GFM_REPLICA_DROP) X(GFM_HOST_DRAIN) X(GFM_REPLICAS_ALL) X(GFM_SYNC) X(GFM_DIR_LEASE) X(GFM_LEASE_POLL) X(GFS_LIST) X(GFS_ORPHAN_SCAN) X(GFS_SUMS) X(GFS_VERIFY) \
	X(GFS_PAGE_PUT) X(GFS_PAGE_GET) X(GFS_PAGE_INVALIDATE) X(GFS_PAGE_STATS) \
	X(GFS_PAGE_UPDATES) X(GFS_PAGE_CAP) X(GFS_PAGE_PUNT)

const char *gf_op_name(uint16_t op)
{
	if (op & GF_OP_REPLY) {
		switch (op & ~GF_OP_REPLY) {
#define REPLY_CASE(o) case o: return "reply to " #o;
		GF_OPS(REPLY_CASE)
#undef REPLY_CASE
		default: return "reply to unknown op";
		}
	}
	switch (op) {
#define OP_CASE(o) case o: return #o;
	GF_OPS(OP_CASE)
#undef OP_CASE
	default: return "unknown op";
	}
}

int gf_check_name(const char *name)
{
	size_t n = strnlen(name, GF_NAME_MAX + 1);

	if (n == 0)
		return -EINVAL;
	if (n > GF_NAME_MAX)
		return -ENAMETOOLONG;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (memchr(name, '/', n))
		return -EINVAL;
	return 0;
}

/* ---- shared helpers ---------------------------------------------------------- */

static void wfail(struct gf_wbuf *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void rfail(struct gf_rbuf *r)
{
	if (!r->err)
		r->err = -EBADMSG;
}

static size_t rleft(const struct gf_rbuf *r)
{
	return r->err ? 0 : r->len - r->off;
}

/* A string held in a char[size] array: refuse one that is not terminated
 * inside it (the decoder could not store it). */
static void put_strn(struct gf_wbuf *w, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n >= size) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_bytes(w, s, (uint32_t)n);
}

static void put_data(struct gf_wbuf *w, const uint8_t *p, uint32_t n, uint32_t max)
{
	if (n > max || (n && !p)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_bytes(w, p, n);
}

static void put_flag(struct gf_wbuf *w, uint8_t v)
{
	if (v > 1)
		wfail(w, -EINVAL);
	gf_put_u8(w, v);
}

static uint8_t get_flag(struct gf_rbuf *r)
{
	uint8_t v = gf_get_u8(r);

	if (v > 1)
		rfail(r);
	return v;
}

static void put_cred(struct gf_wbuf *w, const struct gf_cred *c)
{
	if (c->ngroups > GF_MAX_GROUPS) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, c->uid);
	gf_put_u32(w, c->gid);
	gf_put_u32(w, c->ngroups);
	for (uint32_t i = 0; i < c->ngroups; i++)
		gf_put_u32(w, c->groups[i]);
}

static void get_cred(struct gf_rbuf *r, struct gf_cred *c)
{
	c->uid = gf_get_u32(r);
	c->gid = gf_get_u32(r);
	c->ngroups = gf_get_u32(r);
	if (r->err)
		return;
	if (c->ngroups > GF_MAX_GROUPS) {
		c->ngroups = 0;
		rfail(r);
		return;
	}
	for (uint32_t i = 0; i < c->ngroups; i++)
		c->groups[i] = gf_get_u32(r);
}

static void put_ts(struct gf_wbuf *w, const struct gf_timespec *t)
{
	if (t->nsec >= NSEC_PER_SEC)
		wfail(w, -EINVAL);
	gf_put_i64(w, t->sec);
	gf_put_u32(w, t->nsec);
}

static void get_ts(struct gf_rbuf *r, struct gf_timespec *t)
{
	t->sec = gf_get_i64(r);
	t->nsec = gf_get_u32(r);
	if (t->nsec >= NSEC_PER_SEC)
		rfail(r);
}

void gf_put_attr(struct gf_wbuf *w, const struct gf_attr *a)
{
	gf_put_u64(w, a->ino);
	gf_put_u32(w, a->mode);
	gf_put_u32(w, a->nlink);
	gf_put_u32(w, a->uid);
	gf_put_u32(w, a->gid);
	gf_put_u64(w, a->size);
	gf_put_u64(w, a->rdev);
	gf_put_u64(w, a->gen);
	gf_put_u64(w, a->blocks);
	put_ts(w, &a->atime);
	put_ts(w, &a->mtime);
	put_ts(w, &a->ctime);
}

void gf_get_attr(struct gf_rbuf *r, struct gf_attr *a)
{
	a->ino = gf_get_u64(r);
	a->mode = gf_get_u32(r);
	a->nlink = gf_get_u32(r);
	a->uid = gf_get_u32(r);
	a->gid = gf_get_u32(r);
	a->size = gf_get_u64(r);
	a->rdev = gf_get_u64(r);
	a->gen = gf_get_u64(r);
	a->blocks = gf_get_u64(r);
	get_ts(r, &a->atime);
	get_ts(r, &a->mtime);
	get_ts(r, &a->ctime);
}

static void put_replica(struct gf_wbuf *w, const struct gf_replica *p)
{
	gf_put_u32(w, p->host_id);
	gf_put_u64(w, p->gen);
	gf_put_u64(w, p->fgen);
	gf_put_u16(w, p->port);
	put_strn(w, p->host, sizeof(p->host));
	put_strn(w, p->addr, sizeof(p->addr));
}

static void get_replica(struct gf_rbuf *r, struct gf_replica *p)
{
	p->host_id = gf_get_u32(r);
	p->gen = gf_get_u64(r);
	p->fgen = gf_get_u64(r);
	p->port = gf_get_u16(r);
	gf_get_str(r, p->host, sizeof(p->host));
	gf_get_str(r, p->addr, sizeof(p->addr));
}

static void put_dead(struct gf_wbuf *w, const struct gf_dead_replica *d)
{
	gf_put_u64(w, d->ino);
	gf_put_u64(w, d->gen);
}

static void get_dead(struct gf_rbuf *r, struct gf_dead_replica *d)
{
	d->ino = gf_get_u64(r);
	d->gen = gf_get_u64(r);
}

/* A count of entries of at least min_wire bytes each: at most max, and no
 * more than the bytes left could hold. */
static uint32_t get_count(struct gf_rbuf *r, uint32_t max, size_t min_wire)
{
	uint32_t n = gf_get_u32(r);

	if (r->err)
		return 0;
	if (n > max || (size_t)n > rleft(r) / min_wire) {
		rfail(r);
		return 0;
	}
	return n;
}

/*
 * Decoder boilerplate: D_BEGIN zeroes *m and starts a reader, D_END checks
 * the payload was consumed exactly.
 */
#define D_BEGIN(m)                          \
	struct gf_rbuf r_;                  \
	struct gf_rbuf *r = &r_;            \
	memset((m), 0, sizeof(*(m)));       \
	gf_rbuf_init(r, payload, len)
#define D_END() gf_rbuf_done(r)

/* ---- handshake ------------------------------------------------------------------ */

void gf_msg_hello_encode(struct gf_wbuf *w, const struct gf_msg_hello *m)
{
	gf_put_raw(w, m->nonce, GF_NONCE_LEN);
}

int gf_msg_hello_decode(const void *payload, size_t len, struct gf_msg_hello *m)
{
	D_BEGIN(m);
	gf_get_raw(r, m->nonce, GF_NONCE_LEN);
	return D_END();
}

void gf_msg_auth_encode(struct gf_wbuf *w, const struct gf_msg_auth *m)
{
	gf_put_raw(w, m->nonce, GF_NONCE_LEN);
	gf_put_raw(w, m->mac, GF_MAC_LEN);
	gf_put_u8(w, m->peer_kind);
	put_strn(w, m->host, sizeof(m->host));
}

int gf_msg_auth_decode(const void *payload, size_t len, struct gf_msg_auth *m)
{
	D_BEGIN(m);
	gf_get_raw(r, m->nonce, GF_NONCE_LEN);
	gf_get_raw(r, m->mac, GF_MAC_LEN);
	m->peer_kind = gf_get_u8(r);
	gf_get_str(r, m->host, sizeof(m->host));
	return D_END();
}

void gf_msg_auth_ok_encode(struct gf_wbuf *w, const struct gf_msg_auth_ok *m)
{
	gf_put_raw(w, m->mac, GF_MAC_LEN);
}

int gf_msg_auth_ok_decode(const void *payload, size_t len, struct gf_msg_auth_ok *m)
{
	D_BEGIN(m);
	gf_get_raw(r, m->mac, GF_MAC_LEN);
	return D_END();
}

/* ---- gfmd namespace ---------------------------------------------------------- */

void gfm_name_req_encode(struct gf_wbuf *w, const struct gfm_name_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->parent);
	put_strn(w, m->name, sizeof(m->name));
}

int gfm_name_req_decode(const void *payload, size_t len, struct gfm_name_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->parent = gf_get_u64(r);
	gf_get_str(r, m->name, sizeof(m->name));
	return D_END();
}

void gfm_ino_req_encode(struct gf_wbuf *w, const struct gfm_ino_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
}

int gfm_ino_req_decode(const void *payload, size_t len, struct gfm_ino_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	return D_END();
}

/* ---- directory name leases ------------------------------------------------------ */

void gfm_dir_lease_req_encode(struct gf_wbuf *w, const struct gfm_dir_lease_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->client);
	gf_put_u64(w, m->dir);
	gf_put_u64(w, m->renew);
}

int gfm_dir_lease_req_decode(const void *payload, size_t len, struct gfm_dir_lease_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->client = gf_get_u64(r);
	m->dir = gf_get_u64(r);
	m->renew = gf_get_u64(r);
	return D_END();
}

/* count names, each 1..GF_NAME_MAX bytes without '/', each NUL-ended,
 * filling len bytes exactly */
static int lease_names_ok(const char *p, uint32_t len, uint32_t count)
{
	uint32_t n = 0, start = 0;
	if (len && !p)
		return 0;
	for (uint32_t i = 0; i < len; i++) {
		if (p[i] == '/')
			return 0;
		if (p[i])
			continue;
		if (i == start || i - start > GF_NAME_MAX)
			return 0;
		n++;
		start = i + 1;
	}
	return start == len && n == count;
}

void gfm_dir_lease_rep_encode(struct gf_wbuf *w, const struct gfm_dir_lease_rep *m)
{
	if (m->gen == 0 || m->renewed > 1 || m->names_len > GF_LEASE_NAMES_BYTES ||
	    (m->renewed && (m->count || m->names_len)) ||
	    !lease_names_ok(m->names, m->names_len, m->count)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u64(w, m->gen);
	gf_put_u32(w, m->term_ms);
	gf_put_u8(w, m->renewed);
	gf_put_u32(w, m->count);
	gf_put_bytes(w, m->names, m->names_len);
}

int gfm_dir_lease_rep_decode(const void *payload, size_t len, struct gfm_dir_lease_rep *m)
{
	D_BEGIN(m);
	m->gen = gf_get_u64(r);
	m->term_ms = gf_get_u32(r);
	m->renewed = gf_get_u8(r);
	m->count = gf_get_u32(r);
	m->names_len = gf_get_u32(r);
	if (!r->err && (m->names_len > GF_LEASE_NAMES_BYTES || m->names_len > rleft(r)))
		rfail(r);
	if (!r->err) {
		m->names = (const char *)r->data + r->off;
		r->off += m->names_len;
	}
	int err = D_END();
	if (!err && (m->renewed > 1 || m->gen == 0 ||
		     (m->renewed && (m->count || m->names_len)) ||
		     !lease_names_ok(m->names, m->names_len, m->count)))
		err = -EBADMSG;
	return err;
}

static void put_lease_refs(struct gf_wbuf *w, uint32_t n, const struct gfm_lease_ref *v)
{
	if (n > GF_LEASE_POLL_MAX) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		gf_put_u64(w, v[i].dir);
		gf_put_u64(w, v[i].gen);
	}
}

static uint32_t get_lease_refs(struct gf_rbuf *r, struct gfm_lease_ref *v)
{
	uint32_t n = get_count(r, GF_LEASE_POLL_MAX, 16);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		v[i].dir = gf_get_u64(r);
		v[i].gen = gf_get_u64(r);
	}
	return n;
}

void gfm_lease_poll_req_encode(struct gf_wbuf *w, const struct gfm_lease_poll_req *m)
{
	gf_put_u64(w, m->client);
	put_lease_refs(w, m->n, m->refs);
}

int gfm_lease_poll_req_decode(const void *payload, size_t len, struct gfm_lease_poll_req *m)
{
	D_BEGIN(m);
	m->client = gf_get_u64(r);
	m->n = get_lease_refs(r, m->refs);
	return D_END();
}

void gfm_lease_poll_rep_encode(struct gf_wbuf *w, const struct gfm_lease_poll_rep *m)
{
	put_lease_refs(w, m->n, m->refs);
}

int gfm_lease_poll_rep_decode(const void *payload, size_t len, struct gfm_lease_poll_rep *m)
{
	D_BEGIN(m);
	m->n = get_lease_refs(r, m->refs);
	return D_END();
}

static void put_dirs(struct gf_wbuf *w, const struct gfm_dirs *d)
{
	if (d->n > GFM_DIRS_MAX || d->nforget > GFM_DIRS_FORGET_MAX || d->forget_all > 1) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u8(w, d->n);
	for (uint8_t i = 0; i < d->n; i++)
		gf_put_attr(w, &d->attr[i]);
	gf_put_u8(w, d->nforget);
	for (uint8_t i = 0; i < d->nforget; i++)
		gf_put_u64(w, d->forget[i]);
	gf_put_u8(w, d->forget_all);
}

static void get_dirs(struct gf_rbuf *r, struct gfm_dirs *d)
{
	d->n = gf_get_u8(r);
	if (d->n > GFM_DIRS_MAX) {
		r->err = -EBADMSG;
		d->n = 0;
		return;
	}
	for (uint8_t i = 0; i < d->n && !r->err; i++)
		gf_get_attr(r, &d->attr[i]);
	d->nforget = gf_get_u8(r);
	if (d->nforget > GFM_DIRS_FORGET_MAX) {
		r->err = -EBADMSG;
		d->nforget = 0;
		return;
	}
	for (uint8_t i = 0; i < d->nforget && !r->err; i++)
		d->forget[i] = gf_get_u64(r);
	d->forget_all = gf_get_u8(r);
	if (d->forget_all > 1)
		r->err = -EBADMSG;
	if (r->err)
		d->n = d->nforget = 0;
}

void gfm_attr_rep_encode(struct gf_wbuf *w, const struct gfm_attr_rep *m)
{
	gf_put_attr(w, &m->attr);
	put_dirs(w, &m->dirs);
}

int gfm_attr_rep_decode(const void *payload, size_t len, struct gfm_attr_rep *m)
{
	D_BEGIN(m);
	gf_get_attr(r, &m->attr);
	get_dirs(r, &m->dirs);
	return D_END();
}

void gfm_dirs_rep_encode(struct gf_wbuf *w, const struct gfm_dirs_rep *m)
{
	put_dirs(w, &m->dirs);
}

int gfm_dirs_rep_decode(const void *payload, size_t len, struct gfm_dirs_rep *m)
{
	D_BEGIN(m);
	get_dirs(r, &m->dirs);
	return D_END();
}

void gfm_setattr_req_encode(struct gf_wbuf *w, const struct gfm_setattr_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u32(w, m->valid);
	gf_put_u32(w, m->mode);
	gf_put_u32(w, m->uid);
	gf_put_u32(w, m->gid);
	gf_put_u64(w, m->size);
	put_ts(w, &m->atime);
	put_ts(w, &m->mtime);
	put_ts(w, &m->ctime);
}

int gfm_setattr_req_decode(const void *payload, size_t len, struct gfm_setattr_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->valid = gf_get_u32(r);
	m->mode = gf_get_u32(r);
	m->uid = gf_get_u32(r);
	m->gid = gf_get_u32(r);
	m->size = gf_get_u64(r);
	get_ts(r, &m->atime);
	get_ts(r, &m->mtime);
	get_ts(r, &m->ctime);
	return D_END();
}

void gfm_mknod_req_encode(struct gf_wbuf *w, const struct gfm_mknod_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->parent);
	put_strn(w, m->name, sizeof(m->name));
	gf_put_u32(w, m->mode);
	gf_put_u64(w, m->rdev);
	gf_put_u32(w, m->umask);
}

int gfm_mknod_req_decode(const void *payload, size_t len, struct gfm_mknod_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->parent = gf_get_u64(r);
	gf_get_str(r, m->name, sizeof(m->name));
	m->mode = gf_get_u32(r);
	m->rdev = gf_get_u64(r);
	m->umask = gf_get_u32(r);
	return D_END();
}

void gfm_create_req_encode(struct gf_wbuf *w, const struct gfm_create_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->parent);
	put_strn(w, m->name, sizeof(m->name));
	gf_put_u32(w, m->mode);
	gf_put_u32(w, m->flags);
	gf_put_u32(w, m->umask);
}

int gfm_create_req_decode(const void *payload, size_t len, struct gfm_create_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->parent = gf_get_u64(r);
	gf_get_str(r, m->name, sizeof(m->name));
	m->mode = gf_get_u32(r);
	m->flags = gf_get_u32(r);
	m->umask = gf_get_u32(r);
	return D_END();
}

void gfm_open_rep_encode(struct gf_wbuf *w, const struct gfm_open_rep *m)
{
	if (m->nreplicas > GF_MAX_REPLICAS) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_attr(w, &m->attr);
	put_dirs(w, &m->dirs);
	gf_put_u32(w, m->nreplicas);
	for (uint32_t i = 0; i < m->nreplicas; i++)
		put_replica(w, &m->replicas[i]);
	gf_put_u32(w, m->writers);
}

int gfm_open_rep_decode(const void *payload, size_t len, struct gfm_open_rep *m)
{
	D_BEGIN(m);
	gf_get_attr(r, &m->attr);
	get_dirs(r, &m->dirs);
	m->nreplicas = get_count(r, GF_MAX_REPLICAS, REPLICA_MIN_WIRE);
	for (uint32_t i = 0; i < m->nreplicas && !r->err; i++)
		get_replica(r, &m->replicas[i]);
	m->writers = gf_get_u32(r);
	return D_END();
}

void gfm_rename_req_encode(struct gf_wbuf *w, const struct gfm_rename_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->parent);
	put_strn(w, m->name, sizeof(m->name));
	gf_put_u64(w, m->newparent);
	put_strn(w, m->newname, sizeof(m->newname));
	gf_put_u32(w, m->flags);
}

int gfm_rename_req_decode(const void *payload, size_t len, struct gfm_rename_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->parent = gf_get_u64(r);
	gf_get_str(r, m->name, sizeof(m->name));
	m->newparent = gf_get_u64(r);
	gf_get_str(r, m->newname, sizeof(m->newname));
	m->flags = gf_get_u32(r);
	return D_END();
}

void gfm_link_req_encode(struct gf_wbuf *w, const struct gfm_link_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->newparent);
	put_strn(w, m->newname, sizeof(m->newname));
}

int gfm_link_req_decode(const void *payload, size_t len, struct gfm_link_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->newparent = gf_get_u64(r);
	gf_get_str(r, m->newname, sizeof(m->newname));
	return D_END();
}

void gfm_symlink_req_encode(struct gf_wbuf *w, const struct gfm_symlink_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->parent);
	put_strn(w, m->name, sizeof(m->name));
	put_strn(w, m->target, sizeof(m->target));
}

int gfm_symlink_req_decode(const void *payload, size_t len, struct gfm_symlink_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->parent = gf_get_u64(r);
	gf_get_str(r, m->name, sizeof(m->name));
	gf_get_str(r, m->target, sizeof(m->target));
	return D_END();
}

void gfm_readlink_rep_encode(struct gf_wbuf *w, const struct gfm_readlink_rep *m)
{
	put_strn(w, m->target, sizeof(m->target));
}

int gfm_readlink_rep_decode(const void *payload, size_t len, struct gfm_readlink_rep *m)
{
	D_BEGIN(m);
	gf_get_str(r, m->target, sizeof(m->target));
	return D_END();
}

void gfm_readdir_req_encode(struct gf_wbuf *w, const struct gfm_readdir_req *m)
{
	if (m->max > GF_READDIR_MAX)
		wfail(w, -EINVAL);
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->cookie);
	gf_put_u32(w, m->max);
}

int gfm_readdir_req_decode(const void *payload, size_t len, struct gfm_readdir_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->cookie = gf_get_u64(r);
	m->max = gf_get_u32(r);
	if (m->max > GF_READDIR_MAX)
		rfail(r);
	return D_END();
}

void gfm_readdir_rep_free(struct gfm_readdir_rep *m)
{
	if (!m)
		return;
	free(m->ents);
	m->ents = NULL;
	m->count = 0;
}

void gfm_readdir_rep_encode(struct gf_wbuf *w, const struct gfm_readdir_rep *m)
{
	if (m->count > GF_READDIR_MAX || (m->count && !m->ents)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->count);
	put_flag(w, m->eof);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct gfm_dirent *e = &m->ents[i];
		gf_put_u64(w, e->cookie);
		put_strn(w, e->name, sizeof(e->name));
		gf_put_attr(w, &e->attr);
	}
}

int gfm_readdir_rep_decode(const void *payload, size_t len, struct gfm_readdir_rep *m)
{
	D_BEGIN(m);
	uint32_t n = get_count(r, GF_READDIR_MAX, DIRENT_MIN_WIRE);
	m->eof = get_flag(r);
	if (r->err)
		goto out;
	if (n) {
		m->ents = calloc(n, sizeof(*m->ents));
		if (!m->ents)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		struct gfm_dirent *e = &m->ents[i];
		e->cookie = gf_get_u64(r);
		gf_get_str(r, e->name, sizeof(e->name));
		gf_get_attr(r, &e->attr);
	}
out:;
	int err = D_END();
	if (err)
		gfm_readdir_rep_free(m);
	return err;
}

void gfm_open_req_encode(struct gf_wbuf *w, const struct gfm_open_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u32(w, m->flags);
}

int gfm_open_req_decode(const void *payload, size_t len, struct gfm_open_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->flags = gf_get_u32(r);
	return D_END();
}

void gfm_close_write_req_encode(struct gf_wbuf *w, const struct gfm_close_write_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->fgen);
	gf_put_u64(w, m->end);
	put_ts(w, &m->mtime);
	gf_put_u32(w, m->flags);
	gf_put_u64(w, m->blocks);
}

int gfm_close_write_req_decode(const void *payload, size_t len,
			       struct gfm_close_write_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->fgen = gf_get_u64(r);
	m->end = gf_get_u64(r);
	get_ts(r, &m->mtime);
	m->flags = gf_get_u32(r);
	m->blocks = gf_get_u64(r);
	return D_END();
}

void gfm_statfs_rep_encode(struct gf_wbuf *w, const struct gfm_statfs_rep *m)
{
	gf_put_u64(w, m->bsize);
	gf_put_u64(w, m->blocks);
	gf_put_u64(w, m->bfree);
	gf_put_u64(w, m->bavail);
	gf_put_u64(w, m->files);
	gf_put_u64(w, m->ffree);
	gf_put_u32(w, m->namemax);
}

int gfm_statfs_rep_decode(const void *payload, size_t len, struct gfm_statfs_rep *m)
{
	D_BEGIN(m);
	m->bsize = gf_get_u64(r);
	m->blocks = gf_get_u64(r);
	m->bfree = gf_get_u64(r);
	m->bavail = gf_get_u64(r);
	m->files = gf_get_u64(r);
	m->ffree = gf_get_u64(r);
	m->namemax = gf_get_u32(r);
	return D_END();
}

void gfm_xattr_req_encode(struct gf_wbuf *w, const struct gfm_xattr_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	put_strn(w, m->name, sizeof(m->name));
	gf_put_u32(w, m->flags);
	gf_put_u32(w, m->size);
	put_data(w, m->value, m->value_len, GF_XATTR_SIZE_MAX);
}

int gfm_xattr_req_decode(const void *payload, size_t len, struct gfm_xattr_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	gf_get_str(r, m->name, sizeof(m->name));
	m->flags = gf_get_u32(r);
	m->size = gf_get_u32(r);
	m->value_len = gf_get_bytes(r, &m->value, GF_XATTR_SIZE_MAX);
	int err = D_END();
	if (err) {
		m->value = NULL;
		m->value_len = 0;
	}
	return err;
}

void gfm_xattr_rep_encode(struct gf_wbuf *w, const struct gfm_xattr_rep *m)
{
	if (m->data_len > m->len)
		wfail(w, -EINVAL);
	gf_put_u32(w, m->len);
	put_data(w, m->data, m->data_len, GF_XATTR_SIZE_MAX);
}

int gfm_xattr_rep_decode(const void *payload, size_t len, struct gfm_xattr_rep *m)
{
	D_BEGIN(m);
	m->len = gf_get_u32(r);
	m->data_len = gf_get_bytes(r, &m->data, GF_XATTR_SIZE_MAX);
	if (m->data_len > m->len)
		rfail(r);
	int err = D_END();
	if (err) {
		m->data = NULL;
		m->data_len = 0;
	}
	return err;
}

void gfm_access_req_encode(struct gf_wbuf *w, const struct gfm_access_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u32(w, m->mask);
}

int gfm_access_req_decode(const void *payload, size_t len, struct gfm_access_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->mask = gf_get_u32(r);
	return D_END();
}

/* ---- gfmd host registry ---------------------------------------------------- */

void gfm_host_register_req_encode(struct gf_wbuf *w, const struct gfm_host_register_req *m)
{
	put_strn(w, m->name, sizeof(m->name));
	put_strn(w, m->addr, sizeof(m->addr));
	gf_put_u16(w, m->port);
	gf_put_u64(w, m->capacity);
	gf_put_u64(w, m->free);
}

int gfm_host_register_req_decode(const void *payload, size_t len,
				 struct gfm_host_register_req *m)
{
	D_BEGIN(m);
	gf_get_str(r, m->name, sizeof(m->name));
	gf_get_str(r, m->addr, sizeof(m->addr));
	m->port = gf_get_u16(r);
	m->capacity = gf_get_u64(r);
	m->free = gf_get_u64(r);
	return D_END();
}

void gfm_host_register_rep_encode(struct gf_wbuf *w, const struct gfm_host_register_rep *m)
{
	gf_put_u32(w, m->host_id);
	gf_put_u32(w, m->heartbeat_ms);
	gf_put_raw(w, m->cluster_id, GF_CLUSTER_ID_LEN);
}

int gfm_host_register_rep_decode(const void *payload, size_t len,
				 struct gfm_host_register_rep *m)
{
	D_BEGIN(m);
	m->host_id = gf_get_u32(r);
	m->heartbeat_ms = gf_get_u32(r);
	gf_get_raw(r, m->cluster_id, GF_CLUSTER_ID_LEN);
	return D_END();
}

void gfm_heartbeat_req_encode(struct gf_wbuf *w, const struct gfm_heartbeat_req *m)
{
	if (m->ndone > GF_MAX_DEAD) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->host_id);
	gf_put_u64(w, m->capacity);
	gf_put_u64(w, m->free);
	gf_put_u32(w, m->load_milli);
	gf_put_u32(w, m->ndone);
	for (uint32_t i = 0; i < m->ndone; i++)
		put_dead(w, &m->done[i]);
	if (m->nbad > GF_MAX_BAD) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->nbad);
	for (uint32_t i = 0; i < m->nbad; i++)
		put_dead(w, &m->bad[i]);
	gf_put_u64(w, m->swap_total);
	gf_put_u64(w, m->swap_free);
}

int gfm_heartbeat_req_decode(const void *payload, size_t len, struct gfm_heartbeat_req *m)
{
	D_BEGIN(m);
	m->host_id = gf_get_u32(r);
	m->capacity = gf_get_u64(r);
	m->free = gf_get_u64(r);
	m->load_milli = gf_get_u32(r);
	m->ndone = get_count(r, GF_MAX_DEAD, DEAD_WIRE);
	for (uint32_t i = 0; i < m->ndone; i++)
		get_dead(r, &m->done[i]);
	m->nbad = get_count(r, GF_MAX_BAD, DEAD_WIRE);
	for (uint32_t i = 0; i < m->nbad; i++)
		get_dead(r, &m->bad[i]);
	m->swap_total = gf_get_u64(r);
	m->swap_free = gf_get_u64(r);
	return D_END();
}

void gfm_heartbeat_rep_encode(struct gf_wbuf *w, const struct gfm_heartbeat_rep *m)
{
	if (m->ndead > GF_MAX_DEAD) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->ndead);
	for (uint32_t i = 0; i < m->ndead; i++)
		put_dead(w, &m->dead[i]);
}

int gfm_heartbeat_rep_decode(const void *payload, size_t len, struct gfm_heartbeat_rep *m)
{
	D_BEGIN(m);
	m->ndead = get_count(r, GF_MAX_DEAD, DEAD_WIRE);
	for (uint32_t i = 0; i < m->ndead; i++)
		get_dead(r, &m->dead[i]);
	return D_END();
}

void gfm_host_list_rep_free(struct gfm_host_list_rep *m)
{
	if (!m)
		return;
	free(m->hosts);
	m->hosts = NULL;
	m->count = 0;
}

void gfm_host_list_rep_encode(struct gf_wbuf *w, const struct gfm_host_list_rep *m)
{
	if (m->count > HOST_LIST_MAX || (m->count && !m->hosts)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct gf_host_info *h = &m->hosts[i];
		gf_put_u32(w, h->host_id);
		put_strn(w, h->name, sizeof(h->name));
		put_strn(w, h->addr, sizeof(h->addr));
		gf_put_u16(w, h->port);
		put_flag(w, h->up);
		gf_put_u64(w, h->capacity);
		gf_put_u64(w, h->free);
		gf_put_u32(w, h->load_milli);
		gf_put_i64(w, h->last_seen);
		gf_put_u64(w, h->nreplicas);
		put_flag(w, h->draining);
		gf_put_u64(w, h->swap_total);
		gf_put_u64(w, h->swap_free);
	}
}

int gfm_host_list_rep_decode(const void *payload, size_t len, struct gfm_host_list_rep *m)
{
	D_BEGIN(m);
	uint32_t n = get_count(r, HOST_LIST_MAX, HOST_INFO_MIN_WIRE);
	if (r->err)
		goto out;
	if (n) {
		m->hosts = calloc(n, sizeof(*m->hosts));
		if (!m->hosts)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		struct gf_host_info *h = &m->hosts[i];
		h->host_id = gf_get_u32(r);
		gf_get_str(r, h->name, sizeof(h->name));
		gf_get_str(r, h->addr, sizeof(h->addr));
		h->port = gf_get_u16(r);
		h->up = get_flag(r);
		h->capacity = gf_get_u64(r);
		h->free = gf_get_u64(r);
		h->load_milli = gf_get_u32(r);
		h->last_seen = gf_get_i64(r);
		h->nreplicas = gf_get_u64(r);
		h->draining = get_flag(r);
		h->swap_total = gf_get_u64(r);
		h->swap_free = gf_get_u64(r);
	}
out:;
	int err = D_END();
	if (err)
		gfm_host_list_rep_free(m);
	return err;
}

void gfm_host_replicas_req_encode(struct gf_wbuf *w, const struct gfm_host_replicas_req *m)
{
	gf_put_u32(w, m->host_id);
	gf_put_u64(w, m->after);
	gf_put_u32(w, m->max);
}

int gfm_host_replicas_req_decode(const void *payload, size_t len,
				 struct gfm_host_replicas_req *m)
{
	D_BEGIN(m);
	m->host_id = gf_get_u32(r);
	m->after = gf_get_u64(r);
	m->max = gf_get_u32(r);
	return D_END();
}

void gfm_host_replicas_rep_free(struct gfm_host_replicas_rep *m)
{
	if (!m)
		return;
	free(m->ents);
	m->ents = NULL;
	m->count = 0;
}

void gfm_host_replicas_rep_encode(struct gf_wbuf *w, const struct gfm_host_replicas_rep *m)
{
	if (m->count > GF_HOST_REPLICAS_MAX || (m->count && !m->ents)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->count);
	put_flag(w, m->eof);
	for (uint32_t i = 0; i < m->count; i++)
		put_dead(w, &m->ents[i]);
}

int gfm_host_replicas_rep_decode(const void *payload, size_t len,
				 struct gfm_host_replicas_rep *m)
{
	D_BEGIN(m);
	uint32_t n = get_count(r, GF_HOST_REPLICAS_MAX, DEAD_WIRE);
	m->eof = get_flag(r);
	if (r->err)
		goto out;
	if (n) {
		m->ents = calloc(n, sizeof(*m->ents));
		if (!m->ents)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++)
		get_dead(r, &m->ents[i]);
out:;
	int err = D_END();
	if (err)
		gfm_host_replicas_rep_free(m);
	return err;
}

/* ---- gfmd users and groups ----------------------------------------------------- */

static int idmap_kind_ok(uint8_t k)
{
	return k == GF_IDMAP_USER || k == GF_IDMAP_GROUP;
}

static void put_idmap_kind(struct gf_wbuf *w, uint8_t k)
{
	if (!idmap_kind_ok(k))
		wfail(w, -EINVAL);
	gf_put_u8(w, k);
}

static uint8_t get_idmap_kind(struct gf_rbuf *r)
{
	uint8_t k = gf_get_u8(r);

	if (!r->err && !idmap_kind_ok(k))
		rfail(r);
	return k;
}

void gfm_idmap_list_rep_free(struct gfm_idmap_list_rep *m)
{
	if (!m)
		return;
	free(m->ents);
	m->ents = NULL;
	m->count = 0;
}

void gfm_idmap_list_rep_encode(struct gf_wbuf *w, const struct gfm_idmap_list_rep *m)
{
	if (m->count > IDMAP_LIST_MAX || (m->count && !m->ents)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct gf_idmap_ent *e = &m->ents[i];
		put_idmap_kind(w, e->kind);
		gf_put_u32(w, e->id);
		put_strn(w, e->name, sizeof(e->name));
	}
}

int gfm_idmap_list_rep_decode(const void *payload, size_t len, struct gfm_idmap_list_rep *m)
{
	D_BEGIN(m);
	uint32_t n = get_count(r, IDMAP_LIST_MAX, IDMAP_ENT_MIN_WIRE);
	if (r->err)
		goto out;
	if (n) {
		m->ents = calloc(n, sizeof(*m->ents));
		if (!m->ents)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		struct gf_idmap_ent *e = &m->ents[i];
		e->kind = get_idmap_kind(r);
		e->id = gf_get_u32(r);
		gf_get_str(r, e->name, sizeof(e->name));
	}
out:;
	int err = D_END();
	if (err)
		gfm_idmap_list_rep_free(m);
	return err;
}

void gfm_idmap_set_req_encode(struct gf_wbuf *w, const struct gfm_idmap_set_req *m)
{
	put_cred(w, &m->cred);
	put_idmap_kind(w, m->kind);
	put_flag(w, m->replace);
	gf_put_u32(w, m->id);
	put_strn(w, m->name, sizeof(m->name));
}

int gfm_idmap_set_req_decode(const void *payload, size_t len, struct gfm_idmap_set_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->kind = get_idmap_kind(r);
	m->replace = get_flag(r);
	m->id = gf_get_u32(r);
	gf_get_str(r, m->name, sizeof(m->name));
	return D_END();
}

void gfm_idmap_del_req_encode(struct gf_wbuf *w, const struct gfm_idmap_del_req *m)
{
	put_cred(w, &m->cred);
	put_idmap_kind(w, m->kind);
	put_strn(w, m->name, sizeof(m->name));
}

int gfm_idmap_del_req_decode(const void *payload, size_t len, struct gfm_idmap_del_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->kind = get_idmap_kind(r);
	gf_get_str(r, m->name, sizeof(m->name));
	return D_END();
}

/* ---- gfsd data -------------------------------------------------------------- */

void gfs_open_req_encode(struct gf_wbuf *w, const struct gfs_open_req *m)
{
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->gen);
	gf_put_u32(w, m->flags);
}

int gfs_open_req_decode(const void *payload, size_t len, struct gfs_open_req *m)
{
	D_BEGIN(m);
	m->ino = gf_get_u64(r);
	m->gen = gf_get_u64(r);
	m->flags = gf_get_u32(r);
	return D_END();
}

void gfs_open_rep_encode(struct gf_wbuf *w, const struct gfs_open_rep *m)
{
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->size);
	put_flag(w, m->fd_passed);
}

int gfs_open_rep_decode(const void *payload, size_t len, struct gfs_open_rep *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->size = gf_get_u64(r);
	m->fd_passed = get_flag(r);
	return D_END();
}

void gfs_read_req_encode(struct gf_wbuf *w, const struct gfs_read_req *m)
{
	if (m->len > GF_MAX_IO)
		wfail(w, -EINVAL);
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->offset);
	gf_put_u32(w, m->len);
}

int gfs_read_req_decode(const void *payload, size_t len, struct gfs_read_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->offset = gf_get_u64(r);
	m->len = gf_get_u32(r);
	if (m->len > GF_MAX_IO)
		rfail(r);
	return D_END();
}

void gfs_read_rep_encode(struct gf_wbuf *w, const struct gfs_read_rep *m)
{
	put_data(w, m->data, m->len, GF_MAX_IO);
}

int gfs_read_rep_decode(const void *payload, size_t len, struct gfs_read_rep *m)
{
	D_BEGIN(m);
	m->len = gf_get_bytes(r, &m->data, GF_MAX_IO);
	int err = D_END();
	if (err) {
		m->data = NULL;
		m->len = 0;
	}
	return err;
}

void gfs_write_req_encode(struct gf_wbuf *w, const struct gfs_write_req *m)
{
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->offset);
	put_data(w, m->data, m->len, GF_MAX_IO);
}

int gfs_write_req_decode(const void *payload, size_t len, struct gfs_write_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->offset = gf_get_u64(r);
	m->len = gf_get_bytes(r, &m->data, GF_MAX_IO);
	int err = D_END();
	if (err) {
		m->data = NULL;
		m->len = 0;
	}
	return err;
}

void gfs_write_rep_encode(struct gf_wbuf *w, const struct gfs_write_rep *m)
{
	gf_put_u32(w, m->written);
	gf_put_u64(w, m->end);
}

int gfs_write_rep_decode(const void *payload, size_t len, struct gfs_write_rep *m)
{
	D_BEGIN(m);
	m->written = gf_get_u32(r);
	m->end = gf_get_u64(r);
	return D_END();
}

int gf_falloc_mode_ok(uint32_t mode)
{
	switch (mode) {
	case 0:
	case GF_FALLOC_KEEP_SIZE:
	case GF_FALLOC_PUNCH_HOLE | GF_FALLOC_KEEP_SIZE:
	case GF_FALLOC_ZERO_RANGE:
	case GF_FALLOC_ZERO_RANGE | GF_FALLOC_KEEP_SIZE:
		return 1;
	default:
		return 0;
	}
}

void gfs_fallocate_req_encode(struct gf_wbuf *w, const struct gfs_fallocate_req *m)
{
	gf_put_u64(w, m->handle);
	gf_put_u32(w, m->mode);
	gf_put_u64(w, m->offset);
	gf_put_u64(w, m->length);
}

int gfs_fallocate_req_decode(const void *payload, size_t len, struct gfs_fallocate_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->mode = gf_get_u32(r);
	m->offset = gf_get_u64(r);
	m->length = gf_get_u64(r);
	return D_END();
}

void gfs_seek_req_encode(struct gf_wbuf *w, const struct gfs_seek_req *m)
{
	if (m->whence != GF_SEEK_DATA && m->whence != GF_SEEK_HOLE) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->offset);
	gf_put_u8(w, m->whence);
}

int gfs_seek_req_decode(const void *payload, size_t len, struct gfs_seek_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->offset = gf_get_u64(r);
	m->whence = gf_get_u8(r);
	if (!r->err && m->whence != GF_SEEK_DATA && m->whence != GF_SEEK_HOLE)
		rfail(r);
	return D_END();
}

void gfs_seek_rep_encode(struct gf_wbuf *w, const struct gfs_seek_rep *m)
{
	gf_put_u64(w, m->offset);
}

int gfs_seek_rep_decode(const void *payload, size_t len, struct gfs_seek_rep *m)
{
	D_BEGIN(m);
	m->offset = gf_get_u64(r);
	return D_END();
}

void gfs_fstat_rep_encode(struct gf_wbuf *w, const struct gfs_fstat_rep *m)
{
	gf_put_u64(w, m->size);
	gf_put_u64(w, m->blocks);
}

int gfs_fstat_rep_decode(const void *payload, size_t len, struct gfs_fstat_rep *m)
{
	D_BEGIN(m);
	m->size = gf_get_u64(r);
	m->blocks = gf_get_u64(r);
	return D_END();
}

void gfs_truncate_req_encode(struct gf_wbuf *w, const struct gfs_truncate_req *m)
{
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->size);
}

int gfs_truncate_req_decode(const void *payload, size_t len, struct gfs_truncate_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->size = gf_get_u64(r);
	return D_END();
}

void gfs_handle_req_encode(struct gf_wbuf *w, const struct gfs_handle_req *m)
{
	gf_put_u64(w, m->handle);
}

int gfs_handle_req_decode(const void *payload, size_t len, struct gfs_handle_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	return D_END();
}

void gfs_close_req_encode(struct gf_wbuf *w, const struct gfs_close_req *m)
{
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->local_read);
	gf_put_u64(w, m->local_written);
}

int gfs_close_req_decode(const void *payload, size_t len, struct gfs_close_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->local_read = gf_get_u64(r);
	m->local_written = gf_get_u64(r);
	return D_END();
}

void gfs_stats_rep_encode(struct gf_wbuf *w, const struct gfs_stats_rep *m)
{
	gf_put_u64(w, m->read_local);
	gf_put_u64(w, m->read_remote);
	gf_put_u64(w, m->written_local);
	gf_put_u64(w, m->written_remote);
	gf_put_u64(w, m->fds_passed);
	gf_put_u64(w, m->open_handles);
	gf_put_u64(w, m->capacity);
	gf_put_u64(w, m->free);
	gf_put_u64(w, m->heartbeats);
	gf_put_u64(w, m->dead_removed);
	gf_put_u64(w, m->orphans_removed);
	gf_put_u64(w, m->writers_cut);
	gf_put_u64(w, m->sealed);
	gf_put_u64(w, m->corrupt);
	gf_put_u64(w, m->corrupt_reported);
	gf_put_u64(w, m->copies);
	gf_put_u64(w, m->copies_followed);
	gf_put_u64(w, m->copy_blocks_mended);
	gf_put_u64(w, m->sealing);
}

int gfs_stats_rep_decode(const void *payload, size_t len, struct gfs_stats_rep *m)
{
	D_BEGIN(m);
	m->read_local = gf_get_u64(r);
	m->read_remote = gf_get_u64(r);
	m->written_local = gf_get_u64(r);
	m->written_remote = gf_get_u64(r);
	m->fds_passed = gf_get_u64(r);
	m->open_handles = gf_get_u64(r);
	m->capacity = gf_get_u64(r);
	m->free = gf_get_u64(r);
	m->heartbeats = gf_get_u64(r);
	m->dead_removed = gf_get_u64(r);
	m->orphans_removed = gf_get_u64(r);
	m->writers_cut = gf_get_u64(r);
	m->sealed = gf_get_u64(r);
	m->corrupt = gf_get_u64(r);
	m->corrupt_reported = gf_get_u64(r);
	m->copies = gf_get_u64(r);
	m->copies_followed = gf_get_u64(r);
	m->copy_blocks_mended = gf_get_u64(r);
	m->sealing = gf_get_u64(r);
	return D_END();
}

/* ---- exactly once ---------------------------------------------------------------- */

int gf_once_op_ok(uint16_t op)
{
	switch (op) {
	case GFM_MKNOD:
	case GFM_MKDIR:
	case GFM_CREATE:
	case GFM_UNLINK:
	case GFM_RMDIR:
	case GFM_RENAME:
	case GFM_LINK:
	case GFM_SYMLINK:
	case GFM_SETXATTR:
	case GFM_REMOVEXATTR:
	case GFM_OPEN:
	case GFM_IDMAP_SET:
	case GFM_IDMAP_DEL:
		return 1;
	default:
		return 0;
	}
}

void gfm_once_req_encode(struct gf_wbuf *w, const struct gfm_once_req *m)
{
	if (!gf_once_op_ok(m->op) || m->seq <= m->acked)
		wfail(w, -EINVAL);
	gf_put_u64(w, m->client);
	gf_put_u64(w, m->seq);
	gf_put_u64(w, m->acked);
	gf_put_u16(w, m->op);
	put_data(w, m->payload, m->len, GF_ONCE_PAYLOAD_MAX);
}

int gfm_once_req_decode(const void *payload, size_t len, struct gfm_once_req *m)
{
	D_BEGIN(m);
	m->client = gf_get_u64(r);
	m->seq = gf_get_u64(r);
	m->acked = gf_get_u64(r);
	m->op = gf_get_u16(r);
	if (!r->err && (!gf_once_op_ok(m->op) || m->seq <= m->acked))
		rfail(r);
	m->len = gf_get_bytes(r, &m->payload, GF_ONCE_PAYLOAD_MAX);
	int err = D_END();
	if (err) {
		m->payload = NULL;
		m->len = 0;
	}
	return err;
}

/* ---- file locks ------------------------------------------------------------------ */

static int lock_ok(uint8_t kind, uint8_t type, uint8_t cmd, uint64_t start, uint64_t end)
{
	return (kind == GF_LK_POSIX || kind == GF_LK_FLOCK) && type <= GF_LK_WRLCK &&
	       cmd >= GF_LK_GET && cmd <= GF_LK_SETW && start <= end;
}

void gfm_lock_req_encode(struct gf_wbuf *w, const struct gfm_lock_req *m)
{
	if (!lock_ok(m->kind, m->type, m->cmd, m->start, m->end)) {
		wfail(w, -EINVAL);
		return;
	}
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->client);
	gf_put_u64(w, m->owner);
	gf_put_u32(w, m->pid);
	gf_put_u8(w, m->kind);
	gf_put_u8(w, m->type);
	gf_put_u8(w, m->cmd);
	gf_put_u64(w, m->start);
	gf_put_u64(w, m->end);
}

int gfm_lock_req_decode(const void *payload, size_t len, struct gfm_lock_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->client = gf_get_u64(r);
	m->owner = gf_get_u64(r);
	m->pid = gf_get_u32(r);
	m->kind = gf_get_u8(r);
	m->type = gf_get_u8(r);
	m->cmd = gf_get_u8(r);
	m->start = gf_get_u64(r);
	m->end = gf_get_u64(r);
	if (!r->err && !lock_ok(m->kind, m->type, m->cmd, m->start, m->end))
		rfail(r);
	return D_END();
}

void gfm_lock_rep_encode(struct gf_wbuf *w, const struct gfm_lock_rep *m)
{
	if (m->type > GF_LK_WRLCK || m->start > m->end) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u8(w, m->type);
	gf_put_u8(w, m->flags);
	gf_put_u32(w, m->pid);
	gf_put_u64(w, m->start);
	gf_put_u64(w, m->end);
}

int gfm_lock_rep_decode(const void *payload, size_t len, struct gfm_lock_rep *m)
{
	D_BEGIN(m);
	m->type = gf_get_u8(r);
	m->flags = gf_get_u8(r);
	m->pid = gf_get_u32(r);
	m->start = gf_get_u64(r);
	m->end = gf_get_u64(r);
	if (!r->err && (m->type > GF_LK_WRLCK || m->start > m->end))
		rfail(r);
	return D_END();
}

/* ---- replication ------------------------------------------------------------------ */

void gfm_replicate_req_encode(struct gf_wbuf *w, const struct gfm_replicate_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u32(w, m->dst_host);
	gf_put_u32(w, m->src_host);
	gf_put_u32(w, m->flags);
}

int gfm_replicate_req_decode(const void *payload, size_t len, struct gfm_replicate_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->dst_host = gf_get_u32(r);
	m->src_host = gf_get_u32(r);
	m->flags = gf_get_u32(r);
	return D_END();
}

void gfm_replicate_rep_encode(struct gf_wbuf *w, const struct gfm_replicate_rep *m)
{
	gf_put_u32(w, m->host_id);
	gf_put_u64(w, m->bytes);
}

int gfm_replicate_rep_decode(const void *payload, size_t len, struct gfm_replicate_rep *m)
{
	D_BEGIN(m);
	m->host_id = gf_get_u32(r);
	m->bytes = gf_get_u64(r);
	return D_END();
}

void gfm_replica_drop_req_encode(struct gf_wbuf *w, const struct gfm_replica_drop_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u64(w, m->ino);
	gf_put_u32(w, m->host_id);
	gf_put_u32(w, m->keep);
}

int gfm_replica_drop_req_decode(const void *payload, size_t len,
				struct gfm_replica_drop_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->ino = gf_get_u64(r);
	m->host_id = gf_get_u32(r);
	m->keep = gf_get_u32(r);
	return D_END();
}

void gfs_replicate_req_encode(struct gf_wbuf *w, const struct gfs_replicate_req *m)
{
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->fgen);
	gf_put_u64(w, m->src_fgen);
	gf_put_u64(w, m->size);
	put_strn(w, m->src_addr, sizeof(m->src_addr));
	gf_put_u16(w, m->src_port);
	gf_put_u32(w, m->flags);
}

int gfs_replicate_req_decode(const void *payload, size_t len, struct gfs_replicate_req *m)
{
	D_BEGIN(m);
	m->ino = gf_get_u64(r);
	m->fgen = gf_get_u64(r);
	m->src_fgen = gf_get_u64(r);
	m->size = gf_get_u64(r);
	gf_get_str(r, m->src_addr, sizeof(m->src_addr));
	m->src_port = gf_get_u16(r);
	m->flags = gf_get_u32(r);
	return D_END();
}

void gfs_replicate_rep_encode(struct gf_wbuf *w, const struct gfs_replicate_rep *m)
{
	gf_put_u64(w, m->bytes);
}

int gfs_replicate_rep_decode(const void *payload, size_t len, struct gfs_replicate_rep *m)
{
	D_BEGIN(m);
	m->bytes = gf_get_u64(r);
	return D_END();
}

void gfm_host_drain_req_encode(struct gf_wbuf *w, const struct gfm_host_drain_req *m)
{
	put_cred(w, &m->cred);
	gf_put_u32(w, m->host_id);
	put_flag(w, m->on);
}

int gfm_host_drain_req_decode(const void *payload, size_t len, struct gfm_host_drain_req *m)
{
	D_BEGIN(m);
	get_cred(r, &m->cred);
	m->host_id = gf_get_u32(r);
	m->on = get_flag(r);
	return D_END();
}

void gfs_list_req_encode(struct gf_wbuf *w, const struct gfs_list_req *m)
{
	gf_put_u64(w, m->after_ino);
	gf_put_u64(w, m->after_fgen);
	gf_put_u32(w, m->max);
}

int gfs_list_req_decode(const void *payload, size_t len, struct gfs_list_req *m)
{
	D_BEGIN(m);
	m->after_ino = gf_get_u64(r);
	m->after_fgen = gf_get_u64(r);
	m->max = gf_get_u32(r);
	return D_END();
}

void gfs_list_rep_free(struct gfs_list_rep *m)
{
	if (!m)
		return;
	free(m->ents);
	m->ents = NULL;
	m->count = 0;
}

void gfs_list_rep_encode(struct gf_wbuf *w, const struct gfs_list_rep *m)
{
	if (m->count > GFS_LIST_MAX || (m->count && !m->ents)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->count);
	put_flag(w, m->eof);
	for (uint32_t i = 0; i < m->count; i++) {
		gf_put_u64(w, m->ents[i].ino);
		gf_put_u64(w, m->ents[i].fgen);
		gf_put_u64(w, m->ents[i].size);
	}
}

int gfs_list_rep_decode(const void *payload, size_t len, struct gfs_list_rep *m)
{
	D_BEGIN(m);
	uint32_t n = get_count(r, GFS_LIST_MAX, 24);
	m->eof = get_flag(r);
	if (r->err)
		goto out;
	if (n) {
		m->ents = calloc(n, sizeof(*m->ents));
		if (!m->ents)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		m->ents[i].ino = gf_get_u64(r);
		m->ents[i].fgen = gf_get_u64(r);
		m->ents[i].size = gf_get_u64(r);
	}
out:;
	int err = D_END();
	if (err)
		gfs_list_rep_free(m);
	return err;
}

/* ---- replica counts ------------------------------------------------------------------ */

uint32_t gf_ncopy_parse(const void *val, size_t len)
{
	const char *p = val;
	uint32_t n = 0;
	/* decimal digits, then optional white space (echo adds a newline) */
	size_t i = 0;
	while (i < len && p[i] >= '0' && p[i] <= '9' && n <= GF_MAX_REPLICAS)
		n = n * 10 + (uint32_t)(p[i++] - '0');
	if (i == 0)
		return 0;
	for (; i < len; i++)
		if (p[i] != '\n' && p[i] != ' ' && p[i] != '\0')
			return 0;
	return n >= 1 && n <= GF_MAX_REPLICAS ? n : 0;
}

/* ---- block checksums --------------------------------------------------------------- */

void gfs_sums_req_encode(struct gf_wbuf *w, const struct gfs_sums_req *m)
{
	gf_put_u64(w, m->handle);
	gf_put_u64(w, m->first);
	gf_put_u32(w, m->count);
}

int gfs_sums_req_decode(const void *payload, size_t len, struct gfs_sums_req *m)
{
	D_BEGIN(m);
	m->handle = gf_get_u64(r);
	m->first = gf_get_u64(r);
	m->count = gf_get_u32(r);
	return D_END();
}

void gfs_sums_rep_free(struct gfs_sums_rep *m)
{
	if (!m)
		return;
	free(m->sums);
	m->sums = NULL;
	m->count = 0;
}

void gfs_sums_rep_encode(struct gf_wbuf *w, const struct gfs_sums_rep *m)
{
	if (m->count > GFS_SUMS_MAX || (m->count && !m->sums)) {
		wfail(w, -EINVAL);
		return;
	}
	put_flag(w, m->sealed);
	put_flag(w, m->pending);
	gf_put_u32(w, m->block);
	gf_put_u64(w, m->size);
	gf_put_u64(w, m->first);
	gf_put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++)
		gf_put_u64(w, m->sums[i]);
}

int gfs_sums_rep_decode(const void *payload, size_t len, struct gfs_sums_rep *m)
{
	D_BEGIN(m);
	m->sealed = get_flag(r);
	m->pending = get_flag(r);
	m->block = gf_get_u32(r);
	m->size = gf_get_u64(r);
	m->first = gf_get_u64(r);
	uint32_t n = get_count(r, GFS_SUMS_MAX, 8);
	if (r->err)
		goto out;
	if (n) {
		m->sums = calloc(n, sizeof(*m->sums));
		if (!m->sums)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++)
		m->sums[i] = gf_get_u64(r);
out:;
	int err = D_END();
	if (err)
		gfs_sums_rep_free(m);
	return err;
}

void gfs_verify_req_encode(struct gf_wbuf *w, const struct gfs_verify_req *m)
{
	gf_put_u64(w, m->ino);
	gf_put_u64(w, m->fgen);
	gf_put_u32(w, m->flags);
}

int gfs_verify_req_decode(const void *payload, size_t len, struct gfs_verify_req *m)
{
	D_BEGIN(m);
	m->ino = gf_get_u64(r);
	m->fgen = gf_get_u64(r);
	m->flags = gf_get_u32(r);
	return D_END();
}

void gfs_verify_rep_encode(struct gf_wbuf *w, const struct gfs_verify_rep *m)
{
	gf_put_u8(w, m->state);
	gf_put_u64(w, m->size);
	gf_put_u64(w, m->bad_block);
}

int gfs_verify_rep_decode(const void *payload, size_t len, struct gfs_verify_rep *m)
{
	D_BEGIN(m);
	m->state = gf_get_u8(r);
	m->size = gf_get_u64(r);
	m->bad_block = gf_get_u64(r);
	if (!r->err && m->state > GFS_VERIFY_SEALED_NOW)
		return -EBADMSG;
	return D_END();
}

/* ---- the page service ------------------------------------------------------- */

static int page_count_ok(uint32_t n)
{
	return n >= 1 && n <= GF_PAGE_BATCH;
}

void gfs_page_put_fixed(uint8_t out[GFS_PAGE_PUT_FIXED], const struct gfs_page_put_req *m)
{
	struct gf_wbuf w;

	gf_wbuf_init_fixed(&w, out, GFS_PAGE_PUT_FIXED);
	gf_put_u64(&w, m->owner);
	gf_put_u64(&w, m->slot);
	gf_put_u64(&w, m->stamp);
	gf_put_u32(&w, m->npages);
}

void gfs_page_put_req_encode(struct gf_wbuf *w, const struct gfs_page_put_req *m)
{
	uint8_t fixed[GFS_PAGE_PUT_FIXED];

	if (!page_count_ok(m->npages) || m->stamp == 0 || !m->data) {
		wfail(w, -EINVAL);
		return;
	}
	gfs_page_put_fixed(fixed, m);
	gf_put_raw(w, fixed, sizeof(fixed));
	gf_put_raw(w, m->data, (size_t)m->npages * GF_PAGE_SIZE);
}

int gfs_page_put_req_decode(const void *payload, size_t len, struct gfs_page_put_req *m)
{
	D_BEGIN(m);
	m->owner = gf_get_u64(r);
	m->slot = gf_get_u64(r);
	m->stamp = gf_get_u64(r);
	m->npages = gf_get_u32(r);
	if (!r->err && (!page_count_ok(m->npages) || m->stamp == 0 ||
			len - GFS_PAGE_PUT_FIXED != (size_t)m->npages * GF_PAGE_SIZE))
		rfail(r);
	if (!r->err) {
		m->data = (const uint8_t *)payload + GFS_PAGE_PUT_FIXED;
		r->off = len;
	}
	int err = D_END();
	if (err) {
		m->data = NULL;
		m->npages = 0;
	}
	return err;
}

void gfs_page_punt_req_encode(struct gf_wbuf *w, const struct gfs_page_punt_req *m)
{
	gf_put_str(w, m->owner_host);
	gfs_page_put_req_encode(w, &m->put);
}

int gfs_page_punt_req_decode(const void *payload, size_t len, struct gfs_page_punt_req *m)
{
	D_BEGIN(m);
	gf_get_str(r, m->owner_host, sizeof(m->owner_host));
	if (r->err)
		return -EBADMSG;
	/* the rest is exactly a GFS_PAGE_PUT */
	return gfs_page_put_req_decode((const uint8_t *)payload + r->off, len - r->off, &m->put);
}

void gfs_page_get_req_encode(struct gf_wbuf *w, const struct gfs_page_get_req *m)
{
	if (!page_count_ok(m->npages)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u64(w, m->owner);
	gf_put_u64(w, m->slot);
	gf_put_u32(w, m->npages);
}

int gfs_page_get_req_decode(const void *payload, size_t len, struct gfs_page_get_req *m)
{
	D_BEGIN(m);
	m->owner = gf_get_u64(r);
	m->slot = gf_get_u64(r);
	m->npages = gf_get_u32(r);
	if (!r->err && !page_count_ok(m->npages))
		rfail(r);
	return D_END();
}

void gfs_page_get_rep_encode(struct gf_wbuf *w, const struct gfs_page_get_rep *m)
{
	if (!page_count_ok(m->npages) || !m->data) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->npages);
	for (uint32_t i = 0; i < m->npages; i++)
		gf_put_u64(w, m->stamps[i]);
	gf_put_raw(w, m->data, (size_t)m->npages * GF_PAGE_SIZE);
}

int gfs_page_get_rep_decode(const void *payload, size_t len, struct gfs_page_get_rep *m)
{
	D_BEGIN(m);
	m->npages = gf_get_u32(r);
	if (!r->err && (!page_count_ok(m->npages) ||
			len != GFS_PAGE_GET_REP_FIXED(m->npages) +
				       (size_t)m->npages * GF_PAGE_SIZE))
		rfail(r);
	for (uint32_t i = 0; i < m->npages && !r->err; i++)
		m->stamps[i] = gf_get_u64(r);
	if (!r->err) {
		m->data = (const uint8_t *)payload + GFS_PAGE_GET_REP_FIXED(m->npages);
		r->off = len;
	}
	int err = D_END();
	if (err) {
		m->data = NULL;
		m->npages = 0;
	}
	return err;
}

void gfs_page_inval_req_encode(struct gf_wbuf *w, const struct gfs_page_inval_req *m)
{
	if (m->npages < 1 || m->npages > GF_PAGE_INVAL_MAX) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u64(w, m->owner);
	gf_put_u64(w, m->slot);
	gf_put_u32(w, m->npages);
	gf_put_u64(w, m->stamp);
}

int gfs_page_inval_req_decode(const void *payload, size_t len, struct gfs_page_inval_req *m)
{
	D_BEGIN(m);
	m->owner = gf_get_u64(r);
	m->slot = gf_get_u64(r);
	m->npages = gf_get_u32(r);
	m->stamp = gf_get_u64(r);
	if (!r->err && (m->npages < 1 || m->npages > GF_PAGE_INVAL_MAX))
		rfail(r);
	return D_END();
}

void gfs_page_inval_rep_encode(struct gf_wbuf *w, const struct gfs_page_inval_rep *m)
{
	gf_put_u32(w, m->dropped);
}

int gfs_page_inval_rep_decode(const void *payload, size_t len, struct gfs_page_inval_rep *m)
{
	D_BEGIN(m);
	m->dropped = gf_get_u32(r);
	return D_END();
}

void gfs_page_stats_rep_encode(struct gf_wbuf *w, const struct gfs_page_stats_rep *m)
{
	gf_put_u64(w, m->total);
	gf_put_u64(w, m->used);
	gf_put_u64(w, m->free);
	gf_put_u64(w, m->locked);
	gf_put_u64(w, m->owners);
	gf_put_u64(w, m->puts);
	gf_put_u64(w, m->gets);
	gf_put_u64(w, m->get_misses);
	gf_put_u64(w, m->stale_puts);
	gf_put_u64(w, m->invalidated);
	gf_put_u64(w, m->refused);
	gf_put_u64(w, m->punted);
	gf_put_u64(w, m->dropped);
	gf_put_u64(w, m->cap);
	gf_put_u64(w, m->instance);
	gf_put_u64(w, m->expired);
	gf_put_u64(w, m->owners_located);
}

int gfs_page_stats_rep_decode(const void *payload, size_t len, struct gfs_page_stats_rep *m)
{
	D_BEGIN(m);
	m->total = gf_get_u64(r);
	m->used = gf_get_u64(r);
	m->free = gf_get_u64(r);
	m->locked = gf_get_u64(r);
	m->owners = gf_get_u64(r);
	m->puts = gf_get_u64(r);
	m->gets = gf_get_u64(r);
	m->get_misses = gf_get_u64(r);
	m->stale_puts = gf_get_u64(r);
	m->invalidated = gf_get_u64(r);
	m->refused = gf_get_u64(r);
	m->punted = gf_get_u64(r);
	m->dropped = gf_get_u64(r);
	m->cap = gf_get_u64(r);
	m->instance = gf_get_u64(r);
	m->expired = gf_get_u64(r);
	m->owners_located = gf_get_u64(r);
	return D_END();
}

void gfs_page_updates_req_encode(struct gf_wbuf *w, const struct gfs_page_updates_req *m)
{
	if (m->max < 1 || m->max > GFS_PAGE_UPDATES_MAX) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u64(w, m->owner);
	gf_put_u32(w, m->max);
}

int gfs_page_updates_req_decode(const void *payload, size_t len, struct gfs_page_updates_req *m)
{
	D_BEGIN(m);
	m->owner = gf_get_u64(r);
	m->max = gf_get_u32(r);
	if (!r->err && (m->max < 1 || m->max > GFS_PAGE_UPDATES_MAX))
		rfail(r);
	return D_END();
}

#define PAGE_MOVE_MIN_WIRE (8u + 8u + 1u + 4u)

void gfs_page_updates_rep_encode(struct gf_wbuf *w, const struct gfs_page_updates_rep *m)
{
	if (m->count > GFS_PAGE_UPDATES_MAX || (m->count && !m->moves)) {
		wfail(w, -EINVAL);
		return;
	}
	gf_put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		gf_put_u64(w, m->moves[i].slot);
		gf_put_u64(w, m->moves[i].stamp);
		gf_put_u8(w, m->moves[i].hops);
		put_strn(w, m->moves[i].host, sizeof(m->moves[i].host));
	}
}

int gfs_page_updates_rep_decode(const void *payload, size_t len, struct gfs_page_updates_rep *m)
{
	D_BEGIN(m);
	uint32_t n = get_count(r, GFS_PAGE_UPDATES_MAX, PAGE_MOVE_MIN_WIRE);
	if (!r->err && n) {
		m->moves = calloc(n, sizeof(*m->moves));
		if (!m->moves)
			return -ENOMEM;
		m->count = n;
	}
	for (uint32_t i = 0; i < n && !r->err; i++) {
		m->moves[i].slot = gf_get_u64(r);
		m->moves[i].stamp = gf_get_u64(r);
		m->moves[i].hops = gf_get_u8(r);
		gf_get_str(r, m->moves[i].host, sizeof(m->moves[i].host));
	}
	int err = D_END();
	if (err)
		gfs_page_updates_rep_free(m);
	return err;
}

void gfs_page_updates_rep_free(struct gfs_page_updates_rep *m)
{
	if (!m)
		return;
	free(m->moves);
	m->moves = NULL;
	m->count = 0;
}

void gfs_page_cap_req_encode(struct gf_wbuf *w, const struct gfs_page_cap_req *m)
{
	gf_put_u64(w, m->pages);
}

int gfs_page_cap_req_decode(const void *payload, size_t len, struct gfs_page_cap_req *m)
{
	D_BEGIN(m);
	m->pages = gf_get_u64(r);
	return D_END();
}
