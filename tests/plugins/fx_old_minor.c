/* Fixture: a descriptor from an older minor SDK whose struct ended after
 * `transform`. Poison pointers follow it in memory: a loader that reads past
 * struct_size would pick them up as lookup/stop/destroy and crash. */
#include <stdint.h>
#include <backplane/plugin.h>

struct fx_old_plugin {
    uint32_t abi_major, abi_minor, struct_size;
    const char *name, *version, *description;
    uint32_t kinds;
    const struct bp_option *options;
    bp_status (*init)(const struct bp_host_api *, bp_instance *, const cJSON *, void **, char **);
    bp_status (*start)(void *, char **);
    bp_status (*poll)(void *, bp_poll_batch *, int);
    bp_status (*ack)(void *, const uint64_t *, size_t);
    bp_status (*write)(void *, bp_write_batch *);
    bp_status (*transform)(void *, bp_envelope **, char **);
};

/* struct bp_option as ABI 1.0-1.2 laid it out (no roles, binding, fields,
 * renamed): a host that read this array with its own, larger entry size
 * would take the second entry from the middle of the first. */
struct fx_old_option {
    const char *name;
    enum bp_option_type type;
    unsigned flags;
    const char *default_value, *min, *max;
    const char *const *choices;
    const char *description;
};

static const struct fx_old_option fx_old_options[] = {
    {"mark", BP_OPT_STRING, 0, "yes", NULL, NULL, NULL, "value of the oldminor attribute"},
    {"level", BP_OPT_INT, 0, "3", "1", "9", NULL, "a number"},
    {0},
};

typedef struct {
    const struct bp_host_api *api;
} fx_self;

static fx_self fx_the_self;

static bp_status fx_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         void **self, char **errmsg)
{
    (void)inst;
    (void)config;
    (void)errmsg;
    /* No destroy callback in this old descriptor: nothing to allocate. */
    fx_the_self.api = api;
    *self = &fx_the_self;
    return BP_OK;
}

static bp_status fx_transform(void *p, bp_envelope **env, char **reason)
{
    fx_self *self = p;
    (void)reason;
    *env = self->api->envelope_make_writable(*env);
    if (*env == NULL)
        return BP_RETRY;
    self->api->envelope_set_attr(*env, "oldminor", "yes");
    return BP_MODIFIED;
}

static const struct {
    struct fx_old_plugin d;
    void *poison[4];
} fx = {
    .d = {
        .abi_major = BP_ABI_MAJOR,
        .abi_minor = 0,
        .struct_size = sizeof(struct fx_old_plugin),
        .name = "fx_old_minor",
        .version = "0.9.0",
        .description = "fixture: descriptor of an older minor",
        .kinds = BP_KIND_TRANSFORM,
        .options = (const struct bp_option *)(const void *)fx_old_options,
        .init = fx_init,
        .transform = fx_transform,
    },
    .poison = {(void *)1, (void *)1, (void *)1, (void *)1},
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return (const struct bp_plugin *)(const void *)&fx;
}
