/*
 * gfncopy — show or set how many replicas files want (user.gfarm.ncopy).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "proto.h"
#include "sched.h"


static struct cmd cmd = {
	.name = "gfncopy",
	.synopsis = "  gfncopy [-c CONFIG] PATH...\n"
		    "  gfncopy [-c CONFIG] -s NUM [-r] PATH...\n"
		    "  gfncopy [-c CONFIG] -u [-r] PATH...\n",
	.help =
	"NAME\n"
	"  gfncopy - show or set the replica count of gfarmfs files and directories\n"
	"\n"
	"SYNOPSIS\n"
	"  gfncopy [-c CONFIG] PATH...\n"
	"  gfncopy [-c CONFIG] -s NUM [-r] PATH...\n"
	"  gfncopy [-c CONFIG] -u [-r] PATH...\n"
	"\n"
	"DESCRIPTION\n"
	"  A file's replica count is how many current replicas gfmd keeps of it\n"
	"  on different hosts: the number in its extended attribute\n"
	"  " GF_NCOPY_XATTR ", 1 without one. A file or directory created in a\n"
	"  directory that has the attribute gets it too, so a count set on a\n"
	"  directory holds for everything made below it afterwards (use -r for\n"
	"  what is already there).\n"
	"\n"
	"  gfmd makes the missing replicas in the background, the destination\n"
	"  gfsd copying from another: once the last writer of a file closed it,\n"
	"  when the count is set, and when a host holding a replica has been\n"
	"  down for gfmd's repair_delay_ms. Replicas beyond the count are\n"
	"  removed. gfwhere shows where a file's replicas are; gfrep makes them\n"
	"  at once, waiting for the copies.\n"
	"\n"
	"  Without -s or -u, gfncopy prints \"PATH: NUM\" for each PATH (\"PATH: -\"\n"
	"  when no count is set: one replica). The attribute is an ordinary user\n"
	"  xattr: setting it needs write permission on the file or directory,\n"
	"  and getfattr/setfattr on a mount show and set it too.\n"
	"\n"
	"  A PATH is a file or directory on a gfarmfs mount of this machine, or\n"
	"  a path in the namespace written gfarm:/DIR/FILE (no mount needed).\n"
	"\n"
	"OPTIONS\n"
	"  -s, --set=NUM\n"
	"      Set the count to NUM (1 to 64).\n"
	"  -u, --unset\n"
	"      Remove the count (back to one replica; existing extra replicas\n"
	"      stay until removed, e.g. with gfrep -N 1 -x).\n"
	"  -r, --recursive\n"
	"      With -s or -u, also every file and directory below a directory\n"
	"      PATH.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	"EXIT STATUS\n"
	"  0  success\n"
	"  1  some PATH failed (each is reported), or a runtime error\n"
	"  2  usage error\n"
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	"EXAMPLES\n"
	"  gfncopy -s 2 /gfarm/aster/L0     new raw files get two copies\n"
	"  gfncopy -s 2 -r /gfarm/aster/L0  and so do the ones already there\n",
};

struct job {
	struct gfc *g;
	struct gf_cred cr;
	int set, unset, recursive;
	char val[16];
	int bad;
};

static int apply(struct job *j, uint64_t ino, const char *path)
{
	int r = j->unset ? gfc_removexattr(j->g, &j->cr, ino, GF_NCOPY_XATTR)
			 : gfc_setxattr(j->g, &j->cr, ino, GF_NCOPY_XATTR, j->val, strlen(j->val), 0);
	if (r == -ENODATA && j->unset)
		r = 0;
	if (r < 0) {
		cmd_err(&cmd, "%s: %s", path, strerror(-r));
		j->bad = 1;
	}
	return r;
}

static void walk(struct job *j, uint64_t ino, const char *path, int depth)
{
	uint64_t cookie = 0;
	if (depth > 256) {
		cmd_err(&cmd, "%s: too deep", path);
		j->bad = 1;
		return;
	}
	for (;;) {
		struct gfm_readdir_rep d = { 0 };
		int r = gfc_readdir(j->g, &j->cr, ino, cookie, GF_READDIR_MAX, &d);
		if (r < 0) {
			cmd_err(&cmd, "%s: %s", path, strerror(-r));
			j->bad = 1;
			return;
		}
		for (uint32_t i = 0; i < d.count; i++) {
			const struct gfm_dirent *e = &d.ents[i];
			cookie = e->cookie;
			if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0 ||
			    !(S_ISDIR(e->attr.mode) || S_ISREG(e->attr.mode)))
				continue;
			size_t n = strlen(path) + strlen(e->name) + 2;
			char *sub = malloc(n);
			if (!sub) {
				j->bad = 1;
				break;
			}
			snprintf(sub, n, "%s/%s", path, e->name);
			apply(j, e->attr.ino, sub);
			if (S_ISDIR(e->attr.mode))
				walk(j, e->attr.ino, sub, depth + 1);
			free(sub);
		}
		int eof = d.eof || d.count == 0;
		gfm_readdir_rep_free(&d);
		if (eof)
			return;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "unset", no_argument, NULL, 'u' },
		{ "recursive", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct job j;
	struct gf_config *cfg = NULL;
	int opt;
	char *end;

	memset(&j, 0, sizeof(j));
	cmd_init(&cmd, argc, argv);
	while ((opt = cmd_getopt(&cmd, argc, argv, "s:ur", longopts)) != -1) {
		switch (opt) {
		case 's': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > GF_MAX_REPLICAS)
				cmd_usage(&cmd, "-s wants a number from 1 to %d, not '%s'",
					  GF_MAX_REPLICAS, optarg);
			snprintf(j.val, sizeof(j.val), "%lu", v);
			j.set = 1;
			break;
		}
		case 'u': j.unset = 1; break;
		case 'r': j.recursive = 1; break;
		default: cmd_usage(&cmd, "unknown option");
		}
	}
	if (j.set && j.unset)
		cmd_usage(&cmd, "-s and -u exclude each other");
	if (j.recursive && !j.set && !j.unset)
		cmd_usage(&cmd, "-r goes with -s or -u");
	if (optind >= argc)
		cmd_usage(&cmd, "no PATH given");
	sched_cred_self(&j.cr);
	if (cmd_open(&cmd, 1, &cfg, &j.g) < 0)
		return CMD_FAIL;
	for (int i = optind; i < argc; i++) {
		uint64_t ino;
		struct gf_attr a;
		int r;
		if (sched_resolve(&cmd, j.g, &j.cr, argv[i], &ino) < 0) {
			j.bad = 1;
			continue;
		}
		if ((r = gfc_getattr(j.g, &j.cr, ino, &a)) < 0) {
			cmd_err(&cmd, "%s: %s", argv[i], strerror(-r));
			j.bad = 1;
			continue;
		}
		if (!S_ISDIR(a.mode) && !S_ISREG(a.mode)) {
			cmd_err(&cmd, "%s: neither a regular file nor a directory", argv[i]);
			j.bad = 1;
			continue;
		}
		if (j.set || j.unset) {
			apply(&j, ino, argv[i]);
			if (j.recursive && S_ISDIR(a.mode))
				walk(&j, ino, argv[i], 0);
			continue;
		}
		char buf[32];
		size_t len = 0;
		r = gfc_getxattr(j.g, &j.cr, ino, GF_NCOPY_XATTR, buf, sizeof(buf) - 1, &len);
		if (r == -ENODATA) {
			printf("%s: -\n", argv[i]);
		} else if (r < 0) {
			cmd_err(&cmd, "%s: %s", argv[i], strerror(-r));
			j.bad = 1;
		} else {
			buf[len] = '\0';
			buf[strcspn(buf, "\n ")] = '\0';
			printf("%s: %s\n", argv[i], buf);
		}
	}
	gfc_free(j.g);
	gf_config_free(cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_err(&cmd, "writing standard output: %s", strerror(errno));
		return CMD_FAIL;
	}
	return j.bad ? CMD_FAIL : CMD_OK;
}
