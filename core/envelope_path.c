/* Paths into an envelope: "subject", "confidence", "data", "data.a.b",
 * "data.lines[0].amount". One tokenizer serves get, set, remove and check, so
 * the set plugin and predicates agree on what a path means. */
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include "envelope_int.h"
#include "envelope_priv.h"

/* One step of a path: a key (ptr/len) or an array index. */
typedef struct {
    const char *key;
    size_t len;
    long index;     /* >= 0 for [N] steps */
} ep_step;

/* Reads the next step at *p. Returns 1 with *st filled, 0 at the end, -1 on a
 * syntax error. The first step must be a key. */
static int ep_next(const char **p, ep_step *st, int first)
{
    const char *s = *p;
    if (*s == '\0')
        return 0;
    if (*s == '[') {
        if (first)
            return -1;
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        long n = 0;
        while (*s >= '0' && *s <= '9') {
            if (n > 100000000)
                return -1;
            n = n * 10 + (*s - '0');
            s++;
        }
        if (*s != ']')
            return -1;
        s++;
        if (*s != '\0' && *s != '.' && *s != '[')
            return -1;
        st->key = NULL;
        st->len = 0;
        st->index = n;
        *p = s;
        return 1;
    }
    if (!first) {
        if (*s != '.')
            return -1;
        s++;
    }
    const char *k = s;
    while (*s && *s != '.' && *s != '[' && *s != ']' && (unsigned char)*s > ' ')
        s++;
    if (s == k || (*s != '\0' && *s != '.' && *s != '['))
        return -1;
    st->key = k;
    st->len = (size_t)(s - k);
    st->index = -1;
    *p = s;
    return 1;
}

static cJSON *ep_child(const cJSON *node, const ep_step *st)
{
    if (st->index >= 0) {
        if (!cJSON_IsArray(node) || st->index >= cJSON_GetArraySize(node))
            return NULL;
        return cJSON_GetArrayItem(node, (int)st->index);
    }
    if (!cJSON_IsObject(node))
        return NULL;
    for (cJSON *c = node->child; c; c = c->next)
        if (c->string && strlen(c->string) == st->len && memcmp(c->string, st->key, st->len) == 0)
            return c;
    return NULL;
}

static int ep_is(const ep_step *st, const char *word)
{
    return st->index < 0 && strlen(word) == st->len && memcmp(st->key, word, st->len) == 0;
}

bp_status bp_path_check(const char *path)
{
    ep_step st;
    int r, first = 1;
    if (path == NULL || *path == '\0')
        return BP_ERR_PARSE;
    while ((r = ep_next(&path, &st, first)) == 1)
        first = 0;
    return r == 0 ? BP_OK : BP_ERR_PARSE;
}

/* Resolves the first step: the cJSON node it names (may be NULL) and whether it
 * is data, an attribute or an extension. */
enum ep_root { EP_DATA, EP_ATTR, EP_EXT };

static enum ep_root ep_root_of(const ep_step *st)
{
    if (ep_is(st, "data"))
        return EP_DATA;
    if (st->index < 0 && bp_env_attr_index(st->key, st->len) >= 0)
        return EP_ATTR;
    return EP_EXT;
}

const cJSON *bp_envelope_get0_path(const bp_envelope *env, const char *path)
{
    ep_step st;
    int r;
    if (env == NULL || path == NULL || ep_next(&path, &st, 1) != 1)
        return NULL;
    const cJSON *node;
    switch (ep_root_of(&st)) {
    case EP_DATA: node = bp_env_data(env); break;
    case EP_ATTR: node = bp_env_attr_node(env, bp_env_attr_index(st.key, st.len)); break;
    default: node = ep_child(env->ext, &st); break;
    }
    while (node != NULL && (r = ep_next(&path, &st, 0)) == 1)
        node = ep_child(node, &st);
    if (node != NULL && *path != '\0')
        return NULL;   /* syntax error after a valid prefix */
    return node;
}

/* Copies a step's key into a new NUL-terminated string. */
static char *ep_key(const ep_step *st)
{
    char *k = malloc(st->len + 1);
    if (k) {
        memcpy(k, st->key, st->len);
        k[st->len] = '\0';
    }
    return k;
}

/* Would setting the data path p (the part after "data") succeed? Mirrors the
 * walk of bp_envelope_set0_path: missing keys become objects, or arrays when the
 * next step is an index; an index may only replace or append (== size). */
static int ep_can_set(const cJSON *data, const char *p)
{
    ep_step st, next;
    const cJSON *node = data;
    int virt = data == NULL, virt_array = 0;
    if (ep_next(&p, &st, 0) != 1)
        return 0;
    for (;;) {
        int more = ep_next(&p, &next, 0);
        if (more < 0)
            return 0;
        if (more == 0) {
            if (virt)
                return st.index >= 0 ? (virt_array && st.index == 0) : !virt_array;
            if (st.index >= 0)
                return cJSON_IsArray(node) && st.index <= cJSON_GetArraySize(node);
            return cJSON_IsObject(node);
        }
        if (!virt) {
            const cJSON *child = ep_child(node, &st);
            if (child != NULL) {
                node = child;
            } else {
                if (st.index >= 0 || !cJSON_IsObject(node))
                    return 0;
                virt = 1;
                virt_array = next.index >= 0;
            }
        } else {
            if (st.index >= 0 || virt_array)
                return 0;
            virt_array = next.index >= 0;
        }
        st = next;
    }
}

bp_status bp_envelope_set0_path(bp_envelope *env, const char *path, cJSON *value)
{
    ep_step st, next;
    bp_status rc = BP_ERR_INVALID;
    char *name = NULL;
    if (env == NULL || path == NULL || value == NULL || !bp_envelope_is_writable(env) ||
        bp_path_check(path) != BP_OK || ep_next(&path, &st, 1) != 1)
        goto out;
    enum ep_root root = ep_root_of(&st);
    if (root != EP_DATA) {
        if (*path != '\0' || (name = ep_key(&st)) == NULL)
            goto out;
        if (root == EP_ATTR) {
            if (!cJSON_IsString(value))
                goto out;
            rc = bp_envelope_set_attr(env, name, value->valuestring);
            cJSON_Delete(value);
            value = NULL;
        } else {
            rc = bp_envelope_set0_ext(env, name, value);
            value = NULL;
        }
        goto out;
    }
    /* data: walk, creating objects for missing keys. */
    if (*path == '\0') {
        rc = bp_envelope_set0_data(env, value);
        value = NULL;
        goto out;
    }
    /* Check first, change after: a refused set must leave no half-built
     * objects behind (the caller assumes nothing happened). */
    if (!ep_can_set(bp_env_data(env), path))
        goto out;
    if (env->data == NULL && (env->data = cJSON_CreateObject()) == NULL) {
        rc = BP_ERR_NOMEM;
        goto out;
    }
    env->data_b64 = 0;
    cJSON *node = env->data;
    if (ep_next(&path, &st, 0) != 1)
        goto out;
    for (;;) {
        int more = ep_next(&path, &next, 0);
        if (more < 0)
            goto out;
        if (more == 0) {
            /* st is the last step: put value there. */
            if (st.index >= 0) {
                if (!cJSON_IsArray(node))
                    goto out;
                int size = cJSON_GetArraySize(node);
                if (st.index > size)
                    goto out;
                if (st.index == size) {
                    if (!cJSON_AddItemToArray(node, value)) {
                        rc = BP_ERR_NOMEM;
                        goto out;
                    }
                } else if (!cJSON_ReplaceItemInArray(node, (int)st.index, value)) {
                    rc = BP_ERR_NOMEM;
                    goto out;
                }
                value = NULL;
                rc = BP_OK;
                goto out;
            }
            free(name);
            if (!cJSON_IsObject(node) || (name = ep_key(&st)) == NULL)
                goto out;
            cJSON *old = cJSON_GetObjectItemCaseSensitive(node, name);
            int ok = old ? cJSON_ReplaceItemInObjectCaseSensitive(node, name, value)
                         : cJSON_AddItemToObject(node, name, value);
            if (!ok) {
                rc = BP_ERR_NOMEM;
                goto out;
            }
            value = NULL;
            rc = BP_OK;
            goto out;
        }
        cJSON *child = ep_child(node, &st);
        if (child == NULL) {
            if (st.index >= 0 || !cJSON_IsObject(node))
                goto out;
            free(name);
            if ((name = ep_key(&st)) == NULL ||
                (child = next.index >= 0 ? cJSON_AddArrayToObject(node, name)
                                         : cJSON_AddObjectToObject(node, name)) == NULL) {
                rc = BP_ERR_NOMEM;
                goto out;
            }
        }
        node = child;
        st = next;
    }
out:
    free(name);
    cJSON_Delete(value);
    return rc;
}

bp_status bp_envelope_remove_path(bp_envelope *env, const char *path)
{
    ep_step st;
    const char *p = path;
    if (env == NULL || path == NULL || !bp_envelope_is_writable(env) ||
        bp_path_check(path) != BP_OK || ep_next(&p, &st, 1) != 1)
        return BP_ERR_INVALID;
    enum ep_root root = ep_root_of(&st);
    if (root != EP_DATA && *p == '\0') {
        char *name = ep_key(&st);
        if (name == NULL)
            return BP_ERR_NOMEM;
        bp_status rc = BP_OK;
        if (root == EP_ATTR) {
            if (bp_envelope_get0_attr(env, name) == NULL)
                rc = BP_ERR_NOT_FOUND;
            else
                rc = bp_envelope_set_attr(env, name, NULL);
        } else if (cJSON_GetObjectItemCaseSensitive(env->ext, name) == NULL) {
            rc = BP_ERR_NOT_FOUND;
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(env->ext, name);
        }
        free(name);
        return rc;
    }
    if (root != EP_DATA)
        return BP_ERR_NOT_FOUND;   /* attributes and extensions have no children */
    if (*p == '\0') {
        if (bp_env_data(env) == NULL)
            return BP_ERR_NOT_FOUND;
        return bp_envelope_set0_data(env, NULL);
    }
    /* Find the parent of the last step, then detach the child. */
    cJSON *node = bp_env_data(env), *parent = NULL;
    while (node != NULL && ep_next(&p, &st, 0) == 1) {
        parent = node;
        node = ep_child(node, &st);
    }
    if (node == NULL || parent == NULL)
        return BP_ERR_NOT_FOUND;
    cJSON_Delete(cJSON_DetachItemViaPointer(parent, node));
    return BP_OK;
}
