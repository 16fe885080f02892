/*
 * load.h — how busy this host is, for gfmd's placement and gfsched.
 *
 * Two sources:
 *   "system"  the kernel's 1-minute load average (getloadavg), right when a
 *             host is a machine of its own;
 *   "netns"   the runnable tasks in gfsd's own network namespace, decayed
 *             into a 1-minute average the way the kernel does it. Hosts made
 *             of namespaces on one machine share one kernel, so only this
 *             tells them apart.
 * Values are in thousandths (1.5 → 1500). Sample once per heartbeat; a
 * meter is used by one thread.
 */
#ifndef GFSD_LOAD_H
#define GFSD_LOAD_H

#include <stdint.h>

struct load_meter;

/* -EINVAL for an unknown source name, -errno if the namespace is unreadable. */
int load_meter_new(const char *source, struct load_meter **out);
uint32_t load_meter_sample(struct load_meter *m);
void load_meter_free(struct load_meter *m);

/* Runnable tasks (state R) whose network namespace is ns ("net:[N]"),
 * leaving out the calling thread. Exposed for tests. */
int load_count_runnable(const char *ns);

#endif
