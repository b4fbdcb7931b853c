/* The one libcurl wrapper of the connectors (SOAP over HTTP, IMAP, SMTP):
 * every easy handle is set up here, so timeouts, TLS verification, the CA
 * file, proxies, allowed protocols, the error buffer and the size-limited
 * response buffer mean the same in every connector. The connectors' own
 * layers only turn their options into curl_client_opts
 * (connectors/common/http_client.c for SOAP, connectors/mail/curl_transfer.c
 * for IMAP and SMTP). Compiled into each plugin that uses it (plugins link
 * nothing from the core). */
#ifndef BP_COMMON_CURL_CLIENT_H
#define BP_COMMON_CURL_CLIENT_H

#include <stddef.h>
#include <curl/curl.h>

#include "fault.h"

typedef struct curl_client_opts {
    const char *protocols;    /* allowed schemes, also for redirects, e.g. "http,https" (required) */
    long timeout_ms;          /* whole transfer; 0: none */
    long connect_timeout_ms;  /* 0: 10 s */
    int verify;               /* 1: verify the peer's certificate and host name */
    const char *ca_file;      /* PEM bundle, or NULL for the system store */
    const char *cert, *key;   /* client certificate and its key (PEM), or NULL */
    const char *user;         /* login when not NULL */
    const char *password;     /* borrowed; never logged */
    long httpauth;            /* HTTP: CURLAUTH_* for user/password (0: libcurl's default) */
    long use_ssl;             /* mail on plain URLs: CURLUSESSL_NONE/TRY/ALL */
    const char *proxy;        /* NULL: no proxy at all — http_proxy, https_proxy and
                               * ALL_PROXY in the environment are ignored, so a shell's
                               * setting never reroutes a back-office connection */
} curl_client_opts;

/* A response (or IMAP/SMTP reply) buffer, grown up to limit bytes (0: 64
 * MiB); a longer response aborts the transfer with over set, so a hostile
 * peer cannot make us buffer without bound. */
typedef struct curl_buf {
    char *data;               /* NUL-terminated, malloc'd */
    size_t len, cap, limit;
    int over;                 /* the limit was hit */
    char error[CURL_ERROR_SIZE];   /* libcurl's detailed message of a failed transfer */
    char reply[256];          /* IMAP/SMTP: the server's reply line that refused
                               * ("535 5.7.8 ...", "A3 NO [AUTHENTICATIONFAILED] ..."),
                               * else its last line; "" when none */
} curl_buf;

/* curl_global_init once per process (thread-safe; never cleaned up: other
 * plugins of the process may still use libcurl). */
void curl_client_global_init(void);

/* Applies o to h: no signals, protocols (and redirect protocols) restricted,
 * timeouts, TCP keep-alive, TLS verification and CA file, login, proxy.
 * Strings are copied by libcurl. Returns CURLE_OK or the first option
 * libcurl refused. */
CURLcode curl_client_setup(CURL *h, const curl_client_opts *o);

/* A new easy handle with o applied, or NULL (out of memory, or an option
 * refused). */
CURL *curl_client_new(const curl_client_opts *o);

/* Points h's response, reply lines and error message at b (errbuf: another
 * CURL_ERROR_SIZE buffer for the message, or NULL for b->error) and empties
 * b for the next transfer. b must outlive the transfer. */
void curl_buf_bind(CURL *h, curl_buf *b, char *errbuf);

/* Empties b for the next transfer on the handle it is bound to, keeping its
 * memory. */
void curl_buf_reset(curl_buf *b);
void curl_buf_free(curl_buf *b);

/* What went wrong in a failed transfer: libcurl's detailed message
 * ("SSL certificate problem: self-signed certificate") when it left one in
 * b->error, else the code's generic text. Borrowed from b or static. */
const char *curl_buf_error(const curl_buf *b, CURLcode rc);

/* The fault of a failed transfer: BP_REJECT when b hit its size limit, else
 * fault_curl's table (connectors/common/fault_curl.c). */
fault curl_client_fault(CURLcode rc, const curl_buf *b);

#endif
