/*
 * daemon.h — what every daemon does at start and stop.
 *
 * Every daemon takes -c CONFIG, -f (foreground), -d (debug), -L LEVEL,
 * -l LOGFILE, -P PIDFILE, -h/--help, -V/--version. gf_daemonize detaches;
 * gf_pidfile_write records the pid; gf_signals_wait blocks until SIGTERM or
 * SIGINT (SIGPIPE is ignored; SIGHUP is ignored for now).
 *
 * A daemon's main() goes through struct gf_daemon:
 *
 *     struct gf_daemon d = { .name = "gfsd" };
 *     if ((rc = gf_daemon_parse_args(&d, argc, argv, usage_text)) >= 0)
 *             return rc;
 *     gf_daemon_load_config(&d);         config, options over it, logging
 *     ... read its own keys (gf_daemon_config_int), open what it serves ...
 *     gf_daemon_start(&d);               detach, block signals, pid file
 *     ... start threads ...
 *     gf_daemon_ready();
 *     gf_daemon_wait(&d);                until SIGTERM/SIGINT
 *     ... stop ...
 *     gf_daemon_finish(&d);              pid file gone, "stopped", freed
 *
 * Every failure in these is a start-up failure: it is logged (and printed
 * on stderr) as "NAME: ..." and the daemon exits 1 (gf_fatal).
 */
#ifndef GF_DAEMON_H
#define GF_DAEMON_H

#include "auth.h"

struct gf_config;

/* ---- the common options and start-up --------------------------------------- */

struct gf_daemon {
	const char *name;	 /* "gfmd", "gfsd": messages, log, --version */
	/* from the command line */
	const char *config_path; /* -c (required) */
	int foreground;		 /* -f, or -d */
	int debug;		 /* -d */
	const char *opt_level;	 /* -L */
	const char *opt_log;	 /* -l */
	const char *opt_pid;	 /* -P */
	/* from gf_daemon_load_config */
	struct gf_config *cfg;
	char *pid_path;		 /* pid_file made absolute, or NULL */
};

/* Parse the common options. -1: go on; otherwise the exit status for main:
 * 0 after printing usage_text (-h) or the version (-V), 1 after a bad
 * command line (said on stderr with the short usage). */
int gf_daemon_parse_args(struct gf_daemon *d, int argc, char **argv,
			 const char *usage_text);
/* Start logging at info, load d->config_path, put -L/-l/-P/-d over its
 * values, apply log_level and log_file, and resolve pid_file. */
void gf_daemon_load_config(struct gf_daemon *d);
/* An integer key of d->cfg; fatal when it is not a number in [min, max]. */
long long gf_daemon_config_int(const struct gf_daemon *d, const char *key, long long def,
			       long long min, long long max);
/* The shared secret named by key_file (required); fatal if unset or unusable. */
void gf_daemon_load_key(const struct gf_daemon *d, struct gf_key *key);
/* Detach unless in the foreground, block the signals (call before any
 * thread, so that all inherit the mask), write the pid file. */
void gf_daemon_start(struct gf_daemon *d);
/* Wait for SIGTERM or SIGINT and log that the daemon is stopping. */
int gf_daemon_wait(const struct gf_daemon *d);
/* Remove the pid file, log "stopped", free the configuration. */
void gf_daemon_finish(struct gf_daemon *d);

/* path made absolute against the current directory (malloc'ed; NULL when
 * out of memory): a relative path would break once gf_daemonize() has
 * changed to "/". */
char *gf_abspath(const char *path);

/* ---- the pieces -------------------------------------------------------------- */

/* Detach into the background (double fork, setsid, stdio to /dev/null
 * unless logging to stderr is wanted: then stderr is kept). 0 or -errno
 * in the child; the parent exits 0 once the child says it is ready
 * (gf_daemon_ready) or 1 if the child dies first. */
int gf_daemonize(void);
/* Tell the waiting parent that start-up worked. No-op in the foreground. */
void gf_daemon_ready(void);
/* Replace path with "PID\n" atomically (a reader never sees it empty). */
int gf_pidfile_write(const char *path);
/* Block SIGTERM/SIGINT/SIGHUP in the caller (call before starting threads),
 * ignore SIGPIPE. */
void gf_signals_block(void);
/* Wait until SIGTERM or SIGINT; returns the signal number. */
int gf_signals_wait(void);

#endif
