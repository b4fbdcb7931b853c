/* The mail connectors' libcurl layer: options -> curl_client_opts, requests
 * on one easy handle per connection (see curl_transfer.h). */
#include <stdlib.h>
#include <string.h>

#include "curl_transfer.h"

const char *const curl_tls_modes[] = {"starttls", "try", "none", NULL};

char *curl_cfg_dup(const cJSON *config, const char *name)
{
    const char *v = bp_cfg_str(config, name);
    return v && *v ? strdup(v) : NULL;
}

int curl_settings_from_config(curl_settings *s, const cJSON *config)
{
    memset(s, 0, sizeof(*s));
    s->user = curl_cfg_dup(config, "user");
    s->password = curl_cfg_dup(config, "password");
    s->ca_file = curl_cfg_dup(config, "ca_file");
    s->verify = bp_cfg_bool(config, "verify_tls", 1);
    const char *tls = bp_cfg_str(config, "tls");
    s->tls = tls && strcmp(tls, "none") == 0  ? CURL_TLS_NONE
             : tls && strcmp(tls, "try") == 0 ? CURL_TLS_TRY
                                              : CURL_TLS_STARTTLS;
    s->timeout_ms = (long)bp_cfg_int(config, "timeout", 60000);
    s->connect_timeout_ms = s->timeout_ms < 10000 ? s->timeout_ms : 10000;
    int oom = (bp_cfg_str(config, "user") && *bp_cfg_str(config, "user") && !s->user) ||
              (bp_cfg_str(config, "password") && *bp_cfg_str(config, "password") && !s->password) ||
              (bp_cfg_str(config, "ca_file") && *bp_cfg_str(config, "ca_file") && !s->ca_file);
    return oom ? -1 : 0;
}

void curl_settings_clear(curl_settings *s)
{
    free((char *)s->user);
    free((char *)s->password);
    free((char *)s->ca_file);
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
        .user = s->user,
        .password = s->password,
        .use_ssl = s->tls == CURL_TLS_STARTTLS ? (long)CURLUSESSL_ALL
                   : s->tls == CURL_TLS_TRY    ? (long)CURLUSESSL_TRY
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

