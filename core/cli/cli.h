/* The backplane command line: shared pieces of the subcommands. */
#ifndef BP_CLI_H
#define BP_CLI_H

#include <stdio.h>

#include "diag.h"
#include "plugin_loader.h"
#include "site.h"

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
    const char *log_file;        /* --log-file F: reopened on SIGUSR1 (logrotate) */
} cli_common;

/* What a subcommand accepts besides the common options. */
typedef struct cli_spec {
    const char *cmd;             /* "check", for messages */
    void (*usage)(FILE *f);
    int site;                    /* 1: exactly one positional SITE argument */
    const char *flag;            /* an optional boolean flag, e.g. "--keep-going" */
    int *flag_set;
    const char *value_opt;       /* an optional option with a value, e.g. "--doc" */
    const char **value;
    const char **rest;           /* positionals after SITE, when not NULL */
    int max_rest;
    int *n_rest;
} cli_spec;

/* Parses argv (argv[0] is the command), applies the log options.
 * Returns 0 to go on, 1 when --help was printed (exit 0), -1 on a usage
 * error (already printed: exit BP_EXIT_USAGE). */
int cli_parse(const cli_spec *spec, int argc, char **argv, cli_common *c, const char **site);

/* Builds the plugin search path: --plugin-dir, then $BP_PLUGIN_PATH, then the
 * install directory. Errors are printed; returns NULL on a fatal one. */
bp_registry *cli_registry(const cli_common *c);

/* A site opened for a command: the site file, and either a runtime (plugins
 * initialised, for commands that deliver records) or just its state file. */
typedef struct cli_site {
    bp_site *site;
    bp_registry *reg;
    struct bp_runtime *rt;
    struct bp_state *st;
    int cwd_fd;                  /* the working directory before (restored by close) */
    bp_diags d;
} cli_site;

/* Loads path; with_runtime 1 also checks it and builds its runtime (whose
 * state store s->st then is), else opens only the state file. Returns 0, or
 * -1 with the errors in s->d (printed by cli_site_close). */
int cli_site_open(cli_site *s, const char *path, const cli_common *c, int with_runtime);
/* Prints the collected errors and frees everything. */
void cli_site_close(cli_site *s);

/* path made absolute (realpath when it exists, else joined to the working
 * directory); malloc'ed, NULL on OOM. */
char *cli_absolute(const char *path);
/* chdir to the directory of site_path (absolute). 0, or -1 (printed). */
int cli_enter_site_dir(const char *site_path);

/* systemd's notify protocol (service.c): state lines such as "READY=1",
 * sent when NOTIFY_SOCKET is set, nothing otherwise. Thread: any. */
void cli_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* WatchdogSec= of the unit in microseconds, 0 when no watchdog is asked for. */
long long cli_watchdog_usec(void);

/* The command table (main.c): --help, backplane(1) and the bash
 * completion are made from it. NULL-terminated. */
typedef struct cli_command {
    const char *name;
    const char *args;            /* "SITE", "ACTION SITE", "" */
    const char *summary;         /* lines joined by \n */
    int (*fn)(int argc, char **argv);
} cli_command;
typedef struct cli_option {
    const char *name;            /* "--log-file", or an environment variable */
    const char *arg;             /* "F", "" */
    const char *text;            /* lines joined by \n */
} cli_option;
typedef struct cli_exit_code {
    int code;                    /* -1 ends the table */
    const char *text;
} cli_exit_code;
extern const cli_command cli_commands[];
extern const cli_option cli_options[];
extern const cli_option cli_environment[];
extern const cli_exit_code cli_exit_codes[];

/* backplane __man backplane.1 | backplane-site.5 | bash-completion (hidden):
 * the man pages and the completion, generated at build time (cmd_man.c). */
int cmd_man(int argc, char **argv);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_review(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_audit(int argc, char **argv);   /* issue 18: cmd_audit.c */
int cmd_token(int argc, char **argv);   /* issue 22: cmd_token.c */
/* Clients of the owner's control API (cmd_status.c). */
int cmd_status(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);

/* Writes the corrections reviewers made in a site (JSON lines: route, path,
 * from, to, record) to out_path; *n gets how many. 0 ok, -1 failed (printed). */
int cli_export_corrections(const char *site_path, const char *out_path, size_t *n);

/* A plugin's command (argv[0] is the first word after `backplane`). *handled is
 * 0 when neither word order names a plugin command (the caller then reports an
 * unknown command); otherwise the command's exit code is returned. */
int cmd_plugin_command(int argc, char **argv, int *handled);

#endif
