/*
 * net.h — sockets and whole frames.
 *
 * gf_frame_send writes header + payload (optionally one fd by SCM_RIGHTS on a
 * UNIX socket) with one sendmsg loop; gf_frame_recv reads exactly one frame,
 * validating the header (version, length ≤ GF_MAX_PAYLOAD) before reading or
 * allocating the payload. Both retry on EINTR and on short transfers.
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
 * bad header, -EBADMSG for a truncated frame, or another -errno.
 */
int gf_frame_recv(int sock, struct gf_frame *f);
/* Send one frame. pass_fd ≥ 0 attaches that fd (UNIX sockets). */
int gf_frame_send(int sock, uint16_t op, uint32_t reqid, int32_t status,
		  const void *payload, size_t len, int pass_fd);

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
