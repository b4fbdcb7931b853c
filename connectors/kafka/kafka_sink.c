/* The Kafka sink: an idempotent producer (acks=all). Every record is queued
 * with its ticket; the delivery report completes it through write_done, so a
 * failed delivery is retried or dead-lettered by the core, never dropped. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "../common/fault.h"

struct ksnk {
    rd_kafka_t *rk;
    pthread_t poller;          /* serves delivery reports */
    int poller_started;
    atomic_int stop;
    char *buf;                 /* topic text of non-string values, reused */
    size_t len, cap;
    char *kbuf;                /* key text of non-string values, reused */
    size_t klen, kcap;
};

/* A delivery error as the core should see it (connectors/common/fault_kafka.c
 * holds the table): the reason names the cause and quotes librdkafka's text
 * ("permission denied: Broker: Topic authorization failed"). */
static bp_status ks_classify(rd_kafka_resp_err_t err, char *why, size_t n)
{
    fault f = fault_kafka(err);
    fault_reason(f, rd_kafka_err2str(err), why, n);
    return f.st;
}

static void ks_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_conn *self = opaque;
    (void)rk;
    uint64_t ticket = (uint64_t)(uintptr_t)m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        self->api->write_done(self->inst, ticket, BP_OK, NULL);
        return;
    }
    char why[256];
    bp_status st = ks_classify(m->err, why, sizeof(why));
    self->api->write_done(self->inst, ticket, st, why);
}

static void *ks_poller_main(void *arg)
{
    kafka_conn *self = arg;
    while (!atomic_load(&self->snk->stop))
        rd_kafka_poll(self->snk->rk, 100);
    return NULL;
}

static bp_status ks_open(kafka_conn *self)
{
    const struct bp_host_api *api = self->api;
    char *err = NULL, errstr[512], tmo[32];
    ksnk *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return BP_ERR_NOMEM;
    rd_kafka_conf_t *conf = kafka_conf_new(self, &err);
    snprintf(tmo, sizeof(tmo), "%lld", self->timeout_ms);
    /* Idempotent, all replicas: a retried send is never written twice. A
     * property in the site file can still override these. */
    if (conf == NULL || kafka_conf_set(self, conf, "message.timeout.ms", tmo, &err) < 0) {
        api->log(self->inst, BP_LOG_ERROR, "%s", err ? err : "cannot configure the producer");
        free(err);
        if (conf)
            rd_kafka_conf_destroy(conf);
        free(k);
        return BP_RETRY;
    }
    if (!cJSON_GetObjectItemCaseSensitive(self->properties, "enable.idempotence"))
        kafka_conf_set(self, conf, "enable.idempotence", "true", &err);
    if (!cJSON_GetObjectItemCaseSensitive(self->properties, "acks"))
        kafka_conf_set(self, conf, "acks", "all", &err);
    if (!cJSON_GetObjectItemCaseSensitive(self->properties, "linger.ms"))
        kafka_conf_set(self, conf, "linger.ms", "5", &err);
    free(err);
    rd_kafka_conf_set_dr_msg_cb(conf, ks_dr_cb);
    rd_kafka_conf_set_opaque(conf, self);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (k->rk == NULL) {
        api->log(self->inst, BP_LOG_ERROR, "cannot create the producer: %s", errstr);
        free(k);
        return BP_RETRY;
    }
    self->snk = k;
    atomic_init(&k->stop, 0);
    if (pthread_create(&k->poller, NULL, ks_poller_main, self) != 0) {
        rd_kafka_destroy(k->rk);
        free(k);
        self->snk = NULL;
        return BP_RETRY;
    }
    k->poller_started = 1;
    return BP_OK;
}

/* The string value of an envelope path for a key or topic; numbers and other
 * values as their JSON text (in *tmp). NULL when absent. */
static const char *ks_path_text(kafka_conn *self, const bp_envelope *env, const char *path,
                                size_t *len, char **buf, size_t *blen, size_t *bcap)
{
    const cJSON *v = self->api->envelope_get0_path(env, path);
    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    if (cJSON_IsString(v)) {
        *len = strlen(v->valuestring);
        return v->valuestring;
    }
    *blen = 0;
    if (self->api->json_append(v, buf, blen, bcap) != BP_OK)
        return NULL;
    *len = *blen;
    return *buf;
}

/* Produces one record; returns the result for it (BP_QUEUED on success). */
static bp_status ks_produce(kafka_conn *self, bp_write_batch *wb, size_t i, char **reason)
{
    const struct bp_host_api *api = self->api;
    ksnk *k = self->snk;
    const bp_envelope *env = api->wb_get0(wb, i);
    size_t tlen = 0, klen = 0;
    const char *topic = self->topic_from ? ks_path_text(self, env, self->topic_from, &tlen, &k->buf,
                                                        &k->len, &k->cap)
                                         : NULL;
    char topic_buf[256];
    if (topic) {
        snprintf(topic_buf, sizeof(topic_buf), "%.*s", (int)(tlen < 255 ? tlen : 255), topic);
        topic = topic_buf;
    } else {
        topic = self->topic;
    }
    if (topic == NULL || *topic == '\0') {
        *reason = api->format("no topic: %s is absent and no fixed topic is set",
                              self->topic_from ? self->topic_from : "topic_from");
        return BP_REJECT;
    }
    /* Borrowed from the envelope or kbuf: librdkafka copies keys. */
    const char *key = self->key ? ks_path_text(self, env, self->key, &klen, &k->kbuf, &k->klen,
                                               &k->kcap)
                                : NULL;

    rd_kafka_headers_t *hdrs = NULL;
    unsigned char *value = NULL;
    size_t vlen = 0;
    bp_status st = BP_OK;
    if (self->format == KF_STRUCTURED) {
        char *json = api->envelope_to_json(env, BP_SER_DEFAULT);
        value = (unsigned char *)json;
        vlen = json ? strlen(json) : 0;
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, "content-type", -1,
                            "application/cloudevents+json; charset=UTF-8", -1);
        st = json ? BP_OK : BP_RETRY;
    } else if (self->format == KF_JSON) {
        const cJSON *data = api->envelope_get0_data(env);
        size_t cap = 0;
        if (data && api->json_append(data, (char **)&value, &vlen, &cap) != BP_OK) {
            api->free(value);
            value = NULL;
            vlen = 0;
            st = BP_ERR_NOMEM;
        }
    } else {
        bp_header *h = NULL;
        size_t nh = 0;
        st = api->envelope_to_binary(env, &h, &nh, &value, &vlen);
        if (st == BP_OK) {
            hdrs = rd_kafka_headers_new(nh);
            for (size_t j = 0; j < nh; j++)
                rd_kafka_header_add(hdrs, h[j].name, -1, h[j].value, (ssize_t)h[j].len);
            api->headers_free(h, nh);
        }
    }
    if (st != BP_OK) {
        api->free(value);
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        *reason = api->format("cannot serialise the record: %s", api->status_str(st));
        return st == BP_ERR_NOMEM ? BP_RETRY : BP_REJECT;
    }
    rd_kafka_resp_err_t err;
    for (int tries = 0;; tries++) {
        err = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_VALUE(value, vlen), RD_KAFKA_V_KEY(key, key ? klen : 0),
                                /* F_FREE: librdkafka takes value (host
                                 * memory, which ABI 1.x guarantees is
                                 * malloc's: plugin.h) and free()s it. */
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)api->wb_ticket(wb, i)),
                                RD_KAFKA_V_END);
        /* The local queue is full: wait for deliveries to make room. */
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 100)
            break;
        rd_kafka_poll(k->rk, 50);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        api->free(value);                 /* F_FREE takes it only on success */
        rd_kafka_headers_destroy(hdrs);   /* not taken over on failure */
        char why[256];
        bp_status st = ks_classify(err, why, sizeof(why));
        *reason = api->format("%s", why);
        return st;
    }
    return BP_QUEUED;
}

bp_status kafka_sink_write(kafka_conn *self, bp_write_batch *wb)
{
    const struct bp_host_api *api = self->api;
    if (self->snk == NULL) {
        bp_status st = ks_open(self);
        if (st != BP_OK)
            return st;
    }
    size_t n = api->wb_count(wb);
    for (size_t i = 0; i < n; i++) {
        char *reason = NULL;
        bp_status st = ks_produce(self, wb, i, &reason);
        api->wb_set_result(wb, i, st, reason);
        api->free(reason);
    }
    return BP_OK;
}

void kafka_sink_free(kafka_conn *self)
{
    ksnk *k = self->snk;
    if (k == NULL)
        return;
    /* Deliver what is queued (reports still reach write_done), then stop. */
    rd_kafka_resp_err_t err = rd_kafka_flush(k->rk, 10000);
    if (err)
        self->api->log(self->inst, BP_LOG_WARN,
                       "%d message(s) not delivered at shutdown: %s (their sources were not "
                       "acked; they are sent again after a restart)",
                       rd_kafka_outq_len(k->rk), rd_kafka_err2str(err));
    atomic_store(&k->stop, 1);
    if (k->poller_started)
        pthread_join(k->poller, NULL);
    rd_kafka_destroy(k->rk);
    free(k->buf);
    free(k->kbuf);
    free(k);
    self->snk = NULL;
}
