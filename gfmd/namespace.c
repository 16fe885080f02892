/*
 * namespace.c — see namespace.h for the contract and the locking.
 */
#include "namespace.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "hostidx.h"
#include "pool.h"
#include "log.h"
#include "clock.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#define XATTR_CREATE_FLAG 1
#define XATTR_REPLACE_FLAG 2

#define MAY_X 1
#define MAY_W 2
#define MAY_R 4

#define DIR_SIZE 4096
#define GF_NS_INO_RESERVE 1024 /* inode numbers the stored counter runs ahead */

struct xattr {
	struct xattr *next;
	char *name;
	uint8_t *val;
	uint32_t len;
};

struct dent {
	struct dent *hnext;
	uint64_t ino;
	uint64_t cookie;
	uint32_t hash;
	uint32_t namelen;
	char name[];
};

/* One slot of the insertion-ordered entry list; d == NULL is a tombstone. */
struct slot {
	uint64_t cookie;
	struct dent *d;
};

struct dir {
	struct dent **tab; /* children by name */
	uint32_t tabsz;	   /* power of two */
	uint32_t count;	   /* live entries */
	struct slot *slots;
	size_t nslots, capslots, ntomb;
	uint64_t next_cookie;
	uint64_t parent;
};

#define HAS_ACL_ACCESS 1  /* an xattr GF_ACL_ACCESS decides permissions */
#define HAS_ACL_DEFAULT 2 /* a directory whose new entries inherit GF_ACL_DEFAULT */

/* One per file, from ns->inodes (152 bytes: keep it so; a million files). */
struct inode {
	struct inode *hnext;
	uint64_t ticket; /* of its last change: readers wait for its commit */
	struct gf_attr a;
	char *symlink;
	struct xattr *xattrs;
	struct dir *dir;
	struct gf_ns_replica *reps; /* see REPS_POOLS */
	uint32_t writers;	    /* open for writing (memory only; see namespace.h) */
	uint16_t nreps;
	uint8_t repcls; /* reps came from ns->reps[repcls - 1]; REPS_MALLOC: malloc */
	uint8_t acl;	/* HAS_ACL_* */
};

/* Replica lists of up to REPS_POOLS replicas come from pools of exactly that
 * many (most files have one or two); longer ones from malloc. */
#define REPS_POOLS 4
#define REPS_MALLOC (REPS_POOLS + 1)
#define MAX_NREPS UINT16_MAX
_Static_assert(sizeof(void *) != 8 || sizeof(struct inode) <= 152,
	       "an inode grew: gfmd's memory per file (bench/million.sh) with it");

/* gf_ns_files_on_host: inodes visited per hold of the read lock */
#define FILES_ON_HOST_BATCH 1024

/* A copy under way (gf_ns_copy_begin): its file on host is not an orphan. */
struct copying {
	uint64_t ino, fgen;
	uint32_t host;
};

/* A replica file to delete, once the change that killed it is committed. */
struct dead {
	uint64_t ino, fgen;
	uint64_t ticket;	  /* DEAD_PENDING until the killing change has one */
	int64_t not_before_ms; /* monotonic; a removed file's grace (limbo) */
};
#define DEAD_PENDING UINT64_MAX

struct deadlist {
	uint32_t host_id;
	struct dead *v;
	size_t n, cap;
};

/*
 * A regular file removed a moment ago (unlink, rename over it): for
 * grace_ms an open by its inode number — a client whose kernel still has
 * the old name cached — still reads it, and its replicas are not deleted
 * yet. Replace-by-rename is then never "no such file" elsewhere.
 */
struct limbo {
	struct limbo *hnext, *qnext;
	int64_t until_ms;
	struct gf_attr a;
	uint32_t nreps;
	struct gf_ns_replica *reps;
};
#define LIMBO_BUCKETS 256

struct gf_ns {
	pthread_rwlock_t lock;
	uint32_t grace_ms;
	struct limbo *limbo[LIMBO_BUCKETS];
	struct limbo *limbo_head, *limbo_tail; /* by until_ms */
	struct inode **itab;
	size_t itabsz, ninodes;
	uint64_t next_ino, stored_next_ino;
	gf_sink_fn sink;
	void *sink_arg;
	struct deadlist *dead;
	size_t ndead;
	uint64_t last_ticket;	 /* newest ticket from the sink */
	uint64_t destroy_ticket; /* of the newest inode removal */
	size_t npending;	 /* dead entries of the mutation being recorded */
	struct copying *copies;	 /* under way */
	size_t ncopies, capcopies;
	/* replicas (current or stale) per host id, kept by replica_add and
	 * replica_kill_after: the host list reads them without a scan */
	uint64_t *host_nreps;
	size_t nhost_nreps;
	/* the inodes with a replica on each host (hostidx.h), kept by the same
	 * two: host scans (repair, drain, orphan scans) walk only those */
	struct hostidx hidx;
	struct gf_pool inodes;		   /* struct inode */
	struct gf_pool reps[REPS_POOLS]; /* reps[k]: lists of k + 1 replicas */
	/* earliest limbo expiry (monotonic ms; INT64_MAX: none), read
	 * without the lock so an idle heartbeat need not take it */
	int64_t limbo_due_ms;
};

/* ---- small helpers -------------------------------------------------------- */

static struct gf_timespec now_ts(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct gf_timespec){ .sec = ts.tv_sec, .nsec = (uint32_t)ts.tv_nsec };
}

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

static size_t ino_slot(const struct gf_ns *ns, uint64_t ino)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (ns->itabsz - 1);
}

static int in_group(const struct gf_cred *cr, uint32_t gid)
{
	if (cr->gid == gid)
		return 1;
	uint32_t n = cr->ngroups < GF_MAX_GROUPS ? cr->ngroups : GF_MAX_GROUPS;
	for (uint32_t i = 0; i < n; i++)
		if (cr->groups[i] == gid)
			return 1;
	return 0;
}

static int is_dir(const struct inode *ip)
{
	return S_ISDIR(ip->a.mode);
}

static const struct xattr *xattr_get(const struct inode *ip, const char *name)
{
	for (const struct xattr *x = ip->xattrs; x; x = x->next)
		if (strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

/* POSIX permission check: mask of MAY_R/W/X (MAY_* are the ACL perm bits). */
static int permission(const struct gf_cred *cr, const struct inode *ip, int mask)
{
	uint32_t mode = ip->a.mode;
	if (cr->uid == 0) {
		if (!(mask & MAY_X) || is_dir(ip) || (mode & 0111))
			return 0;
		return -EACCES;
	}
	/* the ACL only when the group bits (its mask) grant something: with
	 * them 0 a named entry is checked as "other", as Linux's
	 * acl_permission_check does (ext4 is the reference) */
	if ((ip->acl & HAS_ACL_ACCESS) && (mode & S_IRWXG) && cr->uid != ip->a.uid) {
		static _Thread_local struct gf_acl acl; /* 8 KiB: not on the stack */
		const struct xattr *x = xattr_get(ip, GF_ACL_ACCESS);
		if (x && gf_acl_parse(x->val, x->len, &acl) == 0)
			return gf_acl_permission(&acl, cr, ip->a.uid, ip->a.gid, mask);
		/* (only valid ACLs are ever stored) */
	}
	uint32_t perm;
	if (cr->uid == ip->a.uid)
		perm = (mode >> 6) & 7;
	else if (in_group(cr, ip->a.gid))
		perm = (mode >> 3) & 7;
	else
		perm = mode & 7;
	return ((perm & (uint32_t)mask) == (uint32_t)mask) ? 0 : -EACCES;
}

static int is_owner(const struct gf_cred *cr, const struct inode *ip)
{
	return cr->uid == 0 || cr->uid == ip->a.uid;
}

/* Valid path component? (. and .. are refused: the client adds them.) */
static int check_name(const char *name)
{
	size_t n = strnlen(name, GF_NAME_MAX + 1);
	if (n == 0)
		return -ENOENT;
	if (n > GF_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

/* ---- inode table ------------------------------------------------------------ */

static struct inode *iget(const struct gf_ns *ns, uint64_t ino)
{
	for (struct inode *ip = ns->itab[ino_slot(ns, ino)]; ip; ip = ip->hnext)
		if (ip->a.ino == ino)
			return ip;
	return NULL;
}

static int itab_grow(struct gf_ns *ns)
{
	size_t nsz = ns->itabsz * 2;
	struct inode **nt = calloc(nsz, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	struct inode **old = ns->itab;
	size_t osz = ns->itabsz;
	ns->itab = nt;
	ns->itabsz = nsz;
	for (size_t i = 0; i < osz; i++) {
		struct inode *ip = old[i], *next;
		for (; ip; ip = next) {
			next = ip->hnext;
			size_t s = ino_slot(ns, ip->a.ino);
			ip->hnext = nt[s];
			nt[s] = ip;
		}
	}
	free(old);
	return 0;
}

static int iinsert(struct gf_ns *ns, struct inode *ip)
{
	if (ns->ninodes + 1 > ns->itabsz && itab_grow(ns))
		return -ENOMEM;
	size_t s = ino_slot(ns, ip->a.ino);
	ip->hnext = ns->itab[s];
	ns->itab[s] = ip;
	ns->ninodes++;
	return 0;
}

static void iremove(struct gf_ns *ns, struct inode *ip)
{
	struct inode **pp = &ns->itab[ino_slot(ns, ip->a.ino)];
	while (*pp && *pp != ip)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = ip->hnext;
		ns->ninodes--;
	}
}

static void dir_free(struct dir *d);

/* Frees ip's replica list (from its pool, or malloc). */
static void reps_free(struct gf_ns *ns, struct inode *ip)
{
	if (ip->repcls == REPS_MALLOC)
		free(ip->reps);
	else if (ip->repcls)
		gf_pool_free(&ns->reps[ip->repcls - 1], ip->reps);
	ip->reps = NULL;
	ip->repcls = 0;
}

/* Room for n replicas in ip's list (n > ip->nreps), what it holds kept. */
static int reps_grow(struct gf_ns *ns, struct inode *ip, size_t n)
{
	if (n > MAX_NREPS)
		return -ENOSPC;
	if (ip->repcls && ip->repcls != REPS_MALLOC && n <= ip->repcls)
		return 0;
	struct gf_ns_replica *v;
	uint8_t cls;
	if (n <= REPS_POOLS) {
		v = gf_pool_alloc(&ns->reps[n - 1]);
		cls = (uint8_t)n;
	} else if (ip->repcls == REPS_MALLOC) {
		v = realloc(ip->reps, n * sizeof(*v));
		if (v) {
			ip->reps = v;
			return 0;
		}
		cls = REPS_MALLOC;
	} else {
		v = malloc(n * sizeof(*v));
		cls = REPS_MALLOC;
	}
	if (!v)
		return -ENOMEM;
	if (ip->nreps)
		memcpy(v, ip->reps, ip->nreps * sizeof(*v));
	reps_free(ns, ip);
	ip->reps = v;
	ip->repcls = cls;
	return 0;
}

static void inode_free(struct gf_ns *ns, struct inode *ip)
{
	if (!ip)
		return;
	free(ip->symlink);
	struct xattr *x = ip->xattrs, *nx;
	for (; x; x = nx) {
		nx = x->next;
		free(x->name);
		free(x->val);
		free(x);
	}
	if (ip->dir)
		dir_free(ip->dir);
	reps_free(ns, ip);
	gf_pool_free(&ns->inodes, ip);
}

static struct inode *inode_alloc(struct gf_ns *ns, uint32_t mode)
{
	struct inode *ip = gf_pool_alloc(&ns->inodes);
	if (!ip)
		return NULL;
	memset(ip, 0, sizeof(*ip));
	ip->a.mode = mode;
	if (S_ISDIR(mode)) {
		ip->dir = calloc(1, sizeof(*ip->dir));
		if (!ip->dir) {
			gf_pool_free(&ns->inodes, ip);
			return NULL;
		}
		ip->dir->tabsz = 8;
		ip->dir->tab = calloc(8, sizeof(*ip->dir->tab));
		ip->dir->next_cookie = 1;
		if (!ip->dir->tab) {
			free(ip->dir);
			gf_pool_free(&ns->inodes, ip);
			return NULL;
		}
	}
	return ip;
}

/* ---- directories -------------------------------------------------------------- */

static void dir_free(struct dir *d)
{
	for (size_t i = 0; i < d->nslots; i++)
		free(d->slots[i].d);
	free(d->slots);
	free(d->tab);
	free(d);
}

static struct dent *dir_find(const struct dir *d, const char *name)
{
	size_t n = strlen(name);
	uint32_t h = name_hash(name, n);
	for (struct dent *e = d->tab[h & (d->tabsz - 1)]; e; e = e->hnext)
		if (e->hash == h && e->namelen == n && memcmp(e->name, name, n) == 0)
			return e;
	return NULL;
}

static int dir_tab_grow(struct dir *d)
{
	uint32_t nsz = d->tabsz * 2;
	struct dent **nt = calloc(nsz, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->tabsz; i++) {
		struct dent *e = d->tab[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			e->hnext = nt[e->hash & (nsz - 1)];
			nt[e->hash & (nsz - 1)] = e;
		}
	}
	free(d->tab);
	d->tab = nt;
	d->tabsz = nsz;
	return 0;
}

/* Index of the first slot whose cookie is > cookie. */
static size_t slot_after(const struct dir *d, uint64_t cookie)
{
	size_t lo = 0, hi = d->nslots;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->slots[mid].cookie <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void dir_compact(struct dir *d)
{
	size_t j = 0;
	for (size_t i = 0; i < d->nslots; i++)
		if (d->slots[i].d)
			d->slots[j++] = d->slots[i];
	d->nslots = j;
	d->ntomb = 0;
}

/*
 * Add an entry. cookie 0 = take the next one. Reserve with dir_reserve first
 * when failure must not happen half way (the caller has checked everything).
 */
static int dir_reserve(struct dir *d)
{
	if (d->count + 1 > d->tabsz && dir_tab_grow(d))
		return -ENOMEM;
	if (d->nslots + 1 > d->capslots) {
		size_t cap = d->capslots ? d->capslots * 2 : 8;
		struct slot *s = realloc(d->slots, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		d->slots = s;
		d->capslots = cap;
	}
	return 0;
}

static struct dent *dir_add(struct dir *d, const char *name, uint64_t ino, uint64_t cookie)
{
	size_t n = strlen(name);
	if (dir_reserve(d))
		return NULL;
	struct dent *e = malloc(sizeof(*e) + n + 1);
	if (!e)
		return NULL;
	memcpy(e->name, name, n + 1);
	e->namelen = (uint32_t)n;
	e->hash = name_hash(name, n);
	e->ino = ino;
	e->cookie = cookie ? cookie : d->next_cookie++;
	if (e->cookie >= d->next_cookie)
		d->next_cookie = e->cookie + 1;
	e->hnext = d->tab[e->hash & (d->tabsz - 1)];
	d->tab[e->hash & (d->tabsz - 1)] = e;
	d->count++;
	d->slots[d->nslots].cookie = e->cookie;
	d->slots[d->nslots].d = e;
	d->nslots++;
	return e;
}

/* Unlink and free entry e. */
static void dir_del(struct dir *d, struct dent *e)
{
	struct dent **pp = &d->tab[e->hash & (d->tabsz - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	d->count--;
	size_t i = slot_after(d, e->cookie);
	if (i > 0 && d->slots[i - 1].d == e) {
		d->slots[i - 1].d = NULL;
		d->ntomb++;
	}
	free(e);
	if (d->ntomb > 64 && d->ntomb * 2 > d->nslots)
		dir_compact(d);
}

/* ---- change recording ----------------------------------------------------------- */

static void rec_inode(struct gf_changes *c, const struct inode *ip)
{
	struct gf_change *ch;
	if (ip->symlink)
		ch = gf_changes_add(c, GF_CHG_INODE_PUT, ip->a.ino, 0, 0, NULL, 0,
				    ip->symlink, strlen(ip->symlink), 1);
	else
		ch = gf_changes_add(c, GF_CHG_INODE_PUT, ip->a.ino, 0, 0, NULL, 0,
				    NULL, 0, 0);
	if (ch)
		ch->attr = ip->a;
}

static void rec_dirent(struct gf_changes *c, uint64_t parent, const struct dent *e)
{
	gf_changes_add(c, GF_CHG_DIRENT_PUT, parent, e->ino, e->cookie, e->name,
		       e->namelen, NULL, 0, 0);
}

static void rec_dirent_del(struct gf_changes *c, uint64_t parent, const char *name)
{
	gf_changes_add(c, GF_CHG_DIRENT_DEL, parent, 0, 0, name, strlen(name), NULL, 0, 0);
}

/* Hand the changes to the sink; out of memory here leaves memory ahead of any
 * description of it, which only a restart can repair. */
/* gf_ns_capture_dirs: where the calling thread's next mutation reports the
 * directories it changed (NULL: nobody asked) */
static _Thread_local struct gfm_dirs *capture;

void gf_ns_capture_dirs(struct gfm_dirs *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	capture = out;
}

static void capture_forget(struct gfm_dirs *d, uint64_t ino)
{
	for (uint8_t i = 0; i < d->nforget; i++)
		if (d->forget[i] == ino)
			return;
	if (d->nforget < GFM_DIRS_FORGET_MAX)
		d->forget[d->nforget++] = ino;
	else
		d->forget_all = 1;
}

/* c's directories, as c leaves them, into the capture (and end it) */
static void capture_dirs(const struct gf_changes *c)
{
	struct gfm_dirs *d = capture;
	capture = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct gf_change *ch = &c->v[i];
		if (ch->kind == GF_CHG_INODE_DEL) {
			capture_forget(d, ch->a);
			continue;
		}
		if (ch->kind != GF_CHG_INODE_PUT || !S_ISDIR(ch->attr.mode))
			continue;
		uint8_t k;
		for (k = 0; k < d->n && d->attr[k].ino != ch->attr.ino; k++)
			;
		if (k < d->n || d->n < GFM_DIRS_MAX) {
			d->attr[k] = ch->attr; /* a later record of it is newer */
			if (k == d->n)
				d->n++;
		} else {
			capture_forget(d, ch->attr.ino);
		}
	}
	/* one both given and forgotten (removed after a change): forgotten */
	for (uint8_t j = 0; j < d->nforget; j++)
		for (uint8_t k = 0; k < d->n; k++)
			if (d->attr[k].ino == d->forget[j]) {
				d->attr[k] = d->attr[--d->n];
				break;
			}
}

/*
 * Every number below upto handed out, or about to be: the stored counter
 * must be above them, so a restart never hands one out again. It is moved
 * a block at a time (GF_NS_INO_RESERVE ahead), so that most creates store
 * one row less (a restart skips what was reserved and not used: numbers
 * are never reused anyway). The move goes into c (lock held).
 */
static void counter_ahead(struct gf_ns *ns, struct gf_changes *c, uint64_t upto)
{
	if (upto <= ns->stored_next_ino)
		return;
	ns->stored_next_ino = upto + GF_NS_INO_RESERVE;
	gf_changes_add(c, GF_CHG_NEXT_INO, ns->stored_next_ino, 0, 0, NULL, 0, NULL, 0, 0);
}

static void emit(struct gf_ns *ns, struct gf_changes *c, uint64_t *ticket)
{
	if (ticket)
		*ticket = 0;
	if (capture)
		capture_dirs(c);
	/* the stored counter goes with the change that used its numbers */
	if (c->n)
		counter_ahead(ns, c, ns->next_ino);
	if (c->err) {
		gf_err("gfmd: out of memory recording a namespace change; exiting");
		abort();
	}
	if (!c->n) {
		gf_changes_free(c);
		return;
	}
	/* the inodes this change touches, to stamp with its ticket (readers of
	 * them wait for it); a removed inode leaves destroy_ticket instead */
	struct inode *stack[16], **touched = stack;
	size_t ntouched = 0, cap = 16;
	int destroyed = 0;
	if (c->n > cap) {
		touched = malloc(c->n * sizeof(*touched));
		if (!touched) {
			gf_err("gfmd: out of memory recording a namespace change; exiting");
			abort();
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct gf_change *ch = &c->v[i];
		uint64_t ino = 0;
		switch (ch->kind) {
		case GF_CHG_INODE_PUT: ino = ch->attr.ino; break;
		case GF_CHG_INODE_DEL: destroyed = 1; break;
		case GF_CHG_DIRENT_PUT:
		case GF_CHG_DIRENT_DEL:
		case GF_CHG_XATTR_PUT:
		case GF_CHG_XATTR_DEL:
		case GF_CHG_REPLICA_PUT:
		case GF_CHG_REPLICA_DEL: ino = ch->a; break;
		default: break;
		}
		struct inode *ip = ino ? iget(ns, ino) : NULL;
		if (ip)
			touched[ntouched++] = ip;
	}
	uint64_t t = ns->sink ? ns->sink(ns->sink_arg, c) : 0;
	for (size_t i = 0; i < ntouched; i++)
		touched[i]->ticket = t;
	if (touched != stack)
		free(touched);
	if (destroyed)
		ns->destroy_ticket = t;
	if (t > ns->last_ticket)
		ns->last_ticket = t;
	if (ns->npending) {
		for (size_t h = 0; h < ns->ndead; h++) {
			struct deadlist *dl = &ns->dead[h];
			for (size_t j = dl->n; j-- > 0 && dl->v[j].ticket == DEAD_PENDING;)
				dl->v[j].ticket = t;
		}
		ns->npending = 0;
	}
	if (ticket)
		*ticket = t;
	gf_changes_free(c);
}

/* What a failed mutation's reply waits for: its error may rest on any change
 * made so far. */
static void failed(struct gf_ns *ns, uint64_t *ticket)
{
	if (ticket)
		*ticket = ns->last_ticket;
}

static void waits(uint64_t *wait, uint64_t t)
{
	if (wait && t > *wait)
		*wait = t;
}

/* ---- dead replicas ------------------------------------------------------------------ */

static struct deadlist *deadlist_get(struct gf_ns *ns, uint32_t host_id, int create)
{
	for (size_t i = 0; i < ns->ndead; i++)
		if (ns->dead[i].host_id == host_id)
			return &ns->dead[i];
	if (!create)
		return NULL;
	struct deadlist *v = realloc(ns->dead, (ns->ndead + 1) * sizeof(*v));
	if (!v)
		return NULL;
	ns->dead = v;
	memset(&v[ns->ndead], 0, sizeof(*v));
	v[ns->ndead].host_id = host_id;
	return &v[ns->ndead++];
}

static int dead_add(struct gf_ns *ns, uint32_t host_id, uint64_t ino, uint64_t fgen,
		    uint64_t ticket, int64_t not_before_ms)
{
	struct deadlist *dl = deadlist_get(ns, host_id, 1);
	if (!dl)
		return -ENOMEM;
	for (size_t i = 0; i < dl->n; i++)
		if (dl->v[i].ino == ino && dl->v[i].fgen == fgen)
			return 0;
	if (dl->n == dl->cap) {
		size_t cap = dl->cap ? dl->cap * 2 : 16;
		struct dead *v = realloc(dl->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		dl->v = v;
		dl->cap = cap;
	}
	dl->v[dl->n].ino = ino;
	dl->v[dl->n].fgen = fgen;
	dl->v[dl->n].ticket = ticket;
	dl->v[dl->n].not_before_ms = not_before_ms;
	dl->n++;
	if (ticket == DEAD_PENDING)
		ns->npending++;
	return 0;
}

/* Replica i of ip becomes dead: its file is deleted once this is committed
 * (and, for a removed file, once its grace is over). */
static void replica_kill_after(struct gf_ns *ns, struct inode *ip, uint32_t i,
			       int64_t not_before_ms, struct gf_changes *c)
{
	struct gf_ns_replica r = ip->reps[i];
	gf_changes_add(c, GF_CHG_REPLICA_DEL, ip->a.ino, r.host_id, 0, NULL, 0, NULL, 0, 0);
	gf_changes_add(c, GF_CHG_DEAD_PUT, ip->a.ino, r.host_id, r.fgen, NULL, 0, NULL, 0, 0);
	if (dead_add(ns, r.host_id, ip->a.ino, r.fgen, DEAD_PENDING, not_before_ms))
		c->err = -ENOMEM;
	ns->host_nreps[r.host_id]--; /* (replica_add made the slot) */
	ip->reps[i] = ip->reps[--ip->nreps];
	for (uint32_t j = 0; j < ip->nreps; j++)
		if (ip->reps[j].host_id == r.host_id)
			return; /* another replica of it stays there */
	hostidx_del(&ns->hidx, r.host_id, ip->a.ino);
}

static void replica_kill(struct gf_ns *ns, struct inode *ip, uint32_t i, struct gf_changes *c)
{
	replica_kill_after(ns, ip, i, 0, c);
}

/* ---- limbo: removed files, readable by inode number for a moment ------------------------ */

static size_t limbo_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 56) % LIMBO_BUCKETS;
}

static void limbo_free(struct limbo *l)
{
	free(l->reps);
	free(l);
}

/* Forget the entries whose grace is over (write lock held). */
static void limbo_expire(struct gf_ns *ns, int64_t now)
{
	while (ns->limbo_head && ns->limbo_head->until_ms <= now) {
		struct limbo *l = ns->limbo_head, **pp = &ns->limbo[limbo_slot(l->a.ino)];
		ns->limbo_head = l->qnext;
		if (!ns->limbo_head)
			ns->limbo_tail = NULL;
		while (*pp && *pp != l)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = l->hnext;
		limbo_free(l);
	}
	__atomic_store_n(&ns->limbo_due_ms, ns->limbo_head ? ns->limbo_head->until_ms : INT64_MAX,
			 __ATOMIC_RELAXED);
}

/* The removed file ino if its grace is not over (any lock held). */
static const struct limbo *limbo_get(const struct gf_ns *ns, uint64_t ino)
{
	int64_t now = gf_mono_ms();
	for (const struct limbo *l = ns->limbo[limbo_slot(ino)]; l; l = l->hnext)
		if (l->a.ino == ino && l->until_ms > now)
			return l;
	return NULL;
}

/* Keep what readers of ip need for grace_ms (best effort: out of memory,
 * the file is simply gone at once). */
static void limbo_add(struct gf_ns *ns, const struct inode *ip, int64_t until)
{
	struct limbo *l = calloc(1, sizeof(*l));
	if (!l)
		return;
	l->reps = malloc((ip->nreps ? ip->nreps : 1) * sizeof(*l->reps));
	if (!l->reps) {
		free(l);
		return;
	}
	l->a = ip->a;
	l->a.nlink = 0;
	for (uint32_t i = 0; i < ip->nreps; i++)
		if (ip->reps[i].gen == ip->a.gen)
			l->reps[l->nreps++] = ip->reps[i];
	l->until_ms = until;
	size_t s = limbo_slot(ip->a.ino);
	l->hnext = ns->limbo[s];
	ns->limbo[s] = l;
	if (ns->limbo_tail)
		ns->limbo_tail->qnext = l;
	else
		ns->limbo_head = l;
	ns->limbo_tail = l;
	__atomic_store_n(&ns->limbo_due_ms, ns->limbo_head->until_ms, __ATOMIC_RELAXED);
}

/* The inode has no name left: forget it, its replicas become dead. */
static void inode_destroy(struct gf_ns *ns, struct inode *ip, struct gf_changes *c)
{
	int64_t now = gf_mono_ms(), until = 0;
	limbo_expire(ns, now);
	if (ns->grace_ms) {
		/* (any type: fstat of a directory, fifo or empty file still
		 * open answers its last attributes too) */
		until = now + ns->grace_ms;
		limbo_add(ns, ip, until);
	}
	while (ip->nreps)
		replica_kill_after(ns, ip, ip->nreps - 1, until, c);
	gf_changes_add(c, GF_CHG_INODE_DEL, ip->a.ino, 0, 0, NULL, 0, NULL, 0, 0);
	iremove(ns, ip);
	inode_free(ns, ip);
}

/* ---- life cycle and loading -------------------------------------------------------- */

struct gf_ns *gf_ns_new(void)
{
	struct gf_ns *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return NULL;
	gf_pool_init(&ns->inodes, sizeof(struct inode));
	for (size_t k = 0; k < REPS_POOLS; k++)
		gf_pool_init(&ns->reps[k], (k + 1) * sizeof(struct gf_ns_replica));
	ns->itabsz = 1024;
	ns->itab = calloc(ns->itabsz, sizeof(*ns->itab));
	if (!ns->itab) {
		free(ns);
		return NULL;
	}
	/* Writers first: a stream of readers (stats, listings, scans) must
	 * not starve mutations. (No path takes this lock for reading twice,
	 * which a waiting writer would deadlock.) */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ns->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	ns->next_ino = GF_ROOT_INO + 1;
	ns->limbo_due_ms = INT64_MAX;
	return ns;
}

void gf_ns_free(struct gf_ns *ns)
{
	if (!ns)
		return;
	free(ns->copies);
	for (size_t i = 0; i < ns->itabsz; i++) {
		struct inode *ip = ns->itab[i], *next;
		for (; ip; ip = next) {
			next = ip->hnext;
			inode_free(ns, ip);
		}
	}
	for (size_t i = 0; i < ns->ndead; i++)
		free(ns->dead[i].v);
	free(ns->dead);
	for (struct limbo *l = ns->limbo_head, *next; l; l = next) {
		next = l->qnext;
		limbo_free(l);
	}
	free(ns->itab);
	free(ns->host_nreps);
	hostidx_free(&ns->hidx);
	gf_pool_destroy(&ns->inodes);
	for (size_t k = 0; k < REPS_POOLS; k++)
		gf_pool_destroy(&ns->reps[k]);
	pthread_rwlock_destroy(&ns->lock);
	free(ns);
}

void gf_ns_set_grace(struct gf_ns *ns, uint32_t ms)
{
	pthread_rwlock_wrlock(&ns->lock);
	ns->grace_ms = ms;
	pthread_rwlock_unlock(&ns->lock);
}

void gf_ns_set_sink(struct gf_ns *ns, gf_sink_fn sink, void *arg)
{
	pthread_rwlock_wrlock(&ns->lock);
	ns->sink = sink;
	ns->sink_arg = arg;
	pthread_rwlock_unlock(&ns->lock);
}

int gf_ns_load_inode(struct gf_ns *ns, const struct gf_attr *a, const char *symlink)
{
	if (a->ino == 0)
		return -EINVAL;
	if (iget(ns, a->ino))
		return -EEXIST;
	struct inode *ip = inode_alloc(ns, a->mode);
	if (!ip)
		return -ENOMEM;
	ip->a = *a;
	if (symlink && S_ISLNK(a->mode)) {
		ip->symlink = strdup(symlink);
		if (!ip->symlink) {
			inode_free(ns, ip);
			return -ENOMEM;
		}
	}
	if (ip->dir)
		ip->dir->parent = a->ino == GF_ROOT_INO ? GF_ROOT_INO : 0;
	if (iinsert(ns, ip)) {
		inode_free(ns, ip);
		return -ENOMEM;
	}
	if (a->ino >= ns->next_ino)
		ns->next_ino = a->ino + 1;
	return 0;
}

int gf_ns_load_dirent(struct gf_ns *ns, uint64_t parent, const char *name,
		      uint64_t ino, uint64_t cookie)
{
	struct inode *dp = iget(ns, parent);
	if (!dp || !dp->dir || check_name(name) || cookie == 0)
		return -EINVAL;
	if (dir_find(dp->dir, name))
		return -EEXIST;
	/* slots are sorted in gf_ns_load_finish */
	if (!dir_add(dp->dir, name, ino, cookie))
		return -ENOMEM;
	return 0;
}

int gf_ns_load_xattr(struct gf_ns *ns, uint64_t ino, const char *name,
		     const void *value, size_t len)
{
	struct inode *ip = iget(ns, ino);
	if (!ip)
		return -EINVAL;
	struct xattr *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->name = strdup(name);
	x->val = malloc(len ? len : 1);
	if (!x->name || !x->val) {
		free(x->name);
		free(x->val);
		free(x);
		return -ENOMEM;
	}
	if (len)
		memcpy(x->val, value, len);
	x->len = (uint32_t)len;
	x->next = ip->xattrs;
	ip->xattrs = x;
	if (strcmp(name, GF_ACL_ACCESS) == 0)
		ip->acl |= HAS_ACL_ACCESS;
	else if (strcmp(name, GF_ACL_DEFAULT) == 0)
		ip->acl |= HAS_ACL_DEFAULT;
	return 0;
}

/* The counter of host_id's replicas, grown as needed (write lock held). */
static uint64_t *host_nreps_slot(struct gf_ns *ns, uint32_t host_id)
{
	if (host_id >= ns->nhost_nreps) {
		size_t n = ns->nhost_nreps ? ns->nhost_nreps : 16;
		while (n <= host_id)
			n *= 2;
		uint64_t *v = realloc(ns->host_nreps, n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + ns->nhost_nreps, 0, (n - ns->nhost_nreps) * sizeof(*v));
		ns->host_nreps = v;
		ns->nhost_nreps = n;
	}
	return &ns->host_nreps[host_id];
}

static int replica_add(struct gf_ns *ns, struct inode *ip, uint32_t host_id, uint64_t gen,
		       uint64_t fgen)
{
	uint64_t *count = host_nreps_slot(ns, host_id);
	if (!count)
		return -ENOMEM;
	int rc = reps_grow(ns, ip, (size_t)ip->nreps + 1);
	if (rc)
		return rc;
	struct gf_ns_replica *v = ip->reps;
	if (hostidx_add(&ns->hidx, host_id, ip->a.ino) < 0)
		return -ENOMEM;
	(*count)++;
	v[ip->nreps].host_id = host_id;
	v[ip->nreps].gen = gen;
	v[ip->nreps].fgen = fgen;
	ip->nreps++;
	return 0;
}

static void rec_replica(struct gf_changes *c, const struct inode *ip,
			const struct gf_ns_replica *r)
{
	struct gf_change *ch = gf_changes_add(c, GF_CHG_REPLICA_PUT, ip->a.ino, r->host_id,
					      r->gen, NULL, 0, NULL, 0, 0);
	if (ch)
		ch->d = r->fgen;
}

int gf_ns_load_replica(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t gen,
		       uint64_t fgen)
{
	struct inode *ip = iget(ns, ino);
	if (!ip)
		return -EINVAL;
	/* a copy's file generation came from the inode-number counter */
	if ((fgen & GF_FGEN_COPY) && (fgen & ~GF_FGEN_COPY) >= ns->next_ino)
		ns->next_ino = (fgen & ~GF_FGEN_COPY) + 1;
	return replica_add(ns, ip, host_id, gen, fgen);
}

int gf_ns_load_dead(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t fgen)
{
	return dead_add(ns, host_id, ino, fgen, 0, 0); /* committed: it was loaded */
}

void gf_ns_load_next_ino(struct gf_ns *ns, uint64_t next)
{
	if (next > ns->next_ino)
		ns->next_ino = next;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

int gf_ns_load_finish(struct gf_ns *ns, uint64_t *ticket)
{
	struct gf_changes c;
	gf_changes_init(&c);
	pthread_rwlock_wrlock(&ns->lock);
	ns->stored_next_ino = ns->next_ino;
	for (size_t i = 0; i < ns->itabsz; i++) {
		for (struct inode *dp = ns->itab[i]; dp; dp = dp->hnext) {
			struct dir *d = dp->dir;
			if (!d)
				continue;
			if (d->nslots > 1)
				qsort(d->slots, d->nslots, sizeof(*d->slots), slot_cmp);
			for (size_t j = 0; j < d->nslots; j++) {
				struct dent *e = d->slots[j].d;
				if (!e)
					continue;
				struct inode *ip = iget(ns, e->ino);
				if (!ip) {
					gf_warn("gfmd: dropping entry '%s' in directory %llu: "
						"inode %llu does not exist", e->name,
						(unsigned long long)dp->a.ino,
						(unsigned long long)e->ino);
					rec_dirent_del(&c, dp->a.ino, e->name);
					dir_del(d, e);
					j = (size_t)-1; /* dir_del may compact: rescan */
					continue;
				}
				if (ip->dir)
					ip->dir->parent = dp->a.ino;
			}
		}
	}
	if (!iget(ns, GF_ROOT_INO)) {
		struct inode *root = inode_alloc(ns, S_IFDIR | 0755);
		if (root)
			root->a.ino = GF_ROOT_INO;
		if (!root || iinsert(ns, root)) {
			inode_free(ns, root);
			pthread_rwlock_unlock(&ns->lock);
			gf_changes_free(&c);
			return -ENOMEM;
		}
		struct gf_timespec t = now_ts();
		root->a.ino = GF_ROOT_INO;
		root->a.nlink = 2;
		root->a.size = DIR_SIZE;
		root->a.gen = 1;
		root->a.atime = root->a.mtime = root->a.ctime = t;
		root->dir->parent = GF_ROOT_INO;
		rec_inode(&c, root);
		if (ns->next_ino <= GF_ROOT_INO)
			ns->next_ino = GF_ROOT_INO + 1;
		ns->stored_next_ino = 0; /* record the counter too */
	}
	emit(ns, &c, ticket);
	pthread_rwlock_unlock(&ns->lock);
	return 0;
}

/* ---- reads ----------------------------------------------------------------------- */

/* The directory ino, with search permission for cr. */
static int get_dir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   struct inode **out)
{
	struct inode *dp = iget(ns, ino);
	if (!dp)
		return -ENOENT;
	if (!dp->dir)
		return -ENOTDIR;
	int rc = permission(cr, dp, MAY_X);
	if (rc)
		return rc;
	*out = dp;
	return 0;
}

/* The ticket a reader of inode ino must wait for: its last change's, or the
 * last removal's when it is gone. */
static uint64_t stamp(const struct gf_ns *ns, const struct inode *ip)
{
	return ip ? ip->ticket : ns->destroy_ticket;
}

static int ts_le(struct gf_timespec a, struct gf_timespec b)
{
	return a.sec < b.sec || (a.sec == b.sec && a.nsec <= b.nsec);
}

/* relatime, as the kernel's relatime_need_update: an access moves atime
 * when it is not later than mtime or ctime, or is a day old. */
static int atime_due(const struct inode *ip, struct gf_timespec now)
{
	return ts_le(ip->a.atime, ip->a.mtime) || ts_le(ip->a.atime, ip->a.ctime) ||
	       now.sec - ip->a.atime.sec >= 24 * 60 * 60;
}

/*
 * An access to ino (a read open, the start of a listing, a readlink),
 * found due by atime_due under the read lock: its atime moves (*out's
 * too, when given). The change is committed with whatever comes next and
 * nobody's reply waits for it, not even a later read of ip's attributes:
 * ext4 does not make an atime durable at the read either.
 */
static void accessed(struct gf_ns *ns, uint64_t ino, struct gf_attr *out)
{
	struct gf_changes c;
	gf_changes_init(&c);
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	struct gf_timespec now = now_ts();
	if (ip && atime_due(ip, now)) {
		/* readers of ip need not wait for this commit: its stamp
		 * stays that of its last change that matters */
		uint64_t keep = ip->ticket;
		ip->a.atime = now;
		rec_inode(&c, ip);
		emit(ns, &c, NULL);
		ip->ticket = keep;
		if (out)
			out->atime = now;
	}
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
}

int gf_ns_lookup(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, struct gf_attr *out, uint64_t *wait)
{
	struct inode *dp = NULL, *ip = NULL;
	if (wait)
		*wait = 0;
	pthread_rwlock_rdlock(&ns->lock);
	int rc = get_dir(ns, cr, parent, &dp);
	waits(wait, stamp(ns, iget(ns, parent)));
	if (rc)
		goto out;
	if (strcmp(name, ".") == 0) {
		ip = dp;
	} else if (strcmp(name, "..") == 0) {
		ip = iget(ns, dp->dir->parent ? dp->dir->parent : GF_ROOT_INO);
	} else {
		rc = check_name(name);
		if (rc)
			goto out;
		struct dent *e = dir_find(dp->dir, name);
		if (e)
			ip = iget(ns, e->ino);
	}
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	waits(wait, ip->ticket);
	*out = ip->a;
out:
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int gf_ns_getattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		  struct gf_attr *out, uint64_t *wait)
{
	int rc = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	const struct limbo *l = ip ? NULL : limbo_get(ns, ino);
	if (wait)
		*wait = stamp(ns, ip);
	if (ip)
		*out = ip->a;
	else if (l)
		*out = l->a; /* removed a moment ago (fstat of it still open) */
	else
		rc = -ENOENT;
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int gf_ns_readlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   char *buf, size_t bufsz, uint64_t *wait)
{
	int rc = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (wait)
		*wait = stamp(ns, ip);
	if (!ip)
		rc = -ENOENT;
	else if (!S_ISLNK(ip->a.mode) || !ip->symlink)
		rc = -EINVAL;
	else if (strlen(ip->symlink) >= bufsz)
		rc = -ERANGE;
	else
		strcpy(buf, ip->symlink);
	int due = rc == 0 && atime_due(ip, now_ts());
	pthread_rwlock_unlock(&ns->lock);
	if (due)
		accessed(ns, ino, NULL);
	return rc;
}

int gf_ns_access(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t mask,
		 uint64_t *wait)
{
	if (wait)
		*wait = 0;
	if (mask & ~7u)
		return -EINVAL;
	int rc = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (wait)
		*wait = stamp(ns, ip);
	if (!ip)
		rc = -ENOENT;
	else if (mask)
		rc = permission(cr, ip, (int)(((mask & R_OK) ? MAY_R : 0) |
					      ((mask & W_OK) ? MAY_W : 0) |
					      ((mask & X_OK) ? MAY_X : 0)));
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int gf_ns_readdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		  uint64_t cookie, uint32_t max, struct gfm_dirent *ents,
		  uint32_t *count, uint8_t *eof, uint64_t *wait)
{
	int rc = 0;
	uint32_t n = 0;
	*count = 0;
	*eof = 1;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *dp = iget(ns, ino);
	if (wait)
		*wait = stamp(ns, dp);
	if (!dp) {
		/* removed a moment ago, listed through a descriptor still
		 * open: empty, as ext4 lists a removed directory */
		const struct limbo *l = limbo_get(ns, ino);
		struct inode t = { .a = l ? l->a : (struct gf_attr){ 0 } };
		rc = !l ? -ENOENT : !S_ISDIR(t.a.mode) ? -ENOTDIR : permission(cr, &t, MAY_R);
		goto out;
	}
	if (!dp->dir) {
		rc = -ENOTDIR;
		goto out;
	}
	rc = permission(cr, dp, MAY_R);
	if (rc)
		goto out;
	struct dir *d = dp->dir;
	size_t i = slot_after(d, cookie);
	for (; i < d->nslots; i++) {
		struct dent *e = d->slots[i].d;
		if (!e)
			continue;
		if (n == max) {
			*eof = 0;
			break;
		}
		struct inode *ip = iget(ns, e->ino);
		if (!ip)
			continue;
		waits(wait, ip->ticket);
		ents[n].cookie = e->cookie;
		memcpy(ents[n].name, e->name, e->namelen + 1);
		ents[n].attr = ip->a;
		n++;
	}
	*count = n;
out:;
	int due = rc == 0 && dp && cookie == 0 && atime_due(dp, now_ts()); /* a listing starts */
	pthread_rwlock_unlock(&ns->lock);
	if (due)
		accessed(ns, ino, NULL);
	return rc;
}

int gf_ns_dir_names(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, char *buf,
		    size_t cap, uint32_t *len, uint32_t *count)
{
	int rc = 0;
	size_t off = 0;
	uint32_t n = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *dp = iget(ns, ino);
	if (!dp)
		rc = -ENOENT;
	else if (!dp->dir)
		rc = -ENOTDIR;
	else
		rc = permission(cr, dp, MAY_X);
	for (size_t i = 0; !rc && i < dp->dir->nslots; i++) {
		const struct dent *e = dp->dir->slots[i].d;
		if (!e)
			continue;
		if (e->namelen + 1 > cap - off) {
			rc = -E2BIG;
			break;
		}
		memcpy(buf + off, e->name, e->namelen + 1);
		off += e->namelen + 1;
		n++;
	}
	pthread_rwlock_unlock(&ns->lock);
	*len = rc ? 0 : (uint32_t)off;
	*count = rc ? 0 : n;
	return rc;
}

/*
 * Which xattr names exist and who may touch them, as Linux has it: "user."
 * (regular files and directories, by permission bits); "trusted." for root
 * only; "security." read by all, written by root only (CAP_SYS_ADMIN,
 * CAP_SETFCAP); the POSIX ACLs "system.posix_acl_access" and "_default"
 * (a default ACL on directories only) read by all, set by the owner or
 * root. Other "system." names are not supported.
 */
static int xattr_permission(const struct gf_cred *cr, const struct inode *ip,
			    const char *name, int write)
{
	size_t n = strnlen(name, GF_XATTR_NAME_MAX + 1);
	if (n == 0 || n > GF_XATTR_NAME_MAX)
		return -ERANGE;
	if (strcmp(name, "user.") == 0 || strcmp(name, "trusted.") == 0 ||
	    strcmp(name, "security.") == 0)
		return -EINVAL; /* a namespace with no name in it (xattr_resolve_name) */
	if (strncmp(name, "trusted.", 8) == 0) {
		if (cr->uid != 0)
			return write ? -EPERM : -ENODATA;
		return 0;
	}
	if (strncmp(name, "security.", 9) == 0)
		return write && cr->uid != 0 ? -EPERM : 0;
	if (strcmp(name, GF_ACL_ACCESS) == 0 || strcmp(name, GF_ACL_DEFAULT) == 0) {
		if (S_ISLNK(ip->a.mode))
			return -EOPNOTSUPP;
		if (write && !is_owner(cr, ip))
			return -EPERM;
		return 0;
	}
	if (strncmp(name, "system.", 7) == 0)
		return -EOPNOTSUPP;
	if (strncmp(name, "user.", 5) != 0)
		return -EOPNOTSUPP;
	if (!S_ISREG(ip->a.mode) && !S_ISDIR(ip->a.mode))
		return write ? -EPERM : -ENODATA;
	if (write && S_ISDIR(ip->a.mode) && (ip->a.mode & S_ISVTX) && !is_owner(cr, ip))
		return -EPERM;
	return permission(cr, ip, write ? MAY_W : MAY_R);
}

int gf_ns_getxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   const char *name, void *buf, size_t size, size_t *len, uint64_t *wait)
{
	int rc;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (wait)
		*wait = stamp(ns, ip);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	rc = xattr_permission(cr, ip, name, 0);
	if (rc)
		goto out;
	const struct xattr *x = xattr_get(ip, name);
	if (!x) {
		rc = -ENODATA;
		goto out;
	}
	*len = x->len;
	if (size == 0)
		goto out;
	if (size < x->len) {
		rc = -ERANGE;
		goto out;
	}
	if (x->len)
		memcpy(buf, x->val, x->len);
out:
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int gf_ns_listxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		    void *buf, size_t size, size_t *len, uint64_t *wait)
{
	int rc = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (wait)
		*wait = stamp(ns, ip);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	size_t total = 0;
	for (struct xattr *x = ip->xattrs; x; x = x->next) {
		if (cr->uid != 0 && strncmp(x->name, "trusted.", 8) == 0)
			continue;
		total += strlen(x->name) + 1;
	}
	*len = total;
	if (size == 0)
		goto out;
	if (size < total) {
		rc = -ERANGE;
		goto out;
	}
	char *p = buf;
	for (struct xattr *x = ip->xattrs; x; x = x->next) {
		if (cr->uid != 0 && strncmp(x->name, "trusted.", 8) == 0)
			continue;
		size_t n = strlen(x->name) + 1;
		memcpy(p, x->name, n);
		p += n;
	}
out:
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

uint64_t gf_ns_inode_count(struct gf_ns *ns)
{
	pthread_rwlock_rdlock(&ns->lock);
	uint64_t n = ns->ninodes;
	pthread_rwlock_unlock(&ns->lock);
	return n;
}

uint64_t gf_ns_replica_count(struct gf_ns *ns, uint32_t host_id)
{
	uint64_t n = 0;
	pthread_rwlock_rdlock(&ns->lock);
	if (host_id < ns->nhost_nreps)
		n = ns->host_nreps[host_id];
	pthread_rwlock_unlock(&ns->lock);
	return n;
}

int gf_ns_check_counts(struct gf_ns *ns)
{
	int rc = 0;
	pthread_rwlock_rdlock(&ns->lock);
	for (size_t h = 0; h < ns->nhost_nreps && !rc; h++) {
		uint64_t n = 0;
		for (size_t i = 0; i < ns->itabsz; i++)
			for (struct inode *ip = ns->itab[i]; ip; ip = ip->hnext)
				for (uint32_t j = 0; j < ip->nreps; j++)
					n += ip->reps[j].host_id == h;
		if (n != ns->host_nreps[h])
			rc = -EUCLEAN;
	}
	/* a replica on a host with no counter at all, or missing from the
	 * host index */
	for (size_t i = 0; i < ns->itabsz && !rc; i++)
		for (struct inode *ip = ns->itab[i]; ip; ip = ip->hnext)
			for (uint32_t j = 0; j < ip->nreps; j++)
				if (ip->reps[j].host_id >= ns->nhost_nreps ||
				    !hostidx_has(&ns->hidx, ip->reps[j].host_id, ip->a.ino))
					rc = -EUCLEAN;
	/* an index member with no replica there */
	for (uint32_t h = 0; h < ns->hidx.nhosts && !rc; h++) {
		uint64_t n = 0;
		for (uint64_t ino = hostidx_next(&ns->hidx, h, 0); ino && !rc;
		     ino = hostidx_next(&ns->hidx, h, ino), n++) {
			struct inode *ip = iget(ns, ino);
			uint32_t j = 0;
			while (ip && j < ip->nreps && ip->reps[j].host_id != h)
				j++;
			if (!ip || j == ip->nreps)
				rc = -EUCLEAN;
		}
		if (n != hostidx_count(&ns->hidx, h))
			rc = -EUCLEAN;
	}
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

/* Is replica r of ip current (holds the inode's data generation)? */
static int is_current(const struct inode *ip, const struct gf_ns_replica *r)
{
	return r->gen == ip->a.gen;
}


int gf_ns_replicas(struct gf_ns *ns, uint64_t ino, int all, struct gf_ns_replica *out,
		   size_t max, size_t *n, uint64_t *wait)
{
	int rc = 0;
	*n = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (wait)
		*wait = stamp(ns, ip);
	if (!ip)
		rc = -ENOENT;
	else
		for (uint32_t i = 0; i < ip->nreps && *n < max; i++)
			if (all || is_current(ip, &ip->reps[i]))
				out[(*n)++] = ip->reps[i];
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

struct host_rep {
	uint64_t ino, fgen;
};

static int host_rep_cmp(const void *a, const void *b)
{
	const struct host_rep *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->fgen < y->fgen ? -1 : x->fgen > y->fgen;
}

static int host_rep_push(struct host_rep **v, size_t *n, size_t *cap, uint64_t ino,
			 uint64_t fgen)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct host_rep *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = (struct host_rep){ ino, fgen };
	return 0;
}

int gf_ns_host_replicas(struct gf_ns *ns, uint32_t host_id, uint64_t after, uint32_t max,
			struct gf_dead_replica *out, uint32_t *count, uint8_t *eof,
			uint64_t *wait)
{
	struct host_rep *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	*count = 0;
	*eof = 1;
	pthread_rwlock_rdlock(&ns->lock);
	if (wait)
		*wait = ns->last_ticket;
	/* the host's inodes from the index, in order, a page's worth (the
	 * page ends at an inode: up to `last`, or all of them when the index
	 * ran out) */
	uint64_t ino = after, last = UINT64_MAX;
	while (!rc && (ino = hostidx_next(&ns->hidx, host_id, ino)) != 0) {
		if (n >= max) {
			last = ino - 1;
			break;
		}
		struct inode *ip = iget(ns, ino);
		for (uint32_t j = 0; ip && j < ip->nreps && !rc; j++)
			if (ip->reps[j].host_id == host_id)
				rc = host_rep_push(&v, &n, &cap, ino, ip->reps[j].fgen);
	}
	/* a copy under way: its file may be named before it is recorded */
	for (size_t i = 0; i < ns->ncopies && !rc; i++) {
		const struct copying *cp = &ns->copies[i];
		if (cp->host == host_id && cp->ino > after && cp->ino <= last)
			rc = host_rep_push(&v, &n, &cap, cp->ino, cp->fgen);
	}
	pthread_rwlock_unlock(&ns->lock);
	if (rc) {
		free(v);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), host_rep_cmp);
	uint32_t k = 0;
	if (last != UINT64_MAX)
		*eof = 0; /* the index has more after this page */
	for (size_t i = 0; i < n; i++) {
		if (k == max) {
			/* the next page starts after the last inode: none may be
			 * split (a host may hold a copy under way beside a replica) */
			while (k > 1 && out[k - 1].ino == v[i].ino)
				k--;
			*eof = 0;
			break;
		}
		out[k].ino = v[i].ino;
		out[k].gen = v[i].fgen;
		k++;
	}
	*count = k;
	free(v);
	return 0;
}

uint64_t gf_ns_last_ticket(struct gf_ns *ns)
{
	pthread_rwlock_rdlock(&ns->lock);
	uint64_t t = ns->last_ticket;
	pthread_rwlock_unlock(&ns->lock);
	return t;
}

/* ---- mutations ------------------------------------------------------------------------- */

/* ---- xattrs kept on an inode --------------------------------------------------------- */

/* A new xattr not yet on any inode, or NULL when out of memory. */
static struct xattr *xattr_new(const char *name, const void *val, size_t len)
{
	struct xattr *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->name = strdup(name);
	x->val = malloc(len ? len : 1);
	if (!x->name || !x->val) {
		free(x->name);
		free(x->val);
		free(x);
		return NULL;
	}
	if (len)
		memcpy(x->val, val, len);
	x->len = (uint32_t)len;
	return x;
}

static void xattr_free(struct xattr *x)
{
	if (!x)
		return;
	free(x->name);
	free(x->val);
	free(x);
}

static uint8_t acl_flag(const char *name)
{
	return strcmp(name, GF_ACL_ACCESS) == 0	 ? HAS_ACL_ACCESS
	       : strcmp(name, GF_ACL_DEFAULT) == 0 ? HAS_ACL_DEFAULT
						   : 0;
}

/* Remove ip's xattr name, if it has one, and record that: 1 if it had. */
static int xattr_drop(struct inode *ip, const char *name, struct gf_changes *c)
{
	struct xattr **pp = &ip->xattrs;
	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	if (!*pp)
		return 0;
	struct xattr *x = *pp;
	*pp = x->next;
	xattr_free(x);
	ip->acl &= (uint8_t)~acl_flag(name);
	gf_changes_add(c, GF_CHG_XATTR_DEL, ip->a.ino, 0, 0, name, strlen(name), NULL, 0, 0);
	return 1;
}

/* Put x on ip in place of any xattr of that name, and record it. */
static void xattr_attach(struct inode *ip, struct xattr *x, struct gf_changes *c)
{
	struct xattr **pp = &ip->xattrs;
	while (*pp && strcmp((*pp)->name, x->name) != 0)
		pp = &(*pp)->next;
	if (*pp) {
		struct xattr *old = *pp;
		x->next = old->next;
		*pp = x;
		xattr_free(old);
	} else {
		x->next = ip->xattrs;
		ip->xattrs = x;
	}
	ip->acl |= acl_flag(x->name);
	gf_changes_add(c, GF_CHG_XATTR_PUT, ip->a.ino, 0, 0, x->name, strlen(x->name), x->val,
		       x->len, 1);
}

/* An ACL in its xattr form, as a new xattr (NULL when out of memory). */
static struct xattr *acl_xattr(const char *name, const struct gf_acl *acl)
{
	size_t n = gf_acl_size(acl);
	uint8_t *buf = malloc(n);
	if (!buf)
		return NULL;
	gf_acl_encode(acl, buf, n);
	struct xattr *x = xattr_new(name, buf, n);
	free(buf);
	return x;
}

/* Whatever writes, truncates or chowns a file drops its file capabilities,
 * as the kernel's security_inode_killpriv does. */
static void kill_priv(struct inode *ip, struct gf_changes *c)
{
	xattr_drop(ip, "security.capability", c);
}

/*
 * What a new inode of mode under dp starts with: with a default ACL on dp,
 * the ACL decides its permission bits (posix_acl_create; the umask is not
 * used), an access ACL when the bits cannot say it all (*acc), and a
 * directory inherits the default ACL itself (*dflt); without one, the umask
 * applies. -ENOMEM, or 0 with *mode set.
 */
static int inherit_acl(const struct inode *dp, uint32_t *mode, uint32_t umask,
		       struct xattr **acc, struct xattr **dflt)
{
	*acc = *dflt = NULL;
	if (S_ISLNK(*mode))
		return 0;
	const struct xattr *d = (dp->acl & HAS_ACL_DEFAULT) ? xattr_get(dp, GF_ACL_DEFAULT) : NULL;
	struct gf_acl *def = d ? malloc(2 * sizeof(*def)) : NULL;
	if (!d || (def && gf_acl_parse(d->val, d->len, def) < 0)) {
		free(def);
		*mode &= ~(umask & 0777);
		return 0;
	}
	if (!def)
		return -ENOMEM;
	struct gf_acl *acl = def + 1;
	int rc = 0;
	if (gf_acl_inherit(def, mode, acl) && !(*acc = acl_xattr(GF_ACL_ACCESS, acl)))
		rc = -ENOMEM;
	if (!rc && S_ISDIR(*mode) && !(*dflt = xattr_new(GF_ACL_DEFAULT, d->val, d->len)))
		rc = -ENOMEM;
	if (rc) {
		xattr_free(*acc);
		*acc = NULL;
	}
	free(def);
	return rc;
}

/* Clear set-user-ID, and set-group-ID when group-executable (a write or a
 * chown by anyone, as ext4 does). */
/* After a truncate: a file takes at most the blocks of its new size (its
 * writer tells the exact figure at its next close). */
static void cut_blocks(struct inode *ip)
{
	uint64_t most = (ip->a.size + 4095) / 4096 * 8;
	if (ip->a.blocks > most)
		ip->a.blocks = most;
}

/* Whether a write, truncate or chown by cr takes set-group-ID from ip (the
 * kernel's setattr_should_drop_sgid): when it is group-executable, or when
 * cr is neither root nor in the file's group. */
static bool drops_sgid(const struct inode *ip, const struct gf_cred *cr)
{
	if (!(ip->a.mode & S_ISGID))
		return false;
	return (ip->a.mode & S_IXGRP) || (cr->uid != 0 && !in_group(cr, ip->a.gid));
}

/* What a write or truncate by cr takes from a regular file: nothing when cr
 * is root (CAP_FSETID); set-user-ID, and set-group-ID as drops_sgid says. */
static void kill_suid(struct inode *ip, const struct gf_cred *cr)
{
	if (cr->uid == 0 || !S_ISREG(ip->a.mode))
		return;
	if (drops_sgid(ip, cr))
		ip->a.mode &= ~(uint32_t)S_ISGID;
	ip->a.mode &= ~(uint32_t)S_ISUID;
}

/* The mode a chown by cr leaves (chown_common): any file but a directory
 * loses set-user-ID, whoever asks, and set-group-ID as drops_sgid says
 * (of the group it had). */
static uint32_t chown_mode(const struct inode *ip, const struct gf_cred *cr)
{
	uint32_t mode = ip->a.mode;
	if (S_ISDIR(mode))
		return mode;
	if (drops_sgid(ip, cr))
		mode &= ~(uint32_t)S_ISGID;
	return mode & ~(uint32_t)S_ISUID;
}

/* The access ACL of ip after a chmod to mode, as a new xattr in *out. */
static int chmod_acl(const struct inode *ip, uint32_t mode, struct xattr **out)
{
	const struct xattr *x = xattr_get(ip, GF_ACL_ACCESS);
	struct gf_acl *acl = malloc(sizeof(*acl));
	int rc = 0;
	*out = NULL;
	if (!acl)
		return -ENOMEM;
	if (x && gf_acl_parse(x->val, x->len, acl) == 0) {
		gf_acl_chmod(acl, mode);
		if (!(*out = acl_xattr(GF_ACL_ACCESS, acl)))
			rc = -ENOMEM;
	}
	free(acl);
	return rc;
}

int gf_ns_setattr(struct gf_ns *ns, const struct gfm_setattr_req *req,
		  struct gf_attr *out, uint64_t *ticket)
{
	const struct gf_cred *cr = &req->cred;
	uint32_t v = req->valid;
	struct gf_changes c;
	int rc = 0;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, req->ino);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	int owner = is_owner(cr, ip);
	if (v & GF_SET_SIZE) {
		if (is_dir(ip)) {
			rc = -EISDIR;
			goto out;
		}
		if (!S_ISREG(ip->a.mode)) {
			rc = -EINVAL;
			goto out;
		}
		/* ftruncate through a descriptor open for writing succeeds
		 * whatever the mode bits say now, as on ext4 */
		if (!(v & GF_SET_SIZE_FH) && (rc = permission(cr, ip, MAY_W)))
			goto out;
		if (req->size > (uint64_t)INT64_MAX) {
			rc = -EFBIG;
			goto out;
		}
	}
	if ((v & GF_SET_KILL_SUID) && !owner && (rc = permission(cr, ip, MAY_W)))
		goto out;
	/*
	 * chown(-1, -1), or the kernel taking set-ID bits before a write (both
	 * come as a SETATTR that sets nothing): nothing to check unless bits
	 * would go; then the owner, root, or a writer (write permission) may.
	 */
	if ((v & GF_SET_TOUCH) && chown_mode(ip, cr) != ip->a.mode && !owner && cr->uid != 0 &&
	    (rc = permission(cr, ip, MAY_W)) < 0) {
		rc = -EPERM;
		goto out;
	}
	if ((v & GF_SET_UID) && req->uid != ip->a.uid && cr->uid != 0) {
		rc = -EPERM;
		goto out;
	}
	if ((v & GF_SET_UID) && cr->uid != 0 && cr->uid != ip->a.uid) {
		rc = -EPERM;
		goto out;
	}
	if ((v & GF_SET_GID) && cr->uid != 0 &&
	    (cr->uid != ip->a.uid || (req->gid != ip->a.gid && !in_group(cr, req->gid)))) {
		rc = -EPERM;
		goto out;
	}
	if ((v & GF_SET_MODE) && !owner) {
		/* The kernel clears setuid/setgid before a non-owner's write
		 * as a chmod (libfuse 3.14 never hands it FUSE_HANDLE_KILLPRIV):
		 * a mode change that only does what a write does is one. */
		struct inode t = *ip;
		kill_suid(&t, cr);
		if (cr->uid == 0 || (req->mode & 07777) != (t.a.mode & 07777) ||
		    t.a.mode == ip->a.mode || permission(cr, ip, MAY_W)) {
			rc = -EPERM;
			goto out;
		}
		v = (v & ~(uint32_t)GF_SET_MODE) | GF_SET_KILL_SUID;
	}
	int explicit_time = (v & GF_SET_ATIME && !(v & GF_SET_ATIME_NOW)) ||
			    (v & GF_SET_MTIME && !(v & GF_SET_MTIME_NOW)) ||
			    (v & GF_SET_CTIME);
	if (explicit_time && !owner) {
		rc = -EPERM;
		goto out;
	}
	if ((v & (GF_SET_ATIME_NOW | GF_SET_MTIME_NOW)) && !owner &&
	    (rc = permission(cr, ip, MAY_W)))
		goto out;
	/* a chmod rewrites an access ACL (posix_acl_chmod), made before
	 * anything changes: running out of memory then changes nothing */
	struct xattr *acl_x = NULL;
	if ((v & GF_SET_MODE) && (ip->acl & HAS_ACL_ACCESS) &&
	    (rc = chmod_acl(ip, req->mode, &acl_x)))
		goto out;

	struct gf_timespec now = now_ts();
	if (v & (GF_SET_SIZE | GF_SET_KILL_SUID | GF_SET_UID | GF_SET_GID | GF_SET_TOUCH)) {
		if (!is_dir(ip))
			kill_priv(ip, &c);
	}
	if (v & GF_SET_SIZE) {
		/* a new generation: the replicas that had the current one are
		 * cut in place (by the caller), any other is of no use */
		uint64_t was = ip->a.gen++;
		for (uint32_t i = ip->nreps; i-- > 0;) {
			if (ip->reps[i].gen == was) {
				ip->reps[i].gen = ip->a.gen;
				rec_replica(&c, ip, &ip->reps[i]);
			} else {
				replica_kill(ns, ip, i, &c);
			}
		}
		ip->a.size = req->size;
		cut_blocks(ip);
		kill_suid(ip, cr);
		if (!(v & (GF_SET_MTIME | GF_SET_MTIME_NOW)))
			ip->a.mtime = now;
	}
	if (v & GF_SET_KILL_SUID)
		kill_suid(ip, cr);
	if (v & (GF_SET_UID | GF_SET_GID | GF_SET_TOUCH)) {
		ip->a.mode = chown_mode(ip, cr);
		if (v & GF_SET_UID)
			ip->a.uid = req->uid;
		if (v & GF_SET_GID)
			ip->a.gid = req->gid;
	}
	if (v & GF_SET_MODE) {
		uint32_t mode = req->mode & 07777;
		if (cr->uid != 0 && !in_group(cr, ip->a.gid))
			mode &= ~(uint32_t)S_ISGID;
		ip->a.mode = (ip->a.mode & S_IFMT) | mode;
		if (acl_x)
			xattr_attach(ip, acl_x, &c);
	}
	if (v & GF_SET_ATIME_NOW)
		ip->a.atime = now;
	else if (v & GF_SET_ATIME)
		ip->a.atime = req->atime;
	if (v & GF_SET_MTIME_NOW)
		ip->a.mtime = now;
	else if (v & GF_SET_MTIME)
		ip->a.mtime = req->mtime;
	ip->a.ctime = (v & GF_SET_CTIME) ? req->ctime : now;
	rec_inode(&c, ip);
	*out = ip->a;
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

/* Checks for adding name to parent: the directory, search permission, the
 * name, that it is free, write permission. */
static int prep_create(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		       const char *name, struct inode **dpp)
{
	struct inode *dp;
	int rc = get_dir(ns, cr, parent, &dp);
	if (rc)
		return rc;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EEXIST;
	if ((rc = check_name(name)))
		return rc;
	if (dir_find(dp->dir, name))
		return -EEXIST;
	if ((rc = permission(cr, dp, MAY_W | MAY_X)))
		return rc;
	if (dp->a.nlink == 0)
		return -ENOENT;
	*dpp = dp;
	return 0;
}

/* Make a new inode named name in dp (checked by prep_create). */
static int make_node(struct gf_ns *ns, const struct gf_cred *cr, struct inode *dp,
		     const char *name, uint32_t mode, uint32_t umask, uint64_t rdev,
		     const char *target, struct gf_changes *c, struct inode **out)
{
	struct xattr *xacc, *xdef;
	if (S_ISDIR(mode) && dp->a.nlink >= GF_LINK_MAX)
		return -EMLINK;
	if (inherit_acl(dp, &mode, umask, &xacc, &xdef))
		return -ENOMEM;
	struct inode *ip = inode_alloc(ns, mode);
	if (!ip || (target && !(ip->symlink = strdup(target))) || dir_reserve(dp->dir)) {
		inode_free(ns, ip);
		xattr_free(xacc);
		xattr_free(xdef);
		return -ENOMEM;
	}
	struct gf_timespec now = now_ts();
	ip->a.ino = ns->next_ino;
	ip->a.uid = cr->uid;
	ip->a.gid = cr->gid;
	if (dp->a.mode & S_ISGID) {
		ip->a.gid = dp->a.gid;
		if (S_ISDIR(mode))
			ip->a.mode |= S_ISGID;
	}
	if (!S_ISDIR(mode) && (ip->a.mode & S_ISGID) && cr->uid != 0 &&
	    !in_group(cr, ip->a.gid))
		ip->a.mode &= ~(uint32_t)S_ISGID;
	ip->a.nlink = S_ISDIR(mode) ? 2 : 1;
	ip->a.size = S_ISDIR(mode) ? DIR_SIZE : target ? strlen(target) : 0;
	ip->a.rdev = (S_ISCHR(mode) || S_ISBLK(mode)) ? rdev : 0;
	ip->a.gen = 1;
	ip->a.atime = ip->a.mtime = ip->a.ctime = now;
	if (ip->dir)
		ip->dir->parent = dp->a.ino;
	if (iinsert(ns, ip)) {
		inode_free(ns, ip);
		xattr_free(xacc);
		xattr_free(xdef);
		return -ENOMEM;
	}
	struct dent *e = dir_add(dp->dir, name, ip->a.ino, 0);
	if (!e) {
		iremove(ns, ip);
		inode_free(ns, ip);
		xattr_free(xacc);
		xattr_free(xdef);
		return -ENOMEM;
	}
	ns->next_ino++;
	if (S_ISDIR(mode))
		dp->a.nlink++;
	dp->a.mtime = dp->a.ctime = now;
	rec_inode(c, ip);
	if (xacc)
		xattr_attach(ip, xacc, c);
	if (xdef)
		xattr_attach(ip, xdef, c);
	/* a replica count is inherited (regular files and directories) */
	const struct xattr *nc = xattr_get(dp, GF_NCOPY_XATTR);
	if (nc && (S_ISREG(mode) || S_ISDIR(mode))) {
		struct xattr *x = xattr_new(nc->name, nc->val, nc->len);
		if (x)
			xattr_attach(ip, x, c);
		else
			c->err = -ENOMEM;
	}
	rec_dirent(c, dp->a.ino, e);
	rec_inode(c, dp);
	*out = ip;
	return 0;
}

int gf_ns_mknod(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, uint64_t rdev, uint32_t umask,
		struct gf_attr *out, struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *dp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (cr->uid != 0)
			return -EPERM;
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	mode &= S_IFMT | 07777;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = prep_create(ns, cr, parent, name, &dp);
	if (!rc)
		rc = make_node(ns, cr, dp, name, mode, umask, rdev, NULL, &c, &ip);
	if (!rc) {
		*out = ip->a;
		gf_changes_once(&c, once, ip->a.ino, 1);
		emit(ns, &c, ticket);
	} else {
		failed(ns, ticket);
	}
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_mkdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, uint32_t mode, uint32_t umask, struct gf_attr *out,
		struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *dp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	mode = S_IFDIR | (mode & 07777);
	pthread_rwlock_wrlock(&ns->lock);
	int rc = prep_create(ns, cr, parent, name, &dp);
	if (!rc)
		rc = make_node(ns, cr, dp, name, mode, umask, 0, NULL, &c, &ip);
	if (!rc) {
		*out = ip->a;
		gf_changes_once(&c, once, ip->a.ino, 1);
		emit(ns, &c, ticket);
	} else {
		failed(ns, ticket);
	}
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_symlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		  const char *name, const char *target, struct gf_attr *out,
		  struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *dp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	size_t tl = strnlen(target, GF_PATH_MAX);
	if (tl == 0)
		return -ENOENT;
	if (tl >= GF_PATH_MAX)
		return -ENAMETOOLONG;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = prep_create(ns, cr, parent, name, &dp);
	if (!rc)
		rc = make_node(ns, cr, dp, name, S_IFLNK | 0777, 0, 0, target, &c, &ip);
	if (!rc) {
		*out = ip->a;
		gf_changes_once(&c, once, ip->a.ino, 1);
		emit(ns, &c, ticket);
	} else {
		failed(ns, ticket);
	}
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

static int want_write(uint32_t flags)
{
	return (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR ||
	       (flags & O_TRUNC);
}

/*
 * The inode moves to a new generation (a write-open or a truncate): the
 * replicas that held the current one move with it in place, except that
 * with keep set only *keep does and the others become stale (they keep the
 * generation they hold: never served nor counted, refreshed or removed by
 * the repair once the writers are done, gfmd/repair.h); a replica that was
 * stale already dies (one stale generation is all that is kept).
 */
static void new_generation(struct gf_ns *ns, struct inode *ip, const uint32_t *keep,
			   struct gf_changes *c)
{
	uint64_t was = ip->a.gen++;
	for (uint32_t i = ip->nreps; i-- > 0;) {
		struct gf_ns_replica *r = &ip->reps[i];
		if (r->gen == was && (!keep || r->host_id == *keep)) {
			r->gen = ip->a.gen;
			rec_replica(c, ip, r);
		} else if (r->gen != was) {
			replica_kill(ns, ip, i, c);
		}
	}
	rec_inode(c, ip);
}

/*
 * The one replica a writer uses (see gf_ns_open), everything decided before
 * anything changes: one of the current replicas (place chooses among them),
 * or a new one when the file has no data to keep (empty, or about to be by
 * O_TRUNC). A file whose data is only on down hosts cannot be written: -EIO.
 */
static int writer_replica(struct gf_ns *ns, struct inode *ip, uint32_t flags,
			  gf_place_fn place, void *place_arg, struct gf_ns_replica *rep,
			  struct gf_changes *c)
{
	struct gf_ns_replica cur[GF_MAX_REPLICAS] = { { 0 } };
	size_t ncur = 0;
	for (uint32_t i = 0; i < ip->nreps && ncur < GF_MAX_REPLICAS; i++)
		if (is_current(ip, &ip->reps[i]))
			cur[ncur++] = ip->reps[i];
	uint32_t host;
	int rc = place(place_arg, cur, ncur, &host);
	if (rc)
		return rc;
	size_t k;
	for (k = 0; k < ncur; k++)
		if (cur[k].host_id == host)
			break;
	if (k == ncur) {
		if (ncur && ip->a.size > 0 && !(flags & O_TRUNC)) {
			/* the data lives on hosts that are down */
			static struct gf_ratelimit rl = GF_RATELIMIT(10, 60000);
			gf_log_limited(&rl, GF_LOG_WARN,
				       "gfmd: inode %llu: cannot open for writing: its data "
				       "(%zu current replica%s, first on host %u) is only on "
				       "hosts that are down", (unsigned long long)ip->a.ino,
				       ncur, ncur == 1 ? "" : "s", cur[0].host_id);
			return -EIO;
		}
		/* a new replica, made in the new generation */
		int rc = replica_add(ns, ip, host, ip->a.gen + 1, ip->a.gen + 1);
		if (rc)
			return rc;
		rec_replica(c, ip, &ip->reps[ip->nreps - 1]);
		ip->reps[ip->nreps - 1].gen = ip->a.gen; /* moved on below */
	}
	new_generation(ns, ip, &host, c);
	for (uint32_t i = 0; i < ip->nreps; i++)
		if (ip->reps[i].host_id == host)
			*rep = ip->reps[i];
	return 0;
}

/* Open an existing inode (write lock held for a write, read lock else).
 * granted: the access was granted before (gf_ns_reopen): no permission check. */
static int open_locked(struct gf_ns *ns, const struct gf_cred *cr, struct inode *ip,
		       uint32_t flags, int granted, gf_place_fn place, void *place_arg,
		       struct gf_ns_replica *reps, size_t max, size_t *nreps,
		       struct gf_changes *c)
{
	uint32_t acc = flags & O_ACCMODE;
	int mask = 0, rc;
	*nreps = 0;
	if (is_dir(ip) && want_write(flags))
		return -EISDIR;
	if (S_ISLNK(ip->a.mode))
		return -ELOOP;
	if (acc == O_RDONLY || acc == O_RDWR)
		mask |= MAY_R;
	if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC))
		mask |= MAY_W;
	if (!granted && (rc = permission(cr, ip, mask)))
		return rc;
	if (!S_ISREG(ip->a.mode))
		return 0;
	if (!want_write(flags)) {
		for (uint32_t i = 0; i < ip->nreps && *nreps < max; i++)
			if (is_current(ip, &ip->reps[i]))
				reps[(*nreps)++] = ip->reps[i];
		return 0;
	}
	/* a failed open changes nothing: the replica is settled first */
	if (place && max) {
		if ((rc = writer_replica(ns, ip, flags, place, place_arg, &reps[0], c)))
			return rc;
		*nreps = 1;
	} else {
		new_generation(ns, ip, NULL, c);
	}
	if (flags & O_TRUNC) {
		struct gf_timespec now = now_ts();
		ip->a.size = 0;
		ip->a.blocks = 0;
		ip->a.mtime = ip->a.ctime = now;
		kill_suid(ip, cr);
		rec_inode(c, ip);
	}
	ip->writers++;
	return 0;
}

int gf_ns_create(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint32_t mode, uint32_t flags, uint32_t umask,
		 gf_place_fn place, void *place_arg, struct gf_attr *out,
		 struct gf_ns_replica *rep, size_t *nrep, struct gf_once_id *once,
		 uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *dp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	*nrep = 0;
	mode = S_IFREG | (mode & 07777);
	pthread_rwlock_wrlock(&ns->lock);
	int rc = get_dir(ns, cr, parent, &dp);
	if (rc)
		goto out;
	if ((rc = check_name(name)))
		goto out;
	struct dent *e = dir_find(dp->dir, name);
	if (e) {
		ip = iget(ns, e->ino);
		if (ip && is_dir(ip)) {
			rc = -EISDIR;
			goto out;
		}
		if (flags & O_EXCL) {
			rc = -EEXIST;
			goto out;
		}
		if (!ip) {
			rc = -ENOENT;
			goto out;
		}
		rc = open_locked(ns, cr, ip, flags, 0, place, place_arg, rep, 1, nrep, &c);
		if (rc)
			goto out;
		*out = ip->a;
		gf_changes_once(&c, once, ip->a.ino, 0);
		emit(ns, &c, ticket);
		waits(ticket, ip->ticket);
		goto out;
	}
	if ((rc = prep_create(ns, cr, parent, name, &dp)))
		goto out;
	uint32_t host = 0;
	if (place && (rc = place(place_arg, NULL, 0, &host)))
		goto out;
	if ((rc = make_node(ns, cr, dp, name, mode, umask, 0, NULL, &c, &ip)))
		goto out;
	if (want_write(flags))
		ip->writers++;
	if (place) {
		int arc = replica_add(ns, ip, host, ip->a.gen, ip->a.gen);
		if (arc) {
			c.err = arc;
		} else {
			rec_replica(&c, ip, &ip->reps[0]);
			rep[0] = ip->reps[0];
			*nrep = 1;
		}
	}
	*out = ip->a;
	gf_changes_once(&c, once, ip->a.ino, 1);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

/* gf_ns_open and gf_ns_reopen. */
static int open_ino(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
		    int granted, gf_place_fn place, void *place_arg, struct gf_attr *out,
		    struct gf_ns_replica *reps, size_t max, size_t *nreps,
		    struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	gf_changes_init(&c);
	*ticket = 0;
	*nreps = 0;
	/* reads need only the read lock */
	int rc;
	if (!want_write(flags)) {
		pthread_rwlock_rdlock(&ns->lock);
		struct inode *ip = iget(ns, ino);
		const struct limbo *l = ip ? NULL : limbo_get(ns, ino);
		*ticket = stamp(ns, ip);
		struct inode t = { .a = l ? l->a : (struct gf_attr){ 0 } };
		if (l && (rc = open_locked(ns, cr, &t, flags, granted, NULL, NULL, reps, 0, nreps,
					   &c))) {
			/* (its permission, as its mode bits had it) */
		} else if (l) {
			/* removed a moment ago: its last version, read-only */
			rc = 0;
			*out = l->a;
			for (uint32_t i = 0; i < l->nreps && *nreps < max; i++)
				reps[(*nreps)++] = l->reps[i];
		} else {
			rc = ip ? open_locked(ns, cr, ip, flags, granted, NULL, NULL, reps, max,
					      nreps, &c)
				: -ENOENT;
		}
		if (!rc && ip)
			*out = ip->a;
		int due = !rc && ip && S_ISREG(ip->a.mode) && (flags & O_ACCMODE) == O_RDONLY &&
			  !(flags & O_NOATIME) && atime_due(ip, now_ts());
		pthread_rwlock_unlock(&ns->lock);
		gf_changes_free(&c);
		if (due)
			accessed(ns, ino, out);
		return rc;
	}
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	rc = ip ? open_locked(ns, cr, ip, flags, granted, place, place_arg, reps, max, nreps,
			      &c)
		: -ENOENT;
	if (!rc) {
		*out = ip->a;
		gf_changes_once(&c, once, ip->a.ino, 0);
		emit(ns, &c, ticket);
		waits(ticket, ip->ticket);
	} else {
		failed(ns, ticket);
	}
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_open(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
	       gf_place_fn place, void *place_arg, struct gf_attr *out,
	       struct gf_ns_replica *reps, size_t max, size_t *nreps,
	       struct gf_once_id *once, uint64_t *ticket)
{
	return open_ino(ns, cr, ino, flags, 0, place, place_arg, out, reps, max, nreps, once,
			ticket);
}

int gf_ns_reopen(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino, uint32_t flags,
		 gf_place_fn place, void *place_arg, struct gf_attr *out,
		 struct gf_ns_replica *reps, size_t max, size_t *nreps, uint64_t *ticket)
{
	flags &= ~(uint32_t)(O_TRUNC | O_CREAT | O_EXCL);
	return open_ino(ns, cr, ino, flags, 1, place, place_arg, out, reps, max, nreps, NULL,
			ticket);
}

int gf_ns_close_write(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		      uint64_t fgen, uint64_t end, struct gf_timespec mtime, uint32_t flags,
		      uint64_t blocks, struct gf_attr *out, uint64_t *ticket)
{
	struct gf_changes c;
	int rc = 0;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	if (!S_ISREG(ip->a.mode)) {
		rc = is_dir(ip) ? -EISDIR : -EINVAL;
		goto out;
	}
	uint32_t k;
	for (k = 0; k < ip->nreps; k++)
		if (ip->reps[k].fgen == fgen && is_current(ip, &ip->reps[k]))
			break;
	if (k == ip->nreps) {
		rc = -ESTALE; /* the replica written is no longer the file's */
		goto out;
	}
	/* the writer opened it with write access; the owner may have made
	 * it read-only since (open(O_CREAT, 0444) writes all the same) */
	if (!is_owner(cr, ip) && (rc = permission(cr, ip, MAY_W)))
		goto out;
	if (end > (uint64_t)INT64_MAX) {
		rc = -EFBIG;
		goto out;
	}
	if ((flags & GF_CW_DATASYNC) && end <= ip->a.size) {
		*out = ip->a; /* what fdatasync needs is there: change nothing */
		goto out;
	}
	struct gf_timespec now = now_ts();
	if (end > ip->a.size)
		ip->a.size = end;
	if (flags & GF_CW_MTIME)
		ip->a.mtime = (mtime.sec || mtime.nsec) ? mtime : now;
	if (flags & GF_CW_BLOCKS)
		ip->a.blocks = blocks;
	ip->a.ctime = now;
	kill_suid(ip, cr);
	kill_priv(ip, &c);
	rec_inode(&c, ip);
	*out = ip->a;
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

/* May cr remove entry ip from dp? Write+search on dp, and the sticky rule. */
static int may_delete(const struct gf_cred *cr, const struct inode *dp, const struct inode *ip)
{
	int rc = permission(cr, dp, MAY_W | MAY_X);
	if (rc)
		return rc;
	if ((dp->a.mode & S_ISVTX) && cr->uid != 0 && cr->uid != ip->a.uid &&
	    cr->uid != dp->a.uid)
		return -EPERM;
	return 0;
}

/* One name of ip is gone: drop a link, destroy it when none is left. */
static void drop_link(struct gf_ns *ns, struct inode *ip, struct gf_timespec now,
		      struct gf_changes *c)
{
	if (is_dir(ip)) {
		ip->a.nlink = 0;
		inode_destroy(ns, ip, c);
		return;
	}
	if (ip->a.nlink)
		ip->a.nlink--;
	ip->a.ctime = now; /* seen through a descriptor still open too */
	if (ip->a.nlink == 0) {
		inode_destroy(ns, ip, c);
		return;
	}
	rec_inode(c, ip);
}

/* The entry name of directory dp, which cr may remove, and its inode. */
static int find_victim(struct gf_ns *ns, const struct gf_cred *cr, struct inode *dp,
		       const char *name, struct dent **ep, struct inode **ipp)
{
	int rc;
	struct inode *ip;
	if ((rc = check_name(name)))
		return rc;
	struct dent *e = dir_find(dp->dir, name);
	if (!e || !(ip = iget(ns, e->ino)))
		return -ENOENT;
	if ((rc = may_delete(cr, dp, ip)))
		return rc;
	*ep = e;
	*ipp = ip;
	return 0;
}

/* Remove entry e (name, of inode ip) from directory dp (unlink, rmdir). */
static void remove_entry(struct gf_ns *ns, struct inode *dp, struct dent *e,
			 const char *name, struct inode *ip, struct gf_changes *c)
{
	struct gf_timespec now = now_ts();
	rec_dirent_del(c, dp->a.ino, name);
	dir_del(dp->dir, e);
	if (is_dir(ip))
		dp->a.nlink--; /* its ".." */
	dp->a.mtime = dp->a.ctime = now;
	rec_inode(c, dp);
	drop_link(ns, ip, now, c);
}

int gf_ns_unlink(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *dp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = get_dir(ns, cr, parent, &dp);
	if (rc)
		goto out;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		rc = -EISDIR;
		goto out;
	}
	struct dent *e;
	if ((rc = find_victim(ns, cr, dp, name, &e, &ip)))
		goto out;
	if (is_dir(ip)) {
		rc = -EISDIR;
		goto out;
	}
	remove_entry(ns, dp, e, name, ip, &c);
	gf_changes_once(&c, once, 0, 0);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_rmdir(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		const char *name, struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *dp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = get_dir(ns, cr, parent, &dp);
	if (rc)
		goto out;
	if (strcmp(name, ".") == 0) {
		rc = -EINVAL;
		goto out;
	}
	if (strcmp(name, "..") == 0) {
		rc = -ENOTEMPTY;
		goto out;
	}
	struct dent *e;
	if ((rc = find_victim(ns, cr, dp, name, &e, &ip)))
		goto out;
	if (!is_dir(ip)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (ip->dir->count) {
		rc = -ENOTEMPTY;
		goto out;
	}
	remove_entry(ns, dp, e, name, ip, &c);
	gf_changes_once(&c, once, 0, 0);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

/* Is directory a (ino) d itself or one of d's ancestors? */
static int is_ancestor(struct gf_ns *ns, uint64_t a, uint64_t d)
{
	for (int depth = 0; depth < 1 << 20; depth++) {
		if (d == a)
			return 1;
		if (d == GF_ROOT_INO)
			return 0;
		struct inode *ip = iget(ns, d);
		if (!ip || !ip->dir)
			return 0;
		d = ip->dir->parent;
	}
	return 0;
}

int gf_ns_rename(struct gf_ns *ns, const struct gf_cred *cr, uint64_t parent,
		 const char *name, uint64_t newparent, const char *newname,
		 uint32_t flags, struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *odp, *ndp, *oip, *nip = NULL;
	gf_changes_init(&c);
	*ticket = 0;
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	int exchange = !!(flags & RENAME_EXCHANGE);
	pthread_rwlock_wrlock(&ns->lock);
	int rc = get_dir(ns, cr, parent, &odp);
	if (rc || (rc = get_dir(ns, cr, newparent, &ndp)))
		goto out;
	if ((rc = check_name(name)) || (rc = check_name(newname))) {
		if (rc == -EINVAL)
			rc = -EBUSY; /* "." or ".." as ext4 says */
		goto out;
	}
	struct dent *oe = dir_find(odp->dir, name);
	if (!oe || !(oip = iget(ns, oe->ino))) {
		rc = -ENOENT;
		goto out;
	}
	struct dent *ne = dir_find(ndp->dir, newname);
	if (ne && !(nip = iget(ns, ne->ino)))
		ne = NULL;
	if ((flags & RENAME_NOREPLACE) && ne) {
		rc = -EEXIST;
		goto out;
	}
	if (exchange && !ne) {
		rc = -ENOENT;
		goto out;
	}
	if (is_dir(oip) && is_ancestor(ns, oip->a.ino, ndp->a.ino)) {
		rc = -EINVAL;
		goto out;
	}
	if (nip && is_dir(nip) && is_ancestor(ns, nip->a.ino, odp->a.ino)) {
		rc = exchange ? -EINVAL : -ENOTEMPTY;
		goto out;
	}
	if (nip == oip) {
		/* the same file: nothing to do but remember that it was done */
		gf_changes_once(&c, once, 0, 0);
		emit(ns, &c, ticket);
		goto out;
	}
	if ((rc = may_delete(cr, odp, oip)))
		goto out;
	if (nip) {
		if ((rc = may_delete(cr, ndp, nip)))
			goto out;
		if (!exchange && is_dir(oip) && !is_dir(nip)) {
			rc = -ENOTDIR;
			goto out;
		}
		if (!exchange && !is_dir(oip) && is_dir(nip)) {
			rc = -EISDIR;
			goto out;
		}
	} else if ((rc = permission(cr, ndp, MAY_W | MAY_X))) {
		goto out;
	}
	if (odp != ndp) {
		/* a directory changing parent rewrites its ".." */
		if (is_dir(oip) && (rc = permission(cr, oip, MAY_W)))
			goto out;
		if (exchange && is_dir(nip) && (rc = permission(cr, nip, MAY_W)))
			goto out;
	}
	if (!exchange && nip && is_dir(nip) && nip->dir->count) {
		rc = -ENOTEMPTY;
		goto out;
	}
	if (odp != ndp && is_dir(oip) && !(nip && is_dir(nip)) &&
	    ndp->a.nlink >= GF_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	if (exchange && odp != ndp && is_dir(nip) && !is_dir(oip) &&
	    odp->a.nlink >= GF_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	if (!exchange && dir_reserve(ndp->dir)) {
		rc = -ENOMEM;
		goto out;
	}

	struct gf_timespec now = now_ts();
	if (exchange) {
		uint64_t t = oe->ino;
		oe->ino = ne->ino;
		ne->ino = t;
		if (odp != ndp) {
			if (is_dir(oip)) {
				oip->dir->parent = ndp->a.ino;
				odp->a.nlink--;
				ndp->a.nlink++;
			}
			if (is_dir(nip)) {
				nip->dir->parent = odp->a.ino;
				ndp->a.nlink--;
				odp->a.nlink++;
			}
		}
		rec_dirent(&c, odp->a.ino, oe);
		rec_dirent(&c, ndp->a.ino, ne);
		nip->a.ctime = now;
		rec_inode(&c, nip);
	} else {
		if (nip) {
			rec_dirent_del(&c, ndp->a.ino, newname);
			dir_del(ndp->dir, ne);
			if (is_dir(nip))
				ndp->a.nlink--;
			drop_link(ns, nip, now, &c);
		}
		rec_dirent_del(&c, odp->a.ino, name);
		dir_del(odp->dir, oe);
		struct dent *e = dir_add(ndp->dir, newname, oip->a.ino, 0);
		if (!e)
			c.err = -ENOMEM; /* reserved above: cannot happen */
		else
			rec_dirent(&c, ndp->a.ino, e);
		if (is_dir(oip) && odp != ndp) {
			oip->dir->parent = ndp->a.ino;
			odp->a.nlink--;
			ndp->a.nlink++;
		}
	}
	oip->a.ctime = now;
	rec_inode(&c, oip);
	odp->a.mtime = odp->a.ctime = now;
	rec_inode(&c, odp);
	if (ndp != odp) {
		ndp->a.mtime = ndp->a.ctime = now;
		rec_inode(&c, ndp);
	}
	gf_changes_once(&c, once, 0, 0);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_link(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
	       uint64_t newparent, const char *newname, struct gf_attr *out,
	       struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	struct inode *ndp, *ip;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = 0;
	if (!(ip = iget(ns, ino))) {
		rc = -ENOENT;
		goto out;
	}
	if ((rc = prep_create(ns, cr, newparent, newname, &ndp)))
		goto out;
	if (is_dir(ip)) {
		rc = -EPERM;
		goto out;
	}
	if (ip->a.nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	if (ip->a.nlink >= GF_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	struct dent *e = dir_add(ndp->dir, newname, ip->a.ino, 0);
	if (!e) {
		rc = -ENOMEM;
		goto out;
	}
	struct gf_timespec now = now_ts();
	ip->a.nlink++;
	ip->a.ctime = now;
	ndp->a.mtime = ndp->a.ctime = now;
	rec_dirent(&c, ndp->a.ino, e);
	rec_inode(&c, ip);
	rec_inode(&c, ndp);
	*out = ip->a;
	gf_changes_once(&c, once, ip->a.ino, 0);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

/*
 * Setting an ACL (acl.h): validated, stored in canonical form; an access ACL
 * also sets the mode bits it implies (clearing set-group-ID for a caller
 * outside the file's group, as posix_acl_update_mode does) and is not
 * stored when those bits say it all; a default ACL only on directories.
 */
static int set_acl(struct inode *ip, const struct gf_cred *cr, const char *name,
		   const void *value, size_t len, struct gf_changes *c)
{
	struct gf_acl *acl = malloc(sizeof(*acl));
	int rc = 0;
	if (!acl)
		return -ENOMEM;
	if (gf_acl_parse(value, len, acl) < 0) {
		rc = -EINVAL;
		goto out;
	}
	if (strcmp(name, GF_ACL_DEFAULT) == 0) {
		struct xattr *x;
		if (!is_dir(ip))
			rc = -EACCES;
		else if (!(x = acl_xattr(name, acl)))
			rc = -ENOMEM;
		else
			xattr_attach(ip, x, c);
		goto out;
	}
	int equiv;
	uint32_t bits = gf_acl_mode(acl, &equiv);
	struct xattr *x = NULL;
	if (!equiv && !(x = acl_xattr(name, acl))) {
		rc = -ENOMEM;
		goto out;
	}
	ip->a.mode = (ip->a.mode & ~(uint32_t)0777) | bits;
	if (cr->uid != 0 && !in_group(cr, ip->a.gid))
		ip->a.mode &= ~(uint32_t)S_ISGID;
	if (x)
		xattr_attach(ip, x, c);
	else
		xattr_drop(ip, name, c);
out:
	free(acl);
	return rc;
}

int gf_ns_setxattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		   const char *name, const void *value, size_t len, uint32_t flags,
		   struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	gf_changes_init(&c);
	*ticket = 0;
	if (flags & ~(uint32_t)(XATTR_CREATE_FLAG | XATTR_REPLACE_FLAG))
		return -EINVAL;
	if (len > GF_XATTR_SIZE_MAX)
		return -E2BIG;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = 0;
	struct inode *ip = iget(ns, ino);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	if ((rc = xattr_permission(cr, ip, name, 1)))
		goto out;
	const struct xattr *old = xattr_get(ip, name);
	if (old && (flags & XATTR_CREATE_FLAG)) {
		rc = -EEXIST;
		goto out;
	}
	if (!old && (flags & XATTR_REPLACE_FLAG)) {
		rc = -ENODATA;
		goto out;
	}
	if (strcmp(name, GF_NCOPY_XATTR) == 0 && gf_ncopy_parse(value, len) == 0) {
		rc = -EINVAL; /* a replica count: 1 to GF_MAX_REPLICAS, in decimal */
		goto out;
	}
	if (acl_flag(name)) {
		if ((rc = set_acl(ip, cr, name, value, len, &c)))
			goto out;
	} else {
		struct xattr *x = xattr_new(name, value, len);
		if (!x) {
			rc = -ENOMEM;
			goto out;
		}
		xattr_attach(ip, x, &c);
	}
	ip->a.ctime = now_ts();
	rec_inode(&c, ip);
	gf_changes_once(&c, once, 0, 0);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_removexattr(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		      const char *name, struct gf_once_id *once, uint64_t *ticket)
{
	struct gf_changes c;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	int rc = 0;
	struct inode *ip = iget(ns, ino);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	if ((rc = xattr_permission(cr, ip, name, 1)))
		goto out;
	if (!xattr_drop(ip, name, &c)) {
		rc = -ENODATA;
		goto out;
	}
	ip->a.ctime = now_ts();
	rec_inode(&c, ip);
	gf_changes_once(&c, once, 0, 0);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

/* ---- dead replicas ------------------------------------------------------------------ */

size_t gf_ns_dead_list(struct gf_ns *ns, uint32_t host_id, uint64_t committed,
		       struct gf_dead_replica *out, size_t max)
{
	size_t n = 0;
	int64_t now = gf_mono_ms();
	pthread_rwlock_rdlock(&ns->lock);
	struct deadlist *dl = deadlist_get(ns, host_id, 0);
	for (size_t i = 0; dl && i < dl->n && n < max; i++) {
		/* never before the change that killed it is committed: a crash
		 * would bring the file back without its data */
		if (dl->v[i].ticket > committed)
			continue;
		if (dl->v[i].not_before_ms && dl->v[i].not_before_ms > now)
			continue; /* a removed file's grace (limbo) */
		out[n].ino = dl->v[i].ino;
		out[n].gen = dl->v[i].fgen;
		n++;
	}
	pthread_rwlock_unlock(&ns->lock);
	return n;
}

/* Is (ino, fgen) among done[0..n)? done is sorted by ino, then gen. */
static int dead_in(const struct gf_dead_replica *done, size_t n, uint64_t ino, uint64_t fgen)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (done[mid].ino < ino || (done[mid].ino == ino && done[mid].gen < fgen))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && done[lo].ino == ino && done[lo].gen == fgen;
}

static int dead_cmp(const void *a, const void *b)
{
	const struct gf_dead_replica *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

int gf_ns_dead_done(struct gf_ns *ns, uint32_t host_id, const struct gf_dead_replica *done,
		    size_t n, uint64_t *ticket)
{
	struct gf_changes c;
	*ticket = 0;
	/* most heartbeats report nothing: they take no lock at all unless a
	 * removed file's grace is over (heartbeats come often: a sweep) */
	if (n == 0 && __atomic_load_n(&ns->limbo_due_ms, __ATOMIC_RELAXED) > gf_mono_ms())
		return 0;
	struct gf_dead_replica *sorted = NULL;
	if (n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, done, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), dead_cmp);
	}
	gf_changes_init(&c);
	pthread_rwlock_wrlock(&ns->lock);
	limbo_expire(ns, gf_mono_ms());
	struct deadlist *dl = n ? deadlist_get(ns, host_id, 0) : NULL;
	if (dl) {
		/* one pass: keep what was not done, in order */
		size_t k = 0;
		for (size_t j = 0; j < dl->n; j++) {
			if (dead_in(sorted, n, dl->v[j].ino, dl->v[j].fgen))
				gf_changes_add(&c, GF_CHG_DEAD_DEL, dl->v[j].ino, host_id,
					       dl->v[j].fgen, NULL, 0, NULL, 0, 0);
			else
				dl->v[k++] = dl->v[j];
		}
		dl->n = k;
	}
	emit(ns, &c, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	free(sorted);
	return 0;
}

/* ---- replication ------------------------------------------------------------------ */

static uint32_t ncopy_of(const struct inode *ip)
{
	const struct xattr *x = xattr_get(ip, GF_NCOPY_XATTR);
	uint32_t n = x ? gf_ncopy_parse(x->val, x->len) : 0;
	return n ? n : 1;
}

uint32_t gf_ns_writers(struct gf_ns *ns, uint64_t ino)
{
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	uint32_t n = ip ? ip->writers : 0;
	pthread_rwlock_unlock(&ns->lock);
	return n;
}

/* What the repair should aim at for ip, now without writers (lock held). */
static uint32_t wanted_after_writers(const struct inode *ip)
{
	int stale = 0;
	for (uint32_t i = 0; i < ip->nreps; i++)
		stale |= !is_current(ip, &ip->reps[i]);
	uint32_t want = ncopy_of(ip);
	return want == 1 && !stale ? 0 : want;
}

uint32_t gf_ns_writer_done(struct gf_ns *ns, uint64_t ino)
{
	uint32_t want = 0;
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (ip && ip->writers && --ip->writers == 0)
		want = wanted_after_writers(ip);
	pthread_rwlock_unlock(&ns->lock);
	return want;
}

uint32_t gf_ns_unknown_writer_done(struct gf_ns *ns, uint64_t ino)
{
	uint32_t want = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (ip && S_ISREG(ip->a.mode) && !ip->writers)
		want = wanted_after_writers(ip);
	pthread_rwlock_unlock(&ns->lock);
	return want;
}

int gf_ns_stale_drop(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t *ticket)
{
	struct gf_changes c;
	int rc = -ENOENT;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	for (uint32_t i = 0; ip && i < ip->nreps; i++)
		if (ip->reps[i].host_id == host_id && !is_current(ip, &ip->reps[i])) {
			replica_kill(ns, ip, i, &c);
			emit(ns, &c, ticket);
			rc = 0;
			break;
		}
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_replica_corrupt(struct gf_ns *ns, uint64_t ino, uint32_t host_id, uint64_t fgen,
			  uint64_t *ticket)
{
	struct gf_changes c;
	int rc = 0;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	struct gf_ns_replica *bad = NULL;
	uint32_t others = 0;
	for (uint32_t i = 0; ip && i < ip->nreps; i++) {
		struct gf_ns_replica *r = &ip->reps[i];
		if (!is_current(ip, r))
			continue;
		if (r->host_id == host_id && r->fgen == fgen)
			bad = r;
		else
			others++;
	}
	if (bad && others == 0) {
		rc = -EMLINK;
	} else if (bad) {
		bad->gen = GF_GEN_CORRUPT;
		rec_replica(&c, ip, bad);
		emit(ns, &c, ticket);
		rc = 1;
	}
	if (rc <= 0)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_repl_state(struct gf_ns *ns, uint64_t ino, struct gf_ns_repl_state *st)
{
	int rc = 0;
	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (!ip)
		rc = -ENOENT;
	else if (!S_ISREG(ip->a.mode))
		rc = -EINVAL;
	else {
		st->want = ncopy_of(ip);
		st->explicit = xattr_get(ip, GF_NCOPY_XATTR) != NULL;
		st->writers = ip->writers;
		st->size = ip->a.size;
		for (uint32_t i = 0; i < ip->nreps; i++) {
			if (is_current(ip, &ip->reps[i])) {
				if (st->n < GF_MAX_REPLICAS)
					st->cur[st->n++] = ip->reps[i];
			} else if (st->nstale < GF_MAX_REPLICAS) {
				st->stale[st->nstale++] = ip->reps[i];
			}
		}
	}
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int gf_ns_files_on_host(struct gf_ns *ns, uint32_t host_id,
			int (*fn)(void *arg, uint64_t ino, uint32_t want), void *arg)
{
	int rc = 0;
	uint64_t ino = 0;
	/* the host's own inodes (hostidx.h), not every inode, FILES_ON_HOST_BATCH
	 * at a time: writers get the lock between batches */
	do {
		pthread_rwlock_rdlock(&ns->lock);
		for (size_t k = 0; k < FILES_ON_HOST_BATCH && !rc &&
				   (ino = hostidx_next(&ns->hidx, host_id, ino)) != 0;
		     k++) {
			struct inode *ip = iget(ns, ino);
			if (ip)
				rc = fn(arg, ino, ncopy_of(ip));
		}
		pthread_rwlock_unlock(&ns->lock);
	} while (ino && !rc);
	return rc;
}

static struct copying *copy_find(struct gf_ns *ns, uint64_t ino, uint32_t host)
{
	for (size_t i = 0; i < ns->ncopies; i++)
		if (ns->copies[i].ino == ino && ns->copies[i].host == host)
			return &ns->copies[i];
	return NULL;
}

uint32_t gf_ns_follow_wanted(struct gf_ns *ns, uint64_t ino, uint64_t min_size)
{
	uint32_t want = 0;
	pthread_rwlock_rdlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (ip && S_ISREG(ip->a.mode) && ip->writers && ip->a.size >= min_size &&
	    (want = ncopy_of(ip)) > 1) {
		uint32_t ncur = 0;
		for (uint32_t i = 0; i < ip->nreps; i++)
			ncur += is_current(ip, &ip->reps[i]);
		for (size_t i = 0; i < ns->ncopies && ncur == 1; i++)
			if (ns->copies[i].ino == ino)
				ncur = 0;
		if (ncur != 1)
			want = 0;
	} else {
		want = 0;
	}
	pthread_rwlock_unlock(&ns->lock);
	return want;
}

int gf_ns_copy_begin(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		     uint32_t src_host, uint32_t dst_host, uint32_t flags, struct gf_ns_copy *out)
{
	int rc = 0;
	memset(out, 0, sizeof(*out));
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	if (!S_ISREG(ip->a.mode)) {
		rc = is_dir(ip) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((rc = permission(cr, ip, MAY_R)))
		goto out;
	if (ip->writers && !(flags & GF_NS_COPY_FOLLOW)) {
		rc = -EBUSY;
		goto out;
	}
	const struct gf_ns_replica *src = NULL;
	for (uint32_t i = 0; i < ip->nreps; i++) {
		if (!is_current(ip, &ip->reps[i]))
			continue;
		if (ip->reps[i].host_id == dst_host) {
			rc = -EEXIST;
			goto out;
		}
		if (ip->reps[i].host_id == src_host)
			src = &ip->reps[i];
	}
	if (!src) {
		rc = -ENOENT; /* no current replica there (any more) */
		goto out;
	}
	if (copy_find(ns, ino, dst_host)) {
		rc = -EALREADY;
		goto out;
	}
	if (ns->ncopies == ns->capcopies) {
		size_t cap = ns->capcopies ? ns->capcopies * 2 : 16;
		struct copying *v = realloc(ns->copies, cap * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		ns->copies = v;
		ns->capcopies = cap;
	}
	out->ino = ino;
	out->gen = ip->a.gen;
	out->size = ip->a.size;
	out->src = *src;
	out->dst = dst_host;
	out->follow = (flags & GF_NS_COPY_FOLLOW) != 0;
	/* a file name never used on any host. gfsd makes the file before
	 * any change of this copy is committed, so the number must already be
	 * below the stored counter: a gfmd killed now must not hand it out
	 * again after its restart (two copies of different data under one
	 * name, on one gfsd: one's checksums over the other's bytes). The
	 * counter is moved ahead here when it must be, and the caller waits
	 * for out->ticket before asking gfsd. */
	struct gf_changes c;
	gf_changes_init(&c);
	counter_ahead(ns, &c, ns->next_ino + 1);
	emit(ns, &c, &out->ticket); /* (nothing, ticket 0, when it was ahead) */
	out->fgen = GF_FGEN_COPY | ns->next_ino++;
	ns->copies[ns->ncopies++] = (struct copying){ ino, out->fgen, dst_host };
out:
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int gf_ns_copy_end(struct gf_ns *ns, const struct gf_ns_copy *cp, int ok, uint64_t *ticket)
{
	struct gf_changes c;
	int rc = 0;
	gf_changes_init(&c);
	*ticket = 0;
	pthread_rwlock_wrlock(&ns->lock);
	for (size_t i = 0; i < ns->ncopies; i++)
		if (ns->copies[i].ino == cp->ino && ns->copies[i].fgen == cp->fgen) {
			ns->copies[i] = ns->copies[--ns->ncopies];
			break;
		}
	struct inode *ip = iget(ns, cp->ino);
	if (!ip)
		rc = -ENOENT;
	else if (ip->a.gen != cp->gen || ip->writers)
		rc = -EBUSY; /* written meanwhile: the copy holds neither version */
	else if (ok && cp->follow && cp->size != ip->a.size)
		rc = -EBUSY; /* not what the writer left (it died, say) */
	else if (!ok)
		rc = -EIO;
	if (rc == 0) {
		/* one replica per host: an older one there makes way */
		for (uint32_t i = ip->nreps; i-- > 0;)
			if (ip->reps[i].host_id == cp->dst)
				replica_kill(ns, ip, i, &c);
		if ((rc = replica_add(ns, ip, cp->dst, cp->gen, cp->fgen))) {
			/* (-ENOMEM, or -ENOSPC: MAX_NREPS replicas already) */
		} else {
			rec_replica(&c, ip, &ip->reps[ip->nreps - 1]);
			const struct xattr *nc = xattr_get(ip, GF_NCOPY_XATTR);
			uint32_t ncur = 0;
			for (uint32_t i = 0; i < ip->nreps; i++)
				ncur += is_current(ip, &ip->reps[i]);
			if (cp->keep && nc && gf_ncopy_parse(nc->val, nc->len) < ncur) {
				char v[16];
				int n = snprintf(v, sizeof(v), "%u", ncur);
				struct xattr *x = xattr_new(GF_NCOPY_XATTR, v, (size_t)n);
				if (x)
					xattr_attach(ip, x, &c);
				else
					c.err = -ENOMEM;
			}
		}
	}
	if (rc) {
		/* whatever the destination made goes, once this is committed */
		gf_changes_add(&c, GF_CHG_DEAD_PUT, cp->ino, cp->dst, cp->fgen, NULL, 0, NULL, 0, 0);
		if (dead_add(ns, cp->dst, cp->ino, cp->fgen, DEAD_PENDING, 0))
			c.err = -ENOMEM;
	}
	emit(ns, &c, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}

int gf_ns_replica_drop(struct gf_ns *ns, const struct gf_cred *cr, uint64_t ino,
		       uint32_t host_id, uint32_t keep, uint64_t *ticket)
{
	struct gf_changes c;
	int rc = 0;
	gf_changes_init(&c);
	*ticket = 0;
	if (keep == 0)
		keep = 1;
	pthread_rwlock_wrlock(&ns->lock);
	struct inode *ip = iget(ns, ino);
	if (!ip) {
		rc = -ENOENT;
		goto out;
	}
	if (!S_ISREG(ip->a.mode)) {
		rc = is_dir(ip) ? -EISDIR : -EINVAL;
		goto out;
	}
	if (!is_owner(cr, ip)) {
		rc = -EPERM;
		goto out;
	}
	if (ip->writers) {
		rc = -EBUSY;
		goto out;
	}
	uint32_t k = UINT32_MAX, ncur = 0;
	for (uint32_t i = 0; i < ip->nreps; i++) {
		if (!is_current(ip, &ip->reps[i]))
			continue;
		ncur++;
		if (ip->reps[i].host_id == host_id)
			k = i;
	}
	if (k == UINT32_MAX) {
		rc = -ENOENT;
		goto out;
	}
	if (keep == GF_NS_KEEP_COUNT) {
		if (!xattr_get(ip, GF_NCOPY_XATTR)) {
			rc = -EMLINK; /* no count to trim to (any more) */
			goto out;
		}
		keep = ncopy_of(ip);
	}
	if (ncur - 1 < keep) {
		rc = -EMLINK;
		goto out;
	}
	replica_kill(ns, ip, k, &c);
	emit(ns, &c, ticket);
out:
	if (rc)
		failed(ns, ticket);
	pthread_rwlock_unlock(&ns->lock);
	gf_changes_free(&c);
	return rc;
}
