/*
 * gfwhere — where the replicas of gfarmfs files are.
 */
#include <errno.h>
#include <inttypes.h>
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
	.name = "gfwhere",
	.synopsis = "  gfwhere [-c CONFIG] [-l] PATH...\n",
	.help =
	"NAME\n"
	"  gfwhere - show the hosts holding replicas of gfarmfs files\n"
	"\n"
	"SYNOPSIS\n"
	"  gfwhere [-c CONFIG] [-l] PATH...\n"
	"\n"
	"DESCRIPTION\n"
	"  For every PATH, gfwhere asks gfmd for the file's current replicas\n"
	"  (those holding its latest data) and prints one line:\n"
	"      PATH: HOST HOST ...\n"
	"  hosts whose gfsd is up first; a host whose gfsd is down is shown as\n"
	"  HOST(down). A file that was never written has no replica (\"-\").\n"
	"\n"
	"  A PATH is a file on a gfarmfs mount of this machine, or a path in the\n"
	"  namespace written gfarm:/DIR/FILE (no mount needed).\n"
	"\n"
	"OPTIONS\n"
	"  -l, --long\n"
	"      One line per replica, stale ones included, with columns PATH,\n"
	"      HOST, STATE (up or down), DATA (current, or stale: it holds an\n"
	"      older generation, left by a write elsewhere; never read, and\n"
	"      refreshed or removed by gfmd once the writer is done; or corrupt:\n"
	"      a block failed its checksum; never read, and replaced by a copy\n"
	"      of another replica), GEN (the\n"
	"      data generation it holds) and FILE (its spool file's generation,\n"
	"      in hex, as gfsd names it), after a header.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	"EXIT STATUS\n"
	"  0  every PATH was shown\n"
	"  1  some PATH could not be (each is reported), or a runtime error\n"
	"  2  usage error\n"
	"\n"
	CMD_HELP_ENVIRONMENT,
};

static int host_up(const struct gfm_host_list_rep *hl, uint32_t id)
{
	for (uint32_t i = 0; i < hl->count; i++)
		if (hl->hosts[i].host_id == id)
			return hl->hosts[i].up != 0;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const heads[] = { "PATH", "HOST", "STATE", "DATA", "GEN", "FILE" };
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	struct gf_cred cr;
	struct gfm_host_list_rep hl = { 0 };
	struct cmd_table t;
	int opt, lng = 0, bad = 0, r;

	cmd_init(&cmd, argc, argv);
	while ((opt = cmd_getopt(&cmd, argc, argv, "l", longopts)) != -1) {
		if (opt == 'l')
			lng = 1;
		else
			cmd_usage(&cmd, "unknown option");
	}
	if (optind >= argc)
		cmd_usage(&cmd, "no PATH given");
	sched_cred_self(&cr);
	if (cmd_open(&cmd, 1, &cfg, &g) < 0)
		return CMD_FAIL;
	if ((r = gfc_host_list(g, &hl)) < 0) {
		cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
		return CMD_FAIL;
	}
	struct gfm_open_rep *rep = malloc(sizeof(*rep));
	if (!rep) {
		cmd_err(&cmd, "%s", strerror(ENOMEM));
		return CMD_FAIL;
	}
	cmd_table_init(&t, 6, heads, "llllrl");
	for (int i = optind; i < argc; i++) {
		uint64_t ino;
		if (sched_resolve(&cmd, g, &cr, argv[i], &ino) < 0) {
			bad = 1;
			continue;
		}
		if ((r = (lng ? gfc_replicas_all : gfc_replicas)(g, &cr, ino, rep)) < 0) {
			cmd_err(&cmd, "%s: %s", argv[i], strerror(-r));
			bad = 1;
			continue;
		}
		if (!S_ISREG(rep->attr.mode)) {
			cmd_err(&cmd, "%s: not a regular file", argv[i]);
			bad = 1;
			continue;
		}
		if (lng) {
			for (uint32_t k = 0; k < rep->nreplicas; k++) {
				const struct gf_replica *x = &rep->replicas[k];
				char gen[24], file[24];
				snprintf(gen, sizeof(gen), "%" PRIu64, x->gen);
				snprintf(file, sizeof(file), "%016" PRIx64, x->fgen);
				const char *row[] = { argv[i], x->host,
						      host_up(&hl, x->host_id) ? "up" : "down",
						      x->gen == rep->attr.gen ? "current"
						      : x->gen == GF_GEN_CORRUPT ? "corrupt" : "stale",
						      gen, file };
				if (cmd_table_add(&t, row) < 0) {
					cmd_err(&cmd, "%s", strerror(ENOMEM));
					return CMD_FAIL;
				}
			}
			continue;
		}
		printf("%s:", argv[i]);
		if (rep->nreplicas == 0)
			printf(" -");
		for (uint32_t k = 0; k < rep->nreplicas; k++)
			printf(" %s%s", rep->replicas[k].host,
			       host_up(&hl, rep->replicas[k].host_id) ? "" : "(down)");
		printf("\n");
	}
	if (lng)
		cmd_table_print(&t, 1);
	cmd_table_free(&t);
	free(rep);
	gfm_host_list_rep_free(&hl);
	gfc_free(g);
	gf_config_free(cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_err(&cmd, "writing standard output: %s", strerror(errno));
		return CMD_FAIL;
	}
	return bad ? CMD_FAIL : CMD_OK;
}
