/* Reviewers' corrections read back by transforms (host corrections_get, ABI
 * 1.3): the rows `review correct` wrote to the corrections table
 * (state_review.c), newest first, optionally only those of records whose value
 * at a path equalled a key (per-vendor memory). Read-only. */
#include <stdlib.h>
#include <string.h>

#include "state_int.h"
#include "state_corrections.h"
#include "envelope_int.h"
#include "json_print.h"

/* 1 when the parked record's value at key_path is key_value. */
static int corr_matches(const char *payload, const char *key_path, const char *key_value)
{
    bp_envelope *env = NULL;
    char *err = NULL;
    if (payload == NULL ||
        bp_envelope_from_json(payload, strlen(payload), &env, &err) != BP_OK) {
        free(err);
        return 0;
    }
    const cJSON *v = bp_envelope_get0_path(env, key_path);
    int m = 0;
    if (cJSON_IsString(v)) {
        m = strcmp(v->valuestring, key_value) == 0;
    } else if (v != NULL) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        m = bp_json_append(v, &buf, &len, &cap) == BP_OK && strcmp(buf, key_value) == 0;
        free(buf);
    }
    bp_envelope_unref(env);
    return m;
}

static cJSON *corr_parse(const char *text)
{
    return text ? cJSON_Parse(text) : NULL;
}

bp_status bp_state_corrections_find(bp_state *st, const char *route, const char *key_path,
                                    const char *key_value, size_t max, cJSON **out)
{
    *out = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return BP_ERR_NOMEM;
    bp_db_stmt *q = NULL;
    bp_status rc = BP_ERR_IO;
    pthread_mutex_lock(&st->mu);
    if (bp_db_prepare_v2(st->db,
                           "SELECT path, old_value, new_value, at_ms, id, source, payload"
                           " FROM corrections WHERE route=?1 ORDER BY seq DESC",
                           -1, &q, NULL) == BP_DB_OK) {
        bp_db_bind_text(q, 1, route, -1, BP_DB_STATIC);
        size_t n = 0;
        int s = BP_DB_DONE;
        rc = BP_OK;
        while ((max == 0 || n < max) && (s = bp_db_step(q)) == BP_DB_ROW) {
            const char *c[7];
            for (int i = 0; i < 7; i++)
                c[i] = (const char *)bp_db_column_text(q, i);
            if (key_path && !corr_matches(c[6], key_path, key_value ? key_value : ""))
                continue;
            cJSON *o = cJSON_CreateObject(), *v;
            int ok = o && cJSON_AddStringToObject(o, "path", c[0] ? c[0] : "");
            if (ok && (v = corr_parse(c[1])) != NULL)
                cJSON_AddItemToObject(o, "old", v);
            if (ok && (v = corr_parse(c[2])) != NULL)
                cJSON_AddItemToObject(o, "new", v);
            ok = ok && cJSON_AddNumberToObject(o, "at_ms", (double)bp_db_column_int64(q, 3)) &&
                 (c[4] == NULL || cJSON_AddStringToObject(o, "id", c[4])) &&
                 (c[5] == NULL || cJSON_AddStringToObject(o, "source", c[5]));
            if (ok && (v = corr_parse(c[6])) != NULL)
                cJSON_AddItemToObject(o, "record", v);
            if (!ok) {
                cJSON_Delete(o);
                rc = BP_ERR_NOMEM;
                break;
            }
            cJSON_AddItemToArray(arr, o);
            n++;
        }
        if (rc == BP_OK && (max == 0 || n < max) && s != BP_DB_DONE)
            rc = BP_ERR_IO;
    }
    bp_db_finalize(q);
    pthread_mutex_unlock(&st->mu);
    if (rc != BP_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return BP_OK;
}
