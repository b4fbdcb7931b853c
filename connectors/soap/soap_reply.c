/* Reading replies: the body, or a fault wherever it comes, and what each kind
 * of failure means for the record (reject it or try again). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "soap.h"
#include "../common/xml_untrusted.h"

/* Fault code -> result. Full codes are looked up first (the WS-Security
 * fault codes of OASIS WSS 1.1: the caller's token was refused — the rule of
 * connectors/common/fault.h: not connected, never a reject), then the local
 * part before any '.' refinement (Client.Auth -> Client). A client/sender
 * fault says the record is wrong: retrying cannot help. A server/receiver
 * fault says the service failed: try again later. */
static const struct {
    const char *code;
    int whole;               /* 1: match the whole code, 0: its part before '.' */
    bp_status st;
    const char *cause;
} sr_fault_table[] = {
    {"FailedAuthentication", 1, BP_NOT_CONNECTED, FAULT_CREDENTIALS},
    {"InvalidSecurityToken", 1, BP_NOT_CONNECTED, FAULT_CREDENTIALS},
    {"SecurityTokenUnavailable", 1, BP_NOT_CONNECTED, FAULT_CREDENTIALS},
    {"InvalidSecurity", 1, BP_NOT_CONNECTED, "WS-Security header refused"},
    {"FailedCheck", 1, BP_NOT_CONNECTED, "WS-Security signature or encryption refused"},
    {"MessageExpired", 1, BP_RETRY, NULL},   /* a clock skew or a slow call: a new timestamp */
    {"Client", 0, BP_REJECT, NULL},
    {"Sender", 0, BP_REJECT, NULL},
    {"VersionMismatch", 0, BP_REJECT, NULL},
    {"MustUnderstand", 0, BP_REJECT, NULL},
    {"DataEncodingUnknown", 0, BP_REJECT, NULL},
    {"Server", 0, BP_RETRY, NULL},
    {"Receiver", 0, BP_RETRY, NULL},
};

fault soap_fault_class(const char *code, long http_status)
{
    /* Refused credentials or permissions (node-soap: a Client fault with HTTP
     * 401) are the configuration's fault, not the record's: not connected,
     * whatever the fault code says. */
    fault h = fault_http_status(http_status);
    if (h.st == BP_NOT_CONNECTED && (http_status == 401 || http_status == 403 || http_status == 407))
        return h;
    size_t n = strcspn(code, ".");
    for (size_t i = 0; i < sizeof(sr_fault_table) / sizeof(sr_fault_table[0]); i++) {
        size_t len = sr_fault_table[i].whole ? strlen(code) : n;
        if (strlen(sr_fault_table[i].code) == len && strncasecmp(code, sr_fault_table[i].code, len) == 0)
            return (fault){sr_fault_table[i].st, sr_fault_table[i].cause};
    }
    /* An unknown code: the HTTP status decides (SOAP 1.1 sends faults with 500). */
    return (fault){http_status >= 500 ? BP_RETRY : BP_REJECT, NULL};
}

/* *why for a fault: its cause, then the text (host-allocated). */
static char *sr_why(const struct bp_host_api *api, fault f, const char *text)
{
    char buf[1200];
    return api->format("%s", fault_reason(f, text, buf, sizeof(buf)));
}

static int sr_is(xmlNodePtr n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, local) == 0;
}

static int sr_is_env_ns(xmlNodePtr n)
{
    return n->ns && (strcmp((const char *)n->ns->href, SOAP11_NS) == 0 ||
                     strcmp((const char *)n->ns->href, SOAP12_NS) == 0);
}

static xmlNodePtr sr_child(xmlNodePtr parent, const char *local)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (sr_is(c, local))
            return c;
    return NULL;
}

static xmlNodePtr sr_first_elem(xmlNodePtr parent)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

/* Text content of n, trimmed, into out. */
static void sr_text(xmlNodePtr n, char *out, size_t outsz)
{
    out[0] = '\0';
    if (n == NULL)
        return;
    xmlChar *s = xmlNodeGetContent(n);
    if (s)
        http_snippet((const char *)s, strlen((const char *)s), outsz - 1, out, outsz);
    xmlFree(s);
    size_t a = strspn(out, " ");
    if (a)
        memmove(out, out + a, strlen(out + a) + 1);
    size_t l = strlen(out);
    while (l && out[l - 1] == ' ')
        out[--l] = '\0';
}

/* Reads a fault in either shape, whatever the envelope's version: 1.1
 * faultcode/faultstring/detail or 1.2 Code/Value (+Subcode), Reason/Text,
 * Detail (node-soap sends the 1.2 shape inside a 1.1 envelope). */
static void sr_fault(xmlNodePtr fnode, soap_fault *f)
{
    char code[128] = "", text[400] = "", detail[300] = "";
    xmlNodePtr c;
    if ((c = sr_child(fnode, "faultcode")) != NULL) {
        sr_text(c, code, sizeof(code));
        sr_text(sr_child(fnode, "faultstring"), text, sizeof(text));
        sr_text(sr_child(fnode, "detail"), detail, sizeof(detail));
    } else {
        sr_text(sr_child(sr_child(fnode, "Code"), "Value"), code, sizeof(code));
        sr_text(sr_child(sr_child(fnode, "Reason"), "Text"), text, sizeof(text));
        sr_text(sr_child(fnode, "Detail"), detail, sizeof(detail));
    }
    const char *local = strrchr(code, ':');
    snprintf(f->code, sizeof(f->code), "%s", local ? local + 1 : code[0] ? code : "unknown");
    if (detail[0] && strcmp(detail, text) != 0)
        snprintf(f->text, sizeof(f->text), "%s (detail: %s)", text[0] ? text : "no reason given",
                 detail);
    else
        snprintf(f->text, sizeof(f->text), "%s", text[0] ? text : "no reason given");
}

bp_status soap_reply_read(const struct bp_host_api *api, long http_status, const char *buf,
                          size_t len, xmlDocPtr *doc_out, xmlNodePtr *body_out, char **why)
{
    *doc_out = NULL;
    *body_out = NULL;
    char err[256], snip[220], text[1000];
    int dtd = 0;
    xmlDocPtr doc = len ? xml_parse_untrusted(buf, len, err, sizeof(err), &dtd) : NULL;
    if (doc == NULL) {
        if (dtd) {
            *why = api->format("HTTP %ld: reply refused: %s (external entities and DTDs are "
                               "never loaded)", http_status, err);
            return BP_REJECT;
        }
        /* Not XML at all: an error page or a stack trace. The service is in
         * trouble, not the record: try again, and show what it said. */
        http_snippet(buf, len, 200, snip, sizeof(snip));
        fault f = http_classify_status(http_status);
        if (f.st == BP_OK || f.st == BP_REJECT)
            f = (fault){BP_RETRY, NULL};
        snprintf(text, sizeof(text), "HTTP %ld, not a SOAP reply (%s): %s", http_status,
                 len ? err : "empty body", len ? snip : "");
        *why = sr_why(api, f, text);
        return f.st;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr body = NULL;
    if (sr_is(root, "Envelope") && sr_is_env_ns(root))
        for (xmlNodePtr c = root->children; c; c = c->next)
            if (sr_is(c, "Body") && sr_is_env_ns(c))
                body = c;
    if (body == NULL) {
        http_snippet(buf, len, 200, snip, sizeof(snip));
        snprintf(text, sizeof(text), "HTTP %ld, XML but not a SOAP envelope: %s", http_status, snip);
        xmlFreeDoc(doc);
        fault f = http_classify_status(http_status);
        if (f.st == BP_OK)
            f.st = BP_REJECT;
        *why = sr_why(api, f, text);
        return f.st;
    }
    xmlNodePtr first = sr_first_elem(body);
    if (sr_is(first, "Fault") && sr_is_env_ns(first)) {
        soap_fault sf;
        sr_fault(first, &sf);
        fault f = soap_fault_class(sf.code, http_status);
        snprintf(text, sizeof(text), "SOAP fault %s (HTTP %ld): %s", sf.code, http_status, sf.text);
        *why = sr_why(api, f, text);
        xmlFreeDoc(doc);
        return f.st;
    }
    fault f = http_classify_status(http_status);
    if (f.st != BP_OK) {
        snprintf(text, sizeof(text), "HTTP %ld with a SOAP body but no fault", http_status);
        *why = sr_why(api, f, text);
        xmlFreeDoc(doc);
        return f.st;
    }
    *doc_out = doc;
    *body_out = first;
    return BP_OK;
}
