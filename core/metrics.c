/* See metrics.h. A handful of names per instance: a linear list under a mutex
 * is simpler than a hash and fast enough (called per batch, not per byte). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct {
    char *name;
    double value;
    double flushed;      /* counters: the part of value taken (bp_metrics_take) */
    int gauge;
    int dirty;           /* gauges: set since the last take */
} mt_entry;

struct bp_metrics {
    pthread_mutex_t mu;
    mt_entry *e;
    size_t n, cap;
};

bp_metrics *bp_metrics_new(void)
{
    bp_metrics *m = calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void bp_metrics_free(bp_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].name);
    free(m->e);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Caller holds mu. NULL when out of memory. */
static mt_entry *mt_find(bp_metrics *m, const char *name, int create)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].name, name) == 0)
            return &m->e[i];
    if (!create)
        return NULL;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        mt_entry *e = realloc(m->e, cap * sizeof(*e));
        if (e == NULL)
            return NULL;
        m->e = e;
        m->cap = cap;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return NULL;
    m->e[m->n] = (mt_entry){.name = copy};
    return &m->e[m->n++];
}

void bp_metrics_add(bp_metrics *m, const char *name, uint64_t delta)
{
    if (m == NULL || name == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    mt_entry *e = mt_find(m, name, 1);
    if (e)
        e->value += (double)delta;
    pthread_mutex_unlock(&m->mu);
}

void bp_metrics_set(bp_metrics *m, const char *name, double value)
{
    if (m == NULL || name == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    mt_entry *e = mt_find(m, name, 1);
    if (e) {
        e->value = value;
        e->gauge = 1;
        e->dirty = 1;
    }
    pthread_mutex_unlock(&m->mu);
}

double bp_metrics_get(bp_metrics *m, const char *name)
{
    double v = 0;
    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->mu);
    mt_entry *e = mt_find(m, name, 0);
    if (e)
        v = e->value;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void bp_metrics_foreach(bp_metrics *m, bp_metrics_fn fn, void *ud)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++)
        fn(m->e[i].name, m->e[i].value, m->e[i].gauge, ud);
    pthread_mutex_unlock(&m->mu);
}

size_t bp_metrics_take(bp_metrics *m, bp_metric_change **out)
{
    *out = NULL;
    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->mu);
    size_t n = 0;
    bp_metric_change *c = m->n ? calloc(m->n, sizeof(*c)) : NULL;
    for (size_t i = 0; c && i < m->n; i++) {
        mt_entry *e = &m->e[i];
        double d = e->gauge ? e->value : e->value - e->flushed;
        if ((e->gauge && !e->dirty) || (!e->gauge && d <= 0))
            continue;
        c[n] = (bp_metric_change){.name = strdup(e->name), .value = e->value, .delta = d,
                                  .gauge = e->gauge};
        if (c[n].name == NULL) {
            bp_metric_changes_free(c, n);
            c = NULL;
            n = 0;
            break;
        }
        n++;
    }
    /* Taken only when the whole copy succeeded. */
    for (size_t i = 0, k = 0; c && i < m->n && k < n; i++) {
        mt_entry *e = &m->e[i];
        if (strcmp(e->name, c[k].name) != 0)
            continue;
        if (e->gauge)
            e->dirty = 0;
        else
            e->flushed += c[k].delta;
        k++;
    }
    pthread_mutex_unlock(&m->mu);
    if (n == 0) {
        free(c);
        return 0;
    }
    *out = c;
    return n;
}

void bp_metrics_untake(bp_metrics *m, const bp_metric_change *c, size_t n)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        mt_entry *e = mt_find(m, c[i].name, 0);
        if (e == NULL)
            continue;
        if (e->gauge)
            e->dirty = 1;
        else
            e->flushed -= c[i].delta;
    }
    pthread_mutex_unlock(&m->mu);
}

void bp_metric_changes_free(bp_metric_change *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        free(c[i].name);
    free(c);
}
