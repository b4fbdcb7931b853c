/* The control API's tables in the state store (DESIGN.md §9, docs/api.md):
 * the decision requests the owner carries out (control_requests), review
 * claims (review_claims), route pauses (route_pauses), and the reads the API
 * serves from other tables (checkpoints; the audit trace is the audit log's,
 * bp_audit_trace). All SQL of
 * core/control.c lives here, so a second backend is one place (§10).
 * Thread: any; each call takes the store's lock. */
#ifndef BP_CORE_STATE_CONTROL_H
#define BP_CORE_STATE_CONTROL_H

#include <stdint.h>
#include "state.h"

/* Adds the control tables to the store (idempotent). BP_OK or BP_ERR_IO. */
bp_status bp_state_control_migrate(bp_state *st);

/* Records a decision (kind "review": verb approve|correct|reject|claim|
 * release; kind "dlq": verb replay|delete; verb "check": nothing recorded,
 * only whether it could be) on entry seq for actor, in ONE transaction: the
 * entry must exist; another's request not yet carried out, or another's live
 * claim, refuses it. A review decision claims the item (expiring after
 * claim_ttl_ms, or default_ttl_ms when that is <= 0). body_json is stored as
 * given (may be NULL). Returns BP_OK with *id (0 for claim, release, check),
 * or BP_ERR_NOT_FOUND, BP_ERR_FULL (*who gets the other actor, malloc'ed;
 * *claimed 1 when it was a live claim), BP_ERR_IO. */
bp_status bp_state_control_submit(bp_state *st, const char *kind, int64_t seq, const char *verb,
                                  const char *actor, const char *body_json, int64_t claim_ttl_ms,
                                  int64_t default_ttl_ms, int64_t *id, char **who, int *claimed);

/* One recorded request. Strings malloc'ed (bp_control_request_clear). */
typedef struct bp_control_request {
    int64_t id, seq;
    char *kind, *verb, *actor, *body;
} bp_control_request;

void bp_control_request_clear(bp_control_request *r);

/* The oldest request not done yet (state queued or running): 1 found (*r
 * filled), 0 none, -1 error. */
int bp_state_control_next(bp_state *st, bp_control_request *r);

/* Sets request id's state ("running", "done"), outcome and detail (may be
 * NULL) and done time; when claim_seq > 0 also drops that review claim, in
 * the same transaction. Failures are ignored (the request is carried out
 * again at the next start). */
void bp_state_control_set_state(bp_state *st, int64_t id, const char *state, const char *outcome,
                                const char *detail, int64_t claim_seq);

/* 1 when request id is done (*outcome, *detail malloc'ed, NULL when the
 * columns are), 0 not yet or unknown, -1 error. */
int bp_state_control_result(bp_state *st, int64_t id, char **outcome, char **detail);

/* The live claim of review entry seq at now_ms: 1 (*actor malloc'ed,
 * *expires_ms), 0 none, -1 error. */
int bp_state_review_claim_get(bp_state *st, int64_t seq, int64_t now_ms, char **actor,
                              int64_t *expires_ms);

/* Every live claim at now_ms (fn per claim; strings borrowed), one
 * statement for a whole review list. BP_OK or BP_ERR_IO. */
bp_status bp_state_review_claims_foreach(bp_state *st, int64_t now_ms,
                                         int (*fn)(int64_t seq, const char *actor,
                                                   int64_t expires_ms, void *ud),
                                         void *ud);

/* Pauses (pause 1, by actor, now) or resumes route: the pause outlasts the
 * owner until resumed. BP_OK or BP_ERR_IO. */
bp_status bp_state_route_pause_set(bp_state *st, const char *route, const char *actor,
                                   int pause);
/* 1 when route is paused (*by: who, malloc'ed, when by is not NULL), 0 not,
 * -1 error. */
int bp_state_route_paused(bp_state *st, const char *route, char **by);

/* Every checkpoint, by scope and key: fn per row (strings borrowed for the
 * call); stops when fn returns non-zero. BP_OK or BP_ERR_IO. */
bp_status bp_state_checkpoints_foreach(bp_state *st,
                                       int (*fn)(const char *scope, const char *key,
                                                 const char *value, int64_t updated_ms,
                                                 void *ud),
                                       void *ud);

/* The instance name this process takes control requests as (issue 20,
 * shared state); "" (the default) takes any. */
void bp_state_set_instance(bp_state *st, const char *name);

/* ---- the API's own read connection ------------------------------------ */

/* A read-only connection to st's file for the API's frequent reads (status,
 * review list; on PostgreSQL state, issue 20, the reads go through st): a WAL reader never waits for the routes' writer nor makes it
 * wait, it does not take st's lock (which a route holds across a batch's
 * commit and fsync), and its statements are prepared once. Every read ends
 * its read transaction at once, so the WAL can be checkpointed. */
typedef struct bp_state_reader bp_state_reader;

/* Opens a reader on st's file. BP_OK with *out, or BP_ERR_IO. Thread: any. */
bp_status bp_state_reader_open(bp_state *st, bp_state_reader **out);
void bp_state_reader_close(bp_state_reader *r);

/* Rows in review_queue (-1 on error) and dead_letters (into *dead_letters),
 * one locked call. Thread: any (the reader's own lock). */
int64_t bp_state_reader_counts(bp_state_reader *r, int64_t *dead_letters);


#endif
