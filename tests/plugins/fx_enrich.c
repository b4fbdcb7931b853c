/* Fixture: a transform that calls the host lookup API, to test lookup
 * connectors end to end. For each record it runs `query` of `connector` with
 * the value at `param` (an envelope path) and stores what came back under
 * data.lookup: {"status": "ok", "rows": [...]} or {"status": "not_found"} or
 * {"status": "error", "code": "<bp status>", "message": "..."}. */
#include <stdlib.h>
#include <string.h>
#include <backplane/plugin.h>

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *connector, *query, *param;
} fx_self;

static const struct bp_option fx_options[] = {
    {.name = "connector", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, .description = "lookup connector"},
    {.name = "query", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, .description = "query name"},
    {.name = "param", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, .description = "envelope path of the parameter"},
    {0},
};

static bp_status fx_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         void **out, char **errmsg)
{
    fx_self *self = calloc(1, sizeof(*self));
    (void)errmsg;
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->connector = strdup(bp_cfg_str(config, "connector"));
    self->query = strdup(bp_cfg_str(config, "query"));
    self->param = strdup(bp_cfg_str(config, "param"));
    *out = self;
    return BP_OK;
}

static const char *fx_code(bp_status st)
{
    switch (st) {
    case BP_RETRY: return "retry";
    case BP_NOT_CONNECTED: return "not_connected";
    case BP_ERR_INVALID: return "invalid";
    default: return "other";
    }
}

static bp_status fx_transform(void *p, bp_envelope **env, char **reason)
{
    fx_self *self = p;
    const struct bp_host_api *api = self->api;
    (void)reason;
    const cJSON *v = api->envelope_get0_path(*env, self->param);
    cJSON *params = cJSON_CreateArray();
    cJSON_AddItemToArray(params, v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    cJSON *result = NULL;
    char *err = NULL;
    bp_status st = api->lookup(self->inst, self->connector, self->query, params, &result, &err);
    cJSON_Delete(params);
    cJSON *out = cJSON_CreateObject();
    if (st == BP_OK) {
        cJSON_AddStringToObject(out, "status", "ok");
        cJSON_AddItemToObject(out, "rows", result);
    } else if (st == BP_ERR_NOT_FOUND) {
        cJSON_AddStringToObject(out, "status", "not_found");
    } else {
        cJSON_AddStringToObject(out, "status", "error");
        cJSON_AddStringToObject(out, "code", fx_code(st));
        cJSON_AddStringToObject(out, "message", err ? err : "");
    }
    api->free(err);
    bp_envelope *w = api->envelope_make_writable(*env);
    if (w == NULL) {
        cJSON_Delete(out);
        return BP_RETRY;
    }
    *env = w;
    api->envelope_set0_path(*env, "data.lookup", out);
    return BP_MODIFIED;
}

static void fx_destroy(void *p)
{
    fx_self *self = p;
    free(self->connector);
    free(self->query);
    free(self->param);
    free(self);
}

static const struct bp_plugin fx_plugin = {
    BP_PLUGIN_HEADER,
    .name = "fx_enrich",
    .version = "0.0.1",
    .description = "test fixture: stores a lookup's result in data.lookup",
    .kinds = BP_KIND_TRANSFORM,
    .options = fx_options,
    .init = fx_init,
    .transform = fx_transform,
    .destroy = fx_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &fx_plugin;
}
