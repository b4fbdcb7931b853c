/* The connectors' fault tables (connectors/common/fault*.c), table-driven:
 * HTTP status, SMTP replies, IMAP tagged replies, CURLcode, librdkafka
 * errors -> ok / retry / not connected / reject, and THE RULE checked over
 * every code each table can be asked about: credentials, TLS verification
 * and permissions are never a reject, never a retry. */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "../../connectors/common/fault.h"
#include "tap.h"

#define NC BP_NOT_CONNECTED

static void check_fault(fault got, bp_status want_st, const char *want_cause, const char *what,
                        int line)
{
    char g[160], w[160];
    snprintf(g, sizeof(g), "%s%s%s", fault_name(got.st), got.cause ? " / " : "",
             got.cause ? got.cause : "");
    snprintf(w, sizeof(w), "%s%s%s", fault_name(want_st), want_cause ? " / " : "",
             want_cause ? want_cause : "");
    tap_check_str(g, w, what, __FILE__, line);
}

static void test_http(void)
{
    static const struct {
        long status;
        bp_status st;
        const char *cause;
    } t[] = {
        {200, BP_OK, NULL},           {204, BP_OK, NULL},
        {401, NC, FAULT_CREDENTIALS}, {403, NC, FAULT_PERMISSION},
        {407, NC, "proxy credentials refused"},
        {404, NC, "no such endpoint"},
        {400, BP_REJECT, NULL},       {413, BP_REJECT, NULL},
        {422, BP_REJECT, NULL},       {408, BP_RETRY, NULL},
        {429, BP_RETRY, "rate limited"},
        {500, BP_RETRY, NULL},        {502, BP_RETRY, NULL},
        {503, BP_RETRY, NULL},        {302, BP_REJECT, NULL},
        {0, BP_REJECT, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "HTTP %ld", t[i].status);
        check_fault(fault_http_status(t[i].status), t[i].st, t[i].cause, what, __LINE__);
    }
}

static void test_smtp(void)
{
    static const struct {
        long code;
        const char *reply;
        bp_status st;
        const char *cause;
    } t[] = {
        {250, "250 2.0.0 stored", BP_OK, NULL},
        {535, "535 5.7.8 Authentication credentials invalid", NC, FAULT_CREDENTIALS},
        {535, NULL, NC, FAULT_CREDENTIALS},
        {530, "530 5.7.0 Authentication required", NC, "authentication required"},
        {534, "534 5.7.9 Authentication mechanism is too weak", NC, "authentication mechanism too weak"},
        {538, "538 5.7.11 Encryption required", NC, "encryption required for authentication"},
        {554, "554 5.7.8 Authentication credentials invalid", NC, FAULT_CREDENTIALS},
        {550, "550 5.7.13 User account disabled", NC, "account disabled"},
        {554, "554-5.7.14 Trust relationship required", NC, "trust relationship required"},
        {454, "454 4.7.0 TLS not available due to temporary reason", NC,
         "authentication or TLS temporarily unavailable"},
        {421, "421 4.3.2 Service shutting down", NC, "server closing the connection"},
        /* 5.7.1 is a recipient or content refusal (relay denied, spam): reject. */
        {554, "554 5.7.1 <x@y>: Relay access denied", BP_REJECT, NULL},
        {550, "550 5.7.10 no such code, prefix of 5.7.1x is not 5.7.1", BP_REJECT, NULL},
        {550, "550 5.1.1 <nobody@x.example>: no such user here", BP_REJECT, NULL},
        {552, "552 5.3.4 Message too big", BP_REJECT, NULL},
        {451, "451 4.3.0 try again later", BP_RETRY, NULL},
        {450, "450 4.2.1 mailbox busy", BP_RETRY, NULL},
        {452, NULL, BP_RETRY, NULL},
        {0, NULL, BP_RETRY, NULL},   /* no reply: the transport decides */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "SMTP %s", t[i].reply ? t[i].reply : "(code only)");
        if (!t[i].reply)
            snprintf(what, sizeof(what), "SMTP %ld (no text)", t[i].code);
        check_fault(fault_smtp(t[i].code, t[i].reply), t[i].st, t[i].cause, what, __LINE__);
    }
}

static void test_imap(void)
{
    static const struct {
        const char *line;
        bp_status st;
        const char *cause;
    } t[] = {
        {"A001 OK Logged in", BP_OK, NULL},
        {"A001 NO [AUTHENTICATIONFAILED] Authentication failed.", NC, FAULT_CREDENTIALS},
        {"A001 NO [AUTHORIZATIONFAILED] not allowed to log in as that user", NC, FAULT_PERMISSION},
        {"A001 NO [EXPIRED] Password expired", NC, "credentials expired"},
        {"A001 NO [PRIVACYREQUIRED] Use STARTTLS", NC, "TLS required by the server"},
        {"A001 NO [CONTACTADMIN] account locked", NC, "account locked: contact the mail administrator"},
        {"A004 NO [NOPERM] no permission to move", NC, FAULT_PERMISSION},
        {"A002 NO [NONEXISTENT] Mailbox doesn't exist: Gone", NC, "no such mailbox"},
        {"A005 NO [TRYCREATE] Mailbox doesn't exist: Done", NC, "no such mailbox"},
        {"A001 NO [UNAVAILABLE] Temporary authentication failure.", BP_RETRY,
         "server temporarily unavailable"},
        {"A003 NO [INUSE] Mailbox is locked", BP_RETRY, "mailbox in use"},
        {"A003 NO [SERVERBUG] Internal error occurred.", BP_RETRY, "server bug"},
        {"A003 NO [OVERQUOTA] Quota exceeded", BP_RETRY, "over quota"},
        {"A006 NO [ALREADYEXISTS] Mailbox already exists", BP_OK, NULL},
        {"A006 no [alreadyexists] lower case", BP_OK, NULL},
        {"A007 NO [CANNOT] Invalid mailbox name", BP_REJECT, NULL},
        {"A007 NO Some other refusal", BP_REJECT, NULL},
        {"A007 NO [UNKNOWNCODE] text", BP_REJECT, NULL},
        {"A008 BAD Error in IMAP command UID: Invalid arguments.", BP_REJECT, NULL},
        {"* BYE Server shutting down.", NC, "server closed the connection"},
        {"* BYE [UNAVAILABLE] going down", NC, "server closed the connection"},
        {"* BYE [AUTHENTICATIONFAILED] too many failures", NC, FAULT_CREDENTIALS},
        {"", BP_RETRY, NULL},
        {"garbage", BP_RETRY, NULL},
        {NULL, BP_RETRY, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[120];
        snprintf(what, sizeof(what), "IMAP %s", t[i].line ? t[i].line : "(no reply)");
        check_fault(fault_imap(t[i].line), t[i].st, t[i].cause, what, __LINE__);
    }
}

static void test_curl(void)
{
    static const struct {
        CURLcode rc;
        bp_status st;
        const char *cause;
    } t[] = {
        {CURLE_OK, BP_OK, NULL},
        {CURLE_COULDNT_CONNECT, NC, FAULT_UNREACHABLE},
        {CURLE_COULDNT_RESOLVE_HOST, NC, FAULT_UNREACHABLE},
        {CURLE_PEER_FAILED_VERIFICATION, NC, FAULT_TLS_VERIFY},
        {CURLE_SSL_CACERT_BADFILE, NC, FAULT_TLS_VERIFY},
        {CURLE_SSL_CONNECT_ERROR, NC, "TLS handshake failed"},
        {CURLE_USE_SSL_FAILED, NC, "the server offers no STARTTLS (tls: starttls requires it)"},
        {CURLE_LOGIN_DENIED, NC, FAULT_CREDENTIALS},
        {CURLE_AUTH_ERROR, NC, FAULT_CREDENTIALS},
        {CURLE_REMOTE_ACCESS_DENIED, NC, FAULT_PERMISSION},
        {CURLE_OPERATION_TIMEDOUT, BP_RETRY, NULL},
        {CURLE_RECV_ERROR, BP_RETRY, NULL},
        {CURLE_SEND_ERROR, BP_RETRY, NULL},
        {CURLE_GOT_NOTHING, BP_RETRY, NULL},
        {CURLE_WRITE_ERROR, BP_RETRY, NULL},
        {CURLE_OUT_OF_MEMORY, BP_RETRY, NULL},
        {CURLE_URL_MALFORMAT, BP_REJECT, "unusable URL"},
        {CURLE_UNSUPPORTED_PROTOCOL, BP_REJECT, "unusable URL"},
        {CURLE_FILESIZE_EXCEEDED, BP_REJECT, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "CURLcode %d (%s)", (int)t[i].rc, curl_easy_strerror(t[i].rc));
        check_fault(fault_curl(t[i].rc), t[i].st, t[i].cause, what, __LINE__);
    }
}

static void test_kafka(void)
{
    static const struct {
        rd_kafka_resp_err_t err;
        bp_status st;
        const char *cause;
    } t[] = {
        {RD_KAFKA_RESP_ERR_NO_ERROR, BP_OK, NULL},
        {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
        {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
        {RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
        {RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, NC, FAULT_PERMISSION},
        {RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, NC, FAULT_CREDENTIALS},
        {RD_KAFKA_RESP_ERR__AUTHENTICATION, NC, FAULT_CREDENTIALS},
        {RD_KAFKA_RESP_ERR__SSL, NC, "TLS handshake or verification failed"},
        {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, NC, "all brokers down"},
        {RD_KAFKA_RESP_ERR__TRANSPORT, NC, "broker connection failed"},
        {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, BP_REJECT, NULL},
        {RD_KAFKA_RESP_ERR_INVALID_RECORD, BP_REJECT, NULL},
        {RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, BP_REJECT, "unknown topic"},
        {RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, BP_REJECT, "invalid topic"},
        {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, BP_RETRY, NULL},
        {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, BP_RETRY, NULL},
        {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, BP_RETRY, NULL},
        {RD_KAFKA_RESP_ERR__QUEUE_FULL, BP_RETRY, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char what[120];
        snprintf(what, sizeof(what), "Kafka %s (%s)", rd_kafka_err2name(t[i].err),
                 rd_kafka_err2str(t[i].err));
        check_fault(fault_kafka(t[i].err), t[i].st, t[i].cause, what, __LINE__);
    }
}

/* The rule, over everything a table can answer: a fault whose cause is
 * credentials, TLS verification or permission is not connected. */
static int rule_cause(const char *c)
{
    return c && (strstr(c, FAULT_CREDENTIALS) || strstr(c, FAULT_TLS_VERIFY) ||
                 strstr(c, FAULT_PERMISSION) || strstr(c, "authentication") ||
                 strstr(c, "TLS") || strstr(c, "SASL"));
}

static void test_rule(void)
{
    int bad = 0, seen = 0;
    char first[160] = "";
    for (long s = 100; s < 600; s++) {
        fault f = fault_http_status(s);
        seen += rule_cause(f.cause);
        if (rule_cause(f.cause) && f.st != NC && !bad++)
            snprintf(first, sizeof(first), "HTTP %ld", s);
    }
    static const char *const enh[] = {"", "5.7.0", "5.7.1", "5.7.8", "5.7.9", "5.7.11", "4.7.0",
                                      "5.1.1", "5.7.13", "5.7.14"};
    for (long c = 200; c < 600; c++)
        for (size_t e = 0; e < sizeof(enh) / sizeof(enh[0]); e++) {
            char reply[64];
            snprintf(reply, sizeof(reply), "%ld %s text", c, enh[e]);
            fault f = fault_smtp(c, reply);
            seen += rule_cause(f.cause);
            if (rule_cause(f.cause) && f.st != NC && !bad++)
                snprintf(first, sizeof(first), "SMTP %s", reply);
        }
    static const char *const codes[] = {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED",
                                        "PRIVACYREQUIRED", "NOPERM", "CONTACTADMIN"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char line[96];
        snprintf(line, sizeof(line), "A1 NO [%s] x", codes[i]);
        fault f = fault_imap(line);
        seen++;
        if (f.st != NC && !bad++)
            snprintf(first, sizeof(first), "IMAP %s", line);
    }
    for (int rc = 0; rc < CURL_LAST; rc++) {
        fault f = fault_curl((CURLcode)rc);
        seen += rule_cause(f.cause);
        if (rule_cause(f.cause) && f.st != NC && !bad++)
            snprintf(first, sizeof(first), "CURLcode %d", rc);
    }
    for (int e = RD_KAFKA_RESP_ERR__BEGIN; e < RD_KAFKA_RESP_ERR_END_ALL; e++) {
        fault f = fault_kafka((rd_kafka_resp_err_t)e);
        const char *name = rd_kafka_err2name((rd_kafka_resp_err_t)e);
        int auth = rule_cause(f.cause) || (name && (strstr(name, "AUTHORIZATION") ||
                                                    strstr(name, "AUTHENTICATION")));
        seen += auth;
        if (auth && f.st != NC && !bad++)
            snprintf(first, sizeof(first), "Kafka %s", name);
    }
    tap_check_str(bad ? first : "none", "none",
                  "the rule: credentials, TLS verification and permissions are not connected",
                  __FILE__, __LINE__);
    CHECK(seen > 40);   /* the rule was actually exercised */
}

static void test_reason(void)
{
    char buf[128];
    fault f = {NC, FAULT_CREDENTIALS};
    CHECK_STR(fault_reason(f, "535 5.7.8 Authentication credentials invalid", buf, sizeof(buf)),
              "credentials refused: 535 5.7.8 Authentication credentials invalid");
    CHECK_STR(fault_reason(f, "credentials refused: already said", buf, sizeof(buf)),
              "credentials refused: already said");
    CHECK_STR(fault_reason(f, NULL, buf, sizeof(buf)), "credentials refused");
    CHECK_STR(fault_reason((fault){BP_RETRY, NULL}, "Operation timed out", buf, sizeof(buf)),
              "Operation timed out");
    CHECK_STR(fault_reason((fault){BP_RETRY, NULL}, "", buf, sizeof(buf)), "retry");
    CHECK_STR(fault_reason(f, "x", buf, 12), "credentials");
}

int main(void)
{
    test_http();
    test_smtp();
    test_imap();
    test_curl();
    test_kafka();
    test_rule();
    test_reason();
    return tap_done();
}
