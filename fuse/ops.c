/*
 * ops.c — FUSE low-level operations: kernel requests → gfmd/gfsd calls.
 *
 * Inode numbers are gfmd's own (root = 1 = FUSE_ROOT_ID), so no inode table
 * is kept here and forget has nothing to do. Sizes follow close-to-open
 * consistency (DESIGN-NOTES.md): gfmd's size, grown to the end of what this
 * client's own writers wrote and have not flushed yet.
 */
#include "ops.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cachever.h"
#include "attrcache.h"
#include "dirlease.h"
#include "files.h"
#include "idmap.h"
#include "passthrough.h"
#include "uring.h"
#include "memguard.h"
#include "readpin.h"
#include "log.h"
#include "clock.h"
#include "csum.h"

#define UNKNOWN_INO 0xffffffffu

/* FUSE requests this mount has answered (every op_* counts itself): the
 * stats xattr shows it, so benchmarks can tell requests per operation, in
 * all and by kind (a counter per handler, listed at its first request). */
static uint64_t fuse_requests;

struct req_count {
	const char *handler; /* op_NAME */
	uint64_t n;
	struct req_count *next;
};
static struct req_count *req_counts;

static void count_request_at(struct req_count *rc)
{
	__atomic_fetch_add(&fuse_requests, 1, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&rc->n, 1, __ATOMIC_RELAXED) != 0)
		return;
	/* the first: list it (once; readers only ever see whole entries) */
	struct req_count *head = __atomic_load_n(&req_counts, __ATOMIC_ACQUIRE);
	do
		rc->next = head;
	while (!__atomic_compare_exchange_n(&req_counts, &head, rc, 0, __ATOMIC_RELEASE,
					    __ATOMIC_ACQUIRE));
}

#define count_request()                                                     \
	do {                                                                \
		static struct req_count rc_ = { __func__, 0, NULL };        \
		count_request_at(&rc_);                                     \
	} while (0)

/* WRITE requests (passthrough writes send none: the stats show it) */
static uint64_t write_requests;
static uint64_t lock_waits_async; /* lock waits moved to a thread of their own */
static uint64_t read_mapped_kb; /* checked in a pin's mapping (mapped_read) */

static uint64_t attrcache_begin(void *arg)
{
	(void)arg;
	return gf_attrcache_begin();
}

static void attrcache_put(void *arg, uint64_t cookie, const struct gfm_dirs *d)
{
	(void)arg;
	gf_attrcache_put(cookie, d);
}

/* Every handler of a request that may change a directory forgets it first
 * (gf_attrcache_forget); the directories in gfmd's reply come back through
 * this hook. */
void gf_ops_attrcache(struct gf_fs *fs)
{
	struct gfc_dirs_hook h = { NULL, attrcache_begin, attrcache_put };

	gf_attrcache_init(fs->attr_timeout);
	gfc_set_dirs_hook(fs->gfc, &h);
}

static struct gf_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * The caller's identity for gfmd's permission checks, in global ids: local
 * ids are translated through their names (lib/idmap.h; identity while the
 * map is empty).
 */
static void cred_of(fuse_req_t req, struct gf_cred *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct gf_idmap *idm = fs_of(req)->idmap;
	gid_t groups[GF_MAX_GROUPS];
	int n, i;

	cr->uid = ctx->uid;
	cr->gid = ctx->gid;
	cr->ngroups = 0;
	/* root passes every check; reading /proc for its groups is waste */
	if (ctx->uid == 0) {
		cr->gid = gf_idmap_gid_out(idm, cr->gid); /* owner of what it creates */
		return;
	}
	n = fuse_req_getgroups(req, GF_MAX_GROUPS, groups);
	if (n > GF_MAX_GROUPS)
		n = GF_MAX_GROUPS;
	for (i = 0; i < n; i++)
		cr->groups[i] = groups[i];
	cr->ngroups = n > 0 ? (uint32_t)n : 0;
	gf_idmap_cred_out(idm, cr);
}

/*
 * The caller's umask: with POSIX ACLs on, the kernel leaves it to the file
 * system (gfmd applies it unless the parent has a default ACL); without,
 * the mode arrives masked already and applying it again changes nothing.
 */
static uint32_t umask_of(fuse_req_t req)
{
	return (uint32_t)fuse_req_ctx(req)->umask & 0777;
}

/*
 * An operation on an inode gfmd no longer has (another client removed or
 * replaced the file since the kernel looked its name up): ESTALE, not
 * ENOENT, so the kernel looks the name up again and retries once, as it
 * does for NFS — after a rename over the name, that finds the new file.
 */
static int stale(int r)
{
	return r == -ENOENT ? -ESTALE : r;
}

static int check_name(const char *name)
{
	return strlen(name) > GF_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* A file this client writes: what it wrote counts before it is flushed. */
static int merge_writer(struct gf_attr *a)
{
	uint64_t wend;
	struct gf_timespec mtime;
	int have_mtime;

	if (!S_ISREG(a->mode) || !gf_files_writer_attr(a->ino, &wend, &mtime, &have_mtime))
		return 0;
	if (wend > a->size)
		a->size = wend;
	if (have_mtime) {
		a->mtime = mtime;
		a->ctime = mtime;
	}
	return 1;
}

/*
 * The size, mtime and atime this client last told the kernel for a file, per
 * inode (a lossy table: a collision forgets, which only costs what the
 * fix is for). The kernel reads up to the size it was told; another
 * mount's writer may have grown the file since a handle was opened, and
 * the read must reach that new end (pread past the old size, mmap of the
 * grown part) instead of stopping at the size the handle saw at open. An
 * open compares gfmd's size and mtime with these (open_attrs).
 */
#define SEEN_SLOTS 4096
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t ino, size;
	struct gf_timespec mtime, atime;
} seen[SEEN_SLOTS];

static size_t seen_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 40) % SEEN_SLOTS;
}

static void note_seen(const struct gf_attr *a)
{
	size_t i = seen_slot(a->ino);
	pthread_mutex_lock(&seen_lock);
	seen[i].ino = a->ino;
	seen[i].size = a->size;
	seen[i].mtime = a->mtime;
	seen[i].atime = a->atime;
	pthread_mutex_unlock(&seen_lock);
}

static int seen_size(uint64_t ino, uint64_t *size)
{
	pthread_mutex_lock(&seen_lock);
	int yes = seen[seen_slot(ino)].ino == ino;
	if (yes)
		*size = seen[seen_slot(ino)].size;
	pthread_mutex_unlock(&seen_lock);
	return yes;
}

/* 1 when a's size, mtime and atime are what the kernel was last told
 * (known); gfmd moves the atime at a read open (relatime). */
static int seen_same(const struct gf_attr *a)
{
	size_t i = seen_slot(a->ino);
	pthread_mutex_lock(&seen_lock);
	int yes = seen[i].ino == a->ino && seen[i].size == a->size &&
		  seen[i].mtime.sec == a->mtime.sec && seen[i].mtime.nsec == a->mtime.nsec &&
		  seen[i].atime.sec == a->atime.sec && seen[i].atime.nsec == a->atime.nsec;
	pthread_mutex_unlock(&seen_lock);
	return yes;
}

/*
 * Close-to-open without re-reading what did not change (as NFS does with
 * its change attribute; cachever.h): an open keeps the kernel's pages of a
 * file when they are of the file's version now. Every write open ends a
 * generation (gfmd makes a new one), so another mount's writes, once
 * closed, always make the next open here drop the pages. Writes through
 * this mount's page cache keep it right (whenever their RELEASE comes: it
 * may come after a reader's open); a handle that bypasses it (O_DIRECT,
 * O_APPEND's direct I/O) forgets the file's version at open and again at
 * release, so the next open drops the pages. What this mount wrote as the
 * file's only writer stays cached (keep_written). Every attribute given to
 * the kernel is tested against the cached version (no writer here: its
 * own writes are the file), and stale pages are dropped.
 */
static void drop_if_stale(struct gf_fs *fs, const struct gf_attr *a)
{
	if (cachever_stale(a))
		cachever_drop(fs->se, a->ino);
}

/* Owners come from gfmd as global ids: shown as this node's (lib/idmap.h). */
static void attr_to_stat(struct gf_fs *fs, struct gf_attr *a, struct stat *st)
{
	int writing = merge_writer(a);
	if (S_ISREG(a->mode)) {
		note_seen(a);
		if (!writing)
			drop_if_stale(fs, a);
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = gf_idmap_uid_in(fs->idmap, a->uid);
	st->st_gid = gf_idmap_gid_in(fs->idmap, a->gid);
	st->st_size = (off_t)a->size;
	st->st_rdev = (dev_t)a->rdev;
	st->st_blksize = 65536;
	/* a regular file: what its replica takes on disk, as its last writer
	 * saw it (a sparse file takes less than its size) */
	st->st_blocks = (blkcnt_t)(S_ISREG(a->mode) ? a->blocks : (a->size + 511) / 512);
	st->st_atim.tv_sec = a->atime.sec;
	st->st_atim.tv_nsec = a->atime.nsec;
	st->st_mtim.tv_sec = a->mtime.sec;
	st->st_mtim.tv_nsec = a->mtime.nsec;
	st->st_ctim.tv_sec = a->ctime.sec;
	st->st_ctim.tv_nsec = a->ctime.nsec;
}

static void fill_entry(struct gf_fs *fs, struct gf_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 0;
	attr_to_stat(fs, a, &e->attr);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
}

static void reply_entry(fuse_req_t req, int r, struct gf_attr *a)
{
	struct fuse_entry_param e;

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fill_entry(fs_of(req), a, &e);
	fuse_reply_entry(req, &e);
}

/* ---- session ---------------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	count_request();
	conn->max_write = GF_MAX_IO;
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want |= FUSE_CAP_SPLICE_READ;
	/* a reply spliced to /dev/fuse would not reach a request that came
	 * over io_uring (uring.h) */
	if ((conn->capable & FUSE_CAP_SPLICE_WRITE) && !gf_uring_agreed())
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* sizes are the writer's own until flushed; the kernel must not
	 * cache writes behind our back */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* which cached pages are stale is the mount's to say (drop_if_stale):
	 * the kernel's mtime test would drop what this mount just wrote */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* clearing setuid/setgid on write, truncate and chown is ours (gfmd
	 * and kill_suid below): the kernel would ask for it as a chmod, which
	 * gfmd refuses to anyone but the owner */
	if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV)
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
	/* POSIX ACLs: gfmd keeps and enforces them; the kernel checks them too
	 * (with default_permissions) and hands us the umask to apply */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) && !((struct gf_fs *)userdata)->no_kernel_checks)
		conn->want |= FUSE_CAP_POSIX_ACL;
	if (conn->capable & FUSE_CAP_DONT_MASK)
		conn->want |= FUSE_CAP_DONT_MASK;
	/* fcntl and flock locks that every mount sees (gfmd/locks.h) */
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
}

/* ---- names -------------------------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_request();
	struct gf_fs *fs = fs_of(req);
	struct gf_cred cr;
	struct gf_attr a;
	struct fuse_entry_param e;
	int r;

	if ((r = check_name(name)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	cred_of(req, &cr);
	/* (a lease answers for names only where the kernel checked the
	 * directory's search permission before asking: dirlease.h) */
	if (fs->kernel_checks && gf_dirlease_absent(&cr, parent, name)) {
		memset(&e, 0, sizeof(e));
		e.ino = 0;
		e.entry_timeout = fs->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	uint64_t cookie = gf_attrcache_begin();
	r = gfc_lookup(fs->gfc, &cr, parent, name, &a);
	if (r == 0) /* what the kernel now knows of it: a GETATTR of it must
		     * never be answered with older attributes than these */
		gf_attrcache_put_attr(cookie, &a);
	if (r == -ENOENT) {
		if (fs->kernel_checks)
			gf_dirlease_missed(&cr, parent);
		/* a negative entry, cached like a positive one */
		memset(&e, 0, sizeof(e));
		e.ino = 0;
		e.entry_timeout = fs->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, r, &a);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	count_request();
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	count_request();
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request();
	struct gf_fs *fs = fs_of(req);
	struct gf_cred cr;
	struct gf_attr a;
	struct stat st;
	double left;
	int r;

	/* a directory's, or a file's while this mount has it open (FUSE asks
	 * after each WRITE, merge_writer showing the writer's size and mtime,
	 * and after an open whose reply moved the atime: open_attrs); others
	 * are asked at gfmd, as before (attrcache.h) */
	if (gf_attrcache_get(ino, &a, &left) && (S_ISDIR(a.mode) || gf_files_is_open(a.ino))) {
		attr_to_stat(fs, &a, &st);
		fuse_reply_attr(req, &st, left);
		return;
	}
	cred_of(req, &cr);
	uint64_t cookie = gf_attrcache_begin();
	r = gfc_getattr(fs->gfc, &cr, ino, &a);
	if (r == 0)
		gf_attrcache_put_attr(cookie, &a);
	if (r == -ENOENT && gf_files_open_attr(ino, &a)) {
		/* unlinked while open (fstat comes without fi): gfmd forgot it,
		 * this client's open handle has not */
		a.nlink = 0;
		r = 0;
	}
	r = stale(r);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	attr_to_stat(fs, &a, &st);
	fuse_reply_attr(req, &st, fs->attr_timeout);
}

static int ensure_data(struct gf_fs *fs, struct gf_file *f);
static int hold_data(struct gf_fs *fs, struct gf_file *f);

/*
 * The replica a truncate of ino cuts, opened for writing before gfmd hears
 * of the new size (gfsd first cuts away whatever a crashed writer left
 * beyond gfmd's size, gfsd/service.h, so growing the file can never bring
 * such bytes back): f's own when it is open for writing (*h = &f->data),
 * else a new handle in tmp (*h = tmp). *h stays NULL for a file with no
 * replica to cut (not a regular file; gfmd will say why). *opened: gfmd
 * opened the file for writing for this (GFM_RELEASE it when done).
 */
static int truncate_open(struct gf_fs *fs, const struct gf_cred *cr, uint64_t ino,
			 uint64_t size, struct gf_file *f, struct gfc_data *tmp,
			 struct gfc_data **h, int *opened, uint64_t *cur)
{
	struct gfm_open_rep *o;
	uint32_t dflags = GFS_O_WRITE;
	int r;

	*h = NULL;
	*opened = 0;
	*cur = 0;
	if (f && f->writable && (size > 0 || __atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE))) {
		r = ensure_data(fs, f);
		if (r == 0)
			*h = &f->data;
		pthread_mutex_lock(&f->lock);
		*cur = f->size;
		pthread_mutex_unlock(&f->lock);
		return r;
	}
	if (f && f->writable) {
		/* cut to 0 by a writer that has not opened its replica: make
		 * none if there is none (lazy replicas) */
		r = gfc_data_open(fs->gfc, &f->wrep, ino, GFS_O_WRITE, tmp);
		if (r == 0)
			*h = tmp;
		return r == -ENOENT ? 0 : r;
	}
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	r = gfc_open(fs->gfc, cr, ino, O_WRONLY, o);
	*opened = r == 0 && S_ISREG(o->attr.mode);
	if (r < 0 || o->nreplicas == 0)
		goto out;
	/* a missing replica file is the empty file's (lazy replicas): made
	 * only when an empty file grows; cut to 0, nothing needs it; else the
	 * file's data is lost */
	if (o->attr.size == 0 && size > 0)
		dflags |= GFS_O_CREATE;
	*cur = o->attr.size;
	r = gfc_data_open(fs->gfc, &o->replicas[0], ino, dflags, tmp);
	if (r == -ENOENT)
		r = size == 0 ? 0 : -EIO;
	else if (r == 0)
		*h = tmp;
out:
	free(o);
	return r;
}

/* fn(h, arg) on the replica h of a truncate: f's own handle is held again
 * first (a close of another descriptor may have closed it since). */
static int on_replica(struct gf_fs *fs, struct gf_file *f, struct gfc_data *h,
		      int (*fn)(struct gfc_data *, uint64_t *), uint64_t *arg)
{
	if (!(f && h == &f->data))
		return fn(h, arg);
	int r = hold_data(fs, f);
	if (r == 0) {
		pthread_mutex_lock(&f->lock);
		r = fn(h, arg);
		pthread_mutex_unlock(&f->lock);
		pthread_rwlock_unlock(&f->data_lock);
	}
	return r;
}

static int truncate_to(struct gfc_data *h, uint64_t *size)
{
	return gfc_data_truncate(h, *size);
}

/* The replica's own size now (gfmd's, or the handle's, may be behind a
 * writer's). */
static int size_of(struct gfc_data *h, uint64_t *size)
{
	uint64_t blocks;
	return gfc_data_fstat(h, size, &blocks);
}

/* Cut (or grow) the replica h of a truncate to size. */
static int cut_replica(struct gf_fs *fs, struct gf_file *f, struct gfc_data *h, uint64_t size)
{
	return on_replica(fs, f, h, truncate_to, &size);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	count_request();
	gf_attrcache_forget(ino);
	uint64_t cookie = gf_attrcache_begin();
	struct gf_fs *fs = fs_of(req);
	struct gf_file *f = fi ? (struct gf_file *)(uintptr_t)fi->fh : NULL;
	struct gfm_setattr_req m;
	struct gfc_data tmp, *h = NULL;
	int opened = 0, grown = 0;
	uint64_t cur = 0;
	struct gf_attr a;
	struct stat st;
	int r;

	memset(&m, 0, sizeof(m));
	cred_of(req, &m.cred);
	m.ino = ino;
	if (to_set & FUSE_SET_ATTR_MODE) {
		m.valid |= GF_SET_MODE;
		m.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		m.valid |= GF_SET_UID;
		m.uid = gf_idmap_uid_out(fs->idmap, attr->st_uid);
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		m.valid |= GF_SET_GID;
		m.gid = gf_idmap_gid_out(fs->idmap, attr->st_gid);
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		m.valid |= GF_SET_SIZE;
		m.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		m.valid |= GF_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		m.valid |= GF_SET_ATIME;
		m.atime.sec = attr->st_atim.tv_sec;
		m.atime.nsec = (uint32_t)attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		m.valid |= GF_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		m.valid |= GF_SET_MTIME;
		m.mtime.sec = attr->st_mtim.tv_sec;
		m.mtime.nsec = (uint32_t)attr->st_mtim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		m.valid |= GF_SET_CTIME;
		m.ctime.sec = attr->st_ctim.tv_sec;
		m.ctime.nsec = (uint32_t)attr->st_ctim.tv_nsec;
	}

	/*
	 * A truncate opens the replica first, then changes gfmd's size, then
	 * cuts: refused by gfmd, it has changed nothing that anyone can see.
	 */
	if (m.valid & GF_SET_SIZE) {
		r = stale(truncate_open(fs, &m.cred, ino, m.size, f, &tmp, &h, &opened, &cur));
		/* growing past the replica's own end: the replica first, so
		 * that a size its file system refuses (EFBIG) leaves gfmd's
		 * size as it was (this only adds zeros: cur becomes the
		 * replica's end, where a refusal by gfmd cuts it back) */
		uint64_t rs;
		if (r == 0 && h && m.size > cur && (r = on_replica(fs, f, h, size_of, &rs)) == 0 &&
		    m.size > rs) {
			cur = rs;
			if ((r = cut_replica(fs, f, h, m.size)) == 0)
				grown = 1;
		}
		if (r < 0) {
			if (h == &tmp)
				(void)gfc_data_close(&tmp);
			if (opened)
				gfc_release(fs->gfc, &m.cred, ino);
			fuse_reply_err(req, -r);
			return;
		}
		if (f && f->writable)
			m.valid |= GF_SET_SIZE_FH; /* ftruncate: no permission check */
	}
	if (m.valid & (GF_SET_MTIME | GF_SET_MTIME_NOW))
		gf_files_mtime_set(ino); /* tar, cp -p: it stays after close */
	if (m.valid == 0)
		m.valid = GF_SET_TOUCH; /* what the kernel sends for chown(-1, -1) */
	r = gfc_setattr(fs->gfc, &m, &a);
	if (r == -ENOENT && f && f->writable && h &&
	    (m.valid & ~(uint32_t)(GF_SET_SIZE | GF_SET_SIZE_FH)) == 0 &&
	    gf_files_open_attr(ino, &a)) {
		/* ftruncate of a file unlinked while open: gfmd has forgotten
		 * it, nobody else can reach it; its replica is cut below */
		a.nlink = 0;
		r = 0;
	}
	r = stale(r);
	if (r < 0 && grown)
		(void)cut_replica(fs, f, h, cur); /* gfmd refused: as it was */
	if (r == 0 && h) {
		r = cut_replica(fs, f, h, m.size);
		if (r == 0) {
			gf_files_truncated(ino, m.size);
			a.size = m.size;
		} else {
			gf_warn("truncate of inode %llu to %llu: gfmd has the new size but "
				"the replica was not cut: %s", (unsigned long long)ino,
				(unsigned long long)m.size, strerror(-r));
		}
	}
	if (h == &tmp && gfc_data_close(&tmp) < 0 && r == 0)
		r = -EIO;
	if (opened)
		gfc_release(fs->gfc, &m.cred, ino); /* the file may be copied again */
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (a.nlink > 0)
		gf_attrcache_put_attr(cookie, &a);
	attr_to_stat(fs, &a, &st);
	fuse_reply_attr(req, &st, fs->attr_timeout);
}

/*
 * A listing's start or a readlink that gfmd answered: it moves the atime
 * as relatime says (gfmd/namespace.c accessed), which the attributes the
 * kernel holds do not show. They are dropped (offset -1: attributes only,
 * no lock taken, safe in a handler), so the next stat asks gfmd.
 */
static void accessed(struct gf_fs *fs, fuse_ino_t ino)
{
	gf_attrcache_forget(ino);
	if (fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	count_request();
	struct gf_cred cr;
	char *target;
	int r;

	target = malloc(GF_PATH_MAX);
	if (!target) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	cred_of(req, &cr);
	r = stale(gfc_readlink(fs_of(req)->gfc, &cr, ino, target));
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		accessed(fs_of(req), ino); /* gfmd may have moved its atime */
		fuse_reply_readlink(req, target);
	}
	free(target);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	count_request();
	gf_attrcache_forget(parent);
	struct gf_cred cr;
	struct gf_attr a;
	int r;

	if ((r = check_name(name)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISCHR(mode) &&
	    !S_ISBLK(mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cred_of(req, &cr);
	uint64_t cookie = gf_attrcache_begin();
	r = gfc_mknod(fs_of(req)->gfc, &cr, parent, name, mode, rdev, umask_of(req), &a);
	if (r == 0)
		gf_attrcache_put_attr(cookie, &a);
	if (r == 0 || r == -EEXIST)
		gf_dirlease_added(parent, name);
	reply_entry(req, r, &a);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	count_request();
	gf_attrcache_forget(parent);
	struct gf_cred cr;
	struct gf_attr a;
	int r;

	if ((r = check_name(name)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	cred_of(req, &cr);
	uint64_t cookie = gf_attrcache_begin();
	r = gfc_mkdir(fs_of(req)->gfc, &cr, parent, name, S_IFDIR | (mode & 07777),
		      umask_of(req), &a);
	if (r == 0)
		gf_attrcache_put_attr(cookie, &a);
	if (r == 0 || r == -EEXIST)
		gf_dirlease_added(parent, name);
	reply_entry(req, r, &a);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_request();
	gf_attrcache_forget(parent);
	gf_attrcache_forget_all(); /* the named inode's link count and ctime */
	struct gf_cred cr;
	int r;

	if ((r = check_name(name)) == 0) {
		cred_of(req, &cr);
		r = gfc_unlink(fs_of(req)->gfc, &cr, parent, name);
	}
	fuse_reply_err(req, -r);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_request();
	gf_attrcache_forget(parent);
	gf_attrcache_forget_all(); /* the named directory */
	struct gf_cred cr;
	int r;

	if ((r = check_name(name)) == 0) {
		cred_of(req, &cr);
		r = gfc_rmdir(fs_of(req)->gfc, &cr, parent, name);
	}
	fuse_reply_err(req, -r);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	count_request();
	gf_attrcache_forget(parent);
	struct gf_cred cr;
	struct gf_attr a;
	int r;

	if ((r = check_name(name)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (strlen(link) >= GF_PATH_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	cred_of(req, &cr);
	uint64_t cookie = gf_attrcache_begin();
	r = gfc_symlink(fs_of(req)->gfc, &cr, parent, name, link, &a);
	if (r == 0)
		gf_attrcache_put_attr(cookie, &a);
	if (r == 0 || r == -EEXIST)
		gf_dirlease_added(parent, name);
	reply_entry(req, r, &a);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	count_request();
	gf_attrcache_forget(parent);
	gf_attrcache_forget(newparent);
	gf_attrcache_forget_all(); /* the moved inode's ctime, a replaced one's links */
	struct gf_cred cr;
	int r;

	if ((r = check_name(name)) == 0 && (r = check_name(newname)) == 0) {
		cred_of(req, &cr);
		r = gfc_rename(fs_of(req)->gfc, &cr, parent, name, newparent, newname,
			       flags);
		if (r == 0 || r == -EEXIST)
			gf_dirlease_added(newparent, newname);
	}
	fuse_reply_err(req, -r);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	count_request();
	gf_attrcache_forget(newparent);
	gf_attrcache_forget(ino); /* its link count and ctime */
	struct gf_cred cr;
	struct gf_attr a;
	int r;

	if ((r = check_name(newname)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	cred_of(req, &cr);
	uint64_t cookie = gf_attrcache_begin();
	r = gfc_link(fs_of(req)->gfc, &cr, ino, newparent, newname, &a);
	if (r == 0)
		gf_attrcache_put_attr(cookie, &a);
	if (r == 0 || r == -EEXIST)
		gf_dirlease_added(newparent, newname);
	reply_entry(req, r, &a);
}

/* ---- files ---------------------------------------------------------------------- */

static uint32_t data_flags(int flags)
{
	uint32_t d = 0;

	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		d = GFS_O_READ;
		break;
	case O_WRONLY:
		d = GFS_O_WRITE | GFS_O_CREATE;
		break;
	default:
		d = GFS_O_READ | GFS_O_WRITE | GFS_O_CREATE;
		break;
	}
	if ((flags & O_TRUNC) && (d & GFS_O_WRITE))
		d |= GFS_O_TRUNC;
	if ((flags & O_APPEND) && (d & GFS_O_WRITE))
		d |= GFS_O_APPEND; /* at the replica's real end, whoever wrote last */
	return d;
}

/*
 * Open the data of o for f. Writers get the one replica gfmd named (the
 * client library waits for its gfsd); readers prefer this host's replica
 * and move on to the next when a gfsd fails. A file with no replica (or
 * whose replica was never written) reads as empty if gfmd says its size is
 * 0. -EHOSTDOWN: no gfsd holding a replica could be reached (open_reader
 * waits then).
 */
static int open_data(struct gf_fs *fs, struct gf_file *f, const struct gfm_open_rep *o,
		     uint32_t dflags)
{
	const char *me = gfc_hostname(fs->gfc);
	uint32_t i, n = o->nreplicas, first = 0, k;
	int r = -EIO, answered = 0, answer = -EIO;

	if (n == 0)
		return o->attr.size == 0 && !(dflags & GFS_O_WRITE) ? 0 : -EIO;
	if (dflags & GFS_O_WRITE)
		n = 1;
	else
		for (i = 0; i < n; i++)
			if (strcmp(o->replicas[i].host, me) == 0) {
				first = i;
				break;
			}
	for (k = 0; k < n; k++) {
		const struct gf_replica *rp = &o->replicas[(first + k) % n];
		uint32_t b;

		for (b = 0; b < f->nbad && f->bad_fgen[b] != rp->fgen; b++)
			;
		if (b < f->nbad) {
			answered = 1; /* it failed its checksum: no other is left */
			continue;
		}
		r = gfc_data_open(fs->gfc, rp, f->ino, dflags, &f->data);
		if (r == 0) {
			f->fgen = rp->fgen;
			__atomic_store_n(&f->has_data, 1, __ATOMIC_RELEASE);
			return 0;
		}
		if (r == -ENOENT && o->attr.size == 0 && !(dflags & GFS_O_WRITE))
			return 0;
		if (r != -EHOSTDOWN) {
			answered = 1;
			answer = r;
		}
		gf_warn("inode %llu: replica on %s (%s:%u) unusable: %s",
			(unsigned long long)f->ino, rp->host, rp->addr, rp->port,
			r == -EHOSTDOWN ? "its gfsd does not answer" : strerror(-r));
	}
	if (!answered)
		return -EHOSTDOWN;
	/* a file with data whose replica file is gone: an I/O error, never
	 * "no such file" for a file that exists */
	return answer == -ENOENT || answer == -EHOSTDOWN ? -EIO : answer;
}

/*
 * A reader opens some replica of f: from o (NULL: ask gfmd), and while no
 * gfsd holding one can be reached, asks gfmd again and again after a pause
 * (gfc_wait_gfsd: for ever on a hard mount, gfsd_timeout on a soft one,
 * then EIO). w paces the waiting; NULL: a new wait starts here.
 */
static int open_reader(struct gf_fs *fs, struct gf_file *f, const struct gfm_open_rep *o,
		       struct gfc_wait *w)
{
	struct gfm_open_rep *mine = NULL;
	struct gfc_wait own;
	int r, logged = 0;

	if (!w) {
		gfc_wait_start(fs->gfc, &own);
		w = &own;
	}
	for (;;) {
		if (!o) {
			if (!mine && !(mine = malloc(sizeof(*mine))))
				return -ENOMEM;
			r = gfc_open(fs->gfc, &f->cred, f->ino, O_RDONLY, mine);
			if (r < 0)
				break;
			o = mine;
		}
		r = open_data(fs, f, o, GFS_O_READ);
		if (r != -EHOSTDOWN)
			break;
		if (!logged++)
			gf_warn("inode %llu: no gfsd holding a replica answers; still trying",
				(unsigned long long)f->ino);
		if (gfc_wait_gfsd(w, "reading") < 0) {
			r = -EIO;
			break;
		}
		o = NULL; /* where are they now? */
	}
	if (r == 0 && logged)
		gf_warn("inode %llu: a replica answers again", (unsigned long long)f->ino);
	free(mine);
	return r == -EHOSTDOWN ? -EIO : r;
}

/*
 * A writer whose close waited for the copies (ncopy_wait) writes again: it
 * opens the file for writing at gfmd again, as at open(2) (a new generation:
 * the copies made meanwhile become stale, never served), and goes on with
 * the replica gfmd names now. f->data_lock held exclusively.
 */
static int rejoin_writers(struct gf_fs *fs, struct gf_file *f)
{
	struct gfm_open_rep *o = malloc(sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	gf_attrcache_forget(f->ino);
	r = gfc_open(fs->gfc, &f->cred, f->ino, f->append ? O_WRONLY | O_APPEND : O_WRONLY, o);
	if (r == 0 && o->nreplicas == 0) {
		gfc_release(fs->gfc, &f->cred, f->ino);
		r = -EIO;
	}
	if (r == 0) {
		f->wrep = o->replicas[0];
		f->fgen = f->wrep.fgen;
		f->dflags &= ~(uint32_t)GFS_O_TRUNC;
		if (o->attr.size > 0)
			f->dflags &= ~(uint32_t)GFS_O_CREATE;
		f->gfm_writer = 1;
		f->released = 0;
	}
	free(o);
	return r;
}

/*
 * Open f's data now if it is not open yet (files.h: lazy replicas). The
 * caller must not hold f->data_lock. 0 (has_data may still be 0 for a
 * reader of an empty file) or -errno.
 */
static int ensure_data(struct gf_fs *fs, struct gf_file *f)
{
	int r = 0;

	if (__atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE))
		return 0;
	pthread_rwlock_wrlock(&f->data_lock);
	if (f->has_data)
		goto out;
	if (f->writable) {
		if (f->released && (r = rejoin_writers(fs, f)) < 0)
			goto out;
		r = gfc_data_open(fs->gfc, &f->wrep, f->ino, f->dflags, &f->data);
		if (r == 0) {
			__atomic_store_n(&f->has_data, 1, __ATOMIC_RELEASE);
		} else {
			gf_warn("inode %llu: replica on %s (%s:%u) unusable: %s",
				(unsigned long long)f->ino, f->wrep.host, f->wrep.addr,
				f->wrep.port, strerror(-r));
			if (r == -ENOENT) /* data that should be there is not */
				r = -EIO;
		}
		goto out;
	}
	/* a reader that saw an empty file: where is the data now? */
	r = open_reader(fs, f, NULL, NULL);
out:
	pthread_rwlock_unlock(&f->data_lock);
	return r;
}

/*
 * Writer f's replica open and kept so: f->data_lock read-locked with
 * has_data set, for a request that uses f->data (unlock the lock when
 * done). A close of another descriptor of the same open file (a dup, or a
 * child's inherited copy closed at its exec) may close the replica
 * meanwhile (wait_copies); the lock makes it wait for the request, and a
 * replica closed before it is opened again. Writers only (a reader of an
 * empty file may have no data). 0 or -errno.
 */
static int hold_data(struct gf_fs *fs, struct gf_file *f)
{
	for (;;) {
		int r = ensure_data(fs, f);

		if (r < 0)
			return r;
		pthread_rwlock_rdlock(&f->data_lock);
		if (f->has_data)
			return 0;
		pthread_rwlock_unlock(&f->data_lock);
	}
}

/*
 * Builds the handle for an open/create reply o; is_new: gfmd created the
 * file for this call. Writers open their replica lazily (ensure_data),
 * except that an O_TRUNC open of an existing file cuts the replica now (it
 * may hold data that gfmd's size no longer covers). A reader of a file with
 * data opens it now, so that a missing replica is an error at open; one of
 * an empty file never contacts gfsd unless a read needs data.
 */
static int make_file(struct gf_fs *fs, const struct gf_cred *cr,
		     const struct gfm_open_rep *o, int flags, int is_new,
		     struct gf_file **out)
{
	int writable = (flags & O_ACCMODE) != O_RDONLY;
	uint32_t dflags = data_flags(flags);
	struct gf_file *f;
	int r = 0;

	/*
	 * A replica may be created only where no data is lost by it: for an
	 * empty or truncated file. Otherwise a missing replica is an error,
	 * not a silent empty file.
	 */
	if (o->attr.size > 0 && !(flags & O_TRUNC))
		dflags &= ~(uint32_t)GFS_O_CREATE;
	if (is_new)
		dflags &= ~(uint32_t)GFS_O_TRUNC; /* nothing there to cut */

	f = gf_file_new(o->attr.ino, 0, writable, cr);
	if (!f)
		return -ENOMEM;
	f->size = o->attr.size;
	f->attr = o->attr;
	f->gfm_writer = writable || (flags & O_TRUNC);
	f->append = writable && (flags & O_APPEND);
	f->sole = writable && o->writers == 1;
	if (writable) {
		if (o->nreplicas == 0) {
			r = -EIO; /* gfmd found nowhere to write */
		} else {
			f->wrep = o->replicas[0];
			f->fgen = f->wrep.fgen;
			f->dflags = dflags;
			/* a write by someone else than root clears setuid/setgid
			 * (gfmd knows which: setgid only if group-executable
			 * or the writer is not in the file's group) */
			f->kill_suid = cr->uid != 0 && (o->attr.mode & (S_ISUID | S_ISGID));
			if (dflags & GFS_O_TRUNC)
				r = ensure_data(fs, f);
		}
	} else if (o->attr.size > 0) {
		r = open_reader(fs, f, o, NULL);
	}
	if (r < 0) {
		if (f->has_data)
			gfc_data_close(&f->data);
		if (f->gfm_writer)
			gfc_release(fs->gfc, cr, f->ino);
		gf_file_free(f);
		return r;
	}
	/* (O_TRUNC: gfmd already committed size 0 and the times with the open;
	 * this mount's other handles of the file must not keep, and publish,
	 * the size and end of writing they had) */
	if ((flags & O_TRUNC) && !is_new)
		gf_files_truncated(f->ino, 0);
	gf_files_add(f);
	*out = f;
	return 0;
}

/* Undo an open the kernel will not see (made by make_file). */
static void drop_file(struct gf_fs *fs, struct gf_file *f)
{
	if (f->has_data)
		gfc_data_close(&f->data);
	if (f->gfm_writer)
		gfc_release(fs->gfc, &f->cred, f->ino);
	gf_file_free(f);
}

/*
 * Close-to-open for the attributes too: the kernel reads up to the size it
 * cached and shows the mtime it cached, for attr_timeout, whatever an open
 * learnt from gfmd since; and a read served from its page cache sends no
 * READ, whose atime update is what otherwise made it ask again. So when
 * gfmd's size, mtime or atime at this open are not what the kernel was last told
 * (or that is forgotten), its cached attributes are dropped before the
 * open's reply: it asks for them at the next stat or read past the old
 * end. Attributes only (offset -1): that takes no page lock, so it is safe
 * in a request handler, unlike dropping pages (cachever.h).
 */
static void open_attrs(struct gf_fs *fs, const struct gf_attr *attr)
{
	struct gf_attr a = *attr;

	if (!S_ISREG(a.mode))
		return;
	merge_writer(&a); /* as attr_to_stat would show it */
	if (!seen_same(&a))
		(void)fuse_lowlevel_notify_inval_inode(fs->se, a.ino, -1, 0);
}

/* A handle that reads and writes around the page cache. */
static int bypasses_cache(const struct gf_file *f, int flags)
{
	return f->append || (flags & O_DIRECT);
}

static void set_fi(struct fuse_file_info *fi, struct gf_file *f)
{
	fi->fh = (uint64_t)(uintptr_t)f;
	/* close-to-open: drop cached pages on open, unless unchanged (a
	 * passthrough open uses none: what is cached is of before it) */
	if (bypasses_cache(f, fi->flags) || f->writable || f->pt_id) {
		cachever_forget(f->ino);
		/* (the kernel refuses FOPEN_KEEP_CACHE with passthrough: its
		 * open drops the FUSE pages; see drop_behind) */
		fi->keep_cache = 0;
	} else {
		fi->keep_cache = cachever_open(&f->attr);
	}
	/* O_APPEND: the kernel writes at the end it knows, which another
	 * mount's appends may have moved; gfsd writes at the real one, and
	 * the kernel's page cache must not keep the bytes where it thought */
	fi->direct_io = f->append;
}

static void nocaps_set(uint64_t ino, double timeout);
static int kill_suid(fuse_req_t req, struct gf_file *f);

static int locked_checked_read(struct gf_file *f, void *buf, size_t len, uint64_t off,
			       size_t *got, int *checked);

#define CHECK_AT_OPEN_MAX (64u << 20)

static struct gf_pin *lock_blocks(struct gf_file *f, uint64_t off, size_t len);
static uint64_t unwritten_opens; /* opens pinned by unwritten_at_open (stats) */

/*
 * A sealed replica's check at open (below) without reading it: f's
 * replica locked whole, then found as a writer through this mount left it
 * and with every page dirty (readpin_unwritten: none of them read from
 * disk since, and the seal computed its sums from those pages), and its
 * sums covering exactly its size. An intermediate file read back at
 * once, DTMSOFT's pattern, so costs its lock and not a copy and a hash (5
 * of the mount's ms for 11.5 MB on this machine). 1 when it is pinned
 * whole now.
 */
static int unwritten_at_open(struct gf_file *f, uint64_t size)
{
	struct gf_pin *pin;
	int ok;

	/* locked before the look: a page cleaned and dropped before the lock
	 * may have come back from disk, and the look sees it clean. (Locked
	 * for nothing when the look fails: the checked reads that follow lock
	 * the same blocks anyway.) */
	if (!gfc_data_sums_cover(&f->data, size) || !(pin = lock_blocks(f, 0, (size_t)size)))
		return 0;
	if ((ok = readpin_unwritten(f->data.fd, f->ino, f->fgen, size))) {
		readpin_verified(pin, 0, (size_t)size);
		__atomic_fetch_add(&unwritten_opens, 1, __ATOMIC_RELAXED);
	}
	readpin_put(pin);
	return ok && readpin_maybe_whole(f->ino, f->fgen);
}

/*
 * A sealed local replica wholly in the page cache (just written and sealed,
 * or read by another process) and small enough: check it whole now, through
 * the same locked, checked reads a READ makes, so that this open can pass
 * through to it. Costs a copy and a checksum pass from memory (0.2-0.3 s a
 * GiB, against 0.7 s of READs), paid at open even by a reader that wants a
 * few bytes: hence the size bound. 1 when it is pinned whole now.
 */
static int check_at_open(struct gf_file *f)
{
	uint64_t size = f->attr.size, off;
	char *buf;
	int ok = 1;

	if (!__atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE) || f->data.fd < 0 ||
	    !readpin_resident(f->data.fd, CHECK_AT_OPEN_MAX) || !gfc_data_checks(&f->data))
		return 0;
	if (unwritten_at_open(f, size))
		return 1;
	if (!(buf = malloc(GF_MAX_IO)))
		return 0;
	for (off = 0; ok && off < size; off += GF_MAX_IO) {
		size_t len = size - off < GF_MAX_IO ? (size_t)(size - off) : GF_MAX_IO, got = 0;
		int checked = 0;

		ok = locked_checked_read(f, buf, len, off, &got, &checked) == 1 && checked &&
		     got == len;
	}
	free(buf);
	return ok && readpin_maybe_whole(f->ino, f->fgen);
}

/*
 * A reader alone on its inode passes through to its local replica when
 * every block of it is checked and locked in memory (readpin.h), or when
 * it has no sums yet (locked whole for it); it holds that pin until its
 * release. Otherwise it reads through the mount.
 */
static int pt_open_reader(struct gf_fs *fs, struct gf_file *f)
{
	int whole = readpin_maybe_whole(f->ino, f->fgen), r;
	struct gf_pin *pin;

	/* pages of this very version that this mount wrote through its own
	 * cache cost nothing to read again: no pin made for them (and none
	 * for a file too small or too large to pin: no look at its replica) */
	if (!whole && (!readpin_fits(f->attr.size) || cachever_written(&f->attr)))
		return 0;
	if (whole || check_at_open(f)) {
		if ((r = ensure_data(fs, f)) < 0)
			return r;
		if (f->data.fd < 0 || !gfc_data_checks(&f->data) ||
		    !(pin = readpin_whole(f->ino, f->fgen, f->data.fd)))
			return 0;
	} else {
		/* a local replica not sealed yet (just written): its reads are
		 * unchecked either way; passed through with every page locked,
		 * none is read from disk once sums exist */
		if (!__atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE) || f->data.fd < 0 ||
		    gfc_data_checks(&f->data) ||
		    !(pin = readpin_unsealed(f->ino, f->fgen, f->data.fd)))
			return 0;
	}
	/* set first: a handle that joins (under the table's lock, once pt_id
	 * is set there) takes its own reference */
	f->pin = pin;
	if ((r = gf_files_pt_join(f, f->data.fd)) < 0 || f->pt_id <= 0) {
		f->pin = NULL;
		readpin_put(pin);
	}
	return r;
}

/*
 * Passthrough for f at its open (passthrough.h, files.h): a writer whose
 * replica is local and which is its inode's only open handle here gets a
 * backing file of its own (its replica, opened now rather than at the
 * first write); any open of an inode that passes through here shares it.
 * Not for appenders, O_DIRECT or a writer that must clear setuid bits (a
 * WRITE request does that) unless they join one, nor with ncopy_wait (a
 * close lets go of the replica while the descriptor may still write).
 */
static int pt_open(fuse_req_t req, struct gf_file *f, int flags)
{
	struct gf_fs *fs = fs_of(req);
	int fd = -1, how, r;

	if (!fs->passthrough || fs->ncopy_wait_s || !gf_pt_enabled())
		return 0;
	how = gf_files_pt_possible(f);
	if (how == GF_PT_NO && !f->writable && readpin_maybe_whole(f->ino, f->fgen))
		how = gf_files_pt_wait_alone(f, 20);
	if (how == GF_PT_ALONE && !f->writable)
		return pt_open_reader(fs, f);
	if (how == GF_PT_NO)
		return 0;
	if (f->writable) {
		/* a replica made only for this would break "no replica file
		 * until there is data": an empty file gets one when opened to
		 * be rewritten (O_TRUNC: shells' >, fopen "w") */
		int own = how == GF_PT_ALONE && !f->append && !(flags & O_DIRECT) &&
			  !f->kill_suid && ((flags & O_TRUNC) || f->attr.size > 0);

		if (how == GF_PT_ALONE && !own)
			return 0;
		/* open now: gfsd counts a writer that joins as one, too */
		if ((r = ensure_data(fs, f)) < 0)
			return r;
		if (own)
			fd = f->data.fd;
	}
	if ((r = gf_files_pt_join(f, fd)) < 0)
		return r;
	/* a joining writer's writes are the kernel's: clear the bits now */
	if (f->pt_writer && __atomic_load_n(&f->kill_suid, __ATOMIC_ACQUIRE))
		return kill_suid(req, f);
	return 0;
}

/* Send an open's reply, with passthrough when f has it; undo the open if
 * the kernel gave up on the request. */
static void reply_opened(fuse_req_t req, struct gf_file *f, struct fuse_file_info *fi,
			 const struct fuse_entry_param *e)
{
	int r;

	if (f->pt_id > 0)
		gf_pt_arm(f->pt_id);
	r = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	gf_pt_disarm();
	if (r != 0)
		drop_file(fs_of(req), f);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	count_request();
	gf_attrcache_forget(parent);
	struct gf_fs *fs = fs_of(req);
	struct gf_cred cr;
	struct gfm_open_rep *o;
	struct gf_file *f;
	struct fuse_entry_param e;
	struct gf_attr a;
	int r, attempt, is_new;

	if ((r = check_name(name)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	o = malloc(sizeof(*o));
	if (!o) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	cred_of(req, &cr);
	uint64_t cookie = gf_attrcache_begin();
	/*
	 * Always ask for a new file (O_EXCL), so that we know whether it is
	 * new: a new file has no replica file to open or cut yet. One that
	 * exists after all (the kernel saw no entry) is opened instead, the
	 * lookup retried if it goes away in between.
	 */
	for (attempt = 0;; attempt++) {
		r = gfc_create(fs->gfc, &cr, parent, name, S_IFREG | (mode & 07777),
			       (uint32_t)fi->flags | O_EXCL, umask_of(req), o);
		is_new = r == 0;
		if (r == 0 || r == -EEXIST)
			gf_dirlease_added(parent, name);
		if (r != -EEXIST || (fi->flags & O_EXCL))
			break;
		r = gfc_lookup(fs->gfc, &cr, parent, name, &a);
		if (r == 0 && !S_ISDIR(a.mode)) {
			gf_attrcache_forget(a.ino); /* (O_TRUNC, a new generation) */
			cookie = gf_attrcache_begin();
		}
		if (r == 0)
			r = S_ISDIR(a.mode) ? -EISDIR
			    : gfc_open(fs->gfc, &cr, a.ino, (uint32_t)fi->flags, o);
		if (r != -ENOENT || attempt >= 3)
			break;
	}
	if (r == 0)
		r = make_file(fs, &cr, o, fi->flags, is_new, &f);
	if (r < 0) {
		free(o);
		fuse_reply_err(req, -r);
		return;
	}
	a = o->attr;
	free(o);
	gf_attrcache_put_attr(cookie, &a);
	/* a file gfmd has just made has no security.capability (it inherits a
	 * default ACL at most): known now, as if asked, so that its first
	 * write(2) costs no gfmd call (nocaps below) */
	if (is_new)
		nocaps_set(a.ino, fs->attr_timeout);
	if ((r = pt_open(req, f, fi->flags)) < 0) {
		drop_file(fs, f);
		fuse_reply_err(req, -r);
		return;
	}
	fill_entry(fs, &a, &e);
	set_fi(fi, f);
	reply_opened(req, f, fi, &e);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request();
	struct gf_fs *fs = fs_of(req);
	struct gf_cred cr;
	struct gfm_open_rep *o;
	struct gf_file *f;
	int r;

	o = malloc(sizeof(*o));
	if (!o) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	cred_of(req, &cr);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		gf_attrcache_forget(ino); /* a new generation, maybe a new size */
	uint64_t cookie = gf_attrcache_begin();
	r = stale(gfc_open(fs->gfc, &cr, ino, (uint32_t)fi->flags, o));
	if (r == 0 && S_ISDIR(o->attr.mode))
		r = -EISDIR;
	if (r == 0) /* (a read open moves the atime: relatime) */
		gf_attrcache_put_attr(cookie, &o->attr);
	if (r == 0)
		r = make_file(fs, &cr, o, fi->flags, 0, &f);
	free(o);
	if (r == 0 && (r = pt_open(req, f, fi->flags)) < 0)
		drop_file(fs, f);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	open_attrs(fs, &f->attr);
	set_fi(fi, f);
	reply_opened(req, f, fi, NULL);
}

/*
 * The size reads are clamped to: the largest of the handle's own, what
 * this client's writers of the file wrote (another descriptor's writes
 * are seen at once, as on a local disk), and the size last told to the
 * kernel (another mount's writes, once its getattr saw them).
 */
static uint64_t read_limit(struct gf_file *f)
{
	uint64_t size, other;
	struct gf_timespec mt;
	int have_mtime;

	pthread_mutex_lock(&f->lock);
	size = f->size;
	pthread_mutex_unlock(&f->lock);
	if (gf_files_writer_attr(f->ino, &other, &mt, &have_mtime) && other > size)
		size = other;
	if (seen_size(f->ino, &other) && other > size)
		size = other;
	return size;
}

/*
 * A reader's gfsd failed (its handle died with the connection, or it
 * stopped answering): open the file's data again, the local replica first,
 * then the others, waiting per hard/soft while none answers (w). Concurrent
 * readers that saw the same failure (same epoch) reopen only once.
 */
static int reopen_reader(struct gf_fs *fs, struct gf_file *f, unsigned epoch,
			 struct gfc_wait *w, int corrupt)
{
	int r = 0;

	pthread_rwlock_wrlock(&f->data_lock);
	if (f->data_epoch != epoch)
		goto out; /* another reader did it */
	if (corrupt && f->nbad < GF_MAX_REPLICAS) {
		f->bad_fgen[f->nbad++] = f->fgen;
		gf_warn("inode %llu: the replica in file generation %#llx is damaged (its data "
			"failed its checksum, or is missing); reading another replica",
			(unsigned long long)f->ino, (unsigned long long)f->fgen);
	}
	if (f->has_data)
		gfc_data_close(&f->data);
	f->has_data = 0;
	f->data_epoch++;
	r = open_reader(fs, f, NULL, w);
	if (r == 0)
		gf_info("inode %llu: reading from another replica handle after a gfsd failure",
			(unsigned long long)f->ino);
out:
	pthread_rwlock_unlock(&f->data_lock);
	return r;
}

/* f's replica is still one of the file's current ones. */
static int replica_current(struct gf_fs *fs, struct gf_file *f)
{
	struct gfm_open_rep *o = malloc(sizeof(*o));
	int yes = 1;

	if (!o || gfc_replicas(fs->gfc, &f->cred, f->ino, o) < 0) {
		free(o);
		return 1; /* cannot tell: the caller's error stands */
	}
	yes = 0;
	for (uint32_t i = 0; i < o->nreplicas; i++)
		if (o->replicas[i].fgen == f->fgen)
			yes = 1;
	free(o);
	return yes;
}

/*
 * The replica ends at `end`, before the size this handle expected. Either
 * the file was cut since (gfmd's size, grown by this client's writers, says
 * so: the read ends there, as after a truncate on a local disk), or the
 * replica lacks data the file has: an error, never zeros that nobody wrote.
 * 0 when the read may end at `end`, 1 with the file's size when that lies
 * beyond, or a negative errno from asking gfmd.
 */
static int short_read(fuse_req_t req, struct gf_file *f, uint64_t end, uint64_t *size)
{
	struct gf_fs *fs = fs_of(req);
	struct gf_attr a;
	int r = gfc_getattr(fs->gfc, &f->cred, f->ino, &a);

	if (r == -ENOENT && gf_files_open_attr(f->ino, &a))
		r = 0; /* unlinked while open: only this client's view is left */
	else if (r == 0)
		merge_writer(&a);
	if (r < 0)
		return r;
	if (end >= a.size) {
		pthread_mutex_lock(&f->lock);
		f->size = a.size;
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	if (!f->writable && !replica_current(fs, f)) {
		/* another mount rewrote the file elsewhere since this handle
		 * opened its replica: this handle reads the file as it was */
		return 0;
	}
	*size = a.size;
	return 1;
}

/* A replica that ends before what the file has written in it is damaged,
 * as one whose data fails its checksum: a reader moves to another replica
 * (EIO when none is left). */
static int missing_data(struct gf_file *f, uint64_t end, uint64_t size)
{
	static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
	gf_log_limited(&rl, GF_LOG_WARN,
		"inode %llu: replica (file generation %llu) ends at byte %llu but the file "
		"has %llu: data missing from the replica",
		(unsigned long long)f->ino, (unsigned long long)f->fgen,
		(unsigned long long)end, (unsigned long long)size);
	return f->writable ? -EIO : -EBADMSG;
}

/*
 * A sequential reader of a replica being pinned (readpin.h): the FUSE pages
 * well behind it are dropped as it goes. The pinned replica holds the same
 * bytes, later opens pass through to it, and the kernel would otherwise
 * drop all of them at that open (a GiB of 4 KiB pages took 0.15 s). A
 * reader that goes back reads them again, from the pin.
 */
#define DROP_BEHIND (16u << 20)
#define SEQ_SLACK (4u << 20)

static void drop_behind(struct gf_fs *fs, struct gf_file *f, uint64_t off, size_t got)
{
	uint64_t prev = __atomic_exchange_n(&f->seq_end, off + got, __ATOMIC_RELAXED);

	/* readahead's requests may arrive a little out of order */
	if (prev <= off + SEQ_SLACK && off <= prev + SEQ_SLACK && off >= DROP_BEHIND)
		cachever_drop_range(fs->se, f->ino, off - DROP_BEHIND, got);
}

/*
 * The pin of reader f's local replica with the blocks of [off, off+len)
 * locked in memory (readpin_lock), or NULL: not a local reader, a replica
 * that cannot be pinned, or refused (read unpinned).
 */
static struct gf_pin *lock_blocks(struct gf_file *f, uint64_t off, size_t len)
{
	return f->data.fd >= 0 && !f->writable && readpin_fits(f->attr.size)
		       ? readpin_lock(f->ino, f->fgen, f->data.fd, off, len)
		       : NULL;
}

/*
 * gfc_data_read_checked of f's replica whose blocks pin (NULL: none) has
 * locked: checked blocks are marked in the pin, and a failed check drops
 * it; the reference is put. 0 or -errno as that read; 1 instead of 0 when
 * there was a pin (it is building).
 */
static int pinned_checked_read(struct gf_file *f, struct gf_pin *pin, void *buf, size_t len,
			       uint64_t off, size_t *got, int *checked)
{
	int r = gfc_data_read_checked(&f->data, buf, len, off, got, checked);

	if (pin) {
		if (r == -EBADMSG)
			readpin_bad(pin);
		else if (r == 0 && *checked)
			readpin_verified(pin, off, *got);
		readpin_put(pin);
		if (r == 0)
			r = 1;
	}
	return r;
}

/* pinned_checked_read with the blocks locked first, when they can be. */
static int locked_checked_read(struct gf_file *f, void *buf, size_t len, uint64_t off,
			       size_t *got, int *checked)
{
	return pinned_checked_read(f, lock_blocks(f, off, len), buf, len, off, got, checked);
}

/*
 * A checked read of a pinned replica where it is mapped: pin has locked
 * the blocks (lock_blocks); they are checked in the mapping, and the reply
 * is written from it, one copy of the bytes (into the FUSE pages) where a
 * pread and a reply from its buffer make two: less of the mount's CPU for
 * a cold read (0.53-0.57 s a GiB against 0.68-0.99 s, two runs). 1 when it
 * replied (pin put); 0: read the usual way, with pin still held (no sums,
 * short, cut short under the mapping, or a block that fails:
 * gfc_data_read_checked has gfsd judge it).
 *
 * A replica cut short between the look at its size and the reply (another
 * mount truncating the file that very moment) makes the kernel's copy of
 * the reply fail: that one READ is EIO, where a read racing a truncate on
 * ext4 is short. (A reply spliced from the replica's fd would be short
 * instead, but costs more than the copy it saves: 1,161 against 1,923
 * MB/s.)
 */
static int mapped_read(fuse_req_t req, struct gf_file *f, struct gf_pin *pin, size_t size,
		       uint64_t off)
{
	struct gf_fs *fs = fs_of(req); /* (req is gone once replied) */
	struct gfc_span sp;
	struct stat st;
	const char *mem;
	int r;

	if (gfc_data_local_sums(&f->data, off, size, &sp) != 0)
		return 0;
	/* (a short read asks gfmd where the file ends: the usual way) */
	mem = sp.e == off + size ? readpin_addr(pin, sp.a, sp.b) : NULL;
	r = mem ? memguard_csum_check(mem, sp.b - sp.a, sp.a / GF_CSUM_BLOCK, sp.want) : -EFAULT;
	free(sp.want);
	if (r == 0 && (fstat(f->data.fd, &st) < 0 || (uint64_t)st.st_size < sp.b))
		r = -EFAULT; /* cut short since the check */
	if (r != 0)
		return 0;
	readpin_verified(pin, off, size);
	gfc_data_account_local(&f->data, size, 0);
	__atomic_fetch_add(&read_mapped_kb, size >> 10, __ATOMIC_RELAXED);
	fuse_reply_buf(req, mem + (off - sp.a), size);
	readpin_put(pin); /* (after the reply: its pages stay locked till then) */
	drop_behind(fs, f, off, size);
	return 1;
}

/* One read through f's current data handle; 1 when it replied. */
static int read_once(fuse_req_t req, struct gf_file *f, size_t size, off_t off,
		     int *err)
{
	uint64_t limit = read_limit(f);
	struct stat st;
	size_t got;
	char *buf;
	int r;

	if (!f->has_data || off < 0 || (uint64_t)off >= limit) {
		fuse_reply_buf(req, NULL, 0);
		return 1;
	}
	if (size > limit - (uint64_t)off)
		size = (size_t)(limit - (uint64_t)off);

	if (f->data.fd >= 0 && !gfc_data_checks(&f->data) && fstat(f->data.fd, &st) == 0 &&
	    (uint64_t)st.st_size >= (uint64_t)off + size) {
		/* local replica without sums to check (a writer's, or unsealed):
		 * let libfuse splice straight from it */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->data.fd;
		bv.buf[0].pos = off;
		gfc_data_account_local(&f->data, size, 0);
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return 1;
	}

	/* locked once, for whichever read serves it */
	struct gf_pin *pin = lock_blocks(f, (uint64_t)off, size);

	if (pin && mapped_read(req, f, pin, size, (uint64_t)off))
		return 1;
	buf = malloc(size);
	if (!buf) {
		readpin_put(pin);
		*err = -ENOMEM;
		return 0;
	}
	int checked = 0;

	r = pinned_checked_read(f, pin, buf, size, (uint64_t)off, &got, &checked);
	if (r == 1) {
		r = 0;
		if (checked)
			drop_behind(fs_of(req), f, (uint64_t)off, got);
	}
	/* A short read asks gfmd where the file ends. An append may land
	 * between the read and that question: every byte a size counts was in
	 * the replica before the size was told, so one more read sees it;
	 * after that, the bytes are missing. */
	for (int look = 0; r == 0 && got < size; look++) {
		uint64_t fsize;
		size_t again;

		if ((r = short_read(req, f, (uint64_t)off + got, &fsize)) != 1)
			break; /* it ends there (0), or gfmd's error */
		if (look > 0) {
			r = missing_data(f, (uint64_t)off + got, fsize);
			break;
		}
		r = gfc_data_read(&f->data, buf, size, (uint64_t)off, &again);
		if (r == 0 && again > got) {
			got = again;
			break;
		}
	}
	if (r < 0) {
		free(buf);
		*err = r;
		return 0;
	}
	fuse_reply_buf(req, buf, got);
	free(buf);
	return 1;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	count_request();
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	int attempt, replied, remote, err = -EIO;
	unsigned epoch;
	struct gfc_wait w;

	/* lazy replicas (files.h): only a read below the size needs data */
	if (!__atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE) && off >= 0 &&
	    (uint64_t)off < read_limit(f) && (err = ensure_data(fs_of(req), f)) < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	err = -EIO;
	for (attempt = 0;; attempt++) {
		pthread_rwlock_rdlock(&f->data_lock);
		epoch = f->data_epoch;
		remote = f->has_data && f->data.fd < 0;
		replied = read_once(req, f, size, off, &err);
		pthread_rwlock_unlock(&f->data_lock);
		if (replied)
			return;
		/* a gfsd that does not answer: another replica, or the same one
		 * once it is back (hard), or EIO after gfsd_timeout (soft). Writers
		 * never move (what they wrote lives on that gfsd only): the client
		 * library waits for their gfsd itself. */
		if (err == -EBADMSG && !f->writable) {
			/* a corrupt replica: another one, never its data */
			if (attempt == 0)
				gfc_wait_start(fs_of(req)->gfc, &w);
			if (attempt > GF_MAX_REPLICAS ||
			    (err = reopen_reader(fs_of(req), f, epoch, &w, 1)) < 0)
				break;
			continue;
		}
		if (err != -EHOSTDOWN || f->writable || !remote)
			break;
		if (attempt == 0)
			gfc_wait_start(fs_of(req)->gfc, &w);
		else if (gfc_wait_gfsd(&w, "reading") < 0)
			break;
		if ((err = reopen_reader(fs_of(req), f, epoch, &w, 0)) < 0)
			break;
	}
	fuse_reply_err(req, err == -EHOSTDOWN || err == -EBADMSG ? EIO : -err);
}

/*
 * A write by anyone but root clears setuid and setgid (if group-executable
 * or the writer is not in the file's group), as on ext4: the kernel leaves
 * that to us (FUSE_CAP_HANDLE_KILLPRIV), and gfmd allows exactly that
 * change to any writer (GF_SET_KILL_SUID).
 */
static int kill_suid(fuse_req_t req, struct gf_file *f)
{
	struct gfm_setattr_req m;
	struct gf_attr a;
	int r;

	memset(&m, 0, sizeof(m));
	cred_of(req, &m.cred);
	if (m.cred.uid == 0)
		return 0;
	m.ino = f->ino;
	m.valid = GF_SET_KILL_SUID;
	gf_attrcache_forget(f->ino);
	r = gfc_setattr(fs_of(req)->gfc, &m, &a);
	if (r == -ENOENT)
		r = 0; /* unlinked meanwhile: nobody can run it */
	if (r == 0) {
		__atomic_store_n(&f->kill_suid, 0, __ATOMIC_RELEASE);
		/* the kernel asked for none of this on a direct_io (O_APPEND)
		 * write: its cached mode must go (attributes only, offset -1) */
		if (fs_of(req)->se)
			(void)fuse_lowlevel_notify_inval_inode(fs_of(req)->se, f->ino, -1, 0);
	}
	return r;
}

/* publish_how's sync: none (flush, close, growth), fsync's, fdatasync's */
enum { PUBLISH_LATER, PUBLISH_FSYNC, PUBLISH_DATASYNC };
static int publish(struct gf_fs *fs, struct gf_file *f, int with_blocks);

/*
 * A writer that keeps its file open (a log, a database) tells gfmd how far
 * it wrote at most every half attribute timeout (0.1 to 1 s) while the file
 * grows, so that other mounts see the growth (tail -f, readers of a shared
 * log) without waiting for its close: at a write when it is due, else from
 * the publisher thread (gf_ops_start), which looks that often. Its data is already written: the size
 * told never covers bytes that are not there. Before the reply (the
 * handle cannot be released meanwhile); a close waits for one in flight.
 */
static uint64_t publish_every_ms(const struct gf_fs *fs)
{
	double half = fs->attr_timeout * 500.0;
	return half < 100 ? 100 : half > 1000 ? 1000 : (uint64_t)half;
}

static void publish_growth(struct gf_fs *fs, struct gf_file *f)
{
	uint64_t every = publish_every_ms(fs);
	uint64_t now = gf_mono_ms();
	int due;

	/* a passthrough writer sends no WRITE to reclaim its handle after
	 * a gfsd restart: this thread does it for it */
	if (f->pt_writer && pthread_rwlock_tryrdlock(&f->data_lock) == 0) {
		if (f->has_data)
			gfc_data_revive(&f->data);
		pthread_rwlock_unlock(&f->data_lock);
	}
	pthread_mutex_lock(&f->lock);
	due = f->wend > f->published_end && now - f->published_ms >= every;
	if (due) {
		f->published_ms = now;
		f->published_end = f->wend;
	}
	pthread_mutex_unlock(&f->lock);
	if (due)
		(void)publish(fs, f, 0); /* a failure is logged; close tells again */
}

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int running, stop;
} publisher = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/*
 * Files held open for reading here are looked at again every attr_timeout
 * (as the kernel's mtime test did at a read once their attributes were
 * stale): another mount's change, even of the same size, drops their
 * pages (drop_if_stale), so a reader that keeps a file open sees it.
 */
#define REVALIDATE_MAX 256
static const struct gf_cred ROOT_CRED = { 0, 0, 0, { 0 } };
static void revalidate_readers(struct gf_fs *fs)
{
	static size_t cursor;
	uint64_t inos[REVALIDATE_MAX];
	size_t n = gf_files_readers(inos, REVALIDATE_MAX, &cursor);

	for (size_t i = 0; i < n; i++) {
		struct gf_attr a;
		uint64_t wend;
		struct gf_timespec mt;
		int have_mtime;
		uint64_t cookie = gf_attrcache_begin();
		if (gfc_getattr(fs->gfc, &ROOT_CRED, inos[i], &a) != 0)
			continue;
		gf_attrcache_put_attr(cookie, &a); /* (the reader's next fstat) */
		if (S_ISREG(a.mode) && !gf_files_writer_attr(a.ino, &wend, &mt, &have_mtime))
			drop_if_stale(fs, &a);
	}
}

static void *publisher_main(void *arg)
{
	struct gf_fs *fs = arg;
	uint64_t every = publish_every_ms(fs), revalidated = gf_mono_ms();
	uint64_t revalidate_ms = fs->attr_timeout < 0.1 ? 100 : (uint64_t)(fs->attr_timeout * 1000.0);
	struct gf_file *v[256];

	pthread_mutex_lock(&publisher.mu);
	while (!publisher.stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(every % 1000) * 1000000;
		until.tv_sec += (time_t)(every / 1000) + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&publisher.cv, &publisher.mu, &until);
		if (publisher.stop)
			break;
		pthread_mutex_unlock(&publisher.mu);
		size_t n = gf_files_growing(v, sizeof(v) / sizeof(v[0]));
		for (size_t i = 0; i < n; i++) {
			publish_growth(fs, v[i]);
			gf_file_unref(v[i]);
		}
		if (gf_mono_ms() - revalidated >= revalidate_ms) {
			revalidate_readers(fs);
			revalidated = gf_mono_ms();
		}
		pthread_mutex_lock(&publisher.mu);
	}
	pthread_mutex_unlock(&publisher.mu);
	return NULL;
}

int gf_ops_start(struct gf_fs *fs)
{
	int r = pthread_create(&publisher.thread, NULL, publisher_main, fs);
	if (r)
		return -r;
	publisher.running = 1;
	return 0;
}

void gf_ops_stop(void)
{
	if (!publisher.running)
		return;
	pthread_mutex_lock(&publisher.mu);
	publisher.stop = 1;
	pthread_cond_signal(&publisher.cv);
	pthread_mutex_unlock(&publisher.mu);
	pthread_join(publisher.thread, NULL);
	publisher.running = 0;
	cachever_drop_stop(); /* before the session goes */
}

/* op_write_buf's write into f's replica (f->data held, hold_data):
 * *written bytes written, *endp where the replica now ends. 0 or -errno. */
static int write_data(struct gf_file *f, struct fuse_bufvec *in, off_t off, size_t size,
		      ssize_t *written, uint64_t *endp)
{
	uint64_t end;
	ssize_t n;
	int r;

	if (f->data.fd >= 0) {
		struct fuse_bufvec out = FUSE_BUFVEC_INIT(size);

		/* written through the passed fd, gfsd or not; a handle lost with
		 * a gfsd restart is reclaimed as soon as gfsd is back */
		gfc_data_revive(&f->data);
		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = f->data.fd;
		out.buf[0].pos = off;
		n = fuse_buf_copy(&out, in, 0);
		if (n < 0)
			return (int)n;
		gfc_data_account_local(&f->data, 0, (uint64_t)n);
		end = (uint64_t)off + (uint64_t)n;
		if ((r = gfc_data_end(&f->data, &end)) < 0)
			return r;
	} else {
		const void *data;
		char *copy = NULL;

		if (in->count == 1 && in->idx == 0 && in->off == 0 &&
		    !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
			data = in->buf[0].mem;
		} else {
			struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);

			copy = malloc(size ? size : 1);
			if (!copy)
				return -ENOMEM;
			mem.buf[0].mem = copy;
			n = fuse_buf_copy(&mem, in, 0);
			if (n < 0) {
				free(copy);
				return (int)n;
			}
			size = (size_t)n;
			data = copy;
		}
		r = gfc_data_write(&f->data, data, size, (uint64_t)off, &end);
		free(copy);
		if (r < 0)
			return r;
		n = (ssize_t)size;
	}
	*written = n;
	*endp = end;
	return 0;
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
			 off_t off, struct fuse_file_info *fi)
{
	count_request();
	__atomic_fetch_add(&write_requests, 1, __ATOMIC_RELAXED);
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	size_t size = fuse_buf_size(in);
	uint64_t end = 0;
	ssize_t n = 0;
	int r;

	if (!f->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((__atomic_load_n(&f->kill_suid, __ATOMIC_ACQUIRE) && (r = kill_suid(req, f)) < 0) ||
	    (r = hold_data(fs_of(req), f)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* appending, the data went where the replica ended (end: where it ends
	 * now, perhaps further if another mount appended meanwhile); marked
	 * written before the lock goes: a close that waits for the copies
	 * tells gfmd first (wait_copies) */
	r = write_data(f, in, off, size, &n, &end);
	if (r == 0)
		gf_file_wrote(f, end - (uint64_t)n, (uint64_t)n);
	pthread_rwlock_unlock(&f->data_lock);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	publish_growth(fs_of(req), f);
	/* a store through a shared mapping, written back: the kernel's cached
	 * mtime and ctime are of before it (attributes only: no page lock) */
	if (fi->writepage && fs_of(req)->se)
		(void)fuse_lowlevel_notify_inval_inode(fs_of(req)->se, ino, -1, 0);
	fuse_reply_write(req, (size_t)n);
}

/*
 * Tell gfmd what this writer wrote (the end of its furthest byte, and its
 * last write's time unless the mtime was set since), if it wrote anything
 * since last time; with_blocks, also what the replica now takes on disk
 * (st_blocks), if its data changed since that was last told (only from the
 * handle's own requests: the replica is open and stays so meanwhile). The
 * error is the application's (flush → close, fsync). 0 or -errno.
 */
static int publish_how(struct gf_fs *fs, struct gf_file *f, int with_blocks, int sync);

static int publish(struct gf_fs *fs, struct gf_file *f, int with_blocks)
{
	return publish_how(fs, f, with_blocks, PUBLISH_LATER);
}

/*
 * publish for fsync (PUBLISH_FSYNC) and fdatasync (PUBLISH_DATASYNC): the
 * one gfmd call also waits until everything acknowledged before it is
 * durable (GF_CW_SYNC), so no GFM_SYNC follows it. fdatasync needs only
 * the size on disk: when gfmd's last reply to this handle already covered
 * its furthest byte, the call is GF_CW_DATASYNC, which changes nothing
 * unless the size moved back meanwhile (a truncate elsewhere), and the
 * mtime stays to be told at close, as after a plain write. 1 once such a
 * reply came, 0 when there was nothing to tell (the caller sends
 * GFM_SYNC), or -errno.
 */
static int publish_how(struct gf_fs *fs, struct gf_file *f, int with_blocks, int sync)
{
	uint64_t wend, size, blocks = 0;
	struct gf_timespec mtime;
	uint32_t flags;
	int r, told_blocks = 0, datasync = 0;

	if (!f->writable)
		return 0;
	gf_file_pt_sync(f); /* a passthrough writer's writes, from the replica */
	pthread_mutex_lock(&f->publish_lock);
	/* f->data is used below: a close of another descriptor of this file
	 * may close it (wait_copies) unless held meanwhile */
	pthread_rwlock_rdlock(&f->data_lock);
	pthread_mutex_lock(&f->lock);
	if (with_blocks && f->pt_grew && f->has_data) {
		gfc_data_account_local(&f->data, 0, f->pt_grew);
		f->pt_grew = 0;
	}
	with_blocks = with_blocks && f->blocks_dirty && f->has_data;
	if (sync == PUBLISH_DATASYNC && f->dirty && f->pub_valid && f->wend <= f->pub.size) {
		datasync = 1;
		with_blocks = 0; /* st_blocks is a change: told at close */
	}
	if (!f->dirty && !with_blocks) {
		pthread_mutex_unlock(&f->lock);
		pthread_rwlock_unlock(&f->data_lock);
		pthread_mutex_unlock(&f->publish_lock);
		return 0;
	}
	if (!datasync)
		f->dirty = 0;
	wend = f->wend;
	mtime = f->mtime;
	flags = f->mtime_dirty ? GF_CW_MTIME : 0;
	if (datasync)
		flags = GF_CW_DATASYNC;
	if (sync != PUBLISH_LATER)
		flags |= GF_CW_SYNC;
	if (with_blocks)
		f->blocks_dirty = 0;
	pthread_mutex_unlock(&f->lock);

	if (with_blocks && gfc_data_fstat(&f->data, &size, &blocks) == 0) {
		flags |= GF_CW_BLOCKS;
		told_blocks = 1;
	}
	pthread_rwlock_unlock(&f->data_lock);
	struct gf_attr now;
	/* not kept from the reply: a close (FLUSH) ends this mount's view
	 * of the file, and the next stat must show what other mounts wrote
	 * and published before it (their RELEASE may still be on its way) */
	gf_attrcache_forget(f->ino);
	r = gfc_close_write(fs->gfc, &f->cred, f->ino, f->fgen, wend, &mtime, flags, blocks, &now);
	if (r == 0 && !datasync) {
		pthread_mutex_lock(&f->lock);
		f->pub = now;
		f->pub_valid = 1;
		if (f->published_end < wend)
			f->published_end = wend; /* no growth for publish_growth to tell */
		pthread_mutex_unlock(&f->lock);
	}
	if (r == -ENOENT) {
		r = 0; /* unlinked meanwhile: nobody will see this size */
		sync = PUBLISH_LATER; /* (the caller's GFM_SYNC covers the rest) */
	}
	if (r < 0 || (with_blocks && !told_blocks)) {
		if (r < 0)
			gf_warn("inode %llu: GFM_CLOSE_WRITE (end %llu) failed: %s",
				(unsigned long long)f->ino, (unsigned long long)wend,
				strerror(-r));
		pthread_mutex_lock(&f->lock);
		if (r < 0)
			f->dirty = 1;
		if (with_blocks)
			f->blocks_dirty = 1;
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&f->publish_lock);
	return r < 0 ? r : sync != PUBLISH_LATER;
}

static void unlock_all(struct gf_fs *fs, uint64_t ino, uint64_t owner, uint8_t kind);
static int ever_locked(uint64_t ino);


/* The file's replica count (GF_NCOPY_XATTR; 1 without one). */
static uint32_t ncopy_of(struct gf_fs *fs, uint64_t ino)
{
	char v[16];
	size_t len = 0;
	uint32_t n = 0;

	if (gfc_getxattr(fs->gfc, &ROOT_CRED, ino, GF_NCOPY_XATTR, v, sizeof(v), &len) == 0)
		n = gf_ncopy_parse(v, len);
	return n ? n : 1;
}

/*
 * ncopy_wait: the close of a writer returns once its file has its replica
 * count. gfmd copies only a file nobody writes (every replica the same
 * bytes), so the writer lets go first: its replica is closed (gfsd seals
 * it) and gfmd released (its repair starts the copies at once); then the
 * current replicas are counted until there are enough, or EIO after
 * ncopy_wait seconds (the data is safe on the replicas there are; the
 * copies go on).
 */
static int wait_copies(struct gf_fs *fs, struct gf_file *f)
{
	struct gfm_open_rep *o;
	uint64_t deadline, pause_ms = 5;
	uint32_t want, have = 0;
	int r = 0;

	if (!f->writable || !__atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE))
		return 0; /* nothing written through it */
	/* writes through another descriptor of this open file may have come
	 * since the flush told gfmd (the caller's publish): told too before
	 * the replica closes, or the reopen of a later write would cut them
	 * away (gfsd cuts a replica opened for writing to gfmd's size) */
	for (;;) {
		int dirty;

		pthread_rwlock_wrlock(&f->data_lock);
		pthread_mutex_lock(&f->lock);
		dirty = f->dirty;
		pthread_mutex_unlock(&f->lock);
		if (!dirty || !f->has_data)
			break;
		pthread_rwlock_unlock(&f->data_lock);
		if ((r = publish(fs, f, 1)) < 0)
			return r;
	}
	if (f->has_data) {
		r = gfc_data_close(&f->data);
		f->has_data = 0;
		f->data_epoch++;
	}
	if (f->gfm_writer) {
		int e = gfc_release(fs->gfc, &f->cred, f->ino);
		if (e < 0 && e != -ENOENT && r == 0)
			r = e;
		f->gfm_writer = 0;
	}
	f->released = 1;
	pthread_rwlock_unlock(&f->data_lock);
	if (r < 0)
		return r;
	want = ncopy_of(fs, f->ino);
	if (want <= 1 || !(o = malloc(sizeof(*o))))
		return 0;
	deadline = gf_mono_ms() + (uint64_t)fs->ncopy_wait_s * 1000;
	for (;;) {
		r = gfc_replicas(fs->gfc, &ROOT_CRED, f->ino, o);
		if (r < 0)
			break;
		have = 0;
		for (uint32_t i = 0; i < o->nreplicas; i++)
			have += o->replicas[i].gen == o->attr.gen;
		if (have >= want || o->attr.size == 0)
			break;
		if ((uint64_t)gf_mono_ms() >= deadline) {
			gf_warn("inode %llu: %u of %u replicas %u s after its close "
				"(ncopy_wait): the close fails with EIO; gfmd goes on copying",
				(unsigned long long)f->ino, have, want, fs->ncopy_wait_s);
			r = -EIO;
			break;
		}
		struct timespec ts = { 0, (long)pause_ms * 1000000 };
		nanosleep(&ts, NULL);
		if (pause_ms < 200)
			pause_ms *= 2;
	}
	free(o);
	return r == -ENOENT ? 0 : r;
}

/*
 * At a close: the pages this handle wrote through the page cache are the
 * file, if it was the file's only writer and no other came since (the
 * generation gfmd's last GFM_CLOSE_WRITE reply gives is still the one it
 * opened): the next open here keeps them (cachever_wrote).
 */
static void keep_written(struct gf_file *f, int flags)
{
	if (!f->writable || !f->sole || bypasses_cache(f, flags) || f->pt_id)
		return; /* (passthrough: the kernel's pages never saw the writes) */
	pthread_mutex_lock(&f->lock);
	if (f->pub_valid && !f->dirty && f->pub.gen == f->attr.gen)
		cachever_wrote(&f->pub);
	pthread_mutex_unlock(&f->lock);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request();
	gf_attrcache_forget(ino); /* a close: the next stat asks (attrcache.h) */
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	int r = publish(fs_of(req), f, 1);

	if (r == 0)
		keep_written(f, fi->flags);
	if (r == 0 && fs_of(req)->ncopy_wait_s)
		r = wait_copies(fs_of(req), f);

	/* close(2) drops the process's POSIX locks on the file */
	if (ever_locked(ino))
		unlock_all(fs_of(req), ino, fi->lock_owner, GF_LK_POSIX);
	fuse_reply_err(req, -r);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	count_request();
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	int r = 0;

	if (f->writable) {
		pthread_rwlock_rdlock(&f->data_lock); /* (a close may close it) */
		if (f->has_data)
			r = gfc_data_fsync(&f->data);
		pthread_rwlock_unlock(&f->data_lock);
	}
	/* its size and times (fdatasync: its size), and how it came to be (its
	 * create, renames): on disk at gfmd too, whatever gfmd's durability
	 * mode; publish_how's reply says so when it had anything to tell */
	if (r == 0)
		r = publish_how(fs_of(req), f, 1, datasync ? PUBLISH_DATASYNC : PUBLISH_FSYNC);
	if (r == 0)
		r = gfc_sync(fs_of(req)->gfc);
	else if (r == 1)
		r = 0;
	fuse_reply_err(req, -r);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request();
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	int r = 0;

	/* what was written since the last flush (mmap writeback) first: the
	 * replica is not released before gfmd knows what it holds */
	publish(fs_of(req), f, 1);
	pthread_rwlock_wrlock(&f->data_lock); /* the publisher may revive it */
	if (f->has_data && f->writable && f->data.fd >= 0) {
		/* the replica as this writer leaves it: a reader's open may
		 * then trust its pages that never left memory (readpin.h) */
		struct stat st;
		if (fstat(f->data.fd, &st) == 0)
			readpin_written(f->ino, f->fgen, &st);
	}
	if (f->has_data) {
		r = gfc_data_close(&f->data);
		f->has_data = 0;
		if (r < 0)
			gf_warn("inode %llu: closing replica failed: %s",
				(unsigned long long)f->ino, strerror(-r));
	}
	pthread_rwlock_unlock(&f->data_lock);
	/* gfmd may copy the file once no writer has it open */
	if (f->gfm_writer && (r = gfc_release(fs_of(req)->gfc, &f->cred, f->ino)) < 0 &&
	    r != -ENOENT)
		gf_warn("inode %llu: GFM_RELEASE failed: %s", (unsigned long long)f->ino,
			strerror(-r));
	/* the last close of an open file drops its flock lock */
	if (fi->flock_release)
		unlock_all(fs_of(req), ino, fi->lock_owner, GF_LK_FLOCK);
	if (bypasses_cache(f, fi->flags) || f->pt_id)
		cachever_forget(f->ino);
	gf_file_free(f);
	fuse_reply_err(req, 0);
}

/* ---- space: fallocate, SEEK_DATA / SEEK_HOLE -------------------------------------- */

/*
 * fallocate(2) as ext4 has it: mode 0 (allocate, the size grows to cover
 * the range), FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | KEEP_SIZE, and
 * FALLOC_FL_ZERO_RANGE (with or without KEEP_SIZE). Any other mode is
 * EOPNOTSUPP before anything is touched. The replica does the work; what
 * changed reaches gfmd as a write does (size, times, st_blocks at close).
 */
static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	count_request();
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	int r;

	if (!gf_falloc_mode_ok((uint32_t)mode)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!f->writable) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if ((__atomic_load_n(&f->kill_suid, __ATOMIC_ACQUIRE) && (r = kill_suid(req, f)) < 0) ||
	    (r = hold_data(fs_of(req), f)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* the size grows unless KEEP_SIZE; mtime and ctime move in every mode,
	 * a reservation too, as on ext4 (marked under the lock: see
	 * op_write_buf) */
	gf_attrcache_forget(ino); /* its blocks (the size: merge_writer) */
	r = gfc_data_fallocate(&f->data, (uint32_t)mode, (uint64_t)off, (uint64_t)len);
	if (r == 0)
		gf_file_changed(f, (mode & GF_FALLOC_KEEP_SIZE) ? 0 : (uint64_t)off + (uint64_t)len,
				1);
	pthread_rwlock_unlock(&f->data_lock);
	fuse_reply_err(req, -r);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	count_request();
	struct gf_file *f = (struct gf_file *)(uintptr_t)fi->fh;
	uint64_t at, limit;
	int r;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL); /* the kernel does the others */
		return;
	}
	limit = read_limit(f);
	if (off < 0 || (uint64_t)off >= limit) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	if ((r = ensure_data(fs_of(req), f)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (!__atomic_load_n(&f->has_data, __ATOMIC_ACQUIRE)) {
		/* no replica opened: nothing stored, all hole */
		if (whence == SEEK_HOLE)
			fuse_reply_lseek(req, off);
		else
			fuse_reply_err(req, ENXIO);
		return;
	}
	pthread_rwlock_rdlock(&f->data_lock);
	r = gfc_data_seek(&f->data, (uint64_t)off, whence, &at);
	pthread_rwlock_unlock(&f->data_lock);
	if (r == -ENXIO && whence == SEEK_HOLE) {
		r = 0; /* the replica ends before the file: a hole to the end */
		at = limit;
	}
	if (r == 0 && at > limit)
		at = limit; /* the file ends there, as this handle sees it */
	if (r == 0 && whence == SEEK_DATA && at >= limit)
		r = -ENXIO;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fuse_reply_lseek(req, (off_t)at);
}

/* ---- file locks ------------------------------------------------------------------
 * fcntl (POSIX) and flock locks are cluster-wide: gfmd keeps them
 * (gfmd/locks.h), the owner being this mount and the kernel's lock owner.
 * Inodes this mount ever locked are remembered, so that close(2) costs a
 * gfmd round trip to drop locks only where there may be some.
 */
#define LOCKED_SLOTS 4096
static pthread_mutex_t locked_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t locked_inos[LOCKED_SLOTS]; /* a lossy set: a collision only
					      costs an extra unlock */

static size_t locked_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 52) % LOCKED_SLOTS;
}

static void note_locked(uint64_t ino)
{
	pthread_mutex_lock(&locked_lock);
	locked_inos[locked_slot(ino)] = ino;
	pthread_mutex_unlock(&locked_lock);
}

static int ever_locked(uint64_t ino)
{
	pthread_mutex_lock(&locked_lock);
	int yes = locked_inos[locked_slot(ino)] == ino;
	pthread_mutex_unlock(&locked_lock);
	return yes;
}

static void lock_req(fuse_req_t req, uint64_t ino, uint64_t owner, uint8_t kind,
		     struct gfm_lock_req *m)
{
	memset(m, 0, sizeof(*m));
	cred_of(req, &m->cred);
	m->ino = ino;
	m->owner = owner;
	m->pid = (uint32_t)fuse_req_ctx(req)->pid;
	m->kind = kind;
	m->start = 0;
	m->end = UINT64_MAX;
}

static void unlock_all(struct gf_fs *fs, uint64_t ino, uint64_t owner, uint8_t kind)
{
	struct gfm_lock_req m = { .ino = ino, .owner = owner, .kind = kind,
				  .type = GF_LK_UNLCK, .cmd = GF_LK_SET, .end = UINT64_MAX };
	struct gfm_lock_rep rep;
	int r = gfc_lock(fs->gfc, &m, &rep, NULL, NULL);
	if (r < 0)
		gf_warn("inode %llu: releasing locks at close: %s", (unsigned long long)ino,
			strerror(-r));
}

/* struct flock (SEEK_SET, as libfuse gives it) → [start, end] */
static int flock_range(const struct flock *l, uint64_t *start, uint64_t *end)
{
	if (l->l_start < 0 || l->l_len < 0)
		return -EINVAL;
	*start = (uint64_t)l->l_start;
	*end = l->l_len == 0 ? UINT64_MAX : (uint64_t)l->l_start + (uint64_t)l->l_len - 1;
	return *end < *start ? -EOVERFLOW : 0;
}

static uint8_t lk_type(short t)
{
	return t == F_RDLCK ? GF_LK_RDLCK : t == F_WRLCK ? GF_LK_WRLCK : GF_LK_UNLCK;
}

static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock)
{
	count_request();
	struct gfm_lock_req m;
	struct gfm_lock_rep rep;
	int r;

	lock_req(req, ino, fi->lock_owner, GF_LK_POSIX, &m);
	m.cmd = GF_LK_GET;
	m.type = lk_type(lock->l_type);
	if ((r = flock_range(lock, &m.start, &m.end)) < 0 ||
	    (r = gfc_lock(fs_of(req)->gfc, &m, &rep, NULL, NULL)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (rep.type == GF_LK_UNLCK) {
		lock->l_type = F_UNLCK;
	} else {
		lock->l_type = rep.type == GF_LK_RDLCK ? F_RDLCK : F_WRLCK;
		lock->l_whence = SEEK_SET;
		lock->l_start = (off_t)rep.start;
		lock->l_len = rep.end == UINT64_MAX ? 0 : (off_t)(rep.end - rep.start + 1);
		lock->l_pid = (pid_t)rep.pid;
	}
	fuse_reply_lock(req, lock);
}

/*
 * A wait interrupted by a signal to the waiting process: gfmd ends it
 * (-EINTR), or grants it if that came first. The cancel goes again every
 * half second while the wait lasts: sent on another connection, the first
 * may reach gfmd before the wait itself and find nothing.
 */
struct lock_wait {
	fuse_req_t req;
	struct gf_fs *fs;
	struct gfm_lock_req m;
	unsigned ticks;
};

static void lock_waiting(void *arg)
{
	struct lock_wait *lw = arg;
	if (!fuse_req_interrupted(lw->req))
		return;
	if (lw->ticks++ % 5 == 0)
		gfc_lock_cancel(lw->fs->gfc, &lw->m);
}

/* What a lock call leaves to do once gfmd answered: drop what the kernel
 * caches of the file if another mount held the lock since (see below),
 * and reply. */
static void lock_done(fuse_req_t req, struct gf_fs *fs, uint64_t ino,
		      const struct gfm_lock_req *m, const struct gfm_lock_rep *rep, int r)
{
	/* what another mount did before it let go of the lock must show:
	 * none of what this mount learnt before answers the next stat */
	if (r == 0 && m->type != GF_LK_UNLCK)
		gf_attrcache_forget(ino);
	if (r == 0 && m->type != GF_LK_UNLCK && (rep->flags & GF_LKR_OTHERS) && fs->se) {
		int e = fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
		if (e < 0 && e != -ENOENT)
			gf_warn("inode %llu: dropping the kernel's cache after a lock: %s",
				(unsigned long long)ino, strerror(-e));
	}
	fuse_reply_err(req, -r);
}

/* A lock wait on a thread of its own. */
struct lock_job {
	struct lock_wait lw;
	uint64_t ino;
	void *ring; /* gf_uring_detach's token */
};

static void *lock_job_main(void *arg)
{
	struct lock_job *j = arg;
	struct gfm_lock_rep rep;
	int r;

	gf_uring_adopt(j->ring);
	r = gfc_lock(j->lw.fs->gfc, &j->lw.m, &rep, lock_waiting, &j->lw);
	lock_done(j->lw.req, j->lw.fs, j->ino, &j->lw.m, &rep, r);
	free(j);
	return NULL;
}

/*
 * Take or release a lock for f's file. Locks are how processes on several
 * mounts take turns on a file (SQLite, mailboxes): what one wrote under its
 * lock must be what the next one reads under its own. So an unlock tells
 * gfmd first how far this handle wrote, and a lock that another mount held
 * since this one's last (GF_LKR_OTHERS) drops what the kernel caches of
 * the file, pages and attributes, before the application goes on.
 *
 * A lock that must wait is first asked for without waiting; if it is
 * held, the wait goes on a thread of its own, so that waiters never take
 * every thread that serves requests: the unlock that ends their wait
 * must still find one (with io_uring, among its CPU's; uring.h).
 */
static void set_lock(fuse_req_t req, uint64_t ino, struct gf_file *f,
		     struct gfm_lock_req *m, int sleep)
{
	struct gf_fs *fs = fs_of(req);
	struct gfm_lock_rep rep;
	int r;

	m->cmd = GF_LK_SET;
	if (m->type != GF_LK_UNLCK)
		note_locked(ino);
	else
		(void)publish(fs, f, 1); /* a failure is logged; close tells again */
	r = gfc_lock(fs->gfc, m, &rep, NULL, NULL);
	if (r == -EAGAIN && sleep) {
		struct lock_job *j = malloc(sizeof(*j));
		pthread_attr_t a;
		pthread_t tid;

		if (j) {
			m->cmd = GF_LK_SETW;
			j->lw = (struct lock_wait){ req, fs, *m, 0 };
			j->ino = ino;
			j->ring = gf_uring_detach();
			pthread_attr_init(&a);
			pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&a, 256u << 10);
			int e = pthread_create(&tid, &a, lock_job_main, j);
			pthread_attr_destroy(&a);
			if (e == 0) {
				__atomic_fetch_add(&lock_waits_async, 1, __ATOMIC_RELAXED);
				return;
			}
			/* no thread: wait here, as before (the ring entry, if
			 * any, takes the reply as from another thread) */
			gf_warn("cannot start a lock waiter (%s): waiting on a request thread",
				strerror(e));
			free(j);
		}
		m->cmd = GF_LK_SETW;
		struct lock_wait lw = { req, fs, *m, 0 };
		r = gfc_lock(fs->gfc, m, &rep, lock_waiting, &lw);
	}
	lock_done(req, fs, ino, m, &rep, r);
}

static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock, int sleep)
{
	count_request();
	struct gfm_lock_req m;
	int r;

	lock_req(req, ino, fi->lock_owner, GF_LK_POSIX, &m);
	m.type = lk_type(lock->l_type);
	if ((r = flock_range(lock, &m.start, &m.end)) < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	set_lock(req, ino, (struct gf_file *)(uintptr_t)fi->fh, &m, sleep);
}

static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	count_request();
	struct gfm_lock_req m;

	lock_req(req, ino, fi->lock_owner, GF_LK_FLOCK, &m);
	switch (op & ~LOCK_NB) {
	case LOCK_SH: m.type = GF_LK_RDLCK; break;
	case LOCK_EX: m.type = GF_LK_WRLCK; break;
	case LOCK_UN: m.type = GF_LK_UNLCK; break;
	default:
		fuse_reply_err(req, EINVAL);
		return;
	}
	set_lock(req, ino, (struct gf_file *)(uintptr_t)fi->fh, &m,
		 !(op & LOCK_NB) && m.type != GF_LK_UNLCK);
}

/* ---- directories -------------------------------------------------------------- */

/*
 * An open directory keeps the last READDIR reply, so that the kernel's
 * small readdir buffers are filled from one gfmd round trip of up to
 * GF_READDIR_MAX entries. ents[next..count) follow cookie resume_cookie.
 */
struct gf_dir {
	pthread_mutex_t lock;
	struct gfm_readdir_rep rep;
	uint32_t next;
	uint64_t resume_cookie;
	int valid;
};

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request();
	struct gf_dir *d = calloc(1, sizeof(*d));

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_destroy(&d->lock);
		free(d);
	}
}

static void dir_drop(struct gf_dir *d)
{
	if (d->valid)
		gfm_readdir_rep_free(&d->rep);
	d->valid = 0;
}

/*
 * FUSE offsets: "." is followed by offset 1, ".." by 2, and gfmd's entry
 * with cookie c by c + 2; offset o ≥ 2 resumes at gfmd cookie o - 2 (0 =
 * from the first entry). gfmd's cookies are stable and ≥ 1, so are these.
 * A rewind (offset 0) always asks gfmd again.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct gf_fs *fs = fs_of(req);
	struct gf_dir *d = (struct gf_dir *)(uintptr_t)fi->fh;
	struct gf_cred cr;
	struct fuse_entry_param e;
	char *buf;
	size_t pos = 0, n;
	uint64_t cookie;
	int r = 0, done = 0, added = 0;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.attr.st_mode = S_IFDIR;
	if (off == 0) {
		e.attr.st_ino = ino;
		n = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, ".", &e, 1)
			 : fuse_add_direntry(req, buf + pos, size - pos, ".", &e.attr, 1);
		if (n > size - pos)
			goto reply;
		pos += n;
	}
	if (off <= 1) {
		e.attr.st_ino = ino == FUSE_ROOT_ID ? FUSE_ROOT_ID : UNKNOWN_INO;
		n = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, "..", &e, 2)
			 : fuse_add_direntry(req, buf + pos, size - pos, "..", &e.attr, 2);
		if (n > size - pos)
			goto reply;
		pos += n;
	}
	cookie = off >= 2 ? (uint64_t)off - 2 : 0;
	cred_of(req, &cr);
	pthread_mutex_lock(&d->lock);
	if (off == 0 || !d->valid || d->resume_cookie != cookie)
		dir_drop(d);
	while (!done) {
		if (!d->valid) {
			uint64_t ac = gf_attrcache_begin();
			r = gfc_readdir(fs->gfc, &cr, ino, cookie, GF_READDIR_MAX, &d->rep);
			if (r < 0)
				break;
			/* READDIRPLUS hands these to the kernel: none older may
			 * answer a GETATTR after them (a plain READDIR does not:
			 * no cost for it) */
			for (uint32_t i = 0; plus && i < d->rep.count; i++)
				gf_attrcache_put_attr(ac, &d->rep.ents[i].attr);
			if (cookie == 0)
				accessed(fs, ino); /* gfmd may have moved its atime */
			d->valid = 1;
			d->next = 0;
			d->resume_cookie = cookie;
		}
		for (; d->next < d->rep.count; d->next++) {
			struct gfm_dirent *de = &d->rep.ents[d->next];
			off_t next = (off_t)(de->cookie + 2);

			if (plus) {
				fill_entry(fs, &de->attr, &e);
				n = fuse_add_direntry_plus(req, buf + pos, size - pos,
							   de->name, &e, next);
			} else {
				struct stat st;

				attr_to_stat(fs, &de->attr, &st);
				n = fuse_add_direntry(req, buf + pos, size - pos, de->name,
						      &st, next);
			}
			if (n > size - pos) {
				done = 1;
				break;
			}
			pos += n;
			added++;
			cookie = de->cookie;
			d->resume_cookie = cookie;
		}
		if (done || d->rep.eof || d->rep.count == 0)
			break; /* (an exhausted last reply stays: the next call ends) */
		dir_drop(d); /* used up: continue after its last cookie */
	}
	pthread_mutex_unlock(&d->lock);
	if (r < 0 && !added) {
		/* never let an error look like the end of the directory */
		free(buf);
		fuse_reply_err(req, -r);
		return;
	}
reply:
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	count_request();
	do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	count_request();
	do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request();
	struct gf_dir *d = (struct gf_dir *)(uintptr_t)fi->fh;

	if (d) {
		dir_drop(d);
		pthread_mutex_destroy(&d->lock);
		free(d);
	}
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	count_request();
	/* every entry change acknowledged so far, on disk (in gfmd's default
	 * durability mode they already are: gfmd answers at once) */
	fuse_reply_err(req, -gfc_sync(fs_of(req)->gfc));
}

/* ---- file system ---------------------------------------------------------------- */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	count_request();
	struct gf_cred cr;
	struct gfm_statfs_rep s;
	struct statvfs v;
	int r;

	cred_of(req, &cr);
	r = gfc_statfs(fs_of(req)->gfc, &cr, &s);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	memset(&v, 0, sizeof(v));
	v.f_bsize = s.bsize;
	v.f_frsize = s.bsize;
	v.f_blocks = s.blocks;
	v.f_bfree = s.bfree;
	v.f_bavail = s.bavail;
	v.f_files = s.files;
	v.f_ffree = s.ffree;
	v.f_favail = s.ffree;
	v.f_namemax = s.namemax;
	fuse_reply_statfs(req, &v);
}

/*
 * user.gfarmfs.stats on the mount root: this client's byte counters, so
 * tests and users can see whether reads stayed on the host. Virtual: never
 * listed, never stored, read-only; on any other inode the name is ordinary.
 */
#define STATS_XATTR "user.gfarmfs.stats"

static int is_stats_xattr(fuse_ino_t ino, const char *name)
{
	return ino == FUSE_ROOT_ID && strcmp(name, STATS_XATTR) == 0;
}

/* "fuse.NAME N" per kind of FUSE request and "gfmd.NAME N" per kind of
 * gfmd call made so far, after the totals (NAME lower case). */
static int format_kinds(const struct gfc_stats *st, char *buf, size_t bufsz)
{
	size_t n = 0;
	for (struct req_count *rc = __atomic_load_n(&req_counts, __ATOMIC_ACQUIRE);
	     rc && n < bufsz; rc = rc->next) {
		const char *name = strncmp(rc->handler, "op_", 3) == 0 ? rc->handler + 3
									  : rc->handler;
		n += (size_t)snprintf(buf + n, bufsz - n, "fuse.%s %llu\n", name,
				      (unsigned long long)__atomic_load_n(&rc->n,
									  __ATOMIC_RELAXED));
	}
	for (int op = 0; op < GFC_OPS_COUNTED && n < bufsz; op++) {
		if (!st->gfmd_ops[op])
			continue;
		const char *name = gf_op_name((uint16_t)op);
		char low[48];
		size_t k = 0;
		if (strncmp(name, "GFM_", 4) == 0)
			name += 4;
		for (; name[k] && k + 1 < sizeof(low); k++)
			low[k] = (char)tolower((unsigned char)name[k]);
		low[k] = 0;
		n += (size_t)snprintf(buf + n, bufsz - n, "gfmd.%s %llu\n", low,
				      (unsigned long long)st->gfmd_ops[op]);
	}
	return n < bufsz ? (int)n : -1;
}

static int format_stats(struct gf_fs *fs, char *buf, size_t bufsz)
{
	struct gfc_stats st;
	uint64_t pt_opens, pt_backings, pt_refused;

	gfc_get_stats(fs->gfc, &st);
	gf_pt_stats(&pt_opens, &pt_backings, &pt_refused);
	uint64_t rp_pins, rp_locked, rp_whole, rp_opens, rp_unsealed;
	readpin_stats(&rp_pins, &rp_locked, &rp_whole, &rp_opens, &rp_unsealed);
	uint64_t ur_requests, ur_detached;
	unsigned ur_threads;
	gf_uring_stats(&ur_requests, &ur_threads, &ur_detached);
	int n = snprintf(buf, bufsz,
			"read_local %llu\nread_remote %llu\n"
			"written_local %llu\nwritten_remote %llu\n"
			"gfmd_calls %llu\ngfmd_reconnects %llu\nfuse_requests %llu\nhost %s\n"
			"write_requests %llu\npassthrough %d\npassthrough_opens %llu\n"
			"passthrough_backings %llu\npassthrough_refused %llu\n"
			"read_pins %llu\nread_pinned_kb %llu\nread_pins_whole %llu\n"
			"read_pin_opens %llu\nread_pin_unsealed_opens %llu\nread_mapped_kb %llu\n"
			"read_pin_unwritten %llu\nopen_files %llu\n"
			"uring_agreed %d\nuring %d\nuring_threads %u\nuring_requests %llu\n"
			"uring_detached %llu\nlock_waits_async %llu\n",
			(unsigned long long)st.read_local,
			(unsigned long long)st.read_remote,
			(unsigned long long)st.written_local,
			(unsigned long long)st.written_remote,
			(unsigned long long)st.gfmd_calls,
			(unsigned long long)st.gfmd_reconnects,
			(unsigned long long)__atomic_load_n(&fuse_requests, __ATOMIC_RELAXED),
			gfc_hostname(fs->gfc),
			(unsigned long long)__atomic_load_n(&write_requests, __ATOMIC_RELAXED),
			gf_pt_enabled() && fs->passthrough, (unsigned long long)pt_opens,
			(unsigned long long)pt_backings, (unsigned long long)pt_refused,
			(unsigned long long)rp_pins, (unsigned long long)(rp_locked >> 10),
			(unsigned long long)rp_whole, (unsigned long long)rp_opens,
			(unsigned long long)rp_unsealed,
			(unsigned long long)__atomic_load_n(&read_mapped_kb, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&unwritten_opens, __ATOMIC_RELAXED),
			(unsigned long long)gf_files_open_count(),
			gf_uring_agreed(), gf_uring_active(), ur_threads,
			(unsigned long long)ur_requests,
			(unsigned long long)ur_detached,
			(unsigned long long)__atomic_load_n(&lock_waits_async, __ATOMIC_RELAXED));
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	struct gf_dirlease_stats ls;
	gf_dirlease_stats(&ls);
	int m = snprintf(buf + n, bufsz - (size_t)n,
			 "lease_answered %llu\nlease_granted %llu\nlease_renewed %llu\n"
			 "lease_refused %llu\nlease_recalled %llu\nlease_held %llu\n"
			 "lease_polls %llu\nlease_poll_failures %llu\n",
			 (unsigned long long)ls.answered, (unsigned long long)ls.granted,
			 (unsigned long long)ls.renewed, (unsigned long long)ls.refused,
			 (unsigned long long)ls.recalled, (unsigned long long)ls.held,
			 (unsigned long long)ls.polls, (unsigned long long)ls.poll_failures);
	if (m < 0 || (size_t)m >= bufsz - (size_t)n)
		return -1;
	n += m;
	int k = format_kinds(&st, buf + n, bufsz - (size_t)n);
	return k < 0 ? -1 : n + k;
}

static void reply_stats_xattr(fuse_req_t req, size_t size)
{
	char buf[8192 + GF_HOST_MAX];
	int n = format_stats(fs_of(req), buf, sizeof(buf));

	if (n < 0 || (size_t)n >= sizeof(buf))
		fuse_reply_err(req, EIO);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if (size < (size_t)n)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/*
 * The kernel asks for security.capability before every write(2) to a
 * regular file (file_remove_privs): without this, each write would cost a
 * gfmd round trip. "This inode has none" is cached for attr_timeout, like
 * the attributes the kernel caches (from gfmd's answer, or from the create
 * that made the file); set/removexattr through this client forget it at
 * once, other clients' changes show within attr_timeout.
 */
#define NOCAPS_SLOTS 1024
#define CAPS_XATTR "security.capability"

static pthread_mutex_t nocaps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t ino;
	struct timespec until;
} nocaps[NOCAPS_SLOTS];

static size_t nocaps_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 54) % NOCAPS_SLOTS;
}

static int nocaps_known(uint64_t ino)
{
	struct timespec now;
	size_t i = nocaps_slot(ino);
	int known;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&nocaps_lock);
	known = nocaps[i].ino == ino &&
		(now.tv_sec < nocaps[i].until.tv_sec ||
		 (now.tv_sec == nocaps[i].until.tv_sec && now.tv_nsec < nocaps[i].until.tv_nsec));
	pthread_mutex_unlock(&nocaps_lock);
	return known;
}

static void nocaps_set(uint64_t ino, double timeout)
{
	struct timespec t;
	size_t i = nocaps_slot(ino);
	long long ns;

	if (timeout <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ns = (long long)t.tv_nsec + (long long)(timeout * 1e9);
	t.tv_sec += (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	pthread_mutex_lock(&nocaps_lock);
	nocaps[i].ino = ino;
	nocaps[i].until = t;
	pthread_mutex_unlock(&nocaps_lock);
}

static void nocaps_forget(uint64_t ino)
{
	size_t i = nocaps_slot(ino);

	pthread_mutex_lock(&nocaps_lock);
	if (nocaps[i].ino == ino)
		nocaps[i].ino = 0;
	pthread_mutex_unlock(&nocaps_lock);
}

/*
 * POSIX ACLs (system.posix_acl_access/_default, gfmd/acl.h) name users and
 * groups by id: gfmd keeps global ids, so the entries are translated like
 * file owners (lib/idmap.h). buf is the kernel's xattr form: a 4-byte
 * header, then 8-byte {le16 tag, le16 perm, le32 id} entries. A malformed
 * value is left as it is (gfmd refuses it).
 */
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP 0x08

static int is_acl_xattr(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0 ||
	       strcmp(name, "system.posix_acl_default") == 0;
}

static void acl_map_ids(struct gf_idmap *m, uint8_t *buf, size_t len, int outgoing)
{
	if (len < 4 || (len - 4) % 8)
		return;
	for (uint8_t *e = buf + 4; e < buf + len; e += 8) {
		uint16_t tag = (uint16_t)(e[0] | e[1] << 8);
		uint32_t id = (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 |
			      (uint32_t)e[7] << 24;
		if (tag == ACL_TAG_USER)
			id = outgoing ? gf_idmap_uid_out(m, id) : gf_idmap_uid_in(m, id);
		else if (tag == ACL_TAG_GROUP)
			id = outgoing ? gf_idmap_gid_out(m, id) : gf_idmap_gid_in(m, id);
		else
			continue;
		e[4] = (uint8_t)id;
		e[5] = (uint8_t)(id >> 8);
		e[6] = (uint8_t)(id >> 16);
		e[7] = (uint8_t)(id >> 24);
	}
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	count_request();
	gf_attrcache_forget(ino);
	struct gf_cred cr;
	uint8_t *mapped = NULL;
	int r;

	if (is_stats_xattr(ino, name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (strlen(name) > GF_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (size > GF_XATTR_SIZE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	cred_of(req, &cr);
	nocaps_forget(ino);
	if (is_acl_xattr(name) && size) {
		mapped = malloc(size);
		if (!mapped) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		memcpy(mapped, value, size);
		acl_map_ids(fs_of(req)->idmap, mapped, size, 1);
		value = (const char *)mapped;
	}
	r = stale(gfc_setxattr(fs_of(req)->gfc, &cr, ino, name, value, size, (uint32_t)flags));
	free(mapped);
	fuse_reply_err(req, -r);
}

static void reply_xattr_value(fuse_req_t req, int r, const char *buf, size_t size,
			      size_t len)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	count_request();
	struct gf_cred cr;
	size_t len = 0;
	char *buf = NULL;
	int r, caps = strcmp(name, CAPS_XATTR) == 0;

	if (is_stats_xattr(ino, name)) {
		reply_stats_xattr(req, size);
		return;
	}
	if (caps && nocaps_known(ino)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (strlen(name) > GF_XATTR_NAME_MAX) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (size > GF_XATTR_SIZE_MAX)
		size = GF_XATTR_SIZE_MAX;
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	cred_of(req, &cr);
	r = stale(gfc_getxattr(fs_of(req)->gfc, &cr, ino, name, buf, size, &len));
	if (caps && r == -ENODATA)
		nocaps_set(ino, fs_of(req)->attr_timeout);
	if (r == 0 && size && is_acl_xattr(name))
		acl_map_ids(fs_of(req)->idmap, (uint8_t *)buf, len, 0);
	reply_xattr_value(req, r, buf, size, len);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	count_request();
	struct gf_cred cr;
	size_t len = 0;
	char *buf = NULL;
	int r;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	cred_of(req, &cr);
	r = stale(gfc_listxattr(fs_of(req)->gfc, &cr, ino, buf, size, &len));
	reply_xattr_value(req, r, buf, size, len);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	count_request();
	gf_attrcache_forget(ino);
	struct gf_cred cr;
	int r;

	if (is_stats_xattr(ino, name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (strlen(name) > GF_XATTR_NAME_MAX) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	cred_of(req, &cr);
	nocaps_forget(ino);
	r = stale(gfc_removexattr(fs_of(req)->gfc, &cr, ino, name));
	fuse_reply_err(req, -r);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	count_request();
	struct gf_cred cr;

	cred_of(req, &cr);
	fuse_reply_err(req, -stale(gfc_access(fs_of(req)->gfc, &cr, ino, (uint32_t)mask)));
}

const struct fuse_lowlevel_ops gf_fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.getlk = op_getlk,
	.setlk = op_setlk,
	.flock = op_flock,
	.create = op_create,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
};
