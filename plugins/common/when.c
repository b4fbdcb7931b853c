/* See when.h. */
#include <stdlib.h>

#include "when.h"

bp_status when_compile(const struct bp_host_api *api, const cJSON *config, bp_predicate **out,
                       char **errmsg)
{
    *out = NULL;
    const char *when = bp_cfg_str(config, "when");
    if (when == NULL)
        return BP_OK;
    int col = 0;
    char *msg = NULL;
    bp_status st = api->predicate_compile(when, out, &col, &msg);
    if (st != BP_OK)
        *errmsg = api->format("when: column %d: %s", col, msg ? msg : "invalid predicate");
    free(msg);   /* predicate_compile's message comes from the host's malloc */
    return st;
}
