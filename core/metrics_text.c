/* /metrics (DESIGN.md §9, docs/metrics.md): the site's counters in the
 * Prometheus text format 0.0.4, read from the state store, where every run
 * adds its counts every 5 s (so the figures are those of `backplane report`,
 * totals over all runs, at most 5 s behind), and the queues' sizes read as
 * they are now. Families are collected first and printed grouped, each with
 * one HELP and TYPE line, as the format requires. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "control_int.h"
#include "histogram.h"
#include "log.h"
#include "runtime_int.h"
#include "site.h"
#include "state_stats.h"

typedef struct mt_sample {
    char *family;          /* "backplane_records_total" */
    const char *type;      /* counter, gauge, histogram */
    const char *help;
    char *labels;          /* `route="a",outcome="in"` */
    double value;
    int64_t hist[BP_HIST_BUCKETS];
    int is_hist;
    double sum_s;
} mt_sample;

typedef struct mt {
    mt_sample *s;
    size_t n, cap;
    int oom;
} mt;

/* value with \, " and newline escaped, as label values must be. */
static void mt_escape(char *out, size_t n, const char *v)
{
    size_t o = 0;
    for (const char *p = v ? v : ""; *p && o + 3 < n; p++) {
        if (*p == '\\' || *p == '"') {
            out[o++] = '\\';
            out[o++] = *p;
        } else if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* The sample of family and labels (made on first sight), or NULL. */
static mt_sample *mt_get(mt *m, const char *family, const char *type, const char *help,
                         const char *labels)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].family, family) == 0 && strcmp(m->s[i].labels, labels) == 0)
            return &m->s[i];
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        mt_sample *ns = realloc(m->s, cap * sizeof(*ns));
        if (ns == NULL) {
            m->oom = 1;
            return NULL;
        }
        m->s = ns;
        m->cap = cap;
    }
    mt_sample *s = &m->s[m->n];
    memset(s, 0, sizeof(*s));
    s->family = strdup(family);
    s->labels = strdup(labels);
    s->type = type;
    s->help = help;
    if (s->family == NULL || s->labels == NULL) {
        free(s->family);
        free(s->labels);
        m->oom = 1;
        return NULL;
    }
    m->n++;
    return s;
}

static void mt_set(mt *m, const char *family, const char *type, const char *help,
                   const char *labels, double v, int add)
{
    mt_sample *s = mt_get(m, family, type, help, labels);
    if (s)
        s->value = add ? s->value + v : v;
}

static const struct {
    const char *stored, *outcome;
} mt_outcomes[] = {
    {"records_in", "in"},       {"records_out", "delivered"},
    {"parked", "parked"},       {"dead_lettered", "dead_lettered"},
    {"dropped", "dropped"},     {"retries", "retried"},
};

/* A histogram bucket or sum of a stored name "PREFIX.bK" / "PREFIX.sum_us":
 * 1 with *prefix_len and *k (-1 for the sum). */
static int mt_hist_name(const char *name, size_t *prefix_len, int *k)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return 0;
    if (strcmp(dot, ".sum_us") == 0) {
        *prefix_len = (size_t)(dot - name);
        *k = -1;
        return 1;
    }
    if (dot[1] != 'b' || dot[2] == '\0' || strspn(dot + 2, "0123456789") != strlen(dot + 2))
        return 0;
    *k = atoi(dot + 2);
    *prefix_len = (size_t)(dot - name);
    return *k >= 0 && *k < BP_HIST_BUCKETS;
}

static void mt_hist_add(mt *m, const char *family, const char *help, const char *labels, int k,
                        int64_t v)
{
    mt_sample *s = mt_get(m, family, "histogram", help, labels);
    if (s == NULL)
        return;
    s->is_hist = 1;
    if (k < 0)
        s->sum_s += (double)v / 1e6;
    else
        s->hist[k] += v;
}

static int mt_route_stat(const char *route, const char *name, int64_t v, void *ud)
{
    mt *m = ud;
    char r[300], x[300], labels[700];
    mt_escape(r, sizeof(r), route);
    for (size_t i = 0; i < sizeof(mt_outcomes) / sizeof(mt_outcomes[0]); i++)
        if (strcmp(name, mt_outcomes[i].stored) == 0) {
            snprintf(labels, sizeof(labels), "route=\"%s\",outcome=\"%s\"", r,
                     mt_outcomes[i].outcome);
            mt_set(m, "backplane_records_total", "counter",
                   "Records of a route by outcome (in, delivered without a person, parked, "
                   "dead_lettered, dropped, retried).", labels, (double)v, 0);
            return 0;
        }
    size_t pl;
    int k;
    if (strncmp(name, "flag.", 5) == 0) {
        mt_escape(x, sizeof(x), name + 5);
        snprintf(labels, sizeof(labels), "route=\"%s\",flag=\"%s\"", r, x);
        mt_set(m, "backplane_flags_total", "counter",
               "Records carrying a flag (exception rate: divide by outcome=\"in\").", labels,
               (double)v, 0);
    } else if (strcmp(name, "flags_not_counted") == 0) {
        snprintf(labels, sizeof(labels), "route=\"%s\"", r);
        mt_set(m, "backplane_flags_not_counted_total", "counter",
               "Flags not counted (name too long, or too many distinct flags).", labels,
               (double)v, 0);
    } else if (strncmp(name, "review.", 7) == 0) {
        mt_escape(x, sizeof(x), name + 7);
        snprintf(labels, sizeof(labels), "route=\"%s\",decision=\"%s\"", r, x);
        mt_set(m, "backplane_review_decisions_total", "counter", "Reviewers' decisions.",
               labels, (double)v, 0);
    } else if (strncmp(name, "dlq.replayed.", 13) == 0) {
        mt_escape(x, sizeof(x), name + 13);
        snprintf(labels, sizeof(labels), "route=\"%s\",outcome=\"%s\"", r, x);
        mt_set(m, "backplane_dead_letter_replays_total", "counter",
               "Dead letters replayed, by outcome.", labels, (double)v, 0);
    } else if (strcmp(name, "dlq.added") == 0 || strcmp(name, "dlq.removed") == 0 ||
               strcmp(name, "dlq.dropped") == 0) {
        snprintf(labels, sizeof(labels), "route=\"%s\",event=\"%s\"", r, name + 4);
        mt_set(m, "backplane_dead_letter_events_total", "counter",
               "Entries added to and removed from the dead-letter store.", labels, (double)v,
               0);
    } else if (strncmp(name, "cycle.", 6) == 0 && mt_hist_name(name, &pl, &k)) {
        snprintf(x, sizeof(x), "%.*s", (int)(pl - 6), name + 6);
        if (strcmp(x, "automated") && strcmp(x, "reviewed"))
            return 0;
        snprintf(labels, sizeof(labels), "route=\"%s\",path=\"%s\"", r, x);
        mt_hist_add(m, "backplane_record_cycle_seconds",
                    "From a record's arrival to its write-back, by path (automated, or "
                    "reviewed: across the wait for a person).", labels, k, v);
    } else if (strncmp(name, "wait.", 5) == 0 && mt_hist_name(name, &pl, &k) && pl == 4) {
        snprintf(labels, sizeof(labels), "route=\"%s\"", r);
        mt_hist_add(m, "backplane_review_wait_seconds",
                    "How long a reviewed record waited for a person (parked to write-back).",
                    labels, k, v);
    } else if (strncmp(name, "sink_write.", 11) == 0 && mt_hist_name(name, &pl, &k)) {
        char sink[300];
        snprintf(sink, sizeof(sink), "%.*s", (int)(pl - 11), name + 11);
        size_t rl = strlen(route);   /* "ap/out": the route is a label already */
        if (strncmp(sink, route, rl) == 0 && sink[rl] == '/')
            memmove(sink, sink + rl + 1, strlen(sink + rl + 1) + 1);
        mt_escape(x, sizeof(x), sink);
        snprintf(labels, sizeof(labels), "route=\"%s\",sink=\"%s\"", r, x);
        mt_hist_add(m, "backplane_sink_write_seconds",
                    "Duration of a sink's write calls (one call per batch).", labels, k, v);
    }
    return 0;
}

/* NAME with every character outside [a-zA-Z0-9_] replaced by '_'. */
static void mt_metric_name(char *out, size_t n, const char *name)
{
    size_t o = 0;
    for (const char *p = name; *p && o + 1 < n; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_';
        out[o++] = ok ? ch : '_';
    }
    out[o] = '\0';
}

static int mt_plugin_stat(const char *route, const bp_plugin_stat *s, void *ud)
{
    mt *m = ud;
    char nm[200], fam[300], r[300], p[200], c[300], labels[900];
    mt_metric_name(nm, sizeof(nm), s->name);
    /* A counter already named ..._total keeps one suffix. */
    size_t nl = strlen(nm);
    if (!s->gauge && nl > 6 && strcmp(nm + nl - 6, "_total") == 0)
        nm[nl - 6] = '\0';
    snprintf(fam, sizeof(fam), "backplane_plugin_%s%s", nm, s->gauge ? "" : "_total");
    mt_escape(r, sizeof(r), route);
    mt_escape(p, sizeof(p), s->plugin);
    mt_escape(c, sizeof(c), s->stage);
    snprintf(labels, sizeof(labels), "plugin=\"%s\",connector=\"%s\",route=\"%s\"", p, c, r);
    mt_set(m, fam, s->gauge ? "gauge" : "counter",
           s->gauge ? "A plugin's gauge (its last value)." : "A plugin's counter.", labels,
           s->value, 0);
    return 0;
}

static int mt_queue(const char *route, const char *key, int64_t n, int64_t oldest, void *ud)
{
    (void)key;
    mt *m = ud;
    char r[300], labels[400];
    mt_escape(r, sizeof(r), route);
    snprintf(labels, sizeof(labels), "route=\"%s\"", r);
    mt_set(m, "backplane_review_queue_depth", "gauge", "Records waiting for a person.", labels,
           (double)n, 0);
    double age = oldest > 0 ? (double)(bp_now_ms() - oldest) / 1000.0 : 0;
    mt_set(m, "backplane_review_oldest_age_seconds", "gauge",
           "Age of the oldest record waiting for a person.", labels, age < 0 ? 0 : age, 0);
    return 0;
}

static int mt_dead(const char *route, const char *key, int64_t n, int64_t extra, void *ud)
{
    (void)key;
    (void)extra;
    mt *m = ud;
    char r[300], labels[400];
    mt_escape(r, sizeof(r), route);
    snprintf(labels, sizeof(labels), "route=\"%s\"", r);
    mt_set(m, "backplane_dead_letters", "gauge", "Open entries of the dead-letter store.",
           labels, (double)n, 1);
    return 0;
}

static int mt_corrections(const char *route, const char *key, int64_t n, int64_t extra,
                          void *ud)
{
    (void)extra;
    mt *m = ud;
    char r[300], f[300], labels[700];
    mt_escape(r, sizeof(r), route);
    mt_escape(f, sizeof(f), key);
    snprintf(labels, sizeof(labels), "route=\"%s\",field=\"%s\"", r, f);
    mt_set(m, "backplane_corrections_total", "counter", "Fields reviewers corrected.", labels,
           (double)n, 0);
    return 0;
}

static int mt_cmp(const void *a, const void *b)
{
    const mt_sample *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    return c ? c : strcmp(x->labels, y->labels);
}

/* Appends printf text to a growing buffer. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} mt_buf;

static void mt_printf(mt_buf *b, const char *fmt, ...) BP_PRINTF(2, 3);
static void mt_printf(mt_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)w < b->cap) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 16384;
        while (cap < b->len + (size_t)w + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static void mt_value(mt_buf *b, double v)
{
    if (v == (double)(int64_t)v && v < 9e15 && v > -9e15)
        mt_printf(b, "%lld\n", (long long)v);
    else
        mt_printf(b, "%.17g\n", v);
}

char *bp_control_metrics_text(bp_control *c)
{
    bp_runtime *rt = bp_control_runtime(c);
    bp_state *st = bp_runtime_state(rt);
    mt m = {0};
    /* Every route shows its gauges, 0 when nothing waits. The lock keeps a
     * reload from freeing a route under us. */
    pthread_rwlock_rdlock(&rt->routes_lock);
    for (size_t i = 0; i < rt->n_routes; i++) {
        char r[300], labels[400];
        mt_escape(r, sizeof(r), rt->routes[i]->cfg->name);
        snprintf(labels, sizeof(labels), "route=\"%s\"", r);
        mt_set(&m, "backplane_review_queue_depth", "gauge", "Records waiting for a person.",
               labels, 0, 0);
        mt_set(&m, "backplane_review_oldest_age_seconds", "gauge",
               "Age of the oldest record waiting for a person.", labels, 0, 0);
        mt_set(&m, "backplane_dead_letters", "gauge", "Open entries of the dead-letter store.",
               labels, 0, 0);
        bp_route *ro = rt->routes[i];
        int ready = !ro->failed && !ro->disabled && !atomic_load(&ro->paused) &&
                    !atomic_load(&ro->source_down) && atomic_load(&ro->sinks_down) == 0;
        mt_set(&m, "backplane_route_ready", "gauge",
               "1 when the route can take records (as /ready), else 0.", labels, ready, 0);
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    bp_state_route_stats_foreach(st, mt_route_stat, &m);
    bp_state_plugin_stats_foreach(st, mt_plugin_stat, &m);
    bp_state_report_rows(st, BP_REPORT_REVIEW_QUEUE, mt_queue, &m);
    bp_state_report_rows(st, BP_REPORT_DEAD_LETTERS, mt_dead, &m);
    bp_state_report_rows(st, BP_REPORT_CORRECTIONS, mt_corrections, &m);
    qsort(m.s, m.n, sizeof(*m.s), mt_cmp);
    mt_buf b = {0};
    for (size_t i = 0; i < m.n; i++) {
        mt_sample *s = &m.s[i];
        if (i == 0 || strcmp(s->family, m.s[i - 1].family) != 0)
            mt_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", s->family, s->help, s->family,
                      s->type);
        if (!s->is_hist) {
            mt_printf(&b, "%s{%s} ", s->family, s->labels);
            mt_value(&b, s->value);
            continue;
        }
        /* Bounds: every eighth fine bucket (powers of 4 µs), from 16 µs. */
        int64_t cum = 0, total = 0;
        for (int k = 0; k < BP_HIST_BUCKETS; k++)
            total += s->hist[k];
        int k = 0;
        for (int edge = 16; edge < BP_HIST_BUCKETS; edge += 8) {
            for (; k <= edge; k++)
                cum += s->hist[k];
            mt_printf(&b, "%s_bucket{%s,le=\"%.10g\"} %lld\n", s->family, s->labels,
                      bp_hist_upper_us(edge) / 1e6, (long long)cum);
        }
        mt_printf(&b, "%s_bucket{%s,le=\"+Inf\"} %lld\n", s->family, s->labels,
                  (long long)total);
        mt_printf(&b, "%s_sum{%s} %.6f\n", s->family, s->labels, s->sum_s);
        mt_printf(&b, "%s_count{%s} %lld\n", s->family, s->labels, (long long)total);
    }
    mt_printf(&b, "# HELP backplane_uptime_seconds Seconds since the owner started.\n"
                  "# TYPE backplane_uptime_seconds gauge\nbackplane_uptime_seconds %.3f\n",
              (double)bp_control_uptime_ms(c) / 1000.0);
    for (size_t i = 0; i < m.n; i++) {
        free(m.s[i].family);
        free(m.s[i].labels);
    }
    free(m.s);
    if (b.oom || m.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
