/* The file sink: appends one line per record (the data as JSON, or the whole
 * CloudEvent) with one write per batch, then fsync, so BP_OK means durable. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"

struct fsnk {
    int fd;
};

typedef struct {
    char *p;
    size_t n, cap;
} fk_buf;

static int fk_put(fk_buf *b, const char *s, size_t n)
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
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

bp_status file_sink_write(file_conn *self, bp_write_batch *wb)
{
    const struct bp_host_api *api = self->api;
    if (self->snk == NULL) {
        int fd = open(self->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            api->log(self->inst, BP_LOG_ERROR, "cannot open %s: %s", self->path, strerror(errno));
            return BP_RETRY;
        }
        if ((self->snk = calloc(1, sizeof(fsnk))) == NULL) {
            close(fd);
            return BP_ERR_NOMEM;
        }
        self->snk->fd = fd;
    }
    fk_buf b = {0};
    size_t n = api->wb_count(wb);
    for (size_t i = 0; i < n; i++) {
        const bp_envelope *env = api->wb_get0(wb, i);
        char *text;
        if (self->cloudevents) {
            text = api->envelope_to_json(env, BP_SER_DEFAULT);
        } else {
            const cJSON *data = api->envelope_get0_data(env);
            text = data ? cJSON_PrintUnformatted(data) : strdup("null");
        }
        if (text == NULL) {
            api->wb_set_result(wb, i, BP_RETRY, "out of memory serialising the record");
            continue;
        }
        if (fk_put(&b, text, strlen(text)) < 0 || fk_put(&b, "\n", 1) < 0) {
            free(text);
            free(b.p);
            return BP_RETRY;
        }
        free(text);
    }
    size_t done = 0;
    while (done < b.n) {
        ssize_t w = write(self->snk->fd, b.p + done, b.n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            api->log(self->inst, BP_LOG_ERROR, "write to %s failed: %s", self->path,
                     strerror(errno));
            free(b.p);
            return BP_RETRY;
        }
        done += (size_t)w;
    }
    free(b.p);
    if (self->fsync && fdatasync(self->snk->fd) != 0) {
        api->log(self->inst, BP_LOG_ERROR, "fsync of %s failed: %s", self->path, strerror(errno));
        return BP_RETRY;
    }
    return BP_OK;
}

void file_sink_free(file_conn *self)
{
    if (self->snk == NULL)
        return;
    close(self->snk->fd);
    free(self->snk);
    self->snk = NULL;
}
