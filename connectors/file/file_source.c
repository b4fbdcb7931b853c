/* The file source: reads JSON lines (or CloudEvents lines) from the files a
 * glob matches, in name order. The checkpoint of each file is the byte offset
 * after the last acked line, so a restart resumes exactly there. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    char *rb;              /* read buffer: [rb_start, rb_end) is read, not consumed */
    size_t rb_cap, rb_start, rb_end;
    char *uri;             /* "file://<path>" of files[cur]: the default CE source */
    bp_envelope **carry;   /* events of a batch line that did not fit the poll batch */
    uint64_t *carry_tok;
    size_t carry_n, carry_i;
    int skipping;          /* inside a line longer than max_line */
    long long skipped;     /* bytes of it discarded so far */
    int64_t last_glob_ms;
};

/* Reads are done in blocks of this size: one read() per many lines instead of
 * one getc() per byte. */
#define FS_BLOCK (64 * 1024)

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
    /* Regular files only: a FIFO the glob matches would block the open (and
     * the route, and its stop) until a writer comes, and a device such as
     * /dev/zero behind a symlink never ends. O_NONBLOCK makes the open of a
     * FIFO return at once; fstat then tells what it is. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        self->api->log(self->inst, BP_LOG_ERROR, "cannot open %s: %s", path, strerror(e));
        return e == ENOENT ? BP_ERR_NOT_FOUND : BP_ERR_IO;
    }
    struct stat fst;
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
        self->api->log(self->inst, BP_LOG_WARN,
                       "skipping %s: not a regular file (only regular files are read)", path);
        close(fd);
        return BP_ERR_NOT_FOUND;   /* skipped; known, so not reported again */
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    s->f = fdopen(fd, "rb");
    if (s->f == NULL) {
        close(fd);
        return BP_ERR_NOMEM;
    }
    s->off = 0;
    s->line = 1;
    free(s->uri);
    if (asprintf(&s->uri, "file://%s", path) < 0) {
        s->uri = NULL;
        fclose(s->f);
        s->f = NULL;
        return BP_ERR_NOMEM;
    }
    char *key = fs_ckpt_key(path), *val = NULL;
    s->rb_start = s->rb_end = 0;
    s->skipping = 0;
    s->skipped = 0;
    if (key && self->api->checkpoint_get(self->inst, key, &val) == BP_OK) {
        long long want = strtoll(val, NULL, 10);
        char block[FS_BLOCK];
        /* Count the lines before the checkpoint, so messages keep true line
         * numbers after a restart. */
        while (s->off < want) {
            size_t chunk = (size_t)(want - s->off) < sizeof(block) ? (size_t)(want - s->off)
                                                                   : sizeof(block);
            size_t got = fread(block, 1, chunk, s->f);
            if (got == 0)
                break;
            for (const char *q = block; (q = memchr(q, '\n', (size_t)(block + got - q))); q++)
                s->line++;
            s->off += (long long)got;
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

/* Makes room for one more block read at the end of the read buffer. */
static int fs_rb_reserve(fsrc *s)
{
    if (s->rb_cap - s->rb_end >= FS_BLOCK)
        return 0;
    size_t cap = s->rb_cap ? s->rb_cap * 2 : 2 * FS_BLOCK;
    char *b = realloc(s->rb, cap);
    if (b == NULL)
        return -1;
    s->rb = b;
    s->rb_cap = cap;
    return 0;
}

/* Returns the next line (without "\n" or "\r\n") in *line and *len, valid
 * until the next call, and the bytes it used in *used. Returns 1 for a line, 0
 * when no complete line is available now (a partial last line stays buffered
 * in follow mode; without follow it is returned at end of file),
 * -1 when out of memory. A line over max_line is discarded as it is read and
 * returned empty with *too_long set. */
static int fs_read_line(file_conn *self, const char **line, size_t *len, size_t *used,
                        int *too_long)
{
    fsrc *s = self->src;
    for (;;) {
        char *start = s->rb + s->rb_start;
        size_t avail = s->rb_end - s->rb_start;
        char *nl = avail ? memchr(start, '\n', avail) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - start);
            *used = n + 1 + (size_t)s->skipped;
            *too_long = s->skipping || (long long)n > self->max_line;
            s->rb_start += n + 1;
            s->skipping = 0;
            s->skipped = 0;
            if (*too_long)
                n = 0;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            *line = start;
            *len = n;
            return 1;
        }
        if ((long long)avail > self->max_line) {
            /* Too long to keep: drop what we have, remember we are skipping. */
            s->skipping = 1;
            s->skipped += (long long)avail;
            s->rb_start = s->rb_end = 0;
            avail = 0;
        }
        if (s->rb_start > 0) {
            memmove(s->rb, s->rb + s->rb_start, avail);
            s->rb_start = 0;
            s->rb_end = avail;
        }
        if (fs_rb_reserve(s) < 0)
            return -1;
        size_t got = fread(s->rb + s->rb_end, 1, s->rb_cap - s->rb_end, s->f);
        if (got > 0) {
            s->rb_end += got;
            continue;
        }
        clearerr(s->f);   /* a growing file may have more later */
        if (self->follow || (avail == 0 && !s->skipping))
            return 0;
        /* End of a finite file: its last line has no newline. */
        *used = avail + (size_t)s->skipped;
        *too_long = s->skipping || (long long)avail > self->max_line;
        *line = s->rb;
        *len = *too_long ? 0 : avail;
        if (*len > 0 && s->rb[*len - 1] == '\r')
            (*len)--;
        s->rb_start = s->rb_end = 0;
        s->skipping = 0;
        s->skipped = 0;
        return 1;
    }
}

/* cloudevents-batch: the rest of the file is one record (a batch document).
 * In follow mode a file is taken only once it has not changed for a second,
 * so a document still being written is not read half. Returns as
 * fs_read_line. */
static int fs_read_whole(file_conn *self, const char **text, size_t *len, size_t *used,
                         int *too_long)
{
    fsrc *s = self->src;
    struct stat st;
    if (self->follow && fstat(fileno(s->f), &st) == 0 &&
        (long long)time(NULL) - (long long)st.st_mtime < 1)
        return 0;
    s->rb_start = s->rb_end = 0;
    *too_long = 0;
    for (;;) {
        if (fs_rb_reserve(s) < 0)
            return -1;
        size_t got = fread(s->rb + s->rb_end, 1, s->rb_cap - s->rb_end, s->f);
        if (got == 0)
            break;
        s->rb_end += got;
        if ((long long)s->rb_end > self->max_line) {
            /* Too big to hold: count the rest, keep nothing. */
            *too_long = 1;
            size_t skipped = s->rb_end;
            while ((got = fread(s->rb, 1, s->rb_cap, s->f)) > 0)
                skipped += got;
            s->rb_end = skipped;
            break;
        }
    }
    clearerr(s->f);
    if (s->rb_end == 0)
        return 0;
    *used = s->rb_end;
    *text = s->rb;
    *len = *too_long ? 0 : s->rb_end;
    s->rb_start = s->rb_end = 0;
    return 1;
}

/* Pushes what is left of a batch line's events; returns how many remain. */
static size_t fs_push_carry(file_conn *self, bp_poll_batch *batch)
{
    fsrc *s = self->src;
    while (s->carry_i < s->carry_n && self->api->batch_room(batch) > 0) {
        self->api->batch_push(batch, s->carry[s->carry_i], s->carry_tok[s->carry_i]);
        s->carry[s->carry_i++] = NULL;
    }
    if (s->carry_i == s->carry_n) {
        free(s->carry);
        free(s->carry_tok);
        s->carry = NULL;
        s->carry_tok = NULL;
        s->carry_n = s->carry_i = 0;
    }
    return s->carry_n - s->carry_i;
}

/* A CloudEvents batch (a JSON array of events) on one line. Every event but
 * the last carries the token of the line's START: acking part of the line
 * never moves the offset past events still in flight; the last one moves it
 * past the line. */
static void fs_batch_line(file_conn *self, bp_poll_batch *batch, const char *path,
                          long long start, long long line, const char *text, size_t len,
                          uint64_t token)
{
    const struct bp_host_api *api = self->api;
    fsrc *s = self->src;
    bp_envelope **envs = NULL;
    size_t n = 0;
    char *err = NULL;
    if (api->envelope_batch_from_json(text, len, &envs, &n, &err) != BP_OK) {
        char *reason = self->batch_file
                           ? api->format("%s: %s", path, err ? err : "invalid batch")
                           : api->format("%s:%lld: %s", path, line, err ? err : "invalid batch");
        api->free(err);
        api->batch_push_invalid(batch, token, reason, text, len);
        api->free(reason);
        return;
    }
    if (n == 0) {
        free(envs);
        return;
    }
    uint64_t start_token = (token & ~FS_OFF_MASK) | ((uint64_t)start & FS_OFF_MASK);
    s->carry_tok = malloc(n * sizeof(*s->carry_tok));
    if (s->carry_tok == NULL) {
        for (size_t i = 0; i < n; i++)
            api->envelope_unref(envs[i]);
        free(envs);
        api->batch_push_invalid(batch, token, "out of memory reading a batch", text, len);
        return;
    }
    for (size_t i = 0; i < n; i++)
        s->carry_tok[i] = i + 1 < n ? start_token : token;
    s->carry = envs;
    s->carry_n = n;
    s->carry_i = 0;
    fs_push_carry(self, batch);
}

static void fs_line_to_record(file_conn *self, bp_poll_batch *batch, const char *path,
                              long long start, long long line, const char *text, size_t len,
                              int too_long, uint64_t token)
{
    const struct bp_host_api *api = self->api;
    char *reason = NULL;
    if (too_long) {
        reason = self->batch_file
                     ? api->format("%s: file larger than max_line (%lld bytes)", path,
                                   self->max_line)
                     : api->format("%s:%lld:1: line longer than max_line (%lld bytes)", path,
                                   line, self->max_line);
        api->batch_push_invalid(batch, token, reason, text, len);
        api->free(reason);
        return;
    }
    if (self->cloudevents) {
        bp_envelope *env = NULL;
        char *err = NULL;
        size_t lead = 0;
        while (lead < len && (text[lead] == ' ' || text[lead] == '\t'))
            lead++;
        while (lead < len && strchr(" \t\r\n", text[lead]))
            lead++;
        if (lead < len && text[lead] == '[') {
            fs_batch_line(self, batch, path, start, line, text, len, token);
            return;
        }
        bp_status st = api->envelope_from_json(text, len, &env, &err);
        if (st != BP_OK) {
            reason = self->batch_file
                         ? api->format("%s: %s", path, err ? err : "invalid CloudEvent")
                         : api->format("%s:%lld: %s", path, line, err ? err : "invalid CloudEvent");
            api->free(err);
            api->batch_push_invalid(batch, token, reason, text, len);
            api->free(reason);
            return;
        }
        api->batch_push(batch, env, token);
        return;
    }
    bp_envelope *env = api->envelope_new();
    char id[64];
    const char *base = strrchr(path, '/');
    snprintf(id, sizeof(id), "%.40s@%lld", base ? base + 1 : path, start);
    const char *src = self->src->uri;
    char origin[PATH_MAX + 32];
    snprintf(origin, sizeof(origin), "%s:%lld", path, line);
    /* The JSON is parsed on a worker thread (a bad line is dead-lettered
     * there with this origin and its column): this thread only reads. */
    if (env == NULL || api->envelope_set_data_json(env, text, len, origin) != BP_OK ||
        api->envelope_set_attr(env, "id", id) != BP_OK ||
        api->envelope_set_attr(env, "type", self->type) != BP_OK ||
        api->envelope_set_attr(env, "source", self->source ? self->source : src) != BP_OK ||
        api->envelope_set_attr(env, "datacontenttype", "application/json") != BP_OK) {
        api->envelope_unref(env);
        api->batch_push_invalid(batch, token, "cannot build envelope (out of memory?)", text,
                                len);
        return;
    }
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
    if (s->carry_n > 0 && fs_push_carry(self, batch) > 0)
        return BP_OK;   /* the batch is full of a previous line's events */
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
        const char *text = NULL;
        size_t len = 0, used = 0;
        int too_long;
        int r = self->batch_file ? fs_read_whole(self, &text, &len, &used, &too_long)
                                 : fs_read_line(self, &text, &len, &used, &too_long);
        if (r < 0)
            return pushed ? BP_OK : BP_ERR_NOMEM;
        if (r == 0) {
            /* At the end of this file for now. In follow mode the last file
             * may grow (a half-written line stays buffered); earlier files
             * are done once a later one exists. */
            if (self->follow && s->cur + 1 >= s->n_files) {
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
        s->off += (long long)used;
        long long line = s->line++;
        if (len == 0 && !too_long)
            continue;   /* blank line: nothing to deliver; its offset is acked with the next */
        uint64_t token = ((uint64_t)s->cur << FS_OFF_BITS) | ((uint64_t)s->off & FS_OFF_MASK);
        fs_line_to_record(self, batch, path, start, line, text, len, too_long, token);
        pushed++;
        if (s->carry_n > 0)
            return BP_OK;   /* the rest of a batch line goes out with the next poll */
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
    for (size_t i = s->carry_i; i < s->carry_n; i++)
        self->api->envelope_unref(s->carry[i]);
    free(s->carry);
    free(s->carry_tok);
    free(s->rb);
    free(s->uri);
    free(s);
    self->src = NULL;
}
