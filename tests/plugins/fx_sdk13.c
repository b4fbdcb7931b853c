/* Fixture: a transform using the ABI 1.3 host entries, writing what it got
 * into data.sdk13 for tests/e2e/sdk13.sh to read:
 *   init: checkpoint_set_many {a:1, a:2, b:1}, checkpoint_list "a:",
 *         checkpoint_delete_prefix "a:", checkpoint_list "" again;
 *         model_find(option model) -> model_path or model_error;
 *   per record: flag_add "fx_seen" (and a refused "Bad-Name"), status_str,
 *         corrections_get(data.vendor = this record's vendor).
 * min_host_minor 3: it calls them without BP_HOST_HAS. */
#include <stdlib.h>
#include <string.h>
#include <backplane/plugin.h>

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    cJSON *init_report;
} fx_self;

static const struct bp_option fx_options[] = {
    {.name = "model", .type = BP_OPT_STRING, .default_value = "invoices",
     .description = "a model name for model_find"},
    {0},
};

static cJSON *fx_keys(const struct bp_host_api *api, bp_instance *inst, const char *prefix)
{
    char **keys = NULL;
    size_t n = 0;
    cJSON *arr = cJSON_CreateArray();
    if (api->checkpoint_list(inst, prefix, &keys, &n) == BP_OK)
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(keys[i]));
    api->free(keys);   /* one block: the array and its strings */
    return arr;
}

static bp_status fx_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         void **out, char **errmsg)
{
    (void)errmsg;
    fx_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    cJSON *r = self->init_report = cJSON_CreateObject();
    const char *keys[] = {"a:1", "a:2", "b:1"}, *vals[] = {"x", "y", "z"};
    cJSON_AddNumberToObject(r, "set_many", api->checkpoint_set_many(inst, keys, vals, 3));
    cJSON_AddItemToObject(r, "listed_a", fx_keys(api, inst, "a:"));
    size_t deleted = 99;
    cJSON_AddNumberToObject(r, "delete_prefix", api->checkpoint_delete_prefix(inst, "a:", &deleted));
    cJSON_AddNumberToObject(r, "deleted", (double)deleted);
    cJSON_AddItemToObject(r, "listed_all", fx_keys(api, inst, NULL));
    const char *nullkey[] = {"c:1", NULL};
    cJSON_AddNumberToObject(r, "set_many_null_key", api->checkpoint_set_many(inst, nullkey, vals, 2));
    cJSON_AddItemToObject(r, "after_refused", fx_keys(api, inst, "c:"));
    char *path = NULL, *err = NULL;
    if (api->model_find(inst, bp_cfg_str(config, "model"), &path, &err) == BP_OK)
        cJSON_AddStringToObject(r, "model_path", path);
    else
        cJSON_AddStringToObject(r, "model_error", err ? err : "?");
    api->free(path);
    api->free(err);
    *out = self;
    return BP_OK;
}

static bp_status fx_transform(void *p, bp_envelope **envp, char **reason)
{
    fx_self *self = p;
    const struct bp_host_api *api = self->api;
    (void)reason;
    bp_envelope *env = api->envelope_make_writable(*envp);
    if (env == NULL)
        return BP_RETRY;
    *envp = env;
    cJSON *r = cJSON_Duplicate(self->init_report, 1);
    cJSON_AddNumberToObject(r, "flag_add", api->flag_add(env, "fx_seen", "seen by fx_sdk13", "fx_sdk13"));
    cJSON_AddNumberToObject(r, "flag_add_bad", api->flag_add(env, "Bad-Name", NULL, NULL));
    cJSON_AddStringToObject(r, "status_str", api->status_str(BP_NOT_CONNECTED));
    const cJSON *vendor = api->envelope_get0_path(env, "data.vendor");
    cJSON *corr = NULL;
    char *err = NULL;
    bp_status st = api->corrections_get(self->inst, "data.vendor",
                                        cJSON_IsString(vendor) ? vendor->valuestring : "", 5,
                                        &corr, &err);
    cJSON_AddNumberToObject(r, "corrections_status", st);
    if (st == BP_OK) {
        cJSON *mem = cJSON_CreateArray();
        for (const cJSON *c = corr->child; c; c = c->next) {
            const cJSON *path = cJSON_GetObjectItemCaseSensitive(c, "path");
            const cJSON *nv = cJSON_GetObjectItemCaseSensitive(c, "new");
            char *txt = cJSON_PrintUnformatted(nv);
            char *line = api->format("%s=%s", cJSON_IsString(path) ? path->valuestring : "?",
                                     txt ? txt : "?");
            cJSON_AddItemToArray(mem, cJSON_CreateString(line ? line : "?"));
            api->free(line);
            free(txt);   /* cJSON_PrintUnformatted: the plugin's own cJSON call */
        }
        cJSON_AddItemToObject(r, "memory", mem);
    }
    api->json_free(corr);
    api->free(err);
    api->envelope_set0_path(env, "data.sdk13", r);
    return BP_MODIFIED;
}

static void fx_destroy(void *p)
{
    fx_self *self = p;
    cJSON_Delete(self->init_report);
    free(self);
}

static const struct bp_plugin fx = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,
    .name = "fx_sdk13",
    .version = "1.0.0",
    .description = "fixture: the ABI 1.3 host entries",
    .kinds = BP_KIND_TRANSFORM,
    .options = fx_options,
    .init = fx_init,
    .transform = fx_transform,
    .destroy = fx_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fx; }
