#include "cmdutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "proto.h"

#define MAX_LONGOPTS 32

void cmd_init(struct cmd *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	gf_log_init(c->name, GF_LOG_WARN);
}

void cmd_err(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

_Noreturn void cmd_usage(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (fmt) {
		fprintf(stderr, "%s: ", c->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Usage:\n%sTry '%s --help' for more information.\n",
		c->synopsis, c->name);
	exit(CMD_USAGE);
}

int cmd_getopt(struct cmd *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	static char sopts[128];
	static struct option lopts[MAX_LONGOPTS + 3];
	size_t n = 0;

	/* Leading ':' so that a missing argument is told apart from an
	 * unknown option; we print both messages ourselves. */
	snprintf(sopts, sizeof(sopts), ":c:h%s", shortopts ? shortopts : "");
	lopts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (const struct option *o = longopts; o && o->name && n < MAX_LONGOPTS + 2; o++)
		lopts[n++] = *o;
	lopts[n] = (struct option){ 0 };

	opterr = 0;
	for (;;) {
		int ch = getopt_long(argc, argv, sopts, lopts, NULL);
		switch (ch) {
		case 'c':
			if (!*optarg)
				cmd_usage(c, "-c needs a file name");
			c->config = optarg;
			continue;
		case 'h':
			fputs(c->help, stdout);
			exit(CMD_OK);
		case ':':
			if (optopt)
				cmd_usage(c, "option -%c needs an argument", optopt);
			cmd_usage(c, "option %s needs an argument", argv[optind - 1]);
		case '?':
			if (optopt)
				cmd_usage(c, "unknown option -%c", optopt);
			cmd_usage(c, "unknown option %s", argv[optind - 1]);
		default:
			return ch;
		}
	}
}

const char *cmd_config_path(const struct cmd *c)
{
	const char *env;

	if (c->config)
		return c->config;
	env = getenv("GFARMFS_CONFIG");
	if (env && *env)
		return env;
	return GF_SYSCONFDIR "/gfarmfs.conf";
}

int cmd_load_config(const struct cmd *c, struct gf_config **cfg)
{
	char errbuf[512] = "";
	const char *path = cmd_config_path(c);
	int r = gf_config_load(path, cfg, errbuf, sizeof(errbuf));

	if (r < 0) {
		if (errbuf[0])
			cmd_err(c, "configuration %s", errbuf);
		else
			cmd_err(c, "configuration %s: %s", path, strerror(-r));
		*cfg = NULL;
	}
	return r;
}

/* A client of gfmd as an admin peer, connected when connect is set. */
static int new_client(const struct cmd *c, const struct gf_config *cfg, int connect,
		      struct gfc **out)
{
	char errbuf[512] = "";
	struct gfc *g = NULL;
	int r;

	*out = NULL;
	r = gfc_new(cfg, GF_PEER_ADMIN, &g, errbuf, sizeof(errbuf));
	if (r < 0) {
		cmd_err(c, "%s", errbuf[0] ? errbuf : strerror(-r));
		return r;
	}
	if (connect && (r = cmd_gfmd_connect(c, g)) < 0) {
		gfc_free(g);
		return r;
	}
	*out = g;
	return 0;
}

int cmd_connect(const struct cmd *c, const struct gf_config *cfg, struct gfc **out)
{
	return new_client(c, cfg, 1, out);
}

int cmd_gfmd_connect(const struct cmd *c, struct gfc *g)
{
	char errbuf[512] = "";
	int r = gfc_connect(g, errbuf, sizeof(errbuf));

	if (r < 0)
		cmd_err(c, "%s", errbuf[0] ? errbuf : strerror(-r));
	return r;
}

int cmd_open(const struct cmd *c, int connect, struct gf_config **cfg, struct gfc **g)
{
	int r;

	*g = NULL;
	if ((r = cmd_load_config(c, cfg)) < 0)
		return r;
	if ((r = new_client(c, *cfg, connect, g)) < 0) {
		gf_config_free(*cfg);
		*cfg = NULL;
	}
	return r;
}

const struct cmd_sub *cmd_subcommand(const struct cmd *c, const struct cmd_sub *subs,
				     size_t n, int *argc, char ***argv)
{
	static char *dflt[2];
	size_t i;

	*argc -= optind;
	*argv += optind;
	if (*argc == 0) {
		dflt[0] = (char *)subs[0].name;
		*argc = 1;
		*argv = dflt;
	}
	for (i = 0; i < n; i++)
		if (strcmp((*argv)[0], subs[i].name) == 0)
			break;
	if (i == n)
		cmd_usage(c, "unknown subcommand '%s'", (*argv)[0]);
	if (*argc - 1 != subs[i].nargs)
		cmd_usage(c, "%s", subs[i].what);
	return &subs[i];
}

const char *cmd_human(char buf[16], uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, 16, "%llu", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (v < 10)
		snprintf(buf, 16, "%.1f%c", v, units[u]);
	else
		snprintf(buf, 16, "%.0f%c", v, units[u]);
	return buf;
}

void cmd_table_init(struct cmd_table *t, int ncols, const char *const *heads,
		    const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->heads = heads;
	t->align = align;
}

int cmd_table_add(struct cmd_table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **p = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = cap;
	}
	char **dst = t->cells + t->nrows * (size_t)t->ncols;
	for (int i = 0; i < t->ncols; i++) {
		dst[i] = strdup(row[i] ? row[i] : "");
		if (!dst[i]) {
			while (i-- > 0)
				free(dst[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

static void print_row(const struct cmd_table *t, const size_t *width,
		      const char *const *row)
{
	for (int i = 0; i < t->ncols; i++) {
		int last = i == t->ncols - 1;
		int w = (int)width[i];
		if (t->align[i] == 'r')
			printf("%*s", w, row[i]);
		else if (last)
			fputs(row[i], stdout);
		else
			printf("%-*s", w, row[i]);
		fputs(last ? "\n" : "  ", stdout);
	}
}

void cmd_table_print(const struct cmd_table *t, int header)
{
	size_t width[64] = { 0 };

	if (t->ncols > 64)
		return;
	for (int i = 0; i < t->ncols; i++) {
		if (header)
			width[i] = strlen(t->heads[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t n = strlen(t->cells[r * (size_t)t->ncols + i]);
			if (n > width[i])
				width[i] = n;
		}
	}
	if (header)
		print_row(t, width, t->heads);
	for (size_t r = 0; r < t->nrows; r++)
		print_row(t, width, (const char *const *)t->cells + r * (size_t)t->ncols);
}

void cmd_table_free(struct cmd_table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
