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
void bp_state_close(bp_state *st);

/* Checkpoints, by scope ("route/connector") and key. get: *value malloc'ed,
 * BP_ERR_NOT_FOUND when absent. set: durable on BP_OK; value NULL deletes. */
bp_status bp_state_checkpoint_get(bp_state *st, const char *scope, const char *key, char **value);
bp_status bp_state_checkpoint_set(bp_state *st, const char *scope, const char *key,
                                  const char *value);

/* Durably stores a record that failed permanently (dead letter) or that a
 * transform or the review gate parked for a person. payload: the envelope's JSON
 * (BP_SER_FULL) or the raw input that never became an envelope. */
bp_status bp_state_dead_letter(bp_state *st, const char *route, const char *stage,
                               const char *reason, const char *payload, size_t len);
bp_status bp_state_park_review(bp_state *st, const char *route, const char *stage,
                               const char *reason, const char *payload);

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

/* Audit log: what the transforms did to each delivered record (its lineage),
 * n rows in one transaction. lineage_json[i] may be NULL (row skipped). */
bp_status bp_state_audit(bp_state *st, const char *route, size_t n, const char *const *sources,
                         const char *const *ids, const char *const *subjects,
                         const char *const *lineage_json, const char *outcome);

/* One dead letter. Strings and payload are malloc'ed (bp_dead_letter_clear). */
typedef struct bp_dead_letter {
    int64_t seq;
    char *route, *stage, *reason;
    char *payload;
    size_t payload_len;
    int64_t created_ms;
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

/* Counts, for status output and tests. -1 on error. */
int64_t bp_state_count(bp_state *st, const char *table);

#endif
