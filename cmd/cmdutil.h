/*
 * cmdutil.h — what every gf* command shares: option parsing with the common
 * options, help text, error messages and exit codes, loading the
 * configuration and connecting to gfmd.
 *
 * A command declares a struct cmd (its name and man-page help text), calls
 * cmd_getopt() in a loop for its own options (-c CONFIG and -h/--help are
 * handled here), then uses cmd_load_config() / cmd_connect(). Messages go to
 * stderr as "NAME: message". Exit codes:
 *     CMD_OK     0  success
 *     CMD_FAIL   1  runtime error (config, key, connection, server error)
 *     CMD_USAGE  2  bad command line
 */
#ifndef GF_CMDUTIL_H
#define GF_CMDUTIL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

struct gf_config;
struct gfc;

enum { CMD_OK = 0, CMD_FAIL = 1, CMD_USAGE = 2 };

struct cmd {
	const char *name;     /* program name for messages */
	const char *synopsis; /* one or more "name [options] ..." lines */
	const char *help;     /* full help: NAME, SYNOPSIS, DESCRIPTION, ... */
	const char *config;   /* -c value; NULL until given */
};

/* Text blocks a command's help can splice in. */
#define CMD_HELP_COMMON_OPTIONS                                                 \
	"  -c, --config=CONFIG\n"                                               \
	"      Read the configuration from CONFIG instead of $GFARMFS_CONFIG or,\n" \
	"      when that is not set, " GF_SYSCONFDIR "/gfarmfs.conf.\n"          \
	"  -h, --help\n"                                                        \
	"      Show this help and exit.\n"
#define CMD_HELP_GFMD_CONFIG                                                    \
	"  The configuration gives gfmd_host, gfmd_port (default 6600), key_file\n" \
	"  and hostname.\n"
#define CMD_HELP_EXIT_STATUS                                                  \
	"EXIT STATUS\n"                                                       \
	"  0  success\n"                                                      \
	"  1  runtime error (configuration, key, connection or server error)\n" \
	"  2  usage error\n"
#define CMD_HELP_ENVIRONMENT                                              \
	"ENVIRONMENT\n"                                                   \
	"  GFARMFS_CONFIG\n"                                              \
	"      Configuration file used when -c is not given.\n"

/* Set up logging (warnings and errors to stderr, prefixed with name). */
void cmd_init(struct cmd *c, int argc, char **argv);

/*
 * getopt_long with -c/--config and -h/--help added. Returns the next option
 * of the command's own (from shortopts/longopts, either may be empty/NULL),
 * or -1 at the end of the options (then optind indexes the first operand).
 * Prints help and exits 0 on -h; prints an error and exits 2 on an unknown
 * option or a missing argument.
 */
int cmd_getopt(struct cmd *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* "NAME: message\n" on stderr. */
void cmd_err(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Error, the synopsis and a hint at --help; exits CMD_USAGE. */
_Noreturn void cmd_usage(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* -c, else $GFARMFS_CONFIG, else GF_SYSCONFDIR "/gfarmfs.conf". */
const char *cmd_config_path(const struct cmd *c);
/* Load the configuration; on error says why and returns -errno. */
int cmd_load_config(const struct cmd *c, struct gf_config **cfg);
/* A client of gfmd as an admin peer, connected; on error says why. */
int cmd_connect(const struct cmd *c, const struct gf_config *cfg, struct gfc **out);
/* Connect a client made by cmd_open(c, 0, ...); on error says why. */
int cmd_gfmd_connect(const struct cmd *c, struct gfc *g);
/*
 * cmd_load_config(), then a client of gfmd as an admin peer, connected
 * unless connect is 0 (the command may then cmd_gfmd_connect() when it
 * needs gfmd). On error says why, frees what it made, leaves *cfg and *g
 * NULL and returns -errno.
 */
int cmd_open(const struct cmd *c, int connect, struct gf_config **cfg, struct gfc **g);

/*
 * Subcommands: "NAME [options] SUBCOMMAND OPERAND...". cmd_subcommand()
 * takes the operands after the options (from optind): the first names the
 * subcommand (without one, the first of subs, e.g. "list"). It moves
 * *argc and *argv so that argv[0] is the subcommand's name. Exits with a usage
 * error when the name is unknown or the number of operands is not nargs.
 */
struct cmd_sub {
	const char *name;
	int (*fn)(struct gfc *g, int argc, char **argv);
	int connect;	  /* cmd_open(c, connect, ...) before fn */
	int nargs;	  /* operands after the subcommand's name */
	const char *what; /* usage error when nargs does not match */
};
const struct cmd_sub *cmd_subcommand(const struct cmd *c, const struct cmd_sub *subs,
				     size_t n, int *argc, char ***argv);

/*
 * A text table printed with aligned columns separated by two spaces.
 * align holds one letter per column: 'l' (text) or 'r' (numbers).
 */
struct cmd_table {
	int ncols;
	const char *const *heads;
	const char *align;
	char **cells; /* nrows × ncols, strdup'ed */
	size_t nrows, cap;
};
void cmd_table_init(struct cmd_table *t, int ncols, const char *const *heads,
		    const char *align);
/* Append a row of ncols strings. 0 or -ENOMEM. */
int cmd_table_add(struct cmd_table *t, const char *const *row);
void cmd_table_print(const struct cmd_table *t, int header);
void cmd_table_free(struct cmd_table *t);

/* Human-readable size with a binary unit: "512", "1.5K", "37G". */
const char *cmd_human(char buf[16], uint64_t bytes);

#endif
