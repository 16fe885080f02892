/*
 * gfrep — make sure files have enough replicas (and, with -x, no more).
 *
 * The copies are made gfsd → gfsd: gfrep only asks gfmd (GFM_REPLICATE),
 * which picks the hosts and tells the destination gfsd to copy. Several
 * files are worked on at once, each worker with its own connection to gfmd
 * (gfmd runs a copy in the thread of the connection that asked for it).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "proto.h"
#include "sched.h"

#define JOBS_MAX 64


static struct cmd cmd = {
	.name = "gfrep",
	.synopsis =
	"  gfrep [-c CONFIG] -N NUM [-D HOST] [-S HOST] [-x] [-r] [-j JOBS] [-q] PATH...\n"
	"  gfrep [-c CONFIG] -D HOST [-S HOST] [-r] [-j JOBS] [-q] PATH...\n",
	.help =
	"NAME\n"
	"  gfrep - make sure gfarmfs files have enough replicas\n"
	"\n"
	"SYNOPSIS\n"
	"  gfrep [-c CONFIG] -N NUM [-D HOST] [-S HOST] [-x] [-r] [-j JOBS] [-q] PATH...\n"
	"  gfrep [-c CONFIG] -D HOST [-S HOST] [-r] [-j JOBS] [-q] PATH...\n"
	"\n"
	"DESCRIPTION\n"
	"  For every PATH (and, with -r, every regular file below a directory\n"
	"  PATH), gfrep makes sure the file has at least NUM current replicas on\n"
	"  hosts whose gfsd is up, on different hosts. A missing replica is made\n"
	"  by the destination gfsd copying from a gfsd that holds one: the data\n"
	"  goes gfsd to gfsd over connections authenticated with the cluster's\n"
	"  key, never through gfrep. gfmd chooses the destination (the up host\n"
	"  without a replica that has the most free space beyond its reserve)\n"
	"  and the source (an up host holding one), unless -D or -S says. A new\n"
	"  replica counts only once it is written, synced to disk and recorded\n"
	"  in the database. A file that is being written (open for writing\n"
	"  anywhere) is not copied: gfrep reports it and exits 1; run it again\n"
	"  once the writer has closed it. An empty file that was never written\n"
	"  has no data to copy and counts as done.\n"
	"\n"
	"  With -N, the file's replica count (the user.gfarm.ncopy xattr, see\n"
	"  gfncopy) becomes NUM, so that gfmd restores NUM replicas by itself\n"
	"  when a host holding one dies; a caller who may not write the file is\n"
	"  told that it stays as it was.\n"
	"\n"
	"  Replicas on hosts whose gfsd is down do not count. With -x, replicas\n"
	"  beyond NUM are removed afterwards (never one on the -D host, never\n"
	"  below NUM, even with another gfrep -x running at the same time).\n"
	"\n"
	"  A PATH is a file or directory on a gfarmfs mount of this machine, or\n"
	"  a path in the namespace written gfarm:/DIR/FILE (no mount needed).\n"
	"  The caller needs read permission on a file to replicate it, and must\n"
	"  own it (or be root) to remove replicas with -x.\n"
	"\n"
	"  On a terminal, a progress line on standard error shows the files\n"
	"  done and the bytes copied; at the end a summary says how many files\n"
	"  were complete already, how many got new replicas, how many failed,\n"
	"  and the copy rate. Each failure is reported on standard error with\n"
	"  the file's path and the reason.\n"
	"\n"
	"OPTIONS\n"
	"  -N, --number=NUM\n"
	"      Replicas each file must have (1 to " "64" ").\n"
	"  -D, --destination=HOST\n"
	"      HOST must hold a replica (made first if missing). Without -N,\n"
	"      that is all gfrep does (a replica count set on the file that is\n"
	"      now too low is raised with the copy, so that gfmd keeps it).\n"
	"  -S, --source=HOST\n"
	"      Copy from the replica on HOST (a file without a current replica\n"
	"      there fails).\n"
	"  -x, --remove-extra\n"
	"      Remove replicas beyond NUM (needs -N).\n"
	"  -r, --recursive\n"
	"      Walk directories. Without -r a directory PATH is an error.\n"
	"  -j, --jobs=JOBS\n"
	"      Work on up to JOBS files at once (1 to 64, default 4).\n"
	"  -q, --quiet\n"
	"      No progress line and no summary; failures are still reported.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	"EXIT STATUS\n"
	"  0  every file has its replicas\n"
	"  1  some file does not (each is reported), or a runtime error\n"
	"  2  usage error\n"
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	"EXAMPLES\n"
	"  gfrep -N 2 -r /gfarm/aster/L0       keep two copies of every raw file\n"
	"  gfrep -N 1 -x gfarm:/tmp/big.dat    back to one copy\n"
	"  gfrep -D node3 /gfarm/in/scene.dat  put a copy on node3\n",
};

/* ---- what to do -------------------------------------------------------------- */

struct opts {
	uint32_t n;	    /* 0: no count (-D only) */
	uint32_t dst, src;  /* host ids, 0: gfmd chooses */
	const char *dst_name, *src_name;
	int trim, recursive, quiet;
	int jobs;
};

struct item {
	uint64_t ino;
	char *path;
};

struct state {
	const struct opts *o;
	const struct gf_config *cfg;
	struct gf_cred cred;
	struct gf_host_info *hosts; /* from gfmd at the start */
	uint32_t nhosts;
	struct item *items;
	size_t nitems, capitems;

	pthread_mutex_t mu;
	size_t next;	      /* next item to take */
	size_t done, ok, already, failed, made, removed;
	uint64_t bytes;
	struct timespec start;
	int progress; /* a terminal to draw on */
	int progress_drawn;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double since(const struct state *s)
{
	return now_s() - ((double)s->start.tv_sec + (double)s->start.tv_nsec / 1e9);
}

static void human(uint64_t b, char *out, size_t n)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* (mu held) */
static void draw(struct state *s)
{
	char b[32], r[32];
	double t = since(s);
	if (!s->progress)
		return;
	human(s->bytes, b, sizeof(b));
	human(t > 0 ? (uint64_t)((double)s->bytes / t) : 0, r, sizeof(r));
	fprintf(stderr, "\r\033[Kgfrep: %zu/%zu files, %s copied, %s/s", s->done, s->nitems, b,
		r);
	s->progress_drawn = 1;
}

/* A failure message for one file (under mu, so it does not cut the
 * progress line). */
static void report(struct state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct state *s, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&s->mu);
	if (s->progress_drawn)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "gfrep: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	draw(s);
	pthread_mutex_unlock(&s->mu);
}

static const struct gf_host_info *host_by_id(const struct state *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->nhosts; i++)
		if (s->hosts[i].host_id == id)
			return &s->hosts[i];
	return NULL;
}

static const char *host_name(const struct state *s, uint32_t id)
{
	const struct gf_host_info *h = host_by_id(s, id);
	return h ? h->name : "?";
}

/* Up hosts holding a current replica of the file, as in rep. */
static uint32_t count_up(const struct state *s, const struct gfm_open_rep *rep, int *has_dst)
{
	uint32_t n = 0;
	*has_dst = 0;
	for (uint32_t i = 0; i < rep->nreplicas; i++) {
		const struct gf_host_info *h = host_by_id(s, rep->replicas[i].host_id);
		if (!h || !h->up)
			continue;
		n++;
		if (rep->replicas[i].host_id == s->o->dst)
			*has_dst = 1;
	}
	return n;
}

static const char *why(int r)
{
	switch (r) {
	case -EBUSY: return "it is open for writing (or was written during the copy); "
			    "run gfrep again once it is closed";
	case -ENOSPC: return "no up host without a replica has room for another";
	case -EHOSTDOWN: return "the host to copy from or to is down";
	case -ENODATA: return "it has data but no replica";
	case -EMLINK: return "removing it would leave fewer replicas than asked";
	case -EBADMSG: return "the replica copied from is corrupt (a block failed its "
			      "checksum; gfmd is told); nothing was copied";
	default: return strerror(-r);
	}
}

/*
 * The file keeps n: its replica count (user.gfarm.ncopy) becomes it, so
 * that gfmd's background repair restores it after a host dies. Set only
 * once the replicas are there. (Each copy gfrep asks for is GF_REP_KEEP:
 * gfmd raises a lower count with it, so the repair never removes a replica
 * gfrep made as one too many, with -D alone too.) A caller who may not
 * write the file is told the count is not kept.
 */
static void record_count(struct state *s, struct gfc *g, const struct item *it, uint32_t n)
{
	char want[16], have[32];
	size_t len = 0;
	snprintf(want, sizeof(want), "%u", n);
	int r = gfc_getxattr(g, &s->cred, it->ino, GF_NCOPY_XATTR, have, sizeof(have) - 1, &len);
	if (r == 0) {
		have[len] = '\0';
		have[strcspn(have, "\n ")] = '\0';
		if (strcmp(have, want) == 0)
			return;
	}
	r = gfc_setxattr(g, &s->cred, it->ino, GF_NCOPY_XATTR, want, strlen(want), 0);
	if (r < 0)
		report(s, "%s: note: its replica count stays %s (%s): the background repair "
		       "will not keep %s replicas", it->path, len ? have : "unset", strerror(-r),
		       want);
}

/*
 * One file. 0 when it ends with its count (*made copies made, *removed
 * removed, *bytes copied, *already when nothing had to be done), else -errno
 * (reported here).
 */
static int one(struct state *s, struct gfc *g, const struct item *it, uint32_t *made,
	       uint32_t *removed, uint64_t *bytes, int *already)
{
	const struct opts *o = s->o;
	struct gfm_open_rep *rep = malloc(sizeof(*rep));
	int r, has_dst;

	*made = *removed = 0;
	*bytes = 0;
	*already = 0;
	if (!rep)
		return -ENOMEM;
	if ((r = gfc_replicas(g, &s->cred, it->ino, rep)) < 0) {
		report(s, "%s: %s", it->path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(rep->attr.mode)) {
		report(s, "%s: not a regular file", it->path);
		r = -EINVAL;
		goto out;
	}
	if (rep->nreplicas == 0 && rep->attr.size == 0) {
		*already = 1; /* empty and never written: nothing to copy */
		r = 0;
		goto out;
	}
	uint32_t have = count_up(s, rep, &has_dst);
	uint32_t want = o->n;
	if (o->dst && !has_dst) {
		struct gfm_replicate_req m = { .cred = s->cred, .ino = it->ino, .dst_host = o->dst,
					       .src_host = o->src, .flags = GF_REP_KEEP };
		struct gfm_replicate_rep rr;
		r = gfc_replicate(g, &m, &rr);
		if (r == 0) {
			(*made)++;
			*bytes += rr.bytes;
			have++;
		} else if (r != -EEXIST) { /* (a resent request found it made) */
			report(s, "%s: no replica on %s: %s", it->path, o->dst_name, why(r));
			goto out;
		}
	}
	while (have < want) {
		struct gfm_replicate_req m = { .cred = s->cred, .ino = it->ino, .src_host = o->src,
					       .flags = GF_REP_KEEP };
		struct gfm_replicate_rep rr;
		r = gfc_replicate(g, &m, &rr);
		if (r < 0) {
			report(s, "%s: %u of %u replicas: %s", it->path, have, want, why(r));
			goto out;
		}
		(*made)++;
		*bytes += rr.bytes;
		have++;
	}
	if (o->trim && have > want) {
		/* the count first, so that gfmd's repair does not make again
		 * what is removed here (it may remove extras itself: fine) */
		record_count(s, g, it, o->n);
		/* refresh: which hosts hold it now */
		if ((r = gfc_replicas(g, &s->cred, it->ino, rep)) < 0) {
			report(s, "%s: %s", it->path, strerror(-r));
			goto out;
		}
		/* down hosts' replicas first (they do not count), then the
		 * replicas on the hosts with the least free space */
		for (uint32_t pass = 0; pass < 2; pass++) {
			for (;;) {
				int pick = -1;
				uint64_t least = UINT64_MAX;
				for (uint32_t i = 0; i < rep->nreplicas; i++) {
					const struct gf_replica *x = &rep->replicas[i];
					const struct gf_host_info *h = host_by_id(s, x->host_id);
					int up = h && h->up;
					if (x->host_id == 0 || x->host_id == o->dst ||
					    (pass == 0 && up) || (pass == 1 && !up))
						continue;
					uint64_t fr = h ? h->free : 0;
					if (pass == 0 || fr < least) {
						least = fr;
						pick = (int)i;
					}
				}
				if (pick < 0 || (pass == 1 && have <= want))
					break;
				struct gfm_replica_drop_req m = {
					.cred = s->cred, .ino = it->ino,
					.host_id = rep->replicas[pick].host_id, .keep = want };
				r = gfc_replica_drop(g, &m);
				if (r == -EMLINK)
					goto trimmed; /* at the count already (gfmd's repair) */
				if (r < 0 && r != -ENOENT) {
					report(s, "%s: removing the replica on %s: %s", it->path,
					       host_name(s, m.host_id), why(r));
					goto out;
				}
				rep->replicas[pick].host_id = 0; /* done with it */
				if (r == 0) {
					(*removed)++;
					if (pass == 1)
						have--;
				}
			}
		}
	}
trimmed:
	*already = *made == 0 && *removed == 0;
	r = 0;
	if (o->n)
		record_count(s, g, it, o->n);
out:
	free(rep);
	return r;
}

static void *worker(void *arg)
{
	struct state *s = arg;
	char errbuf[512] = "";
	struct gfc *g = NULL;
	int r = gfc_new(s->cfg, GF_PEER_ADMIN, &g, errbuf, sizeof(errbuf));
	if (r == 0)
		r = gfc_connect(g, errbuf, sizeof(errbuf));
	for (;;) {
		pthread_mutex_lock(&s->mu);
		size_t k = s->next < s->nitems ? s->next++ : SIZE_MAX;
		pthread_mutex_unlock(&s->mu);
		if (k == SIZE_MAX)
			break;
		uint32_t made = 0, removed = 0;
		uint64_t bytes = 0;
		int already = 0, rc = r;
		if (rc < 0)
			report(s, "%s: %s", s->items[k].path, errbuf[0] ? errbuf : strerror(-rc));
		else
			rc = one(s, g, &s->items[k], &made, &removed, &bytes, &already);
		pthread_mutex_lock(&s->mu);
		s->done++;
		if (rc < 0) {
			s->failed++;
		} else {
			s->ok++;
			s->already += already;
		}
		s->made += made;
		s->removed += removed;
		s->bytes += bytes;
		draw(s);
		pthread_mutex_unlock(&s->mu);
	}
	if (g)
		gfc_free(g);
	return NULL;
}

/* ---- the files -------------------------------------------------------------------- */

static int add_item(struct state *s, uint64_t ino, const char *path)
{
	if (s->nitems == s->capitems) {
		size_t cap = s->capitems ? s->capitems * 2 : 64;
		struct item *v = realloc(s->items, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->items = v;
		s->capitems = cap;
	}
	if (!(s->items[s->nitems].path = strdup(path)))
		return -ENOMEM;
	s->items[s->nitems++].ino = ino;
	return 0;
}

/* Every regular file below directory ino (named path), depth first. */
static int walk(struct state *s, struct gfc *g, uint64_t ino, const char *path, int depth)
{
	uint64_t cookie = 0;
	int r = 0, bad = 0;
	if (depth > 256) {
		cmd_err(&cmd, "%s: too deep", path);
		return -ELOOP;
	}
	for (;;) {
		struct gfm_readdir_rep d = { 0 };
		if ((r = gfc_readdir(g, &s->cred, ino, cookie, GF_READDIR_MAX, &d)) < 0) {
			cmd_err(&cmd, "%s: %s", path, strerror(-r));
			return r;
		}
		for (uint32_t i = 0; i < d.count && r == 0; i++) {
			const struct gfm_dirent *e = &d.ents[i];
			cookie = e->cookie;
			if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
				continue;
			size_t n = strlen(path) + strlen(e->name) + 2;
			char *sub = malloc(n);
			if (!sub) {
				r = -ENOMEM;
				break;
			}
			snprintf(sub, n, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
				 e->name);
			if (S_ISDIR(e->attr.mode))
				bad |= walk(s, g, e->attr.ino, sub, depth + 1) < 0;
			else if (S_ISREG(e->attr.mode))
				r = add_item(s, e->attr.ino, sub);
			free(sub);
		}
		int eof = d.eof || d.count == 0;
		gfm_readdir_rep_free(&d);
		if (r < 0) {
			cmd_err(&cmd, "%s: %s", path, strerror(-r));
			return r;
		}
		if (eof)
			break;
	}
	return bad ? -EIO : 0;
}

static int host_id_of(const struct state *s, const char *name, uint32_t *id)
{
	for (uint32_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i].name, name) == 0) {
			*id = s->hosts[i].host_id;
			return 0;
		}
	return -ENOENT;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "number", required_argument, NULL, 'N' },
		{ "destination", required_argument, NULL, 'D' },
		{ "source", required_argument, NULL, 'S' },
		{ "remove-extra", no_argument, NULL, 'x' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .jobs = 4 };
	struct state s;
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	int opt, bad = 0;
	char *end;

	cmd_init(&cmd, argc, argv);
	while ((opt = cmd_getopt(&cmd, argc, argv, "N:D:S:xrj:q", longopts)) != -1) {
		switch (opt) {
		case 'N': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > GF_MAX_REPLICAS)
				cmd_usage(&cmd, "-N wants a number from 1 to %d, not '%s'",
					  GF_MAX_REPLICAS, optarg);
			o.n = (uint32_t)v;
			break;
		}
		case 'j': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > JOBS_MAX)
				cmd_usage(&cmd, "-j wants a number from 1 to %d, not '%s'", JOBS_MAX,
					  optarg);
			o.jobs = (int)v;
			break;
		}
		case 'D': o.dst_name = optarg; break;
		case 'S': o.src_name = optarg; break;
		case 'x': o.trim = 1; break;
		case 'r': o.recursive = 1; break;
		case 'q': o.quiet = 1; break;
		default: cmd_usage(&cmd, "unknown option");
		}
	}
	if (!o.n && !o.dst_name)
		cmd_usage(&cmd, "say how many replicas (-N) or where (-D)");
	if (o.trim && !o.n)
		cmd_usage(&cmd, "-x needs -N");
	if (o.src_name && o.dst_name && strcmp(o.src_name, o.dst_name) == 0)
		cmd_usage(&cmd, "-S and -D name the same host");
	if (optind >= argc)
		cmd_usage(&cmd, "no PATH given");

	memset(&s, 0, sizeof(s));
	s.o = &o;
	pthread_mutex_init(&s.mu, NULL);
	sched_cred_self(&s.cred);
	if (cmd_open(&cmd, 1, &cfg, &g) < 0)
		return CMD_FAIL;
	s.cfg = cfg;
	struct gfm_host_list_rep hl = { 0 };
	int r = gfc_host_list(g, &hl);
	if (r < 0) {
		cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
		goto fail;
	}
	s.hosts = hl.hosts;
	s.nhosts = hl.count;
	if (o.dst_name && host_id_of(&s, o.dst_name, &o.dst) < 0) {
		cmd_err(&cmd, "-D %s: no such host (see gfhost)", o.dst_name);
		goto fail;
	}
	if (o.src_name && host_id_of(&s, o.src_name, &o.src) < 0) {
		cmd_err(&cmd, "-S %s: no such host (see gfhost)", o.src_name);
		goto fail;
	}
	if (o.dst && !host_by_id(&s, o.dst)->up)
		cmd_err(&cmd, "warning: -D %s: its gfsd is down", o.dst_name);
	uint32_t nup = 0;
	for (uint32_t i = 0; i < s.nhosts; i++)
		nup += s.hosts[i].up != 0;
	if (o.n > nup)
		cmd_err(&cmd, "warning: %u replicas asked, but only %u host%s up", o.n, nup,
			nup == 1 ? " is" : "s are");

	/* the files */
	for (int i = optind; i < argc; i++) {
		uint64_t ino;
		struct gf_attr a;
		if (sched_resolve(&cmd, g, &s.cred, argv[i], &ino) < 0) {
			bad = 1;
			continue;
		}
		if ((r = gfc_getattr(g, &s.cred, ino, &a)) < 0) {
			cmd_err(&cmd, "%s: %s", argv[i], strerror(-r));
			bad = 1;
			continue;
		}
		if (S_ISDIR(a.mode)) {
			if (!o.recursive) {
				cmd_err(&cmd, "%s: is a directory (use -r)", argv[i]);
				bad = 1;
			} else if (walk(&s, g, ino, argv[i], 0) < 0) {
				bad = 1;
			}
		} else if (S_ISREG(a.mode)) {
			if (add_item(&s, ino, argv[i]) < 0) {
				cmd_err(&cmd, "%s", strerror(ENOMEM));
				return CMD_FAIL;
			}
		} else {
			cmd_err(&cmd, "%s: not a regular file", argv[i]);
			bad = 1;
		}
	}

	/* the work */
	s.progress = !o.quiet && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	int nth = o.jobs < (int)s.nitems ? o.jobs : (int)s.nitems;
	pthread_t th[JOBS_MAX];
	int started = 0;
	for (int i = 0; i < nth; i++) {
		if (pthread_create(&th[i], NULL, worker, &s) != 0)
			break;
		started++;
	}
	if (started == 0 && nth > 0)
		worker(&s); /* no thread to be had: do it here */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (s.progress_drawn)
		fputs("\r\033[K", stderr);
	if (!o.quiet) {
		char b[32], rate[32];
		double t = since(&s);
		human(s.bytes, b, sizeof(b));
		human(t > 0 ? (uint64_t)((double)s.bytes / t) : 0, rate, sizeof(rate));
		fprintf(stderr,
			"gfrep: %zu file%s: %zu complete already, %zu with new replicas, "
			"%zu failed; %zu replica%s made (%s in %.1f s, %s/s)",
			s.nitems, s.nitems == 1 ? "" : "s", s.already, s.ok - s.already,
			s.failed, s.made, s.made == 1 ? "" : "s", b, t, rate);
		if (o.trim)
			fprintf(stderr, ", %zu removed", s.removed);
		fputc('\n', stderr);
	}
	for (size_t i = 0; i < s.nitems; i++)
		free(s.items[i].path);
	free(s.items);
	gfm_host_list_rep_free(&hl);
	gfc_free(g);
	gf_config_free(cfg);
	return bad || s.failed ? CMD_FAIL : CMD_OK;
fail:
	gfm_host_list_rep_free(&hl);
	gfc_free(g);
	gf_config_free(cfg);
	return CMD_FAIL;
}
