#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define MAX_LISTENERS 8
#define AUTH_TIMEOUT_SEC 10

struct gf_conn {
	int sock;
	atomic_int refs;
	struct gf_server *srv;
	uint8_t peer_kind;
	int is_local;
	char peer_host[GF_HOST_MAX + 1];
	char desc[GF_HOST_MAX + 96];
	void *data;
	pthread_mutex_t send_lock;
	struct gf_conn *prev, *next; /* server's live list, under srv->lock */
};

struct gf_server {
	struct gf_key key;
	struct gf_server_ops ops;
	struct {
		int fd;
		int is_local;
	} listeners[MAX_LISTENERS];
	int nlisteners;
	int wake[2]; /* pipe: wakes the accept thread on stop */
	pthread_t acceptor;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when nthreads drops */
	struct gf_conn *conns;
	int nthreads;
	int stopping;
	/*
	 * Connection threads that have finished and wait to be joined. They are
	 * joinable, not detached, so that stop returns only once each has fully
	 * exited (thread-exit destructors, e.g. OpenSSL's per-thread state, done).
	 */
	pthread_t *ended;
	size_t nended, ended_cap;
};

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

void gf_conn_get(struct gf_conn *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void gf_conn_put(struct gf_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1) {
		close(c->sock);
		pthread_mutex_destroy(&c->send_lock);
		free(c);
	}
}

uint8_t gf_conn_peer_kind(const struct gf_conn *c) { return c->peer_kind; }
const char *gf_conn_peer_host(const struct gf_conn *c) { return c->peer_host; }
int gf_conn_is_local(const struct gf_conn *c) { return c->is_local; }
void gf_conn_set_data(struct gf_conn *c, void *data) { c->data = data; }
void *gf_conn_data(const struct gf_conn *c) { return c->data; }
const char *gf_conn_desc(const struct gf_conn *c) { return c->desc; }

int gf_conn_reply(struct gf_conn *c, uint16_t op, uint32_t reqid, int32_t status,
		  const struct gf_wbuf *payload, int pass_fd)
{
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
	if (!c->is_local)
		pass_fd = -1;
	pthread_mutex_lock(&c->send_lock);
	int rc = gf_frame_send(c->sock, (uint16_t)(op | GF_OP_REPLY), reqid, status,
			       data, len, status == 0 ? pass_fd : -1);
	pthread_mutex_unlock(&c->send_lock);
	if (rc && rc != -EPIPE && rc != -ECONNRESET)
		gf_warn("%s: sending reply to %s: %s", c->desc, gf_op_name(op), strerror(-rc));
	return rc;
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case GF_PEER_CLIENT: return "client";
	case GF_PEER_GFSD: return "gfsd";
	case GF_PEER_ADMIN: return "admin";
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
	struct timeval tv = { .tv_sec = AUTH_TIMEOUT_SEC };
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = gf_auth_server(c->sock, &s->key, &c->peer_kind, c->peer_host);
	if (rc) {
		gf_warn("%s: authentication failed: %s", c->desc,
			rc == -EACCES ? "wrong key (bad MAC)" :
			rc == -EAGAIN ? "timed out" : strerror(-rc));
		goto out;
	}
	tv.tv_sec = 0;
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	{
		char where[sizeof(c->desc)];
		memcpy(where, c->desc, sizeof(where));
		snprintf(c->desc, sizeof(c->desc), "%s %.*s (%.64s)", kind_name(c->peer_kind),
			 GF_HOST_MAX, c->peer_host, where);
	}
	gf_debug("%s: authenticated", c->desc);
	for (;;) {
		struct gf_frame f;
		rc = gf_frame_recv(c->sock, &f);
		if (rc) {
			if (rc == -ECONNRESET)
				gf_debug("%s: closed", c->desc);
			else
				gf_warn("%s: closing connection: %s", c->desc,
					rc == -EMSGSIZE ? "frame larger than the maximum" :
					rc == -EPROTO ? "bad frame header (version)" :
					rc == -EBADMSG ? "truncated frame" : strerror(-rc));
			break;
		}
		if (f.hdr.op & GF_OP_REPLY || f.hdr.status != 0) {
			gf_warn("%s: closing connection: a reply or status in a request (op %u)",
				c->desc, f.hdr.op);
			gf_frame_release(&f);
			break;
		}
		rc = s->ops.handle(c, &f, s->ops.arg);
		gf_frame_release(&f);
		if (rc < 0) {
			gf_warn("%s: closing connection after %s: %s", c->desc,
				gf_op_name(f.hdr.op), strerror(-rc));
			break;
		}
	}
out:
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
			gf_warn("accept: %s", strerror(errno));
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
	c->sock = sock;
	c->srv = s;
	c->is_local = is_local;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->send_lock, NULL);
	describe_peer(sock, is_local, c->desc, sizeof(c->desc));

	pthread_mutex_lock(&s->lock);
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
		gf_warn("cannot start a connection thread: %s", strerror(rc));
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
			gf_err("poll: %s", strerror(errno));
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
	s->key = *key;
	s->ops = *ops;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	*out = s;
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
	int rc = pthread_create(&s->acceptor, NULL, accept_main, s);
	if (rc)
		return -rc;
	s->started = 1;
	return 0;
}

void gf_server_stop(struct gf_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_mutex_unlock(&s->lock);
	if (s->started) {
		ssize_t w = write(s->wake[1], "x", 1);
		(void)w;
		pthread_join(s->acceptor, NULL);
	}
	for (int i = 0; i < s->nlisteners; i++)
		close(s->listeners[i].fd);
	/* Each connection finishes the request it is in, then sees EOF. */
	pthread_mutex_lock(&s->lock);
	for (struct gf_conn *c = s->conns; c; c = c->next)
		shutdown(c->sock, SHUT_RD);
	while (s->nthreads > 0)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	reap_ended(s);
	close(s->wake[0]);
	close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}
