/* backplane dlq list|show|replay|drop: the dead letters of a site. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audit_log.h"
#include "cli.h"
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
            "       backplane dlq replay SITE (SEQ... | --all) [--route R] [--plugin-dir DIR]...\n"
            "       backplane dlq drop SITE (SEQ... | --all) [--route R]\n"
            "Dead letters are records that failed permanently or ran out of retries, with\n"
            "the stage and the reason, kept in the site's state file.\n"
            "replay sends each back into its route where it failed: to the sink that\n"
            "refused it, or from the transform that rejected it through the rest of the\n"
            "route (sinks with a write-back ledger skip records they already applied); delivered,\n"
            "parked or dropped entries are removed, entries that fail again are\n"
            "dead-lettered anew. Raw input that never became an envelope cannot be\n"
            "replayed: fix it at the source, or drop it.\n"
            "exit: 0 ok, 1 site invalid or an entry not found or not replayable, 2 usage\n");
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

typedef struct {
    bp_runtime *rt;
    bp_state *st;
    const char *route;
    int replay;          /* else drop */
    int failed;
    int done;
} dlq_act_ctx;

/* Replays or drops one entry (bp_dlq_replay, bp_dlq_drop) and says what
 * became of it. Returns 1 when the pass must stop (the state store failed). */
/* issue 18: an operator's replay or drop is always a leaf of the audit log
 * (who, which entry, the record, what became of it). The entry is read
 * before the action removes it. */
static void dlq_audit(dlq_act_ctx *c, int64_t seq, const bp_dead_letter *dl, const char *what)
{
    struct passwd *pw = getpwuid(getuid());
    char actor[160];
    snprintf(actor, sizeof(actor), "os:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    bp_envelope *env = dl ? dlq_envelope(dl) : NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "dlq_seq", (double)seq);
    if (dl) {
        cJSON_AddStringToObject(o, "stage", dl->stage);
        cJSON_AddStringToObject(o, "reason", dl->reason);
    }
    cJSON_AddStringToObject(o, "result", what);
    char *payload = cJSON_PrintUnformatted(o);
    bp_audit_entry e = {.actor = actor, .kind = c->replay ? "dlq:replay" : "dlq:drop",
                        .route = dl ? dl->route : NULL,
                        .source = env ? bp_envelope_get0_attr(env, "source") : NULL,
                        .id = env ? bp_envelope_get0_attr(env, "id") : NULL,
                        .subject = env ? bp_envelope_get0_attr(env, "subject") : NULL,
                        .payload = payload};
    if (bp_audit_append(c->st, &e) != BP_OK)
        fprintf(stderr, "backplane dlq: entry %lld: cannot write its audit entry\n",
                (long long)seq);
    free(payload);
    cJSON_Delete(o);
    if (env)
        bp_envelope_unref(env);
}

static int dlq_act_one(dlq_act_ctx *c, int64_t seq)
{
    bp_dead_letter dl = {0};
    int have = bp_state_dlq_get(c->st, seq, &dl) == BP_OK;
    bp_dlq_result res;
    bp_status st = c->replay ? bp_dlq_replay(c->rt, seq, c->route, &res)
                             : bp_dlq_drop(c->st, seq, c->route, &res);
    if (res.what == NULL) {
        if (res.error) {   /* (an entry of another route is skipped silently) */
            fprintf(stderr, "backplane dlq: %s\n", res.error);
            c->failed++;
        }
        free(res.error);
        bp_dead_letter_clear(&dl);
        return st == BP_ERR_IO;
    }
    printf("%lld %s\n", (long long)seq, res.what);
    dlq_audit(c, seq, have ? &dl : NULL, res.what);
    bp_dead_letter_clear(&dl);
    c->failed += st == BP_REJECT;
    c->done++;
    return 0;
}

/* Collects entry numbers first: replay adds new entries for records that fail
 * again, and those must not be replayed in the same pass. */
typedef struct {
    int64_t *seqs;
    size_t n, cap;
} dlq_seq_list;

static int dlq_collect(const bp_dead_letter *dl, void *ud)
{
    dlq_seq_list *l = ud;
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
    const char *path = NULL, *route = NULL;
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

    rc = BP_EXIT_INVALID;
    opened = 1;
    if (cli_site_open(&cs, path, &c, is_replay) < 0)
        goto out;
    bp_runtime *rt = cs.rt;
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
        dlq_act_ctx ac = {.rt = rt, .st = st, .route = route, .replay = is_replay};
        dlq_seq_list list = {0};
        if (all)
            bp_state_dlq_foreach(st, route, 0, dlq_collect, &list);
        size_t count = all ? list.n : (size_t)n_rest;
        for (size_t i = 0; i < count; i++)
            if (dlq_act_one(&ac, all ? list.seqs[i] : seqs[i]))
                break;
        free(list.seqs);
        printf("%d entr%s %s, %d not resolved\n", ac.done, ac.done == 1 ? "y" : "ies",
               is_replay ? "replayed" : "dropped", ac.failed);
        if (ac.failed)
            rc = BP_EXIT_INVALID;
    }
out:
    if (opened)
        cli_site_close(&cs);
    free(rest);
    free(seqs);
    return rc;
}
