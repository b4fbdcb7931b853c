/* Fixture: a sink with scripted failures, to test the core's delivery
 * policy (retry, dead-letter, queued completions) through a real .so.
 *   data.<reject_field> == true (default "reject") → BP_REJECT with a reason
 *   data.queued == true  → BP_QUEUED, completed by write_done before returning
 *   the first `fail_first` write calls → BP_RETRY for the whole batch
 *   every write call sleeps `delay` (a slow peer, for backpressure tests)
 * Accepted records' data are appended as JSON lines to `path`; with
 * `receipt: true` each gets the receipt "line N" (wb_set_receipt, ABI 1.3:
 * N counts the lines this instance wrote). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <backplane/plugin.h>

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *path;
    char *reject_field;
    long long fail_first;
    long long delay_ms;
    long long calls;
    int receipt;
    long long lines;
} fx_self;

static const struct bp_option fx_options[] = {
    {.name = "path", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, .description = "output"},
    {.name = "fail_first", .type = BP_OPT_INT, .default_value = "0", .min = "0", .max = "1000",
     .description = "write calls that fail with retry"},
    {.name = "reject_field", .type = BP_OPT_STRING, .default_value = "reject",
     .description = "records whose data has this field true are rejected"},
    {.name = "delay", .type = BP_OPT_DURATION, .default_value = "0",
     .description = "sleep per write call"},
    {.name = "receipt", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "give each accepted record the receipt \"line N\""},
    {0},
};

static bp_status fx_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         void **out, char **errmsg)
{
    fx_self *self = calloc(1, sizeof(*self));
    (void)errmsg;
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->path = strdup(bp_cfg_str(config, "path"));
    self->reject_field = strdup(bp_cfg_str(config, "reject_field"));
    self->fail_first = bp_cfg_int(config, "fail_first", 0);
    self->delay_ms = bp_cfg_int(config, "delay", 0);
    self->receipt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "receipt"));
    *out = self;
    return BP_OK;
}

static bp_status fx_write(void *p, bp_write_batch *wb)
{
    fx_self *self = p;
    const struct bp_host_api *api = self->api;
    if (self->delay_ms > 0) {
        struct timespec ts = {self->delay_ms / 1000, (self->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (self->calls++ < self->fail_first)
        return BP_RETRY;
    FILE *f = fopen(self->path, "a");
    if (f == NULL)
        return BP_RETRY;
    for (size_t i = 0; i < api->wb_count(wb); i++) {
        const cJSON *data = api->envelope_get0_data(api->wb_get0(wb, i));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, self->reject_field))) {
            api->wb_set_result(wb, i, BP_REJECT, "the ERP refused it");
            continue;
        }
        char *text = cJSON_PrintUnformatted(data);
        fprintf(f, "%s\n", text ? text : "null");
        free(text);
        self->lines++;
        if (self->receipt && BP_HOST_HAS(api, wb_set_receipt)) {
            char r[32];
            snprintf(r, sizeof(r), "line %lld", self->lines);
            api->wb_set_receipt(wb, i, r);
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "queued"))) {
            api->wb_set_result(wb, i, BP_QUEUED, NULL);
            api->write_done(self->inst, api->wb_ticket(wb, i), BP_OK, NULL);
        }
    }
    fclose(f);
    return BP_OK;
}

static void fx_destroy(void *p)
{
    fx_self *self = p;
    free(self->path);
    free(self->reject_field);
    free(self);
}

/* A plugin command: prints its arguments and fails on "fail" (CLI dispatch test). */
static int fx_cmd_echo(const struct bp_host_api *api, int argc, char **argv)
{
    (void)api;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "fail") == 0) {
            fprintf(stderr, "fx_sink echo: asked to fail\n");
            return 1;
        }
        printf("%s%s", i ? " " : "", argv[i]);
    }
    printf("\n");
    return 0;
}

static const struct bp_command fx_commands[] = {
    {.name = "echo", .summary = "print the arguments", .run = fx_cmd_echo},
    {0},
};

static const struct bp_plugin fx = {
    BP_PLUGIN_HEADER,
    .name = "fx_sink",
    .version = "1.0.0",
    .description = "fixture: scripted sink",
    .kinds = BP_KIND_SINK,
    .options = fx_options,
    .init = fx_init,
    .write = fx_write,
    .destroy = fx_destroy,
    .commands = fx_commands,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fx; }
