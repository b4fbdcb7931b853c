/* The ack window: the records a route has polled and not yet acked, by
 * pipeline sequence number.
 *
 * Every polled record gets the next sequence number and its source token.
 * Stages mark a record done with its fate (delivered, dropped, parked,
 * dead-lettered) in any order; the source thread acks only the contiguous
 * done prefix, so an offset is never committed past a record still in flight.
 * The window is bounded: the source polls only when a whole batch fits
 * (backpressure), so a slow sink stops polling and memory stays flat.
 *
 * Thread-safe: one mutex; add, take and acked are for the source thread, done
 * for any stage. */
#ifndef BP_CORE_ACK_WINDOW_H
#define BP_CORE_ACK_WINDOW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <backplane/status.h>

typedef struct bp_ack_window {
    size_t size;               /* max records in flight */
    uint64_t *tokens;          /* ring: source token of each seq */
    unsigned char *fates;      /* ring: the record's bp_fate once done, else 0 */
    uint64_t next_seq;         /* next sequence number to hand out */
    uint64_t acked_seq;        /* everything below is acked */
    uint64_t durable_seq;      /* everything below is acked durably (plugin.h ack) */
    pthread_mutex_t mu;
    pthread_cond_t progress;   /* a record was done, or bp_ack_window_wake */
} bp_ack_window;

/* 1, or 0 when out of memory (then only bp_ack_window_destroy may be called). */
int bp_ack_window_init(bp_ack_window *w, size_t size);
void bp_ack_window_destroy(bp_ack_window *w);

/* What bp_ack_window_wait saw. */
enum bp_window_wait {
    BP_WINDOW_ROOM = 0,        /* a batch of n fits */
    BP_WINDOW_PROGRESS = 1,    /* full, but the oldest record is done: ack it */
    BP_WINDOW_IDLE = 2,        /* full and nothing done for timeout_ms (or woken) */
};

/* Waits up to timeout_ms until n more records fit or the oldest is done;
 * returns early when *broken becomes non-zero (after bp_ack_window_wake). */
enum bp_window_wait bp_ack_window_wait(bp_ack_window *w, size_t n, int timeout_ms,
                                       const atomic_int *broken);

/* Hands out sequence numbers for n records with their tokens (the caller made
 * sure they fit). Returns the first. */
uint64_t bp_ack_window_add(bp_ack_window *w, const uint64_t *tokens, size_t n);

/* Marks records done with their fate (a bp_fate, never 0). */
void bp_ack_window_done(bp_ack_window *w, uint64_t seq, unsigned char fate);
void bp_ack_window_done_many(bp_ack_window *w, const uint64_t *seqs, const unsigned char *fates,
                             size_t n);

/* Copies up to max tokens and fates of the contiguous done prefix (not yet
 * acked) into tokens/fates; returns how many. Nothing changes until
 * bp_ack_window_acked. */
size_t bp_ack_window_take(bp_ack_window *w, uint64_t *tokens, unsigned char *fates, size_t max);

/* The source acked the n records bp_ack_window_take gave, with its ack's
 * result: BP_OK makes them (and all before) durable; BP_QUEUED makes what came
 * before durable; anything else leaves the durable point where it was. */
void bp_ack_window_acked(bp_ack_window *w, size_t n, bp_status ack_result);

/* Below these, every record is acked / acked durably. */
uint64_t bp_ack_window_acked_seq(bp_ack_window *w);
uint64_t bp_ack_window_durable_seq(bp_ack_window *w);

/* Wakes a waiter in bp_ack_window_wait (a stage failed). */
void bp_ack_window_wake(bp_ack_window *w);

#endif
