/* Records sent back into a route from outside its pipeline: a dead letter
 * replayed (`backplane dlq replay`) resumes where it failed; a record a person
 * approved or corrected (`backplane review`) resumes after the stage that
 * parked it. Both run on the caller's thread, with worker 0's transforms. */
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

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
    bp_envelope_unref(env);
    if (st != BP_OK)
        return st == BP_STOPPED ? BP_RETRY : st;
    return item.failed_sink ? BP_REJECT : BP_OK;
}

bp_status bp_runtime_replay(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env)
{
    bp_route *r = bp_runtime_find_route(rt, route);
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
    return replay_resend(r, only_sink, k ? k - 1 : 0, 1, env);
}

bp_status bp_runtime_resume(bp_runtime *rt, const char *route, const char *stage,
                            bp_envelope *env)
{
    bp_route *r = bp_runtime_find_route(rt, route);
    if (r == NULL) {
        bp_envelope_unref(env);
        return BP_ERR_NOT_FOUND;
    }
    /* Parked by a transform: the rest of the chain runs (a later transform may
     * still park it for another reason). Parked by the gate: straight to the
     * sinks. The gate is not asked again: a person has decided. */
    size_t k = replay_stage_transform(r, stage);
    return replay_resend(r, NULL, k ? k : r->n_chain, 0, env);
}
