/* A record through a route's transforms, then its review gate. A transform's
 * BP_RETRY follows the route's retry policy (retry.h); what runs out of
 * retries, or is rejected, is dead-lettered at that transform. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "runtime_int.h"

bp_status bp_transform_chain(bp_route *r, int worker, size_t from, int gate, bp_envelope **env)
{
    for (size_t t = from; t < r->n_chain; t++) {
        bp_instance *in = r->transforms[(size_t)worker * r->n_chain + t];
        bp_status st;
        char *reason = NULL;
        int failures = 0;
        for (;;) {
            free(reason);
            reason = NULL;
            pthread_mutex_lock(&in->call_mu);
            st = in->lib->desc.transform(in->self, env, &reason);
            pthread_mutex_unlock(&in->call_mu);
            if (st != BP_RETRY || !bp_retry_again(&r->retry, ++failures))
                break;
            bp_metrics_add(r->metrics, "retries", 1);
            bp_log_rec(BP_LOG_WARN, in->name, in->lib->desc.name,
                       bp_envelope_get0_attr(*env, "id"), "transform asks to retry the record "
                       "(attempt %d of %d): %s", failures, r->retry.max + 1,
                       reason ? reason : "transient failure");
            if (!bp_retry_sleep(&r->stop, bp_retry_backoff_ms(&r->retry, failures)))
                break;
        }
        if (st == BP_OK || st == BP_MODIFIED) {
            free(reason);
            continue;
        }
        bp_status rc;
        if (st == BP_DROP) {
            bp_metrics_add(r->metrics, "dropped", 1);
            /* A filter's drops are routine: said at debug only. */
            bp_log_rec(BP_LOG_DEBUG, in->name, in->lib->desc.name,
                       bp_envelope_get0_attr(*env, "id"), "dropped%s%s", reason ? ": " : "",
                       reason ? reason : "");
            rc = BP_DROP;
        } else if (st == BP_REVIEW) {
            rc = (gate & BP_CHAIN_REPLAY)
                     ? bp_review_park(r, in->name, reason ? reason : "transform asked for review",
                                      *env)
                     : bp_review_park_once(r, in->name,
                                           reason ? reason : "transform asked for review", env);
            if (rc == BP_MODIFIED) {   /* approved before: on after this transform */
                free(reason);
                continue;
            }
            rc = rc == BP_OK ? BP_REVIEW : rc == BP_DROP ? BP_DROP : BP_ERR_IO;
        } else if (st == BP_RETRY && bp_route_stopping(r)) {
            rc = BP_STOPPED;
        } else {
            /* Out of retries: said as a sink's are ("gave up after N attempts"). */
            char *why = NULL, gave_up[64] = "";
            if (st == BP_RETRY)
                snprintf(gave_up, sizeof(gave_up), "gave up after %d attempts: ", failures);
            if (asprintf(&why, "%s%s%s%s", gave_up, bp_status_str(st), reason ? ": " : "",
                         reason ? reason : "") < 0)
                why = NULL;
            rc = bp_dead_letter_record(r, in->name, why ? why : "transform failed", *env, NULL, 0);
            rc = rc == BP_OK ? BP_REJECT : BP_ERR_IO;
            free(why);
        }
        free(reason);
        return rc;
    }
    return (gate & BP_CHAIN_GATE) ? bp_review_gate(r, env, gate & BP_CHAIN_REPLAY) : BP_OK;
}
