/* The SOAP sink: one call per record, up to `concurrency` calls in flight on
 * a curl multi handle whose connection cache keeps connections alive across
 * writes. Every record gets its own result: a Client fault rejects only that
 * record, a Server fault or a dropped connection retries only that record. */
#include <stdlib.h>
#include <string.h>

#include "soap.h"

typedef struct sk_slot {
    CURL *h;
    http_buf buf;
    char *req;
    size_t idx;                /* record in the batch */
} sk_slot;

enum { SK_RETRY, SK_NOT_CONNECTED, SK_REJECT, SK_KINDS };

struct soap_snk {
    CURLM *multi;
    /* Per write: failures are logged once per kind (the first reason and a
     * count), so an outage over thousands of records does not flood the log. */
    char *first[SK_KINDS];
    size_t n[SK_KINDS];
    sk_slot *slots;
    size_t n_slots;
    size_t *free_slots;        /* stack of idle slot numbers */
    size_t n_free;
};

static bp_status sk_open(soap_conn *self)
{
    soap_snk *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return BP_ERR_NOMEM;
    self->snk = k;
    k->n_slots = (size_t)self->concurrency;
    k->slots = calloc(k->n_slots, sizeof(*k->slots));
    k->free_slots = calloc(k->n_slots, sizeof(*k->free_slots));
    k->multi = curl_multi_init();
    if (k->slots == NULL || k->free_slots == NULL || k->multi == NULL)
        return BP_ERR_NOMEM;
    curl_multi_setopt(k->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)self->concurrency);
    curl_multi_setopt(k->multi, CURLMOPT_MAXCONNECTS, (long)self->concurrency * 2);
    for (size_t i = 0; i < k->n_slots; i++) {
        sk_slot *s = &k->slots[i];
        s->buf.limit = self->max_response;
        s->h = curl_easy_init();
        if (s->h == NULL || http_easy_setup(s->h, &self->http, &s->buf) != CURLE_OK)
            return BP_ERR_NOMEM;
        curl_easy_setopt(s->h, CURLOPT_URL, self->endpoint);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, self->op.headers);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, (void *)s);
        k->free_slots[k->n_free++] = i;
    }
    return BP_OK;
}

/* The result of one finished call. */
static void sk_finish(soap_conn *self, bp_write_batch *wb, sk_slot *s, CURLcode rc)
{
    const struct bp_host_api *api = self->api;
    char *why = NULL;
    bp_status st;
    if (rc != CURLE_OK) {
        fault f = http_classify_curl(rc, &s->buf);
        st = f.st;
        why = soap_transfer_why(self, f, &s->buf, rc);
    } else {
        long status = 0;
        xmlDocPtr doc = NULL;
        xmlNodePtr body = NULL;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
        st = soap_reply_read(api, status, s->buf.data, s->buf.len, &doc, &body, &why);
        if (doc)
            xmlFreeDoc(doc);
    }
    if (st != BP_OK) {
        soap_snk *k = self->snk;
        int c = st == BP_REJECT ? SK_REJECT : st == BP_NOT_CONNECTED ? SK_NOT_CONNECTED : SK_RETRY;
        if (k->first[c] == NULL && why)
            k->first[c] = strdup(why);
        k->n[c]++;
        api->counter_add(self->inst, st == BP_REJECT ? "soap_rejected" : "soap_retried", 1);
    } else {
        api->counter_add(self->inst, "soap_calls", 1);
    }
    api->wb_set_result(wb, s->idx, st, why);
    api->free(why);
    free(s->req);
    s->req = NULL;
}

bp_status soap_sink_write(soap_conn *self, bp_write_batch *wb)
{
    const struct bp_host_api *api = self->api;
    if (self->snk == NULL) {
        bp_status st = sk_open(self);
        if (st != BP_OK) {
            soap_sink_free(self);
            return BP_RETRY;
        }
    }
    soap_snk *k = self->snk;
    size_t n = api->wb_count(wb), next = 0, active = 0;
    while (next < n || active > 0) {
        while (next < n && k->n_free > 0) {
            size_t i = next++;
            char *req = NULL, *why = NULL;
            size_t len = 0;
            bp_status st = soap_request_build(self, &self->op, api->wb_get0(wb, i), NULL, NULL,
                                              &req, &len, &why);
            if (st != BP_OK) {
                api->wb_set_result(wb, i, st == BP_ERR_NOMEM ? BP_RETRY : st, why);
                api->free(why);
                continue;
            }
            sk_slot *s = &k->slots[k->free_slots[--k->n_free]];
            s->req = req;
            s->idx = i;
            http_buf_reset(&s->buf);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, req);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE, (long)len);
            curl_multi_add_handle(k->multi, s->h);
            active++;
        }
        if (active == 0)
            break;
        int running = 0;
        curl_multi_perform(k->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(k->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            sk_slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode rc = m->data.result;
            curl_multi_remove_handle(k->multi, s->h);
            sk_finish(self, wb, s, rc);
            k->free_slots[k->n_free++] = (size_t)(s - k->slots);
            active--;
        }
        if (active > 0 && (next >= n || k->n_free == 0))
            curl_multi_poll(k->multi, NULL, 0, 1000, NULL);
    }
    const char *name = self->op.name ? self->op.name : "call";
    static const char *const said[SK_KINDS] = {"will be retried", "not connected", "rejected"};
    for (int c = 0; c < SK_KINDS; c++) {
        if (k->n[c] == 0)
            continue;
        char more[64];
        snprintf(more, sizeof(more), " (and %zu more in this write)", k->n[c] - 1);
        api->log(self->inst, c == SK_REJECT ? BP_LOG_INFO : BP_LOG_WARN, "%s %s: %s%s", name,
                 said[c], k->first[c] ? k->first[c] : "failed", k->n[c] > 1 ? more : "");
        free(k->first[c]);
        k->first[c] = NULL;
        k->n[c] = 0;
    }
    return BP_OK;
}

void soap_sink_free(soap_conn *self)
{
    soap_snk *k = self->snk;
    if (k == NULL)
        return;
    for (size_t i = 0; k->slots && i < k->n_slots; i++) {
        if (k->slots[i].h) {
            curl_multi_remove_handle(k->multi, k->slots[i].h);
            curl_easy_cleanup(k->slots[i].h);
        }
        http_buf_free(&k->slots[i].buf);
        free(k->slots[i].req);
    }
    if (k->multi)
        curl_multi_cleanup(k->multi);
    for (int c = 0; c < SK_KINDS; c++)
        free(k->first[c]);
    free(k->slots);
    free(k->free_slots);
    free(k);
    self->snk = NULL;
}
