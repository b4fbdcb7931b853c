/* The SOAP connector's descriptor, options, configuration and life cycle. */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "../common/tls_options.h"
#include "soap.h"

static const char *const soap_versions[] = {"1.1", "1.2", NULL};
static const char *const soap_wss_types[] = {"digest", "text", NULL};

/* request: element path -> envelope path or '=text' (any scalar). */
static const struct bp_option soap_request_values[] = {
    {.name = "*", .type = BP_OPT_STRING, .description = "envelope path, or '=fixed text'"},
    {0},
};

/* queries.NAME: one lookup operation. */
static const struct bp_option soap_query_fields[] = {
    {.name = "operation", .type = BP_OPT_STRING, .description = "the operation called"},
    {.name = "namespace", .type = BP_OPT_STRING,
     .description = "namespace of the operation element (default: the connector's)"},
    {.name = "soap_action", .type = BP_OPT_STRING, .description = "SOAPAction of the operation"},
    {.name = "request", .type = BP_OPT_MAP, .fields = soap_request_values,
     .description = "element path: envelope path of the lookup's parameters (or '=fixed text')"},
    {.name = "template", .type = BP_OPT_PATH, .description = "request body from an XML file"},
    {.name = "response", .type = BP_OPT_MAP,
     .description = "envelope path: XPath, or { xpath: X, type: string|number|boolean|date }"},
    {0},
};

static const struct bp_option soap_query_values[] = {
    {.name = "*", .type = BP_OPT_MAP, .fields = soap_query_fields,
     .description = "{ operation, namespace, soap_action, request | template, response }"},
    {0},
};

static const struct bp_option soap_namespace_values[] = {
    {.name = "*", .type = BP_OPT_STRING, .description = "namespace URI"},
    {0},
};

/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct soap_opts {
    const char *endpoint;
    int soap_version;
    const char *records, *watermark_param, *watermark, *initial_watermark;
    int64_t poll_interval;
    int follow;
    const char *type;
    long long concurrency;
    int64_t timeout, connect_timeout, max_response;
    struct conn_tls tls;
    const char *user, *password, *wss_user, *wss_password;
    int wss_password_type;
};

#define SO(member) BP_OPT_FIELD(struct soap_opts, member)

static const struct bp_option soap_tls_fields[] = {CONN_TLS_FIELDS(struct soap_opts)};

static const struct bp_option soap_options[] = {
    {.name = "endpoint", SO(endpoint), .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "the service URL (http:// or https://)"},
    {.name = "soap_version", SO(soap_version), .type = BP_OPT_ENUM, .default_value = "1.1", .choices = soap_versions,
     .description = "envelope version: 1.1 (text/xml + SOAPAction) or 1.2 (application/soap+xml)"},
    {.name = "namespace", .type = BP_OPT_STRING,
     .description = "namespace of the operation element (the service's target namespace)"},
    {.name = "operation", .type = BP_OPT_STRING,
     .description = "sink/source: the operation called, e.g. UpsertContact"},
    {.name = "soap_action", .type = BP_OPT_STRING, .default_value = "",
     .description = "SOAPAction of the operation (see `backplane soap inspect`)"},
    {.name = "request", .type = BP_OPT_MAP, .fields = soap_request_values,
     .description = "request body: element path below the operation: envelope path (or '=fixed text')"},
    {.name = "template", .type = BP_OPT_PATH,
     .description = "request body from an XML file (the operation element) with {{path}} placeholders, always escaped"},
    {.name = "response", .type = BP_OPT_MAP, .roles = BP_KIND_SOURCE | BP_KIND_LOOKUP,
     .description = "source/lookup: envelope path: XPath, or { xpath: X, type: string|number|boolean|date }"},
    {.name = "namespaces", .type = BP_OPT_MAP, .fields = soap_namespace_values,
     .description = "prefix: URI for XPath expressions and prefixed request elements"},
    {.name = "queries", .type = BP_OPT_MAP, .fields = soap_query_values, .roles = BP_KIND_LOOKUP,
     .description = "lookup: NAME: { operation, namespace, soap_action, request | template, response }"},
    {.name = "records", SO(records), .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE,
     .description = "source: XPath selecting one record per element in the reply"},
    {.name = "watermark_param", SO(watermark_param), .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE,
     .description = "source: request element carrying the watermark (also data.watermark in request/template)"},
    {.name = "watermark", SO(watermark), .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE,
     .description = "source: XPath (relative to a record) of its watermark value, ascending, e.g. crm:ModifiedAt"},
    {.name = "initial_watermark", SO(initial_watermark), .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE, .default_value = "1970-01-01T00:00:00Z",
     .description = "source: watermark of the first poll"},
    {.name = "poll_interval", .type = BP_OPT_DURATION, .roles = BP_KIND_SOURCE, .default_value = "5s",
     .min = "10ms", SO(poll_interval), .description = "source: time between polls"},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "true", .roles = BP_KIND_SOURCE,
     SO(follow), .description = "source: keep polling (false: end once a call returns no records)"},
    {.name = "type", SO(type), .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE,
     .default_value = "com.backplane.soap.record",
     .description = "source: the CloudEvents type stamped on records"},
    {.name = "concurrency", SO(concurrency), .type = BP_OPT_INT, .roles = BP_KIND_SINK, .default_value = "4", .min = "1", .max = "256",
     .description = "sink: calls in flight at once (connections kept alive)"},
    {.name = "timeout", SO(timeout), .type = BP_OPT_DURATION, .default_value = "30s", .min = "100ms",
     .description = "per call"},
    {.name = "connect_timeout", SO(connect_timeout), .type = BP_OPT_DURATION, .default_value = "10s", .min = "100ms",
     .description = "per connection attempt"},
    {.name = "max_response", SO(max_response), .type = BP_OPT_SIZE, .default_value = "10MiB", .min = "1KiB",
     .description = "largest reply read; a larger one fails the call"},
    CONN_TLS_OPTION(soap_tls_fields),
    {.name = "user", SO(user), .type = BP_OPT_STRING, .description = "HTTP basic auth user"},
    {.name = "password", SO(password), .type = BP_OPT_SECRET, .description = "HTTP basic auth password"},
    {.name = "wss_user", SO(wss_user), .type = BP_OPT_STRING,
     .description = "WS-Security UsernameToken user (adds a wsse:Security header)"},
    {.name = "wss_password", SO(wss_password), .type = BP_OPT_SECRET, .description = "WS-Security password"},
    {.name = "wss_password_type", SO(wss_password_type), .type = BP_OPT_ENUM, .default_value = "digest",
     .choices = soap_wss_types,
     .description = "digest (SHA-1 of nonce, created, password) or text (the password itself)"},
    {.name = "interval", .renamed = "'poll_interval'"},
    {0},
};

static void soap_destroy(void *p)
{
    soap_conn *self = p;
    if (self == NULL)
        return;
    soap_source_free(self);
    soap_sink_free(self);
    soap_pool_free(self);
    soap_op_free(&self->op);
    for (size_t i = 0; i < self->n_queries; i++) {
        soap_op_free(&self->queries[i]);
        free(self->query_names[i]);
    }
    free(self->queries);
    free(self->query_names);
    for (size_t i = 0; i < self->ns.n; i++) {
        free(self->ns.prefix[i]);
        free(self->ns.uri[i]);
    }
    free(self->ns.prefix);
    free(self->ns.uri);
    free(self->endpoint);
    free(self->user);
    free(self->password);
    free(self->wss_user);
    free(self->wss_password);
    free(self->http.ca_file ? (void *)self->http.ca_file : NULL);
    free((void *)self->http.cert);
    free((void *)self->http.key);
    free(self->records_xpath);
    if (self->records)
        xmlXPathFreeCompExpr(self->records);
    free(self->wm_param);
    free(self->wm_xpath);
    if (self->wm)
        xmlXPathFreeCompExpr(self->wm);
    free(self->wm_initial);
    free(self->type);
    pthread_mutex_destroy(&self->pool_mu);
    free(self);
    curl_global_cleanup();
}

static char *soap_strdup(const char *v)
{
    return v ? strdup(v) : NULL;
}

/* A source XPath compiled with the registered namespaces. */
static int soap_compile_xpath(soap_conn *self, const char *name, const char *xp,
                              xmlXPathCompExprPtr *out, char **errmsg)
{
    *out = soap_xpath_compile(xp, &self->ns);
    if (*out == NULL) {
        *errmsg = self->api->format("%s: invalid XPath '%s' (or an unregistered namespace prefix)",
                                    name, xp);
        return -1;
    }
    return 0;
}

static bp_status soap_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                           const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct soap_opts *o = info->options;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        *errmsg = api->format("cannot initialise libcurl");
        return BP_ERR_INTERNAL;
    }
    xmlInitParser();
    soap_conn *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        curl_global_cleanup();
        return BP_ERR_NOMEM;
    }
    self->api = api;
    self->inst = inst;
    pthread_mutex_init(&self->pool_mu, NULL);
    self->endpoint = soap_strdup(o->endpoint);
    self->v12 = strcmp(soap_versions[o->soap_version], "1.2") == 0;
    self->user = soap_strdup(o->user);
    self->password = soap_strdup(o->password);
    self->wss_user = soap_strdup(o->wss_user);
    self->wss_password = soap_strdup(o->wss_password);
    self->wss_digest = strcmp(soap_wss_types[o->wss_password_type], "digest") == 0;
    self->max_response = (size_t)o->max_response;
    self->concurrency = (long)o->concurrency;
    self->interval_ms = o->poll_interval;
    self->follow = o->follow;
    self->wm_param = soap_strdup(o->watermark_param);
    self->wm_xpath = soap_strdup(o->watermark);
    self->wm_initial = soap_strdup(o->initial_watermark);
    self->records_xpath = soap_strdup(o->records);
    self->type = soap_strdup(o->type);
    self->http.timeout_ms = (long)o->timeout;
    self->http.connect_timeout_ms = (long)o->connect_timeout;
    self->http.tls_verify = o->tls.verify;
    self->http.ca_file = soap_strdup(o->tls.ca_file);
    self->http.cert = soap_strdup(o->tls.cert);
    self->http.key = soap_strdup(o->tls.key);
    self->http.user = self->user;
    self->http.password = self->password;
    const char *why = o->tls.mode == CONN_TLS_STARTTLS
                          ? "tls.mode starttls is for mail; HTTP takes none or tls (https://)"
                          : conn_tls_mismatch(o->tls.mode, self->endpoint);
    if (why) {
        *errmsg = api->format("%s", why);
        goto fail;
    }
    if (strncmp(self->endpoint, "http://", 7) != 0 && strncmp(self->endpoint, "https://", 8) != 0) {
        *errmsg = api->format("endpoint: '%s' is not an http:// or https:// URL", self->endpoint);
        goto fail;
    }
    if (self->wss_user && self->wss_password == NULL) {
        *errmsg = api->format("wss_user needs wss_password");
        goto fail;
    }
    if (!self->http.tls_verify)
        api->log(inst, BP_LOG_WARN, "tls.verify is off: the server's certificate is not checked");
    const cJSON *nsmap = bp_cfg_get0(config, "namespaces");
    if (nsmap) {
        size_t n = (size_t)cJSON_GetArraySize(nsmap);
        self->ns.prefix = calloc(n ? n : 1, sizeof(char *));
        self->ns.uri = calloc(n ? n : 1, sizeof(char *));
        if (self->ns.prefix == NULL || self->ns.uri == NULL)
            goto nomem;
        for (const cJSON *it = nsmap->child; it; it = it->next) {
            if (!cJSON_IsString(it) || xmlValidateNCName(BAD_CAST it->string, 0) != 0) {
                *errmsg = api->format("namespaces.%s: expected prefix: \"URI\"", it->string);
                goto fail;
            }
            self->ns.prefix[self->ns.n] = strdup(it->string);
            self->ns.uri[self->ns.n++] = strdup(it->valuestring);
        }
    }
    if (soap_op_parse(self, &self->op, config, "", errmsg) < 0)
        goto fail;
    const cJSON *queries = bp_cfg_get0(config, "queries");
    if (queries) {
        size_t n = (size_t)cJSON_GetArraySize(queries);
        self->queries = calloc(n ? n : 1, sizeof(*self->queries));
        self->query_names = calloc(n ? n : 1, sizeof(char *));
        if (self->queries == NULL || self->query_names == NULL)
            goto nomem;
        for (const cJSON *q = queries->child; q; q = q->next) {
            char where[160];
            snprintf(where, sizeof(where), "queries.%s.", q->string);
            if (!cJSON_IsObject(q)) {
                *errmsg = api->format("queries.%s: expected a map", q->string);
                goto fail;
            }
            /* A query inherits the connector's namespace unless it names one. */
            cJSON *qc = cJSON_Duplicate(q, 1);
            if (qc && !cJSON_GetObjectItemCaseSensitive(qc, "namespace") && self->op.ns)
                cJSON_AddStringToObject(qc, "namespace", self->op.ns);
            self->query_names[self->n_queries] = strdup(q->string);
            int rc = qc ? soap_op_parse(self, &self->queries[self->n_queries++], qc, where, errmsg)
                        : -1;
            cJSON_Delete(qc);
            if (rc < 0)
                goto fail;
            if (self->queries[self->n_queries - 1].name == NULL &&
                self->queries[self->n_queries - 1].tmpl == NULL) {
                *errmsg = api->format("queries.%s: operation or template is required", q->string);
                goto fail;
            }
        }
    }
    if (self->records_xpath &&
        soap_compile_xpath(self, "records", self->records_xpath, &self->records, errmsg) < 0)
        goto fail;
    if (self->wm_xpath && soap_compile_xpath(self, "watermark", self->wm_xpath, &self->wm, errmsg) < 0)
        goto fail;
    *out = self;
    return BP_OK;
nomem:
    soap_destroy(self);
    return BP_ERR_NOMEM;
fail:
    soap_destroy(self);
    return BP_ERR_INVALID;
}

/* check (ABI 1.3): a request map's values and element prefixes, and the TLS
 * mode against the endpoint, said before anything runs at their position
 * (init checks them again for hosts that do not call check). */
static void soap_check_request(const struct bp_host_api *api, const cJSON *req,
                               const cJSON *nsmap, const char *where,
                               void (*report)(void *, const char *, int, const char *), void *ctx,
                               bp_status *st)
{
    char path[400], msg[400];
    for (const cJSON *it = req ? req->child : NULL; it; it = it->next) {
        snprintf(path, sizeof(path), "%s.%s", where, it->string);
        if (cJSON_IsString(it) && it->valuestring[0] != '=' &&
            api->path_check(it->valuestring) != BP_OK) {
            snprintf(msg, sizeof(msg), "invalid envelope path '%s' (a fixed value is written "
                     "'=text')", it->valuestring);
            report(ctx, path, 0, msg);
            *st = BP_ERR_INVALID;
        }
        /* Element path steps PREFIX:NAME need PREFIX in namespaces. */
        for (const char *p = it->string; *p;) {
            size_t n = strcspn(p, "/");
            const char *colon = memchr(p, ':', n);
            if (colon) {
                char prefix[128];
                size_t k = (size_t)(colon - p) < sizeof(prefix) - 1 ? (size_t)(colon - p)
                                                                    : sizeof(prefix) - 1;
                memcpy(prefix, p, k);
                prefix[k] = '\0';
                if (!cJSON_GetObjectItemCaseSensitive(nsmap, prefix)) {
                    snprintf(msg, sizeof(msg), "namespace prefix '%s' is not in namespaces",
                             prefix);
                    report(ctx, path, 0, msg);
                    *st = BP_ERR_INVALID;
                }
            }
            p += n + (p[n] == '/');
        }
    }
}

static bp_status soap_check(const struct bp_host_api *api, const cJSON *config,
                            const struct bp_instance_info *info,
                            void (*report)(void *ctx, const char *path, int col, const char *msg),
                            void *ctx)
{
    const struct soap_opts *o = info->options;
    bp_status st = BP_OK;
    const cJSON *nsmap = bp_cfg_get0(config, "namespaces");
    soap_check_request(api, bp_cfg_get0(config, "request"), nsmap, "request", report, ctx, &st);
    const cJSON *qs = bp_cfg_get0(config, "queries");
    for (const cJSON *q = qs ? qs->child : NULL; q; q = q->next) {
        char where[300];
        snprintf(where, sizeof(where), "queries.%s.request", q->string);
        soap_check_request(api, bp_cfg_get0(q, "request"), nsmap, where, report, ctx, &st);
    }
    if (o && o->endpoint) {
        const char *why = o->tls.mode == CONN_TLS_STARTTLS
                              ? "starttls is for mail; HTTP takes none or tls (https://)"
                              : conn_tls_mismatch(o->tls.mode, o->endpoint);
        if (why) {
            report(ctx, "tls.mode", 0, why);
            st = BP_ERR_INVALID;
        }
    }
    return st;
}

static bp_status soap_poll(void *p, bp_poll_batch *batch, int timeout_ms)
{
    return soap_source_poll(p, batch, timeout_ms);
}

static bp_status soap_ack(void *p, const uint64_t *tokens, size_t n)
{
    return soap_source_ack(p, tokens, n);
}

static bp_status soap_write(void *p, bp_write_batch *wb)
{
    soap_conn *self = p;
    if (self->op.name == NULL && self->op.tmpl == NULL) {
        self->api->log(self->inst, BP_LOG_ERROR, "sink: operation (or template) is not set");
        return BP_REJECT;
    }
    return soap_sink_write(self, wb);
}

static bp_status soap_lookup(void *p, const char *query, const cJSON *params, cJSON **result,
                             char **errmsg)
{
    return soap_lookup_run(p, query, params, result, errmsg);
}

static void soap_stop(void *p)
{
    soap_conn *self = p;
    soap_sink_free(self);
}

static const struct bp_command soap_commands[] = {
    {.name = "inspect",
     .summary = "read a WSDL (URL or file): services, operations, elements, and a starting mapping",
     .run = soap_inspect_main},
    {0},
};

static const struct bp_plugin soap_plugin = {
    BP_PLUGIN_HEADER,
    .name = "soap",
    .version = "0.1.0",
    .description = "SOAP 1.1/1.2 web services (libcurl, libxml2): operation calls as sink, watermark-polled source, lookup",
    .kinds = BP_KIND_SOURCE | BP_KIND_SINK | BP_KIND_LOOKUP,
    .options = soap_options,
    .options_size = sizeof(struct soap_opts),
    .init_ex = soap_init,
    .check_ex = soap_check,
    .poll = soap_poll,
    .ack = soap_ack,
    .write = soap_write,
    .lookup = soap_lookup,
    .stop = soap_stop,
    .destroy = soap_destroy,
    .commands = soap_commands,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &soap_plugin;
}
