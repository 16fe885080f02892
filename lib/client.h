/*
 * client.h — typed calls to gfmd and gfsd for the FUSE client and commands.
 *
 * A struct gfc is one client's view of a cluster: the settings it read from
 * the configuration (gfmd address, key, this host's name, the local gfsd
 * socket), one multiplexed connection to gfmd, and a pool of connections to
 * gfsd (one per addr:port, plus the local UNIX socket). Every function is
 * safe to call from many threads at once; connections are opened lazily and
 * shared.
 *
 * Metadata calls: one function per GFM_* request. Each encodes the request
 * (proto.h), waits for the reply and decodes it; it returns 0 or a negative
 * errno (gfmd's status, or a transport/decoding error).
 *
 * When a server goes away or hangs (hard by default, like NFS). A gfmd call
 * whose connection breaks, or cannot be made, is sent again on a new
 * connection, waiting 50 ms, then twice as long each time up to 1 s (with a
 * little jitter) between attempts, until gfmd answers. A request in flight
 * that gfmd (alive but hung, e.g. SIGSTOP) leaves unanswered is waited for
 * on its connection. "gfmd HOST:PORT not responding, still trying" is
 * logged once when gfmd cannot be reached or a request has waited 10 s, and
 * "gfmd HOST:PORT OK" once it answers again. With gfmd_timeout = N seconds
 * in the configuration (soft; 0, the default, is hard) a call that has had
 * no answer N seconds after it began fails with -EIO instead — EIO, not
 * ETIMEDOUT, because applications expect EIO from file operations and
 * ETIMEDOUT from none of them; as with a soft NFS mount, a mutation that
 * timed out may still have been applied. gfc_cancel ends every such wait.
 * An answer -EAGAIN from gfmd ("not yet": it has just started and the gfsd
 * it needs have not reported, gfmd/hosts.h) is waited out the same way.
 *
 * Exactly once. Idempotent requests (lookups, reads, GETATTR, SETATTR,
 * OPEN without O_CREAT/O_TRUNC, CLOSE_WRITE, ACCESS, STATFS, xattr reads)
 * are simply sent again. Every other mutation (create, mkdir, mknod,
 * symlink, link, unlink, rmdir, rename, setxattr, removexattr, an OPEN with
 * O_CREAT or O_TRUNC, idmap set and del) goes inside GFM_ONCE (proto.h)
 * with this client's random 64-bit id and a seq of its own, and is sent
 * again with the same seq: gfmd applies it once and answers a copy from
 * what it recorded, durably with the mutation, so a reply lost in a crash
 * of gfmd is neither applied twice nor turned into a spurious EEXIST or
 * ENOENT. acked tells gfmd which seqs are settled.
 *
 * Data calls: a struct gfc_data is one open replica on one gfsd. When the
 * replica lives on this host and a local gfsd socket is configured, it is
 * opened through that socket with GFS_O_WANT_FD and reads and writes go
 * straight to the passed fd (no network bytes); gfc_data_close reports the
 * bytes so moved to gfsd. Otherwise the replica is read and written with
 * GFS_READ / GFS_WRITE over TCP. A gfsd handle belongs to its connection.
 * A writer's handle (GFS_O_WRITE) is bound to the replica gfmd named: when
 * its gfsd cannot be reached, cannot ask gfmd yet whether the replica is
 * still the file's (gfmd restarting; through the local socket too), or the
 * connection breaks (gfsd restarted),
 * the calls wait for that gfsd as gfmd calls wait for gfmd (hard, or
 * gfsd_timeout seconds when soft, then -EIO; "gfsd ADDR not responding" /
 * "OK" logged the same way), reopen the same replica (ino, file generation)
 * with GFS_O_RECLAIM — so that gfsd does not cut the writer's unpublished
 * bytes — and send the request again: a write at an offset may be written
 * twice. A writer through a passed fd keeps writing through its fd and
 * reclaims a handle for its fsync and close (gfc_data_revive as soon as
 * gfsd is back). A reader's handle fails instead (-EHOSTDOWN: no answer,
 * or none within 10 s), so that its caller can read another replica;
 * gfc_wait_gfsd paces a caller that found no replica reachable.
 */
#ifndef GF_CLIENT_H
#define GF_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "proto.h"

struct gfc;
struct gfc_conn; /* a pooled, shared gfsd connection */

/* ---- life cycle ----------------------------------------------------------- */

/*
 * Read the settings from cfg (gfmd_host, gfmd_port, key_file, gfsd_socket,
 * hostname, gfmd_timeout, gfsd_timeout) and load the key. Connects to nothing yet. kind is the peer kind
 * announced to gfmd (GF_PEER_CLIENT or GF_PEER_ADMIN). On error errbuf says
 * why; -errno.
 */
int gfc_new(const struct gf_config *cfg, uint8_t kind, struct gfc **out,
	    char *errbuf, int errlen);
/* Connect to gfmd now (it is otherwise connected on first use), once: on
 * failure errbuf says which address failed and why. */
int gfc_connect(struct gfc *c, char *errbuf, int errlen);
/* Close every connection (gfmd and gfsd); later calls reconnect. Must not
 * run concurrently with other calls (e.g. before fork()). */
void gfc_disconnect(struct gfc *c);
/* Every call waiting for an unreachable or silent server gives up (-EIO)
 * within about a second, and every later one at its first failure: for a
 * clean shutdown while a server is down. Async-signal-safe. */
void gfc_cancel(struct gfc *c);
void gfc_free(struct gfc *c);

/*
 * The directories gfmd says this client's mutations changed (proto.h
 * gfm_dirs), for a cache of their attributes: begin(arg) is called before
 * each request that may carry them is sent and returns a cookie;
 * dirs(arg, cookie, d) after its reply, before the call returns, when d
 * names any directory. Set once, before the client is used.
 */
struct gfc_dirs_hook {
	void *arg;
	uint64_t (*begin)(void *arg);
	void (*dirs)(void *arg, uint64_t cookie, const struct gfm_dirs *d);
};
void gfc_set_dirs_hook(struct gfc *c, const struct gfc_dirs_hook *h);

const char *gfc_hostname(const struct gfc *c);
const char *gfc_gfsd_socket(const struct gfc *c); /* NULL: no local fast path */

/* ---- metadata (gfmd) -------------------------------------------------------- */

int gfc_lookup(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, struct gf_attr *out);
int gfc_getattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		struct gf_attr *out);
/* req->cred must be filled in; out may be NULL. */
int gfc_setattr(struct gfc *c, const struct gfm_setattr_req *req, struct gf_attr *out);
/* mode as asked and the caller's umask: gfmd applies it unless the parent's
 * default ACL decides (gfmd/acl.h). */
int gfc_mknod(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, uint64_t rdev, uint32_t umask,
	      struct gf_attr *out);
int gfc_mkdir(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	      const char *name, uint32_t mode, uint32_t umask, struct gf_attr *out);
/* A new regular file, opened for writing: out->replicas[0] is where to write. */
int gfc_create(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, uint32_t mode, uint32_t flags, uint32_t umask,
	       struct gfm_open_rep *out);
int gfc_unlink(struct gfc *c, const struct gf_cred *cr, uint64_t parent, const char *name);
int gfc_rmdir(struct gfc *c, const struct gf_cred *cr, uint64_t parent, const char *name);
int gfc_rename(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
	       const char *name, uint64_t newparent, const char *newname, uint32_t flags);
int gfc_link(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
	     uint64_t newparent, const char *newname, struct gf_attr *out);
int gfc_symlink(struct gfc *c, const struct gf_cred *cr, uint64_t parent,
		const char *name, const char *target, struct gf_attr *out);
/* target: GF_PATH_MAX bytes, NUL-terminated on success. */
int gfc_readlink(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 char target[GF_PATH_MAX]);
/* Entries after cookie (0: from the start). Free out with gfm_readdir_rep_free. */
int gfc_readdir(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		uint64_t cookie, uint32_t max, struct gfm_readdir_rep *out);
/* flags are open(2) flags. out is large (see gfm_open_rep): heap-allocate. */
int gfc_open(struct gfc *c, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
	     struct gfm_open_rep *out);
/* A writer's bytes become part of the file: size = max(size, end) (see
 * gfm_close_write_req); mtime (may be NULL) is set with GF_CW_MTIME, the
 * file's st_blocks to blocks with GF_CW_BLOCKS. *out (may be NULL): the
 * file's attributes once that is done. */
int gfc_close_write(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		    uint64_t fgen, uint64_t end, const struct gf_timespec *mtime,
		    uint32_t flags, uint64_t blocks, struct gf_attr *out);
int gfc_statfs(struct gfc *c, const struct gf_cred *cr, struct gfm_statfs_rep *out);
/* Returns once every mutation gfmd acknowledged before this call is on disk
 * (fsync, fsyncdir; gfmd's durability mode decides whether that waits). */
int gfc_sync(struct gfc *c);
/* A handle opened for writing (open flags O_WRONLY, O_RDWR or O_TRUNC) on
 * this client's connection is closed (GFM_RELEASE). */
int gfc_release(struct gfc *c, const struct gf_cred *cr, uint64_t ino);
/* One more replica (GFM_REPLICATE, proto.h): waits as long as the copy
 * takes. */
int gfc_replicate(struct gfc *c, const struct gfm_replicate_req *m,
		  struct gfm_replicate_rep *out);
/* Start or stop draining a host (GFM_HOST_DRAIN, proto.h). */
int gfc_host_drain(struct gfc *c, const struct gfm_host_drain_req *m);
/* Remove a current replica (GFM_REPLICA_DROP, proto.h). */
int gfc_replica_drop(struct gfc *c, const struct gfm_replica_drop_req *m);
int gfc_setxattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 const char *name, const void *value, size_t len, uint32_t flags);
/*
 * Value (getxattr) or NUL-separated name list (listxattr) into buf of size
 * bytes. size 0 asks only the length. *len is the full length; a value
 * longer than a non-zero size is -ERANGE.
 */
int gfc_getxattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 const char *name, void *buf, size_t size, size_t *len);
int gfc_listxattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		  void *buf, size_t size, size_t *len);
int gfc_removexattr(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		    const char *name);
int gfc_access(struct gfc *c, const struct gf_cred *cr, uint64_t ino, uint32_t mask);
/* This client's exactly-once id (the lease holder's name, proto.h). */
uint64_t gfc_client_id(const struct gfc *c);
/* GFM_DIR_LEASE for this client: *names (malloc'd, NULL when none; out->names
 * points to it) holds the names unless the lease was renewed. */
int gfc_dir_lease(struct gfc *c, const struct gf_cred *cr, uint64_t dir, uint64_t renew,
		  struct gfm_dir_lease_rep *out, char **names);
/* GFM_LEASE_POLL (m->client names the holder, which may be another gfc's
 * id): one attempt, never sent again, so that a broken connection is seen
 * (a transport error: the holder must drop every lease). */
int gfc_lease_poll(struct gfc *c, const struct gfm_lease_poll_req *m,
		   struct gfm_lease_poll_rep *out);
/* Every replica of ino, up hosts first (this host first among them), then
 * those on down hosts, with the file's attributes. out is large: heap. */
/*
 * File locks (proto.h GFM_LOCK), for the mount's fcntl and flock: m->client
 * is this client's id (filled in). GF_LK_GET fills *out with the lock that
 * would block (type GF_LK_UNLCK: none); GF_LK_SET is -EAGAIN when a lock is
 * in the way. GF_LK_SETW waits as long as the lock is held elsewhere
 * (gfmd_timeout bounds reaching gfmd, not that wait), calling waiting(arg)
 * every 0.1 s meanwhile (NULL: nothing); gfc_lock_cancel (same inode and
 * owner) ends it with -EINTR. A cancel that reaches gfmd before the wait
 * does finds nothing: send it again from waiting() until the wait ends.
 */
int gfc_lock(struct gfc *c, struct gfm_lock_req *m, struct gfm_lock_rep *out,
	     void (*waiting)(void *arg), void *arg);
int gfc_lock_cancel(struct gfc *c, struct gfm_lock_req *m);
int gfc_replicas(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		 struct gfm_open_rep *out);

/* Hosts (admin commands). Free out with gfm_host_list_rep_free. */
int gfc_host_list(struct gfc *c, struct gfm_host_list_rep *out);
/*
 * The host list from gfmd at host:port over a connection of its own, made
 * for this one call (3 s to connect, 5 s for the reply), as kind from
 * my_host: for daemons that keep no gfc (gfsd's page pager, gfswap).
 * 0 and *out (free with gfm_host_list_rep_free), or -errno.
 */
int gf_host_list_once(const char *host, uint16_t port, const struct gf_key *key, uint8_t kind,
		      const char *my_host, struct gfm_host_list_rep *out);
/* The replica files a host should hold (GFM_HOST_REPLICAS; admin). */
int gfc_host_replicas(struct gfc *c, const struct gfm_host_replicas_req *m,
		      struct gfm_host_replicas_rep *out);
/* As gfc_replicas, stale replicas (gen below the file's) too. */
int gfc_replicas_all(struct gfc *c, const struct gf_cred *cr, uint64_t ino,
		     struct gfm_open_rep *out);

/* Users and groups by name (proto.h GFM_IDMAP_*, lib/idmap.h). Free out with
 * gfm_idmap_list_rep_free. set and del need cr->uid 0 (else -EPERM). */
int gfc_idmap_list(struct gfc *c, struct gfm_idmap_list_rep *out);
int gfc_idmap_set(struct gfc *c, const struct gf_cred *cr, uint8_t kind,
		  const char *name, uint32_t id, int replace);
int gfc_idmap_del(struct gfc *c, const struct gf_cred *cr, uint8_t kind,
		  const char *name);

/* ---- data (gfsd) ------------------------------------------------------------ */

struct gfc_data {
	struct gfc *gfc;       /* NULL: not open */
	struct gfc_conn *conn; /* the gfsd connection the handle belongs to */
	uint64_t handle;       /* gfsd's handle */
	uint64_t size;	       /* replica size when opened */
	int fd;		       /* local replica fd, or -1 (remote); never changes */
	uint32_t flags;	       /* GFS_O_* asked for */
	/* bytes moved through fd, reported in GFS_CLOSE */
	uint64_t local_read, local_written; /* updated atomically */
	/* the replica, to reopen it (writers) */
	uint64_t ino, fgen;
	char addr[GF_HOST_MAX + 1];
	uint16_t port;
	int via_socket;		/* opened through the local gfsd socket */
	pthread_rwlock_t lock;	/* conn and handle: shared by calls, taken to reclaim */
	unsigned epoch;		/* reclaims so far */
	uint64_t revive_at_ms;	/* gfc_data_revive: next look */
	/* a reader through fd checks what it reads against the replica's
	 * sums (proto.h GFS_SUMS): a window of them, asked for as needed */
	pthread_mutex_t sums_lock;
	int8_t sums_state; /* 0: not asked yet; 1: the window holds sums; -1: none */
	uint8_t sums_pending; /* none because gfsd is writing them now: ask again */
	uint64_t sums_size, sums_first;
	uint32_t sums_count;
	uint64_t *sums;
};

/*
 * Open replica r of file ino (its spool file ino-r->fgen) on its gfsd with
 * GFS_O_* flags. Uses the local socket and fd passing when r->host is this
 * host and a gfsd socket is configured (falling back to TCP if that cannot
 * be reached). A writer waits for its gfsd (hard/soft, see above); a
 * reader gets -EHOSTDOWN when the gfsd cannot be reached. A writer's open
 * may be refused with -ESTALE: the replica is no longer the file's.
 */
int gfc_data_open(struct gfc *c, const struct gf_replica *r, uint64_t ino,
		  uint32_t flags, struct gfc_data *h);
/* Up to len bytes at off into buf; *got may be short at the replica's end.
 * A reader whose gfsd stopped answering: -EHOSTDOWN. A reader's data that
 * fails its checksum (proto.h GFS_SUMS): -EBADMSG, never the data — read
 * another replica. A reader through a passed fd checks the blocks itself
 * and has gfsd read one that fails (gfsd judges: it may have been rewritten
 * meanwhile, or it is corrupt). */
int gfc_data_read(struct gfc_data *h, void *buf, size_t len, uint64_t off, size_t *got);
/* gfc_data_read, and *checked = 1 when the bytes came through h's passed fd
 * and every 64 KiB block they touch was read whole from it and matched its
 * sum (0 otherwise: unchecked, or read through gfsd). */
int gfc_data_read_checked(struct gfc_data *h, void *buf, size_t len, uint64_t off,
			  size_t *got, int *checked);
/*
 * Write all len bytes at off, or at the replica's end when h was opened
 * with GFS_O_APPEND (off is ignored then). *end (may be NULL): where the
 * file ends after the write (off + len unless appending; appending, the
 * replica's size, which other appenders may have moved further).
 */
int gfc_data_write(struct gfc_data *h, const void *buf, size_t len, uint64_t off,
		   uint64_t *end);
/* fallocate(2) on the replica: mode as gf_falloc_mode_ok (proto.h), else
 * -EOPNOTSUPP before anything is done. */
int gfc_data_fallocate(struct gfc_data *h, uint32_t mode, uint64_t off, uint64_t len);
/* lseek(2) SEEK_DATA or SEEK_HOLE on the replica: *out, or -ENXIO. */
int gfc_data_seek(struct gfc_data *h, uint64_t off, int whence, uint64_t *out);
/* The replica's size and st_blocks (512-byte units it takes on disk). */
int gfc_data_fstat(struct gfc_data *h, uint64_t *size, uint64_t *blocks);
/* After a write through h's passed fd by the caller itself: *end as above
 * when h appends (the replica's size), else left alone. */
int gfc_data_end(struct gfc_data *h, uint64_t *end);
int gfc_data_truncate(struct gfc_data *h, uint64_t size);
/* Data (and a new replica file's name) on disk at gfsd: local replicas too. */
int gfc_data_fsync(struct gfc_data *h);
/* GFS_CLOSE (with local byte counts), closes the fd, releases the connection.
 * h is unusable afterwards whatever the result. */
int gfc_data_close(struct gfc_data *h);
/* 1 when reads through h->fd must go through gfc_data_read to be checked
 * (the replica is sealed: it has sums); 0 when the caller may move bytes
 * through h->fd itself (splice): a writer's handle, an unsealed replica. */
int gfc_data_checks(struct gfc_data *h);
/* 1 when gfc_data_checks found sums for h's replica and they describe
 * exactly size bytes (sealed at that size); 0 otherwise. */
int gfc_data_sums_cover(struct gfc_data *h, uint64_t size);
/*
 * A checked read of [off, off+len) of reader h's local replica from memory
 * the caller holds (a mapping of it, fuse/readpin.h): the span of whole
 * blocks to check, [a, b) (b is the replica's end if that comes first),
 * the bytes it serves, [off, e), and the sums of its blocks, want[0..] for
 * blocks a / GF_CSUM_BLOCK on (free it). 0 when *sp is filled; 1: the
 * replica has no sums (read it unchecked); 2: read it through
 * gfc_data_read (no passed fd, sums of another size, none to be had).
 * A span that fails its check: read it through gfc_data_read, which has
 * gfsd judge it.
 */
struct gfc_span {
	uint64_t a, b, e;
	uint64_t *want;
};
int gfc_data_local_sums(struct gfc_data *h, uint64_t off, size_t len, struct gfc_span *sp);
/* Callers that move bytes through h->fd themselves (splice) account here. */
void gfc_data_account_local(struct gfc_data *h, uint64_t read, uint64_t written);
/* A writer through a passed fd writes: if its gfsd connection broke, reclaim
 * the handle now if gfsd is back (one attempt, at most every 200 ms). */
void gfc_data_revive(struct gfc_data *h);

/*
 * Pacing a caller that found no replica reachable (readers): start once,
 * then gfc_wait_gfsd after each round that reached none: 0 after the
 * backoff (try again), -EIO once gfsd_timeout has passed since the start
 * (soft) or the client was cancelled.
 */
struct gfc_wait {
	struct gfc *gfc;
	struct timespec start;
	unsigned backoff_ms;
};
void gfc_wait_start(struct gfc *c, struct gfc_wait *w);
int gfc_wait_gfsd(struct gfc_wait *w, const char *what);

/* GFS_STATS of the gfsd at addr:port (port 0: addr is a UNIX socket path). */
/* A gfsd's spool listing (GFS_LIST), and an orphan scan there now
 * (GFS_ORPHAN_SCAN); admin clients only. */
int gfc_gfsd_list(struct gfc *c, const char *addr, uint16_t port, const struct gfs_list_req *m,
		  struct gfs_list_rep *out);
int gfc_gfsd_orphan_scan(struct gfc *c, const char *addr, uint16_t port);
/* GFS_VERIFY of replica m->ino-m->fgen at that gfsd (admin clients only). */
int gfc_gfsd_verify(struct gfc *c, const char *addr, uint16_t port,
		    const struct gfs_verify_req *m, struct gfs_verify_rep *out);
int gfc_gfsd_stats(struct gfc *c, const char *addr, uint16_t port,
		   struct gfs_stats_rep *out);
/* GFS_PAGE_STATS of the gfsd at addr:port: its swap page cache. */
int gfc_gfsd_page_stats(struct gfc *c, const char *addr, uint16_t port,
			struct gfs_page_stats_rep *out);
/* GFS_PAGE_CAP (admin clients only): lend at most pages (UINT64_MAX: all). */
int gfc_gfsd_page_cap(struct gfc *c, const char *addr, uint16_t port, uint64_t pages);

/* ---- counters ----------------------------------------------------------------- */

#define GFC_OPS_COUNTED 256 /* gfmd calls are counted per op code below this */
struct gfc_stats {
	uint64_t read_local, read_remote;	/* bytes */
	uint64_t written_local, written_remote; /* bytes */
	uint64_t gfmd_calls, gfmd_reconnects;
	uint64_t gfmd_ops[GFC_OPS_COUNTED]; /* gfmd calls by op code (enum gf_op) */
};
void gfc_get_stats(struct gfc *c, struct gfc_stats *out);

#endif
