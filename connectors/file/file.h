/* The file connector: JSON lines or CloudEvents in and out. Internal header
 * shared by the source and sink halves of this plugin. */
#ifndef BP_FILE_H
#define BP_FILE_H

#include <backplane/plugin.h>

typedef struct fsrc fsrc;
typedef struct fsnk fsnk;

/* Instance: a file connector is a source or a sink depending on how the
 * route uses it; init cannot tell, so one instance holds both halves, each
 * opened lazily on first poll or write. */
typedef struct file_conn {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *path;              /* glob (source) or file (sink) */
    int cloudevents;         /* format: cloudevents or cloudevents-batch (else jsonl) */
    int batch_file;          /* format: cloudevents-batch: a whole file is one batch */
    char *type;              /* CE type stamped on plain JSON lines */
    char *source;            /* CE source, or NULL: file://<absolute path> */
    int follow;
    long long max_line;
    int fsync;
    unsigned file_mode;   /* a sink's new file: this mode (0600 unless file_mode) */
    fsrc *src;
    fsnk *snk;
} file_conn;

bp_status file_source_poll(file_conn *self, bp_poll_batch *batch, int timeout_ms);
bp_status file_source_ack(file_conn *self, const uint64_t *tokens, size_t n);
void file_source_free(file_conn *self);

bp_status file_sink_write(file_conn *self, bp_write_batch *wb);
void file_sink_free(file_conn *self);

#endif
