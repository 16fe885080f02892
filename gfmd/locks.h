/*
 * locks.h — file locks for the whole cluster, in gfmd's memory: POSIX
 * record locks (fcntl F_GETLK/F_SETLK/F_SETLKW) and flock() locks, with the
 * semantics Linux gives them on a local file system.
 *
 * An owner is (client, owner): client is a mount's id (its gfmd sessions),
 * owner the kernel's lock owner — per process for POSIX locks, per open
 * file for flock locks. The two kinds never conflict with each other, as
 * on Linux. A POSIX lock covers bytes [start, end] (end UINT64_MAX: to the
 * end of the file, however long it grows); an owner's own locks never
 * conflict and are merged, split and converted as fcntl does. flock locks
 * cover the whole file, one per owner, converted in place.
 *
 * Waiting (F_SETLKW, flock without LOCK_NB): a request that conflicts waits
 * in arrival order per file and is granted as soon as it no longer
 * conflicts; -EDEADLK instead of waiting when the owners it waits for wait,
 * directly or in a chain, for it (POSIX locks, as the kernel does).
 *
 * Locks live as long as their client keeps a connection to gfmd: when a
 * client's last connection closes (the mount died or lost gfmd), its locks
 * are released and its waits cancelled. A gfmd restart releases every lock
 * (they are not stored): applications that held one carry on unlocked, as
 * with NFSv3 without lock recovery.
 *
 * Thread-safe: one mutex; callbacks run outside it.
 */
#ifndef GF_LOCKS_H
#define GF_LOCKS_H

#include <stdint.h>

#define GF_LOCK_UNLCK 0
#define GF_LOCK_RDLCK 1
#define GF_LOCK_WRLCK 2

enum gf_lock_kind { GF_LOCK_POSIX = 1, GF_LOCK_FLOCK = 2 };

struct gf_lock {
	uint64_t client, owner;
	uint32_t pid;	 /* of the process that took it (shown by F_GETLK) */
	uint8_t kind;	 /* gf_lock_kind */
	uint8_t type;	 /* GF_LOCK_RDLCK, GF_LOCK_WRLCK, GF_LOCK_UNLCK */
	uint64_t start, end; /* inclusive; flock: 0, UINT64_MAX */
};

struct gf_locks;

/* Called once for a waiting request: 0 (granted), -EDEADLK, -EINTR
 * (cancelled) or -ENOLCK (its client went away). */
typedef void (*gf_lock_done_fn)(void *arg, int status);

struct gf_locks *gf_locks_new(void);
void gf_locks_free(struct gf_locks *lk);

/* F_GETLK: 0 and in *conflict a lock that would block want (type
 * GF_LOCK_UNLCK when none would). -EINVAL for a bad range or type. */
int gf_locks_test(struct gf_locks *lk, uint64_t ino, const struct gf_lock *want,
		  struct gf_lock *conflict);
/*
 * F_SETLK (wait == 0): apply want (GF_LOCK_UNLCK releases), or -EAGAIN.
 * F_SETLKW (wait != 0): apply now and return 0, or queue it and return 1:
 * done(arg, status) is called later, exactly once, from another thread
 * (or -EDEADLK at once). -EINVAL for a bad range or type, -ENOMEM.
 */
int gf_locks_set(struct gf_locks *lk, uint64_t ino, const struct gf_lock *want, int wait,
		 gf_lock_done_fn done, void *arg);
/* Cancel the waiting requests of (client, owner) on ino: their done gets
 * -EINTR (an interrupted F_SETLKW). */
void gf_locks_cancel(struct gf_locks *lk, uint64_t ino, uint64_t client, uint64_t owner);
/* A client's sessions: locks of a client whose count drops to 0 are
 * released and its waits get -ENOLCK. */
void gf_locks_client_up(struct gf_locks *lk, uint64_t client);
void gf_locks_client_down(struct gf_locks *lk, uint64_t client);
/*
 * client has just taken a lock on ino: 1 when another client took one there
 * since client's last (or that cannot be told: the record is a bounded
 * table), so what client caches of the file may be stale; 0 when client
 * was the last to lock it. Records client as the last.
 */
int gf_locks_others(struct gf_locks *lk, uint64_t ino, uint64_t client);
/* An inode that is gone: its locks and waits go (waits get -ENOLCK). */
void gf_locks_forget(struct gf_locks *lk, uint64_t ino);

#endif
