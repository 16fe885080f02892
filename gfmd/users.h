/*
 * users.h — gfmd's user and group maps: name ↔ global id, one map per kind.
 *
 * Identities are global by name (see lib/idmap.h for the client's side):
 * each user name has one uid and each group name one gid, unique per kind.
 * Only root (uid 0 in the caller's credentials) may change the maps; every
 * change is a row change (changes.h) handed to the sink under the lock, like
 * the host registry's, so the reply can wait for its commit. The tables
 * `users` and `groups` of sql/001_init.sql hold them; start-up loads them.
 *
 * A change made for a GFM_ONCE request (once non-NULL) records that with it
 * (GF_CHG_ONCE_PUT, changes.h), as the namespace does.
 *
 * Thread-safe: one mutex, held only for in-memory work and the sink call.
 * Never calls into the namespace or the host registry.
 */
#ifndef GF_USERS_H
#define GF_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"
#include "proto.h"

struct gf_users;

struct gf_users *gf_users_new(void);
void gf_users_free(struct gf_users *u);
void gf_users_set_sink(struct gf_users *u, gf_sink_fn sink, void *arg);

/* A row from the store: -EINVAL (bad kind, name or id), -EEXIST, -ENOMEM. */
int gf_users_load(struct gf_users *u, uint8_t kind, const char *name, uint32_t id);

/*
 * Map name to id. -EPERM unless cr->uid is 0; -EINVAL for a bad kind or
 * name (gf_idmap_check_name) or id 0 / 0xffffffff (root's, and "no id");
 * -EEXIST when another name of that kind has id, or when name has another
 * id and replace is 0. The same pair again changes nothing (*ticket 0, or
 * the ticket of the record of once alone).
 */
int gf_users_set(struct gf_users *u, const struct gf_cred *cr, uint8_t kind,
		 const char *name, uint32_t id, int replace, struct gf_once_id *once,
		 uint64_t *ticket);
/* -EPERM unless root; -ENOENT when name is not mapped. */
int gf_users_del(struct gf_users *u, const struct gf_cred *cr, uint8_t kind,
		 const char *name, struct gf_once_id *once, uint64_t *ticket);
/* Every entry, users first, each kind by name (malloc'd array in *out). */
int gf_users_list(struct gf_users *u, struct gf_idmap_ent **out, uint32_t *count);

#endif
