/*
 * service.h — gfsd's request handler: the GFS_* data protocol over a spool.
 *
 * Plug it into the server loop (server.h) with service_server_ops(). Each
 * connection has its own table of open handles (handle id → replica fd);
 * a handle is valid only on the connection that opened it, and every handle
 * still open when the connection closes is closed then (no fsync: only
 * GFS_CLOSE and GFS_FSYNC promise durability).
 *
 *   GFS_OPEN      opens replica (ino, gen); GFS_O_READ / GFS_O_WRITE say what
 *                 the handle may do (a write handle may also read). On a
 *                 local (UNIX socket) connection GFS_O_WANT_FD also passes
 *                 the replica fd back with the reply (fd_passed = 1); over
 *                 TCP the flag is ignored (fd_passed = 0).
 *   GFS_READ      up to min(len, GF_MAX_IO) bytes; short at end of file.
 *   GFS_WRITE     all bytes or an error (-ENOSPC when the spool is full).
 *   GFS_TRUNCATE  / GFS_FSYNC on the handle's replica.
 *   GFS_CLOSE     fsyncs a handle that was written or truncated (through
 *                 gfsd or, as the client reports, through a passed fd) and
 *                 adds the client's local byte counts to the counters.
 *   GFS_STATS     the counters below plus the spool's capacity and free space.
 *
 * Errors of an operation are replies (-EBADF for an unknown handle or one not
 * opened for that access, -ENOSYS for an unknown op, -errno from the file
 * system); only a malformed payload closes the connection (-EBADMSG).
 */
#ifndef GFSD_SERVICE_H
#define GFSD_SERVICE_H

#include "proto.h"
#include "server.h"
#include "spool.h"

struct service;

/* The service uses sp but does not own it. */
int service_new(struct spool *sp, struct service **out);
/* Call after the server using it has stopped. */
void service_free(struct service *svc);
/* Fill ops with the handler and close callback for gf_server_new(). */
void service_server_ops(struct service *svc, struct gf_server_ops *ops);
/* A snapshot of the counters (what GFS_STATS replies). */
void service_stats(struct service *svc, struct gfs_stats_rep *st);

#endif
