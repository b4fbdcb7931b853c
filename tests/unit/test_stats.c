/* Counters on their way to `backplane report`: no silent limit on the number
 * of counters or on flag names, plugin counters stored per route and stage,
 * and the dead-letter ledger kept with the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope_int.h"
#include "metrics.h"
#include "route_stats.h"
#include "state_stats.h"
#include "tap.h"
#include "state_target.h"

typedef struct {
    int64_t flags, not_counted, long_kept, records_in, dlq_added, dlq_removed, replayed_ok,
        dropped;
} seen_t;

static int on_stat(const char *route, const char *name, int64_t v, void *ud)
{
    seen_t *s = ud;
    (void)route;
    if (strncmp(name, "flag.", 5) == 0) {
        s->flags++;
        if (strlen(name) == 5 + 128)
            s->long_kept = v;
    }
    if (strcmp(name, "flags_not_counted") == 0)
        s->not_counted = v;
    if (strcmp(name, "records_in") == 0)
        s->records_in = v;
    if (strcmp(name, "dlq.added") == 0)
        s->dlq_added = v;
    if (strcmp(name, "dlq.removed") == 0)
        s->dlq_removed = v;
    if (strcmp(name, "dlq.replayed.delivered") == 0)
        s->replayed_ok = v;
    if (strcmp(name, "dlq.dropped") == 0)
        s->dropped = v;
    return 0;
}

typedef struct {
    int n;
    double c7, gauge, lookup;
    char stage[64], plugin[64];
    int transform_no_connector;
} pseen_t;

static int on_plugin(const char *route, const bp_plugin_stat *s, void *ud)
{
    pseen_t *p = ud;
    p->n++;
    if (strcmp(s->name, "c7") == 0) {
        p->c7 = s->value;
        snprintf(p->stage, sizeof(p->stage), "%s", s->stage);
        snprintf(p->plugin, sizeof(p->plugin), "%s", s->plugin);
        p->transform_no_connector = s->connector == NULL;
    }
    if (strcmp(s->name, "depth") == 0)
        p->gauge = s->value;
    if (strcmp(s->name, "lookup_cache_hits") == 0 && route[0] == '\0' &&
        strcmp(s->stage, "erp") == 0)
        p->lookup = s->value;
    return 0;
}

int main(void)
{
    /* ---- bp_metrics: changes since the last flush, any number of names */
    bp_metrics *m = bp_metrics_new();
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        bp_metrics_add(m, name, (uint64_t)i + 1);
    }
    bp_metric_change *ch = NULL;
    size_t n = bp_metrics_take(m, &ch);
    CHECK_INT(n, 300);
    bp_metric_changes_free(ch, n);
    bp_metrics_add(m, "c5", 10);
    bp_metrics_set(m, "g", 2.5);
    n = bp_metrics_take(m, &ch);
    CHECK_INT(n, 2);
    CHECK_STR(n ? ch[0].name : NULL, "c5");
    CHECK(n && ch[0].delta == 10 && ch[0].value == 16);
    CHECK(n == 2 && ch[1].gauge && ch[1].value == 2.5);
    bp_metric_changes_free(ch, n);
    n = bp_metrics_take(m, &ch);
    CHECK_INT(n, 0);
    /* What could not be stored is given back and taken again, once. */
    bp_metrics_add(m, "c5", 4);
    n = bp_metrics_take(m, &ch);
    bp_metrics_untake(m, ch, n);
    bp_metric_changes_free(ch, n);
    n = bp_metrics_take(m, &ch);
    CHECK(n == 1 && ch[0].delta == 4);
    bp_metric_changes_free(ch, n);
    CHECK_INT(bp_metrics_take(m, &ch), 0);
    bp_metrics_free(m);

    /* ---- a state store in a temp dir */
    char dir[] = "/tmp/bp_stats_XXXXXX", path[128];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/s.db", dir);
    const char *tgt = test_state_target(path);   /* SQLite file or PostgreSQL */
    bp_state *st = NULL;
    char *err = NULL;
    CHECK(bp_state_open(tgt, "t", &st, &err) == BP_OK);
    if (st == NULL)
        return tap_done();

    /* ---- flags: 200 distinct, one of 128 characters, one of 129 */
    bp_metrics *rm = bp_metrics_new();
    bp_envelope *env = bp_envelope_new();
    char *list = malloc(200 * 12 + 300);
    size_t len = 0;
    for (int i = 0; i < 200; i++)
        len += (size_t)sprintf(list + len, "%sflag%d", i ? ", " : "", i);
    len += (size_t)sprintf(list + len, ",%0128d", 0);
    len += (size_t)sprintf(list + len, ",%0129d", 0);
    bp_envelope_set0_ext(env, "flags", cJSON_CreateString(list));
    free(list);
    bp_route_stats_count_flags(rm, "r", env);
    bp_route_stats_count_flags(rm, "r", env);
    bp_metrics_add(rm, "records_in", 2);
    bp_metrics_add(rm, "backpressure_waits", 3);

    /* ---- a transform instance with 150 counters and a gauge */
    bp_plugin_lib lib = {.desc = {.name = "fxp"}};
    bp_instance in = {.name = "r/fxp#2@3", .lib = &lib, .metrics = bp_metrics_new()};
    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        bp_metrics_add(in.metrics, name, 1);
    }
    bp_metrics_add(in.metrics, "c7", 6);
    bp_metrics_set(in.metrics, "depth", 4);
    bp_instance *tr[1] = {&in};
    bp_plugin_lib llib = {.desc = {.name = "odbc"}};
    bp_instance look = {.name = "erp", .connector = "erp", .lib = &llib,
                        .metrics = bp_metrics_new()};
    bp_metrics_add(look.metrics, "lookup_cache_hits", 9);
    bp_instance *lk[1] = {&look};
    bp_route_parts parts = {.route = "r", .metrics = rm, .transforms = tr, .n_chain = 1,
                            .workers = 1, .lookups = lk, .n_lookups = 1};
    CHECK(bp_route_stats_flush(st, &parts) == BP_OK);
    bp_metrics_add(in.metrics, "c7", 1);
    bp_metrics_set(in.metrics, "depth", 1);
    CHECK(bp_route_stats_flush(st, &parts) == BP_OK);
    CHECK(bp_route_stats_flush(st, &parts) == BP_OK);   /* nothing new: nothing added */

    seen_t s = {0};
    CHECK(bp_state_route_stats_foreach(st, on_stat, &s) == BP_OK);
    CHECK_INT(s.flags, 201);            /* 200 short + the 128-character one */
    CHECK_INT(s.long_kept, 2);          /* counted whole, twice */
    CHECK_INT(s.not_counted, 2);        /* the 129-character one, said */
    CHECK_INT(s.records_in, 2);
    pseen_t p = {0};
    CHECK(bp_state_plugin_stats_foreach(st, on_plugin, &p) == BP_OK);
    CHECK_INT(p.n, 152);
    CHECK(p.lookup == 9);   /* a lookup's counter, under route "" */
    CHECK(p.c7 == 8);
    CHECK(p.gauge == 1);
    CHECK_STR(p.stage, "fxp#2");
    CHECK_STR(p.plugin, "fxp");
    CHECK(p.transform_no_connector);
    char *sum = bp_route_stats_summary(&parts);
    CHECK(sum && strncmp(sum, "fxp#2: c0=1, c1=1, ", 19) == 0);
    CHECK(sum && strstr(sum, ", c7=8, ") && strstr(sum, ", depth=1"));
    free(sum);

    /* ---- the dead-letter ledger: added, replayed, dropped, open */
    for (int i = 0; i < 3; i++)
        CHECK(bp_state_dead_letter(st, "r", "r/out", "refused", "{}", 2) == BP_OK);
    CHECK(bp_state_dlq_resolve(st, 1, "replayed.delivered") == BP_OK);
    CHECK(bp_state_dlq_resolve(st, 2, "dropped") == BP_OK);
    CHECK(bp_state_dlq_resolve(st, 2, "dropped") == BP_ERR_NOT_FOUND);
    CHECK(bp_state_dlq_delete(st, 3) == BP_OK);
    seen_t d = {0};
    bp_state_route_stats_foreach(st, on_stat, &d);
    CHECK_INT(d.dlq_added, 3);
    CHECK_INT(d.dlq_removed, 3);
    CHECK_INT(d.replayed_ok, 1);
    CHECK_INT(d.dropped, 1);
    CHECK_INT(bp_state_count(st, "dead_letters"), 0);

    bp_state_close(st);
    /* Reopening does not seed the ledger again. */
    CHECK(bp_state_open(tgt, "t", &st, &err) == BP_OK);
    seen_t again = {0};
    bp_state_route_stats_foreach(st, on_stat, &again);
    CHECK_INT(again.dlq_added, 3);
    bp_state_close(st);

    bp_metrics_free(in.metrics);
    bp_metrics_free(look.metrics);
    bp_metrics_free(rm);
    bp_envelope_unref(env);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
