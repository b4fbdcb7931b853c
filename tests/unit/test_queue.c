/* The bounded FIFO between pipeline stages (core/queue.c). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "queue.h"
#include "tap.h"

static void *consumer_waits(void *arg)
{
    bp_queue *q = arg;
    void *got[4];
    size_t n = bp_queue_pop(q, got, 4, 0, -1);   /* blocks until close */
    return (void *)(uintptr_t)(n + 100);
}

typedef struct {
    bp_queue *q;
    int64_t pushed_at;
} push_arg;

static void *producer_blocks(void *arg)
{
    push_arg *a = arg;
    void *items[2] = {(void *)(uintptr_t)3, (void *)(uintptr_t)4};
    bp_queue_push_many(a->q, items, 2);   /* the queue holds 2: waits for room */
    a->pushed_at = bp_mono_ms();
    return NULL;
}

int main(void)
{
    bp_queue q;
    void *out[8];
    CHECK(bp_queue_init(&q, 3));

    /* FIFO order, and at most max per pop. */
    void *in[3] = {(void *)(uintptr_t)1, (void *)(uintptr_t)2, (void *)(uintptr_t)3};
    bp_queue_push_many(&q, in, 3);
    CHECK_INT(bp_queue_pop(&q, out, 2, 0, 0), 2);
    CHECK_INT((uintptr_t)out[0], 1);
    CHECK_INT((uintptr_t)out[1], 2);
    /* Wrap around the ring. */
    void *more[2] = {(void *)(uintptr_t)4, (void *)(uintptr_t)5};
    bp_queue_push_many(&q, more, 2);
    CHECK_INT(bp_queue_pop(&q, out, 8, 0, 0), 3);
    CHECK_INT((uintptr_t)out[0], 3);
    CHECK_INT((uintptr_t)out[1], 4);
    CHECK_INT((uintptr_t)out[2], 5);

    /* Empty: wait_ms 0 returns at once, wait_ms 30 after about 30 ms. */
    CHECK_INT(bp_queue_pop(&q, out, 8, 0, 0), 0);
    int64_t t0 = bp_mono_ms();
    CHECK_INT(bp_queue_pop(&q, out, 8, 0, 30), 0);
    CHECK(bp_mono_ms() - t0 >= 25);
    CHECK(!bp_queue_drained(&q));

    /* Linger: with one item queued, pop waits up to linger_ms for max. */
    bp_queue_push_many(&q, in, 1);
    t0 = bp_mono_ms();
    CHECK_INT(bp_queue_pop(&q, out, 3, 30, 0), 1);
    CHECK(bp_mono_ms() - t0 >= 25);

    /* A full queue blocks the producer until a consumer makes room; the
     * items arrive whole and in order. */
    bp_queue_push_many(&q, in, 2);
    push_arg pa = {.q = &q};
    pthread_t th;
    pthread_create(&th, NULL, producer_blocks, &pa);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK_INT(pa.pushed_at, 0);   /* still blocked: 2 + 2 > 3 */
    int64_t popped_at = bp_mono_ms();
    CHECK_INT(bp_queue_pop(&q, out, 1, 0, 0), 1);
    pthread_join(th, NULL);
    CHECK(pa.pushed_at >= popped_at);
    CHECK_INT(bp_queue_pop(&q, out, 8, 0, 0), 3);
    CHECK_INT((uintptr_t)out[0], 2);
    CHECK_INT((uintptr_t)out[1], 3);
    CHECK_INT((uintptr_t)out[2], 4);

    /* Close wakes a consumer waiting without a timeout, with nothing. */
    pthread_create(&th, NULL, consumer_waits, &q);
    nanosleep(&ts, NULL);
    bp_queue_close(&q);
    void *ret = NULL;
    pthread_join(th, &ret);
    CHECK_INT((uintptr_t)ret, 100);
    CHECK(bp_queue_drained(&q));

    /* Closed but not empty: not drained until popped. */
    bp_queue q2;
    CHECK(bp_queue_init(&q2, 2));
    bp_queue_push_many(&q2, in, 1);
    bp_queue_close(&q2);
    CHECK(!bp_queue_drained(&q2));
    CHECK_INT(bp_queue_pop(&q2, out, 8, 50, -1), 1);
    CHECK(bp_queue_drained(&q2));
    bp_queue_destroy(&q2);
    bp_queue_destroy(&q);
    return tap_done();
}
