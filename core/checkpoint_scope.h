/* Checkpoint scopes that survive renames (ABI 1.3). A scope is still named
 * after its place in the site ("route/connector", "route/plugin#N",
 * "route/dead_letter:C", "lookup/C", as core/runtime.c names them); what makes
 * it stable is its identity, recorded with it: a hash of the instance's kind,
 * plugin and options (secrets left out). A run whose scope has no checkpoints
 * takes over those of the one unused scope with the same identity. */
#ifndef BP_CORE_CHECKPOINT_SCOPE_H
#define BP_CORE_CHECKPOINT_SCOPE_H

#include "diag.h"
#include "site.h"
#include "state.h"

/* Settles the scopes of every instance site will create (bp_state_scopes_settle),
 * before any of them starts. Errors (BP_ERR_IO, BP_ERR_NOMEM) go to d. */
bp_status bp_checkpoint_scopes_settle(bp_state *st, const bp_site *site, bp_diags *d);

/* `checkpoint reset` (§9): forgets the source positions of route, whose
 * source connector is from — scope "ROUTE/FROM" only, never a sink's
 * write-back ledger or another instance's scope — in one transaction, and
 * appends the audit entry "checkpoint:reset" ({scope, keys_deleted}) by actor
 * ("os:NAME"). The caller holds the owner lock or is the owner with the
 * route stopped. *scope (malloc'ed) and *n_deleted say what went. BP_OK;
 * BP_ERR_IO when the store failed (nothing deleted); BP_ERR_NOMEM. */
bp_status bp_checkpoint_reset_source(bp_state *st, const char *route, const char *from,
                                     const char *actor, char **scope, size_t *n_deleted);

#endif
