/* The workbench's static files. See web_static.h. */
#include "web_static.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_build_config.h"

static const struct {
    const char *url, *file, *type;
} ws_files[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/index.html", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/app.css", "app.css", "text/css; charset=utf-8"},
    {NULL, NULL, NULL},
};

static void ws_dir(char *buf, size_t n)
{
    const char *env = getenv("BP_WEB_DIR");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    Dl_info info;
    size_t root = strlen(BP_BUILD_ROOT);
    if (dladdr((void *)ws_dir, &info) && info.dli_fname &&
        strncmp(info.dli_fname, BP_BUILD_ROOT, root) == 0 && info.dli_fname[root] == '/') {
        snprintf(buf, n, "%s/web", BP_SOURCE_ROOT);
        return;
    }
    snprintf(buf, n, "%s", BP_WEB_INSTALL_DIR);
}

unsigned bp_web_static(const char *url, char **body, size_t *len, const char **type)
{
    *body = NULL;
    *len = 0;
    for (size_t i = 0; ws_files[i].url; i++) {
        if (strcmp(url, ws_files[i].url) != 0)
            continue;
        char dir[PATH_MAX], path[PATH_MAX + 32];
        ws_dir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/%s", dir, ws_files[i].file);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            return 404;
        char *b = NULL;
        size_t n = 0, cap = 0;
        for (;;) {
            if (n == cap) {
                if (cap > (8u << 20))
                    break;   /* no workbench file is this large */
                cap = cap ? cap * 2 : 65536;
                char *nb = realloc(b, cap);
                if (nb == NULL)
                    break;
                b = nb;
            }
            size_t got = fread(b + n, 1, cap - n, f);
            if (got == 0)
                break;
            n += got;
        }
        int bad = ferror(f) || !feof(f);
        fclose(f);
        if (bad || b == NULL) {
            free(b);
            return 404;
        }
        *body = b;
        *len = n;
        *type = ws_files[i].type;
        return 200;
    }
    return 404;
}
