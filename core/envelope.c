/* The envelope object: a CloudEvents 1.0 event (attributes, extensions, data)
 * plus attachments and lineage, reference counted with copy-on-write.
 *
 * Attributes and extensions are kept as cJSON objects so that path lookups
 * (predicates, the set plugin) can hand out borrowed cJSON nodes for any part
 * of the envelope without allocating. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <backplane/envelope.h>
#include "envelope_int.h"
#include "clock.h"
#include "envelope_priv.h"
#include "json_print.h"
#include "sha256.h"

const char *const bp_ce_context_attrs[] = {
    "specversion", "id", "source", "type", "subject", "time",
    "datacontenttype", "dataschema", NULL,
};

/* Index of a name of len bytes in bp_ce_context_attrs, or -1. By first letter
 * and length, so that a lookup costs one comparison (this runs several times
 * per record). */
static int env_is(const char *name, size_t len, const char *word, size_t wlen)
{
    return len == wlen && memcmp(name, word, len) == 0;
}

int bp_env_attr_index(const char *name, size_t len)
{
    if (len == 0)
        return -1;
    switch (name[0]) {
    case 's':
        return env_is(name, len, "specversion", 11) ? BP_ENV_SPECVERSION
               : env_is(name, len, "source", 6)     ? BP_ENV_SOURCE
               : env_is(name, len, "subject", 7)    ? BP_ENV_SUBJECT
                                                    : -1;
    case 'i':
        return len == 2 && name[1] == 'd' ? BP_ENV_ID : -1;
    case 't':
        return env_is(name, len, "type", 4)   ? BP_ENV_TYPE
               : env_is(name, len, "time", 4) ? BP_ENV_TIME
                                              : -1;
    case 'd':
        return env_is(name, len, "datacontenttype", 15) ? BP_ENV_DATACONTENTTYPE
               : env_is(name, len, "dataschema", 10)    ? BP_ENV_DATASCHEMA
                                                        : -1;
    default:
        return -1;
    }
}

static int env_attr_index(const char *name)
{
    return bp_env_attr_index(name, strlen(name));
}

/* specversion is always "1.0": every envelope points at this one string. */
static char env_spec10[] = "1.0";

const cJSON *bp_env_attr_node(const bp_envelope *env, int index)
{
    if (index < 0 || index >= BP_ENV_N_ATTRS || env->attr[index].node.valuestring == NULL)
        return NULL;
    return &env->attr[index].node;
}

static void env_attr_clear(bp_env_attr *a)
{
    if (a->node.valuestring != a->small && a->node.valuestring != env_spec10)
        free(a->node.valuestring);
    a->node.valuestring = NULL;
}

/* Sets attribute index to a copy of value (inline when it fits). */
static bp_status env_attr_put(bp_envelope *env, int index, const char *value)
{
    bp_env_attr *a = &env->attr[index];
    size_t len = strlen(value);
    char *v;
    if (index == BP_ENV_SPECVERSION && strcmp(value, env_spec10) == 0)
        v = env_spec10;
    else if (len < sizeof(a->small))
        v = a->small;
    else if ((v = malloc(len + 1)) == NULL)
        return BP_ERR_NOMEM;
    if (v != env_spec10)
        memmove(v, value, len + 1);   /* value may be this slot's own string */
    if (a->node.valuestring != v)
        env_attr_clear(a);
    a->node.valuestring = v;
    a->len = len;
    return BP_OK;
}

static void env_attrs_init(bp_envelope *env)
{
    for (int i = 0; i < BP_ENV_N_ATTRS; i++) {
        env->attr[i].node.type = cJSON_String | cJSON_StringIsConst;
        env->attr[i].node.string = (char *)bp_ce_context_attrs[i];
    }
    env->attr[BP_ENV_SPECVERSION].node.valuestring = env_spec10;
    env->attr[BP_ENV_SPECVERSION].len = 3;
}

int bp_ce_is_context_attr(const char *name)
{
    return env_attr_index(name) >= 0;
}

int bp_ce_is_valid_ext_name(const char *name)
{
    size_t n = 0;
    /* Reserved: structured mode uses these member names for other things. */
    if (name == NULL || strcmp(name, "data") == 0 || strcmp(name, "bpattachments") == 0 ||
        strcmp(name, "bplineage") == 0)
        return 0;
    for (const char *p = name; *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return 0;
    return n >= 1 && n <= 20;
}

/* RFC 3339 date-time: 2026-11-22T10:00:00(.fff)?(Z|+hh:mm). */
int bp_is_rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for (i = 0; shape[i]; i++) {
        char c = s[i];
        if (shape[i] == 'd') {
            if (c < '0' || c > '9')
                return 0;
        } else if (shape[i] == 'T') {
            if (c != 'T' && c != 't' && c != ' ')
                return 0;
        } else if (c != shape[i]) {
            return 0;
        }
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0');
    int ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hh > 23 || mm > 59 || ss > 60)
        return 0;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return 0;
    const char *p = s + i;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-') {
        int ok = p[1] >= '0' && p[1] <= '2' && p[2] >= '0' && p[2] <= '9' && p[3] == ':' &&
                 p[4] >= '0' && p[4] <= '5' && p[5] >= '0' && p[5] <= '9' && p[6] == '\0';
        return ok && (p[1] - '0') * 10 + (p[2] - '0') <= 23;
    }
    return 0;
}

bp_envelope *bp_envelope_new(void)
{
    bp_envelope *env = calloc(1, sizeof(*env));
    if (env == NULL)
        return NULL;
    atomic_init(&env->refs, 1);
    env_attrs_init(env);
    return env;
}

bp_envelope *bp_envelope_ref(bp_envelope *env)
{
    if (env != NULL)
        atomic_fetch_add_explicit(&env->refs, 1, memory_order_relaxed);
    return env;
}

static void env_free_attachment(bp_attachment *a)
{
    free((char *)a->name);
    free((char *)a->media_type);
    free((unsigned char *)a->bytes);
}

static void env_free_lineage(bp_lineage *l)
{
    free((char *)l->plugin);
    free((char *)l->version);
    free((char *)l->model);
    free((char *)l->changed);
}

static void env_free(bp_envelope *env)
{
    for (int i = 0; i < BP_ENV_N_ATTRS; i++)
        env_attr_clear(&env->attr[i]);
    cJSON_Delete(env->ext);
    cJSON_Delete(env->data);
    free(env->raw);   /* raw_origin lives in the same block */
    for (size_t i = 0; i < env->n_att; i++)
        env_free_attachment(&env->att[i]);
    free(env->att);
    for (size_t i = 0; i < env->n_lin; i++)
        env_free_lineage(&env->lin[i]);
    free(env->lin);
    free(env);
}

void bp_envelope_unref(bp_envelope *env)
{
    if (env == NULL)
        return;
    /* acq_rel: the thread that frees must see every write made before other unrefs. */
    if (atomic_fetch_sub_explicit(&env->refs, 1, memory_order_acq_rel) == 1)
        env_free(env);
}

int bp_envelope_is_writable(const bp_envelope *env)
{
    return env != NULL &&
           atomic_load_explicit(&((bp_envelope *)env)->refs, memory_order_acquire) == 1;
}

static char *env_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

bp_envelope *bp_envelope_dup(const bp_envelope *src)
{
    bp_envelope *env = calloc(1, sizeof(*env));
    if (env == NULL)
        return NULL;
    atomic_init(&env->refs, 1);
    env_attrs_init(env);
    for (int i = 0; i < BP_ENV_N_ATTRS; i++)
        if (src->attr[i].node.valuestring != NULL &&
            env_attr_put(env, i, src->attr[i].node.valuestring) != BP_OK)
            goto fail;
    env->ext = src->ext ? cJSON_Duplicate(src->ext, 1) : NULL;
    env->data = src->data ? cJSON_Duplicate(src->data, 1) : NULL;
    env->data_b64 = src->data_b64;
    env->arrived_ms = src->arrived_ms;
    env->parked_ms = src->parked_ms;
    if ((src->ext && env->ext == NULL) || (src->data && env->data == NULL))
        goto fail;
    if (src->raw && bp_envelope_set_data_json(env, src->raw, src->raw_len, src->raw_origin) != BP_OK)
        goto fail;
    if (src->n_att) {
        env->att = calloc(src->n_att, sizeof(*env->att));
        if (env->att == NULL)
            goto fail;
        env->cap_att = src->n_att;
        for (size_t i = 0; i < src->n_att; i++) {
            const bp_attachment *a = &src->att[i];
            bp_attachment *b = &env->att[i];
            unsigned char *bytes = malloc(a->size ? a->size : 1);
            b->name = strdup(a->name);
            b->media_type = strdup(a->media_type);
            b->bytes = bytes;
            b->size = a->size;
            env->n_att++;
            if (b->name == NULL || b->media_type == NULL || bytes == NULL)
                goto fail;
            memcpy(bytes, a->bytes, a->size);
        }
    }
    if (src->n_lin) {
        env->lin = calloc(src->n_lin, sizeof(*env->lin));
        if (env->lin == NULL)
            goto fail;
        env->cap_lin = src->n_lin;
        for (size_t i = 0; i < src->n_lin; i++) {
            const bp_lineage *a = &src->lin[i];
            bp_lineage *b = &env->lin[i];
            *b = *a;
            b->plugin = env_strdup0(a->plugin);
            b->version = env_strdup0(a->version);
            b->model = env_strdup0(a->model);
            b->changed = env_strdup0(a->changed);
            env->n_lin++;
            if ((a->plugin && !b->plugin) || (a->version && !b->version) ||
                (a->model && !b->model) || (a->changed && !b->changed))
                goto fail;
        }
    }
    return env;
fail:
    env_free(env);
    return NULL;
}

bp_envelope *bp_envelope_make_writable(bp_envelope *env)
{
    if (env == NULL || bp_envelope_is_writable(env))
        return env;
    bp_envelope *copy = bp_envelope_dup(env);
    if (copy == NULL)
        return NULL;
    bp_envelope_unref(env);
    return copy;
}

/* ---- attributes ------------------------------------------------------- */

const char *bp_envelope_get0_attr(const bp_envelope *env, const char *name)
{
    int i = env_attr_index(name);
    if (i >= 0)
        return env->attr[i].node.valuestring;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(env->ext, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Replaces or adds key in obj, taking value. */
static bp_status env_obj_put(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value)) {
            cJSON_Delete(value);
            return BP_ERR_NOMEM;
        }
        return BP_OK;
    }
    if (!cJSON_AddItemToObject(obj, key, value)) {
        cJSON_Delete(value);
        return BP_ERR_NOMEM;
    }
    return BP_OK;
}

bp_status bp_envelope_set_attr(bp_envelope *env, const char *name, const char *value)
{
    if (env == NULL || name == NULL || !bp_envelope_is_writable(env))
        return BP_ERR_INVALID;
    int i = env_attr_index(name);
    if (i < 0) {
        if (value == NULL) {
            if (!bp_ce_is_valid_ext_name(name))
                return BP_ERR_INVALID;
            cJSON_DeleteItemFromObjectCaseSensitive(env->ext, name);
            return BP_OK;
        }
        cJSON *v = cJSON_CreateString(value);
        if (v == NULL)
            return BP_ERR_NOMEM;
        return bp_envelope_set0_ext(env, name, v);
    }
    int required = i < BP_ENV_N_REQUIRED;
    if (value == NULL) {
        if (required)
            return BP_ERR_INVALID;
        env_attr_clear(&env->attr[i]);
        return BP_OK;
    }
    if (required && value[0] == '\0')
        return BP_ERR_INVALID;
    if (i == BP_ENV_SPECVERSION && strcmp(value, "1.0") != 0)
        return BP_ERR_INVALID;
    if (i == BP_ENV_TIME && !bp_is_rfc3339(value))
        return BP_ERR_INVALID;
    return env_attr_put(env, i, value);
}

const cJSON *bp_envelope_get0_ext(const bp_envelope *env, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(env->ext, name);
}

bp_status bp_envelope_set0_ext(bp_envelope *env, const char *name, cJSON *value)
{
    if (env == NULL || name == NULL || value == NULL || !bp_envelope_is_writable(env) ||
        bp_ce_is_context_attr(name) || !bp_ce_is_valid_ext_name(name) ||
        !(cJSON_IsString(value) || cJSON_IsNumber(value) || cJSON_IsBool(value))) {
        cJSON_Delete(value);
        return BP_ERR_INVALID;
    }
    if (env->ext == NULL && (env->ext = cJSON_CreateObject()) == NULL) {
        cJSON_Delete(value);
        return BP_ERR_NOMEM;
    }
    return env_obj_put(env->ext, name, value);
}

size_t bp_envelope_ext_count(const bp_envelope *env)
{
    return (size_t)cJSON_GetArraySize(env->ext);
}

const char *bp_envelope_ext_name(const bp_envelope *env, size_t i)
{
    const cJSON *v = cJSON_GetArrayItem(env->ext, (int)i);
    return v ? v->string : NULL;
}

void bp_uuid4(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
}

void bp_format_time_ms(int64_t ms, char out[32])
{
    /* Sources stamp every record: format the seconds once per second and
     * thread, and only the milliseconds per call. */
    static _Thread_local int64_t cached_secs = -1;
    static _Thread_local char cached[24];
    static _Thread_local size_t cached_len;
    int64_t secs = ms / 1000;
    if (secs != cached_secs) {
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_secs = secs;
    }
    int frac = (int)(ms % 1000);
    memcpy(out, cached, cached_len);
    out[cached_len] = '.';
    out[cached_len + 1] = (char)('0' + frac / 100);
    out[cached_len + 2] = (char)('0' + frac / 10 % 10);
    out[cached_len + 3] = (char)('0' + frac % 10);
    out[cached_len + 4] = 'Z';
    out[cached_len + 5] = '\0';
}

static void env_hash_str(bp_sha256 *h, const char *s)
{
    /* Each field with its length: ("ab","c") and ("a","bc") hash apart. */
    uint64_t n = s ? strlen(s) : UINT64_MAX;
    bp_sha256_update(h, &n, sizeof(n));
    if (s)
        bp_sha256_update(h, s, strlen(s));
}

bp_status bp_envelope_fill_id(bp_envelope *env, const uint64_t *token)
{
    if (!bp_envelope_is_writable(env) || env->attr[BP_ENV_SOURCE].node.valuestring == NULL)
        return BP_ERR_INVALID;
    if (env->attr[BP_ENV_ID].node.valuestring != NULL)
        return BP_OK;
    bp_sha256 h;
    bp_sha256_init(&h);
    /* A version tag first: a later derivation rule must not collide with this one. */
    bp_sha256_update(&h, "backplane-id-1", 15);
    env_hash_str(&h, env->attr[BP_ENV_SOURCE].node.valuestring);
    if (token) {
        unsigned char t[9] = {'t'};
        for (int i = 0; i < 8; i++)
            t[1 + i] = (unsigned char)(*token >> (8 * i));
        bp_sha256_update(&h, t, sizeof(t));
    } else {
        bp_sha256_update(&h, "c", 1);
        env_hash_str(&h, env->attr[BP_ENV_TYPE].node.valuestring);
        env_hash_str(&h, env->attr[BP_ENV_SUBJECT].node.valuestring);
        env_hash_str(&h, env->attr[BP_ENV_DATACONTENTTYPE].node.valuestring);
        if (env->raw) {
            uint64_t n = env->raw_len;
            bp_sha256_update(&h, "r", 1);
            bp_sha256_update(&h, &n, sizeof(n));
            bp_sha256_update(&h, env->raw, env->raw_len);
        } else if (env->data) {
            char *buf = NULL;
            size_t len = 0, cap = 0;
            if (bp_json_append(env->data, &buf, &len, &cap) != BP_OK) {
                free(buf);
                unsigned char discard[32];
                (void)bp_sha256_final(&h, discard);   /* frees the digest */
                return BP_ERR_NOMEM;
            }
            uint64_t n = len;
            bp_sha256_update(&h, env->data_b64 ? "b" : "d", 1);
            bp_sha256_update(&h, &n, sizeof(n));
            bp_sha256_update(&h, buf, len);
            free(buf);
        } else {
            bp_sha256_update(&h, "-", 1);
        }
        for (size_t i = 0; i < env->n_att; i++) {
            uint64_t n = env->att[i].size;
            env_hash_str(&h, env->att[i].name);
            env_hash_str(&h, env->att[i].media_type);
            bp_sha256_update(&h, &n, sizeof(n));
            if (n)
                bp_sha256_update(&h, env->att[i].bytes, env->att[i].size);
        }
    }
    unsigned char b[32];
    if (bp_sha256_final(&h, b) != 0)
        return BP_ERR_NOMEM;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x80);   /* version 8: custom, RFC 9562 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* variant 10 */
    char out[37];
    snprintf(out, sizeof(out),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
    return env_attr_put(env, BP_ENV_ID, out);
}

bp_status bp_envelope_finalize(bp_envelope *env, char **errmsg)
{
    char buf[40];
    bp_status st = BP_OK;
    if (errmsg)
        *errmsg = NULL;
    if (!bp_envelope_is_writable(env))
        return BP_ERR_INVALID;
    /* Generated values are valid by construction: set without the checks. */
    if (env->attr[BP_ENV_ID].node.valuestring == NULL) {
        bp_uuid4(buf);
        st = env_attr_put(env, BP_ENV_ID, buf);
    }
    if (st == BP_OK && env->attr[BP_ENV_TIME].node.valuestring == NULL) {
        bp_format_time_ms(bp_now_ms(), buf);
        st = env_attr_put(env, BP_ENV_TIME, buf);
    }
    if (st != BP_OK)
        return st;
    for (int i = 0; i < BP_ENV_N_REQUIRED; i++) {
        const char *v = env->attr[i].node.valuestring;
        if (v == NULL || v[0] == '\0') {
            if (errmsg && asprintf(errmsg, "missing required attribute '%s'",
                                   bp_ce_context_attrs[i]) < 0)
                *errmsg = NULL;
            return BP_ERR_INVALID;
        }
    }
    return BP_OK;
}

/* ---- data ------------------------------------------------------------- */

/* Forgets deferred JSON text (data was set another way, or it was parsed). */
static void env_clear_raw(bp_envelope *env)
{
    free(env->raw);   /* raw_origin lives in the same block */
    env->raw = NULL;
    env->raw_origin = NULL;
    env->raw_len = 0;
}

bp_status bp_envelope_set_data_json(bp_envelope *env, const char *text, size_t len,
                                    const char *origin)
{
    if (!bp_envelope_is_writable(env) || (text == NULL && len > 0))
        return BP_ERR_INVALID;
    /* The text and its origin in one block: one malloc per record, not two. */
    size_t olen = origin ? strlen(origin) + 1 : 0;
    char *raw = malloc(len + 1 + olen), *org = NULL;
    if (raw == NULL)
        return BP_ERR_NOMEM;
    if (len)
        memcpy(raw, text, len);
    raw[len] = '\0';
    if (origin) {
        org = raw + len + 1;
        memcpy(org, origin, olen);
    }
    cJSON_Delete(env->data);
    env->data = NULL;
    env->data_b64 = 0;
    env_clear_raw(env);
    env->raw = raw;
    env->raw_len = len;
    env->raw_origin = org;
    return BP_OK;
}

bp_status bp_envelope_materialize(bp_envelope *env, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (env->raw == NULL)
        return BP_OK;
    const char *end = NULL;
    cJSON *data = cJSON_ParseWithLengthOpts(env->raw, env->raw_len, &end, 0);
    /* Only blanks may follow the value (a JSON-lines record is one value). */
    while (data && end && (size_t)(end - env->raw) < env->raw_len && strchr(" \t\r\n", *end))
        end++;
    if (data == NULL || (end && (size_t)(end - env->raw) < env->raw_len)) {
        cJSON_Delete(data);
        long col = end && end >= env->raw ? (long)(end - env->raw) + 1 : 1;
        if (errmsg && asprintf(errmsg, "%s:%ld: %s", env->raw_origin ? env->raw_origin : "data",
                               col, data ? "unexpected text after the JSON value"
                                         : "invalid JSON") < 0)
            *errmsg = NULL;
        return BP_ERR_PARSE;
    }
    env->data = data;
    env_clear_raw(env);
    return BP_OK;
}

const char *bp_envelope_get0_raw_data(const bp_envelope *env, size_t *len)
{
    if (len)
        *len = env->raw_len;
    return env->raw;
}

cJSON *bp_env_data(const bp_envelope *env)
{
    if (env->raw != NULL)
        bp_envelope_materialize((bp_envelope *)env, NULL);
    return env->data;
}

const cJSON *bp_envelope_get0_data(const bp_envelope *env)
{
    return bp_env_data(env);
}

cJSON *bp_envelope_get0_data_mut(bp_envelope *env)
{
    return bp_envelope_is_writable(env) ? bp_env_data(env) : NULL;
}

bp_status bp_envelope_set0_data(bp_envelope *env, cJSON *data)
{
    if (!bp_envelope_is_writable(env)) {
        cJSON_Delete(data);
        return BP_ERR_INVALID;
    }
    cJSON_Delete(env->data);
    env->data = data;
    env->data_b64 = 0;
    env_clear_raw(env);
    return BP_OK;
}

int bp_envelope_data_is_base64(const bp_envelope *env)
{
    return env->data_b64;
}

void bp_envelope_set_data_base64(bp_envelope *env, int on)
{
    env->data_b64 = on ? 1 : 0;
}

/* ---- attachments -------------------------------------------------------- */

bp_status bp_envelope_add_attachment(bp_envelope *env, const char *name, const char *media_type,
                                     const void *bytes, size_t size)
{
    if (!bp_envelope_is_writable(env) || (bytes == NULL && size > 0))
        return BP_ERR_INVALID;
    if (env->n_att == env->cap_att) {
        size_t cap = env->cap_att ? env->cap_att * 2 : 2;
        bp_attachment *a = realloc(env->att, cap * sizeof(*a));
        if (a == NULL)
            return BP_ERR_NOMEM;
        env->att = a;
        env->cap_att = cap;
    }
    bp_attachment *a = &env->att[env->n_att];
    unsigned char *copy = malloc(size ? size : 1);
    a->name = strdup(name ? name : "");
    a->media_type = strdup(media_type ? media_type : "application/octet-stream");
    if (copy == NULL || a->name == NULL || a->media_type == NULL) {
        free(copy);
        free((char *)a->name);
        free((char *)a->media_type);
        return BP_ERR_NOMEM;
    }
    if (size)
        memcpy(copy, bytes, size);
    a->bytes = copy;
    a->size = size;
    env->n_att++;
    return BP_OK;
}

size_t bp_envelope_attachment_count(const bp_envelope *env)
{
    return env->n_att;
}

const bp_attachment *bp_envelope_get0_attachment(const bp_envelope *env, size_t i)
{
    return i < env->n_att ? &env->att[i] : NULL;
}

/* ---- lineage ------------------------------------------------------------ */

bp_status bp_envelope_add_lineage(bp_envelope *env, const bp_lineage *entry)
{
    if (!bp_envelope_is_writable(env) || entry == NULL || entry->plugin == NULL)
        return BP_ERR_INVALID;
    if (env->n_lin == env->cap_lin) {
        size_t cap = env->cap_lin ? env->cap_lin * 2 : 4;
        bp_lineage *l = realloc(env->lin, cap * sizeof(*l));
        if (l == NULL)
            return BP_ERR_NOMEM;
        env->lin = l;
        env->cap_lin = cap;
    }
    bp_lineage *l = &env->lin[env->n_lin];
    *l = *entry;
    l->plugin = env_strdup0(entry->plugin);
    l->version = env_strdup0(entry->version);
    l->model = env_strdup0(entry->model);
    l->changed = env_strdup0(entry->changed);
    if (l->at_ms == 0)
        l->at_ms = bp_now_ms();
    if (!l->plugin || (entry->version && !l->version) || (entry->model && !l->model) ||
        (entry->changed && !l->changed)) {
        env_free_lineage(l);
        return BP_ERR_NOMEM;
    }
    env->n_lin++;
    return BP_OK;
}

void bp_envelope_clear_lineage(bp_envelope *env)
{
    if (!bp_envelope_is_writable(env))
        return;
    for (size_t i = 0; i < env->n_lin; i++)
        env_free_lineage(&env->lin[i]);
    env->n_lin = 0;
}

size_t bp_envelope_lineage_count(const bp_envelope *env)
{
    return env->n_lin;
}

const bp_lineage *bp_envelope_get0_lineage(const bp_envelope *env, size_t i)
{
    return i < env->n_lin ? &env->lin[i] : NULL;
}

void bp_env_set_times(bp_envelope *env, int64_t arrived_ms, int64_t parked_ms)
{
    env->arrived_ms = arrived_ms;
    env->parked_ms = parked_ms;
}

void bp_env_times(const bp_envelope *env, int64_t *arrived_ms, int64_t *parked_ms)
{
    *arrived_ms = env->arrived_ms;
    *parked_ms = env->parked_ms;
}
