/* The SOAP connector (libcurl + libxml2): calls SOAP 1.1/1.2 operations as a
 * sink (one call per record, parallel), a source (an operation polled with a
 * watermark) and a lookup (named operations for enrichment). Internal header. */
#ifndef BP_SOAP_H
#define BP_SOAP_H

#include <pthread.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <backplane/plugin.h>

#include "../common/http_client.h"

#define SOAP11_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define SOAP12_NS "http://www.w3.org/2003/05/soap-envelope"

/* Namespace prefixes registered for XPath and for prefixed request elements. */
typedef struct soap_ns {
    char **prefix, **uri;
    size_t n;
} soap_ns;

/* ---- response mapping: envelope path <- XPath, typed ------------------- */

enum soap_type { ST_STRING, ST_NUMBER, ST_BOOLEAN, ST_DATE };

typedef struct soap_map_entry {
    char *path;                 /* envelope path written, e.g. data.id */
    char *xpath;                /* as written, for messages */
    xmlXPathCompExprPtr comp;   /* compiled once; evaluated with a context per call */
    enum soap_type type;
} soap_map_entry;

typedef struct soap_map {
    soap_map_entry *e;
    size_t n;
} soap_map;

/* Compiles a mapping object { path: "xpath" | { xpath: X, type: T } }.
 * where names the option in messages. 0 or -1 with *err (malloc'd). */
int soap_map_compile(soap_map *m, const cJSON *obj, const char *where, const soap_ns *ns,
                     const struct bp_host_api *api, char **err);
void soap_map_free(soap_map *m);

/* An expression compiled and tried once (unknown namespace prefixes and
 * functions fail here), or NULL. Free with xmlXPathFreeCompExpr. */
xmlXPathCompExprPtr soap_xpath_compile(const char *expr, const soap_ns *ns);

/* An XPath context over doc with ns registered (free with xmlXPathFreeContext). */
xmlXPathContextPtr soap_xpath_ctx(xmlDocPtr doc, const soap_ns *ns);

/* Evaluates every entry with ctx's node as the context node and sets the
 * values in env (absent nodes leave the path unset). A value that does not
 * fit its type gives BP_REJECT with *why ("data.score: 'x' is not a number",
 * host-allocated); BP_ERR_NOMEM when out of memory. */
bp_status soap_map_apply(const soap_map *m, const struct bp_host_api *api, xmlXPathContextPtr ctx,
                         bp_envelope *env, char **why);

/* ---- an operation: what to send and how to read the answer ------------ */

typedef struct soap_req_entry {
    char **steps;               /* element path below the operation element */
    size_t n_steps;
    char *path;                 /* envelope path of the value, or NULL for a literal */
    char *literal;
} soap_req_entry;

typedef struct soap_op {
    char *name;                 /* operation element, e.g. UpsertContact */
    char *ns;                   /* its namespace (the service's target namespace) */
    char *action;               /* SOAPAction, may be "" */
    soap_req_entry *req;        /* declarative request mapping, in order */
    size_t n_req;
    xmlDocPtr tmpl;             /* or a template: the body's content, {{path}} placeholders */
    soap_map resp;              /* response mapping */
    struct curl_slist *headers; /* Content-Type, SOAPAction: built once, read-only */
} soap_op;

/* ---- the connector ------------------------------------------------------ */

typedef struct soap_src soap_src;
typedef struct soap_snk soap_snk;

typedef struct soap_conn {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *endpoint;
    int v12;                    /* SOAP 1.2 */
    soap_ns ns;
    soap_op op;                 /* the operation of this route (sink, source) */
    soap_op *queries;           /* lookup: named operations */
    char **query_names;
    size_t n_queries;
    http_opts http;
    char *user, *password;      /* basic auth */
    char *wss_user, *wss_password;
    int wss_digest;
    size_t max_response;
    long concurrency;
    /* source */
    char *records_xpath;
    xmlXPathCompExprPtr records;
    char *wm_param;             /* request element carrying the watermark */
    char *wm_xpath;             /* per record: its watermark value */
    xmlXPathCompExprPtr wm;
    char *wm_initial;
    long long interval_ms;
    int follow;                 /* 0: end (BP_EOF) once a call returns no records */
    char *type;
    /* lookup: easy handles reused across calls (keep-alive), any thread */
    pthread_mutex_t pool_mu;
    void **pool;
    size_t n_pool, cap_pool;
    soap_src *src;
    soap_snk *snk;
} soap_conn;

/* Options of one operation (from the connector's top level or a query). */
int soap_op_parse(soap_conn *self, soap_op *op, const cJSON *cfg, const char *where, char **err);
void soap_op_free(soap_op *op);

/* The request envelope for op with values from env (may be NULL: literals
 * only); extra (may be NULL) sets one more element, e.g. the watermark.
 * *out is malloc'd text. BP_REJECT with *why (host-allocated) when a value
 * cannot be sent (an object where text is needed). */
bp_status soap_request_build(soap_conn *self, const soap_op *op, const bp_envelope *env,
                             const char *extra_elem, const char *extra_value, char **out,
                             size_t *out_len, char **why);


/* ---- replies ------------------------------------------------------------ */

typedef struct soap_fault {
    char code[64];              /* local part: Client, Server, Sender, Receiver, ... */
    char text[512];             /* faultstring / Reason/Text, then detail */
} soap_fault;

/* Reads a complete HTTP response: a SOAP body (BP_OK, doc set, body the
 * first element in Body), a fault anywhere it can come (HTTP 500 or 200, 1.1
 * or 1.2 shape in either envelope), or something else. Non-OK results carry
 * *why (host-allocated, "cause: text" as fault_reason writes it):
 * Client/Sender faults BP_REJECT, Server/Receiver faults, HTTP 5xx and
 * non-XML pages BP_RETRY (with the page's first bytes), refused credentials
 * or permissions (HTTP 401/403/404, WS-Security fault codes)
 * BP_NOT_CONNECTED. Thread-safe. */
bp_status soap_reply_read(const struct bp_host_api *api, long http_status, const char *buf,
                          size_t len, xmlDocPtr *doc, xmlNodePtr *body, char **why);

/* The result class of a fault code and the HTTP status it came with (table
 * in soap_reply.c). */
fault soap_fault_class(const char *code, long http_status);

/* The reason for a transfer that failed in libcurl: the size limit, or
 * "cause: endpoint: libcurl's message" (host-allocated). */
char *soap_transfer_why(const soap_conn *self, fault f, const http_buf *buf, CURLcode rc);

/* One call on an easy handle taken from the pool (lookups, source polls):
 * thread-safe. On BP_OK doc and body as for soap_reply_read. */
bp_status soap_call(soap_conn *self, const soap_op *op, const char *req, size_t req_len,
                    xmlDocPtr *doc, xmlNodePtr *body, char **why);
void soap_pool_free(soap_conn *self);

/* WS-Security UsernameToken header (PasswordText or PasswordDigest). */
int soap_wss_add(soap_conn *self, xmlNodePtr header, xmlNsPtr env_ns);

bp_status soap_sink_write(soap_conn *self, bp_write_batch *wb);
void soap_sink_free(soap_conn *self);

bp_status soap_source_poll(soap_conn *self, bp_poll_batch *batch, int timeout_ms);
bp_status soap_source_ack(soap_conn *self, const uint64_t *tokens, size_t n);
void soap_source_free(soap_conn *self);

bp_status soap_lookup_run(soap_conn *self, const char *query, const cJSON *params,
                          cJSON **result, char **errmsg);

int soap_inspect_main(const struct bp_host_api *api, int argc, char **argv);

#endif
