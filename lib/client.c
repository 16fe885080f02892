/*
 * client.c — typed gfmd/gfsd calls, connection sharing and reconnection.
 * The contract is in client.h.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#include "csum.h"
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

/* A server that stopped answering: logged once, until it answers again. */
struct gfc_down {
	struct gfc_down *next;
	char peer[];
};

struct gfc {
	struct gfc_dirs_hook dirs_hook; /* set before use; read without the lock */
	char gfmd_host[GF_HOST_MAX + 1];
	uint16_t gfmd_port;
	char hostname[GF_HOST_MAX + 1];
	char *gfsd_socket; /* NULL: no local gfsd */
	uint8_t kind;
	struct gf_key key;
	unsigned gfmd_timeout_ms; /* 0: hard */
	unsigned gfsd_timeout_ms; /* 0: hard */

	pthread_mutex_t lock;
	int cancelled; /* atomic: gfc_cancel may run in a signal handler */
	struct gfc_conn *gfmd;	/* current gfmd connection or NULL */
	struct gfc_conn *gfsds; /* gfsd connections by (addr, port) */
	struct gfc_down *down;	/* servers logged as not responding */

	/* exactly once (proto.h GFM_ONCE), under lock */
	uint64_t client_id;
	uint64_t last_seq;
	uint64_t *inflight; /* seqs sent and not settled */
	size_t ninflight, capinflight;

	uint64_t read_local, read_remote, written_local, written_remote;
	uint64_t gfmd_calls, gfmd_reconnects;
	uint64_t gfmd_ops[GFC_OPS_COUNTED];
};

/* A request unanswered this long: its server is "not responding" (logged). */
#define GFC_SLOW_MS 10000
/* Waiting between attempts to reach a server: from this, doubling, capped. */
#define GFC_BACKOFF_MIN_MS 50
#define GFC_BACKOFF_MAX_MS 1000
/* One attempt to connect and authenticate at most. */
#define GFC_CONNECT_MS 10000
/* A reader gives up on a silent gfsd after this, to try another replica. */
#define GFC_READER_MS 10000
/* A writer through a passed fd looks at its gfsd connection this often. */
#define GFC_REVIVE_MS 200

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ---- life cycle ---------------------------------------------------------- */

static int config_timeout(const struct gf_config *cfg, const char *key, unsigned *ms,
			  char *errbuf, int errlen)
{
	int err = 0;
	long long v = gf_config_int(cfg, key, 0, 0, 86400, &err);
	if (err) {
		snprintf(errbuf, errlen, "%s: not a number of seconds (0-86400; 0: hard)", key);
		return -EINVAL;
	}
	*ms = (unsigned)v * 1000u;
	return 0;
}

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
	/* a random id of this client's exactly-once requests; never 0 */
	do {
		if (gf_random(&c->client_id, sizeof(c->client_id)) < 0) {
			snprintf(errbuf, errlen, "cannot get random bytes for the client id");
			r = -EIO;
			goto fail;
		}
	} while (c->client_id == 0);

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
	if ((r = config_timeout(cfg, "gfmd_timeout", &c->gfmd_timeout_ms, errbuf, errlen)) < 0 ||
	    (r = config_timeout(cfg, "gfsd_timeout", &c->gfsd_timeout_ms, errbuf, errlen)) < 0)
		goto fail;

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

void gfc_cancel(struct gfc *c)
{
	/* only an atomic store: waits look at it at least every ~1 s */
	__atomic_store_n(&c->cancelled, 1, __ATOMIC_RELEASE);
}

void gfc_free(struct gfc *c)
{
	if (!c)
		return;
	gfc_disconnect(c);
	while (c->down) {
		struct gfc_down *d = c->down;
		c->down = d->next;
		free(d);
	}
	free(c->inflight);
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
	for (int i = 0; i < GFC_OPS_COUNTED; i++)
		out->gfmd_ops[i] = LOAD(&c->gfmd_ops[i]);
}

/* ---- hard and soft: how long a call keeps trying ----------------------------------- */

/*
 * One call's patience with one server. Hard (timeout_ms 0): it tries until
 * the server answers, waiting GFC_BACKOFF_MIN_MS.. GFC_BACKOFF_MAX_MS
 * between attempts; soft: it gives up (-EIO) once timeout_ms have passed
 * since the call began without an answer. Either way a server silent for
 * GFC_SLOW_MS, or that cannot be reached, is logged once as not responding,
 * and once as OK when it answers again (gfc->down).
 */
struct patience {
	struct gfc *c;
	const char *what; /* "gfmd" or "gfsd" */
	char peer[GF_PATH_MAX + 8];
	unsigned timeout_ms;
	struct timespec start;
	unsigned backoff_ms;
	void (*waiting)(void *arg); /* GFM_WAITS: called every tick */
	void *waiting_arg;
};

static void patience_start(struct patience *p, struct gfc *c, int gfmd, const char *addr,
			   uint16_t port, unsigned timeout_ms)
{
	p->c = c;
	p->what = gfmd ? "gfmd" : "gfsd";
	if (port)
		snprintf(p->peer, sizeof(p->peer), "%s:%u", addr, port);
	else
		snprintf(p->peer, sizeof(p->peer), "%s", addr);
	p->timeout_ms = timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->backoff_ms = GFC_BACKOFF_MIN_MS;
}

static unsigned elapsed_ms(const struct patience *p)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(now.tv_sec - p->start.tv_sec) * 1000 +
		       (now.tv_nsec - p->start.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > UINT_MAX ? UINT_MAX : (unsigned)ms;
}

/* What one connection attempt may take. */
static unsigned connect_ms(const struct patience *p)
{
	if (!p->timeout_ms)
		return GFC_CONNECT_MS;
	unsigned el = elapsed_ms(p), left = el >= p->timeout_ms ? 1 : p->timeout_ms - el;
	return left < GFC_CONNECT_MS ? left : GFC_CONNECT_MS;
}

static int is_cancelled(struct gfc *c)
{
	return __atomic_load_n(&c->cancelled, __ATOMIC_ACQUIRE);
}

/* The server does not answer: say so once per outage. */
static void peer_down(const struct patience *p)
{
	struct gfc *c = p->c;
	char key[sizeof(p->peer) + 8];
	snprintf(key, sizeof(key), "%s %s", p->what, p->peer);
	pthread_mutex_lock(&c->lock);
	struct gfc_down *d;
	for (d = c->down; d; d = d->next)
		if (strcmp(d->peer, key) == 0)
			break;
	if (!d && (d = malloc(sizeof(*d) + strlen(key) + 1))) {
		strcpy(d->peer, key);
		d->next = c->down;
		c->down = d;
		if (p->timeout_ms)
			gf_warn("%s not responding, still trying (for up to %u s)", key,
				p->timeout_ms / 1000);
		else
			gf_warn("%s not responding, still trying", key);
	}
	pthread_mutex_unlock(&c->lock);
}

/* The server answered: if it was down, say that it is back. */
static void peer_up(const struct patience *p)
{
	struct gfc *c = p->c;
	pthread_mutex_lock(&c->lock);
	if (!c->down) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	char key[sizeof(p->peer) + 8];
	snprintf(key, sizeof(key), "%s %s", p->what, p->peer);
	for (struct gfc_down **pp = &c->down; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->peer, key) == 0) {
			struct gfc_down *d = *pp;
			*pp = d->next;
			free(d);
			gf_warn("%s OK", key);
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

/*
 * While a request waits for its reply (gf_rpc_wait): log a server silent
 * for GFC_SLOW_MS, give up when the soft timeout has passed or the client
 * is cancelled; look again at least every second.
 */
static int patience_tick(void *arg, unsigned *next_ms)
{
	struct patience *p = arg;
	unsigned el = elapsed_ms(p), next = 1000;
	if (is_cancelled(p->c))
		return 1;
	if (p->timeout_ms && el >= p->timeout_ms)
		return 1;
	if (el >= GFC_SLOW_MS)
		peer_down(p);
	else if (GFC_SLOW_MS - el < next)
		next = GFC_SLOW_MS - el;
	if (p->timeout_ms && p->timeout_ms - el < next)
		next = p->timeout_ms - el;
	*next_ms = next ? next : 1;
	return 0;
}

/* A request that waits by design (GFM_WAITS): only cancelling ends it;
 * its caller's hook runs every 0.1 s meanwhile. */
static int waits_tick(void *arg, unsigned *next_ms)
{
	struct patience *p = arg;
	*next_ms = p->waiting ? 100 : 1000;
	if (is_cancelled(p->c))
		return 1;
	if (p->waiting)
		p->waiting(p->waiting_arg);
	return 0;
}

static void patience_wait_spec(struct patience *p, struct gf_rpc_wait *w)
{
	unsigned first = 0;
	w->tick = patience_tick;
	w->arg = p;
	/* the first look: when something is due */
	patience_tick(p, &first);
	w->first_ms = first;
}

/*
 * An attempt failed without an answer (what: the request, for the log).
 * Hard: wait the backoff and return 0 (try again). Soft: the same until the
 * timeout has passed, then -EIO. -EIO at once once the client is cancelled.
 * patience_retry also logs the server as not responding.
 */
static int patience_backoff(struct patience *p, const char *what)
{
	unsigned el = elapsed_ms(p), wait = p->backoff_ms;
	if (p->timeout_ms && el >= p->timeout_ms) {
		gf_warn("%s %s not responding, timed out: %s fails (EIO) after %u s", p->what,
			p->peer, what, p->timeout_ms / 1000);
		return -EIO;
	}
	if (p->timeout_ms && p->timeout_ms - el < wait)
		wait = p->timeout_ms - el;
	/* a little jitter, so that many clients do not knock in step */
	wait += (unsigned)(rand() % (int)(wait / 4 + 1));
	p->backoff_ms = p->backoff_ms * 2 > GFC_BACKOFF_MAX_MS ? GFC_BACKOFF_MAX_MS
							       : p->backoff_ms * 2;
	if (is_cancelled(p->c))
		return -EIO;
	struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (long)(wait % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return is_cancelled(p->c) ? -EIO : 0;
}

static int patience_retry(struct patience *p, const char *what)
{
	peer_down(p);
	return patience_backoff(p, what);
}

/*
 * Errors that say the server was not reached, or the connection broke, so
 * the request may not have been answered: a retry may do better.
 */
static int transport_error(int r)
{
	switch (r) {
	case -ENOTCONN:
	case -ECONNRESET:
	case -EPIPE:
	case -ECONNREFUSED:
	case -ECONNABORTED:
	case -EBADMSG:
	case -EPROTO:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EHOSTDOWN:
	case -ENETDOWN:
	case -EAGAIN:
	case -EINPROGRESS:
	case -ENOENT: /* a UNIX socket whose server is gone */
		return 1;
	default:
		return 0;
	}
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
 * addr:port, connecting within timeout_ms if there is none. Connects outside
 * the lock so a slow or unreachable server blocks only the callers that
 * need it.
 */
static int conn_get(struct gfc *c, int gfmd, const char *addr, uint16_t port,
		    unsigned timeout_ms, struct gfc_conn **out)
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

	r = gf_rpc_connect_timeout(addr, port, &c->key, c->kind,
				   c->hostname, timeout_ms, &rpc);
	if (r < 0)
		return r;
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

	r = conn_get(c, 1, NULL, 0, GFC_CONNECT_MS, &k);
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot connect to gfmd at %s:%u: %s",
			 c->gfmd_host, c->gfmd_port, strerror(-r));
		return r;
	}
	conn_put(c, k);
	return 0;
}

/* ---- exactly once ------------------------------------------------------------ */

/* A new seq, in flight until once_settle. */
static int once_begin(struct gfc *c, uint64_t *seq)
{
	pthread_mutex_lock(&c->lock);
	if (c->ninflight == c->capinflight) {
		size_t cap = c->capinflight ? c->capinflight * 2 : 16;
		uint64_t *v = realloc(c->inflight, cap * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&c->lock);
			return -ENOMEM;
		}
		c->inflight = v;
		c->capinflight = cap;
	}
	*seq = ++c->last_seq;
	c->inflight[c->ninflight++] = *seq;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* What gfmd may forget: every seq below the oldest one still in flight. */
static uint64_t once_acked(struct gfc *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t low = c->last_seq + 1;
	for (size_t i = 0; i < c->ninflight; i++)
		if (c->inflight[i] < low)
			low = c->inflight[i];
	pthread_mutex_unlock(&c->lock);
	return low - 1;
}

/* seq had its reply, or the caller gave up on it: it is never sent again. */
static void once_settle(struct gfc *c, uint64_t seq)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->ninflight; i++)
		if (c->inflight[i] == seq) {
			c->inflight[i] = c->inflight[--c->ninflight];
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

/* ---- gfmd calls ---------------------------------------------------------------- */

enum gfm_kind {
	GFM_RESEND, /* idempotent: sent again as it is */
	GFM_EXACTLY_ONCE, /* a mutation: inside GFM_ONCE, sent again with its seq */
	GFM_WAITS, /* sent again as it is, and its answer may take as long as it
		      takes (a lock wait): no soft timeout, no "not responding" */
};

/*
 * One gfmd request, hard or soft (gfmd_timeout): sent again on a new
 * connection while gfmd cannot be reached or the connection breaks before
 * the reply. 0 with rep holding the reply payload (release it), or a
 * negative errno: gfmd's status, -EIO when a soft timeout passed (or the
 * client was cancelled), or an error of the request itself.
 */
static int gfm_call_hook(struct gfc *c, uint16_t op, const struct gf_wbuf *req,
			 enum gfm_kind kind, struct gf_reply *rep, void (*waiting)(void *),
			 void *waiting_arg)
{
	struct patience p;
	struct gf_wbuf env;
	uint64_t seq = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->fd = -1;
	if (req->err)
		return req->err;
	ADD(&c->gfmd_calls, 1);
	if (op < GFC_OPS_COUNTED)
		ADD(&c->gfmd_ops[op], 1);
	if (kind == GFM_EXACTLY_ONCE && (r = once_begin(c, &seq)) < 0)
		return r;
	gf_wbuf_init(&env);
	patience_start(&p, c, 1, c->gfmd_host, c->gfmd_port, c->gfmd_timeout_ms);
	p.waiting = waiting;
	p.waiting_arg = waiting_arg;
	for (;;) {
		struct gfc_conn *k;
		const struct gf_wbuf *wire = req;
		uint16_t wop = op;

		memset(rep, 0, sizeof(*rep));
		rep->fd = -1;
		r = conn_get(c, 1, NULL, 0, connect_ms(&p), &k);
		if (r == 0) {
			if (kind == GFM_EXACTLY_ONCE) {
				/* acked as of now: it only grows between attempts */
				struct gfm_once_req m = { .client = c->client_id, .seq = seq,
							  .acked = once_acked(c), .op = op,
							  .len = (uint32_t)req->len,
							  .payload = req->data };
				gf_wbuf_reset(&env);
				gfm_once_req_encode(&env, &m);
				wire = &env;
				wop = GFM_ONCE;
			}
			struct gf_rpc_wait w;
			patience_wait_spec(&p, &w);
			if (kind == GFM_WAITS)
				w.tick = waits_tick;
			r = gf_rpc_call_wait(k->rpc, wop, wire, rep, &w);
			conn_put(c, k);
			if (r == 0 && rep->status == -EAGAIN) {
				/* gfmd answered "not yet" (it has just started and
				 * the gfsd it needs have not reported): wait as for
				 * an unreachable gfmd, without calling it down */
				peer_up(&p);
				gf_reply_release(rep);
				if ((r = patience_backoff(&p, gf_op_name(op))) < 0)
					goto out;
				continue;
			}
			if (r == 0)
				break;
		}
		if (!transport_error(r)) /* e.g. -ENOMEM, -EACCES: trying again won't help */
			goto out;
		gf_debug("gfmd %s:%u: %s: %s; trying again", c->gfmd_host, c->gfmd_port,
			 gf_op_name(op), strerror(-r));
		if ((r = patience_retry(&p, gf_op_name(op))) < 0)
			goto out;
	}
	peer_up(&p);
	if (rep->status != 0) {
		r = rep->status;
		gf_reply_release(rep);
		r = r > 0 ? -EIO : r;
	}
out:
	if (kind == GFM_EXACTLY_ONCE)
		once_settle(c, seq);
	gf_wbuf_free(&env);
	return r;
}

static int gfm_call(struct gfc *c, uint16_t op, const struct gf_wbuf *req,
		    enum gfm_kind kind, struct gf_reply *rep)
{
	return gfm_call_hook(c, op, req, kind, rep, NULL, NULL);
}

/* A request whose reply payload is ignored. */
static int gfm_call_noreply(struct gfc *c, uint16_t op, struct gf_wbuf *w, enum gfm_kind kind)
{
	struct gf_reply rep;
	int r;

	r = gfm_call(c, op, w, kind, &rep);
	gf_wbuf_free(w);
	if (r == 0)
		gf_reply_release(&rep);
	return r;
}

/* A request answered with gfm_attr_rep. */
void gfc_set_dirs_hook(struct gfc *c, const struct gfc_dirs_hook *h)
{
	c->dirs_hook = *h;
}

static uint64_t dirs_begin(struct gfc *c)
{
	return c->dirs_hook.begin ? c->dirs_hook.begin(c->dirs_hook.arg) : 0;
}

static void dirs_done(struct gfc *c, uint64_t cookie, const struct gfm_dirs *d)
{
	if (c->dirs_hook.dirs && (d->n || d->nforget || d->forget_all))
		c->dirs_hook.dirs(c->dirs_hook.arg, cookie, d);
}

/* A request whose reply decode() fills into rep; *dirs (in rep) goes to the
 * directories hook. */
static int gfm_call_decoded(struct gfc *c, uint16_t op, struct gf_wbuf *w, enum gfm_kind kind,
			    int (*decode)(const void *, size_t, void *), void *rep,
			    const struct gfm_dirs *dirs)
{
	struct gf_reply r;
	uint64_t cookie = dirs_begin(c);
	int rc;

	rc = gfm_call(c, op, w, kind, &r);
	gf_wbuf_free(w);
	if (rc < 0)
		return rc;
	rc = decode(r.payload, r.len, rep);
	gf_reply_release(&r);
	if (rc < 0) {
		gf_warn("gfmd: undecodable reply to %s", gf_op_name(op));
		return -EIO;
	}
	dirs_done(c, cookie, dirs);
	return 0;
}

static int decode_attr(const void *p, size_t n, void *m)
{
	return gfm_attr_rep_decode(p, n, m);
}

static int decode_dirs(const void *p, size_t n, void *m)
{
	return gfm_dirs_rep_decode(p, n, m);
}

static int gfm_call_attr(struct gfc *c, uint16_t op, struct gf_wbuf *w, enum gfm_kind kind,
			 struct gf_attr *out)
{
	struct gfm_attr_rep a = { 0 };
	int r = gfm_call_decoded(c, op, w, kind, decode_attr, &a, &a.dirs);
	if (r == 0 && out)
		*out = a.attr;
	return r;
}

/* UNLINK, RMDIR, RENAME: answered with the directories they changed. */
static int gfm_call_dirs(struct gfc *c, uint16_t op, struct gf_wbuf *w, enum gfm_kind kind)
{
	struct gfm_dirs_rep d;
	return gfm_call_decoded(c, op, w, kind, decode_dirs, &d, &d.dirs);
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
		   uint64_t parent, const char *name, enum gfm_kind idem, struct gf_attr *out)
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
	/* LOOKUP answers attributes; UNLINK and RMDIR the directories */
	if (out)
		return gfm_call_attr(c, op, &w, idem, out);
	return gfm_call_dirs(c, op, &w, idem);
}

int gfc_lookup(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, struct gf_attr *out)
{
	return name_op(c, GFM_LOOKUP, cr, parent, name, GFM_RESEND, out);
}

int gfc_unlink(struct gfc *c, const struct gf_cred *cr, uint64_t parent, const char *name)
{
	return name_op(c, GFM_UNLINK, cr, parent, name, GFM_EXACTLY_ONCE, NULL);
}

int gfc_rmdir(struct gfc *c, const struct gf_cred *cr, uint64_t parent, const char *name)
{
	return name_op(c, GFM_RMDIR, cr, parent, name, GFM_EXACTLY_ONCE, NULL);
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
	return gfm_call_attr(c, GFM_GETATTR, &w, GFM_RESEND, out);
}

int gfc_setattr(struct gfc *c, const struct gfm_setattr_req *req, struct gf_attr *out)
{
	struct gf_wbuf w;

	gf_wbuf_init(&w);
	gfm_setattr_req_encode(&w, req);
	return gfm_call_attr(c, GFM_SETATTR, &w, GFM_RESEND, out);
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
	return gfm_call_attr(c, op, &w, GFM_EXACTLY_ONCE, out);
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
	uint64_t cookie = dirs_begin(c);
	r = gfm_call(c, GFM_CREATE, &w, GFM_EXACTLY_ONCE, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	if ((r = open_reply(GFM_CREATE, &rep, out)) == 0)
		dirs_done(c, cookie, &out->dirs);
	return r;
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
	r = gfm_call(c, GFM_OPEN, &w,
		     flags & (O_CREAT | O_TRUNC) ? GFM_EXACTLY_ONCE : GFM_RESEND, &rep);
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
	return gfm_call_dirs(c, GFM_RENAME, &w, GFM_EXACTLY_ONCE);
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
	return gfm_call_attr(c, GFM_LINK, &w, GFM_EXACTLY_ONCE, out);
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
	r = gfm_call_attr(c, GFM_SYMLINK, &w, GFM_EXACTLY_ONCE, out);
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
	r = gfm_call(c, GFM_READLINK, &w, GFM_RESEND, &rep);
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
	r = gfm_call(c, GFM_READDIR, &w, GFM_RESEND, &rep);
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
		    uint32_t flags, uint64_t blocks, struct gf_attr *out)
{
	struct gfm_close_write_req m;
	struct gf_wbuf w;

	memset(&m, 0, sizeof(m));
	m.cred = *cr;
	m.ino = ino;
	m.fgen = fgen;
	m.end = end;
	m.flags = flags;
	m.blocks = blocks;
	if (mtime)
		m.mtime = *mtime;
	gf_wbuf_init(&w);
	gfm_close_write_req_encode(&w, &m);
	return gfm_call_attr(c, GFM_CLOSE_WRITE, &w, GFM_RESEND, out);
}

int gfc_release(struct gfc *c, const struct gf_cred *cr, uint64_t ino)
{
	struct gf_wbuf w;

	ino_req(&w, cr, ino);
	return gfm_call_noreply(c, GFM_RELEASE, &w, GFM_RESEND);
}

int gfc_replicate(struct gfc *c, const struct gfm_replicate_req *m,
		  struct gfm_replicate_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	gfm_replicate_req_encode(&w, m);
	/* a copy takes as long as it takes: no "not responding" meanwhile */
	r = gfm_call(c, GFM_REPLICATE, &w, GFM_WAITS, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	r = gfm_replicate_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	if (r < 0) {
		gf_warn("gfmd: undecodable reply to GFM_REPLICATE");
		return -EIO;
	}
	return 0;
}

int gfc_host_drain(struct gfc *c, const struct gfm_host_drain_req *m)
{
	struct gf_wbuf w;

	gf_wbuf_init(&w);
	gfm_host_drain_req_encode(&w, m);
	return gfm_call_noreply(c, GFM_HOST_DRAIN, &w, GFM_RESEND);
}

int gfc_replica_drop(struct gfc *c, const struct gfm_replica_drop_req *m)
{
	struct gf_wbuf w;

	gf_wbuf_init(&w);
	gfm_replica_drop_req_encode(&w, m);
	return gfm_call_noreply(c, GFM_REPLICA_DROP, &w, GFM_RESEND);
}

int gfc_sync(struct gfc *c)
{
	struct gf_wbuf w;

	gf_wbuf_init(&w);
	return gfm_call_noreply(c, GFM_SYNC, &w, GFM_RESEND);
}

int gfc_statfs(struct gfc *c, const struct gf_cred *cr, struct gfm_statfs_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, GF_ROOT_INO);
	r = gfm_call(c, GFM_STATFS, &w, GFM_RESEND, &rep);
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
	return gfm_call_noreply(c, GFM_SETXATTR, &w, GFM_EXACTLY_ONCE);
}

int gfc_removexattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		    const char *name)
{
	struct gf_wbuf w;
	int r;

	if ((r = xattr_req(&w, cr, ino, name, 0, 0, NULL, 0)) < 0)
		return r;
	return gfm_call_noreply(c, GFM_REMOVEXATTR, &w, GFM_EXACTLY_ONCE);
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
	r = gfm_call(c, GFM_GETXATTR, &w, GFM_RESEND, &rep);
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
	r = gfm_call(c, GFM_LISTXATTR, &w, GFM_RESEND, &rep);
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
	return gfm_call_noreply(c, GFM_ACCESS, &w, GFM_RESEND);
}

uint64_t gfc_client_id(const struct gfc *c)
{
	return c->client_id;
}

int gfc_dir_lease(struct gfc *c, const struct gf_cred *cr, uint64_t dir, uint64_t renew,
		  struct gfm_dir_lease_rep *out, char **names)
{
	struct gfm_dir_lease_req m = { .cred = *cr, .client = c->client_id, .dir = dir,
				       .renew = renew };
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	*names = NULL;
	gf_wbuf_init(&w);
	gfm_dir_lease_req_encode(&w, &m);
	r = gfm_call(c, GFM_DIR_LEASE, &w, GFM_RESEND, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	r = gfm_dir_lease_rep_decode(rep.payload, rep.len, out);
	if (r == 0 && out->names_len) {
		*names = malloc(out->names_len);
		if (*names)
			memcpy(*names, out->names, out->names_len);
		else
			r = -ENOMEM;
	}
	out->names = *names;
	gf_reply_release(&rep);
	return r;
}

int gfc_lease_poll(struct gfc *c, const struct gfm_lease_poll_req *m,
		   struct gfm_lease_poll_rep *out)
{
	struct gfc_conn *k;
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	if (LOAD(&c->cancelled))
		return -EIO;
	r = conn_get(c, 1, NULL, 0, GFC_CONNECT_MS, &k);
	if (r < 0)
		return r;
	gf_wbuf_init(&w);
	gfm_lease_poll_req_encode(&w, m);
	memset(&rep, 0, sizeof(rep));
	rep.fd = -1;
	r = w.err ? w.err : gf_rpc_call_wait(k->rpc, GFM_LEASE_POLL, &w, &rep, NULL);
	gf_wbuf_free(&w);
	conn_put(c, k);
	if (r < 0)
		return r;
	if (rep.status) {
		r = rep.status > 0 ? -EIO : rep.status;
		gf_reply_release(&rep);
		return r;
	}
	r = gfm_lease_poll_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r;
}

int gfc_lock(struct gfc *c, struct gfm_lock_req *m, struct gfm_lock_rep *out,
	     void (*waiting)(void *arg), void *arg)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	m->client = c->client_id;
	gf_wbuf_init(&w);
	gfm_lock_req_encode(&w, m);
	/* a lock is not data: asking again is harmless (taking a lock one
	 * holds, releasing one held no more) */
	r = gfm_call_hook(c, GFM_LOCK, &w, m->cmd == GF_LK_SETW ? GFM_WAITS : GFM_RESEND, &rep,
			  waiting, arg);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	r = gfm_lock_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	if (r < 0) {
		gf_warn("gfmd: undecodable reply to GFM_LOCK");
		return -EIO;
	}
	if (m->cmd != GF_LK_GET && out->type != GF_LK_UNLCK)
		return -EAGAIN; /* refused: a lock is in the way */
	return 0;
}

int gfc_lock_cancel(struct gfc *c, struct gfm_lock_req *m)
{
	struct gf_wbuf w;

	m->client = c->client_id;
	gf_wbuf_init(&w);
	gfm_lock_req_encode(&w, m);
	return gfm_call_noreply(c, GFM_LOCK_CANCEL, &w, GFM_RESEND);
}

int gfc_replicas(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 struct gfm_open_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, ino);
	r = gfm_call(c, GFM_REPLICAS, &w, GFM_RESEND, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return open_reply(GFM_REPLICAS, &rep, out);
}

int gfc_host_replicas(struct gfc *c, const struct gfm_host_replicas_req *m,
		      struct gfm_host_replicas_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	gfm_host_replicas_req_encode(&w, m);
	r = gfm_call(c, GFM_HOST_REPLICAS, &w, GFM_RESEND, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	r = gfm_host_replicas_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

int gfc_replicas_all(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		     struct gfm_open_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	ino_req(&w, cr, ino);
	r = gfm_call(c, GFM_REPLICAS_ALL, &w, GFM_RESEND, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		return r;
	return open_reply(GFM_REPLICAS_ALL, &rep, out);
}

int gf_host_list_once(const char *host, uint16_t port, const struct gf_key *key, uint8_t kind,
		      const char *my_host, struct gfm_host_list_rep *out)
{
	struct gf_rpc *rpc;
	struct gf_reply rep;
	int r;

	memset(out, 0, sizeof(*out));
	r = gf_rpc_connect_timeout(host, port, key, kind, my_host, 3000, &rpc);
	if (r < 0)
		return r;
	gf_rpc_set_timeout(rpc, 5000);
	r = gf_rpc_call_status(rpc, GFM_HOST_LIST, NULL, &rep);
	gf_rpc_close(rpc);
	if (r < 0)
		return r;
	r = gfm_host_list_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r;
}

int gfc_host_list(struct gfc *c, struct gfm_host_list_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	r = gfm_call(c, GFM_HOST_LIST, &w, GFM_RESEND, &rep);
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
	r = gfm_call(c, GFM_IDMAP_LIST, &w, GFM_RESEND, &rep);
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
	/* exactly once: "already so" and "another name has it" must not mix */
	return gfm_call_noreply(c, GFM_IDMAP_SET, &w, GFM_EXACTLY_ONCE);
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
	return gfm_call_noreply(c, GFM_IDMAP_DEL, &w, GFM_EXACTLY_ONCE);
}

/* ---- data ------------------------------------------------------------------------ */

/*
 * One gfsd request on connection k. A broken connection (or one that does
 * not answer within the patience p, when given) is -EHOSTDOWN: the handle
 * died with it; other errors are gfsd's.
 */
static int gfs_call(struct gfc_conn *k, uint16_t op, const struct gf_wbuf *req,
		    struct patience *p, struct gf_reply *rep)
{
	struct gf_rpc_wait w;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->fd = -1;
	if (req->err)
		return req->err;
	if (p)
		patience_wait_spec(p, &w);
	r = gf_rpc_call_wait(k->rpc, op, req, rep, p ? &w : NULL);
	if (r < 0) {
		gf_debug("gfsd %s%s%u: %s failed: %s", k->addr, k->port ? ":" : "", k->port,
			 gf_op_name(op), strerror(-r));
		return transport_error(r) ? -EHOSTDOWN : r;
	}
	if (p)
		peer_up(p);
	if (rep->status != 0) {
		r = rep->status;
		gf_reply_release(rep);
		return r > 0 ? -EIO : r;
	}
	return 0;
}

/*
 * GFS_OPEN at addr:port into the fields of h (conn, handle, size, fd).
 * -EHOSTDOWN when gfsd could not be reached or did not answer.
 */
static int data_open_at(struct gfc *c, const char *addr, uint16_t port,
			uint64_t ino, uint64_t fgen, uint32_t flags, struct patience *p,
			struct gfc_data *h)
{
	struct gfs_open_req m = { .ino = ino, .gen = fgen, .flags = flags };
	struct gfs_open_rep o;
	struct gf_wbuf w;
	struct gf_reply rep;
	struct gfc_conn *k;
	int r;

	r = conn_get(c, 0, addr, port, connect_ms(p), &k);
	if (r < 0) {
		gf_debug("gfsd %s%s%u: cannot connect: %s", addr, port ? ":" : "", port,
			 strerror(-r));
		return transport_error(r) ? -EHOSTDOWN : r;
	}
	gf_wbuf_init(&w);
	gfs_open_req_encode(&w, &m);
	r = gfs_call(k, GFS_OPEN, &w, p, &rep);
	gf_wbuf_free(&w);
	if (r < 0)
		goto fail;
	r = gfs_open_rep_decode(rep.payload, rep.len, &o);
	if (r < 0) {
		gf_warn("gfsd %s: undecodable reply to GFS_OPEN", addr);
		gf_reply_release(&rep);
		r = -EIO;
		goto fail;
	}
	h->conn = k;
	h->handle = o.handle;
	h->size = o.size;
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

static unsigned data_timeout(const struct gfc_data *h)
{
	unsigned soft = h->gfc->gfsd_timeout_ms;
	if (h->flags & GFS_O_WRITE)
		return soft;
	/* a reader moves on to another replica rather than wait */
	return soft && soft < GFC_READER_MS ? soft : GFC_READER_MS;
}

static void data_patience(struct patience *p, const struct gfc_data *h)
{
	if (h->via_socket)
		patience_start(p, h->gfc, 0, h->gfc->gfsd_socket, 0, data_timeout(h));
	else
		patience_start(p, h->gfc, 0, h->addr, h->port, data_timeout(h));
}

/* One attempt to open (or reopen) h's replica, flags as given. */
static int data_open_once(struct gfc_data *h, uint32_t flags, struct patience *p)
{
	if (h->via_socket)
		return data_open_at(h->gfc, h->gfc->gfsd_socket, 0, h->ino, h->fgen,
				    flags | GFS_O_WANT_FD, p, h);
	return data_open_at(h->gfc, h->addr, h->port, h->ino, h->fgen, flags, p, h);
}

int gfc_data_open(struct gfc *c, const struct gf_replica *r, uint64_t ino,
		  uint32_t flags, struct gfc_data *h)
{
	struct patience p;
	int e;

	flags &= ~(uint32_t)(GFS_O_WANT_FD | GFS_O_RECLAIM);
	memset(h, 0, sizeof(*h));
	h->gfc = c;
	h->fd = -1;
	h->ino = ino;
	h->fgen = r->fgen; /* gfsd knows replicas by their file */
	h->flags = flags;
	if (strlen(r->addr) >= sizeof(h->addr))
		return -ENAMETOOLONG;
	strcpy(h->addr, r->addr);
	h->port = r->port;
	int local = c->gfsd_socket && strcmp(r->host, c->hostname) == 0;
	h->via_socket = local;
	data_patience(&p, h);
	for (;;) {
		e = -EHOSTDOWN;
		if (local) {
			h->via_socket = 1;
			e = data_open_once(h, flags, &p);
			if (e == 0 && h->fd < 0)
				gf_debug("gfsd %s passed no fd for %llu; using the socket",
					 c->gfsd_socket, (unsigned long long)ino);
		}
		/* only an unreachable socket falls back to TCP */
		if (e == -EHOSTDOWN) {
			h->via_socket = 0;
			e = data_open_once(h, flags, &p);
		}
		/* a writer's replica is the one gfmd named: wait for its gfsd
		 * (hard), or until gfsd_timeout (soft); so when gfsd cannot ask
		 * gfmd yet whether the replica is still the file's (-EAGAIN:
		 * gfmd restarting), through the socket as over TCP */
		if (!(flags & GFS_O_WRITE) || (e != -EHOSTDOWN && e != -EAGAIN))
			goto done;
		if (patience_retry(&p, "GFS_OPEN") < 0) {
			e = -EIO;
			goto done;
		}
	}
done:
	if (e < 0) {
		h->gfc = NULL;
		return e == -EAGAIN ? -EIO : e;
	}
	peer_up(&p);
	pthread_rwlock_init(&h->lock, NULL);
	pthread_mutex_init(&h->sums_lock, NULL);
	return 0;
}

/*
 * The connection of writer h broke (the handle died with it; gfsd may have
 * restarted): open the same replica again on a new connection, with
 * GFS_O_RECLAIM so that gfsd leaves this writer's unpublished bytes alone,
 * never creating or truncating it again. epoch is the one the caller saw
 * fail: another thread may have reclaimed meanwhile. p: keep trying with
 * that patience (hard/soft, counted from the caller's start); NULL: one
 * attempt. 0 or -errno (-EIO once the soft timeout passed).
 */
static int reclaim(struct gfc_data *h, unsigned epoch, struct patience *p)
{
	struct patience once;
	int r = 0;

	pthread_rwlock_wrlock(&h->lock);
	if (h->epoch != epoch)
		goto out;
	if (h->conn) {
		conn_put(h->gfc, h->conn);
		h->conn = NULL;
	}
	if (!p) {
		data_patience(&once, h);
		p = &once;
	}
	uint32_t flags = (h->flags & ~(uint32_t)(GFS_O_CREATE | GFS_O_TRUNC)) | GFS_O_RECLAIM;
	for (;;) {
		int keep_fd = h->fd;
		r = data_open_once(h, flags, p);
		if (r == 0) {
			/* the fd, if any, stays the one its writers use */
			if (h->fd != keep_fd) {
				if (h->fd >= 0)
					close(h->fd);
				h->fd = keep_fd;
			}
			h->epoch++;
			peer_up(p);
			gf_info("inode %llu: write handle on gfsd %s reclaimed after its "
				"connection was lost", (unsigned long long)h->ino, p->peer);
			break;
		}
		h->fd = keep_fd;
		if (p == &once || (r != -EHOSTDOWN && r != -EAGAIN))
			break;
		if ((r = patience_retry(p, "reclaiming a write handle")) < 0)
			break;
	}
	if (r < 0 && r != -EHOSTDOWN && r != -EAGAIN)
		gf_warn("inode %llu: cannot reclaim the write handle on gfsd %s: %s",
			(unsigned long long)h->ino, p->peer, strerror(-r));
out:
	pthread_rwlock_unlock(&h->lock);
	return r;
}

/*
 * One request on h's handle (build encodes it for the handle id given),
 * reclaiming the handle and sending it again when a writer's connection
 * broke. A reader's broken connection is -EHOSTDOWN: the caller moves on.
 */
typedef void (*build_fn)(struct gf_wbuf *w, uint64_t handle, const void *arg);

static int handle_call(struct gfc_data *h, uint16_t op, build_fn build, const void *arg,
		       struct gf_reply *rep)
{
	struct patience p;
	struct gf_wbuf w;
	int r;

	gf_wbuf_init(&w);
	data_patience(&p, h);
	for (;;) {
		pthread_rwlock_rdlock(&h->lock);
		unsigned epoch = h->epoch;
		if (!h->conn) {
			r = -EHOSTDOWN; /* a reclaim gave up */
		} else {
			gf_wbuf_reset(&w);
			build(&w, h->handle, arg);
			r = gfs_call(h->conn, op, &w, &p, rep);
		}
		pthread_rwlock_unlock(&h->lock);
		if (r != -EHOSTDOWN || !(h->flags & GFS_O_WRITE))
			break;
		if ((r = reclaim(h, epoch, &p)) < 0)
			break;
	}
	gf_wbuf_free(&w);
	if (r == -EHOSTDOWN && (h->flags & GFS_O_WRITE))
		r = -EIO;
	return r;
}

static void build_read(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_read_req m = *(const struct gfs_read_req *)arg;
	m.handle = handle;
	gfs_read_req_encode(w, &m);
}

static void build_sums(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_sums_req m = *(const struct gfs_sums_req *)arg;
	m.handle = handle;
	gfs_sums_req_encode(w, &m);
}

/* Fill h's window of sums from block first on (h->sums_lock held). */
static int sums_fetch(struct gfc_data *h, uint64_t first)
{
	struct gfs_sums_req q = { .first = first, .count = GFS_SUMS_MAX };
	struct gfs_sums_rep d;
	struct gf_reply rep;
	int r = handle_call(h, GFS_SUMS, build_sums, &q, &rep);

	if (r < 0)
		return r;
	r = gfs_sums_rep_decode(rep.payload, rep.len, &d);
	gf_reply_release(&rep);
	if (r < 0)
		return -EIO;
	if (d.block != GF_CSUM_BLOCK || (d.sealed && d.first != first)) {
		gfs_sums_rep_free(&d);
		return -EIO;
	}
	free(h->sums);
	h->sums = d.sums;
	h->sums_first = first;
	h->sums_count = d.count;
	h->sums_size = d.size;
	h->sums_state = d.sealed ? 1 : -1;
	h->sums_pending = !d.sealed && d.pending;
	return 0;
}

/* No sums now (h->sums_lock held, sums_state < 0): if that is only because
 * gfsd is writing them (closed a moment ago), ask again at the next read. */
static void unchecked_for_now(struct gfc_data *h)
{
	if (h->sums_pending)
		h->sums_state = 0;
}

int gfc_data_checks(struct gfc_data *h)
{
	int yes;

	if (h->fd < 0 || (h->flags & GFS_O_WRITE))
		return 0;
	pthread_mutex_lock(&h->sums_lock);
	if (h->sums_state == 0 && sums_fetch(h, 0) < 0)
		h->sums_state = 1; /* cannot tell: check (and ask again) */
	yes = h->sums_state == 1;
	if (h->sums_state < 0)
		unchecked_for_now(h);
	pthread_mutex_unlock(&h->sums_lock);
	return yes;
}

int gfc_data_sums_cover(struct gfc_data *h, uint64_t size)
{
	int yes;

	pthread_mutex_lock(&h->sums_lock);
	yes = h->sums_state == 1 && h->sums_size == size;
	pthread_mutex_unlock(&h->sums_lock);
	return yes;
}

/* The passed replica is larger than h's sums say (h->sums_lock held). */
static int local_grew(struct gfc_data *h)
{
	struct stat st;

	return fstat(h->fd, &st) == 0 && (uint64_t)st.st_size > h->sums_size;
}

int gfc_data_local_sums(struct gfc_data *h, uint64_t off, size_t len, struct gfc_span *sp)
{
	const uint64_t B = GF_CSUM_BLOCK;
	uint64_t a = off - off % B, e, b, nb;
	int r = 2;

	memset(sp, 0, sizeof(*sp));
	if (h->fd < 0 || (h->flags & GFS_O_WRITE) || len == 0)
		return 2;
	pthread_mutex_lock(&h->sums_lock);
	if (h->sums_state == 0 && sums_fetch(h, a / B) < 0)
		goto unlock;
	if (h->sums_state < 0) {
		unchecked_for_now(h);
		r = 1;
		goto unlock;
	}
	if (off >= h->sums_size)
		goto unlock;
	if (off + len > h->sums_size && local_grew(h)) {
		/* written since these sums (an appender reopened the replica):
		 * they describe an older size; ask gfsd, and for sums again */
		h->sums_state = 0;
		goto unlock;
	}
	e = off + len < h->sums_size ? off + len : h->sums_size;
	b = e + (B - e % B) % B;
	if (b > h->sums_size)
		b = h->sums_size;
	nb = (b - a + B - 1) / B;
	if ((a / B < h->sums_first || a / B + nb > h->sums_first + h->sums_count) &&
	    (sums_fetch(h, a / B) < 0 || h->sums_state < 0 || nb > h->sums_count)) {
		r = h->sums_state < 0 ? 1 : 2;
		if (h->sums_state < 0)
			unchecked_for_now(h);
		goto unlock;
	}
	sp->want = malloc(nb * sizeof(*sp->want));
	if (!sp->want)
		goto unlock;
	memcpy(sp->want, h->sums + (a / B - h->sums_first), nb * sizeof(*sp->want));
	sp->a = a;
	sp->b = b;
	sp->e = e;
	r = 0;
unlock:
	pthread_mutex_unlock(&h->sums_lock);
	return r;
}

/* Checked bytes did not match h's sums: fetch them again next time. */
static void local_mismatch(struct gfc_data *h)
{
	pthread_mutex_lock(&h->sums_lock);
	h->sums_state = 0;
	pthread_mutex_unlock(&h->sums_lock);
}

/*
 * A reader's read through its passed fd, checked: 0 and the data; 1: the
 * replica has no sums (read it unchecked); 2: ask gfsd (a block failed, or
 * the sums describe another size: gfsd judges, and tells gfmd if corrupt).
 */
static int local_read_checked(struct gfc_data *h, void *buf, size_t len, uint64_t off,
			      size_t *got)
{
	struct gfc_span sp;
	uint8_t *tmp = NULL;
	int r = gfc_data_local_sums(h, off, len, &sp);

	if (r != 0)
		return r;
	r = 2;
	uint8_t *into = sp.a == off && sp.b == sp.e ? buf : (tmp = malloc(sp.b - sp.a));
	size_t done = 0;
	while (into && done < sp.b - sp.a) {
		ssize_t n = pread(h->fd, into + done, sp.b - sp.a - done, (off_t)(sp.a + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (into && done == sp.b - sp.a &&
	    gf_csum_check(into, done, sp.a / GF_CSUM_BLOCK, sp.want) == 0) {
		if (tmp)
			memcpy(buf, tmp + (off - sp.a), sp.e - off);
		*got = sp.e - off;
		r = 0;
	} else if (into && done == sp.b - sp.a) {
		/* rewritten since these sums, or corrupt: ask again next time */
		local_mismatch(h);
	}
	free(tmp);
	free(sp.want);
	return r;
}

int gfc_data_read(struct gfc_data *h, void *buf, size_t len, uint64_t off, size_t *got)
{
	return gfc_data_read_checked(h, buf, len, off, got, NULL);
}

int gfc_data_read_checked(struct gfc_data *h, void *buf, size_t len, uint64_t off,
			  size_t *got, int *checked)
{
	struct gfs_read_req m;
	struct gfs_read_rep d;
	struct gf_reply rep;
	size_t done = 0;
	int r = 0;

	if (checked)
		*checked = 0;
	if (h->fd >= 0 && !(h->flags & GFS_O_WRITE) && len > 0) {
		r = local_read_checked(h, buf, len, off, got);
		if (r == 0) {
			if (checked)
				*checked = 1;
			ADD(&h->local_read, *got);
			ADD(&h->gfc->read_local, *got);
			return 0;
		}
		if (r == 2)
			goto through_gfsd;
		r = 0;
	}
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

through_gfsd:
	r = 0;
	while (done < len) {
		m.offset = off + done;
		m.len = len - done > GF_MAX_IO ? GF_MAX_IO : (uint32_t)(len - done);
		r = handle_call(h, GFS_READ, build_read, &m, &rep);
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
	ADD(&h->gfc->read_remote, done);
	*got = done;
	return done > 0 ? 0 : r;
}

static void build_write(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_write_req m = *(const struct gfs_write_req *)arg;
	m.handle = handle;
	gfs_write_req_encode(w, &m);
}

/*
 * A writer through a passed fd: its gfsd handle is needed only at fsync and
 * close, but while it is lost gfsd does not count this writer, and another
 * writer opening the replica would cut its unpublished bytes. So look at
 * the connection now and then and reclaim as soon as gfsd is back.
 */
void gfc_data_revive(struct gfc_data *h)
{
	struct timespec now;

	if (h->fd < 0 || !(h->flags & GFS_O_WRITE))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	uint64_t due = LOAD(&h->revive_at_ms);
	if (now_ms < due ||
	    !__atomic_compare_exchange_n(&h->revive_at_ms, &due, now_ms + GFC_REVIVE_MS, 0,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	pthread_rwlock_rdlock(&h->lock);
	unsigned epoch = h->epoch;
	int alive = h->conn && gf_rpc_alive(h->conn->rpc);
	pthread_rwlock_unlock(&h->lock);
	if (!alive)
		reclaim(h, epoch, NULL);
}

int gfc_data_write(struct gfc_data *h, const void *buf, size_t len, uint64_t off,
		   uint64_t *end)
{
	struct gfs_write_req m;
	struct gfs_write_rep o;
	struct gf_reply rep;
	size_t done = 0;
	int r = 0;

	if (end)
		*end = off + len;
	if (h->fd >= 0) {
		gfc_data_revive(h);
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
		if (r == 0 && end)
			r = gfc_data_end(h, end);
		return r;
	}

	while (done < len) {
		/* the same bytes at the same offset: sent again as they are
		 * after a reclaim, whether or not gfsd wrote them before */
		m.offset = off + done;
		m.len = len - done > GF_MAX_IO ? GF_MAX_IO : (uint32_t)(len - done);
		m.data = (const uint8_t *)buf + done;
		r = handle_call(h, GFS_WRITE, build_write, &m, &rep);
		if (r < 0)
			break;
		r = gfs_write_rep_decode(rep.payload, rep.len, &o);
		gf_reply_release(&rep);
		if (r < 0 || o.written != m.len) {
			r = r < 0 ? -EIO : -ENOSPC;
			break;
		}
		done += m.len;
		if (end)
			*end = o.end;
	}
	ADD(&h->gfc->written_remote, done);
	return r;
}

int gfc_data_end(struct gfc_data *h, uint64_t *end)
{
	struct stat st;

	if (!(h->flags & GFS_O_APPEND) || h->fd < 0)
		return 0;
	if (fstat(h->fd, &st) < 0)
		return -errno;
	*end = (uint64_t)st.st_size; /* the fd is O_APPEND: pwrite appended */
	return 0;
}

static int handle_noreply(struct gfc_data *h, uint16_t op, build_fn build, const void *arg)
{
	struct gf_reply rep;
	int r;

	r = handle_call(h, op, build, arg, &rep);
	if (r == 0)
		gf_reply_release(&rep);
	return r;
}

static void build_truncate(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_truncate_req m = { .handle = handle, .size = *(const uint64_t *)arg };
	gfs_truncate_req_encode(w, &m);
}

int gfc_data_truncate(struct gfc_data *h, uint64_t size)
{
	if (h->fd >= 0)
		return ftruncate(h->fd, (off_t)size) < 0 ? -errno : 0;
	return handle_noreply(h, GFS_TRUNCATE, build_truncate, &size);
}

static void build_handle(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_handle_req m = { .handle = handle };
	gfs_handle_req_encode(w, &m);
}

static void build_fallocate(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_fallocate_req m = *(const struct gfs_fallocate_req *)arg;
	m.handle = handle;
	gfs_fallocate_req_encode(w, &m);
}

int gfc_data_fallocate(struct gfc_data *h, uint32_t mode, uint64_t off, uint64_t len)
{
	if (!gf_falloc_mode_ok(mode))
		return -EOPNOTSUPP;
	if (len == 0 || off > INT64_MAX || len > INT64_MAX - off)
		return len == 0 ? -EINVAL : -EFBIG;
	if (h->fd >= 0)
		return fallocate(h->fd, (int)mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
	struct gfs_fallocate_req m = { .mode = mode, .offset = off, .length = len };
	return handle_noreply(h, GFS_FALLOCATE, build_fallocate, &m);
}

static void build_seek(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	struct gfs_seek_req m = *(const struct gfs_seek_req *)arg;
	m.handle = handle;
	gfs_seek_req_encode(w, &m);
}

int gfc_data_seek(struct gfc_data *h, uint64_t off, int whence, uint64_t *out)
{
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off > INT64_MAX)
		return -ENXIO;
	if (h->fd >= 0) {
		off_t at = lseek(h->fd, (off_t)off, whence);
		if (at < 0)
			return -errno;
		*out = (uint64_t)at;
		return 0;
	}
	struct gfs_seek_req m = { .offset = off,
				  .whence = whence == SEEK_DATA ? GF_SEEK_DATA : GF_SEEK_HOLE };
	struct gfs_seek_rep o;
	struct gf_reply rep;
	int r = handle_call(h, GFS_SEEK, build_seek, &m, &rep);
	if (r < 0)
		return r;
	r = gfs_seek_rep_decode(rep.payload, rep.len, &o);
	gf_reply_release(&rep);
	if (r < 0)
		return -EIO;
	*out = o.offset;
	return 0;
}

int gfc_data_fstat(struct gfc_data *h, uint64_t *size, uint64_t *blocks)
{
	if (h->fd >= 0) {
		struct stat st;
		if (fstat(h->fd, &st) < 0)
			return -errno;
		*size = (uint64_t)st.st_size;
		*blocks = (uint64_t)st.st_blocks;
		return 0;
	}
	struct gfs_fstat_rep o;
	struct gf_reply rep;
	int r = handle_call(h, GFS_FSTAT, build_handle, NULL, &rep);
	if (r < 0)
		return r;
	r = gfs_fstat_rep_decode(rep.payload, rep.len, &o);
	gf_reply_release(&rep);
	if (r < 0)
		return -EIO;
	*size = o.size;
	*blocks = o.blocks;
	return 0;
}

int gfc_data_fsync(struct gfc_data *h)
{
	/* gfsd syncs even a local replica: a new replica file's directory
	 * entry must reach the disk too, and only gfsd holds that directory */
	return handle_noreply(h, GFS_FSYNC, build_handle, NULL);
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

static void build_close(struct gf_wbuf *w, uint64_t handle, const void *arg)
{
	const struct gfc_data *h = arg;
	struct gfs_close_req m = { .handle = handle, .local_read = LOAD(&h->local_read),
				   .local_written = LOAD(&h->local_written) };
	gfs_close_req_encode(w, &m);
}

int gfc_data_close(struct gfc_data *h)
{
	int r;

	if (!h->gfc)
		return 0;
	/* the passed fd first: gfsd seals once nobody else has the replica
	 * open for writing (gfsd/service.c, written_elsewhere) */
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	r = handle_noreply(h, GFS_CLOSE, build_close, h);
	if (r == -EHOSTDOWN)
		r = 0; /* a reader's handle died with its connection: nothing lost */
	if (h->conn)
		conn_put(h->gfc, h->conn);
	h->conn = NULL;
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->sums_lock);
	free(h->sums);
	h->sums = NULL;
	h->gfc = NULL;
	return r;
}

/* One request to the gfsd at addr:port outside any replica handle (stats,
 * gffsck): 0 and *rep (release it), or -errno; an unreachable gfsd is -EIO.
 * w is consumed. */
static int gfsd_call(struct gfc *c, const char *addr, uint16_t port, uint16_t op,
		     struct gf_wbuf *w, struct gf_reply *rep)
{
	struct gfc_conn *k;
	int r = w->err ? w->err : conn_get(c, 0, addr, port, GFC_CONNECT_MS, &k);

	if (r == 0) {
		r = gfs_call(k, op, w, NULL, rep);
		conn_put(c, k);
	}
	gf_wbuf_free(w);
	return r == -EHOSTDOWN ? -EIO : r;
}

int gfc_gfsd_stats(struct gfc *c, const char *addr, uint16_t port,
		   struct gfs_stats_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	if ((r = gfsd_call(c, addr, port, GFS_STATS, &w, &rep)) < 0)
		return r;
	r = gfs_stats_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

int gfc_gfsd_page_stats(struct gfc *c, const char *addr, uint16_t port,
			struct gfs_page_stats_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	if ((r = gfsd_call(c, addr, port, GFS_PAGE_STATS, &w, &rep)) < 0)
		return r;
	r = gfs_page_stats_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

int gfc_gfsd_page_cap(struct gfc *c, const char *addr, uint16_t port, uint64_t pages)
{
	struct gfs_page_cap_req req = { .pages = pages };
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	gfs_page_cap_req_encode(&w, &req);
	r = gfsd_call(c, addr, port, GFS_PAGE_CAP, &w, &rep);
	if (r == 0)
		gf_reply_release(&rep);
	return r;
}

int gfc_gfsd_list(struct gfc *c, const char *addr, uint16_t port, const struct gfs_list_req *m,
		  struct gfs_list_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	gfs_list_req_encode(&w, m);
	if ((r = gfsd_call(c, addr, port, GFS_LIST, &w, &rep)) < 0)
		return r;
	r = gfs_list_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

int gfc_gfsd_orphan_scan(struct gfc *c, const char *addr, uint16_t port)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	if ((r = gfsd_call(c, addr, port, GFS_ORPHAN_SCAN, &w, &rep)) < 0)
		return r;
	gf_reply_release(&rep);
	return 0;
}

int gfc_gfsd_verify(struct gfc *c, const char *addr, uint16_t port,
		    const struct gfs_verify_req *m, struct gfs_verify_rep *out)
{
	struct gf_wbuf w;
	struct gf_reply rep;
	int r;

	gf_wbuf_init(&w);
	gfs_verify_req_encode(&w, m);
	if ((r = gfsd_call(c, addr, port, GFS_VERIFY, &w, &rep)) < 0)
		return r;
	r = gfs_verify_rep_decode(rep.payload, rep.len, out);
	gf_reply_release(&rep);
	return r < 0 ? -EIO : 0;
}

/* ---- waiting for gfsd in callers that choose among replicas ------------------------ */

void gfc_wait_start(struct gfc *c, struct gfc_wait *w)
{
	w->gfc = c;
	clock_gettime(CLOCK_MONOTONIC, &w->start);
	w->backoff_ms = GFC_BACKOFF_MIN_MS;
}

int gfc_wait_gfsd(struct gfc_wait *w, const char *what)
{
	struct patience p;
	patience_start(&p, w->gfc, 0, "holding a replica", 0, w->gfc->gfsd_timeout_ms);
	p.start = w->start;
	p.backoff_ms = w->backoff_ms;
	int r = patience_backoff(&p, what);
	w->backoff_ms = p.backoff_ms;
	return r;
}
