/* policy: declarative rules from the site file (AP or expense policy).
 *
 *   - policy:
 *       rules:
 *         high_value:  { when: "data.total > 10000", reason: "total {data.total} over 10,000",
 *                        action: review }
 *         no_po:       { when: "not exists data.po_number", flag: po_missing }
 *         blocked:     { when: "data.vendor in ['Shady Ltd']", action: reject }
 *
 * Rules run in the order written; every rule that holds adds its flag (default:
 * the rule's name) and reason to the record (host flag_add, <backplane/flags.h>), and a later rule sees
 * the flags of earlier ones. The first rule whose action is review or reject
 * decides what happens to the record; flags of all matching rules are kept. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/plugin.h>

#include "../common/normalize.h"

#define POL_VERSION "1.0.0"

enum pol_action { POL_FLAG, POL_REVIEW, POL_REJECT };
static const char *const pol_actions[] = {"flag", "review", "reject", NULL};

typedef struct {
    char *name;
    bp_predicate *when;
    char *flag;
    char *reason;           /* template: {path} is replaced by the field's value */
    enum pol_action action;
} pol_rule;

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    pol_rule *rules;
    size_t n_rules;
} pol_self;

static const struct bp_option pol_options[] = {
    {.name = "rules", .type = BP_OPT_MAP, .flags = BP_OPT_REQUIRED,
     .description = "{ NAME: { when: PREDICATE, flag: NAME, reason: TEXT, action: "
                    "flag|review|reject } }, run in order"},
    {0},
};

static void pol_destroy(void *p)
{
    pol_self *self = p;
    if (self == NULL)
        return;
    for (size_t i = 0; i < self->n_rules; i++) {
        free(self->rules[i].name);
        free(self->rules[i].flag);
        free(self->rules[i].reason);
        if (self->rules[i].when)
            self->api->predicate_free(self->rules[i].when);
    }
    free(self->rules);
    free(self);
}

/* Flag names live in a comma-separated extension: keep them to a-z, 0-9, _ . */
static int pol_valid_flag(const char *s)
{
    /* The host's flag_add takes [a-z0-9_], 1 to BP_FLAG_NAME_MAX bytes. */
    if (*s == '\0' || strlen(s) > BP_FLAG_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

/* Reads one rule; errors name it. */
/* Loads one rule. On an error *key names the offending member ("when", an
 * unknown key; NULL: the rule itself) and *col a column inside its string. */
static bp_status pol_load_rule(pol_self *self, const cJSON *def, pol_rule *r, const char **key,
                               int *col_out, char **errmsg)
{
    const struct bp_host_api *api = self->api;
    *key = NULL;
    *col_out = 0;
    static const char *const keys[] = {"when", "flag", "reason", "action", NULL};
    if ((r->name = strdup(def->string)) == NULL)
        return BP_ERR_NOMEM;
    if (!cJSON_IsObject(def)) {
        *errmsg = api->format("rule '%s': must be a map { when, flag, reason, action }", r->name);
        return BP_ERR_INVALID;
    }
    for (const cJSON *k = def->child; k; k = k->next) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k->string) != 0)
            i++;
        if (keys[i] == NULL) {
            *key = k->string;
            *errmsg = api->format("rule '%s': unknown key '%s' (valid: when, flag, reason, action)",
                                  r->name, k->string);
            return BP_ERR_INVALID;
        }
        if (!cJSON_IsString(k) && strcmp(k->string, "reason") != 0) {
            *key = k->string;
            *errmsg = api->format("rule '%s': '%s' must be a string", r->name, k->string);
            return BP_ERR_INVALID;
        }
    }
    const cJSON *when = cJSON_GetObjectItemCaseSensitive(def, "when");
    if (!cJSON_IsString(when)) {
        *errmsg = api->format("rule '%s': missing 'when' (a predicate)", r->name);
        return BP_ERR_INVALID;
    }
    int col = 0;
    char *msg = NULL;
    bp_status st = api->predicate_compile(when->valuestring, &r->when, &col, &msg);
    if (st != BP_OK) {
        *key = "when";
        *col_out = col;
        *errmsg = api->format("rule '%s': when: column %d: %s", r->name, col,
                              msg ? msg : "invalid predicate");
        free(msg);
        return st == BP_ERR_NOMEM ? st : BP_ERR_INVALID;
    }
    const cJSON *flag = cJSON_GetObjectItemCaseSensitive(def, "flag");
    r->flag = strdup(cJSON_IsString(flag) ? flag->valuestring : r->name);
    if (r->flag == NULL)
        return BP_ERR_NOMEM;
    if (!pol_valid_flag(r->flag)) {
        *key = cJSON_IsString(flag) ? "flag" : NULL;
        *errmsg = api->format("rule '%s': flag '%s' must be lower-case letters, digits and _%s%s",
                              r->name, r->flag,
                              strlen(r->flag) > BP_FLAG_NAME_MAX ? ", at most 60 bytes" : "",
                              cJSON_IsString(flag) ? "" : " (it defaults to the rule's name)");
        return BP_ERR_INVALID;
    }
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(def, "reason");
    char num[NORM_TEXT_CAP];
    const char *rtext = norm_text(reason, num);
    r->reason = strdup(rtext ? rtext : when->valuestring);
    if (r->reason == NULL)
        return BP_ERR_NOMEM;
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(def, "action");
    r->action = POL_FLAG;
    if (action) {
        size_t i = 0;
        while (pol_actions[i] && strcmp(pol_actions[i], action->valuestring) != 0)
            i++;
        if (pol_actions[i] == NULL) {
            *key = "action";
            *errmsg = api->format("rule '%s': action must be one of: flag, review, reject; got '%s'",
                                  r->name, action->valuestring);
            return BP_ERR_INVALID;
        }
        r->action = (enum pol_action)i;
    }
    return BP_OK;
}

static bp_status pol_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                          void **out, char **errmsg)
{
    pol_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const cJSON *rules = bp_cfg_get0(config, "rules");
    int n = cJSON_GetArraySize(rules);
    bp_status st = BP_OK;
    if (n == 0) {
        *errmsg = api->format("rules: give at least one rule");
        st = BP_ERR_INVALID;
    } else if ((self->rules = calloc((size_t)n, sizeof(pol_rule))) == NULL) {
        st = BP_ERR_NOMEM;
    }
    const char *key;
    int col;
    for (const cJSON *def = st == BP_OK ? rules->child : NULL; def && st == BP_OK; def = def->next)
        st = pol_load_rule(self, def, &self->rules[self->n_rules++], &key, &col, errmsg);
    if (st != BP_OK) {
        if (*errmsg == NULL)
            *errmsg = api->format("out of memory");
        pol_destroy(self);
        return st;
    }
    *out = self;
    return BP_OK;
}

/* Appends len bytes of s to the growing string *buf. 0 when out of memory. */
static int pol_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 128) + n;
        char *b = realloc(*buf, c);
        if (b == NULL)
            return 0;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 1;
}

/* The reason with every {path} replaced by the record's value there
 * ("{data.total}" → "12000"); a missing field reads "?". malloc'ed. */
static char *pol_render(const pol_self *self, const bp_envelope *env, const char *tmpl)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int ok = pol_append(&buf, &len, &cap, "", 0);
    for (const char *p = tmpl; ok && *p;) {
        const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;
        if (open == NULL || close == NULL) {
            ok = pol_append(&buf, &len, &cap, p, strlen(p));
            break;
        }
        ok = pol_append(&buf, &len, &cap, p, (size_t)(open - p));
        char path[256];
        size_t pl = (size_t)(close - open - 1);
        if (pl == 0 || pl >= sizeof(path)) {
            ok = ok && pol_append(&buf, &len, &cap, open, (size_t)(close - open + 1));
        } else {
            memcpy(path, open + 1, pl);
            path[pl] = '\0';
            const cJSON *v = self->api->envelope_get0_path(env, path);
            char num[NORM_TEXT_CAP];
            char *json = NULL;
            const char *text = norm_text(v, num);
            if (text == NULL && v && (json = cJSON_PrintUnformatted(v)) != NULL)
                text = json;
            if (text == NULL)
                text = "?";
            ok = ok && pol_append(&buf, &len, &cap, text, strlen(text));
            free(json);
        }
        p = close + 1;
    }
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bp_status pol_transform(void *p, bp_envelope **envp, char **reason)
{
    pol_self *self = p;
    const struct bp_host_api *api = self->api;
    const pol_rule *decided = NULL;
    char *decided_reason = NULL;
    size_t matched = 0;
    for (size_t i = 0; i < self->n_rules; i++) {
        const pol_rule *r = &self->rules[i];
        if (!api->predicate_eval(r->when, *envp))
            continue;
        /* Copy-on-write once, at the first rule that holds. */
        if (matched++ == 0) {
            bp_envelope *w = api->envelope_make_writable(*envp);
            if (w == NULL)
                return BP_RETRY;
            *envp = w;
        }
        char *why = pol_render(self, *envp, r->reason);
        char by[300];
        snprintf(by, sizeof(by), "policy:%s", r->name);
        bp_status st = why ? api->flag_add(*envp, r->flag, why, by) : BP_ERR_NOMEM;
        if (st != BP_OK) {
            free(why);
            free(decided_reason);
            if (st == BP_ERR_NOMEM)
                return BP_RETRY;
            *reason = api->format("rule '%s': cannot flag the record: data is not an object "
                                  "with a flags array", r->name);
            return BP_REJECT;
        }
        api->counter_add(self->inst, "rules_matched", 1);
        if (decided == NULL && r->action != POL_FLAG) {
            decided = r;
            decided_reason = why;
        } else {
            free(why);
        }
    }
    if (matched == 0) {
        bp_envelope *w = api->envelope_make_writable(*envp);
        if (w == NULL)
            return BP_RETRY;
        *envp = w;
    }
    bp_lineage lin = {.plugin = "policy", .version = POL_VERSION, .confidence = -1,
                      .changed = matched ? "flags,data.flags" : NULL};
    if (api->envelope_add_lineage(*envp, &lin) != BP_OK) {
        free(decided_reason);
        return BP_RETRY;
    }
    if (decided == NULL)
        return BP_MODIFIED;
    *reason = api->format("%s: %s", decided->name, decided_reason);
    free(decided_reason);
    api->counter_add(self->inst, decided->action == POL_REVIEW ? "records_reviewed"
                                                               : "records_rejected", 1);
    return decided->action == POL_REVIEW ? BP_REVIEW : BP_REJECT;
}

/* `backplane check`: every rule loaded as init would, each problem reported
 * at the rule's member so the site file shows file:line:col. */
static bp_status pol_check(const struct bp_host_api *api, const cJSON *config,
                           void (*report)(void *ctx, const char *path, int col, const char *msg),
                           void *ctx)
{
    const cJSON *rules = bp_cfg_get0(config, "rules");
    pol_self tmp = {.api = api};
    bp_status rc = BP_OK;
    if (cJSON_GetArraySize(rules) == 0) {
        report(ctx, "rules", 0, "give at least one rule");
        return BP_ERR_INVALID;
    }
    for (const cJSON *def = rules->child; def; def = def->next) {
        pol_rule r = {0};
        const char *key = NULL;
        int col = 0;
        char *msg = NULL;
        if (pol_load_rule(&tmp, def, &r, &key, &col, &msg) != BP_OK) {
            char path[300];
            snprintf(path, sizeof(path), "rules.%s%s%s", def->string, key ? "." : "",
                     key ? key : "");
            report(ctx, path, col, msg ? msg : "invalid rule");
            rc = BP_ERR_INVALID;
        }
        api->free(msg);
        free(r.name);
        free(r.flag);
        free(r.reason);
        if (r.when)
            api->predicate_free(r.when);
    }
    return rc;
}

static const struct bp_plugin pol_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,    /* flag_add */
    .name = "policy",
    .version = POL_VERSION,
    .description = "rules from the site file: when a predicate holds, flag with a reason, "
                   "review or reject",
    .kinds = BP_KIND_TRANSFORM,
    .options = pol_options,
    .init = pol_init,
    .transform = pol_transform,
    .destroy = pol_destroy,
    .check = pol_check,
    .emits = (const char *const[]){"flags", "data.flags", NULL},   /* ABI 1.3 (core3-report) */
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &pol_plugin;
}
