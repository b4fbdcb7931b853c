/* backplane dlq list|show|replay|drop: the dead letters of a site. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "cli.h"
#include "clock.h"
#include "control_client.h"
#include "diag.h"
#include "dlq.h"
#include "runtime.h"
#include "site.h"
#include "state.h"
#include "strutil.h"

static void dlq_usage(FILE *f)
{
    fprintf(f,
            "usage: backplane dlq list SITE [--route R]\n"
            "       backplane dlq show SITE SEQ\n"
            "       backplane dlq replay SITE (SEQ... | --all) [--route R] [--stage S] [--wait S]\n"
            "       backplane dlq drop SITE (SEQ... | --all) [--route R] [--stage S]\n"
            "Dead letters are records that failed permanently or ran out of retries, with\n"
            "the stage and the reason, kept in the site's state file.\n"
            "replay sends each back into its route where it failed: to the sink that\n"
            "refused it, or from the transform that rejected it through the rest of the\n"
            "route (sinks with a write-back ledger skip records they already applied); delivered,\n"
            "parked or dropped entries are removed, entries that fail again are\n"
            "dead-lettered anew. Raw input that never became an envelope cannot be\n"
            "replayed: fix it at the source, or drop it.\n"
            "Only the site's owner (`backplane run`) replays: through its control socket\n"
            "when it runs (--wait SECONDS for the outcome, default 30), else recorded for\n"
            "its next start. --all leaves records a reviewer rejected alone unless\n"
            "--stage review asks for them; --stage S takes the entries of stage S only.\n"
            "exit: 0 ok (or recorded), 1 site invalid, an entry not found, not replayable\n"
            "or dead-lettered again, 2 usage, 4 still pending after --wait\n");
}

typedef struct {
    int all;
    const char *route;
    int64_t now_ms;
} dlq_list_ctx;

static int dlq_print_row(const bp_dead_letter *dl, void *ud)
{
    dlq_list_ctx *c = ud;
    int64_t age = (c->now_ms - dl->created_ms) / 1000;
    char agebuf[32];
    if (age < 120)
        snprintf(agebuf, sizeof(agebuf), "%llds", (long long)age);
    else if (age < 7200)
        snprintf(agebuf, sizeof(agebuf), "%lldm", (long long)(age / 60));
    else
        snprintf(agebuf, sizeof(agebuf), "%lldh", (long long)(age / 3600));
    /* Record data reaches the terminal escaped (no forged rows, no ESC). */
    char *route = bp_escape_controls(dl->route, NULL), *stage = bp_escape_controls(dl->stage, NULL);
    char *reason = bp_escape_controls(dl->reason, NULL);
    printf("%-6lld %-16s %-24s %-6s %s\n", (long long)dl->seq, route ? route : "?",
           stage ? stage : "?", agebuf, reason ? reason : "?");
    free(route);
    free(stage);
    free(reason);
    return 0;
}

/* Whether a payload is an envelope (JSON) rather than raw input. */
static bp_envelope *dlq_envelope(const bp_dead_letter *dl)
{
    bp_envelope *env = NULL;
    if (bp_envelope_from_json(dl->payload, dl->payload_len, &env, NULL) != BP_OK)
        return NULL;
    return env;
}

static int dlq_parse_seq(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0)
        return 0;
    *out = v;
    return 1;
}

/* The OS user: who replays or drops (audited by the owner). */
static const char *dlq_actor(void)
{
    static char name[128];
    struct passwd *pw = getpwuid(getuid());
    snprintf(name, sizeof(name), "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    return name;
}

/* Collects entry numbers first: replay adds new entries for records that fail
 * again, and those must not be replayed in the same pass. */
typedef struct {
    int64_t *seqs;
    size_t n, cap;
    const char *stage;   /* only this stage; NULL: all but a reviewer's rejections */
} dlq_seq_list;

static int dlq_collect(const bp_dead_letter *dl, void *ud)
{
    dlq_seq_list *l = ud;
    if (l->stage ? strcmp(dl->stage, l->stage) != 0 : strcmp(dl->stage, "review") == 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *s = realloc(l->seqs, cap * sizeof(*s));
        if (s == NULL)
            return 1;
        l->seqs = s;
        l->cap = cap;
    }
    l->seqs[l->n++] = dl->seq;
    return 0;
}

/* GET path from the owner (--url): the parsed body, or NULL (said why). */
static cJSON *dlq_remote_get(const char *path)
{
    long code = 0;
    char *resp = NULL;
    if (cli_control_call(NULL, "GET", path, NULL, 30, &code, &resp) != 0) {
        fprintf(stderr, "backplane dlq: the owner did not answer (%s)\n", cli_remote_url());
        return NULL;
    }
    cJSON *o = cJSON_Parse(resp);
    free(resp);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (o == NULL || cJSON_IsString(e) || code != 200) {
        fprintf(stderr, "backplane dlq: %s\n",
                cJSON_IsString(e) ? e->valuestring : "bad answer from the owner");
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void dlq_from_json(const cJSON *x, bp_dead_letter *dl)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(x, "payload");
    *dl = (bp_dead_letter){
        .seq = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "seq")),
        .route = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "route")),
        .stage = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "stage")),
        .reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "reason")),
        .payload = cJSON_IsString(p) ? p->valuestring : NULL,
        .payload_len = cJSON_IsString(p) ? strlen(p->valuestring) : 0,
        .created_ms =
            (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "created_ms")),
    };
}

/* dlq with --url: everything through the owner's API (no state file here). */
static int dlq_remote(int is_list, int is_show, int is_replay, int all, const char *route,
                      const char *stage, const char *wait, const int64_t *seqs, int n_seqs)
{
    char path[600];
    if (is_list || all) {
        snprintf(path, sizeof(path), "/api/v1/dlq%s%s", route ? "?route=" : "",
                 route ? route : "");
        cJSON *o = dlq_remote_get(path);
        if (o == NULL)
            return BP_EXIT_INVALID;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
        dlq_list_ctx lc = {.route = route, .now_ms = bp_now_ms()};
        dlq_seq_list list = {.stage = stage};
        if (is_list)
            printf("%-6s %-16s %-24s %-6s %s\n", "SEQ", "ROUTE", "STAGE", "AGE", "REASON");
        for (const cJSON *x = items ? items->child : NULL; x; x = x->next) {
            bp_dead_letter dl;
            dlq_from_json(x, &dl);
            if (dl.route == NULL || dl.stage == NULL || dl.reason == NULL)
                continue;
            if (is_list)
                dlq_print_row(&dl, &lc);
            else
                dlq_collect(&dl, &list);
        }
        cJSON_Delete(o);
        if (is_list)
            return BP_EXIT_OK;
        seqs = list.seqs;
        n_seqs = (int)list.n;
        int rc = dlq_remote(0, 0, is_replay, 0, route, stage, wait, seqs, n_seqs);
        free(list.seqs);
        return rc;
    }
    if (is_show) {
        snprintf(path, sizeof(path), "/api/v1/dlq/%lld", (long long)seqs[0]);
        cJSON *o = dlq_remote_get(path);
        if (o == NULL)
            return BP_EXIT_INVALID;
        bp_dead_letter dl;
        dlq_from_json(o, &dl);
        char *r = bp_escape_controls(dl.route, NULL), *s = bp_escape_controls(dl.stage, NULL);
        char *why = bp_escape_controls(dl.reason, NULL);
        char *pl = bp_escape_controls(dl.payload ? dl.payload : "", "\n\t");
        printf("seq:    %lld\nroute:  %s\nstage:  %s\nreason: %s\npayload:\n%s\n",
               (long long)dl.seq, r ? r : "?", s ? s : "?", why ? why : "?", pl ? pl : "?");
        free(r);
        free(s);
        free(why);
        free(pl);
        cJSON_Delete(o);
        return BP_EXIT_OK;
    }
    int done = 0, failed = 0, pending = 0;
    for (int i = 0; i < n_seqs; i++) {
        int r = cli_owner_request("dlq", "@remote", "dlq", seqs[i], is_replay ? "replay" : "delete",
                                  "token", NULL, wait ? strtod(wait, NULL) : -1);
        done += r == 0;
        failed += r == 1;
        pending += r == 4;
    }
    printf("%d entr%s %s, %d not resolved%s\n", done, done == 1 ? "y" : "ies",
           is_replay ? "replayed" : "dropped", failed, pending ? ", some still pending" : "");
    return failed ? BP_EXIT_INVALID : pending ? 4 : BP_EXIT_OK;
}

int cmd_dlq(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        dlq_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BP_EXIT_USAGE : BP_EXIT_OK;
    }
    const char *verb = argv[1];
    int is_list = strcmp(verb, "list") == 0, is_show = strcmp(verb, "show") == 0;
    int is_replay = strcmp(verb, "replay") == 0, is_drop = strcmp(verb, "drop") == 0;
    if (!is_list && !is_show && !is_replay && !is_drop) {
        fprintf(stderr, "backplane dlq: unknown action '%s' (list, show, replay, drop)\n", verb);
        return BP_EXIT_USAGE;
    }
    cli_common c = {0};
    const char *path = NULL, *route = NULL, *stage = NULL, *wait = NULL;
    /* --stage and --wait: taken out here (cli_parse knows one value option). */
    int w = 2;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "--stage") == 0 || strcmp(argv[i], "--wait") == 0) && i + 1 < argc) {
            *(argv[i][2] == 's' ? &stage : &wait) = argv[i + 1];
            i++;
            continue;
        }
        argv[w++] = argv[i];
    }
    argc = w;
    /* Room for every argument: no fixed limit on entry numbers. */
    const char **rest = calloc((size_t)argc, sizeof(*rest));
    int64_t *seqs = calloc((size_t)argc, sizeof(*seqs));
    int n_rest = 0, all = 0, rc = BP_EXIT_USAGE, opened = 0;
    cli_site cs;
    if (rest == NULL || seqs == NULL) {
        fprintf(stderr, "backplane dlq: out of memory\n");
        rc = BP_EXIT_RUNTIME;
        goto out;
    }
    const cli_spec spec = {.cmd = "dlq", .usage = dlq_usage, .site = 1, .flag = "--all",
                           .flag_set = &all, .value_opt = "--route", .value = &route,
                           .rest = rest, .max_rest = argc, .n_rest = &n_rest};
    int r = cli_parse(&spec, argc - 1, argv + 1, &c, &path);
    if (r != 0) {
        rc = r > 0 ? BP_EXIT_OK : BP_EXIT_USAGE;
        goto out;
    }
    if ((is_show && n_rest != 1) || (is_list && (n_rest || all)) ||
        ((is_replay || is_drop) && (n_rest == 0) == !all)) {
        dlq_usage(stderr);
        goto out;
    }
    for (int i = 0; i < n_rest; i++) {
        if (!dlq_parse_seq(rest[i], &seqs[i])) {
            fprintf(stderr, "backplane dlq: '%s' is not an entry number\n", rest[i]);
            goto out;
        }
    }

    if (cli_remote_active()) {
        rc = dlq_remote(is_list, is_show, is_replay, all, route, stage, wait, seqs, n_rest);
        goto out;
    }
    rc = BP_EXIT_INVALID;
    opened = 1;
    memset(&cs, 0, sizeof(cs));
    /* The state file only: no plugin, no connector secret (DESIGN.md §9). */
    {
        char *name = NULL, *state_path = NULL, *err = NULL;
        int located = cli_site_locate(path, &name, &state_path) == 0;
        if (located && !bp_db_target_is_pg(state_path) && access(state_path, F_OK) != 0)
            fprintf(stderr, "backplane dlq: state file %s does not exist (the site never ran)\n",
                    state_path);
        else if (located && bp_state_open(state_path, name, &cs.st, &err) != BP_OK)
            fprintf(stderr, "backplane dlq: %s\n", err ? err : "cannot open the state file");
        free(err);
        free(name);
        free(state_path);
        if (cs.st == NULL)
            goto out;
    }
    bp_state *st = cs.st;
    rc = BP_EXIT_OK;
    if (is_list) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        dlq_list_ctx lc = {.route = route, .now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
        printf("%-6s %-16s %-24s %-6s %s\n", "SEQ", "ROUTE", "STAGE", "AGE", "REASON");
        if (bp_state_dlq_foreach(st, route, 0, dlq_print_row, &lc) != BP_OK)
            rc = BP_EXIT_RUNTIME;
    } else if (is_show) {
        bp_dead_letter dl;
        if (bp_state_dlq_get(st, seqs[0], &dl) != BP_OK) {
            fprintf(stderr, "backplane dlq: no entry %lld\n", (long long)seqs[0]);
            rc = BP_EXIT_INVALID;
        } else {
            char *route = bp_escape_controls(dl.route, NULL);
            char *stage = bp_escape_controls(dl.stage, NULL);
            char *reason = bp_escape_controls(dl.reason, NULL);
            printf("seq:    %lld\nroute:  %s\nstage:  %s\nreason: %s\n", (long long)dl.seq,
                   route ? route : "?", stage ? stage : "?", reason ? reason : "?");
            free(route);
            free(stage);
            free(reason);
            bp_envelope *env = dlq_envelope(&dl);
            if (env) {
                char *pretty = bp_envelope_to_json(env, BP_SER_FULL | BP_SER_PRETTY);
                char *shown = bp_escape_controls(pretty ? pretty : dl.payload, "\n\t");
                printf("envelope:\n%s\n", shown ? shown : "?");
                free(shown);
                free(pretty);
                bp_envelope_unref(env);
            } else {
                char *raw = bp_escape_controls(dl.payload, "\n\t");
                printf("raw input (%zu bytes):\n%s\n", dl.payload_len, raw ? raw : "?");
                free(raw);
            }
            bp_dead_letter_clear(&dl);
        }
    } else {
        dlq_seq_list list = {.stage = stage};
        if (all)
            bp_state_dlq_foreach(st, route, 0, dlq_collect, &list);
        size_t count = all ? list.n : (size_t)n_rest;
        int done = 0, failed = 0, pending = 0;
        for (size_t i = 0; i < count; i++) {
            int64_t seq = all ? list.seqs[i] : seqs[i];
            if (!all && route) {   /* an entry of another route is skipped silently */
                bp_dead_letter dl;
                if (bp_state_dlq_get(st, seq, &dl) == BP_OK) {
                    int other = strcmp(dl.route, route) != 0;
                    bp_dead_letter_clear(&dl);
                    if (other)
                        continue;
                }
            }
            int r = cli_owner_request("dlq", path, "dlq", seq, is_replay ? "replay" : "delete",
                                      dlq_actor(), NULL, wait ? strtod(wait, NULL) : -1);
            done += r == 0;
            failed += r == 1;
            pending += r == 4;
        }
        free(list.seqs);
        printf("%d entr%s %s, %d not resolved%s\n", done, done == 1 ? "y" : "ies",
               is_replay ? "replayed" : "dropped", failed, pending ? ", some still pending" : "");
        if (failed)
            rc = BP_EXIT_INVALID;
        else if (pending)
            rc = 4;
    }
out:
    if (opened)
        cli_site_close(&cs);
    free(rest);
    free(seqs);
    return rc;
}
