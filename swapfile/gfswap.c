/*
 * gfswap.c — network swap into other nodes' gfsd RAM: the command (on, off,
 * status) and the daemon (serve) that presents the swap area as a file over
 * FUSE. See the help text below and area.h / servers.h / slotmap.h.
 */
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "area.h"
#include "auth.h"
#include "../cmd/cmdutil.h"
#include "config.h"
#include "log.h"
#include "rahead.h"
#include "servers.h"
#include "wback.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define INO_AREA 2
#define INO_STATUS 3
#define REFRESH_MS 2000

static struct cmd cmd = {
	.name = "gfswap",
	.synopsis = "gfswap on --size SIZE [--priority P] [--name NAME] [--copies N]\n"
		    "          [--fallback-dir DIR] [-c CONFIG]\n"
		    "       gfswap off [--name NAME]\n"
		    "       gfswap status [--name NAME]\n",
	.help =
"NAME\n"
"  gfswap - swap into the idle RAM of other nodes' gfsd (network swap)\n"
"\n"
"SYNOPSIS\n"
"  gfswap on --size SIZE [--priority P] [--name NAME] [--copies N]\n"
"            [--fallback-dir DIR] [-c CONFIG]\n"
"  gfswap off [--name NAME]\n"
"  gfswap status [--name NAME]\n"
"\n"
"DESCRIPTION\n"
"  A node that runs short of memory pages out to the RAM other nodes' gfsd\n"
"  lend (Nswap's protocol: PUTPAGE, GETPAGE, INVALIDATE by slot, with a\n"
"  time stamp per page). The kernel reaches it through a file served over\n"
"  FUSE by the gfswap daemon, attached to a loop device in direct-I/O mode\n"
"  and enabled with swapon.\n"
"\n"
"  on      Starts the daemon for swap area NAME (default swap0) of SIZE\n"
"          bytes (suffixes K, M, G, T), attaches its file with losetup\n"
"          --direct-io=on, runs mkswap and swapon with priority P (default\n"
"          100, so it is used before any disk swap) and page discards on.\n"
"          Any step that fails undoes the ones before it.\n"
"  off     swapoff (the kernel reads every page back first), detaches the\n"
"          loop device, stops the daemon, unmounts its file and removes the\n"
"          fall-back file: every step that is still needed, so it also\n"
"          cleans up after a daemon that crashed.\n"
"  status  The area's pages per server, pages in and out, second-copy\n"
"          reads, fall-backs to disk and lost pages; slots_short: slots\n"
"          with one good copy left, copied again in the background;\n"
"          slots_without_copy: slots with none (a read of one is lost;\n"
"          one the kernel freed without discarding it is never read).\n"
"\n"
"  Every page is kept in --copies places (default 2): two page servers, or\n"
"  one and this node's fall-back file when only one has room or answers,\n"
"  or the fall-back file alone when none does. So the loss of one gfsd\n"
"  loses no page. Servers are chosen from gfmd's host list (what each gfsd\n"
"  said it has free in its last heartbeat), never this node's own gfsd.\n"
"  The daemon locks itself in memory (mlockall) and marks itself an I/O\n"
"  flusher, so that paging out never waits for memory it would need.\n"
"\n"
"OPTIONS\n"
"  --size=SIZE         size of the swap area (at least 1M)\n"
"  --priority=P        swap priority, -1..32767 (default 100)\n"
"  --name=NAME         which area (default swap0); letters, digits, -_.\n"
"  --copies=N          1 or 2 places per page (default 2)\n"
"  --fallback-dir=DIR  where the fall-back file goes (default\n"
"                      /var/tmp/gfswap; must be on a local disk)\n"
CMD_HELP_COMMON_OPTIONS
"\n"
"FILES\n"
"  $GFSWAP_RUNDIR/NAME (default /run/gfswap/NAME): the daemon's pid, its\n"
"  log (gfswapd.log), the loop device and the FUSE mount (mnt/area, and\n"
"  mnt/status, which `gfswap status` prints).\n"
"\n"
"CONFIGURATION\n"
CMD_HELP_GFMD_CONFIG
"  Also read by the daemon:\n"
"  swap_io_timeout_ms = MS     a page server that does not answer within\n"
"                              MS (default 5000) is taken for down\n"
"  swap_write_behind_mb = MiB  page-outs are answered once their pages are\n"
"                              in a locked buffer of this size (default 16;\n"
"                              0: each waits for its servers); flushers\n"
"                              write them on, a failed write is kept and\n"
"                              tried again, never dropped\n"
"  swap_read_ahead_mb = MiB    sequential page-ins are fetched ahead into a\n"
"                              locked buffer of this size (default 4; 0: off)\n"
"\n"
CMD_HELP_EXIT_STATUS
"\n"
CMD_HELP_ENVIRONMENT
"  GFSWAP_RUNDIR\n"
"      Directory of the areas' state (default /run/gfswap).\n",
};

/* ---- the daemon: the area as a file over FUSE --------------------------------- */

struct daemon_state {
	struct servers srv;
	struct area area;
	struct wback *wb;  /* write-behind; NULL: off */
	struct rahead *ra; /* read-ahead; NULL: off */
	uint64_t size;
	char name[64];
	time_t started;
	volatile int stop;
	/* FUSE requests on the area and the time spent answering them (atomics) */
	uint64_t read_reqs, write_reqs, read_ns, write_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define COUNT_REQ(field_n, field_ns, t0)                                             \
	do {                                                                         \
		__atomic_add_fetch(&D->field_n, 1, __ATOMIC_RELAXED);                 \
		__atomic_add_fetch(&D->field_ns, now_ns() - (t0), __ATOMIC_RELAXED);   \
	} while (0)

static struct daemon_state *D;

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = 0;
	st->st_gid = 0;
	st->st_mtime = st->st_ctime = st->st_atime = D->started;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
	} else if (ino == INO_AREA) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)D->size;
		st->st_blksize = GF_PAGE_SIZE;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = 0;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!strcmp(name, "area"))
		ino = INO_AREA;
	else if (!strcmp(name, "status"))
		ino = INO_STATUS;
	else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = e.entry_timeout = 3600;
	fill_attr(ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != INO_AREA && ino != INO_STATUS) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct stat st;

	(void)attr;
	(void)fi;
	/* the area has a fixed size; times and modes are not kept */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino == INO_STATUS && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->direct_io = 1; /* no page cache: every page goes to the area */
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	static const char *names[] = { ".", "..", "area", "status" };
	static const fuse_ino_t inos[] = { FUSE_ROOT_ID, FUSE_ROOT_ID, INO_AREA, INO_STATUS };
	char buf[512];
	size_t used = 0;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off; i < 4; i++) {
		struct stat st = { .st_ino = inos[i], .st_mode = i < 2 ? S_IFDIR : S_IFREG };
		size_t n = fuse_add_direntry(req, buf + used, sizeof(buf) - used, names[i], &st,
					     i + 1);
		if (used + n > sizeof(buf) || used + n > size)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static size_t status_text(char *buf, size_t cap)
{
	struct area_counters *c = &D->area.c;
	size_t n = 0;

#define OUT(...)                                                         \
	do {                                                             \
		int k_ = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
		if (k_ > 0)                                              \
			n += (size_t)k_;                                 \
	} while (0)
	OUT("area %s: %" PRIu64 " bytes, %" PRIu64 " slots, %d copies per page\n", D->name,
	    D->size, D->area.nslots, D->area.copies);
	OUT("pages_out %" PRIu64 "\npages_in %" PRIu64 "\nremote_out %" PRIu64
	    "\nremote_in %" PRIu64 "\ndisk_out %" PRIu64 "\ndisk_in %" PRIu64
	    "\nfallbacks %" PRIu64 "\nsecond_copy_reads %" PRIu64 "\nmoved %" PRIu64
	    "\ndiscarded %" PRIu64 "\nlost %" PRIu64 "\nupdates %" PRIu64 "\nrecopied %" PRIu64
	    "\n",
	    c->pages_out, c->pages_in, c->remote_out, c->remote_in, c->disk_out, c->disk_in,
	    c->fallbacks, c->second_copy_reads, c->moved, c->discarded, c->lost, c->updates,
	    c->recopied);
	OUT("read_requests %" PRIu64 "\nread_us_avg %.1f\nwrite_requests %" PRIu64
	    "\nwrite_us_avg %.1f\n",
	    D->read_reqs, D->read_reqs ? (double)D->read_ns / 1000.0 / (double)D->read_reqs : 0.0,
	    D->write_reqs,
	    D->write_reqs ? (double)D->write_ns / 1000.0 / (double)D->write_reqs : 0.0);
	if (D->wb) {
		struct wb_stats w;
		wb_get_stats(D->wb, &w);
		OUT("write_behind_pending %u of %u\nwrite_behind_hits %" PRIu64
		    "\nwrite_behind_full_waits %" PRIu64 "\nwrite_behind_order_waits %" PRIu64
		    "\nwrite_behind_retries %" PRIu64 "\n",
		    w.pending, w.entries, w.lookups_hit, w.full_waits, w.order_waits, w.retries);
	}
	if (D->ra) {
		struct ra_stats a;
		ra_get_stats(D->ra, &a);
		OUT("read_ahead_pages %" PRIu64 "\nread_ahead_hits %" PRIu64
		    "\nread_ahead_waits %" PRIu64 "\nread_ahead_unused %" PRIu64
		    "\nread_ahead_skipped %" PRIu64 "\nread_ahead_score %u%%\n",
		    a.fetched, a.hits, a.waits, a.unused + a.forgotten, a.skipped, a.score_pct);
	}
	OUT("slots_on_disk %" PRIu64 "\n", area_slots_on(&D->area, -1));
	uint64_t short_n, no_copy;
	area_short(&D->area, &short_n, &no_copy);
	OUT("slots_short %" PRIu64 "\n", short_n);
	OUT("slots_without_copy %" PRIu64 "\n", no_copy);
	OUT("%-20s %-22s %5s %12s %12s %12s %10s %8s %8s %8s\n", "server", "address", "state",
	    "slots_held", "pages_out", "pages_in", "free_adv", "failures", "refusals",
	    "restarts");
	pthread_mutex_lock(&D->srv.mu);
	uint32_t ns = D->srv.n;
	pthread_mutex_unlock(&D->srv.mu);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (uint32_t i = 0; i < ns; i++) {
		struct pserver *p = &D->srv.v[i];
		char addr[300];
		snprintf(addr, sizeof(addr), "%s:%u", p->addr, p->port);
		OUT("%-20s %-22s %5s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10" PRId64
		    " %8" PRIu64 " %8" PRIu64 " %8u\n",
		    p->name, addr, !p->up ? "down" : p->down_until_ms > now ? "fail" : "up",
		    area_slots_on(&D->area, (int)i), p->pages_out, p->pages_in, p->free_pages,
		    p->failures, p->refusals, (unsigned)p->epoch);
	}
#undef OUT
	return n < cap ? n : cap;
}

/* Pages first..first+n-1 (n ≤ GF_PAGE_BATCH): the ones still pending in the
 * write-behind buffer (the newest), then those read ahead, then the others
 * from their servers. 0 or -errno. */
static int read_pages(uint64_t first, uint32_t n, uint8_t *buf)
{
	uint8_t have[GF_PAGE_BATCH];
	uint32_t hit = 0;
	int r = 0;

	memset(have, 0, n);
	if (D->wb)
		hit += wb_lookup(D->wb, first, n, buf, have);
	if (D->ra && hit < n)
		hit += ra_lookup(D->ra, first, n, buf, have);
	/* the runs found in neither (all of it when nothing was) */
	for (uint32_t k = 0; k < n && r == 0;) {
		uint32_t run = 0;
		while (k + run < n && !have[k + run])
			run++;
		if (run)
			r = area_read(&D->area, first + k, run, buf + (size_t)k * GF_PAGE_SIZE);
		k += run ? run : 1;
	}
	if (hit)
		area_count_in(&D->area, hit);
	if (D->ra)
		ra_note(D->ra, first, n);
	return r;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	if (ino == INO_STATUS) {
		size_t cap = 65536, n;
		char *buf = malloc(cap);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		n = status_text(buf, cap);
		if ((uint64_t)off >= n)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, buf + off, size < n - (size_t)off ? size : n - (size_t)off);
		free(buf);
		return;
	}
	if (off < 0 || (uint64_t)off >= D->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > D->size - (uint64_t)off)
		size = (size_t)(D->size - (uint64_t)off);
	/* whole pages around the range, in this thread's buffer (made once:
	 * a page-in allocates nothing); a read longer than a batch is cut
	 * short, and the kernel asks for the rest */
	static __thread uint8_t *buf;
	if (!buf && !(buf = malloc((size_t)(GF_PAGE_BATCH + 1) * GF_PAGE_SIZE))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	uint64_t first = (uint64_t)off / GF_PAGE_SIZE;
	uint64_t last = ((uint64_t)off + size - 1) / GF_PAGE_SIZE;
	if (last - first + 1 > GF_PAGE_BATCH) {
		last = first + GF_PAGE_BATCH - 1;
		size = (size_t)((last + 1) * GF_PAGE_SIZE - (uint64_t)off);
	}
	uint64_t t0 = now_ns();
	int r = read_pages(first, (uint32_t)(last - first + 1), buf);
	COUNT_REQ(read_reqs, read_ns, t0);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, (char *)buf + ((uint64_t)off - first * GF_PAGE_SIZE), size);
}

/* Whole pages: into the write-behind buffer (or to their servers at once
 * when it is off). Read-ahead forgets them now, and again once written
 * (wb_written). 0 or -errno. */
static int write_pages(uint64_t slot, uint32_t n, const uint8_t *data)
{
	int r;

	if (D->ra)
		ra_forget(D->ra, slot, n);
	if (D->wb)
		return wb_write(D->wb, slot, n, data);
	r = area_write(&D->area, slot, n, data);
	if (D->ra)
		ra_forget(D->ra, slot, n);
	return r;
}

static int wb_area_write(void *arg, uint64_t slot, uint32_t n, const uint8_t *data)
{
	return area_write(arg, slot, n, data);
}

static void wb_written(void *arg, uint64_t slot, uint32_t n)
{
	(void)arg;
	if (D->ra)
		ra_forget(D->ra, slot, n);
}

static int ra_area_peek(void *arg, uint64_t slot, uint32_t n, uint8_t *out, uint8_t *ok)
{
	return area_peek(arg, slot, n, out, ok);
}

/* Write len bytes at off (any alignment): whole pages directly, a partial
 * page read, patched and written back. */
static int area_pwrite(const uint8_t *data, size_t len, uint64_t off)
{
	uint8_t page[GF_PAGE_SIZE];
	int r = 0;

	while (r == 0 && len > 0) {
		uint64_t slot = off / GF_PAGE_SIZE, in = off % GF_PAGE_SIZE;
		if (in == 0 && len >= GF_PAGE_SIZE) {
			uint64_t n = len / GF_PAGE_SIZE;
			if (n > GF_PAGE_BATCH)
				n = GF_PAGE_BATCH;
			r = write_pages(slot, (uint32_t)n, data);
			data += n * GF_PAGE_SIZE;
			off += n * GF_PAGE_SIZE;
			len -= n * GF_PAGE_SIZE;
			continue;
		}
		size_t part = GF_PAGE_SIZE - in < len ? GF_PAGE_SIZE - in : len;
		r = read_pages(slot, 1, page);
		if (r == 0) {
			memcpy(page + in, data, part);
			r = write_pages(slot, 1, page);
		}
		data += part;
		off += part;
		len -= part;
	}
	return r;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	int r;

	(void)fi;
	if (ino != INO_AREA) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0 || (uint64_t)off > D->size || size > D->size - (uint64_t)off) {
		fuse_reply_err(req, ENOSPC); /* the area does not grow */
		return;
	}
	uint64_t t0 = now_ns();
	r = area_pwrite((const uint8_t *)buf, size, (uint64_t)off);
	COUNT_REQ(write_reqs, write_ns, t0);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	uint8_t zero[GF_PAGE_SIZE];
	int r = 0;

	(void)fi;
	if (ino != INO_AREA) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0 || len <= 0 || (uint64_t)off > D->size ||
	    (uint64_t)len > D->size - (uint64_t)off) {
		fuse_reply_err(req, mode == 0 ? ENOSPC : EINVAL);
		return;
	}
	if (mode == 0) {
		fuse_reply_err(req, 0); /* within the area: nothing to allocate */
		return;
	}
	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	/* a discard: whole pages are freed everywhere, partial ones zeroed */
	uint64_t a = (uint64_t)off, b = (uint64_t)off + (uint64_t)len;
	uint64_t fa = (a + GF_PAGE_SIZE - 1) / GF_PAGE_SIZE, fb = b / GF_PAGE_SIZE;
	memset(zero, 0, sizeof(zero));
	if (fa < fb) {
		if (D->wb)
			wb_settle(D->wb, fa, fb - fa);
		if (D->ra)
			ra_forget(D->ra, fa, fb - fa);
		r = area_discard(&D->area, fa, fb - fa);
		if (D->ra)
			ra_forget(D->ra, fa, fb - fa);
		if (r == 0 && a < fa * GF_PAGE_SIZE)
			r = area_pwrite(zero, fa * GF_PAGE_SIZE - a, a);
		if (r == 0 && fb * GF_PAGE_SIZE < b)
			r = area_pwrite(zero, b - fb * GF_PAGE_SIZE, fb * GF_PAGE_SIZE);
	} else {
		for (uint64_t x = a; r == 0 && x < b;) {
			size_t part = b - x < GF_PAGE_SIZE ? (size_t)(b - x) : GF_PAGE_SIZE;
			r = area_pwrite(zero, part, x);
			x += part;
		}
	}
	fuse_reply_err(req, -r);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = GF_PAGE_SIZE;
	sv.f_blocks = D->area.nslots;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void op_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	if (D->wb)
		wb_drain(D->wb); /* pages are where they go once written on */
	op_ok(req, ino, fi);
}

static const struct fuse_lowlevel_ops swap_ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.opendir = op_ok,
	.readdir = op_readdir,
	.releasedir = op_ok,
	.read = op_read,
	.write = op_write,
	.fallocate = op_fallocate,
	.statfs = op_statfs,
	.flush = op_ok,
	.release = op_ok,
	.fsync = op_fsync,
};

/*
 * The keeper: every REFRESH_MS, the server table from gfmd; each server's
 * instance (a restarted gfsd holds none of the copies put before), the
 * moves servers made of our pages (UPDATE); then copies again the pages
 * that are short of copies. Not on the page-out path: it may wait.
 */
#define UPDATES_MAX 200
static void *keeper(void *arg)
{
	struct daemon_state *d = arg;
	static struct gfs_page_move moves[UPDATES_MAX];
	static uint8_t rxbuf[UPDATES_MAX * (8 + 8 + 1 + 4 + GF_HOST_MAX) + 64];
	static uint8_t pages[GF_PAGE_BATCH * GF_PAGE_SIZE];
	int failing = 0;

	while (!d->stop) {
		struct timespec ts = { .tv_sec = REFRESH_MS / 1000,
				       .tv_nsec = (REFRESH_MS % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		if (d->stop)
			break;
		int r = servers_refresh(&d->srv);
		if (r < 0 && !failing)
			gf_warn("gfswap: host list from gfmd: %s (the servers known stay in use)",
				strerror(-r));
		if (r == 0 && failing)
			gf_info("gfswap: host list from gfmd again");
		failing = r < 0;
		pthread_mutex_lock(&d->srv.mu);
		uint32_t ns = d->srv.n;
		pthread_mutex_unlock(&d->srv.mu);
		for (uint32_t i = 0; i < ns && !d->stop; i++) {
			struct pserver *p = &d->srv.v[i];
			struct gfs_page_stats_rep st;
			if (!p->up || page_stats(&d->srv, (int)i, &st) < 0)
				continue;
			if (p->instance && st.instance != p->instance) {
				pthread_mutex_lock(&d->srv.mu);
				__atomic_add_fetch(&p->epoch, 1, __ATOMIC_RELEASE);
				pthread_mutex_unlock(&d->srv.mu);
				gf_warn("gfswap: page server %s restarted: the copies it held are "
					"copied again from the others", p->name);
			}
			p->instance = st.instance;
			int n;
			do {
				n = page_updates(&d->srv, (int)i, moves, UPDATES_MAX, rxbuf,
						 sizeof(rxbuf));
				if (n > 0)
					area_apply_moves(&d->area, (int)i, moves, (uint32_t)n);
			} while (n == UPDATES_MAX && !d->stop);
		}
		if (!d->stop)
			area_repair(&d->area, pages, 16384);
	}
	return NULL;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) > 32 || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static const char *rundir(void)
{
	const char *r = getenv("GFSWAP_RUNDIR");
	return r && *r ? r : "/run/gfswap";
}

struct opts {
	uint64_t size;
	long priority;
	const char *name;
	int copies;
	const char *fallback_dir;
	const char *fallback; /* serve: the file */
};

static int serve(struct opts *o)
{
	struct gf_config *cfg;
	struct gf_key key;
	static struct daemon_state d;
	char mnt[PATH_MAX];
	uint64_t owner;
	int r, fd;

	if (cmd_load_config(&cmd, &cfg) < 0)
		return CMD_FAIL;
	const char *keyf = gf_config_str(cfg, "key_file", NULL);
	if (!keyf || (r = gf_key_load(keyf, &key)) < 0) {
		cmd_err(&cmd, "key_file %s: %s", keyf ? keyf : "(not set)",
			keyf ? strerror(-r) : "set it in the configuration");
		gf_config_free(cfg);
		return CMD_FAIL;
	}
	if (getrandom(&owner, sizeof(owner), 0) != sizeof(owner))
		owner = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	D = &d;
	d.size = o->size;
	d.started = time(NULL);
	snprintf(d.name, sizeof(d.name), "%s", o->name);
	int bad_port = 0, bad_timeout = 0, bad_wb = 0, bad_ra = 0;
	long long port = gf_config_int(cfg, "gfmd_port", 6600, 1, 65535, &bad_port);
	long long io_ms = gf_config_int(cfg, "swap_io_timeout_ms", 5000, 100, 3600000, &bad_timeout);
	long long wb_mb = gf_config_int(cfg, "swap_write_behind_mb", 16, 0, 1024, &bad_wb);
	long long ra_mb = gf_config_int(cfg, "swap_read_ahead_mb", 4, 0, 1024, &bad_ra);
	if (bad_port || bad_timeout || bad_wb || bad_ra) {
		cmd_err(&cmd, "%s: %s", cmd_config_path(&cmd),
			bad_port      ? "gfmd_port: not a port number (1..65535)"
			: bad_timeout ? "swap_io_timeout_ms: expected 100..3600000"
			: bad_wb      ? "swap_write_behind_mb: expected 0..1024"
				      : "swap_read_ahead_mb: expected 0..1024");
		memset(&key, 0, sizeof(key));
		gf_config_free(cfg);
		return CMD_FAIL;
	}
	r = servers_init(&d.srv, &key, gf_config_hostname(cfg),
			 gf_config_str(cfg, "gfmd_host", "localhost"), (uint16_t)port,
			 (unsigned)io_ms, owner);
	memset(&key, 0, sizeof(key));
	gf_config_free(cfg);
	if (r < 0) {
		cmd_err(&cmd, "%s", strerror(-r));
		return CMD_FAIL;
	}
	if ((r = servers_refresh(&d.srv)) < 0)
		gf_warn("gfswap: host list from gfmd: %s (pages go to the fall-back file "
			"until it answers)", strerror(-r));
	fd = open(o->fallback, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)o->size) < 0) {
		cmd_err(&cmd, "fall-back file %s: %s", o->fallback, strerror(errno));
		return CMD_FAIL;
	}
	if ((r = area_init(&d.area, &d.srv, fd, o->size / GF_PAGE_SIZE, o->copies)) < 0) {
		cmd_err(&cmd, "slot map: %s", strerror(-r));
		return CMD_FAIL;
	}
	/* a quarter MiB per write-behind entry and per read-ahead window */
	if (wb_mb > 0) {
		struct wb_ops wo = { .write = wb_area_write, .written = wb_written, .arg = &d.area };
		if ((r = wb_new((unsigned)(wb_mb * 4), 4, &wo, &d.wb)) < 0) {
			cmd_err(&cmd, "write-behind buffer (%lld MiB): %s", wb_mb, strerror(-r));
			return CMD_FAIL;
		}
	}
	if (ra_mb > 0) {
		struct ra_ops ro = { .read = ra_area_peek, .arg = &d.area };
		if ((r = ra_new((unsigned)(ra_mb * 4), 2, d.area.nslots, &ro, &d.ra)) < 0) {
			cmd_err(&cmd, "read-ahead buffer (%lld MiB): %s", ra_mb, strerror(-r));
			return CMD_FAIL;
		}
	}
	snprintf(mnt, sizeof(mnt), "%s/%s/mnt", rundir(), o->name);
	mkdir(mnt, 0700);

	char *argv[] = { "gfswap", "-o", "fsname=gfswap,subtype=gfswap", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se = fuse_session_new(&args, &swap_ops, sizeof(swap_ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mnt) != 0) {
		cmd_err(&cmd, "cannot mount the area's file on %s", mnt);
		return CMD_FAIL;
	}
	/* from here on, paging out must never wait for memory. (Not under
	 * AddressSanitizer: its allocator maps terabytes it never touches,
	 * which MCL_FUTURE would lock and fill, and allocations then fail.) */
#if defined(__SANITIZE_ADDRESS__)
	if (0)
#else
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
#endif
		gf_warn("gfswap: mlockall: %s (the daemon itself may be swapped out)",
			strerror(errno));
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0)
		gf_warn("gfswap: PR_SET_IO_FLUSHER: %s", strerror(errno));
	pthread_t th;
	if ((r = pthread_create(&th, NULL, keeper, &d)) != 0) {
		cmd_err(&cmd, "refresh thread: %s", strerror(r));
		fuse_session_unmount(se);
		return CMD_FAIL;
	}
	gf_info("gfswap: area %s: %" PRIu64 " bytes on %s, owner %016" PRIx64 ", %u servers known",
		o->name, o->size, mnt, owner, d.srv.n);
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(lc, 8);
	r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	d.stop = 1;
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	pthread_join(th, NULL);
	wb_free(d.wb, 2000); /* (its flushers still tell read-ahead) */
	d.wb = NULL;
	ra_free(d.ra);
	d.ra = NULL;
	/* nothing reads the pages any more: free them on their servers */
	area_discard(&d.area, 0, d.area.nslots);
	area_destroy(&d.area);
	servers_destroy(&d.srv);
	close(fd);
	unlink(o->fallback);
	gf_info("gfswap: area %s: stopped", o->name);
	return CMD_OK;
}

/* ---- on / off / status ----------------------------------------------------------- */

static int run(const char *what, char *const argv[], int quiet)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (quiet) {
			int n = open("/dev/null", O_WRONLY);
			if (n >= 0) {
				dup2(n, 1);
				close(n);
			}
		}
		execvp(argv[0], argv);
		fprintf(stderr, "gfswap: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		cmd_err(&cmd, "%s failed (%s exited %d)", what, argv[0],
			WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return -EIO;
	}
	return 0;
}

/* The first line of path into buf (trailing newline cut); 0 or -errno. */
static int read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)cap, f)) {
		fclose(f);
		return -ENODATA;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_line(const char *path, const char *s)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%s\n", s);
	return fclose(f) == 0 ? 0 : -errno;
}

static pid_t daemon_pid(const char *dir)
{
	char p[PATH_MAX], line[64];

	snprintf(p, sizeof(p), "%s/pid", dir);
	if (read_line(p, line, sizeof(line)) < 0)
		return 0;
	pid_t pid = (pid_t)atol(line);
	return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

static int is_swap_on(const char *dev)
{
	FILE *f = fopen("/proc/swaps", "re");
	char line[512];
	int on = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, dev, strlen(dev)) && (line[strlen(dev)] == ' ' || line[strlen(dev)] == '\t'))
			on = 1;
	fclose(f);
	return on;
}

static int is_mountpoint(const char *path)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[PATH_MAX + 256], dev[256], mp[PATH_MAX];
	int yes = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %4095s", dev, mp) == 2 && !strcmp(mp, path))
			yes = 1;
	fclose(f);
	return yes;
}

/* Loop devices whose backing file is under mnt: into devs (each "/dev/loopN"). */
static int loops_of(const char *mnt, char devs[][32], int max)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char p[PATH_MAX], back[PATH_MAX];
		if (strncmp(e->d_name, "loop", 4))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", e->d_name);
		if (read_line(p, back, sizeof(back)) < 0)
			continue;
		if (!strncmp(back, mnt, strlen(mnt)) && back[strlen(mnt)] == '/' &&
		    strlen(e->d_name) < 24)
			snprintf(devs[n++], 32, "/dev/%.24s", e->d_name);
	}
	closedir(d);
	return n;
}

static int do_off(const char *name, int quiet_if_none)
{
	char dir[PATH_MAX], mnt[PATH_MAX + 8], p[PATH_MAX + 16], fb[PATH_MAX];
	char devs[16][32];
	int ndev, failed = 0, found = 0;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/%s", rundir(), name);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	if (stat(dir, &st) < 0) {
		if (!quiet_if_none)
			cmd_err(&cmd, "no swap area %s (%s: %s)", name, dir, strerror(errno));
		return quiet_if_none ? CMD_OK : CMD_FAIL;
	}
	ndev = loops_of(mnt, devs, 16);
	for (int i = 0; i < ndev; i++) {
		found = 1;
		if (is_swap_on(devs[i])) {
			char *av[] = { "swapoff", devs[i], NULL };
			int r = -EIO;
			/* pages a process that just died still had out are freed a
			 * moment later: a few tries */
			for (int t = 0; t < 5 && r < 0; t++) {
				if (t) {
					struct timespec ts = { 1, 0 };
					nanosleep(&ts, NULL);
				}
				r = run("swapoff (reading every page back)", av, 0);
			}
			if (r < 0) {
				cmd_err(&cmd, "%s stays on: a process still has pages there that "
					"cannot be read back (see /proc/*/status VmSwap)", devs[i]);
				return CMD_FAIL;
			}
		}
		char *av[] = { "losetup", "-d", devs[i], NULL };
		if (run("losetup -d", av, 0) < 0)
			failed = 1;
	}
	pid_t pid = daemon_pid(dir);
	if (pid) {
		found = 1;
		kill(pid, SIGTERM);
		for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
			struct timespec ts = { 0, 50000000 };
			waitpid(pid, NULL, WNOHANG);
			nanosleep(&ts, NULL);
		}
		if (kill(pid, 0) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, WNOHANG);
		}
	}
	if (is_mountpoint(mnt)) {
		found = 1;
		char *av[] = { "fusermount3", "-uz", mnt, NULL };
		if (run("fusermount3 -uz", av, 0) < 0)
			failed = 1;
	}
	snprintf(p, sizeof(p), "%s/fallback", dir);
	if (read_line(p, fb, sizeof(fb)) == 0)
		unlink(fb);
	rmdir(mnt);
	for (const char *f = "pid\0loop\0fallback\0size\0"; *f; f += strlen(f) + 1) {
		snprintf(p, sizeof(p), "%s/%s", dir, f);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/gfswapd.log", dir);
	char keep[PATH_MAX + 16];
	snprintf(keep, sizeof(keep), "%s/../%s.last.log", dir, name);
	rename(p, keep); /* the last daemon's log stays for a look */
	if (rmdir(dir) < 0 && errno != ENOENT) {
		cmd_err(&cmd, "%s: %s", dir, strerror(errno));
		failed = 1;
	}
	if (!quiet_if_none)
		printf("gfswap: %s off%s\n", name, found ? "" : " (nothing was running)");
	return failed ? CMD_FAIL : CMD_OK;
}

static int do_on(struct opts *o, char *self)
{
	char dir[PATH_MAX], mnt[PATH_MAX + 8], area[PATH_MAX + 16], p[PATH_MAX + 16];
	char fb[PATH_MAX], log[PATH_MAX + 16], sizes[32], prio[16], copies[8];
	struct stat st;

	mkdir(rundir(), 0700);
	snprintf(dir, sizeof(dir), "%s/%s", rundir(), o->name);
	if (daemon_pid(dir)) {
		cmd_err(&cmd, "swap area %s is already on (gfswap off --name %s first)", o->name,
			o->name);
		return CMD_FAIL;
	}
	do_off(o->name, 1); /* what a crashed one left */
	if (mkdir(dir, 0700) < 0) {
		cmd_err(&cmd, "%s: %s", dir, strerror(errno));
		return CMD_FAIL;
	}
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(area, sizeof(area), "%s/area", mnt);
	mkdir(o->fallback_dir, 0700);
	snprintf(fb, sizeof(fb), "%s/%s.pages", o->fallback_dir, o->name);
	snprintf(p, sizeof(p), "%s/fallback", dir);
	write_line(p, fb);
	snprintf(log, sizeof(log), "%s/gfswapd.log", dir);
	snprintf(sizes, sizeof(sizes), "%" PRIu64, o->size);
	snprintf(prio, sizeof(prio), "%ld", o->priority);
	snprintf(copies, sizeof(copies), "%d", o->copies);

	pid_t pid = fork();
	if (pid < 0) {
		cmd_err(&cmd, "fork: %s", strerror(errno));
		return CMD_FAIL;
	}
	if (pid == 0) {
		/* small thread stacks: the daemon locks all its memory */
		struct rlimit rl = { 1 << 20, 1 << 20 };
		setrlimit(RLIMIT_STACK, &rl);
		setsid();
		int n = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int z = open("/dev/null", O_RDONLY);
		if (n >= 0) {
			dup2(n, 1);
			dup2(n, 2);
		}
		if (z >= 0)
			dup2(z, 0);
		char *av[] = { self, "serve", "-c", (char *)cmd_config_path(&cmd), "--name",
			       (char *)o->name, "--size", sizes, "--copies", copies,
			       "--fallback-file", fb, NULL };
		execv("/proc/self/exe", av);
		_exit(127);
	}
	snprintf(p, sizeof(p), "%s/pid", dir);
	char pids[32];
	snprintf(pids, sizeof(pids), "%d", (int)pid);
	write_line(p, pids);
	/* wait for the area to appear, or the daemon to give up */
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			cmd_err(&cmd, "the daemon exited before its file appeared; see %s", log);
			do_off(o->name, 1);
			return CMD_FAIL;
		}
		if (is_mountpoint(mnt) && stat(area, &st) == 0 && (uint64_t)st.st_size == o->size)
			break;
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	/* losetup prints the device it took */
	int pfd[2];
	char dev[64] = "";
	if (pipe(pfd) == 0) {
		pid_t l = fork();
		if (l == 0) {
			dup2(pfd[1], 1);
			close(pfd[0]);
			execlp("losetup", "losetup", "--direct-io=on", "--find", "--show", area, NULL);
			_exit(127);
		}
		close(pfd[1]);
		ssize_t n = read(pfd[0], dev, sizeof(dev) - 1);
		close(pfd[0]);
		int st2 = 0;
		waitpid(l, &st2, 0);
		dev[n > 0 ? n : 0] = 0;
		dev[strcspn(dev, "\n")] = 0;
		if (!WIFEXITED(st2) || WEXITSTATUS(st2) != 0)
			dev[0] = 0;
	}
	if (!dev[0]) {
		cmd_err(&cmd, "losetup --direct-io=on of %s failed", area);
		do_off(o->name, 1);
		return CMD_FAIL;
	}
	snprintf(p, sizeof(p), "%s/loop", dir);
	write_line(p, dev);
	char *mk[] = { "mkswap", "-L", (char *)o->name, dev, NULL };
	if (run("mkswap", mk, 1) < 0) {
		do_off(o->name, 1);
		return CMD_FAIL;
	}
	char *on[] = { "swapon", "--discard=pages", "-p", prio, dev, NULL };
	if (run("swapon", on, 0) < 0) {
		do_off(o->name, 1);
		return CMD_FAIL;
	}
	printf("gfswap: %s on: %" PRIu64 " bytes of swap on %s (priority %ld, %d copies per "
	       "page; status: gfswap status --name %s)\n",
	       o->name, o->size, dev, o->priority, o->copies, o->name);
	return CMD_OK;
}

static int show_status(const char *name)
{
	char dir[PATH_MAX], p[PATH_MAX + 16], line[512], dev[64] = "";
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", rundir(), name);
	snprintf(p, sizeof(p), "%s/loop", dir);
	read_line(p, dev, sizeof(dev));
	pid_t pid = daemon_pid(dir);
	printf("%s: daemon %s, loop device %s, swap %s\n", name,
	       pid ? "running" : "NOT RUNNING", dev[0] ? dev : "none",
	       dev[0] && is_swap_on(dev) ? "on" : "off");
	if (!pid)
		return CMD_FAIL;
	snprintf(p, sizeof(p), "%s/mnt/status", dir);
	if (!(f = fopen(p, "re"))) {
		cmd_err(&cmd, "%s: %s", p, strerror(errno));
		return CMD_FAIL;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return CMD_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "priority", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "copies", required_argument, NULL, 'C' },
		{ "fallback-dir", required_argument, NULL, 'F' },
		{ "fallback-file", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .priority = 100, .name = "swap0", .copies = 2,
			  .fallback_dir = "/var/tmp/gfswap" };
	const char *sub;
	int ch, have_size = 0;

	cmd_init(&cmd, argc, argv);
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(cmd.help, stdout);
		return CMD_OK;
	}
	if (argc < 2 || argv[1][0] == '-')
		cmd_usage(&cmd, "a command is needed: on, off or status");
	sub = argv[1];
	argv[1] = argv[0];
	argc--;
	argv++;
	while ((ch = cmd_getopt(&cmd, argc, argv, "", longopts)) != -1) {
		char *end;
		switch (ch) {
		case 's':
			if (parse_size(optarg, &o.size) < 0)
				cmd_usage(&cmd, "--size %s: expected a size such as 512M or 2G",
					  optarg);
			have_size = 1;
			break;
		case 'p':
			o.priority = strtol(optarg, &end, 10);
			if (*end || end == optarg || o.priority < -1 || o.priority > 32767)
				cmd_usage(&cmd, "--priority %s: expected -1..32767", optarg);
			break;
		case 'n':
			if (!valid_name(optarg))
				cmd_usage(&cmd, "--name %s: letters, digits, '-', '_' and '.' only, "
						"at most 32, not starting with '.'", optarg);
			o.name = optarg;
			break;
		case 'C':
			o.copies = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || o.copies < 1 || o.copies > SLOT_COPIES)
				cmd_usage(&cmd, "--copies %s: expected 1 or 2", optarg);
			break;
		case 'F':
			if (optarg[0] != '/')
				cmd_usage(&cmd, "--fallback-dir %s: an absolute path is needed", optarg);
			o.fallback_dir = optarg;
			break;
		case 'B':
			o.fallback = optarg;
			break;
		}
	}
	if (optind != argc)
		cmd_usage(&cmd, "unexpected argument %s", argv[optind]);
	if (!strcmp(sub, "on") || !strcmp(sub, "serve")) {
		if (!have_size)
			cmd_usage(&cmd, "%s needs --size", sub);
		o.size -= o.size % GF_PAGE_SIZE;
		if (o.size < (1u << 20))
			cmd_usage(&cmd, "--size: at least 1M");
		if (geteuid() != 0) {
			cmd_err(&cmd, "%s: only root may add swap", sub);
			return CMD_FAIL;
		}
	}
	if (!strcmp(sub, "on"))
		return do_on(&o, argv[0]);
	if (!strcmp(sub, "serve")) {
		if (!o.fallback)
			cmd_usage(&cmd, "serve needs --fallback-file (gfswap on gives it)");
		gf_log_set_level(GF_LOG_INFO);
		return serve(&o);
	}
	if (!strcmp(sub, "off"))
		return do_off(o.name, 0);
	if (!strcmp(sub, "status")) {
		if (o.name && strcmp(o.name, "swap0"))
			return show_status(o.name);
		DIR *d = opendir(rundir());
		struct dirent *e;
		int n = 0, rc = CMD_OK;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && e->d_type == DT_DIR) {
				n++;
				if (show_status(e->d_name) != CMD_OK)
					rc = CMD_FAIL;
			}
		if (d)
			closedir(d);
		if (!n)
			printf("gfswap: no swap area is on\n");
		return rc;
	}
	cmd_usage(&cmd, "unknown command %s: expected on, off or status", sub);
}
