/*
 * fuzz_frame.c — libFuzzer target for frame headers and lib/net.c.
 *
 * The first 16 bytes of the input go to gf_hdr_decode on their own; then the
 * whole input is written into one end of a UNIX socketpair (and that end
 * shut down) and gf_frame_recv reads frames from the other until it fails,
 * as a daemon reading from a hostile peer would. Each frame received is sent
 * again with gf_frame_send over a second socketpair and must come back
 * identical. gf_frame_recv must fail with one of its documented errors, and
 * leave nothing to free.
 *
 * Seeds: tests/fuzz/corpus/frame/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "proto.h"

/* Under the default socket buffer, so one write never blocks. */
#define MAX_INPUT 65536

static void fail(const char *what, long v)
{
	fprintf(stderr, "fuzz_frame: %s (%ld)\n", what, v);
	abort();
}

static void hdr_only(const uint8_t *data, size_t size)
{
	uint8_t b[GF_HDR_SIZE], again[GF_HDR_SIZE];
	struct gf_hdr h;

	if (size < GF_HDR_SIZE)
		return;
	memcpy(b, data, GF_HDR_SIZE);
	int rc = gf_hdr_decode(b, &h);
	if (rc == 0) {
		if (h.version != GF_PROTO_VERSION || h.len > GF_MAX_PAYLOAD)
			fail("gf_hdr_decode accepted a bad header", rc);
		gf_hdr_encode(&h, again);
		if (memcmp(again, b, GF_HDR_SIZE) != 0)
			fail("header does not re-encode to itself", 0);
	} else if (rc != -EPROTO && rc != -EMSGSIZE) {
		fail("gf_hdr_decode: unexpected result", rc);
	}
	(void)gf_op_name(h.op);
}

/* Send f with gf_frame_send and receive it back: the same frame. */
static void resend(const struct gf_frame *f)
{
	int sv[2];
	struct gf_frame g;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (f->hdr.len + GF_HDR_SIZE > MAX_INPUT)
		goto out; /* could block: the input was smaller anyway */
	int rc = gf_frame_send(sv[0], f->hdr.op, f->hdr.reqid, f->hdr.status,
			       f->payload, f->hdr.len, -1);
	if (rc)
		fail("gf_frame_send", rc);
	rc = gf_frame_recv(sv[1], &g);
	if (rc)
		fail("gf_frame_recv of a frame just sent", rc);
	if (memcmp(&g.hdr, &f->hdr, sizeof(g.hdr)) != 0 || g.fd != -1 ||
	    (f->hdr.len && memcmp(g.payload, f->payload, f->hdr.len) != 0))
		fail("frame changed on the way", 0);
	gf_frame_release(&g);
out:
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size > MAX_INPUT)
		return 0;
	hdr_only(data, size);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (size && gf_write_full(sv[0], data, size) != 0)
		abort();
	shutdown(sv[0], SHUT_WR);

	size_t frames = 0, consumed = 0;
	for (;;) {
		struct gf_frame f;
		int rc = gf_frame_recv(sv[1], &f);
		if (rc) {
			if (rc != -ECONNRESET && rc != -EBADMSG && rc != -EPROTO &&
			    rc != -EMSGSIZE)
				fail("gf_frame_recv: unexpected result", rc);
			if (f.payload || f.fd != -1)
				fail("gf_frame_recv failed but left a payload or fd", rc);
			/* A clean end only where the input ends on a frame boundary. */
			if ((rc == -ECONNRESET) != (consumed == size))
				fail("ECONNRESET not at the end of the input", rc);
			break;
		}
		if ((f.hdr.len == 0) != (f.payload == NULL))
			fail("payload pointer does not match its length", f.hdr.len);
		frames++;
		consumed += GF_HDR_SIZE + f.hdr.len;
		if (consumed > size)
			fail("received more than was sent", (long)consumed);
		resend(&f);
		gf_frame_release(&f);
	}
	(void)frames;
	close(sv[0]);
	close(sv[1]);
	return 0;
}
