/*
 * clock.c — deadlines on CLOCK_MONOTONIC (clock.h).
 */
#include "clock.h"

struct timespec gf_ts_after_ms(const struct timespec *t, long long ms)
{
	struct timespec r = *t;
	r.tv_sec += (time_t)(ms / 1000);
	r.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (r.tv_nsec >= 1000000000L) {
		r.tv_sec++;
		r.tv_nsec -= 1000000000L;
	}
	return r;
}

struct timespec gf_mono_in_ms(long long ms)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return gf_ts_after_ms(&now, ms);
}

int64_t gf_mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
