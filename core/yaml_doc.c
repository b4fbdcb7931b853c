/* See yaml_doc.h. Aliases are refused rather than expanded: expansion is how
 * "billion laughs" documents exhaust memory, and site files do not need them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yaml_doc.h"

#define YD_MAX_FILE (4u << 20)
#define YD_MAX_DEPTH 64
#define YD_MAX_NODES 200000

typedef struct {
    yaml_parser_t parser;
    const char *file;
    const char *base_dir;
    bp_diags *d;
    size_t nodes;
    int subst_failed;
} yd_ctx;

const char *bp_ykind_name(bp_ykind kind)
{
    switch (kind) {
    case BP_YSCALAR: return "a scalar";
    case BP_YMAP: return "a map";
    default: return "a list";
    }
}

static void yd_free_node(bp_ynode *n)
{
    if (n == NULL)
        return;
    free(n->value);
    free(n->raw);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            yd_free_node(n->keys[i]);
        yd_free_node(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n);
}

void bp_ydoc_free(bp_ydoc *doc)
{
    if (doc == NULL)
        return;
    yd_free_node(doc->root);
    free(doc->file);
    free(doc);
}

/* A growable byte buffer for substitution output. */
typedef struct {
    char *p;
    size_t n, cap;
} yd_buf;

static int yd_put(yd_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* Reads a whole file for ${file:PATH}; strips one trailing newline, as secret
 * files written with `echo` carry one. */
static char *yd_read_file(const char *path, size_t *len, size_t limit)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    yd_buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.n + r > limit || yd_put(&b, chunk, r) < 0) {
            free(b.p);
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b.p);
        errno = EIO;
        return NULL;
    }
    if (b.p == NULL && yd_put(&b, "", 0) < 0)
        return NULL;
    if (b.n > 0 && b.p[b.n - 1] == '\n')
        b.p[--b.n] = '\0';
    *len = b.n;
    return b.p;
}

/* Replaces ${env:NAME} and ${file:PATH} in node->value; "$${" is a literal "${". */
static void yd_substitute(yd_ctx *c, bp_ynode *node)
{
    const char *s = node->value;
    if (strchr(s, '$') == NULL)
        return;
    yd_buf out = {0};
    int failed = 0;
    size_t i = 0, n = node->len;
    while (i < n) {
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            yd_put(&out, "${", 2);
            i += 3;
            continue;
        }
        if (!(s[i] == '$' && i + 1 < n && s[i + 1] == '{')) {
            yd_put(&out, s + i, 1);
            i++;
            continue;
        }
        const char *close = memchr(s + i, '}', n - i);
        if (close == NULL) {
            bp_diags_add(c->d, c->file, node->line, node->col,
                         "unterminated '${' (write '$${' for a literal '${')");
            failed = 1;
            break;
        }
        size_t inner_len = (size_t)(close - (s + i + 2));
        char *inner = strndup(s + i + 2, inner_len);
        if (inner == NULL)
            break;
        node->substituted = 1;
        if (strncmp(inner, "env:", 4) == 0 && inner[4] != '\0') {
            const char *v = getenv(inner + 4);
            if (v == NULL) {
                bp_diags_add(c->d, c->file, node->line, node->col,
                             "environment variable '%s' is not set", inner + 4);
                failed = 1;
            } else {
                yd_put(&out, v, strlen(v));
            }
        } else if (strncmp(inner, "file:", 5) == 0 && inner[5] != '\0') {
            char *path = NULL;
            if (inner[5] == '/' || c->base_dir == NULL)
                path = strdup(inner + 5);
            else if (asprintf(&path, "%s/%s", c->base_dir, inner + 5) < 0)
                path = NULL;
            size_t flen = 0;
            char *content = path ? yd_read_file(path, &flen, 1u << 20) : NULL;
            if (content == NULL) {
                bp_diags_add(c->d, c->file, node->line, node->col,
                             "cannot read '%s' for ${file:}: %s", inner + 5, strerror(errno));
                failed = 1;
            } else {
                yd_put(&out, content, flen);
            }
            free(content);
            free(path);
        } else {
            bp_diags_add(c->d, c->file, node->line, node->col,
                         "unknown substitution '${%s}': use ${env:NAME} or ${file:PATH}", inner);
            failed = 1;
        }
        free(inner);
        i = (size_t)(close - s) + 1;
    }
    if (failed) {
        c->subst_failed = 1;
        free(out.p);
        return;
    }
    if (out.p == NULL && yd_put(&out, "", 0) < 0)
        return;
    if (node->substituted)
        node->raw = node->value;   /* kept for messages: never print what was substituted */
    else
        free(node->value);
    node->value = out.p;
    node->len = out.n;
}

static bp_ynode *yd_new(yd_ctx *c, bp_ykind kind, const yaml_mark_t *m)
{
    if (++c->nodes > YD_MAX_NODES) {
        bp_diags_add(c->d, c->file, (int)m->line + 1, (int)m->column + 1,
                     "document has more than %d nodes", YD_MAX_NODES);
        return NULL;
    }
    bp_ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->line = (int)m->line + 1;
        n->col = (int)m->column + 1;
    }
    return n;
}

static int yd_append(bp_ynode *parent, bp_ynode *key, bp_ynode *item)
{
    bp_ynode **items = realloc(parent->items, (parent->n + 1) * sizeof(*items));
    if (items == NULL)
        return -1;
    parent->items = items;
    if (parent->kind == BP_YMAP) {
        bp_ynode **keys = realloc(parent->keys, (parent->n + 1) * sizeof(*keys));
        if (keys == NULL)
            return -1;
        parent->keys = keys;
        parent->keys[parent->n] = key;
    }
    parent->items[parent->n++] = item;
    return 0;
}

static void yd_syntax_error(yd_ctx *c)
{
    const yaml_parser_t *p = &c->parser;
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
    bp_diags_add(c->d, c->file, (int)m->line + 1, (int)m->column + 1, "YAML syntax error: %s%s%s",
                 p->problem ? p->problem : "unknown problem", p->context ? " " : "",
                 p->context ? p->context : "");
}

/* Parses one node whose first event is ev (consumed by the caller's parse).
 * Returns the node, or NULL on error (already reported). */
static bp_ynode *yd_parse_node(yd_ctx *c, yaml_event_t *ev, int depth)
{
    bp_ynode *node = NULL;
    if (depth > YD_MAX_DEPTH) {
        bp_diags_add(c->d, c->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                     "nesting deeper than %d levels", YD_MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        bp_diags_add(c->d, c->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                     "YAML aliases (*%s) are not supported in site files",
                     (const char *)ev->data.alias.anchor);
        return NULL;
    case YAML_SCALAR_EVENT:
        node = yd_new(c, BP_YSCALAR, &ev->start_mark);
        if (node == NULL)
            return NULL;
        node->len = ev->data.scalar.length;
        node->value = malloc(node->len + 1);
        if (node->value == NULL) {
            free(node);
            return NULL;
        }
        memcpy(node->value, ev->data.scalar.value, node->len);
        node->value[node->len] = '\0';
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        yd_substitute(c, node);
        return node;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        node = yd_new(c, is_map ? BP_YMAP : BP_YSEQ, &ev->start_mark);
        if (node == NULL)
            return NULL;
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(&c->parser, &e)) {
                yd_syntax_error(c);
                goto fail;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                return node;
            }
            bp_ynode *key = NULL;
            if (is_map) {
                key = yd_parse_node(c, &e, depth + 1);
                yaml_event_delete(&e);
                if (key == NULL)
                    goto fail;
                if (key->kind != BP_YSCALAR) {
                    bp_diags_add(c->d, c->file, key->line, key->col, "map keys must be scalars");
                    yd_free_node(key);
                    goto fail;
                }
                for (size_t i = 0; i < node->n; i++) {
                    if (strcmp(node->keys[i]->value, key->value) == 0) {
                        bp_diags_add(c->d, c->file, key->line, key->col,
                                     "duplicate key '%s' (first at line %d)", key->value,
                                     node->keys[i]->line);
                        break;
                    }
                }
                if (!yaml_parser_parse(&c->parser, &e)) {
                    yd_syntax_error(c);
                    yd_free_node(key);
                    goto fail;
                }
            }
            bp_ynode *item = yd_parse_node(c, &e, depth + 1);
            yaml_event_delete(&e);
            if (item == NULL || yd_append(node, key, item) < 0) {
                yd_free_node(key);
                yd_free_node(item);
                goto fail;
            }
        }
    }
    default:
        bp_diags_add(c->d, c->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                     "unexpected YAML event");
        return NULL;
    }
fail:
    yd_free_node(node);
    return NULL;
}

bp_status bp_ydoc_load_string(const char *name, const char *base_dir, const char *text,
                              size_t len, bp_ydoc **out, bp_diags *d)
{
    yd_ctx c = {.file = name, .base_dir = base_dir, .d = d};
    bp_status rc = BP_ERR_PARSE;
    bp_ydoc *doc = calloc(1, sizeof(*doc));
    *out = NULL;
    if (doc == NULL || (doc->file = strdup(name)) == NULL) {
        free(doc);
        return BP_ERR_NOMEM;
    }
    if (!yaml_parser_initialize(&c.parser)) {
        bp_ydoc_free(doc);
        return BP_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    int docs = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&c.parser, &e)) {
            yd_syntax_error(&c);
            goto out;
        }
        if (e.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (e.type == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                bp_diags_add(d, name, (int)e.start_mark.line + 1, (int)e.start_mark.column + 1,
                             "a site file holds one YAML document");
                yaml_event_delete(&e);
                goto out;
            }
        } else if (e.type != YAML_STREAM_START_EVENT && e.type != YAML_DOCUMENT_END_EVENT) {
            doc->root = yd_parse_node(&c, &e, 0);
            if (doc->root == NULL) {
                yaml_event_delete(&e);
                goto out;
            }
        }
        yaml_event_delete(&e);
    }
    rc = c.subst_failed ? BP_ERR_INVALID : BP_OK;
out:
    yaml_parser_delete(&c.parser);
    if (rc == BP_OK || rc == BP_ERR_INVALID)
        *out = doc;
    else
        bp_ydoc_free(doc);
    return rc;
}

bp_status bp_ydoc_load_file(const char *path, bp_ydoc **out, bp_diags *d)
{
    size_t len = 0;
    *out = NULL;
    char *text = yd_read_file(path, &len, YD_MAX_FILE);
    if (text == NULL) {
        bp_diags_add(d, path, 0, 0, "cannot read site file: %s", strerror(errno));
        return BP_ERR_IO;
    }
    /* Relative paths everywhere in a site file (state, plugin options,
     * ${file:}) are relative to the working directory, like any CLI tool. */
    bp_status rc = bp_ydoc_load_string(path, NULL, text, len, out, d);
    free(text);
    return rc;
}

const bp_ynode *bp_ymap_get(const bp_ynode *map, const char *key)
{
    if (map == NULL || map->kind != BP_YMAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

/* YAML 1.2 core schema number: [-+]?digits, decimals, exponents, .inf/.nan excluded. */
static int yd_is_number(const char *s, double *out)
{
    char *end;
    if (*s == '\0' || strchr("+-.0123456789", *s) == NULL)
        return 0;
    if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0o", 2) == 0)
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || end == s)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p == 'n' || *p == 'N' || *p == 'i' || *p == 'I')
            return 0;   /* strtod accepts "nan"/"inf" */
    *out = v;
    return 1;
}

cJSON *bp_ynode_to_json(const bp_ynode *node)
{
    if (node == NULL)
        return cJSON_CreateNull();
    if (node->kind == BP_YSCALAR) {
        const char *s = node->value;
        double num;
        if (node->plain && !node->substituted) {
            if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
                strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
                return cJSON_CreateNull();
            if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
                return cJSON_CreateTrue();
            if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
                return cJSON_CreateFalse();
            if (yd_is_number(s, &num))
                return cJSON_CreateNumber(num);
        }
        return cJSON_CreateString(s);
    }
    cJSON *out = node->kind == BP_YMAP ? cJSON_CreateObject() : cJSON_CreateArray();
    for (size_t i = 0; out && i < node->n; i++) {
        cJSON *v = bp_ynode_to_json(node->items[i]);
        int ok = v && (node->kind == BP_YMAP ? cJSON_AddItemToObject(out, node->keys[i]->value, v)
                                             : cJSON_AddItemToArray(out, v));
        if (!ok) {
            cJSON_Delete(v);
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}
