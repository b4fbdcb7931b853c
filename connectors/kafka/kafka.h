/* The Kafka connector (librdkafka): a consumer-group source and an
 * idempotent-producer sink, CloudEvents on the wire. Internal header. */
#ifndef BP_KAFKA_H
#define BP_KAFKA_H

#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <backplane/plugin.h>

typedef struct ksrc ksrc;
typedef struct ksnk ksnk;

enum kafka_format { KF_BINARY, KF_STRUCTURED, KF_JSON, KF_AUTO };

typedef struct kafka_conn {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *brokers;
    char *topic;               /* sink: fixed topic (or fallback for topic_from) */
    char *topic_from;          /* sink: envelope path naming the topic */
    char *key;                 /* sink: envelope path of the message key */
    char **topics;             /* source: subscriptions */
    size_t n_topics;
    char *group;
    char *start;               /* earliest | latest for a new group */
    enum kafka_format format;
    char *type;                /* source, plain JSON: CE type to stamp */
    char *source;              /* source, plain JSON: CE source (default kafka://brokers/topic) */
    cJSON *properties;         /* librdkafka properties passed through */
    long long timeout_ms;      /* sink: message.timeout.ms */
    ksrc *src;
    ksnk *snk;
    int mock;                  /* brokers: mock (holds a reference to the mock cluster) */
} kafka_conn;

/* A librdkafka configuration with bootstrap servers and the pass-through
 * properties applied; errors (unknown property, bad value) in *errmsg. */
rd_kafka_conf_t *kafka_conf_new(kafka_conn *self, char **errmsg);
/* librdkafka's log callback: lines go to the host's logger for the
 * kafka_conn that is the handle's opaque (set by kafka_conf_new). */
void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
/* Sets one property; on error *errmsg says which (values of secret-looking
 * properties are never echoed). */
int kafka_conf_set(kafka_conn *self, rd_kafka_conf_t *conf, const char *name, const char *value,
                   char **errmsg);

/* brokers: mock. Starts the process's mock cluster on first use, creates
 * topics (partitions each; existing ones are kept) and returns its bootstrap
 * list (malloc'ed), or NULL with *errmsg. Each success takes a reference that
 * kafka_mock_release drops; the cluster stops with the last. */
char *kafka_mock_acquire(kafka_conn *self, const char *const *topics, size_t n_topics,
                         int partitions, char **errmsg);
void kafka_mock_release(void);

bp_status kafka_source_poll(kafka_conn *self, bp_poll_batch *batch, int timeout_ms);
bp_status kafka_source_ack(kafka_conn *self, const uint64_t *tokens, size_t n);
void kafka_source_free(kafka_conn *self);

bp_status kafka_sink_write(kafka_conn *self, bp_write_batch *wb);
void kafka_sink_free(kafka_conn *self);

#endif
