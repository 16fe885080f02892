#include "rpc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "net.h"

struct waiter {
	uint32_t reqid;
	int done;
	int err; /* transport error when done without a reply */
	struct gf_reply rep;
	pthread_cond_t cond;
	struct waiter *next;
};

/*
 * No receiver thread: a caller waiting for its reply reads the socket for
 * everyone (one at a time, "reading"), hands other callers their replies,
 * and when its own has come wakes a waiter to take over. A reply thus
 * reaches a lone caller without a thread switch, which is most of the cost
 * of a round trip on a small machine.
 */
struct gf_rpc {
	int sock;
	pthread_mutex_t lock; /* waiters, next_id, dead, reading */
	pthread_mutex_t send_lock;
	struct waiter *waiters;
	uint32_t next_id;
	unsigned timeout_ms;
	int dead;
	int reading; /* a caller is receiving for everyone */
	char peer[GF_HOST_MAX + 16];
};

void gf_reply_release(struct gf_reply *r)
{
	free(r->payload);
	r->payload = NULL;
	r->len = 0;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* Fail every waiter; called with lock held. */
static void fail_all(struct gf_rpc *c, int err)
{
	c->dead = 1;
	for (struct waiter *w = c->waiters; w; w = w->next) {
		w->done = 1;
		w->err = err;
		pthread_cond_signal(&w->cond);
	}
	c->waiters = NULL;
}

/* Hand frame f to the caller waiting for it; lock held. */
static void deliver(struct gf_rpc *c, struct gf_frame *f)
{
	struct waiter **pp = &c->waiters, *w = NULL;
	while (*pp) {
		if ((*pp)->reqid == f->hdr.reqid) {
			w = *pp;
			*pp = w->next;
			break;
		}
		pp = &(*pp)->next;
	}
	if (!w || !(f->hdr.op & GF_OP_REPLY)) {
		gf_warn("connection to %s: unexpected frame op %u reqid %u; closing",
			c->peer, f->hdr.op, f->hdr.reqid);
		gf_frame_release(f);
		shutdown(c->sock, SHUT_RDWR);
		fail_all(c, -ENOTCONN);
		return;
	}
	w->rep.status = f->hdr.status;
	w->rep.payload = f->payload;
	w->rep.len = f->hdr.len;
	w->rep.fd = f->fd;
	w->done = 1;
	pthread_cond_signal(&w->cond);
}

static int ms_until(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* rounded up: a poll that returns early would spin until the time */
	long long ms = (long long)(t->tv_sec - now.tv_sec) * 1000 +
		       (t->tv_nsec - now.tv_nsec + 999999) / 1000000;
	return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

static int passed(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static const struct timespec *earlier(const struct timespec *a, const struct timespec *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec)
		       ? a : b;
}

/*
 * Receive one frame for whoever it is for, as the reader (lock held on entry
 * and exit, dropped while receiving). Returns 0 without reading when
 * deadline (NULL: none) passes first, 1 otherwise.
 */
static int read_one(struct gf_rpc *c, const struct timespec *deadline)
{
	struct gf_frame f;
	int rc = 0;

	c->reading = 1;
	pthread_mutex_unlock(&c->lock);
	if (deadline) {
		struct pollfd p = { .fd = c->sock, .events = POLLIN };
		int n;
		do
			n = poll(&p, 1, ms_until(deadline));
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			pthread_mutex_lock(&c->lock);
			c->reading = 0;
			return 0;
		}
		if (n < 0)
			rc = -errno;
	}
	if (!rc)
		rc = gf_frame_recv(c->sock, &f);
	pthread_mutex_lock(&c->lock);
	c->reading = 0;
	if (rc == -EAGAIN) {
		/* readable, yet nothing of a frame came: the caller asks again */
	} else if (rc == -ETIMEDOUT) {
		/* a reply that stopped half-way (SO_RCVTIMEO, gf_rpc_set_timeout) */
		gf_warn("connection to %s: a reply stopped half-way for %u ms; closing it",
			c->peer, c->timeout_ms);
		fail_all(c, -ETIMEDOUT);
		shutdown(c->sock, SHUT_RDWR);
	} else if (rc) {
		if (rc != -ECONNRESET && !c->dead)
			gf_warn("connection to %s: %s", c->peer, strerror(-rc));
		fail_all(c, -ENOTCONN);
	} else {
		deliver(c, &f);
	}
	return 1;
}

/* The peer is taken for gone (lock held): every waiter fails, me with
 * -ETIMEDOUT. */
static void give_up(struct gf_rpc *c, struct waiter *me)
{
	if (!c->dead) {
		fail_all(c, -ENOTCONN);
		shutdown(c->sock, SHUT_RDWR);
	}
	me->err = -ETIMEDOUT;
}

int gf_rpc_connect(const char *host, uint16_t port, const struct gf_key *key,
		   uint8_t kind, const char *my_host, struct gf_rpc **out)
{
	return gf_rpc_connect_timeout(host, port, key, kind, my_host, 0, out);
}

int gf_rpc_connect_timeout(const char *host, uint16_t port, const struct gf_key *key,
			   uint8_t kind, const char *my_host, unsigned timeout_ms,
			   struct gf_rpc **out)
{
	*out = NULL;
	int sock = port ? gf_tcp_connect_timeout(host, port, timeout_ms) : gf_unix_connect(host);
	if (sock < 0)
		return sock;
	if (port) {
		/* a peer whose host vanished fails the calls waiting on it */
		int idle = 10, intvl = 5, cnt = 3;
		setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	/* Do not hang forever on a peer that accepts but never speaks. */
	unsigned auth_ms = timeout_ms && timeout_ms < 10000 ? timeout_ms : 10000;
	struct timeval tv = { .tv_sec = auth_ms / 1000,
			      .tv_usec = (suseconds_t)(auth_ms % 1000) * 1000 };
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = gf_auth_client(sock, key, kind, my_host);
	if (rc) {
		close(sock);
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	}
	tv = (struct timeval){ 0 };
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct gf_rpc *c = calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return -ENOMEM;
	}
	c->sock = sock;
	c->next_id = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	if (port)
		snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	else
		snprintf(c->peer, sizeof(c->peer), "%.*s", (int)sizeof(c->peer) - 1, host);
	*out = c;
	return 0;
}

void gf_rpc_close(struct gf_rpc *c)
{
	if (!c)
		return;
	shutdown(c->sock, SHUT_RDWR);
	close(c->sock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->send_lock);
	free(c);
}

void gf_rpc_set_timeout(struct gf_rpc *c, unsigned timeout_ms)
{
	pthread_mutex_lock(&c->lock);
	c->timeout_ms = timeout_ms;
	/* a reply that stops half-way fails the same (gf_frame_recv says
	 * -ETIMEDOUT) instead of holding the reader for ever */
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000 };
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_mutex_unlock(&c->lock);
}

int gf_rpc_alive(struct gf_rpc *c)
{
	pthread_mutex_lock(&c->lock);
	if (!c->dead && !c->reading && !c->waiters) {
		/* nobody reads an idle connection: ask the socket whether the
		 * peer closed it (or sent what nobody asked for) */
		struct pollfd p = { .fd = c->sock, .events = POLLIN | POLLRDHUP };
		if (poll(&p, 1, 0) > 0) {
			shutdown(c->sock, SHUT_RDWR);
			fail_all(c, -ENOTCONN);
		}
	}
	int alive = !c->dead;
	pthread_mutex_unlock(&c->lock);
	return alive;
}

int gf_rpc_call(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		struct gf_reply *rep)
{
	return gf_rpc_call_wait(c, op, req, rep, NULL);
}

int gf_rpc_call_wait(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		     struct gf_reply *rep, const struct gf_rpc_wait *wait)
{
	struct waiter w = { .rep = { .fd = -1 } };
	memset(rep, 0, sizeof(*rep));
	rep->fd = -1;
	if (req && req->err)
		return req->err;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		pthread_cond_destroy(&w.cond);
		return -ENOTCONN;
	}
	w.reqid = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	w.next = c->waiters;
	c->waiters = &w;
	unsigned timeout_ms = c->timeout_ms;
	pthread_mutex_unlock(&c->lock);

	/* two alarms: the connection's timeout (the peer is gone), which
	 * covers the send too — a peer that stops reading our requests must
	 * not hold this caller (nor, through send_lock, the others) longer —
	 * and the caller's tick (it decides) */
	struct timespec deadline, tick_at;
	int has_deadline = timeout_ms != 0, has_tick = wait && wait->tick;
	if (has_deadline)
		deadline = gf_mono_in_ms(timeout_ms);
	pthread_mutex_lock(&c->send_lock);
	int rc = gf_frame_send_timed(c->sock, op, w.reqid, 0, req ? req->data : NULL,
				     req ? req->len : 0, -1,
				     has_deadline ? ms_until(&deadline) : -1);
	pthread_mutex_unlock(&c->send_lock);

	pthread_mutex_lock(&c->lock);
	if (rc == -EMSGSIZE && !w.done) {
		/* Nothing was sent: the connection is still good. */
		for (struct waiter **pp = &c->waiters; *pp; pp = &(*pp)->next)
			if (*pp == &w) {
				*pp = w.next;
				break;
			}
		pthread_mutex_unlock(&c->lock);
		pthread_cond_destroy(&w.cond);
		return rc;
	}
	if (rc) {
		/* Unlink ourselves unless the receiver already failed us. */
		if (!w.done) {
			for (struct waiter **pp = &c->waiters; *pp; pp = &(*pp)->next)
				if (*pp == &w) {
					*pp = w.next;
					break;
				}
		}
		if (!c->dead) {
			if (rc == -ETIMEDOUT)
				gf_warn("connection to %s: request not taken in %u ms; closing it",
					c->peer, timeout_ms);
			fail_all(c, -ENOTCONN);
			shutdown(c->sock, SHUT_RDWR);
		}
		pthread_mutex_unlock(&c->lock);
		gf_reply_release(&w.rep);
		pthread_cond_destroy(&w.cond);
		return rc == -ETIMEDOUT ? rc : -ENOTCONN;
	}
	if (has_tick)
		tick_at = gf_mono_in_ms(wait->first_ms);
	while (!w.done) {
		const struct timespec *wake = earlier(has_deadline ? &deadline : NULL,
						      has_tick ? &tick_at : NULL);
		if (!c->reading && !c->dead) {
			if (read_one(c, wake))
				continue;
		} else if (!wake) {
			pthread_cond_wait(&w.cond, &c->lock);
			continue;
		} else if (pthread_cond_timedwait(&w.cond, &c->lock, wake) != ETIMEDOUT) {
			continue;
		}
		if (w.done)
			break;
		if (has_deadline && passed(&deadline)) {
			gf_warn("connection to %s: no reply in %u ms; closing it", c->peer,
				timeout_ms);
			give_up(c, &w);
			continue;
		}
		if (has_tick && passed(&tick_at)) {
			unsigned next = 1000;
			pthread_mutex_unlock(&c->lock);
			int stop = wait->tick(wait->arg, &next);
			pthread_mutex_lock(&c->lock);
			if (w.done)
				break;
			if (stop) {
				give_up(c, &w);
				continue;
			}
			tick_at = gf_mono_in_ms(next);
		}
	}
	/* done: if others still wait and nobody reads, one of them must */
	if (!c->reading && c->waiters)
		pthread_cond_signal(&c->waiters->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&w.cond);
	if (w.err)
		return w.err;
	*rep = w.rep;
	return 0;
}

int gf_rpc_call_status(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		       struct gf_reply *rep)
{
	int rc = gf_rpc_call(c, op, req, rep);
	if (rc)
		return rc;
	if (rep->status != 0) {
		rc = rep->status < 0 ? rep->status : -EPROTO;
		gf_reply_release(rep);
	}
	return rc;
}
