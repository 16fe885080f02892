/*
 * handlers.h — gfmd's request handler (a gf_handler_fn for server.h).
 *
 * Decodes each GFM_* request with its proto.h codec, runs it against the
 * namespace and the host registry, and replies: reads at once from memory,
 * mutations only once the store has committed their changes (the reply is
 * encoded at once and parked on the commit ticket, holding a reference to
 * the connection). A payload that does not decode is logged and closes
 * that connection (-EBADMSG); an unknown opcode is answered -ENOSYS.
 * Host registration and heartbeats are accepted from gfsd peers only.
 * GFM_REPLICATE runs the copy (replicate.h) in the connection's thread.
 *
 * GFM_ONCE (proto.h) runs the mutation inside at most once per (client,
 * seq) through gfmd/once.h; a copy of one that was applied before is
 * answered from its record (its error again, or a success rebuilt from the
 * inode as it is now — for CREATE and an O_TRUNC OPEN, the open again
 * without truncating, spared the permission check only when that request
 * made the file) and waits for the first copy's commit as its first reply
 * would have.
 */
#ifndef GF_HANDLERS_H
#define GF_HANDLERS_H

#include <stdint.h>

#include "hosts.h"
#include "leases.h"
#include "locks.h"
#include "namespace.h"
#include "once.h"
#include "server.h"
#include "store.h"
#include "users.h"

struct gf_repair;

struct gfmd {
	struct gf_ns *ns;
	struct gf_hosts *hosts;
	struct gf_store *store;
	struct gf_users *users; /* user and group names ↔ global ids */
	struct gf_once *once;	/* exactly-once records (GFM_ONCE) */
	struct gf_locks *locks; /* fcntl and flock locks (GFM_LOCK) */
	uint32_t heartbeat_ms; /* told to gfsd at registration */
	uint8_t cluster_id[GF_CLUSTER_ID_LEN]; /* told to gfsd at registration */
	const struct gf_key *key; /* gfmd's own calls to gfsd (replicate.h) */
	const char *hostname;	  /* as gfmd names itself to them */
	struct gf_repair *repair; /* repair.h; NULL: none */
	struct gf_leases *leases; /* leases.h; NULL: none */
};

/* arg is a struct gfmd. */
int gfmd_handle(struct gf_conn *conn, struct gf_frame *f, void *arg);
/* The server's close callback: a connection's lock session ends, and the
 * write handles it opened are released (namespace.h: writers). */
void gfmd_conn_closed(struct gf_conn *conn, void *arg);

#endif
