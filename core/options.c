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

/* Converts one value node to its normalised JSON, reporting errors. */
static cJSON *opt_convert(const struct bp_option *o, const bp_ynode *v, const char *where,
                          const char *file, bp_diags *d)
{
    int secret = o->type == BP_OPT_SECRET;
    if (o->type == BP_OPT_MAP) {
        if (v->kind != BP_YMAP) {
            bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be a map, got %s",
                         o->name, where, bp_ykind_name(v->kind));
            return NULL;
        }
        return bp_ynode_to_json(v);
    }
    if (o->type == BP_OPT_LIST) {
        if (v->kind == BP_YMAP) {
            bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be a list, got a map",
                         o->name, where);
            return NULL;
        }
        cJSON *arr = cJSON_CreateArray();
        size_t n = v->kind == BP_YSEQ ? v->n : 1;
        for (size_t i = 0; arr && i < n; i++) {
            const bp_ynode *it = v->kind == BP_YSEQ ? v->items[i] : v;
            if (it->kind != BP_YSCALAR) {
                bp_diags_add(d, file, it->line, it->col,
                             "option '%s' of %s: list items must be scalars, got %s", o->name,
                             where, bp_ykind_name(it->kind));
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, cJSON_CreateString(it->value));
        }
        return arr;
    }
    if (v->kind != BP_YSCALAR) {
        bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be %s, got %s", o->name,
                     where, opt_expect(o->type), bp_ykind_name(v->kind));
        return NULL;
    }
    const char *s = v->value;
    /* ---- issue 16 #3 (hardening): messages show a ${env:}/${file:} value as
     * written, never what it was replaced by (a key file in an enum error). */
    const char *shown = v->substituted && v->raw ? v->raw : s;
    if (o->type != BP_OPT_STRING && o->type != BP_OPT_SECRET && strlen(s) != v->len) {
        bp_diags_add(d, file, v->line, v->col, "option '%s' of %s contains a NUL byte", o->name,
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
                         "option '%s' of %s must be one of: %s; got '%s'", o->name, where, list, shown);
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
            bp_diags_add(d, file, v->line, col, "option '%s' of %s: %s", o->name, where,
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
                                 "option '%s' of %s must be between %s and %s, got %s", o->name,
                                 where, o->min, o->max, shown);
                else
                    bp_diags_add(d, file, v->line, v->col,
                                 "option '%s' of %s must be at %s %s, got %s", o->name, where,
                                 has_lo ? "least" : "most", has_lo ? o->min : o->max, shown);
                return NULL;
            }
        }
        return cJSON_CreateNumber(num);
    }
    bp_diags_add(d, file, v->line, v->col, "option '%s' of %s must be %s, got '%s'", o->name,
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

cJSON *bp_options_apply(const struct bp_option *schema, const char *where,
                        const bp_ynode *const *maps, size_t n_maps,
                        const char *const *skip, const char *file,
                        int at_line, int at_col, bp_diags *d)
{
    size_t errors_before = d->n;
    cJSON *cfg = cJSON_CreateObject();
    if (cfg == NULL)
        return NULL;
    for (size_t m = 0; m < n_maps; m++) {
        const bp_ynode *map = maps[m];
        if (map == NULL)
            continue;
        if (map->kind != BP_YMAP) {
            bp_diags_add(d, file, map->line, map->col, "options of %s must be a map, got %s",
                         where, bp_ykind_name(map->kind));
            continue;
        }
        for (size_t i = 0; i < map->n; i++) {
            const char *key = map->keys[i]->value;
            if (opt_skipped(skip, key))
                continue;
            const struct bp_option *o = opt_find(schema, key);
            if (o == NULL) {
                char valid[1024] = "";
                for (const struct bp_option *p = schema; p && p->name; p++) {
                    if (valid[0])
                        strncat(valid, ", ", sizeof(valid) - strlen(valid) - 1);
                    strncat(valid, p->name, sizeof(valid) - strlen(valid) - 1);
                }
                bp_diags_add(d, file, map->keys[i]->line, map->keys[i]->col,
                             "unknown option '%s' for %s (valid: %s)", key, where,
                             valid[0] ? valid : "none");
                continue;
            }
            cJSON *val = opt_convert(o, map->items[i], where, file, d);
            if (val == NULL)
                continue;
            if (cJSON_GetObjectItemCaseSensitive(cfg, key))
                cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, val);
            else
                cJSON_AddItemToObject(cfg, key, val);
        }
    }
    /* Defaults and required options. */
    for (const struct bp_option *o = schema; o && o->name; o++) {
        if (cJSON_GetObjectItemCaseSensitive(cfg, o->name))
            continue;
        if (o->flags & BP_OPT_REQUIRED) {
            bp_diags_add(d, file, at_line, at_col, "missing required option '%s' for %s", o->name,
                         where);
            continue;
        }
        if (o->default_value == NULL)
            continue;
        /* Defaults go through the same conversion as file values, so a bad
         * default in a plugin is reported, not silently used. */
        bp_ynode dv = {.kind = BP_YSCALAR, .line = at_line, .col = at_col,
                       .value = (char *)o->default_value, .len = strlen(o->default_value),
                       .plain = 1};
        cJSON *val;
        if (o->type == BP_OPT_LIST) {
            val = cJSON_CreateArray();
            char *copy = strdup(o->default_value), *save = NULL;
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && val;
                 t = strtok_r(NULL, ",", &save))
                cJSON_AddItemToArray(val, cJSON_CreateString(t));
            free(copy);
        } else {
            val = opt_convert(o, &dv, where, file, d);
        }
        if (val)
            cJSON_AddItemToObject(cfg, o->name, val);
    }
    if (d->n > errors_before) {
        cJSON_Delete(cfg);
        return NULL;
    }
    return cfg;
}

void bp_options_print_doc(const struct bp_option *schema, FILE *f)
{
    if (schema == NULL || schema->name == NULL) {
        fprintf(f, "  (no options)\n");
        return;
    }
    fprintf(f, "  %-18s %-10s %-10s %s\n", "OPTION", "TYPE", "DEFAULT", "DESCRIPTION");
    for (const struct bp_option *o = schema; o->name; o++) {
        const char *dflt = (o->flags & BP_OPT_REQUIRED) ? "required"
                           : o->default_value          ? o->default_value
                                                       : "-";
        if (o->type == BP_OPT_SECRET && o->default_value)
            dflt = "****";
        fprintf(f, "  %-18s %-10s %-10s %s", o->name, bp_option_type_name(o->type), dflt,
                o->description ? o->description : "");
        if (o->choices) {
            fprintf(f, " [one of:");
            for (size_t i = 0; o->choices[i]; i++)
                fprintf(f, " %s", o->choices[i]);
            fprintf(f, "]");
        }
        if (o->min || o->max)
            fprintf(f, " [range: %s..%s]", o->min ? o->min : "", o->max ? o->max : "");
        fputc('\n', f);
    }
}
