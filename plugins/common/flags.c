/* See flags.h. */
#include <stdlib.h>
#include <string.h>

#include "flags.h"

/* 1 when the comma/space separated list holds name as a whole token. */
static int flags_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, ", ");
        size_t t = strcspn(p, ", ");
        if (t == n && memcmp(p, name, n) == 0)
            return 1;
        p += t;
    }
    return 0;
}

bp_status flags_add(const struct bp_host_api *api, bp_envelope *env, const char *flag,
                    const char *reason, const char *by)
{
    const cJSON *ext = api->envelope_get0_ext(env, "flags");
    const char *old = cJSON_IsString(ext) ? ext->valuestring : "";
    if (!flags_listed(old, flag)) {
        char *joined = api->format("%s%s%s", old, old[0] ? "," : "", flag);
        if (joined == NULL)
            return BP_ERR_NOMEM;
        bp_status st = api->envelope_set0_ext(env, "flags", cJSON_CreateString(joined));
        api->free(joined);
        if (st != BP_OK)
            return st;
    }
    cJSON *data = api->envelope_get0_data_mut(env);
    if (data == NULL && api->envelope_get0_data(env) == NULL) {
        bp_status st = api->envelope_set0_data(env, cJSON_CreateObject());
        if (st != BP_OK)
            return st;
        data = api->envelope_get0_data_mut(env);
    }
    if (!cJSON_IsObject(data))
        return BP_ERR_INVALID;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "flags");
    if (arr == NULL && (arr = cJSON_AddArrayToObject(data, "flags")) == NULL)
        return BP_ERR_NOMEM;
    if (!cJSON_IsArray(arr))
        return BP_ERR_INVALID;
    cJSON *item = cJSON_CreateObject();
    if (item == NULL || !cJSON_AddStringToObject(item, "flag", flag) ||
        (reason && !cJSON_AddStringToObject(item, "reason", reason)) ||
        (by && !cJSON_AddStringToObject(item, "by", by))) {
        cJSON_Delete(item);
        return BP_ERR_NOMEM;
    }
    cJSON_AddItemToArray(arr, item);
    return BP_OK;
}
