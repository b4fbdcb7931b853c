/* See site.h. Structure first (bp_site_load), then plugins and schemas
 * (bp_site_check); both keep going after an error so `check` lists them all. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "bp_build_config.h"
#include "options.h"
#include "runtime.h"
#include "site.h"
#include "trust.h"

static const char *const site_top_keys[] = {"site", "state", "plugin_dirs", "connectors",
                                            "routes", "ledger", "audit",
                                            /* read by the control API (control.c) */
                                            "admin", "review", NULL};
static const char *const site_route_keys[] = {"from", "through", "review", "to", "errors",
                                              "batch", "linger", "workers", "order_key", "audit",
                                              NULL};
static const char *const site_errors_keys[] = {"retry", "dead_letter", "outage_limit", NULL};
static const char *const site_retry_keys[] = {"max", "backoff", NULL};
static const char *const site_review_keys[] = {"when", "sla", "confidence_threshold",
                                               "reject_reasons", NULL};
static const char *const site_ledger_keys[] = {"retention", NULL};
static const char *const site_audit_keys[] = {"signing_key", "checkpoint_every",
                                              "checkpoint_interval", "retention", NULL};

const char *const *bp_site_known_keys(const char *section)
{
    static const struct {
        const char *section;
        const char *const *keys;
    } sections[] = {
        {"", site_top_keys},
        {"routes.*", site_route_keys},
        {"routes.*.errors", site_errors_keys},
        {"routes.*.errors.retry", site_retry_keys},
        {"routes.*.review", site_review_keys},
        {"ledger", site_ledger_keys},
        {"audit", site_audit_keys},
    };
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strcmp(sections[i].section, section) == 0)
            return sections[i].keys;
    return NULL;
}

/* path resolved against the site file's directory (an absolute path, or a
 * site file in the working directory, leaves it as it is). malloc'ed. */
static char *site_resolve(const bp_site *s, const char *path)
{
    char *out = NULL;
    if (path == NULL)
        return NULL;
    if (path[0] == '/' || s->dir == NULL || strcmp(s->dir, ".") == 0)
        return strdup(path);
    return asprintf(&out, "%s/%s", s->dir, path) < 0 ? NULL : out;
}

/* Replaces *path by its resolved form. */
static void site_resolve_in_place(const bp_site *s, char **path)
{
    if (*path == NULL)
        return;
    char *r = site_resolve(s, *path);
    if (r) {
        free(*path);
        *path = r;
    }
}

/* The state file of a site file without `state:` (issue 21; man
 * backplane-site(5)). A site file in a read-only /etc must not put its state
 * next to itself, and the admin's shell must find the state the service
 * uses, so, first that applies:
 *   $STATE_DIRECTORY/NAME.state.db: systemd's StateDirectory= (its first
 *     entry), the directory the service may write under ProtectSystem=strict;
 *   <localstatedir>/lib/backplane/NAME.state.db for a site file in
 *     <sysconfdir>/backplane/: the same place, for a CLI command run from a
 *     shell (the packaged unit's StateDirectory=backplane is that directory);
 *   NAME.state.db beside the site file.
 * See site.h. */
char *bp_site_default_state(const char *site_dir, const char *name)
{
    char *out = NULL;
    const char *sd = getenv("STATE_DIRECTORY");
    if (sd && sd[0] == '/') {
        size_t n = strcspn(sd, ":");
        return asprintf(&out, "%.*s/%s.state.db", (int)n, sd, name) < 0 ? NULL : out;
    }
    char *dir = site_dir ? realpath(site_dir, NULL) : NULL;
    int in_etc = dir && strcmp(dir, BP_SITE_CONF_DIR) == 0;
    free(dir);
    if (in_etc)
        return asprintf(&out, "%s/%s.state.db", BP_STATE_INSTALL_DIR, name) < 0 ? NULL : out;
    return asprintf(&out, "%s.state.db", name) < 0 ? NULL : out;
}

static int site_in(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void site_unknown_keys(const bp_ynode *map, const char *const *valid, const char *what,
                              const char *file, bp_diags *d)
{
    for (size_t i = 0; i < map->n; i++) {
        if (site_in(valid, map->keys[i]->value))
            continue;
        char list[256] = "";
        for (size_t k = 0; valid[k]; k++) {
            if (k)
                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
            strncat(list, valid[k], sizeof(list) - strlen(list) - 1);
        }
        bp_diags_add(d, file, map->keys[i]->line, map->keys[i]->col,
                     "unknown key '%s' in %s (valid: %s)", map->keys[i]->value, what, list);
    }
}

/* A scalar string value, or an error. */
static char *site_scalar(const bp_ynode *n, const char *what, const char *file, bp_diags *d)
{
    if (n->kind != BP_YSCALAR || n->value[0] == '\0') {
        bp_diags_add(d, file, n->line, n->col, "%s must be a non-empty string, got %s", what,
                     n->kind == BP_YSCALAR ? "an empty value" : bp_ykind_name(n->kind));
        return NULL;
    }
    return strdup(n->value);
}

/* "name" or { name: { options } } (options may be empty/null). */
static int site_parse_use(const bp_ynode *n, bp_site_use *u, const char *what, const char *file,
                          bp_diags *d)
{
    memset(u, 0, sizeof(*u));
    u->line = n->line;
    u->col = n->col;
    if (n->kind == BP_YSCALAR && n->value[0]) {
        u->name = strdup(n->value);
        return u->name != NULL;
    }
    if (n->kind == BP_YMAP && n->n == 1) {
        const bp_ynode *o = n->items[0];
        u->name = strdup(n->keys[0]->value);
        u->line = n->keys[0]->line;
        u->col = n->keys[0]->col;
        if (o->kind == BP_YMAP) {
            u->opts = o;
        } else if (!(o->kind == BP_YSCALAR && o->plain && o->value[0] == '\0')) {
            bp_diags_add(d, file, o->line, o->col, "options of '%s' must be a map, got %s",
                         n->keys[0]->value, bp_ykind_name(o->kind));
            return 0;
        }
        return u->name != NULL;
    }
    bp_diags_add(d, file, n->line, n->col,
                 "%s must be a name or a one-key map { name: { options } }", what);
    return 0;
}

static void site_parse_errors(const bp_ynode *n, bp_site_route *r, const char *file, bp_diags *d)
{
    if (n->kind != BP_YMAP) {
        bp_diags_add(d, file, n->line, n->col, "'errors' must be a map");
        return;
    }
    site_unknown_keys(n, site_errors_keys, "errors", file, d);
    const bp_ynode *dl = bp_ymap_get(n, "dead_letter");
    if (dl)
        site_parse_use(dl, &r->dead_letter, "errors.dead_letter", file, d);
    /* outage_limit: 10m (robust2, issue 17): a sink that cannot connect
     * spends no retries; after this long its records are dead-lettered. */
    const bp_ynode *ol = bp_ymap_get(n, "outage_limit");
    if (ol) {
        int64_t ms = ol->kind == BP_YSCALAR ? bp_parse_duration_ms(ol->value) : -1;
        if (ms <= 0)
            bp_diags_add(d, file, ol->line, ol->col,
                         "errors.outage_limit must be a duration, e.g. 10m");
        else
            r->outage_limit_ms = ms;
    }
    const bp_ynode *retry = bp_ymap_get(n, "retry");
    if (retry == NULL)
        return;
    if (retry->kind != BP_YMAP) {
        bp_diags_add(d, file, retry->line, retry->col, "'retry' must be a map");
        return;
    }
    site_unknown_keys(retry, site_retry_keys, "errors.retry", file, d);
    const bp_ynode *max = bp_ymap_get(retry, "max");
    if (max) {
        char *end = NULL;
        long v = max->kind == BP_YSCALAR ? strtol(max->value, &end, 10) : -1;
        if (max->kind != BP_YSCALAR || *end != '\0' || v < 0 || v > 1000)
            bp_diags_add(d, file, max->line, max->col,
                         "retry.max must be an integer between 0 and 1000");
        else
            r->retry_max = (int)v;
    }
    const bp_ynode *bo = bp_ymap_get(retry, "backoff");
    if (bo) {
        /* "1s..5m": first delay, then doubling with jitter up to the cap. */
        const char *sep = bo->kind == BP_YSCALAR ? strstr(bo->value, "..") : NULL;
        int64_t lo = -1, hi = -1;
        if (sep) {
            char *a = strndup(bo->value, (size_t)(sep - bo->value));
            lo = a ? bp_parse_duration_ms(a) : -1;
            hi = bp_parse_duration_ms(sep + 2);
            free(a);
        }
        if (lo <= 0 || hi < lo)
            bp_diags_add(d, file, bo->line, bo->col,
                         "retry.backoff must be MIN..MAX durations, e.g. 1s..5m");
        else {
            r->backoff_min_ms = lo;
            r->backoff_max_ms = hi;
        }
    }
}

/* ledger: { retention: 24h } (core3-runtime): how long the write-back
 * ledger keeps rows a crashed run left (docs/state.md). */
static void site_parse_ledger(bp_site *s, const bp_ynode *n, bp_diags *d)
{
    s->ledger_retention_ms = BP_LEDGER_RETENTION_DEFAULT_MS;
    if (n == NULL)
        return;
    if (n->kind != BP_YMAP) {
        bp_diags_add(d, s->file, n->line, n->col, "'ledger' must be a map, e.g. { retention: 24h }");
        return;
    }
    site_unknown_keys(n, site_ledger_keys, "ledger", s->file, d);
    const bp_ynode *ret = bp_ymap_get(n, "retention");
    if (ret == NULL)
        return;
    int64_t ms = ret->kind == BP_YSCALAR ? bp_parse_duration_ms(ret->value) : -1;
    if (ms < 60000)
        bp_diags_add(d, s->file, ret->line, ret->col,
                     "ledger.retention must be a duration of at least 1m, e.g. 24h");
    else
        s->ledger_retention_ms = ms;
}

/* audit: { signing_key, checkpoint_every, checkpoint_interval, retention }
 * (issue 18, docs/audit.md): the tamper-evident log's signed checkpoints. */
static void site_parse_audit(bp_site *s, const bp_ynode *n, bp_diags *d)
{
    s->audit_checkpoint_every = 1000;
    s->audit_checkpoint_interval_ms = 600000;
    if (n == NULL)
        return;
    if (n->kind != BP_YMAP) {
        bp_diags_add(d, s->file, n->line, n->col,
                     "the top-level 'audit' must be a map, e.g. { signing_key: audit.key }");
        return;
    }
    site_unknown_keys(n, site_audit_keys, "audit", s->file, d);
    const bp_ynode *v = bp_ymap_get(n, "signing_key");
    if (v) {
        s->audit_signing_key = site_scalar(v, "audit.signing_key", s->file, d);
        site_resolve_in_place(s, &s->audit_signing_key);
    }
    v = bp_ymap_get(n, "checkpoint_every");
    if (v) {
        char *end = NULL;
        long long k = v->kind == BP_YSCALAR ? strtoll(v->value, &end, 10) : 0;
        if (v->kind != BP_YSCALAR || *v->value == '\0' || *end != '\0' || k < 1 || k > 100000000)
            bp_diags_add(d, s->file, v->line, v->col,
                         "audit.checkpoint_every must be a whole number from 1 to 100000000");
        else
            s->audit_checkpoint_every = k;
    }
    v = bp_ymap_get(n, "checkpoint_interval");
    if (v) {
        int64_t ms = v->kind == BP_YSCALAR ? bp_parse_duration_ms(v->value) : -1;
        if (ms < 1000)
            bp_diags_add(d, s->file, v->line, v->col,
                         "audit.checkpoint_interval must be a duration of at least 1s, e.g. 10m");
        else
            s->audit_checkpoint_interval_ms = ms;
    }
    v = bp_ymap_get(n, "retention");
    if (v) {
        int64_t ms = v->kind == BP_YSCALAR ? bp_parse_duration_ms(v->value) : -1;
        if (ms < 60000)
            bp_diags_add(d, s->file, v->line, v->col,
                         "audit.retention must be a duration of at least 1m, e.g. 90d");
        else
            s->audit_retention_ms = ms;
    }
}

/* The workbench's options of a route's review gate (issue 15): sla (a
 * duration), confidence_threshold (0..1), reject_reasons (a list of short
 * texts); defaults 24h, 0.8 and a list for invoices. */
static void site_parse_review_opts(const bp_ynode *review, bp_site_route *r, const char *file,
                                   bp_diags *d)
{
    static const char *const def_reasons[] = {"duplicate", "not our invoice", "wrong amount",
                                              "no purchase order", "unreadable", "other", NULL};
    r->review_sla_ms = 24LL * 3600 * 1000;
    r->review_threshold = 0.8;
    const bp_ynode *sla = review->kind == BP_YMAP ? bp_ymap_get(review, "sla") : NULL;
    const bp_ynode *thr = review->kind == BP_YMAP ? bp_ymap_get(review, "confidence_threshold") : NULL;
    const bp_ynode *rr = review->kind == BP_YMAP ? bp_ymap_get(review, "reject_reasons") : NULL;
    if (sla) {
        int64_t ms = sla->kind == BP_YSCALAR ? bp_parse_duration_ms(sla->value) : -1;
        if (ms <= 0)
            bp_diags_add(d, file, sla->line, sla->col,
                         "review.sla: not a duration (e.g. 4h, 2d is 48h)");
        else
            r->review_sla_ms = ms;
    }
    if (thr) {
        char *end = NULL;
        double v = thr->kind == BP_YSCALAR ? strtod(thr->value, &end) : -1;
        if (thr->kind != BP_YSCALAR || end == thr->value || *end != '\0' || !(v >= 0 && v <= 1))
            bp_diags_add(d, file, thr->line, thr->col,
                         "review.confidence_threshold: a number from 0 to 1");
        else
            r->review_threshold = v;
    }
    size_t n = 0;
    if (rr && (rr->kind != BP_YSEQ || rr->n == 0 || rr->n > 64)) {
        bp_diags_add(d, file, rr->line, rr->col,
                     "review.reject_reasons: a list of 1 to 64 reasons");
        rr = NULL;
    }
    for (size_t i = 0; rr && i < rr->n; i++)
        if (rr->items[i]->kind != BP_YSCALAR || rr->items[i]->value[0] == '\0' ||
            strlen(rr->items[i]->value) > 200) {
            bp_diags_add(d, file, rr->items[i]->line, rr->items[i]->col,
                         "review.reject_reasons[%zu]: a reason is a text of 1 to 200 characters", i);
            rr = NULL;
        }
    if (rr == NULL)
        while (def_reasons[n])
            n++;
    else
        n = rr->n;
    r->reject_reasons = calloc(n, sizeof(char *));
    for (size_t i = 0; r->reject_reasons && i < n; i++)
        if ((r->reject_reasons[i] = strdup(rr ? rr->items[i]->value : def_reasons[i])) != NULL)
            r->n_reject_reasons++;
}

static void site_parse_route(bp_site *s, const bp_ynode *key, const bp_ynode *n, bp_diags *d)
{
    const char *file = s->file;
    bp_site_route *r = &s->routes[s->n_routes++];
    memset(r, 0, sizeof(*r));
    r->name = strdup(key->value);
    r->line = key->line;
    r->col = key->col;
    r->retry_max = 5;
    r->backoff_min_ms = 200;
    r->backoff_max_ms = 30000;
    r->batch_size = 256;
    r->workers = 1;
    r->linger_ms = 20;
    r->audit = BP_AUDIT_AI;
    if (n->kind != BP_YMAP) {
        bp_diags_add(d, file, n->line, n->col, "route '%s' must be a map", key->value);
        return;
    }
    site_unknown_keys(n, site_route_keys, "a route", file, d);
    const bp_ynode *from = bp_ymap_get(n, "from");
    if (from == NULL)
        bp_diags_add(d, file, key->line, key->col, "route '%s' has no 'from'", key->value);
    else
        site_parse_use(from, &r->from, "'from'", file, d);

    const bp_ynode *through = bp_ymap_get(n, "through");
    if (through && through->kind != BP_YSEQ) {
        bp_diags_add(d, file, through->line, through->col,
                     "'through' must be a list of transforms");
    } else if (through && through->n) {
        r->through = calloc(through->n, sizeof(*r->through));
        for (size_t i = 0; r->through && i < through->n; i++)
            if (site_parse_use(through->items[i], &r->through[r->n_through], "a transform", file,
                               d))
                r->n_through++;
    }

    const bp_ynode *to = bp_ymap_get(n, "to");
    if (to == NULL) {
        bp_diags_add(d, file, key->line, key->col, "route '%s' has no 'to'", key->value);
    } else {
        size_t cnt = to->kind == BP_YSEQ ? to->n : 1;
        if (cnt == 0)
            bp_diags_add(d, file, to->line, to->col, "'to' names no sink");
        r->to = calloc(cnt ? cnt : 1, sizeof(*r->to));
        for (size_t i = 0; r->to && i < cnt; i++)
            if (site_parse_use(to->kind == BP_YSEQ ? to->items[i] : to, &r->to[r->n_to], "a sink",
                               file, d))
                r->n_to++;
    }

    const bp_ynode *review = bp_ymap_get(n, "review");
    if (review) {
        site_parse_review_opts(review, r, file, d);
        const bp_ynode *when = review->kind == BP_YMAP ? bp_ymap_get(review, "when") : NULL;
        if (review->kind == BP_YMAP)
            site_unknown_keys(review, site_review_keys, "review", file, d);
        if (when == NULL || when->kind != BP_YSCALAR) {
            bp_diags_add(d, file, review->line, review->col,
                         "'review' must be a map with a 'when' predicate");
        } else {
            bp_predicate *p = NULL;
            int col = 0;
            char *msg = NULL;
            if (bp_predicate_compile(when->value, &p, &col, &msg) != BP_OK) {
                bp_diags_add(d, file, when->line,
                             when->col + (col > 0 ? col - 1 : 0) + (when->plain ? 0 : 1),
                             "review.when: %s", msg ? msg : "invalid predicate");
            } else {
                r->review_when = strdup(when->value);
            }
            free(msg);
            bp_predicate_free(p);
        }
    }
    const bp_ynode *errors = bp_ymap_get(n, "errors");
    if (errors)
        site_parse_errors(errors, r, file, d);
    const bp_ynode *workers = bp_ymap_get(n, "workers");
    if (workers) {
        char *end = NULL;
        long v = workers->kind == BP_YSCALAR ? strtol(workers->value, &end, 10) : 0;
        if (workers->kind != BP_YSCALAR || *end != '\0' || v < 1 || v > 64)
            bp_diags_add(d, file, workers->line, workers->col,
                         "'workers' must be an integer between 1 and 64");
        else
            r->workers = (int)v;
    }
    const bp_ynode *okey = bp_ymap_get(n, "order_key");
    if (okey) {
        if (okey->kind != BP_YSCALAR || bp_path_check(okey->value) != BP_OK)
            bp_diags_add(d, file, okey->line, okey->col,
                         "'order_key' must be an envelope path such as data.vendor or subject");
        else
            r->order_key = strdup(okey->value);
    }
    const bp_ynode *audit = bp_ymap_get(n, "audit");
    if (audit) {
        if (audit->kind == BP_YSCALAR && strcmp(audit->value, "all") == 0)
            r->audit = BP_AUDIT_ALL;
        else if (audit->kind == BP_YSCALAR && strcmp(audit->value, "ai") == 0)
            r->audit = BP_AUDIT_AI;
        else if (audit->kind == BP_YSCALAR && strcmp(audit->value, "off") == 0)
            r->audit = BP_AUDIT_OFF;
        else
            bp_diags_add(d, file, audit->line, audit->col, "'audit' must be all, ai or off");
    }
    const bp_ynode *linger = bp_ymap_get(n, "linger");
    if (linger) {
        int64_t ms = linger->kind == BP_YSCALAR ? bp_parse_duration_ms(linger->value) : -1;
        if (ms < 0 || ms > 10000)
            bp_diags_add(d, file, linger->line, linger->col,
                         "'linger' must be a duration up to 10s, e.g. 20ms");
        else
            r->linger_ms = (int)ms;
    }
    const bp_ynode *batch = bp_ymap_get(n, "batch");
    if (batch) {
        char *end = NULL;
        long v = batch->kind == BP_YSCALAR ? strtol(batch->value, &end, 10) : 0;
        if (batch->kind != BP_YSCALAR || *end != '\0' || v < 1 || v > 65536)
            bp_diags_add(d, file, batch->line, batch->col,
                         "'batch' must be an integer between 1 and 65536");
        else
            r->batch_size = (int)v;
    }
}

bp_status bp_site_load(const char *path, bp_site **out, bp_diags *d)
{
    size_t before = d->n;
    bp_ydoc *doc = NULL;
    *out = NULL;
    bp_status st = bp_ydoc_load_file(path, &doc, d);
    if (doc == NULL)
        return st;
    bp_site *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        bp_ydoc_free(doc);
        return BP_ERR_NOMEM;
    }
    s->doc = doc;
    s->file = strdup(path);
    {
        char *copy = strdup(path);
        s->dir = copy ? strdup(dirname(copy)) : NULL;
        free(copy);
    }
    *out = s;
    const bp_ynode *root = doc->root;
    if (root == NULL || root->kind != BP_YMAP) {
        bp_diags_add(d, path, root ? root->line : 1, root ? root->col : 1,
                     "a site file must be a map with 'site', 'connectors' and 'routes'");
        return BP_ERR_INVALID;
    }
    site_unknown_keys(root, site_top_keys, "the site file", path, d);

    const bp_ynode *n = bp_ymap_get(root, "site");
    if (n == NULL)
        bp_diags_add(d, path, root->line, root->col, "missing 'site' (the site's name)");
    else
        s->name = site_scalar(n, "'site'", path, d);

    n = bp_ymap_get(root, "state");
    if (n)
        s->state_path = site_scalar(n, "'state'", path, d);
    else if (s->name)
        s->state_path = bp_site_default_state(s->dir, s->name);
    /* Relative paths in the site file are relative to the site file, as
     * BP_OPT_PATH options are. */
    site_resolve_in_place(s, &s->state_path);

    site_parse_ledger(s, bp_ymap_get(root, "ledger"), d);
    site_parse_audit(s, bp_ymap_get(root, "audit"), d);

    n = bp_ymap_get(root, "plugin_dirs");
    if (n) {
        size_t cnt = n->kind == BP_YSEQ ? n->n : 1;
        s->plugin_dirs = calloc(cnt, sizeof(char *));
        for (size_t i = 0; s->plugin_dirs && i < cnt; i++) {
            char *dir = site_scalar(n->kind == BP_YSEQ ? n->items[i] : n, "a plugin directory",
                                    path, d);
            site_resolve_in_place(s, &dir);
            if (dir)
                s->plugin_dirs[s->n_plugin_dirs++] = dir;
        }
    }

    n = bp_ymap_get(root, "connectors");
    if (n && n->kind != BP_YMAP) {
        bp_diags_add(d, path, n->line, n->col, "'connectors' must be a map of name: { plugin: ... }");
    } else if (n && n->n) {
        s->connectors = calloc(n->n, sizeof(*s->connectors));
        for (size_t i = 0; s->connectors && i < n->n; i++) {
            const bp_ynode *k = n->keys[i], *v = n->items[i];
            bp_site_connector *c = &s->connectors[s->n_connectors++];
            c->name = strdup(k->value);
            c->line = k->line;
            c->col = k->col;
            c->node = v;
            const bp_ynode *pl = v->kind == BP_YMAP ? bp_ymap_get(v, "plugin") : NULL;
            if (pl == NULL)
                bp_diags_add(d, path, k->line, k->col,
                             "connector '%s' must be a map with a 'plugin' key", k->value);
            else
                c->plugin = site_scalar(pl, "'plugin'", path, d);
            c->trust = bp_trust_parse(v, path, d);   /* issue 16 #2 */
        }
    }

    n = bp_ymap_get(root, "routes");
    if (n == NULL) {
        bp_diags_add(d, path, root->line, root->col, "missing 'routes'");
    } else if (n->kind != BP_YMAP || n->n == 0) {
        bp_diags_add(d, path, n->line, n->col, "'routes' must be a map of one or more routes");
    } else {
        s->routes = calloc(n->n, sizeof(*s->routes));
        for (size_t i = 0; s->routes && i < n->n; i++)
            site_parse_route(s, n->keys[i], n->items[i], d);
    }
    return d->n > before ? BP_ERR_INVALID : BP_OK;
}

const bp_site_connector *bp_site_find_connector(const bp_site *site, const char *name)
{
    for (size_t i = 0; i < site->n_connectors; i++)
        if (site->connectors[i].name && strcmp(site->connectors[i].name, name) == 0)
            return &site->connectors[i];
    return NULL;
}

/* trust_attributes: a generic source option the core handles (trust.h). */
static const char *const site_skip_plugin[] = {"plugin", "trust_attributes", NULL};

/* ---- plugin checks beyond the schema (struct bp_plugin.check) ---------- */

typedef struct {
    const bp_ynode *const *maps;   /* where the options came from, later wins */
    size_t n_maps;
    const char *file, *where;
    int line, col;                 /* fallback: the use's position */
    bp_diags *d;
} site_check_ctx;

/* The YAML node of a dotted path ("rules.big.when") in map, or NULL. A key
 * may hold dots itself (a librdkafka property "linger.ms"): at a map, the
 * longest key matching the path's next segments wins. */
static const bp_ynode *site_node_at(const bp_ynode *map, const char *path)
{
    const bp_ynode *n = map;
    char seg[256];
    while (n && *path) {
        size_t k = strcspn(path, ".");
        if (n->kind == BP_YMAP) {
            const bp_ynode *found = NULL;
            size_t len = strlen(path);
            for (size_t end = len; end > 0 && found == NULL;) {
                if (end < sizeof(seg) && (path[end] == '\0' || path[end] == '.')) {
                    memcpy(seg, path, end);
                    seg[end] = '\0';
                    if ((found = bp_ymap_get(n, seg)) != NULL) {
                        k = end;
                        break;
                    }
                }
                end--;
            }
            n = found;
        } else if (n->kind == BP_YSEQ) {
            if (k >= sizeof(seg))
                return NULL;
            memcpy(seg, path, k);
            seg[k] = '\0';
            char *e;
            long i = strtol(seg, &e, 10);
            n = *e == '\0' && i >= 0 && (size_t)i < n->n ? n->items[i] : NULL;
        } else {
            return NULL;
        }
        path += k + (path[k] == '.');
    }
    return n;
}

static void site_check_report(void *ud, const char *path, int col, const char *msg)
{
    site_check_ctx *c = ud;
    const bp_ynode *n = NULL;
    for (size_t i = c->n_maps; i-- > 0 && n == NULL;)
        if (c->maps[i])
            n = site_node_at(c->maps[i], path ? path : "");
    int line = n ? n->line : c->line, at = n ? n->col : c->col;
    /* Inside a one-line scalar: its column plus the offset (one more for an
     * opening quote), as for predicate options. */
    if (n && n->kind == BP_YSCALAR && col > 0)
        at += col - 1 + (n->plain ? 0 : 1);
    bp_diags_add(c->d, c->file, line, at, "%s: option '%s': %s", c->where,
                 path && *path ? path : "(all)", msg ? msg : "invalid");
}

/* Runs lib's check (check_ex, or a 1.1 check) on config, if it has one;
 * errors go to d with positions. config may lack options that failed the
 * schema (failed): check_ex is told so by its contract; a 1.1 check, written
 * for complete configs, is skipped only when a required option is missing. */
static void site_plugin_check(const bp_plugin_lib *lib, const cJSON *config, int failed,
                              uint32_t role, const char *where, const bp_ynode *const *maps,
                              size_t n_maps, const char *file, int line, int col, bp_diags *d)
{
    if (lib == NULL || config == NULL || (lib->desc.check == NULL && lib->desc.check_ex == NULL))
        return;
    site_check_ctx c = {.maps = maps, .n_maps = n_maps, .file = file, .where = where,
                        .line = line, .col = col, .d = d};
    size_t before = d->n;
    bp_status st;
    if (lib->desc.check_ex) {
        void *bound = bp_options_bind(lib->desc.options, config, lib->desc.options_size);
        struct bp_instance_info info = {.size = sizeof(info), .role = role, .options = bound};
        st = lib->desc.check_ex(&bp_host_api_table, config, &info, site_check_report, &c);
        free(bound);
    } else {
        for (const struct bp_option *o = lib->desc.options; failed && o && o->name; o++)
            if ((o->flags & BP_OPT_REQUIRED) && !cJSON_GetObjectItemCaseSensitive(config, o->name))
                return;
        st = lib->desc.check(&bp_host_api_table, config, site_check_report, &c);
    }
    if (st != BP_OK && d->n == before)
        bp_diags_add(d, file, line, col, "%s: options rejected (%s)", where, bp_status_str(st));
}

/* Validates one instance's option maps (maps[use_from..]: the route's own),
 * runs the plugin's check, and keeps config and its bound struct in *config
 * and *bound (NULL when there were errors). */
static void site_apply(const bp_site *s, const bp_plugin_lib *lib, const char *where,
                       const bp_ynode *const *maps, size_t n_maps, size_t use_from,
                       const char *const *skip, uint32_t role, int line, int col,
                       cJSON **config, void **bound, bp_diags *d)
{
    bp_options_req rq = {.schema = lib->desc.options, .where = where, .maps = maps,
                         .n_maps = n_maps, .use_from = use_from, .skip = skip, .file = s->file,
                         .at_line = line, .at_col = col, .role = role, .base_dir = s->dir};
    int failed = 0;
    size_t before = d->n;
    cJSON *cfg = bp_options_apply_ex(&rq, d, &failed);
    site_plugin_check(lib, cfg, failed, role, where, maps, n_maps, s->file, line, col, d);
    if (d->n > before) {
        cJSON_Delete(cfg);
        cfg = NULL;
    }
    *config = cfg;
    *bound = cfg ? bp_options_bind(lib->desc.options, cfg, lib->desc.options_size) : NULL;
}

bp_status bp_site_plugin_init(const bp_plugin_lib *lib, bp_instance *inst, const cJSON *config,
                              const void *bound, uint32_t role, void **self, char **errmsg)
{
    const struct bp_plugin *p = &lib->desc;
    if (p->init_ex) {
        struct bp_instance_info info = {.size = sizeof(info), .role = role, .options = bound};
        return p->init_ex(&bp_host_api_table, inst, config, &info, self, errmsg);
    }
    if (p->init == NULL)
        return BP_ERR_UNSUPPORTED;
    return p->init(&bp_host_api_table, inst, config, self, errmsg);
}

/* Resolves a connector use (from/to) and validates connector + per-use options. */
/* Two writers on one file sink lose records (after kill -9 the issue counted
 * 22,665 of 60,000 lost and a torn line): each file-sink path has one writer,
 * i.e. one (route, sink) use. Reported at the second use. */
/* path with "//", "/./" and "x/.." folded (lexically: a symlinked alias is
 * not caught; the common "./out.jsonl" vs "out.jsonl" is). malloc'ed. */
static char *site_path_norm(const char *path)
{
    size_t len = strlen(path);
    char *out = malloc(len + 2);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    const char *p = path;
    int abs = path[0] == '/';
    if (abs)
        out[o++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.' && o > (size_t)abs) {
            while (o > (size_t)abs && out[o - 1] != '/')
                o--;
            if (o > (size_t)abs)
                o--;
        } else {
            if (o > (size_t)abs)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    out[o] = '\0';
    return out;
}

static void site_check_file_sinks(bp_site *s, bp_diags *d)
{
    typedef struct { char *path; const char *route, *sink; int line, col; } fs_use;
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < s->n_routes; i++)
        cap += s->routes[i].n_to + 1;
    fs_use *seen = calloc(cap ? cap : 1, sizeof(*seen));
    if (seen == NULL)
        return;
    for (size_t i = 0; i < s->n_routes; i++) {
        bp_site_route *r = &s->routes[i];
        for (size_t k = 0; k <= r->n_to; k++) {
            bp_site_use *u = k < r->n_to ? &r->to[k] : &r->dead_letter;
            if (u->name == NULL || u->config == NULL)
                continue;
            const bp_site_connector *c = NULL;
            for (size_t j = 0; j < s->n_connectors; j++)
                if (strcmp(s->connectors[j].name, u->name) == 0)
                    c = &s->connectors[j];
            if (c == NULL || c->plugin == NULL || strcmp(c->plugin, "file") != 0)
                continue;
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(u->config, "path");
            if (!cJSON_IsString(p) || p->valuestring == NULL)
                continue;
            char *norm = site_path_norm(p->valuestring);
            if (norm == NULL)
                continue;
            size_t m = 0;
            while (m < n && strcmp(seen[m].path, norm) != 0)
                m++;
            if (m < n) {
                bp_diags_add(d, s->file, u->line, u->col,
                             "route '%s': sink '%s' writes %s, which route '%s' (sink '%s', "
                             "%s:%d:%d) already writes: two writers on one file lose and tear "
                             "records; give each its own path",
                             r->name, u->name, norm, seen[m].route, seen[m].sink,
                             s->file, seen[m].line, seen[m].col);
                free(norm);
                continue;
            }
            seen[n++] = (fs_use){norm, r->name, u->name, u->line, u->col};
        }
    }
    for (size_t m = 0; m < n; m++)
        free(seen[m].path);
    free(seen);
}

static void site_check_connector_use(bp_site *s, bp_site_use *u, uint32_t kind,
                                     const char *kind_name, const char *route, bp_diags *d)
{
    bp_site_connector *c = (bp_site_connector *)bp_site_find_connector(s, u->name);
    if (c == NULL) {
        char list[512] = "";
        for (size_t i = 0; i < s->n_connectors; i++) {
            if (i)
                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
            strncat(list, s->connectors[i].name, sizeof(list) - strlen(list) - 1);
        }
        bp_diags_add(d, s->file, u->line, u->col,
                     "route '%s': no connector named '%s' (defined: %s)", route, u->name,
                     list[0] ? list : "none");
        return;
    }
    c->used = 1;
    if (c->lib == NULL)
        return;   /* the plugin failed to load: already reported */
    if (!(c->lib->desc.kinds & kind)) {
        char kinds[64];
        bp_diags_add(d, s->file, u->line, u->col,
                     "route '%s': connector '%s' (plugin '%s') cannot be a %s; it is: %s", route,
                     u->name, c->plugin, kind_name,
                     bp_plugin_kinds_str(c->lib->desc.kinds, kinds, sizeof(kinds)));
        return;
    }
    char where[256];
    snprintf(where, sizeof(where), "connector '%s' (plugin '%s')", c->name, c->plugin);
    const bp_ynode *maps[2] = {c->node, u->opts};
    const bp_ynode *ta = u->opts && u->opts->kind == BP_YMAP ? bp_ymap_get(u->opts, "trust_attributes")
                                                             : NULL;
    if (ta)   /* issue 16 #2: trust is the connector's, for every route it feeds */
        bp_diags_add(d, s->file, ta->line, ta->col,
                     "trust_attributes belongs on connector '%s' itself, not on its use in "
                     "route '%s'", c->name, route);
    u->lib = c->lib;
    u->role = kind;
    site_apply(s, c->lib, where, maps, 2, 1, site_skip_plugin, kind, u->line, u->col, &u->config,
               &u->bound, d);
}

bp_status bp_site_check(bp_site *s, bp_registry *reg, bp_diags *d)
{
    size_t before = d->n;
    for (size_t i = 0; i < s->n_plugin_dirs; i++) {
        char *err = NULL;
        if (bp_registry_add_dir(reg, s->plugin_dirs[i], &err) != BP_OK) {
            const bp_ynode *pd = bp_ymap_get(s->doc->root, "plugin_dirs");
            bp_diags_add(d, s->file, pd ? pd->line : 0, pd ? pd->col : 0, "%s", err);
        }
        free(err);
    }
    for (size_t i = 0; i < s->n_connectors; i++) {
        bp_site_connector *c = &s->connectors[i];
        if (c->plugin == NULL)
            continue;
        char *err = NULL;
        if (bp_registry_open(reg, c->plugin, &c->lib, &err) != BP_OK) {
            const bp_ynode *pl = bp_ymap_get(c->node, "plugin");
            bp_diags_add(d, s->file, pl->line, pl->col, "connector '%s': %s", c->name, err);
        }
        free(err);
    }
    for (size_t i = 0; i < s->n_routes; i++) {
        bp_site_route *r = &s->routes[i];
        if (r->from.name)
            site_check_connector_use(s, &r->from, BP_KIND_SOURCE, "source ('from')", r->name, d);
        for (size_t k = 0; k < r->n_to; k++)
            site_check_connector_use(s, &r->to[k], BP_KIND_SINK, "sink ('to')", r->name, d);
        if (r->dead_letter.name)
            site_check_connector_use(s, &r->dead_letter, BP_KIND_SINK,
                                     "dead-letter channel ('errors.dead_letter')", r->name, d);
        for (size_t k = 0; k < r->n_through; k++) {
            bp_site_use *u = &r->through[k];
            char *err = NULL;
            if (bp_registry_open(reg, u->name, &u->lib, &err) != BP_OK) {
                bp_diags_add(d, s->file, u->line, u->col, "route '%s': transform %s", r->name,
                             err);
                free(err);
                continue;
            }
            if (!(u->lib->desc.kinds & BP_KIND_TRANSFORM)) {
                bp_diags_add(d, s->file, u->line, u->col,
                             "route '%s': plugin '%s' is not a transform", r->name, u->name);
                u->lib = NULL;
                continue;
            }
            char where[256];
            snprintf(where, sizeof(where), "transform '%s'", u->name);
            const bp_ynode *maps[1] = {u->opts};
            u->role = BP_KIND_TRANSFORM;
            site_apply(s, u->lib, where, maps, 1, 0, NULL, BP_KIND_TRANSFORM, u->line, u->col,
                       &u->config, &u->bound, d);
        }
    }
    site_check_file_sinks(s, d);
    /* Connectors not used by a route, and lookup providers, are validated on
     * their own options. */
    for (size_t i = 0; i < s->n_connectors; i++) {
        bp_site_connector *c = &s->connectors[i];
        if (c->lib == NULL || (c->used && !(c->lib->desc.kinds & BP_KIND_LOOKUP)))
            continue;
        char where[256];
        snprintf(where, sizeof(where), "connector '%s' (plugin '%s')", c->name, c->plugin);
        bp_diags dd = {0};
        const bp_ynode *maps[1] = {c->node};
        /* Lookup-capable connectors are instantiated as lookups; others here
         * are used by no route (role 0: no role's requirements apply). */
        uint32_t role = c->lib->desc.kinds & BP_KIND_LOOKUP;
        site_apply(s, c->lib, where, maps, 1, 0, site_skip_plugin, role, c->line, c->col,
                   &c->config, &c->bound, c->used ? &dd : d);
        /* A used connector may leave required options to its routes: its
         * own map failing alone only disables lookups through it. */
        bp_diags_free(&dd);
    }
    /* issue 16 #2: a checked site's sources trust what their connectors list. */
    for (size_t i = 0; d->n == before && i < s->n_connectors; i++)
        bp_trust_set(s->connectors[i].name, s->connectors[i].trust);
    return d->n > before ? BP_ERR_INVALID : BP_OK;
}

static void site_use_free(bp_site_use *u)
{
    free(u->name);
    cJSON_Delete(u->config);
    free(u->bound);
}

void bp_site_free(bp_site *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_connectors; i++) {
        free(s->connectors[i].name);
        free(s->connectors[i].plugin);
        cJSON_Delete(s->connectors[i].config);
        free(s->connectors[i].bound);
    }
    free(s->connectors);
    for (size_t i = 0; i < s->n_routes; i++) {
        bp_site_route *r = &s->routes[i];
        free(r->name);
        site_use_free(&r->from);
        for (size_t k = 0; k < r->n_through; k++)
            site_use_free(&r->through[k]);
        free(r->through);
        for (size_t k = 0; k < r->n_to; k++)
            site_use_free(&r->to[k]);
        site_use_free(&r->dead_letter);
        free(r->to);
        free(r->review_when);
        for (size_t k = 0; k < r->n_reject_reasons; k++)
            free(r->reject_reasons[k]);
        free(r->reject_reasons);
        free(r->order_key);
    }
    free(s->routes);
    for (size_t i = 0; i < s->n_plugin_dirs; i++)
        free(s->plugin_dirs[i]);
    free(s->plugin_dirs);
    free(s->name);
    free(s->state_path);
    free(s->audit_signing_key);
    free(s->file);
    free(s->dir);
    bp_ydoc_free(s->doc);
    free(s);
}
