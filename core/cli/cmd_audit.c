/* backplane audit verify|checkpoint|trace|export|keygen: the site's
 * tamper-evident audit log (docs/audit.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "audit_log.h"
#include "cli.h"
#include "clock.h"
#include "options.h"
#include "state.h"

static void audit_usage(FILE *f)
{
    fprintf(f,
            "usage: backplane audit verify SITE [--checkpoint FILE]\n"
            "       backplane audit checkpoint SITE [--sign]\n"
            "       backplane audit trace SITE (SUBJECT | ID) [--json]\n"
            "       backplane audit export SITE [--since DURATION] [--output FILE]\n"
            "       backplane audit keygen FILE\n"
            "Every audit entry (AI decisions, people's decisions, dead-letter replays and\n"
            "drops, sinks' write-back receipts) is a leaf of a Merkle log (RFC 9162) in\n"
            "the state file; the owner signs checkpoints with audit.signing_key.\n"
            "verify recomputes the tree from the entries and checks every signed\n"
            "checkpoint, and with --checkpoint that the log extends one kept elsewhere.\n"
            "checkpoint prints the latest signed checkpoint (keep it outside the state);\n"
            "--sign signs one of the log as it is now. trace shows one record's way;\n"
            "export writes JSON lines with inclusion proofs for an auditor.\n"
            "exit: 0 ok (verify: all holds), 1 tampering found or site invalid, 2 usage\n");
}

static char *audit_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

static int audit_verify_cmd(cli_site *s, const char *ckpt_path)
{
    char *older = NULL;
    if (ckpt_path && (older = audit_slurp(ckpt_path)) == NULL) {
        fprintf(stderr, "backplane audit: %s: cannot read the checkpoint\n", ckpt_path);
        return BP_EXIT_INVALID;
    }
    bp_audit_verdict v;
    bp_status st = bp_audit_verify(s->st, s->site->name, s->site->audit_signing_key, older, &v);
    free(older);
    if (st != BP_OK) {
        fprintf(stderr, "backplane audit: cannot read the audit log (%s)\n", bp_status_str(st));
        return BP_EXIT_INVALID;
    }
    int rc = BP_EXIT_OK;
    if (!v.ok) {
        printf("audit log of %s: TAMPERED: %s\n", s->site->name, v.why ? v.why : "?");
        rc = BP_EXIT_INVALID;
    } else {
        char hex[65];
        bp_merkle_hex(v.root, hex);
        printf("audit log of %s: ok: %llu entries, root %s, %llu signed checkpoints checked%s",
               s->site->name, (unsigned long long)v.size, hex,
               (unsigned long long)v.checkpoints,
               s->site->audit_signing_key ? "" : " (no audit.signing_key: signatures not checked)");
        if (v.pruned)
            printf(", %llu payloads pruned (leaf hashes kept)", (unsigned long long)v.pruned);
        printf("%s\n", ckpt_path ? ", consistent with the given checkpoint" : "");
    }
    bp_audit_verdict_clear(&v);
    return rc;
}

static int audit_checkpoint_cmd(cli_site *s, int sign)
{
    if (sign) {
        char *err = NULL;
        if (s->site->audit_signing_key == NULL) {
            fprintf(stderr, "backplane audit: the site has no audit.signing_key\n");
            return BP_EXIT_INVALID;
        }
        if (bp_audit_set_signer(s->st, s->site->name, s->site->audit_signing_key,
                                s->site->audit_checkpoint_every,
                                s->site->audit_checkpoint_interval_ms, &err) != BP_OK ||
            bp_audit_checkpoint_now(s->st) != BP_OK) {
            fprintf(stderr, "backplane audit: %s\n", err ? err : "cannot sign a checkpoint");
            free(err);
            return BP_EXIT_INVALID;
        }
    }
    char *note = NULL;
    bp_status st = bp_audit_latest_checkpoint(s->st, &note);
    if (st == BP_ERR_NOT_FOUND) {
        fprintf(stderr, "backplane audit: no signed checkpoint yet (set audit.signing_key)\n");
        return BP_EXIT_INVALID;
    }
    if (st != BP_OK)
        return BP_EXIT_INVALID;
    fputs(note, stdout);
    free(note);
    return BP_EXIT_OK;
}

static void audit_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int audit_trace_cmd(cli_site *s, const char *key, int json)
{
    cJSON *arr = NULL;
    if (bp_audit_trace(s->st, key, &arr) != BP_OK) {
        fprintf(stderr, "backplane audit: cannot read the audit log\n");
        return BP_EXIT_INVALID;
    }
    int n = cJSON_GetArraySize(arr);
    if (json) {
        char *txt = cJSON_Print(arr);
        if (txt)
            printf("%s\n", txt);
        free(txt);
    } else if (n == 0) {
        printf("no audit entry names '%s'\n", key);
    } else {
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            char when[32];
            audit_time((int64_t)cJSON_GetObjectItem(e, "at_ms")->valuedouble, when, sizeof(when));
            const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind"));
            const char *actor = cJSON_GetStringValue(cJSON_GetObjectItem(e, "actor"));
            const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(e, "source"));
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(e, "id"));
            char *p = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "payload"));
            printf("#%-6.0f %s %-16s by %-20s", cJSON_GetObjectItem(e, "seq")->valuedouble, when,
                   kind ? kind : "?", actor ? actor : "?");
            if (src || id)
                printf(" %s/%s", src ? src : "", id ? id : "");
            if (p)
                printf(" %.300s%s", p, strlen(p) > 300 ? "..." : "");
            printf("\n");
            free(p);
        }
    }
    cJSON_Delete(arr);
    return BP_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        audit_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BP_EXIT_USAGE : BP_EXIT_OK;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "keygen") == 0) {
        if (argc != 3) {
            audit_usage(stderr);
            return BP_EXIT_USAGE;
        }
        char *err = NULL;
        if (bp_audit_keygen(argv[2], &err) != 0) {
            fprintf(stderr, "backplane audit: %s\n", err ? err : "keygen failed");
            free(err);
            return BP_EXIT_INVALID;
        }
        printf("wrote an Ed25519 signing key to %s (mode 0600): set audit.signing_key\n",
               argv[2]);
        return BP_EXIT_OK;
    }
    int is_verify = strcmp(verb, "verify") == 0, is_ckpt = strcmp(verb, "checkpoint") == 0;
    int is_trace = strcmp(verb, "trace") == 0, is_export = strcmp(verb, "export") == 0;
    if (!is_verify && !is_ckpt && !is_trace && !is_export) {
        fprintf(stderr, "backplane audit: unknown action '%s' (verify, checkpoint, trace, export,"
                        " keygen)\n", verb);
        return BP_EXIT_USAGE;
    }
    const char *site = NULL, *key = NULL, *ckpt = NULL, *since = NULL, *output = NULL;
    int json = 0, sign = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (is_verify && strcmp(a, "--checkpoint") == 0 && i + 1 < argc)
            ckpt = argv[++i];
        else if (is_export && strcmp(a, "--since") == 0 && i + 1 < argc)
            since = argv[++i];
        else if (is_export && strcmp(a, "--output") == 0 && i + 1 < argc)
            output = argv[++i];
        else if (is_trace && strcmp(a, "--json") == 0)
            json = 1;
        else if (is_ckpt && strcmp(a, "--sign") == 0)
            sign = 1;
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "backplane audit %s: unknown option '%s'\n", verb, a);
            return BP_EXIT_USAGE;
        } else if (site == NULL)
            site = a;
        else if (is_trace && key == NULL)
            key = a;
        else {
            fprintf(stderr, "backplane audit %s: unexpected argument '%s'\n", verb, a);
            return BP_EXIT_USAGE;
        }
    }
    if (site == NULL || (is_trace && key == NULL)) {
        audit_usage(stderr);
        return BP_EXIT_USAGE;
    }
    int64_t since_ms = 0;
    if (since) {
        int64_t d = bp_parse_duration_ms(since);
        if (d < 0) {
            fprintf(stderr, "backplane audit export: --since must be a duration, e.g. 24h\n");
            return BP_EXIT_USAGE;
        }
        since_ms = bp_now_ms() - d;
    }
    cli_common c = {0};
    cli_site s;
    if (cli_site_open(&s, site, &c, 0) != 0) {
        cli_site_close(&s);
        return BP_EXIT_INVALID;
    }
    int rc = BP_EXIT_OK;
    if (is_verify) {
        rc = audit_verify_cmd(&s, ckpt);
    } else if (is_ckpt) {
        rc = audit_checkpoint_cmd(&s, sign);
    } else if (is_trace) {
        rc = audit_trace_cmd(&s, key, json);
    } else {
        FILE *f = output ? fopen(output, "w") : stdout;
        int64_t n = f ? bp_audit_export(s.st, since_ms, f) : -1;
        if (f && f != stdout && fclose(f) != 0)
            n = -1;
        if (n < 0) {
            fprintf(stderr, "backplane audit export: failed%s%s\n", output ? " to write " : "",
                    output ? output : "");
            rc = BP_EXIT_INVALID;
        } else if (output) {
            fprintf(stderr, "%lld entries written to %s\n", (long long)n, output);
        }
    }
    cli_site_close(&s);
    return rc;
}
