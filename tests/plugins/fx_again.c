/* Fixture: a source with nothing to read that does not wait: every poll
 * returns BP_AGAIN at once. It counts its polls and, at destroy, writes
 * "polls N over M ms" to `out` (M: from the first poll to destroy), so a test
 * can bound the rate at which the core polls it. With `overfill: true` its
 * first poll pushes one record more than batch_room() and writes the status
 * of that last push as "overfill STATUS" (a number, bp_status). With
 * `fail: true` every poll fails with BP_RETRY (a source whose peer errs); with
 * `unreachable: true` every poll fails with BP_NOT_CONNECTED (a server down,
 * a login refused).
 * With `records: N` it is a finite source instead: N records {"n": i,
 * "reject": i odd}, then BP_EOF; each record's fate (ack_fates) is appended
 * to OUT.acks as "TOKEN FATE". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <backplane/plugin.h>

typedef struct {
    const struct bp_host_api *api;
    char *out;
    int overfill;
    int fail;
    int unreachable;
    long long records;
    char *acks;
    long long polls;
    long long first_ms;
    int overfill_status;
} fxa_self;

static const struct bp_option fxa_options[] = {
    {.name = "out", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "file that gets the poll count at the end"},
    {.name = "overfill", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "first poll: push one record more than batch_room()"},
    {.name = "fail", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "every poll fails with BP_RETRY"},
    {.name = "unreachable", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "every poll fails with BP_NOT_CONNECTED"},
    {.name = "records", .type = BP_OPT_INT, .default_value = "0", .min = "0", .max = "1000",
     .description = "a finite source of this many records (fates to OUT.acks)"},
    {0},
};

static bp_status fxa_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                          void **out, char **errmsg)
{
    (void)inst;
    (void)errmsg;
    fxa_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->out = strdup(bp_cfg_str(config, "out"));
    self->overfill = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "overfill"));
    self->fail = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "fail"));
    self->unreachable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "unreachable"));
    self->records = bp_cfg_int(config, "records", 0);
    self->acks = api->format("%s.acks", self->out);
    *out = self;
    return BP_OK;
}

static bp_status fxa_poll(void *p, bp_poll_batch *batch, int timeout_ms)
{
    fxa_self *self = p;
    const struct bp_host_api *api = self->api;
    (void)timeout_ms;
    if (self->polls++ == 0)
        self->first_ms = api->monotonic_ms();
    if (self->fail)
        return BP_RETRY;
    if (self->unreachable)
        return BP_NOT_CONNECTED;
    if (self->records > 0) {
        if (self->polls > 1)
            return BP_EOF;
        for (long long i = 0; i < self->records && api->batch_room(batch) > 0; i++) {
            bp_envelope *env = api->envelope_new();
            api->envelope_set_attr(env, "type", "com.example.fixture");
            char data[64];
            snprintf(data, sizeof(data), "{\"n\":%lld,\"reject\":%s}", i,
                     i % 2 ? "true" : "false");
            api->envelope_set_data_json(env, data, strlen(data), NULL);
            api->batch_push(batch, env, (uint64_t)i);
        }
        return BP_OK;
    }
    if (self->overfill && self->polls == 1) {
        size_t room = api->batch_room(batch);
        for (size_t i = 0; i <= room; i++) {
            bp_envelope *env = api->envelope_new();
            api->envelope_set_attr(env, "type", "com.example.fixture");
            char data[32];
            snprintf(data, sizeof(data), "{\"n\":%zu}", i);
            api->envelope_set_data_json(env, data, strlen(data), NULL);
            self->overfill_status = api->batch_push(batch, env, i);
        }
        return BP_OK;
    }
    return BP_AGAIN;
}

static bp_status fxa_ack_fates(void *p, const uint64_t *tokens, const unsigned char *fates,
                               size_t n)
{
    fxa_self *self = p;
    FILE *f = fopen(self->acks, "a");
    for (size_t i = 0; f && i < n; i++)
        fprintf(f, "%llu %u\n", (unsigned long long)tokens[i], fates[i]);
    if (f)
        fclose(f);
    return BP_OK;
}

static void fxa_destroy(void *p)
{
    fxa_self *self = p;
    self->api->free(self->acks);
    FILE *f = fopen(self->out, "w");
    if (f) {
        fprintf(f, "polls %lld over %lld ms\n", self->polls,
                self->polls ? (long long)self->api->monotonic_ms() - self->first_ms : 0LL);
        if (self->overfill)
            fprintf(f, "overfill %d\n", self->overfill_status);
        fclose(f);
    }
    free(self->out);
    free(self);
}

static const struct bp_plugin fxa = {
    BP_PLUGIN_HEADER,
    .name = "fx_again",
    .version = "1.0.0",
    .description = "fixture: a source whose polls return BP_AGAIN at once",
    .kinds = BP_KIND_SOURCE,
    .options = fxa_options,
    .init = fxa_init,
    .poll = fxa_poll,
    .ack_fates = fxa_ack_fates,
    .destroy = fxa_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fxa; }
