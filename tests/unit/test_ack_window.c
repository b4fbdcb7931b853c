/* The ack window (core/ack_window.c): sequence numbers, the in-order done
 * prefix, the durable point, and backpressure. */
#include <backplane/plugin.h>

#include "ack_window.h"
#include "clock.h"
#include "tap.h"

int main(void)
{
    bp_ack_window w;
    uint64_t tok[16];
    unsigned char fate[16];
    CHECK(bp_ack_window_init(&w, 4));

    /* A batch of 3 fits in 4; a second batch of 3 does not. */
    CHECK_INT(bp_ack_window_wait(&w, 3, 0, NULL), BP_WINDOW_ROOM);
    uint64_t in[3] = {100, 200, 300};
    CHECK_INT(bp_ack_window_add(&w, in, 3), 0);
    CHECK_INT(bp_ack_window_wait(&w, 1, 0, NULL), BP_WINDOW_ROOM);
    int64_t t0 = bp_mono_ms();
    CHECK_INT(bp_ack_window_wait(&w, 3, 30, NULL), BP_WINDOW_IDLE);
    CHECK(bp_mono_ms() - t0 >= 25);

    /* Done out of order: nothing to ack until the oldest is done. */
    bp_ack_window_done(&w, 1, BP_FATE_DROPPED);
    bp_ack_window_done(&w, 2, BP_FATE_PARKED);
    CHECK_INT(bp_ack_window_take(&w, tok, fate, 16), 0);
    CHECK_INT(bp_ack_window_wait(&w, 3, 0, NULL), BP_WINDOW_IDLE);
    bp_ack_window_done(&w, 0, BP_FATE_DELIVERED);
    CHECK_INT(bp_ack_window_wait(&w, 3, 0, NULL), BP_WINDOW_PROGRESS);
    /* The whole prefix, in source order, with each record's fate. */
    CHECK_INT(bp_ack_window_take(&w, tok, fate, 2), 2);   /* max respected */
    CHECK_INT(bp_ack_window_take(&w, tok, fate, 16), 3);
    CHECK_INT(tok[0], 100);
    CHECK_INT(tok[1], 200);
    CHECK_INT(tok[2], 300);
    CHECK_INT(fate[0], BP_FATE_DELIVERED);
    CHECK_INT(fate[1], BP_FATE_DROPPED);
    CHECK_INT(fate[2], BP_FATE_PARKED);
    /* take alone changes nothing; acked moves the window. */
    CHECK_INT(bp_ack_window_acked_seq(&w), 0);
    bp_ack_window_acked(&w, 3, BP_QUEUED);   /* this ack's commit in flight */
    CHECK_INT(bp_ack_window_acked_seq(&w), 3);
    CHECK_INT(bp_ack_window_durable_seq(&w), 0);
    CHECK_INT(bp_ack_window_take(&w, tok, fate, 16), 0);

    /* Wrap around: seq 3..6 use ring slots 3, 0, 1, 2. */
    uint64_t in2[4] = {400, 500, 600, 700};
    CHECK_INT(bp_ack_window_wait(&w, 4, 0, NULL), BP_WINDOW_ROOM);
    CHECK_INT(bp_ack_window_add(&w, in2, 4), 3);
    uint64_t seqs[4] = {6, 5, 4, 3};
    unsigned char fates[4] = {BP_FATE_DELIVERED, BP_FATE_DELIVERED, BP_FATE_DEAD_LETTERED,
                              BP_FATE_DELIVERED};
    bp_ack_window_done_many(&w, seqs, fates, 3);   /* 6, 5, 4: not 3 yet */
    CHECK_INT(bp_ack_window_take(&w, tok, fate, 16), 0);
    bp_ack_window_done_many(&w, seqs + 3, fates + 3, 1);
    CHECK_INT(bp_ack_window_take(&w, tok, fate, 16), 4);
    CHECK_INT(tok[0], 400);
    CHECK_INT(tok[3], 700);
    CHECK_INT(fate[1], BP_FATE_DEAD_LETTERED);
    /* BP_AGAIN (earlier commits unconfirmed): the durable point stays. */
    bp_ack_window_acked(&w, 2, BP_AGAIN);
    CHECK_INT(bp_ack_window_durable_seq(&w), 0);
    /* BP_QUEUED: everything before this ack is durable. */
    bp_ack_window_acked(&w, 1, BP_QUEUED);
    CHECK_INT(bp_ack_window_durable_seq(&w), 5);
    /* BP_OK: this one and all before. */
    bp_ack_window_acked(&w, 1, BP_OK);
    CHECK_INT(bp_ack_window_acked_seq(&w), 7);
    CHECK_INT(bp_ack_window_durable_seq(&w), 7);

    /* A broken pipeline ends a wait early. */
    atomic_int broken;
    atomic_init(&broken, 1);
    uint64_t in3[4] = {1, 2, 3, 4};
    bp_ack_window_add(&w, in3, 4);
    t0 = bp_mono_ms();
    CHECK_INT(bp_ack_window_wait(&w, 1, 5000, &broken), BP_WINDOW_IDLE);
    CHECK(bp_mono_ms() - t0 < 1000);
    bp_ack_window_destroy(&w);
    return tap_done();
}
