/* Connections, diagnostics and the SQLSTATE classification per driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc.h"

bp_status odbc_connect(odbc_conn *self, odbc_db *db, odbc_err *err)
{
    if (db->connected)
        return BP_OK;
    memset(err, 0, sizeof(*err));
    if (db->env == SQL_NULL_HENV) {
        if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &db->env))) {
            snprintf(err->msg, sizeof(err->msg), "cannot allocate an ODBC environment");
            return BP_ERR_NOMEM;
        }
        SQLSetEnvAttr(db->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
    }
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, db->env, &db->dbc))) {
        snprintf(err->msg, sizeof(err->msg), "cannot allocate an ODBC connection");
        return BP_ERR_NOMEM;
    }
    SQLSetConnectAttr(db->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)10, 0);
    /* Whole seconds, rounded up: ODBC's unit. */
    db->query_timeout_s = (SQLULEN)((self->query_timeout_ms + 999) / 1000);
    SQLRETURN rc = SQLDriverConnect(db->dbc, NULL, (SQLCHAR *)self->dsn, SQL_NTS, NULL, 0, NULL,
                                    SQL_DRIVER_NOPROMPT);
    if (!SQL_SUCCEEDED(rc)) {
        odbc_diag(db, SQL_HANDLE_DBC, db->dbc, err);
        err->cls = OC_CONNECTION;
        SQLFreeHandle(SQL_HANDLE_DBC, db->dbc);
        db->dbc = SQL_NULL_HDBC;
        return BP_NOT_CONNECTED;
    }
    char dbms[64] = "";
    SQLSMALLINT len = 0;
    SQLGetInfo(db->dbc, SQL_DBMS_NAME, dbms, sizeof(dbms), &len);
    db->dialect = strstr(dbms, "SQLite")       ? OD_SQLITE
                  : strstr(dbms, "PostgreSQL") ? OD_POSTGRES
                                               : OD_OTHER;
    db->connected = 1;
    self->api->log(self->inst, BP_LOG_INFO, "connected (%s)", dbms);
    return BP_OK;
}

void odbc_disconnect(odbc_db *db)
{
    if (db->dbc != SQL_NULL_HDBC) {
        if (db->connected) {
            SQLEndTran(SQL_HANDLE_DBC, db->dbc, SQL_ROLLBACK);
            SQLDisconnect(db->dbc);
        }
        SQLFreeHandle(SQL_HANDLE_DBC, db->dbc);
        db->dbc = SQL_NULL_HDBC;
    }
    if (db->env != SQL_NULL_HENV) {
        SQLFreeHandle(SQL_HANDLE_ENV, db->env);
        db->env = SQL_NULL_HENV;
    }
    db->connected = 0;
}

/* SQLSTATE (prefix) + native code -> class, per dialect. A native code of -1
 * matches any. The first matching row wins; the last rows are the defaults. */
static const struct {
    enum odbc_dialect dialect;   /* OD_OTHER rows apply to every dialect */
    const char *state;           /* prefix */
    long native;
    enum odbc_class cls;
} odbc_classes[] = {
    /* SQLite reports everything as HY000 and the meaning is in the native
     * code (SQLITE_CONSTRAINT 19, SQLITE_MISMATCH 20, SQLITE_BUSY 5,
     * SQLITE_LOCKED 6, SQLITE_TOOBIG 18). */
    /* The rule of connectors/common/fault.h: a missing permission is the
     * site's to fix, not the record's — connection class (not connected),
     * never a reject: SQLITE_READONLY 8 (the file or its directory is not
     * writable), SQLITE_PERM 3, SQLITE_AUTH 23. */
    {OD_SQLITE, "HY000", 8, OC_CONNECTION},
    {OD_SQLITE, "HY000", 3, OC_CONNECTION},
    {OD_SQLITE, "HY000", 23, OC_CONNECTION},
    {OD_SQLITE, "HY000", 19, OC_CONSTRAINT},
    {OD_SQLITE, "HY000", 20, OC_CONSTRAINT},
    {OD_SQLITE, "HY000", 18, OC_CONSTRAINT},
    {OD_SQLITE, "HY000", 5, OC_RETRY},
    {OD_SQLITE, "HY000", 6, OC_RETRY},
    /* PostgreSQL: integrity (23) and data exceptions (22) belong to the
     * record; 40001 serialization failure, 40P01 deadlock, 55P03 lock not
     * available, 53 out of resources are transient; 57P01-03 (admin
     * shutdown, crash shutdown, cannot connect now) mean the server is
     * going away. */
    /* 42501 insufficient_privilege (no GRANT on the table): the rule. */
    {OD_POSTGRES, "42501", -1, OC_CONNECTION},
    {OD_POSTGRES, "23", -1, OC_CONSTRAINT},
    {OD_POSTGRES, "22", -1, OC_CONSTRAINT},
    {OD_POSTGRES, "40001", -1, OC_RETRY},
    {OD_POSTGRES, "40P01", -1, OC_RETRY},
    {OD_POSTGRES, "55P03", -1, OC_RETRY},
    {OD_POSTGRES, "53", -1, OC_RETRY},
    {OD_POSTGRES, "57P0", -1, OC_CONNECTION},
    /* 57014 query_canceled: the query timeout (query_timeout) ran out,
     * typically waiting for a row lock: try again later. */
    {OD_POSTGRES, "57014", -1, OC_RETRY},
    /* Any driver. */
    {OD_OTHER, "08", -1, OC_CONNECTION},
    {OD_OTHER, "28", -1, OC_CONNECTION},   /* invalid authorization (login refused) */
    {OD_OTHER, "23", -1, OC_CONSTRAINT},
    {OD_OTHER, "40001", -1, OC_RETRY},
    {OD_OTHER, "HYT", -1, OC_RETRY},
};

enum odbc_class odbc_classify(enum odbc_dialect d, const char *state, long native)
{
    for (size_t i = 0; i < sizeof(odbc_classes) / sizeof(odbc_classes[0]); i++) {
        if (odbc_classes[i].dialect != OD_OTHER && odbc_classes[i].dialect != d)
            continue;
        if (strncmp(state, odbc_classes[i].state, strlen(odbc_classes[i].state)) != 0)
            continue;
        if (odbc_classes[i].native != -1 && odbc_classes[i].native != native)
            continue;
        return odbc_classes[i].cls;
    }
    return OC_PERMANENT;
}

bp_status odbc_class_status(enum odbc_class c)
{
    switch (c) {
    case OC_OK: return BP_OK;
    case OC_RETRY: return BP_RETRY;
    case OC_CONNECTION: return BP_NOT_CONNECTED;
    case OC_CONSTRAINT:
    case OC_PERMANENT: break;
    }
    return BP_REJECT;
}

void odbc_diag(odbc_db *db, SQLSMALLINT type, SQLHANDLE h, odbc_err *err)
{
    SQLCHAR state[6] = "", text[512] = "";
    SQLINTEGER native = 0;
    SQLSMALLINT len = 0;
    memset(err, 0, sizeof(*err));
    if (h != SQL_NULL_HANDLE &&
        SQL_SUCCEEDED(SQLGetDiagRec(type, h, 1, state, &native, text, sizeof(text), &len))) {
        memcpy(err->state, state, 6);
        err->native = native;
        /* Drivers end messages with newlines; keep one line. */
        size_t n = strlen((char *)text);
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
            text[--n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (text[i] == '\n' || text[i] == '\r')
                text[i] = ' ';
        snprintf(err->msg, sizeof(err->msg), "%s", (char *)text);
    } else {
        strcpy(err->state, "HY000");
        snprintf(err->msg, sizeof(err->msg), "unknown ODBC error");
    }
    err->cls = odbc_classify(db->dialect, err->state, err->native);
    /* A driver may report a lost server with a generic state: ask it. */
    if (err->cls != OC_CONNECTION && err->cls != OC_CONSTRAINT && db->dbc != SQL_NULL_HDBC) {
        SQLUINTEGER dead = SQL_CD_FALSE;
        if (SQL_SUCCEEDED(SQLGetConnectAttr(db->dbc, SQL_ATTR_CONNECTION_DEAD, &dead, 0, NULL)) &&
            dead == SQL_CD_TRUE)
            err->cls = OC_CONNECTION;
    }
}

SQLRETURN odbc_stmt_new(odbc_db *db, SQLHSTMT *st)
{
    SQLRETURN rc = SQLAllocHandle(SQL_HANDLE_STMT, db->dbc, st);
    /* Without it a statement waits for a row lock as long as the other
     * session holds it (44 s seen), and a stop waits with it. A driver
     * that cannot time statements says so (01S02/HYC00); nothing to do. */
    if (SQL_SUCCEEDED(rc) && db->query_timeout_s > 0)
        SQLSetStmtAttr(*st, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)(uintptr_t)db->query_timeout_s, 0);
    return rc;
}

int odbc_exec(odbc_db *db, const char *sql, odbc_err *err)
{
    SQLHSTMT st = SQL_NULL_HSTMT;
    if (!SQL_SUCCEEDED(odbc_stmt_new(db, &st))) {
        odbc_diag(db, SQL_HANDLE_DBC, db->dbc, err);
        return -1;
    }
    SQLRETURN rc = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
    if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA) {
        odbc_diag(db, SQL_HANDLE_STMT, st, err);
        SQLFreeHandle(SQL_HANDLE_STMT, st);
        return -1;
    }
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    return 0;
}

int odbc_autocommit(odbc_db *db, int on, odbc_err *err)
{
    SQLRETURN rc = SQLSetConnectAttr(db->dbc, SQL_ATTR_AUTOCOMMIT,
                                     (SQLPOINTER)(uintptr_t)(on ? SQL_AUTOCOMMIT_ON
                                                                : SQL_AUTOCOMMIT_OFF), 0);
    if (!SQL_SUCCEEDED(rc)) {
        odbc_diag(db, SQL_HANDLE_DBC, db->dbc, err);
        return -1;
    }
    return 0;
}

int odbc_end(odbc_db *db, int commit, odbc_err *err)
{
    if (!SQL_SUCCEEDED(SQLEndTran(SQL_HANDLE_DBC, db->dbc, commit ? SQL_COMMIT : SQL_ROLLBACK))) {
        odbc_diag(db, SQL_HANDLE_DBC, db->dbc, err);
        return -1;
    }
    return 0;
}

char *odbc_quote_ident(const char *name)
{
    /* "a.b" stays a qualified name: each part is quoted on its own. */
    size_t n = strlen(name);
    char *out = malloc(3 * n + 3);
    if (out == NULL)
        return NULL;
    char *o = out;
    *o++ = '"';
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            *o++ = '"';
            *o++ = '.';
            *o++ = '"';
        } else if (*p == '"') {
            *o++ = '"';
            *o++ = '"';
        } else {
            *o++ = *p;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}
