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
