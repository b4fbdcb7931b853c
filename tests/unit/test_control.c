/* Claim before deliver (core/control.c, bp_control_submit) on a real state
 * file: a decision claims the parked record in the transaction that records
 * it; a second decision, of anyone, is refused naming the first decider; a
 * live claim of someone else refuses a decision; release frees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "state.h"
#include "tap.h"

static int one_int(int ncol, const char *const *cols, void *ud)
{
    *(long *)ud = ncol > 0 && cols[0] ? strtol(cols[0], NULL, 10) : -1;
    return 0;
}

static long requests(bp_state *st)
{
    long n = -1;
    bp_state_select(st, "SELECT count(*) FROM control_requests", one_int, &n);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/bp-control-XXXXXX", path[256];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/state.db", dir);
    bp_state *st = NULL;
    char *err = NULL, *who = NULL;
    int claimed = 0;
    int64_t id = 0;
    CHECK_INT(bp_state_open(path, "t", &st, &err), BP_OK);
    bp_review_item a = {.route = "r", .stage = "review", .reason = "x", .payload = "{}",
                        .confidence = -1};
    CHECK_INT(bp_state_park_review(st, &a), BP_OK);   /* seq 1 */
    CHECK_INT(bp_state_park_review(st, &a), BP_OK);   /* seq 2 */

    /* Unknown entry. */
    CHECK_INT(bp_control_submit(st, "review", 99, "approve", "alice", NULL, 0, &id, &who,
                                &claimed), BP_ERR_NOT_FOUND);

    /* First decision recorded, second refused naming the first decider,
     * even from the same user (two processes of one reviewer). */
    CHECK_INT(bp_control_submit(st, "review", 1, "approve", "alice", "{}", 0, &id, &who,
                                &claimed), BP_OK);
    CHECK(id > 0);
    CHECK_INT(bp_control_submit(st, "review", 1, "approve", "bob", "{}", 0, &id, &who,
                                &claimed), BP_ERR_FULL);
    CHECK_STR(who, "alice");
    CHECK_INT(claimed, 0);
    free(who);
    CHECK_INT(bp_control_submit(st, "review", 1, "reject", "alice", "{}", 0, &id, &who,
                                &claimed), BP_ERR_FULL);
    CHECK_STR(who, "alice");
    free(who);
    CHECK_INT(requests(st), 1);

    /* A claim of bob's refuses alice's decision; bob may decide; release frees. */
    CHECK_INT(bp_control_submit(st, "review", 2, "claim", "bob", NULL, 60000, &id, &who,
                                &claimed), BP_OK);
    CHECK_INT(id, 0);
    CHECK_INT(bp_control_submit(st, "review", 2, "approve", "alice", "{}", 0, &id, &who,
                                &claimed), BP_ERR_FULL);
    CHECK_STR(who, "bob");
    CHECK_INT(claimed, 1);
    free(who);
    CHECK_INT(bp_control_submit(st, "review", 2, "release", "bob", NULL, 0, &id, &who,
                                &claimed), BP_OK);
    CHECK_INT(bp_control_submit(st, "review", 2, "approve", "alice", "{}", 0, &id, &who,
                                &claimed), BP_OK);
    CHECK_INT(requests(st), 2);

    /* An expired claim does not hold anyone up. */
    CHECK_INT(bp_state_park_review(st, &a), BP_OK);   /* seq 3 */
    CHECK_INT(bp_control_submit(st, "review", 3, "claim", "bob", NULL, 1, &id, &who,
                                &claimed), BP_OK);
    usleep(5000);
    CHECK_INT(bp_control_submit(st, "review", 3, "approve", "alice", "{}", 0, &id, &who,
                                &claimed), BP_OK);

    /* Pauses persist. */
    CHECK_INT(bp_state_route_paused(st, "r", NULL), 0);
    CHECK_INT(bp_state_route_pause_set(st, "r", "ops", 1), BP_OK);
    CHECK_INT(bp_state_route_paused(st, "r", &who), 1);
    CHECK_STR(who, "ops");
    free(who);
    CHECK_INT(bp_state_route_pause_set(st, "r", "ops", 0), BP_OK);
    CHECK_INT(bp_state_route_paused(st, "r", NULL), 0);

    bp_state_close(st);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0)
        return 1;
    return tap_done();
}
