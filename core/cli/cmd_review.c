/* backplane review list|show|approve|correct|reject|export: the people's side
 * of the review gate. Decisions are audited with the OS user; approved and
 * corrected records resume after the stage that parked them. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "cli.h"
#include "control.h"
#include "control_client.h"
#include "clock.h"
#include "diag.h"
#include "json_print.h"
#include "log.h"
#include "review.h"
#include "runtime.h"
#include "site.h"
#include "state.h"
#include "strutil.h"

static void review_usage(FILE *f)
{
    fprintf(f,
            "usage: backplane review list SITE [--route R]\n"
            "       backplane review show SITE SEQ\n"
            "       backplane review approve SITE SEQ... [--note TEXT] [--wait S]\n"
            "       backplane review correct SITE SEQ --set PATH=VALUE... [--add] [--note TEXT]\n"
            "       backplane review reject SITE SEQ... --reason TEXT\n"
            "       backplane review reopen SITE SEQ... [--note TEXT]\n"
            "       backplane review export SITE [--out FILE]\n"
            "Records parked for a person (review.when, or a transform that asked for\n"
            "review), highest priority first, then oldest.\n"
            "approve sends a record on from the stage after the one that parked it;\n"
            "correct first sets fields (--set data.total=1250.00 --set data.vendor=ACME)\n"
            "and keeps each change as a labelled example. A value keeps the type the\n"
            "field has: into a string it is text (5 stays \"5\"), into a number,\n"
            "boolean, object or array it must be JSON of that type. A path the record\n"
            "does not have is refused unless --add (then VALUE is JSON, else text).\n"
            "reject moves it to the dead letters with the reason; reopen parks a\n"
            "rejected entry again (a new entry; the audit keeps both decisions).\n"
            "Every decision goes to the audit log with the OS user and what changed.\n"
            "export writes the corrections as JSON lines (route, path, from, to, record)\n"
            "for training.\n"
            "Decisions go to the site's owner (`backplane run`) over its control socket,\n"
            "which delivers; --wait SECONDS (default 30) waits for the outcome. With no\n"
            "owner running the decision is recorded and carried out at its next start.\n"
            "Of two decisions on one record the second gets \"already decided by NAME\".\n"
            "exit: 0 ok (delivered, rejected or recorded), 1 site invalid, an entry not\n"
            "found, already decided or dead-lettered, 2 usage, 4 still pending after --wait\n");
}

/* The reviewer: the OS user running the command. */
static const char *review_actor(void)
{
    static char name[128];
    struct passwd *pw = getpwuid(getuid());
    snprintf(name, sizeof(name), "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    return name;
}

static void review_age(int64_t ms, char *buf, size_t n)
{
    int64_t age = ms / 1000;
    if (age < 120)
        snprintf(buf, n, "%llds", (long long)age);
    else if (age < 7200)
        snprintf(buf, n, "%lldm", (long long)(age / 60));
    else if (age < 172800)
        snprintf(buf, n, "%lldh", (long long)(age / 3600));
    else
        snprintf(buf, n, "%lldd", (long long)(age / 86400));
}

static int review_print_row(const bp_review_item *it, void *ud)
{
    int64_t now = *(int64_t *)ud;
    char age[32], conf[16];
    review_age(now - it->created_ms, age, sizeof(age));
    if (it->confidence >= 0)
        snprintf(conf, sizeof(conf), "%.2f", it->confidence);
    else
        snprintf(conf, sizeof(conf), "-");
    /* Record data reaches the terminal escaped (no forged rows, no ESC). */
    char *f[5] = {bp_escape_controls(it->route, NULL), bp_escape_controls(it->stage, NULL),
                  bp_escape_controls(it->flags ? it->flags : "-", NULL),
                  bp_escape_controls(it->subject ? it->subject : "-", NULL),
                  bp_escape_controls(it->reason, NULL)};
    printf("%-5lld %4lld  %-12s %-20s %-5s %-5s %-20s %-14s %s\n", (long long)it->seq,
           (long long)it->priority, f[0] ? f[0] : "?", f[1] ? f[1] : "?", age, conf,
           f[2] ? f[2] : "?", f[3] ? f[3] : "?", f[4] ? f[4] : "?");
    for (int i = 0; i < 5; i++)
        free(f[i]);
    return 0;
}

static char *review_json_text(const cJSON *v)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (v == NULL || bp_json_append(v, &buf, &len, &cap) != BP_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* set and rest have room for every argument (argc): no fixed limit. */
typedef struct {
    const char **set;
    int n_set;
    int add;
    const char *note, *reason, *route, *out, *wait;
    const char **rest;
    int n_rest;
} review_args;

/* Parses the arguments after the verb; returns -1 on a usage error. */
static int review_parse(int argc, char **argv, review_args *a, cli_common *c, const char **site)
{
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = NULL;
        if (strcmp(s, "--set") == 0) {
            slot = &a->set[a->n_set++];
        } else if (strcmp(s, "--add") == 0) {
            a->add = 1;
            continue;
        } else if (strcmp(s, "--note") == 0) {
            slot = &a->note;
        } else if (strcmp(s, "--reason") == 0) {
            slot = &a->reason;
        } else if (strcmp(s, "--route") == 0) {
            slot = &a->route;
        } else if (strcmp(s, "--out") == 0) {
            slot = &a->out;
        } else if (strcmp(s, "--wait") == 0) {
            slot = &a->wait;
        } else if (strcmp(s, "--plugin-dir") == 0 || strcmp(s, "--log-level") == 0) {
            if (i + 1 >= argc)
                return -1;
            if (s[2] == 'p' && c->n_plugin_dirs == 32) {
                fprintf(stderr, "backplane review: too many --plugin-dir options (at most 32)\n");
                return -1;
            }
            if (s[2] == 'p')
                c->plugin_dirs[c->n_plugin_dirs++] = argv[i + 1];
            else
                c->log_level = argv[i + 1];
            i++;
            continue;
        } else if (s[0] == '-') {
            fprintf(stderr, "backplane review: unknown option '%s'\n", s);
            return -1;
        } else if (*site == NULL) {
            *site = s;
            continue;
        } else {
            a->rest[a->n_rest++] = s;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "backplane review: %s needs a value\n", s);
            return -1;
        }
        *slot = argv[++i];
    }
    return *site ? 0 : -1;
}

typedef struct {
    bp_state *st;
    FILE *out;
    size_t n;
} review_export_ctx;

static int review_export_one(const char *route, const char *path, const char *old_json,
                             const char *new_json, const char *payload, void *ud)
{
    review_export_ctx *c = ud;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "route", route ? route : "");
    cJSON_AddStringToObject(o, "path", path ? path : "");
    cJSON *from = old_json ? cJSON_Parse(old_json) : NULL;
    cJSON_AddItemToObject(o, "from", from ? from : cJSON_CreateNull());
    cJSON *to = new_json ? cJSON_Parse(new_json) : NULL;
    cJSON_AddItemToObject(o, "to", to ? to : cJSON_CreateNull());
    cJSON *rec = payload ? cJSON_Parse(payload) : NULL;
    cJSON_AddItemToObject(o, "record", rec ? rec : cJSON_CreateNull());
    char *line = review_json_text(o);
    cJSON_Delete(o);
    if (line)
        fprintf(c->out, "%s\n", line);
    free(line);
    c->n++;
    return 0;
}

/* approve / correct / reject of one entry: a request to the owner (or, with
 * none running, recorded for it); returns the exit status of DESIGN.md §9. */
static int review_decide(const char *site, const char *verb, int64_t seq, const review_args *a,
                         const bp_review_set *sets)
{
    cJSON *b = cJSON_CreateObject();
    if (a->note)
        cJSON_AddStringToObject(b, "note", a->note);
    if (a->reason)
        cJSON_AddStringToObject(b, "reason", a->reason);
    if (a->n_set) {
        /* Values go as typed (JSON strings): the owner coerces them into the
         * field's type (review.h). */
        cJSON *set = cJSON_AddObjectToObject(b, "set");
        for (int i = 0; i < a->n_set; i++)
            cJSON_AddStringToObject(set, sets[i].path, sets[i].value);
        cJSON_AddBoolToObject(b, "add", a->add);
    }
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    double wait = a->wait ? strtod(a->wait, NULL) : -1;
    int rc = cli_owner_request("review", site, "review", seq, verb, review_actor(), body, wait);
    free(body);
    return rc;
}

int cli_export_corrections(const char *site_path, const char *out_path, size_t *n)
{
    cli_site cs;
    cli_common none = {0};
    int rc = -1;
    review_export_ctx ec = {0};
    *n = 0;
    if (cli_site_open(&cs, site_path, &none, 0) < 0)
        goto out;
    ec.st = cs.st;
    if ((ec.out = bp_fopen_private(out_path, "w")) == NULL) {
        bp_diags_add(&cs.d, NULL, 0, 0, "cannot write %s", out_path);
        goto out;
    }
    if (bp_state_corrections_foreach(cs.st, review_export_one, &ec) == BP_OK)
        rc = 0;
    if (fclose(ec.out) != 0)
        rc = -1;
    *n = ec.n;
out:
    cli_site_close(&cs);
    return rc;
}

/* `review list` through the owner's GET /api/v1/review: the exit status, or
 * -1 when no owner serves the site (the caller reads the state file). */
static int review_list_via_owner(const char *site, const char *route)
{
    char *name = NULL, *state_path = NULL, sock[256];
    int rc = -1;
    if (cli_site_locate(site, &name, &state_path) < 0) {
        rc = BP_EXIT_INVALID;
        goto out;
    }
    bp_site fake = {.name = name, .state_path = state_path};
    if (bp_control_socket_path(&fake, sock, sizeof(sock)) != 0 || cli_owner_reachable(sock) != 1)
        goto out;
    char url[512];
    snprintf(url, sizeof(url), "/api/v1/review%s%s", route ? "?route=" : "", route ? route : "");
    long code = 0;
    char *resp = NULL;
    rc = BP_EXIT_INVALID;
    if (cli_control_call(sock, "GET", url, NULL, 30, &code, &resp) != 0) {
        fprintf(stderr, "backplane review: the owner did not answer on %s\n", sock);
        goto out;
    }
    cJSON *o = cJSON_Parse(resp);
    free(resp);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (cJSON_IsString(e) || !cJSON_IsArray(items)) {
        fprintf(stderr, "backplane review: %s\n",
                cJSON_IsString(e) ? e->valuestring : "bad answer from the owner");
        cJSON_Delete(o);
        goto out;
    }
    int64_t now = bp_now_ms();
    printf("%-5s %4s  %-12s %-20s %-5s %-5s %-20s %-14s %s\n", "SEQ", "PRIO", "ROUTE", "STAGE",
           "AGE", "CONF", "FLAGS", "SUBJECT", "REASON");
    for (const cJSON *x = items->child; x; x = x->next) {
        const cJSON *conf = cJSON_GetObjectItemCaseSensitive(x, "confidence");
        const cJSON *flags = cJSON_GetObjectItemCaseSensitive(x, "flags");
        const cJSON *subj = cJSON_GetObjectItemCaseSensitive(x, "subject");
        bp_review_item it = {
            .seq = (int64_t)cJSON_GetObjectItemCaseSensitive(x, "seq")->valuedouble,
            .route = cJSON_GetObjectItemCaseSensitive(x, "route")->valuestring,
            .stage = cJSON_GetObjectItemCaseSensitive(x, "stage")->valuestring,
            .reason = cJSON_GetObjectItemCaseSensitive(x, "reason")->valuestring,
            .flags = cJSON_IsString(flags) ? flags->valuestring : NULL,
            .subject = cJSON_IsString(subj) ? subj->valuestring : NULL,
            .confidence = cJSON_IsNumber(conf) ? conf->valuedouble : -1,
            .priority = (int64_t)cJSON_GetObjectItemCaseSensitive(x, "priority")->valuedouble,
            .created_ms =
                (int64_t)cJSON_GetObjectItemCaseSensitive(x, "created_ms")->valuedouble,
        };
        review_print_row(&it, &now);
    }
    cJSON_Delete(o);
    rc = BP_EXIT_OK;
out:
    free(name);
    free(state_path);
    return rc;
}

int cmd_review(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        review_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BP_EXIT_USAGE : BP_EXIT_OK;
    }
    const char *verb = argv[1];
    static const char *const verbs[] = {"list", "show", "approve", "correct", "reject", "reopen",
                                        "export", NULL};
    int known = 0;
    for (size_t i = 0; verbs[i]; i++)
        known |= strcmp(verb, verbs[i]) == 0;
    if (!known) {
        fprintf(stderr, "backplane review: unknown action '%s' (list, show, approve, correct, "
                        "reject, reopen, export)\n", verb);
        return BP_EXIT_USAGE;
    }
    review_args a = {0};
    cli_common c = {0};
    const char *path = NULL;
    int rc = BP_EXIT_USAGE;
    int64_t *seqs = NULL;
    bp_review_set *sets = NULL;
    cli_site cs = {0};
    int opened = 0;
    a.set = calloc((size_t)argc, sizeof(*a.set));
    a.rest = calloc((size_t)argc, sizeof(*a.rest));
    seqs = calloc((size_t)argc, sizeof(*seqs));
    sets = calloc((size_t)argc, sizeof(*sets));
    if (a.set == NULL || a.rest == NULL || seqs == NULL || sets == NULL) {
        fprintf(stderr, "backplane review: out of memory\n");
        rc = BP_EXIT_RUNTIME;
        goto out;
    }
    if (review_parse(argc - 2, argv + 2, &a, &c, &path) < 0) {
        review_usage(stderr);
        goto out;
    }
    int decide = strcmp(verb, "approve") == 0 || strcmp(verb, "correct") == 0 ||
                 strcmp(verb, "reject") == 0 || strcmp(verb, "reopen") == 0;
    if ((strcmp(verb, "show") == 0 && a.n_rest != 1) ||
        ((strcmp(verb, "list") == 0 || strcmp(verb, "export") == 0) && a.n_rest) ||
        (decide && a.n_rest == 0) ||
        (strcmp(verb, "correct") == 0 && (a.n_set == 0 || a.n_rest != 1)) ||
        (strcmp(verb, "reject") == 0 && (a.reason == NULL || a.reason[0] == '\0'))) {
        if (strcmp(verb, "reject") == 0 && a.reason == NULL)
            fprintf(stderr, "backplane review: reject needs --reason TEXT\n");
        review_usage(stderr);
        goto out;
    }
    for (int i = 0; i < a.n_rest; i++) {
        char *end;
        long long v = strtoll(a.rest[i], &end, 10);
        if (*a.rest[i] == '\0' || *end != '\0' || v <= 0) {
            fprintf(stderr, "backplane review: '%s' is not an entry number\n", a.rest[i]);
            goto out;
        }
        seqs[i] = v;
    }
    /* --set PATH=VALUE: split here, applied by bp_review_decide. */
    for (int i = 0; i < a.n_set; i++) {
        const char *eq = strchr(a.set[i], '=');
        if (eq == NULL || eq == a.set[i]) {
            fprintf(stderr, "backplane review: --set wants PATH=VALUE, got '%s'\n", a.set[i]);
            goto out;
        }
        sets[i].path = strndup(a.set[i], (size_t)(eq - a.set[i]));
        sets[i].value = eq + 1;
        if (sets[i].path == NULL) {
            rc = BP_EXIT_RUNTIME;
            goto out;
        }
    }
    if (c.log_level) {
        int l = bp_log_level_parse(c.log_level);
        if (l >= 0)
            bp_log_set_level((enum bp_log_level)l);
    }

    if (decide) {
        /* Only the owner delivers (DESIGN.md §9): never a sink from here. */
        rc = BP_EXIT_OK;
        for (int i = 0; i < a.n_rest; i++) {
            int r = review_decide(path, verb, seqs[i], &a, sets);
            if (r != 0 && (rc == BP_EXIT_OK || r == 1))
                rc = r;
        }
        goto out;
    }
    if (cli_remote_active() && (strcmp(verb, "show") == 0 || strcmp(verb, "export") == 0)) {
        if (strcmp(verb, "export") == 0) {
            /* The owner's GET /api/v1/corrections: the same lines. */
            long code = 0;
            char *resp = NULL;
            rc = BP_EXIT_INVALID;
            if (cli_control_call(NULL, "GET", "/api/v1/corrections", NULL, 60, &code, &resp) != 0) {
                fprintf(stderr, "backplane review: the owner did not answer (%s)\n",
                        cli_remote_url());
                goto out;
            }
            if (code != 200) {
                cJSON *o = cJSON_Parse(resp);
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
                fprintf(stderr, "backplane review: %s (HTTP %ld)\n",
                        cJSON_IsString(e) ? e->valuestring : "export refused", code);
                cJSON_Delete(o);
                free(resp);
                goto out;
            }
            FILE *f = a.out ? bp_fopen_private(a.out, "w") : stdout;
            size_t n = 0;
            for (const char *p = resp; p && *p; p++)
                n += *p == '\n';
            if (f == NULL) {
                fprintf(stderr, "backplane review: cannot write %s\n", a.out);
            } else {
                int bad = fputs(resp ? resp : "", f) == EOF;
                if (a.out) {
                    bad |= fclose(f) != 0;
                    if (!bad)
                        fprintf(stderr, "%zu correction(s) written to %s\n", n, a.out);
                }
                rc = bad ? BP_EXIT_RUNTIME : BP_EXIT_OK;
            }
            free(resp);
            goto out;
        }
        /* show with --url: the owner's GET /api/v1/review/SEQ, as JSON. */
        char url[64];
        snprintf(url, sizeof(url), "/api/v1/review/%lld", (long long)seqs[0]);
        long code = 0;
        char *resp = NULL;
        rc = BP_EXIT_INVALID;
        if (cli_control_call(NULL, "GET", url, NULL, 30, &code, &resp) != 0) {
            fprintf(stderr, "backplane review: the owner did not answer (%s)\n",
                    cli_remote_url());
            goto out;
        }
        cJSON *o = cJSON_Parse(resp);
        free(resp);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
        if (cJSON_IsString(e) || o == NULL) {
            fprintf(stderr, "backplane review: %s\n", cJSON_IsString(e) ? e->valuestring
                                                                         : "bad answer");
        } else {
            char *text = cJSON_Print(o);
            char *shown = bp_escape_controls(text ? text : "", "\n\t");
            printf("%s\n", shown ? shown : "?");
            free(shown);
            free(text);
            rc = BP_EXIT_OK;
        }
        cJSON_Delete(o);
        goto out;
    }
    if (strcmp(verb, "list") == 0) {
        /* Through the owner when one runs: a reviewer in the socket's group
         * needs no access to the state file. */
        int r = review_list_via_owner(path, a.route);
        if (r >= 0) {
            rc = r;
            goto out;
        }
    }
    rc = BP_EXIT_INVALID;
    opened = 1;
    /* Reading the queue needs the state file only: not the connectors'
     * secrets, nor a valid rest of the site. */
    {
        char *name = NULL, *state_path = NULL, *err = NULL;
        int located = cli_site_locate(path, &name, &state_path) == 0;
        if (located && !bp_db_target_is_pg(state_path) && access(state_path, F_OK) != 0)
            fprintf(stderr, "backplane review: state file %s does not exist (the site never "
                            "ran)\n", state_path);
        else if (located && bp_state_open(state_path, name, &cs.st, &err) != BP_OK)
            fprintf(stderr, "backplane review: %s\n", err ? err : "cannot open the state file");
        free(err);
        free(name);
        free(state_path);
        if (cs.st == NULL)
            goto out;
    }
    bp_state *st = cs.st;
    rc = BP_EXIT_OK;
    if (strcmp(verb, "list") == 0) {
        int64_t now = bp_now_ms();
        printf("%-5s %4s  %-12s %-20s %-5s %-5s %-20s %-14s %s\n", "SEQ", "PRIO", "ROUTE",
               "STAGE", "AGE", "CONF", "FLAGS", "SUBJECT", "REASON");
        if (bp_state_review_foreach(st, a.route, review_print_row, &now) != BP_OK)
            rc = BP_EXIT_RUNTIME;
    } else if (strcmp(verb, "show") == 0) {
        bp_review_item it;
        if (bp_state_review_get(st, seqs[0], &it) != BP_OK) {
            fprintf(stderr, "backplane review: no parked record %lld\n", (long long)seqs[0]);
            rc = BP_EXIT_INVALID;
        } else {
            char age[32];
            review_age(bp_now_ms() - it.created_ms, age, sizeof(age));
            char *f[5] = {bp_escape_controls(it.route, NULL), bp_escape_controls(it.stage, NULL),
                          bp_escape_controls(it.reason, NULL),
                          bp_escape_controls(it.flags ? it.flags : "-", NULL),
                          bp_escape_controls(it.subject ? it.subject : "-", NULL)};
            printf("seq:        %lld\nroute:      %s\nstage:      %s\nreason:     %s\n"
                   "priority:   %lld\nflags:      %s\nsubject:    %s\nwaiting:    %s\n",
                   (long long)it.seq, f[0] ? f[0] : "?", f[1] ? f[1] : "?", f[2] ? f[2] : "?",
                   (long long)it.priority, f[3] ? f[3] : "?", f[4] ? f[4] : "?", age);
            for (int i = 0; i < 5; i++)
                free(f[i]);
            if (it.confidence >= 0)
                printf("confidence: %.4f\n", it.confidence);
            bp_envelope *env = NULL;
            if (it.payload &&
                bp_envelope_from_json(it.payload, strlen(it.payload), &env, NULL) == BP_OK) {
                char *pretty = bp_envelope_to_json(env, BP_SER_FULL | BP_SER_PRETTY);
                char *shown = bp_escape_controls(pretty ? pretty : it.payload, "\n\t");
                printf("envelope:\n%s\n", shown ? shown : "?");
                free(shown);
                free(pretty);
                bp_envelope_unref(env);
            }
            bp_review_item_clear(&it);
        }
    } else if (strcmp(verb, "export") == 0) {
        review_export_ctx ec = {.st = st, .out = stdout};
        if (a.out && (ec.out = bp_fopen_private(a.out, "w")) == NULL) {
            fprintf(stderr, "backplane review: cannot write %s\n", a.out);
            rc = BP_EXIT_INVALID;
        } else {
            if (bp_state_corrections_foreach(st, review_export_one, &ec) != BP_OK)
                rc = BP_EXIT_RUNTIME;
            if (a.out) {
                fclose(ec.out);
                fprintf(stderr, "%zu correction(s) written to %s\n", ec.n, a.out);
            }
        }
    }
out:
    if (opened)
        cli_site_close(&cs);
    for (int i = 0; sets && i < a.n_set; i++)
        free((char *)sets[i].path);
    free(sets);
    free(seqs);
    free(a.set);
    free(a.rest);
    return rc;
}
