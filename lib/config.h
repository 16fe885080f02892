/*
 * config.h — the one configuration file format of every gfarmfs program.
 *
 *     # comment
 *     key = value          (value may be "double quoted" to keep spaces)
 *
 * Keys every program understands (each reads what it needs):
 *     gfmd_host, gfmd_port        where gfmd listens (port default 6600)
 *     gfmd_listen                 address gfmd binds (default 0.0.0.0)
 *     postgresql                  libpq conninfo of the metadata database
 *     key_file                    shared secret (at least 32 bytes)
 *     spool                       gfsd replica directory
 *     gfsd_listen, gfsd_port      address/port gfsd binds (port default 6601)
 *     gfsd_addr                   address gfsd tells gfmd to reach it at
 *     gfsd_socket                 gfsd UNIX socket for clients on its host
 *     hostname                    this node's name (default: gethostname)
 *     log_level                   error | warn | info | debug
 *     log_file                    log here instead of stderr
 *     pid_file                    daemons write their pid here
 *     attr_timeout                client attribute cache, seconds (default 1)
 *     gfmd_timeout, gfsd_timeout  clients: seconds without an answer after
 *                                 which a call fails with EIO (soft); 0, the
 *                                 default, waits for ever (hard)
 *     heartbeat_ms                gfsd heartbeat period (default 1000)
 *     host_down_ms                gfmd marks a silent host down (default 5000)
 *     load_source                 gfsd load measure: system | netns (default system)
 *     peer_send_timeout_ms        gfmd/gfsd close a peer that takes no reply bytes,
 *                                 or stalls inside a request, this long (default 30000)
 *     launcher                    how gfrun reaches a host: a command prefix in
 *                                 which %h is the host name (default "ssh %h")
 *     mount_point                 where the file system is mounted on each host;
 *                                 %h is the host name (default "/gfarm")
 * Unknown keys are an error, so a typo is caught at start-up.
 */
#ifndef GF_CONFIG_H
#define GF_CONFIG_H

#include <stdint.h>

struct gf_config;

/* Parse path. On error *errmsg (static or in cfg) says where; -errno. */
int gf_config_load(const char *path, struct gf_config **out, char *errbuf, int errlen);
void gf_config_free(struct gf_config *cfg);
/* The value, or def when the key is absent. */
const char *gf_config_str(const struct gf_config *cfg, const char *key, const char *def);
/* Integer value; -EINVAL into *err (if non-NULL) when not a number in range. */
long long gf_config_int(const struct gf_config *cfg, const char *key, long long def,
			long long min, long long max, int *err);
/* A yes/no value (yes, true, 1 / no, false, 0): *out is 1 or 0, def when
 * the key is absent. 0, or -EINVAL for anything else (*out untouched). */
int gf_config_bool(const struct gf_config *cfg, const char *key, int def, int *out);
/* s is a whole decimal number in [min, max]: 0 and *out, or -EINVAL (the
 * parse gf_config_int uses; for command-line numbers too). */
int gf_parse_int(const char *s, long long min, long long max, long long *out);
/* Override/set a value (command-line options). 0 or -ENOMEM. */
int gf_config_set(struct gf_config *cfg, const char *key, const char *value);
/* This node's host name: "hostname" key, else gethostname(). */
const char *gf_config_hostname(const struct gf_config *cfg);

#endif
