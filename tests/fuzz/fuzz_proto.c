/*
 * fuzz_proto.c — libFuzzer target for every message decoder in proto.h.
 *
 * Input: one selector byte (taken modulo the number of messages, in the
 * order of the GF_CODEC list in proto.h), then the payload. A decoder must
 * return 0 or -EBADMSG (-ENOMEM for those that allocate), never crash or
 * read outside the payload, and leave nothing to free when it fails. A
 * payload that decodes must encode cleanly back to the same bytes, and that
 * encoding must decode and re-encode to itself: encode(decode(x)) is a fixed
 * point.
 *
 * Seeds: tests/fuzz/corpus/proto/ (regenerate with
 * `tests/unit/check_proto --corpus DIR`).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct codec {
	const char *name;
	size_t size;
	void (*enc)(struct gf_wbuf *w, const void *m);
	int (*dec)(const void *p, size_t n, void *m);
	void (*fini)(void *m);
};

static void fini_readdir(void *m)
{
	gfm_readdir_rep_free(m);
}

static void fini_host_list(void *m)
{
	gfm_host_list_rep_free(m);
}

static void fini_idmap_list(void *m)
{
	gfm_idmap_list_rep_free(m);
}

static void fini_host_replicas(void *m)
{
	gfm_host_replicas_rep_free(m);
}

static void fini_list(void *m)
{
	gfs_list_rep_free(m);
}

static void fini_page_updates(void *m)
{
	gfs_page_updates_rep_free(m);
}

static void fini_sums(void *m)
{
	gfs_sums_rep_free(m);
}

/*
 * Same order as the codec table of tests/unit/check_proto.c, which writes
 * the seeds: the selector byte indexes it (and the seed files start with
 * that index). The second column frees what
 * a successful decode allocated.
 */
#define MESSAGES(X)                                                     \
	X(gf_msg_hello, NULL) X(gf_msg_auth, NULL)                      \
	X(gf_msg_auth_ok, NULL) X(gfm_name_req, NULL)                   \
	X(gfm_ino_req, NULL) X(gfm_attr_rep, NULL)                      \
	X(gfm_setattr_req, NULL) X(gfm_mknod_req, NULL)                 \
	X(gfm_create_req, NULL) X(gfm_open_rep, NULL)                   \
	X(gfm_rename_req, NULL) X(gfm_link_req, NULL)                   \
	X(gfm_symlink_req, NULL) X(gfm_readlink_rep, NULL)              \
	X(gfm_readdir_req, NULL) X(gfm_readdir_rep, fini_readdir)       \
	X(gfm_open_req, NULL) X(gfm_close_write_req, NULL)              \
	X(gfm_statfs_rep, NULL) X(gfm_xattr_req, NULL)                  \
	X(gfm_xattr_rep, NULL) X(gfm_access_req, NULL)                  \
	X(gfm_host_register_req, NULL) X(gfm_host_register_rep, NULL)   \
	X(gfm_heartbeat_req, NULL) X(gfm_heartbeat_rep, NULL)           \
	X(gfm_host_list_rep, fini_host_list)                            \
	X(gfm_host_replicas_req, NULL)                                  \
	X(gfm_host_replicas_rep, fini_host_replicas)                    \
	X(gfm_idmap_list_rep, fini_idmap_list)                          \
	X(gfm_idmap_set_req, NULL) X(gfm_idmap_del_req, NULL)           \
	X(gfs_open_req, NULL) X(gfs_open_rep, NULL)                     \
	X(gfs_read_req, NULL) X(gfs_read_rep, NULL)                     \
	X(gfs_write_req, NULL) X(gfs_write_rep, NULL)                   \
	X(gfs_truncate_req, NULL) X(gfs_handle_req, NULL)               \
	X(gfs_close_req, NULL) X(gfs_stats_rep, NULL)                   \
	X(gfm_once_req, NULL) X(gfm_lock_req, NULL)                    \
	X(gfm_lock_rep, NULL) X(gfs_fallocate_req, NULL)               \
	X(gfs_seek_req, NULL) X(gfs_seek_rep, NULL)                     \
	X(gfs_fstat_rep, NULL) X(gfm_replicate_req, NULL)               \
	X(gfm_replicate_rep, NULL) X(gfm_replica_drop_req, NULL)        \
	X(gfs_replicate_req, NULL) X(gfs_replicate_rep, NULL)           \
	X(gfm_host_drain_req, NULL) X(gfs_list_req, NULL)               \
	X(gfs_list_rep, fini_list) X(gfs_sums_req, NULL)                \
	X(gfs_sums_rep, fini_sums) X(gfs_verify_req, NULL)              \
	X(gfs_verify_rep, NULL) X(gfs_page_put_req, NULL) X(gfs_page_get_req, NULL)     \
	X(gfs_page_get_rep, NULL) X(gfs_page_inval_req, NULL)                             \
	X(gfs_page_inval_rep, NULL) X(gfs_page_stats_rep, NULL)                           \
	X(gfs_page_updates_req, NULL) X(gfs_page_updates_rep, fini_page_updates)          \
	X(gfs_page_cap_req, NULL) X(gfm_dirs_rep, NULL) X(gfs_page_punt_req, NULL)

#define WRAP(T, fini)                                               \
	static void enc_##T(struct gf_wbuf *w, const void *m)       \
	{                                                           \
		T##_encode(w, m);                                   \
	}                                                           \
	static int dec_##T(const void *p, size_t n, void *m)        \
	{                                                           \
		return T##_decode(p, n, m);                         \
	}
MESSAGES(WRAP)

#define ENTRY(T, fini) { #T, sizeof(struct T), enc_##T, dec_##T, fini },
static const struct codec codecs[] = { MESSAGES(ENTRY) };
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static void fail(const struct codec *c, const char *what, long v)
{
	fprintf(stderr, "fuzz_proto: %s: %s (%ld)\n", c->name, what, v);
	abort();
}

static void check_fixed_point(const struct codec *c, const uint8_t *x, size_t n,
			      void *m, void *m2)
{
	struct gf_wbuf w1, w2;
	gf_wbuf_init(&w1);
	gf_wbuf_init(&w2);

	c->enc(&w1, m);
	if (w1.err)
		fail(c, "a decoded message does not encode", w1.err);
	/* The format has one encoding per value: decoding is exact. */
	if (w1.len != n || (n && memcmp(w1.data, x, n) != 0))
		fail(c, "re-encoding differs from the input", (long)w1.len);

	/* Decode the re-encoding from an exact-size copy, then again. */
	uint8_t *y = malloc(w1.len ? w1.len : 1);
	if (!y)
		abort();
	memcpy(y, w1.data, w1.len);
	memset(m2, 0xa5, c->size);
	int rc = c->dec(y, w1.len, m2);
	if (rc)
		fail(c, "re-encoding does not decode", rc);
	c->enc(&w2, m2);
	if (w2.err)
		fail(c, "second encode failed", w2.err);
	if (w2.len != w1.len || memcmp(w2.data, w1.data, w1.len) != 0)
		fail(c, "encode(decode(x)) is not a fixed point", (long)w2.len);
	if (c->fini)
		c->fini(m2);
	free(y);
	gf_wbuf_free(&w1);
	gf_wbuf_free(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct codec *c = &codecs[data[0] % NCODECS];

	/* An exact-size copy, so any read past the payload is an ASan report. */
	size_t n = size - 1;
	uint8_t *x = malloc(n ? n : 1);
	void *m = malloc(c->size), *m2 = malloc(c->size);
	if (!x || !m || !m2)
		abort();
	memcpy(x, data + 1, n);
	memset(m, 0xa5, c->size); /* decoders must clear the whole struct */

	int rc = c->dec(x, n, m);
	if (rc == 0)
		check_fixed_point(c, x, n, m, m2);
	else if (rc != -EBADMSG && rc != -ENOMEM)
		fail(c, "unexpected decoder result", rc);
	if (c->fini)
		c->fini(m); /* after a failure, pointers are NULL: a no-op */
	free(m2);
	free(m);
	free(x);
	return 0;
}
