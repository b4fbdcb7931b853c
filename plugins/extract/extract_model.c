/* extract_model: ranker training, prediction and model files. */
#include "extract_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EX_KIND "extract"

int ex_model_from_ml(ex_model *m, const ml_model *ml, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    if (ml_model_expect(ml, EX_KIND, EX_FEATURE_SET, err, errlen) != 0)
        return -1;
    const char *name = ml_model_get0_str(ml, "name");
    snprintf(m->name, sizeof m->name, "%s", name ? name : "unnamed");
    int nf = 0;
    for (int f = 0; f < EX_NFIELDS; f++)
        m->temp[f] = m->reach[f] = 1;
    for (int f = 0; f < EX_NFIELDS; f++) {
        char sec[64];
        snprintf(sec, sizeof sec, "w.%s", ex_field_names[f]);
        uint32_t n = 0;
        const float *w = ml_model_get0_f32(ml, sec, &n);
        if (w == NULL)
            continue;
        if (n != EX_NFEAT) {
            snprintf(err, errlen, "section '%s' has %u weights, expected %d", sec, n, EX_NFEAT);
            return -1;
        }
        memcpy(m->w[f], w, sizeof m->w[f]);
        m->has[f] = 1;
        snprintf(sec, sizeof sec, "h.%s", ex_field_names[f]);
        const float *hw = ml_model_get0_f32(ml, sec, &n);
        if (hw != NULL && n != EX_NHASH) {
            snprintf(err, errlen, "section '%s' has %u weights, expected %d", sec, n, EX_NHASH);
            return -1;
        }
        if (hw != NULL)
            memcpy(m->h[f], hw, sizeof m->h[f]);
        snprintf(sec, sizeof sec, "t.%s", ex_field_names[f]);
        const float *t = ml_model_get0_f32(ml, sec, &n);
        m->temp[f] = 1;
        if (t != NULL && (n != 1 || !(t[0] >= 0.01f && t[0] <= 100))) {
            snprintf(err, errlen, "section '%s' must be one temperature from 0.01 to 100", sec);
            return -1;
        }
        if (t != NULL)
            m->temp[f] = t[0];
        snprintf(sec, sizeof sec, "r.%s", ex_field_names[f]);
        const float *rv = ml_model_get0_f32(ml, sec, &n);
        m->reach[f] = 1;
        if (rv != NULL && (n != 1 || !(rv[0] > 0 && rv[0] <= 1))) {
            snprintf(err, errlen, "section '%s' must be one share from 0 to 1", sec);
            return -1;
        }
        if (rv != NULL)
            m->reach[f] = rv[0];
        nf++;
    }
    if (nf == 0) {
        snprintf(err, errlen, "model has no trained field");
        return -1;
    }
    return 0;
}

static int ex_interpret(void *ctx, const ml_model *ml, char *err, size_t errlen)
{
    return ex_model_from_ml(ctx, ml, err, errlen);
}

int ex_model_load(ex_model *m, const char *path, char *err, size_t errlen)
{
    return ml_model_load_with(path, ex_interpret, m, err, errlen);
}

int ex_model_save(const ex_model *m, const char *path, char *err, size_t errlen)
{
    ml_model *ml = ml_model_new();
    int rc = ml ? 0 : -1;
    if (rc == 0)
        rc = ml_model_add_str(ml, "kind", EX_KIND) | ml_model_add_str(ml, "features", EX_FEATURE_SET) |
             ml_model_add_str(ml, "name", m->name);
    for (int f = 0; rc == 0 && f < EX_NFIELDS; f++) {
        if (!m->has[f])
            continue;
        char sec[64];
        snprintf(sec, sizeof sec, "w.%s", ex_field_names[f]);
        rc = ml_model_add_f32(ml, sec, m->w[f], EX_NFEAT);
        snprintf(sec, sizeof sec, "h.%s", ex_field_names[f]);
        if (rc == 0)
            rc = ml_model_add_f32(ml, sec, m->h[f], EX_NHASH);
        snprintf(sec, sizeof sec, "t.%s", ex_field_names[f]);
        if (rc == 0)
            rc = ml_model_add_f32(ml, sec, &m->temp[f], 1);
        snprintf(sec, sizeof sec, "r.%s", ex_field_names[f]);
        if (rc == 0)
            rc = ml_model_add_f32(ml, sec, &m->reach[f], 1);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        ml_model_free(ml);
        return -1;
    }
    rc = ml_model_save(ml, path, err, errlen);
    ml_model_free(ml);
    return rc;
}

/* Score of a candidate: dense features and hashed words. */
static double ex_score1(const float *w, const float *h, const float *x, const uint16_t *tok,
                        size_t ntok)
{
    double s = 0;
    for (int i = 0; i < EX_NFEAT; i++)
        s += (double)w[i] * x[i];
    for (size_t i = 0; i < ntok; i++)
        s += h[tok[i]];
    return s;
}

int ex_predict(const ex_model *m, const ex_doc *d, int field, ex_cands *c, char **text,
               float *conf)
{
    *text = NULL;
    *conf = 0;
    if (!m->has[field])
        return 0;
    if (ex_candidates(d, field, c) != 0)
        return -1;
    if (c->n == 0)
        return 0;
    float best = -INFINITY, *s = malloc(c->n * sizeof(float));
    if (s == NULL)
        return -1;
    size_t bi = 0;
    for (size_t i = 0; i < c->n; i++) {
        s[i] = (float)ex_score1(m->w[field], m->h[field], c->c[i].f, c->tok + c->c[i].tok_off,
                                c->c[i].ntok);
        if (s[i] > best) {
            best = s[i];
            bi = i;
        }
    }
    double z = 0, same = 0, t = m->temp[field] > 0 ? m->temp[field] : 1;
    for (size_t i = 0; i < c->n; i++) {
        double e = exp((double)(s[i] - best) / t);
        z += e;
        if (strcmp(c->c[i].text, c->c[bi].text) == 0)
            same += e;
    }
    free(s);
    /* P(right) = P(the value is among the candidates) x P(this one | it is). */
    *conf = (float)(same / z) * (m->reach[field] > 0 ? m->reach[field] : 1);
    *text = strdup(c->c[bi].text);
    return *text ? 0 : -1;
}

/* ---- training ----------------------------------------------------------- */

void ex_prepared_free(ex_prepared *p)
{
    if (p->g) {
        for (size_t i = 0; i < p->nex * EX_NFIELDS; i++) {
            free(p->g[i].feat);
            free(p->g[i].pos);
            free(p->g[i].tok);
            free(p->g[i].toff);
        }
    }
    free(p->g);
    memset(p, 0, sizeof(*p));
}

int ex_prepare(ex_prepared *p, const ex_example *ex, size_t n)
{
    memset(p, 0, sizeof(*p));
    p->g = calloc(n * EX_NFIELDS + 1, sizeof(ex_group));
    if (p->g == NULL)
        return -1;
    p->nex = n;
    ex_cands c = {0};
    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < EX_NFIELDS; f++) {
            if (ex[i].label[f] == NULL)
                continue;
            ex_group *g = &p->g[i * EX_NFIELDS + (size_t)f];
            if (ex_candidates(&ex[i].doc, f, &c) != 0)
                goto oom;
            g->n = c.n;
            g->feat = malloc((c.n ? c.n : 1) * EX_NFEAT * sizeof(float));
            g->pos = calloc(c.n ? c.n : 1, 1);
            g->toff = malloc((c.n + 1) * sizeof(uint32_t));
            g->tok = malloc((c.ntok ? c.ntok : 1) * sizeof(uint16_t));
            if (g->feat == NULL || g->pos == NULL || g->toff == NULL || g->tok == NULL)
                goto oom;
            g->toff[0] = 0;
            for (size_t k = 0; k < c.n; k++) {
                if (c.c[k].ntok) /* c.tok is NULL when no candidate has words */
                    memcpy(g->tok + g->toff[k], c.tok + c.c[k].tok_off,
                           c.c[k].ntok * sizeof(uint16_t));
                g->toff[k + 1] = g->toff[k] + c.c[k].ntok;
                memcpy(g->feat + k * EX_NFEAT, c.c[k].f, sizeof c.c[k].f);
                g->pos[k] = strcmp(c.c[k].text, ex[i].label[f]) == 0;
                g->npos += g->pos[k];
            }
        }
    }
    ex_cands_free(&c);
    return 0;
oom:
    ex_cands_free(&c);
    ex_prepared_free(p);
    return -1;
}

int ex_train(ex_model *m, const ex_prepared *p, const unsigned char *use, int epochs,
             void (*progress)(const char *msg))
{
    size_t *order = malloc((p->nex + 1) * sizeof(size_t));
    double *s = NULL;
    size_t maxc = 1;
    for (size_t i = 0; i < p->nex * EX_NFIELDS; i++)
        if (p->g[i].n > maxc)
            maxc = p->g[i].n;
    s = malloc(maxc * sizeof(double));
    double *hw = malloc(3 * EX_NHASH * sizeof(double));
    uint16_t *touched = malloc(EX_NHASH * sizeof(uint16_t));
    unsigned char *mark = malloc(EX_NHASH);
    if (order == NULL || s == NULL || hw == NULL || touched == NULL || mark == NULL) {
        free(order);
        free(s);
        free(hw);
        free(touched);
        free(mark);
        return -1;
    }
    double *hacc = hw + EX_NHASH, *hgrad = hw + 2 * EX_NHASH;
    const double lr = 0.2, l2 = 1e-4, l2h = 1e-3;
    for (int f = 0; f < EX_NFIELDS; f++) {
        size_t n = 0, usable = 0;
        for (size_t i = 0; i < p->nex; i++) {
            if (use && !use[i])
                continue;
            const ex_group *g = &p->g[i * EX_NFIELDS + (size_t)f];
            if (g->feat == NULL)
                continue;
            n++;
            if (g->npos > 0)
                order[usable++] = i;
        }
        m->has[f] = usable > 0;
        m->temp[f] = 1;
        m->reach[f] = n ? (float)usable / (float)n : 1;
        memset(m->w[f], 0, sizeof m->w[f]);
        memset(m->h[f], 0, sizeof m->h[f]);
        if (usable == 0)
            continue;
        double w[EX_NFEAT] = {0}, acc[EX_NFEAT], grad[EX_NFEAT];
        /* Hashed words: sparse, so only the buckets a document touches are
         * updated (their L2 applied lazily, when touched). */
        size_t ntouched = 0;
        for (int k = 0; k < EX_NHASH; k++) {
            hw[k] = hgrad[k] = 0;
            hacc[k] = 1e-8;
            mark[k] = 0;
        }
        for (int k = 0; k < EX_NFEAT; k++)
            acc[k] = 1e-8;
        uint32_t rng = 12345u + (uint32_t)f;
        for (int ep = 0; ep < epochs; ep++) {
            for (size_t i = usable; i > 1; i--) { /* Fisher-Yates, fixed seed */
                rng = rng * 1664525u + 1013904223u;
                size_t j = (rng >> 8) % i;
                size_t t = order[i - 1];
                order[i - 1] = order[j];
                order[j] = t;
            }
            for (size_t u = 0; u < usable; u++) {
                const ex_group *g = &p->g[order[u] * EX_NFIELDS + (size_t)f];
                double best = -INFINITY;
                for (size_t k = 0; k < g->n; k++) {
                    const float *x = g->feat + k * EX_NFEAT;
                    double sc = 0;
                    for (int q = 0; q < EX_NFEAT; q++)
                        sc += w[q] * x[q];
                    for (uint32_t t = g->toff[k]; t < g->toff[k + 1]; t++)
                        sc += hw[g->tok[t]];
                    s[k] = sc;
                    if (sc > best)
                        best = sc;
                }
                double z = 0, zp = 0;
                for (size_t k = 0; k < g->n; k++) {
                    s[k] = exp(s[k] - best);
                    z += s[k];
                    if (g->pos[k])
                        zp += s[k];
                }
                for (int q = 0; q < EX_NFEAT; q++)
                    grad[q] = l2 * w[q];
                for (size_t k = 0; k < g->n; k++) {
                    /* d(-log P(label))/dw = E_model[x] - E_label[x] */
                    double coef = s[k] / z - (g->pos[k] ? s[k] / zp : 0);
                    if (coef == 0)
                        continue;
                    const float *x = g->feat + k * EX_NFEAT;
                    for (int q = 0; q < EX_NFEAT; q++)
                        grad[q] += coef * x[q];
                    for (uint32_t t = g->toff[k]; t < g->toff[k + 1]; t++) {
                        uint16_t b = g->tok[t];
                        if (!mark[b]) {
                            mark[b] = 1;
                            touched[ntouched++] = b;
                        }
                        hgrad[b] += coef;
                    }
                }
                for (int q = 0; q < EX_NFEAT; q++) {
                    acc[q] += grad[q] * grad[q];
                    w[q] -= lr * grad[q] / sqrt(acc[q]);
                }
                for (size_t q = 0; q < ntouched; q++) {
                    uint16_t b = touched[q];
                    double gb = hgrad[b] + l2h * hw[b];
                    hacc[b] += gb * gb;
                    hw[b] -= lr * gb / sqrt(hacc[b]);
                    hgrad[b] = 0;
                    mark[b] = 0;
                }
                ntouched = 0;
            }
            /* The model is the average of the weights after each epoch of
             * the second half: steadier than the last step's. */
            if (ep >= epochs / 2) {
                float r = 1.0f / (float)(ep - epochs / 2 + 1);
                for (int q = 0; q < EX_NFEAT; q++)
                    m->w[f][q] += r * ((float)w[q] - m->w[f][q]);
                for (int q = 0; q < EX_NHASH; q++)
                    m->h[f][q] += r * ((float)hw[q] - m->h[f][q]);
            }
        }
        if (progress) {
            char msg[160];
            snprintf(msg, sizeof msg, "trained %s on %zu documents (%zu labelled values found among candidates)",
                     ex_field_names[f], n, usable);
            progress(msg);
        }
    }
    free(order);
    free(s);
    free(hw);
    free(touched);
    free(mark);
    return 0;
}

/* Out-of-fold scores of one field: per document with the label among its
 * candidates, the candidates' scores and which are the label. */
typedef struct {
    double *s;
    unsigned char *pos;
    size_t *start;   /* document d's candidates are s[start[d] .. start[d + 1]) */
    size_t ndoc, n, cap;
} ex_oof;

static double ex_oof_nll(const ex_oof *o, double t)
{
    double nll = 0;
    for (size_t d = 0; d < o->ndoc; d++) {
        double mx = -INFINITY;
        for (size_t k = o->start[d]; k < o->start[d + 1]; k++)
            mx = o->s[k] > mx ? o->s[k] : mx;
        double z = 0, zp = 0;
        for (size_t k = o->start[d]; k < o->start[d + 1]; k++) {
            double e = exp((o->s[k] - mx) / t);
            z += e;
            zp += o->pos[k] ? e : 0;
        }
        nll += log(z) - log(zp);
    }
    return nll;
}

int ex_calibrate(ex_model *m, const ex_prepared *p, const unsigned char *use, int epochs,
                 int folds)
{
    ex_oof oof[EX_NFIELDS];
    memset(oof, 0, sizeof oof);
    unsigned char *sub = malloc(p->nex + 1);
    size_t *rank = malloc((p->nex + 1) * sizeof(size_t));
    ex_model *tmp = malloc(sizeof(ex_model));
    int rc = sub && rank && tmp ? 0 : -1;
    size_t r = 0;
    for (size_t i = 0; rc == 0 && i < p->nex; i++)
        rank[i] = !use || use[i] ? r++ : (size_t)-1;
    for (int f = 0; rc == 0 && f < EX_NFIELDS; f++) {
        oof[f].start = malloc((p->nex + 1) * sizeof(size_t));
        if (oof[f].start == NULL)
            rc = -1;
    }
    for (int k = 0; rc == 0 && k < folds; k++) {
        for (size_t i = 0; i < p->nex; i++)
            sub[i] = rank[i] != (size_t)-1 && (int)(rank[i] % (size_t)folds) != k;
        memset(tmp, 0, sizeof(*tmp));
        rc = ex_train(tmp, p, sub, epochs, NULL);
        for (size_t i = 0; rc == 0 && i < p->nex; i++) {
            if (rank[i] == (size_t)-1 || (int)(rank[i] % (size_t)folds) != k)
                continue;
            for (int f = 0; rc == 0 && f < EX_NFIELDS; f++) {
                const ex_group *g = &p->g[i * EX_NFIELDS + (size_t)f];
                ex_oof *o = &oof[f];
                if (!tmp->has[f] || g->feat == NULL || g->npos == 0)
                    continue;
                if (o->n + g->n > o->cap) {
                    size_t cap = (o->n + g->n) * 2;
                    double *s = realloc(o->s, cap * sizeof(double));
                    unsigned char *pp = s ? realloc(o->pos, cap) : NULL;
                    if (s)
                        o->s = s;
                    if (pp)
                        o->pos = pp;
                    if (!s || !pp) {
                        rc = -1;
                        break;
                    }
                    o->cap = cap;
                }
                o->start[o->ndoc++] = o->n;
                for (size_t c = 0; c < g->n; c++) {
                    o->s[o->n] = ex_score1(tmp->w[f], tmp->h[f], g->feat + c * EX_NFEAT,
                                           g->tok + g->toff[c], g->toff[c + 1] - g->toff[c]);
                    o->pos[o->n++] = g->pos[c];
                }
                o->start[o->ndoc] = o->n;
            }
        }
    }
    for (int f = 0; rc == 0 && f < EX_NFIELDS; f++) {
        m->temp[f] = 1;
        if (!m->has[f] || oof[f].ndoc == 0)
            continue;
        /* NLL is unimodal in t: golden-section search on log t. */
        double lo = log(0.05), hi = log(20), gr = (sqrt(5) - 1) / 2;
        double a = hi - gr * (hi - lo), b = lo + gr * (hi - lo);
        double fa = ex_oof_nll(&oof[f], exp(a)), fb = ex_oof_nll(&oof[f], exp(b));
        for (int it = 0; it < 50; it++) {
            if (fa < fb) {
                hi = b;
                b = a;
                fb = fa;
                a = hi - gr * (hi - lo);
                fa = ex_oof_nll(&oof[f], exp(a));
            } else {
                lo = a;
                a = b;
                fa = fb;
                b = lo + gr * (hi - lo);
                fb = ex_oof_nll(&oof[f], exp(b));
            }
        }
        m->temp[f] = (float)exp((lo + hi) / 2);
    }
    for (int f = 0; f < EX_NFIELDS; f++) {
        free(oof[f].s);
        free(oof[f].pos);
        free(oof[f].start);
    }
    free(sub);
    free(rank);
    free(tmp);
    return rc;
}
