/* The one retry policy of a route (errors.retry: { max, backoff: MIN..MAX }),
 * the same for the three things that can fail transiently: a source's poll, a
 * transform and a sink's write.
 *
 * After the f-th consecutive failure of the same thing (f = 1, 2, ...):
 *   - f <= max: wait bp_retry_delay_ms(f), then try again;
 *   - f >  max: the failure is permanent — a record is dead-lettered
 *     ("gave up after f attempts: ..."), a source's route stops with an error
 *     naming the source and its last reason (the rest of the site runs on;
 *     `run` exits 3, a route failed, at the end). A success resets the count.
 * A poll answering BP_NOT_CONNECTED is not counted against max: the route
 * waits (backing off up to MAX) for as long as the source cannot connect.
 * The delay doubles from MIN up to MAX and is drawn from its upper half
 * (jitter), so routes recovering from one outage do not all call at once.
 * Waits end early when the runtime stops. */
#ifndef BP_CORE_RETRY_H
#define BP_CORE_RETRY_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct bp_retry_policy {
    int max;                  /* retries after the first attempt (>= 0) */
    int64_t min_ms, max_ms;   /* backoff bounds */
} bp_retry_policy;

/* 1 when, after `failures` consecutive failures, another attempt is due. */
int bp_retry_again(const bp_retry_policy *p, int failures);

/* The wait after the f-th consecutive failure (f >= 1): d = MIN * 2^(f-1)
 * capped at MAX, then d/2 + rnd % (d/2 + 1), so within [d/2, d]. Pure: rnd
 * is the caller's random number. */
int64_t bp_retry_delay_ms(const bp_retry_policy *p, int failures, uint32_t rnd);

/* bp_retry_delay_ms with a random rnd. */
int64_t bp_retry_backoff_ms(const bp_retry_policy *p, int failures);

/* Sleeps ms, checking *stop every 50 ms (it is set from a signal handler, so
 * no condition variable can be signalled). Returns 1 after the full wait, 0
 * when stopped. */
int bp_retry_sleep(const atomic_int *stop, int64_t ms);

#endif
