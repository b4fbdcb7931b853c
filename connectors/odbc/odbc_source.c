/* The ODBC source: polls a table or query incrementally (modes bulk,
 * incrementing, timestamp, timestamp+incrementing) with row-array binding.
 *
 * Two positions: the read position (the watermark of the last row pushed,
 * where the next query starts) and the acked watermark (the checkpoint). The
 * checkpoint is stored only in ack, so a crash re-reads what was not acked:
 * at-least-once, and envelope ids derived from the watermark let the core's
 * ledger sinks skip what they already applied. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "odbc.h"

#define OS_CKPT "watermark"
#define OS_TS_MAX 64

typedef struct {
    long long inc;
    char ts[OS_TS_MAX];
    int has;
} opos;

typedef struct {
    char *name;
    odbc_buf key;              /* "NAME": as JSON, made once per execution */
    SQLSMALLINT sqltype;
    enum odbc_jkind kind;
    SQLLEN width;              /* bytes per bound value */
    char *data;                /* batch_rows * width */
    SQLLEN *ind;
} ocol;

struct osrc {
    odbc_db db;
    SQLHSTMT st;
    int open;                  /* a result set is being read */
    ocol *cols;
    SQLSMALLINT ncols;
    SQLLEN *grow;              /* widths learned from truncated values, by column */
    SQLSMALLINT ngrow;
    /* PostgreSQL: the select list when some columns are read as text (see
     * os_select_list), and which columns (by position) are timestamps read
     * as text; NULL: SELECT *. */
    char *list;
    unsigned char *as_text;
    SQLSMALLINT nlist;
    int inc_col, ts_col, key_col;
    SQLULEN fetched;           /* rows in the current block */
    SQLULEN at;                /* next row of the block */
    long long consumed;        /* rows taken from this execution */
    long long skip;            /* rows to pass over after a re-execution */
    /* LIMIT of the next query: batch_rows after catching up, doubled while
     * queries come back full, up to max_rows. A backlog starts flowing after
     * one small query instead of after max_rows rows were read, which
     * psqlODBC does before the first fetch returns. */
    long long limit;
    opos qpos;                 /* the position this execution started from */
    opos pos;                  /* read position: the last row pushed */
    int bulk_done, finished;
    int64_t next_query_ms;
    char *uri;                 /* odbc://NAME/TABLE */
    odbc_buf row, id;
    /* Watermarks of pushed, unacked rows, in push order (a ring). */
    opos *pend;
    uint64_t *pend_seq;
    size_t pend_head, pend_n, pend_cap;
    uint64_t next_seq;
};

static void os_close(osrc *s)
{
    if (s->st != SQL_NULL_HSTMT) {
        SQLFreeHandle(SQL_HANDLE_STMT, s->st);
        s->st = SQL_NULL_HSTMT;
    }
    s->open = 0;
    s->fetched = s->at = 0;
}

static void os_free_cols(osrc *s)
{
    for (SQLSMALLINT i = 0; i < s->ncols; i++) {
        free(s->cols[i].name);
        free(s->cols[i].key.p);
        free(s->cols[i].data);
        free(s->cols[i].ind);
    }
    free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

static void os_drop(odbc_conn *self)
{
    osrc *s = self->src;
    os_close(s);
    odbc_disconnect(&s->db);
}

/* Watermark text for the checkpoint: "INC", "TS" or "INC|TS". */
static void os_pos_text(const odbc_conn *self, const opos *p, char *out, size_t cap)
{
    switch (self->mode) {
    case OM_INCREMENTING: snprintf(out, cap, "%lld", p->inc); break;
    case OM_TIMESTAMP: snprintf(out, cap, "%s", p->ts); break;
    default: snprintf(out, cap, "%lld|%s", p->inc, p->ts); break;
    }
}

static int os_pos_parse(const odbc_conn *self, const char *v, opos *p)
{
    char *end = NULL;
    memset(p, 0, sizeof(*p));
    switch (self->mode) {
    case OM_INCREMENTING:
        p->inc = strtoll(v, &end, 10);
        if (end == v || *end)
            return -1;
        break;
    case OM_TIMESTAMP:
        snprintf(p->ts, sizeof(p->ts), "%s", v);
        break;
    default:
        p->inc = strtoll(v, &end, 10);
        if (end == v || *end != '|')
            return -1;
        snprintf(p->ts, sizeof(p->ts), "%s", end + 1);
        break;
    }
    p->has = 1;
    return 0;
}

static bp_status os_open(odbc_conn *self)
{
    const struct bp_host_api *api = self->api;
    if (self->mode >= OM_INSERT) {
        api->log(self->inst, BP_LOG_ERROR,
                 "mode '%s' is a sink mode: a source takes bulk, incrementing, timestamp or "
                 "timestamp+incrementing",
                 self->mode == OM_INSERT ? "insert" : self->mode == OM_UPDATE ? "update"
                 : self->mode == OM_UPSERT ? "upsert" : "delete");
        return BP_ERR_INVALID;
    }
    if (self->table == NULL && self->query == NULL) {
        api->log(self->inst, BP_LOG_ERROR, "a source needs 'table' or 'query'");
        return BP_ERR_INVALID;
    }
    if ((self->mode == OM_INCREMENTING || self->mode == OM_TS_INC) && self->column == NULL) {
        api->log(self->inst, BP_LOG_ERROR, "mode %s needs 'column' (a strictly growing id)",
                 self->mode == OM_INCREMENTING ? "incrementing" : "timestamp+incrementing");
        return BP_ERR_INVALID;
    }
    if ((self->mode == OM_TIMESTAMP || self->mode == OM_TS_INC) && self->ts_column == NULL) {
        api->log(self->inst, BP_LOG_ERROR, "mode %s needs 'timestamp_column'",
                 self->mode == OM_TIMESTAMP ? "timestamp" : "timestamp+incrementing");
        return BP_ERR_INVALID;
    }
    osrc *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return BP_ERR_NOMEM;
    self->src = s;
    s->inc_col = s->ts_col = s->key_col = -1;
    s->uri = api->format("odbc://%s/%s", self->name, self->table ? self->table : "query");
    char *v = NULL;
    if (self->mode != OM_BULK && api->checkpoint_get(self->inst, OS_CKPT, &v) == BP_OK) {
        if (os_pos_parse(self, v, &s->pos) < 0)
            api->log(self->inst, BP_LOG_WARN, "ignoring a watermark checkpoint of another mode");
        else
            api->log(self->inst, BP_LOG_INFO, "resuming after watermark %s", v);
        api->free(v);
    }
    return s->uri ? BP_OK : BP_ERR_NOMEM;
}

/* The SELECT for the current position. */
static char *os_sql(odbc_conn *self, const opos *p)
{
    odbc_buf b = {0};
    osrc *s = self->src;
    /* With a select list the output columns shadow the table's in ORDER BY
     * (a timestamp read as text would sort as text): the watermark columns
     * are named through the table's alias bp_q. */
    const char *q = s->list ? "bp_q." : "";
    char *inc = self->column ? odbc_quote_ident(self->column) : NULL;
    char *ts = self->ts_column ? odbc_quote_ident(self->ts_column) : NULL;
    char *tab = self->table ? odbc_quote_ident(self->table) : NULL;
    char *qinc = inc ? self->api->format("%s%s", q, inc) : NULL;
    char *qts = ts ? self->api->format("%s%s", q, ts) : NULL;
    free(inc);
    free(ts);
    inc = qinc;
    ts = qts;
    char lim[48];
    snprintf(lim, sizeof(lim), " LIMIT %lld", s->limit);
    int ok = (!self->column || inc) && (!self->ts_column || ts);
    ok &= odbc_puts(&b, "SELECT ") == 0 && odbc_puts(&b, s->list ? s->list : "*") == 0;
    if (self->query)
        ok &= odbc_puts(&b, " FROM (") == 0 && odbc_puts(&b, self->query) == 0 &&
              odbc_puts(&b, ") bp_q") == 0;
    else
        ok &= odbc_puts(&b, " FROM ") == 0 && odbc_puts(&b, tab) == 0 &&
              (!s->list || odbc_puts(&b, " bp_q") == 0);
    switch (self->mode) {
    case OM_INCREMENTING:
        if (p->has)
            ok &= odbc_puts(&b, " WHERE ") == 0 && odbc_puts(&b, inc) == 0 &&
                  odbc_puts(&b, " > ?") == 0;
        ok &= odbc_puts(&b, " ORDER BY ") == 0 && odbc_puts(&b, inc) == 0 && odbc_puts(&b, lim) == 0;
        break;
    case OM_TIMESTAMP:
        /* No LIMIT: it could cut between rows of the same instant, and the
         * next query (ts > last) would skip the rest of them. */
        if (p->has)
            ok &= odbc_puts(&b, " WHERE ") == 0 && odbc_puts(&b, ts) == 0 &&
                  odbc_puts(&b, " > ?") == 0;
        ok &= odbc_puts(&b, " ORDER BY ") == 0 && odbc_puts(&b, ts) == 0;
        break;
    case OM_TS_INC:
        if (p->has)
            ok &= odbc_puts(&b, " WHERE ") == 0 && odbc_puts(&b, ts) == 0 &&
                  odbc_puts(&b, " > ? OR (") == 0 && odbc_puts(&b, ts) == 0 &&
                  odbc_puts(&b, " = ? AND ") == 0 && odbc_puts(&b, inc) == 0 &&
                  odbc_puts(&b, " > ?)") == 0;
        ok &= odbc_puts(&b, " ORDER BY ") == 0 && odbc_puts(&b, ts) == 0 &&
              odbc_puts(&b, ", ") == 0 && odbc_puts(&b, inc) == 0 && odbc_puts(&b, lim) == 0;
        break;
    default:
        if (self->n_keys) {
            char *k = odbc_quote_ident(self->keys[0]);
            ok &= k && odbc_puts(&b, " ORDER BY ") == 0 && odbc_puts(&b, q) == 0 &&
                  odbc_puts(&b, k) == 0;
            free(k);
        }
        break;
    }
    self->api->free(inc);
    self->api->free(ts);
    free(tab);
    if (!ok) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* PostgreSQL: psqlODBC parses every timestamp it returns with sscanf and
 * prints it again with snprintf, even as SQL_C_CHAR: that was the biggest
 * part of reading a row. Read as text (col::text, ISO, which psqlODBC sets
 * for the session) the server sends the very same characters (fraction
 * without trailing zeros, "BC", "infinity"), and the column still becomes
 * RFC 3339 in the JSON (as_text). Only `timestamp` (without time zone):
 * psqlODBC drops the zone of timestamptz, the server's text would keep it.
 * Where they differ the server is right: psqlODBC turns infinity into
 * 9999-12-31 23:59:59 (a watermark every later query would pass again) and a
 * five-digit year into 0000-00-00.
 * Learns the columns with WHERE 1=0 before each query, so a column added to
 * the table shows up as with SELECT *. Leaves s->list NULL (SELECT *) when
 * no column needs it or names repeat. */
static bp_status os_select_list(odbc_conn *self)
{
    osrc *s = self->src;
    free(s->list);
    free(s->as_text);
    s->list = NULL;
    s->as_text = NULL;
    s->nlist = 0;
    if (s->db.dialect != OD_POSTGRES)
        return BP_OK;
    char *tab = self->table && !self->query ? odbc_quote_ident(self->table) : NULL;
    char *sql = self->query ? self->api->format("SELECT * FROM (%s) bp_q WHERE 1=0", self->query)
                : tab       ? self->api->format("SELECT * FROM %s WHERE 1=0", tab)
                            : NULL;
    free(tab);
    SQLHSTMT st = SQL_NULL_HSTMT;
    if (sql == NULL || !SQL_SUCCEEDED(odbc_stmt_new(&s->db, &st))) {
        self->api->free(sql);
        return BP_ERR_NOMEM;
    }
    SQLRETURN rc = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
    self->api->free(sql);
    SQLSMALLINT n = 0;
    if (!SQL_SUCCEEDED(rc) || !SQL_SUCCEEDED(SQLNumResultCols(st, &n)) || n <= 0) {
        /* The query proper reports the error. */
        SQLFreeHandle(SQL_HANDLE_STMT, st);
        return BP_OK;
    }
    odbc_buf b = {0};
    unsigned char *as_text = calloc((size_t)n, 1);
    char (*names)[256] = calloc((size_t)n, sizeof(*names));
    int ok = as_text && names, any = 0;
    for (SQLSMALLINT i = 0; ok && i < n; i++) {
        SQLCHAR tname[64] = "";
        SQLSMALLINT nlen = 0;
        ok &= SQL_SUCCEEDED(SQLColAttribute(st, (SQLUSMALLINT)(i + 1), SQL_DESC_NAME, names[i],
                                            sizeof(names[i]), &nlen, NULL)) &&
              names[i][0] && (size_t)nlen < sizeof(names[i]);
        ok &= SQL_SUCCEEDED(SQLColAttribute(st, (SQLUSMALLINT)(i + 1), SQL_DESC_TYPE_NAME, tname,
                                            sizeof(tname), &nlen, NULL));
        for (SQLSMALLINT j = 0; ok && j < i; j++)
            ok &= strcmp(names[i], names[j]) != 0;
        if (!ok)
            break;
        as_text[i] = strcmp((char *)tname, "timestamp without time zone") == 0 ||
                     strcmp((char *)tname, "timestamp") == 0;
        any |= as_text[i];
        /* "name" or "name"::text AS "name", quotes doubled. */
        for (int r = 0; r < (as_text[i] ? 2 : 1); r++) {
            ok &= odbc_puts(&b, r ? "::text AS \"" : i ? ", \"" : "\"") == 0;
            for (const char *c = names[i]; ok && *c; c++)
                ok &= odbc_put(&b, c, 1) == 0 && (*c != '"' || odbc_put(&b, "\"", 1) == 0);
            ok &= odbc_put(&b, "\"", 1) == 0;
        }
    }
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    free(names);
    if (!ok || !any) {
        free(b.p);
        free(as_text);
        return ok || as_text ? BP_OK : BP_ERR_NOMEM;
    }
    s->list = b.p;
    s->as_text = as_text;
    s->nlist = n;
    self->api->log(self->inst, BP_LOG_DEBUG, "select list: %s", s->list);
    return BP_OK;
}

static int os_colidx(osrc *s, const char *name)
{
    if (name == NULL)
        return -1;
    for (SQLSMALLINT i = 0; i < s->ncols; i++)
        if (strcasecmp(s->cols[i].name, name) == 0)
            return i;
    return -1;
}

/* Describes the result and binds every column as an array of batch_rows. */
static bp_status os_bind(odbc_conn *self)
{
    osrc *s = self->src;
    SQLSMALLINT n = 0;
    os_free_cols(s);
    if (!SQL_SUCCEEDED(SQLNumResultCols(s->st, &n)) || n <= 0)
        return BP_ERR_INVALID;
    s->cols = calloc((size_t)n, sizeof(*s->cols));
    if (s->cols == NULL)
        return BP_ERR_NOMEM;
    if (n > s->ngrow) {
        SQLLEN *g = realloc(s->grow, (size_t)n * sizeof(*g));
        if (g == NULL)
            return BP_ERR_NOMEM;
        for (SQLSMALLINT i = s->ngrow; i < n; i++)
            g[i] = 0;
        s->grow = g;
        s->ngrow = n;
    }
    s->ncols = n;
    SQLULEN rows = (SQLULEN)self->batch_rows;
    for (SQLSMALLINT i = 0; i < n; i++) {
        ocol *c = &s->cols[i];
        SQLCHAR name[256];
        SQLSMALLINT nlen = 0, dec = 0, nullable = 0;
        SQLULEN size = 0;
        if (!SQL_SUCCEEDED(SQLDescribeCol(s->st, (SQLUSMALLINT)(i + 1), name, sizeof(name), &nlen,
                                          &c->sqltype, &size, &dec, &nullable)))
            return BP_ERR_INVALID;
        c->name = strdup((char *)name);
        if (c->name == NULL || odbc_json_string(&c->key, c->name, strlen(c->name)) < 0 ||
            odbc_put(&c->key, ":", 1) < 0)
            return BP_ERR_NOMEM;
        c->kind = odbc_jkind_of_col(s->st, (SQLUSMALLINT)(i + 1), c->sqltype);
        if (s->list && n == s->nlist && s->as_text[i])
            c->kind = OJ_TIMESTAMP;   /* read as text, written to JSON as RFC 3339 */
        /* Start small and grow when a value does not fit (UTF-8: up to 4
         * bytes per character); a truncated value is read again. */
        SQLLEN w = c->kind == OJ_BINARY ? (SQLLEN)size : (SQLLEN)size * 4 + 1;
        if (w < 64 || size == 0)
            w = 64;
        if (w > 1024)
            w = 1024;
        if (s->grow[i] > w)
            w = s->grow[i];
        c->width = w;
        c->data = malloc(rows * (size_t)w);
        c->ind = malloc(rows * sizeof(SQLLEN));
        if (c->name == NULL || c->data == NULL || c->ind == NULL)
            return BP_ERR_NOMEM;
        if (!SQL_SUCCEEDED(SQLBindCol(s->st, (SQLUSMALLINT)(i + 1),
                                      c->kind == OJ_BINARY ? SQL_C_BINARY : SQL_C_CHAR, c->data,
                                      w, c->ind)))
            return BP_ERR_INVALID;
    }
    s->inc_col = os_colidx(s, self->column);
    s->ts_col = os_colidx(s, self->ts_column);
    s->key_col = os_colidx(s, self->n_keys ? self->keys[0] : self->column);
    if (self->column && s->inc_col < 0) {
        self->api->log(self->inst, BP_LOG_ERROR, "the result has no column '%s'", self->column);
        return BP_ERR_INVALID;
    }
    if (self->ts_column && s->ts_col < 0) {
        self->api->log(self->inst, BP_LOG_ERROR, "the result has no column '%s'",
                       self->ts_column);
        return BP_ERR_INVALID;
    }
    return BP_OK;
}

/* Logs a failed statement; returns the status for poll. */
static bp_status os_fail(odbc_conn *self, const char *what)
{
    osrc *s = self->src;
    odbc_err e;
    odbc_diag(&s->db, SQL_HANDLE_STMT, s->st, &e);
    self->api->log(self->inst, BP_LOG_ERROR, "%s failed: [%s] %s", what, e.state, e.msg);
    if (e.cls == OC_CONNECTION) {
        os_drop(self);
        return BP_NOT_CONNECTED;
    }
    os_close(s);
    return BP_RETRY;
}

static bp_status os_execute(odbc_conn *self)
{
    osrc *s = self->src;
    const struct bp_host_api *api = self->api;
    odbc_err e;
    if (!s->db.connected) {
        bp_status st = odbc_connect(self, &s->db, &e);
        if (st != BP_OK) {
            api->log(self->inst, BP_LOG_ERROR, "cannot connect: [%s] %s", e.state, e.msg);
            return st;
        }
    }
    if (s->limit <= 0)
        s->limit = self->batch_rows < self->max_rows ? self->batch_rows : self->max_rows;
    bp_status lst = os_select_list(self);
    if (lst != BP_OK)
        return lst;
    s->qpos = s->pos;
    char *sql = os_sql(self, &s->qpos);
    if (sql == NULL)
        return BP_ERR_NOMEM;
    if (!SQL_SUCCEEDED(odbc_stmt_new(&s->db, &s->st))) {
        free(sql);
        odbc_diag(&s->db, SQL_HANDLE_DBC, s->db.dbc, &e);
        api->log(self->inst, BP_LOG_ERROR, "cannot allocate a statement: %s", e.msg);
        os_drop(self);
        return BP_NOT_CONNECTED;
    }
    SQLSetStmtAttr(s->st, SQL_ATTR_ROW_BIND_TYPE, (SQLPOINTER)SQL_BIND_BY_COLUMN, 0);
    SQLSetStmtAttr(s->st, SQL_ATTR_ROW_ARRAY_SIZE, (SQLPOINTER)(uintptr_t)self->batch_rows, 0);
    SQLSetStmtAttr(s->st, SQL_ATTR_ROWS_FETCHED_PTR, &s->fetched, 0);
    SQLLEN tslen = (SQLLEN)strlen(s->qpos.ts), inclen = 0;
    SQLBIGINT inc = s->qpos.inc;
    int k = 1;
    if (s->qpos.has) {
        /* PostgreSQL: the watermark goes back as the text the server sent
         * and the column's type reads it (psqlODBC would parse it itself,
         * and cannot read "infinity"). */
        SQLSMALLINT tstype = s->db.dialect == OD_POSTGRES ? SQL_VARCHAR : SQL_TYPE_TIMESTAMP;
        if (self->mode == OM_TIMESTAMP || self->mode == OM_TS_INC) {
            for (int r = 0; r < (self->mode == OM_TS_INC ? 2 : 1); r++)
                SQLBindParameter(s->st, (SQLUSMALLINT)k++, SQL_PARAM_INPUT, SQL_C_CHAR,
                                 tstype, 29, 6, s->qpos.ts, tslen, &tslen);
        }
        if (self->mode == OM_INCREMENTING || self->mode == OM_TS_INC)
            SQLBindParameter(s->st, (SQLUSMALLINT)k++, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT,
                             0, 0, &inc, 0, &inclen);
    }
    SQLRETURN rc = SQLExecDirect(s->st, (SQLCHAR *)sql, SQL_NTS);
    free(sql);
    if (!SQL_SUCCEEDED(rc))
        return os_fail(self, "the query");
    bp_status st = os_bind(self);
    if (st != BP_OK) {
        os_close(s);
        return st == BP_ERR_INVALID ? BP_RETRY : st;
    }
    s->open = 1;
    s->consumed = 0;
    s->fetched = s->at = 0;
    return BP_OK;
}

/* Pushed, not yet acked: remember the row's watermark under its token. */
static int os_pend(osrc *s, const opos *p, uint64_t seq)
{
    if (s->pend_n == s->pend_cap) {
        size_t cap = s->pend_cap ? s->pend_cap * 2 : 1024;
        opos *np = malloc(cap * sizeof(*np));
        uint64_t *ns = malloc(cap * sizeof(*ns));
        if (np == NULL || ns == NULL) {
            free(np);
            free(ns);
            return -1;
        }
        for (size_t i = 0; i < s->pend_n; i++) {
            np[i] = s->pend[(s->pend_head + i) % s->pend_cap];
            ns[i] = s->pend_seq[(s->pend_head + i) % s->pend_cap];
        }
        free(s->pend);
        free(s->pend_seq);
        s->pend = np;
        s->pend_seq = ns;
        s->pend_head = 0;
        s->pend_cap = cap;
    }
    size_t at = (s->pend_head + s->pend_n) % s->pend_cap;
    s->pend[at] = *p;
    s->pend_seq[at] = seq;
    s->pend_n++;
    return 0;
}

/* The integer at v (len bytes, not NUL-terminated), as strtoll reads it. */
static long long os_int(const char *v, SQLLEN len)
{
    /* The common case without a copy: digits only, short enough not to
     * overflow. */
    if (len > 0 && len <= 18) {
        long long x = 0;
        SQLLEN i = 0;
        while (i < len && v[i] >= '0' && v[i] <= '9')
            x = x * 10 + (v[i++] - '0');
        if (i == len)
            return x;
    }
    char tmp[32];
    size_t n = len < 31 ? (size_t)len : 31;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    return strtoll(tmp, NULL, 10);
}

/* One fetched row -> an envelope. Returns 1 pushed, 0 when a value was
 * truncated (the caller re-reads with wider buffers), -1 on failure. */
static int os_row(odbc_conn *self, bp_poll_batch *batch, SQLULEN r)
{
    osrc *s = self->src;
    const struct bp_host_api *api = self->api;
    for (SQLSMALLINT i = 0; i < s->ncols; i++) {
        ocol *c = &s->cols[i];
        SQLLEN len = c->ind[r];
        SQLLEN room = c->kind == OJ_BINARY ? c->width : c->width - 1;
        if (len == SQL_NO_TOTAL || len > room) {
            s->grow[i] = len == SQL_NO_TOTAL ? c->width * 4 : len + 1 + len / 2;
            return 0;
        }
    }
    opos p = s->pos;
    odbc_buf *b = &s->row;
    b->n = 0;
    int ok = odbc_put(b, "{", 1) == 0;
    for (SQLSMALLINT i = 0; ok && i < s->ncols; i++) {
        ocol *c = &s->cols[i];
        const char *v = c->data + (size_t)r * (size_t)c->width;
        SQLLEN len = c->ind[r];
        if (i > 0)
            ok &= odbc_put(b, ",", 1) == 0;
        ok &= odbc_put(b, c->key.p, c->key.n) == 0;
        if (len == SQL_NULL_DATA)
            ok &= odbc_puts(b, "null") == 0;
        else
            ok &= odbc_json_value(b, c->kind, v, (size_t)len, self->decimal_number) == 0;
        if (i == s->inc_col && len != SQL_NULL_DATA)
            p.inc = os_int(v, len);
        if (i == s->ts_col && len != SQL_NULL_DATA) {
            size_t tn = len < OS_TS_MAX - 1 ? (size_t)len : OS_TS_MAX - 1;
            memcpy(p.ts, v, tn);
            p.ts[tn] = '\0';
        }
    }
    ok &= odbc_put(b, "}", 1) == 0;
    if (!ok)
        return -1;
    p.has = 1;
    bp_envelope *env = api->envelope_new();
    if (env == NULL)
        return -1;
    /* id: the row's version, so a redelivered row keeps its id. */
    odbc_buf *id = &s->id;
    id->n = 0;
    const char *key = NULL;
    size_t klen = 0;
    if (s->key_col >= 0 && s->cols[s->key_col].ind[r] != SQL_NULL_DATA) {
        key = s->cols[s->key_col].data + (size_t)r * (size_t)s->cols[s->key_col].width;
        klen = (size_t)s->cols[s->key_col].ind[r];
    }
    char num[32];
    switch (self->mode) {
    case OM_INCREMENTING:
        ok &= odbc_put_int(id, p.inc) == 0;
        break;
    case OM_TS_INC:
        ok &= odbc_put_int(id, p.inc) == 0 && odbc_put(id, "@", 1) == 0 && odbc_puts(id, p.ts) == 0;
        break;
    case OM_TIMESTAMP:
        ok &= (key ? odbc_put(id, key, klen) : odbc_puts(id, "row")) == 0 &&
              odbc_puts(id, "@") == 0 && odbc_puts(id, p.ts) == 0;
        break;
    default:
        if (key) {
            ok &= odbc_put(id, key, klen) == 0;
        } else {
            snprintf(num, sizeof(num), "row%lld", s->consumed + 1);
            ok &= odbc_puts(id, num) == 0;
        }
        break;
    }
    ok &= api->envelope_set_attr(env, "id", id->p) == BP_OK &&
          api->envelope_set_attr(env, "source", s->uri) == BP_OK &&
          api->envelope_set_attr(env, "type", self->type) == BP_OK;
    if (key) {
        id->n = 0;
        ok &= odbc_put(id, key, klen) == 0 && api->envelope_set_attr(env, "subject", id->p) == BP_OK;
    }
    if (s->ts_col >= 0 && p.ts[0]) {
        id->n = 0;
        /* RFC 3339 text without the JSON quotes. */
        if (odbc_rfc3339(id, p.ts, strlen(p.ts)) == 0 && id->n >= 2) {
            id->p[id->n - 1] = '\0';
            if (api->envelope_set_attr(env, "time", id->p + 1) != BP_OK)
                api->log(self->inst, BP_LOG_DEBUG, "time %s is not RFC 3339", id->p + 1);
        }
    }
    if (!ok || api->envelope_set_data_json(env, b->p, b->n, s->uri) != BP_OK) {
        api->envelope_unref(env);
        return -1;
    }
    uint64_t seq = s->next_seq++;
    if (self->mode != OM_BULK && os_pend(s, &p, seq) < 0) {
        api->envelope_unref(env);
        return -1;
    }
    if (api->batch_push(batch, env, seq) != BP_OK)
        api->log(self->inst, BP_LOG_WARN, "row %s was not a valid event", s->id.p);
    s->pos = p;
    s->consumed++;
    return 1;
}

static void os_wait(odbc_conn *self, int timeout_ms)
{
    osrc *s = self->src;
    int64_t left = s->next_query_ms - self->api->monotonic_ms();
    if (left > timeout_ms)
        left = timeout_ms;
    if (left > 0) {
        struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

bp_status odbc_source_poll(odbc_conn *self, bp_poll_batch *batch, int timeout_ms)
{
    const struct bp_host_api *api = self->api;
    if (self->src == NULL) {
        bp_status st = os_open(self);
        if (st != BP_OK)
            return st;
    }
    osrc *s = self->src;
    size_t room = api->batch_room(batch), pushed = 0;
    if (room == 0)
        return BP_OK;
    while (pushed < room && !api->stopping(self->inst)) {
        if (!s->open) {
            if (s->finished)
                return pushed ? BP_OK : BP_EOF;
            if (pushed > 0)
                break;
            if (api->monotonic_ms() < s->next_query_ms) {
                os_wait(self, timeout_ms);
                if (api->monotonic_ms() < s->next_query_ms)
                    return BP_AGAIN;
            }
            bp_status st = os_execute(self);
            if (st != BP_OK)
                return st;
        }
        if (s->at >= s->fetched) {
            s->fetched = s->at = 0;
            SQLRETURN rc = SQLFetchScroll(s->st, SQL_FETCH_NEXT, 0);
            if (rc == SQL_NO_DATA) {
                /* Fewer rows than the LIMIT: caught up until the next interval. */
                int more = (self->mode == OM_INCREMENTING || self->mode == OM_TS_INC) &&
                           s->consumed >= s->limit;
                s->limit = !more                         ? 0
                           : s->limit < self->max_rows / 2 ? s->limit * 2
                                                           : self->max_rows;
                os_close(s);
                if (self->mode == OM_BULK || (self->once && !more))
                    s->finished = 1;
                if (!more)
                    s->next_query_ms = api->monotonic_ms() + self->interval_ms;
                continue;
            }
            if (!SQL_SUCCEEDED(rc))
                return pushed ? BP_OK : os_fail(self, "fetch");
        }
        while (s->at < s->fetched && pushed < room) {
            SQLULEN r = s->at++;
            if (s->skip > 0) {
                s->skip--;
                continue;
            }
            int got = os_row(self, batch, r);
            if (got < 0)
                return pushed ? BP_OK : BP_ERR_NOMEM;
            if (got == 0) {
                /* Read this execution again with wider buffers, passing over
                 * the rows already pushed. */
                api->log(self->inst, BP_LOG_DEBUG, "long value: re-reading with wider buffers");
                s->skip = s->consumed;
                s->pos = s->qpos;
                long long c = s->consumed;
                os_close(s);
                bp_status st = os_execute(self);
                if (st != BP_OK)
                    return pushed ? BP_OK : st;
                s->consumed = c;
                /* s->pos is restored as rows are passed over: they were
                 * pushed already, their positions are in s->pend. */
                s->pos = s->pend_n ? s->pend[(s->pend_head + s->pend_n - 1) % s->pend_cap] : s->pos;
                break;
            }
            pushed++;
        }
    }
    return BP_OK;
}

bp_status odbc_source_ack(odbc_conn *self, const uint64_t *tokens, size_t n)
{
    osrc *s = self->src;
    if (s == NULL || n == 0 || self->mode == OM_BULK)
        return BP_OK;
    uint64_t last = tokens[n - 1];
    opos done = {0};
    int have = 0;
    while (s->pend_n > 0 && s->pend_seq[s->pend_head] <= last) {
        done = s->pend[s->pend_head];
        have = 1;
        s->pend_head = (s->pend_head + 1) % s->pend_cap;
        s->pend_n--;
    }
    if (!have)
        return BP_OK;
    char text[OS_TS_MAX + 32];
    os_pos_text(self, &done, text, sizeof(text));
    bp_status st = self->api->checkpoint_set(self->inst, OS_CKPT, text);
    if (st != BP_OK)
        self->api->log(self->inst, BP_LOG_ERROR, "cannot store the watermark %s: %s", text,
                       st == BP_ERR_IO ? "I/O error" : "state store error");
    return st;
}

void odbc_source_free(odbc_conn *self)
{
    osrc *s = self->src;
    if (s == NULL)
        return;
    os_drop(self);
    os_free_cols(s);
    free(s->grow);
    free(s->list);
    free(s->as_text);
    self->api->free(s->uri);
    free(s->row.p);
    free(s->id.p);
    free(s->pend);
    free(s->pend_seq);
    free(s);
    self->src = NULL;
}
