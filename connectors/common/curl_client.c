/* The one libcurl wrapper (see curl_client.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_client.h"
#include "grow_buf.h"

static pthread_once_t curl_client_once = PTHREAD_ONCE_INIT;

static void curl_client_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void curl_client_global_init(void)
{
    pthread_once(&curl_client_once, curl_client_init_once);
}

CURLcode curl_client_setup(CURL *h, const curl_client_opts *o)
{
    CURLcode rc = CURLE_OK;
#define CC_SET(opt, val) \
    if (rc == CURLE_OK)  \
        rc = curl_easy_setopt(h, opt, val)
    CC_SET(CURLOPT_NOSIGNAL, 1L);
    /* Only the connector's protocols, never file:// or others a URL (or a
     * redirect) could name. */
    CC_SET(CURLOPT_PROTOCOLS_STR, o->protocols);
    CC_SET(CURLOPT_REDIR_PROTOCOLS_STR, o->protocols);
    CC_SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000L);
    CC_SET(CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 0L);
    CC_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    CC_SET(CURLOPT_SSL_VERIFYPEER, o->verify ? 1L : 0L);
    CC_SET(CURLOPT_SSL_VERIFYHOST, o->verify ? 2L : 0L);
    if (o->ca_file)
        CC_SET(CURLOPT_CAINFO, o->ca_file);
    if (o->cert)
        CC_SET(CURLOPT_SSLCERT, o->cert);
    if (o->key)
        CC_SET(CURLOPT_SSLKEY, o->key);
    if (o->user) {
        if (o->httpauth)
            CC_SET(CURLOPT_HTTPAUTH, o->httpauth);
        CC_SET(CURLOPT_USERNAME, o->user);
        CC_SET(CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    CC_SET(CURLOPT_USE_SSL, o->use_ssl);
    /* "" disables every proxy, including those the environment names. */
    CC_SET(CURLOPT_PROXY, o->proxy ? o->proxy : "");
#undef CC_SET
    return rc;
}

CURL *curl_client_new(const curl_client_opts *o)
{
    curl_client_global_init();
    CURL *h = curl_easy_init();
    if (h && curl_client_setup(h, o) != CURLE_OK) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
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

/* libcurl hands IMAP and SMTP server replies (and HTTP headers) to the header
 * callback, one line each. The first refusal of a transfer is kept (libcurl's
 * QUIT after it answers "221 Bye"), else the last line: a failure can quote
 * the server. */
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

void curl_buf_reset(curl_buf *b)
{
    b->len = 0;
    b->over = 0;
    b->error[0] = '\0';
    b->reply[0] = '\0';
    if (b->data)
        b->data[0] = '\0';
}

void curl_buf_bind(CURL *h, curl_buf *b, char *errbuf)
{
    curl_buf_reset(b);
    if (errbuf)
        errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, curl_reply_line);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf ? errbuf : b->error);
}

void curl_buf_free(curl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *curl_buf_error(const curl_buf *b, CURLcode rc)
{
    return b && b->error[0] ? b->error : curl_easy_strerror(rc);
}

fault curl_client_fault(CURLcode rc, const curl_buf *b)
{
    if (b && b->over)
        return (fault){BP_REJECT, NULL};
    return fault_curl(rc);
}
