/* A route's counters that outlive the process: what they gained since the
 * last flush goes to the state store's route_stats, which `backplane report`
 * reads. A crash loses at most the last few seconds of counts, never records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

void bp_route_count_flags(bp_route *r, const bp_envelope *env)
{
    const cJSON *f = bp_envelope_get0_ext(env, "flags");
    if (!cJSON_IsString(f) || f->valuestring[0] == '\0')
        return;
    const char *p = f->valuestring;
    char small[96];
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && p[k - 1] == ' ')
            k--;
        size_t lead = strspn(p, " ");
        if (k > lead) {
            /* The whole name, however long (it used to be cut at 60). */
            size_t len = k - lead + 6;
            char *name = len <= sizeof(small) ? small : malloc(len);
            if (name) {
                snprintf(name, len, "flag.%.*s", (int)(k - lead), p + lead);
                bp_metrics_add(r->metrics, name, 1);
                if (name != small)
                    free(name);
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* Every counter that gained, however many (they used to stop at 128). */
typedef struct {
    bp_route *r;
    char **names;
    int64_t *deltas;
    size_t n, cap;
} stats_ctx;

static void stats_collect(const char *name, double value, int gauge, void *ud)
{
    stats_ctx *c = ud;
    static const char *const kept[] = {"records_in", "records_out", "dropped", "parked",
                                       "dead_lettered", NULL};
    if (gauge)
        return;
    int keep = strncmp(name, "flag.", 5) == 0;
    for (size_t i = 0; !keep && kept[i]; i++)
        keep = strcmp(name, kept[i]) == 0;
    int64_t d = (int64_t)(value - bp_metrics_get(c->r->flushed, name));
    if (!keep || d <= 0)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        char **nm = realloc(c->names, cap * sizeof(*nm));
        if (nm == NULL)
            return;
        c->names = nm;
        int64_t *dl = realloc(c->deltas, cap * sizeof(*dl));
        if (dl == NULL)
            return;
        c->deltas = dl;
        c->cap = cap;
    }
    if ((c->names[c->n] = strdup(name)) == NULL)
        return;
    c->deltas[c->n++] = d;
}

void bp_route_stats_flush(bp_route *r)
{
    stats_ctx c = {.r = r};
    bp_metrics_foreach(r->metrics, stats_collect, &c);
    if (c.n && bp_state_stats_add(r->rt->state, r->cfg->name, (const char *const *)c.names,
                                  c.deltas, c.n) == BP_OK)
        for (size_t i = 0; i < c.n; i++)
            bp_metrics_add(r->flushed, c.names[i], (uint64_t)c.deltas[i]);
    for (size_t i = 0; i < c.n; i++)
        free(c.names[i]);
    free(c.names);
    free(c.deltas);
}
