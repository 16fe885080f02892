/*
 * gfkey — generate the shared secret key file every gfarmfs node holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "cmdutil.h"
#include "config.h"

static struct cmd cmd = {
	.name = "gfkey",
	.synopsis = "  gfkey [-c CONFIG] [-f] [FILE]\n",
	.help =
	"NAME\n"
	"  gfkey - generate a gfarmfs shared secret key file\n"
	"\n"
	"SYNOPSIS\n"
	"  gfkey [-c CONFIG] [-f] [FILE]\n"
	"\n"
	"DESCRIPTION\n"
	"  Writes a new random key to FILE with mode 0600. Every gfmd, gfsd,\n"
	"  client and command of one cluster authenticates with the same key,\n"
	"  so copy the file to every node (key_file in the configuration) and\n"
	"  keep it secret.\n"
	"\n"
	"  Without FILE, the key_file named in the configuration is written.\n"
	"  An existing file is left alone unless -f is given; with -f it is\n"
	"  replaced atomically (a new file is renamed over it), after which\n"
	"  every node needs the new key.\n"
	"\n"
	"OPTIONS\n"
	"  -f, --force\n"
	"      Replace FILE if it exists.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	CMD_HELP_EXIT_STATUS
	"\n"
	"EXAMPLES\n"
	"  gfkey /etc/gfarmfs.key\n"
	"  gfkey -c /etc/gfarmfs.conf -f\n",
};

/* Write a key next to path and rename it over path. */
static int replace_key(const char *path)
{
	char tmp[4096];
	int r;

	r = snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp); /* a leftover of an earlier run with the same pid */
	r = gf_key_generate(tmp);
	if (r < 0)
		return r;
	if (rename(tmp, path) != 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	struct gf_config *cfg = NULL;
	const char *path;
	int force = 0, ch, r, rc = CMD_FAIL;
	struct stat st;

	cmd_init(&cmd, argc, argv);
	while ((ch = cmd_getopt(&cmd, argc, argv, "f", longopts)) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
			break;
		default:
			cmd_usage(&cmd, "unexpected option");
		}
	}
	if (argc - optind > 1)
		cmd_usage(&cmd, "too many arguments");

	if (optind < argc) {
		path = argv[optind];
		if (!*path)
			cmd_usage(&cmd, "empty file name");
	} else {
		if (cmd_load_config(&cmd, &cfg) < 0)
			return CMD_FAIL;
		path = gf_config_str(cfg, "key_file", NULL);
		if (!path || !*path) {
			cmd_err(&cmd, "no FILE given and no key_file in %s",
				cmd_config_path(&cmd));
			goto out;
		}
	}

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		cmd_err(&cmd, "%s is a directory", path);
		goto out;
	}
	r = force ? replace_key(path) : gf_key_generate(path);
	if (r == -EEXIST && !force) {
		cmd_err(&cmd, "%s already exists (use -f to replace it)", path);
		goto out;
	}
	if (r < 0) {
		cmd_err(&cmd, "cannot write %s: %s", path, strerror(-r));
		goto out;
	}
	rc = CMD_OK;
out:
	gf_config_free(cfg);
	return rc;
}
