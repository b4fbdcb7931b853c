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

#endif
