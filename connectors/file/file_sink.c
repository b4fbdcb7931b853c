/* The file sink: appends one line per record (the data as JSON, or the whole
 * CloudEvent) with one write per batch, then fsync, so BP_OK means durable.
 *
 * Exactly once across crashes ("transactional by offset"): after each batch the
 * file's length is committed through wb_commit_checkpoint, in the same state
 * transaction as the core's write-back ledger entries for the batch. On start,
 * bytes beyond the committed length — a batch written but not committed when
 * the process died — are cut off; the records are then redelivered by their
 * source and written again, and records the ledger already holds are skipped. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

typedef struct {
    char *p;
    size_t n, cap;
} fk_buf;

struct fsnk {
    int fd;
    long long len;     /* committed length, then the length after each write */
    fk_buf buf;        /* one batch's text, reused: no large malloc per write */
};

#define FK_CKPT "committed_len"

/* Opens the file and cuts off what a crash left uncommitted. */
static bp_status fk_open(file_conn *self)
{
    const struct bp_host_api *api = self->api;
    /* Records hold personal data: a new file gets file_mode exactly (0600
     * by default, whatever the umask); an existing one keeps its mode, with
     * a warning when that is wider. */
    int created = 1;
    int fd = open(self->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = open(self->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    }
    if (fd < 0) {
        api->log(self->inst, BP_LOG_ERROR, "cannot open %s: %s", self->path, strerror(errno));
        return BP_RETRY;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (created && fchmod(fd, (mode_t)self->file_mode) != 0)) {
        close(fd);
        return BP_RETRY;
    }
    if (!created && S_ISREG(st.st_mode) && (st.st_mode & 0777 & ~(mode_t)self->file_mode))
        api->log(self->inst, BP_LOG_WARN,
                 "%s is mode %04o, wider than file_mode %04o (chmod it to keep its data private)",
                 self->path, (unsigned)(st.st_mode & 0777), self->file_mode);
    long long len = (long long)st.st_size;
    char *val = NULL;
    /* The committed length is "LEN PATH": a length committed for another
     * path (the site file changed the sink's path, a reload restarted it)
     * says nothing of this file, whose bytes are never cut. A bare "LEN"
     * (written before the path was kept) counts for any path. */
    char *sep = NULL;
    int ours = api->checkpoint_get(self->inst, FK_CKPT, &val) == BP_OK;
    if (ours) {
        strtoll(val, &sep, 10);
        ours = *sep == '\0' || (*sep == ' ' && strcmp(sep + 1, self->path) == 0);
    }
    if (ours) {
        long long committed = strtoll(val, NULL, 10);
        if (len > committed) {
            api->log(self->inst, BP_LOG_WARN,
                     "%s: cutting %lld uncommitted byte(s) left by an interrupted run; their "
                     "records are redelivered", self->path, len - committed);
            if (ftruncate(fd, (off_t)committed) != 0) {
                api->log(self->inst, BP_LOG_ERROR, "cannot truncate %s: %s", self->path,
                         strerror(errno));
                api->free(val);
                close(fd);
                return BP_RETRY;
            }
            len = committed;
        } else if (len < committed) {
            api->log(self->inst, BP_LOG_WARN,
                     "%s is shorter (%lld) than committed (%lld): rotated or truncated by "
                     "someone else; appending", self->path, len, committed);
        }
    } else {
        /* First use: what the file holds now is committed, durably, before
         * anything is written — else a crash during the very first write
         * would leave its lines behind with nothing to cut them back to. */
        char *now = api->format("%lld %s", len, self->path);
        bp_status cs = now ? api->checkpoint_set(self->inst, FK_CKPT, now) : BP_ERR_NOMEM;
        api->free(now);
        if (cs != BP_OK) {
            api->log(self->inst, BP_LOG_ERROR, "cannot record the length of %s", self->path);
            close(fd);
            return BP_RETRY;
        }
    }
    api->free(val);
    if ((self->snk = calloc(1, sizeof(fsnk))) == NULL) {
        close(fd);
        return BP_ERR_NOMEM;
    }
    self->snk->fd = fd;
    self->snk->len = len;
    return BP_OK;
}

/* Makes room for n more bytes. */
static int fk_reserve(fk_buf *b, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    return 0;
}

static int fk_put(fk_buf *b, const char *s, size_t n)
{
    if (fk_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

bp_status file_sink_write(file_conn *self, bp_write_batch *wb)
{
    const struct bp_host_api *api = self->api;
    if (self->snk == NULL) {
        bp_status st = fk_open(self);
        if (st != BP_OK)
            return st;
    }
    fk_buf *b = &self->snk->buf;
    b->n = 0;
    size_t n = api->wb_count(wb);
    for (size_t i = 0; i < n; i++) {
        const bp_envelope *env = api->wb_get0(wb, i);
        const cJSON *data = self->cloudevents ? NULL : api->envelope_get0_data(env);
        if (!self->cloudevents && data != NULL) {
            if (api->json_append(data, &b->p, &b->n, &b->cap) != BP_OK ||
                fk_put(b, "\n", 1) < 0) {
                api->wb_set_result(wb, i, BP_RETRY, "out of memory serialising the record");
                continue;
            }
            continue;
        }
        char *text = self->cloudevents ? api->envelope_to_json(env, BP_SER_DEFAULT)
                                       : api->strdup("null");
        if (text == NULL) {
            api->wb_set_result(wb, i, BP_RETRY, "out of memory serialising the record");
            continue;
        }
        if (fk_put(b, text, strlen(text)) < 0 || fk_put(b, "\n", 1) < 0) {
            api->free(text);
            return BP_RETRY;
        }
        api->free(text);
    }
    size_t done = 0;
    while (done < b->n) {
        ssize_t w = write(self->snk->fd, b->p + done, b->n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            api->log(self->inst, BP_LOG_ERROR, "write to %s failed: %s", self->path,
                     strerror(errno));
            /* Cut the partial batch: the retry writes it whole. */
            if (ftruncate(self->snk->fd, (off_t)self->snk->len) != 0)
                api->log(self->inst, BP_LOG_ERROR, "cannot truncate %s: %s", self->path,
                         strerror(errno));
            return BP_RETRY;
        }
        done += (size_t)w;
    }
    if (self->fsync && fdatasync(self->snk->fd) != 0) {
        api->log(self->inst, BP_LOG_ERROR, "fsync of %s failed: %s", self->path, strerror(errno));
        if (ftruncate(self->snk->fd, (off_t)self->snk->len) != 0)
            api->log(self->inst, BP_LOG_ERROR, "cannot truncate %s", self->path);
        return BP_RETRY;
    }
    self->snk->len += (long long)done;
    char *val = api->format("%lld %s", self->snk->len, self->path);
    if (val == NULL)
        return BP_RETRY;
    api->wb_commit_checkpoint(wb, FK_CKPT, val);
    api->free(val);
    return BP_OK;
}

void file_sink_free(file_conn *self)
{
    if (self->snk == NULL)
        return;
    close(self->snk->fd);
    free(self->snk->buf.p);
    free(self->snk);
    self->snk = NULL;
}
