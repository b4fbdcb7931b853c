/* libcurl helpers shared by connectors (see http_client.h). */
#include <stdlib.h>
#include <string.h>

#include "grow_buf.h"
#include "http_client.h"

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > b->max) {
        b->overflow = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    if (grow_buf_append(&b->data, &b->len, &b->cap, ptr, n) < 0)
        return CURL_WRITEFUNC_ERROR;
    return n;
}

CURLcode http_easy_setup(CURL *h, const http_opts *o, http_buf *buf)
{
    CURLcode rc = CURLE_OK;
#define HTTP_SET(opt, val) \
    if (rc == CURLE_OK)    \
        rc = curl_easy_setopt(h, opt, val)
    HTTP_SET(CURLOPT_NOSIGNAL, 1L);
    HTTP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    HTTP_SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    HTTP_SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    HTTP_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    HTTP_SET(CURLOPT_SSL_VERIFYPEER, o->tls_verify ? 1L : 0L);
    HTTP_SET(CURLOPT_SSL_VERIFYHOST, o->tls_verify ? 2L : 0L);
    if (o->ca_file)
        HTTP_SET(CURLOPT_CAINFO, o->ca_file);
    if (o->user) {
        HTTP_SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        HTTP_SET(CURLOPT_USERNAME, o->user);
        HTTP_SET(CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    HTTP_SET(CURLOPT_WRITEFUNCTION, http_write_cb);
    HTTP_SET(CURLOPT_WRITEDATA, buf);
    HTTP_SET(CURLOPT_ERRORBUFFER, buf->error);
#undef HTTP_SET
    return rc;
}

const char *http_error_text(const http_buf *buf, CURLcode rc)
{
    return buf && buf->error[0] ? buf->error : curl_easy_strerror(rc);
}

void http_buf_reset(http_buf *buf)
{
    buf->error[0] = '\0';
    buf->len = 0;
    buf->overflow = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

void http_buf_free(http_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

fault http_classify_curl(CURLcode rc, const http_buf *buf)
{
    if (buf && buf->overflow)
        return (fault){BP_REJECT, NULL};
    return fault_curl(rc);
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
