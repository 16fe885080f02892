/*
 * gfdf — space of the whole file system and of each I/O host.
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

static struct cmd cmd = {
	.name = "gfdf",
	.synopsis = "  gfdf [-c CONFIG] [-H] [-n]\n",
	.help =
	"NAME\n"
	"  gfdf - report gfarmfs disk space usage\n"
	"\n"
	"SYNOPSIS\n"
	"  gfdf [-c CONFIG] [-H] [-n]\n"
	"\n"
	"DESCRIPTION\n"
	"  Asks gfmd for every registered gfsd and prints, for each host, the\n"
	"  size of its spool file system, the space used, the space free and\n"
	"  the percentage used, then a TOTAL line summing the hosts that are up.\n"
	"  Hosts that are down are listed with their last known numbers and\n"
	"  STATE down, and are left out of the total. Sizes are in bytes unless\n"
	"  -H is given.\n"
	"\n"
	"OPTIONS\n"
	"  -H, --human-readable\n"
	"      Print sizes with binary units (1.5K, 37G, ...).\n"
	"  -n, --no-header\n"
	"      Do not print the header line.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_GFMD_CONFIG
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	CMD_HELP_EXIT_STATUS
	"\n"
	"EXAMPLES\n"
	"  gfdf -H\n"
	"  gfdf -n | awk '$1 == \"TOTAL\" { print $4 }'   # free bytes\n",
};

static int human;

static const char *size_str(char buf[32], uint64_t v)
{
	if (human)
		return cmd_human(buf, v);
	snprintf(buf, 32, "%" PRIu64, v);
	return buf;
}

/* Used share like df: rounded up, "-" for an empty file system. */
static const char *pct_str(char buf[8], uint64_t used, uint64_t cap)
{
	if (cap == 0) {
		strcpy(buf, "-");
		return buf;
	}
	unsigned pct = (unsigned)(((unsigned __int128)used * 100 + cap - 1) / cap);
	snprintf(buf, 8, "%u%%", pct);
	return buf;
}

static int by_id(const void *a, const void *b)
{
	const struct gf_host_info *x = a, *y = b;
	return (x->host_id > y->host_id) - (x->host_id < y->host_id);
}

static int add_row(struct cmd_table *t, const char *name, uint64_t cap,
		   uint64_t fr, const char *state)
{
	char c[32], u[32], f[32], p[8];
	uint64_t used = cap > fr ? cap - fr : 0;
	const char *row[] = { name, size_str(c, cap), size_str(u, used),
			      size_str(f, fr), pct_str(p, used, cap), state };
	return cmd_table_add(t, row);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "human-readable", no_argument, NULL, 'H' },
		{ "no-header", no_argument, NULL, 'n' },
		{ 0 },
	};
	static const char *const heads[] = { "HOST", "SIZE", "USED", "AVAIL",
					     "USE%", "STATE" };
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	struct gfm_host_list_rep hl = { 0 };
	struct cmd_table t;
	uint64_t tcap = 0, tfree = 0;
	unsigned nup = 0;
	int ch, r, header = 1, rc = CMD_FAIL;

	cmd_init(&cmd, argc, argv);
	cmd_table_init(&t, 6, heads, "lrrrrl");
	while ((ch = cmd_getopt(&cmd, argc, argv, "Hn", longopts)) != -1) {
		switch (ch) {
		case 'H':
			human = 1;
			break;
		case 'n':
			header = 0;
			break;
		default:
			cmd_usage(&cmd, "unexpected option");
		}
	}
	if (optind < argc)
		cmd_usage(&cmd, "unexpected argument '%s'", argv[optind]);

	if (cmd_open(&cmd, 1, &cfg, &g) < 0)
		return CMD_FAIL;
	r = gfc_host_list(g, &hl);
	if (r < 0) {
		cmd_err(&cmd, "host list from gfmd: %s", strerror(-r));
		goto out;
	}
	if (hl.count > 1) /* hosts is NULL when there are none */
		qsort(hl.hosts, hl.count, sizeof(*hl.hosts), by_id);

	for (uint32_t i = 0; i < hl.count; i++) {
		const struct gf_host_info *h = &hl.hosts[i];
		if (add_row(&t, h->name, h->capacity, h->free, h->up ? "up" : "down") < 0)
			goto nomem;
		if (h->up) {
			nup++;
			tcap += h->capacity;
			tfree += h->free < h->capacity ? h->free : h->capacity;
		}
	}
	char state[32];
	snprintf(state, sizeof(state), "up=%u/%" PRIu32, nup, hl.count);
	if (add_row(&t, "TOTAL", tcap, tfree, state) < 0)
		goto nomem;
	cmd_table_print(&t, header);
	rc = CMD_OK;
	goto out;
nomem:
	cmd_err(&cmd, "%s", strerror(ENOMEM));
out:
	cmd_table_free(&t);
	gfm_host_list_rep_free(&hl);
	gfc_free(g);
	gf_config_free(cfg);
	return rc;
}
