/* libcurl glue: one easy handle per connection, options set once, responses
 * into a bounded buffer (see curl_transfer.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/grow_buf.h"
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void curl_transfer_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

static size_t curl_buf_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    curl_buf *b = ud;
    size_t n = size * nmemb;
    size_t limit = b->limit ? b->limit : (size_t)64 << 20;
    if (b->len + n > limit) {
        b->over = 1;
        return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (grow_buf_append(&b->data, &b->len, &b->cap, ptr, n) < 0)
        return 0;
    return n;
}

CURL *curl_transfer_new(const curl_settings *s)
{
    curl_transfer_global_init();
    CURL *h = curl_easy_init();
    if (h == NULL)
        return NULL;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_buf_write);
    /* Only mail and web protocols, never file:// or others a URL could name. */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps,smtp,smtps,http,https");
    if (s->user)
        curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
    if (s->password)
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->password);
    if (s->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->verify ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_USE_SSL, s->tls == CURL_TLS_STARTTLS ? (long)CURLUSESSL_ALL
                                         : s->tls == CURL_TLS_TRY    ? (long)CURLUSESSL_TRY
                                                                      : (long)CURLUSESSL_NONE);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms > 0 ? s->connect_timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms > 0 ? s->timeout_ms : 0L);
    return h;
}

/* A refusal: an SMTP 4xx/5xx reply or an IMAP tagged NO/BAD. */
static int curl_is_refusal(const char *line)
{
    if ((line[0] == '4' || line[0] == '5') && isdigit((unsigned char)line[1]) &&
        isdigit((unsigned char)line[2]) && (line[3] == ' ' || line[3] == '-' || line[3] == '\0'))
        return 1;
    if (line[0] == '*')
        return 0;
    const char *w = strchr(line, ' ');
    return w && (strncasecmp(w, " NO ", 4) == 0 || strncasecmp(w, " BAD ", 5) == 0);
}

/* libcurl hands IMAP and SMTP server replies to the header callback, one
 * line each. The first refusal of a transfer is kept (libcurl's QUIT after
 * it answers "221 Bye"), else the last line: a failure can quote the server. */
static size_t curl_reply_line(char *ptr, size_t size, size_t nmemb, void *ud)
{
    curl_buf *b = ud;
    size_t n = size * nmemb, l = n;
    while (l > 0 && (ptr[l - 1] == '\n' || ptr[l - 1] == '\r'))
        l--;
    if (l == 0 || curl_is_refusal(b->reply))
        return n;
    if (l >= sizeof(b->reply))
        l = sizeof(b->reply) - 1;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)ptr[i];
        b->reply[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    b->reply[l] = '\0';
    return n;
}

/* One request's options; the response buffer emptied. */
static void curl_prepare(CURL *h, const char *url, const char *custom, curl_buf *out, char *errbuf)
{
    out->len = 0;
    out->over = 0;
    out->reply[0] = '\0';
    if (out->data)
        out->data[0] = '\0';
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, curl_reply_line);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
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

void curl_buf_free(curl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
