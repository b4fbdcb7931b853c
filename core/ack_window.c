/* See ack_window.h. */
#include <stdlib.h>
#include <string.h>

#include "ack_window.h"
#include "clock.h"

int bp_ack_window_init(bp_ack_window *w, size_t size)
{
    memset(w, 0, sizeof(*w));
    w->size = size ? size : 1;
    w->tokens = calloc(w->size, sizeof(*w->tokens));
    w->fates = calloc(w->size, 1);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->progress, NULL);
    return w->tokens && w->fates;
}

void bp_ack_window_destroy(bp_ack_window *w)
{
    free(w->tokens);
    free(w->fates);
    w->tokens = NULL;
    w->fates = NULL;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->progress);
}

/* Lock held. */
static int win_full(const bp_ack_window *w, size_t n)
{
    return w->next_seq - w->acked_seq + n > w->size;
}

enum bp_window_wait bp_ack_window_wait(bp_ack_window *w, size_t n, int timeout_ms,
                                       const atomic_int *broken)
{
    pthread_mutex_lock(&w->mu);
    int idle = 0;
    struct timespec until = bp_deadline_in(timeout_ms);
    while (win_full(w, n) && !(broken && atomic_load(broken)) &&
           !w->fates[w->acked_seq % w->size] && !idle)
        idle = pthread_cond_timedwait(&w->progress, &w->mu, &until) != 0;
    enum bp_window_wait r = !win_full(w, n)                   ? BP_WINDOW_ROOM
                            : w->fates[w->acked_seq % w->size] ? BP_WINDOW_PROGRESS
                                                               : BP_WINDOW_IDLE;
    pthread_mutex_unlock(&w->mu);
    return r;
}

uint64_t bp_ack_window_add(bp_ack_window *w, const uint64_t *tokens, size_t n)
{
    pthread_mutex_lock(&w->mu);
    uint64_t first = w->next_seq;
    for (size_t i = 0; i < n; i++) {
        w->tokens[(first + i) % w->size] = tokens[i];
        w->fates[(first + i) % w->size] = 0;
    }
    w->next_seq += n;
    pthread_mutex_unlock(&w->mu);
    return first;
}

void bp_ack_window_done(bp_ack_window *w, uint64_t seq, unsigned char fate)
{
    bp_ack_window_done_many(w, &seq, &fate, 1);
}

void bp_ack_window_done_many(bp_ack_window *w, const uint64_t *seqs, const unsigned char *fates,
                             size_t n)
{
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < n; i++)
        w->fates[seqs[i] % w->size] = fates[i];
    pthread_cond_signal(&w->progress);
    pthread_mutex_unlock(&w->mu);
}

size_t bp_ack_window_take(bp_ack_window *w, uint64_t *tokens, unsigned char *fates, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    while (n < max && w->acked_seq + n < w->next_seq && w->fates[(w->acked_seq + n) % w->size]) {
        tokens[n] = w->tokens[(w->acked_seq + n) % w->size];
        fates[n] = w->fates[(w->acked_seq + n) % w->size];
        n++;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

void bp_ack_window_acked(bp_ack_window *w, size_t n, bp_status ack_result)
{
    pthread_mutex_lock(&w->mu);
    uint64_t before = w->acked_seq;
    for (size_t i = 0; i < n; i++)
        w->fates[(w->acked_seq + i) % w->size] = 0;
    w->acked_seq += n;
    if (ack_result == BP_OK)
        w->durable_seq = w->acked_seq;
    else if (ack_result == BP_QUEUED)
        w->durable_seq = before;
    pthread_mutex_unlock(&w->mu);
}

uint64_t bp_ack_window_acked_seq(bp_ack_window *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t s = w->acked_seq;
    pthread_mutex_unlock(&w->mu);
    return s;
}

uint64_t bp_ack_window_durable_seq(bp_ack_window *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t s = w->durable_seq;
    pthread_mutex_unlock(&w->mu);
    return s;
}

void bp_ack_window_wake(bp_ack_window *w)
{
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->progress);
    pthread_mutex_unlock(&w->mu);
}
