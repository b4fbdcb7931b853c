/* backplane: the command-line front end of libbackplane. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_build_config.h"
#include "cli.h"
#include "control_client.h"
#include "log.h"
#include "runtime.h"
#include "state.h"

/* The tables `backplane --help`, backplane(1) and the bash completion are
 * made from (cmd_man.c), so the three never drift. */
const cli_command cli_commands[] = {
    {"run", "SITE", "run the routes of a site file until their sources end or SIGTERM", cmd_run},
    {"check", "SITE",
     "validate a site file (schemas, predicates, plugins) without\n"
     "connecting anywhere; lists every error with file:line:col", cmd_check},
    {"plugins", "", "list installed plugins; --doc NAME prints a plugin's options", cmd_plugins},
    {"dlq", "ACTION SITE", "list, show, replay or drop a site's dead letters", cmd_dlq},
    {"review", "ACTION SITE", "list, show, approve, correct or reject records parked for review",
     cmd_review},
    {"report", "SITE", "straight-through rate, exceptions by flag, review queue, corrections",
     cmd_report},
    {"audit", "ACTION SITE", "tamper-evident audit log: verify, checkpoint, trace, export, keygen",
     cmd_audit},
    {"status", "SITE", "the owner's routes, uptime, queues (docs/api.md)", cmd_status},
    {"pause", "SITE ROUTE", "stop polling a route (persists)", cmd_pause},
    {"resume", "SITE ROUTE", "restart polling a paused route", cmd_resume},
    {"reload", "SITE", "ask the owner to reload the site file", cmd_reload},
    {"checkpoint", "list|reset SITE [ROUTE]", "source positions (never the ledger)",
     cmd_checkpoint},
    {"token", "create|list|revoke SITE", "bearer tokens of the admin listener (admin role)",
     cmd_token},
    {NULL, NULL, NULL, NULL},
};

const cli_option cli_options[] = {
    {"--plugin-dir", "DIR", "search DIR for plugins first (repeatable)"},
    {"--log-level", "L", "error, warn, info (default) or debug"},
    {"--log-format", "F", "text (default) or json: one JSON object per line"},
    {"--log-file", "F",
     "append log lines to F (reopened on SIGUSR1, for logrotate);\n"
     "under systemd they go to the journal with fields instead"},
    {"--version", "", "print the version and ABI and exit"},
    {"--help", "", "this text; COMMAND --help for a command's options"},
    {NULL, NULL, NULL},
};

const cli_exit_code cli_exit_codes[] = {
    {BP_EXIT_OK, "ok"},
    {BP_EXIT_INVALID, "invalid site file or plugin, a plugin failed to init, the site already run,\n"
                      "or a decision dead-lettered"},
    {BP_EXIT_USAGE, "usage error"},
    {BP_EXIT_RUNTIME, "a route failed while running, or the state file was lost"},
    {4, "a review or dlq decision still pending after --wait"},
    {-1, NULL},
};

const cli_option cli_environment[] = {
    {"BP_PLUGIN_PATH", "", "colon-separated plugin directories, searched after --plugin-dir\n"
                           "and before the install directory (run from a build tree: before\n"
                           "that tree's plugins instead)"},
    {"BP_MODEL_PATH", "", "colon-separated directories where `model: NAME` is looked up"},
    {"STATE_DIRECTORY", "", "set by systemd's StateDirectory=: a site file without state:\n"
                            "keeps its state there (backplane-site(5))"},
    {"JOURNAL_STREAM", "", "set by systemd: when stderr is still that stream, log lines go\n"
                           "to the journal with ROUTE, INSTANCE, PLUGIN and RECORD_ID fields"},
    {"NOTIFY_SOCKET", "", "set by systemd (Type=notify): run reports READY, RELOADING,\n"
                          "STOPPING and, with WatchdogSec=, WATCHDOG"},
    {NULL, NULL, NULL},
};

/* Prints a summary indented under its first line: continuation lines start
 * at column `col`. */
static void usage_text(FILE *f, const char *text, int col)
{
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: backplane COMMAND [OPTIONS]\n\ncommands:\n");
    for (const cli_command *k = cli_commands; k->name; k++) {
        char head[64];
        snprintf(head, sizeof(head), "%s%s%s", k->name, k->args[0] ? " " : "", k->args);
        if (strlen(head) > 15)
            fprintf(f, "  %s\n  %-15s ", head, "");
        else
            fprintf(f, "  %-15s ", head);
        usage_text(f, k->summary, 18);
    }
    fprintf(f, "  (review, dlq, status, pause, resume, reload, token: --url https://HOST:PORT\n"
               "   --token-file F [--cacert F] [--cert F --key F] in place of SITE)\n");
    fprintf(f, "  PLUGIN COMMAND  a command a plugin adds (also COMMAND PLUGIN), e.g.\n"
               "                  `soap inspect URL`, `train extract ...`: see plugins --doc\n"
               "\noptions:\n");
    for (const cli_option *o = cli_options; o->name; o++) {
        char head[64];
        snprintf(head, sizeof(head), "%s%s%s", o->name, o->arg[0] ? " " : "", o->arg);
        if (strlen(head) > 15)
            fprintf(f, "  %s\n  %-15s ", head, "");
        else
            fprintf(f, "  %-15s ", head);
        usage_text(f, o->text, 18);
    }
    fprintf(f, "\nexit codes:\n");
    for (const cli_exit_code *e = cli_exit_codes; e->text; e++) {
        fprintf(f, "  %d  ", e->code);
        usage_text(f, e->text, 5);
    }
    fprintf(f, "\nenvironment:\n");
    for (const cli_option *o = cli_environment; o->name; o++) {
        fprintf(f, "  %s\n    ", o->name);
        usage_text(f, o->text, 4);
    }
    fprintf(f, "\nplugins are installed in %s; see backplane(1), backplane-site(5)\n",
            BP_PLUGIN_INSTALL_DIR);
}

/* Consumes a common option at argv[*i] (advancing *i past its value).
 * Returns 1 when consumed, 0 when not a common option, -1 on a usage error. */
static int cli_common_arg(cli_common *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char **slot = NULL;
    if (strcmp(a, "--plugin-dir") == 0) {
        if (c->n_plugin_dirs >= 32) {
            fprintf(stderr, "backplane: too many --plugin-dir options\n");
            return -1;
        }
        slot = &c->plugin_dirs[c->n_plugin_dirs++];
    } else if (strcmp(a, "--log-level") == 0) {
        slot = &c->log_level;
    } else if (strcmp(a, "--log-format") == 0) {
        slot = &c->log_format;
    } else if (strcmp(a, "--log-file") == 0) {
        slot = &c->log_file;
    } else {
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "backplane: %s needs a value\n", a);
        return -1;
    }
    *slot = argv[++*i];
    return 1;
}

char *cli_absolute(const char *path)
{
    if (path == NULL)
        return NULL;
    char *r = realpath(path, NULL);
    if (r)
        return r;
    if (path[0] == '/')
        return strdup(path);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return strdup(path);
    const char *p = path;
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    char *out = NULL;
    return asprintf(&out, "%s/%s", cwd, p) < 0 ? NULL : out;
}

/* Absolute copies of path arguments live until exit (argv does too). */
static const char *cli_keep_absolute(const char *path)
{
    static char *kept[40];
    static int n_kept;
    if (cli_remote_active() && strcmp(path, "@remote") == 0)
        return path;   /* --url in place of SITE */
    char *abs = cli_absolute(path);
    if (abs == NULL)
        return path;
    if (n_kept < (int)(sizeof(kept) / sizeof(kept[0])))
        kept[n_kept++] = abs;
    return abs;   /* beyond 40 (never: 32 plugin dirs + site + --out) it leaks */
}

/* A colon-separated list of paths in the environment (BP_PLUGIN_PATH,
 * BP_MODEL_PATH) made absolute against the directory the command was started
 * in, before the command moves into the site file's: a relative entry such as
 * `build/plugins` keeps meaning what the user meant. Entries that do not exist
 * are made absolute all the same. */
static void cli_absolute_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return;
    char *copy = strdup(v), *save = NULL, *out = NULL;
    size_t len = 0;
    FILE *f = copy ? open_memstream(&out, &len) : NULL;
    if (f == NULL) {
        free(copy);
        return;
    }
    int n = 0;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        char *abs = p[0] == '/' ? NULL : cli_absolute(p);
        fprintf(f, "%s%s", n++ ? ":" : "", abs ? abs : p);
        free(abs);
    }
    fclose(f);
    if (out)
        setenv(name, out, 1);
    free(out);
    free(copy);
}

int cli_enter_site_dir(const char *site_path)
{
    cli_absolute_env("BP_PLUGIN_PATH");
    cli_absolute_env("BP_MODEL_PATH");
    char *copy = strdup(site_path);
    if (copy == NULL)
        return -1;
    char *slash = strrchr(copy, '/');
    if (slash)
        *(slash == copy ? slash + 1 : slash) = '\0';
    int r = slash ? chdir(copy) : 0;
    if (r != 0)
        fprintf(stderr, "backplane: cannot enter the site file's directory %s: %s\n", copy,
                strerror(errno));
    free(copy);
    return r;
}

static void cli_on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    bp_log_reopen();
    errno = saved;
}

static int cli_apply_log(const cli_common *c)
{
    if (c->log_file) {
        /* Made absolute first: the command moves into the site file's
         * directory, and a reopen must name the same file. */
        char *abs = cli_absolute(c->log_file), *err = NULL;
        bp_status st = bp_log_set_file(abs ? abs : c->log_file, &err);
        free(abs);
        if (st != BP_OK) {
            fprintf(stderr, "backplane: %s\n", err ? err : "--log-file failed");
            free(err);
            return -1;
        }
        /* logrotate's postrotate: kill -USR1 PID (systemctl kill -s USR1). */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = cli_on_usr1;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
    }
    if (c->log_level) {
        int l = bp_log_level_parse(c->log_level);
        if (l < 0) {
            fprintf(stderr, "backplane: --log-level must be error, warn, info or debug\n");
            return -1;
        }
        bp_log_set_level((enum bp_log_level)l);
    }
    if (c->log_format) {
        if (strcmp(c->log_format, "json") != 0 && strcmp(c->log_format, "text") != 0) {
            fprintf(stderr, "backplane: --log-format must be text or json\n");
            return -1;
        }
        bp_log_set_json(strcmp(c->log_format, "json") == 0);
    }
    return 0;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, cli_common *c, const char **site)
{
    if (site)
        *site = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_arg(c, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            spec->usage(stdout);
            return 1;
        }
        if (spec->flag && strcmp(a, spec->flag) == 0) {
            *spec->flag_set = 1;
            continue;
        }
        if (spec->value_opt && strcmp(a, spec->value_opt) == 0 && i + 1 < argc) {
            *spec->value = argv[++i];
            continue;
        }
        if (a[0] != '-' && spec->site && *site && spec->rest && *spec->n_rest < spec->max_rest) {
            spec->rest[(*spec->n_rest)++] = a;
            continue;
        }
        if (a[0] == '-' || !spec->site || *site) {
            fprintf(stderr, "backplane %s: unexpected argument '%s'\n", spec->cmd, a);
            spec->usage(stderr);
            return -1;
        }
        *site = a;
    }
    if (spec->site && *site == NULL) {
        spec->usage(stderr);
        return -1;
    }
    if (cli_apply_log(c) < 0)
        return -1;
    /* §9: arguments absolute first, then work in the site file's directory,
     * so relative paths (options, DSNs, ${file:}) mean the same from anywhere. */
    for (int i = 0; i < c->n_plugin_dirs; i++)
        c->plugin_dirs[i] = cli_keep_absolute(c->plugin_dirs[i]);
    if (spec->site && *site) {
        *site = cli_keep_absolute(*site);
        if (access(*site, F_OK) == 0 && cli_enter_site_dir(*site) != 0)
            return -1;
    }
    return 0;
}

bp_registry *cli_registry(const cli_common *c)
{
    bp_registry *reg = bp_registry_new();
    char *err = NULL;
    if (reg == NULL)
        return NULL;
    for (int i = 0; i < c->n_plugin_dirs; i++) {
        if (bp_registry_add_dir(reg, c->plugin_dirs[i], &err) != BP_OK) {
            fprintf(stderr, "backplane: %s\n", err);
            free(err);
            bp_registry_free(reg);
            return NULL;
        }
    }
    if (bp_registry_add_path(reg, getenv("BP_PLUGIN_PATH"), &err) != BP_OK) {
        fprintf(stderr, "backplane: BP_PLUGIN_PATH: %s\n", err);
        free(err);
        bp_registry_free(reg);
        return NULL;
    }
    if (bp_registry_add_default_dirs(reg, &err) != BP_OK && err)
        fprintf(stderr, "backplane: %s\n", err);
    free(err);
    return reg;
}

int cli_site_open(cli_site *s, const char *path, const cli_common *c, int with_runtime)
{
    memset(s, 0, sizeof(*s));
    /* §9: the site file by its absolute path, and its directory as the
     * working directory (relative options, DSNs and ${file:} resolve there). */
    path = cli_keep_absolute(path);
    /* Given back by cli_site_close: a plugin command that exports a site's
     * corrections keeps its own relative arguments. */
    s->cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (access(path, F_OK) == 0 && cli_enter_site_dir(path) != 0)
        return -1;
    if (bp_site_load(path, &s->site, &s->d) != BP_OK)
        return -1;
    if (with_runtime) {
        if ((s->reg = cli_registry(c)) == NULL || bp_site_check(s->site, s->reg, &s->d) != BP_OK ||
            bp_runtime_new(s->site, s->reg, 1, &s->rt, &s->d) != BP_OK)
            return -1;
        s->st = bp_runtime_state(s->rt);
        return 0;
    }
    char *err = NULL;
    /* Read-only use (lists, shows, reports): never create a state file. */
    if (bp_state_open_existing(s->site->state_path, s->site->name, &s->st, &err) != BP_OK) {
        bp_diags_add(&s->d, NULL, 0, 0, "%s", err ? err : "cannot open the state file");
        free(err);
        return -1;
    }
    return 0;
}

void cli_site_close(cli_site *s)
{
    bp_diags_print(&s->d, stderr);
    bp_diags_free(&s->d);
    if (s->rt)
        bp_runtime_free(s->rt);
    else
        bp_state_close(s->st);
    bp_site_free(s->site);
    bp_registry_free(s->reg);
    if (s->cwd_fd > 0) {
        if (fchdir(s->cwd_fd) != 0)
            fprintf(stderr, "backplane: cannot return to the working directory: %s\n",
                    strerror(errno));
        close(s->cwd_fd);
    }
    memset(s, 0, sizeof(*s));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    /* review export --out FILE: relative to where the command was started
     * (plugin commands keep their arguments as given: they run here). */
    for (int i = 2; strcmp(cmd, "review") == 0 && i + 1 < argc; i++)
        if (strcmp(argv[i], "--out") == 0)
            argv[i + 1] = (char *)cli_keep_absolute(argv[i + 1]);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return BP_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("backplane %s (plugin ABI %d.%d)\n", BP_VERSION, BP_ABI_MAJOR, BP_ABI_MINOR);
        return BP_EXIT_OK;
    }
    /* --url URL --token-file F in place of SITE: the owner over TCP. SITE
     * follows the command (status, pause, resume, reload) or its verb
     * (review, dlq, token). */
    static const char *const remote_cmds[] = {"status", "pause", "resume", "reload", "review",
                                              "dlq", "token", NULL};
    for (size_t i = 0; remote_cmds[i]; i++)
        if (strcmp(cmd, remote_cmds[i]) == 0) {
            int verb = strcmp(cmd, "review") == 0 || strcmp(cmd, "dlq") == 0 ||
                       strcmp(cmd, "token") == 0;
            if (cli_remote_take(&argc, argv, verb ? 3 : 2) != 0)
                return BP_EXIT_USAGE;
        }
    for (const cli_command *k = cli_commands; k->name; k++)
        if (strcmp(cmd, k->name) == 0)
            return k->fn(argc - 1, argv + 1);
    /* Hidden: roff and bash completion from the tables above (cmd_man.c). */
    if (strcmp(cmd, "__man") == 0)
        return cmd_man(argc - 1, argv + 1);
    int handled = 0;
    int rc = cmd_plugin_command(argc - 1, argv + 1, &handled);
    if (handled)
        return rc;
    fprintf(stderr, "backplane: unknown command '%s' (try --help)\n", cmd);
    return BP_EXIT_USAGE;
}
