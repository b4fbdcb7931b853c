/* Flags that transforms raise on a record, shared by dedupe, match and policy
 * (compiled into each). One convention for every plugin:
 *   - the CloudEvents extension "flags": the flag names, comma-separated, each
 *     once ("possible_duplicate,po_mismatch"): what `flags has 'x'` in a
 *     review gate or a policy rule tests, and what CloudEvents consumers see;
 *   - data.flags: an array of { "flag", "reason", "by" } objects, one per
 *     finding, so the reasons travel with the data into sinks and the
 *     review queue. */
#ifndef BP_PLUGINS_FLAGS_H
#define BP_PLUGINS_FLAGS_H

#include <backplane/plugin.h>

/* Records flag (with reason, may be NULL, and by, the plugin or rule that
 * raised it) on env, which the caller has made writable. Errors:
 * BP_ERR_NOMEM, BP_ERR_INVALID (data is not an object, or data.flags is not
 * an array). */
bp_status flags_add(const struct bp_host_api *api, bp_envelope *env, const char *flag,
                    const char *reason, const char *by);

#endif
