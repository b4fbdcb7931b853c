/* The ODBC connector's descriptor, options, configuration and life cycle. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "odbc.h"

static const char *const odbc_modes[] = {"bulk", "incrementing", "timestamp",
                                         "timestamp+incrementing", "insert", "update", "upsert",
                                         "delete", NULL};
static const char *const odbc_decimals[] = {"string", "number", NULL};
static const char *const odbc_binds[] = {"auto", "array", "multirow", "single", NULL};

static const struct bp_option odbc_options[] = {
    {.name = "dsn", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "ODBC connection string, e.g. Driver=SQLite3;Database=erp.db (a PWD= in it is never logged)"},
    {.name = "password", .type = BP_OPT_SECRET,
     .description = "appended to the connection string as PWD=; use ${env:NAME}"},
    {.name = "table", .type = BP_OPT_STRING,
     .description = "source: the table polled; sink: the table written"},
    {.name = "query", .type = BP_OPT_STRING,
     .description = "source: a SELECT polled instead of a table (the watermark condition is added around it)"},
    {.name = "mode", .type = BP_OPT_ENUM, .choices = odbc_modes,
     .description = "source: bulk|incrementing|timestamp|timestamp+incrementing (default bulk); sink: insert|update|upsert|delete (default insert)"},
    {.name = "column", .type = BP_OPT_STRING,
     .description = "source: the strictly growing id column (incrementing, timestamp+incrementing)"},
    {.name = "timestamp_column", .type = BP_OPT_STRING,
     .description = "source: the modified-at column (timestamp, timestamp+incrementing)"},
    {.name = "key", .type = BP_OPT_LIST,
     .description = "source: the column that becomes the subject (default: column); sink: key column(s) for update/upsert/delete"},
    {.name = "columns", .type = BP_OPT_MAP,
     .description = "sink: column -> envelope path (default: every column of the table from data.COLUMN)"},
    {.name = "type", .type = BP_OPT_STRING, .default_value = "com.backplane.odbc.row",
     .description = "source: the CloudEvents type of each row"},
    {.name = "batch_rows", .type = BP_OPT_INT, .default_value = "500", .min = "1", .max = "10000",
     .description = "rows per fetch (SQL_ATTR_ROW_ARRAY_SIZE)"},
    {.name = "max_rows", .type = BP_OPT_INT, .default_value = "10000", .min = "1",
     .description = "source: rows per query (LIMIT; not in timestamp mode)"},
    {.name = "interval", .type = BP_OPT_DURATION, .default_value = "1s", .min = "10ms",
     .description = "source: wait between queries once caught up"},
    {.name = "once", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "source: end (like end of file) once caught up instead of polling on"},
    {.name = "decimal", .type = BP_OPT_ENUM, .default_value = "string", .choices = odbc_decimals,
     .description = "DECIMAL/NUMERIC values as exact decimal strings, or as JSON numbers"},
    {.name = "bind", .type = BP_OPT_ENUM, .default_value = "auto", .choices = odbc_binds,
     .description = "sink: how a batch is sent: multi-row statements (auto for insert/upsert), parameter arrays, or one row at a time"},
    {.name = "applied_table", .type = BP_OPT_STRING,
     .description = "sink: a table the sink keeps in the target database (created if missing) so a batch is never applied twice, even when the bus dies between the database's commit and its own"},
    {.name = "queries", .type = BP_OPT_MAP,
     .description = "lookup: NAME -> \"SELECT ... WHERE x = ?\" or {sql: ..., params: [names]}"},
    {.name = "lookup_ttl", .type = BP_OPT_DURATION, .default_value = "30s",
     .description = "lookup: how long a result is cached (0: no cache)"},
    {.name = "lookup_cache", .type = BP_OPT_INT, .default_value = "1000", .min = "0",
     .description = "lookup: cached results at most"},
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

static char *odbc_dup(const cJSON *config, const char *name)
{
    const char *v = bp_cfg_str(config, name);
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
                           void **out, char **errmsg)
{
    odbc_conn *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const char *dsn = bp_cfg_str(config, "dsn");
    const char *pwd = bp_cfg_str(config, "password");
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
    self->table = odbc_dup(config, "table");
    self->query = odbc_dup(config, "query");
    self->column = odbc_dup(config, "column");
    self->ts_column = odbc_dup(config, "timestamp_column");
    self->applied_table = odbc_dup(config, "applied_table");
    self->type = odbc_dup(config, "type");
    self->batch_rows = bp_cfg_int(config, "batch_rows", 500);
    self->max_rows = bp_cfg_int(config, "max_rows", 10000);
    self->interval_ms = bp_cfg_int(config, "interval", 1000);
    self->once = bp_cfg_bool(config, "once", 0);
    self->decimal_number = strcmp(bp_cfg_str(config, "decimal"), "number") == 0;
    self->lookup_ttl_ms = bp_cfg_int(config, "lookup_ttl", 30000);
    self->lookup_cache = bp_cfg_int(config, "lookup_cache", 1000);
    const char *bind = bp_cfg_str(config, "bind");
    self->bind = strcmp(bind, "array") == 0      ? OB_ARRAY
                 : strcmp(bind, "multirow") == 0 ? OB_MULTIROW
                 : strcmp(bind, "single") == 0   ? OB_SINGLE
                                                 : OB_AUTO;
    const char *mode = bp_cfg_str(config, "mode");
    self->mode_set = mode != NULL;
    self->mode = OM_BULK;
    for (int i = 0; mode && odbc_modes[i]; i++)
        if (strcmp(mode, odbc_modes[i]) == 0)
            self->mode = (enum odbc_mode)i;
    const cJSON *keys = bp_cfg_get0(config, "key");
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
    const cJSON *cols = bp_cfg_get0(config, "columns");
    for (const cJSON *c = cols ? cols->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c) || api->path_check(c->valuestring) != BP_OK)
            return odbc_fail(self, errmsg,
                             api->format("columns: '%s' must map to an envelope path such as "
                                         "data.%s", c->string, c->string));
    }
    if (cols && !cols->child)
        return odbc_fail(self, errmsg, api->format("columns: the map is empty"));
    self->columns = cols ? cJSON_Duplicate(cols, 1) : NULL;
    const cJSON *qs = bp_cfg_get0(config, "queries");
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
    .init = odbc_init,
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
