/* Finding and loading plugin .so files. Reads a descriptor without running any
 * plugin code other than bp_plugin_entry(), so `backplane plugins` and `check`
 * work without connecting anywhere. */
#ifndef BP_CORE_PLUGIN_LOADER_H
#define BP_CORE_PLUGIN_LOADER_H

#include <stddef.h>
#include <backplane/plugin.h>

typedef struct bp_plugin_lib {
    char *path;               /* the .so file */
    void *handle;             /* dlopen handle */
    struct bp_plugin desc;    /* the descriptor, zero beyond its struct_size */
    /* ---- ABI 1.3 (core3-options) ---- */
    struct bp_option *options_copy; /* desc.options read with the plugin's option_size,
                                     * when it differs from this host's (else NULL) */
    size_t options_stride;
} bp_plugin_lib;

typedef struct bp_registry bp_registry;

bp_registry *bp_registry_new(void);
void bp_registry_free(bp_registry *reg);

/* Adds a directory to the search path (searched in the order added). Refuses
 * (BP_ERR_INVALID, *errmsg malloc'ed) a world-writable directory: anyone could
 * plant code there. A directory that does not exist is BP_ERR_NOT_FOUND. */
bp_status bp_registry_add_dir(bp_registry *reg, const char *dir, char **errmsg);

/* Adds every directory of a colon-separated list (e.g. $BP_PLUGIN_PATH);
 * missing directories are skipped; errors as bp_registry_add_dir. */
bp_status bp_registry_add_path(bp_registry *reg, const char *list, char **errmsg);

/* Adds the directories searched last: the plugin install directory
 * (<libdir>/backplane/plugins), or, for a program run from its meson build
 * tree (see self_path.h), that tree's connectors/ and plugins/ instead.
 * Missing directories are skipped; BP_ERR_INVALID (*errmsg malloc'ed) as
 * bp_registry_add_dir for one that is refused. Thread: any, before loading. */
bp_status bp_registry_add_default_dirs(bp_registry *reg, char **errmsg);

/* Finds NAME.so (in each directory, then one level of subdirectories) and loads
 * it once. On success *out is borrowed from the registry. On failure returns
 * BP_ERR_NOT_FOUND (no such plugin: message lists the directories searched) or
 * the load error, with one line in *errmsg naming the file and the reason. */
bp_status bp_registry_open(bp_registry *reg, const char *name, const bp_plugin_lib **out,
                           char **errmsg);

/* Loads one file. Refuses with one line "<path>: <reason>" for: dlopen
 * failure, missing bp_plugin_entry, NULL descriptor, ABI major mismatch,
 * a struct_size too small to hold the header, a min_host_minor newer than this
 * host (ABI 1.3), a missing name. A descriptor larger than this host's struct
 * (a newer minor) is copied up to the host's size. */
bp_status bp_plugin_lib_load(const char *path, bp_plugin_lib **out, char **errmsg);
void bp_plugin_lib_free(bp_plugin_lib *lib);

/* Calls fn for every *.so found in the search path (loaded or not: err is the
 * one-line reason when lib is NULL). Duplicated names keep the first. */
typedef void (*bp_registry_visit_fn)(const bp_plugin_lib *lib, const char *path,
                                     const char *err, void *ud);
void bp_registry_scan(bp_registry *reg, bp_registry_visit_fn fn, void *ud);

/* Directories searched, for messages ("a:b:c"); borrowed until the next add. */
const char *bp_registry_dirs(bp_registry *reg);

/* "source,sink" etc. into buf. */
const char *bp_plugin_kinds_str(uint32_t kinds, char *buf, size_t len);

#endif
