/*
 * sealer.h — seals replicas in the background (sums.h), so that the close
 * of a replica's last writer does not wait while its checksums are computed.
 *
 * Sealing reads the whole replica: tens of milliseconds for a few hundred
 * megabytes, seconds for a large file. Done in GFS_CLOSE it held the
 * closing connection's thread, and a mount's next request on that
 * connection (an open, a read of another file) queued behind it.
 *
 * The caller hands over a job: (ino, fgen) and a duplicate of the replica's
 * fd, which the sealer owns from then on. The job runs the function given
 * to sealer_start on one of the sealer's threads, oldest first. What makes
 * this safe is not here but in replicas.h: until the job called
 * replicas_writer_ready(), the replica's writer entry stays "checking", so
 * a new writer waits (no sums are ever computed over data being changed),
 * a copy (which compares every block) waits with replicas_wait_sealed(),
 * and a reader reads unchecked meanwhile and asks again at its next read
 * (GFS_SUMS "pending"): the data was written a moment ago, and the first
 * read after the seal is checked.
 *
 * gate (a test knob, NULL in service): while a file exists at that path,
 * jobs wait (looked at every SEALER_GATE_POLL_MS), so that a test can hold
 * a seal pending for as long as it needs and then let it go, whatever the
 * machine's speed.
 *
 * sealer_stop() runs every job still queued (told it is the last run),
 * then joins the threads: a gfsd that stops leaves no job behind.
 * Thread-safe.
 */
#ifndef GFSD_SEALER_H
#define GFSD_SEALER_H

#include <stdint.h>

struct sealer;

#define SEALER_GATE_POLL_MS 20

/*
 * What a job does. It returns 0 once done: it closed *fd and ended with
 * replicas_writer_ready(). Or it returns a delay in milliseconds: the job
 * goes back in the queue and runs again after it (with *fd, which the
 * function may have replaced, and tries one more), while jobs behind it
 * run. last: the sealer is stopping, the job must finish now.
 */
typedef unsigned (*sealer_fn)(void *arg, uint64_t ino, uint64_t fgen, int *fd,
			      unsigned tries, int last);

/* threads ≥ 1. 0 or -errno. */
int sealer_start(sealer_fn fn, void *arg, unsigned threads, const char *gate,
		 struct sealer **out);
/* Queue a job (fd is the sealer's from now on, also when this fails: it is
 * then closed). 0, or -ENOMEM / -ESHUTDOWN: nothing was queued, the caller
 * seals the replica itself, from its own fd. */
int sealer_submit(struct sealer *s, uint64_t ino, uint64_t fgen, int fd);
/* Jobs queued or running now. */
uint64_t sealer_pending(struct sealer *s);
/* Run what is queued, join the threads, free s (NULL: nothing). */
void sealer_stop(struct sealer *s);

#endif
