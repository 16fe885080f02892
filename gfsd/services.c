/*
 * services.c — routing requests to gfsd's services by opcode (services.h).
 */
#include "services.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "net.h"

struct entry {
	const char *name;
	uint16_t first, last;
	struct gf_server_ops ops;
};

struct services {
	struct entry v[SERVICES_MAX];
	unsigned n;
};

struct services *services_new(void)
{
	return calloc(1, sizeof(struct services));
}

void services_free(struct services *s)
{
	free(s);
}

int services_add(struct services *s, const char *name, uint16_t first, uint16_t last,
		 const struct gf_server_ops *ops)
{
	if (first > last || !ops->handle)
		return -EINVAL;
	for (unsigned i = 0; i < s->n; i++)
		if (first <= s->v[i].last && s->v[i].first <= last)
			return -EINVAL;
	if (s->n == SERVICES_MAX)
		return -ENOSPC;
	s->v[s->n++] = (struct entry){ .name = name, .first = first, .last = last, .ops = *ops };
	return 0;
}

static int route(struct gf_conn *conn, struct gf_frame *f, void *arg)
{
	struct services *s = arg;

	for (unsigned i = 0; i < s->n; i++)
		if (f->hdr.op >= s->v[i].first && f->hdr.op <= s->v[i].last)
			return s->v[i].ops.handle(conn, f, s->v[i].ops.arg);
	gf_debug("gfsd: %s: unsupported op %u", gf_conn_desc(conn), f->hdr.op);
	gf_conn_reply(conn, f->hdr.op, f->hdr.reqid, -ENOSYS, NULL, -1);
	return 0;
}

static void closed(struct gf_conn *conn, void *arg)
{
	struct services *s = arg;

	for (unsigned i = 0; i < s->n; i++)
		if (s->v[i].ops.closed)
			s->v[i].ops.closed(conn, s->v[i].ops.arg);
}

void services_server_ops(struct services *s, struct gf_server_ops *ops)
{
	ops->handle = route;
	ops->closed = closed;
	ops->arg = s;
}
