/*
 * readpin.h — local replicas checked once and pinned in memory, so that a
 * reader can pass through to them (passthrough.h) without a read that
 * escapes its checksums.
 *
 * Why: a read through the mount lands in the FUSE file's page cache, which
 * this kernel keeps in 4 KiB folios: a warm re-read of 1 GiB ran at 7–11
 * GB/s against ext4's 17–20 GB/s (large folios). A passthrough reader reads
 * the replica's own page cache at ext4's speed, but the kernel would read
 * any block it lacks from disk with no checksum. So a replica passes
 * through to a reader only while every one of its blocks is in memory,
 * locked there (mlock: never evicted, so never read from disk again), and
 * was checked against its sum when it was read in — as HDFS clients skip
 * checksums for blocks its DataNodes cache, checked and mlocked.
 *
 * How a replica gets there: each checked local read (gfc_data_read_checked)
 * first locks the 64 KiB blocks it covers (readpin_lock: mlock of a shared
 * read-only mapping, which reads in what is missing), then reads and checks
 * them as usual; checked, they are marked (readpin_verified). Blocks read
 * from disk in between cannot go unchecked: they were locked before the
 * read that checked them, so what was checked is what stays in memory.
 * Once every block is marked, readpin_whole lets a reader's open pass
 * through, holding the pin until its release.
 *
 * Limits: replicas of at least 1 MiB; the bytes locked stay under the
 * budget (readpin_init), pins no open handle holds going first, oldest
 * use first; at most 1024 replicas. A sweeper drops unheld pins whose
 * replica changed (size, mtime or ctime: written, or flipped in place) or
 * was deleted, and every unheld pin while the host is short of memory
 * (MemAvailable under min_free_pct of MemTotal, readpin_init). A pin
 * whose read failed its check is dropped (readpin_bad). A replica changed
 * while a pin is held is noticed at the next lock or open, which then
 * refuses it.
 *
 * Thread-safe.
 */
#ifndef GF_FUSE_READPIN_H
#define GF_FUSE_READPIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct gf_pin;

/* budget: bytes that may be locked (0: off; every call below then does
 * nothing). min_free_pct: while MemAvailable is under that percent of
 * MemTotal, the sweeper drops pins no open handle holds (0 to 100).
 * Starts the sweeper. 0 or -errno. */
int readpin_init(uint64_t budget, unsigned min_free_pct);
/* Stop the sweeper and drop every pin (at unmount). */
void readpin_shutdown(void);

/* Before a checked read of [off, off+len) of replica fd (file ino,
 * generation fgen): lock the blocks it touches. A pin reference to give to
 * readpin_verified or readpin_bad and then readpin_put, or NULL (too small,
 * over budget, changed, or mlock refused: read unpinned). */
struct gf_pin *readpin_lock(uint64_t ino, uint64_t fgen, int fd, uint64_t off, size_t len);
/* Where bytes [a, b) of p's replica are mapped (read-only; the pages
 * readpin_lock locked stay there while p is held), or NULL when they are
 * past the size it was pinned at. Read them through memguard.h: the file
 * can still be cut short under the mapping. */
const char *readpin_addr(struct gf_pin *p, uint64_t a, uint64_t b);
/* The checked read of [off, off+len) through p's replica matched its sums. */
void readpin_verified(struct gf_pin *p, uint64_t off, size_t len);
/* A read through p's replica failed its check: drop the pin. */
void readpin_bad(struct gf_pin *p);
void readpin_put(struct gf_pin *p);

/* 1 when ino has a pin that every block of replica generation fgen is in
 * (a cheap look before opening the replica). */
int readpin_maybe_whole(uint64_t ino, uint64_t fgen);
/* A reference to the whole, checked pin of replica fd (ino, fgen), if fd is
 * that replica and it has not changed since it was pinned; else NULL. */
struct gf_pin *readpin_whole(uint64_t ino, uint64_t fgen, int fd);
/*
 * A replica with no sums yet (just written, not sealed: its reads are
 * unchecked anyway, README "Checksums") locked whole in memory, for a
 * reader to pass through to: then no block it reads comes from disk, even
 * once the replica is sealed meanwhile. A reference, or NULL (too small,
 * over budget, pinned already, or mlock refused). Dropped when unheld.
 */
struct gf_pin *readpin_unsealed(uint64_t ino, uint64_t fgen, int fd);
/* 1 when a replica of size bytes may be pinned at all (pinning is on, and
 * the size is from 1 MiB to the budget): a cheap look before the others. */
int readpin_fits(uint64_t size);
/* 1 when replica fd (at least 1 MiB, at most max bytes and the budget) is
 * wholly in the page cache (cachestat): checking it whole costs no disk
 * read. 0 otherwise, or when the kernel cannot tell. */
int readpin_resident(int fd, uint64_t max);
/*
 * A writer through this mount let go of replica (ino, fgen), whose state
 * (fstat) is st: the replica as its last write left it.
 */
void readpin_written(uint64_t ino, uint64_t fgen, const struct stat *st);
/*
 * 1 when replica fd (ino, fgen) is, by fstat, exactly as a writer through
 * this mount left it (readpin_written: nothing wrote it since, not even
 * outside gfarmfs: its change time would have moved), size bytes long, and
 * every page of it is in the page cache and dirty (cachestat): none was
 * written back, so none was read from disk since it was written. A seal
 * after that writer computed its sums from those very pages, so checking
 * them finds nothing. Lock them first: then they stay so while held. 0
 * otherwise, or when the kernel cannot tell.
 */
int readpin_unwritten(int fd, uint64_t ino, uint64_t fgen, uint64_t size);
/* Another reference to p (a handle that joins a pinned passthrough). */
void readpin_ref(struct gf_pin *p);

/* For the stats attribute: pins, bytes locked, whole pins, opens given
 * through checked pins and through unsealed ones. */
void readpin_stats(uint64_t *pins, uint64_t *locked, uint64_t *whole, uint64_t *opens,
		   uint64_t *unsealed_opens);

#endif
