/*
 * clock.h — deadlines on CLOCK_MONOTONIC, for timed waits (a condition
 * variable set to that clock with pthread_condattr_setclock, or ppoll).
 *
 *   gf_ts_after_ms  t + ms, normalized (ms ≥ 0)
 *   gf_mono_in_ms   now + ms
 *   gf_mono_ms      now, in milliseconds (for intervals and timeouts)
 */
#ifndef GF_CLOCK_H
#define GF_CLOCK_H

#include <stdint.h>
#include <time.h>

struct timespec gf_ts_after_ms(const struct timespec *t, long long ms);
struct timespec gf_mono_in_ms(long long ms);
int64_t gf_mono_ms(void);

#endif
