/* Fixture: a lookup provider that takes `delay` per query and logs when each
 * query started and ended (CLOCK_MONOTONIC ns) and on which instance, one
 * line per query appended to `log`: "START END INSTANCE". Tests read the
 * overlap of the intervals, not durations: two workers' lookups overlap when
 * one starts before the other ends. Built twice: fx_slow_lookup (the core
 * serialises each instance) and fx_slow_lookup_mt (FX_CONCURRENT: declares
 * BP_PLUGIN_LOOKUP_CONCURRENT, ABI 1.3). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <backplane/plugin.h>

#ifdef FX_CONCURRENT
#define FXS_NAME "fx_slow_lookup_mt"
#define FXS_FLAGS BP_PLUGIN_LOOKUP_CONCURRENT
#else
#define FXS_NAME "fx_slow_lookup"
#define FXS_FLAGS 0u
#endif

typedef struct {
    char *log;
    long long delay_ms;
} fxs_self;

static const struct bp_option fxs_options[] = {
    {.name = "log", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "file that gets one line per query: START END INSTANCE"},
    {.name = "delay", .type = BP_OPT_DURATION, .default_value = "200ms",
     .description = "how long each query takes"},
    {0},
};

static bp_status fxs_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                          void **out, char **errmsg)
{
    (void)api;
    (void)inst;
    (void)errmsg;
    fxs_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->log = strdup(bp_cfg_str(config, "log"));
    self->delay_ms = bp_cfg_int(config, "delay", 200);
    *out = self;
    return BP_OK;
}

static long long fxs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bp_status fxs_lookup(void *p, const char *query, const cJSON *params, cJSON **result,
                            char **errmsg)
{
    fxs_self *self = p;
    (void)query;
    (void)params;
    (void)errmsg;
    long long start = fxs_now_ns();
    struct timespec ts = {self->delay_ms / 1000, (self->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    long long end = fxs_now_ns();
    char line[128];
    int n = snprintf(line, sizeof(line), "%lld %lld %p\n", start, end, p);
    int fd = open(self->log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n) {
            /* the test then sees a missing line */
        }
        close(fd);
    }
    *result = cJSON_CreateObject();
    cJSON_AddBoolToObject(*result, "found", 1);
    return BP_OK;
}

static void fxs_destroy(void *p)
{
    fxs_self *self = p;
    free(self->log);
    free(self);
}

static const struct bp_plugin fxs = {
    BP_PLUGIN_HEADER,
    .name = FXS_NAME,
    .version = "1.0.0",
    .description = "fixture: a slow lookup that logs when each query ran",
    .kinds = BP_KIND_LOOKUP,
    .options = fxs_options,
    .init = fxs_init,
    .lookup = fxs_lookup,
    .destroy = fxs_destroy,
    .flags = FXS_FLAGS,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fxs; }
