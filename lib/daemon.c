#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ---- the common options and start-up --------------------------------------- */

static void usage_short(const struct gf_daemon *d)
{
	fprintf(stderr, "usage: %s -c CONFIG [-f] [-d] [-L LEVEL] [-l LOGFILE] [-P PIDFILE]\n"
			"       %s --help for more\n", d->name, d->name);
}

int gf_daemon_parse_args(struct gf_daemon *d, int argc, char **argv,
			 const char *usage_text)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log-file", required_argument, NULL, 'l' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:fdL:l:P:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': d->config_path = optarg; break;
		case 'f': d->foreground = 1; break;
		case 'd': d->debug = d->foreground = 1; break;
		case 'L': d->opt_level = optarg; break;
		case 'l': d->opt_log = optarg; break;
		case 'P': d->opt_pid = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("%s (gfarmfs) %s\n", d->name, PACKAGE_VERSION); return 0;
		default: usage_short(d); return 1;
		}
	}
	if (optind < argc || !d->config_path) {
		if (!d->config_path)
			fprintf(stderr, "%s: -c CONFIG is required\n", d->name);
		else
			fprintf(stderr, "%s: unexpected argument '%s'\n", d->name, argv[optind]);
		usage_short(d);
		return 1;
	}
	return -1;
}

void gf_daemon_load_config(struct gf_daemon *d)
{
	char errbuf[512] = "";
	int rc;

	gf_log_init(d->name, GF_LOG_INFO);
	rc = gf_config_load(d->config_path, &d->cfg, errbuf, sizeof(errbuf));
	if (rc < 0)
		gf_fatal("%s: %s", d->name, errbuf[0] ? errbuf : strerror(-rc));
	struct gf_config *cfg = d->cfg;
	if ((d->opt_level && gf_config_set(cfg, "log_level", d->opt_level)) ||
	    (d->opt_log && gf_config_set(cfg, "log_file", d->opt_log)) ||
	    (d->opt_pid && gf_config_set(cfg, "pid_file", d->opt_pid)) ||
	    (d->debug && gf_config_set(cfg, "log_level", "debug")))
		gf_fatal("%s: out of memory", d->name);

	const char *level_s = gf_config_str(cfg, "log_level", "info");
	int level = gf_log_parse_level(level_s);
	if (level < 0)
		gf_fatal("%s: log_level %s: expected error, warn, info or debug", d->name,
			 level_s);
	gf_log_set_level((enum gf_log_level)level);
	const char *log_file = gf_config_str(cfg, "log_file", NULL);
	if (log_file && *log_file && (rc = gf_log_open(log_file)) < 0)
		gf_fatal("%s: log file %s: %s", d->name, log_file, strerror(-rc));
	const char *pid_file = gf_config_str(cfg, "pid_file", NULL);
	if (pid_file && *pid_file && !(d->pid_path = gf_abspath(pid_file)))
		gf_fatal("%s: out of memory", d->name);
}

long long gf_daemon_config_int(const struct gf_daemon *d, const char *key, long long def,
			       long long min, long long max)
{
	int err = 0;
	long long v = gf_config_int(d->cfg, key, def, min, max, &err);
	if (err)
		gf_fatal("%s: %s = %s: not a number in [%lld, %lld]", d->name, key,
			 gf_config_str(d->cfg, key, ""), min, max);
	return v;
}

void gf_daemon_load_key(const struct gf_daemon *d, struct gf_key *key)
{
	const char *key_file = gf_config_str(d->cfg, "key_file", NULL);
	if (!key_file || !*key_file)
		gf_fatal("%s: %s: 'key_file' is not set", d->name, d->config_path);
	int rc = gf_key_load(key_file, key);
	if (rc < 0)
		gf_fatal("%s: key file %s: %s", d->name, key_file,
			 rc == -EINVAL ? "shorter than 32 bytes" : strerror(-rc));
}

char *gf_abspath(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	size_t n = strlen(cwd) + strlen(path) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", cwd, path);
	return s;
}

void gf_daemon_start(struct gf_daemon *d)
{
	int rc;

	if (!d->foreground && (rc = gf_daemonize()) < 0)
		gf_fatal("%s: cannot detach: %s", d->name, strerror(-rc));
	gf_signals_block(); /* before any thread, so that all inherit the mask */
	if (d->pid_path && (rc = gf_pidfile_write(d->pid_path)) < 0)
		gf_fatal("%s: pid file %s: %s", d->name, d->pid_path, strerror(-rc));
}

int gf_daemon_wait(const struct gf_daemon *d)
{
	int sig = gf_signals_wait();
	gf_info("%s: %s: stopping", d->name, strsignal(sig));
	return sig;
}

void gf_daemon_finish(struct gf_daemon *d)
{
	if (d->pid_path)
		unlink(d->pid_path);
	gf_info("%s: stopped", d->name);
	free(d->pid_path);
	d->pid_path = NULL;
	gf_config_free(d->cfg);
	d->cfg = NULL;
}

/* ---- the pieces -------------------------------------------------------------- */

static int ready_fd = -1; /* write end of the pipe to the waiting parent */

int gf_daemonize(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		/* Parent: wait for the grandchild's word, then exit with it. */
		close(p[1]);
		char c = 0;
		ssize_t n;
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		waitpid(pid, NULL, 0);
		_exit(n == 1 && c == 'R' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	ready_fd = p[1];
	if (chdir("/") != 0)
		return -errno;
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		/* stderr stays until ready, so start-up failures reach the shell. */
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	return 0;
}

void gf_daemon_ready(void)
{
	if (ready_fd < 0)
		return;
	ssize_t w = write(ready_fd, "R", 1);
	(void)w;
	close(ready_fd);
	ready_fd = -1;
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0) {
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
}

/*
 * Written beside and renamed over the old file, so a reader (an init script,
 * the test harness polling a daemon it just started) sees the old pid or
 * the new one, never the empty file of a truncate in progress.
 */
int gf_pidfile_write(const char *path)
{
	char buf[32], tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int rc = write(fd, buf, (size_t)n) == n ? 0 : -EIO;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

void gf_signals_block(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int gf_signals_wait(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;
		return sig;
	}
}
