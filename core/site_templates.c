/* See site_templates.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include "envelope_priv.h"
#include "site_templates.h"

/* The top-level paths a route's records can carry at one point: "data.X"
 * for data fields, "X" for extensions; attributes are always known. */
typedef struct {
    char **p;
    size_t n, cap;
    int known;          /* 0: a stage before declared nothing */
} st_known;

static void st_add(st_known *k, const char *path, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (strlen(k->p[i]) == len && memcmp(k->p[i], path, len) == 0)
            return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 32;
        char **p = realloc(k->p, cap * sizeof(*p));
        if (p == NULL)
            return;
        k->p = p;
        k->cap = cap;
    }
    if ((k->p[k->n] = strndup(path, len)) != NULL)
        k->n++;
}

/* The top-level part of a path: "data.X" for data paths ("data" alone),
 * else the first name. Length into *len. */
static const char *st_top(const char *path, size_t *len)
{
    size_t first = strcspn(path, ".[");
    if (first == 4 && strncmp(path, "data", 4) == 0 && path[4] == '.')
        first = 5 + strcspn(path + 5, ".[");
    *len = first;
    return path;
}

static void st_add_path(st_known *k, const char *path)
{
    if (bp_path_check(path) != BP_OK)
        return;
    size_t len;
    st_top(path, &len);
    st_add(k, path, len);
}

/* Every string and key in a transform's options that is a path: what it
 * may write ("into: data.invoice", set's keys). */
static void st_add_option_paths(st_known *k, const cJSON *j)
{
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        if (c->string)
            st_add_path(k, c->string);
        if (cJSON_IsString(c))
            st_add_path(k, c->valuestring);
        st_add_option_paths(k, c);
    }
}

static void st_add_emits(st_known *k, const bp_plugin_lib *lib)
{
    if (lib == NULL || lib->desc.emits == NULL) {
        k->known = 0;
        return;
    }
    for (size_t i = 0; lib->desc.emits[i]; i++)
        st_add_path(k, lib->desc.emits[i]);
}

static size_t st_distance(const char *a, size_t la, const char *b, size_t lb)
{
    if (la > 64 || lb > 64)
        return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

static const char *const st_attrs[] = {"id", "source", "type", "subject", "time",
                                       "specversion", "datacontenttype", "dataschema", NULL};

/* The closest known top-level path within 2 edits, or NULL. */
static const char *st_suggest(const st_known *k, const char *top, size_t len)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; i < k->n; i++) {
        size_t d = st_distance(top, len, k->p[i], strlen(k->p[i]));
        if (d < bd) {
            bd = d;
            best = k->p[i];
        }
    }
    for (size_t i = 0; st_attrs[i]; i++) {
        size_t d = st_distance(top, len, st_attrs[i], strlen(st_attrs[i]));
        if (d < bd) {
            bd = d;
            best = st_attrs[i];
        }
    }
    return best;
}

/* The file's text, read once for positions. */
typedef struct {
    const bp_site *site;
    char *text;
    size_t len;
    bp_diags *errs, *warns;
} st_ctx;

/* Line and column of the nth occurrence of needle at or after (line, col);
 * (line, col) itself when it is not found. */
static void st_locate(const st_ctx *c, int line, int col, const char *needle, int nth, int *ol,
                      int *oc)
{
    *ol = line;
    *oc = col;
    if (c->text == NULL || line <= 0)
        return;
    size_t off = 0;
    for (int l = 1; l < line && off < c->len; off++)
        if (c->text[off] == '\n')
            l++;
    off += (size_t)(col > 0 ? col - 1 : 0);
    const char *at = NULL;
    for (int i = 0; i <= nth && off <= c->len; i++) {
        at = off < c->len ? strstr(c->text + off, needle) : NULL;
        if (at == NULL)
            return;
        off = (size_t)(at - c->text) + 1;
    }
    int l = 1, cl = 1;
    for (const char *p = c->text; p < at; p++) {
        if (*p == '\n') {
            l++;
            cl = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            cl++;
        }
    }
    *ol = l;
    *oc = cl;
}

/* Checks one template text. where: "route 'r', to 'reply', option 'subject'". */
static void st_check_text(st_ctx *c, const st_known *k, const char *where, const char *text,
                          const bp_ynode *node, int line, int col)
{
    if (node) {
        line = node->line;
        col = node->col;
    }
    for (const char *p = text; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p += 2;
            continue;
        }
        if (*p != '{') {
            p++;
            continue;
        }
        const char *end = strchr(p, '}');
        size_t rest = strlen(p);   /* >= 1: p is at the '{' */
        size_t plen = end ? (size_t)(end - p - 1) : rest - 1;
        char *path = strndup(p + 1, plen);
        char *needle = strndup(p, end ? plen + 2 : rest);
        if (path == NULL || needle == NULL) {
            free(path);
            free(needle);
            return;
        }
        int nth = 0;   /* the same placeholder earlier in this text */
        for (const char *q = strstr(text, needle); q && q < p; q = strstr(q + 1, needle))
            nth++;
        int l, cl;
        st_locate(c, line, col, needle, nth, &l, &cl);
        const char *file = c->site->file;
        if (end == NULL) {
            bp_diags_add(c->errs, file, l, cl, "%s: '{' without a closing '}' (write {{ for a brace)",
                         where);
        } else if (bp_path_check(path) != BP_OK) {
            bp_diags_add(c->errs, file, l, cl, "%s: '%s' is not an envelope path", where, path);
        } else if (k->known) {
            size_t len;
            st_top(path, &len);
            int ok = (len == 4 && strncmp(path, "data", 4) == 0) ||
                     bp_env_attr_index(path, len) >= 0;
            for (size_t i = 0; !ok && i < k->n; i++)
                ok = strlen(k->p[i]) == len && strncmp(k->p[i], path, len) == 0;
            if (!ok) {
                const char *near = st_suggest(k, path, len);
                char hint[160] = "";
                if (near)
                    snprintf(hint, sizeof(hint), " (did you mean {%s}?)", near);
                bp_diags_add(c->warns, file, l, cl,
                             "warning: %s: {%s} names nothing the route's records carry here: "
                             "no stage before it gives %.*s%s; it renders as \"\"",
                             where, path, (int)len, path, hint);
            }
        }
        free(path);
        free(needle);
        if (end == NULL)
            break;
        p = end + 1;
    }
}

/* Checks the template options of one use (a transform, a sink). */
static void st_check_use(st_ctx *c, const st_known *k, const char *route, const char *role,
                         const bp_site_use *u)
{
    if (u->lib == NULL || u->config == NULL || u->lib->desc.options == NULL)
        return;
    const bp_site_connector *conn = strcmp(role, "through") == 0
                                        ? NULL
                                        : bp_site_find_connector(c->site, u->name);
    for (const struct bp_option *o = u->lib->desc.options; o->name; o++) {
        if (!(o->flags & BP_OPT_TEMPLATE))
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(u->config, o->name);
        const bp_ynode *node = u->opts ? bp_ymap_get(u->opts, o->name) : NULL;
        if (node == NULL && conn)
            node = bp_ymap_get(conn->node, o->name);
        if (node == NULL)
            continue;   /* the plugin's default */
        char where[512];
        snprintf(where, sizeof(where), "route '%s', %s '%s', option '%s'", route, role, u->name,
                 o->name);
        if (cJSON_IsString(v)) {
            st_check_text(c, k, where, v->valuestring, node, u->line, u->col);
        } else if (cJSON_IsArray(v)) {
            int i = 0;
            for (const cJSON *e = v->child; e; e = e->next, i++)
                if (cJSON_IsString(e))
                    st_check_text(c, k, where, e->valuestring,
                                  node->kind == BP_YSEQ && (size_t)i < node->n ? node->items[i]
                                                                               : node,
                                  u->line, u->col);
        }
    }
}

static void st_known_free(st_known *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->p[i]);
    free(k->p);
    memset(k, 0, sizeof(*k));
}

void bp_site_check_templates(const bp_site *site, bp_diags *errs, bp_diags *warns)
{
    st_ctx c = {.site = site, .errs = errs, .warns = warns};
    FILE *f = site->file ? fopen(site->file, "r") : NULL;
    if (f) {
        char buf[4096];
        size_t n;
        FILE *m = open_memstream(&c.text, &c.len);
        while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, m);
        if (m)
            fclose(m);
        fclose(f);
    }
    for (size_t i = 0; i < site->n_routes; i++) {
        const bp_site_route *r = &site->routes[i];
        st_known k = {.known = 1};
        st_add_emits(&k, r->from.lib);
        for (size_t t = 0; t < r->n_through; t++) {
            st_check_use(&c, &k, r->name, "through", &r->through[t]);
            st_add_emits(&k, r->through[t].lib);
            st_add_option_paths(&k, r->through[t].config);
        }
        for (size_t s = 0; s < r->n_to; s++)
            st_check_use(&c, &k, r->name, "to", &r->to[s]);
        if (r->dead_letter.name) {
            /* The core's own extensions on a dead letter (runtime.c). */
            st_add(&k, "dlroute", 7);
            st_add(&k, "dlstage", 7);
            st_add(&k, "dlreason", 8);
            st_check_use(&c, &k, r->name, "dead_letter", &r->dead_letter);
        }
        st_known_free(&k);
    }
    free(c.text);
}
