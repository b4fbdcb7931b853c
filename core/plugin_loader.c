/* See plugin_loader.h. The descriptor is copied into a zeroed struct up to the
 * plugin's struct_size: fields a plugin built against an older minor SDK does
 * not know stay NULL, and nothing beyond its struct is ever read (the Fluent Bit
 * crash, fluent-bit#6519, came from memcpy'ing a descriptor without a size). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <unistd.h>

#include "bp_build_config.h"
#include "options.h"
#include "plugin_loader.h"
#include "self_path.h"
#include "strutil.h"

struct bp_registry {
    char **dirs;
    size_t n_dirs;
    char *dirs_str;
    bp_plugin_lib **libs;
    size_t n_libs;
};

/* The smallest descriptor we accept: up to and including `kinds`. */
#define LOADER_MIN_SIZE (offsetof(struct bp_plugin, kinds) + sizeof(uint32_t))

bp_registry *bp_registry_new(void)
{
    return calloc(1, sizeof(bp_registry));
}

void bp_plugin_lib_free(bp_plugin_lib *lib)
{
    if (lib == NULL)
        return;
    if (lib->handle)
        dlclose(lib->handle);
    bp_options_normalized_free(lib->options_copy, lib->options_stride);
    free(lib->path);
    free(lib);
}

void bp_registry_free(bp_registry *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->n_dirs; i++)
        free(reg->dirs[i]);
    free(reg->dirs);
    free(reg->dirs_str);
    for (size_t i = 0; i < reg->n_libs; i++)
        bp_plugin_lib_free(reg->libs[i]);
    free(reg->libs);
    free(reg);
}

bp_status bp_registry_add_dir(bp_registry *reg, const char *dir, char **errmsg)
{
    struct stat st;
    *errmsg = NULL;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *errmsg = bp_strfmt("plugin directory %s: %s", dir,
                             errno ? strerror(errno) : "not a directory");
        return BP_ERR_NOT_FOUND;
    }
    if (st.st_mode & S_IWOTH) {
        *errmsg = bp_strfmt("plugin directory %s is world-writable: refusing to load plugins "
                             "from it (chmod o-w)", dir);
        return BP_ERR_INVALID;
    }
    for (size_t i = 0; i < reg->n_dirs; i++)
        if (strcmp(reg->dirs[i], dir) == 0)
            return BP_OK;
    char **dirs = realloc(reg->dirs, (reg->n_dirs + 1) * sizeof(*dirs));
    if (dirs == NULL)
        return BP_ERR_NOMEM;
    reg->dirs = dirs;
    if ((reg->dirs[reg->n_dirs] = strdup(dir)) == NULL)
        return BP_ERR_NOMEM;
    reg->n_dirs++;
    return BP_OK;
}

bp_status bp_registry_add_path(bp_registry *reg, const char *list, char **errmsg)
{
    *errmsg = NULL;
    if (list == NULL)
        return BP_OK;
    char *copy = strdup(list), *save = NULL;
    bp_status rc = copy ? BP_OK : BP_ERR_NOMEM;
    for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
        bp_status st = bp_registry_add_dir(reg, d, errmsg);
        if (st == BP_ERR_NOT_FOUND) {
            free(*errmsg);
            *errmsg = NULL;
            continue;
        }
        if (st != BP_OK) {
            rc = st;
            break;
        }
    }
    free(copy);
    return rc;
}

/* A default directory: missing is fine (a build without that folder, a
 * prefix where nothing was installed yet), refused is reported. */
static bp_status loader_add_default(bp_registry *reg, const char *dir, char **errmsg)
{
    bp_status st = bp_registry_add_dir(reg, dir, errmsg);
    if (st == BP_ERR_NOT_FOUND) {
        free(*errmsg);
        *errmsg = NULL;
        return BP_OK;
    }
    return st;
}

bp_status bp_registry_add_default_dirs(bp_registry *reg, char **errmsg)
{
    *errmsg = NULL;
    const char *root = bp_self_build_root();
    if (root == NULL)
        return loader_add_default(reg, BP_PLUGIN_INSTALL_DIR, errmsg);
    /* Uninstalled: this build's own plugins and nothing installed, whose
     * ABI may be another build's. The trust checks (issue 16 #5) hold for
     * the build tree as for any directory. */
    static const char *const subs[] = {"connectors", "plugins"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char *dir = bp_strfmt("%s/%s", root, subs[i]);
        if (dir == NULL)
            return BP_ERR_NOMEM;
        bp_status st = loader_add_default(reg, dir, errmsg);
        free(dir);
        if (st != BP_OK)
            return st;
    }
    return BP_OK;
}

const char *bp_registry_dirs(bp_registry *reg)
{
    size_t len = 1;
    for (size_t i = 0; i < reg->n_dirs; i++)
        len += strlen(reg->dirs[i]) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return "";
    s[0] = '\0';
    for (size_t i = 0; i < reg->n_dirs; i++) {
        if (i)
            strcat(s, ":");
        strcat(s, reg->dirs[i]);
    }
    free(reg->dirs_str);
    reg->dirs_str = s;
    return s;
}

/* ---- issue 16 #5 (hardening): who may have written the code we load ----
 * One component of a plugin's path: its owner must be root or the running
 * user, and nobody else may write it; a root-owned sticky directory (/tmp)
 * above the plugin's own directory is allowed, since others cannot replace
 * what is ours in it. NULL when fine, else the reason (malloc'ed). */
static char *loader_check_one(const char *comp, const struct stat *st, int is_ancestor)
{
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return bp_strfmt("%s is owned by uid %u, neither root nor the running user", comp,
                         (unsigned)st->st_uid);
    int sticky_root = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0;
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(is_ancestor && sticky_root))
        return bp_strfmt("%s is writable by group or others (mode %04o): chmod go-w", comp,
                         (unsigned)(st->st_mode & 07777));
    return NULL;
}

/* Checks path and every directory above it, from / down; use_lstat: the
 * path as written (symlinks are skipped: their targets are checked through
 * the resolved path). The plugin's own directory counts as an ancestor only
 * from its parent up. NULL when fine, else the reason (malloc'ed). */
static char *loader_check_chain(const char *abs, int use_lstat)
{
    char *buf = strdup(abs);
    if (buf == NULL)
        return bp_strfmt("out of memory");
    size_t len = strlen(buf);
    /* Components end at each '/' after the first, and at the end; the file
     * and its directory are the last two. */
    size_t n_comp = 0;
    for (size_t i = 1; i <= len; i++)
        if (buf[i] == '/' || buf[i] == '\0')
            n_comp++;
    char *why = NULL;
    struct stat st;
    if (stat("/", &st) == 0)
        why = loader_check_one("/", &st, n_comp >= 2);
    size_t k = 0;
    for (size_t i = 1; why == NULL && i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char save = buf[i];
        buf[i] = '\0';
        k++;
        int rc = use_lstat ? lstat(buf, &st) : stat(buf, &st);
        if (rc != 0)
            why = bp_strfmt("%s: %s", buf, strerror(errno));
        else if (!(use_lstat && S_ISLNK(st.st_mode)))
            why = loader_check_one(buf, &st, k + 2 <= n_comp);
        buf[i] = save;
    }
    free(buf);
    return why;
}

/* Refuses a plugin that someone other than root or us could have written:
 * the .so, its directory and every parent, for the path as found and for
 * where its symlinks lead. BP_OK, or BP_ERR_INVALID with *errmsg. */
static bp_status loader_check_trust(const char *path, char **errmsg)
{
    char *abs = NULL, *why = NULL;
    if (path[0] == '/') {
        abs = strdup(path);
    } else {
        char cwd[4096];
        abs = getcwd(cwd, sizeof(cwd)) ? bp_strfmt("%s/%s", cwd, path) : NULL;
    }
    if (abs == NULL)
        return BP_OK;   /* cannot tell: dlopen reports what is wrong with the path */
    struct stat st;
    if (lstat(abs, &st) != 0) {
        free(abs);
        return BP_OK;   /* missing: dlopen's own error says so */
    }
    why = loader_check_chain(abs, 1);
    char *real = why ? NULL : realpath(abs, NULL);
    if (why == NULL && real && strcmp(real, abs) != 0) {
        char *w = loader_check_chain(real, 0);
        if (w) {
            why = bp_strfmt("it resolves to %s, and %s", real, w);
            free(w);
        }
    }
    free(real);
    free(abs);
    if (why == NULL)
        return BP_OK;
    *errmsg = bp_strfmt("%s: refusing to load: %s", path, why);
    free(why);
    return BP_ERR_INVALID;
}

bp_status bp_plugin_lib_load(const char *path, bp_plugin_lib **out, char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    if (loader_check_trust(path, errmsg) != BP_OK)
        return BP_ERR_INVALID;
    /* RTLD_LOCAL: two plugins may use the same static names without clashing. */
    /* RTLD_NODELETE: code stays mapped after dlclose, so a late callback from a
     * library thread cannot jump into unmapped memory, and sanitizer reports
     * at exit can still name plugin frames. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h == NULL) {
        *errmsg = bp_strfmt("%s: cannot load: %s", path, dlerror());
        return BP_ERR_IO;
    }
    bp_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, BP_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        *errmsg = bp_strfmt("%s: not a backplane plugin: no symbol %s", path,
                             BP_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return BP_ERR_ABI;
    }
    const struct bp_plugin *d = entry();
    bp_status rc = BP_ERR_ABI;
    if (d == NULL) {
        *errmsg = bp_strfmt("%s: %s() returned NULL", path, BP_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    if (d->abi_major != BP_ABI_MAJOR) {
        *errmsg = bp_strfmt("%s: plugin ABI %u.%u, this host speaks ABI %d.x: rebuild the "
                             "plugin against a matching backplane SDK",
                             path, d->abi_major, d->abi_minor, BP_ABI_MAJOR);
        goto fail;
    }
    if (d->struct_size < LOADER_MIN_SIZE) {
        *errmsg = bp_strfmt("%s: descriptor struct_size %u is smaller than the minimum %zu",
                             path, d->struct_size, (size_t)LOADER_MIN_SIZE);
        goto fail;
    }
    /* min_host_minor (ABI 1.3) is read only when the descriptor holds it. A
     * plugin asking for a newer host would find NULL entries it calls without
     * BP_HOST_HAS: refuse it now, by both versions, not crash later. */
    if (d->struct_size >= offsetof(struct bp_plugin, min_host_minor) + sizeof(uint32_t) &&
        d->min_host_minor > BP_ABI_MINOR) {
        *errmsg = bp_strfmt("%s: plugin needs host ABI %u.%u or newer (built against %u.%u), "
                             "this host speaks ABI %d.%d: upgrade backplane, or rebuild the "
                             "plugin with a lower min_host_minor",
                             path, d->abi_major, d->min_host_minor, d->abi_major, d->abi_minor,
                             BP_ABI_MAJOR, BP_ABI_MINOR);
        goto fail;
    }
    bp_plugin_lib *lib = calloc(1, sizeof(*lib));
    if (lib == NULL || (lib->path = strdup(path)) == NULL) {
        free(lib);
        rc = BP_ERR_NOMEM;
        goto fail;
    }
    size_t n = d->struct_size < sizeof(lib->desc) ? d->struct_size : sizeof(lib->desc);
    memcpy(&lib->desc, d, n);
    lib->handle = h;
    /* Option arrays are read with the plugin's own entry size (ABI 1.3
     * option_size; the 1.2 size before it): a copy in this host's layout. */
    if (lib->desc.options && lib->desc.option_size != sizeof(struct bp_option)) {
        lib->options_stride = lib->desc.option_size;
        lib->options_copy = bp_options_normalize(lib->desc.options, lib->options_stride);
        if (lib->options_copy == NULL) {
            lib->handle = NULL;
            bp_plugin_lib_free(lib);
            rc = BP_ERR_NOMEM;
            goto fail;
        }
        lib->desc.options = lib->options_copy;
    }
    if (lib->desc.name == NULL || lib->desc.name[0] == '\0') {
        *errmsg = bp_strfmt("%s: descriptor has no name", path);
        lib->handle = NULL;
        bp_plugin_lib_free(lib);
        goto fail;
    }
    *out = lib;
    return BP_OK;
fail:
    dlclose(h);
    return rc;
}

/* path of dir/NAME.so or dir/<sub>/NAME.so, or NULL. */
static char *loader_find(const char *dir, const char *name)
{
    char *p = bp_strfmt("%s/%s.so", dir, name);
    if (p && access(p, F_OK) == 0)
        return p;
    free(p);
    DIR *dd = opendir(dir);
    if (dd == NULL)
        return NULL;
    struct dirent *e;
    char *found = NULL;
    while (!found && (e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        p = bp_strfmt("%s/%s/%s.so", dir, e->d_name, name);
        if (p && access(p, F_OK) == 0)
            found = p;
        else
            free(p);
    }
    closedir(dd);
    return found;
}

static int loader_valid_name(const char *name)
{
    if (name == NULL || *name == '\0' || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

bp_status bp_registry_open(bp_registry *reg, const char *name, const bp_plugin_lib **out,
                           char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    for (size_t i = 0; i < reg->n_libs; i++) {
        if (strcmp(reg->libs[i]->desc.name, name) == 0) {
            *out = reg->libs[i];
            return BP_OK;
        }
    }
    if (!loader_valid_name(name)) {
        *errmsg = bp_strfmt("invalid plugin name '%s' (use a-z, 0-9, _ and -)", name);
        return BP_ERR_INVALID;
    }
    char *path = NULL;
    for (size_t i = 0; i < reg->n_dirs && path == NULL; i++)
        path = loader_find(reg->dirs[i], name);
    if (path == NULL) {
        *errmsg = bp_strfmt("plugin '%s' not found (searched: %s)", name,
                             reg->n_dirs ? bp_registry_dirs(reg) : "no plugin directories");
        return BP_ERR_NOT_FOUND;
    }
    bp_plugin_lib *lib;
    bp_status st = bp_plugin_lib_load(path, &lib, errmsg);
    if (st != BP_OK) {
        free(path);
        return st;
    }
    if (strcmp(lib->desc.name, name) != 0) {
        *errmsg = bp_strfmt("%s: file is named '%s.so' but the plugin calls itself '%s'", path,
                             name, lib->desc.name);
        free(path);
        bp_plugin_lib_free(lib);
        return BP_ERR_INVALID;
    }
    free(path);
    bp_plugin_lib **libs = realloc(reg->libs, (reg->n_libs + 1) * sizeof(*libs));
    if (libs == NULL) {
        bp_plugin_lib_free(lib);
        return BP_ERR_NOMEM;
    }
    reg->libs = libs;
    reg->libs[reg->n_libs++] = lib;
    *out = lib;
    return BP_OK;
}

static void loader_scan_dir(bp_registry *reg, const char *dir, int depth, char ***seen,
                            size_t *n_seen, bp_registry_visit_fn fn, void *ud)
{
    DIR *dd = opendir(dir);
    if (dd == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = bp_strfmt("%s/%s", dir, e->d_name);
        struct stat st;
        if (p == NULL || stat(p, &st) != 0) {
            free(p);
            continue;
        }
        size_t len = strlen(e->d_name);
        if (S_ISDIR(st.st_mode) && depth == 0) {
            loader_scan_dir(reg, p, 1, seen, n_seen, fn, ud);
        } else if (S_ISREG(st.st_mode) && len > 3 && strcmp(e->d_name + len - 3, ".so") == 0) {
            char *name = strndup(e->d_name, len - 3);
            int dup = 0;
            for (size_t i = 0; name && i < *n_seen; i++)
                dup |= strcmp((*seen)[i], name) == 0;
            if (name && !dup) {
                char **s = realloc(*seen, (*n_seen + 1) * sizeof(*s));
                if (s) {
                    *seen = s;
                    s[(*n_seen)++] = name;
                    name = NULL;
                }
                bp_plugin_lib *lib = NULL;
                char *err = NULL;
                bp_plugin_lib_load(p, &lib, &err);
                fn(lib, p, err, ud);
                bp_plugin_lib_free(lib);
                free(err);
            }
            free(name);
        }
        free(p);
    }
    closedir(dd);
}

void bp_registry_scan(bp_registry *reg, bp_registry_visit_fn fn, void *ud)
{
    char **seen = NULL;
    size_t n_seen = 0;
    for (size_t i = 0; i < reg->n_dirs; i++)
        loader_scan_dir(reg, reg->dirs[i], 0, &seen, &n_seen, fn, ud);
    for (size_t i = 0; i < n_seen; i++)
        free(seen[i]);
    free(seen);
}

const char *bp_plugin_kinds_str(uint32_t kinds, char *buf, size_t len)
{
    static const char *const names[] = {"source", "sink", "transform", "lookup"};
    buf[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (!(kinds & (1u << i)))
            continue;
        if (buf[0])
            strncat(buf, ",", len - strlen(buf) - 1);
        strncat(buf, names[i], len - strlen(buf) - 1);
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "none");
    return buf;
}
