/* See runtime.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "envelope_int.h"
#include "clock.h"
#include "keyset.h"
#include "log.h"
#include "runtime.h"
#include "route_stats.h"

typedef struct rt_route {
    bp_runtime *rt;
    bp_site_route *cfg;
    bp_instance *source;
    bp_instance **transforms;   /* workers × chain: transforms[w * n_chain + t] */
    size_t n_transforms;
    size_t n_chain;             /* transforms per worker */
    int workers;
    bp_instance **sinks;
    size_t n_sinks;
    bp_instance *dlq;           /* errors.dead_letter channel, or NULL */
    pthread_mutex_t dlq_mu;     /* one dead letter at a time through it */
    bp_predicate *review_when;
    bp_metrics *metrics;
    int disabled;
    int failed;
    pthread_t thread;
    int running;
} rt_route;

typedef struct rt_lookup {
    bp_instance *inst;
} rt_lookup;

struct bp_runtime {
    bp_site *site;
    bp_registry *reg;
    bp_state *state;
    rt_route *routes;
    size_t n_routes;
    bp_instance **lookups;
    size_t n_lookups;
    atomic_int stop;
    atomic_uint_fast64_t next_ticket;
};

int bp_runtime_stopping(const bp_runtime *rt)
{
    return atomic_load(&((bp_runtime *)rt)->stop) != 0;
}

void bp_runtime_request_stop(bp_runtime *rt)
{
    atomic_store(&rt->stop, 1);
}

bp_state *bp_runtime_state_of(const bp_instance *inst)
{
    return inst->rt ? inst->rt->state : NULL;
}

bp_state *bp_runtime_state(bp_runtime *rt)
{
    return rt->state;
}

const char *bp_runtime_site_dir(const bp_runtime *rt)
{
    return rt->site ? rt->site->dir : NULL;
}

/* Sleeps up to ms, waking early when a stop is requested. Returns 0 when stopped. */
static int rt_sleep(bp_runtime *rt, int64_t ms)
{
    int64_t end = bp_mono_ms() + ms;
    while (!bp_runtime_stopping(rt)) {
        int64_t left = end - bp_mono_ms();
        if (left <= 0)
            return 1;
        struct timespec ts = {0, (long)((left < 50 ? left : 50) * 1000000L)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- instances --------------------------------------------------------- */

static bp_instance *rt_instance_new(bp_runtime *rt, const bp_plugin_lib *lib, const char *name,
                                    const char *scope, const char *connector)
{
    bp_instance *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return NULL;
    in->rt = rt;
    in->lib = lib;
    in->name = strdup(name);
    in->scope = strdup(scope);
    in->connector = connector ? strdup(connector) : NULL;
    in->metrics = bp_metrics_new();
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    if (!in->name || !in->scope || (connector && !in->connector) || !in->metrics) {
        free(in->name);
        free(in->scope);
        free(in->connector);
        bp_metrics_free(in->metrics);
        free(in);
        return NULL;
    }
    return in;
}

static void rt_instance_free(bp_instance *in)
{
    if (in == NULL)
        return;
    if (in->started && in->lib->desc.stop)
        in->lib->desc.stop(in->self);
    if (in->inited && in->lib->desc.destroy)
        in->lib->desc.destroy(in->self);
    for (size_t i = 0; i < in->n_done; i++)
        free(in->done[i].reason);
    free(in->done);
    bp_keyset_free(in->ledger_prev);
    free(in->lrows);
    free(in->lrow_seq);
    pthread_mutex_destroy(&in->mu);
    pthread_cond_destroy(&in->cv);
    bp_metrics_free(in->metrics);
    free(in->name);
    free(in->scope);
    free(in->connector);
    free(in);
}

/* Runs init and start; on failure reports one line naming the plugin file. */
static bp_status rt_instance_init(bp_instance *in, const cJSON *config, const void *bound,
                                  uint32_t role, const char *what, bp_diags *d)
{
    char *err = NULL;
    const struct bp_plugin *p = &in->lib->desc;
    if (p->init == NULL && p->init_ex == NULL) {
        bp_diags_add(d, NULL, 0, 0, "%s (plugin '%s', %s): plugin has no init callback", what,
                     p->name, in->lib->path);
        return BP_ERR_UNSUPPORTED;
    }
    bp_status st = bp_site_plugin_init(in->lib, in, config, bound, role, &in->self, &err);
    if (st != BP_OK) {
        bp_diags_add(d, NULL, 0, 0, "%s (plugin '%s', %s): init failed: %s", what, p->name,
                     in->lib->path, err ? err : bp_status_str(st));
        free(err);
        return st;
    }
    in->inited = 1;
    if (p->start) {
        st = p->start(in->self, &err);
        if (st != BP_OK) {
            bp_diags_add(d, NULL, 0, 0, "%s (plugin '%s', %s): start failed: %s", what, p->name,
                         in->lib->path, err ? err : bp_status_str(st));
            free(err);
            return st;
        }
    }
    in->started = 1;
    return BP_OK;
}

static void rt_route_teardown(rt_route *r)
{
    /* Sinks stop last so a source's final flush still has somewhere to go. */
    rt_instance_free(r->source);
    r->source = NULL;
    for (size_t i = 0; i < r->n_transforms; i++)
        rt_instance_free(r->transforms[i]);
    free(r->transforms);
    r->transforms = NULL;
    for (size_t i = 0; i < r->n_sinks; i++)
        rt_instance_free(r->sinks[i]);
    free(r->sinks);
    r->sinks = NULL;
    r->n_transforms = r->n_sinks = 0;
    if (r->dlq) {
        rt_instance_free(r->dlq);
        r->dlq = NULL;
        pthread_mutex_destroy(&r->dlq_mu);
    }
}

static bp_status rt_route_init(bp_runtime *rt, rt_route *r, bp_diags *d)
{
    bp_site_route *c = r->cfg;
    char name[512], what[600];
    bp_status st;
    r->metrics = bp_metrics_new();
    if (r->metrics == NULL)
        return BP_ERR_NOMEM;
    if (c->review_when) {
        int col;
        char *msg = NULL;
        if (bp_predicate_compile(c->review_when, &r->review_when, &col, &msg) != BP_OK) {
            bp_diags_add(d, NULL, 0, 0, "route '%s': review.when: %s", c->name, msg);
            free(msg);
            return BP_ERR_INVALID;
        }
    }
    snprintf(name, sizeof(name), "%s/%s", c->name, c->from.name);
    r->source = rt_instance_new(rt, c->from.lib, name, name, c->from.name);
    if (r->source == NULL)
        return BP_ERR_NOMEM;
    snprintf(what, sizeof(what), "route '%s': source '%s'", c->name, c->from.name);
    if ((st = rt_instance_init(r->source, c->from.config, c->from.bound, BP_KIND_SOURCE, what,
                               d)) != BP_OK)
        return st;
    if (r->source->lib->desc.poll == NULL) {
        bp_diags_add(d, NULL, 0, 0, "%s: plugin has no poll callback", what);
        return BP_ERR_UNSUPPORTED;
    }
    /* One chain of transform instances per worker: an instance is only ever
     * called from one thread at a time (the plugin contract). */
    r->workers = c->workers > 0 ? c->workers : 1;
    r->n_chain = c->n_through;
    r->transforms = calloc(c->n_through ? c->n_through * (size_t)r->workers : 1,
                           sizeof(*r->transforms));
    r->sinks = calloc(c->n_to ? c->n_to : 1, sizeof(*r->sinks));
    if (r->transforms == NULL || r->sinks == NULL)
        return BP_ERR_NOMEM;
    for (size_t k = 0; k < c->n_through * (size_t)r->workers; k++) {
        size_t i = k % c->n_through, w = k / c->n_through;
        /* The workers' instances of one transform share its checkpoint scope
         * (what dedupe remembers must not depend on which worker saw it, nor
         * on the number of workers after a restart). */
        char scope[480];
        snprintf(scope, sizeof(scope), "%s/%s#%zu", c->name, c->through[i].name, i + 1);
        if (r->workers > 1)
            snprintf(name, sizeof(name), "%s@%zu", scope, w + 1);
        else
            snprintf(name, sizeof(name), "%s", scope);
        bp_instance *in = rt_instance_new(rt, c->through[i].lib, name, scope, NULL);
        if (in == NULL)
            return BP_ERR_NOMEM;
        r->transforms[r->n_transforms++] = in;
        snprintf(what, sizeof(what), "route '%s': transform '%s'", c->name, c->through[i].name);
        if ((st = rt_instance_init(in, c->through[i].config, c->through[i].bound,
                                   BP_KIND_TRANSFORM, what, d)) != BP_OK)
            return st;
        if (in->lib->desc.transform == NULL) {
            bp_diags_add(d, NULL, 0, 0, "%s: plugin has no transform callback", what);
            return BP_ERR_UNSUPPORTED;
        }
    }
    for (size_t i = 0; i < c->n_to; i++) {
        snprintf(name, sizeof(name), "%s/%s", c->name, c->to[i].name);
        bp_instance *in = rt_instance_new(rt, c->to[i].lib, name, name, c->to[i].name);
        if (in == NULL)
            return BP_ERR_NOMEM;
        r->sinks[r->n_sinks++] = in;
        snprintf(what, sizeof(what), "route '%s': sink '%s'", c->name, c->to[i].name);
        if ((st = rt_instance_init(in, c->to[i].config, c->to[i].bound, BP_KIND_SINK, what,
                                   d)) != BP_OK)
            return st;
        if (in->lib->desc.write == NULL) {
            bp_diags_add(d, NULL, 0, 0, "%s: plugin has no write callback", what);
            return BP_ERR_UNSUPPORTED;
        }
    }
    if (c->dead_letter.name) {
        snprintf(name, sizeof(name), "%s/dead_letter:%s", c->name, c->dead_letter.name);
        r->dlq = rt_instance_new(rt, c->dead_letter.lib, name, name, c->dead_letter.name);
        if (r->dlq == NULL)
            return BP_ERR_NOMEM;
        pthread_mutex_init(&r->dlq_mu, NULL);
        snprintf(what, sizeof(what), "route '%s': dead-letter channel '%s'", c->name,
                 c->dead_letter.name);
        if ((st = rt_instance_init(r->dlq, c->dead_letter.config, c->dead_letter.bound,
                                   BP_KIND_SINK, what, d)) != BP_OK)
            return st;
        if (r->dlq->lib->desc.write == NULL) {
            bp_diags_add(d, NULL, 0, 0, "%s: plugin has no write callback", what);
            return BP_ERR_UNSUPPORTED;
        }
    }
    return BP_OK;
}

bp_status bp_runtime_new(bp_site *site, bp_registry *reg, int keep_going, bp_runtime **out,
                         bp_diags *d)
{
    *out = NULL;
    bp_runtime *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return BP_ERR_NOMEM;
    rt->site = site;
    rt->reg = reg;
    atomic_init(&rt->stop, 0);
    atomic_init(&rt->next_ticket, 1);
    char *err = NULL;
    bp_status st = bp_state_open(site->state_path, site->name, &rt->state, &err);
    if (st != BP_OK) {
        bp_diags_add(d, NULL, 0, 0, "%s", err ? err : bp_status_str(st));
        free(err);
        free(rt);
        return st;
    }
    /* Before any instance reads a checkpoint: scopes follow renames (ABI 1.3). */
    if ((st = bp_checkpoint_scopes_settle(rt->state, site, d)) != BP_OK)
        return bp_runtime_free(rt), st;
    rt->routes = calloc(site->n_routes, sizeof(*rt->routes));
    rt->lookups = calloc(site->n_connectors ? site->n_connectors : 1, sizeof(*rt->lookups));
    if (rt->routes == NULL || rt->lookups == NULL) {
        bp_runtime_free(rt);
        return BP_ERR_NOMEM;
    }
    /* Lookup providers first: transforms may look up from their init. */
    int failed = 0;
    for (size_t i = 0; i < site->n_connectors; i++) {
        bp_site_connector *c = &site->connectors[i];
        if (c->lib == NULL || !(c->lib->desc.kinds & BP_KIND_LOOKUP) || c->config == NULL ||
            c->lib->desc.lookup == NULL)
            continue;
        char name[300], what[400];
        snprintf(name, sizeof(name), "lookup/%s", c->name);
        bp_instance *in = rt_instance_new(rt, c->lib, name, name, c->name);
        if (in == NULL) {
            bp_runtime_free(rt);
            return BP_ERR_NOMEM;
        }
        rt->lookups[rt->n_lookups++] = in;
        snprintf(what, sizeof(what), "lookup connector '%s'", c->name);
        if (rt_instance_init(in, c->config, c->bound, BP_KIND_LOOKUP, what, d) != BP_OK)
            failed = 1;
    }
    for (size_t i = 0; i < site->n_routes; i++) {
        rt_route *r = &rt->routes[i];
        r->rt = rt;
        r->cfg = &site->routes[i];
        rt->n_routes++;
        if (rt_route_init(rt, r, d) != BP_OK) {
            if (!keep_going) {
                failed = 1;
                continue;
            }
            bp_log(BP_LOG_ERROR, NULL, "route '%s' disabled: %s", r->cfg->name,
                   d->n ? d->msgs[d->n - 1] : "init failed");
            rt_route_teardown(r);
            r->disabled = 1;
        }
    }
    if (failed) {
        bp_runtime_free(rt);
        return BP_ERR_INVALID;
    }
    *out = rt;
    return BP_OK;
}

void bp_runtime_free(bp_runtime *rt)
{
    if (rt == NULL)
        return;
    for (size_t i = 0; i < rt->n_routes; i++) {
        rt_route_teardown(&rt->routes[i]);
        bp_predicate_free(rt->routes[i].review_when);
        bp_metrics_free(rt->routes[i].metrics);
    }
    free(rt->routes);
    for (size_t i = 0; i < rt->n_lookups; i++)
        rt_instance_free(rt->lookups[i]);
    free(rt->lookups);
    bp_state_close(rt->state);
    free(rt);
}

bp_metrics *bp_runtime_route_metrics(bp_runtime *rt, const char *route)
{
    for (size_t i = 0; i < rt->n_routes; i++)
        if (strcmp(rt->routes[i].cfg->name, route) == 0)
            return rt->routes[i].metrics;
    return NULL;
}

bp_status bp_runtime_lookup(bp_instance *inst, const char *connector, const char *query,
                            const cJSON *params, cJSON **result, char **errmsg)
{
    *result = NULL;
    if (errmsg)
        *errmsg = NULL;
    bp_runtime *rt = inst ? inst->rt : NULL;
    for (size_t i = 0; rt && i < rt->n_lookups; i++) {
        bp_instance *l = rt->lookups[i];
        if (strcmp(l->connector, connector) != 0)
            continue;
        /* One instance is called from one thread at a time (plugin contract). */
        pthread_mutex_lock(&l->mu);
        bp_status st = l->lib->desc.lookup(l->self, query, params, result, errmsg);
        pthread_mutex_unlock(&l->mu);
        return st;
    }
    if (errmsg && asprintf(errmsg, "no lookup connector named '%s'", connector) < 0)
        *errmsg = NULL;
    return BP_ERR_NOT_FOUND;
}

/* ---- the route loop ---------------------------------------------------- */

typedef struct {
    bp_envelope *env;      /* NULL once resolved (dropped, parked, dead-lettered) */
    int failed_sink;       /* a sink rejected it (already dead-lettered there) */
    uint64_t seq;          /* pipeline sequence number (UINT64_MAX: a replay) */
} rt_item;

/* The state store's dead letters (`backplane dlq`). */
static bp_status rt_dead_letter_store(rt_route *r, const char *stage, const char *reason,
                                      const bp_envelope *env, const char *raw, size_t raw_len)
{
    char *json = env ? bp_envelope_to_json(env, BP_SER_FULL) : NULL;
    if (env && json == NULL)
        return BP_ERR_NOMEM;
    bp_status st = bp_state_dead_letter(r->rt->state, r->cfg->name, stage, reason,
                                        json ? json : raw, json ? strlen(json) : raw_len);
    if (st == BP_OK) {
        bp_metrics_add(r->metrics, "dead_lettered", 1);
        bp_log(BP_LOG_WARN, r->cfg->name, "dead-lettered a record at %s: %s", stage, reason);
    }
    free(json);
    return st;
}

static struct rt_delivery *rt_dlq_delivery_alloc(void);
static bp_status rt_dl_finish(struct rt_delivery *d);
static void rt_dl_start(struct rt_delivery *d, rt_route *r, bp_instance *sink, rt_item *items,
                        size_t n, uint64_t acked);
static void rt_dl_free(struct rt_delivery *d);

/* Set while this thread delivers to a dead-letter channel: a record the
 * channel itself refuses goes to the state store instead of looping. */
static _Thread_local int rt_in_dlq;

/* The envelope a dead letter travels in on a channel: the record (or, for
 * input that never became one, its raw bytes as data) with extensions
 * dlroute, dlstage and dlreason saying where and why it failed. */
static bp_envelope *rt_dlq_envelope(rt_route *r, const char *stage, const char *reason,
                                    const bp_envelope *env, const char *raw, size_t raw_len)
{
    bp_envelope *e = env ? bp_envelope_dup(env) : bp_envelope_new();
    if (e == NULL)
        return NULL;
    int ok = 1;
    if (env == NULL) {
        char src[300];
        snprintf(src, sizeof(src), "backplane://%s/%s", r->rt->site->name, r->cfg->name);
        ok = bp_envelope_set_attr(e, "type", "com.backplane.deadletter.raw") == BP_OK &&
             bp_envelope_set_attr(e, "source", src) == BP_OK;
        if (ok && raw && bp_ce_is_utf8_text((const unsigned char *)raw, raw_len)) {
            char *t = strndup(raw, raw_len);
            ok = t && bp_envelope_set_attr(e, "datacontenttype", "text/plain") == BP_OK &&
                 bp_envelope_set0_data(e, cJSON_CreateString(t)) == BP_OK;
            free(t);
        } else if (ok && raw) {
            size_t bl = 0;
            char *b64 = bp_ce_base64_encode((const unsigned char *)raw, raw_len, &bl);
            ok = b64 && bp_envelope_set_attr(e, "datacontenttype", "application/octet-stream") ==
                            BP_OK &&
                 bp_envelope_set0_data(e, cJSON_CreateString(b64)) == BP_OK;
            if (ok)
                bp_envelope_set_data_base64(e, 1);
            free(b64);
        }
        ok = ok && bp_envelope_finalize(e, NULL) == BP_OK;
    }
    ok = ok && bp_envelope_set0_ext(e, "dlroute", cJSON_CreateString(r->cfg->name)) == BP_OK &&
         bp_envelope_set0_ext(e, "dlstage", cJSON_CreateString(stage)) == BP_OK &&
         bp_envelope_set0_ext(e, "dlreason", cJSON_CreateString(reason)) == BP_OK;
    if (!ok) {
        bp_envelope_unref(e);
        return NULL;
    }
    return e;
}

/* Dead-letters a record: through the route's dead-letter channel when it has
 * one (with the route's retries), else — or when the channel fails — into the
 * state store. Never loses the record: BP_OK means it is in one of them. */
static bp_status rt_dead_letter(rt_route *r, const char *stage, const char *reason,
                                const bp_envelope *env, const char *raw, size_t raw_len)
{
    if (rt_in_dlq && env && bp_envelope_get0_attr(env, "dlreason") &&
        bp_envelope_get0_attr(env, "dlstage")) {
        /* The channel refused a dead letter: keep the first failure's stage
         * and reason, and say why the channel did not take it. */
        char *why = NULL;
        if (asprintf(&why, "%s (dead-letter channel '%s' refused it: %s)",
                     bp_envelope_get0_attr(env, "dlreason"), r->cfg->dead_letter.name,
                     reason) < 0)
            why = NULL;
        bp_status st = rt_dead_letter_store(r, bp_envelope_get0_attr(env, "dlstage"),
                                            why ? why : reason, env, raw, raw_len);
        free(why);
        return st;
    }
    if (r->dlq == NULL || rt_in_dlq)
        return rt_dead_letter_store(r, stage, reason, env, raw, raw_len);
    bp_envelope *e = rt_dlq_envelope(r, stage, reason, env, raw, raw_len);
    if (e == NULL)
        return rt_dead_letter_store(r, stage, reason, env, raw, raw_len);
    rt_item item = {.env = e, .seq = UINT64_MAX};
    struct rt_delivery *d = rt_dlq_delivery_alloc();
    bp_status st = d ? BP_OK : BP_ERR_NOMEM;
    pthread_mutex_lock(&r->dlq_mu);
    rt_in_dlq = 1;
    if (d) {
        rt_dl_start(d, r, r->dlq, &item, 1, 0);
        st = rt_dl_finish(d);
    }
    rt_in_dlq = 0;
    pthread_mutex_unlock(&r->dlq_mu);
    free(d);
    bp_envelope_unref(e);
    if (st != BP_OK) {
        bp_log(BP_LOG_WARN, r->cfg->name,
               "dead-letter channel '%s' failed (%s): the record goes to the state store",
               r->cfg->dead_letter.name, bp_status_str(st));
        return rt_dead_letter_store(r, stage, reason, env, raw, raw_len);
    }
    if (!item.failed_sink) {   /* (a refusal was stored by the nested call) */
        bp_metrics_add(r->metrics, "dead_lettered", 1);
        bp_log(BP_LOG_WARN, r->cfg->name, "dead-lettered a record at %s to '%s': %s", stage,
               r->cfg->dead_letter.name, reason);
    }
    return BP_OK;
}

/* The lowest confidence an AI transform reported (the extension
 * "confidence", else the lineage entries'), or -1 when none did. */
static double rt_confidence(const bp_envelope *env)
{
    const cJSON *c = bp_envelope_get0_ext(env, "confidence");
    if (cJSON_IsNumber(c))
        return c->valuedouble;
    double lo = -1;
    for (size_t i = 0; i < bp_envelope_lineage_count(env); i++) {
        const bp_lineage *l = bp_envelope_get0_lineage(env, i);
        if (l->confidence >= 0 && (lo < 0 || l->confidence < lo))
            lo = l->confidence;
    }
    return lo;
}

/* Parks env for a person with what triage needs: reason, confidence, flags
 * (the "flags" extension), priority (the "priority" extension, higher first)
 * and arrival time. */
static bp_status rt_park(rt_route *r, const char *stage, const char *reason,
                         const bp_envelope *env)
{
    char *json = bp_envelope_to_json(env, BP_SER_FULL);
    if (json == NULL)
        return BP_ERR_NOMEM;
    const cJSON *flags = bp_envelope_get0_ext(env, "flags");
    const cJSON *prio = bp_envelope_get0_ext(env, "priority");
    bp_review_item it = {
        .route = (char *)r->cfg->name,
        .stage = (char *)stage,
        .reason = (char *)reason,
        .payload = json,
        .flags = cJSON_IsString(flags) && flags->valuestring[0] ? flags->valuestring : NULL,
        .subject = (char *)bp_envelope_get0_attr(env, "subject"),
        .confidence = rt_confidence(env),
        .priority = cJSON_IsNumber(prio)   ? (int64_t)prio->valuedouble
                    : cJSON_IsString(prio) ? strtoll(prio->valuestring, NULL, 10)
                                           : 0,
    };
    bp_status st = bp_state_park_review(r->rt->state, &it);
    free(json);
    if (st == BP_OK)
        bp_metrics_add(r->metrics, "parked", 1);
    return st;
}

static int64_t rt_backoff(const bp_site_route *c, int attempt)
{
    int64_t ms = c->backoff_min_ms;
    for (int i = 1; i < attempt && ms < c->backoff_max_ms; i++)
        ms *= 2;
    if (ms > c->backoff_max_ms)
        ms = c->backoff_max_ms;
    /* Full jitter on the upper half: peers recovering from an outage are not
     * hit by every route at the same instant. */
    unsigned int rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
        rnd = (unsigned int)bp_mono_ms();
    return ms / 2 + (int64_t)(rnd % (unsigned int)(ms / 2 + 1));
}

/* Runs the transform chain on one record. Returns BP_OK when it goes on to the
 * sinks (*env updated), or the status that resolved it (DROP/REVIEW/REJECT
 * after handling). A BP_ERR_IO return means the state store failed. */
/* The reasons transforms gave for their flags ("po_mismatch: total 9800.00
 * vs PO 8900.00; ..."), from data.flags entries {flag, reason} (the convention
 * of the shipped transforms), or NULL when there are none. What a reviewer
 * reads in `review list` instead of the gate's predicate. */
static char *rt_flag_reasons(const bp_envelope *env)
{
    const cJSON *flags = bp_envelope_get0_path(env, "data.flags");
    char *out = NULL;
    size_t len = 0;
    FILE *f = cJSON_IsArray(flags) ? open_memstream(&out, &len) : NULL;
    if (f == NULL)
        return NULL;
    int n = 0;
    for (const cJSON *e = flags->child; e; e = e->next) {
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(e, "flag");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(e, "reason");
        if (!cJSON_IsString(fl))
            continue;
        fprintf(f, "%s%s%s%s", n++ ? "; " : "", fl->valuestring, cJSON_IsString(re) ? ": " : "",
                cJSON_IsString(re) ? re->valuestring : "");
    }
    fclose(f);
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Runs the chain from transform `from`, then the review gate when gate is 1. */
static bp_status rt_transform(rt_route *r, int worker, size_t from, int gate, bp_envelope **env)
{
    for (size_t t = from; t < r->n_chain; t++) {
        bp_instance *in = r->transforms[(size_t)worker * r->n_chain + t];
        bp_status st;
        char *reason = NULL;
        int attempt = 0;
        for (;;) {
            free(reason);
            reason = NULL;
            st = in->lib->desc.transform(in->self, env, &reason);
            if (st != BP_RETRY || attempt >= r->cfg->retry_max)
                break;
            attempt++;
            bp_metrics_add(r->metrics, "retries", 1);
            if (!rt_sleep(r->rt, rt_backoff(r->cfg, attempt)))
                break;
        }
        if (st == BP_OK || st == BP_MODIFIED) {
            free(reason);
            continue;
        }
        bp_status rc;
        if (st == BP_DROP) {
            bp_metrics_add(r->metrics, "dropped", 1);
            rc = BP_DROP;
        } else if (st == BP_REVIEW) {
            rc = rt_park(r, in->name, reason ? reason : "transform asked for review", *env);
            rc = rc == BP_OK ? BP_REVIEW : BP_ERR_IO;
        } else {
            char *why = NULL;
            if (asprintf(&why, "%s%s%s", bp_status_str(st), reason ? ": " : "",
                         reason ? reason : "") < 0)
                why = NULL;
            if (st == BP_RETRY && bp_runtime_stopping(r->rt)) {
                free(why);
                free(reason);
                return BP_STOPPED;
            }
            rc = rt_dead_letter(r, in->name, why ? why : "transform failed", *env, NULL, 0);
            rc = rc == BP_OK ? BP_REJECT : BP_ERR_IO;
            free(why);
        }
        free(reason);
        return rc;
    }
    if (gate && r->review_when && bp_predicate_eval(r->review_when, *env)) {
        char *why = rt_flag_reasons(*env);
        if (why == NULL && asprintf(&why, "review.when: %s", r->cfg->review_when) < 0)
            why = NULL;
        bp_status rc = rt_park(r, "review", why ? why : "review.when", *env);
        free(why);
        return rc == BP_OK ? BP_REVIEW : BP_ERR_IO;
    }
    return BP_OK;
}

/* Resolves every record of a write whose result is BP_QUEUED from the sink's
 * completions (write_done). Tickets ascend within a write, so each completion
 * finds its record by binary search: O(n log n) for a batch, not O(n^2).
 * Records still queued at a stop (after a 10 s grace) get BP_STOPPED and
 * BP_STOPPED is returned; their sources are not acked. */
static bp_status rt_wait_queued(rt_route *r, bp_instance *sink, const uint64_t *tickets,
                                bp_status *results, char **reasons, size_t n, int block)
{
    size_t waiting = 0;
    for (size_t k = 0; k < n; k++)
        waiting += results[k] == BP_QUEUED;
    if (waiting == 0)
        return BP_OK;
    int64_t deadline = 0;
    bp_status rc = BP_OK;
    pthread_mutex_lock(&sink->mu);
    while (waiting > 0) {
        for (size_t i = 0; i < sink->n_done;) {
            uint64_t t = sink->done[i].ticket;
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (tickets[mid] < t)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < n && tickets[lo] == t && results[lo] == BP_QUEUED) {
                results[lo] = sink->done[i].status;
                free(reasons[lo]);
                reasons[lo] = sink->done[i].reason;
                sink->done[i] = sink->done[--sink->n_done];
                waiting--;
            } else {
                i++;   /* another write's late completion: left for no one */
            }
        }
        if (waiting == 0)
            break;
        if (!block) {
            rc = BP_AGAIN;   /* some still queued: ask again later */
            break;
        }
        /* On stop, give queued records 10 s to complete; then leave them
         * unacked (they are redelivered on restart). */
        if (bp_runtime_stopping(r->rt)) {
            if (deadline == 0) {
                deadline = bp_mono_ms() + 10000;
            } else if (bp_mono_ms() > deadline) {
                rc = BP_STOPPED;
                break;
            }
        }
        struct timespec ts = bp_deadline_in(100);
        pthread_cond_timedwait(&sink->cv, &sink->mu, &ts);
    }
    pthread_mutex_unlock(&sink->mu);
    for (size_t k = 0; rc == BP_STOPPED && k < n; k++)
        if (results[k] == BP_QUEUED)
            results[k] = BP_STOPPED;
    return rc;
}

static void rt_ledger_key_cb(const char *key, size_t len, void *ud)
{
    bp_keyset_add(ud, key, len);
}

/* "source\x1fid" of env into *buf (grown as needed); returns its length. */
static size_t rt_ledger_key(const bp_envelope *env, char **buf, size_t *cap)
{
    const char *a = bp_envelope_get0_attr(env, "source"), *b = bp_envelope_get0_attr(env, "id");
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 2 > *cap) {
        char *p = realloc(*buf, la + lb + 64);
        if (p == NULL)
            return 0;
        *buf = p;
        *cap = la + lb + 64;
    }
    memcpy(*buf, a, la);
    (*buf)[la] = '\x1f';
    memcpy(*buf + la + 1, b, lb + 1);
    return la + lb + 1;
}

/* Rows of this run whose records the source has acked: handed to the next
 * commit to delete. Returns how many were moved into forget (capacity cap). */
static size_t rt_ledger_acked_rows(bp_instance *sink, uint64_t acked, int64_t *forget, size_t cap)
{
    size_t n = 0, keep = 0;
    for (size_t i = 0; i < sink->n_lrows; i++) {
        if (sink->lrow_seq[i] < acked && n < cap) {
            forget[n++] = sink->lrows[i];
        } else {
            sink->lrows[keep] = sink->lrows[i];
            sink->lrow_seq[keep++] = sink->lrow_seq[i];
        }
    }
    sink->n_lrows = keep;
    return n;
}

static int rt_ledger_remember(bp_instance *sink, int64_t row, uint64_t max_seq)
{
    if (sink->n_lrows == sink->cap_lrows) {
        size_t cap = sink->cap_lrows ? sink->cap_lrows * 2 : 16;
        int64_t *r = realloc(sink->lrows, cap * sizeof(*r));
        if (r == NULL)
            return -1;
        sink->lrows = r;
        uint64_t *q = realloc(sink->lrow_seq, cap * sizeof(*q));
        if (q == NULL)
            return -1;
        sink->lrow_seq = q;
        sink->cap_lrows = cap;
    }
    sink->lrows[sink->n_lrows] = row;
    sink->lrow_seq[sink->n_lrows++] = max_seq;
    return 0;
}

/* One batch's delivery to one sink, possibly still in flight: the first write
 * is made by rt_dl_start, its queued results are collected as they complete
 * (rt_dl_ready), and rt_dl_finish settles them: retries, dead letters, the
 * write-back ledger. The sink thread keeps several batches in flight so that
 * an asynchronous sink (Kafka) is not limited to one round trip per batch. */
typedef struct rt_delivery {
    rt_route *r;
    bp_instance *sink;
    rt_item *items;
    size_t n, np;
    uint64_t acked;
    int ledger;
    int attempt;
    bp_status rc;
    size_t *pending;
    bp_envelope **envs;
    uint64_t *tickets;
    bp_status *results;
    char **reasons;
    unsigned char *set;
    char **last_reason;
    const bp_envelope **accepted;
    const char **acc_src, **acc_id;
    char *ckpt_key, *ckpt_value;   /* of the last write (BP_PLUGIN_LEDGER sinks) */
} rt_delivery;

static void rt_dl_free(rt_delivery *d)
{
    for (size_t i = 0; d->last_reason && i < d->n; i++)
        free(d->last_reason[i]);
    for (size_t i = 0; d->reasons && i < d->n; i++)
        free(d->reasons[i]);
    free(d->pending);
    free(d->envs);
    free(d->tickets);
    free(d->results);
    free(d->reasons);
    free(d->set);
    free(d->last_reason);
    free(d->accepted);
    free(d->acc_src);
    free(d->acc_id);
    free(d->ckpt_key);
    free(d->ckpt_value);
    memset(d, 0, sizeof(*d));
}

/* One write of the pending records (tickets, results). */
static void rt_dl_write(rt_delivery *d)
{
    bp_write_batch wb = {.envs = d->envs, .tickets = d->tickets, .results = d->results,
                         .reasons = d->reasons, .set = d->set, .n = d->np};
    for (size_t k = 0; k < d->np; k++) {
        d->envs[k] = d->items[d->pending[k]].env;
        d->tickets[k] = atomic_fetch_add(&d->r->rt->next_ticket, 1);
        d->results[k] = BP_OK;
        d->set[k] = 0;
        d->reasons[k] = NULL;
    }
    bp_status wst = d->sink->lib->desc.write(d->sink->self, &wb);
    for (size_t k = 0; k < d->np; k++) {
        if (!d->set[k])
            d->results[k] = wst;
        d->set[k] = 1;
    }
    free(d->ckpt_key);
    free(d->ckpt_value);
    d->ckpt_key = wb.ckpt_key;
    d->ckpt_value = wb.ckpt_value;
}

/* Prepares d and makes the first write. d->rc is BP_OK or the error that
 * stops the route (then rt_dl_finish only frees). */
static void rt_dl_start(rt_delivery *d, rt_route *r, bp_instance *sink, rt_item *items,
                        size_t n, uint64_t acked)
{
    size_t m = n ? n : 1;
    *d = (rt_delivery){.r = r, .sink = sink, .items = items, .n = n, .acked = acked};
    d->pending = malloc(m * sizeof(size_t));
    d->envs = calloc(m, sizeof(*d->envs));
    d->tickets = calloc(m, sizeof(*d->tickets));
    d->results = calloc(m, sizeof(*d->results));
    d->reasons = calloc(m, sizeof(*d->reasons));
    d->set = calloc(m, 1);
    d->last_reason = calloc(m, sizeof(*d->last_reason));
    d->accepted = calloc(m, sizeof(*d->accepted));
    d->acc_src = calloc(m, sizeof(*d->acc_src));
    d->acc_id = calloc(m, sizeof(*d->acc_id));
    if (!d->pending || !d->envs || !d->tickets || !d->results || !d->reasons || !d->set ||
        !d->last_reason || !d->accepted || !d->acc_src || !d->acc_id) {
        d->rc = BP_ERR_NOMEM;
        return;
    }
    d->ledger = (sink->lib->desc.flags & BP_PLUGIN_LEDGER) != 0;
    if (d->ledger && !sink->ledger_loaded) {
        /* Keys that runs before this one applied and that the source may
         * redeliver now: loaded once, looked up in memory. */
        sink->ledger_prev = bp_keyset_new();
        if (sink->ledger_prev == NULL ||
            bp_state_ledger_load(r->rt->state, sink->scope, rt_ledger_key_cb, sink->ledger_prev) !=
                BP_OK) {
            d->rc = BP_ERR_IO;
            return;
        }
        sink->ledger_loaded = 1;
        if (bp_keyset_count(sink->ledger_prev))
            bp_log(BP_LOG_INFO, sink->name,
                   "write-back ledger: %zu record(s) applied before a restart will not be "
                   "applied again", bp_keyset_count(sink->ledger_prev));
    }
    char *kbuf = NULL;
    size_t kcap = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].env == NULL)
            continue;
        if (d->ledger && bp_keyset_count(sink->ledger_prev)) {
            size_t klen = rt_ledger_key(items[i].env, &kbuf, &kcap);
            if (klen && bp_keyset_has(sink->ledger_prev, kbuf, klen)) {
                bp_metrics_add(sink->metrics, "ledger_skipped", 1);
                continue;
            }
        }
        d->pending[d->np++] = i;
    }
    free(kbuf);
    if (d->np > 0)
        rt_dl_write(d);
}

/* 1 when no record of the current write is still queued (non-blocking). */
static int rt_dl_ready(rt_delivery *d)
{
    if (d->rc != BP_OK || d->np == 0)
        return 1;
    return rt_wait_queued(d->r, d->sink, d->tickets, d->results, d->reasons, d->np, 0) == BP_OK;
}

/* Settles the results of the current write, retrying with backoff until every
 * record is accepted or dead-lettered. Returns BP_OK, BP_STOPPED when a stop
 * interrupted retries (the batch must not be acked), BP_ERR_IO when the state
 * store failed. Frees d. */
static bp_status rt_dl_finish(rt_delivery *d)
{
    rt_route *r = d->r;
    bp_instance *sink = d->sink;
    rt_item *items = d->items;
    bp_status rc = d->rc;
    if (rc != BP_OK)
        goto out;
    while (d->np > 0) {
        int attempt = d->attempt;
        size_t np = d->np;
        if (rt_wait_queued(r, sink, d->tickets, d->results, d->reasons, np, 1) != BP_OK)
            rc = BP_STOPPED;
        size_t n_acc = 0, still = 0;
        uint64_t acc_max = 0;
        for (size_t k = 0; k < np; k++) {
            bp_status res = d->results[k];
            char *reason = d->reasons[k];
            d->reasons[k] = NULL;
            size_t idx = d->pending[k];
            if (res == BP_OK) {
                d->accepted[n_acc++] = items[idx].env;
                if (items[idx].seq > acc_max)
                    acc_max = items[idx].seq;
                free(reason);
            } else if (res == BP_RETRY || res == BP_NOT_CONNECTED) {
                free(d->last_reason[idx]);
                d->last_reason[idx] = reason;
                d->pending[still++] = idx;
            } else if (res == BP_STOPPED) {
                free(reason);
            } else {
                char *why = NULL;
                if (asprintf(&why, "%s%s%s", bp_status_str(res), reason ? ": " : "",
                             reason ? reason : "") < 0)
                    why = NULL;
                bp_status dl = rt_dead_letter(r, sink->name, why ? why : "rejected",
                                              items[idx].env, NULL, 0);
                free(why);
                free(reason);
                bp_metrics_add(sink->metrics, "records_failed", 1);
                items[idx].failed_sink = 1;
                if (dl != BP_OK) {
                    rc = BP_ERR_IO;
                    goto out;
                }
            }
        }
        bp_metrics_add(sink->metrics, "records_out", n_acc);
        if (d->ledger && (n_acc > 0 || d->ckpt_key)) {
            for (size_t k = 0; k < n_acc; k++) {
                d->acc_src[k] = bp_envelope_get0_attr(d->accepted[k], "source");
                d->acc_id[k] = bp_envelope_get0_attr(d->accepted[k], "id");
            }
            int64_t forget[64], row = 0;
            size_t n_forget = rt_ledger_acked_rows(sink, d->acked, forget, 64);
            bp_status lst = bp_state_ledger_commit(r->rt->state, sink->scope, d->acc_src,
                                                   d->acc_id, n_acc, d->ckpt_key, d->ckpt_value,
                                                   forget, n_forget, &row);
            if (lst == BP_OK && row && rt_ledger_remember(sink, row, acc_max) < 0)
                lst = BP_ERR_NOMEM;
            if (lst != BP_OK) {
                bp_log(BP_LOG_ERROR, sink->name, "cannot record the write-back ledger: %s",
                       bp_status_str(lst));
                rc = BP_ERR_IO;
            }
        }
        free(d->ckpt_key);
        free(d->ckpt_value);
        d->ckpt_key = d->ckpt_value = NULL;
        d->np = np = still;
        if (rc == BP_STOPPED || rc == BP_ERR_IO)
            goto out;
        if (np == 0)
            break;
        if (attempt >= r->cfg->retry_max) {
            for (size_t k = 0; k < np; k++) {
                size_t idx = d->pending[k];
                char *why = NULL;
                if (asprintf(&why, "gave up after %d attempts: %s", attempt + 1,
                             d->last_reason[idx] ? d->last_reason[idx] : "retry") < 0)
                    why = NULL;
                bp_status dl = rt_dead_letter(r, sink->name, why ? why : "gave up",
                                              items[idx].env, NULL, 0);
                free(why);
                items[idx].failed_sink = 1;
                if (dl != BP_OK) {
                    rc = BP_ERR_IO;
                    goto out;
                }
            }
            break;
        }
        bp_metrics_add(r->metrics, "retries", np);
        bp_log(BP_LOG_WARN, sink->name, "%zu record(s) to retry (attempt %d of %d): %s", np,
               attempt + 1, r->cfg->retry_max + 1,
               d->last_reason[d->pending[0]] ? d->last_reason[d->pending[0]]
                                             : "transient failure");
        if (!rt_sleep(r->rt, rt_backoff(r->cfg, attempt + 1))) {
            rc = BP_STOPPED;
            goto out;
        }
        d->attempt = attempt + 1;
        rt_dl_write(d);
    }
out:
    rt_dl_free(d);
    return rc;
}

/* For rt_dead_letter, which comes before the type is complete. */
static struct rt_delivery *rt_dlq_delivery_alloc(void)
{
    return calloc(1, sizeof(struct rt_delivery));
}

/* Delivers items to one sink with retries, waiting for the outcome. Returns as
 * rt_dl_finish. */
static bp_status rt_deliver(rt_route *r, bp_instance *sink, rt_item *items, size_t n,
                            uint64_t acked)
{
    rt_delivery d;
    rt_dl_start(&d, r, sink, items, n, acked);
    return rt_dl_finish(&d);
}

/* 1 when an AI transform decided on env: a lineage entry with a model or a
 * confidence (what `audit: ai` logs). */
static int rt_has_ai_lineage(const bp_envelope *env)
{
    for (size_t i = 0; i < bp_envelope_lineage_count(env); i++) {
        const bp_lineage *l = bp_envelope_get0_lineage(env, i);
        if (l->model != NULL || l->confidence >= 0)
            return 1;
    }
    return 0;
}

/* Records the lineage of delivered records in the audit log (one transaction
 * per batch). Parked and dead-lettered records carry theirs in their payload. */
static bp_status rt_audit(rt_route *r, const rt_item *items, size_t n)
{
    if (r->cfg->audit == BP_AUDIT_OFF)
        return BP_OK;
    const char **src = calloc(n, sizeof(*src)), **id = calloc(n, sizeof(*id));
    const char **subj = calloc(n, sizeof(*subj));
    char **lin = calloc(n, sizeof(*lin));
    size_t with = 0;
    bp_status rc = BP_ERR_NOMEM;
    if (src && id && subj && lin) {
        for (size_t i = 0; i < n; i++) {
            if (items[i].failed_sink ||
                (r->cfg->audit == BP_AUDIT_AI && !rt_has_ai_lineage(items[i].env)))
                continue;
            src[i] = bp_envelope_get0_attr(items[i].env, "source");
            id[i] = bp_envelope_get0_attr(items[i].env, "id");
            subj[i] = bp_envelope_get0_attr(items[i].env, "subject");
            lin[i] = bp_envelope_lineage_json(items[i].env);
            with += lin[i] != NULL;
        }
        rc = with ? bp_state_audit(r->rt->state, r->cfg->name, n, src, id, subj,
                                   (const char *const *)lin, "delivered")
                  : BP_OK;
    }
    for (size_t i = 0; lin && i < n; i++)
        free(lin[i]);
    free(src);
    free(id);
    free(subj);
    free(lin);
    return rc;
}

static rt_route *rt_find_route(bp_runtime *rt, const char *route)
{
    for (size_t i = 0; i < rt->n_routes; i++)
        if (strcmp(rt->routes[i].cfg->name, route) == 0 && !rt->routes[i].disabled)
            return &rt->routes[i];
    return NULL;
}

/* Index of the transform named by stage ("route/plugin#k" or "...#k@w"),
 * 1-based, or 0 when stage names none of route's transforms. */
static size_t rt_stage_transform(const rt_route *r, const char *stage)
{
    const char *route = r->cfg->name;
    const char *hash = stage ? strrchr(stage, '#') : NULL;
    size_t rl = strlen(route);
    if (hash == NULL || strncmp(stage, route, rl) != 0 || stage[rl] != '/')
        return 0;
    long k = strtol(hash + 1, NULL, 10);
    return k >= 1 && (size_t)k <= r->n_chain ? (size_t)k : 0;
}

/* Runs env (taken) through route's transforms from `from` (with the review
 * gate when gate is 1), then to only_sink or every sink, outside the
 * pipeline. Results as bp_runtime_replay. */
static bp_status rt_resend(rt_route *r, bp_instance *only_sink, size_t from, int gate,
                           bp_envelope *env)
{
    bp_status st = BP_OK;
    if (only_sink == NULL)
        st = rt_transform(r, 0, from, gate, &env);
    if (st != BP_OK) {
        bp_envelope_unref(env);
        return st;
    }
    rt_item item = {.env = env, .seq = UINT64_MAX};
    double dead_before = bp_metrics_get(r->metrics, "dead_lettered");
    for (size_t s = 0; s < r->n_sinks && st == BP_OK; s++)
        if (only_sink == NULL || r->sinks[s] == only_sink)
            st = rt_deliver(r, r->sinks[s], &item, 1, 0);
    if (st == BP_OK && !item.failed_sink)
        st = rt_audit(r, &item, 1);
    bp_envelope_unref(env);
    if (st != BP_OK)
        return st == BP_STOPPED ? BP_RETRY : st;
    return bp_metrics_get(r->metrics, "dead_lettered") > dead_before ? BP_REJECT : BP_OK;
}

bp_status bp_runtime_replay(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env)
{
    rt_route *r = rt_find_route(rt, route);
    if (r == NULL) {
        bp_envelope_unref(env);
        return BP_ERR_NOT_FOUND;
    }
    /* Resume where it failed: a sink's dead letter goes to that sink alone (the
     * others have it already); a transform's resumes at that transform; one
     * from the source stage (an invalid event) runs the whole route. */
    bp_instance *only_sink = NULL;
    for (size_t i = 0; stage && i < r->n_sinks; i++)
        if (strcmp(r->sinks[i]->name, stage) == 0)
            only_sink = r->sinks[i];
    size_t k = only_sink ? 0 : rt_stage_transform(r, stage);
    return rt_resend(r, only_sink, k ? k - 1 : 0, 1, env);
}

bp_status bp_runtime_resume(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env)
{
    rt_route *r = rt_find_route(rt, route);
    if (r == NULL) {
        bp_envelope_unref(env);
        return BP_ERR_NOT_FOUND;
    }
    /* Parked by a transform: the rest of the chain runs (a later transform may
     * still park it for another reason). Parked by the gate: straight to the
     * sinks. The gate is not asked again: a person has decided. */
    size_t k = rt_stage_transform(r, stage);
    return rt_resend(r, NULL, k ? k : r->n_chain, 0, env);
}

/* ---- the pipeline -------------------------------------------------------
 *
 *   source thread ──▶ worker queue(s) ──▶ transform workers ──▶ sink queue ──▶ sink thread
 *        ▲                                                                        │
 *        └──────────── ack, in source order, of the done prefix ◀─────────────────┘
 *
 * Every record gets a sequence number when polled. The in-flight window
 * (sequence numbers polled but not yet acked) is bounded: the source thread
 * polls only when the window has room, so a slow sink stops polling
 * (backpressure) and memory stays flat. Records are marked done when
 * delivered, dropped, parked or dead-lettered; the source thread acks the
 * contiguous done prefix, so an offset is never committed past a record that
 * is still in flight. With an order_key, records with equal keys go to the
 * same worker and keep their order; with one worker, all records do. */

typedef struct rt_rec {
    bp_envelope *env;          /* NULL for invalid input */
    uint64_t seq;
    char *reason;              /* invalid input: why */
    char *raw;
    size_t raw_len;
} rt_rec;

/* A bounded FIFO of records between two stages. */
typedef struct rt_queue {
    rt_rec **items;
    size_t cap, head, n;
    int closed;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} rt_queue;

static int rt_queue_init(rt_queue *q, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->items = calloc(cap, sizeof(*q->items));
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q->items != NULL;
}

static void rt_queue_destroy(rt_queue *q)
{
    free(q->items);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

/* Pushes n records in order with one lock and one wakeup (per record, the
 * wakeups of the next stage were a visible share of a relay's CPU). Blocks
 * while the queue is full. */
static void rt_queue_push_many(rt_queue *q, rt_rec **recs, size_t n)
{
    size_t i = 0;
    pthread_mutex_lock(&q->mu);
    while (i < n) {
        while (q->n == q->cap)
            pthread_cond_wait(&q->not_full, &q->mu);
        while (i < n && q->n < q->cap) {
            q->items[(q->head + q->n) % q->cap] = recs[i++];
            q->n++;
        }
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
}

/* Pops up to max records, waiting for at least one; then, for up to
 * linger_ms, for max (a sink write, with its fsync and ledger commit, is worth
 * filling). 0 when closed and empty. */
/* Takes up to max records. Waits for the first up to wait_ms (-1: until one
 * comes or the queue is closed), then lingers up to linger_ms for more. 0 when
 * nothing came (see rt_queue_drained). */
static size_t rt_queue_pop(rt_queue *q, rt_rec **out, size_t max, int linger_ms, int wait_ms)
{
    size_t got = 0;
    pthread_mutex_lock(&q->mu);
    if (wait_ms < 0) {
        while (q->n == 0 && !q->closed)
            pthread_cond_wait(&q->not_empty, &q->mu);
    } else if (q->n == 0 && !q->closed) {
        struct timespec until = bp_deadline_in(wait_ms);
        while (q->n == 0 && !q->closed &&
               pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == 0) {
        }
    }
    if (linger_ms > 0 && q->n < max && !q->closed) {
        struct timespec until = bp_deadline_in(linger_ms);
        while (q->n < max && q->n < q->cap && !q->closed &&
               pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == 0) {
        }
    }
    while (got < max && q->n > 0) {
        out[got++] = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return got;
}

/* 1 when the queue is closed and empty: nothing more will come. */
static int rt_queue_drained(rt_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int d = q->closed && q->n == 0;
    pthread_mutex_unlock(&q->mu);
    return d;
}

static void rt_queue_close(rt_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

typedef struct rt_pipe {
    rt_route *r;
    rt_queue *wq;              /* one queue per worker */
    rt_queue sq;               /* to the sink thread */
    size_t window;             /* max records in flight */
    uint64_t *tokens;          /* window ring: source token of each seq */
    unsigned char *done;       /* window ring: the record's bp_fate once resolved, else 0 */
    uint64_t next_seq;         /* next sequence number to hand out */
    uint64_t acked_seq;        /* everything below is acked */
    uint64_t durable_seq;      /* everything below is acked durably (see plugin.h ack) */
    size_t flights;            /* batches the sink thread keeps in flight */
    rt_rec **spent;            /* settled records for the source thread to free */
    size_t n_spent, cap_spent;
    pthread_mutex_t mu;        /* guards done[] */
    pthread_cond_t progress;   /* a record was resolved */
    atomic_int workers_left;
    atomic_int broken;         /* a stage failed: stop, ack nothing more */
    int batch;
} rt_pipe;

static void rt_rec_free(rt_rec *rec)
{
    if (rec == NULL)
        return;
    bp_envelope_unref(rec->env);
    free(rec->reason);
    free(rec->raw);
    free(rec);
}

/* Marks a record resolved with its fate (a bp_fate, never 0). */
static void rt_pipe_done(rt_pipe *p, uint64_t seq, bp_fate fate)
{
    pthread_mutex_lock(&p->mu);
    p->done[seq % p->window] = (unsigned char)fate;
    pthread_cond_signal(&p->progress);
    pthread_mutex_unlock(&p->mu);
}

static void rt_pipe_fail(rt_pipe *p, const char *why)
{
    if (atomic_exchange(&p->broken, 1) == 0)
        bp_log(BP_LOG_ERROR, p->r->cfg->name,
               "route stopped: %s (records in flight were not acked and will be redelivered)",
               why);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->progress);
    pthread_mutex_unlock(&p->mu);
}

/* Acks the contiguous done prefix (source thread only), and advances the
 * durable point by what the source says of its commits. */
static void rt_pipe_ack(rt_pipe *p)
{
    const struct bp_plugin *src = &p->r->source->lib->desc;
    uint64_t tokens[1024];
    unsigned char fates[1024];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&p->mu);
        uint64_t before = p->acked_seq;
        while (n < 1024 && p->acked_seq + n < p->next_seq &&
               p->done[(p->acked_seq + n) % p->window]) {
            tokens[n] = p->tokens[(p->acked_seq + n) % p->window];
            fates[n] = p->done[(p->acked_seq + n) % p->window];
            n++;
        }
        pthread_mutex_unlock(&p->mu);
        /* Even after a failure the done prefix is safe to ack: every record in
         * it was delivered, parked or dead-lettered. */
        if (n == 0)
            return;
        bp_status st = BP_OK;
        if (src->ack_fates || src->ack) {
            st = src->ack_fates ? src->ack_fates(p->r->source->self, tokens, fates, n)
                                : src->ack(p->r->source->self, tokens, n);
            if (st != BP_OK && st != BP_QUEUED && st != BP_AGAIN)
                bp_log(BP_LOG_ERROR, p->r->source->name,
                       "ack failed: %s (records will be redelivered after a restart)",
                       bp_status_str(st));
        }
        pthread_mutex_lock(&p->mu);
        for (size_t i = 0; i < n; i++)
            p->done[(p->acked_seq + i) % p->window] = 0;
        p->acked_seq += n;
        if (st == BP_OK)
            p->durable_seq = p->acked_seq;
        else if (st == BP_QUEUED)
            p->durable_seq = before;
        pthread_mutex_unlock(&p->mu);
    }
}

typedef struct {
    rt_pipe *p;
    int w;
} rt_worker_arg;

/* Names the calling thread "bp/ROUTE/ROLE" (15 bytes max) for top -H and perf. */
static void rt_name_thread(const char *route, const char *role)
{
    char name[16];
    size_t n = strnlen(route, 6), m = strnlen(role, sizeof(name) - 2 - n);
    memcpy(name, route, n);
    name[n] = '/';
    memcpy(name + n + 1, role, m);
    name[n + 1 + m] = '\0';
    pthread_setname_np(pthread_self(), name);
}

/* ---- counters out of the process (route_stats.c) ---- core3-report ---- */

static bp_route_parts rt_parts(rt_route *r)
{
    return (bp_route_parts){.route = r->cfg->name, .metrics = r->metrics, .source = r->source,
                            .transforms = r->transforms, .n_chain = r->n_chain,
                            .workers = r->workers, .sinks = r->sinks, .n_sinks = r->n_sinks,
                            .dlq = r->dlq, .lookups = r->rt->lookups,
                            .n_lookups = r->rt->n_lookups};
}

static void rt_count_flags(rt_route *r, const bp_envelope *env)
{
    bp_route_stats_count_flags(r->metrics, r->cfg->name, env);
}

static void rt_stats_flush(rt_route *r)
{
    bp_route_parts parts = rt_parts(r);
    bp_route_stats_flush(r->rt->state, &parts);
}

/* ---- end core3-report ---- */

static void *rt_worker_main(void *arg)
{
    rt_worker_arg *wa = arg;
    rt_pipe *p = wa->p;
    rt_route *r = p->r;
    char role[8] = {'w', (char)('1' + wa->w % 9), '\0'};
    rt_name_thread(r->cfg->name, role);
    rt_rec *recs[64], *fwd[64];
    size_t n;
    while ((n = rt_queue_pop(&p->wq[wa->w], recs, 64, 0, -1)) > 0) {
        size_t n_fwd = 0;
        for (size_t i = 0; i < n; i++) {
            rt_rec *rec = recs[i];
            if (atomic_load(&p->broken)) {
                rt_rec_free(rec);
                continue;
            }
            /* Deferred data (a source's JSON text) is parsed here, off the
             * source's thread; text that is not JSON is dead-lettered whole. */
            char *perr = NULL;
            if (bp_envelope_materialize(rec->env, &perr) != BP_OK) {
                size_t rlen = 0;
                const char *raw = bp_envelope_get0_raw_data(rec->env, &rlen);
                bp_status dl = rt_dead_letter(r, r->source->name, perr ? perr : "invalid JSON",
                                              NULL, raw, rlen);
                free(perr);
                uint64_t seq = rec->seq;
                rt_rec_free(rec);
                if (dl != BP_OK)
                    rt_pipe_fail(p, "the state store failed");
                else
                    rt_pipe_done(p, seq, BP_FATE_DEAD_LETTERED);
                continue;
            }
            bp_status st = rt_transform(r, wa->w, 0, 1, &rec->env);
            if (rec->env)
                rt_count_flags(r, rec->env);
            if (st == BP_OK) {
                fwd[n_fwd++] = rec;
                continue;
            }
            uint64_t seq = rec->seq;
            rt_rec_free(rec);
            if (st == BP_ERR_IO || st == BP_STOPPED)
                rt_pipe_fail(p, st == BP_ERR_IO ? "the state store failed" : "stopped");
            else
                rt_pipe_done(p, seq, st == BP_DROP     ? BP_FATE_DROPPED
                                     : st == BP_REVIEW ? BP_FATE_PARKED
                                                       : BP_FATE_DEAD_LETTERED);
        }
        rt_queue_push_many(&p->sq, fwd, n_fwd);
    }
    if (atomic_fetch_sub(&p->workers_left, 1) == 1)
        rt_queue_close(&p->sq);
    return NULL;
}

/* Batches the sink thread has written and not yet settled (see rt_delivery):
 * up to 4, or 12 when a sink declares BP_PLUGIN_ASYNC (its round trips, not
 * the CPU, would set the pace). */
enum { RT_FLIGHTS = 12, RT_FLIGHTS_SYNC = 4 };
typedef struct rt_flight {
    rt_rec **recs;
    rt_item *items;
    size_t n;
    rt_delivery *dl;           /* one per sink */
} rt_flight;

/* Settles the oldest flight: waits for its queued results, retries, then marks
 * its records done (the source thread acks them in order). */
static void rt_flight_settle(rt_pipe *p, rt_flight *f)
{
    rt_route *r = p->r;
    bp_status rc = BP_OK;
    for (size_t s = 0; s < r->n_sinks; s++) {
        bp_status st = atomic_load(&p->broken) ? BP_STOPPED : rt_dl_finish(&f->dl[s]);
        if (st != BP_OK && rc == BP_OK)
            rc = st;
    }
    if (atomic_load(&p->broken)) {
        /* not acked: redelivered after a restart */
    } else if (rc != BP_OK) {
        rt_pipe_fail(p, rc == BP_STOPPED ? "stopped during retries" : bp_status_str(rc));
    } else if (rt_audit(r, f->items, f->n) != BP_OK) {
        rt_pipe_fail(p, "the state store failed (audit log)");
    } else {
        size_t out = 0;
        pthread_mutex_lock(&p->mu);
        for (size_t i = 0; i < f->n; i++) {
            out += !f->items[i].failed_sink;
            p->done[f->recs[i]->seq % p->window] =
                f->items[i].failed_sink ? BP_FATE_DEAD_LETTERED : BP_FATE_DELIVERED;
        }
        /* The records go to the source thread to be freed (rt_pipe_reap): it
         * mostly waits for the window, while this thread is a relay's
         * busiest. */
        if (p->n_spent + f->n > p->cap_spent) {
            size_t cap = p->cap_spent ? p->cap_spent * 2 : 4096;
            while (cap < p->n_spent + f->n)
                cap *= 2;
            rt_rec **sp = realloc(p->spent, cap * sizeof(*sp));
            if (sp != NULL) {
                p->spent = sp;
                p->cap_spent = cap;
            }
        }
        if (p->n_spent + f->n <= p->cap_spent) {
            memcpy(p->spent + p->n_spent, f->recs, f->n * sizeof(*f->recs));
            p->n_spent += f->n;
            f->n = 0;
        }
        pthread_cond_signal(&p->progress);
        pthread_mutex_unlock(&p->mu);
        bp_metrics_add(r->metrics, "records_out", out);
    }
    for (size_t s = 0; s < r->n_sinks; s++)
        if (f->dl[s].r != NULL)
            rt_dl_free(&f->dl[s]);
    for (size_t i = 0; i < f->n; i++)
        rt_rec_free(f->recs[i]);
    f->n = 0;
}

/* Frees the records the sink thread has settled (source thread). */
static void rt_pipe_reap(rt_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    rt_rec **sp = p->spent;
    size_t n = p->n_spent, cap = p->cap_spent;
    p->spent = NULL;
    p->n_spent = p->cap_spent = 0;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++)
        rt_rec_free(sp[i]);
    /* Hand the array back for reuse unless the sink thread made a new one. */
    pthread_mutex_lock(&p->mu);
    if (p->spent == NULL) {
        p->spent = sp;
        p->cap_spent = cap;
        sp = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    free(sp);
}

static int rt_flight_ready(const rt_route *r, rt_flight *f)
{
    for (size_t s = 0; s < r->n_sinks; s++)
        if (!rt_dl_ready(&f->dl[s]))
            return 0;
    return 1;
}

/* The sink thread: writes each batch to every sink, keeping up to RT_FLIGHTS
 * batches in flight while asynchronous sinks complete them, and settles them
 * in order. A synchronous sink's batch is ready at once, so it is settled
 * before the next is taken. */
static void *rt_sink_main(void *arg)
{
    rt_pipe *p = arg;
    rt_route *r = p->r;
    rt_name_thread(r->cfg->name, "sink");
    size_t max = (size_t)p->batch;
    rt_flight fl[RT_FLIGHTS];
    int ok = 1;
    memset(fl, 0, sizeof(fl));
    for (int k = 0; k < RT_FLIGHTS; k++) {
        fl[k].recs = calloc(max, sizeof(*fl[k].recs));
        fl[k].items = calloc(max, sizeof(*fl[k].items));
        fl[k].dl = calloc(r->n_sinks ? r->n_sinks : 1, sizeof(*fl[k].dl));
        ok = ok && fl[k].recs && fl[k].items && fl[k].dl;
    }
    if (!ok) {
        rt_pipe_fail(p, "out of memory");
        /* Keep draining so that workers never block on a full queue. */
        rt_rec *one;
        while (rt_queue_pop(&p->sq, &one, 1, 0, -1) > 0)
            rt_rec_free(one);
        goto out;
    }
    size_t head = 0, count = 0;   /* flights in use: head .. head+count-1 */
    int ended = 0;
    while (!ended || count > 0) {
        /* Settle what is complete; the oldest flight also when all are in use
         * or the input has ended (then it waits for its results). */
        while (count > 0 && (count == p->flights || ended || rt_flight_ready(r, &fl[head]))) {
            rt_flight_settle(p, &fl[head]);
            head = (head + 1) % RT_FLIGHTS;
            count--;
        }
        if (ended)
            continue;
        rt_flight *f = &fl[(head + count) % RT_FLIGHTS];
        /* With flights out, wait only briefly for input so that their
         * completions are settled promptly. */
        size_t n = rt_queue_pop(&p->sq, f->recs, max, count > 0 ? 0 : r->cfg->linger_ms,
                                 count > 0 ? 2 : -1);
        if (n == 0) {
            ended = rt_queue_drained(&p->sq);
            continue;
        }
        if (atomic_load(&p->broken)) {
            for (size_t i = 0; i < n; i++)
                rt_rec_free(f->recs[i]);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            f->items[i] = (rt_item){.env = f->recs[i]->env, .seq = f->recs[i]->seq};
        f->n = n;
        pthread_mutex_lock(&p->mu);
        uint64_t acked = p->durable_seq;   /* ledger rows below it can go */
        pthread_mutex_unlock(&p->mu);
        for (size_t s = 0; s < r->n_sinks; s++)
            rt_dl_start(&f->dl[s], r, r->sinks[s], f->items, n, acked);
        count++;
    }
out:
    for (int k = 0; k < RT_FLIGHTS; k++) {
        free(fl[k].recs);
        free(fl[k].items);
        free(fl[k].dl);
    }
    return NULL;
}

/* Which worker a record goes to: by its order key, else round robin. */
static int rt_pick_worker(rt_route *r, const bp_envelope *env, uint64_t seq)
{
    if (r->workers == 1)
        return 0;
    if (r->cfg->order_key == NULL || env == NULL)
        return (int)(seq % (uint64_t)r->workers);
    const cJSON *v = bp_envelope_get0_path(env, r->cfg->order_key);
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    char num[64];
    const char *key = "";
    if (cJSON_IsString(v))
        key = v->valuestring;
    else if (cJSON_IsNumber(v) && snprintf(num, sizeof(num), "%.17g", v->valuedouble) > 0)
        key = num;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    return (int)(h % (uint64_t)r->workers);
}

static void *rt_route_main(void *arg)
{
    rt_route *r = arg;
    rt_name_thread(r->cfg->name, "src");
    bp_runtime *rt = r->rt;
    const struct bp_plugin *src = &r->source->lib->desc;
    size_t cap = (size_t)r->cfg->batch_size;
    rt_pipe p = {.r = r, .batch = r->cfg->batch_size};
    /* Room for a batch per worker and the sink thread's flights. More flights
     * (and so a larger window) only for asynchronous sinks: a Kafka relay
     * went from 1.0x to 1.7x kcat's rate with them, while for a synchronous
     * sink they would only add to what a rebalance or crash redelivers. */
    p.flights = RT_FLIGHTS_SYNC;
    for (size_t s = 0; s < r->n_sinks; s++)
        if (r->sinks[s]->lib->desc.flags & BP_PLUGIN_ASYNC)
            p.flights = RT_FLIGHTS;
    p.window = cap * (size_t)(r->workers + p.flights);
    bp_poll_batch b = {.src = r->source, .cap = cap};
    pthread_t *threads = calloc((size_t)r->workers + 1, sizeof(*threads));
    rt_worker_arg *wargs = calloc((size_t)r->workers, sizeof(*wargs));
    int n_threads = 0, poll_failures = 0;
    b.envs = calloc(cap, sizeof(*b.envs));
    b.tokens = calloc(cap, sizeof(*b.tokens));
    b.reasons = calloc(cap, sizeof(*b.reasons));
    b.raw = calloc(cap, sizeof(*b.raw));
    b.raw_len = calloc(cap, sizeof(*b.raw_len));
    p.tokens = calloc(p.window, sizeof(*p.tokens));
    p.done = calloc(p.window, 1);
    p.wq = calloc((size_t)r->workers, sizeof(*p.wq));
    /* A polled batch goes to the workers' queues in one push each. */
    rt_rec **pend = calloc((size_t)r->workers * cap, sizeof(*pend));
    size_t *n_pend = calloc((size_t)r->workers, sizeof(*n_pend));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.progress, NULL);
    atomic_init(&p.workers_left, r->workers);
    atomic_init(&p.broken, 0);
    int ok = threads && wargs && b.envs && b.tokens && b.reasons && b.raw && b.raw_len &&
             p.tokens && p.done && p.wq && pend && n_pend && rt_queue_init(&p.sq, p.window);
    /* Queues hold a whole window, so the source never blocks in a push: it
     * waits only for the window, where it keeps polling with no room. */
    for (int w = 0; ok && w < r->workers; w++)
        ok = rt_queue_init(&p.wq[w], p.window);
    for (int w = 0; ok && w < r->workers; w++) {
        wargs[w] = (rt_worker_arg){.p = &p, .w = w};
        ok = pthread_create(&threads[n_threads], NULL, rt_worker_main, &wargs[w]) == 0;
        n_threads += ok;
    }
    if (ok) {
        ok = pthread_create(&threads[n_threads], NULL, rt_sink_main, &p) == 0;
        n_threads += ok;
    }
    /* Ledger entries older than a day belong to records their source acked
     * long ago: nothing can redeliver them any more. */
    bp_state_ledger_prune(rt->state, bp_now_ms() - 86400000LL);
    if (!ok) {
        r->failed = 1;
        rt_pipe_fail(&p, "cannot start the route's threads");
    } else {
        bp_log(BP_LOG_INFO, r->cfg->name,
               "route started: %s -> %zu transform(s) x %d worker(s) -> %zu sink(s)",
               r->cfg->from.name, r->n_chain, r->workers, r->n_sinks);
    }
    int64_t stats_at = bp_mono_ms();
    while (ok && !bp_runtime_stopping(rt) && !atomic_load(&p.broken)) {
        rt_pipe_ack(&p);
        rt_pipe_reap(&p);
        if (bp_mono_ms() - stats_at >= 5000) {
            rt_stats_flush(r);
            stats_at = bp_mono_ms();
        }
        /* Backpressure: poll for records only when a whole batch fits in the
         * window. While waiting, call poll with no room every 200 ms: a
         * source can pause its input and keep its session alive (a Kafka
         * consumer must poll within max.poll.interval.ms). */
        pthread_mutex_lock(&p.mu);
        int idle = 0;
        while (p.next_seq - p.acked_seq + cap > p.window && !atomic_load(&p.broken) &&
               !p.done[p.acked_seq % p.window] && !idle) {
            struct timespec until = bp_deadline_in(200);
            idle = pthread_cond_timedwait(&p.progress, &p.mu, &until) != 0;
        }
        int full = p.next_seq - p.acked_seq + cap > p.window;
        pthread_mutex_unlock(&p.mu);
        if (full && idle && !bp_runtime_stopping(rt)) {
            size_t saved = b.cap;
            b.cap = 0;   /* batch_room() is 0: nothing may be pushed */
            src->poll(r->source->self, &b, 0);
            b.cap = saved;
            bp_metrics_add(r->metrics, "backpressure_waits", 1);
        }
        if (full)
            continue;   /* something completed: ack it first */
        bp_status st = src->poll(r->source->self, &b, 200);
        if (b.n == 0) {
            if (st == BP_EOF)
                break;
            if (st == BP_OK || st == BP_AGAIN) {
                poll_failures = 0;
                continue;
            }
            poll_failures++;
            bp_log(BP_LOG_WARN, r->source->name, "poll failed: %s (attempt %d)",
                   bp_status_str(st), poll_failures);
            rt_sleep(rt, rt_backoff(r->cfg, poll_failures));
            continue;
        }
        poll_failures = 0;
        bp_metrics_add(r->metrics, "records_in", b.n);
        bp_metrics_add(r->source->metrics, "records_in", b.n);
        uint64_t first = p.next_seq;
        pthread_mutex_lock(&p.mu);
        for (size_t i = 0; i < b.n; i++) {
            p.tokens[(first + i) % p.window] = b.tokens[i];
            p.done[(first + i) % p.window] = 0;
        }
        pthread_mutex_unlock(&p.mu);
        for (size_t i = 0; i < b.n; i++) {
            uint64_t seq = p.next_seq++;
            if (b.envs[i] == NULL) {
                /* Input that never became an envelope: dead-letter it here. */
                if (rt_dead_letter(r, r->source->name, b.reasons[i], NULL, b.raw[i],
                                   b.raw_len[i]) != BP_OK)
                    rt_pipe_fail(&p, "the state store failed");
                else
                    rt_pipe_done(&p, seq, BP_FATE_DEAD_LETTERED);
                free(b.reasons[i]);
                free(b.raw[i]);
                continue;
            }
            rt_rec *rec = calloc(1, sizeof(*rec));
            if (rec == NULL) {
                bp_envelope_unref(b.envs[i]);
                rt_pipe_fail(&p, "out of memory");
                continue;
            }
            rec->env = b.envs[i];
            rec->seq = seq;
            int w = rt_pick_worker(r, rec->env, seq);
            pend[(size_t)w * cap + n_pend[w]++] = rec;
        }
        for (int w = 0; w < r->workers; w++) {
            rt_queue_push_many(&p.wq[w], pend + (size_t)w * cap, n_pend[w]);
            n_pend[w] = 0;
        }
        b.n = 0;
        if (st == BP_EOF)
            break;
    }
    /* Drain: no more input; let the stages finish, then ack what they did. */
    for (int w = 0; p.wq && w < r->workers; w++)
        if (p.wq[w].items)
            rt_queue_close(&p.wq[w]);
    if (!ok && p.sq.items)
        rt_queue_close(&p.sq);
    for (int t = 0; t < n_threads; t++)
        pthread_join(threads[t], NULL);
    rt_pipe_ack(&p);
    rt_pipe_reap(&p);
    rt_stats_flush(r);
    /* Forget the ledger rows whose records are now acked durably, so a clean
     * stop leaves (almost) nothing for the next start to load. */
    for (size_t s = 0; s < r->n_sinks; s++) {
        bp_instance *sink = r->sinks[s];
        int64_t forget[64];
        size_t n_forget;
        while ((n_forget = rt_ledger_acked_rows(sink, p.durable_seq, forget, 64)) > 0)
            if (bp_state_ledger_commit(rt->state, sink->scope, NULL, NULL, 0, NULL, NULL, forget,
                                       n_forget, NULL) != BP_OK)
                break;
    }
    if (atomic_load(&p.broken) && !bp_runtime_stopping(rt))
        r->failed = 1;
    for (int w = 0; p.wq && w < r->workers; w++)
        if (p.wq[w].items)
            rt_queue_destroy(&p.wq[w]);
    if (p.sq.items)
        rt_queue_destroy(&p.sq);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.progress);
    free(p.wq);
    free(pend);
    free(n_pend);
    free(p.tokens);
    free(p.done);
    free(p.spent);
    free(threads);
    free(wargs);
    free(b.envs);
    free(b.tokens);
    free(b.reasons);
    free(b.raw);
    free(b.raw_len);
    /* core3-report: the plugins' counters follow the route's */
    bp_route_parts parts = rt_parts(r);
    char *plugins = bp_route_stats_summary(&parts);
    bp_log(BP_LOG_INFO, r->cfg->name,
           "route finished: %.0f in, %.0f out, %.0f dropped, %.0f parked, %.0f dead-lettered, "
           "%.0f retried%s%s",
           bp_metrics_get(r->metrics, "records_in"), bp_metrics_get(r->metrics, "records_out"),
           bp_metrics_get(r->metrics, "dropped"), bp_metrics_get(r->metrics, "parked"),
           bp_metrics_get(r->metrics, "dead_lettered"), bp_metrics_get(r->metrics, "retries"),
           plugins && *plugins ? "; " : "", plugins ? plugins : "");
    free(plugins);
    return NULL;
}

bp_status bp_runtime_run(bp_runtime *rt)
{
    bp_status rc = BP_OK;
    for (size_t i = 0; i < rt->n_routes; i++) {
        rt_route *r = &rt->routes[i];
        if (r->disabled)
            continue;
        if (pthread_create(&r->thread, NULL, rt_route_main, r) != 0) {
            bp_log(BP_LOG_ERROR, r->cfg->name, "cannot start route thread: %s", strerror(errno));
            r->failed = 1;
            bp_runtime_request_stop(rt);
            continue;
        }
        r->running = 1;
    }
    for (size_t i = 0; i < rt->n_routes; i++) {
        rt_route *r = &rt->routes[i];
        if (r->running)
            pthread_join(r->thread, NULL);
        r->running = 0;
        if (r->failed || r->disabled)
            rc = BP_ERR_INTERNAL;
    }
    return rc;
}
