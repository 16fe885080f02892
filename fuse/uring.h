/*
 * uring.h — FUSE over io_uring for mount.gfarmfs (Linux 6.14 and later,
 * with the fuse module's enable_uring parameter set), under libfuse 3.14,
 * which does not know it.
 *
 * Why: over /dev/fuse the kernel wakes whichever mount thread waits in
 * read(2), usually on another CPU than the caller, and on a VM such a
 * wake-up costs tens of microseconds each way (a FUSE request the mount
 * answers alone: 50-80 us across CPUs, 17 us on one). Over io_uring the
 * kernel queues a request on the queue of the CPU the caller runs on;
 * the threads that serve that queue are pinned to that CPU.
 *
 * How (the wire is include/uapi/linux/fuse.h, protocol 7.42):
 * - passthrough.c's read hook hands the kernel's INIT to gf_uring_saw_init
 *   (does it offer FUSE_OVER_IO_URING?); its writev hook asks
 *   gf_uring_patch_init to add the flag to our INIT reply, and calls
 *   gf_uring_start once the kernel took that reply;
 * - gf_uring_start starts, for every possible CPU, `threads` threads
 *   pinned to it, each with an io_uring of its own and one ring entry
 *   (a header and a payload buffer) registered for that CPU's queue. The
 *   kernel moves to the rings once every queue has an entry;
 * - a thread given a request lays it out as /dev/fuse would have (header,
 *   op header, payload) and hands it to fuse_session_process_buf;
 * - the reply comes back through the writev hook to gf_uring_reply, which
 *   copies it into the entry and commits it (COMMIT_AND_FETCH: the entry
 *   then waits for the next request);
 * - what the kernel does not send over io_uring (FORGET, INTERRUPT, and
 *   everything before the rings are ready) still comes through /dev/fuse
 *   and libfuse's loop, and notifications still go out through it.
 *
 * A reply must not be spliced for a request that came over a ring
 * (the kernel would not find it): gf_uring_agreed() says, at INIT, that
 * the mount must not want FUSE_CAP_SPLICE_WRITE.
 *
 * If the kernel does not offer io_uring, or a ring cannot be set up,
 * the mount works over /dev/fuse as before (gf_uring_active() is 0).
 * Thread-safe.
 */
#ifndef GF_FUSE_URING_H
#define GF_FUSE_URING_H

#include <stdint.h>
#include <sys/uio.h>

#include "ops.h" /* fuse_lowlevel.h, at FUSE_USE_VERSION */

/* Before the loop: the session, whether to ask for io_uring at all, and
 * how many threads (each one request at a time) serve each CPU's queue. */
void gf_uring_configure(struct fuse_session *se, int want, unsigned threads_per_cpu);

/* The kernel's INIT: major, minor, flags, flags2 (0 without INIT_EXT). */
void gf_uring_saw_init(uint32_t major, uint32_t minor, uint32_t flags, uint32_t flags2);

/* 1 when our INIT reply will ask for io_uring (wanted and offered). */
int gf_uring_agreed(void);

/* Our INIT reply's flags and flags2: adds FUSE_OVER_IO_URING (and
 * INIT_EXT, which carries flags2) when agreed. */
void gf_uring_patch_init(uint32_t *flags, uint32_t *flags2);

/* Once the kernel took our INIT reply: start the rings (when agreed).
 * Failures are logged; the mount then stays on /dev/fuse. */
void gf_uring_start(int devfd);

/* A reply libfuse is sending (iov[0] the fuse_out_header): when it
 * answers a request that came over a ring, it goes there and this
 * returns the bytes taken (or -errno); otherwise -ENOENT: not ours. */
ssize_t gf_uring_reply(const struct iovec *iov, int count);

/* From a handler about to wait long (a lock wait), whose reply another
 * thread will send: the entry stays with that request, and the queue gets
 * a new entry meanwhile (so that the request that ends the wait, from
 * the same CPU, is not held behind it). The token goes to the thread that
 * replies, which calls gf_uring_adopt(token) before its reply. NULL when
 * the request did not come over a ring (nothing to do). */
void *gf_uring_detach(void);
void gf_uring_adopt(void *token);

/* After the loop ended (the kernel ends the rings at unmount): wait for
 * the ring threads. */
void gf_uring_stop(void);

/* For the stats xattr: gf_uring_agreed() says at once (the kernel's
 * INIT came before any request) whether the rings will come; active is 1
 * once every queue had an entry registered, a moment after INIT;
 * requests served over the rings; the threads serving them; requests
 * detached to wait. */
int gf_uring_active(void);
void gf_uring_stats(uint64_t *requests, unsigned *threads, uint64_t *detached);

#endif
