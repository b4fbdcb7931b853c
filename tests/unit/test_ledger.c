/* The write-back ledger (core/ledger.c) over a real state store: what one run
 * applied is skipped by the next, acked rows are forgotten, old rows are
 * pruned by ledger.retention, and the sink's checkpoint commits with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "envelope_int.h"
#include "ledger.h"
#include "tap.h"
#include "state_target.h"

static bp_envelope *rec(const char *id)
{
    bp_envelope *e = bp_envelope_new();
    bp_envelope_set_attr(e, "source", "file://in");
    bp_envelope_set_attr(e, "id", id);
    return e;
}

int main(void)
{
    char dir[] = "/tmp/bp-ledger-XXXXXX", path[256];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/state.db", dir);
    const char *tgt = test_state_target(path);   /* SQLite file or PostgreSQL */
    bp_state *st = NULL;
    char *err = NULL;
    CHECK_INT(bp_state_open(tgt, "t", &st, &err), BP_OK);
    bp_envelope *a = rec("a"), *b = rec("b"), *c = rec("c");

    /* Run 1 applies a and b (seq 0, 1), then c (seq 2), and "crashes". */
    bp_ledger l1 = {0};
    CHECK_INT(bp_ledger_load(&l1, st, "r/out", "r/out"), BP_OK);
    CHECK(!bp_ledger_applied_before(&l1, a));
    const bp_envelope *ab[2] = {a, b};
    CHECK_INT(bp_ledger_commit(&l1, st, "r/out", ab, 2, 1, 0, "committed", "42"), BP_OK);
    const bp_envelope *cc[1] = {c};
    CHECK_INT(bp_ledger_commit(&l1, st, "r/out", cc, 1, 2, 0, NULL, NULL), BP_OK);
    char *v = NULL;
    CHECK_INT(bp_state_checkpoint_get(st, "r/out", "committed", &v), BP_OK);
    CHECK_STR(v, "42");   /* stored in the ledger's transaction */
    free(v);
    CHECK_INT(bp_state_count(st, "ledger_writes"), 2);

    /* Run 2: the keys run 1 left are skipped; the run's own rows are not
     * consulted (this run delivers them once). */
    bp_ledger l2 = {0};
    CHECK_INT(bp_ledger_load(&l2, st, "r/out", "r/out"), BP_OK);
    CHECK(bp_ledger_applied_before(&l2, a));
    CHECK(bp_ledger_applied_before(&l2, b));
    CHECK(bp_ledger_applied_before(&l2, c));
    bp_envelope *d = rec("d");
    CHECK(!bp_ledger_applied_before(&l2, d));
    /* Another sink's ledger is its own. */
    bp_ledger other = {0};
    CHECK_INT(bp_ledger_load(&other, st, "r/erp", "r/erp"), BP_OK);
    CHECK(!bp_ledger_applied_before(&other, a));
    bp_ledger_clear(&other);

    /* Run 1's source acks seq 0 and 1 durably: the next commit deletes the
     * row that covered them, keeps the one with seq 2. */
    const bp_envelope *dd[1] = {d};
    CHECK_INT(bp_ledger_commit(&l1, st, "r/out", dd, 1, 3, 2, NULL, NULL), BP_OK);
    CHECK_INT(bp_state_count(st, "ledger_writes"), 2);   /* c's and d's */
    /* A clean stop with everything acked forgets the rest. */
    CHECK_INT(bp_ledger_forget_acked(&l1, st, "r/out", 4), BP_OK);
    CHECK_INT(bp_state_count(st, "ledger_writes"), 0);
    bp_ledger l3 = {0};
    CHECK_INT(bp_ledger_load(&l3, st, "r/out", "r/out"), BP_OK);
    CHECK(!bp_ledger_applied_before(&l3, a));
    bp_ledger_clear(&l3);

    /* ledger.retention: a row younger than the retention stays, an older one
     * goes (now_ms given, so no sleeping). */
    bp_ledger l4 = {0};
    CHECK_INT(bp_ledger_commit(&l4, st, "r/out", ab, 2, 1, 0, NULL, NULL), BP_OK);
    int64_t now = bp_now_ms(), hour = 3600 * 1000;
    CHECK_INT(bp_ledger_prune(st, hour, now + hour - 5000), 0);
    CHECK_INT(bp_state_count(st, "ledger_writes"), 1);
    CHECK_INT(bp_ledger_prune(st, hour, now + hour + 5000), 1);
    CHECK_INT(bp_state_count(st, "ledger_writes"), 0);
    /* retention <= 0 means the default (24 h), never "everything". */
    CHECK_INT(bp_ledger_commit(&l4, st, "r/out", ab, 2, 1, 0, NULL, NULL), BP_OK);
    CHECK_INT(bp_ledger_prune(st, 0, now + hour), 0);
    CHECK_INT(bp_state_count(st, "ledger_writes"), 1);
    bp_ledger_clear(&l4);

    bp_ledger_clear(&l1);
    bp_ledger_clear(&l2);
    bp_envelope_unref(a);
    bp_envelope_unref(b);
    bp_envelope_unref(c);
    bp_envelope_unref(d);
    bp_state_close(st);
    unlink(path);
    char side[300];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);
    return tap_done();
}
