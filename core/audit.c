/* The audit log of delivered records: what the transforms did to each (its
 * lineage) and what the sinks gave back, as leaves of the Merkle log
 * (audit_log.h). Parked and dead-lettered records carry theirs in their
 * payload. */
#include <stdio.h>
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

/* s as a JSON string. Runs of characters that need no escape are copied
 * at once (strcspn): this runs for every field of every record under
 * `audit: all`. */
static void ab_str(audit_buf *b, const char *s)
{
    static const char escaped[] = "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                                  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";
    ab_put(b, "\"", 1);
    for (const char *c = s ? s : "";;) {
        size_t run = strcspn(c, escaped);
        ab_put(b, c, run);
        c += run;
        if (*c == '\0')
            break;
        char e[8];
        if (*c == '"' || *c == '\\') {
            e[0] = '\\';
            e[1] = *c;
            ab_put(b, e, 2);
        } else {
            snprintf(e, sizeof(e), "\\u%04x", (unsigned char)*c);
            ab_put(b, e, 6);
        }
        c++;
    }
    ab_put(b, "\"", 1);
}

/* {"id":..,"subject":.., then the caller's "key":value} into a batch
 * entry's "records" array (the caller closes the object). The entry's own
 * source column is the batch's source (the first record's; a route has one
 * `from`): a record carries "source" only when its own differs, which keeps
 * the source's URI out of every record of the log. */
static void ab_record_head(audit_buf *b, const char *batch_src, const char *src, const char *id,
                           const char *subj)
{
    ab_put(b, b->n > 12 ? ",{" : "{", b->n > 12 ? 2 : 1);
    if (strcmp(src ? src : "", batch_src ? batch_src : "") != 0) {
        ab_put(b, "\"source\":", 9);
        ab_str(b, src);
        ab_put(b, ",", 1);
    }
    ab_put(b, "\"id\":", 5);
    ab_str(b, id);
    if (subj) {
        ab_put(b, ",\"subject\":", 11);
        ab_str(b, subj);
    }
}

/* A record's lineage written straight from the envelope, as
 * bp_envelope_lineage_json writes it for one without AI entries (plugin,
 * version, changed, at): no JSON tree built, printed and freed per record. */
static void ab_lineage(audit_buf *b, const bp_envelope *env)
{
    ab_put(b, ",\"lineage\":[", 12);
    for (size_t i = 0; i < bp_envelope_lineage_count(env); i++) {
        const bp_lineage *l = bp_envelope_get0_lineage(env, i);
        ab_put(b, i ? ",{\"plugin\":" : "{\"plugin\":", i ? 11 : 10);
        ab_str(b, l->plugin);
        if (l->version) {
            ab_put(b, ",\"version\":", 11);
            ab_str(b, l->version);
        }
        if (l->changed) {
            ab_put(b, ",\"changed\":", 11);
            ab_str(b, l->changed);
        }
        /* The digits by hand: snprintf was a tenth of this function's time. */
        char at[32], *p = at + sizeof(at);
        int64_t v = l->at_ms;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        *--p = '}';
        do
            *--p = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (v < 0)
            *--p = '-';
        ab_put(b, ",\"at\":", 6);
        ab_put(b, p, (size_t)(at + sizeof(at) - p));
    }
    ab_put(b, "]}", 2);
}

/* A delivered batch into the tamper-evident log (issue 18), its one audit
 * store, in one transaction: a leaf per record an AI transform decided on
 * (model, confidence, fields: its lineage); ONE leaf for the other records'
 * lineage of the batch (`audit: all`), and ONE for the sinks' write-back
 * receipts of the batch, the records' ids inside — not one per record. */
bp_status bp_audit_delivered(bp_route *r, const bp_item *items, size_t n)
{
    if (r->cfg->audit == BP_AUDIT_OFF)
        return BP_OK;
    bp_audit_entry *e = NULL;
    char **ai = NULL;
    audit_buf lb = {0}, rb = {0};
    size_t k = 0, n_ai = 0;
    char *actor = NULL;
    const char *bsrc = NULL;   /* the batch entries' source: the first record's */
    int have_bsrc = 0;
    bp_status rc = BP_ERR_NOMEM;
    ab_put(&lb, "{\"records\":[", 12);
    ab_put(&rb, "{\"records\":[", 12);
    for (size_t i = 0; i < n; i++) {
        const bp_envelope *env = items[i].env;
        if (items[i].failed_sink)
            continue;
        int is_ai = audit_has_ai_lineage(env);
        int lineage = is_ai || (r->cfg->audit == BP_AUDIT_ALL &&
                                bp_envelope_lineage_count(env) > 0);
        /* A sink's receipt is worth an entry even when no transform left
         * lineage (write-back evidence for an audit trace), but not under
         * `audit: ai` for a record no AI decided on. */
        int receipt = items[i].receipts != NULL &&
                      (is_ai || r->cfg->audit == BP_AUDIT_ALL);
        if (!lineage && !receipt)
            continue;
        if (e == NULL) {
            e = calloc(n + 2, sizeof(*e));
            ai = calloc(n, sizeof(*ai));
            actor = bp_strfmt("route:%s", r->cfg->name);
            if (e == NULL || ai == NULL || actor == NULL)
                goto out;
        }
        const char *src = bp_envelope_get0_attr(env, "source");
        const char *id = bp_envelope_get0_attr(env, "id");
        const char *subj = bp_envelope_get0_attr(env, "subject");
        if (!have_bsrc && ((lineage && !is_ai) || receipt)) {
            bsrc = src;   /* the first record of a batch entry */
            have_bsrc = 1;
        }
        if (is_ai) {
            if ((ai[n_ai] = bp_envelope_lineage_json(env)) == NULL)
                goto out;
            e[k++] = (bp_audit_entry){.actor = actor, .kind = "ai", .route = r->cfg->name,
                                      .source = src, .id = id, .subject = subj,
                                      .payload = ai[n_ai++]};
        } else if (lineage) {
            ab_record_head(&lb, bsrc, src, id, subj);
            ab_lineage(&lb, env);
        }
        if (receipt) {
            char *json = cJSON_PrintUnformatted(items[i].receipts);
            if (json == NULL)
                goto out;
            ab_record_head(&rb, bsrc, src, id, subj);
            ab_put(&rb, ",\"receipts\":", 12);
            ab_put(&rb, json, strlen(json));
            ab_put(&rb, "}", 1);
            free(json);
        }
    }
    ab_put(&lb, "]}", 2);
    ab_put(&rb, "]}", 2);
    if (lb.oom || rb.oom)
        goto out;
    if (lb.n > 14)
        e[k++] = (bp_audit_entry){.actor = actor, .kind = "lineage", .route = r->cfg->name,
                                  .source = bsrc, .payload = lb.p};
    if (rb.n > 14)
        e[k++] = (bp_audit_entry){.actor = actor, .kind = "receipt", .route = r->cfg->name,
                                  .source = bsrc, .payload = rb.p};
    rc = k ? bp_audit_append_n(r->rt->state, e, k) : BP_OK;
out:
    for (size_t i = 0; i < n_ai; i++)
        free(ai[i]);
    free(ai);
    free(lb.p);
    free(rb.p);
    free(actor);
    free(e);
    return rc;
}
