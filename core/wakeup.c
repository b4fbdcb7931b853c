/* See wakeup.h. */
#include "clock.h"
#include "wakeup.h"

void bp_wakeup_init(bp_wakeup *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->pending = 0;
}

void bp_wakeup_destroy(bp_wakeup *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

void bp_wakeup_signal(bp_wakeup *w)
{
    pthread_mutex_lock(&w->mu);
    w->pending = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int bp_wakeup_wait(bp_wakeup *w, int64_t ms, const atomic_int *stop)
{
    int64_t end = bp_mono_ms() + ms;
    pthread_mutex_lock(&w->mu);
    while (!w->pending && !(stop && atomic_load(stop))) {
        int64_t left = end - bp_mono_ms();
        if (left <= 0)
            break;
        struct timespec until = bp_deadline_in(left < 50 ? left : 50);
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    int got = w->pending;
    w->pending = 0;
    pthread_mutex_unlock(&w->mu);
    return got;
}
