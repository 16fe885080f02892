/*
 * pagesvc.h — the page service of gfsd: network swap (GFS_PAGE_*, proto.h)
 * over the page cache (pages.h).
 *
 * A service of its own beside the file-data service (service.h), routed to
 * by opcode (services.h). It keeps no per-connection state: every request
 * names its owner and slots, so a client may spread its requests over as
 * many connections as it likes (gfswap uses connections of its own, never
 * shared with file I/O, each served by its own thread).
 *
 *   GFS_PAGE_PUT         pages_put; -ENOSPC when no room (nothing stored)
 *   GFS_PAGE_GET         pages_get: per page its stamp (0: not held) and data
 *   GFS_PAGE_INVALIDATE  pages_invalidate: how many went
 *   GFS_PAGE_STATS       pages_stats
 *
 * Any authenticated peer may use it. A malformed payload closes the
 * connection (-EBADMSG); anything else is a reply.
 */
#ifndef GFSD_PAGESVC_H
#define GFSD_PAGESVC_H

#include "pages.h"
#include "server.h"

/* Fill ops (arg: the page cache, used, not owned) for services.h. */
void pagesvc_server_ops(struct pages *pg, struct gf_server_ops *ops);

#endif
