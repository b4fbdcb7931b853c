/* A route's pipeline:
 *
 *   source thread ──▶ worker queue(s) ──▶ transform workers ──▶ sink queue ──▶ sink thread
 *        ▲                                                                        │
 *        └──────────── ack, in source order, of the done prefix ◀─────────────────┘
 *
 * The source thread polls (backpressured by the ack window, ack_window.h),
 * hands records to the workers and acks what is done; workers run the
 * transform chain (transform_chain.c); the sink thread delivers (delivery.c).
 * With an order_key, records with equal keys go to the same worker and keep
 * their order; with one worker, all records do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_int.h"
#include "clock.h"
#include "log.h"
#include "route_stats.h"
#include "runtime_int.h"
#include "audit_log.h"

void bp_rec_free(bp_rec *rec)
{
    if (rec == NULL)
        return;
    bp_envelope_unref(rec->env);
    free(rec);
}

void bp_pipe_fail(bp_pipe *p, const char *why)
{
    if (atomic_exchange(&p->broken, 1) == 0)
        bp_log(BP_LOG_ERROR, p->r->cfg->name,
               "route stopped: %s (records in flight were not acked and will be redelivered)",
               why);
    bp_ack_window_wake(&p->win);
}

void bp_name_thread(const char *route, const char *role)
{
    char name[16];
    size_t n = strnlen(route, 6), m = strnlen(role, sizeof(name) - 2 - n);
    memcpy(name, route, n);
    name[n] = '/';
    memcpy(name + n + 1, role, m);
    name[n + 1 + m] = '\0';
    pthread_setname_np(pthread_self(), name);
}

/* Acks the contiguous done prefix (source thread only), and advances the
 * durable point by what the source says of its commits. */
static void pipe_ack(bp_pipe *p)
{
    const struct bp_plugin *src = &p->r->source->lib->desc;
    uint64_t tokens[1024];
    unsigned char fates[1024];
    size_t n;
    /* Even after a failure the done prefix is safe to ack: every record in
     * it was delivered, parked or dead-lettered. */
    while ((n = bp_ack_window_take(&p->win, tokens, fates, 1024)) > 0) {
        bp_status st = BP_OK;
        if (src->ack_fates || src->ack) {
            st = src->ack_fates ? src->ack_fates(p->r->source->self, tokens, fates, n)
                                : src->ack(p->r->source->self, tokens, n);
            if (st != BP_OK && st != BP_QUEUED && st != BP_AGAIN)
                bp_log(BP_LOG_ERROR, p->r->source->name,
                       "ack failed: %s (records will be redelivered after a restart)",
                       bp_status_str(st));
        }
        bp_ack_window_acked(&p->win, n, st);
    }
}

/* Frees the records the sink thread has settled (source thread). */
static void pipe_reap(bp_pipe *p)
{
    pthread_mutex_lock(&p->spent_mu);
    bp_rec **sp = p->spent;
    size_t n = p->n_spent, cap = p->cap_spent;
    p->spent = NULL;
    p->n_spent = p->cap_spent = 0;
    pthread_mutex_unlock(&p->spent_mu);
    for (size_t i = 0; i < n; i++)
        bp_rec_free(sp[i]);
    /* Hand the array back for reuse unless the sink thread made a new one. */
    pthread_mutex_lock(&p->spent_mu);
    if (p->spent == NULL) {
        p->spent = sp;
        p->cap_spent = cap;
        sp = NULL;
    }
    pthread_mutex_unlock(&p->spent_mu);
    free(sp);
}

typedef struct {
    bp_pipe *p;
    int w;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    bp_pipe *p = wa->p;
    bp_route *r = p->r;
    char role[8] = {'w', (char)('1' + wa->w % 9), '\0'};
    bp_name_thread(r->cfg->name, role);
    bp_rec *recs[64], *fwd[64];
    size_t n;
    while ((n = bp_queue_pop(&p->wq[wa->w], (void **)recs, 64, 0, -1)) > 0) {
        size_t n_fwd = 0;
        for (size_t i = 0; i < n; i++) {
            bp_rec *rec = recs[i];
            if (atomic_load(&p->broken)) {
                bp_rec_free(rec);
                continue;
            }
            /* Deferred data (a source's JSON text) is parsed here, off the
             * source's thread; text that is not JSON is dead-lettered whole. */
            char *perr = NULL;
            int deep = 0;
            if (bp_dead_letter_if_deep(r, rec->env, &deep) != BP_OK || deep) {
                uint64_t seq = rec->seq;
                bp_rec_free(rec);
                if (!deep)
                    bp_pipe_fail(p, "the state store failed");
                else
                    bp_ack_window_done(&p->win, seq, BP_FATE_DEAD_LETTERED);
                continue;
            }
            if (bp_envelope_materialize(rec->env, &perr) != BP_OK) {
                size_t rlen = 0;
                const char *raw = bp_envelope_get0_raw_data(rec->env, &rlen);
                bp_status dl = bp_dead_letter_record(r, r->source->name, perr ? perr : "invalid JSON",
                                              NULL, raw, rlen);
                free(perr);
                uint64_t seq = rec->seq;
                bp_rec_free(rec);
                if (dl != BP_OK)
                    bp_pipe_fail(p, "the state store failed");
                else
                    bp_ack_window_done(&p->win, seq, BP_FATE_DEAD_LETTERED);
                continue;
            }
            bp_status st = bp_transform_chain(r, wa->w, 0, BP_CHAIN_GATE, &rec->env);
            if (rec->env)
                bp_route_stats_count_flags(r->metrics, r->cfg->name, rec->env);
            if (st == BP_OK) {
                fwd[n_fwd++] = rec;
                continue;
            }
            uint64_t seq = rec->seq;
            bp_rec_free(rec);
            if (st == BP_ERR_IO || st == BP_STOPPED)
                bp_pipe_fail(p, st == BP_ERR_IO ? "the state store failed" : "stopped");
            else
                bp_ack_window_done(&p->win, seq,
                                   st == BP_DROP     ? BP_FATE_DROPPED
                                   : st == BP_REVIEW ? BP_FATE_PARKED
                                                     : BP_FATE_DEAD_LETTERED);
        }
        bp_queue_push_many(&p->sq, (void *const *)fwd, n_fwd);
    }
    if (atomic_fetch_sub(&p->workers_left, 1) == 1)
        bp_queue_close(&p->sq);
    return NULL;
}

/* Which worker a record goes to: by its order key, else round robin. */
static int pick_worker(bp_route *r, const bp_envelope *env, uint64_t seq)
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

/* The route's parts that keep counters (route_stats.h), for its flushes and
 * its final log line. */
static bp_route_parts pipe_parts(bp_route *r)
{
    return (bp_route_parts){.route = r->cfg->name, .metrics = r->metrics, .source = r->source,
                            .transforms = r->transforms, .n_chain = r->n_chain,
                            .workers = r->workers, .sinks = r->sinks, .n_sinks = r->n_sinks,
                            .dlq = r->dlq, .lookups = r->rt->lookup_insts,
                            .n_lookups = r->rt->n_lookups};
}

void bp_pipeline_stats_flush(bp_route *r)
{
    bp_route_parts parts = pipe_parts(r);
    bp_route_stats_flush(r->rt->state, &parts);
}

/* How long the source thread lets poll wait for its first record; a poll
 * that says BP_AGAIN sooner is not called again before this has passed
 * (unless the plugin calls poll_wakeup): a source that cannot wait itself
 * does not make the core spin. */
enum { POLL_TIMEOUT_MS = 200 };

/* Sizes of a route's pipeline. More flights (and so a larger window) only for
 * asynchronous sinks: a Kafka relay went from 1.0x to 1.7x kcat's rate with
 * them, while for a synchronous sink they would only add to what a rebalance
 * or crash redelivers. */
enum { PIPE_FLIGHTS_ASYNC = 12, PIPE_FLIGHTS_SYNC = 4 };

/* "20ms", "5s", "5m", "2h": a backoff bound for a log line. */
static const char *pl_duration(int64_t ms, char *buf, size_t cap)
{
    if (ms % 3600000 == 0 && ms > 0)
        snprintf(buf, cap, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms > 0)
        snprintf(buf, cap, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0 && ms > 0)
        snprintf(buf, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, cap, "%lldms", (long long)ms);
    return buf;
}

/* A poll answered after the source was not connected: say so once. */
static void pl_reconnected(const bp_route *r, int64_t *nc_since)
{
    if (*nc_since == 0)
        return;
    bp_log(BP_LOG_INFO, r->source->name, "connected again after %lld ms of waiting",
           (long long)(bp_mono_ms() - *nc_since));
    *nc_since = 0;
}

void *bp_route_main(void *arg)
{
    bp_route *r = arg;
    bp_name_thread(r->cfg->name, "src");
    bp_runtime *rt = r->rt;
    const struct bp_plugin *src = &r->source->lib->desc;
    size_t cap = (size_t)r->cfg->batch_size;
    bp_pipe p = {.r = r, .batch = r->cfg->batch_size};
    /* Room for a batch per worker and the sink thread's flights. */
    p.flights = PIPE_FLIGHTS_SYNC;
    for (size_t s = 0; s < r->n_sinks; s++)
        if (r->sinks[s]->lib->desc.flags & BP_PLUGIN_ASYNC)
            p.flights = PIPE_FLIGHTS_ASYNC;
    size_t window = cap * (size_t)(r->workers + p.flights);
    bp_poll_batch b = {.src = r->source, .cap = cap};
    pthread_t *threads = calloc((size_t)r->workers + 1, sizeof(*threads));
    worker_arg *wargs = calloc((size_t)r->workers, sizeof(*wargs));
    int n_threads = 0, poll_failures = 0;
    int64_t nc_since = 0, nc_logged = 0;   /* source not connected since (monotonic ms) */
    char dur[32];
    b.envs = calloc(cap, sizeof(*b.envs));
    b.tokens = calloc(cap, sizeof(*b.tokens));
    b.reasons = calloc(cap, sizeof(*b.reasons));
    b.raw = calloc(cap, sizeof(*b.raw));
    b.raw_len = calloc(cap, sizeof(*b.raw_len));
    p.wq = calloc((size_t)r->workers, sizeof(*p.wq));
    /* A polled batch goes to the workers' queues in one push each. */
    bp_rec **pend = calloc((size_t)r->workers * cap, sizeof(*pend));
    size_t *n_pend = calloc((size_t)r->workers, sizeof(*n_pend));
    pthread_mutex_init(&p.spent_mu, NULL);
    atomic_init(&p.workers_left, r->workers);
    atomic_init(&p.broken, 0);
    int ok = bp_ack_window_init(&p.win, window);
    ok = ok && threads && wargs && b.envs && b.tokens && b.reasons && b.raw && b.raw_len &&
         p.wq && pend && n_pend && bp_queue_init(&p.sq, window);
    /* Queues hold a whole window, so the source never blocks in a push: it
     * waits only for the window, where it keeps polling with no room. */
    for (int w = 0; ok && w < r->workers; w++)
        ok = bp_queue_init(&p.wq[w], window);
    for (int w = 0; ok && w < r->workers; w++) {
        wargs[w] = (worker_arg){.p = &p, .w = w};
        ok = pthread_create(&threads[n_threads], NULL, worker_main, &wargs[w]) == 0;
        n_threads += ok;
    }
    if (ok) {
        ok = pthread_create(&threads[n_threads], NULL, bp_sink_main, &p) == 0;
        n_threads += ok;
    }
    /* Ledger rows older than ledger.retention belong to records their source
     * acked long ago: nothing can redeliver them any more. */
    bp_ledger_prune(rt->state, rt->site->ledger_retention_ms, bp_now_ms());
    if (rt->site->audit_retention_ms > 0)   /* payloads only: leaf hashes stay (issue 18) */
        bp_audit_prune(rt->state, rt->site->audit_retention_ms);
    if (!ok) {
        r->failed = 1;
        bp_pipe_fail(&p, "cannot start the route's threads");
    } else {
        bp_log(BP_LOG_INFO, r->cfg->name,
               "route started: %s -> %zu transform(s) x %d worker(s) -> %zu sink(s)",
               r->cfg->from.name, r->n_chain, r->workers, r->n_sinks);
    }
    int64_t stats_at = bp_mono_ms();
    while (ok && !bp_route_stopping(r) && !atomic_load(&p.broken) &&
           !atomic_load(&r->lease_lost)) {
        pipe_ack(&p);
        pipe_reap(&p);
        if (bp_mono_ms() - stats_at >= 5000) {
            bp_pipeline_stats_flush(r);
            stats_at = bp_mono_ms();
        }
        atomic_store(&r->pause_seen, 0);
        if (atomic_load(&r->paused)) {
            atomic_store(&r->pause_seen, 1);
            /* Paused (control API, persisted until resumed): what is in
             * flight settles; poll with no room keeps a session alive. */
            size_t saved = b.cap;
            b.cap = 0;
            src->poll(r->source->self, &b, 0);
            b.cap = saved;
            bp_wakeup_wait(&r->wakeup, 200, &r->stop);
            continue;
        }
        /* Backpressure: poll for records only when a whole batch fits in the
         * window. While waiting, call poll with no room every 200 ms: a
         * source can pause its input and keep its session alive (a Kafka
         * consumer must poll within max.poll.interval.ms). */
        enum bp_window_wait ww = bp_ack_window_wait(&p.win, cap, 200, &p.broken);
        if (ww == BP_WINDOW_IDLE && !bp_route_stopping(r)) {
            size_t saved = b.cap;
            b.cap = 0;   /* batch_room() is 0: nothing may be pushed */
            src->poll(r->source->self, &b, 0);
            b.cap = saved;
            bp_metrics_add(r->metrics, "backpressure_waits", 1);
        }
        if (ww != BP_WINDOW_ROOM)
            continue;   /* something completed: ack it first */
        int64_t polled_at = bp_mono_ms();
        bp_status st = src->poll(r->source->self, &b, POLL_TIMEOUT_MS);
        atomic_store(&r->source_down, b.n == 0 && st == BP_NOT_CONNECTED);
        if (b.n == 0) {
            if (st == BP_EOF)
                break;
            if (st == BP_OK || st == BP_AGAIN) {
                pl_reconnected(r, &nc_since);
                poll_failures = 0;
                /* Nothing now, sooner than the timeout: wait out the rest (or
                 * for poll_wakeup) instead of calling poll again at once. */
                int64_t left = POLL_TIMEOUT_MS - (bp_mono_ms() - polled_at);
                if (st == BP_AGAIN && left > 0)
                    bp_wakeup_wait(&r->wakeup, left, &r->stop);
                continue;
            }
            poll_failures++;
            if (st == BP_NOT_CONNECTED) {
                /* Not connected (server down, login or certificate refused):
                 * the route waits without spending the retry budget, as
                 * long as it takes, backing off up to the policy's maximum;
                 * said once, then once a minute. A mailbox restarted for a
                 * few minutes must not stop its route for good. */
                int64_t now = bp_mono_ms();
                if (nc_since == 0 || now - nc_logged >= 60000) {
                    if (nc_since == 0)
                        nc_since = now;
                    nc_logged = now;
                    bp_log(BP_LOG_WARN, r->source->name,
                           "not connected: waiting for the source (%s); polls are retried every "
                           "%s at most, without limit%s",
                           bp_status_str(st), pl_duration(r->retry.max_ms, dur, sizeof(dur)),
                           now > nc_since ? " (still waiting)" : "");
                }
                int f = poll_failures <= r->retry.max + 1 ? poll_failures : r->retry.max + 1;
                bp_retry_sleep(&r->stop, bp_retry_backoff_ms(&r->retry, f > 30 ? 30 : f));
                continue;
            }
            if (!bp_retry_again(&r->retry, poll_failures)) {
                char why[200];
                snprintf(why, sizeof(why),
                         "source '%s' failed %d polls in a row (%s); errors.retry.max is %d",
                         r->cfg->from.name, poll_failures, bp_status_str(st), r->retry.max);
                r->failed = 1;
                bp_pipe_fail(&p, why);
                break;
            }
            bp_log(BP_LOG_WARN, r->source->name, "poll failed: %s (attempt %d of %d)",
                   bp_status_str(st), poll_failures, r->retry.max + 1);
            bp_retry_sleep(&r->stop, bp_retry_backoff_ms(&r->retry, poll_failures));
            continue;
        }
        pl_reconnected(r, &nc_since);
        poll_failures = 0;
        bp_metrics_add(r->metrics, "records_in", b.n);
        bp_metrics_add(r->source->metrics, "records_in", b.n);
        uint64_t seq = bp_ack_window_add(&p.win, b.tokens, b.n);
        int64_t arrived = bp_now_ms();   /* one clock read per batch */
        for (size_t i = 0; i < b.n; i++, seq++) {
            if (b.envs[i] == NULL) {
                /* Input that never became an envelope: dead-letter it here. */
                if (bp_dead_letter_record(r, r->source->name, b.reasons[i], NULL, b.raw[i],
                                   b.raw_len[i]) != BP_OK)
                    bp_pipe_fail(&p, "the state store failed");
                else
                    bp_ack_window_done(&p.win, seq, BP_FATE_DEAD_LETTERED);
                free(b.reasons[i]);
                free(b.raw[i]);
                continue;
            }
            bp_rec *rec = calloc(1, sizeof(*rec));
            if (rec == NULL) {
                bp_envelope_unref(b.envs[i]);
                bp_pipe_fail(&p, "out of memory");
                continue;
            }
            rec->env = b.envs[i];
            bp_env_set_times(rec->env, arrived, 0);
            rec->seq = seq;
            int w = pick_worker(r, rec->env, seq);
            pend[(size_t)w * cap + n_pend[w]++] = rec;
        }
        for (int w = 0; w < r->workers; w++) {
            bp_queue_push_many(&p.wq[w], (void *const *)(pend + (size_t)w * cap), n_pend[w]);
            n_pend[w] = 0;
        }
        b.n = 0;
        if (st == BP_EOF)
            break;
    }
    /* Drain: no more input; let the stages finish, then ack what they did. */
    for (int w = 0; p.wq && w < r->workers; w++)
        if (p.wq[w].items)
            bp_queue_close(&p.wq[w]);
    if (!ok && p.sq.items)
        bp_queue_close(&p.sq);
    for (int t = 0; t < n_threads; t++)
        pthread_join(threads[t], NULL);
    if (p.win.tokens)
        pipe_ack(&p);
    pipe_reap(&p);
    /* Before the flush: a replay that counts after it sees the flag and
     * flushes its own counts (a sink write timed during a decision on an
     * ended route was lost). */
    atomic_store(&r->stats_final, 1);
    bp_pipeline_stats_flush(r);
    /* Forget the ledger rows whose records are now acked durably, so a clean
     * stop leaves (almost) nothing for the next start to load. */
    uint64_t durable = p.win.tokens ? bp_ack_window_durable_seq(&p.win) : 0;
    for (size_t s = 0; s < r->n_sinks; s++) {
        pthread_mutex_lock(&r->sinks[s]->call_mu);
        bp_ledger_forget_acked(&r->sinks[s]->ledger, rt->state, r->sinks[s]->scope, durable);
        pthread_mutex_unlock(&r->sinks[s]->call_mu);
    }
    if (atomic_load(&p.broken) && !bp_route_stopping(r))
        r->failed = 1;
    for (int w = 0; p.wq && w < r->workers; w++)
        if (p.wq[w].items)
            bp_queue_destroy(&p.wq[w]);
    if (p.sq.items)
        bp_queue_destroy(&p.sq);
    bp_ack_window_destroy(&p.win);
    pthread_mutex_destroy(&p.spent_mu);
    free(p.wq);
    free(pend);
    free(n_pend);
    free(p.spent);
    free(threads);
    free(wargs);
    free(b.envs);
    free(b.tokens);
    free(b.reasons);
    free(b.raw);
    free(b.raw_len);
    /* core3-report: the plugins' counters follow the route's */
    bp_route_parts parts = pipe_parts(r);
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
