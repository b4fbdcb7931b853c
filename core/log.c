/* See log.h. One mutex serialises lines so concurrent routes never interleave
 * a line, and guards the secret list. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bp_build_config.h"
#ifdef BP_HAVE_LIBSYSTEMD
/* Entries without CODE_FILE/CODE_LINE of this file: they would all name log.c. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif
#include "log.h"
#include "strutil.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum bp_log_level log_level = BP_LOG_INFO;
static int log_json;
static char **log_secrets;
static size_t log_n_secrets;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

/* --log-file: its path, kept for a reopen from a signal handler (no malloc
 * there). Empty: stderr is whatever the process was given. */
static char log_file_path[PATH_MAX];
/* -1 not decided yet, 0 stderr, 1 journald (stderr is the journal's stream). */
static int log_journal = -1;

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

bp_status bp_log_set_file(const char *path, char **errmsg)
{
    *errmsg = NULL;
    if (path == NULL || *path == '\0' || strlen(path) >= sizeof(log_file_path)) {
        *errmsg = bp_strfmt("--log-file needs a path (shorter than %zu bytes)",
                            sizeof(log_file_path));
        return BP_ERR_INVALID;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        *errmsg = bp_strfmt("--log-file %s: %s", path, strerror(errno));
        return BP_ERR_IO;
    }
    pthread_mutex_lock(&log_mu);
    fflush(stderr);
    /* Onto stderr itself: what libraries print there (libcurl, a sanitizer)
     * lands in the same file, and a reopen is one dup2. */
    int rc = dup2(fd, STDERR_FILENO);
    int err = errno;
    close(fd);
    if (rc >= 0) {
        memcpy(log_file_path, path, strlen(path) + 1);
        log_journal = 0;
    }
    pthread_mutex_unlock(&log_mu);
    if (rc < 0) {
        *errmsg = bp_strfmt("--log-file %s: %s", path, strerror(err));
        return BP_ERR_IO;
    }
    return BP_OK;
}

int bp_log_reopen(void)
{
    if (log_file_path[0] == '\0')
        return 0;
    /* open, dup2 and close only: async-signal-safe. A line being written
     * meanwhile goes wholly to the old file or wholly to the new one. */
    int fd = open(log_file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int rc = dup2(fd, STDERR_FILENO);
    close(fd);
    return rc < 0 ? -1 : 0;
}

/* systemd.exec(5): JOURNAL_STREAM names the device and inode of the stream
 * stdout/stderr were connected to; when stderr is still that stream, the
 * journal takes native entries with fields. Caller holds log_mu. */
static int log_detect_journal(void)
{
#ifdef BP_HAVE_LIBSYSTEMD
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
        (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        return 1;
#endif
    return 0;
}

#ifdef BP_HAVE_LIBSYSTEMD
/* One native journal entry: MESSAGE, PRIORITY, and ROUTE / INSTANCE /
 * PLUGIN / RECORD_ID when known (journalctl ROUTE=ap). Field values may hold
 * any byte but a newline in the text protocol, so the masked message is
 * sent with its controls escaped like a text line. Caller holds log_mu. */
static void log_journal_send(enum bp_log_level level, const char *prefix,
                             const bp_log_fields *f, const char *msg)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char *fields[8] = {0};
    struct iovec iov[8];
    int n = 0;
    char *emsg = bp_escape_controls(msg, "\t");
    fields[n++] = bp_strfmt("MESSAGE=%s%s%s%s", prefix ? "[" : "", prefix ? prefix : "",
                            prefix ? "] " : "", emsg ? emsg : "?");
    fields[n++] = bp_strfmt("PRIORITY=%d", prio[level]);
    fields[n++] = bp_strfmt("SYSLOG_IDENTIFIER=backplane");
    if (prefix) {
        size_t rl = strcspn(prefix, "/");
        fields[n++] = bp_strfmt("ROUTE=%.*s", (int)rl, prefix);
        if (prefix[rl] == '/')
            fields[n++] = bp_strfmt("INSTANCE=%s", prefix);
    }
    if (f && f->plugin)
        fields[n++] = bp_strfmt("PLUGIN=%s", f->plugin);
    if (f && f->record_id)
        fields[n++] = bp_strfmt("RECORD_ID=%s", f->record_id);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (fields[i] == NULL || strchr(fields[i], '\n'))
            continue;   /* out of memory, or a name with a newline: left out */
        iov[k].iov_base = fields[i];
        iov[k].iov_len = strlen(fields[i]);
        k++;
    }
    if (k == 0 || sd_journal_sendv(iov, k) < 0) {
        /* journald gone: the line still reaches the stream */
        fprintf(stderr, "%s\n", fields[0] ? fields[0] + 8 : msg);
    }
    for (int i = 0; i < n; i++)
        free(fields[i]);
    free(emsg);
}
#endif

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
    bp_logv_fields(level, prefix, NULL, fmt, ap);
}

void bp_logv_fields(enum bp_log_level level, const char *prefix, const bp_log_fields *fields,
                    const char *fmt, va_list ap)
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
    if (log_journal < 0)
        log_journal = log_detect_journal();
#ifdef BP_HAVE_LIBSYSTEMD
    if (log_journal == 1) {
        log_journal_send(level, prefix, fields, msg);
    } else
#endif
    if (log_json) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\"", when, log_names[level]);
        if (prefix) {
            fputs(",\"instance\":", stderr);
            log_json_string(stderr, prefix);
        }
        if (fields && fields->plugin) {
            fputs(",\"plugin\":", stderr);
            log_json_string(stderr, fields->plugin);
        }
        if (fields && fields->record_id) {
            fputs(",\"record_id\":", stderr);
            log_json_string(stderr, fields->record_id);
        }
        fputs(",\"msg\":", stderr);
        log_json_string(stderr, msg);
        fputs("}\n", stderr);
    } else {
        /* One event, one line: record data (a Subject, a reason) cannot
         * forge a line or send a terminal escape. */
        char *emsg = bp_escape_controls(msg, "\t");
        char *epre = prefix ? bp_escape_controls(prefix, NULL) : NULL;
        /* The id comes from the record (a source's key, a Message-ID):
         * escaped as the message is. */
        const char *rid = fields ? fields->record_id : NULL;
        char *erid = rid ? bp_escape_controls(rid, NULL) : NULL;
        fprintf(stderr, "%s %-5s %s%s%s%s%s%s%s\n", when, log_names[level], prefix ? "[" : "",
                prefix ? (epre ? epre : "?") : "", prefix ? "] " : "", emsg ? emsg : "?",
                rid ? " (record_id=" : "", rid ? (erid ? erid : "?") : "", rid ? ")" : "");
        free(emsg);
        free(epre);
        free(erid);
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

void bp_log_with(enum bp_log_level level, const char *prefix, const bp_log_fields *fields,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bp_logv_fields(level, prefix, fields, fmt, ap);
    va_end(ap);
}

void bp_log_rec(enum bp_log_level level, const char *prefix, const char *plugin,
                const char *record_id, const char *fmt, ...)
{
    if (level > log_level)
        return;
    bp_log_fields f = {.plugin = plugin, .record_id = record_id && *record_id ? record_id : NULL};
    va_list ap;
    va_start(ap, fmt);
    bp_logv_fields(level, prefix, &f, fmt, ap);
    va_end(ap);
}
