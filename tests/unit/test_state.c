/* The state store (core/state.c, core/state_review.c) on a real SQLite file:
 * checkpoints, dead letters, the review queue and its decisions, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"
#include "state_target.h"

static int count_dl(const bp_dead_letter *dl, void *ud)
{
    (void)dl;
    (*(int *)ud)++;
    return 0;
}

static int first_review(const bp_review_item *it, void *ud)
{
    *(int64_t *)ud = it->seq;
    return 1;   /* stop after the first */
}

int main(void)
{
    char dir[] = "/tmp/bp-state-XXXXXX", path[256], bad[256], msg[600], cmd0[1200];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/state.db", dir);
    snprintf(bad, sizeof(bad), "%s/notes.txt", dir);
    const char *tgt = test_state_target(path);   /* SQLite file or PostgreSQL */
    bp_state *st = NULL;
    char *err = NULL;

    /* A file that is not SQLite is refused, saying how to recover. */
    FILE *f = fopen(bad, "w");
    fputs("this is not a database, just some notes long enough to look like a file\n", f);
    fclose(f);
    CHECK_INT(bp_state_open(bad, "t", &st, &err), BP_ERR_INVALID);
    snprintf(msg, sizeof(msg),
             "state file %s: not a SQLite database (corrupt or foreign file) (file is not a "
             "database). Recovery: move the file aside and start again; sources then resume "
             "from their configured start (see docs/state.md)", bad);
    CHECK_STR(err, msg);
    free(err);
    err = NULL;
    CHECK(st == NULL);

    CHECK_INT(bp_state_open(tgt, "t", &st, &err), BP_OK);

    /* Checkpoints: absent, set, overwritten, deleted; scoped. */
    char *v = NULL;
    CHECK_INT(bp_state_checkpoint_get(st, "r/in", "offset", &v), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_state_checkpoint_set(st, "r/in", "offset", "10"), BP_OK);
    CHECK_INT(bp_state_checkpoint_set(st, "r/in", "offset", "20"), BP_OK);
    CHECK_INT(bp_state_checkpoint_get(st, "r/in", "offset", &v), BP_OK);
    CHECK_STR(v, "20");
    free(v);
    CHECK_INT(bp_state_checkpoint_get(st, "r2/in", "offset", &v), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_state_checkpoint_set(st, "r/in", "offset", NULL), BP_OK);
    CHECK_INT(bp_state_checkpoint_get(st, "r/in", "offset", &v), BP_ERR_NOT_FOUND);

    /* Dead letters: stored with stage and reason, listed, read, deleted. */
    CHECK_INT(bp_state_dead_letter(st, "r", "r/erp", "reject: no", "{\"x\":1}", 7), BP_OK);
    CHECK_INT(bp_state_dead_letter(st, "r2", "r2/in", "bad line", "raw\0bytes", 9), BP_OK);
    int n = 0;
    CHECK_INT(bp_state_dlq_foreach(st, NULL, 0, count_dl, &n), BP_OK);
    CHECK_INT(n, 2);
    n = 0;
    CHECK_INT(bp_state_dlq_foreach(st, "r2", 0, count_dl, &n), BP_OK);
    CHECK_INT(n, 1);
    bp_dead_letter dl;
    CHECK_INT(bp_state_dlq_get(st, 2, &dl), BP_OK);
    CHECK_STR(dl.stage, "r2/in");
    CHECK_STR(dl.reason, "bad line");
    CHECK_INT(dl.payload_len, 9);
    CHECK(memcmp(dl.payload, "raw\0bytes", 9) == 0);   /* binary-safe */
    bp_dead_letter_clear(&dl);
    CHECK_INT(bp_state_dlq_delete(st, 2), BP_OK);
    CHECK_INT(bp_state_dlq_delete(st, 2), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_state_dlq_get(st, 2, &dl), BP_ERR_NOT_FOUND);

    /* Review: parked with its triage fields, highest priority first. */
    bp_review_item low = {.route = "r", .stage = "review", .reason = "low", .payload = "{}",
                          .confidence = 0.5, .priority = 1};
    bp_review_item high = {.route = "r", .stage = "r/extract#1", .reason = "high",
                           .payload = "{}", .flags = "po_mismatch", .subject = "INV-1",
                           .confidence = -1, .priority = 9};
    CHECK_INT(bp_state_park_review(st, &low), BP_OK);
    CHECK_INT(bp_state_park_review(st, &high), BP_OK);
    int64_t seq = 0;
    CHECK_INT(bp_state_review_foreach(st, NULL, first_review, &seq), BP_OK);
    CHECK_INT(seq, 2);
    bp_review_item it;
    CHECK_INT(bp_state_review_get(st, 2, &it), BP_OK);
    CHECK_STR(it.reason, "high");
    CHECK_STR(it.flags, "po_mismatch");
    CHECK_STR(it.subject, "INV-1");
    CHECK(it.confidence < 0);

    /* A decision takes the entry off the queue once; a second reviewer
     * finds it gone. A correction is kept as a labelled example. */
    bp_correction ch = {.path = "data.total", .old_json = "9800", .new_json = "8900"};
    CHECK_INT(bp_state_review_decide(st, &it, "corrected", "ann", "typo", &ch, 1, "s", "1"),
              BP_OK);
    CHECK_INT(bp_state_review_decide(st, &it, "approved", "bob", NULL, NULL, 0, "s", "1"),
              BP_ERR_NOT_FOUND);
    bp_review_item_clear(&it);
    CHECK_INT(bp_state_review_get(st, 2, &it), BP_ERR_NOT_FOUND);
    CHECK_INT(bp_state_count(st, "corrections"), 1);
    /* A rejection adds a dead letter with the reviewer's reason. */
    CHECK_INT(bp_state_review_get(st, 1, &it), BP_OK);
    CHECK_INT(bp_state_review_decide(st, &it, "rejected", "ann", "duplicate", NULL, 0, "s", "2"),
              BP_OK);
    bp_review_item_clear(&it);
    CHECK_INT(bp_state_count(st, "review_queue"), 0);
    CHECK_INT(bp_state_dlq_get(st, 3, &dl), BP_OK);
    CHECK_STR(dl.stage, "review");
    CHECK_STR(dl.reason, "rejected in review by ann: duplicate");
    bp_dead_letter_clear(&dl);

    bp_state_close(st);
    /* Reopened: everything durable. */
    CHECK_INT(bp_state_open(tgt, "t", &st, &err), BP_OK);
    CHECK_INT(bp_state_count(st, "dead_letters"), 2);
    CHECK_INT(bp_state_count(st, "audit_log"), 2);   /* the two decisions */

    /* One dead letter per record and stage (issue 17): the same again updates
     * it in place with the new reason; another stage is another entry. */
    int64_t att = 0;
    CHECK_INT(bp_state_dead_letter_once(st, "r", "r/erp", "first", "{}", 2, "s", "7", &att), BP_OK);
    CHECK_INT(att, 1);
    CHECK_INT(bp_state_dead_letter_once(st, "r", "r/erp", "again", "{}", 2, "s", "7", &att), BP_OK);
    CHECK_INT(att, 2);
    CHECK_INT(bp_state_dead_letter_once(st, "r", "r/crm", "other", "{}", 2, "s", "7", &att), BP_OK);
    CHECK_INT(att, 1);
    CHECK_INT(bp_state_count(st, "dead_letters"), 4);
    CHECK_INT(bp_state_dlq_get(st, 4, &dl), BP_OK);
    CHECK_STR(dl.reason, "again");
    CHECK_INT(dl.attempts, 2);
    bp_dead_letter_clear(&dl);

    /* One review entry per record; a decided one reports its decision. */
    bp_review_item p = {.route = "r", .stage = "review", .reason = "check", .payload = "{}",
                        .confidence = -1};
    bp_park_result pr;
    CHECK_INT(bp_state_park_review_once(st, &p, "s", "8", &pr), BP_OK);
    CHECK(!pr.already_parked && pr.decided == NULL && pr.seq > 0);
    int64_t pseq = pr.seq;
    bp_park_result_clear(&pr);
    CHECK_INT(bp_state_park_review_once(st, &p, "s", "8", &pr), BP_OK);
    CHECK(pr.already_parked && pr.seq == pseq);
    bp_park_result_clear(&pr);
    CHECK_INT(bp_state_count(st, "review_queue"), 1);
    CHECK_INT(bp_state_review_get(st, pseq, &it), BP_OK);
    CHECK_INT(bp_state_review_decide(st, &it, "approved", "ann", "", NULL, 0, "s", "8"), BP_OK);
    bp_review_item_clear(&it);
    CHECK_INT(bp_state_park_review_once(st, &p, "s", "8", &pr), BP_OK);
    CHECK_STR(pr.decided, "approved");
    CHECK(pr.decision_json && strstr(pr.decision_json, "\"decision\":\"approved\"") != NULL);
    bp_park_result_clear(&pr);
    CHECK_INT(bp_state_count(st, "review_queue"), 0);

    /* Reopen (owner): a rejected entry parked again as a new entry with its
     * triage fields and arrival (review_queue.arrived_ms, issue 22), its dead
     * letter taken back; once only; a delivered one refused. */
    bp_review_item rj = {.route = "r", .stage = "review", .reason = "vendor?", .payload = "{}",
                         .confidence = 0.25, .priority = 4, .arrived_ms = 4242};
    CHECK_INT(bp_state_park_review_once(st, &rj, "s", "9", &pr), BP_OK);
    int64_t rseq = pr.seq;
    bp_park_result_clear(&pr);
    CHECK_INT(bp_state_review_get(st, rseq, &it), BP_OK);
    CHECK_INT(it.arrived_ms, 4242);
    int64_t dl_before = bp_state_count(st, "dead_letters");
    CHECK_INT(bp_state_review_decide(st, &it, "rejected", "ann", "unknown vendor", NULL, 0, "s",
                                     "9"),
              BP_OK);
    bp_review_item_clear(&it);
    CHECK_INT(bp_state_count(st, "dead_letters"), dl_before + 1);
    int64_t nseq = 0;
    char *who = NULL;
    CHECK_INT(bp_state_review_reopen(st, rseq, "ops", "vendor added", &nseq, &who), BP_OK);
    CHECK(nseq > rseq);
    CHECK(who == NULL);
    CHECK_INT(bp_state_count(st, "dead_letters"), dl_before);
    CHECK_INT(bp_state_review_get(st, nseq, &it), BP_OK);
    CHECK_STR(it.reason, "vendor?");
    CHECK_INT(it.priority, 4);
    CHECK(it.confidence > 0.24 && it.confidence < 0.26);
    bp_review_item_clear(&it);
    int64_t again = 0;
    CHECK_INT(bp_state_review_reopen(st, rseq, "ops", "", &again, &who), BP_ERR_FULL);
    CHECK_STR(who, "reopened by ops");
    free(who);
    who = NULL;
    CHECK_INT(bp_state_review_reopen(st, pseq, "ops", "", &again, &who), BP_ERR_FULL);
    CHECK_STR(who, "approved by ann");
    free(who);
    who = NULL;
    CHECK_INT(bp_state_review_reopen(st, 999999, "ops", "", &again, &who), BP_ERR_NOT_FOUND);
    free(who);
    CHECK_INT(bp_state_count(st, "review_queue"), 1);
    bp_state_close(st);

    /* A store from before review_queue.arrived_ms (issue 22: files, and the
     * PostgreSQL databases of issue 20 before it): the column is added at
     * open on either backend, the rows kept. */
    char alter[768];
    if (test_state_pg())
        snprintf(alter, sizeof(alter),
                 "psql -X -q '%s' -c 'ALTER TABLE review_queue DROP COLUMN arrived_ms'", tgt);
    else
        snprintf(alter, sizeof(alter),
                 "sqlite3 '%s' 'ALTER TABLE review_queue DROP COLUMN arrived_ms'", tgt);
    if (system(alter) == 0) {
        CHECK_INT(bp_state_open(tgt, "t", &st, &err), BP_OK);
        CHECK_INT(bp_state_count(st, "review_queue"), 1);
        bp_review_item late = {.route = "r", .stage = "review", .reason = "late", .payload = "{}",
                               .confidence = -1, .arrived_ms = 777};
        CHECK_INT(bp_state_park_review_once(st, &late, "s", "10", &pr), BP_OK);
        int64_t lseq = pr.seq;
        bp_park_result_clear(&pr);
        CHECK_INT(bp_state_review_get(st, lseq, &it), BP_OK);
        CHECK_INT(it.arrived_ms, 777);
        bp_review_item_clear(&it);
        bp_state_close(st);
    } else {
        CHECK(!"cannot drop review_queue.arrived_ms to test its migration");
    }

    /* A file from before the keys: the columns are added, its rows kept. */
    char old[256];
    snprintf(old, sizeof(old), "%s/old.db", dir);
    snprintf(cmd0, sizeof(cmd0),
             "sqlite3 '%s' \"PRAGMA application_id=1112558641;"
             " CREATE TABLE dead_letters(seq INTEGER PRIMARY KEY AUTOINCREMENT, route TEXT NOT NULL,"
             " stage TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB, created_ms INTEGER NOT NULL);"
             " INSERT INTO dead_letters VALUES(1,'r','r/erp','x','{}',1);"
             " INSERT INTO dead_letters VALUES(2,'r','r/erp','x','{}',1);\"", old);
    if (system(cmd0) == 0) {
        CHECK_INT(bp_state_open(old, "t", &st, &err), BP_OK);
        CHECK_INT(bp_state_count(st, "dead_letters"), 2);
        CHECK_INT(bp_state_dlq_get(st, 2, &dl), BP_OK);
        CHECK_INT(dl.attempts, 1);
        bp_dead_letter_clear(&dl);
        CHECK_INT(bp_state_dead_letter_once(st, "r", "r/erp", "y", "{}", 2, "s", "1", &att), BP_OK);
        CHECK_INT(bp_state_count(st, "dead_letters"), 3);
        bp_state_close(st);
    } else {
        CHECK(!"sqlite3 shell available");
    }
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
