/* `check` on text templates (options flagged BP_OPT_TEMPLATE): errors for
 * what `run` would refuse, warnings for paths proven to name nothing.
 *
 * What "proven" means: a {PATH} is checked against what the route's records
 * can carry where the template is used, namely the envelope attributes (id,
 * source, type, subject, time, ...), `data` itself, and the top-level paths the
 * stages before it declare (bp_plugin.emits: the source's fields, each
 * transform's additions, plus every path a transform's options name). When
 * the source or any transform before the template declares nothing, its
 * records are not known and only the syntax is checked. Only the first name
 * under data is checked ({data.from.address}: data.from). */
#ifndef BP_CORE_SITE_TEMPLATES_H
#define BP_CORE_SITE_TEMPLATES_H

#include "diag.h"
#include "site.h"

/* Walks every route of site (after bp_site_check: plugins resolved, options
 * normalised; uses whose plugin did not load are skipped). Syntax errors go
 * to errs, "warning: ..." lines to warns, each with file:line:col of the
 * placeholder. Single-threaded; site borrowed. */
void bp_site_check_templates(const bp_site *site, bp_diags *errs, bp_diags *warns);

#endif
