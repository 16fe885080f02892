/*
 * memguard.h — checking a replica's mapped pages without dying of it.
 *
 * A replica mapped into memory (readpin.h) can be cut short under the
 * mapping: a writer on another mount truncates it through gfsd. Touching a
 * mapped page past the file's new end raises SIGBUS, which would kill the
 * mount. memguard_csum_check reads such a mapping with that SIGBUS turned
 * into -EFAULT for its caller. Any other SIGBUS goes to the handler there
 * was before memguard_init (by default the process dies, as it would have).
 *
 * Thread-safe.
 */
#ifndef GF_FUSE_MEMGUARD_H
#define GF_FUSE_MEMGUARD_H

#include <stddef.h>
#include <stdint.h>

/* Install the SIGBUS handler (once; later calls do nothing). 0 or -errno. */
int memguard_init(void);

/* gf_csum_check (csum.h) of the len bytes mapped at mem, blocks from first
 * on, against want[]: 0 when every block matches, 1 when one does not,
 * -EFAULT when the mapping was cut short under the read (or memguard_init
 * was not called). */
int memguard_csum_check(const void *mem, size_t len, uint64_t first, const uint64_t *want);

#endif
