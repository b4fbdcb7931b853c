/* Checkpoints beyond get/set (ABI 1.3): listing, deleting by prefix, setting
 * several keys atomically, and keeping a scope's checkpoints when the site
 * file renames what the scope is named after. */
#ifndef BP_CORE_STATE_CHECKPOINT_H
#define BP_CORE_STATE_CHECKPOINT_H

#include <stddef.h>
#include "state.h"

/* Keys of scope starting with prefix (NULL or "": all), sorted. *keys is ONE
 * malloc'ed block: a NULL-terminated array followed by the strings (free(*keys)
 * frees everything). BP_ERR_IO when the store fails. */
bp_status bp_state_checkpoint_list(bp_state *st, const char *scope, const char *prefix,
                                   char ***keys, size_t *n);
/* Deletes the keys of scope starting with prefix (NULL or "": all) in one
 * transaction; *n_deleted (may be NULL) says how many. */
bp_status bp_state_checkpoint_delete_prefix(bp_state *st, const char *scope, const char *prefix,
                                            size_t *n_deleted);
/* Sets (values[i] NULL: deletes) n keys of scope in one transaction: all or
 * nothing. BP_ERR_INVALID for a NULL key, BP_ERR_IO when nothing was changed. */
bp_status bp_state_checkpoint_set_many(bp_state *st, const char *scope, const char *const *keys,
                                       const char *const *values, size_t n);

/* One checkpoint scope the site about to run uses, with its identity: a hash
 * of what the instance reads or writes (kind, plugin, options without secrets),
 * which does not change when a route or connector is renamed or a transform
 * moves in the chain. */
typedef struct bp_scope_use {
    const char *scope;      /* "route/connector", "route/plugin#3", "lookup/erp" */
    const char *identity;   /* hex digest */
    const char *plugin;
    const char *kind;       /* "source", "transform", "sink", "dead_letter", "lookup" */
    const char *what;       /* for messages: "route 'r': source 'in'" */
} bp_scope_use;

/* Before any instance starts: a scope in use that has no checkpoints takes
 * over those of the one scope no instance uses any more that had the same
 * identity (logged: "checkpoints of 'old/in' now belong to 'new/in' ..."), with
 * its write-back ledger rows, in one transaction. A scope left empty while
 * scopes of the same plugin lie unused is warned about, naming them. Then the
 * identities of all scopes in use are recorded. BP_ERR_IO: *errmsg malloc'ed. */
bp_status bp_state_scopes_settle(bp_state *st, const bp_scope_use *uses, size_t n, char **errmsg);

#endif
