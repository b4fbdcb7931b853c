/* See log.h. One mutex serialises lines so concurrent routes never interleave
 * a line, and guards the secret list. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

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
    if (value == NULL || strlen(value) < 4)
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

/* Masks every registered secret in msg, in place (the mask is never longer than
 * a secret, so the text only shrinks). Caller holds log_mu. */
static void log_mask(char *msg)
{
    for (size_t i = 0; i < log_n_secrets; i++) {
        size_t n = strlen(log_secrets[i]);
        char *p;
        while ((p = strstr(msg, log_secrets[i])) != NULL) {
            memcpy(p, "****", 4);
            memmove(p + 4, p + n, strlen(p + n) + 1);
        }
    }
}

void bp_log_mask(char *s)
{
    pthread_mutex_lock(&log_mu);
    log_mask(s);
    pthread_mutex_unlock(&log_mu);
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
    log_mask(msg);
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
        fprintf(stderr, "%s %-5s %s%s%s%s\n", when, log_names[level], prefix ? "[" : "",
                prefix ? prefix : "", prefix ? "] " : "", msg);
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
