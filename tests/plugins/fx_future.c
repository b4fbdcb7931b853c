/* Fixture: a descriptor from a future minor SDK, larger than this host's
 * struct bp_plugin (two fields this host does not know follow it), that can do
 * with a 1.3 host (min_host_minor 3): the loader takes it, reads nothing past
 * its own struct, and the plugin asks BP_HOST_HAS for anything newer. */
#include <stdint.h>
#include <backplane/plugin.h>

static bp_status fx_transform(void *self, bp_envelope **env, char **reason)
{
    (void)self;
    (void)env;
    (void)reason;
    return BP_OK;
}

static const struct {
    struct bp_plugin d;
    void *future_fields[2];
} fx = {
    .d = {
        .abi_major = BP_ABI_MAJOR,
        .abi_minor = BP_ABI_MINOR + 5,
        .struct_size = sizeof(struct bp_plugin) + 2 * sizeof(void *),
        .min_host_minor = 3,
        .name = "fx_future",
        .version = "3.0.0",
        .kinds = BP_KIND_TRANSFORM,
        .transform = fx_transform,
    },
    .future_fields = {(void *)1, (void *)1},
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &fx.d;
}
