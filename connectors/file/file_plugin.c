/* The file connector's descriptor, options and life cycle. */
#include <stdlib.h>
#include <string.h>

#include "file.h"

static const char *const file_formats[] = {"jsonl", "cloudevents", "cloudevents-batch", NULL};

/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct file_opts {
    const char *path;
    int format;
    const char *type, *source;
    int follow;
    int64_t max_line;
    int fsync;
    const char *file_mode;
};

#define FO(member) BP_OPT_FIELD(struct file_opts, member)

static const struct bp_option file_options[] = {
    {.name = "path", .type = BP_OPT_PATH, .flags = BP_OPT_REQUIRED, FO(path),
     .description = "source: a file or glob (*.jsonl), read in name order; sink: the file appended to (relative: to the site file's directory)"},
    {.name = "format", .type = BP_OPT_ENUM, .default_value = "jsonl", .choices = file_formats,
     FO(format),
     .description = "jsonl: one JSON value per line is the record's data; cloudevents: one structured CloudEvent, or a batch (JSON array of events), per line; cloudevents-batch (source): each file is one CloudEvents batch document, any layout"},
    {.name = "type", .type = BP_OPT_STRING, .default_value = "com.backplane.record",
     .roles = BP_KIND_SOURCE, FO(type),
     .description = "source, jsonl: the CloudEvents type stamped on each record"},
    {.name = "source", .type = BP_OPT_STRING, .roles = BP_KIND_SOURCE, FO(source),
     .description = "source, jsonl: the CloudEvents source (default file://<absolute path>)"},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "false", .roles = BP_KIND_SOURCE,
     FO(follow),
     .description = "source: keep reading as files grow and new files match (else end at end of input)"},
    {.name = "max_line", .type = BP_OPT_SIZE, .default_value = "1MiB", .min = "64", .max = "256MiB",
     .roles = BP_KIND_SOURCE, FO(max_line),
     .description = "source: longer lines (and cloudevents-batch files) are dead-lettered, not read into memory whole"},
    {.name = "fsync", .type = BP_OPT_BOOL, .default_value = "true", .roles = BP_KIND_SINK, FO(fsync),
     .description = "sink: fsync after each batch, so an acknowledged record survives a power cut"},
    {.name = "file_mode", .type = BP_OPT_STRING, .default_value = "0600", .roles = BP_KIND_SINK,
     FO(file_mode),
     .description = "sink: octal mode of a file it creates, e.g. \"0640\" to share with a group"},
    {0},
};

static bp_status file_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                           const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct file_opts *o = info->options;
    (void)config;
    file_conn *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const char *fmt = file_formats[o->format];
    self->path = strdup(o->path);
    self->type = strdup(o->type);
    self->source = o->source ? strdup(o->source) : NULL;
    self->cloudevents = strncmp(fmt, "cloudevents", 11) == 0;
    self->batch_file = strcmp(fmt, "cloudevents-batch") == 0;
    self->follow = o->follow;
    self->max_line = o->max_line;
    self->fsync = o->fsync;
    const char *fm = o->file_mode;
    char *end = NULL;
    unsigned long mode = fm ? strtoul(fm, &end, 8) : 0600;
    if (fm && (*fm == '\0' || *end != '\0' || mode > 0777 || strspn(fm, "01234567") != strlen(fm))) {
        *errmsg = api->format("file_mode: '%s' is not an octal mode between 0000 and 0777", fm);
        free(self->path);
        free(self->type);
        free(self->source);
        free(self);
        return BP_ERR_INVALID;
    }
    self->file_mode = (unsigned)mode;
    if (self->path == NULL || self->type == NULL || (o->source && self->source == NULL)) {
        *errmsg = api->format("out of memory");
        free(self->path);
        free(self->type);
        free(self->source);
        free(self);
        return BP_ERR_NOMEM;
    }
    *out = self;
    return BP_OK;
}

static bp_status file_poll(void *self, bp_poll_batch *batch, int timeout_ms)
{
    return file_source_poll(self, batch, timeout_ms);
}

static bp_status file_ack(void *self, const uint64_t *tokens, size_t n)
{
    return file_source_ack(self, tokens, n);
}

static bp_status file_write(void *self, bp_write_batch *wb)
{
    return file_sink_write(self, wb);
}

static void file_destroy(void *p)
{
    file_conn *self = p;
    file_source_free(self);
    file_sink_free(self);
    free(self->path);
    free(self->type);
    free(self->source);
    free(self);
}

static const struct bp_plugin file_plugin = {
    BP_PLUGIN_HEADER,
    .name = "file",
    .version = "0.1.0",
    .description = "JSON lines or CloudEvents files: read (glob, checkpointed offsets, follow) and append",
    .kinds = BP_KIND_SOURCE | BP_KIND_SINK,
    .options = file_options,
    .options_size = sizeof(struct file_opts),
    .init_ex = file_init,
    .poll = file_poll,
    .ack = file_ack,
    .write = file_write,
    .destroy = file_destroy,
    .flags = BP_PLUGIN_LEDGER,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &file_plugin;
}
