/*
 * servers.c — page servers and page requests (servers.h).
 */
#include "servers.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "client.h"
#include "clock.h"

#define DOWN_MS 3000
#define RXBUF (GF_HDR_SIZE + GFS_PAGE_GET_REP_FIXED(GF_PAGE_BATCH) + 256)

int servers_init(struct servers *s, const struct gf_key *key, const char *my_host,
		 const char *gfmd_host, uint16_t gfmd_port, unsigned io_timeout_ms,
		 uint64_t owner)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->key = *key;
	snprintf(s->my_host, sizeof(s->my_host), "%s", my_host);
	snprintf(s->gfmd_host, sizeof(s->gfmd_host), "%s", gfmd_host);
	s->gfmd_port = gfmd_port;
	s->io_timeout_ms = io_timeout_ms ? io_timeout_ms : 5000;
	s->owner = owner;
	for (int i = 0; i < SERVERS_MAX; i++) {
		struct pserver *p = &s->v[i];
		pthread_mutex_init(&p->mu, NULL);
		pthread_cond_init(&p->cv, NULL);
		for (int k = 0; k < POOL_CONNS; k++) {
			p->conns[k].fd = -1;
			p->conns[k].buf = malloc(RXBUF);
			if (!p->conns[k].buf) {
				servers_destroy(s);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

void servers_destroy(struct servers *s)
{
	for (int i = 0; i < SERVERS_MAX; i++) {
		struct pserver *p = &s->v[i];
		for (int k = 0; k < POOL_CONNS; k++) {
			if (p->conns[k].fd >= 0)
				close(p->conns[k].fd);
			free(p->conns[k].buf);
			p->conns[k].buf = NULL;
			p->conns[k].fd = -1;
		}
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
	}
	pthread_mutex_destroy(&s->mu);
}

int servers_refresh(struct servers *s)
{
	struct gfm_host_list_rep hl;
	int r = gf_host_list_once(s->gfmd_host, s->gfmd_port, &s->key, GF_PEER_CLIENT, s->my_host,
				  &hl);

	if (r < 0)
		return r;
	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < hl.count; i++) {
		const struct gf_host_info *h = &hl.hosts[i];
		uint32_t k;
		if (!strcmp(h->name, s->my_host))
			continue; /* swapping to our own RAM frees none of it */
		for (k = 0; k < s->n; k++)
			if (!strcmp(s->v[k].name, h->name))
				break;
		if (k == s->n) {
			if (s->n == SERVERS_MAX)
				continue;
			snprintf(s->v[k].name, sizeof(s->v[k].name), "%s", h->name);
			s->n++;
		}
		struct pserver *p = &s->v[k];
		if (strcmp(p->addr, h->addr) || p->port != h->port) {
			/* moved: its connections go at their next failure */
			snprintf(p->addr, sizeof(p->addr), "%s", h->addr);
			p->port = h->port;
		}
		p->up = h->up; /* whether it lends is free_pages */
		p->free_pages = (int64_t)h->swap_free;
	}
	pthread_mutex_unlock(&s->mu);
	gfm_host_list_rep_free(&hl);
	return 0;
}

int servers_pick(struct servers *s, uint32_t n, const int *avoid, int navoid)
{
	uint64_t now = gf_mono_ms();
	int found = -1;

	pthread_mutex_lock(&s->mu);
	for (uint32_t j = 0; j < s->n && found < 0; j++) {
		uint32_t i = (s->rr + j) % s->n;
		struct pserver *p = &s->v[i];
		int skip = !p->up || p->down_until_ms > now || p->free_pages < (int64_t)n;
		for (int a = 0; a < navoid && !skip; a++)
			if (avoid[a] == (int)i)
				skip = 1;
		if (!skip)
			found = (int)i;
	}
	if (found >= 0) {
		s->rr = (uint32_t)found + 1;
		s->v[found].free_pages -= n;
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

/* ---- connections ---------------------------------------------------------------- */

static void taken_down(struct servers *s, struct pserver *p, const char *why, int err)
{
	pthread_mutex_lock(&s->mu);
	int was = p->down_until_ms > (uint64_t)gf_mono_ms();
	p->down_until_ms = gf_mono_ms() + DOWN_MS;
	pthread_mutex_unlock(&s->mu);
	__atomic_add_fetch(&p->failures, 1, __ATOMIC_RELAXED);
	if (!was)
		gf_warn("gfswap: page server %s (%s:%u): %s: %s; using other copies", p->name,
			p->addr, p->port, why, strerror(-err));
}

static int conn_open(struct servers *s, struct pserver *p, struct pconn *c)
{
	int fd, one = 1, r;
	struct timeval tv = { .tv_sec = s->io_timeout_ms / 1000,
			      .tv_usec = (s->io_timeout_ms % 1000) * 1000 };

	fd = gf_tcp_connect_timeout(p->addr, p->port, 2000);
	if (fd < 0)
		return fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((r = gf_auth_client(fd, &s->key, GF_PEER_CLIENT, s->my_host)) < 0) {
		close(fd);
		return r;
	}
	c->fd = fd;
	return 0;
}

/* A free connection of server i, connected; NULL (and *err) if none can be. */
static struct pconn *conn_take(struct servers *s, int i, int *err)
{
	struct pserver *p = &s->v[i];
	struct pconn *c = NULL;

	pthread_mutex_lock(&s->mu);
	int down = p->down_until_ms > (uint64_t)gf_mono_ms();
	pthread_mutex_unlock(&s->mu);
	if (down) {
		*err = -EHOSTDOWN;
		return NULL;
	}
	pthread_mutex_lock(&p->mu);
	for (;;) {
		for (int k = 0; k < POOL_CONNS && !c; k++)
			if (!p->conns[k].busy && p->conns[k].fd >= 0)
				c = &p->conns[k];
		for (int k = 0; k < POOL_CONNS && !c; k++)
			if (!p->conns[k].busy)
				c = &p->conns[k];
		if (c)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	c->busy = 1;
	pthread_mutex_unlock(&p->mu);
	if (c->fd < 0 && (*err = conn_open(s, p, c)) < 0) {
		taken_down(s, p, "cannot connect", *err);
		pthread_mutex_lock(&p->mu);
		c->busy = 0;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	return c;
}

/* Give c back; failed: close it (the stream may be out of step). */
static void conn_give(struct servers *s, int i, struct pconn *c, int failed, int err)
{
	struct pserver *p = &s->v[i];

	if (failed) {
		close(c->fd);
		c->fd = -1;
		taken_down(s, p, "request failed", err);
	}
	pthread_mutex_lock(&p->mu);
	if (failed) {
		/* the others idle in the pool went the same way (a server that
		 * restarted reset them all): connect afresh next time */
		for (int k = 0; k < POOL_CONNS; k++)
			if (!p->conns[k].busy && p->conns[k].fd >= 0) {
				close(p->conns[k].fd);
				p->conns[k].fd = -1;
			}
	}
	c->busy = 0;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int send_iov(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t n = writev(fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_req(struct pconn *c, uint16_t op, const void *fixed, size_t flen,
		    const void *data, size_t dlen)
{
	uint8_t hdr[GF_HDR_SIZE];
	struct iovec iov[3];
	int cnt = 0;

	c->reqid++;
	gf_frame_hdr(hdr, op, c->reqid, 0, flen + dlen);
	iov[cnt++] = (struct iovec){ hdr, sizeof(hdr) };
	if (flen)
		iov[cnt++] = (struct iovec){ (void *)fixed, flen };
	if (dlen)
		iov[cnt++] = (struct iovec){ (void *)data, dlen };
	return send_iov(c->fd, iov, cnt);
}

/*
 * The reply to c's request op: 0 with its payload length in *len (not yet
 * read) or the server's negative status in *status; < 0 for a transport
 * failure or a reply that does not fit.
 */
static int recv_hdr(struct pconn *c, uint16_t op, uint32_t *len, int32_t *status)
{
	struct gf_hdr h;
	int r = recv_all(c->fd, c->buf, GF_HDR_SIZE);

	if (r < 0)
		return r;
	if ((r = gf_hdr_decode(c->buf, &h)) < 0)
		return r;
	if (h.op != (op | GF_OP_REPLY) || h.reqid != c->reqid ||
	    (h.status < 0 && h.len != 0))
		return -EPROTO;
	*len = h.len;
	*status = h.status;
	return 0;
}

/* ---- requests ------------------------------------------------------------------- */

static int put_send(struct servers *s, int i, struct pconn **cp, uint64_t slot, uint64_t stamp,
		    uint32_t n, const uint8_t *data)
{
	struct gfs_page_put_req req = { .owner = s->owner, .slot = slot, .stamp = stamp,
					.npages = n };
	uint8_t fixed[GFS_PAGE_PUT_FIXED];
	int err = 0, r;

	*cp = conn_take(s, i, &err);
	if (!*cp)
		return err;
	gfs_page_put_fixed(fixed, &req);
	r = send_req(*cp, GFS_PAGE_PUT, fixed, sizeof(fixed), data, (size_t)n * GF_PAGE_SIZE);
	if (r < 0) {
		conn_give(s, i, *cp, 1, r);
		*cp = NULL;
	}
	return r;
}

static int put_recv(struct servers *s, int i, struct pconn *c, uint32_t n)
{
	uint32_t len;
	int32_t status;
	int r = recv_hdr(c, GFS_PAGE_PUT, &len, &status);

	if (r == 0 && len != 0)
		r = -EPROTO;
	conn_give(s, i, c, r < 0, r);
	if (r < 0)
		return r;
	if (status == 0) {
		__atomic_add_fetch(&s->v[i].pages_out, n, __ATOMIC_RELAXED);
	} else if (status == -ENOSPC) {
		__atomic_add_fetch(&s->v[i].refusals, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&s->mu);
		s->v[i].free_pages = 0; /* full until its next heartbeat says otherwise */
		pthread_mutex_unlock(&s->mu);
	}
	return status;
}

void page_put2(struct servers *s, int a, int b, uint64_t slot, uint64_t stamp, uint32_t n,
	       const uint8_t *data, int *ra, int *rb)
{
	struct pconn *ca = NULL, *cb = NULL;

	*ra = put_send(s, a, &ca, slot, stamp, n, data);
	*rb = b >= 0 ? put_send(s, b, &cb, slot, stamp, n, data) : -EINVAL;
	if (ca)
		*ra = put_recv(s, a, ca, n);
	if (cb)
		*rb = put_recv(s, b, cb, n);
}

int page_get(struct servers *s, int i, uint64_t slot, uint32_t n, uint64_t *stamps,
	     uint8_t *out)
{
	uint8_t fixed[8 + 8 + 4];
	struct pconn *c;
	uint32_t len;
	int32_t status;
	int err = 0, r;

	if (!(c = conn_take(s, i, &err)))
		return err;
	struct gfs_page_get_req req = { .owner = s->owner, .slot = slot, .npages = n };
	struct gf_wbuf w;
	gf_wbuf_init_fixed(&w, fixed, sizeof(fixed));
	gfs_page_get_req_encode(&w, &req);
	if (w.err) {
		conn_give(s, i, c, 0, 0);
		return w.err;
	}
	r = send_req(c, GFS_PAGE_GET, fixed, w.len, NULL, 0);
	if (r == 0)
		r = recv_hdr(c, GFS_PAGE_GET, &len, &status);
	if (r == 0 && status == 0) {
		size_t flen = GFS_PAGE_GET_REP_FIXED(n);
		if (len != flen + (size_t)n * GF_PAGE_SIZE)
			r = -EPROTO;
		if (r == 0)
			r = recv_all(c->fd, c->buf, flen);
		if (r == 0)
			r = recv_all(c->fd, out, (size_t)n * GF_PAGE_SIZE);
		if (r == 0) {
			struct gf_rbuf rb;
			gf_rbuf_init(&rb, c->buf, flen);
			if (gf_get_u32(&rb) != n)
				r = -EPROTO;
			for (uint32_t k = 0; k < n; k++)
				stamps[k] = gf_get_u64(&rb);
			if (rb.err)
				r = -EPROTO;
		}
	} else if (r == 0 && len != 0) {
		r = -EPROTO;
	}
	conn_give(s, i, c, r < 0, r);
	if (r < 0)
		return r;
	if (status == 0)
		__atomic_add_fetch(&s->v[i].pages_in, n, __ATOMIC_RELAXED);
	return status;
}

/* A request with a small fixed payload and a small reply read into c->buf. */
static int small_call(struct servers *s, int i, uint16_t op, const void *req, size_t rlen,
		      void *rep, size_t *replen, size_t repmax)
{
	struct pconn *c;
	uint32_t len;
	int32_t status;
	int err = 0, r;

	if (!(c = conn_take(s, i, &err)))
		return err;
	r = send_req(c, op, req, rlen, NULL, 0);
	if (r == 0)
		r = recv_hdr(c, op, &len, &status);
	if (r == 0 && len > repmax)
		r = -EPROTO;
	if (r == 0 && len)
		r = recv_all(c->fd, rep, len);
	conn_give(s, i, c, r < 0, r);
	if (r < 0)
		return r;
	*replen = len;
	return status;
}


int page_inval(struct servers *s, int i, uint64_t slot, uint32_t n, uint64_t stamp)
{
	struct gfs_page_inval_req req = { .owner = s->owner, .slot = slot, .npages = n,
					  .stamp = stamp };
	uint8_t buf[8 + 8 + 4 + 8], rep[16];
	struct gf_wbuf w;
	size_t replen;

	gf_wbuf_init_fixed(&w, buf, sizeof(buf));
	gfs_page_inval_req_encode(&w, &req);
	if (w.err)
		return w.err;
	return small_call(s, i, GFS_PAGE_INVALIDATE, buf, w.len, rep, &replen, sizeof(rep));
}

int page_stats(struct servers *s, int i, struct gfs_page_stats_rep *st)
{
	uint8_t rep[256];
	size_t replen;
	int r = small_call(s, i, GFS_PAGE_STATS, NULL, 0, rep, &replen, sizeof(rep));

	if (r == 0)
		r = gfs_page_stats_rep_decode(rep, replen, st);
	return r;
}

int page_updates(struct servers *s, int i, struct gfs_page_move *out, uint32_t max,
		 uint8_t *buf, size_t buflen)
{
	struct gfs_page_updates_req req = { .owner = s->owner, .max = max };
	uint8_t reqbuf[8 + 4];
	struct gf_wbuf w;
	size_t replen;
	struct gfs_page_updates_rep rep;
	int r;

	gf_wbuf_init_fixed(&w, reqbuf, sizeof(reqbuf));
	gfs_page_updates_req_encode(&w, &req);
	if (w.err)
		return w.err;
	r = small_call(s, i, GFS_PAGE_UPDATES, reqbuf, w.len, buf, &replen, buflen);
	if (r < 0)
		return r;
	if ((r = gfs_page_updates_rep_decode(buf, replen, &rep)) < 0)
		return r;
	uint32_t n = rep.count < max ? rep.count : max;
	if (n)
		memcpy(out, rep.moves, n * sizeof(*out));
	gfs_page_updates_rep_free(&rep);
	return (int)n;
}

int servers_find(struct servers *s, const char *name)
{
	int found = -1;

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < s->n && found < 0; i++)
		if (!strcmp(s->v[i].name, name))
			found = (int)i;
	pthread_mutex_unlock(&s->mu);
	return found;
}

int servers_holds(struct servers *s, int i, uint8_t epoch)
{
	int yes = 0;

	pthread_mutex_lock(&s->mu);
	if (i >= 0 && (uint32_t)i < s->n) {
		const struct pserver *p = &s->v[i];
		yes = p->up && p->down_until_ms <= (uint64_t)gf_mono_ms() && epoch == p->epoch;
	}
	pthread_mutex_unlock(&s->mu);
	return yes;
}

uint8_t servers_epoch(struct servers *s, int i)
{
	return __atomic_load_n(&s->v[i].epoch, __ATOMIC_ACQUIRE);
}
