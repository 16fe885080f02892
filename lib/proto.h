/*
 * proto.h — the one wire protocol of gfarmfs.
 *
 * Every connection (client↔gfmd, client↔gfsd, gfsd↔gfmd, later gfsd↔gfsd)
 * carries frames. A frame is a fixed 16-byte header followed by `len` bytes
 * of payload:
 *
 *     u32 len       payload length, at most GF_MAX_PAYLOAD
 *     u16 version   GF_PROTO_VERSION
 *     u16 op        opcode; a reply carries op | GF_OP_REPLY
 *     u32 reqid     chosen by the requester, echoed in the reply; many
 *                   requests may be in flight on one connection and replies
 *                   may come back in any order
 *     i32 status    0 in a request; in a reply 0 or a negative errno, in
 *                   which case the payload is empty
 *
 * The header is big-endian like every field (see wire.h). Each message has
 * one struct and one encode and one decode function here; a decoder checks
 * every bound and that the payload is consumed exactly, returning -EBADMSG
 * otherwise, so each can be fed to a fuzzer on its own.
 *
 * A connection starts with authentication (auth.h): HELLO from the server,
 * AUTH from the client, AUTH_OK from the server, all with reqid 0. Nothing
 * else is served before that.
 */
#ifndef GF_PROTO_H
#define GF_PROTO_H

#include <stdint.h>

#include "wire.h"

#define GF_PROTO_VERSION 12
#define GF_HDR_SIZE 16
#define GF_MAX_IO (1u << 20)		 /* largest READ/WRITE data block */
#define GF_MAX_PAYLOAD (GF_MAX_IO + 65536u) /* anything larger is refused */
#define GF_OP_REPLY 0x8000u

#define GF_NAME_MAX 255
#define GF_PATH_MAX 4096
#define GF_HOST_MAX 255
#define GF_XATTR_NAME_MAX 255
#define GF_XATTR_SIZE_MAX 65536
#define GF_MAX_GROUPS 64
#define GF_NONCE_LEN 32
#define GF_MAC_LEN 32
#define GF_ROOT_INO 1
#define GF_READDIR_MAX 1024	/* entries per READDIR reply at most */
#define GF_MAX_REPLICAS 64
#define GF_MAX_DEAD 1024	/* replica deletions per HEARTBEAT reply */
#define GF_MAX_BAD 64		/* corrupt replicas reported per HEARTBEAT */
#define GF_HOST_REPLICAS_MAX 16384 /* entries per GFM_HOST_REPLICAS reply */
#define GFS_LIST_MAX 16384	   /* entries per GFS_LIST reply */

struct gf_hdr {
	uint32_t len;
	uint16_t version;
	uint16_t op;
	uint32_t reqid;
	int32_t status;
};

void gf_hdr_encode(const struct gf_hdr *h, uint8_t out[GF_HDR_SIZE]);
/* Decodes and validates version and length: -EPROTO or -EMSGSIZE. */
int gf_hdr_decode(const uint8_t in[GF_HDR_SIZE], struct gf_hdr *h);

enum gf_op {
	/* handshake (auth.h) */
	GF_OP_HELLO = 1,
	GF_OP_AUTH = 2,
	GF_OP_AUTH_OK = 3,

	/* client → gfmd: namespace */
	GFM_LOOKUP = 100,
	GFM_GETATTR,
	GFM_SETATTR,
	GFM_MKNOD,
	GFM_MKDIR,
	GFM_CREATE,
	GFM_UNLINK, /* gfm_name_req → gfm_dirs_rep */
	GFM_RMDIR,  /* gfm_name_req → gfm_dirs_rep */
	GFM_RENAME, /* gfm_rename_req → gfm_dirs_rep */
	GFM_LINK,
	GFM_SYMLINK,
	GFM_READLINK,
	GFM_READDIR,
	GFM_OPEN,
	GFM_CLOSE_WRITE,
	GFM_STATFS,
	GFM_SETXATTR,
	GFM_GETXATTR,
	GFM_LISTXATTR,
	GFM_REMOVEXATTR,
	GFM_ACCESS,
	GFM_REPLICAS, /* gfm_ino_req → gfm_open_rep: every current replica, up or down */
	GFM_LOCK,     /* gfm_lock_req → gfm_lock_rep: fcntl and flock locks */
	GFM_LOCK_CANCEL, /* gfm_lock_req (its inode and owner) → empty */
	/* gfm_ino_req → empty: a handle this connection opened for writing
	 * (GFM_OPEN, GFM_CREATE) is closed; gfmd copies no file while one is open */
	GFM_RELEASE,
	GFM_REPLICATE,	  /* gfm_replicate_req → gfm_replicate_rep: one more replica */
	GFM_REPLICA_DROP, /* gfm_replica_drop_req → empty: remove a current replica */
	GFM_REPLICAS_ALL, /* gfm_ino_req → gfm_open_rep: as REPLICAS, stale ones too */
	/* empty → empty, once every mutation acknowledged before it is durable
	 * (fsync, fsyncdir): in gfmd's durability = fsync mode a flush, else
	 * at once (every reply already waited for one) */
	GFM_SYNC,
	GFM_DIR_LEASE,	/* gfm_dir_lease_req → gfm_dir_lease_rep (v12, gfmd/leases.h) */
	GFM_LEASE_POLL, /* gfm_lease_poll_req → gfm_lease_poll_rep (v12) */
	GFM_ONCE = 190, /* gfm_once_req → the reply of the request inside: exactly once */

	/* gfsd and admin commands → gfmd: hosts */
	GFM_HOST_REGISTER = 200,
	GFM_HEARTBEAT,
	GFM_HOST_LIST,
	GFM_HOST_REPLICAS, /* gfsd, admin: gfm_host_replicas_req → _rep */
	GFM_HOST_DRAIN,	   /* admin, uid 0: gfm_host_drain_req → empty */

	/* admin commands and mounts → gfmd: users and groups by name */
	GFM_IDMAP_LIST = 230, /* empty request → gfm_idmap_list_rep */
	GFM_IDMAP_SET,	      /* gfm_idmap_set_req → empty (uid 0 only) */
	GFM_IDMAP_DEL,	      /* gfm_idmap_del_req → empty (uid 0 only) */

	/* client → gfsd: data */
	GFS_OPEN = 300,
	GFS_READ,
	GFS_WRITE,
	GFS_TRUNCATE,
	GFS_FSYNC,
	GFS_CLOSE,
	GFS_STATS,
	GFS_FALLOCATE, /* gfs_fallocate_req → empty */
	GFS_SEEK,      /* gfs_seek_req → gfs_seek_rep: SEEK_DATA, SEEK_HOLE */
	GFS_FSTAT,     /* gfs_handle_req → gfs_fstat_rep */
	GFS_REPLICATE, /* gfmd only: gfs_replicate_req → gfs_replicate_rep */
	GFS_LIST,      /* admin, gfmd: gfs_list_req → gfs_list_rep (gffsck) */
	GFS_ORPHAN_SCAN, /* admin, gfmd: empty → empty: an orphan scan now */
	GFS_SUMS,	 /* gfs_sums_req → gfs_sums_rep: block checksums of a handle's replica */
	GFS_VERIFY,	 /* admin, gfmd: gfs_verify_req → gfs_verify_rep (gffsck) */

	/* gfswap → gfsd: the page service (network swap, gfsd/pages.h) */
	GFS_PAGE_PUT = 350, /* gfs_page_put_req → empty; -ENOSPC: no room */
	GFS_PAGE_GET,	    /* gfs_page_get_req → gfs_page_get_rep */
	GFS_PAGE_INVALIDATE, /* gfs_page_inval_req → gfs_page_inval_rep */
	GFS_PAGE_STATS,	    /* empty → gfs_page_stats_rep */
	GFS_PAGE_UPDATES,   /* gfs_page_updates_req → gfs_page_updates_rep */
	GFS_PAGE_CAP,	    /* admin: gfs_page_cap_req → empty */
	GFS_PAGE_PUNT,	    /* gfsd only: gfs_page_punt_req → empty; as PUT */
};

/* Name of an opcode for logs ("GFM_LOOKUP", "reply to GFS_READ" is op|REPLY). */
const char *gf_op_name(uint16_t op);

/* ---- shared types ------------------------------------------------------ */

/* Who is asking: gfmd checks permissions against this for every request. */
struct gf_cred {
	uint32_t uid;
	uint32_t gid;
	uint32_t ngroups;
	uint32_t groups[GF_MAX_GROUPS];
};

/* 12 bytes, 4-aligned (no tail padding): gfmd keeps three in every inode's
 * attributes, a million times over. Never take the address of sec. */
struct __attribute__((packed, aligned(4))) gf_timespec {
	int64_t sec;
	uint32_t nsec;
};

struct gf_attr {
	uint64_t ino;
	uint32_t mode; /* S_IFMT bits and permission bits */
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t rdev;
	uint64_t gen; /* data generation: a new one at every write-open and truncate */
	uint64_t blocks; /* regular files: 512-byte units the data takes on disk */
	struct gf_timespec atime, mtime, ctime;
};
/* An attribute block as every message carries it (the layout at the top of
 * proto.c); get marks r failed on a bad nsec. */
void gf_put_attr(struct gf_wbuf *w, const struct gf_attr *a);
void gf_get_attr(struct gf_rbuf *r, struct gf_attr *a);

/*
 * Where a replica of a file lives. gen is the data generation it holds (gfmd
 * hands out current ones only); fgen names its spool file ino-fgen on that
 * host and never changes while the replica lives, so that a name, once
 * dead, is never used again for other data.
 */
struct gf_replica {
	uint32_t host_id;
	uint64_t gen;
	uint64_t fgen;
	uint16_t port;
	char host[GF_HOST_MAX + 1];  /* registered host name */
	char addr[GF_HOST_MAX + 1];  /* address to connect to */
};

/* ---- handshake --------------------------------------------------------- */

enum gf_peer_kind {
	GF_PEER_CLIENT = 1,
	GF_PEER_GFSD = 2,
	GF_PEER_ADMIN = 3,
	GF_PEER_GFMD = 4, /* gfmd giving a gfsd work (GFS_REPLICATE) */
};

struct gf_msg_hello {
	uint8_t nonce[GF_NONCE_LEN];
};
struct gf_msg_auth {
	uint8_t nonce[GF_NONCE_LEN];
	uint8_t mac[GF_MAC_LEN];
	uint8_t peer_kind;
	char host[GF_HOST_MAX + 1]; /* the host the peer runs on */
};
struct gf_msg_auth_ok {
	uint8_t mac[GF_MAC_LEN];
};

/* ---- gfmd namespace requests --------------------------------------------
 * Each request starts with the caller's credentials. Replies named *_rep.
 */

struct gfm_name_req { /* LOOKUP, UNLINK, RMDIR */
	struct gf_cred cred;
	uint64_t parent;
	char name[GF_NAME_MAX + 1];
};
struct gfm_ino_req { /* GETATTR, READLINK, LISTXATTR, REPLICAS */
	struct gf_cred cred;
	uint64_t ino;
};
/*
 * The directories a namespace mutation changed, as that mutation left them
 * (v7): a client may answer its kernel's next GETATTR of one of them itself
 * for up to its attribute timeout, as the kernel would have cached them.
 * forget: directories the mutation changed or removed whose attributes are
 * not given (the client drops what it has of them); forget_all: more
 * changed than fit (drop every directory cached). Replies that change no
 * directory, and answers to resent requests, give none.
 */
#define GFM_DIRS_MAX 3
#define GFM_DIRS_FORGET_MAX 2
struct gfm_dirs {
	uint8_t n, nforget, forget_all;
	struct gf_attr attr[GFM_DIRS_MAX];
	uint64_t forget[GFM_DIRS_FORGET_MAX];
};

struct gfm_attr_rep { /* LOOKUP, GETATTR, SETATTR, MKNOD, MKDIR, LINK, SYMLINK */
	struct gf_attr attr;
	struct gfm_dirs dirs; /* mutations only */
};
struct gfm_dirs_rep { /* UNLINK, RMDIR, RENAME */
	struct gfm_dirs dirs;
};

enum gfm_setattr_valid {
	GF_SET_MODE = 1u << 0,
	GF_SET_UID = 1u << 1,
	GF_SET_GID = 1u << 2,
	GF_SET_SIZE = 1u << 3,
	GF_SET_ATIME = 1u << 4,
	GF_SET_MTIME = 1u << 5,
	GF_SET_ATIME_NOW = 1u << 6,
	GF_SET_MTIME_NOW = 1u << 7,
	GF_SET_CTIME = 1u << 8,
	/* with GF_SET_SIZE: the caller truncates through a descriptor it holds
	 * open for writing (ftruncate), so no write permission is checked */
	GF_SET_SIZE_FH = 1u << 9,
	/* a write by someone but root: clear set-user-ID and set-group-ID
	 * (if group-executable or the writer is not in the file's group) as
	 * ext4 does; needs write permission, changes nothing else */
	GF_SET_KILL_SUID = 1u << 10,
	/* a SETATTR that sets nothing: chown(path, -1, -1), or the kernel
	 * taking set-ID bits before a write. The ctime moves and set-ID bits
	 * go as a chown takes them; anyone may, unless bits would go: then
	 * the owner, root, or someone with write permission */
	GF_SET_TOUCH = 1u << 11,
};
struct gfm_setattr_req {
	struct gf_cred cred;
	uint64_t ino;
	uint32_t valid; /* gfm_setattr_valid bits */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct gf_timespec atime, mtime, ctime;
};

struct gfm_mknod_req { /* MKNOD (any non-directory type), MKDIR */
	struct gf_cred cred;
	uint64_t parent;
	char name[GF_NAME_MAX + 1];
	uint32_t mode;	/* S_IFMT | permissions as asked, before the umask */
	uint64_t rdev;
	uint32_t umask; /* the caller's: gfmd applies it unless a default ACL rules */
};

struct gfm_create_req { /* CREATE: a regular file, opened */
	struct gf_cred cred;
	uint64_t parent;
	char name[GF_NAME_MAX + 1];
	uint32_t mode;	/* as asked, before the umask */
	uint32_t flags; /* open(2) flags: O_EXCL etc. */
	uint32_t umask; /* as in gfm_mknod_req */
};
struct gfm_open_rep { /* CREATE, OPEN, REPLICAS */
	struct gf_attr attr;
	struct gfm_dirs dirs; /* CREATE of a new file only */
	uint32_t nreplicas; /* for writes: exactly one, where to write */
	struct gf_replica replicas[GF_MAX_REPLICAS];
	/* for writes: the file's writers just after this open counted (1: no
	 * other writer has it open now; one that opens later makes a new
	 * generation); 0 for a reader */
	uint32_t writers;
};

struct gfm_rename_req {
	struct gf_cred cred;
	uint64_t parent;
	char name[GF_NAME_MAX + 1];
	uint64_t newparent;
	char newname[GF_NAME_MAX + 1];
	uint32_t flags; /* RENAME_NOREPLACE, RENAME_EXCHANGE */
};

struct gfm_link_req {
	struct gf_cred cred;
	uint64_t ino;
	uint64_t newparent;
	char newname[GF_NAME_MAX + 1];
};

struct gfm_symlink_req {
	struct gf_cred cred;
	uint64_t parent;
	char name[GF_NAME_MAX + 1];
	char target[GF_PATH_MAX];
};
struct gfm_readlink_rep {
	char target[GF_PATH_MAX];
};

struct gfm_readdir_req {
	struct gf_cred cred;
	uint64_t ino;
	uint64_t cookie; /* 0 = from the start; else the cookie of the last entry seen */
	uint32_t max;	 /* at most GF_READDIR_MAX */
};
struct gfm_dirent {
	uint64_t cookie; /* pass back to continue after this entry */
	char name[GF_NAME_MAX + 1];
	struct gf_attr attr;
};
/* Entries are heap-allocated by the decoder; free with gfm_readdir_rep_free. */
struct gfm_readdir_rep {
	uint32_t count;
	uint8_t eof;
	struct gfm_dirent *ents;
};
void gfm_readdir_rep_free(struct gfm_readdir_rep *m);

struct gfm_open_req {
	struct gf_cred cred;
	uint64_t ino;
	uint32_t flags; /* open(2) flags */
};

/*
 * After data was written (flush, fsync, close): the writer's bytes become
 * part of the file. end is the end of the furthest byte it wrote since open
 * (cut by its own truncates): gfmd's size becomes max(size, end). fgen names
 * the replica written; a replica that died meanwhile is -ESTALE.
 */
enum gfm_close_write_flags {
	GF_CW_MTIME = 1u << 0, /* set mtime (else it stays as it is) */
	GF_CW_BLOCKS = 1u << 1, /* blocks: what the replica takes on disk now */
	/* (v11) the reply waits, as GFM_SYNC's does, until every change
	 * acknowledged before it is durable, this one included: fsync's */
	GF_CW_SYNC = 1u << 2,
	/* (v11) fdatasync's: when the file's size already covers end, nothing
	 * changes (no mtime, ctime, blocks; the writer tells those later) and
	 * the reply carries the attributes as they are; else as without it */
	GF_CW_DATASYNC = 1u << 3,
};
struct gfm_close_write_req {
	struct gf_cred cred;
	uint64_t ino;
	uint64_t fgen;
	uint64_t end;
	struct gf_timespec mtime;
	uint32_t flags; /* gfm_close_write_flags */
	uint64_t blocks; /* GF_CW_BLOCKS */
};

struct gfm_statfs_rep {
	uint64_t bsize;
	uint64_t blocks, bfree, bavail;
	uint64_t files, ffree;
	uint32_t namemax;
};

struct gfm_xattr_req { /* SETXATTR, GETXATTR, REMOVEXATTR */
	struct gf_cred cred;
	uint64_t ino;
	char name[GF_XATTR_NAME_MAX + 1];
	uint32_t flags;	      /* XATTR_CREATE / XATTR_REPLACE for SETXATTR */
	uint32_t size;	      /* GETXATTR: caller's buffer size (0 = ask size) */
	uint32_t value_len;   /* SETXATTR */
	const uint8_t *value; /* SETXATTR; decoded: points into the frame */
};
struct gfm_xattr_rep { /* GETXATTR, LISTXATTR: value or NUL-separated names */
	uint32_t len;	      /* full length of the value */
	uint32_t data_len;    /* bytes carried (0 when the caller asked size) */
	const uint8_t *data;  /* decoded: points into the frame */
};

struct gfm_access_req {
	struct gf_cred cred;
	uint64_t ino;
	uint32_t mask; /* R_OK | W_OK | X_OK or F_OK */
};

/* ---- gfmd host registry -------------------------------------------------- */

struct gfm_host_register_req {
	char name[GF_HOST_MAX + 1];
	char addr[GF_HOST_MAX + 1];
	uint16_t port;
	uint64_t capacity; /* bytes */
	uint64_t free;	   /* bytes */
};
#define GF_CLUSTER_ID_LEN 16
struct gfm_host_register_rep {
	uint32_t host_id;
	uint32_t heartbeat_ms; /* how often gfmd expects a heartbeat */
	/* gfmd's cluster (a UUID made at its first start, kept in the database):
	 * a gfsd whose spool belongs to another cluster must not serve it */
	uint8_t cluster_id[GF_CLUSTER_ID_LEN];
};

/* A file's replica count, and a directory's for what is made below it
 * (gfmd/namespace.h says how it is kept). */
#define GF_NCOPY_XATTR "user.gfarm.ncopy"
/* The count in such an xattr's value (decimal, 1 to GF_MAX_REPLICAS, then
 * optional blanks and newlines), or 0 when it is not a valid one. */
uint32_t gf_ncopy_parse(const void *val, size_t len);

/* The data generation of a replica found corrupt, which gfmd keeps (never
 * serves nor counts) until another copy replaces it; real ones start at 1. */
#define GF_GEN_CORRUPT 0

/* A replica file by name (ino, gen = its spool file's generation, fgen). */
struct gf_dead_replica {
	uint64_t ino;
	uint64_t gen;
};
struct gfm_heartbeat_req {
	uint32_t host_id;
	uint64_t capacity;
	uint64_t free;
	uint32_t load_milli; /* 1-minute load average × 1000 */
	uint32_t ndone;	     /* deletions done since the last heartbeat */
	struct gf_dead_replica done[GF_MAX_DEAD];
	/* replicas found corrupt (a block failed its checksum) since the last
	 * heartbeat gfmd answered */
	uint32_t nbad;
	struct gf_dead_replica bad[GF_MAX_BAD];
	/* the page service (network swap): pages it could hold, and how many
	 * of them are free now (what gfswap clients choose servers by) */
	uint64_t swap_total, swap_free;
};
struct gfm_heartbeat_rep {
	uint32_t ndead; /* replicas this host should delete */
	struct gf_dead_replica dead[GF_MAX_DEAD];
};

struct gf_host_info {
	uint32_t host_id;
	char name[GF_HOST_MAX + 1];
	char addr[GF_HOST_MAX + 1];
	uint16_t port;
	uint8_t up;
	uint64_t capacity, free;
	uint32_t load_milli;
	int64_t last_seen; /* unix seconds */
	uint64_t nreplicas;
	uint8_t draining; /* its replicas are being moved off; no new data */
	uint64_t swap_total, swap_free; /* swap pages, as its last heartbeat said */
};
/* Heap-allocated by the decoder; free with gfm_host_list_rep_free. */
struct gfm_host_list_rep {
	uint32_t count;
	struct gf_host_info *hosts;
};
void gfm_host_list_rep_free(struct gfm_host_list_rep *m);

/*
 * The replica files a host should hold (its live replicas, current or not),
 * in inode order after `after`: what a gfsd compares its spool with to find
 * orphans. Only committed state is reported.
 */
struct gfm_host_replicas_req {
	uint32_t host_id;
	uint64_t after; /* inode number; 0 = from the start */
	uint32_t max;	/* at most GF_HOST_REPLICAS_MAX */
};
/* Heap-allocated by the decoder; free with gfm_host_replicas_rep_free. */
struct gfm_host_replicas_rep {
	uint32_t count;
	uint8_t eof;
	struct gf_dead_replica *ents; /* (ino, fgen), ascending ino */
};
void gfm_host_replicas_rep_free(struct gfm_host_replicas_rep *m);

/*
 * GFM_REPLICATE: make one more current replica of regular file ino, copied
 * gfsd → gfsd (the destination reads the source; the caller only asks). The
 * caller needs read permission on the file (root: any). dst_host 0: gfmd
 * chooses an up host that holds no current replica (most free space first);
 * src_host 0: gfmd chooses an up host holding a current one. The reply comes
 * once the new replica is committed. -EEXIST: dst_host already holds a
 * current replica; -EBUSY: the file is open for writing (or was written
 * during the copy): ask again after it is closed; -ENOSPC: no host can take
 * it; -EHOSTDOWN: dst_host or every current replica's host is down; -EIO:
 * the copy failed (the destination's log says why).
 */
enum gfm_replicate_flags {
	/* the new replica is meant to stay: an explicit replica count
	 * (user.gfarm.ncopy) below the number of current replicas it makes is
	 * raised to it in the same change, so that the background repair never
	 * removes it as one too many (gfrep) */
	GF_REP_KEEP = 1u << 0,
};
struct gfm_replicate_req {
	struct gf_cred cred;
	uint64_t ino;
	uint32_t dst_host;
	uint32_t src_host;
	uint32_t flags; /* gfm_replicate_flags */
};
struct gfm_replicate_rep {
	uint32_t host_id; /* where the new replica is */
	uint64_t bytes;	  /* copied */
};
/*
 * GFM_REPLICA_DROP: the current replica of ino on host_id dies (its file is
 * deleted once that is committed), only while at least `keep` (≥ 1) other
 * current replicas remain: -EMLINK otherwise, so that concurrent trims never
 * take a file below what each of them meant to keep. Owner or root; the
 * file must not be open for writing (-EBUSY). -ENOENT: no current replica
 * there.
 */
struct gfm_replica_drop_req {
	struct gf_cred cred;
	uint64_t ino;
	uint32_t host_id;
	uint32_t keep;
};

/*
 * GFM_HOST_DRAIN: host_id is draining (on = 1): new data goes elsewhere,
 * gfmd copies every replica it holds to other hosts (at least the file's
 * replica count of them) and then removes it there; or no longer (on = 0).
 * Kept in the database. Admin peers with uid 0 only (-EPERM).
 */
struct gfm_host_drain_req {
	struct gf_cred cred;
	uint32_t host_id;
	uint8_t on;
};

/* ---- gfmd users and groups by name -----------------------------------------
 * Identities are global by name: gfmd maps each user name to one global uid
 * and each group name to one global gid (both unique per kind). Clients
 * translate their local ids through the names (lib/idmap.h). Names are
 * checked by gfmd (gf_idmap_check_name); the codecs only bound their length.
 */
#define GF_IDMAP_NAME_MAX 32

enum gf_idmap_kind { GF_IDMAP_USER = 1, GF_IDMAP_GROUP = 2 };

struct gf_idmap_ent {
	uint8_t kind; /* gf_idmap_kind */
	uint32_t id;
	char name[GF_IDMAP_NAME_MAX + 1];
};
/* Heap-allocated by the decoder; free with gfm_idmap_list_rep_free. */
struct gfm_idmap_list_rep {
	uint32_t count;
	struct gf_idmap_ent *ents;
};
void gfm_idmap_list_rep_free(struct gfm_idmap_list_rep *m);

struct gfm_idmap_set_req {
	struct gf_cred cred;
	uint8_t kind;
	uint8_t replace; /* 1: a name that has another id gets this one */
	uint32_t id;
	char name[GF_IDMAP_NAME_MAX + 1];
};
struct gfm_idmap_del_req {
	struct gf_cred cred;
	uint8_t kind;
	char name[GF_IDMAP_NAME_MAX + 1];
};

/* ---- directory name leases (v12) ----------------------------------------------
 * A mount may answer "no such name" in a directory itself while it holds
 * that directory's name lease: every name the directory had when gfmd
 * granted it, for term_ms from when the mount asked, or until gfmd recalls
 * it. gfmd recalls a directory's leases held by other clients before it
 * adds a name to that directory, and waits until each holder said it
 * dropped the lease or its term ran out (gfmd/leases.h).
 *
 * GFM_DIR_LEASE (cred, client: the mount's exactly-once id, dir; renew: the
 * gen of a lease the client holds on dir, or 0). Granted: gen, term_ms and,
 * unless renewed (the lease gen is still held: only its term is extended),
 * the names: count names, each NUL-terminated, one after another in names
 * (names_len bytes). Refused: -EBUSY (a name is being added to dir now,
 * or the client has no open GFM_LEASE_POLL connection), -E2BIG (the names
 * pass GF_LEASE_NAMES_BYTES), -ENOTDIR, -ENOENT, -EACCES (no search
 * permission), -EOPNOTSUPP (gfmd's lease_ms is 0).
 *
 * GFM_LEASE_POLL (client, acks): on a connection of its own (one client per
 * connection); the acks are recalls the client has carried out (dropped).
 * The reply lists recalls for it: at once if some wait, else when one
 * comes, or empty after GF_LEASE_PARK_MS (gfmd/leases.h); a new poll
 * answers the one before. A failed poll tells the client to drop every
 * lease: gfmd recalls through nothing else. When the connection closes,
 * gfmd waits out the client's leases (a holder cut off may still use them
 * until their term).
 */
#define GF_LEASE_NAMES_BYTES (1u << 20) /* the names of one lease */
#define GF_LEASE_POLL_MAX 1024u		/* acks or recalls in one frame */
struct gfm_dir_lease_req {
	struct gf_cred cred;
	uint64_t client;
	uint64_t dir;
	uint64_t renew;
};
struct gfm_dir_lease_rep {
	uint64_t gen;
	uint32_t term_ms;
	uint8_t renewed;
	uint32_t count;
	uint32_t names_len;
	const char *names; /* decoded: points into the frame */
};
struct gfm_lease_ref {
	uint64_t dir;
	uint64_t gen;
};
struct gfm_lease_poll_req {
	uint64_t client;
	uint32_t n;
	struct gfm_lease_ref refs[GF_LEASE_POLL_MAX];
};
struct gfm_lease_poll_rep {
	uint32_t n;
	struct gfm_lease_ref refs[GF_LEASE_POLL_MAX];
};

/* ---- exactly once -------------------------------------------------------------
 * A client resends a request whose connection broke before its reply came,
 * not knowing whether gfmd applied it. A mutation that is not idempotent
 * (create, unlink, rename, ...) therefore goes inside this envelope:
 *   client  the client's random 64-bit id (one per struct gfc)
 *   seq     never used twice by that client (1, 2, 3, ...)
 *   acked   a promise: every seq ≤ acked is settled (its reply came, or the
 *           client gave up on it) and will never be sent again, so gfmd may
 *           forget it
 *   op      the request inside (gf_once_op_ok), payload its encoding
 * gfmd applies (client, seq) at most once: a copy sent again after the first
 * one succeeded gets that success again (gfmd/once.h), never EEXIST for the
 * client's own create nor ENOENT for its own unlink. The reply is the reply
 * of the request inside. The decoder refuses an op that may not go inside
 * and seq ≤ acked.
 */
#define GF_ONCE_PAYLOAD_MAX (GF_MAX_PAYLOAD - 64u)
struct gfm_once_req {
	uint64_t client;
	uint64_t seq;
	uint64_t acked;
	uint16_t op;
	uint32_t len;
	const uint8_t *payload; /* decoded: points into the frame */
};
/*
 * File locks, cluster-wide (gfmd/locks.h): POSIX record locks and flock
 * locks. The owner is (client, owner): the mount's id and the kernel's lock
 * owner. cmd GET answers the lock that would block (type UNLCK: none); SET
 * takes or releases it (reply type UNLCK) or is refused (reply type RDLCK
 * or WRLCK: a lock is in the way; never status -EAGAIN, which is gfmd's
 * "not yet" to every client request); SETW waits for it (the reply
 * comes when it is granted, or -EDEADLK, or -EINTR after a GFM_LOCK_CANCEL
 * of the same inode and owner). Range [start, end], end UINT64_MAX: to the
 * end of the file. A client's locks go when its last connection to gfmd
 * closes.
 */
enum gf_lk_type { GF_LK_UNLCK = 0, GF_LK_RDLCK = 1, GF_LK_WRLCK = 2 };
enum gf_lk_kind { GF_LK_POSIX = 1, GF_LK_FLOCK = 2 };
enum gf_lk_cmd { GF_LK_GET = 1, GF_LK_SET = 2, GF_LK_SETW = 3 };
struct gfm_lock_req {
	struct gf_cred cred;
	uint64_t ino;
	uint64_t client, owner;
	uint32_t pid;
	uint8_t kind, type, cmd;
	uint64_t start, end;
};
/* gfm_lock_rep.flags of a lock taken: another client held a lock on the
 * file since this one's last: what this client caches of the file may be
 * stale (the other may have written it under its lock). */
#define GF_LKR_OTHERS 1
struct gfm_lock_rep {
	uint8_t type; /* GF_LK_UNLCK: nothing would block */
	uint8_t flags; /* GF_LKR_* */
	uint32_t pid;
	uint64_t start, end;
};

/* 1 for the ops that may go inside GFM_ONCE: MKNOD, MKDIR, CREATE, UNLINK,
 * RMDIR, RENAME, LINK, SYMLINK, SETXATTR, REMOVEXATTR, OPEN, IDMAP_SET,
 * IDMAP_DEL. */
int gf_once_op_ok(uint16_t op);

/* ---- gfsd data requests -------------------------------------------------- */

enum gfs_open_flags {
	GFS_O_READ = 1u << 0,
	GFS_O_WRITE = 1u << 1,
	GFS_O_CREATE = 1u << 2,
	GFS_O_TRUNC = 1u << 3,
	GFS_O_WANT_FD = 1u << 4, /* UNIX socket only: pass the open fd back */
	/* with GFS_O_WRITE: "I held a write handle on this replica and lost it
	 * with my connection (gfsd restarted); the bytes beyond gfmd's committed
	 * size are mine": gfsd does not cut them (gfsd/service.h) */
	GFS_O_RECLAIM = 1u << 5,
	/* with GFS_O_WRITE: every write lands at the replica's end, whatever
	 * its offset (O_APPEND; a passed fd is opened so too), and its reply
	 * says where the file ends then */
	GFS_O_APPEND = 1u << 6,
	/* with GFS_O_READ only: a gfsd copying the replica (GFS_REPLICATE);
	 * refused with -EBUSY while the replica has a writer */
	GFS_O_COPY = 1u << 7,
	/* with GFS_O_COPY: a copy that follows a writer (GFS_REP_FOLLOW): let
	 * in while the replica is written; reads return what is there */
	GFS_O_FOLLOW = 1u << 8,
};
struct gfs_open_req {
	uint64_t ino;
	uint64_t gen;
	uint32_t flags; /* gfs_open_flags */
};
struct gfs_open_rep {
	uint64_t handle;
	uint64_t size;
	uint8_t fd_passed; /* 1: an fd arrived with this reply (SCM_RIGHTS) */
};

struct gfs_read_req {
	uint64_t handle;
	uint64_t offset;
	uint32_t len; /* at most GF_MAX_IO */
};
struct gfs_read_rep {
	uint32_t len;
	const uint8_t *data; /* decoded: points into the frame */
};

struct gfs_write_req {
	uint64_t handle;
	uint64_t offset;
	uint32_t len;
	const uint8_t *data; /* decoded: points into the frame */
};
struct gfs_write_rep {
	uint32_t written;
	uint64_t end; /* the replica's size after the write (GFS_O_APPEND: where
			 the data landed is end - written, or before if others
			 appended meanwhile); else offset + written */
};

/*
 * fallocate(2) on a replica. mode is Linux's: 0, GF_FALLOC_KEEP_SIZE,
 * GF_FALLOC_PUNCH_HOLE | GF_FALLOC_KEEP_SIZE, GF_FALLOC_ZERO_RANGE (with or
 * without KEEP_SIZE); gfsd refuses any other with -EOPNOTSUPP.
 */
#define GF_FALLOC_KEEP_SIZE 0x01
#define GF_FALLOC_PUNCH_HOLE 0x02
#define GF_FALLOC_ZERO_RANGE 0x10
struct gfs_fallocate_req {
	uint64_t handle;
	uint32_t mode;
	uint64_t offset, length;
};
/* 1 for the modes above. */
int gf_falloc_mode_ok(uint32_t mode);

/* lseek(2) SEEK_DATA / SEEK_HOLE on a replica: the offset found, or -ENXIO. */
#define GF_SEEK_DATA 3
#define GF_SEEK_HOLE 4
struct gfs_seek_req {
	uint64_t handle;
	uint64_t offset;
	uint8_t whence; /* GF_SEEK_DATA or GF_SEEK_HOLE */
};
struct gfs_seek_rep {
	uint64_t offset;
};

/* The replica as its disk sees it: its size and the 512-byte blocks its
 * data takes (st_blocks). */
struct gfs_fstat_rep {
	uint64_t size, blocks;
};

struct gfs_truncate_req {
	uint64_t handle;
	uint64_t size;
};
struct gfs_handle_req { /* FSYNC */
	uint64_t handle;
};
struct gfs_close_req {
	uint64_t handle;
	/* bytes the client moved itself through a passed fd, for the counters */
	uint64_t local_read;
	uint64_t local_written;
};

/*
 * GFS_REPLICATE (from gfmd only): make spool file ino-fgen on this gfsd a
 * copy of replica ino-src_fgen on the gfsd at src_addr:src_port, which
 * must hold exactly size bytes and have no writer (the source refuses a
 * GFS_O_COPY open while one is open: -EBUSY). The copy is written to an
 * unnamed file, fsynced, and only then given its name (replacing a stale
 * file of that name, which only a copy that gfmd never recorded can leave).
 */
/*
 * With GFS_REP_FOLLOW the source is being written: size is not known (0),
 * the copy follows the writer, reading what is there as it grows, until
 * the source is sealed (its last writer closed); then it fetches the rest,
 * compares every block with the source's sums and fetches again those
 * rewritten since it copied them. A source that stops growing without
 * being sealed for GFS_FOLLOW_IDLE_MS ends it with -EBUSY (the copy after
 * the last close does the work). The reply's bytes is the size copied,
 * which gfmd checks against the file's.
 */
enum { GFS_REP_FOLLOW = 1u << 0 };
#define GFS_FOLLOW_IDLE_MS 5000
struct gfs_replicate_req {
	uint64_t ino;
	uint64_t fgen;
	uint64_t src_fgen;
	uint64_t size;
	char src_addr[GF_HOST_MAX + 1];
	uint16_t src_port;
	uint32_t flags; /* GFS_REP_FOLLOW */
};
struct gfs_replicate_rep {
	uint64_t bytes;
};

/* GFS_LIST: the spool's replica files after (after_ino, after_fgen), in
 * (ino, fgen) order, at most max (≤ GFS_LIST_MAX), with their sizes. */
struct gfs_list_req {
	uint64_t after_ino, after_fgen;
	uint32_t max;
};
struct gfs_list_ent {
	uint64_t ino, fgen, size;
};
/* Heap-allocated by the decoder; free with gfs_list_rep_free. */
struct gfs_list_rep {
	uint32_t count;
	uint8_t eof;
	struct gfs_list_ent *ents;
};
void gfs_list_rep_free(struct gfs_list_rep *m);

struct gfs_stats_rep {
	uint64_t read_local, read_remote;	/* bytes served */
	uint64_t written_local, written_remote; /* bytes received */
	uint64_t fds_passed;
	uint64_t open_handles;
	uint64_t capacity, free;
	uint64_t heartbeats;	  /* answered by gfmd since start */
	uint64_t dead_removed;	  /* replica files removed as gfmd asked */
	uint64_t orphans_removed; /* files no live replica named, removed */
	uint64_t writers_cut;	  /* replicas cut back to gfmd's size at open */
	uint64_t sealed;	  /* replicas whose checksums were written (csum.h) */
	uint64_t corrupt;	  /* reads and checks that found a bad block */
	uint64_t corrupt_reported; /* corrupt replicas gfmd was told of */
	uint64_t copies;	   /* replicas copied here (GFS_REPLICATE) */
	uint64_t copies_followed;  /* of those, copied while being written */
	uint64_t copy_blocks_mended; /* blocks fetched again, rewritten since */
	uint64_t sealing;	     /* replicas closed, their sums being written now */
};

/*
 * Block checksums (lib/csum.h). A replica with no writer has a checksum per
 * GF_CSUM_BLOCK bytes, written by gfsd when its last writer closed ("sealed");
 * one being written, or left by a crash while written, has none ("unsealed")
 * and is read unchecked. gfsd checks every block it reads for GFS_READ and
 * answers -EBADMSG for a block that fails: the caller reads another replica.
 * A reader through a passed fd checks what it reads itself, against the sums
 * GFS_SUMS gives it, and reads a block that fails through GFS_READ, so
 * that gfsd judges it (and tells gfmd): -EBADMSG, or the data if the replica
 * was rewritten meanwhile.
 */
#define GFS_SUMS_MAX 16384 /* sums per GFS_SUMS reply (1 GiB of data) */
struct gfs_sums_req {
	uint64_t handle;
	uint64_t first; /* block index */
	uint32_t count; /* ≤ GFS_SUMS_MAX */
};
/* Heap-allocated by the decoder; free with gfs_sums_rep_free. */
struct gfs_sums_rep {
	uint8_t sealed;	 /* 0: no sums (being written, or never sealed) */
	uint8_t pending; /* with sealed 0: its last writer closed and gfsd is
			  * writing them now (gfsd/sealer.h): ask again */
	uint32_t block;	 /* GF_CSUM_BLOCK */
	uint64_t size;	 /* the data size the sums describe */
	uint64_t first;	 /* index of sums[0] */
	uint32_t count;	 /* sums given (fewer at the replica's end) */
	uint64_t *sums;
};
void gfs_sums_rep_free(struct gfs_sums_rep *m);

/* GFS_VERIFY: read replica ino-fgen whole and check every block; with
 * GFS_VERIFY_SEAL, an unsealed one with no writer is sealed instead. */
#define GFS_VERIFY_SEAL 1u
struct gfs_verify_req {
	uint64_t ino, fgen;
	uint32_t flags;
};
enum gfs_verify_state {
	GFS_VERIFY_OK = 0,	/* every block matches its sum */
	GFS_VERIFY_UNSEALED,	/* no sums to check against */
	GFS_VERIFY_WRITING,	/* a writer has it open: nothing to check */
	GFS_VERIFY_CORRUPT,	/* bad_block failed (gfmd is told) */
	GFS_VERIFY_SEALED_NOW,	/* it had no sums; now it has (GFS_VERIFY_SEAL) */
};
struct gfs_verify_rep {
	uint8_t state;
	uint64_t size;
	uint64_t bad_block; /* CORRUPT: the first block that failed */
};

/*
 * The page service (network swap). A client (gfswap, owner = a random id
 * per swap area) keeps 4 KiB pages in gfsd's RAM, by slot. Every page
 * carries the time stamp its owner gave it when it was written: a PUT with
 * a stamp older than the page held is stale (it overtook nothing; the page
 * stays), and an INVALIDATE drops only pages not newer than its stamp, so
 * that requests reordered across connections never lose the newest page.
 * Up to GF_PAGE_BATCH contiguous slots go in one request.
 */
#define GF_PAGE_SIZE 4096u
#define GF_PAGE_BATCH (GF_MAX_IO / GF_PAGE_SIZE)
/* the fixed part of a GFS_PAGE_PUT payload, before npages * GF_PAGE_SIZE bytes */
#define GFS_PAGE_PUT_FIXED (8 + 8 + 8 + 4)
struct gfs_page_put_req {
	uint64_t owner;
	uint64_t slot;	 /* the first page's */
	uint64_t stamp;	 /* > 0 */
	uint32_t npages; /* 1 .. GF_PAGE_BATCH */
	const uint8_t *data; /* npages * GF_PAGE_SIZE; decoded: into the frame */
};
/* The fixed part alone, for a sender that writes the data from elsewhere. */
void gfs_page_put_fixed(uint8_t out[GFS_PAGE_PUT_FIXED], const struct gfs_page_put_req *m);
/* GFS_PAGE_PUNT, gfsd to gfsd: Nswap's PUNTPAGE. A GFS_PAGE_PUT of pages
 * the sender moves on from its cache, naming the host their owner runs on
 * ("": not known), so that the receiver never moves them there either. */
struct gfs_page_punt_req {
	char owner_host[GF_HOST_MAX + 1];
	struct gfs_page_put_req put;
};
struct gfs_page_get_req {
	uint64_t owner;
	uint64_t slot;
	uint32_t npages; /* 1 .. GF_PAGE_BATCH */
};
/* Per page its stamp (0: not held; its bytes are zero), then the data. */
struct gfs_page_get_rep {
	uint32_t npages;
	uint64_t stamps[GF_PAGE_BATCH];
	const uint8_t *data; /* npages * GF_PAGE_SIZE; decoded: into the frame */
};
#define GFS_PAGE_GET_REP_FIXED(n) (4 + 8 * (size_t)(n))
struct gfs_page_inval_req {
	uint64_t owner;
	uint64_t slot;
	uint32_t npages; /* 1 .. 2^20 (a discard of up to 4 GiB) */
	uint64_t stamp;	 /* drop pages whose stamp ≤ this */
};
struct gfs_page_inval_rep {
	uint32_t dropped;
};
struct gfs_page_stats_rep {
	uint64_t total;	    /* pages it could hold now (held + free) */
	uint64_t used;	    /* pages held */
	uint64_t free;	    /* pages it would take now */
	uint64_t locked;    /* bytes of page memory allocated and locked */
	uint64_t owners;    /* owners with a page held */
	uint64_t puts, gets, get_misses, stale_puts, invalidated, refused;
	uint64_t punted, dropped, cap; /* moved on, dropped when none took
					  them, the cap (UINT64_MAX: none) */
	uint64_t instance; /* random per start of gfsd: a new one holds nothing */
	uint64_t expired;  /* pages dropped because their owner's lease ran out */
	uint64_t owners_located; /* owners held whose host is known (pages.h) */
};
#define GF_PAGE_INVAL_MAX (1u << 20)

/* A page a server moved on (PUNTPAGE), as its owner learns (UPDATE). */
struct gfs_page_move {
	uint64_t slot, stamp;
	uint8_t hops;			/* moves so far */
	char host[GF_HOST_MAX + 1];	/* where it is now; "": nowhere (dropped) */
};
#define GFS_PAGE_UPDATES_MAX 4096
struct gfs_page_updates_req {
	uint64_t owner;
	uint32_t max; /* 1 .. GFS_PAGE_UPDATES_MAX */
};
/* Heap-allocated by the decoder; free with gfs_page_updates_rep_free. */
struct gfs_page_updates_rep {
	uint32_t count;
	struct gfs_page_move *moves;
};
void gfs_page_updates_rep_free(struct gfs_page_updates_rep *m);
/* admin: lend at most pages (UINT64_MAX: no cap) from now on */
struct gfs_page_cap_req {
	uint64_t pages;
};

/* ---- codecs ---------------------------------------------------------------
 * encode: appends the payload to w (check w->err). decode: 0 or -EBADMSG.
 */
#define GF_CODEC(T)                                                    \
	void T##_encode(struct gf_wbuf *w, const struct T *m);          \
	int T##_decode(const void *payload, size_t len, struct T *m)

GF_CODEC(gf_msg_hello);
GF_CODEC(gf_msg_auth);
GF_CODEC(gf_msg_auth_ok);
GF_CODEC(gfm_name_req);
GF_CODEC(gfm_ino_req);
GF_CODEC(gfm_dir_lease_req);
GF_CODEC(gfm_dir_lease_rep);
GF_CODEC(gfm_lease_poll_req);
GF_CODEC(gfm_lease_poll_rep);
GF_CODEC(gfm_attr_rep);
GF_CODEC(gfm_setattr_req);
GF_CODEC(gfm_mknod_req);
GF_CODEC(gfm_create_req);
GF_CODEC(gfm_open_rep);
GF_CODEC(gfm_rename_req);
GF_CODEC(gfm_link_req);
GF_CODEC(gfm_symlink_req);
GF_CODEC(gfm_readlink_rep);
GF_CODEC(gfm_readdir_req);
GF_CODEC(gfm_readdir_rep);
GF_CODEC(gfm_open_req);
GF_CODEC(gfm_close_write_req);
GF_CODEC(gfm_statfs_rep);
GF_CODEC(gfm_xattr_req);
GF_CODEC(gfm_xattr_rep);
GF_CODEC(gfm_access_req);
GF_CODEC(gfm_host_register_req);
GF_CODEC(gfm_host_register_rep);
GF_CODEC(gfm_heartbeat_req);
GF_CODEC(gfm_heartbeat_rep);
GF_CODEC(gfm_host_list_rep);
GF_CODEC(gfm_host_replicas_req);
GF_CODEC(gfm_host_replicas_rep);
GF_CODEC(gfm_idmap_list_rep);
GF_CODEC(gfm_idmap_set_req);
GF_CODEC(gfm_idmap_del_req);
GF_CODEC(gfs_open_req);
GF_CODEC(gfs_open_rep);
GF_CODEC(gfs_read_req);
GF_CODEC(gfs_read_rep);
GF_CODEC(gfs_write_req);
GF_CODEC(gfs_write_rep);
GF_CODEC(gfs_truncate_req);
GF_CODEC(gfs_fallocate_req);
GF_CODEC(gfs_seek_req);
GF_CODEC(gfs_seek_rep);
GF_CODEC(gfs_fstat_rep);
GF_CODEC(gfs_handle_req);
GF_CODEC(gfs_close_req);
GF_CODEC(gfs_stats_rep);
GF_CODEC(gfm_once_req);
GF_CODEC(gfm_lock_req);
GF_CODEC(gfm_lock_rep);
GF_CODEC(gfm_replicate_req);
GF_CODEC(gfm_replicate_rep);
GF_CODEC(gfm_replica_drop_req);
GF_CODEC(gfs_replicate_req);
GF_CODEC(gfs_replicate_rep);
GF_CODEC(gfm_host_drain_req);
GF_CODEC(gfs_list_req);
GF_CODEC(gfs_list_rep);
GF_CODEC(gfs_sums_req);
GF_CODEC(gfs_sums_rep);
GF_CODEC(gfs_verify_req);
GF_CODEC(gfs_verify_rep);
GF_CODEC(gfs_page_put_req);
GF_CODEC(gfs_page_get_req);
GF_CODEC(gfs_page_get_rep);
GF_CODEC(gfs_page_inval_req);
GF_CODEC(gfs_page_inval_rep);
GF_CODEC(gfs_page_stats_rep);
GF_CODEC(gfs_page_updates_req);
GF_CODEC(gfs_page_updates_rep);
GF_CODEC(gfs_page_cap_req);
GF_CODEC(gfm_dirs_rep);
GF_CODEC(gfs_page_punt_req);

#undef GF_CODEC

/*
 * Names in requests must be valid path components: non-empty, no '/', not
 * "." or ".." (decoders already guarantee no NUL and at most GF_NAME_MAX).
 * Returns 0, -EINVAL, or -ENAMETOOLONG.
 */
int gf_check_name(const char *name);

#endif
