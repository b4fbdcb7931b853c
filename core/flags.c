/* The flags convention of <backplane/flags.h>, applied by the host (ABI 1.3
 * flag_add) so that what the core parses (review gate, `review list`, report)
 * is defined once, in the SDK, not by the plugins that raise flags. */
#include <stdlib.h>
#include <string.h>

#include <backplane/flags.h>
#include "envelope_int.h"
#include "strutil.h"

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

static int flags_valid_name(const char *flag)
{
    size_t n = flag ? strlen(flag) : 0;
    if (n == 0 || n > BP_FLAG_NAME_MAX)
        return 0;
    for (const char *p = flag; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

bp_status bp_flag_add(bp_envelope *env, const char *flag, const char *reason, const char *by)
{
    if (env == NULL || !bp_envelope_is_writable(env) || !flags_valid_name(flag))
        return BP_ERR_INVALID;
    const cJSON *ext = bp_envelope_get0_ext(env, BP_EXT_FLAGS);
    const char *old = cJSON_IsString(ext) ? ext->valuestring : "";
    cJSON *data = bp_envelope_get0_data_mut(env);
    if (data != NULL && !cJSON_IsObject(data))
        return BP_ERR_INVALID;
    cJSON *arr = data ? cJSON_GetObjectItemCaseSensitive(data, BP_FLAGS_DATA_MEMBER) : NULL;
    if (arr != NULL && !cJSON_IsArray(arr))
        return BP_ERR_INVALID;
    /* Everything that can be refused was checked: now change the record. */
    if (!flags_listed(old, flag)) {
        char *joined = bp_strfmt("%s%s%s", old, old[0] ? "," : "", flag);
        cJSON *v = joined ? cJSON_CreateString(joined) : NULL;
        free(joined);
        if (v == NULL)
            return BP_ERR_NOMEM;
        bp_status st = bp_envelope_set0_ext(env, BP_EXT_FLAGS, v);
        if (st != BP_OK)
            return st;
    }
    if (data == NULL) {
        bp_status st = bp_envelope_set0_data(env, cJSON_CreateObject());
        if (st != BP_OK)
            return st;
        data = bp_envelope_get0_data_mut(env);
    }
    if (arr == NULL && (arr = cJSON_AddArrayToObject(data, BP_FLAGS_DATA_MEMBER)) == NULL)
        return BP_ERR_NOMEM;
    cJSON *item = cJSON_CreateObject();
    if (item == NULL || !cJSON_AddStringToObject(item, BP_FLAG_KEY_FLAG, flag) ||
        (reason && !cJSON_AddStringToObject(item, BP_FLAG_KEY_REASON, reason)) ||
        (by && !cJSON_AddStringToObject(item, BP_FLAG_KEY_BY, by))) {
        cJSON_Delete(item);
        return BP_ERR_NOMEM;
    }
    cJSON_AddItemToArray(arr, item);
    return BP_OK;
}
