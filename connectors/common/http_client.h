/* The HTTP layer of connectors that speak HTTP (SOAP, REST) over the one
 * libcurl wrapper (curl_client.h): their options as curl_client_opts, the
 * fault of an HTTP status, and a printable snippet of an error page.
 * Compiled into each plugin that uses it (plugins link nothing from the
 * core). */
#ifndef BP_COMMON_HTTP_CLIENT_H
#define BP_COMMON_HTTP_CLIENT_H

#include <stddef.h>
#include <curl/curl.h>
#include <backplane/status.h>

#include "curl_client.h"
#include "fault.h"

typedef struct http_opts {
    long timeout_ms;          /* whole transfer */
    long connect_timeout_ms;
    int tls_verify;           /* 1: verify peer and host name (the default everywhere) */
    const char *ca_file;      /* PEM bundle, or NULL for the system store */
    const char *cert, *key;   /* client certificate (PEM), or NULL */
    const char *user;         /* HTTP basic auth when not NULL */
    const char *password;     /* borrowed; never logged */
} http_opts;

/* The response buffer (connectors/common/curl_client.h): limit bytes at
 * most, over set when a longer body aborted the transfer. */
typedef curl_buf http_buf;

/* Applies the options to an easy handle through curl_client_setup (HTTP(S)
 * only, basic auth when user is set, no proxy from the environment) and
 * binds buf (response, error message). Returns CURLE_OK or the first option
 * libcurl refused. buf is borrowed and must outlive the transfer. */
CURLcode http_easy_setup(CURL *h, const http_opts *o, http_buf *buf);

/* What went wrong in a failed transfer (curl_buf_error). */
const char *http_error_text(const http_buf *buf, CURLcode rc);

/* Empties buf for the next transfer, keeping its memory. */
void http_buf_reset(http_buf *buf);
void http_buf_free(http_buf *buf);

/* The fault of a transfer that failed in libcurl (fault_curl's table), or
 * BP_REJECT for a response over the size limit (retrying cannot help). */
fault http_classify_curl(CURLcode rc, const http_buf *buf);

/* The fault of a complete HTTP response that carries no more specific answer
 * (no SOAP fault, say): fault_http_status's table — 401/403/404 not connected
 * (the site or the service is wrong, not the record), 408/429/5xx retry,
 * other 4xx reject. */
fault http_classify_status(long status);

/* Writes up to max bytes of text into out (size outsz) as one printable line:
 * control characters and newlines become spaces, runs of space collapse.
 * For putting the start of an unexpected error page into a log line. */
void http_snippet(const char *text, size_t len, size_t max, char *out, size_t outsz);

#endif
