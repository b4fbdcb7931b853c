/* See db.h. The SQLite backend (thin: a wrapper per statement) and the
 * dispatch to db_pg.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

int bp_db_target_is_pg(const char *target)
{
    return target && (strncmp(target, "postgresql://", 13) == 0 ||
                      strncmp(target, "postgres://", 11) == 0);
}

int bp_db_open_sqlite(const char *path, int flags, bp_db **out)
{
    bp_db *db = calloc(1, sizeof(*db));
    *out = db;
    if (db == NULL)
        return SQLITE_NOMEM;
    return sqlite3_open_v2(path, &db->lite, flags, NULL);
}

void bp_db_close(bp_db *db)
{
    if (db == NULL)
        return;
    if (db->pg)
        bp_db_pg_close(db);
    else
        sqlite3_close(db->lite);
    free(db->err);
    free(db);
}

int bp_db_is_pg(const bp_db *db)
{
    return db && db->pg;
}

void bp_db_busy_timeout(bp_db *db, int ms)
{
    if (!db->pg)
        sqlite3_busy_timeout(db->lite, ms);
}

int bp_db_exec(bp_db *db, const char *sql, int (*cb)(void *, int, char **, char **), void *ud,
               char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (db->pg)
        return bp_db_pg_exec(db, sql, cb, ud, errmsg);
    char *e = NULL;
    int rc = sqlite3_exec(db->lite, sql, cb, ud, errmsg ? &e : NULL);
    if (e) {
        *errmsg = strdup(e);
        sqlite3_free(e);
    }
    return rc;
}

void bp_db_free(void *p)
{
    free(p);
}

int bp_db_prepare_v2(bp_db *db, const char *sql, int nbyte, bp_db_stmt **out, const char **tail)
{
    *out = NULL;
    if (tail)
        *tail = NULL;
    bp_db_stmt *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return SQLITE_NOMEM;
    q->db = db;
    int rc = db->pg ? bp_db_pg_prepare(db, sql, q)
                    : sqlite3_prepare_v2(db->lite, sql, nbyte, &q->lite, tail);
    if (rc != SQLITE_OK || (!db->pg && q->lite == NULL)) {
        bp_db_finalize(q);
        return rc != SQLITE_OK ? rc : SQLITE_ERROR;
    }
    *out = q;
    return SQLITE_OK;
}

int bp_db_step(bp_db_stmt *q)
{
    if (q == NULL)
        return SQLITE_MISUSE;
    return q->db->pg ? bp_db_pg_step(q) : sqlite3_step(q->lite);
}

int bp_db_reset(bp_db_stmt *q)
{
    if (q == NULL)
        return SQLITE_OK;
    if (q->db->pg) {
        bp_db_pg_reset(q);
        return SQLITE_OK;
    }
    return sqlite3_reset(q->lite);
}

int bp_db_clear_bindings(bp_db_stmt *q)
{
    if (!q->db->pg)
        return sqlite3_clear_bindings(q->lite);
    for (int i = 0; i < q->nparams; i++) {
        free(q->vals[i]);
        q->vals[i] = NULL;
        q->lens[i] = 0;
        q->fmts[i] = 0;
        q->types[i] = 0;
    }
    return SQLITE_OK;
}

int bp_db_finalize(bp_db_stmt *q)
{
    if (q == NULL)
        return SQLITE_OK;
    int rc = SQLITE_OK;
    if (q->db->pg)
        bp_db_pg_free_stmt(q);
    else
        rc = sqlite3_finalize(q->lite);
    free(q);
    return rc;
}

int bp_db_stmt_readonly(bp_db_stmt *q)
{
    return q->db->pg ? q->readonly : sqlite3_stmt_readonly(q->lite);
}

/* PostgreSQL type oids used for parameters. */
#define OID_BYTEA 17u
#define OID_INT8 20u
#define OID_FLOAT8 701u

int bp_db_bind_text(bp_db_stmt *q, int i, const char *s, int n, bp_db_destructor d)
{
    if (!q->db->pg)
        return sqlite3_bind_text(q->lite, i, s, n, d);
    if (s == NULL)
        return bp_db_pg_bind(q, i, NULL, 0, 0, 0);
    return bp_db_pg_bind(q, i, s, n < 0 ? strlen(s) : (size_t)n, 0, 0);
}

int bp_db_bind_text64(bp_db_stmt *q, int i, const char *s, uint64_t n, bp_db_destructor d,
                      unsigned char enc)
{
    if (!q->db->pg)
        return sqlite3_bind_text64(q->lite, i, s, n, d, enc);
    return bp_db_pg_bind(q, i, s, s ? (size_t)n : 0, 0, 0);
}

int bp_db_bind_blob(bp_db_stmt *q, int i, const void *b, int n, bp_db_destructor d)
{
    if (!q->db->pg)
        return sqlite3_bind_blob(q->lite, i, b, n, d);
    return bp_db_pg_bind(q, i, b ? b : "", b ? (size_t)n : 0, 1, OID_BYTEA);
}

int bp_db_bind_blob64(bp_db_stmt *q, int i, const void *b, uint64_t n, bp_db_destructor d)
{
    if (!q->db->pg)
        return sqlite3_bind_blob64(q->lite, i, b, n, d);
    return bp_db_pg_bind(q, i, b ? b : "", b ? (size_t)n : 0, 1, OID_BYTEA);
}

int bp_db_bind_int64(bp_db_stmt *q, int i, int64_t v)
{
    if (!q->db->pg)
        return sqlite3_bind_int64(q->lite, i, v);
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return bp_db_pg_bind(q, i, buf, (size_t)n, 0, OID_INT8);
}

int bp_db_bind_int(bp_db_stmt *q, int i, int v)
{
    return q->db->pg ? bp_db_bind_int64(q, i, v) : sqlite3_bind_int(q->lite, i, v);
}

int bp_db_bind_double(bp_db_stmt *q, int i, double v)
{
    if (!q->db->pg)
        return sqlite3_bind_double(q->lite, i, v);
    char buf[40];
    int n = snprintf(buf, sizeof(buf), "%.17g", v);
    return bp_db_pg_bind(q, i, buf, (size_t)n, 0, OID_FLOAT8);
}

int bp_db_bind_null(bp_db_stmt *q, int i)
{
    if (!q->db->pg)
        return sqlite3_bind_null(q->lite, i);
    return bp_db_pg_bind(q, i, NULL, 0, 0, 0);
}

int bp_db_column_count(bp_db_stmt *q)
{
    return q->db->pg ? bp_db_pg_column_count(q) : sqlite3_column_count(q->lite);
}

int bp_db_column_type(bp_db_stmt *q, int col)
{
    return q->db->pg ? bp_db_pg_column_type(q, col) : sqlite3_column_type(q->lite, col);
}

const unsigned char *bp_db_column_text(bp_db_stmt *q, int col)
{
    return q->db->pg ? bp_db_pg_column_text(q, col) : sqlite3_column_text(q->lite, col);
}

const void *bp_db_column_blob(bp_db_stmt *q, int col)
{
    return q->db->pg ? bp_db_pg_column_blob(q, col) : sqlite3_column_blob(q->lite, col);
}

int bp_db_column_bytes(bp_db_stmt *q, int col)
{
    return q->db->pg ? bp_db_pg_column_bytes(q, col) : sqlite3_column_bytes(q->lite, col);
}

int64_t bp_db_column_int64(bp_db_stmt *q, int col)
{
    if (!q->db->pg)
        return sqlite3_column_int64(q->lite, col);
    const char *t = (const char *)bp_db_pg_column_text(q, col);
    if (t == NULL)
        return 0;
    if (t[0] == 't' && t[1] == '\0')   /* boolean */
        return 1;
    return strtoll(t, NULL, 10);
}

int bp_db_column_int(bp_db_stmt *q, int col)
{
    return q->db->pg ? (int)bp_db_column_int64(q, col) : sqlite3_column_int(q->lite, col);
}

double bp_db_column_double(bp_db_stmt *q, int col)
{
    if (!q->db->pg)
        return sqlite3_column_double(q->lite, col);
    const char *t = (const char *)bp_db_pg_column_text(q, col);
    return t ? strtod(t, NULL) : 0.0;
}

const char *bp_db_errmsg(bp_db *db)
{
    if (db == NULL)
        return "out of memory";
    if (db->pg)
        return db->err ? db->err : "no error";
    return sqlite3_errmsg(db->lite);
}

const char *bp_db_errstr(int rc)
{
    return sqlite3_errstr(rc);
}

int bp_db_extended_errcode(bp_db *db)
{
    return db->pg ? db->xerr : sqlite3_extended_errcode(db->lite);
}

int bp_db_changes(bp_db *db)
{
    return db->pg ? db->changes : sqlite3_changes(db->lite);
}

int64_t bp_db_last_insert_rowid(bp_db *db)
{
    return db->pg ? bp_db_pg_last_insert_rowid(db) : sqlite3_last_insert_rowid(db->lite);
}
