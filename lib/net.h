/*
 * net.h — sockets and whole frames.
 *
 * gf_frame_send writes header + payload (optionally one fd by SCM_RIGHTS on a
 * UNIX socket) with one sendmsg loop; gf_frame_recv reads exactly one frame,
 * validating the header (version, length ≤ GF_MAX_PAYLOAD) before reading or
 * allocating the payload. Both retry on EINTR and on short transfers.
 *
 * A peer may stop taking bytes, or stop in the middle of a frame it sends:
 * gf_frame_send_timed and gf_send_wait bound how long a sender waits without
 * progress, gf_send_some never waits at all, and a socket receive timeout
 * (SO_RCVTIMEO) tells gf_frame_recv's caller whether the peer was idle
 * between frames (-EAGAIN, nothing consumed) or stalled inside one
 * (-ETIMEDOUT).
 */
#ifndef GF_NET_H
#define GF_NET_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct gf_frame {
	struct gf_hdr hdr;
	uint8_t *payload; /* malloc'd, hdr.len bytes (NULL when 0) */
	int fd;		  /* -1, or an fd that came with the frame */
};

/* Free payload, close a received fd that nobody took. */
void gf_frame_release(struct gf_frame *f);

/*
 * 0, -ECONNRESET on a clean EOF at a frame boundary, -EPROTO/-EMSGSIZE for a
 * bad header, -EBADMSG for a truncated frame, or another -errno. When the
 * socket has a receive timeout: -EAGAIN if it expired before the first byte
 * of the frame (nothing was consumed; call again), -ETIMEDOUT if it expired
 * inside the frame (the stream is out of step: close it).
 */
int gf_frame_recv(int sock, struct gf_frame *f);
/* Send one frame. pass_fd ≥ 0 attaches that fd (UNIX sockets). */
int gf_frame_send(int sock, uint16_t op, uint32_t reqid, int32_t status,
		  const void *payload, size_t len, int pass_fd);
/* As gf_frame_send, but -ETIMEDOUT once the peer has taken nothing for
 * stall_ms (< 0: wait for ever); part of the frame may have gone then. */
int gf_frame_send_timed(int sock, uint16_t op, uint32_t reqid, int32_t status,
			const void *payload, size_t len, int pass_fd, int stall_ms);
/* The header of a frame, for callers that send with gf_send_some. */
void gf_frame_hdr(uint8_t out[GF_HDR_SIZE], uint16_t op, uint32_t reqid, int32_t status,
		  size_t len);

/*
 * Bytes in iov[0..iovcnt) (at most GF_SEND_IOV_MAX pieces) are sent from
 * offset *off on, which grows by what went; pass_fd ≥ 0 goes with byte 0,
 * so only when *off is 0. gf_send_some sends what the socket takes now and
 * never waits: 0 once everything is out, -EAGAIN when the socket is full.
 * gf_send_wait waits for room: -ETIMEDOUT after stall_ms without progress
 * (< 0: for ever). Otherwise -errno (-EPIPE, -ECONNRESET: the peer is gone).
 */
#define GF_SEND_IOV_MAX 64
struct iovec;
int gf_send_some(int sock, const struct iovec *iov, int iovcnt, int pass_fd, size_t *off);
int gf_send_wait(int sock, const struct iovec *iov, int iovcnt, int pass_fd, size_t *off,
		 int stall_ms);

/* TCP connect to host:port (name or address). Returns fd or -errno. */
int gf_tcp_connect(const char *host, uint16_t port);
/* The same, giving up on each address after timeout_ms (0: as the kernel
 * does): -ETIMEDOUT. */
int gf_tcp_connect_timeout(const char *host, uint16_t port, unsigned timeout_ms);
/* TCP listen on addr:port (addr NULL/"" = any). port 0 picks one: *bound. */
int gf_tcp_listen(const char *addr, uint16_t port, uint16_t *bound);
int gf_unix_connect(const char *path);
/* Removes a stale socket file first. */
int gf_unix_listen(const char *path);
/* Set TCP_NODELAY and SO_KEEPALIVE where it applies. */
void gf_sock_tune(int fd);
/* Write/read all, retrying short transfers and EINTR. 0 or -errno. */
int gf_write_full(int fd, const void *buf, size_t len);
int gf_read_full(int fd, void *buf, size_t len);

#endif
