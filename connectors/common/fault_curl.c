/* CURLcode -> fault (see fault.h). Only libcurl's enum is read: nothing here
 * calls libcurl. The first matching row wins; codes not listed retry. */
#include <curl/curl.h>

#include "fault.h"

#define NC BP_NOT_CONNECTED

static const struct {
    CURLcode rc;
    bp_status st;
    const char *cause;
} fault_curl_rows[] = {
    {CURLE_OK, BP_OK, NULL},
    /* The peer cannot be reached, or will not speak TLS with us: nothing
     * will work until that changes. */
    {CURLE_COULDNT_RESOLVE_HOST, NC, FAULT_UNREACHABLE},
    {CURLE_COULDNT_RESOLVE_PROXY, NC, "proxy unreachable"},
    {CURLE_COULDNT_CONNECT, NC, FAULT_UNREACHABLE},
    {CURLE_SSL_CONNECT_ERROR, NC, "TLS handshake failed"},
    {CURLE_USE_SSL_FAILED, NC, "the server offers no STARTTLS (tls: starttls requires it)"},
    /* The rule: certificates, credentials, permissions. */
    {CURLE_PEER_FAILED_VERIFICATION, NC, FAULT_TLS_VERIFY},
    {CURLE_SSL_CACERT_BADFILE, NC, FAULT_TLS_VERIFY},
    {CURLE_SSL_ISSUER_ERROR, NC, FAULT_TLS_VERIFY},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, NC, FAULT_TLS_VERIFY},
    {CURLE_SSL_CRL_BADFILE, NC, FAULT_TLS_VERIFY},
    {CURLE_SSL_INVALIDCERTSTATUS, NC, FAULT_TLS_VERIFY},
    {CURLE_SSL_CERTPROBLEM, NC, "TLS client certificate unusable"},
    {CURLE_LOGIN_DENIED, NC, FAULT_CREDENTIALS},
    {CURLE_AUTH_ERROR, NC, FAULT_CREDENTIALS},
    {CURLE_REMOTE_ACCESS_DENIED, NC, FAULT_PERMISSION},
    /* Transient: the connection broke or the server was slow. The next
     * attempt reconnects. */
    {CURLE_OPERATION_TIMEDOUT, BP_RETRY, NULL},
    {CURLE_SEND_ERROR, BP_RETRY, NULL},
    {CURLE_RECV_ERROR, BP_RETRY, NULL},
    {CURLE_GOT_NOTHING, BP_RETRY, NULL},
    {CURLE_PARTIAL_FILE, BP_RETRY, NULL},
    {CURLE_WEIRD_SERVER_REPLY, BP_RETRY, NULL},
    {CURLE_HTTP2, BP_RETRY, NULL},
    {CURLE_HTTP2_STREAM, BP_RETRY, NULL},
    /* Our write callback stopped the transfer: out of memory, or the size
     * limit (callers test their buffer's overflow flag first: reject). */
    {CURLE_WRITE_ERROR, BP_RETRY, NULL},
    /* Retrying cannot help this request. */
    {CURLE_URL_MALFORMAT, BP_REJECT, "unusable URL"},
    {CURLE_UNSUPPORTED_PROTOCOL, BP_REJECT, "unusable URL"},
    {CURLE_FILESIZE_EXCEEDED, BP_REJECT, NULL},
    {CURLE_REMOTE_FILE_NOT_FOUND, BP_REJECT, NULL},
    {CURLE_QUOTE_ERROR, BP_REJECT, NULL},   /* a custom IMAP/SMTP command refused */
};

fault fault_curl(CURLcode rc)
{
    for (size_t i = 0; i < sizeof(fault_curl_rows) / sizeof(fault_curl_rows[0]); i++)
        if (fault_curl_rows[i].rc == rc)
            return (fault){fault_curl_rows[i].st, fault_curl_rows[i].cause};
    return (fault){BP_RETRY, NULL};
}
