/* extract: key fields of invoices and receipts (vendor, date, total, address,
 * invoice number, PO number, currency) from text lines, with or without page
 * positions, each with a confidence.
 *
 *   - extract: { model: plugins/extract/models/sroie.model, lines: data.lines,
 *                into: data.extracted, min_confidence: 0.5 }
 *
 * The fields are chosen by a learned ranker (extract_model) over candidates
 * from patterns and layout (extract_cand); the model file is trained and
 * measured by this plugin's own commands:
 *
 *   backplane train extract --format sroie --data DIR --out MODEL
 *   backplane eval  extract --format sroie --model MODEL --data DIR
 *   backplane eval  extract --format sroie --data DIR --folds 5
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <backplane/plugin.h>

#include "../ml/ml_args.h"
#include "extract_model.h"
#include "extract_memory.h"
#include "extract_fields.h"
#include "extract_where.h"
#ifdef EX_HAVE_READ
#include "extract_eval_invoices.h"
#endif

#define EXTRACT_VERSION "1.0.0"
#define EX_MAX_TEXT 8             /* paths in `text` */
#define EX_MAX_MEM 256            /* vendors remembered from corrections */

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    ex_model model;
    char *lines_path, *into;
    char *layout_path;          /* `layout`: PDF pages' words with boxes (issue 15), or NULL */
    char *text_paths[EX_MAX_TEXT];  /* `text`: paths of plain text, in order */
    int n_text;
    int want[EX_NFIELDS];
    const char *out_name[EX_NFIELDS];  /* the name a field is written under */
    double min_conf;
    ex_cands scratch;
    int use_memory;             /* vendor_memory */
    ex_memory *mem;             /* EX_MAX_MEM vendors' memories, from corrections */
    size_t n_mem;
    long long mem_at;           /* when they were last rebuilt (monotonic ms), 0 never */
} extract_self;

/* The numeric option, bound (BP_OPT_FIELD): its default lives once, in the
 * schema. */
struct extract_opts {
    double min_confidence;
    int vendor_memory;
};

static const struct bp_option extract_options[] = {
    {.name = "model", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "a shipped model's name (invoices, sroie) or a model file made by `backplane train extract`"},
    {.name = "lines", .type = BP_OPT_STRING, .default_value = "data.lines",
     .description = "array of text lines: strings, or {text, box: [x0,y0,x1,y1] or 8 corner coordinates}"},
    {.name = "layout", .type = BP_OPT_STRING,
     .description = "pages with words and boxes, [{w, h, words: [{t, b}]}] (a mail source's attachments[i].layout with pdf_layout: true); read first when present, so INTO.where.FIELD says the page and box of each field"},
    {.name = "text", .type = BP_OPT_LIST, .default_value = "data.text",
     .description = "paths of plain text (joined with newlines, missing ones skipped; as in classify), used when the lines path is absent"},
    {.name = "into", .type = BP_OPT_STRING, .default_value = "data.extracted",
     .description = "where the fields go; confidences go under INTO.confidence"},
    {.name = "fields", .type = BP_OPT_LIST,
     .description = "fields to extract (default: every field the model knows)"},
    {.name = "min_confidence", .type = BP_OPT_FLOAT, .default_value = "0", .min = "0", .max = "1",
     BP_OPT_FIELD(struct extract_opts, min_confidence),
     .description = "a field less certain than this is left out"},
    {.name = "vendor_memory", .type = BP_OPT_BOOL, .default_value = "true",
     BP_OPT_FIELD(struct extract_opts, vendor_memory),
     .description = "read a vendor's next documents the way a reviewer corrected one of them (the route's corrections in the state store)"},
    {0},
};

static void extract_destroy(void *p)
{
    extract_self *self = p;
    if (self == NULL)
        return;
    free(self->lines_path);
    free(self->layout_path);
    for (int i = 0; i < self->n_text; i++)
        free(self->text_paths[i]);
    free(self->into);
    ex_cands_free(&self->scratch);
    for (size_t i = 0; i < self->n_mem; i++)
        ex_mem_free(&self->mem[i]);
    free(self->mem);
    free(self);
}

static bp_status extract_init(const struct bp_host_api *api, bp_instance *inst,
                              const cJSON *config, const struct bp_instance_info *info,
                              void **out, char **errmsg)
{
    const struct extract_opts *o = info->options;
    extract_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    char err[512];
    /* `model: invoices` names a shipped model: the host searches the site's
     * directory, BP_MODEL_PATH and the installed models (ABI 1.3). */
    const char *name = bp_cfg_str(config, "model");
    char *mpath = NULL, *merr = NULL;
    bp_status fst = api->model_find(inst, name, &mpath, &merr);
    if (fst == BP_ERR_NOT_FOUND && strchr(name, '/') == NULL) {
        *errmsg = api->format("model: %s", merr ? merr : "not found");
        api->free(merr);
        extract_destroy(self);
        return BP_ERR_INVALID;
    }
    api->free(merr);
    int bad = ex_model_load(&self->model, mpath ? mpath : name, err, sizeof err) != 0;
    api->free(mpath);
    if (bad) {
        *errmsg = api->format("%s", err);
        extract_destroy(self);
        return BP_ERR_INVALID;
    }
    self->lines_path = strdup(bp_cfg_str(config, "lines"));
    self->into = strdup(bp_cfg_str(config, "into"));
    const char *lay = bp_cfg_str(config, "layout");
    if (lay && (self->layout_path = strdup(lay)) == NULL) {
        extract_destroy(self);
        return BP_ERR_NOMEM;
    }
    if (lay && api->path_check(lay) != BP_OK) {
        *errmsg = api->format("layout: invalid path '%s'", lay);
        extract_destroy(self);
        return BP_ERR_INVALID;
    }
    self->min_conf = o->min_confidence;
    self->use_memory = o->vendor_memory;
    self->mem = calloc(EX_MAX_MEM, sizeof(ex_memory));
    if (!self->lines_path || !self->into || !self->mem) {
        extract_destroy(self);
        return BP_ERR_NOMEM;
    }
    const cJSON *text = bp_cfg_get0(config, "text");
    for (const cJSON *it = text ? text->child : NULL; it; it = it->next) {
        if (self->n_text == EX_MAX_TEXT) {
            *errmsg = api->format("text: at most %d paths", EX_MAX_TEXT);
            extract_destroy(self);
            return BP_ERR_INVALID;
        }
        if (api->path_check(it->valuestring) != BP_OK) {
            *errmsg = api->format("text: invalid path '%s'", it->valuestring);
            extract_destroy(self);
            return BP_ERR_INVALID;
        }
        if ((self->text_paths[self->n_text++] = strdup(it->valuestring)) == NULL) {
            extract_destroy(self);
            return BP_ERR_NOMEM;
        }
    }
    const char *paths[] = {self->lines_path, self->into};
    for (int i = 0; i < 2; i++)
        if (api->path_check(paths[i]) != BP_OK) {
            *errmsg = api->format("invalid path '%s'", paths[i]);
            extract_destroy(self);
            return BP_ERR_INVALID;
        }
    const cJSON *fields = bp_cfg_get0(config, "fields");
    for (int f = 0; f < EX_NFIELDS; f++) {
        self->want[f] = fields == NULL && self->model.has[f];
        self->out_name[f] = ex_out_name(&self->model, f);
    }
    for (const cJSON *it = fields ? fields->child : NULL; it; it = it->next) {
        int f = ex_out_index(it->valuestring);
        if (f < 0 || !self->model.has[f]) {
            *errmsg = api->format(f < 0 ? "fields: unknown field '%s' (known: vendor or company, date, "
                                          "address, total, invoice_number, po_number, currency)"
                                        : "fields: the model '%s' was not trained for '%s'",
                                  f < 0 ? it->valuestring : self->model.name, it->valuestring);
            extract_destroy(self);
            return BP_ERR_INVALID;
        }
        self->want[f] = 1;
        /* `fields: [vendor, ...]`: the seller is written as asked (invoices
         * name it vendor, receipts company). */
        if (strcmp(it->valuestring, "vendor") == 0)
            self->out_name[f] = "vendor";
    }
    *out = self;
    return BP_OK;
}

/* Where each line came from (issue 15): grown beside d's lines. */
typedef struct {
    ex_origin *o;
    size_t n, cap;
    const char *texts[EX_MAX_TEXT];   /* borrowed from the envelope */
} ex_origins;

static int ex_origin_push(ex_origins *org, const ex_doc *d, size_t before, int src, size_t off)
{
    if (org == NULL || d->n == before)
        return 0;
    if (org->n == org->cap) {
        size_t cap = org->cap ? org->cap * 2 : 64;
        ex_origin *o = realloc(org->o, cap * sizeof *o);
        if (o == NULL)
            return -1;
        org->o = o;
        org->cap = cap;
    }
    org->o[org->n++] = (ex_origin){.src = src, .off = off};
    return 0;
}

/* Pages of words with boxes at the `layout` path into d: 1 read, 0 none
 * there, -1 out of memory. */
static int extract_read_layout(extract_self *self, bp_envelope *env, ex_doc *d)
{
    const cJSON *lay = self->layout_path ? self->api->envelope_get0_path(env, self->layout_path)
                                         : NULL;
    int np = cJSON_IsArray(lay) ? cJSON_GetArraySize(lay) : 0;
    if (np <= 0)
        return 0;
    d->n_pages = np < EX_MAX_PAGES ? np : EX_MAX_PAGES;
    int i = 0;
    for (const cJSON *pg = lay->child; pg && i < d->n_pages; pg = pg->next, i++) {
        d->page_w[i] = (float)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pg, "w"));
        d->page_h[i] = (float)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pg, "h"));
        if (!(d->page_w[i] > 0) || !(d->page_h[i] > 0))
            d->page_w[i] = d->page_h[i] = 1;
    }
    i = 0;
    for (const cJSON *pg = lay->child; pg && i < d->n_pages; pg = pg->next, i++) {
        const cJSON *words = cJSON_GetObjectItemCaseSensitive(pg, "words");
        if (cJSON_IsArray(words) && ex_doc_add_words(d, words, i) != 0)
            return -1;
    }
    snprintf(d->source, sizeof d->source, "pdf");
    return d->n > 0;
}

/* Reads the record's lines into d (org, may be NULL: where each line came
 * from). Returns 1 when there was text, 0 when none, -1 out of memory. */
static int extract_read(extract_self *self, bp_envelope *env, ex_doc *d, ex_origins *org)
{
    const struct bp_host_api *api = self->api;
    int lr = extract_read_layout(self, env, d);
    if (lr < 0)
        return -1;
    if (lr > 0) {
        ex_doc_finish(d);
        return d->n > 0;
    }
    const cJSON *lines = api->envelope_get0_path(env, self->lines_path);
    if (cJSON_IsArray(lines)) {
        for (const cJSON *it = lines->child; it; it = it->next) {
            const char *text = NULL;
            double box[4], *bp = NULL;
            if (cJSON_IsString(it)) {
                text = it->valuestring;
            } else if (cJSON_IsObject(it)) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text");
                const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "box");
                text = cJSON_IsString(t) ? t->valuestring : NULL;
                int nb = cJSON_IsArray(b) ? cJSON_GetArraySize(b) : 0;
                if (nb == 4 || nb == 8) {
                    double c[8];
                    int k = 0, ok = 1;
                    for (const cJSON *v = b->child; v; v = v->next) {
                        ok &= cJSON_IsNumber(v);
                        c[k++] = cJSON_IsNumber(v) ? v->valuedouble : 0;
                    }
                    if (ok && nb == 4) {
                        memcpy(box, c, sizeof box);
                        bp = box;
                    } else if (ok) {
                        ex_box_of_corners(c, box);
                        bp = box;
                    }
                }
            }
            if (text && ex_doc_add(d, text, strlen(text), bp) != 0)
                return -1;
        }
    } else {
        int any = 0;
        for (int i = 0; i < self->n_text; i++) {
            const cJSON *t = api->envelope_get0_path(env, self->text_paths[i]);
            if (!cJSON_IsString(t))
                continue;
            any = 1;
            const char *p = t->valuestring;
            if (org)
                org->texts[i] = t->valuestring;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p), lead = 0;
                while (lead < len && isspace((unsigned char)p[lead]))
                    lead++;
                size_t before = d->n;
                if (ex_doc_add(d, p, len, NULL) != 0 ||
                    ex_origin_push(org, d, before, i, (size_t)(p - t->valuestring) + lead) != 0)
                    return -1;
                p += len + (nl != NULL);
            }
        }
        if (!any)
            return 0;
    }
    ex_doc_finish(d);
    return d->n > 0;
}

/* ---- vendor memory in the transform ------------------------------------- */


static long long ex_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rebuilds the vendors' memories from the reviewers' corrections the state
 * store keeps for this route (corrections_get, newest first): each corrected
 * record, read as the transform reads it, labelled with what the reviewer let
 * through (the extracted values under INTO, each replaced by its newest
 * correction), is one memory; a record of a vendor already remembered (same
 * fingerprint) adds nothing. At most once a second; without a state store
 * (corrections_get unsupported) there is no memory. */
static void ex_mem_refresh(extract_self *self)
{
    const struct bp_host_api *api = self->api;
    long long now = ex_mono_ms();
    if (!self->use_memory || !BP_HOST_HAS(api, corrections_get) ||
        (self->mem_at && now - self->mem_at < 1000))
        return;
    self->mem_at = now ? now : 1;
    cJSON *arr = NULL;
    char *err = NULL;
    if (api->corrections_get(self->inst, NULL, NULL, 2000, &arr, &err) != BP_OK) {
        api->free(err);
        return;
    }
    for (size_t i = 0; i < self->n_mem; i++)
        ex_mem_free(&self->mem[i]);
    self->n_mem = 0;
    size_t il = strlen(self->into);
    for (const cJSON *c = arr ? arr->child : NULL; c && self->n_mem < EX_MAX_MEM; c = c->next) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(c, "path");
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(c, "record");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (!cJSON_IsString(path) || !cJSON_IsObject(rec) ||
            strncmp(path->valuestring, self->into, il) != 0 || path->valuestring[il] != '.' ||
            ex_field_index(path->valuestring + il + 1) < 0)
            continue;
        /* one memory per record: its first (newest) correction builds it */
        int seen = 0;
        for (const cJSON *p = arr->child; p != c && !seen; p = p->next) {
            const cJSON *pp = cJSON_GetObjectItemCaseSensitive(p, "path");
            const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "id");
            seen = cJSON_IsString(pp) && strncmp(pp->valuestring, self->into, il) == 0 &&
                   cJSON_Compare(pid, id, 1);
        }
        if (seen)
            continue;
        char *text = cJSON_PrintUnformatted(rec), *eerr = NULL;
        bp_envelope *env = NULL;
        if (text == NULL || api->envelope_from_json(text, strlen(text), &env, &eerr) != BP_OK) {
            free(text);
            api->free(eerr);
            continue;
        }
        free(text);
        ex_doc d;
        ex_doc_init(&d);
        if (extract_read(self, env, &d, NULL) > 0) {
            char *label[EX_NFIELDS] = {0};
            const cJSON *ext = api->envelope_get0_path(env, self->into);
            for (const cJSON *it = cJSON_IsObject(ext) ? ext->child : NULL; it; it = it->next) {
                int k = ex_field_index(it->string);
                if (k >= 0 && cJSON_IsString(it))
                    label[k] = strdup(it->valuestring);
            }
            /* this record's corrections, newest first: the first one per field wins */
            int done[EX_NFIELDS] = {0};
            for (const cJSON *p = c; p; p = p->next) {
                const cJSON *pp = cJSON_GetObjectItemCaseSensitive(p, "path");
                const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "id");
                const cJSON *nv = cJSON_GetObjectItemCaseSensitive(p, "new");
                if (!cJSON_IsString(pp) || !cJSON_Compare(pid, id, 1) ||
                    strncmp(pp->valuestring, self->into, il) != 0 || pp->valuestring[il] != '.')
                    continue;
                int k = ex_field_index(pp->valuestring + il + 1);
                if (k < 0 || done[k])
                    continue;
                done[k] = 1;
                free(label[k]);
                label[k] = cJSON_IsString(nv) ? strdup(nv->valuestring)
                           : cJSON_IsNumber(nv) ? cJSON_PrintUnformatted(nv) : NULL;
            }
            int known = 0;
            for (size_t m = 0; m < self->n_mem && !known; m++)
                known = ex_mem_matches(&self->mem[m], &d);
            if (!known) {
                ex_memory *m = &self->mem[self->n_mem];
                memset(m, 0, sizeof *m);
                if (ex_mem_learn(m, &d, label, &self->scratch) == 0 && m->nkey > 0)
                    self->n_mem++;
                else
                    ex_mem_free(m);
            }
            for (int k = 0; k < EX_NFIELDS; k++)
                free(label[k]);
        }
        ex_doc_free(&d);
        api->envelope_unref(env);
    }
    api->json_free(arr);
}

static bp_status extract_transform(void *p, bp_envelope **env, char **reason)
{
    extract_self *self = p;
    const struct bp_host_api *api = self->api;
    (void)reason;
    ex_doc d;
    ex_doc_init(&d);
    ex_origins org = {0};
    int got = extract_read(self, *env, &d, &org);
    if (got <= 0) {
        ex_doc_free(&d);
        free(org.o);
        if (got < 0)
            return BP_RETRY;
        api->counter_add(self->inst, "no_text", 1);
        return BP_OK;
    }
    /* The printed text of each field and its value an ERP can take (ISO
     * date, total as a number, ISO 4217 currency): the value under INTO.NAME,
     * the text under INTO.raw.NAME (issue 19); the vendor's memory first. */
    ex_fields fl;
    int any = 0, from_mem = 0;
    bp_status st = BP_OK;
    ex_mem_refresh(self);
    const ex_memory *mem = NULL;
    for (size_t i = 0; i < self->n_mem && mem == NULL; i++)
        if (ex_mem_matches(&self->mem[i], &d))
            mem = &self->mem[i];
    if (ex_read_fields_mem(&self->model, mem, &d, self->want, &self->scratch, &fl, &from_mem) != 0)
        st = BP_RETRY;
    for (int f = 0; f < EX_NFIELDS && st == BP_OK; f++) {
        if (!self->want[f] || fl.conf[f] < self->min_conf || (!fl.raw[f] && !fl.value[f])) {
            free(fl.raw[f]);
            fl.raw[f] = NULL;
            cJSON_Delete(fl.value[f]);
            fl.value[f] = NULL;
            continue;
        }
        any = 1;
    }
    /* Where each value was read (issue 15), while the document is at hand. */
    cJSON *where[EX_NFIELDS] = {0};
    const ex_origin *orgs = org.n == d.n ? org.o : NULL;
    const cJSON *lay = self->layout_path && d.n_pages > 0
                       ? api->envelope_get0_path(*env, self->layout_path) : NULL;
    for (int f = 0; f < EX_NFIELDS && st == BP_OK; f++)
        if (fl.raw[f])
            where[f] = ex_where_ex(&d, orgs, org.texts, (const char *const *)self->text_paths,
                                   fl.raw[f], lay);
    ex_doc_free(&d);
    free(org.o);
    if (st == BP_OK && any) {
        bp_envelope *w = api->envelope_make_writable(*env);
        if (w == NULL) {
            st = BP_RETRY;
        } else {
            *env = w;
            char changed[1024] = "";
            size_t cl = 0;
            float minc = 1;
            for (int f = 0; f < EX_NFIELDS && st == BP_OK; f++) {
                if (!fl.raw[f] && !fl.value[f])
                    continue;
                const char *name = self->out_name[f];
                char path[512], cpath[512], rpath[512], wpath[512];
                snprintf(path, sizeof path, "%s.%s", self->into, name);
                snprintf(wpath, sizeof wpath, "%s." BP_FIELDS_WHERE ".%s", self->into, name);
                if (where[f]) {
                    cJSON *wf = where[f];
                    where[f] = NULL;
                    if (api->envelope_set0_path(w, wpath, wf) != BP_OK) {
                        st = BP_REJECT;
                        *reason = api->format("extract: cannot set %s", wpath);
                        break;
                    }
                }
                snprintf(cpath, sizeof cpath, "%s." BP_FIELDS_CONFIDENCE ".%s", self->into, name);
                snprintf(rpath, sizeof rpath, "%s." BP_FIELDS_RAW ".%s", self->into, name);
                /* Four decimals: enough to rank, and stable output. */
                double c = (double)(long)(fl.conf[f] * 10000 + 0.5) / 10000;
                cJSON *v = fl.value[f];
                fl.value[f] = NULL;
                if ((v && api->envelope_set0_path(w, path, v) != BP_OK) ||
                    (fl.raw[f] &&
                     api->envelope_set0_path(w, rpath, cJSON_CreateString(fl.raw[f])) != BP_OK) ||
                    api->envelope_set0_path(w, cpath, cJSON_CreateNumber(c)) != BP_OK) {
                    st = BP_REJECT;
                    *reason = api->format("extract: cannot set %s", path);
                    break;
                }
                if (v) {
                    cl += (size_t)snprintf(changed + cl, sizeof changed - cl, "%s%s", cl ? "," : "",
                                           path);
                    if (cl >= sizeof changed)
                        cl = sizeof changed - 1;
                }
                if (fl.conf[f] < minc)
                    minc = fl.conf[f];
            }
            if (st == BP_OK) {
                char model[96];
                snprintf(model, sizeof model, "%s", self->model.name);
                const bp_lineage step = {.plugin = "extract", .version = EXTRACT_VERSION,
                                         .model = model, .confidence = minc,
                                         .changed = changed, .at_ms = 0};
                api->envelope_add_lineage(w, &step);
                api->counter_add(self->inst, "extracted", 1);
                if (from_mem)
                    api->counter_add(self->inst, "vendor_memory_fields", from_mem);
                st = BP_MODIFIED;
            }
        }
    }
    for (int f = 0; f < EX_NFIELDS; f++)
        cJSON_Delete(where[f]);
    ex_fields_clear(&fl);
    return st;
}

/* ---- commands: train and eval ------------------------------------------- */

static int ex_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ex_examples_free(ex_example *ex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ex_doc_free(&ex[i].doc);
        for (int f = 0; f < EX_NFIELDS; f++)
            free(ex[i].label[f]);
        free(ex[i].name);
    }
    free(ex);
}

static char *ex_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL)
        snprintf(err, errlen, "%s: out of memory", path);
    else
        buf[len] = '\0';
    return buf;
}

/* A label as scored: s without leading spaces and trailing spaces/newlines,
 * malloc'd (may be ""). */
static char *ex_trim_dup(const char *s)
{
    while (*s == ' ')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\n' || s[l - 1] == '\r'))
        l--;
    return strndup(s, l);
}

/* Loads DIR/key/NAME.json and, for every key file, DIR/box/NAME.csv (format
 * sroie: OCR lines with boxes) or DIR/text/NAME.txt (format lines: text lines
 * without positions); sorted by name so folds are the same on every machine. */
static ex_example *ex_load_dir(const char *dir, const char *format, size_t *n, int quiet)
{
    int sroie = strcmp(format, "sroie") == 0;
    char path[4096], err[5000];
    snprintf(path, sizeof path, "%s/key", dir);
    DIR *dh = opendir(path);
    if (dh == NULL) {
        fprintf(stderr, "extract: %s: %s (expected DIR/key/*.json and %s)\n", path,
                strerror(errno), sroie ? "DIR/box/*.csv" : "DIR/text/*.txt");
        return NULL;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 256;
            char **p = realloc(names, cap * sizeof(char *));
            if (p == NULL)
                break;
            names = p;
        }
        names[nn] = strndup(de->d_name, l - 5);
        if (names[nn] == NULL)
            break;
        nn++;
    }
    closedir(dh);
    if (nn == 0) {
        fprintf(stderr, "extract: %s: no *.json label files\n", path);
        free(names);
        return NULL;
    }
    qsort(names, nn, sizeof(char *), ex_cmp_str);
    ex_example *ex = calloc(nn, sizeof(ex_example));
    int ok = ex != NULL;
    for (size_t i = 0; ok && i < nn; i++) {
        ex_doc_init(&ex[i].doc);
        ex[i].name = names[i];
        names[i] = NULL;
        snprintf(path, sizeof path, sroie ? "%s/box/%s.csv" : "%s/text/%s.txt", dir, ex[i].name);
        /* With --format sroie, a document without a box file may come as
         * text lines (DIR/text/NAME.txt): one training set can mix documents
         * with positions (PDF word boxes, OCR) and without (mail bodies). */
        int as_text = !sroie;
        if (sroie && access(path, F_OK) != 0) {
            char alt[4096];
            snprintf(alt, sizeof alt, "%s/text/%s.txt", dir, ex[i].name);
            if (access(alt, F_OK) == 0) {
                snprintf(path, sizeof path, "%s", alt);
                as_text = 1;
            }
        }
        if ((as_text ? ex_doc_load_text : ex_doc_load_sroie)(&ex[i].doc, path, err, sizeof err) != 0) {
            fprintf(stderr, "extract: %s\n", err);
            ok = 0;
            break;
        }
        snprintf(path, sizeof path, "%s/key/%s.json", dir, ex[i].name);
        char *text = ex_read_file(path, err, sizeof err);
        cJSON *key = text ? cJSON_Parse(text) : NULL;
        if (!cJSON_IsObject(key)) {
            fprintf(stderr, "extract: %s\n", text ? "" : err);
            if (text)
                fprintf(stderr, "extract: %s: not a JSON object\n", path);
            ok = 0;
        }
        for (const cJSON *it = key ? key->child : NULL; ok && it; it = it->next) {
            int f = ex_field_index(it->string);
            if (f < 0 || !cJSON_IsString(it))
                continue;
            ex[i].label[f] = ex_trim_dup(it->valuestring);
        }
        cJSON_Delete(key);
        free(text);
        if (!quiet && (i + 1) % 200 == 0)
            fprintf(stderr, "extract: loaded %zu/%zu documents\n", i + 1, nn);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (!ok) {
        ex_examples_free(ex, nn);
        return NULL;
    }
    *n = nn;
    return ex;
}

/* Label text of a corrected or extracted value: strings trimmed, numbers as
 * JSON; NULL for anything else. */
static char *ex_label_text(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        char *t = ex_trim_dup(v->valuestring);
        if (t && *t == '\0') {
            free(t);
            t = NULL;
        }
        return t;
    }
    return cJSON_IsNumber(v) ? cJSON_PrintUnformatted(v) : NULL;
}

/* A label in the value form the transform writes (an ISO date, a total as a
 * number, an ISO currency) as the text the document prints, so that training
 * finds it among the candidates: the first candidate whose normalised value
 * is the label's. Takes label; returns it, or the candidate's text instead. */
static char *ex_label_printed(const ex_doc *d, int field, char *label)
{
    if (label == NULL || (field != EX_DATE && field != EX_TOTAL && field != EX_CURRENCY))
        return label;
    int df = ex_doc_day_first(d, NULL);
    cJSON *want = ex_normalise(field, label, df, NULL);
    char *ws = want ? cJSON_PrintUnformatted(want) : NULL;
    cJSON_Delete(want);
    ex_cands c = {0};
    char *found = NULL;
    if (ws && ex_candidates(d, field, &c) == 0)
        for (size_t i = 0; i < c.n && found == NULL; i++) {
            if (strcmp(c.c[i].text, label) == 0)
                break;   /* printed as it is: nothing to do */
            cJSON *v = ex_normalise(field, c.c[i].text, df, NULL);
            char *vs = v ? cJSON_PrintUnformatted(v) : NULL;
            if (vs && strcmp(vs, ws) == 0)
                found = strdup(c.c[i].text);
            free(vs);
            cJSON_Delete(v);
        }
    ex_cands_free(&c);
    free(ws);
    if (found == NULL)
        return label;
    free(label);
    return found;
}

/* Reviewers' corrections as examples (--corrections FILE, JSON lines of
 * {route, path, from, to, record} as `backplane review export` and
 * --from-corrections SITE write them). Every record with a correction of a
 * field under INTO becomes one example: its lines or text, as the transform
 * reads them, labelled with what the reviewer let through — the extracted
 * values, each replaced by its correction (null removes it). Appends to
 * *ex / *n; returns how many examples it added, or -1 (message printed). */
static long ex_load_corrections(const struct bp_host_api *api, const char *file, const char *into,
                                const char *lines_path, const char *text_path, ex_example **ex,
                                size_t *n)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "extract: %s: %s\n", file, strerror(errno));
        return -1;
    }
    extract_self rd = {.api = api, .lines_path = (char *)lines_path,
                       .text_paths = {(char *)text_path}, .n_text = text_path != NULL};
    size_t il = strlen(into);
    char *line = NULL, *last_key = NULL;
    size_t cap = 0, lineno = 0;
    long added = 0, rc = 0;
    size_t start = *n;
    ssize_t len;
    ex_example *cur = NULL;   /* the example of the current record (corrections come grouped) */
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        cJSON *c = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(c, "path");
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(c, "to");
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(c, "record");
        if (!cJSON_IsObject(c) || !cJSON_IsString(path) || to == NULL) {
            fprintf(stderr, "extract: %s:%zu:1: not a correction (want {path, to, record})\n", file,
                    lineno);
            cJSON_Delete(c);
            rc = -1;
            break;
        }
        const char *pv = path->valuestring;
        int fi = strncmp(pv, into, il) == 0 && pv[il] == '.' ? ex_out_index(pv + il + 1) : -1;
        if (fi < 0 || !cJSON_IsObject(rec)) {
            cJSON_Delete(c);   /* a correction of something else: not ours */
            continue;
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(rec, "source");
        char key[1024];
        snprintf(key, sizeof key, "%s\x1f%s", cJSON_IsString(src) ? src->valuestring : "",
                 cJSON_IsString(id) ? id->valuestring : "");
        if (cur == NULL || strcmp(key, last_key) != 0) {   /* last_key is set with cur */
            /* A new record: its text, and the extracted values as labels. */
            char *text = cJSON_PrintUnformatted(rec), *err = NULL;
            bp_envelope *env = NULL;
            if (text == NULL || api->envelope_from_json(text, strlen(text), &env, &err) != BP_OK) {
                fprintf(stderr, "extract: %s:%zu:1: record: %s\n", file, lineno,
                        err ? err : "out of memory");
                free(err);
                free(text);
                cJSON_Delete(c);
                rc = -1;
                break;
            }
            free(text);
            ex_example *grown = realloc(*ex, (*n + 1) * sizeof(**ex));
            if (grown == NULL) {
                api->envelope_unref(env);
                cJSON_Delete(c);
                rc = -1;
                break;
            }
            *ex = grown;
            ex_example *e = &(*ex)[*n];
            memset(e, 0, sizeof(*e));
            ex_doc_init(&e->doc);
            int got = extract_read(&rd, env, &e->doc, NULL);
            if (got > 0) {
                const cJSON *ext = api->envelope_get0_path(env, into);
                for (const cJSON *it = cJSON_IsObject(ext) ? ext->child : NULL; it; it = it->next) {
                    int k = ex_out_index(it->string);
                    if (k >= 0)
                        e->label[k] = ex_label_text(it);
                }
                char name[64];
                snprintf(name, sizeof name, "correction-%zu", lineno);
                e->name = strdup(name);
                cur = e;
                (*n)++;
                added++;
            } else {
                /* No text to learn from: keep nothing of this record. */
                ex_doc_free(&e->doc);
                cur = NULL;
                if (got < 0)
                    rc = -1;
            }
            api->envelope_unref(env);
            free(last_key);
            last_key = cur ? strdup(key) : NULL;
            if (cur == NULL) {
                cJSON_Delete(c);
                continue;
            }
        }
        free(cur->label[fi]);
        cur->label[fi] = ex_label_text(to);   /* null: the reviewer says there is none */
        cJSON_Delete(c);
    }
    /* Values as the transform writes them (2025-02-03, 1200) back to the
     * document's text (03.02.2025, 1,200.00), which the candidates are. */
    for (size_t i = start; i < *n; i++)
        for (int k = 0; k < EX_NFIELDS; k++)
            (*ex)[i].label[k] = ex_label_printed(&(*ex)[i].doc, k, (*ex)[i].label[k]);
    free(line);
    free(last_key);
    fclose(f);
    return rc < 0 ? -1 : added;
}

typedef struct {
    long correct[EX_NFIELDS], predicted[EX_NFIELDS], labelled[EX_NFIELDS];
    long loose[EX_NFIELDS];   /* equal once all spaces are removed */
    long reachable[EX_NFIELDS]; /* the label is among the candidates */
    /* Calibration of the confidences of predicted, labelled fields: per
     * tenth of confidence, how many and how many right, and their sum. */
    long bin_n[10], bin_hit[10];
    double bin_conf[10];
} ex_score;

static int ex_eq_nospace(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ')
            a++;
        while (*b == ' ')
            b++;
        if (*a != *b)
            return 0;
        if (*a == '\0')
            return 1;
        a++;
        b++;
    }
}

/* SROIE task 3: a field counts when the prediction equals the label exactly
 * after trimming; precision over predictions, recall over labels. */
static double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scores the documents with held[i] set (all when NULL); adds the seconds
 * spent predicting to *secs (may be NULL) for eval's throughput line. */
static int ex_score_docs(const ex_model *m, const ex_example *ex, size_t n,
                         const unsigned char *held, ex_score *sc, FILE *errors, double *secs)
{
    ex_cands c = {0};
    for (size_t i = 0; i < n; i++) {
        if (held && !held[i])
            continue;
        for (int f = 0; f < EX_NFIELDS; f++) {
            if (!m->has[f])
                continue;
            char *v;
            float conf;
            double t0 = ex_now();
            int prc = ex_predict(m, &ex[i].doc, f, &c, &v, &conf);
            if (secs)
                *secs += ex_now() - t0;
            if (prc != 0) {
                ex_cands_free(&c);
                return -1;
            }
            const char *lab = ex[i].label[f];
            int hit = v && lab && strcmp(v, lab) == 0;
            sc->predicted[f] += v != NULL && v[0] != '\0';
            sc->labelled[f] += lab != NULL && lab[0] != '\0';
            sc->correct[f] += hit;
            sc->loose[f] += v && lab && ex_eq_nospace(v, lab);
            int reach = 0;
            for (size_t k = 0; lab && k < c.n && !reach; k++)
                reach = strcmp(c.c[k].text, lab) == 0;
            sc->reachable[f] += reach;
            if (v && lab) {
                int b = conf >= 1 ? 9 : (int)(conf * 10);
                b = b < 0 ? 0 : b;
                sc->bin_n[b]++;
                sc->bin_hit[b] += hit;
                sc->bin_conf[b] += conf;
            }
            if (errors && !hit && lab)
                fprintf(errors, "%s\t%s\t%.3f\tgot [%s]\twant [%s]\n", ex[i].name,
                        ex_field_names[f], conf, v ? v : "", lab);
            free(v);
        }
    }
    ex_cands_free(&c);
    return 0;
}

static double ex_f1(long c, long p, long l, double *prec, double *rec)
{
    *prec = p ? (double)c / (double)p : 0;
    *rec = l ? (double)c / (double)l : 0;
    return *prec + *rec > 0 ? 2 * *prec * *rec / (*prec + *rec) : 0;
}

static void ex_print_score(const ex_score *sc)
{
    long tc = 0, tp = 0, tl = 0, tloose = 0;
    double p, r, f1;
    printf("%-16s %9s %9s %9s  %s\n", "field", "precision", "recall", "f1",
           "correct/predicted/labelled (label among candidates)");
    for (int f = 0; f < EX_NFIELDS; f++) {
        if (sc->labelled[f] == 0 && sc->predicted[f] == 0)
            continue;
        f1 = ex_f1(sc->correct[f], sc->predicted[f], sc->labelled[f], &p, &r);
        printf("%-16s %9.4f %9.4f %9.4f  %ld/%ld/%ld (%ld)\n", ex_field_names[f], p, r, f1,
               sc->correct[f], sc->predicted[f], sc->labelled[f], sc->reachable[f]);
        tc += sc->correct[f];
        tp += sc->predicted[f];
        tl += sc->labelled[f];
        tloose += sc->loose[f];
    }
    /* Calibration (expected calibration error) and what a review gate at
     * confidence 0.9 would let through, and how precisely. */
    long nall = 0, hi_n = 0, hi_hit = 0;
    double ece = 0;
    for (int b = 0; b < 10; b++)
        nall += sc->bin_n[b];
    for (int b = 0; b < 10; b++) {
        if (nall && sc->bin_n[b])
            ece += fabs(sc->bin_conf[b] - (double)sc->bin_hit[b]) / (double)nall;
        if (b == 9) {
            hi_n = sc->bin_n[b];
            hi_hit = sc->bin_hit[b];
        }
    }
    printf("calibration: ece=%.4f; fields with confidence >= 0.9: %.1f%%, of which %.2f%% right\n",
           ece, nall ? 100.0 * (double)hi_n / (double)nall : 0,
           hi_n ? 100.0 * (double)hi_hit / (double)hi_n : 0);
    /* For comparison only: most misses are OCR spacing the labels corrected. */
    printf("(ignoring spaces inside values: f1 %.4f)\n", ex_f1(tloose, tp, tl, &p, &r));
    f1 = ex_f1(tc, tp, tl, &p, &r);
    printf("%-16s %9.4f %9.4f %9.4f  %ld/%ld/%ld\n", "overall", p, r, f1, tc, tp, tl);
    printf("f1=%.4f\n", f1);
}

static void ex_progress(const char *msg)
{
    fprintf(stderr, "extract: %s\n", msg);
}

static const char ex_train_usage[] =
    "backplane train extract (--format sroie|lines --data DIR | --from-corrections SITE | both) --out MODEL "
    "[--into PATH (data.extracted)] [--lines PATH (data.lines)] [--text PATH (data.text)] "
    "[--name NAME] [--epochs N (60)] [--quiet]";
static const char ex_eval_usage[] =
    "backplane eval extract --format sroie|lines (--model MODEL | --folds K [--epochs N]) --data DIR "
    "[--errors FILE] [--vendor-memory] [--quiet]\n"
    "       backplane eval extract --format invoices --data DIR [--model MODEL (invoices)] "
    "[--errors FILE] [--reader layout|text]";

static int ex_check_format(const char *cmd, const char *format, const char *data, const char *usage)
{
    if (format == NULL || data == NULL) {
        fprintf(stderr, "%s extract: --format and --data are required\nusage: %s\n", cmd, usage);
        return 2;
    }
    if (strcmp(format, "sroie") != 0 && strcmp(format, "lines") != 0) {
        fprintf(stderr, "%s extract: unknown --format '%s' (supported: sroie, lines%s)\n", cmd, format,
                strcmp(cmd, "eval") == 0 ? ", invoices" : "");
        return 2;
    }
    return 0;
}

static int ex_parse_int(const char *s, int lo, int hi, const char *what, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "extract: %s must be an integer from %d to %d, not '%s'\n", what, lo, hi, s);
        return 2;
    }
    *out = (int)v;
    return 0;
}

static int extract_cmd_train(const struct bp_host_api *api, int argc, char **argv)
{
    const char *format = NULL, *data = NULL, *out = NULL, *name = NULL, *epochs_s = NULL,
               *quiet = NULL, *corr = NULL, *into = NULL, *lines = NULL, *text = NULL;
    const ml_arg spec[] = {{"format", &format, 0}, {"data", &data, 0}, {"out", &out, 0},
                           {"name", &name, 0},     {"epochs", &epochs_s, 0},
                           {"quiet", &quiet, 1},   {"corrections", &corr, 0},
                           {"into", &into, 0},     {"lines", &lines, 0},
                           {"text", &text, 0},     {0}};
    int rc = ml_args_parse(argc, argv, spec, ex_train_usage);
    if (rc == ML_ARGS_HELP)
        return 0;
    if (rc == 0 && (corr == NULL || format || data))
        rc = ex_check_format("train", format, data, ex_train_usage);
    if (rc == 0 && out == NULL) {
        fprintf(stderr, "train extract: --out is required\nusage: %s\n", ex_train_usage);
        rc = 2;
    }
    int epochs = 60;
    if (rc == 0 && epochs_s)
        rc = ex_parse_int(epochs_s, 1, 1000, "--epochs", &epochs);
    if (rc != 0)
        return rc;
    size_t n = 0;
    ex_example *ex = data ? ex_load_dir(data, format, &n, quiet != NULL) : NULL;
    if (data && ex == NULL)
        return 1;
    if (corr) {
        long k = ex_load_corrections(api, corr, into ? into : "data.extracted",
                                     lines ? lines : "data.lines", text ? text : "data.text",
                                     &ex, &n);
        if (k < 0) {
            ex_examples_free(ex, n);
            return 1;
        }
        fprintf(stderr, "train extract: %ld corrected record(s) added to the training data\n", k);
    }
    if (n == 0) {
        fprintf(stderr, "train extract: nothing to train on (no documents, no corrected records)\n");
        free(ex);
        return 1;
    }
    ex_prepared prep;
    ex_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name ? name : "sroie");
    if (ex_prepare(&prep, ex, n) != 0 ||
        ex_train(&m, &prep, NULL, epochs, quiet ? NULL : ex_progress) != 0 ||
        ex_calibrate(&m, &prep, NULL, epochs, 5) != 0) {
        fprintf(stderr, "train extract: out of memory\n");
        ex_examples_free(ex, n);
        return 1;
    }
    ex_prepared_free(&prep);
    char err[1024];
    rc = ex_model_save(&m, out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "train extract: %s\n", err);
    else
        printf("trained on %zu documents, wrote %s\n", n, out);
    ex_examples_free(ex, n);
    return rc == 0 ? 0 : 1;
}

/* --vendor-memory: what one reviewed document of a shop teaches about the
 * shop's next ones. Shops (documents grouped by their labelled company name,
 * letters only) go whole into one of K folds; for each fold a model is
 * trained on the others, so every shop is unseen. In each held-out shop with
 * at least 3 documents, the first (by name) is the reviewed one: the memory
 * learns its labels; the others are scored with the model alone (before) and
 * with the memory tried first (after). Returns 0, or -1 out of memory. */
static void ex_shop_key(const ex_example *e, char *out, size_t cap)
{
    size_t n = 0;
    const char *c = e->label[EX_COMPANY] ? e->label[EX_COMPANY] : "";
    for (; *c && n + 1 < cap && n < 12; c++)
        if (isalpha((unsigned char)*c))
            out[n++] = (char)toupper((unsigned char)*c);
    out[n] = '\0';
}

static int ex_eval_memory(const ex_example *ex, size_t n, int folds, int epochs)
{
    char (*key)[16] = calloc(n, sizeof *key);
    int *grp = calloc(n, sizeof(int)), *fold = calloc(n, sizeof(int));
    unsigned char *use = malloc(n);
    ex_prepared prep;
    int rc = key && grp && fold && use ? ex_prepare(&prep, ex, n) : -1;
    if (rc != 0) {
        free(key), free(grp), free(fold), free(use);
        return -1;
    }
    int ng = 0;
    for (size_t i = 0; i < n; i++) {
        ex_shop_key(&ex[i], key[i], sizeof key[i]);
        grp[i] = -1;
        for (size_t j = 0; j < i && grp[i] < 0; j++)
            if (strcmp(key[i], key[j]) == 0)
                grp[i] = grp[j];
        if (grp[i] < 0)
            grp[i] = ng++;
        fold[i] = grp[i] % folds;
    }
    long before[EX_NFIELDS] = {0}, after[EX_NFIELDS] = {0}, lab[EX_NFIELDS] = {0}, from_mem = 0,
         matched = 0, scored = 0;
    int shops = 0;
    ex_cands c;
    memset(&c, 0, sizeof c);
    for (int k = 0; rc == 0 && k < folds; k++) {
        for (size_t i = 0; i < n; i++)
            use[i] = fold[i] != k;
        ex_model m;
        memset(&m, 0, sizeof m);
        rc = ex_train(&m, &prep, use, epochs, NULL);
        for (int g = k; rc == 0 && g < ng; g += folds) {
            size_t first = n, count = 0;
            for (size_t i = 0; i < n; i++)
                if (grp[i] == g && count++ == 0)
                    first = i;
            if (count < 3 || key[first][0] == '\0')
                continue;
            shops++;
            ex_memory mem;
            memset(&mem, 0, sizeof mem);
            rc = ex_mem_learn(&mem, &ex[first].doc, ex[first].label, &c);
            for (size_t i = first + 1; rc == 0 && i < n; i++) {
                if (grp[i] != g)
                    continue;
                scored++;
                int fp = ex_mem_matches(&mem, &ex[i].doc);
                matched += fp;
                for (int f = 0; rc == 0 && f < EX_NFIELDS; f++) {
                    if (!m.has[f] || ex[i].label[f] == NULL)
                        continue;
                    lab[f]++;
                    char *v = NULL, *mv = NULL;
                    float conf = 0, mconf = 0;
                    rc = ex_predict(&m, &ex[i].doc, f, &c, &v, &conf);
                    if (rc == 0 && fp)
                        rc = ex_mem_predict(&mem, &ex[i].doc, f, &c, &mv, &mconf);
                    before[f] += v && strcmp(v, ex[i].label[f]) == 0;
                    int use_mem = mv && ex_mem_prefer(f, mconf, v != NULL, conf);
                    const char *a = use_mem ? mv : v;
                    from_mem += use_mem;
                    after[f] += a && strcmp(a, ex[i].label[f]) == 0;
                    free(v);
                    free(mv);
                }
            }
            ex_mem_free(&mem);
        }
    }
    ex_cands_free(&c);
    ex_prepared_free(&prep);
    free(key), free(grp), free(fold), free(use);
    if (rc != 0)
        return -1;
    printf("vendor memory: %d shops with >= 3 documents, each unseen in training (shop-grouped "
           "folds=%d epochs=%d); one document per shop reviewed, %ld others scored; "
           "fingerprint matched %ld/%ld\n", shops, folds, epochs, scored, matched, scored);
    printf("field            before     after   (exact match, documents after the reviewed one)\n");
    long tb = 0, ta = 0, tl = 0;
    for (int f = 0; f < EX_NFIELDS; f++) {
        if (lab[f] == 0)
            continue;
        printf("%-14s %8.4f  %8.4f   %ld/%ld -> %ld/%ld\n", ex_field_names[f],
               (double)before[f] / (double)lab[f], (double)after[f] / (double)lab[f], before[f],
               lab[f], after[f], lab[f]);
        tb += before[f], ta += after[f], tl += lab[f];
    }
    printf("overall        %8.4f  %8.4f   (%ld values from the memory)\n",
           tl ? (double)tb / (double)tl : 0, tl ? (double)ta / (double)tl : 0, from_mem);
    printf("accuracy_before=%.4f accuracy_after=%.4f\n", tl ? (double)tb / (double)tl : 0,
           tl ? (double)ta / (double)tl : 0);
    return 0;
}

static int extract_cmd_eval(const struct bp_host_api *api, int argc, char **argv)
{
    const char *format = NULL, *data = NULL, *model = NULL, *folds_s = NULL, *epochs_s = NULL,
               *errors_s = NULL, *quiet = NULL, *vmem = NULL, *reader = NULL;
    const ml_arg spec[] = {{"format", &format, 0}, {"data", &data, 0}, {"reader", &reader, 0},
                           {"model", &model, 0},   {"folds", &folds_s, 0},
                           {"epochs", &epochs_s, 0}, {"errors", &errors_s, 0},
                           {"quiet", &quiet, 1},   {"vendor-memory", &vmem, 1}, {0}};
    int rc = ml_args_parse(argc, argv, spec, ex_eval_usage);
    if (rc == ML_ARGS_HELP)
        return 0;
#ifdef EX_HAVE_READ
    if (rc == 0 && format && strcmp(format, "invoices") == 0) {
        if (data == NULL) {
            fprintf(stderr, "eval extract: --format and --data are required\nusage: %s\n",
                    ex_eval_usage);
            return 2;
        }
        if (folds_s) {
            fprintf(stderr, "eval extract: --format invoices scores a model (--model, default "
                            "invoices); it does not cross-validate\n");
            return 2;
        }
        if (reader && strcmp(reader, "text") != 0 && strcmp(reader, "layout") != 0) {
            fprintf(stderr, "eval extract: --reader '%s': layout (words with boxes, the default) "
                            "or text (PDF text without positions)\n", reader);
            return 2;
        }
        return ex_eval_invoices(api, data, model, errors_s, quiet != NULL,
                                reader && strcmp(reader, "text") == 0);
    }
#endif
    if (rc == 0 && reader) {
        fprintf(stderr, "eval extract: --reader is for --format invoices\n");
        rc = 2;
    }
    if (rc == 0)
        rc = ex_check_format("eval", format, data, ex_eval_usage);
    if (rc == 0 && (model == NULL) == (folds_s == NULL)) {
        fprintf(stderr, "eval extract: give either --model (score a trained model) or --folds K "
                        "(cross-validate)\nusage: %s\n", ex_eval_usage);
        rc = 2;
    }
    int folds = 0, epochs = 60;
    if (rc == 0 && folds_s)
        rc = ex_parse_int(folds_s, 2, 100, "--folds", &folds);
    if (rc == 0 && epochs_s)
        rc = ex_parse_int(epochs_s, 1, 1000, "--epochs", &epochs);
    if (rc != 0)
        return rc;
    ex_model m;
    char err[1024];
    if (model && ex_model_load(&m, model, err, sizeof err) != 0) {
        fprintf(stderr, "eval extract: %s\n", err);
        return 1;
    }
    size_t n = 0;
    ex_example *ex = ex_load_dir(data, format, &n, quiet != NULL);
    if (ex == NULL)
        return 1;
    FILE *errors = NULL;
    if (errors_s && (errors = fopen(errors_s, "w")) == NULL) {
        fprintf(stderr, "eval extract: %s: %s\n", errors_s, strerror(errno));
        ex_examples_free(ex, n);
        return 1;
    }
    if (vmem) {
        if (folds == 0) {
            fprintf(stderr, "eval extract: --vendor-memory needs --folds K (shops held out)\n");
            rc = 2;
        } else if (ex_eval_memory(ex, n, folds, epochs) != 0) {
            fprintf(stderr, "eval extract: out of memory\n");
            rc = 1;
        }
        if (errors)
            fclose(errors);
        ex_examples_free(ex, n);
        return rc;
    }
    ex_score sc;
    memset(&sc, 0, sizeof sc);
    rc = 0;
    double speed = 0;
    if (model) {
        /* The lines of a document are parsed and flagged once (as the
         * transform does per record); time that as well as the ranking. */
        double t0 = ex_now();
        for (size_t i = 0; i < n; i++) {
            ex_doc copy;
            ex_doc_init(&copy);
            for (size_t k = 0; k < ex[i].doc.n; k++) {
                const ex_line *l = &ex[i].doc.lines[k];
                double box[4] = {l->x0, l->y0, l->x1, l->y1};
                ex_doc_add(&copy, l->text, strlen(l->text), box);
            }
            ex_doc_finish(&copy);
            ex_doc_free(&copy);
        }
        double prep = ex_now() - t0;
        double secs = 0;
        rc = ex_score_docs(&m, ex, n, NULL, &sc, errors, &secs);
        speed = (double)n / (prep + secs);
    } else {
        ex_prepared prep;
        unsigned char *use = malloc(n), *held = malloc(n);
        rc = use && held ? ex_prepare(&prep, ex, n) : -1;
        if ((size_t)folds > n) {
            fprintf(stderr, "eval extract: %d folds but only %zu documents\n", folds, n);
            rc = -2;
        }
        for (int k = 0; rc == 0 && k < folds; k++) {
            for (size_t i = 0; i < n; i++) {
                held[i] = (int)(i % (size_t)folds) == k;
                use[i] = !held[i];
            }
            memset(&m, 0, sizeof m);
            snprintf(m.name, sizeof m.name, "cv%d", k + 1);
            ex_score fs;
            memset(&fs, 0, sizeof fs);
            rc = ex_train(&m, &prep, use, epochs, NULL);
            if (rc == 0)
                rc = ex_calibrate(&m, &prep, use, epochs, 5);
            if (rc == 0)
                rc = ex_score_docs(&m, ex, n, held, &fs, errors, NULL);
            long c = 0, p = 0, l = 0;
            for (int f = 0; f < EX_NFIELDS; f++) {
                c += fs.correct[f];
                p += fs.predicted[f];
                l += fs.labelled[f];
                sc.correct[f] += fs.correct[f];
                sc.predicted[f] += fs.predicted[f];
                sc.labelled[f] += fs.labelled[f];
                sc.loose[f] += fs.loose[f];
                sc.reachable[f] += fs.reachable[f];
            }
            for (int b = 0; b < 10; b++) {
                sc.bin_n[b] += fs.bin_n[b];
                sc.bin_hit[b] += fs.bin_hit[b];
                sc.bin_conf[b] += fs.bin_conf[b];
            }
            double pr, re;
            if (!quiet && rc == 0)
                fprintf(stderr, "extract: fold %d/%d: f1=%.4f\n", k + 1, folds,
                        ex_f1(c, p, l, &pr, &re));
        }
        if (rc != -2 && use && held)
            ex_prepared_free(&prep);
        free(use);
        free(held);
        /* Every field the data labels took part. */
        for (int f = 0; f < EX_NFIELDS; f++)
            m.has[f] = 1;
        if (rc == -2)
            rc = 2;
    }
    if (errors)
        fclose(errors);
    if (rc == 0) {
        printf("%s on %zu documents\n", model ? "evaluated" : "cross-validated", n);
        if (folds)
            printf("folds=%d epochs=%d\n", folds, epochs);
        if (speed > 0)
            printf("speed: %.0f documents/s (lines to fields, every field, one thread)\n", speed);
        ex_print_score(&sc);
    } else if (rc < 0) {
        fprintf(stderr, "eval extract: out of memory\n");
        rc = 1;
    }
    ex_examples_free(ex, n);
    return rc;
}

static const struct bp_command extract_commands[] = {
    {.name = "train", .summary = "train a model: --format sroie --data DIR and/or --from-corrections SITE, --out MODEL",
     .run = extract_cmd_train},
    {.name = "eval", .summary = "precision/recall/F1 per field: --model MODEL or --folds K, --data DIR",
     .run = extract_cmd_eval},
#ifdef EX_HAVE_READ
    {.name = "read", .summary = "fields of PDF, scan, image, .eml or text files, one JSON line each: [--model M] FILE...",
     .run = ex_cmd_read},
#endif
    {0},
};

static const struct bp_plugin extract_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,    /* model_find */
    .name = "extract",
    .version = EXTRACT_VERSION,
    .description = "key fields of invoices and receipts (learned ranker), with confidences",
    .kinds = BP_KIND_TRANSFORM,
    .options = extract_options,
    .options_size = sizeof(struct extract_opts),
    .init_ex = extract_init,
    .transform = extract_transform,
    .destroy = extract_destroy,
    .commands = extract_commands,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &extract_plugin;
}
