/* See control.h. The server runs libmicrohttpd with a thread per connection
 * (bounded: BP_CTL_MAX_CONN) so that a decision may wait for its outcome without
 * holding anyone else up; the routes never wait for it. Decisions are carried
 * out by one decider thread, in the order they were recorded, from the table
 * control_requests: a request made while no owner ran is found there at start,
 * and one cut short by a crash (state 'running') is carried out again (a
 * ledger sink skips what it applied already).
 *
 * One handler (bp_control_handler) serves every listener: this file's Unix
 * socket (identity: SO_PEERCRED) and admin_listen.c's TCP/TLS one (identity:
 * a bearer token); a listener only says who the peer is (control_int.h).
 * Every endpoint's role is decided in one place below, before dispatch. All
 * SQL is in state_control.c / state_tokens.c. */
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audit_log.h"
#include "clock.h"
#include "control.h"
#include "db.h"
#include "control_int.h"
#include "json_print.h"
#include "dlq.h"
#include "log.h"
#include "options.h"
#include "review.h"
#include "review_view.h"
#include "runtime_int.h"
#include "sha256.h"
#include "site.h"
#include "state_control.h"
#include "tokens.h"
#include "web_static.h"
#include "yaml_doc.h"

#define CTL_MAX_WAIT_MS 120000
#define CTL_CLAIM_TTL_MS (10 * 60 * 1000)

struct bp_control {
    bp_runtime *rt;
    bp_state *st;
    struct MHD_Daemon *d;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    uid_t owner_uid;
    gid_t sock_gid;
    int64_t started_ms;
    struct { gid_t gid; int role; } unix_roles[32];   /* admin.unix_roles */
    size_t n_unix_roles;
    int64_t claim_ttl_ms;     /* review.claim_ttl */
    pthread_t decider;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a request recorded (decider) or done (waiters) */
    int stopping;
    bp_ctl_listener unix_l;   /* the Unix socket: SO_PEERCRED */
    /* admin: { listen, tls: {cert, key, ca_file}, metrics, insecure } */
    char *admin_listen, *tls_cert, *tls_key, *tls_ca;
    int metrics_public, insecure, admin_line, admin_col, tls_line, tls_col;
    bp_admin_listener *tcp;
    bp_state_reader *rd;      /* the API's reads: own connection, prepared once */
};

struct bp_runtime *bp_control_runtime(bp_control *c)
{
    return c->rt;
}

int64_t bp_control_uptime_ms(const bp_control *c)
{
    return bp_now_ms() - c->started_ms;
}

int bp_control_socket_path(const bp_site *site, char *buf, size_t n)
{
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
    char p[4096];
    if (bp_db_target_is_pg(site->state_path))   /* issue 20: per host and instance */
        snprintf(p, sizeof(p), "%s.%s.sock", site->file ? site->file : site->name,
                 bp_runtime_instance());
    else
        snprintf(p, sizeof(p), "%s.sock", site->state_path);
    if (strlen(p) < max && strlen(p) < n) {
        snprintf(buf, n, "%s", p);
        return 0;
    }
    bp_sha256 h;
    unsigned char dg[32];
    bp_sha256_init(&h);
    bp_sha256_update(&h, site->state_path, strlen(site->state_path));
    bp_sha256_final(&h, dg);
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    char hex[17];
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", dg[i]);
    int w = snprintf(buf, n, "%s/backplane-%s.sock", dir, hex);
    return w < 0 || (size_t)w >= n || (size_t)w >= max ? -1 : 0;
}

/* ---- requests ----------------------------------------------------------- */

bp_status bp_control_submit(bp_state *st, const char *kind, int64_t seq, const char *verb,
                            const char *actor, const char *body_json, int64_t claim_ttl_ms,
                            int64_t *id, char **who, int *claimed)
{
    return bp_state_control_submit(st, kind, seq, verb, actor, body_json, claim_ttl_ms,
                                   CTL_CLAIM_TTL_MS, id, who, claimed);
}

/* The outcome of a review decision's what (review.h). */
static const char *ctl_review_outcome(const char *verb, const char *what)
{
    if (strcmp(verb, "reject") == 0)
        return "rejected";
    if (strcmp(what, "delivered") == 0)
        return "delivered";
    if (strstr(what, "dead-lettered"))
        return "dead_lettered";
    if (strstr(what, "dropped"))
        return "dropped";
    return "parked";
}

/* The review request of verb with body {"note","reason","set","add"}; sets
 * and texts (freed by the caller with ctl_review_request_free) back
 * req->sets. Returns how many sets. */
static size_t ctl_review_request(const char *verb, const char *actor, const cJSON *body,
                                 bp_review_request *req, bp_review_set **sets_out,
                                 char ***texts_out)
{
    *req = (bp_review_request){
        .verb = strcmp(verb, "approve") == 0   ? BP_REVIEW_APPROVE
                : strcmp(verb, "correct") == 0 ? BP_REVIEW_CORRECT
                                               : BP_REVIEW_REJECT,
        .actor = actor,
    };
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(body, "note");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(body, "reason");
    req->note = cJSON_IsString(reason) && req->verb == BP_REVIEW_REJECT ? reason->valuestring
                : cJSON_IsString(note)                                 ? note->valuestring
                                                                       : NULL;
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(body, "set");
    size_t n = cJSON_IsObject(set) ? (size_t)cJSON_GetArraySize(set) : 0;
    bp_review_set *sets = calloc(n ? n : 1, sizeof(*sets));
    char **texts = calloc(n ? n : 1, sizeof(*texts));
    size_t k = 0;
    for (const cJSON *e = set ? set->child : NULL; e && sets && texts && k < n; e = e->next) {
        /* A JSON string is the text as typed (coerced into the field's type,
         * review.h); any other JSON value is its JSON text. */
        texts[k] = cJSON_IsString(e) ? strdup(e->valuestring) : cJSON_PrintUnformatted(e);
        sets[k] = (bp_review_set){.path = e->string, .value = texts[k]};
        k++;
    }
    req->sets = sets;
    req->n_sets = k;
    req->add = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "add"));
    *sets_out = sets;
    *texts_out = texts;
    return k;
}

bp_status bp_control_check(bp_state *st, const char *kind, int64_t seq, const char *verb,
                           const char *body_json, char **err)
{
    *err = NULL;
    if (strcmp(kind, "dlq") == 0 && strcmp(verb, "replay") == 0) {
        /* Raw input that never became an envelope cannot go back in. */
        bp_dead_letter dl;
        if (bp_state_dlq_get(st, seq, &dl) != BP_OK)
            return BP_OK;   /* submit says "not found" */
        bp_envelope *env = NULL;
        bp_status s = BP_OK;
        if (dl.payload == NULL ||
            bp_envelope_from_json(dl.payload, dl.payload_len, &env, NULL) != BP_OK) {
            s = BP_ERR_PARSE;
            if (asprintf(err, "entry %lld holds raw input, not an envelope (%s): fix it at the "
                              "source, or drop it", (long long)seq, dl.reason) < 0)
                *err = NULL;
        }
        bp_envelope_unref(env);
        bp_dead_letter_clear(&dl);
        return s;
    }
    if (strcmp(kind, "review") != 0 || strcmp(verb, "correct") != 0)
        return BP_OK;
    cJSON *body = body_json ? cJSON_Parse(body_json) : NULL;
    bp_review_request req;
    bp_review_set *sets = NULL;
    char **texts = NULL;
    size_t k = ctl_review_request(verb, "check", body, &req, &sets, &texts);
    bp_status s = bp_review_check(st, seq, &req, err);
    for (size_t i = 0; texts && i < k; i++)
        free(texts[i]);
    free(texts);
    free(sets);
    cJSON_Delete(body);
    return s == BP_ERR_NOT_FOUND ? BP_OK : s;   /* submit says "not found" */
}

/* Carries out one request. */
static void ctl_carry_out(bp_control *c, bp_control_request *r)
{
    bp_state_control_set_state(c->st, r->id, "running", NULL, NULL, 0);
    cJSON *body = r->body ? cJSON_Parse(r->body) : NULL;
    const char *outcome = "failed";
    char *detail = NULL;
    int64_t claim_seq = 0;
    if (strcmp(r->kind, "review") == 0) {
        claim_seq = r->seq;
        bp_review_request req;
        bp_review_set *sets = NULL;
        char **texts = NULL;
        size_t k = ctl_review_request(r->verb, r->actor, body, &req, &sets, &texts);
        bp_review_result res;
        if (bp_review_decide(c->rt, c->st, r->seq, &req, &res) == BP_OK) {
            outcome = ctl_review_outcome(r->verb, res.what);
            detail = strdup(res.what);
        } else {
            detail = res.error ? res.error : strdup("failed");
            res.error = NULL;
        }
        free(res.error);
        for (size_t i = 0; texts && i < k; i++)
            free(texts[i]);
        free(texts);
        free(sets);
    } else {
        /* The entry as it was, for the audit leaf (the action removes it). */
        bp_dead_letter dl = {0};
        int have = bp_state_dlq_get(c->st, r->seq, &dl) == BP_OK;
        bp_dlq_result res = {0};
        bp_status s = strcmp(r->verb, "delete") == 0
                          ? bp_dlq_drop(c->st, r->seq, NULL, &res)
                          : bp_dlq_replay(c->rt, r->seq, NULL, &res);
        if (s == BP_OK || s == BP_REJECT) {
            outcome = strcmp(r->verb, "delete") == 0 ? "deleted"
                      : s == BP_REJECT              ? "dead_lettered"
                      : strcmp(res.what, "delivered") == 0 ? "delivered"
                      : strstr(res.what, "dropped")        ? "dropped"
                                                           : "parked";
            detail = strdup(res.what ? res.what : outcome);
            bp_dlq_audit(c->st, r->actor, r->verb, r->seq, have ? &dl : NULL, outcome);
        } else {
            detail = res.error ? res.error : strdup(bp_status_str(s));
            res.error = NULL;
        }
        free(res.error);
        bp_dead_letter_clear(&dl);
    }
    cJSON_Delete(body);
    bp_log(BP_LOG_INFO, NULL, "%s %s %lld by %s: %s (%s)", r->kind, r->verb, (long long)r->seq,
           r->actor, outcome, detail ? detail : "");
    bp_state_control_set_state(c->st, r->id, "done", outcome, detail, claim_seq);
    free(detail);
}

/* Carries out every request not done yet; returns how many. */
static size_t ctl_drain(bp_control *c)
{
    size_t n = 0;
    for (;;) {
        bp_control_request r = {0};
        int got = bp_state_control_next(c->st, &r);
        if (got == 1)
            ctl_carry_out(c, &r);
        bp_control_request_clear(&r);
        if (got != 1 || bp_runtime_stopping(c->rt))
            return n;
        n++;
    }
}

static void *ctl_decider(void *arg)
{
    bp_control *c = arg;
    bp_name_thread("control", "decide");
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->mu);
        bp_control_request r = {0};
        int got = bp_state_control_next(c->st, &r);
        if (got == 1)
            ctl_carry_out(c, &r);
        bp_control_request_clear(&r);
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        if (got != 1 && !c->stopping) {
            /* Also polled: the CLI records requests from other processes. */
            struct timespec ts = bp_deadline_in(1000);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Waits up to wait_ms for request id; returns a JSON object {state,outcome,detail}. */
static cJSON *ctl_wait(bp_control *c, int64_t id, int64_t wait_ms)
{
    int64_t deadline = bp_mono_ms() + wait_ms;
    for (;;) {
        cJSON *o = NULL;
        char *oc = NULL, *dt = NULL;
        if (bp_state_control_result(c->st, id, &oc, &dt) == 1) {
            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "outcome", oc ? oc : "failed");
            cJSON_AddStringToObject(o, "detail", dt ? dt : "");
        }
        free(oc);
        free(dt);
        if (o)
            return o;
        pthread_mutex_lock(&c->mu);
        int stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (bp_mono_ms() >= deadline || stopping) {   /* the owner stops: answer now */
            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "outcome", "pending");
            cJSON_AddStringToObject(o, "detail", "recorded; the owner is still carrying it out");
            return o;
        }
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        struct timespec ts = bp_deadline_in(100);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        pthread_mutex_unlock(&c->mu);
    }
}

/* ---- HTTP --------------------------------------------------------------- */

typedef struct ctl_conn {
    char *body;
    size_t len;
    int too_big;
    int64_t start_ms;         /* mono: the request's headers were in */
    /* A request served by a thread of its own while its connection is
     * suspended (a pooled listener's writes, see ctl_defer). */
    int deferred;             /* CTL_DEFER_* */
    unsigned code;
    struct MHD_Response *resp;
} ctl_conn;

/* The headers every answer carries (issue 15): the workbench is a page of
 * this origin; nothing frames it, nothing it loads comes from elsewhere, no
 * answer is sniffed as HTML, none is cached. */
static void ctl_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

enum { CTL_DEFER_NONE, CTL_DEFER_RUNNING, CTL_DEFER_DONE };

/* Set on a deferred request's thread: ctl_queue keeps the response for the
 * handler call that follows the resumption (libmicrohttpd's threads queue it). */
static _Thread_local ctl_conn *ctl_deferred_conn;

/* Queues resp (and drops the caller's reference), or on a deferred request's
 * thread keeps it in its ctl_conn; every answer gets ctl_headers. */
static enum MHD_Result ctl_queue(struct MHD_Connection *conn, unsigned code,
                                 struct MHD_Response *resp)
{
    if (resp)
        ctl_headers(resp);
    ctl_conn *cc = ctl_deferred_conn;
    if (cc) {
        if (cc->resp)
            MHD_destroy_response(cc->resp);
        cc->code = code;
        cc->resp = resp;
        return resp ? MHD_YES : MHD_NO;
    }
    enum MHD_Result r = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return r;
}

/* bytes (malloc'ed, taken) as the answer of type. */
static enum MHD_Result ctl_send_bytes(struct MHD_Connection *conn, unsigned code,
                                      const char *type, void *bytes, size_t n)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, bytes ? bytes : (char *)"", MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", type);
    return ctl_queue(conn, code, resp);
}

static enum MHD_Result ctl_send(struct MHD_Connection *conn, unsigned code, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : strdup("{}");
    cJSON_Delete(o);
    return ctl_send_bytes(conn, code, "application/json", text, text ? strlen(text) : 0);
}

static enum MHD_Result ctl_error(struct MHD_Connection *conn, unsigned code, const char *fmt, ...)
    BP_PRINTF(3, 4);
static enum MHD_Result ctl_error(struct MHD_Connection *conn, unsigned code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return ctl_send(conn, code, o);
}


/* A scalar option of map m into *out (malloc'ed): 0, or -1 with *err. */
static int ctl_scalar(const char *file, const bp_ynode *m, const char *key, const char *path,
                      char **out, char **err)
{
    const bp_ynode *v = bp_ymap_get(m, key);
    if (v == NULL)
        return 0;
    if (v->kind != BP_YSCALAR) {
        if (asprintf(err, "%s:%d:%d: %s: expected a string", file, v->line, v->col, path) < 0)
            *err = NULL;
        return -1;
    }
    free(*out);
    *out = strdup(v->value);
    return 0;
}

/* admin: { listen, tls: { cert, key, ca_file }, metrics: protected|public,
 * insecure: BOOL } (docs/api.md "TCP and TLS"). 0, or -1 with *err. */
static int ctl_admin_options(bp_control *c, const char *file, const bp_ynode *admin, char **err)
{
    static const char *const known[] = {"listen", "tls", "metrics", "insecure", "unix_roles",
                                        "socket", NULL};
    for (size_t i = 0; i < admin->n; i++) {
        int ok = 0;
        for (size_t k = 0; known[k]; k++)
            ok |= strcmp(admin->keys[i]->value, known[k]) == 0;
        if (!ok) {
            if (asprintf(err, "%s:%d:%d: admin.%s: unknown key (valid: listen, tls, metrics, "
                              "insecure, unix_roles, socket)", file, admin->keys[i]->line,
                         admin->keys[i]->col, admin->keys[i]->value) < 0)
                *err = NULL;
            return -1;
        }
    }
    const bp_ynode *ln = bp_ymap_get(admin, "listen");
    c->admin_line = ln ? ln->line : admin->line;   /* messages point at the address */
    c->admin_col = ln ? ln->col : admin->col;
    if (ctl_scalar(file, admin, "listen", "admin.listen", &c->admin_listen, err) != 0)
        return -1;
    const bp_ynode *tls = bp_ymap_get(admin, "tls");
    if (tls && tls->kind != BP_YMAP) {
        if (asprintf(err, "%s:%d:%d: admin.tls: expected { cert, key, ca_file }", file,
                     tls->line, tls->col) < 0)
            *err = NULL;
        return -1;
    }
    if (tls) {
        c->tls_line = tls->line;
        c->tls_col = tls->col;
        for (size_t i = 0; i < tls->n; i++) {
            const char *k = tls->keys[i]->value;
            if (strcmp(k, "cert") && strcmp(k, "key") && strcmp(k, "ca_file")) {
                if (asprintf(err, "%s:%d:%d: admin.tls.%s: unknown key (valid: cert, key, "
                                  "ca_file)", file, tls->keys[i]->line, tls->keys[i]->col, k) < 0)
                    *err = NULL;
                return -1;
            }
        }
        if (ctl_scalar(file, tls, "cert", "admin.tls.cert", &c->tls_cert, err) != 0 ||
            ctl_scalar(file, tls, "key", "admin.tls.key", &c->tls_key, err) != 0 ||
            ctl_scalar(file, tls, "ca_file", "admin.tls.ca_file", &c->tls_ca, err) != 0)
            return -1;
    }
    const bp_ynode *m = bp_ymap_get(admin, "metrics");
    if (m) {
        if (m->kind != BP_YSCALAR || (strcmp(m->value, "public") && strcmp(m->value, "protected"))) {
            if (asprintf(err, "%s:%d:%d: admin.metrics: protected or public", file, m->line,
                         m->col) < 0)
                *err = NULL;
            return -1;
        }
        c->metrics_public = strcmp(m->value, "public") == 0;
    }
    const bp_ynode *in = bp_ymap_get(admin, "insecure");
    if (in) {
        if (in->kind != BP_YSCALAR || (strcmp(in->value, "true") && strcmp(in->value, "false"))) {
            if (asprintf(err, "%s:%d:%d: admin.insecure: true or false", file, in->line,
                         in->col) < 0)
                *err = NULL;
            return -1;
        }
        c->insecure = strcmp(in->value, "true") == 0;
    }
    return 0;
}

/* admin.unix_roles: { GROUP: ROLE } and review.claim_ttl from the site file.
 * 0, or -1 with *err (file:line:col). */
static int ctl_site_options(bp_control *c, const char *file, char **err)
{
    c->claim_ttl_ms = CTL_CLAIM_TTL_MS;
    bp_diags d = {0};
    bp_ydoc *doc = NULL;
    int rc = 0;
    bp_status s = bp_ydoc_load_file(file, &doc, &d);
    const bp_ynode *root = (s == BP_OK || s == BP_ERR_INVALID) && doc ? doc->root : NULL;
    const bp_ynode *admin = root ? bp_ymap_get(root, "admin") : NULL;
    const bp_ynode *roles = admin && admin->kind == BP_YMAP ? bp_ymap_get(admin, "unix_roles") : NULL;
    for (size_t i = 0; roles && roles->kind == BP_YMAP && i < roles->n && rc == 0; i++) {
        const bp_ynode *v = roles->items[i];
        const char *group = roles->keys[i]->value;
        int role = 0;
        for (int k = 1; k <= BP_ROLE_ADMIN && v->kind == BP_YSCALAR; k++)
            if (strcmp(v->value, bp_access_role_name(k)) == 0)
                role = k;
        struct group *g = getgrnam(group);
        if (role == 0 || g == NULL || c->n_unix_roles == 32) {
            if (asprintf(err, "%s:%d:%d: admin.unix_roles.%s: %s", file, v->line, v->col, group,
                         g == NULL ? "no such group"
                         : role == 0 ? "the role must be viewer, reviewer, operator or admin"
                                     : "more than 32 groups") < 0)
                *err = NULL;
            rc = -1;
            break;
        }
        c->unix_roles[c->n_unix_roles].gid = g->gr_gid;
        c->unix_roles[c->n_unix_roles++].role = role;
    }
    if (rc == 0 && admin && admin->kind == BP_YMAP)
        rc = ctl_admin_options(c, file, admin, err);
    const bp_ynode *rv = root ? bp_ymap_get(root, "review") : NULL;
    const bp_ynode *ttl = rv && rv->kind == BP_YMAP ? bp_ymap_get(rv, "claim_ttl") : NULL;
    if (rc == 0 && ttl) {
        int64_t ms = ttl->kind == BP_YSCALAR ? bp_parse_duration_ms(ttl->value) : -1;
        if (ms <= 0) {
            if (asprintf(err, "%s:%d:%d: review.claim_ttl: not a duration (e.g. 10m)", file,
                         ttl->line, ttl->col) < 0)
                *err = NULL;
            rc = -1;
        } else {
            c->claim_ttl_ms = ms;
        }
    }
    bp_ydoc_free(doc);
    bp_diags_free(&d);
    return rc;
}

/* The peer's role from SO_PEERCRED, and its user name into who. */
static int ctl_role(bp_control *c, struct MHD_Connection *conn, char *who, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
        snprintf(who, n, "unknown");
        return BP_ROLE_NONE;
    }
    struct passwd pwb, *pw = NULL;
    char buf[4096];
    getpwuid_r(cr.uid, &pwb, buf, sizeof(buf), &pw);
    if (pw)
        snprintf(who, n, "%s", pw->pw_name);
    else
        snprintf(who, n, "uid%u", (unsigned)cr.uid);
    if (cr.uid == 0 || cr.uid == c->owner_uid)
        return BP_ROLE_ADMIN;
    int best = BP_ROLE_NONE;
    /* The peer's own groups (as it runs, not only /etc/group's members). */
    char proc[64], line[4096];
    snprintf(proc, sizeof(proc), "/proc/%d/status", (int)cr.pid);
    FILE *f = fopen(proc, "r");
    int in_group = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Groups:", 7) == 0) {
            char *p = line + 7, *end;
            for (long g = strtol(p, &end, 10); end != p; p = end, g = strtol(p, &end, 10)) {
                in_group |= (gid_t)g == c->sock_gid;
                for (size_t k = 0; k < c->n_unix_roles; k++)
                    if ((gid_t)g == c->unix_roles[k].gid && c->unix_roles[k].role > best)
                        best = c->unix_roles[k].role;
            }
            break;
        }
    if (f)
        fclose(f);
    if (cr.gid == c->sock_gid)
        in_group = 1;
    for (size_t k = 0; k < c->n_unix_roles; k++)
        if (cr.gid == c->unix_roles[k].gid && c->unix_roles[k].role > best)
            best = c->unix_roles[k].role;
    if (in_group && best < BP_ROLE_REVIEWER)
        best = BP_ROLE_REVIEWER;
    if (best != BP_ROLE_NONE)
        return best;
    if (pw) {
        gid_t groups[256];
        int ng = 256;
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) >= 0)
            for (int i = 0; i < ng; i++)
                if (groups[i] == c->sock_gid)
                    return BP_ROLE_REVIEWER;
    }
    return BP_ROLE_NONE;
}


/* An integer (a time in ms, a seq) as raw JSON text. cJSON prints a number
 * with "%1.15g" and reads it back with sscanf to check it: ~1 µs each, the
 * largest share of a 30-item review list's cost (bench/run-admin-load.sh).
 * A raw node keeps its text in valuestring. */
static void ctl_add_ms(cJSON *o, const char *name, int64_t ms)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)ms);
    cJSON_AddRawToObject(o, name, buf);
}

static int ctl_review_row(const bp_review_item *it, void *ud)
{
    cJSON *o = cJSON_CreateObject();
    ctl_add_ms(o, "seq", it->seq);
    cJSON_AddStringToObject(o, "route", it->route);
    cJSON_AddStringToObject(o, "stage", it->stage);
    cJSON_AddStringToObject(o, "reason", it->reason);
    if (it->confidence >= 0)
        cJSON_AddNumberToObject(o, "confidence", it->confidence);
    else
        cJSON_AddNullToObject(o, "confidence");
    ctl_add_ms(o, "priority", it->priority);
    if (it->flags)
        cJSON_AddStringToObject(o, "flags", it->flags);
    if (it->subject)
        cJSON_AddStringToObject(o, "subject", it->subject);
    ctl_add_ms(o, "created_ms", it->created_ms);
    cJSON_AddItemToArray(ud, o);
    return 0;
}

/* A response built as text in one growing buffer (bench/run-admin-load.sh:
 * a 30-item review list as a cJSON tree was ~750 allocations). Strings and
 * doubles go through the core's printer on a node on the stack, so the
 * escaping and the number format are the ones of every other response. */
typedef struct ctl_text {
    char *buf;
    size_t len, cap;
    int bad;
} ctl_text;

static void ctl_text_raw(ctl_text *t, const char *s, size_t n)
{
    if (t->bad)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t nc = t->cap ? t->cap : 4096;
        while (nc < t->len + n + 1)
            nc *= 2;
        char *nb = realloc(t->buf, nc);
        if (nb == NULL) {
            t->bad = 1;
            return;
        }
        t->buf = nb;
        t->cap = nc;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

#define CTL_LIT(t, s) ctl_text_raw((t), (s), sizeof(s) - 1)

static void ctl_text_str(ctl_text *t, const char *s)
{
    if (s == NULL) {
        CTL_LIT(t, "null");
        return;
    }
    cJSON n = {.type = cJSON_String, .valuestring = (char *)s};
    if (!t->bad && bp_json_append(&n, &t->buf, &t->len, &t->cap) != BP_OK)
        t->bad = 1;
}

/* One correction as the line `review export` writes (route, path, from, to,
 * record): GET /api/v1/corrections, so export works with --url. */
static int ctl_correction_line(const char *route, const char *path, const char *old_json,
                               const char *new_json, const char *payload, void *ud)
{
    ctl_text *t = ud;
    CTL_LIT(t, "{\"route\":");
    ctl_text_str(t, route ? route : "");
    CTL_LIT(t, ",\"path\":");
    ctl_text_str(t, path ? path : "");
    const char *const keys[] = {",\"from\":", ",\"to\":", ",\"record\":"};
    const char *const vals[] = {old_json, new_json, payload};
    for (int k = 0; k < 3; k++) {
        ctl_text_raw(t, keys[k], strlen(keys[k]));
        /* Parsed and printed again: a stored text that is not JSON is null,
         * as the CLI's export prints it. */
        cJSON *v = vals[k] ? cJSON_Parse(vals[k]) : NULL;
        if (v == NULL)
            CTL_LIT(t, "null");
        else if (!t->bad && bp_json_append(v, &t->buf, &t->len, &t->cap) != BP_OK)
            t->bad = 1;
        cJSON_Delete(v);
    }
    CTL_LIT(t, "}\n");
    return t->bad;
}

static void ctl_add_claim(bp_control *c, cJSON *o, int64_t seq)
{
    char *actor = NULL;
    int64_t expires = 0;
    if (bp_state_review_claim_get(c->st, seq, bp_now_ms(), &actor, &expires) == 1) {
        cJSON_AddStringToObject(o, "claimed_by", actor);
        ctl_add_ms(o, "claim_expires_ms", expires);
    }
    free(actor);
    if (!cJSON_HasObjectItem(o, "claimed_by")) {
        cJSON_AddNullToObject(o, "claimed_by");
        cJSON_AddNullToObject(o, "claim_expires_ms");
    }
}

static int ctl_claim_row(int64_t seq, const char *actor, int64_t expires_ms, void *ud)
{
    cJSON *items = ud;
    for (cJSON *it = items->child; it; it = it->next)
        if (strtoll(cJSON_GetObjectItemCaseSensitive(it, "seq")->valuestring, NULL, 10) == seq) {
            cJSON_AddStringToObject(it, "claimed_by", actor);
            ctl_add_ms(it, "claim_expires_ms", expires_ms);
            break;
        }
    return 0;
}

static int ctl_dlq_row(const bp_dead_letter *dl, void *ud)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)dl->seq);
    cJSON_AddStringToObject(o, "route", dl->route);
    cJSON_AddStringToObject(o, "stage", dl->stage);
    cJSON_AddStringToObject(o, "reason", dl->reason);
    ctl_add_ms(o, "created_ms", dl->created_ms);
    if (dl->payload)
        cJSON_AddStringToObject(o, "payload", dl->payload);
    cJSON_AddItemToArray(ud, o);
    return 0;
}

static int ctl_checkpoint_row(const char *scope, const char *key, const char *value,
                              int64_t updated_ms, void *ud)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "scope", scope);
    cJSON_AddStringToObject(e, "key", key);
    cJSON_AddStringToObject(e, "value", value);
    ctl_add_ms(e, "updated_ms", updated_ms);
    cJSON_AddItemToArray(ud, e);
    return 0;
}

/* Why route r cannot take records now (/ready), or NULL when it can. A
 * route whose finite source has ended is ready: nothing is wrong with it. */
static const char *ctl_not_ready(bp_route *r)
{
    if (r->failed)
        return "failed";
    if (r->disabled)
        return "disabled";
    if (atomic_load(&r->paused))
        return "paused";
    if (atomic_load(&r->source_down))
        return "source not connected";
    if (atomic_load(&r->sinks_down) > 0)
        return "sink down";
    /* issue 20: a leased route runs on one instance at a time. */
    if (r->leased && atomic_load(&r->lease_lost))
        return "lease lost";
    if (r->leased && atomic_load(&r->standby))
        return "standby: another instance holds the lease";
    return NULL;
}

static cJSON *ctl_status(bp_control *c)
{
    cJSON *o = cJSON_CreateObject();
    bp_runtime *rt = c->rt;
    cJSON_AddStringToObject(o, "site", rt->site->name);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddNumberToObject(o, "uptime_s", (double)(bp_now_ms() - c->started_ms) / 1000.0);
    cJSON_AddStringToObject(o, "state_file", bp_state_path(c->st));   /* a URI without its password */
    cJSON *routes = cJSON_AddObjectToObject(o, "routes");
    pthread_rwlock_rdlock(&rt->routes_lock);
    for (size_t i = 0; i < rt->n_routes; i++) {
        bp_route *r = rt->routes[i];
        cJSON *ro = cJSON_AddObjectToObject(routes, r->cfg->name);
        cJSON_AddStringToObject(ro, "state", r->disabled ? "disabled"
                                            : r->failed  ? "failed"
                                            : !r->running ? "ended"
                                            : atomic_load(&r->paused) ? "paused"
                                                                      : "running");
    }
    pthread_rwlock_unlock(&rt->routes_lock);
    int64_t rq, dl;
    if (c->rd) {
        rq = bp_state_reader_counts(c->rd, &dl);
    } else {
        rq = bp_state_count(c->st, "review_queue");
        dl = bp_state_count(c->st, "dead_letters");
    }
    ctl_add_ms(o, "review_queue", rq);
    ctl_add_ms(o, "dead_letters", dl);
    return o;
}

/* Path segment after prefix as a positive seq and the rest ("" or "/verb"). */
static int64_t ctl_seq(const char *url, const char *prefix, const char **rest)
{
    size_t pl = strlen(prefix);
    if (strncmp(url, prefix, pl) != 0)
        return 0;
    char *end;
    long long v = strtoll(url + pl, &end, 10);
    if (end == url + pl || v <= 0)
        return 0;
    *rest = end;
    return v;
}

static enum MHD_Result ctl_decide(bp_control *c, struct MHD_Connection *conn, const char *kind,
                                  int64_t seq, const char *verb, const char *who,
                                  const char *body)
{
    cJSON *b = body && body[0] ? cJSON_Parse(body) : cJSON_CreateObject();
    if (b == NULL || !cJSON_IsObject(b)) {
        cJSON_Delete(b);
        return ctl_error(conn, 422, "the body is not a JSON object");
    }
    if (strcmp(verb, "reject") == 0 &&
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(b, "reason"))) {
        cJSON_Delete(b);
        return ctl_error(conn, 422, "reject needs {\"reason\": \"...\"}");
    }
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(b, "set");
    if (strcmp(verb, "correct") == 0 && (!cJSON_IsObject(set) || set->child == NULL)) {
        cJSON_Delete(b);
        return ctl_error(conn, 422, "correct needs {\"set\": {\"PATH\": VALUE, ...}}");
    }
    cJSON_Delete(b);
    char *bad = NULL;
    if (bp_control_check(c->st, kind, seq, verb, body, &bad) != BP_OK) {
        enum MHD_Result r = ctl_error(conn, 422, "%s", bad ? bad : "the correction is refused");
        free(bad);
        return r;
    }
    int64_t id = 0;
    char *other = NULL;
    int claimed = 0;
    bp_status s = bp_control_submit(c->st, kind, seq, verb, who, body, c->claim_ttl_ms, &id,
                                    &other, &claimed);
    if (s == BP_ERR_FULL) {
        enum MHD_Result r = ctl_error(conn, 409, "%s %lld: %s by %s",
                                      strcmp(kind, "review") == 0 ? "entry" : "dead letter",
                                      (long long)seq,
                                      claimed                        ? "claimed"
                                      : strcmp(kind, "review") == 0 ? "already decided"
                                                                    : "already being replayed",
                                      other ? other : "someone else");
        free(other);
        return r;
    }
    if (s == BP_ERR_NOT_FOUND)
        return ctl_error(conn, 404, "no %s %lld",
                         strcmp(kind, "review") == 0 ? "parked record" : "dead letter",
                         (long long)seq);
    if (s != BP_OK)
        return ctl_error(conn, 500, "cannot record the request: %s", bp_status_str(s));
    if (id == 0) {  /* claim / release */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)seq);
        cJSON_AddStringToObject(o, "outcome", strcmp(verb, "claim") == 0 ? "claimed" : "released");
        if (strcmp(verb, "claim") == 0)
            ctl_add_claim(c, o, seq);
        return ctl_send(conn, 200, o);
    }
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    const char *w = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "wait");
    int64_t wait_ms = w ? (int64_t)(strtod(w, NULL) * 1000) : 30000;
    if (wait_ms < 0)
        wait_ms = 0;
    if (wait_ms > CTL_MAX_WAIT_MS)
        wait_ms = CTL_MAX_WAIT_MS;
    cJSON *o = ctl_wait(c, id, wait_ms);
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddNumberToObject(o, "request", (double)id);
    cJSON_AddStringToObject(o, "by", who);
    const char *oc = cJSON_GetObjectItemCaseSensitive(o, "outcome")->valuestring;
    return ctl_send(conn, strcmp(oc, "pending") == 0 ? 202 : 200, o);
}

/* Queue rows with the workbench's fields (issue 15: age against the SLA,
 * lowest confidence, flag names). */
typedef struct {
    cJSON *items;
    bp_runtime *rt;
} ctl_rows;

static int ctl_review_row_ext(const bp_review_item *it, void *ud)
{
    ctl_rows *rows = ud;
    ctl_review_row(it, rows->items);
    cJSON *last = rows->items->child ? rows->items->child->prev : NULL;
    if (last)
        bp_review_row_extend(rows->rt, last, it);
    return 0;
}

/* The Unix socket's identify (control_int.h): the peer's OS user. */
static unsigned ctl_unix_identify(void *ud, struct MHD_Connection *conn, int *role, char *who,
                                  size_t who_n, char *why, size_t why_n)
{
    (void)why;
    (void)why_n;
    *role = ctl_role(ud, conn, who, who_n);
    return 0;
}

/* The audit's actor for who: "os:alice" for a Unix peer, "api:NAME" as is. */
static void ctl_actor(const char *who, char *out, size_t n)
{
    snprintf(out, n, "%s%s", strchr(who, ':') ? "" : "os:", who);
}

static enum MHD_Result ctl_tokens(bp_control *c, struct MHD_Connection *conn, int get, int post,
                                  int del, const char *url, const char *who, const char *body)
{
    char actor[200];
    ctl_actor(who, actor, sizeof(actor));
    if (get && strcmp(url, "/api/v1/tokens") == 0) {
        cJSON *o = bp_token_list_json(c->st);
        return o ? ctl_send(conn, 200, o) : ctl_error(conn, 500, "cannot read the tokens");
    }
    if (post && strcmp(url, "/api/v1/tokens") == 0) {
        cJSON *b = body && body[0] ? cJSON_Parse(body) : NULL;
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(b, "name");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "role");
        if (!cJSON_IsString(n) || !cJSON_IsString(r)) {
            cJSON_Delete(b);
            return ctl_error(conn, 422, "a token needs {\"name\": \"...\", \"role\": "
                                        "\"viewer|reviewer|operator|admin\"}");
        }
        char *token = NULL, *err = NULL;
        bp_status s = bp_token_create(c->st, n->valuestring, r->valuestring, actor, &token, &err);
        enum MHD_Result mr;
        if (s == BP_OK) {
            bp_log(BP_LOG_INFO, NULL, "token '%s' (%s) created by %s", n->valuestring,
                   r->valuestring, who);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", n->valuestring);
            cJSON_AddStringToObject(o, "role", r->valuestring);
            cJSON_AddStringToObject(o, "token", token);
            mr = ctl_send(conn, 201, o);
            explicit_bzero(token, strlen(token));
        } else {
            mr = ctl_error(conn, s == BP_ERR_FULL ? 409 : s == BP_ERR_INVALID ? 422 : 500, "%s",
                           err ? err : "cannot create the token");
        }
        free(token);
        free(err);
        cJSON_Delete(b);
        return mr;
    }
    if (del && strncmp(url, "/api/v1/tokens/", 15) == 0 && url[15]) {
        char *err = NULL;
        bp_status s = bp_token_revoke(c->st, url + 15, actor, &err);
        enum MHD_Result mr;
        if (s == BP_OK) {
            bp_log(BP_LOG_INFO, NULL, "token '%s' revoked by %s", url + 15, who);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", url + 15);
            cJSON_AddStringToObject(o, "outcome", "revoked");
            mr = ctl_send(conn, 200, o);
        } else {
            mr = ctl_error(conn, s == BP_ERR_NOT_FOUND ? 404 : 500, "%s",
                           err ? err : "cannot revoke the token");
        }
        free(err);
        return mr;
    }
    return ctl_error(conn, 404, "no such endpoint: %s", url);
}

static enum MHD_Result ctl_metrics(bp_control *c, struct MHD_Connection *conn)
{
    char *text = bp_control_metrics_text(c);
    if (text == NULL)
        return ctl_error(conn, 500, "out of memory");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return ctl_queue(conn, 200, resp);
}

/* POST /api/v1/review/SEQ/reopen {note}: a rejected entry parked again as a
 * new entry (state_review.c). It delivers nothing, so it is done here. */
static enum MHD_Result ctl_reopen(bp_control *c, struct MHD_Connection *conn, int64_t seq,
                                  const char *who, const char *body)
{
    cJSON *b = body && body[0] ? cJSON_Parse(body) : cJSON_CreateObject();
    if (b == NULL || !cJSON_IsObject(b)) {
        cJSON_Delete(b);
        return ctl_error(conn, 422, "the body is not a JSON object");
    }
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(b, "note");
    char actor[200], *why = NULL;
    snprintf(actor, sizeof(actor), "%s%s", strchr(who, ':') ? "" : "os:", who);
    int64_t fresh = 0;
    bp_status s = bp_state_review_reopen(c->st, seq, actor,
                                         cJSON_IsString(note) ? note->valuestring : NULL, &fresh,
                                         &why);
    cJSON_Delete(b);
    enum MHD_Result r;
    if (s == BP_OK) {
        bp_log(BP_LOG_INFO, NULL, "review reopen %lld by %s: parked again as %lld",
               (long long)seq, who, (long long)fresh);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)seq);
        cJSON_AddStringToObject(o, "outcome", "reopened");
        cJSON_AddNumberToObject(o, "new_seq", (double)fresh);
        cJSON_AddStringToObject(o, "by", who);
        r = ctl_send(conn, 200, o);
    } else if (s == BP_ERR_NOT_FOUND) {
        r = ctl_error(conn, 404, "no decided entry %lld", (long long)seq);
    } else if (s == BP_ERR_FULL) {
        r = ctl_error(conn, 409, "entry %lld cannot be reopened: %s (only a rejected entry can)",
                      (long long)seq, why ? why : "not rejected");
    } else {
        r = ctl_error(conn, 500, "cannot reopen entry %lld: %s", (long long)seq,
                      bp_status_str(s));
    }
    free(why);
    return r;
}

/* A request run on a thread of its own (bp_ctl_listener.pooled). */
typedef struct ctl_job {
    bp_ctl_listener *l;
    struct MHD_Connection *conn;
    const char *url, *method, *version;   /* libmicrohttpd's, live while suspended */
    ctl_conn *cc;
} ctl_job;

static void *ctl_job_run(void *arg)
{
    ctl_job *j = arg;
    ctl_deferred_conn = j->cc;
    size_t zero = 0;
    void *ccp = j->cc;
    enum MHD_Result r = bp_control_handler(j->l, j->conn, j->url, j->method, j->version, NULL,
                                           &zero, &ccp);
    ctl_deferred_conn = NULL;
    if (r != MHD_YES && j->cc->resp) {
        MHD_destroy_response(j->cc->resp);
        j->cc->resp = NULL;
    }
    j->cc->deferred = CTL_DEFER_DONE;
    bp_ctl_listener *l = j->l;
    MHD_resume_connection(j->conn);
    free(j);
    atomic_fetch_sub(&l->jobs, 1);
    return NULL;
}

/* Suspends conn and serves its request on a detached thread, which resumes
 * it; the handler call after that queues the answer. 0, or -1 (served
 * inline then: no thread). */
static int ctl_defer(bp_ctl_listener *l, struct MHD_Connection *conn, const char *url,
                     const char *method, const char *version, ctl_conn *cc)
{
    ctl_job *j = malloc(sizeof(*j));
    if (j == NULL)
        return -1;
    *j = (ctl_job){.l = l, .conn = conn, .url = url, .method = method, .version = version,
                   .cc = cc};
    cc->deferred = CTL_DEFER_RUNNING;
    atomic_fetch_add(&l->jobs, 1);
    MHD_suspend_connection(conn);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int ok = pthread_create(&t, &at, ctl_job_run, j) == 0;
    pthread_attr_destroy(&at);
    if (!ok) {
        MHD_resume_connection(conn);
        cc->deferred = CTL_DEFER_NONE;
        atomic_fetch_sub(&l->jobs, 1);
        free(j);
        return -1;
    }
    return 0;
}

enum MHD_Result bp_control_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    bp_ctl_listener *l = cls;
    bp_control *c = l->c;
    ctl_conn *cc = *con_cls;
    if (cc == NULL) {
        if ((cc = calloc(1, sizeof(*cc))) == NULL)
            return MHD_NO;
        cc->start_ms = bp_mono_ms();
        *con_cls = cc;
        if (l->headers_in)
            l->headers_in(l->ud, conn);
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body sent slowly ends the connection once the request has taken
         * BP_CTL_REQUEST_MS: the idle timeout alone would let a byte every
         * few seconds hold a thread for ever. */
        if (bp_mono_ms() - cc->start_ms > BP_CTL_REQUEST_MS)
            return MHD_NO;
        if (cc->len + *upload_size > BP_CTL_MAX_BODY) {
            cc->too_big = 1;
        } else {
            char *nb = realloc(cc->body, cc->len + *upload_size + 1);
            if (nb == NULL)
                return MHD_NO;
            memcpy(nb + cc->len, upload_data, *upload_size);
            cc->body = nb;
            cc->len += *upload_size;
            cc->body[cc->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->too_big)
        return ctl_error(conn, 413, "the body is larger than %d bytes", BP_CTL_MAX_BODY);
    if (cc->deferred == CTL_DEFER_DONE) {   /* resumed: its thread's answer */
        struct MHD_Response *resp = cc->resp;
        cc->resp = NULL;
        cc->deferred = CTL_DEFER_NONE;
        if (resp == NULL)
            return MHD_NO;
        enum MHD_Result r = MHD_queue_response(conn, cc->code, resp);
        MHD_destroy_response(resp);
        return r;
    }
    /* The corrections are every corrected record: long enough to defer too. */
    if (l->pooled && ctl_deferred_conn == NULL &&
        ((strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) || strcmp(url, "/api/v1/corrections") == 0) &&
        ctl_defer(l, conn, url, method, version, cc) == 0)
        return MHD_YES;
    /* HEAD is a GET without its body (libmicrohttpd drops the body): load
     * balancers and link checkers probe the page and /health with it. */
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0,
        post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
    if (get && strcmp(url, "/health") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return ctl_send(conn, 200, o);
    }
    if (get && strcmp(url, "/ready") == 0) {
        cJSON *o = cJSON_CreateObject(), *bad = cJSON_CreateObject();
        pthread_rwlock_rdlock(&c->rt->routes_lock);
        for (size_t i = 0; i < c->rt->n_routes; i++) {
            const char *why = ctl_not_ready(c->rt->routes[i]);
            if (why)
                cJSON_AddStringToObject(bad, c->rt->routes[i]->cfg->name, why);
        }
        pthread_rwlock_unlock(&c->rt->routes_lock);
        int ok = bad->child == NULL;
        cJSON_AddItemToObject(o, "routes", bad);
        return ctl_send(conn, ok ? 200 : 503, o);
    }
    if (get && strncmp(url, "/api/", 5) != 0) {
        /* The workbench's page (issue 15): public, it logs in by itself. */
        char *body = NULL;
        size_t len = 0;
        const char *type = NULL;
        if (bp_web_static(url, &body, &len, &type) == 200)
            return ctl_send_bytes(conn, 200, type, body, len);
    }
    if (get && strcmp(url, "/metrics") == 0 && l->metrics_public)
        return ctl_metrics(c, conn);
    char who[128] = "unknown", why[256] = "";
    int role = BP_ROLE_NONE;
    unsigned refuse = l->identify(l->ud, conn, &role, who, sizeof(who), why, sizeof(why));
    if (refuse) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", why);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            text ? strlen(text) : 0, text ? text : (char *)"", MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        ctl_headers(resp);
        if (refuse == 401 && l->bearer)
            MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"backplane\"");
        if (refuse == 429)
            MHD_add_response_header(resp, "Retry-After", "60");
        return ctl_queue(conn, refuse, resp);
    }
    int need = BP_ROLE_VIEWER;
    const char *rest = "";
    int64_t seq = 0;
    int tokens = strcmp(url, "/api/v1/tokens") == 0 || strncmp(url, "/api/v1/tokens/", 15) == 0;
    if (tokens)
        need = BP_ROLE_ADMIN;
    else if (post && (seq = ctl_seq(url, "/api/v1/review/", &rest)) > 0)
        need = BP_ROLE_REVIEWER;
    else if ((post || del) && strncmp(url, "/api/v1/dlq/", 12) == 0)
        need = BP_ROLE_OPERATOR;
    else if (get && strcmp(url, "/api/v1/corrections") == 0)
        need = BP_ROLE_REVIEWER;   /* every corrected record in bulk: not for a dashboard */
    else if (post)
        need = BP_ROLE_OPERATOR;
    if (role < need)
        return ctl_error(conn, 403, "%s is %s; %s %s needs the role %s", who,
                         role == BP_ROLE_NONE ? "not allowed here" : bp_access_role_name(role), method,
                         url, bp_access_role_name(need));
    if (tokens)
        return ctl_tokens(c, conn, get, post, del, url, who, cc->body);
    if (get && strcmp(url, "/metrics") == 0)
        return ctl_metrics(c, conn);
    if (get && strcmp(url, "/api/v1/whoami") == 0) {
        /* the workbench shows the actions of the caller's role (issue 15) */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "who", who);
        cJSON_AddStringToObject(o, "role", bp_access_role_name(role));
        cJSON_AddNumberToObject(o, "claim_ttl_ms", (double)c->claim_ttl_ms);
        return ctl_send(conn, 200, o);
    }
    if (get && strcmp(url, "/api/v1/status") == 0)
        return ctl_send(conn, 200, ctl_status(c));
    if (get && strcmp(url, "/api/v1/corrections") == 0) {
        ctl_text t = {0};
        CTL_LIT(&t, "");
        if (bp_state_corrections_foreach(c->st, ctl_correction_line, &t) != BP_OK || t.bad) {
            free(t.buf);
            return ctl_error(conn, 500, "cannot read the corrections");
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            t.len, t.buf ? t.buf : (char *)"", MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
        return ctl_queue(conn, 200, resp);
    }
    if (get && strcmp(url, "/api/v1/review") == 0) {
        const char *route = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "route");
        /* Not off the reader: the workbench's row fields (age against the
         * route's SLA, the lowest field confidence, flag list) come from
         * each record's payload (review_view.c). */
        cJSON *o = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(o, "items");
        ctl_rows rows = {.items = items, .rt = c->rt};
        bp_state_review_foreach(c->st, route, ctl_review_row_ext, &rows);
        /* The live claims in one statement (not one per item), then null
         * for the items nobody claimed. */
        bp_state_review_claims_foreach(c->st, bp_now_ms(), ctl_claim_row, items);
        for (cJSON *it = items->child; it; it = it->next)
            if (!cJSON_HasObjectItem(it, "claimed_by")) {
                cJSON_AddNullToObject(it, "claimed_by");
                cJSON_AddNullToObject(it, "claim_expires_ms");
            }
        return ctl_send(conn, 200, o);
    }
    if (get && (seq = ctl_seq(url, "/api/v1/review/", &rest)) > 0 && rest[0] == '\0') {
        bp_review_item it;
        if (bp_state_review_get(c->st, seq, &it) != BP_OK)
            return ctl_error(conn, 404, "parked record %lld not found", (long long)seq);
        cJSON *arr = cJSON_CreateArray();
        ctl_review_row(&it, arr);
        cJSON *o = cJSON_DetachItemFromArray(arr, 0);
        cJSON_Delete(arr);
        /* the workbench's view (issue 15): fields, where, flags, lineage, pages */
        bp_review_row_extend(c->rt, o, &it);
        bp_review_view_extend(c->rt, o, &it);
        ctl_add_claim(c, o, seq);
        bp_review_item_clear(&it);
        return ctl_send(conn, 200, o);
    }
    if (post && (seq = ctl_seq(url, "/api/v1/review/", &rest)) > 0) {
        static const char *const verbs[] = {"approve", "reject", "correct", "claim", "release",
                                            NULL};
        for (size_t i = 0; verbs[i]; i++)
            if (rest[0] == '/' && strcmp(rest + 1, verbs[i]) == 0)
                return ctl_decide(c, conn, "review", seq, verbs[i], who, cc->body);
        if (strcmp(rest, "/reopen") == 0)
            return ctl_reopen(c, conn, seq, who, cc->body);
    }
    int page = 0;
    if (get && (seq = ctl_seq(url, "/api/v1/review/", &rest)) > 0 &&
        sscanf(rest, "/pages/%d.png", &page) == 1 && page > 0) {
        bp_review_item it;
        if (bp_state_review_get(c->st, seq, &it) != BP_OK)
            return ctl_error(conn, 404, "parked record %lld not found", (long long)seq);
        const char *av = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "attachment");
        const char *pv = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "px");
        unsigned char *png = NULL;
        size_t len = 0;
        char *err = NULL;
        unsigned code = bp_review_page_png(c->rt, &it, av ? atoi(av) : -1, page,
                                           pv ? atoi(pv) : 0, &png, &len, &err);
        bp_review_item_clear(&it);
        if (code == 200)
            return ctl_send_bytes(conn, 200, "image/png", png, len);
        enum MHD_Result r = ctl_error(conn, code, "%s", err ? err : "cannot render the page");
        free(err);
        return r;
    }
    if (get && strcmp(url, "/api/v1/dlq") == 0) {
        const char *route = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "route");
        cJSON *o = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(o, "items");
        bp_state_dlq_foreach(c->st, route, 0, ctl_dlq_row, items);
        return ctl_send(conn, 200, o);
    }
    if ((seq = ctl_seq(url, "/api/v1/dlq/", &rest)) > 0) {
        if (get && rest[0] == '\0') {
            bp_dead_letter dl;
            if (bp_state_dlq_get(c->st, seq, &dl) != BP_OK)
                return ctl_error(conn, 404, "dead letter %lld not found", (long long)seq);
            cJSON *arr = cJSON_CreateArray();
            ctl_dlq_row(&dl, arr);
            bp_dead_letter_clear(&dl);
            cJSON *o = cJSON_DetachItemFromArray(arr, 0);
            cJSON_Delete(arr);
            return ctl_send(conn, 200, o);
        }
        if (post && strcmp(rest, "/replay") == 0)
            return ctl_decide(c, conn, "dlq", seq, "replay", who, cc->body);
        if (del && rest[0] == '\0')
            return ctl_decide(c, conn, "dlq", seq, "delete", who, cc->body);
    }
    if (post && strncmp(url, "/api/v1/routes/", 15) == 0) {
        const char *name = url + 15, *slash = strchr(name, '/');
        char route[256];
        if (slash && (size_t)(slash - name) < sizeof(route)) {
            memcpy(route, name, (size_t)(slash - name));
            route[slash - name] = '\0';
            if (!bp_runtime_has_route(c->rt, route))
                return ctl_error(conn, 404, "no route '%s'", route);
            if (strcmp(slash, "/pause") == 0 || strcmp(slash, "/resume") == 0) {
                int pause = slash[1] == 'p';
                if (bp_state_route_pause_set(c->st, route, who, pause) != BP_OK)
                    return ctl_error(conn, 500, "cannot store the pause");
                bp_runtime_pause_route(c->rt, route, pause);
                bp_log(BP_LOG_INFO, route, "%s by %s", pause ? "paused" : "resumed", who);
                char actor[200];
                ctl_actor(who, actor, sizeof(actor));
                bp_audit_entry e = {.actor = actor, .kind = pause ? "route:pause" : "route:resume",
                                    .route = route, .payload = "{}"};
                (void)bp_audit_append(c->st, &e);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "route", route);
                cJSON_AddStringToObject(o, "state", pause ? "paused" : "running");
                cJSON_AddStringToObject(o, "by", who);
                return ctl_send(conn, 200, o);
            }
            if (strcmp(slash, "/checkpoint/reset") == 0) {
                /* Source positions only, never the ledger; audited (core/reload.c). */
                char actor[200], *scope = NULL;
                size_t n = 0;
                snprintf(actor, sizeof(actor), "%s%s", strchr(who, ':') ? "" : "os:", who);
                bp_status rs = bp_runtime_checkpoint_reset(c->rt, route, actor, &scope, &n);
                enum MHD_Result mr;
                if (rs == BP_OK) {
                    bp_log(BP_LOG_INFO, route, "checkpoint reset by %s: %zu source position(s) "
                                               "of %s forgotten", who, n, scope);
                    cJSON *o = cJSON_CreateObject();
                    cJSON_AddStringToObject(o, "route", route);
                    cJSON_AddStringToObject(o, "scope", scope);
                    cJSON_AddNumberToObject(o, "keys_deleted", (double)n);
                    cJSON_AddStringToObject(o, "by", who);
                    mr = ctl_send(conn, 200, o);
                } else {
                    mr = rs == BP_ERR_FULL
                             ? ctl_error(conn, 409, "route '%s' is running: pause it first", route)
                         : rs == BP_ERR_NOT_FOUND ? ctl_error(conn, 404, "no route '%s'", route)
                         : rs == BP_STOPPED ? ctl_error(conn, 409, "the owner is stopping")
                                            : ctl_error(conn, 500, "checkpoint reset of '%s': %s",
                                                        route, bp_status_str(rs));
                }
                free(scope);
                return mr;
            }
        }
    }
    if (get && strcmp(url, "/api/v1/checkpoints") == 0) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "checkpoints");
        bp_state_checkpoints_foreach(c->st, ctl_checkpoint_row, arr);
        return ctl_send(conn, 200, o);
    }
    if (get && strcmp(url, "/api/v1/audit") == 0) {
        const char *subj = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "subject");
        const char *rid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
        if (subj == NULL && rid == NULL)
            return ctl_error(conn, 422, "audit needs ?subject=S or ?id=ID");
        /* The record's trace from the audit log, as `audit trace` prints it
         * (issue 18: the log is the one audit store). */
        cJSON *arr = NULL;
        if (bp_audit_trace(c->st, subj ? subj : rid, &arr) != BP_OK) {
            cJSON_Delete(arr);
            return ctl_error(conn, 500, "cannot read the audit log");
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "trace", arr);
        return ctl_send(conn, 200, o);
    }
    if (post && strcmp(url, "/api/v1/reload") == 0) {
        /* The same reload as SIGHUP (core/reload.c): validated first, the
         * running configuration kept on any failure. Audited (issue 18). */
        char *msg = NULL;
        bp_status rs = bp_runtime_reload(c->rt, &msg);
        const char *text = msg ? msg : bp_status_str(rs);
        bp_log(rs == BP_OK ? BP_LOG_INFO : BP_LOG_WARN, NULL, "%s (asked by %s)", text, who);
        char actor[200];
        ctl_actor(who, actor, sizeof(actor));
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "result", rs == BP_OK ? "reloaded" : "refused");
        cJSON_AddStringToObject(p, "message", text);
        char *payload = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        bp_audit_entry e = {.actor = actor, .kind = "reload", .payload = payload};
        (void)bp_audit_append(c->st, &e);
        free(payload);
        enum MHD_Result mr;
        if (rs == BP_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "result", "reloaded");
            cJSON_AddStringToObject(o, "message", text);
            mr = ctl_send(conn, 200, o);
        } else {
            mr = ctl_error(conn, rs == BP_ERR_INVALID ? 422 : 409, "%s", text);
        }
        free(msg);
        return mr;
    }
    return ctl_error(conn, 404, "no such endpoint: %s %s", method, url);
}

void bp_control_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    ctl_conn *cc = *con_cls;
    if (cc) {
        if (cc->resp)
            MHD_destroy_response(cc->resp);
        free(cc->body);
        free(cc);
    }
    *con_cls = NULL;
}

static void ctl_free_options(bp_control *c)
{
    free(c->admin_listen);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_ca);
}

bp_status bp_control_check_site(const char *site_file, char **err)
{
    *err = NULL;
    bp_control *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return BP_ERR_NOMEM;
    bp_status rc = BP_OK;
    if (ctl_site_options(c, site_file, err) != 0) {
        rc = BP_ERR_INVALID;
    } else if (c->admin_listen) {
        bp_admin_opts ao = {.listen = c->admin_listen, .cert = c->tls_cert, .key = c->tls_key,
                            .ca_file = c->tls_ca, .metrics_public = c->metrics_public,
                            .insecure = c->insecure, .site_file = site_file,
                            .line = c->admin_line, .col = c->admin_col,
                            .tls_line = c->tls_line, .tls_col = c->tls_col};
        rc = bp_admin_listen_check(&ao, err);
    }
    ctl_free_options(c);
    free(c);
    return rc;
}

bp_status bp_control_start_ex(bp_runtime *rt, const char *admin_listen, bp_control **out,
                              char **err)
{
    *out = NULL;
    *err = NULL;
    bp_control *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return BP_ERR_NOMEM;
    c->rt = rt;
    c->st = bp_runtime_state(rt);
    c->fd = -1;
    c->owner_uid = geteuid();
    c->sock_gid = getegid();
    c->started_ms = bp_now_ms();
    c->unix_l = (bp_ctl_listener){.c = c, .identify = ctl_unix_identify, .ud = c};
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (ctl_site_options(c, rt->site->file, err) != 0)
        goto fail;
    if (bp_state_control_migrate(c->st) != BP_OK) {
        if (asprintf(err, "cannot add the control tables to %s", rt->site->state_path) < 0)
            *err = NULL;
        goto fail;
    }
    /* Without it (a file SQLite cannot open twice) the reads share the
     * routes' connection as before. */
    if (bp_state_reader_open(c->st, &c->rd) != BP_OK)
        bp_log(BP_LOG_WARN, NULL, "control API: no read-only connection to %s; the API's "
               "reads share the routes' connection", rt->site->state_path);
    /* Pauses persist until resumed. */
    for (size_t i = 0; i < rt->n_routes; i++) {
        char *by = NULL;
        if (bp_state_route_paused(c->st, rt->routes[i]->cfg->name, &by) == 1) {
            atomic_store(&rt->routes[i]->paused, 1);
            bp_log(BP_LOG_INFO, rt->routes[i]->cfg->name, "paused (by %s) until resumed", by);
        }
        free(by);
    }
    /* What was recorded while no owner ran is carried out first, before the
     * routes start (nothing else writes to the sinks yet). */
    size_t backlog = ctl_drain(c);
    if (backlog)
        bp_log(BP_LOG_INFO, NULL, "carried out %zu request(s) recorded while no owner ran",
               backlog);
    if (bp_control_socket_path(rt->site, c->path, sizeof(c->path)) != 0) {
        if (asprintf(err, "no socket path fits sun_path for %s", rt->site->state_path) < 0)
            *err = NULL;
        goto fail;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
    /* A socket file left by an owner that died: nobody answers on it. */
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        if (asprintf(err, "control socket %s: another process serves this site", c->path) < 0)
            *err = NULL;
        close(c->fd);
        c->fd = -1;   /* and its socket file is left alone */
        goto fail;
    }
    close(c->fd);
    unlink(c->path);
    mode_t old = umask(0117);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = c->fd >= 0 && bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
             chmod(c->path, 0660) == 0 && listen(c->fd, 64) == 0;
    umask(old);
    if (!ok) {
        if (asprintf(err, "control socket %s: %s", c->path, strerror(errno)) < 0)
            *err = NULL;
        goto fail;
    }
    c->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, bp_control_handler, &c->unix_l,
                            MHD_OPTION_LISTEN_SOCKET, c->fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)BP_CTL_MAX_CONN,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)BP_CTL_IDLE_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BP_CTL_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, bp_control_completed, &c->unix_l,
                            MHD_OPTION_END);
    if (c->d == NULL) {
        if (asprintf(err, "control socket %s: libmicrohttpd did not start", c->path) < 0)
            *err = NULL;
        goto fail;
    }
    const char *listen_at = admin_listen ? admin_listen : c->admin_listen;
    if (listen_at) {
        bp_admin_opts ao = {.listen = listen_at, .cert = c->tls_cert, .key = c->tls_key,
                            .ca_file = c->tls_ca, .metrics_public = c->metrics_public,
                            .insecure = c->insecure,
                            .site_file = admin_listen ? NULL : rt->site->file,
                            .line = c->admin_line, .col = c->admin_col,
                            .tls_line = c->tls_line, .tls_col = c->tls_col};
        if (bp_admin_listen_start(c, &ao, &c->tcp, err) != BP_OK) {
            MHD_stop_daemon(c->d);
            c->d = NULL;
            c->fd = -1;
            unlink(c->path);
            goto fail;
        }
    }
    if (pthread_create(&c->decider, NULL, ctl_decider, c) != 0) {
        bp_admin_listen_stop(c->tcp);
        MHD_stop_daemon(c->d);
        c->d = NULL;
        c->fd = -1;   /* closed by MHD_stop_daemon */
        unlink(c->path);
        goto fail;
    }
    bp_log(BP_LOG_INFO, NULL, "control API on %s", c->path);
    *out = c;
    return BP_OK;
fail:
    if (c->fd >= 0) {
        close(c->fd);
        unlink(c->path);
    }
    bp_state_reader_close(c->rd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    ctl_free_options(c);
    free(c);
    return BP_ERR_IO;
}

bp_status bp_control_start(bp_runtime *rt, bp_control **out, char **err)
{
    return bp_control_start_ex(rt, NULL, out, err);
}

unsigned bp_control_admin_port(const bp_control *c)
{
    return c ? bp_admin_listen_port(c->tcp) : 0;
}

void bp_control_stop(bp_control *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->decider, NULL);
    bp_admin_listen_stop(c->tcp);
    MHD_stop_daemon(c->d);   /* closes the listening socket it was given */
    unlink(c->path);
    /* The routes ended on their own (finite sources): what came in since the
     * decider last looked is carried out now; after a stop signal it waits
     * for the next start. */
    if (!bp_runtime_stopping(c->rt))
        ctl_drain(c);
    bp_state_reader_close(c->rd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    ctl_free_options(c);
    free(c);
}
