/* The backplane command line: shared pieces of the subcommands. */
#ifndef BP_CLI_H
#define BP_CLI_H

#include "plugin_loader.h"

/* Exit codes (documented in `backplane --help` and the README). */
enum {
    BP_EXIT_OK = 0,
    BP_EXIT_INVALID = 1,   /* the site file or a plugin is invalid / failed to init */
    BP_EXIT_USAGE = 2,     /* bad command line */
    BP_EXIT_RUNTIME = 3    /* a route failed while running */
};

/* Options common to the subcommands. */
typedef struct cli_common {
    const char *plugin_dirs[32];
    int n_plugin_dirs;
    const char *log_level;
    const char *log_format;
} cli_common;

/* Consumes a common option at argv[*i] (advancing *i past its value).
 * Returns 1 when consumed, 0 when not a common option, -1 on a usage error. */
int cli_common_arg(cli_common *c, int argc, char **argv, int *i);

/* Applies log options; returns -1 (after printing) when a value is bad. */
int cli_apply_log(const cli_common *c);

/* Builds the plugin search path: --plugin-dir, then $BP_PLUGIN_PATH, then the
 * install directory. Errors are printed; returns NULL on a fatal one. */
bp_registry *cli_registry(const cli_common *c);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_plugins(int argc, char **argv);

#endif
