/*
 * gfrun — run a command on the host that holds its input files, in the same
 * directory of the file system there.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "cmdutil.h"
#include "config.h"
#include "proto.h"
#include "sched.h"

static struct cmd cmd = {
	.name = "gfrun",
	.synopsis =
	"  gfrun [-c CONFIG] [-f INPUT]... [--host HOST] [-n] -- COMMAND [ARG...]\n",
	.help =
	"NAME\n"
	"  gfrun - run a command on the gfarmfs host that holds its input\n"
	"\n"
	"SYNOPSIS\n"
	"  gfrun [-c CONFIG] [-f INPUT]... [--host HOST] [-n] -- COMMAND [ARG...]\n"
	"\n"
	"DESCRIPTION\n"
	"  gfrun picks a host and runs COMMAND with its ARGs there, so that the\n"
	"  command reads its input from the local disk and the files it creates\n"
	"  are stored on that host:\n"
	"    - with -f INPUTs, the up host holding most bytes of them (ties: lower\n"
	"      load, then more free space), as the first line of gfsched INPUT...;\n"
	"    - without -f, the first host of gfsched -w (least loaded up host);\n"
	"    - with --host, HOST.\n"
	"  INPUTs are named as gfsched's PATHs: files on a local gfarmfs mount\n"
	"  (relative to the current directory) or gfarm:/DIR/FILE.\n"
	"\n"
	"  The host is reached through the configured launcher, a command prefix\n"
	"  in which %h stands for the host name (split on blanks; %% is a %):\n"
	"      launcher = ssh %h                 (the default)\n"
	"      launcher = ip netns exec gf-%h    (hosts in network namespaces)\n"
	"  gfrun runs\n"
	"      LAUNCHER... /bin/sh -c 'cd \"$1\" && shift && exec \"$@\"' gfrun DIR \\\n"
	"          COMMAND ARG...\n"
	"  so COMMAND and its ARGs reach the target exactly as given, never split\n"
	"  or expanded by a shell (when the launcher is ssh, which hands a command\n"
	"  line to the remote shell, gfrun quotes each word for it).\n"
	"\n"
	"  DIR is the current directory's place in the file system on the target:\n"
	"  the mount point there (configuration key mount_point, %h = the target\n"
	"  host, default /gfarm) followed by the current directory's path below\n"
	"  the root of the local gfarmfs mount that holds it (found in\n"
	"  /proc/self/mountinfo, else below mount_point with %h = this host).\n"
	"  When the current directory is not on gfarmfs, DIR is the target's\n"
	"  mount point.\n"
	"\n"
	"  Standard input, output and error are passed through; gfrun's exit\n"
	"  status is the command's (128+N when it was killed by signal N), as\n"
	"  far as the launcher passes it on.\n"
	"\n"
	"OPTIONS\n"
	"  -f, --input=INPUT\n"
	"      An input file; may be repeated.\n"
	"  --host=HOST\n"
	"      Run on HOST, whatever holds the inputs.\n"
	"  -n, --dry-run\n"
	"      Print the chosen host (\"host NAME\"), the directory (\"dir DIR\")\n"
	"      and the command line (\"command ...\", quoted for sh) instead of\n"
	"      running it.\n"
	CMD_HELP_COMMON_OPTIONS
	"\n"
	"  Options end at \"--\" or at the first word that is not an option.\n"
	"  The configuration gives gfmd_host, gfmd_port, key_file, hostname,\n"
	"  launcher and mount_point.\n"
	"\n"
	CMD_HELP_ENVIRONMENT
	"\n"
	"EXIT STATUS\n"
	"  The command's own exit status; 128+N when it died of signal N; 126 or\n"
	"  127 when the launcher cannot be run. Before running anything, gfrun\n"
	"  exits 1 on a runtime error (configuration, gfmd, an INPUT that is\n"
	"  missing or only on down hosts, no up host) and 2 on a usage error.\n"
	"\n"
	"EXAMPLES\n"
	"  gfrun -f scene.hdf -- bunzip2 -k scene.hdf.bz2\n"
	"  cd /gfarm/aster && gfrun -f l1a/s1 -- ./l1pge l1a/s1 l1b/s1\n"
	"  gfrun -n -f gfarm:/aster/l1a/s1 -- true\n",
};

#define RUN_SCRIPT "cd \"$1\" && shift && exec \"$@\""

/* Index of the first word of COMMAND: after "--", or the first operand. */
static int command_start(int argc, char **argv, int *options_end)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			*options_end = i;
			return i + 1;
		}
		if (a[0] != '-' || a[1] == '\0') {
			*options_end = i;
			return i;
		}
		/* options taking their argument in the next word */
		if (strcmp(a, "-c") == 0 || strcmp(a, "-f") == 0 ||
		    strcmp(a, "--config") == 0 || strcmp(a, "--input") == 0 ||
		    strcmp(a, "--host") == 0)
			i++;
	}
	*options_end = argc;
	return argc;
}

/* One word for sh: as is when safe, else single-quoted. */
static char *sh_quote(const char *w)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";
	size_t n = strlen(w), q = 0;

	if (n && strspn(w, safe) == n)
		return strdup(w);
	for (size_t i = 0; i < n; i++)
		q += w[i] == '\'';
	char *out = malloc(n + 3 * q + 3), *p = out;
	if (!out)
		return NULL;
	*p++ = '\'';
	for (size_t i = 0; i < n; i++) {
		if (w[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = w[i];
		}
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

/* Launcher words with %h = host, appended to args; -errno. */
static int split_launcher(const char *launcher, const char *host, char **args, int max,
			  int *n)
{
	char *copy = strdup(launcher), *save = NULL, *w;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char buf[PATH_MAX];
		if (*n >= max) {
			r = -E2BIG;
			break;
		}
		if ((r = sched_expand(w, host, buf, sizeof(buf))) < 0)
			break;
		if (!(args[(*n)++] = strdup(buf))) {
			r = -ENOMEM;
			break;
		}
	}
	free(copy);
	return r;
}

/*
 * The current directory's path below the root of the gfarmfs mount holding
 * it ("" at the root, or when it is not on gfarmfs) into rel.
 */
static void relative_cwd(const struct gf_config *cfg, char *rel, size_t relsz)
{
	char cwd[PATH_MAX], root[PATH_MAX];
	size_t n;

	rel[0] = '\0';
	if (!getcwd(cwd, sizeof(cwd)))
		return;
	if (sched_mount_root(cwd, root, sizeof(root)) < 0) {
		char *real = NULL;
		if (sched_expand(gf_config_str(cfg, "mount_point", "/gfarm"),
				 gf_config_hostname(cfg), root, sizeof(root)) < 0)
			return;
		real = realpath(root, NULL);
		if (!real)
			return;
		snprintf(root, sizeof(root), "%s", real);
		free(real);
	}
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';
	if (strcmp(root, "/") == 0)
		n = 0;
	if (strncmp(cwd, root, n) != 0 || (cwd[n] != '\0' && cwd[n] != '/'))
		return;
	snprintf(rel, relsz, "%s", cwd + n);
}

/* The host to run on: the best holder of the inputs, else the best place
 * to write. NULL after saying why. */
static char *choose_host(const struct gf_config *cfg, char **inputs, int ninputs)
{
	struct gfc *g = NULL;
	struct sched s = { 0 };
	char *host = NULL;
	int bad = 0;

	if (cmd_connect(&cmd, cfg, &g) < 0)
		return NULL;
	if (sched_init(&s, &cmd, g) < 0)
		goto out;
	for (int i = 0; i < ninputs; i++) {
		int r = sched_add_file(&s, inputs[i]);
		if (r != 0)
			bad = 1;
	}
	if (bad)
		goto out;
	if (ninputs) {
		sched_rank_read(&s);
		if (s.nranked == 0) /* inputs without any data anywhere */
			sched_rank_write(&s);
	} else {
		sched_rank_write(&s);
	}
	if (s.nranked == 0) {
		cmd_err(&cmd, "no gfsd is up (see gfhost list)");
		goto out;
	}
	host = strdup(s.hosts[0].name);
	if (!host)
		cmd_err(&cmd, "%s", strerror(ENOMEM));
out:
	sched_free(&s);
	gfc_free(g);
	return host;
}

static int run(char **args)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, oint, oquit;
	pid_t pid;
	int st;

	fflush(NULL);
	sigemptyset(&ign.sa_mask);
	/* like system(3): a ^C is for the command; we report how it ended */
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	pid = fork();
	if (pid < 0) {
		cmd_err(&cmd, "fork: %s", strerror(errno));
		return CMD_FAIL;
	}
	if (pid == 0) {
		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);
		execvp(args[0], args);
		int e = errno;
		cmd_err(&cmd, "cannot run launcher %s: %s", args[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			cmd_err(&cmd, "waitpid: %s", strerror(errno));
			return CMD_FAIL;
		}
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return CMD_FAIL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "input", required_argument, NULL, 'f' },
		{ "host", required_argument, NULL, 'H' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ 0 },
	};
	struct gf_config *cfg = NULL;
	char **inputs = NULL, **args = NULL, *host = NULL;
	char rel[PATH_MAX], mnt[PATH_MAX], dir[2 * PATH_MAX];
	int ch, ninputs = 0, dry = 0, rc = CMD_FAIL, nargs = 0, opt_end, cmd0, ncmd;
	const char *host_opt = NULL;

	cmd_init(&cmd, argc, argv);
	cmd0 = command_start(argc, argv, &opt_end);
	inputs = calloc((size_t)argc + 1, sizeof(*inputs));
	if (!inputs) {
		cmd_err(&cmd, "%s", strerror(ENOMEM));
		return CMD_FAIL;
	}
	while ((ch = cmd_getopt(&cmd, opt_end, argv, "f:n", longopts)) != -1) {
		switch (ch) {
		case 'f':
			if (!*optarg)
				cmd_usage(&cmd, "-f needs a file name");
			inputs[ninputs++] = optarg;
			break;
		case 'H':
			if (!*optarg)
				cmd_usage(&cmd, "--host needs a host name");
			host_opt = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		default:
			cmd_usage(&cmd, "unexpected option");
		}
	}
	if (optind < opt_end)
		cmd_usage(&cmd, "unexpected '%s' before the command", argv[optind]);
	ncmd = argc - cmd0;
	if (ncmd <= 0)
		cmd_usage(&cmd, "no COMMAND given (gfrun [options] -- COMMAND [ARG...])");

	if (cmd_load_config(&cmd, &cfg) < 0)
		goto out;
	const char *launcher = gf_config_str(cfg, "launcher", "ssh %h");
	const char *mount_point = gf_config_str(cfg, "mount_point", "/gfarm");

	host = host_opt ? strdup(host_opt) : choose_host(cfg, inputs, ninputs);
	if (!host)
		goto out;

	relative_cwd(cfg, rel, sizeof(rel));
	if (sched_expand(mount_point, host, mnt, sizeof(mnt)) < 0) {
		cmd_err(&cmd, "mount_point is too long");
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s%s", mnt, rel);

	int maxargs = 64 + 5 + ncmd + 1;
	args = calloc((size_t)maxargs, sizeof(*args));
	if (!args) {
		cmd_err(&cmd, "%s", strerror(ENOMEM));
		goto out;
	}
	int r = split_launcher(launcher, host, args, 64, &nargs);
	if (r < 0 || nargs == 0) {
		cmd_err(&cmd, "launcher \"%s\": %s", launcher,
			r < 0 ? strerror(-r) : "empty");
		goto out;
	}
	/* ssh joins its arguments into one line for the remote shell */
	const char *base = strrchr(args[0], '/');
	int quote = strcmp(base ? base + 1 : args[0], "ssh") == 0;
	const char *tail[5] = { "/bin/sh", "-c", RUN_SCRIPT, "gfrun", dir };
	for (int i = 0; i < 5 + ncmd; i++) {
		const char *w = i < 5 ? tail[i] : argv[cmd0 + i - 5];
		args[nargs] = quote ? sh_quote(w) : strdup(w);
		if (!args[nargs++]) {
			cmd_err(&cmd, "%s", strerror(ENOMEM));
			goto out;
		}
	}

	if (dry) {
		printf("host %s\ndir %s\ncommand", host, dir);
		for (int i = 0; i < nargs; i++) {
			char *q = sh_quote(args[i]);
			printf(" %s", q ? q : args[i]);
			free(q);
		}
		putchar('\n');
		rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
		goto out;
	}
	rc = run(args);
out:
	for (int i = 0; args && i < nargs; i++)
		free(args[i]);
	free(args);
	free(inputs);
	free(host);
	gf_config_free(cfg);
	return rc;
}
