/* set: the smallest useful transform, and the model a plugin author copies.
 *
 *   - set: { rename: { data.amt: data.total }, copy: { subject: data.invoice_no },
 *            set: { data.status: received, priority: 2 }, remove: [data.tmp],
 *            when: "data.total > 0" }
 *
 * Steps run in a fixed order — rename, copy, set, remove — so a site file
 * reads the same whatever order its keys are written in. A missing source
 * path (rename/copy) or a missing field (remove) is skipped, not an error: the
 * same route serves records that differ in shape. */
#include <stdlib.h>
#include <string.h>

#include <backplane/plugin.h>

#define SET_VERSION "1.0.0"

/* One step: a destination path and its source (a path or a literal). */
typedef struct {
    char *dst;
    char *src;          /* rename/copy: source path */
    cJSON *literal;     /* set: the value (YAML types kept) */
} set_step;

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    set_step *renames, *copies, *sets;
    size_t n_renames, n_copies, n_sets;
    char **removes;
    size_t n_removes;
    bp_predicate *when;
} set_self;

static const struct bp_option set_options[] = {
    {.name = "rename", .type = BP_OPT_MAP,
     .description = "{ old.path: new.path }: move a field (skipped when absent)"},
    {.name = "copy", .type = BP_OPT_MAP,
     .description = "{ dest.path: source.path }: copy a field's value (skipped when absent)"},
    {.name = "set", .type = BP_OPT_MAP,
     .description = "{ path: literal }: set a field to a literal (YAML types kept)"},
    {.name = "remove", .type = BP_OPT_LIST,
     .description = "[ path, ... ]: remove fields"},
    {.name = "when", .type = BP_OPT_PREDICATE,
     .description = "only change records for which this predicate holds"},
    {0},
};

static void set_free_steps(set_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(steps[i].dst);
        free(steps[i].src);
        cJSON_Delete(steps[i].literal);
    }
    free(steps);
}

static void set_destroy(void *p)
{
    set_self *self = p;
    if (self == NULL)
        return;
    set_free_steps(self->renames, self->n_renames);
    set_free_steps(self->copies, self->n_copies);
    set_free_steps(self->sets, self->n_sets);
    for (size_t i = 0; i < self->n_removes; i++)
        free(self->removes[i]);
    free(self->removes);
    if (self->when)
        self->api->predicate_free(self->when);
    free(self);
}

/* Reads a map option into steps; paths are checked now so a typo fails at
 * start-up rather than on the first record. */
static bp_status set_load_map(set_self *self, const cJSON *map, const char *opt, int literal,
                              set_step **out, size_t *n, char **errmsg)
{
    const struct bp_host_api *api = self->api;
    int count = cJSON_GetArraySize(map);
    *out = calloc(count ? (size_t)count : 1, sizeof(set_step));
    if (*out == NULL)
        return BP_ERR_NOMEM;
    for (const cJSON *it = map ? map->child : NULL; it; it = it->next) {
        set_step *st = &(*out)[(*n)++];
        st->dst = strdup(literal || strcmp(opt, "copy") == 0 ? it->string
                         : cJSON_IsString(it)                ? it->valuestring
                                                             : "");
        if (literal) {
            st->literal = cJSON_Duplicate(it, 1);
        } else if (!cJSON_IsString(it)) {
            *errmsg = api->format("%s: the value of '%s' must be a path", opt, it->string);
            return BP_ERR_INVALID;
        } else {
            /* rename: { old: new } moves old → new; copy: { dest: source }. */
            st->src = strdup(strcmp(opt, "rename") == 0 ? it->string : it->valuestring);
        }
        if (st->dst == NULL || (literal ? st->literal == NULL : st->src == NULL))
            return BP_ERR_NOMEM;
        if (api->path_check(st->dst) != BP_OK || (st->src && api->path_check(st->src) != BP_OK)) {
            *errmsg = api->format("%s: invalid path in '%s: %s'", opt, it->string,
                                  cJSON_IsString(it) ? it->valuestring : "...");
            return BP_ERR_INVALID;
        }
    }
    return BP_OK;
}

static bp_status set_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                          void **out, char **errmsg)
{
    set_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    bp_status st = set_load_map(self, bp_cfg_get0(config, "rename"), "rename", 0, &self->renames,
                                &self->n_renames, errmsg);
    if (st == BP_OK)
        st = set_load_map(self, bp_cfg_get0(config, "copy"), "copy", 0, &self->copies,
                          &self->n_copies, errmsg);
    if (st == BP_OK)
        st = set_load_map(self, bp_cfg_get0(config, "set"), "set", 1, &self->sets, &self->n_sets,
                          errmsg);
    const cJSON *rm = bp_cfg_get0(config, "remove");
    if (st == BP_OK && rm) {
        self->removes = calloc((size_t)cJSON_GetArraySize(rm) + 1, sizeof(char *));
        if (self->removes == NULL)
            st = BP_ERR_NOMEM;
        for (const cJSON *it = rm->child; st == BP_OK && it; it = it->next) {
            if (api->path_check(it->valuestring) != BP_OK) {
                *errmsg = api->format("remove: invalid path '%s'", it->valuestring);
                st = BP_ERR_INVALID;
            } else if ((self->removes[self->n_removes++] = strdup(it->valuestring)) == NULL) {
                st = BP_ERR_NOMEM;
            }
        }
    }
    const char *when = bp_cfg_str(config, "when");
    if (st == BP_OK && when) {
        int col = 0;
        char *msg = NULL;
        st = api->predicate_compile(when, &self->when, &col, &msg);
        if (st != BP_OK)
            *errmsg = api->format("when: column %d: %s", col, msg ? msg : "invalid predicate");
        free(msg);
    }
    if (st == BP_OK && self->n_renames + self->n_copies + self->n_sets + self->n_removes == 0) {
        *errmsg = api->format("nothing to do: give at least one of rename, copy, set, remove");
        st = BP_ERR_INVALID;
    }
    if (st != BP_OK) {
        if (st == BP_ERR_NOMEM && *errmsg == NULL)
            *errmsg = api->format("out of memory");
        set_destroy(self);
        return st;
    }
    *out = self;
    return BP_OK;
}

/* Appends path to the comma-separated list of changed fields. */
static void set_note(char *changed, size_t cap, const char *path)
{
    size_t len = strlen(changed);
    if (len + strlen(path) + 2 >= cap)
        return;
    if (len)
        strcat(changed, ",");
    strcat(changed, path);
}

static bp_status set_transform(void *p, bp_envelope **envp, char **reason)
{
    set_self *self = p;
    const struct bp_host_api *api = self->api;
    if (self->when && !api->predicate_eval(self->when, *envp))
        return BP_OK;
    /* Copy-on-write: another sink or route may hold the same envelope. */
    bp_envelope *env = api->envelope_make_writable(*envp);
    if (env == NULL)
        return BP_RETRY;
    *envp = env;
    char changed[1024];
    changed[0] = '\0';   /* not = "": that zeroes 1 KiB per record */
    bp_status st = BP_OK;
    for (size_t i = 0; st == BP_OK && i < self->n_renames; i++) {
        const cJSON *v = api->envelope_get0_path(env, self->renames[i].src);
        if (v == NULL)
            continue;
        cJSON *copy = cJSON_Duplicate(v, 1);
        st = copy ? api->envelope_set0_path(env, self->renames[i].dst, copy) : BP_ERR_NOMEM;
        if (st == BP_OK)
            st = api->envelope_remove_path(env, self->renames[i].src);
        if (st == BP_OK) {
            set_note(changed, sizeof(changed), self->renames[i].src);
            set_note(changed, sizeof(changed), self->renames[i].dst);
        } else {
            *reason = api->format("rename %s -> %s: %s", self->renames[i].src,
                                  self->renames[i].dst, api->status_str(st));
        }
    }
    for (size_t i = 0; st == BP_OK && i < self->n_copies; i++) {
        const cJSON *v = api->envelope_get0_path(env, self->copies[i].src);
        if (v == NULL)
            continue;
        cJSON *copy = cJSON_Duplicate(v, 1);
        st = copy ? api->envelope_set0_path(env, self->copies[i].dst, copy) : BP_ERR_NOMEM;
        if (st == BP_OK)
            set_note(changed, sizeof(changed), self->copies[i].dst);
        else
            *reason = api->format("copy %s -> %s: %s (attributes take strings only)",
                                  self->copies[i].src, self->copies[i].dst, api->status_str(st));
    }
    for (size_t i = 0; st == BP_OK && i < self->n_sets; i++) {
        cJSON *copy = cJSON_Duplicate(self->sets[i].literal, 1);
        st = copy ? api->envelope_set0_path(env, self->sets[i].dst, copy) : BP_ERR_NOMEM;
        if (st == BP_OK)
            set_note(changed, sizeof(changed), self->sets[i].dst);
        else
            *reason = api->format("set %s: %s (attributes take strings only)", self->sets[i].dst,
                                  api->status_str(st));
    }
    for (size_t i = 0; st == BP_OK && i < self->n_removes; i++) {
        bp_status r = api->envelope_remove_path(env, self->removes[i]);
        if (r == BP_OK)
            set_note(changed, sizeof(changed), self->removes[i]);
        else if (r != BP_ERR_NOT_FOUND) {
            st = r;
            *reason = api->format("remove %s: %s (required attributes cannot be removed)",
                                  self->removes[i], api->status_str(r));
        }
    }
    if (st == BP_ERR_NOMEM)
        return BP_RETRY;
    if (st != BP_OK)
        return BP_REJECT;
    if (changed[0] == '\0')
        return BP_OK;
    bp_lineage lin = {.plugin = "set", .version = SET_VERSION, .confidence = -1,
                      .changed = changed};
    if (api->envelope_add_lineage(env, &lin) != BP_OK)
        return BP_RETRY;
    api->counter_add(self->inst, "records_changed", 1);
    return BP_MODIFIED;
}

static const struct bp_plugin set_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,    /* status_str */
    .name = "set",
    .version = SET_VERSION,
    .description = "set, copy, rename and remove fields, optionally only when a predicate holds",
    .kinds = BP_KIND_TRANSFORM,
    .options = set_options,
    .init = set_init,
    .transform = set_transform,
    .destroy = set_destroy,
    .emits = (const char *const[]){NULL},   /* ABI 1.3 (core3-report): what its options name */
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &set_plugin;
}
