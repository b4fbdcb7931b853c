/* See self_path.h. The build root is found from the executable's own path,
 * not from the BP_BUILD_ROOT compiled in: a build tree that was moved or
 * copied (a CI artifact) still finds its plugins, and an installed binary
 * never looks into the directory it was once built in. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "self_path.h"

static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static char self_root[PATH_MAX];
static int self_have_root;

static int self_is_build_root(const char *dir)
{
    char p[PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof(p), "%s/meson-private", dir);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    snprintf(p, sizeof(p), "%s/build.ninja", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void self_find(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    /* build/core/backplane, build/tests/test_x, build/tests/fuzz/fuzz_x */
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        if (slash == NULL || slash == exe)
            return;
        *slash = '\0';
        if (self_is_build_root(exe)) {
            memcpy(self_root, exe, strlen(exe) + 1);
            self_have_root = 1;
            return;
        }
    }
}

const char *bp_self_build_root(void)
{
    pthread_once(&self_once, self_find);
    return self_have_root ? self_root : NULL;
}

int bp_path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return path && strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}
