/* The workbench's view of parked records. See review_view.h. */
#include "review_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/flags.h>

#include "clock.h"
#include "envelope_int.h"
#include "page_render.h"
#include "runtime_int.h"
#include "site.h"
#include "strutil.h"

#define RV_DEFAULT_SLA_MS (24LL * 3600 * 1000)
#define RV_DEFAULT_THRESHOLD 0.8

static const bp_site_route *rv_route(struct bp_runtime *rt, const char *name)
{
    bp_route *r = rt && name ? bp_runtime_find_route(rt, name) : NULL;
    return r ? r->cfg : NULL;
}

static int64_t rv_sla(const bp_site_route *r)
{
    return r && r->review_sla_ms > 0 ? r->review_sla_ms : RV_DEFAULT_SLA_MS;
}

static double rv_threshold(const bp_site_route *r)
{
    return r && r->review_sla_ms > 0 ? r->review_threshold : RV_DEFAULT_THRESHOLD;
}

/* The extracted-field groups of data (<backplane/flags.h>, BP_FIELDS_*):
 * objects X with an object X.confidence of numbers (extract's INTO), found up
 * to three levels down. Calls fn with
 * X's path ("data.invoice"). */
static void rv_groups(const cJSON *o, char *path, size_t cap, int depth,
                      void (*fn)(const cJSON *grp, const char *path, void *ud), void *ud)
{
    if (!cJSON_IsObject(o) || depth > 3)
        return;
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(o, BP_FIELDS_CONFIDENCE);
    if (cJSON_IsObject(conf) && conf->child && cJSON_IsNumber(conf->child)) {
        fn(o, path, ud);
        return;
    }
    size_t len = strlen(path);
    for (const cJSON *c = o->child; c; c = c->next) {
        if (!cJSON_IsObject(c) || c->string == NULL || strcmp(c->string, "attachments") == 0)
            continue;
        if (len + 1 + strlen(c->string) + 1 > cap)
            continue;
        snprintf(path + len, cap - len, ".%s", c->string);
        rv_groups(c, path, cap, depth + 1, fn, ud);
        path[len] = '\0';
    }
}

typedef struct {
    double threshold;
    double lowest;        /* 2: none */
    int low;
    cJSON *fields;        /* NULL: only count */
} rv_fields;

static void rv_group(const cJSON *grp, const char *path, void *ud)
{
    rv_fields *f = ud;
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(grp, BP_FIELDS_CONFIDENCE);
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(grp, BP_FIELDS_RAW);
    const cJSON *where = cJSON_GetObjectItemCaseSensitive(grp, BP_FIELDS_WHERE);
    for (const cJSON *c = conf->child; c; c = c->next) {
        if (!cJSON_IsNumber(c) || c->string == NULL)
            continue;
        double v = c->valuedouble;
        if (v < f->lowest)
            f->lowest = v;
        int low = v < f->threshold;
        f->low += low;
        if (f->fields == NULL)
            continue;
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(f->fields, e)) {
            cJSON_Delete(e);
            continue;
        }
        char *p = bp_strfmt("%s.%s", path, c->string);
        cJSON_AddStringToObject(e, "path", p ? p : "");
        free(p);
        cJSON_AddStringToObject(e, "name", c->string);
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(grp, c->string);
        cJSON_AddItemToObject(e, "value", val ? cJSON_Duplicate(val, 1) : cJSON_CreateNull());
        const cJSON *rw = cJSON_GetObjectItemCaseSensitive(raw, c->string);
        if (cJSON_IsString(rw))
            cJSON_AddStringToObject(e, "raw", rw->valuestring);
        cJSON_AddNumberToObject(e, "confidence", v);
        cJSON_AddBoolToObject(e, "low", low);
        const cJSON *wh = cJSON_GetObjectItemCaseSensitive(where, c->string);
        if (cJSON_IsObject(wh))
            cJSON_AddItemToObject(e, "where", cJSON_Duplicate(wh, 1));
    }
}

static cJSON *rv_parse(const bp_review_item *it)
{
    return it->payload ? cJSON_Parse(it->payload) : NULL;
}

void bp_review_row_extend(struct bp_runtime *rt, cJSON *row, const bp_review_item *it)
{
    const bp_site_route *r = rv_route(rt, it->route);
    int64_t age = bp_now_ms() - it->created_ms, sla = rv_sla(r);
    cJSON_AddNumberToObject(row, "age_ms", (double)(age > 0 ? age : 0));
    cJSON_AddNumberToObject(row, "sla_ms", (double)sla);
    cJSON_AddBoolToObject(row, "late", age > sla);
    rv_fields f = {.threshold = rv_threshold(r), .lowest = 2};
    cJSON_AddNumberToObject(row, "confidence_threshold", f.threshold);
    cJSON *env = rv_parse(it);
    char path[256] = "data";
    rv_groups(cJSON_GetObjectItemCaseSensitive(env, "data"), path, sizeof path, 0, rv_group, &f);
    if (f.lowest <= 1)
        cJSON_AddNumberToObject(row, "lowest_confidence", f.lowest);
    else
        cJSON_AddNullToObject(row, "lowest_confidence");
    cJSON_AddNumberToObject(row, "low_fields", f.low);
    cJSON *fl = cJSON_AddArrayToObject(row, "flag_list");
    const char *p = it->flags;
    while (fl && p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *name = strndup(p, n);
        if (name)
            cJSON_AddItemToArray(fl, cJSON_CreateString(name));
        free(name);
        p += n + (comma != NULL);
    }
    cJSON_Delete(env);
}

/* data.flags entries with the details their transform left in data: the
 * duplicate's earlier record (dedupe's data.duplicate_of), the totals and the
 * difference of a PO mismatch (match's data.po_match). */
static cJSON *rv_flag_details(const cJSON *data)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(data, "flags");
    const cJSON *dup = cJSON_GetObjectItemCaseSensitive(data, "duplicate_of");
    const cJSON *po = cJSON_GetObjectItemCaseSensitive(data, "po_match");
    for (const cJSON *f = cJSON_IsArray(flags) ? flags->child : NULL; out && f; f = f->next) {
        if (!cJSON_IsObject(f))
            continue;
        cJSON *e = cJSON_Duplicate(f, 1);
        if (e == NULL)
            continue;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "flag"));
        if (name && strstr(name, "duplicate") && cJSON_IsObject(dup))
            cJSON_AddItemToObject(e, "duplicate_of", cJSON_Duplicate(dup, 1));
        if (name && strncmp(name, "po_", 3) == 0 && cJSON_IsObject(po))
            cJSON_AddItemToObject(e, "po", cJSON_Duplicate(po, 1));
        cJSON_AddItemToArray(out, e);
    }
    return out;
}

/* The texts the fields' spans point into ({"path": text}). */
static void rv_texts(cJSON *obj, const cJSON *env, const cJSON *fields)
{
    cJSON *texts = cJSON_AddObjectToObject(obj, "texts");
    for (const cJSON *f = fields ? fields->child : NULL; texts && f; f = f->next) {
        const cJSON *wh = cJSON_GetObjectItemCaseSensitive(f, "where");
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(wh, "path"));
        if (path == NULL || cJSON_HasObjectItem(texts, path) || strncmp(path, "data.", 5) != 0)
            continue;
        /* a dotted path of object members (extract's `text` paths) */
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(env, "data");
        char buf[256];
        snprintf(buf, sizeof buf, "%s", path + 5);
        for (char *save = NULL, *tok = strtok_r(buf, ".", &save); cur && tok;
             tok = strtok_r(NULL, ".", &save))
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        if (cJSON_IsString(cur))
            cJSON_AddStringToObject(texts, path, cur->valuestring);
    }
}

/* The attachments: name, media type, size, pages (of a PDF the bus read). */
static cJSON *rv_attachments(cJSON *env, int64_t seq)
{
    cJSON *out = cJSON_CreateArray();
    cJSON *bpa = cJSON_GetObjectItemCaseSensitive(env, "bpattachments");
    const cJSON *datt = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(env, "data"),
                                                         "attachments");
    int i = 0;
    for (cJSON *a = cJSON_IsArray(bpa) ? bpa->child : NULL; out && a; a = a->next, i++) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "name"));
        const char *mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "mediatype"));
        cJSON *b64 = cJSON_GetObjectItemCaseSensitive(a, "data_base64");
        size_t size = cJSON_IsString(b64) ? strlen(b64->valuestring) / 4 * 3 : 0;
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            break;
        cJSON_AddNumberToObject(e, "index", i);
        cJSON_AddStringToObject(e, "name", name ? name : "");
        cJSON_AddStringToObject(e, "media_type", mt ? mt : "application/octet-stream");
        int pages = -1;
        for (const cJSON *d = cJSON_IsArray(datt) ? datt->child : NULL; d; d = d->next) {
            const char *dn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "name"));
            const cJSON *pc = cJSON_GetObjectItemCaseSensitive(d, "page_count");
            const cJSON *sz = cJSON_GetObjectItemCaseSensitive(d, "size");
            if (dn && name && strcmp(dn, name) == 0 && cJSON_IsNumber(pc)) {
                pages = (int)pc->valuedouble;
                if (cJSON_IsNumber(sz))
                    size = (size_t)sz->valuedouble;
                break;
            }
        }
        cJSON_AddNumberToObject(e, "size", (double)size);
        int pdf = mt && strcmp(mt, "application/pdf") == 0;
        if (pdf && pages > 0) {
            cJSON_AddNumberToObject(e, "pages", pages);
            char *url = bp_strfmt("/api/v1/review/%lld/pages/{N}.png?attachment=%d",
                                  (long long)seq, i);
            cJSON_AddStringToObject(e, "page_url", url ? url : "");
            free(url);
        } else {
            cJSON_AddNullToObject(e, "pages");
        }
        cJSON_AddItemToArray(out, e);
        /* the bytes stay on the server: the page images show them */
        if (b64)
            cJSON_DeleteItemFromObjectCaseSensitive(a, "data_base64");
        cJSON_AddNumberToObject(a, "size", (double)size);
    }
    return out;
}

int bp_review_view_extend(struct bp_runtime *rt, cJSON *obj, const bp_review_item *it)
{
    const bp_site_route *r = rv_route(rt, it->route);
    cJSON *env = rv_parse(it);
    rv_fields f = {.threshold = rv_threshold(r), .lowest = 2, .fields = cJSON_CreateArray()};
    if (f.fields == NULL) {
        cJSON_Delete(env);
        return -1;
    }
    char path[256] = "data";
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(env, "data");
    rv_groups(data, path, sizeof path, 0, rv_group, &f);
    cJSON_AddItemToObject(obj, "fields", f.fields);
    rv_texts(obj, env, f.fields);
    cJSON_AddItemToObject(obj, "flag_details", rv_flag_details(data));
    cJSON *lin = cJSON_GetObjectItemCaseSensitive(env, "bplineage");
    cJSON_AddItemToObject(obj, "lineage", lin ? cJSON_Duplicate(lin, 1) : cJSON_CreateArray());
    cJSON_AddItemToObject(obj, "attachments", rv_attachments(env, it->seq));
    cJSON *reasons = cJSON_AddArrayToObject(obj, "reject_reasons");
    if (r && r->n_reject_reasons)
        for (size_t i = 0; reasons && i < r->n_reject_reasons; i++)
            cJSON_AddItemToArray(reasons, cJSON_CreateString(r->reject_reasons[i]));
    else
        for (const char *const *d = (const char *const[]){"duplicate", "wrong amount", "other", NULL};
             reasons && *d; d++)
            cJSON_AddItemToArray(reasons, cJSON_CreateString(*d));
    if (env)
        cJSON_AddItemToObject(obj, "envelope", env);
    return 0;
}

unsigned bp_review_page_png(struct bp_runtime *rt, const bp_review_item *it, int att, int page,
                            int px, unsigned char **png, size_t *png_len, char **err)
{
    *png = NULL;
    *err = NULL;
    cJSON *env = rv_parse(it);
    cJSON *bpa = cJSON_GetObjectItemCaseSensitive(env, "bpattachments");
    cJSON *a = NULL;
    int i = 0;
    for (cJSON *c = cJSON_IsArray(bpa) ? bpa->child : NULL; c; c = c->next, i++) {
        const char *mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "mediatype"));
        if (att >= 0 ? i == att : (mt && strcmp(mt, "application/pdf") == 0)) {
            a = c;
            break;
        }
    }
    const char *mt = a ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "mediatype")) : NULL;
    const char *b64 = a ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "data_base64")) : NULL;
    if (a == NULL || b64 == NULL || mt == NULL || strcmp(mt, "application/pdf") != 0) {
        *err = bp_strfmt("parked record %lld has no PDF attachment%s", (long long)it->seq,
                         att >= 0 ? " with that index" : "");
        cJSON_Delete(env);
        return 404;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (bp_ce_base64_decode(b64, strlen(b64), &bytes, &len) != BP_OK) {
        *err = bp_strfmt("parked record %lld: the attachment is not valid base64", (long long)it->seq);
        cJSON_Delete(env);
        return 500;
    }
    cJSON_Delete(env);
    if (px <= 0)
        px = 1600;
    px = (px + 50) / 100 * 100;
    px = px < 400 ? 400 : px > 2400 ? 2400 : px;
    bp_render_budget b = BP_RENDER_DEFAULTS;
    b.max_px = px;
    char *cache = rt && rt->site && rt->site->state_path ? bp_strfmt("%s.pages", rt->site->state_path)
                                                         : NULL;
    int n_pages = -1;
    int rc = bp_page_render(bytes, len, page, &b, cache, png, png_len, &n_pages, err);
    free(cache);
    free(bytes);
    if (rc == 0)
        return 200;
    if (rc < 0) {
        *err = bp_strfmt("out of memory");
        return 500;
    }
    return *err && strncmp(*err, "no page", 7) == 0 ? 404 : 422;
}
