/* Lookups through another connector (api->lookup, a content enricher).
 *
 * A plugin instance is called from one thread at a time (the plugin
 * contract), but one ERP query must not hold up every worker of every route.
 * So each lookup connector has a small pool of instances: a caller takes an
 * idle one, or creates one more (up to the number of threads that can look up
 * at once: the routes' workers added up), or waits for one to come back. Only
 * the call on one instance is serialised. A plugin that declares
 * BP_PLUGIN_LOOKUP_CONCURRENT (ABI 1.3: its lookup is thread-safe) gets one
 * instance called from every thread at once, with no lock.
 * The pool's first instance is created with the runtime (transforms may look
 * up from their own init); the others on demand, on the caller's thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runtime_int.h"

struct bp_lookup_pool {
    bp_runtime *rt;
    const bp_site_connector *cfg;
    int concurrent;             /* BP_PLUGIN_LOOKUP_CONCURRENT: no lock, one instance */
    pthread_mutex_t mu;
    pthread_cond_t idle;        /* an instance came back */
    bp_instance **insts;        /* [0] set at init, never changed; NULL: being created */
    unsigned char *busy;
    size_t n, max;
    int cannot_grow;            /* creating one more failed: use those there are */
};

static void pool_free(bp_lookup_pool *pl)
{
    if (pl == NULL)
        return;
    for (size_t i = 0; i < pl->n; i++)
        bp_instance_free(pl->insts[i]);
    free(pl->insts);
    free(pl->busy);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->idle);
    free(pl);
}

/* Instance k (0-based) of the pool, inited; NULL on failure (errors in d). */
static bp_instance *pool_instance(bp_lookup_pool *pl, size_t k, bp_diags *d)
{
    char name[300], what[400];
    const bp_site_connector *c = pl->cfg;
    snprintf(name, sizeof(name), "lookup/%s", c->name);
    if (k > 0)
        snprintf(name + strlen(name), sizeof(name) - strlen(name), "#%zu", k + 1);
    /* Every instance shares the connector's checkpoint scope. */
    char scope[300];
    snprintf(scope, sizeof(scope), "lookup/%s", c->name);
    bp_instance *in = bp_instance_new(pl->rt, c->lib, name, scope, c->name);
    if (in == NULL) {
        bp_diags_add(d, NULL, 0, 0, "lookup connector '%s': out of memory", c->name);
        return NULL;
    }
    /* The pool counts as one instance in `report` and the final log line. */
    if (k > 0 && pl->insts[0]) {
        bp_metrics_free(in->metrics);
        in->metrics = pl->insts[0]->metrics;
        in->metrics_borrowed = 1;
    }
    snprintf(what, sizeof(what), "lookup connector '%s'", c->name);
    if (bp_instance_init(in, c->config, c->bound, BP_KIND_LOOKUP, what, d) != BP_OK) {
        bp_instance_free(in);
        return NULL;
    }
    return in;
}

int bp_lookups_init(bp_runtime *rt, bp_diags *d)
{
    bp_site *site = rt->site;
    int callers = 1;   /* the main thread (review resume, dlq replay) */
    for (size_t i = 0; i < site->n_routes; i++)
        callers += site->routes[i].workers > 0 ? site->routes[i].workers : 1;
    rt->lookup_callers = callers;
    rt->lookups = calloc(site->n_connectors ? site->n_connectors : 1, sizeof(*rt->lookups));
    rt->lookup_insts = calloc(site->n_connectors ? site->n_connectors : 1,
                              sizeof(*rt->lookup_insts));
    if (rt->lookups == NULL || rt->lookup_insts == NULL)
        return -1;
    int failed = 0;
    for (size_t i = 0; i < site->n_connectors; i++) {
        bp_site_connector *c = &site->connectors[i];
        if (c->lib == NULL || !(c->lib->desc.kinds & BP_KIND_LOOKUP) || c->config == NULL ||
            c->lib->desc.lookup == NULL)
            continue;
        bp_lookup_pool *pl = calloc(1, sizeof(*pl));
        if (pl == NULL)
            return -1;
        pl->rt = rt;
        pl->cfg = c;
        pl->concurrent = (c->lib->desc.flags & BP_PLUGIN_LOOKUP_CONCURRENT) != 0;
        pl->max = pl->concurrent ? 1 : (size_t)callers;
        pthread_mutex_init(&pl->mu, NULL);
        pthread_cond_init(&pl->idle, NULL);
        pl->insts = calloc(pl->max, sizeof(*pl->insts));
        pl->busy = calloc(pl->max, 1);
        rt->lookups[rt->n_lookups++] = pl;
        if (pl->insts == NULL || pl->busy == NULL)
            return -1;
        if ((pl->insts[0] = pool_instance(pl, 0, d)) == NULL)
            failed = 1;
        else
            pl->n = 1;
        rt->lookup_insts[rt->n_lookups - 1] = pl->insts[0];
    }
    return failed ? -1 : 0;
}

void bp_lookups_free(bp_runtime *rt)
{
    for (size_t i = 0; i < rt->n_lookups; i++)
        pool_free(rt->lookups[i]);
    free(rt->lookups);
    free(rt->lookup_insts);
    rt->lookups = NULL;
    rt->lookup_insts = NULL;
    rt->n_lookups = 0;
}

/* Takes an idle instance of pl (creating one when there is room); returns its
 * index. Lock not held on entry or exit. */
static size_t pool_take(bp_lookup_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        for (size_t i = 0; i < pl->n; i++) {
            if (pl->insts[i] && !pl->busy[i]) {
                pl->busy[i] = 1;
                pthread_mutex_unlock(&pl->mu);
                return i;
            }
        }
        if (pl->n < pl->max && !pl->cannot_grow) {
            size_t k = pl->n++;
            pl->busy[k] = 1;
            pthread_mutex_unlock(&pl->mu);
            bp_diags d = {0};
            bp_instance *in = pool_instance(pl, k, &d);
            pthread_mutex_lock(&pl->mu);
            if (in != NULL) {
                pl->insts[k] = in;
                pthread_mutex_unlock(&pl->mu);
                return k;
            }
            /* Only the last slot can be undone; an earlier one stays empty. */
            if (k + 1 == pl->n)
                pl->n--;
            pl->busy[k] = 0;
            pl->cannot_grow = 1;
            bp_log(BP_LOG_WARN, NULL,
                   "lookup connector '%s': one more instance failed (%s): lookups share the "
                   "%zu there are", pl->cfg->name, d.n ? d.msgs[0] : "init failed", k);
            bp_diags_free(&d);
            continue;
        }
        pthread_cond_wait(&pl->idle, &pl->mu);
    }
}

static void pool_give_back(bp_lookup_pool *pl, size_t k)
{
    pthread_mutex_lock(&pl->mu);
    pl->busy[k] = 0;
    pthread_cond_signal(&pl->idle);
    pthread_mutex_unlock(&pl->mu);
}

bp_status bp_runtime_lookup(bp_instance *inst, const char *connector, const char *query,
                            const cJSON *params, cJSON **result, char **errmsg)
{
    *result = NULL;
    if (errmsg)
        *errmsg = NULL;
    bp_runtime *rt = inst ? inst->rt : NULL;
    for (size_t i = 0; rt && connector && i < rt->n_lookups; i++) {
        bp_lookup_pool *pl = rt->lookups[i];
        if (strcmp(pl->cfg->name, connector) != 0 || pl->insts[0] == NULL)
            continue;
        if (pl->concurrent) {
            bp_instance *l = pl->insts[0];
            return l->lib->desc.lookup(l->self, query, params, result, errmsg);
        }
        size_t k = pool_take(pl);
        bp_instance *l = pl->insts[k];
        bp_status st = l->lib->desc.lookup(l->self, query, params, result, errmsg);
        pool_give_back(pl, k);
        return st;
    }
    if (errmsg && asprintf(errmsg, "no lookup connector named '%s'", connector) < 0)
        *errmsg = NULL;
    return BP_ERR_NOT_FOUND;
}
