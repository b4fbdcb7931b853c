/* Fixture: a lookup provider answering from a JSON file, to test transforms
 * against the lookup contract (api->lookup) without a database:
 *   path: { "QUERY": { "KEY": ROW-or-[ROWS], ... }, ... }
 *   the key is the value of the query parameter `param` (default po_number);
 *   unknown query → BP_ERR_INVALID with a message; unknown key → BP_ERR_NOT_FOUND;
 *   the first `fail_first` lookups → BP_RETRY ("ERP busy");
 *   while the file `down_file` exists → BP_NOT_CONNECTED.
 * The real answers come from the ODBC connector; this fixes only the contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <backplane/plugin.h>

typedef struct {
    const struct bp_host_api *api;
    cJSON *answers;
    char *param;
    char *down_file;
    long long fail_first;
    long long calls;
} fxl_self;

static const struct bp_option fxl_options[] = {
    {.name = "path", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "JSON file of answers: { query: { key: row } }"},
    {.name = "param", .type = BP_OPT_STRING, .default_value = "po_number",
     .description = "query parameter holding the key"},
    {.name = "fail_first", .type = BP_OPT_INT, .default_value = "0", .min = "0",
     .description = "lookups that fail with retry first"},
    {.name = "down_file", .type = BP_OPT_STRING,
     .description = "while this file exists, lookups fail with not-connected"},
    {0},
};

static void fxl_destroy(void *p)
{
    fxl_self *self = p;
    cJSON_Delete(self->answers);
    free(self->param);
    free(self->down_file);
    free(self);
}

static bp_status fxl_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                          void **out, char **errmsg)
{
    (void)inst;
    const char *path = bp_cfg_str(config, "path");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *errmsg = api->format("%s: cannot open", path);
        return BP_ERR_IO;
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    fxl_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->answers = cJSON_Parse(buf);
    self->param = strdup(bp_cfg_str(config, "param"));
    const char *down = bp_cfg_str(config, "down_file");
    self->down_file = down ? strdup(down) : NULL;
    self->fail_first = bp_cfg_int(config, "fail_first", 0);
    if (!cJSON_IsObject(self->answers)) {
        *errmsg = api->format("%s: not a JSON object", path);
        fxl_destroy(self);
        return BP_ERR_INVALID;
    }
    *out = self;
    return BP_OK;
}

static bp_status fxl_lookup(void *p, const char *query, const cJSON *params, cJSON **result,
                            char **errmsg)
{
    fxl_self *self = p;
    if (self->calls++ < self->fail_first) {
        *errmsg = self->api->format("ERP busy (fixture: lookup %lld of %lld failing)", self->calls,
                                    self->fail_first);
        return BP_RETRY;
    }
    if (self->down_file && access(self->down_file, F_OK) == 0) {
        *errmsg = self->api->format("ERP unreachable (fixture: %s exists)", self->down_file);
        return BP_NOT_CONNECTED;
    }
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(self->answers, query);
    if (!cJSON_IsObject(q)) {
        *errmsg = self->api->format("no query named '%s'", query);
        return BP_ERR_INVALID;
    }
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(params, self->param);
    const cJSON *row = cJSON_IsString(key) ? cJSON_GetObjectItemCaseSensitive(q, key->valuestring)
                                           : NULL;
    if (row == NULL)
        return BP_ERR_NOT_FOUND;
    *result = cJSON_Duplicate(row, 1);
    return *result ? BP_OK : BP_ERR_NOMEM;
}

static const struct bp_plugin fxl = {
    BP_PLUGIN_HEADER,
    .name = "fx_lookup",
    .version = "1.0.0",
    .description = "fixture: lookups answered from a JSON file",
    .kinds = BP_KIND_LOOKUP,
    .options = fxl_options,
    .init = fxl_init,
    .lookup = fxl_lookup,
    .destroy = fxl_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fxl; }
