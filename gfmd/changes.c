#include "changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gf_changes_init(struct gf_changes *c)
{
	memset(c, 0, sizeof(*c));
}

static void change_free(struct gf_change *ch)
{
	free(ch->name);
	free(ch->blob);
}

void gf_changes_free(struct gf_changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		change_free(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int grow(struct gf_changes *c, size_t need)
{
	if (need <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : 8;
	while (cap < need)
		cap *= 2;
	struct gf_change *v = realloc(c->v, cap * sizeof(*v));
	if (!v) {
		c->err = -ENOMEM;
		return -ENOMEM;
	}
	c->v = v;
	c->cap = cap;
	return 0;
}

struct gf_change *gf_changes_add(struct gf_changes *c, enum gf_change_kind kind,
				 uint64_t a, uint64_t b, uint64_t cc,
				 const char *name, size_t name_len,
				 const void *blob, size_t blob_len, int has_blob)
{
	if (c->err || grow(c, c->n + 1))
		return NULL;
	struct gf_change *ch = &c->v[c->n];
	memset(ch, 0, sizeof(*ch));
	ch->kind = kind;
	ch->a = a;
	ch->b = b;
	ch->c = cc;
	if (name) {
		ch->name = malloc(name_len + 1);
		if (!ch->name)
			goto nomem;
		memcpy(ch->name, name, name_len);
		ch->name[name_len] = 0;
		ch->name_len = (uint32_t)name_len;
	}
	if (has_blob) {
		ch->blob = malloc(blob_len ? blob_len : 1);
		if (!ch->blob)
			goto nomem;
		if (blob_len)
			memcpy(ch->blob, blob, blob_len);
		ch->blob_len = (uint32_t)blob_len;
		ch->has_blob = 1;
	}
	c->n++;
	return ch;
nomem:
	change_free(ch);
	c->err = -ENOMEM;
	return NULL;
}

void gf_changes_once(struct gf_changes *c, struct gf_once_id *once, uint64_t ino, int created)
{
	if (!once)
		return;
	once->ino = ino;
	once->created = created ? 1 : 0;
	struct gf_change *ch = gf_changes_add(c, GF_CHG_ONCE_PUT, once->client, once->seq, ino,
					      NULL, 0, NULL, 0, 0);
	if (ch)
		ch->d = once->op | (created ? GF_ONCE_CREATED : 0);
}

int gf_changes_move(struct gf_changes *dst, struct gf_changes *src)
{
	if (src->err)
		dst->err = src->err;
	if (grow(dst, dst->n + src->n))
		return -ENOMEM;
	if (src->n)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	free(src->v);
	memset(src, 0, sizeof(*src));
	return dst->err;
}

void gf_changes_encode(struct gf_wbuf *w, const struct gf_changes *c)
{
	gf_put_u32(w, (uint32_t)c->n);
	for (size_t i = 0; i < c->n; i++) {
		const struct gf_change *ch = &c->v[i];
		gf_put_u8(w, (uint8_t)ch->kind);
		gf_put_u64(w, ch->a);
		gf_put_u64(w, ch->b);
		gf_put_u64(w, ch->c);
		gf_put_u64(w, ch->d);
		if (ch->kind == GF_CHG_INODE_PUT)
			gf_put_attr(w, &ch->attr);
		if (ch->kind == GF_CHG_HOST_PUT) {
			const struct gf_change_host *h = &ch->host;
			gf_put_u32(w, h->host_id);
			gf_put_str(w, h->name);
			gf_put_str(w, h->addr);
			gf_put_u16(w, h->port);
			gf_put_u64(w, h->capacity);
			gf_put_u64(w, h->free);
			gf_put_u8(w, h->draining);
		}
		gf_put_u8(w, ch->name != NULL);
		if (ch->name)
			gf_put_bytes(w, ch->name, ch->name_len);
		gf_put_u8(w, (uint8_t)ch->has_blob);
		if (ch->has_blob)
			gf_put_bytes(w, ch->blob, ch->blob_len);
	}
}

/* the largest name or blob a change carries (a symlink target, an xattr value) */
#define CHANGE_BYTES_MAX (1u << 24)

static int get_host_str(struct gf_rbuf *r, char *dst, size_t dstsz)
{
	const uint8_t *p;
	uint32_t n = gf_get_bytes(r, &p, (uint32_t)dstsz - 1);
	if (r->err)
		return -EINVAL;
	memcpy(dst, p, n);
	dst[n] = 0;
	return 0;
}

int gf_changes_decode(struct gf_rbuf *r, struct gf_changes *out)
{
	uint32_t n = gf_get_u32(r);
	if (r->err)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t kind = gf_get_u8(r);
		uint64_t a = gf_get_u64(r), b = gf_get_u64(r), cc = gf_get_u64(r);
		uint64_t d = gf_get_u64(r);
		if (r->err || kind < GF_CHG_INODE_PUT || kind > GF_CHG_ONCE_DEL)
			return -EINVAL;
		struct gf_attr attr = { 0 };
		struct gf_change_host host = { 0 };
		if (kind == GF_CHG_INODE_PUT)
			gf_get_attr(r, &attr);
		if (kind == GF_CHG_HOST_PUT) {
			host.host_id = gf_get_u32(r);
			if (get_host_str(r, host.name, sizeof(host.name)) ||
			    get_host_str(r, host.addr, sizeof(host.addr)))
				return -EINVAL;
			host.port = gf_get_u16(r);
			host.capacity = gf_get_u64(r);
			host.free = gf_get_u64(r);
			host.draining = gf_get_u8(r);
		}
		const uint8_t *name = NULL, *blob = NULL;
		uint32_t name_len = 0, blob_len = 0;
		int has_name = gf_get_u8(r);
		if (has_name)
			name_len = gf_get_bytes(r, &name, CHANGE_BYTES_MAX);
		int has_blob = gf_get_u8(r);
		if (has_blob)
			blob_len = gf_get_bytes(r, &blob, CHANGE_BYTES_MAX);
		if (r->err || has_name > 1 || has_blob > 1)
			return -EINVAL;
		struct gf_change *ch = gf_changes_add(out, (enum gf_change_kind)kind, a, b, cc,
						      has_name ? (name ? (const char *)name : "") : NULL, name_len,
						      blob, blob_len, has_blob);
		if (!ch)
			return -ENOMEM;
		ch->d = d;
		ch->attr = attr;
		ch->host = host;
	}
	return 0;
}
