/* See retry.h. */
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "retry.h"

int bp_retry_again(const bp_retry_policy *p, int failures)
{
    return failures <= p->max;
}

int64_t bp_retry_delay_ms(const bp_retry_policy *p, int failures, uint32_t rnd)
{
    int64_t ms = p->min_ms;
    for (int i = 1; i < failures && ms < p->max_ms; i++)
        ms *= 2;
    if (ms > p->max_ms)
        ms = p->max_ms;
    if (ms <= 0)
        return 0;
    return ms / 2 + (int64_t)(rnd % (uint64_t)(ms / 2 + 1));
}

int64_t bp_retry_backoff_ms(const bp_retry_policy *p, int failures)
{
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
        rnd = (uint32_t)bp_mono_ms();
    return bp_retry_delay_ms(p, failures, rnd);
}

int bp_retry_sleep(const atomic_int *stop, int64_t ms)
{
    int64_t end = bp_mono_ms() + ms;
    while (!atomic_load(stop)) {
        int64_t left = end - bp_mono_ms();
        if (left <= 0)
            return 1;
        struct timespec ts = {0, (long)((left < 50 ? left : 50) * 1000000L)};
        nanosleep(&ts, NULL);
    }
    return 0;
}
