/* Response mapping: XPath expressions evaluated on a reply, their values set
 * at envelope paths, typed where the mapping says so. Expressions are compiled
 * once; every evaluation gets its own XPath context, so one mapping serves
 * many threads. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xpathInternals.h>

#include "soap.h"

static const char *const sm_type_names[] = {"string", "number", "boolean", "date", NULL};

int soap_map_compile(soap_map *m, const cJSON *obj, const char *where, const soap_ns *ns,
                     const struct bp_host_api *api, char **err)
{
    memset(m, 0, sizeof(*m));
    if (obj == NULL)
        return 0;
    if (!cJSON_IsObject(obj)) {
        *err = api->format("%s: expected a map of envelope path: XPath", where);
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(obj);
    m->e = calloc(n ? n : 1, sizeof(*m->e));
    if (m->e == NULL)
        return -1;
    for (const cJSON *it = obj->child; it; it = it->next) {
        soap_map_entry *e = &m->e[m->n];
        const char *xp = NULL, *type = "string";
        if (cJSON_IsString(it)) {
            xp = it->valuestring;
        } else if (cJSON_IsObject(it)) {
            xp = bp_cfg_str(it, "xpath");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
            if (t && !cJSON_IsString(t))
                xp = NULL;
            else if (t)
                type = t->valuestring;
        }
        if (xp == NULL) {
            *err = api->format("%s.%s: expected an XPath string or { xpath: X, type: T }", where,
                               it->string);
            goto fail;
        }
        if (api->path_check(it->string) != BP_OK) {
            *err = api->format("%s: invalid envelope path '%s'", where, it->string);
            goto fail;
        }
        int ti = -1;
        for (int k = 0; sm_type_names[k]; k++)
            if (strcmp(type, sm_type_names[k]) == 0)
                ti = k;
        if (ti < 0) {
            *err = api->format("%s.%s: unknown type '%s' (string, number, boolean, date)", where,
                               it->string, type);
            goto fail;
        }
        e->type = (enum soap_type)ti;
        e->path = strdup(it->string);
        e->xpath = strdup(xp);
        m->n++;
        e->comp = soap_xpath_compile(xp, ns);
        if (e->comp == NULL) {
            *err = api->format("%s.%s: invalid XPath '%s' (or an unregistered namespace prefix)",
                               where, it->string, xp);
            goto fail;
        }
    }
    return 0;
fail:
    soap_map_free(m);
    return -1;
}

void soap_map_free(soap_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].path);
        free(m->e[i].xpath);
        if (m->e[i].comp)
            xmlXPathFreeCompExpr(m->e[i].comp);
    }
    free(m->e);
    memset(m, 0, sizeof(*m));
}

/* XPath errors become results (an empty value or a refusal), not stderr. */
static void sm_silent(void *data, xmlErrorPtr err)
{
    (void)data;
    (void)err;
}

xmlXPathCompExprPtr soap_xpath_compile(const char *expr, const soap_ns *ns)
{
    /* Compiling does not resolve prefixes or function names: evaluate once
     * on an empty document, so an unknown prefix fails now, with the option's
     * name, instead of on every reply. */
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "x") : NULL;
    if (root == NULL) {
        xmlFreeDoc(doc);
        return NULL;
    }
    xmlDocSetRootElement(doc, root);
    xmlXPathContextPtr ctx = soap_xpath_ctx(doc, ns);
    xmlXPathCompExprPtr comp = ctx ? xmlXPathCtxtCompile(ctx, BAD_CAST expr) : NULL;
    if (comp) {
        ctx->node = root;
        xmlXPathObjectPtr r = xmlXPathCompiledEval(comp, ctx);
        if (r == NULL) {
            xmlXPathFreeCompExpr(comp);
            comp = NULL;
        }
        xmlXPathFreeObject(r);
    }
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return comp;
}

xmlXPathContextPtr soap_xpath_ctx(xmlDocPtr doc, const soap_ns *ns)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx == NULL)
        return NULL;
    ctx->error = sm_silent;
    xmlXPathRegisterNs(ctx, BAD_CAST "soap", BAD_CAST SOAP11_NS);
    xmlXPathRegisterNs(ctx, BAD_CAST "soap12", BAD_CAST SOAP12_NS);
    for (size_t i = 0; ns && i < ns->n; i++)
        xmlXPathRegisterNs(ctx, BAD_CAST ns->prefix[i], BAD_CAST ns->uri[i]);
    return ctx;
}

/* xs:date or xs:dateTime (YYYY-MM-DD[Thh:mm:ss[.f+]][Z|+hh:mm|-hh:mm]). */
static int sm_is_date(const char *s)
{
    const char *p = s;
#define SM_DIGITS(k)                                           \
    for (int d_ = 0; d_ < (k); d_++, p++)                      \
        if (!isdigit((unsigned char)*p))                       \
            return 0;
    SM_DIGITS(4)
    if (*p++ != '-')
        return 0;
    SM_DIGITS(2)
    if (*p++ != '-')
        return 0;
    SM_DIGITS(2)
    int month = atoi(s + 5), day = atoi(s + 8);
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return 0;
    if (*p == 'T') {
        p++;
        SM_DIGITS(2)
        if (*p++ != ':')
            return 0;
        SM_DIGITS(2)
        if (*p++ != ':')
            return 0;
        SM_DIGITS(2)
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return 0;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (*p == 'Z')
        p++;
    else if (*p == '+' || *p == '-') {
        p++;
        SM_DIGITS(2)
        if (*p++ != ':')
            return 0;
        SM_DIGITS(2)
    }
#undef SM_DIGITS
    return *p == '\0';
}

/* The value of one entry as cJSON, or NULL with *why. */
static cJSON *sm_value(const soap_map_entry *e, const char *raw, const struct bp_host_api *api,
                       char **why)
{
    /* Surrounding white space is layout, not data, for typed values. */
    const char *s = raw;
    size_t len = strlen(raw);
    if (e->type != ST_STRING) {
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
    }
    char buf[128];
    switch (e->type) {
    case ST_STRING:
        return cJSON_CreateString(raw);
    case ST_NUMBER: {
        if (len == 0 || len >= sizeof(buf))
            break;
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *end;
        errno = 0;
        double v = strtod(buf, &end);
        /* xs:decimal/xs:double digits only: no hex, no inf/nan words. */
        if (*end != '\0' || errno == ERANGE || !isfinite(v) || strpbrk(buf, "xXnN") != NULL)
            break;
        return cJSON_CreateNumber(v);
    }
    case ST_BOOLEAN:
        if ((len == 4 && strncmp(s, "true", 4) == 0) || (len == 1 && *s == '1'))
            return cJSON_CreateTrue();
        if ((len == 5 && strncmp(s, "false", 5) == 0) || (len == 1 && *s == '0'))
            return cJSON_CreateFalse();
        break;
    case ST_DATE:
        if (len == 0 || len >= sizeof(buf))
            break;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (sm_is_date(buf))
            return cJSON_CreateString(buf);
        break;
    }
    char shown[64];
    http_snippet(raw, strlen(raw), 40, shown, sizeof(shown));
    *why = api->format("%s: '%s' is not a %s (from %s)", e->path, shown, sm_type_names[e->type],
                       e->xpath);
    return NULL;
}

bp_status soap_map_apply(const soap_map *m, const struct bp_host_api *api, xmlXPathContextPtr ctx,
                         bp_envelope *env, char **why)
{
    for (size_t i = 0; i < m->n; i++) {
        const soap_map_entry *e = &m->e[i];
        xmlXPathObjectPtr r = xmlXPathCompiledEval(e->comp, ctx);
        if (r == NULL) {
            *why = api->format("%s: XPath %s failed on this reply", e->path, e->xpath);
            return BP_REJECT;
        }
        if (r->type == XPATH_NODESET && xmlXPathNodeSetIsEmpty(r->nodesetval)) {
            xmlXPathFreeObject(r);
            continue;          /* absent in the reply: absent in the record */
        }
        cJSON *v = NULL;
        if (r->type == XPATH_BOOLEAN && e->type == ST_STRING)
            v = cJSON_CreateBool(r->boolval);
        else if (r->type == XPATH_NUMBER && e->type == ST_STRING)
            v = isfinite(r->floatval) ? cJSON_CreateNumber(r->floatval) : cJSON_CreateNull();
        else {
            xmlChar *s = xmlXPathCastToString(r);
            if (s == NULL) {
                xmlXPathFreeObject(r);
                return BP_ERR_NOMEM;
            }
            v = sm_value(e, (const char *)s, api, why);
            xmlFree(s);
            if (v == NULL) {
                xmlXPathFreeObject(r);
                return *why ? BP_REJECT : BP_ERR_NOMEM;
            }
        }
        xmlXPathFreeObject(r);
        if (v == NULL)
            return BP_ERR_NOMEM;
        bp_status st = api->envelope_set0_path(env, e->path, v);
        if (st != BP_OK) {
            *why = api->format("%s: cannot set this value (status %d)", e->path, (int)st);
            return st == BP_ERR_NOMEM ? st : BP_REJECT;
        }
    }
    return BP_OK;
}
