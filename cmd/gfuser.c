/*
 * gfuser / gfgroup — the user and group maps of gfmd (name ↔ global id).
 *
 * One source for both: built with -DGF_GFGROUP it is gfgroup and edits the
 * group map; otherwise gfuser and the user map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "idmap.h"
#include "proto.h"

#ifdef GF_GFGROUP
#define PROG "gfgroup"
#define KIND GF_IDMAP_GROUP
#define WHAT "group"
#define IDN "GID"
#define LOCALDB "/etc/group"
#define OTHER "gfuser"
#else
#define PROG "gfuser"
#define KIND GF_IDMAP_USER
#define WHAT "user"
#define IDN "UID"
#define LOCALDB "/etc/passwd"
#define OTHER "gfgroup"
#endif

static struct cmd cmd = {
	.name = PROG,
	.synopsis =
	"  " PROG " [-c CONFIG] [-H] [list]\n"
	"  " PROG " [-c CONFIG] [-r] add NAME " IDN "\n"
	"  " PROG " [-c CONFIG] del NAME\n",
	.help =
	"NAME\n"
	"  " PROG " - show and change gfarmfs's " WHAT " map (" WHAT " name <-> global " IDN ")\n"
	"\n"
	"SYNOPSIS\n"
	"  " PROG " [-c CONFIG] [-H] [list]\n"
	"  " PROG " [-c CONFIG] [-r] add NAME " IDN "\n"
	"  " PROG " [-c CONFIG] del NAME\n"
	"\n"
	"DESCRIPTION\n"
	"  In gfarmfs, as in Gfarm, identities are global by name. gfmd keeps a\n"
	"  " WHAT " map that gives each " WHAT " name one global " IDN ", and owners are\n"
	"  stored as global ids. Every mount translates through the names, so\n"
	"  nodes whose " LOCALDB " number the same " WHAT "s differently still agree\n"
	"  on who owns what:\n"
	"    - requests: the caller's local " IDN " -> its local name -> the global " IDN "\n"
	"      when that name is in the map; otherwise the local " IDN " as it is.\n"
	"    - attributes: a global " IDN " -> its name in the map -> the local " IDN "\n"
	"      of that name when this node has it; otherwise the global " IDN " as it\n"
	"      is (so after 'del', or on a node without that " WHAT ", ls shows the\n"
	"      raw number).\n"
	"  Names and ids not in the map pass through unchanged, so a cluster with\n"
	"  an empty map behaves as if there were none. " IDN " 0 is root's on every\n"
	"  node and is never mapped. Mounts load the map when they start, reload\n"
	"  it every 30 s, and at once (at most once a second) when they meet a\n"
	"  name or id the map lacks; so a change shows within a few seconds.\n"
	"  Changing a mapping does not rewrite the owners already stored: files\n"
	"  stay owned by the old global id. (" OTHER " edits the other map.)\n"
	"\n"
	"  list (the default) prints one line per " WHAT ", by name: NAME " IDN ".\n"
	"\n"
	"  add NAME " IDN " maps NAME to " IDN ". A name and an id each appear at most\n"
	"  once. Adding the same pair again does nothing; giving a mapped NAME\n"
	"  another id is refused unless -r is given. Only root may add.\n"
	"\n"
	"  del NAME removes NAME from the map. Only root may delete.\n"
	"\n"
	"  NAME is 1 to 32 characters of A-Z a-z 0-9 . _ -, not starting with\n"
	"  '-'. " IDN " is a number from 1 to 4294967294.\n"
	"\n"
	"OPTIONS\n"
	"  -H, --no-header\n"
	"      list: do not print the header line.\n"
	"  -r, --replace\n"
	"      add: give an already mapped NAME the new " IDN ".\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	"  The configuration gives gfmd_host, gfmd_port (default 6600) and\n"
	"  key_file.\n"
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	CMD_HELP_EXIT_STATUS
	"  Changing the map as a user other than root fails with status 1:\n"
	"  \"" PROG ": permission denied (only root may change the " WHAT " map)\".\n"
	"\n"
	"EXAMPLES\n"
	"  " PROG " add alice 5001      # alice is " IDN " 5001 cluster-wide\n"
	"  " PROG " -r add alice 5002   # renumber her\n"
	"  " PROG " -H | awk '$1 == \"alice\" { print $2 }'\n"
	"  " PROG " del alice\n",
};

static int no_header;
static int replace;

static void cred_self(struct gf_cred *cr)
{
	memset(cr, 0, sizeof(*cr));
	cr->uid = (uint32_t)getuid();
	cr->gid = (uint32_t)getgid();
}

static int perm_denied(void)
{
	cmd_err(&cmd, "permission denied (only root may change the " WHAT " map)");
	return CMD_FAIL;
}

static int list_main(struct gfc *g, int argc, char **argv)
{
	static const char *const heads[] = { "NAME", IDN };
	struct gfm_idmap_list_rep l = { 0 };
	struct cmd_table t;
	int r, rc = CMD_FAIL;

	r = gfc_idmap_list(g, &l);
	if (r < 0) {
		cmd_err(&cmd, WHAT " map from gfmd: %s", strerror(-r));
		return CMD_FAIL;
	}
	cmd_table_init(&t, 2, heads, "lr");
	for (uint32_t i = 0; i < l.count; i++) {
		char id[16];
		if (l.ents[i].kind != KIND)
			continue;
		snprintf(id, sizeof(id), "%" PRIu32, l.ents[i].id);
		const char *row[] = { l.ents[i].name, id };
		if (cmd_table_add(&t, row) < 0) {
			cmd_err(&cmd, "%s", strerror(ENOMEM));
			goto out;
		}
	}
	cmd_table_print(&t, !no_header);
	rc = CMD_OK;
out:
	cmd_table_free(&t);
	gfm_idmap_list_rep_free(&l);
	return rc;
}

/* After -EEXIST: say which of the two is taken. */
static void explain_exists(struct gfc *g, const char *name, uint32_t id)
{
	struct gfm_idmap_list_rep l = { 0 };

	if (gfc_idmap_list(g, &l) == 0) {
		for (uint32_t i = 0; i < l.count; i++) {
			const struct gf_idmap_ent *e = &l.ents[i];
			if (e->kind != KIND)
				continue;
			if (e->id == id && strcmp(e->name, name) != 0) {
				cmd_err(&cmd, IDN " %" PRIu32 " is already %s's", id, e->name);
				gfm_idmap_list_rep_free(&l);
				return;
			}
			if (strcmp(e->name, name) == 0 && e->id != id) {
				cmd_err(&cmd, "%s already has " IDN " %" PRIu32
					" (-r gives it the new one)", name, e->id);
				gfm_idmap_list_rep_free(&l);
				return;
			}
		}
		gfm_idmap_list_rep_free(&l);
	}
	cmd_err(&cmd, "%s or %" PRIu32 " is already mapped otherwise", name, id);
}

/* The ID operand of add, checked with the name before gfmd is contacted. */
static uint32_t add_id;

static void parse_add_id(const char *arg)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v >= UINT32_MAX)
		cmd_usage(&cmd, "'%s' is not a " IDN " from 1 to 4294967294", arg);
	add_id = (uint32_t)v;
}

static int add_main(struct gfc *g, int argc, char **argv)
{
	const char *name = argv[1];
	unsigned long long v = add_id;
	struct gf_cred cr;
	int r;

	cred_self(&cr);
	r = gfc_idmap_set(g, &cr, KIND, name, (uint32_t)v, replace);
	if (r == -EPERM)
		return perm_denied();
	if (r == -EEXIST) {
		explain_exists(g, name, (uint32_t)v);
		return CMD_FAIL;
	}
	if (r < 0) {
		cmd_err(&cmd, "add %s %llu: %s", name, v, strerror(-r));
		return CMD_FAIL;
	}
	return CMD_OK;
}

static int del_main(struct gfc *g, int argc, char **argv)
{
	struct gf_cred cr;
	int r;

	cred_self(&cr);
	r = gfc_idmap_del(g, &cr, KIND, argv[1]);
	if (r == -EPERM)
		return perm_denied();
	if (r == -ENOENT) {
		cmd_err(&cmd, "no " WHAT " named %s in the map (see " PROG " list)", argv[1]);
		return CMD_FAIL;
	}
	if (r < 0) {
		cmd_err(&cmd, "del %s: %s", argv[1], strerror(-r));
		return CMD_FAIL;
	}
	return CMD_OK;
}

static const struct cmd_sub subcommands[] = {
	{ "list", list_main, 1, 0, "list takes no arguments" },
	{ "add", add_main, 1, 2, "add needs NAME and " IDN },
	{ "del", del_main, 1, 1, "del needs one NAME" },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-header", no_argument, NULL, 'H' },
		{ "replace", no_argument, NULL, 'r' },
		{ 0 },
	};
	struct gf_config *cfg = NULL;
	struct gfc *g = NULL;
	int ch, rc;

	cmd_init(&cmd, argc, argv);
	while ((ch = cmd_getopt(&cmd, argc, argv, "Hr", longopts)) != -1) {
		switch (ch) {
		case 'H':
			no_header = 1;
			break;
		case 'r':
			replace = 1;
			break;
		default:
			cmd_usage(&cmd, "unexpected option");
		}
	}
	const struct cmd_sub *sub = cmd_subcommand(
		&cmd, subcommands, sizeof(subcommands) / sizeof(subcommands[0]), &argc, &argv);
	if (sub->nargs > 0) {
		int e = gf_idmap_check_name(argv[1]);
		if (e == -ENAMETOOLONG)
			cmd_usage(&cmd, "'%s': a " WHAT " name has at most %d characters",
				  argv[1], GF_IDMAP_NAME_MAX);
		if (e < 0)
			cmd_usage(&cmd, "'%s' is not a valid " WHAT " name (A-Z a-z 0-9 . _ -, "
				  "not starting with '-')", argv[1]);
	}
	if (sub->nargs == 2)
		parse_add_id(argv[2]);

	if (cmd_open(&cmd, sub->connect, &cfg, &g) < 0)
		return CMD_FAIL;
	rc = sub->fn(g, argc, argv);
	gfc_free(g);
	gf_config_free(cfg);
	return rc;
}
