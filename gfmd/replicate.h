/*
 * replicate.h — gfmd makes new replicas: it chooses where from and where to,
 * and tells the destination gfsd to copy (GFS_REPLICATE), gfsd → gfsd.
 *
 * gfmd_replicate() is one copy, start to end, in the calling thread:
 *   1. the file's current replicas (namespace) and the hosts (registry);
 *   2. the source: src_host if given (it must hold a current replica and be
 *      up: -ENOENT / -EHOSTDOWN), else an up host holding one, chosen at
 *      random so that many copies of one file spread their reads (none up:
 *      -EHOSTDOWN);
 *   3. the destination: dst_host if given (up, else -EHOSTDOWN; holding a
 *      current replica already: -EEXIST), else, among the up hosts (not
 *      draining: hosts.h) without
 *      one whose free space is more than the file's size plus the placement
 *      reserve (none: -ENOSPC), one at random of those within 10% of the
 *      most free space (copies spread over hosts alike);
 *   4. gf_ns_copy_begin (namespace.h: the permission, writer and generation
 *      rules), the GFS_REPLICATE call to the destination over a connection
 *      of its own (authenticated as GF_PEER_GFMD), gf_ns_copy_end.
 * flags: GF_REP_KEEP (proto.h); GFMD_REP_FOLLOW: the file is being written,
 * the copy follows its writer (gfsd/copy.h: GFS_REP_FOLLOW) and, once the
 * destination has it all, waits up to FOLLOW_RELEASE_WAIT_MS for the
 * writer's release to reach gfmd before it is recorded (namespace.h:
 * GF_NS_COPY_FOLLOW). 0 with *host_id and *bytes, and *ticket: the commit the caller's reply
 * must wait for (also on error). The destination's errors come back as
 * they are (-EBUSY: the source had a writer, -ENOSPC, ...), except that a
 * file written while it was copied is -EBUSY whatever the destination met
 * (a source cut short or changed under it is no fault); a destination
 * that cannot be reached is -EHOSTDOWN. A source whose gfsd has a writer
 * that gfmd does not count (opened before gfmd restarted, so its release
 * may never be counted) is -EAGAIN: try again a little later.
 *
 * Thread-safe: takes the namespace and registry locks only inside their
 * own calls, and holds none while copying.
 */
#ifndef GF_REPLICATE_H
#define GF_REPLICATE_H

#include <stdint.h>

#include "handlers.h"

#define GFMD_REP_FOLLOW (1u << 16)
#define FOLLOW_RELEASE_WAIT_MS 10000

int gfmd_replicate(struct gfmd *g, const struct gf_cred *cr, uint64_t ino,
		   uint32_t dst_host, uint32_t src_host, uint32_t flags, uint32_t *host_id,
		   uint64_t *bytes, uint64_t *ticket);

#endif
