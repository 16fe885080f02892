/*
 * files.h — open-file state of mount.gfarmfs.
 *
 * A struct gf_file lives in fi->fh from open/create to release. It holds the
 * open replica (local fd or remote gfsd handle), the size as this client
 * knows it, the end of the furthest byte written through it (wend: what
 * GFM_CLOSE_WRITE reports, gfmd keeping max(size, wend)), and whether data
 * was written since the last GFM_CLOSE_WRITE. Every open handle is listed
 * per inode, so that getattr can report the size and mtime of this client's
 * own unflushed writes (close-to-open consistency: other clients see them
 * after close), and fstat of a file unlinked while open still answers.
 *
 * The replica is opened lazily: a writer keeps the replica gfmd named
 * (wrep) and opens it on its first write, truncate, fsync or read of data
 * it needs, so a file created and closed without data costs gfsd nothing
 * (and no replica file exists until data does). A reader of a file that
 * was empty at open opens it only if a read below the size it sees needs
 * data (a writer on this client made it grow). has_data says whether
 * data is open; it is set with release order once data is usable.
 *
 * f->lock protects size, mtime, dirty and the data handle's use for
 * truncate; reads and writes themselves run in parallel (pread/pwrite on the
 * fd, multiplexed RPC otherwise) and only take the lock to update size/dirty.
 * f->data_lock is held shared by reads while they use the data handle and
 * exclusively to replace it, when a reader's gfsd failed and another replica
 * (or the same gfsd, reconnected) takes over; data_epoch counts those
 * replacements so concurrent readers that saw the same failure reopen once.
 */
#ifndef GF_FUSE_FILES_H
#define GF_FUSE_FILES_H

#include <pthread.h>
#include <stdint.h>

#include "client.h"
#include "proto.h"

struct gf_file {
	uint64_t ino;
	uint64_t fgen;	     /* the replica's file generation (gf_replica) */
	int writable;
	int gfm_writer;	     /* gfmd counts this handle a writer: GFM_RELEASE */
	int released;	     /* a close waited for the copies (ncopy_wait): the
				writer let go of its replica and gfmd; a later
				write opens the file for writing again */
	int append;	     /* O_APPEND: writes land at the replica's end */
	int kill_suid;	     /* a non-root writer of a setuid/setgid file: the
				first write clears the bits (GF_SET_KILL_SUID) */
	int has_data;	     /* 0: no replica opened (yet) */
	struct gfc_data data;
	struct gf_replica wrep; /* writers: the replica to open on demand */
	uint32_t dflags;	/* writers: GFS_O_* to open it with */
	struct gf_cred cred; /* the opener's, for GFM_CLOSE_WRITE at release */
	struct gf_attr attr; /* as gfmd gave it at open: fstat after unlink */

	pthread_rwlock_t data_lock;
	unsigned data_epoch;
	/* replicas whose data failed its checksum for this reader: not
	 * opened again by it (gfmd hears of them from gfsd) */
	uint64_t bad_fgen[GF_MAX_REPLICAS];
	uint32_t nbad;

	pthread_mutex_t lock;
	uint64_t size;		 /* file size as this handle sees it */
	uint64_t wend;		 /* end of the furthest byte written through it */
	struct gf_timespec mtime; /* of the last write through this handle */
	int dirty;		 /* written since the last GFM_CLOSE_WRITE */
	int blocks_dirty;	 /* data changed since st_blocks was last told */
	int mtime_dirty;	 /* mtime is the last write's: not set since */
	pthread_mutex_t publish_lock; /* held across a GFM_CLOSE_WRITE: a close
					 waits for one in flight */
	uint64_t published_ms;	 /* CLOCK_MONOTONIC ms of the last growth told */
	uint64_t published_end;	 /* the end it told */
	int sole;		 /* writers: the file's only writer when opened */
	int pub_valid;		 /* pub holds gfmd's reply to a GFM_CLOSE_WRITE */
	struct gf_attr pub;	 /* the file as the last GFM_CLOSE_WRITE left it */

	/*
	 * Passthrough (passthrough.h): the kernel reads and writes this
	 * handle's file straight through backing id pt_id (0: not), sharing
	 * it with every handle of the inode open on this mount meanwhile (the
	 * kernel refuses an inode both cached and passed through). No WRITE
	 * request comes: a writer's size, mtime and dirtiness are read from
	 * the replica (pt_fd, the read-only descriptor registered as the
	 * backing file, or a duplicate of it)
	 * by gf_file_pt_sync. Under lock: pt_size, pt_mtime (the replica as
	 * last seen), pt_counted (bytes counted as written locally).
	 */
	int pt_id;
	int pt_fd;
	int pt_writer;
	uint64_t pt_size, pt_counted, pt_grew; /* pt_grew: not yet counted */
	struct gf_timespec pt_mtime;
	/* a reader passing through to a checked, pinned replica (readpin.h),
	 * or a handle that joined one: the pin it holds until freed */
	struct gf_pin *pin;
	uint64_t seq_end; /* where this handle's last checked read ended */

	struct gf_file *next_open; /* per-inode list of open handles (files.c) */
	unsigned refs;		   /* gf_files_growing's: gf_file_free waits */
};

struct gf_file *gf_file_new(uint64_t ino, uint64_t fgen, int writable,
			    const struct gf_cred *cred);
/* Frees f (the data handle must already be closed); unlists it. Waits for
 * a reader still holding data_lock after its reply (RELEASE may overtake
 * it): no thread may use f after it lets go of data_lock or f->refs. */
void gf_file_free(struct gf_file *f);

/* Listed as an open handle of f->ino until gf_file_free. */
void gf_files_add(struct gf_file *f);
/* How many handles are listed now (the stats' open_files: a test waits for
 * the kernel's RELEASEs, which come after close(2) returns). */
uint64_t gf_files_open_count(void);
/*
 * If this client has ino open for writing: 1 with the largest wend among
 * its writers (what gfmd's size will be at least once they close) and,
 * when one of them wrote since the mtime was last set, the newest mtime of
 * those writes (*have_mtime set to 1). 0 when no writer.
 */
int gf_files_writer_attr(uint64_t ino, uint64_t *wend, struct gf_timespec *mtime,
			 int *have_mtime);
/* 1 while this client has a handle open on ino */
int gf_files_is_open(uint64_t ino);
/* The attributes of ino as an open handle of this client last saw them
 * (gfmd forgets a file unlinked while open): 1 and *a, or 0. */
int gf_files_open_attr(uint64_t ino, struct gf_attr *a);
/* A truncate of ino to size happened: every handle's size follows it. */
void gf_files_truncated(uint64_t ino, uint64_t size);
/* ino's mtime was set explicitly (utimensat): writes before it no longer
 * decide the mtime their handle reports at close. */
void gf_files_mtime_set(uint64_t ino);

/*
 * Up to max open writers whose furthest byte is past what they last told
 * gfmd (published_end), each with a reference: gf_file_unref each. A handle
 * being freed waits for its references to go.
 */
size_t gf_files_growing(struct gf_file **out, size_t max);
/*
 * Up to max inodes this client has open for reading only (no handle of
 * this client writes them), each once, going on from *cursor (a position
 * this call keeps: successive calls cover every such inode in turn).
 */
size_t gf_files_readers(uint64_t *out, size_t max, size_t *cursor);
void gf_file_unref(struct gf_file *f);

/* Data of f changed other than by a write (fallocate): the size grows to
 * end if larger (0: it does not), the mtime moves if data_changed. */
void gf_file_changed(struct gf_file *f, uint64_t end, int data_changed);

/*
 * Passthrough at open, for f (listed, not yet replied to): if another
 * handle of f->ino open on this mount passes through, f shares its backing
 * id; else if f is the inode's only open handle and fd >= 0 (a local
 * replica that f writes), fd is registered as a new backing file. Sets
 * f->pt_id (0: none), f->pt_fd and f->pt_writer (f->writable). 0, or
 * -errno when f must share a backing but cannot (its descriptor could not
 * be duplicated).
 */
int gf_files_pt_join(struct gf_file *f, int fd);
/* Whether f (listed) could pass through now: GF_PT_ALONE, it is its
 * inode's only open handle here; GF_PT_JOIN, another passes through (f
 * must too); GF_PT_NO. Every handle is listed before it decides, so no
 * passthrough can start for an inode while f is listed unless f sees it. */
enum { GF_PT_NO, GF_PT_ALONE, GF_PT_JOIN };
int gf_files_pt_possible(const struct gf_file *f);
/* The same, after waiting up to ms for f's inode's other handles here to
 * go while they are all readers (the kernel sends a closed file's RELEASE
 * after close(2) returned: a re-read opens before it lands). */
int gf_files_pt_wait_alone(const struct gf_file *f, int ms);
/* A passthrough writer: note what the kernel wrote for it since the last
 * look, from the replica's size and mtime (as gf_file_wrote would: size,
 * wend = the replica's size now, mtime = the replica's, dirty), and add
 * what the replica grew by to pt_grew, for the local-bytes counters
 * (rewrites in place are not counted: the kernel does not say). No-op for
 * other handles. Without f->lock held. */
void gf_file_pt_sync(struct gf_file *f);

/* Note a write of len bytes at off through f (size, mtime, dirty). */
void gf_file_wrote(struct gf_file *f, uint64_t off, uint64_t len);

#endif
