/* The mail connectors' libcurl layer: options -> curl_client_opts, requests
 * on one easy handle per connection (see curl_transfer.h). */
#include <stdlib.h>
#include <string.h>

#include "curl_transfer.h"

char *curl_str_dup(const char *v)
{
    return v && *v ? strdup(v) : NULL;
}

int curl_settings_from_opts(curl_settings *s, const char *url, const char *user,
                            const char *password, const struct conn_tls *tls,
                            int64_t timeout_ms, const char **why)
{
    memset(s, 0, sizeof(*s));
    if ((*why = conn_tls_mismatch(tls->mode, url)) != NULL)
        return -2;
    s->user = curl_str_dup(user);
    s->password = curl_str_dup(password);
    s->ca_file = curl_str_dup(tls->ca_file);
    s->cert = curl_str_dup(tls->cert);
    s->key = curl_str_dup(tls->key);
    s->verify = tls->verify;
    /* imaps:// and smtps:// are TLS whatever USE_SSL says; on a plain URL
     * STARTTLS is required unless the mode is none. */
    s->tls = tls->mode == CONN_TLS_NONE ? CURL_TLS_NONE : CURL_TLS_STARTTLS;
    s->timeout_ms = (long)timeout_ms;
    s->connect_timeout_ms = s->timeout_ms < 10000 ? s->timeout_ms : 10000;
    int oom = (user && *user && !s->user) || (password && *password && !s->password) ||
              (tls->ca_file && *tls->ca_file && !s->ca_file) ||
              (tls->cert && *tls->cert && !s->cert) || (tls->key && *tls->key && !s->key);
    return oom ? -1 : 0;
}

void curl_settings_clear(curl_settings *s)
{
    free((char *)s->user);
    free((char *)s->password);
    free((char *)s->ca_file);
    free((char *)s->cert);
    free((char *)s->key);
    memset(s, 0, sizeof(*s));
}

void curl_transfer_global_init(void)
{
    curl_client_global_init();
}

CURL *curl_transfer_new(const curl_settings *s, const char *protocols)
{
    curl_client_opts o = {
        .protocols = protocols,
        .timeout_ms = s->timeout_ms,
        .connect_timeout_ms = s->connect_timeout_ms,
        .verify = s->verify,
        .ca_file = s->ca_file,
        .cert = s->cert,
        .key = s->key,
        .user = s->user,
        .password = s->password,
        .use_ssl = s->tls == CURL_TLS_STARTTLS ? (long)CURLUSESSL_ALL
                                               : (long)CURLUSESSL_NONE,
    };
    return curl_client_new(&o);
}

/* One request's options; the response buffer emptied. */
static void curl_prepare(CURL *h, const char *url, const char *custom, curl_buf *out, char *errbuf)
{
    curl_buf_bind(h, out, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom);
}

CURLcode curl_transfer_perform(CURL *h, const char *url, const char *custom, curl_buf *out,
                               char *errbuf)
{
    curl_prepare(h, url, custom, out, errbuf);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK && errbuf[0] == '\0')
        strncpy(errbuf, curl_easy_strerror(rc), CURL_ERROR_SIZE - 1);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    return rc;
}

CURLcode curl_transfer_start(CURLM *multi, CURL *h, const char *url, const char *custom,
                             curl_buf *out, char *errbuf)
{
    curl_prepare(h, url, custom, out, errbuf);
    if (curl_multi_add_handle(multi, h) != CURLM_OK)
        return CURLE_FAILED_INIT;
    int running = 0;
    curl_multi_perform(multi, &running);
    return CURLE_OK;
}

CURLcode curl_transfer_wait(CURLM *multi, CURL *h, char *errbuf)
{
    CURLcode rc = CURLE_OK;
    for (;;) {
        int running = 0, left = 0, done = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
                rc = msg->data.result;
                done = 1;
            }
        if (done)
            break;
        if (running == 0) {
            rc = CURLE_GOT_NOTHING;   /* not expected: finished without a DONE message */
            break;
        }
        curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    curl_multi_remove_handle(multi, h);
    if (rc != CURLE_OK && errbuf[0] == '\0')
        strncpy(errbuf, curl_easy_strerror(rc), CURL_ERROR_SIZE - 1);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    return rc;
}

typedef struct {
    const char *data;
    size_t len, off;
} curl_upload_src;

static size_t curl_upload_read(char *buf, size_t size, size_t nitems, void *ud)
{
    curl_upload_src *u = ud;
    size_t n = size * nitems;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

CURLcode curl_transfer_upload(CURL *h, const char *url, const char *data, size_t len,
                              curl_buf *out, char *errbuf)
{
    curl_upload_src u = {.data = data, .len = len};
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, curl_upload_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_transfer_perform(h, url, NULL, out, errbuf);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(h, CURLOPT_READDATA, NULL);
    return rc;
}

fault curl_transfer_fault(CURLcode rc)
{
    return fault_curl(rc);
}

