/* One SOAP call at a time on a pooled easy handle: for lookups (which may run
 * on several threads at once) and source polls. A handle keeps its
 * connection alive between calls; the pool is guarded by a mutex, the calls
 * themselves run unlocked. */
#include <stdlib.h>
#include <string.h>

#include "soap.h"

typedef struct sc_handle {
    CURL *h;
    http_buf buf;
} sc_handle;

static sc_handle *sc_take(soap_conn *self)
{
    sc_handle *c = NULL;
    pthread_mutex_lock(&self->pool_mu);
    if (self->n_pool > 0)
        c = self->pool[--self->n_pool];
    pthread_mutex_unlock(&self->pool_mu);
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->buf.limit = self->max_response;
    c->h = curl_easy_init();
    if (c->h == NULL || http_easy_setup(c->h, &self->http, &c->buf) != CURLE_OK) {
        if (c->h)
            curl_easy_cleanup(c->h);
        free(c);
        return NULL;
    }
    return c;
}

static void sc_give(soap_conn *self, sc_handle *c)
{
    pthread_mutex_lock(&self->pool_mu);
    if (self->n_pool == self->cap_pool) {
        size_t cap = self->cap_pool ? self->cap_pool * 2 : 4;
        void **p = realloc(self->pool, cap * sizeof(*p));
        if (p) {
            self->pool = p;
            self->cap_pool = cap;
        }
    }
    if (self->n_pool < self->cap_pool) {
        self->pool[self->n_pool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&self->pool_mu);
    if (c) {
        curl_easy_cleanup(c->h);
        http_buf_free(&c->buf);
        free(c);
    }
}

void soap_pool_free(soap_conn *self)
{
    for (size_t i = 0; i < self->n_pool; i++) {
        sc_handle *c = self->pool[i];
        curl_easy_cleanup(c->h);
        http_buf_free(&c->buf);
        free(c);
    }
    free(self->pool);
    self->pool = NULL;
    self->n_pool = self->cap_pool = 0;
}

char *soap_transfer_why(const soap_conn *self, fault f, const http_buf *buf, CURLcode rc)
{
    const struct bp_host_api *api = self->api;
    if (buf->over)
        return api->format("reply larger than max_response (%zu bytes)", self->max_response);
    char text[CURL_ERROR_SIZE + 600], out[CURL_ERROR_SIZE + 700];
    snprintf(text, sizeof(text), "%s: %s", self->endpoint, http_error_text(buf, rc));
    return api->format("%s", fault_reason(f, text, out, sizeof(out)));
}

bp_status soap_call(soap_conn *self, const soap_op *op, const char *req, size_t req_len,
                    xmlDocPtr *doc, xmlNodePtr *body, char **why)
{
    const struct bp_host_api *api = self->api;
    *doc = NULL;
    *body = NULL;
    sc_handle *c = sc_take(self);
    if (c == NULL)
        return BP_ERR_NOMEM;
    http_buf_reset(&c->buf);
    curl_easy_setopt(c->h, CURLOPT_URL, self->endpoint);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, op->headers);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)req_len);
    CURLcode rc = curl_easy_perform(c->h);
    bp_status st;
    if (rc != CURLE_OK) {
        fault f = http_classify_curl(rc, &c->buf);
        st = f.st;
        *why = soap_transfer_why(self, f, &c->buf, rc);
    } else {
        long status = 0;
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
        st = soap_reply_read(api, status, c->buf.data, c->buf.len, doc, body, why);
    }
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, NULL);
    sc_give(self, c);
    return st;
}
