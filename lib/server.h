/*
 * server.h — the accept loop and connection threads every daemon shares.
 *
 * A server listens on any number of sockets (TCP and UNIX). Each accepted
 * connection gets a thread that authenticates it (auth.h), then reads frames
 * and hands each to the daemon's handler. Replies may be sent from any
 * thread with gf_conn_reply(). A frame with a bad header, or a handler
 * returning < 0, closes that one connection with a logged reason; the
 * daemon goes on serving the others.
 *
 * Connections are reference counted so a reply may be sent after the
 * handler returned (gfmd replies after its group commit): take a reference
 * with gf_conn_get() and drop it with gf_conn_put().
 *
 * No peer can stall a thread that serves others. Each connection has a
 * bounded outbound queue, written by one sender thread per server that
 * polls the sockets with something queued:
 *   - gf_conn_reply() called from any other thread than the connection's own
 *     never waits for the peer: the frame goes straight out if the socket
 *     takes it now and nothing is queued before it, else (the rest of) it is
 *     copied to the queue. A queue that would grow past max_queued closes
 *     the connection.
 *   - called from the connection's own thread (the handler), it waits until
 *     what is queued has gone and then sends itself, so a peer that does not
 *     read its replies stops being read: it holds back only itself.
 *   - a peer that takes no byte for send_timeout_ms while replies wait for
 *     it is closed, and one that stops that long inside a frame it sends.
 * Such a close is logged once ("NAME: client node3 (tcp …): not reading its
 * replies (N bytes queued); closing"); what was queued for it is dropped.
 * Replies on one connection leave in the order gf_conn_reply was called.
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

#define GF_SEND_TIMEOUT_MS_DEFAULT 30000
/* Enough for a burst of replies to a reader that is merely slow, plus the
 * largest frame. */
#define GF_MAX_QUEUED_DEFAULT (((size_t)4 << 20) + GF_HDR_SIZE + GF_MAX_PAYLOAD)

struct gf_server_opts {
	const char *name;	  /* log prefix ("gfmd"); NULL: none */
	unsigned send_timeout_ms; /* 0: GF_SEND_TIMEOUT_MS_DEFAULT */
	size_t max_queued;	  /* bytes per connection; 0: GF_MAX_QUEUED_DEFAULT */
};
/* Before gf_server_start. -EINVAL for a max_queued below one largest frame. */
int gf_server_set_opts(struct gf_server *s, const struct gf_server_opts *o);
/* Add a listening socket (from gf_tcp_listen/gf_unix_listen); the server
 * owns it. is_local marks a UNIX socket (peers on this host). */
int gf_server_add_listener(struct gf_server *s, int fd, int is_local);
/* Start accepting, and the sender, in background threads. */
int gf_server_start(struct gf_server *s);
/*
 * Stop taking requests: close listeners, shut down every connection's
 * reading side, wait for connection threads to finish their current request
 * and join them (they are fully gone, thread-exit destructors included).
 * One whose peer has not taken its replies after a few seconds (at most the
 * send timeout) is closed rather than waited for. Replies may still be sent
 * until gf_server_stop (gfmd's last commit).
 */
void gf_server_shutdown(struct gf_server *s);
/*
 * gf_server_shutdown if not done, then give queued replies a few seconds
 * (at most send_timeout_ms) to leave, close every connection, join the
 * sender. Later replies are dropped (-ENOTCONN). The memory goes with the
 * last connection reference.
 */
void gf_server_stop(struct gf_server *s);

/*
 * Send a reply to request op/reqid. status < 0 sends no payload. pass_fd ≥ 0
 * is attached (local connections only) and stays owned by the caller (a
 * queued reply holds a dup). 0 when sent or queued; -ENOTCONN when the
 * connection is closed (the reply is dropped), another -errno when this
 * call closed it. See above for when it waits.
 */
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
