/* `brokers: mock`: an in-process librdkafka mock cluster, shared by every
 * instance of the plugin in this process, so a site (the quickstart) can
 * publish and consume Kafka events with no server. It speaks the Kafka
 * protocol on a random loopback port; nothing persists, and it keeps only a
 * few MiB per partition (a librdkafka limit). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"   /* rdkafka.h first: rdkafka_mock.h requires it */

#include <librdkafka/rdkafka_mock.h>

static pthread_mutex_t km_mu = PTHREAD_MUTEX_INITIALIZER;
static rd_kafka_t *km_rk;                 /* the handle hosting the cluster */
static rd_kafka_mock_cluster_t *km_cluster;
static char *km_bootstraps;
static int km_refs;
/* The cluster's log lines go to the host's logger with no instance: the
 * cluster is shared and outlives the instance that started it. */
static kafka_conn km_logger;

char *kafka_mock_acquire(kafka_conn *self, const char *const *topics, size_t n_topics,
                         int partitions, char **errmsg)
{
    char *out = NULL;
    pthread_mutex_lock(&km_mu);
    if (km_cluster == NULL) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
        km_logger.api = self->api;
        rd_kafka_conf_set_opaque(conf, &km_logger);
        rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
        km_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (km_rk == NULL) {
            rd_kafka_conf_destroy(conf);
            *errmsg = self->api->format("brokers: mock: %s", err);
            goto out;
        }
        km_cluster = rd_kafka_mock_cluster_new(km_rk, 1);
        if (km_cluster == NULL) {
            rd_kafka_destroy(km_rk);
            km_rk = NULL;
            *errmsg = self->api->format("brokers: mock: cannot start the mock cluster");
            goto out;
        }
        km_bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(km_cluster));
        self->api->log(self->inst, BP_LOG_INFO,
                       "brokers: mock: in-process Kafka mock cluster at %s (nothing persists)",
                       km_bootstraps ? km_bootstraps : "?");
    }
    /* Topics are made up front with the configured partition count (an
     * existing topic keeps its own). */
    for (size_t i = 0; i < n_topics; i++)
        if (topics[i] && topics[i][0])
            rd_kafka_mock_topic_create(km_cluster, topics[i], partitions, 1);
    out = km_bootstraps ? strdup(km_bootstraps) : NULL;
    if (out == NULL && *errmsg == NULL)
        *errmsg = self->api->format("out of memory");
    if (out)
        km_refs++;
out:
    pthread_mutex_unlock(&km_mu);
    return out;
}

void kafka_mock_release(void)
{
    pthread_mutex_lock(&km_mu);
    if (km_refs > 0 && --km_refs == 0 && km_cluster) {
        rd_kafka_mock_cluster_destroy(km_cluster);
        rd_kafka_destroy(km_rk);
        free(km_bootstraps);
        km_cluster = NULL;
        km_rk = NULL;
        km_bootstraps = NULL;
    }
    pthread_mutex_unlock(&km_mu);
}
