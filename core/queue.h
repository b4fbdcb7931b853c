/* A bounded FIFO of pointers between two pipeline stages (source → workers,
 * workers → sink thread). Thread-safe: any number of producers and consumers.
 * The queue never owns what it holds: whoever pops an item owns it. */
#ifndef BP_CORE_QUEUE_H
#define BP_CORE_QUEUE_H

#include <pthread.h>
#include <stddef.h>

typedef struct bp_queue {
    void **items;
    size_t cap, head, n;
    int closed;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} bp_queue;

/* Prepares q for up to cap items (cap >= 1). Returns 1, or 0 when out of
 * memory (then only bp_queue_destroy may be called). */
int bp_queue_init(bp_queue *q, size_t cap);
void bp_queue_destroy(bp_queue *q);

/* Pushes n items in order with one lock and one wakeup per chunk that fits
 * (per item, the next stage's wakeups were a visible share of a relay's CPU).
 * Blocks while the queue is full. Pushing to a closed queue is a caller bug. */
void bp_queue_push_many(bp_queue *q, void *const *items, size_t n);

/* Takes up to max items into out. Waits for the first up to wait_ms (-1:
 * until one comes or the queue is closed), then lingers up to linger_ms for
 * max (a sink write, with its fsync and ledger commit, is worth filling).
 * Returns how many were taken: 0 when nothing came (see bp_queue_drained). */
size_t bp_queue_pop(bp_queue *q, void **out, size_t max, int linger_ms, int wait_ms);

/* No more pushes: wakes every waiting consumer. */
void bp_queue_close(bp_queue *q);

/* 1 when the queue is closed and empty: nothing more will come. */
int bp_queue_drained(bp_queue *q);

#endif
