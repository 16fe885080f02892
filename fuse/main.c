/*
 * main.c — mount.gfarmfs: mount a gfarmfs file system with FUSE.
 *
 *     mount.gfarmfs CONFIG MOUNTPOINT [-o opt,...] [-f] [-d] [-s]
 *
 * Also installed as "gfarmfs", which mount.fuse3 runs for
 * "mount -t fuse.gfarmfs CONFIG DIR" and fstab entries.
 *
 * gfmd is reached before the mount is made, so a bad configuration or an
 * unreachable gfmd fails the mount with a message and exit status 1, and
 * nothing is left mounted.
 */
#include "dirlease.h"
#include "ops.h"
#include "passthrough.h"
#include "uring.h"
#include "readpin.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "log.h"

#define PROG "mount.gfarmfs"

struct options {
	char *config;
	int nonopts;
	char *attr_timeout;
	char *entry_timeout;
	char *hostname;
	char *gfmd_timeout;
	char *gfsd_timeout;
	char *ncopy_wait;
	int passthrough; /* 0: from CONFIG; 1: -o passthrough; -1: -o nopassthrough */
	int uring; /* 0: from CONFIG; 1: -o uring; -1: -o nouring */
	int leases; /* 0: from CONFIG; 1: -o leases; -1: -o noleases */
	int no_default_permissions;
	int show_help;
	int show_version;
};

enum { KEY_NO_DEFAULT_PERMISSIONS, KEY_DISCARD, KEY_HELP, KEY_VERSION };
#define OPTV(t, p, v) { t, offsetof(struct options, p), v }

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt option_spec[] = {
	OPT("attr_timeout=%s", attr_timeout),
	OPT("entry_timeout=%s", entry_timeout),
	OPT("hostname=%s", hostname),
	OPT("gfmd_timeout=%s", gfmd_timeout),
	OPT("gfsd_timeout=%s", gfsd_timeout),
	OPT("ncopy_wait=%s", ncopy_wait),
	OPTV("passthrough", passthrough, 1),
	OPTV("nopassthrough", passthrough, -1),
	OPTV("uring", uring, 1),
	OPTV("nouring", uring, -1),
	OPTV("leases", leases, 1),
	OPTV("noleases", leases, -1),
	FUSE_OPT_KEY("no_default_permissions", KEY_NO_DEFAULT_PERMISSIONS),
	/* fstab/mount(8) words that mean nothing to a FUSE mount */
	FUSE_OPT_KEY("defaults", KEY_DISCARD),
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_KEY("comment=", KEY_DISCARD),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static int option_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct options *o = data;

	switch (key) {
	case KEY_NO_DEFAULT_PERMISSIONS:
		o->no_default_permissions = 1;
		return 0;
	case KEY_DISCARD:
		return 0;
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		/* CONFIG is ours; MOUNTPOINT goes on to fuse_parse_cmdline */
		if (o->nonopts++ == 0) {
			o->config = strdup(arg);
			return 0;
		}
		return 1;
	default:
		return 1;
	}
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: " PROG " CONFIG MOUNTPOINT [-o opt,...] [-f] [-d] [-s]\n"
		    "       " PROG " --help | --version\n");
}

static void help(void)
{
	usage(stdout);
	printf(
"\n"
"Mount the gfarmfs file system described by the configuration file CONFIG\n"
"on MOUNTPOINT. Metadata comes from gfmd (gfmd_host, gfmd_port in CONFIG);\n"
"file data from the gfsd holding each file, straight from the local disk\n"
"(through gfsd_socket) when this host holds a replica. Every connection is\n"
"authenticated with the shared key in key_file. gfmd checks permissions for\n"
"every request with the credentials of the calling process.\n"
"\n"
"Owners are global by name (see gfuser, gfgroup): a caller's local uid and\n"
"gids go to gfmd as the global ids of their names when gfmd's user and\n"
"group maps hold those names, and owners come back as the local ids of the\n"
"names; anything not in the maps passes unchanged, and 0 is always root.\n"
"The maps are loaded at mount time and reloaded every idmap_refresh_ms\n"
"(CONFIG, default 30000), and at once, at most once a second, when a name\n"
"or id is missing from a non-empty map.\n"
"\n"
"gfmd is contacted before mounting: a bad configuration or an unreachable\n"
"gfmd fails with a message and exit status 1. Unless -f is given the file\n"
"system then runs in the background; it logs to log_file from CONFIG, or\n"
"nowhere once detached.\n"
"\n"
"Also installed as 'gfarmfs', so that\n"
"    mount -t fuse.gfarmfs CONFIG MOUNTPOINT\n"
"and fstab lines such as\n"
"    /etc/gfarmfs/gfarmfs.conf  /gfarm  fuse.gfarmfs  defaults,_netdev  0 0\n"
"work through mount.fuse3. Unmount with 'fusermount3 -u MOUNTPOINT' or\n"
"'umount MOUNTPOINT'.\n"
"\n"
"gfarmfs options:\n"
"    -o attr_timeout=SECS   how long the kernel caches attributes (default:\n"
"                           attr_timeout from CONFIG, else 1). Other clients'\n"
"                           changes may be seen this late.\n"
"    -o entry_timeout=SECS  how long it caches names, and names found\n"
"                           missing (default: the attribute timeout)\n"
"    -o hostname=NAME       this node's name as registered by its gfsd\n"
"                           (default: hostname from CONFIG, else\n"
"                           gethostname()); decides which replicas are local\n"
"    -o no_default_permissions\n"
"                           when run as root, do not add default_permissions\n"
"                           (gfmd still checks every request, POSIX ACLs\n"
"                           included; the kernel then neither checks nor\n"
"                           caches ACLs) and hold no directory leases\n"
"    -o gfmd_timeout=SECS   soft mount for gfmd: a call that has had no answer\n"
"                           SECS seconds after it began fails with EIO\n"
"                           (default: gfmd_timeout from CONFIG, else 0: hard)\n"
"    -o gfsd_timeout=SECS   the same for a gfsd holding data (default:\n"
"                           gfsd_timeout from CONFIG, else 0: hard)\n"
"    -o ncopy_wait=SECS     close(2) of a file written through this mount\n"
"                           returns once the file has its replica count\n"
"                           (user.gfarm.ncopy, see gfncopy), or fails with\n"
"                           EIO after SECS seconds (the copies go on; the\n"
"                           data is safe on the replicas made). Writing\n"
"                           again through the same descriptor afterwards\n"
"                           reopens the file for writing (default:\n"
"                           ncopy_wait from CONFIG, else 0: close returns\n"
"                           at once and gfmd makes the copies after it)\n"
"    -o passthrough, -o nopassthrough\n"
"                           whether the kernel may write a file straight to\n"
"                           its replica on this host (FUSE passthrough, Linux\n"
"                           6.9 and later, as root), with no request to the\n"
"                           mount per write: local-disk speed (default:\n"
"                           passthrough from CONFIG, yes or no, else yes).\n"
"                           Used for a writer whose replica is local and\n"
"                           that is the only open of its file on this mount\n"
"                           (not O_APPEND, O_DIRECT, a non-root writer of a\n"
"                           setuid file, nor with ncopy_wait); every other\n"
"                           open of that file here shares it until the\n"
"                           writer closes. The user.gfarmfs.stats attribute\n"
"                           of the mount's root shows whether it is on\n"
"                           (passthrough 1) and how often it was used.\n"
"                           A reader passes through too, to a replica on\n"
"                           this host that the mount has read whole, checked\n"
"                           against its checksums and locked in memory (so\n"
"                           no block can be read from disk again unchecked):\n"
"                           a re-read then runs at the local page cache's\n"
"                           speed. read_pin_mb in CONFIG bounds the memory\n"
"                           so locked (MiB, default a tenth of the host's\n"
"                           memory; 0: off). Pins that no open file uses are\n"
"                           dropped first when that runs out, at once when\n"
"                           the replica changes or goes, and while the host\n"
"                           has less than read_pin_free_pct percent of its\n"
"                           memory available (default 10).\n"
"                           A replica not sealed yet (just written) passes\n"
"                           through to a reader too, locked in memory until\n"
"                           that reader closes.\n"
"    -o leases, -o noleases\n"
"                           whether this mount asks gfmd for directory\n"
"                           leases (below; default: leases from CONFIG, yes\n"
"                           or no, else yes)\n"
"    -o uring, -o nouring\n"
"                           whether the kernel may send this mount its\n"
"                           requests over io_uring (FUSE over io_uring,\n"
"                           Linux 6.14 and later, when the fuse module's\n"
"                           parameter enable_uring is Y): a queue per CPU,\n"
"                           served by uring_threads threads (CONFIG, 1 to\n"
"                           64, default 8) pinned to that CPU, so that a\n"
"                           request wakes no thread on another CPU (default:\n"
"                           uring from CONFIG, yes or no, else yes). Without\n"
"                           it, or when the kernel does not offer it, the\n"
"                           requests come through /dev/fuse. The attribute\n"
"                           user.gfarmfs.stats shows whether it runs\n"
"                           (uring 1) and the requests it carried\n"
"                           (uring_requests).\n"
"\n"
"When a server goes away or hangs. The mount is hard by default, like NFS:\n"
"a call to gfmd that cannot reach it, or whose connection breaks (gfmd\n"
"killed and restarted), is sent again on a new connection, waiting up to a\n"
"second between attempts, until gfmd answers; a call that gfmd leaves\n"
"unanswered (hung, stopped) is waited for. The log says once\n"
"'gfmd HOST:PORT not responding, still trying' (when it cannot be reached,\n"
"or after 10 s without an answer) and once 'gfmd HOST:PORT OK' when it\n"
"answers again. Mutations are applied exactly once even when sent again\n"
"after a crash of gfmd: no EEXIST for a create whose reply was lost, no\n"
"ENOENT for such an unlink. Writers wait for the gfsd holding their file\n"
"the same way and carry on where they were once it is back; readers move\n"
"to another replica, and wait while none answers. With gfmd_timeout or\n"
"gfsd_timeout (soft), such a call fails with EIO after SECS seconds\n"
"instead (never ETIMEDOUT, which applications do not expect from file\n"
"operations); a mutation that timed out may still have been applied.\n"
"\n"
"When run as root, allow_other and default_permissions are added, so that\n"
"every local user can use the mount and the kernel checks permission bits\n"
"and POSIX ACLs as well. fsname=gfarmfs,subtype=gfarmfs are set unless\n"
"given.\n"
"\n"
"Directory leases: with default_permissions, a mount that found two names\n"
"missing in a directory asks gfmd for that directory's lease (all its\n"
"names) and then answers \"no such file\" there itself, without a gfmd\n"
"round trip. gfmd takes a lease back before anyone else adds a name to\n"
"the directory, so another mount's create is seen at once; the mount drops\n"
"every lease when its connection to gfmd breaks. The counters are the\n"
"lease_* lines of the user.gfarmfs.stats attribute of the mount's root;\n"
"gfmd's lease_ms (0: none) sets the term.\n"
"\n"
"Options of mount(8) that mean nothing here (defaults, auto, noauto, user,\n"
"users, nouser, _netdev, nofail) are accepted and ignored.\n"
"\n"
"General options:\n"
"    -f                     stay in the foreground\n"
"    -d, -o debug           foreground, and log every FUSE request\n"
"    -s                     single-threaded\n"
"    -h, --help             this text\n"
"    -V, --version          print the version\n"
"\n"
"FUSE options (see mount.fuse3(8)):\n");
	fuse_lowlevel_help();
	printf(
"\n"
"Exit status: 0 after a clean unmount, 1 on any error.\n");
}

/* The user and group maps, from gfmd (lib/idmap.h). */
static int fetch_idmap(void *arg, struct gf_idmap_ent **ents, uint32_t *n)
{
	struct gfm_idmap_list_rep l;
	int r = gfc_idmap_list(arg, &l);

	if (r < 0)
		return r;
	*ents = l.ents;
	*n = l.count;
	return 0;
}

/* libfuse's own messages go where ours go (the log file once detached). */
static void fuse_log_to_gf(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	enum gf_log_level l = level <= FUSE_LOG_ERR ? GF_LOG_ERR
			      : level <= FUSE_LOG_WARNING ? GF_LOG_WARN
			      : level <= FUSE_LOG_INFO ? GF_LOG_INFO : GF_LOG_DEBUG;
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	gf_log(l, "fuse: %s", msg);
}

static int parse_seconds(const char *what, const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 86400) {
		fprintf(stderr, PROG ": %s=%s: not a number of seconds (0-86400)\n",
			what, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * SIGTERM, SIGINT and SIGHUP end the session (libfuse's handlers); ours run
 * first and cancel the client, so that calls waiting on a server that is
 * down (a hard mount) give up and the session can end.
 */
static struct gfc *signal_gfc;
static struct sigaction fuse_handler[3];
static const int stop_signals[3] = { SIGTERM, SIGINT, SIGHUP };

static void stop_handler(int sig)
{
	if (signal_gfc)
		gfc_cancel(signal_gfc);
	for (int i = 0; i < 3; i++)
		if (stop_signals[i] == sig && fuse_handler[i].sa_handler != SIG_DFL &&
		    fuse_handler[i].sa_handler != SIG_IGN)
			fuse_handler[i].sa_handler(sig);
}

static void chain_stop_handlers(struct gfc *gfc)
{
	struct sigaction sa;

	signal_gfc = gfc;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_handler;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(stop_signals[i], &sa, &fuse_handler[i]);
}

static int has_opt(const struct fuse_args *args, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 1; i < args->argc; i++) {
		const char *p = args->argv[i];

		if (strncmp(p, "-o", 2) != 0)
			continue;
		p += 2;
		if (!*p && i + 1 < args->argc)
			p = args->argv[i + 1];
		for (; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
			if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == ',' || !p[n]))
				return 1;
	}
	return 0;
}

/*
 * The kernel reads a FUSE file ahead 128 KiB at a time: a sequential
 * reader costs a READ request per 128 KiB. The mount's backing device info
 * says how far to read ahead (/sys/class/bdi/MAJ:MIN/read_ahead_kb, root
 * only), and READ requests carry up to GF_MAX_IO (1 MiB) each. INIT may
 * only lower it (the kernel keeps the smaller of its own and ours), so it
 * is set once the kernel took our INIT reply (gf_pt_after_init).
 */
static char read_ahead_path[96];
static char read_ahead_val[32];

static void set_read_ahead(void *arg)
{
	(void)arg;
	FILE *fp = fopen(read_ahead_path, "w");
	int bad = !fp;

	if (fp) {
		bad = fputs(read_ahead_val, fp) < 0;
		bad |= fclose(fp) != 0;
	}
	if (bad)
		gf_warn("cannot set read-ahead (%s): sequential reads go in 128 KiB requests",
			read_ahead_path);
}

/* Find the mount's device in mountinfo (a stat of the mount point would
 * wait for this very process) and arrange for read_ahead_kb to be set. */
static void want_read_ahead(const char *mountpoint, long long kb)
{
	char line[4096], dev[32] = "", *copy, *base, *dir, *real = NULL, *full = NULL;
	FILE *fp;

	if (kb <= 0 || !(copy = strdup(mountpoint)))
		return;
	base = strrchr(copy, '/');
	if (base && base[1]) {
		*base++ = 0;
		dir = copy[0] ? copy : "/";
	} else {
		base = copy;
		dir = ".";
	}
	if ((real = realpath(dir, NULL)) &&
	    asprintf(&full, "%s/%s", strcmp(real, "/") ? real : "", base) < 0)
		full = NULL;
	if (full && (fp = fopen("/proc/self/mountinfo", "r"))) {
		while (fgets(line, sizeof(line), fp)) {
			char mdev[32], mpoint[4096];
			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... (the last one wins) */
			if (sscanf(line, "%*s %*s %31s %*s %4095s", mdev, mpoint) == 2 &&
			    strcmp(mpoint, full) == 0 && strstr(line, " - fuse"))
				snprintf(dev, sizeof(dev), "%s", mdev);
		}
		fclose(fp);
	}
	free(full);
	free(real);
	free(copy);
	if (!dev[0]) {
		gf_warn("cannot find %s in /proc/self/mountinfo: read-ahead stays the kernel's",
			mountpoint);
		return;
	}
	snprintf(read_ahead_path, sizeof(read_ahead_path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	snprintf(read_ahead_val, sizeof(read_ahead_val), "%lld\n", kb);
	gf_pt_after_init(set_read_ahead, NULL);
}

/* read_pin_mb's default: a tenth of this host's memory. */
static long long default_pin_mb(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	return pages > 0 && page > 0 ? (long long)pages / 10 * page >> 20 : 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options opt = { 0 };
	struct fuse_cmdline_opts cmd = { 0 };
	struct fuse_session *se = NULL;
	struct gf_config *cfg = NULL;
	struct gfc *gfc = NULL, *lease_gfc = NULL;
	struct gf_fs fs = { 0 };
	struct gf_cred cr = { 0 };
	struct gf_attr root;
	char err[512];
	const char *s;
	int r, ret = 1, level;
	long long cfg_timeout, idmap_ms, read_ahead_kb, read_pin_mb, read_pin_free_pct;
	int use_uring, use_leases;
	unsigned uring_threads;

	if (fuse_opt_parse(&args, &opt, option_spec, option_proc) == -1)
		goto out;
	if (opt.show_help) {
		help();
		ret = 0;
		goto out;
	}
	if (opt.show_version) {
		printf(PROG " (gfarmfs) " PACKAGE_VERSION ", libfuse %s\n",
		       fuse_pkgversion());
		ret = 0;
		goto out;
	}
	/* before fuse_parse_cmdline, which would name the subtype after argv[0] */
	if (!has_opt(&args, "fsname"))
		fuse_opt_add_arg(&args, "-ofsname=gfarmfs");
	if (!has_opt(&args, "subtype"))
		fuse_opt_add_arg(&args, "-osubtype=gfarmfs");
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	if (!opt.config || !cmd.mountpoint) {
		usage(stderr);
		goto out;
	}

	gf_log_init(PROG, cmd.debug ? GF_LOG_DEBUG : GF_LOG_WARN);
	fuse_set_log_func(fuse_log_to_gf);
	r = gf_config_load(opt.config, &cfg, err, sizeof(err));
	if (r < 0) {
		if (err[0])
			fprintf(stderr, PROG ": %s\n", err);
		else
			fprintf(stderr, PROG ": %s: %s\n", opt.config, strerror(-r));
		goto out;
	}
	if (!cmd.debug && (s = gf_config_str(cfg, "log_level", NULL))) {
		level = gf_log_parse_level(s);
		if (level < 0) {
			fprintf(stderr, PROG ": %s: log_level %s: unknown level\n",
				opt.config, s);
			goto out;
		}
		gf_log_set_level(level);
	}
	if (opt.hostname && gf_config_set(cfg, "hostname", opt.hostname) < 0)
		goto out;
	if (opt.gfmd_timeout && gf_config_set(cfg, "gfmd_timeout", opt.gfmd_timeout) < 0)
		goto out;
	if (opt.gfsd_timeout && gf_config_set(cfg, "gfsd_timeout", opt.gfsd_timeout) < 0)
		goto out;
	if (opt.ncopy_wait && gf_config_set(cfg, "ncopy_wait", opt.ncopy_wait) < 0)
		goto out;

	r = 0;
	cfg_timeout = gf_config_int(cfg, "attr_timeout", 1, 0, 86400, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: attr_timeout: not a number of seconds\n",
			opt.config);
		goto out;
	}
	fs.attr_timeout = (double)cfg_timeout;
	r = 0;
	read_ahead_kb = gf_config_int(cfg, "read_ahead_kb", GF_MAX_IO / 1024, 0, 65536, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: read_ahead_kb: not a number of KiB from 0 to 65536\n",
			opt.config);
		goto out;
	}
	if (opt.attr_timeout && parse_seconds("attr_timeout", opt.attr_timeout,
					      &fs.attr_timeout) < 0)
		goto out;
	r = 0;
	read_pin_mb = gf_config_int(cfg, "read_pin_mb", default_pin_mb(), 0, 1 << 30, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: read_pin_mb: not a number of MiB from 0 to %d\n",
			opt.config, 1 << 30);
		goto out;
	}
	r = 0;
	read_pin_free_pct = gf_config_int(cfg, "read_pin_free_pct", 10, 0, 100, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: read_pin_free_pct: not a percentage from 0 to 100\n",
			opt.config);
		goto out;
	}
	r = 0;
	fs.ncopy_wait_s = (unsigned)gf_config_int(cfg, "ncopy_wait", 0, 0, 86400, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: ncopy_wait: not a number of seconds from 0 to 86400\n",
			opt.config);
		goto out;
	}
	if (gf_config_bool(cfg, "passthrough", 1, &fs.passthrough) < 0) {
		fprintf(stderr, PROG ": %s: passthrough '%s': expected yes or no\n",
			opt.config, gf_config_str(cfg, "passthrough", ""));
		goto out;
	}
	if (opt.passthrough)
		fs.passthrough = opt.passthrough > 0;
	if (gf_config_bool(cfg, "uring", 1, &use_uring) < 0) {
		fprintf(stderr, PROG ": %s: uring '%s': expected yes or no\n", opt.config,
			gf_config_str(cfg, "uring", ""));
		goto out;
	}
	if (opt.uring)
		use_uring = opt.uring > 0;
	if (gf_config_bool(cfg, "leases", 1, &use_leases) < 0) {
		fprintf(stderr, PROG ": %s: leases '%s': expected yes or no\n", opt.config,
			gf_config_str(cfg, "leases", ""));
		goto out;
	}
	if (opt.leases)
		use_leases = opt.leases > 0;
	r = 0;
	uring_threads = (unsigned)gf_config_int(cfg, "uring_threads", 8, 1, 64, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: uring_threads: not a number from 1 to 64\n",
			opt.config);
		goto out;
	}
	fs.entry_timeout = fs.attr_timeout;
	if (opt.entry_timeout && parse_seconds("entry_timeout", opt.entry_timeout,
					       &fs.entry_timeout) < 0)
		goto out;
	r = 0;
	idmap_ms = gf_config_int(cfg, "idmap_refresh_ms", GF_IDMAP_REFRESH_MS, 100,
				 86400000, &r);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: idmap_refresh_ms: not a number of milliseconds "
			"from 100\n", opt.config);
		goto out;
	}

	err[0] = 0;
	r = gfc_new(cfg, GF_PEER_CLIENT, &gfc, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s\n", opt.config, err[0] ? err : strerror(-r));
		goto out;
	}
	fs.gfc = gfc;
	gf_ops_attrcache(&fs);
	r = gfc_connect(gfc, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		goto out;
	}
	cr.uid = getuid();
	cr.gid = getgid();
	r = gfc_getattr(gfc, &cr, GF_ROOT_INO, &root);
	if (r < 0) {
		fprintf(stderr, PROG ": gfmd does not answer for the root directory: %s\n",
			strerror(-r));
		goto out;
	}
	fs.idmap = gf_idmap_new(NULL, fetch_idmap, gfc);
	if (!fs.idmap)
		goto out;
	if ((r = gf_idmap_refresh(fs.idmap)) < 0)
		gf_warn("cannot load the user and group maps from gfmd: %s (ids pass "
			"unchanged until a refresh succeeds)", strerror(-r));

	fs.no_kernel_checks = opt.no_default_permissions;
	if (geteuid() == 0) {
		if (!has_opt(&args, "allow_other"))
			fuse_opt_add_arg(&args, "-oallow_other");
		if (!opt.no_default_permissions && !has_opt(&args, "default_permissions"))
			fuse_opt_add_arg(&args, "-odefault_permissions");
	}
	fs.kernel_checks = has_opt(&args, "default_permissions");

	se = fuse_session_new(&args, &gf_fuse_ops, sizeof(gf_fuse_ops), &fs);
	fs.se = se;
	if (!se)
		goto out; /* libfuse said why (e.g. an unknown option) */
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	chain_stop_handlers(gfc);
	if (fuse_session_mount(se, cmd.mountpoint) != 0) {
		fprintf(stderr, PROG ": cannot mount on %s\n", cmd.mountpoint);
		goto out_signals;
	}
	/* our own io on /dev/fuse, to speak passthrough (it asks the kernel
	 * for it only when wanted; without it the mount works as before) */
	/* (backing files need CAP_SYS_ADMIN: a user's mount does not ask) */
	if ((r = gf_pt_install(se, fs.passthrough && geteuid() == 0)) < 0)
		gf_warn("cannot take over the FUSE device's io (%s): no passthrough",
			strerror(-r));
	else
		gf_uring_configure(se, use_uring, uring_threads);
	if (geteuid() == 0)
		want_read_ahead(cmd.mountpoint, read_ahead_kb);

	if ((s = gf_config_str(cfg, "log_file", NULL)) && (r = gf_log_open(s)) < 0)
		fprintf(stderr, PROG ": log_file %s: %s\n", s, strerror(-r));
	if (!cmd.foreground)
		/* the connection's receiver thread would not survive the fork */
		gfc_disconnect(gfc);
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;
	if (!cmd.foreground && gfc_connect(gfc, err, sizeof(err)) < 0)
		gf_warn("%s (will retry on first use)", err);
	/* after the fork: threads do not survive it */
	if ((r = gf_idmap_start(fs.idmap, (uint32_t)idmap_ms)) < 0)
		gf_warn("cannot start refreshing the user and group maps: %s", strerror(-r));
	/* readers pass through only where passthrough runs (root, wanted) */
	if (fs.passthrough && geteuid() == 0 &&
	    (r = readpin_init((uint64_t)read_pin_mb << 20, (unsigned)read_pin_free_pct)) < 0)
		gf_warn("cannot start the pinned replicas' sweeper (%s): readers read "
			"through the mount", strerror(-r));
	if ((r = gf_ops_start(&fs)) < 0)
		gf_warn("cannot start the writers' size publisher (other mounts see files "
			"grow only at close): %s", strerror(-r));
	/* directory leases: their recalls come on a connection of their own,
	 * which no request of the file system ever waits behind */
	if (fs.kernel_checks && use_leases) {
		char lerr[256] = "";
		if ((r = gfc_new(cfg, GF_PEER_CLIENT, &lease_gfc, lerr, sizeof(lerr))) < 0 ||
		    (r = gf_dirlease_start(gfc, lease_gfc)) < 0)
			gf_warn("no directory leases (every lookup asks gfmd): %s",
				lerr[0] ? lerr : strerror(-r));
	}

	gf_info("mounted on %s (host %s, local gfsd %s)", cmd.mountpoint,
		gfc_hostname(gfc), gfc_gfsd_socket(gfc) ? gfc_gfsd_socket(gfc) : "none");
	if (cmd.singlethread) {
		r = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();

		if (!lc)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)cmd.clone_fd);
		/* unset options come back as UINT_MAX: keep libfuse's defaults */
		if (cmd.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, cmd.max_idle_threads);
		if (cmd.max_threads != UINT_MAX && cmd.max_threads > 0)
			fuse_loop_cfg_set_max_threads(lc, cmd.max_threads);
		r = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	ret = r == 0 || r == SIGTERM || r == SIGINT || r == SIGHUP ? 0 : 1;
	/* unmounted: nothing waits for a server that is down any more */
	gfc_cancel(gfc);
	if (lease_gfc)
		gfc_cancel(lease_gfc);
	gf_dirlease_stop();
	gf_uring_stop();
	gf_ops_stop();
	readpin_shutdown();
	/* the file system is done: a late SIGTERM must not cut the clean-up
	 * short (fuse_remove_signal_handlers leaves these alone) */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	{
		struct gfc_stats st;

		gfc_get_stats(gfc, &st);
		gf_info("unmounting: read %llu local + %llu remote bytes, wrote %llu local "
			"+ %llu remote, %llu gfmd calls, %llu reconnects",
			(unsigned long long)st.read_local, (unsigned long long)st.read_remote,
			(unsigned long long)st.written_local,
			(unsigned long long)st.written_remote,
			(unsigned long long)st.gfmd_calls,
			(unsigned long long)st.gfmd_reconnects);
	}
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out:
	if (gfc)
		gfc_cancel(gfc); /* the idmap thread may wait for a gfmd that is down */
	gf_ops_stop();
	gf_idmap_free(fs.idmap); /* stops its thread before the client goes */
	signal_gfc = NULL;
	gf_dirlease_stop();
	gfc_free(lease_gfc);
	gfc_free(gfc);
	if (cfg)
		gf_config_free(cfg);
	free(cmd.mountpoint);
	free(opt.config);
	free(opt.attr_timeout);
	free(opt.entry_timeout);
	free(opt.hostname);
	free(opt.gfmd_timeout);
	free(opt.gfsd_timeout);
	free(opt.ncopy_wait);
	fuse_opt_free_args(&args);
	return ret;
}
