#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gf_config_entry {
	char *key;
	char *value;
};

struct gf_config {
	struct gf_config_entry *ents;
	size_t n, cap;
	char hostname[256];
};

static const char *const known_keys[] = {
	"gfmd_host", "gfmd_port", "gfmd_listen", "postgresql", "key_file",
	"spool", "gfsd_listen", "gfsd_port", "gfsd_addr", "gfsd_socket",
	"hostname", "log_level", "log_file", "pid_file", "attr_timeout",
	"entry_timeout", "heartbeat_ms", "host_down_ms", "launcher", "mount_point", "load_source",
	"idmap_refresh_ms", "orphan_scan_s", "fsync_on_close", "space_reserve", "durability", "journal", "flush_ms", "journal_max_kb",
	"peer_send_timeout_ms", "unlink_grace_ms", "gfmd_timeout", "gfsd_timeout",
	"repair_delay_ms", "repair_jobs", "ncopy_wait", "swap_cache_mb", "swap_reserve_mb",
	"swap_io_timeout_ms", "swap_owner_lease_s", "seal_gate", "passthrough", "uring", "uring_threads", "read_ahead_kb", "read_pin_mb", "read_pin_free_pct",
	"swap_write_behind_mb", "swap_read_ahead_mb", "lease_ms", "leases",
	NULL,
};

static int key_known(const char *k)
{
	for (int i = 0; known_keys[i]; i++)
		if (strcmp(known_keys[i], k) == 0)
			return 1;
	return 0;
}

static struct gf_config_entry *find(const struct gf_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->ents[i].key, key) == 0)
			return &cfg->ents[i];
	return NULL;
}

int gf_config_set(struct gf_config *cfg, const char *key, const char *value)
{
	struct gf_config_entry *e = find(cfg, key);
	char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	if (e) {
		free(e->value);
		e->value = v;
		return 0;
	}
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 16;
		struct gf_config_entry *p = realloc(cfg->ents, cap * sizeof(*p));
		if (!p) {
			free(v);
			return -ENOMEM;
		}
		cfg->ents = p;
		cfg->cap = cap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return -ENOMEM;
	}
	cfg->ents[cfg->n].key = k;
	cfg->ents[cfg->n].value = v;
	cfg->n++;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int gf_config_load(const char *path, struct gf_config **out, char *errbuf, int errlen)
{
	*out = NULL;
	struct gf_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	FILE *f = fopen(path, "re");
	if (!f) {
		int rc = -errno;
		snprintf(errbuf, (size_t)errlen, "%s: %s", path, strerror(errno));
		free(cfg);
		return rc;
	}
	char line[8192];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(errbuf, (size_t)errlen, "%s:%d: line too long", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(errbuf, (size_t)errlen, "%s:%d: expected 'key = value'", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		if (!key_known(key)) {
			snprintf(errbuf, (size_t)errlen, "%s:%d: unknown key '%s'", path, lineno, key);
			rc = -EINVAL;
			goto out;
		}
		size_t vl = strlen(val);
		if (vl >= 1 && val[0] == '"') {
			if (vl < 2 || val[vl - 1] != '"') {
				snprintf(errbuf, (size_t)errlen, "%s:%d: unterminated quote", path, lineno);
				rc = -EINVAL;
				goto out;
			}
			val[vl - 1] = '\0';
			val++;
		} else {
			char *hash = strchr(val, '#');
			if (hash) {
				*hash = '\0';
				val = trim(val);
			}
		}
		rc = gf_config_set(cfg, key, val);
		if (rc) {
			snprintf(errbuf, (size_t)errlen, "%s: out of memory", path);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(errbuf, (size_t)errlen, "%s: read error", path);
	}
out:
	fclose(f);
	if (rc) {
		gf_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

void gf_config_free(struct gf_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->ents[i].key);
		free(cfg->ents[i].value);
	}
	free(cfg->ents);
	free(cfg);
}

const char *gf_config_str(const struct gf_config *cfg, const char *key, const char *def)
{
	const struct gf_config_entry *e = cfg ? find(cfg, key) : NULL;
	return e ? e->value : def;
}

long long gf_config_int(const struct gf_config *cfg, const char *key, long long def,
			long long min, long long max, int *err)
{
	const char *s = gf_config_str(cfg, key, NULL);
	if (err)
		*err = 0;
	if (!s)
		return def;
	long long v;
	if (gf_parse_int(s, min, max, &v) < 0) {
		if (err)
			*err = -EINVAL;
		return def;
	}
	return v;
}

int gf_config_bool(const struct gf_config *cfg, const char *key, int def, int *out)
{
	const char *s = gf_config_str(cfg, key, NULL);
	if (!s)
		*out = def;
	else if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

int gf_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

const char *gf_config_hostname(const struct gf_config *cfg)
{
	const char *h = gf_config_str(cfg, "hostname", NULL);
	if (h && *h)
		return h;
	struct gf_config *c = (struct gf_config *)cfg;
	if (!c->hostname[0]) {
		if (gethostname(c->hostname, sizeof(c->hostname) - 1) != 0)
			snprintf(c->hostname, sizeof(c->hostname), "localhost");
	}
	return c->hostname;
}
