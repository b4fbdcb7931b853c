/* The `when:` option of a transform (a BP_OPT_PREDICATE that limits which
 * records it touches), shared by the plugins compiled with plugins/common. */
#ifndef BP_PLUGINS_WHEN_H
#define BP_PLUGINS_WHEN_H

#include <backplane/plugin.h>

/* Compiles the option `when` of config into *out (NULL when absent; free
 * with api->predicate_free). On failure sets *errmsg (host-allocated) and
 * returns the error. */
bp_status when_compile(const struct bp_host_api *api, const cJSON *config, bp_predicate **out,
                       char **errmsg);

#endif
