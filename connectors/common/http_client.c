/* The HTTP layer over the one libcurl wrapper (see http_client.h). */
#include <stdlib.h>
#include <string.h>

#include "http_client.h"

CURLcode http_easy_setup(CURL *h, const http_opts *o, http_buf *buf)
{
    curl_client_opts co = {
        .protocols = "http,https",
        .timeout_ms = o->timeout_ms,
        .connect_timeout_ms = o->connect_timeout_ms,
        .verify = o->tls_verify,
        .ca_file = o->ca_file,
        .cert = o->cert,
        .key = o->key,
        .user = o->user,
        .password = o->password,
        .httpauth = (long)CURLAUTH_BASIC,
    };
    CURLcode rc = curl_client_setup(h, &co);
    if (rc == CURLE_OK)
        curl_buf_bind(h, buf, NULL);
    return rc;
}

const char *http_error_text(const http_buf *buf, CURLcode rc)
{
    return curl_buf_error(buf, rc);
}

void http_buf_reset(http_buf *buf)
{
    curl_buf_reset(buf);
}

void http_buf_free(http_buf *buf)
{
    curl_buf_free(buf);
}

fault http_classify_curl(CURLcode rc, const http_buf *buf)
{
    return curl_client_fault(rc, buf);
}

fault http_classify_status(long status)
{
    return fault_http_status(status);
}

void http_snippet(const char *text, size_t len, size_t max, char *out, size_t outsz)
{
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < len && i < max && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            if (!space && o > 0)
                out[o++] = ' ';
            space = 1;
            continue;
        }
        if (c == ' ' && space)
            continue;
        space = c == ' ';
        out[o++] = (char)c;
    }
    if (outsz)
        out[o] = '\0';
}
