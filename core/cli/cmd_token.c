/* backplane token create|list|revoke SITE: bearer tokens of the admin
 * listener (DESIGN.md §9, docs/api.md "Tokens"). Through the owner's API when
 * one serves the site (Unix socket, or --url with an admin token); else the
 * owner lock is taken briefly and the state file changed here. Either way the
 * change is audited, and a new token is printed once, as the last line. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "control.h"
#include "control_client.h"
#include "owner_lock.h"
#include "state.h"
#include "tokens.h"
#include "db.h"

static void token_usage(FILE *f)
{
    fprintf(f,
            "usage: backplane token create SITE --name NAME --role ROLE\n"
            "       backplane token list SITE\n"
            "       backplane token revoke SITE NAME\n"
            "Bearer tokens for the admin listener (admin.listen, run --admin-listen).\n"
            "ROLE: viewer, reviewer, operator or admin (each with the rights of the ones\n"
            "before). create prints the token as its last line, once: only its SHA-256\n"
            "is stored. revoke takes effect for the next request. Every change is audited.\n"
            "With an owner running: through its API (Unix socket as root or the owner's\n"
            "user, or --url URL --token-file F with an admin token); without one: the\n"
            "owner lock is taken briefly and the state file changed here.\n"
            "exit: 0 ok, 1 refused or failed, 2 usage\n");
}

static void token_actor(char *out, size_t n)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(out, n, "os:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
}

static void token_print_list(const cJSON *o)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "tokens");
    printf("%-24s %-9s %-20s %-20s %s\n", "NAME", "ROLE", "CREATED", "LAST USED", "BY");
    for (const cJSON *t = arr ? arr->child : NULL; t; t = t->next) {
        char cr[32] = "-", lu[32] = "never";
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "created_ms");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "last_used_ms");
        for (int k = 0; k < 2; k++) {
            const cJSON *v = k ? l : c;
            if (!cJSON_IsNumber(v))
                continue;
            time_t s = (time_t)(v->valuedouble / 1000);
            struct tm tm;
            gmtime_r(&s, &tm);
            strftime(k ? lu : cr, sizeof(cr), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(t, "created_by");
        printf("%-24s %-9s %-20s %-20s %s\n",
               cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring,
               cJSON_GetObjectItemCaseSensitive(t, "role")->valuestring, cr, lu,
               cJSON_IsString(by) ? by->valuestring : "");
    }
}

/* Through the owner: the exit status. */
static int token_via_owner(const char *sock, const char *verb, const char *name,
                           const char *role)
{
    char path[300], *body = NULL;
    const char *method = "GET";
    snprintf(path, sizeof(path), "/api/v1/tokens");
    if (strcmp(verb, "create") == 0) {
        method = "POST";
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "name", name);
        cJSON_AddStringToObject(b, "role", role);
        body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
    } else if (strcmp(verb, "revoke") == 0) {
        method = "DELETE";
        snprintf(path, sizeof(path), "/api/v1/tokens/%s", name);
    }
    long code = 0;
    char *resp = NULL;
    int r = cli_control_call(sock, method, path, body, 30, &code, &resp);
    free(body);
    if (r != 0) {
        fprintf(stderr, "backplane token: the owner did not answer (%s)\n",
                cli_remote_active() ? cli_remote_url() : sock);
        return BP_EXIT_INVALID;
    }
    cJSON *o = cJSON_Parse(resp);
    free(resp);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    int rc = BP_EXIT_INVALID;
    if (cJSON_IsString(e)) {
        fprintf(stderr, "backplane token: %s\n", e->valuestring);
    } else if (o == NULL || code >= 300) {
        fprintf(stderr, "backplane token: HTTP %ld from the owner\n", code);
    } else if (strcmp(verb, "list") == 0) {
        token_print_list(o);
        rc = BP_EXIT_OK;
    } else if (strcmp(verb, "create") == 0) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "token");
        printf("token '%s' (%s) created; it is shown this once, only its hash is stored:\n%s\n",
               name, role, cJSON_IsString(t) ? t->valuestring : "?");
        rc = cJSON_IsString(t) ? BP_EXIT_OK : BP_EXIT_INVALID;
    } else {
        printf("token '%s' revoked\n", name);
        rc = BP_EXIT_OK;
    }
    cJSON_Delete(o);
    return rc;
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        token_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BP_EXIT_USAGE : BP_EXIT_OK;
    }
    const char *verb = argv[1], *site = NULL, *name = NULL, *role = NULL;
    int create = strcmp(verb, "create") == 0, list = strcmp(verb, "list") == 0,
        revoke = strcmp(verb, "revoke") == 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (argv[i][0] == '-' && strcmp(argv[i], "@remote") != 0) {
            token_usage(stderr);
            return BP_EXIT_USAGE;
        } else if (site == NULL)
            site = argv[i];
        else if (revoke && name == NULL)
            name = argv[i];
        else {
            token_usage(stderr);
            return BP_EXIT_USAGE;
        }
    }
    if ((!create && !list && !revoke) || site == NULL || (create && (!name || !role)) ||
        (revoke && !name) || (list && (name || role))) {
        token_usage(stderr);
        return BP_EXIT_USAGE;
    }
    char *sname = NULL, *state_path = NULL, sock[256];
    int rc = BP_EXIT_INVALID;
    if (cli_site_locate(site, &sname, &state_path) < 0)
        goto out;
    bp_site fake = {.name = sname, .state_path = state_path};
    if (bp_control_socket_path(&fake, sock, sizeof(sock)) != 0) {
        fprintf(stderr, "backplane token: no control socket path fits for %s\n", state_path);
        goto out;
    }
    int reach = cli_owner_reachable(sock);
    if (reach < 0) {
        fprintf(stderr, "backplane token: control socket %s: permission denied\n", sock);
        goto out;
    }
    if (reach) {
        rc = token_via_owner(sock, verb, name, role);
        goto out;
    }
    /* No owner: hold the lock while changing the file, as other commands
     * that change state without one (a run starting meanwhile waits). */
    const int shared = bp_db_target_is_pg(state_path);   /* issue 20: no file, no owner lock */
    if (!shared && access(state_path, F_OK) != 0) {
        fprintf(stderr, "backplane token: state file %s does not exist (run the site once, or "
                        "`backplane check` it)\n", state_path);
        goto out;
    }
    bp_owner_lock *lock = NULL;
    bp_owner_info holder = {0};
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "token %s", verb);
    if (!list && !shared) {
        bp_status ls = bp_owner_lock_try(state_path, cmd, &lock, &holder);
        if (ls != BP_OK) {
            fprintf(stderr, "backplane token: %s is held by pid %ld ('%s'); try again\n",
                    holder.path, (long)holder.pid, holder.command);
            goto out;
        }
    }
    bp_state *st = NULL;
    char *err = NULL;
    if (bp_state_open(state_path, sname, &st, &err) != BP_OK) {
        fprintf(stderr, "backplane token: %s\n", err ? err : "cannot open the state file");
        free(err);
        bp_owner_lock_release(lock);
        goto out;
    }
    char actor[160];
    token_actor(actor, sizeof(actor));
    if (list) {
        cJSON *o = bp_token_list_json(st);
        if (o) {
            token_print_list(o);
            rc = BP_EXIT_OK;
        }
        cJSON_Delete(o);
    } else if (create) {
        char *token = NULL;
        if (bp_token_create(st, name, role, actor, &token, &err) == BP_OK) {
            printf("token '%s' (%s) created; it is shown this once, only its hash is "
                   "stored:\n%s\n", name, role, token);
            explicit_bzero(token, strlen(token));
            rc = BP_EXIT_OK;
        } else {
            fprintf(stderr, "backplane token: %s\n", err ? err : "failed");
        }
        free(token);
    } else {
        if (bp_token_revoke(st, name, actor, &err) == BP_OK) {
            printf("token '%s' revoked\n", name);
            rc = BP_EXIT_OK;
        } else {
            fprintf(stderr, "backplane token: %s\n", err ? err : "failed");
        }
    }
    free(err);
    bp_state_close(st);
    bp_owner_lock_release(lock);
out:
    free(sname);
    free(state_path);
    return rc;
}
