/*
 * ops.h — the FUSE low-level operations of mount.gfarmfs.
 *
 * Each operation turns one kernel request into gfmd/gfsd calls through the
 * client library (client.h), with the caller's credentials taken from the
 * request, and answers it. State shared by all operations is a struct
 * gf_fs, passed to fuse_session_new as userdata.
 */
#ifndef GF_FUSE_OPS_H
#define GF_FUSE_OPS_H

/* 3.12: the loop configuration object (older ones log a bogus warning) */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "client.h"
#include "idmap.h"

struct gf_fs {
	struct gfc *gfc;
	double attr_timeout;  /* seconds the kernel may cache attributes */
	double entry_timeout; /* seconds it may cache names (and misses) */
	struct gf_idmap *idmap; /* global ids by name; NULL: none (identity) */
	/* mounted with no_default_permissions: the kernel checks nothing, so
	 * it must not take POSIX ACLs on (that turns its checks back on);
	 * gfmd still enforces them */
	int no_kernel_checks;
	int kernel_checks; /* default_permissions is in effect: leases may answer */
	/* -o ncopy_wait=SECS: close(2) of a file written through this mount
	 * returns once the file has its replica count (GF_NCOPY_XATTR), or
	 * EIO after SECS; 0: it returns at once and gfmd copies afterwards */
	unsigned ncopy_wait_s;
	/* passthrough = yes (CONFIG; -o passthrough / nopassthrough): a
	 * writer's data goes from the kernel straight to its local replica
	 * when the kernel can (passthrough.h) */
	int passthrough;
	/* for notifications to the kernel (fuse_lowlevel_notify_*) */
	struct fuse_session *se;
};

extern const struct fuse_lowlevel_ops gf_fuse_ops;

/* Answer the kernel's GETATTRs of directories this mount just changed from
 * gfmd's replies (attrcache.h), for fs->attr_timeout: after fs->gfc is made,
 * before it is used. */
void gf_ops_attrcache(struct gf_fs *fs);

/* The thread that tells gfmd how far writers that keep their files open
 * have written (other mounts see files grow). Start after daemonizing;
 * stop once the session loop is over (before the client goes). */
int gf_ops_start(struct gf_fs *fs);
void gf_ops_stop(void);

#endif
