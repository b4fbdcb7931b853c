/* backplane report SITE: how much of a site runs without a person, what the
 * exceptions are, and what waits for review — from the state file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "diag.h"
#include "site.h"
#include "state.h"

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: backplane report SITE\n"
            "Per route, from the counters runs keep in the state file: records in,\n"
            "delivered without a person (straight-through rate), parked for review,\n"
            "dropped, dead-lettered; exception rate by flag; the review queue (size,\n"
            "oldest); reviewers' decisions and corrections per field; dead letters.\n");
}

typedef struct {
    char route[128];
    int64_t in, out, parked, dropped, dead, approved, corrected, rejected;
} report_route;

typedef struct {
    report_route r[64];
    size_t n;
} report_ctx;

static report_route *report_get(report_ctx *c, const char *route)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].route, route) == 0)
            return &c->r[i];
    if (c->n == 64)
        return NULL;
    report_route *r = &c->r[c->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->route, sizeof(r->route), "%s", route);
    return r;
}

static int report_stat(int ncol, const char *const *cols, void *ud)
{
    if (ncol < 3 || !cols[0] || !cols[1] || !cols[2])
        return 0;
    report_route *r = report_get(ud, cols[0]);
    if (r == NULL)
        return 0;
    int64_t v = strtoll(cols[2], NULL, 10);
    const char *n = cols[1];
    if (strcmp(n, "records_in") == 0)
        r->in = v;
    else if (strcmp(n, "records_out") == 0)
        r->out = v;
    else if (strcmp(n, "parked") == 0)
        r->parked = v;
    else if (strcmp(n, "dropped") == 0)
        r->dropped = v;
    else if (strcmp(n, "dead_lettered") == 0)
        r->dead = v;
    else if (strcmp(n, "review.approved") == 0)
        r->approved = v;
    else if (strcmp(n, "review.corrected") == 0)
        r->corrected = v;
    else if (strcmp(n, "review.rejected") == 0)
        r->rejected = v;
    return 0;
}

static double report_pct(int64_t a, int64_t b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

static int report_flag(int ncol, const char *const *cols, void *ud)
{
    /* route, flag, count, records_in */
    (void)ud;
    if (ncol < 4 || !cols[0] || !cols[1] || !cols[2])
        return 0;
    int64_t n = strtoll(cols[2], NULL, 10), in = cols[3] ? strtoll(cols[3], NULL, 10) : 0;
    printf("  %-16s %-24s %8lld  %5.1f%%\n", cols[0], cols[1], (long long)n, report_pct(n, in));
    return 0;
}

static int report_queue(int ncol, const char *const *cols, void *ud)
{
    /* route, count, oldest created_ms */
    int64_t now = *(int64_t *)ud;
    if (ncol < 3 || !cols[0] || !cols[1])
        return 0;
    int64_t age = cols[2] ? (now - strtoll(cols[2], NULL, 10)) / 1000 : 0;
    printf("  %-16s %8s waiting, oldest %lldh%02lldm%02llds\n", cols[0], cols[1],
           (long long)(age / 3600), (long long)(age / 60 % 60), (long long)(age % 60));
    return 0;
}

static int report_pairs(int ncol, const char *const *cols, void *ud)
{
    (void)ud;
    if (ncol < 3)
        return 0;
    printf("  %-16s %-40s %8s\n", cols[0] ? cols[0] : "", cols[1] ? cols[1] : "",
           cols[2] ? cols[2] : "0");
    return 0;
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
    if (cli_site_open(&cs, path, &c, 0) < 0)
        goto out;
    bp_site *site = cs.site;
    bp_state *st = cs.st;
    rc = BP_EXIT_OK;
    report_ctx ctx = {.n = 0};
    int64_t now = bp_now_ms();
    if (bp_state_select(st, "SELECT route, name, value FROM route_stats ORDER BY route", report_stat,
                        &ctx) != BP_OK)
        rc = BP_EXIT_RUNTIME;
    printf("site %s (state %s)\n\n", site->name, site->state_path);
    printf("routes                in  automated  straight-through  parked  approved  corrected"
           "  rejected  dropped  dead-lettered\n");
    for (size_t i = 0; i < ctx.n; i++) {
        report_route *x = &ctx.r[i];
        printf("  %-16s %6lld %10lld %16.1f%% %7lld %9lld %10lld %9lld %8lld %14lld\n", x->route,
               (long long)x->in, (long long)x->out, report_pct(x->out, x->in),
               (long long)x->parked, (long long)x->approved, (long long)x->corrected,
               (long long)x->rejected, (long long)x->dropped, (long long)x->dead);
    }
    if (ctx.n == 0)
        printf("  (no runs recorded yet)\n");
    printf("\nexceptions by flag (records carrying it, share of records in)\n");
    bp_state_select(st,
                    "SELECT f.route, substr(f.name, 6), f.value,"
                    " (SELECT value FROM route_stats i WHERE i.route=f.route AND"
                    "  i.name='records_in') FROM route_stats f WHERE f.name LIKE 'flag.%'"
                    " ORDER BY f.route, f.value DESC",
                    report_flag, NULL);
    printf("\nreview queue\n");
    bp_state_select(st,
                    "SELECT route, count(*), min(created_ms) FROM review_queue GROUP BY route"
                    " ORDER BY route",
                    report_queue, &now);
    printf("  total %lld\n", (long long)bp_state_count(st, "review_queue"));
    printf("\ncorrections per field\n");
    bp_state_select(st,
                    "SELECT route, path, count(*) FROM corrections GROUP BY route, path"
                    " ORDER BY count(*) DESC",
                    report_pairs, NULL);
    printf("\ndead letters by stage\n");
    bp_state_select(st,
                    "SELECT route, stage, count(*) FROM dead_letters GROUP BY route, stage"
                    " ORDER BY count(*) DESC",
                    report_pairs, NULL);
    printf("  total %lld\n", (long long)bp_state_count(st, "dead_letters"));
out:
    cli_site_close(&cs);
    return rc;
}
