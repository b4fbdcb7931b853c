/* `backplane soap inspect URL|FILE`: reads a WSDL 1.1 document (over HTTP(S)
 * with TLS verification, or from a file; parsed without DTDs or network),
 * lists its services, ports, operations and their input/output elements with
 * the schema's fields, and prints a starting site-file connector for each
 * operation of the first port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soap.h"
#include "../common/xml_untrusted.h"

#define WSDL_NS "http://schemas.xmlsoap.org/wsdl/"
#define WSDL_SOAP11_NS "http://schemas.xmlsoap.org/wsdl/soap/"
#define WSDL_SOAP12_NS "http://schemas.xmlsoap.org/wsdl/soap12/"
#define XSD_NS "http://www.w3.org/2001/XMLSchema"
#define SI_MAX_DEPTH 6

typedef struct si {
    xmlDocPtr doc;
    xmlNodePtr root;
    FILE *out;
} si;

static int si_is(xmlNodePtr n, const char *ns, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, local) == 0;
}

static const char *si_attr(xmlNodePtr n, const char *name, char *buf, size_t bufsz)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    if (v == NULL)
        return NULL;
    snprintf(buf, bufsz, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

/* A QName attribute resolved against the namespaces in scope at n. */
static int si_qname(xmlNodePtr n, const char *attr, char *ns, size_t nssz, char *local,
                    size_t localsz)
{
    char v[256];
    if (si_attr(n, attr, v, sizeof(v)) == NULL)
        return -1;
    char *colon = strchr(v, ':');
    xmlNsPtr x = NULL;
    if (colon) {
        *colon = '\0';
        x = xmlSearchNs(n->doc, n, BAD_CAST v);
        snprintf(local, localsz, "%s", colon + 1);
    } else {
        x = xmlSearchNs(n->doc, n, NULL);
        snprintf(local, localsz, "%s", v);
    }
    snprintf(ns, nssz, "%s", x ? (const char *)x->href : "");
    return 0;
}

/* A top-level WSDL element (message, portType, binding) by name. */
static xmlNodePtr si_find(si *s, const char *kind, const char *name)
{
    char v[256];
    for (xmlNodePtr c = s->root->children; c; c = c->next)
        if (si_is(c, WSDL_NS, kind) && si_attr(c, "name", v, sizeof(v)) && strcmp(v, name) == 0)
            return c;
    return NULL;
}

/* A top-level schema component (element or complexType) by namespace and name. */
static xmlNodePtr si_schema_find(si *s, const char *kind, const char *ns, const char *name,
                                 int *qualified)
{
    char v[256], tns[512];
    for (xmlNodePtr t = s->root->children; t; t = t->next) {
        if (!si_is(t, WSDL_NS, "types"))
            continue;
        for (xmlNodePtr sc = t->children; sc; sc = sc->next) {
            if (!si_is(sc, XSD_NS, "schema"))
                continue;
            if (strcmp(si_attr(sc, "targetNamespace", tns, sizeof(tns)) ? tns : "", ns) != 0)
                continue;
            for (xmlNodePtr c = sc->children; c; c = c->next)
                if (si_is(c, XSD_NS, kind) && si_attr(c, "name", v, sizeof(v)) &&
                    strcmp(v, name) == 0) {
                    if (qualified)
                        *qualified = si_attr(sc, "elementFormDefault", v, sizeof(v)) &&
                                     strcmp(v, "qualified") == 0;
                    return c;
                }
        }
    }
    return NULL;
}

/* The sequence/all/choice of a complexType (inline under el, or named). */
static xmlNodePtr si_particles(si *s, xmlNodePtr el, const char *ns, int *qualified)
{
    xmlNodePtr ct = NULL;
    for (xmlNodePtr c = el->children; c && !ct; c = c->next)
        if (si_is(c, XSD_NS, "complexType"))
            ct = c;
    if (ct == NULL) {
        char tns[512], tname[256];
        if (si_qname(el, "type", tns, sizeof(tns), tname, sizeof(tname)) < 0 ||
            strcmp(tns, XSD_NS) == 0)
            return NULL;
        ct = si_schema_find(s, "complexType", tns, tname, qualified);
        (void)ns;
    }
    for (xmlNodePtr c = ct ? ct->children : NULL; c; c = c->next)
        if (si_is(c, XSD_NS, "sequence") || si_is(c, XSD_NS, "all") || si_is(c, XSD_NS, "choice"))
            return c;
    return NULL;
}

/* Lists the fields below el; with path/xpath prefixes, prints mapping lines
 * (mode 1: request "A/B: data.a.b", mode 2: response "data.a.b: XPath"). */
static void si_fields(si *s, xmlNodePtr el, const char *ns, int qualified, int depth, int mode,
                      const char *elpath, const char *datapath, const char *xpath)
{
    if (depth > SI_MAX_DEPTH)
        return;
    xmlNodePtr seq = si_particles(s, el, ns, &qualified);
    for (xmlNodePtr c = seq ? seq->children : NULL; c; c = c->next) {
        char name[256], type[256], maxo[32], ep[1024], dp[1024], xp[2048];
        if (!si_is(c, XSD_NS, "element") || si_attr(c, "name", name, sizeof(name)) == NULL)
            continue;
        int repeated = si_attr(c, "maxOccurs", maxo, sizeof(maxo)) && strcmp(maxo, "1") != 0;
        snprintf(ep, sizeof(ep), "%s%s%s", elpath, *elpath ? "/" : "", name);
        char lower[256];
        snprintf(lower, sizeof(lower), "%s", name);
        if (lower[0] >= 'A' && lower[0] <= 'Z')
            lower[0] = (char)(lower[0] - 'A' + 'a');
        snprintf(dp, sizeof(dp), "%s.%s", datapath, lower);
        snprintf(xp, sizeof(xp), "%s/%s%s", xpath, qualified ? "tns:" : "", name);
        int leaf = si_particles(s, c, ns, &qualified) == NULL;
        if (mode == 0) {
            fprintf(s->out, "%*s%s  %s%s\n", 8 + 2 * depth, "", name,
                    si_attr(c, "type", type, sizeof(type)) ? type : "(complex)",
                    repeated ? " [repeated]" : "");
        } else if (leaf && mode == 1) {
            fprintf(s->out, "      %s: %s\n", ep, dp);
        } else if (leaf && mode == 2) {
            const char *t = si_attr(c, "type", type, sizeof(type)) ? type : "";
            const char *local = strchr(t, ':') ? strchr(t, ':') + 1 : t;
            const char *typed = strcmp(local, "boolean") == 0                         ? "boolean"
                                : strcmp(local, "date") == 0 || strcmp(local, "dateTime") == 0 ? "date"
                                : strstr(local, "nt") || strstr(local, "ecimal") ||
                                        strcmp(local, "double") == 0 || strcmp(local, "float") == 0 ||
                                        strcmp(local, "long") == 0 || strcmp(local, "short") == 0 ||
                                        strcmp(local, "byte") == 0
                                    ? "number"
                                    : NULL;
            if (typed)
                fprintf(s->out, "      %s: { xpath: \"%s\", type: %s }\n", dp, xp, typed);
            else
                fprintf(s->out, "      %s: \"string(%s)\"\n", dp, xp);
        }
        if (!leaf && repeated && mode == 2)
            fprintf(s->out, "      # %s repeats: as a source, records: \"%s\" and map relative to it\n",
                    name, xp);
        if (!leaf)
            si_fields(s, c, ns, qualified, depth + 1, mode, ep, dp, xp);
    }
}

/* The element of a message's first part, printed with its fields. */
static xmlNodePtr si_message_element(si *s, xmlNodePtr io, char *ns, size_t nssz, char *name,
                                     size_t namesz, int *qualified)
{
    char mns[512], mname[256];
    if (io == NULL || si_qname(io, "message", mns, sizeof(mns), mname, sizeof(mname)) < 0)
        return NULL;
    xmlNodePtr msg = si_find(s, "message", mname);
    for (xmlNodePtr p = msg ? msg->children : NULL; p; p = p->next)
        if (si_is(p, WSDL_NS, "part") &&
            si_qname(p, "element", ns, nssz, name, namesz) == 0)
            return si_schema_find(s, "element", ns, name, qualified);
    return NULL;
}

static xmlNodePtr si_child(xmlNodePtr n, const char *ns, const char *local)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (si_is(c, ns, local))
            return c;
    return NULL;
}

static void si_port(si *s, xmlNodePtr port, int mapping)
{
    char pname[256], bns[512], bname[256], loc[1024] = "", v[256];
    si_attr(port, "name", pname, sizeof(pname));
    if (si_qname(port, "binding", bns, sizeof(bns), bname, sizeof(bname)) < 0)
        return;
    xmlNodePtr addr = si_child(port, WSDL_SOAP11_NS, "address");
    int v12 = 0;
    if (addr == NULL && (addr = si_child(port, WSDL_SOAP12_NS, "address")) != NULL)
        v12 = 1;
    if (addr)
        si_attr(addr, "location", loc, sizeof(loc));
    xmlNodePtr binding = si_find(s, "binding", bname);
    if (binding == NULL)
        return;
    if (si_child(binding, WSDL_SOAP12_NS, "binding"))
        v12 = 1;
    char tns_[512], ptname[256];
    si_qname(binding, "type", tns_, sizeof(tns_), ptname, sizeof(ptname));
    xmlNodePtr pt = si_find(s, "portType", ptname);
    if (!mapping)
        fprintf(s->out, "  port %s (SOAP %s)  %s\n", pname, v12 ? "1.2" : "1.1", loc);
    for (xmlNodePtr op = pt ? pt->children : NULL; op; op = op->next) {
        char oname[256], action[512] = "";
        if (!si_is(op, WSDL_NS, "operation") || !si_attr(op, "name", oname, sizeof(oname)))
            continue;
        for (xmlNodePtr bo = binding->children; bo; bo = bo->next)
            if (si_is(bo, WSDL_NS, "operation") && si_attr(bo, "name", v, sizeof(v)) &&
                strcmp(v, oname) == 0) {
                xmlNodePtr so = si_child(bo, v12 ? WSDL_SOAP12_NS : WSDL_SOAP11_NS, "operation");
                if (so)
                    si_attr(so, "soapAction", action, sizeof(action));
            }
        char ins[512] = "", iname[256] = "", ons[512] = "", oname2[256] = "";
        int iq = 1, oq = 1;
        xmlNodePtr in = si_message_element(s, si_child(op, WSDL_NS, "input"), ins, sizeof(ins),
                                           iname, sizeof(iname), &iq);
        xmlNodePtr out = si_message_element(s, si_child(op, WSDL_NS, "output"), ons, sizeof(ons),
                                            oname2, sizeof(oname2), &oq);
        if (!mapping) {
            fprintf(s->out, "    operation %s  soapAction \"%s\"\n", oname, action);
            fprintf(s->out, "      input  {%s}%s\n", ins, iname);
            if (in)
                si_fields(s, in, ins, iq, 0, 0, "", "", "");
            fprintf(s->out, "      output {%s}%s\n", ons, oname2);
            if (out)
                si_fields(s, out, ons, oq, 0, 0, "", "", "");
            continue;
        }
        char cname[256];
        size_t k = 0;
        for (; oname[k] && k + 1 < sizeof(cname); k++)
            cname[k] = (oname[k] >= 'A' && oname[k] <= 'Z') ? (char)(oname[k] - 'A' + 'a') : oname[k];
        cname[k] = '\0';
        fprintf(s->out, "  %s:\n    plugin: soap\n    endpoint: \"%s\"\n", cname, loc);
        fprintf(s->out, "    soap_version: \"%s\"\n", v12 ? "1.2" : "1.1");
        fprintf(s->out, "    namespace: \"%s\"\n    namespaces: { tns: \"%s\" }\n", ins, ons);
        fprintf(s->out, "    operation: %s\n    soap_action: \"%s\"\n", iname[0] ? iname : oname,
                action);
        if (in) {
            fprintf(s->out, "    request:\n");
            si_fields(s, in, ins, iq, 0, 1, "", "data", "");
        }
        if (out) {
            char root[300];
            snprintf(root, sizeof(root), "//tns:%s", oname2);
            fprintf(s->out, "    response:\n");
            si_fields(s, out, ons, oq, 0, 2, "", "data", root);
        }
    }
}

/* The WSDL at a URL (HTTP(S), TLS verified) or in a file, parsed safely. */
static xmlDocPtr si_load(const char *where)
{
    char err[256];
    xmlDocPtr doc = NULL;
    if (strncmp(where, "http://", 7) != 0 && strncmp(where, "https://", 8) != 0) {
        doc = xml_parse_untrusted_file(where, err, sizeof(err), NULL);
        if (doc == NULL)
            fprintf(stderr, "soap inspect: %s:%s\n", where, err);
        return doc;
    }
    http_opts o = {.timeout_ms = 30000, .connect_timeout_ms = 10000, .tls_verify = 1};
    http_buf b = {.limit = 10 << 20};
    CURL *h = curl_easy_init();
    CURLcode rc = h ? http_easy_setup(h, &o, &b) : CURLE_FAILED_INIT;
    if (rc == CURLE_OK) {
        curl_easy_setopt(h, CURLOPT_URL, where);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        rc = curl_easy_perform(h);
    }
    long status = 0;
    if (h) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
    }
    if (rc != CURLE_OK)
        fprintf(stderr, "soap inspect: %s: %s\n", where,
                b.over ? "larger than 10 MiB" : http_error_text(&b, rc));
    else if (status != 200)
        fprintf(stderr, "soap inspect: %s: HTTP %ld\n", where, status);
    else if ((doc = xml_parse_untrusted(b.data ? b.data : "", b.len, err, sizeof(err), NULL)) == NULL)
        fprintf(stderr, "soap inspect: %s:%s\n", where, err);
    http_buf_free(&b);
    return doc;
}

int soap_inspect_main(const struct bp_host_api *api, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: backplane soap inspect URL|FILE\n"
                        "  lists the services, operations and elements of a WSDL and prints\n"
                        "  a starting connector for each operation (e.g. URL?wsdl)\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    (void)api;
    si s = {.out = stdout};
    s.doc = si_load(argv[1]);
    if (s.doc == NULL) {
        curl_global_cleanup();
        return 1;
    }
    s.root = xmlDocGetRootElement(s.doc);
    if (!si_is(s.root, WSDL_NS, "definitions")) {
        fprintf(stderr, "soap inspect: %s: not a WSDL 1.1 document (no wsdl:definitions)\n",
                argv[1]);
        xmlFreeDoc(s.doc);
        curl_global_cleanup();
        return 1;
    }
    xmlNodePtr first_port = NULL;
    char v[256];
    for (xmlNodePtr svc = s.root->children; svc; svc = svc->next) {
        if (!si_is(svc, WSDL_NS, "service"))
            continue;
        printf("service %s\n", si_attr(svc, "name", v, sizeof(v)) ? v : "?");
        for (xmlNodePtr p = svc->children; p; p = p->next)
            if (si_is(p, WSDL_NS, "port")) {
                if (first_port == NULL)
                    first_port = p;
                si_port(&s, p, 0);
            }
    }
    if (first_port) {
        printf("\n# A starting point for the site file (first port; adjust the data paths):\n"
               "connectors:\n");
        si_port(&s, first_port, 1);
    }
    xmlFreeDoc(s.doc);
    curl_global_cleanup();
    return first_port ? 0 : 1;
}
