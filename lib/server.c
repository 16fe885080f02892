#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define MAX_LISTENERS 8
#define AUTH_TIMEOUT_SEC 10
/* At stop, replies still queued get this long (at most the send timeout) to
 * leave: gfmd's last commit is answered, a vanished peer does not hold the
 * exit for long. */
#define STOP_FLUSH_MS 5000

/* A frame, or the rest of one, waiting for its peer to take it. */
struct out_frame {
	struct out_frame *next;
	size_t len, off; /* bytes in data; how many of them went */
	int fd;		 /* a dup to pass with byte 0 (local connections), or -1 */
	uint8_t data[];
};

struct gf_conn {
	int sock;
	atomic_int refs;
	struct gf_server *srv;
	uint8_t peer_kind;
	int is_local;
	char peer_host[GF_HOST_MAX + 1];
	char desc[GF_HOST_MAX + 96];
	void *data;
	struct gf_conn *prev, *next;	     /* connections being read, under srv->lock */
	struct gf_conn *all_prev, *all_next; /* every one not yet freed, under srv->lock */

	/*
	 * Outbound, under out_lock. The socket is written by whoever holds
	 * out_lock while nobody is `writing`, or by the connection's own thread
	 * while it is `writing` (outside the lock, so that others can queue
	 * behind it meanwhile). Queued bytes always go before newer ones.
	 */
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond; /* the queue shrank or emptied, or c died */
	struct out_frame *q_head, **q_tail;
	size_t q_bytes;
	struct timespec q_since; /* last progress of the queue (CLOCK_MONOTONIC) */
	int writing;
	atomic_int dead; /* closed by us: replies are dropped (set under out_lock) */
	int in_sendq; /* on srv->sendq, which then holds a reference */
	struct gf_conn *sq_prev, *sq_next; /* under srv->out_lock */
};

struct gf_server {
	struct gf_key key;
	struct gf_server_ops ops;
	char name[40]; /* "gfmd: " or "" */
	int send_timeout_ms;
	size_t max_queued;
	struct {
		int fd;
		int is_local;
	} listeners[MAX_LISTENERS];
	int nlisteners;
	int wake[2]; /* pipe: wakes the accept thread on stop */
	pthread_t acceptor;
	int started;
	int shut; /* gf_server_shutdown ran */
	/* the owner's reference and one per connection not yet freed: a late
	 * gf_conn_put after gf_server_stop still finds the lists it unlinks from */
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when nthreads drops */
	struct gf_conn *conns;
	struct gf_conn *all;
	int nthreads;
	int stopping;
	/*
	 * Connection threads that have finished and wait to be joined. They are
	 * joinable, not detached, so that stop returns only once each has fully
	 * exited (thread-exit destructors, e.g. OpenSSL's per-thread state, done).
	 */
	pthread_t *ended;
	size_t nended, ended_cap;

	/*
	 * The sender: one thread polls every connection with a queue and writes
	 * what each socket takes. One per server, not one per connection: gfmd
	 * has a connection per mount and per gfsd, and only slow peers ever
	 * have a queue, so the poll set stays small.
	 */
	pthread_mutex_t out_lock;
	pthread_cond_t out_idle; /* sendq emptied */
	struct gf_conn *sendq;
	int out_wake[2]; /* pipe: something was queued, or stop */
	pthread_t sender;
	int sender_started;
	int out_stopping;
};

/* The connection whose requests this thread reads (NULL elsewhere). */
static _Thread_local struct gf_conn *own_conn;

static void server_put(struct gf_server *s);

static void mono_now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static long long ms_since(const struct timespec *t)
{
	struct timespec now;
	mono_now(&now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return -rc;
}

/* Called by a connection thread as it ends (s->lock held). */
static void record_ended(struct gf_server *s)
{
	if (s->nended == s->ended_cap) {
		size_t cap = s->ended_cap ? s->ended_cap * 2 : 16;
		pthread_t *p = realloc(s->ended, cap * sizeof(*p));
		if (!p) {
			/* Out of memory: let the thread go on its own. */
			pthread_detach(pthread_self());
			return;
		}
		s->ended = p;
		s->ended_cap = cap;
	}
	s->ended[s->nended++] = pthread_self();
}

/* Join the connection threads that have ended so far. */
static void reap_ended(struct gf_server *s)
{
	pthread_mutex_lock(&s->lock);
	pthread_t *v = s->ended;
	size_t n = s->nended;
	s->ended = NULL;
	s->nended = s->ended_cap = 0;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		pthread_join(v[i], NULL);
	free(v);
}

/* ---- the outbound queue (c->out_lock held) ----------------------------------- */

static void queue_drop(struct gf_conn *c)
{
	struct out_frame *f = c->q_head;
	while (f) {
		struct out_frame *next = f->next;
		if (f->fd >= 0)
			close(f->fd);
		free(f);
		f = next;
	}
	c->q_head = NULL;
	c->q_tail = &c->q_head;
	c->q_bytes = 0;
}

/*
 * Close c for good: drop its queue, wake its reader (EOF) and anyone waiting
 * to send. err says why: -ETIMEDOUT (nothing taken for the send timeout) and
 * -ENOBUFS (queue bound) are a peer not reading, logged with pending bytes
 * held for it, as is -ESHUTDOWN (replies not taken at stop); a peer that is
 * gone (-EPIPE, -ECONNRESET) or 0 (stop) is not worth a line; anything
 * else is.
 */
static void conn_kill(struct gf_conn *c, size_t pending, int err)
{
	struct gf_server *s = c->srv;
	if (c->dead)
		return;
	c->dead = 1;
	if (err == -ETIMEDOUT)
		gf_warn("%s%s: not reading its replies (%zu bytes queued, none taken for %d ms); "
			"closing", s->name, c->desc, pending, s->send_timeout_ms);
	else if (err == -ENOBUFS)
		gf_warn("%s%s: not reading its replies (%zu bytes queued, more than %zu); closing",
			s->name, c->desc, pending, s->max_queued);
	else if (err == -ESHUTDOWN)
		gf_warn("%s%s: replies not taken when stopping (%zu bytes queued); closing",
			s->name, c->desc, pending);
	else if (err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN)
		gf_debug("%s%s: gone while replies were owed", s->name, c->desc);
	else if (err)
		gf_warn("%s%s: sending replies: %s; closing", s->name, c->desc, strerror(-err));
	queue_drop(c);
	if (err == -ETIMEDOUT || err == -ENOBUFS) {
		/* What its socket still holds is dropped too: reset the
		 * connection at close rather than let the kernel keep probing a
		 * closed window with it for minutes. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	shutdown(c->sock, SHUT_RDWR);
	pthread_cond_broadcast(&c->out_cond);
	if (c->in_sendq) { /* so that the sender lets go of it (and it closes) now */
		ssize_t w = write(s->out_wake[1], "x", 1);
		(void)w;
	}
}

/* Put c on the sender's list (which takes a reference) and wake it. */
static void sendq_add(struct gf_conn *c)
{
	struct gf_server *s = c->srv;
	if (c->in_sendq || c->dead)
		return;
	c->in_sendq = 1;
	gf_conn_get(c);
	pthread_mutex_lock(&s->out_lock);
	c->sq_prev = NULL;
	c->sq_next = s->sendq;
	if (s->sendq)
		s->sendq->sq_prev = c;
	s->sendq = c;
	pthread_mutex_unlock(&s->out_lock);
	ssize_t w = write(s->out_wake[1], "x", 1); /* full pipe: it is awake anyway */
	(void)w;
}

/* Take c off the sender's list; the caller drops the list's reference once
 * it has let go of c->out_lock. */
static void sendq_remove(struct gf_conn *c)
{
	struct gf_server *s = c->srv;
	pthread_mutex_lock(&s->out_lock);
	if (c->sq_prev)
		c->sq_prev->sq_next = c->sq_next;
	else
		s->sendq = c->sq_next;
	if (c->sq_next)
		c->sq_next->sq_prev = c->sq_prev;
	c->sq_prev = c->sq_next = NULL;
	if (!s->sendq)
		pthread_cond_broadcast(&s->out_idle);
	pthread_mutex_unlock(&s->out_lock);
	c->in_sendq = 0;
}

/* Append bytes [off, end) of iov as one entry; a reply that would take the
 * queue past the bound closes the connection instead. */
static int queue_add(struct gf_conn *c, const struct iovec *iov, int iovcnt, size_t off,
		     int pass_fd)
{
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	size_t rest = total - off;
	if (c->q_bytes + rest > c->srv->max_queued) {
		conn_kill(c, c->q_bytes + rest, -ENOBUFS);
		return -ENOBUFS;
	}
	struct out_frame *f = malloc(sizeof(*f) + rest);
	if (!f) {
		conn_kill(c, c->q_bytes + rest, -ENOMEM);
		return -ENOMEM;
	}
	f->next = NULL;
	f->len = rest;
	f->off = 0;
	f->fd = -1;
	size_t at = 0, skip = off;
	for (int i = 0; i < iovcnt; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		memcpy(f->data + at, (const uint8_t *)iov[i].iov_base + skip, l - skip);
		at += l - skip;
		skip = 0;
	}
	if (pass_fd >= 0 && off == 0) {
		f->fd = fcntl(pass_fd, F_DUPFD_CLOEXEC, 0);
		if (f->fd < 0) {
			int rc = -errno;
			free(f);
			conn_kill(c, c->q_bytes + rest, rc);
			return rc;
		}
	}
	if (!c->q_head)
		mono_now(&c->q_since);
	*c->q_tail = f;
	c->q_tail = &f->next;
	c->q_bytes += rest;
	if (!c->writing)
		sendq_add(c);
	return 0;
}

/* Forget the first n bytes of the queue: they went. */
static void queue_consume(struct gf_conn *c, size_t n)
{
	while (n > 0) {
		struct out_frame *f = c->q_head;
		size_t take = f->len - f->off < n ? f->len - f->off : n;
		f->off += take;
		n -= take;
		c->q_bytes -= take;
		if (f->fd >= 0) { /* it went with the first byte: the peer has it now */
			close(f->fd);
			f->fd = -1;
		}
		if (f->off == f->len) {
			c->q_head = f->next;
			if (!c->q_head)
				c->q_tail = &c->q_head;
			free(f);
		}
	}
}

/* Write what the socket takes of the queue now. 0, or -errno to close. */
static int queue_push(struct gf_conn *c)
{
	while (c->q_head) {
		struct iovec iov[GF_SEND_IOV_MAX];
		int n = 0;
		int fd = c->q_head->fd;
		for (struct out_frame *f = c->q_head; f && n < GF_SEND_IOV_MAX; f = f->next) {
			if (n > 0 && f->fd >= 0)
				break; /* an fd rides on its own frame's first byte */
			iov[n].iov_base = f->data + f->off;
			iov[n].iov_len = f->len - f->off;
			n++;
		}
		size_t sent = 0;
		int rc = gf_send_some(c->sock, iov, n, fd, &sent);
		if (sent > 0) {
			queue_consume(c, sent);
			mono_now(&c->q_since);
			pthread_cond_broadcast(&c->out_cond);
		}
		if (rc)
			return rc == -EAGAIN ? 0 : rc;
	}
	return 0;
}

/* ---- the sender thread --------------------------------------------------------- */

/* Before polling: drop c from the list if it has nothing for the sender, or
 * close it if its peer took nothing for too long. Returns the ms until its
 * deadline, or -1 when c was dropped (and pc[i] must be forgotten). */
static long long sender_check(struct gf_server *s, struct gf_conn *c)
{
	long long left = -1;
	pthread_mutex_lock(&c->out_lock);
	if (!c->dead && c->q_head && !c->writing) {
		left = s->send_timeout_ms - ms_since(&c->q_since);
		if (left <= 0) {
			conn_kill(c, c->q_bytes, -ETIMEDOUT);
			left = -1;
		}
	}
	if (left < 0)
		sendq_remove(c);
	pthread_mutex_unlock(&c->out_lock);
	if (left < 0)
		gf_conn_put(c);
	return left;
}

/* c's socket is writable (or broken): push its queue. */
static void sender_write(struct gf_conn *c)
{
	pthread_mutex_lock(&c->out_lock);
	if (!c->dead && !c->writing && c->q_head) {
		int rc = queue_push(c);
		if (rc)
			conn_kill(c, c->q_bytes, rc);
	}
	int drop = c->dead || !c->q_head || c->writing;
	if (drop)
		sendq_remove(c);
	pthread_mutex_unlock(&c->out_lock);
	if (drop)
		gf_conn_put(c);
}

static void *sender_main(void *arg)
{
	struct gf_server *s = arg;
	struct pollfd *pfd = NULL;
	struct gf_conn **pc = NULL;
	size_t cap = 0;
	for (;;) {
		/* Only this thread takes connections off the list, so the ones
		 * seen here stay (and stay referenced) until it does. */
		pthread_mutex_lock(&s->out_lock);
		if (s->out_stopping) {
			pthread_mutex_unlock(&s->out_lock);
			break;
		}
		size_t n = 0;
		for (struct gf_conn *c = s->sendq; c; c = c->sq_next)
			n++;
		if (n + 1 > cap) {
			size_t ncap = (n + 1) * 2;
			struct pollfd *np = realloc(pfd, ncap * sizeof(*np));
			if (np)
				pfd = np;
			struct gf_conn **nc = np ? realloc(pc, ncap * sizeof(*nc)) : NULL;
			if (nc)
				pc = nc;
			if (!np || !nc) {
				pthread_mutex_unlock(&s->out_lock);
				gf_err("%sout of memory in the reply sender", s->name);
				usleep(100000);
				continue;
			}
			cap = ncap;
		}
		n = 0;
		for (struct gf_conn *c = s->sendq; c; c = c->sq_next)
			pc[n++] = c;
		pthread_mutex_unlock(&s->out_lock);

		long long timeout = -1;
		for (size_t i = 0; i < n; i++) {
			long long left = sender_check(s, pc[i]);
			if (left < 0) {
				pc[i] = NULL;
				pfd[i] = (struct pollfd){ .fd = -1 };
				continue;
			}
			pfd[i] = (struct pollfd){ .fd = pc[i]->sock, .events = POLLOUT };
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		pfd[n] = (struct pollfd){ .fd = s->out_wake[0], .events = POLLIN };
		int r = poll(pfd, (nfds_t)n + 1, timeout > INT_MAX ? INT_MAX : (int)timeout);
		if (r < 0) {
			if (errno != EINTR) {
				gf_err("%spoll: %s", s->name, strerror(errno));
				usleep(100000);
			}
			continue;
		}
		if (pfd[n].revents) {
			char buf[256];
			while (read(s->out_wake[0], buf, sizeof(buf)) > 0)
				;
		}
		for (size_t i = 0; i < n; i++)
			if (pc[i] && pfd[i].revents)
				sender_write(pc[i]);
	}
	free(pfd);
	free(pc);
	return NULL;
}

/* ---- connections ------------------------------------------------------------------ */

void gf_conn_get(struct gf_conn *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void gf_conn_put(struct gf_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	struct gf_server *s = c->srv;
	pthread_mutex_lock(&s->lock);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		s->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	pthread_mutex_unlock(&s->lock);
	queue_drop(c);
	close(c->sock);
	pthread_mutex_destroy(&c->out_lock);
	pthread_cond_destroy(&c->out_cond);
	free(c);
	server_put(s);
}

uint8_t gf_conn_peer_kind(const struct gf_conn *c) { return c->peer_kind; }
const char *gf_conn_peer_host(const struct gf_conn *c) { return c->peer_host; }
int gf_conn_is_local(const struct gf_conn *c) { return c->is_local; }
void gf_conn_set_data(struct gf_conn *c, void *data) { c->data = data; }
void *gf_conn_data(const struct gf_conn *c) { return c->data; }
const char *gf_conn_desc(const struct gf_conn *c) { return c->desc; }

static int conn_dead(struct gf_conn *c)
{
	return atomic_load_explicit(&c->dead, memory_order_relaxed);
}

int gf_conn_reply(struct gf_conn *c, uint16_t op, uint32_t reqid, int32_t status,
		  const struct gf_wbuf *payload, int pass_fd)
{
	struct gf_server *s = c->srv;
	const void *data = NULL;
	size_t len = 0;
	if (status == 0 && payload) {
		if (payload->err) {
			status = payload->err;
		} else {
			data = payload->data;
			len = payload->len;
		}
	}
	if (!c->is_local || status != 0)
		pass_fd = -1;
	if (len > GF_MAX_PAYLOAD) {
		gf_warn("%s%s: reply to %s too large (%zu bytes); not sent", s->name, c->desc,
			gf_op_name(op), len);
		return -EMSGSIZE;
	}
	uint8_t hdr[GF_HDR_SIZE];
	gf_frame_hdr(hdr, (uint16_t)(op | GF_OP_REPLY), reqid, status, len);
	struct iovec iov[2] = { { hdr, GF_HDR_SIZE }, { (void *)data, len } };
	int iovcnt = len ? 2 : 1;
	int own = own_conn == c;
	size_t off = 0;
	int rc;

	pthread_mutex_lock(&c->out_lock);
	/* The connection's own thread waits for what is queued to go (the
	 * sender pushes it) and then sends itself: its peer's requests are not
	 * read meanwhile, which is the only thing such a wait may hold up. */
	while (own && !c->dead && c->q_head) {
		struct timespec until = gf_ts_after_ms(&c->q_since, s->send_timeout_ms);
		if (pthread_cond_timedwait(&c->out_cond, &c->out_lock, &until) == ETIMEDOUT &&
		    c->q_head && !c->dead && ms_since(&c->q_since) >= s->send_timeout_ms)
			conn_kill(c, c->q_bytes, -ETIMEDOUT);
	}
	if (c->dead) {
		rc = -ENOTCONN;
		goto out;
	}
	if (c->q_head || c->writing) { /* behind those, in order */
		rc = queue_add(c, iov, iovcnt, 0, pass_fd);
		goto out;
	}
	rc = gf_send_some(c->sock, iov, iovcnt, pass_fd, &off);
	if (rc == 0)
		goto out;
	if (rc != -EAGAIN) {
		conn_kill(c, 0, rc);
		goto out;
	}
	if (!own) { /* never wait for a peer on behalf of another */
		rc = queue_add(c, iov, iovcnt, off, pass_fd);
		goto out;
	}
	c->writing = 1;
	pthread_mutex_unlock(&c->out_lock);
	rc = gf_send_wait(c->sock, iov, iovcnt, pass_fd, &off, s->send_timeout_ms);
	pthread_mutex_lock(&c->out_lock);
	c->writing = 0;
	if (rc) {
		conn_kill(c, c->q_bytes + GF_HDR_SIZE + len - off, rc);
	} else if (c->q_head) {
		/* queued behind us meanwhile: its clock starts now */
		mono_now(&c->q_since);
		sendq_add(c);
	}
out:
	pthread_mutex_unlock(&c->out_lock);
	return rc;
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case GF_PEER_CLIENT: return "client";
	case GF_PEER_GFSD: return "gfsd";
	case GF_PEER_ADMIN: return "admin";
	case GF_PEER_GFMD: return "gfmd";
	default: return "peer";
	}
}

/* Take c, whose thread is ending or never started, off the server's list
 * (s->lock held). */
static void conn_unlink(struct gf_server *s, struct gf_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nthreads--;
}

static void *conn_main(void *arg)
{
	struct gf_conn *c = arg;
	struct gf_server *s = c->srv;
	own_conn = c;
	struct timeval tv = { .tv_sec = AUTH_TIMEOUT_SEC };
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = gf_auth_server(c->sock, &s->key, &c->peer_kind, c->peer_host);
	if (rc) {
		gf_warn("%s%s: authentication failed: %s", s->name, c->desc,
			rc == -EACCES ? "wrong key (bad MAC)" :
			rc == -EAGAIN || rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		goto out;
	}
	/* From now on the receive timeout only bounds a stall inside a frame:
	 * between frames a peer may be idle as long as it likes. */
	tv.tv_sec = s->send_timeout_ms / 1000;
	tv.tv_usec = (s->send_timeout_ms % 1000) * 1000;
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	{
		char where[sizeof(c->desc)];
		memcpy(where, c->desc, sizeof(where));
		snprintf(c->desc, sizeof(c->desc), "%s %.*s (%.64s)", kind_name(c->peer_kind),
			 GF_HOST_MAX, c->peer_host, where);
	}
	gf_debug("%s%s: authenticated", s->name, c->desc);
	int outq_before = 0; /* the socket's unread replies at the last idle look */
	for (;;) {
		struct gf_frame f;
		rc = gf_frame_recv(c->sock, &f);
		if (rc == -EAGAIN) {
			/*
			 * Idle for a receive timeout. A peer that stopped reading
			 * can leave our replies in the kernel's send queue alone
			 * (nothing queued here), and its own requests stuck in
			 * its socket: over TCP, both windows closed, neither side
			 * moves. Replies unread there that did not shrink since
			 * the last look, a full timeout ago: it takes nothing.
			 */
			int outq = 0;
			if (ioctl(c->sock, SIOCOUTQ, &outq) < 0)
				outq = 0;
			if (outq > 0 && outq_before > 0 && outq >= outq_before) {
				pthread_mutex_lock(&c->out_lock);
				conn_kill(c, (size_t)outq, -ETIMEDOUT);
				pthread_mutex_unlock(&c->out_lock);
				break;
			}
			outq_before = outq;
			continue;
		}
		outq_before = 0;
		if (rc) {
			if (conn_dead(c))
				; /* we closed it, and said why */
			else if (rc == -ECONNRESET)
				gf_debug("%s%s: closed", s->name, c->desc);
			else if (rc == -ETIMEDOUT)
				gf_warn("%s%s: closing connection: stalled inside a frame for %d ms",
					s->name, c->desc, s->send_timeout_ms);
			else
				gf_warn("%s%s: closing connection: %s", s->name, c->desc,
					rc == -EMSGSIZE ? "frame larger than the maximum" :
					rc == -EPROTO ? "bad frame header (version)" :
					rc == -EBADMSG ? "truncated frame" : strerror(-rc));
			break;
		}
		if (conn_dead(c)) {
			/* Closed for not reading: what it sent after that is not
			 * served (the socket still holds it after SHUT_RD). */
			gf_frame_release(&f);
			break;
		}
		if (f.hdr.op & GF_OP_REPLY || f.hdr.status != 0) {
			gf_warn("%s%s: closing connection: a reply or status in a request (op %u)",
				s->name, c->desc, f.hdr.op);
			gf_frame_release(&f);
			break;
		}
		rc = s->ops.handle(c, &f, s->ops.arg);
		gf_frame_release(&f);
		if (rc < 0) {
			if (!conn_dead(c))
				gf_warn("%s%s: closing connection after %s: %s", s->name, c->desc,
					gf_op_name(f.hdr.op), strerror(-rc));
			break;
		}
	}
out:
	own_conn = NULL;
	/* Only the reading side: replies still owed (gfmd sends them after its
	 * commit) go out; the last gf_conn_put closes the socket. */
	shutdown(c->sock, SHUT_RD);
	if (s->ops.closed && c->peer_kind)
		s->ops.closed(c, s->ops.arg);
	pthread_mutex_lock(&s->lock);
	conn_unlink(s, c);
	record_ended(s);
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	gf_conn_put(c);
	return NULL;
}

static void describe_peer(int sock, int is_local, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (is_local || getpeername(sock, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(buf, len, "unix socket");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in->sin6_addr, addr, sizeof(addr));
		port = ntohs(in->sin6_port);
	}
	snprintf(buf, len, "tcp %s:%d", addr, port);
}

static void accept_one(struct gf_server *s, int lfd, int is_local)
{
	int sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (sock < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			gf_warn("%saccept: %s", s->name, strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				usleep(100000); /* let connections close */
		}
		return;
	}
	if (!is_local)
		gf_sock_tune(sock);
	struct gf_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return;
	}
	if (cond_init_mono(&c->out_cond) != 0) {
		free(c);
		close(sock);
		return;
	}
	c->sock = sock;
	c->srv = s;
	c->is_local = is_local;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->out_lock, NULL);
	c->q_tail = &c->q_head;
	describe_peer(sock, is_local, c->desc, sizeof(c->desc));

	pthread_mutex_lock(&s->lock);
	atomic_fetch_add(&s->refs, 1);
	c->all_next = s->all;
	if (s->all)
		s->all->all_prev = c;
	s->all = c;
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		gf_conn_put(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nthreads++;
	pthread_mutex_unlock(&s->lock);

	pthread_t t;
	int rc = pthread_create(&t, NULL, conn_main, c);
	if (rc) {
		gf_warn("%scannot start a connection thread: %s", s->name, strerror(rc));
		pthread_mutex_lock(&s->lock);
		conn_unlink(s, c);
		pthread_mutex_unlock(&s->lock);
		gf_conn_put(c);
	}
}

static void *accept_main(void *arg)
{
	struct gf_server *s = arg;
	struct pollfd pfd[MAX_LISTENERS + 1];
	for (;;) {
		int n = 0;
		for (int i = 0; i < s->nlisteners; i++)
			pfd[n++] = (struct pollfd){ .fd = s->listeners[i].fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			gf_err("%spoll: %s", s->name, strerror(errno));
			usleep(100000);
			continue;
		}
		reap_ended(s);
		if (pfd[n - 1].revents)
			return NULL;
		for (int i = 0; i < s->nlisteners; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(s, s->listeners[i].fd, s->listeners[i].is_local);
	}
}

/* ---- the server ------------------------------------------------------------------- */

int gf_server_new(const struct gf_key *key, const struct gf_server_ops *ops,
		  struct gf_server **out)
{
	struct gf_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (pipe2(s->wake, O_CLOEXEC) != 0) {
		int rc = -errno;
		free(s);
		return rc;
	}
	if (pipe2(s->out_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		int rc = -errno;
		close(s->wake[0]);
		close(s->wake[1]);
		free(s);
		return rc;
	}
	s->key = *key;
	s->ops = *ops;
	s->send_timeout_ms = GF_SEND_TIMEOUT_MS_DEFAULT;
	s->max_queued = GF_MAX_QUEUED_DEFAULT;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	cond_init_mono(&s->idle);
	pthread_mutex_init(&s->out_lock, NULL);
	cond_init_mono(&s->out_idle);
	*out = s;
	return 0;
}

int gf_server_set_opts(struct gf_server *s, const struct gf_server_opts *o)
{
	if (s->started || o->send_timeout_ms > INT_MAX)
		return -EINVAL;
	if (o->name && *o->name)
		snprintf(s->name, sizeof(s->name), "%.30s: ", o->name);
	else
		s->name[0] = '\0';
	s->send_timeout_ms = o->send_timeout_ms ? (int)o->send_timeout_ms
						: GF_SEND_TIMEOUT_MS_DEFAULT;
	s->max_queued = o->max_queued ? o->max_queued : GF_MAX_QUEUED_DEFAULT;
	return 0;
}

int gf_server_add_listener(struct gf_server *s, int fd, int is_local)
{
	if (s->nlisteners == MAX_LISTENERS || s->started)
		return -EINVAL;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	s->listeners[s->nlisteners].fd = fd;
	s->listeners[s->nlisteners].is_local = is_local;
	s->nlisteners++;
	return 0;
}

int gf_server_start(struct gf_server *s)
{
	int rc = pthread_create(&s->sender, NULL, sender_main, s);
	if (rc)
		return -rc;
	s->sender_started = 1;
	rc = pthread_create(&s->acceptor, NULL, accept_main, s);
	if (rc)
		return -rc; /* gf_server_stop still joins the sender */
	s->started = 1;
	return 0;
}

void gf_server_shutdown(struct gf_server *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->shut) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->shut = 1;
	s->stopping = 1;
	pthread_mutex_unlock(&s->lock);
	if (s->started) {
		ssize_t w = write(s->wake[1], "x", 1);
		(void)w;
		pthread_join(s->acceptor, NULL);
	}
	for (int i = 0; i < s->nlisteners; i++)
		close(s->listeners[i].fd);
	s->nlisteners = 0;
	/* Each connection finishes the request it is in, then sees EOF. */
	pthread_mutex_lock(&s->lock);
	for (struct gf_conn *c = s->conns; c; c = c->next)
		shutdown(c->sock, SHUT_RD);
	struct timespec until;
	mono_now(&until);
	until = gf_ts_after_ms(&until, s->send_timeout_ms < STOP_FLUSH_MS ? s->send_timeout_ms
								    : STOP_FLUSH_MS);
	while (s->nthreads > 0)
		if (pthread_cond_timedwait(&s->idle, &s->lock, &until) == ETIMEDOUT)
			break;
	/* One still waiting for its peer to take a reply does not get the
	 * whole send timeout: close it. (Work in progress, an fsync, say, is
	 * waited for.) */
	for (struct gf_conn *c = s->conns; c; c = c->next) {
		pthread_mutex_lock(&c->out_lock);
		if (c->writing || c->q_head)
			conn_kill(c, c->q_bytes, -ESHUTDOWN);
		pthread_mutex_unlock(&c->out_lock);
	}
	while (s->nthreads > 0)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	reap_ended(s);
}

void gf_server_stop(struct gf_server *s)
{
	if (!s)
		return;
	gf_server_shutdown(s);
	if (s->sender_started) {
		struct timespec until;
		mono_now(&until);
		until = gf_ts_after_ms(&until, s->send_timeout_ms < STOP_FLUSH_MS ? s->send_timeout_ms
									    : STOP_FLUSH_MS);
		pthread_mutex_lock(&s->out_lock);
		while (s->sendq && pthread_cond_timedwait(&s->out_idle, &s->out_lock, &until) == 0)
			;
		pthread_mutex_unlock(&s->out_lock);
	}
	/* Close what is left; a reply from now on is dropped, and no connection
	 * goes on the sender's list any more. */
	pthread_mutex_lock(&s->lock);
	for (struct gf_conn *c = s->all; c; c = c->all_next) {
		pthread_mutex_lock(&c->out_lock);
		conn_kill(c, 0, 0);
		pthread_mutex_unlock(&c->out_lock);
	}
	pthread_mutex_unlock(&s->lock);
	if (s->sender_started) {
		pthread_mutex_lock(&s->out_lock);
		s->out_stopping = 1;
		pthread_mutex_unlock(&s->out_lock);
		ssize_t w = write(s->out_wake[1], "x", 1);
		(void)w;
		pthread_join(s->sender, NULL);
	}
	/* the references the sender's list still held */
	pthread_mutex_lock(&s->out_lock);
	struct gf_conn *l = s->sendq;
	s->sendq = NULL;
	pthread_mutex_unlock(&s->out_lock);
	while (l) {
		struct gf_conn *next = l->sq_next;
		pthread_mutex_lock(&l->out_lock);
		l->in_sendq = 0;
		l->sq_prev = l->sq_next = NULL;
		pthread_mutex_unlock(&l->out_lock);
		gf_conn_put(l);
		l = next;
	}
	server_put(s);
}

static void server_put(struct gf_server *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->out_wake[0]);
	close(s->out_wake[1]);
	free(s->ended);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->out_lock);
	pthread_cond_destroy(&s->out_idle);
	free(s);
}
