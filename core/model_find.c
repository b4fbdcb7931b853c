/* The host's model_find (ABI 1.3): `model: invoices` names a shipped model
 * instead of a path into the source tree. Search order, first hit wins:
 *   NAME itself, when it holds a '/' or ends in ".model" and exists;
 *   NAME relative to the site file's directory, when it holds a '/' or ends
 *   in ".model" (a path in a site file means the same from any working
 *   directory, as BP_OPT_PATH options do);
 *   the site file's directory and its models/ folder;
 *   each directory of $BP_MODEL_PATH;
 *   the source tree's plugins/<plugin>/models, then plugins/ 's other model
 *   folders, only for a backplane running from its build directory;
 *   the installed <datadir>/backplane/models.
 * In each directory NAME.model, then NAME. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bp_build_config.h"
#include "model_find.h"
#include "runtime.h"
#include "self_path.h"
#include "strutil.h"

typedef struct {
    char **dirs;
    size_t n;
} mf_dirs;

static void mf_add(mf_dirs *d, char *dir)
{
    if (dir == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->dirs[i], dir) == 0) {
            free(dir);
            return;
        }
    char **p = realloc(d->dirs, (d->n + 1) * sizeof(*p));
    if (p == NULL) {
        free(dir);
        return;
    }
    d->dirs = p;
    d->dirs[d->n++] = dir;
}

static int mf_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The program runs from a build tree (self_path.h), or the plugin was
 * loaded from this library's own build tree. */
static int mf_from_build_tree(const bp_instance *inst)
{
    if (bp_self_build_root() != NULL)
        return 1;
    return inst && inst->lib && bp_path_inside(inst->lib->path, BP_BUILD_ROOT);
}

bp_status bp_model_find(bp_instance *inst, const char *name, char **path, char **errmsg)
{
    *path = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (name == NULL || *name == '\0') {
        if (errmsg)
            *errmsg = bp_strfmt("model: no name given");
        return BP_ERR_INVALID;
    }
    size_t len = strlen(name);
    int pathlike = strchr(name, '/') != NULL || (len > 6 && strcmp(name + len - 6, ".model") == 0);
    const char *site_dir = inst && inst->rt ? bp_runtime_site_dir(inst->rt) : NULL;
    if (pathlike && name[0] != '/' && site_dir) {
        char *p = bp_strfmt("%s/%s", site_dir, name);
        if (p && mf_is_file(p)) {
            *path = p;
            return BP_OK;
        }
        free(p);
    }
    if (pathlike && mf_is_file(name)) {
        *path = strdup(name);
        return *path ? BP_OK : BP_ERR_NOMEM;
    }
    mf_dirs d = {0};
    if (site_dir) {
        mf_add(&d, strdup(site_dir));
        mf_add(&d, bp_strfmt("%s/models", site_dir));
    } else if (inst != NULL) {
        mf_add(&d, strdup("."));
        mf_add(&d, strdup("models"));
    }
    const char *env = getenv("BP_MODEL_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *p = copy ? strtok_r(copy, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save))
            mf_add(&d, strdup(p));
        free(copy);
    }
    if (mf_from_build_tree(inst)) {
        if (inst && inst->lib)
            mf_add(&d, bp_strfmt("%s/plugins/%s/models", BP_SOURCE_ROOT, inst->lib->desc.name));
        char *plugins = bp_strfmt("%s/plugins", BP_SOURCE_ROOT);
        DIR *dd = plugins ? opendir(plugins) : NULL;
        struct dirent *e;
        /* Sorted would be nicer; readdir order is stable enough for one tree,
         * and the plugin's own folder came first. */
        while (dd && (e = readdir(dd)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *m = bp_strfmt("%s/%s/models", plugins, e->d_name);
            struct stat st;
            if (m && stat(m, &st) == 0 && S_ISDIR(st.st_mode))
                mf_add(&d, m);
            else
                free(m);
        }
        if (dd)
            closedir(dd);
        free(plugins);
    }
    mf_add(&d, strdup(BP_MODEL_INSTALL_DIR));
    bp_status rc = BP_ERR_NOT_FOUND;
    for (size_t i = 0; i < d.n && rc == BP_ERR_NOT_FOUND; i++) {
        for (int plain = 0; plain < 2 && rc == BP_ERR_NOT_FOUND; plain++) {
            char *p = bp_strfmt(plain ? "%s/%s" : "%s/%s.model", d.dirs[i], name);
            if (p && mf_is_file(p)) {
                *path = p;
                rc = BP_OK;
            } else {
                free(p);
            }
        }
    }
    if (rc != BP_OK && errmsg) {
        size_t total = 1;
        for (size_t i = 0; i < d.n; i++)
            total += strlen(d.dirs[i]) + 2;
        char *list = malloc(total);
        if (list) {
            list[0] = '\0';
            for (size_t i = 0; i < d.n; i++) {
                if (i)
                    strcat(list, ", ");
                strcat(list, d.dirs[i]);
            }
        }
        *errmsg = bp_strfmt("model '%s' not found (searched %s%s; give a path, or add its "
                            "directory to BP_MODEL_PATH)",
                            name, pathlike ? "the path itself, then " : "", list ? list : "");
        free(list);
    }
    for (size_t i = 0; i < d.n; i++)
        free(d.dirs[i]);
    free(d.dirs);
    return rc;
}
