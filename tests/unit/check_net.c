/* Frames, fd passing, the handshake, and the server + multiplexed RPC client. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "net.h"
#include "rpc.h"
#include "server.h"

static struct gf_key key_a, key_b;

static void make_keys(void)
{
	key_a.len = key_b.len = 32;
	memset(key_a.bytes, 'a', 32);
	memset(key_b.bytes, 'b', 32);
}

START_TEST(frame_roundtrip_and_fd)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int devnull = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(gf_frame_send(sv[0], 77, 9, 0, "hello", 5, devnull), 0);
	ck_assert_int_eq(gf_frame_send(sv[0], 78, 10, -ENOENT, NULL, 0, -1), 0);
	struct gf_frame f;
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), 0);
	ck_assert_uint_eq(f.hdr.op, 77);
	ck_assert_uint_eq(f.hdr.reqid, 9);
	ck_assert_uint_eq(f.hdr.len, 5);
	ck_assert_int_eq(memcmp(f.payload, "hello", 5), 0);
	ck_assert_int_ge(f.fd, 0);
	gf_frame_release(&f);
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), 0);
	ck_assert_int_eq(f.hdr.status, -ENOENT);
	ck_assert_int_eq(f.fd, -1);
	gf_frame_release(&f);
	close(sv[0]);
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), -ECONNRESET);
	close(sv[1]);
	close(devnull);
}
END_TEST

START_TEST(bad_headers)
{
	int sv[2];
	struct gf_frame f;
	uint8_t hdr[GF_HDR_SIZE];
	/* oversized length */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct gf_hdr h = { .len = GF_MAX_PAYLOAD + 1, .version = GF_PROTO_VERSION, .op = 100 };
	gf_hdr_encode(&h, hdr);
	ck_assert_int_eq(write(sv[0], hdr, sizeof(hdr)), GF_HDR_SIZE);
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	/* wrong version */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	h.len = 0;
	h.version = 99;
	gf_hdr_encode(&h, hdr);
	ck_assert_int_eq(write(sv[0], hdr, sizeof(hdr)), GF_HDR_SIZE);
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), -EPROTO);
	close(sv[0]);
	close(sv[1]);
	/* truncated header, then truncated payload */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], hdr, 7), 7);
	close(sv[0]);
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), -EBADMSG);
	close(sv[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	h.version = GF_PROTO_VERSION;
	h.len = 100;
	gf_hdr_encode(&h, hdr);
	ck_assert_int_eq(write(sv[0], hdr, sizeof(hdr)), GF_HDR_SIZE);
	ck_assert_int_eq(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	ck_assert_int_eq(gf_frame_recv(sv[1], &f), -EBADMSG);
	close(sv[1]);
}
END_TEST

struct auth_srv {
	int sock;
	const struct gf_key *key;
	int rc;
	uint8_t kind;
	char host[GF_HOST_MAX + 1];
};

static void *auth_server_thread(void *arg)
{
	struct auth_srv *a = arg;
	a->rc = gf_auth_server(a->sock, a->key, &a->kind, a->host);
	if (a->rc)
		shutdown(a->sock, SHUT_RDWR);
	return NULL;
}

static void run_auth(const struct gf_key *skey, const struct gf_key *ckey, int *src, int *crc,
		     struct auth_srv *a)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a->sock = sv[0];
	a->key = skey;
	pthread_t t;
	pthread_create(&t, NULL, auth_server_thread, a);
	*crc = gf_auth_client(sv[1], ckey, GF_PEER_GFSD, "node3");
	pthread_join(t, NULL);
	*src = a->rc;
	close(sv[0]);
	close(sv[1]);
}

START_TEST(auth_good_and_bad_key)
{
	make_keys();
	struct auth_srv a;
	int src, crc;
	memset(&a, 0, sizeof(a));
	run_auth(&key_a, &key_a, &src, &crc, &a);
	ck_assert_int_eq(src, 0);
	ck_assert_int_eq(crc, 0);
	ck_assert_uint_eq(a.kind, GF_PEER_GFSD);
	ck_assert_str_eq(a.host, "node3");
	memset(&a, 0, sizeof(a));
	run_auth(&key_a, &key_b, &src, &crc, &a);
	ck_assert_int_eq(src, -EACCES);
	ck_assert_int_eq(crc, -EACCES);
}
END_TEST

START_TEST(key_files)
{
	char path[] = "/tmp/gfkeyXXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	ck_assert_int_eq(gf_key_generate(path), 0);
	ck_assert_int_eq(gf_key_generate(path), -EEXIST);
	struct gf_key k;
	ck_assert_int_eq(gf_key_load(path, &k), 0);
	ck_assert_uint_eq(k.len, 64);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "short\n", 6), 6);
	close(fd);
	ck_assert_int_eq(gf_key_load(path, &k), -EINVAL);
	unlink(path);
	ck_assert_int_eq(gf_key_load(path, &k), -ENOENT);
}
END_TEST

/* An echo server: op 500 echoes the payload; op 501 is the slow request,
 * answered from another thread (out of order) only once the test says that
 * the fast callers all have their replies; op 502 returns -EBADMSG (closes);
 * op 503 is never answered. */
struct later {
	struct gf_conn *conn;
	uint32_t reqid;
};

/* What the slow request waits for. Each test runs in a process of its own
 * (Check forks), so these start at zero for each. */
static pthread_mutex_t slow_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slow_cv = PTHREAD_COND_INITIALIZER;
static int slow_arrived; /* the server has the 501 request */
static int fast_done;	 /* every fast caller has had all its replies */

/* Upper bound of every wait in these tests: it only guards against a hang
 * (a client that can never get there fails by it instead of hanging). */
#define HANG_GUARD_MS 30000

static struct timespec deadline_in(unsigned ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* Wait (slow_mu held) until *flag is set or ms have passed. */
static int wait_flag(int *flag, unsigned ms)
{
	struct timespec until = deadline_in(ms);
	while (!*flag)
		if (pthread_cond_timedwait(&slow_cv, &slow_mu, &until) == ETIMEDOUT)
			break;
	return *flag;
}

static void set_flag(int *flag)
{
	pthread_mutex_lock(&slow_mu);
	*flag = 1;
	pthread_cond_broadcast(&slow_cv);
	pthread_mutex_unlock(&slow_mu);
}

static void *reply_later(void *arg)
{
	struct later *l = arg;
	/* Twice the client's timeout: a client that cannot get the fast
	 * replies through must fail by its own timeout, not by this reply. */
	pthread_mutex_lock(&slow_mu);
	int ready = wait_flag(&fast_done, 2 * HANG_GUARD_MS);
	pthread_mutex_unlock(&slow_mu);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	gf_put_u32(&w, l->reqid);
	gf_conn_reply(l->conn, 501, l->reqid, ready ? 0 : -ETIMEDOUT, &w, -1);
	gf_wbuf_free(&w);
	gf_conn_put(l->conn);
	free(l);
	return NULL;
}

static int echo_handle(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct gf_wbuf w;
	switch (f->hdr.op) {
	case 500:
		gf_wbuf_init(&w);
		gf_put_raw(&w, f->payload, f->hdr.len);
		gf_conn_reply(conn, 500, f->hdr.reqid, 0, &w, -1);
		gf_wbuf_free(&w);
		return 0;
	case 501: {
		struct later *l = malloc(sizeof(*l));
		gf_conn_get(conn);
		l->conn = conn;
		l->reqid = f->hdr.reqid;
		pthread_t t;
		pthread_create(&t, NULL, reply_later, l);
		pthread_detach(t);
		set_flag(&slow_arrived);
		return 0;
	}
	case 502:
		return -EBADMSG;
	case 503: /* never answers */
		return 0;
	default:
		gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, -ENOSYS, NULL, -1);
		return 0;
	}
}

static struct gf_server *start_echo(uint16_t *port)
{
	make_keys();
	struct gf_server_ops ops = { .handle = echo_handle };
	struct gf_server *s;
	ck_assert_int_eq(gf_server_new(&key_a, &ops, &s), 0);
	int lfd = gf_tcp_listen("127.0.0.1", 0, port);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(gf_server_add_listener(s, lfd, 0), 0);
	ck_assert_int_eq(gf_server_start(s), 0);
	return s;
}

struct caller {
	struct gf_rpc *rpc;
	int id;
	int ok;
};

static void *call_many(void *arg)
{
	struct caller *c = arg;
	c->ok = 1;
	for (int i = 0; i < 200; i++) {
		struct gf_wbuf w;
		gf_wbuf_init(&w);
		gf_put_u32(&w, (uint32_t)(c->id * 100000 + i));
		struct gf_reply r;
		if (gf_rpc_call_status(c->rpc, 500, &w, &r) != 0 || r.len != 4) {
			c->ok = 0;
		} else {
			struct gf_rbuf rb;
			gf_rbuf_init(&rb, r.payload, r.len);
			if (gf_get_u32(&rb) != (uint32_t)(c->id * 100000 + i))
				c->ok = 0;
			gf_reply_release(&r);
		}
		gf_wbuf_free(&w);
	}
	return NULL;
}

struct slow_call {
	struct gf_rpc *rpc;
	int rc;
};

static void *call_slow(void *arg)
{
	struct slow_call *s = arg;
	struct gf_reply r;
	s->rc = gf_rpc_call_status(s->rpc, 501, NULL, &r);
	if (s->rc == 0)
		gf_reply_release(&r);
	return NULL;
}

START_TEST(rpc_multiplexed)
{
	uint16_t port;
	struct gf_server *s = start_echo(&port);
	struct gf_rpc *rpc;
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	/*
	 * A slow reply does not hold up the fast ones behind it. The slow
	 * request is sent first and the server answers it only once the fast
	 * callers have had all their replies, so a client that waits for one
	 * reply before sending the next request, or that hands replies out in
	 * order, cannot pass: its slow call times out (the timeout turns that
	 * into a failure instead of a hang) and the fast calls fail with it.
	 */
	gf_rpc_set_timeout(rpc, HANG_GUARD_MS);
	struct slow_call slow = { .rpc = rpc, .rc = 1 };
	pthread_t slow_t;
	pthread_create(&slow_t, NULL, call_slow, &slow);
	pthread_mutex_lock(&slow_mu);
	int arrived = wait_flag(&slow_arrived, HANG_GUARD_MS);
	pthread_mutex_unlock(&slow_mu);
	ck_assert_msg(arrived, "the server never got the slow request");
	struct caller cs[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		cs[i] = (struct caller){ .rpc = rpc, .id = i };
		pthread_create(&t[i], NULL, call_many, &cs[i]);
	}
	int all_ok = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		all_ok &= cs[i].ok;
	}
	set_flag(&fast_done);
	pthread_join(slow_t, NULL);
	ck_assert_msg(all_ok, "fast calls failed behind the unanswered slow one");
	ck_assert_int_eq(slow.rc, 0);
	struct gf_reply r;
	ck_assert_int_eq(gf_rpc_call_status(rpc, 999, NULL, &r), -ENOSYS);
	ck_assert(gf_rpc_alive(rpc));
	/* A request the handler rejects closes that connection only. */
	ck_assert_int_eq(gf_rpc_call(rpc, 502, NULL, &r), -ENOTCONN);
	ck_assert(!gf_rpc_alive(rpc));
	gf_rpc_close(rpc);
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	ck_assert_int_eq(gf_rpc_call_status(rpc, 500, NULL, &r), 0);
	gf_rpc_close(rpc);
	/* A client with the wrong key is refused. */
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_b, GF_PEER_CLIENT, "n1", &rpc),
			 -EACCES);
	gf_server_stop(s);
}
END_TEST

START_TEST(rpc_timeout)
{
	uint16_t port;
	struct gf_server *s = start_echo(&port);
	struct gf_rpc *rpc;
	struct gf_reply r;
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	ck_assert_int_eq(gf_rpc_call_status(rpc, 500, NULL, &r), 0);
	gf_reply_release(&r);
	/* Short only for the call that is never answered: an answered call
	 * must not fail because a loaded machine was slow to answer it. */
	gf_rpc_set_timeout(rpc, 200);
	ck_assert_int_eq(gf_rpc_call(rpc, 503, NULL, &r), -ETIMEDOUT);
	ck_assert(!gf_rpc_alive(rpc));
	ck_assert_int_eq(gf_rpc_call(rpc, 500, NULL, &r), -ENOTCONN);
	gf_rpc_close(rpc);
	gf_server_stop(s);
}
END_TEST

/* A call's tick: called while no reply has come, it decides. */
struct ticker {
	int calls;
	int stop_at;	/* give up at this call (0: never) */
	int release_at; /* let the slow reply (501) go at this call */
};

static int tick(void *arg, unsigned *next_ms)
{
	struct ticker *t = arg;
	t->calls++;
	*next_ms = 10;
	if (t->release_at && t->calls == t->release_at)
		set_flag(&fast_done);
	return t->stop_at && t->calls >= t->stop_at;
}

START_TEST(rpc_wait_ticks)
{
	uint16_t port;
	struct gf_server *s = start_echo(&port);
	struct gf_rpc *rpc;
	struct gf_reply r;
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	/* an answered call never ticks (first tick far away) */
	struct ticker t0 = { 0 };
	struct gf_rpc_wait w = { .first_ms = HANG_GUARD_MS, .tick = tick, .arg = &t0 };
	ck_assert_int_eq(gf_rpc_call_wait(rpc, 500, NULL, &r, &w), 0);
	gf_reply_release(&r);
	ck_assert_int_eq(t0.calls, 0);
	/* a reply that comes only after some ticks: they went on, and it is
	 * delivered (the tick let the server answer) */
	struct ticker t1 = { .release_at = 3 };
	w = (struct gf_rpc_wait){ .first_ms = 10, .tick = tick, .arg = &t1 };
	ck_assert_int_eq(gf_rpc_call_wait(rpc, 501, NULL, &r, &w), 0);
	gf_reply_release(&r);
	ck_assert_int_ge(t1.calls, 3);
	ck_assert(gf_rpc_alive(rpc));
	/* a tick that gives up: -ETIMEDOUT, and the connection is closed */
	struct ticker t2 = { .stop_at = 4 };
	w = (struct gf_rpc_wait){ .first_ms = 10, .tick = tick, .arg = &t2 };
	ck_assert_int_eq(gf_rpc_call_wait(rpc, 503, NULL, &r, &w), -ETIMEDOUT);
	ck_assert_int_eq(t2.calls, 4);
	ck_assert(!gf_rpc_alive(rpc));
	gf_rpc_close(rpc);
	gf_server_stop(s);
}
END_TEST

/* A peer that accepts (the kernel's backlog) but never authenticates costs a
 * bounded connect only what the caller allows. */
START_TEST(rpc_connect_timeout)
{
	uint16_t port;
	make_keys();
	int lfd = gf_tcp_listen("127.0.0.1", 0, &port);
	ck_assert_int_ge(lfd, 0);
	struct gf_rpc *rpc;
	ck_assert_int_eq(gf_rpc_connect_timeout("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1",
						200, &rpc), -ETIMEDOUT);
	ck_assert_ptr_null(rpc);
	close(lfd);
}
END_TEST

START_TEST(server_survives_garbage)
{
	uint16_t port;
	struct gf_server *s = start_echo(&port);
	/* Garbage instead of AUTH; then an oversized frame after a good AUTH. */
	int fd = gf_tcp_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	char junk[64];
	memset(junk, 0xff, sizeof(junk));
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	char buf[256];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	/* Closed by the server: EOF, or a reset when our junk was unread. */
	ck_assert(n == 0 || errno == ECONNRESET);
	close(fd);

	fd = gf_tcp_connect("127.0.0.1", port);
	ck_assert_int_eq(gf_auth_client(fd, &key_a, GF_PEER_CLIENT, "x"), 0);
	uint8_t hdr[GF_HDR_SIZE];
	struct gf_hdr h = { .len = 0xffffffffu, .version = GF_PROTO_VERSION, .op = 500 };
	gf_hdr_encode(&h, hdr);
	ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), GF_HDR_SIZE);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	ck_assert(n == 0 || errno == ECONNRESET);
	close(fd);

	struct gf_rpc *rpc;
	struct gf_reply r;
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	ck_assert_int_eq(gf_rpc_call_status(rpc, 500, NULL, &r), 0);
	gf_rpc_close(rpc);
	gf_server_stop(s);
}
END_TEST

/* ---- peers that do not read their replies ------------------------------------------ */

/*
 * A server whose op 510 starts a thread that replies many times on the
 * connection (as gfmd's committer does), op 511 replies many times from the
 * handler itself, op 512 replies numbered frames from another thread (some
 * with an fd), op 513 replies once from the handler.
 */
#define SLOW_FRAMES 400
#define SLOW_FRAME_LEN (64 * 1024)
#define ORDER_FRAMES 2000

struct slow_srv {
	struct gf_server *s;
	atomic_int closed;	 /* connections whose reader ended */
	pthread_t helper;	 /* the last op 510/512 thread */
	atomic_int helper_started;
	atomic_int in_511;	 /* the handler of 511 is replying */
	int rcs[ORDER_FRAMES]; /* what each of the helper's replies returned */
	int nrcs;
	int devnull;
};

struct slow_job {
	struct slow_srv *ss;
	struct gf_conn *conn;
	uint16_t op;
	uint32_t reqid;
};

static void *slow_helper(void *arg)
{
	struct slow_job *j = arg;
	struct slow_srv *ss = j->ss;
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	if (j->op == 510) {
		uint8_t *big = calloc(1, SLOW_FRAME_LEN);
		gf_put_raw(&w, big, SLOW_FRAME_LEN);
		free(big);
		for (int i = 0; i < SLOW_FRAMES; i++)
			ss->rcs[ss->nrcs++] = gf_conn_reply(j->conn, 510, j->reqid, 0, &w, -1);
	} else {
		for (int i = 0; i < ORDER_FRAMES; i++) {
			gf_wbuf_reset(&w);
			gf_put_u32(&w, (uint32_t)i);
			uint8_t pad[1024] = { 0 };
			gf_put_raw(&w, pad, sizeof(pad));
			ss->rcs[ss->nrcs++] = gf_conn_reply(j->conn, 512, (uint32_t)i, 0, &w,
							    i % 100 == 0 ? ss->devnull : -1);
		}
	}
	gf_wbuf_free(&w);
	gf_conn_put(j->conn);
	free(j);
	return NULL;
}

static int slow_handle(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct slow_srv *ss = arg;
	struct gf_wbuf w;
	switch (f->hdr.op) {
	case 510:
	case 512: {
		struct slow_job *j = malloc(sizeof(*j));
		*j = (struct slow_job){ ss, conn, f->hdr.op, f->hdr.reqid };
		gf_conn_get(conn);
		ss->nrcs = 0;
		ck_assert_int_eq(pthread_create(&ss->helper, NULL, slow_helper, j), 0);
		atomic_store(&ss->helper_started, 1);
		return 0;
	}
	case 511: {
		atomic_store(&ss->in_511, 1);
		uint8_t *big = calloc(1, SLOW_FRAME_LEN);
		gf_wbuf_init(&w);
		gf_put_raw(&w, big, SLOW_FRAME_LEN);
		free(big);
		for (int i = 0; i < SLOW_FRAMES; i++)
			gf_conn_reply(conn, 511, f->hdr.reqid, 0, &w, -1);
		gf_wbuf_free(&w);
		return 0;
	}
	default:
		gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, 0, NULL, -1);
		return 0;
	}
}

static void slow_closed(struct gf_conn *conn, void *arg)
{
	(void)conn;
	atomic_fetch_add(&((struct slow_srv *)arg)->closed, 1);
}

/* Start a slow_srv on TCP 127.0.0.1 (*port) and, when unix_path, a UNIX socket. */
static void slow_start(struct slow_srv *ss, const struct gf_server_opts *o, uint16_t *port,
		       const char *unix_path)
{
	make_keys();
	memset(ss, 0, sizeof(*ss));
	ss->devnull = open("/dev/null", O_RDONLY);
	struct gf_server_ops ops = { .handle = slow_handle, .closed = slow_closed, .arg = ss };
	ck_assert_int_eq(gf_server_new(&key_a, &ops, &ss->s), 0);
	ck_assert_int_eq(gf_server_set_opts(ss->s, o), 0);
	int lfd = gf_tcp_listen("127.0.0.1", 0, port);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(gf_server_add_listener(ss->s, lfd, 0), 0);
	if (unix_path) {
		int ufd = gf_unix_listen(unix_path);
		ck_assert_int_ge(ufd, 0);
		ck_assert_int_eq(gf_server_add_listener(ss->s, ufd, 1), 0);
	}
	ck_assert_int_eq(gf_server_start(ss->s), 0);
}

/* An authenticated raw connection with a small receive buffer (so that a
 * peer that does not read fills up fast): TCP to port, or the UNIX path. */
static int raw_client(uint16_t port, const char *unix_path)
{
	int fd;
	if (unix_path) {
		fd = gf_unix_connect(unix_path);
		ck_assert_int_ge(fd, 0);
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		int small = 4096;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	ck_assert_int_eq(gf_auth_client(fd, &key_a, GF_PEER_CLIENT, "slow"), 0);
	return fd;
}

/* Wait (a guard, not a timing check) until n connections have closed. */
static void wait_closed(struct slow_srv *ss, int n)
{
	for (int i = 0; i < 2000 && atomic_load(&ss->closed) < n; i++)
		usleep(10000);
	ck_assert_int_ge(atomic_load(&ss->closed), n);
}

/* Read everything up to EOF; the number of bytes. */
static size_t drain(int fd)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	return total;
}

/* The server still serves others. */
static void still_serving(uint16_t port)
{
	struct gf_rpc *rpc;
	struct gf_reply r;
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	ck_assert_int_eq(gf_rpc_call_status(rpc, 999, NULL, &r), 0);
	gf_reply_release(&r);
	gf_rpc_close(rpc);
}

START_TEST(reply_from_other_thread_never_blocks)
{
	/* A long send timeout: only the queue bound can close this one. */
	struct gf_server_opts o = { .send_timeout_ms = 60000, .max_queued = 256 * 1024 };
	struct slow_srv ss;
	uint16_t port;
	slow_start(&ss, &o, &port, NULL);
	int fd = raw_client(port, NULL);
	ck_assert_int_eq(gf_frame_send(fd, 510, 7, 0, NULL, 0, -1), 0);
	while (!atomic_load(&ss.helper_started))
		usleep(1000);
	/* 25 MiB of replies to a peer that reads none: the replying thread
	 * must still come back (a blocking reply would hang here). */
	pthread_join(ss.helper, NULL);
	ck_assert_int_eq(ss.nrcs, SLOW_FRAMES);
	int first_err = -1;
	for (int i = 0; i < ss.nrcs; i++)
		if (ss.rcs[i] != 0) {
			first_err = i;
			break;
		}
	ck_assert_int_gt(first_err, 0);
	ck_assert_int_eq(ss.rcs[first_err], -ENOBUFS);
	ck_assert_int_eq(ss.rcs[ss.nrcs - 1], -ENOTCONN);
	/* the bound closed it: its reader ended, and the peer sees EOF after
	 * what had gone before */
	wait_closed(&ss, 1);
	size_t got = drain(fd);
	ck_assert_uint_lt(got, (size_t)SLOW_FRAMES * SLOW_FRAME_LEN);
	close(fd);
	still_serving(port);
	gf_server_stop(ss.s);
	close(ss.devnull);
}
END_TEST

START_TEST(nonreader_closed_after_send_timeout)
{
	struct gf_server_opts o = { .send_timeout_ms = 300 };
	struct slow_srv ss;
	uint16_t port;
	slow_start(&ss, &o, &port, NULL);
	/* Replies from another thread, queued: the sender gives up on it. */
	int fd = raw_client(port, NULL);
	ck_assert_int_eq(gf_frame_send(fd, 510, 7, 0, NULL, 0, -1), 0);
	while (!atomic_load(&ss.helper_started))
		usleep(1000);
	pthread_join(ss.helper, NULL);
	wait_closed(&ss, 1);
	ck_assert_uint_lt(drain(fd), (size_t)SLOW_FRAMES * SLOW_FRAME_LEN);
	close(fd);
	/* Replies from the handler itself: it waits for its own peer (holding
	 * back nobody else), then gives up on it. */
	fd = raw_client(port, NULL);
	ck_assert_int_eq(gf_frame_send(fd, 511, 8, 0, NULL, 0, -1), 0);
	still_serving(port);
	wait_closed(&ss, 3); /* still_serving's connection, and this one */
	ck_assert_uint_lt(drain(fd), (size_t)SLOW_FRAMES * SLOW_FRAME_LEN);
	close(fd);
	gf_server_stop(ss.s);
	close(ss.devnull);
}
END_TEST

START_TEST(stop_does_not_wait_for_nonreader)
{
	/* A send timeout far longer than the test's own: stop must close a
	 * connection whose thread waits for its peer rather than wait. */
	struct gf_server_opts o = { .send_timeout_ms = 600000 };
	struct slow_srv ss;
	uint16_t port;
	slow_start(&ss, &o, &port, NULL);
	int fd = raw_client(port, NULL);
	ck_assert_int_eq(gf_frame_send(fd, 511, 8, 0, NULL, 0, -1), 0);
	while (!atomic_load(&ss.in_511))
		usleep(1000);
	gf_server_stop(ss.s);
	ck_assert_int_eq(atomic_load(&ss.closed), 1);
	close(fd);
	close(ss.devnull);
}
END_TEST

START_TEST(queued_replies_keep_order_and_fds)
{
	char path[] = "/tmp/gfnetXXXXXX";
	int tfd = mkstemp(path);
	ck_assert_int_ge(tfd, 0);
	close(tfd);
	struct gf_server_opts o = { .send_timeout_ms = 20000 };
	struct slow_srv ss;
	uint16_t port;
	slow_start(&ss, &o, &port, path);
	int fd = raw_client(0, path);
	ck_assert_int_eq(gf_frame_send(fd, 512, 1, 0, NULL, 0, -1), 0);
	while (!atomic_load(&ss.helper_started))
		usleep(1000);
	pthread_join(ss.helper, NULL); /* all 2000 sent or queued, none read */
	for (int i = 0; i < ss.nrcs; i++)
		ck_assert_int_eq(ss.rcs[i], 0);
	/* a reply from the handler now goes after the queued ones */
	ck_assert_int_eq(gf_frame_send(fd, 513, 2, 0, NULL, 0, -1), 0);
	for (int i = 0; i < ORDER_FRAMES; i++) {
		struct gf_frame f;
		ck_assert_int_eq(gf_frame_recv(fd, &f), 0);
		ck_assert_uint_eq(f.hdr.op, 512 | GF_OP_REPLY);
		ck_assert_uint_eq(f.hdr.reqid, (uint32_t)i);
		struct gf_rbuf rb;
		gf_rbuf_init(&rb, f.payload, f.hdr.len);
		ck_assert_uint_eq(gf_get_u32(&rb), (uint32_t)i);
		if (i % 100 == 0)
			ck_assert_int_ge(f.fd, 0);
		else
			ck_assert_int_eq(f.fd, -1);
		gf_frame_release(&f);
	}
	struct gf_frame f;
	ck_assert_int_eq(gf_frame_recv(fd, &f), 0);
	ck_assert_uint_eq(f.hdr.op, 513 | GF_OP_REPLY);
	gf_frame_release(&f);
	close(fd);
	gf_server_stop(ss.s);
	close(ss.devnull);
	unlink(path);
}
END_TEST

/* A server that authenticates and then never reads (or, half_reply, reads
 * one request and sends half a reply). */
struct deaf_srv {
	int lfd;
	int sock;
	int half_reply;
	int done[2]; /* the test closes done[1] to let it go */
};

static void *deaf_main(void *arg)
{
	struct deaf_srv *d = arg;
	d->sock = accept(d->lfd, NULL, NULL);
	uint8_t kind;
	char host[GF_HOST_MAX + 1];
	gf_auth_server(d->sock, &key_a, &kind, host);
	struct gf_frame f;
	if (d->half_reply && gf_frame_recv(d->sock, &f) == 0) {
		uint8_t hdr[GF_HDR_SIZE];
		gf_frame_hdr(hdr, f.hdr.op | GF_OP_REPLY, f.hdr.reqid, 0, 100);
		ck_assert_int_eq(write(d->sock, hdr, sizeof(hdr)), GF_HDR_SIZE);
		ck_assert_int_eq(write(d->sock, "half", 4), 4);
		gf_frame_release(&f);
	}
	char x;
	ssize_t n = read(d->done[0], &x, 1);
	(void)n;
	close(d->sock);
	return NULL;
}

START_TEST(rpc_send_to_deaf_server_times_out)
{
	make_keys();
	char path[] = "/tmp/gfnetXXXXXX";
	int tfd = mkstemp(path);
	ck_assert_int_ge(tfd, 0);
	close(tfd);
	struct deaf_srv d = { .half_reply = 0 };
	/* A UNIX socket: what it takes unread is bounded by the sender's
	 * buffer (about 200 KiB), where TCP on loopback may take megabytes. */
	d.lfd = gf_unix_listen(path);
	ck_assert_int_ge(d.lfd, 0);
	ck_assert_int_eq(pipe(d.done), 0);
	pthread_t t;
	pthread_create(&t, NULL, deaf_main, &d);
	struct gf_rpc *rpc;
	ck_assert_int_eq(gf_rpc_connect(path, 0, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	gf_rpc_set_timeout(rpc, 300);
	struct gf_wbuf w;
	gf_wbuf_init(&w);
	uint8_t *big = calloc(1, GF_MAX_IO);
	gf_put_raw(&w, big, GF_MAX_IO);
	free(big);
	struct gf_reply r;
	/* 1 MiB does not fit in what the deaf server's socket takes: without a
	 * bound on the send this would hang. */
	ck_assert_int_eq(gf_rpc_call(rpc, 500, &w, &r), -ETIMEDOUT);
	ck_assert(!gf_rpc_alive(rpc));
	ck_assert_int_eq(gf_rpc_call(rpc, 500, NULL, &r), -ENOTCONN);
	gf_wbuf_free(&w);
	gf_rpc_close(rpc);
	close(d.done[1]);
	pthread_join(t, NULL);
	close(d.done[0]);
	close(d.lfd);
	unlink(path);
}
END_TEST

START_TEST(rpc_half_reply_times_out)
{
	make_keys();
	struct deaf_srv d = { .half_reply = 1 };
	uint16_t port;
	d.lfd = gf_tcp_listen("127.0.0.1", 0, &port);
	ck_assert_int_ge(d.lfd, 0);
	ck_assert_int_eq(pipe(d.done), 0);
	pthread_t t;
	pthread_create(&t, NULL, deaf_main, &d);
	struct gf_rpc *rpc;
	ck_assert_int_eq(gf_rpc_connect("127.0.0.1", port, &key_a, GF_PEER_CLIENT, "n1", &rpc), 0);
	gf_rpc_set_timeout(rpc, 300);
	struct gf_reply r;
	/* the reply starts, then stops: without a bound the reader would wait
	 * for the rest for ever */
	ck_assert_int_eq(gf_rpc_call(rpc, 500, NULL, &r), -ETIMEDOUT);
	ck_assert(!gf_rpc_alive(rpc));
	gf_rpc_close(rpc);
	close(d.done[1]);
	pthread_join(t, NULL);
	close(d.done[0]);
	close(d.lfd);
}
END_TEST

int main(void)
{
	gf_log_init("check_net", GF_LOG_ERR);
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 3 * HANG_GUARD_MS / 1000);
	tcase_add_test(tc, frame_roundtrip_and_fd);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, auth_good_and_bad_key);
	tcase_add_test(tc, key_files);
	tcase_add_test(tc, rpc_multiplexed);
	tcase_add_test(tc, rpc_timeout);
	tcase_add_test(tc, rpc_wait_ticks);
	tcase_add_test(tc, rpc_connect_timeout);
	tcase_add_test(tc, server_survives_garbage);
	tcase_add_test(tc, reply_from_other_thread_never_blocks);
	tcase_add_test(tc, nonreader_closed_after_send_timeout);
	tcase_add_test(tc, stop_does_not_wait_for_nonreader);
	tcase_add_test(tc, queued_replies_keep_order_and_fds);
	tcase_add_test(tc, rpc_send_to_deaf_server_times_out);
	tcase_add_test(tc, rpc_half_reply_times_out);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
