/* dedupe: exact and fuzzy duplicate detection of invoices.
 *
 *   - dedupe: { vendor: data.vendor, invoice_no: data.invoice_no, amount: data.total,
 *               date: data.date, window: 30d, action: review }
 *
 * Fingerprints (normalised invoice number, amount, date, the record's id) are
 * kept in the state store through the host's checkpoint API, one key per
 * normalised vendor ("v:acme trading") holding that vendor's recent invoices,
 * so duplicates are found across restarts of the bus. A duplicate gets the
 * flag (default possible_duplicate), data.duplicate_of and a lineage entry,
 * then the configured action. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/plugin.h>

#include "../common/normalize.h"
#include "../common/when.h"
#include "dedupe_score.h"

#define DD_VERSION "1.0.0"
#define DD_DAY_MS 86400000LL

enum dd_action { DD_FLAG, DD_REVIEW, DD_DROP, DD_REJECT };

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *p_vendor, *p_invoice, *p_amount, *p_date;
    char *flag;
    char *strip;
    int strip_zeros;
    int day_first;
    char **suffixes;          /* NULL-terminated extra legal suffixes */
    dd_params params;
    double threshold;
    int64_t retention_ms;
    int max_entries;
    enum dd_action action, exact_action;
    bp_predicate *when;      /* NULL: every record */
} dd_self;

/* The worker threads of a route each run their own instance of a transform,
 * and they share one checkpoint scope: a lock makes "look up the vendor's
 * fingerprints, decide, record this one" one step for all of them, so two
 * copies of an invoice handled at the same instant on two workers are still
 * caught. What must be serialised is one vendor's fingerprint window (one
 * checkpoint key), not every dedupe of the process: the key picks one of
 * DD_STRIPES locks (two vendors sharing a stripe only wait for each other
 * briefly). Locks, not state: everything remembered lives in the state store. */
#define DD_STRIPES 64
static pthread_mutex_t dd_locks[DD_STRIPES];
static pthread_once_t dd_locks_once = PTHREAD_ONCE_INIT;

static void dd_locks_init(void)
{
    for (int i = 0; i < DD_STRIPES; i++)
        pthread_mutex_init(&dd_locks[i], NULL);
}

/* The lock of a fingerprint window (FNV-1a of its checkpoint key). */
static pthread_mutex_t *dd_lock_of(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    pthread_once(&dd_locks_once, dd_locks_init);
    return &dd_locks[h % DD_STRIPES];
}

static const char *const dd_actions[] = {"flag", "review", "drop", "reject", NULL};

/* The numeric and boolean options, bound (BP_OPT_FIELD): their defaults live
 * once, in the schema; the string options are read from the config by name. */
struct dd_opts {
    int64_t window, retention;
    double tolerance, tolerance_pct, threshold;
    int invoice_strip_zeros, day_first;
    long long max_per_vendor;
};

#define DO(member) BP_OPT_FIELD(struct dd_opts, member)

static const struct bp_option dd_options[] = {
    {.name = "vendor", .type = BP_OPT_STRING, .default_value = "data.vendor",
     .description = "path of the vendor name (records without one pass unchecked)"},
    {.name = "invoice_no", .type = BP_OPT_STRING, .default_value = "data.invoice_no",
     .description = "path of the invoice number"},
    {.name = "amount", .type = BP_OPT_STRING, .default_value = "data.total",
     .description = "path of the amount (number or text such as \"1,234.50\")"},
    {.name = "date", .type = BP_OPT_STRING, .default_value = "data.date",
     .description = "path of the invoice date (else the event time, else arrival)"},
    {.name = "window", .type = BP_OPT_DURATION, .default_value = "30d", .min = "0", .max = "3650d",
     DO(window),
     .description = "invoices whose dates lie further apart are never duplicates (whole days)"},
    {.name = "tolerance", .type = BP_OPT_FLOAT, .default_value = "0", .min = "0", DO(tolerance),
     .description = "amounts this far apart (absolute) still match fuzzily (as match's tolerance)"},
    {.name = "tolerance_pct", .type = BP_OPT_FLOAT, .default_value = "0", .min = "0",
     .max = "100", DO(tolerance_pct),
     .description = "amounts this many percent apart still match fuzzily (as match's tolerance_pct)"},
    {.name = "threshold", .type = BP_OPT_FLOAT, .default_value = "0.85", .min = "0.01",
     DO(threshold),
     .max = "1", .description = "fuzzy score from which a record is a possible duplicate"},
    {.name = "invoice_strip", .type = BP_OPT_STRING, .default_value = "-_/.#:",
     .description = "characters removed from invoice numbers (spaces always are)"},
    {.name = "invoice_strip_zeros", .type = BP_OPT_BOOL, .default_value = "true",
     DO(invoice_strip_zeros),
     .description = "drop leading zeros of digit runs in invoice numbers (INV-007 = INV7)"},
    {.name = "vendor_suffixes", .type = BP_OPT_LIST,
     .description = "more legal-form words to ignore at the end of vendor names"},
    {.name = "day_first", .type = BP_OPT_BOOL, .default_value = "true", DO(day_first),
     .description = "read 05/03/2024 as 5 March (false: May 3)"},
    {.name = "retention", .type = BP_OPT_DURATION, .default_value = "400d", .min = "1d",
     DO(retention),
     .description = "fingerprints older than this (by arrival) are forgotten"},
    {.name = "max_per_vendor", .type = BP_OPT_INT, .default_value = "1000", .min = "1",
     DO(max_per_vendor),
     .max = "100000", .description = "fingerprints kept per vendor (the oldest go first)"},
    {.name = "action", .type = BP_OPT_ENUM, .default_value = "flag", .choices = dd_actions,
     .description = "what a possible duplicate gets after the flag"},
    {.name = "exact_action", .type = BP_OPT_ENUM, .choices = dd_actions,
     .description = "action for exact duplicates (default: action)"},
    {.name = "flag", .type = BP_OPT_STRING, .default_value = "possible_duplicate",
     .description = "the flag raised"},
    {.name = "when", .type = BP_OPT_PREDICATE,
     .description = "only check records for which this predicate holds (others pass untouched)"},
    {.name = "amount_tolerance", .renamed = "'tolerance' (as in match)"},
    {.name = "amount_tolerance_pct", .renamed = "'tolerance_pct' (as in match)"},
    {0},
};

static void dd_destroy(void *p)
{
    dd_self *self = p;
    if (self == NULL)
        return;
    free(self->p_vendor);
    free(self->p_invoice);
    free(self->p_amount);
    free(self->p_date);
    free(self->flag);
    free(self->strip);
    for (size_t i = 0; self->suffixes && self->suffixes[i]; i++)
        free(self->suffixes[i]);
    free(self->suffixes);
    if (self->when)
        self->api->predicate_free(self->when);
    free(self);
}

static enum dd_action dd_action_of(const char *s)
{
    for (int i = 0; dd_actions[i]; i++)
        if (strcmp(dd_actions[i], s) == 0)
            return (enum dd_action)i;
    return DD_FLAG;
}

static bp_status dd_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct dd_opts *o = info->options;
    if (!BP_HOST_HAS(api, checkpoint_set) || !BP_HOST_HAS(api, path_check)) {
        *errmsg = api->format("this host has no checkpoint store (needs ABI 1.0 or later)");
        return BP_ERR_UNSUPPORTED;
    }
    dd_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const char *paths[4] = {"vendor", "invoice_no", "amount", "date"};
    char **dst[4] = {&self->p_vendor, &self->p_invoice, &self->p_amount, &self->p_date};
    bp_status st = BP_OK;
    for (int i = 0; i < 4 && st == BP_OK; i++) {
        const char *v = bp_cfg_str(config, paths[i]);
        if (api->path_check(v) != BP_OK) {
            *errmsg = api->format("%s: invalid path '%s'", paths[i], v);
            st = BP_ERR_INVALID;
        } else if ((*dst[i] = strdup(v)) == NULL) {
            st = BP_ERR_NOMEM;
        }
    }
    self->flag = strdup(bp_cfg_str(config, "flag"));
    self->strip = strdup(bp_cfg_str(config, "invoice_strip"));
    if (st == BP_OK && (self->flag == NULL || self->strip == NULL))
        st = BP_ERR_NOMEM;
    const cJSON *sfx = bp_cfg_get0(config, "vendor_suffixes");
    self->suffixes = calloc((size_t)cJSON_GetArraySize(sfx) + 1, sizeof(char *));
    if (st == BP_OK && self->suffixes == NULL)
        st = BP_ERR_NOMEM;
    size_t ns = 0;
    for (const cJSON *it = sfx ? sfx->child : NULL; st == BP_OK && it; it = it->next) {
        /* Compare suffixes in the vendor's normal form ("S.A." is "sa"). */
        if ((self->suffixes[ns++] = norm_vendor(it->valuestring, NULL)) == NULL)
            st = BP_ERR_NOMEM;
    }
    if (st == BP_OK)
        st = when_compile(api, config, &self->when, errmsg);
    if (st == BP_OK && self->flag[0] == '\0') {
        *errmsg = api->format("flag: must not be empty");
        st = BP_ERR_INVALID;
    }
    self->strip_zeros = o->invoice_strip_zeros;
    self->day_first = o->day_first;
    self->params.window_days = (int32_t)(o->window / DD_DAY_MS);
    self->params.abs_tol = (int64_t)(o->tolerance * NORM_AMOUNT_SCALE + 0.5);
    self->params.pct_tol = o->tolerance_pct;
    self->threshold = o->threshold;
    self->retention_ms = o->retention;
    self->max_entries = (int)o->max_per_vendor;
    self->action = dd_action_of(bp_cfg_str(config, "action"));
    const char *ea = bp_cfg_str(config, "exact_action");
    self->exact_action = ea ? dd_action_of(ea) : self->action;
    if (st != BP_OK) {
        if (st == BP_ERR_NOMEM && *errmsg == NULL)
            *errmsg = api->format("out of memory");
        dd_destroy(self);
        return st;
    }
    *out = self;
    return BP_OK;
}

/* The outcome of the check against the stored fingerprints. */
typedef struct {
    int found;            /* a duplicate at or above the threshold */
    int exact;
    int redelivery;       /* this very record (source + id) was seen before */
    double score;
    cJSON *match;         /* the earlier record's stored entry (a copy) */
} dd_result;

static const char *dd_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A stored number within [lo, hi] (the state file is outside input too). */
static int dd_num(const cJSON *o, const char *k, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return 0;
    *out = v->valuedouble;
    return 1;
}

/* Looks this record up among the vendor's fingerprints and records it.
 * Called under the key's lock (dd_lock_of). BP_RETRY when the state store fails. */
static bp_status dd_check_and_record(dd_self *self, const char *key, const dd_fingerprint *fp,
                                     const char *src, const char *id, const char *subject,
                                     dd_result *res)
{
    const struct bp_host_api *api = self->api;
    char *text = NULL;
    bp_status st = api->checkpoint_get(self->inst, key, &text);
    if (st != BP_OK && st != BP_ERR_NOT_FOUND)
        return BP_RETRY;
    cJSON *list = text ? cJSON_Parse(text) : NULL;
    if (text && !cJSON_IsArray(list))
        api->log(self->inst, BP_LOG_WARN, "fingerprints of '%s' unreadable: starting them afresh",
                 key);
    api->free(text);
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(list);
        list = cJSON_CreateArray();
        if (list == NULL)
            return BP_RETRY;
    }
    int64_t now = api->now_ms();
    int changed = 0;
    for (cJSON *e = list->child, *next; e; e = next) {
        next = e->next;
        double at, day;
        if (!dd_num(e, "at", 0, 9.0e15, &at) || !dd_num(e, "day", -1.0e6, 1.0e6, &day) ||
            now - (int64_t)at > self->retention_ms) {
            cJSON_Delete(cJSON_DetachItemViaPointer(list, e));
            changed = 1;
            continue;
        }
        const char *esrc = dd_str(e, "src"), *eid = dd_str(e, "id");
        if (res->redelivery)
            continue;   /* arrived after this record: not an earlier one */
        if (esrc && eid && strcmp(esrc, src) == 0 && strcmp(eid, id) == 0) {
            /* The same record again (a retry, a redelivery after a crash, a
             * replay): compare it only with what came before it. */
            res->redelivery = 1;
            continue;
        }
        const char *einv = dd_str(e, "inv"), *eamt = dd_str(e, "amt");
        dd_fingerprint other = {.invoice = einv ? einv : "", .day = (int32_t)day};
        other.has_amount = eamt && norm_amount_str(eamt, &other.amount);
        int exact = 0;
        double score = dd_score(&other, fp, &self->params, &exact);
        if (score < 0 || (!exact && score < self->threshold))
            continue;
        /* Exact beats fuzzy; among equals the earliest wins (list order). */
        if (!res->found || (exact && !res->exact) || (exact == res->exact && score > res->score)) {
            cJSON_Delete(res->match);
            res->match = cJSON_Duplicate(e, 1);
            res->found = 1;
            res->exact = exact;
            res->score = score;
        }
    }
    /* An exact copy adds nothing to remember; a retried record is there already. */
    if (!res->redelivery && !res->exact) {
        char amt[32] = "";
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddStringToObject(e, "id", id) ||
            !cJSON_AddStringToObject(e, "src", src) ||
            (subject && !cJSON_AddStringToObject(e, "sub", subject)) ||
            (fp->invoice[0] && !cJSON_AddStringToObject(e, "inv", fp->invoice)) ||
            (fp->has_amount && !cJSON_AddStringToObject(e, "amt", norm_amount_fmt(fp->amount, amt))) ||
            !cJSON_AddNumberToObject(e, "day", fp->day) ||
            !cJSON_AddNumberToObject(e, "at", (double)now)) {
            cJSON_Delete(e);
            cJSON_Delete(list);
            return BP_RETRY;
        }
        cJSON_AddItemToArray(list, e);
        changed = 1;
        while (cJSON_GetArraySize(list) > self->max_entries)
            cJSON_DeleteItemFromArray(list, 0);
    }
    st = BP_OK;
    if (changed) {
        char *out = cJSON_PrintUnformatted(list);
        st = out ? api->checkpoint_set(self->inst, key, cJSON_GetArraySize(list) ? out : NULL)
                 : BP_ERR_NOMEM;
        free(out);
    }
    cJSON_Delete(list);
    return st == BP_OK ? BP_OK : BP_RETRY;
}

/* Marks env (writable) as a duplicate of res->match. */
static bp_status dd_mark(dd_self *self, bp_envelope *env, const dd_result *res, char **why)
{
    const struct bp_host_api *api = self->api;
    const char *mid = dd_str(res->match, "id"), *msrc = dd_str(res->match, "src");
    const char *msub = dd_str(res->match, "sub");
    cJSON *dup = cJSON_CreateObject();
    if (dup == NULL || !cJSON_AddStringToObject(dup, "id", mid ? mid : "") ||
        !cJSON_AddStringToObject(dup, "source", msrc ? msrc : "") ||
        (msub && !cJSON_AddStringToObject(dup, "subject", msub)) ||
        !cJSON_AddStringToObject(dup, "match", res->exact ? "exact" : "fuzzy") ||
        !cJSON_AddNumberToObject(dup, "score", (double)(int)(res->score * 1000 + 0.5) / 1000)) {
        cJSON_Delete(dup);
        return BP_ERR_NOMEM;
    }
    bp_status st = api->envelope_set0_path(env, "data.duplicate_of", dup);
    if (st != BP_OK)
        return st;
    const char *kind = res->exact ? "exact" : "fuzzy";
    if (msub)
        *why = api->format("%s duplicate of %s (id %s, score %.2f)", kind, msub, mid ? mid : "?",
                           res->score);
    else
        *why = api->format("%s duplicate of id %s (score %.2f)", kind, mid ? mid : "?", res->score);
    if (*why == NULL)
        return BP_ERR_NOMEM;
    return api->flag_add(env, self->flag, *why, "dedupe");
}

static bp_status dd_transform(void *p, bp_envelope **envp, char **reason)
{
    dd_self *self = p;
    const struct bp_host_api *api = self->api;
    bp_envelope *env = *envp;
    if (self->when && !api->predicate_eval(self->when, env))
        return BP_OK;
    char nbuf[NORM_TEXT_CAP], ibuf[NORM_TEXT_CAP];
    const char *vendor = norm_text(api->envelope_get0_path(env, self->p_vendor), nbuf);
    char *nvendor = vendor ? norm_vendor(vendor, (const char *const *)self->suffixes) : NULL;
    if (vendor && nvendor == NULL)
        return BP_RETRY;
    if (nvendor == NULL || nvendor[0] == '\0') {
        free(nvendor);
        api->counter_add(self->inst, "records_without_vendor", 1);
        return BP_OK;
    }
    const char *inv = norm_text(api->envelope_get0_path(env, self->p_invoice), ibuf);
    char *ninv = norm_invoice_no(inv ? inv : "", self->strip, self->strip_zeros);
    dd_fingerprint fp = {.invoice = ninv ? ninv : ""};
    fp.has_amount = norm_amount(api->envelope_get0_path(env, self->p_amount), &fp.amount);
    const cJSON *d = api->envelope_get0_path(env, self->p_date);
    const char *etime = api->envelope_get0_attr(env, "time");
    if (!(cJSON_IsString(d) && norm_date(d->valuestring, self->day_first, &fp.day)) &&
        !(etime && norm_date(etime, 0, &fp.day)))
        fp.day = (int32_t)(api->now_ms() / DD_DAY_MS);
    const char *src = api->envelope_get0_attr(env, "source");
    const char *id = api->envelope_get0_attr(env, "id");
    const char *subject = api->envelope_get0_attr(env, "subject");
    /* Keys stay short: a vendor name is never that long, a garbage one may be. */
    char key[200];
    snprintf(key, sizeof(key), "v:%s", nvendor);
    free(nvendor);
    dd_result res = {0};
    bp_status st = ninv ? BP_OK : BP_RETRY;
    if (st == BP_OK) {
        pthread_mutex_t *lock = dd_lock_of(key);
        pthread_mutex_lock(lock);
        st = dd_check_and_record(self, key, &fp, src ? src : "", id ? id : "", subject, &res);
        pthread_mutex_unlock(lock);
    }
    free(ninv);
    if (st != BP_OK) {
        cJSON_Delete(res.match);
        *reason = api->format("state store: cannot read or record fingerprints");
        return BP_RETRY;
    }
    /* From here on env may be a copy: the borrowed strings above are gone. */
    bp_envelope *w = api->envelope_make_writable(env);
    if (w == NULL) {
        cJSON_Delete(res.match);
        return BP_RETRY;
    }
    *envp = env = w;
    char *why = NULL;
    if (res.found)
        st = dd_mark(self, env, &res, &why);
    cJSON_Delete(res.match);
    bp_lineage lin = {.plugin = "dedupe", .version = DD_VERSION,
                      .confidence = res.found ? res.score : -1,
                      .changed = res.found ? "flags,data.flags,data.duplicate_of" : NULL};
    if (st == BP_OK)
        st = api->envelope_add_lineage(env, &lin);
    if (st != BP_OK) {
        api->free(why);
        if (st == BP_ERR_NOMEM)
            return BP_RETRY;
        *reason = api->format("cannot flag the record: data is not an object with a flags array");
        return BP_REJECT;
    }
    if (!res.found) {
        api->counter_add(self->inst, "records_unique", 1);
        return BP_MODIFIED;
    }
    api->counter_add(self->inst, res.exact ? "duplicates_exact" : "duplicates_fuzzy", 1);
    enum dd_action a = res.exact ? self->exact_action : self->action;
    bp_status out = a == DD_REVIEW ? BP_REVIEW
                    : a == DD_DROP ? BP_DROP
                    : a == DD_REJECT ? BP_REJECT
                                     : BP_MODIFIED;
    if (out == BP_REVIEW || out == BP_REJECT)
        *reason = api->format("%s: %s", self->flag, why);
    api->free(why);
    return out;
}

static const struct bp_plugin dd_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,    /* flag_add */
    .name = "dedupe",
    .version = DD_VERSION,
    .description = "exact and fuzzy duplicate invoices (vendor, number, amount, date window), "
                   "remembered across restarts",
    .kinds = BP_KIND_TRANSFORM,
    .options = dd_options,
    .options_size = sizeof(struct dd_opts),
    .init_ex = dd_init,
    .transform = dd_transform,
    .destroy = dd_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &dd_plugin;
}
