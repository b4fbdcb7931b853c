/* backplane report SITE: how much of a site runs without a person, what the
 * exceptions are, and what waits for review — from the state file. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "histogram.h"
#include "clock.h"
#include "diag.h"
#include "site.h"
#include "state.h"
#include "state_stats.h"

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: backplane report SITE\n"
            "Per route, from the counters runs keep in the state file (added every 5 s\n"
            "while a site runs): records in, delivered without a person (straight-through\n"
            "rate), parked for review, dropped, dead-lettered, redelivered by a replay,\n"
            "open dead letters; exception rate by flag; plugins' counters and gauges per\n"
            "stage; the review queue (size, oldest); reviewers' decisions and corrections\n"
            "per field; the dead-letter store: dead-lettered = replayed + dropped + open.\n"
            "Names: docs/metrics.md.\n");
}

typedef struct {
    char *route;
    int64_t in, out, parked, dropped, dead, approved, corrected, rejected;
    int64_t dlq_added, dlq_removed, dlq_dropped, open;
    int64_t replay[4];          /* delivered, parked, dropped, failed */
} report_route;

static const char *const report_replay_outcomes[] = {"delivered", "parked", "dropped", "failed"};

typedef struct {
    report_route *r;
    size_t n, cap;
    int failed;
} report_ctx;

/* The route's row, made on first sight; NULL when out of memory. */
static report_route *report_get(report_ctx *c, const char *route)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].route, route) == 0)
            return &c->r[i];
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        report_route *r = realloc(c->r, cap * sizeof(*r));
        if (r == NULL)
            return NULL;
        c->r = r;
        c->cap = cap;
    }
    report_route *r = &c->r[c->n];
    memset(r, 0, sizeof(*r));
    if ((r->route = strdup(route)) == NULL)
        return NULL;
    c->n++;
    return r;
}

static int report_stat(const char *route, const char *n, int64_t v, void *ud)
{
    report_ctx *c = ud;
    report_route *r = report_get(c, route);
    if (r == NULL) {
        c->failed = 1;
        return 1;
    }
    static const struct {
        const char *name;
        size_t off;
    } cols[] = {
        {"records_in", offsetof(report_route, in)},
        {"records_out", offsetof(report_route, out)},
        {"parked", offsetof(report_route, parked)},
        {"dropped", offsetof(report_route, dropped)},
        {"dead_lettered", offsetof(report_route, dead)},
        {"review.approved", offsetof(report_route, approved)},
        {"review.corrected", offsetof(report_route, corrected)},
        {"review.rejected", offsetof(report_route, rejected)},
        {"dlq.added", offsetof(report_route, dlq_added)},
        {"dlq.removed", offsetof(report_route, dlq_removed)},
        {"dlq.dropped", offsetof(report_route, dlq_dropped)},
    };
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        if (strcmp(n, cols[i].name) == 0)
            *(int64_t *)((char *)r + cols[i].off) = v;
    for (size_t i = 0; i < 4; i++)
        if (strncmp(n, "dlq.replayed.", 13) == 0 && strcmp(n + 13, report_replay_outcomes[i]) == 0)
            r->replay[i] = v;
    return 0;
}

/* Durations of one route and path ("automated", "reviewed", "wait"). */
typedef struct {
    char route[128];
    char path[16];
    int64_t b[BP_HIST_BUCKETS];
    int64_t sum_us;
} report_hist;

typedef struct {
    report_hist *h;
    size_t n, cap;
} report_hists;

static int report_cycle(const char *route, const char *n, int64_t v, void *ud)
{
    report_hists *hs = ud;
    const char *path = NULL, *rest = NULL;
    if (strncmp(n, "cycle.automated.", 16) == 0)
        path = "automated", rest = n + 16;
    else if (strncmp(n, "cycle.reviewed.", 15) == 0)
        path = "reviewed", rest = n + 15;
    else if (strncmp(n, "wait.", 5) == 0)
        path = "wait", rest = n + 5;
    if (path == NULL)
        return 0;
    report_hist *h = NULL;
    for (size_t i = 0; i < hs->n && h == NULL; i++)
        if (strcmp(hs->h[i].route, route) == 0 && strcmp(hs->h[i].path, path) == 0)
            h = &hs->h[i];
    if (h == NULL) {
        if (hs->n == hs->cap) {
            size_t cap = hs->cap ? hs->cap * 2 : 8;
            report_hist *nh = realloc(hs->h, cap * sizeof(*nh));
            if (nh == NULL)
                return 1;
            hs->h = nh;
            hs->cap = cap;
        }
        h = &hs->h[hs->n++];
        memset(h, 0, sizeof(*h));
        snprintf(h->route, sizeof(h->route), "%s", route);
        snprintf(h->path, sizeof(h->path), "%s", path);
    }
    if (strcmp(rest, "sum_us") == 0)
        h->sum_us = v;
    else if (rest[0] == 'b' && atoi(rest + 1) >= 0 && atoi(rest + 1) < BP_HIST_BUCKETS)
        h->b[atoi(rest + 1)] += v;
    return 0;
}

/* "850ms", "12.3s", "4m05s", "2h10m", "3d04h" */
static void report_dur(double us, char *out, size_t n)
{
    double s = us / 1e6;
    if (us < 0)
        snprintf(out, n, "-");
    else if (s < 1)
        snprintf(out, n, "%.0fms", us / 1000 < 1 ? 1 : us / 1000);
    else if (s < 60)
        snprintf(out, n, "%.1fs", s);
    else if (s < 3600)
        snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else if (s < 86400)
        snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(out, n, "%dd%02dh", (int)(s / 86400), (int)(s / 3600) % 24);
}

static void report_cycles(bp_state *st)
{
    report_hists hs = {0};
    bp_state_route_stats_foreach(st, report_cycle, &hs);
    printf("\nprocessing time, arrival to write-back (median and p90 per route and path;\n"
           "wait: parked until a person's decision was written back)\n");
    printf("  %-16s %-10s %8s %10s %10s %10s\n", "ROUTE", "PATH", "RECORDS", "MEDIAN", "P90",
           "MEAN");
    for (size_t i = 0; i < hs.n; i++) {
        report_hist *h = &hs.h[i];
        int64_t total = 0;
        for (int k = 0; k < BP_HIST_BUCKETS; k++)
            total += h->b[k];
        char med[32], p90[32], mean[32];
        report_dur(bp_hist_quantile_us(h->b, 0.5), med, sizeof(med));
        report_dur(bp_hist_quantile_us(h->b, 0.9), p90, sizeof(p90));
        report_dur(total ? (double)h->sum_us / (double)total : -1, mean, sizeof(mean));
        printf("  %-16s %-10s %8lld %10s %10s %10s\n", h->route, h->path, (long long)total, med,
               p90, mean);
    }
    if (hs.n == 0)
        printf("  (none recorded yet)\n");
    free(hs.h);
}

static double report_pct(int64_t a, int64_t b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

static int report_flag(const char *route, const char *name, int64_t v, void *ud)
{
    report_ctx *c = ud;
    if (strncmp(name, "flag.", 5) != 0)
        return 0;
    report_route *r = report_get(c, route);
    printf("  %-16s %-24s %8lld  %5.1f%%\n", route, name + 5, (long long)v,
           report_pct(v, r ? r->in : 0));
    return 0;
}

static int report_open(const char *route, const char *stage, int64_t n, int64_t extra, void *ud)
{
    (void)stage;
    (void)extra;
    report_ctx *c = ud;
    report_route *r = report_get(c, route);
    if (r)
        r->open += n;
    return 0;
}

static int report_queue(const char *route, const char *key, int64_t n, int64_t oldest, void *ud)
{
    (void)key;
    int64_t now = *(int64_t *)ud;
    int64_t age = oldest ? (now - oldest) / 1000 : 0;
    printf("  %-16s %8lld waiting, oldest %lldh%02lldm%02llds\n", route, (long long)n,
           (long long)(age / 3600), (long long)(age / 60 % 60), (long long)(age % 60));
    return 0;
}

static int report_pairs(const char *route, const char *key, int64_t n, int64_t extra, void *ud)
{
    (void)extra;
    (void)ud;
    printf("  %-16s %-40s %8lld\n", route, key ? key : "", (long long)n);
    return 0;
}

static int report_plugin(const char *route, const bp_plugin_stat *s, void *ud)
{
    int *n = ud;
    printf("  %-16s %-24s %-12s %-30s %9.15g%s\n", *route ? route : "(lookups)", s->stage,
           s->plugin, s->name, s->value,
           s->gauge ? " (gauge)" : "");
    (*n)++;
    return 0;
}

/* "dead-lettered 3, replayed 2 (2 delivered), dropped 1, open 0" */
static void report_dlq_line(const report_route *x)
{
    int64_t all = x->replay[0] + x->replay[1] + x->replay[2] + x->replay[3];
    printf("  %-16s dead-lettered %lld, replayed %lld", x->route, (long long)x->dlq_added,
           (long long)all);
    static const char *const said[] = {"delivered", "parked", "dropped by a transform",
                                       "failed again"};
    int first = 1;
    for (size_t i = 0; i < 4; i++) {
        if (x->replay[i] == 0)
            continue;
        printf("%s%lld %s", first ? " (" : ", ", (long long)x->replay[i], said[i]);
        first = 0;
    }
    printf("%s, dropped %lld, open %lld", first ? "" : ")", (long long)x->dlq_dropped,
           (long long)x->open);
    /* Entries removed some other way (none today): said, so the sum holds. */
    int64_t other = x->dlq_removed - all - x->dlq_dropped;
    if (other > 0)
        printf(", removed otherwise %lld", (long long)other);
    printf("\n");
}

int cmd_report(int argc, char **argv)
{
    cli_common c = {0};
    const char *path = NULL;
    const cli_spec spec = {.cmd = "report", .usage = report_usage, .site = 1};
    int r = cli_parse(&spec, argc, argv, &c, &path);
    if (r != 0)
        return r > 0 ? BP_EXIT_OK : BP_EXIT_USAGE;
    cli_site cs;
    int rc = BP_EXIT_INVALID;
    report_ctx ctx = {0};
    if (cli_site_open(&cs, path, &c, 0) < 0)
        goto out;
    bp_site *site = cs.site;
    bp_state *st = cs.st;
    rc = BP_EXIT_OK;
    int64_t now = bp_now_ms();
    if (bp_state_route_stats_foreach(st, report_stat, &ctx) != BP_OK ||
        bp_state_report_rows(st, BP_REPORT_DEAD_LETTERS, report_open, &ctx) != BP_OK ||
        ctx.failed)
        rc = BP_EXIT_RUNTIME;
    printf("site %s (state %s)\n\n", site->name, site->state_path);
    printf("routes                in  automated  straight-through  parked  approved  corrected"
           "  rejected  dropped  dead-lettered  redelivered  open\n");
    for (size_t i = 0; i < ctx.n; i++) {
        report_route *x = &ctx.r[i];
        printf("  %-16s %6lld %10lld %16.1f%% %7lld %9lld %10lld %9lld %8lld %14lld %12lld %5lld\n",
               x->route, (long long)x->in, (long long)x->out, report_pct(x->out, x->in),
               (long long)x->parked, (long long)x->approved, (long long)x->corrected,
               (long long)x->rejected, (long long)x->dropped, (long long)x->dead,
               (long long)x->replay[0], (long long)x->open);
    }
    if (ctx.n == 0)
        printf("  (no runs recorded yet)\n");
    report_cycles(st);
    printf("\nexceptions by flag (records carrying it, share of records in)\n");
    bp_state_route_stats_foreach(st, report_flag, &ctx);
    printf("\nplugin metrics (backplane_plugin_NAME_total; gauges: last value)\n");
    int n_plugin = 0;
    bp_state_plugin_stats_foreach(st, report_plugin, &n_plugin);
    if (n_plugin == 0)
        printf("  (none recorded yet)\n");
    printf("\nreview queue\n");
    bp_state_report_rows(st, BP_REPORT_REVIEW_QUEUE, report_queue, &now);
    printf("  total %lld\n", (long long)bp_state_count(st, "review_queue"));
    printf("\ncorrections per field\n");
    bp_state_report_rows(st, BP_REPORT_CORRECTIONS, report_pairs, NULL);
    printf("\ndead letters (the state store: dead-lettered = replayed + dropped + open)\n");
    for (size_t i = 0; i < ctx.n; i++)
        if (ctx.r[i].dlq_added || ctx.r[i].open)
            report_dlq_line(&ctx.r[i]);
    printf("\nopen dead letters by stage\n");
    bp_state_report_rows(st, BP_REPORT_DEAD_LETTERS, report_pairs, NULL);
    printf("  total %lld\n", (long long)bp_state_count(st, "dead_letters"));
out:
    for (size_t i = 0; i < ctx.n; i++)
        free(ctx.r[i].route);
    free(ctx.r);
    cli_site_close(&cs);
    return rc;
}
