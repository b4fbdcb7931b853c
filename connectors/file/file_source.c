/* The file source: reads JSON lines (or CloudEvents lines) from the files a
 * glob matches, in name order. The checkpoint of each file is the byte offset
 * after the last acked line, so a restart resumes exactly there. */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"

/* Token layout: file index in the top 20 bits, end offset in the low 44. */
#define FS_OFF_BITS 44
#define FS_OFF_MASK ((UINT64_C(1) << FS_OFF_BITS) - 1)

struct fsrc {
    char **files;          /* absolute paths, append-only (tokens index it) */
    size_t n_files;
    size_t cur;            /* file being read */
    FILE *f;
    long long off;         /* offset of the next unread byte of files[cur] */
    long long line;        /* 1-based number of the next line */
    char *buf;
    size_t cap;
    int64_t last_glob_ms;
};

static char *fs_ckpt_key(const char *path)
{
    char *k = NULL;
    if (asprintf(&k, "offset:%s", path) < 0)
        return NULL;
    return k;
}

static int qsort_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds files matching the glob that are not known yet, in name order. */
static bp_status fs_glob(file_conn *self)
{
    fsrc *s = self->src;
    glob_t g;
    int r = glob(self->path, GLOB_NOSORT | GLOB_BRACE, NULL, &g);
    if (r == GLOB_NOMATCH)
        return BP_OK;
    if (r != 0) {
        self->api->log(self->inst, BP_LOG_ERROR, "cannot expand path '%s'", self->path);
        return BP_ERR_IO;
    }
    /* Sort the new names only: known files keep their index. */
    qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), qsort_cmp_str);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char abs[PATH_MAX];
        if (realpath(g.gl_pathv[i], abs) == NULL)
            continue;
        int known = 0;
        for (size_t k = 0; k < s->n_files && !known; k++)
            known = strcmp(s->files[k], abs) == 0;
        if (known)
            continue;
        if (s->n_files >= (1u << 20))
            break;
        char **f = realloc(s->files, (s->n_files + 1) * sizeof(*f));
        if (f == NULL || (f[s->n_files] = strdup(abs)) == NULL) {
            if (f)
                s->files = f;
            globfree(&g);
            return BP_ERR_NOMEM;
        }
        s->files = f;
        s->n_files++;
    }
    globfree(&g);
    return BP_OK;
}

/* Opens files[cur] at its checkpoint (counting lines up to it for messages). */
static bp_status fs_open_current(file_conn *self)
{
    fsrc *s = self->src;
    const char *path = s->files[s->cur];
    s->f = fopen(path, "rb");
    if (s->f == NULL) {
        self->api->log(self->inst, BP_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? BP_ERR_NOT_FOUND : BP_ERR_IO;
    }
    s->off = 0;
    s->line = 1;
    char *key = fs_ckpt_key(path), *val = NULL;
    if (key && self->api->checkpoint_get(self->inst, key, &val) == BP_OK) {
        long long want = strtoll(val, NULL, 10);
        int c;
        while (s->off < want && (c = getc(s->f)) != EOF) {
            s->off++;
            if (c == '\n')
                s->line++;
        }
        if (s->off < want)
            self->api->log(self->inst, BP_LOG_WARN,
                           "%s is shorter (%lld bytes) than its checkpoint (%lld): it was "
                           "truncated or replaced; reading from its end",
                           path, s->off, want);
        else
            self->api->log(self->inst, BP_LOG_INFO, "resuming %s at byte %lld (line %lld)", path,
                           s->off, s->line);
    }
    self->api->free(val);
    free(key);
    return BP_OK;
}

/* Reads one line into s->buf without its newline. Returns 1 for a line (with
 * *complete = it ended in '\n'), 0 at end of file. A line over max_line is
 * consumed to its end and reported with *too_long. */
static int fs_read_line(file_conn *self, size_t *len, int *complete, int *too_long)
{
    fsrc *s = self->src;
    size_t n = 0;
    int c;
    *complete = 0;
    *too_long = 0;
    while ((c = getc(s->f)) != EOF) {
        if (c == '\n') {
            *complete = 1;
            break;
        }
        if ((long long)n >= self->max_line) {
            *too_long = 1;
            continue;
        }
        if (n + 2 > s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 4096;
            char *b = realloc(s->buf, cap);
            if (b == NULL)
                return -1;
            s->buf = b;
            s->cap = cap;
        }
        s->buf[n++] = (char)c;
    }
    if (c == EOF && n == 0 && !*too_long)
        return 0;
    if (s->buf == NULL && (s->buf = malloc(s->cap = 64)) == NULL)
        return -1;
    if (n > 0 && s->buf[n - 1] == '\r')
        n--;
    s->buf[n] = '\0';
    *len = n;
    return 1;
}

/* Column (1-based) of cJSON's error position inside a one-line text. The
 * position comes from return_parse_end, not cJSON_GetErrorPtr(): that one is
 * a global shared by every thread. */
static long fs_err_col(const char *text, size_t len, const char *err)
{
    if (err == NULL || err < text || err > text + len)
        return 1;
    return (long)(err - text) + 1;
}

static void fs_line_to_record(file_conn *self, bp_poll_batch *batch, const char *path,
                              long long start, long long end, long long line, size_t len,
                              int too_long, uint64_t token)
{
    const struct bp_host_api *api = self->api;
    fsrc *s = self->src;
    char *reason = NULL;
    if (too_long) {
        reason = api->format("%s:%lld:1: line longer than max_line (%lld bytes)", path, line,
                             self->max_line);
        api->batch_push_invalid(batch, token, reason, s->buf, len);
        api->free(reason);
        return;
    }
    if (self->cloudevents) {
        bp_envelope *env = NULL;
        char *err = NULL;
        bp_status st = api->envelope_from_json(s->buf, len, &env, &err);
        if (st != BP_OK) {
            reason = api->format("%s:%lld: %s", path, line, err ? err : "invalid CloudEvent");
            free(err);
            api->batch_push_invalid(batch, token, reason, s->buf, len);
            api->free(reason);
            return;
        }
        api->batch_push(batch, env, token);
        return;
    }
    const char *endp = NULL;
    cJSON *data = cJSON_ParseWithLengthOpts(s->buf, len, &endp, 0);
    if (data == NULL) {
        reason = api->format("%s:%lld:%ld: invalid JSON", path, line,
                             fs_err_col(s->buf, len, endp));
        api->batch_push_invalid(batch, token, reason, s->buf, len);
        api->free(reason);
        return;
    }
    while (endp && (size_t)(endp - s->buf) < len && (*endp == ' ' || *endp == '\t'))
        endp++;
    if (endp && (size_t)(endp - s->buf) < len) {
        cJSON_Delete(data);
        reason = api->format("%s:%lld:%ld: unexpected text after the JSON value", path, line,
                             (long)(endp - s->buf) + 1);
        api->batch_push_invalid(batch, token, reason, s->buf, len);
        api->free(reason);
        return;
    }
    bp_envelope *env = api->envelope_new();
    char id[64];
    const char *base = strrchr(path, '/');
    snprintf(id, sizeof(id), "%.40s@%lld", base ? base + 1 : path, start);
    char *src = self->source ? NULL : api->format("file://%s", path);
    if (env == NULL || api->envelope_set0_data(env, data) != BP_OK ||
        api->envelope_set_attr(env, "id", id) != BP_OK ||
        api->envelope_set_attr(env, "type", self->type) != BP_OK ||
        api->envelope_set_attr(env, "source", self->source ? self->source : src) != BP_OK ||
        api->envelope_set_attr(env, "datacontenttype", "application/json") != BP_OK) {
        api->free(src);
        api->envelope_unref(env);
        api->batch_push_invalid(batch, token, "cannot build envelope (out of memory?)", s->buf,
                                len);
        return;
    }
    (void)end;
    api->free(src);
    api->batch_push(batch, env, token);
}

static void fs_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bp_status file_source_poll(file_conn *self, bp_poll_batch *batch, int timeout_ms)
{
    const struct bp_host_api *api = self->api;
    if (self->src == NULL) {
        if ((self->src = calloc(1, sizeof(fsrc))) == NULL)
            return BP_ERR_NOMEM;
        bp_status st = fs_glob(self);
        if (st != BP_OK)
            return st;
        qsort(self->src->files, self->src->n_files, sizeof(char *), qsort_cmp_str);
        if (self->src->n_files == 0)
            api->log(self->inst, BP_LOG_WARN, "no file matches '%s'%s", self->path,
                     self->follow ? " yet" : "");
        self->src->last_glob_ms = api->monotonic_ms();
    }
    fsrc *s = self->src;
    int64_t deadline = api->monotonic_ms() + timeout_ms;
    size_t pushed = 0;
    while (api->batch_room(batch) > 0 && !api->stopping(self->inst)) {
        if (s->cur >= s->n_files) {
            if (!self->follow)
                return pushed ? BP_OK : BP_EOF;
            if (pushed || api->monotonic_ms() >= deadline)
                return pushed ? BP_OK : BP_AGAIN;
            if (api->monotonic_ms() - s->last_glob_ms >= 500) {
                fs_glob(self);
                s->last_glob_ms = api->monotonic_ms();
            }
            if (s->cur >= s->n_files) {
                fs_sleep_ms(50);
                continue;
            }
        }
        if (s->f == NULL) {
            bp_status st = fs_open_current(self);
            if (st == BP_ERR_NOT_FOUND) {
                s->cur++;   /* removed since the glob: nothing left to read */
                continue;
            }
            if (st != BP_OK)
                return pushed ? BP_OK : st;
        }
        const char *path = s->files[s->cur];
        long long start = s->off;
        size_t len = 0;
        int complete, too_long;
        int r = fs_read_line(self, &len, &complete, &too_long);
        if (r < 0)
            return pushed ? BP_OK : BP_ERR_NOMEM;
        if (r == 0 || (!complete && self->follow)) {
            /* At the end of this file. A growing file in follow mode may get
             * the rest of a half-written line later: step back to its start. */
            if (r == 1) {
                fseeko(s->f, start, SEEK_SET);
                clearerr(s->f);
            }
            if (self->follow && s->cur + 1 >= s->n_files) {
                clearerr(s->f);
                if (pushed || api->monotonic_ms() >= deadline)
                    return pushed ? BP_OK : BP_AGAIN;
                fs_sleep_ms(50);
                if (api->monotonic_ms() - s->last_glob_ms >= 500) {
                    fs_glob(self);
                    s->last_glob_ms = api->monotonic_ms();
                }
                continue;
            }
            fclose(s->f);
            s->f = NULL;
            s->cur++;
            continue;
        }
        s->off = ftello(s->f);
        long long line = s->line++;
        if (len == 0 && !too_long)
            continue;   /* blank line: nothing to deliver; its offset is acked with the next */
        uint64_t token = ((uint64_t)s->cur << FS_OFF_BITS) | ((uint64_t)s->off & FS_OFF_MASK);
        fs_line_to_record(self, batch, path, start, s->off, line, len, too_long, token);
        pushed++;
    }
    return BP_OK;
}

bp_status file_source_ack(file_conn *self, const uint64_t *tokens, size_t n)
{
    fsrc *s = self->src;
    if (s == NULL)
        return BP_OK;
    /* Tokens arrive in order: the last one per file is its new checkpoint. */
    for (size_t i = 0; i < n; i++) {
        size_t file = (size_t)(tokens[i] >> FS_OFF_BITS);
        if (i + 1 < n && (size_t)(tokens[i + 1] >> FS_OFF_BITS) == file)
            continue;
        if (file >= s->n_files)
            return BP_ERR_INVALID;
        char *key = fs_ckpt_key(s->files[file]);
        char val[32];
        snprintf(val, sizeof(val), "%llu", (unsigned long long)(tokens[i] & FS_OFF_MASK));
        bp_status st = key ? self->api->checkpoint_set(self->inst, key, val) : BP_ERR_NOMEM;
        free(key);
        if (st != BP_OK)
            return st;
    }
    return BP_OK;
}

void file_source_free(file_conn *self)
{
    fsrc *s = self->src;
    if (s == NULL)
        return;
    if (s->f)
        fclose(s->f);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s->buf);
    free(s);
    self->src = NULL;
}
