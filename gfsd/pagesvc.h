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
 *   GFS_PAGE_UPDATES     the owner's pages this gfsd moved on, and where
 *   GFS_PAGE_CAP         admin and gfmd peers (others -EPERM): lend at most
 *                        that many pages from now on (UINT64_MAX: no cap)
 *
 * Any authenticated peer may use the others. A malformed payload closes the
 * connection (-EBADMSG); anything else is a reply.
 *
 * The pager (pagesvc_start) shrinks the cache when it holds more than it
 * may (a cap, or the host's MemAvailable under its reserve: pages.h): it
 * puts the excess pages on other gfsd with room (gfmd's host list), each
 * batch with its owner's slots and stamps as they were (Nswap's PUNTPAGE),
 * tells pages_moved where they went (the owner collects it: UPDATE), drops
 * them when no gfsd takes them (the owner copies its other copy again),
 * and gives the emptied chunks back to the system.
 */
#ifndef GFSD_PAGESVC_H
#define GFSD_PAGESVC_H

#include "auth.h"
#include "pages.h"
#include "server.h"

struct pagesvc;

struct pagesvc_config {
	struct pages *pg;	/* used, not owned */
	const struct gf_key *key; /* copied */
	const char *hostname;	/* this gfsd's registered name */
	const char *gfmd_host;
	uint16_t gfmd_port;
	unsigned period_ms;	/* how often the pager looks (0: 500) */
};

int pagesvc_new(const struct pagesvc_config *cfg, struct pagesvc **out);
/* Start / stop the pager thread. */
int pagesvc_start(struct pagesvc *ps);
void pagesvc_stop(struct pagesvc *ps);
void pagesvc_free(struct pagesvc *ps);
/* Fill ops (arg: ps) for services.h. */
void pagesvc_server_ops(struct pagesvc *ps, struct gf_server_ops *ops);

#endif
