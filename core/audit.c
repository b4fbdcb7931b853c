/* The audit log of delivered records: what the transforms did to each (its
 * lineage). Parked and dead-lettered records carry theirs in their payload. */
#include <stdlib.h>
#include <string.h>

#include "audit_log.h"
#include "envelope_int.h"
#include "runtime_int.h"
#include "strutil.h"

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

/* The batch into the audit table and, in the same transaction, the
 * tamper-evident log (issue 18): a leaf per record a transform decided on
 * (its lineage), and ONE leaf for the sinks' write-back receipts of the whole
 * batch, the records' ids inside — not one per record. */
static bp_status audit_leaves(bp_route *r, size_t n, const bp_item *items, const char **src,
                              const char **id, const char **subj, char **lin, char **rcpt)
{
    bp_audit_entry *e = calloc(n + 1, sizeof(*e));
    cJSON *batch = NULL, *recs = NULL;
    char *actor = bp_strfmt("route:%s", r->cfg->name), *batch_txt = NULL;
    bp_status rc = BP_ERR_NOMEM;
    if (e == NULL || actor == NULL)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (lin[i] == NULL)
            continue;
        if (strcmp(lin[i], "[]") != 0)
            e[k++] = (bp_audit_entry){.actor = actor,
                                      .kind = audit_has_ai_lineage(items[i].env) ? "ai"
                                                                                 : "lineage",
                                      .route = r->cfg->name, .source = src[i], .id = id[i],
                                      .subject = subj[i], .payload = lin[i]};
        if (items[i].receipts) {
            if (batch == NULL) {
                batch = cJSON_CreateObject();
                recs = cJSON_AddArrayToObject(batch, "records");
            }
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(recs, o);
            cJSON_AddStringToObject(o, "source", src[i] ? src[i] : "");
            cJSON_AddStringToObject(o, "id", id[i] ? id[i] : "");
            if (subj[i])
                cJSON_AddStringToObject(o, "subject", subj[i]);
            cJSON_AddItemToObject(o, "receipts", cJSON_Duplicate(items[i].receipts, 1));
        }
    }
    if (batch) {
        batch_txt = cJSON_PrintUnformatted(batch);
        if (batch_txt == NULL)
            goto out;
        e[k++] = (bp_audit_entry){.actor = actor, .kind = "receipt", .route = r->cfg->name,
                                  .payload = batch_txt};
    }
    rc = bp_state_audit_ex(r->rt->state, r->cfg->name, n, src, id, subj,
                           (const char *const *)lin, (const char *const *)rcpt, "delivered",
                           e, k);
out:
    cJSON_Delete(batch);
    free(batch_txt);
    free(actor);
    free(e);
    return rc;
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
        rc = with ? audit_leaves(r, n, items, src, id, subj, lin, rcpt) : BP_OK;
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
