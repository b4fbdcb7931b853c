/* See db.h: the PostgreSQL backend (libpq). Statements are sent with
 * PQexecParams (text results, BYTEA parameters in binary); the SQL is the
 * common dialect rewritten by bp_db_pg_translate. */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

typedef struct {
    char *b;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t c = s->cap ? s->cap : 128;
        while (c < s->len + n + 1)
            c *= 2;
        char *nb = realloc(s->b, c);
        if (nb == NULL) {
            s->oom = 1;
            return;
        }
        s->b = nb;
        s->cap = c;
    }
    memcpy(s->b + s->len, p, n);
    s->len += n;
    s->b[s->len] = '\0';
}

static void sb_str(sbuf *s, const char *p)
{
    sb_put(s, p, strlen(p));
}

static int is_word(int c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* The word starting at p (after blanks): its length, *start set. */
static size_t next_word(const char *p, const char **start)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    *start = p;
    size_t n = 0;
    while (is_word(p[n]))
        n++;
    return n;
}

static int word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && memcmp(w, kw, n) == 0;
}

char *bp_db_pg_translate(const char *sql, int *nparams)
{
    sbuf s = {0};
    int maxp = 0, ignore = 0;
    char prev[32] = "";
    const char *p = sql;
    sb_put(&s, "", 0);
    while (*p) {
        char c = *p;
        if (c == '\'' || c == '"') {   /* a literal or a quoted name: copied */
            const char *e = p + 1;
            for (;;) {
                if (*e == '\0')
                    break;
                if (*e == c) {
                    if (e[1] == c) {
                        e += 2;
                        continue;
                    }
                    e++;
                    break;
                }
                e++;
            }
            sb_put(&s, p, (size_t)(e - p));
            p = e;
            continue;
        }
        if (c == '$' && p[1] == '$') {   /* a function body: copied */
            const char *e = strstr(p + 2, "$$");
            e = e ? e + 2 : p + strlen(p);
            sb_put(&s, p, (size_t)(e - p));
            p = e;
            continue;
        }
        if (c == '?') {
            int n = 0;
            p++;
            if (isdigit((unsigned char)*p)) {
                while (isdigit((unsigned char)*p))
                    n = n * 10 + (*p++ - '0');
            } else {
                n = maxp + 1;
            }
            if (n > maxp)
                maxp = n;
            char num[24];
            /* "?N IS NULL" (an optional filter): PostgreSQL cannot type a
             * parameter from IS NULL alone; the filters are all text. */
            snprintf(num, sizeof(num), strncmp(p, " IS NULL", 8) == 0 ? "$%d::text" : "$%d", n);
            sb_str(&s, num);
            continue;
        }
        if (c == ';') {
            if (ignore)
                sb_str(&s, " ON CONFLICT DO NOTHING");
            ignore = 0;
            sb_put(&s, p++, 1);
            prev[0] = '\0';
            continue;
        }
        if (is_word(c) && (p == sql || !is_word(p[-1]))) {
            size_t n = 0;
            while (is_word(p[n]))
                n++;
            const char *nw;
            size_t nn = next_word(p + n, &nw);
            const char *rest = p + n;
            if (word_is(p, n, "BEGIN") && (word_is(nw, nn, "IMMEDIATE") ||
                                           word_is(nw, nn, "DEFERRED") ||
                                           word_is(nw, nn, "EXCLUSIVE"))) {
                sb_str(&s, "BEGIN");
                p = nw + nn;
            } else if (word_is(p, n, "OR") && strcmp(prev, "INSERT") == 0 &&
                       word_is(nw, nn, "IGNORE")) {
                ignore = 1;
                p = nw + nn;
                while (*p == ' ')
                    p++;
                continue;   /* the blank after INSERT stays */
            } else if (word_is(p, n, "INTEGER") && word_is(nw, nn, "PRIMARY")) {
                sb_str(&s, "BIGSERIAL");
                p = rest;
            } else if (word_is(p, n, "INTEGER")) {
                sb_str(&s, "BIGINT");
                p = rest;
            } else if (word_is(p, n, "REAL")) {
                sb_str(&s, "DOUBLE PRECISION");
                p = rest;
            } else if (word_is(p, n, "BLOB")) {
                sb_str(&s, "BYTEA");
                p = rest;
            } else if (word_is(p, n, "AUTOINCREMENT")) {
                p = rest;
            } else if (word_is(p, n, "COLUMN") && strcmp(prev, "ADD") == 0 &&
                       !word_is(nw, nn, "IF")) {
                sb_str(&s, "COLUMN IF NOT EXISTS");
                p = rest;
            } else {
                sb_put(&s, p, n);
                p = rest;
            }
            if (n < sizeof(prev)) {
                memcpy(prev, rest - n, n);
                prev[n] = '\0';
            }
            continue;
        }
        sb_put(&s, p++, 1);
    }
    if (ignore)
        sb_str(&s, " ON CONFLICT DO NOTHING");
    if (nparams)
        *nparams = maxp;
    if (s.oom) {
        free(s.b);
        return NULL;
    }
    return s.b;
}

static void pg_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;   /* "relation already exists, skipping" and the like */
}

static void pg_set_err(bp_db *db, const char *m)
{
    free(db->err);
    db->err = strdup(m ? m : "");
    if (db->err) {
        size_t n = strlen(db->err);
        while (n && (db->err[n - 1] == '\n' || db->err[n - 1] == ' '))
            db->err[--n] = '\0';
    }
}

/* One table maps SQLSTATE classes to the codes the state code tests. */
static const struct {
    const char *state;
    int rc;
} pg_errmap[] = {
    {"23", BP_DB_CONSTRAINT},   /* integrity constraint violation (class) */
    {"40001", BP_DB_BUSY},      /* serialization failure */
    {"40P01", BP_DB_BUSY},      /* deadlock detected */
    {"55P03", BP_DB_BUSY},      /* lock not available */
};

static int pg_fail(bp_db *db, PGresult *r, const char *sql)
{
    PGconn *c = db->conn;
    pg_set_err(db, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    if (db->err && *db->err == '\0')
        pg_set_err(db, PQerrorMessage(c));
    if (getenv("BP_DB_TRACE"))   /* developers: which statement failed, and why */
        fprintf(stderr, "db: %s\n  in: %s\n", db->err ? db->err : "?", sql);
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = BP_DB_ERROR;
    for (size_t i = 0; code && i < sizeof(pg_errmap) / sizeof(pg_errmap[0]); i++)
        if (strncmp(code, pg_errmap[i].state, strlen(pg_errmap[i].state)) == 0) {
            rc = pg_errmap[i].rc;
            break;
        }
    db->xerr = rc;
    if (code && strcmp(code, "23505") == 0) {
        const char *cn = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
        size_t n = cn ? strlen(cn) : 0;
        db->xerr = n >= 5 && strcmp(cn + n - 5, "_pkey") == 0 ? BP_DB_CONSTRAINT_PRIMARYKEY
                                                              : BP_DB_CONSTRAINT_UNIQUE;
    }
    if (PQstatus(c) == CONNECTION_BAD) {
        /* The next statement reconnects; this one failed. Inside a
         * transaction the server rolled it back: every statement until the
         * caller's COMMIT or ROLLBACK fails, so nothing of it runs alone in
         * autocommit on the new connection. */
        if (db->in_tx)
            db->tx_lost = 1;
        PQreset(c);
    }
    return rc;
}

int bp_db_open_pg(const char *uri, bp_db **out, char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    bp_db *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return BP_DB_ERROR;
    db->pg = 1;
    PGconn *c = PQconnectdb(uri);
    db->conn = c;
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        *errmsg = strdup(c ? PQerrorMessage(c) : "out of memory");
        if (*errmsg) {
            size_t n = strlen(*errmsg);
            while (n && (*errmsg)[n - 1] == '\n')
                (*errmsg)[--n] = '\0';
        }
        bp_db_close(db);
        return BP_DB_ERROR;
    }
    PQsetNoticeProcessor(c, pg_notice, NULL);
    *out = db;
    return BP_DB_OK;
}

void bp_db_pg_close(bp_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
}

int bp_db_pg_exec(bp_db *db, const char *sql, int (*cb)(void *, int, char **, char **), void *ud,
                  char **errmsg)
{
    char *t = bp_db_pg_translate(sql, NULL);
    if (t == NULL)
        return BP_DB_ERROR;
    int ends = strncmp(t, "COMMIT", 6) == 0 || strncmp(t, "ROLLBACK", 8) == 0;
    if (db->tx_lost) {
        if (ends) {
            db->in_tx = db->tx_lost = 0;
            if (strncmp(t, "ROLLBACK", 8) == 0) {
                free(t);
                return BP_DB_OK;
            }
        }
        pg_set_err(db, "the connection to PostgreSQL was lost inside a transaction");
        if (errmsg)
            *errmsg = strdup(db->err ? db->err : "error");
        free(t);
        return BP_DB_ERROR;
    }
    if (strncmp(t, "BEGIN", 5) == 0)
        db->in_tx = 1;
    else if (ends)
        db->in_tx = 0;
    PGresult *r = PQexec(db->conn, t);
    int rc = BP_DB_OK;
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es == PGRES_TUPLES_OK) {
        int nf = PQnfields(r);
        char **vals = calloc((size_t)nf + 1, sizeof(char *));
        char **names = calloc((size_t)nf + 1, sizeof(char *));
        for (int i = 0; vals && names && i < nf; i++)
            names[i] = PQfname(r, i);
        for (int row = 0; cb && vals && names && row < PQntuples(r); row++) {
            for (int i = 0; i < nf; i++)
                vals[i] = PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
            if (cb(ud, nf, vals, names) != 0) {
                rc = BP_DB_ERROR;
                break;
            }
        }
        free(vals);
        free(names);
    } else if (es == PGRES_COMMAND_OK) {
        /* COMMIT of a transaction in which a statement failed answers
         * "ROLLBACK": nothing was written, and the caller must know. */
        if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0 && strncmp(t, "COMMIT", 6) == 0) {
            pg_set_err(db, "the transaction was rolled back");
            rc = BP_DB_ERROR;
        }
    } else {
        rc = pg_fail(db, r, t);
    }
    if (rc != BP_DB_OK && errmsg)
        *errmsg = strdup(db->err ? db->err : "error");
    PQclear(r);
    free(t);
    return rc;
}

int bp_db_pg_prepare(bp_db *db, const char *sql, bp_db_stmt *q)
{
    (void)db;
    int n = 0;
    q->sql = bp_db_pg_translate(sql, &n);
    if (q->sql == NULL)
        return BP_DB_ERROR;
    q->nparams = n;
    if (n) {
        q->vals = calloc((size_t)n, sizeof(char *));
        q->lens = calloc((size_t)n, sizeof(int));
        q->fmts = calloc((size_t)n, sizeof(int));
        q->types = calloc((size_t)n, sizeof(unsigned));
        if (!q->vals || !q->lens || !q->fmts || !q->types)
            return BP_DB_ERROR;
    }
    const char *w;
    size_t wn = next_word(q->sql, &w);
    q->readonly = 0;
    static const char *const ro[] = {"SELECT", "select", "WITH", "with", "VALUES", "EXPLAIN"};
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
        if (word_is(w, wn, ro[i]))
            q->readonly = 1;
    return BP_DB_OK;
}

static void pg_clear_row(bp_db_stmt *q)
{
    for (int i = 0; q->bcache && i < q->ncols; i++) {
        free(q->bcache[i]);
        q->bcache[i] = NULL;
    }
}

void bp_db_pg_reset(bp_db_stmt *q)
{
    pg_clear_row(q);
    PQclear(q->res);
    q->res = NULL;
    q->executed = 0;
    q->row = q->nrows = 0;
}

void bp_db_pg_free_stmt(bp_db_stmt *q)
{
    bp_db_pg_reset(q);
    for (int i = 0; q->vals && i < q->nparams; i++)
        free(q->vals[i]);
    free(q->vals);
    free(q->lens);
    free(q->fmts);
    free(q->types);
    free(q->bcache);
    free(q->blen);
    free(q->sql);
}

int bp_db_pg_bind(bp_db_stmt *q, int i, const void *v, size_t n, int fmt, unsigned type)
{
    if (i < 1 || i > q->nparams)
        return 25;   /* SQLite's range error */
    i--;
    free(q->vals[i]);
    q->vals[i] = NULL;
    q->lens[i] = 0;
    q->fmts[i] = fmt;
    q->types[i] = type;
    if (v == NULL)
        return BP_DB_OK;
    q->vals[i] = malloc(n + 1);
    if (q->vals[i] == NULL)
        return BP_DB_ERROR;
    memcpy(q->vals[i], v, n);
    q->vals[i][n] = '\0';
    q->lens[i] = (int)n;
    return BP_DB_OK;
}

int bp_db_pg_step(bp_db_stmt *q)
{
    bp_db *db = q->db;
    if (q->executed) {
        pg_clear_row(q);
        if (q->res == NULL || ++q->row >= q->nrows)
            return BP_DB_DONE;
        return BP_DB_ROW;
    }
    q->executed = 1;
    if (db->tx_lost) {
        pg_set_err(db, "the connection to PostgreSQL was lost inside a transaction");
        return BP_DB_ERROR;
    }
    PGresult *r = PQexecParams(db->conn, q->sql, q->nparams, (const Oid *)q->types,
                               (const char *const *)q->vals, q->lens, q->fmts, 0);
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
        int rc = pg_fail(db, r, q->sql);
        PQclear(r);
        return rc;
    }
    const char *ct = PQcmdTuples(r);
    if (ct && *ct)
        db->changes = atoi(ct);
    if (es == PGRES_COMMAND_OK) {
        PQclear(r);
        return BP_DB_DONE;
    }
    q->res = r;
    q->nrows = PQntuples(r);
    q->row = 0;
    int nf = PQnfields(r);
    if (nf > q->ncols) {
        free(q->bcache);
        free(q->blen);
        q->bcache = calloc((size_t)nf, sizeof(*q->bcache));
        q->blen = calloc((size_t)nf, sizeof(*q->blen));
        q->ncols = q->bcache && q->blen ? nf : 0;
    }
    return q->nrows > 0 ? BP_DB_ROW : BP_DB_DONE;
}

static int pg_valid(bp_db_stmt *q, int col)
{
    return q->res && q->row < q->nrows && col >= 0 && col < PQnfields(q->res);
}

int bp_db_pg_column_count(bp_db_stmt *q)
{
    if (q->res)
        return PQnfields(q->res);
    return 0;
}

int bp_db_pg_column_type(bp_db_stmt *q, int col)
{
    if (!pg_valid(q, col) || PQgetisnull(q->res, q->row, col))
        return BP_DB_NULL;
    switch (PQftype(q->res, col)) {
    case 16: case 20: case 21: case 23:
        return BP_DB_INTEGER;
    case 700: case 701: case 1700:
        return BP_DB_FLOAT;
    case 17:
        return BP_DB_BLOB;
    default:
        return BP_DB_TEXT;
    }
}

/* A BYTEA column's bytes, unescaped once per row. */
static const unsigned char *pg_bytea(bp_db_stmt *q, int col, size_t *len)
{
    if (col >= q->ncols)
        return NULL;
    if (q->bcache[col] == NULL) {
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea(
            (const unsigned char *)PQgetvalue(q->res, q->row, col), &n);
        if (raw == NULL)
            return NULL;
        /* Copied NUL-terminated, so it also reads as text. */
        unsigned char *b = malloc(n + 1);
        if (b == NULL) {
            PQfreemem(raw);
            return NULL;
        }
        memcpy(b, raw, n);
        b[n] = '\0';
        PQfreemem(raw);
        q->bcache[col] = b;
        q->blen[col] = n;
    }
    *len = q->blen[col];
    return q->bcache[col];
}

const unsigned char *bp_db_pg_column_text(bp_db_stmt *q, int col)
{
    if (!pg_valid(q, col) || PQgetisnull(q->res, q->row, col))
        return NULL;
    if (PQftype(q->res, col) == 17) {
        size_t n;
        return pg_bytea(q, col, &n);
    }
    return (const unsigned char *)PQgetvalue(q->res, q->row, col);
}

const void *bp_db_pg_column_blob(bp_db_stmt *q, int col)
{
    return bp_db_pg_column_text(q, col);
}

int bp_db_pg_column_bytes(bp_db_stmt *q, int col)
{
    if (!pg_valid(q, col) || PQgetisnull(q->res, q->row, col))
        return 0;
    if (PQftype(q->res, col) == 17) {
        size_t n = 0;
        return pg_bytea(q, col, &n) ? (int)n : 0;
    }
    return PQgetlength(q->res, q->row, col);
}

int64_t bp_db_pg_last_insert_rowid(bp_db *db)
{
    PGresult *r = PQexec(db->conn, "SELECT lastval()");
    int64_t id = 0;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}
