/* Where the running program lies: inside a meson build tree (uninstalled) or
 * installed. An uninstalled backplane loads its own build's plugins and
 * models, as uninstalled GStreamer and `meson devenv` do, so
 * `build/core/backplane plugins` needs no BP_PLUGIN_PATH (issue 21). */
#ifndef BP_CORE_SELF_PATH_H
#define BP_CORE_SELF_PATH_H

/* The build tree's root when /proc/self/exe lies inside one (the nearest of
 * its parent directories, up to four levels up, that holds meson-private/
 * and build.ninja); NULL when the program runs installed or the kernel does
 * not say. Computed once; the string is static (never freed). Thread-safe. */
const char *bp_self_build_root(void);

/* 1 when path lies inside dir (dir itself counts). */
int bp_path_inside(const char *path, const char *dir);

#endif
