/*
 * server.h — the accept loop and connection threads every daemon shares.
 *
 * A server listens on any number of sockets (TCP and UNIX). Each accepted
 * connection gets a thread that authenticates it (auth.h), then reads frames
 * and hands each to the daemon's handler. Replies may be sent from any
 * thread with gf_conn_reply(), which serialises writes on the connection.
 * A frame with a bad header, or a handler returning < 0, closes that one
 * connection with a logged reason; the daemon goes on serving the others.
 *
 * Connections are reference counted so a reply may be sent after the
 * handler returned (gfmd replies after its group commit): take a reference
 * with gf_conn_get() and drop it with gf_conn_put().
 */
#ifndef GF_SERVER_H
#define GF_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "net.h"

struct gf_conn;
struct gf_server;

/*
 * Handle one request frame. The handler owns nothing in f (the server
 * releases it after the call) except that it may take f->fd by setting it
 * to -1. Return 0 to go on, or a negative errno to close the connection
 * (log the reason first: a malformed payload is -EBADMSG).
 */
typedef int (*gf_handler_fn)(struct gf_conn *conn, struct gf_frame *f, void *arg);
/* Called once when a connection closes (may be NULL). */
typedef void (*gf_close_fn)(struct gf_conn *conn, void *arg);

struct gf_server_ops {
	gf_handler_fn handle;
	gf_close_fn closed;
	void *arg;
};

int gf_server_new(const struct gf_key *key, const struct gf_server_ops *ops,
		  struct gf_server **out);
/* Add a listening socket (from gf_tcp_listen/gf_unix_listen); the server
 * owns it. is_local marks a UNIX socket (peers on this host). */
int gf_server_add_listener(struct gf_server *s, int fd, int is_local);
/* Start accepting in a background thread. */
int gf_server_start(struct gf_server *s);
/*
 * Stop: close listeners, shut down every connection's reading side, wait
 * for connection threads to finish their current request and join them
 * (they are fully gone, thread-exit destructors included), free.
 */
void gf_server_stop(struct gf_server *s);

/* Send a reply to request f. status < 0 sends no payload. pass_fd ≥ 0 is
 * attached (local connections only) and stays owned by the caller. */
int gf_conn_reply(struct gf_conn *c, uint16_t op, uint32_t reqid, int32_t status,
		  const struct gf_wbuf *payload, int pass_fd);
void gf_conn_get(struct gf_conn *c);
void gf_conn_put(struct gf_conn *c);
/* Facts about the peer, fixed after authentication. */
uint8_t gf_conn_peer_kind(const struct gf_conn *c);
const char *gf_conn_peer_host(const struct gf_conn *c);
int gf_conn_is_local(const struct gf_conn *c); /* came in on a UNIX socket */
/* Per-connection slot for the daemon's own state. */
void gf_conn_set_data(struct gf_conn *c, void *data);
void *gf_conn_data(const struct gf_conn *c);
/* A short description for logs: "client node3 (tcp 10.0.0.3:51324)". */
const char *gf_conn_desc(const struct gf_conn *c);

#endif
