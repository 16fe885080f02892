/*
 * passthrough.h — FUSE passthrough for mount.gfarmfs, through libfuse 3.14.
 *
 * The kernel (6.9 and later) can send a file's reads and writes straight to
 * a "backing" file the FUSE server names at open, with no READ or WRITE
 * request: as fast as the local disk (DESIGN-NOTES, "The data path's gap").
 * libfuse 3.14 does not know the feature, so this module speaks it on the
 * wire itself, through the session's custom io (fuse_session_custom_io):
 *
 * - the read hook sees the kernel's INIT and whether it offers
 *   FUSE_PASSTHROUGH (flags2 bit 5);
 * - the writev hook adds FUSE_PASSTHROUGH (and max_stack_depth 1) to our
 *   INIT reply, and FOPEN_PASSTHROUGH with a backing id to the one OPEN or
 *   CREATE reply the calling thread armed (gf_pt_arm);
 * - backing ids come from the /dev/fuse ioctls FUSE_DEV_IOC_BACKING_OPEN
 *   and _CLOSE (root only: CAP_SYS_ADMIN).
 *
 * Splicing is kept as it was (hooks that call splice(2)). Everything here
 * is thread-safe. If the kernel does not offer passthrough, or it was
 * turned off, gf_pt_enabled() stays 0 and the mount works as before.
 */
#ifndef GF_FUSE_PASSTHROUGH_H
#define GF_FUSE_PASSTHROUGH_H

#include "ops.h"

/* Take over the session's io on its /dev/fuse fd (after fuse_session_mount,
 * before the loop). want: 0 never asks the kernel for passthrough. 0 or
 * -errno (the mount then runs without it). */
int gf_pt_install(struct fuse_session *se, int want);

/* Run fn(arg) once, right after the kernel took our INIT reply (from the
 * thread that sent it): for settings INIT would undo. Before the loop. */
void gf_pt_after_init(void (*fn)(void *), void *arg);

/* 1 once INIT agreed on passthrough. */
int gf_pt_enabled(void);

/* Register fd (an open regular file) as a backing file: an id > 0, or
 * -errno (EPERM without CAP_SYS_ADMIN, ELOOP/EINVAL for a file the kernel
 * cannot stack on). The kernel holds its own reference to the file. */
int gf_pt_backing_open(int fd);
/* Forget id (files already opened with it keep their backing file). */
void gf_pt_backing_close(int id);

/* The next OPEN or CREATE reply this thread sends carries FOPEN_PASSTHROUGH
 * with backing id id; gf_pt_disarm after the reply, whatever happened. */
void gf_pt_arm(int id);
void gf_pt_disarm(void);

/* Counters for the stats xattr: replies sent with passthrough, backing
 * files registered, and backing registrations the kernel refused. */
void gf_pt_stats(uint64_t *opens, uint64_t *backings, uint64_t *refused);

#endif
