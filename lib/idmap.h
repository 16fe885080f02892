/*
 * idmap.h — identities that are global by name, as in Gfarm.
 *
 * gfmd keeps a user map (name ↔ global uid) and a group map (name ↔ global
 * gid); see GFM_IDMAP_* in proto.h. Nodes whose /etc/passwd number the same
 * people differently still agree on who owns what, because a client
 * translates through the names:
 *
 *   outgoing (credentials, chown, new owners):
 *       local uid → local name (getpwuid_r) → global uid, when that name is
 *       in the map; otherwise the local uid unchanged.
 *   incoming (attributes):
 *       global uid → name (map) → local uid (getpwnam_r), when this node
 *       knows that name; otherwise the global uid unchanged.
 *
 * and the same for gids through group names. uid 0 and gid 0 are root's
 * everywhere and never translated. While the map is empty every
 * translation is the identity at the cost of one atomic load, so clusters
 * that do not use the map pay nothing for it.
 *
 * A struct gf_idmap holds one snapshot of the map (sorted arrays, binary
 * search) and caches of every translation it has made, so that the request
 * path calls getpw*_r only the first time it meets an id. The caches are
 * dropped whenever the map changes and at every periodic refresh (so local
 * account changes are seen within one period).
 *
 * Refreshing: gf_idmap_refresh() fetches the map through the fetch
 * callback (a mount: GFM_IDMAP_LIST). gf_idmap_start() refreshes every
 * period in a thread. A translation that misses the (non-empty) map — a
 * local name or a global id it does not hold — refreshes at once, at most
 * once per GF_IDMAP_MISS_MS, so that a name added with gfuser is used
 * within about a second once the map is in use.
 *
 * The local account database and the clock are injectable, so the module
 * can be tested without /etc/passwd. All functions are thread-safe; the
 * translation functions accept m == NULL (identity).
 */
#ifndef GF_IDMAP_H
#define GF_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define GF_IDMAP_REFRESH_MS 30000 /* default period of gf_idmap_start */
#define GF_IDMAP_MISS_MS 1000	  /* at most one refresh on a miss per this */

/*
 * A user or group name as the map accepts it: 1 to GF_IDMAP_NAME_MAX
 * characters of [A-Za-z0-9._-], not starting with '-'. 0, -EINVAL or
 * -ENAMETOOLONG.
 */
int gf_idmap_check_name(const char *name);
/* "user" / "group" (or "?"). */
const char *gf_idmap_kind_name(uint8_t kind);

/* This node's accounts. Each returns 0, or -ENOENT when there is none. */
struct gf_idmap_local {
	int (*uid_name)(void *arg, uint32_t uid, char *name, size_t size);
	int (*name_uid)(void *arg, const char *name, uint32_t *uid);
	int (*gid_name)(void *arg, uint32_t gid, char *name, size_t size);
	int (*name_gid)(void *arg, const char *name, uint32_t *gid);
	void *arg;
};
/* getpwuid_r, getpwnam_r, getgrgid_r, getgrnam_r. */
extern const struct gf_idmap_local gf_idmap_local_system;

/* Where the map comes from: 0 and a malloc'd array (freed by the caller of
 * the callback), or -errno. */
typedef int (*gf_idmap_fetch_fn)(void *arg, struct gf_idmap_ent **ents, uint32_t *n);

struct gf_idmap;

/* local NULL: gf_idmap_local_system. fetch may be NULL (map set by hand). */
struct gf_idmap *gf_idmap_new(const struct gf_idmap_local *local,
			      gf_idmap_fetch_fn fetch, void *fetch_arg);
/* Stops the refresh thread, if any. */
void gf_idmap_free(struct gf_idmap *m);
/* Replace the clock (milliseconds, monotonic) — for tests. */
void gf_idmap_set_clock(struct gf_idmap *m, int64_t (*now_ms)(void *arg), void *arg);

/*
 * Install a new map. Entries of an unknown kind, with an invalid name or id
 * 0, and later duplicates of a name or id are ignored. 1 when the map
 * changed (caches dropped), 0 when it is the same, -ENOMEM.
 */
int gf_idmap_set(struct gf_idmap *m, const struct gf_idmap_ent *ents, uint32_t n);
/* Fetch and install now. 1 changed, 0 same, or the fetch's -errno (the old
 * map stays). */
int gf_idmap_refresh(struct gf_idmap *m);
/* Drop the translation caches (local accounts may have changed). */
void gf_idmap_flush(struct gf_idmap *m);
/* Refresh (and flush) every period_ms in a thread; 0 or -errno. */
int gf_idmap_start(struct gf_idmap *m, uint32_t period_ms);

/* Number of entries of a kind in the current map. */
uint32_t gf_idmap_count(struct gf_idmap *m, uint8_t kind);
/* The map itself: 0 or -ENOENT. */
int gf_idmap_find_name(struct gf_idmap *m, uint8_t kind, const char *name, uint32_t *id);
int gf_idmap_find_id(struct gf_idmap *m, uint8_t kind, uint32_t id, char *name, size_t size);

/* ---- translation (the request path) ---------------------------------------- */

uint32_t gf_idmap_uid_out(struct gf_idmap *m, uint32_t local_uid);
uint32_t gf_idmap_gid_out(struct gf_idmap *m, uint32_t local_gid);
uint32_t gf_idmap_uid_in(struct gf_idmap *m, uint32_t global_uid);
uint32_t gf_idmap_gid_in(struct gf_idmap *m, uint32_t global_gid);
/* uid, gid and every supplementary group, in place. */
void gf_idmap_cred_out(struct gf_idmap *m, struct gf_cred *cr);

/* Counters, for tests and debugging. */
struct gf_idmap_stats {
	uint64_t refreshes;	 /* fetches that succeeded */
	uint64_t miss_refreshes; /* of which were caused by a miss */
	uint64_t local_lookups;	 /* calls into struct gf_idmap_local */
	uint64_t changes;	 /* maps installed that differed */
};
void gf_idmap_get_stats(struct gf_idmap *m, struct gf_idmap_stats *out);

#endif
