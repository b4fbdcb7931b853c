/* The Kafka connector's descriptor, options, configuration and life cycle. */
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

static const char *const kafka_formats[] = {"auto", "binary", "structured", "json", NULL};
static const char *const kafka_starts[] = {"earliest", "latest", NULL};

/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct kafka_opts {
    const char *brokers;
    long long mock_partitions;
    const char *topic, *topic_from, *key;
    const cJSON *topics;
    const char *group;
    int start;
    int format;
    const char *type, *source;
    int64_t timeout;
    const cJSON *properties;
    int follow;
};

#define KO(member) BP_OPT_FIELD(struct kafka_opts, member)

static const struct bp_option kafka_property_values[] = {
    {.name = "*", .type = BP_OPT_STRING, .description = "a librdkafka property's value"},
    {0},
};

static const struct bp_option kafka_options[] = {
    {.name = "brokers", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, KO(brokers),
     .description = "bootstrap servers, host:port[,host:port...]; \"mock\" starts an in-process mock cluster (no server; nothing persists)"},
    {.name = "mock_partitions", .type = BP_OPT_INT, .default_value = "3", .min = "1", .max = "64",
     KO(mock_partitions), .description = "brokers: mock: partitions of each topic it creates"},
    {.name = "topic", .type = BP_OPT_STRING, .roles = BP_KIND_SINK, KO(topic),
     .description = "sink: the topic written to (or the fallback when topic_from is absent)"},
    {.name = "topic_from", .type = BP_OPT_STRING, .roles = BP_KIND_SINK, KO(topic_from),
     .description = "sink: envelope path whose value names the topic, e.g. data.region"},
    {.name = "key", .type = BP_OPT_STRING, .default_value = "subject", .roles = BP_KIND_SINK, KO(key),
     .description = "sink: envelope path of the message key (records without it get none)"},
    {.name = "topics", .type = BP_OPT_LIST, .roles = BP_KIND_SOURCE,
     .required_for = BP_KIND_SOURCE, KO(topics),
     .description = "source: topics to consume as a consumer-group member"},
    {.name = "group", .type = BP_OPT_STRING, .default_value = "backplane", .roles = BP_KIND_SOURCE,
     KO(group), .description = "source: consumer group id"},
    {.name = "start", .type = BP_OPT_ENUM, .default_value = "earliest", .choices = kafka_starts,
     .roles = BP_KIND_SOURCE, KO(start),
     .description = "source: where a group without committed offsets starts"},
    {.name = "format", .type = BP_OPT_ENUM, .default_value = "auto", .choices = kafka_formats,
     KO(format),
     .description = "binary (ce_ headers), structured (application/cloudevents+json), json (plain values); source auto detects, sink auto = binary"},
    {.name = "type", .type = BP_OPT_STRING, .default_value = "com.backplane.record",
     .roles = BP_KIND_SOURCE, KO(type),
     .description = "source, plain JSON values: the CloudEvents type stamped on them"},
    {.name = "source", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE, KO(source),
     .description = "source, plain JSON values: the CloudEvents source (default kafka://TOPIC)"},
    {.name = "timeout", .type = BP_OPT_DURATION, .default_value = "30s", .min = "1s",
     .roles = BP_KIND_SINK, KO(timeout),
     .description = "sink: how long a message may wait for delivery before it is retried by the core"},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "true", .roles = BP_KIND_SOURCE,
     KO(follow),
     .description = "source: keep consuming (a consumer group has no end of input: false is refused)"},
    {.name = "properties", .type = BP_OPT_MAP, .fields = kafka_property_values, KO(properties),
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

static char *kafka_dup(const char *v)
{
    return v ? strdup(v) : NULL;
}

static bp_status kafka_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                            const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct kafka_opts *o = info->options;
    (void)config;
    kafka_conn *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->brokers = kafka_dup(o->brokers);
    self->topic = kafka_dup(o->topic);
    self->topic_from = kafka_dup(o->topic_from);
    self->key = kafka_dup(o->key);
    self->group = kafka_dup(o->group);
    self->start = kafka_dup(kafka_starts[o->start]);
    self->type = kafka_dup(o->type);
    self->source = kafka_dup(o->source);
    self->timeout_ms = o->timeout;
    const char *fmt = kafka_formats[o->format];
    self->format = strcmp(fmt, "binary") == 0       ? KF_BINARY
                   : strcmp(fmt, "structured") == 0 ? KF_STRUCTURED
                   : strcmp(fmt, "json") == 0       ? KF_JSON
                                                    : KF_AUTO;
    const cJSON *props = o->properties;
    if (props) {
        self->properties = cJSON_Duplicate(props, 1);
        for (const cJSON *p = props->child; p; p = p->next)
            if (kafka_is_secret(p->string) && cJSON_IsString(p) && BP_HOST_HAS(api, mask_secret))
                api->mask_secret(p->valuestring);
    }
    const cJSON *topics = o->topics;
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
                                              (int)o->mock_partitions, errmsg)
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

/* check: what run checks, without connecting. Every property is set on a
 * scratch rd_kafka_conf_t as kafka_conf_new does at start-up, and
 * librdkafka's refusal is reported at the property (its file:line:col). */
static bp_status kafka_check(const struct bp_host_api *api, const cJSON *config,
                             const struct bp_instance_info *info,
                             void (*report)(void *ctx, const char *path, int col, const char *msg),
                             void *ctx)
{
    (void)info;
    bp_status st = BP_OK;
    const cJSON *props = bp_cfg_get0(config, "properties");
    if (cJSON_IsFalse(bp_cfg_get0(config, "follow"))) {
        report(ctx, "follow", 0, "a Kafka source follows its topics: a consumer group has no "
                                 "end of input (follow: false is not supported)");
        st = BP_ERR_INVALID;
    }
    const char *paths[] = {bp_cfg_str(config, "topic_from"), bp_cfg_str(config, "key")};
    const char *names[] = {"topic_from", "key"};
    for (int i = 0; i < 2; i++)
        if (paths[i] && api->path_check(paths[i]) != BP_OK) {
            char msg[300];
            snprintf(msg, sizeof(msg), "invalid envelope path '%s'", paths[i]);
            report(ctx, names[i], 0, msg);
            st = BP_ERR_INVALID;
        }
    if (props == NULL)
        return st;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return BP_ERR_NOMEM;
    for (const cJSON *p = props->child; p; p = p->next) {
        char num[64], err[512], path[300];
        const char *v = cJSON_IsString(p) ? p->valuestring
                        : cJSON_IsBool(p) ? (cJSON_IsTrue(p) ? "true" : "false")
                                          : NULL;
        if (v == NULL && cJSON_IsNumber(p)) {
            snprintf(num, sizeof(num), "%.15g", p->valuedouble);
            v = num;
        }
        snprintf(path, sizeof(path), "properties.%s", p->string);
        if (v == NULL) {
            report(ctx, path, 0, "a librdkafka property must be a scalar");
            st = BP_ERR_INVALID;
        } else if (rd_kafka_conf_set(conf, p->string, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            report(ctx, path, 0, err);
            st = BP_ERR_INVALID;
        }
    }
    rd_kafka_conf_destroy(conf);
    return st;
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
    .min_host_minor = 3,    /* status_str */
    .name = "kafka",
    .version = "0.1.0",
    .description = "Kafka topics (librdkafka): consumer-group source, idempotent producer sink, CloudEvents binary/structured",
    .kinds = BP_KIND_SOURCE | BP_KIND_SINK,
    .flags = BP_PLUGIN_ASYNC,   /* delivery reports come later */
    .options = kafka_options,
    .options_size = sizeof(struct kafka_opts),
    .init_ex = kafka_init,
    .check_ex = kafka_check,
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
