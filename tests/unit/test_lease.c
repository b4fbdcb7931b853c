/* Leases with fencing (issue 20): two holders on one store (two connections,
 * as two instances), a takeover after expiry, and the old holder's checkpoint
 * and ledger writes refused once the newer epoch exists. Runs on SQLite and,
 * as lease-pg, on PostgreSQL. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "state_lease.h"
#include "state_control.h"
#include "tap.h"
#include "state_target.h"

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void)
{
    char dir[] = "/tmp/bp-lease-XXXXXX", path[256];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/state.db", dir);
    const char *tgt = test_state_target(path);
    bp_state *a = NULL, *b = NULL;
    char *err = NULL;
    CHECK_INT(bp_state_open(tgt, "t", &a, &err), BP_OK);
    CHECK_INT(bp_state_open(tgt, "t", &b, &err), BP_OK);
    if (a == NULL || b == NULL)
        return 1;

    /* A takes the free lease at epoch 1; B is refused and told who has it. */
    int64_t ea = 0, eb = 0, left = 0;
    char *who = NULL;
    CHECK_INT(bp_state_lease_acquire(a, "route:r", "A", 400, &ea, NULL, NULL), BP_OK);
    CHECK_INT(ea, 1);
    CHECK_INT(bp_state_lease_acquire(b, "route:r", "B", 400, &eb, &who, &left), BP_AGAIN);
    CHECK_STR(who, "A");
    CHECK(left > 0 && left <= 400);
    free(who);
    /* A again (still its own): the same epoch. Renewals keep it. */
    CHECK_INT(bp_state_lease_acquire(a, "route:r", "A", 400, &ea, NULL, NULL), BP_OK);
    CHECK_INT(ea, 1);
    CHECK_INT(bp_state_lease_renew(a, "route:r", "A", 1, 400), BP_OK);

    /* A fences its route and writes; B's route has no fence. */
    CHECK_INT(bp_state_fence_set(a, "r", "route:r", ea), BP_OK);
    CHECK_INT(bp_state_checkpoint_set(a, "r/in", "offset", "10"), BP_OK);
    const char *src[] = {"s"}, *ids[] = {"1"};
    int64_t row = 0;
    CHECK_INT(bp_state_ledger_commit(a, "r/out", src, ids, 1, NULL, NULL, NULL, 0, &row), BP_OK);

    /* A pauses past its TTL; B takes over with epoch 2. */
    nap_ms(600);
    CHECK_INT(bp_state_lease_acquire(b, "route:r", "B", 5000, &eb, NULL, NULL), BP_OK);
    CHECK_INT(eb, 2);
    CHECK_INT(bp_state_fence_set(b, "r", "route:r", eb), BP_OK);
    /* A resumes: its renewal fails, and every write it still tries is refused. */
    CHECK_INT(bp_state_lease_renew(a, "route:r", "A", 1, 400), BP_AGAIN);
    CHECK_INT(bp_state_checkpoint_set(a, "r/in", "offset", "99"), BP_ERR_IO);
    CHECK(bp_state_fenced(a, "r"));
    const char *ids2[] = {"2"};
    CHECK_INT(bp_state_ledger_commit(a, "r/out", src, ids2, 1, "pos", "2", NULL, 0, &row),
              BP_ERR_IO);
    /* Other routes of A are not fenced. */
    CHECK_INT(bp_state_checkpoint_set(a, "other/in", "offset", "5"), BP_OK);
    /* B's writes go on; A's refused checkpoint left no trace. */
    CHECK_INT(bp_state_checkpoint_set(b, "r/in", "offset", "11"), BP_OK);
    char *v = NULL;
    CHECK_INT(bp_state_checkpoint_get(b, "r/in", "offset", &v), BP_OK);
    CHECK_STR(v, "11");
    free(v);
    CHECK_INT(bp_state_checkpoint_get(b, "r/out", "pos", &v), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_state_count(b, "ledger_writes"), 1);
    CHECK(!bp_state_fenced(b, "r"));

    /* Release: the lease expires now, the next taker passes the epoch. */
    CHECK_INT(bp_state_lease_release(b, "route:r", "B", eb), BP_OK);
    CHECK_INT(bp_state_lease_acquire(a, "route:r", "A", 400, &ea, NULL, NULL), BP_OK);
    CHECK_INT(ea, 3);

    /* Heartbeats. */
    CHECK_INT(bp_state_heartbeat(a, "A", "h", 1, 1), BP_OK);
    CHECK_INT(bp_state_heartbeat(a, "A", "h", 1, 1), BP_OK);
    CHECK_INT(bp_state_heartbeat(b, "B", "h", 2, 1), BP_OK);

    /* Shared state: a decision recorded through any instance is taken, in
     * the database, by the one instance that runs the record's route (holds
     * its lease), and by it only once. */
    if (test_state_pg()) {
        bp_state_set_instance(a, "A");
        bp_state_set_instance(b, "B");
        CHECK_INT(bp_state_lease_acquire(a, "route:r", "A", 60000, &ea, NULL, NULL), BP_OK);
        bp_review_item it = {.route = "r", .stage = "review", .reason = "check", .payload = "{}",
                             .confidence = -1};
        CHECK_INT(bp_state_park_review(a, &it), BP_OK);
        int64_t id = 0;
        char *by = NULL;
        int claimed = 0;
        CHECK_INT(bp_state_control_submit(b, "review", 1, "approve", "ann", "{}", 0, 60000, &id,
                                          &by, &claimed), BP_OK);
        free(by);
        CHECK(id > 0);
        bp_control_request rq = {0};
        CHECK_INT(bp_state_control_next(b, &rq), 0);   /* B does not run route r */
        bp_control_request_clear(&rq);
        CHECK_INT(bp_state_control_next(a, &rq), 1);
        CHECK_INT(rq.id, id);
        bp_control_request_clear(&rq);
        CHECK_INT(bp_state_control_next(b, &rq), 0);   /* taken by A, which is alive */
        bp_control_request_clear(&rq);
    }

    bp_state_close(a);
    bp_state_close(b);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
