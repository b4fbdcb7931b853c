/* Decisions on records parked for review: approve, correct, reject. The
 * command line (and later the owner's HTTP API) parses and prints; what a
 * decision does is decided here. */
#ifndef BP_CORE_REVIEW_H
#define BP_CORE_REVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <backplane/status.h>
#include "state.h"

struct bp_runtime;

typedef enum bp_review_verb {
    BP_REVIEW_APPROVE,
    BP_REVIEW_CORRECT,
    BP_REVIEW_REJECT,
} bp_review_verb;

/* One field a reviewer sets: path (envelope path, "data.total") and value as
 * typed. The value keeps the type the field has: into a string it is text
 * (`5` stays "5"; a JSON string literal, "\"1,200.00\"", is unquoted); into
 * a number, boolean, object or array it must be JSON of that type; into null
 * it is JSON when it parses, else text. A path that does not exist is refused
 * unless add is set (then: JSON when it parses, else text). */
typedef struct bp_review_set {
    const char *path;
    const char *value;
} bp_review_set;

typedef struct bp_review_request {
    bp_review_verb verb;
    const char *actor;            /* who decides (audited) */
    const char *note;             /* approve/correct: optional note; reject: the reason */
    const bp_review_set *sets;    /* correct: at least one */
    size_t n_sets;
    int add;                      /* correct: paths that do not exist may be created */
} bp_review_request;

/* What a decision did. */
typedef struct bp_review_result {
    const char *outcome;          /* "approved", "corrected", "rejected" (static) */
    const char *what;             /* what became of the record (static), e.g. "delivered" */
    char *error;                  /* on failure: one line without a prefix (malloc'ed) */
} bp_review_result;

/* Decides on parked record seq. Approve and correct resume the record after
 * the stage that parked it (bp_runtime_resume: rt is needed) before taking it
 * off the queue, so a failure in between leaves it parked, never lost (a
 * ledger sink skips the repeat); reject moves it to the dead letters (rt may
 * be NULL). In one state-store transaction the entry leaves the queue and the
 * decision (who, note, what changed) goes to the audit log, the changes to the
 * labelled examples; the route's review.<outcome> counter is incremented.
 * Returns BP_OK (out->outcome, out->what set), or with out->error set (the
 * caller frees it): BP_ERR_NOT_FOUND (no such parked record, or another
 * reviewer decided it first), BP_ERR_PARSE (the entry holds no envelope),
 * BP_ERR_INVALID (a --set refused: bad path, unknown field, wrong type; or
 * resume without rt), another status when resuming failed (it stays parked).
 * Thread: any one thread at a time per runtime (it runs route stages on the
 * caller's thread, as replay does). */
bp_status bp_review_decide(struct bp_runtime *rt, bp_state *st, int64_t seq,
                           const bp_review_request *req, bp_review_result *out);

/* Checks a decision before it is recorded, without resuming anything: for
 * correct, applies the sets to a copy of the parked record (the errors and
 * their text as bp_review_decide's). BP_OK, BP_ERR_NOT_FOUND, BP_ERR_INVALID
 * or BP_ERR_PARSE with *err (malloc'ed). Thread: any. */
bp_status bp_review_check(bp_state *st, int64_t seq, const bp_review_request *req, char **err);

#endif
