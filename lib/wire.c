#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gf_wbuf_init(struct gf_wbuf *w)
{
	memset(w, 0, sizeof(*w));
}

void gf_wbuf_init_fixed(struct gf_wbuf *w, void *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->data = buf;
	w->cap = cap;
	w->fixed = 1;
}

void gf_wbuf_free(struct gf_wbuf *w)
{
	if (!w->fixed)
		free(w->data);
	memset(w, 0, sizeof(*w));
}

void gf_wbuf_reset(struct gf_wbuf *w)
{
	w->len = 0;
	w->err = 0;
}

int gf_wbuf_reserve(struct gf_wbuf *w, size_t extra)
{
	if (w->err)
		return w->err;
	if (extra > SIZE_MAX - w->len) {
		w->err = -ENOMEM;
		return w->err;
	}
	size_t need = w->len + extra;
	if (need <= w->cap)
		return 0;
	if (w->fixed) {
		w->err = -EMSGSIZE;
		return w->err;
	}
	size_t cap = w->cap ? w->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(w->data, cap);
	if (!p) {
		w->err = -ENOMEM;
		return w->err;
	}
	w->data = p;
	w->cap = cap;
	return 0;
}

void gf_put_raw(struct gf_wbuf *w, const void *p, size_t n)
{
	if (n == 0 || gf_wbuf_reserve(w, n))
		return;
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

void gf_put_u8(struct gf_wbuf *w, uint8_t v)
{
	gf_put_raw(w, &v, 1);
}

void gf_put_u16(struct gf_wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	gf_put_raw(w, b, 2);
}

void gf_put_u32(struct gf_wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };
	gf_put_raw(w, b, 4);
}

void gf_put_u64(struct gf_wbuf *w, uint64_t v)
{
	gf_put_u32(w, (uint32_t)(v >> 32));
	gf_put_u32(w, (uint32_t)v);
}

void gf_put_i32(struct gf_wbuf *w, int32_t v)
{
	gf_put_u32(w, (uint32_t)v);
}

void gf_put_i64(struct gf_wbuf *w, int64_t v)
{
	gf_put_u64(w, (uint64_t)v);
}

void gf_put_bytes(struct gf_wbuf *w, const void *p, uint32_t n)
{
	gf_put_u32(w, n);
	gf_put_raw(w, p, n);
}

void gf_put_str(struct gf_wbuf *w, const char *s)
{
	size_t n = strlen(s);
	if (n > UINT32_MAX) {
		w->err = -EINVAL;
		return;
	}
	gf_put_bytes(w, s, (uint32_t)n);
}

void gf_rbuf_init(struct gf_rbuf *r, const void *data, size_t len)
{
	r->data = data;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

static const uint8_t *take(struct gf_rbuf *r, size_t n)
{
	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = -EBADMSG;
		return NULL;
	}
	const uint8_t *p = r->data + r->off;
	r->off += n;
	return p;
}

void gf_get_raw(struct gf_rbuf *r, void *p, size_t n)
{
	const uint8_t *s = take(r, n);
	if (s)
		memcpy(p, s, n);
	else
		memset(p, 0, n);
}

uint8_t gf_get_u8(struct gf_rbuf *r)
{
	const uint8_t *p = take(r, 1);
	return p ? p[0] : 0;
}

uint16_t gf_get_u16(struct gf_rbuf *r)
{
	const uint8_t *p = take(r, 2);
	return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t gf_get_u32(struct gf_rbuf *r)
{
	const uint8_t *p = take(r, 4);
	if (!p)
		return 0;
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

uint64_t gf_get_u64(struct gf_rbuf *r)
{
	uint64_t hi = gf_get_u32(r);
	uint64_t lo = gf_get_u32(r);
	return (hi << 32) | lo;
}

int32_t gf_get_i32(struct gf_rbuf *r)
{
	return (int32_t)gf_get_u32(r);
}

int64_t gf_get_i64(struct gf_rbuf *r)
{
	return (int64_t)gf_get_u64(r);
}

uint32_t gf_get_bytes(struct gf_rbuf *r, const uint8_t **p, uint32_t max)
{
	uint32_t n = gf_get_u32(r);
	*p = NULL;
	if (r->err)
		return 0;
	if (n > max) {
		r->err = -EBADMSG;
		return 0;
	}
	const uint8_t *s = take(r, n);
	if (!s)
		return 0;
	*p = s;
	return n;
}

void gf_get_str(struct gf_rbuf *r, char *dst, size_t dstsz)
{
	const uint8_t *p;
	uint32_t max = dstsz > 0 && dstsz - 1 < UINT32_MAX ? (uint32_t)(dstsz - 1) : 0;
	uint32_t n = gf_get_bytes(r, &p, max);
	if (dstsz > 0)
		dst[0] = '\0';
	if (r->err || dstsz == 0)
		return;
	if (n && memchr(p, '\0', n)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int gf_rbuf_done(const struct gf_rbuf *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : -EBADMSG;
}
