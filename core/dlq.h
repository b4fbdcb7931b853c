/* Dead letters sent back (`backplane dlq replay`) or dropped: what each does
 * is decided here; the command line parses and prints. */
#ifndef BP_CORE_DLQ_H
#define BP_CORE_DLQ_H

#include <stdint.h>
#include <backplane/status.h>
#include "state.h"

struct bp_runtime;

typedef struct bp_dlq_result {
    const char *what;      /* resolved: what became of it (static), e.g. "delivered" */
    char *error;           /* not resolved: one line without a prefix (malloc'ed) */
} bp_dlq_result;

/* Replays dead letter seq into its route where it failed (bp_runtime_replay:
 * to the sink that refused it, or from the transform that rejected it) and
 * removes the entry in every resolved case; a record that fails again is
 * dead-lettered anew, as a new entry. only_route: when not NULL, an entry of
 * another route is left alone (BP_ERR_NOT_FOUND with no error text).
 * Returns BP_OK (delivered, dropped or parked) or BP_REJECT (failed again),
 * both with out->what; otherwise out->error (the caller frees it):
 * BP_ERR_NOT_FOUND (no such entry, or its route is gone), BP_ERR_PARSE (raw
 * input that never became an envelope: fix it at the source, or drop it),
 * BP_ERR_IO (the state store failed: stop replaying), or the replay's status
 * (the entry stays). Thread: one at a time per runtime (it runs route stages
 * on the caller's thread). */
bp_status bp_dlq_replay(struct bp_runtime *rt, int64_t seq, const char *only_route,
                        bp_dlq_result *out);

/* Deletes dead letter seq (of only_route, when not NULL): BP_OK, or
 * BP_ERR_NOT_FOUND / BP_ERR_IO with out->error. */
bp_status bp_dlq_drop(bp_state *st, int64_t seq, const char *only_route, bp_dlq_result *out);

/* An operator's replay or drop is always a leaf of the audit log (issue 18):
 * actor (an OS user name, "os:" is added, or "api:NAME"), verb ("replay" or
 * "delete"), the entry seq as it was before the action (dl, may be NULL) and
 * what became of it (outcome). Called where the action is carried out: the
 * owner's decider, or the CLI's drop with no owner. A failed append is
 * logged. Any thread. */
void bp_dlq_audit(bp_state *st, const char *actor, const char *verb, int64_t seq,
                  const bp_dead_letter *dl, const char *outcome);

#endif
