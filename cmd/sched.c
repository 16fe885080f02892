#include "sched.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "client.h"
#include "cmdutil.h"

#define MOUNTINFO "/proc/self/mountinfo"
#define GFARMFS_FSTYPE "fuse.gfarmfs"

void sched_cred_self(struct gf_cred *cr)
{
	gid_t groups[GF_MAX_GROUPS];
	int n;

	memset(cr, 0, sizeof(*cr));
	cr->uid = (uint32_t)geteuid();
	cr->gid = (uint32_t)getegid();
	n = getgroups(GF_MAX_GROUPS, groups);
	if (n < 0) { /* more than we can send: the first GF_MAX_GROUPS */
		int all = getgroups(0, NULL);
		gid_t *g = all > 0 ? calloc((size_t)all, sizeof(*g)) : NULL;
		n = g ? getgroups(all, g) : -1;
		if (n > GF_MAX_GROUPS)
			n = GF_MAX_GROUPS;
		for (int i = 0; i < n; i++)
			groups[i] = g[i];
		free(g);
	}
	for (int i = 0; i < n; i++)
		cr->groups[i] = (uint32_t)groups[i];
	cr->ngroups = n > 0 ? (uint32_t)n : 0;
}

int sched_init(struct sched *s, const struct cmd *cmd, struct gfc *g)
{
	struct gfm_host_list_rep hl = { 0 };
	int r;

	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	s->gfc = g;
	sched_cred_self(&s->cred);
	r = gfc_host_list(g, &hl);
	if (r < 0) {
		cmd_err(cmd, "host list from gfmd: %s", strerror(-r));
		return r;
	}
	if (hl.count) {
		s->hosts = calloc(hl.count, sizeof(*s->hosts));
		if (!s->hosts) {
			gfm_host_list_rep_free(&hl);
			cmd_err(cmd, "%s", strerror(ENOMEM));
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < hl.count; i++) {
		struct sched_host *h = &s->hosts[i];
		snprintf(h->name, sizeof(h->name), "%s", hl.hosts[i].name);
		h->host_id = hl.hosts[i].host_id;
		h->up = hl.hosts[i].up;
		h->load_milli = hl.hosts[i].load_milli;
		h->capacity = hl.hosts[i].capacity;
		h->free = hl.hosts[i].free;
	}
	s->nhosts = hl.count;
	gfm_host_list_rep_free(&hl);
	return 0;
}

void sched_free(struct sched *s)
{
	free(s->hosts);
	s->hosts = NULL;
	s->nhosts = s->nranked = 0;
}

/* ---- /proc/self/mountinfo ------------------------------------------------------ */

/* Undo the octal escapes (\040 for a space etc.) of a mountinfo field. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* Is path equal to root or below it? */
static int under(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return 1;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * The gfarmfs mount whose device is dev; among several (bind mounts), the
 * one real (a resolved path, may be NULL) lies under. 0, -ENOENT, -errno.
 */
static int find_mount(dev_t dev, const char *real, char *root, size_t rootsz)
{
	char *line = NULL, want[32];
	size_t cap = 0;
	int found = 0;
	FILE *f = fopen(MOUNTINFO, "re");

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "%u:%u", major(dev), minor(dev));
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *fields[8] = { 0 }, *tok, *fstype = NULL;
		int n = 0, dash = 0;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (dash) {
				fstype = tok;
				break;
			}
			if (strcmp(tok, "-") == 0 && n >= 6)
				dash = 1;
			else if (n < 8)
				fields[n++] = tok;
		}
		if (!fstype || n < 5 || strcmp(fstype, GFARMFS_FSTYPE) != 0 ||
		    strcmp(fields[2], want) != 0)
			continue;
		unescape(fields[4]);
		if (found && !(real && under(real, fields[4])))
			continue;
		if (strlen(fields[4]) >= rootsz) {
			found = -ENAMETOOLONG;
			continue;
		}
		strcpy(root, fields[4]);
		found = 1;
		if (!real || under(real, root))
			break;
	}
	free(line);
	fclose(f);
	return found == 1 ? 0 : found < 0 ? found : -ENOENT;
}

int sched_mount_root(const char *path, char *root, size_t rootsz)
{
	struct stat st;
	char *real;
	int r;

	if (stat(path, &st) < 0)
		return -errno;
	real = realpath(path, NULL);
	r = find_mount(st.st_dev, real, root, rootsz);
	free(real);
	return r;
}

int sched_expand(const char *fmt, const char *host, char *out, size_t outsz)
{
	size_t n = 0;

	for (const char *p = fmt; *p; p++) {
		const char *add = p;
		size_t len = 1;
		if (p[0] == '%' && p[1] == 'h') {
			add = host;
			len = strlen(host);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			p++;
		}
		if (n + len >= outsz)
			return -ENAMETOOLONG;
		memcpy(out + n, add, len);
		n += len;
	}
	if (n >= outsz)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

/* ---- files ------------------------------------------------------------------------ */

/* "gfarm:/a/b" (or "gfarm:a/b"): walk the namespace from the root. */
static int lookup_ns(struct gfc *g, const struct gf_cred *cr, const char *path, uint64_t *ino)
{
	uint64_t stack[256];
	size_t depth = 0;
	char *copy = strdup(path + strlen(SCHED_NS_PREFIX)), *save = NULL, *name;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	stack[0] = GF_ROOT_INO;
	for (name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		struct gf_attr a;
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (depth > 0)
				depth--;
			continue;
		}
		r = gfc_lookup(g, cr, stack[depth], name, &a);
		if (r < 0)
			break;
		if (depth + 1 >= sizeof(stack) / sizeof(stack[0])) {
			r = -ELOOP;
			break;
		}
		stack[++depth] = a.ino;
	}
	free(copy);
	if (r == 0)
		*ino = stack[depth];
	return r;
}

int sched_resolve(const struct cmd *cmd, struct gfc *g, const struct gf_cred *cr,
		  const char *path, uint64_t *ino_out)
{
	uint64_t ino = 0;
	char root[PATH_MAX];
	int r;

	if (strncmp(path, SCHED_NS_PREFIX, strlen(SCHED_NS_PREFIX)) == 0) {
		r = lookup_ns(g, cr, path, &ino);
		if (r < 0) {
			cmd_err(cmd, "%s: %s", path, strerror(-r));
			return r;
		}
	} else {
		struct stat st;
		char *real;
		if (stat(path, &st) < 0) {
			r = -errno;
			cmd_err(cmd, "%s: %s", path, strerror(errno));
			return r;
		}
		real = realpath(path, NULL);
		r = find_mount(st.st_dev, real, root, sizeof(root));
		free(real);
		if (r < 0) {
			if (r == -ENOENT)
				cmd_err(cmd, "%s: not on a gfarmfs mount (name files in the "
					"namespace as %s/PATH)", path, SCHED_NS_PREFIX);
			else
				cmd_err(cmd, "%s: reading %s: %s", path, MOUNTINFO,
					strerror(-r));
			return r == -ENOENT ? -EINVAL : r;
		}
		ino = st.st_ino; /* the mount uses gfmd's inode numbers */
	}
	*ino_out = ino;
	return 0;
}

int sched_add_file(struct sched *s, const char *path)
{
	struct gfm_open_rep *rep = NULL;
	uint64_t ino = 0;
	int r, any_up = 0;

	if ((r = sched_resolve(s->cmd, s->gfc, &s->cred, path, &ino)) < 0)
		return r;

	rep = malloc(sizeof(*rep));
	if (!rep) {
		cmd_err(s->cmd, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	r = gfc_replicas(s->gfc, &s->cred, ino, rep);
	if (r < 0) {
		cmd_err(s->cmd, "%s: replicas from gfmd: %s", path, strerror(-r));
		goto out;
	}
	if ((rep->attr.mode & S_IFMT) != S_IFREG) {
		cmd_err(s->cmd, "%s: not a regular file", path);
		r = -EINVAL;
		goto out;
	}
	for (uint32_t i = 0; i < rep->nreplicas; i++) {
		const struct gf_replica *x = &rep->replicas[i];
		int dup = 0;
		for (uint32_t j = 0; j < i && !dup; j++)
			dup = rep->replicas[j].host_id == x->host_id;
		if (dup)
			continue;
		for (size_t k = 0; k < s->nhosts; k++) {
			struct sched_host *h = &s->hosts[k];
			if (h->host_id != x->host_id)
				continue;
			if (h->up) {
				h->bytes += rep->attr.size;
				h->nfiles++;
				any_up = 1;
			}
			break;
		}
	}
	r = 0;
	if (rep->nreplicas > 0 && !any_up) {
		char names[512] = "";
		size_t n = 0;
		for (uint32_t i = 0; i < rep->nreplicas && n < sizeof(names); i++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
					      i ? " " : "", rep->replicas[i].host);
		cmd_err(s->cmd, "%s: every replica is on a host whose gfsd is down (%s)",
			path, names);
		r = 1;
	}
out:
	free(rep);
	return r;
}

/* ---- ranking ------------------------------------------------------------------------ */

/*
 * Loads are compared in steps of 0.25: a few hundredths between two idle
 * hosts is noise, and free space should decide between them. Bucketing (not
 * a tolerance) keeps the order transitive for qsort.
 */
#define LOAD_STEP_MILLI 250

static int cmp_tail(const struct sched_host *a, const struct sched_host *b)
{
	uint32_t la = (a->load_milli + LOAD_STEP_MILLI / 2) / LOAD_STEP_MILLI;
	uint32_t lb = (b->load_milli + LOAD_STEP_MILLI / 2) / LOAD_STEP_MILLI;
	if (la != lb)
		return la < lb ? -1 : 1;
	if (a->free != b->free)
		return a->free > b->free ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int read_eligible(const struct sched_host *h)
{
	return h->up && h->nfiles > 0;
}

static int cmp_read(const void *x, const void *y)
{
	const struct sched_host *a = x, *b = y;
	int ea = read_eligible(a), eb = read_eligible(b);

	if (ea != eb)
		return ea ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return cmp_tail(a, b);
}

static int cmp_write(const void *x, const void *y)
{
	const struct sched_host *a = x, *b = y;

	if (a->up != b->up)
		return a->up ? -1 : 1;
	return cmp_tail(a, b);
}

void sched_rank_read(struct sched *s)
{
	if (s->nhosts)
		if (s->nhosts > 1)
			qsort(s->hosts, s->nhosts, sizeof(*s->hosts), cmp_read);
	s->nranked = 0;
	while (s->nranked < s->nhosts && read_eligible(&s->hosts[s->nranked]))
		s->nranked++;
}

void sched_rank_write(struct sched *s)
{
	if (s->nhosts)
		if (s->nhosts > 1)
			qsort(s->hosts, s->nhosts, sizeof(*s->hosts), cmp_write);
	s->nranked = 0;
	while (s->nranked < s->nhosts && s->hosts[s->nranked].up)
		s->nranked++;
}
