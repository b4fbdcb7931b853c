/* Attributes that steer the bus (DESIGN.md §9 Security): confidence, flags,
 * priority and the lineage (which holds review decisions) are trusted only
 * when this site's transforms and reviewers set them. A source's records
 * lose them on entry, each drop noted in the lineage, unless the source's
 * connector lists them in `trust_attributes: [...]` (one backplane site
 * passing them on to another). */
#ifndef BP_CORE_TRUST_H
#define BP_CORE_TRUST_H

#include <backplane/envelope.h>
#include "diag.h"
#include "yaml_doc.h"

enum {
    BP_TRUST_CONFIDENCE = 1u << 0,
    BP_TRUST_FLAGS = 1u << 1,
    BP_TRUST_PRIORITY = 1u << 2,
    BP_TRUST_LINEAGE = 1u << 3,
};

/* The mask of connector map conn's `trust_attributes` (0 when absent);
 * errors (not a list, an unknown name) go to d with their position. */
unsigned bp_trust_parse(const bp_ynode *conn, const char *file, bp_diags *d);

/* Records what connector trusts (process-wide, replacing an earlier value),
 * for bp_trust_filter. Thread-safe. */
void bp_trust_set(const char *connector, unsigned mask);

/* Drops from env (writable) every steering attribute the source connector
 * does not trust, and notes each drop as a lineage entry of the core
 * ("untrusted attribute confidence=0.99 dropped"). BP_OK or BP_ERR_NOMEM.
 * Called from a source's thread for each record it pushes. */
bp_status bp_trust_filter(const char *connector, bp_envelope *env);

#endif
