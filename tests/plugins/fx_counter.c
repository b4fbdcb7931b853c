/* Fixture: a source that sets NO id, as many third-party sources do. It
 * emits records {"n": i, "word": ...} for i in [next, count), token i, and
 * checkpoints the next unacked number in ack, after a delay (a slow offset
 * commit: widens the window in which a kill -9 finds the sink's ledger ahead
 * of the source's position). Options: count, ack_delay, stable_tokens (the
 * descriptor flag is static, so this fixture is built twice: fx_counter
 * without BP_PLUGIN_STABLE_TOKENS, fx_counter_tok with it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <backplane/plugin.h>

#ifndef FX_NAME
#define FX_NAME "fx_counter"
#define FX_FLAGS 0u
#endif

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    long long count, next, ack_delay_ms;
} fx_self;

static const struct bp_option fx_options[] = {
    {.name = "count", .type = BP_OPT_INT, .default_value = "1000", .min = "0",
     .description = "records to emit"},
    {.name = "ack_delay", .type = BP_OPT_DURATION, .default_value = "0",
     .description = "sleep in ack before the checkpoint is written"},
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
    self->count = bp_cfg_int(config, "count", 1000);
    self->ack_delay_ms = bp_cfg_int(config, "ack_delay", 0);
    char *v = NULL;
    if (api->checkpoint_get(inst, "next", &v) == BP_OK) {
        self->next = strtoll(v, NULL, 10);
        api->free(v);
    }
    *out = self;
    return BP_OK;
}

static bp_status fx_poll(void *p, bp_poll_batch *b, int timeout_ms)
{
    fx_self *self = p;
    const struct bp_host_api *api = self->api;
    (void)timeout_ms;
    if (self->next >= self->count)
        return BP_EOF;
    size_t room = api->batch_room(b);
    for (size_t i = 0; i < room && self->next < self->count; i++) {
        bp_envelope *env = api->envelope_new();
        if (env == NULL)
            return BP_ERR_NOMEM;
        char text[96];
        int len = snprintf(text, sizeof text, "{\"n\":%lld,\"word\":\"w%lld\"}", self->next,
                           self->next % 7);
        if (api->envelope_set_attr(env, "type", "com.example.count") != BP_OK ||
            api->envelope_set_data_json(env, text, (size_t)len, "fx_counter") != BP_OK) {
            api->envelope_unref(env);
            return BP_ERR_NOMEM;
        }
        if (api->batch_push(b, env, (uint64_t)self->next) != BP_OK)
            return BP_ERR_INTERNAL;
        self->next++;
    }
    return BP_OK;
}

static bp_status fx_ack(void *p, const uint64_t *tokens, size_t n)
{
    fx_self *self = p;
    if (n == 0)
        return BP_OK;
    if (self->ack_delay_ms > 0) {
        struct timespec ts = {self->ack_delay_ms / 1000, (self->ack_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)tokens[n - 1] + 1);
    return self->api->checkpoint_set(self->inst, "next", v);
}

static void fx_destroy(void *p) { free(p); }

static const struct bp_plugin fx = {
    BP_PLUGIN_HEADER,
    .name = FX_NAME,
    .version = "1.0.0",
    .description = "fixture: a source without ids",
    .kinds = BP_KIND_SOURCE,
    .options = fx_options,
    .init = fx_init,
    .poll = fx_poll,
    .ack = fx_ack,
    .destroy = fx_destroy,
    .flags = FX_FLAGS,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fx; }
