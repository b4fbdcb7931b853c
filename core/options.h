/* Validating a plugin's options against its declared schema, before init.
 * Every problem is reported with file:line:col; nothing falls back silently
 * to a default when a value is bad. */
#ifndef BP_CORE_OPTIONS_H
#define BP_CORE_OPTIONS_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include <backplane/plugin.h>
#include "diag.h"
#include "yaml_doc.h"

/* Validates the option maps (later maps override earlier ones, e.g. the
 * connector's map then the route's per-use map; NULL entries are skipped)
 * against schema. Keys listed in skip (NULL-terminated, e.g. "plugin") are
 * not options. `where` names the instance in messages ("plugin 'file'").
 * at_line/at_col: where to report a missing required option.
 * Returns the normalised config (see enum bp_option_type), defaults filled,
 * or NULL when there were errors (all reported to d) or memory ran out.
 * Values of BP_OPT_SECRET options are registered with the log masker. */
cJSON *bp_options_apply(const struct bp_option *schema, const char *where,
                        const bp_ynode *const *maps, size_t n_maps,
                        const char *const *skip, const char *file,
                        int at_line, int at_col, bp_diags *d);

/* "250ms", "5s", "1.5m", "2h", "1d", "0" → milliseconds. -1 when invalid. */
int64_t bp_parse_duration_ms(const char *s);
/* "512", "64KiB", "64K", "10MB", "1GiB" → bytes. -1 when invalid. */
int64_t bp_parse_size(const char *s);

/* Name of an option type as written in docs ("duration"). */
const char *bp_option_type_name(enum bp_option_type type);

/* Prints the option table of a plugin (for `backplane plugins --doc`). */
void bp_options_print_doc(const struct bp_option *schema, FILE *f);

#endif
