/* One fault vocabulary for connectors: what a library's error or a server's
 * reply means for the record and for the route. Every mapping is a commented
 * data table (fault.c: HTTP status, SMTP replies, IMAP tagged replies;
 * fault_curl.c: CURLcode; fault_kafka.c: rd_kafka_resp_err_t), in the style of
 * the ODBC connector's SQLSTATE table, each with a table-driven test
 * (tests/unit/test_fault.c).
 *
 * Four results, the same in every connector:
 *   BP_OK             it worked;
 *   BP_RETRY          transient (timeout, reset, busy server, 4xx mail reply):
 *                     the same record is tried again with backoff;
 *   BP_NOT_CONNECTED  the connector cannot work at all right now (server down,
 *                     credentials refused, TLS verification failed, permission
 *                     missing): the route waits and says why;
 *   BP_REJECT         this record can never succeed (malformed, too large,
 *                     refused recipient): dead-lettered, the route goes on.
 *
 * THE RULE: bad credentials, failed TLS verification and missing permissions
 * are BP_NOT_CONNECTED — never a reject (the records are fine: fixing the
 * password must not leave them in the dead-letter store), never a silent
 * retry (the operator is told why, in words: the cause). A new row that
 * breaks the rule fails tests/unit/test_fault.c.
 *
 * Compiled into each plugin that uses it (plugins link nothing from the
 * core); no function here calls into libcurl or librdkafka, they only read
 * their error enums. Thread-safe: the tables are read-only. */
#ifndef BP_COMMON_FAULT_H
#define BP_COMMON_FAULT_H

#include <stddef.h>
#include <backplane/status.h>

/* A classified error. cause is a static phrase for people ("credentials
 * refused", "TLS verification failed"), or NULL when the library's or the
 * server's own text says enough. */
typedef struct fault {
    bp_status st;           /* BP_OK, BP_RETRY, BP_NOT_CONNECTED or BP_REJECT */
    const char *cause;
} fault;

/* Causes shared by every table (the words a log line and a test look for). */
#define FAULT_CREDENTIALS "credentials refused"
#define FAULT_TLS_VERIFY "TLS verification failed"
#define FAULT_PERMISSION "permission denied"
#define FAULT_UNREACHABLE "server unreachable"

/* A complete HTTP response that carries no more specific answer (no SOAP
 * fault): 2xx ok; 401 and 407 credentials refused, 403 permission denied and
 * 404 (no such endpoint) not connected; 408, 425, 429 and 5xx retry; other
 * 4xx (and anything else) reject. */
fault fault_http_status(long status);

/* An SMTP reply: code (CURLINFO_RESPONSE_CODE) and, when known, the reply
 * line (for the RFC 3463 enhanced code: "535 5.7.8 ..."; NULL or "" when
 * none). 2xx/3xx ok; 530, 534, 535, 538 and enhanced 5.7.0, 5.7.8, 5.7.9,
 * 5.7.11, 5.7.13, 5.7.14 credentials refused; 454 and 4.7.x auth/TLS not
 * available, 421 server closing: not connected; other 4xx retry; other 5xx
 * reject. code 0 (no reply): {BP_RETRY, NULL} — let the transport decide. */
fault fault_smtp(long code, const char *reply);

/* An IMAP tagged (or untagged BYE/NO) reply line, e.g.
 * "A003 NO [AUTHENTICATIONFAILED] Authentication failed." or "* BYE ...":
 * OK ok; NO/BAD by their RFC 5530 response code ([AUTHENTICATIONFAILED],
 * [AUTHORIZATIONFAILED], [EXPIRED], [PRIVACYREQUIRED], [NOPERM], [CONTACTADMIN]
 * not connected; [UNAVAILABLE], [INUSE], [SERVERBUG], [LIMIT], [OVERQUOTA],
 * [EXPUNGEISSUED] retry; [NONEXISTENT], [TRYCREATE] not connected: no such
 * mailbox; [ALREADYEXISTS] ok), NO without a known code reject, BAD reject,
 * BYE not connected. NULL, "" or not a reply: {BP_RETRY, NULL}. */
fault fault_imap(const char *line);

/* Writes the reason for a fault into out (size n) and returns out:
 * "cause: text", or text alone when f has no cause or text already starts
 * with it. text is the server's reply or the library's message. */
const char *fault_reason(fault f, const char *text, char *out, size_t n);

/* A short name for f.st: "ok", "retry", "not connected", "reject". */
const char *fault_name(bp_status st);

#ifdef LIBCURL_VERSION_NUM
/* A transfer that failed in libcurl (include <curl/curl.h> first). Peer not
 * reachable (resolve, connect, TLS handshake, STARTTLS refused) not
 * connected; login refused and remote access denied not connected with their
 * cause; certificate not verified (or the CA file unreadable) not connected:
 * TLS verification failed; timeouts, resets, empty replies retry; unusable
 * URL, over the size limit reject; anything else retry. */
fault fault_curl(CURLcode rc);
#endif

#ifdef RD_KAFKA_VERSION
/* A librdkafka error (include <librdkafka/rdkafka.h> first): authorisation
 * (topic, group, cluster, transactional id) permission denied and SASL or
 * SSL failures not connected; all brokers down, transport, resolve not
 * connected; message too large or malformed, unknown or invalid topic
 * reject; anything else retry (librdkafka retries internally first). */
fault fault_kafka(rd_kafka_resp_err_t err);
#endif

#endif
