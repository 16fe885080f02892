/*
 * registrar.h — gfsd's link to gfmd: registration, heartbeats, and deleting
 * the replicas gfmd declares dead.
 *
 * A background thread connects to gfmd as a GF_PEER_GFSD peer, sends
 * GFM_HOST_REGISTER {name, addr, port, capacity, free}, then every heartbeat
 * period GFM_HEARTBEAT {host id, capacity, free, load, deletions done}. The
 * dead replicas named in each reply are removed from the spool (one that is
 * already gone counts as removed) and reported done in the next heartbeat.
 *
 * gfmd being down never stops gfsd: the thread logs the outage once, retries
 * with a backoff of at most a few seconds, registers again (by name) when gfmd
 * is back or the connection broke, and logs the recovery.
 *
 * After each registration, before any heartbeat, the cluster id in gfmd's
 * reply is checked against SPOOL/cluster_id (spool_cluster_id_check; written
 * there for a new spool). A spool of another cluster is never served: the
 * thread logs what is wrong, deletes nothing, stops, and sends the process
 * SIGTERM; main then sees registrar_refused() and exits 1.
 *
 * Orphan scan: after the first registration, and then every orphan_scan_s
 * seconds, a thread lists the spool, then asks gfmd which replica files this
 * host should hold (GFM_HOST_REPLICAS: committed state only) and removes
 * the files that no live replica names and no writer has open — files a
 * crash left behind. Removals are rate-limited; a scan that cannot complete
 * its listing from gfmd removes nothing.
 *
 * registrar_replica_size() answers service.h's question (a replica's
 * committed size) over a connection of its own, so it never waits behind a
 * heartbeat.
 */
#ifndef GFSD_REGISTRAR_H
#define GFSD_REGISTRAR_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "load.h"
#include "replicas.h"
#include "spool.h"

struct registrar;

struct registrar_config {
	const char *gfmd_host;
	uint16_t gfmd_port;
	const struct gf_key *key;
	const char *hostname;  /* our registered name (and auth host) */
	const char *addr;      /* where clients reach our TCP listener */
	uint16_t port;	       /* the port actually bound */
	uint32_t heartbeat_ms; /* upper bound; gfmd may ask for less */
	struct load_meter *load; /* how heartbeats measure load; owned from start on */
	struct replicas *rs;	 /* tombstones and counters; used, not owned */
	uint32_t orphan_scan_s;	 /* 0: scan only after the first registration */
	/* the page service's capacity, told in every heartbeat (NULL: none) */
	void (*swap_space)(void *arg, uint64_t *total, uint64_t *free);
	void *swap_arg;
};

/* Copies what cfg points to; uses sp (not owned) until registrar_stop; owns
 * cfg->load once this returns 0. */
int registrar_start(const struct registrar_config *cfg, struct spool *sp,
		    struct registrar **out);
/* A service_size_fn (service.h); arg is the registrar. */
int registrar_replica_size(void *arg, uint64_t ino, uint64_t fgen, uint64_t *size);
/* An orphan scan at the next heartbeat, whenever the last one was (gffsck
 * --repair); arg is the registrar. */
void registrar_scan_soon(void *arg);
/* True once the spool was found to belong to another cluster (the thread has
 * stopped and SIGTERM is on its way). */
bool registrar_refused(struct registrar *r);
/* Stop the thread and free. A call blocked on an unresponsive gfmd is given
 * a few seconds; after that the thread is abandoned (the process is exiting). */
void registrar_stop(struct registrar *r);

#endif
