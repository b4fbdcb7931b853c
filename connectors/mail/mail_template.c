/* Text templates over envelope paths (see mail_template.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_template.h"

typedef struct {
    char *text;      /* literal, or the path when is_path */
    int is_path;
} mt_seg;

struct mail_template {
    mt_seg *seg;
    size_t n;
};

void mail_template_free(mail_template *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->seg[i].text);
    free(t->seg);
    free(t);
}

static int mt_add(mail_template *t, const char *s, size_t len, int is_path)
{
    mt_seg *seg = realloc(t->seg, (t->n + 1) * sizeof(*seg));
    if (seg == NULL)
        return -1;
    t->seg = seg;
    seg[t->n].text = strndup(s, len);
    seg[t->n].is_path = is_path;
    return seg[t->n++].text ? 0 : -1;
}

mail_template *mail_template_new(const struct bp_host_api *api, const char *option,
                                 const char *text, char **errmsg)
{
    mail_template *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    char *lit = malloc(strlen(text) + 1);
    size_t n = 0;
    if (lit == NULL)
        goto nomem;
    for (const char *p = text; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            lit[n++] = *p;
            p += 2;
        } else if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end == NULL) {
                *errmsg = api->format("%s:%zu: '{' without a closing '}' (write {{ for a brace)",
                                      option, (size_t)(p - text) + 1);
                goto fail;
            }
            char *path = strndup(p + 1, (size_t)(end - p - 1));
            if (path == NULL)
                goto nomem;
            if (api->path_check(path) != BP_OK) {
                *errmsg = api->format("%s:%zu: '%s' is not an envelope path", option,
                                      (size_t)(p - text) + 2, path);
                free(path);
                goto fail;
            }
            free(path);
            if ((n && mt_add(t, lit, n, 0) < 0) || mt_add(t, p + 1, (size_t)(end - p - 1), 1) < 0)
                goto nomem;
            n = 0;
            p = end + 1;
        } else {
            lit[n++] = *p++;
        }
    }
    if (n && mt_add(t, lit, n, 0) < 0)
        goto nomem;
    free(lit);
    return t;
nomem:
    *errmsg = api->format("out of memory");
fail:
    free(lit);
    mail_template_free(t);
    return NULL;
}

char *mail_template_render(const mail_template *t, const struct bp_host_api *api,
                           const bp_envelope *env)
{
    /* json_append grows this buffer with realloc too. */
    size_t len = 0, cap = 64;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        const char *s = t->seg[i].text;
        if (t->seg[i].is_path) {
            const cJSON *v = api->envelope_get0_path(env, s);
            if (v == NULL || cJSON_IsNull(v))
                continue;
            if (!cJSON_IsString(v)) {
                if (api->json_append(v, &buf, &len, &cap) != BP_OK) {
                    free(buf);
                    return NULL;
                }
                continue;
            }
            s = v->valuestring;
        }
        size_t n = strlen(s);
        if (len + n + 1 > cap) {
            while (len + n + 1 > cap)
                cap *= 2;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        memcpy(buf + len, s, n + 1);
        len += n;
    }
    return buf;
}
