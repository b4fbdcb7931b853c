/* Reading reviewers' corrections (see state_corrections.c). */
#ifndef BP_CORE_STATE_CORRECTIONS_H
#define BP_CORE_STATE_CORRECTIONS_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "state.h"

/* Corrections of route, newest first, at most max (0: all); with key_path, only
 * those whose record (as parked) had key_value there (strings as is, other
 * values as compact JSON). *out: a new array of {"path", "old", "new", "at_ms",
 * "id", "source", "record"} (cJSON_Delete). BP_ERR_IO, BP_ERR_NOMEM. */
bp_status bp_state_corrections_find(bp_state *st, const char *route, const char *key_path,
                                    const char *key_value, size_t max, cJSON **out);

#endif
