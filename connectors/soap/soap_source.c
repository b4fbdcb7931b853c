/* The SOAP source: calls its operation with the watermark (GetContacts
 * modifiedSince=W), turns each element the `records` XPath selects into one
 * envelope, and stores the watermark only when the core acks. Records of one
 * reply are ordered by their watermark; the checkpoint moves to a record's
 * watermark only when no later record of the reply shares it, so a crash
 * between two records with the same timestamp re-reads both rather than
 * losing one (the service is asked for records modified after W). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soap.h"

typedef struct ss_rec {
    xmlNodePtr node;
    char *wm;
} ss_rec;

typedef struct ss_pending {
    uint64_t token;
    char *wm;                  /* checkpoint after this record, or NULL */
} ss_pending;

struct soap_src {
    int loaded;
    char *cursor;              /* watermark of the next call: the last pushed */
    xmlDocPtr doc;             /* the reply being handed out */
    ss_rec *recs;
    size_t n_recs, next;
    int64_t next_call_ms;
    uint64_t next_token;
    ss_pending *pend;          /* pushed, not yet acked, in push order */
    size_t n_pend, cap_pend;
};

static void ss_drop_reply(soap_src *s)
{
    for (size_t i = 0; i < s->n_recs; i++)
        free(s->recs[i].wm);
    free(s->recs);
    s->recs = NULL;
    s->n_recs = s->next = 0;
    if (s->doc)
        xmlFreeDoc(s->doc);
    s->doc = NULL;
}

static int ss_cmp(const void *a, const void *b)
{
    const ss_rec *x = a, *y = b;
    int c = strcmp(x->wm ? x->wm : "", y->wm ? y->wm : "");
    /* Stable for equal watermarks: document order. */
    return c ? c : (x->node->line > y->node->line) - (x->node->line < y->node->line);
}

/* One call: the reply's records, sorted by watermark, in s->recs. */
static bp_status ss_fetch(soap_conn *self)
{
    const struct bp_host_api *api = self->api;
    soap_src *s = self->src;
    bp_envelope *scratch = api->envelope_new();
    cJSON *data = cJSON_CreateObject();
    if (scratch == NULL || data == NULL || !cJSON_AddStringToObject(data, "watermark", s->cursor)) {
        cJSON_Delete(data);
        if (scratch)
            api->envelope_unref(scratch);
        return BP_RETRY;
    }
    api->envelope_set0_data(scratch, data);
    char *req = NULL, *why = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    xmlNodePtr body = NULL;
    bp_status st = soap_request_build(self, &self->op, scratch, self->wm_param, s->cursor, &req,
                                      &len, &why);
    api->envelope_unref(scratch);
    if (st == BP_OK)
        st = soap_call(self, &self->op, req, len, &doc, &body, &why);
    free(req);
    if (st != BP_OK) {
        api->log(self->inst, BP_LOG_WARN, "%s(%s): %s", self->op.name ? self->op.name : "call",
                 s->cursor, why ? why : "failed");
        api->free(why);
        return st == BP_NOT_CONNECTED ? BP_NOT_CONNECTED : BP_RETRY;
    }
    xmlXPathContextPtr ctx = soap_xpath_ctx(doc, &self->ns);
    xmlXPathObjectPtr r = NULL;
    if (ctx) {
        ctx->node = body;
        r = xmlXPathCompiledEval(self->records, ctx);
    }
    size_t n = r && r->type == XPATH_NODESET && r->nodesetval ? (size_t)r->nodesetval->nodeNr : 0;
    s->recs = calloc(n ? n : 1, sizeof(*s->recs));
    for (size_t i = 0; s->recs && i < n; i++) {
        xmlNodePtr node = r->nodesetval->nodeTab[i];
        s->recs[s->n_recs].node = node;
        if (self->wm) {
            ctx->node = node;
            xmlXPathObjectPtr w = xmlXPathCompiledEval(self->wm, ctx);
            xmlChar *t = w ? xmlXPathCastToString(w) : NULL;
            if (t && *t)
                s->recs[s->n_recs].wm = strdup((const char *)t);
            xmlFree(t);
            xmlXPathFreeObject(w);
        }
        s->n_recs++;
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    s->doc = doc;
    if (self->wm && s->n_recs > 1)
        qsort(s->recs, s->n_recs, sizeof(*s->recs), ss_cmp);
    api->counter_add(self->inst, "soap_polls", 1);
    return BP_OK;
}

static int ss_pend_push(soap_src *s, uint64_t token, char *wm)
{
    if (s->n_pend == s->cap_pend) {
        size_t cap = s->cap_pend ? s->cap_pend * 2 : 64;
        ss_pending *p = realloc(s->pend, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        s->pend = p;
        s->cap_pend = cap;
    }
    s->pend[s->n_pend].token = token;
    s->pend[s->n_pend++].wm = wm;
    return 0;
}

/* Pushes record s->next. */
static bp_status ss_push(soap_conn *self, bp_poll_batch *batch)
{
    const struct bp_host_api *api = self->api;
    soap_src *s = self->src;
    ss_rec *rec = &s->recs[s->next];
    /* Checkpoint after this record only when the next one moves on. */
    int boundary = s->next + 1 == s->n_recs || !rec->wm || !s->recs[s->next + 1].wm ||
                   strcmp(rec->wm, s->recs[s->next + 1].wm) != 0;
    char *ckpt = boundary && rec->wm ? strdup(rec->wm) : NULL;
    uint64_t token = ++s->next_token;
    if (ss_pend_push(s, token, ckpt) < 0) {
        free(ckpt);
        return BP_ERR_NOMEM;
    }
    bp_envelope *env = api->envelope_new();
    char *why = NULL;
    bp_status st = env ? BP_OK : BP_ERR_NOMEM;
    xmlXPathContextPtr ctx = env ? soap_xpath_ctx(s->doc, &self->ns) : NULL;
    if (env && ctx == NULL)
        st = BP_ERR_NOMEM;
    if (st == BP_OK) {
        ctx->node = rec->node;
        api->envelope_set_attr(env, "type", self->type);
        st = soap_map_apply(&self->op.resp, api, ctx, env, &why);
    }
    xmlXPathFreeContext(ctx);
    if (st == BP_ERR_NOMEM) {
        if (env)
            api->envelope_unref(env);
        s->n_pend--;
        free(ckpt);
        return st;
    }
    if (rec->wm) {
        free(s->cursor);
        s->cursor = strdup(rec->wm);
    }
    s->next++;
    if (st != BP_OK) {
        /* A record the mapping cannot read: dead-letter its XML, go on. */
        api->envelope_unref(env);
        xmlBufferPtr xb = xmlBufferCreate();
        if (xb)
            xmlNodeDump(xb, s->doc, rec->node, 0, 0);
        api->batch_push_invalid(batch, token, why, xb ? (const char *)xmlBufferContent(xb) : "",
                                xb ? (size_t)xmlBufferLength(xb) : 0);
        xmlBufferFree(xb);
        api->free(why);
        return BP_OK;
    }
    api->batch_push(batch, env, token);
    return BP_OK;
}

static bp_status ss_load(soap_conn *self, char **err)
{
    const struct bp_host_api *api = self->api;
    if (self->records == NULL) {
        *err = api->format("source: records (an XPath selecting the records) is required");
        return BP_ERR_INVALID;
    }
    if (self->op.name == NULL && self->op.tmpl == NULL) {
        *err = api->format("source: operation (or template) is required");
        return BP_ERR_INVALID;
    }
    soap_src *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return BP_ERR_NOMEM;
    self->src = s;
    char *wm = NULL;
    bp_status st = api->checkpoint_get(self->inst, "watermark", &wm);
    if (st == BP_OK) {
        s->cursor = strdup(wm);
        api->free(wm);
    } else if (st == BP_ERR_NOT_FOUND) {
        s->cursor = strdup(self->wm_initial);
    } else {
        *err = api->format("cannot read the watermark checkpoint (status %d)", (int)st);
        return st;
    }
    api->log(self->inst, BP_LOG_INFO, "polling %s from watermark %s", self->op.name ? self->op.name : "the template's operation", s->cursor);
    s->loaded = 1;
    return BP_OK;
}

bp_status soap_source_poll(soap_conn *self, bp_poll_batch *batch, int timeout_ms)
{
    const struct bp_host_api *api = self->api;
    if (self->src == NULL) {
        char *err = NULL;
        if (ss_load(self, &err) != BP_OK) {
            api->log(self->inst, BP_LOG_ERROR, "%s", err ? err : "cannot start the source");
            api->free(err);
            soap_source_free(self);
            return BP_RETRY;
        }
    }
    soap_src *s = self->src;
    if (api->batch_room(batch) == 0)
        return BP_OK;          /* backpressure: hold the reply, call nothing */
    if (s->next >= s->n_recs) {
        ss_drop_reply(s);
        int64_t now = api->monotonic_ms();
        if (now < s->next_call_ms) {
            int64_t wait = s->next_call_ms - now;
            if (wait > timeout_ms)
                wait = timeout_ms;
            struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            if (api->monotonic_ms() < s->next_call_ms)
                return BP_AGAIN;
        }
        s->next_call_ms = api->monotonic_ms() + self->interval_ms;
        bp_status st = ss_fetch(self);
        if (st != BP_OK)
            return st;
        if (s->n_recs == 0)
            return self->follow ? BP_AGAIN : BP_EOF;
    }
    while (s->next < s->n_recs && api->batch_room(batch) > 0) {
        bp_status st = ss_push(self, batch);
        if (st != BP_OK)
            return BP_RETRY;
    }
    return BP_OK;
}

bp_status soap_source_ack(soap_conn *self, const uint64_t *tokens, size_t n)
{
    const struct bp_host_api *api = self->api;
    soap_src *s = self->src;
    if (s == NULL || n == 0)
        return BP_OK;
    /* Acks come in push order: the last token acked ends a prefix of pend. */
    uint64_t last = tokens[n - 1];
    size_t k = 0;
    const char *ckpt = NULL;
    while (k < s->n_pend && s->pend[k].token <= last) {
        if (s->pend[k].wm)
            ckpt = s->pend[k].wm;
        k++;
    }
    bp_status st = BP_OK;
    if (ckpt)
        st = api->checkpoint_set(self->inst, "watermark", ckpt);
    if (st != BP_OK)
        return st;
    for (size_t i = 0; i < k; i++)
        free(s->pend[i].wm);
    memmove(s->pend, s->pend + k, (s->n_pend - k) * sizeof(*s->pend));
    s->n_pend -= k;
    return BP_OK;
}

void soap_source_free(soap_conn *self)
{
    soap_src *s = self->src;
    if (s == NULL)
        return;
    ss_drop_reply(s);
    for (size_t i = 0; i < s->n_pend; i++)
        free(s->pend[i].wm);
    free(s->pend);
    free(s->cursor);
    free(s);
    self->src = NULL;
}
