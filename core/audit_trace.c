/* One record's way through the audit log (bp_audit_trace), and the log with
 * inclusion proofs for an auditor (bp_audit_export). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "audit_int.h"
#include "strutil.h"

static void trace_add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *trace_row_json(const bp_audit_row *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "seq", (double)r->seq);
    cJSON_AddNumberToObject(o, "at_ms", (double)r->e.at_ms);
    trace_add_str(o, "actor", r->e.actor);
    trace_add_str(o, "kind", r->e.kind);
    trace_add_str(o, "route", r->e.route);
    trace_add_str(o, "source", r->e.source);
    trace_add_str(o, "id", r->e.id);
    trace_add_str(o, "subject", r->e.subject);
    cJSON *p = r->e.payload ? cJSON_Parse(r->e.payload) : NULL;
    if (p)
        cJSON_AddItemToObject(o, "payload", p);
    else if (r->e.payload)
        cJSON_AddStringToObject(o, "payload", r->e.payload);
    else
        cJSON_AddNullToObject(o, "payload");
    if (r->pruned)
        cJSON_AddTrueToObject(o, "pruned");
    return o;
}

static int trace_row(const bp_audit_row *r, void *ud)
{
    cJSON *o = trace_row_json(r);
    if (o)
        cJSON_AddItemToArray(ud, o);
    return 0;
}

bp_status bp_audit_trace(bp_state *st, const char *subject_or_id, cJSON **out)
{
    *out = cJSON_CreateArray();
    if (*out == NULL)
        return BP_ERR_NOMEM;
    /* By the record's id, source/id key or subject, or named in a batch
     * entry's payload (write-back receipts, dead-letter actions) as a JSON
     * string. */
    bp_status rc = bp_state_audit_rows(
        st,
        "WHERE id = ?1 OR subject = ?1 OR (source || '/' || id) = ?1"
        " OR instr(payload, json_quote(?1)) > 0",
        subject_or_id, trace_row, *out);
    if (rc != BP_OK) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return rc;
}

typedef struct export_ctx {
    bp_mhash *leaves;
    uint64_t n, cap;
    int oom;
} export_ctx;

static int export_collect(const bp_audit_row *r, void *ud)
{
    export_ctx *c = ud;
    if (c->n == c->cap) {
        uint64_t cap = c->cap ? c->cap * 2 : 1024;
        bp_mhash *l = realloc(c->leaves, cap * sizeof(*l));
        if (l == NULL) {
            c->oom = 1;
            return 1;
        }
        c->leaves = l;
        c->cap = cap;
    }
    if (r->leaf_len == BP_MERKLE_HASH)
        memcpy(c->leaves[c->n], r->leaf, BP_MERKLE_HASH);
    else
        memset(c->leaves[c->n], 0, BP_MERKLE_HASH);
    c->n++;
    return 0;
}

typedef struct export_out {
    export_ctx *c;
    uint64_t size;
    int64_t since_ms;
    FILE *f;
    int64_t written;
} export_out;

static void export_b64(const bp_mhash h, char out[48])
{
    EVP_EncodeBlock((unsigned char *)out, h, BP_MERKLE_HASH);
}

static int export_row(const bp_audit_row *r, void *ud)
{
    export_out *o = ud;
    if (r->e.at_ms < o->since_ms || (uint64_t)r->seq >= o->size)
        return 0;
    cJSON *j = trace_row_json(r);
    if (j == NULL)
        return 1;
    char b64[48];
    export_b64(o->c->leaves[r->seq], b64);
    cJSON_AddStringToObject(j, "leaf_hash", b64);
    bp_mhash proof[BP_MERKLE_MAX_PROOF];
    size_t n = 0;
    cJSON *arr = cJSON_AddArrayToObject(j, "inclusion_proof");
    if (bp_merkle_inclusion_proof(o->c->leaves, o->size, (uint64_t)r->seq, proof, &n) == 0)
        for (size_t i = 0; i < n; i++) {
            export_b64(proof[i], b64);
            cJSON_AddItemToArray(arr, cJSON_CreateString(b64));
        }
    cJSON_AddNumberToObject(j, "tree_size", (double)o->size);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (s == NULL)
        return 1;
    fprintf(o->f, "%s\n", s);
    free(s);
    o->written++;
    return 0;
}

int64_t bp_audit_export(bp_state *st, int64_t since_ms, FILE *out)
{
    export_ctx c = {0};
    if (bp_state_audit_rows(st, NULL, NULL, export_collect, &c) != BP_OK || c.oom) {
        free(c.leaves);
        return -1;
    }
    /* Proofs against the latest signed checkpoint when there is one (an
     * auditor checks that note), else against the tree as it is now. */
    export_out o = {&c, c.n, since_ms, out, 0};
    char *note = NULL;
    if (bp_audit_latest_checkpoint(st, &note) == BP_OK) {
        char *org = NULL, *why = NULL;
        uint64_t size = 0;
        bp_mhash root;
        if (bp_audit_note_parse(note, NULL, &org, &size, root, &why) && size <= c.n)
            o.size = size;
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "checkpoint", note);
        char *s = cJSON_PrintUnformatted(h);
        if (s)
            fprintf(out, "%s\n", s);
        free(s);
        cJSON_Delete(h);
        free(org);
        free(why);
        free(note);
    }
    bp_status rc = bp_state_audit_rows(st, NULL, NULL, export_row, &o);
    free(c.leaves);
    return rc == BP_OK ? o.written : -1;
}
