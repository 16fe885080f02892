/*
 * passthrough.c — FUSE passthrough spoken on the wire under libfuse 3.14
 * (passthrough.h). The structures are the kernel's (include/uapi/linux/
 * fuse.h, protocol 7.40 and later); Debian 12's headers predate them, so
 * the few fields used are named here.
 */
#include "passthrough.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "uring.h"

/* FUSE_INIT flags and flags2 (fuse_init_in/out), protocol 7.36 and 7.40 */
#define PT_INIT_EXT (1u << 30)	 /* flags: flags2 is there */
#define PT_PASSTHROUGH2 (1u << 5) /* flags2: FUSE_PASSTHROUGH (1ULL << 37) */
#define PT_KILLPRIV_V2 (1u << 28) /* flags: FUSE_HANDLE_KILLPRIV_V2 (7.33) */
/* fuse_init_out as 32-bit words: flags, flags2, max_stack_depth */
#define PT_OUT_FLAGS 3
#define PT_OUT_FLAGS2 8
#define PT_OUT_STACK 9
/* fuse_open_out.open_flags, and the backing id in what was its padding */
#define PT_FOPEN_PASSTHROUGH (1u << 7)
#define PT_OPEN_OUT_SIZE 16

/* /dev/fuse ioctls (FUSE_DEV_IOC_MAGIC 229) */
struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

static int pt_want;	       /* asked for at install */
static int pt_offered;	       /* the kernel's INIT offered it */
static int pt_on;	       /* our INIT reply took it */
static uint64_t pt_init_unique; /* the INIT request, to find its reply */
static int pt_killpriv_v2;      /* the kernel offered FUSE_HANDLE_KILLPRIV_V2 */
static int pt_init_done;
static int pt_devfd = -1;
static uint64_t n_opens, n_backings, n_refused;
static _Thread_local int armed_id;
static void (*after_init_fn)(void *);
static void *after_init_arg;

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	ssize_t n = read(fd, buf, len);

	if (n >= (ssize_t)sizeof(struct fuse_in_header)) {
		const struct fuse_in_header *h = buf;

		if (h->opcode == FUSE_INIT &&
		    (size_t)n >= sizeof(*h) + 5 * sizeof(uint32_t)) {
			uint32_t in[5];

			memcpy(in, (const char *)buf + sizeof(*h), sizeof(in));
			/* in: major, minor, max_readahead, flags, flags2 */
			__atomic_store_n(&pt_killpriv_v2,
					 in[0] == 7 && in[1] >= 33 && (in[3] & PT_KILLPRIV_V2) != 0,
					 __ATOMIC_RELEASE);
			__atomic_store_n(&pt_offered,
					 in[0] == 7 && in[1] >= 40 && (in[3] & PT_INIT_EXT) &&
						 (in[4] & PT_PASSTHROUGH2),
					 __ATOMIC_RELEASE);
			__atomic_store_n(&pt_init_unique, h->unique, __ATOMIC_RELEASE);
			gf_uring_saw_init(in[0], in[1], in[3],
					  (in[3] & PT_INIT_EXT) ? in[4] : 0);
		}
	}
	return n;
}

/*
 * Our INIT reply. FUSE_HANDLE_KILLPRIV_V2, when offered: the mount already
 * clears setuid/setgid and capabilities itself, as v1 had it (ops.c
 * kill_suid, gfmd on truncate and chown), and v2 adds what v1 lacked: the
 * kernel may mark an inode it found without privileges (SB_NOSEC, until
 * its attributes are next refreshed), so that a write no longer asks for
 * security.capability first (a request per write(2), passthrough or not).
 * Passthrough, when wanted and offered (stacking depth 1: the backing
 * files are on a plain local file system).
 */
static void patch_init(struct iovec *iov, int count)
{
	uint32_t w[PT_OUT_STACK + 1];

	if (count < 2 || iov[1].iov_len < sizeof(w))
		return;
	memcpy(w, iov[1].iov_base, sizeof(w));
	if (__atomic_load_n(&pt_killpriv_v2, __ATOMIC_ACQUIRE))
		w[PT_OUT_FLAGS] |= PT_KILLPRIV_V2;
	gf_uring_patch_init(&w[PT_OUT_FLAGS], &w[PT_OUT_FLAGS2]);
	if (pt_want && __atomic_load_n(&pt_offered, __ATOMIC_ACQUIRE)) {
		w[PT_OUT_FLAGS] |= PT_INIT_EXT;
		w[PT_OUT_FLAGS2] |= PT_PASSTHROUGH2;
		w[PT_OUT_STACK] = 1;
		__atomic_store_n(&pt_on, 1, __ATOMIC_RELEASE);
	}
	memcpy(iov[1].iov_base, w, sizeof(w));
}

/* An OPEN reply (fuse_open_out) or a CREATE reply (fuse_entry_out then
 * fuse_open_out, in one buffer): the open part ends the payload. */
static void patch_open(struct iovec *iov, int count, int id)
{
	char *p;
	uint32_t flags;
	int32_t bid = id;

	if (count != 2 || iov[1].iov_len < PT_OPEN_OUT_SIZE)
		return;
	p = (char *)iov[1].iov_base + iov[1].iov_len - PT_OPEN_OUT_SIZE;
	memcpy(&flags, p + 8, sizeof(flags));
	flags |= PT_FOPEN_PASSTHROUGH;
	flags &= ~(uint32_t)FOPEN_DIRECT_IO;
	memcpy(p + 8, &flags, sizeof(flags));
	memcpy(p + 12, &bid, sizeof(bid));
	__atomic_fetch_add(&n_opens, 1, __ATOMIC_RELAXED);
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	if (count >= 1 && iov[0].iov_len >= sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *h = iov[0].iov_base;

		if (h->unique != 0 && h->error == 0) {
			if (armed_id > 0) {
				patch_open(iov, count, armed_id);
				armed_id = 0;
			} else if (!__atomic_load_n(&pt_init_done, __ATOMIC_ACQUIRE) &&
				   h->unique == __atomic_load_n(&pt_init_unique,
								__ATOMIC_ACQUIRE)) {
				__atomic_store_n(&pt_init_done, 1, __ATOMIC_RELEASE);
				patch_init(iov, count);
				ssize_t n = writev(fd, iov, count);
				if (n >= 0)
					gf_uring_start(fd);
				if (n >= 0 && after_init_fn)
					after_init_fn(after_init_arg);
				return n;
			}
		}
		/* a reply to a request that came over io_uring goes back there */
		ssize_t n = gf_uring_reply(iov, count);
		if (n != -ENOENT)
			return n;
	}
	return writev(fd, iov, count);
}

void gf_pt_after_init(void (*fn)(void *), void *arg)
{
	after_init_fn = fn;
	after_init_arg = arg;
}

static ssize_t pt_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout,
				 size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t pt_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int gf_pt_install(struct fuse_session *se, int want)
{
	static const struct fuse_custom_io io = {
		.writev = pt_writev,
		.read = pt_read,
		.splice_receive = pt_splice_receive,
		.splice_send = pt_splice_send,
	};
	int fd = fuse_session_fd(se);
	int r;

	if (fd < 0)
		return -EBADF;
	pt_want = want;
	pt_devfd = fd;
	r = fuse_session_custom_io(se, &io, fd);
	return r < 0 ? r : r > 0 ? -EINVAL : 0;
}

int gf_pt_enabled(void)
{
	return __atomic_load_n(&pt_on, __ATOMIC_ACQUIRE);
}

int gf_pt_backing_open(int fd)
{
	struct pt_backing_map m = { .fd = fd };
	int id;

	if (!gf_pt_enabled())
		return -EOPNOTSUPP;
	id = ioctl(pt_devfd, PT_IOC_BACKING_OPEN, &m);
	if (id <= 0) {
		int e = id < 0 ? errno : EIO;

		if (__atomic_fetch_add(&n_refused, 1, __ATOMIC_RELAXED) == 0)
			gf_warn("the kernel refused a passthrough backing file: %s "
				"(writes of such files go through the mount)", strerror(e));
		return -e;
	}
	__atomic_fetch_add(&n_backings, 1, __ATOMIC_RELAXED);
	return id;
}

void gf_pt_backing_close(int id)
{
	uint32_t v = (uint32_t)id;

	if (id > 0 && ioctl(pt_devfd, PT_IOC_BACKING_CLOSE, &v) < 0)
		gf_warn("passthrough backing %d: close failed: %s", id, strerror(errno));
}

void gf_pt_arm(int id)
{
	armed_id = id;
}

void gf_pt_disarm(void)
{
	armed_id = 0;
}

void gf_pt_stats(uint64_t *opens, uint64_t *backings, uint64_t *refused)
{
	*opens = __atomic_load_n(&n_opens, __ATOMIC_RELAXED);
	*backings = __atomic_load_n(&n_backings, __ATOMIC_RELAXED);
	*refused = __atomic_load_n(&n_refused, __ATOMIC_RELAXED);
}
