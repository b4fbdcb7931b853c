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

/* What bp_options_apply_ex checks (ABI 1.3 schema: roles, renamed options,
 * map schemas, paths). */
typedef struct bp_options_req {
    const struct bp_option *schema;
    const char *where;              /* "connector 'erp' (plugin 'odbc')" */
    const bp_ynode *const *maps;    /* later maps override earlier ones; NULL entries skipped */
    size_t n_maps;
    size_t use_from;                /* maps[use_from..] are a route's per-use maps, where an
                                     * option for another role is an error (0: none are) */
    const char *const *skip;        /* top-level keys that are not options ("plugin") */
    const char *file;
    int at_line, at_col;            /* where a missing option is reported */
    uint32_t role;                  /* enum bp_plugin_kind bit of the instance, 0: unknown */
    const char *base_dir;           /* BP_OPT_PATH: relative paths are resolved against it */
} bp_options_req;

/* Like bp_options_apply, but always returns the config it could build (NULL
 * only when memory ran out): options that failed are absent from it, so that
 * a plugin's check can still run on the rest. *failed (if not NULL) is 1 when
 * errors were added to d. The caller owns the result (cJSON_Delete). */
cJSON *bp_options_apply_ex(const bp_options_req *rq, bp_diags *d, int *failed);

/* A zeroed block of size bytes with every bound option of schema
 * (BP_OPT_FIELD) stored from config (see plugin.h for the C types). Strings
 * and cJSON pointers borrow from config. NULL when size is 0 or out of
 * memory; free with free(). */
void *bp_options_bind(const struct bp_option *schema, const cJSON *config, size_t size);

/* A copy of a plugin's option array read with the plugin's entry size
 * (its descriptor's option_size; 0 or less than BP_OPTION_SIZE_1_2 for
 * plugins built before ABI 1.3), as an array of this host's struct
 * bp_option with the fields the plugin did not know zeroed; nested `fields`
 * arrays are copied the same way when the sizes differ. Free with
 * bp_options_normalized_free(copy, stride). NULL for NULL or out of memory. */
struct bp_option *bp_options_normalize(const struct bp_option *schema, size_t stride);
void bp_options_normalized_free(struct bp_option *schema, size_t stride);

/* "a source", "a sink", "a lookup", "a transform" ("any role" for 0). */
const char *bp_role_name(uint32_t role);

/* "250ms", "5s", "1.5m", "2h", "1d", "0" → milliseconds. -1 when invalid. */
int64_t bp_parse_duration_ms(const char *s);
/* "512", "64KiB", "64K", "10MB", "1GiB" → bytes. -1 when invalid. */
int64_t bp_parse_size(const char *s);

/* Name of an option type as written in docs ("duration"). */
const char *bp_option_type_name(enum bp_option_type type);

/* One row of an option table as `plugins --doc` shows it (and
 * backplane-site(5)): name with its map prefix ("tls.ca_file"), type name,
 * default ("required", "-" for none, "****" for a secret's), description and
 * notes ("[one of: a b] [range: 1..10] [for: sink]", "" for none). Every
 * string is borrowed for the call. */
typedef struct bp_option_row {
    const char *name, *type, *dflt, *description, *notes;
} bp_option_row;
typedef void (*bp_option_row_fn)(const bp_option_row *row, void *ud);
/* Calls fn for every option of schema, maps' keys after their map; renamed
 * entries are left out (they are no options). */
void bp_options_rows(const struct bp_option *schema, bp_option_row_fn fn, void *ud);

/* Prints the option table of a plugin (for `backplane plugins --doc`). */
void bp_options_print_doc(const struct bp_option *schema, FILE *f);

#endif
