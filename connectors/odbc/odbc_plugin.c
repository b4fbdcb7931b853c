/* The ODBC connector's descriptor, options, configuration and life cycle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "odbc.h"

static const char *const odbc_modes[] = {"bulk", "incrementing", "timestamp",
                                         "timestamp+incrementing", "insert", "update", "upsert",
                                         "delete", NULL};
static const char *const odbc_decimals[] = {"string", "number", NULL};
static const char *const odbc_binds[] = {"auto", "array", "multirow", "single", NULL};

/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct odbc_opts {
    const char *dsn, *password, *table, *query;
    int mode;
    const char *column, *timestamp_column;
    const cJSON *key, *columns;
    const char *type;
    long long batch_rows, max_rows;
    int64_t poll_interval;
    int follow;
    int decimal, bind;
    const char *applied_table;
    const cJSON *queries;
    int64_t lookup_ttl;
    long long lookup_cache;
    int64_t query_timeout;
};

#define OO(member) BP_OPT_FIELD(struct odbc_opts, member)

static const struct bp_option odbc_column_values[] = {
    {.name = "*", .type = BP_OPT_STRING, .description = "envelope path of the column's value"},
    {0},
};

static const struct bp_option odbc_options[] = {
    {.name = "dsn", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, OO(dsn),
     .description = "ODBC connection string, e.g. Driver=SQLite3;Database=erp.db (a PWD= in it is never logged)"},
    {.name = "password", .type = BP_OPT_SECRET, OO(password),
     .description = "appended to the connection string as PWD=; use ${env:NAME}"},
    {.name = "table", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE | BP_KIND_SINK,
     .required_for = BP_KIND_SINK, OO(table),
     .description = "source: the table polled; sink: the table written"},
    {.name = "query", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE, OO(query),
     .description = "source: a SELECT polled instead of a table (the watermark condition is added around it)"},
    {.name = "mode", .type = BP_OPT_ENUM, .choices = odbc_modes,
     .roles = BP_KIND_SOURCE | BP_KIND_SINK, OO(mode),
     .description = "source: bulk|incrementing|timestamp|timestamp+incrementing (default bulk); sink: insert|update|upsert|delete (default insert)"},
    {.name = "column", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE, OO(column),
     .description = "source: the strictly growing id column (incrementing, timestamp+incrementing)"},
    {.name = "timestamp_column", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE,
     OO(timestamp_column),
     .description = "source: the modified-at column (timestamp, timestamp+incrementing)"},
    {.name = "key", .type = BP_OPT_LIST, .roles = BP_KIND_SOURCE | BP_KIND_SINK, OO(key),
     .description = "source: the column that becomes the subject (default: column); sink: key column(s) for update/upsert/delete"},
    {.name = "columns", .type = BP_OPT_MAP, .fields = odbc_column_values, .roles = BP_KIND_SINK,
     OO(columns),
     .description = "sink: column -> envelope path (default: every column of the table from data.COLUMN)"},
    {.name = "type", .type = BP_OPT_STRING, .default_value = "com.backplane.odbc.row",
     .roles = BP_KIND_SOURCE, OO(type), .description = "source: the CloudEvents type of each row"},
    {.name = "batch_rows", .type = BP_OPT_INT, .default_value = "500", .min = "1", .max = "10000",
     OO(batch_rows), .description = "rows per fetch (SQL_ATTR_ROW_ARRAY_SIZE)"},
    {.name = "max_rows", .type = BP_OPT_INT, .default_value = "10000", .min = "1",
     .roles = BP_KIND_SOURCE, OO(max_rows),
     .description = "source: rows per query (LIMIT; not in timestamp mode)"},
    {.name = "poll_interval", .type = BP_OPT_DURATION, .default_value = "1s", .min = "10ms",
     .roles = BP_KIND_SOURCE, OO(poll_interval),
     .description = "source: wait between queries once caught up"},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "true", .roles = BP_KIND_SOURCE,
     OO(follow),
     .description = "source: keep polling once caught up (false: end, like end of file; bulk mode reads the table once)"},
    {.name = "decimal", .type = BP_OPT_ENUM, .default_value = "string", .choices = odbc_decimals,
     OO(decimal),
     .description = "DECIMAL/NUMERIC values as exact decimal strings, or as JSON numbers"},
    {.name = "bind", .type = BP_OPT_ENUM, .default_value = "auto", .choices = odbc_binds,
     .roles = BP_KIND_SINK, OO(bind),
     .description = "sink: how a batch is sent: multi-row statements (auto for insert/upsert), parameter arrays, or one row at a time"},
    {.name = "applied_table", .type = BP_OPT_STRING, .roles = BP_KIND_SINK, OO(applied_table),
     .description = "sink: a table the sink keeps in the target database (created if missing) so a batch is never applied twice, even when the bus dies between the database's commit and its own"},
    {.name = "queries", .type = BP_OPT_MAP, .roles = BP_KIND_LOOKUP, OO(queries),
     .description = "lookup: NAME -> \"SELECT ... WHERE x = ?\" or {sql: ..., params: [names]}"},
    {.name = "lookup_ttl", .type = BP_OPT_DURATION, .default_value = "30s",
     .roles = BP_KIND_LOOKUP, OO(lookup_ttl),
     .description = "lookup: how long a result is cached (0: no cache)"},
    {.name = "lookup_cache", .type = BP_OPT_INT, .default_value = "1000", .min = "0",
     .roles = BP_KIND_LOOKUP, OO(lookup_cache),
     .description = "lookup: cached results at most"},
    {.name = "query_timeout", .type = BP_OPT_DURATION, .default_value = "30s", .min = "0", .max = "24h",
     OO(query_timeout),
     .description = "a statement (a write waiting on a row lock, say) that takes longer fails and is retried (SQL_ATTR_QUERY_TIMEOUT, whole seconds; 0: no limit)"},
    {.name = "interval", .renamed = "'poll_interval'"},
    {.name = "once", .renamed = "'follow' (once: true is follow: false)"},
    {0},
};

static void odbc_destroy(void *p)
{
    odbc_conn *self = p;
    if (self == NULL)
        return;
    odbc_source_free(self);
    odbc_sink_free(self);
    odbc_lookup_free(self);
    free(self->dsn);
    free(self->name);
    free(self->table);
    free(self->query);
    free(self->column);
    free(self->ts_column);
    free(self->applied_table);
    for (size_t i = 0; i < self->n_keys; i++)
        free(self->keys[i]);
    free(self->keys);
    cJSON_Delete(self->columns);
    cJSON_Delete(self->queries);
    free(self->type);
    free(self);
}

static char *odbc_dup(const char *v)
{
    return v ? strdup(v) : NULL;
}

/* Masks the value of PWD=/Password= inside a connection string. */
static void odbc_mask_dsn(const struct bp_host_api *api, const char *dsn)
{
    if (!BP_HOST_HAS(api, mask_secret))
        return;
    for (const char *p = dsn; *p;) {
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            break;
        size_t klen = (size_t)(eq - p);
        while (klen && (*p == ' ' || *p == ';')) {
            p++;
            klen--;
        }
        const char *v = eq + 1, *end;
        if (*v == '{') {
            /* Inside braces '}' is written '}}' (ODBC's escape). */
            v++;
            end = v;
            while (*end && !(end[0] == '}' && end[1] != '}'))
                end += end[0] == '}' ? 2 : 1;
        } else {
            end = strchr(v, ';');
            end = end ? end : v + strlen(v);
        }
        if ((klen == 3 && strncasecmp(p, "pwd", 3) == 0) ||
            (klen == 8 && strncasecmp(p, "password", 8) == 0)) {
            char *secret = strndup(v, (size_t)(end - v));
            if (secret)
                api->mask_secret(secret);
            free(secret);
        }
        p = *end ? end + 1 : end;
    }
}

/* Whether the connection string's driver reads a braced value {...} as one
 * value (the ODBC rule, '}' doubled inside). libsqliteodbc does not: it splits
 * at every ';', so "PWD={x};LoadExt=evil.so}" would load a library. */
static int odbc_driver_parses_braces(const char *dsn)
{
    for (const char *p = dsn; (p = strcasestr(p, "driver=")) != NULL; p += 7) {
        if (p != dsn && p[-1] != ';' && p[-1] != ' ')
            continue;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *val = strndup(p + 7, n - 7);
        int sqlite = val && strcasestr(val, "sqlite") != NULL;
        free(val);
        return !sqlite;
    }
    return 1;
}

static bp_status odbc_fail(odbc_conn *self, char **errmsg, char *msg)
{
    *errmsg = msg;
    odbc_destroy(self);
    return BP_ERR_INVALID;
}

static bp_status odbc_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                           const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct odbc_opts *o = info->options;
    (void)config;
    odbc_conn *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const char *dsn = o->dsn;
    const char *pwd = o->password;
    odbc_mask_dsn(api, dsn);
    if (pwd && strchr(pwd, ';') && !odbc_driver_parses_braces(dsn))
        return odbc_fail(self, errmsg,
                         api->format("password: a ';' in it cannot be passed to the SQLite ODBC "
                                     "driver safely (it does not read PWD={...} as one value)"));
    if (pwd) {
        /* PWD={...}: a '}' in the password is doubled, so it cannot close
         * the braces and add attributes (LoadExt=, Uid=, Database=). */
        char *esc = malloc(2 * strlen(pwd) + 1), *e = esc;
        for (const char *c = pwd; esc && *c; c++)
            if ((*e++ = *c) == '}')
                *e++ = '}';
        if (esc)
            *e = '\0';
        char *d = esc ? api->format("%s%sPWD={%s}", dsn,
                                    dsn[0] && dsn[strlen(dsn) - 1] != ';' ? ";" : "", esc)
                      : NULL;
        self->dsn = d ? strdup(d) : NULL;
        api->free(d);
        if (esc && BP_HOST_HAS(api, mask_secret))
            api->mask_secret(esc);
        free(esc);
    } else {
        self->dsn = strdup(dsn);
    }
    /* The connector's name is the last part of the instance name
     * ("route/erp", "lookup/erp"). */
    const char *iname = api->instance_name(inst);
    const char *slash = iname ? strrchr(iname, '/') : NULL;
    self->name = strdup(slash ? slash + 1 : iname ? iname : "odbc");
    self->table = odbc_dup(o->table);
    self->query = odbc_dup(o->query);
    self->column = odbc_dup(o->column);
    self->ts_column = odbc_dup(o->timestamp_column);
    self->applied_table = odbc_dup(o->applied_table);
    self->type = odbc_dup(o->type);
    self->batch_rows = o->batch_rows;
    self->max_rows = o->max_rows;
    self->interval_ms = o->poll_interval;
    self->once = !o->follow;
    self->decimal_number = strcmp(odbc_decimals[o->decimal], "number") == 0;
    self->lookup_ttl_ms = o->lookup_ttl;
    self->lookup_cache = o->lookup_cache;
    const char *bind = odbc_binds[o->bind];
    self->query_timeout_ms = o->query_timeout;
    self->bind = strcmp(bind, "array") == 0      ? OB_ARRAY
                 : strcmp(bind, "multirow") == 0 ? OB_MULTIROW
                 : strcmp(bind, "single") == 0   ? OB_SINGLE
                                                 : OB_AUTO;
    self->mode_set = o->mode >= 0;
    self->mode = o->mode >= 0 ? (enum odbc_mode)o->mode : OM_BULK;
    const cJSON *keys = o->key;
    if (keys) {
        self->keys = calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof(char *));
        for (const cJSON *k = keys->child; self->keys && k; k = k->next)
            self->keys[self->n_keys++] = strdup(k->valuestring);
    }
    self->lkp = odbc_lookup_new();
    if (!self->dsn || !self->name || !self->type || (keys && !self->keys) || !self->lkp) {
        odbc_destroy(self);
        return BP_ERR_NOMEM;
    }
    if (self->table && self->query)
        return odbc_fail(self, errmsg, api->format("give 'table' or 'query', not both"));
    const cJSON *cols = o->columns;
    for (const cJSON *c = cols ? cols->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c) || api->path_check(c->valuestring) != BP_OK)
            return odbc_fail(self, errmsg,
                             api->format("columns: '%s' must map to an envelope path such as "
                                         "data.%s", c->string, c->string));
    }
    if (cols && !cols->child)
        return odbc_fail(self, errmsg, api->format("columns: the map is empty"));
    self->columns = cols ? cJSON_Duplicate(cols, 1) : NULL;
    const cJSON *qs = o->queries;
    for (const cJSON *q = qs ? qs->child : NULL; q; q = q->next) {
        const cJSON *sql = cJSON_IsObject(q) ? cJSON_GetObjectItemCaseSensitive(q, "sql") : q;
        const cJSON *ps = cJSON_IsObject(q) ? cJSON_GetObjectItemCaseSensitive(q, "params") : NULL;
        int bad = !cJSON_IsString(sql) || (ps && !cJSON_IsArray(ps));
        for (const cJSON *p = ps ? ps->child : NULL; p && !bad; p = p->next)
            bad = !cJSON_IsString(p);
        if (bad)
            return odbc_fail(self, errmsg,
                             api->format("queries: '%s' must be an SQL text or "
                                         "{sql: TEXT, params: [NAME, ...]}", q->string));
    }
    self->queries = qs ? cJSON_Duplicate(qs, 1) : cJSON_CreateObject();
    if ((cols && !self->columns) || !self->queries) {
        odbc_destroy(self);
        return BP_ERR_NOMEM;
    }
    if (self->mode_set && self->mode >= OM_INSERT && self->query)
        return odbc_fail(self, errmsg, api->format("a sink writes a 'table', not a 'query'"));
    *out = self;
    return BP_OK;
}

/* check (ABI 1.3): what a source or a sink finds wrong only at its first
 * poll or write, said before anything runs, at the option's position. */
static bp_status odbc_check(const struct bp_host_api *api, const cJSON *config,
                            const struct bp_instance_info *info,
                            void (*report)(void *ctx, const char *path, int col, const char *msg),
                            void *ctx)
{
    const struct odbc_opts *o = info->options;
    bp_status st = BP_OK;
    char msg[300];
    (void)config;
    if (o == NULL)
        return BP_OK;
    if (o->table && o->query) {
        report(ctx, "query", 0, "give 'table' or 'query', not both");
        st = BP_ERR_INVALID;
    }
    for (const cJSON *c = o->columns ? o->columns->child : NULL; c; c = c->next) {
        char path[300];
        snprintf(path, sizeof(path), "columns.%s", c->string);
        if (!cJSON_IsString(c) || api->path_check(c->valuestring) != BP_OK) {
            snprintf(msg, sizeof(msg), "must be an envelope path such as data.%s", c->string);
            report(ctx, path, 0, msg);
            st = BP_ERR_INVALID;
        }
    }
    int mode = o->mode;
    if (info->role == BP_KIND_SOURCE) {
        if (mode >= OM_INSERT) {
            snprintf(msg, sizeof(msg), "'%s' is a sink mode: a source takes bulk, incrementing, "
                     "timestamp or timestamp+incrementing", odbc_modes[mode]);
            report(ctx, "mode", 0, msg);
            st = BP_ERR_INVALID;
        }
        if (o->table == NULL && o->query == NULL) {
            report(ctx, "", 0, "a source needs 'table' or 'query'");
            st = BP_ERR_INVALID;
        }
        if ((mode == OM_INCREMENTING || mode == OM_TS_INC) && o->column == NULL) {
            snprintf(msg, sizeof(msg), "mode %s needs 'column' (a strictly growing id)",
                     odbc_modes[mode]);
            report(ctx, "mode", 0, msg);
            st = BP_ERR_INVALID;
        }
        if ((mode == OM_TIMESTAMP || mode == OM_TS_INC) && o->timestamp_column == NULL) {
            snprintf(msg, sizeof(msg), "mode %s needs 'timestamp_column'", odbc_modes[mode]);
            report(ctx, "mode", 0, msg);
            st = BP_ERR_INVALID;
        }
    } else if (info->role == BP_KIND_SINK) {
        if (mode >= 0 && mode < OM_INSERT) {
            snprintf(msg, sizeof(msg), "'%s' is a source mode: a sink takes insert, update, "
                     "upsert or delete", odbc_modes[mode]);
            report(ctx, "mode", 0, msg);
            st = BP_ERR_INVALID;
        }
        if (mode > OM_INSERT && cJSON_GetArraySize(o->key) == 0) {
            snprintf(msg, sizeof(msg), "mode %s needs 'key' (the key column(s))", odbc_modes[mode]);
            report(ctx, "mode", 0, msg);
            st = BP_ERR_INVALID;
        }
        if (o->query) {
            report(ctx, "query", 0, "a sink writes a 'table', not a 'query'");
            st = BP_ERR_INVALID;
        }
    }
    return st;
}

static bp_status odbc_poll(void *self, bp_poll_batch *batch, int timeout_ms)
{
    return odbc_source_poll(self, batch, timeout_ms);
}

static bp_status odbc_ack(void *self, const uint64_t *tokens, size_t n)
{
    return odbc_source_ack(self, tokens, n);
}

static bp_status odbc_write(void *p, bp_write_batch *wb)
{
    odbc_conn *self = p;
    if (!self->mode_set)
        self->mode = OM_INSERT;
    return odbc_sink_write(self, wb);
}

static bp_status odbc_lookup(void *self, const char *query, const cJSON *params, cJSON **result,
                             char **errmsg)
{
    return odbc_lookup_run(self, query, params, result, errmsg);
}

static void odbc_stop(void *p)
{
    odbc_conn *self = p;
    odbc_source_free(self);
    odbc_sink_free(self);
}

static const struct bp_plugin odbc_plugin = {
    BP_PLUGIN_HEADER,
    .name = "odbc",
    .version = "0.1.0",
    .description = "ERP databases through unixODBC: incremental-polling source, write-back sink (insert/update/upsert/delete), lookups",
    .kinds = BP_KIND_SOURCE | BP_KIND_SINK | BP_KIND_LOOKUP,
    .options = odbc_options,
    .options_size = sizeof(struct odbc_opts),
    .init_ex = odbc_init,
    .check_ex = odbc_check,
    .poll = odbc_poll,
    .ack = odbc_ack,
    .write = odbc_write,
    .lookup = odbc_lookup,
    .stop = odbc_stop,
    .destroy = odbc_destroy,
    /* insert is not idempotent: the core's write-back ledger keeps a record
     * redelivered after a crash from being inserted twice. */
    .flags = BP_PLUGIN_LEDGER,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &odbc_plugin;
}
