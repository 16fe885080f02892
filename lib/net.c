#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

void gf_frame_release(struct gf_frame *f)
{
	free(f->payload);
	f->payload = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int gf_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int gf_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read the header with recvmsg so that an fd passed with the frame is caught. */
static int recv_header(int sock, uint8_t *hdr, int *fd_out)
{
	size_t got = 0;
	int rc;
	*fd_out = -1;
	while (got < GF_HDR_SIZE) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { hdr + got, GF_HDR_SIZE - got };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == ENOTSOCK)
			n = read(sock, hdr + got, GF_HDR_SIZE - got);
		else if (n >= 0) {
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
					int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
					int fds[8];
					if (nfd > 8)
						nfd = 8;
					memcpy(fds, CMSG_DATA(c), (size_t)nfd * sizeof(int));
					for (int i = 0; i < nfd; i++) {
						if (*fd_out < 0)
							*fd_out = fds[i];
						else
							close(fds[i]);
					}
				}
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			if (rc == -EWOULDBLOCK) /* receive timeout: idle, or stalled inside */
				rc = got == 0 ? -EAGAIN : -ETIMEDOUT;
			goto fail;
		}
		if (n == 0) {
			rc = got == 0 ? -ECONNRESET : -EBADMSG;
			goto fail;
		}
		got += (size_t)n;
	}
	return 0;
fail:
	if (*fd_out >= 0)
		close(*fd_out);
	*fd_out = -1;
	return rc;
}

int gf_frame_recv(int sock, struct gf_frame *f)
{
	uint8_t hdr[GF_HDR_SIZE];
	f->payload = NULL;
	f->fd = -1;
	int rc = recv_header(sock, hdr, &f->fd);
	if (rc)
		return rc;
	rc = gf_hdr_decode(hdr, &f->hdr);
	if (rc)
		goto fail;
	if (f->hdr.len > 0) {
		f->payload = malloc(f->hdr.len);
		if (!f->payload) {
			rc = -ENOMEM;
			goto fail;
		}
		rc = gf_read_full(sock, f->payload, f->hdr.len);
		if (rc == -ECONNRESET)
			rc = -EBADMSG; /* EOF inside a frame: truncated */
		else if (rc == -EWOULDBLOCK)
			rc = -ETIMEDOUT; /* receive timeout inside a frame */
		if (rc)
			goto fail;
	}
	return 0;
fail:
	gf_frame_release(f);
	return rc;
}

void gf_frame_hdr(uint8_t out[GF_HDR_SIZE], uint16_t op, uint32_t reqid, int32_t status,
		  size_t len)
{
	struct gf_hdr h = { .len = (uint32_t)len, .version = GF_PROTO_VERSION,
			    .op = op, .reqid = reqid, .status = status };
	gf_hdr_encode(&h, out);
}

/* One sendmsg of iov from offset off on (fd attached when ≥ 0). */
static ssize_t send_from(int sock, const struct iovec *iov, int iovcnt, size_t off,
			 int pass_fd, int flags)
{
	struct iovec v[GF_SEND_IOV_MAX];
	int n = 0;
	for (int i = 0; i < iovcnt && n < GF_SEND_IOV_MAX; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		v[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		v[n].iov_len = iov[i].iov_len - off;
		off = 0;
		n++;
	}
	if (n == 0)
		return 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = { .msg_iov = v, .msg_iovlen = (size_t)n };
	if (pass_fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	return sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t t = 0;
	for (int i = 0; i < iovcnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* Send until done, the socket is full (flags has MSG_DONTWAIT) or an error. */
static int send_loop(int sock, const struct iovec *iov, int iovcnt, int pass_fd,
		     size_t *off, int flags)
{
	size_t total = iov_total(iov, iovcnt);
	while (*off < total) {
		/* the fd went with the first bytes */
		ssize_t n = send_from(sock, iov, iovcnt, *off, *off == 0 ? pass_fd : -1, flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		*off += (size_t)n;
	}
	return 0;
}

int gf_send_some(int sock, const struct iovec *iov, int iovcnt, int pass_fd, size_t *off)
{
	return send_loop(sock, iov, iovcnt, pass_fd, off, MSG_DONTWAIT);
}

int gf_send_wait(int sock, const struct iovec *iov, int iovcnt, int pass_fd, size_t *off,
		 int stall_ms)
{
	if (stall_ms < 0)
		return send_loop(sock, iov, iovcnt, pass_fd, off, 0);
	for (;;) {
		int rc = send_loop(sock, iov, iovcnt, pass_fd, off, MSG_DONTWAIT);
		if (rc != -EAGAIN)
			return rc;
		/* progress restarts the wait: a slow reader is not a dead one */
		struct pollfd p = { .fd = sock, .events = POLLOUT };
		int n;
		do
			n = poll(&p, 1, stall_ms);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0)
			return -errno;
	}
}

int gf_frame_send_timed(int sock, uint16_t op, uint32_t reqid, int32_t status,
			const void *payload, size_t len, int pass_fd, int stall_ms)
{
	if (len > GF_MAX_PAYLOAD)
		return -EMSGSIZE;
	uint8_t hdr[GF_HDR_SIZE];
	gf_frame_hdr(hdr, op, reqid, status, len);
	struct iovec iov[2] = { { hdr, GF_HDR_SIZE }, { (void *)payload, len } };
	size_t off = 0;
	return gf_send_wait(sock, iov, len ? 2 : 1, pass_fd, &off, stall_ms);
}

int gf_frame_send(int sock, uint16_t op, uint32_t reqid, int32_t status,
		  const void *payload, size_t len, int pass_fd)
{
	return gf_frame_send_timed(sock, op, reqid, status, payload, len, pass_fd, -1);
}

void gf_sock_tune(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

int gf_tcp_connect(const char *host, uint16_t port)
{
	return gf_tcp_connect_timeout(host, port, 0);
}

int gf_tcp_connect_timeout(const char *host, uint16_t port, unsigned timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0)
		return gai == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		/* a blocking connect honours SO_SNDTIMEO (EINPROGRESS when it
		 * runs out): a host that drops our SYNs costs timeout_ms, not
		 * the kernel's two minutes */
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000 };
		if (timeout_ms)
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			if (timeout_ms) {
				tv = (struct timeval){ 0 };
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			}
			gf_sock_tune(fd);
			freeaddrinfo(res);
			return fd;
		}
		rc = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int gf_tcp_listen(const char *addr, uint16_t port, uint16_t *bound)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int gai = getaddrinfo(addr && *addr ? addr : NULL, portstr, &hints, &res);
	if (gai != 0)
		return -EADDRNOTAVAIL;
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0) {
			if (bound) {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);
				getsockname(fd, (struct sockaddr *)&ss, &sl);
				*bound = ntohs(ss.ss_family == AF_INET6
						       ? ((struct sockaddr_in6 *)&ss)->sin6_port
						       : ((struct sockaddr_in *)&ss)->sin_port);
			}
			freeaddrinfo(res);
			return fd;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

/* A UNIX stream socket and, in *sa, the address of path. fd or -errno. */
static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* Close fd and return -errno as it was before. */
static int close_err(int fd)
{
	int rc = -errno;
	close(fd);
	return rc;
}

int gf_unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = unix_socket(path, &sa);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return close_err(fd);
	return fd;
}

int gf_unix_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd = unix_socket(path, &sa);
	if (fd < 0)
		return fd;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0)
		return close_err(fd);
	return fd;
}
