/* The plugin loader against real fixture .so files (tests/plugins). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_loader.h"
#include "tap.h"

static char *fixture(const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s.so", getenv("BP_TEST_FIXTURES"), name) < 0)
        abort();
    return p;
}

/* ---- issue 16 #5 (hardening): plugin files and directories others could write ----
 * Layouts under a mktemp directory in /tmp (a root-owned sticky parent, which
 * is allowed); each refusal is checked word for word. */
static char trust_dir[64];

/* Runs a shell command with $D the temporary directory. */
static void sh(const char *cmd)
{
    setenv("D", trust_dir, 1);
    if (system(cmd) != 0)
        abort();
}

static void check_trust_load(const char *rel, bp_status want, const char *want_err)
{
    char path[256], msg[1024];
    snprintf(path, sizeof(path), "%s/%s", trust_dir, rel);
    bp_plugin_lib *lib = NULL;
    char *err = NULL;
    CHECK_INT(bp_plugin_lib_load(path, &lib, &err), want);
    if (want_err) {
        /* want_err has %s for the temporary directory (as often as it occurs). */
        snprintf(msg, sizeof(msg), want_err, trust_dir, trust_dir, trust_dir, trust_dir);
        CHECK_STR(err, msg);
    } else {
        CHECK(err == NULL);
    }
    free(err);
    bp_plugin_lib_free(lib);
}

static void check_trust(void)
{
    strcpy(trust_dir, "/tmp/bp-loader-XXXXXX");
    if (mkdtemp(trust_dir) == NULL)
        abort();
    char cp[512];
    snprintf(cp, sizeof(cp), "%s/fx_sink.so", getenv("BP_TEST_FIXTURES"));
    setenv("FX_SO", cp, 1);
    sh("cd \"$D\" && mkdir ok ww ww/sub gw so666 ln target && chmod 755 ok so666 ln && "
       "chmod 775 gw && cp \"$FX_SO\" gw/ && "
       "cp \"$FX_SO\" ok/ && chmod 777 ww && cp \"$FX_SO\" ww/sub/ && "
       "cp \"$FX_SO\" so666/ && chmod 666 so666/fx_sink.so && "
       "chmod 777 target && cp \"$FX_SO\" target/ && ln -s ../target/fx_sink.so ln/fx_sink.so");
    /* A fixture under mktemp in /tmp loads: /tmp is root-owned and sticky. */
    check_trust_load("ok/fx_sink.so", BP_OK, NULL);
    check_trust_load("ww/sub/fx_sink.so", BP_ERR_INVALID,
                     "%s/ww/sub/fx_sink.so: refusing to load: %s/ww is writable by group or "
                     "others (mode 0777): chmod go-w");
    check_trust_load("gw/fx_sink.so", BP_ERR_INVALID,
                     "%s/gw/fx_sink.so: refusing to load: %s/gw is writable by group or "
                     "others (mode 0775): chmod go-w");
    check_trust_load("so666/fx_sink.so", BP_ERR_INVALID,
                     "%s/so666/fx_sink.so: refusing to load: %s/so666/fx_sink.so is writable by "
                     "group or others (mode 0666): chmod go-w");
    check_trust_load("ln/fx_sink.so", BP_ERR_INVALID,
                     "%s/ln/fx_sink.so: refusing to load: it resolves to %s/target/fx_sink.so, "
                     "and %s/target is writable by group or others (mode 0777): chmod go-w");
    /* The registry refuses what it finds in a world-writable subdirectory. */
    bp_registry *reg = bp_registry_new();
    char *err = NULL;
    const bp_plugin_lib *lib = NULL;
    char top[128], msg[512];
    snprintf(top, sizeof(top), "%s/ww", trust_dir);
    sh("cd \"$D\" && chmod 755 ww && mkdir ww/sub2 && chmod 757 ww/sub2 && "
       "mv ww/sub/fx_sink.so ww/sub2/");
    CHECK_INT(bp_registry_add_dir(reg, top, &err), BP_OK);
    CHECK_INT(bp_registry_open(reg, "fx_sink", &lib, &err), BP_ERR_INVALID);
    snprintf(msg, sizeof(msg),
             "%s/sub2/fx_sink.so: refusing to load: %s/sub2 is writable by group or others "
             "(mode 0757): chmod go-w", top, top);
    CHECK_STR(err, msg);
    free(err);
    bp_registry_free(reg);
    if (geteuid() == 0) {
        /* A group-writable directory owned by nobody. */
        sh("cd \"$D\" && mkdir nobody && cp \"$FX_SO\" nobody/ && chown 65534 nobody && "
           "chmod 775 nobody");
        check_trust_load("nobody/fx_sink.so", BP_ERR_INVALID,
                         "%s/nobody/fx_sink.so: refusing to load: %s/nobody is owned by uid "
                         "65534, neither root nor the running user");
        /* A .so owned by someone else in our directory. */
        sh("cd \"$D\" && mkdir theirs && chmod 755 theirs && cp \"$FX_SO\" theirs/ && "
           "chown 65534 theirs/fx_sink.so");
        check_trust_load("theirs/fx_sink.so", BP_ERR_INVALID,
                         "%s/theirs/fx_sink.so: refusing to load: %s/theirs/fx_sink.so is owned "
                         "by uid 65534, neither root nor the running user");
    } else {
        printf("# skipped (not root): directories owned by nobody\n");
    }
    sh("rm -rf \"$D\"");
}

int main(void)
{
    bp_plugin_lib *lib = NULL;
    char *err = NULL, *path;

    path = fixture("fx_wrong_abi");
    CHECK_INT(bp_plugin_lib_load(path, &lib, &err), BP_ERR_ABI);
    CHECK(lib == NULL);
    CHECK(err && strstr(err, "fx_wrong_abi.so: plugin ABI 2.0, this host speaks ABI 1.x: "
                             "rebuild the plugin against a matching backplane SDK") != NULL);
    free(err);
    free(path);

    path = fixture("fx_no_symbol");
    CHECK_INT(bp_plugin_lib_load(path, &lib, &err), BP_ERR_ABI);
    CHECK(err && strstr(err, "fx_no_symbol.so: not a backplane plugin: no symbol bp_plugin_entry"));
    free(err);
    free(path);

    CHECK_INT(bp_plugin_lib_load("/nonexistent/x.so", &lib, &err), BP_ERR_IO);
    CHECK(err && strncmp(err, "/nonexistent/x.so: cannot load: ", 32) == 0);
    free(err);

    /* Older minor: fields beyond its struct_size are NULL, not the poison
     * pointers that follow the short descriptor in memory. */
    path = fixture("fx_old_minor");
    CHECK_INT(bp_plugin_lib_load(path, &lib, &err), BP_OK);
    CHECK(lib != NULL && lib->desc.transform != NULL && lib->desc.init != NULL);
    CHECK(lib != NULL && lib->desc.lookup == NULL);
    CHECK(lib != NULL && lib->desc.stop == NULL);
    CHECK(lib != NULL && lib->desc.destroy == NULL);
    CHECK(lib != NULL && lib->desc.struct_size < sizeof(struct bp_plugin));
    CHECK_STR(lib ? lib->desc.name : NULL, "fx_old_minor");
    /* Its option array has the 1.2 entry size: read with that stride, the
     * fields it does not know zeroed (ABI 1.3). */
    const struct bp_option *oo = lib ? lib->desc.options : NULL;
    CHECK_STR(oo ? oo[1].name : NULL, "level");
    CHECK_STR(oo ? oo[1].default_value : NULL, "3");
    CHECK_STR(oo ? oo[1].max : NULL, "9");
    CHECK(oo != NULL && oo[1].roles == 0 && oo[1].bound == 0 && oo[1].fields == NULL &&
          oo[1].renamed == NULL);
    CHECK(oo != NULL && oo[2].name == NULL);
    bp_plugin_lib_free(lib);
    free(path);

    /* A plugin that needs a newer host minor is refused, naming both versions. */
    path = fixture("fx_new_minor");
    CHECK_INT(bp_plugin_lib_load(path, &lib, &err), BP_ERR_ABI);
    CHECK(lib == NULL);
    {
        char *want = NULL;
        if (asprintf(&want, "%s: plugin needs host ABI 1.4 or newer (built against 1.4), this "
                            "host speaks ABI 1.3: upgrade backplane, or rebuild the plugin "
                            "with a lower min_host_minor", path) < 0)
            abort();
        CHECK_STR(err, want);
        free(want);
    }
    free(err);
    err = NULL;
    free(path);

    /* A newer minor that can do with this host loads; nothing past this host's
     * struct is read (the fixture's extra fields are poison). */
    path = fixture("fx_future");
    CHECK_INT(bp_plugin_lib_load(path, &lib, &err), BP_OK);
    CHECK_STR(err, NULL);
    CHECK(lib != NULL && lib->desc.abi_minor == BP_ABI_MINOR + 5);
    CHECK(lib != NULL && lib->desc.min_host_minor == 3);
    CHECK(lib != NULL && lib->desc.transform != NULL);
    CHECK(lib != NULL && lib->desc.struct_size > sizeof(struct bp_plugin));
    bp_plugin_lib_free(lib);
    free(path);

    /* The older-minor fixture has no min_host_minor: 0, loads anywhere. */
    CHECK_INT(BP_ABI_MINOR, 3);

    /* The registry finds NAME.so by name and caches it. */
    bp_registry *reg = bp_registry_new();
    CHECK_INT(bp_registry_add_dir(reg, getenv("BP_TEST_FIXTURES"), &err), BP_OK);
    const bp_plugin_lib *a = NULL, *b = NULL;
    CHECK_INT(bp_registry_open(reg, "fx_sink", &a, &err), BP_OK);
    CHECK_INT(bp_registry_open(reg, "fx_sink", &b, &err), BP_OK);
    CHECK(a != NULL && a == b);
    CHECK(a != NULL && (a->desc.kinds & BP_KIND_SINK));
    CHECK_INT(bp_registry_open(reg, "nosuch", &a, &err), BP_ERR_NOT_FOUND);
    CHECK(err && strstr(err, "plugin 'nosuch' not found (searched: ") != NULL);
    free(err);
    CHECK_INT(bp_registry_open(reg, "../etc/passwd", &a, &err), BP_ERR_INVALID);
    CHECK_STR(err, "invalid plugin name '../etc/passwd' (use a-z, 0-9, _ and -)");
    free(err);
    CHECK_INT(bp_registry_open(reg, "fx_wrong_abi", &a, &err), BP_ERR_ABI);
    free(err);
    bp_registry_free(reg);

    check_trust();

    char kinds[64];
    CHECK_STR(bp_plugin_kinds_str(BP_KIND_SOURCE | BP_KIND_LOOKUP, kinds, sizeof(kinds)),
              "source,lookup");
    return tap_done();
}
