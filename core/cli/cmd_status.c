/* backplane status|pause|resume|reload|checkpoint: clients of the site's
 * owner (DESIGN.md §9, docs/api.md). With no owner running, status reads the
 * state file, pause and resume are stored for the owner's next start,
 * checkpoint reset clears a route's source positions; reload needs an owner. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audit_log.h"
#include "cli.h"
#include "control.h"
#include "control_client.h"
#include "state.h"
#include "state_checkpoint.h"
#include "yaml_doc.h"

static const char *st_actor(void)
{
    static char name[128];
    struct passwd *pw = getpwuid(getuid());
    snprintf(name, sizeof(name), "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    return name;
}

/* The site's socket and state; *owner 1 when one serves it. 0 or -1 (printed). */
typedef struct {
    char *name, *state_path;
    char sock[256];
    int owner;
} st_site;

static int st_open(const char *cmd, const char *path, st_site *s)
{
    memset(s, 0, sizeof(*s));
    if (cli_site_locate(path, &s->name, &s->state_path) < 0)
        return -1;
    bp_site fake = {.name = s->name, .state_path = s->state_path};
    if (bp_control_socket_path(&fake, s->sock, sizeof(s->sock)) != 0) {
        fprintf(stderr, "backplane %s: no control socket path fits for %s\n", cmd, s->state_path);
        return -1;
    }
    int r = cli_owner_reachable(s->sock);
    if (r < 0) {
        fprintf(stderr, "backplane %s: control socket %s: permission denied (ask for the "
                        "socket's group)\n", cmd, s->sock);
        return -1;
    }
    s->owner = r;
    return 0;
}

static void st_close(st_site *s)
{
    free(s->name);
    free(s->state_path);
}

/* One request to the owner; prints an error body; returns the parsed body or NULL. */
static cJSON *st_call(const char *cmd, const st_site *s, const char *method, const char *url,
                      long *code)
{
    char *resp = NULL;
    if (cli_control_call(s->sock, method, url, method[0] == 'P' ? "{}" : NULL, 30, code,
                         &resp) != 0) {
        fprintf(stderr, "backplane %s: the owner did not answer on %s\n", cmd, s->sock);
        return NULL;
    }
    cJSON *o = cJSON_Parse(resp);
    free(resp);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (cJSON_IsString(e)) {
        fprintf(stderr, "backplane %s: %s\n", cmd, e->valuestring);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The state file, which must exist (never created here). */
static bp_state *st_state(const char *cmd, const st_site *s)
{
    if (access(s->state_path, F_OK) != 0) {
        fprintf(stderr, "backplane %s: state file %s does not exist (the site never ran)\n", cmd,
                s->state_path);
        return NULL;
    }
    bp_state *st = NULL;
    char *err = NULL;
    if (bp_state_open(s->state_path, s->name, &st, &err) != BP_OK) {
        fprintf(stderr, "backplane %s: %s\n", cmd, err ? err : "cannot open the state file");
        free(err);
        return NULL;
    }
    return st;
}

/* routes.ROUTE.from of the site file (malloc'ed), or NULL. */
static char *st_route_source(const char *path, const char *route)
{
    bp_diags d = {0};
    bp_ydoc *doc = NULL;
    char *from = NULL;
    bp_status s = bp_ydoc_load_file(path, &doc, &d);
    if ((s == BP_OK || s == BP_ERR_INVALID) && doc && doc->root) {
        const bp_ynode *routes = bp_ymap_get(doc->root, "routes");
        const bp_ynode *r = routes ? bp_ymap_get(routes, route) : NULL;
        const bp_ynode *f = r ? bp_ymap_get(r, "from") : NULL;
        if (f && f->kind == BP_YSCALAR)
            from = strdup(f->value);
    }
    bp_ydoc_free(doc);
    bp_diags_free(&d);
    return from;
}

static int st_usage(const char *cmd, int want_route)
{
    fprintf(stderr, "usage: backplane %s SITE%s\n", cmd, want_route ? " ROUTE" : "");
    return BP_EXIT_USAGE;
}

int cmd_status(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        if (argc == 2 && strcmp(argv[1], "--help") == 0) {
            printf("usage: backplane status SITE\nThe owner's routes (state), uptime, review "
                   "queue and dead letters; with no owner, what the state file holds.\n");
            return BP_EXIT_OK;
        }
        return st_usage("status", 0);
    }
    st_site s;
    if (st_open("status", argv[1], &s) < 0) {
        st_close(&s);
        return BP_EXIT_INVALID;
    }
    int rc = BP_EXIT_INVALID;
    if (s.owner) {
        long code = 0;
        cJSON *o = st_call("status", &s, "GET", "/api/v1/status", &code);
        if (o) {
            printf("site %s: owner pid %d, up %.0f s, socket %s\n", s.name,
                   (int)cJSON_GetObjectItemCaseSensitive(o, "pid")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(o, "uptime_s")->valuedouble, s.sock);
            const cJSON *routes = cJSON_GetObjectItemCaseSensitive(o, "routes");
            for (const cJSON *r = routes ? routes->child : NULL; r; r = r->next)
                printf("  route %-16s %s\n", r->string,
                       cJSON_GetObjectItemCaseSensitive(r, "state")->valuestring);
            printf("review queue %.0f, dead letters %.0f\n",
                   cJSON_GetObjectItemCaseSensitive(o, "review_queue")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(o, "dead_letters")->valuedouble);
            cJSON_Delete(o);
            rc = BP_EXIT_OK;
        }
    } else {
        bp_state *st = st_state("status", &s);
        if (st) {
            printf("site %s: no owner runs (state %s)\n", s.name, s.state_path);
            printf("review queue %lld, dead letters %lld\n",
                   (long long)bp_state_count(st, "review_queue"),
                   (long long)bp_state_count(st, "dead_letters"));
            bp_state_close(st);
            rc = BP_EXIT_OK;
        }
    }
    st_close(&s);
    return rc;
}

/* pause / resume SITE ROUTE */
static int st_pause(const char *cmd, int argc, char **argv, int pause)
{
    if (argc != 3 || argv[1][0] == '-')
        return st_usage(cmd, 1);
    const char *route = argv[2];
    st_site s;
    int rc = BP_EXIT_INVALID;
    if (st_open(cmd, argv[1], &s) < 0)
        goto out;
    if (s.owner) {
        char url[512];
        snprintf(url, sizeof(url), "/api/v1/routes/%s/%s", route, cmd);
        long code = 0;
        cJSON *o = st_call(cmd, &s, "POST", url, &code);
        if (o) {
            printf("route %s %s by %s%s\n", route, pause ? "paused" : "resumed", st_actor(),
                   pause ? " (until resumed, also across restarts)" : "");
            cJSON_Delete(o);
            rc = BP_EXIT_OK;
        }
        goto out;
    }
    char *from = st_route_source(argv[1], route);
    if (from == NULL) {
        fprintf(stderr, "backplane %s: the site has no route '%s'\n", cmd, route);
        goto out;
    }
    free(from);
    bp_state *st = st_state(cmd, &s);
    if (st && bp_state_route_pause_set(st, route, st_actor(), pause) == BP_OK) {
        printf("route %s %s by %s (no owner runs; %s)\n", route, pause ? "paused" : "resumed",
               st_actor(), pause ? "it stays paused when the owner starts, until resumed"
                                 : "it runs when the owner starts");
        rc = BP_EXIT_OK;
    }
    bp_state_close(st);
out:
    st_close(&s);
    return rc;
}

int cmd_pause(int argc, char **argv) { return st_pause("pause", argc, argv, 1); }
int cmd_resume(int argc, char **argv) { return st_pause("resume", argc, argv, 0); }

int cmd_reload(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return st_usage("reload", 0);
    st_site s;
    int rc = BP_EXIT_INVALID;
    if (st_open("reload", argv[1], &s) == 0) {
        if (!s.owner) {
            fprintf(stderr, "backplane reload: no owner runs %s: nothing to reload (the next "
                            "`backplane run` reads the site file)\n", argv[1]);
        } else {
            long code = 0;
            cJSON *o = st_call("reload", &s, "POST", "/api/v1/reload", &code);
            if (o) {
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
                printf("%s\n", cJSON_IsString(m) ? m->valuestring : "reloaded");
                cJSON_Delete(o);
                rc = BP_EXIT_OK;
            }
        }
    }
    st_close(&s);
    return rc;
}

static int st_print_ckpt(int ncol, const char *const *cols, void *ud)
{
    (void)ud;
    if (ncol >= 3)
        printf("%-24s %-24s %s\n", cols[0], cols[1], cols[2]);
    return 0;
}

int cmd_checkpoint(int argc, char **argv)
{
    int list = argc == 3 && strcmp(argv[1], "list") == 0;
    int reset = argc == 4 && strcmp(argv[1], "reset") == 0;
    if (!list && !reset) {
        fprintf(stderr, "usage: backplane checkpoint list SITE\n"
                        "       backplane checkpoint reset SITE ROUTE\n"
                        "reset forgets the route's source positions (never the write-back\n"
                        "ledger): the source starts again from its configured start. Only\n"
                        "while no owner runs.\n");
        return BP_EXIT_USAGE;
    }
    st_site s;
    int rc = BP_EXIT_INVALID;
    bp_state *st = NULL;
    if (st_open("checkpoint", argv[2], &s) < 0)
        goto out;
    if (s.owner) {
        long code = 0;
        if (list) {
            cJSON *o = st_call("checkpoint", &s, "GET", "/api/v1/checkpoints", &code);
            const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "checkpoints");
            for (const cJSON *e = arr ? arr->child : NULL; e; e = e->next)
                printf("%-24s %-24s %s\n",
                       cJSON_GetObjectItemCaseSensitive(e, "scope")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(e, "key")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(e, "value")->valuestring);
            rc = o ? BP_EXIT_OK : BP_EXIT_INVALID;
            cJSON_Delete(o);
        } else {
            char url[512];
            snprintf(url, sizeof(url), "/api/v1/routes/%s/checkpoint/reset", argv[3]);
            cJSON *o = st_call("checkpoint", &s, "POST", url, &code);
            rc = o ? BP_EXIT_OK : BP_EXIT_INVALID;
            cJSON_Delete(o);
        }
        goto out;
    }
    if ((st = st_state("checkpoint", &s)) == NULL)
        goto out;
    if (list) {
        rc = bp_state_select(st, "SELECT scope, key, value FROM checkpoints ORDER BY scope, key",
                             st_print_ckpt, NULL) == BP_OK ? BP_EXIT_OK : BP_EXIT_INVALID;
        goto out;
    }
    char *from = st_route_source(argv[2], argv[3]);
    if (from == NULL) {
        fprintf(stderr, "backplane checkpoint: the site has no route '%s'\n", argv[3]);
        goto out;
    }
    char scope[512];
    snprintf(scope, sizeof(scope), "%s/%s", argv[3], from);
    free(from);
    /* Source positions only (never the ledger), in one transaction, bound
     * parameters (core/state_checkpoint.c); audited as an operator's action. */
    size_t n_deleted = 0;
    rc = bp_state_checkpoint_delete_prefix(st, scope, NULL, &n_deleted) == BP_OK ? BP_EXIT_OK
                                                                                 : BP_EXIT_INVALID;
    if (rc == BP_EXIT_OK) {
        struct passwd *pw = getpwuid(getuid());
        char actor[160], payload[700];
        snprintf(actor, sizeof(actor), "os:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "scope", scope);
        cJSON_AddNumberToObject(p, "keys_deleted", (double)n_deleted);
        char *pj = cJSON_PrintUnformatted(p);
        snprintf(payload, sizeof(payload), "%s", pj ? pj : "{}");
        free(pj);
        cJSON_Delete(p);
        bp_audit_entry e = {.actor = actor, .kind = "checkpoint:reset", .route = argv[3],
                            .payload = payload};
        if (bp_audit_append(st, &e) != BP_OK)
            fprintf(stderr, "backplane checkpoint: cannot write the audit entry of the reset\n");
    }
    printf("route %s: %zu source position(s) of %s forgotten; the write-back ledger is kept\n",
           argv[3], n_deleted, scope);
out:
    bp_state_close(st);
    st_close(&s);
    return rc;
}
