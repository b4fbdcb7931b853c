/* Lookups: a named query calls its operation with the lookup's params as the
 * record's data (request paths data.X), and the response mapping builds the
 * result (paths data.X become the result's fields). Safe to call from several
 * threads at once: the operation is read-only after init, each call gets its
 * own scratch envelopes, XPath context and pooled curl handle. */
#include <string.h>

#include "soap.h"

static const soap_op *sl_find(soap_conn *self, const char *query)
{
    for (size_t i = 0; i < self->n_queries; i++)
        if (strcmp(self->query_names[i], query) == 0)
            return &self->queries[i];
    if (self->op.name && strcmp(self->op.name, query) == 0)
        return &self->op;
    return NULL;
}

bp_status soap_lookup_run(soap_conn *self, const char *query, const cJSON *params,
                          cJSON **result, char **errmsg)
{
    const struct bp_host_api *api = self->api;
    *result = NULL;
    const soap_op *op = sl_find(self, query);
    if (op == NULL) {
        *errmsg = api->format("no query named '%s' (see queries:)", query);
        return BP_ERR_NOT_FOUND;
    }
    if (op->resp.n == 0) {
        *errmsg = api->format("query '%s' has no response mapping", query);
        return BP_ERR_INVALID;
    }
    bp_envelope *in = api->envelope_new();
    bp_envelope *out = api->envelope_new();
    cJSON *data = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
    char *req = NULL, *why = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    xmlNodePtr body = NULL;
    bp_status st = BP_ERR_NOMEM;
    if (in == NULL || out == NULL || data == NULL) {
        cJSON_Delete(data);
        goto done;
    }
    if (api->envelope_set0_data(in, data) != BP_OK)   /* takes data, also on failure */
        goto done;
    st = soap_request_build(self, op, in, NULL, NULL, &req, &len, &why);
    if (st != BP_OK)
        goto done;
    st = soap_call(self, op, req, len, &doc, &body, &why);
    if (st != BP_OK)
        goto done;
    xmlXPathContextPtr ctx = soap_xpath_ctx(doc, &self->ns);
    if (ctx == NULL) {
        st = BP_ERR_NOMEM;
        goto done;
    }
    ctx->node = body;
    st = soap_map_apply(&op->resp, api, ctx, out, &why);
    xmlXPathFreeContext(ctx);
    if (st != BP_OK)
        goto done;
    const cJSON *got = api->envelope_get0_data(out);
    if (got == NULL || (cJSON_IsObject(got) && got->child == NULL)) {
        st = BP_ERR_NOT_FOUND;
        goto done;
    }
    *result = cJSON_Duplicate(got, 1);
    st = *result ? BP_OK : BP_ERR_NOMEM;
done:
    if (st != BP_OK && st != BP_ERR_NOT_FOUND)
        *errmsg = why ? why : api->format("query '%s' failed (status %d)", query, (int)st);
    else
        api->free(why);
    if (doc)
        xmlFreeDoc(doc);
    free(req);
    if (in)
        api->envelope_unref(in);
    if (out)
        api->envelope_unref(out);
    return st;
}
