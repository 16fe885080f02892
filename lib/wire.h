/*
 * wire.h — bounds-checked encoding and decoding of protocol fields.
 *
 * Every integer on the wire is big-endian (network order). A byte string is
 * a u32 length followed by that many bytes. Encoders append to a growable
 * buffer; decoders read from a fixed span and never read past its end.
 *
 * Errors are sticky: the first failing put/get records a negative errno in
 * ->err (-ENOMEM for an encoder, -EBADMSG for a decoder that ran out of bytes
 * or met a length above its limit) and every later call is a no-op, so a
 * message codec can do all its puts/gets and check ->err once at the end.
 */
#ifndef GF_WIRE_H
#define GF_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct gf_wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;
	int fixed; /* data is the caller's (gf_wbuf_init_fixed): never grows */
};

struct gf_rbuf {
	const uint8_t *data;
	size_t len;
	size_t off;
	int err;
};

/* Encoder. init allocates nothing; free releases data and resets. */
void gf_wbuf_init(struct gf_wbuf *w);
/* An encoder into the caller's buf of cap bytes, for paths that must not
 * allocate: writing past cap sets err to -EMSGSIZE; free is a no-op. */
void gf_wbuf_init_fixed(struct gf_wbuf *w, void *buf, size_t cap);
void gf_wbuf_free(struct gf_wbuf *w);
void gf_wbuf_reset(struct gf_wbuf *w);		/* len = 0, err = 0, keeps data */
int gf_wbuf_reserve(struct gf_wbuf *w, size_t extra);
void gf_put_u8(struct gf_wbuf *w, uint8_t v);
void gf_put_u16(struct gf_wbuf *w, uint16_t v);
void gf_put_u32(struct gf_wbuf *w, uint32_t v);
void gf_put_u64(struct gf_wbuf *w, uint64_t v);
void gf_put_i32(struct gf_wbuf *w, int32_t v);
void gf_put_i64(struct gf_wbuf *w, int64_t v);
void gf_put_raw(struct gf_wbuf *w, const void *p, size_t n);	/* no length */
void gf_put_bytes(struct gf_wbuf *w, const void *p, uint32_t n);	/* u32 len + bytes */
void gf_put_str(struct gf_wbuf *w, const char *s);		/* bytes without NUL */

/* Decoder over [data, data+len). */
void gf_rbuf_init(struct gf_rbuf *r, const void *data, size_t len);
uint8_t gf_get_u8(struct gf_rbuf *r);
uint16_t gf_get_u16(struct gf_rbuf *r);
uint32_t gf_get_u32(struct gf_rbuf *r);
uint64_t gf_get_u64(struct gf_rbuf *r);
int32_t gf_get_i32(struct gf_rbuf *r);
int64_t gf_get_i64(struct gf_rbuf *r);
void gf_get_raw(struct gf_rbuf *r, void *p, size_t n);
/*
 * A length-prefixed byte string, not copied: *p points into the buffer.
 * Lengths above max are -EBADMSG.
 */
uint32_t gf_get_bytes(struct gf_rbuf *r, const uint8_t **p, uint32_t max);
/*
 * A string copied into dst (capacity dstsz, NUL-terminated). A string that
 * would not fit, or that holds a NUL byte, is -EBADMSG.
 */
void gf_get_str(struct gf_rbuf *r, char *dst, size_t dstsz);
/* 0 when the whole buffer was consumed without error, else -EBADMSG. */
int gf_rbuf_done(const struct gf_rbuf *r);

#endif
