/*
 * changes.h — the row changes a mutation asks the durable store to make.
 *
 * The namespace and the host registry change memory first and describe what
 * they did as a list of row changes (upserts and deletes of whole rows, so
 * that replaying a list twice leaves the same rows). The list is handed to a
 * sink (the store, see store.h) while the caller still holds the lock that
 * protects the state it describes, so lists reach the store in the order the
 * memory changed. The sink takes the list's contents and returns a ticket:
 * the reply to the mutation may be sent once that ticket is committed.
 */
#ifndef GF_CHANGES_H
#define GF_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "wire.h"

enum gf_change_kind {
	GF_CHG_INODE_PUT = 1, /* attr + symlink target (blob) */
	GF_CHG_INODE_DEL,     /* a = ino; also drops its xattrs */
	GF_CHG_DIRENT_PUT,    /* a = parent, b = ino, c = cookie, name */
	GF_CHG_DIRENT_DEL,    /* a = parent, name */
	GF_CHG_XATTR_PUT,     /* a = ino, name, blob = value */
	GF_CHG_XATTR_DEL,     /* a = ino, name */
	GF_CHG_REPLICA_PUT,   /* a = ino, b = host_id, c = gen, d = fgen */
	GF_CHG_REPLICA_DEL,   /* a = ino, b = host_id */
	GF_CHG_DEAD_PUT,      /* a = ino, b = host_id, c = fgen (the file) */
	GF_CHG_DEAD_DEL,      /* a = ino, b = host_id, c = fgen */
	GF_CHG_HOST_PUT,      /* host */
	GF_CHG_NEXT_INO,      /* a = next inode number to hand out */
	GF_CHG_IDMAP_PUT,     /* a = kind (gf_idmap_kind), b = id, name; replaces
				 any row of that kind with that name or id */
	GF_CHG_IDMAP_DEL,     /* a = kind, b = id, name */
	GF_CHG_ONCE_PUT,      /* a = client, b = seq, c = ino, d = op, with
				 GF_ONCE_CREATED when it created inode c: a
				 GFM_ONCE request succeeded (gf_changes_once) */
	GF_CHG_ONCE_DEL,      /* a = client, b = seq, c = after: forget that
				 client's records with c < seq ≤ b (c = 0,
				 b = INT64_MAX: all) */
};

/*
 * An exactly-once request (proto.h GFM_ONCE, gfmd/once.h). A mutation run
 * for one records its success in its own change list, so the record is
 * committed exactly when the mutation is: a resent copy found recorded is
 * answered, not applied again, even after a crash of gfmd.
 */
struct gf_once_id {
	uint64_t client;
	uint64_t seq;
	uint16_t op;
	/* what the mutation recorded (set by gf_changes_once) */
	uint64_t ino;	 /* the inode it created, linked or opened; 0: none */
	uint8_t created; /* it made ino (for a CREATE: its open was granted) */
};
#define GF_ONCE_CREATED (1u << 16) /* in GF_CHG_ONCE_PUT's d */

struct gf_change_host {
	uint32_t host_id;
	char name[GF_HOST_MAX + 1];
	char addr[GF_HOST_MAX + 1];
	uint16_t port;
	uint64_t capacity, free;
	uint8_t draining;
};

struct gf_change {
	enum gf_change_kind kind;
	uint64_t a, b, c, d;
	struct gf_attr attr;	    /* INODE_PUT */
	struct gf_change_host host; /* HOST_PUT (only there; kept small otherwise) */
	char *name;		    /* owned; bytes without NUL, name_len long */
	uint32_t name_len;
	uint8_t *blob;		    /* owned */
	uint32_t blob_len;
	int has_blob;		    /* blob is a value (maybe empty), not NULL */
};

struct gf_changes {
	struct gf_change *v;
	size_t n, cap;
	int err; /* sticky -ENOMEM */
};

/* Takes the contents of chg (leaving it empty) and returns a ticket > 0. */
typedef uint64_t (*gf_sink_fn)(void *arg, struct gf_changes *chg);

void gf_changes_init(struct gf_changes *c);
void gf_changes_free(struct gf_changes *c);
/* Append a change; name/blob are copied. Returns the new element or NULL
 * (then c->err is -ENOMEM). */
struct gf_change *gf_changes_add(struct gf_changes *c, enum gf_change_kind kind,
				 uint64_t a, uint64_t b, uint64_t cc,
				 const char *name, size_t name_len,
				 const void *blob, size_t blob_len, int has_blob);
/* Append GF_CHG_ONCE_PUT for once (nothing when once is NULL) and note in
 * once what it says: ino is the inode the mutation created, linked or
 * opened, 0 for none; created whether it created it. */
void gf_changes_once(struct gf_changes *c, struct gf_once_id *once, uint64_t ino, int created);
/* Move all of src to the end of dst (src becomes empty). 0 or -ENOMEM. */
int gf_changes_move(struct gf_changes *dst, struct gf_changes *src);

/*
 * A change list as bytes (gfmd's journal, journal.h): u32 count, then per
 * change u8 kind, u64 a b c d, the attributes (INODE_PUT) or the host
 * (HOST_PUT), the name (u8 present, bytes) and the blob (u8 present,
 * bytes). Encoding appends to w (w->err on failure). Decoding appends to
 * out and returns 0, or -EINVAL for bytes that are not such a list (out
 * then holds what came before the fault; the caller frees it).
 */
void gf_changes_encode(struct gf_wbuf *w, const struct gf_changes *c);
int gf_changes_decode(struct gf_rbuf *r, struct gf_changes *out);

#endif
