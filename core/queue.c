/* See queue.h. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "queue.h"

int bp_queue_init(bp_queue *q, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->items = calloc(cap ? cap : 1, sizeof(*q->items));
    q->cap = cap ? cap : 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q->items != NULL;
}

void bp_queue_destroy(bp_queue *q)
{
    free(q->items);
    q->items = NULL;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

void bp_queue_push_many(bp_queue *q, void *const *items, size_t n)
{
    size_t i = 0;
    pthread_mutex_lock(&q->mu);
    while (i < n) {
        while (q->n == q->cap)
            pthread_cond_wait(&q->not_full, &q->mu);
        while (i < n && q->n < q->cap) {
            q->items[(q->head + q->n) % q->cap] = items[i++];
            q->n++;
        }
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
}

size_t bp_queue_pop(bp_queue *q, void **out, size_t max, int linger_ms, int wait_ms)
{
    size_t got = 0;
    pthread_mutex_lock(&q->mu);
    if (wait_ms < 0) {
        while (q->n == 0 && !q->closed)
            pthread_cond_wait(&q->not_empty, &q->mu);
    } else if (q->n == 0 && !q->closed) {
        struct timespec until = bp_deadline_in(wait_ms);
        while (q->n == 0 && !q->closed &&
               pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == 0) {
        }
    }
    if (linger_ms > 0 && q->n < max && !q->closed) {
        struct timespec until = bp_deadline_in(linger_ms);
        while (q->n < max && q->n < q->cap && !q->closed &&
               pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == 0) {
        }
    }
    while (got < max && q->n > 0) {
        out[got++] = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return got;
}

int bp_queue_drained(bp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int d = q->closed && q->n == 0;
    pthread_mutex_unlock(&q->mu);
    return d;
}

void bp_queue_close(bp_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}
