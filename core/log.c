/* See log.h. One mutex serialises lines so concurrent routes never interleave
 * a line, and guards the secret list. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "strutil.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum bp_log_level log_level = BP_LOG_INFO;
static int log_json;
static char **log_secrets;
static size_t log_n_secrets;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void bp_log_set_level(enum bp_log_level level) { log_level = level; }
enum bp_log_level bp_log_get_level(void) { return log_level; }
void bp_log_set_json(int json) { log_json = json; }

int bp_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, log_names[i]) == 0)
            return i;
    return -1;
}

void bp_log_add_secret(const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < log_n_secrets; i++)
        if (strcmp(log_secrets[i], value) == 0)
            goto out;
    char **grown = realloc(log_secrets, (log_n_secrets + 1) * sizeof(*grown));
    if (grown != NULL) {
        log_secrets = grown;
        char *copy = strdup(value);
        if (copy != NULL)
            log_secrets[log_n_secrets++] = copy;
    }
out:
    pthread_mutex_unlock(&log_mu);
}

void bp_log_clear_secrets(void)
{
    pthread_mutex_lock(&log_mu);
    for (size_t i = 0; i < log_n_secrets; i++)
        free(log_secrets[i]);
    free(log_secrets);
    log_secrets = NULL;
    log_n_secrets = 0;
    pthread_mutex_unlock(&log_mu);
}

static int log_wordch(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '-' || (unsigned char)c >= 0x80;
}

/* The length of a URL's user info at s (just after "://"), up to its '@';
 * 0 when there is none. */
static size_t log_userinfo(const char *s)
{
    size_t n = 0;
    /* RFC 3986: user info may hold sub-delims (;,()'!$&*+=) as they are. */
    while (s[n] && strchr("/?#@ \t\r\n\"<>[]{}\\", s[n]) == NULL)
        n++;
    return s[n] == '@' && n > 0 ? n : 0;
}

/* msg with every registered secret and every URL's user info shown as
 * "****": a secret of 4 bytes or more wherever it occurs, a shorter one
 * where it stands alone (not inside a word, where it would mask too much),
 * a URL user:password@host as ****@host. Takes msg;
 * returns the masked text (NULL when out of memory). Caller holds log_mu. */
static char *log_mask(char *msg)
{
    size_t len = strlen(msg), cap = len + 16, o = 0;
    char *out = malloc(cap);
    if (out == NULL) {
        free(msg);
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        size_t skip = 0;
        const char *put = NULL;
        if (msg[i] == ':' && msg[i + 1] == '/' && msg[i + 2] == '/') {
            size_t ui = log_userinfo(msg + i + 3);
            if (ui && !(ui == 4 && strncmp(msg + i + 3, "****", 4) == 0)) {
                put = "://****@";
                skip = 3 + ui + 1;
            }
        }
        for (size_t k = 0; put == NULL && k < log_n_secrets; k++) {
            size_t n = strlen(log_secrets[k]);
            if (n > len - i || memcmp(msg + i, log_secrets[k], n) != 0)
                continue;
            if (n < 4 && ((i > 0 && log_wordch(msg[i - 1])) || log_wordch(msg[i + n])))
                continue;
            put = "****";
            skip = n;
        }
        size_t plen = put ? strlen(put) : 1;
        if (o + plen + 1 > cap) {
            cap = 2 * cap + plen;
            char *g = realloc(out, cap);
            if (g == NULL) {
                free(out);
                free(msg);
                return NULL;
            }
            out = g;
        }
        if (put) {
            memcpy(out + o, put, plen);
            o += plen;
            i += skip;
        } else {
            out[o++] = msg[i++];
        }
    }
    out[o] = '\0';
    free(msg);
    return out;
}

char *bp_log_mask(char *s)
{
    if (s == NULL)
        return NULL;
    pthread_mutex_lock(&log_mu);
    char *m = log_mask(s);
    pthread_mutex_unlock(&log_mu);
    return m;
}

static void log_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void bp_logv(enum bp_log_level level, const char *prefix, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

    pthread_mutex_lock(&log_mu);
    if ((msg = log_mask(msg)) == NULL) {
        pthread_mutex_unlock(&log_mu);
        return;
    }
    if (log_json) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\"", when, log_names[level]);
        if (prefix) {
            fputs(",\"instance\":", stderr);
            log_json_string(stderr, prefix);
        }
        fputs(",\"msg\":", stderr);
        log_json_string(stderr, msg);
        fputs("}\n", stderr);
    } else {
        /* One event, one line: record data (a Subject, a reason) cannot
         * forge a line or send a terminal escape. */
        char *emsg = bp_escape_controls(msg, "\t");
        char *epre = prefix ? bp_escape_controls(prefix, NULL) : NULL;
        fprintf(stderr, "%s %-5s %s%s%s%s\n", when, log_names[level], prefix ? "[" : "",
                prefix ? (epre ? epre : "?") : "", prefix ? "] " : "", emsg ? emsg : "?");
        free(emsg);
        free(epre);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
    free(msg);
}

void bp_log(enum bp_log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bp_logv(level, prefix, fmt, ap);
    va_end(ap);
}
