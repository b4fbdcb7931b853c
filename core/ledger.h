/* The write-back ledger of one sink (BP_PLUGIN_LEDGER): which records it has
 * applied, so a record its source redelivers after a crash is not applied
 * twice. The rows live in the state store (bp_state_ledger_*); this keeps the
 * sink's view of them:
 *   - the keys that runs before this one applied and left unacked, loaded once
 *     and looked up in memory (the source may redeliver those);
 *   - this run's rows, each with the highest pipeline sequence number it
 *     covers, so that a row is deleted in the next commit once its source has
 *     acked every record in it durably.
 * Rows that outlive both (a run that crashed long ago) are pruned by age at
 * route start: the site option `ledger: { retention: 24h }` (docs/state.md).
 * Not thread-safe: one sink thread uses a sink's ledger. */
#ifndef BP_CORE_LEDGER_H
#define BP_CORE_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <backplane/envelope.h>
#include "state.h"

struct bp_keyset;

typedef struct bp_ledger {
    int loaded;
    struct bp_keyset *prev;    /* keys left by earlier runs */
    int64_t *rows;             /* this run's rows ... */
    uint64_t *row_seq;         /* ... and the highest sequence number each covers */
    size_t n_rows, cap_rows;
    char *kbuf;                /* scratch for keys */
    size_t kcap;
} bp_ledger;

/* The default of `ledger.retention`: a day. */
#define BP_LEDGER_RETENTION_DEFAULT_MS (24LL * 3600 * 1000)

void bp_ledger_clear(bp_ledger *l);

/* Loads sink's rows left by earlier runs (once; later calls do nothing) and
 * logs how many records will not be applied again under log_name. BP_ERR_IO
 * when the state store fails, BP_ERR_NOMEM. */
bp_status bp_ledger_load(bp_ledger *l, bp_state *st, const char *sink, const char *log_name);

/* 1 when env's (source, id) was applied by an earlier run. */
int bp_ledger_applied_before(bp_ledger *l, const bp_envelope *env);

/* Records the n accepted records (borrowed; max_seq: the highest sequence
 * number among them) and the sink's checkpoint (ckpt_key may be NULL) in ONE
 * state-store transaction, deleting this run's rows below acked (every record
 * in them acked durably). BP_OK, BP_ERR_IO or BP_ERR_NOMEM. */
bp_status bp_ledger_commit(bp_ledger *l, bp_state *st, const char *sink,
                           const bp_envelope *const *accepted, size_t n, uint64_t max_seq,
                           uint64_t acked, const char *ckpt_key, const char *ckpt_value);

/* Deletes this run's rows below acked (a clean stop leaves (almost) nothing
 * for the next start to load). */
bp_status bp_ledger_forget_acked(bp_ledger *l, bp_state *st, const char *sink, uint64_t acked);

/* Deletes every sink's rows older than retention_ms before now_ms (wall
 * clock; retention_ms <= 0: the default). Returns how many, or -1. */
int64_t bp_ledger_prune(bp_state *st, int64_t retention_ms, int64_t now_ms);

#endif
