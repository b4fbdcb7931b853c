/* Lookups: named, parameterised queries from the site file (`queries:`),
 * answered as a JSON array of row objects, with a small TTL cache.
 *
 * BP_ERR_NOT_FOUND: the query ran and found no row (cached like a hit).
 * Errors are never cached: BP_NOT_CONNECTED (server gone; one reconnect is
 * tried first), BP_RETRY (transient), BP_ERR_INVALID (unknown query, wrong
 * parameters, SQL the server refuses), each with *errmsg.
 *
 * The core may call lookup from several transform workers at once: one mutex
 * guards the connection and the cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odbc.h"

#define OL_MAX_ROWS 1000

typedef struct {
    char *key;                 /* query name + "\n" + params JSON */
    char *json;                /* result text; NULL: not found */
    int64_t expires;
} oentry;

struct olkp {
    pthread_mutex_t mu;
    odbc_db db;
    oentry *cache;
    size_t n;
    odbc_buf buf;
};

static olkp *ol_get(odbc_conn *self)
{
    /* Created in init (see odbc_plugin.c) so the mutex exists before any
     * thread calls lookup. */
    return self->lkp;
}

olkp *odbc_lookup_new(void)
{
    olkp *l = calloc(1, sizeof(*l));
    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

static oentry *ol_find(olkp *l, const char *key, int64_t now)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->cache[i].expires > now && strcmp(l->cache[i].key, key) == 0)
            return &l->cache[i];
    return NULL;
}

static void ol_store(odbc_conn *self, olkp *l, const char *key, const char *json, int64_t now)
{
    if (self->lookup_ttl_ms <= 0 || self->lookup_cache <= 0)
        return;
    size_t slot = l->n;
    /* Reuse an expired entry, else evict the one closest to expiry. */
    for (size_t i = 0; i < l->n; i++)
        if (l->cache[i].expires <= now) {
            slot = i;
            break;
        }
    if (slot == l->n && l->n >= (size_t)self->lookup_cache) {
        slot = 0;
        for (size_t i = 1; i < l->n; i++)
            if (l->cache[i].expires < l->cache[slot].expires)
                slot = i;
    }
    if (slot == l->n) {
        oentry *c = realloc(l->cache, (l->n + 1) * sizeof(*c));
        if (c == NULL)
            return;
        l->cache = c;
        l->cache[l->n++] = (oentry){0};
    }
    oentry *e = &l->cache[slot];
    free(e->key);
    free(e->json);
    e->key = strdup(key);
    e->json = json ? strdup(json) : NULL;
    e->expires = now + self->lookup_ttl_ms;
    if (e->key == NULL || (json && e->json == NULL))
        e->expires = 0;   /* out of memory: the entry stays unused */
}

/* Binds one parameter by its JSON type. */
static SQLRETURN ol_bind(SQLHSTMT st, SQLUSMALLINT p, const cJSON *v, SQLBIGINT *ival,
                         double *dval, SQLLEN *ind)
{
    if (v == NULL || cJSON_IsNull(v)) {
        *ind = SQL_NULL_DATA;
        return SQLBindParameter(st, p, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, 1, 0, NULL, 0,
                                ind);
    }
    if (cJSON_IsBool(v)) {
        *ival = cJSON_IsTrue(v);
        *ind = 0;
        return SQLBindParameter(st, p, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, ival, 0,
                                ind);
    }
    if (cJSON_IsNumber(v)) {
        *ind = 0;
        if (v->valuedouble == (double)(SQLBIGINT)v->valuedouble) {
            *ival = (SQLBIGINT)v->valuedouble;
            return SQLBindParameter(st, p, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, ival,
                                    0, ind);
        }
        *dval = v->valuedouble;
        return SQLBindParameter(st, p, SQL_PARAM_INPUT, SQL_C_DOUBLE, SQL_DOUBLE, 0, 0, dval, 0,
                                ind);
    }
    if (cJSON_IsString(v)) {
        *ind = (SQLLEN)strlen(v->valuestring);
        return SQLBindParameter(st, p, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR,
                                (SQLULEN)(*ind ? *ind : 1), 0, v->valuestring, *ind, ind);
    }
    return SQL_ERROR;
}

/* Runs the query; on success l->buf holds the JSON array text and *rows the
 * row count. */
static bp_status ol_run(odbc_conn *self, olkp *l, const char *sql, const cJSON **args,
                        size_t nargs, size_t *rows, char **errmsg)
{
    const struct bp_host_api *api = self->api;
    odbc_err e;
    if (!l->db.connected && odbc_connect(self, &l->db, &e) != BP_OK) {
        *errmsg = api->format("cannot connect: [%s] %s", e.state, e.msg);
        return BP_NOT_CONNECTED;
    }
    SQLHSTMT st = SQL_NULL_HSTMT;
    if (!SQL_SUCCEEDED(odbc_stmt_new(&l->db, &st))) {
        odbc_disconnect(&l->db);
        *errmsg = api->format("cannot allocate a statement");
        return BP_NOT_CONNECTED;
    }
    SQLBIGINT ivals[nargs ? nargs : 1];
    double dvals[nargs ? nargs : 1];
    SQLLEN inds[nargs ? nargs : 1];
    for (size_t i = 0; i < nargs; i++)
        if (!SQL_SUCCEEDED(ol_bind(st, (SQLUSMALLINT)(i + 1), args[i], &ivals[i], &dvals[i],
                                   &inds[i]))) {
            SQLFreeHandle(SQL_HANDLE_STMT, st);
            *errmsg = api->format("parameter %zu: objects and arrays cannot be bound", i + 1);
            return BP_ERR_INVALID;
        }
    SQLRETURN rc = SQLExecDirect(st, (SQLCHAR *)sql, SQL_NTS);
    if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA)
        goto fail;
    SQLSMALLINT ncols = 0;
    SQLNumResultCols(st, &ncols);
    odbc_buf *b = &l->buf;
    b->n = 0;
    int ok = odbc_put(b, "[", 1) == 0;
    *rows = 0;
    odbc_buf val = {0};
    while (ok && *rows < OL_MAX_ROWS && SQL_SUCCEEDED(rc = SQLFetch(st))) {
        ok &= odbc_puts(b, *rows ? ",{" : "{") == 0;
        for (SQLSMALLINT c = 1; ok && c <= ncols; c++) {
            SQLCHAR name[256];
            SQLSMALLINT nlen, type, dec, nullable;
            SQLULEN size;
            SQLDescribeCol(st, (SQLUSMALLINT)c, name, sizeof(name), &nlen, &type, &size, &dec,
                           &nullable);
            enum odbc_jkind k = odbc_jkind_of_col(st, (SQLUSMALLINT)c, type);
            /* Long values arrive in pieces. */
            val.n = 0;
            SQLLEN ind = 0;
            char part[4096];
            int isnull = 0;
            for (;;) {
                SQLRETURN g = SQLGetData(st, (SQLUSMALLINT)c, k == OJ_BINARY ? SQL_C_BINARY : SQL_C_CHAR,
                                         part, sizeof(part), &ind);
                if (g == SQL_NO_DATA)
                    break;
                if (!SQL_SUCCEEDED(g)) {
                    free(val.p);
                    goto fail;
                }
                if (ind == SQL_NULL_DATA) {
                    isnull = 1;
                    break;
                }
                size_t got = ind == SQL_NO_TOTAL || ind >= (SQLLEN)sizeof(part)
                                 ? sizeof(part) - (k == OJ_BINARY ? 0 : 1)
                                 : (size_t)ind;
                ok &= odbc_put(&val, part, got) == 0;
                if (g == SQL_SUCCESS)
                    break;
            }
            ok &= (c > 1 ? odbc_put(b, ",", 1) : 0) == 0 &&
                  odbc_json_string(b, (char *)name, strlen((char *)name)) == 0 &&
                  odbc_put(b, ":", 1) == 0;
            if (isnull)
                ok &= odbc_puts(b, "null") == 0;
            else
                ok &= odbc_json_value(b, k, val.p ? val.p : "", val.n, self->decimal_number) == 0;
        }
        ok &= odbc_put(b, "}", 1) == 0;
        (*rows)++;
    }
    free(val.p);
    if (ok && rc != SQL_NO_DATA && !SQL_SUCCEEDED(rc) && *rows < OL_MAX_ROWS)
        goto fail;
    ok &= odbc_put(b, "]", 1) == 0;
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    if (!ok) {
        *errmsg = api->format("out of memory");
        return BP_ERR_NOMEM;
    }
    return BP_OK;
fail:
    odbc_diag(&l->db, SQL_HANDLE_STMT, st, &e);
    SQLFreeHandle(SQL_HANDLE_STMT, st);
    *errmsg = api->format("[%s] %s", e.state, e.msg);
    if (e.cls == OC_CONNECTION) {
        odbc_disconnect(&l->db);
        return BP_NOT_CONNECTED;
    }
    return e.cls == OC_RETRY ? BP_RETRY : BP_ERR_INVALID;
}

bp_status odbc_lookup_run(odbc_conn *self, const char *query, const cJSON *params,
                          cJSON **result, char **errmsg)
{
    const struct bp_host_api *api = self->api;
    olkp *l = ol_get(self);
    *result = NULL;
    if (l == NULL)
        return BP_ERR_NOMEM;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(self->queries, query);
    if (q == NULL) {
        *errmsg = api->format("no query named '%s' (declare it under queries:)", query);
        return BP_ERR_INVALID;
    }
    const char *sql = cJSON_IsString(q) ? q->valuestring
                                        : cJSON_GetObjectItemCaseSensitive(q, "sql")->valuestring;
    const cJSON *names = cJSON_IsObject(q) ? cJSON_GetObjectItemCaseSensitive(q, "params") : NULL;
    /* Arguments: an array in order, an object by the declared names, or one
     * scalar for a query with one parameter. */
    size_t nargs = names ? (size_t)cJSON_GetArraySize(names)
                   : cJSON_IsArray(params) ? (size_t)cJSON_GetArraySize(params)
                   : (params && !cJSON_IsObject(params)) ? 1 : 0;
    const cJSON *args[nargs ? nargs : 1];
    size_t i = 0;
    if (names) {
        for (const cJSON *nm = names->child; nm; nm = nm->next, i++) {
            args[i] = cJSON_IsObject(params)
                          ? cJSON_GetObjectItemCaseSensitive(params, nm->valuestring)
                          : cJSON_IsArray(params) ? cJSON_GetArrayItem(params, (int)i) : NULL;
            if (args[i] == NULL) {
                *errmsg = api->format("query '%s': parameter '%s' is missing", query,
                                      nm->valuestring);
                return BP_ERR_INVALID;
            }
        }
    } else if (cJSON_IsArray(params)) {
        for (const cJSON *a = params->child; a; a = a->next)
            args[i++] = a;
    } else if (nargs == 1) {
        args[0] = params;
    } else if (params && cJSON_IsObject(params) && params->child) {
        *errmsg = api->format("query '%s' declares no parameter names: pass an array", query);
        return BP_ERR_INVALID;
    }
    char *ptext = params ? cJSON_PrintUnformatted(params) : NULL;
    char *key = api->format("%s\n%s", query, ptext ? ptext : "null");
    free(ptext);
    if (key == NULL)
        return BP_ERR_NOMEM;
    pthread_mutex_lock(&l->mu);
    int64_t now = api->monotonic_ms();
    bp_status st;
    oentry *hit = ol_find(l, key, now);
    if (hit) {
        api->counter_add(self->inst, "lookup_cache_hits", 1);
        st = hit->json ? BP_OK : BP_ERR_NOT_FOUND;
        if (hit->json && (*result = cJSON_Parse(hit->json)) == NULL)
            st = BP_ERR_NOMEM;
        pthread_mutex_unlock(&l->mu);
        api->free(key);
        return st;
    }
    size_t rows = 0;
    st = ol_run(self, l, sql, args, nargs, &rows, errmsg);
    if (st == BP_NOT_CONNECTED) {
        /* The server may have restarted since the last lookup: once more on
         * a fresh connection. */
        api->free(*errmsg);
        *errmsg = NULL;
        st = ol_run(self, l, sql, args, nargs, &rows, errmsg);
    }
    if (st == BP_OK) {
        ol_store(self, l, key, rows ? l->buf.p : NULL, now);
        if (rows == 0)
            st = BP_ERR_NOT_FOUND;
        else if ((*result = cJSON_Parse(l->buf.p)) == NULL)
            st = BP_ERR_NOMEM;
    }
    pthread_mutex_unlock(&l->mu);
    api->free(key);
    return st;
}

void odbc_lookup_free(odbc_conn *self)
{
    olkp *l = self->lkp;
    if (l == NULL)
        return;
    odbc_disconnect(&l->db);
    for (size_t i = 0; i < l->n; i++) {
        free(l->cache[i].key);
        free(l->cache[i].json);
    }
    free(l->cache);
    free(l->buf.p);
    pthread_mutex_destroy(&l->mu);
    free(l);
    self->lkp = NULL;
}
