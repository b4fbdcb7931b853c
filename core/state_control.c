/* See state_control.h. Moved here from core/control.c unchanged in what it
 * does: every statement binds its parameters; a request's transaction is
 * BEGIN IMMEDIATE so two processes (an owner and a CLI without one) never
 * both see an entry free. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#include "clock.h"
#include "state_control.h"
#include "state_int.h"

static const char ctl_schema[] =
    "CREATE TABLE IF NOT EXISTS control_requests(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL, seq INTEGER NOT NULL, verb TEXT NOT NULL, actor TEXT NOT NULL,"
    "  body TEXT, state TEXT NOT NULL DEFAULT 'queued', outcome TEXT, detail TEXT,"
    "  created_ms INTEGER NOT NULL, done_ms INTEGER, taken_by TEXT);"
    "CREATE TABLE IF NOT EXISTS review_claims(seq INTEGER PRIMARY KEY, actor TEXT NOT NULL,"
    "  claimed_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, deciding INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS route_pauses(route TEXT PRIMARY KEY, actor TEXT NOT NULL,"
    "  since_ms INTEGER NOT NULL);";

bp_status bp_state_control_migrate(bp_state *st)
{
    pthread_mutex_lock(&st->mu);
    int rc = bp_db_exec(st->db, ctl_schema, NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return rc == BP_DB_OK ? BP_OK : BP_ERR_IO;
}

static char *ctl_col(bp_db_stmt *q, int i)
{
    const unsigned char *t = bp_db_column_text(q, i);
    return t ? strdup((const char *)t) : NULL;
}

/* ---- pauses ------------------------------------------------------------- */

bp_status bp_state_route_pause_set(bp_state *st, const char *route, const char *actor, int pause)
{
    if (bp_state_control_migrate(st) != BP_OK)
        return BP_ERR_IO;
    bp_db_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    int ok = bp_db_prepare_v2(st->db,
                                pause ? "INSERT OR IGNORE INTO route_pauses(route,actor,since_ms) "
                                        "VALUES(?1,?2,?3)"
                                      : "DELETE FROM route_pauses WHERE route=?1",
                                -1, &q, NULL) == BP_DB_OK;
    if (ok) {
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        if (pause) {
            bp_db_bind_text(q, 2, actor, -1, BP_DB_STATIC);
            bp_db_bind_int64(q, 3, bp_now_ms());
        }
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return ok ? BP_OK : BP_ERR_IO;
}

int bp_state_route_paused(bp_state *st, const char *route, char **by)
{
    if (by)
        *by = NULL;
    if (bp_state_control_migrate(st) != BP_OK)
        return -1;
    bp_db_stmt *q = NULL;
    int r = -1;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT actor FROM route_pauses WHERE route=?", -1, &q,
                           NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        int s = bp_db_step(q);
        r = s == BP_DB_ROW ? 1 : s == BP_DB_DONE ? 0 : -1;
        if (r == 1 && by)
            *by = strdup((const char *)bp_db_column_text(q, 0));
    }
    bp_db_finalize(q);
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
    bp_db_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    if (bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != BP_DB_OK)
        goto unlock;
    int ok = 0;
    /* The entry must exist. */
    const char *exists = review ? "SELECT 1 FROM review_queue WHERE seq=?"
                                : "SELECT 1 FROM dead_letters WHERE seq=?";
    if (bp_db_prepare_v2(st->db, exists, -1, &q, NULL) != BP_DB_OK)
        goto end;
    bp_db_bind_int64(q, 1, seq);
    int found = bp_db_step(q) == BP_DB_ROW;
    bp_db_finalize(q);
    q = NULL;
    /* Someone else's request on it, not yet carried out, or a live claim. */
    if (bp_db_prepare_v2(st->db,
                           "SELECT actor FROM control_requests WHERE kind=? AND seq=? AND "
                           "state IN ('queued','running') ORDER BY id LIMIT 1",
                           -1, &q, NULL) != BP_DB_OK)
        goto end;
    bp_db_bind_text(q, 1, kind, -1, BP_DB_STATIC);
    bp_db_bind_int64(q, 2, seq);
    if (bp_db_step(q) == BP_DB_ROW) {
        *who = strdup((const char *)bp_db_column_text(q, 0));
        rc = BP_ERR_FULL;
        ok = 1;
        goto end;
    }
    bp_db_finalize(q);
    q = NULL;
    if (!found) {
        /* Decided already: say by whom when the audit knows. */
        if (review && bp_db_prepare_v2(st->db,
                                         "SELECT actor FROM control_requests WHERE kind=? AND "
                                         "seq=? AND state='done' ORDER BY id DESC LIMIT 1",
                                         -1, &q, NULL) == BP_DB_OK) {
            bp_db_bind_text(q, 1, kind, -1, BP_DB_STATIC);
            bp_db_bind_int64(q, 2, seq);
            if (bp_db_step(q) == BP_DB_ROW) {
                *who = strdup((const char *)bp_db_column_text(q, 0));
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
        bp_db_finalize(q);
        q = NULL;
        if (bp_db_prepare_v2(st->db,
                               "SELECT actor FROM review_claims WHERE seq=? AND expires_ms>? "
                               "AND actor<>?",
                               -1, &q, NULL) != BP_DB_OK)
            goto end;
        bp_db_bind_int64(q, 1, seq);
        bp_db_bind_int64(q, 2, now);
        bp_db_bind_text(q, 3, actor, -1, BP_DB_STATIC);
        if (bp_db_step(q) == BP_DB_ROW) {
            *who = strdup((const char *)bp_db_column_text(q, 0));
            *claimed = 1;
            rc = BP_ERR_FULL;
            ok = 1;
            goto end;
        }
        bp_db_finalize(q);
        q = NULL;
        int decision = strcmp(verb, "claim") != 0;
        if (strcmp(verb, "release") == 0) {
            if (bp_db_prepare_v2(st->db, "DELETE FROM review_claims WHERE seq=?", -1, &q,
                                   NULL) != BP_DB_OK)
                goto end;
            bp_db_bind_int64(q, 1, seq);
        } else {
            if (bp_db_prepare_v2(st->db,
                                   "INSERT INTO review_claims(seq,actor,claimed_ms,"
                                   "expires_ms,deciding) VALUES(?,?,?,?,?) ON CONFLICT(seq)"
                                   " DO UPDATE SET actor=excluded.actor,"
                                   " claimed_ms=excluded.claimed_ms,"
                                   " expires_ms=excluded.expires_ms, deciding=excluded.deciding",
                                   -1, &q, NULL) != BP_DB_OK)
                goto end;
            bp_db_bind_int64(q, 1, seq);
            bp_db_bind_text(q, 2, actor, -1, BP_DB_STATIC);
            bp_db_bind_int64(q, 3, now);
            bp_db_bind_int64(q, 4, now + (claim_ttl_ms > 0 ? claim_ttl_ms : default_ttl_ms));
            bp_db_bind_int(q, 5, decision);
        }
        if (bp_db_step(q) != BP_DB_DONE)
            goto end;
        bp_db_finalize(q);
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
    if (bp_db_prepare_v2(st->db,
                           "INSERT INTO control_requests(kind,seq,verb,actor,body,created_ms) "
                           "VALUES(?,?,?,?,?,?)",
                           -1, &q, NULL) != BP_DB_OK)
        goto end;
    bp_db_bind_text(q, 1, kind, -1, BP_DB_STATIC);
    bp_db_bind_int64(q, 2, seq);
    bp_db_bind_text(q, 3, verb, -1, BP_DB_STATIC);
    bp_db_bind_text(q, 4, actor, -1, BP_DB_STATIC);
    if (body_json)
        bp_db_bind_text(q, 5, body_json, -1, BP_DB_STATIC);
    bp_db_bind_int64(q, 6, now);
    if (bp_db_step(q) != BP_DB_DONE)
        goto end;
    *id = bp_db_last_insert_rowid(st->db);
    rc = BP_OK;
    ok = 1;
end:
    bp_db_finalize(q);
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

/* Shared state (issue 20): the request is taken by this instance in the
 * database (taken_by), so of several instances exactly one delivers it: one
 * that runs the record's route (holds its lease, or the route is not leased),
 * the request not being another live instance's. A concurrent taker waits on
 * the row and then finds taken_by set (the outer condition is re-checked). */
#define PG_NOW "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
static const char ctl_next_shared[] =
    "UPDATE control_requests SET taken_by = ?1 WHERE id = ("
    " SELECT c.id FROM control_requests c"
    "  LEFT JOIN review_queue rq ON c.kind = 'review' AND rq.seq = c.seq"
    "  LEFT JOIN dead_letters dl ON c.kind <> 'review' AND dl.seq = c.seq"
    "  WHERE c.state IN ('queued','running')"
    "   AND (c.taken_by IS NULL OR c.taken_by = ?1 OR c.taken_by NOT IN"
    "        (SELECT name FROM instances WHERE beat_ms > " PG_NOW " - 10000))"
    "   AND (NOT EXISTS (SELECT 1 FROM leases l WHERE l.name = 'route:' || COALESCE(rq.route, dl.route))"
    "        OR EXISTS (SELECT 1 FROM leases l WHERE l.name = 'route:' || COALESCE(rq.route, dl.route)"
    "                   AND l.holder = ?1 AND l.expires_ms > " PG_NOW "))"
    "  ORDER BY c.id LIMIT 1)"
    " AND (taken_by IS NULL OR taken_by = ?1 OR taken_by NOT IN"
    "      (SELECT name FROM instances WHERE beat_ms > " PG_NOW " - 10000))"
    " RETURNING id,kind,seq,verb,actor,body";

void bp_state_set_instance(bp_state *st, const char *name)
{
    pthread_mutex_lock(&st->mu);
    snprintf(st->instance, sizeof(st->instance), "%s", name ? name : "");
    pthread_mutex_unlock(&st->mu);
}

int bp_state_control_next(bp_state *st, bp_control_request *r)
{
    bp_db_stmt *q = NULL;
    int found = -1;
    pthread_mutex_lock(&st->mu);
    int shared = bp_db_is_pg(st->db) && st->instance[0];
    if (bp_db_prepare_v2(st->db,
                         shared ? ctl_next_shared
                                : "SELECT id,kind,seq,verb,actor,body FROM control_requests WHERE "
                                  "state IN ('queued','running') ORDER BY id LIMIT 1",
                         -1, &q, NULL) == BP_DB_OK) {
        if (shared)   /* times: the database's clock, as heartbeats and leases */
            bp_db_bind_text(q, 1, st->instance, -1, BP_DB_STATIC);
        int s = bp_db_step(q);
        found = s == BP_DB_ROW ? 1 : s == BP_DB_DONE ? 0 : -1;
        if (found == 1) {
            r->id = bp_db_column_int64(q, 0);
            r->kind = ctl_col(q, 1);
            r->seq = bp_db_column_int64(q, 2);
            r->verb = ctl_col(q, 3);
            r->actor = ctl_col(q, 4);
            r->body = ctl_col(q, 5);
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return found;
}

void bp_state_control_set_state(bp_state *st, int64_t id, const char *state, const char *outcome,
                                const char *detail, int64_t claim_seq)
{
    bp_db_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    bp_db_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    int ok = bp_db_prepare_v2(st->db,
                                "UPDATE control_requests SET state=?,outcome=?,detail=?,"
                                "done_ms=? WHERE id=?",
                                -1, &q, NULL) == BP_DB_OK;
    if (ok) {
        bp_db_bind_text(q, 1, state, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 2, outcome, -1, BP_DB_STATIC);
        bp_db_bind_text(q, 3, detail, -1, BP_DB_STATIC);
        bp_db_bind_int64(q, 4, bp_now_ms());
        bp_db_bind_int64(q, 5, id);
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    bp_db_finalize(q);
    q = NULL;
    if (ok && claim_seq > 0 &&
        bp_db_prepare_v2(st->db, "DELETE FROM review_claims WHERE seq=?", -1, &q, NULL) ==
            BP_DB_OK) {
        bp_db_bind_int64(q, 1, claim_seq);
        ok = bp_db_step(q) == BP_DB_DONE;
    }
    bp_db_finalize(q);
    state_end(st, ok);
    pthread_mutex_unlock(&st->mu);
}

int bp_state_control_result(bp_state *st, int64_t id, char **outcome, char **detail)
{
    *outcome = *detail = NULL;
    bp_db_stmt *q = NULL;
    int r = -1;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db, "SELECT state,outcome,detail FROM control_requests WHERE id=?",
                           -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, id);
        int s = bp_db_step(q);
        r = 0;
        if (s == BP_DB_ROW && strcmp((const char *)bp_db_column_text(q, 0), "done") == 0) {
            r = 1;
            *outcome = ctl_col(q, 1);
            *detail = ctl_col(q, 2);
        } else if (s != BP_DB_ROW && s != BP_DB_DONE) {
            r = -1;
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return r;
}

int bp_state_review_claim_get(bp_state *st, int64_t seq, int64_t now_ms, char **actor,
                              int64_t *expires_ms)
{
    *actor = NULL;
    *expires_ms = 0;
    bp_db_stmt *q = NULL;
    int r = -1;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT actor,expires_ms FROM review_claims WHERE seq=? AND "
                           "expires_ms>?",
                           -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, seq);
        bp_db_bind_int64(q, 2, now_ms);
        int s = bp_db_step(q);
        r = s == BP_DB_ROW ? 1 : s == BP_DB_DONE ? 0 : -1;
        if (r == 1) {
            *actor = ctl_col(q, 0);
            *expires_ms = bp_db_column_int64(q, 1);
        }
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return r;
}

bp_status bp_state_review_claims_foreach(bp_state *st, int64_t now_ms,
                                         int (*fn)(int64_t seq, const char *actor,
                                                   int64_t expires_ms, void *ud),
                                         void *ud)
{
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT seq,actor,expires_ms FROM review_claims WHERE expires_ms>?",
                           -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_int64(q, 1, now_ms);
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW)
            if (fn(bp_db_column_int64(q, 0), (const char *)bp_db_column_text(q, 1),
                   bp_db_column_int64(q, 2), ud)) {
                s = BP_DB_DONE;
                break;
            }
        rc = s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
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
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT scope,key,value,updated_ms FROM checkpoints ORDER BY "
                           "scope,key", -1, &q, NULL) == BP_DB_OK) {
        int s;
        while ((s = bp_db_step(q)) == BP_DB_ROW)
            if (fn((const char *)bp_db_column_text(q, 0),
                   (const char *)bp_db_column_text(q, 1),
                   (const char *)bp_db_column_text(q, 2), bp_db_column_int64(q, 3), ud)) {
                s = BP_DB_DONE;
                break;
            }
        rc = s == BP_DB_DONE ? BP_OK : BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- the API's own read connection ------------------------------------- */

struct bp_state_reader {
    bp_db *db;                    /* SQLite: its own read-only connection */
    pthread_mutex_t mu;           /* one statement at a time (opened NOMUTEX) */
    bp_db_stmt *counts;
    bp_state *shared;             /* PostgreSQL (issue 20): no file to open again, and the
                                   * redacted URI holds no password; read through st */
};

bp_status bp_state_reader_open(bp_state *st, bp_state_reader **out)
{
    *out = NULL;
    bp_state_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return BP_ERR_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    if (bp_db_is_pg(st->db)) {
        r->shared = st;
        *out = r;
        return BP_OK;
    }
    int ok = st->path &&
             bp_db_open_sqlite(st->path, BP_DB_OPEN_READONLY | BP_DB_OPEN_NOMUTEX, &r->db) ==
                 BP_DB_OK;
    if (ok) {
        bp_db_busy_timeout(r->db, 5000);
        ok = bp_db_prepare_v2(r->db,
                              "SELECT (SELECT count(*) FROM review_queue),"
                              " (SELECT count(*) FROM dead_letters)",
                              -1, &r->counts, NULL) == BP_DB_OK;
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
    bp_db_finalize(r->counts);
    bp_db_close(r->db);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int64_t bp_state_reader_counts(bp_state_reader *r, int64_t *dead_letters)
{
    if (r->shared) {
        *dead_letters = bp_state_count(r->shared, "dead_letters");
        return bp_state_count(r->shared, "review_queue");
    }
    int64_t n = -1;
    *dead_letters = -1;
    pthread_mutex_lock(&r->mu);
    if (bp_db_step(r->counts) == BP_DB_ROW) {
        n = bp_db_column_int64(r->counts, 0);
        *dead_letters = bp_db_column_int64(r->counts, 1);
    }
    bp_db_reset(r->counts);   /* ends the read transaction */
    pthread_mutex_unlock(&r->mu);
    return n;
}
