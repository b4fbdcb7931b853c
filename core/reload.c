/* Reload (SIGHUP, and the control API's POST /api/v1/reload): see runtime.h.
 *
 * The order is what keeps records and files whole: validate everything first
 * (nothing is touched when the new file is wrong); then, under the routes'
 * write lock, drain each changed or removed route as a stop does (its source
 * is no longer polled, records in flight are delivered and acked, its
 * instances stop and close) before its new version opens anything — one
 * writer per file sink, one consumer per checkpoint scope. A new version that
 * fails to start brings every affected route back in its previous
 * configuration. The routes that did not change are never touched. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "checkpoint_scope.h"
#include "log.h"
#include "runtime_int.h"
#include "site_templates.h"
#include "strutil.h"
#include "yaml_doc.h"

/* Whether route r of site s uses connector name (from, to, dead letter). */
static int reload_uses(const bp_site_route *r, const char *name)
{
    if (r->from.name && strcmp(r->from.name, name) == 0)
        return 1;
    if (r->dead_letter.name && strcmp(r->dead_letter.name, name) == 0)
        return 1;
    for (size_t k = 0; k < r->n_to; k++)
        if (strcmp(r->to[k].name, name) == 0)
            return 1;
    return 0;
}

/* What a route runs: its own map and the maps of the connectors it uses, as
 * JSON after substitution (so a changed ${file:} or ${env:} counts). */
static char *reload_signature(const bp_site *s, const bp_site_route *r)
{
    const bp_ynode *routes = s->doc ? bp_ymap_get(s->doc->root, "routes") : NULL;
    cJSON *sig = cJSON_CreateObject();
    if (sig == NULL)
        return NULL;
    cJSON_AddItemToObject(sig, "route",
                          routes ? bp_ynode_to_json(bp_ymap_get(routes, r->name)) : NULL);
    cJSON *conns = cJSON_AddObjectToObject(sig, "connectors");
    for (size_t i = 0; conns && i < s->n_connectors; i++)
        if (reload_uses(r, s->connectors[i].name))
            cJSON_AddItemToObject(conns, s->connectors[i].name,
                                  bp_ynode_to_json(s->connectors[i].node));
    char *text = cJSON_PrintUnformatted(sig);
    cJSON_Delete(sig);
    return text;
}

static bp_site_route *reload_find(const bp_site *s, const char *name)
{
    for (size_t i = 0; i < s->n_routes; i++)
        if (strcmp(s->routes[i].name, name) == 0)
            return &s->routes[i];
    return NULL;
}

/* Appends ", name" (or "name") to a malloc'ed list. */
static void reload_list_add(char **list, const char *name)
{
    char *n = bp_strfmt("%s%s%s", *list ? *list : "", *list ? ", " : "", name);
    if (n == NULL)
        return;
    free(*list);
    *list = n;
}

/* The JSON text of a node, "" when absent. */
static char *reload_node_text(const bp_ynode *n)
{
    cJSON *j = n ? bp_ynode_to_json(n) : NULL;
    char *t = j ? cJSON_PrintUnformatted(j) : strdup("");
    cJSON_Delete(j);
    return t;
}

/* What the running owner read at its start only and a reload cannot change:
 * the state file, the site name, every other top-level setting (audit,
 * ledger, plugin_dirs, admin, ...) and the connectors that serve lookups
 * (their pools are shared by every route). A list of them, or NULL. */
static char *reload_fixed_changes(const bp_runtime *rt, const bp_site *next)
{
    const bp_site *cur = rt->site;
    char *list = NULL;
    if (strcmp(next->state_path, cur->state_path) != 0)
        reload_list_add(&list, "the state file");
    if ((next->name == NULL) != (cur->name == NULL) ||
        (next->name && strcmp(next->name, cur->name) != 0))
        reload_list_add(&list, "the site name");
    const bp_ynode *a = cur->doc ? cur->doc->root : NULL, *b = next->doc ? next->doc->root : NULL;
    for (int pass = 0; pass < 2; pass++) {
        const bp_ynode *m = pass == 0 ? a : b, *o = pass == 0 ? b : a;
        for (size_t i = 0; m && m->kind == BP_YMAP && i < m->n; i++) {
            const char *key = m->keys[i]->value;
            if (strcmp(key, "routes") == 0 || strcmp(key, "connectors") == 0 ||
                strcmp(key, "site") == 0 || strcmp(key, "state") == 0)
                continue;
            if (pass == 1 && a && bp_ymap_get(a, key))
                continue;   /* compared in the first pass */
            char *x = reload_node_text(m->items[i]);
            char *y = reload_node_text(o && o->kind == BP_YMAP ? bp_ymap_get(o, key) : NULL);
            if (x && y && strcmp(x, y) != 0) {
                char *what = bp_strfmt("'%s'", key);
                if (what)
                    reload_list_add(&list, what);
                free(what);
            }
            free(x);
            free(y);
        }
    }
    for (size_t i = 0; i < rt->n_lookups; i++) {
        const char *name = rt->lookup_insts[i] ? rt->lookup_insts[i]->connector : NULL;
        const bp_site_connector *was = name ? bp_site_find_connector(cur, name) : NULL;
        if (was == NULL)
            continue;
        const bp_site_connector *now = bp_site_find_connector(next, name);
        char *x = reload_node_text(was->node), *y = reload_node_text(now ? now->node : NULL);
        if (x && y && strcmp(x, y) != 0) {
            char *what = bp_strfmt("connector '%s' (it serves lookups)", name);
            if (what)
                reload_list_add(&list, what);
            free(what);
        }
        free(x);
        free(y);
    }
    return list;
}

/* One route that a reload restarts, adds or removes. */
typedef struct reload_change {
    char *name;
    const bp_site *old_site;      /* its running version (NULL: added) */
    bp_site_route *old_cfg;
    int paused;
    size_t slot;                  /* its place in rt->routes (old versions) */
    bp_site_route *new_cfg;       /* its new version in next (NULL: removed) */
    bp_route *fresh;              /* what runs after the reload (NULL: nothing) */
} reload_change;

/* One reload at a time: SIGHUP's watcher and the control API may ask at once. */
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;

static bp_status reload_locked(bp_runtime *rt, char **msg);

bp_status bp_runtime_reload(bp_runtime *rt, char **msg)
{
    pthread_mutex_lock(&reload_mu);
    bp_status rc = reload_locked(rt, msg);
    pthread_mutex_unlock(&reload_mu);
    return rc;
}

/* Creates what runs after the reload for every change: the new versions, or
 * (rollback) the previous ones again. Returns 0, or -1 after the first new
 * version that failed (its reason in d). Under the routes' write lock. */
static int reload_create(bp_runtime *rt, const bp_site *next, reload_change *ch, size_t n,
                         int rollback, bp_diags *d)
{
    for (size_t i = 0; i < n; i++) {
        reload_change *c = &ch[i];
        bp_site_route *cfg = rollback ? c->old_cfg : c->new_cfg;
        const bp_site *site = rollback ? c->old_site : next;
        if (cfg == NULL)
            continue;
        bp_status st = bp_route_create(rt, site, cfg, rollback, &c->fresh, d);
        if (rollback && st != BP_OK)
            bp_log(BP_LOG_ERROR, c->name,
                   "could not start again in its previous configuration: %s; it stays disabled",
                   d->n ? d->msgs[d->n - 1] : bp_status_str(st));
        if (!rollback && st != BP_OK)
            return -1;
        if (c->fresh)
            atomic_store(&c->fresh->paused, c->paused);
    }
    return 0;
}

static bp_status reload_locked(bp_runtime *rt, char **msg)
{
    *msg = NULL;
    bp_site *next = NULL;
    bp_diags d = {0}, warns = {0};
    bp_status rc;
    const char *file = rt->site->file;
    char *fixed = NULL, *restarted = NULL, *added = NULL, *removed = NULL, *unchanged = NULL;
    reload_change *ch = NULL;
    size_t n_ch = 0;
    /* 1. Validate as `backplane check` does: plugins load, options valid,
     * templates sound, one writer per file path. */
    if (bp_site_load(file, &next, &d) == BP_OK && bp_site_check(next, rt->reg, &d) == BP_OK &&
        d.n == 0)
        bp_site_check_templates(next, &d, &warns);
    if (next == NULL || d.n > 0) {
        *msg = bp_strfmt("reload refused: %s%s; keeping the running configuration",
                         d.n ? d.msgs[0] : "the site file is invalid",
                         d.n > 1 ? " (and more: run `backplane check`)" : "");
        rc = BP_ERR_INVALID;
        goto out;
    }
    if ((fixed = reload_fixed_changes(rt, next)) != NULL) {
        *msg = bp_strfmt("reload refused: changed: %s, which the owner reads at its start only "
                         "(restart `backplane run`); keeping the running configuration",
                         fixed);
        rc = BP_ERR_UNSUPPORTED;
        goto out;
    }
    /* 2. What changed. */
    ch = calloc(rt->n_routes + next->n_routes + 1, sizeof(*ch));
    if (ch == NULL) {
        rc = BP_ERR_NOMEM;
        goto out;
    }
    pthread_rwlock_rdlock(&rt->routes_lock);
    for (size_t i = 0; i < rt->n_routes; i++) {
        const bp_route *r = rt->routes[i];
        bp_site_route *now = reload_find(next, r->cfg->name);
        char *a = reload_signature(r->site, r->cfg), *b = now ? reload_signature(next, now) : NULL;
        if (now && a && b && strcmp(a, b) == 0) {
            reload_list_add(&unchanged, r->cfg->name);
        } else {
            ch[n_ch++] = (reload_change){.name = strdup(r->cfg->name), .old_site = r->site,
                                         .old_cfg = r->cfg, .new_cfg = now, .slot = i};
            reload_list_add(now ? &restarted : &removed, r->cfg->name);
        }
        free(a);
        free(b);
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    for (size_t i = 0; i < next->n_routes; i++) {
        int known = 0;
        for (size_t k = 0; k < rt->n_routes && !known; k++)
            known = strcmp(rt->routes[k]->cfg->name, next->routes[i].name) == 0;
        if (!known) {
            ch[n_ch++] = (reload_change){.name = strdup(next->routes[i].name),
                                         .new_cfg = &next->routes[i]};
            reload_list_add(&added, next->routes[i].name);
        }
    }
    if (n_ch == 0) {
        *msg = bp_strfmt("reload: no route changed; unchanged: %s",
                         unchanged ? unchanged : "(none)");
        rc = BP_OK;
        goto out;
    }
    /* 3. Apply: bp_runtime_run must not return meanwhile. */
    pthread_mutex_lock(&rt->run_mu);
    int finishing = rt->finishing;
    if (!finishing)
        rt->reloading = 1;
    pthread_mutex_unlock(&rt->run_mu);
    if (finishing) {
        *msg = bp_strfmt("reload refused: the owner is stopping");
        rc = BP_STOPPED;
        goto out;
    }
    /* Requests from outside (a decision resuming a record, a replay, a pause)
     * wait for the write lock's end, and then find the new versions. */
    pthread_rwlock_wrlock(&rt->routes_lock);
    for (size_t i = 0; i < n_ch; i++) {
        reload_change *c = &ch[i];
        if (c->old_cfg == NULL)
            continue;
        bp_route *r = rt->routes[c->slot];
        if (r->running)
            bp_log(BP_LOG_INFO, c->name, "draining for a reload (%s)",
                   c->new_cfg ? "changed" : "removed");
        bp_route_drain(r);
        c->paused = atomic_load(&r->paused);
        bp_route_free(r);
        rt->routes[c->slot] = NULL;
    }
    /* Scopes follow renames for the new versions, as at a start. */
    bp_status ss = bp_checkpoint_scopes_settle(rt->state, next, &d);
    int failed = ss != BP_OK || reload_create(rt, next, ch, n_ch, 0, &d) != 0;
    if (failed) {
        for (size_t i = 0; i < n_ch; i++) {
            bp_route_free(ch[i].fresh);
            ch[i].fresh = NULL;
        }
        bp_diags again = {0};
        reload_create(rt, next, ch, n_ch, 1, &again);
        bp_diags_free(&again);
    }
    /* The new set: in place of the old versions, the added ones at the end. */
    size_t n = 0;
    bp_route **routes = calloc(rt->n_routes + n_ch + 1, sizeof(*routes));
    for (size_t i = 0; routes && i < n_ch; i++)
        if (ch[i].old_cfg)
            rt->routes[ch[i].slot] = ch[i].fresh;
    for (size_t k = 0; routes && k < rt->n_routes; k++)
        if (rt->routes[k])
            routes[n++] = rt->routes[k];
    for (size_t i = 0; routes && i < n_ch; i++)
        if (ch[i].old_cfg == NULL && ch[i].fresh)
            routes[n++] = ch[i].fresh;
    if (routes == NULL) {
        /* Out of memory: no array for the new set. Nothing runs half-applied:
         * the new versions go and the owner stops (the drained routes had
         * acked what they finished). */
        bp_log(BP_LOG_ERROR, NULL, "reload: out of memory; stopping");
        bp_runtime_request_stop(rt);
        for (size_t i = 0; i < n_ch; i++)
            bp_route_free(ch[i].fresh);
        size_t m = 0;
        for (size_t k = 0; k < rt->n_routes; k++)
            if (rt->routes[k])
                rt->routes[m++] = rt->routes[k];
        rt->n_routes = m;
        failed = 1;
    } else {
        free(rt->routes);
        rt->routes = routes;
        rt->n_routes = n;
        for (size_t i = 0; i < n_ch; i++)
            if (ch[i].fresh && !ch[i].fresh->disabled)
                bp_route_start(ch[i].fresh);
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    pthread_mutex_lock(&rt->run_mu);
    rt->reloading = 0;
    pthread_cond_broadcast(&rt->run_cv);
    pthread_mutex_unlock(&rt->run_mu);
    if (failed) {
        *msg = bp_strfmt("reload failed: %s; the previous configuration runs again",
                         d.n ? d.msgs[0] : "a route could not be started");
        rc = BP_ERR_INVALID;
        goto out;
    }
    /* The new site stays as long as the runtime: routes point into it. */
    bp_site **keep = realloc(rt->reloaded, (rt->n_reloaded + 1) * sizeof(*keep));
    if (keep) {
        rt->reloaded = keep;
        rt->reloaded[rt->n_reloaded++] = next;
        next = NULL;
    } else {
        bp_log(BP_LOG_ERROR, NULL, "reload: out of memory keeping the new site; stopping");
        bp_runtime_request_stop(rt);
        next = NULL;   /* leaked rather than freed under running routes */
    }
    *msg = bp_strfmt("reload: %s%s%s%s%s%s%s%s%sunchanged: %s",
                     restarted ? "restarted: " : "", restarted ? restarted : "",
                     restarted ? "; " : "", added ? "added: " : "", added ? added : "",
                     added ? "; " : "", removed ? "removed: " : "", removed ? removed : "",
                     removed ? "; " : "", unchanged ? unchanged : "(none)");
    rc = BP_OK;
out:
    for (size_t i = 0; ch && i < n_ch; i++)
        free(ch[i].name);
    free(fixed);
    free(restarted);
    free(added);
    free(removed);
    free(unchanged);
    bp_diags_free(&d);
    bp_diags_free(&warns);
    bp_site_free(next);
    free(ch);
    return rc;
}

bp_status bp_runtime_checkpoint_reset(bp_runtime *rt, const char *route, const char *actor,
                                      char **scope, size_t *n_deleted)
{
    *scope = NULL;
    *n_deleted = 0;
    pthread_mutex_lock(&reload_mu);   /* a reload does not swap the route meanwhile */
    bp_status rc = BP_OK;
    pthread_mutex_lock(&rt->run_mu);
    int finishing = rt->finishing;
    if (!finishing)
        rt->reloading = 1;
    pthread_mutex_unlock(&rt->run_mu);
    if (finishing) {
        pthread_mutex_unlock(&reload_mu);
        return BP_STOPPED;
    }
    pthread_rwlock_wrlock(&rt->routes_lock);
    size_t k = 0;
    while (k < rt->n_routes && strcmp(rt->routes[k]->cfg->name, route) != 0)
        k++;
    bp_route *r = k < rt->n_routes ? rt->routes[k] : NULL;
    if (r == NULL || r->disabled) {
        rc = BP_ERR_NOT_FOUND;
    } else if (!atomic_load(&r->paused)) {
        rc = BP_ERR_FULL;
    } else {
        /* The source holds its position in memory too: it stops (what is in
         * flight settles and is acked, as on a stop), the stored positions
         * go, and a new instance starts from the configured start. */
        const bp_site *site = r->site;
        bp_site_route *cfg = r->cfg;
        bp_route_drain(r);
        bp_route_free(r);
        rc = bp_checkpoint_reset_source(rt->state, route, cfg->from.name, actor, scope,
                                        n_deleted);
        bp_diags d = {0};
        bp_route *fresh = NULL;
        if (bp_route_create(rt, site, cfg, 1, &fresh, &d) != BP_OK)
            bp_log(BP_LOG_ERROR, route, "could not start again after the reset: %s; it stays "
                                        "disabled", d.n ? d.msgs[0] : "init failed");
        bp_diags_free(&d);
        rt->routes[k] = fresh;
        if (fresh) {
            atomic_store(&fresh->paused, 1);   /* still paused until resumed */
            if (!fresh->disabled)
                bp_route_start(fresh);
        } else {
            memmove(rt->routes + k, rt->routes + k + 1, (rt->n_routes - k - 1) * sizeof(*rt->routes));
            rt->n_routes--;
        }
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    pthread_mutex_lock(&rt->run_mu);
    rt->reloading = 0;
    pthread_cond_broadcast(&rt->run_cv);
    pthread_mutex_unlock(&rt->run_mu);
    pthread_mutex_unlock(&reload_mu);
    return rc;
}
