/* Reload (SIGHUP, and the control API's POST /api/v1/reload): see runtime.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "runtime_int.h"
#include "yaml_doc.h"

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
    for (size_t i = 0; conns && i < s->n_connectors; i++) {
        const bp_site_connector *c = &s->connectors[i];
        int used = r->from.name && strcmp(r->from.name, c->name) == 0;
        used |= r->dead_letter.name && strcmp(r->dead_letter.name, c->name) == 0;
        for (size_t k = 0; !used && k < r->n_to; k++)
            used = strcmp(r->to[k].name, c->name) == 0;
        if (used)
            cJSON_AddItemToObject(conns, c->name, bp_ynode_to_json(c->node));
    }
    cJSON_AddStringToObject(sig, "state", s->state_path ? s->state_path : "");
    char *text = cJSON_PrintUnformatted(sig);
    cJSON_Delete(sig);
    return text;
}

static const bp_site_route *reload_find(const bp_site *s, const char *name)
{
    for (size_t i = 0; i < s->n_routes; i++)
        if (strcmp(s->routes[i].name, name) == 0)
            return &s->routes[i];
    return NULL;
}

/* Appends ", name" (or "name") to a malloc'ed list. */
static void reload_list_add(char **list, const char *name)
{
    char *n = NULL;
    if (asprintf(&n, "%s%s%s", *list ? *list : "", *list ? ", " : "", name) < 0)
        return;
    free(*list);
    *list = n;
}

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

static bp_status reload_locked(bp_runtime *rt, char **msg)
{
    *msg = NULL;
    bp_site *next = NULL;
    bp_diags d = {0};
    bp_status rc;
    const char *file = rt->site->file;
    if (bp_site_load(file, &next, &d) != BP_OK || bp_site_check(next, rt->reg, &d) != BP_OK ||
        d.n > 0) {
        if (asprintf(msg, "reload refused: %s%s; keeping the running configuration",
                     d.n ? d.msgs[0] : "the site file is invalid",
                     d.n > 1 ? " (and more: run `backplane check`)" : "") < 0)
            *msg = NULL;
        rc = BP_ERR_INVALID;
        goto out;
    }
    char *changed = NULL, *unchanged = NULL;
    if (strcmp(next->state_path, rt->site->state_path) != 0)
        reload_list_add(&changed, "(the state file)");
    if (next->name && rt->site->name && strcmp(next->name, rt->site->name) != 0)
        reload_list_add(&changed, "(the site name)");
    for (size_t i = 0; i < rt->site->n_routes; i++) {
        const bp_site_route *old = &rt->site->routes[i];
        const bp_site_route *now = reload_find(next, old->name);
        char *a = reload_signature(rt->site, old), *b = now ? reload_signature(next, now) : NULL;
        if (now && a && b && strcmp(a, b) == 0)
            reload_list_add(&unchanged, old->name);
        else
            reload_list_add(&changed, old->name);
        free(a);
        free(b);
    }
    for (size_t i = 0; i < next->n_routes; i++)
        if (reload_find(rt->site, next->routes[i].name) == NULL)
            reload_list_add(&changed, next->routes[i].name);
    if (changed == NULL) {
        if (asprintf(msg, "reload: no route changed; unchanged: %s",
                     unchanged ? unchanged : "(none)") < 0)
            *msg = NULL;
        rc = BP_OK;
    } else {
        /* Draining one route and starting its replacement while the others
         * run needs the pipeline to start and stop routes one by one, which
         * it cannot yet: refuse rather than half-apply. */
        if (asprintf(msg,
                     "reload refused: changed: %s; restarting single routes in a running "
                     "owner is not supported yet (stop and start `backplane run`); keeping "
                     "the running configuration",
                     changed) < 0)
            *msg = NULL;
        rc = BP_ERR_UNSUPPORTED;
    }
    free(changed);
    free(unchanged);
out:
    bp_diags_free(&d);
    bp_site_free(next);
    return rc;
}
