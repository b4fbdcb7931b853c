/* classify_model: features, training, calibration, model files. */
#include "classify_model.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL_KIND "classify"

/* ---- features ----------------------------------------------------------- */

static uint32_t cl_fnv(const char *p, size_t n, uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

static int cl_add(cl_vec *v, uint32_t idx, float val)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        uint32_t *i = realloc(v->idx, cap * sizeof(*i));
        if (i == NULL)
            return -1;
        v->idx = i;
        float *f = realloc(v->val, cap * sizeof(*f));
        if (f == NULL)
            return -1;
        v->val = f;
        v->cap = cap;
    }
    v->idx[v->n] = idx;
    v->val[v->n] = val;
    v->n++;
    return 0;
}

typedef struct {
    uint32_t idx;
    float val;
} cl_pair;

static int cl_cmp_pair(const void *a, const void *b)
{
    uint32_t x = ((const cl_pair *)a)->idx, y = ((const cl_pair *)b)->idx;
    return x < y ? -1 : x > y;
}

/* Sorts indices (values along): insertion for the usual short texts, qsort
 * for long ones (a pasted mail thread has thousands of words). */
static int cl_sort(cl_vec *v)
{
    if (v->n > 64) {
        cl_pair *p = malloc(v->n * sizeof(cl_pair));
        if (p == NULL)
            return -1;
        for (size_t i = 0; i < v->n; i++)
            p[i] = (cl_pair){v->idx[i], v->val[i]};
        qsort(p, v->n, sizeof(cl_pair), cl_cmp_pair);
        for (size_t i = 0; i < v->n; i++) {
            v->idx[i] = p[i].idx;
            v->val[i] = p[i].val;
        }
        free(p);
        return 0;
    }
    for (size_t i = 1; i < v->n; i++) {
        uint32_t ki = v->idx[i];
        float kv = v->val[i];
        size_t j = i;
        while (j > 0 && v->idx[j - 1] > ki) {
            v->idx[j] = v->idx[j - 1];
            v->val[j] = v->val[j - 1];
            j--;
        }
        v->idx[j] = ki;
        v->val[j] = kv;
    }
    return 0;
}

void cl_vec_free(cl_vec *v)
{
    free(v->idx);
    free(v->val);
    memset(v, 0, sizeof(*v));
}

/* Title words (the text's first line) count as CL_TITLE_WEIGHT occurrences
 * in a namespace of their own, on top of their ordinary feature: in helpdesk
 * tickets the subject line says most about the category. Measured by
 * cross-validation on the ticket data: word bigrams and character n-grams
 * lowered weighted F1 (0.829 with them, 0.848 without), so they are out. */
#define CL_TITLE_WEIGHT 7.0f

int cl_featurize(const char *text, uint32_t buckets, cl_vec *v)
{
    v->n = 0;
    uint32_t mask = buckets - 1;
    char word[64];
    int in_title = 1;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        while (*p && !isalnum(*p) && *p < 128) {
            if (*p == '\n')
                in_title = 0;
            p++;
        }
        if (!*p)
            break;
        /* A word: letters and digits (bytes >= 128 too, so UTF-8 stays whole),
         * lower-cased, capped at 60 bytes. */
        size_t wl = 0;
        while (*p && (isalnum(*p) || *p >= 128)) {
            if (wl < 60)
                word[wl++] = (char)tolower(*p);
            p++;
        }
        if (cl_add(v, cl_fnv(word, wl, 1) & mask, 1) != 0)
            return -1;
        if (in_title && cl_add(v, cl_fnv(word, wl, 7) & mask, CL_TITLE_WEIGHT) != 0)
            return -1;
    }
    if (v->n == 0)
        return 0;
    /* Merge duplicates: summed counts c become log(1 + c). */
    if (cl_sort(v) != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < v->n;) {
        size_t j = i;
        float sum = 0;
        while (j < v->n && v->idx[j] == v->idx[i])
            sum += v->val[j++];
        v->idx[o] = v->idx[i];
        v->val[o] = logf(1.0f + sum);
        o++;
        i = j;
    }
    v->n = o;
    return 0;
}

void cl_weigh(cl_vec *v, const float *idf)
{
    double s = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (idf)
            v->val[i] *= idf[v->idx[i]];
        s += (double)v->val[i] * v->val[i];
    }
    if (s <= 0)
        return;
    float inv = (float)(1.0 / sqrt(s));
    for (size_t i = 0; i < v->n; i++)
        v->val[i] *= inv;
}

int cl_vec_copy(cl_vec *dst, const cl_vec *src)
{
    memset(dst, 0, sizeof(*dst));
    size_t cap = src->n ? src->n : 1;
    dst->idx = malloc(cap * sizeof(uint32_t));
    dst->val = malloc(cap * sizeof(float));
    if (dst->idx == NULL || dst->val == NULL) {
        cl_vec_free(dst);
        return -1;
    }
    memcpy(dst->idx, src->idx, src->n * sizeof(uint32_t));
    memcpy(dst->val, src->val, src->n * sizeof(float));
    dst->n = src->n;
    dst->cap = cap;
    return 0;
}

float *cl_idf(const cl_data *d, const unsigned char *use, uint32_t buckets)
{
    float *idf = calloc(buckets, sizeof(float));
    if (idf == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i])
            continue;
        n++;
        for (size_t k = 0; k < d->x[i].n; k++)
            idf[d->x[i].idx[k]] += 1;
    }
    /* Smoothed: a bucket never seen weighs like one seen once. */
    for (uint32_t b = 0; b < buckets; b++)
        idf[b] = (float)(log((double)(n + 1) / (idf[b] + 1)) + 1);
    return idf;
}

/* ---- prediction --------------------------------------------------------- */

void cl_logits(const cl_model *m, const cl_vec *v, float *z)
{
    uint32_t c = m->nclass;
    memcpy(z, m->b, c * sizeof(float));
    for (size_t i = 0; i < v->n; i++) {
        const float *row = m->w + (size_t)v->idx[i] * c;
        float x = v->val[i];
        for (uint32_t k = 0; k < c; k++)
            z[k] += x * row[k];
    }
}

static void cl_softmax(float *z, uint32_t c, float t)
{
    float mx = z[0];
    for (uint32_t k = 1; k < c; k++)
        if (z[k] > mx)
            mx = z[k];
    double s = 0;
    for (uint32_t k = 0; k < c; k++) {
        z[k] = expf((z[k] - mx) / t);
        s += z[k];
    }
    for (uint32_t k = 0; k < c; k++)
        z[k] = (float)(z[k] / s);
}

uint32_t cl_argmax(const float *p, uint32_t n)
{
    uint32_t b = 0;
    for (uint32_t k = 1; k < n; k++)
        if (p[k] > p[b])
            b = k;
    return b;
}

void cl_predict(const cl_model *m, const cl_vec *v, float *p)
{
    cl_logits(m, v, p);
    cl_softmax(p, m->nclass, m->temperature);
}

/* ---- training ----------------------------------------------------------- */

int cl_train(cl_model *m, const cl_data *d, const unsigned char *use, int epochs)
{
    uint32_t c = m->nclass;
    size_t nw = (size_t)m->buckets * c;
    float *acc = malloc(nw * sizeof(float));
    float *accb = malloc(c * sizeof(float));
    float *z = malloc(c * sizeof(float));
    size_t *order = malloc((d->n + 1) * sizeof(size_t));
    if (acc == NULL || accb == NULL || z == NULL || order == NULL) {
        free(acc);
        free(accb);
        free(z);
        free(order);
        return -1;
    }
    memset(m->w, 0, nw * sizeof(float));
    memset(m->b, 0, c * sizeof(float));
    for (size_t i = 0; i < nw; i++)
        acc[i] = 1e-6f;
    for (uint32_t k = 0; k < c; k++)
        accb[k] = 1e-6f;
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!use || use[i])
            order[n++] = i;

    /* AdaGrad step 0.1, 6 epochs: chosen by cross-validation (0.1-0.15 and
     * 6-10 epochs all within 0.001 of each other). */
    const float lr = 0.1f;
    uint32_t rng = 4242u;
    for (int ep = 0; ep < epochs; ep++) {
        for (size_t i = n; i > 1; i--) {
            rng = rng * 1664525u + 1013904223u;
            size_t j = (rng >> 8) % i, t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t u = 0; u < n; u++) {
            const cl_vec *v = &d->x[order[u]];
            int y = d->y[order[u]];
            cl_logits(m, v, z);
            /* Multiclass hinge (Crammer-Singer): push the true class one
             * unit above the best wrong one; measured by cross-validation on
             * the ticket data it beats the log-loss (weighted F1 0.853 vs
             * 0.849, 5 folds). Probabilities come from the calibrated
             * softmax of these scores (cl_fit_temperature). */
            int worst = -1;
            for (uint32_t k = 0; k < c; k++)
                if ((int)k != y && (worst < 0 || z[k] > z[worst]))
                    worst = (int)k;
            if (z[y] - z[worst] >= 1)
                continue;
            for (uint32_t k = 0; k < c; k++)
                z[k] = 0;
            z[y] = -1;
            z[worst] = 1;
            for (uint32_t k = 0; k < c; k++) {
                accb[k] += z[k] * z[k];
                m->b[k] -= lr * z[k] / sqrtf(accb[k]);
            }
            for (size_t i = 0; i < v->n; i++) {
                size_t base = (size_t)v->idx[i] * c;
                float x = v->val[i];
                for (uint32_t k = 0; k < c; k++) {
                    float g = z[k] * x;
                    acc[base + k] += g * g;
                    m->w[base + k] -= lr * g / sqrtf(acc[base + k]);
                }
            }
        }
    }
    m->temperature = 1;
    free(acc);
    free(accb);
    free(z);
    free(order);
    return 0;
}

static double cl_nll(const float *z, const int *y, size_t n, uint32_t c, double t)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = z + i * c;
        double mx = r[0];
        for (uint32_t k = 1; k < c; k++)
            if (r[k] > mx)
                mx = r[k];
        double lse = 0;
        for (uint32_t k = 0; k < c; k++)
            lse += exp((r[k] - mx) / t);
        s += log(lse) - (r[y[i]] - mx) / t;
    }
    return s;
}

float cl_fit_temperature(const float *z, const int *y, size_t n, uint32_t c)
{
    /* NLL is unimodal in t: golden-section search on log t in [0.05, 20]. */
    double lo = log(0.05), hi = log(20), g = (sqrt(5) - 1) / 2;
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = cl_nll(z, y, n, c, exp(a)), fb = cl_nll(z, y, n, c, exp(b));
    for (int it = 0; it < 60; it++) {
        if (fa < fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = cl_nll(z, y, n, c, exp(a));
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = cl_nll(z, y, n, c, exp(b));
        }
    }
    return (float)exp((lo + hi) / 2);
}

/* ---- model files -------------------------------------------------------- */

void cl_model_free(cl_model *m)
{
    if (m->labels)
        for (uint32_t k = 0; k < m->nclass; k++)
            free(m->labels[k]);
    free(m->labels);
    free(m->w);
    free(m->b);
    free(m->idf);
    memset(m, 0, sizeof(*m));
}

int cl_model_from_ml(cl_model *m, const ml_model *ml, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    if (ml_model_expect(ml, CL_KIND, CL_FEATURE_SET, err, errlen) != 0)
        return -1;
    const char *name = ml_model_get0_str(ml, "name");
    snprintf(m->name, sizeof m->name, "%s", name ? name : "unnamed");
    uint32_t n1 = 0, n2 = 0, nw = 0, nb = 0;
    const float *bk = ml_model_get0_f32(ml, "buckets", &n1);
    const float *tp = ml_model_get0_f32(ml, "temperature", &n2);
    const float *w = ml_model_get0_f32(ml, "w", &nw);
    const float *b = ml_model_get0_f32(ml, "b", &nb);
    const char *labels = ml_model_get0_str(ml, "labels");
    if (!bk || n1 != 1 || !tp || n2 != 1 || !w || !b || !labels) {
        snprintf(err, errlen, "missing or malformed section (need buckets, temperature, w, b, labels)");
        return -1;
    }
    if (!(bk[0] >= 16 && bk[0] <= (1 << 24)) || ((uint32_t)bk[0] & ((uint32_t)bk[0] - 1)) ||
        (float)(uint32_t)bk[0] != bk[0]) {
        snprintf(err, errlen, "buckets must be a power of two from 16 to 2^24");
        return -1;
    }
    if (!(tp[0] >= 0.01f && tp[0] <= 100)) {
        snprintf(err, errlen, "temperature out of range");
        return -1;
    }
    m->buckets = (uint32_t)bk[0];
    m->temperature = tp[0];
    uint32_t c = 1;
    for (const char *p = labels; *p; p++)
        c += *p == '\n';
    if (c < 2 || nb != c || (uint64_t)nw != (uint64_t)m->buckets * c) {
        snprintf(err, errlen, "%u labels, but %u biases and %u weights (expected %u and %llu)", c,
                 nb, nw, c, (unsigned long long)m->buckets * c);
        return -1;
    }
    m->nclass = c;
    m->labels = calloc(c, sizeof(char *));
    m->w = malloc((size_t)nw * sizeof(float));
    m->b = malloc(c * sizeof(float));
    if (!m->labels || !m->w || !m->b)
        goto oom;
    uint32_t ni = 0;
    const float *idf = ml_model_get0_f32(ml, "idf", &ni);
    if (idf && ni != m->buckets) {
        snprintf(err, errlen, "idf has %u values, expected %u", ni, m->buckets);
        cl_model_free(m);
        return -1;
    }
    if (idf) {
        if ((m->idf = malloc((size_t)ni * sizeof(float))) == NULL)
            goto oom;
        memcpy(m->idf, idf, (size_t)ni * sizeof(float));
    }
    memcpy(m->w, w, (size_t)nw * sizeof(float));
    memcpy(m->b, b, c * sizeof(float));
    const char *p = labels;
    for (uint32_t k = 0; k < c; k++) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0) {
            snprintf(err, errlen, "label %u is empty", k + 1);
            cl_model_free(m);
            return -1;
        }
        if ((m->labels[k] = strndup(p, l)) == NULL)
            goto oom;
        p += l + 1;
    }
    return 0;
oom:
    cl_model_free(m);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int cl_interpret(void *ctx, const ml_model *ml, char *err, size_t errlen)
{
    return cl_model_from_ml(ctx, ml, err, errlen);
}

int cl_model_load(cl_model *m, const char *path, char *err, size_t errlen)
{
    return ml_model_load_with(path, cl_interpret, m, err, errlen);
}

int cl_model_save(const cl_model *m, const char *path, char *err, size_t errlen)
{
    size_t ll = 0;
    for (uint32_t k = 0; k < m->nclass; k++)
        ll += strlen(m->labels[k]) + 1;
    char *labels = malloc(ll + 1);
    ml_model *ml = ml_model_new();
    int rc = labels && ml ? 0 : -1;
    if (rc == 0) {
        size_t o = 0;
        for (uint32_t k = 0; k < m->nclass; k++)
            o += (size_t)sprintf(labels + o, "%s%s", k ? "\n" : "", m->labels[k]);
        float bk = (float)m->buckets, t = m->temperature;
        rc = ml_model_add_str(ml, "kind", CL_KIND) | ml_model_add_str(ml, "features", CL_FEATURE_SET) |
             ml_model_add_str(ml, "name", m->name) | ml_model_add_str(ml, "labels", labels) |
             ml_model_add_f32(ml, "buckets", &bk, 1) | ml_model_add_f32(ml, "temperature", &t, 1) |
             ml_model_add_f32(ml, "b", m->b, m->nclass) |
             ml_model_add_f32(ml, "w", m->w, (uint32_t)((size_t)m->buckets * m->nclass));
        if (rc == 0 && m->idf)
            rc = ml_model_add_f32(ml, "idf", m->idf, m->buckets);
    }
    free(labels);
    if (rc != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        ml_model_free(ml);
        return -1;
    }
    rc = ml_model_save(ml, path, err, errlen);
    ml_model_free(ml);
    return rc;
}
