/* backplane __man PAGE (hidden): backplane(1), backplane-site(5) and the bash
 * completion, written at build time by the backplane just built (issue 21).
 * They come from the tables --help prints (main.c), each command's own
 * --help, the site loader's key lists (bp_site_known_keys) and the plugins'
 * option tables (`plugins --doc`), so none can drift from the program: a key
 * the loader accepts without a line here, or a line for a key it does not
 * accept, fails the build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_build_config.h"
#include "cli.h"
#include "options.h"
#include "site.h"

/* ---- roff ---- */

/* Text for a roff body: backslashes and hyphens escaped, a line starting with
 * '.' or '\'' made literal. */
static void roff(FILE *f, const char *s)
{
    int bol = 1;
    for (const char *p = s; *p; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs("\\&", f);
        bol = *p == '\n';
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-')
            fputs("\\-", f);
        else
            fputc(*p, f);
    }
}

/* A summary whose lines were joined by \n for --help: one paragraph here. */
static void roff_para(FILE *f, const char *s)
{
    for (const char *p = s; *p; p++) {
        char one[2] = {*p == '\n' ? ' ' : *p, 0};
        roff(f, one);
    }
    fputc('\n', f);
}

static void roff_pre(FILE *f, const char *text)
{
    fputs(".RS 4\n.nf\n", f);
    roff(f, text);
    if (*text && text[strlen(text) - 1] != '\n')
        fputc('\n', f);
    fputs(".fi\n.RE\n", f);
}

/* ---- what the commands and plugins say ---- */

/* A command's own --help, as `backplane CMD --help` prints it (a few print
 * it on stderr: both are taken). malloc'ed. */
static char *man_help_of(const cli_command *k)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m == NULL)
        return NULL;
    fflush(stdout);
    fflush(stderr);
    FILE *saved = stdout, *saved_err = stderr;
    stdout = stderr = m;
    char *argv[] = {(char *)k->name, "--help", NULL};
    k->fn(2, argv);
    fflush(m);
    stdout = saved;
    stderr = saved_err;
    fclose(m);
    return buf;
}

typedef struct man_plugin {
    char *name;
    char *text;   /* roff for backplane-site(5) */
    char *cmds;   /* roff for backplane(1)'s PLUGIN COMMANDS, "" when none */
} man_plugin;

typedef struct man_scan {
    man_plugin *v;
    size_t n;
    int bad;
} man_scan;

static void man_option_row(const bp_option_row *r, void *ud)
{
    FILE *f = ud;
    fputs(".TP\n\\fB", f);
    roff(f, r->name);
    fputs("\\fR (\\fI", f);
    roff(f, r->type);
    fputs("\\fR", f);
    if (strcmp(r->dflt, "-") != 0) {
        fputs(strcmp(r->dflt, "required") == 0 ? ", " : ", default \\fB", f);
        roff(f, r->dflt);
        fputs(strcmp(r->dflt, "required") == 0 ? "" : "\\fR", f);
    }
    fputs(")\n", f);
    roff(f, r->description);
    if (r->notes[0]) {
        fputc(' ', f);
        roff(f, r->notes);
    }
    fputc('\n', f);
}

static void man_visit(const bp_plugin_lib *lib, const char *path, const char *err, void *ud)
{
    man_scan *sc = ud;
    if (lib == NULL) {
        fprintf(stderr, "backplane __man: %s\n", err ? err : path);
        sc->bad++;
        return;
    }
    man_plugin *v = realloc(sc->v, (sc->n + 1) * sizeof(*v));
    if (v == NULL) {
        sc->bad++;
        return;
    }
    sc->v = v;
    man_plugin *p = &v[sc->n++];
    memset(p, 0, sizeof(*p));
    p->name = strdup(lib->desc.name);
    size_t len = 0;
    FILE *f = open_memstream(&p->text, &len);
    char kinds[64];
    if (f) {
        fputs(".SS ", f);
        roff(f, lib->desc.name);
        fputs("\n", f);
        roff(f, lib->desc.description ? lib->desc.description : "");
        fputs(" (", f);
        roff(f, bp_plugin_kinds_str(lib->desc.kinds, kinds, sizeof(kinds)));
        fputs(")\n", f);
        if (lib->desc.options && lib->desc.options->name)
            bp_options_rows(lib->desc.options, man_option_row, f);
        else
            fputs(".PP\nNo options.\n", f);
        for (const struct bp_option *o = lib->desc.options; o && o->name; o++)
            if (o->renamed) {
                fputs(".TP\n\\fB", f);
                roff(f, o->name);
                fputs("\\fR\nrenamed to \\fB", f);
                roff(f, o->renamed);
                fputs("\\fR\n", f);
            }
        fclose(f);
    }
    f = open_memstream(&p->cmds, &len);
    if (f) {
        for (const struct bp_command *k = lib->desc.commands; k && k->name; k++) {
            fputs(".TP\n\\fBbackplane ", f);
            roff(f, lib->desc.name);
            fputc(' ', f);
            roff(f, k->name);
            fputs("\\fR\n", f);
            roff_para(f, k->summary ? k->summary : "");
        }
        fclose(f);
    }
}

static int man_plugin_cmp(const void *a, const void *b)
{
    return strcmp(((const man_plugin *)a)->name, ((const man_plugin *)b)->name);
}

/* Every plugin in the search path, sorted by name (readdir order is no
 * order: the pages are the same from one build to the next). */
static int man_scan_plugins(const cli_common *c, man_scan *sc)
{
    memset(sc, 0, sizeof(*sc));
    bp_registry *reg = cli_registry(c);
    if (reg == NULL)
        return -1;
    bp_registry_scan(reg, man_visit, sc);
    bp_registry_free(reg);
    if (sc->n)
        qsort(sc->v, sc->n, sizeof(*sc->v), man_plugin_cmp);
    if (sc->n == 0)
        fprintf(stderr, "backplane __man: no plugins found\n");
    return sc->bad || sc->n == 0 ? -1 : 0;
}

static void man_scan_free(man_scan *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->v[i].name);
        free(sc->v[i].text);
        free(sc->v[i].cmds);
    }
    free(sc->v);
}

static void man_header(FILE *f, const char *name, int section, const char *title)
{
    fprintf(f, ".\\\" Generated by `backplane __man` from the program's own tables; do not edit.\n"
               ".TH %s %d \"\" \"backplane %s\" \"%s\"\n",
            name, section, BP_VERSION, title);
}

/* ---- backplane(1) ---- */

static int man_page1(FILE *f, const cli_common *c)
{
    man_scan sc;
    if (man_scan_plugins(c, &sc) != 0) {
        man_scan_free(&sc);
        return -1;
    }
    man_header(f, "BACKPLANE", 1, "User Commands");
    fputs(".SH NAME\nbackplane \\- an integration bus: sources, transforms, review, sinks\n"
          ".SH SYNOPSIS\n.B backplane\n.I COMMAND\n[\\fIOPTIONS\\fR]\n"
          ".SH DESCRIPTION\n"
          "\\fBbackplane\\fR runs the routes of a site file (\\fBbackplane-site\\fR(5)): records\n"
          "from sources, through transforms and human review, to sinks, with at-least-once\n"
          "delivery, dead letters and a tamper-evident audit log. \\fBbackplane run\\fR is the\n"
          "site's one owner; every other command is its client over the control socket, or\n"
          "records what was asked for the owner to carry out when it next starts.\n"
          ".SH COMMANDS\n", f);
    int rc = 0;
    for (const cli_command *k = cli_commands; k->name; k++) {
        fputs(".SS ", f);
        roff(f, k->name);
        if (k->args[0]) {
            fputc(' ', f);
            roff(f, k->args);
        }
        fputc('\n', f);
        roff_para(f, k->summary);
        char *help = man_help_of(k);
        if (help == NULL || help[0] == '\0') {
            fprintf(stderr, "backplane __man: `%s --help` printed nothing\n", k->name);
            rc = -1;
        } else {
            roff_pre(f, help);
        }
        free(help);
    }
    fputs(".SH PLUGIN COMMANDS\n"
          "Commands the installed plugins add (\\fBbackplane\\fR \\fIPLUGIN COMMAND\\fR, or\n"
          "\\fICOMMAND PLUGIN\\fR); \\fBbackplane plugins \\-\\-doc\\fR \\fIPLUGIN\\fR describes them.\n", f);
    for (size_t i = 0; i < sc.n; i++)
        fputs(sc.v[i].cmds ? sc.v[i].cmds : "", f);
    fputs(".SH OPTIONS\nCommon to every command:\n", f);
    for (const cli_option *o = cli_options; o->name; o++) {
        fputs(".TP\n\\fB", f);
        roff(f, o->name);
        fputs("\\fR", f);
        if (o->arg[0]) {
            fputs(" \\fI", f);
            roff(f, o->arg);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        roff_para(f, o->text);
    }
    fputs(".SH EXIT STATUS\n", f);
    for (const cli_exit_code *e = cli_exit_codes; e->text; e++) {
        fprintf(f, ".TP\n.B %d\n", e->code);
        roff_para(f, e->text);
    }
    fputs(".SH ENVIRONMENT\n", f);
    for (const cli_option *o = cli_environment; o->name; o++) {
        fputs(".TP\n.B ", f);
        roff(f, o->name);
        fputc('\n', f);
        roff_para(f, o->text);
    }
    fputs(".SH FILES\n.TP\n.I ", f);
    roff(f, BP_SITE_CONF_DIR);
    fputs("/SITE.yaml\nA site file, run by \\fBsystemctl enable \\-\\-now backplane@SITE\\fR\n"
          "(0640 root:backplane; secrets in \\fISITE.env\\fR beside it, 0600).\n.TP\n.I ", f);
    roff(f, BP_STATE_INSTALL_DIR);
    fputs("/\nState files of the sites in the directory above (\\fINAME.state.db\\fR), their\n"
          "owner locks and control sockets (0660, group backplane\\-review: its members\n"
          "review).\n.TP\n.I ", f);
    roff(f, BP_PLUGIN_INSTALL_DIR);
    fputs("/\nThe plugins.\n.TP\n.I ", f);
    roff(f, BP_MODEL_INSTALL_DIR);
    fputs("/\nShipped models, found by name (\\fBmodel: invoices\\fR).\n"
          ".SH SEE ALSO\n\\fBbackplane\\-site\\fR(5), \\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1)\n",
          f);
    man_scan_free(&sc);
    return rc;
}

/* ---- backplane-site(5) ---- */

typedef struct man_key {
    const char *section;   /* as bp_site_known_keys names it */
    const char *key;
    const char *text;
} man_key;

/* What each key of the site file means. Sections bp_site_known_keys knows
 * are checked against it both ways. */
static const man_key man_keys[] = {
    {"", "site", "The site's name (required): names its state file and its log lines."},
    {"", "state", "The state file (SQLite): checkpoints, ledger, dead letters, review queue,\n"
                  "audit log. Relative to the site file. Without it, see STATE FILE."},
    {"", "plugin_dirs", "Directories searched for plugins after --plugin-dir and\n"
                        "BP_PLUGIN_PATH (a path or a list)."},
    {"", "connectors", "A map NAME: { plugin: PLUGIN, OPTION: value, ... }: the sources and\n"
                       "sinks the routes name. Their options are the plugin's (PLUGINS)."},
    {"", "routes", "A map NAME: { from, through, review, to, ... } (ROUTES)."},
    {"", "ledger", "The write-back ledger that makes redelivery idempotent: { retention: 24h }."},
    {"", "audit", "The tamper-evident audit log (AUDIT)."},
    {"", "admin", "The control API: { unix_roles: { GROUP: ROLE } } maps OS groups to\n"
                  "viewer, reviewer, operator or admin (the socket's group reviews)."},
    {"", "review", "Review settings: { claim_ttl: 10m } bounds a reviewer's claim."},
    {"routes.*", "from", "The source connector, or { CONNECTOR: { per-route options } }."},
    {"routes.*", "through", "A list of transforms: PLUGIN: { options } each, run in order."},
    {"routes.*", "review", "Park records for a person: { when: PREDICATE }."},
    {"routes.*", "to", "A sink connector or a list of them (each with per-route options)."},
    {"routes.*", "errors", "What a failure does: { retry, dead_letter, outage_limit }."},
    {"routes.*", "batch", "Records per poll and per sink write (default 256)."},
    {"routes.*", "linger", "How long a sink waits to fill a write (a duration, e.g. 20ms)."},
    {"routes.*", "workers", "Transform threads (default 1)."},
    {"routes.*", "order_key", "A field (data.vendor) whose records keep their order across workers."},
    {"routes.*", "audit", "Lineage logged: all, ai (default: AI decisions) or off."},
    {"routes.*.errors", "retry", "{ max: 8, backoff: 1s..5m }: retries of a failed write."},
    {"routes.*.errors", "dead_letter", "A sink connector for records that cannot be delivered\n"
                                       "(default: the state file's dead-letter table)."},
    {"routes.*.errors", "outage_limit", "How long a not-connected sink is waited for (a\n"
                                        "duration) before its records are dead-lettered."},
    {"routes.*.errors.retry", "max", "Attempts before a record is dead-lettered."},
    {"routes.*.errors.retry", "backoff", "MIN..MAX, doubling between attempts (1s..5m)."},
    {"routes.*.review", "when", "A predicate (data.total > 10000 or flags has 'po_mismatch')."},
    {"routes.*.review", "sla", "How long a record may wait for a person (default 24h); the\n"
                               "workbench colours the queue by age against it."},
    {"routes.*.review", "confidence_threshold",
     "Fields below this confidence (0..1, default 0.8) need a look; the\n"
     "workbench marks them."},
    {"routes.*.review", "reject_reasons", "The reasons a reviewer picks from when rejecting (a list)."},
    {"ledger", "retention", "How long ledger entries are kept (a duration, default 24h)."},
    {"audit", "signing_key", "An Ed25519 key file (backplane audit keygen) signing checkpoints."},
    {"audit", "checkpoint_every", "A signed checkpoint after this many entries (default 1000)."},
    {"audit", "checkpoint_interval", "A signed checkpoint at least this often (default 10m, at least 1s)."},
    {"audit", "retention", "Payloads older are pruned, their leaf hashes kept (default: forever)."},
    {"connectors.*", "plugin", "The plugin that implements the connector (required)."},
    {"connectors.*", "trust_attributes", "For a source that is another backplane site: the\n"
                                         "attributes it may keep (confidence, flags, priority,\n"
                                         "bplineage)."},
    {NULL, NULL, NULL},
};

static const struct {
    const char *section;
    const char *title;
} man_sections[] = {
    {"", "TOP-LEVEL KEYS"},
    {"connectors.*", "CONNECTORS"},
    {"routes.*", "ROUTES"},
    {"routes.*.errors", "ROUTES: errors"},
    {"routes.*.errors.retry", "ROUTES: errors.retry"},
    {"routes.*.review", "ROUTES: review"},
    {"ledger", "LEDGER"},
    {"audit", "AUDIT"},
};

/* 0 when man_keys and the loader agree on section; else prints each
 * difference and returns -1. */
static int man_keys_check(const char *section)
{
    const char *const *known = bp_site_known_keys(section);
    if (known == NULL)
        return 0;
    int rc = 0;
    for (size_t i = 0; known[i]; i++) {
        int found = 0;
        for (const man_key *k = man_keys; k->key; k++)
            found |= strcmp(k->section, section) == 0 && strcmp(k->key, known[i]) == 0;
        if (!found) {
            fprintf(stderr, "backplane __man: the site loader accepts %s%s%s, which "
                            "backplane-site(5) does not describe (core/cli/cmd_man.c)\n",
                    section, section[0] ? "." : "", known[i]);
            rc = -1;
        }
    }
    for (const man_key *k = man_keys; k->key; k++) {
        if (strcmp(k->section, section) != 0)
            continue;
        int found = 0;
        for (size_t i = 0; known[i]; i++)
            found |= strcmp(k->key, known[i]) == 0;
        if (!found) {
            fprintf(stderr, "backplane __man: backplane-site(5) describes %s%s%s, which the "
                            "site loader does not accept\n",
                    section, section[0] ? "." : "", k->key);
            rc = -1;
        }
    }
    return rc;
}

static int man_page5(FILE *f, const cli_common *c)
{
    int rc = 0;
    for (size_t s = 0; s < sizeof(man_sections) / sizeof(man_sections[0]); s++)
        rc |= man_keys_check(man_sections[s].section);
    man_scan sc;
    if (man_scan_plugins(c, &sc) != 0 || rc != 0) {
        man_scan_free(&sc);
        return -1;
    }
    man_header(f, "BACKPLANE-SITE", 5, "File Formats");
    fputs(".SH NAME\nbackplane-site \\- the site file of \\fBbackplane\\fR(1)\n"
          ".SH SYNOPSIS\n.I ", f);
    roff(f, BP_SITE_CONF_DIR);
    fputs("/SITE.yaml\n.SH DESCRIPTION\n"
          "A site file (YAML; anchors and aliases refused) names a site, its connectors and\n"
          "its routes. \\fBbackplane check\\fR validates it without connecting anywhere and lists\n"
          "every error as FILE:LINE:COL. Relative paths in it are relative to its directory:\n"
          "every command works there. \\fB${env:NAME}\\fR and \\fB${file:PATH}\\fR are substituted\n"
          "in any scalar (\\fB$${\\fR is a literal \\fB${\\fR); their values are never logged.\n"
          "Under systemd, \\fISITE.env\\fR beside the site file (0600) is the unit's\n"
          "EnvironmentFile: the place for \\fB${env:}\\fR secrets.\n", f);
    for (size_t s = 0; s < sizeof(man_sections) / sizeof(man_sections[0]); s++) {
        fprintf(f, ".SH %s\n", man_sections[s].title);
        for (const man_key *k = man_keys; k->key; k++) {
            if (strcmp(k->section, man_sections[s].section) != 0)
                continue;
            fputs(".TP\n.B ", f);
            roff(f, k->key);
            fputc('\n', f);
            roff_para(f, k->text);
        }
    }
    fputs(".SH STATE FILE\n"
          "Without \\fBstate:\\fR, the first that applies:\n"
          ".IP \\(bu 2\n\\fI$STATE_DIRECTORY/NAME.state.db\\fR when STATE_DIRECTORY is set (systemd's\n"
          "StateDirectory=, its first entry);\n"
          ".IP \\(bu 2\n\\fI", f);
    roff(f, BP_STATE_INSTALL_DIR);
    fputs("/NAME.state.db\\fR for a site file in \\fI", f);
    roff(f, BP_SITE_CONF_DIR);
    fputs("\\fR, so a\nsite file in a read-only /etc keeps its state where the service may write, and\n"
          "a command run from a shell finds the state the service uses;\n"
          ".IP \\(bu 2\n\\fINAME.state.db\\fR beside the site file.\n"
          ".PP\nThe owner lock is \\fISTATE.lock\\fR and the control socket \\fISTATE.sock\\fR beside\n"
          "the state file. File sinks with relative paths write beside the site file: under\n"
          "the packaged unit (ProtectSystem=strict) give them absolute paths in the state\n"
          "directory, or add ReadWritePaths= in a drop-in.\n"
          ".SH PLUGINS\n"
          "Each plugin's options, as \\fBbackplane plugins \\-\\-doc\\fR \\fIPLUGIN\\fR prints them: the\n"
          "keys of a connector (or a transform in \\fBthrough:\\fR) using it.\n", f);
    for (size_t i = 0; i < sc.n; i++)
        fputs(sc.v[i].text ? sc.v[i].text : "", f);
    fputs(".SH EXAMPLE\n.nf\n", f);
    roff(f, "site: acme\n"
            "connectors:\n"
            "  inbox:  { plugin: file, path: /var/lib/backplane/in/invoices.jsonl }\n"
            "  ledger: { plugin: file, path: /var/lib/backplane/out/ledger.jsonl }\n"
            "routes:\n"
            "  invoices:\n"
            "    from: inbox\n"
            "    through:\n"
            "      - set: { rename: { data.amt: data.total } }\n"
            "    review: { when: \"data.total > 10000\" }\n"
            "    to: ledger\n"
            "    errors: { retry: { max: 8, backoff: 1s..5m } }\n");
    fputs(".fi\n.SH SEE ALSO\n\\fBbackplane\\fR(1)\n", f);
    man_scan_free(&sc);
    return 0;
}

/* ---- bash completion ---- */

static int man_bash(FILE *f)
{
    fputs("# bash completion for backplane. Generated by `backplane __man bash-completion`\n"
          "# from the program's command table; do not edit.\n"
          "_backplane() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    COMPREPLY=()\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W '",
          f);
    for (const cli_command *k = cli_commands; k->name; k++)
        fprintf(f, "%s ", k->name);
    fputs("--help --version' -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case $prev in\n"
          "    --plugin-dir) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n"
          "    --log-level) COMPREPLY=($(compgen -W 'error warn info debug' -- \"$cur\")); return ;;\n"
          "    --log-format) COMPREPLY=($(compgen -W 'text json' -- \"$cur\")); return ;;\n"
          "    --log-file) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
          "    --doc) COMPREPLY=($(compgen -W \"$(backplane plugins 2>/dev/null | awk '/^[a-z]/ { print $1 }')\" -- \"$cur\")); return ;;\n"
          "    esac\n"
          "    if [[ $cur == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W '",
          f);
    for (const cli_option *o = cli_options; o->name; o++)
        if (strcmp(o->name, "--version") != 0)
            fprintf(f, "%s ", o->name);
    fputs("' -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    # Sub-actions, from each command's first argument word.\n"
          "    if [ \"$COMP_CWORD\" -eq 2 ]; then\n"
          "        case ${COMP_WORDS[1]} in\n",
          f);
    /* An args string starting with a|b|c lists a command's actions; ACTION
     * stands for the words its --help shows as `backplane CMD WORD`. */
    for (const cli_command *k = cli_commands; k->name; k++) {
        char words[256] = "";
        size_t n = 0;
        if (strchr(k->args, '|') && strchr(k->args, ' ')) {
            for (const char *p = k->args; *p && *p != ' ' && n + 2 < sizeof(words); p++)
                words[n++] = *p == '|' ? ' ' : *p;
            words[n] = '\0';
        } else if (strncmp(k->args, "ACTION", 6) == 0) {
            char *help = man_help_of(k), *save = NULL;
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "backplane %s ", k->name);
            for (char *line = help ? strtok_r(help, "\n", &save) : NULL; line;
                 line = strtok_r(NULL, "\n", &save)) {
                char *at = strstr(line, prefix);
                if (at == NULL)
                    continue;
                at += strlen(prefix);
                size_t w = strcspn(at, " ");
                char word[64];
                snprintf(word, sizeof(word), "%.*s", (int)w, at);
                if (word[0] < 'a' || word[0] > 'z' || strstr(words, word))
                    continue;
                n += (size_t)snprintf(words + n, n < sizeof(words) ? sizeof(words) - n : 0,
                                      "%s%s", n ? " " : "", word);
            }
            free(help);
        }
        if (words[0])
            fprintf(f, "        %s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n",
                    k->name, words);
    }
    fputs("        esac\n"
          "    fi\n"
          "    # Otherwise a site file (or whatever the word is): bash's file names.\n"
          "}\n"
          "complete -o bashdefault -o default -F _backplane backplane\n",
          f);
    return 0;
}

int cmd_man(int argc, char **argv)
{
    cli_common c = {0};
    const char *page = argc >= 2 ? argv[1] : "";
    char *av[40] = {argv[0]};
    int ac = 1;
    for (int i = 2; i < argc && ac < 39; i++)
        av[ac++] = argv[i];
    for (int i = 1; i < ac; i++) {
        if (strcmp(av[i], "--plugin-dir") == 0 && i + 1 < ac && c.n_plugin_dirs < 32)
            c.plugin_dirs[c.n_plugin_dirs++] = av[++i];
    }
    int rc;
    if (strcmp(page, "backplane.1") == 0)
        rc = man_page1(stdout, &c);
    else if (strcmp(page, "backplane-site.5") == 0)
        rc = man_page5(stdout, &c);
    else if (strcmp(page, "bash-completion") == 0)
        rc = man_bash(stdout);
    else {
        fprintf(stderr, "usage: backplane __man backplane.1|backplane-site.5|bash-completion "
                        "[--plugin-dir DIR]...\n");
        return BP_EXIT_USAGE;
    }
    fflush(stdout);
    return rc == 0 ? BP_EXIT_OK : BP_EXIT_INVALID;
}
