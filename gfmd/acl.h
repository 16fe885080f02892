/*
 * acl.h — POSIX access control lists, as ext4 keeps and checks them.
 *
 * An ACL travels and is stored in the kernel's xattr form (the values of
 * system.posix_acl_access and system.posix_acl_default): a little-endian
 * u32 version (2), then entries of {u16 tag, u16 perm, u32 id}. Ids are
 * gfmd's global uids and gids (a mount translates them, lib/idmap.h).
 *
 * A valid ACL has exactly one USER_OBJ, GROUP_OBJ and OTHER entry, named
 * USER and GROUP entries with distinct ids, a MASK exactly when it has named
 * entries, perms within rwx, and entries in ascending (tag, id) order —
 * what setfacl sends and what the kernel's posix_acl_valid() accepts.
 *
 * Pure functions, no locks: the namespace calls them under its own.
 */
#ifndef GF_ACL_H
#define GF_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define GF_ACL_ACCESS "system.posix_acl_access"
#define GF_ACL_DEFAULT "system.posix_acl_default"

enum gf_acl_tag {
	GF_ACL_USER_OBJ = 0x01,
	GF_ACL_USER = 0x02,
	GF_ACL_GROUP_OBJ = 0x04,
	GF_ACL_GROUP = 0x08,
	GF_ACL_MASK = 0x10,
	GF_ACL_OTHER = 0x20,
};

#define GF_ACL_MAX_ENTRIES 1024 /* more than ext4 fits in a block */

struct gf_acl_entry {
	uint16_t tag;
	uint16_t perm; /* 4 read, 2 write, 1 execute */
	uint32_t id;   /* USER and GROUP entries only */
};

struct gf_acl {
	uint32_t n;
	struct gf_acl_entry e[GF_ACL_MAX_ENTRIES];
};

/* Parse and validate an xattr value: 0, or -EINVAL. */
int gf_acl_parse(const void *buf, size_t len, struct gf_acl *acl);
/* Encode into buf (4 + 8 × n bytes; size checked): the length or -ERANGE. */
int gf_acl_encode(const struct gf_acl *acl, void *buf, size_t size);
/* Bytes gf_acl_encode needs. */
size_t gf_acl_size(const struct gf_acl *acl);

/* Whether cr may do mask (4/2/1 bits) to a file with this ACL, owned by
 * owner:group: 0 or -EACCES (root is not special here). */
int gf_acl_permission(const struct gf_acl *acl, const struct gf_cred *cr, uint32_t owner,
		      uint32_t group, int mask);
/*
 * The permission bits (0777) an ACL implies, with *equiv set when it is no
 * more than those bits (only the three base entries): such an ACL is not
 * stored, a chmod says it all.
 */
uint32_t gf_acl_mode(const struct gf_acl *acl, int *equiv);
/* chmod of a file with an ACL: its owner, group (the mask when it has one)
 * and other entries take the new bits, as posix_acl_chmod does. */
void gf_acl_chmod(struct gf_acl *acl, uint32_t mode);
/*
 * A new inode under a directory with default ACL dflt: *acl becomes its
 * access ACL (the default with the requested mode's bits applied, as
 * posix_acl_create does) and *mode (0777 bits, no umask) is cut to match.
 * Returns 1 when the access ACL says more than the mode bits (store it).
 */
int gf_acl_inherit(const struct gf_acl *dflt, uint32_t *mode, struct gf_acl *acl);

#endif
