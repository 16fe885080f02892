/*
 * rpc.h — a client connection with many requests in flight.
 *
 * gf_rpc_call() may be called from many threads at once on one connection:
 * each call takes a fresh request id and sends its frame under a send lock.
 * There is no receiver thread: one waiting caller at a time reads the
 * socket, hands other callers the replies with their ids, and passes the
 * role on when its own reply has come (a lone caller so gets its reply
 * without a thread switch). A connection that breaks fails every waiting
 * call with -ENOTCONN (and every later one too); the owner reconnects by
 * opening a new one. An idle connection is read by nobody, so
 * gf_rpc_alive() asks the socket whether the peer has closed it.
 */
#ifndef GF_RPC_H
#define GF_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "wire.h"

struct gf_rpc;

struct gf_reply {
	int32_t status;	  /* 0 or negative errno from the server */
	uint8_t *payload; /* malloc'd, len bytes */
	size_t len;
	int fd; /* -1, or an fd passed with the reply */
};
void gf_reply_release(struct gf_reply *r); /* frees payload, closes fd */

/* Connect (TCP host:port, or UNIX socket when port == 0 and host is a path),
 * authenticate as kind from my_host, and start the receiver thread. */
int gf_rpc_connect(const char *host, uint16_t port, const struct gf_key *key,
		   uint8_t kind, const char *my_host, struct gf_rpc **out);
/* Close the socket, fail waiters, join the receiver, free. */
void gf_rpc_close(struct gf_rpc *c);
/*
 * A peer that leaves a request unanswered for timeout_ms (0 = wait forever,
 * the default), counted from the call, is taken for gone: that call and
 * every other waiting one fail with -ETIMEDOUT / -ENOTCONN and the
 * connection is closed. That includes a peer that stops reading, so that
 * the request cannot even be sent: the sender gives up at the same
 * deadline instead of blocking (and holding the send lock) for ever; and
 * one that stops for timeout_ms in the middle of a reply.
 */
void gf_rpc_set_timeout(struct gf_rpc *c, unsigned timeout_ms);
/* 1 while the connection is usable. */
int gf_rpc_alive(struct gf_rpc *c);

/*
 * Send op with payload req (may be NULL) and wait for its reply.
 * Returns 0 when a reply arrived (its status is in rep->status, which may be
 * an error), or a negative errno when the transport failed.
 * The convenience wrapper below folds both into one return value.
 */
int gf_rpc_call(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		struct gf_reply *rep);
/* As gf_rpc_call, but returns rep->status when the transport worked; on any
 * error rep is released. */
int gf_rpc_call_status(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		       struct gf_reply *rep);

#endif
