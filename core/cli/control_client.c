/* The CLI's side of the control API: one HTTP request over the owner's Unix
 * socket (libcurl, CURLOPT_UNIX_SOCKET_PATH). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "db.h"
#include "control.h"
#include "cli.h"
#include "control_client.h"
#include "diag.h"
#include "dlq.h"
#include "owner_lock.h"
#include "site.h"
#include "state.h"
#include "yaml_doc.h"

static struct {
    char *url;            /* without a trailing slash */
    char *token;
    char *cacert, *cert, *key;
} cli_remote;

static char *cc_abs(const char *p)
{
    char *a = cli_absolute(p);
    return a ? a : strdup(p);
}

int cli_remote_take(int *argc, char **argv, int site_at)
{
    const char *url = NULL, *token_file = NULL;
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < *argc;
        if (i > 0 && has && strcmp(a, "--url") == 0)
            url = argv[++i];
        else if (i > 0 && has && strcmp(a, "--token-file") == 0)
            token_file = argv[++i];
        else if (i > 0 && has && strcmp(a, "--cacert") == 0)
            cli_remote.cacert = cc_abs(argv[++i]);
        else if (i > 0 && has && strcmp(a, "--cert") == 0)
            cli_remote.cert = cc_abs(argv[++i]);
        else if (i > 0 && has && strcmp(a, "--key") == 0)
            cli_remote.key = cc_abs(argv[++i]);
        else
            argv[n++] = argv[i];
    }
    argv[n] = NULL;
    *argc = n;
    if (url == NULL) {
        if (token_file || cli_remote.cacert) {
            fprintf(stderr, "backplane: --token-file and --cacert go with --url\n");
            return -1;
        }
        return 0;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        fprintf(stderr, "backplane: --url %s: not http(s)://HOST:PORT\n", url);
        return -1;
    }
    if (token_file == NULL) {
        fprintf(stderr, "backplane: --url needs --token-file F (a token from `backplane token "
                        "create`)\n");
        return -1;
    }
    FILE *f = fopen(token_file, "r");
    char line[512] = "", last[512] = "";
    while (f && fgets(line, sizeof(line), f))
        if (line[0] != '\n' && line[0] != '\0')
            snprintf(last, sizeof(last), "%s", line);
    if (f == NULL) {
        fprintf(stderr, "backplane: --token-file %s: %s\n", token_file, strerror(errno));
        return -1;
    }
    fclose(f);
    last[strcspn(last, "\r\n")] = '\0';
    if (last[0] == '\0') {
        fprintf(stderr, "backplane: --token-file %s holds no token\n", token_file);
        return -1;
    }
    cli_remote.token = strdup(last);
    cli_remote.url = strdup(url);
    size_t ul = strlen(cli_remote.url);
    while (ul > 0 && cli_remote.url[ul - 1] == '/')
        cli_remote.url[--ul] = '\0';
    if (site_at > n)
        site_at = n;
    memmove(argv + site_at + 1, argv + site_at, (size_t)(n - site_at + 1) * sizeof(*argv));
    argv[site_at] = (char *)"@remote";
    (*argc)++;
    return 0;
}

int cli_remote_active(void)
{
    return cli_remote.url != NULL;
}

const char *cli_remote_url(void)
{
    return cli_remote.url;
}

int cli_owner_reachable(const char *sock)
{
    if (cli_remote.url)
        return 1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 1 : errno == EACCES ? -1 : 0;
    close(fd);
    return ok;
}

int cli_owner_or_lock(const char *cmd, const char *what, const char *site, const char *sock,
                      const char *state_path, bp_owner_lock **lock)
{
    *lock = NULL;
    for (int waited = 0;; waited += 100) {
        int reach = cli_owner_reachable(sock);
        if (reach < 0) {
            fprintf(stderr, "backplane %s: control socket %s: permission denied (ask for the "
                            "socket's group)\n", cmd, sock);
            return -1;
        }
        if (reach == 1)
            return 1;
        if (bp_db_target_is_pg(state_path))
            return 0;   /* shared state (issue 20): no owner lock; the database claims requests */
        if (access(state_path, F_OK) != 0)
            return 0;   /* never ran: the caller says so; no lock file is made */
        bp_owner_info h;
        bp_status st = bp_owner_lock_try(state_path, what, lock, &h);
        if (st == BP_OK)
            return 0;   /* no owner can start until released, and none serves now */
        if (st == BP_ERR_IO) {
            fprintf(stderr, "backplane %s: cannot open the owner lock %s: %s\n", cmd, h.path,
                    strerror(errno));
            return -1;
        }
        /* Held: an owner that has not opened its socket yet, or another
         * command recording; both go soon. */
        if (waited >= 10000) {
            char *who = bp_owner_lock_describe(site, &h);
            fprintf(stderr, "backplane %s: %s; waited 10 s\n", cmd, who ? who : "the site is locked");
            free(who);
            return -1;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

typedef struct {
    char *buf;
    size_t len;
} cc_buf;

static size_t cc_write(char *p, size_t sz, size_t n, void *ud)
{
    cc_buf *b = ud;
    size_t add = sz * n;
    if (b->len + add > 16 * 1024 * 1024)
        return 0;
    char *nb = realloc(b->buf, b->len + add + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + b->len, p, add);
    b->buf = nb;
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

int cli_control_call(const char *sock, const char *method, const char *path, const char *body,
                     long timeout_s, long *code, char **resp)
{
    *code = 0;
    *resp = NULL;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    char url[4096];
    cc_buf b = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (cli_remote.url) {
        snprintf(url, sizeof(url), "%s%s", cli_remote.url, path);
        char auth[600];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cli_remote.token);
        hdr = curl_slist_append(hdr, auth);
        explicit_bzero(auth, sizeof(auth));
        if (cli_remote.cacert)
            curl_easy_setopt(h, CURLOPT_CAINFO, cli_remote.cacert);
        if (cli_remote.cert)
            curl_easy_setopt(h, CURLOPT_SSLCERT, cli_remote.cert);
        if (cli_remote.key)
            curl_easy_setopt(h, CURLOPT_SSLKEY, cli_remote.key);
    } else {
        snprintf(url, sizeof(url), "http://localhost%s", path);
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cc_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        free(b.buf);
        return -1;
    }
    *resp = b.buf ? b.buf : strdup("");
    return 0;
}

int cli_site_locate(const char *site_path, char **name, char **state_path)
{
    *name = *state_path = NULL;
    if (cli_remote.url && strcmp(site_path, "@remote") == 0) {
        *name = strdup("remote");
        *state_path = strdup(cli_remote.url);
        return *name && *state_path ? 0 : -1;
    }
    char abs[PATH_MAX];
    if (realpath(site_path, abs) == NULL) {
        fprintf(stderr, "%s: cannot open the site file\n", site_path);
        return -1;
    }
    bp_diags d = {0};
    bp_ydoc *doc = NULL;
    bp_status s = bp_ydoc_load_file(abs, &doc, &d);
    int rc = -1;
    if (s != BP_OK && s != BP_ERR_INVALID) {
        bp_diags_print(&d, stderr);
        goto out;
    }
    const bp_ynode *root = doc ? doc->root : NULL;
    const bp_ynode *n = root ? bp_ymap_get(root, "site") : NULL;
    const bp_ynode *sp = root ? bp_ymap_get(root, "state") : NULL;
    if (n == NULL || n->kind != BP_YSCALAR) {
        fprintf(stderr, "%s: the site file names no site (site: NAME)\n", abs);
        goto out;
    }
    *name = strdup(n->value);
    char *dir = strdup(abs);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    char *st = NULL;
    /* The same default as the site loader's (site.c), not a copy of it. */
    char *rel = sp && sp->kind == BP_YSCALAR ? strdup(sp->value)
                                             : bp_site_default_state(dir, n->value);
    if (rel && (rel[0] == '/' || bp_db_target_is_pg(rel)))
        st = rel, rel = NULL;
    else if (rel && asprintf(&st, "%s/%s", dir ? dir : ".", rel) < 0)
        st = NULL;
    free(rel);
    free(dir);
    *state_path = st;
    rc = *name && st ? 0 : -1;
out:
    bp_ydoc_free(doc);
    bp_diags_free(&d);
    return rc;
}

/* "approved", "corrected", ... for messages. */
static const char *cor_done(const char *verb)
{
    return strcmp(verb, "approve") == 0   ? "approved"
           : strcmp(verb, "correct") == 0 ? "corrected"
           : strcmp(verb, "reject") == 0  ? "rejected"
           : strcmp(verb, "replay") == 0  ? "replayed"
           : strcmp(verb, "delete") == 0  ? "dropped"
           : strcmp(verb, "reopen") == 0  ? "reopened"
                                          : verb;
}

static int cor_exit_for(const char *outcome)
{
    if (strcmp(outcome, "pending") == 0)
        return 4;
    if (strcmp(outcome, "dead_lettered") == 0 || strcmp(outcome, "failed") == 0)
        return 1;
    return 0;
}

int cli_owner_request(const char *cmd, const char *site_path, const char *kind, int64_t seq,
                      const char *verb, const char *actor, const char *body, double wait_s)
{
    char *name = NULL, *state_path = NULL;
    bp_owner_lock *lock = NULL;
    if (cli_site_locate(site_path, &name, &state_path) < 0)
        return 1;
    bp_site fake = {.name = name, .state_path = state_path};
    char sock[256];
    int rc = 1;
    if (bp_control_socket_path(&fake, sock, sizeof(sock)) != 0) {
        fprintf(stderr, "backplane %s: no control socket path fits for %s\n", cmd, state_path);
        goto out;
    }
    char what[64];
    snprintf(what, sizeof(what), "%s %s", cmd, verb);
    int reach = cli_owner_or_lock(cmd, what, name, sock, state_path, &lock);
    if (reach < 0)
        goto out;
    if (reach) {
        if (wait_s < 0)
            wait_s = 30;
        char path[256];
        const char *ep = strcmp(verb, "delete") == 0 ? "" : verb;
        snprintf(path, sizeof(path), "/api/v1/%s/%lld%s%s?wait=%g", kind, (long long)seq,
                 ep[0] ? "/" : "", ep, wait_s);
        long code = 0;
        char *resp = NULL;
        if (cli_control_call(sock, strcmp(verb, "delete") == 0 ? "DELETE" : "POST", path,
                             body ? body : "{}", (long)wait_s + 15, &code, &resp) != 0) {
            fprintf(stderr, "backplane %s: %lld: the owner did not answer on %s\n", cmd,
                    (long long)seq, sock);
            goto out;
        }
        cJSON *o = cJSON_Parse(resp);
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
        const cJSON *oc = cJSON_GetObjectItemCaseSensitive(o, "outcome");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "detail");
        if (cJSON_IsString(err)) {
            fprintf(stderr, "backplane %s: %s\n", cmd, err->valuestring);
        } else if (cJSON_IsString(oc)) {
            const cJSON *by = cJSON_GetObjectItemCaseSensitive(o, "by");
            printf("%lld %s by %s: %s%s%s\n", (long long)seq, cor_done(verb),
                   cJSON_IsString(by) ? by->valuestring : actor,
                   oc->valuestring,
                   cJSON_IsString(dt) && dt->valuestring[0] ? " - " : "",
                   cJSON_IsString(dt) ? dt->valuestring : "");
            rc = cor_exit_for(oc->valuestring);
        } else {
            fprintf(stderr, "backplane %s: HTTP %ld from the owner\n", cmd, code);
        }
        cJSON_Delete(o);
        free(resp);
        goto out;
    }
    /* No owner: record it; the owner carries it out when it next starts. */
    if (!bp_db_target_is_pg(state_path) && access(state_path, F_OK) != 0) {
        fprintf(stderr, "backplane %s: state file %s does not exist (the site never ran)\n",
                cmd, state_path);
        goto out;
    }
    bp_state *st = NULL;
    char *err = NULL;
    if (bp_state_open(state_path, name, &st, &err) != BP_OK) {
        fprintf(stderr, "backplane %s: %s\n", cmd, err ? err : "cannot open the state file");
        free(err);
        goto out;
    }
    int64_t id = 0;
    char *who = NULL, *bad = NULL;
    int claimed = 0;
    if (bp_control_check(st, kind, seq, verb, body, &bad) != BP_OK) {
        fprintf(stderr, "backplane %s: %s\n", cmd, bad ? bad : "refused");
        free(bad);
        bp_state_close(st);
        goto out;
    }
    bp_status s;
    if (strcmp(kind, "review") == 0 && strcmp(verb, "reopen") == 0) {
        /* A reopen delivers nothing: done at once, under the owner lock
         * (state_review.c), as the owner would do it. */
        cJSON *b = body ? cJSON_Parse(body) : NULL;
        const cJSON *note = cJSON_GetObjectItemCaseSensitive(b, "note");
        char who_os[200];
        snprintf(who_os, sizeof(who_os), "os:%s", actor);
        int64_t fresh = 0;
        s = bp_state_review_reopen(st, seq, who_os, cJSON_IsString(note) ? note->valuestring : NULL,
                                   &fresh, &who);
        cJSON_Delete(b);
        if (s == BP_OK) {
            printf("%lld reopened by %s: parked again as %lld\n", (long long)seq, actor,
                   (long long)fresh);
            rc = 0;
        } else if (s == BP_ERR_FULL) {
            fprintf(stderr, "backplane %s: entry %lld cannot be reopened: %s (only a rejected "
                            "entry can)\n", cmd, (long long)seq, who ? who : "not rejected");
        } else if (s == BP_ERR_NOT_FOUND) {
            fprintf(stderr, "backplane %s: no decided entry %lld\n", cmd, (long long)seq);
        } else {
            fprintf(stderr, "backplane %s: cannot reopen entry %lld: %s\n", cmd, (long long)seq,
                    bp_status_str(s));
        }
        goto close;
    }
    if (strcmp(kind, "dlq") == 0 && strcmp(verb, "delete") == 0) {
        /* Dropping delivers nothing: done here at once, unless a replay of
         * the entry is waiting for the owner. */
        s = bp_control_submit(st, kind, seq, "check", actor, NULL, 0, &id, &who, &claimed);
        if (s == BP_OK) {
            bp_dlq_result res = {0};
            bp_dead_letter dl = {0};
            int have = bp_state_dlq_get(st, seq, &dl) == BP_OK;
            s = bp_dlq_drop(st, seq, NULL, &res);
            if (s == BP_OK) {
                bp_dlq_audit(st, actor, "delete", seq, have ? &dl : NULL, "deleted");
                printf("%lld dropped by %s\n", (long long)seq, actor);
            }
            else if (s != BP_ERR_NOT_FOUND)
                fprintf(stderr, "backplane %s: %s\n", cmd, res.error ? res.error : "failed");
            rc = s == BP_OK ? 0 : 1;
            free(res.error);
            bp_dead_letter_clear(&dl);
            if (s != BP_ERR_NOT_FOUND)
                goto close;
        }
    } else {
        s = bp_control_submit(st, kind, seq, verb, actor, body, 0, &id, &who, &claimed);
    }
    if (s == BP_OK) {
        printf("%lld %s by %s: recorded (no owner runs; carried out when it next starts)\n",
               (long long)seq, cor_done(verb), actor);
        rc = 0;
    } else if (s == BP_ERR_FULL) {
        fprintf(stderr, "backplane %s: %s %lld: %s by %s\n", cmd,
                strcmp(kind, "review") == 0 ? "entry" : "dead letter", (long long)seq,
                claimed ? "claimed" : "already decided", who ? who : "someone else");
    } else if (s == BP_ERR_NOT_FOUND) {
        fprintf(stderr, "backplane %s: no %s %lld\n", cmd,
                strcmp(kind, "review") == 0 ? "parked record" : "dead letter", (long long)seq);
    } else {
        fprintf(stderr, "backplane %s: cannot record the request: %s\n", cmd, bp_status_str(s));
    }
close:
    free(who);
    bp_state_close(st);
out:
    bp_owner_lock_release(lock);   /* after the state is closed: a waiting run starts now */
    free(name);
    free(state_path);
    return rc;
}
