/* CloudEvents 1.0 JSON format (structured content mode) and JSON batch format.
 *
 * Writing builds a cJSON tree that *references* the envelope's data instead of
 * copying it, so serialising a large payload costs one print, not a deep copy.
 * Reading validates in a fixed order (required attributes, attribute types,
 * specversion, then members in document order) so that a given bad input
 * always yields the same message; tests and users grep for those messages.
 *
 * The functions named bp_ce_* below (not static) are shared with
 * envelope_binary.c, which must apply exactly the same validation. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include "envelope_int.h"
#include "envelope_priv.h"
#include "json_print.h"
#include "strutil.h"

/* JSON can represent integers exactly only up to 2^53 once they pass through a
 * double (cJSON keeps every number as a double). */
#define EJ_MAX_EXACT_INT 9007199254740992.0

/* ---- messages ------------------------------------------------------------ */

/* ---- base64 (RFC 4648, standard alphabet, padded) ------------------------- */

static const char ej_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int ej_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Returns a malloc'ed NUL-terminated string; *out_len (optional) excludes the NUL. */
char *bp_ce_base64_encode(const unsigned char *bytes, size_t size, size_t *out_len)
{
    if (size > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    size_t n = (size + 2) / 3 * 4;
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= size; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
        out[o++] = ej_b64_alphabet[v >> 18 & 63];
        out[o++] = ej_b64_alphabet[v >> 12 & 63];
        out[o++] = ej_b64_alphabet[v >> 6 & 63];
        out[o++] = ej_b64_alphabet[v & 63];
    }
    if (size - i == 1) {
        uint32_t v = (uint32_t)bytes[i] << 16;
        out[o++] = ej_b64_alphabet[v >> 18 & 63];
        out[o++] = ej_b64_alphabet[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (size - i == 2) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8;
        out[o++] = ej_b64_alphabet[v >> 18 & 63];
        out[o++] = ej_b64_alphabet[v >> 12 & 63];
        out[o++] = ej_b64_alphabet[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return out;
}

/* Strict decoder: length a multiple of 4, padding only at the end, no
 * whitespace, and the unused bits before the padding must be zero. Being
 * strict makes every accepted text the unique encoding of its bytes, so a
 * value read and written again comes out unchanged.
 * *out is malloc'ed (never NULL on success, even for zero bytes). */
bp_status bp_ce_base64_decode(const char *text, size_t len, unsigned char **out,
                              size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (len % 4 != 0)
        return BP_ERR_INVALID;
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (buf == NULL)
        return BP_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        const unsigned char *q = (const unsigned char *)text + i;
        int a = ej_b64_value(q[0]), b = ej_b64_value(q[1]);
        int c = ej_b64_value(q[2]), d = ej_b64_value(q[3]);
        int pad = 0;
        if (last && q[3] == '=') {
            pad = q[2] == '=' ? 2 : 1;
        }
        if (a < 0 || b < 0 || (pad < 2 && c < 0) || (pad < 1 && d < 0) ||
            (pad == 2 && (b & 15) != 0) || (pad == 1 && (c & 3) != 0)) {
            free(buf);
            return BP_ERR_INVALID;
        }
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12;
        buf[o++] = (unsigned char)(v >> 16);
        if (pad < 2) {
            v |= (uint32_t)c << 6;
            buf[o++] = (unsigned char)(v >> 8 & 255);
        }
        if (pad < 1) {
            v |= (uint32_t)d;
            buf[o++] = (unsigned char)(v & 255);
        }
    }
    *out = buf;
    *out_size = o;
    return BP_OK;
}

static int ej_is_valid_base64(const char *s)
{
    unsigned char *bytes;
    size_t n;
    if (bp_ce_base64_decode(s, strlen(s), &bytes, &n) != BP_OK)
        return 0;
    free(bytes);
    return 1;
}

/* ---- depth --------------------------------------------------------------- */

/* 1 when the containers of it (it itself counts as one) nest at most max deep. */
static int ej_depth_ok(const cJSON *it, int max)
{
    if (!cJSON_IsObject(it) && !cJSON_IsArray(it))
        return 1;
    if (max < 1)
        return 0;
    for (const cJSON *c = it->child; c; c = c->next)
        if (!ej_depth_ok(c, max - 1))
            return 0;
    return 1;
}

/* The same over JSON text, without parsing it: brackets outside strings.
 * *at: the offset of the first bracket too deep. */
static int ej_text_depth_ok(const char *s, size_t n, int max, size_t *at)
{
    if (n <= (size_t)max)
        return 1;   /* too short to hold max + 1 brackets: most records, no scan */
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                *at = i;
                return 0;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

bp_status bp_envelope_check_depth(const bp_envelope *env, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    int max = BP_JSON_MAX_DEPTH - 1;
    size_t at = 0;
    int ok = env->raw ? ej_text_depth_ok(env->raw, env->raw_len, max, &at)
                      : ej_depth_ok(env->data, max);
    if (ok)
        return BP_OK;
    char where[300] = "";
    if (env->raw && env->raw_origin)   /* "FILE:LINE:COL: " like a parse error */
        snprintf(where, sizeof(where), "%s:%zu: ", env->raw_origin, at + 1);
    if (errmsg &&
        asprintf(errmsg, "%sdata nested deeper than %d levels (an envelope holds at most %d)",
                 where, max, BP_JSON_MAX_DEPTH) < 0)
        *errmsg = NULL;
    return BP_ERR_DEPTH;
}

/* ---- writing ----------------------------------------------------------- */

/* Adds a borrowed node under key without copying it: the reference is freed
 * with the temporary tree, the envelope's node is not. cJSON's API is not
 * const-correct; the node is only read (printed). */
static int ej_add_ref(cJSON *obj, const char *key, const cJSON *item)
{
    return cJSON_AddItemReferenceToObject(obj, key, (cJSON *)item) ? 1 : 0;
}

static int ej_add_attachments(cJSON *obj, const bp_envelope *env)
{
    size_t n = bp_envelope_attachment_count(env);
    if (n == 0)
        return 1;
    cJSON *arr = cJSON_AddArrayToObject(obj, "bpattachments");
    if (arr == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const bp_attachment *a = bp_envelope_get0_attachment(env, i);
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return 0;
        }
        char *b64 = bp_ce_base64_encode(a->bytes, a->size, NULL);
        int ok = b64 != NULL && cJSON_AddStringToObject(o, "name", a->name ? a->name : "") &&
                 cJSON_AddStringToObject(o, "mediatype", a->media_type ? a->media_type : "") &&
                 cJSON_AddStringToObject(o, "data_base64", b64);
        free(b64);
        if (!ok)
            return 0;
    }
    return 1;
}

static int ej_add_lineage(cJSON *obj, const bp_envelope *env)
{
    size_t n = bp_envelope_lineage_count(env);
    if (n == 0)
        return 1;
    cJSON *arr = cJSON_AddArrayToObject(obj, "bplineage");
    if (arr == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const bp_lineage *l = bp_envelope_get0_lineage(env, i);
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return 0;
        }
        if (!cJSON_AddStringToObject(o, "plugin", l->plugin ? l->plugin : ""))
            return 0;
        if (l->version && !cJSON_AddStringToObject(o, "version", l->version))
            return 0;
        if (l->model && !cJSON_AddStringToObject(o, "model", l->model))
            return 0;
        if (l->confidence >= 0 && !cJSON_AddNumberToObject(o, "confidence", l->confidence))
            return 0;
        if (l->changed && !cJSON_AddStringToObject(o, "changed", l->changed))
            return 0;
        /* Exact for any realistic timestamp (|ms| < 2^53, i.e. until year 287396). */
        if (!cJSON_AddNumberToObject(o, "at", (double)l->at_ms))
            return 0;
    }
    return 1;
}

/* Names whose top-level member means something else in structured mode; an
 * extension of that name (only possible through the API) cannot be written
 * without producing an ambiguous document, so it is left out. */
static int ej_is_reserved_member(const char *name)
{
    return strcmp(name, "data") == 0 || strcmp(name, "data_base64") == 0 ||
           strcmp(name, "bpattachments") == 0 || strcmp(name, "bplineage") == 0;
}

/* The structured-mode object for env; NULL when out of memory. Data and
 * extension values are references into env, so env must outlive the tree. */
static cJSON *ej_build(const bp_envelope *env, int flags)
{
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL)
        return NULL;
    for (size_t i = 0; bp_ce_context_attrs[i]; i++) {
        const char *v = bp_envelope_get0_attr(env, bp_ce_context_attrs[i]);
        if (v && !cJSON_AddStringToObject(obj, bp_ce_context_attrs[i], v))
            goto fail;
    }
    size_t n = bp_envelope_ext_count(env);
    for (size_t i = 0; i < n; i++) {
        const char *name = bp_envelope_ext_name(env, i);
        const cJSON *v = name ? bp_envelope_get0_ext(env, name) : NULL;
        if (v == NULL || ej_is_reserved_member(name))
            continue;
        if (!ej_add_ref(obj, name, v))
            goto fail;
    }
    const cJSON *data = bp_envelope_get0_data(env);
    if (data != NULL) {
        if (bp_envelope_data_is_base64(env) && cJSON_IsString(data)) {
            if (!cJSON_AddStringToObject(obj, "data_base64", data->valuestring))
                goto fail;
        } else if (!ej_add_ref(obj, "data", data)) {
            goto fail;
        }
    }
    if (flags & BP_SER_FULL) {
        if (!ej_add_attachments(obj, env) || !ej_add_lineage(obj, env))
            goto fail;
    }
    return obj;
fail:
    cJSON_Delete(obj);
    return NULL;
}

static char *ej_print(cJSON *root, int flags)
{
    if (flags & BP_SER_PRETTY)
        return cJSON_Print(root);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (bp_json_append(root, &buf, &len, &cap) != BP_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *bp_envelope_to_json(const bp_envelope *env, int flags)
{
    if (env == NULL)
        return NULL;
    cJSON *obj = ej_build(env, flags);
    if (obj == NULL)
        return NULL;
    char *text = ej_print(obj, flags);
    cJSON_Delete(obj);
    return text;
}

char *bp_envelope_batch_to_json(bp_envelope *const *envs, size_t n, int flags)
{
    if (envs == NULL && n > 0)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *obj = envs[i] ? ej_build(envs[i], flags) : NULL;
        if (obj == NULL || !cJSON_AddItemToArray(arr, obj)) {
            cJSON_Delete(obj);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *text = ej_print(arr, flags);
    cJSON_Delete(arr);
    return text;
}

/* ---- parsing ------------------------------------------------------------- */

static int ej_is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Message for a syntax error at byte offset pos. Lines are counted by '\n',
 * columns in bytes (not characters), both from 1, as editors show them. */
static bp_status ej_syntax_error(const char *text, size_t len, size_t pos, const char *what,
                                 char **errmsg)
{
    size_t line = 1, col = 1;
    if (pos > len)
        pos = len;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return bp_set_err(errmsg, BP_ERR_PARSE, "invalid JSON at line %zu, column %zu%s", line, col,
                  what);
}

/* Parses exactly len bytes (text need not be NUL-terminated): one JSON value,
 * optionally surrounded by whitespace. */
bp_status bp_ce_json_parse(const char *text, size_t len, cJSON **root, char **errmsg)
{
    *root = NULL;
    if (text == NULL && len > 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "no input text");
    if (len == 0)
        return ej_syntax_error("", 0, 0, ": empty input", errmsg);
    /* cJSON skips every byte <= 0x20 as whitespace and copies raw control
     * characters into strings (a NUL then silently cuts the string short).
     * RFC 8259 allows neither, so the first such byte is an error unless
     * cJSON already failed before it. */
    size_t ctl = 0;
    while (ctl < len && ((unsigned char)text[ctl] >= 0x20 || ej_is_json_space(text[ctl])))
        ctl++;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t pos = (end != NULL && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
    if (json == NULL && pos < ctl)
        return ej_syntax_error(text, len, pos, "", errmsg);
    if (ctl < len) {
        cJSON_Delete(json);
        return ej_syntax_error(text, len, ctl, ": control character", errmsg);
    }
    if (json == NULL)
        return ej_syntax_error(text, len, pos, "", errmsg);
    while (pos < len && ej_is_json_space(text[pos]))
        pos++;
    if (pos < len) {
        cJSON_Delete(json);
        return ej_syntax_error(text, len, pos, ": unexpected data after the JSON value", errmsg);
    }
    *root = json;
    return BP_OK;
}

/* Unlinks item from obj so that it can be handed to a set0 function; the key
 * is dropped because the envelope stores the node under its own name. */
static cJSON *ej_detach(cJSON *obj, cJSON *item)
{
    cJSON *it = cJSON_DetachItemViaPointer(obj, item);
    if (it != NULL && it->string != NULL && !(it->type & cJSON_StringIsConst)) {
        cJSON_free(it->string);
        it->string = NULL;
    }
    return it;
}

/* CloudEvents JSON format: a member whose value is null is treated as absent. */
static cJSON *ej_member(const cJSON *obj, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNull(v) ? NULL : v;
}

/* An optional string member: absent/null gives NULL; anything else that is not
 * a string is an error (*bad set). */
static const char *ej_opt_string(const cJSON *obj, const char *name, int *bad)
{
    const cJSON *v = ej_member(obj, name);
    if (v == NULL)
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

static bp_status ej_read_attachments(bp_envelope *env, const cJSON *arr, char **errmsg)
{
    if (!cJSON_IsArray(arr))
        return bp_set_err(errmsg, BP_ERR_INVALID, "bpattachments must be an array");
    size_t i = 0;
    for (const cJSON *a = arr->child; a; a = a->next, i++) {
        if (!cJSON_IsObject(a))
            return bp_set_err(errmsg, BP_ERR_INVALID, "bpattachments[%zu] must be an object", i);
        int bad = 0;
        const char *name = ej_opt_string(a, "name", &bad);
        if (name == NULL)
            return bp_set_err(errmsg, BP_ERR_INVALID, "bpattachments[%zu]: 'name' must be a string",
                          i);
        const char *mt = ej_opt_string(a, "mediatype", &bad);
        if (mt == NULL)
            return bp_set_err(errmsg, BP_ERR_INVALID,
                          "bpattachments[%zu]: 'mediatype' must be a string", i);
        const char *b64 = ej_opt_string(a, "data_base64", &bad);
        if (b64 == NULL)
            return bp_set_err(errmsg, BP_ERR_INVALID,
                          "bpattachments[%zu]: 'data_base64' must be a string", i);
        unsigned char *bytes;
        size_t size;
        bp_status st = bp_ce_base64_decode(b64, strlen(b64), &bytes, &size);
        if (st == BP_ERR_NOMEM)
            return bp_set_err(errmsg, st, "out of memory");
        if (st != BP_OK)
            return bp_set_err(errmsg, BP_ERR_INVALID, "bpattachments[%zu]: invalid data_base64", i);
        st = bp_envelope_add_attachment(env, name, mt, bytes, size);
        free(bytes);
        if (st != BP_OK)
            return bp_set_err(errmsg, st, "bpattachments[%zu]: cannot add attachment: %s", i,
                          bp_status_str(st));
    }
    return BP_OK;
}

static bp_status ej_read_lineage(bp_envelope *env, const cJSON *arr, char **errmsg)
{
    if (!cJSON_IsArray(arr))
        return bp_set_err(errmsg, BP_ERR_INVALID, "bplineage must be an array");
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsObject(e))
            return bp_set_err(errmsg, BP_ERR_INVALID, "bplineage[%zu] must be an object", i);
        bp_lineage l = {.confidence = -1};
        int bad = 0;
        l.plugin = ej_opt_string(e, "plugin", &bad);
        if (l.plugin == NULL)
            return bp_set_err(errmsg, BP_ERR_INVALID, "bplineage[%zu]: 'plugin' must be a string", i);
        static const char *const optional[] = {"version", "model", "changed"};
        const char **dst[] = {&l.version, &l.model, &l.changed};
        for (size_t k = 0; k < 3; k++) {
            *dst[k] = ej_opt_string(e, optional[k], &bad);
            if (bad)
                return bp_set_err(errmsg, BP_ERR_INVALID, "bplineage[%zu]: '%s' must be a string", i,
                              optional[k]);
        }
        const cJSON *c = ej_member(e, "confidence");
        if (c != NULL) {
            /* Negative means "not applicable" and is written by omission. */
            if (!cJSON_IsNumber(c) || !(c->valuedouble <= 1.0) || !isfinite(c->valuedouble))
                return bp_set_err(errmsg, BP_ERR_INVALID,
                              "bplineage[%zu]: 'confidence' must be a number not above 1", i);
            l.confidence = c->valuedouble;
        }
        const cJSON *at = ej_member(e, "at");
        if (at != NULL) {
            double d = at->valuedouble;
            /* The range check comes first: converting an out-of-range double
             * to int64_t is undefined behaviour. */
            if (!cJSON_IsNumber(at) || !(fabs(d) <= EJ_MAX_EXACT_INT) || d != floor(d))
                return bp_set_err(errmsg, BP_ERR_INVALID,
                              "bplineage[%zu]: 'at' must be an integer (ms since the epoch)", i);
            l.at_ms = (int64_t)d;
        }
        bp_status st = bp_envelope_add_lineage(env, &l);
        if (st != BP_OK)
            return bp_set_err(errmsg, st, "bplineage[%zu]: cannot add lineage: %s", i,
                          bp_status_str(st));
    }
    return BP_OK;
}

static bp_status ej_set_attr(bp_envelope *env, const char *name, const char *value,
                             char **errmsg)
{
    bp_status st = bp_envelope_set_attr(env, name, value);
    if (st == BP_OK)
        return BP_OK;
    if (st == BP_ERR_NOMEM)
        return bp_set_err(errmsg, st, "out of memory");
    if (strcmp(name, "time") == 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "attribute 'time' is not an RFC 3339 timestamp");
    if (value[0] == '\0')
        return bp_set_err(errmsg, BP_ERR_INVALID, "attribute '%s' must not be empty", name);
    return bp_set_err(errmsg, BP_ERR_INVALID, "invalid value for attribute '%s'", name);
}

static bp_status ej_read_data(bp_envelope *env, cJSON *obj, char **errmsg)
{
    cJSON *data = ej_member(obj, "data");
    cJSON *b64 = ej_member(obj, "data_base64");
    if (data != NULL && b64 != NULL)
        return bp_set_err(errmsg, BP_ERR_INVALID, "both data and data_base64 are present");
    if (b64 != NULL) {
        if (!cJSON_IsString(b64))
            return bp_set_err(errmsg, BP_ERR_INVALID, "data_base64 must be a string");
        if (!ej_is_valid_base64(b64->valuestring))
            return bp_set_err(errmsg, BP_ERR_INVALID, "invalid data_base64");
        /* Kept as text: it is written back unchanged, and only the binary
         * mode needs the bytes. */
        bp_status st = bp_envelope_set0_data(env, ej_detach(obj, b64));
        if (st != BP_OK)
            return bp_set_err(errmsg, st, "cannot set data: %s", bp_status_str(st));
        bp_envelope_set_data_base64(env, 1);
        return BP_OK;
    }
    if (data != NULL) {
        bp_status st = bp_envelope_set0_data(env, ej_detach(obj, data));
        if (st != BP_OK)
            return bp_set_err(errmsg, st, "cannot set data: %s", bp_status_str(st));
    }
    return BP_OK;
}

static bp_status ej_read_extensions(bp_envelope *env, cJSON *obj, char **errmsg)
{
    cJSON *next;
    for (cJSON *m = obj->child; m; m = next) {
        next = m->next;
        const char *name = m->string ? m->string : "";
        if (bp_ce_is_context_attr(name) || ej_is_reserved_member(name) || cJSON_IsNull(m))
            continue;
        if (!bp_ce_is_valid_ext_name(name))
            return bp_set_err(errmsg, BP_ERR_INVALID,
                          "invalid extension attribute name '%s': use a-z and 0-9, at most 20 "
                          "characters",
                          name);
        if (!cJSON_IsString(m) && !cJSON_IsNumber(m) && !cJSON_IsBool(m))
            return bp_set_err(errmsg, BP_ERR_INVALID,
                          "extension attribute '%s' must be a string, number or boolean", name);
        /* 1e999 parses as infinity, which JSON cannot write back. */
        if (cJSON_IsNumber(m) && !isfinite(m->valuedouble))
            return bp_set_err(errmsg, BP_ERR_INVALID,
                          "extension attribute '%s' must be a finite number", name);
        /* name points into m's key, which ej_detach frees: copy it first. */
        char *key = strdup(name);
        if (key == NULL)
            return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
        bp_status st = bp_envelope_set0_ext(env, key, ej_detach(obj, m));
        if (st != BP_OK) {
            bp_status r = st == BP_ERR_NOMEM
                              ? bp_set_err(errmsg, st, "out of memory")
                              : bp_set_err(errmsg, st, "invalid extension attribute '%s'", key);
            free(key);
            return r;
        }
        free(key);
    }
    return BP_OK;
}

/* Validates a structured-mode object and builds the envelope. obj is modified
 * (data and extension values are moved into the envelope); the caller still
 * deletes it. On failure *out is NULL. */
bp_status bp_ce_envelope_from_cjson(cJSON *obj, bp_envelope **out, char **errmsg)
{
    static const char *const required[] = {"id", "source", "specversion", "type", NULL};
    *out = NULL;
    if (!cJSON_IsObject(obj))
        return bp_set_err(errmsg, BP_ERR_INVALID, "a CloudEvent must be a JSON object");
    for (size_t i = 0; required[i]; i++)
        if (ej_member(obj, required[i]) == NULL)
            return bp_set_err(errmsg, BP_ERR_INVALID, "missing required attribute '%s'", required[i]);
    for (size_t i = 0; bp_ce_context_attrs[i]; i++) {
        const cJSON *v = ej_member(obj, bp_ce_context_attrs[i]);
        if (v != NULL && !cJSON_IsString(v))
            return bp_set_err(errmsg, BP_ERR_INVALID, "attribute '%s' must be a string",
                          bp_ce_context_attrs[i]);
    }
    const char *sv = ej_member(obj, "specversion")->valuestring;
    if (strcmp(sv, "1.0") != 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "unsupported specversion '%s' (expected '1.0')", sv);

    bp_envelope *env = bp_envelope_new();
    if (env == NULL)
        return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
    bp_status st = BP_OK;
    for (size_t i = 0; st == BP_OK && bp_ce_context_attrs[i]; i++) {
        const cJSON *v = ej_member(obj, bp_ce_context_attrs[i]);
        if (v != NULL)
            st = ej_set_attr(env, bp_ce_context_attrs[i], v->valuestring, errmsg);
    }
    if (st == BP_OK)
        st = ej_read_extensions(env, obj, errmsg);
    if (st == BP_OK)
        st = ej_read_data(env, obj, errmsg);
    const cJSON *att = ej_member(obj, "bpattachments");
    if (st == BP_OK && att != NULL)
        st = ej_read_attachments(env, att, errmsg);
    const cJSON *lin = ej_member(obj, "bplineage");
    if (st == BP_OK && lin != NULL)
        st = ej_read_lineage(env, lin, errmsg);
    if (st != BP_OK) {
        bp_envelope_unref(env);
        return st;
    }
    *out = env;
    return BP_OK;
}

bp_status bp_envelope_from_json(const char *text, size_t len, bp_envelope **out,
                                char **errmsg)
{
    if (errmsg != NULL)
        *errmsg = NULL;
    if (out == NULL)
        return bp_set_err(errmsg, BP_ERR_INVALID, "no output pointer");
    *out = NULL;
    cJSON *root;
    bp_status st = bp_ce_json_parse(text, len, &root, errmsg);
    if (st != BP_OK)
        return st;
    st = bp_ce_envelope_from_cjson(root, out, errmsg);
    cJSON_Delete(root);
    return st;
}

bp_status bp_envelope_batch_from_json(const char *text, size_t len, bp_envelope ***out,
                                      size_t *n, char **errmsg)
{
    if (errmsg != NULL)
        *errmsg = NULL;
    if (out == NULL || n == NULL)
        return bp_set_err(errmsg, BP_ERR_INVALID, "no output pointer");
    *out = NULL;
    *n = 0;
    cJSON *root;
    bp_status st = bp_ce_json_parse(text, len, &root, errmsg);
    if (st != BP_OK)
        return st;
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return bp_set_err(errmsg, BP_ERR_INVALID, "a batch must be a JSON array");
    }
    size_t count = (size_t)cJSON_GetArraySize(root);
    /* At least one slot so that success always hands back a non-NULL array. */
    bp_envelope **envs = calloc(count ? count : 1, sizeof(*envs));
    if (envs == NULL) {
        cJSON_Delete(root);
        return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
    }
    size_t i = 0;
    for (cJSON *e = root->child; e; e = e->next, i++) {
        char *inner = NULL;
        st = bp_ce_envelope_from_cjson(e, &envs[i], errmsg ? &inner : NULL);
        if (st != BP_OK) {
            bp_set_err(errmsg, st, "event %zu: %s", i, inner ? inner : bp_status_str(st));
            free(inner);
            break;
        }
    }
    cJSON_Delete(root);
    if (st != BP_OK) {
        for (size_t k = 0; k < count; k++)
            bp_envelope_unref(envs[k]);
        free(envs);
        return st;
    }
    *out = envs;
    *n = count;
    return BP_OK;
}

char *bp_envelope_lineage_json(const bp_envelope *env)
{
    if (bp_envelope_lineage_count(env) == 0)
        return NULL;
    cJSON *holder = cJSON_CreateObject();
    char *text = NULL;
    if (holder && ej_add_lineage(holder, env))
        text = ej_print(cJSON_GetObjectItemCaseSensitive(holder, "bplineage"), 0);
    cJSON_Delete(holder);
    return text;
}
