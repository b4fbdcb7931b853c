/* Core-internal envelope helpers (not part of the SDK). */
#ifndef BP_CORE_ENVELOPE_INT_H
#define BP_CORE_ENVELOPE_INT_H

#include <backplane/envelope.h>

/* 1 when data is a cJSON string holding base64 text that came from (and goes
 * back to) CloudEvents "data_base64"; 0 for ordinary data. */
int bp_envelope_data_is_base64(const bp_envelope *env);
/* Marks data as base64 (on=1) or ordinary (on=0). Envelope must be writable. */
void bp_envelope_set_data_base64(bp_envelope *env, int on);

/* 1 when name is one of the CloudEvents 1.0 context attributes. */
int bp_ce_is_context_attr(const char *name);
/* 1 when name is a valid extension attribute name (a-z0-9, 1..20 chars). */
int bp_ce_is_valid_ext_name(const char *name);

/* The context attributes in serialisation order, NULL-terminated. */
extern const char *const bp_ce_context_attrs[];

#endif
