/*
 * gfsched — the hosts to run work on: those holding given files, best first,
 * or those to write new data to.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "proto.h"
#include "sched.h"

static struct cmd cmd = {
	.name = "gfsched",
	.synopsis =
	"  gfsched [-c CONFIG] [-n N] [--format=lines|slurm|json] PATH...\n"
	"  gfsched [-c CONFIG] -w [-n N] [--format=lines|slurm|json]\n",
	.help =
	"NAME\n"
	"  gfsched - which gfarmfs hosts to run work on, best first\n"
	"\n"
	"SYNOPSIS\n"
	"  gfsched [-c CONFIG] [-n N] [--format=lines|slurm|json] PATH...\n"
	"  gfsched [-c CONFIG] -w [-n N] [--format=lines|slurm|json]\n"
	"\n"
	"DESCRIPTION\n"
	"  With PATHs, gfsched asks gfmd where the replicas of those files are\n"
	"  and prints the hosts holding them, best first, so that work reading\n"
	"  them can run where the data already is:\n"
	"    1. most bytes of the given files held (a host is credited with a\n"
	"       file's size for holding a replica of it),\n"
	"    2. then lower 1-minute load average (in steps of 0.25),\n"
	"    3. then more free space in the gfsd spool,\n"
	"    4. then host name.\n"
	"  Only hosts whose gfsd is up are listed. When every replica of a file\n"
	"  is on a down host, gfsched says so on standard error, still prints\n"
	"  the hosts it found for the other files, and exits 1.\n"
	"\n"
	"  A PATH is either a file on a gfarmfs mount of this machine (absolute\n"
	"  or relative to the current directory; symbolic links are followed)\n"
	"  or a path in the file system's namespace written gfarm:/DIR/FILE,\n"
	"  looked up in gfmd directly (no mount needed). PATHs must be regular\n"
	"  files; the caller's uid and groups are sent to gfmd as for any\n"
	"  request.\n"
	"\n"
	"  With -w, gfsched prints the hosts to write new data to: every up\n"
	"  host, lower load first, then more free space.\n"
	"\n"
	"OPTIONS\n"
	"  -w, --write\n"
	"      Hosts for new data instead of hosts holding PATHs (no PATH).\n"
	"  -n, --max=N\n"
	"      Print at most N hosts (N >= 1).\n"
	"  --format=FORMAT\n"
	"      lines  one host name per line (the default)\n"
	"      slurm  host names on one line separated by commas, as Slurm's\n"
	"             --nodelist (and most batch schedulers' host lists) take\n"
	"      json   an array of objects: host, bytes, files, load, free,\n"
	"             capacity (bytes and files: of the given PATHs held)\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	"EXIT STATUS\n"
	"  0  success\n"
	"  1  runtime error (configuration, key, connection or server error; a\n"
	"     PATH that is missing, not a regular file or not on gfarmfs; every\n"
	"     replica of a PATH on down hosts; no up host for -w)\n"
	"  2  usage error\n"
	"\n"
	"EXAMPLES\n"
	"  gfsched /gfarm/scenes/s001.hdf\n"
	"  gfsched -n 1 gfarm:/scenes/s001.hdf\n"
	"  sbatch --nodelist=$(gfsched -n 1 --format=slurm in.dat) job.sh\n"
	"  gfsched -w -n 2\n",
};

enum format { FMT_LINES, FMT_SLURM, FMT_JSON };

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_hosts(const struct sched *s, size_t n, enum format fmt)
{
	if (fmt == FMT_JSON)
		putchar('[');
	for (size_t i = 0; i < n; i++) {
		const struct sched_host *h = &s->hosts[i];
		switch (fmt) {
		case FMT_LINES:
			printf("%s\n", h->name);
			break;
		case FMT_SLURM:
			printf("%s%s", i ? "," : "", h->name);
			break;
		case FMT_JSON:
			printf("%s\n  {\"host\": ", i ? "," : "");
			json_string(h->name);
			printf(", \"bytes\": %" PRIu64 ", \"files\": %" PRIu32
			       ", \"load\": %u.%03u, \"free\": %" PRIu64
			       ", \"capacity\": %" PRIu64 "}",
			       h->bytes, h->nfiles, h->load_milli / 1000, h->load_milli % 1000,
			       h->free, h->capacity);
			break;
		}
	}
	if (fmt == FMT_SLURM && n)
		putchar('\n');
	if (fmt == FMT_JSON)
		printf("%s]\n", n ? "\n" : "");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "write", no_argument, NULL, 'w' },
		{ "max", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'F' },
		{ 0 },
	};
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	struct sched s = { 0 };
	enum format fmt = FMT_LINES;
	int ch, write_mode = 0, rc = CMD_FAIL, partial = 0;
	unsigned long max = 0;
	char *end;

	cmd_init(&cmd, argc, argv);
	while ((ch = cmd_getopt(&cmd, argc, argv, "wn:", longopts)) != -1) {
		switch (ch) {
		case 'w':
			write_mode = 1;
			break;
		case 'n':
			errno = 0;
			max = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || max == 0 || optarg[0] == '-')
				cmd_usage(&cmd, "-n needs a whole number of hosts >= 1, not '%s'",
					  optarg);
			break;
		case 'F':
			if (strcmp(optarg, "lines") == 0)
				fmt = FMT_LINES;
			else if (strcmp(optarg, "slurm") == 0)
				fmt = FMT_SLURM;
			else if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else
				cmd_usage(&cmd, "unknown format '%s' (lines, slurm or json)",
					  optarg);
			break;
		default:
			cmd_usage(&cmd, "unexpected option");
		}
	}
	argc -= optind;
	argv += optind;
	if (write_mode && argc > 0)
		cmd_usage(&cmd, "-w takes no PATH");
	if (!write_mode && argc == 0)
		cmd_usage(&cmd, "give at least one PATH, or -w");

	if (cmd_open(&cmd, 1, &cfg, &g) < 0)
		return CMD_FAIL;
	if (sched_init(&s, &cmd, g) < 0)
		goto out;

	if (write_mode) {
		sched_rank_write(&s);
		if (s.nranked == 0) {
			cmd_err(&cmd, "no gfsd is up (see gfhost list)");
			goto out;
		}
	} else {
		for (int i = 0; i < argc; i++) {
			int r = sched_add_file(&s, argv[i]);
			if (r < 0)
				goto out;
			if (r > 0)
				partial = 1;
		}
		sched_rank_read(&s);
	}
	size_t n = s.nranked;
	if (max && n > max)
		n = max;
	print_hosts(&s, n, fmt);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_err(&cmd, "writing the output: %s", strerror(errno));
		goto out;
	}
	rc = partial ? CMD_FAIL : CMD_OK;
out:
	sched_free(&s);
	gfc_free(g);
	gf_config_free(cfg);
	return rc;
}
