/* The one retry policy (core/retry.c): attempts, backoff bounds, jitter. */
#include <stdint.h>

#include "clock.h"
#include "retry.h"
#include "tap.h"

int main(void)
{
    bp_retry_policy p = {.max = 2, .min_ms = 100, .max_ms = 1000};
    /* max 2: the 1st and 2nd failures are retried, the 3rd is final. */
    CHECK(bp_retry_again(&p, 1));
    CHECK(bp_retry_again(&p, 2));
    CHECK(!bp_retry_again(&p, 3));
    bp_retry_policy none = {.max = 0, .min_ms = 100, .max_ms = 1000};
    CHECK(!bp_retry_again(&none, 1));

    /* Doubling from MIN, capped at MAX, jittered into [d/2, d]. */
    CHECK_INT(bp_retry_delay_ms(&p, 1, 0), 50);
    CHECK_INT(bp_retry_delay_ms(&p, 1, 50), 100);
    CHECK_INT(bp_retry_delay_ms(&p, 1, 51), 50);    /* rnd % (d/2 + 1) */
    CHECK_INT(bp_retry_delay_ms(&p, 2, 0), 100);
    CHECK_INT(bp_retry_delay_ms(&p, 3, 0), 200);
    CHECK_INT(bp_retry_delay_ms(&p, 4, 400), 800);
    CHECK_INT(bp_retry_delay_ms(&p, 5, 0), 500);     /* 1600 capped at 1000 */
    CHECK_INT(bp_retry_delay_ms(&p, 5, 500), 1000);
    /* Far past the cap: no overflow, still within the bounds. */
    int64_t far = bp_retry_delay_ms(&p, 1000000, UINT32_MAX);
    CHECK(far >= 500 && far <= 1000);
    bp_retry_policy big = {.max = 1000, .min_ms = 1, .max_ms = INT64_MAX / 4};
    int64_t huge = bp_retry_delay_ms(&big, 1000, 0);
    CHECK(huge > 0 && huge <= INT64_MAX / 4);

    /* The random draw stays within the same bounds. */
    int in_bounds = 1, spread = 0;
    int64_t first = bp_retry_backoff_ms(&p, 3);
    for (int i = 0; i < 1000; i++) {
        int64_t d = bp_retry_backoff_ms(&p, 3);
        in_bounds &= d >= 200 && d <= 400;
        spread |= d != first;
    }
    CHECK(in_bounds);
    CHECK(spread);   /* jitter: not the same delay every time */

    /* Waits end early on stop. */
    atomic_int stop;
    atomic_init(&stop, 0);
    int64_t t0 = bp_mono_ms();
    CHECK_INT(bp_retry_sleep(&stop, 30), 1);
    CHECK(bp_mono_ms() - t0 >= 30);
    atomic_store(&stop, 1);
    t0 = bp_mono_ms();
    CHECK_INT(bp_retry_sleep(&stop, 5000), 0);
    CHECK(bp_mono_ms() - t0 < 1000);
    return tap_done();
}
