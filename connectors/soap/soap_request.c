/* Requests: an operation's options, and its envelope built with libxml2's
 * tree API from a declarative mapping (element path <- envelope path) or a
 * template whose {{path}} placeholders are replaced by text nodes. Either
 * way the serialiser does the escaping, so a value can never become markup. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlsave.h>

#include "soap.h"
#include "../common/xml_untrusted.h"

static char *sq_dup(const cJSON *cfg, const char *name)
{
    const char *v = bp_cfg_str(cfg, name);
    return v ? strdup(v) : NULL;
}

static const char *sq_ns_uri(const soap_ns *ns, const char *prefix, size_t plen)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strlen(ns->prefix[i]) == plen && strncmp(ns->prefix[i], prefix, plen) == 0)
            return ns->uri[i];
    return NULL;
}

/* Scalar option values as literal text (YAML scalars keep their types in maps). */
static char *sq_scalar_text(const cJSON *v)
{
    char num[64];
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof(num), "%.17g", v->valuedouble);
        return strdup(num);
    }
    return NULL;
}

static int sq_parse_request(soap_conn *self, soap_op *op, const cJSON *req, const char *where,
                            char **err)
{
    const struct bp_host_api *api = self->api;
    if (!cJSON_IsObject(req)) {
        *err = api->format("%s: expected a map of element path: envelope path", where);
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(req);
    op->req = calloc(n ? n : 1, sizeof(*op->req));
    if (op->req == NULL)
        return -1;
    for (const cJSON *it = req->child; it; it = it->next) {
        soap_req_entry *e = &op->req[op->n_req++];
        /* Element path: steps separated by '/', each NAME or PREFIX:NAME. */
        char *copy = strdup(it->string);
        size_t cap = 1;
        for (const char *p = it->string; *p; p++)
            cap += *p == '/';
        e->steps = calloc(cap, sizeof(char *));
        if (copy == NULL || e->steps == NULL) {
            free(copy);
            return -1;
        }
        char *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
            const char *colon = strchr(t, ':');
            if (colon && sq_ns_uri(&self->ns, t, (size_t)(colon - t)) == NULL) {
                *err = api->format("%s.%s: namespace prefix '%.*s' is not in namespaces", where,
                                   it->string, (int)(colon - t), t);
                free(copy);
                return -1;
            }
            if (xmlValidateQName(BAD_CAST t, 0) != 0) {
                *err = api->format("%s.%s: '%s' is not an XML element name", where, it->string, t);
                free(copy);
                return -1;
            }
            e->steps[e->n_steps++] = strdup(t);
        }
        free(copy);
        if (e->n_steps == 0) {
            *err = api->format("%s: empty element path", where);
            return -1;
        }
        if (cJSON_IsString(it) && it->valuestring[0] == '=') {
            e->literal = strdup(it->valuestring + 1);   /* "=text": a fixed value */
        } else if (cJSON_IsString(it)) {
            if (api->path_check(it->valuestring) != BP_OK) {
                *err = api->format("%s.%s: invalid envelope path '%s' (a fixed value is written "
                                   "'=text')", where, it->string, it->valuestring);
                return -1;
            }
            e->path = strdup(it->valuestring);
        } else if ((e->literal = sq_scalar_text(it)) == NULL) {
            *err = api->format("%s.%s: expected an envelope path or '=text'", where, it->string);
            return -1;
        }
    }
    return 0;
}

int soap_op_parse(soap_conn *self, soap_op *op, const cJSON *cfg, const char *where, char **err)
{
    const struct bp_host_api *api = self->api;
    memset(op, 0, sizeof(*op));
    op->name = sq_dup(cfg, "operation");
    op->ns = sq_dup(cfg, "namespace");
    op->action = sq_dup(cfg, "soap_action");
    if (op->name && xmlValidateNCName(BAD_CAST op->name, 0) != 0) {
        *err = api->format("%soperation: '%s' is not an XML element name", where, op->name);
        return -1;
    }
    const cJSON *req = bp_cfg_get0(cfg, "request");
    const char *tmpl = bp_cfg_str(cfg, "template");
    if (req && tmpl) {
        *err = api->format("%srequest and template: give one of them", where);
        return -1;
    }
    char what[128];
    snprintf(what, sizeof(what), "%srequest", where);
    if (req && sq_parse_request(self, op, req, what, err) < 0)
        return -1;
    if (tmpl) {
        char perr[256];
        op->tmpl = xml_parse_untrusted_file(tmpl, perr, sizeof(perr), NULL);
        if (op->tmpl == NULL) {
            *err = api->format("%s:%s", tmpl, perr);
            return -1;
        }
    }
    snprintf(what, sizeof(what), "%sresponse", where);
    if (soap_map_compile(&op->resp, bp_cfg_get0(cfg, "response"), what, &self->ns, api, err) < 0)
        return -1;
    /* Headers, once: read-only during transfers, shared by every handle. */
    char h[1200];
    const char *action = op->action ? op->action : "";
    if (self->v12) {
        if (*action)
            snprintf(h, sizeof(h), "Content-Type: application/soap+xml; charset=utf-8; action=\"%s\"",
                     action);
        else
            snprintf(h, sizeof(h), "Content-Type: application/soap+xml; charset=utf-8");
        op->headers = curl_slist_append(NULL, h);
    } else {
        op->headers = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
        snprintf(h, sizeof(h), "SOAPAction: \"%s\"", action);
        op->headers = curl_slist_append(op->headers, h);
    }
    /* No "Expect: 100-continue" round trip before larger bodies. */
    op->headers = curl_slist_append(op->headers, "Expect:");
    return 0;
}

void soap_op_free(soap_op *op)
{
    free(op->name);
    free(op->ns);
    free(op->action);
    for (size_t i = 0; i < op->n_req; i++) {
        for (size_t k = 0; k < op->req[i].n_steps; k++)
            free(op->req[i].steps[k]);
        free(op->req[i].steps);
        free(op->req[i].path);
        free(op->req[i].literal);
    }
    free(op->req);
    if (op->tmpl)
        xmlFreeDoc(op->tmpl);
    soap_map_free(&op->resp);
    curl_slist_free_all(op->headers);
    memset(op, 0, sizeof(*op));
}

/* The text a JSON value is sent as; NULL for null (element left out) and
 * for objects and arrays (*bad set). */
static char *sq_value_text(const cJSON *v, int *bad)
{
    char num[64];
    *bad = 0;
    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(num, sizeof(num), "%.0f", d);
        else
            snprintf(num, sizeof(num), "%.17g", d);
        return strdup(num);
    }
    *bad = 1;
    return NULL;
}

/* The element for one step below parent: the last child of that name is
 * reused (Contact/Id and Contact/Name share one Contact), otherwise a new one
 * is appended, in the namespace of its prefix or of the operation. */
static xmlNodePtr sq_step(soap_conn *self, xmlNodePtr parent, const char *step, xmlNsPtr op_ns,
                          int reuse)
{
    const char *colon = strchr(step, ':');
    const char *local = colon ? colon + 1 : step;
    xmlNsPtr ns = op_ns;
    if (colon) {
        const char *uri = sq_ns_uri(&self->ns, step, (size_t)(colon - step));
        ns = xmlSearchNsByHref(parent->doc, parent, BAD_CAST uri);
        if (ns == NULL) {
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "%.*s", (int)(colon - step), step);
            ns = xmlNewNs(parent, BAD_CAST uri, BAD_CAST prefix);
        }
    }
    for (xmlNodePtr c = reuse ? parent->last : NULL; c; c = c->prev)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, local) == 0 &&
            c->ns == ns)
            return c;
    return xmlNewChild(parent, ns, BAD_CAST local, NULL);
}

/* Replaces {{path}} placeholders in s with the envelope's values. */
static char *sq_fill(soap_conn *self, const char *s, const bp_envelope *env, char **why)
{
    const struct bp_host_api *api = self->api;
    size_t cap = strlen(s) + 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    while (*s) {
        const char *open = strstr(s, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        size_t lit = close ? (size_t)(open - s) : strlen(s);
        char *val = NULL;
        if (close) {
            char path[256];
            const char *a = open + 2, *b = close;
            while (a < b && *a == ' ')
                a++;
            while (b > a && b[-1] == ' ')
                b--;
            snprintf(path, sizeof(path), "%.*s", (int)(b - a), a);
            int bad = 0;
            val = env ? sq_value_text(api->envelope_get0_path(env, path), &bad) : NULL;
            if (bad) {
                *why = api->format("template: %s is an object or array, not a value", path);
                free(out);
                return NULL;
            }
        }
        size_t vlen = val ? strlen(val) : 0;
        if (len + lit + vlen + 1 > cap) {
            cap = (len + lit + vlen + 1) * 2;
            char *t = realloc(out, cap);
            if (t == NULL) {
                free(val);
                free(out);
                return NULL;
            }
            out = t;
        }
        memcpy(out + len, s, lit);
        len += lit;
        if (val)
            memcpy(out + len, val, vlen);
        len += vlen;
        free(val);
        s = close ? close + 2 : s + lit;
    }
    out[len] = '\0';
    return out;
}

static int sq_fill_tree(soap_conn *self, xmlNodePtr n, const bp_envelope *env, char **why)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content && strstr((const char *)n->content, "{{")) {
            char *v = sq_fill(self, (const char *)n->content, env, why);
            if (v == NULL)
                return -1;
            xmlNodeSetContent(n, NULL);
            xmlNodeAddContent(n, BAD_CAST v);   /* text, escaped when serialised */
            free(v);
        }
        if (n->type == XML_ELEMENT_NODE) {
            for (xmlAttrPtr a = n->properties; a; a = a->next) {
                xmlChar *av = xmlNodeListGetString(n->doc, a->children, 1);
                if (av && strstr((const char *)av, "{{")) {
                    char *v = sq_fill(self, (const char *)av, env, why);
                    if (v == NULL) {
                        xmlFree(av);
                        return -1;
                    }
                    xmlSetNsProp(n, a->ns, a->name, BAD_CAST v);
                    free(v);
                }
                xmlFree(av);
            }
            if (sq_fill_tree(self, n->children, env, why) < 0)
                return -1;
        }
    }
    return 0;
}

bp_status soap_request_build(soap_conn *self, const soap_op *op, const bp_envelope *env,
                             const char *extra_elem, const char *extra_value, char **out,
                             size_t *out_len, char **why)
{
    const struct bp_host_api *api = self->api;
    *out = NULL;
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "Envelope") : NULL;
    if (root == NULL) {
        xmlFreeDoc(doc);
        return BP_ERR_NOMEM;
    }
    xmlDocSetRootElement(doc, root);
    xmlNsPtr env_ns = xmlNewNs(root, BAD_CAST(self->v12 ? SOAP12_NS : SOAP11_NS), BAD_CAST "soap");
    xmlSetNs(root, env_ns);
    bp_status st = BP_OK;
    if (self->wss_user) {
        xmlNodePtr header = xmlNewChild(root, env_ns, BAD_CAST "Header", NULL);
        if (header == NULL || soap_wss_add(self, header, env_ns) < 0) {
            st = BP_ERR_NOMEM;
            goto done;
        }
    }
    xmlNodePtr body = xmlNewChild(root, env_ns, BAD_CAST "Body", NULL);
    if (op->tmpl) {
        xmlNodePtr copy = xmlDocCopyNode(xmlDocGetRootElement(op->tmpl), doc, 1);
        if (copy == NULL) {
            st = BP_ERR_NOMEM;
            goto done;
        }
        xmlAddChild(body, copy);
        if (sq_fill_tree(self, copy, env, why) < 0) {
            st = *why ? BP_REJECT : BP_ERR_NOMEM;
            goto done;
        }
    } else {
        xmlNodePtr opn = xmlNewChild(body, NULL, BAD_CAST op->name, NULL);
        xmlNsPtr op_ns = NULL;
        if (op->ns && *op->ns) {
            op_ns = xmlNewNs(opn, BAD_CAST op->ns, NULL);
            xmlSetNs(opn, op_ns);
        }
        for (size_t i = 0; i < op->n_req; i++) {
            const soap_req_entry *e = &op->req[i];
            char *text = NULL;
            int bad = 0;
            if (e->literal)
                text = strdup(e->literal);
            else if (env)
                text = sq_value_text(api->envelope_get0_path(env, e->path), &bad);
            if (bad) {
                *why = api->format("request: %s is an object or array; map its fields one by one",
                                   e->path);
                st = BP_REJECT;
                goto done;
            }
            if (text == NULL)
                continue;        /* absent or null: the element is left out */
            xmlNodePtr n = opn;
            for (size_t k = 0; k + 1 < e->n_steps; k++)
                n = sq_step(self, n, e->steps[k], op_ns, 1);
            /* The leaf is always new: two values never share an element. */
            xmlNodePtr l = sq_step(self, n, e->steps[e->n_steps - 1], op_ns, 0);
            if (l)
                xmlNodeAddContent(l, BAD_CAST text);
            free(text);
        }
        if (extra_elem && extra_value) {
            xmlNodePtr l = xmlNewChild(opn, op_ns, BAD_CAST extra_elem, NULL);
            xmlNodeAddContent(l, BAD_CAST extra_value);
        }
    }
    xmlChar *mem = NULL;
    int size = 0;
    xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    if (mem == NULL) {
        st = BP_ERR_NOMEM;
        goto done;
    }
    *out = malloc((size_t)size + 1);
    if (*out) {
        memcpy(*out, mem, (size_t)size + 1);
        *out_len = (size_t)size;
    } else {
        st = BP_ERR_NOMEM;
    }
    xmlFree(mem);
done:
    xmlFreeDoc(doc);
    return st;
}
