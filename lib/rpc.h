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

/* Connect (TCP host:port, or UNIX socket when port == 0 and host is a path)
 * and authenticate as kind from my_host. A peer that accepts but does not
 * authenticate within 10 s is -ETIMEDOUT. TCP connections probe an idle
 * peer (keepalive after 10 s, every 5 s, 3 times), so that a vanished host
 * fails the calls waiting on it within about half a minute. */
int gf_rpc_connect(const char *host, uint16_t port, const struct gf_key *key,
		   uint8_t kind, const char *my_host, struct gf_rpc **out);
/* The same, giving up after timeout_ms (connecting, and authenticating up
 * to the 10 s above; 0: as gf_rpc_connect). */
int gf_rpc_connect_timeout(const char *host, uint16_t port, const struct gf_key *key,
			   uint8_t kind, const char *my_host, unsigned timeout_ms,
			   struct gf_rpc **out);
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
/*
 * How one call waits (gf_rpc_call_wait). While its reply has not come,
 * tick(arg, &next_ms) is called, first after first_ms, then after whatever
 * *next_ms it sets (1000 unless it changes it), with no lock held. It may
 * log that the peer does not answer; returning non-zero gives up: the peer
 * is taken for gone as with gf_rpc_set_timeout (this call -ETIMEDOUT, every
 * other waiting one -ENOTCONN, the connection closed). The connection's
 * own timeout, if any, applies as well.
 */
struct gf_rpc_wait {
	unsigned first_ms;
	int (*tick)(void *arg, unsigned *next_ms);
	void *arg;
};
int gf_rpc_call_wait(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		     struct gf_reply *rep, const struct gf_rpc_wait *wait);

/* As gf_rpc_call, but returns rep->status when the transport worked; on any
 * error rep is released. */
int gf_rpc_call_status(struct gf_rpc *c, uint16_t op, const struct gf_wbuf *req,
		       struct gf_reply *rep);

#endif
