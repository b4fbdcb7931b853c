/* CloudEvents 1.0 binary content mode, Kafka protocol binding: attributes
 * travel as "ce_<name>" headers, datacontenttype as "content-type", data as
 * the record value.
 *
 * Reading builds the same cJSON object a structured-mode event would give and
 * runs it through the structured-mode validator, so both modes accept the same
 * events and report the same messages. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <backplane/envelope.h>
#include "envelope_int.h"
#include "envelope_priv.h"
#include "json_print.h"
#include "strutil.h"

/* "application/json", "application/cloudevents+json; charset=utf-8", ...:
 * compared without parameters and case-insensitively (media types are). */
static int eb_is_json_media_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    while (n > 0 && (*ct == ' ' || *ct == '\t')) {
        ct++;
        n--;
    }
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int eb_is_text_media_type(const char *ct)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, "text/", 5) == 0;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL is refused too because a cJSON string cannot hold it. */
int bp_ce_is_utf8_text(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* ---- writing ------------------------------------------------------------- */

/* Headers are untyped text. Integral numbers are written as integers (what a
 * Kafka consumer expects for a CloudEvents Integer); other numbers with the
 * fewest digits that read back as the same double. */
static void eb_format_number(double d, char buf[40])
{
    if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0) {
        snprintf(buf, 40, "%.0f", d == 0 ? 0.0 : d); /* 0.0: no "-0" */
        return;
    }
    snprintf(buf, 40, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, 40, "%.17g", d);
}

/* The record value for env's data; *value NULL when there is none. */
static bp_status eb_value(const bp_envelope *env, unsigned char **value, size_t *value_len)
{
    const cJSON *data = bp_envelope_get0_data(env);
    const char *ct = bp_envelope_get0_attr(env, "datacontenttype");
    if (data == NULL)
        return BP_OK;
    if (bp_envelope_data_is_base64(env) && cJSON_IsString(data))
        return bp_ce_base64_decode(data->valuestring, strlen(data->valuestring), value,
                                   value_len);
    if (cJSON_IsString(data) && ct != NULL && !eb_is_json_media_type(ct)) {
        size_t len = strlen(data->valuestring);
        *value = malloc(len + 1);
        if (*value == NULL)
            return BP_ERR_NOMEM;
        memcpy(*value, data->valuestring, len + 1);
        *value_len = len;
        return BP_OK;
    }
    /* The fast printer: cJSON's prints numbers through sprintf+sscanf, which
     * was a fifth of a Kafka relay's CPU. */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bp_status st = bp_json_append(data, &buf, &len, &cap);
    if (st != BP_OK) {
        free(buf);
        return st;
    }
    *value = (unsigned char *)buf;
    *value_len = len;
    return BP_OK;
}

/* One header to write: its name is prefix + name (lengths known). */
typedef struct eb_item {
    const char *prefix, *name, *value;
    size_t plen, nlen, len;
} eb_item;

bp_status bp_envelope_to_binary(const bp_envelope *env, bp_header **headers, size_t *n,
                                unsigned char **value, size_t *value_len)
{
    if (env == NULL || headers == NULL || n == NULL || value == NULL || value_len == NULL)
        return BP_ERR_INVALID;
    *headers = NULL;
    *n = 0;
    *value = NULL;
    *value_len = 0;

    /* Header names of the context attributes, by index of bp_ce_context_attrs. */
#define EB_NAME(s) {s, sizeof(s) - 1}
    static const struct {
        const char *name;
        size_t len;
    } hname[BP_ENV_N_ATTRS] = {
        [BP_ENV_SPECVERSION] = EB_NAME("ce_specversion"), [BP_ENV_ID] = EB_NAME("ce_id"),
        [BP_ENV_SOURCE] = EB_NAME("ce_source"),           [BP_ENV_TYPE] = EB_NAME("ce_type"),
        [BP_ENV_SUBJECT] = EB_NAME("ce_subject"),         [BP_ENV_TIME] = EB_NAME("ce_time"),
        [BP_ENV_DATACONTENTTYPE] = EB_NAME("content-type"),
        [BP_ENV_DATASCHEMA] = EB_NAME("ce_dataschema"),
    };
#undef EB_NAME
    size_t n_ext = bp_envelope_ext_count(env);
    /* Collect first, then one allocation holds the array and every string:
     * a record's headers cost one malloc and one free, not two per header. */
    enum { EB_STACK = 24 };
    eb_item stack_items[EB_STACK];
    char stack_nums[EB_STACK][40];
    eb_item *items = stack_items;
    char (*nums)[40] = stack_nums;
    void *heap = NULL;
    size_t max = BP_ENV_N_ATTRS + n_ext;
    if (max > EB_STACK) {
        heap = malloc(max * (sizeof(eb_item) + 40));
        if (heap == NULL)
            return BP_ERR_NOMEM;
        items = heap;
        nums = (char (*)[40])(items + max);
    }
    size_t count = 0, bytes = 0;
    for (int i = 0; i < BP_ENV_N_ATTRS; i++) {
        const char *v = env->attr[i].node.valuestring;
        if (v != NULL)
            items[count++] = (eb_item){"", hname[i].name, v, 0, hname[i].len, env->attr[i].len};
    }
    for (size_t i = 0; i < n_ext; i++) {
        const char *name = bp_envelope_ext_name(env, i);
        const cJSON *v = name ? bp_envelope_get0_ext(env, name) : NULL;
        const char *text;
        if (cJSON_IsString(v))
            text = v->valuestring;
        else if (cJSON_IsNumber(v)) {
            eb_format_number(v->valuedouble, nums[i]);
            text = nums[i];
        } else if (cJSON_IsBool(v))
            text = cJSON_IsTrue(v) ? "true" : "false";
        else
            continue;
        items[count++] = (eb_item){"ce_", name, text, 3, strlen(name), strlen(text)};
    }
    for (size_t i = 0; i < count; i++)
        bytes += items[i].plen + items[i].nlen + 1 + items[i].len + 1;
    bp_header *h = malloc((count ? count : 1) * sizeof(*h) + bytes);
    if (h == NULL) {
        free(heap);
        return BP_ERR_NOMEM;
    }
    char *p = (char *)(h + (count ? count : 1));
    for (size_t i = 0; i < count; i++) {
        const eb_item *it = &items[i];
        h[i].name = p;
        memcpy(p, it->prefix, it->plen);
        memcpy(p + it->plen, it->name, it->nlen + 1);
        p += it->plen + it->nlen + 1;
        h[i].value = (unsigned char *)p;
        memcpy(p, it->value, it->len);
        p[it->len] = '\0'; /* not part of the value; convenient for C readers */
        h[i].len = it->len;
        p += it->len + 1;
    }
    free(heap);
    bp_status st = eb_value(env, value, value_len);
    if (st != BP_OK) {
        free(h);
        *value = NULL;
        *value_len = 0;
        return st;
    }
    *headers = h;
    *n = count;
    return BP_OK;
}

/* The array and its strings are one allocation (see bp_envelope_to_binary). */
void bp_headers_free(bp_header *headers, size_t n)
{
    (void)n;
    free(headers);
}

/* ---- reading ------------------------------------------------------------- */

/* Adds one header to the attribute object as a string member. All values stay
 * strings: the binding carries no types, so "ce_count: 42" is the string
 * "42", and a number extension written by to_binary comes back as a string. */
static bp_status eb_add_attr(cJSON *obj, const char *attr, const bp_header *h, char **errmsg)
{
    if (strcmp(attr, "data") == 0 || strcmp(attr, "data_base64") == 0 ||
        strcmp(attr, "bpattachments") == 0 || strcmp(attr, "bplineage") == 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "header '%s' does not name a CloudEvents attribute",
                      h->name);
    if (cJSON_GetObjectItemCaseSensitive(obj, attr) != NULL)
        return bp_set_err(errmsg, BP_ERR_INVALID, "duplicate header '%s'", h->name);
    if (h->value == NULL && h->len > 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "header '%s' has no value", h->name);
    if (h->len > 0 && memchr(h->value, '\0', h->len) != NULL)
        return bp_set_err(errmsg, BP_ERR_INVALID, "header '%s' contains a NUL byte", h->name);
    char *v = malloc(h->len + 1);
    if (v == NULL)
        return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
    if (h->len > 0)
        memcpy(v, h->value, h->len);
    v[h->len] = '\0';
    cJSON *s = cJSON_CreateString(v);
    free(v);
    if (s == NULL || !cJSON_AddItemToObject(obj, attr, s)) {
        cJSON_Delete(s);
        return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
    }
    return BP_OK;
}

static bp_status eb_headers_to_object(const bp_header *headers, size_t n, cJSON *obj,
                                      char **errmsg)
{
    for (size_t i = 0; i < n; i++) {
        const bp_header *h = &headers[i];
        if (h->name == NULL)
            continue;
        bp_status st = BP_OK;
        if (strncasecmp(h->name, "ce_", 3) == 0) {
            /* Attribute names are lower case; accept "ce_ID" like HTTP does. */
            char *attr = strdup(h->name + 3);
            if (attr == NULL)
                return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
            for (char *p = attr; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            st = eb_add_attr(obj, attr, h, errmsg);
            free(attr);
        } else if (strcasecmp(h->name, "content-type") == 0) {
            st = eb_add_attr(obj, "datacontenttype", h, errmsg);
        }
        if (st != BP_OK)
            return st;
    }
    return BP_OK;
}

/* Turns the record value into data: JSON when the content type says JSON (or
 * there is none: the binding's default), a string for valid UTF-8 "text/..." values, and
 * base64 (data_base64) for everything else, so that no byte is lost. */
static bp_status eb_set_data(bp_envelope *env, const unsigned char *value, size_t len,
                             char **errmsg)
{
    const char *ct = bp_envelope_get0_attr(env, "datacontenttype");
    if (ct == NULL || eb_is_json_media_type(ct)) {
        /* An empty record value cannot be JSON: it means "no data". */
        if (len == 0)
            return BP_OK;
        cJSON *data;
        char *inner = NULL;
        bp_status st = bp_ce_json_parse((const char *)value, len, &data, errmsg ? &inner : NULL);
        if (st != BP_OK) {
            bp_set_err(errmsg, BP_ERR_PARSE, "value is not valid JSON: %s",
                   inner ? inner : bp_status_str(st));
            free(inner);
            return BP_ERR_PARSE;
        }
        st = bp_envelope_set0_data(env, data);
        return st == BP_OK ? BP_OK : bp_set_err(errmsg, st, "cannot set data: %s", bp_status_str(st));
    }
    cJSON *data;
    int b64 = 0;
    if (eb_is_text_media_type(ct) && bp_ce_is_utf8_text(value, len)) {
        char *s = malloc(len + 1);
        if (s == NULL)
            return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
        if (len > 0)
            memcpy(s, value, len);
        s[len] = '\0';
        data = cJSON_CreateString(s);
        free(s);
    } else {
        char *s = bp_ce_base64_encode(value, len, NULL);
        data = s ? cJSON_CreateString(s) : NULL;
        free(s);
        b64 = 1;
    }
    if (data == NULL)
        return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
    bp_status st = bp_envelope_set0_data(env, data);
    if (st != BP_OK)
        return bp_set_err(errmsg, st, "cannot set data: %s", bp_status_str(st));
    bp_envelope_set_data_base64(env, b64);
    return BP_OK;
}

bp_status bp_envelope_from_binary(const bp_header *headers, size_t n, const void *value,
                                  size_t value_len, bp_envelope **out, char **errmsg)
{
    if (errmsg != NULL)
        *errmsg = NULL;
    if (out == NULL)
        return bp_set_err(errmsg, BP_ERR_INVALID, "no output pointer");
    *out = NULL;
    if (headers == NULL && n > 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "no headers");
    if (value == NULL && value_len > 0)
        return bp_set_err(errmsg, BP_ERR_INVALID, "no value");
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL)
        return bp_set_err(errmsg, BP_ERR_NOMEM, "out of memory");
    bp_status st = eb_headers_to_object(headers, n, obj, errmsg);
    bp_envelope *env = NULL;
    /* Attributes first: "missing required attribute" says more about a
     * record that is not a CloudEvent than a complaint about its value. */
    if (st == BP_OK)
        st = bp_ce_envelope_from_cjson(obj, &env, errmsg);
    cJSON_Delete(obj);
    /* A NULL value is Kafka's "no value" (a tombstone): an event without data. */
    if (st == BP_OK && value != NULL)
        st = eb_set_data(env, value, value_len, errmsg);
    if (st != BP_OK) {
        bp_envelope_unref(env);
        return st;
    }
    *out = env;
    return BP_OK;
}
