/* The audit log of delivered records: what the transforms did to each (its
 * lineage) and what the sinks gave back, as leaves of the Merkle log
 * (audit_log.h). Parked and dead-lettered records carry theirs in their
 * payload. */
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

/* A growing text buffer for a batch leaf's payload. */
typedef struct audit_buf {
    char *p;
    size_t n, cap;
    int oom;
} audit_buf;

static void ab_put(audit_buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void ab_str(audit_buf *b, const char *s)
{
    ab_put(b, "\"", 1);
    for (const char *c = s ? s : ""; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            ab_put(b, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            snprintf(e, sizeof(e), "\\u%04x", ch);
            ab_put(b, e, 6);
        } else {
            ab_put(b, c, 1);
        }
    }
    ab_put(b, "\"", 1);
}

/* {"source":..,"id":..,"subject":..,"<key>":<json>} into the batch. */
static void ab_record(audit_buf *b, const char *src, const char *id, const char *subj,
                      const char *key, const char *json)
{
    ab_put(b, b->n > 12 ? ",{\"source\":" : "{\"source\":", b->n > 12 ? 11 : 10);
    ab_str(b, src);
    ab_put(b, ",\"id\":", 6);
    ab_str(b, id);
    if (subj) {
        ab_put(b, ",\"subject\":", 11);
        ab_str(b, subj);
    }
    ab_put(b, ",\"", 2);
    ab_put(b, key, strlen(key));
    ab_put(b, "\":", 2);
    ab_put(b, json, strlen(json));
    ab_put(b, "}", 1);
}

/* The batch into the tamper-evident log (issue 18), its one audit store, in
 * one transaction: a leaf per record an AI transform decided on
 * (model, confidence, fields: its lineage); ONE leaf for the other records'
 * lineage of the batch (`audit: all`), and ONE for the sinks' write-back
 * receipts of the batch, the records' ids inside — not one per record. */
static bp_status audit_leaves(bp_route *r, size_t n, const bp_item *items, const char **src,
                              const char **id, const char **subj, char **lin, char **rcpt)
{
    bp_audit_entry *e = calloc(n + 2, sizeof(*e));
    audit_buf lb = {0}, rb = {0};
    char *actor = bp_strfmt("route:%s", r->cfg->name);
    bp_status rc = BP_ERR_NOMEM;
    if (e == NULL || actor == NULL)
        goto out;
    size_t k = 0;
    ab_put(&lb, "{\"records\":[", 12);
    ab_put(&rb, "{\"records\":[", 12);
    for (size_t i = 0; i < n; i++) {
        if (lin[i] == NULL)
            continue;
        if (audit_has_ai_lineage(items[i].env))
            e[k++] = (bp_audit_entry){.actor = actor, .kind = "ai", .route = r->cfg->name,
                                      .source = src[i], .id = id[i], .subject = subj[i],
                                      .payload = lin[i]};
        else if (strcmp(lin[i], "[]") != 0)
            ab_record(&lb, src[i], id[i], subj[i], "lineage", lin[i]);
        if (rcpt[i])
            ab_record(&rb, src[i], id[i], subj[i], "receipts", rcpt[i]);
    }
    ab_put(&lb, "]}", 2);
    ab_put(&rb, "]}", 2);
    if (lb.oom || rb.oom)
        goto out;
    if (lb.n > 14)
        e[k++] = (bp_audit_entry){.actor = actor, .kind = "lineage", .route = r->cfg->name,
                                  .payload = lb.p};
    if (rb.n > 14)
        e[k++] = (bp_audit_entry){.actor = actor, .kind = "receipt", .route = r->cfg->name,
                                  .payload = rb.p};
    rc = bp_audit_append_n(r->rt->state, e, k);
out:
    free(lb.p);
    free(rb.p);
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
