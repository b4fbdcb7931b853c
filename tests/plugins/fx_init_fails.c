/* Fixture: a sink whose init always fails with a message, as a connector
 * with a bad password would. */
#include <backplane/plugin.h>

static const struct bp_option fx_options[] = {
    {.name = "password", .type = BP_OPT_SECRET, .flags = BP_OPT_REQUIRED,
     .description = "never printed"},
    {0},
};

static bp_status fx_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         void **self, char **errmsg)
{
    (void)inst;
    (void)config;
    *self = NULL;
    /* The message must not include the secret: the host masks it anyway. */
    *errmsg = api->format("authentication failed for user 'ap' (password %s)",
                          bp_cfg_str(config, "password"));
    return BP_NOT_CONNECTED;
}

static bp_status fx_write(void *self, bp_write_batch *wb)
{
    (void)self;
    (void)wb;
    return BP_OK;
}

static const struct bp_plugin fx = {
    BP_PLUGIN_HEADER,
    .name = "fx_init_fails",
    .version = "1.0.0",
    .description = "fixture: init fails",
    .kinds = BP_KIND_SINK,
    .options = fx_options,
    .init = fx_init,
    .write = fx_write,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void) { return &fx; }
