/* Fixture: a plugin built against a future minor SDK (1.BP_ABI_MINOR+1) that
 * needs host entries only that minor has: min_host_minor says so, and a host
 * of this minor must refuse it, naming both versions. */
#include <backplane/plugin.h>

static const struct bp_plugin fx = {
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR + 1,
    .struct_size = sizeof(struct bp_plugin),
    .min_host_minor = BP_ABI_MINOR + 1,
    .name = "fx_new_minor",
    .version = "2.0.0",
    .kinds = BP_KIND_TRANSFORM,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fx; }
