/* Table-driven tests of the SOAP connector's reply classification: fault code
 * and HTTP status -> reject or retry, and whole replies (each fault shape,
 * error pages, DTDs) -> result and reason, and typed response mapping. */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "soap.h"
#include "xml_untrusted.h"
#include "runtime.h"
#include "tap.h"

static const struct bp_host_api *api = &bp_host_api_table;

#define E11 "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
#define E12 "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body>"

static void test_fault_class(void)
{
    static const struct {
        const char *code;
        long http;
        bp_status want;
    } t[] = {
        {"Client", 500, BP_REJECT},        {"Client", 200, BP_REJECT},
        {"Client.Validation", 500, BP_REJECT}, {"Sender", 400, BP_REJECT},
        {"VersionMismatch", 500, BP_REJECT}, {"MustUnderstand", 500, BP_REJECT},
        {"DataEncodingUnknown", 500, BP_REJECT}, {"Server", 500, BP_RETRY},
        {"Server", 200, BP_RETRY},         {"Server.Busy", 503, BP_RETRY},
        {"Receiver", 500, BP_RETRY},       {"client", 500, BP_REJECT},
        /* The rule (connectors/common/fault.h): refused credentials and
         * missing permissions are not connected, whatever the fault code. */
        {"Client", 401, BP_NOT_CONNECTED}, {"Sender", 403, BP_NOT_CONNECTED},
        {"Server", 401, BP_NOT_CONNECTED},
        {"FailedAuthentication", 500, BP_NOT_CONNECTED},
        {"InvalidSecurityToken", 200, BP_NOT_CONNECTED},
        {"InvalidSecurity", 500, BP_NOT_CONNECTED}, {"FailedCheck", 500, BP_NOT_CONNECTED},
        {"MessageExpired", 500, BP_RETRY},
        {"Client.FailedAuthentication", 500, BP_REJECT},   /* not the WSS code: Client */
        {"Custom", 500, BP_RETRY},         {"Custom", 200, BP_REJECT},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "fault %s with HTTP %ld", t[i].code, t[i].http);
        tap_check_str(fault_name(soap_fault_class(t[i].code, t[i].http).st), fault_name(t[i].want),
                      what, __FILE__, __LINE__);
    }
}

static void test_http_status(void)
{
    static const struct {
        long status;
        bp_status want;
    } t[] = {
        {200, BP_OK},    {204, BP_OK},    {400, BP_REJECT}, {401, BP_NOT_CONNECTED},
        {403, BP_NOT_CONNECTED}, {404, BP_NOT_CONNECTED}, {408, BP_RETRY}, {413, BP_REJECT},
        {429, BP_RETRY}, {500, BP_RETRY},
        {502, BP_RETRY}, {503, BP_RETRY},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "HTTP %ld without a SOAP answer", t[i].status);
        tap_check_str(fault_name(http_classify_status(t[i].status).st), fault_name(t[i].want),
                      what, __FILE__, __LINE__);
    }
    CHECK(http_classify_curl(CURLE_COULDNT_CONNECT, NULL).st == BP_NOT_CONNECTED);
    CHECK(http_classify_curl(CURLE_OPERATION_TIMEDOUT, NULL).st == BP_RETRY);
    /* A certificate that does not verify: not connected (was a retry). */
    CHECK(http_classify_curl(CURLE_PEER_FAILED_VERIFICATION, NULL).st == BP_NOT_CONNECTED);
    CHECK_STR(http_classify_curl(CURLE_PEER_FAILED_VERIFICATION, NULL).cause, FAULT_TLS_VERIFY);
    http_buf big = {.over = 1};
    CHECK(http_classify_curl(CURLE_WRITE_ERROR, &big).st == BP_REJECT);
}

static void test_replies(void)
{
    static const struct {
        long http;
        const char *body;
        bp_status want;
        const char *why;     /* prefix of the reason, or NULL for BP_OK */
    } t[] = {
        {200, E11 "<R xmlns=\"urn:x\"><Id>1</Id></R></soap:Body></soap:Envelope>", BP_OK, NULL},
        {200, E12 "<R/></env:Body></env:Envelope>", BP_OK, NULL},
        {500, E11 "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad id</faultstring>"
              "</soap:Fault></soap:Body></soap:Envelope>", BP_REJECT,
         "SOAP fault Client (HTTP 500): bad id"},
        {200, E11 "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad id</faultstring>"
              "<detail><field>Email</field></detail></soap:Fault></soap:Body></soap:Envelope>",
         BP_REJECT, "SOAP fault Client (HTTP 200): bad id (detail: Email)"},
        {500, E11 "<soap:Fault><soap:Code><soap:Value>SOAP-ENV:Server</soap:Value></soap:Code>"
              "<soap:Reason><soap:Text>Error: x</soap:Text></soap:Reason></soap:Fault>"
              "</soap:Body></soap:Envelope>", BP_RETRY, "SOAP fault Server (HTTP 500): Error: x"},
        {400, E12 "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>"
              "m:Bad</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">"
              "no such contact</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>",
         BP_REJECT, "SOAP fault Sender (HTTP 400): no such contact"},
        {500, E12 "<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code></env:Fault>"
              "</env:Body></env:Envelope>", BP_RETRY, "SOAP fault Receiver (HTTP 500): no reason given"},
        {500, "TypeError: Cannot read properties of undefined\n    at x (/y.js:1:2)\n", BP_RETRY,
         "HTTP 500, not a SOAP reply ("},
        {200, "", BP_RETRY, "HTTP 200, not a SOAP reply (empty body)"},
        {502, "<html><body>Bad Gateway</body></html>", BP_RETRY,
         "HTTP 502, XML but not a SOAP envelope: <html>"},
        {200, "<r/>", BP_REJECT, "HTTP 200, XML but not a SOAP envelope: <r/>"},
        {500, E11 "<R/></soap:Body></soap:Envelope>", BP_RETRY,
         "HTTP 500 with a SOAP body but no fault"},
        {401, "authentication required", BP_NOT_CONNECTED,
         "credentials refused: HTTP 401, not a SOAP reply ("},
        {403, E11 "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>read only</faultstring>"
              "</soap:Fault></soap:Body></soap:Envelope>", BP_NOT_CONNECTED,
         "permission denied: SOAP fault Client (HTTP 403): read only"},
        {500, E11 "<soap:Fault><faultcode xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/"
              "oasis-200401-wss-wssecurity-secext-1.0.xsd\">wsse:FailedAuthentication</faultcode>"
              "<faultstring>bad token</faultstring></soap:Fault></soap:Body></soap:Envelope>",
         BP_NOT_CONNECTED, "credentials refused: SOAP fault FailedAuthentication (HTTP 500): bad token"},
        {404, "<html>Not Found</html>", BP_NOT_CONNECTED,
         "no such endpoint: HTTP 404, XML but not a SOAP envelope"},
        {200, "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
              E11 "<a>&x;</a></soap:Body></soap:Envelope>", BP_REJECT,
         "HTTP 200: reply refused: 2:"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        xmlDocPtr doc = NULL;
        xmlNodePtr body = NULL;
        char *why = NULL;
        bp_status st = soap_reply_read(api, t[i].http, t[i].body, strlen(t[i].body), &doc, &body, &why);
        char what[96];
        snprintf(what, sizeof(what), "reply %zu: result %d", i, (int)t[i].want);
        if (!tap_check(st == t[i].want, what, __FILE__, __LINE__))
            printf("#   got %d: %s\n", (int)st, why ? why : "");
        snprintf(what, sizeof(what), "reply %zu: reason", i);
        int reason_ok = t[i].why ? why && strncmp(why, t[i].why, strlen(t[i].why)) == 0
                                 : why == NULL && doc != NULL && body != NULL;
        if (!tap_check(reason_ok, what, __FILE__, __LINE__))
            printf("#   got:  %s\n#   want: %s\n", why ? why : "NULL", t[i].why ? t[i].why : "NULL");
        api->free(why);
        if (doc)
            xmlFreeDoc(doc);
    }
}

static void test_mapping(void)
{
    static char *prefix[] = {"c"}, *uri[] = {"urn:x"};
    soap_ns ns = {.prefix = prefix, .uri = uri, .n = 1};
    soap_map m;
    char *err = NULL;
    cJSON *bad = cJSON_Parse("{\"data.x\": \"q:Id\"}");
    CHECK(soap_map_compile(&m, bad, "response", &ns, api, &err) == -1);
    CHECK_STR(err, "response.data.x: invalid XPath 'q:Id' (or an unregistered namespace prefix)");
    api->free(err);
    err = NULL;
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"data.x\": {\"xpath\": \"c:Id\", \"type\": \"money\"}}");
    CHECK(soap_map_compile(&m, bad, "response", &ns, api, &err) == -1);
    CHECK_STR(err, "response.data.x: unknown type 'money' (string, number, boolean, date)");
    api->free(err);
    err = NULL;
    cJSON_Delete(bad);

    cJSON *spec = cJSON_Parse(
        "{\"data.n\": {\"xpath\": \"c:N\", \"type\": \"number\"}, \"data.b\": {\"xpath\": \"c:B\", \"type\": \"boolean\"},"
        " \"data.d\": {\"xpath\": \"c:D\", \"type\": \"date\"}, \"data.s\": \"c:S\", \"data.absent\": \"c:Nope\","
        " \"data.count\": \"count(c:S)\"}");
    CHECK(soap_map_compile(&m, spec, "response", &ns, api, &err) == 0);
    cJSON_Delete(spec);
    static const struct {
        const char *n, *b, *d;
        const char *json;     /* data as compact JSON, or NULL when refused */
        const char *why;
    } t[] = {
        {" 12.5 ", "true", "2026-11-23T01:02:03.5Z", "{\"n\":12.5,\"b\":true,\"d\":\"2026-11-23T01:02:03.5Z\",\"s\":\" a & b \",\"count\":1}", NULL},
        {"-3", "0", "2026-02-28", "{\"n\":-3,\"b\":false,\"d\":\"2026-02-28\",\"s\":\" a & b \",\"count\":1}", NULL},
        {"1e3", "1", "2026-11-23T01:02:03+01:00", "{\"n\":1000,\"b\":true,\"d\":\"2026-11-23T01:02:03+01:00\",\"s\":\" a & b \",\"count\":1}", NULL},
        {"abc", "true", "2026-01-01", NULL, "data.n: 'abc' is not a number (from c:N)"},
        {"0x1F", "true", "2026-01-01", NULL, "data.n: '0x1F' is not a number (from c:N)"},
        {"inf", "true", "2026-01-01", NULL, "data.n: 'inf' is not a number (from c:N)"},
        {"1", "yes", "2026-01-01", NULL, "data.b: 'yes' is not a boolean (from c:B)"},
        {"1", "true", "2026-13-01", NULL, "data.d: '2026-13-01' is not a date (from c:D)"},
        {"1", "true", "01/02/2026", NULL, "data.d: '01/02/2026' is not a date (from c:D)"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char xml[600];
        snprintf(xml, sizeof(xml), "<c:R xmlns:c=\"urn:x\"><c:N>%s</c:N><c:B>%s</c:B><c:D>%s</c:D>"
                 "<c:S> a &amp; b </c:S></c:R>", t[i].n, t[i].b, t[i].d);
        char perr[128];
        xmlDocPtr doc = xml_parse_untrusted(xml, strlen(xml), perr, sizeof(perr), NULL);
        xmlXPathContextPtr ctx = soap_xpath_ctx(doc, &ns);
        ctx->node = xmlDocGetRootElement(doc);
        bp_envelope *env = bp_envelope_new();
        char *why = NULL;
        bp_status st = soap_map_apply(&m, api, ctx, env, &why);
        char what[64];
        if (t[i].json) {
            char *got = cJSON_PrintUnformatted(bp_envelope_get0_data(env));
            snprintf(what, sizeof(what), "mapping %zu: typed values", i);
            tap_check(st == BP_OK, what, __FILE__, __LINE__);
            tap_check_str(got, t[i].json, what, __FILE__, __LINE__);
            free(got);
        } else {
            snprintf(what, sizeof(what), "mapping %zu: refused by name", i);
            tap_check(st == BP_REJECT, what, __FILE__, __LINE__);
            tap_check_str(why, t[i].why, what, __FILE__, __LINE__);
        }
        api->free(why);
        bp_envelope_unref(env);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
    }
    soap_map_free(&m);
}

int main(void)
{
    xmlInitParser();
    test_fault_class();
    test_http_status();
    test_replies();
    test_mapping();
    return tap_done();
}
