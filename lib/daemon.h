/*
 * daemon.h — what every daemon does at start and stop.
 *
 * Every daemon takes -c CONFIG, -f (foreground), -d (debug), -L LEVEL,
 * -l LOGFILE, -P PIDFILE, -h/--help. gf_daemonize detaches; gf_pidfile_write
 * records the pid; gf_wait_for_signal blocks until SIGTERM or SIGINT
 * (SIGPIPE is ignored; SIGHUP is ignored for now).
 */
#ifndef GF_DAEMON_H
#define GF_DAEMON_H

/* Detach into the background (double fork, setsid, stdio to /dev/null
 * unless logging to stderr is wanted: then stderr is kept). 0 or -errno
 * in the child; the parent exits 0 once the child says it is ready
 * (gf_daemon_ready) or 1 if the child dies first. */
int gf_daemonize(void);
/* Tell the waiting parent that start-up worked. No-op in the foreground. */
void gf_daemon_ready(void);
int gf_pidfile_write(const char *path);
/* Block SIGTERM/SIGINT/SIGHUP in the caller (call before starting threads),
 * ignore SIGPIPE. */
void gf_signals_block(void);
/* Wait until SIGTERM or SIGINT; returns the signal number. */
int gf_signals_wait(void);

#endif
