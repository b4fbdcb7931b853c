/* backplane plugins [--doc NAME]: what is installed, and each plugin's options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"

static void plugins_usage(FILE *f)
{
    fprintf(f, "usage: backplane plugins [--plugin-dir DIR]... [--doc NAME]\n"
               "Lists the plugins found in the search path (name, version, kinds, file),\n"
               "and files that are not loadable plugins with the reason.\n"
               "--doc NAME prints NAME's description and option table.\n");
}

static void plugins_print(const bp_plugin_lib *lib, const char *path, const char *err, void *ud)
{
    int *bad = ud;
    char kinds[64];
    if (lib == NULL) {
        printf("!%-15s %s\n", "(not loadable)", err ? err : path);
        (*bad)++;
        return;
    }
    printf("%-16s %-9s %-24s %s\n", lib->desc.name, lib->desc.version ? lib->desc.version : "?",
           bp_plugin_kinds_str(lib->desc.kinds, kinds, sizeof(kinds)),
           lib->desc.description ? lib->desc.description : "");
    printf("%-16s %s\n", "", path);
}

int cmd_plugins(int argc, char **argv)
{
    cli_common c = {0};
    const char *doc = NULL;
    const cli_spec spec = {.cmd = "plugins", .usage = plugins_usage, .value_opt = "--doc",
                           .value = &doc};
    int r = cli_parse(&spec, argc, argv, &c, NULL);
    if (r != 0)
        return r > 0 ? BP_EXIT_OK : BP_EXIT_USAGE;
    bp_registry *reg = cli_registry(&c);
    if (reg == NULL)
        return BP_EXIT_INVALID;
    int rc = BP_EXIT_OK;
    if (doc) {
        const bp_plugin_lib *lib = NULL;
        char *err = NULL;
        if (bp_registry_open(reg, doc, &lib, &err) != BP_OK) {
            fprintf(stderr, "backplane plugins: %s\n", err);
            free(err);
            rc = BP_EXIT_INVALID;
        } else {
            char kinds[64];
            printf("%s %s — %s\n", lib->desc.name, lib->desc.version ? lib->desc.version : "?",
                   lib->desc.description ? lib->desc.description : "");
            printf("kinds: %s\nfile: %s\nABI: %u.%u\noptions:\n",
                   bp_plugin_kinds_str(lib->desc.kinds, kinds, sizeof(kinds)), lib->path,
                   lib->desc.abi_major, lib->desc.abi_minor);
            bp_options_print_doc(lib->desc.options, stdout);
            for (const struct bp_command *k = lib->desc.commands; k && k->name; k++) {
                if (k == lib->desc.commands)
                    printf("commands:\n");
                printf("  backplane %s %s: %s\n", lib->desc.name, k->name,
                       k->summary ? k->summary : "");
            }
        }
    } else {
        int bad = 0;
        bp_registry_scan(reg, plugins_print, &bad);
        printf("(searched: %s)\n", bp_registry_dirs(reg));
    }
    bp_registry_free(reg);
    return rc;
}
