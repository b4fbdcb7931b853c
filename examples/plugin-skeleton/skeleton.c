/* skeleton: a complete backplane TRANSFORM plugin, meant to be copied.
 *
 * It normalises one string field of every record: trims surrounding
 * whitespace and converts it to upper or lower case. The job is small on
 * purpose, so that what is left is the part every plugin has to get right:
 * the descriptor, the option schema, keeping the host-API table, and changing
 * an envelope without touching a copy someone else still reads.
 *
 *   - { skeleton: { field: data.vendor, case: upper, trim: true } }
 *
 * Build it against an installed SDK with the meson.build beside this file;
 * see README.md and docs/writing-a-plugin.md.
 */
#include <stdlib.h>
#include <string.h>

/* The only header a plugin needs. It brings envelope.h, status.h and
 * <cjson/cJSON.h>. We include no core header and link no core library: every
 * host service arrives through the struct bp_host_api handed to init. */
#include <backplane/plugin.h>

#define SKELETON_VERSION "1.0.0"

/* One instance per use in a site file. Everything the plugin needs later lives
 * here, never in a global: the same .so may run in several routes at once,
 * each instance with its own options and its own host handle. */
struct skeleton {
    const struct bp_host_api *api; /* valid until destroy */
    bp_instance *inst;             /* the core's handle: logging and metrics */
    char *field;                   /* our own copy: config is gone after init */
    int upper;                     /* 1 = upper case, 0 = lower case */
    int trim;
};

/* ---- options --------------------------------------------------------- */

static const char *const skeleton_cases[] = {"upper", "lower", NULL};

/* The schema is data, not code: the core checks the site file against it
 * before init runs (unknown keys, wrong types, missing required keys, enum
 * values, all reported as file:line:col), fills in the defaults, and prints it
 * for `backplane plugins --doc skeleton`. So init can trust the types it
 * gets. Defaults are written as they would be in YAML. */
static const struct bp_option skeleton_options[] = {
    {
        .name = "field",
        .type = BP_OPT_STRING,
        .flags = BP_OPT_REQUIRED,
        .description = "envelope path of the string to normalise, e.g. data.vendor",
    },
    {
        .name = "case",
        .type = BP_OPT_ENUM,
        .default_value = "upper",
        .choices = skeleton_cases,
        .description = "convert ASCII letters to upper or lower case",
    },
    {
        .name = "trim",
        .type = BP_OPT_BOOL,
        .default_value = "true",
        .description = "strip leading and trailing whitespace",
    },
    {0},
};

/* ---- the work itself ----------------------------------------------------- */

static int skeleton_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Returns a malloc'ed normalised copy of s, NULL when out of memory.
 *
 * Case conversion touches ASCII letters only, and deliberately not through
 * toupper(): that depends on the process locale, and applied byte by byte it
 * can mangle UTF-8 (in a Latin-1 locale it would "upper-case" the second byte
 * of a multi-byte character). Bytes >= 0x80 are copied unchanged, so valid
 * UTF-8 stays valid: "Jörg" becomes "JöRG". Proper Unicode case mapping needs
 * a library such as ICU; a plugin that wants it links it itself. */
static char *skeleton_normalise(const char *s, int upper, int trim)
{
    size_t len = strlen(s);
    if (trim) {
        while (len > 0 && skeleton_is_space((unsigned char)s[0])) {
            s++;
            len--;
        }
        while (len > 0 && skeleton_is_space((unsigned char)s[len - 1]))
            len--;
    }
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[i] = c;
    }
    out[len] = '\0';
    return out;
}

/* ---- callbacks ----------------------------------------------------------- */

static void skeleton_destroy(void *self_);

static bp_status skeleton_init(const struct bp_host_api *api, bp_instance *inst,
                               const cJSON *config, void **self_out, char **errmsg)
{
    /* config is borrowed and lives only during this call: copy what we keep. */
    const char *field = bp_cfg_str(config, "field");
    const char *mode = bp_cfg_str(config, "case");

    /* The core has already enforced "required", so field is present; it can
     * still be "". ABI 1.0 has no path-check entry in the host table, so a
     * path with a syntax error is not caught here: it simply never matches,
     * and every record passes through unchanged. Test your site file. */
    if (field == NULL || field[0] == '\0') {
        /* Messages handed to the host are allocated by the host (it frees
         * them): api->format or api->alloc, never malloc. */
        *errmsg = api->format("option 'field' must be a non-empty envelope path");
        return BP_ERR_INVALID;
    }

    struct skeleton *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        *errmsg = api->format("out of memory");
        return BP_ERR_NOMEM;
    }
    self->api = api;
    self->inst = inst;
    /* malloc + memcpy rather than strdup, which strict -std=c11 does not declare. */
    size_t len = strlen(field);
    self->field = malloc(len + 1);
    if (self->field == NULL) {
        /* After a failed init the host calls nothing else on this instance,
         * destroy included: free what we allocated ourselves. */
        skeleton_destroy(self);
        *errmsg = api->format("out of memory");
        return BP_ERR_NOMEM;
    }
    memcpy(self->field, field, len + 1);
    /* Defaults are filled in by the core, so mode is never NULL here; the
     * fallback only makes the code safe to read. */
    self->upper = mode == NULL || strcmp(mode, "lower") != 0;
    self->trim = bp_cfg_bool(config, "trim", 1);

    api->log(inst, BP_LOG_DEBUG, "normalising %s to %s case%s", self->field,
             self->upper ? "upper" : "lower", self->trim ? ", trimmed" : "");
    *self_out = self;
    return BP_OK;
}

/* Called for every record, from one thread at a time per instance. *env is the
 * caller's reference. Reading is free; changing requires a writable envelope,
 * because the same envelope may at this moment be queued for another route. */
static bp_status skeleton_transform(void *self_, bp_envelope **env, char **reason)
{
    struct skeleton *self = self_;
    const struct bp_host_api *api = self->api;

    /* A borrowed node (get0): valid only until the envelope changes. */
    const cJSON *value = api->envelope_get0_path(*env, self->field);
    if (!cJSON_IsString(value))
        return BP_OK; /* absent, or not a string: nothing to normalise */

    char *norm = skeleton_normalise(value->valuestring, self->upper, self->trim);
    if (norm == NULL)
        return BP_RETRY; /* out of memory is transient: let the core retry */
    if (strcmp(norm, value->valuestring) == 0) {
        /* Already normal. Returning BP_OK without making the envelope writable
         * saves a deep copy per record whenever the envelope is shared. */
        free(norm);
        return BP_OK;
    }

    /* Copy-on-write: gives back *env itself when we hold the only reference,
     * otherwise a private copy (and drops our reference to the shared one).
     * `value` points into the old envelope: do not use it past this line. */
    bp_envelope *writable = api->envelope_make_writable(*env);
    if (writable == NULL) {
        free(norm); /* *env is untouched and still ours */
        return BP_RETRY;
    }
    *env = writable;

    /* set0 takes the node, on failure too: never free it after the call. The
     * plugin and the host share one libcjson, so a node made here may be
     * freed by the host. */
    bp_status st = api->envelope_set0_path(*env, self->field, cJSON_CreateString(norm));
    free(norm);
    if (st == BP_ERR_NOMEM)
        return BP_RETRY;
    if (st != BP_OK) {
        /* E.g. trimming left a required attribute ("type") empty. Permanent
         * for this record: the core dead-letters it with our reason. */
        /* status_str is an ABI 1.3 entry and this plugin runs on older hosts
         * too (min_host_minor 0 below): ask the table before calling it. */
        *reason = api->format("cannot set '%s' to its normalised value: %s", self->field,
                              BP_HOST_HAS(api, status_str) ? api->status_str(st) : "refused");
        return BP_REJECT;
    }

    /* The audit trail: which plugin changed what. confidence < 0 means "not
     * a model's guess"; at_ms 0 lets the host stamp the time. Strings are
     * copied, so pointing at our own field is fine. */
    const bp_lineage step = {
        .plugin = "skeleton",
        .version = SKELETON_VERSION,
        .model = NULL,
        .confidence = -1.0,
        .changed = self->field,
        .at_ms = 0,
    };
    if (api->envelope_add_lineage(*env, &step) != BP_OK)
        return BP_RETRY;

    /* Entries newer than the plugin's min_host_minor must be tested with
     * BP_HOST_HAS before use; counter_add is in 1.0, so this test never fails.
     * It shows the pattern for an optional service: do without it. */
    if (BP_HOST_HAS(api, counter_add))
        api->counter_add(self->inst, "normalised", 1);
    return BP_MODIFIED;
}

static void skeleton_destroy(void *self_)
{
    struct skeleton *self = self_;
    if (self == NULL)
        return;
    free(self->field);
    free(self);
}

/* ---- the descriptor ------------------------------------------------------ */

/* Designated initialisers: fields not named are NULL/0, so a callback this
 * kind does not need (poll, ack, write, lookup, start, stop) is simply left
 * out. BP_PLUGIN_HEADER records the ABI and struct size this file was built
 * with; the loader refuses a different ABI major with one clear line.
 * min_host_minor (ABI 1.3) is the oldest host minor the plugin runs on: 0,
 * because it calls nothing newer than 1.0 without BP_HOST_HAS. A plugin that
 * calls 1.3 entries unconditionally says 3, and an older host refuses it by
 * name instead of letting it call a NULL entry. */
static const struct bp_plugin skeleton_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 0,
    .name = "skeleton", /* must match the file name: skeleton.so */
    .version = SKELETON_VERSION,
    .description = "normalise one string field: trim and upper/lower-case it",
    .kinds = BP_KIND_TRANSFORM,
    .options = skeleton_options,
    .init = skeleton_init,
    .transform = skeleton_transform,
    .destroy = skeleton_destroy,
};

/* The one exported symbol. Everything else in this file is static, and the
 * meson.build compiles with hidden visibility, so nothing else leaks out to
 * clash with another plugin's symbols. */
BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &skeleton_plugin;
}
