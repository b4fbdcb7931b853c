/* See route_stats.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "envelope_int.h"
#include "histogram.h"
#include "runtime_int.h"
#include "log.h"
#include "route_stats.h"
#include "state_stats.h"

#define RS_STR_(x) #x
#define RS_STR(x) RS_STR_(x)

void bp_route_stats_count_flags(bp_metrics *m, const char *route, const bp_envelope *env)
{
    const cJSON *f = bp_envelope_get0_ext(env, "flags");
    if (!cJSON_IsString(f) || f->valuestring[0] == '\0')
        return;
    const char *p = f->valuestring;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t lead = strspn(p, " ");
        size_t k = n;
        while (k > lead && p[k - 1] == ' ')
            k--;
        if (k > lead) {
            size_t len = k - lead;
            char name[BP_ROUTE_FLAG_NAME_MAX + 8];
            const char *why = NULL;
            if (len > BP_ROUTE_FLAG_NAME_MAX) {
                why = "is longer than " RS_STR(BP_ROUTE_FLAG_NAME_MAX) " characters";
            } else {
                snprintf(name, sizeof(name), "flag.%.*s", (int)len, p + lead);
                /* flag_names: distinct flags so far (kept in the process only) */
                int fresh = bp_metrics_get(m, name) == 0;
                if (fresh && bp_metrics_get(m, "flag_names") >= BP_ROUTE_FLAGS_MAX)
                    why = "is one flag more than the " RS_STR(BP_ROUTE_FLAGS_MAX)
                          " distinct flags counted per route";
                else if (fresh)
                    bp_metrics_add(m, "flag_names", 1);
            }
            if (why == NULL) {
                bp_metrics_add(m, name, 1);
            } else {
                if (bp_metrics_get(m, "flags_not_counted") == 0)
                    bp_log(BP_LOG_WARN, route,
                           "flag '%.*s%s' (%zu characters) %s: not counted in the report; "
                           "flags_not_counted counts every such flag (said once)",
                           (int)(len < 60 ? len : 60), p + lead, len > 60 ? "..." : "", len,
                           why);
                bp_metrics_add(m, "flags_not_counted", 1);
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* A transform's stage: its instance name without "ROUTE/" and "@WORKER". */
static void rs_stage(const char *route, const bp_instance *in, char *buf, size_t cap)
{
    if (in->connector) {
        snprintf(buf, cap, "%s", in->connector);
        return;
    }
    const char *s = in->name;
    size_t rl = strlen(route);
    if (strncmp(s, route, rl) == 0 && s[rl] == '/')
        s += rl + 1;
    snprintf(buf, cap, "%.*s", (int)strcspn(s, "@"), s);
}

/* The route counters `report` reads; the others (backpressure_waits, ...)
 * stay in the process. */
static int rs_route_kept(const char *name)
{
    static const char *const kept[] = {"records_in", "records_out", "dropped", "parked",
                                       "dead_lettered", "retries", "flags_not_counted", NULL};
    if (strncmp(name, "flag.", 5) == 0 || strncmp(name, "cycle.", 6) == 0 ||
        strncmp(name, "wait.", 5) == 0 || strncmp(name, "sink_write.", 11) == 0)
        return 1;   /* histogram buckets (histogram.h, issue 22) */
    for (size_t i = 0; kept[i]; i++)
        if (strcmp(name, kept[i]) == 0)
            return 1;
    return 0;
}

/* Calls fn for each instance of p in stage order: source, transforms by
 * position (every worker's instance), sinks, the dead-letter channel. */
static void rs_each(const bp_route_parts *p, void (*fn)(bp_instance *in, void *ud), void *ud)
{
    if (p->source)
        fn(p->source, ud);
    int workers = p->workers > 0 ? p->workers : 1;
    for (size_t t = 0; p->transforms && t < p->n_chain; t++)
        for (int w = 0; w < workers; w++)
            if (p->transforms[(size_t)w * p->n_chain + t])
                fn(p->transforms[(size_t)w * p->n_chain + t], ud);
    for (size_t s = 0; p->sinks && s < p->n_sinks; s++)
        if (p->sinks[s])
            fn(p->sinks[s], ud);
    if (p->dlq)
        fn(p->dlq, ud);
}

/* The changes taken from each instance of one flush. */
typedef struct {
    bp_instance **inst;
    bp_metric_change **ch;
    size_t *n_ch;
    size_t n, cap;
    int failed;
} rs_flush_ctx;

static void rs_take(bp_instance *in, void *ud)
{
    rs_flush_ctx *c = ud;
    if (c->failed)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        bp_instance **i = realloc(c->inst, cap * sizeof(*i));
        if (i)
            c->inst = i;
        bp_metric_change **ch = realloc(c->ch, cap * sizeof(*ch));
        if (ch)
            c->ch = ch;
        size_t *n = realloc(c->n_ch, cap * sizeof(*n));
        if (n)
            c->n_ch = n;
        if (!i || !ch || !n) {
            c->failed = 1;
            return;
        }
        c->cap = cap;
    }
    c->inst[c->n] = in;
    c->n_ch[c->n] = bp_metrics_take(in->metrics, &c->ch[c->n]);
    c->n++;
}

/* Stores what c took under route (untaken on failure), then frees it. */
static bp_status rs_store(bp_state *st, const char *route, rs_flush_ctx *c)
{
    bp_status rc = c->failed ? BP_ERR_NOMEM : BP_OK;
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++)
        total += c->n_ch[i];
    bp_plugin_stat *ps = total ? calloc(total, sizeof(*ps)) : NULL;
    char (*stage)[256] = total ? calloc(c->n, sizeof(*stage)) : NULL;
    if (total && (ps == NULL || stage == NULL)) {
        rc = BP_ERR_NOMEM;
    } else if (total) {
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++) {
            rs_stage(route, c->inst[i], stage[i], sizeof(stage[i]));
            for (size_t j = 0; j < c->n_ch[i]; j++)
                ps[k++] = (bp_plugin_stat){.stage = stage[i],
                                           .plugin = c->inst[i]->lib->desc.name,
                                           .connector = c->inst[i]->connector,
                                           .name = c->ch[i][j].name,
                                           .gauge = c->ch[i][j].gauge,
                                           .value = c->ch[i][j].delta};
        }
        bp_status s = bp_state_plugin_stats_add(st, route, ps, total);
        if (s != BP_OK)
            rc = s;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (rc != BP_OK)
            bp_metrics_untake(c->inst[i]->metrics, c->ch[i], c->n_ch[i]);
        bp_metric_changes_free(c->ch[i], c->n_ch[i]);
    }
    free(ps);
    free(stage);
    free(c->inst);
    free(c->ch);
    free(c->n_ch);
    memset(c, 0, sizeof(*c));
    return rc;
}

static bp_status rs_flush_route_counters(bp_state *st, const bp_route_parts *p)
{
    bp_status rc = BP_OK;
    bp_metric_change *rch = NULL;
    size_t n_rch = bp_metrics_take(p->metrics, &rch), n_kept = 0;
    if (n_rch == 0)
        return BP_OK;
    const char **names = calloc(n_rch, sizeof(*names));
    int64_t *deltas = calloc(n_rch, sizeof(*deltas));
    if (names == NULL || deltas == NULL) {
        rc = BP_ERR_NOMEM;
    } else {
        for (size_t i = 0; i < n_rch; i++) {
            if (rch[i].gauge || !rs_route_kept(rch[i].name))
                continue;
            names[n_kept] = rch[i].name;
            deltas[n_kept] = (int64_t)rch[i].delta;
            n_kept++;
        }
        if (n_kept)
            rc = bp_state_stats_add(st, p->route, names, deltas, n_kept);
    }
    if (rc != BP_OK)
        bp_metrics_untake(p->metrics, rch, n_rch);
    free(names);
    free(deltas);
    bp_metric_changes_free(rch, n_rch);
    return rc;
}

bp_status bp_route_stats_flush(bp_state *st, const bp_route_parts *p)
{
    bp_status rc = rs_flush_route_counters(st, p);
    rs_flush_ctx c = {0};
    rs_each(p, rs_take, &c);
    bp_status s = rs_store(st, p->route, &c);
    if (rc == BP_OK)
        rc = s;
    for (size_t i = 0; i < p->n_lookups; i++)
        if (p->lookups[i])
            rs_take(p->lookups[i], &c);
    s = rs_store(st, "", &c);
    return rc == BP_OK ? s : rc;
}

/* ---- the final log line ------------------------------------------------- */

typedef struct {
    char stage[256];
    char *name;
    double value;
    int gauge;
} rs_sum_row;

typedef struct {
    const char *route;
    const char *stage;
    rs_sum_row *rows;
    size_t n, cap;
    int failed;
} rs_sum_ctx;

static void rs_sum_metric(const char *name, double value, int gauge, void *ud)
{
    rs_sum_ctx *c = ud;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->rows[i].stage, c->stage) == 0 && strcmp(c->rows[i].name, name) == 0) {
            c->rows[i].value = gauge ? value : c->rows[i].value + value;
            return;
        }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        rs_sum_row *r = realloc(c->rows, cap * sizeof(*r));
        if (r == NULL) {
            c->failed = 1;
            return;
        }
        c->rows = r;
        c->cap = cap;
    }
    rs_sum_row *r = &c->rows[c->n];
    snprintf(r->stage, sizeof(r->stage), "%s", c->stage);
    if ((r->name = strdup(name)) == NULL) {
        c->failed = 1;
        return;
    }
    r->value = value;
    r->gauge = gauge;
    c->n++;
}

static void rs_sum_instance(bp_instance *in, void *ud)
{
    rs_sum_ctx *c = ud;
    char stage[256];
    rs_stage(c->route, in, stage, sizeof(stage));
    c->stage = stage;
    bp_metrics_foreach(in->metrics, rs_sum_metric, c);
    c->stage = NULL;
}

char *bp_route_stats_summary(const bp_route_parts *p)
{
    rs_sum_ctx c = {.route = p->route};
    rs_each(p, rs_sum_instance, &c);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = c.failed ? NULL : open_memstream(&buf, &len);
    for (size_t i = 0; f && i < c.n; i++) {
        int first = i == 0 || strcmp(c.rows[i - 1].stage, c.rows[i].stage) != 0;
        fprintf(f, "%s%s%s%s=%.15g", first ? (i ? "; " : "") : ", ",
                first ? c.rows[i].stage : "", first ? ": " : "", c.rows[i].name,
                c.rows[i].value);
    }
    if (f)
        fclose(f);
    for (size_t i = 0; i < c.n; i++)
        free(c.rows[i].name);
    free(c.rows);
    return f ? buf : NULL;
}

/* One observation as two counter names (bucket, sum) and their deltas. */
typedef struct {
    char name[2][300];
    int64_t delta[2];
} stats_obs;

static void stats_obs_make(stats_obs *o, const char *prefix, int64_t us)
{
    snprintf(o->name[0], sizeof(o->name[0]), "%s.b%d", prefix, bp_hist_bucket(us));
    snprintf(o->name[1], sizeof(o->name[1]), "%s.sum_us", prefix);
    o->delta[0] = 1;
    o->delta[1] = us > 0 ? us : 0;
}

static void stats_observe(bp_metrics *m, const char *prefix, int64_t us)
{
    stats_obs o;
    stats_obs_make(&o, prefix, us);
    bp_metrics_add(m, o.name[0], 1);
    bp_metrics_add(m, o.name[1], (uint64_t)o.delta[1]);
}

/* The cycle (and wait) of items[i] at now: 0, 1 or 2 observations. */
static int stats_cycle_obs(const bp_item *it, int64_t now, stats_obs out[2])
{
    if (it->failed_sink || it->env == NULL)
        return 0;
    int64_t arrived = 0, parked = 0;
    bp_env_times(it->env, &arrived, &parked);
    if (arrived <= 0)
        return 0;
    stats_obs_make(&out[0], parked > 0 ? "cycle.reviewed" : "cycle.automated",
                   (now - arrived) * 1000);
    if (parked <= 0)
        return 1;
    stats_obs_make(&out[1], "wait", (now - parked) * 1000);
    return 2;
}

void bp_route_stats_cycles(bp_metrics *m, const bp_item *items, size_t n)
{
    int64_t now = bp_now_ms();
    for (size_t i = 0; i < n; i++) {
        stats_obs o[2];
        int k = stats_cycle_obs(&items[i], now, o);
        for (int j = 0; j < k; j++) {
            bp_metrics_add(m, o[j].name[0], 1);
            bp_metrics_add(m, o[j].name[1], (uint64_t)o[j].delta[1]);
        }
    }
}

bp_status bp_route_stats_cycle_store(bp_state *st, const char *route, const bp_item *item)
{
    stats_obs o[2];
    int k = stats_cycle_obs(item, bp_now_ms(), o);
    const char *names[4];
    int64_t deltas[4];
    for (int j = 0; j < k; j++) {
        names[2 * j] = o[j].name[0];
        names[2 * j + 1] = o[j].name[1];
        deltas[2 * j] = o[j].delta[0];
        deltas[2 * j + 1] = o[j].delta[1];
    }
    return k ? bp_state_stats_add(st, route, names, deltas, (size_t)(2 * k)) : BP_OK;
}

void bp_route_stats_sink_write(bp_metrics *m, const char *sink, int64_t us)
{
    char prefix[260];
    snprintf(prefix, sizeof(prefix), "sink_write.%s", sink);
    stats_observe(m, prefix, us);
}
