/*
 * services.h — gfsd's table of services, routed to by opcode.
 *
 * gfsd serves several protocols on its listeners: file data (service.h,
 * GFS_OPEN .. GFS_VERIFY) and swap pages (pagesvc.h, GFS_PAGE_*). main.c
 * registers each with the range of opcodes it answers; a request is handed
 * to the service whose range holds its opcode, and one no service claims
 * gets -ENOSYS. When a connection closes, every service's close callback
 * runs (a service that kept nothing for it ignores it).
 */
#ifndef GFSD_SERVICES_H
#define GFSD_SERVICES_H

#include <stdint.h>

#include "server.h"

#define SERVICES_MAX 8

struct services;

struct services *services_new(void);
void services_free(struct services *s);
/* Register ops for opcodes first..last; -ENOSPC past SERVICES_MAX, -EINVAL
 * for a range that overlaps one registered. */
int services_add(struct services *s, const char *name, uint16_t first, uint16_t last,
		 const struct gf_server_ops *ops);
/* The server ops that route through the table (arg: s). */
void services_server_ops(struct services *s, struct gf_server_ops *ops);

#endif
