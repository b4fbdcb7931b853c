/* Fixture: a plugin built for a future ABI major. The loader must refuse it. */
#include <backplane/plugin.h>

static const struct bp_plugin fx = {
    .abi_major = BP_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(struct bp_plugin),
    .name = "fx_wrong_abi",
    .version = "9.9.9",
    .kinds = BP_KIND_TRANSFORM,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fx; }
