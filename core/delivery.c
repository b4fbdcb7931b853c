/* Delivery: a batch to one sink, and the sink thread that keeps batches in
 * flight.
 *
 * One batch's delivery to one sink (bp_delivery) may still be in flight: the
 * first write is made by dl_start, its queued results (BP_QUEUED, completed
 * later through write_done) are collected as they come (dl_ready), and
 * dl_finish settles them: retries with the route's policy (retry.h), records
 * that failed for good handed to the delivery's fail function (the route's
 * sinks: bp_dead_letter_record), the write-back ledger (ledger.h). The sink thread
 * keeps several batches in flight so that an asynchronous sink (Kafka) is not
 * limited to one round trip per batch, and settles them in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_stats.h"
#include "clock.h"
#include "log.h"
#include "runtime_int.h"

struct bp_delivery {
    bp_route *r;
    bp_instance *sink;
    bp_item *items;
    size_t n, np;              /* items; pending (to write) */
    uint64_t acked;            /* ledger rows below it can go */
    int ledger;
    int failures;              /* consecutive failed writes of the pending records */
    int64_t outage_since;      /* mono ms the sink was first not connected (0: it is) */
    int64_t outage_said;       /* mono ms of the last "still not connected" line */
    int outage_tries;          /* writes in this outage (for the backoff only) */
    bp_status rc;
    bp_delivery_fail_fn fail;
    void *fail_ud;
    size_t *pending;
    bp_envelope **envs;
    uint64_t *tickets;
    bp_status *results;
    char **reasons;
    unsigned char *set;
    char **receipts;           /* of the current write (wb_set_receipt) */
    char **last_reason;
    const bp_envelope **accepted;
    char *ckpt_key, *ckpt_value;   /* of the last write (BP_PLUGIN_LEDGER sinks) */
};

/* Resolves every record of a write whose result is BP_QUEUED from the sink's
 * completions (write_done). Tickets ascend within a write, so each completion
 * finds its record by binary search: O(n log n) for a batch, not O(n^2).
 * block 0: BP_AGAIN while some are still queued. Records still queued at a
 * stop (after a 10 s grace) get BP_STOPPED and BP_STOPPED is returned; their
 * sources are not acked. */
static bp_status dl_wait_queued(bp_route *r, bp_instance *sink, const uint64_t *tickets,
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
            rc = BP_AGAIN;
            break;
        }
        /* On stop, give queued records 10 s to complete; then leave them
         * unacked (they are redelivered on restart). */
        if (bp_route_stopping(r)) {
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

static void dl_free(bp_delivery *d)
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
    for (size_t i = 0; d->receipts && i < d->n; i++)
        free(d->receipts[i]);
    free(d->receipts);
    free(d->last_reason);
    free(d->accepted);
    free(d->ckpt_key);
    free(d->ckpt_value);
    memset(d, 0, sizeof(*d));
}

/* One write of the pending records. */
static void dl_write(bp_delivery *d)
{
    bp_write_batch wb = {.envs = d->envs, .tickets = d->tickets, .results = d->results,
                         .reasons = d->reasons, .set = d->set, .n = d->np,
                         .receipts = d->receipts};
    for (size_t k = 0; k < d->np; k++) {
        free(d->receipts[k]);
        d->receipts[k] = NULL;
        d->envs[k] = d->items[d->pending[k]].env;
        d->tickets[k] = atomic_fetch_add(&d->r->rt->next_ticket, 1);
        d->results[k] = BP_OK;
        d->set[k] = 0;
        d->reasons[k] = NULL;
    }
    pthread_mutex_lock(&d->sink->call_mu);
    int64_t t0 = bp_mono_us();
    bp_status wst = d->sink->lib->desc.write(d->sink->self, &wb);
    int64_t took = bp_mono_us() - t0;
    pthread_mutex_unlock(&d->sink->call_mu);
    bp_route_stats_sink_write(d->r->metrics, d->sink->name, took);
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
 * stops the route (then dl_finish only frees). */
static void dl_start(bp_delivery *d, bp_route *r, bp_instance *sink, bp_item *items, size_t n,
                     uint64_t acked, bp_delivery_fail_fn fail, void *ud)
{
    size_t m = n ? n : 1;
    *d = (bp_delivery){.r = r, .sink = sink, .items = items, .n = n, .acked = acked,
                       .fail = fail, .fail_ud = ud};
    d->pending = malloc(m * sizeof(size_t));
    d->envs = calloc(m, sizeof(*d->envs));
    d->tickets = calloc(m, sizeof(*d->tickets));
    d->results = calloc(m, sizeof(*d->results));
    d->reasons = calloc(m, sizeof(*d->reasons));
    d->set = calloc(m, 1);
    d->receipts = calloc(m, sizeof(*d->receipts));
    d->last_reason = calloc(m, sizeof(*d->last_reason));
    d->accepted = calloc(m, sizeof(*d->accepted));
    if (!d->pending || !d->envs || !d->tickets || !d->results || !d->reasons || !d->set ||
        !d->receipts || !d->last_reason || !d->accepted) {
        d->rc = BP_ERR_NOMEM;
        return;
    }
    d->ledger = (sink->lib->desc.flags & BP_PLUGIN_LEDGER) != 0;
    if (d->ledger) {
        pthread_mutex_lock(&sink->call_mu);
        bp_status st = bp_ledger_load(&sink->ledger, r->rt->state, sink->scope, sink->name);
        pthread_mutex_unlock(&sink->call_mu);
        if (st != BP_OK) {
            d->rc = st == BP_ERR_NOMEM ? st : BP_ERR_IO;
            return;
        }
    }
    if (d->ledger)
        pthread_mutex_lock(&sink->call_mu);
    for (size_t i = 0; i < n; i++) {
        if (items[i].env == NULL)
            continue;
        if (d->ledger && bp_ledger_applied_before(&sink->ledger, items[i].env)) {
            bp_metrics_add(sink->metrics, "ledger_skipped", 1);
            items[i].delivered_at++;
            continue;
        }
        d->pending[d->np++] = i;
    }
    if (d->ledger)
        pthread_mutex_unlock(&sink->call_mu);
    if (d->np > 0)
        dl_write(d);
}

/* 1 when no record of the current write is still queued (non-blocking). */
static int dl_ready(bp_delivery *d)
{
    if (d->rc != BP_OK || d->np == 0)
        return 1;
    return dl_wait_queued(d->r, d->sink, d->tickets, d->results, d->reasons, d->np, 0) == BP_OK;
}

/* The receipt a sink gave an accepted record (wb_set_receipt), kept with the
 * record for its audit row: {"route/sink": "receipt", ...}. */
static void dl_keep_receipt(bp_item *item, const char *sink, const char *receipt)
{
    if (item->receipts == NULL && (item->receipts = cJSON_CreateObject()) == NULL)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(item->receipts, sink);
    cJSON_AddStringToObject(item->receipts, sink, receipt);
}

/* A record failed for good at this sink: hand it to d->fail. */
static bp_status dl_fail(bp_delivery *d, size_t idx, const char *why)
{
    d->items[idx].failed_sink = 1;
    return d->fail(d->fail_ud, &d->items[idx], d->sink->name, why);
}

/* Settles the results of the current write, retrying with backoff until every
 * record is accepted or failed for good. Returns as bp_deliver. Frees d. */
static bp_status dl_finish(bp_delivery *d)
{
    bp_route *r = d->r;
    bp_instance *sink = d->sink;
    bp_item *items = d->items;
    bp_status rc = d->rc;
    if (rc != BP_OK)
        goto out;
    while (d->np > 0) {
        size_t np = d->np;
        if (dl_wait_queued(r, sink, d->tickets, d->results, d->reasons, np, 1) != BP_OK)
            rc = BP_STOPPED;
        size_t n_acc = 0, still = 0;
        uint64_t acc_max = 0;
        int not_connected = 0;
        for (size_t k = 0; k < np; k++) {
            bp_status res = d->results[k];
            char *reason = d->reasons[k];
            d->reasons[k] = NULL;
            size_t idx = d->pending[k];
            if (res == BP_OK) {
                items[idx].delivered_at++;
                if (d->receipts[k])
                    dl_keep_receipt(&items[idx], sink->name, d->receipts[k]);
                d->accepted[n_acc++] = items[idx].env;
                if (items[idx].seq > acc_max)
                    acc_max = items[idx].seq;
                free(reason);
            } else if (res == BP_RETRY || res == BP_NOT_CONNECTED) {
                not_connected |= res == BP_NOT_CONNECTED;
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
                bp_status dl = dl_fail(d, idx, why ? why : "rejected");
                free(why);
                free(reason);
                bp_metrics_add(sink->metrics, "records_failed", 1);
                if (dl != BP_OK) {
                    rc = BP_ERR_IO;
                    goto out;
                }
            }
        }
        bp_metrics_add(sink->metrics, "records_out", n_acc);
        if (d->ledger && (n_acc > 0 || d->ckpt_key)) {
            pthread_mutex_lock(&sink->call_mu);
            bp_status lst = bp_ledger_commit(&sink->ledger, r->rt->state, sink->scope,
                                             d->accepted, n_acc, acc_max, d->acked, d->ckpt_key,
                                             d->ckpt_value);
            pthread_mutex_unlock(&sink->call_mu);
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
        if (!not_connected && d->outage_since != 0) {
            bp_log(BP_LOG_INFO, sink->name, "connected again after %llds",
                   (long long)((bp_mono_ms() - d->outage_since) / 1000));
            d->outage_since = 0;
            atomic_fetch_sub(&r->sinks_down, 1);
        }
        if (np == 0)
            break;
        /* A sink that cannot connect is an outage, not the records' fault:
         * they wait without spending their retries (issue 17: an SMTP server
         * down for 20 s dead-lettered 22 replies), the route with them (the
         * source is not polled while the window is full), until the sink is
         * back or errors.outage_limit has passed. */
        if (not_connected) {
            int64_t now = bp_mono_ms();
            const char *why = d->last_reason[d->pending[0]] ? d->last_reason[d->pending[0]]
                                                            : "not connected";
            if (d->outage_since == 0) {
                atomic_fetch_add(&r->sinks_down, 1);
                d->outage_since = d->outage_said = now;
                d->outage_tries = 0;
                bp_log_rec(BP_LOG_WARN, sink->name, sink->lib ? sink->lib->desc.name : NULL,
                           bp_envelope_get0_attr(d->items[d->pending[0]].env, "id"),
                           "not connected, %zu record(s) wait (their retries are not spent): %s",
                           np, why);
            } else if (now - d->outage_said >= 60000) {
                d->outage_said = now;
                bp_log(BP_LOG_WARN, sink->name,
                       "still not connected after %llds, %zu record(s) wait: %s",
                       (long long)((now - d->outage_since) / 1000), np, why);
            }
            int64_t limit = r->cfg->outage_limit_ms;
            if (limit > 0 && now - d->outage_since >= limit) {
                char lim[32];
                snprintf(lim, sizeof(lim), limit % 1000 ? "%lldms" : "%llds",
                         (long long)(limit % 1000 ? limit : limit / 1000));
                for (size_t k = 0; k < np; k++) {
                    size_t idx = d->pending[k];
                    char *text = NULL;
                    if (asprintf(&text, "not connected for longer than errors.outage_limit (%s): %s",
                                 lim, d->last_reason[idx] ? d->last_reason[idx] : why) < 0)
                        text = NULL;
                    bp_status dl = dl_fail(d, idx, text ? text : "not connected");
                    free(text);
                    if (dl != BP_OK) {
                        rc = BP_ERR_IO;
                        goto out;
                    }
                }
                break;
            }
            d->outage_tries++;
            if (!bp_retry_sleep(&r->stop, bp_retry_backoff_ms(&r->retry, d->outage_tries))) {
                rc = BP_STOPPED;
                goto out;
            }
            dl_write(d);
            continue;
        }
        d->failures++;
        if (!bp_retry_again(&r->retry, d->failures)) {
            for (size_t k = 0; k < np; k++) {
                size_t idx = d->pending[k];
                char *why = NULL;
                if (asprintf(&why, "gave up after %d attempts: %s", d->failures,
                             d->last_reason[idx] ? d->last_reason[idx] : "retry") < 0)
                    why = NULL;
                bp_status dl = dl_fail(d, idx, why ? why : "gave up");
                free(why);
                if (dl != BP_OK) {
                    rc = BP_ERR_IO;
                    goto out;
                }
            }
            break;
        }
        bp_metrics_add(r->metrics, "retries", np);
        /* The id is the first waiting record's, whose reason the line quotes. */
        bp_log_rec(BP_LOG_WARN, sink->name, sink->lib ? sink->lib->desc.name : NULL,
                   bp_envelope_get0_attr(d->items[d->pending[0]].env, "id"),
                   "%zu record(s) to retry (attempt %d of %d): %s", np, d->failures,
                   r->retry.max + 1,
                   d->last_reason[d->pending[0]] ? d->last_reason[d->pending[0]]
                                                 : "transient failure");
        if (!bp_retry_sleep(&r->stop, bp_retry_backoff_ms(&r->retry, d->failures))) {
            rc = BP_STOPPED;
            goto out;
        }
        dl_write(d);
    }
out:
    if (d->outage_since != 0)   /* the next delivery says it again */
        atomic_fetch_sub(&r->sinks_down, 1);
    dl_free(d);
    return rc;
}

bp_status bp_deliver(bp_route *r, bp_instance *sink, bp_item *items, size_t n,
                     bp_delivery_fail_fn fail, void *ud)
{
    bp_delivery d;
    dl_start(&d, r, sink, items, n, 0, fail, ud);
    return dl_finish(&d);
}

/* ---- the sink thread ---------------------------------------------------- */

/* Batches the sink thread has written and not yet settled: up to 4, or 12
 * when a sink declares BP_PLUGIN_ASYNC (its round trips, not the CPU, would
 * set the pace; see pipeline.c for the window this takes). */
typedef struct sink_flight {
    bp_rec **recs;
    bp_item *items;
    uint64_t *seqs;            /* for the ack window */
    unsigned char *fates;
    size_t n;                  /* records still owned here */
    size_t n_items;            /* items of this flight */
    bp_delivery *dl;           /* one per sink */
} sink_flight;

/* Settles the oldest flight: waits for its queued results, retries, then marks
 * its records done (the source thread acks them in order). */
static void sink_settle(bp_pipe *p, sink_flight *f)
{
    bp_route *r = p->r;
    bp_status rc = BP_OK;
    for (size_t s = 0; s < r->n_sinks; s++) {
        bp_status st = atomic_load(&p->broken) ? BP_STOPPED : dl_finish(&f->dl[s]);
        if (st != BP_OK && rc == BP_OK)
            rc = st;
    }
    if (atomic_load(&p->broken)) {
        /* not acked: redelivered after a restart */
    } else if (rc != BP_OK) {
        bp_pipe_fail(p, rc == BP_STOPPED ? "stopped during retries" : bp_status_str(rc));
    } else if (bp_audit_delivered(r, f->items, f->n) != BP_OK) {
        bp_pipe_fail(p, "the state store failed (audit log)");
    } else {
        bp_route_stats_cycles(r->metrics, f->items, f->n);
        size_t out = 0;
        for (size_t i = 0; i < f->n; i++) {
            out += !f->items[i].failed_sink;
            f->seqs[i] = f->recs[i]->seq;
            /* Dead-lettered at one sink but written to another: PARTIAL
             * (ABI 1.3), so a source's write-back can tell. */
            f->fates[i] = !f->items[i].failed_sink       ? BP_FATE_DELIVERED
                          : f->items[i].delivered_at > 0 ? BP_FATE_PARTIAL
                                                         : BP_FATE_DEAD_LETTERED;
        }
        /* The records go to the source thread to be freed (pipeline.c): it
         * mostly waits for the window, while this thread is a relay's
         * busiest. Handed over before they are marked done, so that the
         * source's final reap after the join finds them all. */
        pthread_mutex_lock(&p->spent_mu);
        if (p->n_spent + f->n > p->cap_spent) {
            size_t cap = p->cap_spent ? p->cap_spent * 2 : 4096;
            while (cap < p->n_spent + f->n)
                cap *= 2;
            bp_rec **sp = realloc(p->spent, cap * sizeof(*sp));
            if (sp != NULL) {
                p->spent = sp;
                p->cap_spent = cap;
            }
        }
        size_t n = f->n;
        if (p->n_spent + f->n <= p->cap_spent) {
            memcpy(p->spent + p->n_spent, f->recs, f->n * sizeof(*f->recs));
            p->n_spent += f->n;
            f->n = 0;
        }
        pthread_mutex_unlock(&p->spent_mu);
        bp_ack_window_done_many(&p->win, f->seqs, f->fates, n);
        bp_metrics_add(r->metrics, "records_out", out);
    }
    for (size_t s = 0; s < r->n_sinks; s++)
        if (f->dl[s].r != NULL)
            dl_free(&f->dl[s]);
    for (size_t i = 0; i < f->n_items; i++) {
        cJSON_Delete(f->items[i].receipts);
        f->items[i].receipts = NULL;
    }
    for (size_t i = 0; i < f->n; i++)
        bp_rec_free(f->recs[i]);
    f->n = 0;
}

static int sink_flight_ready(const bp_route *r, sink_flight *f)
{
    for (size_t s = 0; s < r->n_sinks; s++)
        if (!dl_ready(&f->dl[s]))
            return 0;
    return 1;
}

enum { SINK_FLIGHTS_MAX = 12 };

void *bp_sink_main(void *arg)
{
    bp_pipe *p = arg;
    bp_route *r = p->r;
    bp_name_thread(r->cfg->name, "sink");
    size_t max = (size_t)p->batch;
    sink_flight fl[SINK_FLIGHTS_MAX];
    int ok = p->flights <= SINK_FLIGHTS_MAX;
    memset(fl, 0, sizeof(fl));
    for (int k = 0; k < SINK_FLIGHTS_MAX; k++) {
        fl[k].recs = calloc(max, sizeof(*fl[k].recs));
        fl[k].items = calloc(max, sizeof(*fl[k].items));
        fl[k].seqs = calloc(max, sizeof(*fl[k].seqs));
        fl[k].fates = calloc(max, 1);
        fl[k].dl = calloc(r->n_sinks ? r->n_sinks : 1, sizeof(*fl[k].dl));
        ok = ok && fl[k].recs && fl[k].items && fl[k].seqs && fl[k].fates && fl[k].dl;
    }
    if (!ok) {
        bp_pipe_fail(p, "out of memory");
        /* Keep draining so that workers never block on a full queue. */
        void *one;
        while (bp_queue_pop(&p->sq, &one, 1, 0, -1) > 0)
            bp_rec_free(one);
        goto out;
    }
    size_t head = 0, count = 0;   /* flights in use: head .. head+count-1 */
    int ended = 0;
    while (!ended || count > 0) {
        /* Settle what is complete; the oldest flight also when all are in use
         * or the input has ended (then it waits for its results). */
        while (count > 0 && (count == p->flights || ended || sink_flight_ready(r, &fl[head]))) {
            sink_settle(p, &fl[head]);
            head = (head + 1) % SINK_FLIGHTS_MAX;
            count--;
        }
        if (ended)
            continue;
        sink_flight *f = &fl[(head + count) % SINK_FLIGHTS_MAX];
        /* With flights out, wait only briefly for input so that their
         * completions are settled promptly. */
        size_t n = bp_queue_pop(&p->sq, (void **)f->recs, max, count > 0 ? 0 : r->cfg->linger_ms,
                                count > 0 ? 2 : -1);
        if (n == 0) {
            ended = bp_queue_drained(&p->sq);
            continue;
        }
        if (atomic_load(&p->broken)) {
            for (size_t i = 0; i < n; i++)
                bp_rec_free(f->recs[i]);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            f->items[i] = (bp_item){.env = f->recs[i]->env, .seq = f->recs[i]->seq};
        f->n = f->n_items = n;
        uint64_t acked = bp_ack_window_durable_seq(&p->win);   /* ledger rows below it can go */
        for (size_t s = 0; s < r->n_sinks; s++)
            dl_start(&f->dl[s], r, r->sinks[s], f->items, n, acked, bp_dead_letter_fail, r);
        count++;
    }
out:
    for (int k = 0; k < SINK_FLIGHTS_MAX; k++) {
        free(fl[k].recs);
        free(fl[k].items);
        free(fl[k].seqs);
        free(fl[k].fates);
        free(fl[k].dl);
    }
    return NULL;
}
