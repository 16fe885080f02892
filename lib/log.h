/*
 * log.h — leveled logging for every program.
 *
 * Messages go to stderr unless gf_log_open() names a file. Each line carries
 * a timestamp, the program name, the level and the message. gf_fatal() is
 * for start-up only: it logs and exits 1. Thread-safe.
 */
#ifndef GF_LOG_H
#define GF_LOG_H

enum gf_log_level { GF_LOG_ERR = 0, GF_LOG_WARN, GF_LOG_INFO, GF_LOG_DEBUG };

void gf_log_init(const char *progname, enum gf_log_level level);
/* Append to path instead of stderr. 0 or -errno. */
int gf_log_open(const char *path);
void gf_log_set_level(enum gf_log_level level);
/* "error", "warn", "info", "debug" → level; -EINVAL otherwise. */
int gf_log_parse_level(const char *s);
void gf_log(enum gf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
_Noreturn void gf_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A rate limit for one kind of log line, so that an error an application
 * meets in a loop is reported without flooding the log: at most `burst`
 * lines per `interval_ms`; the ones held back are counted and the next line
 * let through says how many ("… (12 more like it not logged)").
 */
struct gf_ratelimit {
	unsigned burst, interval_ms;
	/* state, guarded by an internal lock */
	long long window_ms;
	unsigned used;
	unsigned long held;
};
#define GF_RATELIMIT(burst, interval_ms) { (burst), (interval_ms), 0, 0, 0 }
/* Log (as gf_log) unless rl holds it back. */
void gf_log_limited(struct gf_ratelimit *rl, enum gf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define gf_err(...) gf_log(GF_LOG_ERR, __VA_ARGS__)
#define gf_warn(...) gf_log(GF_LOG_WARN, __VA_ARGS__)
#define gf_info(...) gf_log(GF_LOG_INFO, __VA_ARGS__)
#define gf_debug(...) gf_log(GF_LOG_DEBUG, __VA_ARGS__)

#endif
