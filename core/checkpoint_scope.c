/* See checkpoint_scope.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_log.h"
#include "checkpoint_scope.h"
#include "log.h"
#include "json_print.h"
#include "sha256.h"
#include "state_checkpoint.h"

typedef struct {
    bp_scope_use *uses;
    char **owned;            /* strings the uses point at */
    size_t n, cap, n_owned;
    int failed;
} cs_list;

static char *cs_keep(cs_list *l, char *s)
{
    if (s == NULL) {
        l->failed = 1;
        return NULL;
    }
    char **o = realloc(l->owned, (l->n_owned + 1) * sizeof(*o));
    if (o == NULL) {
        free(s);
        l->failed = 1;
        return NULL;
    }
    l->owned = o;
    o[l->n_owned++] = s;
    return s;
}

/* Hex SHA-256 of kind, plugin name and the options without secrets. */
static char *cs_identity(const char *kind, const bp_plugin_lib *lib, const cJSON *config)
{
    cJSON *c = config ? cJSON_Duplicate(config, 1) : cJSON_CreateObject();
    if (c == NULL)
        return NULL;
    for (const struct bp_option *o = lib->desc.options; o && o->name; o++)
        if (o->type == BP_OPT_SECRET)
            cJSON_DeleteItemFromObjectCaseSensitive(c, o->name);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bp_status st = bp_json_append(c, &buf, &len, &cap);
    cJSON_Delete(c);
    if (st != BP_OK) {
        free(buf);
        return NULL;
    }
    bp_sha256 h;
    unsigned char d[32];
    bp_sha256_init(&h);
    bp_sha256_update(&h, kind, strlen(kind) + 1);
    bp_sha256_update(&h, lib->desc.name, strlen(lib->desc.name) + 1);
    bp_sha256_update(&h, buf, len);
    int hrc = bp_sha256_final(&h, d);
    free(buf);
    char *hex = hrc == 0 ? malloc(65) : NULL;
    for (int i = 0; hex && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return hex;
}

static void cs_add(cs_list *l, char *scope, const char *kind, const bp_plugin_lib *lib,
                   const cJSON *config, char *what)
{
    scope = cs_keep(l, scope);
    what = cs_keep(l, what);
    if (lib == NULL || scope == NULL || what == NULL)
        return;
    char *id = cs_keep(l, cs_identity(kind, lib, config));
    if (id == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->uses[i].scope, scope) == 0)
            return;   /* the workers' instances of one transform share a scope */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        bp_scope_use *u = realloc(l->uses, cap * sizeof(*u));
        if (u == NULL) {
            l->failed = 1;
            return;
        }
        l->uses = u;
        l->cap = cap;
    }
    l->uses[l->n++] = (bp_scope_use){.scope = scope, .identity = id, .plugin = lib->desc.name,
                                     .kind = kind, .what = what};
}

static char *cs_fmt(const char *fmt, ...) BP_PRINTF(1, 2);
static char *cs_fmt(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

bp_status bp_checkpoint_scopes_settle(bp_state *st, const bp_site *site, bp_diags *d)
{
    cs_list l = {0};
    /* The names below are core/runtime.c's (rt_route_init, bp_runtime_new). */
    for (size_t i = 0; i < site->n_connectors; i++) {
        const bp_site_connector *c = &site->connectors[i];
        if (c->lib == NULL || !(c->lib->desc.kinds & BP_KIND_LOOKUP) || c->config == NULL ||
            c->lib->desc.lookup == NULL)
            continue;
        cs_add(&l, cs_fmt("lookup/%s", c->name), "lookup", c->lib, c->config,
               cs_fmt("lookup connector '%s'", c->name));
    }
    for (size_t r = 0; r < site->n_routes; r++) {
        const bp_site_route *c = &site->routes[r];
        cs_add(&l, cs_fmt("%s/%s", c->name, c->from.name), "source", c->from.lib,
               c->from.config, cs_fmt("route '%s': source '%s'", c->name, c->from.name));
        for (size_t t = 0; t < c->n_through; t++)
            cs_add(&l, cs_fmt("%s/%s#%zu", c->name, c->through[t].name, t + 1), "transform",
                   c->through[t].lib, c->through[t].config,
                   cs_fmt("route '%s': transform '%s' (#%zu)", c->name, c->through[t].name,
                          t + 1));
        for (size_t t = 0; t < c->n_to; t++)
            cs_add(&l, cs_fmt("%s/%s", c->name, c->to[t].name), "sink", c->to[t].lib,
                   c->to[t].config, cs_fmt("route '%s': sink '%s'", c->name, c->to[t].name));
        if (c->dead_letter.name)
            cs_add(&l, cs_fmt("%s/dead_letter:%s", c->name, c->dead_letter.name),
                   "dead_letter", c->dead_letter.lib, c->dead_letter.config,
                   cs_fmt("route '%s': dead-letter channel '%s'", c->name,
                          c->dead_letter.name));
    }
    bp_status rc = BP_ERR_NOMEM;
    if (!l.failed) {
        char *err = NULL;
        rc = bp_state_scopes_settle(st, l.uses, l.n, &err);
        if (rc != BP_OK)
            bp_diags_add(d, NULL, 0, 0, "%s", err ? err : "state store: cannot settle scopes");
        free(err);
    } else {
        bp_diags_add(d, NULL, 0, 0, "out of memory settling checkpoint scopes");
    }
    for (size_t i = 0; i < l.n_owned; i++)
        free(l.owned[i]);
    free(l.owned);
    free(l.uses);
    return rc;
}

bp_status bp_checkpoint_reset_source(bp_state *st, const char *route, const char *from,
                                     const char *actor, char **scope, size_t *n_deleted)
{
    *n_deleted = 0;
    /* The name is core/runtime.c's for a route's source (rt_route_init). */
    *scope = cs_fmt("%s/%s", route, from);
    if (*scope == NULL)
        return BP_ERR_NOMEM;
    bp_status rc = bp_state_checkpoint_delete_prefix(st, *scope, NULL, n_deleted);
    if (rc != BP_OK)
        return rc;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "scope", *scope);
    cJSON_AddNumberToObject(p, "keys_deleted", (double)*n_deleted);
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    bp_audit_entry e = {.actor = actor, .kind = "checkpoint:reset", .route = route,
                        .payload = payload};
    if (bp_audit_append(st, &e) != BP_OK)
        bp_log(BP_LOG_WARN, route, "checkpoint reset: cannot write its audit entry");
    free(payload);
    return BP_OK;
}
