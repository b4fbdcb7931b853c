/* The review gate: records parked for a person, by a transform (BP_REVIEW) or
 * by the route's review.when, with what triage needs. The people's side
 * (approve, correct, reject) is review.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_int.h"
#include "log.h"
#include "runtime_int.h"

static void gate_item(bp_review_item *out, bp_route *r, const char *stage, const char *reason,
                      const bp_envelope *env, char *json);

/* The lowest confidence an AI transform reported (the extension
 * "confidence", else the lineage entries'), or -1 when none did. */
static double gate_confidence(const bp_envelope *env)
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

/* A decision taken before on this record (it was parked, decided, then
 * redelivered because its source had not acked it yet). Only the owner
 * carries decisions out (control.c), and a decision is stored only once its
 * delivery is done (review.c: resume first, then the decision in one
 * transaction), so an approved or corrected record was delivered by the
 * decision itself: the redelivered copy is done (BP_DROP), never sent again
 * — a sink without a ledger would get it twice, and a ledgered sink loaded
 * its ledger before this run's decision wrote to it. Rejected, it was
 * dead-lettered by the decision and is dropped now (BP_DROP). The stored
 * changes are not applied again. */
static bp_status gate_apply_decision(bp_route *r, const bp_park_result *pr, const char *id)
{
    if (strcmp(pr->decided, "rejected") == 0)
        bp_log_rec(BP_LOG_INFO, r->cfg->name, NULL, id,
                   "a redelivered record was rejected in review before: "
                   "dropped (its dead letter is kept)");
    else
        bp_log_rec(BP_LOG_INFO, r->cfg->name, NULL, id,
                   "a redelivered record was %s in review before and "
                   "delivered by that decision: done", pr->decided);
    bp_metrics_add(r->metrics, "dropped", 1);
    return BP_DROP;
}

bp_status bp_review_park_once(bp_route *r, const char *stage, const char *reason,
                              bp_envelope **env)
{
    const char *src = bp_envelope_get0_attr(*env, "source");
    const char *id = bp_envelope_get0_attr(*env, "id");
    if (src == NULL || id == NULL)
        return bp_review_park(r, stage, reason, *env);
    char *json = bp_envelope_to_json(*env, BP_SER_FULL);
    if (json == NULL)
        return BP_ERR_NOMEM;
    bp_review_item it;
    gate_item(&it, r, stage, reason, *env, json);
    bp_park_result pr;
    bp_status st = bp_state_park_review_once(r->rt->state, &it, src, id, &pr);
    free(json);
    if (st != BP_OK)
        return st;
    if (pr.decided) {
        st = gate_apply_decision(r, &pr, id);
    } else if (pr.already_parked) {
        bp_log_rec(BP_LOG_INFO, r->cfg->name, NULL, id,
                   "a redelivered record is parked already (entry %lld)", (long long)pr.seq);
    } else {
        bp_metrics_add(r->metrics, "parked", 1);
        bp_log_rec(BP_LOG_INFO, r->cfg->name, NULL, id, "parked for review at %s (entry %lld): %s",
                   stage, (long long)pr.seq, reason);
    }
    bp_park_result_clear(&pr);
    return st;
}

bp_status bp_review_park(bp_route *r, const char *stage, const char *reason,
                         const bp_envelope *env)
{
    char *json = bp_envelope_to_json(env, BP_SER_FULL);
    if (json == NULL)
        return BP_ERR_NOMEM;
    bp_review_item it;
    gate_item(&it, r, stage, reason, env, json);
    bp_status st = bp_state_park_review(r->rt->state, &it);
    free(json);
    if (st == BP_OK) {
        bp_metrics_add(r->metrics, "parked", 1);
        bp_log_rec(BP_LOG_INFO, r->cfg->name, NULL, bp_envelope_get0_attr(env, "id"),
                   "parked for review at %s: %s", stage, reason);
    }
    return st;
}

/* When env came in: a redelivered record parked again keeps none (0). */
static int64_t gate_arrived(const bp_envelope *env)
{
    int64_t arrived = 0, parked = 0;
    bp_env_times(env, &arrived, &parked);
    return arrived;
}

/* (the old body, kept for the item's fields) */
static void gate_item(bp_review_item *out, bp_route *r, const char *stage, const char *reason,
                      const bp_envelope *env, char *json)
{
    const cJSON *flags = bp_envelope_get0_ext(env, "flags");
    const cJSON *prio = bp_envelope_get0_ext(env, "priority");
    *out = (bp_review_item){
        .route = (char *)r->cfg->name,
        .stage = (char *)stage,
        .reason = (char *)reason,
        .payload = json,
        .flags = cJSON_IsString(flags) && flags->valuestring[0] ? flags->valuestring : NULL,
        .subject = (char *)bp_envelope_get0_attr(env, "subject"),
        .confidence = gate_confidence(env),
        .arrived_ms = gate_arrived(env),
        .priority = cJSON_IsNumber(prio)   ? (int64_t)prio->valuedouble
                    : cJSON_IsString(prio) ? strtoll(prio->valuestring, NULL, 10)
                                           : 0,
    };
}

/* The reasons transforms gave for their flags ("po_mismatch: total 9800.00
 * vs PO 8900.00; ..."), from data.flags entries {flag, reason} (the convention
 * of the shipped transforms), or NULL when there are none. What a reviewer
 * reads in `review list` instead of the gate's predicate. */
static char *gate_flag_reasons(const bp_envelope *env)
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

bp_status bp_review_gate(bp_route *r, bp_envelope **envp, int replay)
{
    const bp_envelope *env = *envp;
    if (r->review_when == NULL || !bp_predicate_eval(r->review_when, env))
        return BP_OK;
    char *why = gate_flag_reasons(env);
    if (why == NULL && asprintf(&why, "review.when: %s", r->cfg->review_when) < 0)
        why = NULL;
    bp_status rc = replay ? bp_review_park(r, "review", why ? why : "review.when", *envp)
                          : bp_review_park_once(r, "review", why ? why : "review.when", envp);
    free(why);
    return rc == BP_OK ? BP_REVIEW : rc == BP_MODIFIED ? BP_OK : rc == BP_DROP ? BP_DROP
                                                                               : BP_ERR_IO;
}
