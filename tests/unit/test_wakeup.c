/* A source's wakeup (core/wakeup.c, behind api->poll_wakeup): a signal ends
 * the wait at once, from another thread too; without one the wait times out;
 * a stop ends it. */
#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "tap.h"
#include "wakeup.h"

static void *waker(void *arg)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    bp_wakeup_signal(arg);
    return NULL;
}

int main(void)
{
    bp_wakeup w;
    atomic_int stop;
    atomic_init(&stop, 0);
    bp_wakeup_init(&w);

    /* Signalled before the wait: returns at once, and consumes it. */
    bp_wakeup_signal(&w);
    int64_t t0 = bp_mono_ms();
    CHECK_INT(bp_wakeup_wait(&w, 5000, &stop), 1);
    CHECK(bp_mono_ms() - t0 < 1000);
    /* No signal: the full wait, then 0. */
    t0 = bp_mono_ms();
    CHECK_INT(bp_wakeup_wait(&w, 60, &stop), 0);
    CHECK(bp_mono_ms() - t0 >= 60);
    /* From another thread, during a long wait. */
    pthread_t th;
    pthread_create(&th, NULL, waker, &w);
    t0 = bp_mono_ms();
    CHECK_INT(bp_wakeup_wait(&w, 10000, &stop), 1);
    CHECK(bp_mono_ms() - t0 < 5000);
    pthread_join(th, NULL);
    /* A stop ends the wait without a signal. */
    atomic_store(&stop, 1);
    t0 = bp_mono_ms();
    CHECK_INT(bp_wakeup_wait(&w, 10000, &stop), 0);
    CHECK(bp_mono_ms() - t0 < 1000);
    bp_wakeup_destroy(&w);
    return tap_done();
}
