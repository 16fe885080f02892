/*
 * servers.h — gfswap's table of page servers (Nswap's IPTable) and the page
 * requests it sends them.
 *
 * The table is what gfmd's host list says (GFM_HOST_LIST, refreshed by
 * servers_refresh): every gfsd but this host's own, whether it is up and
 * how many swap pages it said it had free in its last heartbeat, which may
 * be stale; gfswap chooses servers from it without asking anyone, and a
 * server that turns out full (-ENOSPC) is skipped until the next refresh.
 * Indices are stable: a server once listed keeps its index (at most
 * SERVERS_MAX).
 *
 * Each server has a pool of POOL_CONNS connections of gfswap's own (never
 * shared with file I/O), each with its receive buffer allocated once at
 * start: a request allocates nothing. One request is in flight per
 * connection; the pool gives POOL_CONNS per server. A connection that fails
 * (reset, or no reply within io_timeout_ms) is closed and the server is
 * taken for down for a few seconds: requests to it fail at once with
 * -EHOSTDOWN, and callers go to another copy.
 */
#ifndef GFSWAP_SERVERS_H
#define GFSWAP_SERVERS_H

#include <pthread.h>
#include <stdint.h>

#include "auth.h"
#include "proto.h"

#define SERVERS_MAX 64
#define POOL_CONNS 4

struct pconn {
	int fd;	      /* -1: not connected */
	int busy;
	uint32_t reqid;
	uint8_t *buf; /* receive buffer: the fixed part of any reply */
};

struct pserver {
	char name[GF_HOST_MAX + 1];
	char addr[GF_HOST_MAX + 1];
	uint16_t port;
	int up;			/* gfmd's view */
	int64_t free_pages;	/* advertised, minus what we put since */
	uint64_t down_until_ms; /* a failure seen: skipped until then */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pconn conns[POOL_CONNS];
	/* what the keeper learnt (its thread only, read by status) */
	uint64_t instance; /* the gfsd's GFS_PAGE_STATS instance; 0: unknown */
	uint8_t epoch;	   /* counts its restarts seen: copies put in an
			      earlier epoch are gone */
	/* counters (atomics) */
	uint64_t pages_out, pages_in, failures, refusals;
};

struct servers {
	pthread_mutex_t mu; /* n, and the table's fields other than pconns */
	struct pserver v[SERVERS_MAX];
	uint32_t n;
	uint32_t rr; /* where the next pick starts */
	struct gf_key key;
	char my_host[GF_HOST_MAX + 1];
	char gfmd_host[GF_HOST_MAX + 1];
	uint16_t gfmd_port;
	unsigned io_timeout_ms;
	uint64_t owner;
};

/* Copies key and names; allocates every buffer. 0 or -errno. */
int servers_init(struct servers *s, const struct gf_key *key, const char *my_host,
		 const char *gfmd_host, uint16_t gfmd_port, unsigned io_timeout_ms,
		 uint64_t owner);
void servers_destroy(struct servers *s);
/* Ask gfmd for the host list and update the table. 0 or -errno. */
int servers_refresh(struct servers *s);
/* A server that is up, not taken for down, with room for n pages and not
 * in avoid[0..navoid); round robin among them. Index, or -1. */
int servers_pick(struct servers *s, uint32_t n, const int *avoid, int navoid);

/*
 * GFS_PAGE_PUT of n pages to servers a and b at once (b < 0: a only):
 * *ra, *rb get each one's result (0, -ENOSPC, -EHOSTDOWN, ...).
 */
void page_put2(struct servers *s, int a, int b, uint64_t slot, uint64_t stamp, uint32_t n,
	       const uint8_t *data, int *ra, int *rb);
/* GFS_PAGE_GET: n pages into out, their stamps into stamps. 0 or -errno. */
int page_get(struct servers *s, int i, uint64_t slot, uint32_t n, uint64_t *stamps,
	     uint8_t *out);
/* GFS_PAGE_INVALIDATE of pages not newer than stamp. 0 or -errno. */
int page_inval(struct servers *s, int i, uint64_t slot, uint32_t n, uint64_t stamp);
/* GFS_PAGE_STATS. 0 or -errno. */
int page_stats(struct servers *s, int i, struct gfs_page_stats_rep *st);
/* GFS_PAGE_UPDATES: up to max moves of our pages server i made, into out
 * (buf: a receive buffer of buflen bytes). How many, or -errno. */
int page_updates(struct servers *s, int i, struct gfs_page_move *out, uint32_t max,
		 uint8_t *buf, size_t buflen);
/* The index of the server named name, or -1. */
int servers_find(struct servers *s, const char *name);
/* Whether a copy put on server i in epoch can be counted on: the server is
 * up (gfmd's view), not failing now, and has not restarted since. */
int servers_holds(struct servers *s, int i, uint8_t epoch);
/* Server i's epoch now (what a copy put now records). */
uint8_t servers_epoch(struct servers *s, int i);

#endif
