/* libFuzzer target for the SOAP connector's reply handling: any bytes as an
 * HTTP body (with the status the first byte picks) must be read as a body, a
 * fault or a refusal with a reason, and a body must go through the response
 * mapping (records XPath, typed values into an envelope) without undefined
 * behaviour, leaks, or entity expansion.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_soap_reply tests/fuzz/corpus/soap_reply
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "soap.h"
#include "runtime.h"

static const struct bp_host_api *api = &bp_host_api_table;

/* The mapping of the CRM source in tests/e2e/soap.sh, compiled once. */
static soap_map *fz_map(soap_ns *ns, xmlXPathCompExprPtr *records)
{
    static soap_map map;
    static int done;
    static char *prefix[] = {"crm"}, *uri[] = {"urn:example:crm"};
    ns->prefix = prefix;
    ns->uri = uri;
    ns->n = 1;
    static xmlXPathCompExprPtr rec;
    if (!done) {
        xmlInitParser();
        cJSON *m = cJSON_Parse(
            "{\"subject\": \"string(crm:Id)\", \"data.id\": \"crm:Id\", \"data.name\": \"crm:Name\","
            " \"data.score\": {\"xpath\": \"crm:Score\", \"type\": \"number\"},"
            " \"data.active\": {\"xpath\": \"crm:Active\", \"type\": \"boolean\"},"
            " \"data.modified\": {\"xpath\": \"crm:ModifiedAt\", \"type\": \"date\"},"
            " \"data.count\": \"count(../crm:Contact)\", \"data.any\": \"boolean(crm:Email)\"}");
        char *err = NULL;
        if (m == NULL || soap_map_compile(&map, m, "response", ns, api, &err) != 0)
            abort();
        cJSON_Delete(m);
        rec = soap_xpath_compile("//crm:GetContactsResponse/crm:Contact | //crm:Account", ns);
        if (rec == NULL)
            abort();
        done = 1;
    }
    *records = rec;
    return &map;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    soap_ns ns;
    xmlXPathCompExprPtr records;
    soap_map *map = fz_map(&ns, &records);
    static const long statuses[] = {200, 500, 401, 502};
    long status = size ? statuses[data[0] % 4] : 200;
    xmlDocPtr doc = NULL;
    xmlNodePtr body = NULL;
    char *why = NULL;
    bp_status st = soap_reply_read(api, status, (const char *)data, size, &doc, &body, &why);
    if (st != BP_OK) {
        if (why == NULL)
            abort();          /* every refusal says why */
        api->free(why);
        return 0;
    }
    xmlXPathContextPtr ctx = soap_xpath_ctx(doc, &ns);
    ctx->node = body;
    xmlXPathObjectPtr r = xmlXPathCompiledEval(records, ctx);
    int n = r && r->type == XPATH_NODESET && r->nodesetval ? r->nodesetval->nodeNr : 0;
    for (int i = 0; i < n && i < 64; i++) {
        bp_envelope *env = bp_envelope_new();
        ctx->node = r->nodesetval->nodeTab[i];
        char *w = NULL;
        if (soap_map_apply(map, api, ctx, env, &w) != BP_OK && w == NULL)
            abort();
        api->free(w);
        bp_envelope_unref(env);
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return 0;
}
