#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_prog[64] = "gfarmfs";
static enum gf_log_level log_level = GF_LOG_INFO;
static int log_fd = STDERR_FILENO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void gf_log_init(const char *progname, enum gf_log_level level)
{
	const char *base = strrchr(progname, '/');
	snprintf(log_prog, sizeof(log_prog), "%s", base ? base + 1 : progname);
	log_level = level;
}

int gf_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void gf_log_set_level(enum gf_log_level level)
{
	log_level = level;
}

int gf_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return GF_LOG_WARN;
	return -EINVAL;
}

static void vlog(enum gf_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s[%d] %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog,
			 (int)getpid(), level_names[level]);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	while (len > 0 && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	pthread_mutex_lock(&log_lock);
	ssize_t w = write(log_fd, line, len);
	(void)w;
	pthread_mutex_unlock(&log_lock);
}

void gf_log(enum gf_log_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void gf_log_limited(struct gf_ratelimit *rl, enum gf_log_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	int saved = errno;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	unsigned long held = 0;
	int ok;
	pthread_mutex_lock(&limit_lock);
	if (!rl->window_ms || now - rl->window_ms >= (long long)rl->interval_ms) {
		rl->window_ms = now;
		rl->used = 0;
	}
	ok = rl->used < rl->burst;
	if (ok) {
		rl->used++;
		held = rl->held;
		rl->held = 0;
	} else {
		rl->held++;
	}
	pthread_mutex_unlock(&limit_lock);
	if (ok) {
		char msg[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (held)
			gf_log(level, "%s (%lu more like it not logged)", msg, held);
		else
			gf_log(level, "%s", msg);
	}
	errno = saved;
}

void gf_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(GF_LOG_ERR, fmt, ap);
	va_end(ap);
	if (log_fd != STDERR_FILENO) {
		/* The user started us from a shell: say it there too. */
		va_start(ap, fmt);
		fprintf(stderr, "%s: ", log_prog);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	exit(1);
}
