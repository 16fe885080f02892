/*
 * uring.c — FUSE over io_uring (uring.h). The ring's structures are the
 * kernel's (include/uapi/linux/fuse.h, protocol 7.42); Debian 12's headers
 * predate them, so they are named here. liburing gives the rings.
 */
#include "uring.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "log.h"
#include "proto.h"

/* FUSE_INIT flags2 bit 9: FUSE_OVER_IO_URING (1ULL << 41) */
#define UR_INIT_FLAGS2_URING (1u << 9)
#define UR_INIT_EXT (1u << 30) /* flags: flags2 is there */

enum { UR_CMD_REGISTER = 1, UR_CMD_COMMIT_AND_FETCH = 2 };

/* in the big SQE's command area */
struct ur_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

struct ur_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique, to commit its reply */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

/* the entry's header buffer: the in or out header, the op's own in
 * header, and the entry's bookkeeping */
struct ur_header {
	char in_out[128];
	char op_in[128];
	struct ur_ent_in_out ent;
};

/* a request up to this size is copied out of the entry (so the entry may
 * take the reply, and the next request, while its handler still runs);
 * a larger one (a WRITE's data) is handled in place */
#define UR_COPY_MAX (64u << 10)

/* user_data: the entry, with this bit for the NOP by which another
 * thread hands an entry's thread a reply to commit (the commit must come
 * from the ring's own thread: the kernel delivers the entry's next
 * request in the context of the thread that submitted the command) */
#define UR_HANDOFF 1u
/* room before the payload for the headers in place: in header + op header */
#define UR_HEADROOM 256u

struct ur_thread;

/* One ring entry: a request at a time, from its queue. */
struct ur_ent {
	struct ur_thread *t;
	struct ur_header *hdr;
	char *payload_mem; /* UR_HEADROOM, then the payload */
	char *payload;
	struct iovec iov[2];
	/* the request being served: its unique (0: none); in place (its
	 * reply waits for the handler to return); detached (its reply comes
	 * from another thread, gf_uring_detach) */
	uint64_t unique;
	int in_place;
	int replied_in_place;
	int detached;
	struct ur_ent *next; /* every entry, for replies from other threads */
};

/* A thread pinned to a CPU, with its ring and the entries on it. */
struct ur_thread {
	pthread_t tid;
	int started;
	unsigned qid;
	struct io_uring ring;
	int ring_ok;
	pthread_mutex_t sq_lock; /* the ring's submission side */
	char *reqbuf;		 /* UR_HEADROOM + UR_COPY_MAX */
};

static struct {
	struct fuse_session *se;
	int want;
	unsigned per_cpu;
	int offered;
	int devfd;
	size_t payload_sz;
	struct ur_thread *t;
	unsigned nthreads;
	unsigned nqueues;
	pthread_mutex_t lock; /* the start's tally, the entry list */
	pthread_cond_t cond;
	unsigned registered;
	unsigned reported;
	int reg_error;
	int active;
	struct ur_ent *ents;
	uint64_t requests;
	uint64_t detached;
	/* replies from other threads hold it shared; the stop, exclusive */
	pthread_rwlock_t gone;
	int stopping;
} U = { .devfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	.gone = PTHREAD_RWLOCK_INITIALIZER };

static _Thread_local struct ur_thread *me; /* a ring thread's own */
static _Thread_local struct ur_ent *cur;   /* the entry whose request we serve */

void gf_uring_configure(struct fuse_session *se, int want, unsigned threads_per_cpu)
{
	U.se = se;
	U.want = want;
	U.per_cpu = threads_per_cpu ? threads_per_cpu : 1;
}

void gf_uring_saw_init(uint32_t major, uint32_t minor, uint32_t flags, uint32_t flags2)
{
	int offered = major == 7 && minor >= 42 && (flags & UR_INIT_EXT) &&
		      (flags2 & UR_INIT_FLAGS2_URING);

	__atomic_store_n(&U.offered, offered, __ATOMIC_RELEASE);
}

int gf_uring_agreed(void)
{
	return U.want && __atomic_load_n(&U.offered, __ATOMIC_ACQUIRE);
}

void gf_uring_patch_init(uint32_t *flags, uint32_t *flags2)
{
	if (gf_uring_agreed()) {
		*flags |= UR_INIT_EXT;
		*flags2 |= UR_INIT_FLAGS2_URING;
	}
}

int gf_uring_active(void)
{
	return __atomic_load_n(&U.active, __ATOMIC_ACQUIRE);
}

void gf_uring_stats(uint64_t *requests, unsigned *threads, uint64_t *detached)
{
	*requests = __atomic_load_n(&U.requests, __ATOMIC_RELAXED);
	*threads = gf_uring_active() ? U.nthreads : 0;
	*detached = __atomic_load_n(&U.detached, __ATOMIC_RELAXED);
}

/* Submit one command for entry e on its thread's ring: REGISTER, or
 * COMMIT_AND_FETCH of the reply now in it; or (handoff) the NOP that has
 * e's thread commit it. 0 or -errno. */
static int submit(struct ur_ent *e, uint32_t op, int handoff)
{
	struct ur_thread *t = e->t;
	int r;

	pthread_mutex_lock(&t->sq_lock);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	if (!sqe) {
		pthread_mutex_unlock(&t->sq_lock);
		return -EBUSY;
	}
	memset(sqe, 0, 2 * sizeof(*sqe)); /* the big SQE */
	if (handoff) {
		io_uring_prep_nop(sqe);
		sqe->user_data = (uint64_t)(uintptr_t)e | UR_HANDOFF;
	} else {
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = U.devfd;
		sqe->cmd_op = op;
		if (op == UR_CMD_REGISTER) {
			sqe->addr = (uint64_t)(uintptr_t)e->iov;
			sqe->len = 2;
		}
		struct ur_cmd_req *cr = (struct ur_cmd_req *)sqe->cmd;
		cr->qid = (uint16_t)t->qid;
		cr->commit_id = op == UR_CMD_REGISTER ? 0 : e->hdr->ent.commit_id;
		sqe->user_data = (uint64_t)(uintptr_t)e;
	}
	do
		r = io_uring_submit(&t->ring);
	while (r == -EINTR);
	pthread_mutex_unlock(&t->sq_lock);
	return r < 0 ? r : r == 1 ? 0 : -EIO;
}

static void commit(struct ur_ent *e)
{
	__atomic_store_n(&e->unique, 0, __ATOMIC_RELEASE);
	int r = submit(e, UR_CMD_COMMIT_AND_FETCH, 0);
	if (r < 0)
		gf_warn("FUSE over io_uring: cannot commit a reply: %s", strerror(-r));
}

/* Put the reply in iov into e: the out header in the header buffer, the
 * rest in the payload. The bytes taken. */
static ssize_t put_reply(struct ur_ent *e, const struct iovec *iov, int count)
{
	struct fuse_out_header oh;
	size_t total = 0, off = 0;

	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	for (int i = 1; i < count; i++) {
		if (off + iov[i].iov_len > U.payload_sz) {
			/* cannot happen: the kernel sized the payload for its
			 * largest reply; fail the request, not the ring */
			oh.error = -EIO;
			off = 0;
			break;
		}
		memcpy(e->payload + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	oh.len = (uint32_t)(sizeof(oh) + off);
	memcpy(e->hdr->in_out, &oh, sizeof(oh));
	e->hdr->ent.payload_sz = (uint32_t)off;
	return (ssize_t)total;
}

ssize_t gf_uring_reply(const struct iovec *iov, int count)
{
	struct fuse_out_header oh;
	struct ur_ent *e = cur;

	if (count < 1 || iov[0].iov_len < sizeof(oh))
		return -ENOENT;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique == 0)
		return -ENOENT; /* a notification: /dev/fuse */
	if (e && e->unique == oh.unique && e->t == me && !e->detached) {
		/* the usual case: the entry's own thread, in its handler */
		ssize_t n = put_reply(e, iov, count);
		if (e->in_place)
			e->replied_in_place = 1; /* the handler may still read it */
		else
			commit(e);
		return n;
	}
	/* from another thread (a detached wait, or a handler's helper), or
	 * a request that came through /dev/fuse */
	if (!__atomic_load_n(&U.ents, __ATOMIC_ACQUIRE))
		return -ENOENT;
	pthread_rwlock_rdlock(&U.gone);
	if (__atomic_load_n(&U.stopping, __ATOMIC_ACQUIRE)) {
		pthread_rwlock_unlock(&U.gone);
		return -ENOENT;
	}
	if (!e || e->unique != oh.unique)
		for (e = __atomic_load_n(&U.ents, __ATOMIC_ACQUIRE); e; e = e->next)
			if (__atomic_load_n(&e->unique, __ATOMIC_ACQUIRE) == oh.unique)
				break;
	ssize_t n = -ENOENT;
	if (e) {
		n = put_reply(e, iov, count);
		int r = submit(e, 0, 1);
		if (r < 0) {
			gf_warn("FUSE over io_uring: cannot hand a reply over: %s", strerror(-r));
			n = r;
		}
	}
	pthread_rwlock_unlock(&U.gone);
	return n;
}

void *gf_uring_detach(void)
{
	struct ur_ent *e = cur;

	if (!e || e->t != me || e->in_place)
		return NULL;
	e->detached = 1;
	__atomic_fetch_add(&U.detached, 1, __ATOMIC_RELAXED);
	return e;
}

void gf_uring_adopt(void *token)
{
	cur = token;
}

static void ent_free(struct ur_ent *e)
{
	free(e->hdr);
	free(e->payload_mem);
	free(e);
}

/* A new entry for t, on the list of all entries; NULL without memory. */
static struct ur_ent *ent_new(struct ur_thread *t)
{
	struct ur_ent *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->t = t;
	if (posix_memalign((void **)&e->hdr, 64, sizeof(*e->hdr)) != 0) {
		e->hdr = NULL;
		ent_free(e);
		return NULL;
	}
	memset(e->hdr, 0, sizeof(*e->hdr));
	if (!(e->payload_mem = malloc(UR_HEADROOM + U.payload_sz))) {
		ent_free(e);
		return NULL;
	}
	e->payload = e->payload_mem + UR_HEADROOM;
	e->iov[0] = (struct iovec){ e->hdr, sizeof(*e->hdr) };
	e->iov[1] = (struct iovec){ e->payload, U.payload_sz };
	pthread_mutex_lock(&U.lock);
	e->next = U.ents;
	__atomic_store_n(&U.ents, e, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&U.lock);
	return e;
}

/* Serve the request the kernel put in e. */
static void serve(struct ur_ent *e)
{
	struct ur_thread *t = e->t;
	struct fuse_in_header ih;
	uint32_t psz = e->hdr->ent.payload_sz;

	memcpy(&ih, e->hdr->in_out, sizeof(ih));
	size_t hsz = ih.len >= sizeof(ih) + psz ? ih.len - sizeof(ih) - psz : SIZE_MAX;
	if (hsz > sizeof(e->hdr->op_in) || psz > U.payload_sz) {
		/* not a layout we know: answer EIO rather than guess */
		gf_warn("FUSE over io_uring: request %u of %u bytes with a %u-byte payload: "
			"refused", ih.opcode, ih.len, psz);
		struct fuse_out_header oh = { .len = sizeof(oh), .error = -EIO,
					      .unique = ih.unique };
		memcpy(e->hdr->in_out, &oh, sizeof(oh));
		e->hdr->ent.payload_sz = 0;
		commit(e);
		return;
	}
	char *base;
	if (ih.len <= UR_COPY_MAX) {
		base = t->reqbuf;
		memcpy(base + sizeof(ih) + hsz, e->payload, psz);
		e->in_place = 0;
	} else {
		base = e->payload - sizeof(ih) - hsz;
		e->in_place = 1;
	}
	memcpy(base, &ih, sizeof(ih));
	memcpy(base + sizeof(ih), e->hdr->op_in, hsz);
	struct fuse_buf fb = { .mem = base, .size = ih.len };

	e->replied_in_place = 0;
	e->detached = 0;
	__atomic_store_n(&e->unique, ih.unique, __ATOMIC_RELEASE);
	__atomic_fetch_add(&U.requests, 1, __ATOMIC_RELAXED);
	cur = e;
	fuse_session_process_buf(U.se, &fb);
	cur = NULL;
	if (e->replied_in_place)
		commit(e);
	e->in_place = 0;
	if (e->detached) {
		/* its reply comes later from another thread: a new entry keeps
		 * this queue's capacity meanwhile (a lock wait must not hold
		 * back the unlock that ends it) */
		struct ur_ent *n = ent_new(t);
		int r = n ? submit(n, UR_CMD_REGISTER, 0) : -ENOMEM;
		if (r < 0)
			gf_warn("FUSE over io_uring: queue %u: cannot add an entry for a "
				"waiting request: %s", t->qid, strerror(-r));
	}
}

static void *ring_main(void *arg)
{
	struct ur_thread *t = arg;
	struct ur_ent *first;
	sigset_t all;
	int r;

	me = t;
	/* signals are the loop's (libfuse's handlers end the session) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	first = ent_new(t);
	r = first ? submit(first, UR_CMD_REGISTER, 0) : -ENOMEM;
	pthread_mutex_lock(&U.lock);
	if (r < 0)
		U.reg_error = r;
	else
		U.registered++;
	U.reported++;
	pthread_cond_broadcast(&U.cond);
	pthread_mutex_unlock(&U.lock);
	while (r == 0) {
		struct io_uring_cqe *cqe;

		if ((r = io_uring_wait_cqe(&t->ring, &cqe)) == -EINTR) {
			r = 0;
			continue;
		}
		if (r < 0) {
			gf_warn("FUSE over io_uring: queue %u: %s", t->qid, strerror(-r));
			break;
		}
		int res = cqe->res;
		uint64_t ud = cqe->user_data;
		struct ur_ent *e = (struct ur_ent *)(uintptr_t)(ud & ~(uint64_t)UR_HANDOFF);
		io_uring_cqe_seen(&t->ring, cqe);
		if (ud & UR_HANDOFF) {
			e->detached = 0;
			commit(e);
			continue;
		}
		if (res < 0) {
			/* the kernel ends the rings at unmount (ENOTCONN) */
			if (res != -ENOTCONN && res != -ECONNABORTED && res != -ECANCELED &&
			    !__atomic_load_n(&U.stopping, __ATOMIC_ACQUIRE))
				gf_warn("FUSE over io_uring: queue %u: the kernel ended an "
					"entry: %s", t->qid, strerror(-res));
			break;
		}
		serve(e);
	}
	return NULL;
}

/* Set up t for queue qid; 0 or -errno. */
static int thread_init(struct ur_thread *t, unsigned qid)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	t->qid = qid;
	pthread_mutex_init(&t->sq_lock, NULL);
	if (!(t->reqbuf = malloc(UR_HEADROOM + UR_COPY_MAX)))
		return -ENOMEM;
	/* a command per entry, and a NOP for each detached one */
	p.flags = IORING_SETUP_SQE128;
	int r = io_uring_queue_init_params(64, &t->ring, &p);
	if (r < 0)
		return r;
	t->ring_ok = 1;
	return 0;
}

static void thread_free(struct ur_thread *t)
{
	if (t->ring_ok)
		io_uring_queue_exit(&t->ring);
	free(t->reqbuf);
	pthread_mutex_destroy(&t->sq_lock);
}

/* start the thread pinned to its CPU (when that CPU is ours to run on) */
static int thread_start(struct ur_thread *t, const cpu_set_t *online)
{
	pthread_attr_t a;
	cpu_set_t one;
	int r;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1u << 20);
	if (CPU_ISSET(t->qid, online)) {
		CPU_ZERO(&one);
		CPU_SET(t->qid, &one);
		(void)pthread_attr_setaffinity_np(&a, sizeof(one), &one);
	}
	r = pthread_create(&t->tid, &a, ring_main, t);
	pthread_attr_destroy(&a);
	if (r != 0)
		return -r;
	t->started = 1;
	return 0;
}

/* The kernel's queue count: one per possible CPU (not only present or
 * online ones), from /sys/devices/system/cpu/possible ("0-1", "0-3,8-11"):
 * the highest listed plus one. -1 if unknown. */
static long possible_cpus(void)
{
	char buf[256];
	long max = -1;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	for (char *p = buf; *p;) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > max)
			max = v;
		p = end;
		while (*p == '-' || *p == ',' || *p == '\n')
			p++;
	}
	return max < 0 ? -1 : max + 1;
}

void gf_uring_start(int devfd)
{
	cpu_set_t online;
	long ncpu = possible_cpus();
	int r = 0;
	unsigned n = 0;

	if (!gf_uring_agreed() || U.t)
		return;
	/* the kernel has a queue per possible CPU and takes to the rings only
	 * once every one of them has an entry */
	if (ncpu < 1 || ncpu > 4096) {
		gf_warn("FUSE over io_uring: %ld CPUs? staying on /dev/fuse", ncpu);
		return;
	}
	if (sched_getaffinity(0, sizeof(online), &online) < 0)
		CPU_ZERO(&online);
	U.devfd = devfd;
	U.nqueues = (unsigned)ncpu;
	/* the kernel's largest request or reply: max_write, or max_pages
	 * pages (libfuse asks for max_write's worth) */
	U.payload_sz = GF_MAX_IO + 4096;
	for (unsigned q = 0; q < U.nqueues; q++)
		n += CPU_ISSET(q, &online) ? U.per_cpu : 1;
	U.t = calloc(n, sizeof(*U.t));
	if (!U.t) {
		gf_warn("FUSE over io_uring: out of memory: staying on /dev/fuse");
		return;
	}
	for (unsigned q = 0; q < U.nqueues && r == 0; q++) {
		unsigned k = CPU_ISSET(q, &online) ? U.per_cpu : 1;

		while (k-- && r == 0) {
			struct ur_thread *t = &U.t[U.nthreads];

			if ((r = thread_init(t, q)) == 0 && (r = thread_start(t, &online)) == 0) {
				U.nthreads++;
			} else {
				thread_free(t);
				memset(t, 0, sizeof(*t));
			}
		}
	}
	/* every thread registers its own entry (the kernel delivers a
	 * request in the context of the thread that submitted the command):
	 * wait for all of them to say how that went */
	pthread_mutex_lock(&U.lock);
	while (U.reported < U.nthreads)
		pthread_cond_wait(&U.cond, &U.lock);
	if (r == 0)
		r = U.reg_error;
	pthread_mutex_unlock(&U.lock);
	if (r < 0 || U.registered < n) {
		/* the kernel takes to the rings only with every queue served
		 * (entries registered meanwhile still serve if it did) */
		gf_warn("FUSE over io_uring: %u of %u queue entries registered (%s): "
			"requests may stay on /dev/fuse", U.registered, n,
			strerror(r < 0 ? -r : EIO));
		return;
	}
	__atomic_store_n(&U.active, 1, __ATOMIC_RELEASE);
	gf_info("FUSE over io_uring: %u queues, %u threads", U.nqueues, U.nthreads);
}

void gf_uring_stop(void)
{
	if (!U.t)
		return;
	pthread_rwlock_wrlock(&U.gone);
	__atomic_store_n(&U.stopping, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&U.gone);
	for (unsigned i = 0; i < U.nthreads; i++)
		if (U.t[i].started)
			pthread_join(U.t[i].tid, NULL);
	for (unsigned i = 0; i < U.nthreads; i++)
		thread_free(&U.t[i]);
	for (struct ur_ent *e = U.ents, *next; e; e = next) {
		next = e->next;
		ent_free(e);
	}
	U.ents = NULL;
	free(U.t);
	U.t = NULL;
	__atomic_store_n(&U.active, 0, __ATOMIC_RELEASE);
}
