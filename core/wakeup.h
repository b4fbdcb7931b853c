/* A source's wakeup: the route's source thread waits on it when poll said
 * BP_AGAIN (nothing now) sooner than its timeout, and a plugin ends the wait
 * from any thread with the host entry poll_wakeup (ABI 1.3), e.g. from a
 * library callback that saw new input. Thread-safe. */
#ifndef BP_CORE_WAKEUP_H
#define BP_CORE_WAKEUP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct bp_wakeup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;              /* signalled since the last wait */
} bp_wakeup;

void bp_wakeup_init(bp_wakeup *w);
void bp_wakeup_destroy(bp_wakeup *w);

/* Ends the current or the next wait. Any thread. */
void bp_wakeup_signal(bp_wakeup *w);

/* Waits up to ms for a signal, checking *stop every 50 ms. Returns 1 when
 * signalled (the signal is consumed), 0 on timeout or stop. */
int bp_wakeup_wait(bp_wakeup *w, int64_t ms, const atomic_int *stop);

#endif
