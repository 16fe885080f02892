/*
 * copy.h — the gfsd → gfsd copy client: the work of GFS_REPLICATE.
 *
 * copy_replica() makes spool file ino-fgen on this gfsd a copy of replica
 * ino-src_fgen held by the gfsd at src_addr:src_port:
 *   - connects to the source with the shared key (as a gfsd peer) and opens
 *     the replica with GFS_O_READ | GFS_O_COPY: the source refuses (-EBUSY)
 *     while anyone has it open for writing;
 *   - refuses a source whose size is not `size` (gfmd's: the data it means
 *     to copy) with -EIO;
 *   - reads it in GF_MAX_IO pieces, COPY_STREAMS requests in flight on the
 *     one connection, into an unnamed spool file (spool_tmp_open); blocks of
 *     zeros are left as holes, so a sparse file stays sparse;
 *   - and only when every byte arrived: fsync, name it (spool_tmp_commit).
 * A source file that does not exist copies as an empty file when size is 0
 * (replica files are made by their first write). Nothing is left in the
 * spool when it fails.
 * With GFS_REP_FOLLOW (proto.h) the source is being written: it is opened
 * with GFS_O_FOLLOW, its whole blocks are copied as they appear until it is
 * sealed, the rest is fetched as above, and every block is compared with
 * the source's sums: one the writer rewrote after it was copied is fetched
 * again (counted in *mended). -EBUSY when the source does not exist yet,
 * stays idle unsealed for GFS_FOLLOW_IDLE_MS, or is written again before
 * the copy ends: gfmd's copy after the last close does the work then.
 * 0 and *bytes (the size), or
 * -errno: -EBUSY as above, -EHOSTDOWN when the source cannot be reached or
 * stops answering, -EIO for a source that is shorter or longer than size or
 * fails a read, -ENOSPC (and other errors) from this spool.
 *
 * Thread-safe: each call has its own connection and threads.
 */
#ifndef GFSD_COPY_H
#define GFSD_COPY_H

#include <stdint.h>

#include "auth.h"
#include "proto.h"
#include "spool.h"

#define COPY_STREAMS 4
#define COPY_TIMEOUT_MS 30000 /* a source silent this long is gone */

struct copy_source {
	const struct gf_key *key;
	const char *my_host; /* this gfsd's name, as it authenticates */
};

int copy_replica(const struct copy_source *cs, struct spool *sp,
		 const struct gfs_replicate_req *req, uint64_t *bytes, uint64_t *mended);

#endif
