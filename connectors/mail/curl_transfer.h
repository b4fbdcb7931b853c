/* The mail connectors' layer over the one libcurl wrapper
 * (connectors/common/curl_client.h), for IMAP and SMTP over one reused
 * connection: their connection options (the block every mail connector
 * offers) as curl_client_opts, and blocking, overlapped and upload
 * transfers. Internal header. */
#ifndef BP_CURL_TRANSFER_H
#define BP_CURL_TRANSFER_H

#include <stddef.h>
#include <curl/curl.h>
#include <backplane/plugin.h>
#include "../common/tls_options.h"

#include "../common/curl_client.h"
#include "../common/fault.h"

enum curl_tls_mode {
    CURL_TLS_STARTTLS,   /* plain URL: STARTTLS required (refuse a server without it) */
    CURL_TLS_NONE        /* plain URL: no TLS (loopback tests, trusted networks) */
};

typedef struct curl_settings {
    const char *user;             /* NULL: no login */
    const char *password;         /* never logged */
    const char *ca_file;          /* NULL: the system store */
    const char *cert, *key;       /* client certificate, or NULL */
    int verify;                   /* verify the server's certificate and name */
    enum curl_tls_mode tls;       /* for non-TLS URLs (imaps:// and smtps:// are TLS anyway) */
    long connect_timeout_ms;
    long timeout_ms;              /* whole transfer; 0: none */
} curl_settings;

/* The connection options every libcurl mail connector offers (inside its
 * option array, after its url/user/password), bound into options struct T
 * with members `tls` (struct conn_tls) and `timeout` (int64_t ms):
 * tls: { mode, verify, ca_file, cert, key } (fields: CONN_TLS_FIELDS(T)),
 * timeout, and the tombstones of the former spellings. On a plain URL the
 * mode defaults to starttls (required); on imaps:// and smtps:// to tls. */
#define CURL_CONN_OPTIONS(T, tls_table) \
    CONN_TLS_OPTION(tls_table), \
    {.name = "timeout", .type = BP_OPT_DURATION, .default_value = "60s", .min = "1s", \
     .description = "one command or message transfer taking longer fails and is retried", \
     BP_OPT_FIELD(T, timeout)}

/* Fills s from bound options (strings copied). Returns 0; -1 when out of
 * memory; -2 when tls.mode contradicts the URL (*why: a static message).
 * Free with curl_settings_clear. */
int curl_settings_from_opts(curl_settings *s, const char *url, const char *user,
                            const char *password, const struct conn_tls *tls,
                            int64_t timeout_ms, const char **why);
void curl_settings_clear(curl_settings *s);

/* A copy of a non-empty string, or NULL (NULL or ""). */
char *curl_str_dup(const char *v);

/* The response buffer (connectors/common/curl_client.h): limit bytes at
 * most (0: 64 MiB), over set when hit; reply holds the server's refusing
 * reply line. */

/* curl_global_init once per process (thread-safe). */
void curl_transfer_global_init(void);

/* A new easy handle with the settings applied through the one libcurl
 * wrapper (curl_client_setup: only the given protocols, e.g. "imap,imaps",
 * no proxy from the environment). NULL when out of memory. */
CURL *curl_transfer_new(const curl_settings *s, const char *protocols);

/* Performs one request on h: url, an optional custom command (IMAP/SMTP
 * verb line, NULL for the URL's default action), response into out (reset
 * first; limit as set in out->limit, 0: 64 MiB). On failure errbuf (of
 * CURL_ERROR_SIZE bytes) says why. Returns the CURLcode. */
CURLcode curl_transfer_perform(CURL *h, const char *url, const char *custom, curl_buf *out,
                               char *errbuf);

/* Non-blocking use, to overlap a transfer with other work: start adds h to
 * multi and drives it until it waits on the server (the request is out);
 * wait drives it to completion and takes h out of multi again. errbuf (of
 * CURL_ERROR_SIZE bytes) and out must live until wait returns. All transfers
 * of one connection should go through the same multi: its connection cache is
 * not the one curl_easy_perform uses. */
CURLcode curl_transfer_start(CURLM *multi, CURL *h, const char *url, const char *custom,
                             curl_buf *out, char *errbuf);
CURLcode curl_transfer_wait(CURLM *multi, CURL *h, char *errbuf);

/* Uploads len bytes of data (an SMTP message; libcurl dot-stuffs it) in one
 * request on h, server replies into out. Sender and recipients are set by
 * the caller (CURLOPT_MAIL_FROM, CURLOPT_MAIL_RCPT). Returns the CURLcode;
 * errbuf as curl_transfer_perform. */
CURLcode curl_transfer_upload(CURL *h, const char *url, const char *data, size_t len,
                              curl_buf *out, char *errbuf);

/* What a failed transfer means (connectors/common/fault.h): fault_curl's
 * table. The server's reply line, when one is in out->reply, is read by the
 * protocol's own table first (fault_smtp, fault_imap) by the caller. */
fault curl_transfer_fault(CURLcode rc);

#endif
