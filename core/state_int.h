/* The state store's private parts, shared by state.c and state_review.c. */
#ifndef BP_CORE_STATE_INT_H
#define BP_CORE_STATE_INT_H

#include <pthread.h>
#include "db.h"
#include <sys/types.h>

#include "state.h"

struct bp_state {
    bp_db *db;
    pthread_mutex_t mu;           /* one statement at a time on db */
    bp_db_stmt *ledger_put;     /* prepared once: used per batch */
    bp_db_stmt *ledger_forget;
    bp_db_stmt *ckpt_put;
    /* ---- issue 18 (audit) ---- */
    bp_db_stmt *audit_put;      /* one leaf into audit_log */
    struct bp_audit_signer *audit_signer;   /* the owner's checkpoint signer, or NULL */
    /* ---- issue 20: fences of routes run under a lease (state_lease.c) ---- */
    struct state_fence {
        char route[128];
        char lease[192];
        int64_t epoch;
        int fenced;               /* a write was refused: a newer epoch exists */
    } fences[32];
    size_t n_fences;
    char instance[256];           /* this process's instance (shared state), or "" */
    char *path;                   /* as opened: the owner's watch stats it */
    dev_t dev;                    /* the file opened (bp_state_check_file) */
    ino_t ino;
    int gone;                     /* sticky: the file was deleted or replaced */
};

/* 1 (sticky) once the path no longer names the opened file: writers then
 * fail instead of committing into a file nobody will read. Lock held. */
int state_file_gone(bp_state *st);

/* 1 when a write of scope ("route/...") may go on: no fence applies, or the
 * route's lease is still at its epoch (checked, and the lease row locked,
 * in the caller's transaction). 0: refused (logged, fence marked). Lock held. */
int state_fence_ok(bp_state *st, const char *scope);
/* 1 when a fence applies to scope. Lock held. */
int state_fence_applies(bp_state *st, const char *scope);
/* Creates checkpoint_scopes (state_checkpoint.c); lock not held. */
bp_status bp_state_scopes_migrate(bp_state *st);
/* Creates the lease and instance tables (state_lease.c). */
bp_status bp_state_lease_migrate(bp_state *st, char **sqlerr);

/* COMMIT when ok (else ROLLBACK); BP_OK only when committed. Lock held. */
bp_status state_end(bp_state *st, int ok);

/* Adds the review columns, corrections and route_stats tables to a state file
 * (also to files written by older versions). *sqlerr: bp_db_free'd. */
bp_status bp_state_review_migrate(bp_state *st, char **sqlerr);

/* plugin_stats and the dead-letter ledger's triggers (state_stats.c). */
bp_status bp_state_stats_migrate(bp_state *st, char **sqlerr);

#endif
