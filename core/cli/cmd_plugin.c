/* Commands that plugins add to the command line (struct bp_command):
 *   backplane PLUGIN NAME ARGS...   e.g. backplane soap inspect URL
 *   backplane NAME PLUGIN ARGS...   e.g. backplane train extract --data DIR
 * The plugin is found on the usual search path ($BP_PLUGIN_PATH, then the
 * install directory); the command runs with the host API and no instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "runtime.h"

/* The command NAME of the plugin PLUGIN, or NULL (lib set when the plugin loaded). */
static const struct bp_command *find_command(bp_registry *reg, const char *plugin,
                                             const char *name, const bp_plugin_lib **lib)
{
    char *err = NULL;
    *lib = NULL;
    if (bp_registry_open(reg, plugin, lib, &err) != BP_OK) {
        free(err);
        *lib = NULL;
        return NULL;
    }
    for (const struct bp_command *c = (*lib)->desc.commands; c && c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* The plugins that offer a command NAME (for `backplane train --help`). */
typedef struct offer_ctx {
    const char *name;
    FILE *out;
    int n;
} offer_ctx;

static void offer_visit(const bp_plugin_lib *lib, const char *path, const char *err, void *ud)
{
    offer_ctx *o = ud;
    (void)path;
    (void)err;
    for (const struct bp_command *k = lib ? lib->desc.commands : NULL; k && k->name; k++)
        if (strcmp(k->name, o->name) == 0) {
            if (o->out)
                fprintf(o->out, "  %s %-12s %s\n", o->name, lib->desc.name,
                        k->summary ? k->summary : "");
            o->n++;
        }
}

static void offer_name(const bp_plugin_lib *lib, const char *path, const char *err, void *ud)
{
    offer_ctx *o = ud;
    (void)path;
    (void)err;
    for (const struct bp_command *k = lib ? lib->desc.commands : NULL; k && k->name; k++)
        if (strcmp(k->name, o->name) == 0)
            fprintf(o->out, "%s%s", o->n++ ? ", " : "", lib->desc.name);
}

/* NAME alone, NAME --help, or NAME with a word that is no plugin offering it:
 * when some plugin offers the command NAME, say which (stdout and exit 0 for
 * --help, stderr and a usage error otherwise). Returns -1 when no plugin
 * offers NAME. */
static int offer_help(bp_registry *reg, int argc, char **argv)
{
    offer_ctx o = {.name = argv[0]};
    bp_registry_scan(reg, offer_visit, &o);
    if (o.n == 0)
        return -1;
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    FILE *f = help ? stdout : stderr;
    if (argc >= 2 && !help) {
        fprintf(f, "backplane: no plugin '%s' with a command '%s'; '%s' is offered by: ", argv[1],
                argv[0], argv[0]);
        offer_ctx names = {.name = argv[0], .out = f};
        bp_registry_scan(reg, offer_name, &names);
        fputc('\n', f);
    }
    fprintf(f, "usage: backplane %s PLUGIN [OPTIONS]   (or: backplane PLUGIN %s ...)\n\n", argv[0],
            argv[0]);
    o = (offer_ctx){.name = argv[0], .out = f};
    bp_registry_scan(reg, offer_visit, &o);
    fprintf(f, "\n`backplane %s PLUGIN --help` prints a plugin's options.\n", argv[0]);
    return help ? BP_EXIT_OK : BP_EXIT_USAGE;
}

int cmd_plugin_command(int argc, char **argv, int *handled)
{
    *handled = 0;
    if (argc < 1)
        return BP_EXIT_USAGE;
    cli_common c = {0};
    bp_registry *reg = cli_registry(&c);
    if (reg == NULL)
        return BP_EXIT_INVALID;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        int rc = offer_help(reg, argc, argv);
        if (rc >= 0) {
            *handled = 1;
            bp_registry_free(reg);
            return rc;
        }
        if (argc < 2) {
            bp_registry_free(reg);
            return BP_EXIT_USAGE;
        }
    }
    const bp_plugin_lib *lib = NULL, *lib2 = NULL;
    const struct bp_command *cmd = find_command(reg, argv[0], argv[1], &lib);
    int cmd_in_first = cmd != NULL;
    if (cmd == NULL)
        cmd = find_command(reg, argv[1], argv[0], &lib2);
    int rc = BP_EXIT_USAGE;
    char tmp[] = "/tmp/backplane-corrections-XXXXXX";
    int made_tmp = 0;
    if (cmd) {
        *handled = 1;
        /* --from-corrections SITE: the core exports the site's review
         * corrections and the command gets --corrections FILE (JSON lines). */
        for (int i = 2; i + 1 < argc; i++) {
            if (strcmp(argv[i], "--from-corrections") != 0)
                continue;
            int fd = mkstemp(tmp);
            size_t n = 0;
            if (fd < 0 || (close(fd), cli_export_corrections(argv[i + 1], tmp, &n)) != 0) {
                fprintf(stderr, "backplane: --from-corrections %s: cannot export the corrections\n",
                        argv[i + 1]);
                if (fd >= 0)
                    unlink(tmp);
                bp_registry_free(reg);
                return BP_EXIT_INVALID;
            }
            made_tmp = 1;
            fprintf(stderr, "backplane: %zu correction(s) from %s\n", n, argv[i + 1]);
            argv[i] = "--corrections";
            argv[i + 1] = tmp;
            break;
        }
        if (!cmd_in_first)
            argv[1] = argv[0];   /* NAME PLUGIN ...: the command still sees NAME first */
        fflush(stdout);
        rc = cmd->run(&bp_host_api_table, argc - 1, argv + 1);
        fflush(stdout);
        if (made_tmp)
            unlink(tmp);
    } else if (!lib && !lib2 && (rc = offer_help(reg, argc, argv)) >= 0) {
        *handled = 1;
    } else if (lib && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        /* backplane PLUGIN --help: the commands it adds. */
        *handled = 1;
        printf("usage: backplane %s COMMAND [OPTIONS]\n\ncommands of the %s plugin:\n",
               lib->desc.name, lib->desc.name);
        for (const struct bp_command *k = lib->desc.commands; k && k->name; k++)
            printf("  %-12s %s\n", k->name, k->summary ? k->summary : "");
        rc = BP_EXIT_OK;
    } else if (lib || lib2) {
        rc = BP_EXIT_USAGE;
        /* The plugin exists: name what it offers rather than "unknown command". */
        const bp_plugin_lib *l = lib ? lib : lib2;
        *handled = 1;
        fprintf(stderr, "backplane: plugin '%s' has no command '%s'", l->desc.name,
                lib ? argv[1] : argv[0]);
        const char *sep = "; it has: ";
        for (const struct bp_command *k = l->desc.commands; k && k->name; k++, sep = ", ")
            fprintf(stderr, "%s%s", sep, k->name);
        fputc('\n', stderr);
    }
    bp_registry_free(reg);
    return rc;
}
