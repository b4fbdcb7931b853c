/* Exactly-once inserts across a crash of the bus: the `applied_table`.
 *
 * The core's write-back ledger is committed in the state store right after
 * the sink's transaction commits in the database; a crash between the two
 * commits would insert the batch twice after a restart. With applied_table,
 * the sink also writes one row per sink instance into the target database, in
 * the same transaction as the batch: the batch's number and the keys (source,
 * id) of its records. The number also goes to the core through
 * wb_commit_checkpoint, atomically with the ledger. On start, a database
 * batch newer than the core's checkpoint is a batch the ledger missed: its
 * records are reported done without writing them again.
 *
 * Fencing (issue 20, DESIGN.md §10): when the route runs under a lease, the
 * row also holds the lease's epoch. A new holder raises it when it opens the
 * table, and every batch's upsert only applies while the row's epoch is not
 * newer than the writer's: a paused old holder that resumes finds its INSERT
 * refused in its own transaction, in the target database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc.h"

#define OA_CKPT "applied_batch"

struct oapplied {
    char *upsert;             /* INSERT ... ON CONFLICT (sink) DO UPDATE */
    char *sink;               /* this instance's name */
    long long batch;          /* the last batch committed */
    long long epoch;          /* the route's lease epoch (0: not leased) */
    char **skip;              /* keys the ledger missed, NULL once empty */
    size_t n_skip;
    odbc_buf keys;
};

/* source US id: the same identity the core's ledger uses. */
static int oa_key(const struct bp_host_api *api, const bp_envelope *env, odbc_buf *b)
{
    const char *src = api->envelope_get0_attr(env, "source");
    const char *id = api->envelope_get0_attr(env, "id");
    return odbc_puts(b, src ? src : "") == 0 && odbc_put(b, "\x1f", 1) == 0 &&
                   odbc_puts(b, id ? id : "") == 0
               ? 0
               : -1;
}

void odbc_applied_free(oapplied *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_skip; i++)
        free(a->skip[i]);
    free(a->skip);
    free(a->upsert);
    free(a->sink);
    free(a->keys.p);
    free(a);
}

bp_status odbc_applied_open(odbc_conn *self, odbc_db *db, oapplied **out, char **why)
{
    const struct bp_host_api *api = self->api;
    odbc_err e = {0};
    *out = NULL;
    oapplied *a = calloc(1, sizeof(*a));
    char *t = odbc_quote_ident(self->applied_table);
    if (a == NULL || t == NULL) {
        free(t);
        free(a);
        return BP_ERR_NOMEM;
    }
    /* One row per route/connector and table written. */
    char *sink = api->format("%s:%s", api->instance_name(self->inst), self->table);
    a->sink = sink ? strdup(sink) : NULL;
    api->free(sink);
    char *create = api->format("CREATE TABLE IF NOT EXISTS %s (sink VARCHAR(200) PRIMARY KEY, "
                               "batch BIGINT NOT NULL, keys TEXT NOT NULL, "
                               "epoch BIGINT NOT NULL DEFAULT 0)", t);
    char *alter = api->format("ALTER TABLE %s ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0", t);
    char *select = api->format("SELECT batch, keys FROM %s WHERE sink = ?", t);
    char *upsert = api->format("INSERT INTO %s (sink, batch, keys, epoch) VALUES (?, ?, ?, ?) ON "
                               "CONFLICT (sink) DO UPDATE SET batch = excluded.batch, keys = "
                               "excluded.keys, epoch = excluded.epoch WHERE %s.epoch <= "
                               "excluded.epoch", t, t);
    char *raise = api->format("INSERT INTO %s (sink, batch, keys, epoch) VALUES (?, -1, '', ?) ON "
                              "CONFLICT (sink) DO UPDATE SET epoch = excluded.epoch WHERE "
                              "%s.epoch < excluded.epoch", t, t);
    char *held = api->format("SELECT epoch FROM %s WHERE sink = ?", t);
    free(t);
    a->epoch = BP_HOST_HAS(api, lease_epoch) ? api->lease_epoch(self->inst) : 0;
    a->upsert = upsert ? strdup(upsert) : NULL;
    api->free(upsert);
    bp_status st = BP_OK;
    SQLHSTMT h = SQL_NULL_HSTMT;
    if (!a->sink || !create || !select || !a->upsert) {
        st = BP_ERR_NOMEM;
        goto done;
    }
    if (odbc_exec(db, create, &e) < 0 || odbc_end(db, 1, &e) < 0)
        goto fail;
    /* A table made before the epoch column: added (fails, ignored, when
     * it is there). */
    if (alter && odbc_exec(db, alter, &(odbc_err){0}) == 0)
        odbc_end(db, 1, &(odbc_err){0});
    else
        odbc_end(db, 0, &(odbc_err){0});
    SQLLEN slen = (SQLLEN)strlen(a->sink);
    if (a->epoch > 0 && raise && held) {
        /* The new holder fences the table first: from this commit on, a
         * batch of an older epoch is refused inside its own transaction. */
        SQLBIGINT ep = a->epoch, seen = 0;
        SQLLEN elen = 0, ind = 0;
        if (!SQL_SUCCEEDED(odbc_stmt_new(db, &h)))
            goto fail_dbc;
        SQLBindParameter(h, 1, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, 200, 0, a->sink, slen,
                         &slen);
        SQLBindParameter(h, 2, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, &ep, 0, &elen);
        if (!SQL_SUCCEEDED(SQLExecDirect(h, (SQLCHAR *)raise, SQL_NTS)))
            goto fail_stmt;
        SQLFreeHandle(SQL_HANDLE_STMT, h);
        h = SQL_NULL_HSTMT;
        if (!SQL_SUCCEEDED(odbc_stmt_new(db, &h)))
            goto fail_dbc;
        SQLBindParameter(h, 1, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, 200, 0, a->sink, slen,
                         &slen);
        if (!SQL_SUCCEEDED(SQLExecDirect(h, (SQLCHAR *)held, SQL_NTS)))
            goto fail_stmt;
        if (SQL_SUCCEEDED(SQLFetch(h)))
            SQLGetData(h, 1, SQL_C_SBIGINT, &seen, 0, &ind);
        SQLFreeHandle(SQL_HANDLE_STMT, h);
        h = SQL_NULL_HSTMT;
        if (odbc_end(db, 1, &e) < 0)
            goto fail;
        if (seen > ep) {
            snprintf(e.state, sizeof(e.state), "FENCE");
            snprintf(e.msg, sizeof(e.msg), "fenced in the target: epoch %lld wrote to %s, "
                     "this instance holds epoch %lld", (long long)seen, self->applied_table,
                     (long long)ep);
            e.cls = OC_RETRY;
            goto fail;
        }
        api->log(self->inst, BP_LOG_INFO, "%s fenced at lease epoch %lld", self->applied_table,
                 (long long)ep);
    }
    if (!SQL_SUCCEEDED(odbc_stmt_new(db, &h)))
        goto fail_dbc;
    SQLBindParameter(h, 1, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, 200, 0, a->sink, slen, &slen);
    if (!SQL_SUCCEEDED(SQLExecDirect(h, (SQLCHAR *)select, SQL_NTS)))
        goto fail_stmt;
    long long dbbatch = -1;
    odbc_buf keys = {0};
    if (SQL_SUCCEEDED(SQLFetch(h))) {
        SQLBIGINT b = 0;
        SQLLEN ind = 0;
        SQLGetData(h, 1, SQL_C_SBIGINT, &b, 0, &ind);
        dbbatch = b;
        char part[4096];
        for (;;) {
            SQLRETURN g = SQLGetData(h, 2, SQL_C_CHAR, part, sizeof(part), &ind);
            if (g == SQL_NO_DATA || !SQL_SUCCEEDED(g) || ind == SQL_NULL_DATA)
                break;
            size_t got = ind == SQL_NO_TOTAL || ind >= (SQLLEN)sizeof(part) ? sizeof(part) - 1
                                                                          : (size_t)ind;
            odbc_put(&keys, part, got);
            if (g == SQL_SUCCESS)
                break;
        }
    }
    SQLFreeHandle(SQL_HANDLE_STMT, h);
    h = SQL_NULL_HSTMT;
    odbc_end(db, 1, &e);
    char *v = NULL;
    long long ckpt = -1;
    if (api->checkpoint_get(self->inst, OA_CKPT, &v) == BP_OK) {
        ckpt = strtoll(v, NULL, 10);
        api->free(v);
    }
    a->batch = dbbatch > ckpt ? dbbatch : ckpt;
    if (dbbatch >= 0 && dbbatch > ckpt && keys.n > 0) {
        /* Committed in the database, missed by the ledger. */
        for (char *p = keys.p; p && *p;) {
            char *end = strchr(p, '\x1e');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char **s = realloc(a->skip, (a->n_skip + 1) * sizeof(*s));
            if (s == NULL)
                break;
            a->skip = s;
            if ((a->skip[a->n_skip] = strndup(p, len)) != NULL)
                a->n_skip++;
            p = end ? end + 1 : NULL;
        }
        api->log(self->inst, BP_LOG_WARN,
                 "batch %lld (%zu record(s)) was committed to %s before an interrupted run "
                 "recorded it: its records will not be written again",
                 dbbatch, a->n_skip, self->table);
    }
    free(keys.p);
    goto done;
fail_stmt:
    odbc_diag(db, SQL_HANDLE_STMT, h, &e);
    goto fail;
fail_dbc:
    odbc_diag(db, SQL_HANDLE_DBC, db->dbc, &e);
fail:
    *why = api->format("applied_table %s: [%s] %s", self->applied_table, e.state, e.msg);
    st = odbc_class_status(e.cls);
    odbc_end(db, 0, &e);
done:
    if (h != SQL_NULL_HSTMT)
        SQLFreeHandle(SQL_HANDLE_STMT, h);
    api->free(create);
    api->free(alter);
    api->free(raise);
    api->free(held);
    api->free(select);
    if (st != BP_OK) {
        odbc_applied_free(a);
        return st;
    }
    *out = a;
    return BP_OK;
}

int odbc_applied_skip(odbc_conn *self, oapplied *a, const bp_envelope *env)
{
    if (a == NULL || a->n_skip == 0)
        return 0;
    a->keys.n = 0;
    if (oa_key(self->api, env, &a->keys) < 0)
        return 0;
    for (size_t i = 0; i < a->n_skip; i++) {
        if (strcmp(a->skip[i], a->keys.p) == 0) {
            free(a->skip[i]);
            a->skip[i] = a->skip[--a->n_skip];
            return 1;
        }
    }
    return 0;
}

int odbc_applied_mark(odbc_conn *self, oapplied *a, odbc_db *db, bp_write_batch *wb,
                      const unsigned char *excluded, size_t n, odbc_err *e)
{
    const struct bp_host_api *api = self->api;
    a->keys.n = 0;
    if (odbc_put(&a->keys, "", 0) < 0)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (excluded[i])
            continue;
        if ((a->keys.n && odbc_put(&a->keys, "\x1e", 1) < 0) ||
            oa_key(api, api->wb_get0(wb, i), &a->keys) < 0)
            goto nomem;
    }
    SQLHSTMT h = SQL_NULL_HSTMT;
    if (!SQL_SUCCEEDED(odbc_stmt_new(db, &h))) {
        odbc_diag(db, SQL_HANDLE_DBC, db->dbc, e);
        return -1;
    }
    SQLBIGINT next = a->batch + 1;
    SQLLEN slen = (SQLLEN)strlen(a->sink), blen = 0, klen = (SQLLEN)a->keys.n;
    SQLBindParameter(h, 1, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, 200, 0, a->sink, slen, &slen);
    SQLBindParameter(h, 2, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, &next, 0, &blen);
    SQLBindParameter(h, 3, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_LONGVARCHAR,
                     (SQLULEN)(klen ? klen : 1), 0, a->keys.p, klen, &klen);
    SQLBIGINT ep = a->epoch;
    SQLLEN elen = 0;
    SQLBindParameter(h, 4, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, &ep, 0, &elen);
    if (!SQL_SUCCEEDED(SQLExecDirect(h, (SQLCHAR *)a->upsert, SQL_NTS))) {
        odbc_diag(db, SQL_HANDLE_STMT, h, e);
        SQLFreeHandle(SQL_HANDLE_STMT, h);
        return -1;
    }
    SQLLEN changed = -1;
    SQLRowCount(h, &changed);
    SQLFreeHandle(SQL_HANDLE_STMT, h);
    if (changed == 0) {
        /* A newer lease epoch wrote the row: this instance was taken over
         * while it wrote. The batch's rows go with the rollback. */
        odbc_end(db, 0, &(odbc_err){0});
        snprintf(e->state, sizeof(e->state), "FENCE");
        snprintf(e->msg, sizeof(e->msg),
                 "fenced in the target: a newer lease epoch than %lld wrote %s; this batch is "
                 "rolled back", (long long)a->epoch, self->applied_table);
        e->cls = OC_RETRY;
        api->log(self->inst, BP_LOG_ERROR, "%s", e->msg);
        return -1;
    }
    return 0;
nomem:
    snprintf(e->msg, sizeof(e->msg), "out of memory");
    e->cls = OC_RETRY;
    return -1;
}

void odbc_applied_committed(odbc_conn *self, oapplied *a, bp_write_batch *wb)
{
    char v[32];
    a->batch++;
    snprintf(v, sizeof(v), "%lld", a->batch);
    if (BP_HOST_HAS(self->api, wb_commit_checkpoint))
        self->api->wb_commit_checkpoint(wb, OA_CKPT, v);
}
