/* rd_kafka_resp_err_t -> fault (see fault.h). Only librdkafka's enum is read:
 * nothing here calls librdkafka. librdkafka retries retriable broker errors
 * itself (message.send.max.retries) before a delivery report says failed, so
 * what reaches this table is what it gave up on. Codes not listed retry. */
#include <librdkafka/rdkafka.h>

#include "fault.h"

#define NC BP_NOT_CONNECTED

static const struct {
    rd_kafka_resp_err_t err;
    bp_status st;
    const char *cause;
} fault_kafka_rows[] = {
    {RD_KAFKA_RESP_ERR_NO_ERROR, BP_OK, NULL},
    /* The rule: ACLs, SASL, TLS. The records are fine; the principal is not
     * allowed (yet), or cannot log in. */
    {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
    {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
    {RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
    {RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
    {RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
    {RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, NC, FAULT_CREDENTIALS},
    {RD_KAFKA_RESP_ERR__AUTHENTICATION, NC, FAULT_CREDENTIALS},
    {RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM, NC, "SASL mechanism not offered by the broker"},
    {RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE, NC, "SASL handshake failed"},
    {RD_KAFKA_RESP_ERR__SSL, NC, "TLS handshake or verification failed"},
    /* No broker to talk to. */
    {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, NC, "all brokers down"},
    {RD_KAFKA_RESP_ERR__TRANSPORT, NC, "broker connection failed"},
    {RD_KAFKA_RESP_ERR__RESOLVE, NC, FAULT_UNREACHABLE},
    /* This message can never be written as it is. */
    {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR_INVALID_MSG, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR_INVALID_RECORD, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR__BAD_MSG, BP_REJECT, NULL},
    {RD_KAFKA_RESP_ERR__INVALID_ARG, BP_REJECT, NULL},
    /* A topic named by the record (topic_from) that is not a valid name or
     * does not exist. */
    {RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, BP_REJECT, "invalid topic"},
    {RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, BP_REJECT, "unknown topic"},
};

fault fault_kafka(rd_kafka_resp_err_t err)
{
    for (size_t i = 0; i < sizeof(fault_kafka_rows) / sizeof(fault_kafka_rows[0]); i++)
        if (fault_kafka_rows[i].err == err)
            return (fault){fault_kafka_rows[i].st, fault_kafka_rows[i].cause};
    return (fault){BP_RETRY, NULL};
}
