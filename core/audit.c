/* The audit log of delivered records: what the transforms did to each (its
 * lineage). Parked and dead-lettered records carry theirs in their payload. */
#include <stdlib.h>
#include <string.h>

#include "envelope_int.h"
#include "runtime_int.h"

/* 1 when an AI transform decided on env: a lineage entry with a model or a
 * confidence (what `audit: ai` logs). */
static int audit_has_ai_lineage(const bp_envelope *env)
{
    for (size_t i = 0; i < bp_envelope_lineage_count(env); i++) {
        const bp_lineage *l = bp_envelope_get0_lineage(env, i);
        if (l->model != NULL || l->confidence >= 0)
            return 1;
    }
    return 0;
}

bp_status bp_audit_delivered(bp_route *r, const bp_item *items, size_t n)
{
    if (r->cfg->audit == BP_AUDIT_OFF)
        return BP_OK;
    const char **src = calloc(n, sizeof(*src)), **id = calloc(n, sizeof(*id));
    const char **subj = calloc(n, sizeof(*subj));
    char **lin = calloc(n, sizeof(*lin)), **rcpt = calloc(n, sizeof(*rcpt));
    size_t with = 0;
    bp_status rc = BP_ERR_NOMEM;
    if (src && id && subj && lin && rcpt) {
        for (size_t i = 0; i < n; i++) {
            if (items[i].failed_sink ||
                (r->cfg->audit == BP_AUDIT_AI && !audit_has_ai_lineage(items[i].env)))
                continue;
            src[i] = bp_envelope_get0_attr(items[i].env, "source");
            id[i] = bp_envelope_get0_attr(items[i].env, "id");
            subj[i] = bp_envelope_get0_attr(items[i].env, "subject");
            lin[i] = bp_envelope_lineage_json(items[i].env);
            rcpt[i] = items[i].receipts ? cJSON_PrintUnformatted(items[i].receipts) : NULL;
            /* A sink's receipt is worth a row even when no transform left
             * lineage (write-back evidence for an audit trace). */
            if (lin[i] == NULL && rcpt[i] != NULL)
                lin[i] = strdup("[]");
            with += lin[i] != NULL;
        }
        rc = with ? bp_state_audit(r->rt->state, r->cfg->name, n, src, id, subj,
                                   (const char *const *)lin, (const char *const *)rcpt,
                                   "delivered")
                  : BP_OK;
    }
    for (size_t i = 0; lin && i < n; i++)
        free(lin[i]);
    for (size_t i = 0; rcpt && i < n; i++)
        free(rcpt[i]);
    free(rcpt);
    free(src);
    free(id);
    free(subj);
    free(lin);
    return rc;
}
