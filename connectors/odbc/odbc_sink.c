/* The ODBC sink: insert, update, upsert or delete one row per record, always
 * with bound parameters; a batch is one transaction.
 *
 * Fast path: the whole batch in one transaction, as one multi-row statement
 * (INSERT/upsert: VALUES (...),(...)), or a parameter array
 * (SQL_ATTR_PARAMSET_SIZE). When the server refuses it, the batch is rolled
 * back and classified: connection lost -> every record BP_NOT_CONNECTED (the
 * connection is dropped and made again on the next write), serialization /
 * deadlock -> BP_RETRY; otherwise the batch is run again row by row, and a
 * row the server refuses (constraint, bad value) is rejected alone and the
 * transaction started again without it, so the rest commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc.h"

#define OK_MAX_PARAMS 30000   /* parameters per statement (SQLite allows 32766) */
#define OK_LOG_ROWS 10        /* at most 2^10 = 1024 rows per statement (PostgreSQL) */
#define OK_LOG_ROWS_LOCAL 8   /* 256 for in-process engines (SQLite): no round trip to save */
#define OK_UNBOUND ((size_t)-1)
#define OK_REST (OK_LOG_ROWS + 1)   /* stm[] slot of the statement for a batch's rest */
#define OK_REST_MIN 16              /* smaller rests go as powers of two */

typedef struct {
    char *name;
    char *path;
    const char *member;        /* path is "data.MEMBER" (points into path), or NULL */
    SQLSMALLINT sqltype;
    SQLULEN size;
    SQLSMALLINT digits;
    int is_key;
    /* Column-wise parameter buffers: cap rows of width bytes. */
    char *data;
    SQLLEN *ind;
    SQLLEN width;
} kcol;

struct osnk {
    odbc_db db;
    int ready;                 /* columns known, statements built */
    kcol *cols;
    size_t ncols;
    size_t *order;             /* parameter order of one row: indexes into cols */
    size_t nparams;            /* parameters per row */
    char *sql1;                /* one row */
    SQLHSTMT st1;
    /* Multi-row statements of 1, 2, 4 ... OK_MAX_ROWS rows, each prepared
     * once: a batch of any size is sent as full statements plus the binary
     * digits of the rest, and nothing is compiled again per batch. */
    SQLHSTMT stm[OK_LOG_ROWS + 2];
    /* The record index stm[j]'s parameters are bound at (its rows are
     * [base, base + 2^j)), or OK_UNBOUND. Binding costs the driver manager
     * far more than the driver reading the values, and a batch of the same
     * size is cut into the same statements at the same places every time:
     * the bindings are kept while the buffers stay where they are. */
    size_t stm_base[OK_LOG_ROWS + 2];
    /* Batches mostly come at the route's batch size, so they leave the same
     * rest after the full statements (2000 = 1024 + 976): once a rest comes
     * twice in a row it gets a statement of its own (stm[OK_REST], rest_rows
     * rows) instead of up to OK_LOG_ROWS powers of two, each a round trip. */
    size_t rest_rows, last_rest;
    size_t cap;                /* rows the buffers hold */
    odbc_buf scratch;
    unsigned char *bad;        /* per record: rejected, or already applied (not written) */
    oapplied *applied;         /* applied_table state, or NULL */
    size_t bad_cap;
    SQLUSMALLINT *pstatus;
};

static const char *ok_mode_name(enum odbc_mode m)
{
    switch (m) {
    case OM_UPDATE: return "update";
    case OM_UPSERT: return "upsert";
    case OM_DELETE: return "delete";
    default: return "insert";
    }
}

/* The parameter buffers moved: every kept binding points at freed memory. */
static void ok_unbind(osnk *k)
{
    for (int j = 0; j <= OK_REST; j++)
        k->stm_base[j] = OK_UNBOUND;
}

static void ok_free_stmts(osnk *k)
{
    ok_unbind(k);
    if (k->st1 != SQL_NULL_HSTMT)
        SQLFreeHandle(SQL_HANDLE_STMT, k->st1);
    k->rest_rows = 0;
    for (int j = 0; j <= OK_REST; j++) {
        if (k->stm[j] != SQL_NULL_HSTMT)
            SQLFreeHandle(SQL_HANDLE_STMT, k->stm[j]);
        k->stm[j] = SQL_NULL_HSTMT;
    }
    k->st1 = SQL_NULL_HSTMT;
}

static void ok_drop(odbc_conn *self)
{
    osnk *k = self->snk;
    ok_free_stmts(k);
    odbc_disconnect(&k->db);
}

static void ok_free_cols(osnk *k)
{
    ok_unbind(k);
    for (size_t i = 0; i < k->ncols; i++) {
        free(k->cols[i].name);
        free(k->cols[i].path);
        free(k->cols[i].data);
        free(k->cols[i].ind);
    }
    free(k->cols);
    k->cols = NULL;
    k->ncols = 0;
    free(k->order);
    k->order = NULL;
    free(k->sql1);
    k->sql1 = NULL;
    k->cap = 0;
}

/* Learns the table's columns and their types (SELECT ... WHERE 1=0). */
static bp_status ok_describe(odbc_conn *self, char **why)
{
    osnk *k = self->snk;
    ok_free_cols(k);
    const struct bp_host_api *api = self->api;
    char *tab = odbc_quote_ident(self->table);
    char *sql = tab ? api->format("SELECT * FROM %s WHERE 1=0", tab) : NULL;
    free(tab);
    SQLHSTMT st = SQL_NULL_HSTMT;
    if (sql == NULL || !SQL_SUCCEEDED(odbc_stmt_new(&k->db, &st))) {
        api->free(sql);
        return BP_ERR_NOMEM;
    }
    SQLRETURN rc = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
    api->free(sql);
    odbc_err e;
    if (!SQL_SUCCEEDED(rc)) {
        odbc_diag(&k->db, SQL_HANDLE_STMT, st, &e);
        SQLFreeHandle(SQL_HANDLE_STMT, st);
        *why = api->format("table %s: [%s] %s", self->table, e.state, e.msg);
        return odbc_class_status(e.cls);   /* a locked database is retried, not rejected */
    }
    SQLSMALLINT n = 0;
    SQLNumResultCols(st, &n);
    size_t want = self->columns ? (size_t)cJSON_GetArraySize(self->columns) : (size_t)n;
    k->cols = calloc(want ? want : 1, sizeof(*k->cols));
    if (k->cols == NULL) {
        SQLFreeHandle(SQL_HANDLE_STMT, st);
        return BP_ERR_NOMEM;
    }
    /* Without a `columns` map every column of the table is written from
     * data.<column>; with one, exactly its columns from its paths. */
    const cJSON *m = self->columns ? self->columns->child : NULL;
    for (size_t i = 0; i < want; i++) {
        kcol *c = &k->cols[i];
        const char *name = NULL;
        SQLCHAR cname[256];
        if (m) {
            name = m->string;
            c->path = strdup(m->valuestring);
            m = m->next;
        }
        int found = 0;
        for (SQLSMALLINT j = 0; j < n; j++) {
            SQLSMALLINT nlen, nullable;
            SQLSMALLINT type, dec;
            SQLULEN size;
            SQLDescribeCol(st, (SQLUSMALLINT)(j + 1), cname, sizeof(cname), &nlen, &type, &size,
                           &dec, &nullable);
            if ((name && strcasecmp(name, (char *)cname) == 0) || (!name && (size_t)j == i)) {
                c->sqltype = type;
                c->size = size ? size : 255;
                c->digits = dec;
                found = 1;
                if (!name)
                    name = (char *)cname;
                break;
            }
        }
        if (!found) {
            SQLFreeHandle(SQL_HANDLE_STMT, st);
            k->ncols = i + 1;   /* its path is freed with the others */
            *why = api->format("table %s has no column '%s'", self->table, name);
            return BP_REJECT;
        }
        c->name = strdup(name);
        if (c->path == NULL) {
            char *p = api->format("data.%s", name);
            c->path = p ? strdup(p) : NULL;
            api->free(p);
        }
        k->ncols = i + 1;
        if (c->path && strncmp(c->path, "data.", 5) == 0 && strpbrk(c->path + 5, ".[") == NULL)
            c->member = c->path + 5;
        if (c->name == NULL || c->path == NULL) {
            SQLFreeHandle(SQL_HANDLE_STMT, st);
            return BP_ERR_NOMEM;
        }
        for (size_t q = 0; q < self->n_keys; q++)
            if (strcasecmp(self->keys[q], name) == 0)
                c->is_key = 1;
    }
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    for (size_t q = 0; q < self->n_keys; q++) {
        int found = 0;
        for (size_t i = 0; i < k->ncols; i++)
            found |= strcasecmp(self->keys[q], k->cols[i].name) == 0;
        if (!found) {
            *why = api->format("key column '%s' is not among the written columns", self->keys[q]);
            return BP_REJECT;
        }
    }
    return BP_OK;
}

/* Builds the statement text for `rows` rows (rows > 1 only for insert/upsert). */
static char *ok_sql(odbc_conn *self, size_t rows)
{
    osnk *k = self->snk;
    odbc_buf b = {0};
    char *tab = odbc_quote_ident(self->table);
    int ok = tab != NULL;
    size_t nk = 0;
    k->nparams = 0;
    if (self->mode == OM_INSERT || self->mode == OM_UPSERT) {
        ok &= odbc_puts(&b, "INSERT INTO ") == 0 && odbc_puts(&b, tab) == 0 &&
              odbc_puts(&b, " (") == 0;
        for (size_t i = 0; ok && i < k->ncols; i++) {
            char *q = odbc_quote_ident(k->cols[i].name);
            ok &= q && (i == 0 || odbc_puts(&b, ", ") == 0) && odbc_puts(&b, q) == 0;
            free(q);
            k->order[k->nparams++] = i;
        }
        ok &= odbc_puts(&b, ") VALUES ") == 0;
        for (size_t r = 0; ok && r < rows; r++) {
            ok &= odbc_puts(&b, r ? ", (" : "(") == 0;
            for (size_t i = 0; ok && i < k->ncols; i++)
                ok &= odbc_puts(&b, i ? ", ?" : "?") == 0;
            ok &= odbc_puts(&b, ")") == 0;
        }
        if (self->mode == OM_UPSERT) {
            ok &= odbc_puts(&b, " ON CONFLICT (") == 0;
            for (size_t i = 0; ok && i < k->ncols; i++) {
                if (!k->cols[i].is_key)
                    continue;
                char *q = odbc_quote_ident(k->cols[i].name);
                ok &= q && (nk++ == 0 || odbc_puts(&b, ", ") == 0) && odbc_puts(&b, q) == 0;
                free(q);
            }
            size_t nset = 0;
            ok &= odbc_puts(&b, ") DO ") == 0;
            for (size_t i = 0; ok && i < k->ncols; i++) {
                if (k->cols[i].is_key)
                    continue;
                char *q = odbc_quote_ident(k->cols[i].name);
                ok &= q && odbc_puts(&b, nset++ ? ", " : "UPDATE SET ") == 0 &&
                      odbc_puts(&b, q) == 0 && odbc_puts(&b, " = excluded.") == 0 &&
                      odbc_puts(&b, q) == 0;
                free(q);
            }
            if (nset == 0)
                ok &= odbc_puts(&b, "NOTHING") == 0;
        }
    } else {
        if (self->mode == OM_UPDATE) {
            size_t nset = 0;
            ok &= odbc_puts(&b, "UPDATE ") == 0 && odbc_puts(&b, tab) == 0;
            for (size_t i = 0; ok && i < k->ncols; i++) {
                if (k->cols[i].is_key)
                    continue;
                char *q = odbc_quote_ident(k->cols[i].name);
                ok &= q && odbc_puts(&b, nset++ ? ", " : " SET ") == 0 && odbc_puts(&b, q) == 0 &&
                      odbc_puts(&b, " = ?") == 0;
                free(q);
                k->order[k->nparams++] = i;
            }
            ok &= nset > 0;
        } else {
            ok &= odbc_puts(&b, "DELETE FROM ") == 0 && odbc_puts(&b, tab) == 0;
        }
        ok &= odbc_puts(&b, " WHERE ") == 0;
        for (size_t i = 0; ok && i < k->ncols; i++) {
            if (!k->cols[i].is_key)
                continue;
            char *q = odbc_quote_ident(k->cols[i].name);
            ok &= q && (nk++ == 0 || odbc_puts(&b, " AND ") == 0) && odbc_puts(&b, q) == 0 &&
                  odbc_puts(&b, " = ?") == 0;
            free(q);
            k->order[k->nparams++] = i;
        }
    }
    free(tab);
    if (!ok) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static bp_status ok_prepare(odbc_conn *self, char **why)
{
    osnk *k = self->snk;
    const struct bp_host_api *api = self->api;
    if ((self->mode == OM_UPDATE || self->mode == OM_UPSERT || self->mode == OM_DELETE) &&
        self->n_keys == 0) {
        *why = api->format("mode %s needs 'key' (the key column(s))", ok_mode_name(self->mode));
        return BP_REJECT;
    }
    if (self->mode == OM_UPSERT && k->db.dialect == OD_OTHER) {
        *why = api->format("mode upsert is implemented for SQLite and PostgreSQL only");
        return BP_REJECT;
    }
    bp_status st = ok_describe(self, why);
    if (st != BP_OK)
        return st;
    k->order = calloc(k->ncols + 1, sizeof(*k->order));
    if (k->order == NULL)
        return BP_ERR_NOMEM;
    k->sql1 = ok_sql(self, 1);
    if (k->sql1 == NULL) {
        *why = api->format("mode %s: nothing to %s (every column is a key?)",
                           ok_mode_name(self->mode), ok_mode_name(self->mode));
        return BP_REJECT;
    }
    api->log(self->inst, BP_LOG_DEBUG, "statement: %s", k->sql1);
    k->ready = 1;
    return BP_OK;
}

/* Makes the buffers hold n rows (their contents are not kept: every write
 * fills them again). Values wider than a column's buffer widen it later
 * (ok_widen). */
static int ok_reserve(osnk *k, size_t n)
{
    for (size_t c = 0; c < k->ncols; c++) {
        kcol *col = &k->cols[c];
        SQLLEN w = col->width;
        if (w < 16)
            w = 16;
        if (w != col->width || n > k->cap) {
            size_t rows = n > k->cap ? n : k->cap;
            char *d = malloc(rows * (size_t)w);
            SQLLEN *ind = realloc(col->ind, rows * sizeof(SQLLEN));
            if (d == NULL || ind == NULL) {
                free(d);
                if (ind)
                    col->ind = ind;
                return -1;
            }
            free(col->data);
            col->data = d;
            col->ind = ind;
            col->width = w;
            ok_unbind(k);
        }
    }
    if (n > k->cap) {
        unsigned char *bad = realloc(k->bad, n);
        SQLUSMALLINT *ps = realloc(k->pstatus, n * sizeof(*ps));
        if (bad)
            k->bad = bad;
        if (ps)
            k->pstatus = ps;
        if (bad == NULL || ps == NULL)
            return -1;
        k->cap = n;
    }
    return 0;
}

/* A value of `need` bytes does not fit column col: re-lay its buffer (room
 * for cap rows) with a wider stride, keeping rows [0, upto). */
static int ok_widen(kcol *col, size_t cap, size_t upto, SQLLEN need)
{
    SQLLEN w = need + need / 2 + 16;
    char *d = malloc(cap * (size_t)w);
    if (d == NULL)
        return -1;
    for (size_t r = 0; r < upto; r++)
        if (col->ind[r] != SQL_NULL_DATA)
            memcpy(d + r * (size_t)w, col->data + r * (size_t)col->width, (size_t)col->ind[r] + 1);
    free(col->data);
    col->data = d;
    col->width = w;
    return 0;
}

/* Fills the parameter buffers from the batch's envelopes. A record whose
 * value cannot be bound is rejected here (bad[i] = 1). */
static int ok_fill(odbc_conn *self, bp_write_batch *wb, size_t n)
{
    osnk *k = self->snk;
    const struct bp_host_api *api = self->api;
    for (size_t i = 0; i < n; i++) {
        if (k->bad[i])
            continue;
        const bp_envelope *env = api->wb_get0(wb, i);
        const cJSON *data = api->envelope_get0_data(env);
        const cJSON *hint = cJSON_IsObject(data) ? data->child : NULL;
        for (size_t c = 0; c < k->ncols; c++)
            k->cols[c].ind[i] = SQL_NULL_DATA;   /* a rejected record leaves no stale length */
        for (size_t c = 0; c < k->ncols; c++) {
            kcol *col = &k->cols[c];
            /* "data.NAME" is a member of data: no path parsing per value,
             * and records from a table list their members in column
             * order, so the next member is tried first. */
            const cJSON *v;
            if (col->member && hint && hint->string && strcmp(hint->string, col->member) == 0)
                v = hint;
            else if (col->member)
                v = cJSON_GetObjectItemCaseSensitive(data, col->member);
            else
                v = api->envelope_get0_path(env, col->path);
            hint = v && col->member ? v->next : NULL;
            SQLLEN len = 0;
            const char *why = NULL;
            const char *text = k->scratch.p;
            enum odbc_jkind kind = odbc_jkind_of(col->sqltype);
            if (cJSON_IsString(v) && kind != OJ_BINARY && kind != OJ_TIMESTAMP) {
                /* Most values: a string bound as it is, without a copy
                 * through scratch (what odbc_param_text would give). */
                text = v->valuestring;
                len = (SQLLEN)strlen(text);
            } else if (odbc_param_text(v, col->sqltype, &k->scratch, &len, &why) < 0) {
                char *r = api->format("column %s (%s): %s", col->name, col->path, why);
                api->wb_set_result(wb, i, BP_REJECT, r ? r : why);
                api->free(r);
                k->bad[i] = 1;
                break;
            } else {
                text = k->scratch.p;   /* scratch may have moved */
            }
            if (len != SQL_NULL_DATA && len + 1 > col->width) {
                if (ok_widen(col, k->cap, i, len + 1) < 0)
                    return -1;
                ok_unbind(k);
            }
            col->ind[i] = len;
            if (len != SQL_NULL_DATA) {
                memcpy(col->data + i * (size_t)col->width, text, (size_t)len);
                col->data[i * (size_t)col->width + (size_t)len] = '\0';
            }
        }
    }
    return 0;
}

/* Binds parameter p (1-based) of a statement to column c of row r. */
static SQLRETURN ok_bind1(osnk *k, SQLHSTMT st, SQLUSMALLINT p, size_t c, size_t r)
{
    kcol *col = &k->cols[c];
    int bin = odbc_jkind_of(col->sqltype) == OJ_BINARY;
    /* Values go as text and the column's own type parses them, as the
     * databases' bulk loaders do (.import, COPY). Declaring the column's type
     * makes the drivers convert first: sqliteodbc turns decimals into a
     * double (lossy), psqlODBC parses every timestamp with sscanf and prints
     * it again, and appends casts; psqlODBC sends the type as unknown either
     * way, so the server infers it from the column (VALUES lists of an
     * INSERT, SET col = ?, WHERE key = ?). */
    SQLSMALLINT type = bin ? col->sqltype : SQL_VARCHAR;
    return SQLBindParameter(st, p, SQL_PARAM_INPUT, bin ? SQL_C_BINARY : SQL_C_CHAR, type,
                            col->size, col->digits, col->data + r * (size_t)col->width,
                            col->width, &col->ind[r]);
}

static int ok_stmt(osnk *k, SQLHSTMT *st, const char *sql, odbc_err *e)
{
    if (*st == SQL_NULL_HSTMT) {
        if (!SQL_SUCCEEDED(odbc_stmt_new(&k->db, st))) {
            odbc_diag(&k->db, SQL_HANDLE_DBC, k->db.dbc, e);
            *st = SQL_NULL_HSTMT;
            return -1;
        }
        if (!SQL_SUCCEEDED(SQLPrepare(*st, (SQLCHAR *)sql, SQL_NTS))) {
            odbc_diag(&k->db, SQL_HANDLE_STMT, *st, e);
            SQLFreeHandle(SQL_HANDLE_STMT, *st);
            *st = SQL_NULL_HSTMT;
            return -1;
        }
    }
    return 0;
}

/* Executes one row (row index r) with the one-row statement. *count: rows
 * affected. */
static int ok_exec_row(odbc_conn *self, size_t r, SQLLEN *count, odbc_err *e)
{
    osnk *k = self->snk;
    if (ok_stmt(k, &k->st1, k->sql1, e) < 0)
        return -1;
    SQLSetStmtAttr(k->st1, SQL_ATTR_PARAMSET_SIZE, (SQLPOINTER)1, 0);
    for (size_t p = 0; p < k->nparams; p++)
        ok_bind1(k, k->st1, (SQLUSMALLINT)(p + 1), k->order[p], r);
    SQLRETURN rc = SQLExecute(k->st1);
    if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA) {
        odbc_diag(&k->db, SQL_HANDLE_STMT, k->st1, e);
        SQLFreeStmt(k->st1, SQL_CLOSE);
        return -1;
    }
    *count = 0;
    SQLRowCount(k->st1, count);
    SQLFreeStmt(k->st1, SQL_CLOSE);
    return 0;
}

/* The fast path for the rows not rejected: rows[] holds their indexes. */
static int ok_exec_fast(odbc_conn *self, const size_t *rows, size_t n, odbc_err *e)
{
    osnk *k = self->snk;
    enum odbc_bind how = self->bind;
    int multi = self->mode == OM_INSERT || self->mode == OM_UPSERT;
    if (how == OB_AUTO)
        how = multi ? OB_MULTIROW : OB_SINGLE;
    if (how == OB_MULTIROW && !multi)
        how = OB_SINGLE;
    if (how == OB_MULTIROW) {
        /* Bigger statements save round trips to a server (PostgreSQL: 87-101k
         * rows/s with 256 rows, 118-134k with 1024, bench/run-odbc-relay.sh);
         * SQLite runs in-process and was a little slower with them. */
        int log_rows = k->db.dialect == OD_SQLITE ? OK_LOG_ROWS_LOCAL : OK_LOG_ROWS;
        int top = 0;
        while (top < log_rows && ((size_t)2 << top) * k->nparams <= OK_MAX_PARAMS)
            top++;
        size_t rest = n % ((size_t)1 << top);
        int use_rest = rest >= OK_REST_MIN && (rest == k->rest_rows || rest == k->last_rest);
        k->last_rest = rest;
        if (use_rest && rest != k->rest_rows) {
            if (k->stm[OK_REST] != SQL_NULL_HSTMT)
                SQLFreeHandle(SQL_HANDLE_STMT, k->stm[OK_REST]);
            k->stm[OK_REST] = SQL_NULL_HSTMT;
            k->rest_rows = rest;
        }
        for (size_t at = 0; at < n;) {
            int j = top;
            size_t m;
            if (use_rest && n - at == rest) {
                j = OK_REST;
                m = rest;
            } else {
                while (((size_t)1 << j) > n - at)
                    j--;
                m = (size_t)1 << j;
            }
            if (k->stm[j] == SQL_NULL_HSTMT) {
                char *sql = ok_sql(self, m);
                if (sql == NULL) {
                    snprintf(e->msg, sizeof(e->msg), "out of memory");
                    e->cls = OC_RETRY;
                    return -1;
                }
                k->stm_base[j] = OK_UNBOUND;
                int rc = ok_stmt(k, &k->stm[j], sql, e);
                free(sql);
                if (rc < 0)
                    return -1;
            }
            SQLHSTMT st = k->stm[j];
            /* Rows at the same place as last time: the bindings hold. */
            size_t base = rows[at + m - 1] - rows[at] == m - 1 ? rows[at] : OK_UNBOUND;
            if (base == OK_UNBOUND || k->stm_base[j] != base) {
                k->stm_base[j] = OK_UNBOUND;
                for (size_t r = 0; r < m; r++)
                    for (size_t p = 0; p < k->nparams; p++)
                        if (!SQL_SUCCEEDED(ok_bind1(k, st, (SQLUSMALLINT)(r * k->nparams + p + 1),
                                                    k->order[p], rows[at + r]))) {
                            odbc_diag(&k->db, SQL_HANDLE_STMT, st, e);
                            return -1;
                        }
                k->stm_base[j] = base;
            }
            SQLRETURN rc = SQLExecute(st);
            if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA) {
                odbc_diag(&k->db, SQL_HANDLE_STMT, st, e);
                SQLFreeStmt(st, SQL_CLOSE);
                return -1;
            }
            SQLFreeStmt(st, SQL_CLOSE);
            at += m;
        }
        return 0;
    }
    if (how == OB_ARRAY) {
        /* Parameter arrays bind column-wise: only when the rows to send are
         * contiguous (no rejected record among them). */
        int contiguous = n > 0 && rows[n - 1] - rows[0] == n - 1;
        if (contiguous) {
            if (ok_stmt(k, &k->st1, k->sql1, e) < 0)
                return -1;
            SQLSetStmtAttr(k->st1, SQL_ATTR_PARAM_BIND_TYPE, (SQLPOINTER)SQL_PARAM_BIND_BY_COLUMN, 0);
            SQLSetStmtAttr(k->st1, SQL_ATTR_PARAMSET_SIZE, (SQLPOINTER)(uintptr_t)n, 0);
            SQLSetStmtAttr(k->st1, SQL_ATTR_PARAM_STATUS_PTR, k->pstatus, 0);
            for (size_t p = 0; p < k->nparams; p++)
                ok_bind1(k, k->st1, (SQLUSMALLINT)(p + 1), k->order[p], rows[0]);
            SQLRETURN rc = SQLExecute(k->st1);
            SQLSetStmtAttr(k->st1, SQL_ATTR_PARAMSET_SIZE, (SQLPOINTER)1, 0);
            SQLSetStmtAttr(k->st1, SQL_ATTR_PARAM_STATUS_PTR, NULL, 0);
            int failed = !SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA;
            for (size_t i = 0; !failed && i < n; i++)
                failed = k->pstatus[i] == SQL_PARAM_ERROR;
            if (failed) {
                odbc_diag(&k->db, SQL_HANDLE_STMT, k->st1, e);
                SQLFreeStmt(k->st1, SQL_CLOSE);
                return -1;
            }
            SQLFreeStmt(k->st1, SQL_CLOSE);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        SQLLEN count;
        if (ok_exec_row(self, rows[i], &count, e) < 0)
            return -1;
        if (self->mode == OM_UPDATE && count == 0) {
            /* Found by the slow path, which reports it per record. */
            snprintf(e->msg, sizeof(e->msg), "no row matches the key");
            e->cls = OC_CONSTRAINT;
            strcpy(e->state, "02000");
            return -1;
        }
    }
    return 0;
}

/* Sets every record not rejected yet to st. */
static void ok_all(odbc_conn *self, bp_write_batch *wb, size_t n, bp_status st, const char *why)
{
    for (size_t i = 0; i < n; i++)
        if (!self->snk->bad[i])
            self->api->wb_set_result(wb, i, st, why);
}

/* A batch failure that is not the records' fault. */
static bp_status ok_batch_fail(odbc_conn *self, bp_write_batch *wb, size_t n, const odbc_err *e)
{
    char why[600];
    snprintf(why, sizeof(why), "[%s] %s", e->state, e->msg);
    bp_status st = e->cls == OC_CONNECTION ? BP_NOT_CONNECTED : BP_RETRY;
    self->api->log(self->inst, BP_LOG_WARN, "%s: %s",
                   st == BP_NOT_CONNECTED ? "not connected" : "will be retried", why);
    if (st == BP_NOT_CONNECTED) {
        ok_drop(self);
        /* The commit may have happened with its answer lost: the applied
         * table is read again after reconnecting, and a batch it holds
         * beyond the ledger's is not written twice. */
        odbc_applied_free(self->snk->applied);
        self->snk->applied = NULL;
    }
    else
        odbc_end(&self->snk->db, 0, &(odbc_err){0});
    ok_all(self, wb, n, st, why);
    return st;
}

bp_status odbc_sink_write(odbc_conn *self, bp_write_batch *wb)
{
    const struct bp_host_api *api = self->api;
    if (self->snk == NULL) {
        if (self->mode < OM_INSERT) {
            api->log(self->inst, BP_LOG_ERROR,
                     "a sink takes mode insert, update, upsert or delete");
            return BP_REJECT;
        }
        if (self->table == NULL) {
            api->log(self->inst, BP_LOG_ERROR, "a sink needs 'table'");
            return BP_REJECT;
        }
        if ((self->snk = calloc(1, sizeof(osnk))) == NULL)
            return BP_ERR_NOMEM;
        ok_unbind(self->snk);
    }
    osnk *k = self->snk;
    odbc_err e = {0};
    size_t n = api->wb_count(wb);
    if (!k->db.connected) {
        bp_status st = odbc_connect(self, &k->db, &e);
        if (st != BP_OK) {
            api->log(self->inst, BP_LOG_ERROR, "cannot connect: [%s] %s", e.state, e.msg);
            return st;
        }
        if (odbc_autocommit(&k->db, 0, &e) < 0) {
            api->log(self->inst, BP_LOG_ERROR, "cannot start a transaction: %s", e.msg);
            ok_drop(self);
            return BP_NOT_CONNECTED;
        }
    }
    if (!k->ready) {
        char *why = NULL;
        bp_status st = ok_prepare(self, &why);
        if (st != BP_OK) {
            if (why)
                api->log(self->inst, BP_LOG_ERROR, "%s", why);
            if (st == BP_NOT_CONNECTED)
                ok_drop(self);
            for (size_t i = 0; i < n; i++)
                api->wb_set_result(wb, i, st, why);
            api->free(why);
            return st;
        }
    }
    if (ok_reserve(k, n) < 0)
        return BP_RETRY;
    if (self->applied_table && k->applied == NULL) {
        char *why = NULL;
        bp_status st = odbc_applied_open(self, &k->db, &k->applied, &why);
        if (st != BP_OK) {
            api->log(self->inst, BP_LOG_ERROR, "%s", why ? why : "applied_table failed");
            if (st == BP_NOT_CONNECTED)
                ok_drop(self);
            for (size_t i = 0; i < n; i++)
                api->wb_set_result(wb, i, st == BP_REJECT ? BP_RETRY : st, why);
            api->free(why);
            return st == BP_REJECT ? BP_RETRY : st;
        }
    }
    memset(k->bad, 0, n);
    for (size_t i = 0; k->applied && i < n; i++)
        if (odbc_applied_skip(self, k->applied, api->wb_get0(wb, i))) {
            api->wb_set_result(wb, i, BP_OK, NULL);
            api->counter_add(self->inst, "applied_skipped", 1);
            k->bad[i] = 1;
        }
    if (ok_fill(self, wb, n) < 0)
        return BP_RETRY;
    size_t *rows = malloc((n ? n : 1) * sizeof(*rows));
    if (rows == NULL)
        return BP_RETRY;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!k->bad[i])
            rows[m++] = i;
    bp_status result = BP_OK;
    if (m > 0 && ok_exec_fast(self, rows, m, &e) == 0) {
        if ((k->applied && odbc_applied_mark(self, k->applied, &k->db, wb, k->bad, n, &e) < 0) ||
            odbc_end(&k->db, 1, &e) < 0)
            result = ok_batch_fail(self, wb, n, &e);
        else if (k->applied)
            odbc_applied_committed(self, k->applied, wb);
        free(rows);
        if (result == BP_OK)
            api->counter_add(self->inst, "rows_written", m);
        return result;
    }
    if (m == 0) {
        free(rows);
        return BP_OK;
    }
    odbc_end(&k->db, 0, &(odbc_err){0});
    if (e.cls == OC_CONNECTION || e.cls == OC_RETRY) {
        free(rows);
        return ok_batch_fail(self, wb, n, &e);
    }
    /* Row by row: find the records the server refuses, then commit the rest
     * in one transaction. */
    api->counter_add(self->inst, "slow_batches", 1);
    for (;;) {
        size_t i;
        int again = 0;
        for (i = 0; i < m; i++) {
            SQLLEN count = 0;
            size_t r = rows[i];
            if (k->bad[r])
                continue;
            int rc = ok_exec_row(self, r, &count, &e);
            if (rc == 0 && self->mode == OM_UPDATE && count == 0) {
                api->wb_set_result(wb, r, BP_REJECT, "update: no row matches the key");
                k->bad[r] = 1;
                continue;   /* nothing changed: the transaction goes on */
            }
            if (rc == 0)
                continue;
            if (e.cls == OC_CONNECTION || e.cls == OC_RETRY) {
                free(rows);
                return ok_batch_fail(self, wb, n, &e);
            }
            char why[600];
            snprintf(why, sizeof(why), "%s refused: [%s] %s", ok_mode_name(self->mode), e.state,
                     e.msg);
            api->wb_set_result(wb, r, BP_REJECT, why);
            api->counter_add(self->inst, "rows_rejected", 1);
            k->bad[r] = 1;
            /* The transaction may be aborted (PostgreSQL): start it again
             * without this record. */
            odbc_end(&k->db, 0, &(odbc_err){0});
            again = 1;
            break;
        }
        if (again)
            continue;
        if ((k->applied && odbc_applied_mark(self, k->applied, &k->db, wb, k->bad, n, &e) < 0) ||
            odbc_end(&k->db, 1, &e) < 0) {
            free(rows);
            return ok_batch_fail(self, wb, n, &e);
        }
        if (k->applied)
            odbc_applied_committed(self, k->applied, wb);
        break;
    }
    size_t good = 0;
    for (size_t i = 0; i < m; i++)
        if (!k->bad[rows[i]]) {
            api->wb_set_result(wb, rows[i], BP_OK, NULL);
            good++;
        }
    api->counter_add(self->inst, "rows_written", good);
    free(rows);
    return result;
}

void odbc_sink_free(odbc_conn *self)
{
    osnk *k = self->snk;
    if (k == NULL)
        return;
    ok_drop(self);
    ok_free_cols(k);
    odbc_applied_free(k->applied);
    free(k->scratch.p);
    free(k->bad);
    free(k->pstatus);
    free(k);
    self->snk = NULL;
}
