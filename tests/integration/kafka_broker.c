/* A Kafka broker for the test suite: librdkafka's mock cluster (the real
 * Kafka protocol over TCP on loopback), hosted in this process so that other
 * processes — backplane, kcat — can use it.
 *
 *   kafka_broker [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints "BOOTSTRAP host:port[,host:port...]" on stdout once ready, then reads
 * commands on stdin: "down ID" / "up ID" (broker outage), "errors APIKEY ERR
 * COUNT" (the next COUNT requests of Kafka API APIKEY — 0 Produce, 1 Fetch,
 * 3 Metadata, ... — fail with broker error code ERR, e.g. 29
 * TOPIC_AUTHORIZATION_FAILED), "quit". Exits at
 * end of input or on SIGTERM. Ports are random: read them from the line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t kb_stop;

static void kb_on_signal(int sig)
{
    (void)sig;
    kb_stop = 1;
}

int main(int argc, char **argv)
{
    int brokers = 1;
    char errstr[512];
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "kafka_broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "kafka_broker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") != 0 || i + 1 >= argc)
            continue;
        char *spec = strdup(argv[++i]), *colon = strchr(spec, ':');
        int parts = colon ? atoi(colon + 1) : 1;
        if (colon)
            *colon = '\0';
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, spec, parts > 0 ? parts : 1, 1);
        if (err)
            fprintf(stderr, "kafka_broker: topic %s: %s\n", spec, rd_kafka_err2str(err));
        free(spec);
    }
    signal(SIGTERM, kb_on_signal);
    signal(SIGINT, kb_on_signal);
    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[256];
    while (!kb_stop && fgets(line, sizeof(line), stdin)) {
        int id, api, code, count;
        if (sscanf(line, "errors %d %d %d", &api, &code, &count) == 3 && count > 0 &&
            count <= 1000) {
            rd_kafka_resp_err_t errs[1000];
            for (int k = 0; k < count; k++)
                errs[k] = (rd_kafka_resp_err_t)code;
            rd_kafka_mock_push_request_errors_array(mc, (int16_t)api, (size_t)count, errs);
        } else if (sscanf(line, "down %d", &id) == 1)
            rd_kafka_mock_broker_set_down(mc, id);
        else if (sscanf(line, "up %d", &id) == 1)
            rd_kafka_mock_broker_set_up(mc, id);
        else if (strncmp(line, "quit", 4) == 0)
            break;
        printf("OK %s", line);
        fflush(stdout);
    }
    /* Without stdin (a background job), wait for SIGTERM. */
    while (!kb_stop && feof(stdin) && isatty(0) == 0 && getenv("KB_EXIT_ON_EOF") == NULL)
        pause();
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
