/* See state_control.h. Moved here from core/control.c unchanged in what it
 * does: every statement binds its parameters; a request's transaction is
 * BEGIN IMMEDIATE so two processes (an owner and a CLI without one) never
 * both see an entry free. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "clock.h"
#include "state_control.h"
#include "state_int.h"

static const char ctl_schema[] =
    "CREATE TABLE IF NOT EXISTS control_requests(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL, seq INTEGER NOT NULL, verb TEXT NOT NULL, actor TEXT NOT NULL,"
    "  body TEXT, state TEXT NOT NULL DEFAULT 'queued', outcome TEXT, detail TEXT,"
    "  created_ms INTEGER NOT NULL, done_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS review_claims(seq INTEGER PRIMARY KEY, actor TEXT NOT NULL,"
    "  claimed_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, deciding INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS route_pauses(route TEXT PRIMARY KEY, actor TEXT NOT NULL,"
    "  since_ms INTEGER NOT NULL);";

bp_status bp_state_control_migrate(bp_state *st)
{
    pthread_mutex_lock(&st->mu);
    int rc = sqlite3_exec(st->db, ctl_schema, NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return rc == SQLITE_OK ? BP_OK : BP_ERR_IO;
}

static char *ctl_col(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? strdup((const char *)t) : NULL;
}

/* ---- pauses ------------------------------------------------------------- */

bp_status bp_state_route_pause_set(bp_state *st, const char *route, const char *actor, int pause)
{
    if (bp_state_control_migrate(st) != BP_OK)
        return BP_ERR_IO;
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    int ok = sqlite3_prepare_v2(st->db,
                                pause ? "INSERT OR IGNORE INTO route_pauses(route,actor,since_ms) "
                                        "VALUES(?1,?2,?3)"
                                      : "DELETE FROM route_pauses WHERE route=?1",
                                -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(q, 1, route, -1, SQLITE_STATIC);
        if (pause) {
            sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, bp_now_ms());
        }
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return ok ? BP_OK : BP_ERR_IO;
}

int bp_state_route_paused(bp_state *st, const char *route, char **by)
{
    if (by)
        *by = NULL;
    if (bp_state_control_migrate(st) != BP_OK)
        return -1;
    sqlite3_stmt *q = NULL;
    int r = -1;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "SELECT actor FROM route_pauses WHERE route=?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, route, -1, SQLITE_STATIC);
        int s = sqlite3_step(q);
        r = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (r == 1 && by)
            *by = strdup((const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return r;
}

/* ---- requests ----------------------------------------------------------- */

bp_status bp_state_control_submit(bp_state *st, const char *kind, int64_t seq, const char *verb,
                                  const char *actor, const char *body_json, int64_t claim_ttl_ms,
                                  int64_t default_ttl_ms, int64_t *id, char **who, int *claimed)
{
    *who = NULL;
    *claimed = 0;
    if (bp_state_control_migrate(st) != BP_OK)
        return BP_ERR_IO;
    int review = strcmp(kind, "review") == 0;
    int64_t now = bp_now_ms();
    bp_status rc = BP_ERR_IO;
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto unlock;
    int ok = 0;
    /* The entry must exist. */
    const char *exists = review ? "SELECT 1 FROM review_queue WHERE seq=?"
                                : "SELECT 1 FROM dead_letters WHERE seq=?";
    if (sqlite3_prepare_v2(st->db, exists, -1, &q, NULL) != SQLITE_OK)
        goto end;
    sqlite3_bind_int64(q, 1, seq);
    int found = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    q = NULL;
    /* Someone else's request on it, not yet carried out, or a live claim. */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT actor FROM control_requests WHERE kind=? AND seq=? AND "
                           "state IN ('queued','running') ORDER BY id LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        goto end;
    sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, seq);
    if (sqlite3_step(q) == SQLITE_ROW) {
        *who = strdup((const char *)sqlite3_column_text(q, 0));
        rc = BP_ERR_FULL;
        ok = 1;
        goto end;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (!found) {
        /* Decided already: say by whom when the audit knows. */
        if (review && sqlite3_prepare_v2(st->db,
                                         "SELECT actor FROM control_requests WHERE kind=? AND "
                                         "seq=? AND state='done' ORDER BY id DESC LIMIT 1",
                                         -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, seq);
            if (sqlite3_step(q) == SQLITE_ROW) {
                *who = strdup((const char *)sqlite3_column_text(q, 0));
                rc = BP_ERR_FULL;
                ok = 1;
                goto end;
            }
        }
        rc = BP_ERR_NOT_FOUND;
        ok = 1;
        goto end;
    }
    if (review) {
        sqlite3_finalize(q);
        q = NULL;
        if (sqlite3_prepare_v2(st->db,
                               "SELECT actor FROM review_claims WHERE seq=? AND expires_ms>? "
                               "AND actor<>?",
                               -1, &q, NULL) != SQLITE_OK)
            goto end;
        sqlite3_bind_int64(q, 1, seq);
        sqlite3_bind_int64(q, 2, now);
        sqlite3_bind_text(q, 3, actor, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            *who = strdup((const char *)sqlite3_column_text(q, 0));
            *claimed = 1;
            rc = BP_ERR_FULL;
            ok = 1;
            goto end;
        }
        sqlite3_finalize(q);
        q = NULL;
        int decision = strcmp(verb, "claim") != 0;
        if (strcmp(verb, "release") == 0) {
            if (sqlite3_prepare_v2(st->db, "DELETE FROM review_claims WHERE seq=?", -1, &q,
                                   NULL) != SQLITE_OK)
                goto end;
            sqlite3_bind_int64(q, 1, seq);
        } else {
            if (sqlite3_prepare_v2(st->db,
                                   "INSERT OR REPLACE INTO review_claims(seq,actor,claimed_ms,"
                                   "expires_ms,deciding) VALUES(?,?,?,?,?)",
                                   -1, &q, NULL) != SQLITE_OK)
                goto end;
            sqlite3_bind_int64(q, 1, seq);
            sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, now);
            sqlite3_bind_int64(q, 4, now + (claim_ttl_ms > 0 ? claim_ttl_ms : default_ttl_ms));
            sqlite3_bind_int(q, 5, decision);
        }
        if (sqlite3_step(q) != SQLITE_DONE)
            goto end;
        sqlite3_finalize(q);
        q = NULL;
        if (strcmp(verb, "claim") == 0 || strcmp(verb, "release") == 0) {
            *id = 0;
            rc = BP_OK;
            ok = 1;
            goto end;
        }
    }
    if (strcmp(verb, "check") == 0) {   /* only whether a request could be made */
        *id = 0;
        rc = BP_OK;
        ok = 1;
        goto end;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO control_requests(kind,seq,verb,actor,body,created_ms) "
                           "VALUES(?,?,?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK)
        goto end;
    sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, seq);
    sqlite3_bind_text(q, 3, verb, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, actor, -1, SQLITE_STATIC);
    if (body_json)
        sqlite3_bind_text(q, 5, body_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, now);
    if (sqlite3_step(q) != SQLITE_DONE)
        goto end;
    *id = sqlite3_last_insert_rowid(st->db);
    rc = BP_OK;
    ok = 1;
end:
    sqlite3_finalize(q);
    if (state_end(st, ok && rc == BP_OK) != BP_OK && rc == BP_OK)
        rc = BP_ERR_IO;
unlock:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void bp_control_request_clear(bp_control_request *r)
{
    free(r->kind);
    free(r->verb);
    free(r->actor);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int bp_state_control_next(bp_state *st, bp_control_request *r)
{
    sqlite3_stmt *q = NULL;
    int found = -1;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id,kind,seq,verb,actor,body FROM control_requests WHERE "
                           "state IN ('queued','running') ORDER BY id LIMIT 1",
                           -1, &q, NULL) == SQLITE_OK) {
        int s = sqlite3_step(q);
        found = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (found == 1) {
            r->id = sqlite3_column_int64(q, 0);
            r->kind = ctl_col(q, 1);
            r->seq = sqlite3_column_int64(q, 2);
            r->verb = ctl_col(q, 3);
            r->actor = ctl_col(q, 4);
            r->body = ctl_col(q, 5);
        }
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return found;
}

void bp_state_control_set_state(bp_state *st, int64_t id, const char *state, const char *outcome,
                                const char *detail, int64_t claim_seq)
{
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    int ok = sqlite3_prepare_v2(st->db,
                                "UPDATE control_requests SET state=?,outcome=?,detail=?,"
                                "done_ms=? WHERE id=?",
                                -1, &q, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(q, 1, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, outcome, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, bp_now_ms());
        sqlite3_bind_int64(q, 5, id);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (ok && claim_seq > 0 &&
        sqlite3_prepare_v2(st->db, "DELETE FROM review_claims WHERE seq=?", -1, &q, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_int64(q, 1, claim_seq);
        ok = sqlite3_step(q) == SQLITE_DONE;
    }
    sqlite3_finalize(q);
    state_end(st, ok);
    pthread_mutex_unlock(&st->mu);
}

int bp_state_control_result(bp_state *st, int64_t id, char **outcome, char **detail)
{
    *outcome = *detail = NULL;
    sqlite3_stmt *q = NULL;
    int r = -1;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "SELECT state,outcome,detail FROM control_requests WHERE id=?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, id);
        int s = sqlite3_step(q);
        r = 0;
        if (s == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "done") == 0) {
            r = 1;
            *outcome = ctl_col(q, 1);
            *detail = ctl_col(q, 2);
        } else if (s != SQLITE_ROW && s != SQLITE_DONE) {
            r = -1;
        }
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return r;
}

int bp_state_review_claim_get(bp_state *st, int64_t seq, int64_t now_ms, char **actor,
                              int64_t *expires_ms)
{
    *actor = NULL;
    *expires_ms = 0;
    sqlite3_stmt *q = NULL;
    int r = -1;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT actor,expires_ms FROM review_claims WHERE seq=? AND "
                           "expires_ms>?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, seq);
        sqlite3_bind_int64(q, 2, now_ms);
        int s = sqlite3_step(q);
        r = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -1;
        if (r == 1) {
            *actor = ctl_col(q, 0);
            *expires_ms = sqlite3_column_int64(q, 1);
        }
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return r;
}

bp_status bp_state_review_claims_foreach(bp_state *st, int64_t now_ms,
                                         int (*fn)(int64_t seq, const char *actor,
                                                   int64_t expires_ms, void *ud),
                                         void *ud)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT seq,actor,expires_ms FROM review_claims WHERE expires_ms>?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, now_ms);
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW)
            if (fn(sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
                   sqlite3_column_int64(q, 2), ud)) {
                s = SQLITE_DONE;
                break;
            }
        rc = s == SQLITE_DONE ? BP_OK : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- reads for the API -------------------------------------------------- */

bp_status bp_state_checkpoints_foreach(bp_state *st,
                                       int (*fn)(const char *scope, const char *key,
                                                 const char *value, int64_t updated_ms,
                                                 void *ud),
                                       void *ud)
{
    sqlite3_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT scope,key,value,updated_ms FROM checkpoints ORDER BY "
                           "scope,key", -1, &q, NULL) == SQLITE_OK) {
        int s;
        while ((s = sqlite3_step(q)) == SQLITE_ROW)
            if (fn((const char *)sqlite3_column_text(q, 0),
                   (const char *)sqlite3_column_text(q, 1),
                   (const char *)sqlite3_column_text(q, 2), sqlite3_column_int64(q, 3), ud)) {
                s = SQLITE_DONE;
                break;
            }
        rc = s == SQLITE_DONE ? BP_OK : BP_ERR_IO;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- the API's own read connection ------------------------------------- */

struct bp_state_reader {
    sqlite3 *db;
    pthread_mutex_t mu;           /* one statement at a time (opened NOMUTEX) */
    sqlite3_stmt *counts;
};

bp_status bp_state_reader_open(bp_state *st, bp_state_reader **out)
{
    *out = NULL;
    bp_state_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return BP_ERR_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    int ok = st->path &&
             sqlite3_open_v2(st->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                             NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_busy_timeout(r->db, 5000);
        ok = sqlite3_prepare_v3(r->db,
                                "SELECT (SELECT count(*) FROM review_queue),"
                                " (SELECT count(*) FROM dead_letters)",
                                -1, SQLITE_PREPARE_PERSISTENT, &r->counts, NULL) == SQLITE_OK;
    }
    if (!ok) {
        bp_state_reader_close(r);
        return BP_ERR_IO;
    }
    *out = r;
    return BP_OK;
}

void bp_state_reader_close(bp_state_reader *r)
{
    if (r == NULL)
        return;
    sqlite3_finalize(r->counts);
    sqlite3_close(r->db);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int64_t bp_state_reader_counts(bp_state_reader *r, int64_t *dead_letters)
{
    int64_t n = -1;
    *dead_letters = -1;
    pthread_mutex_lock(&r->mu);
    if (sqlite3_step(r->counts) == SQLITE_ROW) {
        n = sqlite3_column_int64(r->counts, 0);
        *dead_letters = sqlite3_column_int64(r->counts, 1);
    }
    sqlite3_reset(r->counts);   /* ends the read transaction */
    pthread_mutex_unlock(&r->mu);
    return n;
}
