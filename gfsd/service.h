/*
 * service.h — gfsd's request handler: the GFS_* data protocol over a spool.
 *
 * Plug it into the server loop (server.h) with service_server_ops(). Each
 * connection has its own table of open handles (handle id → replica fd);
 * a handle is valid only on the connection that opened it, and every handle
 * still open when the connection closes is closed then.
 *
 * Durability: a write is in gfsd's page cache when it is acknowledged (or,
 * through a passed fd, when the client's pwrite returns), so it survives a
 * crash of gfsd; GFS_FSYNC makes it (and a new replica file's name) survive
 * a crash of the machine. Closing does not flush (as on a local disk),
 * unless the service is configured to (fsync_on_close).
 *
 *   GFS_OPEN      opens replica (ino, gen = its file generation);
 *                 GFS_O_READ / GFS_O_WRITE say what the handle may do (a
 *                 write handle may also read). On a local (UNIX socket)
 *                 connection GFS_O_WANT_FD also passes the replica fd back
 *                 with the reply (fd_passed = 1); over TCP the flag is
 *                 ignored (fd_passed = 0). The first write handle of an
 *                 existing replica (replicas.h) first asks gfmd for the
 *                 file's committed size and cuts what lies beyond it: bytes a
 *                 writer left without telling gfmd never reappear. Not so
 *                 for GFS_O_RECLAIM (with GFS_O_WRITE, never with CREATE or
 *                 TRUNC, else -EINVAL): a writer that lost its handle with
 *                 its connection (gfsd restarted) opens the replica again,
 *                 and the bytes beyond the committed size are its own
 *                 unpublished ones: they stay. -ESTALE when gfmd says the
 *                 replica is no longer the file's; -EAGAIN when gfmd cannot
 *                 be asked (yet: gfsd not registered, gfmd down): the
 *                 writer may try again. A name gfmd declared dead and
 *                 asked with GFS_O_CREATE is created without a name (freed
 *                 at its last close).
 *   GFS_READ      up to min(len, GF_MAX_IO) bytes; short at end of file.
 *   GFS_WRITE     all bytes or an error (-ENOSPC when the spool is full).
 *   GFS_TRUNCATE  / GFS_FSYNC on the handle's replica.
 *   GFS_CLOSE     adds the client's local byte counts to the counters. The
 *                 last writer's close hands the replica to the sealer
 *                 (sealer.h) and returns without waiting for its sums:
 *                 a copy's GFS_SUMS and GFS_VERIFY wait for them, and a
 *                 new writer (replicas.h); a reader reads unchecked until
 *                 they are written (GFS_SUMS says "pending").
 *   GFS_STATS     the counters below plus the spool's capacity and free space.
 *   GFS_REPLICATE from gfmd (GF_PEER_GFMD; anyone else -EPERM) only: copy
 *                 another gfsd's replica into this spool (copy.h); the reply
 *                 comes when the copy is named and synced. GFS_OPEN with
 *                 GFS_O_COPY (with GFS_O_READ only, else -EINVAL) is how the
 *                 copier opens the source: -EBUSY while it has a writer.
 *   GFS_LIST      admin and gfmd peers: the spool's replica files with their
 *                 sizes, in (ino, fgen) order, paged (gffsck).
 *   GFS_ORPHAN_SCAN admin and gfmd peers: an orphan scan at the next
 *                 heartbeat (registrar.h), however recent the last one.
 *
 * Errors of an operation are replies (-EBADF for an unknown handle or one not
 * opened for that access, -ENOSYS for an unknown op, -errno from the file
 * system); only a malformed payload closes the connection (-EBADMSG).
 */
#ifndef GFSD_SERVICE_H
#define GFSD_SERVICE_H

#include <stdbool.h>

#include "proto.h"
#include "replicas.h"
#include "server.h"
#include "spool.h"

struct service;

/*
 * How the service asks gfmd for a replica's committed size: 0 and *size,
 * -ENOENT when the file is gone, -ESTALE when (ino, fgen) is not one of its
 * current replicas on this host, another -errno when gfmd cannot be asked.
 */
typedef int (*service_size_fn)(void *arg, uint64_t ino, uint64_t fgen, uint64_t *size);

struct service_config {
	struct spool *sp;      /* used, not owned */
	struct replicas *rs;   /* used, not owned */
	service_size_fn size;
	void *size_arg;
	bool fsync_on_close;   /* GFS_CLOSE of a written handle fsyncs it */
	const char *seal_gate; /* test knob: seals wait while this file exists (sealer.h) */
	/* for GFS_REPLICATE (copy.h): the key and this gfsd's name (NULL key:
	 * no copies, -ENOSYS) */
	const struct gf_key *key;
	const char *hostname;
	/* GFS_ORPHAN_SCAN: ask for an orphan scan (registrar_scan_soon) */
	void (*scan_soon)(void *arg);
	void *scan_arg;
};

int service_new(const struct service_config *cfg, struct service **out);
/* Call after the server using it has stopped. */
void service_free(struct service *svc);
/* Fill ops with the handler and close callback for gf_server_new(). */
void service_server_ops(struct service *svc, struct gf_server_ops *ops);
/* A snapshot of the counters (what GFS_STATS replies). */
void service_stats(struct service *svc, struct gfs_stats_rep *st);

#endif
