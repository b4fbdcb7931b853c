/* See options.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

const char *bp_option_type_name(enum bp_option_type type)
{
    switch (type) {
    case BP_OPT_STRING: return "string";
    case BP_OPT_INT: return "int";
    case BP_OPT_BOOL: return "bool";
    case BP_OPT_DURATION: return "duration";
    case BP_OPT_SIZE: return "size";
    case BP_OPT_ENUM: return "enum";
    case BP_OPT_LIST: return "list";
    case BP_OPT_SECRET: return "secret";
    case BP_OPT_FLOAT: return "float";
    case BP_OPT_MAP: return "map";
    case BP_OPT_PREDICATE: return "predicate";
    case BP_OPT_PATH: return "path";
    }
    return "unknown";
}

/* Parses a decimal number followed by a unit from units[] (NULL-terminated,
 * with matching factors). Returns -1 when invalid or out of range. */
static int64_t opt_parse_unit(const char *s, const char *const *units, const double *factors,
                              int unitless_ok)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
        return -1;
    for (const char *p = s; p < end; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.'))
            return -1;   /* no exponents, hex or "inf" */
    double factor = -1;
    if (*end == '\0') {
        if (!unitless_ok && v != 0)
            return -1;
        factor = 1;
    } else {
        for (size_t i = 0; units[i]; i++)
            if (strcmp(end, units[i]) == 0)
                factor = factors[i];
    }
    if (factor < 0)
        return -1;
    double r = v * factor;
    if (r > 9.0e18)
        return -1;
    return (int64_t)llround(r);
}

int64_t bp_parse_duration_ms(const char *s)
{
    static const char *const units[] = {"ms", "s", "m", "h", "d", NULL};
    static const double factors[] = {1, 1000, 60000, 3600000, 86400000};
    return opt_parse_unit(s, units, factors, 0);
}

int64_t bp_parse_size(const char *s)
{
    static const char *const units[] = {"B", "K", "KiB", "KB", "M", "MiB", "MB",
                                        "G", "GiB", "GB", NULL};
    static const double factors[] = {1, 1024.0, 1024.0, 1e3, 1048576.0, 1048576.0, 1e6,
                                     1073741824.0, 1073741824.0, 1e9};
    int64_t v = opt_parse_unit(s, units, factors, 1);
    return v;
}

static int opt_parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s == '\0')
        return 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v > (1LL << 53) || v < -(1LL << 53))
        return 0;
    *out = v;
    return 1;
}

static int opt_parse_float(const char *s, double *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s == '\0')
        return 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static int opt_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off", NULL};
    for (size_t i = 0; yes[i]; i++)
        if (strcmp(s, yes[i]) == 0)
            return (*out = 1), 1;
    for (size_t i = 0; no[i]; i++)
        if (strcmp(s, no[i]) == 0)
            return (*out = 0), 1;
    return 0;
}

/* A value parsed into the number the bounds are compared with. */
static int opt_numeric(enum bp_option_type type, const char *s, double *out)
{
    long long i;
    int64_t v;
    switch (type) {
    case BP_OPT_INT:
        if (!opt_parse_int(s, &i))
            return 0;
        *out = (double)i;
        return 1;
    case BP_OPT_FLOAT: return opt_parse_float(s, out);
    case BP_OPT_DURATION: v = bp_parse_duration_ms(s); break;
    case BP_OPT_SIZE: v = bp_parse_size(s); break;
    default: return 0;
    }
    if (v < 0)
        return 0;
    *out = (double)v;
    return 1;
}

static const char *opt_expect(enum bp_option_type type)
{
    switch (type) {
    case BP_OPT_INT: return "an integer";
    case BP_OPT_FLOAT: return "a number";
    case BP_OPT_BOOL: return "true or false";
    case BP_OPT_DURATION: return "a duration like 500ms, 5s, 2m, 1h";
    case BP_OPT_SIZE: return "a size like 512, 64KiB, 10MB";
    default: return "a string";
    }
}

/* What one bp_options_apply_ex call is checking (passed down the nesting). */
typedef struct {
    const bp_options_req *rq;
    bp_diags *d;
} opt_ctx;

static void opt_apply_table(const opt_ctx *c, const struct bp_option *schema,
                            const bp_ynode *const *maps, size_t n_maps, size_t use_from,
                            const char *prefix, int at_line, int at_col, cJSON *cfg);

/* "a source", "a sink", ... for one role bit; "any role" for 0. */
const char *bp_role_name(uint32_t role)
{
    if (role & BP_KIND_SOURCE)
        return "a source";
    if (role & BP_KIND_SINK)
        return "a sink";
    if (role & BP_KIND_LOOKUP)
        return "a lookup";
    if (role & BP_KIND_TRANSFORM)
        return "a transform";
    return "any role";
}

/* "source, sink" for a set of role bits. */
static void opt_roles_str(uint32_t roles, char *buf, size_t cap)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {BP_KIND_SOURCE, "source"}, {BP_KIND_SINK, "sink"}, {BP_KIND_LOOKUP, "lookup"},
        {BP_KIND_TRANSFORM, "transform"}};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(roles & names[i].bit))
            continue;
        if (buf[0])
            strncat(buf, ", ", cap - strlen(buf) - 1);
        strncat(buf, names[i].name, cap - strlen(buf) - 1);
    }
}

/* A map's "*" entry: the schema every value of it must match. */
static const struct bp_option *opt_star(const struct bp_option *o)
{
    return o->fields && o->fields[0].name && strcmp(o->fields[0].name, "*") == 0 ? &o->fields[0]
                                                                                : NULL;
}

/* Converts one value node to its normalised JSON, reporting errors. name is
 * the option's full name in messages ("tls.verify"). */
static cJSON *opt_convert(const opt_ctx *c, const struct bp_option *o, const char *name,
                          const bp_ynode *v)
{
    const char *where = c->rq->where, *file = c->rq->file;
    bp_diags *d = c->d;
    int secret = o->type == BP_OPT_SECRET;
    if (o->type == BP_OPT_MAP) {
        if (v->kind != BP_YMAP) {
            bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be a map, got %s",
                         name, where, bp_ykind_name(v->kind));
            return NULL;
        }
        const struct bp_option *star = opt_star(o);
        if (o->fields == NULL)
            return bp_ynode_to_json(v);
        cJSON *obj = cJSON_CreateObject();
        if (obj == NULL)
            return NULL;
        if (star == NULL) {
            const bp_ynode *one[1] = {v};
            opt_apply_table(c, o->fields, one, 1, 1, name, v->line, v->col, obj);
            return obj;
        }
        for (size_t i = 0; i < v->n; i++) {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s.%s", name, v->keys[i]->value);
            /* A map of strings keeps YAML's scalar types (Qty: 5 stays a
             * number): the schema is about its shape. */
            cJSON *val = star->type == BP_OPT_STRING && v->items[i]->kind == BP_YSCALAR
                             ? bp_ynode_to_json(v->items[i])
                             : opt_convert(c, star, sub, v->items[i]);
            if (val)
                cJSON_AddItemToObject(obj, v->keys[i]->value, val);
        }
        return obj;
    }
    if (o->type == BP_OPT_LIST) {
        if (v->kind == BP_YMAP) {
            bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be a list, got a map",
                         name, where);
            return NULL;
        }
        cJSON *arr = cJSON_CreateArray();
        size_t n = v->kind == BP_YSEQ ? v->n : 1;
        for (size_t i = 0; arr && i < n; i++) {
            const bp_ynode *it = v->kind == BP_YSEQ ? v->items[i] : v;
            if (it->kind != BP_YSCALAR) {
                bp_diags_add(d, file, it->line, it->col,
                             "option '%s' of %s: list items must be scalars, got %s", name,
                             where, bp_ykind_name(it->kind));
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, cJSON_CreateString(it->value));
        }
        return arr;
    }
    if (v->kind != BP_YSCALAR) {
        bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be %s, got %s", name,
                     where, opt_expect(o->type), bp_ykind_name(v->kind));
        return NULL;
    }
    const char *s = v->value;
    /* ---- issue 16 #3 (hardening): messages show a ${env:}/${file:} value as
     * written, never what it was replaced by (a key file in an enum error). */
    const char *shown = v->substituted && v->raw ? v->raw : s;
    if (o->type != BP_OPT_STRING && o->type != BP_OPT_SECRET && strlen(s) != v->len) {
        bp_diags_add(d, file, v->line, v->col, "option '%s' of %s contains a NUL byte", name,
                     where);
        return NULL;
    }
    double num = 0;
    int b;
    switch (o->type) {
    case BP_OPT_STRING:
    case BP_OPT_SECRET:
        if (secret)
            bp_log_add_secret(s);
        return cJSON_CreateString(s);
    case BP_OPT_PATH:
        if (s[0] == '\0') {
            bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be a file path, got "
                         "an empty value", name, where);
            return NULL;
        }
        if (s[0] != '/' && c->rq->base_dir && c->rq->base_dir[0] &&
            strcmp(c->rq->base_dir, ".") != 0) {
            char *full = NULL;
            if (asprintf(&full, "%s/%s", c->rq->base_dir, s) < 0)
                return NULL;
            cJSON *r = cJSON_CreateString(full);
            free(full);
            return r;
        }
        return cJSON_CreateString(s);
    case BP_OPT_BOOL:
        if (!opt_parse_bool(s, &b))
            break;
        return cJSON_CreateBool(b);
    case BP_OPT_ENUM:
        for (size_t i = 0; o->choices && o->choices[i]; i++)
            if (strcmp(s, o->choices[i]) == 0)
                return cJSON_CreateString(s);
        {
            char list[512] = "";
            for (size_t i = 0; o->choices && o->choices[i]; i++) {
                if (i)
                    strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, o->choices[i], sizeof(list) - strlen(list) - 1);
            }
            bp_diags_add(d, file, v->line, v->col,
                         "option '%s' of %s must be one of: %s; got '%s'", name, where, list, shown);
        }
        return NULL;
    case BP_OPT_PREDICATE: {
        bp_predicate *p = NULL;
        int errcol = 0;
        char *msg = NULL;
        bp_status st = bp_predicate_compile(s, &p, &errcol, &msg);
        bp_predicate_free(p);
        if (st != BP_OK) {
            /* Point into the file: the scalar's column plus the offset inside
             * it (one more for an opening quote). Exact for one-line scalars. */
            int col = v->col + (errcol > 0 ? errcol - 1 : 0) + (v->plain ? 0 : 1);
            bp_diags_add(d, file, v->line, col, "option '%s' of %s: %s", name, where,
                         msg ? msg : bp_status_str(st));
            free(msg);
            return NULL;
        }
        return cJSON_CreateString(s);
    }
    default:
        if (!opt_numeric(o->type, s, &num))
            break;
        if (o->type == BP_OPT_INT && !v->plain && !v->substituted)
            break;   /* "10" quoted is a string: say so rather than guess */
        {
            double lo, hi;
            int has_lo = o->min && opt_numeric(o->type, o->min, &lo);
            int has_hi = o->max && opt_numeric(o->type, o->max, &hi);
            if ((has_lo && num < lo) || (has_hi && num > hi)) {
                if (has_lo && has_hi)
                    bp_diags_add(d, file, v->line, v->col,
                                 "option '%s' of %s must be between %s and %s, got %s", name,
                                 where, o->min, o->max, shown);
                else
                    bp_diags_add(d, file, v->line, v->col,
                                 "option '%s' of %s must be at %s %s, got %s", name, where,
                                 has_lo ? "least" : "most", has_lo ? o->min : o->max, shown);
                return NULL;
            }
        }
        return cJSON_CreateNumber(num);
    }
    bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be %s, got '%s'", name,
                 where, opt_expect(o->type), shown);
    return NULL;
}

static const struct bp_option *opt_find(const struct bp_option *schema, const char *name)
{
    for (const struct bp_option *o = schema; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static int opt_skipped(const char *const *skip, const char *key)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (strcmp(skip[i], key) == 0)
            return 1;
    return 0;
}

/* A map with named fields: merged over every map that gives it. */
static int opt_is_record(const struct bp_option *o)
{
    return o->type == BP_OPT_MAP && o->fields && opt_star(o) == NULL;
}

/* The default of o as a value (lists: "a,b"), or NULL (errors reported). */
static cJSON *opt_default(const opt_ctx *c, const struct bp_option *o, const char *name,
                          int at_line, int at_col)
{
    bp_ynode dv = {.kind = BP_YSCALAR, .line = at_line, .col = at_col,
                   .value = (char *)o->default_value, .len = strlen(o->default_value),
                   .plain = 1};
    if (o->type != BP_OPT_LIST)
        return opt_convert(c, o, name, &dv);
    cJSON *val = cJSON_CreateArray();
    char *copy = strdup(o->default_value), *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && val;
         t = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(val, cJSON_CreateString(t));
    free(copy);
    return val;
}

/* Validates maps (later wins; maps[use_from..] are a route's per-use maps)
 * against one schema level into cfg. prefix: the dotted name of the level
 * ("" at the top). */
static void opt_apply_table(const opt_ctx *c, const struct bp_option *schema,
                            const bp_ynode *const *maps, size_t n_maps, size_t use_from,
                            const char *prefix, int at_line, int at_col, cJSON *cfg)
{
    const bp_options_req *rq = c->rq;
    const char *where = rq->where, *file = rq->file;
    bp_diags *d = c->d;
    for (size_t m = 0; m < n_maps; m++) {
        const bp_ynode *map = maps[m];
        if (map == NULL)
            continue;
        if (map->kind != BP_YMAP) {
            if (prefix[0]) {
                /* Name the keys: "tls: none" should read "tls: { mode: none }". */
                char keys[256] = "";
                for (const struct bp_option *p = schema; p && p->name; p++) {
                    if (p->renamed)
                        continue;
                    strncat(keys, keys[0] ? ", " : "", sizeof(keys) - strlen(keys) - 1);
                    strncat(keys, p->name, sizeof(keys) - strlen(keys) - 1);
                }
                if (map->kind == BP_YSCALAR)
                    bp_diags_add(d, file, map->line, map->col,
                                 "option '%s' of %s must be a map { %s }, got '%s'", prefix,
                                 where, keys, map->value);
                else
                    bp_diags_add(d, file, map->line, map->col,
                                 "option '%s' of %s must be a map { %s }, got %s", prefix, where,
                                 keys, bp_ykind_name(map->kind));
            }
            else
                bp_diags_add(d, file, map->line, map->col, "options of %s must be a map, got %s",
                             where, bp_ykind_name(map->kind));
            continue;
        }
        for (size_t i = 0; i < map->n; i++) {
            const char *key = map->keys[i]->value;
            char name[512];
            snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
            const bp_ynode *kn = map->keys[i];
            if (!prefix[0] && opt_skipped(rq->skip, key))
                continue;
            const struct bp_option *o = opt_find(schema, key);
            if (o && o->renamed) {
                bp_diags_add(d, file, kn->line, kn->col, "option '%s' was renamed: use %s", name,
                             o->renamed);
                continue;
            }
            if (o == NULL) {
                char valid[1024] = "";
                for (const struct bp_option *p = schema; p && p->name; p++) {
                    if (p->renamed)
                        continue;
                    if (valid[0])
                        strncat(valid, ", ", sizeof(valid) - strlen(valid) - 1);
                    strncat(valid, p->name, sizeof(valid) - strlen(valid) - 1);
                }
                bp_diags_add(d, file, kn->line, kn->col, "unknown option '%s' for %s (valid: %s)",
                             name, where, valid[0] ? valid : "none");
                continue;
            }
            if (m >= use_from && rq->role && o->roles && !(o->roles & rq->role)) {
                char roles[64];
                opt_roles_str(o->roles, roles, sizeof(roles));
                bp_diags_add(d, file, kn->line, kn->col,
                             "option '%s' of %s is for a %s, not %s", name, where, roles,
                             bp_role_name(rq->role));
                continue;
            }
            if (opt_is_record(o))
                continue;   /* merged below */
            cJSON *val = opt_convert(c, o, name, map->items[i]);
            if (val == NULL)
                continue;
            if (cJSON_GetObjectItemCaseSensitive(cfg, key))
                cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, val);
            else
                cJSON_AddItemToObject(cfg, key, val);
        }
    }
    /* Maps with named fields (tls: { ... }) merge key by key over the maps;
     * then defaults and required options. */
    for (const struct bp_option *o = schema; o && o->name; o++) {
        if (o->renamed)
            continue;
        char name[512];
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", o->name);
        if (opt_is_record(o)) {
            const bp_ynode *sub[8];
            size_t n_sub = 0, sub_use = 8;
            int line = at_line, col = at_col;
            for (size_t m = 0; m < n_maps && n_sub < 8; m++) {
                const bp_ynode *v = maps[m] && maps[m]->kind == BP_YMAP
                                        ? bp_ymap_get(maps[m], o->name) : NULL;
                if (v == NULL)
                    continue;
                if (m >= use_from && sub_use == 8)
                    sub_use = n_sub;
                sub[n_sub++] = v;
                line = v->line;
                col = v->col;
            }
            if (n_sub == 0 && (o->flags & BP_OPT_REQUIRED)) {
                bp_diags_add(d, file, at_line, at_col, "missing required option '%s' for %s",
                             name, where);
                continue;
            }
            cJSON *obj = cJSON_CreateObject();
            if (obj == NULL)
                continue;
            opt_apply_table(c, o->fields, sub, n_sub, sub_use, name, line, col, obj);
            cJSON_AddItemToObject(cfg, o->name, obj);
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(cfg, o->name))
            continue;
        if (o->flags & BP_OPT_REQUIRED) {
            bp_diags_add(d, file, at_line, at_col, "missing required option '%s' for %s", name,
                         where);
            continue;
        }
        if (rq->role && (o->required_for & rq->role)) {
            bp_diags_add(d, file, at_line, at_col, "missing option '%s' for %s: %s needs it",
                         name, where, bp_role_name(rq->role));
            continue;
        }
        if (o->default_value == NULL)
            continue;
        /* Defaults go through the same conversion as file values, so a bad
         * default in a plugin is reported, not silently used. */
        cJSON *val = opt_default(c, o, name, at_line, at_col);
        if (val)
            cJSON_AddItemToObject(cfg, o->name, val);
    }
}

cJSON *bp_options_apply_ex(const bp_options_req *rq, bp_diags *d, int *failed)
{
    size_t errors_before = d->n;
    cJSON *cfg = cJSON_CreateObject();
    if (failed)
        *failed = 0;
    if (cfg == NULL)
        return NULL;
    opt_ctx c = {.rq = rq, .d = d};
    opt_apply_table(&c, rq->schema, rq->maps, rq->n_maps,
                    rq->use_from ? rq->use_from : rq->n_maps, "", rq->at_line, rq->at_col, cfg);
    if (failed)
        *failed = d->n > errors_before;
    return cfg;
}

cJSON *bp_options_apply(const struct bp_option *schema, const char *where,
                        const bp_ynode *const *maps, size_t n_maps,
                        const char *const *skip, const char *file,
                        int at_line, int at_col, bp_diags *d)
{
    bp_options_req rq = {.schema = schema, .where = where, .maps = maps, .n_maps = n_maps,
                         .skip = skip, .file = file, .at_line = at_line, .at_col = at_col};
    int failed = 0;
    cJSON *cfg = bp_options_apply_ex(&rq, d, &failed);
    if (failed) {
        cJSON_Delete(cfg);
        return NULL;
    }
    return cfg;
}

/* ---- binding (BP_OPT_FIELD) ---------------------------------------------- */

static int opt_bind_fits(const struct bp_option *o, size_t size)
{
    size_t w;
    switch (o->type) {
    case BP_OPT_INT: w = sizeof(long long); break;
    case BP_OPT_DURATION:
    case BP_OPT_SIZE: w = sizeof(int64_t); break;
    case BP_OPT_BOOL:
    case BP_OPT_ENUM: w = sizeof(int); break;
    case BP_OPT_FLOAT: w = sizeof(double); break;
    default: w = sizeof(void *); break;
    }
    return o->offset <= size && w <= size - o->offset;
}

static void opt_bind_table(const struct bp_option *schema, const cJSON *cfg, unsigned char *out,
                           size_t size)
{
    for (const struct bp_option *o = schema; o && o->name; o++) {
        if (o->renamed)
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, o->name);
        if (opt_is_record(o))
            opt_bind_table(o->fields, v, out, size);
        if (!o->bound || !opt_bind_fits(o, size))
            continue;
        void *at = out + o->offset;
        switch (o->type) {
        case BP_OPT_INT: {
            long long x = cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
            memcpy(at, &x, sizeof(x));
            break;
        }
        case BP_OPT_DURATION:
        case BP_OPT_SIZE: {
            int64_t x = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
            memcpy(at, &x, sizeof(x));
            break;
        }
        case BP_OPT_BOOL: {
            int x = cJSON_IsTrue(v);
            memcpy(at, &x, sizeof(x));
            break;
        }
        case BP_OPT_FLOAT: {
            double x = cJSON_IsNumber(v) ? v->valuedouble : 0;
            memcpy(at, &x, sizeof(x));
            break;
        }
        case BP_OPT_ENUM: {
            int x = -1;
            for (int i = 0; cJSON_IsString(v) && o->choices && o->choices[i]; i++)
                if (strcmp(o->choices[i], v->valuestring) == 0)
                    x = i;
            memcpy(at, &x, sizeof(x));
            break;
        }
        case BP_OPT_LIST:
        case BP_OPT_MAP: {
            const cJSON *x = v;
            memcpy(at, &x, sizeof(x));
            break;
        }
        default: {
            const char *x = cJSON_IsString(v) ? v->valuestring : NULL;
            memcpy(at, &x, sizeof(x));
            break;
        }
        }
    }
}

void *bp_options_bind(const struct bp_option *schema, const cJSON *config, size_t size)
{
    if (size == 0)
        return NULL;
    unsigned char *out = calloc(1, size);
    if (out == NULL)
        return NULL;
    opt_bind_table(schema, config, out, size);
    return out;
}

/* ---- reading a plugin's arrays with its own stride -------------------- */

static size_t opt_count(const unsigned char *arr, size_t stride)
{
    size_t n = 0;
    while (((const struct bp_option *)(const void *)(arr + n * stride))->name)
        n++;
    return n;
}

struct bp_option *bp_options_normalize(const struct bp_option *schema, size_t stride)
{
    if (schema == NULL)
        return NULL;
    if (stride < BP_OPTION_SIZE_1_2)
        stride = BP_OPTION_SIZE_1_2;
    const unsigned char *arr = (const unsigned char *)schema;
    size_t n = opt_count(arr, stride);
    struct bp_option *out = calloc(n + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    size_t take = stride < sizeof(*out) ? stride : sizeof(*out);
    for (size_t i = 0; i < n; i++) {
        memcpy(&out[i], arr + i * stride, take);
        if (out[i].fields && stride != sizeof(*out))
            out[i].fields = bp_options_normalize(out[i].fields, stride);
    }
    return out;
}

void bp_options_normalized_free(struct bp_option *schema, size_t stride)
{
    if (schema == NULL)
        return;
    for (struct bp_option *o = schema; o->name; o++)
        if (o->fields && stride != sizeof(*o))
            bp_options_normalized_free((struct bp_option *)o->fields, stride);
    free(schema);
}

static void opt_rows(const struct bp_option *schema, const char *prefix, bp_option_row_fn fn,
                     void *ud)
{
    for (const struct bp_option *o = schema; o && o->name; o++) {
        if (o->renamed)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", o->name);
        const char *dflt = (o->flags & BP_OPT_REQUIRED) ? "required"
                           : o->default_value          ? o->default_value
                                                       : "-";
        if (o->type == BP_OPT_SECRET && o->default_value)
            dflt = "****";
        char notes[512] = "";
        size_t n = 0;
#define OPT_NOTE(...) \
    (n += (size_t)snprintf(notes + n, n < sizeof(notes) ? sizeof(notes) - n : 0, __VA_ARGS__))
        if (o->choices) {
            OPT_NOTE(" [one of:");
            for (size_t i = 0; o->choices[i]; i++)
                OPT_NOTE(" %s", o->choices[i]);
            OPT_NOTE("]");
        }
        if (o->min || o->max)
            OPT_NOTE(" [range: %s..%s]", o->min ? o->min : "", o->max ? o->max : "");
        char roles[64];
        if (o->roles) {
            opt_roles_str(o->roles, roles, sizeof(roles));
            OPT_NOTE(" [for: %s]", roles);
        }
        if (o->required_for) {
            opt_roles_str(o->required_for, roles, sizeof(roles));
            OPT_NOTE(" [required for: %s]", roles);
        }
#undef OPT_NOTE
        bp_option_row row = {.name = name, .type = bp_option_type_name(o->type), .dflt = dflt,
                             .description = o->description ? o->description : "",
                             .notes = notes[0] ? notes + 1 : ""};
        fn(&row, ud);
        if (o->type == BP_OPT_MAP && o->fields)
            opt_rows(o->fields, name, fn, ud);
    }
}

void bp_options_rows(const struct bp_option *schema, bp_option_row_fn fn, void *ud)
{
    opt_rows(schema, "", fn, ud);
}

static void opt_print_row(const bp_option_row *r, void *ud)
{
    FILE *f = ud;
    fprintf(f, "  %-18s %-10s %-10s %s%s%s\n", r->name, r->type, r->dflt, r->description,
            r->notes[0] ? " " : "", r->notes);
}

void bp_options_print_doc(const struct bp_option *schema, FILE *f)
{
    if (schema == NULL || schema->name == NULL) {
        fprintf(f, "  (no options)\n");
        return;
    }
    fprintf(f, "  %-18s %-10s %-10s %s\n", "OPTION", "TYPE", "DEFAULT", "DESCRIPTION");
    bp_options_rows(schema, opt_print_row, f);
    int any = 0;
    for (const struct bp_option *o = schema; o->name; o++) {
        if (!o->renamed)
            continue;
        if (!any++)
            fprintf(f, "  renamed:\n");
        fprintf(f, "  %-18s -> %s\n", o->name, o->renamed);
    }
}
