/* classify: trainable text classifier for triage (category, priority, ...),
 * with calibrated probabilities and the top k labels; one instance serves
 * several label fields, each with its own model.
 *
 *   - classify: { models: { category: models/category.model,
 *                           urgency: models/urgency.model },
 *                 text: [data.subject, data.body], into: data.classified, top_k: 3 }
 *
 * Writes INTO.FIELD (the label), INTO.confidence.FIELD and INTO.top.FIELD
 * ([{label, p}], best first). Models are made and measured by
 *
 *   backplane train classify --data FILE.jsonl --text FIELD --label FIELD --out MODEL
 *   backplane eval  classify --model MODEL --data FILE.jsonl --text FIELD --label FIELD
 *   backplane eval  classify --folds 5 --data FILE.jsonl --text FIELD --label FIELD
 */
#include <errno.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <backplane/plugin.h>

#include "../ml/ml_args.h"
#include "classify_model.h"

#define CLASSIFY_VERSION "1.0.0"
#define CL_MAX_TEXT 8

typedef struct {
    char *field;
    cl_model model;
} cl_head;

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    cl_head *heads;
    size_t nheads;
    char *text[CL_MAX_TEXT];
    size_t ntext;
    char *into;
    int top_k;
    cl_vec raw, vec;
    float *p;
    char *buf;
    size_t bufcap;
    char model_names[256];
} cl_self;

/* The numeric option, bound (BP_OPT_FIELD): its default lives once, in the
 * schema. */
struct cl_opts {
    long long top_k;
};

/* models: label field -> model file (relative: to the site file). */
static const struct bp_option cl_model_files[] = {
    {.name = "*", .type = BP_OPT_STRING, .description = "a shipped model's name or a model file from `backplane train classify` (relative: to the site file)"},
    {0},
};

static const struct bp_option classify_options[] = {
    {.name = "models", .type = BP_OPT_MAP, .flags = BP_OPT_REQUIRED, .fields = cl_model_files,
     .description = "{ label_field: model file }: one model per label field (from `backplane train classify`)"},
    {.name = "text", .type = BP_OPT_LIST, .default_value = "data.text",
     .description = "paths of the text to classify (joined with newlines); missing ones are skipped"},
    {.name = "into", .type = BP_OPT_STRING, .default_value = "data.classified",
     .description = "INTO.FIELD gets the label, INTO.confidence.FIELD and INTO.top.FIELD the probabilities"},
    {.name = "top_k", .type = BP_OPT_INT, .default_value = "3", .min = "1", .max = "20",
     BP_OPT_FIELD(struct cl_opts, top_k),
     .description = "how many labels INTO.top.FIELD lists"},
    {0},
};

static void classify_destroy(void *p)
{
    cl_self *self = p;
    if (self == NULL)
        return;
    for (size_t i = 0; i < self->nheads; i++) {
        free(self->heads[i].field);
        cl_model_free(&self->heads[i].model);
    }
    free(self->heads);
    for (size_t i = 0; i < self->ntext; i++)
        free(self->text[i]);
    free(self->into);
    cl_vec_free(&self->raw);
    cl_vec_free(&self->vec);
    free(self->p);
    free(self->buf);
    free(self);
}

static bp_status classify_init(const struct bp_host_api *api, bp_instance *inst,
                               const cJSON *config, const struct bp_instance_info *info,
                               void **out, char **errmsg)
{
    const struct cl_opts *o = info->options;
    cl_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const cJSON *models = bp_cfg_get0(config, "models");
    int n = cJSON_GetArraySize(models);
    self->heads = calloc(n > 0 ? (size_t)n : 1, sizeof(cl_head));
    self->into = strdup(bp_cfg_str(config, "into"));
    self->top_k = (int)o->top_k;
    if (self->heads == NULL || self->into == NULL)
        goto nomem;
    if (n == 0) {
        *errmsg = api->format("models: give at least one { label_field: model file }");
        goto invalid;
    }
    uint32_t maxc = 0;
    size_t nl = 0;
    for (const cJSON *it = models->child; it; it = it->next) {
        cl_head *h = &self->heads[self->nheads];
        char err[1024];
        if (!cJSON_IsString(it)) {
            *errmsg = api->format("models: the value of '%s' must be a model file", it->string);
            goto invalid;
        }
        /* A model's name or a file (host model_find, ABI 1.3). */
        char *mpath = NULL, *merr = NULL;
        bp_status fst = api->model_find(inst, it->valuestring, &mpath, &merr);
        if (fst == BP_ERR_NOT_FOUND && strchr(it->valuestring, '/') == NULL) {
            *errmsg = api->format("models: %s: %s", it->string, merr ? merr : "not found");
            api->free(merr);
            goto invalid;
        }
        api->free(merr);
        int bad = cl_model_load(&h->model, mpath ? mpath : it->valuestring, err, sizeof err) != 0;
        api->free(mpath);
        if (bad) {
            *errmsg = api->format("models: %s: %s", it->string, err);
            goto invalid;
        }
        self->nheads++;
        if ((h->field = strdup(it->string)) == NULL)
            goto nomem;
        char path[512];
        snprintf(path, sizeof path, "%s.%s", self->into, h->field);
        if (api->path_check(path) != BP_OK) {
            *errmsg = api->format("models: '%s' cannot be a field name", h->field);
            goto invalid;
        }
        if (h->model.nclass > maxc)
            maxc = h->model.nclass;
        nl += (size_t)snprintf(self->model_names + nl, nl < sizeof self->model_names ?
                                   sizeof self->model_names - nl : 0,
                               "%s%s", nl ? "," : "", h->model.name);
        if (nl >= sizeof self->model_names)
            nl = sizeof self->model_names - 1;
    }
    if ((self->p = malloc(maxc * sizeof(float))) == NULL)
        goto nomem;
    const cJSON *text = bp_cfg_get0(config, "text");
    for (const cJSON *it = text ? text->child : NULL; it; it = it->next) {
        if (self->ntext == CL_MAX_TEXT) {
            *errmsg = api->format("text: at most %d paths", CL_MAX_TEXT);
            goto invalid;
        }
        if (api->path_check(it->valuestring) != BP_OK) {
            *errmsg = api->format("text: invalid path '%s'", it->valuestring);
            goto invalid;
        }
        if ((self->text[self->ntext++] = strdup(it->valuestring)) == NULL)
            goto nomem;
    }
    if (api->path_check(self->into) != BP_OK) {
        *errmsg = api->format("into: invalid path '%s'", self->into);
        goto invalid;
    }
    *out = self;
    return BP_OK;
nomem:
    classify_destroy(self);
    return BP_ERR_NOMEM;
invalid:
    classify_destroy(self);
    return BP_ERR_INVALID;
}

/* The record's text: the configured paths joined with newlines. NULL when
 * none is a string; -1 in *oom when out of memory. */
static const char *cl_text(cl_self *self, bp_envelope *env, int *oom)
{
    size_t len = 0;
    int any = 0;
    *oom = 0;
    for (size_t i = 0; i < self->ntext; i++) {
        const cJSON *t = self->api->envelope_get0_path(env, self->text[i]);
        if (!cJSON_IsString(t))
            continue;
        size_t tl = strlen(t->valuestring);
        if (len + tl + 2 > self->bufcap) {
            size_t cap = (len + tl + 2) * 2;
            char *b = realloc(self->buf, cap);
            if (b == NULL) {
                *oom = 1;
                return NULL;
            }
            self->buf = b;
            self->bufcap = cap;
        }
        if (any)
            self->buf[len++] = '\n';
        memcpy(self->buf + len, t->valuestring, tl);
        len += tl;
        self->buf[len] = '\0';
        any = 1;
    }
    return any ? self->buf : NULL;
}

static double cl_round4(double x)
{
    return floor(x * 10000 + 0.5) / 10000;
}

static bp_status classify_transform(void *p, bp_envelope **env, char **reason)
{
    cl_self *self = p;
    const struct bp_host_api *api = self->api;
    int oom;
    const char *text = cl_text(self, *env, &oom);
    if (text == NULL) {
        if (oom)
            return BP_RETRY;
        api->counter_add(self->inst, "no_text", 1);
        return BP_OK;
    }
    bp_envelope *w = api->envelope_make_writable(*env);
    if (w == NULL)
        return BP_RETRY;
    *env = w;
    char changed[1024] = "";
    size_t cl = 0;
    float minc = 1;
    uint32_t last_buckets = 0;
    for (size_t h = 0; h < self->nheads; h++) {
        const cl_model *m = &self->heads[h].model;
        /* Heads with the same hash space share one featurisation. */
        if (m->buckets != last_buckets) {
            if (cl_featurize(text, m->buckets, &self->raw) != 0)
                return BP_RETRY;
            last_buckets = m->buckets;
        }
        cl_vec_free(&self->vec);
        if (cl_vec_copy(&self->vec, &self->raw) != 0)
            return BP_RETRY;
        cl_weigh(&self->vec, m->idf);
        cl_predict(m, &self->vec, self->p);
        int order[20];
        int k = self->top_k < (int)m->nclass ? self->top_k : (int)m->nclass;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (uint32_t c = 0; c < m->nclass; c++) {
                int used = 0;
                for (int q = 0; q < r; q++)
                    used |= order[q] == (int)c;
                if (!used && (best < 0 || self->p[c] > self->p[best]))
                    best = (int)c;
            }
            order[r] = best;
        }
        cJSON *top = cJSON_CreateArray();
        for (int r = 0; top && r < k; r++) {
            cJSON *o = cJSON_CreateObject();
            if (o == NULL || !cJSON_AddStringToObject(o, "label", m->labels[order[r]]) ||
                !cJSON_AddNumberToObject(o, "p", cl_round4(self->p[order[r]]))) {
                cJSON_Delete(o);
                cJSON_Delete(top);
                return BP_RETRY;
            }
            cJSON_AddItemToArray(top, o);
        }
        if (top == NULL)
            return BP_RETRY;
        const char *field = self->heads[h].field;
        char path[512], cpath[512], tpath[512];
        snprintf(path, sizeof path, "%s.%s", self->into, field);
        snprintf(cpath, sizeof cpath, "%s.confidence.%s", self->into, field);
        snprintf(tpath, sizeof tpath, "%s.top.%s", self->into, field);
        float conf = self->p[order[0]];
        if (api->envelope_set0_path(w, path, cJSON_CreateString(m->labels[order[0]])) != BP_OK ||
            api->envelope_set0_path(w, cpath, cJSON_CreateNumber(cl_round4(conf))) != BP_OK ||
            api->envelope_set0_path(w, tpath, top) != BP_OK) {
            *reason = api->format("classify: cannot set %s", path);
            return BP_REJECT;
        }
        cl += (size_t)snprintf(changed + cl, sizeof changed - cl, "%s%s", cl ? "," : "", path);
        if (cl >= sizeof changed)
            cl = sizeof changed - 1;
        if (conf < minc)
            minc = conf;
    }
    const bp_lineage step = {.plugin = "classify", .version = CLASSIFY_VERSION,
                             .model = self->model_names, .confidence = minc, .changed = changed,
                             .at_ms = 0};
    api->envelope_add_lineage(w, &step);
    api->counter_add(self->inst, "classified", 1);
    return BP_MODIFIED;
}

/* ---- commands ----------------------------------------------------------- */

typedef struct {
    cl_data d;
    char **texts;        /* the record's text, parallel to d */
    char **labels;       /* gold label strings, parallel to d */
    char **classes;      /* distinct labels, sorted */
    uint32_t nclass;
    size_t skipped;
} cl_set;

static void cl_set_free(cl_set *s)
{
    for (size_t i = 0; i < s->d.n; i++) {
        cl_vec_free(&s->d.x[i]);
        free(s->labels[i]);
        free(s->texts[i]);
    }
    free(s->texts);
    free(s->d.x);
    free(s->d.y);
    free(s->labels);
    for (uint32_t k = 0; k < s->nclass; k++)
        free(s->classes[k]);
    free(s->classes);
    memset(s, 0, sizeof(*s));
}

/* Label order: numerically when every label is a number, else by bytes. */
static int cl_cmp_label(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    char *ex, *ey;
    double dx = strtod(x, &ex), dy = strtod(y, &ey);
    if (*x && *y && *ex == '\0' && *ey == '\0' && dx != dy)
        return dx < dy ? -1 : 1;
    return strcmp(x, y);
}

static char *cl_label_str(const cJSON *v)
{
    char buf[64];
    if (cJSON_IsString(v)) {
        char *s = strdup(v->valuestring);
        for (char *p = s; p && *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        return s;
    }
    if (cJSON_IsNumber(v)) {
        snprintf(buf, sizeof buf, "%.15g", v->valuedouble);
        return strdup(buf);
    }
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "true" : "false");
    return NULL;
}

/* Reads FILE.jsonl: the text fields (comma-separated names, joined with
 * newlines) and the label field of every line. A line that is not a JSON
 * object, or lacks the text or the label, is reported with file:line and
 * skipped. */
static int cl_load(const char *path, const char *text_fields, const char *label_field,
                   uint32_t buckets, cl_set *s, int quiet)
{
    memset(s, 0, sizeof(*s));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "classify: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    char *line = NULL, *text = NULL;
    size_t lcap = 0, tcap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&line, &lcap, f)) != -1) {
        lineno++;
        if (got <= 1 && (got == 0 || line[0] == '\n'))
            continue;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            const char *e = cJSON_GetErrorPtr();
            fprintf(stderr, "classify: %s:%ld:%ld: not a JSON object, skipped\n", path, lineno,
                    e && e >= line && e <= line + got ? (long)(e - line) + 1 : 1L);
            cJSON_Delete(o);
            s->skipped++;
            continue;
        }
        size_t tl = 0;
        const char *fp = text_fields;
        while (*fp) {
            const char *comma = strchr(fp, ',');
            size_t fl = comma ? (size_t)(comma - fp) : strlen(fp);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(fl < 255 ? fl : 255), fp);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, name);
            if (cJSON_IsString(t)) {
                size_t l = strlen(t->valuestring);
                if (tl + l + 2 > tcap) {
                    tcap = (tl + l + 2) * 2;
                    char *p = realloc(text, tcap);
                    if (p == NULL) {
                        rc = -1;
                        break;
                    }
                    text = p;
                }
                if (tl)
                    text[tl++] = '\n';
                memcpy(text + tl, t->valuestring, l);
                tl += l;
                text[tl] = '\0';
            }
            fp += fl + (comma != NULL);
        }
        char *label = cl_label_str(cJSON_GetObjectItemCaseSensitive(o, label_field));
        cJSON_Delete(o);
        if (rc != 0 || tl == 0 || label == NULL) {
            if (rc == 0)
                fprintf(stderr, "classify: %s:%ld: no %s, skipped\n", path, lineno,
                        tl == 0 ? "text" : "label");
            free(label);
            s->skipped++;
            continue;
        }
        if (s->d.n == cap) {
            cap = cap ? cap * 2 : 1024;
            cl_vec *x = realloc(s->d.x, cap * sizeof(*x));
            char **lb = x ? realloc(s->labels, cap * sizeof(char *)) : NULL;
            char **tx = lb ? realloc(s->texts, cap * sizeof(char *)) : NULL;
            if (x)
                s->d.x = x;
            if (lb)
                s->labels = lb;
            if (tx)
                s->texts = tx;
            if (!x || !lb || !tx) {
                free(label);
                rc = -1;
                break;
            }
        }
        memset(&s->d.x[s->d.n], 0, sizeof(cl_vec));
        s->labels[s->d.n] = label;
        s->texts[s->d.n] = strdup(text);
        if (s->texts[s->d.n] == NULL || cl_featurize(text, buckets, &s->d.x[s->d.n]) != 0) {
            s->d.n++;
            rc = -1;
            break;
        }
        s->d.n++;
        if (!quiet && s->d.n % 2000 == 0)
            fprintf(stderr, "classify: read %zu records\n", s->d.n);
    }
    free(line);
    free(text);
    fclose(f);
    if (rc == 0 && s->d.n == 0) {
        fprintf(stderr, "classify: %s: no usable records (text '%s', label '%s')\n", path,
                text_fields, label_field);
        rc = 1;
    }
    if (rc == 0) {
        char **tmp = malloc(s->d.n * sizeof(char *));
        s->classes = calloc(s->d.n, sizeof(char *));
        s->d.y = malloc(s->d.n * sizeof(int));
        if (!tmp || !s->classes || !s->d.y) {
            free(tmp);
            rc = -1;
        } else {
            memcpy(tmp, s->labels, s->d.n * sizeof(char *));
            qsort(tmp, s->d.n, sizeof(char *), cl_cmp_label);
            for (size_t i = 0; i < s->d.n && rc == 0; i++)
                if (i == 0 || strcmp(tmp[i], tmp[i - 1]) != 0)
                    if ((s->classes[s->nclass++] = strdup(tmp[i])) == NULL)
                        rc = -1;
            free(tmp);
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < s->d.n; i++) {
            s->d.y[i] = -1;
            for (uint32_t k = 0; k < s->nclass; k++)
                if (strcmp(s->labels[i], s->classes[k]) == 0)
                    s->d.y[i] = (int)k;
        }
    }
    if (rc < 0)
        fprintf(stderr, "classify: out of memory\n");
    if (rc != 0)
        cl_set_free(s);
    return rc;
}

/* Trains m (buckets, nclass, labels set) on the examples in use: first a
 * temperature from out-of-fold logits of calib folds, then the weights on all
 * of them. */
static int cl_fit_weighted(cl_model *m, const cl_data *d, const unsigned char *use, int epochs,
                           int calib);

/* Weighted copies of raw vectors: idf from the training examples only, so
 * cross-validation never sees held-out text. */
static int cl_fit(cl_model *m, const cl_data *raw, const unsigned char *use, int epochs, int calib,
                  cl_data *weighted)
{
    free(m->idf);
    m->idf = cl_idf(raw, use, m->buckets);

    cl_data w = {.x = calloc(raw->n ? raw->n : 1, sizeof(cl_vec)), .y = raw->y, .n = raw->n};
    int rc = m->idf && w.x ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < raw->n; i++) {
        rc = cl_vec_copy(&w.x[i], &raw->x[i]);
        if (rc == 0)
            cl_weigh(&w.x[i], m->idf);
    }
    if (rc == 0)
        rc = cl_fit_weighted(m, &w, use, epochs, calib);
    if (rc == 0 && weighted) {
        *weighted = w;
        return 0;
    }
    for (size_t i = 0; w.x && i < raw->n; i++)
        cl_vec_free(&w.x[i]);
    free(w.x);
    return rc;
}

static void cl_weighted_free(cl_data *w)
{
    for (size_t i = 0; w->x && i < w->n; i++)
        cl_vec_free(&w->x[i]);
    free(w->x);
    memset(w, 0, sizeof(*w));
}

static int cl_fit_weighted(cl_model *m, const cl_data *d, const unsigned char *use, int epochs,
                           int calib)
{
    size_t n = d->n;
    uint32_t c = m->nclass;
    float temperature = 1;
    if (calib >= 2) {
        unsigned char *sub = malloc(n);
        float *z = malloc(n * c * sizeof(float));
        int *y = malloc(n * sizeof(int));
        size_t nz = 0;
        int rc = sub && z && y ? 0 : -1;
        size_t rank = 0;
        size_t *pos = malloc(n * sizeof(size_t));
        if (pos == NULL)
            rc = -1;
        for (size_t i = 0; rc == 0 && i < n; i++)
            pos[i] = (!use || use[i]) ? rank++ : (size_t)-1;
        for (int k = 0; rc == 0 && k < calib; k++) {
            for (size_t i = 0; i < n; i++)
                sub[i] = pos[i] != (size_t)-1 && (int)(pos[i] % (size_t)calib) != k;
            rc = cl_train(m, d, sub, epochs);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                if (pos[i] == (size_t)-1 || (int)(pos[i] % (size_t)calib) != k)
                    continue;
                cl_logits(m, &d->x[i], z + nz * c);
                y[nz++] = d->y[i];
            }
        }
        if (rc == 0 && nz > 0)
            temperature = cl_fit_temperature(z, y, nz, c);
        free(sub);
        free(z);
        free(y);
        free(pos);
        if (rc != 0)
            return rc;
    }
    int rc = cl_train(m, d, use, epochs);
    m->temperature = temperature;
    return rc;
}

static int cl_model_alloc(cl_model *m, const cl_set *s, uint32_t buckets, const char *name)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof m->name, "%s", name);
    m->buckets = buckets;
    m->nclass = s->nclass;
    m->labels = calloc(s->nclass, sizeof(char *));
    m->w = calloc((size_t)buckets * s->nclass, sizeof(float));
    m->b = calloc(s->nclass, sizeof(float));
    if (!m->labels || !m->w || !m->b)
        return -1;
    for (uint32_t k = 0; k < s->nclass; k++)
        if ((m->labels[k] = strdup(s->classes[k])) == NULL)
            return -1;
    m->temperature = 1;
    return 0;
}

static const char cl_train_usage[] =
    "backplane train classify --data FILE.jsonl --text FIELD[=PATH][,FIELD[=PATH]] "
    "--label FIELD[=PATH] --out MODEL [--from-corrections SITE] [--name NAME] [--epochs N] "
    "[--buckets 2^K] [--calib-folds K] [--quiet]\n"
    "  FIELD is the training file's field; PATH the envelope path the site reads the text at\n"
    "  (default data.FIELD) or writes the label at (default: any path ending in .FIELD), so\n"
    "  --label category=data.triage.topic trains 'category' from corrections of data.triage.topic";

/* FIELD[=PATH] items of a comma list (--text, --label): the training file's
 * field and, optionally, the envelope path the site reads or writes it at. */
typedef struct cl_map {
    char *field[CL_MAX_TEXT];
    char *path[CL_MAX_TEXT];     /* NULL: the default (see cl_merge_corrections) */
    size_t n;
    char plain[512];             /* the fields alone, comma-joined, for cl_load */
} cl_map;

static int cl_map_parse(cl_map *m, const char *spec, const char *opt, size_t max)
{
    memset(m, 0, sizeof(*m));
    char buf[512];
    if (strlen(spec) >= sizeof(buf)) {
        fprintf(stderr, "train classify: %s is too long\n", opt);
        return 2;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    char *save = NULL;
    for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        if (eq)
            *eq = '\0';
        if (m->n == max || *it == '\0' || (eq && eq[1] == '\0')) {
            fprintf(stderr, "train classify: %s '%s': give FIELD or FIELD=PATH%s\n", opt, spec,
                    max == 1 ? " (one)" : ", comma-separated");
            return 2;
        }
        m->field[m->n] = strdup(it);
        m->path[m->n] = eq ? strdup(eq + 1) : NULL;
        m->n++;
        size_t used = strlen(m->plain);
        snprintf(m->plain + used, sizeof(m->plain) - used, "%s%s", used ? "," : "", it);
    }
    if (m->n == 0) {
        fprintf(stderr, "train classify: %s is empty\n", opt);
        return 2;
    }
    return 0;
}

static void cl_map_free(cl_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->field[i]);
        free(m->path[i]);
    }
    m->n = 0;
}

/* The value at a dotted path (data.triage.topic) in a JSON object, or NULL. */
static const cJSON *cl_path_get(const cJSON *root, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *v = root;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); v && seg; seg = strtok_r(NULL, ".", &save))
        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, seg) : NULL;
    return v;
}

/* What cl_merge_corrections matched, for the line that says so. */
typedef struct cl_merge_info {
    long read, added, no_text;
    char label_path[256];        /* the path taken (the first, when several) */
    char seen[256];              /* corrected paths that were not taken, for the hint */
} cl_merge_info;

/* Training data plus reviewers' corrections of the label (--corrections FILE,
 * which the core makes from --from-corrections SITE). The label's correction
 * is the one at label->path[0] exactly, or, without a path, any path ending
 * in ".FIELD"; its record gives each text field at its path (default
 * data.FIELD). Such a correction becomes an example in the training file's
 * shape ({FIELD: text, ..., LABEL: corrected value}). Writes both into a new
 * temporary file (*tmp, to unlink); returns 0, or -1 when a file cannot be
 * read or written. */
static int cl_merge_corrections(const char *data, const char *corr, const cl_map *text,
                                const cl_map *label, char *tmp, cl_merge_info *info)
{
    memset(info, 0, sizeof(*info));
    FILE *in = fopen(data, "r"), *cf = fopen(corr, "r"), *out = NULL;
    int fd = mkstemp(tmp);
    int rc = -1;
    if (in && cf && fd >= 0 && (out = fdopen(fd, "w")) != NULL) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        char last = '\n';
        while ((len = getline(&line, &cap, in)) > 0) {
            fwrite(line, 1, (size_t)len, out);
            last = line[len - 1];
        }
        if (last != '\n')
            fputc('\n', out);
        rc = 0;
        const char *lf = label->field[0], *lp = label->path[0];
        size_t ll = strlen(lf);
        while ((len = getline(&line, &cap, cf)) > 0) {
            cJSON *c = cJSON_Parse(line);
            const cJSON *path = cJSON_GetObjectItemCaseSensitive(c, "path");
            const cJSON *to = cJSON_GetObjectItemCaseSensitive(c, "to");
            const cJSON *rec = cJSON_GetObjectItemCaseSensitive(c, "record");
            info->read++;
            const char *p = cJSON_IsString(path) ? path->valuestring : "";
            size_t pl = strlen(p);
            int match = lp ? strcmp(p, lp) == 0
                           : pl > ll && p[pl - ll - 1] == '.' && strcmp(p + pl - ll, lf) == 0;
            if (!match || !cJSON_IsString(to) || !cJSON_IsObject(rec)) {
                size_t used = strlen(info->seen);
                if (*p && !strstr(info->seen, p) && used + pl + 3 < sizeof(info->seen))
                    snprintf(info->seen + used, sizeof(info->seen) - used, "%s%s", used ? ", " : "", p);
                cJSON_Delete(c);
                continue;
            }
            if (!info->label_path[0])
                snprintf(info->label_path, sizeof(info->label_path), "%s", p);
            cJSON *ex = cJSON_CreateObject();
            int texts = 0;
            for (size_t i = 0; i < text->n; i++) {
                char def[300];
                snprintf(def, sizeof(def), "data.%s", text->field[i]);
                const cJSON *v = cl_path_get(rec, text->path[i] ? text->path[i] : def);
                if (cJSON_IsString(v) && v->valuestring[0]) {
                    cJSON_AddStringToObject(ex, text->field[i], v->valuestring);
                    texts++;
                }
            }
            if (texts == 0) {
                info->no_text++;
            } else {
                cJSON_AddStringToObject(ex, lf, to->valuestring);
                char *txt = cJSON_PrintUnformatted(ex);
                if (txt) {
                    fprintf(out, "%s\n", txt);
                    info->added++;
                }
                free(txt);
            }
            cJSON_Delete(ex);
            cJSON_Delete(c);
        }
        free(line);
    }
    if (in)
        fclose(in);
    if (cf)
        fclose(cf);
    if (out) {
        if (fclose(out) != 0)
            rc = -1;
    } else if (fd >= 0) {
        close(fd);
    }
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    return rc;
}

static const char cl_eval_usage[] =
    "backplane eval classify (--model MODEL | --folds K) --data FILE.jsonl --text FIELD[,FIELD] "
    "--label FIELD [--epochs N] [--buckets 2^K] [--quiet]";

static int cl_int(const char *s, long lo, long hi, const char *what, long *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (s == NULL)
        return 0;
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "classify: %s must be an integer from %ld to %ld, not '%s'\n", what, lo,
                hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

static int cl_check_buckets(long b)
{
    if (b & (b - 1)) {
        fprintf(stderr, "classify: --buckets must be a power of two\n");
        return 2;
    }
    return 0;
}

static int classify_cmd_train(const struct bp_host_api *api, int argc, char **argv)
{
    (void)api;
    const char *data = NULL, *text = NULL, *label = NULL, *out = NULL, *name = NULL,
               *epochs_s = NULL, *buckets_s = NULL, *calib_s = NULL, *quiet = NULL,
               *corr = NULL;
    const ml_arg spec[] = {{"data", &data, 0},         {"text", &text, 0},
                           {"label", &label, 0},       {"out", &out, 0},
                           {"name", &name, 0},         {"epochs", &epochs_s, 0},
                           {"buckets", &buckets_s, 0}, {"calib-folds", &calib_s, 0},
                           {"quiet", &quiet, 1},       {"corrections", &corr, 0},
                           {0}};
    int rc = ml_args_parse(argc, argv, spec, cl_train_usage);
    if (rc == ML_ARGS_HELP)
        return 0;
    if (rc == 0 && (!data || !text || !label || !out)) {
        fprintf(stderr, "train classify: --data, --text, --label and --out are required\nusage: %s\n",
                cl_train_usage);
        rc = 2;
    }
    long epochs = 6, buckets = 1L << 16, calib = 5;
    if (rc == 0)
        rc = cl_int(epochs_s, 1, 1000, "--epochs", &epochs) |
             cl_int(buckets_s, 16, 1L << 24, "--buckets", &buckets) |
             cl_int(calib_s, 0, 50, "--calib-folds", &calib);
    if (rc == 0)
        rc = cl_check_buckets(buckets);
    if (rc != 0)
        return 2;
    cl_map tmap, lmap;
    if (cl_map_parse(&tmap, text, "--text", CL_MAX_TEXT) != 0)
        return 2;
    if (cl_map_parse(&lmap, label, "--label", 1) != 0) {
        cl_map_free(&tmap);
        return 2;
    }
    if (!corr && (lmap.path[0] || tmap.path[0]))
        fprintf(stderr, "train classify: FIELD=PATH names where corrections are read: ignored "
                        "without --from-corrections\n");
    char merged[] = "/tmp/backplane-classify-XXXXXX";
    const char *src = data;
    if (corr) {
        cl_merge_info mi;
        if (cl_merge_corrections(data, corr, &tmap, &lmap, merged, &mi) < 0) {
            fprintf(stderr, "train classify: cannot add the corrections in %s to %s\n", corr, data);
            cl_map_free(&tmap);
            cl_map_free(&lmap);
            return 1;
        }
        if (mi.added > 0 || mi.no_text > 0) {
            fprintf(stderr, "classify: %ld correction(s) read, %ld example(s) added, label %s from %s",
                    mi.read, mi.added, lmap.field[0], mi.label_path);
            if (mi.no_text)
                fprintf(stderr, " (%ld skipped: no text at the --text path%s)", mi.no_text,
                        tmap.n > 1 ? "s" : "");
            fputc('\n', stderr);
        } else if (lmap.path[0]) {
            fprintf(stderr, "classify: %ld correction(s) read, 0 example(s) added: no correction of "
                            "%s%s%s%s\n", mi.read, lmap.path[0], mi.seen[0] ? " (corrected: " : "",
                    mi.seen, mi.seen[0] ? ")" : "");
        } else {
            fprintf(stderr, "classify: %ld correction(s) read, 0 example(s) added: no correction of "
                            "a path ending in '.%s'", mi.read, lmap.field[0]);
            if (mi.seen[0])
                fprintf(stderr, " (corrected: %s; give --label %s=PATH)", mi.seen, lmap.field[0]);
            fputc('\n', stderr);
        }
        src = merged;
    }
    cl_set s;
    int loaded = cl_load(src, tmap.plain, lmap.field[0], (uint32_t)buckets, &s, quiet != NULL);
    char label_field[256];
    snprintf(label_field, sizeof(label_field), "%s", lmap.field[0]);
    label = label_field;
    cl_map_free(&tmap);
    cl_map_free(&lmap);
    if (corr)
        unlink(merged);
    if (loaded != 0)
        return 1;
    if (s.nclass < 2) {
        fprintf(stderr, "train classify: %s: only one label value ('%s') in '%s'\n", data,
                s.classes[0], label);
        cl_set_free(&s);
        return 1;
    }
    cl_model m;
    char err[1024];
    rc = cl_model_alloc(&m, &s, (uint32_t)buckets, name ? name : label);
    if (rc == 0) {
        if (!quiet)
            fprintf(stderr, "classify: training on %zu records, %u labels, %ld epochs, "
                            "calibrating on %ld folds\n", s.d.n, s.nclass, epochs, calib);
        rc = cl_fit(&m, &s.d, NULL, (int)epochs, (int)calib, NULL);
    }
    if (rc == 0) {
        rc = cl_model_save(&m, out, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "train classify: %s\n", err);
        else
            printf("trained on %zu records (%u labels, temperature %.3f), wrote %s\n", s.d.n,
                   m.nclass, m.temperature, out);
    } else {
        fprintf(stderr, "train classify: out of memory\n");
    }
    cl_model_free(&m);
    cl_set_free(&s);
    return rc == 0 ? 0 : 1;
}

/* Scores predictions pred[i] (class index into classes, -1 when the gold
 * label is unknown to the model) with confidences conf[i]. */
static void cl_report(const cl_set *s, const int *pred, const float *conf, char *const *mlabels,
                      uint32_t mclass)
{
    /* The union of gold classes and model classes, by name. */
    uint32_t nc = s->nclass;
    size_t n = s->d.n;
    int *gold = malloc(n * sizeof(int)), *pr = malloc(n * sizeof(int));
    char **names = malloc((s->nclass + mclass) * sizeof(char *));
    if (!gold || !pr || !names) {
        free(gold);
        free(pr);
        free(names);
        return;
    }
    for (uint32_t k = 0; k < s->nclass; k++)
        names[k] = s->classes[k];
    for (uint32_t k = 0; k < mclass; k++) {
        uint32_t q = 0;
        while (q < nc && strcmp(names[q], mlabels[k]) != 0)
            q++;
        if (q == nc)
            names[nc++] = mlabels[k];
    }
    long *cm = calloc((size_t)nc * nc, sizeof(long));
    if (cm == NULL) {
        free(gold);
        free(pr);
        free(names);
        return;
    }
    long correct = 0;
    for (size_t i = 0; i < n; i++) {
        gold[i] = s->d.y[i];
        uint32_t q = 0;
        while (q < nc && strcmp(names[q], mlabels[pred[i]]) != 0)
            q++;
        pr[i] = (int)q;
        cm[(size_t)gold[i] * nc + q]++;
        correct += gold[i] == pr[i];
    }
    double macro = 0, weighted = 0;
    int counted = 0;
    printf("%-12s %8s %9s %9s %9s\n", "label", "support", "precision", "recall", "f1");
    for (uint32_t k = 0; k < nc; k++) {
        long tp = cm[(size_t)k * nc + k], sup = 0, predk = 0;
        for (uint32_t q = 0; q < nc; q++) {
            sup += cm[(size_t)k * nc + q];
            predk += cm[(size_t)q * nc + k];
        }
        if (sup == 0 && predk == 0)
            continue;
        double p = predk ? (double)tp / (double)predk : 0, r = sup ? (double)tp / (double)sup : 0;
        double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
        printf("%-12s %8ld %9.4f %9.4f %9.4f\n", names[k], sup, p, r, f1);
        macro += f1;
        counted++;
        weighted += f1 * (double)sup;
    }
    macro /= counted ? counted : 1;
    weighted /= (double)n;
    printf("confusions (gold -> predicted: count), most frequent first:\n");
    for (int shown = 0; shown < 8; shown++) {
        long best = 0;
        uint32_t bg = 0, bp = 0;
        for (uint32_t g = 0; g < nc; g++)
            for (uint32_t q = 0; q < nc; q++)
                if (g != q && cm[(size_t)g * nc + q] > best) {
                    best = cm[(size_t)g * nc + q];
                    bg = g;
                    bp = q;
                }
        if (best == 0)
            break;
        printf("  %s -> %s: %ld\n", names[bg], names[bp], best);
        cm[(size_t)bg * nc + bp] = -cm[(size_t)bg * nc + bp];
    }
    /* Calibration: expected calibration error of the top label, 10 bins. */
    double ece = 0;
    for (int b = 0; b < 10; b++) {
        double sc = 0, sa = 0;
        long cnt = 0;
        for (size_t i = 0; i < n; i++) {
            int bin = (int)(conf[i] * 10);
            if ((bin > 9 ? 9 : bin) != b)
                continue;
            cnt++;
            sc += conf[i];
            sa += gold[i] == pr[i];
        }
        if (cnt)
            ece += fabs(sc - sa) / (double)n;
    }
    printf("records=%zu accuracy=%.4f macro_f1=%.4f ece=%.4f\n", n, (double)correct / (double)n,
           macro, ece);
    printf("weighted_f1=%.4f\n", weighted);
    free(cm);
    free(gold);
    free(pr);
    free(names);
}

static int classify_cmd_eval(const struct bp_host_api *api, int argc, char **argv)
{
    (void)api;
    const char *data = NULL, *text = NULL, *label = NULL, *model = NULL, *folds_s = NULL,
               *epochs_s = NULL, *buckets_s = NULL, *quiet = NULL;
    const ml_arg spec[] = {{"data", &data, 0},   {"text", &text, 0},
                           {"label", &label, 0}, {"model", &model, 0},
                           {"folds", &folds_s, 0}, {"epochs", &epochs_s, 0},
                           {"buckets", &buckets_s, 0}, {"quiet", &quiet, 1},
                           {0}};
    int rc = ml_args_parse(argc, argv, spec, cl_eval_usage);
    if (rc == ML_ARGS_HELP)
        return 0;
    if (rc == 0 && (!data || !text || !label)) {
        fprintf(stderr, "eval classify: --data, --text and --label are required\nusage: %s\n",
                cl_eval_usage);
        rc = 2;
    }
    if (rc == 0 && (model == NULL) == (folds_s == NULL)) {
        fprintf(stderr, "eval classify: give either --model (score a trained model) or --folds K "
                        "(cross-validate)\nusage: %s\n", cl_eval_usage);
        rc = 2;
    }
    long folds = 0, epochs = 6, buckets = 1L << 16;
    if (rc == 0)
        rc = cl_int(folds_s, 2, 100, "--folds", &folds) | cl_int(epochs_s, 1, 1000, "--epochs", &epochs) |
             cl_int(buckets_s, 16, 1L << 24, "--buckets", &buckets);
    if (rc == 0)
        rc = cl_check_buckets(buckets);
    if (rc != 0)
        return 2;
    cl_model m;
    memset(&m, 0, sizeof m);
    char err[1024];
    if (model) {
        if (cl_model_load(&m, model, err, sizeof err) != 0) {
            fprintf(stderr, "eval classify: %s\n", err);
            return 1;
        }
        buckets = m.buckets;
    }
    cl_set s;
    if (cl_load(data, text, label, (uint32_t)buckets, &s, quiet != NULL) != 0) {
        cl_model_free(&m);
        return 1;
    }
    int *pred = malloc(s.d.n * sizeof(int));
    float *conf = malloc(s.d.n * sizeof(float));
    float *p = NULL;
    rc = pred && conf ? 0 : -1;
    if (rc == 0 && model) {
        p = malloc(m.nclass * sizeof(float));
        rc = p ? 0 : -1;
        /* Timed from the text, as the transform does it per record. */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; rc == 0 && i < s.d.n; i++) {
            if (cl_featurize(s.texts[i], m.buckets, &s.d.x[i]) != 0) {
                rc = -1;
                break;
            }
            cl_weigh(&s.d.x[i], m.idf);
            cl_predict(&m, &s.d.x[i], p);
            int b = (int)cl_argmax(p, m.nclass);
            pred[i] = b;
            conf[i] = p[b];
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (rc == 0) {
            printf("evaluated %s on %zu records\n", model, s.d.n);
            printf("speed: %.0f records/s (text to calibrated probabilities, one thread)\n",
                   secs > 0 ? (double)s.d.n / secs : 0);
            cl_report(&s, pred, conf, m.labels, m.nclass);
        }
    } else if (rc == 0) {
        if ((size_t)folds > s.d.n) {
            fprintf(stderr, "eval classify: %ld folds but only %zu records\n", folds, s.d.n);
            rc = 2;
        }
        unsigned char *use = malloc(s.d.n);
        p = malloc(s.nclass * sizeof(float));
        if (rc == 0 && (!use || !p || cl_model_alloc(&m, &s, (uint32_t)buckets, "cv") != 0))
            rc = -1;
        for (long k = 0; rc == 0 && k < folds; k++) {
            for (size_t i = 0; i < s.d.n; i++)
                use[i] = (long)(i % (size_t)folds) != k;
            cl_data wd = {0};
            rc = cl_fit(&m, &s.d, use, (int)epochs, 5, &wd);
            long ok = 0, cnt = 0;
            for (size_t i = 0; rc == 0 && i < s.d.n; i++) {
                if (use[i])
                    continue;
                cl_predict(&m, &wd.x[i], p);
                int b = (int)cl_argmax(p, m.nclass);
                pred[i] = b;
                conf[i] = p[b];
                ok += b == s.d.y[i];
                cnt++;
            }
            cl_weighted_free(&wd);
            if (rc == 0 && !quiet)
                fprintf(stderr, "classify: fold %ld/%ld: accuracy %.4f (temperature %.3f)\n",
                        k + 1, folds, cnt ? (double)ok / (double)cnt : 0, m.temperature);
        }
        free(use);
        if (rc == 0) {
            printf("cross-validated on %zu records, folds=%ld epochs=%ld buckets=%ld\n", s.d.n,
                   folds, epochs, buckets);
            cl_report(&s, pred, conf, m.labels, m.nclass);
        }
    }
    if (rc < 0)
        fprintf(stderr, "eval classify: out of memory\n");
    free(pred);
    free(conf);
    free(p);
    cl_model_free(&m);
    cl_set_free(&s);
    return rc < 0 ? 1 : rc;
}

static const struct bp_command classify_commands[] = {
    {.name = "train", .summary = "train a model: --data FILE.jsonl --text FIELD[=PATH] --label FIELD[=PATH] --out MODEL [--from-corrections SITE]",
     .run = classify_cmd_train},
    {.name = "eval", .summary = "accuracy, macro/weighted F1, confusions: --model MODEL or --folds K",
     .run = classify_cmd_eval},
    {0},
};

static const struct bp_plugin classify_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,    /* model_find */
    .name = "classify",
    .version = CLASSIFY_VERSION,
    .description = "text classifier for triage (hashed words, linear SVM), calibrated top-k",
    .kinds = BP_KIND_TRANSFORM,
    .options = classify_options,
    .options_size = sizeof(struct cl_opts),
    .init_ex = classify_init,
    .transform = classify_transform,
    .destroy = classify_destroy,
    .commands = classify_commands,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &classify_plugin;
}
