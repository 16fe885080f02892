/*
 * hosts.h — the registry of gfsd hosts and where new data goes.
 *
 * A gfsd registers with its name (the same name always gets the same id,
 * kept in the host table) and then sends heartbeats. A host silent for
 * host_down_ms is down; that is decided lazily whenever the registry is
 * asked, and each transition is logged once. Capacity and free space come
 * with every heartbeat and live only in memory; registration is stored.
 *
 * Placement: a new replica goes to the up host whose name is the writing
 * client's host (locality) while that host has more free space than the
 * reserve, else to the up host with the most free space (even below the
 * reserve when every host is). Data that exists stays where it is. Right
 * after gfmd starts, a host that has not reported yet (within host_down_ms)
 * is neither up nor down: when the data's host or the client's own is such
 * a host, or no host is up yet but one may be, placement says -EAGAIN and
 * the client tries again (lib/client.h) instead of getting ENOSPC, an EIO
 * for data on a "down" host, or a needlessly remote replica.
 *
 * Thread-safe: one mutex, held only for in-memory work and the sink call
 * (which must not block). Never calls into the namespace, so the namespace
 * may call gf_hosts_place under its own lock.
 */
#ifndef GF_HOSTS_H
#define GF_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "namespace.h"
#include "proto.h"

struct gf_hosts;

struct gf_hosts *gf_hosts_new(uint32_t host_down_ms);
void gf_hosts_free(struct gf_hosts *h);
void gf_hosts_set_sink(struct gf_hosts *h, gf_sink_fn sink, void *arg);
/* The free space placement keeps on a host for its own use: bytes, or (when
 * percent is not 0) that share of each host's capacity. Default 1%. */
void gf_hosts_set_reserve(struct gf_hosts *h, uint64_t bytes, uint32_t percent);
/*
 * A draining host (gfhost drain) gets no new data while another up host
 * can take it, and a writer of a file with a replica elsewhere goes there;
 * gfmd/repair.h moves its replicas off. Stored with the host's row.
 * -ENOENT for an unknown id; *ticket: the stored change (0: none).
 */
int gf_hosts_set_draining(struct gf_hosts *h, uint32_t host_id, int on, uint64_t *ticket);
/* The reserve of a host with that capacity, in bytes. */
uint64_t gf_hosts_reserve(struct gf_hosts *h, uint64_t capacity);
/* A row from the store (the host counts as down until it speaks). */
int gf_hosts_load(struct gf_hosts *h, const struct gf_change_host *row);

/* Host names and addresses: printable ASCII without spaces or quotes. */
int gf_hosts_valid_name(const char *s);

/* 0 and *host_id (ticket for the stored row, 0 if nothing changed). */
int gf_hosts_register(struct gf_hosts *h, const struct gfm_host_register_req *req,
		      uint32_t *host_id, uint64_t *ticket);
/* -ENOENT for an unknown id (the gfsd should register again). */
int gf_hosts_heartbeat(struct gf_hosts *h, const struct gfm_heartbeat_req *req);
/* Every host (malloc'd array in *out, nreplicas left 0). */
int gf_hosts_list(struct gf_hosts *h, struct gf_host_info **out, uint32_t *count);
/* Fill out (host, addr, port) for a replica; 1 if that host is up, 0 if down,
 * -ENOENT if unknown. */
int gf_hosts_replica_info(struct gf_hosts *h, uint32_t host_id, uint64_t gen,
			  struct gf_replica *out);
/* Sum over up hosts. */
void gf_hosts_totals(struct gf_hosts *h, uint64_t *capacity, uint64_t *free,
		     uint32_t *nup);

/* Placement for one writing client: pass as gf_place_fn with this as arg. */
struct gf_hosts_placement {
	struct gf_hosts *hosts;
	const char *client_host;
};
int gf_hosts_place(void *placement, const struct gf_ns_replica *have, size_t nhave,
		   uint32_t *host_id);

#endif
