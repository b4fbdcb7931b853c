/* Reading replies: the body, or a fault wherever it comes, and what each kind
 * of failure means for the record (reject it or try again). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "soap.h"
#include "../common/xml_untrusted.h"

/* Fault code (local part, before any '.' refinement such as Client.Auth)
 * -> result. A client/sender fault says the record is wrong: retrying cannot
 * help. A server/receiver fault says the service failed: try again later. */
static const struct {
    const char *code;
    bp_status st;
} sr_fault_table[] = {
    {"Client", BP_REJECT},
    {"Sender", BP_REJECT},
    {"VersionMismatch", BP_REJECT},
    {"MustUnderstand", BP_REJECT},
    {"DataEncodingUnknown", BP_REJECT},
    {"Server", BP_RETRY},
    {"Receiver", BP_RETRY},
};

bp_status soap_fault_class(const char *code, long http_status)
{
    /* Refused credentials (node-soap: Client fault with HTTP 401) are the
     * configuration's fault, not the record's: retry, and dead-letter only when
     * retries run out, so fixing the password and replaying loses nothing. */
    if (http_status == 401 || http_status == 403)
        return BP_RETRY;
    size_t n = strcspn(code, ".");
    for (size_t i = 0; i < sizeof(sr_fault_table) / sizeof(sr_fault_table[0]); i++)
        if (strlen(sr_fault_table[i].code) == n && strncasecmp(code, sr_fault_table[i].code, n) == 0)
            return sr_fault_table[i].st;
    /* An unknown code: the HTTP status decides (SOAP 1.1 sends faults with 500). */
    return http_status >= 500 ? BP_RETRY : BP_REJECT;
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
static void sr_fault(xmlNodePtr fault, soap_fault *f)
{
    char code[128] = "", text[400] = "", detail[300] = "";
    xmlNodePtr c;
    if ((c = sr_child(fault, "faultcode")) != NULL) {
        sr_text(c, code, sizeof(code));
        sr_text(sr_child(fault, "faultstring"), text, sizeof(text));
        sr_text(sr_child(fault, "detail"), detail, sizeof(detail));
    } else {
        sr_text(sr_child(sr_child(fault, "Code"), "Value"), code, sizeof(code));
        sr_text(sr_child(sr_child(fault, "Reason"), "Text"), text, sizeof(text));
        sr_text(sr_child(fault, "Detail"), detail, sizeof(detail));
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
    char err[256], snip[220];
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
        bp_status st = http_classify_status(http_status);
        *why = api->format("HTTP %ld, not a SOAP reply (%s): %s", http_status,
                           len ? err : "empty body", len ? snip : "");
        return st == BP_OK || st == BP_REJECT ? BP_RETRY : st;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr body = NULL;
    if (sr_is(root, "Envelope") && sr_is_env_ns(root))
        for (xmlNodePtr c = root->children; c; c = c->next)
            if (sr_is(c, "Body") && sr_is_env_ns(c))
                body = c;
    if (body == NULL) {
        http_snippet(buf, len, 200, snip, sizeof(snip));
        *why = api->format("HTTP %ld, XML but not a SOAP envelope: %s", http_status, snip);
        xmlFreeDoc(doc);
        bp_status st = http_classify_status(http_status);
        return st == BP_OK ? BP_REJECT : st;
    }
    xmlNodePtr first = sr_first_elem(body);
    if (sr_is(first, "Fault") && sr_is_env_ns(first)) {
        soap_fault f;
        sr_fault(first, &f);
        bp_status st = soap_fault_class(f.code, http_status);
        *why = api->format("SOAP fault %s (HTTP %ld): %s", f.code, http_status, f.text);
        xmlFreeDoc(doc);
        return st;
    }
    bp_status st = http_classify_status(http_status);
    if (st != BP_OK) {
        *why = api->format("HTTP %ld with a SOAP body but no fault", http_status);
        xmlFreeDoc(doc);
        return st;
    }
    *doc_out = doc;
    *body_out = first;
    return BP_OK;
}
