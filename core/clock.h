/* Clocks in milliseconds, and absolute deadlines for pthread_cond_timedwait.
 * One place for the timespec arithmetic the core needs everywhere. */
#ifndef BP_CORE_CLOCK_H
#define BP_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall clock, ms since the epoch. */
int64_t bp_now_ms(void);
/* Monotonic clock, ms (for timeouts and durations). */
int64_t bp_mono_ms(void);
/* Monotonic clock, µs (for short durations: a sink's write call). */
int64_t bp_mono_us(void);
/* The CLOCK_REALTIME instant ms from now (condition variables wait on it). */
struct timespec bp_deadline_in(int64_t ms);

#endif
