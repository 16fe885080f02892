/*
 * sched.h — where work on given files should run, shared by gfsched and
 * gfrun.
 *
 * A file is named either by a path on a local gfarmfs mount (any path
 * stat(2) reaches; the mount's inode numbers are gfmd's own) or by a
 * namespace path "gfarm:/a/b" looked up in gfmd from the root. For each
 * file gfmd tells every replica (GFM_REPLICAS); each host is credited with
 * the file's size per replica it holds.
 *
 * Ranking for reads: up hosts holding at least one replica, most bytes of
 * the files first, then lower load, then more free space, then name.
 * Ranking for writes: every up host, lower load first, then more free
 * space, then name. Down hosts never appear in a ranking.
 */
#ifndef GF_CMD_SCHED_H
#define GF_CMD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct cmd;
struct gfc;

#define SCHED_NS_PREFIX "gfarm:"

struct sched_host {
	char name[GF_HOST_MAX + 1];
	uint32_t host_id;
	int up;
	uint32_t load_milli;
	uint64_t capacity, free;
	uint64_t bytes;	 /* bytes of the added files this host holds */
	uint32_t nfiles; /* how many of them it holds a replica of */
};

struct sched {
	const struct cmd *cmd; /* for messages */
	struct gfc *gfc;
	struct gf_cred cred; /* this process's identity */
	struct sched_host *hosts;
	size_t nhosts;
	size_t nranked; /* after sched_rank_*: hosts[0..nranked) is the ranking */
};

/* Host list from gfmd, credentials of this process. On error says why. */
int sched_init(struct sched *s, const struct cmd *cmd, struct gfc *g);
void sched_free(struct sched *s);

/*
 * Credit the hosts holding path's replicas with its size. Returns 0; 1 when
 * the file has replicas but every one is on a down host (a note on stderr
 * says so); or -errno with a message on stderr (no such file, not a
 * regular file, not on a gfarmfs mount, gfmd error).
 */
int sched_add_file(struct sched *s, const char *path);

/*
 * The inode a PATH names (a path on a gfarmfs mount, or "gfarm:/a/b" looked
 * up in gfmd as cr). 0, or -errno with a message on stderr.
 */
int sched_resolve(const struct cmd *cmd, struct gfc *g, const struct gf_cred *cr,
		  const char *path, uint64_t *ino);
/* This process's uid, gid and groups. */
void sched_cred_self(struct gf_cred *cr);

/* Order hosts[] for reading the added files / for writing new data; sets
 * nranked. */
void sched_rank_read(struct sched *s);
void sched_rank_write(struct sched *s);

/* ---- local mounts ------------------------------------------------------------ */

/*
 * The root of the gfarmfs mount that holds path (a file or directory; found
 * in /proc/self/mountinfo by device number) into root. 0, -ENOENT when path
 * is not on a gfarmfs mount, or -errno.
 */
int sched_mount_root(const char *path, char *root, size_t rootsz);

/* fmt with every %h replaced by host and %% by %; -ENAMETOOLONG. */
int sched_expand(const char *fmt, const char *host, char *out, size_t outsz);

#endif
