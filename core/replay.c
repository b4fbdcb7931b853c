/* Records sent back into a route from outside its pipeline: a dead letter
 * replayed (`backplane dlq replay`) resumes where it failed; a record a person
 * approved or corrected (`backplane review`) resumes after the stage that
 * parked it. Both run on the caller's thread, with worker 0's transforms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_stats.h"
#include "audit_log.h"
#include "dlq.h"
#include "log.h"
#include "runtime_int.h"
#include "strutil.h"
#include "state_stats.h"

/* Index of the transform named by stage ("route/plugin#k" or "...#k@w"),
 * 1-based, or 0 when stage names none of route's transforms. */
static size_t replay_stage_transform(const bp_route *r, const char *stage)
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
 * gate when gate is 1), then to only_sink or every sink. Results as
 * bp_runtime_replay. */
static bp_status replay_resend(bp_route *r, bp_instance *only_sink, size_t from, int gate,
                               bp_envelope *env)
{
    bp_status st = BP_OK;
    if (only_sink == NULL)
        st = bp_transform_chain(r, 0, from, gate, &env);
    if (st != BP_OK) {
        bp_envelope_unref(env);
        return st;
    }
    bp_item item = {.env = env, .seq = UINT64_MAX};
    for (size_t s = 0; s < r->n_sinks && st == BP_OK; s++)
        if (only_sink == NULL || r->sinks[s] == only_sink)
            st = bp_deliver(r, r->sinks[s], &item, 1, bp_dead_letter_fail, r);
    if (st == BP_OK && !item.failed_sink)
        st = bp_audit_delivered(r, &item, 1);
    if (st == BP_OK && !item.failed_sink)
        (void)bp_route_stats_cycle_store(r->rt->state, r->cfg->name, &item);
    /* A route still running flushes what this counted (its sink write
     * times) itself; one whose thread has made its last flush does not. */
    if (atomic_load(&r->stats_final))
        bp_pipeline_stats_flush(r);
    cJSON_Delete(item.receipts);
    bp_envelope_unref(env);
    if (st != BP_OK)
        return st == BP_STOPPED ? BP_RETRY : st;
    return item.failed_sink ? BP_REJECT : BP_OK;
}

/* The route stays as it is until the caller unlocks routes_lock: a reload that
 * restarts it waits (and a record sent in during a reload waits for the new
 * version). */
static bp_route *replay_lock(bp_runtime *rt, const char *route)
{
    pthread_rwlock_rdlock(&rt->routes_lock);
    bp_route *r = bp_runtime_find_route(rt, route);
    if (r == NULL)
        pthread_rwlock_unlock(&rt->routes_lock);
    return r;
}

bp_status bp_runtime_replay(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env)
{
    bp_route *r = replay_lock(rt, route);
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
    size_t k = only_sink ? 0 : replay_stage_transform(r, stage);
    bp_status st = replay_resend(r, only_sink, k ? k - 1 : 0, BP_CHAIN_GATE | BP_CHAIN_REPLAY, env);
    pthread_rwlock_unlock(&rt->routes_lock);
    return st;
}

bp_status bp_runtime_resume(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env)
{
    bp_route *r = replay_lock(rt, route);
    if (r == NULL) {
        bp_envelope_unref(env);
        return BP_ERR_NOT_FOUND;
    }
    /* Parked by a transform: the rest of the chain runs (a later transform may
     * still park it for another reason). Parked by the gate: straight to the
     * sinks. The gate is not asked again: a person has decided. */
    size_t k = replay_stage_transform(r, stage);
    bp_status st = replay_resend(r, NULL, k ? k : r->n_chain, 0, env);
    pthread_rwlock_unlock(&rt->routes_lock);
    return st;
}

/* ---- dead-letter replay (dlq.h) ------------------------------------------ */

/* The entry, when it exists and belongs to only_route (or any). */
static bp_status dlq_get(bp_state *st, int64_t seq, const char *only_route, bp_dead_letter *dl,
                         bp_dlq_result *out)
{
    bp_status s = bp_state_dlq_get(st, seq, dl);
    if (s != BP_OK) {
        out->error = bp_strfmt("no entry %lld", (long long)seq);
        return s == BP_ERR_NOT_FOUND ? s : BP_ERR_IO;
    }
    if (only_route && strcmp(only_route, dl->route) != 0) {
        bp_dead_letter_clear(dl);
        return BP_ERR_NOT_FOUND;
    }
    return BP_OK;
}

bp_status bp_dlq_replay(bp_runtime *rt, int64_t seq, const char *only_route, bp_dlq_result *out)
{
    *out = (bp_dlq_result){0};
    bp_dead_letter dl;
    bp_status s = dlq_get(rt->state, seq, only_route, &dl, out);
    if (s != BP_OK)
        return s;
    bp_envelope *env = NULL;
    if (bp_envelope_from_json(dl.payload, dl.payload_len, &env, NULL) != BP_OK) {
        out->error = bp_strfmt("entry %lld holds raw input, not an envelope (%s): fix it at the "
                             "source, or drop it", (long long)seq, dl.reason);
        bp_dead_letter_clear(&dl);
        return BP_ERR_PARSE;
    }
    int64_t attempts = dl.attempts;
    s = bp_runtime_replay(rt, dl.route, dl.stage, env);
    /* Failing again where it failed before updates this very entry (one per
     * record and stage, robust2): it stays, with its attempts counted. */
    if (s == BP_REJECT) {
        bp_dead_letter now;
        int in_place = bp_state_dlq_get(rt->state, seq, &now) == BP_OK && now.attempts > attempts;
        bp_dead_letter_clear(&now);
        if (in_place) {
            bp_dead_letter_clear(&dl);
            out->what = "failed again (its entry updated)";
            return BP_REJECT;
        }
    }
    out->what = s == BP_OK       ? "delivered"
                : s == BP_DROP   ? "dropped by a transform"
                : s == BP_REVIEW ? "parked for review"
                : s == BP_REJECT ? "failed again (dead-lettered anew)"
                                 : NULL;
    if (out->what == NULL) {
        out->error = bp_strfmt("entry %lld: %s%s", (long long)seq,
                             s == BP_ERR_NOT_FOUND ? "the site has no route " : bp_status_str(s),
                             s == BP_ERR_NOT_FOUND ? dl.route : "");
        bp_dead_letter_clear(&dl);
        return s;
    }
    bp_dead_letter_clear(&dl);
    /* The old entry goes in every resolved case: a new failure has its own.
     * The dead-letter ledger (core3-report) keeps how it was resolved. */
    const char *outcome = s == BP_OK       ? "replayed.delivered"
                          : s == BP_DROP   ? "replayed.dropped"
                          : s == BP_REVIEW ? "replayed.parked"
                                           : "replayed.failed";
    if (bp_state_dlq_resolve(rt->state, seq, outcome) != BP_OK) {
        out->what = NULL;
        out->error = bp_strfmt("entry %lld: replayed but cannot delete the entry",
                             (long long)seq);
        return BP_ERR_IO;
    }
    return s == BP_REJECT ? BP_REJECT : BP_OK;
}

bp_status bp_dlq_drop(bp_state *st, int64_t seq, const char *only_route, bp_dlq_result *out)
{
    *out = (bp_dlq_result){0};
    bp_dead_letter dl;
    bp_status s = dlq_get(st, seq, only_route, &dl, out);
    if (s != BP_OK)
        return s;
    bp_dead_letter_clear(&dl);
    if (bp_state_dlq_resolve(st, seq, "dropped") != BP_OK) {
        out->error = bp_strfmt("entry %lld: cannot delete", (long long)seq);
        return BP_ERR_IO;
    }
    out->what = "dropped";
    return BP_OK;
}

void bp_dlq_audit(bp_state *st, const char *actor, const char *verb, int64_t seq,
                  const bp_dead_letter *dl, const char *outcome)
{
    bp_envelope *env = NULL;
    if (dl && dl->payload)
        (void)bp_envelope_from_json(dl->payload, dl->payload_len, &env, NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "dlq_seq", (double)seq);
    if (dl) {
        cJSON_AddStringToObject(o, "stage", dl->stage ? dl->stage : "");
        cJSON_AddStringToObject(o, "reason", dl->reason ? dl->reason : "");
    }
    cJSON_AddStringToObject(o, "result", outcome);
    char *payload = cJSON_PrintUnformatted(o);
    char who[200];
    snprintf(who, sizeof(who), "%s%s", strchr(actor, ':') ? "" : "os:", actor);
    bp_audit_entry e = {.actor = who,
                        .kind = strcmp(verb, "delete") == 0 ? "dlq:drop" : "dlq:replay",
                        .route = dl ? dl->route : NULL,
                        .source = env ? bp_envelope_get0_attr(env, "source") : NULL,
                        .id = env ? bp_envelope_get0_attr(env, "id") : NULL,
                        .subject = env ? bp_envelope_get0_attr(env, "subject") : NULL,
                        .payload = payload};
    /* Every replay and drop passes here, with the owner or without: the one
     * place that knows who asked, the record and what became of it. */
    bp_log_rec(BP_LOG_INFO, dl ? dl->route : NULL, NULL, e.id, "dead letter %lld %s by %s: %s",
               (long long)seq, strcmp(verb, "delete") == 0 ? "dropped" : "replayed", who,
               outcome);
    if (bp_audit_append(st, &e) != BP_OK)
        bp_log_rec(BP_LOG_WARN, dl ? dl->route : NULL, NULL, e.id,
                   "dlq %s %lld: cannot write its audit entry", verb, (long long)seq);
    free(payload);
    cJSON_Delete(o);
    if (env)
        bp_envelope_unref(env);
}
