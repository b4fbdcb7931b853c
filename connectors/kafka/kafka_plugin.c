/* The Kafka connector's descriptor, options, configuration and life cycle. */
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

static const char *const kafka_formats[] = {"auto", "binary", "structured", "json", NULL};
static const char *const kafka_starts[] = {"earliest", "latest", NULL};

static const struct bp_option kafka_options[] = {
    {.name = "brokers", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "bootstrap servers, host:port[,host:port...]; \"mock\" starts an in-process mock cluster (no server; nothing persists)"},
    {.name = "mock_partitions", .type = BP_OPT_INT, .default_value = "3", .min = "1", .max = "64",
     .description = "brokers: mock: partitions of each topic it creates"},
    {.name = "topic", .type = BP_OPT_STRING,
     .description = "sink: the topic written to (or the fallback when topic_from is absent)"},
    {.name = "topic_from", .type = BP_OPT_STRING,
     .description = "sink: envelope path whose value names the topic, e.g. data.region"},
    {.name = "key", .type = BP_OPT_STRING, .default_value = "subject",
     .description = "sink: envelope path of the message key (records without it get none)"},
    {.name = "topics", .type = BP_OPT_LIST,
     .description = "source: topics to consume as a consumer-group member"},
    {.name = "group", .type = BP_OPT_STRING, .default_value = "backplane",
     .description = "source: consumer group id"},
    {.name = "start", .type = BP_OPT_ENUM, .default_value = "earliest", .choices = kafka_starts,
     .description = "source: where a group without committed offsets starts"},
    {.name = "format", .type = BP_OPT_ENUM, .default_value = "auto", .choices = kafka_formats,
     .description = "binary (ce_ headers), structured (application/cloudevents+json), json (plain values); source auto detects, sink auto = binary"},
    {.name = "type", .type = BP_OPT_STRING, .default_value = "com.backplane.record",
     .description = "source, plain JSON values: the CloudEvents type stamped on them"},
    {.name = "source", .type = BP_OPT_STRING,
     .description = "source, plain JSON values: the CloudEvents source (default kafka://TOPIC)"},
    {.name = "timeout", .type = BP_OPT_DURATION, .default_value = "30s", .min = "1s",
     .description = "sink: how long a message may wait for delivery before it is retried by the core"},
    {.name = "properties", .type = BP_OPT_MAP,
     .description = "any librdkafka property (TLS, SASL, tuning); values of *password*/*secret*/*key* properties are never logged"},
    {0},
};

/* Secret-looking property names: their values are masked in every message. */
static int kafka_is_secret(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, ".key") ||
           strstr(name, "token") || strstr(name, "jaas");
}

int kafka_conf_set(kafka_conn *self, rd_kafka_conf_t *conf, const char *name, const char *value,
                   char **errmsg)
{
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
        return 0;
    *errmsg = self->api->format("librdkafka property %s=%s: %s", name,
                                kafka_is_secret(name) ? "****" : value, err);
    return -1;
}

/* librdkafka's own log lines (syslog levels, from its threads) through the
 * host's logger with the instance, so --log-format json, the level filter and
 * secret masking apply to them too (by default librdkafka writes to stderr). */
void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const kafka_conn *self = rd_kafka_opaque(rk);
    if (self == NULL)
        return;
    enum bp_log_level l = level <= 3 ? BP_LOG_ERROR : level == 4 ? BP_LOG_WARN
                          : level <= 6 ? BP_LOG_INFO : BP_LOG_DEBUG;
    self->api->log(self->inst, l, "librdkafka %s: %s", fac ? fac : "", buf ? buf : "");
}

rd_kafka_conf_t *kafka_conf_new(kafka_conn *self, char **errmsg)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_opaque(conf, self);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (kafka_conf_set(self, conf, "bootstrap.servers", self->brokers, errmsg) < 0 ||
        kafka_conf_set(self, conf, "log_level", "3", errmsg) < 0)
        goto fail;
    for (const cJSON *p = self->properties ? self->properties->child : NULL; p; p = p->next) {
        char num[64];
        const char *v = cJSON_IsString(p) ? p->valuestring
                        : cJSON_IsBool(p) ? (cJSON_IsTrue(p) ? "true" : "false")
                                          : NULL;
        if (v == NULL && cJSON_IsNumber(p)) {
            snprintf(num, sizeof(num), "%.15g", p->valuedouble);
            v = num;
        }
        if (v == NULL) {
            *errmsg = self->api->format("librdkafka property %s must be a scalar", p->string);
            goto fail;
        }
        if (kafka_conf_set(self, conf, p->string, v, errmsg) < 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void kafka_destroy(void *p)
{
    kafka_conn *self = p;
    if (self == NULL)
        return;
    kafka_source_free(self);
    kafka_sink_free(self);
    if (self->mock)
        kafka_mock_release();
    free(self->brokers);
    free(self->topic);
    free(self->topic_from);
    free(self->key);
    for (size_t i = 0; i < self->n_topics; i++)
        free(self->topics[i]);
    free(self->topics);
    free(self->group);
    free(self->start);
    free(self->type);
    free(self->source);
    cJSON_Delete(self->properties);
    free(self);
}

static char *kafka_dup(const cJSON *config, const char *name)
{
    const char *v = bp_cfg_str(config, name);
    return v ? strdup(v) : NULL;
}

static bp_status kafka_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                            void **out, char **errmsg)
{
    kafka_conn *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->brokers = kafka_dup(config, "brokers");
    self->topic = kafka_dup(config, "topic");
    self->topic_from = kafka_dup(config, "topic_from");
    self->key = kafka_dup(config, "key");
    self->group = kafka_dup(config, "group");
    self->start = kafka_dup(config, "start");
    self->type = kafka_dup(config, "type");
    self->source = kafka_dup(config, "source");
    self->timeout_ms = bp_cfg_int(config, "timeout", 30000);
    const char *fmt = bp_cfg_str(config, "format");
    self->format = strcmp(fmt, "binary") == 0       ? KF_BINARY
                   : strcmp(fmt, "structured") == 0 ? KF_STRUCTURED
                   : strcmp(fmt, "json") == 0       ? KF_JSON
                                                    : KF_AUTO;
    const cJSON *props = bp_cfg_get0(config, "properties");
    if (props) {
        self->properties = cJSON_Duplicate(props, 1);
        for (const cJSON *p = props->child; p; p = p->next)
            if (kafka_is_secret(p->string) && cJSON_IsString(p) && BP_HOST_HAS(api, mask_secret))
                api->mask_secret(p->valuestring);
    }
    const cJSON *topics = bp_cfg_get0(config, "topics");
    if (topics) {
        self->topics = calloc((size_t)cJSON_GetArraySize(topics) + 1, sizeof(char *));
        for (const cJSON *t = topics->child; self->topics && t; t = t->next)
            self->topics[self->n_topics++] = strdup(t->valuestring);
    }
    if (self->topic_from && api->path_check(self->topic_from) != BP_OK) {
        *errmsg = api->format("topic_from: invalid path '%s'", self->topic_from);
        kafka_destroy(self);
        return BP_ERR_INVALID;
    }
    if (self->key && api->path_check(self->key) != BP_OK) {
        *errmsg = api->format("key: invalid path '%s'", self->key);
        kafka_destroy(self);
        return BP_ERR_INVALID;
    }
    if (self->brokers && strcmp(self->brokers, "mock") == 0) {
        const char **names = calloc(self->n_topics + 1, sizeof(*names));
        size_t nn = 0;
        for (size_t i = 0; names && i < self->n_topics; i++)
            names[nn++] = self->topics[i];
        if (names && self->topic)
            names[nn++] = self->topic;
        char *bs = names ? kafka_mock_acquire(self, names, nn,
                                              (int)bp_cfg_int(config, "mock_partitions", 3), errmsg)
                         : NULL;
        free(names);
        if (bs == NULL) {
            kafka_destroy(self);
            return BP_ERR_INVALID;
        }
        self->mock = 1;
        free(self->brokers);
        self->brokers = bs;
        /* The mock's group coordinator: the default 45 s session timeout
         * makes a re-join wait ~42 s (TEST-PEERS.md); 6 s is what works. */
        if (self->properties == NULL)
            self->properties = cJSON_CreateObject();
        if (self->properties &&
            !cJSON_GetObjectItemCaseSensitive(self->properties, "session.timeout.ms"))
            cJSON_AddStringToObject(self->properties, "session.timeout.ms", "6000");
    }
    /* The configuration is checked now, so a typo in a property fails at
     * start-up with its name rather than at the first record. */
    rd_kafka_conf_t *conf = kafka_conf_new(self, errmsg);
    if (conf == NULL) {
        kafka_destroy(self);
        return BP_ERR_INVALID;
    }
    rd_kafka_conf_destroy(conf);
    *out = self;
    return BP_OK;
}

static bp_status kafka_poll(void *self, bp_poll_batch *batch, int timeout_ms)
{
    return kafka_source_poll(self, batch, timeout_ms);
}

static bp_status kafka_ack(void *self, const uint64_t *tokens, size_t n)
{
    return kafka_source_ack(self, tokens, n);
}

static bp_status kafka_write(void *self, bp_write_batch *wb)
{
    return kafka_sink_write(self, wb);
}

static void kafka_stop(void *p)
{
    kafka_conn *self = p;
    /* Leave the group cleanly and flush what is queued before destroy. */
    kafka_source_free(self);
    kafka_sink_free(self);
}

static const struct bp_plugin kafka_plugin = {
    BP_PLUGIN_HEADER,
    .name = "kafka",
    .version = "0.1.0",
    .description = "Kafka topics (librdkafka): consumer-group source, idempotent producer sink, CloudEvents binary/structured",
    .kinds = BP_KIND_SOURCE | BP_KIND_SINK,
    .flags = BP_PLUGIN_ASYNC,   /* delivery reports come later */
    .options = kafka_options,
    .init = kafka_init,
    .poll = kafka_poll,
    .ack = kafka_ack,
    .write = kafka_write,
    .stop = kafka_stop,
    .destroy = kafka_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &kafka_plugin;
}
