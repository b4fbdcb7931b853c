/* See runtime.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope_int.h"
#include "clock.h"
#include "log.h"
#include "route_stats.h"
#include "runtime_int.h"
#include "audit_log.h"
#include "state_lease.h"
#include "state_control.h"
#include <pthread.h>
#include <unistd.h>

int bp_runtime_stopping(const bp_runtime *rt)
{
    return atomic_load(&((bp_runtime *)rt)->stop) != 0;
}

void bp_runtime_request_stop(bp_runtime *rt)
{
    /* Only an atomic store (a signal handler calls this): bp_runtime_run
     * passes the stop on to every route's own flag. */
    atomic_store(&rt->stop, 1);
}

int bp_route_stopping(const bp_route *r)
{
    return atomic_load(&((bp_route *)r)->stop) != 0 || bp_runtime_stopping(r->rt);
}

void bp_runtime_set_serve(bp_runtime *rt, int serve)
{
    pthread_mutex_lock(&rt->run_mu);
    rt->serve = serve;
    pthread_mutex_unlock(&rt->run_mu);
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

/* ---- instances --------------------------------------------------------- */

bp_instance *bp_instance_new(bp_runtime *rt, const bp_plugin_lib *lib, const char *name,
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
    pthread_mutex_init(&in->call_mu, NULL);
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

void bp_instance_free(bp_instance *in)
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
    bp_ledger_clear(&in->ledger);
    pthread_mutex_destroy(&in->mu);
    pthread_mutex_destroy(&in->call_mu);
    pthread_cond_destroy(&in->cv);
    if (!in->metrics_borrowed)
        bp_metrics_free(in->metrics);
    free(in->name);
    free(in->scope);
    free(in->connector);
    free(in);
}

/* Runs init and start; on failure reports one line naming the plugin file. */
bp_status bp_instance_init(bp_instance *in, const cJSON *config, const void *bound,
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

static void rt_route_teardown(bp_route *r)
{
    /* Sinks stop last so a source's final flush still has somewhere to go. */
    bp_instance_free(r->source);
    r->source = NULL;
    for (size_t i = 0; i < r->n_transforms; i++)
        bp_instance_free(r->transforms[i]);
    free(r->transforms);
    r->transforms = NULL;
    for (size_t i = 0; i < r->n_sinks; i++)
        bp_instance_free(r->sinks[i]);
    free(r->sinks);
    r->sinks = NULL;
    r->n_transforms = r->n_sinks = 0;
    if (r->dlq) {
        bp_instance_free(r->dlq);
        r->dlq = NULL;
        pthread_mutex_destroy(&r->dlq_mu);
    }
}

static bp_route *rt_route_alloc(bp_runtime *rt, const bp_site *site, bp_site_route *cfg)
{
    bp_route *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->rt = rt;
    r->site = site;
    r->cfg = cfg;
    bp_wakeup_init(&r->wakeup);
    atomic_init(&r->stop, 0);
    atomic_init(&r->ended, 0);
    atomic_init(&r->paused, 0);
    atomic_init(&r->pause_seen, 0);
    return r;
}

static bp_status rt_route_init(bp_runtime *rt, bp_route *r, bp_diags *d)
{
    bp_site_route *c = r->cfg;
    char name[512], what[600];
    bp_status st;
    r->retry = (bp_retry_policy){.max = c->retry_max, .min_ms = c->backoff_min_ms,
                                 .max_ms = c->backoff_max_ms};
    if (r->metrics == NULL)
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
    r->source = bp_instance_new(rt, c->from.lib, name, name, c->from.name);
    if (r->source == NULL)
        return BP_ERR_NOMEM;
    r->source->wakeup = &r->wakeup;
    r->source->route_stop = &r->stop;
    r->source->lease_epoch = &r->lease_epoch;
    snprintf(what, sizeof(what), "route '%s': source '%s'", c->name, c->from.name);
    if ((st = bp_instance_init(r->source, c->from.config, c->from.bound, BP_KIND_SOURCE, what,
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
        bp_instance *in = bp_instance_new(rt, c->through[i].lib, name, scope, NULL);
        if (in == NULL)
            return BP_ERR_NOMEM;
        r->transforms[r->n_transforms++] = in;
        in->route_stop = &r->stop;
        in->lease_epoch = &r->lease_epoch;
        snprintf(what, sizeof(what), "route '%s': transform '%s'", c->name, c->through[i].name);
        if ((st = bp_instance_init(in, c->through[i].config, c->through[i].bound,
                                   BP_KIND_TRANSFORM, what, d)) != BP_OK)
            return st;
        if (in->lib->desc.transform == NULL) {
            bp_diags_add(d, NULL, 0, 0, "%s: plugin has no transform callback", what);
            return BP_ERR_UNSUPPORTED;
        }
    }
    for (size_t i = 0; i < c->n_to; i++) {
        snprintf(name, sizeof(name), "%s/%s", c->name, c->to[i].name);
        bp_instance *in = bp_instance_new(rt, c->to[i].lib, name, name, c->to[i].name);
        if (in == NULL)
            return BP_ERR_NOMEM;
        r->sinks[r->n_sinks++] = in;
        in->route_stop = &r->stop;
        in->lease_epoch = &r->lease_epoch;
        snprintf(what, sizeof(what), "route '%s': sink '%s'", c->name, c->to[i].name);
        if ((st = bp_instance_init(in, c->to[i].config, c->to[i].bound, BP_KIND_SINK, what,
                                   d)) != BP_OK)
            return st;
        if (in->lib->desc.write == NULL) {
            bp_diags_add(d, NULL, 0, 0, "%s: plugin has no write callback", what);
            return BP_ERR_UNSUPPORTED;
        }
    }
    if (c->dead_letter.name) {
        snprintf(name, sizeof(name), "%s/dead_letter:%s", c->name, c->dead_letter.name);
        r->dlq = bp_instance_new(rt, c->dead_letter.lib, name, name, c->dead_letter.name);
        if (r->dlq == NULL)
            return BP_ERR_NOMEM;
        r->dlq->route_stop = &r->stop;
        r->dlq->lease_epoch = &r->lease_epoch;
        pthread_mutex_init(&r->dlq_mu, NULL);
        snprintf(what, sizeof(what), "route '%s': dead-letter channel '%s'", c->name,
                 c->dead_letter.name);
        if ((st = bp_instance_init(r->dlq, c->dead_letter.config, c->dead_letter.bound,
                                   BP_KIND_SINK, what, d)) != BP_OK)
            return st;
        if (r->dlq->lib->desc.write == NULL) {
            bp_diags_add(d, NULL, 0, 0, "%s: plugin has no write callback", what);
            return BP_ERR_UNSUPPORTED;
        }
    }
    return BP_OK;
}

/* ---- issue 20: leased routes ------------------------------------------------ */

static char rt_instance[256];

void bp_runtime_set_instance(const char *name)
{
    if (name && *name) {
        snprintf(rt_instance, sizeof(rt_instance), "%s", name);
        return;
    }
    char host[200] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(rt_instance, sizeof(rt_instance), "%s:%ld", host, (long)getpid());
}

const char *bp_runtime_instance(void)
{
    if (rt_instance[0] == '\0')
        bp_runtime_set_instance(NULL);
    return rt_instance;
}

/* Sources that two instances cannot read at once (DESIGN.md §10): a table
 * poll's watermark, a mailbox, a SOAP watermark, a directory. Kafka shares
 * through its consumer group and runs everywhere. */
static int rt_route_needs_lease(const bp_site *site, const bp_site_route *c)
{
    static const char *const exclusive[] = {"odbc", "imap", "maildir", "soap", "file", NULL};
    const bp_site_connector *k = bp_site_find_connector(site, c->from.name);
    for (size_t i = 0; k && k->plugin && exclusive[i]; i++)
        if (strcmp(k->plugin, exclusive[i]) == 0)
            return 1;
    return 0;
}

static int64_t rt_lease_ttl(const bp_route *r)
{
    return r->cfg->lease_ttl_ms > 0 ? r->cfg->lease_ttl_ms : r->site->lease_ttl_ms;
}

static void rt_nap(const bp_runtime *rt, int64_t ms, const atomic_int *also)
{
    while (ms > 0 && !bp_runtime_stopping(rt) && !(also && atomic_load(also))) {
        int64_t step = ms < 50 ? ms : 50;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

typedef struct {
    bp_route *r;
    atomic_int stop;
} rt_keeper;

/* Renews the route's lease every TTL/3. Gives it up (and stops the route)
 * when it was taken over, when a write was refused by its fence, or when the
 * renew deadline (the start of the last successful renewal + TTL) passes on
 * the local monotonic clock: after a pause (SIGSTOP, GC, a partition) the
 * instance trusts no renewal it could not make in time. */
static void *rt_keeper_main(void *arg)
{
    rt_keeper *k = arg;
    bp_route *r = k->r;
    bp_runtime *rt = r->rt;
    bp_name_thread(r->cfg->name, "lease");
    int64_t ttl = rt_lease_ttl(r);
    int64_t deadline = bp_mono_ms() + ttl, next = bp_mono_ms() + ttl / 3;
    const char *why = NULL;
    while (!atomic_load(&k->stop) && !bp_runtime_stopping(rt)) {
        rt_nap(rt, 50, &k->stop);
        int64_t now = bp_mono_ms();
        if (bp_state_fenced(rt->state, r->cfg->name)) {
            why = "a write of the route was refused by its fence";
            break;
        }
        if (now >= deadline) {
            why = "it was not renewed before its deadline (local monotonic clock)";
            break;
        }
        if (now < next)
            continue;
        bp_status s = bp_state_lease_renew(rt->state, r->lease_name, bp_runtime_instance(),
                                           r->lease_epoch, ttl);
        if (s == BP_OK)
            deadline = now + ttl;
        else if (s == BP_AGAIN) {
            why = "another instance took it over";
            break;
        }
        next = now + ttl / 3;
    }
    if (why) {
        atomic_store(&r->lease_lost, 1);
        bp_wakeup_signal(&r->wakeup);
        bp_log(BP_LOG_ERROR, r->cfg->name,
               "lease '%s' (epoch %lld) lost: %s; this instance stops the route", r->lease_name,
               (long long)r->lease_epoch, why);
    }
    return NULL;
}

/* A leased route's thread: standby until the lease is free, then open the
 * route's instances (the source reads its checkpoint), fence its writes with
 * the epoch, and run it while a keeper renews the lease. */
static void *rt_lease_main(void *arg)
{
    bp_route *r = arg;
    bp_runtime *rt = r->rt;
    const char *me = bp_runtime_instance();
    int64_t ttl = rt_lease_ttl(r);
    int told = 0;
    bp_name_thread(r->cfg->name, "lease");
    for (;;) {
        if (bp_route_stopping(r))
            return NULL;
        char *other = NULL;
        int64_t left = 0, epoch = 0;
        bp_status s = bp_state_lease_acquire(rt->state, r->lease_name, me, ttl, &epoch, &other,
                                             &left);
        if (s == BP_OK) {
            r->lease_epoch = epoch;
            break;
        }
        if (s == BP_AGAIN && !told) {
            bp_log(BP_LOG_INFO, r->cfg->name,
                   "standby: lease '%s' is held by %s (expires in %lld ms unless renewed)",
                   r->lease_name, other ? other : "?", (long long)left);
            told = 1;
        } else if (s != BP_AGAIN) {
            bp_log(BP_LOG_WARN, r->cfg->name, "cannot take lease '%s': the state store failed",
                   r->lease_name);
        }
        free(other);
        /* Woken when the holder's lease would expire: failover is the TTL
         * plus this check, not a multiple of the poll interval. */
        int64_t nap = left > 0 ? left + 20 : 100;
        if (nap > ttl / 3)
            nap = ttl / 3;
        rt_nap(rt, nap, &r->stop);
    }
    bp_log(BP_LOG_INFO, r->cfg->name, "lease '%s' taken (epoch %lld) by %s: this instance runs "
           "the route", r->lease_name, (long long)r->lease_epoch, me);
    bp_state_fence_set(rt->state, r->cfg->name, r->lease_name, r->lease_epoch);
    bp_diags d = {0};
    if (rt_route_init(rt, r, &d) != BP_OK) {
        for (size_t i = 0; i < d.n; i++)
            bp_log(BP_LOG_ERROR, r->cfg->name, "%s", d.msgs[i]);
        bp_diags_free(&d);
        r->failed = 1;
        bp_state_lease_release(rt->state, r->lease_name, me, r->lease_epoch);
        return NULL;
    }
    bp_diags_free(&d);
    atomic_store(&r->standby, 0);
    rt_keeper k = {.r = r};
    atomic_init(&k.stop, 0);
    pthread_t kt;
    int keeping = pthread_create(&kt, NULL, rt_keeper_main, &k) == 0;
    bp_route_main(r);
    atomic_store(&k.stop, 1);
    if (keeping)
        pthread_join(kt, NULL);
    if (!atomic_load(&r->lease_lost))
        bp_state_lease_release(rt->state, r->lease_name, me, r->lease_epoch);
    return NULL;
}

/* The instance's heartbeat row, every 2 s (`status` shows its age). */
static void *rt_heartbeat_main(void *arg)
{
    bp_runtime *rt = arg;
    char host[200] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    int64_t started = bp_now_ms();
    while (!bp_runtime_stopping(rt)) {
        bp_state_heartbeat(rt->state, bp_runtime_instance(), host, (int64_t)getpid(), started);
        rt_nap(rt, 2000, NULL);
    }
    return NULL;
}

/* A route whose source cannot be shared, on shared state: opened once this
 * instance holds its lease (issue 20), its source reading the checkpoint
 * then; until then it stands by with only its metrics. 1 when leased. */
static int rt_route_lease_prepare(bp_runtime *rt, bp_route *r)
{
    if (!bp_state_is_shared(rt->state) || !rt_route_needs_lease(r->site, r->cfg))
        return 0;
    r->leased = 1;
    atomic_store(&r->standby, 1);
    atomic_store(&r->lease_lost, 0);
    snprintf(r->lease_name, sizeof(r->lease_name), "route:%s", r->cfg->name);
    if (r->metrics == NULL)
        r->metrics = bp_metrics_new();
    return 1;
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
    pthread_rwlock_init(&rt->routes_lock, NULL);
    pthread_mutex_init(&rt->run_mu, NULL);
    pthread_cond_init(&rt->run_cv, NULL);
    char *err = NULL;
    bp_status st = bp_state_open(site->state_path, site->name, &rt->state, &err);
    if (st != BP_OK) {
        bp_diags_add(d, NULL, 0, 0, "%s", err ? err : bp_status_str(st));
        free(err);
        free(rt);
        return st;
    }
    /* issue 18: the owner signs the audit log's checkpoints (docs/audit.md).
     * keep_going (the CLI's dlq/review runtimes, `run --keep-going`): an
     * operator who cannot read the key still works; entries are appended and
     * the owner's next checkpoint covers them. */
    if (site->audit_signing_key &&
        bp_audit_set_signer(rt->state, site->name, site->audit_signing_key,
                            site->audit_checkpoint_every, site->audit_checkpoint_interval_ms,
                            &err) != BP_OK) {
        if (keep_going) {
            bp_log(BP_LOG_WARN, NULL, "%s: no audit checkpoints are signed by this process",
                   err ? err : "cannot load audit.signing_key");
            free(err);
            err = NULL;
        } else {
            bp_diags_add(d, NULL, 0, 0, "%s", err ? err : "cannot load audit.signing_key");
            free(err);
            return bp_runtime_free(rt), BP_ERR_INVALID;
        }
    }
    bp_state_set_instance(rt->state, bp_runtime_instance());
    /* Before any instance reads a checkpoint: scopes follow renames (ABI 1.3). */
    if ((st = bp_checkpoint_scopes_settle(rt->state, site, d)) != BP_OK)
        return bp_runtime_free(rt), st;
    rt->routes = calloc(site->n_routes ? site->n_routes : 1, sizeof(*rt->routes));
    if (rt->routes == NULL) {
        bp_runtime_free(rt);
        return BP_ERR_NOMEM;
    }
    /* Lookup providers first: transforms may look up from their init. */
    int failed = bp_lookups_init(rt, d) < 0;
    for (size_t i = 0; i < site->n_routes; i++) {
        bp_route *r = rt_route_alloc(rt, site, &site->routes[i]);
        if (r == NULL) {
            failed = 1;
            break;
        }
        rt->routes[rt->n_routes++] = r;
        if (rt_route_lease_prepare(rt, r)) {
            if (r->metrics == NULL)
                failed = 1;
            continue;
        }
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

void bp_route_free(bp_route *r)
{
    if (r == NULL)
        return;
    rt_route_teardown(r);
    bp_predicate_free(r->review_when);
    bp_metrics_free(r->metrics);
    bp_wakeup_destroy(&r->wakeup);
    free(r);
}

bp_status bp_route_create(bp_runtime *rt, const bp_site *site, bp_site_route *cfg,
                          int keep_disabled, bp_route **out, bp_diags *d)
{
    *out = NULL;
    bp_route *r = rt_route_alloc(rt, site, cfg);
    if (r == NULL)
        return BP_ERR_NOMEM;
    if (rt_route_lease_prepare(rt, r)) {
        if (r->metrics == NULL) {
            bp_route_free(r);
            return BP_ERR_NOMEM;
        }
        *out = r;
        return BP_OK;
    }
    bp_status st = rt_route_init(rt, r, d);
    if (st != BP_OK) {
        if (!keep_disabled) {
            bp_route_free(r);
            return st;
        }
        rt_route_teardown(r);
        r->disabled = 1;
        *out = r;
        return st;
    }
    *out = r;
    return BP_OK;
}

/* The route's thread: its pipeline, then word to bp_runtime_run. */
static void *rt_route_thread(void *arg)
{
    bp_route *r = arg;
    if (r->leased)
        rt_lease_main(r);
    else
        bp_route_main(r);
    pthread_mutex_lock(&r->rt->run_mu);
    atomic_store(&r->ended, 1);
    pthread_cond_broadcast(&r->rt->run_cv);
    pthread_mutex_unlock(&r->rt->run_mu);
    return NULL;
}

int bp_route_start(bp_route *r)
{
    atomic_store(&r->ended, 0);
    atomic_store(&r->stop, bp_runtime_stopping(r->rt));
    if (pthread_create(&r->thread, NULL, rt_route_thread, r) != 0) {
        bp_log(BP_LOG_ERROR, r->cfg->name, "cannot start route thread: %s", strerror(errno));
        r->failed = 1;
        return -1;
    }
    r->running = 1;
    return 0;
}

void bp_route_drain(bp_route *r)
{
    if (!r->running)
        return;
    atomic_store(&r->stop, 1);
    bp_wakeup_signal(&r->wakeup);
    pthread_join(r->thread, NULL);
    r->running = 0;
}

void bp_runtime_free(bp_runtime *rt)
{
    if (rt == NULL)
        return;
    for (size_t i = 0; i < rt->n_routes; i++)
        bp_route_free(rt->routes[i]);
    free(rt->routes);
    bp_lookups_free(rt);
    bp_audit_checkpoint_now(rt->state);   /* issue 18: the owner signs what it appended */
    bp_state_close(rt->state);
    for (size_t i = 0; i < rt->n_reloaded; i++)
        bp_site_free(rt->reloaded[i]);
    free(rt->reloaded);
    pthread_rwlock_destroy(&rt->routes_lock);
    pthread_mutex_destroy(&rt->run_mu);
    pthread_cond_destroy(&rt->run_cv);
    free(rt);
}

bp_metrics *bp_runtime_route_metrics(bp_runtime *rt, const char *route)
{
    for (size_t i = 0; i < rt->n_routes; i++)
        if (strcmp(rt->routes[i]->cfg->name, route) == 0)
            return rt->routes[i]->metrics;
    return NULL;
}

bp_route *bp_runtime_find_route(bp_runtime *rt, const char *route)
{
    for (size_t i = 0; i < rt->n_routes; i++)
        if (strcmp(rt->routes[i]->cfg->name, route) == 0 && !rt->routes[i]->disabled &&
            !atomic_load(&rt->routes[i]->standby))
            return rt->routes[i];
    return NULL;
}

int bp_runtime_has_route(bp_runtime *rt, const char *route)
{
    pthread_rwlock_rdlock(&rt->routes_lock);
    int has = bp_runtime_find_route(rt, route) != NULL;
    pthread_rwlock_unlock(&rt->routes_lock);
    return has;
}

bp_status bp_runtime_pause_route(bp_runtime *rt, const char *route, int pause)
{
    pthread_rwlock_rdlock(&rt->routes_lock);
    bp_route *r = bp_runtime_find_route(rt, route);
    if (r == NULL) {
        pthread_rwlock_unlock(&rt->routes_lock);
        return BP_ERR_NOT_FOUND;
    }
    atomic_store(&r->paused, pause);
    bp_wakeup_signal(&r->wakeup);
    /* Answer once no poll is in progress any more: after "paused" no record
     * comes in. */
    for (int i = 0; pause && r->running && !atomic_load(&r->ended) && i < 50 &&
                    !atomic_load(&r->pause_seen);
         i++) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    return BP_OK;
}

int bp_runtime_route_paused(bp_runtime *rt, const char *route)
{
    pthread_rwlock_rdlock(&rt->routes_lock);
    bp_route *r = bp_runtime_find_route(rt, route);
    int p = r == NULL ? -1 : atomic_load(&r->paused) != 0;
    pthread_rwlock_unlock(&rt->routes_lock);
    return p;
}

/* Whether any route still runs (its thread has not returned); passes a stop
 * of the runtime on to each route (bp_runtime_request_stop only sets a flag). */
static int rt_routes_live(bp_runtime *rt)
{
    int live = 0, stop = bp_runtime_stopping(rt);
    pthread_rwlock_rdlock(&rt->routes_lock);
    for (size_t i = 0; i < rt->n_routes; i++) {
        bp_route *r = rt->routes[i];
        if (stop && r->running && atomic_exchange(&r->stop, 1) == 0)
            bp_wakeup_signal(&r->wakeup);
        live |= r->running && !atomic_load(&r->ended);
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    return live;
}

bp_status bp_runtime_run(bp_runtime *rt)
{
    bp_status rc = BP_OK;
    pthread_t beat;
    int beating = bp_state_is_shared(rt->state) &&
                  pthread_create(&beat, NULL, rt_heartbeat_main, rt) == 0;
    pthread_rwlock_wrlock(&rt->routes_lock);
    /* A reload that came first (SIGHUP during the start) started its new
     * versions already. */
    for (size_t i = 0; i < rt->n_routes; i++)
        if (!rt->routes[i]->disabled && !rt->routes[i]->running &&
            bp_route_start(rt->routes[i]) != 0)
            bp_runtime_request_stop(rt);
    pthread_rwlock_unlock(&rt->routes_lock);
    /* Until every route has ended (or, serving, until a stop): a reload may
     * drain routes and start others meanwhile. The lock order is run_mu, then
     * routes_lock; neither is held while waiting for the other. */
    int said = 0;
    for (;;) {
        int live = rt_routes_live(rt);
        pthread_mutex_lock(&rt->run_mu);
        int stop = bp_runtime_stopping(rt);
        if (!live && !rt->reloading && (!rt->serve || stop)) {
            rt->finishing = 1;
            pthread_mutex_unlock(&rt->run_mu);
            break;
        }
        if (!live && !rt->reloading && !said && !stop) {
            bp_log(BP_LOG_INFO, NULL, "every route has ended; serving until SIGTERM (--serve)");
            said = 1;
        }
        said &= !live;
        struct timespec ts = bp_deadline_in(50);
        pthread_cond_timedwait(&rt->run_cv, &rt->run_mu, &ts);
        pthread_mutex_unlock(&rt->run_mu);
    }
    pthread_rwlock_wrlock(&rt->routes_lock);
    for (size_t i = 0; i < rt->n_routes; i++) {
        bp_route *r = rt->routes[i];
        if (r->running)
            pthread_join(r->thread, NULL);
        r->running = 0;
        if (r->failed || r->disabled)
            rc = BP_ERR_INTERNAL;
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    if (beating) {
        bp_runtime_request_stop(rt);
        pthread_join(beat, NULL);
    }
    return rc;
}
