/* The site's state store: one SQLite file (WAL) holding checkpoints, parked
 * records (review) and dead letters. Thread-safe: one connection, one mutex. */
#ifndef BP_CORE_STATE_H
#define BP_CORE_STATE_H

#include <stdint.h>
#include <backplane/status.h>

typedef struct bp_state bp_state;

/* Opens or creates the store at path for site. A file that is not a SQLite
 * database, or a SQLite database of another application, is refused with
 * BP_ERR_INVALID and a malloc'ed *errmsg that says how to recover. */
bp_status bp_state_open(const char *path, const char *site, bp_state **out, char **errmsg);
/* As bp_state_open, for commands that only read (lists, shows, reports):
 * never creates the file. A missing file is BP_ERR_NOT_FOUND, one this user
 * may not read and write BP_ERR_IO ("permission denied", owner and mode);
 * only a corrupt or foreign file's message gives recovery advice. */
bp_status bp_state_open_existing(const char *path, const char *site, bp_state **out,
                                 char **errmsg);
void bp_state_close(bp_state *st);

/* The owner's watch (§9): BP_OK while the path still names the file that
 * was opened; BP_ERR_IO with a malloc'ed *why ("state file X was deleted
 * while running" / "... was replaced ...") once it was unlinked or another
 * file took its name: writes would go to a file nobody will read again.
 * Any thread; one stat(2). */
bp_status bp_state_check_file(bp_state *st, char **why);
/* The path the store was opened with (borrowed). */
const char *bp_state_path(const bp_state *st);
/* 1 when the store is a PostgreSQL database shared by the site's instances
 * (DESIGN.md §10): no file lock, leases own the sources. */
int bp_state_is_shared(const bp_state *st);

/* Checkpoints, by scope ("route/connector") and key. get: *value malloc'ed,
 * BP_ERR_NOT_FOUND when absent. set: durable on BP_OK; value NULL deletes. */
bp_status bp_state_checkpoint_get(bp_state *st, const char *scope, const char *key, char **value);
bp_status bp_state_checkpoint_set(bp_state *st, const char *scope, const char *key,
                                  const char *value);
/* Scopes that survive renames: see checkpoint_scope.h (declared here so the
 * runtime calls it with the state functions it already includes). */
struct bp_site;
struct bp_diags;
bp_status bp_checkpoint_scopes_settle(bp_state *st, const struct bp_site *site,
                                      struct bp_diags *d);

/* Durably stores a record that failed permanently (dead letter) or that a
 * transform or the review gate parked for a person. payload: the envelope's JSON
 * (BP_SER_FULL) or the raw input that never became an envelope. */
bp_status bp_state_dead_letter(bp_state *st, const char *route, const char *stage,
                               const char *reason, const char *payload, size_t len);

/* bp_state_dead_letter for a record known by source + id (for raw input that
 * never became an envelope: source "" and id a digest of the bytes): ONE entry
 * per route, stage, source and id. A record dead-lettered again (redelivered
 * after a crash, or failing again on replay) updates its entry in place: the
 * new reason and payload, attempts + 1 (*attempts, when not NULL, gets the
 * count). BP_OK or BP_ERR_IO. (robust2, issue 17) */
bp_status bp_state_dead_letter_once(bp_state *st, const char *route, const char *stage,
                                    const char *reason, const char *payload, size_t len,
                                    const char *source, const char *id, int64_t *attempts);

/* Write-back ledger: which records a sink has applied, so a record redelivered
 * after a crash is not applied twice. One row per sink write holds the keys
 * ("source\x1fid") of the records it applied; a row is forgotten once the
 * source has acked all of them (nothing can redeliver them any more).
 *
 * ledger_load: calls fn for every key of sink's remaining rows (left by runs
 * that ended before their source acked).
 * ledger_commit: in ONE transaction, records the n keys as a new row (*row
 * gets its id; no row when n is 0), stores the sink's checkpoint when ckpt_key
 * is not NULL, and deletes the n_forget rows whose records were acked. Durable
 * and atomic on BP_OK. */
bp_status bp_state_ledger_load(bp_state *st, const char *sink,
                               void (*fn)(const char *key, size_t len, void *ud), void *ud);
bp_status bp_state_ledger_commit(bp_state *st, const char *sink, const char *const *sources,
                                 const char *const *ids, size_t n, const char *ckpt_key,
                                 const char *ckpt_value, const int64_t *forget, size_t n_forget,
                                 int64_t *row);
/* Deletes rows older than older_than_ms (wall clock). Returns how many or -1. */
int64_t bp_state_ledger_prune(bp_state *st, int64_t older_than_ms);

/* One dead letter. Strings and payload are malloc'ed (bp_dead_letter_clear). */
typedef struct bp_dead_letter {
    int64_t seq;
    char *route, *stage, *reason;
    char *payload;
    size_t payload_len;
    int64_t created_ms;
    int64_t attempts;         /* times the record was dead-lettered here (robust2) */
} bp_dead_letter;

void bp_dead_letter_clear(bp_dead_letter *dl);
/* Calls fn for each dead letter (oldest first), of route only when route is
 * not NULL; with_payload 0 leaves payload NULL. Stops when fn returns non-zero. */
bp_status bp_state_dlq_foreach(bp_state *st, const char *route, int with_payload,
                               int (*fn)(const bp_dead_letter *dl, void *ud), void *ud);
/* One entry by seq: BP_ERR_NOT_FOUND when there is none. */
bp_status bp_state_dlq_get(bp_state *st, int64_t seq, bp_dead_letter *out);
/* Deletes one entry: BP_ERR_NOT_FOUND when there is none. */
bp_status bp_state_dlq_delete(bp_state *st, int64_t seq);

/* ---- human review (state_review.c) -------------------------------------- */

/* One parked record. Strings malloc'ed (bp_review_item_clear). confidence < 0:
 * none known; flags: comma-separated or NULL. */
typedef struct bp_review_item {
    int64_t seq;
    char *route, *stage, *reason, *payload, *flags, *subject;
    double confidence;
    int64_t priority;
    int64_t created_ms;
    int64_t arrived_ms;       /* when the record came in (0: unknown; issue 22) */
} bp_review_item;

void bp_review_item_clear(bp_review_item *it);
/* Reopens entry seq, which a reviewer rejected (§9 POST /api/v1/review/SEQ/
 * reopen), in one transaction: its dead letter (stage review) goes back into
 * the review queue as a new entry *new_seq with the triage fields it had; the
 * reopening is appended to the audit (a review event: a redelivery of the
 * record then parks, never applies the old rejection) and to the audit log,
 * by actor with note. Nothing is rewritten. BP_OK; BP_ERR_NOT_FOUND no
 * decided entry seq; BP_ERR_FULL not reopenable, *who (malloc'ed) says why
 * ("approved by ann", "reopened by bob", "its dead letter was replayed or
 * dropped since"); BP_ERR_IO. Any thread. */
bp_status bp_state_review_reopen(bp_state *st, int64_t seq, const char *actor, const char *note,
                                 int64_t *new_seq, char **who);
/* Parks a record (payload: its envelope JSON, BP_SER_FULL). */
bp_status bp_state_park_review(bp_state *st, const bp_review_item *it);
/* What bp_state_park_review_once found (robust2). Strings malloc'ed
 * (bp_park_result_clear). */
typedef struct bp_park_result {
    int64_t seq;              /* the entry (new or already there); 0 when decided */
    int already_parked;       /* the record was parked before: nothing added */
    char *decided;            /* not parked, decided before: "approved", "corrected"
                               * or "rejected" (else NULL) */
    char *decision_json;      /* that decision's audit text ({"decision", "changes": [...]}) */
} bp_park_result;

void bp_park_result_clear(bp_park_result *r);

/* Parks a record known by source + id at most once per route, in one
 * transaction: when an entry for it is parked already, nothing is added;
 * when it was decided before (a redelivery after a crash between park and the
 * source's ack), nothing is added and out says the decision, for the caller to
 * apply. BP_OK (see out) or BP_ERR_IO. (robust2, issue 17) */
bp_status bp_state_park_review_once(bp_state *st, const bp_review_item *it, const char *source,
                                    const char *id, bp_park_result *out);

/* Calls fn for each parked record of route (all when NULL), highest priority
 * first, then oldest; stops when fn returns non-zero. */
bp_status bp_state_review_foreach(bp_state *st, const char *route,
                                  int (*fn)(const bp_review_item *it, void *ud), void *ud);
/* One parked record: BP_ERR_NOT_FOUND when there is none. */
bp_status bp_state_review_get(bp_state *st, int64_t seq, bp_review_item *out);

/* One field a reviewer changed: a labelled example for training. */
typedef struct bp_correction {
    const char *path;         /* "data.total" */
    const char *old_json;     /* JSON text of the old value, NULL when absent */
    const char *new_json;     /* JSON text of the new value */
} bp_correction;

/* A reviewer's decision on parked record seq, in ONE transaction: the entry
 * leaves the queue, the decision goes to the audit log (outcome "approved",
 * "corrected" or "rejected"; who, when, what changed, note) and corrections to
 * the corrections table with the record as it was (before). A rejected record
 * is also added to the dead letters with the reviewer's reason. BP_ERR_NOT_FOUND
 * when seq is no longer parked (another reviewer took it). */
bp_status bp_state_review_decide(bp_state *st, const bp_review_item *it, const char *outcome,
                                 const char *actor, const char *note,
                                 const bp_correction *changes, size_t n_changes,
                                 const char *source, const char *id);

/* Puts a decided record back in the queue (its resumption failed before it
 * was safe): a new entry with the same fields. */
bp_status bp_state_review_repark(bp_state *st, const bp_review_item *it);

/* Corrections (labelled examples), oldest first: fn gets the path, old and
 * new JSON, and the record before correction. */
bp_status bp_state_corrections_foreach(bp_state *st,
                                       int (*fn)(const char *route, const char *path,
                                                 const char *old_json, const char *new_json,
                                                 const char *payload, void *ud),
                                       void *ud);

/* Adds deltas to route's persistent counters (records_in, records_out,
 * parked, flag.NAME, ...), which `backplane report` reads. */
bp_status bp_state_stats_add(bp_state *st, const char *route, const char *const *names,
                             const int64_t *deltas, size_t n);

/* Runs a read-only SELECT and calls fn per row with the columns as text (NULL
 * for SQL NULL). For reports. */
bp_status bp_state_select(bp_state *st, const char *sql,
                          int (*fn)(int ncol, const char *const *cols, void *ud), void *ud);

/* Counts, for status output and tests. -1 on error. */
int64_t bp_state_count(bp_state *st, const char *table);

#endif
